//! FETCH and UID FETCH (RFC 3501 §6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE / MODSEQ).
//!
//! The response is rendered off the async threads in batches (a few hundred kilobytes each)
//! and written between batches, so a FETCH of a whole large mailbox neither waits for the last
//! message nor holds it all in memory. Each message is read once per command: only its header
//! when nothing but header items are asked for (ENVELOPE, `BODY[HEADER.FIELDS ...]`), the whole
//! file otherwise, and parsed at most once for all its items.

use std::io::Read;
use std::sync::Arc;

use protocol::acl::Rights;
use protocol::imap::command::FetchItems;
use protocol::imap::response::Code;
use protocol::imap::syntax::{write_literal, LiteralMode};
use protocol::imap::types::{FetchAttr, Flag, SectionText, SequenceSet};
use protocol::mime::{partial, Message};

use super::cache::EnvelopeCache;
use super::{condstore, format_internaldate, HReply, Reply};
use crate::imapd::Session;
use crate::store::{FlagMode, Flags, Guid, MailboxId, Record, Store, StoreError, SystemFlags};

/// Output rendered per batch before it is written to the client.
const BATCH_BYTES: usize = 256 * 1024;
/// Messages rendered per batch at most.
const BATCH_MSGS: usize = 2000;

/// How much of each message the items need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Nothing,
    Header,
    Whole,
}

/// What to write for each message, in Cyrus's order: FLAGS, UID, INTERNALDATE, MODSEQ,
/// RFC822.SIZE, ENVELOPE, BODYSTRUCTURE, BODY, then the other items as asked.
#[derive(Debug, Default)]
struct Plan {
    flags: bool,
    uid: bool,
    internaldate: bool,
    modseq: bool,
    size: bool,
    envelope: bool,
    bodystructure: bool,
    body: bool,
    emailid: bool,
    threadid: bool,
    savedate: bool,
    /// Sections, BINARY and RFC822.* in the order asked.
    rest: Vec<FetchAttr>,
    need: Option<Need>,
    /// Some item sets `\Seen`.
    sets_seen: bool,
}

impl Plan {
    fn new(attrs: &[FetchAttr]) -> Plan {
        let mut p = Plan::default();
        let mut need = Need::Nothing;
        for a in attrs {
            match a {
                FetchAttr::Flags => p.flags = true,
                FetchAttr::Uid => p.uid = true,
                FetchAttr::InternalDate => p.internaldate = true,
                FetchAttr::ModSeq => p.modseq = true,
                FetchAttr::Rfc822Size => p.size = true,
                FetchAttr::Envelope => {
                    p.envelope = true;
                    need = need.max(Need::Header);
                }
                FetchAttr::BodyStructure => {
                    p.bodystructure = true;
                    need = Need::Whole;
                }
                FetchAttr::Body => {
                    p.body = true;
                    need = Need::Whole;
                }
                FetchAttr::EmailId => p.emailid = true,
                FetchAttr::ThreadId => p.threadid = true,
                FetchAttr::SaveDate => p.savedate = true,
                FetchAttr::BodySection { peek, section, .. } => {
                    let header_only = section.part().is_empty()
                        && matches!(
                            section.text(),
                            Some(
                                SectionText::Header
                                    | SectionText::HeaderFields(_)
                                    | SectionText::HeaderFieldsNot(_)
                            )
                        );
                    need = need.max(if header_only {
                        Need::Header
                    } else {
                        Need::Whole
                    });
                    p.sets_seen |= !peek;
                    p.rest.push(a.clone());
                }
                FetchAttr::Binary { peek, .. } => {
                    need = Need::Whole;
                    p.sets_seen |= !peek;
                    p.rest.push(a.clone());
                }
                FetchAttr::BinarySize { .. } | FetchAttr::Rfc822Text | FetchAttr::Rfc822 => {
                    need = Need::Whole;
                    p.sets_seen |= !matches!(a, FetchAttr::BinarySize { .. });
                    p.rest.push(a.clone());
                }
                FetchAttr::Rfc822Header => {
                    need = need.max(Need::Header);
                    p.rest.push(a.clone());
                }
            }
        }
        p.need = Some(need);
        p
    }

    fn need(&self) -> Need {
        self.need.unwrap_or(Need::Nothing)
    }
}

/// One message to render.
struct Item {
    seq: u32,
    rec: Record,
    /// FLAGS to write (asked for, or changed by this FETCH).
    flags: Option<Vec<Flag>>,
}

/// Parses `(CHANGEDSINCE n [VANISHED])` and the like: the value of `name`, `Err` for anything
/// unknown or malformed.
pub(super) fn modifier(
    raw: Option<&[u8]>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<u64>, ()> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = std::str::from_utf8(raw).map_err(|_| ())?;
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or(())?;
    let mut words = inner.split_ascii_whitespace();
    let mut value = None;
    while let Some(w) = words.next() {
        if w.eq_ignore_ascii_case(name) {
            let n: u64 = words.next().ok_or(())?.parse().map_err(|_| ())?;
            value = Some(n);
        } else if !allowed.iter().any(|a| a.eq_ignore_ascii_case(w)) {
            return Err(());
        }
    }
    Ok(value)
}

pub(super) async fn fetch(
    s: &mut Session,
    uid: bool,
    set: &SequenceSet,
    items: &FetchItems,
    modifiers: Option<&[u8]>,
) -> HReply {
    let started = std::time::Instant::now();
    let Ok(changedsince) = modifier(modifiers, "CHANGEDSINCE", &[]) else {
        return Ok(Reply::bad("Invalid modifier in Fetch"));
    };
    let cond = condstore(s) || changedsince.is_some();
    let mut plan = Plan::new(&items.expand());
    plan.uid |= uid;
    let Some(store) = s.store() else {
        return Ok(Reply::no("Server(s) unavailable to complete operation"));
    };
    let user = s.user_name().to_owned();
    let Some(sel) = s.selected.as_mut() else {
        return Ok(Reply::bad("Please select a mailbox first"));
    };
    let mut idxs = sel.resolve(set, uid);
    if idxs.is_empty() && !uid {
        // Cyrus's answer to message numbers that are all past the end.
        return Ok(Reply::no(&format!(
            "No matching messages ({:.3} sec)",
            started.elapsed().as_secs_f64()
        )));
    }
    idxs.retain(|&i| sel.msgs.get(i).is_some_and(|m| !m.gone));
    if let Some(since) = changedsince {
        idxs.retain(|&i| sel.msgs.get(i).is_some_and(|m| m.rec.modseq > since));
        plan.modseq = true;
    }
    if cond && plan.flags {
        plan.modseq = true;
    }
    // Set \Seen first, so the FLAGS written below include it.
    let mut forced: Vec<bool> = vec![false; idxs.len()];
    if plan.sets_seen && !sel.read_only && sel.rights.contains(Rights::SEEN) {
        let mut need: Vec<u32> = Vec::new();
        for (k, &i) in idxs.iter().enumerate() {
            if let Some(m) = sel.msgs.get(i) {
                if !sel.is_seen(m) {
                    need.push(m.rec.uid);
                    if let Some(f) = forced.get_mut(k) {
                        *f = true;
                    }
                }
            }
        }
        if !need.is_empty() {
            let id = sel.id.clone();
            let st = store.clone();
            let owner = sel.owner_seen;
            let res = tokio::task::spawn_blocking(move || {
                if owner {
                    let seen = Flags::system(SystemFlags::SEEN);
                    st.store_flags(&id, &need, FlagMode::Add, &seen, None)
                        .map(|u| (u.changed, None))
                } else {
                    st.seen_add(&user, &id, &need)
                        .map(|ss| (Vec::new(), Some(ss.seen)))
                }
            })
            .await
            .map_err(|e| crate::imapd::End::Io(std::io::Error::other(e.to_string())))?;
            match res {
                Ok((changed, seen)) => {
                    for r in changed {
                        if let Some(i) = sel.index_of(r.uid) {
                            if let Some(m) = sel.msgs.get_mut(i) {
                                m.rec = r;
                            }
                        }
                    }
                    if let Some(seen) = seen {
                        sel.seen = seen;
                    }
                }
                Err(e) => return Ok(Reply::store_error(&e)),
            }
        }
    }
    let list: Vec<Item> = idxs
        .iter()
        .zip(forced)
        .filter_map(|(&i, forced)| {
            let m = sel.msgs.get(i)?;
            Some(Item {
                seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                rec: m.rec.clone(),
                flags: (plan.flags || forced).then(|| sel.flags_of(m)),
            })
        })
        .collect();
    let id = sel.id.clone();
    let plan = Arc::new(plan);
    let list = Arc::new(list);
    let mut start = 0;
    while start < list.len() {
        let (plan, list, store, id) = (plan.clone(), list.clone(), store.clone(), id.clone());
        let (out, next, err) = s
            .blocking(move || render(&store, &id, &plan, &list, start))
            .await?;
        s.out.extend_from_slice(&out);
        if let Some(r) = err {
            return Ok(r);
        }
        s.flush().await?;
        start = next.max(start + 1);
    }
    Ok(Reply::ok().with_text(&format!(
        "Completed ({:.3} sec)",
        started.elapsed().as_secs_f64()
    )))
}

/// Reads a message's header block (up to and including the empty line), or the whole file
/// when there is none.
pub(crate) fn read_header(store: &Store, id: &MailboxId, uid: u32) -> Result<Vec<u8>, StoreError> {
    let (mut f, rec) = store.open_message(id, uid)?;
    let io = |source| StoreError::Io {
        path: format!("{id}/{uid}.").into(),
        source,
    };
    let cap = usize::try_from(rec.size.min(8192)).unwrap_or(8192);
    let mut buf: Vec<u8> = Vec::with_capacity(cap);
    let mut chunk = [0u8; 8192];
    loop {
        let n = f.read(&mut chunk).map_err(io)?;
        if n == 0 {
            return Ok(buf);
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = header_end(&buf, from) {
            buf.truncate(end);
            return Ok(buf);
        }
    }
}

/// The end of the header block (after its empty line) if `buf` holds it, searching from
/// `from`.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    if buf.starts_with(b"\n") {
        return Some(1);
    }
    let tail = buf.get(from..)?;
    let mut i = 0;
    while let Some(p) = tail
        .get(i..)
        .and_then(|t| t.iter().position(|&b| b == b'\n'))
    {
        let at = i + p;
        match tail.get(at + 1..at + 3) {
            Some(b"\r\n") => return Some(from + at + 3),
            _ if tail.get(at + 1) == Some(&b'\n') => return Some(from + at + 2),
            _ => {}
        }
        i = at + 1;
    }
    None
}

/// Renders messages from `start` until a batch is full: the bytes, where to go on, and a reply
/// that ends the command early.
fn render(
    store: &Store,
    id: &MailboxId,
    plan: &Plan,
    list: &[Item],
    start: usize,
) -> (Vec<u8>, usize, Option<Reply>) {
    let mut out = Vec::with_capacity(16 * 1024);
    let cache = plan
        .envelope
        .then(|| EnvelopeCache::for_store(store))
        .flatten();
    let end = list.len().min(start + BATCH_MSGS);
    let cached: Vec<Option<Arc<[u8]>>> = match (&cache, list.get(start..end)) {
        (Some(c), Some(items)) => c.get_many(&items.iter().map(|i| i.rec.guid).collect::<Vec<_>>()),
        _ => Vec::new(),
    };
    let mut misses: Vec<(Guid, Vec<u8>)> = Vec::new();
    let mut k = start;
    let result = loop {
        let Some(item) = list.get(k) else {
            break None;
        };
        let mark = out.len();
        let hit = cached.get(k - start).cloned().flatten();
        match render_one(store, id, plan, item, hit, &mut misses, &mut out) {
            Ok(()) => {}
            Err(Stop::Expunged) => out.truncate(mark),
            Err(Stop::Reply(r)) => {
                out.truncate(mark);
                k += 1;
                break Some(r);
            }
        }
        k += 1;
        if out.len() >= BATCH_BYTES || k >= end {
            break None;
        }
    };
    if let Some(c) = &cache {
        c.put_many(&misses);
    }
    (out, k, result)
}

enum Stop {
    /// The message went away (expunged by another process): left out.
    Expunged,
    /// End the command with this reply.
    Reply(Reply),
}

fn num(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(n.to_string().as_bytes());
}

fn nstring_literal(out: &mut Vec<u8>, data: Option<&[u8]>) {
    match data {
        Some(d) => write_literal(out, d, LiteralMode::Sync),
        None => out.extend_from_slice(b"NIL"),
    }
}

fn render_one(
    store: &Store,
    id: &MailboxId,
    plan: &Plan,
    item: &Item,
    cached: Option<Arc<[u8]>>,
    misses: &mut Vec<(Guid, Vec<u8>)>,
    out: &mut Vec<u8>,
) -> Result<(), Stop> {
    let rec = &item.rec;
    let load = |e: StoreError| match e {
        StoreError::NoSuchMessage { .. } => Stop::Expunged,
        e => Stop::Reply(Reply::store_error(&e)),
    };
    // ENVELOPE alone needs no file read when it is cached.
    let need = match plan.need() {
        Need::Header if cached.is_some() && plan.rest.is_empty() => Need::Nothing,
        n => n,
    };
    let bytes: Vec<u8> = match need {
        Need::Nothing => Vec::new(),
        Need::Header => read_header(store, id, rec.uid).map_err(load)?,
        Need::Whole => store.read_message(id, rec.uid).map_err(load)?,
    };
    let parsed = (need != Need::Nothing).then(|| Message::parse(&bytes));
    out.extend_from_slice(b"* ");
    num(out, u64::from(item.seq));
    out.extend_from_slice(b" FETCH (");
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    if let Some(f) = &item.flags {
        sep(out);
        out.extend_from_slice(b"FLAGS ");
        Flag::write_list(out, f);
    }
    if plan.uid {
        sep(out);
        out.extend_from_slice(b"UID ");
        num(out, u64::from(rec.uid));
    }
    if plan.internaldate {
        sep(out);
        out.extend_from_slice(b"INTERNALDATE ");
        out.extend_from_slice(format_internaldate(rec.internaldate).as_bytes());
    }
    if plan.modseq {
        sep(out);
        out.extend_from_slice(b"MODSEQ (");
        num(out, rec.modseq);
        out.push(b')');
    }
    if plan.size {
        sep(out);
        out.extend_from_slice(b"RFC822.SIZE ");
        num(out, rec.size.min(u64::from(u32::MAX)));
    }
    if plan.emailid {
        sep(out);
        out.extend_from_slice(b"EMAILID (M");
        out.extend_from_slice(rec.guid.to_hex().get(..24).unwrap_or("").as_bytes());
        out.push(b')');
    }
    if plan.threadid {
        sep(out);
        out.extend_from_slice(b"THREADID NIL");
    }
    if plan.savedate {
        sep(out);
        out.extend_from_slice(b"SAVEDATE ");
        let d = crate::store::InternalDate {
            secs: rec.savedate,
            tz_minutes: 0,
        };
        out.extend_from_slice(format_internaldate(d).as_bytes());
    }
    if plan.envelope {
        sep(out);
        out.extend_from_slice(b"ENVELOPE ");
        match (&cached, &parsed) {
            (Some(env), _) => out.extend_from_slice(env),
            (None, Some(msg)) => {
                let start = out.len();
                msg.envelope().encode(out);
                if let Some(env) = out.get(start..) {
                    misses.push((rec.guid, env.to_vec()));
                }
            }
            (None, None) => out.extend_from_slice(b"NIL"),
        }
    }
    if let Some(msg) = &parsed {
        if plan.bodystructure {
            sep(out);
            out.extend_from_slice(b"BODYSTRUCTURE ");
            msg.body_structure(true).encode(out);
        }
        if plan.body {
            sep(out);
            out.extend_from_slice(b"BODY ");
            msg.body_structure(false).encode(out);
        }
        for a in &plan.rest {
            sep(out);
            match a {
                FetchAttr::BodySection {
                    section,
                    partial: p,
                    ..
                } => {
                    out.extend_from_slice(b"BODY");
                    section.write(out);
                    let data = msg.section(section);
                    match (p, data) {
                        (Some(p), data) => {
                            out.push(b'<');
                            num(out, u64::from(p.offset));
                            out.extend_from_slice(b"> ");
                            let d = data
                                .as_deref()
                                .map(|d| partial(d, p.offset, Some(p.length.get())));
                            nstring_literal(out, d);
                        }
                        (None, data) => {
                            out.push(b' ');
                            nstring_literal(out, data.as_deref());
                        }
                    }
                }
                FetchAttr::Binary {
                    part, partial: p, ..
                } => {
                    let data = msg.binary(part).map_err(|e| {
                        Stop::Reply(Reply::no_code(Code::UnknownCte, &e.to_string()))
                    })?;
                    out.extend_from_slice(b"BINARY");
                    write_parts(out, part);
                    let d = match p {
                        Some(p) => {
                            out.push(b'<');
                            num(out, u64::from(p.offset));
                            out.push(b'>');
                            data.as_deref()
                                .map(|d| partial(d, p.offset, Some(p.length.get())))
                        }
                        None => data.as_deref(),
                    };
                    out.push(b' ');
                    match d {
                        Some(d) if d.contains(&0) => {
                            out.push(b'~');
                            write_literal(out, d, LiteralMode::Sync);
                        }
                        d => nstring_literal(out, d),
                    }
                }
                FetchAttr::BinarySize { part } => {
                    let data = msg.binary(part).map_err(|e| {
                        Stop::Reply(Reply::no_code(Code::UnknownCte, &e.to_string()))
                    })?;
                    out.extend_from_slice(b"BINARY.SIZE");
                    write_parts(out, part);
                    out.push(b' ');
                    num(out, data.map(|d| d.len() as u64).unwrap_or(0));
                }
                FetchAttr::Rfc822 => {
                    out.extend_from_slice(b"RFC822 ");
                    write_literal(out, msg.raw(), LiteralMode::Sync);
                }
                FetchAttr::Rfc822Header => {
                    out.extend_from_slice(b"RFC822.HEADER ");
                    write_literal(out, msg.header(), LiteralMode::Sync);
                }
                FetchAttr::Rfc822Text => {
                    out.extend_from_slice(b"RFC822.TEXT ");
                    write_literal(out, msg.text(), LiteralMode::Sync);
                }
                _ => {}
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    Ok(())
}

fn write_parts(out: &mut Vec<u8>, part: &[std::num::NonZeroU32]) {
    out.push(b'[');
    for (n, p) in part.iter().enumerate() {
        if n > 0 {
            out.push(b'.');
        }
        num(out, u64::from(p.get()));
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_end_finds_the_blank_line() {
        assert_eq!(header_end(b"A: b\r\n\r\nbody", 0), Some(8));
        assert_eq!(header_end(b"A: b\n\nbody", 0), Some(6));
        assert_eq!(header_end(b"\r\nbody", 0), Some(2));
        assert_eq!(header_end(b"A: b\r\nC: d\r\n", 0), None);
        assert_eq!(header_end(b"A: b\r\n\r\n", 5), Some(8));
    }

    #[test]
    fn modifiers() {
        assert_eq!(modifier(None, "CHANGEDSINCE", &[]), Ok(None));
        assert_eq!(
            modifier(Some(b"(CHANGEDSINCE 12)"), "CHANGEDSINCE", &[]),
            Ok(Some(12))
        );
        assert!(modifier(Some(b"(FOO 1)"), "CHANGEDSINCE", &[]).is_err());
        assert!(modifier(Some(b"(CHANGEDSINCE x)"), "CHANGEDSINCE", &[]).is_err());
    }
}
