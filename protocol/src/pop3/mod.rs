//! POP3: RFC 1939, with CAPA and response codes (RFC 2449), STLS (RFC 2595), AUTH (RFC 5034)
//! and the RFC 3206 codes Cyrus sends.
//!
//! Used by our `pop3d`/`pop3proxyd` (server side, [`ServerCodec`]), by the proxy when it logs in
//! to a backend (client side, [`ClientCodec`]), and by the test tools.
//!
//! * [`framing`]: the line framer and dot-terminated body decoder/encoder (shared with LMTP).
//! * [`Command`]: what a client sends, parsed from a line and encoded back.
//! * [`Response`]: `+OK`, `-ERR [CODE]` and `+ ` continuations; [`Capability`] for CAPA.
//!
//! ```
//! use protocol::pop3::{ClientCodec, ClientEvent, Command, Limits, Response, ServerCodec};
//!
//! // Server side: bytes in, commands out.
//! let mut server = ServerCodec::new(Limits::default());
//! server.push(b"user alice\r\nRETR 1\r\n");
//! assert_eq!(server.next_command().unwrap().unwrap(), Command::User("alice".parse().unwrap()));
//! assert!(matches!(server.next_command(), Some(Ok(Command::Retr(n))) if n.get() == 1));
//!
//! // Client side: after a +OK to RETR, read the body in chunks.
//! let mut client = ClientCodec::new(Limits::default());
//! client.push(b"+OK Message follows\r\nSubject: hi\r\n\r\n..dot\r\n.\r\n");
//! let Some(Ok(ClientEvent::Response(r))) = client.next() else { panic!() };
//! assert!(r.is_ok());
//! client.begin_multiline(None);
//! let mut body = Vec::new();
//! while let Some(Ok(ev)) = client.next() {
//!     match ev {
//!         ClientEvent::BodyChunk(c) => body.extend(c),
//!         ClientEvent::BodyEnd => break,
//!         ClientEvent::Response(_) => unreachable!(),
//!     }
//! }
//! assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
//!
//! // Encoding.
//! let mut out = Vec::new();
//! Response::err_with(protocol::pop3::RespCode::Auth, "Invalid login").unwrap().encode(&mut out);
//! assert_eq!(out, b"-ERR [AUTH] Invalid login\r\n");
//! ```

mod command;
pub mod framing;
mod response;
mod text;

pub use command::{ApopDigest, Command, MsgNum, Verb};
pub use framing::{Frame, FrameError};
pub use response::{
    parse_capabilities, Capability, ExpirePolicy, ListEntry, RespCode, Response, Stat, UidlEntry,
};
pub use text::{InitialResponse, InvalidText, Mechanism, SaslData, SaslResponse, Secret, Text};

use framing::Framer;

/// Size limits for POP3 framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest client command line, CRLF included. Default 255, the RFC 2449 limit.
    pub command_line: usize,
    /// Longest SASL line (an `AUTH` command with an initial response, or a continuation
    /// answer). RFC 5034 §4 exempts these from the 255-octet limit. Default 12288.
    pub sasl_line: usize,
    /// Longest server response line, CRLF included. RFC 2449 says 512; default 1024 to be
    /// lenient with backends.
    pub response_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            command_line: 255,
            sasl_line: 12288,
            response_line: 1024,
        }
    }
}

/// Everything that can go wrong parsing or building POP3 values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Framing failed; recoverable, the framer has skipped the bad input.
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
    /// A message number or count is not a valid number (message numbers start at 1).
    #[error("{command}: invalid number {value:?}")]
    InvalidNumber {
        /// The command verb.
        command: &'static str,
        /// The offending argument.
        value: String,
    },
    /// An argument has a character or shape the protocol forbids.
    #[error("invalid {what}: {value:?}")]
    InvalidArgument {
        /// What was being parsed.
        what: &'static str,
        /// The offending text.
        value: String,
    },
    /// A server line starts with neither `+OK`, `-ERR` nor `+ `.
    #[error("not a POP3 response: {0:?}")]
    BadResponse(String),
}

impl From<InvalidText> for Error {
    fn from(e: InvalidText) -> Self {
        Error::InvalidArgument {
            what: e.what,
            value: e.value,
        }
    }
}

/// Server-side codec: reads client commands (and SASL continuation answers).
#[derive(Debug, Clone)]
pub struct ServerCodec {
    framer: Framer,
    limits: Limits,
}

impl ServerCodec {
    /// A codec with the given limits.
    pub fn new(limits: Limits) -> Self {
        // Frame at the SASL limit; ordinary commands are held to `command_line` after framing.
        let max = limits.sasl_line.max(limits.command_line);
        ServerCodec {
            framer: Framer::new(max),
            limits,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
    }

    /// The next command, or `None` if more input is needed. Errors are per line: after one,
    /// answer `-ERR` and call again.
    pub fn next_command(&mut self) -> Option<Result<Command, Error>> {
        let line = match self.framer.next()? {
            Ok(Frame::Line(l)) => l,
            Ok(_) => return None,
            Err(e) => return Some(Err(e.into())),
        };
        // Count the CRLF, as RFC 2449 does.
        let is_auth = line
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"AUTH "));
        if !is_auth && line.len().saturating_add(2) > self.limits.command_line {
            return Some(Err(FrameError::LineTooLong {
                limit: self.limits.command_line,
            }
            .into()));
        }
        Some(Command::parse(&line))
    }

    /// The client's answer to a `+ ` challenge during AUTH.
    pub fn next_sasl_response(&mut self) -> Option<Result<SaslResponse, Error>> {
        match self.framer.next()? {
            Ok(Frame::Line(l)) => Some(SaslResponse::parse(&l).map_err(Error::from)),
            Ok(_) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Input received but not yet parsed. See [`Framer::buffered`] for why STLS cares.
    pub fn buffered(&self) -> &[u8] {
        self.framer.buffered()
    }

    /// Discard buffered input (after `+OK` to STLS, before the TLS handshake).
    pub fn clear(&mut self) {
        self.framer.clear();
    }
}

/// What a [`ClientCodec`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A status line or SASL challenge.
    Response(Response),
    /// Part of a multi-line body, dot-unstuffed.
    BodyChunk(Vec<u8>),
    /// The end of a multi-line body.
    BodyEnd,
}

/// Client-side codec: reads server responses and multi-line bodies.
///
/// Multi-line bodies follow `+OK` to CAPA, LIST and UIDL without argument, RETR and TOP (and
/// AUTH without argument). Only the caller knows which command a response answers, so after a
/// positive response to one of those it calls [`begin_multiline`](ClientCodec::begin_multiline)
/// before asking for the next event.
#[derive(Debug, Clone)]
pub struct ClientCodec {
    framer: Framer,
}

impl ClientCodec {
    /// A codec with the given limits.
    pub fn new(limits: Limits) -> Self {
        ClientCodec {
            framer: Framer::new(limits.response_line),
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
    }

    /// Read the following bytes as a multi-line body of at most `limit` decoded octets.
    pub fn begin_multiline(&mut self, limit: Option<usize>) {
        self.framer.begin_body(limit);
    }

    /// The next event, or `None` if more input is needed.
    #[allow(clippy::should_implement_trait)] // `None` means "need more input", not "done"
    pub fn next(&mut self) -> Option<Result<ClientEvent, Error>> {
        Some(match self.framer.next()? {
            Ok(Frame::Line(l)) => Response::parse(&l).map(ClientEvent::Response),
            Ok(Frame::BodyChunk(c)) => Ok(ClientEvent::BodyChunk(c)),
            Ok(Frame::BodyEnd) => Ok(ClientEvent::BodyEnd),
            Err(e) => Err(e.into()),
        })
    }

    /// Input received but not yet parsed.
    pub fn buffered(&self) -> &[u8] {
        self.framer.buffered()
    }

    /// Discard buffered input (after `+OK` to STLS).
    pub fn clear(&mut self) {
        self.framer.clear();
    }
}

#[cfg(test)]
mod tests;
