//! RFC 5322 / MIME messages as an IMAP server reads them: ENVELOPE, BODY and BODYSTRUCTURE,
//! `BODY[section]<partial>`, BINARY, and the decoded text and dates SEARCH and sieve look at.
//!
//! Everything works on the raw bytes of one stored message and borrows from them. Nothing
//! fails on odd mail: real messages carry broken MIME, and a FETCH must still answer, so where
//! the RFCs leave room the answer is what Cyrus 3.6 gives (each choice was checked against a live
//! Cyrus; see the module docs of [`tree`], [`address`] and [`section`]). The only errors are the
//! ones a caller must act on: an unknown transfer encoding for BINARY (`NO [UNKNOWN-CTE]`), an
//! unreadable `Date:`, and a [`Limits`] bound hit (reported, while the parts within the bound are
//! still served).
//!
//! Parse once with [`Message::parse`] when several items are fetched; the free functions
//! ([`envelope`], [`body_structure`], [`section`], [`binary`], ...) parse on each call.
//!
//! ```
//! use protocol::imap::types::{Section, SectionText};
//! use protocol::mime::Message;
//!
//! let raw = b"From: Bob <bob@example.org>\r\nSubject: hi\r\n\
//!     Content-Type: multipart/mixed; boundary=b\r\n\r\n\
//!     --b\r\nContent-Type: text/plain\r\n\r\nHello\r\n--b--\r\n";
//! let msg = Message::parse(raw);
//!
//! let env = msg.envelope();
//! assert_eq!(env.subject.as_deref(), Some(&b"hi"[..]));
//! assert_eq!(env.from[0].mailbox.as_deref(), Some(&b"bob"[..]));
//!
//! let mut out = Vec::new();
//! msg.body_structure(false).encode(&mut out);
//! assert_eq!(out, b"((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 0) \"MIXED\")");
//!
//! let one = Section::new(vec![std::num::NonZeroU32::new(1).unwrap()], None).unwrap();
//! assert_eq!(msg.section(&one).as_deref(), Some(&b"Hello"[..]));
//! let hdr = Section::new(vec![], Some(SectionText::HeaderFields(vec![b"SUBJECT".to_vec()]))).unwrap();
//! assert_eq!(msg.section(&hdr).as_deref(), Some(&b"Subject: hi\r\n\r\n"[..]));
//! ```

pub mod address;
pub mod codec;
pub mod date;
pub mod header;
mod search;
pub mod section;
mod structure;
pub mod tree;
pub mod words;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::imap::response::{Body, Envelope};
use crate::imap::types::Section;

pub use address::{parse_addresses, plain_addresses, write_addresses};
pub use codec::TransferEncoding;
pub use date::{format_date, parse_date, unix_time};
pub use header::{headers, split, Field};
pub use search::contains_ignore_case;
pub use section::partial;
pub use tree::{ContentType, Kind, Part};
pub use words::{decode_words, encode_words};

/// Bounds on what one message can make the parser do. Parts past a bound are not parsed (a
/// container past the depth bound is shown as a leaf; parts past the count bound are left out)
/// and [`Message::limit_exceeded`] says which bound was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of multiparts and encapsulated messages. Default 32: real mail rarely
    /// nests past 10, and each level costs stack in the recursive parser.
    pub max_depth: usize,
    /// Most parts in one message, all levels counted. Default 10 000: enough for any real
    /// message; bounds the tree a crafted one can make us build.
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            max_parts: 10_000,
        }
    }
}

/// What can go wrong reading a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    /// BINARY of a part whose `Content-Transfer-Encoding` cannot be decoded (the server answers
    /// `NO [UNKNOWN-CTE]`, RFC 3516).
    #[error("unknown content-transfer-encoding {0:?}")]
    UnknownTransferEncoding(String),
    /// A `Date:` value that is not an RFC 5322 date-time, even leniently read.
    #[error("unparsable date")]
    BadDate,
    /// Multiparts or encapsulated messages nest deeper than [`Limits::max_depth`].
    #[error("MIME structure nests deeper than {limit} levels")]
    TooDeep {
        /// The bound.
        limit: usize,
    },
    /// More parts than [`Limits::max_parts`].
    #[error("message has more than {limit} MIME parts")]
    TooManyParts {
        /// The bound.
        limit: usize,
    },
}

/// A parsed message: its bytes and its MIME tree.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    raw: &'a [u8],
    root: Part<'a>,
    exceeded: Option<MimeError>,
}

impl<'a> Message<'a> {
    /// Parses with the default [`Limits`].
    pub fn parse(raw: &'a [u8]) -> Message<'a> {
        Message::parse_with(raw, &Limits::default())
    }

    /// Parses with explicit limits. Never fails; see [`Message::limit_exceeded`].
    pub fn parse_with(raw: &'a [u8], limits: &Limits) -> Message<'a> {
        let mut budget = tree::Budget {
            limits,
            parts: 1,
            exceeded: None,
        };
        let (h, b) = split(raw);
        let (root, _) = tree::parse_part(h, b, false, 0, &mut budget);
        Message {
            raw,
            root,
            exceeded: budget.exceeded,
        }
    }

    /// The first bound hit while parsing, if any: the tree then stops at that bound.
    pub fn limit_exceeded(&self) -> Option<&MimeError> {
        self.exceeded.as_ref()
    }

    /// The message bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The top of the MIME tree (its header is the message header).
    pub fn root(&self) -> &Part<'a> {
        &self.root
    }

    /// The header block, including the empty line that ends it (`RFC822.HEADER`).
    pub fn header(&self) -> &'a [u8] {
        self.root.header
    }

    /// The body after the header (`RFC822.TEXT`).
    pub fn text(&self) -> &'a [u8] {
        self.root.body
    }

    /// ENVELOPE (RFC 3501 §7.4.2).
    pub fn envelope(&self) -> Envelope {
        structure::envelope_of(self.root.header)
    }

    /// BODYSTRUCTURE when `extensible`, else BODY.
    pub fn body_structure(&self, extensible: bool) -> Body {
        structure::body_of(&self.root, extensible)
    }

    /// `BODY[section]`; `None` for a section the message does not have (sent as `NIL`).
    /// Apply [`partial`] for `<origin.count>`.
    pub fn section(&self, section: &Section) -> Option<Cow<'a, [u8]>> {
        section::section(self.raw, &self.root, section)
    }

    /// The MIME part a path names (`[]` is `None`: the message is not a part).
    pub fn part(&self, path: &[NonZeroU32]) -> Option<&Part<'a>> {
        section::resolve(&self.root, path)
    }

    /// `BINARY[part]` (RFC 3516): the decoded content, `Ok(None)` for a missing part.
    pub fn binary(&self, path: &[NonZeroU32]) -> Result<Option<Cow<'a, [u8]>>, MimeError> {
        section::binary(self.raw, &self.root, path)
    }

    /// The decoded text of the body's `text/*` parts, encapsulated messages included: what
    /// SEARCH BODY looks in. Preamble, epilogue and non-text parts are not included.
    pub fn searchable_text(&self) -> String {
        let mut out = String::new();
        search::body_text(&self.root, &mut out);
        out
    }

    /// Every top-level field as a `Name: decoded value` line; with [`Message::searchable_text`]
    /// this is what SEARCH TEXT looks in.
    pub fn searchable_headers(&self) -> String {
        let mut out = String::new();
        search::header_text(self.root.header, &mut out);
        out
    }

    /// The decoded values of every top-level field called `name`, in order: what SEARCH
    /// HEADER / FROM / SUBJECT ... look in, and sieve's `header` test.
    pub fn header_values(&self, name: &[u8]) -> Vec<String> {
        header::all(self.root.header, name)
            .map(|f| decode_words(header::trim(f.raw_value())))
            .collect()
    }

    /// The `Date:` header as a date-time (the last one, as ENVELOPE uses); `None` when absent.
    pub fn sent_date(&self) -> Option<Result<crate::imap::types::DateTime, MimeError>> {
        header::last(self.root.header, b"Date").map(|f| parse_date(&f.value()))
    }
}

/// ENVELOPE of a message.
pub fn envelope(msg: &[u8]) -> Envelope {
    Message::parse(msg).envelope()
}

/// BODYSTRUCTURE (`extensible`) or BODY of a message.
pub fn body_structure(msg: &[u8], extensible: bool) -> Body {
    Message::parse(msg).body_structure(extensible)
}

/// `BODY[section]` of a message; `None` where the section does not exist.
pub fn section<'a>(msg: &'a [u8], section: &Section) -> Option<Cow<'a, [u8]>> {
    Message::parse(msg).section(section)
}

/// `BINARY[part]` of a message.
pub fn binary<'a>(msg: &'a [u8], path: &[NonZeroU32]) -> Result<Option<Cow<'a, [u8]>>, MimeError> {
    Message::parse(msg).binary(path)
}

/// Decoded body text for SEARCH BODY (see [`Message::searchable_text`]).
pub fn searchable_text(msg: &[u8]) -> String {
    Message::parse(msg).searchable_text()
}
