//! A frontend's IMAP connection to one backend, authenticated as `proxy_authname` acting for
//! the session's user (reference §4.3).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::config::imapd::ImapdConf;
use protocol::imap::framing::{Frame, Limits, Role};
use tokio::net::TcpStream;

use crate::backends::{backend_address, proxy_credentials, short_host};
use crate::net::FramedConn;
use crate::sasl::ClientAuth;
use crate::tls::Stream;

/// How long connecting and authenticating to a backend may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a backend could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend could not be reached, or the connection broke.
    #[error("{server}: {message}")]
    Unavailable {
        /// The server name.
        server: String,
        /// What happened.
        message: String,
    },
    /// The backend refused the proxy login.
    #[error("{server}: authentication failed: {message}")]
    AuthFailed {
        /// The server name.
        server: String,
        /// The backend's text.
        message: String,
    },
}

/// One authenticated backend connection.
pub struct Backend {
    /// The MUPDATE server name it was opened for.
    pub server: String,
    /// The connection (framed as a client reads responses).
    pub conn: FramedConn,
    /// The backend's capabilities (upper case).
    pub caps: Vec<String>,
    /// Its capabilities before authentication (the SASL mechanisms, SASL-IR), kept for
    /// authenticating again after UNAUTHENTICATE.
    login_caps: Vec<String>,
    /// The tag of an UNAUTHENTICATE sent when the connection went back to the [`Pool`],
    /// whose answer is read with the next AUTHENTICATE's.
    pending: Option<String>,
    /// An AUTHENTICATE sent without waiting for its answer (on a pooled connection, whose
    /// UNAUTHENTICATE was answered): the first command is sent right behind it and
    /// [`Backend::line`] reads the answer first.
    auth_pending: Option<AuthPending>,
    /// When it was last used (a connection idle for long gets a NOOP before reuse).
    pub last_used: Instant,
    next_tag: u32,
}

/// Finds `[CAPABILITY ...]` in a response line.
fn caps_in(line: &[u8]) -> Option<Vec<String>> {
    let s = String::from_utf8_lossy(line);
    let upper = s.to_ascii_uppercase();
    let start = upper.find("[CAPABILITY ")? + "[CAPABILITY ".len();
    let rest = upper.get(start..)?;
    let end = rest.find(']')?;
    Some(
        rest.get(..end)?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

fn io_err(server: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Unavailable {
        server: server.to_owned(),
        message: e.to_string(),
    }
}

impl Backend {
    /// Connects to `server` and authenticates as the proxy acting for `user`.
    pub async fn connect(
        conf: &ImapdConf,
        server: &str,
        user: &str,
    ) -> Result<Backend, BackendError> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::connect_inner(conf, server, user))
            .await
            .map_err(|_| io_err(server, "timed out"))?
    }

    async fn connect_inner(
        conf: &ImapdConf,
        server: &str,
        user: &str,
    ) -> Result<Backend, BackendError> {
        let (host, port) = backend_address(conf, server, "imap")
            .ok_or_else(|| io_err(server, "no usable address for this server name"))?;
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| io_err(server, e))?;
        let _ = tcp.set_nodelay(true);
        let mut b = Backend {
            server: server.to_owned(),
            conn: FramedConn::new(Stream::Plain(tcp), Role::Client, Limits::default()),
            caps: Vec::new(),
            login_caps: Vec::new(),
            pending: None,
            auth_pending: None,
            last_used: Instant::now(),
            next_tag: 0,
        };
        let greeting = b.line().await?;
        if !greeting.starts_with(b"* OK") {
            return Err(io_err(
                server,
                String::from_utf8_lossy(&greeting).trim_end(),
            ));
        }
        match caps_in(&greeting) {
            Some(c) => b.caps = c,
            None => {
                let tag = b.tag();
                b.conn
                    .send(format!("{tag} CAPABILITY\r\n").as_bytes())
                    .await
                    .map_err(|e| io_err(server, e))?;
                loop {
                    let l = b.line().await?;
                    if l.starts_with(b"* CAPABILITY ") {
                        b.caps = String::from_utf8_lossy(&l[13..])
                            .to_ascii_uppercase()
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect();
                    } else if l.starts_with(tag.as_bytes()) {
                        break;
                    }
                }
            }
        }
        b.login_caps = b.caps.clone();
        b.authenticate(conf, user).await?;
        Ok(b)
    }

    /// Like [`Backend::connect`], but first tries the connections other sessions handed back
    /// to `pool`: one of those only needs a new AUTHENTICATE (for `user`), sent without
    /// waiting for the answer to its UNAUTHENTICATE. A pooled connection that fails in any
    /// way is dropped and the next one (or a new connection) is tried.
    pub async fn connect_pooled(
        conf: &ImapdConf,
        server: &str,
        user: &str,
        pool: &Pool,
    ) -> Result<Backend, BackendError> {
        while let Some(mut b) = pool.take(server) {
            match tokio::time::timeout(CONNECT_TIMEOUT, b.authenticate(conf, user)).await {
                Ok(Ok(())) => return Ok(b),
                Ok(Err(e)) => {
                    tracing::debug!(backend = %server, "a pooled backend connection failed: {e}")
                }
                Err(_) => {
                    tracing::debug!(backend = %server, "a pooled backend connection timed out")
                }
            }
        }
        Self::connect(conf, server, user).await
    }

    /// Ends this session's use of the connection: back to `pool` after UNAUTHENTICATE when the
    /// backend offers it (RFC 8437) and the pool has room, else LOGOUT. Only for a connection
    /// with no command in progress.
    pub async fn release(mut self, pool: &Pool) {
        if !pool.has_room(&self.server) || !self.caps.iter().any(|c| c == "UNAUTHENTICATE") {
            return self.logout().await;
        }
        let tag = self.tag();
        if self
            .send(format!("{tag} UNAUTHENTICATE\r\n").as_bytes())
            .await
            .is_ok()
        {
            self.pending = Some(tag);
            pool.put(self);
        }
    }

    /// A tag for the frontend's own commands (`PROXY<n>`).
    pub fn tag(&mut self) -> String {
        self.next_tag = self.next_tag.wrapping_add(1);
        format!("PROXY{}", self.next_tag)
    }

    /// Reads one whole response (a line with its literals), after the answer to a pipelined
    /// AUTHENTICATE when one is due (its refusal is the error then).
    pub async fn line(&mut self) -> Result<Vec<u8>, BackendError> {
        if let Some(a) = self.auth_pending.clone() {
            loop {
                let l = self.read_frame().await?;
                if let Some(done) = self.auth_answer(&l, &a) {
                    self.auth_pending = None;
                    done?;
                    break;
                }
            }
        }
        self.read_frame().await
    }

    /// The outcome of AUTHENTICATE if `l` is its tagged answer.
    fn auth_answer(&mut self, l: &[u8], a: &AuthPending) -> Option<Result<(), BackendError>> {
        let rest = l.strip_prefix(format!("{} ", a.tag).as_bytes())?;
        if rest.starts_with(b"OK") {
            if let Some(c) = caps_in(l) {
                self.caps = c;
            }
            return Some(Ok(()));
        }
        let message = String::from_utf8_lossy(rest).trim_end().to_owned();
        tracing::warn!(
            server = %self.server,
            mechanism = %a.mechanism,
            authname = %a.authname,
            user = %a.user,
            "backend refused the proxy login: {message}"
        );
        Some(Err(BackendError::AuthFailed {
            server: self.server.clone(),
            message,
        }))
    }

    async fn read_frame(&mut self) -> Result<Vec<u8>, BackendError> {
        match self.conn.next_frame().await {
            Ok(Some(Frame::Message(m))) => Ok(m),
            Ok(Some(Frame::Error(e))) => Err(io_err(&self.server, e.kind)),
            Ok(Some(Frame::NeedContinuation { .. })) => {
                Err(io_err(&self.server, "unexpected continuation"))
            }
            Ok(None) => Err(io_err(&self.server, "connection closed")),
            Err(e) => Err(io_err(&self.server, e)),
        }
    }

    /// Sends bytes.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), BackendError> {
        self.last_used = Instant::now();
        self.conn
            .send(bytes)
            .await
            .map_err(|e| io_err(&self.server, e))
    }

    async fn authenticate(&mut self, conf: &ImapdConf, user: &str) -> Result<(), BackendError> {
        let offered: Vec<String> = self
            .login_caps
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH="))
            .map(str::to_owned)
            .collect();
        let (authname, password) =
            proxy_credentials(conf, &self.server).ok_or_else(|| BackendError::AuthFailed {
                server: self.server.clone(),
                message: "no proxy_password (or <shorthost>_password) is set".into(),
            })?;
        let forced = conf
            .mechs_for_server(short_host(&self.server))
            .or_else(|| conf.get_str("force_sasl_client_mech"));
        let (mut client, initial) = ClientAuth::start(
            &offered,
            forced.as_deref(),
            &authname,
            Some(user),
            &password,
        )
        .map_err(|e| BackendError::AuthFailed {
            server: self.server.clone(),
            message: e.to_string(),
        })?;
        let tag = self.tag();
        let mut cmd = format!("{tag} AUTHENTICATE {}", client.mechanism());
        let mut pending = initial;
        if self.login_caps.iter().any(|c| c == "SASL-IR") {
            if let Some(ir) = pending.take() {
                cmd.push(' ');
                if ir.is_empty() {
                    cmd.push('=');
                } else {
                    cmd.push_str(&B64.encode(&ir));
                }
            }
        }
        cmd.push_str("\r\n");
        self.send(cmd.as_bytes()).await?;
        let answer = AuthPending {
            tag: tag.clone(),
            mechanism: client.mechanism().to_owned(),
            authname: authname.clone(),
            user: user.to_owned(),
        };
        // A pooled connection and a one-step mechanism whose response went with the command
        // (PLAIN with SASL-IR): once the UNAUTHENTICATE is answered, the connection is known to
        // be unauthenticated, so the caller's first command can follow at once. Were the login
        // refused, that command would meet a not-authenticated session and do nothing.
        let pipeline = self.pending.is_some() && pending.is_none() && answer.mechanism == "PLAIN";
        loop {
            let l = self.read_frame().await?;
            if let Some(p) = self.pending.as_deref() {
                // The answer to the UNAUTHENTICATE sent when the connection was pooled.
                if let Some(rest) = l.strip_prefix(format!("{p} ").as_bytes()) {
                    if !rest.starts_with(b"OK") {
                        return Err(io_err(&self.server, "UNAUTHENTICATE was refused"));
                    }
                    self.pending = None;
                    if pipeline {
                        self.auth_pending = Some(answer);
                        return Ok(());
                    }
                    continue;
                }
            }
            if l.starts_with(b"+") {
                let data = l.get(1..).unwrap_or_default();
                let data = String::from_utf8_lossy(data);
                let data = data.trim();
                let answer = match pending.take() {
                    Some(ir) => ir,
                    None => {
                        let challenge = B64.decode(data).unwrap_or_default();
                        client
                            .step(&challenge)
                            .map_err(|e| BackendError::AuthFailed {
                                server: self.server.clone(),
                                message: e.to_string(),
                            })?
                    }
                };
                let mut reply = B64.encode(&answer);
                reply.push_str("\r\n");
                self.send(reply.as_bytes()).await?;
            } else if let Some(done) = self.auth_answer(&l, &answer) {
                return done;
            }
        }
    }

    /// Runs one of our own commands, returning its untagged responses and the tagged line.
    pub async fn command(&mut self, text: &[u8]) -> Result<(Vec<Vec<u8>>, Vec<u8>), BackendError> {
        let tag = self.tag();
        let mut cmd = Vec::with_capacity(text.len() + 16);
        cmd.extend_from_slice(tag.as_bytes());
        cmd.push(b' ');
        cmd.extend_from_slice(text);
        cmd.extend_from_slice(b"\r\n");
        self.send(&cmd).await?;
        let mut untagged = Vec::new();
        let prefix = format!("{tag} ");
        loop {
            let l = self.line().await?;
            if l.starts_with(prefix.as_bytes()) {
                return Ok((untagged, l));
            }
            untagged.push(l);
        }
    }

    /// Whether the connection still answers (`NOOP`), used before reusing an idle one.
    pub async fn alive(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.command(b"NOOP")).await,
            Ok(Ok((_, l))) if tagged_ok(&l)
        )
    }

    /// Says goodbye (best effort).
    pub async fn logout(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.command(b"LOGOUT")).await;
    }
}

/// An AUTHENTICATE whose answer is still to be read.
#[derive(Clone)]
struct AuthPending {
    tag: String,
    mechanism: String,
    authname: String,
    user: String,
}

/// How many UNAUTHENTICATEd connections to one backend the pool keeps by default
/// (`proxyd_backend_pool`; 0 turns pooling off).
pub const POOL_PER_SERVER: usize = 32;

/// How long a pooled connection may wait for its next session before it is closed.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Backend connections that finished sessions handed back, not authenticated (after
/// UNAUTHENTICATE), by server. A new session's first command for a backend then costs one
/// AUTHENTICATE instead of a TCP connection, a greeting and a login, on both sides; Cyrus's
/// proxyd opens a new connection for every session.
pub struct Pool {
    idle: Mutex<HashMap<String, Vec<Backend>>>,
    per_server: usize,
}

impl Pool {
    /// A pool keeping up to `per_server` connections to each backend (0: none).
    pub fn new(per_server: usize) -> Pool {
        Pool {
            idle: Mutex::new(HashMap::new()),
            per_server,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Backend>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has_room(&self, server: &str) -> bool {
        self.per_server > 0
            && self
                .lock()
                .get(server)
                .is_none_or(|v| v.len() < self.per_server)
    }

    fn put(&self, b: Backend) {
        let mut idle = self.lock();
        let list = idle.entry(b.server.clone()).or_default();
        // Those idle too long go (dropping one closes its socket).
        list.retain(|c| c.last_used.elapsed() < POOL_IDLE);
        if list.len() < self.per_server {
            list.push(b);
        }
    }

    /// The most recently pooled connection to `server` that has not waited too long.
    fn take(&self, server: &str) -> Option<Backend> {
        let mut idle = self.lock();
        let list = idle.get_mut(server)?;
        while let Some(b) = list.pop() {
            if b.last_used.elapsed() < POOL_IDLE {
                return Some(b);
            }
        }
        None
    }

    /// How many connections wait in the pool (all backends).
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether no connection waits in the pool.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a tagged line (`tag OK ...`) is an OK.
pub fn tagged_ok(line: &[u8]) -> bool {
    tagged_kind(line).eq_ignore_ascii_case(b"OK")
}

/// The result word of a tagged line (`OK`, `NO`, `BAD`).
pub fn tagged_kind(line: &[u8]) -> &[u8] {
    let mut it = line.splitn(3, |b| *b == b' ');
    let _ = it.next();
    let kind = it.next().unwrap_or_default();
    kind.strip_suffix(b"\r\n").unwrap_or(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_and_caps() {
        assert!(tagged_ok(b"a1 OK done\r\n"));
        assert!(!tagged_ok(b"a1 NO nope\r\n"));
        assert_eq!(tagged_kind(b"a1 BAD\r\n"), b"BAD");
        assert_eq!(
            caps_in(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] hi\r\n").unwrap(),
            vec!["IMAP4REV1", "AUTH=PLAIN", "SASL-IR"]
        );
        assert!(caps_in(b"* OK hi\r\n").is_none());
    }
}
