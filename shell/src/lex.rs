//! Splitting cyradm input lines into commands, words and redirections (reference §6.2).
//!
//! cyradm reads its rc files, scripts and the keyboard through one shell-like tokeniser:
//! whitespace separates words, quotes group, `\` escapes, `$VAR`/`${VAR}` expand from the
//! environment, `;` (and a line end) separates commands, and `>file`, `>>file`, `<file`,
//! `N>file`, `>&N` and `N>&-` redirect a command's file descriptors. [`tokenize`] does all of
//! that as a pure function: the caller supplies the variable lookup, so tests and scripts
//! never touch the process environment.
//!
//! ```
//! use murder_shell::lex::{tokenize, Redirect};
//!
//! let env = |name: &str| (name == "U").then(|| "alice".to_string());
//! let cmds = tokenize("lm user.$U.* >out.txt; sam 'user.bob' anyone read", &env).unwrap();
//! assert_eq!(cmds.len(), 2);
//! assert_eq!(cmds[0].words, ["lm", "user.alice.*"]);
//! assert_eq!(
//!     cmds[0].redirects,
//!     [Redirect::Write { fd: 1, path: "out.txt".into(), append: false }]
//! );
//! assert_eq!(cmds[1].words, ["sam", "user.bob", "anyone", "read"]);
//! ```
//!
//! # Where this differs from cyradm on purpose
//!
//! cyradm's own tokeniser has quirks that look like accidents; these follow the POSIX shell
//! instead, because that is what a person typing expects:
//! * Single quotes are fully literal (cyradm still expands `$VAR` and backslashes inside
//!   them), and a quote is closed only by the same kind of quote.
//! * A value expanded outside quotes is split at whitespace into words, but its quotes,
//!   `;` and `>` are not interpreted again (cyradm re-reads the value as input).
//! * `N>file` takes `N` as a file descriptor only when the digits touch the operator
//!   (`2>err`); cyradm also takes a separate `2 > err` that way.
//! * `&` is an ordinary character except right after `>`, `>>` or `<`, so modified UTF-7
//!   names such as `user.bob.&AOQ-` need no quoting. (There is no backgrounding anyway.)
//! * A `#` at the start of a word begins a comment to the end of the line. (cyradm hands such
//!   a line to `/bin/sh`, which ignores it, so the effect is the same.)
//! * A quoted string may span lines; [`LexError::is_incomplete`] tells an interactive reader
//!   to ask for another line.

use std::fmt;

use thiserror::Error;

/// Size limits for [`tokenize_with_limits`]; exceeding one is [`LexError::TooLong`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest input, in bytes. Default 1 MiB (a generous script).
    pub max_input_len: usize,
    /// Longest single word after expansion, in bytes. Default 64 KiB.
    pub max_word_len: usize,
    /// Most words (redirection targets included) in one command. Default 4096.
    pub max_words: usize,
    /// Most commands in one input. Default 4096.
    pub max_commands: usize,
    /// Most bytes of words in the whole output, after expansion. Default 4 MiB; this bounds
    /// what `$A$A$A…` can blow up to.
    pub max_output_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_len: 1 << 20,
            max_word_len: 64 << 10,
            max_words: 4096,
            max_commands: 4096,
            max_output_len: 4 << 20,
        }
    }
}

/// Which limit was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// [`Limits::max_input_len`].
    Input,
    /// [`Limits::max_word_len`].
    Word,
    /// [`Limits::max_words`].
    Words,
    /// [`Limits::max_commands`].
    Commands,
    /// [`Limits::max_output_len`].
    Output,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Input => "input length",
            LimitKind::Word => "word length",
            LimitKind::Words => "number of words in a command",
            LimitKind::Commands => "number of commands",
            LimitKind::Output => "expanded input length",
        })
    }
}

/// A position in the input: 1-based line and column, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Line number, from 1.
    pub line: usize,
    /// Column (character) number within the line, from 1.
    pub column: usize,
}

impl fmt::Display for Pos {
    /// `column N` on the first line (the usual interactive case), `line L, column N` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 1 {
            write!(f, "column {}", self.column)
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// Errors from [`tokenize`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LexError {
    /// A quote that is never closed; `at` is the opening quote.
    #[error("unbalanced quote at {at}")]
    UnbalancedQuote {
        /// `'` or `"`.
        quote: char,
        /// Where the quote opened.
        at: Pos,
    },
    /// A backslash as the last character of the input, with nothing to escape.
    #[error("trailing backslash at {at}")]
    TrailingBackslash {
        /// Where the backslash is.
        at: Pos,
    },
    /// `${` not followed by a name of letters, digits and `_` and a closing `}`.
    #[error("bad variable reference at {at} (write ${{NAME}}, NAME of letters, digits and _)")]
    BadVariable {
        /// Where the `$` is.
        at: Pos,
    },
    /// `>`, `>>`, `<` or `>&` with no word after it.
    #[error("redirection at {at} has no target")]
    MissingRedirectTarget {
        /// Where the operator is.
        at: Pos,
    },
    /// A redirection target that expands to more than one word.
    #[error("redirection at {at} is ambiguous: its target expands to {count} words")]
    AmbiguousRedirect {
        /// Where the operator is.
        at: Pos,
        /// How many words the target became.
        count: usize,
    },
    /// `>&X` where X is neither a descriptor number nor `-`.
    #[error(
        "redirection at {at}: `&{target}' is not a file descriptor (use a number, or - to close)"
    )]
    BadDupTarget {
        /// What followed `&`.
        target: String,
        /// Where the operator is.
        at: Pos,
    },
    /// A descriptor number too large to be one.
    #[error("file descriptor {fd} at {at} is too large")]
    BadFd {
        /// The digits as written.
        fd: String,
        /// Where the digits start.
        at: Pos,
    },
    /// A size limit from [`Limits`] was exceeded.
    #[error("{what} exceeds the limit of {max}")]
    TooLong {
        /// Which limit.
        what: LimitKind,
        /// Its value.
        max: usize,
    },
}

impl LexError {
    /// True when more input could complete the line (an open quote or a final backslash):
    /// an interactive reader should prompt for a continuation line rather than report it.
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            LexError::UnbalancedQuote { .. } | LexError::TrailingBackslash { .. }
        )
    }

    /// Where in the input the error is, if it has a position.
    pub fn position(&self) -> Option<Pos> {
        match self {
            LexError::UnbalancedQuote { at, .. }
            | LexError::TrailingBackslash { at }
            | LexError::BadVariable { at }
            | LexError::MissingRedirectTarget { at }
            | LexError::AmbiguousRedirect { at, .. }
            | LexError::BadDupTarget { at, .. }
            | LexError::BadFd { at, .. } => Some(*at),
            LexError::TooLong { .. } => None,
        }
    }
}

/// One redirection of a command's file descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// `>path`, `N>path` (truncate) or `>>path`, `N>>path` (append). `fd` defaults to 1.
    Write {
        /// The descriptor redirected.
        fd: u32,
        /// The file.
        path: String,
        /// `>>` rather than `>`.
        append: bool,
    },
    /// `<path` or `N<path`. `fd` defaults to 0.
    Read {
        /// The descriptor redirected.
        fd: u32,
        /// The file.
        path: String,
    },
    /// `>&M`, `N>&M` or `N<&M`: `fd` becomes a copy of `source` (`2>&1`).
    Dup {
        /// The descriptor redirected (default 1 for `>&`, 0 for `<&`).
        fd: u32,
        /// The descriptor copied.
        source: u32,
    },
    /// `>&-`, `N>&-` or `N<&-`: close `fd`.
    Close {
        /// The descriptor closed.
        fd: u32,
    },
}

impl Redirect {
    /// The descriptor this redirection affects.
    pub fn fd(&self) -> u32 {
        match self {
            Redirect::Write { fd, .. }
            | Redirect::Read { fd, .. }
            | Redirect::Dup { fd, .. }
            | Redirect::Close { fd } => *fd,
        }
    }
}

impl fmt::Display for Redirect {
    /// The redirection as input that [`tokenize`] reads back; a default descriptor is omitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fd_prefix = |fd: u32, default: u32| {
            if fd == default {
                String::new()
            } else {
                fd.to_string()
            }
        };
        match self {
            Redirect::Write { fd, path, append } => {
                let op = if *append { ">>" } else { ">" };
                write!(f, "{}{op}{}", fd_prefix(*fd, 1), quote(path))
            }
            Redirect::Read { fd, path } => write!(f, "{}<{}", fd_prefix(*fd, 0), quote(path)),
            Redirect::Dup { fd, source } => write!(f, "{}>&{source}", fd_prefix(*fd, 1)),
            Redirect::Close { fd } => write!(f, "{}>&-", fd_prefix(*fd, 1)),
        }
    }
}

/// One command: its words (the first is the command name) and its redirections, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandLine {
    /// The words after quote removal and expansion.
    pub words: Vec<String>,
    /// The redirections, in the order written (later ones win for the same descriptor).
    pub redirects: Vec<Redirect>,
}

impl fmt::Display for CommandLine {
    /// The command as one line of input that [`tokenize`] reads back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for w in &self.words {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(&quote(w))?;
        }
        for r in &self.redirects {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Quotes `word` so that [`tokenize`] reads it back as exactly one word, unchanged.
///
/// Plain words are returned as they are; anything else is put in single quotes, with each
/// `'` written as `'\''`. Completion uses this to insert mailbox names with spaces.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '%' | '*' | '+' | ',' | '-' | '.' | '/')
                || matches!(c, ':' | '=' | '@' | '^' | '_' | '~' | '!' | '?' | '[' | ']')
        });
    if plain {
        return word.to_string();
    }
    let mut out = String::with_capacity(word.len().saturating_add(2));
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Tokenises `input` (one line or many) with the default [`Limits`].
///
/// `env` looks up variables for `$NAME` and `${NAME}`; an unset variable expands to nothing,
/// as in cyradm. Empty commands (blank lines, `;;`, comments) are left out of the result.
pub fn tokenize<F>(input: &str, env: &F) -> Result<Vec<CommandLine>, LexError>
where
    F: Fn(&str) -> Option<String>,
{
    tokenize_with_limits(input, env, &Limits::default())
}

/// [`tokenize`] with explicit limits.
pub fn tokenize_with_limits<F>(
    input: &str,
    env: &F,
    limits: &Limits,
) -> Result<Vec<CommandLine>, LexError>
where
    F: Fn(&str) -> Option<String>,
{
    if input.len() > limits.max_input_len {
        return Err(LexError::TooLong {
            what: LimitKind::Input,
            max: limits.max_input_len,
        });
    }
    let mut lexer = Lexer {
        chars: input.chars().collect(),
        i: 0,
        line: 1,
        column: 1,
        env,
        limits,
        output_len: 0,
    };
    lexer.run()
}

/// The words one word-shaped stretch of input produced, and whether it could be the
/// descriptor number of an `N>` redirection.
struct Word {
    /// Field splitting of unquoted expansions can turn one stretch into several words, or
    /// into none (an unset variable).
    fields: Vec<String>,
    /// Every character came from unquoted literal digits (and there was at least one).
    only_digits: bool,
    /// Where the stretch began.
    start: Pos,
}

struct Lexer<'a, F> {
    /// Indexed by character so positions are columns; out-of-range reads are `None`.
    chars: Vec<char>,
    i: usize,
    line: usize,
    column: usize,
    env: &'a F,
    limits: &'a Limits,
    output_len: usize,
}

/// Characters that end an unquoted word.
fn is_break(c: char) -> bool {
    is_blank(c) || matches!(c, '\n' | ';' | '<' | '>')
}

fn is_blank(c: char) -> bool {
    c.is_whitespace() && c != '\n'
}

/// Perl's `\w` in ASCII: what cyradm takes as a variable name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<F> Lexer<'_, F>
where
    F: Fn(&str) -> Option<String>,
{
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i = self.i.saturating_add(1);
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    fn run(&mut self) -> Result<Vec<CommandLine>, LexError> {
        let mut out = Vec::new();
        let mut cur = CommandLine::default();
        loop {
            self.skip_blanks();
            match self.peek() {
                None => {
                    self.finish(&mut out, &mut cur)?;
                    return Ok(out);
                }
                Some('\n' | ';') => {
                    self.bump();
                    self.finish(&mut out, &mut cur)?;
                }
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                Some('<' | '>') => self.redirect(None, &mut cur)?,
                Some(_) => {
                    let word = self.word()?;
                    if word.only_digits && matches!(self.peek(), Some('<' | '>')) {
                        let digits = word.fields.concat();
                        let fd = digits.parse::<u32>().map_err(|_| LexError::BadFd {
                            fd: digits.clone(),
                            at: word.start,
                        })?;
                        self.redirect(Some(fd), &mut cur)?;
                    } else {
                        for field in word.fields {
                            self.push_word(&mut cur, field)?;
                        }
                    }
                }
            }
        }
    }

    fn finish(
        &mut self,
        out: &mut Vec<CommandLine>,
        cur: &mut CommandLine,
    ) -> Result<(), LexError> {
        if cur.words.is_empty() && cur.redirects.is_empty() {
            return Ok(());
        }
        if out.len() >= self.limits.max_commands {
            return Err(LexError::TooLong {
                what: LimitKind::Commands,
                max: self.limits.max_commands,
            });
        }
        out.push(std::mem::take(cur));
        Ok(())
    }

    fn push_word(&mut self, cur: &mut CommandLine, word: String) -> Result<(), LexError> {
        self.count_item(cur)?;
        cur.words.push(word);
        Ok(())
    }

    /// Counts one more word or redirection against the per-command limit.
    fn count_item(&self, cur: &CommandLine) -> Result<(), LexError> {
        if cur.words.len().saturating_add(cur.redirects.len()) >= self.limits.max_words {
            return Err(LexError::TooLong {
                what: LimitKind::Words,
                max: self.limits.max_words,
            });
        }
        Ok(())
    }

    /// Parses a redirection operator at the cursor (`<`, `>`, `>>`, each optionally followed
    /// by `&`) and its target.
    fn redirect(&mut self, fd: Option<u32>, cur: &mut CommandLine) -> Result<(), LexError> {
        let at = self.pos();
        let output = self.bump() == Some('>');
        let mut append = false;
        if output && self.peek() == Some('>') {
            self.bump();
            append = true;
        }
        let fd = fd.unwrap_or(if output { 1 } else { 0 });
        let dup = self.peek() == Some('&');
        if dup {
            self.bump();
        }
        self.skip_blanks();
        let target = match self.peek() {
            None | Some('\n' | ';' | '<' | '>') => {
                return Err(LexError::MissingRedirectTarget { at })
            }
            Some(_) => self.word()?,
        };
        let mut fields = target.fields;
        let path = match fields.len() {
            0 => return Err(LexError::MissingRedirectTarget { at }),
            1 => fields.pop().unwrap_or_default(),
            count => return Err(LexError::AmbiguousRedirect { at, count }),
        };
        let redirect = if dup {
            if path == "-" {
                Redirect::Close { fd }
            } else if !path.is_empty() && path.bytes().all(|b| b.is_ascii_digit()) {
                let source = path.parse::<u32>().map_err(|_| LexError::BadFd {
                    fd: path.clone(),
                    at,
                })?;
                Redirect::Dup { fd, source }
            } else {
                return Err(LexError::BadDupTarget { target: path, at });
            }
        } else if output {
            Redirect::Write { fd, path, append }
        } else {
            Redirect::Read { fd, path }
        };
        self.count_item(cur)?;
        cur.redirects.push(redirect);
        Ok(())
    }

    /// Reads one word-shaped stretch: up to an unquoted blank, line end, `;`, `<` or `>`.
    fn word(&mut self) -> Result<Word, LexError> {
        let start = self.pos();
        let mut b = WordBuilder::default();
        while let Some(c) = self.peek() {
            if is_break(c) {
                break;
            }
            match c {
                '\\' => {
                    let at = self.pos();
                    self.bump();
                    match self.bump() {
                        None => return Err(LexError::TrailingBackslash { at }),
                        // A backslash before a line end continues the line.
                        Some('\n') => {}
                        Some(e) => self.push_char(&mut b, e, false)?,
                    }
                }
                '\'' => {
                    let at = self.pos();
                    self.bump();
                    b.quoted();
                    loop {
                        match self.bump() {
                            None => return Err(LexError::UnbalancedQuote { quote: '\'', at }),
                            Some('\'') => break,
                            Some(q) => self.push_char(&mut b, q, false)?,
                        }
                    }
                }
                '"' => {
                    let at = self.pos();
                    self.bump();
                    b.quoted();
                    loop {
                        match self.peek() {
                            None => return Err(LexError::UnbalancedQuote { quote: '"', at }),
                            Some('"') => {
                                self.bump();
                                break;
                            }
                            Some('\\') => {
                                self.bump();
                                match self.bump() {
                                    None => {
                                        return Err(LexError::UnbalancedQuote { quote: '"', at })
                                    }
                                    Some(e) => self.push_char(&mut b, e, false)?,
                                }
                            }
                            Some('$') => self.variable(&mut b, true)?,
                            Some(q) => {
                                self.bump();
                                self.push_char(&mut b, q, false)?;
                            }
                        }
                    }
                }
                '$' => self.variable(&mut b, false)?,
                _ => {
                    self.bump();
                    self.push_char(&mut b, c, c.is_ascii_digit())?;
                }
            }
        }
        Ok(b.finish(start))
    }

    fn push_char(&mut self, b: &mut WordBuilder, c: char, digit: bool) -> Result<(), LexError> {
        self.grow(&b.current, c.len_utf8())?;
        b.push(c, digit);
        Ok(())
    }

    /// Checks that adding `extra` bytes to `current` stays within the word and output limits.
    fn grow(&mut self, current: &str, extra: usize) -> Result<(), LexError> {
        if current.len().saturating_add(extra) > self.limits.max_word_len {
            return Err(LexError::TooLong {
                what: LimitKind::Word,
                max: self.limits.max_word_len,
            });
        }
        self.output_len = self.output_len.saturating_add(extra);
        if self.output_len > self.limits.max_output_len {
            return Err(LexError::TooLong {
                what: LimitKind::Output,
                max: self.limits.max_output_len,
            });
        }
        Ok(())
    }

    /// Expands `$NAME` or `${NAME}` at the cursor; a `$` not followed by a name is literal.
    fn variable(&mut self, b: &mut WordBuilder, quoted: bool) -> Result<(), LexError> {
        let at = self.pos();
        self.bump();
        let mut name = String::new();
        if self.peek() == Some('{') {
            self.bump();
            while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                self.bump();
                name.push(c);
            }
            if name.is_empty() || self.bump() != Some('}') {
                return Err(LexError::BadVariable { at });
            }
        } else {
            while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                self.bump();
                name.push(c);
            }
            if name.is_empty() {
                return self.push_char(b, '$', false);
            }
        }
        let value = (self.env)(&name).unwrap_or_default();
        if quoted {
            b.quoted();
            self.grow(&b.current, value.len())?;
            b.current.push_str(&value);
            b.only_digits = false;
            return Ok(());
        }
        // Unquoted: split at whitespace (POSIX field splitting), but do not re-read quotes.
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_whitespace() {
                b.end_field();
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            } else {
                self.push_char(b, c, false)?;
            }
        }
        Ok(())
    }
}

/// Accumulates the fields of one word.
struct WordBuilder {
    fields: Vec<String>,
    current: String,
    /// The current field exists even if empty (it had quotes, `''`).
    started: bool,
    /// Cleared by anything but an unquoted literal digit.
    only_digits: bool,
    /// Some character was added, so `only_digits` means something.
    any: bool,
}

impl Default for WordBuilder {
    fn default() -> Self {
        WordBuilder {
            fields: Vec::new(),
            current: String::new(),
            started: false,
            only_digits: true,
            any: false,
        }
    }
}

impl WordBuilder {
    fn push(&mut self, c: char, digit: bool) {
        self.only_digits &= digit;
        self.any = true;
        self.started = true;
        self.current.push(c);
    }

    fn quoted(&mut self) {
        self.started = true;
        self.only_digits = false;
    }

    fn end_field(&mut self) {
        self.only_digits = false;
        if self.started {
            self.fields.push(std::mem::take(&mut self.current));
            self.started = false;
        }
    }

    fn finish(mut self, start: Pos) -> Word {
        if self.started {
            self.fields.push(std::mem::take(&mut self.current));
        }
        Word {
            only_digits: self.only_digits && self.any,
            fields: self.fields,
            start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "USER" => Some("cyrus".into()),
            "SP" => Some("  a b  ".into()),
            "EMPTY" => Some(String::new()),
            "Q" => Some("'x;y'".into()),
            "D" => Some("2".into()),
            _ => None,
        }
    }

    fn lex(s: &str) -> Result<Vec<CommandLine>, LexError> {
        tokenize(s, &env)
    }

    fn words(s: &str) -> Vec<Vec<String>> {
        lex(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .into_iter()
            .map(|c| c.words)
            .collect()
    }

    fn w(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|c| c.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    #[test]
    fn words_known_answers() {
        let table: &[(&str, &[&[&str]])] = &[
            ("", &[]),
            ("   \t ", &[]),
            ("lm", &[&["lm"]]),
            ("  cm   user.bob  ", &[&["cm", "user.bob"]]),
            ("cm 'user.bob smith'", &[&["cm", "user.bob smith"]]),
            ("cm \"user.bob smith\"", &[&["cm", "user.bob smith"]]),
            ("cm a'b c'd", &[&["cm", "ab cd"]]),
            ("cm ''", &[&["cm", ""]]),
            ("cm \"\"", &[&["cm", ""]]),
            ("cm a\\ b", &[&["cm", "a b"]]),
            ("cm \\'x", &[&["cm", "'x"]]),
            ("cm \\;x", &[&["cm", ";x"]]),
            ("cm '\\n$USER'", &[&["cm", "\\n$USER"]]),
            ("cm \"a\\\"b\"", &[&["cm", "a\"b"]]),
            ("cm \"it's\"", &[&["cm", "it's"]]),
            ("cm 'say \"hi\"'", &[&["cm", "say \"hi\""]]),
            ("cm user.$USER", &[&["cm", "user.cyrus"]]),
            ("cm user.${USER}x", &[&["cm", "user.cyrusx"]]),
            ("cm user.$USERx", &[&["cm", "user."]]),
            ("cm \"$USER\"", &[&["cm", "cyrus"]]),
            ("cm $NOPE", &[&["cm"]]),
            ("cm \"$NOPE\"", &[&["cm", ""]]),
            ("cm x$SP", &[&["cm", "x", "a", "b"]]),
            ("cm \"$SP\"", &[&["cm", "  a b  "]]),
            ("cm $EMPTY y", &[&["cm", "y"]]),
            ("cm $Q", &[&["cm", "'x;y'"]]),
            ("cm a$ $ b$", &[&["cm", "a$", "$", "b$"]]),
            ("cm $-", &[&["cm", "$-"]]),
            ("lm; lm", &[&["lm"], &["lm"]]),
            ("lm;;  ;lm;", &[&["lm"], &["lm"]]),
            ("lm\nlq user.x\n\n", &[&["lm"], &["lq", "user.x"]]),
            ("lm \\\n user.*", &[&["lm", "user.*"]]),
            ("lm\r\nlq x\r\n", &[&["lm"], &["lq", "x"]]),
            ("cm 'a\nb'", &[&["cm", "a\nb"]]),
            ("# comment\nlm", &[&["lm"]]),
            ("lm # trailing comment", &[&["lm"]]),
            ("cm a#b", &[&["cm", "a#b"]]),
            ("cm user.bob.&AOQ-", &[&["cm", "user.bob.&AOQ-"]]),
            (
                "sam user.% anyone +p",
                &[&["sam", "user.%", "anyone", "+p"]],
            ),
            ("cm a|b", &[&["cm", "a|b"]]),
            ("cm 2", &[&["cm", "2"]]),
            ("cm 2 >f", &[&["cm", "2"]]),
            ("cm a2>f", &[&["cm", "a2"]]),
            ("cm '2'>f", &[&["cm", "2"]]),
            ("cm $D>f", &[&["cm", "2"]]),
            ("cm \u{e9}t\u{e9}", &[&["cm", "\u{e9}t\u{e9}"]]),
        ];
        for (input, want) in table {
            assert_eq!(words(input), w(want), "input {input:?}");
        }
    }

    fn redirs(s: &str) -> (Vec<String>, Vec<Redirect>) {
        let mut cmds = lex(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert_eq!(cmds.len(), 1, "{s:?}");
        let c = cmds.remove(0);
        (c.words, c.redirects)
    }

    fn wr(fd: u32, path: &str, append: bool) -> Redirect {
        Redirect::Write {
            fd,
            path: path.into(),
            append,
        }
    }

    #[test]
    fn redirection_known_answers() {
        let rd = |fd, path: &str| Redirect::Read {
            fd,
            path: path.into(),
        };
        let table: Vec<(&str, &[&str], Vec<Redirect>)> = vec![
            ("lm >out", &["lm"], vec![wr(1, "out", false)]),
            ("lm > out", &["lm"], vec![wr(1, "out", false)]),
            ("lm>out", &["lm"], vec![wr(1, "out", false)]),
            ("lm >>out", &["lm"], vec![wr(1, "out", true)]),
            ("lm >> 'my file'", &["lm"], vec![wr(1, "my file", true)]),
            ("lm 2>err", &["lm"], vec![wr(2, "err", false)]),
            ("lm 2>>err", &["lm"], vec![wr(2, "err", true)]),
            ("lm 10>x", &["lm"], vec![wr(10, "x", false)]),
            ("lm <in", &["lm"], vec![rd(0, "in")]),
            ("lm 3<in", &["lm"], vec![rd(3, "in")]),
            ("lm >&2", &["lm"], vec![Redirect::Dup { fd: 1, source: 2 }]),
            ("lm >& 2", &["lm"], vec![Redirect::Dup { fd: 1, source: 2 }]),
            ("lm 2>&1", &["lm"], vec![Redirect::Dup { fd: 2, source: 1 }]),
            ("lm <&3", &["lm"], vec![Redirect::Dup { fd: 0, source: 3 }]),
            ("lm 2>&-", &["lm"], vec![Redirect::Close { fd: 2 }]),
            ("lm >&-", &["lm"], vec![Redirect::Close { fd: 1 }]),
            ("lm >>&2", &["lm"], vec![Redirect::Dup { fd: 1, source: 2 }]),
            (">out lm x", &["lm", "x"], vec![wr(1, "out", false)]),
            (
                "lm >out 2>&1 pattern",
                &["lm", "pattern"],
                vec![wr(1, "out", false), Redirect::Dup { fd: 2, source: 1 }],
            ),
            (
                "lm >a>b",
                &["lm"],
                vec![wr(1, "a", false), wr(1, "b", false)],
            ),
            ("lm >$USER.txt", &["lm"], vec![wr(1, "cyrus.txt", false)]),
            ("lm >\"$SP\"", &["lm"], vec![wr(1, "  a b  ", false)]),
            ("lm >&$D", &["lm"], vec![Redirect::Dup { fd: 1, source: 2 }]),
            ("lm >a&b", &["lm"], vec![wr(1, "a&b", false)]),
            ("lm >'&2'", &["lm"], vec![wr(1, "&2", false)]),
        ];
        for (input, want_words, want_redirs) in table {
            let (got_words, got_redirs) = redirs(input);
            assert_eq!(got_words, want_words, "input {input:?}");
            assert_eq!(got_redirs, want_redirs, "input {input:?}");
        }
    }

    #[test]
    fn redirections_belong_to_their_own_command() {
        let cmds = lex("lm >a; lq x 2>b").unwrap();
        assert_eq!(cmds[0].redirects, [wr(1, "a", false)]);
        assert_eq!(cmds[1].words, ["lq", "x"]);
        assert_eq!(cmds[1].redirects, [wr(2, "b", false)]);
    }

    #[test]
    fn errors_carry_positions() {
        let p = |line, column| Pos { line, column };
        let table: Vec<(&str, LexError)> = vec![
            (
                "cm 'abc",
                LexError::UnbalancedQuote {
                    quote: '\'',
                    at: p(1, 4),
                },
            ),
            (
                "cm x\"abc",
                LexError::UnbalancedQuote {
                    quote: '"',
                    at: p(1, 5),
                },
            ),
            (
                "cm \"a\\",
                LexError::UnbalancedQuote {
                    quote: '"',
                    at: p(1, 4),
                },
            ),
            (
                "lm\ncm  'x",
                LexError::UnbalancedQuote {
                    quote: '\'',
                    at: p(2, 5),
                },
            ),
            ("cm abc\\", LexError::TrailingBackslash { at: p(1, 7) }),
            ("cm ${", LexError::BadVariable { at: p(1, 4) }),
            ("cm ${}", LexError::BadVariable { at: p(1, 4) }),
            ("cm ${USER", LexError::BadVariable { at: p(1, 4) }),
            ("cm x${a b}", LexError::BadVariable { at: p(1, 5) }),
            ("cm \"${-}\"", LexError::BadVariable { at: p(1, 5) }),
            ("lm >", LexError::MissingRedirectTarget { at: p(1, 4) }),
            ("lm >   ", LexError::MissingRedirectTarget { at: p(1, 4) }),
            ("lm >>; lm", LexError::MissingRedirectTarget { at: p(1, 4) }),
            ("lm 2>\nlm", LexError::MissingRedirectTarget { at: p(1, 5) }),
            ("lm <>x", LexError::MissingRedirectTarget { at: p(1, 4) }),
            ("lm > >x", LexError::MissingRedirectTarget { at: p(1, 4) }),
            ("lm >&", LexError::MissingRedirectTarget { at: p(1, 4) }),
            ("lm >$NOPE", LexError::MissingRedirectTarget { at: p(1, 4) }),
            (
                "lm >$SP",
                LexError::AmbiguousRedirect {
                    at: p(1, 4),
                    count: 2,
                },
            ),
            (
                "lm >&x",
                LexError::BadDupTarget {
                    target: "x".into(),
                    at: p(1, 4),
                },
            ),
            (
                "lm 2>&1x",
                LexError::BadDupTarget {
                    target: "1x".into(),
                    at: p(1, 5),
                },
            ),
            (
                "lm 99999999999>x",
                LexError::BadFd {
                    fd: "99999999999".into(),
                    at: p(1, 4),
                },
            ),
            (
                "lm >&99999999999",
                LexError::BadFd {
                    fd: "99999999999".into(),
                    at: p(1, 4),
                },
            ),
        ];
        for (input, want) in table {
            assert_eq!(lex(input), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn error_messages_name_the_column() {
        assert_eq!(
            lex("cm 'abc").unwrap_err().to_string(),
            "unbalanced quote at column 4"
        );
        assert_eq!(
            lex("lm\nlm \"x").unwrap_err().to_string(),
            "unbalanced quote at line 2, column 4"
        );
        assert_eq!(
            lex("lm >").unwrap_err().to_string(),
            "redirection at column 4 has no target"
        );
    }

    #[test]
    fn incomplete_input_is_flagged_for_continuation() {
        assert!(lex("cm 'abc").unwrap_err().is_incomplete());
        assert!(lex("cm abc\\").unwrap_err().is_incomplete());
        assert!(!lex("cm ${").unwrap_err().is_incomplete());
        // The continuation completes it.
        assert_eq!(words("cm 'abc\ndef'"), w(&[&["cm", "abc\ndef"]]));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_input_len: 100,
            max_word_len: 5,
            max_words: 3,
            max_commands: 2,
            max_output_len: 20,
        };
        let t = |s: &str| tokenize_with_limits(s, &env, &limits);
        let too = |what, max| Err(LexError::TooLong { what, max });
        assert_eq!(t(&"x".repeat(101)), too(LimitKind::Input, 100));
        assert_eq!(t("abcdef"), too(LimitKind::Word, 5));
        assert_eq!(t("a${USER}x"), too(LimitKind::Word, 5));
        assert_eq!(t("a b c d"), too(LimitKind::Words, 3));
        assert_eq!(t("a b >c d"), too(LimitKind::Words, 3));
        assert_eq!(t("a;b;c"), too(LimitKind::Commands, 2));
        assert_eq!(
            t("$USER $USER $USER;$USER $USER"),
            too(LimitKind::Output, 20)
        );
        assert!(t("abcde b c").is_ok());
    }

    #[test]
    fn quote_known_answers() {
        assert_eq!(quote("user.bob"), "user.bob");
        assert_eq!(quote("user.%"), "user.%");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
        assert_eq!(quote("#x"), "'#x'");
        assert_eq!(quote("&2"), "'&2'");
    }

    #[test]
    fn display_reads_back() {
        let c = CommandLine {
            words: vec!["cm".into(), "a b".into(), "2".into()],
            redirects: vec![
                wr(1, "out file", false),
                wr(2, "e", true),
                Redirect::Dup { fd: 2, source: 1 },
                Redirect::Close { fd: 0 },
                Redirect::Read {
                    fd: 0,
                    path: "in".into(),
                },
            ],
        };
        assert_eq!(c.to_string(), "cm 'a b' 2 >'out file' 2>>e 2>&1 0>&- <in");
        assert_eq!(lex(&c.to_string()).unwrap(), vec![c]);
    }

    fn arb_redirect() -> impl Strategy<Value = Redirect> {
        prop_oneof![
            (0u32..20, ".*", any::<bool>()).prop_map(|(fd, path, append)| Redirect::Write {
                fd,
                path,
                append
            }),
            (0u32..20, ".*").prop_map(|(fd, path)| Redirect::Read { fd, path }),
            (0u32..20, any::<u32>()).prop_map(|(fd, source)| Redirect::Dup { fd, source }),
            (any::<u32>()).prop_map(|fd| Redirect::Close { fd }),
        ]
    }

    proptest! {
        #[test]
        fn random_input_never_panics(s in "\\PC{0,200}") {
            let _ = lex(&s);
        }

        #[test]
        fn random_shell_like_input_never_panics(s in "[ a-z0-9'\"\\\\$;<>&{}#\n\t-]{0,80}") {
            let _ = lex(&s);
        }

        #[test]
        fn quoted_words_round_trip(ws in proptest::collection::vec(".*", 1..6)) {
            let line: Vec<String> = ws.iter().map(|w| quote(w)).collect();
            let got = lex(&line.join(" ")).unwrap();
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!(&got[0].words, &ws);
        }

        #[test]
        fn command_lines_round_trip(
            ws in proptest::collection::vec(".*", 1..5),
            rs in proptest::collection::vec(arb_redirect(), 0..4),
        ) {
            let c = CommandLine { words: ws, redirects: rs };
            let got = lex(&c.to_string()).unwrap();
            prop_assert_eq!(got, vec![c]);
        }
    }
}
