//! One MUPDATE server connection, for a master or a slave (reference §1.3–1.8, §9.1).
//!
//! The session is a state machine over [`protocol::mupdate`]'s reader: the banner, then
//! commands until LOGOUT or EOF. While streaming (after UPDATE), changed names are collected
//! from the [`Streams`] queue and written out every 5 seconds and before each NOOP's OK, each in
//! its state at the time of writing, as Cyrus does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::mupdate::response::texts;
use protocol::mupdate::{
    BadCommand, Banner, Command, CommandBody, CommandReader, Inbound, Limits, MailboxRecord,
    Response, SaslResponse, ServerRole, Status, StringForm, Tag, Text, Verb, CONTINUATION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::store::{Op, Pending, Refusal, Streams, Writer};
use crate::mboxdb::{MailboxDb, MailboxEntry, MbState};
use crate::net::ConnGuard;
use crate::sasl::{AuthFailure, ServerAuth, ServerStep};
use crate::tls::Stream;

/// The version we announce. Cyrus clients only look at the keyword, but operators read it.
pub const VERSION: &str = concat!("murder-", env!("CARGO_PKG_VERSION"));

/// How often queued changes are written to streaming connections (Cyrus's `update_wait`).
pub const STREAM_FLUSH: Duration = Duration::from_secs(5);

/// What a server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// `mupdate -m`.
    Master,
    /// A slave following `upstream` (its `mupdate_server` value).
    Slave {
        /// Shown in the banner as `mupdate://<upstream>`.
        upstream: String,
    },
}

/// Everything a connection needs, shared by all connections of one server.
pub struct ServerContext {
    /// Master or slave.
    pub role: Role,
    /// The database served.
    pub db: MailboxDb,
    /// The writer (master only; a slave refuses writes).
    pub writer: Option<Writer>,
    /// Streaming subscribers.
    pub streams: Arc<Streams>,
    /// SASL.
    pub auth: ServerAuth,
    /// Identities allowed to authenticate.
    pub admins: Vec<String>,
    /// Plaintext mechanisms without TLS.
    pub allowplaintext: bool,
    /// STARTTLS configuration, when TLS is set up.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Our `servername`.
    pub servername: String,
    /// How records are written (Cyrus's literals, or quoted for the affected 2024 releases).
    pub form: StringForm,
    /// Parser limits.
    pub limits: Limits,
    /// `mupdate_connections_max`.
    pub max_connections: usize,
    /// Live connections.
    pub connections: Arc<crate::net::ConnCounter>,
    /// Delay before answering a failed authentication (`failedloginpause`).
    pub failed_login_pause: Duration,
    /// Idle timeout (Cyrus: 180 minutes).
    pub idle_timeout: Duration,
    /// Bumped when a slave starts a resync: idle clients get `* BYE "no longer ready ..."`.
    pub resync: watch::Receiver<u64>,
}

impl ServerContext {
    fn banner(&self, tls_active: bool) -> Banner {
        let plaintext_ok = tls_active || self.allowplaintext;
        let role = match &self.role {
            Role::Master => ServerRole::Master,
            Role::Slave { upstream } => ServerRole::Slave {
                upstream: upstream.clone(),
            },
        };
        Banner::cyrus(
            self.auth
                .mechanisms(plaintext_ok)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            self.tls.is_some() && !tls_active,
            false,
            self.servername.clone(),
            VERSION,
            role,
        )
    }

    fn is_admin(&self, id: &str) -> bool {
        self.admins.iter().any(|a| a == id)
    }
}

/// The record line for an entry, if it is one MUPDATE shows (active or reserved).
pub fn record_of(e: &MailboxEntry) -> Option<MailboxRecord> {
    match e.state() {
        MbState::Remote | MbState::Local | MbState::Moving => Some(MailboxRecord::active(
            e.name.clone(),
            e.location(),
            e.acl.clone(),
        )),
        MbState::Reserved => Some(MailboxRecord::reserved(e.name.clone(), e.location())),
        MbState::Deleted | MbState::Intermediate => None,
    }
}

struct Session {
    ctx: Arc<ServerContext>,
    stream: Stream,
    reader: CommandReader,
    buf: Box<[u8]>,
    out: Vec<u8>,
    user: Option<String>,
    streaming: Option<Streaming>,
    peer: SocketAddr,
}

struct Streaming {
    tag: Tag,
    names: mpsc::UnboundedReceiver<String>,
}

enum Flow {
    Continue,
    Close,
}

/// Serves one connection until it ends.
pub async fn handle(ctx: Arc<ServerContext>, stream: Stream, peer: SocketAddr, guard: ConnGuard) {
    let _guard = guard;
    let mut stream = stream;
    if ctx.connections.get() > ctx.max_connections {
        // Cyrus writes the string literal with its terminating NUL (reference §1.1).
        let _ = stream.write_all(texts::SERVER_UNABLE_WIRE).await;
        let _ = stream.shutdown().await;
        return;
    }
    let mut s = Session {
        reader: CommandReader::new(ctx.limits),
        ctx,
        stream,
        buf: vec![0u8; 16 * 1024].into_boxed_slice(),
        out: Vec::with_capacity(4096),
        user: None,
        streaming: None,
        peer,
    };
    let banner = s.ctx.banner(false);
    banner.encode(&mut s.out);
    if s.flush().await.is_err() {
        return;
    }
    if let Err(e) = s.run().await {
        tracing::debug!(peer = %s.peer, "mupdate connection ended: {e}");
    }
    let _ = s.stream.shutdown().await;
}

impl Session {
    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await
    }

    fn respond(&mut self, r: Response) {
        r.encode(&mut self.out, self.ctx.form);
    }

    fn reply(&mut self, tag: &Tag, reply: texts::Reply) {
        self.respond(Response::reply(tag.clone(), reply));
    }

    async fn run(&mut self) -> std::io::Result<()> {
        let mut flush_timer = tokio::time::interval(STREAM_FLUSH);
        flush_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resync = self.ctx.resync.clone();
        resync.borrow_and_update();
        loop {
            // Handle everything already buffered before waiting again. Consecutive writes are
            // queued together and answered in order, so a pipelining client's writes share one
            // commit (one fsync) instead of paying for one each.
            let mut pending: Vec<(Tag, Pending)> = Vec::new();
            while let Some(inbound) = self.reader.next() {
                if let Some((tag, op)) = self.pipelinable_write(&inbound) {
                    if let Some(writer) = self.ctx.writer.clone() {
                        pending.push((tag, writer.enqueue(op).await));
                        continue;
                    }
                }
                self.answer_pending(&mut pending).await;
                let flow = self.inbound(inbound).await?;
                self.flush().await?;
                if let Flow::Close = flow {
                    return Ok(());
                }
            }
            self.answer_pending(&mut pending).await;
            self.flush().await?;
            let idle = tokio::time::sleep(self.ctx.idle_timeout);
            tokio::select! {
                read = self.stream.read(&mut self.buf) => {
                    let n = read?;
                    if n == 0 {
                        return Ok(());
                    }
                    self.reader.enqueue(&self.buf[..n]);
                }
                _ = flush_timer.tick(), if self.streaming.is_some() => {
                    self.flush_stream()?;
                    self.flush().await?;
                }
                changed = resync.changed(), if self.streaming.is_none() => {
                    if changed.is_ok() {
                        self.respond(Response::bye(texts::NO_LONGER_READY));
                        self.flush().await?;
                        return Ok(());
                    }
                }
                _ = idle => {
                    self.respond(Response::bye(texts::IDLE_TOO_LONG));
                    self.flush().await?;
                    return Ok(());
                }
            }
        }
    }

    /// A write command that may be queued without waiting: logged in, not streaming, on a
    /// master. Anything else goes through the normal path (which gives the right refusal).
    fn pipelinable_write(&self, inbound: &Inbound) -> Option<(Tag, Op)> {
        let Inbound::Command(Command { tag, body }) = inbound else {
            return None;
        };
        if self.user.is_none() || self.streaming.is_some() || self.ctx.writer.is_none() {
            return None;
        }
        let op = match body.clone() {
            CommandBody::Reserve { mailbox, location } => Op::Reserve {
                name: mailbox,
                location,
            },
            CommandBody::Activate {
                mailbox,
                location,
                acl,
            } => Op::Activate {
                name: mailbox,
                location,
                acl,
            },
            CommandBody::Deactivate { mailbox, location } => Op::Deactivate {
                name: mailbox,
                location,
            },
            CommandBody::Delete { mailbox } => Op::Delete { name: mailbox },
            _ => return None,
        };
        Some((tag.clone(), op))
    }

    async fn answer_pending(&mut self, pending: &mut Vec<(Tag, Pending)>) {
        for (tag, p) in pending.drain(..) {
            let r = p.wait().await;
            self.write_result(tag, r);
        }
    }

    fn write_result(&mut self, tag: Tag, r: Result<(), Refusal>) {
        match r {
            Ok(()) => self.reply(&tag, texts::DONE),
            Err(Refusal::AlreadyExists) => self.reply(&tag, texts::MAILBOX_EXISTS),
            Err(Refusal::NotActive) => self.reply(&tag, texts::MAILBOX_NOT_ACTIVE),
            Err(Refusal::DoesNotExist) => self.reply(&tag, texts::MAILBOX_UNKNOWN),
            Err(Refusal::Database(e)) => {
                tracing::error!("mupdate write failed: {e}");
                self.respond(Response::no(tag, format!("database error: {e}")));
            }
        }
    }

    /// Writes every queued change in its current state.
    fn flush_stream(&mut self) -> std::io::Result<()> {
        let Some(st) = self.streaming.as_mut() else {
            return Ok(());
        };
        let tag = st.tag.clone();
        let mut names = Vec::new();
        while let Ok(n) = st.names.try_recv() {
            names.push(n);
        }
        for name in names {
            let entry = self
                .ctx
                .db
                .get(&name)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            match entry.as_ref().and_then(record_of) {
                Some(rec) => self.respond(Response::record(tag.clone(), rec)),
                None => self.respond(Response::delete(tag.clone(), name)),
            }
        }
        Ok(())
    }

    async fn inbound(&mut self, inbound: Inbound) -> std::io::Result<Flow> {
        match inbound {
            Inbound::Continue { .. } => {
                self.out.extend_from_slice(CONTINUATION);
                Ok(Flow::Continue)
            }
            Inbound::Bad(e) => {
                if self.user.is_none() && e.requires_login() {
                    if let Some(tag) = e.tag.clone() {
                        self.reply(&tag, texts::LOGIN_FIRST);
                        return Ok(Flow::Continue);
                    }
                }
                self.respond(e.to_response());
                Ok(if e.is_fatal() {
                    Flow::Close
                } else {
                    Flow::Continue
                })
            }
            Inbound::Command(cmd) => self.command(cmd).await,
        }
    }

    async fn command(&mut self, cmd: Command) -> std::io::Result<Flow> {
        let Command { tag, body } = cmd;
        let verb = body.verb();
        if self.user.is_none() && verb.requires_login() {
            self.reply(&tag, texts::LOGIN_FIRST);
            return Ok(Flow::Continue);
        }
        if self.streaming.is_some() && verb.refused_while_streaming() {
            self.reply(&tag, texts::NOT_WHEN_STREAMING);
            return Ok(Flow::Continue);
        }
        if verb.is_write() && self.ctx.writer.is_none() {
            self.reply(&tag, texts::READ_ONLY);
            return Ok(Flow::Continue);
        }
        match body {
            CommandBody::Logout => {
                self.reply(&tag, texts::BYE_BYE);
                Ok(Flow::Close)
            }
            CommandBody::Noop => {
                self.flush_stream()?;
                self.reply(&tag, texts::NOOP_DONE);
                Ok(Flow::Continue)
            }
            CommandBody::Starttls => self.starttls(tag).await,
            CommandBody::Compress { alg } => {
                // We do not offer COMPRESS (no Cyrus client ever detects it, reference §1.3).
                self.respond(Response::compress_init_error(tag, &alg));
                Ok(Flow::Continue)
            }
            CommandBody::Authenticate { mech, initial } => {
                self.authenticate(tag, mech, initial).await
            }
            CommandBody::Reserve { mailbox, location } => {
                self.write(
                    tag,
                    Op::Reserve {
                        name: mailbox,
                        location,
                    },
                )
                .await
            }
            CommandBody::Activate {
                mailbox,
                location,
                acl,
            } => {
                self.write(
                    tag,
                    Op::Activate {
                        name: mailbox,
                        location,
                        acl,
                    },
                )
                .await
            }
            CommandBody::Deactivate { mailbox, location } => {
                self.write(
                    tag,
                    Op::Deactivate {
                        name: mailbox,
                        location,
                    },
                )
                .await
            }
            CommandBody::Delete { mailbox } => self.write(tag, Op::Delete { name: mailbox }).await,
            CommandBody::Find { mailbox } => {
                match self.ctx.db.get(&mailbox) {
                    Ok(entry) => {
                        if let Some(rec) = entry.as_ref().and_then(record_of) {
                            self.respond(Response::record(tag.clone(), rec));
                        }
                        self.reply(&tag, texts::SEARCH_COMPLETED);
                    }
                    Err(e) => self.respond(Response::no(tag, format!("database error: {e}"))),
                }
                Ok(Flow::Continue)
            }
            CommandBody::List { prefix } => {
                let prefix = prefix.unwrap_or_default();
                let ok = self
                    .dump(&tag, move |rec| rec.location().starts_with(prefix.as_str()))
                    .await?;
                if ok {
                    self.reply(&tag, texts::LIST_COMPLETE);
                } else {
                    self.respond(Response::no(tag, "database error"));
                }
                Ok(Flow::Continue)
            }
            CommandBody::Update { hosts } => self.update(tag, hosts).await,
        }
    }

    async fn write(&mut self, tag: Tag, op: Op) -> std::io::Result<Flow> {
        let Some(writer) = self.ctx.writer.clone() else {
            self.reply(&tag, texts::READ_ONLY);
            return Ok(Flow::Continue);
        };
        let r = writer.submit(op).await;
        self.write_result(tag, r);
        Ok(Flow::Continue)
    }

    /// Sends every entry passing `keep` as a record with `tag`, from one snapshot, without
    /// holding the whole list in memory. Returns false on a database error.
    async fn dump(
        &mut self,
        tag: &Tag,
        keep: impl Fn(&MailboxRecord) -> bool + Send + 'static,
    ) -> std::io::Result<bool> {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(8);
        let db = self.ctx.db.clone();
        let form = self.ctx.form;
        let tag_c = tag.clone();
        let producer = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::with_capacity(64 * 1024);
            let mut failed = false;
            let r = db.scan("", |e| {
                if let Some(rec) = record_of(&e) {
                    if keep(&rec) {
                        Response::record(tag_c.clone(), rec).encode(&mut chunk, form);
                        if chunk.len() >= 60 * 1024 {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(64 * 1024));
                            if tx.blocking_send(full).is_err() {
                                failed = true;
                                return std::ops::ControlFlow::Break(());
                            }
                        }
                    }
                }
                std::ops::ControlFlow::Continue(())
            });
            if !chunk.is_empty() && !failed {
                let _ = tx.blocking_send(chunk);
            }
            r.is_ok() && !failed
        });
        while let Some(chunk) = rx.recv().await {
            self.flush().await?;
            self.stream.write_all(&chunk).await?;
        }
        Ok(producer.await.unwrap_or(false))
    }

    async fn update(&mut self, tag: Tag, hosts: Vec<String>) -> std::io::Result<Flow> {
        // Subscribe before dumping, so no change between the dump and the stream is lost
        // (one that lands in both is simply sent twice, in its current state).
        let filter = if hosts.is_empty() {
            None
        } else {
            Some(hosts.clone())
        };
        let names = self.ctx.streams.subscribe(filter);
        let ok = self
            .dump(&tag, move |rec| {
                hosts.is_empty() || {
                    let server = rec.location().split('!').next().unwrap_or("");
                    hosts.iter().any(|h| h == server)
                }
            })
            .await?;
        if !ok {
            // Never NO or BAD to a slave's UPDATE: a Cyrus slave would empty its database
            // (reference §2.9). Dropping the connection makes it retry instead.
            tracing::error!(peer = %self.peer, "UPDATE dump failed; closing the connection");
            return Ok(Flow::Close);
        }
        self.reply(&tag, texts::STREAMING_STARTS);
        self.streaming = Some(Streaming { tag, names });
        Ok(Flow::Continue)
    }

    async fn starttls(&mut self, tag: Tag) -> std::io::Result<Flow> {
        let Some(cfg) = self.ctx.tls.clone() else {
            self.reply(&tag, texts::UNRECOGNIZED);
            return Ok(Flow::Continue);
        };
        if self.stream.is_tls() {
            self.reply(&tag, texts::STARTTLS_TWICE);
            return Ok(Flow::Continue);
        }
        if self.user.is_some() {
            self.reply(&tag, texts::STARTTLS_AFTER_AUTH);
            return Ok(Flow::Continue);
        }
        self.reply(&tag, texts::BEGIN_TLS);
        self.flush().await?;
        // Anything pipelined after STARTTLS was sent in clear: ignore it.
        let _ = self.reader.take_buffered();
        // A failed handshake ends this connection only (Cyrus takes the whole process down).
        self.stream.accept_tls(cfg).await?;
        let banner = self.ctx.banner(true);
        banner.encode(&mut self.out);
        Ok(Flow::Continue)
    }

    async fn read_sasl(&mut self) -> std::io::Result<Option<Result<SaslResponse, String>>> {
        loop {
            if let Some(r) = self.reader.next_sasl() {
                return Ok(Some(r.map_err(|e| e.to_string())));
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.reader.enqueue(&self.buf[..n]);
        }
    }

    async fn authenticate(
        &mut self,
        tag: Tag,
        mech: String,
        initial: Option<String>,
    ) -> std::io::Result<Flow> {
        if self.user.is_some() {
            self.reply(&tag, texts::ALREADY_AUTHENTICATED);
            return Ok(Flow::Continue);
        }
        let plaintext_ok = self.stream.is_tls() || self.ctx.allowplaintext;
        let mut exchange = match self.ctx.auth.start(&mech, plaintext_ok) {
            Ok(x) => x,
            Err(_) => {
                self.respond(Response::no(tag, "no mechanism available"));
                return Ok(Flow::Continue);
            }
        };
        let mut input = match initial {
            None => None,
            Some(s) if s == "=" || s.is_empty() => Some(Vec::new()),
            Some(s) => match B64.decode(s.trim()) {
                Ok(b) => Some(b),
                Err(_) => {
                    self.respond(Response::sasl_read_error(
                        tag,
                        &protocol::mupdate::SaslError::NotBase64,
                    ));
                    return Ok(Flow::Continue);
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
                    // Challenges are bare base64 lines, without `+ ` (reference §1.5.1).
                    self.out.extend_from_slice(B64.encode(&c).as_bytes());
                    self.out.extend_from_slice(b"\r\n");
                    self.flush().await?;
                    match self.read_sasl().await? {
                        None => return Ok(Flow::Close),
                        Some(Ok(SaslResponse::Cancel)) => break Err(AuthFailure::Cancelled),
                        Some(Ok(SaslResponse::Data(d))) => match B64.decode(d.trim()) {
                            Ok(b) => input = Some(b),
                            Err(_) => break Err(AuthFailure::BadCredentials),
                        },
                        Some(Err(e)) => {
                            self.respond(Response::status(
                                tag,
                                Status::No,
                                Text::bare(format!("{}{e}", texts::SASL_READ_ERROR_PREFIX)),
                            ));
                            return Ok(Flow::Continue);
                        }
                    }
                }
                // Cyrus never sends SASL success data with the OK (reference §1.5.1).
                ServerStep::Done { result, .. } => break result,
            }
        };
        match outcome {
            Ok(id) => {
                let allowed = self.ctx.is_admin(&id.authid)
                    && id.authzid.as_deref().is_none_or(|z| self.ctx.is_admin(z));
                if allowed {
                    tracing::info!(peer = %self.peer, user = %id.authid, "mupdate login");
                    self.user = Some(id.user().to_owned());
                    self.reply(&tag, texts::AUTHENTICATED);
                } else {
                    tracing::warn!(peer = %self.peer, user = %id.authid, "only admins may authenticate");
                    tokio::time::sleep(self.ctx.failed_login_pause).await;
                    self.respond(Response::no(tag, "authorization failure"));
                }
            }
            Err(AuthFailure::Cancelled) => self.reply(&tag, texts::CLIENT_CANCELED),
            Err(AuthFailure::BadCredentials) => {
                tokio::time::sleep(self.ctx.failed_login_pause).await;
                self.reply(&tag, texts::AUTHENTICATION_FAILURE);
            }
        }
        Ok(Flow::Continue)
    }
}

// Referenced so that unused-import lints stay quiet if a verb-specific path changes.
const _: fn(&[u8]) -> Option<Verb> = Verb::from_word;
const _: Option<BadCommand> = None;
