//! Mailboxes and messages: lifecycle, append, flags, expunge, copy, move, reads, garbage.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use heed::{RoTxn, RwTxn};

use super::codec::{Dec, Enc};
use super::files;
use super::types::{len_u32, Flags, Guid, InternalDate, Keyword, MailboxId, MailboxState, Record};
use super::{key2, now_secs, prefix, Store, StoreError, SystemFlags};

/// The stored metadata of one mailbox. Counters are kept exact by every change, so SELECT and
/// STATUS need not scan the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) partition: String,
    pub(crate) uidvalidity: u32,
    pub(crate) uidnext: u32,
    pub(crate) highestmodseq: u64,
    pub(crate) createdmodseq: u64,
    pub(crate) exists: u32,
    pub(crate) unseen: u32,
    pub(crate) deleted: u32,
    pub(crate) size: u64,
    /// Bytes of this mailbox's annotation values, charged to its quota root.
    pub(crate) annot_bytes: u64,
    pub(crate) quota_root: Option<String>,
    pub(crate) keywords: Vec<Keyword>,
}

impl Meta {
    const VERSION: u8 = 1;

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::with_capacity(96);
        e.u8(Self::VERSION);
        e.str(&self.partition);
        e.u32(self.uidvalidity);
        e.u32(self.uidnext);
        e.u64(self.highestmodseq);
        e.u64(self.createdmodseq);
        e.u32(self.exists);
        e.u32(self.unseen);
        e.u32(self.deleted);
        e.u64(self.size);
        e.u64(self.annot_bytes);
        e.opt_str(self.quota_root.as_deref());
        e.u32(len_u32(self.keywords.len()));
        for k in &self.keywords {
            e.str(k.as_str());
        }
        e.finish()
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Self> {
        let mut d = Dec::new(b);
        if d.u8()? != Self::VERSION {
            return None;
        }
        let partition = d.str()?;
        let uidvalidity = d.u32()?;
        let uidnext = d.u32()?;
        let highestmodseq = d.u64()?;
        let createdmodseq = d.u64()?;
        let exists = d.u32()?;
        let unseen = d.u32()?;
        let deleted = d.u32()?;
        let size = d.u64()?;
        let annot_bytes = d.u64()?;
        let quota_root = d.opt_str()?;
        let n = d.u32()?;
        let mut keywords = Vec::new();
        for _ in 0..n {
            keywords.push(Keyword::new(&d.str()?).ok()?);
        }
        Some(Meta {
            partition,
            uidvalidity,
            uidnext,
            highestmodseq,
            createdmodseq,
            exists,
            unseen,
            deleted,
            size,
            annot_bytes,
            quota_root,
            keywords,
        })
    }

    pub(crate) fn state(&self, id: &MailboxId) -> MailboxState {
        MailboxState {
            id: id.clone(),
            partition: self.partition.clone(),
            uidvalidity: self.uidvalidity,
            uidnext: self.uidnext,
            highestmodseq: self.highestmodseq,
            createdmodseq: self.createdmodseq,
            exists: self.exists,
            unseen: self.unseen,
            deleted: self.deleted,
            size: self.size,
            keywords: self.keywords.clone(),
            quota_root: self.quota_root.clone(),
        }
    }

    /// Adjusts the counters for a record appearing (`sign` = 1) or disappearing (-1).
    fn count(&mut self, r: &Record, appear: bool) {
        let one = |v: &mut u32| {
            *v = if appear {
                v.saturating_add(1)
            } else {
                v.saturating_sub(1)
            }
        };
        one(&mut self.exists);
        if !r.flags.contains(SystemFlags::SEEN) {
            one(&mut self.unseen);
        }
        if r.flags.contains(SystemFlags::DELETED) {
            one(&mut self.deleted);
        }
        self.size = if appear {
            self.size.saturating_add(r.size)
        } else {
            self.size.saturating_sub(r.size)
        };
    }

    /// Sets the counters from a mailbox's full list of records.
    pub(crate) fn recount(&mut self, records: &[Record]) {
        self.exists = 0;
        self.unseen = 0;
        self.deleted = 0;
        self.size = 0;
        for r in records {
            self.count(r, true);
        }
    }

    /// The next modseq, claimed.
    fn bump_modseq(&mut self) -> u64 {
        self.highestmodseq = self.highestmodseq.saturating_add(1);
        self.highestmodseq
    }

    /// Gives the record's keywords this mailbox's spelling, adding new ones to the list.
    fn adopt_keywords(&mut self, flags: &mut Flags, max: usize) -> Result<(), ()> {
        let mut out = BTreeSet::new();
        for k in std::mem::take(&mut flags.keywords) {
            match self.keywords.iter().find(|m| **m == k) {
                Some(m) => {
                    out.insert(m.clone());
                }
                None => {
                    if self.keywords.len() >= max {
                        return Err(());
                    }
                    self.keywords.push(k.clone());
                    out.insert(k);
                }
            }
        }
        flags.keywords = out;
        Ok(())
    }
}

/// The `globals` key that freezes a mailbox for a transfer.
fn moving_key(id: &MailboxId) -> Vec<u8> {
    key2("moving", id.as_str())
}

/// `uniqueid NUL uid(BE)`: index keys sort by UID within a mailbox.
pub(crate) fn index_key(id: &MailboxId, uid: u32) -> Vec<u8> {
    let mut k = prefix(id.as_str());
    k.extend_from_slice(&uid.to_be_bytes());
    k
}

fn uid_of_key(k: &[u8]) -> Option<u32> {
    let tail = k.get(k.len().checked_sub(4)?..)?;
    Some(u32::from_be_bytes(tail.try_into().ok()?))
}

/// One message for [`Store::append_batch`].
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    /// The message, exactly as it will be served.
    pub bytes: &'a [u8],
    /// Its initial flags.
    pub flags: Flags,
    /// Its INTERNALDATE.
    pub internaldate: InternalDate,
}

/// The outcome of [`Store::store_flags`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlagUpdate {
    /// Records whose flags changed, with their new flags and modseq (for untagged FETCH).
    pub changed: Vec<Record>,
    /// UIDs not changed because their modseq was above UNCHANGEDSINCE (the `MODIFIED` code).
    pub modified: Vec<u32>,
}

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GcReport {
    /// Message files no record lists (expunged, or written before a crash).
    pub orphan_files: usize,
    /// Temporary files older than the age limit.
    pub temp_files: usize,
    /// Directories of mailboxes that no longer exist.
    pub mailbox_dirs: usize,
}

impl Store {
    pub(crate) fn meta_in(
        &self,
        txn: &RoTxn<'_>,
        id: &MailboxId,
    ) -> Result<Option<Meta>, StoreError> {
        match self
            .dbs()
            .mailboxes
            .get(txn, id.as_str().as_bytes())
            .map_err(|e| self.lmdb(e))?
        {
            Some(b) => Meta::decode(b)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!("metadata of mailbox {id}"),
                }),
            None => Ok(None),
        }
    }

    pub(crate) fn meta(&self, txn: &RoTxn<'_>, id: &MailboxId) -> Result<Meta, StoreError> {
        self.meta_in(txn, id)?
            .ok_or_else(|| StoreError::NoSuchMailbox(id.clone()))
    }

    pub(crate) fn put_meta(
        &self,
        txn: &mut RwTxn<'_>,
        id: &MailboxId,
        m: &Meta,
    ) -> Result<(), StoreError> {
        self.dbs()
            .mailboxes
            .put(txn, id.as_str().as_bytes(), &m.encode())
            .map_err(|e| self.lmdb(e))
    }

    /// The metadata of a mailbox about to change, refused while it is frozen for a transfer
    /// ([`Store::set_moving`]). Every change to a mailbox's messages goes through this inside
    /// its write transaction, so nothing can change after the freeze has committed.
    pub(crate) fn meta_for_write(
        &self,
        txn: &RoTxn<'_>,
        id: &MailboxId,
    ) -> Result<Meta, StoreError> {
        let meta = self.meta(txn, id)?;
        if self.moving_in(txn, id)? {
            return Err(StoreError::Moving(id.clone()));
        }
        Ok(meta)
    }

    fn moving_in(&self, txn: &RoTxn<'_>, id: &MailboxId) -> Result<bool, StoreError> {
        Ok(self
            .dbs()
            .globals
            .get(txn, &moving_key(id))
            .map_err(|e| self.lmdb(e))?
            .is_some())
    }

    /// Freezes (`on`) or thaws mailboxes for a transfer: while frozen, appends, deliveries,
    /// flag changes, expunges and copies into them fail with [`StoreError::Moving`]; reading
    /// and deleting still work. The mark lives in the store, so it holds across restarts
    /// until the move finishes (the mailbox is deleted, which drops it) or is rolled back.
    pub fn set_moving(&self, ids: &[MailboxId], on: bool) -> Result<(), StoreError> {
        self.write(|txn| {
            let g = self.dbs().globals;
            for id in ids {
                let k = moving_key(id);
                if on {
                    g.put(txn, &k, &[]).map_err(|e| self.lmdb(e))?;
                } else {
                    g.delete(txn, &k).map_err(|e| self.lmdb(e))?;
                }
            }
            Ok(())
        })
    }

    /// Whether the mailbox is frozen for a transfer ([`Store::set_moving`]).
    pub fn is_moving(&self, id: &MailboxId) -> Result<bool, StoreError> {
        let txn = self.read()?;
        self.moving_in(&txn, id)
    }

    pub(crate) fn record_in(
        &self,
        txn: &RoTxn<'_>,
        id: &MailboxId,
        uid: u32,
    ) -> Result<Option<Record>, StoreError> {
        match self
            .dbs()
            .index
            .get(txn, &index_key(id, uid))
            .map_err(|e| self.lmdb(e))?
        {
            Some(b) => Record::decode(b)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt {
                    what: format!("record {uid} of mailbox {id}"),
                }),
            None => Ok(None),
        }
    }

    pub(crate) fn put_record(
        &self,
        txn: &mut RwTxn<'_>,
        id: &MailboxId,
        r: &Record,
    ) -> Result<(), StoreError> {
        self.dbs()
            .index
            .put(txn, &index_key(id, r.uid), &r.encode())
            .map_err(|e| self.lmdb(e))
    }

    pub(crate) fn records_in(
        &self,
        txn: &RoTxn<'_>,
        id: &MailboxId,
    ) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        let p = prefix(id.as_str());
        for item in self
            .dbs()
            .index
            .prefix_iter(txn, &p)
            .map_err(|e| self.lmdb(e))?
        {
            let (k, v) = item.map_err(|e| self.lmdb(e))?;
            let r = Record::decode(v).ok_or_else(|| StoreError::Corrupt {
                what: format!("record {:?} of mailbox {id}", uid_of_key(k)),
            })?;
            out.push(r);
        }
        Ok(out)
    }

    /// The directory of a mailbox's files on `partition`.
    pub(crate) fn dir_of(&self, partition: &str, id: &MailboxId) -> Result<PathBuf, StoreError> {
        Ok(files::mailbox_dir(self.partition_root(partition)?, id))
    }

    fn next_uidvalidity(&self, txn: &mut RwTxn<'_>) -> Result<u32, StoreError> {
        let g = self.dbs().globals;
        let last = g
            .get(txn, b"uidvalidity")
            .map_err(|e| self.lmdb(e))?
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0);
        // Cyrus uses the creation time; a store-wide high-water mark keeps values strictly
        // increasing even when mailboxes are created in the same second or the clock steps back.
        let now = u32::try_from(now_secs()).unwrap_or(u32::MAX);
        let next = last
            .checked_add(1)
            .ok_or(StoreError::Exhausted("UIDVALIDITY"))?
            .max(now);
        g.put(txn, b"uidvalidity", &next.to_le_bytes())
            .map_err(|e| self.lmdb(e))?;
        Ok(next)
    }

    /// Creates an empty mailbox on `partition`: UIDVALIDITY from the clock (strictly greater
    /// than any this store handed out before), UIDNEXT 1, HIGHESTMODSEQ 1.
    pub fn create_mailbox(
        &self,
        id: &MailboxId,
        partition: &str,
    ) -> Result<MailboxState, StoreError> {
        self.partition_root(partition)?;
        self.write(|txn| {
            if self.meta_in(txn, id)?.is_some() {
                return Err(StoreError::MailboxExists(id.clone()));
            }
            let meta = Meta {
                partition: partition.to_owned(),
                uidvalidity: self.next_uidvalidity(txn)?,
                uidnext: 1,
                highestmodseq: 1,
                createdmodseq: 1,
                exists: 0,
                unseen: 0,
                deleted: 0,
                size: 0,
                annot_bytes: 0,
                quota_root: None,
                keywords: Vec::new(),
            };
            self.put_meta(txn, id, &meta)?;
            Ok(meta.state(id))
        })
    }

    /// Deletes a mailbox: its index, expunge history, everyone's seen state for it, its
    /// annotations and its files, and releases its quota usage. Whether it existed.
    pub fn delete_mailbox(&self, id: &MailboxId) -> Result<bool, StoreError> {
        match self.write(|txn| self.delete_mailbox_in(txn, id))? {
            None => Ok(false),
            Some((meta, _)) => {
                if let Ok(dir) = self.dir_of(&meta.partition, id) {
                    remove_dir(&dir);
                }
                Ok(true)
            }
        }
    }

    /// Removes everything the database holds about a mailbox; returns its last metadata and
    /// UIDs so the caller can remove the files after the commit.
    pub(crate) fn delete_mailbox_in(
        &self,
        txn: &mut RwTxn<'_>,
        id: &MailboxId,
    ) -> Result<Option<(Meta, Vec<u32>)>, StoreError> {
        let Some(meta) = self.meta_in(txn, id)? else {
            return Ok(None);
        };
        let uids = self.records_in(txn, id)?.iter().map(|r| r.uid).collect();
        let d = self.dbs();
        let p = prefix(id.as_str());
        self.delete_prefix(txn, d.index, &p)?;
        self.delete_prefix(txn, d.vanished, &p)?;
        for k in self.keys_with_prefix(txn, d.seen_by_mailbox, &p)? {
            let user = k.get(p.len()..).unwrap_or_default();
            let mut seen_key = user.to_vec();
            seen_key.push(0);
            seen_key.extend_from_slice(id.as_str().as_bytes());
            d.seen.delete(txn, &seen_key).map_err(|e| self.lmdb(e))?;
            d.seen_by_mailbox
                .delete(txn, &k)
                .map_err(|e| self.lmdb(e))?;
        }
        self.delete_prefix(txn, d.annot, &p)?;
        self.charge(
            txn,
            meta.quota_root.as_deref(),
            -(i128::from(meta.size)),
            -i128::from(meta.exists),
            -1,
            -(i128::from(meta.annot_bytes)),
        )?;
        d.mailboxes
            .delete(txn, id.as_str().as_bytes())
            .map_err(|e| self.lmdb(e))?;
        d.globals
            .delete(txn, &moving_key(id))
            .map_err(|e| self.lmdb(e))?;
        Ok(Some((meta, uids)))
    }

    /// A mailbox's state (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, counts, size, keywords).
    pub fn mailbox_state(&self, id: &MailboxId) -> Result<MailboxState, StoreError> {
        let txn = self.read()?;
        Ok(self.meta(&txn, id)?.state(id))
    }

    /// Whether the mailbox exists in the store.
    pub fn mailbox_exists(&self, id: &MailboxId) -> Result<bool, StoreError> {
        let txn = self.read()?;
        Ok(self.meta_in(&txn, id)?.is_some())
    }

    /// Every mailbox id in the store, sorted.
    pub fn mailbox_ids(&self) -> Result<Vec<MailboxId>, StoreError> {
        let txn = self.read()?;
        let mut out = Vec::new();
        for item in self.dbs().mailboxes.iter(&txn).map_err(|e| self.lmdb(e))? {
            let (k, _) = item.map_err(|e| self.lmdb(e))?;
            if let Some(id) = std::str::from_utf8(k)
                .ok()
                .and_then(|s| MailboxId::new(s).ok())
            {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Moves a mailbox's files to another partition (RENAME with a partition). The files are
    /// linked or copied and synced before the new partition is committed; the old ones are
    /// removed afterwards. Holds the store's write lock for the copy: an admin operation.
    pub fn set_partition(&self, id: &MailboxId, partition: &str) -> Result<(), StoreError> {
        let new_root = self.partition_root(partition)?.to_owned();
        let old_dir = self.write(|txn| {
            let mut meta = self.meta(txn, id)?;
            if meta.partition == partition {
                return Ok(None);
            }
            let old_dir = self.dir_of(&meta.partition, id)?;
            let new_dir = files::mailbox_dir(&new_root, id);
            let io = |path: &Path| {
                let path = path.to_owned();
                move |source| StoreError::Io { path, source }
            };
            files::ensure_dir(&new_dir).map_err(io(&new_dir))?;
            let mut temps = Vec::new();
            let res = (|| {
                for r in self.records_in(txn, id)? {
                    let src = files::message_path(&old_dir, r.uid);
                    let tmp = files::link_temp(&src, &new_dir).map_err(io(&src))?;
                    temps.push(tmp.clone());
                    let dst = files::message_path(&new_dir, r.uid);
                    std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
                }
                files::fsync_dir(&new_dir).map_err(io(&new_dir))
            })();
            if let Err(e) = res {
                files::remove_all(temps);
                remove_dir(&new_dir);
                return Err(e);
            }
            meta.partition = partition.to_owned();
            self.put_meta(txn, id, &meta)?;
            Ok(Some(old_dir))
        })?;
        if let Some(old) = old_dir {
            remove_dir(&old);
        }
        Ok(())
    }

    /// Appends one message; returns its UID and modseq. The caller checks quota first
    /// ([`Store::would_exceed`]); usage is charged in the same transaction.
    pub fn append(
        &self,
        id: &MailboxId,
        bytes: &[u8],
        flags: &Flags,
        internaldate: InternalDate,
    ) -> Result<(u32, u64), StoreError> {
        let msg = NewMessage {
            bytes,
            flags: flags.clone(),
            internaldate,
        };
        let out = self.append_batch(id, std::slice::from_ref(&msg))?;
        out.into_iter()
            .next()
            .ok_or(StoreError::Exhausted("append result"))
    }

    /// Appends several messages in one transaction (MULTIAPPEND, or one LMTP delivery): all
    /// become visible together with consecutive UIDs and one modseq, or none do.
    pub fn append_batch(
        &self,
        id: &MailboxId,
        msgs: &[NewMessage<'_>],
    ) -> Result<Vec<(u32, u64)>, StoreError> {
        for m in msgs {
            let size = m.bytes.len() as u64;
            if size > self.options.max_message_size {
                return Err(StoreError::TooLarge {
                    what: "message",
                    size,
                    limit: self.options.max_message_size,
                });
            }
        }
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        // The expensive part (writing and syncing data) runs before taking the write lock.
        let partition = {
            let txn = self.read()?;
            self.meta(&txn, id)?.partition
        };
        let mut dir = self.dir_of(&partition, id)?;
        let mut temps = write_temps(&dir, msgs)?;
        let res = self.write(|txn| {
            let mut meta = self.meta_for_write(txn, id)?;
            if meta.partition != partition {
                // Moved to another partition meanwhile: write again there (rare).
                files::remove_all(std::mem::take(&mut temps).into_iter().map(|t| t.0));
                dir = self.dir_of(&meta.partition, id)?;
                temps = write_temps(&dir, msgs)?;
            }
            let modseq = meta.bump_modseq();
            let now = now_secs();
            let mut out = Vec::with_capacity(msgs.len());
            let mut added = 0u64;
            for (m, (tmp, guid)) in msgs.iter().zip(&temps) {
                let uid = meta.uidnext;
                meta.uidnext = uid.checked_add(1).ok_or(StoreError::Exhausted("UIDs"))?;
                let mut flags = m.flags.clone();
                meta.adopt_keywords(&mut flags, self.options.max_keywords)
                    .map_err(|()| StoreError::TooManyKeywords(id.clone()))?;
                let r = Record {
                    uid,
                    modseq,
                    flags,
                    internaldate: m.internaldate,
                    size: m.bytes.len() as u64,
                    guid: *guid,
                    savedate: now,
                };
                let dst = files::message_path(&dir, uid);
                std::fs::rename(tmp, &dst).map_err(|source| StoreError::Io {
                    path: dst.clone(),
                    source,
                })?;
                meta.count(&r, true);
                added = added.saturating_add(r.size);
                self.put_record(txn, id, &r)?;
                out.push((uid, modseq));
            }
            if self.options.fsync_dirs {
                files::fsync_dir(&dir).map_err(|source| StoreError::Io {
                    path: dir.clone(),
                    source,
                })?;
            }
            self.charge(
                txn,
                meta.quota_root.as_deref(),
                i128::from(added),
                msgs.len() as i128,
                0,
                0,
            )?;
            self.put_meta(txn, id, &meta)?;
            Ok(out)
        });
        if res.is_err() {
            // Renamed files above UIDNEXT are harmless (the next append replaces them).
            files::remove_all(temps.into_iter().map(|t| t.0));
        }
        res
    }

    /// Delivers one message to several mailboxes (LMTP with many recipients, or sieve
    /// `fileinto` plus keep), writing the data once and hard-linking it into each mailbox as
    /// Cyrus's single-instance store does. One transaction: every target gets the message or
    /// none does. Returns (UID, modseq) per target, in order. Quota is the caller's check.
    pub fn deliver(
        &self,
        bytes: &[u8],
        internaldate: InternalDate,
        targets: &[(MailboxId, Flags)],
    ) -> Result<Vec<(u32, u64)>, StoreError> {
        let size = bytes.len() as u64;
        if size > self.options.max_message_size {
            return Err(StoreError::TooLarge {
                what: "message",
                size,
                limit: self.options.max_message_size,
            });
        }
        let Some((first, _)) = targets.first() else {
            return Ok(Vec::new());
        };
        let dir = {
            let txn = self.read()?;
            let m = self.meta(&txn, first)?;
            self.dir_of(&m.partition, first)?
        };
        let (tmp, guid) = files::write_temp(&dir, bytes).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut made = Vec::new();
        let res = self.write(|txn| {
            let now = now_secs();
            let mut dirs = BTreeSet::new();
            let mut out = Vec::with_capacity(targets.len());
            for (id, flags) in targets {
                let mut meta = self.meta_for_write(txn, id)?;
                let tdir = self.dir_of(&meta.partition, id)?;
                let io = |path: &Path| {
                    let path = path.to_owned();
                    move |source| StoreError::Io { path, source }
                };
                let link = files::link_temp(&tmp, &tdir).map_err(io(&tdir))?;
                made.push(link.clone());
                let uid = meta.uidnext;
                meta.uidnext = uid.checked_add(1).ok_or(StoreError::Exhausted("UIDs"))?;
                let dst = files::message_path(&tdir, uid);
                std::fs::rename(&link, &dst).map_err(io(&dst))?;
                let modseq = meta.bump_modseq();
                let mut flags = flags.clone();
                meta.adopt_keywords(&mut flags, self.options.max_keywords)
                    .map_err(|()| StoreError::TooManyKeywords(id.clone()))?;
                let r = Record {
                    uid,
                    modseq,
                    flags,
                    internaldate,
                    size,
                    guid,
                    savedate: now,
                };
                meta.count(&r, true);
                self.put_record(txn, id, &r)?;
                self.charge(txn, meta.quota_root.as_deref(), i128::from(size), 1, 0, 0)?;
                self.put_meta(txn, id, &meta)?;
                dirs.insert(tdir);
                out.push((uid, modseq));
            }
            if self.options.fsync_dirs {
                files::fsync_dirs(dirs)?;
            }
            Ok(out)
        });
        files::remove_all([tmp]);
        if res.is_err() {
            files::remove_all(made);
        }
        res
    }

    /// Delivers several messages, each to its own targets, in ONE write transaction: the
    /// messages' files are written and fsynced before the writer lock is taken (in parallel),
    /// then UIDs are assigned, files linked into place, each touched directory fsynced once and
    /// the transaction committed once. One result per delivery, in order; each is what
    /// [`Store::deliver`] would have returned for it alone: a delivery whose targets fail (a
    /// missing mailbox, too many keywords, a link error) gets its error and changes nothing,
    /// without failing the others. Only trouble of the whole transaction (LMDB, the directory
    /// fsync, the commit) fails every delivery, with a temporary error.
    pub fn deliver_batch(&self, batch: &[Delivery<'_>]) -> Vec<DeliveryResult> {
        // Writing and fsyncing the files is most of the work and needs no lock.
        let prepared: Vec<Result<Option<Prepared>, StoreError>> = if batch.len() < 2 {
            batch.iter().map(|d| self.prepare_delivery(d)).collect()
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = batch
                    .iter()
                    .map(|d| s.spawn(move || self.prepare_delivery(d)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(StoreError::Io {
                                path: PathBuf::new(),
                                source: std::io::Error::other("message writer panicked"),
                            })
                        })
                    })
                    .collect()
            })
        };
        let ready: Vec<PreparedDelivery<'_>> = batch
            .iter()
            .zip(&prepared)
            .filter_map(|(d, p)| match p {
                Ok(Some(message)) => Some(PreparedDelivery {
                    message,
                    internaldate: d.internaldate,
                    targets: d.targets,
                }),
                _ => None,
            })
            .collect();
        let mut committed = self.commit_prepared(&ready).into_iter();
        drop(ready);
        prepared
            .into_iter()
            .map(|p| match p {
                Err(e) => Err(e),
                Ok(None) => Ok(Vec::new()),
                Ok(Some(message)) => {
                    self.discard_prepared(message);
                    committed.next().unwrap_or_else(|| {
                        Err(StoreError::Io {
                            path: PathBuf::new(),
                            source: std::io::Error::other("delivery not attempted"),
                        })
                    })
                }
            })
            .collect()
    }

    /// Checks a message's size and writes it (fsynced) under a temporary name into the
    /// directory of `first`, the mailbox it will be committed to first, so that committing
    /// it is only a rename there ([`Store::commit_prepared`]). This is the slow part of a
    /// delivery and takes no lock: concurrent sessions write their messages in parallel while
    /// another batch commits. Pass the result to [`Store::discard_prepared`] once committed
    /// (or given up).
    pub fn prepare_message(&self, bytes: &[u8], first: &MailboxId) -> Result<Prepared, StoreError> {
        let size = bytes.len() as u64;
        if size > self.options.max_message_size {
            return Err(StoreError::TooLarge {
                what: "message",
                size,
                limit: self.options.max_message_size,
            });
        }
        let dir = {
            let txn = self.read()?;
            let m = self.meta(&txn, first)?;
            self.dir_of(&m.partition, first)?
        };
        let (path, guid) = files::write_temp(&dir, bytes).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Prepared {
            path,
            dir,
            guid,
            size,
        })
    }

    /// Removes what is left of a prepared message (nothing when its commit moved the file
    /// into place).
    pub fn discard_prepared(&self, message: Prepared) {
        if let Err(e) = std::fs::remove_file(&message.path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %message.path.display(), error = %e, "could not remove message file");
            }
        }
    }

    fn prepare_delivery(&self, d: &Delivery<'_>) -> Result<Option<Prepared>, StoreError> {
        match d.targets.first() {
            None => Ok(None),
            Some((first, _)) => self.prepare_message(d.bytes, first).map(Some),
        }
    }

    /// Commits prepared messages, each to its own targets, in ONE write transaction: UIDs are
    /// assigned, each file is renamed into its first target (hard-linked into the others),
    /// the touched directories are fsynced (in parallel) and the transaction committed once.
    /// One result per delivery, in order, as for [`Store::deliver_batch`]: a delivery whose
    /// targets fail (a missing or frozen mailbox, too many keywords, a link error) gets its
    /// error and changes nothing, without failing the others; trouble of the whole transaction
    /// fails every delivery with a temporary error. A failed delivery's prepared file may be
    /// gone: prepare it again to retry.
    pub fn commit_prepared(&self, batch: &[PreparedDelivery<'_>]) -> Vec<DeliveryResult> {
        let mut made: Vec<PathBuf> = Vec::new();
        let mut outs: Vec<Option<DeliveryResult>> = (0..batch.len()).map(|_| None).collect();
        let res = self.write(|txn| {
            let now = now_secs();
            let mut metas: BTreeMap<MailboxId, (Meta, PathBuf)> = BTreeMap::new();
            let mut dirs = BTreeSet::new();
            for (d, slot) in batch.iter().zip(outs.iter_mut()) {
                match self.stage_delivery(txn, &metas, d, now) {
                    Ok(staged) => {
                        made.extend(staged.files);
                        let mut out = Vec::with_capacity(staged.records.len());
                        for (id, r) in &staged.records {
                            self.put_record(txn, id, r)?;
                            out.push((r.uid, r.modseq));
                        }
                        for (id, (meta, dir)) in staged.metas {
                            let copies = staged.copies.get(&id).copied().unwrap_or(0);
                            self.charge(
                                txn,
                                meta.quota_root.as_deref(),
                                i128::from(d.message.size) * i128::from(copies),
                                i128::from(copies),
                                0,
                                0,
                            )?;
                            dirs.insert(dir.clone());
                            metas.insert(id, (meta, dir));
                        }
                        *slot = Some(Ok(out));
                    }
                    Err(e) => *slot = Some(Err(e)),
                }
            }
            for (id, (meta, _)) in &metas {
                self.put_meta(txn, id, meta)?;
            }
            if self.options.fsync_dirs {
                files::fsync_dirs(dirs)?;
            }
            Ok(())
        });
        if let Err(e) = &res {
            // Files renamed above UIDNEXT are harmless, but leave nothing behind.
            files::remove_all(made);
            tracing::warn!("batch delivery failed: {e}");
        }
        let failed = res.err();
        outs.into_iter()
            .map(|out| match (&failed, out) {
                (_, Some(Err(e))) => Err(e),
                (None, Some(Ok(out))) => Ok(out),
                (Some(e), _) => Err(dup_error(e)),
                (None, None) => Err(dup_error(&StoreError::Io {
                    path: PathBuf::new(),
                    source: std::io::Error::other("delivery not attempted"),
                })),
            })
            .collect()
    }

    /// One delivery of a batch, on copies of the mailboxes' metadata: links its file into
    /// every target and builds the records. Writes nothing to the transaction, so a failure
    /// leaves the batch as it was (the files it linked are removed).
    fn stage_delivery(
        &self,
        txn: &RwTxn<'_>,
        metas: &BTreeMap<MailboxId, (Meta, PathBuf)>,
        d: &PreparedDelivery<'_>,
        now: i64,
    ) -> Result<Staged, StoreError> {
        let guid = d.message.guid;
        // Where the data is now: the temporary file until it is renamed into its first
        // target, then that file (the other targets link to it).
        let mut source: Option<PathBuf> = None;
        let mut staged = Staged {
            metas: BTreeMap::new(),
            records: Vec::with_capacity(d.targets.len()),
            files: Vec::new(),
            copies: BTreeMap::new(),
        };
        let res = (|| {
            for (id, flags) in d.targets {
                if !staged.metas.contains_key(id) {
                    let m = match metas.get(id) {
                        Some(m) => m.clone(),
                        None => {
                            let meta = self.meta_for_write(txn, id)?;
                            let dir = self.dir_of(&meta.partition, id)?;
                            (meta, dir)
                        }
                    };
                    staged.metas.insert(id.clone(), m);
                }
                let Some((meta, dir)) = staged.metas.get_mut(id) else {
                    continue;
                };
                let uid = meta.uidnext;
                meta.uidnext = uid.checked_add(1).ok_or(StoreError::Exhausted("UIDs"))?;
                let modseq = meta.bump_modseq();
                let mut flags = flags.clone();
                meta.adopt_keywords(&mut flags, self.options.max_keywords)
                    .map_err(|()| StoreError::TooManyKeywords(id.clone()))?;
                let dst = files::message_path(dir, uid);
                match &source {
                    // The prepared file is in this directory: it only needs its name.
                    None if *dir == d.message.dir => {
                        std::fs::rename(&d.message.path, &dst).map_err(|e| StoreError::Io {
                            path: dst.clone(),
                            source: e,
                        })?;
                    }
                    from => {
                        let from = from.as_deref().unwrap_or(&d.message.path);
                        let link = files::link_temp(from, dir).map_err(|e| StoreError::Io {
                            path: dir.clone(),
                            source: e,
                        })?;
                        if let Err(e) = std::fs::rename(&link, &dst) {
                            files::remove_all([link]);
                            return Err(StoreError::Io {
                                path: dst,
                                source: e,
                            });
                        }
                    }
                }
                if source.is_none() {
                    source = Some(dst.clone());
                }
                staged.files.push(dst);
                let r = Record {
                    uid,
                    modseq,
                    flags,
                    internaldate: d.internaldate,
                    size: d.message.size,
                    guid,
                    savedate: now,
                };
                meta.count(&r, true);
                *staged.copies.entry(id.clone()).or_insert(0) += 1;
                staged.records.push((id.clone(), r));
            }
            Ok(())
        })();
        match res {
            Ok(()) => Ok(staged),
            Err(e) => {
                files::remove_all(staged.files);
                Err(e)
            }
        }
    }

    /// One record, if the UID exists.
    pub fn fetch_record(&self, id: &MailboxId, uid: u32) -> Result<Option<Record>, StoreError> {
        let txn = self.read()?;
        self.meta(&txn, id)?;
        self.record_in(&txn, id, uid)
    }

    /// Every record, in UID order, from one snapshot.
    pub fn records(&self, id: &MailboxId) -> Result<Vec<Record>, StoreError> {
        let txn = self.read()?;
        self.meta(&txn, id)?;
        self.records_in(&txn, id)
    }

    /// The state and every record from one snapshot (what SELECT needs).
    pub fn snapshot(&self, id: &MailboxId) -> Result<(MailboxState, Vec<Record>), StoreError> {
        let txn = self.read()?;
        let meta = self.meta(&txn, id)?;
        Ok((meta.state(id), self.records_in(&txn, id)?))
    }

    /// Records changed after `modseq` (CONDSTORE `CHANGEDSINCE`), in UID order.
    pub fn changed_since(&self, id: &MailboxId, modseq: u64) -> Result<Vec<Record>, StoreError> {
        Ok(self
            .records(id)?
            .into_iter()
            .filter(|r| r.modseq > modseq)
            .collect())
    }

    /// UIDs expunged after `modseq` (QRESYNC `VANISHED (EARLIER)`), ascending.
    pub fn vanished_since(&self, id: &MailboxId, modseq: u64) -> Result<Vec<u32>, StoreError> {
        let txn = self.read()?;
        self.meta(&txn, id)?;
        let mut out = Vec::new();
        for item in self
            .dbs()
            .vanished
            .prefix_iter(&txn, &prefix(id.as_str()))
            .map_err(|e| self.lmdb(e))?
        {
            let (k, v) = item.map_err(|e| self.lmdb(e))?;
            let m = <[u8; 8]>::try_from(v).map(u64::from_le_bytes).unwrap_or(0);
            if m > modseq {
                if let Some(uid) = uid_of_key(k) {
                    out.push(uid);
                }
            }
        }
        Ok(out)
    }

    /// Opens a message file for streaming (BODY[] of a large message, POP3 RETR). The handle
    /// stays readable even if the message is expunged meanwhile.
    pub fn open_message(&self, id: &MailboxId, uid: u32) -> Result<(File, Record), StoreError> {
        let (path, r) = {
            let txn = self.read()?;
            let meta = self.meta(&txn, id)?;
            let r = self
                .record_in(&txn, id, uid)?
                .ok_or_else(|| StoreError::NoSuchMessage {
                    mailbox: id.clone(),
                    uid,
                })?;
            (
                files::message_path(&self.dir_of(&meta.partition, id)?, uid),
                r,
            )
        };
        match File::open(&path) {
            Ok(f) => Ok((f, r)),
            // Expunged (and unlinked) between our snapshot and the open.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NoSuchMessage {
                mailbox: id.clone(),
                uid,
            }),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// A whole message.
    pub fn read_message(&self, id: &MailboxId, uid: u32) -> Result<Vec<u8>, StoreError> {
        self.read_range(id, uid, 0, u64::MAX)
    }

    /// At most `len` bytes of a message from `offset` (BODY[]<offset.len>); shorter at the end,
    /// empty past it.
    pub fn read_range(
        &self,
        id: &MailboxId,
        uid: u32,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let (mut f, r) = self.open_message(id, uid)?;
        let start = offset.min(r.size);
        let n = len.min(r.size - start);
        let path = PathBuf::from(format!("{id}/{uid}."));
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        f.take(n).read_to_end(&mut out).map_err(io)?;
        Ok(out)
    }

    /// Changes flags (STORE). Nonexistent UIDs are skipped. With `unchanged_since`, records
    /// whose modseq is higher are left alone and reported in [`FlagUpdate::modified`]. Records
    /// whose flags really change get the transaction's new modseq.
    pub fn store_flags(
        &self,
        id: &MailboxId,
        uids: &[u32],
        mode: super::FlagMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<FlagUpdate, StoreError> {
        self.write(|txn| {
            let mut meta = self.meta_for_write(txn, id)?;
            let mut flags = flags.clone();
            meta.adopt_keywords(&mut flags, self.options.max_keywords)
                .map_err(|()| StoreError::TooManyKeywords(id.clone()))?;
            let mut out = FlagUpdate::default();
            let mut modseq = None;
            for &uid in &sorted(uids) {
                let Some(mut r) = self.record_in(txn, id, uid)? else {
                    continue;
                };
                if unchanged_since.is_some_and(|u| r.modseq > u) {
                    out.modified.push(uid);
                    continue;
                }
                let new = r.flags.apply(mode, &flags);
                if new == r.flags {
                    continue;
                }
                let m = *modseq.get_or_insert_with(|| meta.bump_modseq());
                meta.count(&r, false);
                r.flags = new;
                r.modseq = m;
                meta.count(&r, true);
                self.put_record(txn, id, &r)?;
                out.changed.push(r);
            }
            self.put_meta(txn, id, &meta)?;
            Ok(out)
        })
    }

    /// Removes messages (whatever their flags); returns the UIDs removed, ascending.
    pub fn expunge(&self, id: &MailboxId, uids: &[u32]) -> Result<Vec<u32>, StoreError> {
        let (gone, paths) = self.write(|txn| self.expunge_in(txn, id, uids))?;
        files::remove_all(paths);
        Ok(gone)
    }

    /// Removes the messages flagged `\Deleted` (EXPUNGE), or only those among `uids`
    /// (UID EXPUNGE). Returns the UIDs removed, ascending.
    pub fn expunge_deleted(
        &self,
        id: &MailboxId,
        uids: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        let (gone, paths) = self.write(|txn| {
            let wanted: Option<BTreeSet<u32>> = uids.map(|u| u.iter().copied().collect());
            let targets: Vec<u32> = self
                .records_in(txn, id)?
                .into_iter()
                .filter(|r| r.flags.contains(SystemFlags::DELETED))
                .map(|r| r.uid)
                .filter(|u| wanted.as_ref().is_none_or(|w| w.contains(u)))
                .collect();
            self.expunge_in(txn, id, &targets)
        })?;
        files::remove_all(paths);
        Ok(gone)
    }

    /// Expunges inside a transaction; returns the UIDs and the files to unlink after commit.
    fn expunge_in(
        &self,
        txn: &mut RwTxn<'_>,
        id: &MailboxId,
        uids: &[u32],
    ) -> Result<(Vec<u32>, Vec<PathBuf>), StoreError> {
        let mut meta = self.meta_for_write(txn, id)?;
        let dir = self.dir_of(&meta.partition, id)?;
        let mut gone = Vec::new();
        let mut paths = Vec::new();
        let mut freed = 0u64;
        let mut modseq = None;
        for &uid in &sorted(uids) {
            let Some(r) = self.record_in(txn, id, uid)? else {
                continue;
            };
            let m = *modseq.get_or_insert_with(|| meta.bump_modseq());
            let key = index_key(id, uid);
            self.dbs()
                .index
                .delete(txn, &key)
                .map_err(|e| self.lmdb(e))?;
            self.dbs()
                .vanished
                .put(txn, &key, &m.to_le_bytes())
                .map_err(|e| self.lmdb(e))?;
            meta.count(&r, false);
            freed = freed.saturating_add(r.size);
            gone.push(uid);
            paths.push(files::message_path(&dir, uid));
        }
        if !gone.is_empty() {
            self.charge(
                txn,
                meta.quota_root.as_deref(),
                -i128::from(freed),
                -(gone.len() as i128),
                0,
                0,
            )?;
            self.put_meta(txn, id, &meta)?;
        }
        Ok((gone, paths))
    }

    /// Copies messages (COPY): flags, INTERNALDATE and files carry over (hard links when both
    /// mailboxes share a filesystem). Returns (source UID, new UID) pairs for COPYUID.
    pub fn copy(
        &self,
        src: &MailboxId,
        dst: &MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, u32)>, StoreError> {
        self.write(|txn| self.copy_in(txn, src, dst, uids))
    }

    /// Moves messages (MOVE): a copy and an expunge of the source in one transaction.
    /// Returns (source UID, new UID) pairs.
    pub fn move_messages(
        &self,
        src: &MailboxId,
        dst: &MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, u32)>, StoreError> {
        let (map, paths) = self.write(|txn| {
            let map = self.copy_in(txn, src, dst, uids)?;
            let moved: Vec<u32> = map.iter().map(|(s, _)| *s).collect();
            let (_, paths) = self.expunge_in(txn, src, &moved)?;
            Ok((map, paths))
        })?;
        files::remove_all(paths);
        Ok(map)
    }

    fn copy_in(
        &self,
        txn: &mut RwTxn<'_>,
        src: &MailboxId,
        dst: &MailboxId,
        uids: &[u32],
    ) -> Result<Vec<(u32, u32)>, StoreError> {
        let src_meta = self.meta(txn, src)?;
        let src_dir = self.dir_of(&src_meta.partition, src)?;
        let mut meta = self.meta_for_write(txn, dst)?;
        let dir = self.dir_of(&meta.partition, dst)?;
        let mut recs = Vec::new();
        for &uid in &sorted(uids) {
            if let Some(r) = self.record_in(txn, src, uid)? {
                recs.push(r);
            }
        }
        if recs.is_empty() {
            return Ok(Vec::new());
        }
        let modseq = meta.bump_modseq();
        let now = now_secs();
        let mut out = Vec::with_capacity(recs.len());
        let mut added = 0u64;
        let mut made = Vec::new();
        let res = (|| {
            for r in recs {
                let src_uid = r.uid;
                let from = files::message_path(&src_dir, r.uid);
                let tmp = files::link_temp(&from, &dir).map_err(|source| StoreError::Io {
                    path: from.clone(),
                    source,
                })?;
                made.push(tmp.clone());
                let uid = meta.uidnext;
                meta.uidnext = uid.checked_add(1).ok_or(StoreError::Exhausted("UIDs"))?;
                let to = files::message_path(&dir, uid);
                std::fs::rename(&tmp, &to).map_err(|source| StoreError::Io {
                    path: to.clone(),
                    source,
                })?;
                let mut flags = r.flags.clone();
                meta.adopt_keywords(&mut flags, self.options.max_keywords)
                    .map_err(|()| StoreError::TooManyKeywords(dst.clone()))?;
                let nr = Record {
                    uid,
                    modseq,
                    flags,
                    savedate: now,
                    ..r
                };
                meta.count(&nr, true);
                added = added.saturating_add(nr.size);
                self.put_record(txn, dst, &nr)?;
                out.push((src_uid, uid));
            }
            if self.options.fsync_dirs {
                files::fsync_dir(&dir).map_err(|source| StoreError::Io {
                    path: dir.clone(),
                    source,
                })?;
            }
            Ok(())
        })();
        if let Err(e) = res {
            files::remove_all(made);
            return Err(e);
        }
        self.charge(
            txn,
            meta.quota_root.as_deref(),
            i128::from(added),
            out.len() as i128,
            0,
            0,
        )?;
        self.put_meta(txn, dst, &meta)?;
        Ok(out)
    }

    /// Removes what a crash or an expunge left behind: message files no record lists,
    /// temporary files older than `temp_age`, and directories of mailboxes that no longer
    /// exist (when they hold no recent temporary file). Runs under the write lock, so no
    /// append is between its rename and its commit. Safe to run while daemons serve.
    pub fn gc(&self, temp_age: std::time::Duration) -> Result<GcReport, StoreError> {
        let mut report = GcReport::default();
        let cutoff = std::time::SystemTime::now()
            .checked_sub(temp_age)
            .unwrap_or(std::time::UNIX_EPOCH);
        let old = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .map(|t| t < cutoff)
                .unwrap_or(false)
        };
        self.write(|txn| {
            for (pname, root) in self.partitions.iter() {
                for dir in mailbox_dirs(root) {
                    let Some(id) = dir
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| MailboxId::new(n).ok())
                    else {
                        continue;
                    };
                    let live = self
                        .meta_in(txn, &id)?
                        .filter(|m| &m.partition == pname)
                        .is_some();
                    let Ok(entries) = std::fs::read_dir(&dir) else {
                        continue;
                    };
                    let mut busy = false;
                    for ent in entries.flatten() {
                        let p = ent.path();
                        let name = ent.file_name();
                        let name = name.to_string_lossy();
                        if name.starts_with(files::TEMP_PREFIX) {
                            if old(&p) {
                                files::remove_all([p]);
                                report.temp_files += 1;
                            } else {
                                busy = true;
                            }
                        } else if let Some(uid) = files::uid_of_name(&name) {
                            if !live || self.record_in(txn, &id, uid)?.is_none() {
                                files::remove_all([p]);
                                report.orphan_files += 1;
                            }
                        }
                    }
                    if !live && !busy && std::fs::remove_dir(&dir).is_ok() {
                        report.mailbox_dirs += 1;
                    }
                }
            }
            Ok(())
        })?;
        Ok(report)
    }
}

fn write_temps(
    dir: &Path,
    msgs: &[NewMessage<'_>],
) -> Result<Vec<(PathBuf, super::Guid)>, StoreError> {
    let mut out = Vec::with_capacity(msgs.len());
    for m in msgs {
        match files::write_temp(dir, m.bytes) {
            Ok(t) => out.push(t),
            Err(source) => {
                files::remove_all(out.into_iter().map(|t| t.0));
                return Err(StoreError::Io {
                    path: dir.to_owned(),
                    source,
                });
            }
        }
    }
    Ok(out)
}

fn sorted(uids: &[u32]) -> Vec<u32> {
    let s: BTreeSet<u32> = uids.iter().copied().collect();
    s.into_iter().collect()
}

/// Removes a mailbox directory and everything in it, logging (not failing) on error: the
/// commit that made it unused has happened, and [`Store::gc`] retries.
pub(crate) fn remove_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %dir.display(), error = %e, "could not remove mailbox directory");
        }
    }
}

/// Every `<root>/<h0>/<h1>/<id>` directory.
fn mailbox_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let subdirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    };
    for h0 in subdirs(root) {
        for h1 in subdirs(&h0) {
            out.extend(subdirs(&h1));
        }
    }
    out
}

/// One message of [`Store::deliver_batch`]: its bytes, INTERNALDATE and the mailboxes (with
/// the flags to set in each) it goes to.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The message as stored.
    pub bytes: &'a [u8],
    /// Its INTERNALDATE.
    pub internaldate: InternalDate,
    /// The target mailboxes and flags, as for [`Store::deliver`].
    pub targets: &'a [(MailboxId, Flags)],
}

/// A message written and synced under a temporary name, waiting for its commit
/// ([`Store::prepare_message`], [`Store::commit_prepared`]).
#[derive(Debug)]
pub struct Prepared {
    /// The temporary file.
    path: PathBuf,
    /// Its directory (the first target's).
    dir: PathBuf,
    guid: Guid,
    size: u64,
}

/// One message of [`Store::commit_prepared`].
#[derive(Debug, Clone, Copy)]
pub struct PreparedDelivery<'a> {
    /// The prepared message.
    pub message: &'a Prepared,
    /// Its INTERNALDATE.
    pub internaldate: InternalDate,
    /// The target mailboxes and flags; the first is the one it was prepared for.
    pub targets: &'a [(MailboxId, Flags)],
}

/// One delivery's outcome: (UID, modseq) per target, in order.
pub type DeliveryResult = Result<Vec<(u32, u64)>, StoreError>;

/// What one delivery of a batch will write once it is known to succeed.
struct Staged {
    /// The touched mailboxes' metadata after this delivery, and their directories.
    metas: BTreeMap<MailboxId, (Meta, PathBuf)>,
    /// The new records.
    records: Vec<(MailboxId, Record)>,
    /// The message files put in place.
    files: Vec<PathBuf>,
    /// Copies per mailbox (for the quota charge).
    copies: BTreeMap<MailboxId, u32>,
}

/// A temporary error like `e`, for each other delivery a failed batch transaction fails.
fn dup_error(e: &StoreError) -> StoreError {
    StoreError::Io {
        path: PathBuf::new(),
        source: std::io::Error::other(e.to_string()),
    }
}
