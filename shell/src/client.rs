//! An async IMAP client for administration: connect (plain, STARTTLS or implicit TLS), log in
//! (SASL through [`daemons::sasl::ClientAuth`], or LOGIN), run commands and stream their
//! untagged responses to a callback.
//!
//! It speaks like cyradm's `Cyrus::IMAP` (reference §6.1): tags are decimal numbers from 1,
//! strings go out as atoms, quoted strings or literals (non-synchronising when the server
//! offers LITERAL+), and after login `RLIST "" ""` switches referrals on when the server
//! advertises MAILBOX-REFERRALS (§4.10).
//!
//! The connection survives a command being abandoned half-way (Ctrl-C): the tag of a
//! command whose completion was not read is remembered, and the next command first reads up
//! to that completion. If the abandonment happened in the middle of writing, the stream can
//! no longer be trusted and every later command fails with [`ClientError::Lost`].
//!
//! ```no_run
//! # async fn f() -> Result<(), murder_shell::client::ClientError> {
//! use murder_shell::client::{Client, Credentials, TlsMode, TlsSettings};
//! use protocol::imap::command::CommandBody;
//!
//! let tls = TlsSettings { mode: TlsMode::Never, ..TlsSettings::default() };
//! let mut c = Client::connect("127.0.0.1", 10143, &tls).await?;
//! c.authenticate(&Credentials::new("cyrus", "secret")).await?;
//! let done = c
//!     .run(CommandBody::GetAcl { mailbox: b"user.alice".to_vec() }, &mut |r| println!("{r:?}"))
//!     .await?;
//! assert!(done.is_ok());
//! # Ok(()) }
//! ```

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use daemons::tls::{Stream, Verify};
use protocol::imap::command::{Command, CommandBody, Secret};
use protocol::imap::framing::{literal_header, Frame, Framer, Limits, Role};
use protocol::imap::response::{Code, Completion, Condition, Response};
use protocol::imap::syntax::LiteralMode;
use protocol::imap::types::{Atom, Tag};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long to wait for a TCP connection, a TLS handshake or the greeting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for the completion of an abandoned command before giving the
/// connection up.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether and how to use TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// STARTTLS when the server offers it, plain otherwise.
    #[default]
    Auto,
    /// Never (`--notls`).
    Never,
    /// STARTTLS, and fail when the server does not offer it (`--tls`).
    Require,
    /// TLS from the first byte (port 993, `--ssl`).
    Implicit,
}

/// TLS settings of a connection.
#[derive(Debug, Clone, Default)]
pub struct TlsSettings {
    /// When to use TLS.
    pub mode: TlsMode,
    /// CA certificates (PEM) that verify the server.
    pub cafile: Option<PathBuf>,
    /// A directory of CA certificates.
    pub capath: Option<PathBuf>,
    /// Accept any certificate (test murders with self-signed certificates only).
    pub insecure: bool,
    /// Our own certificate, presented when the server asks for one (cyradm's `--tlskey`).
    pub client_cert: Option<daemons::tls::ClientCert>,
}

impl TlsSettings {
    /// How the server's certificate is checked.
    pub fn verify(&self) -> Verify {
        if self.insecure {
            Verify::Insecure
        } else if let Some(f) = &self.cafile {
            Verify::CaFile(f.clone())
        } else if let Some(d) = &self.capath {
            Verify::CaDir(d.clone())
        } else if std::path::Path::new(SYSTEM_CA_FILE).exists() {
            Verify::CaFile(SYSTEM_CA_FILE.into())
        } else {
            Verify::CaDir("/etc/ssl/certs".into())
        }
    }
}

/// Debian's bundle of the system's trusted CAs, used when no CA is given.
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Who logs in, and how.
#[derive(Clone)]
pub struct Credentials {
    /// Authentication id.
    pub authid: String,
    /// Authorisation id (act as this user), if any.
    pub authzid: Option<String>,
    /// The password.
    pub password: String,
    /// Mechanisms to use (space separated), or `None` for the best one offered; `login`
    /// forces the IMAP LOGIN command, as in cyradm.
    pub mechanism: Option<String>,
}

impl Credentials {
    /// Credentials with the best mechanism and no authorisation id.
    pub fn new(authid: &str, password: &str) -> Self {
        Credentials {
            authid: authid.to_string(),
            authzid: None,
            password: password.to_string(),
            mechanism: None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("authid", &self.authid)
            .field("authzid", &self.authzid)
            .field("password", &"<redacted>")
            .field("mechanism", &self.mechanism)
            .finish()
    }
}

/// Why a connection or a command failed (a command the server refused is not an error: see
/// [`Completed`]).
#[derive(Debug, Error)]
pub enum ClientError {
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The server greeted with BYE.
    #[error("server refused the connection: {0}")]
    Refused(String),
    /// The connection is gone (EOF, BYE, an I/O error, or an interrupted write).
    #[error("connection to server lost{}", if .0.is_empty() { String::new() } else { format!(" ({})", .0) })]
    Lost(String),
    /// TLS set-up failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// `--tls` was given and the server offers no STARTTLS.
    #[error("the server does not offer STARTTLS (and --tls requires it)")]
    NoStartTls,
    /// Logging in failed.
    #[error("cannot authenticate as {user}: {reason}")]
    Auth {
        /// The authentication id.
        user: String,
        /// The server's text or the local reason.
        reason: String,
    },
    /// The server sent something this client cannot read.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server did not answer in time.
    #[error("timed out waiting for the server")]
    Timeout,
}

impl ClientError {
    /// Whether the connection can no longer be used.
    pub fn is_lost(&self) -> bool {
        matches!(self, ClientError::Lost(_) | ClientError::Timeout)
    }
}

/// The completion of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// OK, NO or BAD.
    pub kind: Completion,
    /// The response code, if any.
    pub code: Option<Code>,
    /// The human-readable text.
    pub text: String,
}

impl Completed {
    /// Whether the command succeeded.
    pub fn is_ok(&self) -> bool {
        self.kind == Completion::Ok
    }

    /// The referral URL of a `NO [REFERRAL url]`, if this is one.
    pub fn referral(&self) -> Option<&str> {
        match (&self.kind, &self.code) {
            (Completion::No, Some(Code::Referral(urls))) => urls.first().map(|u| u.as_str()),
            _ => None,
        }
    }
}

/// A connection to an IMAP server.
pub struct Client {
    stream: Stream,
    framer: Framer,
    rbuf: Vec<u8>,
    next_tag: u64,
    caps: Vec<String>,
    host: String,
    port: u16,
    /// A write was interrupted: the server's view of the stream is unknown.
    poisoned: bool,
    /// A command whose completion has not been read yet (its tag).
    pending: Option<String>,
    authenticated: bool,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("caps", &self.caps)
            .finish()
    }
}

fn lost(e: std::io::Error) -> ClientError {
    ClientError::Lost(e.to_string())
}

fn text_of(t: &protocol::imap::response::Text) -> String {
    String::from_utf8_lossy(t.as_bytes()).into_owned()
}

/// Reads a tagged line that [`Response::parse`] refused (some servers put odd things in
/// response texts): the tag, the completion and the rest as text.
fn salvage_tagged(message: &[u8]) -> Option<(String, Completed)> {
    let line = String::from_utf8_lossy(message);
    let line = line.trim_end_matches(['\r', '\n']);
    let mut parts = line.splitn(3, ' ');
    let tag = parts.next()?.to_string();
    let kind = match parts.next()?.to_ascii_uppercase().as_str() {
        "OK" => Completion::Ok,
        "NO" => Completion::No,
        "BAD" => Completion::Bad,
        _ => return None,
    };
    let text = parts.next().unwrap_or("").to_string();
    Some((
        tag,
        Completed {
            kind,
            code: None,
            text,
        },
    ))
}

impl Client {
    /// Connects, reads the greeting and the capabilities, and sets up TLS as `tls` says.
    pub async fn connect(host: &str, port: u16, tls: &TlsSettings) -> Result<Client, ClientError> {
        let addr = format!("{host}:{port}");
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port)))
            .await
            .map_err(|_| ClientError::Connect {
                addr: addr.clone(),
                reason: "timed out".into(),
            })?
            .map_err(|e| ClientError::Connect {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        let mut client = Client {
            stream: Stream::Plain(tcp),
            framer: Framer::new(Role::Client, Limits::default()),
            rbuf: vec![0; 64 * 1024],
            next_tag: 1,
            caps: Vec::new(),
            host: host.to_string(),
            port,
            poisoned: false,
            pending: None,
            authenticated: false,
        };
        if tls.mode == TlsMode::Implicit {
            client.start_tls(tls).await?;
        }
        let greeting = tokio::time::timeout(CONNECT_TIMEOUT, client.read_message())
            .await
            .map_err(|_| ClientError::Timeout)??;
        match Response::parse(&greeting) {
            Ok(Response::Status { kind, text }) => match kind {
                Condition::Bye => return Err(ClientError::Refused(text_of(&text.text))),
                Condition::Preauth => client.authenticated = true,
                _ => {}
            },
            _ => {
                return Err(ClientError::Protocol(format!(
                    "unexpected greeting: {}",
                    String::from_utf8_lossy(&greeting).trim_end()
                )))
            }
        }
        if let Ok(Response::Status { text, .. }) = Response::parse(&greeting) {
            if let Some(Code::Capability(c)) = text.code {
                client.set_caps(&c);
            }
        }
        if client.caps.is_empty() {
            client.capability().await?;
        }
        match tls.mode {
            TlsMode::Never | TlsMode::Implicit => {}
            TlsMode::Auto | TlsMode::Require => {
                if client.has_cap("STARTTLS") {
                    client.starttls(tls).await?;
                } else if tls.mode == TlsMode::Require {
                    return Err(ClientError::NoStartTls);
                }
            }
        }
        Ok(client)
    }

    /// The host name this client connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// Whether the session is authenticated.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The capabilities last seen, upper-cased.
    pub fn capabilities(&self) -> &[String] {
        &self.caps
    }

    /// Whether the server advertised `cap` (case-insensitive).
    pub fn has_cap(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Whether the connection can still carry commands.
    pub fn is_usable(&self) -> bool {
        !self.poisoned
    }

    /// Whether a command was abandoned before its completion arrived.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    fn set_caps(&mut self, caps: &[Atom]) {
        self.caps = caps
            .iter()
            .map(|a| a.as_str().to_ascii_uppercase())
            .collect();
    }

    async fn start_tls(&mut self, tls: &TlsSettings) -> Result<(), ClientError> {
        let config = daemons::tls::client_config_with_cert(&tls.verify(), tls.client_cert.as_ref())
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        let host = self.host.clone();
        tokio::time::timeout(CONNECT_TIMEOUT, self.stream.connect_tls(config, &host))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|e| ClientError::Tls(e.to_string()))
    }

    /// Runs STARTTLS and the TLS handshake, then asks for the capabilities again.
    pub async fn starttls(&mut self, tls: &TlsSettings) -> Result<(), ClientError> {
        let done = self.run(CommandBody::StartTls, &mut |_| {}).await?;
        if !done.is_ok() {
            return Err(ClientError::Tls(format!("STARTTLS refused: {}", done.text)));
        }
        if self.framer.buffered() > 0 {
            // Anything sent before the handshake could be injected by a man in the middle.
            self.poisoned = true;
            return Err(ClientError::Tls(
                "the server sent data after accepting STARTTLS".into(),
            ));
        }
        self.start_tls(tls).await?;
        self.capability().await?;
        Ok(())
    }

    /// Runs CAPABILITY and records the result.
    pub async fn capability(&mut self) -> Result<(), ClientError> {
        let mut caps = None;
        self.run(CommandBody::Capability, &mut |r| {
            if let Response::Data(protocol::imap::response::Data::Capability(c)) = r {
                caps = Some(c.clone());
            }
        })
        .await?;
        if let Some(c) = caps {
            self.set_caps(&c);
        }
        Ok(())
    }

    /// Logs in: SASL with the requested or best offered mechanism, falling back to LOGIN
    /// when no mechanism can be used and the server allows LOGIN (as cyradm does). Then
    /// refreshes the capabilities and, with MAILBOX-REFERRALS, sends `RLIST "" ""`.
    /// Returns the mechanism used (`LOGIN` for the LOGIN command).
    pub async fn authenticate(&mut self, creds: &Credentials) -> Result<String, ClientError> {
        let offered: Vec<String> = self
            .caps
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH="))
            .map(str::to_string)
            .collect();
        let force = creds.mechanism.as_deref().filter(|m| !m.is_empty());
        let forced_login = force.is_some_and(|m| m.eq_ignore_ascii_case("login"));
        let auth_fail = |reason: String| ClientError::Auth {
            user: creds.authid.clone(),
            reason,
        };
        let mut mech_used = String::from("LOGIN");
        let done = if forced_login {
            self.login(creds).await?
        } else {
            match daemons::sasl::ClientAuth::start(
                &offered,
                force,
                &creds.authid,
                creds.authzid.as_deref(),
                &creds.password,
            ) {
                Ok((auth, initial)) => {
                    mech_used = auth.mechanism().to_string();
                    self.sasl(auth, initial).await?
                }
                Err(e) => {
                    if self.has_cap("LOGINDISABLED") || creds.authzid.is_some() {
                        return Err(auth_fail(e.to_string()));
                    }
                    self.login(creds).await?
                }
            }
        };
        if !done.is_ok() {
            return Err(auth_fail(if done.text.is_empty() {
                "authentication failed".into()
            } else {
                done.text
            }));
        }
        self.authenticated = true;
        match &done.code {
            Some(Code::Capability(c)) => {
                let c = c.clone();
                self.set_caps(&c);
            }
            _ => self.capability().await?,
        }
        if self.has_cap("MAILBOX-REFERRALS") {
            self.run(
                CommandBody::Rlist {
                    reference: Vec::new(),
                    pattern: Vec::new(),
                },
                &mut |_| {},
            )
            .await?;
        }
        Ok(mech_used)
    }

    async fn login(&mut self, creds: &Credentials) -> Result<Completed, ClientError> {
        if self.has_cap("LOGINDISABLED") {
            return Err(ClientError::Auth {
                user: creds.authid.clone(),
                reason: "the server disables LOGIN (LOGINDISABLED)".into(),
            });
        }
        self.run(
            CommandBody::Login {
                username: creds.authid.as_bytes().to_vec(),
                password: Secret::new(creds.password.as_bytes().to_vec()),
            },
            &mut |_| {},
        )
        .await
    }

    async fn sasl(
        &mut self,
        mut auth: daemons::sasl::ClientAuth,
        initial: Option<Vec<u8>>,
    ) -> Result<Completed, ClientError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mechanism = Atom::new(auth.mechanism()).map_err(|e| ClientError::Auth {
            user: String::new(),
            reason: e.to_string(),
        })?;
        let ir = self.has_cap("SASL-IR");
        let mut unsent_initial = None;
        let initial_response = match initial {
            Some(i) if ir => Some(Secret::new(b64.encode(i).into_bytes())),
            other => {
                unsent_initial = other;
                None
            }
        };
        let tag = self
            .send(CommandBody::Authenticate {
                mechanism,
                initial_response,
            })
            .await?;
        loop {
            let msg = self.read_message().await?;
            match Response::parse(&msg) {
                Ok(Response::Continuation(text)) => {
                    let reply = if let Some(i) = unsent_initial.take() {
                        Ok(i)
                    } else {
                        let challenge = b64
                            .decode(text.as_bytes())
                            .map_err(|e| ClientError::Protocol(format!("bad SASL challenge: {e}")));
                        challenge.and_then(|c| {
                            auth.step(&c).map_err(|e| ClientError::Auth {
                                user: String::new(),
                                reason: e.to_string(),
                            })
                        })
                    };
                    let line = match &reply {
                        Ok(r) => format!("{}\r\n", b64.encode(r)),
                        // Cancels the exchange; the server answers BAD, which we read.
                        Err(_) => "*\r\n".to_string(),
                    };
                    self.write_all(line.as_bytes()).await?;
                    if let Err(e) = reply {
                        let _ = self.read_completion(&tag, &mut |_| {}).await;
                        return Err(e);
                    }
                }
                Ok(Response::Tagged { tag: t, kind, text }) if t.as_str() == tag => {
                    self.pending = None;
                    return Ok(Completed {
                        kind,
                        code: text.code,
                        text: text_of(&text.text),
                    });
                }
                Ok(Response::Status {
                    kind: Condition::Bye,
                    text,
                }) => {
                    self.poisoned = true;
                    return Err(ClientError::Lost(text_of(&text.text)));
                }
                _ => {}
            }
        }
    }

    /// Reads one framed message from the server.
    async fn read_message(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            match self.framer.next() {
                Some(Frame::Message(m)) => return Ok(m),
                Some(Frame::NeedContinuation { .. }) => continue,
                Some(Frame::Error(e)) => {
                    return Err(ClientError::Protocol(format!("server response: {e}")))
                }
                None => {}
            }
            let n = match self.stream.read(&mut self.rbuf).await {
                Ok(0) => {
                    self.poisoned = true;
                    return Err(ClientError::Lost("the server closed the connection".into()));
                }
                Ok(n) => n,
                Err(e) => {
                    self.poisoned = true;
                    return Err(lost(e));
                }
            };
            self.framer.enqueue(self.rbuf.get(..n).unwrap_or_default());
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        // Poisoned until the write has completed: dropping this future half-way (Ctrl-C)
        // leaves the server with a partial command.
        self.poisoned = true;
        self.stream.write_all(bytes).await.map_err(lost)?;
        self.stream.flush().await.map_err(lost)?;
        self.poisoned = false;
        Ok(())
    }

    /// Reads up to the completion of an abandoned command, if there is one.
    async fn recover(&mut self) -> Result<(), ClientError> {
        if self.poisoned {
            return Err(ClientError::Lost(
                "an interrupted command left the connection unusable".into(),
            ));
        }
        if let Some(tag) = self.pending.clone() {
            let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
                loop {
                    let msg = self.read_message().await?;
                    if let Ok(Response::Tagged { tag: t, .. }) = Response::parse(&msg) {
                        if t.as_str() == tag {
                            return Ok::<(), ClientError>(());
                        }
                    } else if let Some((t, _)) = salvage_tagged(&msg) {
                        if t == tag {
                            return Ok(());
                        }
                    }
                }
            })
            .await;
            match drained {
                Ok(Ok(())) => self.pending = None,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.poisoned = true;
                    return Err(ClientError::Timeout);
                }
            }
        }
        Ok(())
    }

    /// Sends a command (waiting for continuations before synchronising literals) and returns
    /// its tag; the caller reads the responses.
    async fn send(&mut self, body: CommandBody) -> Result<String, ClientError> {
        self.recover().await?;
        let tag_s = self.next_tag.to_string();
        self.next_tag = self.next_tag.saturating_add(1);
        let tag = Tag::new(&tag_s).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let literal_plus = self.has_cap("LITERAL+");
        let mode = if literal_plus {
            LiteralMode::NonSync
        } else {
            LiteralMode::Sync
        };
        let bytes = Command { tag, body }.to_bytes(mode);
        self.pending = Some(tag_s.clone());
        if literal_plus {
            self.write_all(&bytes).await?;
            return Ok(tag_s);
        }
        // Send up to each synchronising literal, wait for "+", then send its octets.
        let mut start = 0usize;
        let mut pos = 0usize;
        while pos < bytes.len() {
            let Some(nl) = bytes
                .get(pos..)
                .and_then(|b| b.iter().position(|&c| c == b'\n'))
            else {
                break;
            };
            let line_end = pos + nl + 1;
            let line = bytes.get(pos..line_end).unwrap_or_default();
            match literal_header(line) {
                Some(h) if h.sync => {
                    self.write_all(bytes.get(start..line_end).unwrap_or_default())
                        .await?;
                    loop {
                        let msg = self.read_message().await?;
                        match Response::parse(&msg) {
                            Ok(Response::Continuation(_)) => break,
                            Ok(Response::Tagged { tag: t, text, .. }) if t.as_str() == tag_s => {
                                self.pending = None;
                                return Err(ClientError::Protocol(format!(
                                    "the server refused a literal: {}",
                                    text_of(&text.text)
                                )));
                            }
                            _ => {}
                        }
                    }
                    let len = usize::try_from(h.len).unwrap_or(usize::MAX);
                    start = line_end;
                    pos = line_end.saturating_add(len).min(bytes.len());
                }
                Some(h) => {
                    let len = usize::try_from(h.len).unwrap_or(usize::MAX);
                    pos = line_end.saturating_add(len).min(bytes.len());
                }
                None => pos = line_end,
            }
        }
        self.write_all(bytes.get(start..).unwrap_or_default())
            .await?;
        Ok(tag_s)
    }

    async fn read_completion(
        &mut self,
        tag: &str,
        on_response: &mut dyn FnMut(&Response),
    ) -> Result<Completed, ClientError> {
        loop {
            let msg = self.read_message().await?;
            match Response::parse(&msg) {
                Ok(Response::Tagged { tag: t, kind, text }) if t.as_str() == tag => {
                    self.pending = None;
                    if let Some(Code::Capability(c)) = &text.code {
                        let c = c.clone();
                        self.set_caps(&c);
                    }
                    return Ok(Completed {
                        kind,
                        code: text.code,
                        text: text_of(&text.text),
                    });
                }
                Ok(Response::Status {
                    kind: Condition::Bye,
                    text,
                }) => {
                    self.poisoned = true;
                    return Err(ClientError::Lost(text_of(&text.text)));
                }
                Ok(r) => on_response(&r),
                Err(_) => {
                    if let Some((t, done)) = salvage_tagged(&msg) {
                        if t == tag {
                            self.pending = None;
                            return Ok(done);
                        }
                    }
                    // An untagged response this client cannot read is skipped.
                }
            }
        }
    }

    /// Runs one command: every untagged response goes to `on_response` as it arrives, and
    /// the completion is returned. A `NO` or `BAD` completion is not an error.
    pub async fn run(
        &mut self,
        body: CommandBody,
        on_response: &mut dyn FnMut(&Response),
    ) -> Result<Completed, ClientError> {
        let tag = self.send(body).await?;
        self.read_completion(&tag, on_response).await
    }

    /// Says LOGOUT and closes, ignoring errors (the connection is going away anyway).
    pub async fn logout(mut self) {
        if self.is_usable() {
            let _ = tokio::time::timeout(
                Duration::from_secs(2),
                self.run(CommandBody::Logout, &mut |_| {}),
            )
            .await;
        }
        let _ = self.stream.shutdown().await;
    }
}

/// A parsed referral URL (`imap://;AUTH=*@host[:port]/mailbox`, RFC 2192/2193): where to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referral {
    /// The server's host name.
    pub host: String,
    /// Its port (143 unless the URL says otherwise).
    pub port: u16,
    /// The mailbox, URL-decoded (empty when the URL names none).
    pub mailbox: String,
}

/// Why a referral URL cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReferralError {
    /// Not an `imap://` URL.
    #[error("referral {0} is not an imap:// URL")]
    NotImap(String),
    /// No host, or a bad port.
    #[error("referral {0} has no usable server")]
    NoServer(String),
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Referral {
    /// Reads a referral URL. The mailbox is URL-decoded but left in UTF-8; Cyrus names in
    /// a murder are ASCII (modified UTF-7), so this is what the server expects back.
    pub fn parse(url: &str) -> Result<Referral, ReferralError> {
        let rest = url
            .strip_prefix("imap://")
            .or_else(|| url.strip_prefix("IMAP://"))
            .ok_or_else(|| ReferralError::NotImap(url.to_string()))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.contains(']') || h.ends_with(']') => (
                h,
                p.parse::<u16>()
                    .map_err(|_| ReferralError::NoServer(url.to_string()))?,
            ),
            _ => (hostport, 143),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ReferralError::NoServer(url.to_string()));
        }
        // A path may carry ";UIDVALIDITY=" and the like; the mailbox ends there.
        let mailbox = path.split(';').next().unwrap_or("");
        Ok(Referral {
            host: host.to_string(),
            port,
            mailbox: percent_decode(mailbox),
        })
    }
}

/// Shared handle type used by the shell's background tasks.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referral_urls() {
        let r = Referral::parse("imap://;AUTH=*@backend1/user.alice").unwrap();
        assert_eq!(r.host, "backend1");
        assert_eq!(r.port, 143);
        assert_eq!(r.mailbox, "user.alice");
        let r = Referral::parse("imap://;AUTH=*@127.0.0.1:11143/user.a%20b").unwrap();
        assert_eq!((r.host.as_str(), r.port), ("127.0.0.1", 11143));
        assert_eq!(r.mailbox, "user.a b");
        let r = Referral::parse("imap://be2").unwrap();
        assert_eq!((r.host.as_str(), r.mailbox.as_str()), ("be2", ""));
        assert!(Referral::parse("http://x/").is_err());
        assert!(Referral::parse("imap://;AUTH=*@/x").is_err());
        assert!(Referral::parse("imap://h:99999/x").is_err());
    }

    #[test]
    fn salvage() {
        let (t, c) = salvage_tagged(b"7 NO weird [stuff\r\n").unwrap();
        assert_eq!(t, "7");
        assert_eq!(c.kind, Completion::No);
        assert_eq!(c.text, "weird [stuff");
        assert!(salvage_tagged(b"* FOO\r\n").is_none());
    }
}
