//! Decoded text for SEARCH (RFC 3501 §6.4.4) and sieve: header values with encoded words
//! decoded, and the text of the body's `text/*` parts with transfer encodings undone and
//! charsets converted to UTF-8.

use super::codec::{to_utf8, TransferEncoding};
use super::header::{self, fields};
use super::tree::{Kind, Part};
use super::words::decode_words;

/// Appends the decoded text of every `text/*` leaf under `p`, encapsulated messages included,
/// one part per paragraph.
pub(crate) fn body_text(p: &Part<'_>, out: &mut String) {
    match &p.kind {
        Kind::Multipart(children) => children.iter().for_each(|c| body_text(c, out)),
        Kind::Message(inner) => body_text(inner, out),
        Kind::Leaf if p.content_type.media_type == b"TEXT" => {
            let cte = header::last(p.header, b"Content-Transfer-Encoding")
                .map(|f| f.value().into_owned())
                .unwrap_or_default();
            // An encoding we cannot undo is searched as it stands: better than nothing.
            let data = TransferEncoding::from_name(&cte)
                .unwrap_or(TransferEncoding::Identity)
                .decode(p.body);
            let charset = p.content_type.param(b"CHARSET").unwrap_or(b"us-ascii");
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&to_utf8(charset, &data));
        }
        Kind::Leaf => {}
    }
}

/// Appends `Name: decoded value` lines for every field of a header block.
pub(crate) fn header_text(h: &[u8], out: &mut String) {
    for f in fields(h) {
        out.push_str(&String::from_utf8_lossy(f.name()));
        out.push_str(": ");
        out.push_str(&decode_words(super::header::trim(f.raw_value())));
        out.push('\n');
    }
}

/// ASCII-case-insensitive substring test, the comparison IMAP SEARCH uses for strings
/// (`i;ascii-casemap`); non-ASCII characters must match exactly.
///
/// ```
/// use protocol::mime::contains_ignore_case;
/// assert!(contains_ignore_case("Hello, Café", "CAFé"));
/// assert!(contains_ignore_case("anything", ""));
/// assert!(!contains_ignore_case("Hello", "help"));
/// ```
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}
