//! The lexical layer shared by both directions: atoms, numbers, quoted strings and literals
//! (RFC 5804 §4), as nom parsers over one framed message, and their encoders.

use nom::branch::alt;
use nom::bytes::complete::{tag, take, take_while, take_while1};
use nom::character::complete::digit1;
use nom::combinator::{map_res, opt};
use nom::error::{Error as NomError, ErrorKind};
use nom::{IResult, Parser};

/// The longest quoted string the encoders produce; longer values go out as literals. RFC 5804
/// §4 lets servers refuse quoted strings over 1024 octets.
pub const MAX_QUOTED: usize = 1024;

/// How a literal is announced when encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiteralStyle {
    /// `{n}`: what servers send (RFC 5804 `literal-s2c`).
    Sync,
    /// `{n+}`: what clients send (RFC 5804 `literal-c2s`), so they never wait for the server.
    NonSync,
}

/// One element of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word: a command name, `OK`, `ACTIVE`, a number.
    Atom(String),
    /// A quoted string or a literal, decoded.
    Str(Vec<u8>),
}

fn is_atom_char(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'"' | b'(' | b')' | b'{' | b'}' | b'\\')
}

fn fail<T>(input: &[u8]) -> IResult<&[u8], T> {
    Err(nom::Err::Error(NomError::new(input, ErrorKind::Verify)))
}

/// An atom.
pub fn atom(input: &[u8]) -> IResult<&[u8], String> {
    let (rest, a) = take_while1(is_atom_char).parse(input)?;
    // Atom characters are ASCII, so this cannot fail; stay total anyway.
    match std::str::from_utf8(a) {
        Ok(s) => Ok((rest, s.to_string())),
        Err(_) => fail(input),
    }
}

/// A quoted string: `"` then characters, `\"` and `\\` escaped, then `"`. CR, LF and NUL are
/// not allowed inside.
pub fn quoted(input: &[u8]) -> IResult<&[u8], Vec<u8>> {
    let (mut rest, _) = tag(&b"\""[..]).parse(input)?;
    let mut out = Vec::new();
    loop {
        match rest.split_first() {
            Some((b'"', tail)) => return Ok((tail, out)),
            Some((b'\\', tail)) => match tail.split_first() {
                Some((&c @ (b'"' | b'\\'), tail)) => {
                    out.push(c);
                    rest = tail;
                }
                _ => return fail(rest),
            },
            Some((&c, tail)) if c != b'\r' && c != b'\n' && c != 0 => {
                out.push(c);
                rest = tail;
            }
            _ => return fail(rest),
        }
    }
}

/// A literal: `{n}` or `{n+}`, CRLF, then exactly `n` octets. The framer has already checked
/// `n` against the limits, so the octets are present in a framed message.
pub fn literal(input: &[u8]) -> IResult<&[u8], Vec<u8>> {
    let (rest, (_, n, _, _, _)) = (
        tag(&b"{"[..]),
        number,
        opt(tag(&b"+"[..])),
        tag(&b"}"[..]),
        alt((tag(&b"\r\n"[..]), tag(&b"\n"[..]))),
    )
        .parse(input)?;
    let n = usize::try_from(n)
        .map_err(|_| nom::Err::Error(NomError::new(input, ErrorKind::TooLarge)))?;
    let (rest, data) = take(n).parse(rest)?;
    Ok((rest, data.to_vec()))
}

/// A string: quoted or literal.
pub fn string(input: &[u8]) -> IResult<&[u8], Vec<u8>> {
    alt((quoted, literal)).parse(input)
}

/// A decimal number that fits in a `u64`.
pub fn number(input: &[u8]) -> IResult<&[u8], u64> {
    map_res(digit1, |d: &[u8]| {
        std::str::from_utf8(d)
            .map_err(|_| ())
            .and_then(|s| s.parse::<u64>().map_err(|_| ()))
    })
    .parse(input)
}

/// One token.
pub fn token(input: &[u8]) -> IResult<&[u8], Token> {
    alt((string.map(Token::Str), atom.map(Token::Atom))).parse(input)
}

/// The end of a message: CRLF (or a bare LF, which Cyrus also accepts) and nothing after it.
pub fn eol(input: &[u8]) -> IResult<&[u8], ()> {
    let (rest, _) = alt((tag(&b"\r\n"[..]), tag(&b"\n"[..]))).parse(input)?;
    if rest.is_empty() {
        Ok((rest, ()))
    } else {
        fail(rest)
    }
}

/// One or more spaces (Cyrus tolerates several between arguments).
pub fn sp(input: &[u8]) -> IResult<&[u8], ()> {
    take_while1(|b| b == b' ').map(|_| ()).parse(input)
}

/// Optional spaces.
pub fn osp(input: &[u8]) -> IResult<&[u8], ()> {
    take_while(|b| b == b' ').map(|_| ()).parse(input)
}

/// Whether `s` may be sent as a quoted string.
pub fn quotable(s: &[u8]) -> bool {
    s.len() <= MAX_QUOTED
        && !s.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
        && std::str::from_utf8(s).is_ok()
}

/// Appends `s` as a quoted string when it can be one, otherwise as a literal.
pub fn encode_string(out: &mut Vec<u8>, s: &[u8], style: LiteralStyle) {
    if quotable(s) {
        encode_quoted(out, s);
    } else {
        encode_literal(out, s, style);
    }
}

/// Appends `s` as a quoted string; the caller has checked [`quotable`].
pub fn encode_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Appends `s` as a literal: header, CRLF, the octets.
pub fn encode_literal(out: &mut Vec<u8>, s: &[u8], style: LiteralStyle) {
    let plus = match style {
        LiteralStyle::Sync => "",
        LiteralStyle::NonSync => "+",
    };
    out.extend_from_slice(format!("{{{}{plus}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}
