//! `timsieved`: ManageSieve (RFC 5804) on the users' sieve scripts in this host's store,
//! answering as Cyrus 3.6's timsieved does (greeting shape, texts, response codes).
//!
//! * Before authentication: CAPABILITY, STARTTLS, AUTHENTICATE (every mechanism our SASL
//!   offers, with an initial response or challenges as strings), NOOP, LOGOUT.
//! * After: HAVESPACE, PUTSCRIPT, CHECKSCRIPT, LISTSCRIPTS, SETACTIVE, GETSCRIPT,
//!   DELETESCRIPT, RENAMESCRIPT, UNAUTHENTICATE. Scripts are compiled with
//!   [`protocol::sieve::compile`] before they are stored; a bad one gets
//!   `NO "line L, column C: ..."`. Sizes are bounded by `sieve_maxscriptsize` (KiB) and
//!   counts by `sieve_maxscripts`.
//! * An admin (or a `proxyservers` identity) may act for a user through the SASL
//!   authorization id, which is how a frontend logs a user in to a backend.
//! * On a frontend (`mupdate_server` set, `proxyservers` not; reference §4.10) the user's INBOX
//!   is looked up in the local mailboxes.db after authentication. With
//!   `sieve_allowreferrals: yes` (the default) the next command gets
//!   `BYE (REFERRAL "sieve://<server>") "Try Remote."`; with `no` the session is relayed to the
//!   backend's sieve service, logged in as `proxy_authname` for the user.
//!
//! On a one-host murder the referral must carry a reachable port: when imapd.conf has our
//! `<shorthost>_sieve: host:port` key (see [`crate::backends`]) the URL is
//! `sieve://host:port`, otherwise the server name alone, as Cyrus sends it.

mod proxy;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::config::imapd::ImapdConf;
use protocol::mailbox::Namespace;
use protocol::managesieve::{
    encode_challenge, encode_script, Capability, Command, Error as ProtoError, Limits, QuotaKind,
    Response, ResponseCode, SaslResponse, ScriptEntry, ServerCodec, Status,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::mboxdb::{MailboxDb, MbState};
use crate::net::{serve, ConnCounter};
use crate::sasl::{AuthFailure, ServerAuth, ServerStep};
use crate::service::{self, Authorized, Conn, End};
use crate::store::{Store, StoreError};

/// The implementation string of our greeting, in Cyrus's shape ("Cyrus timsieved <version>").
pub fn implementation() -> String {
    format!("Cyrus timsieved {}", crate::imapd::VERSION)
}

/// Everything sessions share.
pub struct Context {
    /// The configuration (read for the `sieve` service).
    pub conf: ImapdConf,
    /// This host's mailboxes.db (a frontend's slave keeps it).
    pub mboxdb: MailboxDb,
    /// The store holding the scripts.
    pub store: Store,
    /// Server-side SASL.
    pub auth: ServerAuth,
    /// STARTTLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// External ↔ internal names (to find a user's INBOX).
    pub namespace: Namespace,
    /// Framing limits; literals are held to the script size limit.
    pub limits: Limits,
    /// `sieve_maxscriptsize` in bytes (Cyrus default 32 KiB).
    pub max_script_size: u64,
    /// `sieve_maxscripts` (Cyrus default 5).
    pub max_scripts: usize,
    /// Whether this host is a murder frontend.
    pub frontend: bool,
    /// `sieve_allowreferrals` (default on).
    pub allow_referrals: bool,
    /// Live connections.
    pub connections: Arc<ConnCounter>,
    /// Delay before refusing a failed login.
    pub failed_login_pause: Duration,
    /// `timeout` (minutes; Cyrus's idle limit for timsieved, at least 30 minutes).
    pub idle_timeout: Duration,
}

impl Context {
    /// Builds the context from imapd.conf.
    pub fn new(conf: ImapdConf) -> Result<Context, String> {
        let max_script_size = conf
            .get_bytesize("sieve_maxscriptsize")
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(32 * 1024);
        let max_scripts = conf
            .get_int("sieve_maxscripts")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(5);
        Ok(Context {
            mboxdb: service::open_mboxdb(&conf)?,
            store: service::open_store(&conf)?,
            auth: service::server_auth(&conf)?,
            tls: service::server_tls(&conf)?,
            namespace: service::namespace(&conf),
            limits: Limits {
                // A literal somewhat over the script limit still frames, so the answer can
                // name the quota rather than a framing error.
                max_literal: max_script_size.saturating_mul(2).max(64 * 1024),
                ..Limits::default()
            },
            max_script_size,
            max_scripts,
            frontend: conf.is_frontend(),
            allow_referrals: conf.get_switch("sieve_allowreferrals"),
            connections: Arc::new(ConnCounter::default()),
            failed_login_pause: service::failed_login_pause(&conf),
            idle_timeout: Duration::from_secs(30 * 60),
            conf,
        })
    }

    fn plaintext_ok(&self, tls: bool) -> bool {
        tls || self.conf.allowplaintext()
    }
}

/// Where an authenticated session stands.
enum Phase {
    /// Not authenticated.
    Anonymous,
    /// Working on `user`'s scripts here.
    Local(Authorized),
    /// A frontend found the user's INBOX elsewhere: every command gets this referral.
    Referred(String),
}

/// What the frontend decided for a user who authenticated.
enum Placement {
    /// Serve here.
    Local,
    /// Refer the client to this URL.
    Refer(String),
    /// Relay to this backend server.
    Proxy(String),
}

struct Session {
    ctx: Arc<Context>,
    conn: Conn,
    codec: ServerCodec,
    buf: Box<[u8]>,
    out: Vec<u8>,
    phase: Phase,
    peer: String,
}

fn no_code(code: ResponseCode, text: &str) -> Response {
    Response::no(text).with_code(code)
}

impl Session {
    fn send(&mut self, r: &Response) {
        r.encode(&mut self.out);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.conn.send_out(&mut self.out).await
    }

    async fn read_more(&mut self) -> Result<bool, End> {
        let codec = &mut self.codec;
        self.conn
            .read_into(&mut self.buf, self.ctx.idle_timeout, |b| codec.push(b))
            .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Context) -> T + Send + 'static,
    ) -> Result<T, End> {
        service::blocking(&self.ctx, f).await
    }

    /// The capability lines and the final OK, in Cyrus 3.6's order.
    fn capabilities(&mut self) {
        let tls = self.conn.is_tls();
        let mut caps = vec![
            Capability::new("IMPLEMENTATION", &implementation()),
            Capability::new("VERSION", "1.0"),
        ];
        let mechs = self.ctx.auth.mechanisms(self.ctx.plaintext_ok(tls));
        if matches!(self.phase, Phase::Anonymous) {
            caps.push(Capability::new("SASL", &mechs.join(" ")));
        }
        caps.push(Capability::new(
            "SIEVE",
            &protocol::sieve::EXTENSIONS.join(" "),
        ));
        if self.ctx.tls.is_some() && !tls && matches!(self.phase, Phase::Anonymous) {
            caps.push(Capability::flag("STARTTLS"));
        }
        caps.push(Capability::flag("UNAUTHENTICATE"));
        for c in &caps {
            c.encode(&mut self.out);
        }
        self.send(&bare_ok());
    }

    async fn run(&mut self) -> Result<(), End> {
        loop {
            let cmd = match self.codec.next_command() {
                Some(c) => c,
                None => {
                    self.flush().await?;
                    if !self.read_more().await? {
                        return Ok(());
                    }
                    continue;
                }
            };
            if let Phase::Referred(url) = &self.phase {
                let bye =
                    Response::bye("Try Remote.").with_code(ResponseCode::Referral(url.clone()));
                self.send(&bye);
                return Ok(());
            }
            match cmd {
                Err(e) => self.refuse(&e),
                Ok(cmd) => {
                    if !self.command(cmd).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn refuse(&mut self, e: &ProtoError) {
        let r = if e.is_too_large() {
            no_code(
                ResponseCode::Quota(Some(QuotaKind::MaxSize)),
                &e.to_string(),
            )
        } else {
            Response::no(&e.to_string())
        };
        self.send(&r);
    }

    /// Handles one command; false when the session ends.
    async fn command(&mut self, cmd: Command) -> Result<bool, End> {
        match (cmd, &self.phase) {
            (Command::Logout, _) => {
                self.send(&Response::ok("Logout Complete"));
                return Ok(false);
            }
            (Command::Capability, _) => self.capabilities(),
            (Command::Noop { tag }, _) => {
                let r = Response::ok("Done");
                self.send(&match tag {
                    Some(t) => r.with_code(ResponseCode::Tag(t)),
                    None => r,
                });
            }
            (Command::StartTls, Phase::Anonymous) => return self.starttls().await,
            (Command::StartTls, _) => self.send(&Response::no("Already authenticated")),
            (Command::Authenticate { mechanism, initial }, Phase::Anonymous) => {
                return self.authenticate(&mechanism, initial).await
            }
            (Command::Authenticate { .. }, _) => self.send(&Response::no("Already authenticated")),
            (_, Phase::Anonymous | Phase::Referred(_)) => {
                self.send(&Response::no("Authenticate first"))
            }
            (Command::Unauthenticate, Phase::Local(_)) => {
                self.phase = Phase::Anonymous;
                self.send(&bare_ok());
            }
            (cmd, Phase::Local(user)) => {
                let user = user.name.clone();
                self.scripts(cmd, user).await?;
            }
        }
        Ok(true)
    }

    async fn starttls(&mut self) -> Result<bool, End> {
        let Some(cfg) = self.ctx.tls.clone().filter(|_| !self.conn.is_tls()) else {
            self.send(&Response::no("TLS not available"));
            return Ok(true);
        };
        self.send(&Response::ok("Begin TLS negotiation now"));
        self.flush().await?;
        // Plaintext pipelined after STARTTLS must not be used (RFC 5804 §2.2).
        let _ = self.codec.take_buffered();
        self.conn.accept_tls(cfg).await?;
        // RFC 5804 §2.2: the capabilities again, now that the layer is in place.
        self.capabilities();
        Ok(true)
    }

    async fn read_sasl_response(&mut self) -> Result<Result<SaslResponse, ProtoError>, End> {
        loop {
            match self.codec.next_sasl_response() {
                Some(r) => return Ok(r),
                None => {
                    self.flush().await?;
                    if !self.read_more().await? {
                        return Err(End::Closed);
                    }
                }
            }
        }
    }

    async fn authenticate(
        &mut self,
        mechanism: &str,
        initial: Option<String>,
    ) -> Result<bool, End> {
        let plain_ok = self.ctx.plaintext_ok(self.conn.is_tls());
        let Ok(mut exchange) = self
            .ctx
            .auth
            .start(&mechanism.to_ascii_uppercase(), plain_ok)
        else {
            self.send(&Response::no(&format!(
                "Authentication mechanism {mechanism} not supported"
            )));
            return Ok(true);
        };
        let mut input = match initial.map(|i| B64.decode(i.as_bytes())) {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(_)) => {
                self.send(&Response::no("Invalid base64 string"));
                return Ok(true);
            }
        };
        let outcome = loop {
            let step = match exchange.step(input.as_deref()) {
                Ok(s) => s,
                Err(_) => break Err(AuthFailure::BadCredentials),
            };
            match step {
                ServerStep::Challenge(c) => {
                    encode_challenge(&mut self.out, &B64.encode(&c));
                    match self.read_sasl_response().await? {
                        Ok(SaslResponse::Abort) => break Err(AuthFailure::Cancelled),
                        Ok(SaslResponse::Data(d)) => match B64.decode(d.as_bytes()) {
                            Ok(v) => input = Some(v),
                            Err(_) => break Err(AuthFailure::BadCredentials),
                        },
                        Err(_) => break Err(AuthFailure::BadCredentials),
                    }
                }
                ServerStep::Done { result, final_data } => {
                    break result.map(|id| (id, final_data.filter(|d| !d.is_empty())))
                }
            }
        };
        let (id, final_data) = match outcome {
            Ok(x) => x,
            Err(AuthFailure::Cancelled) => {
                self.send(&Response::no("Authentication cancelled"));
                return Ok(true);
            }
            Err(AuthFailure::BadCredentials) => {
                tokio::time::sleep(self.ctx.failed_login_pause).await;
                self.send(&Response::no("Authentication Error"));
                return Ok(true);
            }
        };
        let user = match service::authorize(&self.ctx.conf, &id.authid, id.authzid.as_deref()) {
            Ok(a) => a,
            Err(e) => {
                tokio::time::sleep(self.ctx.failed_login_pause).await;
                self.send(&Response::no(e));
                return Ok(true);
            }
        };
        let ok = Response {
            status: Status::Ok,
            code: final_data.map(|d| ResponseCode::Sasl(B64.encode(d))),
            text: None,
        };
        let placement = if self.ctx.frontend {
            match self.place(&user.name).await {
                Ok(p) => p,
                Err(r) => {
                    self.send(&r);
                    return Ok(true);
                }
            }
        } else {
            Placement::Local
        };
        tracing::info!(peer = %self.peer, user = %user.name, authid = %user.authid, "sieve login");
        match placement {
            Placement::Local => {
                self.phase = Phase::Local(user);
                self.send(&ok);
            }
            Placement::Refer(url) => {
                self.phase = Phase::Referred(url);
                self.send(&ok);
            }
            Placement::Proxy(server) => {
                let backend = match proxy::Backend::connect(&self.ctx.conf, &server, &user.name)
                    .await
                {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(user = %user.name, backend = %server, "sieve proxy: {e}");
                        self.send(&no_code(
                            ResponseCode::TryLater,
                            "Unable to connect to backend",
                        ));
                        return Ok(true);
                    }
                };
                self.send(&ok);
                self.flush().await?;
                let pending = self.codec.take_buffered();
                tracing::info!(user = %user.name, backend = %server, "sieve proxy login");
                backend.relay(&mut self.conn, &pending).await;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// On a frontend: where the user's INBOX lives decides where their scripts are.
    async fn place(&self, user: &str) -> Result<Placement, Response> {
        let inbox = self
            .ctx
            .namespace
            .user_inbox(user)
            .map_err(|_| Response::no("Invalid user"))?;
        let name = inbox.as_str().to_owned();
        let mut entry = self.ctx.mboxdb.get(&name).ok().flatten();
        if entry.is_none() {
            if let Ok(dir) = service::configdir(&self.ctx.conf) {
                crate::mupdate::slave::kick(&dir, crate::proxyd::KICK_TIMEOUT).await;
            }
            entry = self.ctx.mboxdb.get(&name).ok().flatten();
        }
        let Some(entry) = entry else {
            return Err(Response::no("Mailbox does not exist"));
        };
        match entry.state() {
            MbState::Reserved | MbState::Moving => {
                return Err(no_code(
                    ResponseCode::TryLater,
                    "Mailbox is currently reserved",
                ))
            }
            MbState::Remote | MbState::Local => {}
            _ => return Err(Response::no("Mailbox does not exist")),
        }
        let Some(server) = entry.server.filter(|s| !s.is_empty()) else {
            return Ok(Placement::Local);
        };
        // A location may carry `!partition`; the server is what comes before it.
        let server = server.split('!').next().unwrap_or(&server).to_owned();
        if self.ctx.allow_referrals {
            Ok(Placement::Refer(referral_url(&self.ctx.conf, &server)))
        } else {
            Ok(Placement::Proxy(server))
        }
    }

    async fn scripts(&mut self, cmd: Command, user: String) -> Result<(), End> {
        let max_size = self.ctx.max_script_size;
        let max_scripts = self.ctx.max_scripts;
        let r = match cmd {
            Command::HaveSpace { name, size } => {
                if size > max_size {
                    too_big(max_size)
                } else {
                    self.blocking(move |ctx| room_for(ctx, &user, &name, max_scripts))
                        .await?
                        .map(|()| bare_ok())
                        .unwrap_or_else(|r| r)
                }
            }
            Command::PutScript { name, script } => {
                if script.len() as u64 > max_size {
                    too_big(max_size)
                } else if let Err(e) = protocol::sieve::compile(&script) {
                    Response::no(&e.to_string())
                } else {
                    self.blocking(move |ctx| {
                        room_for(ctx, &user, &name, max_scripts)?;
                        ctx.store
                            .put_sieve(&user, &name, &script)
                            .map_err(store_error)
                    })
                    .await?
                    .map(|()| bare_ok())
                    .unwrap_or_else(|r| r)
                }
            }
            Command::CheckScript { script } => {
                if script.len() as u64 > max_size {
                    too_big(max_size)
                } else {
                    match protocol::sieve::compile(&script) {
                        Ok(_) => bare_ok(),
                        Err(e) => Response::no(&e.to_string()),
                    }
                }
            }
            Command::ListScripts => {
                match self
                    .blocking(move |ctx| ctx.store.sieve_scripts(&user))
                    .await?
                {
                    Ok(list) => {
                        for (name, active) in list {
                            ScriptEntry { name, active }.encode(&mut self.out);
                        }
                        bare_ok()
                    }
                    Err(e) => store_error(e),
                }
            }
            Command::SetActive { name } => self
                .blocking(move |ctx| {
                    let n = (!name.is_empty()).then_some(name.as_str());
                    ctx.store.set_active_sieve(&user, n).map_err(store_error)
                })
                .await?
                .map(|()| bare_ok())
                .unwrap_or_else(|r| r),
            Command::GetScript { name } => {
                match self
                    .blocking(move |ctx| ctx.store.sieve_script(&user, &name))
                    .await?
                {
                    Ok(Some(s)) => {
                        encode_script(&mut self.out, &s);
                        bare_ok()
                    }
                    Ok(None) => no_code(ResponseCode::NonExistent, "Script doesn't exist"),
                    Err(e) => store_error(e),
                }
            }
            Command::DeleteScript { name } => self
                .blocking(move |ctx| ctx.store.delete_sieve(&user, &name).map_err(store_error))
                .await?
                .map(|()| bare_ok())
                .unwrap_or_else(|r| r),
            Command::RenameScript { old, new } => self
                .blocking(move |ctx| {
                    ctx.store
                        .rename_sieve(&user, &old, &new)
                        .map_err(store_error)
                })
                .await?
                .map(|()| bare_ok())
                .unwrap_or_else(|r| r),
            other => Response::no(&format!("{} not allowed now", other.name())),
        };
        self.send(&r);
        Ok(())
    }
}

/// `OK` alone: what Cyrus answers to script commands, and the only OK without a code that
/// Cyrus's own client library (sieveshell) accepts; `OK "text"` makes it give up.
fn bare_ok() -> Response {
    Response {
        status: Status::Ok,
        code: None,
        text: None,
    }
}

fn too_big(max: u64) -> Response {
    no_code(
        ResponseCode::Quota(Some(QuotaKind::MaxSize)),
        &format!("Script size is too large. Max script size is {max} bytes"),
    )
}

/// Whether `user` may store a script called `name`: replacing one is always fine, a new one
/// must stay within `sieve_maxscripts`.
fn room_for(ctx: &Context, user: &str, name: &str, max: usize) -> Result<(), Response> {
    let list = ctx.store.sieve_scripts(user).map_err(store_error)?;
    if list.iter().any(|(n, _)| n == name) || list.len() < max {
        Ok(())
    } else {
        Err(no_code(
            ResponseCode::Quota(Some(QuotaKind::MaxScripts)),
            &format!("You are only allowed {max} scripts on this server"),
        ))
    }
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::NoSuchScript(_) => no_code(ResponseCode::NonExistent, "Script doesn't exist"),
        StoreError::ScriptExists(_) => {
            no_code(ResponseCode::AlreadyExists, "Script already exists")
        }
        StoreError::SieveActive(_) => {
            no_code(ResponseCode::Active, "Active script cannot be deleted")
        }
        StoreError::TooLarge { limit, .. } => too_big(limit),
        StoreError::BadName { .. } => Response::no("Invalid script name"),
        other => {
            tracing::warn!("sieve store: {other}");
            no_code(ResponseCode::TryLater, "Internal error")
        }
    }
}

/// The referral URL for `server`: `sieve://host:port` from our `<shorthost>_sieve` key when
/// set (a one-host murder), else `sieve://<server>` as Cyrus sends it.
pub fn referral_url(conf: &ImapdConf, server: &str) -> String {
    let short = crate::backends::short_host(server);
    if conf.get_raw(&format!("{short}_sieve")).is_some() {
        if let Some((host, port)) = crate::backends::backend_address(conf, server, "sieve") {
            return format!("sieve://{host}:{port}");
        }
    }
    format!("sieve://{server}")
}

/// Serves one connection.
pub async fn handle(ctx: Arc<Context>, conn: Conn, peer: String) {
    let mut s = Session {
        codec: ServerCodec::new(ctx.limits),
        ctx,
        conn,
        buf: vec![0u8; 16 * 1024].into_boxed_slice(),
        out: Vec::with_capacity(16 * 1024),
        phase: Phase::Anonymous,
        peer,
    };
    s.capabilities();
    if s.flush().await.is_err() {
        return;
    }
    match s.run().await {
        Err(End::Io(e)) => tracing::debug!(peer = %s.peer, "sieve connection ended: {e}"),
        Err(End::Closed) | Ok(()) => {}
    }
    let _ = s.flush().await;
    let _ = s.conn.shutdown().await;
    // Read what the client still sends for a moment before closing: closing a socket with
    // unread input makes the kernel send RST, which can destroy our BYE (a referral) before
    // the client has read it.
    let linger = async { while matches!(s.conn.read(&mut s.buf).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), linger).await;
}

/// Runs timsieved on `listener` until `shutdown`.
pub async fn run(
    conf: ImapdConf,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let ctx = Arc::new(Context::new(conf)?);
    let counter = ctx.connections.clone();
    serve(listener, shutdown, counter, move |stream, peer, guard| {
        let ctx = ctx.clone();
        async move {
            let _guard = guard;
            handle(ctx, Conn::Net(stream), peer.to_string()).await
        }
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referral_names_the_explicit_address_or_the_server() {
        let c = ImapdConf::parse_str(
            "configdirectory: /tmp\nbe2_sieve: 127.0.0.1:4191\n",
            "imapd.conf",
        )
        .unwrap();
        assert_eq!(referral_url(&c, "be2"), "sieve://127.0.0.1:4191");
        assert_eq!(
            referral_url(&c, "be3.example.org"),
            "sieve://be3.example.org"
        );
    }
}
