//! XFER: moving a user (INBOX, every submailbox, deleted ones too, seen state, subscriptions,
//! quota roots, sieve scripts) or a shared mailbox to another backend of ours (reference
//! §5.4, §2.7). Interoperating with Cyrus backends for XFER is not a goal: both ends run this
//! module and speak a small private command, `XFERIMPORT`, over IMAP.
//!
//! # Source side ([`start`], behind `XFER mailbox server [partition]` and `RENAME` with a
//! server location)
//!
//! The source logs in to the destination as its `proxy_authname` (password
//! `<shorthost>_password` or `proxy_password`; address from [`crate::backends`]) and checks
//! that it is an admin there before changing anything. Then, each step durable before the
//! next:
//!
//! 1. `DEACTIVATE` every mailbox at the master (RESERVED at the source's location);
//! 2. mark the local entries MOVING;
//! 3. export everything into a spool file, send it in chunks, and ask the destination to
//!    commit: it imports atomically, writes its `mailboxes.db` entries (local, the target
//!    partition, ACL and uniqueid kept) and `ACTIVATE`s them at the master with its own
//!    location;
//! 4. check with `FIND` that the master names the destination for every mailbox;
//! 5. delete the local copy without telling the master, and the user's per-user data.
//!
//! A failure before the master names the destination rolls back (MOVING cleared, `ACTIVATE`
//! at the source's location again). A crash of either side at any point leaves one complete
//! copy, the one the master names; running the same XFER again finishes the move (entries
//! left MOVING and master records already pointing at the destination are recognised).
//! Progress goes to the client as Cyrus writes it: `* OK USER bob`, `* NO USER bob (reason)`,
//! `* OK MAILBOX "name"`.
//!
//! # Destination side ([`import_command`], admin only)
//!
//! ```text
//! tag XFERIMPORT CHECK                     is the caller an admin here
//! tag XFERIMPORT BEGIN <id>                start (or restart) spool <id>
//! tag XFERIMPORT DATA <id> {n+}\r\n<bytes> append to spool <id>
//! tag XFERIMPORT COMMIT <id> <partition>   import spool <id> (partition NIL: keep each one's)
//! tag XFERIMPORT ABORT <id>                drop what a failed spool <id> left here
//! ```
//!
//! The spool holds a bundle: `MURDER-XFER-BUNDLE 1\n`, a count (u32 LE) of `mailboxes.db`
//! entries, each as `namelen:u32 name len:u32 encoded-entry`, then the store's transfer stream
//! ([`crate::store::Store::export`]), which carries its own checksum.
//!
//! # Fault injection (tests)
//!
//! With the environment variable `MURDER_XFER_FAULT` set to a step name, the process aborts
//! (as a `kill -9` would stop it) when it reaches that step: `source-after-deactivate`,
//! `source-after-moving`, `source-after-commit` (destination done, local copy not yet
//! deleted), `dest-after-import` (data imported, no entries yet), `dest-after-entries`
//! (entries written, master not yet told). Unset, it does nothing.
//!
//! ```no_run
//! // Source: `xfer::start(&mut session, &tag, b"user.bob", "backend2", None).await`.
//! // Destination: the session loop hands `XFERIMPORT` messages to `xfer::import_command`.
//! ```

use std::io::{BufReader, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use protocol::imap::response::Condition;
use protocol::imap::syntax::{write_astring, LiteralMode};
use protocol::imap::types::Tag;
use protocol::mailbox::{InternalName, Pattern};
use protocol::mupdate::MailboxRecord;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::mailboxes::{self, run, subtree, Fail, R, UNAVAILABLE};
use super::murder::{self, Pusher};
use super::{Context, HResult, Session};
use crate::mboxdb::{MailboxEntry, MbFlags, MbState};
use crate::mupdate::client::{connect_authenticated, MupdateClient};
use crate::store::{MailboxId, Store, StoreError};

/// The private command name.
pub const COMMAND: &str = "XFERIMPORT";

/// The environment variable naming a step to abort at (tests only; see the module doc).
pub const FAULT_ENV: &str = "MURDER_XFER_FAULT";

const BUNDLE_MAGIC: &[u8] = b"MURDER-XFER-BUNDLE 1\n";
/// Bytes per `DATA` chunk: well under the framer's literal limit.
const CHUNK: usize = 1024 * 1024;
/// Most entries a bundle may carry.
const MAX_ENTRIES: u32 = 1_000_000;
/// Longest encoded entry or name in a bundle.
const MAX_ENTRY_LEN: u32 = 1024 * 1024;
/// How long the destination may take to import (a large user on a slow disk).
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn fault(step: &str) {
    if std::env::var(FAULT_ENV).is_ok_and(|v| v == step) {
        tracing::error!("{FAULT_ENV}={step}: aborting on purpose");
        std::process::abort();
    }
}

/// Text for a destination that refuses our identity (reference §10 item 7).
fn not_admin(authname: &str) -> String {
    format!("the destination refuses {authname}: not an admin there")
}

// ---------------------------------------------------------------------------------------------
// Source side
// ---------------------------------------------------------------------------------------------

/// What one XFER moves.
struct Item {
    /// The user whose per-user data goes along.
    user: Option<String>,
    /// The entries, root first.
    entries: Vec<MailboxEntry>,
}

/// Runs `XFER mailbox server [partition]` on the source (the caller checked admin rights and
/// the argument syntax). `mailbox` is a mailbox name, a pattern (`*`, `%`) in the admin
/// namespace, or the name of one of our partitions (everything on it); a pattern or
/// partition selects user INBOXes (whole users) and shared mailboxes. Each item gets its
/// progress line; the result is OK when at least one item moved.
pub async fn start(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    server: &str,
    partition: Option<&str>,
) -> R {
    let store = mailboxes::store(s)?;
    if !s.ctx.is_murder_backend() {
        return Err(Fail::no(UNAVAILABLE));
    }
    let arg = String::from_utf8_lossy(mailbox).into_owned();
    let lower = arg.to_ascii_lowercase();
    let names: Vec<InternalName> = if store.partitions().contains_key(&lower) {
        let part = lower.clone();
        movable(s, move |e| e.partition == part).await?
    } else if arg.contains(['*', '%']) {
        let pat =
            Pattern::new("", &arg, s.ctx.namespace.separator()).map_err(|_| Fail::nonexistent())?;
        let all = movable(s, |_| true).await?;
        all.into_iter()
            .filter(|n| s.external_name(n).is_some_and(|x| pat.matches(&x)))
            .collect()
    } else {
        vec![s.internal_name(mailbox).ok_or_else(Fail::nonexistent)?]
    };
    if names.is_empty() {
        return Err(Fail::nonexistent());
    }
    let single = names.len() == 1;
    let mut moved = false;
    let mut last = None;
    for name in names {
        let label = match name.owner() {
            Some(u) if name.is_user_inbox() => format!("USER {u}"),
            _ => format!(
                "MAILBOX \"{}\"",
                s.external_name(&name)
                    .unwrap_or_else(|| name.as_str().to_owned())
            ),
        };
        let r = match select(s, &name).await {
            Ok(item) => move_item(s, &item, server, partition).await,
            // A name that does not exist gets no progress line (nothing was tried).
            Err(Fail::No(_, t)) if single && t == mailboxes::NONEXISTENT => {
                return Err(Fail::nonexistent())
            }
            Err(e) => Err(e),
        };
        match r {
            Ok(()) => {
                s.untagged(Condition::Ok, None, &label);
                moved = true;
            }
            Err(Fail::No(code, text)) => {
                s.untagged(Condition::No, None, &format!("{label} ({text})"));
                last = Some(Fail::No(code, text));
            }
            Err(other) => return Err(other),
        }
        // Progress goes out item by item, as Cyrus flushes it.
        s.flush().await.map_err(|e| Fail::End(super::End::Io(e)))?;
    }
    if moved {
        s.ok(tag);
        Ok(())
    } else {
        Err(last.unwrap_or_else(Fail::nonexistent))
    }
}

/// Local user INBOXes and shared mailboxes whose entry passes `keep`.
async fn movable(
    s: &Session,
    keep: impl Fn(&MailboxEntry) -> bool + Send + 'static,
) -> R<Vec<InternalName>> {
    let deleted = s
        .ctx
        .conf
        .get_str("deletedprefix")
        .unwrap_or_else(|| "DELETED".into());
    Ok(run(s, move |ctx| ctx.mboxdb.all())
        .await??
        .into_iter()
        .filter(|e| matches!(e.state(), MbState::Local | MbState::Moving) && keep(e))
        .filter_map(|e| InternalName::new(&e.name).ok())
        .filter(|n| !n.is_deleted_with(&deleted) && (n.is_user_inbox() || !n.is_user_mailbox()))
        .collect())
}

async fn select(s: &Session, name: &InternalName) -> R<Item> {
    let unsupported = || Fail::no("Operation is not supported on mailbox");
    if name.is_user_inbox() {
        let user = name.owner().ok_or_else(Fail::nonexistent)?;
        if !s.ctx.conf.get_switch("allowusermoves") || user == s.user_name() {
            return Err(unsupported());
        }
        let root = name.as_str().to_owned();
        let deleted = s
            .ctx
            .conf
            .get_str("deletedprefix")
            .unwrap_or_else(|| "DELETED".into());
        let droot = match name.domain() {
            Some(d) => format!("{d}!{deleted}.{}", name.without_domain()),
            None => format!("{deleted}.{root}"),
        };
        let entries = run(s, move |ctx| -> Result<Vec<MailboxEntry>, Fail> {
            let mut v = subtree(ctx, &root)?;
            v.extend(subtree(ctx, &droot)?);
            Ok(v.into_iter()
                .filter(|e| matches!(e.state(), MbState::Local | MbState::Moving))
                .collect())
        })
        .await??;
        if !entries.iter().any(|e| e.name == name.as_str()) {
            return Err(Fail::nonexistent());
        }
        Ok(Item {
            user: Some(user),
            entries,
        })
    } else if name.is_user_mailbox() {
        Err(unsupported())
    } else {
        let n = name.as_str().to_owned();
        let e = run(s, move |ctx| ctx.mboxdb.get(&n))
            .await??
            .filter(|e| matches!(e.state(), MbState::Local | MbState::Moving))
            .ok_or_else(Fail::nonexistent)?;
        Ok(Item {
            user: None,
            entries: vec![e],
        })
    }
}

/// A short IMAP client for the destination backend.
struct Peer {
    r: tokio::io::BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
    n: u32,
    timeout: Duration,
}

/// A command's outcome: OK or not, and the tagged text.
struct Reply {
    ok: bool,
    /// `BAD`: the destination does not know the command (a Cyrus backend and XFERIMPORT).
    bad: bool,
    text: String,
}

impl Peer {
    async fn connect(host: &str, port: u16, timeout: Duration) -> std::io::Result<Peer> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let _ = tcp.set_nodelay(true);
        let (r, w) = tcp.into_split();
        let mut p = Peer {
            r: tokio::io::BufReader::new(r),
            w,
            n: 0,
            timeout,
        };
        let greeting = p.line(timeout).await?;
        if !greeting.starts_with("* OK") {
            return Err(std::io::Error::other(format!("greeting {greeting:?}")));
        }
        Ok(p)
    }

    async fn line(&mut self, timeout: Duration) -> std::io::Result<String> {
        let mut buf = Vec::new();
        let n = tokio::time::timeout(
            timeout,
            (&mut self.r).take(64 * 1024).read_until(b'\n', &mut buf),
        )
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_owned())
    }

    /// Sends `tag <args>` (`args` without CRLF, possibly ending in a literal) and waits for
    /// the tagged reply.
    async fn cmd(&mut self, args: &[u8], timeout: Duration) -> std::io::Result<Reply> {
        self.n += 1;
        let tag = format!("X{}", self.n);
        let mut out = Vec::with_capacity(args.len() + 16);
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        out.extend_from_slice(args);
        out.extend_from_slice(b"\r\n");
        self.w.write_all(&out).await?;
        self.w.flush().await?;
        let prefix = format!("{tag} ");
        loop {
            let l = self.line(timeout).await?;
            if let Some(rest) = l.strip_prefix(&prefix) {
                let ok = rest.starts_with("OK");
                let bad = rest.starts_with("BAD");
                let text = rest
                    .split_once(' ')
                    .map(|(_, t)| t.to_owned())
                    .unwrap_or_default();
                return Ok(Reply { ok, bad, text });
            }
        }
    }

    async fn simple(&mut self, args: &str) -> std::io::Result<Reply> {
        let t = self.timeout;
        self.cmd(args.as_bytes(), t).await
    }

    async fn logout(mut self) {
        let t = self.timeout;
        let _ = self.cmd(b"LOGOUT", t).await;
    }
}

/// The master connection for one XFER.
async fn master(ctx: &Context) -> R<MupdateClient> {
    let (host, port) = ctx
        .conf
        .mupdate_endpoint()
        .ok_or_else(|| Fail::no(UNAVAILABLE))?;
    let creds = crate::mupdate::credentials(&ctx.conf).map_err(|_| Fail::no(UNAVAILABLE))?;
    let tls = crate::mupdate::client_tls(&ctx.conf).map_err(|_| Fail::no(UNAVAILABLE))?;
    connect_authenticated(&host, port, &creds, tls, ctx.conf.client_timeout())
        .await
        .map_err(|e| {
            tracing::warn!("xfer: cannot reach mupdate server: {e}");
            Fail::no("no connection to server")
        })
}

fn master_fail(e: impl std::fmt::Display) -> Fail {
    tracing::warn!("xfer: mupdate: {e}");
    Fail::no("the mupdate operation failed")
}

/// The entries' records at the master.
async fn find_all(
    m: &mut MupdateClient,
    entries: &[MailboxEntry],
) -> R<Vec<Option<MailboxRecord>>> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        out.push(m.find(&e.name).await.map_err(master_fail)?);
    }
    Ok(out)
}

fn is_at(rec: &Option<MailboxRecord>, location: &str) -> bool {
    rec.as_ref()
        .is_some_and(|r| r.is_active() && r.location() == location)
}

/// A name usable as a spool file name on both sides.
fn spool_id(ctx: &Context, item: &Item) -> String {
    let root = item
        .entries
        .first()
        .map(|e| e.uniqueid.as_str())
        .unwrap_or("");
    format!("{}-{root}", ctx.servername)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect()
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 120
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn spool_dir(ctx: &Context) -> PathBuf {
    PathBuf::from(ctx.conf.configdirectory().unwrap_or_default()).join("xfer")
}

/// Roots of the moves running in this process: a second XFER of the same user or mailbox
/// would share the spool on the destination, so it waits its turn by being refused.
static RUNNING: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Holds an entry of [`RUNNING`] for the duration of one move.
struct Running(String);

impl Running {
    fn claim(root: &str) -> Option<Running> {
        let mut r = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        if r.iter().any(|x| x == root) {
            return None;
        }
        r.push(root.to_owned());
        Some(Running(root.to_owned()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut r = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        r.retain(|x| *x != self.0);
    }
}

async fn move_item(s: &mut Session, item: &Item, server: &str, partition: Option<&str>) -> R {
    let root = item
        .entries
        .first()
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let _running = Running::claim(&root).ok_or_else(|| Fail::no("Mailbox is locked"))?;
    let ctx = s.ctx.clone();
    let store = mailboxes::store(s)?;
    let (host, port) = crate::backends::backend_address(&ctx.conf, server, "imap")
        .ok_or_else(|| Fail::no(UNAVAILABLE))?;
    let (authname, password) =
        crate::backends::proxy_credentials(&ctx.conf, server).ok_or_else(|| {
            tracing::warn!("xfer: no proxy_password or {server}_password");
            Fail::no(UNAVAILABLE)
        })?;
    let timeout = ctx.conf.client_timeout();
    let mut peer = Peer::connect(&host, port, timeout).await.map_err(|e| {
        tracing::warn!("xfer: cannot reach {server} at {host}:{port}: {e}");
        Fail::no(UNAVAILABLE)
    })?;
    let mut login = b"LOGIN ".to_vec();
    write_astring(&mut login, authname.as_bytes(), LiteralMode::NonSync);
    login.push(b' ');
    write_astring(&mut login, password.as_bytes(), LiteralMode::NonSync);
    let r = peer
        .cmd(&login, timeout)
        .await
        .map_err(|_| Fail::no(UNAVAILABLE))?;
    if !r.ok {
        return Err(Fail::no(format!(
            "the destination refuses {authname}: {}",
            r.text
        )));
    }
    let r = peer
        .simple(&format!("{COMMAND} CHECK"))
        .await
        .map_err(|_| Fail::no(UNAVAILABLE))?;
    // A destination that does not know XFERIMPORT is not ours (a Cyrus backend): the move
    // then goes over plain IMAP ([`send_imap`]), without the deleted mailboxes.
    let plain = !r.ok && r.bad;
    if !r.ok && !plain {
        return Err(Fail::no(not_admin(&authname)));
    }
    let plain_item;
    let item = if plain {
        let deleted = ctx
            .conf
            .get_str("deletedprefix")
            .unwrap_or_else(|| "DELETED".into());
        plain_item = Item {
            user: item.user.clone(),
            entries: item
                .entries
                .iter()
                .filter(|e| InternalName::new(&e.name).is_ok_and(|n| !n.is_deleted_with(&deleted)))
                .cloned()
                .collect(),
        };
        &plain_item
    } else {
        item
    };
    let dest = Dest {
        host: &host,
        port,
        authname: &authname,
        password: &password,
    };

    let src_loc = |e: &MailboxEntry| murder::location(&ctx, &e.partition);
    let dst_part = |e: &MailboxEntry| partition.unwrap_or(&e.partition).to_owned();
    let dst_loc = |e: &MailboxEntry| format!("{server}!{}", dst_part(e));

    let mut m = master(&ctx).await?;
    let recs = find_all(&mut m, &item.entries).await?;
    let done = item
        .entries
        .iter()
        .zip(&recs)
        .all(|(e, r)| is_at(r, &dst_loc(e)));
    // Before changing anything: the master must name us (or, on a rerun, the destination),
    // and a copy is only dropped when an earlier run of this XFER marked it MOVING.
    for (e, rec) in item.entries.iter().zip(&recs) {
        if let Some(r) = rec {
            if r.location() != src_loc(e) && r.location() != dst_loc(e) {
                m.logout().await;
                return Err(Fail::no(format!(
                    "the mupdate server names {} for {}, not this server",
                    r.location(),
                    e.name
                )));
            }
        }
    }
    if done && !item.entries.iter().all(|e| e.state() == MbState::Moving) {
        m.logout().await;
        return Err(Fail::no(format!(
            "the mupdate server already names {server}, but the local copy is not being moved"
        )));
    }
    if !done {
        // Step 1: DEACTIVATE what is still active here (a rerun finds some already reserved
        // or already at the destination).
        for (e, rec) in item.entries.iter().zip(&recs) {
            if is_at(rec, &dst_loc(e)) {
                continue;
            }
            let r = match rec {
                Some(r) if !r.is_active() => Ok(()),
                Some(_) => m.deactivate(&e.name, &src_loc(e)).await,
                None => m.reserve(&e.name, &src_loc(e)).await,
            };
            if let Err(err) = r {
                let f = master_fail(err);
                rollback(&ctx, &mut m, &item.entries).await;
                m.logout().await;
                return Err(f);
            }
        }
        fault("source-after-deactivate");
        // Step 2: MOVING locally, and the store frozen: from here on no append, delivery,
        // flag change or expunge can slip in after the export and be lost with the source.
        let entries = item.entries.clone();
        let r = run(s, move |ctx| set_moving(ctx, &entries, true)).await?;
        if let Err(e) = r {
            rollback(&ctx, &mut m, &item.entries).await;
            m.logout().await;
            return Err(e);
        }
        fault("source-after-moving");
        // Step 3: send; the destination imports and activates.
        let mut created = Vec::new();
        let sent = if plain {
            send_imap(s, &store, &mut peer, &dest, item, partition, &mut created).await
        } else {
            send(s, &store, &mut peer, item, partition).await
        };
        let recs = find_all(&mut m, &item.entries).await;
        let arrived = match &recs {
            Ok(recs) => item
                .entries
                .iter()
                .zip(recs)
                .all(|(e, r)| is_at(r, &dst_loc(e))),
            Err(_) => false,
        };
        if !arrived {
            let partial = recs.as_ref().is_ok_and(|recs| {
                item.entries
                    .iter()
                    .zip(recs)
                    .any(|(e, r)| is_at(r, &dst_loc(e)))
            });
            if partial {
                // Some mailboxes already live there: keep MOVING so a rerun finishes.
                m.logout().await;
                return Err(Fail::no(
                    "the destination holds part of the move; run XFER again to finish it",
                ));
            }
            rollback(&ctx, &mut m, &item.entries).await;
            m.logout().await;
            // The destination may hold an imported copy nobody names: have it dropped.
            let id = spool_id(&ctx, item);
            if plain {
                // Nobody names what send_imap created there: remove it.
                drop_created(&mut peer, &created).await;
            } else if let Ok(r) = peer.simple(&format!("{COMMAND} ABORT {id}")).await {
                if !r.ok {
                    tracing::warn!("xfer: destination kept its partial copy: {}", r.text);
                }
            }
            return Err(match sent {
                Err(f) => f,
                Ok(()) => Fail::no("the destination did not take over the mailboxes"),
            });
        }
        fault("source-after-commit");
    }
    m.logout().await;
    peer.logout().await;
    // Step 5: the master names the destination for every mailbox; drop the local copy.
    let entries = item.entries.clone();
    let user = item.user.clone();
    run(s, move |ctx| {
        remove_local(ctx, &store, &entries, user.as_deref())
    })
    .await??;
    Ok(())
}

/// Marks the entries MOVING in mailboxes.db and freezes their store mailboxes (`on`), or
/// undoes both. Lookups refuse a MOVING entry; the freeze closes the race with a session that
/// looked the mailbox up just before (its write fails inside the store's transaction). The
/// freeze is set after the mark and lifted before it is cleared, so a crash in between leaves
/// a state the rerun (or the rollback) of the XFER handles.
fn set_moving(ctx: &Context, entries: &[MailboxEntry], on: bool) -> Result<(), Fail> {
    let ids: Vec<MailboxId> = entries
        .iter()
        .filter_map(|e| MailboxId::new(&e.uniqueid).ok())
        .collect();
    let mark = || {
        ctx.mboxdb.write(|tx| {
            for e in entries {
                if let Some(mut e) = tx.get(&e.name)? {
                    e.flags.set(MbFlags::MOVING, on);
                    tx.put(&e);
                }
            }
            Ok(())
        })
    };
    let store = ctx.store.as_ref().ok_or_else(|| Fail::no(UNAVAILABLE))?;
    if on {
        mark()?;
        store.set_moving(&ids, true)?;
    } else {
        store.set_moving(&ids, false)?;
        mark()?;
    }
    Ok(())
}

/// Puts the mailboxes back at the source: MOVING cleared, ACTIVATE at our location.
async fn rollback(ctx: &std::sync::Arc<Context>, m: &mut MupdateClient, entries: &[MailboxEntry]) {
    let list = entries.to_vec();
    let c = ctx.clone();
    let r = tokio::task::spawn_blocking(move || set_moving(&c, &list, false)).await;
    if !matches!(r, Ok(Ok(()))) {
        tracing::error!("xfer rollback: cannot clear MOVING");
    }
    for e in entries {
        let loc = murder::location(ctx, &e.partition);
        if let Err(err) = m.activate(&e.name, &loc, &e.acl).await {
            tracing::error!("xfer rollback: ACTIVATE {} {loc}: {err}", e.name);
        }
    }
}

/// Writes the bundle for `item` into `path`.
fn write_bundle(
    store: &Store,
    item_user: Option<&str>,
    entries: &[MailboxEntry],
    path: &std::path::Path,
) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_owned(),
        source,
    };
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::new(f);
    let mut head = BUNDLE_MAGIC.to_vec();
    head.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for e in entries {
        let enc = e.encode();
        head.extend_from_slice(&(e.name.len() as u32).to_le_bytes());
        head.extend_from_slice(e.name.as_bytes());
        head.extend_from_slice(&(enc.len() as u32).to_le_bytes());
        head.extend_from_slice(&enc);
    }
    w.write_all(&head).map_err(io)?;
    let ids: Vec<MailboxId> = entries
        .iter()
        .filter_map(|e| MailboxId::new(&e.uniqueid).ok())
        .collect();
    let mut roots = Vec::new();
    for e in entries {
        if store.quota(&e.name)?.is_some() {
            roots.push(e.name.clone());
        }
    }
    let roots: Vec<&str> = roots.iter().map(String::as_str).collect();
    store.export(
        &crate::store::ExportSpec {
            user: item_user,
            mailboxes: &ids,
            quota_roots: &roots,
        },
        &mut w,
    )?;
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)?;
    Ok(())
}

async fn send(
    s: &mut Session,
    store: &Store,
    peer: &mut Peer,
    item: &Item,
    partition: Option<&str>,
) -> R {
    let id = spool_id(&s.ctx, item);
    let dir = spool_dir(&s.ctx);
    let path = dir.join(format!("{id}.out"));
    let (st, user, entries, p2) = (
        store.clone(),
        item.user.clone(),
        item.entries.clone(),
        path.clone(),
    );
    run(s, move |_| -> Result<(), StoreError> {
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            source,
        })?;
        write_bundle(&st, user.as_deref(), &entries, &p2)
    })
    .await??;
    let result = upload(peer, &id, &path, partition).await;
    let _ = std::fs::remove_file(&path);
    result
}

async fn upload(peer: &mut Peer, id: &str, path: &std::path::Path, partition: Option<&str>) -> R {
    let lost = |e: std::io::Error| {
        tracing::warn!("xfer: destination connection: {e}");
        Fail::no("The remote Server(s) denied the operation")
    };
    let refused = |r: Reply| {
        tracing::warn!("xfer: destination said NO: {}", r.text);
        Fail::no(format!(
            "The remote Server(s) denied the operation: {}",
            r.text
        ))
    };
    let r = peer
        .simple(&format!("{COMMAND} BEGIN {id}"))
        .await
        .map_err(lost)?;
    if !r.ok {
        return Err(refused(r));
    }
    let mut f = tokio::fs::File::open(path).await.map_err(lost)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut filled = 0;
        while let Some(space) = buf.get_mut(filled..).filter(|b| !b.is_empty()) {
            let n = tokio::io::AsyncReadExt::read(&mut f, space)
                .await
                .map_err(lost)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        let mut args = format!("{COMMAND} DATA {id} {{{filled}+}}\r\n").into_bytes();
        args.extend_from_slice(buf.get(..filled).unwrap_or_default());
        let t = peer.timeout;
        let r = peer.cmd(&args, t).await.map_err(lost)?;
        if !r.ok {
            return Err(refused(r));
        }
        if filled < buf.len() {
            break;
        }
    }
    let part = partition.unwrap_or("NIL");
    let r = peer
        .cmd(
            format!("{COMMAND} COMMIT {id} {part}").as_bytes(),
            COMMIT_TIMEOUT,
        )
        .await
        .map_err(lost)?;
    if !r.ok {
        return Err(refused(r));
    }
    Ok(())
}

/// Where and as whom the source reaches the destination.
struct Dest<'a> {
    host: &'a str,
    port: u16,
    authname: &'a str,
    password: &'a str,
}

/// Step 3 for a destination that is not ours (a Cyrus 3 backend, whose own XFER speaks its
/// replication protocol): the mailboxes go over plain IMAP, as Cyrus itself moved them to
/// 2.x backends but with APPEND in place of UNDUMP. On the destination, as an admin:
/// `LOCALCREATE` each mailbox (root first) on the partition, `SETACL` each ACL entry,
/// `SETQUOTA` each quota root; the messages are appended with their flags and internal date,
/// in a user's mailboxes by a second connection authorised as that user (so `\Seen` stays
/// the owner's), who also re-subscribes; finally `MUPDATEPUSH` each mailbox, which makes the
/// destination `ACTIVATE` it at the master under its own location.
///
/// What does not travel this way: UIDs and UIDVALIDITY (the destination assigns new ones, so
/// clients resynchronise), deleted (delayed-delete) mailboxes, annotations, sieve scripts,
/// and other users' seen state. On failure the mailboxes created so far are removed with
/// `LOCALDELETE` and the move is reported failed.
async fn send_imap(
    s: &mut Session,
    store: &Store,
    peer: &mut Peer,
    dest: &Dest<'_>,
    item: &Item,
    partition: Option<&str>,
    created: &mut Vec<Vec<u8>>,
) -> R {
    let r = send_imap_inner(s, store, peer, dest, item, partition, created).await;
    if r.is_err() {
        drop_created(peer, created).await;
    }
    r
}

/// `LOCALDELETE` on the destination, children first, of what [`send_imap`] created.
async fn drop_created(peer: &mut Peer, created: &[Vec<u8>]) {
    {
        for ext in created.iter().rev() {
            let mut args = b"LOCALDELETE ".to_vec();
            write_astring(&mut args, ext, LiteralMode::NonSync);
            let t = peer.timeout;
            match peer.cmd(&args, t).await {
                Ok(r) if r.ok => {}
                Ok(r) => tracing::warn!(
                    "xfer: the destination kept {}: {}",
                    String::from_utf8_lossy(ext),
                    r.text
                ),
                Err(e) => tracing::warn!("xfer: destination connection: {e}"),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_imap_inner(
    s: &mut Session,
    store: &Store,
    peer: &mut Peer,
    dest: &Dest<'_>,
    item: &Item,
    partition: Option<&str>,
    created: &mut Vec<Vec<u8>>,
) -> R {
    let lost = |e: std::io::Error| {
        tracing::warn!("xfer: destination connection: {e}");
        Fail::no("The remote Server(s) denied the operation")
    };
    let refused = |what: &str, r: Reply| {
        tracing::warn!("xfer: destination refused {what}: {}", r.text);
        Fail::no(format!(
            "The remote Server(s) denied the operation: {what}: {}",
            r.text
        ))
    };
    let t = peer.timeout;
    // The owner's connection: the proxy identity authorised as the user (it is an admin
    // there, which Cyrus lets act for anyone).
    let mut owner = match &item.user {
        Some(user) => {
            let mut p = Peer::connect(dest.host, dest.port, t).await.map_err(lost)?;
            let ir = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{user}\0{}\0{}", dest.authname, dest.password),
            );
            let r = p
                .simple(&format!("AUTHENTICATE PLAIN {ir}"))
                .await
                .map_err(lost)?;
            if !r.ok {
                return Err(refused(&format!("acting for {user}"), r));
            }
            Some(p)
        }
        None => None,
    };
    let ext_of = |s: &Session, name: &str| -> R<Vec<u8>> {
        let n = InternalName::new(name).map_err(|_| Fail::nonexistent())?;
        Ok(s.external_name(&n)
            .unwrap_or_else(|| name.to_owned())
            .into_bytes())
    };
    for e in &item.entries {
        let ext = ext_of(s, &e.name)?;
        let part = partition.unwrap_or(&e.partition);
        let mut args = b"LOCALCREATE ".to_vec();
        write_astring(&mut args, &ext, LiteralMode::NonSync);
        if !part.is_empty() {
            args.push(b' ');
            write_astring(&mut args, part.as_bytes(), LiteralMode::NonSync);
        }
        let r = peer.cmd(&args, t).await.map_err(lost)?;
        if !r.ok {
            return Err(refused("LOCALCREATE", r));
        }
        created.push(ext.clone());
        // The ACL is `id TAB rights TAB ...`.
        let parts: Vec<&str> = e.acl.split('\t').filter(|p| !p.is_empty()).collect();
        for pair in parts.chunks(2) {
            let [id, rights] = pair else { continue };
            let mut args = b"SETACL ".to_vec();
            write_astring(&mut args, &ext, LiteralMode::NonSync);
            args.push(b' ');
            write_astring(&mut args, id.as_bytes(), LiteralMode::NonSync);
            args.push(b' ');
            write_astring(&mut args, rights.as_bytes(), LiteralMode::NonSync);
            let r = peer.cmd(&args, t).await.map_err(lost)?;
            if !r.ok {
                return Err(refused("SETACL", r));
            }
        }
        let st = store.clone();
        let (name, uid) = (e.name.clone(), e.uniqueid.clone());
        let (quota, records) = run(s, move |_| -> Result<_, StoreError> {
            let q = st.quota(&name)?;
            let recs = match MailboxId::new(&uid) {
                Ok(id) => st.records(&id)?,
                Err(_) => Vec::new(),
            };
            Ok((q, recs))
        })
        .await??;
        if let Some(q) = quota {
            let mut limits = Vec::new();
            if let Some(v) = q.limits.storage_kib {
                limits.push(format!("STORAGE {v}"));
            }
            if let Some(v) = q.limits.messages {
                limits.push(format!("MESSAGE {v}"));
            }
            let mut args = b"SETQUOTA ".to_vec();
            write_astring(&mut args, &ext, LiteralMode::NonSync);
            args.extend_from_slice(format!(" ({})", limits.join(" ")).as_bytes());
            let r = peer.cmd(&args, t).await.map_err(lost)?;
            if !r.ok {
                return Err(refused("SETQUOTA", r));
            }
        }
        // In a user's tree the owner appends (in the owner's namespace).
        let (conn, target) = match (&mut owner, &item.user) {
            (Some(o), Some(user)) => {
                let n = InternalName::new(&e.name).map_err(|_| Fail::nonexistent())?;
                let own = s
                    .ctx
                    .namespace
                    .to_external(&n, Some(user), false)
                    .unwrap_or_else(|| e.name.clone());
                (o, own.into_bytes())
            }
            _ => (&mut *peer, ext.clone()),
        };
        let id = MailboxId::new(&e.uniqueid).ok();
        for rec in records {
            let Some(id) = id.clone() else { break };
            let st = store.clone();
            let uid = rec.uid;
            let body = run(s, move |_| st.read_message(&id, uid)).await??;
            let flags: Vec<String> = rec
                .flags
                .names()
                .into_iter()
                .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                .collect();
            let mut args = b"APPEND ".to_vec();
            write_astring(&mut args, &target, LiteralMode::NonSync);
            args.extend_from_slice(format!(" ({}) ", flags.join(" ")).as_bytes());
            args.extend_from_slice(
                super::messages::format_internaldate(rec.internaldate).as_bytes(),
            );
            args.extend_from_slice(format!(" {{{}+}}\r\n", body.len()).as_bytes());
            args.extend_from_slice(&body);
            let r = conn.cmd(&args, t).await.map_err(lost)?;
            if !r.ok {
                return Err(refused("APPEND", r));
            }
        }
    }
    if let (Some(o), Some(user)) = (&mut owner, &item.user) {
        let st = store.clone();
        let u = user.clone();
        let subs = run(s, move |_| st.subscriptions(&u)).await??;
        for n in subs {
            let own = s
                .ctx
                .namespace
                .to_external(&n, Some(user), false)
                .unwrap_or_else(|| n.as_str().to_owned());
            let mut args = b"SUBSCRIBE ".to_vec();
            write_astring(&mut args, own.as_bytes(), LiteralMode::NonSync);
            let r = o.cmd(&args, t).await.map_err(lost)?;
            if !r.ok {
                tracing::warn!("xfer: the destination refused SUBSCRIBE {own}: {}", r.text);
            }
        }
    }
    if let Some(o) = owner {
        o.logout().await;
    }
    for ext in created.iter() {
        let mut args = b"MUPDATEPUSH ".to_vec();
        write_astring(&mut args, ext, LiteralMode::NonSync);
        let r = peer.cmd(&args, t).await.map_err(lost)?;
        if !r.ok {
            return Err(refused("MUPDATEPUSH", r));
        }
    }
    Ok(())
}

/// Deletes the local copy (store data, per-user data, quota roots, entries); the master is
/// not told. Safe to repeat.
fn remove_local(
    ctx: &Context,
    store: &Store,
    entries: &[MailboxEntry],
    user: Option<&str>,
) -> Result<(), Fail> {
    for e in entries {
        if let Ok(id) = MailboxId::new(&e.uniqueid) {
            store.delete_mailbox(&id)?;
        }
        store.remove_quota(&e.name)?;
    }
    if let Some(u) = user {
        // Nothing of the user stays behind (Cyrus keeps the seen state; we do not, so the
        // source holds no trace of a user it no longer serves).
        store.delete_user_data(u, false)?;
    }
    ctx.mboxdb.write(|tx| {
        for e in entries {
            tx.delete(&e.name);
        }
        Ok(())
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Destination side
// ---------------------------------------------------------------------------------------------

/// Handles one `XFERIMPORT` message (`raw` is the whole message, literal included).
pub async fn import_command(s: &mut Session, tag: &Tag, raw: &[u8]) -> HResult {
    let r = import(s, tag, raw).await;
    mailboxes::finish(s, tag, r)
}

async fn import(s: &mut Session, tag: &Tag, raw: &[u8]) -> R {
    if !s.is_admin() {
        return Err(Fail::no(format!(
            "only administrators may use {COMMAND} command"
        )));
    }
    let store = mailboxes::store(s)?;
    let (line, rest) = match raw.windows(2).position(|w| w == b"\r\n") {
        Some(i) => (
            raw.get(..i).unwrap_or_default(),
            raw.get(i + 2..).unwrap_or_default(),
        ),
        None => (raw, &[][..]),
    };
    let line = String::from_utf8_lossy(line);
    let mut words = line.split(' ').skip(2);
    let verb = words.next().unwrap_or("").to_ascii_uppercase();
    let bad = || Fail::Bad(format!("Invalid {COMMAND} arguments"));
    let dir = spool_dir(&s.ctx);
    match verb.as_str() {
        "CHECK" => {}
        "BEGIN" => {
            let id = words.next().filter(|i| valid_id(i)).ok_or_else(bad)?;
            let path = dir.join(format!("{id}.in"));
            run(s, move |_| -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                std::fs::File::create(&path).map(|_| ())
            })
            .await?
            .map_err(|e| Fail::no(format!("System I/O error: {e}")))?;
        }
        "DATA" => {
            let id = words.next().filter(|i| valid_id(i)).ok_or_else(bad)?;
            let n: usize = words
                .next()
                .and_then(|l| l.strip_prefix('{'))
                .and_then(|l| l.strip_suffix('}'))
                .map(|l| l.trim_end_matches('+'))
                .and_then(|l| l.parse().ok())
                .ok_or_else(bad)?;
            let data = rest.get(..n).ok_or_else(bad)?.to_vec();
            let path = dir.join(format!("{id}.in"));
            run(s, move |_| -> std::io::Result<()> {
                let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
                f.write_all(&data)
            })
            .await?
            .map_err(|e| Fail::no(format!("System I/O error: {e}")))?;
        }
        "COMMIT" => {
            let id = words.next().filter(|i| valid_id(i)).ok_or_else(bad)?;
            let part = match words.next().ok_or_else(bad)? {
                p if p.eq_ignore_ascii_case("NIL") => None,
                p if !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                    Some(p.to_ascii_lowercase())
                }
                _ => return Err(bad()),
            };
            let path = dir.join(format!("{id}.in"));
            let p2 = path.clone();
            let entries = run(s, move |ctx| commit(ctx, &store, &p2, part.as_deref())).await??;
            fault("dest-after-entries");
            if s.ctx.is_murder_backend() {
                let mut p = Pusher::connect(&s.ctx).await?;
                for e in &entries {
                    let loc = murder::location(&s.ctx, &e.partition);
                    if let Err(err) = p.activate(&e.name, &loc, &e.acl).await {
                        p.finish().await;
                        return Err(err.into());
                    }
                }
                p.finish().await;
            }
            let _ = std::fs::remove_file(&path);
        }
        "ABORT" => {
            let id = words.next().filter(|i| valid_id(i)).ok_or_else(bad)?;
            let path = dir.join(format!("{id}.in"));
            run(s, move |ctx| abort(ctx, &store, &path)).await??;
        }
        _ => return Err(bad()),
    }
    s.ok(tag);
    Ok(())
}

fn read_u32(r: &mut impl Read) -> Result<u32, StoreError> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)
        .map_err(|_| StoreError::BadStream("truncated bundle".into()))?;
    Ok(u32::from_le_bytes(b))
}

fn read_bytes(r: &mut impl Read, what: &str) -> Result<Vec<u8>, StoreError> {
    let n = read_u32(r)?;
    if n > MAX_ENTRY_LEN {
        return Err(StoreError::BadStream(format!("{what} too long")));
    }
    let mut v = vec![0u8; n as usize];
    r.read_exact(&mut v)
        .map_err(|_| StoreError::BadStream("truncated bundle".into()))?;
    Ok(v)
}

/// Reads a bundle's `mailboxes.db` entries, leaving `r` at the store stream.
fn read_entries(r: &mut impl Read) -> Result<Vec<MailboxEntry>, Fail> {
    let mut magic = vec![0u8; BUNDLE_MAGIC.len()];
    r.read_exact(&mut magic)
        .map_err(|_| StoreError::BadStream("truncated bundle".into()))?;
    if magic != BUNDLE_MAGIC {
        return Err(StoreError::BadStream("not a transfer bundle".into()).into());
    }
    let count = read_u32(r)?;
    if count > MAX_ENTRIES {
        return Err(StoreError::BadStream("too many entries".into()).into());
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        let name = String::from_utf8(read_bytes(r, "name")?)
            .map_err(|_| StoreError::BadStream("bad name".into()))?;
        let enc = read_bytes(r, "entry")?;
        entries.push(MailboxEntry::decode(name, &enc)?);
    }
    Ok(entries)
}

/// Drops what a failed transfer left here: the entries (when they still carry the
/// transferred uniqueid), their store data, quota roots, the moved user's per-user data and
/// the spool. The source only asks when the
/// master does not name this server for any of them.
fn abort(ctx: &Context, store: &Store, path: &std::path::Path) -> Result<(), Fail> {
    let Ok(f) = std::fs::File::open(path) else {
        // Nothing received, or already committed and cleaned up: nothing to drop.
        return Ok(());
    };
    let Ok(entries) = read_entries(&mut BufReader::new(f)) else {
        // A damaged head: COMMIT stopped before writing anything.
        let _ = std::fs::remove_file(path);
        return Ok(());
    };
    ctx.mboxdb.write(|tx| {
        for e in &entries {
            if tx.get(&e.name)?.is_some_and(|l| l.uniqueid == e.uniqueid) {
                tx.delete(&e.name);
            }
        }
        Ok(())
    })?;
    for e in &entries {
        if let Ok(id) = MailboxId::new(&e.uniqueid) {
            store.delete_mailbox(&id)?;
        }
        store.remove_quota(&e.name)?;
        // A user move brought the user's own data too (this server held none of theirs).
        if let Some(user) = InternalName::new(&e.name)
            .ok()
            .filter(InternalName::is_user_inbox)
            .and_then(|n| n.owner())
        {
            store.delete_user_data(&user, false)?;
        }
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Imports a bundle and writes the entries (local, on their new partition). Returns them.
fn commit(
    ctx: &Context,
    store: &Store,
    path: &std::path::Path,
    partition: Option<&str>,
) -> Result<Vec<MailboxEntry>, Fail> {
    let f = std::fs::File::open(path)
        .map_err(|_| Fail::no(format!("{COMMAND}: nothing received for this transfer")))?;
    let mut r = BufReader::new(f);
    let mut entries = read_entries(&mut r)?;
    for e in &mut entries {
        for f in [MbFlags::MOVING, MbFlags::RESERVED, MbFlags::REMOTE] {
            e.flags.set(f, false);
        }
        e.server = None;
        if let Some(p) = partition {
            e.partition = p.to_owned();
        }
    }
    store.import(&mut r, partition)?;
    fault("dest-after-import");
    ctx.mboxdb.write(|tx| {
        for e in &entries {
            tx.put(e);
        }
        Ok(())
    })?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_ids_are_checked() {
        assert!(valid_id("backend1-abc_12"));
        assert!(!valid_id(""));
        assert!(!valid_id("../x"));
        assert!(!valid_id(&"a".repeat(121)));
    }

    #[test]
    fn a_root_is_moved_by_one_xfer_at_a_time() {
        let a = Running::claim("user.test-running").unwrap();
        assert!(Running::claim("user.test-running").is_none());
        assert!(Running::claim("user.test-running2").is_some());
        drop(a);
        assert!(Running::claim("user.test-running").is_some());
    }

    #[test]
    fn bundle_heads_read_back() {
        let mut e = MailboxEntry {
            name: "user.bob.Sent".into(),
            partition: "default".into(),
            acl: "bob\tlrswipkxtecdan\t".into(),
            uniqueid: "abc123".into(),
            uidvalidity: 7,
            ..MailboxEntry::default()
        };
        e.flags.set(MbFlags::MOVING, true);
        let mut head = BUNDLE_MAGIC.to_vec();
        head.extend_from_slice(&1u32.to_le_bytes());
        let enc = e.encode();
        head.extend_from_slice(&(e.name.len() as u32).to_le_bytes());
        head.extend_from_slice(e.name.as_bytes());
        head.extend_from_slice(&(enc.len() as u32).to_le_bytes());
        head.extend_from_slice(&enc);
        head.extend_from_slice(b"rest");
        let mut r = &head[..];
        assert_eq!(read_entries(&mut r).unwrap(), vec![e]);
        assert_eq!(r, b"rest");
        // Every truncation is an error, never a panic.
        for n in 0..head.len() - 4 {
            let mut r = &head[..n];
            assert!(read_entries(&mut r).is_err(), "{n}");
        }
        let mut bad = head.clone();
        bad[0] = b'X';
        assert!(read_entries(&mut &bad[..]).is_err());
    }

    #[test]
    fn refusal_text_names_the_identity() {
        assert_eq!(
            not_admin("backend1"),
            "the destination refuses backend1: not an admin there"
        );
    }
}
