//! Per-user state: seen sets, `\Recent`, subscriptions and sieve scripts.

use heed::RwTxn;
use protocol::mailbox::InternalName;

use super::types::{SeenState, UidSet};
use super::{key2, prefix, MailboxId, Store, StoreError, SystemFlags};

impl Store {
    fn seen_in(
        &self,
        txn: &heed::RoTxn<'_>,
        user: &str,
        id: &MailboxId,
    ) -> Result<SeenState, StoreError> {
        match self
            .dbs()
            .seen
            .get(txn, &key2(user, id.as_str()))
            .map_err(|e| self.lmdb(e))?
        {
            Some(b) => SeenState::decode(b).ok_or_else(|| StoreError::Corrupt {
                what: format!("seen state of {user:?} in {id}"),
            }),
            None => Ok(SeenState::default()),
        }
    }

    pub(crate) fn put_seen(
        &self,
        txn: &mut RwTxn<'_>,
        user: &str,
        id: &MailboxId,
        s: &SeenState,
    ) -> Result<(), StoreError> {
        let d = self.dbs();
        d.seen
            .put(txn, &key2(user, id.as_str()), &s.encode())
            .map_err(|e| self.lmdb(e))?;
        d.seen_by_mailbox
            .put(txn, &key2(id.as_str(), user), b"")
            .map_err(|e| self.lmdb(e))
    }

    fn update_seen(
        &self,
        user: &str,
        id: &MailboxId,
        f: impl FnOnce(&mut SeenState, u32),
    ) -> Result<SeenState, StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| {
            let meta = self.meta_for_write(txn, id)?;
            let mut s = self.seen_in(txn, user, id)?;
            f(&mut s, meta.uidnext);
            self.put_seen(txn, user, id, &s)?;
            Ok(s)
        })
    }

    /// A user's seen state in a mailbox (empty if never set). For non-owners; the owner's
    /// `\Seen` is in the index (see the module doc).
    pub fn seen(&self, user: &str, id: &MailboxId) -> Result<SeenState, StoreError> {
        let txn = self.read()?;
        self.meta(&txn, id)?;
        self.seen_in(&txn, user, id)
    }

    /// Marks UIDs seen for a user.
    pub fn seen_add(
        &self,
        user: &str,
        id: &MailboxId,
        uids: &[u32],
    ) -> Result<SeenState, StoreError> {
        self.update_seen(user, id, |s, _| {
            for &u in uids {
                s.seen.insert(u);
            }
        })
    }

    /// Marks UIDs unseen for a user.
    pub fn seen_remove(
        &self,
        user: &str,
        id: &MailboxId,
        uids: &[u32],
    ) -> Result<SeenState, StoreError> {
        self.update_seen(user, id, |s, _| {
            for &u in uids {
                s.seen.remove(u);
            }
        })
    }

    /// Replaces a user's seen set.
    pub fn set_seen(
        &self,
        user: &str,
        id: &MailboxId,
        seen: UidSet,
    ) -> Result<SeenState, StoreError> {
        self.update_seen(user, id, |s, _| s.seen = seen)
    }

    /// The UIDs that are `\Recent` for this user's new session: those above the highest UID
    /// already reported to them. Claims them, so the next session (in any process) does not
    /// see them as recent, as Cyrus does for the first session that selects a mailbox.
    pub fn take_recent(&self, user: &str, id: &MailboxId) -> Result<Vec<u32>, StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| {
            let meta = self.meta(txn, id)?;
            let mut s = self.seen_in(txn, user, id)?;
            let recent: Vec<u32> = self
                .records_in(txn, id)?
                .into_iter()
                .map(|r| r.uid)
                .filter(|&u| u > s.recent_uid)
                .collect();
            let top = meta.uidnext.saturating_sub(1);
            if top != s.recent_uid {
                s.recent_uid = top;
                self.put_seen(txn, user, id, &s)?;
            }
            Ok(recent)
        })
    }

    /// Messages not seen: by `\Seen` in the index when `user` is `None` (the owner), by the
    /// user's seen set otherwise.
    pub fn unseen_count(&self, id: &MailboxId, user: Option<&str>) -> Result<u32, StoreError> {
        let txn = self.read()?;
        let meta = self.meta(&txn, id)?;
        match user {
            None => Ok(meta.unseen),
            Some(u) => {
                let s = self.seen_in(&txn, u, id)?;
                let n = self
                    .records_in(&txn, id)?
                    .iter()
                    .filter(|r| !s.seen.contains(r.uid))
                    .count();
                Ok(u32::try_from(n).unwrap_or(u32::MAX))
            }
        }
    }

    /// The lowest unseen UID (for `OK [UNSEEN n]`), by the same rule as
    /// [`Store::unseen_count`].
    pub fn first_unseen(
        &self,
        id: &MailboxId,
        user: Option<&str>,
    ) -> Result<Option<u32>, StoreError> {
        let txn = self.read()?;
        self.meta(&txn, id)?;
        let seen = match user {
            Some(u) => Some(self.seen_in(&txn, u, id)?),
            None => None,
        };
        Ok(self
            .records_in(&txn, id)?
            .into_iter()
            .find(|r| match &seen {
                Some(s) => !s.seen.contains(r.uid),
                None => !r.flags.contains(SystemFlags::SEEN),
            })
            .map(|r| r.uid))
    }

    /// Every (mailbox, seen state) of a user.
    pub fn seen_all(&self, user: &str) -> Result<Vec<(MailboxId, SeenState)>, StoreError> {
        self.check_name("user", user)?;
        let txn = self.read()?;
        let p = prefix(user);
        let mut out = Vec::new();
        for item in self
            .dbs()
            .seen
            .prefix_iter(&txn, &p)
            .map_err(|e| self.lmdb(e))?
        {
            let (k, v) = item.map_err(|e| self.lmdb(e))?;
            let Some(id) = std::str::from_utf8(k.get(p.len()..).unwrap_or_default())
                .ok()
                .and_then(|s| MailboxId::new(s).ok())
            else {
                continue;
            };
            let s = SeenState::decode(v).ok_or_else(|| StoreError::Corrupt {
                what: format!("seen state of {user:?} in {id}"),
            })?;
            out.push((id, s));
        }
        Ok(out)
    }

    // ----- subscriptions -----

    /// Subscribes a user to a mailbox (by internal name; the mailbox need not exist).
    pub fn subscribe(&self, user: &str, name: &InternalName) -> Result<(), StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| {
            self.dbs()
                .subs
                .put(txn, &key2(user, name.as_str()), b"")
                .map_err(|e| self.lmdb(e))
        })
    }

    /// Unsubscribes; whether the subscription existed.
    pub fn unsubscribe(&self, user: &str, name: &InternalName) -> Result<bool, StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| {
            self.dbs()
                .subs
                .delete(txn, &key2(user, name.as_str()))
                .map_err(|e| self.lmdb(e))
        })
    }

    /// A user's subscriptions, sorted.
    pub fn subscriptions(&self, user: &str) -> Result<Vec<InternalName>, StoreError> {
        self.check_name("user", user)?;
        let txn = self.read()?;
        self.subscriptions_in(&txn, user)
    }

    pub(crate) fn subscriptions_in(
        &self,
        txn: &heed::RoTxn<'_>,
        user: &str,
    ) -> Result<Vec<InternalName>, StoreError> {
        let p = prefix(user);
        let mut out = Vec::new();
        for k in self.keys_with_prefix(txn, self.dbs().subs, &p)? {
            let name = String::from_utf8_lossy(k.get(p.len()..).unwrap_or_default()).into_owned();
            if let Ok(n) = InternalName::new(&name) {
                out.push(n);
            }
        }
        Ok(out)
    }

    /// After a RENAME: a user's subscriptions to `old` and to mailboxes below it (`old.x`)
    /// now name `new` and `new.x`. Returns how many were renamed.
    pub fn rename_subscriptions(
        &self,
        user: &str,
        old: &InternalName,
        new: &InternalName,
    ) -> Result<usize, StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| {
            let db = self.dbs().subs;
            let below = format!("{}.", old.as_str());
            let mut n = 0;
            for name in self.subscriptions_in(txn, user)? {
                let s = name.as_str();
                let renamed = if s == old.as_str() {
                    new.as_str().to_owned()
                } else if let Some(rest) = s.strip_prefix(&below) {
                    format!("{}.{rest}", new.as_str())
                } else {
                    continue;
                };
                db.delete(txn, &key2(user, s)).map_err(|e| self.lmdb(e))?;
                db.put(txn, &key2(user, &renamed), b"")
                    .map_err(|e| self.lmdb(e))?;
                n += 1;
            }
            Ok(n)
        })
    }

    // ----- sieve -----

    pub(crate) fn check_script(&self, name: &str) -> Result<(), StoreError> {
        self.check_name("sieve script name", name)?;
        if name.chars().any(char::is_control) || name.len() > 512 {
            return Err(StoreError::BadName {
                what: "sieve script name",
                value: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Stores (or replaces) a script (PUTSCRIPT). Syntax checking is the caller's.
    pub fn put_sieve(&self, user: &str, name: &str, script: &[u8]) -> Result<(), StoreError> {
        self.check_name("user", user)?;
        self.check_script(name)?;
        if script.len() > self.options.max_script_size {
            return Err(StoreError::TooLarge {
                what: "sieve script",
                size: script.len() as u64,
                limit: self.options.max_script_size as u64,
            });
        }
        self.write(|txn| {
            self.dbs()
                .sieve
                .put(txn, &key2(user, name), script)
                .map_err(|e| self.lmdb(e))
        })
    }

    /// A script (GETSCRIPT).
    pub fn sieve_script(&self, user: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_name("user", user)?;
        let txn = self.read()?;
        Ok(self
            .dbs()
            .sieve
            .get(&txn, &key2(user, name))
            .map_err(|e| self.lmdb(e))?
            .map(<[u8]>::to_vec))
    }

    /// A user's scripts by name, each with whether it is active (LISTSCRIPTS).
    pub fn sieve_scripts(&self, user: &str) -> Result<Vec<(String, bool)>, StoreError> {
        self.check_name("user", user)?;
        let txn = self.read()?;
        let active = self.active_in(&txn, user)?;
        let p = prefix(user);
        Ok(self
            .keys_with_prefix(&txn, self.dbs().sieve, &p)?
            .into_iter()
            .map(|k| String::from_utf8_lossy(k.get(p.len()..).unwrap_or_default()).into_owned())
            .map(|n| {
                let a = active.as_deref() == Some(n.as_str());
                (n, a)
            })
            .collect())
    }

    fn active_in(&self, txn: &heed::RoTxn<'_>, user: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .dbs()
            .sieve_active
            .get(txn, user.as_bytes())
            .map_err(|e| self.lmdb(e))?
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// The active script's name.
    pub fn active_sieve(&self, user: &str) -> Result<Option<String>, StoreError> {
        self.check_name("user", user)?;
        let txn = self.read()?;
        self.active_in(&txn, user)
    }

    /// The active script's text (what lmtpd runs).
    pub fn active_sieve_script(&self, user: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        self.check_name("user", user)?;
        let txn = self.read()?;
        let Some(name) = self.active_in(&txn, user)? else {
            return Ok(None);
        };
        Ok(self
            .dbs()
            .sieve
            .get(&txn, &key2(user, &name))
            .map_err(|e| self.lmdb(e))?
            .map(|b| (name, b.to_vec())))
    }

    /// Makes a script active (`Some`) or deactivates all (`None`) (SETACTIVE).
    pub fn set_active_sieve(&self, user: &str, name: Option<&str>) -> Result<(), StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| {
            let d = self.dbs();
            match name {
                Some(n) => {
                    if d.sieve
                        .get(txn, &key2(user, n))
                        .map_err(|e| self.lmdb(e))?
                        .is_none()
                    {
                        return Err(StoreError::NoSuchScript(n.to_owned()));
                    }
                    d.sieve_active
                        .put(txn, user.as_bytes(), n.as_bytes())
                        .map_err(|e| self.lmdb(e))
                }
                None => d
                    .sieve_active
                    .delete(txn, user.as_bytes())
                    .map(|_| ())
                    .map_err(|e| self.lmdb(e)),
            }
        })
    }

    /// Deletes a script (DELETESCRIPT); the active one is refused, as ManageSieve requires.
    pub fn delete_sieve(&self, user: &str, name: &str) -> Result<(), StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| {
            if self.active_in(txn, user)?.as_deref() == Some(name) {
                return Err(StoreError::SieveActive(name.to_owned()));
            }
            if !self
                .dbs()
                .sieve
                .delete(txn, &key2(user, name))
                .map_err(|e| self.lmdb(e))?
            {
                return Err(StoreError::NoSuchScript(name.to_owned()));
            }
            Ok(())
        })
    }

    /// Renames a script (RENAMESCRIPT); an active script stays active under its new name.
    pub fn rename_sieve(&self, user: &str, old: &str, new: &str) -> Result<(), StoreError> {
        self.check_name("user", user)?;
        self.check_script(new)?;
        self.write(|txn| {
            let d = self.dbs();
            let Some(body) = d
                .sieve
                .get(txn, &key2(user, old))
                .map_err(|e| self.lmdb(e))?
                .map(<[u8]>::to_vec)
            else {
                return Err(StoreError::NoSuchScript(old.to_owned()));
            };
            if d.sieve
                .get(txn, &key2(user, new))
                .map_err(|e| self.lmdb(e))?
                .is_some()
            {
                return Err(StoreError::ScriptExists(new.to_owned()));
            }
            d.sieve
                .delete(txn, &key2(user, old))
                .map_err(|e| self.lmdb(e))?;
            d.sieve
                .put(txn, &key2(user, new), &body)
                .map_err(|e| self.lmdb(e))?;
            if self.active_in(txn, user)?.as_deref() == Some(old) {
                d.sieve_active
                    .put(txn, user.as_bytes(), new.as_bytes())
                    .map_err(|e| self.lmdb(e))?;
            }
            Ok(())
        })
    }

    /// Removes a user's per-user data after their mailboxes moved away or were deleted:
    /// subscriptions, sieve scripts, server private annotations, and (unless `keep_seen`, as
    /// XFER does) seen state. Mailboxes are deleted separately.
    pub fn delete_user_data(&self, user: &str, keep_seen: bool) -> Result<(), StoreError> {
        self.check_name("user", user)?;
        self.write(|txn| self.delete_user_data_in(txn, user, keep_seen))
    }

    pub(crate) fn delete_user_data_in(
        &self,
        txn: &mut RwTxn<'_>,
        user: &str,
        keep_seen: bool,
    ) -> Result<(), StoreError> {
        let d = self.dbs();
        let p = prefix(user);
        self.delete_prefix(txn, d.subs, &p)?;
        self.delete_prefix(txn, d.sieve, &p)?;
        d.sieve_active
            .delete(txn, user.as_bytes())
            .map_err(|e| self.lmdb(e))?;
        for a in self.server_private_in(txn, user)? {
            self.set_annotation_in(txn, None, &a, Some(user), None)?;
        }
        if !keep_seen {
            for k in self.keys_with_prefix(txn, d.seen, &p)? {
                let id = String::from_utf8_lossy(k.get(p.len()..).unwrap_or_default()).into_owned();
                d.seen.delete(txn, &k).map_err(|e| self.lmdb(e))?;
                d.seen_by_mailbox
                    .delete(txn, &key2(&id, user))
                    .map_err(|e| self.lmdb(e))?;
            }
        }
        Ok(())
    }

    /// Entries of a user's server-wide private annotations.
    pub(crate) fn server_private_in(
        &self,
        txn: &heed::RoTxn<'_>,
        user: &str,
    ) -> Result<Vec<String>, StoreError> {
        let p = key2("", "/private/");
        let mut out = Vec::new();
        for k in self.keys_with_prefix(txn, self.dbs().annot, &p)? {
            let rest = k.get(1..).unwrap_or_default();
            let mut parts = rest.splitn(2, |&b| b == 0);
            let entry = parts.next().unwrap_or_default();
            if parts.next() == Some(user.as_bytes()) {
                out.push(String::from_utf8_lossy(entry).into_owned());
            }
        }
        Ok(out)
    }
}
