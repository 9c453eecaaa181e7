//! ENVELOPE and BODY / BODYSTRUCTURE (RFC 3501 §7.4.2) built from a parsed MIME tree, with the
//! field choices Cyrus 3.6 makes.

use super::address::parse_addresses;
use super::header;
use super::tree::{parse_disposition, Kind, Part};
use crate::imap::response::body::{
    Body, BodyFields, Disposition, ExtDisposition, ExtLanguage, ExtLocation, Language, Multipart,
    MultipartExt, SingleKind, SinglePart, SinglePartExt,
};
use crate::imap::response::{Address, Envelope};

/// The unfolded value of the last field called `name`, leading blanks removed; `None` when
/// absent or empty. Trailing blanks stay: Cyrus sends them (`"<x@y>  "`), and so do we.
fn string(h: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    header::last(h, name)
        .map(|f| {
            let v = f.raw_value();
            let start = v
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(v.len());
            header::unfold(v.get(start..).unwrap_or_default()).into_owned()
        })
        .filter(|v| !v.is_empty())
}

/// A value with its comments removed (for the structured fields where Cyrus drops them).
fn strip_comments(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut depth = 0usize;
    for &c in v {
        match c {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

fn addresses(h: &[u8], name: &[u8]) -> Vec<Address> {
    header::last(h, name)
        .map(|f| parse_addresses(f.raw_value()))
        .unwrap_or_default()
}

/// The envelope of a header block (a message's, or an encapsulated message's).
pub(crate) fn envelope_of(h: &[u8]) -> Envelope {
    let from = addresses(h, b"From");
    let mut sender = addresses(h, b"Sender");
    if sender.is_empty() {
        sender.clone_from(&from);
    }
    let mut reply_to = addresses(h, b"Reply-To");
    if reply_to.is_empty() {
        reply_to.clone_from(&from);
    }
    Envelope {
        date: string(h, b"Date"),
        subject: string(h, b"Subject"),
        from,
        sender,
        reply_to,
        to: addresses(h, b"To"),
        cc: addresses(h, b"Cc"),
        bcc: addresses(h, b"Bcc"),
        in_reply_to: string(h, b"In-Reply-To"),
        message_id: string(h, b"Message-ID"),
    }
}

fn count_lines(b: &[u8]) -> u32 {
    u32::try_from(memchr::memchr_iter(b'\n', b).count()).unwrap_or(u32::MAX)
}

fn octets(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

/// `Content-Language` as Cyrus sends it: each tag upper-cased, always a list; `NIL` if absent.
fn language(h: &[u8]) -> Language {
    let Some(v) = string(h, b"Content-Language") else {
        return Language::Single(None);
    };
    let tags: Vec<Vec<u8>> = strip_comments(&v)
        .split(|&b| b == b',' || b == b' ' || b == b'\t')
        .filter(|t| !t.is_empty())
        .map(<[u8]>::to_ascii_uppercase)
        .collect();
    if tags.is_empty() {
        Language::Single(None)
    } else {
        Language::List(tags)
    }
}

/// Disposition, language and location: the tail every extensible part carries in full.
fn ext_tail(h: &[u8]) -> ExtDisposition {
    let disposition = string(h, b"Content-Disposition").map(|v| {
        let (kind, params) = parse_disposition(&v);
        Disposition { kind, params }
    });
    ExtDisposition {
        disposition,
        tail: Some(ExtLanguage {
            language: language(h),
            tail: Some(ExtLocation {
                location: string(h, b"Content-Location"),
                extensions: Vec::new(),
            }),
        }),
    }
}

/// BODY (`extensible == false`) or BODYSTRUCTURE of a part.
pub(crate) fn body_of(p: &Part<'_>, extensible: bool) -> Body {
    let ct = &p.content_type;
    if let Kind::Multipart(children) = &p.kind {
        return Body::Multipart(Multipart {
            parts: children.iter().map(|c| body_of(c, extensible)).collect(),
            subtype: ct.subtype.clone(),
            ext: extensible.then(|| MultipartExt {
                params: ct.params.clone(),
                tail: Some(ext_tail(p.header)),
            }),
        });
    }
    let encoding = string(p.header, b"Content-Transfer-Encoding")
        .map(|v| {
            let first = v
                .split(|b| b.is_ascii_whitespace() || *b == b'(' || *b == b';')
                .next()
                .unwrap_or_default();
            first.to_ascii_uppercase()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| b"7BIT".to_vec());
    let fields = BodyFields {
        params: ct.params.clone(),
        id: string(p.header, b"Content-ID"),
        description: string(p.header, b"Content-Description"),
        encoding,
        octets: octets(p.body),
    };
    let kind = match &p.kind {
        Kind::Message(inner) => SingleKind::Message {
            subtype: ct.subtype.clone(),
            envelope: Box::new(envelope_of(inner.header)),
            body: Box::new(body_of(inner, extensible)),
            lines: count_lines(p.body),
        },
        _ if ct.media_type == b"TEXT" => SingleKind::Text {
            subtype: ct.subtype.clone(),
            lines: count_lines(p.body),
        },
        // A container left unparsed at a limit: `MESSAGE/RFC822` without its envelope would not
        // parse back, so it is shown as opaque data.
        _ if ct.is_message() => SingleKind::Basic {
            media_type: b"APPLICATION".to_vec(),
            subtype: b"OCTET-STREAM".to_vec(),
        },
        _ => SingleKind::Basic {
            media_type: ct.media_type.clone(),
            subtype: ct.subtype.clone(),
        },
    };
    Body::Single(SinglePart {
        kind,
        fields,
        ext: extensible.then(|| SinglePartExt {
            md5: string(p.header, b"Content-MD5"),
            tail: Some(ext_tail(p.header)),
        }),
    })
}
