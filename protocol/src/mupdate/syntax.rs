//! MUPDATE's lexical layer as Cyrus reads it (reference §1.2): words, strings (quoted or
//! literal, never atoms) and line ends, plus the string encoders.
//!
//! The reader mimics Cyrus's `getword()`/`getstring()` over a byte cursor, including what they
//! leave behind on failure, because the command parser's `BAD` texts are decided by the next
//! character Cyrus sees. A failed string reads as "end of input" (Cyrus's `EOF`), exactly as there.
//!
//! ```
//! use protocol::mupdate::syntax::write_string;
//! use protocol::mupdate::StringForm;
//!
//! let mut out = Vec::new();
//! write_string(&mut out, b"user.bob", StringForm::Literal);
//! out.push(b' ');
//! write_string(&mut out, b"say \"hi\"", StringForm::Quoted);
//! assert_eq!(out, b"{8+}\r\nuser.bob \"say \\\"hi\\\"\"");
//! ```

use super::StringForm;
use crate::imap::syntax::{write_literal, write_quoted, LiteralMode};

/// A string was longer than the configured limit (or announced an impossible length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong;

/// A read position in one framed message.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// The next byte, or `None` at the end of the message.
    pub(crate) fn getc(&mut self) -> Option<u8> {
        let b = self.buf.get(self.pos).copied();
        if b.is_some() {
            self.pos += 1;
        }
        b
    }

    /// Puts back the byte just read. Only called right after `getc` returned `Some`.
    pub(crate) fn unget(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Everything not yet read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
    }
}

/// Cyrus's `getword()`: bytes up to whitespace, `(`, `)` or `"`; returns the word and the byte
/// that ended it (consumed), or `None` at the end of the message.
pub(crate) fn getword<'a>(cur: &mut Cursor<'a>) -> (&'a [u8], Option<u8>) {
    let rest = cur.rest();
    match rest.iter().position(|&b| super::ends_word(b)) {
        Some(n) => {
            cur.skip(n + 1);
            (rest.get(..n).unwrap_or_default(), rest.get(n).copied())
        }
        None => {
            cur.skip(rest.len());
            (rest, None)
        }
    }
}

/// Cyrus's `getstring()` for MUPDATE: a quoted string or a `{n}`/`{n+}` literal.
///
/// Returns the value read (partial on failure, as Cyrus's buffer is) and the byte after it, or
/// `None` when the string was malformed or the message ended: callers treat both as Cyrus treats
/// `EOF`. A value longer than `max` is `Err`, before anything of that size is copied.
pub(crate) fn getstring(
    cur: &mut Cursor<'_>,
    max: usize,
) -> Result<(Vec<u8>, Option<u8>), TooLong> {
    match cur.getc() {
        Some(b'"') => quoted_body(cur, max),
        Some(b'{') => literal_body(cur, max),
        Some(_) => {
            // An atom, a space, a parenthesis, a line end: not a string. Cyrus puts it back.
            cur.unget();
            Ok((Vec::new(), None))
        }
        None => Ok((Vec::new(), None)),
    }
}

fn quoted_body(cur: &mut Cursor<'_>, max: usize) -> Result<(Vec<u8>, Option<u8>), TooLong> {
    let mut buf = Vec::new();
    loop {
        let c = match cur.getc() {
            // A backslash escapes any byte at all, CR included (Cyrus does not check).
            Some(b'\\') => match cur.getc() {
                Some(c) => c,
                None => return Ok((buf, None)),
            },
            Some(b'"') => return Ok((buf, cur.getc())),
            Some(b'\r') | Some(b'\n') => {
                cur.unget();
                return Ok((buf, None));
            }
            Some(c) => c,
            None => return Ok((buf, None)),
        };
        if c == 0 {
            // Cyrus keeps NUL and silently truncates the C string at it; a value cut short
            // behind the sender's back is worse than a refusal, so we refuse.
            return Ok((buf, None));
        }
        if buf.len() >= max {
            return Err(TooLong);
        }
        buf.push(c);
    }
}

fn literal_body(cur: &mut Cursor<'_>, max: usize) -> Result<(Vec<u8>, Option<u8>), TooLong> {
    let mut len: u64 = 0;
    let mut digits = 0usize;
    let mut c = cur.getc();
    while let Some(d @ b'0'..=b'9') = c {
        // Cyrus reads a 32-bit length and dies on more; anything past `max` is refused anyway.
        len = len
            .checked_mul(10)
            .and_then(|l| l.checked_add(u64::from(d - b'0')))
            .ok_or(TooLong)?;
        digits += 1;
        c = cur.getc();
    }
    if digits == 0 {
        if c.is_some() {
            cur.unget();
        }
        return Ok((Vec::new(), None));
    }
    if c == Some(b'+') {
        c = cur.getc();
    }
    for want in [b'}', b'\r', b'\n'] {
        if c != Some(want) {
            if c.is_some() {
                cur.unget();
            }
            return Ok((Vec::new(), None));
        }
        if want != b'\n' {
            c = cur.getc();
        }
    }
    if len > max as u64 {
        return Err(TooLong);
    }
    let len = len as usize; // fits: len <= max
    let rest = cur.rest();
    let Some(octets) = rest.get(..len) else {
        cur.skip(rest.len());
        return Ok((rest.to_vec(), None));
    };
    cur.skip(len);
    if memchr::memchr(0, octets).is_some() {
        // Cyrus consumes the octets, then refuses a literal holding NUL.
        return Ok((octets.to_vec(), None));
    }
    Ok((octets.to_vec(), cur.getc()))
}

/// Cyrus's end-of-command check: an optional CR then LF, and (because we parse one framed
/// message) nothing after it.
pub(crate) fn line_ends(cur: &mut Cursor<'_>, mut ch: Option<u8>) -> bool {
    if ch == Some(b'\r') {
        ch = cur.getc();
    }
    ch == Some(b'\n') && cur.at_end()
}

/// The message with its final line end (CRLF or LF) removed; `None` if it holds another LF.
pub(crate) fn single_line(msg: &[u8]) -> Option<&[u8]> {
    let line = msg.strip_suffix(b"\n").unwrap_or(msg);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if memchr::memchr(b'\n', line).is_some() {
        return None;
    }
    Some(line)
}

/// Whether `s` may be sent as a quoted string: no CR, LF or NUL.
pub fn can_quote(s: &[u8]) -> bool {
    memchr::memchr3(b'\r', b'\n', 0, s).is_none()
}

/// Writes a string argument in the chosen form. A value that cannot be quoted (CR or LF)
/// goes as a `{n+}` literal whatever the form. NUL cannot be carried at all: Cyrus refuses a
/// literal holding it, so callers must not send one.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], form: StringForm) {
    if form == StringForm::Quoted && can_quote(s) {
        write_quoted(out, s);
    } else {
        write_literal(out, s, LiteralMode::NonSync);
    }
}

/// Whether a SASL line (challenge or response) is plausible base64 text: `A-Z a-z 0-9 + / =`.
pub(crate) fn is_base64_text(s: &[u8]) -> bool {
    s.iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gs(i: &[u8]) -> (Vec<u8>, Option<u8>, Vec<u8>) {
        let mut c = Cursor::new(i);
        let (v, n) = getstring(&mut c, 1000).unwrap();
        (v, n, c.rest().to_vec())
    }

    #[test]
    fn strings_as_cyrus_reads_them() {
        assert_eq!(
            gs(b"\"a\\\"b\" x"),
            (b"a\"b".to_vec(), Some(b' '), b"x".to_vec())
        );
        // Any byte may be escaped, CR included.
        assert_eq!(gs(b"\"a\\\rb\"\n").0, b"a\rb");
        assert_eq!(gs(b"\"a\\qb\"").0, b"aqb");
        // Unterminated: the partial value, EOF, and the CR put back.
        assert_eq!(gs(b"\"ab\r\n"), (b"ab".to_vec(), None, b"\r\n".to_vec()));
        assert_eq!(
            gs(b"{3+}\r\nabc\r\n"),
            (b"abc".to_vec(), Some(b'\r'), b"\n".to_vec())
        );
        assert_eq!(
            gs(b"{3}\r\nabc "),
            (b"abc".to_vec(), Some(b' '), b"".to_vec())
        );
        // A literal needs CRLF after the brace, and no NUL in its octets.
        assert_eq!(gs(b"{3}\nabc").1, None);
        assert_eq!(
            gs(b"{3}\r\na\0c\r\n"),
            (b"a\0c".to_vec(), None, b"\r\n".to_vec())
        );
        assert_eq!(gs(b"{5}\r\nabc").1, None);
        assert_eq!(gs(b"{}\r\n").1, None);
        // Atoms are not strings; the first byte is put back.
        assert_eq!(gs(b"user.bob"), (vec![], None, b"user.bob".to_vec()));
        assert_eq!(gs(b"\"a\0b\"").1, None);
        let mut c = Cursor::new(b"{1073741824+}\r\n");
        assert_eq!(getstring(&mut c, 1000), Err(TooLong));
        let mut c = Cursor::new(b"{99999999999999999999999+}\r\n");
        assert_eq!(getstring(&mut c, 1000), Err(TooLong));
        let mut c = Cursor::new(b"\"abcdef\"");
        assert_eq!(getstring(&mut c, 3), Err(TooLong));
    }

    #[test]
    fn words_stop_where_cyrus_stops() {
        let mut c = Cursor::new(b"X01 FIND");
        assert_eq!(getword(&mut c), (&b"X01"[..], Some(b' ')));
        assert_eq!(getword(&mut c), (&b"FIND"[..], None));
        let mut c = Cursor::new(b"a(b");
        assert_eq!(getword(&mut c), (&b"a"[..], Some(b'(')));
        let mut c = Cursor::new(b"\tx");
        assert_eq!(getword(&mut c), (&b""[..], Some(b'\t')));
    }

    proptest! {
        #[test]
        fn strings_round_trip(s in proptest::collection::vec(1u8..=255, 0..200), quoted in any::<bool>()) {
            let form = if quoted { StringForm::Quoted } else { StringForm::Literal };
            let mut out = Vec::new();
            write_string(&mut out, &s, form);
            out.extend_from_slice(b"\r\n");
            let (v, n, rest) = gs(&out);
            prop_assert_eq!(v, s);
            prop_assert_eq!(n, Some(b'\r'));
            prop_assert_eq!(rest, b"\n".to_vec());
        }

        #[test]
        fn lexer_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut c = Cursor::new(&data);
            let _ = getword(&mut c);
            while !c.at_end() {
                match getstring(&mut c, 64) {
                    Ok((_, Some(_))) => {}
                    _ => { c.getc(); }
                }
            }
        }
    }
}
