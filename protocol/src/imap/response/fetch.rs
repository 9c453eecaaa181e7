//! `* n FETCH (...)` data items (RFC 3501 §7.4.2, RFC 3516 BINARY, RFC 7162 CONDSTORE).

use std::num::NonZeroU32;

use super::body::{self, Body};
use super::envelope::{self, Envelope};
use super::lex::{self, write_num, PResult};
use crate::imap::syntax::{number, number64, nz_number, sp, write_literal, LiteralMode};
use crate::imap::types::{DateTime, Flag, Section};

/// One FETCH data item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    /// `FLAGS (...)`.
    Flags(Vec<Flag>),
    /// `INTERNALDATE "..."`.
    InternalDate(DateTime),
    /// `RFC822.SIZE n`.
    Rfc822Size(u32),
    /// `ENVELOPE (...)`.
    Envelope(Box<Envelope>),
    /// `BODYSTRUCTURE (...)`, with extension data.
    BodyStructure(Box<Body>),
    /// `BODY (...)`: the structure without extension data.
    Body(Box<Body>),
    /// `BODY[section]<origin> data`.
    BodySection {
        /// Which section.
        section: Section,
        /// First octet of a partial fetch.
        origin: Option<u32>,
        /// The octets, or `None` for `NIL`.
        data: Option<Vec<u8>>,
    },
    /// `BINARY[part]<origin> data` (RFC 3516); the data may have come as a `~{n}` literal.
    Binary {
        /// Part numbers (empty for the whole message).
        part: Vec<NonZeroU32>,
        /// First octet of a partial fetch.
        origin: Option<u32>,
        /// The decoded octets, or `None` for `NIL`.
        data: Option<Vec<u8>>,
    },
    /// `BINARY.SIZE[part] n` (RFC 3516).
    BinarySize {
        /// Part numbers.
        part: Vec<NonZeroU32>,
        /// Decoded size.
        size: u32,
    },
    /// `RFC822 data`: the whole message.
    Rfc822(Option<Vec<u8>>),
    /// `RFC822.HEADER data`.
    Rfc822Header(Option<Vec<u8>>),
    /// `RFC822.TEXT data`.
    Rfc822Text(Option<Vec<u8>>),
    /// `UID n`.
    Uid(u32),
    /// `MODSEQ (n)` (CONDSTORE).
    ModSeq(u64),
    /// Any other item (`EMAILID`, `PREVIEW`, `ANNOTATION`, `SAVEDATE`...), verbatim.
    Other(OtherItem),
}

/// An unrecognised FETCH item kept verbatim: its name (with any `[...]` section) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherItem {
    name: Vec<u8>,
    value: Vec<u8>,
}

impl OtherItem {
    /// Checks that `name SP value` is one well-formed item that this parser does not know.
    pub fn new(name: &[u8], value: &[u8]) -> Option<OtherItem> {
        let mut whole = name.to_vec();
        whole.push(b' ');
        whole.extend_from_slice(value);
        match item(&whole, 8) {
            Ok((rest, FetchItem::Other(o))) if rest.is_empty() && o.name == name => Some(o),
            _ => None,
        }
    }

    /// The item name as sent, e.g. `EMAILID` or `ANNOTATION`.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The value bytes as sent (may include literals).
    pub fn value(&self) -> &[u8] {
        &self.value
    }
}

fn part_numbers(i: &[u8]) -> PResult<'_, Vec<NonZeroU32>> {
    let mut i = lex::byte(i, b'[')?;
    let mut out = Vec::new();
    if let Some(rest) = i.strip_prefix(b"]") {
        return Ok((rest, out));
    }
    loop {
        let (rest, n) = nz_number(i)?;
        match NonZeroU32::new(n) {
            Some(n) => out.push(n),
            None => return lex::fail(i),
        }
        if let Some(rest) = rest.strip_prefix(b"]") {
            return Ok((rest, out));
        }
        i = lex::byte(rest, b'.')?;
    }
}

fn origin(i: &[u8]) -> PResult<'_, Option<u32>> {
    match i.strip_prefix(b"<") {
        None => Ok((i, None)),
        Some(r) => {
            let (r, n) = number(r)?;
            let r = lex::byte(r, b'>')?;
            Ok((r, Some(n)))
        }
    }
}

/// Parses one item: `name SP value`.
pub(super) fn item(i: &[u8], depth: usize) -> PResult<'_, FetchItem> {
    let start = i;
    let (after, name) = lex::word(i)?;
    let up = name.to_ascii_uppercase();
    let known: Option<PResult<'_, FetchItem>> = match up.as_slice() {
        b"FLAGS" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, f) = Flag::parse_list(r)?;
            Ok((r, FetchItem::Flags(f)))
        })()),
        b"INTERNALDATE" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, d) = DateTime::parse(r)?;
            Ok((r, FetchItem::InternalDate(d)))
        })()),
        b"RFC822.SIZE" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, n) = number(r)?;
            Ok((r, FetchItem::Rfc822Size(n)))
        })()),
        b"UID" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, n) = number(r)?;
            Ok((r, FetchItem::Uid(n)))
        })()),
        b"MODSEQ" => Some((|| {
            let (r, _) = sp(after)?;
            let r = lex::byte(r, b'(')?;
            let (r, n) = number64(r)?;
            let r = lex::byte(r, b')')?;
            Ok((r, FetchItem::ModSeq(n)))
        })()),
        b"ENVELOPE" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, e) = envelope::envelope(r, depth)?;
            Ok((r, FetchItem::Envelope(Box::new(e))))
        })()),
        b"BODYSTRUCTURE" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, b) = body::body(r, depth)?;
            Ok((r, FetchItem::BodyStructure(Box::new(b))))
        })()),
        b"BODY" if after.first() == Some(&b'[') => Some((|| {
            let (r, section) = Section::parse(after)?;
            let (r, origin) = origin(r)?;
            let (r, _) = sp(r)?;
            let (r, data) = lex::nstring(r)?;
            Ok((
                r,
                FetchItem::BodySection {
                    section,
                    origin,
                    data,
                },
            ))
        })()),
        b"BODY" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, b) = body::body(r, depth)?;
            Ok((r, FetchItem::Body(Box::new(b))))
        })()),
        b"BINARY" if after.first() == Some(&b'[') => Some((|| {
            let (r, part) = part_numbers(after)?;
            let (r, origin) = origin(r)?;
            let (r, _) = sp(r)?;
            let (r, data) = lex::nstring(r)?;
            Ok((r, FetchItem::Binary { part, origin, data }))
        })()),
        b"BINARY.SIZE" if after.first() == Some(&b'[') => Some((|| {
            let (r, part) = part_numbers(after)?;
            let (r, _) = sp(r)?;
            let (r, size) = number(r)?;
            Ok((r, FetchItem::BinarySize { part, size }))
        })()),
        b"RFC822" | b"RFC822.HEADER" | b"RFC822.TEXT" => Some((|| {
            let (r, _) = sp(after)?;
            let (r, data) = lex::nstring(r)?;
            Ok((
                r,
                match up.as_slice() {
                    b"RFC822" => FetchItem::Rfc822(data),
                    b"RFC822.HEADER" => FetchItem::Rfc822Header(data),
                    _ => FetchItem::Rfc822Text(data),
                },
            ))
        })()),
        _ => None,
    };
    if let Some(res) = known {
        return res;
    }
    // Unknown: the name, an optional `[...]` section and `<origin>`, a space, one value.
    let (mut r, _) = lex::word(start)?;
    if r.first() == Some(&b'[') {
        let Some(end) = memchr::memchr(b']', r) else {
            return lex::fail(r);
        };
        r = &r[end + 1..];
        let (r2, _) = origin(r)?;
        r = r2;
    }
    let name = &start[..start.len() - r.len()];
    let (r, _) = sp(r)?;
    let (r, value) = lex::raw_value(r, depth)?;
    Ok((
        r,
        FetchItem::Other(OtherItem {
            name: name.to_vec(),
            value: value.to_vec(),
        }),
    ))
}

/// Parses `"(" item *(SP item) ")"`.
pub(super) fn items(i: &[u8], depth: usize) -> PResult<'_, Vec<FetchItem>> {
    lex::paren_list(i, |i| item(i, depth))
}

fn write_data(out: &mut Vec<u8>, data: &Option<Vec<u8>>) {
    // Cyrus sends message data as a literal whatever its content.
    match data {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => write_literal(out, d, LiteralMode::Sync),
    }
}

fn write_parts(out: &mut Vec<u8>, part: &[NonZeroU32]) {
    out.push(b'[');
    for (n, p) in part.iter().enumerate() {
        if n > 0 {
            out.push(b'.');
        }
        write_num(out, u64::from(p.get()));
    }
    out.push(b']');
}

fn write_origin(out: &mut Vec<u8>, origin: Option<u32>) {
    if let Some(o) = origin {
        out.push(b'<');
        write_num(out, u64::from(o));
        out.push(b'>');
    }
}

impl FetchItem {
    /// Writes the item as Cyrus does.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FetchItem::Flags(f) => {
                out.extend_from_slice(b"FLAGS ");
                Flag::write_list(out, f);
            }
            FetchItem::InternalDate(d) => {
                out.extend_from_slice(b"INTERNALDATE ");
                d.write(out);
            }
            FetchItem::Rfc822Size(n) => {
                out.extend_from_slice(b"RFC822.SIZE ");
                write_num(out, u64::from(*n));
            }
            FetchItem::Envelope(e) => {
                out.extend_from_slice(b"ENVELOPE ");
                e.encode(out);
            }
            FetchItem::BodyStructure(b) => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                b.encode(out);
            }
            FetchItem::Body(b) => {
                out.extend_from_slice(b"BODY ");
                b.encode(out);
            }
            FetchItem::BodySection {
                section,
                origin,
                data,
            } => {
                out.extend_from_slice(b"BODY");
                section.write(out);
                write_origin(out, *origin);
                out.push(b' ');
                write_data(out, data);
            }
            FetchItem::Binary { part, origin, data } => {
                out.extend_from_slice(b"BINARY");
                write_parts(out, part);
                write_origin(out, *origin);
                out.push(b' ');
                match data {
                    // Decoded content may hold NUL, which only a `~{n}` literal can carry.
                    Some(d) if d.contains(&0) => {
                        out.push(b'~');
                        write_literal(out, d, LiteralMode::Sync);
                    }
                    _ => write_data(out, data),
                }
            }
            FetchItem::BinarySize { part, size } => {
                out.extend_from_slice(b"BINARY.SIZE");
                write_parts(out, part);
                out.push(b' ');
                write_num(out, u64::from(*size));
            }
            FetchItem::Rfc822(d) => {
                out.extend_from_slice(b"RFC822 ");
                write_data(out, d);
            }
            FetchItem::Rfc822Header(d) => {
                out.extend_from_slice(b"RFC822.HEADER ");
                write_data(out, d);
            }
            FetchItem::Rfc822Text(d) => {
                out.extend_from_slice(b"RFC822.TEXT ");
                write_data(out, d);
            }
            FetchItem::Uid(n) => {
                out.extend_from_slice(b"UID ");
                write_num(out, u64::from(*n));
            }
            FetchItem::ModSeq(n) => {
                out.extend_from_slice(b"MODSEQ (");
                write_num(out, *n);
                out.push(b')');
            }
            FetchItem::Other(o) => {
                out.extend_from_slice(&o.name);
                out.push(b' ');
                out.extend_from_slice(&o.value);
            }
        }
    }
}
