//! The MUPDATE protocol (RFC 3656) exactly as Cyrus IMAP 3.x speaks it: the master's and slave's
//! command parser, the client's response parser, the capability banner, and encoders for both
//! directions that reproduce Cyrus's bytes.
//!
//! MUPDATE shares IMAP's lexical framing (lines plus `{n}`/`{n+}` literals), so messages are first
//! cut by [`crate::imap::framing::Framer`] and then parsed whole. The parsers follow Cyrus's own
//! character-by-character reading (reference §1.2) rather than the RFC grammar, because the exact
//! `BAD` texts depend on it: arguments are strings only (a bare atom is refused), a backslash in a
//! quoted string escapes any byte, a literal holding NUL is refused, and which of
//! `"Missing arguments"` or `"Extra arguments"` a malformed line gets depends on where it broke.
//!
//! * [`command`]: client → server ([`Command`], [`CommandReader`], [`SaslResponse`]) and the
//!   Cyrus client's request encoding.
//! * [`response`]: server → client ([`Response`], [`ResponseReader`], [`Banner`]) and the Cyrus
//!   server's texts ([`response::texts`]).
//! * [`record`]: [`MailboxRecord`] and the `server!partition` [`Location`].
//! * [`syntax`]: the string lexer and encoders shared by both directions.
//!
//! ```
//! use protocol::mupdate::{Command, CommandBody, MailboxRecord, Response, StringForm, Tag};
//!
//! // A master reads a backend's RESERVE, sent as Cyrus sends it (literals)...
//! let cmd = Command::parse(b"X0 RESERVE {8+}\r\nuser.bob {23+}\r\nbe1.example.org!default\r\n")
//!     .unwrap();
//! assert_eq!(
//!     cmd.body,
//!     CommandBody::Reserve { mailbox: "user.bob".into(), location: "be1.example.org!default".into() }
//! );
//! // ...and answers exactly as Cyrus does.
//! assert_eq!(Response::ok(cmd.tag.clone(), "done").to_bytes(StringForm::Literal), b"X0 OK \"done\"\r\n");
//!
//! // A slave's stream of records, in Cyrus's literal form.
//! let rec = MailboxRecord::active("user.bob", "be1!default", "bob\tlrswipkxtecdan\t");
//! let wire = Response::record(Tag::update(), rec).to_bytes(StringForm::Literal);
//! assert_eq!(wire, b"U01 MAILBOX {8+}\r\nuser.bob {11+}\r\nbe1!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n");
//! ```

pub mod command;
pub mod record;
pub mod response;
pub mod syntax;

#[cfg(test)]
mod tests;

use std::fmt;

use crate::imap::framing;

pub use command::{
    BadCommand, Command, CommandBody, CommandError, CommandReader, Inbound, SaslError,
    SaslResponse, Verb, MAX_UPDATE_HOSTS,
};
pub use record::{split_location, Location, LocationError, MailboxRecord, MailboxState};
pub use response::{
    Banner, BannerBuilder, BannerLine, Greeting, Record, Response, ResponseError, ResponseReader,
    ServerInfo, ServerRole, Status, Text,
};

/// The IANA port of MUPDATE. Cyrus clients connect to the service *name* `mupdate` instead
/// (reference §1.1), so this is only a default for our own tools.
pub const PORT: u16 = 3905;

/// What a server sends before the octets of a synchronising `{n}` literal (Cyrus's wording).
pub const CONTINUATION: &[u8] = b"+ go ahead\r\n";

/// Size limits for MUPDATE parsing. The framer's limits bound each message before parsing; the
/// string limit bounds each quoted string or literal inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Limits applied while cutting the stream into messages. Defaults: lines of 64 KiB,
    /// literals of 128 KiB (Cyrus's `maxliteral`), messages of 1 MiB (a record has at most
    /// three strings, so this leaves ample room).
    pub framing: framing::Limits,
    /// Longest quoted string or literal value. Default 128 KiB, Cyrus's `maxquoted` and
    /// `maxliteral`. Cyrus kills the whole process past it; we refuse the one message.
    pub max_string: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            framing: framing::Limits {
                max_line: 64 * 1024,
                max_literal: 128 * 1024,
                max_message: 1024 * 1024,
            },
            max_string: 128 * 1024,
        }
    }
}

/// How an encoder writes mailbox names, locations, ACLs and other string arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StringForm {
    /// `{n+}\r\n<octets>`: what Cyrus servers and clients send.
    #[default]
    Literal,
    /// `"..."` with `"` and `\` escaped: the compatibility mode for the mid-2024 Cyrus releases
    /// that refuse `{n+}` from a server (reference §1.2, §1.6), and the form humans type. A value
    /// holding CR or LF cannot be quoted and still goes as a literal.
    Quoted,
}

/// A command tag: what a client puts first on a command line and the server echoes back.
///
/// Cyrus takes every byte up to the first whitespace, `(`, `)` or `"` (reference §1.2). On top of
/// that we refuse an empty tag, NUL, non-UTF-8 and the lone `*` (which would make our answers
/// look untagged); Cyrus would echo those back and confuse its own clients.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

/// Why a string is not a valid [`Tag`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// The tag is empty.
    #[error("a tag cannot be empty")]
    Empty,
    /// The tag holds a byte that would end it on the wire.
    #[error("a tag cannot contain whitespace, parentheses, quotes or NUL")]
    BadByte,
    /// The tag is `*`, the untagged marker.
    #[error("`*` is the untagged marker, not a tag")]
    Untagged,
}

/// Bytes that end a word in Cyrus's `getword()`: C `isspace()`, parentheses and the double quote.
pub(crate) fn ends_word(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b'(' | b')' | b'"'
    )
}

impl Tag {
    /// Validates a tag.
    pub fn new(s: impl Into<String>) -> Result<Tag, TagError> {
        let s = s.into();
        if s.is_empty() {
            return Err(TagError::Empty);
        }
        if s.bytes().any(|b| b == 0 || ends_word(b)) {
            return Err(TagError::BadByte);
        }
        if s == "*" {
            return Err(TagError::Untagged);
        }
        Ok(Tag(s))
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `A01`, the tag Cyrus clients use for AUTHENTICATE.
    pub fn authenticate() -> Tag {
        Tag("A01".into())
    }

    /// `S01`, for STARTTLS.
    pub fn starttls() -> Tag {
        Tag("S01".into())
    }

    /// `Z01`, for COMPRESS.
    pub fn compress() -> Tag {
        Tag("Z01".into())
    }

    /// `Q01`, for LOGOUT.
    pub fn logout() -> Tag {
        Tag("Q01".into())
    }

    /// `U01`, for a slave's UPDATE.
    pub fn update() -> Tag {
        Tag("U01".into())
    }

    /// `X<n>`: FIND, LIST, RESERVE, ACTIVATE, DEACTIVATE and DELETE, counted per connection
    /// from 0.
    pub fn request(n: u64) -> Tag {
        Tag(format!("X{n}"))
    }

    /// `N<n>`: a slave's NOOPs (the same per-connection counter as [`Tag::request`]).
    pub fn noop(n: u64) -> Tag {
        Tag(format!("N{n}"))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({:?})", self.0)
    }
}

impl std::str::FromStr for Tag {
    type Err = TagError;
    fn from_str(s: &str) -> Result<Tag, TagError> {
        Tag::new(s)
    }
}
