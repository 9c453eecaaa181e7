//! ManageSieve (RFC 5804) as Cyrus 3.6's `timsieved` speaks it.
//!
//! Framing is IMAP's ([`crate::imap::framing`]): a message is a line plus the literals it
//! announces, `{n}` or `{n+}`. ManageSieve has no continuation requests, so both kinds of literal
//! simply follow their line, and the framer always runs in its "literals follow" role. A message
//! over a limit is skipped whole and reported once, so the server answers `NO` and goes on.
//!
//! * [`ServerCodec`]: bytes from a client in, [`Command`]s and [`SaslResponse`]s out;
//! * [`ClientCodec`]: bytes from a server in, [`ServerLine`]s out (responses, capability lines,
//!   script listings, script content, SASL challenges);
//! * encoders on every value: [`Command::encode`] for clients, [`Response::encode`],
//!   [`Capability::encode`], [`ScriptEntry::encode`], [`encode_script`] and
//!   [`encode_challenge`] for servers.
//!
//! ```
//! use protocol::managesieve::{ClientCodec, Command, Limits, Response, ResponseCode, ServerCodec, ServerLine};
//!
//! let mut server = ServerCodec::new(Limits::default());
//! server.push(b"PUTSCRIPT \"vacation\" {5+}\r\nkeep;\r\nNOOP \"t1\"\r\n");
//! assert_eq!(
//!     server.next_command().unwrap().unwrap(),
//!     Command::PutScript { name: "vacation".into(), script: b"keep;".to_vec() }
//! );
//! assert_eq!(server.next_command().unwrap().unwrap(), Command::Noop { tag: Some("t1".into()) });
//!
//! let mut out = Vec::new();
//! Response::bye("Try Remote.")
//!     .with_code(ResponseCode::Referral("sieve://backend1".into()))
//!     .encode(&mut out);
//! assert_eq!(out, b"BYE (REFERRAL \"sieve://backend1\") \"Try Remote.\"\r\n");
//!
//! let mut client = ClientCodec::new(Limits::default());
//! client.push(&out);
//! let Some(Ok(ServerLine::Response(r))) = client.next() else { panic!() };
//! assert_eq!(r.code, Some(ResponseCode::Referral("sieve://backend1".into())));
//! ```

mod command;
mod response;
pub mod syntax;
#[cfg(test)]
mod tests;

pub use command::{Command, SaslResponse};
pub use response::{
    encode_challenge, encode_script, Capability, DataLine, QuotaKind, Response, ResponseCode,
    ScriptEntry, ServerLine, Status,
};
pub use syntax::Token;

use crate::imap::framing::{self, Frame, FrameErrorKind, Framer, Role};

/// Size limits for one direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line outside literals, CRLF included. Default 8 KiB: commands are short, and
    /// long SASL data goes in literals.
    pub max_line: usize,
    /// Largest literal (a script, or GETSCRIPT's answer). Default 1 MiB; `timsieved` sets it
    /// from `sieve_maxscriptsize`.
    pub max_literal: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 8 * 1024,
            max_literal: 1024 * 1024,
        }
    }
}

impl Limits {
    fn framing(self) -> framing::Limits {
        let lit = usize::try_from(self.max_literal).unwrap_or(usize::MAX);
        framing::Limits {
            max_line: self.max_line,
            max_literal: self.max_literal,
            // A message is at most a few lines and one or two literals.
            max_message: lit
                .saturating_mul(2)
                .saturating_add(self.max_line.saturating_mul(4)),
        }
    }
}

/// What can go wrong reading ManageSieve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message broke a size limit and was skipped whole.
    #[error("{0}")]
    TooLarge(FrameErrorKind),
    /// The first word is no ManageSieve command.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// An argument is missing or malformed.
    #[error("expected {0}")]
    Expected(&'static str),
    /// Anything else malformed.
    #[error("{0}")]
    Syntax(&'static str),
    /// A string that must be UTF-8 is not.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
}

impl Error {
    /// Whether the message broke a size limit (the server answers `NO (QUOTA/MAXSIZE)`).
    pub fn is_too_large(&self) -> bool {
        matches!(self, Error::TooLarge(_))
    }
}

/// Reads client commands on the server side.
#[derive(Debug, Clone)]
pub struct ServerCodec {
    framer: Framer,
}

impl ServerCodec {
    /// A codec with these limits.
    pub fn new(limits: Limits) -> Self {
        ServerCodec {
            framer: Framer::new(Role::Client, limits.framing()),
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.framer.enqueue(bytes);
    }

    fn next_message(&mut self) -> Option<Result<Vec<u8>, Error>> {
        loop {
            match self.framer.next()? {
                Frame::Message(m) => return Some(Ok(m)),
                Frame::Error(e) => return Some(Err(Error::TooLarge(e.kind))),
                // Not produced in the "literals follow" role; skip if it ever is.
                Frame::NeedContinuation { .. } => continue,
            }
        }
    }

    /// The next command, or `None` when more input is needed. Errors are per message: answer
    /// `NO` and call again.
    pub fn next_command(&mut self) -> Option<Result<Command, Error>> {
        Some(self.next_message()?.and_then(|m| Command::parse(&m)))
    }

    /// The client's next answer during AUTHENTICATE.
    pub fn next_sasl_response(&mut self) -> Option<Result<SaslResponse, Error>> {
        Some(self.next_message()?.and_then(|m| SaslResponse::parse(&m)))
    }

    /// The next raw framed message, for a proxy that relays without parsing.
    pub fn next_raw(&mut self) -> Option<Result<Vec<u8>, Error>> {
        self.next_message()
    }

    /// Takes every byte not yet framed (after `OK` to STARTTLS they must be discarded).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.framer.take_buffered()
    }
}

/// Reads server output on the client side.
#[derive(Debug, Clone)]
pub struct ClientCodec {
    framer: Framer,
}

impl ClientCodec {
    /// A codec with these limits.
    pub fn new(limits: Limits) -> Self {
        ClientCodec {
            framer: Framer::new(Role::Client, limits.framing()),
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.framer.enqueue(bytes);
    }

    /// The next server line, or `None` when more input is needed.
    #[allow(clippy::should_implement_trait)] // `None` means "need more input", not "done"
    pub fn next(&mut self) -> Option<Result<ServerLine, Error>> {
        Some(self.next_raw()?.and_then(|m| ServerLine::parse(&m)))
    }

    /// The next raw framed message, for a proxy that relays without parsing.
    pub fn next_raw(&mut self) -> Option<Result<Vec<u8>, Error>> {
        loop {
            match self.framer.next()? {
                Frame::Message(m) => return Some(Ok(m)),
                Frame::Error(e) => return Some(Err(Error::TooLarge(e.kind))),
                Frame::NeedContinuation { .. } => continue,
            }
        }
    }

    /// Takes every byte not yet framed.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.framer.take_buffered()
    }
}
