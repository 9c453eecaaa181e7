//! RFC 5322 address lists (§3.4, with the obsolete forms of §4.4) turned into the
//! `(name adl mailbox host)` tuples of an IMAP ENVELOPE.
//!
//! The parser never fails: unterminated quotes, comments and angle brackets run to the end of
//! the value, and whatever cannot be an address is dropped. Where RFC 5322 leaves room, it does
//! what Cyrus 3.6 does (checked against a live server):
//!
//! - display names are unquoted and kept RFC 2047 encoded; words are joined by one space;
//! - a bare `addr-spec` takes its name from its last comment (`pete@silly.test (Pete)`);
//! - an address without a domain gets the host `unspecified-domain`, and `<>` an empty mailbox;
//! - a quoted local part is sent unquoted (`"weird local"@example.com` → `weird local`);
//! - a source route is sent as the adl (`@route1.test,@route2.test`);
//! - a group is a `(NIL NIL name NIL)` opener and a `(NIL NIL NIL NIL)` closer.

use crate::imap::response::Address;

/// What Cyrus writes as the host of an address that has none.
pub const UNSPECIFIED_DOMAIN: &[u8] = b"unspecified-domain";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom (or run of atom characters), verbatim.
    Atom(Vec<u8>),
    /// A quoted string, unquoted and unescaped.
    Quoted(Vec<u8>),
    /// A comment's text, unescaped, nested comments flattened.
    Comment(Vec<u8>),
    /// A domain literal, brackets included.
    Literal(Vec<u8>),
    /// One of `< > @ , ; : .`
    Special(u8),
}

/// Adds an escaped byte to a quoted string or comment. CR and LF are dropped even when
/// escaped: they only occur there as folding, unescaped ones are dropped too, and no value
/// this module produces holds a line break, so [`write_addresses`] never has to write one.
fn push_unfolded(s: &mut Vec<u8>, e: u8) {
    if e != b'\r' && e != b'\n' {
        s.push(e);
    }
}

fn tokenize(v: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = v.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while let Some(&c) = v.get(i) {
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            if let Some(&e) = v.get(i) {
                                push_unfolded(&mut s, e);
                                i += 1;
                            }
                        }
                        b'\r' | b'\n' => {}
                        _ => s.push(c),
                    }
                }
                out.push(Tok::Quoted(s));
            }
            b'(' => {
                // Nesting is counted, not recursed, so any depth is safe.
                let mut depth = 1usize;
                let mut s = Vec::new();
                i += 1;
                while let Some(&c) = v.get(i) {
                    i += 1;
                    match c {
                        b'(' => {
                            depth += 1;
                            s.push(c);
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            s.push(c);
                        }
                        b'\\' => {
                            if let Some(&e) = v.get(i) {
                                push_unfolded(&mut s, e);
                                i += 1;
                            }
                        }
                        b'\r' | b'\n' => {}
                        _ => s.push(c),
                    }
                }
                out.push(Tok::Comment(s));
            }
            b'[' => {
                let end = v
                    .get(i..)
                    .and_then(|r| memchr::memchr(b']', r))
                    .map_or(v.len(), |p| i + p + 1);
                let lit = v.get(i..end).unwrap_or_default();
                out.push(Tok::Literal(
                    lit.iter()
                        .copied()
                        .filter(|&b| b != b'\r' && b != b'\n')
                        .collect(),
                ));
                i = end;
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' => {
                out.push(Tok::Special(c));
                i += 1;
            }
            b')' => i += 1,
            _ => {
                let start = i;
                while v.get(i).is_some_and(|&c| {
                    !matches!(
                        c,
                        b' ' | b'\t'
                            | b'\r'
                            | b'\n'
                            | b'"'
                            | b'('
                            | b')'
                            | b'['
                            | b'<'
                            | b'>'
                            | b'@'
                            | b','
                            | b';'
                            | b':'
                            | b'.'
                    )
                }) {
                    i += 1;
                }
                out.push(Tok::Atom(v.get(start..i).unwrap_or_default().to_vec()));
            }
        }
    }
    out
}

/// Joins phrase words with single spaces; a `.` (obsolete phrase) sticks to the word before.
fn phrase(toks: &[Tok]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    for t in toks {
        match t {
            Tok::Atom(w) | Tok::Quoted(w) | Tok::Literal(w) => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
            }
            Tok::Special(b'.') => out.push(b'.'),
            _ => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Concatenates the words of a local part or domain without spaces (CFWS is not part of them).
fn glue(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        match t {
            Tok::Atom(w) | Tok::Quoted(w) | Tok::Literal(w) => out.extend_from_slice(w),
            Tok::Special(c) if *c != b'<' && *c != b'>' => out.push(*c),
            _ => {}
        }
    }
    out
}

/// Builds one address from the tokens between separators.
fn mailbox(toks: &[Tok]) -> Option<Address> {
    let significant = |t: &&Tok| !matches!(t, Tok::Comment(_));
    if !toks.iter().any(|t| significant(&t)) {
        return None;
    }
    let angle = toks.iter().position(|t| *t == Tok::Special(b'<'));
    let (name, spec): (Option<Vec<u8>>, &[Tok]) = match angle {
        Some(a) => {
            let inner = toks.get(a + 1..).unwrap_or_default();
            let close = inner
                .iter()
                .position(|t| *t == Tok::Special(b'>'))
                .unwrap_or(inner.len());
            (
                phrase(toks.get(..a).unwrap_or_default()),
                inner.get(..close).unwrap_or_default(),
            )
        }
        None => {
            // `user@host (Real Name)`: the old form names the address with a comment.
            let name = toks.iter().rev().find_map(|t| match t {
                Tok::Comment(c) if !c.is_empty() => Some(c.clone()),
                _ => None,
            });
            (name, toks)
        }
    };
    // A source route: `@a,@b:` before the addr-spec.
    let (adl, spec) = match spec.iter().position(|t| *t == Tok::Special(b':')) {
        Some(colon) if spec.first() == Some(&Tok::Special(b'@')) => {
            let route: Vec<Tok> = spec
                .get(..colon)
                .unwrap_or_default()
                .iter()
                .filter(|t| !matches!(t, Tok::Comment(_)))
                .cloned()
                .collect();
            (
                Some(glue(&route)),
                spec.get(colon + 1..).unwrap_or_default(),
            )
        }
        _ => (None, spec),
    };
    let spec: Vec<Tok> = spec
        .iter()
        .filter(|t| !matches!(t, Tok::Comment(_)))
        .cloned()
        .collect();
    let at = spec.iter().rposition(|t| *t == Tok::Special(b'@'));
    let (local, domain) = match at {
        Some(at) => (
            glue(spec.get(..at).unwrap_or_default()),
            glue(spec.get(at + 1..).unwrap_or_default()),
        ),
        None => (glue(&spec), Vec::new()),
    };
    let host = if domain.is_empty() {
        UNSPECIFIED_DOMAIN.to_vec()
    } else {
        domain
    };
    Some(Address {
        name,
        adl,
        mailbox: Some(local),
        host: Some(host),
    })
}

/// Parses an address-list header value (`From`, `To`, `Cc`, ...) into ENVELOPE addresses.
///
/// ```
/// use protocol::mime::parse_addresses;
/// let a = parse_addresses(b"Terry Gray <gray@cac.washington.edu>, imap@cac.washington.edu");
/// assert_eq!(a[0].name.as_deref(), Some(&b"Terry Gray"[..]));
/// assert_eq!(a[1].mailbox.as_deref(), Some(&b"imap"[..]));
/// assert_eq!(a[1].host.as_deref(), Some(&b"cac.washington.edu"[..]));
/// ```
pub fn parse_addresses(value: &[u8]) -> Vec<Address> {
    let toks = tokenize(value);
    let mut out = Vec::new();
    let mut in_group = false;
    let mut in_angle = false;
    let mut start = 0;
    for (n, t) in toks.iter().enumerate() {
        let cur = toks.get(start..n).unwrap_or_default();
        match t {
            Tok::Special(b'<') => in_angle = true,
            Tok::Special(b'>') => in_angle = false,
            Tok::Special(b',') if !in_angle => {
                out.extend(mailbox(cur));
                start = n + 1;
            }
            Tok::Special(b':')
                if !in_angle
                    && !in_group
                    && !cur
                        .iter()
                        .any(|t| *t == Tok::Special(b'@') || *t == Tok::Special(b'<')) =>
            {
                out.push(Address {
                    name: None,
                    adl: None,
                    mailbox: Some(phrase(cur).unwrap_or_default()),
                    host: None,
                });
                in_group = true;
                start = n + 1;
            }
            Tok::Special(b';') if !in_angle => {
                out.extend(mailbox(cur));
                if in_group {
                    out.push(Address::default());
                    in_group = false;
                }
                start = n + 1;
            }
            _ => {}
        }
    }
    out.extend(mailbox(toks.get(start..).unwrap_or_default()));
    if in_group {
        out.push(Address::default());
    }
    out
}

/// The plain `local@domain` of each real address in a list (group markers skipped, no
/// display names), for SEARCH and sieve address tests. An address without a domain is
/// returned as its local part alone.
pub fn plain_addresses(value: &[u8]) -> Vec<String> {
    parse_addresses(value)
        .into_iter()
        .filter_map(|a| {
            let host = a.host?;
            let local = a.mailbox.unwrap_or_default();
            let mut s = String::from_utf8_lossy(&local).into_owned();
            if host != UNSPECIFIED_DOMAIN {
                s.push('@');
                s.push_str(&String::from_utf8_lossy(&host));
            }
            Some(s)
        })
        .collect()
}

fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

fn write_word(out: &mut Vec<u8>, w: &[u8], dots: bool) {
    let plain = !w.is_empty()
        && w.iter().all(|&b| is_atext(b) || (dots && b == b'.'))
        && !(dots
            && (w.starts_with(b".") || w.ends_with(b".") || w.windows(2).any(|p| p == b"..")));
    if plain {
        out.extend_from_slice(w);
        return;
    }
    write_quoted(out, w);
}

/// Writes `s` as one quoted string (the tokenizer reads it back as exactly `s`, CR and LF
/// aside, which parsed values never hold).
fn write_quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        if b != b'\r' && b != b'\n' {
            out.push(b);
        }
    }
    out.push(b'"');
}

/// Writes a host so that its tokens glue back to exactly `host`: a dot-atom as is, a
/// well-formed domain literal (`[1.2.3.4]`, one `]` at the end) as is, anything else (what
/// the lenient parser glued from quoted strings, stray brackets, `:` and so on) quoted.
fn write_host(out: &mut Vec<u8>, host: &[u8]) {
    let dot_atom = host.iter().all(|&b| is_atext(b) || b == b'.');
    let literal = host.len() >= 2
        && host.first() == Some(&b'[')
        && memchr::memchr(b']', host) == Some(host.len() - 1)
        && !host.iter().any(|&b| b == b'\r' || b == b'\n');
    if dot_atom || literal {
        out.extend_from_slice(host);
    } else {
        write_quoted(out, host);
    }
}

/// Writes a source route (`@a,@b`) so that it reads back the same: it always starts with `@`
/// (the parser only sees a route there); the rest is written as is when made of atoms and
/// `@ , .`, else quoted, since a `:` or a quoted string inside it would otherwise end the
/// route early or lose its quotes.
fn write_adl(out: &mut Vec<u8>, adl: &[u8]) {
    out.push(b'@');
    let rest = adl.strip_prefix(b"@").unwrap_or(adl);
    if rest
        .iter()
        .all(|&b| is_atext(b) || matches!(b, b'.' | b'@' | b','))
    {
        out.extend_from_slice(rest);
    } else {
        write_quoted(out, rest);
    }
}

/// Writes addresses back as an RFC 5322 address list (`Name <local@host>, group: ...;`), the
/// inverse of [`parse_addresses`] for every list it can produce: `parse_addresses(&write_addresses(&l))
/// == l`. Display names, local parts and hosts that are not plain atoms are quoted.
pub fn write_addresses(list: &[Address]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut need_comma = false;
    for a in list {
        match (&a.mailbox, &a.host) {
            (Some(group), None) => {
                if need_comma {
                    out.extend_from_slice(b", ");
                }
                write_word(&mut out, group, false);
                out.push(b':');
                need_comma = false;
            }
            (None, None) => {
                out.push(b';');
                need_comma = true;
            }
            (local, Some(host)) => {
                if need_comma {
                    out.extend_from_slice(b", ");
                } else if out.ends_with(b":") {
                    out.push(b' ');
                }
                if let Some(n) = &a.name {
                    write_word(&mut out, n, false);
                    out.push(b' ');
                }
                out.push(b'<');
                if let Some(adl) = &a.adl {
                    write_adl(&mut out, adl);
                    out.push(b':');
                }
                write_word(&mut out, local.as_deref().unwrap_or_default(), true);
                if host.as_slice() != UNSPECIFIED_DOMAIN {
                    out.push(b'@');
                    write_host(&mut out, host);
                }
                out.push(b'>');
                need_comma = true;
            }
        }
    }
    out
}
