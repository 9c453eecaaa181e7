//! RFC 2047 encoded words (`=?charset?B|Q?text?=`) decoded to UTF-8, for SEARCH and sieve.
//!
//! Decoding is lenient: an encoded word is recognised anywhere (not only between blanks), the
//! blanks between two adjacent encoded words are dropped (§6.2), a charset's RFC 2231 language
//! suffix (`utf-8*en`) is ignored, and anything that does not parse is kept as text.

use super::codec::{decode_base64, encode_base64_line, to_utf8};
use super::header::unfold;

/// Parses one encoded word at the start of `i`: returns the decoded text and the bytes consumed.
fn encoded_word(i: &[u8]) -> Option<(String, usize)> {
    let body = i.strip_prefix(b"=?")?;
    // No blank or line break inside an encoded word; this also bounds the search.
    let stop = body
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = body.get(..stop)?;
    let q1 = memchr::memchr(b'?', body)?;
    let charset = body.get(..q1)?;
    let enc = *body.get(q1 + 1)?;
    if body.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let text_len = memchr::memmem::find(body.get(text_start..)?, b"?=")?;
    let text = body.get(text_start..text_start + text_len)?;
    let charset = charset.split(|&b| b == b'*').next().unwrap_or_default();
    let bytes = match enc {
        b'B' | b'b' => decode_base64(text),
        b'Q' | b'q' => decode_q(text),
        _ => return None,
    };
    Some((
        to_utf8(charset, &bytes).into_owned(),
        2 + text_start + text_len + 2,
    ))
}

/// The `Q` encoding: quoted-printable with `_` for space and no line structure.
fn decode_q(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        match c {
            b'_' => out.push(b' '),
            b'=' => {
                let h = text.get(i + 1).and_then(|&c| (c as char).to_digit(16));
                let l = text.get(i + 2).and_then(|&c| (c as char).to_digit(16));
                if let (Some(h), Some(l)) = (h, l) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Decodes a header value to UTF-8: unfolds it, decodes encoded words, and reads raw 8-bit
/// octets as UTF-8 (or Latin-1 where they are not valid UTF-8).
///
/// ```
/// use protocol::mime::decode_words;
/// assert_eq!(decode_words(b"=?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
/// assert_eq!(decode_words(b"=?UTF-8?B?w6k=?= =?utf-8?q?_caf=C3=A9?="), "é café");
/// ```
pub fn decode_words(value: &[u8]) -> String {
    let value = unfold(value);
    let mut out = String::with_capacity(value.len());
    let mut plain_start = 0;
    let mut i = 0;
    let mut after_word = false;
    while i < value.len() {
        if value.get(i..i + 2) == Some(b"=?") {
            if let Some((text, used)) = value.get(i..).and_then(encoded_word) {
                let between = value.get(plain_start..i).unwrap_or_default();
                // Blanks separating two encoded words are not part of the text.
                if !(after_word && between.iter().all(|&b| b == b' ' || b == b'\t')) {
                    out.push_str(&to_utf8(b"", between));
                }
                out.push_str(&text);
                i += used;
                plain_start = i;
                after_word = true;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&to_utf8(b"", value.get(plain_start..).unwrap_or_default()));
    out
}

/// Encodes `text` as one `=?UTF-8?B?...?=` word when it is not plain printable ASCII, else
/// returns it unchanged. (Long texts are not split into 75-octet words; callers building real
/// mail should keep texts short.)
pub fn encode_words(text: &str) -> String {
    if text.bytes().all(|b| (32..127).contains(&b)) && !text.contains("=?") {
        return text.to_owned();
    }
    let mut out = String::from("=?UTF-8?B?");
    out.push_str(&String::from_utf8_lossy(&encode_base64_line(
        text.as_bytes(),
    )));
    out.push_str("?=");
    out
}
