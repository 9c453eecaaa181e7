//! The store's value types: ids, flags, records, UID sets, quotas, annotations.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

use super::codec::{Dec, Enc};
use super::StoreError;

/// Longest mailbox unique id accepted, in bytes. Cyrus ids are 24 to 36 characters.
pub const MAX_MAILBOX_ID_LEN: usize = 64;

/// A mailbox's globally unique id (the `uniqueid` of its `mailboxes.db` entry).
///
/// Everything the store keeps about a mailbox is keyed by this id, never by name, so a RENAME
/// touches no message data. The id names a directory, so only `[A-Za-z0-9_-]` is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(String);

impl MailboxId {
    /// Checks an id (1 to [`MAX_MAILBOX_ID_LEN`] bytes of `[A-Za-z0-9_-]`).
    pub fn new(id: &str) -> Result<Self, StoreError> {
        let ok = !id.is_empty()
            && id.len() <= MAX_MAILBOX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(MailboxId(id.to_owned()))
        } else {
            Err(StoreError::InvalidMailboxId(id.to_owned()))
        }
    }

    /// A new id: 128 bits from the operating system's random source, as 32 lower-case hex digits.
    ///
    /// Cyrus 3.6 without libuuid seeds `rand()` from the clock, so two backends started in the
    /// same second hand out the same ids (reference README, gotcha 10). Ids from the OS CSPRNG
    /// collide with probability ~2^-64 even across millions of mailboxes on many backends.
    pub fn generate() -> Self {
        MailboxId(format!("{:032x}", rand::random::<u128>()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MailboxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for MailboxId {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        MailboxId::new(s)
    }
}

/// The IMAP system flags a message can carry, as a bitset. `\Recent` is not stored: it is
/// per session (see [`crate::store::Store::take_recent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SystemFlags(u8);

impl SystemFlags {
    /// `\Answered`
    pub const ANSWERED: SystemFlags = SystemFlags(1 << 0);
    /// `\Flagged`
    pub const FLAGGED: SystemFlags = SystemFlags(1 << 1);
    /// `\Deleted`
    pub const DELETED: SystemFlags = SystemFlags(1 << 2);
    /// `\Draft`
    pub const DRAFT: SystemFlags = SystemFlags(1 << 3);
    /// `\Seen`
    pub const SEEN: SystemFlags = SystemFlags(1 << 4);
    const ALL: u8 = 0x1f;
    const NAMES: [(SystemFlags, &'static str); 5] = [
        (SystemFlags::ANSWERED, "\\Answered"),
        (SystemFlags::FLAGGED, "\\Flagged"),
        (SystemFlags::DELETED, "\\Deleted"),
        (SystemFlags::SEEN, "\\Seen"),
        (SystemFlags::DRAFT, "\\Draft"),
    ];

    /// No flag.
    pub const fn empty() -> Self {
        SystemFlags(0)
    }
    /// The raw bits (bit 0 `\Answered` … bit 4 `\Seen`).
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Builds from raw bits; `None` if an unknown bit is set.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits & !Self::ALL == 0 {
            Some(SystemFlags(bits))
        } else {
            None
        }
    }
    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: SystemFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// The union.
    pub const fn union(self, other: SystemFlags) -> Self {
        SystemFlags(self.0 | other.0)
    }
    /// `self` without the flags of `other`.
    pub const fn difference(self, other: SystemFlags) -> Self {
        SystemFlags(self.0 & !other.0)
    }
    /// The flag named `name` (`\Seen`, case-insensitive); `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _)| *f)
    }
    /// The names of the set flags, in Cyrus's FETCH order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

/// Longest keyword accepted, in bytes.
pub const MAX_KEYWORD_LEN: usize = 255;

/// A user-defined flag (IMAP `flag-keyword`, an atom without a leading `\`).
///
/// Keywords compare case-insensitively (as Cyrus does), but keep the spelling they were first
/// stored with in a mailbox.
#[derive(Debug, Clone)]
pub struct Keyword(String);

impl Keyword {
    /// Checks a keyword: 1 to [`MAX_KEYWORD_LEN`] atom characters, not starting with `\`.
    pub fn new(s: &str) -> Result<Self, StoreError> {
        let atom = |b: u8| {
            b > b' '
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        };
        if !s.is_empty() && s.len() <= MAX_KEYWORD_LEN && s.bytes().all(atom) {
            Ok(Keyword(s.to_owned()))
        } else {
            Err(StoreError::BadFlag(s.to_owned()))
        }
    }
    /// The keyword as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Keyword {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Keyword {}
impl PartialOrd for Keyword {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Keyword {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.bytes().map(|b| b.to_ascii_lowercase());
        let b = other.0.bytes().map(|b| b.to_ascii_lowercase());
        a.cmp(b)
    }
}
impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message's flags: system flags and keywords.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flags {
    /// `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, `\Seen`.
    pub system: SystemFlags,
    /// User-defined keywords.
    pub keywords: BTreeSet<Keyword>,
}

impl Flags {
    /// No flags.
    pub fn new() -> Self {
        Flags::default()
    }

    /// Parses IMAP flag names (`\Seen`, `$Junk`, …). `\Recent` and unknown `\` flags are
    /// refused: they cannot be stored.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, StoreError> {
        let mut f = Flags::new();
        for n in names {
            if n.starts_with('\\') {
                let s = SystemFlags::from_name(n).ok_or_else(|| StoreError::BadFlag(n.into()))?;
                f.system = f.system.union(s);
            } else {
                f.keywords.insert(Keyword::new(n)?);
            }
        }
        Ok(f)
    }

    /// Only system flags.
    pub fn system(system: SystemFlags) -> Self {
        Flags {
            system,
            keywords: BTreeSet::new(),
        }
    }

    /// Whether `flag` is set.
    pub fn contains(&self, flag: SystemFlags) -> bool {
        self.system.contains(flag)
    }

    /// All names: system flags first (Cyrus's order), then keywords.
    pub fn names(&self) -> Vec<String> {
        self.system
            .names()
            .map(str::to_owned)
            .chain(self.keywords.iter().map(|k| k.0.clone()))
            .collect()
    }

    /// Applies a STORE.
    pub fn apply(&self, mode: FlagMode, other: &Flags) -> Flags {
        match mode {
            FlagMode::Add => Flags {
                system: self.system.union(other.system),
                keywords: self.keywords.union(&other.keywords).cloned().collect(),
            },
            FlagMode::Remove => Flags {
                system: self.system.difference(other.system),
                keywords: self.keywords.difference(&other.keywords).cloned().collect(),
            },
            FlagMode::Replace => other.clone(),
        }
    }

    pub(crate) fn encode(&self, e: &mut Enc) {
        e.u8(self.system.0);
        e.u32(len_u32(self.keywords.len()));
        for k in &self.keywords {
            e.str(&k.0);
        }
    }

    pub(crate) fn decode(d: &mut Dec<'_>) -> Option<Self> {
        let system = SystemFlags::from_bits(d.u8()?)?;
        let n = d.u32()?;
        let mut keywords = BTreeSet::new();
        for _ in 0..n {
            keywords.insert(Keyword::new(&d.str()?).ok()?);
        }
        Some(Flags { system, keywords })
    }
}

/// How a STORE combines flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagMode {
    /// `+FLAGS`
    Add,
    /// `-FLAGS`
    Remove,
    /// `FLAGS`
    Replace,
}

/// A message's INTERNALDATE: seconds since the epoch (UTC) and the zone it was given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct InternalDate {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// The zone offset to display, in minutes east of UTC (`+0200` is 120).
    pub tz_minutes: i16,
}

impl InternalDate {
    /// The current time, displayed in UTC.
    pub fn now() -> Self {
        InternalDate {
            secs: super::now_secs(),
            tz_minutes: 0,
        }
    }
}

/// The GUID of a message: the SHA-1 of its bytes (as Cyrus computes it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Guid(pub [u8; 20]);

impl Guid {
    /// Hashes a message.
    pub fn of(bytes: &[u8]) -> Self {
        use sha1::Digest;
        Guid(sha1::Sha1::digest(bytes).into())
    }
    /// 40 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self.to_hex())
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// One message's index record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The UID (never reused within one UIDVALIDITY).
    pub uid: u32,
    /// The modseq of the record's last change (CONDSTORE).
    pub modseq: u64,
    /// Flags as stored in the index (`\Seen` here is the owner's; see the module doc).
    pub flags: Flags,
    /// INTERNALDATE.
    pub internaldate: InternalDate,
    /// RFC822.SIZE: the message's length in bytes.
    pub size: u64,
    /// SHA-1 of the message bytes.
    pub guid: Guid,
    /// When the record was added to this mailbox (seconds since the epoch; SAVEDATE).
    pub savedate: i64,
}

impl Record {
    const VERSION: u8 = 1;

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::with_capacity(64);
        e.u8(Self::VERSION);
        e.u32(self.uid);
        e.u64(self.modseq);
        e.i64(self.internaldate.secs);
        e.i16(self.internaldate.tz_minutes);
        e.u64(self.size);
        e.raw(&self.guid.0);
        e.i64(self.savedate);
        self.flags.encode(&mut e);
        e.finish()
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let mut d = Dec::new(b);
        if d.u8()? != Self::VERSION {
            return None;
        }
        let uid = d.u32()?;
        let modseq = d.u64()?;
        let secs = d.i64()?;
        let tz_minutes = d.i16()?;
        let size = d.u64()?;
        let guid = Guid(d.array::<20>()?);
        let savedate = d.i64()?;
        let flags = Flags::decode(&mut d)?;
        Some(Record {
            uid,
            modseq,
            flags,
            internaldate: InternalDate { secs, tz_minutes },
            size,
            guid,
            savedate,
        })
    }
}

/// A set of UIDs as sorted, disjoint, non-adjacent inclusive ranges (how seen state is kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UidSet(Vec<(u32, u32)>);

impl UidSet {
    /// The empty set.
    pub fn new() -> Self {
        UidSet(Vec::new())
    }

    /// The set of `uids`.
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> Self {
        let mut s = UidSet::new();
        for u in uids {
            s.insert(u);
        }
        s
    }

    /// Adds one UID.
    pub fn insert(&mut self, uid: u32) {
        self.insert_range(uid, uid);
    }

    /// Adds `lo..=hi` (ignored when `lo > hi`).
    pub fn insert_range(&mut self, lo: u32, hi: u32) {
        if lo > hi {
            return;
        }
        let (mut lo, mut hi) = (lo, hi);
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.0 {
            // Disjoint and not touching: keep as is.
            if b.saturating_add(1) < lo {
                out.push((a, b));
            } else if hi.saturating_add(1) < a {
                if !placed {
                    out.push((lo, hi));
                    placed = true;
                }
                out.push((a, b));
            } else {
                lo = lo.min(a);
                hi = hi.max(b);
            }
        }
        if !placed {
            out.push((lo, hi));
        }
        self.0 = out;
    }

    /// Removes one UID.
    pub fn remove(&mut self, uid: u32) {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        for &(a, b) in &self.0 {
            if uid < a || uid > b {
                out.push((a, b));
            } else {
                if a < uid {
                    out.push((a, uid - 1));
                }
                if uid < b {
                    out.push((uid + 1, b));
                }
            }
        }
        self.0 = out;
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.0.iter().any(|&(a, b)| a <= uid && uid <= b)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ranges.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.0
    }

    /// Every UID, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().flat_map(|&(a, b)| a..=b)
    }

    /// IMAP sequence-set form (`1:3,7`); empty for the empty set.
    pub fn to_imap(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}:{b}")
                }
            })
            .collect();
        parts.join(",")
    }

    pub(crate) fn encode(&self, e: &mut Enc) {
        e.u32(len_u32(self.0.len()));
        for &(a, b) in &self.0 {
            e.u32(a);
            e.u32(b);
        }
    }

    pub(crate) fn decode(d: &mut Dec<'_>) -> Option<Self> {
        let n = d.u32()?;
        let mut s = UidSet::new();
        for _ in 0..n {
            let a = d.u32()?;
            let b = d.u32()?;
            // Stored sets are already normalised; only a damaged one takes the slow path.
            match s.0.last() {
                Some(&(_, last)) if a <= last.saturating_add(1) => s.insert_range(a, b),
                _ if a <= b => s.0.push((a, b)),
                _ => return None,
            }
        }
        Some(s)
    }
}

/// A mailbox's state as SELECT, STATUS and POP3 need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxState {
    /// The mailbox.
    pub id: MailboxId,
    /// The partition holding its files.
    pub partition: String,
    /// UIDVALIDITY.
    pub uidvalidity: u32,
    /// UIDNEXT: the UID the next message will get.
    pub uidnext: u32,
    /// HIGHESTMODSEQ.
    pub highestmodseq: u64,
    /// The modseq the mailbox was created with.
    pub createdmodseq: u64,
    /// EXISTS: number of messages.
    pub exists: u32,
    /// Messages without `\Seen` in the index (the owner's unseen count).
    pub unseen: u32,
    /// Messages with `\Deleted`.
    pub deleted: u32,
    /// Sum of message sizes, in bytes.
    pub size: u64,
    /// Keywords used in this mailbox (for FLAGS and PERMANENTFLAGS).
    pub keywords: Vec<Keyword>,
    /// The quota root charged for this mailbox, if any.
    pub quota_root: Option<String>,
}

/// A quota resource (RFC 9208 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaResource {
    /// `STORAGE`, in KiB.
    Storage,
    /// `MESSAGE`, a count.
    Message,
    /// `MAILBOX` (Cyrus `X-NUM-FOLDERS`), a count.
    Mailbox,
    /// `ANNOTATION-STORAGE`, in KiB.
    AnnotationStorage,
}

impl QuotaResource {
    /// The RFC 9208 name.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaResource::Storage => "STORAGE",
            QuotaResource::Message => "MESSAGE",
            QuotaResource::Mailbox => "MAILBOX",
            QuotaResource::AnnotationStorage => "ANNOTATION-STORAGE",
        }
    }
}

/// A quota root's limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaLimits {
    /// STORAGE, in KiB.
    pub storage_kib: Option<u64>,
    /// MESSAGE count.
    pub messages: Option<u64>,
    /// MAILBOX count.
    pub mailboxes: Option<u64>,
    /// ANNOTATION-STORAGE, in KiB.
    pub annotation_kib: Option<u64>,
}

/// A quota root's usage, kept exact by every change that affects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaUsage {
    /// Bytes of messages.
    pub storage_bytes: u64,
    /// Messages.
    pub messages: u64,
    /// Mailboxes charged to the root.
    pub mailboxes: u64,
    /// Bytes of mailbox annotation values.
    pub annotation_bytes: u64,
}

impl QuotaUsage {
    /// STORAGE usage as GETQUOTA reports it (KiB, rounded down, as Cyrus does).
    pub fn storage_kib(&self) -> u64 {
        self.storage_bytes / 1024
    }
    /// ANNOTATION-STORAGE usage in KiB, rounded down.
    pub fn annotation_kib(&self) -> u64 {
        self.annotation_bytes / 1024
    }
}

/// A quota root: its limits and usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// The root's name (an internal mailbox name, by convention).
    pub root: String,
    /// Limits.
    pub limits: QuotaLimits,
    /// Usage.
    pub usage: QuotaUsage,
}

impl Quota {
    const VERSION: u8 = 1;

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::with_capacity(80);
        e.u8(Self::VERSION);
        for l in [
            self.limits.storage_kib,
            self.limits.messages,
            self.limits.mailboxes,
            self.limits.annotation_kib,
        ] {
            e.opt_u64(l);
        }
        e.u64(self.usage.storage_bytes);
        e.u64(self.usage.messages);
        e.u64(self.usage.mailboxes);
        e.u64(self.usage.annotation_bytes);
        e.finish()
    }

    pub(crate) fn decode(root: String, b: &[u8]) -> Option<Self> {
        let mut d = Dec::new(b);
        if d.u8()? != Self::VERSION {
            return None;
        }
        let limits = QuotaLimits {
            storage_kib: d.opt_u64()?,
            messages: d.opt_u64()?,
            mailboxes: d.opt_u64()?,
            annotation_kib: d.opt_u64()?,
        };
        let usage = QuotaUsage {
            storage_bytes: d.u64()?,
            messages: d.u64()?,
            mailboxes: d.u64()?,
            annotation_bytes: d.u64()?,
        };
        Some(Quota {
            root,
            limits,
            usage,
        })
    }

    /// The first resource that `add_bytes` more storage and `add_messages` more messages would
    /// push over its limit (Cyrus's rule: usage + delta > limit × unit; shrinking never exceeds).
    pub fn would_exceed(&self, add_bytes: u64, add_messages: u64) -> Option<QuotaResource> {
        if add_bytes > 0 {
            if let Some(l) = self.limits.storage_kib {
                if self.usage.storage_bytes.saturating_add(add_bytes) > l.saturating_mul(1024) {
                    return Some(QuotaResource::Storage);
                }
            }
        }
        if add_messages > 0 {
            if let Some(l) = self.limits.messages {
                if self.usage.messages.saturating_add(add_messages) > l {
                    return Some(QuotaResource::Message);
                }
            }
        }
        None
    }
}

/// One annotation (RFC 5464 entry and value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// The entry, `/shared/…` or `/private/…`.
    pub entry: String,
    /// The owner of a `/private/` value; `None` for `/shared/`.
    pub user: Option<String>,
    /// The value.
    pub value: Vec<u8>,
}

/// A user's seen state in one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeenState {
    /// UIDs the user has seen.
    pub seen: UidSet,
    /// The highest UID already reported `\Recent` to this user.
    pub recent_uid: u32,
}

impl SeenState {
    const VERSION: u8 = 1;

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::with_capacity(16 + self.seen.0.len() * 8);
        e.u8(Self::VERSION);
        e.u32(self.recent_uid);
        self.seen.encode(&mut e);
        e.finish()
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let mut d = Dec::new(b);
        if d.u8()? != Self::VERSION {
            return None;
        }
        let recent_uid = d.u32()?;
        let seen = UidSet::decode(&mut d)?;
        Some(SeenState { seen, recent_uid })
    }
}

/// Saturating conversion for counts written as `u32` (lists far below 4 G entries).
pub(crate) fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
