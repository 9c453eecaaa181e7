//! Client → server: MUPDATE commands, the SASL response lines a client sends during
//! AUTHENTICATE, and the Cyrus client's exact encoding of each request (reference §1.5, §1.9).
//!
//! [`Command::parse`] reproduces Cyrus's `docmd()` argument checks, so each malformed line gets
//! the `BAD` text Cyrus would send ([`BadCommand`]). It knows nothing of the session: the server
//! applies the state checks itself, helped by [`Command::requires_login`],
//! [`CommandError::requires_login`] and [`Verb`] (see [`CommandError`] for the order).
//!
//! ```
//! use protocol::mupdate::{BadCommand, Command, CommandBody, StringForm, Tag};
//!
//! let cmd = Command::parse(b"a FIND \"user.nobody\"\r\n").unwrap();
//! assert_eq!(cmd.body, CommandBody::Find { mailbox: "user.nobody".into() });
//!
//! let err = Command::parse(b"b FIND user.bob\r\n").unwrap_err();
//! assert_eq!(err.kind, BadCommand::ExtraArguments);
//! assert_eq!(err.to_response().to_bytes(StringForm::Literal), b"b BAD \"Extra arguments\"\r\n");
//!
//! // What a Cyrus backend sends to create a mailbox.
//! let reserve = Command::new(Tag::request(0), CommandBody::Reserve {
//!     mailbox: "user.bob".into(),
//!     location: "be1.example.org!default".into(),
//! });
//! assert_eq!(
//!     reserve.to_bytes(StringForm::Literal),
//!     b"X0 RESERVE {8+}\r\nuser.bob {23+}\r\nbe1.example.org!default\r\n"
//! );
//! ```

use std::fmt;

use super::response::{texts, Response, Text};
use super::syntax::{self, getstring, getword, line_ends, Cursor, TooLong};
use super::{Limits, StringForm, Tag};
use crate::imap::framing::{Frame, FrameError, Framer, Role};

/// Most hosts one PARTIAL-UPDATE may name; a 31st gets `BAD "Extra arguments"`.
pub const MAX_UPDATE_HOSTS: usize = 30;

/// A command word MUPDATE knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `AUTHENTICATE`
    Authenticate,
    /// `STARTTLS`
    Starttls,
    /// `COMPRESS` (a Cyrus extension)
    Compress,
    /// `LOGOUT`
    Logout,
    /// `NOOP`
    Noop,
    /// `RESERVE` (master only)
    Reserve,
    /// `ACTIVATE` (master only)
    Activate,
    /// `DEACTIVATE` (master only)
    Deactivate,
    /// `DELETE` (master only)
    Delete,
    /// `FIND`
    Find,
    /// `LIST`
    List,
    /// `UPDATE`
    Update,
}

impl Verb {
    const ALL: [Verb; 12] = [
        Verb::Authenticate,
        Verb::Starttls,
        Verb::Compress,
        Verb::Logout,
        Verb::Noop,
        Verb::Reserve,
        Verb::Activate,
        Verb::Deactivate,
        Verb::Delete,
        Verb::Find,
        Verb::List,
        Verb::Update,
    ];

    /// The command word as our clients send it (upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Authenticate => "AUTHENTICATE",
            Verb::Starttls => "STARTTLS",
            Verb::Compress => "COMPRESS",
            Verb::Logout => "LOGOUT",
            Verb::Noop => "NOOP",
            Verb::Reserve => "RESERVE",
            Verb::Activate => "ACTIVATE",
            Verb::Deactivate => "DEACTIVATE",
            Verb::Delete => "DELETE",
            Verb::Find => "FIND",
            Verb::List => "LIST",
            Verb::Update => "UPDATE",
        }
    }

    /// The verb a command word names, compared case-insensitively as Cyrus does.
    pub fn from_word(word: &[u8]) -> Option<Verb> {
        Verb::ALL
            .into_iter()
            .find(|v| v.as_str().as_bytes().eq_ignore_ascii_case(word))
    }

    /// Whether a session must be authenticated first: everything but AUTHENTICATE, LOGOUT,
    /// STARTTLS and COMPRESS (reference §1.4).
    pub fn requires_login(self) -> bool {
        !matches!(
            self,
            Verb::Authenticate | Verb::Logout | Verb::Starttls | Verb::Compress
        )
    }

    /// Whether only a master accepts it (a slave answers `BAD "read-only session"`).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Verb::Reserve | Verb::Activate | Verb::Deactivate | Verb::Delete
        )
    }

    /// Whether it is refused on a streaming connection (`BAD "not legal when streaming"`).
    pub fn refused_while_streaming(self) -> bool {
        self.is_write() || matches!(self, Verb::Find | Verb::List | Verb::Update)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CommandBody {
    /// `AUTHENTICATE <mech> [<initial-response>]`.
    Authenticate {
        /// SASL mechanism name, e.g. `PLAIN`.
        mech: String,
        /// The base64 text of the initial response. `Some("")` is the empty response, which the
        /// wire spells `=` (accepted bare, quoted or as a literal).
        initial: Option<String>,
    },
    /// `STARTTLS`.
    Starttls,
    /// `COMPRESS <alg>`.
    Compress {
        /// The algorithm, `DEFLATE` in practice.
        alg: String,
    },
    /// `LOGOUT`.
    Logout,
    /// `NOOP`.
    Noop,
    /// `RESERVE <mailbox> <location>`.
    Reserve {
        /// Internal mailbox name.
        mailbox: String,
        /// `server!partition` (or a partition alone in replicated mode).
        location: String,
    },
    /// `ACTIVATE <mailbox> <location> <acl>`.
    Activate {
        /// Internal mailbox name.
        mailbox: String,
        /// `server!partition`.
        location: String,
        /// Cyrus's TAB-separated ACL string.
        acl: String,
    },
    /// `DEACTIVATE <mailbox> <location>`.
    Deactivate {
        /// Internal mailbox name.
        mailbox: String,
        /// The location the entry is reserved at afterwards.
        location: String,
    },
    /// `DELETE <mailbox>`.
    Delete {
        /// Internal mailbox name.
        mailbox: String,
    },
    /// `FIND <mailbox>`.
    Find {
        /// Internal mailbox name.
        mailbox: String,
    },
    /// `LIST [<location-prefix>]`.
    List {
        /// A plain byte prefix of the locations wanted.
        prefix: Option<String>,
    },
    /// `UPDATE [<host> ...]`: with hosts, the PARTIAL-UPDATE form. At most
    /// [`MAX_UPDATE_HOSTS`], none empty; an encoder sends what it is given.
    Update {
        /// Servers whose entries are wanted; empty for everything.
        hosts: Vec<String>,
    },
}

impl CommandBody {
    /// The command word.
    pub fn verb(&self) -> Verb {
        match self {
            CommandBody::Authenticate { .. } => Verb::Authenticate,
            CommandBody::Starttls => Verb::Starttls,
            CommandBody::Compress { .. } => Verb::Compress,
            CommandBody::Logout => Verb::Logout,
            CommandBody::Noop => Verb::Noop,
            CommandBody::Reserve { .. } => Verb::Reserve,
            CommandBody::Activate { .. } => Verb::Activate,
            CommandBody::Deactivate { .. } => Verb::Deactivate,
            CommandBody::Delete { .. } => Verb::Delete,
            CommandBody::Find { .. } => Verb::Find,
            CommandBody::List { .. } => Verb::List,
            CommandBody::Update { .. } => Verb::Update,
        }
    }
}

/// One command: its tag and what it asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// Echoed on every response to this command.
    pub tag: Tag,
    /// The command word and its arguments.
    pub body: CommandBody,
}

/// The `BAD` a malformed command gets. `Display` is Cyrus's exact text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadCommand {
    /// No tag followed by a space (answered untagged).
    #[error("Need command")]
    NeedCommand,
    /// Nothing where the command word should be.
    #[error("Null command")]
    NullCommand,
    /// A command word MUPDATE does not know.
    #[error("Unrecognized command")]
    Unrecognized,
    /// An argument is missing, or one that is not followed by the next was malformed.
    #[error("Missing arguments")]
    MissingArguments,
    /// Junk after the last argument, a bare atom where the last string was due, or a 31st
    /// UPDATE host.
    #[error("Extra arguments")]
    ExtraArguments,
    /// An empty UPDATE host, or an argument that is not UTF-8 (our addition).
    #[error("Badly formed arguments")]
    BadlyFormed,
    /// A line, string or literal broke a size limit. Cyrus kills its whole process here; a
    /// server should answer `BAD` and drop this one connection.
    #[error("[TOOBIG] {detail}")]
    TooBig {
        /// What was too big.
        detail: String,
    },
}

/// A command that cannot be run, with what a server should answer.
///
/// Cyrus checks, in this order: tag and command word (`Need command`, `Null command`); then,
/// before login, whether the word needs a login (`Please login first`, which wins over every
/// argument error; [`CommandError::requires_login`]); then the arguments (this error's text);
/// then streaming and master-only rules (which need a parsed [`Command`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct CommandError {
    /// The command's tag, when the line had one followed by a space.
    pub tag: Option<Tag>,
    /// The command word, when it was recognised.
    pub verb: Option<Verb>,
    /// What is wrong; its `Display` is the text of the `BAD`.
    pub kind: BadCommand,
    /// Before login Cyrus answers `Please login first` instead (see `requires_login`).
    login_first: bool,
}

impl CommandError {
    fn new(tag: Option<Tag>, verb: Option<Verb>, kind: BadCommand, login_first: bool) -> Self {
        CommandError {
            tag,
            verb,
            kind,
            login_first,
        }
    }

    /// Builds the error for a message the framer refused (line or literal too large).
    pub fn from_frame(err: &FrameError) -> Self {
        let mut cur = Cursor::new(&err.head);
        let (word, ch) = getword(&mut cur);
        let tag = match ch {
            Some(b' ') => std::str::from_utf8(word)
                .ok()
                .and_then(|t| Tag::new(t).ok()),
            _ => None,
        };
        let kind = BadCommand::TooBig {
            detail: err.kind.to_string(),
        };
        CommandError::new(tag, None, kind, false)
    }

    /// Whether a not-yet-authenticated session answers `BAD "Please login first"` instead.
    ///
    /// Cyrus decides this from the command word alone, before the arguments, and by the word's
    /// first letter: unknown words starting with A, D, F, L, N, R or U need a login (so `FROB`
    /// gets "Please login first", as the real transcript shows), others are "Unrecognized".
    pub fn requires_login(&self) -> bool {
        self.login_first
    }

    /// Whether the connection should be dropped after the answer (a size limit was broken).
    pub fn is_fatal(&self) -> bool {
        matches!(self.kind, BadCommand::TooBig { .. })
    }

    /// The answer: `tag BAD "<text>"`, or `* BAD "<text>"` without a tag.
    pub fn to_response(&self) -> Response {
        let text = Text::quoted(self.kind.to_string());
        match &self.tag {
            Some(tag) => Response::Status {
                tag: tag.clone(),
                status: super::Status::Bad,
                text,
            },
            None => Response::UntaggedBad(text),
        }
    }
}

/// Cyrus's dispatch on the capitalised word's first letter, before it looks at the arguments:
/// does this word hit the "must be logged in" check?
fn word_requires_login(word: &[u8]) -> bool {
    if let Some(v) = Verb::from_word(word) {
        return v.requires_login();
    }
    matches!(
        word.first().map(u8::to_ascii_uppercase),
        Some(b'A' | b'D' | b'F' | b'L' | b'N' | b'R' | b'U')
    )
}

/// Parser state for one command: the cursor and what an error needs to say.
struct Parse<'a> {
    cur: Cursor<'a>,
    tag: Tag,
    verb: Verb,
    max: usize,
}

impl Parse<'_> {
    fn err(&self, kind: BadCommand) -> CommandError {
        CommandError::new(
            Some(self.tag.clone()),
            Some(self.verb),
            kind,
            self.verb.requires_login(),
        )
    }

    fn string(&mut self) -> Result<(Vec<u8>, Option<u8>), CommandError> {
        getstring(&mut self.cur, self.max).map_err(|TooLong| {
            self.err(BadCommand::TooBig {
                detail: format!("string longer than {} octets", self.max),
            })
        })
    }

    /// A string that must be followed by a space (another argument comes).
    fn string_then_space(&mut self) -> Result<Vec<u8>, CommandError> {
        let (v, ch) = self.string()?;
        if ch != Some(b' ') {
            return Err(self.err(BadCommand::MissingArguments));
        }
        Ok(v)
    }

    /// The last string, then the end of the line.
    fn last_string(&mut self) -> Result<Vec<u8>, CommandError> {
        let (v, ch) = self.string()?;
        self.end(ch)?;
        Ok(v)
    }

    fn end(&mut self, ch: Option<u8>) -> Result<(), CommandError> {
        if line_ends(&mut self.cur, ch) {
            Ok(())
        } else {
            Err(self.err(BadCommand::ExtraArguments))
        }
    }

    fn text(&self, v: Vec<u8>) -> Result<String, CommandError> {
        String::from_utf8(v).map_err(|_| self.err(BadCommand::BadlyFormed))
    }
}

impl Command {
    /// A command.
    pub fn new(tag: Tag, body: CommandBody) -> Self {
        Command { tag, body }
    }

    /// Parses one framed message with the default [`Limits`].
    pub fn parse(msg: &[u8]) -> Result<Command, CommandError> {
        Command::parse_with(msg, &Limits::default())
    }

    /// Parses one framed message (a command line with its literals) as a Cyrus server does.
    pub fn parse_with(msg: &[u8], limits: &Limits) -> Result<Command, CommandError> {
        let mut cur = Cursor::new(msg);
        let (tag, ch) = getword(&mut cur);
        if ch != Some(b' ') {
            return Err(CommandError::new(
                None,
                None,
                BadCommand::NeedCommand,
                false,
            ));
        }
        let tag = std::str::from_utf8(tag)
            .ok()
            .and_then(|t| Tag::new(t).ok())
            .ok_or_else(|| CommandError::new(None, None, BadCommand::NeedCommand, false))?;
        let (word, ch) = getword(&mut cur);
        if word.is_empty() {
            return Err(CommandError::new(
                Some(tag),
                None,
                BadCommand::NullCommand,
                false,
            ));
        }
        let Some(verb) = Verb::from_word(word) else {
            let login = word_requires_login(word);
            return Err(CommandError::new(
                Some(tag),
                None,
                BadCommand::Unrecognized,
                login,
            ));
        };
        let mut p = Parse {
            cur,
            tag,
            verb,
            max: limits.max_string,
        };
        let body = parse_args(&mut p, ch)?;
        Ok(Command { tag: p.tag, body })
    }

    /// Whether a session must be authenticated to run it.
    pub fn requires_login(&self) -> bool {
        self.body.verb().requires_login()
    }

    /// Writes the command as a Cyrus client does (reference §1.9): the SASL mechanism and the
    /// COMPRESS algorithm always quoted, every other argument in `form` (`{n+}` literals for
    /// Cyrus), CRLF at the end.
    pub fn encode(&self, out: &mut Vec<u8>, form: StringForm) {
        out.extend_from_slice(self.tag.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.body.verb().as_str().as_bytes());
        let arg = |out: &mut Vec<u8>, s: &str, form| {
            out.push(b' ');
            syntax::write_string(out, s.as_bytes(), form);
        };
        match &self.body {
            CommandBody::Authenticate { mech, initial } => {
                arg(out, mech, StringForm::Quoted);
                if let Some(ir) = initial {
                    // The empty response is spelled `=`; a Cyrus client sends it bare, which a
                    // Cyrus server refuses, so we send it as a string.
                    let ir = if ir.is_empty() { "=" } else { ir };
                    arg(out, ir, form);
                }
            }
            CommandBody::Compress { alg } => arg(out, alg, StringForm::Quoted),
            CommandBody::Starttls | CommandBody::Logout | CommandBody::Noop => {}
            CommandBody::Reserve { mailbox, location }
            | CommandBody::Deactivate { mailbox, location } => {
                arg(out, mailbox, form);
                arg(out, location, form);
            }
            CommandBody::Activate {
                mailbox,
                location,
                acl,
            } => {
                arg(out, mailbox, form);
                arg(out, location, form);
                arg(out, acl, form);
            }
            CommandBody::Delete { mailbox } | CommandBody::Find { mailbox } => {
                arg(out, mailbox, form)
            }
            CommandBody::List { prefix } => {
                if let Some(p) = prefix {
                    arg(out, p, form);
                }
            }
            CommandBody::Update { hosts } => {
                for h in hosts {
                    arg(out, h, form);
                }
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// [`Command::encode`] into a new buffer.
    pub fn to_bytes(&self, form: StringForm) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out, form);
        out
    }
}

/// The arguments of `p.verb`, following Cyrus's `docmd()` step by step: `ch` is the byte that
/// ended the command word.
fn parse_args(p: &mut Parse<'_>, ch: Option<u8>) -> Result<CommandBody, CommandError> {
    let need_space = |p: &Parse<'_>| {
        if ch == Some(b' ') {
            Ok(())
        } else {
            Err(p.err(BadCommand::MissingArguments))
        }
    };
    Ok(match p.verb {
        Verb::Authenticate => {
            need_space(p)?;
            let (mech, mut ch) = p.string()?;
            let mut initial = None;
            if ch == Some(b' ') {
                let rest = p.cur.rest();
                if matches!(rest, b"=\r\n" | b"=\n" | b"=") {
                    // The bare `=` (empty initial response) Cyrus clients send and Cyrus
                    // servers refuse; the reference asks us to take it.
                    p.cur.skip(1);
                    initial = Some(Vec::from(&b"="[..]));
                    ch = p.cur.getc();
                } else {
                    let (ir, next) = p.string()?;
                    initial = Some(ir);
                    ch = next;
                }
            }
            p.end(ch)?;
            let initial = match initial {
                Some(ir) if ir == b"=" => Some(String::new()),
                Some(ir) => Some(p.text(ir)?),
                None => None,
            };
            CommandBody::Authenticate {
                mech: p.text(mech)?,
                initial,
            }
        }
        Verb::Starttls => {
            p.end(ch)?;
            CommandBody::Starttls
        }
        Verb::Compress => {
            need_space(p)?;
            let alg = p.last_string()?;
            CommandBody::Compress { alg: p.text(alg)? }
        }
        Verb::Logout => {
            p.end(ch)?;
            CommandBody::Logout
        }
        Verb::Noop => {
            p.end(ch)?;
            CommandBody::Noop
        }
        Verb::Reserve | Verb::Deactivate => {
            need_space(p)?;
            let mailbox = p.string_then_space()?;
            let location = p.last_string()?;
            let (mailbox, location) = (p.text(mailbox)?, p.text(location)?);
            if p.verb == Verb::Reserve {
                CommandBody::Reserve { mailbox, location }
            } else {
                CommandBody::Deactivate { mailbox, location }
            }
        }
        Verb::Activate => {
            need_space(p)?;
            let mailbox = p.string_then_space()?;
            let location = p.string_then_space()?;
            let acl = p.last_string()?;
            CommandBody::Activate {
                mailbox: p.text(mailbox)?,
                location: p.text(location)?,
                acl: p.text(acl)?,
            }
        }
        Verb::Delete | Verb::Find => {
            need_space(p)?;
            let mailbox = p.last_string()?;
            let mailbox = p.text(mailbox)?;
            if p.verb == Verb::Delete {
                CommandBody::Delete { mailbox }
            } else {
                CommandBody::Find { mailbox }
            }
        }
        Verb::List => {
            let mut ch = ch;
            let mut prefix = None;
            if ch == Some(b' ') {
                let (v, next) = p.string()?;
                prefix = Some(v);
                ch = next;
            }
            p.end(ch)?;
            CommandBody::List {
                prefix: prefix.map(|v| p.text(v)).transpose()?,
            }
        }
        Verb::Update => {
            let mut ch = ch;
            let mut hosts = Vec::new();
            while ch == Some(b' ') {
                let (v, next) = p.string()?;
                // Cyrus tests the C string: empty, or a (refused) literal starting with NUL.
                if matches!(v.first(), None | Some(0)) {
                    return Err(p.err(BadCommand::BadlyFormed));
                }
                if hosts.len() == MAX_UPDATE_HOSTS {
                    return Err(p.err(BadCommand::ExtraArguments));
                }
                hosts.push(v);
                ch = next;
            }
            p.end(ch)?;
            let hosts = hosts
                .into_iter()
                .map(|h| p.text(h))
                .collect::<Result<_, _>>()?;
            CommandBody::Update { hosts }
        }
    })
}

/// A line a client sends while AUTHENTICATE is in progress: bare base64, or `*` to cancel.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SaslResponse {
    /// The base64 text of the next response (possibly empty).
    Data(String),
    /// `*`: the client gives up; answer `tag NO Client canceled authentication`.
    Cancel,
}

/// Why a SASL response line was refused. The server answers
/// `tag NO Error reading client response: <Display>` (see [`Response::sasl_read_error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// The line holds something other than base64 text.
    #[error("response is not base64")]
    NotBase64,
    /// The line is longer than the string limit, or the framer refused it.
    #[error("response too long")]
    TooLong,
}

impl SaslResponse {
    /// Parses one framed line with the default [`Limits`].
    pub fn parse(msg: &[u8]) -> Result<SaslResponse, SaslError> {
        SaslResponse::parse_with(msg, &Limits::default())
    }

    /// Parses one framed line: CRLF or LF at its end, nothing else around the base64.
    pub fn parse_with(msg: &[u8], limits: &Limits) -> Result<SaslResponse, SaslError> {
        let line = syntax::single_line(msg).ok_or(SaslError::NotBase64)?;
        if line.len() > limits.max_string {
            return Err(SaslError::TooLong);
        }
        if line == b"*" {
            return Ok(SaslResponse::Cancel);
        }
        if !syntax::is_base64_text(line) {
            return Err(SaslError::NotBase64);
        }
        // Base64 text is ASCII, so this cannot fail; stay panic-free anyway.
        let s = std::str::from_utf8(line).map_err(|_| SaslError::NotBase64)?;
        Ok(SaslResponse::Data(s.to_owned()))
    }

    /// Writes the line with its CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SaslResponse::Data(s) => out.extend_from_slice(s.as_bytes()),
            SaslResponse::Cancel => out.push(b'*'),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// What a server's [`CommandReader`] found in its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A whole command.
    Command(Command),
    /// The client announced a synchronising `{n}` literal and waits: send [`super::CONTINUATION`].
    Continue {
        /// The announced length.
        len: u64,
    },
    /// A command that cannot be run; answer with [`CommandError::to_response`] (or
    /// `Please login first`) and, if [`CommandError::is_fatal`], close.
    Bad(CommandError),
}

/// The server side of one connection's input: frames the byte stream (role server) and parses
/// each message as a command, or as a SASL line while AUTHENTICATE is running.
#[derive(Debug, Clone)]
pub struct CommandReader {
    framer: Framer,
    limits: Limits,
}

impl CommandReader {
    /// A reader with these limits.
    pub fn new(limits: Limits) -> Self {
        CommandReader {
            framer: Framer::new(Role::Server, limits.framing),
            limits,
        }
    }

    /// Adds received bytes.
    pub fn enqueue(&mut self, bytes: &[u8]) {
        self.framer.enqueue(bytes);
    }

    /// The next command, continuation request or error; `None` when more input is needed.
    #[allow(clippy::should_implement_trait)] // `None` means "feed me", not "done"
    pub fn next(&mut self) -> Option<Inbound> {
        Some(match self.framer.next()? {
            Frame::Message(m) => match Command::parse_with(&m, &self.limits) {
                Ok(c) => Inbound::Command(c),
                Err(e) => Inbound::Bad(e),
            },
            Frame::NeedContinuation { len } => Inbound::Continue { len },
            Frame::Error(e) => Inbound::Bad(CommandError::from_frame(&e)),
        })
    }

    /// The next SASL response line, during AUTHENTICATE; `None` when more input is needed.
    pub fn next_sasl(&mut self) -> Option<Result<SaslResponse, SaslError>> {
        Some(match self.framer.next()? {
            Frame::Message(m) => SaslResponse::parse_with(&m, &self.limits),
            // Base64 never ends in `{n}`: whatever this is, it is not a response.
            Frame::NeedContinuation { .. } => Err(SaslError::NotBase64),
            Frame::Error(_) => Err(SaslError::TooLong),
        })
    }

    /// Takes every byte not yet parsed (to discard input pipelined after STARTTLS, or to hand
    /// the stream to a decompressor after COMPRESS).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.framer.take_buffered()
    }

    /// Bytes held, parsed or not yet.
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}

impl Default for CommandReader {
    fn default() -> Self {
        CommandReader::new(Limits::default())
    }
}

impl Response {
    /// `tag NO Error reading client response: <err>` (unquoted, as Cyrus sends it).
    pub fn sasl_read_error(tag: Tag, err: &SaslError) -> Response {
        Response::Status {
            tag,
            status: super::Status::No,
            text: Text::bare(format!("{}{err}", texts::SASL_READ_ERROR_PREFIX)),
        }
    }
}
