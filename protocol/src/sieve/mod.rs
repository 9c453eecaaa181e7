//! Sieve mail filtering (RFC 5228) with the extensions Cyrus users rely on: `fileinto`,
//! `reject`/`ereject` (RFC 5429), `envelope`, `imap4flags` (RFC 5232), `copy` (RFC 3894),
//! `variables` (RFC 5229), `vacation` (RFC 5230) and `body` (RFC 5173, `:raw` and `:text`).
//!
//! [`compile`] checks a script once (syntax, `require`, argument counts and kinds) and gives a
//! [`Script`] that [`evaluate`] runs against one message, sans I/O: the result is the list of
//! [`Action`]s the delivery agent performs (keep, fileinto, discard, reject, redirect, vacation),
//! with the implicit keep of RFC 5228 §2.10.2 already applied. The delivery agent owns the rest:
//! storing, sending mail, and remembering which vacation replies were sent.
//!
//! ```
//! use protocol::sieve::{compile, evaluate, Action, MessageContext};
//!
//! let script = compile(b"require [\"fileinto\", \"imap4flags\"];\r\n\
//!     if header :contains \"subject\" \"report\" {\r\n\
//!       fileinto :flags \"\\\\Flagged\" \"INBOX.Work\";\r\n\
//!     }\r\n").unwrap();
//! let msg = b"From: a@example.org\r\nSubject: Weekly report\r\n\r\nbody\r\n";
//! let ctx = MessageContext::new(msg, "a@example.org", "bob@example.org");
//! let outcome = evaluate(&script, &ctx);
//! assert_eq!(outcome.actions, vec![Action::FileInto {
//!     mailbox: "INBOX.Work".into(), flags: vec!["\\Flagged".into()], copy: false,
//! }]);
//!
//! let err = compile(b"require \"fileinto\";\n\n  fileinot \"x\";").unwrap_err();
//! assert_eq!(err.to_string(), "line 3, column 3: unknown command \"fileinot\"");
//! ```

mod compile;
mod eval;
mod lexer;
mod matching;
mod parser;

#[cfg(test)]
mod tests;

pub use eval::{evaluate, vacation_reply_allowed, Action, MessageContext, Outcome, Vacation};

/// Extensions this implementation supports, as `require` names them.
pub const EXTENSIONS: &[&str] = &[
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "imap4flags",
    "copy",
    "variables",
    "vacation",
    "body",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
];

/// Bounds on what a script can make the compiler and the evaluator do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest script, in bytes. Default 1 MiB, the store's bound on a stored script.
    pub max_script_size: usize,
    /// Deepest nesting of blocks and tests. Default 32: the parser recurses once per level.
    pub max_depth: usize,
    /// Longest string (quoted or `text:`), in bytes. Default 64 KiB.
    pub max_string_len: usize,
    /// Most commands in one script. Default 10 000.
    pub max_commands: usize,
    /// Most tokens in one script. Default 200 000: bounds the token vector a crafted script
    /// makes us build.
    pub max_tokens: usize,
    /// Most evaluation steps (commands run, tests and key comparisons made) for one message.
    /// Default 1 000 000: scripts have no loops, but `:matches` on long headers can be costly.
    pub max_steps: u64,
    /// Most `redirect` actions one message may cause (RFC 5228 §4.2 asks for a bound).
    /// Default 32.
    pub max_redirects: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_script_size: 1 << 20,
            max_depth: 32,
            max_string_len: 64 << 10,
            max_commands: 10_000,
            max_tokens: 200_000,
            max_steps: 1_000_000,
            max_redirects: 32,
        }
    }
}

/// Why a script did not compile, with the 1-based line and column (in bytes) where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct CompileError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column (byte offset in the line plus one).
    pub column: usize,
    /// What is wrong, for a person.
    pub message: String,
}

impl CompileError {
    /// An error at byte offset `at` of `src`.
    pub(crate) fn at(src: &[u8], at: usize, message: impl Into<String>) -> CompileError {
        let before = src.get(..at).unwrap_or(src);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |p| p + 1);
        CompileError {
            line,
            column: before.len().saturating_sub(line_start) + 1,
            message: message.into(),
        }
    }
}

/// A compiled script, ready for [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub(crate) commands: Vec<Command>,
    pub(crate) requires: Vec<String>,
    pub(crate) limits: Limits,
}

impl Script {
    /// The extensions the script requires, in the order it names them.
    pub fn requires(&self) -> &[String] {
        &self.requires
    }
}

/// Compiles a script with the default [`Limits`].
pub fn compile(src: &[u8]) -> Result<Script, CompileError> {
    compile_with(src, &Limits::default())
}

/// Compiles a script within `limits`.
pub fn compile_with(src: &[u8], limits: &Limits) -> Result<Script, CompileError> {
    compile::compile(src, limits)
}

/// How strings are compared (RFC 4790 collations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Octet,
    AsciiCasemap,
}

/// `:is`, `:contains` or `:matches`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchType {
    Is,
    Contains,
    Matches,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Match {
    pub comparator: Comparator,
    pub kind: MatchType,
}

/// `:all`, `:localpart` or `:domain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressPart {
    All,
    LocalPart,
    Domain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagOp {
    Set,
    Add,
    Remove,
}

/// `set` modifiers (RFC 5229 §4.1), applied in the order of their precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Modifier {
    // Ordered by precedence, highest first, so sorting gives the order to apply them in
    // reverse: :lower/:upper (40), :lowerfirst/:upperfirst (30), :quotewildcard (20),
    // :length (10).
    Length,
    QuoteWildcard,
    LowerFirst,
    UpperFirst,
    Lower,
    Upper,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VacationArgs {
    pub days: Option<u64>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub addresses: Vec<String>,
    pub mime: bool,
    pub handle: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    If {
        branches: Vec<(Test, Vec<Command>)>,
        otherwise: Option<Vec<Command>>,
    },
    Stop,
    Keep {
        flags: Option<Vec<String>>,
    },
    Discard,
    FileInto {
        mailbox: String,
        flags: Option<Vec<String>>,
        copy: bool,
    },
    Redirect {
        address: String,
        copy: bool,
    },
    Reject {
        reason: String,
    },
    Flags {
        op: FlagOp,
        variable: Option<String>,
        flags: Vec<String>,
    },
    Set {
        name: String,
        value: String,
        modifiers: Vec<Modifier>,
    },
    Vacation(Box<VacationArgs>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Test {
    True,
    False,
    Not(Box<Test>),
    AllOf(Vec<Test>),
    AnyOf(Vec<Test>),
    Header {
        m: Match,
        names: Vec<String>,
        keys: Vec<String>,
    },
    Address {
        m: Match,
        part: AddressPart,
        headers: Vec<String>,
        keys: Vec<String>,
    },
    Envelope {
        m: Match,
        part: AddressPart,
        parts: Vec<String>,
        keys: Vec<String>,
    },
    Exists(Vec<String>),
    Size {
        over: bool,
        limit: u64,
    },
    HasFlag {
        m: Match,
        variables: Vec<String>,
        keys: Vec<String>,
    },
    Body {
        m: Match,
        raw: bool,
        keys: Vec<String>,
    },
    String {
        m: Match,
        sources: Vec<String>,
        keys: Vec<String>,
    },
}
