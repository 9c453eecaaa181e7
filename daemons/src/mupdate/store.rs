//! The MUPDATE database: the state rules of the master (reference §1.5.6–1.5.9, §2.2), a
//! single writer that commits concurrent requests together, and the fan-out of changed names to
//! every streaming (UPDATE) connection.
//!
//! Every write goes through [`Writer`]: it takes whatever requests are queued, applies them in
//! order in one LMDB transaction, commits once (one fsync for the whole group), then answers
//! each request and queues each changed name for the streams. Nothing is acknowledged before it
//! is durable, and under load the fsync cost is shared by the whole group.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::mboxdb::{DbError, MailboxDb, MailboxEntry, MbFlags, MbState, WriteBatch};

/// `mupdate_config` (reference §2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MupdateConfig {
    /// RESERVE refuses a name held elsewhere; DELETE/DEACTIVATE check existence.
    #[default]
    Standard,
    /// Backends share a spool: RESERVE always succeeds, DELETE of an unknown name is OK.
    Replicated,
}

/// A change request to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Reserve `name` at `location`.
    Reserve {
        /// Internal name.
        name: String,
        /// `server!partition`.
        location: String,
    },
    /// Make `name` active at `location` with `acl`.
    Activate {
        /// Internal name.
        name: String,
        /// `server!partition`.
        location: String,
        /// TAB-form ACL.
        acl: String,
    },
    /// Turn an active `name` back into a reservation at `location`.
    Deactivate {
        /// Internal name.
        name: String,
        /// `server!partition`.
        location: String,
    },
    /// Remove `name`.
    Delete {
        /// Internal name.
        name: String,
    },
}

impl Op {
    /// The mailbox the operation is about.
    pub fn name(&self) -> &str {
        match self {
            Op::Reserve { name, .. }
            | Op::Activate { name, .. }
            | Op::Deactivate { name, .. }
            | Op::Delete { name } => name,
        }
    }
}

/// Why the master said NO. The texts are Cyrus's (reference §9.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// RESERVE of a name held at another location.
    #[error("mailbox already exists")]
    AlreadyExists,
    /// DEACTIVATE of a reserved name.
    #[error("mailbox not currently active")]
    NotActive,
    /// DELETE or DEACTIVATE of an unknown name (Cyrus crashes here; we answer).
    #[error("mailbox doesn't exist")]
    DoesNotExist,
    /// The database failed; nothing was changed.
    #[error("database error: {0}")]
    Database(String),
}

/// Splits a MUPDATE location at the first `!` into server and partition (a location without
/// `!` is all server, as Cyrus stores it).
pub fn split_location(location: &str) -> (String, String) {
    match location.split_once('!') {
        Some((s, p)) => (s.to_owned(), p.to_owned()),
        None => (location.to_owned(), String::new()),
    }
}

/// The entry a master (or slave) stores for an MUPDATE record.
pub fn remote_entry(name: &str, location: &str, acl: &str, reserved: bool) -> MailboxEntry {
    let mut flags = MbFlags::REMOTE;
    flags.set(MbFlags::RESERVED, reserved);
    let mut e = MailboxEntry {
        name: name.to_owned(),
        acl: acl.to_owned(),
        flags,
        mtime: now(),
        ..Default::default()
    };
    e.set_location(location);
    e
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The change one successful operation made, for stream filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The mailbox.
    pub name: String,
    /// Its server before the change, if it existed.
    pub old_server: Option<String>,
    /// Its server after, if it still exists.
    pub new_server: Option<String>,
}

/// Applies one operation inside a transaction, with the master's rules.
pub fn apply(
    tx: &mut WriteBatch<'_, '_>,
    op: &Op,
    config: MupdateConfig,
) -> Result<Change, Refusal> {
    let db_err = |e: DbError| Refusal::Database(e.to_string());
    let name = op.name();
    let old = tx.get(name).map_err(db_err)?;
    let old_server = old.as_ref().and_then(|e| e.server.clone());
    let new = match op {
        Op::Reserve { location, .. } => {
            if let (Some(e), MupdateConfig::Standard) = (&old, config) {
                if e.location() != *location {
                    return Err(Refusal::AlreadyExists);
                }
            }
            Some(remote_entry(name, location, "", true))
        }
        Op::Activate { location, acl, .. } => Some(remote_entry(name, location, acl, false)),
        Op::Deactivate { location, .. } => match &old {
            None => return Err(Refusal::DoesNotExist),
            Some(e) if e.state() != MbState::Remote && e.state() != MbState::Local => {
                return Err(Refusal::NotActive)
            }
            Some(_) => Some(remote_entry(name, location, "", true)),
        },
        Op::Delete { .. } => {
            if old.is_none() && config == MupdateConfig::Standard {
                return Err(Refusal::DoesNotExist);
            }
            None
        }
    };
    let new_server = new.as_ref().and_then(|e| e.server.clone());
    match &new {
        Some(e) => tx.put(e),
        None => {
            tx.delete(name);
        }
    }
    Ok(Change {
        name: name.to_owned(),
        old_server,
        new_server,
    })
}

/// The streaming connections' queues. Each subscriber gets every changed name it cares about,
/// in commit order; it looks the name up when it writes (so it sends the state at send time,
/// as Cyrus does).
#[derive(Default)]
pub struct Streams {
    subs: Mutex<Vec<Subscriber>>,
}

struct Subscriber {
    /// PARTIAL-UPDATE hosts; `None` for a full UPDATE.
    hosts: Option<HashSet<String>>,
    tx: mpsc::UnboundedSender<String>,
}

impl Streams {
    /// Registers a streaming connection. Dropping the receiver unsubscribes it.
    pub fn subscribe(&self, hosts: Option<Vec<String>>) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        subs.push(Subscriber {
            hosts: hosts.map(|h| h.into_iter().collect()),
            tx,
        });
        rx
    }

    /// Queues committed changes for every interested subscriber.
    pub fn publish(&self, changes: &[Change]) {
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| {
            for c in changes {
                let wanted = match &s.hosts {
                    None => true,
                    Some(h) => {
                        c.old_server.as_ref().is_some_and(|o| h.contains(o))
                            || c.new_server.as_ref().is_some_and(|n| h.contains(n))
                    }
                };
                if wanted && s.tx.send(c.name.clone()).is_err() {
                    return false;
                }
            }
            true
        });
    }

    /// How many connections are streaming.
    pub fn count(&self) -> usize {
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| !s.tx.is_closed());
        subs.len()
    }
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<(), Refusal>>,
}

/// The handle every connection uses to change the database.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Request>,
}

/// The most requests committed in one transaction.
const MAX_GROUP: usize = 4096;

impl Writer {
    /// Starts the writer task over `db`; changes are published to `streams`.
    pub fn spawn(db: MailboxDb, streams: Arc<Streams>, config: MupdateConfig) -> Writer {
        let (tx, mut rx) = mpsc::channel::<Request>(MAX_GROUP);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(r) => group.push(r),
                        Err(_) => break,
                    }
                }
                let ops: Vec<Op> = group.iter().map(|r| r.op.clone()).collect();
                let db = db.clone();
                // LMDB's commit blocks on fsync: keep it off the async workers.
                let outcome = tokio::task::spawn_blocking(move || {
                    db.write(|tx| Ok(ops.iter().map(|op| apply(tx, op, config)).collect()))
                })
                .await;
                let results: Vec<Result<Change, Refusal>> = match outcome {
                    Ok(Ok(results)) => results,
                    Ok(Err(e)) => vec![Err(Refusal::Database(e.to_string())); group.len()],
                    Err(e) => vec![Err(Refusal::Database(e.to_string())); group.len()],
                };
                let changes: Vec<Change> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .cloned()
                    .collect();
                streams.publish(&changes);
                for (req, res) in group.into_iter().zip(results) {
                    let _ = req.reply.send(res.map(|_| ()));
                }
            }
        });
        Writer { tx }
    }

    /// Applies `op` durably; returns once it is committed (or refused).
    pub async fn submit(&self, op: Op) -> Result<(), Refusal> {
        self.enqueue(op).await.wait().await
    }

    /// Queues `op` without waiting for its commit, so that several writes pipelined on one
    /// connection share a transaction. Wait for the outcome with [`Pending::wait`], in order.
    pub async fn enqueue(&self, op: Op) -> Pending {
        let (reply, rx) = oneshot::channel();
        match self.tx.send(Request { op, reply }).await {
            Ok(()) => Pending(Some(rx)),
            Err(_) => Pending(None),
        }
    }
}

/// A queued write's outcome.
pub struct Pending(Option<oneshot::Receiver<Result<(), Refusal>>>);

impl Pending {
    /// Waits until the write is committed (or refused).
    pub async fn wait(self) -> Result<(), Refusal> {
        match self.0 {
            Some(rx) => rx
                .await
                .map_err(|_| Refusal::Database("writer stopped".into()))?,
            None => Err(Refusal::Database("writer stopped".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, MailboxDb) {
        let d = tempfile::tempdir().unwrap();
        let db = MailboxDb::open(&d.path().join("mailboxes.db")).unwrap();
        (d, db)
    }

    fn run(db: &MailboxDb, op: Op) -> Result<Change, Refusal> {
        db.write(|tx| Ok(apply(tx, &op, MupdateConfig::Standard)))
            .unwrap()
    }

    fn reserve(n: &str, l: &str) -> Op {
        Op::Reserve {
            name: n.into(),
            location: l.into(),
        }
    }
    fn activate(n: &str, l: &str) -> Op {
        Op::Activate {
            name: n.into(),
            location: l.into(),
            acl: "bob\tlrswipkxtecdan\t".into(),
        }
    }

    #[test]
    fn a_location_comes_back_exactly_as_given() {
        let (_d, db) = db();
        for loc in ["be1!default", "be1!", "be1"] {
            run(&db, activate("user.x", loc)).unwrap();
            assert_eq!(db.get("user.x").unwrap().unwrap().location(), loc);
        }
        // Cyrus treats `be1!` and `be1` as different locations for RESERVE.
        assert_eq!(
            run(&db, reserve("user.x", "be1!")),
            Err(Refusal::AlreadyExists)
        );
    }

    #[test]
    fn state_table_of_reference_2_2() {
        let (_d, db) = db();
        // RESERVE absent -> RESERVED
        run(&db, reserve("user.bob", "be1!default")).unwrap();
        assert_eq!(
            db.get("user.bob").unwrap().unwrap().state(),
            MbState::Reserved
        );
        // RESERVE elsewhere -> NO
        assert_eq!(
            run(&db, reserve("user.bob", "be2!default")),
            Err(Refusal::AlreadyExists)
        );
        // DEACTIVATE reserved -> NO not active
        assert_eq!(
            run(
                &db,
                Op::Deactivate {
                    name: "user.bob".into(),
                    location: "be1!default".into()
                }
            ),
            Err(Refusal::NotActive)
        );
        // ACTIVATE -> ACTIVE with ACL
        run(&db, activate("user.bob", "be1!default")).unwrap();
        let e = db.get("user.bob").unwrap().unwrap();
        assert_eq!(
            (e.state(), e.acl.as_str()),
            (MbState::Remote, "bob\tlrswipkxtecdan\t")
        );
        // RESERVE same location on ACTIVE -> RESERVED, ACL cleared
        run(&db, reserve("user.bob", "be1!default")).unwrap();
        let e = db.get("user.bob").unwrap().unwrap();
        assert_eq!((e.state(), e.acl.as_str()), (MbState::Reserved, ""));
        // ACTIVATE elsewhere -> moves
        run(&db, activate("user.bob", "be2!p2")).unwrap();
        assert_eq!(db.get("user.bob").unwrap().unwrap().location(), "be2!p2");
        // DEACTIVATE active -> RESERVED at the given location
        let c = run(
            &db,
            Op::Deactivate {
                name: "user.bob".into(),
                location: "be1!default".into(),
            },
        )
        .unwrap();
        assert_eq!(c.old_server.as_deref(), Some("be2"));
        assert_eq!(
            db.get("user.bob").unwrap().unwrap().location(),
            "be1!default"
        );
        // DELETE present -> gone; absent -> NO
        run(
            &db,
            Op::Delete {
                name: "user.bob".into(),
            },
        )
        .unwrap();
        assert!(db.get("user.bob").unwrap().is_none());
        assert_eq!(
            run(
                &db,
                Op::Delete {
                    name: "user.bob".into()
                }
            ),
            Err(Refusal::DoesNotExist)
        );
        assert_eq!(
            run(
                &db,
                Op::Deactivate {
                    name: "user.bob".into(),
                    location: "x".into()
                }
            ),
            Err(Refusal::DoesNotExist)
        );
    }

    #[tokio::test]
    async fn concurrent_writes_are_grouped_and_streamed_in_order() {
        let (_d, db) = db();
        let streams = Arc::new(Streams::default());
        let mut all = streams.subscribe(None);
        let mut be2 = streams.subscribe(Some(vec!["be2".into()]));
        let w = Writer::spawn(db.clone(), streams.clone(), MupdateConfig::Standard);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                let n = format!("user.u{i}");
                let loc = if i % 2 == 0 {
                    "be1!default"
                } else {
                    "be2!default"
                };
                w.submit(reserve(&n, loc)).await?;
                w.submit(activate(&n, loc)).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(db.len().unwrap(), 200);
        let mut n_all = 0;
        while all.try_recv().is_ok() {
            n_all += 1;
        }
        let mut n_be2 = 0;
        while be2.try_recv().is_ok() {
            n_be2 += 1;
        }
        assert_eq!((n_all, n_be2), (400, 200));
        assert_eq!(
            w.submit(reserve("user.u1", "be1!default")).await,
            Err(Refusal::AlreadyExists)
        );
    }
}
