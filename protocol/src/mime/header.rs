//! RFC 5322 header blocks: where the header ends, its fields in order, unfolding, lookup, and the
//! `HEADER.FIELDS` filter.
//!
//! Everything here borrows from the message. A line that is not a field (no colon, or a bare
//! continuation before any field) is skipped rather than rejected: stored mail is whatever an MTA
//! accepted, and a FETCH must still answer.

use std::borrow::Cow;

/// Splits a message (or a MIME part) at its first empty line.
///
/// Returns `(header, body)`: the header includes the empty line that ends it (so it can be sent
/// as `BODY[HEADER]`), the body is everything after. With no empty line, the whole input is header
/// and the body is empty. Both CRLF and bare LF line ends are understood.
pub fn split(msg: &[u8]) -> (&[u8], &[u8]) {
    // An empty line at the very start: no header fields at all.
    if msg.starts_with(b"\r\n") {
        return msg.split_at(2);
    }
    if msg.starts_with(b"\n") {
        return msg.split_at(1);
    }
    let mut from = 0;
    while let Some(off) = msg.get(from..).and_then(|r| memchr::memchr(b'\n', r)) {
        let lf = from + off;
        let rest = msg.get(lf + 1..).unwrap_or_default();
        if rest.starts_with(b"\r\n") {
            return msg.split_at(lf + 3);
        }
        if rest.starts_with(b"\n") {
            return msg.split_at(lf + 2);
        }
        from = lf + 1;
    }
    (msg, &[])
}

/// One header field, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    name: &'a [u8],
    value: &'a [u8],
    raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// The field name as written (`Subject`, `cc`...), without trailing blanks.
    pub fn name(&self) -> &'a [u8] {
        self.name
    }

    /// The raw value: everything after the colon, folds included, final line end excluded.
    pub fn raw_value(&self) -> &'a [u8] {
        self.value
    }

    /// The whole field as it stands in the message, including its final line end (if any).
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the name is `name`, ignoring ASCII case.
    pub fn is(&self, name: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value unfolded (line breaks before whitespace removed) and trimmed of surrounding
    /// whitespace: what ENVELOPE sends and what the MIME parsers read.
    pub fn value(&self) -> Cow<'a, [u8]> {
        unfold(trim(self.value))
    }
}

/// Removes the CR/LF of every fold, keeping the whitespace that follows it (RFC 5322 §2.2.3).
/// Borrows when there is nothing to remove.
pub fn unfold(v: &[u8]) -> Cow<'_, [u8]> {
    if !v.iter().any(|&b| b == b'\r' || b == b'\n') {
        return Cow::Borrowed(v);
    }
    Cow::Owned(
        v.iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect(),
    )
}

/// Trims ASCII whitespace (including CR and LF) from both ends.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    v.get(start..end).unwrap_or_default()
}

/// An iterator over the fields of a header block (as returned by [`split`]).
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
}

/// Iterates over the fields of `header`, in order.
pub fn fields(header: &[u8]) -> Fields<'_> {
    Fields { rest: header }
}

/// Splits off one line including its terminator.
fn take_line(i: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'\n', i) {
        Some(p) => i.split_at(p + 1),
        None => (i, &[]),
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let start = self.rest;
            let (first, mut rest) = take_line(start);
            // Continuation lines belong to the field before; one with no field before it, or a
            // line without a colon, is noise to step over.
            let colon = memchr::memchr(b':', first);
            let is_cont = first.first().is_some_and(|&b| b == b' ' || b == b'\t');
            let blank = first == b"\r\n" || first == b"\n";
            let Some(colon) = colon.filter(|_| !is_cont && !blank) else {
                self.rest = rest;
                continue;
            };
            let mut len = first.len();
            while rest.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                let (line, r) = take_line(rest);
                len += line.len();
                rest = r;
            }
            self.rest = rest;
            let raw = start.get(..len).unwrap_or_default();
            let name = trim(raw.get(..colon).unwrap_or_default());
            let mut value = raw.get(colon + 1..).unwrap_or_default();
            if let Some(v) = value.strip_suffix(b"\n") {
                value = v.strip_suffix(b"\r").unwrap_or(v);
            }
            // A name with whitespace inside is not a field name (e.g. an mbox `From ` line).
            if name.is_empty() || name.iter().any(|&b| b == b' ' || b == b'\t') {
                continue;
            }
            return Some(Field { name, value, raw });
        }
    }
}

/// All fields of a message's top-level header, in order, with raw values.
///
/// ```
/// let msg = b"Subject: hi\r\n there\r\nTo: a@b.c\r\n\r\nbody";
/// let h = protocol::mime::headers(msg);
/// assert_eq!(h.len(), 2);
/// assert_eq!(h[0].name(), b"Subject");
/// assert_eq!(h[0].raw_value(), b" hi\r\n there");
/// assert_eq!(&*h[0].value(), b"hi there");
/// ```
pub fn headers(msg: &[u8]) -> Vec<Field<'_>> {
    fields(split(msg).0).collect()
}

/// The first field called `name` (any case) in `header`.
pub fn first<'a>(header: &'a [u8], name: &[u8]) -> Option<Field<'a>> {
    fields(header).find(|f| f.is(name))
}

/// The last field called `name`: where a header occurs twice, Cyrus's ENVELOPE and MIME parsing
/// keep the later one, and so do we.
pub fn last<'a>(header: &'a [u8], name: &[u8]) -> Option<Field<'a>> {
    fields(header).filter(|f| f.is(name)).last()
}

/// Every field called `name`, in order.
pub fn all<'a, 'n>(header: &'a [u8], name: &'n [u8]) -> impl Iterator<Item = Field<'a>> + 'n
where
    'a: 'n,
{
    fields(header).filter(move |f| f.is(name))
}

/// `HEADER.FIELDS (names)` (or `.NOT` when `not`): the matching fields verbatim, in message
/// order, then the empty line, as RFC 3501 asks and Cyrus sends (`"\r\n"` when nothing matched).
pub fn filter(header: &[u8], names: &[Vec<u8>], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields(header) {
        let wanted = names.iter().any(|n| f.is(n));
        if wanted != not {
            out.extend_from_slice(f.raw());
            if !f.raw().ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}
