//! Small parsing and writing helpers shared by the response submodules, on top of
//! [`crate::imap::syntax`]. Values are copied out of the message exactly once, here.

use nom::error::{Error, ErrorKind};
use nom::Parser;

use crate::imap::syntax::{self, is_atom_char};

pub(super) use crate::imap::syntax::PResult;

/// The nom error kind used (with `nom::Err::Failure`) to report nesting beyond the limit, so
/// that it is not confused with an ordinary syntax error on the way up.
pub(super) const DEPTH_KIND: ErrorKind = ErrorKind::TooLarge;

pub(super) fn fail<T>(i: &[u8]) -> PResult<'_, T> {
    Err(nom::Err::Error(Error::new(i, ErrorKind::Verify)))
}

/// Fails with the depth error when `depth` is exhausted.
pub(super) fn depth_guard(i: &[u8], depth: usize) -> PResult<'_, ()> {
    if depth == 0 {
        return Err(nom::Err::Failure(Error::new(i, DEPTH_KIND)));
    }
    Ok((i, ()))
}

/// Expects one byte; returns the rest.
pub(super) fn byte(i: &[u8], b: u8) -> Result<&[u8], nom::Err<Error<&[u8]>>> {
    match i.split_first() {
        Some((&c, rest)) if c == b => Ok(rest),
        _ => Err(nom::Err::Error(Error::new(i, ErrorKind::Char))),
    }
}

/// If `i` starts with `NIL` (any case) not followed by an atom char, the rest.
pub(super) fn nil_or(i: &[u8]) -> Option<&[u8]> {
    let head = i.get(..3)?;
    if head.eq_ignore_ascii_case(b"NIL") && !i.get(3).is_some_and(|&b| is_atom_char(b)) {
        i.get(3..)
    } else {
        None
    }
}

/// An atom token, without `[` (so `BODY[` splits into name and section).
pub(super) fn word(i: &[u8]) -> PResult<'_, &[u8]> {
    nom::bytes::complete::take_while1(|b| is_atom_char(b) && b != b'[').parse(i)
}

/// A keyword, case-insensitively, that must end at a non-atom char.
pub(super) fn keyword<'a>(i: &'a [u8], kw: &[u8]) -> Option<&'a [u8]> {
    let head = i.get(..kw.len())?;
    if head.eq_ignore_ascii_case(kw) && !i.get(kw.len()).is_some_and(|&b| is_atom_char(b)) {
        i.get(kw.len()..)
    } else {
        None
    }
}

/// [`keyword`] as a parser step.
pub(super) fn expect_keyword<'a>(
    i: &'a [u8],
    kw: &[u8],
) -> Result<&'a [u8], nom::Err<Error<&'a [u8]>>> {
    keyword(i, kw).ok_or_else(|| nom::Err::Error(Error::new(i, ErrorKind::Tag)))
}

pub(super) fn nstring(i: &[u8]) -> PResult<'_, Option<Vec<u8>>> {
    syntax::nstring(i).map(|(r, s)| (r, s.map(|s| s.into_owned())))
}

pub(super) fn string(i: &[u8]) -> PResult<'_, Vec<u8>> {
    syntax::string(i).map(|(r, s)| (r, s.into_owned()))
}

pub(super) fn astring(i: &[u8]) -> PResult<'_, Vec<u8>> {
    syntax::astring(i).map(|(r, s)| (r, s.into_owned()))
}

/// A parenthesised list of `item`s separated by single spaces; `()` is allowed.
pub(super) fn paren_list<'a, T>(
    i: &'a [u8],
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let mut i = byte(i, b'(')?;
    let mut out = Vec::new();
    if let Some(rest) = i.strip_prefix(b")") {
        return Ok((rest, out));
    }
    loop {
        let (rest, v) = item(i)?;
        out.push(v);
        if let Some(rest) = rest.strip_prefix(b")") {
            return Ok((rest, out));
        }
        i = byte(rest, b' ')?;
    }
}

/// Skips one generic value (number, atom, string, `NIL`, or a parenthesised list of values,
/// possibly with `[...]` sections inside atoms) and returns the bytes it spans. Used to carry
/// unknown FETCH items and codes verbatim.
pub(super) fn raw_value(i: &[u8], depth: usize) -> PResult<'_, &[u8]> {
    depth_guard(i, depth)?;
    let start = i;
    let rest = match i.first() {
        Some(b'(') => {
            let mut j = &i[1..];
            loop {
                if let Some(r) = j.strip_prefix(b")") {
                    break r;
                }
                let (r, _) = raw_value(j, depth - 1)?;
                j = match r.first() {
                    Some(b' ') => &r[1..],
                    Some(b')') => r,
                    _ => return fail(r),
                };
            }
        }
        _ if syntax::starts_string(i) => syntax::string(i)?.0,
        _ => {
            // An atom, possibly with a bracketed section (`BODY[1.MIME]`) and `<origin>`.
            let (mut r, _) =
                nom::bytes::complete::take_while1(|b: u8| is_atom_char(b) || b == b'\\')
                    .parse(i)?;
            if r.first() == Some(&b'[') {
                let end = memchr::memchr(b']', r)
                    .ok_or_else(|| nom::Err::Error(Error::new(r, ErrorKind::Char)))?;
                r = &r[end + 1..];
                let (r2, _) = nom::bytes::complete::take_while(|b: u8| is_atom_char(b)).parse(r)?;
                r = r2;
            }
            r
        }
    };
    let used = start.len() - rest.len();
    Ok((rest, &start[..used]))
}

/// Writes a decimal number without allocating.
pub(super) fn write_num(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = n;
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[pos..]);
}
