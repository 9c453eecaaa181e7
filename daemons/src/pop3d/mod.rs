//! `pop3d`: POP3 (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH RFC 5034) on the user's INBOX
//! (`user.NAME`) in the mail store, answering as Cyrus 3.6's pop3d does (transcript 07).
//!
//! * AUTHORIZATION: USER/PASS (refused before TLS unless `allowplaintext`, with
//!   `-ERR [AUTH] ...`), AUTH with an optional initial response, STLS, CAPA. A `proxyservers`
//!   (or admin) identity may act as another user through the SASL authorization id, as on
//!   imapd, which is how a murder frontend logs a user in.
//! * TRANSACTION: the maildrop is the INBOX's records at login (a snapshot). STAT, LIST, UIDL
//!   (`<uidvalidity>.<uid>`, as Cyrus), RETR, TOP, DELE, RSET, NOOP.
//! * UPDATE: QUIT expunges the messages marked with DELE, by UID, in one store transaction.
//!   The store is safe for many processes, so imapd and other POP3 sessions may work on the
//!   mailbox meanwhile; Cyrus's exclusive maildrop lock is not reproduced (a message expunged
//!   elsewhere reads as `-ERR No such message`).
//! * `-s`: implicit TLS (pop3s).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::config::imapd::ImapdConf;
use protocol::mailbox::Namespace;
use protocol::pop3::framing::DotStuffer;
use protocol::pop3::{
    Capability, Command, ExpirePolicy, InitialResponse, Limits, Mechanism, MsgNum, RespCode,
    Response, SaslData, SaslResponse, ServerCodec, Text,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::mboxdb::{MailboxDb, MbState};
use crate::net::{serve, ConnCounter};
use crate::sasl::{AuthFailure, ServerAuth, ServerStep};
use crate::service::{self, Authorized, Conn, End};
use crate::store::{MailboxId, Store, StoreError};

/// Everything sessions share.
pub struct Context {
    /// The configuration (read for the `pop3` service).
    pub conf: ImapdConf,
    /// `servername`.
    pub servername: String,
    /// This host's mailboxes.db.
    pub mboxdb: MailboxDb,
    /// The mail store.
    pub store: Store,
    /// Server-side SASL.
    pub auth: ServerAuth,
    /// TLS configuration (STLS and pop3s).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Implicit TLS (pop3s).
    pub implicit_tls: bool,
    /// External ↔ internal names.
    pub namespace: Namespace,
    /// Framing limits.
    pub limits: Limits,
    /// Live connections.
    pub connections: Arc<ConnCounter>,
    /// Delay before refusing a failed login.
    pub failed_login_pause: Duration,
    /// `poptimeout` (Cyrus default 10 minutes).
    pub idle_timeout: Duration,
}

impl Context {
    /// Builds the context from imapd.conf.
    pub fn new(conf: ImapdConf, implicit_tls: bool) -> Result<Context, String> {
        Ok(Context {
            servername: conf.servername().unwrap_or_else(|| "localhost".into()),
            mboxdb: service::open_mboxdb(&conf)?,
            store: service::open_store(&conf)?,
            auth: service::server_auth(&conf)?,
            tls: service::server_tls(&conf)?,
            implicit_tls,
            namespace: service::namespace(&conf),
            limits: Limits::default(),
            connections: Arc::new(ConnCounter::default()),
            failed_login_pause: service::failed_login_pause(&conf),
            idle_timeout: conf
                .get_duration("poptimeout")
                .unwrap_or(Duration::from_secs(600))
                .max(Duration::from_secs(600)),
            conf,
        })
    }

    fn plaintext_ok(&self, tls: bool) -> bool {
        tls || self.conf.allowplaintext()
    }
}

/// One message of the maildrop.
#[derive(Debug, Clone, Copy)]
struct Msg {
    uid: u32,
    size: u64,
    deleted: bool,
}

/// The open maildrop (TRANSACTION state).
struct Maildrop {
    id: MailboxId,
    uidvalidity: u32,
    msgs: Vec<Msg>,
}

fn ok(text: &str) -> Response {
    Response::ok(text).unwrap_or(Response::Ok {
        code: None,
        text: Text::default(),
    })
}

fn err(code: Option<RespCode>, text: &str) -> Response {
    let text = Text::new(text).unwrap_or_default();
    Response::Err { code, text }
}

struct Session {
    ctx: Arc<Context>,
    conn: Conn,
    codec: ServerCodec,
    buf: Box<[u8]>,
    out: Vec<u8>,
    /// From USER, waiting for PASS.
    pending_user: Option<String>,
    user: Option<Authorized>,
    drop: Option<Maildrop>,
    peer: String,
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

    fn capabilities(&self) -> Vec<Capability> {
        let tls = self.conn.is_tls();
        let mut caps = Vec::new();
        if self.drop.is_none() {
            let mechs: Vec<Mechanism> = self
                .ctx
                .auth
                .mechanisms(self.ctx.plaintext_ok(tls))
                .into_iter()
                .filter_map(|m| Mechanism::new(m).ok())
                .collect();
            if !mechs.is_empty() {
                caps.push(Capability::Sasl(mechs));
            }
            if self.ctx.tls.is_some() && !tls {
                caps.push(Capability::Stls);
            }
        }
        caps.extend([
            Capability::Expire {
                policy: ExpirePolicy::Never,
                per_user: false,
            },
            Capability::LoginDelay {
                seconds: 0,
                per_user: false,
            },
            Capability::Top,
            Capability::Uidl,
            Capability::Pipelining,
            Capability::RespCodes,
            Capability::AuthRespCode,
        ]);
        if self.drop.is_none() && self.ctx.plaintext_ok(tls) {
            caps.push(Capability::User);
        }
        if let Ok(t) = Text::new(format!("Cyrus POP3 {}", crate::imapd::VERSION)) {
            caps.push(Capability::Implementation(t));
        }
        caps
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
            match cmd {
                Err(e) => self.send(&err(None, &e.to_string())),
                Ok(cmd) => {
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
            Command::Quit => {
                self.quit().await?;
                return Ok(false);
            }
            Command::Capa => {
                self.send(&ok("List of capabilities follows"));
                let caps = self.capabilities();
                Capability::encode_list(&caps, &mut self.out);
            }
            Command::Noop if self.drop.is_some() => self.send(&ok("")),
            cmd if self.drop.is_none() => self.authorization(cmd).await?,
            cmd => self.transaction(cmd).await?,
        }
        Ok(true)
    }

    async fn authorization(&mut self, cmd: Command) -> Result<(), End> {
        let tls = self.conn.is_tls();
        match cmd {
            Command::Stls => {
                let cfg = match &self.ctx.tls {
                    Some(c) if !tls => c.clone(),
                    _ => {
                        self.send(&err(None, "STLS not available"));
                        return Ok(());
                    }
                };
                self.send(&ok("Begin TLS negotiation now"));
                self.flush().await?;
                // Plaintext pipelined after STLS must not be used (RFC 2595 §4).
                self.codec.clear();
                self.conn.accept_tls(cfg).await?;
                self.pending_user = None;
            }
            Command::User(name) => {
                if !self.ctx.plaintext_ok(tls) {
                    self.send(&err(
                        Some(RespCode::Auth),
                        "USER command only available under a layer",
                    ));
                } else {
                    self.pending_user = Some(name.as_str().to_owned());
                    self.send(&ok("Name is a valid mailbox"));
                }
            }
            Command::Pass(pw) => {
                let Some(user) = self.pending_user.take() else {
                    self.send(&err(Some(RespCode::Auth), "Must give USER command"));
                    return Ok(());
                };
                let pw = pw.expose().as_str().to_owned();
                let u2 = user.clone();
                let good = self.ctx.auth.login_recently_verified(&user, &pw)
                    || self
                        .blocking(move |ctx| ctx.auth.check_login(&u2, &pw).unwrap_or(false))
                        .await?;
                if !good {
                    tokio::time::sleep(self.ctx.failed_login_pause).await;
                    self.send(&err(Some(RespCode::Auth), "Invalid login"));
                    return Ok(());
                }
                match service::authorize(&self.ctx.conf, &user, None) {
                    Ok(a) => self.login(a).await?,
                    Err(e) => self.send(&err(Some(RespCode::Auth), e)),
                }
            }
            Command::AuthList => {
                self.send(&ok("List of supported mechanisms follows"));
                let mechs = self.ctx.auth.mechanisms(self.ctx.plaintext_ok(tls));
                protocol::pop3::framing::encode_lines(mechs, &mut self.out);
            }
            Command::Auth { mechanism, initial } => self.authenticate(mechanism, initial).await?,
            Command::Apop { .. } => {
                self.send(&err(Some(RespCode::Auth), "APOP not available"));
            }
            _ => self.send(&err(None, "Unrecognized command")),
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

    async fn challenge(&mut self, data: &[u8]) -> Result<Option<SaslResponse>, End> {
        let d = SaslData::new(B64.encode(data)).unwrap_or_default();
        self.send(&Response::Challenge(d));
        self.read_sasl_response().await
    }

    async fn authenticate(
        &mut self,
        mechanism: Mechanism,
        initial: Option<InitialResponse>,
    ) -> Result<(), End> {
        let plain_ok = self.ctx.plaintext_ok(self.conn.is_tls());
        let Ok(mut exchange) = self.ctx.auth.start(mechanism.as_str(), plain_ok) else {
            self.send(&err(Some(RespCode::Auth), "Invalid SASL mechanism"));
            return Ok(());
        };
        let mut input = match initial {
            None => None,
            Some(InitialResponse::Empty) => Some(Vec::new()),
            Some(InitialResponse::Data(d)) => match B64.decode(d.expose()) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.send(&err(Some(RespCode::Auth), "Invalid base64 string"));
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
                ServerStep::Challenge(c) => match self.challenge(&c).await? {
                    Some(SaslResponse::Cancel) => break Err(AuthFailure::Cancelled),
                    Some(SaslResponse::Data(d)) => match B64.decode(d.expose()) {
                        Ok(v) => input = Some(v),
                        Err(_) => break Err(AuthFailure::BadCredentials),
                    },
                    None => break Err(AuthFailure::BadCredentials),
                },
                ServerStep::Done { result, final_data } => {
                    // RFC 5034 §4: success data goes in a last challenge, answered empty.
                    if let (Ok(_), Some(data)) = (&result, final_data) {
                        if !data.is_empty() && self.challenge(&data).await?.is_none() {
                            break Err(AuthFailure::BadCredentials);
                        }
                    }
                    break result;
                }
            }
        };
        match outcome {
            Ok(id) => match service::authorize(&self.ctx.conf, &id.authid, id.authzid.as_deref()) {
                Ok(a) => self.login(a).await?,
                Err(e) => {
                    tokio::time::sleep(self.ctx.failed_login_pause).await;
                    self.send(&err(Some(RespCode::Auth), e));
                }
            },
            Err(AuthFailure::Cancelled) => {
                self.send(&err(Some(RespCode::Auth), "authentication cancelled"))
            }
            Err(AuthFailure::BadCredentials) => {
                tokio::time::sleep(self.ctx.failed_login_pause).await;
                self.send(&err(
                    Some(RespCode::Auth),
                    "authenticating: authentication failure",
                ));
            }
        }
        Ok(())
    }

    /// Opens the user's INBOX and enters TRANSACTION.
    async fn login(&mut self, user: Authorized) -> Result<(), End> {
        let name = user.name.clone();
        let opened = self
            .blocking(move |ctx| -> Result<Maildrop, Response> {
                let perm = || {
                    err(
                        Some(RespCode::SysPerm),
                        "Unable to locate maildrop: Mailbox does not exist",
                    )
                };
                let inbox = ctx.namespace.user_inbox(&name).map_err(|_| perm())?;
                let entry = ctx
                    .mboxdb
                    .get(inbox.as_str())
                    .map_err(|_| err(Some(RespCode::SysTemp), "Unable to open maildrop"))?
                    .ok_or_else(perm)?;
                match entry.state() {
                    MbState::Local => {}
                    MbState::Reserved | MbState::Moving => {
                        return Err(err(
                            Some(RespCode::SysTemp),
                            "Unable to open maildrop: Mailbox is locked",
                        ))
                    }
                    _ => return Err(perm()),
                }
                let id = MailboxId::new(&entry.uniqueid).map_err(|_| perm())?;
                let (state, records) = ctx.store.snapshot(&id).map_err(|e| match e {
                    StoreError::NoSuchMailbox(_) => perm(),
                    _ => err(Some(RespCode::SysTemp), "Unable to open maildrop"),
                })?;
                Ok(Maildrop {
                    id,
                    uidvalidity: state.uidvalidity,
                    msgs: records
                        .iter()
                        .map(|r| Msg {
                            uid: r.uid,
                            size: r.size,
                            deleted: false,
                        })
                        .collect(),
                })
            })
            .await?;
        match opened {
            Ok(d) => {
                tracing::info!(peer = %self.peer, user = %user.name, authid = %user.authid, "pop3 login");
                self.drop = Some(d);
                self.user = Some(user);
                let sid = service::session_id(&self.ctx.servername);
                self.send(&ok(&format!("Mailbox locked and ready SESSIONID=<{sid}>")));
            }
            Err(r) => {
                self.send(&r);
            }
        }
        Ok(())
    }

    /// The message `n` if it exists and is not marked deleted.
    fn msg(&self, n: MsgNum) -> Option<Msg> {
        let d = self.drop.as_ref()?;
        let i = usize::try_from(n.get()).ok()?.checked_sub(1)?;
        d.msgs.get(i).copied().filter(|m| !m.deleted)
    }

    async fn transaction(&mut self, cmd: Command) -> Result<(), End> {
        let no_such = || err(None, "No such message");
        let Some(uidvalidity) = self.drop.as_ref().map(|d| d.uidvalidity) else {
            return Ok(());
        };
        match cmd {
            Command::Stat => {
                let (n, size) = self.live().fold((0u32, 0u64), |(n, s), (_, m)| {
                    (n.saturating_add(1), s.saturating_add(m.size))
                });
                self.send(&ok(&format!("{n} {size}")));
            }
            Command::List(None) => {
                self.send(&ok("scan listing follows"));
                let lines: Vec<String> = self
                    .live()
                    .map(|(i, m)| format!("{i} {}", m.size))
                    .collect();
                protocol::pop3::framing::encode_lines(lines, &mut self.out);
            }
            Command::List(Some(n)) => match self.msg(n) {
                Some(m) => self.send(&ok(&format!("{n} {}", m.size))),
                None => self.send(&no_such()),
            },
            Command::Uidl(None) => {
                self.send(&ok("unique-id listing follows"));
                let lines: Vec<String> = self
                    .live()
                    .map(|(i, m)| format!("{i} {uidvalidity}.{}", m.uid))
                    .collect();
                protocol::pop3::framing::encode_lines(lines, &mut self.out);
            }
            Command::Uidl(Some(n)) => match self.msg(n) {
                Some(m) => self.send(&ok(&format!("{n} {uidvalidity}.{}", m.uid))),
                None => self.send(&no_such()),
            },
            Command::Retr(n) => self.retrieve(n, None).await?,
            Command::Top { msg, lines } => self.retrieve(msg, Some(lines)).await?,
            Command::Dele(n) => {
                let Some(i) = self
                    .msg(n)
                    .and_then(|_| usize::try_from(n.get()).ok())
                    .and_then(|i| i.checked_sub(1))
                else {
                    self.send(&no_such());
                    return Ok(());
                };
                if let Some(m) = self.drop.as_mut().and_then(|d| d.msgs.get_mut(i)) {
                    m.deleted = true;
                }
                self.send(&ok("message deleted"));
            }
            Command::Rset => {
                if let Some(d) = self.drop.as_mut() {
                    for m in &mut d.msgs {
                        m.deleted = false;
                    }
                }
                self.send(&ok(""));
            }
            _ => self.send(&err(None, "Unrecognized command")),
        }
        Ok(())
    }

    /// Live messages with their numbers.
    fn live(&self) -> impl Iterator<Item = (usize, Msg)> + '_ {
        self.drop
            .iter()
            .flat_map(|d| d.msgs.iter().copied().enumerate())
            .filter(|(_, m)| !m.deleted)
            .map(|(i, m)| (i.saturating_add(1), m))
    }

    /// RETR (`lines` None) or TOP.
    async fn retrieve(&mut self, n: MsgNum, lines: Option<u32>) -> Result<(), End> {
        let (Some(m), Some(id)) = (self.msg(n), self.drop.as_ref().map(|d| d.id.clone())) else {
            self.send(&err(None, "No such message"));
            return Ok(());
        };
        let uid = m.uid;
        let data = self
            .blocking(move |ctx| ctx.store.read_message(&id, uid))
            .await?;
        let data = match data {
            Ok(d) => d,
            Err(StoreError::NoSuchMessage { .. }) => {
                self.send(&err(None, "No such message"));
                return Ok(());
            }
            Err(e) => {
                tracing::warn!("reading message {uid}: {e}");
                self.send(&err(Some(RespCode::SysTemp), "Unable to read message"));
                return Ok(());
            }
        };
        let part = match lines {
            None => &data[..],
            Some(l) => top(&data, l),
        };
        self.send(&ok("Message follows"));
        let mut stuffer = DotStuffer::new();
        stuffer.push(part, &mut self.out);
        stuffer.finish(&mut self.out);
        Ok(())
    }

    async fn quit(&mut self) -> Result<(), End> {
        let Some(d) = self.drop.take() else {
            self.send(&ok(""));
            return Ok(());
        };
        let uids: Vec<u32> = d.msgs.iter().filter(|m| m.deleted).map(|m| m.uid).collect();
        if uids.is_empty() {
            self.send(&ok(""));
            return Ok(());
        }
        let id = d.id.clone();
        let res = self
            .blocking(move |ctx| ctx.store.expunge(&id, &uids))
            .await?;
        match res {
            Ok(_) => self.send(&ok("")),
            Err(e) => {
                tracing::warn!("pop3 expunge failed: {e}");
                self.send(&err(Some(RespCode::SysTemp), "Unable to expunge messages"));
            }
        }
        Ok(())
    }
}

/// The header and the first `lines` body lines of a message (TOP).
fn top(msg: &[u8], lines: u32) -> &[u8] {
    let header_end = msg
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p.saturating_add(4))
        .unwrap_or(msg.len());
    let mut end = header_end;
    for _ in 0..lines {
        if end >= msg.len() {
            break;
        }
        end = match msg
            .get(end..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
        {
            Some(p) => end.saturating_add(p).saturating_add(1),
            None => msg.len(),
        };
    }
    msg.get(..end).unwrap_or(msg)
}

/// Serves one connection.
pub async fn handle(ctx: Arc<Context>, conn: Conn, peer: String) {
    let mut s = Session {
        codec: ServerCodec::new(ctx.limits),
        ctx,
        conn,
        buf: vec![0u8; 16 * 1024].into_boxed_slice(),
        out: Vec::with_capacity(16 * 1024),
        pending_user: None,
        user: None,
        drop: None,
        peer,
    };
    if s.ctx.implicit_tls {
        let Some(cfg) = s.ctx.tls.clone() else {
            return;
        };
        if s.conn.accept_tls(cfg).await.is_err() {
            return;
        }
    }
    let stamp = format!(
        "<{}.{}@{}>",
        rand::random::<u64>(),
        chrono::Utc::now().timestamp(),
        s.ctx.servername
    );
    let greeting = format!(
        "{} Cyrus POP3 {} server ready {stamp}",
        s.ctx.servername,
        crate::imapd::VERSION
    );
    s.send(&ok(&greeting));
    if s.flush().await.is_err() {
        return;
    }
    match s.run().await {
        Err(End::Io(e)) => tracing::debug!(peer = %s.peer, "pop3 connection ended: {e}"),
        Err(End::Closed) | Ok(()) => {}
    }
    let _ = s.flush().await;
    let _ = s.conn.shutdown().await;
}

/// Runs pop3d on `listener` until `shutdown`.
pub async fn run(
    conf: ImapdConf,
    implicit_tls: bool,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), String> {
    // A frontend (`mupdate_server`, no `proxyservers`) proxies to the backends (§4.13).
    if conf.is_frontend() {
        return crate::proxyd::pop3::run(conf, implicit_tls, listener, shutdown).await;
    }
    let ctx = Arc::new(Context::new(conf, implicit_tls)?);
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
    use super::top;

    #[test]
    fn top_cuts_after_header_and_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        assert_eq!(top(m, 0), b"A: 1\r\nB: 2\r\n\r\n");
        assert_eq!(top(m, 2), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
        assert_eq!(top(m, 9), &m[..]);
        assert_eq!(top(b"A: 1\r\n", 3), b"A: 1\r\n");
    }
}
