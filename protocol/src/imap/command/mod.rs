//! Typed IMAP client commands: RFC 3501/9051 plus the extensions a Cyrus murder speaks (ACL,
//! QUOTA, METADATA, LIST-EXTENDED, MULTIAPPEND, MOVE, UIDPLUS, ID, ENABLE, IDLE) and Cyrus's own
//! admin and murder-internal commands (XFER, RLIST, RLSUB, RECONSTRUCT, MUPDATEPUSH,
//! LOCALCREATE, LOCALDELETE).
//!
//! [`Command::parse`] decodes one whole message as the [`super::framing::Framer`] delivers it
//! (literals included, ending in CRLF or LF); [`Command::encode`] writes bytes that parse back to
//! the same value. A command this module does not know becomes [`CommandBody::Other`] with the
//! message bytes untouched, so a proxy can forward it. A malformed known command is a
//! [`CommandError`] that carries the tag, when one could be read, and a reason worded for the
//! `BAD` text.
//!
//! Mailbox names, patterns and strings are kept as the bytes the client sent: no modified UTF-7
//! decoding and no namespace conversion happen here.
//!
//! ```
//! use protocol::imap::command::{Command, CommandBody};
//! use protocol::imap::syntax::LiteralMode;
//!
//! let cmd = Command::parse(b"a3 SELECT INBOX\r\n").unwrap();
//! assert_eq!(cmd.tag.as_str(), "a3");
//! assert!(matches!(&cmd.body, CommandBody::Select { mailbox, .. } if mailbox == b"INBOX"));
//!
//! let mut out = Vec::new();
//! cmd.encode(&mut out, LiteralMode::Sync);
//! assert_eq!(out, b"a3 SELECT INBOX\r\n");
//!
//! let err = Command::parse(b"a4 FETCH 0:3 FLAGS\r\n").unwrap_err();
//! assert_eq!(err.tag.as_ref().map(|t| t.as_str()), Some("a4"));
//! assert_eq!(err.to_string(), "Invalid sequence in Fetch");
//! ```

use std::borrow::Cow;
use std::fmt;

use super::syntax::{self, is_atom_char, is_list_char, LiteralMode};
use super::types::{write_u64, Atom, DateTime, FetchAttr, Flag, SequenceSet, StatusItem, Tag};

mod search;
#[cfg(test)]
mod tests;

pub use search::{ModSeqEntryType, SearchKey};

/// Limits on what a single well-framed command may ask of the parser. Sizes are bounded by the
/// framer's [`super::framing::Limits`]; these bound recursion, which size alone does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Deepest nesting of search keys (`NOT`, `OR`, parentheses) and of raw parenthesised
    /// extension values. Default 64: real clients nest a handful of levels, and each level
    /// costs stack.
    pub max_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_depth: 64 }
    }
}

/// A value that must not show up in logs (passwords, SASL responses). `Debug` redacts it in
/// every build; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Secret(value)
    }
    /// The secret itself.
    pub fn expose(&self) -> &T {
        &self.0
    }
    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One client command: its tag and what it asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The tag the server echoes in the completion.
    pub tag: Tag,
    /// The command and its arguments.
    pub body: CommandBody,
}

/// What `FETCH` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItems {
    /// `ALL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE
    All,
    /// `FAST`: FLAGS INTERNALDATE RFC822.SIZE
    Fast,
    /// `FULL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY
    Full,
    /// One item or a parenthesised list (never empty).
    Attrs(Vec<FetchAttr>),
}

impl FetchItems {
    /// The items, with a macro expanded.
    pub fn expand(&self) -> Cow<'_, [FetchAttr]> {
        use FetchAttr::*;
        match self {
            FetchItems::All => Cow::Owned(vec![Flags, InternalDate, Rfc822Size, Envelope]),
            FetchItems::Fast => Cow::Owned(vec![Flags, InternalDate, Rfc822Size]),
            FetchItems::Full => Cow::Owned(vec![Flags, InternalDate, Rfc822Size, Envelope, Body]),
            FetchItems::Attrs(a) => Cow::Borrowed(a),
        }
    }
}

/// How STORE changes the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// One message of an APPEND (several with MULTIAPPEND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// The flag list, if one was given (`()` is `Some(vec![])`).
    pub flags: Option<Vec<Flag>>,
    /// The internal date, if given.
    pub date: Option<DateTime>,
    /// The message octets.
    pub data: Vec<u8>,
    /// Sent as a `~{n}` binary literal (RFC 3516).
    pub binary: bool,
}

/// The optional third argument of CREATE (and LOCALCREATE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateArgs {
    /// Cyrus's bare partition, or `server!partition` on a frontend.
    Partition(Vec<u8>),
    /// The RFC 4466 parameter list, in the order sent.
    Params(Vec<CreateParam>),
}

/// One RFC 4466 CREATE parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateParam {
    /// `PARTITION p` (Cyrus)
    Partition(Vec<u8>),
    /// `SERVER s` (Cyrus murder frontend)
    Server(Vec<u8>),
    /// `USE (\Sent ...)` (RFC 6154 CREATE-SPECIAL-USE)
    Use(Vec<Flag>),
    /// `MAILBOXID x` (Cyrus, used when re-creating with a known id)
    MailboxId(Vec<u8>),
    /// Anything else: the label and its raw RFC 4466 value (a number, a sequence set or a
    /// parenthesised list, byte-exact), if any.
    Other(Atom, Option<Vec<u8>>),
}

/// A LIST-EXTENDED selection option (RFC 5258).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSelect {
    /// `SUBSCRIBED`
    Subscribed,
    /// `REMOTE` (RFC 5258, what cyradm sends to a murder)
    Remote,
    /// `RECURSIVEMATCH`
    RecursiveMatch,
    /// `SPECIAL-USE` (RFC 6154)
    SpecialUse,
    /// Anything else.
    Other(Atom),
}

/// A LIST-EXTENDED return option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturn {
    /// `SUBSCRIBED`
    Subscribed,
    /// `CHILDREN`
    Children,
    /// `SPECIAL-USE`
    SpecialUse,
    /// `MYRIGHTS` (RFC 8440)
    MyRights,
    /// `STATUS (items)` (RFC 5819)
    Status(Vec<StatusItem>),
    /// Anything else (`METADATA (...)` and so on): the label and its raw value, if any.
    Other(Atom, Option<Vec<u8>>),
}

/// One ID field: a name and its value (`None` for `NIL`).
pub type IdField = (Vec<u8>, Option<Vec<u8>>);

/// The `DEPTH` option of GETMETADATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataDepth {
    /// `0`
    Zero,
    /// `1`
    One,
    /// `infinity`
    Infinity,
}

/// GETMETADATA options (RFC 5464 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetadataOptions {
    /// `MAXSIZE n`
    pub max_size: Option<u64>,
    /// `DEPTH ...`
    pub depth: Option<MetadataDepth>,
}

/// A command and its arguments. Mailbox names and other strings are the client's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// `CAPABILITY`
    Capability,
    /// `NOOP`
    Noop,
    /// `LOGOUT`
    Logout,
    /// `STARTTLS`
    StartTls,
    /// `AUTHENTICATE mech [initial-response]` (SASL-IR). The response is kept base64-encoded as
    /// sent; `=` (an empty response) is `Some` of an empty value.
    Authenticate {
        /// The SASL mechanism name.
        mechanism: Atom,
        /// The initial response, base64 text.
        initial_response: Option<Secret<Vec<u8>>>,
    },
    /// `LOGIN user password`
    Login {
        /// The user name.
        username: Vec<u8>,
        /// The password.
        password: Secret<Vec<u8>>,
    },
    /// `SELECT mailbox [(params)]`
    Select {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Raw RFC 4466 parameters, parentheses included (`(CONDSTORE)`, `(QRESYNC (...))`).
        params: Option<Vec<u8>>,
    },
    /// `EXAMINE mailbox [(params)]`
    Examine {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Raw parameters, as for SELECT.
        params: Option<Vec<u8>>,
    },
    /// `CREATE mailbox [partition | (params)]`
    Create {
        /// The new mailbox.
        mailbox: Vec<u8>,
        /// Partition or RFC 4466 parameters.
        args: Option<CreateArgs>,
    },
    /// `DELETE mailbox`
    Delete {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// `RENAME old new [location]`; Cyrus takes a partition, or on a frontend
    /// `server!partition`, as the third argument.
    Rename {
        /// The current name.
        from: Vec<u8>,
        /// The new name.
        to: Vec<u8>,
        /// Where to move it.
        location: Option<Vec<u8>>,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// `LIST`, basic or extended (RFC 5258).
    List {
        /// Selection options (empty for basic LIST).
        selection: Vec<ListSelect>,
        /// The reference name.
        reference: Vec<u8>,
        /// One or more patterns.
        patterns: Vec<Vec<u8>>,
        /// Return options (empty when none were asked).
        returns: Vec<ListReturn>,
    },
    /// `LSUB reference pattern`
    Lsub {
        /// The reference name.
        reference: Vec<u8>,
        /// The pattern.
        pattern: Vec<u8>,
    },
    /// `RLIST reference pattern` (Cyrus: LIST that may answer with referrals)
    Rlist {
        /// The reference name.
        reference: Vec<u8>,
        /// The pattern.
        pattern: Vec<u8>,
    },
    /// `RLSUB reference pattern`
    Rlsub {
        /// The reference name.
        reference: Vec<u8>,
        /// The pattern.
        pattern: Vec<u8>,
    },
    /// `STATUS mailbox (items)`
    Status {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// The items asked for (at least one).
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [(flags)] [date-time] literal` (more messages with MULTIAPPEND).
    Append {
        /// The target mailbox.
        mailbox: Vec<u8>,
        /// At least one message.
        messages: Vec<AppendMessage>,
    },
    /// `CHECK`
    Check,
    /// `CLOSE`
    Close,
    /// `UNSELECT`
    Unselect,
    /// `UNAUTHENTICATE` (RFC 8437): back to the not-authenticated state, connection kept.
    Unauthenticate,
    /// `EXPUNGE`
    Expunge,
    /// `UID EXPUNGE set`
    UidExpunge {
        /// The UIDs.
        set: SequenceSet,
    },
    /// `[UID] SEARCH [RETURN (...)] [CHARSET x] keys`
    Search {
        /// `UID SEARCH`
        uid: bool,
        /// ESEARCH return options (RFC 4731), if given.
        returns: Option<Vec<Atom>>,
        /// The charset, if given.
        charset: Option<Vec<u8>>,
        /// The criteria, implicitly ANDed (at least one).
        criteria: Vec<SearchKey>,
    },
    /// `[UID] FETCH set items [(modifiers)]`
    Fetch {
        /// `UID FETCH`
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// What to fetch.
        items: FetchItems,
        /// Raw RFC 4466 modifiers, parentheses included (`(CHANGEDSINCE 12)`).
        modifiers: Option<Vec<u8>>,
    },
    /// `[UID] STORE set [(modifiers)] [+|-]FLAGS[.SILENT] flags`
    Store {
        /// `UID STORE`
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// Raw RFC 4466 modifiers (`(UNCHANGEDSINCE 12)`).
        modifiers: Option<Vec<u8>>,
        /// Replace, add or remove.
        mode: StoreMode,
        /// `.SILENT`
        silent: bool,
        /// The flags (may be empty).
        flags: Vec<Flag>,
    },
    /// `[UID] COPY set mailbox`
    Copy {
        /// `UID COPY`
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// The destination.
        mailbox: Vec<u8>,
    },
    /// `[UID] MOVE set mailbox`
    Move {
        /// `UID MOVE`
        uid: bool,
        /// The messages.
        set: SequenceSet,
        /// The destination.
        mailbox: Vec<u8>,
    },
    /// `IDLE`; the client ends it with a `DONE` line, see [`is_idle_done`].
    Idle,
    /// `NAMESPACE`
    Namespace,
    /// `ID NIL` (`None`) or `ID ("key" "value" ...)`.
    Id(Option<Vec<IdField>>),
    /// `ENABLE cap ...`
    Enable(Vec<Atom>),
    /// `GETACL mailbox`
    GetAcl {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// `SETACL mailbox identifier rights` (rights may start with `+` or `-`)
    SetAcl {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Who.
        identifier: Vec<u8>,
        /// The rights string as sent.
        rights: Vec<u8>,
    },
    /// `DELETEACL mailbox identifier`
    DeleteAcl {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Who.
        identifier: Vec<u8>,
    },
    /// `LISTRIGHTS mailbox identifier`
    ListRights {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// Who.
        identifier: Vec<u8>,
    },
    /// `MYRIGHTS mailbox`
    MyRights {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// `GETQUOTA root`
    GetQuota {
        /// The quota root.
        root: Vec<u8>,
    },
    /// `GETQUOTAROOT mailbox`
    GetQuotaRoot {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// `SETQUOTA root (resource limit ...)`; an empty list removes the quota.
    SetQuota {
        /// The quota root.
        root: Vec<u8>,
        /// Resource names and limits.
        limits: Vec<(Atom, u64)>,
    },
    /// `GETMETADATA [(options)] mailbox entries`
    GetMetadata {
        /// MAXSIZE and DEPTH.
        options: MetadataOptions,
        /// The mailbox (empty for server entries).
        mailbox: Vec<u8>,
        /// Entry names (at least one).
        entries: Vec<Vec<u8>>,
    },
    /// `SETMETADATA mailbox (entry value|NIL ...)`
    SetMetadata {
        /// The mailbox (empty for server entries).
        mailbox: Vec<u8>,
        /// Entries and values; `None` removes the entry.
        entries: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    },
    /// `XFER mailbox server [partition]` (Cyrus)
    Xfer {
        /// Mailbox, pattern or partition to move.
        mailbox: Vec<u8>,
        /// Destination backend.
        server: Vec<u8>,
        /// Destination partition.
        partition: Option<Vec<u8>>,
    },
    /// `RECONSTRUCT mailbox [RECURSIVE]` (Cyrus)
    Reconstruct {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// `RECURSIVE`
        recursive: bool,
    },
    /// `MUPDATEPUSH mailbox` (Cyrus murder-internal)
    MupdatePush {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// `LOCALCREATE mailbox [partition | (params)]` (Cyrus murder-internal)
    LocalCreate {
        /// The mailbox.
        mailbox: Vec<u8>,
        /// As for CREATE.
        args: Option<CreateArgs>,
    },
    /// `LOCALDELETE mailbox` (Cyrus murder-internal)
    LocalDelete {
        /// The mailbox.
        mailbox: Vec<u8>,
    },
    /// A command this module does not know (including `UID` with an unknown subcommand, such
    /// as `UID SORT`, whose `name` is then `UID`). `raw` is the whole message, tag and line
    /// ends included, byte-exact, so that a proxy can forward it.
    Other {
        /// The command name as sent.
        name: Atom,
        /// The whole message.
        raw: Vec<u8>,
    },
}

/// Why a message is not a valid command. `Display` gives the text for the `BAD` response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct CommandError {
    /// The tag, when one could be read: answer `<tag> BAD <reason>`, otherwise `* BAD <reason>`.
    pub tag: Option<Tag>,
    /// What is wrong.
    pub kind: CommandErrorKind,
}

impl CommandError {
    /// Writes the `BAD` response line a server sends for this error.
    pub fn write_bad(&self, out: &mut Vec<u8>) {
        match &self.tag {
            Some(t) => out.extend_from_slice(t.as_str().as_bytes()),
            None => out.push(b'*'),
        }
        out.extend_from_slice(b" BAD ");
        out.extend_from_slice(self.kind.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// What is wrong with a command. Texts follow Cyrus's `BAD` wording where it has one. Names
/// are the command as Cyrus writes it (`Select`, `Uid Fetch`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandErrorKind {
    /// No tag could be read (empty line, a line starting with a space, a `+`...).
    #[error("Invalid tag")]
    InvalidTag,
    /// A tag but no command name.
    #[error("Null command")]
    NullCommand,
    /// The message does not end with a line end (the framer always gives one).
    #[error("Missing command terminator")]
    Unterminated,
    /// An argument is missing.
    #[error("Missing required argument to {0}")]
    MissingArgument(&'static str),
    /// Something follows the last argument.
    #[error("Unexpected extra arguments to {0}")]
    ExtraArguments(&'static str),
    /// An argument is malformed; `what` names it (`sequence`, `flag`, `date-time`, ...).
    #[error("Invalid {what} in {command}")]
    InvalidArgument {
        /// The command.
        command: &'static str,
        /// Which argument.
        what: &'static str,
    },
    /// An unknown or malformed search key (the key as sent, shortened).
    #[error("Invalid Search criteria {0}")]
    InvalidSearchKey(String),
    /// An unknown or malformed FETCH item (as sent, shortened).
    #[error("Invalid {command} attribute {attr}")]
    InvalidFetchAttribute {
        /// `Fetch` or `Uid Fetch`.
        command: &'static str,
        /// The item.
        attr: String,
    },
    /// An unknown STATUS item.
    #[error("Invalid Status attribute {0}")]
    InvalidStatusAttribute(String),
    /// Nesting deeper than [`ParseLimits::max_depth`].
    #[error("Too many nested parentheses (limit {0})")]
    TooDeep(usize),
}

/// Whether a line ends IDLE: `DONE` in any case, then CRLF or LF.
pub fn is_idle_done(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.eq_ignore_ascii_case(b"DONE")
}

/// Longest excerpt of client input quoted back in an error text.
const EXCERPT: usize = 40;

fn excerpt(b: &[u8]) -> String {
    let end = b
        .iter()
        .position(|&c| c == b' ' || c == b'\r' || c == b'\n' || c == b')')
        .unwrap_or(b.len())
        .min(EXCERPT);
    String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
}

type Kind = CommandErrorKind;

fn skip(i: &[u8], n: usize) -> &[u8] {
    i.get(n..).unwrap_or_default()
}

/// A cursor over the arguments of one command, turning lexer failures into [`Kind`]s that
/// name the command.
pub(super) struct Cursor<'a> {
    rest: &'a [u8],
    cmd: &'static str,
    limits: ParseLimits,
}

impl<'a> Cursor<'a> {
    fn at_eol(&self) -> bool {
        matches!(self.rest.first(), None | Some(b'\r') | Some(b'\n'))
    }

    /// The error for a failed argument: at the end of the line it is missing, else invalid.
    fn bad(&self, what: &'static str) -> Kind {
        if self.at_eol() {
            Kind::MissingArgument(self.cmd)
        } else {
            Kind::InvalidArgument {
                command: self.cmd,
                what,
            }
        }
    }

    fn sp(&mut self) -> Result<(), Kind> {
        match self.rest.strip_prefix(b" ") {
            Some(r) if !matches!(r.first(), None | Some(b'\r') | Some(b'\n')) => {
                self.rest = r;
                Ok(())
            }
            _ if self.at_eol() || self.rest.starts_with(b" ") => {
                Err(Kind::MissingArgument(self.cmd))
            }
            _ => Err(self.bad("argument")),
        }
    }

    /// Consumes a space if another argument follows it.
    fn more(&mut self) -> bool {
        if self.rest.starts_with(b" ") && !matches!(self.rest.get(1), None | Some(b'\r' | b'\n')) {
            self.rest = skip(self.rest, 1);
            true
        } else {
            false
        }
    }

    fn peek(&self, b: u8) -> bool {
        self.rest.first() == Some(&b)
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek(b) {
            self.rest = skip(self.rest, 1);
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8, what: &'static str) -> Result<(), Kind> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.bad(what))
        }
    }

    fn end(&mut self) -> Result<(), Kind> {
        match syntax::crlf(self.rest) {
            Ok(([], _)) => Ok(()),
            _ => Err(Kind::ExtraArguments(self.cmd)),
        }
    }

    fn astring(&mut self, what: &'static str) -> Result<Vec<u8>, Kind> {
        match syntax::astring(self.rest) {
            Ok((r, s)) => {
                self.rest = r;
                Ok(s.into_owned())
            }
            Err(_) => Err(self.bad(what)),
        }
    }

    fn string(&mut self, what: &'static str) -> Result<Vec<u8>, Kind> {
        match syntax::string(self.rest) {
            Ok((r, s)) => {
                self.rest = r;
                Ok(s.into_owned())
            }
            Err(_) => Err(self.bad(what)),
        }
    }

    fn nstring(&mut self, what: &'static str) -> Result<Option<Vec<u8>>, Kind> {
        match syntax::nstring(self.rest) {
            Ok((r, s)) => {
                self.rest = r;
                Ok(s.map(Cow::into_owned))
            }
            Err(_) => Err(self.bad(what)),
        }
    }

    fn list_mailbox(&mut self) -> Result<Vec<u8>, Kind> {
        match syntax::list_mailbox(self.rest) {
            Ok((r, s)) => {
                self.rest = r;
                Ok(s.into_owned())
            }
            Err(_) => Err(self.bad("mailbox pattern")),
        }
    }

    /// A LIST reference: an astring, but wildcards are accepted too because cyradm sends
    /// `LSUB * *` (reference §6.4) and Cyrus takes it.
    fn reference(&mut self) -> Result<Vec<u8>, Kind> {
        match syntax::list_mailbox(self.rest) {
            Ok((r, s)) => {
                self.rest = r;
                Ok(s.into_owned())
            }
            Err(_) => Err(self.bad("reference name")),
        }
    }

    fn atom(&mut self, what: &'static str) -> Result<&'a [u8], Kind> {
        match syntax::atom(self.rest) {
            Ok((r, a)) => {
                self.rest = r;
                Ok(a)
            }
            Err(_) => Err(self.bad(what)),
        }
    }

    fn atom_owned(&mut self, what: &'static str) -> Result<Atom, Kind> {
        let a = self.atom(what)?;
        Atom::new(a).map_err(|_| self.bad(what))
    }

    fn number64(&mut self, what: &'static str) -> Result<u64, Kind> {
        match syntax::number64(self.rest) {
            Ok((r, n)) => {
                self.rest = r;
                Ok(n)
            }
            Err(_) => Err(self.bad(what)),
        }
    }

    fn seq_set(&mut self) -> Result<SequenceSet, Kind> {
        match SequenceSet::parse(self.rest) {
            // A set must end at a delimiter: `1:2x` is not a set followed by junk.
            Ok((r, s)) if matches!(r.first(), None | Some(b' ' | b'\r' | b'\n' | b')')) => {
                self.rest = r;
                Ok(s)
            }
            _ => Err(self.bad("sequence")),
        }
    }

    fn flag(&mut self) -> Result<Flag, Kind> {
        match Flag::parse(self.rest) {
            Ok((r, f)) => {
                self.rest = r;
                Ok(f)
            }
            Err(_) => Err(self.bad("flag name")),
        }
    }

    fn flag_list(&mut self) -> Result<Vec<Flag>, Kind> {
        match Flag::parse_list(self.rest) {
            Ok((r, f)) => {
                self.rest = r;
                Ok(f)
            }
            Err(_) => Err(self.bad("flag list")),
        }
    }

    /// A balanced parenthesised value, byte-exact (RFC 4466 parameters this module does not
    /// type). Quoted strings and literals inside are skipped whole, so a `)` in them does not
    /// count.
    fn raw_paren(&mut self, what: &'static str) -> Result<Vec<u8>, Kind> {
        let start = self.rest;
        if !start.starts_with(b"(") {
            return Err(self.bad(what));
        }
        let mut i = start;
        let mut depth = 0usize;
        loop {
            match i.first() {
                None | Some(b'\r' | b'\n' | 0) => return Err(self.bad(what)),
                Some(b'(') => {
                    depth += 1;
                    if depth > self.limits.max_depth {
                        return Err(Kind::TooDeep(self.limits.max_depth));
                    }
                    i = skip(i, 1);
                }
                Some(b')') => {
                    depth = depth.saturating_sub(1);
                    i = skip(i, 1);
                    if depth == 0 {
                        break;
                    }
                }
                Some(b'"') => match syntax::quoted(i) {
                    Ok((r, _)) => i = r,
                    Err(_) => return Err(self.bad(what)),
                },
                Some(b'{' | b'~') if syntax::starts_string(i) => match syntax::literal(i) {
                    Ok((r, _)) => i = r,
                    Err(_) => return Err(self.bad(what)),
                },
                Some(_) => i = skip(i, 1),
            }
        }
        let len = start.len() - i.len();
        self.rest = i;
        Ok(start.get(..len).unwrap_or_default().to_vec())
    }

    /// A parenthesised, space-separated, non-empty list.
    fn paren_list<T>(
        &mut self,
        what: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<T, Kind>,
    ) -> Result<Vec<T>, Kind> {
        self.expect(b'(', what)?;
        let mut out = Vec::new();
        loop {
            out.push(item(self)?);
            if self.eat(b')') {
                return Ok(out);
            }
            self.sp()?;
        }
    }

    /// As [`Cursor::paren_list`], but `()` is allowed.
    fn paren_list0<T>(
        &mut self,
        what: &'static str,
        item: impl FnMut(&mut Self) -> Result<T, Kind>,
    ) -> Result<Vec<T>, Kind> {
        if self.rest.starts_with(b"()") {
            self.rest = skip(self.rest, 2);
            return Ok(Vec::new());
        }
        self.paren_list(what, item)
    }
}

/// Upper-cases a command or keyword into a stack buffer for matching; `None` if it is longer
/// than any name we know (so it cannot match).
fn upper<const N: usize>(word: &[u8]) -> Option<([u8; N], usize)> {
    if word.len() > N {
        return None;
    }
    let mut buf = [0u8; N];
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_uppercase();
    }
    Some((buf, word.len()))
}

impl Command {
    /// Parses one framed message with the default [`ParseLimits`].
    pub fn parse(message: &[u8]) -> Result<Command, CommandError> {
        Command::parse_with(message, ParseLimits::default())
    }

    /// Parses one framed message.
    pub fn parse_with(message: &[u8], limits: ParseLimits) -> Result<Command, CommandError> {
        let (rest, tag) = match Tag::parse(message) {
            Ok(t) => t,
            Err(_) => {
                return Err(CommandError {
                    tag: None,
                    kind: Kind::InvalidTag,
                })
            }
        };
        // The tag must be followed by a space; anything else means the "tag" was not one.
        let Some(rest) = rest.strip_prefix(b" ") else {
            let kind = if syntax::crlf(rest).is_ok() {
                Kind::NullCommand
            } else {
                Kind::InvalidTag
            };
            return Err(CommandError {
                tag: if kind == Kind::NullCommand {
                    Some(tag)
                } else {
                    None
                },
                kind,
            });
        };
        let tagged = |kind| CommandError {
            tag: Some(tag.clone()),
            kind,
        };
        let (rest, name) = match syntax::atom(rest) {
            Ok(x) => x,
            Err(_) => return Err(tagged(Kind::NullCommand)),
        };
        if !message.ends_with(b"\n") {
            return Err(tagged(Kind::Unterminated));
        }
        let mut c = Cursor {
            rest,
            cmd: "",
            limits,
        };
        match parse_body(name, &mut c) {
            Ok(Some(body)) => Ok(Command { tag, body }),
            Ok(None) => match Atom::new(name) {
                Ok(name) => Ok(Command {
                    tag,
                    body: CommandBody::Other {
                        name,
                        raw: message.to_vec(),
                    },
                }),
                Err(_) => Err(tagged(Kind::NullCommand)),
            },
            Err(kind) => Err(tagged(kind)),
        }
    }

    /// Writes the command, ending with CRLF. Literals use `mode` (a sender using `{n}` must
    /// wait for the server's `+` before each literal's octets; that is the caller's job).
    pub fn encode(&self, out: &mut Vec<u8>, mode: LiteralMode) {
        if let CommandBody::Other { raw, .. } = &self.body {
            out.extend_from_slice(raw);
            return;
        }
        out.extend_from_slice(self.tag.as_str().as_bytes());
        out.push(b' ');
        encode_body(&self.body, out, mode);
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded command as a new vector.
    pub fn to_bytes(&self, mode: LiteralMode) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out, mode);
        out
    }
}

/// Parses the arguments of a known command; `Ok(None)` for an unknown name.
fn parse_body(name: &[u8], c: &mut Cursor<'_>) -> Result<Option<CommandBody>, Kind> {
    use CommandBody as B;
    let Some((buf, len)) = upper::<16>(name) else {
        return Ok(None);
    };
    let up = buf.get(..len).unwrap_or_default();
    // Each arm names the command as Cyrus does in its BAD texts, then parses.
    macro_rules! cmd {
        ($n:expr) => {{
            c.cmd = $n;
        }};
    }
    let body = match up {
        b"CAPABILITY" => no_args(c, "Capability", B::Capability)?,
        b"NOOP" => no_args(c, "Noop", B::Noop)?,
        b"LOGOUT" => no_args(c, "Logout", B::Logout)?,
        b"STARTTLS" => no_args(c, "Starttls", B::StartTls)?,
        b"CHECK" => no_args(c, "Check", B::Check)?,
        b"CLOSE" => no_args(c, "Close", B::Close)?,
        b"UNSELECT" => no_args(c, "Unselect", B::Unselect)?,
        b"UNAUTHENTICATE" => no_args(c, "Unauthenticate", B::Unauthenticate)?,
        b"EXPUNGE" => no_args(c, "Expunge", B::Expunge)?,
        b"IDLE" => no_args(c, "Idle", B::Idle)?,
        b"NAMESPACE" => no_args(c, "Namespace", B::Namespace)?,
        b"AUTHENTICATE" => {
            cmd!("Authenticate");
            c.sp()?;
            let mechanism = c.atom_owned("mechanism")?;
            let initial_response = if c.more() {
                let r = c.atom("initial response")?;
                Some(Secret(if r == b"=" { Vec::new() } else { r.to_vec() }))
            } else {
                None
            };
            B::Authenticate {
                mechanism,
                initial_response,
            }
        }
        b"LOGIN" => {
            cmd!("Login");
            c.sp()?;
            let username = c.astring("user name")?;
            c.sp()?;
            let password = Secret(c.astring("password")?);
            B::Login { username, password }
        }
        b"SELECT" | b"EXAMINE" => {
            let examine = up == b"EXAMINE";
            cmd!(if examine { "Examine" } else { "Select" });
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            let params = if c.more() {
                Some(c.raw_paren("parameters")?)
            } else {
                None
            };
            if examine {
                B::Examine { mailbox, params }
            } else {
                B::Select { mailbox, params }
            }
        }
        b"CREATE" | b"LOCALCREATE" => {
            let local = up == b"LOCALCREATE";
            cmd!(if local { "Localcreate" } else { "Create" });
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            let args = if c.more() {
                Some(create_args(c)?)
            } else {
                None
            };
            if local {
                B::LocalCreate { mailbox, args }
            } else {
                B::Create { mailbox, args }
            }
        }
        b"DELETE" => B::Delete {
            mailbox: one_astring(c, "Delete")?,
        },
        b"LOCALDELETE" => B::LocalDelete {
            mailbox: one_astring(c, "Localdelete")?,
        },
        b"MUPDATEPUSH" => B::MupdatePush {
            mailbox: one_astring(c, "Mupdatepush")?,
        },
        b"SUBSCRIBE" => B::Subscribe {
            mailbox: one_astring(c, "Subscribe")?,
        },
        b"UNSUBSCRIBE" => B::Unsubscribe {
            mailbox: one_astring(c, "Unsubscribe")?,
        },
        b"GETACL" => B::GetAcl {
            mailbox: one_astring(c, "Getacl")?,
        },
        b"MYRIGHTS" => B::MyRights {
            mailbox: one_astring(c, "Myrights")?,
        },
        b"GETQUOTA" => B::GetQuota {
            root: one_astring(c, "Getquota")?,
        },
        b"GETQUOTAROOT" => B::GetQuotaRoot {
            mailbox: one_astring(c, "Getquotaroot")?,
        },
        b"RENAME" => {
            cmd!("Rename");
            c.sp()?;
            let from = c.astring("mailbox name")?;
            c.sp()?;
            let to = c.astring("mailbox name")?;
            let location = if c.more() {
                Some(c.astring("partition name")?)
            } else {
                None
            };
            B::Rename { from, to, location }
        }
        b"XFER" => {
            cmd!("Xfer");
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            c.sp()?;
            let server = c.astring("server name")?;
            let partition = if c.more() {
                Some(c.astring("partition name")?)
            } else {
                None
            };
            B::Xfer {
                mailbox,
                server,
                partition,
            }
        }
        b"RECONSTRUCT" => {
            cmd!("Reconstruct");
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            let recursive = if c.more() {
                let a = c.atom("option")?;
                if !a.eq_ignore_ascii_case(b"RECURSIVE") {
                    return Err(Kind::InvalidArgument {
                        command: c.cmd,
                        what: "option",
                    });
                }
                true
            } else {
                false
            };
            B::Reconstruct { mailbox, recursive }
        }
        b"LIST" => {
            cmd!("List");
            list(c)?
        }
        b"LSUB" | b"RLIST" | b"RLSUB" => {
            cmd!(match up {
                b"LSUB" => "Lsub",
                b"RLIST" => "Rlist",
                _ => "Rlsub",
            });
            c.sp()?;
            let reference = c.reference()?;
            c.sp()?;
            let pattern = c.list_mailbox()?;
            match up {
                b"LSUB" => B::Lsub { reference, pattern },
                b"RLIST" => B::Rlist { reference, pattern },
                _ => B::Rlsub { reference, pattern },
            }
        }
        b"STATUS" => {
            cmd!("Status");
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            c.sp()?;
            let items = c.paren_list("status items", status_item)?;
            B::Status { mailbox, items }
        }
        b"APPEND" => {
            cmd!("Append");
            append(c)?
        }
        b"UID" => {
            c.cmd = "Uid";
            c.sp()?;
            let sub = c.atom("command")?;
            // UID SORT, UID THREAD and other extensions are forwarded as they are.
            let Some((sbuf, slen)) = upper::<8>(sub) else {
                return Ok(None);
            };
            match sbuf.get(..slen).unwrap_or_default() {
                b"FETCH" => {
                    cmd!("Uid Fetch");
                    fetch(c, true)?
                }
                b"STORE" => {
                    cmd!("Uid Store");
                    store(c, true)?
                }
                b"SEARCH" => {
                    cmd!("Uid Search");
                    search::search(c, true)?
                }
                b"COPY" | b"MOVE" => {
                    let mv = sbuf.starts_with(b"MOVE");
                    cmd!(if mv { "Uid Move" } else { "Uid Copy" });
                    copy_move(c, true, mv)?
                }
                b"EXPUNGE" => {
                    cmd!("Uid Expunge");
                    c.sp()?;
                    B::UidExpunge { set: c.seq_set()? }
                }
                _ => return Ok(None),
            }
        }
        b"FETCH" => {
            cmd!("Fetch");
            fetch(c, false)?
        }
        b"STORE" => {
            cmd!("Store");
            store(c, false)?
        }
        b"SEARCH" => {
            cmd!("Search");
            search::search(c, false)?
        }
        b"COPY" => {
            cmd!("Copy");
            copy_move(c, false, false)?
        }
        b"MOVE" => {
            cmd!("Move");
            copy_move(c, false, true)?
        }
        b"ID" => {
            cmd!("Id");
            c.sp()?;
            if c.rest.len() >= 3
                && c.rest
                    .get(..3)
                    .is_some_and(|n| n.eq_ignore_ascii_case(b"NIL"))
                && !c.rest.get(3).is_some_and(|&b| is_atom_char(b))
            {
                c.rest = skip(c.rest, 3);
                B::Id(None)
            } else {
                B::Id(Some(c.paren_list0("parameter list", |c| {
                    let k = c.string("field name")?;
                    c.sp()?;
                    let v = c.nstring("field value")?;
                    Ok((k, v))
                })?))
            }
        }
        b"ENABLE" => {
            cmd!("Enable");
            c.sp()?;
            let mut caps = vec![c.atom_owned("capability")?];
            while c.more() {
                caps.push(c.atom_owned("capability")?);
            }
            B::Enable(caps)
        }
        b"SETACL" => {
            cmd!("Setacl");
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            c.sp()?;
            let identifier = c.astring("identifier")?;
            c.sp()?;
            let rights = c.astring("rights")?;
            B::SetAcl {
                mailbox,
                identifier,
                rights,
            }
        }
        b"DELETEACL" | b"LISTRIGHTS" => {
            let del = up == b"DELETEACL";
            cmd!(if del { "Deleteacl" } else { "Listrights" });
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            c.sp()?;
            let identifier = c.astring("identifier")?;
            if del {
                B::DeleteAcl {
                    mailbox,
                    identifier,
                }
            } else {
                B::ListRights {
                    mailbox,
                    identifier,
                }
            }
        }
        b"SETQUOTA" => {
            cmd!("Setquota");
            c.sp()?;
            let root = c.astring("quota root")?;
            c.sp()?;
            let limits = c.paren_list0("quota list", |c| {
                let res = c.atom_owned("resource")?;
                c.sp()?;
                let n = c.number64("limit")?;
                Ok((res, n))
            })?;
            B::SetQuota { root, limits }
        }
        b"GETMETADATA" => {
            cmd!("Getmetadata");
            get_metadata(c)?
        }
        b"SETMETADATA" => {
            cmd!("Setmetadata");
            c.sp()?;
            let mailbox = c.astring("mailbox name")?;
            c.sp()?;
            let entries = c.paren_list("entry list", |c| {
                let e = c.astring("entry name")?;
                c.sp()?;
                let v = c.nstring("entry value")?;
                Ok((e, v))
            })?;
            B::SetMetadata { mailbox, entries }
        }
        _ => return Ok(None),
    };
    c.end()?;
    Ok(Some(body))
}

fn no_args(c: &mut Cursor<'_>, name: &'static str, body: CommandBody) -> Result<CommandBody, Kind> {
    c.cmd = name;
    Ok(body)
}

fn one_astring(c: &mut Cursor<'_>, name: &'static str) -> Result<Vec<u8>, Kind> {
    c.cmd = name;
    c.sp()?;
    c.astring("mailbox name")
}

fn status_item(c: &mut Cursor<'_>) -> Result<StatusItem, Kind> {
    match StatusItem::parse(c.rest) {
        Ok((_, StatusItem::Other(a))) => {
            Err(Kind::InvalidStatusAttribute(excerpt(a.as_str().as_bytes())))
        }
        Ok((r, item)) => {
            c.rest = r;
            Ok(item)
        }
        Err(_) => Err(c.bad("status items")),
    }
}

fn create_args(c: &mut Cursor<'_>) -> Result<CreateArgs, Kind> {
    if !c.peek(b'(') {
        return Ok(CreateArgs::Partition(c.astring("partition name")?));
    }
    let params = c.paren_list("parameters", |c| {
        let label = c.atom("parameter")?;
        let Some((buf, len)) = upper::<16>(label) else {
            return other_param(c, label);
        };
        Ok(match buf.get(..len).unwrap_or_default() {
            b"PARTITION" => {
                c.sp()?;
                CreateParam::Partition(c.astring("partition name")?)
            }
            b"SERVER" => {
                c.sp()?;
                CreateParam::Server(c.astring("server name")?)
            }
            b"MAILBOXID" => {
                c.sp()?;
                CreateParam::MailboxId(c.astring("mailbox id")?)
            }
            b"USE" => {
                c.sp()?;
                CreateParam::Use(c.flag_list()?)
            }
            _ => return other_param(c, label),
        })
    })?;
    Ok(CreateArgs::Params(params))
}

fn other_param(c: &mut Cursor<'_>, label: &[u8]) -> Result<CreateParam, Kind> {
    let name = Atom::new(label).map_err(|_| c.bad("parameter"))?;
    let value = ext_value(c)?;
    Ok(CreateParam::Other(name, value))
}

/// An optional RFC 4466 `tagged-ext-val` after a label, kept raw: a parenthesised list, or a
/// number or sequence set. Only those forms count as a value, which is what lets a value-less
/// label be followed by another label (`(X-FOO PARTITION p)`) without ambiguity.
fn ext_value(c: &mut Cursor<'_>) -> Result<Option<Vec<u8>>, Kind> {
    let starts_value = match c.rest.get(1) {
        Some(b'(') => true,
        Some(b) => b.is_ascii_digit() || *b == b'*',
        None => false,
    };
    if !c.rest.starts_with(b" ") || !starts_value {
        return Ok(None);
    }
    c.sp()?;
    if c.peek(b'(') {
        return c.raw_paren("parameter value").map(Some);
    }
    let len = c
        .rest
        .iter()
        .position(|&b| !(b.is_ascii_digit() || matches!(b, b'*' | b':' | b',')))
        .unwrap_or(c.rest.len());
    let value = c.rest.get(..len).unwrap_or_default().to_vec();
    c.rest = skip(c.rest, len);
    Ok(Some(value))
}

fn list(c: &mut Cursor<'_>) -> Result<CommandBody, Kind> {
    c.sp()?;
    let mut selection = Vec::new();
    if c.peek(b'(') {
        selection = c.paren_list0("selection options", |c| {
            let a = c.atom("selection option")?;
            Ok(match upper::<16>(a).as_ref().map(|(b, l)| b.get(..*l)) {
                Some(Some(b"SUBSCRIBED")) => ListSelect::Subscribed,
                Some(Some(b"REMOTE")) => ListSelect::Remote,
                Some(Some(b"RECURSIVEMATCH")) => ListSelect::RecursiveMatch,
                Some(Some(b"SPECIAL-USE")) => ListSelect::SpecialUse,
                _ => ListSelect::Other(Atom::new(a).map_err(|_| c.bad("selection option"))?),
            })
        })?;
        c.sp()?;
    }
    let reference = c.reference()?;
    c.sp()?;
    let patterns = if c.peek(b'(') {
        c.paren_list("mailbox patterns", Cursor::list_mailbox)?
    } else {
        vec![c.list_mailbox()?]
    };
    let mut returns = Vec::new();
    if c.more() {
        let a = c.atom("return options")?;
        if !a.eq_ignore_ascii_case(b"RETURN") {
            return Err(Kind::ExtraArguments(c.cmd));
        }
        c.sp()?;
        returns = c.paren_list0("return options", |c| {
            let a = c.atom("return option")?;
            Ok(match upper::<16>(a).as_ref().map(|(b, l)| b.get(..*l)) {
                Some(Some(b"SUBSCRIBED")) => ListReturn::Subscribed,
                Some(Some(b"CHILDREN")) => ListReturn::Children,
                Some(Some(b"SPECIAL-USE")) => ListReturn::SpecialUse,
                Some(Some(b"MYRIGHTS")) => ListReturn::MyRights,
                Some(Some(b"STATUS")) => {
                    c.sp()?;
                    ListReturn::Status(c.paren_list("status items", status_item)?)
                }
                _ => {
                    let name = Atom::new(a).map_err(|_| c.bad("return option"))?;
                    ListReturn::Other(name, ext_value(c)?)
                }
            })
        })?;
    }
    Ok(CommandBody::List {
        selection,
        reference,
        patterns,
        returns,
    })
}

fn append(c: &mut Cursor<'_>) -> Result<CommandBody, Kind> {
    c.sp()?;
    let mailbox = c.astring("mailbox name")?;
    let mut messages = Vec::new();
    // Each message: SP [flags SP] [date-time SP] literal; MULTIAPPEND repeats until the end.
    while messages.is_empty() || c.more() {
        if messages.is_empty() {
            c.sp()?;
        }
        let flags = if c.peek(b'(') {
            let f = c.flag_list()?;
            c.sp()?;
            Some(f)
        } else {
            None
        };
        let date = if c.peek(b'"') {
            match DateTime::parse(c.rest) {
                Ok((r, d)) => {
                    c.rest = r;
                    c.sp()?;
                    Some(d)
                }
                Err(_) => return Err(c.bad("date-time")),
            }
        } else {
            None
        };
        let binary = c.peek(b'~');
        if !matches!(c.rest.first(), Some(b'{' | b'~')) {
            return Err(c.bad("message literal"));
        }
        let data = c.string("message literal")?;
        messages.push(AppendMessage {
            flags,
            date,
            data,
            binary,
        });
    }
    Ok(CommandBody::Append { mailbox, messages })
}

fn fetch(c: &mut Cursor<'_>, uid: bool) -> Result<CommandBody, Kind> {
    c.sp()?;
    let set = c.seq_set()?;
    c.sp()?;
    let attr = |c: &mut Cursor<'_>| match FetchAttr::parse(c.rest) {
        Ok((r, a)) if matches!(r.first(), None | Some(b' ' | b')' | b'\r' | b'\n')) => {
            c.rest = r;
            Ok(a)
        }
        _ if c.at_eol() => Err(Kind::MissingArgument(c.cmd)),
        _ => Err(Kind::InvalidFetchAttribute {
            command: c.cmd,
            attr: excerpt(c.rest),
        }),
    };
    let items = if c.peek(b'(') {
        FetchItems::Attrs(c.paren_list("fetch attributes", attr)?)
    } else {
        let word_end = c
            .rest
            .iter()
            .position(|&b| !b.is_ascii_alphabetic())
            .unwrap_or(c.rest.len());
        let word = c.rest.get(..word_end).unwrap_or_default();
        let terminated = matches!(c.rest.get(word_end), None | Some(b' ' | b'\r' | b'\n'));
        let mac = if !terminated {
            None
        } else if word.eq_ignore_ascii_case(b"ALL") {
            Some(FetchItems::All)
        } else if word.eq_ignore_ascii_case(b"FAST") {
            Some(FetchItems::Fast)
        } else if word.eq_ignore_ascii_case(b"FULL") {
            Some(FetchItems::Full)
        } else {
            None
        };
        match mac {
            Some(m) => {
                c.rest = skip(c.rest, word_end);
                m
            }
            None => FetchItems::Attrs(vec![attr(c)?]),
        }
    };
    let modifiers = if c.more() {
        Some(c.raw_paren("modifiers")?)
    } else {
        None
    };
    Ok(CommandBody::Fetch {
        uid,
        set,
        items,
        modifiers,
    })
}

fn store(c: &mut Cursor<'_>, uid: bool) -> Result<CommandBody, Kind> {
    c.sp()?;
    let set = c.seq_set()?;
    c.sp()?;
    let modifiers = if c.peek(b'(') {
        let m = c.raw_paren("modifiers")?;
        c.sp()?;
        Some(m)
    } else {
        None
    };
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let item = c.atom("data item")?;
    let silent = if item.eq_ignore_ascii_case(b"FLAGS") {
        false
    } else if item.eq_ignore_ascii_case(b"FLAGS.SILENT") {
        true
    } else {
        return Err(Kind::InvalidArgument {
            command: c.cmd,
            what: "data item",
        });
    };
    c.sp()?;
    let flags = if c.peek(b'(') {
        c.flag_list()?
    } else {
        let mut f = vec![c.flag()?];
        while c.more() {
            f.push(c.flag()?);
        }
        f
    };
    Ok(CommandBody::Store {
        uid,
        set,
        modifiers,
        mode,
        silent,
        flags,
    })
}

fn copy_move(c: &mut Cursor<'_>, uid: bool, mv: bool) -> Result<CommandBody, Kind> {
    c.sp()?;
    let set = c.seq_set()?;
    c.sp()?;
    let mailbox = c.astring("mailbox name")?;
    Ok(if mv {
        CommandBody::Move { uid, set, mailbox }
    } else {
        CommandBody::Copy { uid, set, mailbox }
    })
}

fn get_metadata(c: &mut Cursor<'_>) -> Result<CommandBody, Kind> {
    c.sp()?;
    let mut options = MetadataOptions::default();
    if c.peek(b'(') {
        c.paren_list("options", |c| {
            let a = c.atom("option")?;
            c.sp()?;
            if a.eq_ignore_ascii_case(b"MAXSIZE") {
                options.max_size = Some(c.number64("MAXSIZE")?);
            } else if a.eq_ignore_ascii_case(b"DEPTH") {
                let d = c.atom("DEPTH")?;
                options.depth = Some(match d {
                    b"0" => MetadataDepth::Zero,
                    b"1" => MetadataDepth::One,
                    _ if d.eq_ignore_ascii_case(b"infinity") => MetadataDepth::Infinity,
                    _ => {
                        return Err(Kind::InvalidArgument {
                            command: c.cmd,
                            what: "depth",
                        })
                    }
                });
            } else {
                return Err(Kind::InvalidArgument {
                    command: c.cmd,
                    what: "option",
                });
            }
            Ok(())
        })?;
        c.sp()?;
    }
    let mailbox = c.astring("mailbox name")?;
    c.sp()?;
    let entries = if c.peek(b'(') {
        c.paren_list("entry list", |c| c.astring("entry name"))?
    } else {
        vec![c.astring("entry name")?]
    };
    Ok(CommandBody::GetMetadata {
        options,
        mailbox,
        entries,
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding

fn w(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn w_astring(out: &mut Vec<u8>, s: &[u8], mode: LiteralMode) {
    out.push(b' ');
    syntax::write_astring(out, s, mode);
}

/// A list-mailbox: bare when every byte is a list char (so `%` and `*` stay wildcards and
/// need no quoting), otherwise a string.
fn w_pattern(out: &mut Vec<u8>, s: &[u8], mode: LiteralMode) {
    if !s.is_empty() && s.iter().all(|&b| is_list_char(b)) {
        out.extend_from_slice(s);
    } else {
        syntax::write_string(out, s, mode);
    }
}

fn w_list<T>(out: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'(');
    for (n, it) in items.iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        each(out, it);
    }
    out.push(b')');
}

fn w_set(out: &mut Vec<u8>, uid: bool, name: &str, set: &SequenceSet) {
    if uid {
        w(out, "UID ");
    }
    w(out, name);
    out.push(b' ');
    set.write(out);
}

fn w_create_args(out: &mut Vec<u8>, args: &Option<CreateArgs>, mode: LiteralMode) {
    match args {
        None => {}
        Some(CreateArgs::Partition(p)) => w_astring(out, p, mode),
        Some(CreateArgs::Params(ps)) => {
            out.push(b' ');
            w_list(out, ps, |out, p| match p {
                CreateParam::Partition(v) => {
                    w(out, "PARTITION");
                    w_astring(out, v, mode);
                }
                CreateParam::Server(v) => {
                    w(out, "SERVER");
                    w_astring(out, v, mode);
                }
                CreateParam::MailboxId(v) => {
                    w(out, "MAILBOXID");
                    w_astring(out, v, mode);
                }
                CreateParam::Use(f) => {
                    w(out, "USE ");
                    Flag::write_list(out, f);
                }
                CreateParam::Other(a, v) => {
                    w(out, a.as_str());
                    if let Some(v) = v {
                        out.push(b' ');
                        out.extend_from_slice(v);
                    }
                }
            });
        }
    }
}

fn w_status_items(out: &mut Vec<u8>, items: &[StatusItem]) {
    w_list(out, items, |out, i| i.write(out));
}

fn encode_body(body: &CommandBody, out: &mut Vec<u8>, mode: LiteralMode) {
    use CommandBody as B;
    match body {
        B::Capability => w(out, "CAPABILITY"),
        B::Noop => w(out, "NOOP"),
        B::Logout => w(out, "LOGOUT"),
        B::StartTls => w(out, "STARTTLS"),
        B::Check => w(out, "CHECK"),
        B::Close => w(out, "CLOSE"),
        B::Unselect => w(out, "UNSELECT"),
        B::Unauthenticate => w(out, "UNAUTHENTICATE"),
        B::Expunge => w(out, "EXPUNGE"),
        B::Idle => w(out, "IDLE"),
        B::Namespace => w(out, "NAMESPACE"),
        B::Authenticate {
            mechanism,
            initial_response,
        } => {
            w(out, "AUTHENTICATE ");
            w(out, mechanism.as_str());
            if let Some(r) = initial_response {
                out.push(b' ');
                if r.expose().is_empty() {
                    out.push(b'=');
                } else {
                    out.extend_from_slice(r.expose());
                }
            }
        }
        B::Login { username, password } => {
            w(out, "LOGIN");
            w_astring(out, username, mode);
            w_astring(out, password.expose(), mode);
        }
        B::Select { mailbox, params } | B::Examine { mailbox, params } => {
            w(
                out,
                if matches!(body, B::Select { .. }) {
                    "SELECT"
                } else {
                    "EXAMINE"
                },
            );
            w_astring(out, mailbox, mode);
            if let Some(p) = params {
                out.push(b' ');
                out.extend_from_slice(p);
            }
        }
        B::Create { mailbox, args } => {
            w(out, "CREATE");
            w_astring(out, mailbox, mode);
            w_create_args(out, args, mode);
        }
        B::LocalCreate { mailbox, args } => {
            w(out, "LOCALCREATE");
            w_astring(out, mailbox, mode);
            w_create_args(out, args, mode);
        }
        B::Delete { mailbox } => {
            w(out, "DELETE");
            w_astring(out, mailbox, mode);
        }
        B::LocalDelete { mailbox } => {
            w(out, "LOCALDELETE");
            w_astring(out, mailbox, mode);
        }
        B::MupdatePush { mailbox } => {
            w(out, "MUPDATEPUSH");
            w_astring(out, mailbox, mode);
        }
        B::Subscribe { mailbox } => {
            w(out, "SUBSCRIBE");
            w_astring(out, mailbox, mode);
        }
        B::Unsubscribe { mailbox } => {
            w(out, "UNSUBSCRIBE");
            w_astring(out, mailbox, mode);
        }
        B::GetAcl { mailbox } => {
            w(out, "GETACL");
            w_astring(out, mailbox, mode);
        }
        B::MyRights { mailbox } => {
            w(out, "MYRIGHTS");
            w_astring(out, mailbox, mode);
        }
        B::GetQuota { root } => {
            w(out, "GETQUOTA");
            w_astring(out, root, mode);
        }
        B::GetQuotaRoot { mailbox } => {
            w(out, "GETQUOTAROOT");
            w_astring(out, mailbox, mode);
        }
        B::Rename { from, to, location } => {
            w(out, "RENAME");
            w_astring(out, from, mode);
            w_astring(out, to, mode);
            if let Some(l) = location {
                w_astring(out, l, mode);
            }
        }
        B::Xfer {
            mailbox,
            server,
            partition,
        } => {
            w(out, "XFER");
            w_astring(out, mailbox, mode);
            w_astring(out, server, mode);
            if let Some(p) = partition {
                w_astring(out, p, mode);
            }
        }
        B::Reconstruct { mailbox, recursive } => {
            w(out, "RECONSTRUCT");
            w_astring(out, mailbox, mode);
            if *recursive {
                w(out, " RECURSIVE");
            }
        }
        B::List {
            selection,
            reference,
            patterns,
            returns,
        } => {
            w(out, "LIST");
            if !selection.is_empty() {
                out.push(b' ');
                w_list(out, selection, |out, s| {
                    w(
                        out,
                        match s {
                            ListSelect::Subscribed => "SUBSCRIBED",
                            ListSelect::Remote => "REMOTE",
                            ListSelect::RecursiveMatch => "RECURSIVEMATCH",
                            ListSelect::SpecialUse => "SPECIAL-USE",
                            ListSelect::Other(a) => a.as_str(),
                        },
                    )
                });
            }
            w_astring(out, reference, mode);
            out.push(b' ');
            match patterns.as_slice() {
                [one] => w_pattern(out, one, mode),
                many => w_list(out, many, |out, p| w_pattern(out, p, mode)),
            }
            if !returns.is_empty() {
                w(out, " RETURN ");
                w_list(out, returns, |out, r| match r {
                    ListReturn::Subscribed => w(out, "SUBSCRIBED"),
                    ListReturn::Children => w(out, "CHILDREN"),
                    ListReturn::SpecialUse => w(out, "SPECIAL-USE"),
                    ListReturn::MyRights => w(out, "MYRIGHTS"),
                    ListReturn::Status(items) => {
                        w(out, "STATUS ");
                        w_status_items(out, items);
                    }
                    ListReturn::Other(a, v) => {
                        w(out, a.as_str());
                        if let Some(v) = v {
                            out.push(b' ');
                            out.extend_from_slice(v);
                        }
                    }
                });
            }
        }
        B::Lsub { reference, pattern }
        | B::Rlist { reference, pattern }
        | B::Rlsub { reference, pattern } => {
            w(
                out,
                match body {
                    B::Lsub { .. } => "LSUB",
                    B::Rlist { .. } => "RLIST",
                    _ => "RLSUB",
                },
            );
            w_astring(out, reference, mode);
            out.push(b' ');
            w_pattern(out, pattern, mode);
        }
        B::Status { mailbox, items } => {
            w(out, "STATUS");
            w_astring(out, mailbox, mode);
            out.push(b' ');
            w_status_items(out, items);
        }
        B::Append { mailbox, messages } => {
            w(out, "APPEND");
            w_astring(out, mailbox, mode);
            for m in messages {
                if let Some(f) = &m.flags {
                    out.push(b' ');
                    Flag::write_list(out, f);
                }
                if let Some(d) = m.date {
                    out.push(b' ');
                    d.write(out);
                }
                out.push(b' ');
                if m.binary {
                    out.push(b'~');
                }
                syntax::write_literal(out, &m.data, mode);
            }
        }
        B::UidExpunge { set } => w_set(out, true, "EXPUNGE", set),
        B::Search {
            uid,
            returns,
            charset,
            criteria,
        } => {
            if *uid {
                w(out, "UID ");
            }
            w(out, "SEARCH");
            if let Some(r) = returns {
                w(out, " RETURN ");
                w_list(out, r, |out, a| w(out, a.as_str()));
            }
            if let Some(cs) = charset {
                w(out, " CHARSET");
                w_astring(out, cs, mode);
            }
            for k in criteria {
                out.push(b' ');
                k.write(out, mode);
            }
        }
        B::Fetch {
            uid,
            set,
            items,
            modifiers,
        } => {
            w_set(out, *uid, "FETCH", set);
            out.push(b' ');
            match items {
                FetchItems::All => w(out, "ALL"),
                FetchItems::Fast => w(out, "FAST"),
                FetchItems::Full => w(out, "FULL"),
                FetchItems::Attrs(a) => match a.as_slice() {
                    [one] => one.write(out),
                    many => w_list(out, many, |out, a| a.write(out)),
                },
            }
            if let Some(m) = modifiers {
                out.push(b' ');
                out.extend_from_slice(m);
            }
        }
        B::Store {
            uid,
            set,
            modifiers,
            mode: smode,
            silent,
            flags,
        } => {
            w_set(out, *uid, "STORE", set);
            out.push(b' ');
            if let Some(m) = modifiers {
                out.extend_from_slice(m);
                out.push(b' ');
            }
            match smode {
                StoreMode::Replace => {}
                StoreMode::Add => out.push(b'+'),
                StoreMode::Remove => out.push(b'-'),
            }
            w(out, if *silent { "FLAGS.SILENT " } else { "FLAGS " });
            Flag::write_list(out, flags);
        }
        B::Copy { uid, set, mailbox } => {
            w_set(out, *uid, "COPY", set);
            w_astring(out, mailbox, mode);
        }
        B::Move { uid, set, mailbox } => {
            w_set(out, *uid, "MOVE", set);
            w_astring(out, mailbox, mode);
        }
        B::Id(None) => w(out, "ID NIL"),
        B::Id(Some(pairs)) => {
            w(out, "ID ");
            w_list(out, pairs, |out, (k, v)| {
                syntax::write_string(out, k, mode);
                out.push(b' ');
                syntax::write_nstring(out, v.as_deref(), mode);
            });
        }
        B::Enable(caps) => {
            w(out, "ENABLE");
            for c in caps {
                out.push(b' ');
                w(out, c.as_str());
            }
        }
        B::SetAcl {
            mailbox,
            identifier,
            rights,
        } => {
            w(out, "SETACL");
            w_astring(out, mailbox, mode);
            w_astring(out, identifier, mode);
            w_astring(out, rights, mode);
        }
        B::DeleteAcl {
            mailbox,
            identifier,
        } => {
            w(out, "DELETEACL");
            w_astring(out, mailbox, mode);
            w_astring(out, identifier, mode);
        }
        B::ListRights {
            mailbox,
            identifier,
        } => {
            w(out, "LISTRIGHTS");
            w_astring(out, mailbox, mode);
            w_astring(out, identifier, mode);
        }
        B::SetQuota { root, limits } => {
            w(out, "SETQUOTA");
            w_astring(out, root, mode);
            out.push(b' ');
            w_list(out, limits, |out, (res, n)| {
                w(out, res.as_str());
                out.push(b' ');
                write_u64(out, *n);
            });
        }
        B::GetMetadata {
            options,
            mailbox,
            entries,
        } => {
            w(out, "GETMETADATA");
            if options.max_size.is_some() || options.depth.is_some() {
                let mut opts: Vec<(&str, String)> = Vec::new();
                if let Some(n) = options.max_size {
                    opts.push(("MAXSIZE", n.to_string()));
                }
                if let Some(d) = options.depth {
                    let d = match d {
                        MetadataDepth::Zero => "0",
                        MetadataDepth::One => "1",
                        MetadataDepth::Infinity => "infinity",
                    };
                    opts.push(("DEPTH", d.to_string()));
                }
                out.push(b' ');
                w_list(out, &opts, |out, (k, v)| {
                    w(out, k);
                    out.push(b' ');
                    w(out, v);
                });
            }
            w_astring(out, mailbox, mode);
            out.push(b' ');
            match entries.as_slice() {
                [one] => syntax::write_astring(out, one, mode),
                many => w_list(out, many, |out, e| syntax::write_astring(out, e, mode)),
            }
        }
        B::SetMetadata { mailbox, entries } => {
            w(out, "SETMETADATA");
            w_astring(out, mailbox, mode);
            out.push(b' ');
            w_list(out, entries, |out, (e, v)| {
                syntax::write_astring(out, e, mode);
                out.push(b' ');
                syntax::write_nstring(out, v.as_deref(), mode);
            });
        }
        B::Other { raw, .. } => out.extend_from_slice(raw),
    }
}
