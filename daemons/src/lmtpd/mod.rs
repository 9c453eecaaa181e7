//! `lmtpd`: local delivery over LMTP (RFC 2033) into the mail store, as Cyrus's backend
//! `lmtpd` does (issue 4 item 5).
//!
//! * Listeners: TCP (`--listen`) and a UNIX socket (`--listen-unix`). The UNIX socket is
//!   pre-authenticated, as Cyrus's local socket is (it offers `AUTH EXTERNAL`, which simply
//!   succeeds). On TCP a client must `AUTH` before `MAIL` (`430 Authentication required`, as
//!   Cyrus answers, transcript 05b) unless the daemon runs with `-a`. Any identity in the sasldb
//!   may authenticate; it is an admin when listed in `admins` (with the service override,
//!   `lmtp_admins`, as Cyrus reads it), which is what the murder's frontends use.
//! * LHLO answers with Cyrus's capability lines, STARTTLS is offered when
//!   `tls_server_cert`/`tls_server_key` are set, `IGNOREQUOTA` is honoured.
//! * RCPT resolves `user[+detail][@domain]` to the user's INBOX (`user.NAME`); unknown users get
//!   Cyrus's long `550 5.1.1` form, a full quota `452 4.2.2` (`552 5.2.2` with
//!   `lmtp_over_quota_perm_failure`), a reserved or moving mailbox `451 4.2.1`.
//! * DATA: Cyrus's trace headers (`Return-Path`, `Received`, `X-Cyrus-Session-Id`) are
//!   prepended; the rest of the message is stored byte for byte as sent (bare LF is turned into
//!   CRLF; NUL or bare CR is refused). One store transaction writes it into every recipient's
//!   mailbox, and the per-recipient `250 2.1.5 Success SESSIONID=<…>` goes out only after that
//!   transaction is durable, so a crash never loses an acknowledged message. Storage trouble is
//!   `451 4.3.0` (the MTA retries); it never bounces. A mailbox being moved to another server
//!   is `451 4.2.1` (the store refuses the write; the retry finds the new server).
//!
//! # Durability and throughput
//!
//! Each session writes its message file and fsyncs it itself, then hands it to one committer
//! thread that commits every delivery queued meanwhile in one synchronous LMDB transaction
//! (group commit, [`deliver::Committer`]). Per message that is what Cyrus 3.6's lmtpd pays at
//! least (it fsyncs the message file, then `cyrus.cache`, `cyrus.index` and its duplicate
//! database), shared across concurrent deliveries. Like Cyrus, directories are not fsynced
//! unless `murder_fsync_dirs: yes` (see [`crate::store::StoreOptions::fsync_dirs`]); a
//! `kill -9` of the daemon loses nothing acknowledged either way.
//!
//! Each recipient's targets are chosen by [`deliver::deliver_to_user`], which runs the user's
//! active sieve script ([`sieve`]).

pub mod deliver;
pub mod sieve;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::config::imapd::ImapdConf;
use protocol::lmtp::{
    Command, InitialResponse, LhloCapability, Limits, MailParam, Mechanism, RcptParam, Reply,
    ReversePath, SaslData, SaslResponse, ServerCodec, ServerEvent,
};
use protocol::mailbox::Namespace;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::mboxdb::MailboxDb;
use crate::net::{serve, ConnCounter};
use crate::sasl::{AuthFailure, ServerAuth, ServerStep};
use crate::service::{self, Authorized, Conn, End};
use crate::store::Store;

use deliver::{DeliveryOptions, Envelope, Recipient};

/// Everything sessions share.
pub struct Context {
    /// The configuration (read for the `lmtp` service).
    pub conf: ImapdConf,
    /// `servername`.
    pub servername: String,
    /// This host's mailboxes.db.
    pub mboxdb: MailboxDb,
    /// The mail store.
    pub store: Store,
    /// Server-side SASL.
    pub auth: ServerAuth,
    /// STARTTLS configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// External ↔ internal names.
    pub namespace: Namespace,
    /// `-a`: TCP connections are pre-authenticated too.
    pub preauth_tcp: bool,
    /// `maxmessagesize` (`None` when unlimited; the store's own limit still applies).
    pub max_message_size: Option<u64>,
    /// Delivery options.
    pub options: DeliveryOptions,
    /// Groups concurrent deliveries into one store transaction.
    pub committer: deliver::Committer,
    /// Compiled sieve scripts, `sendmail`, vacation bookkeeping.
    pub sieve: sieve::SieveState,
    /// Framing limits.
    pub limits: Limits,
    /// Live TCP connections.
    pub connections: Arc<ConnCounter>,
    /// Delay before refusing a failed AUTH.
    pub failed_login_pause: Duration,
    /// Idle timeout.
    pub idle_timeout: Duration,
}

impl Context {
    /// Builds the context from imapd.conf (read for the `lmtp` service, so `lmtp_admins` and
    /// other `lmtp_` overrides apply).
    pub fn new(conf: ImapdConf, preauth_tcp: bool) -> Result<Context, String> {
        let max = conf
            .get_bytesize("maxmessagesize")
            .and_then(|n| u64::try_from(n).ok())
            .filter(|n| *n > 0);
        Ok(Context {
            servername: conf.servername().unwrap_or_else(|| "localhost".into()),
            mboxdb: service::open_mboxdb(&conf)?,
            store: service::open_store(&conf)?,
            auth: service::server_auth(&conf)?,
            tls: service::server_tls(&conf)?,
            namespace: service::namespace(&conf),
            preauth_tcp,
            max_message_size: max,
            options: DeliveryOptions {
                downcase_rcpt: conf.get_switch("lmtp_downcase_rcpt"),
                strict_quota: conf.get_switch("lmtp_strict_quota"),
                over_quota_perm_failure: conf.get_switch("lmtp_over_quota_perm_failure"),
                postuser: conf.get_str("postuser").unwrap_or_default(),
            },
            committer: deliver::Committer::default(),
            sieve: sieve::SieveState::new(
                conf.get_str("sendmail")
                    .unwrap_or_else(|| "/usr/sbin/sendmail".into()),
                &service::configdir(&conf)?,
            ),
            limits: Limits::default(),
            connections: Arc::new(ConnCounter::default()),
            failed_login_pause: service::failed_login_pause(&conf),
            idle_timeout: Duration::from_secs(300),
            conf,
        })
    }

    /// The largest message accepted: `maxmessagesize`, else the store's limit.
    fn data_limit(&self) -> usize {
        let store_max = self.store.options().max_message_size;
        let max = self.max_message_size.unwrap_or(store_max).min(store_max);
        usize::try_from(max).unwrap_or(usize::MAX)
    }
}

/// Who the session acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthState {
    /// Nothing yet (TCP without `-a`): MAIL is refused.
    None,
    /// The UNIX socket or `-a`.
    Preauth,
    /// After AUTH.
    User(Authorized),
}

/// Why a session ends.
/// One LMTP connection.
struct Session {
    ctx: Arc<Context>,
    conn: Conn,
    codec: ServerCodec,
    buf: Box<[u8]>,
    out: Vec<u8>,
    /// `[127.0.0.1]` or `[unix socket]`, for the Received header.
    peer: String,
    lhlo: Option<String>,
    auth: AuthState,
    /// Whether AUTH EXTERNAL was used on the UNIX socket (already pre-authenticated).
    external_done: bool,
    sender: Option<ReversePath>,
    mail_size: Option<u64>,
    rcpts: Vec<Recipient>,
    session_id: String,
}

impl Session {
    fn send(&mut self, r: &Reply) {
        r.encode(&mut self.out);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        self.conn.send_out(&mut self.out).await
    }

    /// Reads more input; false at end of stream.
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

    fn new_session_id(&mut self) {
        self.session_id = service::session_id(&self.ctx.servername);
    }

    fn reset_transaction(&mut self) {
        self.sender = None;
        self.mail_size = None;
        self.rcpts.clear();
    }

    fn bad_sequence(&mut self, text: &str) {
        let r = Reply::bad_sequence(text).unwrap_or_else(|_| Reply::syntax_error());
        self.send(&r);
    }

    fn lhlo_reply(&self) -> Reply {
        let mut caps = vec![
            LhloCapability::EightBitMime,
            LhloCapability::EnhancedStatusCodes,
            LhloCapability::Pipelining,
            LhloCapability::Size(self.ctx.max_message_size),
        ];
        if self.ctx.tls.is_some() && !self.conn.is_tls() && !self.conn.is_unix() {
            caps.push(LhloCapability::StartTls);
        }
        if self.conn.is_unix() {
            if !self.external_done {
                caps.extend(
                    Mechanism::new("EXTERNAL")
                        .ok()
                        .map(|m| LhloCapability::Auth(vec![m])),
                );
            }
        } else if !matches!(self.auth, AuthState::User(_)) {
            let plain_ok = self.conn.is_tls() || self.ctx.conf.allowplaintext();
            let mechs: Vec<Mechanism> = self
                .ctx
                .auth
                .mechanisms(plain_ok)
                .into_iter()
                .filter_map(|m| Mechanism::new(m).ok())
                .collect();
            if !mechs.is_empty() {
                caps.push(LhloCapability::Auth(mechs));
            }
        }
        caps.push(LhloCapability::IgnoreQuota);
        Reply::cyrus_lhlo(&self.ctx.servername, &caps, &self.session_id)
            .unwrap_or_else(|_| Reply::syntax_error())
    }

    async fn run(&mut self) -> Result<(), End> {
        loop {
            let ev = match self.codec.next() {
                Some(ev) => ev,
                None => {
                    self.flush().await?;
                    if !self.read_more().await? {
                        return Ok(());
                    }
                    continue;
                }
            };
            match ev {
                Err(e) => {
                    let r = e.reply();
                    self.send(&r);
                }
                // Data outside DATA cannot happen: the codec is only in body mode after 354.
                Ok(ServerEvent::DataChunk(_)) | Ok(ServerEvent::DataEnd) => {}
                Ok(ServerEvent::Command(cmd)) => {
                    if !self.command(cmd).await? {
                        self.flush().await?;
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Handles one command; false after QUIT.
    async fn command(&mut self, cmd: Command) -> Result<bool, End> {
        match cmd {
            Command::Lhlo(host) => {
                self.lhlo = Some(host.to_string());
                self.reset_transaction();
                let r = self.lhlo_reply();
                self.send(&r);
            }
            Command::Quit => {
                self.send(&Reply::bye());
                return Ok(false);
            }
            Command::Noop => self.send(&Reply::noop_ok()),
            Command::Rset => {
                self.reset_transaction();
                self.new_session_id();
                let r = Reply::reset_ok(&self.session_id).unwrap_or_else(|_| Reply::noop_ok());
                self.send(&r);
            }
            Command::Starttls => self.starttls().await?,
            Command::Auth { mechanism, initial } => self.authenticate(mechanism, initial).await?,
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params).await?,
            Command::Data => self.data().await?,
            Command::Vrfy(_) => {
                let r = Reply::line(252, "2.5.0 Cannot VRFY user")
                    .unwrap_or_else(|_| Reply::syntax_error());
                self.send(&r);
            }
            Command::Unknown { .. } => {
                let r = Reply::line(500, "5.5.2 Unrecognized command")
                    .unwrap_or_else(|_| Reply::syntax_error());
                self.send(&r);
            }
        }
        Ok(true)
    }

    async fn starttls(&mut self) -> Result<(), End> {
        let cfg = match &self.ctx.tls {
            Some(c) if !self.conn.is_tls() && !self.conn.is_unix() => c.clone(),
            _ => {
                let r = Reply::line(454, "4.7.0 TLS not available")
                    .unwrap_or_else(|_| Reply::syntax_error());
                self.send(&r);
                return Ok(());
            }
        };
        self.send(&Reply::starttls_ready());
        self.flush().await?;
        // Anything pipelined after STARTTLS was sent in the clear: drop it (RFC 3207 §4.2).
        self.codec.clear();
        self.conn.accept_tls(cfg).await?;
        self.lhlo = None;
        self.reset_transaction();
        if !matches!(self.auth, AuthState::Preauth) {
            self.auth = AuthState::None;
        }
        Ok(())
    }

    async fn read_sasl_response(&mut self) -> Result<Option<SaslResponse>, End> {
        loop {
            match self.codec.next_sasl_response() {
                Some(Ok(r)) => return Ok(Some(r)),
                Some(Err(_)) => return Ok(None),
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
        mechanism: Mechanism,
        initial: Option<InitialResponse>,
    ) -> Result<(), End> {
        let reply =
            |code, text: &str| Reply::line(code, text).unwrap_or_else(|_| Reply::syntax_error());
        if self.sender.is_some() {
            self.send(&reply(
                503,
                "5.5.1 AUTH not permitted during a mail transaction",
            ));
            return Ok(());
        }
        if self.conn.is_unix() {
            // The local socket is trusted already; EXTERNAL just confirms it.
            if mechanism.as_str().eq_ignore_ascii_case("EXTERNAL") && !self.external_done {
                self.external_done = true;
                self.new_session_id();
                self.send(&Reply::authenticated());
            } else {
                self.send(&reply(504, "5.5.4 Unrecognized authentication type"));
            }
            return Ok(());
        }
        if matches!(self.auth, AuthState::User(_)) {
            self.send(&reply(503, "5.5.1 Already authenticated"));
            return Ok(());
        }
        let plain_ok = self.conn.is_tls() || self.ctx.conf.allowplaintext();
        let Ok(mut exchange) = self.ctx.auth.start(mechanism.as_str(), plain_ok) else {
            self.send(&reply(504, "5.5.4 Unrecognized authentication type"));
            return Ok(());
        };
        let mut input = match initial {
            None => None,
            Some(InitialResponse::Empty) => Some(Vec::new()),
            Some(InitialResponse::Data(d)) => match B64.decode(d.expose()) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.send(&reply(501, "5.5.4 Invalid base64 string"));
                    return Ok(());
                }
            },
        };
        let outcome = loop {
            let step = match exchange.step(input.as_deref()) {
                Ok(s) => s,
                Err(_) => break Err(AuthFailure::BadCredentials),
            };
            let challenge = match step {
                ServerStep::Challenge(c) => c,
                ServerStep::Done { result, final_data } => {
                    match (&result, final_data) {
                        // RFC 4954 §4: success data goes in a last 334, answered empty.
                        (Ok(_), Some(data)) if !data.is_empty() => {
                            let d = SaslData::new(B64.encode(&data)).unwrap_or_default();
                            self.send(&Reply::sasl_challenge(&d));
                            if self.read_sasl_response().await?.is_none() {
                                break Err(AuthFailure::BadCredentials);
                            }
                        }
                        _ => {}
                    }
                    break result;
                }
            };
            let d = SaslData::new(B64.encode(&challenge)).unwrap_or_default();
            self.send(&Reply::sasl_challenge(&d));
            match self.read_sasl_response().await? {
                Some(SaslResponse::Cancel) => break Err(AuthFailure::Cancelled),
                Some(SaslResponse::Data(d)) => match B64.decode(d.expose()) {
                    Ok(v) => input = Some(v),
                    Err(_) => break Err(AuthFailure::BadCredentials),
                },
                None => break Err(AuthFailure::BadCredentials),
            }
        };
        match outcome {
            Ok(id) => match service::authorize(&self.ctx.conf, &id.authid, id.authzid.as_deref()) {
                Ok(user) => {
                    tracing::info!(peer = %self.peer, authid = %user.authid, "lmtp login");
                    self.auth = AuthState::User(user);
                    self.new_session_id();
                    self.send(&Reply::authenticated());
                }
                Err(_) => {
                    tokio::time::sleep(self.ctx.failed_login_pause).await;
                    self.send(&reply(535, "5.7.8 Authorization failed"));
                }
            },
            Err(AuthFailure::Cancelled) => {
                self.send(&reply(501, "5.5.4 client canceled authentication"))
            }
            Err(AuthFailure::BadCredentials) => {
                tokio::time::sleep(self.ctx.failed_login_pause).await;
                self.send(&reply(535, "5.7.8 Authentication failed"));
            }
        }
        Ok(())
    }

    fn mail(&mut self, from: ReversePath, params: Vec<MailParam>) {
        if matches!(self.auth, AuthState::None) && !self.conn.is_unix() {
            self.send(&Reply::auth_required());
            return;
        }
        if self.sender.is_some() {
            self.bad_sequence("Nested MAIL command");
            return;
        }
        let size = params.iter().find_map(|p| match p {
            MailParam::Size(n) => Some(*n),
            _ => None,
        });
        if size.is_some_and(|n| n > self.ctx.data_limit() as u64) {
            self.send(&Reply::message_too_large());
            return;
        }
        self.sender = Some(from);
        self.mail_size = size;
        self.send(&Reply::mail_ok());
    }

    async fn rcpt(
        &mut self,
        to: protocol::lmtp::Address,
        params: Vec<RcptParam>,
    ) -> Result<(), End> {
        if self.sender.is_none() {
            self.bad_sequence("Need MAIL command");
            return Ok(());
        }
        let ignore_quota = params.iter().any(|p| matches!(p, RcptParam::IgnoreQuota));
        let size = self.mail_size;
        let res = self
            .blocking(move |ctx| deliver::resolve(ctx, &to, ignore_quota, size))
            .await?;
        match res {
            Ok(r) => {
                self.rcpts.push(r);
                self.send(&Reply::rcpt_ok());
            }
            Err(reply) => self.send(&reply),
        }
        Ok(())
    }

    async fn data(&mut self) -> Result<(), End> {
        let Some(sender) = self.sender.clone() else {
            self.bad_sequence("Need MAIL command");
            return Ok(());
        };
        if self.rcpts.is_empty() {
            self.bad_sequence("No recipients");
            return Ok(());
        }
        self.send(&Reply::go_ahead());
        self.flush().await?;
        self.codec.begin_data(Some(self.ctx.data_limit()));
        let mut body = Vec::new();
        let mut too_large = false;
        loop {
            match self.codec.next() {
                Some(Ok(ServerEvent::DataChunk(c))) => body.extend_from_slice(&c),
                Some(Ok(ServerEvent::DataEnd)) => break,
                Some(Ok(ServerEvent::Command(_))) => {}
                Some(Err(_)) => too_large = true,
                None => {
                    if !self.read_more().await? {
                        return Err(End::Closed);
                    }
                }
            }
        }
        let rcpts = std::mem::take(&mut self.rcpts);
        let replies: Vec<Reply> = if too_large {
            vec![Reply::message_too_large(); rcpts.len()]
        } else {
            match deliver::normalize(&body) {
                Err(r) => vec![r; rcpts.len()],
                Ok(clean) => {
                    let authid = match &self.auth {
                        AuthState::User(u) => Some(u.authid.clone()),
                        _ => None,
                    };
                    let mut message = deliver::trace_headers(
                        &sender,
                        self.lhlo.as_deref().unwrap_or("unknown"),
                        &self.peer,
                        &self.ctx.servername,
                        self.conn.is_tls(),
                        !matches!(self.auth, AuthState::None) || self.conn.is_unix(),
                        &self.session_id,
                    );
                    message.extend_from_slice(&clean);
                    drop(body);
                    let envelope = Envelope { sender, authid };
                    let sid = self.session_id.clone();
                    self.blocking(move |ctx| {
                        deliver::deliver_all(ctx, &envelope, &rcpts, &message, &sid)
                    })
                    .await?
                }
            }
        };
        for r in &replies {
            self.send(r);
        }
        self.reset_transaction();
        self.new_session_id();
        Ok(())
    }
}

/// Serves one connection.
pub async fn handle(ctx: Arc<Context>, conn: Conn, peer: String) {
    let preauth = conn.is_unix() || ctx.preauth_tcp;
    let mut s = Session {
        codec: ServerCodec::new(ctx.limits),
        session_id: service::session_id(&ctx.servername),
        ctx,
        conn,
        buf: vec![0u8; 64 * 1024].into_boxed_slice(),
        out: Vec::with_capacity(4096),
        peer,
        lhlo: None,
        auth: if preauth {
            AuthState::Preauth
        } else {
            AuthState::None
        },
        external_done: false,
        sender: None,
        mail_size: None,
        rcpts: Vec::new(),
    };
    let greeting = format!(
        "{} Cyrus LMTP {} server ready",
        s.ctx.servername,
        crate::imapd::VERSION
    );
    if let Ok(r) = Reply::greeting(&greeting) {
        s.send(&r);
    }
    if s.flush().await.is_err() {
        return;
    }
    match s.run().await {
        Err(End::Io(e)) => tracing::debug!(peer = %s.peer, "lmtp connection ended: {e}"),
        Err(End::Closed) | Ok(()) => {}
    }
    let _ = s.flush().await;
    let _ = s.conn.shutdown().await;
}

/// Runs lmtpd until `shutdown` on a TCP listener, a UNIX listener, or both.
pub async fn run(
    conf: ImapdConf,
    preauth_tcp: bool,
    tcp: Option<TcpListener>,
    unix: Option<UnixListener>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    // A frontend (`mupdate_server`, no `proxyservers`) proxies to the backends (§4.12).
    if conf.is_frontend() {
        return crate::proxyd::lmtp::run(conf, preauth_tcp, tcp, unix, shutdown).await;
    }
    let ctx = Arc::new(Context::new(conf, preauth_tcp)?);
    let tcp_task = tcp.map(|l| {
        let ctx = ctx.clone();
        let sd = shutdown.clone();
        tokio::spawn(async move {
            let counter = ctx.connections.clone();
            serve(l, sd, counter, move |stream, peer, guard| {
                let ctx = ctx.clone();
                async move {
                    let _guard = guard;
                    handle(ctx, Conn::Net(stream), format!("[{}]", peer.ip())).await
                }
            })
            .await
        })
    });
    let unix_task = unix.map(|l| {
        let ctx = ctx.clone();
        let sd = shutdown.clone();
        tokio::spawn(async move {
            service::serve_unix(l, sd, move |s| {
                handle(ctx.clone(), Conn::Unix(s), "[unix socket]".to_string())
            })
            .await
        })
    });
    if let Some(t) = tcp_task {
        let _ = t.await;
    }
    if let Some(t) = unix_task {
        let _ = t.await;
    }
    Ok(())
}
