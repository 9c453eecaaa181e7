//! SEARCH and UID SEARCH (RFC 3501 §6.4.4), with ESEARCH's `RETURN (MIN MAX COUNT ALL)`
//! (RFC 4731), CONDSTORE's MODSEQ key and WITHIN's OLDER / YOUNGER.
//!
//! Flags, sizes, dates and UIDs come from the session's view; a message is read only when a
//! key needs its header (FROM, SUBJECT, HEADER, SENT*...) or its text (BODY, TEXT), and then
//! once, however many keys look at it. Strings match as case-insensitive substrings of the
//! decoded text (encoded words and transfer encodings undone, charsets converted to UTF-8).

use std::sync::Arc;

use protocol::imap::command::SearchKey;
use protocol::imap::response::{Code, Data, EsearchData};
use protocol::imap::types::{Atom, Date, Tag};
use protocol::mime::{contains_ignore_case, Message};

use super::fetch::read_header;
use super::{internal_date, seqset, HReply, Reply};
use crate::imapd::Session;
use crate::store::{MailboxId, Record, Store, StoreError, SystemFlags};

/// What the search needs to know of one message.
struct Cand {
    seq: u32,
    rec: Record,
    seen: bool,
    recent: bool,
    /// Known gone: its text cannot be read.
    gone: bool,
}

/// Context for evaluating keys.
struct Ctx {
    exists: u32,
    last_uid: u32,
    now: i64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Nothing,
    Header,
    Whole,
}

fn need_of(k: &SearchKey) -> Need {
    match k {
        SearchKey::Body(_) | SearchKey::Text(_) => Need::Whole,
        SearchKey::Bcc(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Subject(_)
        | SearchKey::Header(..)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_) => Need::Header,
        SearchKey::Not(k) => need_of(k),
        SearchKey::Or(a, b) => need_of(a).max(need_of(b)),
        SearchKey::And(ks) => ks.iter().map(need_of).max().unwrap_or(Need::Nothing),
        _ => Need::Nothing,
    }
}

fn uses_modseq(k: &SearchKey) -> bool {
    match k {
        SearchKey::ModSeq { .. } => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(ks) => ks.iter().any(uses_modseq),
        _ => false,
    }
}

/// The message's bytes and parse, loaded on first use.
struct Lazy<'a> {
    store: &'a Store,
    id: &'a MailboxId,
    uid: u32,
    need: Need,
    bytes: Option<Result<Vec<u8>, StoreError>>,
}

impl Lazy<'_> {
    fn bytes(&mut self) -> Option<&[u8]> {
        if self.bytes.is_none() {
            self.bytes = Some(match self.need {
                Need::Whole => self.store.read_message(self.id, self.uid),
                _ => read_header(self.store, self.id, self.uid),
            });
        }
        self.bytes
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .map(Vec::as_slice)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn date_tuple(d: Date) -> (i64, u32, u32) {
    (
        i64::from(d.year()),
        u32::from(d.month()),
        u32::from(d.day()),
    )
}

/// The `Date:` header's calendar date in its own zone, or the internal date's.
fn sent_date(msg: &Message<'_>, c: &Cand) -> (i64, u32, u32) {
    match msg.sent_date() {
        Some(Ok(dt)) => date_tuple(dt.date()),
        _ => internal_date(c.rec.internaldate),
    }
}

fn header_matches(msg: &Message<'_>, name: &[u8], needle: &[u8]) -> bool {
    let values = msg.header_values(name);
    if needle.is_empty() {
        return !values.is_empty();
    }
    let n = text(needle);
    values.iter().any(|v| contains_ignore_case(v, &n))
}

fn eval(k: &SearchKey, c: &Cand, cx: &Ctx, lazy: &mut Lazy<'_>) -> bool {
    let f = &c.rec.flags;
    let has = |x: SystemFlags| f.contains(x);
    match k {
        SearchKey::All => true,
        SearchKey::Answered => has(SystemFlags::ANSWERED),
        SearchKey::Deleted => has(SystemFlags::DELETED),
        SearchKey::Draft => has(SystemFlags::DRAFT),
        SearchKey::Flagged => has(SystemFlags::FLAGGED),
        SearchKey::Seen => c.seen,
        SearchKey::Recent => c.recent,
        SearchKey::New => c.recent && !c.seen,
        SearchKey::Old => !c.recent,
        SearchKey::Unanswered => !has(SystemFlags::ANSWERED),
        SearchKey::Undeleted => !has(SystemFlags::DELETED),
        SearchKey::Undraft => !has(SystemFlags::DRAFT),
        SearchKey::Unflagged => !has(SystemFlags::FLAGGED),
        SearchKey::Unseen => !c.seen,
        SearchKey::Keyword(a) | SearchKey::Unkeyword(a) => {
            let name = a.as_str();
            let found = match crate::store::SystemFlags::from_name(name) {
                Some(SystemFlags::SEEN) => c.seen,
                Some(sf) => has(sf),
                None => f
                    .keywords
                    .iter()
                    .any(|k| k.as_str().eq_ignore_ascii_case(name)),
            };
            found == matches!(k, SearchKey::Keyword(_))
        }
        SearchKey::Larger(n) => c.rec.size > *n,
        SearchKey::Smaller(n) => c.rec.size < *n,
        SearchKey::Before(d) => internal_date(c.rec.internaldate) < date_tuple(*d),
        SearchKey::On(d) => internal_date(c.rec.internaldate) == date_tuple(*d),
        SearchKey::Since(d) => internal_date(c.rec.internaldate) >= date_tuple(*d),
        SearchKey::Older(secs) => cx.now - c.rec.internaldate.secs >= i64::from(*secs),
        SearchKey::Younger(secs) => cx.now - c.rec.internaldate.secs <= i64::from(*secs),
        SearchKey::Uid(set) => set.contains(c.rec.uid, cx.last_uid),
        SearchKey::SequenceSet(set) => set.contains(c.seq, cx.exists),
        SearchKey::ModSeq { modseq, .. } => c.rec.modseq >= *modseq,
        SearchKey::Not(k) => !eval(k, c, cx, lazy),
        SearchKey::Or(a, b) => eval(a, c, cx, lazy) || eval(b, c, cx, lazy),
        SearchKey::And(ks) => ks.iter().all(|k| eval(k, c, cx, lazy)),
        // Everything below reads the message.
        _ => {
            if c.gone {
                return false;
            }
            let Some(bytes) = lazy.bytes() else {
                return false;
            };
            let msg = Message::parse(bytes);
            match k {
                SearchKey::Bcc(s) => header_matches(&msg, b"Bcc", s),
                SearchKey::Cc(s) => header_matches(&msg, b"Cc", s),
                SearchKey::From(s) => header_matches(&msg, b"From", s),
                SearchKey::To(s) => header_matches(&msg, b"To", s),
                SearchKey::Subject(s) => header_matches(&msg, b"Subject", s),
                SearchKey::Header(name, s) => header_matches(&msg, name, s),
                SearchKey::SentBefore(d) => sent_date(&msg, c) < date_tuple(*d),
                SearchKey::SentOn(d) => sent_date(&msg, c) == date_tuple(*d),
                SearchKey::SentSince(d) => sent_date(&msg, c) >= date_tuple(*d),
                SearchKey::Body(s) => contains_ignore_case(&msg.searchable_text(), &text(s)),
                SearchKey::Text(s) => {
                    let n = text(s);
                    contains_ignore_case(&msg.searchable_headers(), &n)
                        || contains_ignore_case(&msg.searchable_text(), &n)
                }
                _ => false,
            }
        }
    }
}

/// Evaluates the keys over every candidate; returns the matching (seq, uid, modseq).
fn run(
    store: &Store,
    id: &MailboxId,
    keys: &SearchKey,
    cands: &[Cand],
    cx: &Ctx,
) -> Vec<(u32, u32, u64)> {
    let need = need_of(keys);
    let mut out = Vec::new();
    for c in cands {
        let mut lazy = Lazy {
            store,
            id,
            uid: c.rec.uid,
            need,
            bytes: None,
        };
        if eval(keys, c, cx, &mut lazy) {
            out.push((c.seq, c.rec.uid, c.rec.modseq));
        }
    }
    out
}

pub(super) async fn search(
    s: &mut Session,
    tag: &Tag,
    uid: bool,
    returns: Option<Vec<Atom>>,
    charset: Option<Vec<u8>>,
    criteria: Vec<SearchKey>,
) -> HReply {
    let started = std::time::Instant::now();
    if let Some(cs) = &charset {
        let ok = [&b"UTF-8"[..], b"US-ASCII", b"UTF8"]
            .iter()
            .any(|n| cs.eq_ignore_ascii_case(n));
        if !ok {
            return Ok(Reply::no_code(
                Code::BadCharset(vec![b"US-ASCII".to_vec(), b"UTF-8".to_vec()]),
                "Unrecognized character set",
            ));
        }
    }
    let mut ret = (false, false, false, false); // min, max, count, all
    if let Some(r) = &returns {
        for a in r {
            match a.as_str().to_ascii_uppercase().as_str() {
                "MIN" => ret.0 = true,
                "MAX" => ret.1 = true,
                "COUNT" => ret.2 = true,
                "ALL" => ret.3 = true,
                "SAVE" => {}
                _ => return Ok(Reply::bad("Invalid Search criteria")),
            }
        }
        if r.is_empty() {
            ret.3 = true;
        }
    }
    let Some(store) = s.store() else {
        return Ok(Reply::no("Server(s) unavailable to complete operation"));
    };
    let Some(sel) = s.selected.as_ref() else {
        return Ok(Reply::bad("Please select a mailbox first"));
    };
    let cands: Vec<Cand> = sel
        .msgs
        .iter()
        .enumerate()
        .map(|(i, m)| Cand {
            seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
            seen: sel.is_seen(m),
            recent: m.recent,
            gone: m.gone,
            rec: m.rec.clone(),
        })
        .collect();
    let cx = Ctx {
        exists: sel.exists(),
        last_uid: sel.last_uid(),
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0),
    };
    let with_modseq = criteria.iter().any(uses_modseq);
    let keys = Arc::new(SearchKey::And(criteria));
    let id = sel.id.clone();
    let found = s
        .blocking(move || run(&store, &id, &keys, &cands, &cx))
        .await?;
    let nums: Vec<u32> = found
        .iter()
        .map(|&(seq, u, _)| if uid { u } else { seq })
        .collect();
    let top_modseq = found.iter().map(|f| f.2).max();
    if returns.is_some() {
        // Cyrus's order: COUNT, MIN, MAX, ALL.
        let mut data = Vec::new();
        if ret.2 {
            data.push(EsearchData::Count(
                u32::try_from(nums.len()).unwrap_or(u32::MAX),
            ));
        }
        if ret.0 {
            if let Some(&n) = nums.first() {
                data.push(EsearchData::Min(n));
            }
        }
        if ret.1 {
            if let Some(&n) = nums.last() {
                data.push(EsearchData::Max(n));
            }
        }
        if ret.3 {
            if let Some(set) = seqset(&nums) {
                data.push(EsearchData::All(set));
            }
        }
        if with_modseq {
            if let Some(m) = top_modseq {
                data.push(EsearchData::ModSeq(m));
            }
        }
        s.data(Data::Esearch {
            tag: Some(tag.as_str().as_bytes().to_vec()),
            uid,
            data,
        });
    } else {
        s.data(Data::Search {
            nums,
            modseq: if with_modseq { top_modseq } else { None },
        });
    }
    Ok(Reply::ok().with_text(&format!(
        "Completed ({} msgs in {:.3} secs)",
        found.len(),
        started.elapsed().as_secs_f64()
    )))
}
