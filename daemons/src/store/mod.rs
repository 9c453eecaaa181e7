//! A backend's mail store: message files, indexes, seen state, subscriptions, quotas,
//! annotations and sieve scripts, shared by imapd, lmtpd, pop3d and timsieved.
//!
//! # Layout
//!
//! * One LMDB environment at `<configdirectory>/store/` holds every index and every piece of
//!   per-user state. LMDB gives all processes of the host one writer at a time and snapshot
//!   readers, and a commit is durable when it returns, so a daemon may answer OK right after.
//! * Message files live in partitions: `<partition>/<h0>/<h1>/<uniqueid>/<uid>.`, one file per
//!   message, never changed after it is written. A file is written, fsynced and renamed into
//!   place (its directory fsynced too with [`StoreOptions::fsync_dirs`]) *before* the
//!   transaction that makes it visible commits (see `files.rs`). A crash leaves at worst unlisted files, which readers never look at and
//!   [`Store::gc`] deletes.
//! * Everything is keyed by the mailbox's globally unique id ([`MailboxId`], the `uniqueid` of
//!   its `mailboxes.db` entry), so RENAME changes no message data. Names, ACLs and the murder
//!   state stay in [`crate::mboxdb::MailboxDb`].
//!
//! # Modseqs
//!
//! Each mailbox has its own HIGHESTMODSEQ, starting at 1. Every committed transaction that
//! changes a mailbox (an append or batch append, a STORE, an EXPUNGE, a COPY into it) takes the
//! next modseq and gives it to every record it touches, as Cyrus does within one lock.
//!
//! # `\Seen`
//!
//! As Cyrus does by default, `\Seen` in a [`Record`]'s flags is the **owner's** seen state (or
//! everyone's, for a shared mailbox with `sharedseen`); it is changed with the other flags and
//! bumps the modseq. Every **other** user's seen state is a [`UidSet`] per (user, mailbox) in the
//! seen table ([`Store::seen`], [`Store::seen_add`], …), which changes no modseq. The caller
//! (who knows the mailbox's owner) picks: `\Seen` from the index for the owner, from the seen
//! table for anyone else. [`Store::unseen_count`] and [`Store::take_recent`] follow the same rule.
//!
//! # Concurrency
//!
//! The API is blocking (file and LMDB I/O); async daemons call it through
//! `tokio::task::spawn_blocking`. [`Store`] is cheap to clone and `Send + Sync`; opening the same
//! store twice in one process shares one LMDB environment (LMDB forbids two in one process).
//!
//! ```
//! use std::collections::BTreeMap;
//! use daemons::store::{Flags, InternalDate, MailboxId, Store};
//!
//! let tmp = tempfile::tempdir().unwrap();
//! let parts = BTreeMap::from([("default".to_string(), tmp.path().join("spool"))]);
//! let store = Store::open(&tmp.path().join("conf"), parts).unwrap();
//! let inbox = MailboxId::generate();
//! let state = store.create_mailbox(&inbox, "default").unwrap();
//! assert_eq!(state.uidnext, 1);
//! let flags = Flags::parse(["\\Seen", "$Label1"]).unwrap();
//! let (uid, modseq) = store
//!     .append(&inbox, b"Subject: hi\r\n\r\nbody\r\n", &flags, InternalDate::now())
//!     .unwrap();
//! assert_eq!((uid, modseq), (1, 2));
//! assert_eq!(store.read_message(&inbox, 1).unwrap(), b"Subject: hi\r\n\r\nbody\r\n");
//! ```
#![allow(unsafe_code)] // opening an LMDB map is `unsafe` in heed; see the SAFETY note in `open`.

mod annot;
mod codec;
mod files;
mod mailbox;
mod quota;
mod user;
mod xfer;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};

pub use mailbox::{
    Delivery, DeliveryResult, FlagUpdate, GcReport, NewMessage, Prepared, PreparedDelivery,
};
pub use types::{
    Annotation, FlagMode, Flags, Guid, InternalDate, Keyword, MailboxId, MailboxState, Quota,
    QuotaLimits, QuotaResource, QuotaUsage, Record, SeenState, SystemFlags, UidSet,
    MAX_KEYWORD_LEN, MAX_MAILBOX_ID_LEN,
};
pub use xfer::{ExportSpec, ExportSummary, ImportSummary, EXPORT_MAGIC, EXPORT_VERSION};

mod types;

/// The directory of the LMDB environment under `configdirectory`.
pub const STORE_DIR: &str = "store";

/// Errors of the mail store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// LMDB refused an operation (a full map, a damaged file, too many readers).
    #[error("mail store at {path}: {source}")]
    Lmdb {
        /// The environment's directory.
        path: PathBuf,
        /// What LMDB said.
        #[source]
        source: heed::Error,
    },
    /// A file or directory operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be decoded (written by a newer version, or damaged).
    #[error("mail store: {what} is unreadable")]
    Corrupt {
        /// Which value.
        what: String,
    },
    /// No mailbox with this id exists in the store.
    #[error("mailbox {0} does not exist")]
    NoSuchMailbox(MailboxId),
    /// A mailbox with this id already exists.
    #[error("mailbox {0} already exists")]
    MailboxExists(MailboxId),
    /// The partition is not configured.
    #[error("partition {0:?} is not configured")]
    NoSuchPartition(String),
    /// The message does not exist (never did, or was expunged).
    #[error("message {uid} of mailbox {mailbox} does not exist")]
    NoSuchMessage {
        /// The mailbox.
        mailbox: MailboxId,
        /// The UID.
        uid: u32,
    },
    /// Not a valid mailbox id.
    #[error("invalid mailbox id {0:?}")]
    InvalidMailboxId(String),
    /// A flag that cannot be stored (`\Recent`, an unknown `\` flag, or not an atom).
    #[error("invalid flag {0:?}")]
    BadFlag(String),
    /// A user, script, annotation entry or mailbox name breaking its rules.
    #[error("invalid {what} {value:?}")]
    BadName {
        /// What kind of name.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A value over its configured limit.
    #[error("{what} of {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The mailbox holds as many keywords as allowed.
    #[error("mailbox {0} cannot hold more keywords")]
    TooManyKeywords(MailboxId),
    /// UIDs (or UIDVALIDITY values) are used up; the mailbox must be recreated.
    #[error("{0} is exhausted")]
    Exhausted(&'static str),
    /// The active sieve script cannot be deleted.
    #[error("sieve script {0:?} is active")]
    SieveActive(String),
    /// No such sieve script.
    #[error("sieve script {0:?} does not exist")]
    NoSuchScript(String),
    /// A sieve script with the new name exists already.
    #[error("sieve script {0:?} already exists")]
    ScriptExists(String),
    /// An export stream is malformed, truncated or fails its checksum.
    #[error("bad transfer stream: {0}")]
    BadStream(String),
    /// The mailbox is being moved to another server (XFER): its messages cannot change until
    /// the move ends, or a change made after the export would be lost with the source copy.
    #[error("mailbox {0} is being moved to another server")]
    Moving(MailboxId),
}

impl StoreError {
    /// Whether retrying later may succeed (`NO [UNAVAILABLE]` in IMAP, 4xx in LMTP) rather than
    /// the request being wrong (5xx).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            StoreError::Lmdb { .. } | StoreError::Io { .. } | StoreError::Moving(_)
        )
    }
}

/// Limits on what callers may store. All sizes in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Largest message. Default 1 GiB (daemons apply `maxmessagesize` before this).
    pub max_message_size: u64,
    /// Most keywords per mailbox. Default 128 (Cyrus's `MAX_USER_FLAGS`).
    pub max_keywords: usize,
    /// Largest annotation value. Default 64 KiB.
    pub max_annotation_size: usize,
    /// Longest annotation entry name. Default 1024.
    pub max_entry_len: usize,
    /// Largest sieve script. Default 1 MiB.
    pub max_script_size: usize,
    /// Longest user name, sieve script name or subscribed mailbox name. Default 1024.
    pub max_name_len: usize,
    /// Largest non-message record in a transfer stream. Default 16 MiB.
    pub max_stream_record: u64,
    /// LMDB map size (address space, not disk). Default 256 GiB.
    pub map_size: usize,
    /// Whether a mailbox directory is fsynced after message files are renamed into it and
    /// before the transaction listing them commits. The files themselves are always fsynced
    /// and the index commit is always synchronous. Without this, the new directory entries
    /// reach the disk with the filesystem's next journal commit (on ext4 and XFS the index
    /// commit's own sync forces it); Cyrus 3.6 does not fsync directories either. A process
    /// crash (`kill -9`) loses nothing either way: this only matters for power loss on
    /// filesystems that do not order metadata. imapd.conf: `murder_fsync_dirs`. Default off.
    pub fsync_dirs: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_message_size: 1 << 30,
            max_keywords: 128,
            max_annotation_size: 64 * 1024,
            max_entry_len: 1024,
            max_script_size: 1 << 20,
            max_name_len: 1024,
            max_stream_record: 16 << 20,
            map_size: 256 << 30,
            fsync_dirs: false,
        }
    }
}

/// The LMDB tables.
#[derive(Clone, Copy)]
struct Dbs {
    /// uniqueid → mailbox metadata.
    mailboxes: Database<Bytes, Bytes>,
    /// uniqueid NUL uid(BE) → record.
    index: Database<Bytes, Bytes>,
    /// uniqueid NUL uid(BE) → modseq of the expunge (for QRESYNC VANISHED).
    vanished: Database<Bytes, Bytes>,
    /// user NUL uniqueid → seen state.
    seen: Database<Bytes, Bytes>,
    /// uniqueid NUL user → (): finds a mailbox's seen rows when it is deleted.
    seen_by_mailbox: Database<Bytes, Bytes>,
    /// user NUL internal name → ().
    subs: Database<Bytes, Bytes>,
    /// quota root → limits and usage.
    quota: Database<Bytes, Bytes>,
    /// scope ("" or uniqueid) NUL entry NUL user ("" for shared) → value.
    annot: Database<Bytes, Bytes>,
    /// user NUL script name → script.
    sieve: Database<Bytes, Bytes>,
    /// user → active script name.
    sieve_active: Database<Bytes, Bytes>,
    /// Store-wide counters (last UIDVALIDITY).
    globals: Database<Bytes, Bytes>,
}

struct Shared {
    env: Env<WithoutTls>,
    dbs: Dbs,
    path: PathBuf,
}

/// Environments open in this process, so a second `open` shares the first (LMDB allows one
/// environment per file per process).
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// An open mail store. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    partitions: Arc<BTreeMap<String, PathBuf>>,
    options: Arc<StoreOptions>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.shared.path)
            .field("partitions", &self.partitions)
            .finish()
    }
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `a NUL b`: the composite keys of the tables.
pub(crate) fn key2(a: &str, b: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(a.len() + b.len() + 1);
    k.extend_from_slice(a.as_bytes());
    k.push(0);
    k.extend_from_slice(b.as_bytes());
    k
}

/// `a NUL` : the prefix of every `key2(a, _)`.
pub(crate) fn prefix(a: &str) -> Vec<u8> {
    key2(a, "")
}

impl Store {
    /// Opens (creating if needed) the store: the LMDB environment at
    /// `<configdirectory>/store/`, and message files under the given partitions
    /// (name → directory, as `partition-<name>` in imapd.conf), with default options.
    pub fn open(
        configdirectory: &Path,
        partitions: BTreeMap<String, PathBuf>,
    ) -> Result<Self, StoreError> {
        Self::open_with(configdirectory, partitions, StoreOptions::default())
    }

    /// [`Store::open`] with explicit limits.
    pub fn open_with(
        configdirectory: &Path,
        partitions: BTreeMap<String, PathBuf>,
        options: StoreOptions,
    ) -> Result<Self, StoreError> {
        let path = configdirectory.join(STORE_DIR);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        for dir in partitions.values() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let canonical = path.canonicalize().map_err(io(&path))?;
        let shared = {
            let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
            match open.get(&canonical).and_then(Weak::upgrade) {
                Some(s) => s,
                None => {
                    let s = Arc::new(Self::open_env(&canonical, options.map_size)?);
                    open.insert(canonical, Arc::downgrade(&s));
                    s
                }
            }
        };
        Ok(Store {
            shared,
            partitions: Arc::new(partitions),
            options: Arc::new(options),
        })
    }

    fn open_env(path: &Path, map_size: usize) -> Result<Shared, StoreError> {
        let lmdb = |source| StoreError::Lmdb {
            path: path.to_owned(),
            source,
        };
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        // The map is address space, not memory or disk: only pages in use take space.
        opts.map_size(map_size).max_dbs(16).max_readers(4096);
        let mut tries = 0;
        let env = loop {
            // SAFETY: the map is only modified through LMDB (this process or others using
            // LMDB's own lock file); we never truncate or write the files behind LMDB's back,
            // and the directory is local (configdirectory), not on a network filesystem.
            match unsafe { opts.open(path) } {
                Ok(env) => break env,
                // The last handle of an earlier open may be closing in another thread.
                Err(heed::Error::EnvAlreadyOpened) if tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(lmdb(e)),
            }
        };
        // A reader left behind by a process killed with -9 would pin old pages forever.
        let _ = env.clear_stale_readers();
        let mut wtxn = env.write_txn().map_err(lmdb)?;
        let mut create = |name: &str| env.create_database(&mut wtxn, Some(name)).map_err(lmdb);
        let dbs = Dbs {
            mailboxes: create("mailboxes")?,
            index: create("index")?,
            vanished: create("vanished")?,
            seen: create("seen")?,
            seen_by_mailbox: create("seen_by_mailbox")?,
            subs: create("subscriptions")?,
            quota: create("quota")?,
            annot: create("annotations")?,
            sieve: create("sieve")?,
            sieve_active: create("sieve_active")?,
            globals: create("globals")?,
        };
        wtxn.commit().map_err(lmdb)?;
        Ok(Shared {
            env,
            dbs,
            path: path.to_owned(),
        })
    }

    /// The LMDB environment's directory.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The configured partitions.
    pub fn partitions(&self) -> &BTreeMap<String, PathBuf> {
        &self.partitions
    }

    /// The limits in force.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    fn dbs(&self) -> Dbs {
        self.shared.dbs
    }

    fn lmdb(&self, source: heed::Error) -> StoreError {
        StoreError::Lmdb {
            path: self.shared.path.clone(),
            source,
        }
    }

    fn partition_root(&self, name: &str) -> Result<&Path, StoreError> {
        self.partitions
            .get(name)
            .map(PathBuf::as_path)
            .ok_or_else(|| StoreError::NoSuchPartition(name.to_owned()))
    }

    fn read(&self) -> Result<RoTxn<'_, WithoutTls>, StoreError> {
        self.shared.env.read_txn().map_err(|e| self.lmdb(e))
    }

    /// Runs `f` in one write transaction and commits it if `f` succeeds. Only one writer runs
    /// at a time across every process using the store.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut RwTxn<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut txn = self.shared.env.write_txn().map_err(|e| self.lmdb(e))?;
        let out = f(&mut txn)?;
        txn.commit().map_err(|e| self.lmdb(e))?;
        Ok(out)
    }

    fn check_name(&self, what: &'static str, value: &str) -> Result<(), StoreError> {
        if value.is_empty() || value.len() > self.options.max_name_len || value.contains('\0') {
            Err(StoreError::BadName {
                what,
                value: value.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    /// Keys of `db` that start with `p`, in this transaction's view.
    fn keys_with_prefix(
        &self,
        txn: &RoTxn<'_>,
        db: Database<Bytes, Bytes>,
        p: &[u8],
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for item in db.prefix_iter(txn, p).map_err(|e| self.lmdb(e))? {
            let (k, _) = item.map_err(|e| self.lmdb(e))?;
            out.push(k.to_vec());
        }
        Ok(out)
    }

    fn delete_prefix(
        &self,
        txn: &mut RwTxn<'_>,
        db: Database<Bytes, Bytes>,
        p: &[u8],
    ) -> Result<usize, StoreError> {
        let keys = self.keys_with_prefix(txn, db, p)?;
        for k in &keys {
            db.delete(txn, k).map_err(|e| self.lmdb(e))?;
        }
        Ok(keys.len())
    }
}
