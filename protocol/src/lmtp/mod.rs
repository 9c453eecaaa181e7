//! LMTP: RFC 2033 over RFC 5321 syntax, with enhanced status codes (RFC 3463), AUTH
//! (RFC 4954) and STARTTLS (RFC 3207), as Cyrus 3.6 speaks it.
//!
//! Used by our `lmtpd`/`lmtpproxyd` (server side, [`ServerCodec`]), by the proxy when it
//! relays to backends (client side, [`ClientCodec`]), and by the test tools.
//!
//! * [`Command`]: LHLO, MAIL, RCPT, DATA, … with typed [`Address`]es and parameters.
//! * [`Reply`]: a (multi-line) reply with its optional [`EnhancedCode`]; constructors for the
//!   replies Cyrus sends ([`Reply::rcpt_ok`], [`Reply::user_unknown`], …).
//! * DATA: after sending `354`, [`ServerCodec::begin_data`] switches to the dot-terminated
//!   message, handed out in chunks; [`dot_stuff`] / [`DotStuffer`] encode one. The line
//!   framing and the body decoder are shared with POP3 ([`crate::pop3::framing`]).
//!
//! ```
//! use protocol::lmtp::{ClientCodec, Command, Limits, Reply, ServerCodec, ServerEvent};
//!
//! let mut server = ServerCodec::new(Limits::default());
//! server.push(b"RCPT TO:<bob+Drafts@example.org>\r\nDATA\r\n");
//! let Some(Ok(ServerEvent::Command(Command::Rcpt { to, .. }))) = server.next() else { panic!() };
//! assert_eq!(to.user_and_detail(), ("bob", Some("Drafts")));
//! assert_eq!(server.next(), Some(Ok(ServerEvent::Command(Command::Data))));
//! server.begin_data(Some(10 << 20)); // after sending 354
//! server.push(b"Subject: x\r\n\r\n..hi\r\n.\r\n");
//! assert_eq!(server.next(), Some(Ok(ServerEvent::DataChunk(b"Subject: x\r\n\r\n.hi\r\n".to_vec()))));
//! assert_eq!(server.next(), Some(Ok(ServerEvent::DataEnd)));
//!
//! let mut client = ClientCodec::new(Limits::default());
//! client.push(&Reply::user_unknown().to_bytes());
//! let reply = client.next_reply().unwrap().unwrap();
//! assert!(reply.is_permanent());
//! assert_eq!(reply.enhanced().unwrap().to_string(), "5.1.1");
//! ```

mod command;
mod reply;

pub use crate::pop3::framing::{dot_stuff, DotStuffer};
pub use crate::pop3::{InitialResponse, Mechanism, SaslData, SaslResponse, Secret, Text};
pub use command::{
    xtext_decode, xtext_encode, Address, BodyType, Command, Domain, MailParam, Param, RcptParam,
    ReversePath, Verb,
};
pub use reply::{
    EnhancedCode, EnhancedPlacement, Lhlo, LhloCapability, Reply, ReplyClass, ReplyCode,
};

use crate::pop3::framing::{Frame, FrameError, Framer};
use crate::pop3::InvalidText;

/// Size limits for LMTP framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included. RFC 5321 requires at least 512; Cyrus reads up to
    /// 4096, and so do we by default.
    pub command_line: usize,
    /// Longest AUTH line or SASL answer (RFC 4954 §4 lifts the command limit for these).
    /// Default 12288.
    pub sasl_line: usize,
    /// Longest reply line, CRLF included. Default 2048 (RFC 5321 requires 512).
    pub reply_line: usize,
    /// Most lines in one reply. Default 100.
    pub reply_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            command_line: 4096,
            sasl_line: 12288,
            reply_line: 2048,
            reply_lines: 100,
        }
    }
}

/// Everything that can go wrong parsing or building LMTP values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Framing failed; recoverable (the framer has skipped the bad input). A
    /// [`FrameError::BodyTooLarge`] during DATA is followed by [`ServerEvent::DataEnd`].
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The line was empty.
    #[error("empty line")]
    EmptyLine,
    /// The line is not UTF-8.
    #[error("line is not valid UTF-8")]
    NotUtf8,
    /// A required argument is missing.
    #[error("{command}: missing argument")]
    MissingArgument {
        /// The command verb.
        command: &'static str,
    },
    /// More arguments than the command takes.
    #[error("{command}: too many arguments")]
    TooManyArguments {
        /// The command verb.
        command: &'static str,
    },
    /// The command's fixed syntax is wrong.
    #[error("{command}: expected {expected}")]
    Syntax {
        /// The command verb.
        command: &'static str,
        /// What should have come.
        expected: &'static str,
    },
    /// A path or address is malformed.
    #[error("invalid address: {0:?}")]
    InvalidAddress(String),
    /// An ESMTP parameter is malformed or has a bad value.
    #[error("invalid parameter: {0:?}")]
    InvalidParameter(String),
    /// Some other argument has a forbidden character or shape.
    #[error("invalid {what}: {value:?}")]
    InvalidArgument {
        /// What was being parsed.
        what: &'static str,
        /// The offending text.
        value: String,
    },
    /// A reply code outside 200..=599.
    #[error("invalid reply code {0}")]
    InvalidReplyCode(u16),
    /// A malformed enhanced status code, or one whose class differs from the reply's.
    #[error("invalid enhanced status code {0:?}")]
    InvalidEnhancedCode(String),
    /// A reply line that is not `NNN[ -]text`.
    #[error("malformed reply: {0:?}")]
    BadReply(String),
    /// A continuation line with a different code from the first line.
    #[error("reply lines disagree: {first} then {then}")]
    MixedReplyCodes {
        /// The first line's code.
        first: u16,
        /// The differing code.
        then: u16,
    },
    /// A reply with more lines than [`Limits::reply_lines`].
    #[error("reply longer than {limit} lines")]
    TooManyReplyLines {
        /// The limit in force.
        limit: usize,
    },
}

impl From<InvalidText> for Error {
    fn from(e: InvalidText) -> Self {
        Error::InvalidArgument {
            what: e.what,
            value: e.value,
        }
    }
}

impl Error {
    /// The reply a server sends for this error in a command or DATA.
    pub fn reply(&self) -> Reply {
        match self {
            Error::Frame(FrameError::LineTooLong { .. }) => Reply::line_too_long(),
            Error::Frame(FrameError::BodyTooLarge { .. }) => Reply::message_too_large(),
            Error::InvalidAddress(_)
            | Error::InvalidParameter(_)
            | Error::InvalidArgument { .. }
            | Error::MissingArgument { .. }
            | Error::TooManyArguments { .. }
            | Error::Syntax { .. } => {
                Reply::bad_parameters(&self.to_string()).unwrap_or_else(|_| Reply::syntax_error())
            }
            _ => Reply::syntax_error(),
        }
    }
}

/// What a [`ServerCodec`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A command line.
    Command(Command),
    /// Part of the message after DATA, dot-unstuffed, line endings as received.
    DataChunk(Vec<u8>),
    /// The terminating `.` line; the codec reads commands again. Answer with one reply per
    /// accepted recipient (RFC 2033 §4.2).
    DataEnd,
}

/// Server-side codec: reads commands, SASL answers and the DATA message.
#[derive(Debug, Clone)]
pub struct ServerCodec {
    framer: Framer,
    limits: Limits,
}

impl ServerCodec {
    /// A codec with the given limits.
    pub fn new(limits: Limits) -> Self {
        ServerCodec {
            framer: Framer::new(limits.sasl_line.max(limits.command_line)),
            limits,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
    }

    /// After sending `354`: read the message, at most `limit` octets after unstuffing. Past
    /// the limit the codec yields [`FrameError::BodyTooLarge`] once, discards the rest and
    /// still yields [`ServerEvent::DataEnd`] at the end, so the server answers `552` per
    /// recipient and the session goes on.
    pub fn begin_data(&mut self, limit: Option<usize>) {
        self.framer.begin_body(limit);
    }

    /// True while reading DATA.
    pub fn in_data(&self) -> bool {
        self.framer.in_body()
    }

    /// The next event, or `None` if more input is needed. Command errors are per line:
    /// answer with [`Error::reply`] and call again.
    #[allow(clippy::should_implement_trait)] // `None` means "need more input", not "done"
    pub fn next(&mut self) -> Option<Result<ServerEvent, Error>> {
        Some(match self.framer.next()? {
            Ok(Frame::Line(line)) => {
                let is_auth = line
                    .get(..5)
                    .is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH "));
                if !is_auth && line.len().saturating_add(2) > self.limits.command_line {
                    Err(FrameError::LineTooLong {
                        limit: self.limits.command_line,
                    }
                    .into())
                } else {
                    Command::parse(&line).map(ServerEvent::Command)
                }
            }
            Ok(Frame::BodyChunk(c)) => Ok(ServerEvent::DataChunk(c)),
            Ok(Frame::BodyEnd) => Ok(ServerEvent::DataEnd),
            Err(e) => Err(e.into()),
        })
    }

    /// The client's answer to a `334` challenge. Returns `None` while reading DATA.
    pub fn next_sasl_response(&mut self) -> Option<Result<SaslResponse, Error>> {
        if self.framer.in_body() {
            return None;
        }
        match self.framer.next()? {
            Ok(Frame::Line(l)) => Some(SaslResponse::parse(&l).map_err(Error::from)),
            Ok(_) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Input received but not yet parsed (see [`Framer::buffered`] on STARTTLS).
    pub fn buffered(&self) -> &[u8] {
        self.framer.buffered()
    }

    /// Discard buffered input (after `220` to STARTTLS, before the handshake).
    pub fn clear(&mut self) {
        self.framer.clear();
    }
}

/// Client-side codec: reads replies, assembling multi-line ones.
#[derive(Debug, Clone)]
pub struct ClientCodec {
    framer: Framer,
    limits: Limits,
    /// The lines of a multi-line reply read so far.
    pending: Option<(ReplyCode, Vec<String>)>,
    /// Set after [`Error::TooManyReplyLines`]: the rest of that reply is skipped.
    skipping: bool,
}

impl ClientCodec {
    /// A codec with the given limits.
    pub fn new(limits: Limits) -> Self {
        ClientCodec {
            framer: Framer::new(limits.reply_line),
            limits,
            pending: None,
            skipping: false,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
    }

    /// The next complete reply, or `None` if more input is needed. After an error the
    /// partial reply is dropped and reading continues with the next line.
    pub fn next_reply(&mut self) -> Option<Result<Reply, Error>> {
        loop {
            let line = match self.framer.next()? {
                Ok(Frame::Line(l)) => l,
                Ok(_) => continue,
                Err(e) => {
                    self.pending = None;
                    self.skipping = false;
                    return Some(Err(e.into()));
                }
            };
            let (code, more, text) = match reply::parse_reply_line(&line) {
                Ok(parts) => parts,
                Err(e) => {
                    self.pending = None;
                    return Some(Err(e));
                }
            };
            if self.skipping {
                self.skipping = more;
                continue;
            }
            let (first, mut lines) = self.pending.take().unwrap_or((code, Vec::new()));
            if first != code {
                return Some(Err(Error::MixedReplyCodes {
                    first: first.get(),
                    then: code.get(),
                }));
            }
            if lines.len() >= self.limits.reply_lines {
                self.skipping = more;
                return Some(Err(Error::TooManyReplyLines {
                    limit: self.limits.reply_lines,
                }));
            }
            lines.push(text.to_owned());
            if more {
                self.pending = Some((code, lines));
                continue;
            }
            return Some(reply::assemble(code, lines));
        }
    }

    /// Input received but not yet parsed.
    pub fn buffered(&self) -> &[u8] {
        self.framer.buffered()
    }

    /// Discard buffered input and any partial reply (after `220` to STARTTLS).
    pub fn clear(&mut self) {
        self.framer.clear();
        self.pending = None;
        self.skipping = false;
    }
}

#[cfg(test)]
mod tests;
