//! Content transfer encodings (RFC 2045 base64 and quoted-printable) and charset conversion to
//! UTF-8, as BINARY fetches and SEARCH need them.
//!
//! Decoders are lenient in the way Cyrus is: characters outside the base64 alphabet are skipped,
//! a malformed `=` escape in quoted-printable is kept as written, and unencoded whitespace at the
//! end of a quoted-printable line is dropped (RFC 2045 §6.7 rule 3).

use std::borrow::Cow;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes base64, skipping anything outside the alphabet. Padding ends a group, and decoding
/// goes on after it (some mailers concatenate separately encoded chunks, and Cyrus reads them
/// all). A trailing incomplete group yields the whole octets it holds.
pub fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in input {
        if c == b'=' {
            acc = 0;
            bits = 0;
            continue;
        }
        let Some(v) = b64_value(c) else { continue };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Encodes base64 in lines of 76 characters ending in CRLF, as MIME bodies are written.
pub fn encode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 3 * 4 + input.len() / 57 * 2 + 8);
    for (n, chunk) in input.chunks(3).enumerate() {
        if n > 0 && n % 19 == 0 {
            out.extend_from_slice(b"\r\n");
        }
        encode_group(&mut out, chunk);
    }
    if !input.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Encodes base64 on one line, without padding line breaks (for RFC 2047 encoded words).
pub(crate) fn encode_base64_line(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        encode_group(&mut out, chunk);
    }
    out
}

fn encode_group(out: &mut Vec<u8>, chunk: &[u8]) {
    let b = [
        chunk.first().copied().unwrap_or(0),
        chunk.get(1).copied().unwrap_or(0),
        chunk.get(2).copied().unwrap_or(0),
    ];
    let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
    let sym = |shift: u32| B64[((n >> shift) & 63) as usize];
    out.push(sym(18));
    out.push(sym(12));
    out.push(if chunk.len() > 1 { sym(6) } else { b'=' });
    out.push(if chunk.len() > 2 { sym(0) } else { b'=' });
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` escapes, soft line breaks (`=` at the end of
/// a line, possibly followed by blanks), trailing unencoded blanks removed.
pub fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(p) => rest.split_at(p + 1),
            None => (rest, &[][..]),
        };
        rest = next;
        let (content, eol): (&[u8], &[u8]) = if let Some(c) = line.strip_suffix(b"\r\n") {
            (c, b"\r\n")
        } else if let Some(c) = line.strip_suffix(b"\n") {
            (c, b"\n")
        } else {
            (line, b"")
        };
        // Blanks at the end of a line were added in transport; an encoder never writes them.
        let end = content
            .iter()
            .rposition(|&b| b != b' ' && b != b'\t')
            .map_or(0, |p| p + 1);
        let content = content.get(..end).unwrap_or_default();
        let soft = content.ends_with(b"=");
        let body = if soft {
            content.get(..end.saturating_sub(1)).unwrap_or_default()
        } else {
            content
        };
        let mut i = 0;
        while let Some(&c) = body.get(i) {
            if c == b'=' {
                if let (Some(h), Some(l)) = (
                    body.get(i + 1).copied().and_then(hex),
                    body.get(i + 2).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
            }
            out.push(c);
            i += 1;
        }
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}

/// Encodes quoted-printable with CRLF line ends and soft breaks before 76 characters. Line ends
/// in the input (CRLF or LF) are kept as hard breaks; every other control, `=` and 8-bit octet is
/// escaped, as are blanks before a line end.
pub fn encode_quoted_printable(input: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(input.len() * 3 / 2);
    let mut col = 0usize;
    let mut i = 0;
    while let Some(&c) = input.get(i) {
        if c == b'\n' || (c == b'\r' && input.get(i + 1) == Some(&b'\n')) {
            out.extend_from_slice(b"\r\n");
            col = 0;
            i += if c == b'\r' { 2 } else { 1 };
            continue;
        }
        let at_eol = match input.get(i + 1) {
            None => true,
            Some(b'\n') => true,
            Some(b'\r') => input.get(i + 2) == Some(&b'\n'),
            _ => false,
        };
        let literal = (c == b' ' || c == b'\t') && !at_eol || (33..=126).contains(&c) && c != b'=';
        let width = if literal { 1 } else { 3 };
        if col + width > 75 {
            out.extend_from_slice(b"=\r\n");
            col = 0;
        }
        if literal {
            out.push(c);
        } else {
            out.push(b'=');
            out.push(HEX[usize::from(c >> 4)]);
            out.push(HEX[usize::from(c & 15)]);
        }
        col += width;
        i += 1;
    }
    out
}

/// The transfer encodings BINARY can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `7BIT`, `8BIT`, `BINARY` (or none given): the octets are the data.
    Identity,
    /// `BASE64`.
    Base64,
    /// `QUOTED-PRINTABLE`.
    QuotedPrintable,
}

impl TransferEncoding {
    /// Recognises a `Content-Transfer-Encoding` value (any case, blanks ignored); `None` for an
    /// encoding this crate cannot decode (`x-uuencode`...).
    pub fn from_name(name: &[u8]) -> Option<TransferEncoding> {
        let n = super::header::trim(name);
        if n.is_empty()
            || n.eq_ignore_ascii_case(b"7bit")
            || n.eq_ignore_ascii_case(b"8bit")
            || n.eq_ignore_ascii_case(b"binary")
        {
            Some(TransferEncoding::Identity)
        } else if n.eq_ignore_ascii_case(b"base64") {
            Some(TransferEncoding::Base64)
        } else if n.eq_ignore_ascii_case(b"quoted-printable") {
            Some(TransferEncoding::QuotedPrintable)
        } else {
            None
        }
    }

    /// Decodes `data`, borrowing when there is nothing to do.
    pub fn decode(self, data: &[u8]) -> Cow<'_, [u8]> {
        match self {
            TransferEncoding::Identity => Cow::Borrowed(data),
            TransferEncoding::Base64 => Cow::Owned(decode_base64(data)),
            TransferEncoding::QuotedPrintable => Cow::Owned(decode_quoted_printable(data)),
        }
    }
}

/// Converts text in `charset` to UTF-8. UTF-8 and US-ASCII are checked (bad sequences become
/// U+FFFD); ISO-8859-1 and its look-alikes map octet for octet; any other charset is read as
/// UTF-8 if it is valid UTF-8 and as Latin-1 otherwise, which keeps ASCII words searchable.
pub fn to_utf8<'a>(charset: &[u8], data: &'a [u8]) -> Cow<'a, str> {
    let cs = super::header::trim(charset);
    let latin1 = [
        &b"iso-8859-1"[..],
        b"iso8859-1",
        b"latin1",
        b"latin-1",
        b"l1",
        b"iso_8859-1",
        b"windows-1252",
        b"cp1252",
        b"iso-8859-15",
    ]
    .iter()
    .any(|n| cs.eq_ignore_ascii_case(n));
    if latin1 {
        return latin1_to_utf8(data);
    }
    match std::str::from_utf8(data) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) if cs.eq_ignore_ascii_case(b"utf-8") || cs.eq_ignore_ascii_case(b"utf8") => {
            String::from_utf8_lossy(data)
        }
        Err(_) => latin1_to_utf8(data),
    }
}

fn latin1_to_utf8(data: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(data) {
        Ok(s) if data.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(data.iter().map(|&b| char::from(b)).collect()),
    }
}
