//! The MIME tree of a message (RFC 2045, 2046): each part's header and body, borrowed from the
//! message bytes, with its parsed content type.
//!
//! Lenient where mail is broken, following what Cyrus 3.6 does (checked against a live server):
//! an unparsable `Content-Type` counts as absent (`text/plain; charset=us-ascii`); a bad parameter
//! ends the parameter list; a multipart without a boundary is read as `text/plain`; a boundary
//! that never occurs yields one empty part; a missing close delimiter ends the last part at the
//! end of its parent; a part without an empty line is all header and no body.

use super::header::{self, split};
use super::{Limits, MimeError};
use crate::imap::response::body::Params;

/// A parsed `Content-Type`: type and subtype upper-cased (as Cyrus sends them), parameter names
/// upper-cased, parameter values as written (unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// `TEXT`, `MULTIPART`, `APPLICATION`...
    pub media_type: Vec<u8>,
    /// `PLAIN`, `MIXED`, `PDF`...
    pub subtype: Vec<u8>,
    /// Parameters in order (`CHARSET`, `BOUNDARY`, `NAME*`...).
    pub params: Params,
}

impl ContentType {
    /// The RFC 2045 default for a part without a (usable) `Content-Type`.
    pub fn default_text() -> ContentType {
        ContentType {
            media_type: b"TEXT".to_vec(),
            subtype: b"PLAIN".to_vec(),
            params: vec![(b"CHARSET".to_vec(), b"us-ascii".to_vec())],
        }
    }

    fn default_message() -> ContentType {
        ContentType {
            media_type: b"MESSAGE".to_vec(),
            subtype: b"RFC822".to_vec(),
            params: Vec::new(),
        }
    }

    /// Whether this is `type/subtype` (ASCII case ignored).
    pub fn is(&self, media_type: &[u8], subtype: &[u8]) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
            && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The value of parameter `name` (ASCII case ignored).
    pub fn param(&self, name: &[u8]) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Whether a part of this type encapsulates a message (`message/rfc822`, `message/global`).
    pub fn is_message(&self) -> bool {
        self.is(b"MESSAGE", b"RFC822") || self.is(b"MESSAGE", b"GLOBAL")
    }
}

/// One part of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The MIME header block, including the empty line that ends it (for the top level, the
    /// message header).
    pub header: &'a [u8],
    /// The body: for a leaf its encoded content, for a multipart everything between the headers
    /// and the end of the part, for a `message/rfc822` part the whole encapsulated message.
    pub body: &'a [u8],
    /// The effective content type (defaults applied).
    pub content_type: ContentType,
    /// What the part holds.
    pub kind: Kind<'a>,
}

/// What a part holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A leaf: its body is its content.
    Leaf,
    /// A multipart's children (at least one).
    Multipart(Vec<Part<'a>>),
    /// An encapsulated message: its header and body as a part.
    Message(Box<Part<'a>>),
}

fn is_token_char(b: u8) -> bool {
    b > b' ' && b != 0x7f && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Skips blanks, line breaks and (nested) comments.
fn skip_cfws(mut i: &[u8]) -> &[u8] {
    loop {
        match i.first() {
            Some(b' ' | b'\t' | b'\r' | b'\n') => i = i.get(1..).unwrap_or_default(),
            Some(b'(') => {
                let mut depth = 0usize;
                let mut n = 0;
                while let Some(&c) = i.get(n) {
                    n += 1;
                    match c {
                        b'(' => depth += 1,
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        b'\\' => n += 1,
                        _ => {}
                    }
                }
                i = i.get(n..).unwrap_or_default();
            }
            _ => return i,
        }
    }
}

fn token(i: &[u8]) -> (&[u8], &[u8]) {
    let n = i.iter().position(|&b| !is_token_char(b)).unwrap_or(i.len());
    (
        i.get(..n).unwrap_or_default(),
        i.get(n..).unwrap_or_default(),
    )
}

/// A token or quoted string (unescaped).
fn value(i: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    if let Some(mut r) = i.strip_prefix(b"\"") {
        let mut out = Vec::new();
        loop {
            match r.first() {
                None => return Some((out, r)),
                Some(b'"') => return Some((out, r.get(1..).unwrap_or_default())),
                Some(b'\\') => {
                    if let Some(&c) = r.get(1) {
                        out.push(c);
                    }
                    r = r.get(2..).unwrap_or_default();
                }
                Some(b'\r' | b'\n') => r = r.get(1..).unwrap_or_default(),
                Some(&c) => {
                    out.push(c);
                    r = r.get(1..).unwrap_or_default();
                }
            }
        }
    }
    let (t, r) = token(i);
    (!t.is_empty()).then(|| (t.to_vec(), r))
}

/// `*(";" attribute "=" value)`: stops at the first malformed parameter, keeping those before.
pub(crate) fn params(mut i: &[u8]) -> Params {
    let mut out = Vec::new();
    loop {
        i = skip_cfws(i);
        let Some(r) = i.strip_prefix(b";") else {
            return out;
        };
        let r = skip_cfws(r);
        if r.is_empty() || r.starts_with(b";") {
            // An empty parameter (`;;` or a trailing `;`) is harmless.
            i = r;
            continue;
        }
        let (name, r) = token(r);
        let r = skip_cfws(r);
        let Some(r) = r.strip_prefix(b"=") else {
            return out;
        };
        let r = skip_cfws(r);
        let Some((v, r)) = value(r) else {
            return out;
        };
        if name.is_empty() {
            return out;
        }
        out.push((name.to_ascii_uppercase(), v));
        i = r;
    }
}

/// Parses a `Content-Type` value; `None` when there is no `type/subtype`.
pub fn parse_content_type(v: &[u8]) -> Option<ContentType> {
    let i = skip_cfws(v);
    let (t, i) = token(i);
    let i = skip_cfws(i).strip_prefix(b"/")?;
    let (s, i) = token(skip_cfws(i));
    if t.is_empty() || s.is_empty() {
        return None;
    }
    Some(ContentType {
        media_type: t.to_ascii_uppercase(),
        subtype: s.to_ascii_uppercase(),
        params: params(i),
    })
}

/// Parses a `Content-Disposition` value: the kind (upper-cased, possibly empty) and parameters.
pub fn parse_disposition(v: &[u8]) -> (Vec<u8>, Params) {
    let (t, i) = token(skip_cfws(v));
    (t.to_ascii_uppercase(), params(i))
}

/// Where parsing stands: the depth and part budgets, and the first limit hit.
pub(crate) struct Budget<'l> {
    pub limits: &'l Limits,
    pub parts: usize,
    pub exceeded: Option<MimeError>,
}

impl Budget<'_> {
    fn exceed(&mut self, e: MimeError) {
        self.exceeded.get_or_insert(e);
    }
}

/// Whether `line` (without its line end) is a delimiter for `boundary`: `Some(true)` for the
/// close delimiter. Trailing blanks are allowed; a longer boundary sharing the prefix is not a
/// match (`--abcdef` does not end a part delimited by `abc`).
fn delimiter(line: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    if rest.starts_with(b"--") {
        return Some(true);
    }
    rest.iter()
        .all(|&b| b == b' ' || b == b'\t' || b == b'\r')
        .then_some(false)
}

/// A part as delimited, and the same with the line end before the next delimiter.
type Delimited<'a> = (&'a [u8], &'a [u8]);

/// The parts of a multipart, in order, each still with its MIME header: the part as delimited
/// (the line end before the next delimiter excluded) and the same with that line end included.
/// The flag says whether the parts end with a close delimiter that has no line end of its own
/// (nothing after it, not even an epilogue).
fn split_parts<'a>(body: &'a [u8], boundary: &[u8]) -> (Vec<Delimited<'a>>, bool) {
    let mut out = Vec::new();
    let mut cur: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let rest = body.get(pos..).unwrap_or_default();
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(p) => (rest.get(..p).unwrap_or_default(), pos + p + 1),
            None => (rest, body.len()),
        };
        if line.starts_with(b"--") {
            if let Some(close) = delimiter(line, boundary) {
                if let Some(s) = cur {
                    // The line end before a delimiter belongs to the delimiter.
                    let mut e = pos;
                    if e > s && body.get(e - 1) == Some(&b'\n') {
                        e -= 1;
                        if e > s && body.get(e - 1) == Some(&b'\r') {
                            e -= 1;
                        }
                    }
                    out.push((
                        body.get(s..e).unwrap_or_default(),
                        body.get(s..pos).unwrap_or_default(),
                    ));
                }
                if close {
                    return (out, next == body.len() && !rest.contains(&b'\n'));
                }
                cur = Some(next);
            }
        }
        pos = next;
    }
    if let Some(s) = cur {
        let last = body.get(s..).unwrap_or_default();
        out.push((last, last));
    }
    (out, false)
}

/// Gives a part (and the encapsulated messages along its end) a longer body. When a nested
/// multipart's close delimiter is directly followed by the parent's delimiter, one line end
/// serves both; Cyrus counts it into the nested part (it ends the close-delimiter line), and
/// sizes, line counts and `BODY[n]` must agree with it.
fn extend_body<'a>(p: &mut Part<'a>, body: &'a [u8]) {
    p.body = body;
    if let Kind::Message(inner) = &mut p.kind {
        let inner_body = body.get(inner.header.len()..).unwrap_or_default();
        extend_body(inner, inner_body);
    }
}

fn header_value(header: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    header::last(header, name).map(|f| f.value().into_owned())
}

/// Parses one part given its header and body. `default` is the type used when the header has
/// no usable `Content-Type` (RFC 2046: `message/rfc822` inside `multipart/digest`).
pub(crate) fn parse_part<'a>(
    header: &'a [u8],
    body: &'a [u8],
    in_digest: bool,
    depth: usize,
    budget: &mut Budget<'_>,
) -> (Part<'a>, bool) {
    let declared = header_value(header, b"Content-Type").and_then(|v| parse_content_type(&v));
    let mut content_type = match declared {
        Some(ct) => ct,
        None if in_digest => ContentType::default_message(),
        None => ContentType::default_text(),
    };
    let mut kind = Kind::Leaf;
    // Whether the part ends with a bare close delimiter (see `extend_body`).
    let mut epilogue = false;
    if content_type.media_type == b"MULTIPART" {
        match content_type.param(b"BOUNDARY").map(<[u8]>::to_vec) {
            Some(b) if !b.is_empty() => {
                if depth >= budget.limits.max_depth {
                    budget.exceed(MimeError::TooDeep {
                        limit: budget.limits.max_depth,
                    });
                } else {
                    let digest = content_type.subtype == b"DIGEST";
                    let mut children = Vec::new();
                    let (raws, closed) = split_parts(body, &b);
                    epilogue = closed;
                    for (raw, full) in raws {
                        if budget.parts >= budget.limits.max_parts {
                            budget.exceed(MimeError::TooManyParts {
                                limit: budget.limits.max_parts,
                            });
                            break;
                        }
                        budget.parts += 1;
                        let (h, b) = split(raw);
                        let (mut child, child_epilogue) =
                            parse_part(h, b, digest, depth + 1, budget);
                        if child_epilogue {
                            extend_body(&mut child, full.get(h.len()..).unwrap_or_default());
                        }
                        children.push(child);
                    }
                    if children.is_empty() {
                        // RFC 3501 needs at least one part; Cyrus shows an empty text part.
                        children.push(Part {
                            header: &[],
                            body: &[],
                            content_type: ContentType::default_text(),
                            kind: Kind::Leaf,
                        });
                    }
                    kind = Kind::Multipart(children);
                }
            }
            // Without a boundary there are no parts to find: read it as text, as Cyrus does.
            _ => content_type = ContentType::default_text(),
        }
    } else if content_type.is_message() {
        if depth >= budget.limits.max_depth {
            budget.exceed(MimeError::TooDeep {
                limit: budget.limits.max_depth,
            });
        } else if budget.parts >= budget.limits.max_parts {
            budget.exceed(MimeError::TooManyParts {
                limit: budget.limits.max_parts,
            });
        } else {
            budget.parts += 1;
            let (h, b) = split(body);
            let (inner, inner_epilogue) = parse_part(h, b, false, depth + 1, budget);
            epilogue = inner_epilogue;
            kind = Kind::Message(Box::new(inner));
        }
    }
    (
        Part {
            header,
            body,
            content_type,
            kind,
        },
        epilogue,
    )
}
