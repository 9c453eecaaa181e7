//! `proxyd`: the frontend's IMAP proxy (reference §4). It is `imapd` on a host with
//! `mupdate_server` set and no `proxyservers`: the client logs in on the frontend (the
//! [`crate::imapd::Session`] code), then each command is answered here from the local copy of
//! the MUPDATE database or relayed to the backend holding its mailbox:
//!
//! | commands | where |
//! |---|---|
//! | CAPABILITY, ID, NAMESPACE, LOGOUT, GETACL, MYRIGHTS, LISTRIGHTS | here |
//! | ENABLE | here, then on every backend connection of the session, now and later |
//! | LIST, RLIST | here; with RETURN/selection options, subscriptions from the INBOX backend and special-use and STATUS from each mailbox's backend ([`list`]) |
//! | SELECT, EXAMINE | the mailbox's backend, which becomes the current one |
//! | FETCH, STORE, SEARCH, UID …, EXPUNGE, CLOSE, UNSELECT, CHECK, IDLE, NOOP | the current backend |
//! | COPY, MOVE | the current backend, or emulated across backends (§4.7) |
//! | LSUB, RLSUB, SUBSCRIBE, UNSUBSCRIBE | the INBOX backend |
//! | GETQUOTA, SETQUOTA | the quota root's backend, if the whole hierarchy lives there |
//! | CREATE | the server named, the parent's, or the least used one; then the slave is kicked |
//! | DELETE, RENAME (XFER for another server), STATUS, APPEND, ACL changes, GETQUOTAROOT, metadata | the mailbox's backend |
//!
//! Relayed commands keep the client's tag and bytes; a synchronising literal (already answered
//! by our framer) goes on as `{n+}`. Responses are relayed byte for byte up to the tagged one.
//! A backend that cannot be reached gives `NO [UNAVAILABLE]`; losing the selected one ends the
//! client's session with `BYE`, as Cyrus does. Nothing here touches other sessions.
//!
//! As in Cyrus, a command that does not concern the selected mailbox's backend is followed by
//! a `NOOP` there, whose untagged data (EXISTS, EXPUNGE, ...) the client gets before its tagged
//! answer. Cached connections to other backends are closed after `proxyd_backend_timeout`
//! (default 5 minutes) without use, and reopened when needed. Clients that announced they
//! follow referrals (RLIST, RLSUB, `LIST (REMOTE)`) get `NO [REFERRAL ...]` for SELECT,
//! EXAMINE, APPEND, DELETE, admins' CREATE and ACL changes, and STATUS with
//! `proxyd_allow_status_referral`; `proxyd_disable_mailbox_referrals` turns referrals off.
//!
//! Unlike Cyrus, a session that ends with LOGOUT hands its backend connections to a pool
//! ([`backend::Pool`]) after `UNAUTHENTICATE` (RFC 8437) when the backend offers it (ours
//! does; Cyrus 3.6 does not, and gets LOGOUT as before): the next session's first command to
//! that backend then costs one AUTHENTICATE, as the proxy user for its own user, instead of a
//! new connection. `proxyd_backend_pool` (our option) sets how many are kept per backend
//! (default 32; 0 turns the pool off).

pub mod backend;
pub mod list;
pub mod lmtp;
pub mod pop3;

use std::collections::HashMap;
use std::time::Duration;

use protocol::acl::{Acl, Rights};
use protocol::imap::command::{Command, CommandBody, CreateArgs, CreateParam};
use protocol::imap::framing::literal_header;
use protocol::imap::response::{Data, FetchItem, Response};
use protocol::imap::types::{Flag, Tag};
use protocol::mailbox::InternalName;

use crate::imapd::{End, HResult, Phase, Session};
use crate::mboxdb::{MailboxEntry, MbState};
use backend::{tagged_ok, Backend, BackendError};

/// How long a lookup miss waits for the local slave to catch up.
pub const KICK_TIMEOUT: Duration = Duration::from_secs(5);

/// A cached connection idle longer than this gets a NOOP before it is reused.
const STALE_AFTER: Duration = Duration::from_secs(5);

/// How long a cached backend connection that holds no selected mailbox may stay idle before
/// it is closed (Cyrus closes them after 5 minutes). `proxyd_backend_timeout` (our option, a
/// duration) changes it; the next command that needs that backend reconnects.
pub const BACKEND_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

const UNAVAILABLE: &str = "Server(s) unavailable to complete operation";

/// A session's backend connections.
#[derive(Default)]
pub struct State {
    conns: HashMap<String, Backend>,
    /// The backend holding the selected mailbox.
    current: Option<String>,
    /// A referral went out: the client may have changed the backend directly, so the next
    /// command first waits for the local slave to catch up (reference §1.10).
    kick_next: bool,
    /// The command being routed talked to the current backend (so its pending untagged data
    /// reached the client; otherwise a NOOP fetches it, reference §4.3 `imapd_check`).
    used_current: bool,
    /// `proxyd_backend_timeout`, read on first use.
    idle_limit: Option<Duration>,
}

impl State {
    /// The server holding the selected mailbox.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// The servers this session holds a connection to.
    pub fn open_servers(&self) -> Vec<String> {
        let mut v: Vec<String> = self.conns.keys().cloned().collect();
        v.sort();
        v
    }
}

fn idle_limit(s: &mut Session) -> Duration {
    if let Some(d) = s.proxy.idle_limit {
        return d;
    }
    let d = s
        .ctx
        .conf
        .get_duration("proxyd_backend_timeout")
        .filter(|d| !d.is_zero())
        .unwrap_or(BACKEND_IDLE_TIMEOUT);
    s.proxy.idle_limit = Some(d);
    d
}

/// When the next cached backend connection (not the selected one) becomes idle too long.
pub fn next_expiry(s: &mut Session) -> Option<tokio::time::Instant> {
    if s.proxy.conns.is_empty() {
        return None;
    }
    let limit = idle_limit(s);
    let current = s.proxy.current.as_deref();
    s.proxy
        .conns
        .values()
        .filter(|b| Some(b.server.as_str()) != current)
        .map(|b| tokio::time::Instant::from_std(b.last_used) + limit)
        .min()
}

/// Closes the cached backend connections idle for too long (never the selected one); the
/// next command that needs one of those backends opens a new connection.
pub async fn expire_idle(s: &mut Session) {
    let limit = idle_limit(s);
    let current = s.proxy.current.clone();
    let expired: Vec<String> = s
        .proxy
        .conns
        .values()
        .filter(|b| Some(&b.server) != current.as_ref() && b.last_used.elapsed() >= limit)
        .map(|b| b.server.clone())
        .collect();
    for server in expired {
        if let Some(b) = s.proxy.conns.remove(&server) {
            tracing::debug!(peer = %s.peer, backend = %server, "closing an idle backend connection");
            b.logout().await;
        }
    }
}

/// Why a lookup gave no usable mailbox: the tagged NO to send.
struct Miss(&'static str);

/// Turns synchronising literals of a client message into non-synchronising ones (the frontend
/// already sent the `+`); everything else is copied as is.
pub fn to_nonsync(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 8);
    let mut rest = raw;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| p + 2)
            .unwrap_or(rest.len());
        let (line, tail) = rest.split_at(end);
        let body = line.strip_suffix(b"\r\n").unwrap_or(line);
        match literal_header(line) {
            Some(h) => {
                if h.sync {
                    // `{n}` → `{n+}`: the closing brace is the line's last byte.
                    let open = body.len().saturating_sub(1);
                    out.extend_from_slice(body.get(..open).unwrap_or(body));
                    out.extend_from_slice(b"+}\r\n");
                } else {
                    out.extend_from_slice(line);
                }
                let n = usize::try_from(h.len).unwrap_or(usize::MAX).min(tail.len());
                let (lit, after) = tail.split_at(n);
                out.extend_from_slice(lit);
                rest = after;
            }
            None => {
                out.extend_from_slice(line);
                rest = tail;
            }
        }
    }
    out
}

/// An IMAP astring sent as a non-synchronising literal (any bytes are safe that way).
fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{{{}+}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// An astring as an atom when it is one (what Cyrus needs where it reads only atoms), else a
/// non-synchronising literal.
fn atom_or_literal(out: &mut Vec<u8>, bytes: &[u8]) {
    let atom = !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(b));
    if atom {
        out.extend_from_slice(bytes);
    } else {
        literal(out, bytes);
    }
}

/// The tag's bytes.
fn tag_bytes(tag: &Tag) -> Vec<u8> {
    let mut v = Vec::new();
    Response::Tagged {
        tag: tag.clone(),
        kind: protocol::imap::response::Completion::Ok,
        text: Default::default(),
    }
    .encode(&mut v);
    let end = v.iter().position(|b| *b == b' ').unwrap_or(v.len());
    v.truncate(end);
    v
}

/// URL-encodes a mailbox name for a referral (RFC 2192 `achar`s stay as they are).
fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$'()*+,;=:@&".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn kick(s: &Session) {
    if let Some(dir) = s.ctx.conf.configdirectory() {
        crate::mupdate::slave::kick(std::path::Path::new(&dir), KICK_TIMEOUT).await;
    }
}

fn db_get(s: &Session, name: &str) -> Option<MailboxEntry> {
    s.ctx.mboxdb.get(name).ok().flatten()
}

/// Finds a mailbox by its internal name (kicking the slave once on a miss) and checks that the
/// user may see it: `l`, or `r`.
async fn lookup_internal(s: &Session, name: &InternalName) -> Result<MailboxEntry, Miss> {
    let mut entry = db_get(s, name.as_str());
    let usable = |e: &Option<MailboxEntry>| {
        e.as_ref().is_some_and(|e| {
            matches!(
                e.state(),
                MbState::Remote | MbState::Local | MbState::Reserved
            )
        })
    };
    if !usable(&entry) {
        kick(s).await;
        entry = db_get(s, name.as_str());
    }
    let Some(entry) = entry else {
        return Err(Miss("Mailbox does not exist"));
    };
    match entry.state() {
        MbState::Reserved => return Err(Miss("Mailbox is currently reserved")),
        MbState::Remote | MbState::Local => {}
        _ => return Err(Miss("Mailbox does not exist")),
    }
    let rights = s.rights(&entry);
    if !rights.contains(Rights::LOOKUP) && !rights.contains(Rights::READ) {
        return Err(Miss("Mailbox does not exist"));
    }
    if entry.server.as_deref().unwrap_or("").is_empty() {
        return Err(Miss(UNAVAILABLE));
    }
    Ok(entry)
}

async fn lookup(s: &Session, external: &[u8]) -> Result<(InternalName, MailboxEntry), Miss> {
    let name = s
        .internal_name(external)
        .ok_or(Miss("Mailbox does not exist"))?;
    let e = lookup_internal(s, &name).await?;
    Ok((name, e))
}

fn server_of(e: &MailboxEntry) -> String {
    e.server.clone().unwrap_or_default()
}

/// Gets a connection to `server` (cached for the session, checked if idle for a while).
async fn backend(s: &mut Session, server: &str) -> Result<Backend, BackendError> {
    if s.proxy.current.as_deref() == Some(server) {
        s.proxy.used_current = true;
    }
    if let Some(mut b) = s.proxy.conns.remove(server) {
        let fresh = b.last_used.elapsed() < STALE_AFTER;
        if fresh || s.proxy.current.as_deref() == Some(server) || b.alive().await {
            return Ok(b);
        }
    }
    let user = s.user_name().to_owned();
    let mut b = Backend::connect_pooled(&s.ctx.conf, server, &user, &s.ctx.backend_pool).await?;
    // The client's ENABLEd extensions hold on every backend of the session (§4.3); the
    // client already had its one ENABLED answer, so the backend's is not relayed.
    if !s.enabled.is_empty() {
        let cmd = format!("ENABLE {}", s.enabled.join(" "));
        b.command(cmd.as_bytes()).await?;
    }
    Ok(b)
}

/// ENABLE: answered here (one ENABLED line for the client), then sent on to every backend the
/// session holds a connection to; backends opened later get it when they are opened.
async fn enable(s: &mut Session, cmd: Command) -> HResult {
    let before = s.enabled.clone();
    s.dispatch(cmd).await?;
    let new: Vec<String> = s
        .enabled
        .iter()
        .filter(|c| !before.contains(c))
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let text = format!("ENABLE {}", new.join(" "));
    for server in s.proxy.open_servers() {
        let Some(mut b) = s.proxy.conns.remove(&server) else {
            continue;
        };
        match b.command(text.as_bytes()).await {
            Ok((untagged, _)) => {
                // Anything else the backend had pending still goes to the client.
                for l in untagged {
                    if !l.starts_with(b"* ENABLED") {
                        s.out.extend_from_slice(&l);
                    }
                }
                put_back(s, b);
            }
            Err(e) => {
                tracing::warn!(peer = %s.peer, "backend {e}");
                if s.proxy.current.as_deref() == Some(server.as_str()) {
                    lost_current(s);
                }
            }
        }
    }
    Ok(())
}

/// The backend holding the selected mailbox went away: the session ends with BYE (§4.3).
fn lost_current(s: &mut Session) {
    s.proxy.current = None;
    s.out
        .extend_from_slice(b"* BYE Fatal error: Lost connection to selected backend\r\n");
    s.phase = Phase::Logout;
}

/// Before answering a command that did not concern the selected mailbox's backend, ask it for
/// news (`NOOP`) and give the client its untagged data (EXISTS, EXPUNGE, FETCH) ahead of the
/// tagged answer, as Cyrus's `imapd_check` does.
async fn check_current(s: &mut Session, tag: &Tag) {
    let Some(server) = s.proxy.current.clone() else {
        return;
    };
    let Some(mut b) = s.proxy.conns.remove(&server) else {
        return;
    };
    match b.command(b"NOOP").await {
        Ok((untagged, _)) => {
            put_back(s, b);
            if untagged.is_empty() {
                return;
            }
            let news: Vec<u8> = untagged.concat();
            let at = tagged_start(&s.out, &tag_bytes(tag)).unwrap_or(s.out.len());
            s.out.splice(at..at, news);
        }
        Err(e) => {
            tracing::warn!(peer = %s.peer, "backend {e}");
            lost_current(s);
        }
    }
}

/// Where the tagged line for `tag` starts in the queued output: it is the last line (a
/// tagged line carries no literal).
fn tagged_start(out: &[u8], tag: &[u8]) -> Option<usize> {
    let body = out.strip_suffix(b"\r\n")?;
    let start = body
        .windows(2)
        .rposition(|w| w == b"\r\n")
        .map_or(0, |p| p + 2);
    let line = out.get(start..)?;
    (line.starts_with(tag) && line.get(tag.len()) == Some(&b' ')).then_some(start)
}

fn put_back(s: &mut Session, b: Backend) {
    s.proxy.conns.insert(b.server.clone(), b);
}

/// The server holding the user's INBOX.
async fn inbox_server(s: &Session) -> Result<String, Miss> {
    let name = s
        .internal_name(b"INBOX")
        .ok_or(Miss("Mailbox does not exist"))?;
    lookup_internal(s, &name).await.map(|e| server_of(&e))
}

/// Relays a backend's responses to the client until the tagged one for `tag`, which is
/// relayed too (unless `swallow_tagged`) and returned.
async fn relay(
    s: &mut Session,
    b: &mut Backend,
    tag: &[u8],
    swallow_tagged: bool,
) -> Result<Vec<u8>, BackendError> {
    let mut prefix = tag.to_vec();
    prefix.push(b' ');
    loop {
        let l = b.line().await?;
        if l.starts_with(&prefix) {
            if !swallow_tagged {
                s.out.extend_from_slice(&l);
            }
            return Ok(l);
        }
        s.out.extend_from_slice(&l);
        if s.out.len() > 64 * 1024 {
            let _ = s.flush().await;
        }
    }
}

/// Sends a client's command (tag and bytes kept) to `server` and relays the answer. Returns
/// the tagged line, or `None` when the backend failed (the client has been told).
async fn forward(
    s: &mut Session,
    server: &str,
    tag: &Tag,
    raw: &[u8],
) -> Result<Option<Vec<u8>>, End> {
    let mut b = match backend(s, server).await {
        Ok(b) => b,
        Err(e) => {
            unavailable(s, tag, server, &e)?;
            return Ok(None);
        }
    };
    let tb = tag_bytes(tag);
    let msg = to_nonsync(raw);
    let res = match b.send(&msg).await {
        Ok(()) => relay(s, &mut b, &tb, false).await,
        Err(e) => Err(e),
    };
    match res {
        Ok(l) => {
            put_back(s, b);
            Ok(Some(l))
        }
        Err(e) => {
            unavailable(s, tag, server, &e)?;
            Ok(None)
        }
    }
}

/// Reports a backend failure: `BYE` when it held the selected mailbox (the session ends),
/// else `NO [UNAVAILABLE]`.
fn unavailable(s: &mut Session, tag: &Tag, server: &str, e: &BackendError) -> HResult {
    if unavailable_line(s, server, e) {
        return Ok(());
    }
    match e {
        BackendError::AuthFailed { .. } => s.no_code(
            tag,
            protocol::imap::response::Code::Unavailable,
            "Authentication to backend server failed",
        ),
        BackendError::Unavailable { .. } => s.no_code(
            tag,
            protocol::imap::response::Code::Unavailable,
            UNAVAILABLE,
        ),
    }
    Ok(())
}

/// Forgets a failed backend connection; when it held the selected mailbox the session ends
/// with `BYE` (returns true then).
fn unavailable_line(s: &mut Session, server: &str, e: &BackendError) -> bool {
    tracing::warn!(peer = %s.peer, "backend {e}");
    s.proxy.conns.remove(server);
    if s.proxy.current.as_deref() == Some(server) {
        lost_current(s);
        return true;
    }
    false
}

/// Whether this session gets referrals instead of proxying: the client showed it follows
/// them (RLIST, RLSUB, `LIST (REMOTE)`) and `proxyd_disable_mailbox_referrals` is off.
fn referrals(s: &Session) -> bool {
    s.referrals_ok && !s.ctx.conf.get_switch("proxyd_disable_mailbox_referrals")
}

fn miss(s: &mut Session, tag: &Tag, m: Miss) -> HResult {
    s.no(tag, m.0);
    Ok(())
}

/// `NO [REFERRAL imap://;AUTH=*@server/mailbox] Remote mailbox.`
///
/// When imapd.conf gives the backend's address (`<shorthost>_imap`, a one-host murder), the URL
/// carries that `host:port`, which a client can reach, instead of the bare server name.
fn refer(s: &mut Session, tag: &Tag, server: &str, external: &[u8]) -> HResult {
    let key = format!("{}_imap", crate::backends::short_host(server));
    let reachable = s.ctx.conf.get_raw(&key).map(str::to_owned);
    let server = reachable.as_deref().unwrap_or(server);
    let name = String::from_utf8_lossy(external);
    s.proxy.kick_next = true;
    let line = format!(
        "{} NO [REFERRAL imap://;AUTH=*@{server}/{}] Remote mailbox.\r\n",
        String::from_utf8_lossy(&tag_bytes(tag)),
        url_encode(&name)
    );
    s.out.extend_from_slice(line.as_bytes());
    Ok(())
}

/// Routes one command of an authenticated frontend session. A command that did not talk to
/// the selected mailbox's backend is followed by a check of that backend (see
/// [`check_current`]).
pub async fn dispatch(s: &mut Session, raw: Vec<u8>, cmd: Command) -> HResult {
    let tag = cmd.tag.clone();
    if std::mem::take(&mut s.proxy.kick_next) {
        kick(s).await;
    }
    let logout = matches!(cmd.body, CommandBody::Logout);
    s.proxy.used_current = false;
    route(s, raw, cmd).await?;
    if !logout && s.phase != Phase::Logout && !s.proxy.used_current {
        check_current(s, &tag).await;
    }
    Ok(())
}

async fn route(s: &mut Session, raw: Vec<u8>, cmd: Command) -> HResult {
    let tag = cmd.tag.clone();
    match &cmd.body {
        CommandBody::Noop
        | CommandBody::Check
        | CommandBody::Expunge
        | CommandBody::UidExpunge { .. }
        | CommandBody::Fetch { .. }
        | CommandBody::Store { .. }
        | CommandBody::Search { .. }
            if s.proxy.current.is_some() || !matches!(cmd.body, CommandBody::Noop) =>
        {
            to_current(s, &tag, &raw).await
        }
        CommandBody::Close | CommandBody::Unselect => {
            let r = to_current(s, &tag, &raw).await;
            if s.phase != Phase::Logout {
                s.proxy.current = None;
                s.phase = Phase::Authenticated;
            }
            r
        }
        CommandBody::Idle => idle(s, &tag, &raw).await,
        CommandBody::Enable(_) => enable(s, cmd).await,
        CommandBody::Logout => {
            // Each backend connection goes back to the pool for the next session (or gets a
            // LOGOUT when the backend cannot UNAUTHENTICATE).
            for (_, b) in s.proxy.conns.drain() {
                b.release(&s.ctx.backend_pool).await;
            }
            s.proxy.current = None;
            s.dispatch(cmd).await
        }
        CommandBody::Select { mailbox, .. } | CommandBody::Examine { mailbox, .. } => {
            let mailbox = mailbox.clone();
            select(s, &tag, &mailbox, &raw).await
        }
        CommandBody::Lsub { .. } | CommandBody::Rlsub { .. } => {
            if matches!(cmd.body, CommandBody::Rlsub { .. }) {
                s.referrals_ok = true;
            }
            lsub(s, &tag, &raw).await
        }
        CommandBody::Unsubscribe { .. } => to_inbox_backend(s, &tag, &raw).await,
        CommandBody::Subscribe { mailbox } => {
            if let Err(m) = lookup(s, mailbox).await {
                return miss(s, &tag, m);
            }
            to_inbox_backend(s, &tag, &raw).await
        }
        CommandBody::Create { mailbox, args } => {
            let (mailbox, args) = (mailbox.clone(), args.clone());
            create(s, &tag, &mailbox, args, &raw).await
        }
        CommandBody::Rename { from, to, location } => {
            let (from, mut to, mut location) = (from.clone(), to.clone(), location.clone());
            // The seed document's form, `RENAME user.x user.x!backend2[!partition]`: the
            // server rides on the new name (Cyrus 2's frontends; 3.6 refuses it).
            if location.is_none() {
                if let Some(i) = to.iter().position(|b| *b == b'!') {
                    let (name, rest) = to.split_at(i);
                    let mut loc = rest.get(1..).unwrap_or_default().to_vec();
                    if !loc.contains(&b'!') {
                        // A bare word here is always a server (the default partition).
                        loc.push(b'!');
                    }
                    location = Some(loc);
                    to = name.to_vec();
                }
            }
            rename(s, &tag, &from, &to, location.as_deref(), &raw).await
        }
        CommandBody::Delete { mailbox } => {
            let mailbox = mailbox.clone();
            let r = to_mailbox(s, &tag, &mailbox, &raw, true).await;
            kick(s).await;
            r
        }
        CommandBody::SetAcl { mailbox, .. } | CommandBody::DeleteAcl { mailbox, .. } => {
            let mailbox = mailbox.clone();
            let r = to_mailbox(s, &tag, &mailbox, &raw, s.is_admin()).await;
            kick(s).await;
            r
        }
        CommandBody::Append { mailbox, .. } => {
            let mailbox = mailbox.clone();
            to_mailbox(s, &tag, &mailbox, &raw, true).await
        }
        CommandBody::GetMetadata {
            mailbox, entries, ..
        } if !mailbox.is_empty() => {
            let (mailbox, entries) = (mailbox.clone(), entries.clone());
            get_metadata(s, &tag, &mailbox, &entries, &raw).await
        }
        CommandBody::Status { mailbox, .. } if !mailbox.is_empty() => {
            // STATUS is referred only when the administrator allows it (§4.10).
            let mailbox = mailbox.clone();
            let referable = s.ctx.conf.get_switch("proxyd_allow_status_referral");
            to_mailbox(s, &tag, &mailbox, &raw, referable).await
        }
        CommandBody::GetQuotaRoot { mailbox }
        | CommandBody::SetMetadata { mailbox, .. }
        | CommandBody::GetMetadata { mailbox, .. }
            if !mailbox.is_empty() =>
        {
            let mailbox = mailbox.clone();
            to_mailbox(s, &tag, &mailbox, &raw, false).await
        }
        CommandBody::GetQuota { root } | CommandBody::SetQuota { root, .. } => {
            let root = root.clone();
            let get = matches!(cmd.body, CommandBody::GetQuota { .. });
            quota(s, &tag, &root, get, &raw).await
        }
        CommandBody::Copy { mailbox, uid, .. } | CommandBody::Move { mailbox, uid, .. } => {
            let is_move = matches!(cmd.body, CommandBody::Move { .. });
            let (mailbox, uid) = (mailbox.clone(), *uid);
            let set = match &cmd.body {
                CommandBody::Copy { set, .. } | CommandBody::Move { set, .. } => {
                    let mut v = Vec::new();
                    set.write(&mut v);
                    v
                }
                _ => Vec::new(),
            };
            copy(s, &tag, &mailbox, uid, &set, is_move, &raw).await
        }
        CommandBody::Reconstruct { mailbox, .. } => {
            let mailbox = mailbox.clone();
            match lookup(s, &mailbox).await {
                Ok((_, e)) if s.is_admin() => refer(s, &tag, &server_of(&e), &mailbox),
                Ok(_) => {
                    s.no(&tag, "Permission denied");
                    Ok(())
                }
                Err(m) => miss(s, &tag, m),
            }
        }
        CommandBody::Xfer { .. }
        | CommandBody::MupdatePush { .. }
        | CommandBody::LocalCreate { .. }
        | CommandBody::LocalDelete { .. } => {
            s.bad(&tag, "Unrecognized command");
            Ok(())
        }
        // CAPABILITY, ID, NAMESPACE, ENABLE, plain LIST/RLIST, ACL questions: answered here.
        _ => s.dispatch(cmd).await,
    }
}

async fn to_current(s: &mut Session, tag: &Tag, raw: &[u8]) -> HResult {
    let Some(server) = s.proxy.current.clone() else {
        s.bad(tag, "Please select a mailbox first");
        return Ok(());
    };
    forward(s, &server, tag, raw).await.map(|_| ())
}

async fn to_inbox_backend(s: &mut Session, tag: &Tag, raw: &[u8]) -> HResult {
    match inbox_server(s).await {
        Ok(server) => forward(s, &server, tag, raw).await.map(|_| ()),
        // No INBOX anywhere: say so rather than an empty list (reference §4.5).
        Err(m) => miss(s, tag, m),
    }
}

/// LSUB on the INBOX backend. That backend knows only its own mailboxes, so a subscribed
/// mailbox held elsewhere comes back `\Noselect`; the flag is dropped when the mailbox exists
/// in the murder (reference §4.5).
async fn lsub(s: &mut Session, tag: &Tag, raw: &[u8]) -> HResult {
    let server = match inbox_server(s).await {
        Ok(v) => v,
        Err(m) => return miss(s, tag, m),
    };
    let mut b = match backend(s, &server).await {
        Ok(b) => b,
        Err(e) => return unavailable(s, tag, &server, &e),
    };
    let tb = tag_bytes(tag);
    let mut prefix = tb.clone();
    prefix.push(b' ');
    let res: Result<(), BackendError> = async {
        b.send(&to_nonsync(raw)).await?;
        loop {
            let l = b.line().await?;
            if l.starts_with(&prefix) {
                s.out.extend_from_slice(&l);
                return Ok(());
            }
            match Response::parse(&l) {
                Ok(Response::Data(Data::Lsub(mut m))) => {
                    let exists = s
                        .internal_name(&m.mailbox)
                        .and_then(|n| db_get(s, n.as_str()))
                        .is_some_and(|e| matches!(e.state(), MbState::Remote | MbState::Local));
                    if exists {
                        m.attributes.retain(|f| {
                            let f = f.to_string().to_ascii_lowercase();
                            f != "\\noselect" && f != "\\nonexistent"
                        });
                    }
                    Response::Data(Data::Lsub(m)).encode(&mut s.out);
                }
                _ => s.out.extend_from_slice(&l),
            }
        }
    }
    .await;
    match res {
        Ok(()) => {
            put_back(s, b);
            Ok(())
        }
        Err(e) => unavailable(s, tag, &server, &e),
    }
}

/// Sends a command to the backend of `mailbox`; a client that follows referrals gets one
/// instead when `referable`.
async fn to_mailbox(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    raw: &[u8],
    referable: bool,
) -> HResult {
    let (_, entry) = match lookup(s, mailbox).await {
        Ok(x) => x,
        Err(m) => return miss(s, tag, m),
    };
    let server = server_of(&entry);
    if referable && referrals(s) {
        return refer(s, tag, &server, mailbox);
    }
    forward(s, &server, tag, raw).await.map(|_| ())
}

/// The pseudo-entry a frontend answers itself with the mailbox's backend (reference §4.4).
const SERVER_ENTRY: &str = "/shared/vendor/cmu/cyrus-imapd/server";

/// Whether a GETMETADATA entry (a name, or a pattern ending in `*` or `%`) asks for
/// [`SERVER_ENTRY`].
fn wants_server_entry(entry: &[u8]) -> bool {
    let e = String::from_utf8_lossy(entry).to_ascii_lowercase();
    if let Some(prefix) = e.strip_suffix('*') {
        SERVER_ENTRY.starts_with(prefix)
    } else if let Some(prefix) = e.strip_suffix('%') {
        SERVER_ENTRY
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.contains('/'))
    } else {
        e == SERVER_ENTRY
    }
}

/// GETMETADATA on a mailbox: the backend's entries, then the server entry from the MUPDATE
/// copy when asked for (what cyradm's `info` shows on a Cyrus frontend).
async fn get_metadata(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    entries: &[Vec<u8>],
    raw: &[u8],
) -> HResult {
    let (_, entry) = match lookup(s, mailbox).await {
        Ok(x) => x,
        Err(m) => return miss(s, tag, m),
    };
    let server = server_of(&entry);
    let mut b = match backend(s, &server).await {
        Ok(b) => b,
        Err(e) => return unavailable(s, tag, &server, &e),
    };
    let tb = tag_bytes(tag);
    let res = match b.send(&to_nonsync(raw)).await {
        Ok(()) => relay(s, &mut b, &tb, true).await,
        Err(e) => Err(e),
    };
    match res {
        Ok(l) => {
            put_back(s, b);
            if tagged_ok(&l) && entries.iter().any(|e| wants_server_entry(e)) {
                s.out.extend_from_slice(b"* METADATA ");
                protocol::imap::syntax::write_astring(
                    &mut s.out,
                    mailbox,
                    protocol::imap::syntax::LiteralMode::NonSync,
                );
                s.out
                    .extend_from_slice(format!(" (\"{SERVER_ENTRY}\" ").as_bytes());
                // A value is a string, never an atom: quoted when it can be.
                if server
                    .bytes()
                    .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\')
                {
                    s.out.extend_from_slice(format!("\"{server}\"").as_bytes());
                } else {
                    literal(&mut s.out, server.as_bytes());
                }
                s.out.extend_from_slice(b")\r\n");
            }
            s.out.extend_from_slice(&l);
            Ok(())
        }
        Err(e) => unavailable(s, tag, &server, &e),
    }
}

/// GETQUOTA, SETQUOTA: to the backend holding the quota root, provided every mailbox under
/// the root is on that backend too (a quota is kept by one backend, reference §4.4).
async fn quota(s: &mut Session, tag: &Tag, root: &[u8], get: bool, raw: &[u8]) -> HResult {
    let (name, entry) = match lookup(s, root).await {
        Ok(x) => x,
        // Cyrus words a missing root differently for the two commands.
        Err(_) if get => return miss(s, tag, Miss("Quota root does not exist")),
        Err(m) => return miss(s, tag, m),
    };
    let server = server_of(&entry);
    let all = crate::imapd::mailboxes::subtree(&s.ctx, name.as_str()).unwrap_or_default();
    let split = all.iter().any(|e| {
        matches!(e.state(), MbState::Remote | MbState::Local)
            && e.server.as_deref() != Some(server.as_str())
    });
    if split {
        s.no(
            tag,
            "This mailbox hierarchy does not exist on a single backend server.",
        );
        return Ok(());
    }
    forward(s, &server, tag, raw).await.map(|_| ())
}

async fn select(s: &mut Session, tag: &Tag, mailbox: &[u8], raw: &[u8]) -> HResult {
    // SELECT either goes to the current backend or unselects there first: no check needed.
    s.proxy.used_current = true;
    let (_, entry) = match lookup(s, mailbox).await {
        Ok(x) => x,
        Err(m) => {
            // A failed SELECT leaves nothing selected (RFC 3501 §6.3.1).
            unselect_current(s).await;
            s.phase = Phase::Authenticated;
            return miss(s, tag, m);
        }
    };
    let server = server_of(&entry);
    if referrals(s) {
        return refer(s, tag, &server, mailbox);
    }
    if s.proxy.current.as_deref().is_some_and(|c| c != server) {
        unselect_current(s).await;
    }
    let was = s.proxy.current.take();
    if was.is_some() && was.as_deref() != Some(server.as_str()) {
        s.phase = Phase::Authenticated;
    }
    // While switching, the new backend is not yet "current": its loss is a NO, not a BYE.
    let tagged = forward(s, &server, tag, raw).await?;
    match tagged {
        Some(l) if tagged_ok(&l) => {
            s.proxy.current = Some(server);
            s.phase = Phase::Selected;
        }
        _ => {
            s.phase = Phase::Authenticated;
        }
    }
    Ok(())
}

/// Sends `UNSELECT` to the current backend, relaying its untagged output (errors ignored).
async fn unselect_current(s: &mut Session) {
    let Some(server) = s.proxy.current.take() else {
        return;
    };
    if let Some(mut b) = s.proxy.conns.remove(&server) {
        if let Ok((untagged, _)) = b.command(b"UNSELECT").await {
            for l in untagged {
                s.out.extend_from_slice(&l);
            }
            put_back(s, b);
        }
    }
}

/// CREATE: to the server named in the location, else the parent's server, else the least
/// used server (reference §2.3, §4.8); then the slave is kicked so the name shows at once.
async fn create(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    args: Option<CreateArgs>,
    raw: &[u8],
) -> HResult {
    let mut server: Option<String> = None;
    let mut partition: Option<Vec<u8>> = None;
    let mut rebuild = false;
    match &args {
        None => {}
        Some(CreateArgs::Partition(p)) => {
            rebuild = true;
            match p.iter().position(|b| *b == b'!') {
                Some(i) => {
                    let (srv, part) = (
                        p.get(..i).unwrap_or_default(),
                        p.get(i + 1..).unwrap_or_default(),
                    );
                    server = Some(String::from_utf8_lossy(srv).into_owned());
                    if !part.is_empty() {
                        partition = Some(part.to_vec());
                    }
                }
                None => partition = Some(p.clone()),
            }
        }
        Some(CreateArgs::Params(params)) => {
            for p in params {
                match p {
                    CreateParam::Server(v) => {
                        server = Some(String::from_utf8_lossy(v).into_owned());
                    }
                    CreateParam::Partition(v) => partition = Some(v.clone()),
                    _ => {}
                }
            }
        }
    }
    if (server.is_some() || partition.is_some()) && !s.is_admin() {
        s.no(tag, "Permission denied");
        return Ok(());
    }
    if server
        .as_deref()
        .is_some_and(|v| v.is_empty() || v.contains(|c: char| c.is_whitespace() || c.is_control()))
    {
        s.no(tag, "Invalid partition name");
        return Ok(());
    }
    let sep = s.ctx.namespace.separator();
    let ext = String::from_utf8_lossy(mailbox)
        .trim_end_matches(sep)
        .to_owned();
    let Some(name) = s.internal_name(ext.as_bytes()) else {
        s.no(tag, "Invalid mailbox name");
        return Ok(());
    };
    if let Some(e) = db_get(s, name.as_str()) {
        if !matches!(e.state(), MbState::Deleted) {
            s.no(tag, "Mailbox already exists");
            return Ok(());
        }
    }
    let server = match server {
        Some(v) => v,
        None => match parent_server(s, &name).or_else(|| least_used_server(s)) {
            Some(v) => v,
            None => {
                s.no_code(
                    tag,
                    protocol::imap::response::Code::Unavailable,
                    UNAVAILABLE,
                );
                return Ok(());
            }
        },
    };
    if referrals(s) && s.is_admin() {
        // As Cyrus: a server that cannot be reached is reported here, not referred to.
        match backend(s, &server).await {
            Ok(b) => put_back(s, b),
            Err(e) => return unavailable(s, tag, &server, &e),
        }
        return refer(s, tag, &server, mailbox);
    }
    let msg = if rebuild {
        // The server part only chooses the connection; the backend gets the partition.
        let mut m = tag_bytes(tag);
        m.extend_from_slice(b" CREATE ");
        literal(&mut m, mailbox);
        if let Some(p) = &partition {
            // Cyrus reads the partition as an atom only (a literal there is "Unknown/invalid
            // partition", and its bytes a new command).
            m.push(b' ');
            atom_or_literal(&mut m, p);
        }
        m.extend_from_slice(b"\r\n");
        m
    } else {
        raw.to_vec()
    };
    let r = forward(s, &server, tag, &msg).await;
    kick(s).await;
    r.map(|_| ())
}

/// The server of the nearest existing ancestor.
fn parent_server(s: &Session, name: &InternalName) -> Option<String> {
    let mut n = name.as_str().to_owned();
    while let Some(i) = n.rfind('.') {
        n.truncate(i);
        if let Some(e) = db_get(s, &n) {
            if e.state() == MbState::Remote {
                return e.server.clone();
            }
        }
    }
    None
}

/// The server holding the fewest mailboxes (`serverlist` limits the choice when set).
fn least_used_server(s: &Session) -> Option<String> {
    let all = s.ctx.mboxdb.all().ok()?;
    let mut counts: HashMap<String, usize> = HashMap::new();
    if let Some(list) = s.ctx.conf.get_raw("serverlist") {
        for v in list.split_whitespace() {
            counts.insert(v.to_owned(), 0);
        }
    }
    let restricted = !counts.is_empty();
    for e in all {
        let remote = e.state() == MbState::Remote;
        if let Some(v) = e.server {
            if remote {
                if let Some(c) = counts.get_mut(&v) {
                    *c += 1;
                } else if !restricted {
                    counts.insert(v, 1);
                }
            }
        }
    }
    let mut v: Vec<(usize, String)> = counts.into_iter().map(|(k, c)| (c, k)).collect();
    v.sort();
    v.into_iter().next().map(|(_, k)| k)
}

/// RENAME: on the source's backend; with a location naming another server, an XFER there
/// (reference §2.4, §4.9). A failed move is a tagged NO.
async fn rename(
    s: &mut Session,
    tag: &Tag,
    from: &[u8],
    to: &[u8],
    location: Option<&[u8]>,
    raw: &[u8],
) -> HResult {
    let (_, entry) = match lookup(s, from).await {
        Ok(x) => x,
        Err(m) => return miss(s, tag, m),
    };
    let source = server_of(&entry);
    let loc = location.map(|l| String::from_utf8_lossy(l).into_owned());
    let target = loc.as_deref().and_then(|l| match l.split_once('!') {
        Some((srv, part)) => Some((
            srv.to_owned(),
            Some(part.to_owned()).filter(|p| !p.is_empty()),
        )),
        // A bare word is a partition, unless it names a known server.
        None if is_known_server(s, l) => Some((l.to_owned(), None)),
        None => None,
    });
    let Some((server, part)) = target.filter(|(srv, _)| *srv != source) else {
        let r = forward(s, &source, tag, raw).await;
        kick(s).await;
        return r.map(|_| ());
    };
    if !s.is_admin() {
        s.no(tag, "Permission denied");
        return Ok(());
    }
    if from != to {
        s.no(
            tag,
            "Cross-server or cross-partition move w/rename not supported",
        );
        return Ok(());
    }
    let mut b = match backend(s, &source).await {
        Ok(b) => b,
        Err(e) => return unavailable(s, tag, &source, &e),
    };
    let mut msg = tag_bytes(tag);
    msg.extend_from_slice(b" XFER ");
    literal(&mut msg, from);
    msg.push(b' ');
    atom_or_literal(&mut msg, server.as_bytes());
    if let Some(p) = &part {
        // Cyrus takes the partition as an atom only (`BAD Invalid partition name in Xfer`).
        msg.push(b' ');
        atom_or_literal(&mut msg, p.as_bytes());
    }
    msg.extend_from_slice(b"\r\n");
    let tb = tag_bytes(tag);
    let mut prefix = tb.clone();
    prefix.push(b' ');
    let mut failure: Option<Vec<u8>> = None;
    let res: Result<Vec<u8>, BackendError> = async {
        b.send(&msg).await?;
        loop {
            let l = b.line().await?;
            if l.starts_with(&prefix) {
                return Ok(l);
            }
            // Cyrus reports a failed step as an untagged NO and still ends with OK.
            if l.starts_with(b"* NO ") && failure.is_none() {
                failure = l.get(5..).map(<[u8]>::to_vec);
            }
            s.out.extend_from_slice(&l);
        }
    }
    .await;
    match res {
        Ok(l) => {
            put_back(s, b);
            match (tagged_ok(&l), failure) {
                (true, Some(text)) => {
                    s.out.extend_from_slice(&tb);
                    s.out.extend_from_slice(b" NO ");
                    s.out.extend_from_slice(&text);
                }
                _ => s.out.extend_from_slice(&l),
            }
        }
        Err(e) => unavailable(s, tag, &source, &e)?,
    }
    kick(s).await;
    Ok(())
}

fn is_known_server(s: &Session, name: &str) -> bool {
    s.ctx
        .mboxdb
        .all()
        .map(|all| all.iter().any(|e| e.server.as_deref() == Some(name)))
        .unwrap_or(false)
}

/// COPY/MOVE: piped when the destination is on the current backend, else emulated: fetch from
/// the source, one MULTIAPPEND to the destination, then (MOVE) expunge the source only after
/// the destination accepted everything (reference §4.7).
#[allow(clippy::too_many_arguments)]
async fn copy(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    uid: bool,
    set: &[u8],
    is_move: bool,
    raw: &[u8],
) -> HResult {
    let Some(source) = s.proxy.current.clone() else {
        s.bad(tag, "Please select a mailbox first");
        return Ok(());
    };
    let (_, dest) = match lookup(s, mailbox).await {
        Ok(x) => x,
        Err(m) => {
            s.tagged(
                tag,
                protocol::imap::response::Completion::No,
                Some(protocol::imap::response::Code::TryCreate),
                m.0,
            );
            return Ok(());
        }
    };
    let dest_server = server_of(&dest);
    if dest_server == source {
        return forward(s, &source, tag, raw).await.map(|_| ());
    }
    if is_move && !s.rights(&dest).contains(Rights::INSERT) {
        s.no(tag, "Permission denied");
        return Ok(());
    }
    // 1. Pin the set to UIDs, with flags and dates.
    let mut src = match backend(s, &source).await {
        Ok(b) => b,
        Err(e) => return unavailable(s, tag, &source, &e),
    };
    let mut q = Vec::new();
    if uid {
        q.extend_from_slice(b"UID ");
    }
    q.extend_from_slice(b"FETCH ");
    q.extend_from_slice(set);
    q.extend_from_slice(b" (FLAGS INTERNALDATE UID)");
    let listing = match src.command(&q).await {
        Ok(x) => x,
        Err(e) => return unavailable(s, tag, &source, &e),
    };
    if !tagged_ok(&listing.1) {
        put_back(s, src);
        s.no(tag, "inter-server COPY failed");
        return Ok(());
    }
    let mut msgs: Vec<(u32, Vec<Flag>, Vec<u8>)> = Vec::new();
    for l in &listing.0 {
        match Response::parse(l) {
            Ok(Response::Data(Data::Fetch { items, .. })) => {
                let mut u = None;
                let mut flags = Vec::new();
                let mut date = Vec::new();
                for it in items {
                    match it {
                        FetchItem::Uid(v) => u = Some(v),
                        FetchItem::Flags(f) => {
                            flags = f.into_iter().filter(|f| *f != Flag::Recent).collect()
                        }
                        FetchItem::InternalDate(d) => d.write(&mut date),
                        _ => {}
                    }
                }
                if let Some(u) = u {
                    msgs.push((u, flags, date));
                }
            }
            // Other untagged data (EXISTS, EXPUNGE) concerns the client's selected mailbox.
            _ => s.out.extend_from_slice(l),
        }
    }
    if msgs.is_empty() {
        put_back(s, src);
        s.ok(tag);
        return Ok(());
    }
    // 2. Fetch each body and build one MULTIAPPEND.
    let mut append = tag_bytes(tag);
    append.extend_from_slice(b" APPEND ");
    literal(&mut append, mailbox);
    for (u, flags, date) in &msgs {
        let body = match src
            .command(format!("UID FETCH {u} (BODY.PEEK[])").as_bytes())
            .await
        {
            Ok((untagged, t)) if tagged_ok(&t) => {
                untagged.iter().find_map(|l| match Response::parse(l) {
                    Ok(Response::Data(Data::Fetch { items, .. })) => {
                        items.into_iter().find_map(|i| match i {
                            FetchItem::BodySection { data: Some(d), .. } => Some(d),
                            _ => None,
                        })
                    }
                    _ => None,
                })
            }
            Ok(_) => None,
            Err(e) => return unavailable(s, tag, &source, &e),
        };
        let Some(body) = body else {
            put_back(s, src);
            s.no(tag, "inter-server COPY failed");
            return Ok(());
        };
        append.extend_from_slice(b" (");
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                append.push(b' ');
            }
            append.extend_from_slice(f.to_string().as_bytes());
        }
        append.extend_from_slice(b") ");
        append.extend_from_slice(date);
        append.push(b' ');
        literal(&mut append, &body);
    }
    append.extend_from_slice(b"\r\n");
    put_back(s, src);
    // 3. Append on the destination; its answer is the client's.
    let mut dst = match backend(s, &dest_server).await {
        Ok(b) => b,
        Err(e) => return unavailable(s, tag, &dest_server, &e),
    };
    let tb = tag_bytes(tag);
    let res = match dst.send(&append).await {
        Ok(()) => relay(s, &mut dst, &tb, true).await,
        Err(e) => Err(e),
    };
    let tagged = match res {
        Ok(l) => {
            put_back(s, dst);
            l
        }
        Err(e) => return unavailable(s, tag, &dest_server, &e),
    };
    if !tagged_ok(&tagged) {
        s.out.extend_from_slice(&tagged);
        return Ok(());
    }
    // 4. MOVE: only now remove the originals.
    if is_move {
        let uids: Vec<String> = msgs.iter().map(|m| m.0.to_string()).collect();
        let uids = uids.join(",");
        let mut src = match backend(s, &source).await {
            Ok(b) => b,
            Err(e) => return unavailable(s, tag, &source, &e),
        };
        let r1 = src
            .command(format!("UID STORE {uids} +FLAGS.SILENT (\\Deleted)").as_bytes())
            .await;
        let r2 = match r1 {
            Ok(_) => src.command(format!("UID EXPUNGE {uids}").as_bytes()).await,
            Err(e) => Err(e),
        };
        match r2 {
            Ok((untagged, _)) => {
                for l in untagged {
                    s.out.extend_from_slice(&l);
                }
                put_back(s, src);
            }
            Err(e) => return unavailable(s, tag, &source, &e),
        }
    }
    // The destination's OK text carries APPENDUID; the client gets it as the COPY result.
    let text = tagged.get(tb.len()..).unwrap_or_default().to_vec();
    let text = String::from_utf8_lossy(&text).replacen("APPENDUID", "COPYUID", 1);
    s.out.extend_from_slice(&tb);
    s.out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// IDLE: relayed to the current backend until the client says DONE.
async fn idle(s: &mut Session, tag: &Tag, raw: &[u8]) -> HResult {
    let Some(server) = s.proxy.current.clone() else {
        s.bad(tag, "Please select a mailbox first");
        return Ok(());
    };
    let mut b = match backend(s, &server).await {
        Ok(b) => b,
        Err(e) => return unavailable(s, tag, &server, &e),
    };
    let tb = tag_bytes(tag);
    let mut prefix = tb.clone();
    prefix.push(b' ');
    if let Err(e) = b.send(raw).await {
        return unavailable(s, tag, &server, &e);
    }
    let mut done_sent = false;
    loop {
        s.flush().await?;
        tokio::select! {
            l = b.line() => match l {
                Ok(l) => {
                    s.out.extend_from_slice(&l);
                    if l.starts_with(&prefix) {
                        put_back(s, b);
                        return Ok(());
                    }
                }
                Err(e) => return unavailable(s, tag, &server, &e),
            },
            l = s.read_line(), if !done_sent => match l? {
                Some(line) => {
                    if let Err(e) = b.send(&line).await {
                        return unavailable(s, tag, &server, &e);
                    }
                    done_sent = true;
                }
                None => {
                    let _ = b.send(b"DONE\r\n").await;
                    done_sent = true;
                }
            },
        }
    }
}

/// The ACL rights of `user` on an entry, from the MUPDATE copy (used by the LMTP proxy).
pub fn entry_rights(entry: &MailboxEntry, user: &str) -> Rights {
    let acl = Acl::parse(&entry.acl).unwrap_or_default();
    acl.effective_rights(user, &[], false, false, Rights::DEFAULT_IMPLICIT_OWNER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonsync_rewrites_only_sync_literals() {
        assert_eq!(
            to_nonsync(b"a1 LOGIN {3}\r\nbob {2+}\r\npw\r\n"),
            b"a1 LOGIN {3+}\r\nbob {2+}\r\npw\r\n".to_vec()
        );
        // Literal bytes that look like a literal header are not touched.
        assert_eq!(
            to_nonsync(b"a APPEND x {5}\r\n{1}\r\n\r\n"),
            b"a APPEND x {5+}\r\n{1}\r\n\r\n".to_vec()
        );
        assert_eq!(to_nonsync(b"a NOOP\r\n"), b"a NOOP\r\n".to_vec());
    }

    #[test]
    fn partitions_go_as_atoms() {
        let mut v = Vec::new();
        atom_or_literal(&mut v, b"default");
        assert_eq!(v, b"default");
        let mut v = Vec::new();
        atom_or_literal(&mut v, b"a b");
        assert_eq!(v, b"{3+}\r\na b");
        let mut v = Vec::new();
        atom_or_literal(&mut v, b"");
        assert_eq!(v, b"{0+}\r\n");
    }

    #[test]
    fn server_entry_patterns() {
        assert!(wants_server_entry(b"/shared/*"));
        assert!(wants_server_entry(b"*"));
        assert!(wants_server_entry(b"/SHARED/vendor/cmu/cyrus-imapd/server"));
        assert!(wants_server_entry(b"/shared/vendor/cmu/cyrus-imapd/%"));
        assert!(!wants_server_entry(b"/shared/%"));
        assert!(!wants_server_entry(b"/private/*"));
        assert!(!wants_server_entry(b"/shared/comment"));
    }

    #[test]
    fn referral_urls() {
        assert_eq!(url_encode("user.bob/a b"), "user.bob%2Fa%20b");
    }
}
