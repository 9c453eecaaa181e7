//! The selected state and the commands that work on messages: SELECT, EXAMINE, CLOSE, UNSELECT,
//! CHECK, EXPUNGE, UID EXPUNGE, APPEND, FETCH, STORE, SEARCH, COPY, MOVE and IDLE (RFC 3501,
//! UIDPLUS, MOVE, CONDSTORE basics, ESEARCH, BINARY, IDLE).
//!
//! # The session's view
//!
//! A selected mailbox is a [`Selected`]: the records as this session last reported them, in UID
//! order, so that the position of a record is its message sequence number. Other processes
//! change the store at any time; [`poll_changes`] compares a fresh snapshot with the view and
//! reports the difference (EXPUNGE with the right renumbering, FETCH FLAGS, EXISTS and RECENT),
//! then adopts it. Expunges are held back while a FETCH, STORE or SEARCH is answered (RFC 3501
//! §7.4.1): the record stays in the view, marked gone, until a command that may renumber.
//!
//! # `\Seen`
//!
//! As the store documents, the owner's `\Seen` is in the index, everyone else's in the seen
//! table. The view keeps the seen set of a non-owner and shows `\Seen` from it.
//!
//! # Replies
//!
//! Handlers return a [`Reply`] instead of writing the tagged line, so that the dispatcher can
//! report changes (untagged) before it, as RFC 3501 wants.

mod append;
pub mod cache;
mod fetch;
mod search;
mod store;

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::time::Duration;

use protocol::acl::Rights;
use protocol::imap::command::CommandBody;
use protocol::imap::response::{Code, Completion, Condition, Data, FetchItem, PermanentFlag};
use protocol::imap::types::{Atom, Flag, SeqNo, SeqRange, SequenceSet, Tag};
use protocol::mailbox::InternalName;

use super::{HResult, Phase, Session};
use crate::mboxdb::{MailboxEntry, MbKind, MbState};
use crate::store::{
    Flags, InternalDate, Keyword, MailboxId, Record, StoreError, SystemFlags, UidSet,
};

/// How often IDLE looks for changes made by other processes.
pub const IDLE_POLL: Duration = Duration::from_millis(1000);

/// One message as the session last reported it.
#[derive(Debug, Clone)]
pub struct Msg {
    /// The record (flags as last reported).
    pub rec: Record,
    /// `\Recent` in this session.
    pub recent: bool,
    /// Expunged by someone else, not yet reported (the sequence number still counts).
    pub gone: bool,
}

/// The selected mailbox's state in a session.
#[derive(Debug)]
pub struct Selected {
    /// Internal name.
    pub name: String,
    /// The store's id of the mailbox.
    pub id: MailboxId,
    /// The user's rights (read-write rights removed for EXAMINE).
    pub rights: Rights,
    /// Selected with EXAMINE, or without any right to change the mailbox.
    pub read_only: bool,
    /// `\Seen` comes from the index (the user owns the mailbox); otherwise from `seen`.
    pub owner_seen: bool,
    /// The user's seen set (only used when `owner_seen` is false).
    pub seen: UidSet,
    /// Messages in UID order: index + 1 is the sequence number.
    pub msgs: Vec<Msg>,
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// HIGHESTMODSEQ of the last snapshot adopted.
    pub highestmodseq: u64,
    /// The mailbox's keywords as last reported in FLAGS.
    pub keywords: Vec<String>,
}

impl Selected {
    /// Number of messages (EXISTS as last reported).
    pub fn exists(&self) -> u32 {
        u32::try_from(self.msgs.len()).unwrap_or(u32::MAX)
    }

    /// Highest UID in the view (what `*` means in a UID set); 0 when empty.
    pub fn last_uid(&self) -> u32 {
        self.msgs.last().map(|m| m.rec.uid).unwrap_or(0)
    }

    /// The index of a UID in the view.
    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.msgs.binary_search_by_key(&uid, |m| m.rec.uid).ok()
    }

    /// Whether the user has seen a message.
    pub fn is_seen(&self, m: &Msg) -> bool {
        if self.owner_seen {
            m.rec.flags.contains(SystemFlags::SEEN)
        } else {
            self.seen.contains(m.rec.uid)
        }
    }

    /// The FLAGS of a message as this user sees them, in Cyrus's order.
    pub fn flags_of(&self, m: &Msg) -> Vec<Flag> {
        let mut out = Vec::with_capacity(4);
        if m.recent {
            out.push(Flag::Recent);
        }
        let f = m.rec.flags.system;
        if f.contains(SystemFlags::ANSWERED) {
            out.push(Flag::Answered);
        }
        if f.contains(SystemFlags::FLAGGED) {
            out.push(Flag::Flagged);
        }
        if f.contains(SystemFlags::DRAFT) {
            out.push(Flag::Draft);
        }
        if f.contains(SystemFlags::DELETED) {
            out.push(Flag::Deleted);
        }
        if self.is_seen(m) {
            out.push(Flag::Seen);
        }
        for k in &m.rec.flags.keywords {
            if let Ok(a) = Atom::new(k.as_str()) {
                out.push(Flag::Keyword(a));
            }
        }
        out
    }

    /// Indexes of the messages a sequence set names (message numbers, or UIDs with `uid`), in
    /// ascending order without duplicates. Numbers outside the mailbox are ignored, as Cyrus
    /// does.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let n = self.msgs.len();
        let mut out: Vec<usize> = Vec::new();
        let largest = if uid { self.last_uid() } else { self.exists() };
        for r in set.ranges() {
            let (a, b) = match *r {
                SeqRange::Single(x) => (x.resolve(largest), x.resolve(largest)),
                SeqRange::Range(x, y) => (x.resolve(largest), y.resolve(largest)),
            };
            let (lo, hi) = (a.min(b), a.max(b));
            if uid {
                let start = self.msgs.partition_point(|m| m.rec.uid < lo);
                let end = self.msgs.partition_point(|m| m.rec.uid <= hi);
                out.extend(start..end);
            } else {
                let lo = usize::try_from(lo.max(1)).unwrap_or(usize::MAX);
                let hi = usize::try_from(hi).unwrap_or(usize::MAX).min(n);
                if lo <= hi {
                    out.extend(lo - 1..hi);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Adds keywords of these messages that the view does not know yet (the store keeps the
    /// mailbox's list in first-use order, so new ones go at the end); whether any was new.
    fn note_keywords(&mut self, used: Vec<String>) -> bool {
        let mut new: Vec<String> = Vec::new();
        for k in used {
            let known = self
                .keywords
                .iter()
                .chain(new.iter())
                .any(|x| x.eq_ignore_ascii_case(&k));
            if !known {
                new.push(k);
            }
        }
        let any = !new.is_empty();
        self.keywords.extend(new);
        any
    }

    /// The flags a user may set permanently, for PERMANENTFLAGS.
    fn permanent_flags(&self) -> Vec<PermanentFlag> {
        let r = self.rights;
        let mut out = Vec::new();
        if self.read_only {
            return out;
        }
        if r.contains(Rights::WRITE) {
            out.extend([Flag::Answered, Flag::Flagged, Flag::Draft].map(PermanentFlag::Flag));
        }
        if r.contains(Rights::DELETE_MESSAGES) {
            out.push(PermanentFlag::Flag(Flag::Deleted));
        }
        if r.contains(Rights::SEEN) {
            out.push(PermanentFlag::Flag(Flag::Seen));
        }
        if r.contains(Rights::WRITE) {
            out.extend(
                self.keywords
                    .iter()
                    .filter_map(|k| Atom::new(k).ok())
                    .map(|a| PermanentFlag::Flag(Flag::Keyword(a))),
            );
            out.push(PermanentFlag::Wildcard);
        }
        out
    }

    /// The FLAGS response: the system flags and the mailbox's keywords.
    fn flags_data(&self) -> Data {
        let mut f = vec![
            Flag::Answered,
            Flag::Flagged,
            Flag::Draft,
            Flag::Deleted,
            Flag::Seen,
        ];
        f.extend(
            self.keywords
                .iter()
                .filter_map(|k| Atom::new(k).ok())
                .map(Flag::Keyword),
        );
        Data::Flags(f)
    }
}

/// What a handler answers; the dispatcher reports pending changes, then sends it.
#[derive(Debug)]
pub struct Reply {
    kind: Completion,
    code: Option<Code>,
    text: String,
    /// Report changes before the tagged line.
    poll: bool,
}

impl Reply {
    fn ok() -> Reply {
        Reply {
            kind: Completion::Ok,
            code: None,
            text: "Completed".into(),
            poll: true,
        }
    }
    fn ok_code(code: Code) -> Reply {
        Reply {
            code: Some(code),
            ..Reply::ok()
        }
    }
    fn no(text: &str) -> Reply {
        Reply {
            kind: Completion::No,
            code: None,
            text: text.into(),
            poll: true,
        }
    }
    fn no_code(code: Code, text: &str) -> Reply {
        Reply {
            code: Some(code),
            ..Reply::no(text)
        }
    }
    fn bad(text: &str) -> Reply {
        Reply {
            kind: Completion::Bad,
            code: None,
            text: text.into(),
            poll: false,
        }
    }
    fn with_text(mut self, text: &str) -> Reply {
        self.text = text.into();
        self
    }
    fn no_poll(mut self) -> Reply {
        self.poll = false;
        self
    }
    /// The NO for a store failure: `[UNAVAILABLE]` for what may pass on retry.
    fn store_error(e: &StoreError) -> Reply {
        tracing::warn!("store: {e}");
        match e {
            StoreError::NoSuchMailbox(_) => Reply::no("Mailbox does not exist"),
            StoreError::TooLarge { .. } => Reply::no("Message size exceeds fixed limit"),
            StoreError::TooManyKeywords(_) => Reply::no("Too many user flags in mailbox"),
            StoreError::BadFlag(_) => Reply::bad("Invalid flag name"),
            StoreError::Moving(_) => Reply::no_code(Code::InUse, MOVING_TEXT),
            e if e.is_temporary() => Reply::no_code(Code::Unavailable, "System I/O error"),
            _ => Reply::no("System I/O error"),
        }
    }
}

/// Result of a handler: a reply, or the end of the session.
type HReply = Result<Reply, super::End>;

/// A mailbox found in mailboxes.db and usable here.
pub(crate) struct Target {
    /// The entry.
    pub entry: MailboxEntry,
    /// Its store id.
    pub id: MailboxId,
    /// The user's rights.
    pub rights: Rights,
    /// The user owns it (their `\Seen` is in the index).
    pub owner: bool,
}

/// The text of `NO [INUSE]` for a mailbox being moved: the change is refused, not lost, and
/// the client may retry (it will reach the mailbox wherever it then lives).
pub(crate) const MOVING_TEXT: &str = "Mailbox is being moved to another server; try again later";

/// Why a mailbox cannot be used.
pub(crate) enum LookupError {
    /// No such mailbox (or invisible to the user).
    NonExistent,
    /// Reserved (being created or moved).
    Reserved,
    /// Being moved to another server (XFER in progress): try again later.
    Moving,
    /// Moved to another server.
    Moved,
    /// The database failed.
    Io,
}

impl LookupError {
    fn reply(&self, trycreate: bool) -> Reply {
        match self {
            LookupError::NonExistent if trycreate => {
                Reply::no_code(Code::TryCreate, "Mailbox does not exist")
            }
            LookupError::NonExistent => Reply::no("Mailbox does not exist"),
            LookupError::Reserved => Reply::no("Mailbox is currently reserved"),
            LookupError::Moving => Reply::no_code(Code::InUse, MOVING_TEXT),
            LookupError::Moved => Reply::no("Mailbox has been moved to another server"),
            LookupError::Io => Reply::no_code(Code::Unavailable, "System I/O error"),
        }
    }
}

/// Looks up a mailbox by the client's name (mailboxes.db reads are memory-mapped and short,
/// so they run inline).
pub(crate) fn lookup(s: &Session, external: &[u8]) -> Result<Target, LookupError> {
    let name = s.internal_name(external).ok_or(LookupError::NonExistent)?;
    lookup_internal(s, &name)
}

/// [`lookup`] by internal name.
pub(crate) fn lookup_internal(s: &Session, name: &InternalName) -> Result<Target, LookupError> {
    let entry = match s.ctx.mboxdb.get(name.as_str()) {
        Ok(Some(e)) => e,
        Ok(None) => return Err(LookupError::NonExistent),
        Err(e) => {
            tracing::warn!("mailboxes.db: {e}");
            return Err(LookupError::Io);
        }
    };
    match entry.state() {
        MbState::Local => {}
        MbState::Reserved => return Err(LookupError::Reserved),
        MbState::Moving => return Err(LookupError::Moving),
        MbState::Remote => return Err(LookupError::Moved),
        MbState::Deleted | MbState::Intermediate => return Err(LookupError::NonExistent),
    }
    if entry.kind != MbKind::Email {
        return Err(LookupError::NonExistent);
    }
    let id = MailboxId::new(&entry.uniqueid).map_err(|_| LookupError::NonExistent)?;
    let rights = s.rights(&entry);
    let owner = name.owner().is_some_and(|o| o == s.user_name());
    Ok(Target {
        entry,
        id,
        rights,
        owner,
    })
}

/// Converts client flags to the store's; `\Recent` is dropped. `Err` names a flag that cannot
/// be stored.
pub(crate) fn to_store_flags(flags: &[Flag]) -> Result<Flags, String> {
    let mut out = Flags::new();
    for f in flags {
        match f {
            Flag::Seen => out.system = out.system.union(SystemFlags::SEEN),
            Flag::Answered => out.system = out.system.union(SystemFlags::ANSWERED),
            Flag::Flagged => out.system = out.system.union(SystemFlags::FLAGGED),
            Flag::Deleted => out.system = out.system.union(SystemFlags::DELETED),
            Flag::Draft => out.system = out.system.union(SystemFlags::DRAFT),
            Flag::Recent => {}
            Flag::Keyword(a) => {
                let k = Keyword::new(a.as_str()).map_err(|_| a.as_str().to_owned())?;
                out.keywords.insert(k);
            }
            Flag::Extension(a) => return Err(format!("\\{}", a.as_str())),
        }
    }
    Ok(out)
}

/// Keeps only the flags the rights allow setting: `\Seen` needs `s`, `\Deleted` `t`, the
/// rest `w` (Cyrus drops the others silently on APPEND and COPY).
pub(crate) fn allowed_flags(f: &Flags, rights: Rights) -> Flags {
    let mut out = f.clone();
    if !rights.contains(Rights::SEEN) {
        out.system = out.system.difference(SystemFlags::SEEN);
    }
    if !rights.contains(Rights::DELETE_MESSAGES) {
        out.system = out.system.difference(SystemFlags::DELETED);
    }
    if !rights.contains(Rights::WRITE) {
        out.system = out.system.difference(
            SystemFlags::ANSWERED
                .union(SystemFlags::FLAGGED)
                .union(SystemFlags::DRAFT),
        );
        out.keywords.clear();
    }
    out
}

/// A sequence set from ascending numbers, runs compressed to ranges; `None` when empty.
pub(crate) fn seqset(nums: &[u32]) -> Option<SequenceSet> {
    let mut ranges = Vec::new();
    let mut it = nums.iter().copied().filter_map(NonZeroU32::new).peekable();
    while let Some(a) = it.next() {
        let mut b = a;
        while let Some(&n) = it.peek() {
            if b.get().checked_add(1) == Some(n.get()) {
                b = n;
                it.next();
            } else {
                break;
            }
        }
        ranges.push(if a == b {
            SeqRange::Single(SeqNo::Value(a))
        } else {
            SeqRange::Range(SeqNo::Value(a), SeqNo::Value(b))
        });
    }
    SequenceSet::new(ranges).ok()
}

fn days_to_civil(z: i64) -> (i64, u32, u32) {
    // Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The calendar date and time of an instant seen in a zone (minutes east of UTC).
fn civil(secs: i64, tz_minutes: i16) -> (i64, u32, u32, u32, u32, u32) {
    let local = secs.saturating_add(i64::from(tz_minutes) * 60);
    let days = local.div_euclid(86_400);
    let rem = local.rem_euclid(86_400);
    let (y, m, d) = days_to_civil(days);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// INTERNALDATE as IMAP writes it, quoted: `"01-Jan-2020 10:00:00 +0200"`.
pub(crate) fn format_internaldate(d: InternalDate) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, dd, h, mi, s) = civil(d.secs, d.tz_minutes);
    let mon = MONTHS
        .get(usize::try_from(m).unwrap_or(1).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    let z = d.tz_minutes;
    format!(
        "\"{dd:02}-{mon}-{y:04} {h:02}:{mi:02}:{s:02} {}{:02}{:02}\"",
        if z < 0 { '-' } else { '+' },
        z.unsigned_abs() / 60,
        z.unsigned_abs() % 60
    )
}

/// The calendar date of INTERNALDATE in its own zone (SEARCH BEFORE/ON/SINCE).
pub(crate) fn internal_date(d: InternalDate) -> (i64, u32, u32) {
    let (y, m, dd, ..) = civil(d.secs, d.tz_minutes);
    (y, m, dd)
}

/// Runs one command of this group.
pub async fn dispatch(s: &mut Session, tag: &Tag, body: CommandBody) -> HResult {
    let needs_selected = matches!(
        body,
        CommandBody::Close
            | CommandBody::Unselect
            | CommandBody::Check
            | CommandBody::Expunge
            | CommandBody::UidExpunge { .. }
            | CommandBody::Fetch { .. }
            | CommandBody::Store { .. }
            | CommandBody::Search { .. }
            | CommandBody::Copy { .. }
            | CommandBody::Move { .. }
    );
    if needs_selected && s.selected.is_none() {
        s.bad(tag, "Please select a mailbox first");
        return Ok(());
    }
    if s.store().is_none() {
        s.no(tag, "Server(s) unavailable to complete operation");
        return Ok(());
    }
    // RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH.
    let expunge_ok = !matches!(
        body,
        CommandBody::Fetch { .. } | CommandBody::Store { .. } | CommandBody::Search { .. }
    );
    let reply = match body {
        CommandBody::Select { mailbox, params } => select(s, &mailbox, params, false).await?,
        CommandBody::Examine { mailbox, params } => select(s, &mailbox, params, true).await?,
        CommandBody::Close => close(s).await?,
        CommandBody::Unselect => {
            unselect(s);
            Reply::ok().no_poll()
        }
        CommandBody::Check => Reply::ok(),
        CommandBody::Expunge => expunge(s, None).await?,
        CommandBody::UidExpunge { set } => expunge(s, Some(set)).await?,
        CommandBody::Idle => return idle(s, tag).await,
        CommandBody::Append { mailbox, messages } => append::append(s, &mailbox, messages).await?,
        CommandBody::Copy { uid, set, mailbox } => {
            append::copy(s, uid, &set, &mailbox, false).await?
        }
        CommandBody::Move { uid, set, mailbox } => {
            append::copy(s, uid, &set, &mailbox, true).await?
        }
        CommandBody::Fetch {
            uid,
            set,
            items,
            modifiers,
        } => fetch::fetch(s, uid, &set, &items, modifiers.as_deref()).await?,
        CommandBody::Store {
            uid,
            set,
            modifiers,
            mode,
            silent,
            flags,
        } => store::store(s, uid, &set, modifiers.as_deref(), mode, silent, &flags).await?,
        CommandBody::Search {
            uid,
            returns,
            charset,
            criteria,
        } => search::search(s, tag, uid, returns, charset, criteria).await?,
        _ => Reply::bad("Unrecognized command"),
    };
    if reply.poll && s.selected.is_some() {
        poll(s, expunge_ok).await?;
    }
    s.tagged(tag, reply.kind, reply.code, &reply.text);
    Ok(())
}

pub(crate) fn unselect(s: &mut Session) {
    s.selected = None;
    if s.phase == Phase::Selected {
        s.phase = Phase::Authenticated;
    }
}

fn condstore(s: &Session) -> bool {
    s.enabled.iter().any(|e| e == "CONDSTORE")
}

async fn select(s: &mut Session, mailbox: &[u8], params: Option<Vec<u8>>, examine: bool) -> HReply {
    if s.selected.is_some() {
        unselect(s);
        s.untagged(Condition::Ok, Some(Code::Closed), "Ok");
    }
    if let Some(p) = &params {
        let up = String::from_utf8_lossy(p).to_ascii_uppercase();
        let words: Vec<&str> = up
            .split([' ', '(', ')'])
            .filter(|w| !w.is_empty())
            .collect();
        if words.iter().any(|w| *w != "CONDSTORE") {
            return Ok(Reply::bad("Invalid parameters").no_poll());
        }
        if !condstore(s) {
            s.enabled.push("CONDSTORE".into());
        }
    }
    let t = match lookup(s, mailbox) {
        Ok(t) => t,
        Err(e) => return Ok(e.reply(false).no_poll()),
    };
    if !t.rights.contains(Rights::READ) {
        return Ok(if t.rights.contains(Rights::LOOKUP) {
            Reply::no("Permission denied")
        } else {
            Reply::no("Mailbox does not exist")
        }
        .no_poll());
    }
    let writable = Rights::SEEN | Rights::WRITE | Rights::DELETE_MESSAGES | Rights::EXPUNGE;
    let read_only = examine || t.rights.intersection(writable).is_empty();
    let rights = if examine {
        t.rights.difference(writable)
    } else {
        t.rights
    };
    let store = s.store().ok_or(super::End::Closed)?;
    let user = s.user_name().to_owned();
    let id = t.id.clone();
    let owner = t.owner;
    let res = s
        .blocking(move || -> Result<_, StoreError> {
            let (state, recs) = store.snapshot(&id)?;
            // EXAMINE leaves \Recent to the next SELECT (Cyrus does the same).
            let recent: Vec<u32> = if read_only {
                let last = store.seen(&user, &id)?.recent_uid;
                recs.iter().map(|r| r.uid).filter(|&u| u > last).collect()
            } else {
                store.take_recent(&user, &id)?
            };
            let seen = if owner {
                UidSet::new()
            } else {
                store.seen(&user, &id)?.seen
            };
            Ok((state, recs, recent, seen))
        })
        .await?;
    let (state, recs, recent, seen) = match res {
        Ok(x) => x,
        Err(e) => return Ok(Reply::store_error(&e).no_poll()),
    };
    let recent: BTreeSet<u32> = recent.into_iter().collect();
    let msgs: Vec<Msg> = recs
        .into_iter()
        .map(|rec| Msg {
            recent: recent.contains(&rec.uid),
            rec,
            gone: false,
        })
        .collect();
    let sel = Selected {
        name: t.entry.name.clone(),
        id: t.id,
        rights,
        read_only,
        owner_seen: owner,
        seen,
        msgs,
        uidvalidity: state.uidvalidity,
        highestmodseq: state.highestmodseq,
        keywords: state
            .keywords
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect(),
    };
    let recent_n = sel.msgs.iter().filter(|m| m.recent).count();
    s.data(Data::Exists(sel.exists()));
    s.data(Data::Recent(u32::try_from(recent_n).unwrap_or(u32::MAX)));
    s.data(sel.flags_data());
    s.untagged(
        Condition::Ok,
        Some(Code::PermanentFlags(sel.permanent_flags())),
        "Ok",
    );
    if let Some(i) = sel.msgs.iter().position(|m| !sel.is_seen(m)) {
        s.untagged(
            Condition::Ok,
            Some(Code::Unseen(u32::try_from(i + 1).unwrap_or(u32::MAX))),
            "Ok",
        );
    }
    s.untagged(
        Condition::Ok,
        Some(Code::UidValidity(state.uidvalidity)),
        "Ok",
    );
    s.untagged(Condition::Ok, Some(Code::UidNext(state.uidnext)), "Ok");
    s.untagged(
        Condition::Ok,
        Some(Code::HighestModSeq(state.highestmodseq)),
        "Ok",
    );
    if let Ok(a) = Atom::new(sel.id.as_str()) {
        s.untagged(Condition::Ok, Some(Code::MailboxId(a)), "Ok");
    }
    s.selected = Some(sel);
    s.phase = Phase::Selected;
    Ok(Reply::ok_code(if read_only {
        Code::ReadOnly
    } else {
        Code::ReadWrite
    })
    .no_poll())
}

async fn close(s: &mut Session) -> HReply {
    let Some(sel) = &s.selected else {
        return Ok(Reply::bad("Please select a mailbox first"));
    };
    if !sel.read_only && sel.rights.contains(Rights::EXPUNGE) {
        let store = s.store().ok_or(super::End::Closed)?;
        let id = sel.id.clone();
        // CLOSE reports nothing; a failure to expunge still closes (RFC 3501 §6.4.2).
        if let Err(e) = s.blocking(move || store.expunge_deleted(&id, None)).await? {
            tracing::warn!("CLOSE expunge: {e}");
        }
    }
    unselect(s);
    Ok(Reply::ok().no_poll())
}

async fn expunge(s: &mut Session, set: Option<SequenceSet>) -> HReply {
    let Some(sel) = &s.selected else {
        return Ok(Reply::bad("Please select a mailbox first"));
    };
    if sel.read_only || !sel.rights.contains(Rights::EXPUNGE) {
        return Ok(Reply::no("Permission denied"));
    }
    let uids: Option<Vec<u32>> = set.map(|set| {
        sel.resolve(&set, true)
            .into_iter()
            .filter_map(|i| sel.msgs.get(i).map(|m| m.rec.uid))
            .collect()
    });
    if uids.as_ref().is_some_and(|u| u.is_empty()) {
        return Ok(Reply::ok());
    }
    let store = s.store().ok_or(super::End::Closed)?;
    let id = sel.id.clone();
    match s
        .blocking(move || store.expunge_deleted(&id, uids.as_deref()))
        .await?
    {
        // The EXPUNGE responses come from the poll that follows.
        Ok(_) => Ok(Reply::ok()),
        Err(e) => Ok(Reply::store_error(&e)),
    }
}

/// Reports changes made by other sessions to the selected mailbox (NOOP, IDLE, and before the
/// tagged reply of most commands).
pub async fn poll_changes(s: &mut Session) -> HResult {
    poll(s, true).await
}

/// [`poll_changes`]; with `expunge_ok` false, expunged messages stay in the view (marked
/// gone) so that sequence numbers do not move.
pub(crate) async fn poll(s: &mut Session, expunge_ok: bool) -> HResult {
    let Some(sel) = &s.selected else {
        return Ok(());
    };
    let Some(store) = s.store() else {
        return Ok(());
    };
    let id = sel.id.clone();
    let mark = sel.highestmodseq;
    let last_uid = sel.last_uid();
    let owner_seen = sel.owner_seen;
    let read_only = sel.read_only;
    let pending_gone = sel.msgs.iter().any(|m| m.gone);
    let user = s.user_name().to_owned();
    let res = s
        .blocking(move || -> Result<_, StoreError> {
            let seen = if owner_seen {
                None
            } else {
                Some(store.seen(&user, &id)?.seen)
            };
            let state = store.mailbox_state(&id)?;
            if state.highestmodseq == mark && !pending_gone {
                return Ok((seen, None));
            }
            let (state, recs) = store.snapshot(&id)?;
            let new = recs.last().is_some_and(|r| r.uid > last_uid);
            let recent = if !new {
                Vec::new()
            } else if read_only {
                let last = store.seen(&user, &id)?.recent_uid;
                recs.iter()
                    .map(|r| r.uid)
                    .filter(|&u| u > last.max(last_uid))
                    .collect()
            } else {
                store.take_recent(&user, &id)?
            };
            Ok((seen, Some((state, recs, recent))))
        })
        .await?;
    let (seen, snap) = match res {
        Ok(x) => x,
        Err(StoreError::NoSuchMailbox(_)) => {
            // Deleted under us: Cyrus ends the session the same way.
            s.untagged(Condition::Bye, None, "Mailbox has been deleted");
            s.phase = Phase::Logout;
            return Ok(());
        }
        Err(e) => {
            tracing::warn!("poll: {e}");
            return Ok(());
        }
    };
    let cond = condstore(s);
    let Some(sel) = s.selected.as_mut() else {
        return Ok(());
    };
    let mut out: Vec<Data> = Vec::new();
    // Indexes whose flags must be reported (by position after expunges are applied).
    let mut changed_uids: BTreeSet<u32> = BTreeSet::new();
    if let Some(new_seen) = seen {
        if new_seen != sel.seen {
            for m in &sel.msgs {
                if new_seen.contains(m.rec.uid) != sel.seen.contains(m.rec.uid) {
                    changed_uids.insert(m.rec.uid);
                }
            }
            sel.seen = new_seen;
        }
    }
    let mut grew = false;
    if let Some((state, recs, recent)) = snap {
        let recent: BTreeSet<u32> = recent.into_iter().collect();
        // Merge the view (old) with the snapshot (new), both in UID order.
        let mut merged: Vec<Msg> = Vec::with_capacity(recs.len().max(sel.msgs.len()));
        let mut expunged_at: Vec<usize> = Vec::new();
        let mut new_it = recs.into_iter().peekable();
        for m in std::mem::take(&mut sel.msgs) {
            // Records below this UID that the view lacks cannot exist (UIDs only grow).
            while new_it.peek().is_some_and(|r| r.uid < m.rec.uid) {
                new_it.next();
            }
            match new_it.peek() {
                Some(r) if r.uid == m.rec.uid => {
                    let r = new_it.next().unwrap_or_else(|| m.rec.clone());
                    if !m.gone && r.flags != m.rec.flags {
                        changed_uids.insert(r.uid);
                    }
                    merged.push(Msg {
                        rec: r,
                        recent: m.recent,
                        gone: m.gone,
                    });
                }
                _ => {
                    if expunge_ok {
                        expunged_at.push(merged.len() + expunged_at.len());
                    } else {
                        merged.push(Msg { gone: true, ..m });
                    }
                }
            }
        }
        // EXPUNGE numbers shift down as earlier ones are reported.
        for (k, i) in expunged_at.iter().enumerate() {
            let seq = i - k + 1;
            out.push(Data::Expunge(u32::try_from(seq).unwrap_or(u32::MAX)));
        }
        for r in new_it {
            if r.uid > last_uid {
                grew = true;
                merged.push(Msg {
                    recent: recent.contains(&r.uid),
                    rec: r,
                    gone: false,
                });
            }
        }
        sel.msgs = merged;
        sel.highestmodseq = state.highestmodseq;
        let kw: Vec<String> = state
            .keywords
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        let fold = |v: &[String]| {
            let mut v: Vec<String> = v.iter().map(|k| k.to_ascii_lowercase()).collect();
            v.sort();
            v
        };
        if fold(&kw) != fold(&sel.keywords) {
            sel.keywords = kw;
            out.push(sel.flags_data());
        }
    }
    for d in out.drain(..) {
        let is_flags = matches!(d, Data::Flags(_));
        s.data(d);
        if is_flags {
            if let Some(sel) = &s.selected {
                let pf = sel.permanent_flags();
                s.untagged(Condition::Ok, Some(Code::PermanentFlags(pf)), "Ok");
            }
        }
    }
    let Some(sel) = s.selected.as_ref() else {
        return Ok(());
    };
    let mut fetches = Vec::new();
    for uid in changed_uids {
        if let Some(i) = sel.index_of(uid) {
            let m = &sel.msgs[i];
            if m.gone {
                continue;
            }
            let mut items = vec![FetchItem::Flags(sel.flags_of(m))];
            if cond {
                items.push(FetchItem::Uid(uid));
                items.push(FetchItem::ModSeq(m.rec.modseq));
            }
            fetches.push(Data::Fetch {
                seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                items,
            });
        }
    }
    let grown = grew.then(|| {
        (
            sel.exists(),
            u32::try_from(sel.msgs.iter().filter(|m| m.recent).count()).unwrap_or(u32::MAX),
        )
    });
    for f in fetches {
        s.data(f);
    }
    if let Some((exists, recent)) = grown {
        s.data(Data::Exists(exists));
        s.data(Data::Recent(recent));
    }
    Ok(())
}

async fn idle(s: &mut Session, tag: &Tag) -> HResult {
    s.out.extend_from_slice(b"+ idling\r\n");
    loop {
        if s.phase == Phase::Logout {
            return Ok(());
        }
        // Output must be flushed here: `read_line` flushes too, and cancelling it in the
        // middle of a write would lose track of what was sent.
        s.flush().await?;
        let line = tokio::select! {
            l = s.read_line() => Some(l?),
            _ = tokio::time::sleep(IDLE_POLL) => None,
        };
        match line {
            None => {
                if s.selected.is_some() {
                    poll(s, true).await?;
                }
            }
            Some(Some(l)) => {
                let l = l.strip_suffix(b"\n").unwrap_or(&l);
                let l = l.strip_suffix(b"\r").unwrap_or(l);
                if l.eq_ignore_ascii_case(b"DONE") {
                    break;
                }
                s.bad(tag, "Invalid Idle continuation");
                return Ok(());
            }
            Some(None) => {
                s.bad(tag, "Invalid Idle continuation");
                return Ok(());
            }
        }
    }
    if s.selected.is_some() {
        poll(s, true).await?;
    }
    s.ok(tag);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0, 0), (1970, 1, 1, 0, 0, 0));
        // 2020-01-01T08:00:00Z seen at +0200.
        assert_eq!(civil(1_577_865_600, 120), (2020, 1, 1, 10, 0, 0));
        assert_eq!(civil(951_782_400, 0), (2000, 2, 29, 0, 0, 0));
        let d = InternalDate {
            secs: 1_577_865_600,
            tz_minutes: 120,
        };
        assert_eq!(format_internaldate(d), "\"01-Jan-2020 10:00:00 +0200\"");
    }

    #[test]
    fn seqsets_compress_runs() {
        let mut out = Vec::new();
        seqset(&[1, 2, 3, 5, 7, 8]).unwrap().write(&mut out);
        assert_eq!(out, b"1:3,5,7:8");
        assert!(seqset(&[]).is_none());
    }
}
