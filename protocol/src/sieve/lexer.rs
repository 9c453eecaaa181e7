//! RFC 5228 §8.1 lexical tokens: identifiers, tags, numbers with K/M/G, quoted and multi-line
//! strings, punctuation; white space and both comment forms are skipped.
//!
//! Each token is recognised by a nom parser over the remaining bytes; the lexer keeps the byte
//! offset of every token so errors can name a line and column.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::{opt, recognize};
use nom::sequence::pair;
use nom::{IResult, Parser};

use super::{CompileError, Limits};

/// One token and where it starts (byte offset into the script).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub at: usize,
}

/// The kinds of token of RFC 5228 §8.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Identifier(String),
    /// A tag, stored without its colon and lower-cased (tags are case-insensitive).
    Tag(String),
    Number(u64),
    String(String),
    Punct(u8),
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Identifier(s) => format!("identifier \"{s}\""),
            Tok::Tag(s) => format!("tag \":{s}\""),
            Tok::Number(n) => format!("number {n}"),
            Tok::String(_) => "string".to_string(),
            Tok::Punct(c) => format!("\"{}\"", char::from(*c)),
        }
    }
}

type Res<'a, T> = IResult<&'a [u8], T>;

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// identifier = (ALPHA / "_") *(ALPHA / DIGIT / "_")
fn identifier(i: &[u8]) -> Res<'_, &[u8]> {
    recognize(pair(take_while1(is_ident_start), take_while(is_ident_char))).parse(i)
}

/// number = 1*DIGIT [ QUANTIFIER ]
fn number(i: &[u8]) -> Res<'_, (&[u8], Option<&[u8]>)> {
    pair(
        take_while1(|b: u8| b.is_ascii_digit()),
        opt(alt((
            tag("K"),
            tag("k"),
            tag("M"),
            tag("m"),
            tag("G"),
            tag("g"),
        ))),
    )
    .parse(i)
}

/// Where the white space and comments at the start of `i` end; an unterminated bracket comment
/// is an error at its start.
fn skip_blank(src: &[u8], mut at: usize) -> Result<usize, CompileError> {
    loop {
        let rest = src.get(at..).unwrap_or_default();
        match rest.first() {
            Some(b' ' | b'\t' | b'\r' | b'\n') => at += 1,
            Some(b'#') => {
                at += memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
            }
            Some(b'/') if rest.get(1) == Some(&b'*') => {
                let body = rest.get(2..).unwrap_or_default();
                match memchr::memmem::find(body, b"*/") {
                    Some(end) => at += 2 + end + 2,
                    None => return Err(CompileError::at(src, at, "unterminated /* comment")),
                }
            }
            _ => return Ok(at),
        }
    }
}

/// Turns script bytes into tokens, enforcing the size and string-length limits.
pub(crate) fn tokenize(src: &[u8], limits: &Limits) -> Result<Vec<Token>, CompileError> {
    if src.len() > limits.max_script_size {
        return Err(CompileError::at(
            src,
            0,
            format!("script is longer than {} bytes", limits.max_script_size),
        ));
    }
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        at = skip_blank(src, at)?;
        let rest = src.get(at..).unwrap_or_default();
        let Some(&first) = rest.first() else {
            return Ok(out);
        };
        let (kind, len) = match first {
            b';' | b',' | b'[' | b']' | b'(' | b')' | b'{' | b'}' => (Tok::Punct(first), 1),
            b'"' => {
                let (s, len) = quoted(src, at, limits)?;
                (Tok::String(s), len)
            }
            b':' => match identifier(rest.get(1..).unwrap_or_default()) {
                Ok((_, id)) => (
                    Tok::Tag(String::from_utf8_lossy(id).to_ascii_lowercase()),
                    id.len() + 1,
                ),
                Err(_) => return Err(CompileError::at(src, at, "\":\" must start a tag")),
            },
            b'0'..=b'9' => {
                let Ok((_, (digits, quant))) = number(rest) else {
                    return Err(CompileError::at(src, at, "bad number"));
                };
                let shift = match quant.and_then(|q| q.first()).map(u8::to_ascii_uppercase) {
                    Some(b'K') => 10,
                    Some(b'M') => 20,
                    Some(b'G') => 30,
                    _ => 0,
                };
                let value = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok())
                    .and_then(|v| v.checked_mul(1u64 << shift))
                    .filter(|v| *v <= u64::from(u32::MAX) * 1024)
                    .ok_or_else(|| CompileError::at(src, at, "number too large"))?;
                (
                    Tok::Number(value),
                    digits.len() + quant.map_or(0, <[u8]>::len),
                )
            }
            _ => match identifier(rest) {
                Ok((after, id)) => {
                    if id.eq_ignore_ascii_case(b"text") && after.first() == Some(&b':') {
                        let (s, len) = multiline(src, at, limits)?;
                        (Tok::String(s), len)
                    } else {
                        (
                            Tok::Identifier(String::from_utf8_lossy(id).to_ascii_lowercase()),
                            id.len(),
                        )
                    }
                }
                Err(_) => {
                    let c = String::from_utf8_lossy(rest.get(..1).unwrap_or_default()).into_owned();
                    return Err(CompileError::at(
                        src,
                        at,
                        format!("unexpected character {c:?}"),
                    ));
                }
            },
        };
        out.push(Token { kind, at });
        if out.len() > limits.max_tokens {
            return Err(CompileError::at(src, at, "script has too many tokens"));
        }
        at += len;
    }
}

/// A quoted string starting at `at` (on its `"`): its value and its length in the script.
/// `\"` and `\\` are escapes; any other backslash is dropped (RFC 5228 §2.4.2).
fn quoted(src: &[u8], at: usize, limits: &Limits) -> Result<(String, usize), CompileError> {
    let body = src.get(at + 1..).unwrap_or_default();
    let mut value = Vec::new();
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'"' => {
                let s = utf8(src, at, value)?;
                return Ok((s, i + 2));
            }
            b'\\' => {
                match body.get(i + 1) {
                    Some(&c) => value.push(c),
                    None => break,
                }
                i += 2;
            }
            _ => {
                value.push(b);
                i += 1;
            }
        }
        if value.len() > limits.max_string_len {
            return Err(CompileError::at(
                src,
                at,
                format!("string is longer than {} bytes", limits.max_string_len),
            ));
        }
    }
    Err(CompileError::at(src, at, "unterminated string"))
}

/// A `text:` multi-line string starting at `at` (on the `t`): its value, with the dot-stuffing
/// undone, and its length in the script.
fn multiline(src: &[u8], at: usize, limits: &Limits) -> Result<(String, usize), CompileError> {
    let start = at + 5; // after "text:"
    let rest = src.get(start..).unwrap_or_default();
    // Blanks, then an optional hash comment, then the line end.
    let blanks = rest
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(rest.len());
    let after = rest.get(blanks..).unwrap_or_default();
    let first_line_end = match after.first() {
        Some(b'#') | Some(b'\r') | Some(b'\n') => memchr::memchr(b'\n', after),
        _ => None,
    };
    let Some(nl) = first_line_end else {
        return Err(CompileError::at(
            src,
            at,
            "\"text:\" must be followed by a line break",
        ));
    };
    let mut pos = start + blanks + nl + 1;
    let mut value = Vec::new();
    loop {
        let rest = src.get(pos..).unwrap_or_default();
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            return Err(CompileError::at(src, at, "unterminated multi-line string"));
        };
        let line = rest.get(..nl + 1).unwrap_or_default();
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        pos += nl + 1;
        if content == b"." {
            let s = utf8(src, at, value)?;
            return Ok((s, pos - at));
        }
        // A line starting with a dot had one added by the writer (dot-stuffing).
        let line = if line.starts_with(b".") {
            line.get(1..).unwrap_or_default()
        } else {
            line
        };
        value.extend_from_slice(line);
        if value.len() > limits.max_string_len {
            return Err(CompileError::at(
                src,
                at,
                format!("string is longer than {} bytes", limits.max_string_len),
            ));
        }
    }
}

fn utf8(src: &[u8], at: usize, v: Vec<u8>) -> Result<String, CompileError> {
    String::from_utf8(v).map_err(|_| CompileError::at(src, at, "string is not valid UTF-8"))
}
