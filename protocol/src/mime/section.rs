//! `BODY[section]`, `BINARY[part]` and `<origin.count>` partial fetches (RFC 3501 §6.4.5,
//! RFC 3516) over a parsed MIME tree.
//!
//! Part numbers follow RFC 3501: the parts of a multipart are numbered from 1; a message whose
//! body is not multipart has a single part 1 (its body); the number after a `message/rfc822`
//! part addresses the parts of the encapsulated message. Where RFC 3501 leaves a case open the
//! answer is Cyrus 3.6's: `n.HEADER` and `n.TEXT` of a part that is not a message are `NIL`,
//! while `n.HEADER.FIELDS` of such a part filters the part's own MIME header.

use std::borrow::Cow;
use std::num::NonZeroU32;

use super::codec::TransferEncoding;
use super::header::filter;
use super::tree::{Kind, Part};
use super::MimeError;
use crate::imap::types::{Section, SectionText};

/// Part `n` of something that acts as a message (the top level, or what a `message/rfc822`
/// part holds): a child of its multipart body, or (n = 1) the non-multipart body itself.
fn part_of_message<'p, 'a>(m: &'p Part<'a>, n: NonZeroU32) -> Option<&'p Part<'a>> {
    match &m.kind {
        Kind::Multipart(children) => children.get(usize::try_from(n.get() - 1).ok()?),
        _ if n.get() == 1 => Some(m),
        _ => None,
    }
}

/// The part a non-empty path names, starting at the top-level message `root`.
pub(crate) fn resolve<'p, 'a>(root: &'p Part<'a>, path: &[NonZeroU32]) -> Option<&'p Part<'a>> {
    let (&first, rest) = path.split_first()?;
    let mut cur = part_of_message(root, first)?;
    for &n in rest {
        cur = match &cur.kind {
            Kind::Multipart(children) => children.get(usize::try_from(n.get() - 1).ok()?)?,
            Kind::Message(inner) => part_of_message(inner, n)?,
            Kind::Leaf => return None,
        };
    }
    Some(cur)
}

/// The octets of `section` in the message whose tree is `root` and bytes `msg`, or `None` when
/// the section does not exist (the server then sends `NIL`).
pub(crate) fn section<'a>(
    msg: &'a [u8],
    root: &Part<'a>,
    section: &Section,
) -> Option<Cow<'a, [u8]>> {
    let text = section.text();
    if section.part().is_empty() {
        return Some(match text {
            None => Cow::Borrowed(msg),
            Some(SectionText::Header) => Cow::Borrowed(root.header),
            Some(SectionText::Text) => Cow::Borrowed(root.body),
            Some(SectionText::HeaderFields(names)) => Cow::Owned(filter(root.header, names, false)),
            Some(SectionText::HeaderFieldsNot(names)) => {
                Cow::Owned(filter(root.header, names, true))
            }
            // `Section::new` refuses MIME without a part number.
            Some(SectionText::Mime) => return None,
        });
    }
    let p = resolve(root, section.part())?;
    let inner = match &p.kind {
        Kind::Message(inner) => Some(inner.as_ref()),
        _ => None,
    };
    Some(match text {
        None => Cow::Borrowed(p.body),
        Some(SectionText::Mime) => Cow::Borrowed(p.header),
        Some(SectionText::Header) => Cow::Borrowed(inner?.header),
        Some(SectionText::Text) => Cow::Borrowed(inner?.body),
        Some(SectionText::HeaderFields(names)) => {
            Cow::Owned(filter(inner.map_or(p.header, |m| m.header), names, false))
        }
        Some(SectionText::HeaderFieldsNot(names)) => {
            Cow::Owned(filter(inner.map_or(p.header, |m| m.header), names, true))
        }
    })
}

/// `BINARY[part]`: the part's content with its transfer encoding undone. The whole message
/// (empty path), multiparts and encapsulated messages are returned as they are.
pub(crate) fn binary<'a>(
    msg: &'a [u8],
    root: &Part<'a>,
    path: &[NonZeroU32],
) -> Result<Option<Cow<'a, [u8]>>, MimeError> {
    if path.is_empty() {
        return Ok(Some(Cow::Borrowed(msg)));
    }
    let Some(p) = resolve(root, path) else {
        return Ok(None);
    };
    if !matches!(p.kind, Kind::Leaf) {
        return Ok(Some(Cow::Borrowed(p.body)));
    }
    let name = super::header::last(p.header, b"Content-Transfer-Encoding")
        .map(|f| f.value().into_owned())
        .unwrap_or_default();
    match TransferEncoding::from_name(&name) {
        Some(te) => Ok(Some(te.decode(p.body))),
        None => Err(MimeError::UnknownTransferEncoding(
            String::from_utf8_lossy(&name).into_owned(),
        )),
    }
}

/// The `<origin.count>` window of fetched data: empty when `origin` is past the end, cut short
/// when the data ends first. `count == None` means "to the end".
///
/// ```
/// use protocol::mime::partial;
/// assert_eq!(partial(b"Hello world", 6, Some(3)), b"wor");
/// assert_eq!(partial(b"Hello", 10, Some(3)), b"");
/// assert_eq!(partial(b"Hello", 3, None), b"lo");
/// ```
pub fn partial(data: &[u8], origin: u32, count: Option<u32>) -> &[u8] {
    let start = usize::try_from(origin)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let rest = data.get(start..).unwrap_or_default();
    match count {
        Some(c) => {
            let n = usize::try_from(c).unwrap_or(usize::MAX).min(rest.len());
            rest.get(..n).unwrap_or_default()
        }
        None => rest,
    }
}
