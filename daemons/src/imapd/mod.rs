//! `imapd`: the backend IMAP server over the mail store (issue 4), and the base the frontend
//! proxy builds on.
//!
//! One process serves many connections. Each connection is a [`Session`]: a loop that frames
//! the client's input ([`protocol::imap::framing`]), parses each message into a typed command
//! and dispatches it to the handler module for its group:
//!
//! | module | commands |
//! |---|---|
//! | this one | CAPABILITY, NOOP, LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ID, ENABLE, NAMESPACE |
//! | [`mailboxes`] | CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, RLIST, RLSUB, STATUS |
//! | [`messages`] | SELECT, EXAMINE, CLOSE, UNSELECT, CHECK, EXPUNGE, APPEND, FETCH, STORE, SEARCH, COPY, MOVE, IDLE |
//! | [`admin`] | ACL, QUOTA, METADATA, RECONSTRUCT, XFER and the murder's MUPDATEPUSH, LOCALCREATE, LOCALDELETE |
//!
//! Storage calls block (LMDB and fsync), so handlers run them through
//! [`Session::blocking`].

pub mod admin;
pub mod mailboxes;
pub mod messages;
pub mod murder;
pub mod xfer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::acl::{Acl, Rights};
use protocol::config::imapd::ImapdConf;
use protocol::imap::command::{Command, CommandBody, IdField};
use protocol::imap::framing::{Frame, Framer, Limits, Role};
use protocol::imap::response::{Code, Completion, Condition, Data, RespText, Response, Text};
use protocol::imap::types::{Atom, Tag};
use protocol::mailbox::{InternalName, Namespace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::mboxdb::{MailboxDb, MailboxEntry};
use crate::net::{serve, ConnCounter, ConnGuard};
use crate::sasl::{AuthFailure, ServerAuth, ServerStep};
use crate::store::Store;
use crate::tls::Stream;

/// The version string in the greeting and ID. XFER sources read the greeting to pick a
/// format, so it keeps Cyrus's shape (`Cyrus IMAP <version> server ready`).
pub const VERSION: &str = concat!("3.6.1-murder-", env!("CARGO_PKG_VERSION"));

/// Capabilities after authentication (and before, minus AUTH= and with LOGINDISABLED when
/// plaintext is not allowed). Kept to what we implement.
pub const CAPABILITIES: &[&str] = &[
    "IMAP4rev1",
    "LITERAL+",
    "ID",
    "ENABLE",
    "ACL",
    "RIGHTS=kxten",
    "QUOTA",
    "MAILBOX-REFERRALS",
    "NAMESPACE",
    "UIDPLUS",
    "CHILDREN",
    "LIST-EXTENDED",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "METADATA",
    "MOVE",
    "MULTIAPPEND",
    "UNSELECT",
    "IDLE",
    "CONDSTORE",
    "BINARY",
    "ESEARCH",
    "X-QUOTA=STORAGE",
    "X-QUOTA=MESSAGE",
];

/// Everything sessions share.
pub struct Context {
    /// The configuration.
    pub conf: ImapdConf,
    /// `servername`.
    pub servername: String,
    /// This host's mailboxes.db.
    pub mboxdb: MailboxDb,
    /// The mail store (None on a frontend).
    pub store: Option<Store>,
    /// Server-side SASL.
    pub auth: ServerAuth,
    /// STARTTLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Implicit TLS (imaps).
    pub implicit_tls: bool,
    /// `admins`.
    pub admins: Vec<String>,
    /// `proxyservers`.
    pub proxyservers: Vec<String>,
    /// External ↔ internal names.
    pub namespace: Namespace,
    /// Framing limits.
    pub limits: Limits,
    /// Live connections.
    pub connections: Arc<ConnCounter>,
    /// Delay before NO to a failed login.
    pub failed_login_pause: Duration,
    /// Idle timeout (`timeout`, Cyrus default 32 minutes).
    pub idle_timeout: Duration,
    /// A frontend (`mupdate_server` without `proxyservers`): commands go to backends.
    pub frontend: bool,
    /// On a frontend: backend connections finished sessions handed back, for the next ones
    /// (`proxyd_backend_pool`, our option: how many per backend, 0 for none).
    pub backend_pool: crate::proxyd::backend::Pool,
}

impl Context {
    /// Whether `user` is an administrator.
    pub fn is_admin(&self, user: &str) -> bool {
        self.admins.iter().any(|a| a == user)
    }

    /// Whether plaintext mechanisms may be used now.
    pub fn plaintext_ok(&self, tls: bool) -> bool {
        tls || self.conf.allowplaintext()
    }

    /// Whether this host pushes changes to an MUPDATE master (a murder backend).
    pub fn is_murder_backend(&self) -> bool {
        self.conf.mupdate_server().is_some()
    }
}

/// Who is logged in.
#[derive(Debug, Clone)]
pub struct User {
    /// The user the session acts as.
    pub name: String,
    /// Whose password was checked (differs for a proxy login).
    pub authid: String,
    /// An administrator (never true for a `proxyservers` identity acting for a user).
    pub is_admin: bool,
}

/// Connection phases (RFC 3501 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before login.
    NotAuthenticated,
    /// Logged in, nothing selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
    /// Closing.
    Logout,
}

/// Why a session loop stops.
#[derive(Debug)]
pub enum End {
    /// The client or we closed it.
    Closed,
    /// An I/O error.
    Io(std::io::Error),
}

impl From<std::io::Error> for End {
    fn from(e: std::io::Error) -> Self {
        End::Io(e)
    }
}

/// Result of a command handler: `Err` ends the session.
pub type HResult = Result<(), End>;

/// One client connection.
pub struct Session {
    /// Shared state.
    pub ctx: Arc<Context>,
    /// The connection.
    pub stream: Stream,
    framer: Framer,
    buf: Box<[u8]>,
    /// Output queued for the client.
    pub out: Vec<u8>,
    /// Current phase.
    pub phase: Phase,
    /// The logged-in user.
    pub user: Option<User>,
    /// The selected mailbox (owned by [`messages`]).
    pub selected: Option<messages::Selected>,
    /// Extensions enabled with ENABLE.
    pub enabled: Vec<String>,
    /// The client sent `RLIST`/`RLSUB`/`LIST (REMOTE)`: it follows referrals.
    pub referrals_ok: bool,
    /// The client's address.
    pub peer: SocketAddr,
    /// On a frontend: the session's backend connections ([`crate::proxyd`]).
    pub proxy: crate::proxyd::State,
}

/// Makes response text from any string (CR/LF/NUL become spaces so it is always valid).
pub fn text(s: impl AsRef<str>) -> Text {
    let clean: String = s
        .as_ref()
        .chars()
        .map(|c| {
            if matches!(c, '\r' | '\n' | '\0') {
                ' '
            } else {
                c
            }
        })
        .collect();
    Text::new(clean.into_bytes()).unwrap_or_default()
}

/// An atom from a known-good string (capability names and the like).
pub fn atom(s: &str) -> Option<Atom> {
    Atom::new(s.as_bytes()).ok()
}

impl Session {
    /// Queues a response.
    pub fn send(&mut self, r: Response) {
        r.encode(&mut self.out);
    }

    /// Queues untagged data.
    pub fn data(&mut self, d: Data) {
        self.send(Response::Data(d));
    }

    /// Queues a tagged result.
    pub fn tagged(&mut self, tag: &Tag, kind: Completion, code: Option<Code>, msg: &str) {
        self.send(Response::Tagged {
            tag: tag.clone(),
            kind,
            text: RespText {
                code,
                text: text(msg),
            },
        });
    }

    /// `tag OK Completed` (Cyrus's text).
    pub fn ok(&mut self, tag: &Tag) {
        self.tagged(tag, Completion::Ok, None, "Completed");
    }

    /// `tag NO text`.
    pub fn no(&mut self, tag: &Tag, msg: &str) {
        self.tagged(tag, Completion::No, None, msg);
    }

    /// `tag NO [code] text`.
    pub fn no_code(&mut self, tag: &Tag, code: Code, msg: &str) {
        self.tagged(tag, Completion::No, Some(code), msg);
    }

    /// `tag BAD text`.
    pub fn bad(&mut self, tag: &Tag, msg: &str) {
        self.tagged(tag, Completion::Bad, None, msg);
    }

    /// An untagged status.
    pub fn untagged(&mut self, kind: Condition, code: Option<Code>, msg: &str) {
        self.send(Response::Status {
            kind,
            text: RespText {
                code,
                text: text(msg),
            },
        });
    }

    /// Sends what is queued.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await
    }

    /// Runs blocking storage work off the async threads.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, End> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| End::Io(std::io::Error::other(e.to_string())))
    }

    /// The mail store; a frontend has none.
    pub fn store(&self) -> Option<Store> {
        self.ctx.store.clone()
    }

    /// The logged-in user's name (empty before login).
    pub fn user_name(&self) -> &str {
        self.user.as_ref().map(|u| u.name.as_str()).unwrap_or("")
    }

    /// Whether the logged-in user is an administrator.
    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.is_admin)
    }

    /// Converts a client's mailbox name to the internal one.
    pub fn internal_name(&self, external: &[u8]) -> Option<InternalName> {
        let ext = std::str::from_utf8(external).ok()?;
        self.ctx
            .namespace
            .to_internal(
                ext,
                self.user.as_ref().map(|u| u.name.as_str()),
                self.is_admin(),
            )
            .ok()
    }

    /// The external name of an internal one for this session.
    pub fn external_name(&self, internal: &InternalName) -> Option<String> {
        self.ctx.namespace.to_external(
            internal,
            self.user.as_ref().map(|u| u.name.as_str()),
            self.is_admin(),
        )
    }

    /// The session user's rights on a mailbox entry.
    pub fn rights(&self, entry: &MailboxEntry) -> Rights {
        let Some(user) = &self.user else {
            return Rights::NONE;
        };
        let acl = Acl::parse(&entry.acl).unwrap_or_default();
        let owner = InternalName::new(&entry.name)
            .ok()
            .and_then(|n| n.owner())
            .is_some_and(|o| o == user.name);
        acl.effective_rights(
            &user.name,
            &[],
            user.is_admin,
            owner,
            Rights::DEFAULT_IMPLICIT_OWNER,
        )
    }

    async fn read_more(&mut self) -> Result<bool, End> {
        let deadline = tokio::time::Instant::now() + self.ctx.idle_timeout;
        let n = loop {
            // A frontend closes its idle backend connections while the client is quiet.
            let expiry = if self.ctx.frontend {
                crate::proxyd::next_expiry(self).filter(|at| *at < deadline)
            } else {
                None
            };
            let read = tokio::time::timeout_at(deadline, self.stream.read(&mut self.buf));
            let got = match expiry {
                Some(at) => tokio::select! {
                    r = read => Some(r),
                    _ = tokio::time::sleep_until(at) => None,
                },
                None => Some(read.await),
            };
            match got {
                Some(r) => break r.map_err(|_| End::Closed)??,
                None => crate::proxyd::expire_idle(self).await,
            }
        };
        if n == 0 {
            return Ok(false);
        }
        self.framer.enqueue(&self.buf[..n]);
        Ok(true)
    }

    /// The next line from the client (for AUTHENTICATE responses and IDLE's DONE).
    pub async fn read_line(&mut self) -> Result<Option<Vec<u8>>, End> {
        loop {
            match self.framer.next() {
                Some(Frame::Message(m)) => return Ok(Some(m)),
                Some(Frame::NeedContinuation { .. }) => {
                    // No literal belongs here; refuse it by not sending `+`.
                    continue;
                }
                Some(Frame::Error(_)) => return Ok(None),
                None => {
                    self.flush().await?;
                    if !self.read_more().await? {
                        return Err(End::Closed);
                    }
                }
            }
        }
    }

    async fn run(&mut self) -> HResult {
        loop {
            let frame = match self.framer.next() {
                Some(f) => f,
                None => {
                    self.flush().await?;
                    if !self.read_more().await? {
                        return Ok(());
                    }
                    continue;
                }
            };
            match frame {
                Frame::NeedContinuation { .. } => {
                    self.out.extend_from_slice(b"+ go ahead\r\n");
                    self.flush().await?;
                }
                Frame::Error(e) => {
                    let tag = e
                        .head
                        .split(|b| *b == b' ')
                        .next()
                        .and_then(|t| Tag::new(t).ok());
                    let msg = e.kind.to_string();
                    match tag {
                        Some(t) => self.bad(&t, &msg),
                        None => self.untagged(Condition::Bad, None, &msg),
                    }
                }
                Frame::Message(m) => match Command::parse(&m) {
                    // A frontend routes commands to backends once the user is known.
                    Ok(cmd) if self.phase != Phase::NotAuthenticated && self.ctx.frontend => {
                        crate::proxyd::dispatch(self, m, cmd).await?;
                        if self.phase == Phase::Logout {
                            self.flush().await?;
                            return Ok(());
                        }
                    }
                    Ok(cmd) => {
                        self.dispatch(cmd).await?;
                        if self.phase == Phase::Logout {
                            self.flush().await?;
                            return Ok(());
                        }
                    }
                    Err(e) => {
                        let mut out = Vec::new();
                        e.write_bad(&mut out);
                        self.out.extend_from_slice(&out);
                    }
                },
            }
        }
    }

    /// Runs one command here (on a frontend: the commands it answers itself).
    pub async fn dispatch(&mut self, cmd: Command) -> HResult {
        let Command { tag, body } = cmd;
        // Commands allowed in any state.
        match body {
            CommandBody::Capability => return self.cmd_capability(&tag),
            CommandBody::Noop => {
                if self.phase == Phase::Selected {
                    messages::poll_changes(self).await?;
                }
                self.ok(&tag);
                return Ok(());
            }
            CommandBody::Logout => {
                self.untagged(Condition::Bye, None, "LOGOUT received");
                self.ok(&tag);
                self.phase = Phase::Logout;
                return Ok(());
            }
            CommandBody::Id(fields) => return self.cmd_id(&tag, fields),
            _ => {}
        }
        if self.phase == Phase::NotAuthenticated {
            return match body {
                CommandBody::StartTls => self.cmd_starttls(&tag).await,
                CommandBody::Login { username, password } => {
                    self.cmd_login(&tag, username, password.into_inner()).await
                }
                CommandBody::Authenticate {
                    mechanism,
                    initial_response,
                } => {
                    self.cmd_authenticate(&tag, mechanism, initial_response.map(|s| s.into_inner()))
                        .await
                }
                _ => {
                    self.bad(&tag, "Please login first");
                    Ok(())
                }
            };
        }
        match body {
            CommandBody::StartTls => {
                self.bad(&tag, "Already logged in");
                Ok(())
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. } => {
                self.bad(&tag, "Already authenticated");
                Ok(())
            }
            // A frontend does not offer it: its backend connections belong to the user.
            CommandBody::Unauthenticate if !self.ctx.frontend => {
                self.cmd_unauthenticate(&tag);
                Ok(())
            }
            CommandBody::Namespace => self.cmd_namespace(&tag),
            CommandBody::Enable(caps) => self.cmd_enable(&tag, caps),
            body @ (CommandBody::Create { .. }
            | CommandBody::Delete { .. }
            | CommandBody::Rename { .. }
            | CommandBody::Subscribe { .. }
            | CommandBody::Unsubscribe { .. }
            | CommandBody::List { .. }
            | CommandBody::Lsub { .. }
            | CommandBody::Rlist { .. }
            | CommandBody::Rlsub { .. }
            | CommandBody::Status { .. }) => mailboxes::dispatch(self, &tag, body).await,
            body @ (CommandBody::Select { .. }
            | CommandBody::Examine { .. }
            | CommandBody::Close
            | CommandBody::Unselect
            | CommandBody::Check
            | CommandBody::Expunge
            | CommandBody::UidExpunge { .. }
            | CommandBody::Append { .. }
            | CommandBody::Fetch { .. }
            | CommandBody::Store { .. }
            | CommandBody::Search { .. }
            | CommandBody::Copy { .. }
            | CommandBody::Move { .. }
            | CommandBody::Idle) => messages::dispatch(self, &tag, body).await,
            body @ (CommandBody::GetAcl { .. }
            | CommandBody::SetAcl { .. }
            | CommandBody::DeleteAcl { .. }
            | CommandBody::ListRights { .. }
            | CommandBody::MyRights { .. }
            | CommandBody::GetQuota { .. }
            | CommandBody::GetQuotaRoot { .. }
            | CommandBody::SetQuota { .. }
            | CommandBody::GetMetadata { .. }
            | CommandBody::SetMetadata { .. }
            | CommandBody::Xfer { .. }
            | CommandBody::Reconstruct { .. }
            | CommandBody::MupdatePush { .. }
            | CommandBody::LocalCreate { .. }
            | CommandBody::LocalDelete { .. }) => admin::dispatch(self, &tag, body).await,
            CommandBody::Other { name, raw }
                if name.as_str().eq_ignore_ascii_case(xfer::COMMAND) =>
            {
                xfer::import_command(self, &tag, &raw).await
            }
            _ => {
                self.bad(&tag, "Unrecognized command");
                Ok(())
            }
        }
    }

    /// The capability list for the current state. The greeting carries a short list (as
    /// Cyrus's does); the CAPABILITY command always gives the full one, because cyradm decides
    /// from its pre-login answer whether METADATA, MAILBOX-REFERRALS and LIST-EXTENDED exist.
    pub fn capabilities(&self, greeting: bool) -> Vec<String> {
        let tls = self.stream.is_tls();
        let mut caps: Vec<String> = Vec::new();
        if greeting {
            caps.extend(["IMAP4rev1", "LITERAL+", "ID", "ENABLE"].map(String::from));
        } else {
            caps.extend(CAPABILITIES.iter().map(|c| c.to_string()));
            // A frontend can be told never to refer clients (reference §4.10).
            if self.ctx.frontend && self.ctx.conf.get_switch("proxyd_disable_mailbox_referrals") {
                caps.retain(|c| c != "MAILBOX-REFERRALS");
            }
        }
        if let Some(s) = self.ctx.conf.get_str("mupdate_server") {
            caps.push(format!("MUPDATE=mupdate://{s}/"));
        }
        if self.phase != Phase::NotAuthenticated && !self.ctx.frontend {
            caps.push("UNAUTHENTICATE".into());
        }
        if self.phase == Phase::NotAuthenticated {
            if self.ctx.tls.is_some() && !tls {
                caps.push("STARTTLS".into());
            }
            for m in self.ctx.auth.mechanisms(self.ctx.plaintext_ok(tls)) {
                caps.push(format!("AUTH={m}"));
            }
            caps.push("SASL-IR".into());
            if !self.ctx.plaintext_ok(tls) {
                caps.push("LOGINDISABLED".into());
            }
        }
        caps
    }

    fn capability_atoms(&self, greeting: bool) -> Vec<Atom> {
        self.capabilities(greeting)
            .iter()
            .filter_map(|c| atom(c))
            .collect()
    }

    fn cmd_capability(&mut self, tag: &Tag) -> HResult {
        let caps = self.capability_atoms(false);
        self.data(Data::Capability(caps));
        self.ok(tag);
        Ok(())
    }

    fn cmd_id(&mut self, tag: &Tag, _fields: Option<Vec<IdField>>) -> HResult {
        let pairs: Vec<(Vec<u8>, Option<Vec<u8>>)> = [
            ("name", "Cyrus IMAPD"),
            ("version", VERSION),
            ("vendor", "murder (Cyrus-compatible)"),
            ("support-url", "https://www.cyrusimap.org"),
            ("os", std::env::consts::OS),
        ]
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), Some(v.as_bytes().to_vec())))
        .collect();
        self.data(Data::Id(Some(pairs)));
        self.ok(tag);
        Ok(())
    }

    fn cmd_namespace(&mut self, tag: &Tag) -> HResult {
        // Built as raw bytes: the response type's namespace lists are easy to get wrong for
        // the three cases, and the format is fixed.
        let ns = &self.ctx.namespace;
        let sep = ns.separator();
        let line = if ns.is_alt(self.is_admin()) {
            format!(
                "* NAMESPACE ((\"\" \"{sep}\")) ((\"{}{sep}\" \"{sep}\")) ((\"{}{sep}\" \"{sep}\"))\r\n",
                ns.userprefix, ns.sharedprefix
            )
        } else {
            format!(
                "* NAMESPACE ((\"INBOX{sep}\" \"{sep}\")) ((\"user{sep}\" \"{sep}\")) ((\"\" \"{sep}\"))\r\n"
            )
        };
        self.out.extend_from_slice(line.as_bytes());
        self.ok(tag);
        Ok(())
    }

    fn cmd_enable(&mut self, tag: &Tag, caps: Vec<Atom>) -> HResult {
        let mut enabled = Vec::new();
        for c in caps {
            let name = c.as_str().to_ascii_uppercase();
            if matches!(name.as_str(), "CONDSTORE" | "UTF8=ACCEPT") && !self.enabled.contains(&name)
            {
                self.enabled.push(name);
                enabled.push(c);
            }
        }
        self.data(Data::Enabled(enabled));
        self.ok(tag);
        Ok(())
    }

    async fn cmd_starttls(&mut self, tag: &Tag) -> HResult {
        let Some(cfg) = self.ctx.tls.clone() else {
            self.bad(tag, "Unrecognized command");
            return Ok(());
        };
        if self.stream.is_tls() {
            self.bad(tag, "Already did a successful STARTTLS");
            return Ok(());
        }
        self.tagged(tag, Completion::Ok, None, "Begin TLS negotiation now");
        self.flush().await?;
        // Pipelined plaintext after STARTTLS is discarded (RFC 3501 §6.2.1).
        let _ = self.framer.take_buffered();
        self.stream.accept_tls(cfg).await?;
        Ok(())
    }

    /// Decides whether `authid` may act as `authzid` and logs the user in.
    fn authorize(&mut self, authid: &str, authzid: Option<&str>) -> Result<User, &'static str> {
        crate::service::authorize(&self.ctx.conf, authid, authzid).map(|a| User {
            name: a.name,
            authid: a.authid,
            is_admin: a.is_admin,
        })
    }

    /// UNAUTHENTICATE (RFC 8437): forgets the user, the selected mailbox (closed without
    /// expunging, as UNSELECT) and what ENABLE turned on; TLS stays. A frontend uses it to
    /// hand one backend connection from a finished session to the next, which then
    /// authenticates again (as the proxy user, for its own user).
    fn cmd_unauthenticate(&mut self, tag: &Tag) {
        if self.selected.is_some() {
            messages::unselect(self);
        }
        if let Some(u) = self.user.take() {
            tracing::info!(peer = %self.peer, user = %u.name, "unauthenticated");
        }
        self.enabled.clear();
        self.referrals_ok = false;
        self.phase = Phase::NotAuthenticated;
        self.ok(tag);
    }

    fn login_ok(&mut self, tag: &Tag, user: User) {
        tracing::info!(peer = %self.peer, user = %user.name, authid = %user.authid, "login");
        self.user = Some(user);
        self.phase = Phase::Authenticated;
        // The message of the day (`setinfo motd ...`) is shown at login, as Cyrus does.
        if let Some(store) = &self.ctx.store {
            if let Ok(Some(motd)) = store.annotation(None, "/shared/motd", None) {
                let motd = String::from_utf8_lossy(&motd).into_owned();
                self.untagged(Condition::Ok, Some(Code::Alert), &motd);
            }
        }
        let caps = self.capability_atoms(false);
        self.tagged(
            tag,
            Completion::Ok,
            Some(Code::Capability(caps)),
            "Success (no protection)",
        );
    }

    async fn cmd_login(&mut self, tag: &Tag, username: Vec<u8>, password: Vec<u8>) -> HResult {
        if !self.ctx.plaintext_ok(self.stream.is_tls()) {
            self.no(tag, "Login only available under a layer");
            return Ok(());
        }
        let user = String::from_utf8_lossy(&username).into_owned();
        let pw = String::from_utf8_lossy(&password).into_owned();
        let auth = self.ctx.auth.clone();
        let u2 = user.clone();
        let ok = auth.login_recently_verified(&user, &pw)
            || self
                .blocking(move || auth.check_login(&u2, &pw).unwrap_or(false))
                .await?;
        if !ok {
            tokio::time::sleep(self.ctx.failed_login_pause).await;
            self.no_code(tag, Code::AuthenticationFailed, "Authentication failed");
            return Ok(());
        }
        match self.authorize(&user, None) {
            Ok(u) => self.login_ok(tag, u),
            Err(e) => self.no(tag, e),
        }
        Ok(())
    }

    async fn cmd_authenticate(
        &mut self,
        tag: &Tag,
        mechanism: Atom,
        initial: Option<Vec<u8>>,
    ) -> HResult {
        let mut exchange = match self.ctx.auth.start(
            mechanism.as_str(),
            self.ctx.plaintext_ok(self.stream.is_tls()),
        ) {
            Ok(x) => x,
            Err(_) => {
                self.no(tag, "no mechanism available");
                return Ok(());
            }
        };
        // The parser keeps SASL-IR as base64 text; `=` was already turned into empty.
        let mut input = match initial {
            None => None,
            Some(b) if b.is_empty() => Some(Vec::new()),
            Some(b) => match B64.decode(&b) {
                Ok(d) => Some(d),
                Err(_) => {
                    self.bad(tag, "Invalid base64 string");
                    return Ok(());
                }
            },
        };
        let outcome = loop {
            let step = match exchange.step(input.as_deref()) {
                Ok(s) => s,
                Err(_) => break Err(AuthFailure::BadCredentials),
            };
            match step {
                ServerStep::Challenge(c) => {
                    self.out.extend_from_slice(b"+ ");
                    self.out.extend_from_slice(B64.encode(&c).as_bytes());
                    self.out.extend_from_slice(b"\r\n");
                    self.flush().await?;
                    let Some(line) = self.read_line().await? else {
                        self.bad(tag, "Line too long");
                        return Ok(());
                    };
                    let line = line.strip_suffix(b"\n").unwrap_or(&line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line == b"*" {
                        break Err(AuthFailure::Cancelled);
                    }
                    match B64.decode(line) {
                        Ok(d) => input = Some(d),
                        Err(_) => {
                            self.bad(tag, "Invalid base64 string");
                            return Ok(());
                        }
                    }
                }
                ServerStep::Done { result, final_data } => {
                    if let (Ok(_), Some(data)) = (&result, final_data) {
                        // RFC 3501: success data goes in a last challenge, answered empty.
                        if !data.is_empty() {
                            self.out.extend_from_slice(b"+ ");
                            self.out.extend_from_slice(B64.encode(&data).as_bytes());
                            self.out.extend_from_slice(b"\r\n");
                            self.flush().await?;
                            let _ = self.read_line().await?;
                        }
                    }
                    break result;
                }
            }
        };
        match outcome {
            Ok(id) => match self.authorize(&id.authid, id.authzid.as_deref()) {
                Ok(u) => self.login_ok(tag, u),
                Err(e) => {
                    tokio::time::sleep(self.ctx.failed_login_pause).await;
                    self.no(tag, e);
                }
            },
            Err(AuthFailure::Cancelled) => self.bad(tag, "Client canceled authentication"),
            Err(AuthFailure::BadCredentials) => {
                tokio::time::sleep(self.ctx.failed_login_pause).await;
                self.no_code(tag, Code::AuthenticationFailed, "authentication failure");
            }
        }
        Ok(())
    }
}

/// Serves one connection.
pub async fn handle(ctx: Arc<Context>, stream: Stream, peer: SocketAddr, guard: ConnGuard) {
    let _guard = guard;
    let mut s = Session {
        framer: Framer::new(Role::Server, ctx.limits),
        ctx,
        stream,
        buf: vec![0u8; 16 * 1024].into_boxed_slice(),
        out: Vec::with_capacity(4096),
        phase: Phase::NotAuthenticated,
        user: None,
        selected: None,
        enabled: Vec::new(),
        referrals_ok: false,
        peer,
        proxy: crate::proxyd::State::default(),
    };
    if s.ctx.implicit_tls {
        let Some(cfg) = s.ctx.tls.clone() else {
            return;
        };
        if s.stream.accept_tls(cfg).await.is_err() {
            return;
        }
    }
    let caps = s.capability_atoms(true);
    let greeting = format!("{} Cyrus IMAP {} server ready", s.ctx.servername, VERSION);
    s.untagged(Condition::Ok, Some(Code::Capability(caps)), &greeting);
    if s.flush().await.is_err() {
        return;
    }
    if let Err(End::Io(e)) = s.run().await {
        tracing::debug!(peer = %s.peer, "imap connection ended: {e}");
    }
    let _ = s.flush().await;
    let _ = s.stream.shutdown().await;
}

/// Builds the shared context from imapd.conf.
pub fn context(conf: ImapdConf, implicit_tls: bool) -> Result<Context, String> {
    use crate::service;
    let mboxdb = service::open_mboxdb(&conf)?;
    // A frontend keeps no mail: its mailboxes live on the backends.
    let store = if conf.is_frontend() {
        None
    } else {
        Some(service::open_store(&conf)?)
    };
    let auth = service::server_auth(&conf)?;
    let tls = service::server_tls(&conf)?;
    let backend_pool = crate::proxyd::backend::Pool::new(
        conf.get_int("proxyd_backend_pool")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(crate::proxyd::backend::POOL_PER_SERVER),
    );
    let namespace = service::namespace(&conf);
    Ok(Context {
        servername: conf.servername().unwrap_or_else(|| "localhost".into()),
        admins: conf.admins(),
        proxyservers: conf.proxyservers(),
        failed_login_pause: crate::service::failed_login_pause(&conf),
        idle_timeout: conf
            .get_duration("timeout")
            .unwrap_or(Duration::from_secs(32 * 60))
            .max(Duration::from_secs(30 * 60)),
        frontend: conf.is_frontend(),
        conf,
        mboxdb,
        store,
        auth,
        tls,
        implicit_tls,
        namespace,
        limits: Limits::default(),
        connections: Arc::new(ConnCounter::default()),
        backend_pool,
    })
}

/// Runs imapd on `listener` until `shutdown`.
pub async fn run(
    conf: ImapdConf,
    implicit_tls: bool,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let ctx = Arc::new(context(conf, implicit_tls)?);
    let counter = ctx.connections.clone();
    serve(listener, shutdown, counter, move |stream, peer, guard| {
        handle(ctx.clone(), stream, peer, guard)
    })
    .await;
    Ok(())
}
