//! `mailboxes.db`: the per-host mailbox list, in LMDB through heed.
//!
//! One database per host, under `configdirectory`. Many processes read it at once (frontend
//! daemons read the local slave's copy directly); LMDB lets one writer at a time commit, and a
//! commit is on disk before it returns, so a protocol may answer OK right after a write.
//!
//! Keys are Cyrus 3.6 "dbnames" ([`protocol::mailbox::dbname_key`]), so iteration order is the
//! order Cyrus uses for MUPDATE LIST/UPDATE and `ctl_mboxlist -m` (reference §3.3).
//!
//! Values carry a version byte, so the encoding can grow without a migration step.
#![allow(unsafe_code)] // opening an LMDB map is `unsafe` in heed; see the SAFETY note in `open`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, WithoutTls};
use protocol::mailbox::{dbname_key, internal_from_dbname};

/// Errors from the mailbox database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// LMDB refused an operation.
    #[error("mailboxes.db at {path}: {source}")]
    Lmdb {
        /// The database directory.
        path: PathBuf,
        /// What LMDB said.
        #[source]
        source: heed::Error,
    },
    /// The directory could not be created.
    #[error("mailboxes.db at {path}: {source}")]
    Io {
        /// The database directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be decoded (written by a newer version, or damaged).
    #[error("mailboxes.db: entry {name:?} is unreadable: {reason}")]
    Corrupt {
        /// The mailbox whose record is bad.
        name: String,
        /// What was wrong.
        reason: &'static str,
    },
}

/// Bits of an entry's `mbtype`, as Cyrus names them (reference §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct MbFlags(u16);

impl MbFlags {
    /// `r`: the mailbox lives on another server.
    pub const REMOTE: MbFlags = MbFlags(1 << 0);
    /// `z`: the name is reserved (being created or moved).
    pub const RESERVED: MbFlags = MbFlags(1 << 1);
    /// `m`: being moved away by XFER (backends only).
    pub const MOVING: MbFlags = MbFlags(1 << 2);
    /// `d`: a tombstone.
    pub const DELETED: MbFlags = MbFlags(1 << 3);
    /// `i`: an intermediate placeholder (a parent that does not exist itself).
    pub const INTERMEDIATE: MbFlags = MbFlags(1 << 4);
    /// `l`: legacy directory layout.
    pub const LEGACY_DIRS: MbFlags = MbFlags(1 << 5);
    /// Not a Cyrus bit: the MUPDATE location had no `!` at all (`backend1`), as opposed to an
    /// empty partition (`backend1!`). A Cyrus master echoes each form back as it was given.
    pub const BARE_SERVER: MbFlags = MbFlags(1 << 8);

    /// No flags.
    pub const fn empty() -> Self {
        MbFlags(0)
    }
    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: MbFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Sets or clears `other`.
    pub fn set(&mut self, other: MbFlags, on: bool) {
        if on {
            self.0 |= other.0
        } else {
            self.0 &= !other.0
        }
    }
    /// The union.
    pub const fn with(self, other: MbFlags) -> Self {
        MbFlags(self.0 | other.0)
    }
}

/// The kind of mailbox (Cyrus's type letter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MbKind {
    /// `e`
    #[default]
    Email,
    /// `n`
    Netnews,
    /// `b`
    Collection,
    /// `c`
    Calendar,
    /// `a`
    Addressbook,
    /// `f`
    Sieve,
}

impl MbKind {
    fn letter(self) -> char {
        match self {
            MbKind::Email => 'e',
            MbKind::Netnews => 'n',
            MbKind::Collection => 'b',
            MbKind::Calendar => 'c',
            MbKind::Addressbook => 'a',
            MbKind::Sieve => 'f',
        }
    }
    fn from_letter(c: char) -> Option<Self> {
        Some(match c {
            'e' => MbKind::Email,
            'n' => MbKind::Netnews,
            'b' => MbKind::Collection,
            'c' => MbKind::Calendar,
            'a' => MbKind::Addressbook,
            'f' => MbKind::Sieve,
            _ => return None,
        })
    }
}

/// What an entry means to the murder, derived from its flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MbState {
    /// A mailbox held on this host.
    Local,
    /// An active mailbox on another server (MUPDATE ACTIVE).
    Remote,
    /// A reserved name (MUPDATE RESERVE).
    Reserved,
    /// Being moved away by XFER.
    Moving,
    /// A tombstone.
    Deleted,
    /// An intermediate placeholder.
    Intermediate,
}

impl MbState {
    /// The lower-case name shown by tools.
    pub fn as_str(self) -> &'static str {
        match self {
            MbState::Local => "local",
            MbState::Remote => "remote",
            MbState::Reserved => "reserved",
            MbState::Moving => "moving",
            MbState::Deleted => "deleted",
            MbState::Intermediate => "intermediate",
        }
    }
}

/// One record of mailboxes.db.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailboxEntry {
    /// Internal name (`user.bob.Sent`).
    pub name: String,
    /// Type letter.
    pub kind: MbKind,
    /// State flags.
    pub flags: MbFlags,
    /// The server holding it; `None` for a local mailbox.
    pub server: Option<String>,
    /// Partition name.
    pub partition: String,
    /// ACL in Cyrus's TAB form (`id\trights\t...`); empty for a reservation.
    pub acl: String,
    /// Globally unique id (empty on frontends: MUPDATE does not carry it).
    pub uniqueid: String,
    /// UIDVALIDITY (0 when unknown).
    pub uidvalidity: u32,
    /// Last change, seconds since the epoch.
    pub mtime: i64,
    /// Modseq at creation.
    pub createdmodseq: u64,
    /// Modseq of the last folder change.
    pub foldermodseq: u64,
}

impl MailboxEntry {
    /// The entry's murder state.
    pub fn state(&self) -> MbState {
        let f = self.flags;
        if f.contains(MbFlags::DELETED) {
            MbState::Deleted
        } else if f.contains(MbFlags::INTERMEDIATE) {
            MbState::Intermediate
        } else if f.contains(MbFlags::RESERVED) {
            MbState::Reserved
        } else if f.contains(MbFlags::MOVING) {
            MbState::Moving
        } else if f.contains(MbFlags::REMOTE) {
            MbState::Remote
        } else {
            MbState::Local
        }
    }

    /// The `mbtype` letters as `ctl_mboxlist -d` prints them (`e`, `er`, `erz`, ...).
    pub fn mbtype_letters(&self) -> String {
        let mut s = String::new();
        s.push(self.kind.letter());
        for (flag, c) in [
            (MbFlags::DELETED, 'd'),
            (MbFlags::INTERMEDIATE, 'i'),
            (MbFlags::LEGACY_DIRS, 'l'),
            (MbFlags::MOVING, 'm'),
            (MbFlags::REMOTE, 'r'),
            (MbFlags::RESERVED, 'z'),
        ] {
            if self.flags.contains(flag) {
                s.push(c);
            }
        }
        s
    }

    /// Parses `mbtype` letters (the inverse of [`MailboxEntry::mbtype_letters`]).
    pub fn set_mbtype_letters(&mut self, letters: &str) -> Result<(), char> {
        let mut flags = MbFlags::empty();
        let mut kind = MbKind::Email;
        for c in letters.chars() {
            match c {
                'd' => flags.set(MbFlags::DELETED, true),
                'i' => flags.set(MbFlags::INTERMEDIATE, true),
                'l' => flags.set(MbFlags::LEGACY_DIRS, true),
                'm' => flags.set(MbFlags::MOVING, true),
                'r' => flags.set(MbFlags::REMOTE, true),
                'z' => flags.set(MbFlags::RESERVED, true),
                other => kind = MbKind::from_letter(other).ok_or(other)?,
            }
        }
        self.flags = flags;
        self.kind = kind;
        Ok(())
    }

    /// `server!partition`, as MUPDATE carries it (just the partition for a local entry).
    pub fn location(&self) -> String {
        match &self.server {
            Some(s) if self.flags.contains(MbFlags::BARE_SERVER) => s.clone(),
            Some(s) => format!("{s}!{}", self.partition),
            None => self.partition.clone(),
        }
    }

    /// Sets server and partition from an MUPDATE location, split at the first `!`, keeping
    /// whether there was a `!` at all so [`MailboxEntry::location`] gives back the same bytes.
    pub fn set_location(&mut self, location: &str) {
        match location.split_once('!') {
            Some((s, p)) => {
                self.server = Some(s.to_owned());
                self.partition = p.to_owned();
                self.flags.set(MbFlags::BARE_SERVER, false);
            }
            None => {
                self.server = Some(location.to_owned());
                self.partition = String::new();
                self.flags.set(MbFlags::BARE_SERVER, true);
            }
        }
    }

    const VERSION: u8 = 1;

    /// The stored form: a version byte, then fixed fields and length-prefixed strings.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(
            40 + self.partition.len() + self.acl.len() + self.uniqueid.len() + 16,
        );
        v.push(Self::VERSION);
        v.push(self.kind.letter() as u8);
        v.extend_from_slice(&self.flags.0.to_le_bytes());
        v.extend_from_slice(&self.uidvalidity.to_le_bytes());
        v.extend_from_slice(&self.mtime.to_le_bytes());
        v.extend_from_slice(&self.createdmodseq.to_le_bytes());
        v.extend_from_slice(&self.foldermodseq.to_le_bytes());
        match &self.server {
            Some(s) => {
                v.push(1);
                put_str(&mut v, s);
            }
            None => v.push(0),
        }
        put_str(&mut v, &self.partition);
        put_str(&mut v, &self.acl);
        put_str(&mut v, &self.uniqueid);
        v
    }

    /// Decodes a stored value for the mailbox `name`.
    pub fn decode(name: String, mut b: &[u8]) -> Result<Self, DbError> {
        let bad = |reason| DbError::Corrupt {
            name: name.clone(),
            reason,
        };
        let version = take_u8(&mut b).ok_or_else(|| bad("empty record"))?;
        if version != Self::VERSION {
            return Err(bad("unknown record version"));
        }
        let kind = take_u8(&mut b)
            .and_then(|c| MbKind::from_letter(c as char))
            .ok_or_else(|| bad("bad type"))?;
        let flags = take::<2>(&mut b)
            .map(u16::from_le_bytes)
            .ok_or_else(|| bad("short record"))?;
        let uidvalidity = take::<4>(&mut b)
            .map(u32::from_le_bytes)
            .ok_or_else(|| bad("short record"))?;
        let mtime = take::<8>(&mut b)
            .map(i64::from_le_bytes)
            .ok_or_else(|| bad("short record"))?;
        let createdmodseq = take::<8>(&mut b)
            .map(u64::from_le_bytes)
            .ok_or_else(|| bad("short record"))?;
        let foldermodseq = take::<8>(&mut b)
            .map(u64::from_le_bytes)
            .ok_or_else(|| bad("short record"))?;
        let server = match take_u8(&mut b) {
            Some(0) => None,
            Some(1) => Some(take_str(&mut b).ok_or_else(|| bad("bad server"))?),
            _ => return Err(bad("bad server marker")),
        };
        let partition = take_str(&mut b).ok_or_else(|| bad("bad partition"))?;
        let acl = take_str(&mut b).ok_or_else(|| bad("bad acl"))?;
        let uniqueid = take_str(&mut b).ok_or_else(|| bad("bad uniqueid"))?;
        Ok(MailboxEntry {
            name,
            kind,
            flags: MbFlags(flags),
            server,
            partition,
            acl,
            uniqueid,
            uidvalidity,
            mtime,
            createdmodseq,
            foldermodseq,
        })
    }
}

fn put_str(v: &mut Vec<u8>, s: &str) {
    // Names, locations and ACLs are far below 4 GiB; saturate rather than wrap just in case.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&s.as_bytes()[..len as usize]);
}

fn take_u8(b: &mut &[u8]) -> Option<u8> {
    let (&first, rest) = b.split_first()?;
    *b = rest;
    Some(first)
}

fn take<const N: usize>(b: &mut &[u8]) -> Option<[u8; N]> {
    let head = b.get(..N)?;
    let arr: [u8; N] = head.try_into().ok()?;
    *b = &b[N..];
    Some(arr)
}

fn take_str(b: &mut &[u8]) -> Option<String> {
    let len = u32::from_le_bytes(take::<4>(b)?) as usize;
    let s = b.get(..len)?;
    let out = std::str::from_utf8(s).ok()?.to_owned();
    *b = &b[len..];
    Some(out)
}

/// An open mailboxes.db. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct MailboxDb {
    env: Env<WithoutTls>,
    db: Database<Bytes, Bytes>,
    /// Small facts about the database itself (when a slave last synced, from where), kept
    /// apart so that they never show up as mailboxes.
    meta: Database<Bytes, Bytes>,
    path: PathBuf,
}

/// The directory name of the database under `configdirectory`.
pub const DB_DIR: &str = "mailboxes.db";

impl MailboxDb {
    /// Opens (creating if needed) `<configdirectory>/mailboxes.db`.
    pub fn open_in(configdirectory: &Path) -> Result<Self, DbError> {
        Self::open(&configdirectory.join(DB_DIR))
    }

    /// Opens (creating if needed) the database in directory `path`. Within one process every
    /// open of the same directory shares one handle: LMDB (and heed) allow an environment to be
    /// opened only once per process, and the local murder runs several daemons in one process.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        static OPEN: OnceLock<Mutex<HashMap<PathBuf, MailboxDb>>> = OnceLock::new();
        std::fs::create_dir_all(path).map_err(|source| DbError::Io {
            path: path.to_owned(),
            source,
        })?;
        let key = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        let mut open = OPEN
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(db) = open.get(&key) {
            return Ok(db.clone());
        }
        let db = Self::open_new(path)?;
        open.insert(key, db.clone());
        Ok(db)
    }

    fn open_new(path: &Path) -> Result<Self, DbError> {
        let lmdb = |source| DbError::Lmdb {
            path: path.to_owned(),
            source,
        };
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        // The map is virtual address space, not memory: 64 GiB holds far more than any murder's
        // list, and only pages in use take space on disk or in RAM.
        opts.map_size(64 << 30).max_dbs(4).max_readers(1024);
        // SAFETY: the map is only modified through LMDB (this process or others using LMDB's own
        // lock file); we never truncate or write the files behind LMDB's back, and the directory
        // is local (configdirectory), not on a network filesystem.
        let env = unsafe { opts.open(path) }.map_err(lmdb)?;
        // A reader left behind by a process killed with -9 would pin old pages forever.
        let _ = env.clear_stale_readers();
        let mut wtxn = env.write_txn().map_err(lmdb)?;
        let db = env
            .create_database(&mut wtxn, Some("mailboxes"))
            .map_err(lmdb)?;
        let meta = env.create_database(&mut wtxn, Some("meta")).map_err(lmdb)?;
        wtxn.commit().map_err(lmdb)?;
        Ok(MailboxDb {
            env,
            db,
            meta,
            path: path.to_owned(),
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: heed::Error) -> DbError {
        DbError::Lmdb {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads a meta value.
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, DbError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        Ok(self
            .meta
            .get(&rtxn, key.as_bytes())
            .map_err(|e| self.err(e))?
            .map(|v| String::from_utf8_lossy(v).into_owned()))
    }

    /// Writes a meta value durably.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), DbError> {
        let mut txn = self.env.write_txn().map_err(|e| self.err(e))?;
        self.meta
            .put(&mut txn, key.as_bytes(), value.as_bytes())
            .map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }

    /// Looks one mailbox up by internal name.
    pub fn get(&self, name: &str) -> Result<Option<MailboxEntry>, DbError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        match self
            .db
            .get(&rtxn, &dbname_key(name))
            .map_err(|e| self.err(e))?
        {
            Some(v) => MailboxEntry::decode(name.to_owned(), v).map(Some),
            None => Ok(None),
        }
    }

    /// Stores one entry durably.
    pub fn put(&self, entry: &MailboxEntry) -> Result<(), DbError> {
        self.write(|tx| {
            tx.put(entry);
            Ok(())
        })
    }

    /// Removes one entry durably; whether it existed.
    pub fn delete(&self, name: &str) -> Result<bool, DbError> {
        self.write(|tx| Ok(tx.delete(name)))
    }

    /// Runs several changes as one atomic, durable transaction. Readers see all of them or none.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut WriteBatch<'_, '_>) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut txn = self.env.write_txn().map_err(|e| self.err(e))?;
        let mut batch = WriteBatch {
            txn: &mut txn,
            db: self.db,
            error: None,
        };
        let out = f(&mut batch)?;
        if let Some(e) = batch.error.take() {
            return Err(self.err(e));
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Visits entries in key order whose dbname starts with `prefix`'s dbname (all when empty),
    /// from one consistent snapshot, until `f` breaks.
    pub fn scan(
        &self,
        prefix: &str,
        mut f: impl FnMut(MailboxEntry) -> ControlFlow<()>,
    ) -> Result<(), DbError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        let key = dbname_key(prefix);
        // LMDB refuses an empty key for a cursor seek, so "everything" is a plain iteration.
        let mut visit = |item: heed::Result<(&[u8], &[u8])>| -> Result<bool, DbError> {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let entry = MailboxEntry::decode(internal_from_dbname(k), v)?;
            Ok(f(entry).is_continue())
        };
        if key.is_empty() {
            for item in self.db.iter(&rtxn).map_err(|e| self.err(e))? {
                if !visit(item)? {
                    break;
                }
            }
        } else {
            for item in self.db.prefix_iter(&rtxn, &key).map_err(|e| self.err(e))? {
                if !visit(item)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Every entry, in key order.
    pub fn all(&self) -> Result<Vec<MailboxEntry>, DbError> {
        let mut out = Vec::new();
        self.scan("", |e| {
            out.push(e);
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64, DbError> {
        let rtxn = self.env.read_txn().map_err(|e| self.err(e))?;
        self.db.len(&rtxn).map_err(|e| self.err(e))
    }

    /// Whether the database is empty.
    pub fn is_empty(&self) -> Result<bool, DbError> {
        Ok(self.len()? == 0)
    }
}

/// Changes inside one [`MailboxDb::write`] transaction.
pub struct WriteBatch<'a, 'env> {
    txn: &'a mut heed::RwTxn<'env>,
    db: Database<Bytes, Bytes>,
    /// The first LMDB error; reported when the batch ends, so call sites stay simple.
    error: Option<heed::Error>,
}

impl WriteBatch<'_, '_> {
    /// Inserts or replaces an entry.
    pub fn put(&mut self, entry: &MailboxEntry) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = self
            .db
            .put(self.txn, &dbname_key(&entry.name), &entry.encode())
        {
            self.error = Some(e);
        }
    }

    /// Removes an entry; whether it existed.
    pub fn delete(&mut self, name: &str) -> bool {
        if self.error.is_some() {
            return false;
        }
        match self.db.delete(self.txn, &dbname_key(name)) {
            Ok(existed) => existed,
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }

    /// Reads an entry as this transaction sees it.
    pub fn get(&mut self, name: &str) -> Result<Option<MailboxEntry>, DbError> {
        match self.db.get(self.txn, &dbname_key(name)) {
            Ok(Some(v)) => MailboxEntry::decode(name.to_owned(), v).map(Some),
            Ok(None) => Ok(None),
            Err(e) => {
                self.error = Some(e);
                Ok(None)
            }
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.db.clear(self.txn) {
                self.error = Some(e);
            }
        }
    }

    /// Every key (as an internal name) in this transaction's view, in order.
    pub fn names(&mut self) -> Result<Vec<String>, DbError> {
        let mut out = Vec::new();
        let iter = match self.db.iter(self.txn) {
            Ok(it) => it,
            Err(e) => {
                self.error = Some(e);
                return Ok(out);
            }
        };
        for item in iter {
            match item {
                Ok((k, _)) => out.push(internal_from_dbname(k)),
                Err(e) => {
                    self.error = Some(e);
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, server: Option<&str>) -> MailboxEntry {
        MailboxEntry {
            name: name.into(),
            server: server.map(Into::into),
            partition: "default".into(),
            acl: "bob\tlrswipkxtecdan\t".into(),
            flags: if server.is_some() {
                MbFlags::REMOTE
            } else {
                MbFlags::empty()
            },
            ..Default::default()
        }
    }

    #[test]
    fn entries_survive_reopen_in_cyrus_key_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mailboxes.db");
        {
            let db = MailboxDb::open(&dir).unwrap();
            for n in [
                "user.test2.a-b",
                "user.test2.a.b",
                "user.bob",
                "example.com!user.x",
            ] {
                db.put(&entry(n, Some("be1"))).unwrap();
            }
            assert!(db.delete("user.bob").unwrap());
            assert!(!db.delete("user.bob").unwrap());
        }
        let db = MailboxDb::open(&dir).unwrap();
        let names: Vec<_> = db.all().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            ["example.com!user.x", "user.test2.a.b", "user.test2.a-b"]
        );
        let e = db.get("user.test2.a.b").unwrap().unwrap();
        assert_eq!(e.location(), "be1!default");
        assert_eq!(e.mbtype_letters(), "er");
        assert_eq!(e.state(), MbState::Remote);
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mailboxes.db");
        let db = MailboxDb::open(&dir).unwrap();
        db.put(&entry("user.a", None)).unwrap();
        let r: Result<(), DbError> = db.write(|tx| {
            tx.put(&entry("user.b", None));
            tx.delete("user.a");
            Err(DbError::Corrupt {
                name: "x".into(),
                reason: "abort",
            })
        });
        assert!(r.is_err());
        let names: Vec<_> = db.all().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["user.a"]);
    }

    #[test]
    fn decode_never_panics_on_garbage() {
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 1) as u8).collect();
            let _ = MailboxEntry::decode("x".into(), &junk);
            let mut v = entry("user.x", Some("s")).encode();
            v.truncate(len.min(v.len()));
            let _ = MailboxEntry::decode("x".into(), &v);
        }
    }
}
