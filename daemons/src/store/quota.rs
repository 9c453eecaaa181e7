//! Quota roots: limits, and usage kept exact in the same transaction as every change.
//!
//! The store does not know mailbox names, so it does not find a mailbox's root by walking up
//! the hierarchy as Cyrus does. Each mailbox instead records the root it is charged to
//! ([`Store::set_mailbox_quota_root`]); imapd sets it on CREATE, SETQUOTA and RENAME.

use heed::RwTxn;

use super::types::{Quota, QuotaLimits, QuotaResource, QuotaUsage};
use super::{MailboxId, Store, StoreError};

fn apply(v: u64, d: i128) -> u64 {
    let n = i128::from(v).saturating_add(d);
    u64::try_from(n.max(0)).unwrap_or(u64::MAX)
}

impl Store {
    fn quota_in(&self, txn: &heed::RoTxn<'_>, root: &str) -> Result<Option<Quota>, StoreError> {
        match self
            .dbs()
            .quota
            .get(txn, root.as_bytes())
            .map_err(|e| self.lmdb(e))?
        {
            Some(b) => {
                Quota::decode(root.to_owned(), b)
                    .map(Some)
                    .ok_or_else(|| StoreError::Corrupt {
                        what: format!("quota root {root:?}"),
                    })
            }
            None => Ok(None),
        }
    }

    fn put_quota(&self, txn: &mut RwTxn<'_>, q: &Quota) -> Result<(), StoreError> {
        self.dbs()
            .quota
            .put(txn, q.root.as_bytes(), &q.encode())
            .map_err(|e| self.lmdb(e))
    }

    /// Adds deltas to a root's usage (nothing when there is no such root).
    pub(crate) fn charge(
        &self,
        txn: &mut RwTxn<'_>,
        root: Option<&str>,
        bytes: i128,
        messages: i128,
        mailboxes: i128,
        annotation_bytes: i128,
    ) -> Result<(), StoreError> {
        let Some(root) = root else { return Ok(()) };
        let Some(mut q) = self.quota_in(txn, root)? else {
            return Ok(());
        };
        q.usage.storage_bytes = apply(q.usage.storage_bytes, bytes);
        q.usage.messages = apply(q.usage.messages, messages);
        q.usage.mailboxes = apply(q.usage.mailboxes, mailboxes);
        q.usage.annotation_bytes = apply(q.usage.annotation_bytes, annotation_bytes);
        self.put_quota(txn, &q)
    }

    /// The usage of every mailbox charged to `root`, summed from their metadata.
    pub(crate) fn usage_of(
        &self,
        txn: &heed::RoTxn<'_>,
        root: &str,
    ) -> Result<QuotaUsage, StoreError> {
        let mut u = QuotaUsage::default();
        for item in self.dbs().mailboxes.iter(txn).map_err(|e| self.lmdb(e))? {
            let (k, v) = item.map_err(|e| self.lmdb(e))?;
            let m = super::mailbox::Meta::decode(v).ok_or_else(|| StoreError::Corrupt {
                what: format!("metadata of mailbox {}", String::from_utf8_lossy(k)),
            })?;
            if m.quota_root.as_deref() == Some(root) {
                u.storage_bytes = u.storage_bytes.saturating_add(m.size);
                u.messages = u.messages.saturating_add(u64::from(m.exists));
                u.mailboxes = u.mailboxes.saturating_add(1);
                u.annotation_bytes = u.annotation_bytes.saturating_add(m.annot_bytes);
            }
        }
        Ok(u)
    }

    /// Sets a root's limits (SETQUOTA). A new root's usage is computed from the mailboxes
    /// already charged to it; an existing root keeps its usage.
    pub fn set_quota(&self, root: &str, limits: QuotaLimits) -> Result<Quota, StoreError> {
        self.check_name("quota root", root)?;
        self.write(|txn| {
            let q = match self.quota_in(txn, root)? {
                Some(mut q) => {
                    q.limits = limits;
                    q
                }
                None => Quota {
                    root: root.to_owned(),
                    limits,
                    usage: self.usage_of(txn, root)?,
                },
            };
            self.put_quota(txn, &q)?;
            Ok(q)
        })
    }

    /// Removes a root; mailboxes charged to it are charged to nothing. Whether it existed.
    pub fn remove_quota(&self, root: &str) -> Result<bool, StoreError> {
        self.write(|txn| {
            let existed = self
                .dbs()
                .quota
                .delete(txn, root.as_bytes())
                .map_err(|e| self.lmdb(e))?;
            for id in self.mailboxes_charged_to(txn, root)? {
                let mut m = self.meta(txn, &id)?;
                m.quota_root = None;
                self.put_meta(txn, &id, &m)?;
            }
            Ok(existed)
        })
    }

    fn mailboxes_charged_to(
        &self,
        txn: &heed::RoTxn<'_>,
        root: &str,
    ) -> Result<Vec<MailboxId>, StoreError> {
        let mut out = Vec::new();
        for item in self.dbs().mailboxes.iter(txn).map_err(|e| self.lmdb(e))? {
            let (k, v) = item.map_err(|e| self.lmdb(e))?;
            let charged = super::mailbox::Meta::decode(v)
                .is_some_and(|m| m.quota_root.as_deref() == Some(root));
            if charged {
                if let Some(id) = std::str::from_utf8(k)
                    .ok()
                    .and_then(|s| MailboxId::new(s).ok())
                {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    /// A root's limits and usage (GETQUOTA).
    pub fn quota(&self, root: &str) -> Result<Option<Quota>, StoreError> {
        let txn = self.read()?;
        self.quota_in(&txn, root)
    }

    /// Every quota root, by name.
    pub fn quota_roots(&self) -> Result<Vec<Quota>, StoreError> {
        let txn = self.read()?;
        let mut out = Vec::new();
        for item in self.dbs().quota.iter(&txn).map_err(|e| self.lmdb(e))? {
            let (k, v) = item.map_err(|e| self.lmdb(e))?;
            let root = String::from_utf8_lossy(k).into_owned();
            out.push(Quota::decode(root.clone(), v).ok_or(StoreError::Corrupt {
                what: format!("quota root {root:?}"),
            })?);
        }
        Ok(out)
    }

    /// Charges a mailbox to another root (or none), moving its usage in one transaction.
    pub fn set_mailbox_quota_root(
        &self,
        id: &MailboxId,
        root: Option<&str>,
    ) -> Result<(), StoreError> {
        if let Some(r) = root {
            self.check_name("quota root", r)?;
        }
        self.write(|txn| {
            let mut m = self.meta(txn, id)?;
            if m.quota_root.as_deref() == root {
                return Ok(());
            }
            let (b, n, a) = (
                i128::from(m.size),
                i128::from(m.exists),
                i128::from(m.annot_bytes),
            );
            self.charge(txn, m.quota_root.as_deref(), -b, -n, -1, -a)?;
            self.charge(txn, root, b, n, 1, a)?;
            m.quota_root = root.map(str::to_owned);
            self.put_meta(txn, id, &m)
        })
    }

    /// Whether adding `add_bytes` and `add_messages` to `root` would go over a limit, and
    /// which. `None` when within limits or when there is no such root. Callers check before
    /// APPEND, COPY and delivery (Cyrus's `quota_check`); the store does not refuse.
    pub fn would_exceed(
        &self,
        root: &str,
        add_bytes: u64,
        add_messages: u64,
    ) -> Result<Option<QuotaResource>, StoreError> {
        Ok(self
            .quota(root)?
            .and_then(|q| q.would_exceed(add_bytes, add_messages)))
    }

    /// [`Store::would_exceed`] for the root the mailbox is charged to.
    pub fn would_exceed_mailbox(
        &self,
        id: &MailboxId,
        add_bytes: u64,
        add_messages: u64,
    ) -> Result<Option<QuotaResource>, StoreError> {
        let txn = self.read()?;
        let m = self.meta(&txn, id)?;
        match m.quota_root {
            Some(r) => Ok(self
                .quota_in(&txn, &r)?
                .and_then(|q| q.would_exceed(add_bytes, add_messages))),
            None => Ok(None),
        }
    }

    pub(crate) fn put_quota_limits_keep_usage(
        &self,
        txn: &mut RwTxn<'_>,
        root: &str,
        limits: QuotaLimits,
    ) -> Result<(), StoreError> {
        let q = Quota {
            root: root.to_owned(),
            limits,
            usage: self.usage_of(txn, root)?,
        };
        self.put_quota(txn, &q)
    }
}
