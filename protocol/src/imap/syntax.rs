//! IMAP's lexical layer (RFC 3501 §9, RFC 9051 §9): atoms, numbers, quoted strings, literals,
//! astrings and nstrings, as nom parsers over a whole framed message, and the matching encoders.
//!
//! Parsers work on a complete message from [`super::framing`], so a literal's octets are always
//! present: a literal announcement without its octets is an error here, not "incomplete".
//!
//! ```
//! use protocol::imap::syntax::{astring, write_astring, LiteralMode};
//!
//! let (rest, s) = astring(b"\"hello \\\"you\\\"\" tail").unwrap();
//! assert_eq!(&s[..], b"hello \"you\"");
//! assert_eq!(rest, b" tail");
//!
//! let mut out = Vec::new();
//! write_astring(&mut out, b"two words", LiteralMode::Sync);
//! assert_eq!(out, b"\"two words\"");
//! ```

use std::borrow::Cow;

use nom::bytes::complete::{tag, take_while1};
use nom::error::{Error, ErrorKind};
use nom::{IResult, Parser};

/// Result of a lexical parser over bytes.
pub type PResult<'a, T> = IResult<&'a [u8], T>;

fn fail<T>(i: &[u8], kind: ErrorKind) -> PResult<'_, T> {
    Err(nom::Err::Error(Error::new(i, kind)))
}

/// `ATOM-CHAR`: any CHAR except atom-specials (`(){ %*"\]`, CTLs and SP).
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR`: an atom char or `]`.
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// A tag character: an astring char other than `+`.
pub fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// A list-mailbox character: an atom char, a list wildcard (`%`, `*`) or `]`.
pub fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// One or more atom characters.
pub fn atom(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(is_atom_char).parse(i)
}

/// A command tag.
pub fn tag_token(i: &[u8]) -> PResult<'_, &[u8]> {
    take_while1(is_tag_char).parse(i)
}

/// A single space.
pub fn sp(i: &[u8]) -> PResult<'_, &[u8]> {
    tag(&b" "[..]).parse(i)
}

/// The end of a line: CRLF, or a bare LF (which Cyrus accepts).
pub fn crlf(i: &[u8]) -> PResult<'_, &[u8]> {
    if let Some(rest) = i.strip_prefix(b"\r\n") {
        return Ok((rest, &i[..2]));
    }
    if let Some(rest) = i.strip_prefix(b"\n") {
        return Ok((rest, &i[..1]));
    }
    fail(i, ErrorKind::CrLf)
}

/// `number`: up to 32 bits, no sign.
pub fn number(i: &[u8]) -> PResult<'_, u32> {
    let (rest, n) = number64(i)?;
    match u32::try_from(n) {
        Ok(n) => Ok((rest, n)),
        Err(_) => fail(i, ErrorKind::TooLarge),
    }
}

/// `nz-number`: a non-zero 32-bit number.
pub fn nz_number(i: &[u8]) -> PResult<'_, u32> {
    let (rest, n) = number(i)?;
    if n == 0 {
        return fail(i, ErrorKind::Verify);
    }
    Ok((rest, n))
}

/// `number64` (RFC 9051): up to 63 bits.
pub fn number64(i: &[u8]) -> PResult<'_, u64> {
    let (rest, digits) = take_while1(|b: u8| b.is_ascii_digit()).parse(i)?;
    let mut n: u64 = 0;
    for &d in digits {
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
        {
            Some(n) if n <= i64::MAX as u64 => n,
            _ => return fail(i, ErrorKind::TooLarge),
        };
    }
    Ok((rest, n))
}

/// A quoted string, unescaped. A backslash escapes the next byte (Cyrus accepts any byte there);
/// CR, LF and NUL are not allowed inside.
pub fn quoted(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    let Some(body) = i.strip_prefix(b"\"") else {
        return fail(i, ErrorKind::Char);
    };
    let mut escaped = false;
    let mut has_escape = false;
    for (n, &b) in body.iter().enumerate() {
        match b {
            b'\r' | b'\n' | 0 => return fail(i, ErrorKind::Escaped),
            _ if escaped => escaped = false,
            b'\\' => {
                escaped = true;
                has_escape = true;
            }
            b'"' => {
                let raw = &body[..n];
                let rest = &body[n + 1..];
                if !has_escape {
                    return Ok((rest, Cow::Borrowed(raw)));
                }
                let mut out = Vec::with_capacity(raw.len());
                let mut esc = false;
                for &c in raw {
                    if !esc && c == b'\\' {
                        esc = true;
                    } else {
                        out.push(c);
                        esc = false;
                    }
                }
                return Ok((rest, Cow::Owned(out)));
            }
            _ => {}
        }
    }
    fail(i, ErrorKind::Eof)
}

/// A literal, `{n}`, `{n+}` (LITERAL+), `~{n}` (BINARY) then CRLF and n octets. The framer has
/// already bounded `n`, so the octets are in `i` or this fails.
pub fn literal(i: &[u8]) -> PResult<'_, &[u8]> {
    let start = i.strip_prefix(b"~").unwrap_or(i);
    let Some(after) = start.strip_prefix(b"{") else {
        return fail(i, ErrorKind::Char);
    };
    let (after, n) = number64(after)?;
    let after = after.strip_prefix(b"+").unwrap_or(after);
    let Some(after) = after.strip_prefix(b"}") else {
        return fail(i, ErrorKind::Char);
    };
    let (after, _) = crlf(after)?;
    match usize::try_from(n) {
        Ok(n) if n <= after.len() => Ok((&after[n..], &after[..n])),
        _ => fail(i, ErrorKind::Eof),
    }
}

/// `string`: quoted or literal.
pub fn string(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    match i.first() {
        Some(b'"') => quoted(i),
        Some(b'{') | Some(b'~') => literal(i).map(|(r, s)| (r, Cow::Borrowed(s))),
        _ => fail(i, ErrorKind::Alt),
    }
}

/// Whether `i` starts a quoted string or a literal rather than an atom. `~` is an atom char, so
/// it starts a (binary) literal only when `{` follows: `~bob` is an atom. Code that dispatches
/// on a value's first byte should use this rather than testing for `~` alone.
pub fn starts_string(i: &[u8]) -> bool {
    matches!(i, [b'"' | b'{', ..] | [b'~', b'{', ..])
}

/// `astring`: 1*ASTRING-CHAR or a string.
pub fn astring(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    if starts_string(i) {
        string(i)
    } else {
        take_while1(is_astring_char)
            .parse(i)
            .map(|(r, s)| (r, Cow::Borrowed(s)))
    }
}

/// `nstring`: `NIL` or a string.
pub fn nstring(i: &[u8]) -> PResult<'_, Option<Cow<'_, [u8]>>> {
    if i.len() >= 3
        && i[..3].eq_ignore_ascii_case(b"NIL")
        && !i.get(3).is_some_and(|&b| is_atom_char(b))
    {
        return Ok((&i[3..], None));
    }
    string(i).map(|(r, s)| (r, Some(s)))
}

/// `list-mailbox`: 1*list-char or a string (LIST/LSUB patterns).
pub fn list_mailbox(i: &[u8]) -> PResult<'_, Cow<'_, [u8]>> {
    if starts_string(i) {
        string(i)
    } else {
        take_while1(is_list_char)
            .parse(i)
            .map(|(r, s)| (r, Cow::Borrowed(s)))
    }
}

/// Whether a value can be sent as an atom (also used for astrings: a bare `NIL` would be read
/// as nil in an nstring position, so it is never sent bare). A leading `~` is fine: `{` is not
/// an astring char, so an atom can never look like the start of a binary literal `~{`.
pub fn can_be_atom(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL")
}

/// Whether a value can be sent as a quoted string.
pub fn can_be_quoted(s: &[u8]) -> bool {
    s.len() <= 1024
        && s.iter()
            .all(|&b| b != b'\r' && b != b'\n' && b != 0 && b < 0x80)
}

/// Which literal form an encoder uses when it must send one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralMode {
    /// `{n}`: the sender must wait for `+` (the caller handles the wait).
    Sync,
    /// `{n+}`: LITERAL+ / LITERAL-, or any server-to-client literal written as Cyrus does.
    NonSync,
}

/// Writes `"..."` with `"` and `\` escaped.
pub fn write_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Writes a literal header, CRLF and the octets.
pub fn write_literal(out: &mut Vec<u8>, s: &[u8], mode: LiteralMode) {
    out.push(b'{');
    out.extend_from_slice(s.len().to_string().as_bytes());
    if mode == LiteralMode::NonSync {
        out.push(b'+');
    }
    out.extend_from_slice(b"}\r\n");
    out.extend_from_slice(s);
}

/// Writes a string: quoted when possible, otherwise a literal.
pub fn write_string(out: &mut Vec<u8>, s: &[u8], mode: LiteralMode) {
    if can_be_quoted(s) {
        write_quoted(out, s);
    } else {
        write_literal(out, s, mode);
    }
}

/// Writes an astring: an atom when possible, otherwise as [`write_string`].
pub fn write_astring(out: &mut Vec<u8>, s: &[u8], mode: LiteralMode) {
    if can_be_atom(s) {
        out.extend_from_slice(s);
    } else {
        write_string(out, s, mode);
    }
}

/// Writes an nstring: `NIL` for `None`.
pub fn write_nstring(out: &mut Vec<u8>, s: Option<&[u8]>, mode: LiteralMode) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) => write_string(out, s, mode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        assert_eq!(atom(b"LOGIN x").unwrap(), (&b" x"[..], &b"LOGIN"[..]));
        assert_eq!(tag_token(b"a+b").unwrap().1, b"a");
        assert_eq!(number(b"4294967295 ").unwrap().1, u32::MAX);
        assert!(number(b"4294967296").is_err());
        assert!(nz_number(b"0").is_err());
        assert_eq!(quoted(b"\"a\\\\b\"").unwrap().1.as_ref(), b"a\\b");
        assert!(quoted(b"\"a\r\nb\"").is_err());
        assert!(quoted(b"\"unterminated").is_err());
        assert_eq!(
            literal(b"{3}\r\nabc rest").unwrap(),
            (&b" rest"[..], &b"abc"[..])
        );
        assert_eq!(literal(b"{3+}\r\nabc").unwrap().1, b"abc");
        assert_eq!(literal(b"~{1}\r\n\0").unwrap().1, b"\0");
        assert!(literal(b"{5}\r\nabc").is_err());
        assert!(literal(b"{99999999999999999999}\r\n").is_err());
        assert_eq!(nstring(b"NIL)").unwrap(), (&b")"[..], None));
        assert_eq!(nstring(b"nil ").unwrap().1, None);
        assert!(nstring(b"NILS").is_err());
        assert_eq!(
            astring(b"INBOX.Sent]x ").unwrap().1.as_ref(),
            b"INBOX.Sent]x"
        );
        assert_eq!(list_mailbox(b"user.%.* ").unwrap().1.as_ref(), b"user.%.*");
        assert_eq!(crlf(b"\n").unwrap().1, b"\n");
    }

    #[test]
    fn encoders_pick_the_lightest_form() {
        let mut o = Vec::new();
        write_astring(&mut o, b"INBOX", LiteralMode::Sync);
        o.push(b' ');
        write_astring(&mut o, b"", LiteralMode::Sync);
        o.push(b' ');
        write_astring(&mut o, b"NIL", LiteralMode::Sync);
        o.push(b' ');
        write_astring(&mut o, b"a\r\nb", LiteralMode::NonSync);
        assert_eq!(o, b"INBOX \"\" \"NIL\" {4+}\r\na\r\nb");
    }

    #[test]
    fn an_atom_starting_with_tilde_is_not_a_binary_literal() {
        let mut o = Vec::new();
        write_astring(&mut o, b"~bob", LiteralMode::Sync);
        assert_eq!(o, b"~bob");
        assert_eq!(
            astring(b"~bob ").unwrap(),
            (&b" "[..], Cow::Borrowed(&b"~bob"[..]))
        );
        assert_eq!(astring(b"~ ").unwrap().1.as_ref(), b"~");
        assert_eq!(list_mailbox(b"~bob.% ").unwrap().1.as_ref(), b"~bob.%");
        assert_eq!(astring(b"~{2}\r\nab").unwrap().1.as_ref(), b"ab");
        assert_eq!(list_mailbox(b"~{1}\r\n*").unwrap().1.as_ref(), b"*");
        assert!(astring(b"~{2}\r\na").is_err());
    }

    #[test]
    fn select_of_a_mailbox_starting_with_tilde_parses() {
        use crate::imap::command::{Command, CommandBody};
        let cmd = Command::parse(b"a1 SELECT ~bob\r\n").unwrap();
        assert!(
            matches!(&cmd.body, CommandBody::Select { mailbox, .. } if mailbox == b"~bob"),
            "{cmd:?}"
        );
    }

    proptest! {
        #[test]
        fn astring_round_trips(s in proptest::collection::vec(any::<u8>(), 0..300), sync in any::<bool>()) {
            let mode = if sync { LiteralMode::Sync } else { LiteralMode::NonSync };
            let mut o = Vec::new();
            write_astring(&mut o, &s, mode);
            o.extend_from_slice(b" ");
            let (rest, back) = astring(&o).unwrap();
            prop_assert_eq!(rest, b" ");
            prop_assert_eq!(back.as_ref(), &s[..]);
        }

        #[test]
        fn nstring_round_trips(s in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50))) {
            let mut o = Vec::new();
            write_nstring(&mut o, s.as_deref(), LiteralMode::NonSync);
            let (rest, back) = nstring(&o).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back.as_deref(), s.as_deref());
        }

        #[test]
        fn lexers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = atom(&data);
            let _ = number(&data);
            let _ = number64(&data);
            let _ = quoted(&data);
            let _ = literal(&data);
            let _ = string(&data);
            let _ = astring(&data);
            let _ = nstring(&data);
            let _ = list_mailbox(&data);
        }
    }
}
