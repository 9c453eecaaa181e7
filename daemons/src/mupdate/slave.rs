//! The slave: follows the master with UPDATE and mirrors it into the local mailboxes.db
//! (reference §2.9), and serves the kick socket that frontend daemons use to wait until a
//! change they just made has arrived (§1.10).
//!
//! Each (re)connection resyncs fully: the whole list is collected first, and only a complete,
//! OK-terminated list is applied, in one transaction, reconciled by key. Local readers see the
//! old database or the new one, never a mix, and a refused UPDATE never empties anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use protocol::mupdate::{MailboxRecord, MailboxState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::client::{connect_authenticated, ClientError, Credentials, MupdateClient, StreamEvent};
use super::store::{Change, Streams};
use crate::mboxdb::{MailboxDb, MailboxEntry};

/// Where the slave listens for kicks, under `configdirectory` (fixed, as in Cyrus).
pub const KICK_SOCKET: &str = "socket/mupdate.target";

/// Meta keys the slave records in mailboxes.db, for status tools.
pub mod meta {
    /// UNIX time of the last completed full resync.
    pub const LAST_SYNC: &str = "slave.last_sync";
    /// How many entries that resync held.
    pub const LAST_SYNC_COUNT: &str = "slave.last_sync_count";
    /// Milliseconds the last resync took.
    pub const LAST_SYNC_MS: &str = "slave.last_sync_ms";
    /// The master followed.
    pub const UPSTREAM: &str = "slave.upstream";
    /// `connected` or `disconnected: <why>`.
    pub const STATE: &str = "slave.state";
    /// UNIX time of the last change received from the master.
    pub const LAST_CHANGE: &str = "slave.last_change";
}

/// How to reach the master.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The configured `mupdate_server` value (shown in our banner).
    pub display: String,
    /// Credentials.
    pub creds: Credentials,
    /// TLS for STARTTLS, when configured.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `mupdate_retry_delay` (≥ 2 s): reconnect delay base and keep-alive interval.
    pub retry_delay: Duration,
    /// Per-read timeout (`client_timeout`).
    pub timeout: Duration,
}

/// What the slave task shares with the server half.
pub struct SlaveHandle {
    /// Becomes true after the first complete sync.
    pub synced: watch::Receiver<bool>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The local entry a master record becomes.
pub fn entry_from_record(r: &MailboxRecord) -> MailboxEntry {
    match &r.state {
        MailboxState::Active { location, acl } => {
            super::store::remote_entry(&r.name, location, acl, false)
        }
        MailboxState::Reserved { location } => {
            super::store::remote_entry(&r.name, location, "", true)
        }
    }
}

fn same(a: &MailboxEntry, b: &MailboxEntry) -> bool {
    a.flags == b.flags && a.server == b.server && a.partition == b.partition && a.acl == b.acl
}

/// Replaces the local database's contents with `remote`, in one transaction, touching only
/// entries that differ. Returns the changes for the slave's own streaming clients.
///
/// Entries are written in `remote`'s order, which is the master's key order, so LMDB appends
/// instead of splitting pages all over the tree; and only names the database already holds
/// are looked up (a fresh slave looks up none). Both matter at a million mailboxes.
pub fn reconcile(db: &MailboxDb, remote: Vec<MailboxRecord>) -> Result<Vec<Change>, String> {
    let wanted: HashSet<&str> = remote.iter().map(|r| r.name.as_str()).collect();
    db.write(|tx| {
        let mut changes = Vec::new();
        let local: HashSet<String> = tx.names()?.into_iter().collect();
        for name in &local {
            if !wanted.contains(name.as_str()) {
                let old = tx.get(name)?;
                tx.delete(name);
                changes.push(Change {
                    name: name.clone(),
                    old_server: old.and_then(|e| e.server),
                    new_server: None,
                });
            }
        }
        for r in &remote {
            let e = entry_from_record(r);
            let old = if local.contains(&r.name) {
                tx.get(&r.name)?
            } else {
                None
            };
            if old.as_ref().is_some_and(|o| same(o, &e)) {
                continue;
            }
            tx.put(&e);
            changes.push(Change {
                name: r.name.clone(),
                old_server: old.and_then(|o| o.server),
                new_server: e.server.clone(),
            });
        }
        Ok(changes)
    })
    .map_err(|e| e.to_string())
}

/// Applies streamed events in one transaction.
fn apply_events(db: &MailboxDb, events: &[StreamEvent]) -> Result<Vec<Change>, String> {
    db.write(|tx| {
        let mut changes = Vec::new();
        for ev in events {
            match ev {
                StreamEvent::Mailbox(r) => {
                    let e = entry_from_record(r);
                    let old = tx.get(&r.name)?;
                    tx.put(&e);
                    changes.push(Change {
                        name: r.name.clone(),
                        old_server: old.and_then(|o| o.server),
                        new_server: e.server.clone(),
                    });
                }
                StreamEvent::Delete(name) => {
                    let old = tx.get(name)?;
                    if tx.delete(name) {
                        changes.push(Change {
                            name: name.clone(),
                            old_server: old.and_then(|o| o.server),
                            new_server: None,
                        });
                    } else {
                        tracing::debug!("DELETE of unknown mailbox {name} from the master");
                    }
                }
                StreamEvent::NoopDone(_) | StreamEvent::Ended(_) => {}
            }
        }
        Ok(changes)
    })
    .map_err(|e| e.to_string())
}

/// Runs the slave until `shutdown`. `resync` is bumped at the start of every resync (the
/// server half then says BYE to idle clients); `synced` turns true after the first sync.
pub async fn run(
    db: MailboxDb,
    streams: Arc<Streams>,
    upstream: Upstream,
    configdir: PathBuf,
    resync: watch::Sender<u64>,
    synced: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    let _ = db.set_meta(meta::UPSTREAM, &upstream.display);
    loop {
        let why = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = session(&db, &streams, &upstream, &configdir, &resync, &synced, &shutdown) => r,
        };
        let _ = std::fs::remove_file(configdir.join(KICK_SOCKET));
        let why = match why {
            Ok(()) => return,
            Err(e) => e,
        };
        let _ = db.set_meta(meta::STATE, &format!("disconnected: {why}"));
        // delay + random(0 .. delay/2), as Cyrus, without its division by zero for small delays.
        let base = upstream.retry_delay.max(Duration::from_secs(1));
        let jitter_ms = rand::random::<u64>() % (base.as_millis() as u64 / 2).max(1);
        let wait = base + Duration::from_millis(jitter_ms);
        tracing::warn!(
            "mupdate slave: {why}; retrying {} in {:.1}s",
            upstream.display,
            wait.as_secs_f64()
        );
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn session(
    db: &MailboxDb,
    streams: &Arc<Streams>,
    up: &Upstream,
    configdir: &Path,
    resync: &watch::Sender<u64>,
    synced: &watch::Sender<bool>,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let mut client =
        connect_authenticated(&up.host, up.port, &up.creds, up.tls.clone(), up.timeout)
            .await
            .map_err(|e| describe(&e, up))?;
    let started = std::time::Instant::now();
    let mut remote = Vec::new();
    client
        .update(&[], |r| remote.push(r))
        .await
        .map_err(|e| describe(&e, up))?;
    resync.send_modify(|n| *n += 1);
    let count = remote.len();
    let db2 = db.clone();
    let changes = tokio::task::spawn_blocking(move || reconcile(&db2, remote))
        .await
        .map_err(|e| e.to_string())??;
    streams.publish(&changes);
    let ms = started.elapsed().as_millis();
    let _ = db.set_meta(meta::LAST_SYNC, &now().to_string());
    let _ = db.set_meta(meta::LAST_SYNC_COUNT, &count.to_string());
    let _ = db.set_meta(meta::LAST_SYNC_MS, &ms.to_string());
    let _ = db.set_meta(meta::STATE, "connected");
    tracing::info!(
        "mupdate slave: synced {count} mailboxes from {} in {ms} ms ({} changed)",
        up.display,
        changes.len()
    );
    synced.send_replace(true);

    let kick_path = configdir.join(KICK_SOCKET);
    if let Some(dir) = kick_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::remove_file(&kick_path);
    let kicks = UnixListener::bind(&kick_path)
        .map_err(|e| format!("cannot listen on {}: {e}", kick_path.display()))?;

    let mut waiting: Vec<(String, Vec<UnixStream>)> = Vec::new();
    let mut keepalive = tokio::time::interval(up.retry_delay);
    keepalive.tick().await;
    let mut unanswered_noop: Option<String> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                client.logout().await;
                return Ok(());
            }
            r = client.read_response_untimed() => {
                let first = MupdateClient::stream_event(r.map_err(|e| describe(&e, up))?)
                    .map_err(|e| describe(&e, up))?;
                let mut events = vec![first];
                while let Some(r) = client.buffered_response() {
                    events.push(MupdateClient::stream_event(r.map_err(|e| describe(&e, up))?)
                        .map_err(|e| describe(&e, up))?);
                }
                if events.iter().any(|e| matches!(e, StreamEvent::Ended(_))) {
                    return Err("the master ended the UPDATE stream".into());
                }
                if events.iter().any(|e| matches!(e, StreamEvent::Mailbox(_) | StreamEvent::Delete(_))) {
                    let db2 = db.clone();
                    let evs = events.clone();
                    let changes = tokio::task::spawn_blocking(move || apply_events(&db2, &evs))
                        .await
                        .map_err(|e| e.to_string())??;
                    streams.publish(&changes);
                    let _ = db.set_meta(meta::LAST_CHANGE, &now().to_string());
                }
                for ev in events {
                    if let StreamEvent::NoopDone(tag) = ev {
                        if unanswered_noop.as_deref() == Some(tag.as_str()) {
                            unanswered_noop = None;
                        }
                        // Every update queued before the NOOP has been applied: release kickers.
                        let mut i = 0;
                        while i < waiting.len() {
                            if waiting[i].0 == tag {
                                let (_, kickers) = waiting.remove(i);
                                for mut k in kickers {
                                    let _ = k.write_all(b"ok").await;
                                }
                            } else {
                                i += 1;
                            }
                        }
                    }
                }
            }
            accepted = kicks.accept() => {
                if let Ok((k, _)) = accepted {
                    // One NOOP per kick: when its OK arrives, every update queued before it
                    // has been applied.
                    let tag = client.send_noop().await.map_err(|e| describe(&e, up))?;
                    waiting.push((tag, vec![k]));
                }
            }
            _ = keepalive.tick() => {
                if let Some(t) = &unanswered_noop {
                    return Err(format!("connection to master timed out (no answer to {t})"));
                }
                let tag = client.send_noop().await.map_err(|e| describe(&e, up))?;
                unanswered_noop = Some(tag);
            }
        }
    }
}

/// One line saying what went wrong with the master, the way an operator needs it.
pub fn describe(e: &ClientError, up: &Upstream) -> String {
    match e {
        ClientError::Connect { addr, source } => {
            format!("mupdate is not running on the master ({source} at {addr})")
        }
        ClientError::AuthFailed { user, text } => format!(
            "the master refused {user}: {text} (is {user} in the master's admins, and the password right?)"
        ),
        ClientError::NoMechanism { offered } => format!(
            "no SASL mechanism in common with the master (it offers: {offered}); set allowplaintext on the master or use TLS"
        ),
        other => format!("{other} ({}:{})", up.host, up.port),
    }
}

/// The master's "placebo" kick listener: answers `ok` at once (reference §1.10).
pub async fn placebo_kick(configdir: PathBuf, shutdown: CancellationToken) {
    let path = configdir.join(KICK_SOCKET);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::remove_file(&path);
    let Ok(l) = UnixListener::bind(&path) else {
        tracing::warn!("cannot listen on {}", path.display());
        return;
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            a = l.accept() => if let Ok((mut s, _)) = a {
                let _ = s.write_all(b"ok").await;
            }
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// Kicks the local slave and waits for it to catch up with the master (what frontend daemons
/// do after a change and on a lookup miss). Returns false when there is no slave to ask (not
/// running, or not connected to the master): the caller goes on with what it has.
pub async fn kick(configdir: &Path, timeout: Duration) -> bool {
    let path = configdir.join(KICK_SOCKET);
    let attempt = async {
        let mut s = UnixStream::connect(&path).await.ok()?;
        let mut buf = [0u8; 2048];
        let n = s.read(&mut buf).await.ok()?;
        Some(&buf[..n] == b"ok")
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconcile_makes_the_database_equal_to_the_list_and_reports_only_differences() {
        let d = tempfile::tempdir().unwrap();
        let db = MailboxDb::open(&d.path().join("mailboxes.db")).unwrap();
        let acl = "bob\tlrs\t";
        let first = vec![
            MailboxRecord::active("user.a", "be1!default", acl),
            MailboxRecord::active("user.b", "be1!default", acl),
            MailboxRecord::reserved("user.c", "be2!default"),
        ];
        assert_eq!(reconcile(&db, first).unwrap().len(), 3);
        // b unchanged, c activated and moved, a gone, d new.
        let second = vec![
            MailboxRecord::active("user.b", "be1!default", acl),
            MailboxRecord::active("user.c", "be3!p", acl),
            MailboxRecord::active("user.d", "be1!default", acl),
        ];
        let mut changes = reconcile(&db, second.clone()).unwrap();
        changes.sort_by(|x, y| x.name.cmp(&y.name));
        let summary: Vec<_> = changes
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.old_server.as_deref(),
                    c.new_server.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("user.a", Some("be1"), None),
                ("user.c", Some("be2"), Some("be3")),
                ("user.d", None, Some("be1")),
            ]
        );
        let now: Vec<MailboxRecord> = db
            .all()
            .unwrap()
            .iter()
            .filter_map(super::super::server::record_of)
            .collect();
        assert_eq!(now, second);
        // The same list again changes nothing.
        assert!(reconcile(&db, second).unwrap().is_empty());
    }
}
