//! A persistent cache of encoded ENVELOPEs, the part of Cyrus's `cyrus.cache` that listing a
//! mailbox needs (`FETCH 1:* (FLAGS ENVELOPE)`): without it every listing reads and parses
//! every message header.
//!
//! Entries are keyed by the message's GUID (the SHA-1 of its bytes). Message files never
//! change, so an entry is never stale and messages copied between mailboxes share it. The cache
//! lives in its own LMDB environment at `<configdirectory>/envelopes/`, shared by every imapd
//! process of the host. It holds derived data only, so commits are not synced: a crash may lose
//! recent entries, which are recomputed on the next FETCH. It is filled at APPEND and on each
//! FETCH miss, and emptied when it holds more than [`MAX_ENTRIES`].
#![allow(unsafe_code)] // opening an LMDB map is `unsafe` in heed; see the SAFETY note below.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use heed::types::Bytes;
use heed::{Database, Env, EnvFlags, EnvOpenOptions, WithoutTls};

use crate::store::{Guid, Store};

/// Entries kept before the cache is emptied (about 400 bytes each).
pub const MAX_ENTRIES: u64 = 2_000_000;

/// The directory under `configdirectory`.
pub const DIR: &str = "envelopes";

/// An open envelope cache.
#[derive(Clone)]
pub struct EnvelopeCache {
    env: Env<WithoutTls>,
    db: Database<Bytes, Bytes>,
}

/// One environment per directory per process (LMDB forbids two).
static OPEN: LazyLock<Mutex<HashMap<PathBuf, EnvelopeCache>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl EnvelopeCache {
    /// The cache next to a store (`<configdirectory>/envelopes/`); `None` if it cannot be
    /// opened (the caller then works without it).
    pub fn for_store(store: &Store) -> Option<EnvelopeCache> {
        let dir = store.path().parent()?.join(DIR);
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = open.get(&dir) {
            return Some(c.clone());
        }
        match Self::open(&dir) {
            Ok(c) => {
                open.insert(dir, c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::warn!("envelope cache at {}: {e}", dir.display());
                None
            }
        }
    }

    fn open(dir: &Path) -> Result<EnvelopeCache, heed::Error> {
        std::fs::create_dir_all(dir)?;
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        opts.map_size(16 << 30).max_dbs(2).max_readers(4096);
        // SAFETY: NO_SYNC and NO_META_SYNC only weaken durability (a crash may lose the last
        // commits), which a cache of derived data tolerates; the map is only modified through
        // LMDB, never truncated behind its back, and lives on the local configdirectory.
        let env = unsafe {
            opts.flags(EnvFlags::NO_SYNC | EnvFlags::NO_META_SYNC);
            opts.open(dir)?
        };
        let _ = env.clear_stale_readers();
        let mut w = env.write_txn()?;
        let db = env.create_database(&mut w, Some("envelopes"))?;
        w.commit()?;
        Ok(EnvelopeCache { env, db })
    }

    /// The cached envelopes of these GUIDs, in order (`None` for a miss).
    pub fn get_many(&self, guids: &[Guid]) -> Vec<Option<Arc<[u8]>>> {
        let Ok(txn) = self.env.read_txn() else {
            return vec![None; guids.len()];
        };
        guids
            .iter()
            .map(|g| self.db.get(&txn, &g.0).ok().flatten().map(Arc::from))
            .collect()
    }

    /// Stores envelopes (one unsynced transaction); failures are logged and ignored.
    pub fn put_many(&self, entries: &[(Guid, Vec<u8>)]) {
        if entries.is_empty() {
            return;
        }
        let res = (|| -> Result<(), heed::Error> {
            let mut w = self.env.write_txn()?;
            if self.db.len(&w)? > MAX_ENTRIES {
                self.db.clear(&mut w)?;
            }
            for (g, e) in entries {
                self.db.put(&mut w, &g.0, e)?;
            }
            w.commit()
        })();
        if let Err(e) = res {
            tracing::warn!("envelope cache: {e}");
        }
    }
}

/// The encoded ENVELOPE of a message.
pub fn encode_envelope(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    protocol::mime::Message::parse(msg)
        .envelope()
        .encode(&mut out);
    out
}
