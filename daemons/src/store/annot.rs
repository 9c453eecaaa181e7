//! Annotations and metadata (RFC 5464): per mailbox or server-wide, shared or private.
//!
//! Key: `scope NUL entry NUL user`, where scope is the mailbox id or empty for the server, and
//! user is empty for `/shared/` entries. So one mailbox's entries, and entries under a prefix,
//! are contiguous.

use heed::RwTxn;

use super::types::Annotation;
use super::{MailboxId, Store, StoreError};

fn annot_key(scope: Option<&MailboxId>, entry: &str, user: Option<&str>) -> Vec<u8> {
    let scope = scope.map(MailboxId::as_str).unwrap_or("");
    let mut k = super::key2(scope, entry);
    k.push(0);
    k.extend_from_slice(user.unwrap_or("").as_bytes());
    k
}

impl Store {
    /// Checks an entry against RFC 5464's shape and its owner: `/shared/...` has no user,
    /// `/private/...` needs one.
    pub(crate) fn check_entry(&self, entry: &str, user: Option<&str>) -> Result<(), StoreError> {
        let bad = || StoreError::BadName {
            what: "annotation entry",
            value: entry.to_owned(),
        };
        let rest = match (
            entry.strip_prefix("/shared/"),
            entry.strip_prefix("/private/"),
        ) {
            (Some(r), None) if user.is_none() => r,
            (None, Some(r)) if user.is_some() => r,
            _ => return Err(bad()),
        };
        if rest.is_empty()
            || entry.len() > self.options.max_entry_len
            || entry
                .bytes()
                .any(|b| b < b' ' || b == 0x7f || b == b'*' || b == b'%')
            || entry.contains("//")
            || entry.ends_with('/')
        {
            return Err(bad());
        }
        if let Some(u) = user {
            self.check_name("user", u)?;
        }
        Ok(())
    }

    /// Sets (`Some`) or removes (`None`) one value. `mailbox` `None` is the server (`""`).
    /// Mailbox values are charged to the mailbox's quota root (ANNOTATION-STORAGE).
    pub fn set_annotation(
        &self,
        mailbox: Option<&MailboxId>,
        entry: &str,
        user: Option<&str>,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        self.check_entry(entry, user)?;
        if let Some(v) = value {
            if v.len() > self.options.max_annotation_size {
                return Err(StoreError::TooLarge {
                    what: "annotation value",
                    size: v.len() as u64,
                    limit: self.options.max_annotation_size as u64,
                });
            }
        }
        self.write(|txn| self.set_annotation_in(txn, mailbox, entry, user, value))
    }

    pub(crate) fn set_annotation_in(
        &self,
        txn: &mut RwTxn<'_>,
        mailbox: Option<&MailboxId>,
        entry: &str,
        user: Option<&str>,
        value: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let mut meta = match mailbox {
            Some(id) => Some(self.meta_for_write(txn, id)?),
            None => None,
        };
        let key = annot_key(mailbox, entry, user);
        let db = self.dbs().annot;
        let old = db
            .get(txn, &key)
            .map_err(|e| self.lmdb(e))?
            .map(|v| v.len() as u64)
            .unwrap_or(0);
        match value {
            Some(v) => db.put(txn, &key, v).map_err(|e| self.lmdb(e))?,
            None => {
                db.delete(txn, &key).map_err(|e| self.lmdb(e))?;
            }
        }
        let new = value.map(|v| v.len() as u64).unwrap_or(0);
        if let (Some(id), Some(m)) = (mailbox, meta.as_mut()) {
            if new != old {
                m.annot_bytes = m.annot_bytes.saturating_sub(old).saturating_add(new);
                let delta = i128::from(new) - i128::from(old);
                self.charge(txn, m.quota_root.as_deref(), 0, 0, 0, delta)?;
                self.put_meta(txn, id, m)?;
            }
        }
        Ok(())
    }

    /// One value.
    pub fn annotation(
        &self,
        mailbox: Option<&MailboxId>,
        entry: &str,
        user: Option<&str>,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_entry(entry, user)?;
        let txn = self.read()?;
        Ok(self
            .dbs()
            .annot
            .get(&txn, &annot_key(mailbox, entry, user))
            .map_err(|e| self.lmdb(e))?
            .map(<[u8]>::to_vec))
    }

    /// Every value of a scope whose entry starts with `entry_prefix` (`""` for all), sorted by
    /// entry then user, shared before private. Private values of every user are included;
    /// callers show a user only their own.
    pub fn annotations(
        &self,
        mailbox: Option<&MailboxId>,
        entry_prefix: &str,
    ) -> Result<Vec<Annotation>, StoreError> {
        let txn = self.read()?;
        self.annotations_in(&txn, mailbox, entry_prefix)
    }

    pub(crate) fn annotations_in(
        &self,
        txn: &heed::RoTxn<'_>,
        mailbox: Option<&MailboxId>,
        entry_prefix: &str,
    ) -> Result<Vec<Annotation>, StoreError> {
        let scope = mailbox.map(MailboxId::as_str).unwrap_or("");
        let p = super::key2(scope, entry_prefix);
        let mut out = Vec::new();
        for item in self
            .dbs()
            .annot
            .prefix_iter(txn, &p)
            .map_err(|e| self.lmdb(e))?
        {
            let (k, v) = item.map_err(|e| self.lmdb(e))?;
            let rest = k.get(scope.len() + 1..).unwrap_or_default();
            let mut parts = rest.splitn(2, |&b| b == 0);
            let entry = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
            let user = parts.next().unwrap_or_default();
            out.push(Annotation {
                entry,
                user: (!user.is_empty()).then(|| String::from_utf8_lossy(user).into_owned()),
                value: v.to_vec(),
            });
        }
        Ok(out)
    }
}
