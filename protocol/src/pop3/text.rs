//! Small validated values shared by POP3 and LMTP: protocol text, secrets, SASL pieces.

use std::fmt;
use std::str::FromStr;

/// A value that could not be built because of a forbidden character or shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {value:?}")]
pub struct InvalidText {
    /// What kind of value was being built.
    pub what: &'static str,
    /// The rejected input.
    pub value: String,
}

impl InvalidText {
    pub(crate) fn new(what: &'static str, value: &str) -> Self {
        InvalidText {
            what,
            value: value.chars().take(80).collect(),
        }
    }
}

/// Text that can sit on one protocol line: no CR, LF or NUL (so encoding it can never inject
/// a second line). May be empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Text(String);

impl Text {
    /// Validate `s`.
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidText> {
        let s = s.into();
        if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(InvalidText::new("text (CR, LF or NUL)", &s));
        }
        Ok(Text(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for Text {
    type Err = InvalidText;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Text::new(s)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A value that must never reach a log: `Debug` and `Display` print `***` in every build.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wrap a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value, for the code that really needs it (the SASL or password check).
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwrap the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A SASL mechanism name (RFC 4422 §3.1: 1 to 20 of `A-Z 0-9 - _`), kept in upper case since
/// names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mechanism(String);

impl Mechanism {
    /// Validate a mechanism name (any case).
    pub fn new(s: &str) -> Result<Self, InvalidText> {
        let ok = (1..=20).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(InvalidText::new("SASL mechanism", s));
        }
        Ok(Mechanism(s.to_ascii_uppercase()))
    }

    /// The name in upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Mechanism {
    type Err = InvalidText;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mechanism::new(s)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_base64(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Base64 SASL data as sent on the wire, kept secret (for PLAIN it holds the password).
/// Only base64 characters are allowed, so encoding it cannot break the line structure; it is
/// not decoded here (the SASL layer does that).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SaslData(Secret<String>);

impl SaslData {
    /// Validate base64 text (may be empty).
    pub fn new(s: impl Into<String>) -> Result<Self, InvalidText> {
        let s = s.into();
        if !is_base64(&s) {
            return Err(InvalidText::new("base64 SASL data", "<redacted>"));
        }
        Ok(SaslData(Secret::new(s)))
    }

    /// The base64 text.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// The optional initial response of `AUTH <mech> <initial>` (RFC 4954 §4, RFC 5034 §4).
/// Kept base64-encoded and secret: for PLAIN it holds the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialResponse {
    /// `=`: an initial response of zero length.
    Empty,
    /// Base64 data (never empty; an empty response is [`InitialResponse::Empty`]).
    Data(SaslData),
}

impl InitialResponse {
    /// Parse the argument as sent.
    pub fn parse(s: &str) -> Result<Self, InvalidText> {
        if s == "=" {
            return Ok(InitialResponse::Empty);
        }
        if s.is_empty() {
            return Err(InvalidText::new("SASL initial response", ""));
        }
        Ok(InitialResponse::Data(SaslData::new(s)?))
    }

    /// The argument as sent on the wire.
    pub fn wire(&self) -> &str {
        match self {
            InitialResponse::Empty => "=",
            InitialResponse::Data(d) if d.expose().is_empty() => "=",
            InitialResponse::Data(d) => d.expose(),
        }
    }
}

/// A client's answer to a SASL challenge (`+ ` in POP3, `334 ` in LMTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// `*`: the client gives up.
    Cancel,
    /// Base64 data, possibly empty.
    Data(SaslData),
}

impl SaslResponse {
    /// Parse one line (without CRLF).
    pub fn parse(line: &[u8]) -> Result<Self, InvalidText> {
        let s = std::str::from_utf8(line)
            .map_err(|_| InvalidText::new("SASL response", "<not UTF-8>"))?;
        if s == "*" {
            return Ok(SaslResponse::Cancel);
        }
        Ok(SaslResponse::Data(SaslData::new(s)?))
    }

    /// Encode as a line with CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            SaslResponse::Cancel => out.extend_from_slice(b"*"),
            SaslResponse::Data(d) => out.extend_from_slice(d.expose().as_bytes()),
        }
        out.extend_from_slice(b"\r\n");
    }
}
