//! `BODY` and `BODYSTRUCTURE` (RFC 3501 §7.4.2, RFC 9051 §7.5.2): the MIME tree of a message.
//!
//! The structure is recursive (multiparts hold parts, `message/rfc822` parts hold a whole
//! message), so parsing carries a depth budget from [`super::Limits::max_depth`].
//!
//! Extension data is a chain of optional fields, each present only if every earlier one is; the
//! types mirror that chain so that exactly what was received is encoded back.

use super::envelope::{self, Envelope};
use super::lex::{self, depth_guard, nil_or, write_num, PResult};
use crate::imap::syntax::{number, sp, write_nstring, write_string, LiteralMode};

/// A body part: one leaf, or a multipart of parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A non-multipart part.
    Single(SinglePart),
    /// A `multipart/*` part.
    Multipart(Multipart),
}

/// A leaf part: its type-specific data, the common fields, and optional extension data
/// (present in `BODYSTRUCTURE`, absent in `BODY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinglePart {
    /// What kind of leaf, with the fields only that kind has.
    pub kind: SingleKind,
    /// Parameters, id, description, encoding and size.
    pub fields: BodyFields,
    /// `body-ext-1part`, when the server sent it.
    pub ext: Option<SinglePartExt>,
}

/// The three leaf shapes of RFC 3501. A part is `Text` when its type is `TEXT` and `Message`
/// when it is `MESSAGE/RFC822` (or RFC 9051's `MESSAGE/GLOBAL`); every other type is `Basic`.
/// The encoder writes `"TEXT"` and `"MESSAGE"` in upper case, as Cyrus does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SingleKind {
    /// Any other media type.
    Basic {
        /// Media type (`"APPLICATION"`, `"IMAGE"`...). Must not be `TEXT`, nor `MESSAGE`
        /// with an `RFC822`/`GLOBAL` subtype: those parse back as the other kinds.
        media_type: Vec<u8>,
        /// Media subtype.
        subtype: Vec<u8>,
    },
    /// `text/*`, with its size in lines.
    Text {
        /// Media subtype (`"PLAIN"`, `"HTML"`...).
        subtype: Vec<u8>,
        /// Size in lines.
        lines: u32,
    },
    /// An encapsulated message with its own envelope and body.
    Message {
        /// `"RFC822"` or `"GLOBAL"`, as received.
        subtype: Vec<u8>,
        /// The inner message's envelope.
        envelope: Box<Envelope>,
        /// The inner message's body.
        body: Box<Body>,
        /// Size in lines.
        lines: u32,
    },
}

/// `body-fields`: what every leaf has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BodyFields {
    /// Content-Type parameters in order; `NIL` is an empty list.
    pub params: Params,
    /// Content-ID.
    pub id: Option<Vec<u8>>,
    /// Content-Description.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding (`"7BIT"`, `"BASE64"`...).
    pub encoding: Vec<u8>,
    /// Size in octets of the encoded body.
    pub octets: u32,
}

/// `body-ext-1part`: MD5, then the optional chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SinglePartExt {
    /// Content-MD5.
    pub md5: Option<Vec<u8>>,
    /// Disposition and what follows, if sent.
    pub tail: Option<ExtDisposition>,
}

/// A `multipart/*` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The parts (at least one).
    pub parts: Vec<Body>,
    /// Media subtype (`"MIXED"`, `"ALTERNATIVE"`...).
    pub subtype: Vec<u8>,
    /// `body-ext-mpart`, when the server sent it.
    pub ext: Option<MultipartExt>,
}

/// `body-ext-mpart`: parameters, then the optional chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultipartExt {
    /// Content-Type parameters (the boundary, typically); `NIL` is an empty list.
    pub params: Params,
    /// Disposition and what follows, if sent.
    pub tail: Option<ExtDisposition>,
}

/// `body-fld-dsp` and the rest of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtDisposition {
    /// Content-Disposition, or `None` for `NIL`.
    pub disposition: Option<Disposition>,
    /// Language and what follows, if sent.
    pub tail: Option<ExtLanguage>,
}

/// Content-Type or Content-Disposition parameters, in order.
pub type Params = Vec<(Vec<u8>, Vec<u8>)>;

/// `body-fld-dsp`: Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disposition {
    /// `"INLINE"`, `"ATTACHMENT"`...
    pub kind: Vec<u8>,
    /// Its parameters (`FILENAME`...); `NIL` is an empty list.
    pub params: Params,
}

/// `body-fld-lang` and the rest of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtLanguage {
    /// Content-Language.
    pub language: Language,
    /// Location and what follows, if sent.
    pub tail: Option<ExtLocation>,
}

/// `body-fld-lang`: one nstring or a list of strings (kept apart so the form round-trips).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Language {
    /// `NIL` or a single string.
    Single(Option<Vec<u8>>),
    /// A parenthesised list of at least one string.
    List(Vec<Vec<u8>>),
}

/// `body-fld-loc` and any further extensions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtLocation {
    /// Content-Location.
    pub location: Option<Vec<u8>>,
    /// Future extension data.
    pub extensions: Vec<BodyExtension>,
}

/// `body-extension`: data a future RFC may add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyExtension {
    /// `NIL` or a string.
    NString(Option<Vec<u8>>),
    /// A number.
    Number(u32),
    /// A parenthesised list of at least one extension.
    List(Vec<BodyExtension>),
}

fn params(i: &[u8]) -> PResult<'_, Params> {
    if let Some(rest) = nil_or(i) {
        return Ok((rest, Vec::new()));
    }
    lex::paren_list(i, |i| {
        let (i, k) = lex::string(i)?;
        let (i, _) = sp(i)?;
        let (i, v) = lex::string(i)?;
        Ok((i, (k, v)))
    })
}

fn write_params(out: &mut Vec<u8>, p: &[(Vec<u8>, Vec<u8>)]) {
    if p.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (n, (k, v)) in p.iter().enumerate() {
        if n > 0 {
            out.push(b' ');
        }
        write_string(out, k, LiteralMode::Sync);
        out.push(b' ');
        write_string(out, v, LiteralMode::Sync);
    }
    out.push(b')');
}

fn fields(i: &[u8]) -> PResult<'_, BodyFields> {
    let (i, params) = params(i)?;
    let (i, _) = sp(i)?;
    let (i, id) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, description) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, encoding) = lex::string(i)?;
    let (i, _) = sp(i)?;
    let (i, octets) = number(i)?;
    Ok((
        i,
        BodyFields {
            params,
            id,
            description,
            encoding,
            octets,
        },
    ))
}

fn extension(i: &[u8], depth: usize) -> PResult<'_, BodyExtension> {
    depth_guard(i, depth)?;
    match i.first() {
        Some(b'(') => {
            let (i, v) = lex::paren_list(i, |i| extension(i, depth - 1))?;
            if v.is_empty() {
                return lex::fail(i);
            }
            Ok((i, BodyExtension::List(v)))
        }
        Some(c) if c.is_ascii_digit() => number(i).map(|(r, n)| (r, BodyExtension::Number(n))),
        _ => lex::nstring(i).map(|(r, s)| (r, BodyExtension::NString(s))),
    }
}

/// Parses `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP body-extension)]]]`.
fn ext_tail(i: &[u8], depth: usize) -> PResult<'_, Option<ExtDisposition>> {
    let Ok((i, _)) = sp(i) else {
        return Ok((i, None));
    };
    let (i, disposition) = match nil_or(i) {
        Some(rest) => (rest, None),
        None => {
            let i = lex::byte(i, b'(')?;
            let (i, v) = lex::string(i)?;
            let (i, _) = sp(i)?;
            let (i, p) = params(i)?;
            let i = lex::byte(i, b')')?;
            (i, Some(Disposition { kind: v, params: p }))
        }
    };
    let mut dsp = ExtDisposition {
        disposition,
        tail: None,
    };
    let Ok((i, _)) = sp(i) else {
        return Ok((i, Some(dsp)));
    };
    let (i, language) = if i.first() == Some(&b'(') {
        let (i, l) = lex::paren_list(i, lex::string)?;
        if l.is_empty() {
            return lex::fail(i);
        }
        (i, Language::List(l))
    } else {
        let (i, l) = lex::nstring(i)?;
        (i, Language::Single(l))
    };
    let mut lang = ExtLanguage {
        language,
        tail: None,
    };
    let Ok((i, _)) = sp(i) else {
        dsp.tail = Some(lang);
        return Ok((i, Some(dsp)));
    };
    let (mut i, location) = lex::nstring(i)?;
    let mut extensions = Vec::new();
    while let Ok((rest, _)) = sp(i) {
        let (rest, e) = extension(rest, depth)?;
        extensions.push(e);
        i = rest;
    }
    lang.tail = Some(ExtLocation {
        location,
        extensions,
    });
    dsp.tail = Some(lang);
    Ok((i, Some(dsp)))
}

/// Parses a `body`: `"(" (body-type-1part / body-type-mpart) ")"`.
pub(super) fn body(i: &[u8], depth: usize) -> PResult<'_, Body> {
    depth_guard(i, depth)?;
    let i = lex::byte(i, b'(')?;
    if i.first() == Some(&b'(') {
        let mut parts = Vec::new();
        let mut i = i;
        while i.first() == Some(&b'(') {
            let (rest, b) = body(i, depth - 1)?;
            parts.push(b);
            // Parts are written back to back; tolerate a space between them.
            i = match rest.strip_prefix(b" (") {
                Some(_) => &rest[1..],
                None => rest,
            };
        }
        let (i, _) = sp(i)?;
        let (i, subtype) = lex::string(i)?;
        let (i, ext) = match sp(i) {
            Ok((rest, _)) => {
                let (rest, params) = params(rest)?;
                let (rest, tail) = ext_tail(rest, depth)?;
                (rest, Some(MultipartExt { params, tail }))
            }
            Err(_) => (i, None),
        };
        let i = lex::byte(i, b')')?;
        return Ok((
            i,
            Body::Multipart(Multipart {
                parts,
                subtype,
                ext,
            }),
        ));
    }
    let (i, media_type) = lex::string(i)?;
    let (i, _) = sp(i)?;
    let (i, subtype) = lex::string(i)?;
    let (i, _) = sp(i)?;
    let (i, fields) = fields(i)?;
    let (i, kind) = if media_type.eq_ignore_ascii_case(b"TEXT") {
        let (i, _) = sp(i)?;
        let (i, lines) = number(i)?;
        (i, SingleKind::Text { subtype, lines })
    } else if media_type.eq_ignore_ascii_case(b"MESSAGE")
        && (subtype.eq_ignore_ascii_case(b"RFC822") || subtype.eq_ignore_ascii_case(b"GLOBAL"))
    {
        let (i, _) = sp(i)?;
        let (i, env) = envelope::envelope(i, depth - 1)?;
        let (i, _) = sp(i)?;
        let (i, inner) = body(i, depth - 1)?;
        let (i, _) = sp(i)?;
        let (i, lines) = number(i)?;
        (
            i,
            SingleKind::Message {
                subtype,
                envelope: Box::new(env),
                body: Box::new(inner),
                lines,
            },
        )
    } else {
        (
            i,
            SingleKind::Basic {
                media_type,
                subtype,
            },
        )
    };
    let (i, ext) = match sp(i) {
        Ok((rest, _)) => {
            let (rest, md5) = lex::nstring(rest)?;
            let (rest, tail) = ext_tail(rest, depth)?;
            (rest, Some(SinglePartExt { md5, tail }))
        }
        Err(_) => (i, None),
    };
    let i = lex::byte(i, b')')?;
    Ok((i, Body::Single(SinglePart { kind, fields, ext })))
}

fn write_extension(out: &mut Vec<u8>, e: &BodyExtension) {
    match e {
        BodyExtension::NString(s) => write_nstring(out, s.as_deref(), LiteralMode::Sync),
        BodyExtension::Number(n) => write_num(out, u64::from(*n)),
        BodyExtension::List(l) => {
            out.push(b'(');
            for (n, e) in l.iter().enumerate() {
                if n > 0 {
                    out.push(b' ');
                }
                write_extension(out, e);
            }
            out.push(b')');
        }
    }
}

fn write_tail(out: &mut Vec<u8>, tail: &Option<ExtDisposition>) {
    let Some(d) = tail else { return };
    out.push(b' ');
    match &d.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => {
            out.push(b'(');
            write_string(out, &d.kind, LiteralMode::Sync);
            out.push(b' ');
            write_params(out, &d.params);
            out.push(b')');
        }
    }
    let Some(l) = &d.tail else { return };
    out.push(b' ');
    match &l.language {
        Language::Single(s) => write_nstring(out, s.as_deref(), LiteralMode::Sync),
        Language::List(v) => {
            out.push(b'(');
            for (n, s) in v.iter().enumerate() {
                if n > 0 {
                    out.push(b' ');
                }
                write_string(out, s, LiteralMode::Sync);
            }
            out.push(b')');
        }
    }
    let Some(loc) = &l.tail else { return };
    out.push(b' ');
    write_nstring(out, loc.location.as_deref(), LiteralMode::Sync);
    for e in &loc.extensions {
        out.push(b' ');
        write_extension(out, e);
    }
}

impl Body {
    /// Writes the body structure as Cyrus does: parts back to back, strings quoted where
    /// possible, `NIL` for empty parameter lists.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        match self {
            Body::Multipart(m) => {
                for p in &m.parts {
                    p.encode(out);
                }
                out.push(b' ');
                write_string(out, &m.subtype, LiteralMode::Sync);
                if let Some(ext) = &m.ext {
                    out.push(b' ');
                    write_params(out, &ext.params);
                    write_tail(out, &ext.tail);
                }
            }
            Body::Single(s) => {
                let (media_type, subtype): (&[u8], &[u8]) = match &s.kind {
                    SingleKind::Basic {
                        media_type,
                        subtype,
                    } => (media_type, subtype),
                    SingleKind::Text { subtype, .. } => (b"TEXT", subtype),
                    SingleKind::Message { subtype, .. } => (b"MESSAGE", subtype),
                };
                write_string(out, media_type, LiteralMode::Sync);
                out.push(b' ');
                write_string(out, subtype, LiteralMode::Sync);
                out.push(b' ');
                write_params(out, &s.fields.params);
                out.push(b' ');
                write_nstring(out, s.fields.id.as_deref(), LiteralMode::Sync);
                out.push(b' ');
                write_nstring(out, s.fields.description.as_deref(), LiteralMode::Sync);
                out.push(b' ');
                write_string(out, &s.fields.encoding, LiteralMode::Sync);
                out.push(b' ');
                write_num(out, u64::from(s.fields.octets));
                match &s.kind {
                    SingleKind::Basic { .. } => {}
                    SingleKind::Text { lines, .. } => {
                        out.push(b' ');
                        write_num(out, u64::from(*lines));
                    }
                    SingleKind::Message {
                        envelope,
                        body,
                        lines,
                        ..
                    } => {
                        out.push(b' ');
                        envelope.encode(out);
                        out.push(b' ');
                        body.encode(out);
                        out.push(b' ');
                        write_num(out, u64::from(*lines));
                    }
                }
                if let Some(ext) = &s.ext {
                    out.push(b' ');
                    write_nstring(out, ext.md5.as_deref(), LiteralMode::Sync);
                    write_tail(out, &ext.tail);
                }
            }
        }
        out.push(b')');
    }
}
