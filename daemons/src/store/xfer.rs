//! Moving a user (or shared mailboxes) between backends: a versioned stream of records.
//!
//! # Format (version 1)
//!
//! ```text
//! stream  = MAGIC version:u8 *frame end
//! frame   = kind:u8 len:u64le payload[len]
//! end     = 'E' len:u64le(32) sha256(every byte before this frame)
//! ```
//!
//! Kinds: `U` user, `M` mailbox metadata, `R` index record, `F` message file (`idlen:u32 id
//! uid:u32 bytes`), `V` expunged UID, `S` seen state, `B` subscription, `Q` quota root,
//! `A` annotation, `P` sieve script. A mailbox's `M` comes before its `R`, `F`, `V` frames.
//! Integers are little-endian, strings are `len:u32 bytes` as in the stored values.
//!
//! Import writes message files under temporary names as they arrive (never holding a message
//! in memory), checks each file's SHA-1 against its record and the stream's checksum, and only
//! then makes everything visible in one transaction. A truncated or damaged stream changes
//! nothing. Importing the same stream twice gives the same state (mailboxes, subscriptions and
//! sieve scripts in the stream replace what was there).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read, Write};
use std::path::PathBuf;

use protocol::mailbox::InternalName;
use sha2::{Digest, Sha256};

use super::codec::{Dec, Enc};
use super::mailbox::{index_key, Meta};
use super::types::{Annotation, Guid, QuotaLimits, Record, SeenState};
use super::{files, key2, prefix, MailboxId, Store, StoreError};

/// The first bytes of a transfer stream.
pub const EXPORT_MAGIC: &[u8; 18] = b"MURDER-STORE-XFER\n";
/// The format version this code writes and reads.
pub const EXPORT_VERSION: u8 = 1;

/// What to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportSpec<'a> {
    /// The user whose per-user data goes along (seen, subscriptions, sieve, server private
    /// annotations); `None` for shared mailboxes only.
    pub user: Option<&'a str>,
    /// The mailboxes (the caller lists them from `mailboxes.db`: for a user, every mailbox of
    /// their tree, deleted ones included).
    pub mailboxes: &'a [MailboxId],
    /// The quota roots to carry (limits; usage is recomputed on import).
    pub quota_roots: &'a [&'a str],
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportSummary {
    /// Mailboxes.
    pub mailboxes: usize,
    /// Messages.
    pub messages: u64,
    /// Bytes written in all.
    pub bytes: u64,
}

/// What an import made visible.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// The user of the stream, if any.
    pub user: Option<String>,
    /// The mailboxes, in stream order.
    pub mailboxes: Vec<MailboxId>,
    /// Messages.
    pub messages: u64,
}

struct HashWriter<'w, W: Write> {
    inner: &'w mut W,
    hash: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<'_, W> {
    fn frame(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        self.put(&[kind])?;
        self.put(&(payload.len() as u64).to_le_bytes())?;
        self.put(payload)
    }
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.hash.update(b);
        self.count += b.len() as u64;
        self.inner.write_all(b)
    }
}

struct HashReader<'r, R: Read> {
    inner: &'r mut R,
    hash: Sha256,
}

impl<R: Read> Read for HashReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::BadStream(msg.into())
}

fn stream_io(source: io::Error) -> StoreError {
    if source.kind() == io::ErrorKind::UnexpectedEof {
        bad("truncated")
    } else {
        StoreError::Io {
            path: PathBuf::from("<transfer stream>"),
            source,
        }
    }
}

/// A mailbox as the stream carries it.
struct MboxFrame {
    id: MailboxId,
    meta: Meta,
}

#[derive(Default)]
struct Incoming {
    user: Option<String>,
    mailboxes: Vec<MboxFrame>,
    records: BTreeMap<MailboxId, Vec<Record>>,
    files: HashMap<(MailboxId, u32), (PathBuf, Guid, u64)>,
    vanished: Vec<(MailboxId, u32, u64)>,
    seen: Vec<(MailboxId, SeenState)>,
    subs: Vec<InternalName>,
    quotas: Vec<(String, QuotaLimits)>,
    annots: Vec<(Option<MailboxId>, Annotation)>,
    sieve: Vec<(String, bool, Vec<u8>)>,
}

impl Incoming {
    fn temps(&mut self) -> Vec<PathBuf> {
        self.files.drain().map(|(_, (p, _, _))| p).collect()
    }
}

impl Store {
    /// [`Store::export`] for a user's move.
    pub fn export_user(
        &self,
        user: &str,
        mailboxes: &[MailboxId],
        quota_roots: &[&str],
        w: &mut impl Write,
    ) -> Result<ExportSummary, StoreError> {
        self.export(
            &ExportSpec {
                user: Some(user),
                mailboxes,
                quota_roots,
            },
            w,
        )
    }

    /// Writes everything `spec` names, from one snapshot. Files are read while the snapshot
    /// is held; a concurrent EXPUNGE can make the export fail (XFER marks mailboxes MOVING
    /// first, so nothing changes them meanwhile).
    pub fn export(
        &self,
        spec: &ExportSpec<'_>,
        w: &mut impl Write,
    ) -> Result<ExportSummary, StoreError> {
        let txn = self.read()?;
        let d = self.dbs();
        let mut out = HashWriter {
            inner: w,
            hash: Sha256::new(),
            count: 0,
        };
        let mut sum = ExportSummary::default();
        let lm = |e| self.lmdb(e);
        out.put(EXPORT_MAGIC).map_err(stream_io)?;
        out.put(&[EXPORT_VERSION]).map_err(stream_io)?;
        if let Some(u) = spec.user {
            self.check_name("user", u)?;
            out.frame(b'U', u.as_bytes()).map_err(stream_io)?;
        }
        for id in spec.mailboxes {
            let meta = self.meta(&txn, id)?;
            let mut e = Enc::with_capacity(128);
            e.str(id.as_str());
            e.raw(&meta.encode());
            out.frame(b'M', &e.finish()).map_err(stream_io)?;
            let dir = self.dir_of(&meta.partition, id)?;
            for r in self.records_in(&txn, id)? {
                let mut e = Enc::with_capacity(96);
                e.str(id.as_str());
                e.raw(&r.encode());
                out.frame(b'R', &e.finish()).map_err(stream_io)?;
                let path = files::message_path(&dir, r.uid);
                let io = |source| StoreError::Io {
                    path: path.clone(),
                    source,
                };
                let mut f = std::fs::File::open(&path).map_err(io)?;
                let len = f.metadata().map_err(io)?.len();
                if len != r.size {
                    return Err(StoreError::Corrupt {
                        what: format!("message file {}", path.display()),
                    });
                }
                let idb = id.as_str().as_bytes();
                let frame_len = len + 8 + idb.len() as u64;
                out.put(b"F").map_err(stream_io)?;
                out.put(&frame_len.to_le_bytes()).map_err(stream_io)?;
                out.put(&(idb.len() as u32).to_le_bytes())
                    .map_err(stream_io)?;
                out.put(idb).map_err(stream_io)?;
                out.put(&r.uid.to_le_bytes()).map_err(stream_io)?;
                let mut buf = vec![0u8; 64 * 1024];
                let mut left = len;
                while left > 0 {
                    let n = f.read(&mut buf).map_err(io)?;
                    if n == 0 {
                        return Err(StoreError::Corrupt {
                            what: format!("message file {} (shrank)", path.display()),
                        });
                    }
                    let n = n.min(usize::try_from(left).unwrap_or(n));
                    out.put(buf.get(..n).unwrap_or_default())
                        .map_err(stream_io)?;
                    left -= n as u64;
                }
                sum.messages += 1;
            }
            for item in d
                .vanished
                .prefix_iter(&txn, &prefix(id.as_str()))
                .map_err(lm)?
            {
                let (k, v) = item.map_err(lm)?;
                let uid = k
                    .get(k.len().saturating_sub(4)..)
                    .and_then(|t| <[u8; 4]>::try_from(t).ok())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                let m = <[u8; 8]>::try_from(v).map(u64::from_le_bytes).unwrap_or(0);
                let mut e = Enc::with_capacity(64);
                e.str(id.as_str());
                e.u32(uid);
                e.u64(m);
                out.frame(b'V', &e.finish()).map_err(stream_io)?;
            }
            for a in self.annotations_in(&txn, Some(id), "")? {
                out.frame(b'A', &encode_annot(Some(id), &a))
                    .map_err(stream_io)?;
            }
            sum.mailboxes += 1;
        }
        for root in spec.quota_roots {
            if let Some(b) = d.quota.get(&txn, root.as_bytes()).map_err(lm)? {
                let q = super::types::Quota::decode((*root).to_owned(), b).ok_or_else(|| {
                    StoreError::Corrupt {
                        what: format!("quota root {root:?}"),
                    }
                })?;
                let mut e = Enc::with_capacity(64);
                e.str(root);
                for l in [
                    q.limits.storage_kib,
                    q.limits.messages,
                    q.limits.mailboxes,
                    q.limits.annotation_kib,
                ] {
                    e.opt_u64(l);
                }
                out.frame(b'Q', &e.finish()).map_err(stream_io)?;
            }
        }
        if let Some(user) = spec.user {
            let p = prefix(user);
            for item in d.seen.prefix_iter(&txn, &p).map_err(lm)? {
                let (k, v) = item.map_err(lm)?;
                let id = k.get(p.len()..).unwrap_or_default();
                let mut e = Enc::with_capacity(64 + v.len());
                e.bytes(id);
                e.raw(v);
                out.frame(b'S', &e.finish()).map_err(stream_io)?;
            }
            for name in self.subscriptions_in(&txn, user)? {
                out.frame(b'B', name.as_str().as_bytes())
                    .map_err(stream_io)?;
            }
            let active = d.sieve_active.get(&txn, user.as_bytes()).map_err(lm)?;
            for item in d.sieve.prefix_iter(&txn, &p).map_err(lm)? {
                let (k, v) = item.map_err(lm)?;
                let name = k.get(p.len()..).unwrap_or_default();
                let mut e = Enc::with_capacity(32 + v.len());
                e.bytes(name);
                e.u8(u8::from(active == Some(name)));
                e.bytes(v);
                out.frame(b'P', &e.finish()).map_err(stream_io)?;
            }
            for entry in self.server_private_in(&txn, user)? {
                let key = key2("", &entry);
                let mut k = key;
                k.push(0);
                k.extend_from_slice(user.as_bytes());
                if let Some(v) = d.annot.get(&txn, &k).map_err(lm)? {
                    let a = Annotation {
                        entry,
                        user: Some(user.to_owned()),
                        value: v.to_vec(),
                    };
                    out.frame(b'A', &encode_annot(None, &a))
                        .map_err(stream_io)?;
                }
            }
        }
        let digest = out.hash.clone().finalize();
        out.put(b"E").map_err(stream_io)?;
        out.put(&32u64.to_le_bytes()).map_err(stream_io)?;
        out.put(&digest).map_err(stream_io)?;
        out.inner.flush().map_err(stream_io)?;
        sum.bytes = out.count;
        Ok(sum)
    }

    /// Reads a stream written by [`Store::export`] and makes it visible atomically. Mailboxes
    /// go to `partition` when given (XFER's destination partition), otherwise to the partition
    /// named in the stream. UIDVALIDITY, UIDs, modseqs, flags and GUIDs are kept.
    pub fn import(
        &self,
        r: &mut impl Read,
        partition: Option<&str>,
    ) -> Result<ImportSummary, StoreError> {
        if let Some(p) = partition {
            self.partition_root(p)?;
        }
        let mut inc = Incoming::default();
        let res = self.read_stream(r, partition, &mut inc);
        if let Err(e) = res {
            files::remove_all(inc.temps());
            return Err(e);
        }
        let res = self.apply_import(&mut inc);
        // Whatever was not renamed into place is left over.
        files::remove_all(inc.temps());
        res
    }

    fn read_stream(
        &self,
        r: &mut impl Read,
        partition: Option<&str>,
        inc: &mut Incoming,
    ) -> Result<(), StoreError> {
        let mut hr = HashReader {
            inner: r,
            hash: Sha256::new(),
        };
        let mut magic = [0u8; 18];
        hr.read_exact(&mut magic).map_err(stream_io)?;
        if &magic != EXPORT_MAGIC {
            return Err(bad("not a transfer stream"));
        }
        let mut v = [0u8; 1];
        hr.read_exact(&mut v).map_err(stream_io)?;
        if v[0] != EXPORT_VERSION {
            return Err(bad(format!("unsupported version {}", v[0])));
        }
        let mut dirs: HashMap<MailboxId, PathBuf> = HashMap::new();
        loop {
            let digest_so_far = hr.hash.clone().finalize();
            let mut head = [0u8; 9];
            hr.read_exact(&mut head).map_err(stream_io)?;
            let [kind, l0, l1, l2, l3, l4, l5, l6, l7] = head;
            let len = u64::from_le_bytes([l0, l1, l2, l3, l4, l5, l6, l7]);
            if kind == b'F' {
                let max = self.options.max_message_size + 8 + super::MAX_MAILBOX_ID_LEN as u64;
                if len > max {
                    return Err(bad("message frame over the size limit"));
                }
                let mut n = [0u8; 4];
                hr.read_exact(&mut n).map_err(stream_io)?;
                let idlen = u32::from_le_bytes(n) as usize;
                if idlen > super::MAX_MAILBOX_ID_LEN || (idlen as u64) + 8 > len {
                    return Err(bad("bad message frame"));
                }
                let mut idb = vec![0u8; idlen];
                hr.read_exact(&mut idb).map_err(stream_io)?;
                hr.read_exact(&mut n).map_err(stream_io)?;
                let uid = u32::from_le_bytes(n);
                let id = std::str::from_utf8(&idb)
                    .ok()
                    .and_then(|s| MailboxId::new(s).ok())
                    .ok_or_else(|| bad("bad mailbox id"))?;
                let dir = dirs
                    .get(&id)
                    .ok_or_else(|| bad("message before its mailbox"))?;
                let body = len - 8 - idlen as u64;
                let (path, guid) = files::stream_temp(dir, &mut hr, body).map_err(stream_io)?;
                if let Some((old, _, _)) = inc.files.insert((id, uid), (path, guid, body)) {
                    files::remove_all([old]);
                }
                continue;
            }
            if len > self.options.max_stream_record {
                return Err(bad("record over the size limit"));
            }
            let mut payload = vec![0u8; usize::try_from(len).map_err(|_| bad("record size"))?];
            hr.read_exact(&mut payload).map_err(stream_io)?;
            let mut d = Dec::new(&payload);
            let take_id = |d: &mut Dec<'_>| {
                d.str()
                    .and_then(|s| MailboxId::new(&s).ok())
                    .ok_or_else(|| bad("bad mailbox id"))
            };
            match kind {
                b'E' => {
                    if payload.as_slice() != digest_so_far.as_slice() {
                        return Err(bad("checksum mismatch"));
                    }
                    return Ok(());
                }
                b'U' => {
                    let u = String::from_utf8(payload).map_err(|_| bad("bad user"))?;
                    self.check_name("user", &u)?;
                    inc.user = Some(u);
                }
                b'M' => {
                    let id = take_id(&mut d)?;
                    let rest = d.rest();
                    let mut meta = Meta::decode(rest).ok_or_else(|| bad("bad mailbox frame"))?;
                    if let Some(p) = partition {
                        meta.partition = p.to_owned();
                    }
                    let dir = self.dir_of(&meta.partition, &id)?;
                    dirs.insert(id.clone(), dir);
                    inc.mailboxes.push(MboxFrame { id, meta });
                }
                b'R' => {
                    let id = take_id(&mut d)?;
                    let rest = d.rest();
                    let rec = Record::decode(rest).ok_or_else(|| bad("bad record frame"))?;
                    if !dirs.contains_key(&id) {
                        return Err(bad("record before its mailbox"));
                    }
                    inc.records.entry(id).or_default().push(rec);
                }
                b'V' => {
                    let id = take_id(&mut d)?;
                    let uid = d.u32().ok_or_else(|| bad("bad expunge frame"))?;
                    let m = d.u64().ok_or_else(|| bad("bad expunge frame"))?;
                    inc.vanished.push((id, uid, m));
                }
                b'S' => {
                    let id = take_id(&mut d)?;
                    let rest = d.rest();
                    let s = SeenState::decode(rest).ok_or_else(|| bad("bad seen frame"))?;
                    inc.seen.push((id, s));
                }
                b'B' => {
                    let n = std::str::from_utf8(&payload)
                        .ok()
                        .and_then(|s| InternalName::new(s).ok())
                        .ok_or_else(|| bad("bad subscription"))?;
                    inc.subs.push(n);
                }
                b'Q' => {
                    let root = d.str().ok_or_else(|| bad("bad quota frame"))?;
                    let mut l = [None; 4];
                    for x in &mut l {
                        *x = d.opt_u64().ok_or_else(|| bad("bad quota frame"))?;
                    }
                    let [storage_kib, messages, mailboxes, annotation_kib] = l;
                    inc.quotas.push((
                        root,
                        QuotaLimits {
                            storage_kib,
                            messages,
                            mailboxes,
                            annotation_kib,
                        },
                    ));
                }
                b'A' => {
                    let scope = d.opt_str().ok_or_else(|| bad("bad annotation"))?;
                    let scope = match scope {
                        Some(s) => Some(MailboxId::new(&s).map_err(|_| bad("bad annotation"))?),
                        None => None,
                    };
                    let entry = d.str().ok_or_else(|| bad("bad annotation"))?;
                    let user = d.opt_str().ok_or_else(|| bad("bad annotation"))?;
                    let value = d.bytes().ok_or_else(|| bad("bad annotation"))?.to_vec();
                    self.check_entry(&entry, user.as_deref())?;
                    inc.annots.push((scope, Annotation { entry, user, value }));
                }
                b'P' => {
                    let name = d.str().ok_or_else(|| bad("bad sieve frame"))?;
                    let active = d.u8().ok_or_else(|| bad("bad sieve frame"))? == 1;
                    let body = d.bytes().ok_or_else(|| bad("bad sieve frame"))?.to_vec();
                    self.check_script(&name)?;
                    inc.sieve.push((name, active, body));
                }
                other => return Err(bad(format!("unknown frame kind {other:#04x}"))),
            }
        }
    }

    fn apply_import(&self, inc: &mut Incoming) -> Result<ImportSummary, StoreError> {
        // Every record needs its file, with the right size and hash.
        for (id, recs) in &inc.records {
            for r in recs {
                match inc.files.get(&(id.clone(), r.uid)) {
                    Some((_, g, n)) if *g == r.guid && *n == r.size => {}
                    Some(_) => return Err(bad(format!("message {} of {id} is damaged", r.uid))),
                    None => return Err(bad(format!("message {} of {id} is missing", r.uid))),
                }
            }
        }
        // A stale copy with other content under the same UIDs would be overwritten before the
        // commit; remove it first (it is a leftover of an earlier move, never live data).
        for m in &inc.mailboxes {
            let stale = {
                let txn = self.read()?;
                match self.meta_in(&txn, &m.id)? {
                    None => false,
                    Some(old) => {
                        old.uidvalidity != m.meta.uidvalidity
                            || old.partition != m.meta.partition
                            || self.records_in(&txn, &m.id)?.iter().any(|o| {
                                inc.files
                                    .get(&(m.id.clone(), o.uid))
                                    .is_some_and(|(_, g, _)| *g != o.guid)
                            })
                    }
                }
            };
            if stale {
                tracing::warn!(mailbox = %m.id, "replacing a stale copy of an imported mailbox");
                if let Some((old, uids)) = self.write(|txn| self.delete_mailbox_in(txn, &m.id))? {
                    let old_dir = self.dir_of(&old.partition, &m.id)?;
                    if old.partition == m.meta.partition {
                        // The directory holds this import's temporaries: remove only the
                        // stale messages.
                        files::remove_all(
                            uids.into_iter().map(|u| files::message_path(&old_dir, u)),
                        );
                    } else {
                        super::mailbox::remove_dir(&old_dir);
                    }
                }
            }
        }
        let mut unlink = Vec::new();
        let summary = self.write(|txn| {
            let d = self.dbs();
            let lm = |e| self.lmdb(e);
            let mut roots: BTreeSet<String> = BTreeSet::new();
            let mut messages = 0u64;
            for m in &inc.mailboxes {
                let dir = self.dir_of(&m.meta.partition, &m.id)?;
                let new_uids: BTreeSet<u32> = inc
                    .records
                    .get(&m.id)
                    .map(|v| v.iter().map(|r| r.uid).collect())
                    .unwrap_or_default();
                if let Some(old) = self.meta_in(txn, &m.id)? {
                    if let Some(r) = old.quota_root {
                        roots.insert(r);
                    }
                    for o in self.records_in(txn, &m.id)? {
                        if !new_uids.contains(&o.uid) {
                            unlink.push(files::message_path(&dir, o.uid));
                        }
                    }
                }
                let p = prefix(m.id.as_str());
                self.delete_prefix(txn, d.index, &p)?;
                self.delete_prefix(txn, d.vanished, &p)?;
                self.delete_prefix(txn, d.annot, &p)?;
                let mut meta = m.meta.clone();
                meta.annot_bytes = 0;
                // Counters are rebuilt from the records rather than trusted from the stream.
                meta.recount(
                    inc.records
                        .get(&m.id)
                        .map(Vec::as_slice)
                        .unwrap_or_default(),
                );
                for r in inc.records.get(&m.id).into_iter().flatten() {
                    if let Some((tmp, _, _)) = inc.files.remove(&(m.id.clone(), r.uid)) {
                        let dst = files::message_path(&dir, r.uid);
                        if let Err(source) = std::fs::rename(&tmp, &dst) {
                            inc.files
                                .insert((m.id.clone(), r.uid), (tmp, r.guid, r.size));
                            return Err(StoreError::Io { path: dst, source });
                        }
                    }
                    self.put_record(txn, &m.id, r)?;
                    messages += 1;
                }
                if !new_uids.is_empty() {
                    files::fsync_dir(&dir).map_err(|source| StoreError::Io {
                        path: dir.clone(),
                        source,
                    })?;
                }
                for (_, Annotation { entry, user, value }) in
                    inc.annots.iter().filter(|a| a.0.as_ref() == Some(&m.id))
                {
                    let mut k = key2(m.id.as_str(), entry);
                    k.push(0);
                    k.extend_from_slice(user.as_deref().unwrap_or("").as_bytes());
                    d.annot.put(txn, &k, value).map_err(lm)?;
                    meta.annot_bytes = meta.annot_bytes.saturating_add(value.len() as u64);
                }
                if let Some(r) = &meta.quota_root {
                    roots.insert(r.clone());
                }
                self.put_meta(txn, &m.id, &meta)?;
            }
            for (id, uid, m) in &inc.vanished {
                d.vanished
                    .put(txn, &index_key(id, *uid), &m.to_le_bytes())
                    .map_err(lm)?;
            }
            if let Some(user) = &inc.user {
                self.delete_user_data_in(txn, user, true)?;
                for (id, s) in &inc.seen {
                    self.put_seen(txn, user, id, s)?;
                }
                for n in &inc.subs {
                    d.subs.put(txn, &key2(user, n.as_str()), b"").map_err(lm)?;
                }
                for (name, active, body) in &inc.sieve {
                    d.sieve.put(txn, &key2(user, name), body).map_err(lm)?;
                    if *active {
                        d.sieve_active
                            .put(txn, user.as_bytes(), name.as_bytes())
                            .map_err(lm)?;
                    }
                }
                for (_, a) in inc.annots.iter().filter(|a| a.0.is_none()) {
                    self.set_annotation_in(txn, None, &a.entry, a.user.as_deref(), Some(&a.value))?;
                }
            }
            for (root, limits) in &inc.quotas {
                self.put_quota_limits_keep_usage(txn, root, *limits)?;
                roots.remove(root);
            }
            // Roots whose mailboxes changed: recount (exact, and idempotent on a re-import).
            for root in roots {
                if let Some(b) = d.quota.get(txn, root.as_bytes()).map_err(lm)? {
                    let limits = super::types::Quota::decode(root.clone(), b)
                        .map(|q| q.limits)
                        .unwrap_or_default();
                    self.put_quota_limits_keep_usage(txn, &root, limits)?;
                }
            }
            Ok(ImportSummary {
                user: inc.user.clone(),
                mailboxes: inc.mailboxes.iter().map(|m| m.id.clone()).collect(),
                messages,
            })
        })?;
        files::remove_all(unlink);
        Ok(summary)
    }
}

fn encode_annot(scope: Option<&MailboxId>, a: &Annotation) -> Vec<u8> {
    let mut e = Enc::with_capacity(32 + a.entry.len() + a.value.len());
    e.opt_str(scope.map(MailboxId::as_str));
    e.str(&a.entry);
    e.opt_str(a.user.as_deref());
    e.bytes(&a.value);
    e.finish()
}
