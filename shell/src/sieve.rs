//! A ManageSieve client (RFC 5804) for the shell's `sieve` command: connect, STARTTLS,
//! AUTHENTICATE (SASL through [`daemons::sasl::ClientAuth`], with an authorisation id so an
//! admin can act for any user), LISTSCRIPTS, PUTSCRIPT, GETSCRIPT, SETACTIVE, DELETESCRIPT,
//! CHECKSCRIPT and LOGOUT.
//!
//! In a murder the frontend's timsieved answers the first command after a user whose INBOX
//! lives on a backend has authenticated with `BYE (REFERRAL "sieve://backend") "Try
//! Remote."` (reference §4.10). [`SieveError::Referral`] carries that URL; the shell's
//! [`crate::session`] reconnects there with the same credentials and repeats the command.
//!
//! The wire format is [`protocol::managesieve`]'s: its [`ClientCodec`] frames and parses what
//! the server sends (with limits on every line and literal), and commands are written with
//! [`Command::encode`].

use std::time::Duration;

use base64::Engine as _;
use daemons::tls::Stream;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use protocol::managesieve::{
    ClientCodec, Command, DataLine, Limits, Response, ResponseCode, SaslResponse, ServerLine,
    Status,
};

use crate::client::{Credentials, TlsMode, TlsSettings};

/// The ManageSieve port (RFC 5804).
pub const SIEVE_PORT: u16 = 4190;

/// Longest response line accepted, literals excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// Largest literal accepted (a script).
pub const MAX_LITERAL: u64 = 4 << 20;

/// Most data lines in one answer (LISTSCRIPTS of a user with very many scripts).
pub const MAX_LINES: usize = 100_000;

/// How long to wait for the server at each step.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking ManageSieve.
#[derive(Debug, Error)]
pub enum SieveError {
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The connection broke.
    #[error("connection to server lost ({0})")]
    Lost(String),
    /// TLS set-up failed, or TLS was required and is not offered.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server sent something this client cannot read.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Logging in failed.
    #[error("cannot authenticate as {user}: {reason}")]
    Auth {
        /// The authentication id.
        user: String,
        /// The server's text or the local reason.
        reason: String,
    },
    /// The server refused the command (`NO`), with its text.
    #[error("{0}")]
    Refused(String),
    /// The server ended the session with `BYE (REFERRAL url)`: go there.
    #[error("referred to {0}")]
    Referral(String),
    /// The server ended the session (`BYE`) for another reason.
    #[error("server closed the session: {0}")]
    Bye(String),
    /// The server did not answer in time.
    #[error("timed out waiting for the server")]
    Timeout,
}

/// `sieve://[auth@]host[:port][/]` → host and port.
pub fn parse_referral(url: &str) -> Result<(String, u16), SieveError> {
    let rest = url
        .strip_prefix("sieve://")
        .ok_or_else(|| SieveError::Protocol(format!("not a sieve:// referral: {url}")))?;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let rest = rest.split('/').next().unwrap_or(rest);
    if rest.is_empty() {
        return Err(SieveError::Protocol(format!(
            "referral without a host: {url}"
        )));
    }
    Ok(crate::session::split_host_port(rest, SIEVE_PORT))
}

/// A script as LISTSCRIPTS gives it.
pub type Script = protocol::managesieve::ScriptEntry;

/// The text to show for a refusal: the server's text (without the line end Cyrus leaves
/// after script errors), and its response code when there is one.
fn describe(r: &Response) -> String {
    let text = r.text.as_deref().unwrap_or_default().trim_end().to_string();
    let code = match &r.code {
        None | Some(ResponseCode::Sasl(_)) | Some(ResponseCode::Tag(_)) => return text,
        Some(ResponseCode::Other { name, .. }) => name.clone(),
        Some(ResponseCode::Referral(url)) => format!("REFERRAL {url}"),
        Some(ResponseCode::AuthTooWeak) => "AUTH-TOO-WEAK".into(),
        Some(ResponseCode::EncryptNeeded) => "ENCRYPT-NEEDED".into(),
        Some(ResponseCode::Quota(_)) => "QUOTA".into(),
        Some(ResponseCode::TransitionNeeded) => "TRANSITION-NEEDED".into(),
        Some(ResponseCode::TryLater) => "TRYLATER".into(),
        Some(ResponseCode::Active) => "ACTIVE".into(),
        Some(ResponseCode::NonExistent) => "NONEXISTENT".into(),
        Some(ResponseCode::AlreadyExists) => "ALREADYEXISTS".into(),
        Some(ResponseCode::Warnings) => "WARNINGS".into(),
    };
    if text.is_empty() {
        code
    } else {
        format!("{text} ({code})")
    }
}

/// A ManageSieve connection.
pub struct SieveClient {
    stream: Stream,
    codec: ClientCodec,
    host: String,
    port: u16,
    caps: Vec<(String, String)>,
}

impl std::fmt::Debug for SieveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SieveClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish()
    }
}

fn codec() -> ClientCodec {
    ClientCodec::new(Limits {
        max_line: MAX_LINE,
        max_literal: MAX_LITERAL,
    })
}

impl SieveClient {
    /// Connects, reads the capabilities and sets up TLS as `tls` says (STARTTLS when
    /// offered in `Auto` mode; implicit TLS is not part of ManageSieve and is taken as
    /// `Require`).
    pub async fn connect(host: &str, port: u16, tls: &TlsSettings) -> Result<Self, SieveError> {
        let addr = format!("{host}:{port}");
        let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect((host, port)))
            .await
            .map_err(|_| SieveError::Connect {
                addr: addr.clone(),
                reason: "timed out".into(),
            })?
            .map_err(|e| SieveError::Connect {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        let mut c = SieveClient {
            stream: Stream::Plain(tcp),
            codec: codec(),
            host: host.to_string(),
            port,
            caps: Vec::new(),
        };
        c.read_capabilities().await?;
        let offered = c.has_cap("STARTTLS");
        match tls.mode {
            TlsMode::Never => {}
            TlsMode::Auto if !offered => {}
            _ if !offered => {
                return Err(SieveError::Tls("the server does not offer STARTTLS".into()))
            }
            _ => c.starttls(tls).await?,
        }
        Ok(c)
    }

    /// The host connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server listed capability `name` (case-insensitive).
    pub fn has_cap(&self, name: &str) -> bool {
        self.caps.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// The value of capability `name`, such as the SASL mechanisms.
    pub fn cap(&self, name: &str) -> Option<&str> {
        self.caps
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    async fn read_capabilities(&mut self) -> Result<(), SieveError> {
        let (lines, reply) = self.read_answer().await?;
        self.check(reply)?;
        self.caps = lines
            .iter()
            .filter_map(DataLine::capability)
            .map(|c| (c.name, c.value.unwrap_or_default()))
            .collect();
        Ok(())
    }

    async fn starttls(&mut self, tls: &TlsSettings) -> Result<(), SieveError> {
        let (_, reply) = self.command(&Command::StartTls).await?;
        self.check(reply)
            .map_err(|e| SieveError::Tls(format!("STARTTLS refused: {e}")))?;
        // Anything sent before the handshake could be injected by a man in the middle.
        if self.codec.next_raw().is_some() {
            return Err(SieveError::Tls(
                "the server sent data after accepting STARTTLS".into(),
            ));
        }
        self.codec = codec();
        let config = daemons::tls::client_config_with_cert(&tls.verify(), tls.client_cert.as_ref())
            .map_err(|e| SieveError::Tls(e.to_string()))?;
        let host = self.host.clone();
        tokio::time::timeout(TIMEOUT, self.stream.connect_tls(config, &host))
            .await
            .map_err(|_| SieveError::Timeout)?
            .map_err(|e| SieveError::Tls(e.to_string()))?;
        // RFC 5804 2.2: the server sends its capabilities again after the handshake.
        self.read_capabilities().await
    }

    /// Logs in with SASL: PLAIN when offered (it carries the authorisation id of an admin
    /// acting for a user), else the best offered, or the mechanisms `creds` names.
    pub async fn authenticate(&mut self, creds: &Credentials) -> Result<(), SieveError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let offered: Vec<String> = self
            .cap("SASL")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let auth_fail = |reason: String| SieveError::Auth {
            user: creds.authid.clone(),
            reason,
        };
        let force = match creds.mechanism.as_deref().filter(|m| !m.is_empty()) {
            Some(m) if m.eq_ignore_ascii_case("login") => Some("PLAIN LOGIN".to_string()),
            Some(m) => Some(m.to_string()),
            None if offered.iter().any(|m| m.eq_ignore_ascii_case("PLAIN")) => {
                Some("PLAIN".to_string())
            }
            None => None,
        };
        let (mut auth, initial) = daemons::sasl::ClientAuth::start(
            &offered,
            force.as_deref(),
            &creds.authid,
            creds.authzid.as_deref(),
            &creds.password,
        )
        .map_err(|e| auth_fail(e.to_string()))?;
        self.send_command(&Command::Authenticate {
            mechanism: auth.mechanism().to_string(),
            initial: initial.map(|i| b64.encode(i)),
        })
        .await?;
        loop {
            let line = self.read_line().await?;
            let challenge = match line {
                ServerLine::Response(r) => {
                    return match r.status {
                        Status::Ok => Ok(()),
                        Status::Bye => Err(self.bye(&r)),
                        Status::No => Err(auth_fail(match describe(&r) {
                            t if t.is_empty() => "authentication failed".into(),
                            t => t,
                        })),
                    };
                }
                ServerLine::Data(d) => match d.content() {
                    Some(c) => b64
                        .decode(c)
                        .map_err(|e| SieveError::Protocol(format!("bad SASL challenge: {e}"))),
                    None => Err(SieveError::Protocol("expected a SASL challenge".into())),
                },
            };
            match challenge.and_then(|c| auth.step(&c).map_err(|e| auth_fail(e.to_string()))) {
                Ok(r) => {
                    let mut out = Vec::new();
                    SaslResponse::Data(b64.encode(r)).encode(&mut out);
                    self.send(&out).await?;
                }
                Err(e) => {
                    // `"*"` cancels the exchange; the server answers NO, which is read.
                    let mut out = Vec::new();
                    SaslResponse::Abort.encode(&mut out);
                    self.send(&out).await?;
                    let _ = self.read_answer().await;
                    return Err(e);
                }
            }
        }
    }

    /// LISTSCRIPTS.
    pub async fn list(&mut self) -> Result<Vec<Script>, SieveError> {
        let (lines, reply) = self.command(&Command::ListScripts).await?;
        self.check(reply)?;
        Ok(lines.iter().filter_map(DataLine::script_entry).collect())
    }

    /// PUTSCRIPT: stores `script` as `name` (the server checks it first).
    pub async fn put(&mut self, name: &str, script: &[u8]) -> Result<(), SieveError> {
        self.simple(&Command::PutScript {
            name: name.to_string(),
            script: script.to_vec(),
        })
        .await
    }

    /// CHECKSCRIPT: whether the server would accept `script`.
    pub async fn check_script(&mut self, script: &[u8]) -> Result<(), SieveError> {
        self.simple(&Command::CheckScript {
            script: script.to_vec(),
        })
        .await
    }

    /// GETSCRIPT: the script's text.
    pub async fn get(&mut self, name: &str) -> Result<Vec<u8>, SieveError> {
        let (lines, reply) = self
            .command(&Command::GetScript {
                name: name.to_string(),
            })
            .await?;
        self.check(reply)?;
        lines
            .first()
            .and_then(DataLine::content)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| SieveError::Protocol("GETSCRIPT returned no script".into()))
    }

    /// SETACTIVE; an empty name deactivates every script.
    pub async fn set_active(&mut self, name: &str) -> Result<(), SieveError> {
        self.simple(&Command::SetActive {
            name: name.to_string(),
        })
        .await
    }

    /// DELETESCRIPT.
    pub async fn delete(&mut self, name: &str) -> Result<(), SieveError> {
        self.simple(&Command::DeleteScript {
            name: name.to_string(),
        })
        .await
    }

    /// LOGOUT, ignoring the answer.
    pub async fn logout(mut self) {
        if self.send_command(&Command::Logout).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.read_answer()).await;
        }
    }

    async fn simple(&mut self, cmd: &Command) -> Result<(), SieveError> {
        let (_, reply) = self.command(cmd).await?;
        self.check(reply)
    }

    async fn command(&mut self, cmd: &Command) -> Result<(Vec<DataLine>, Response), SieveError> {
        self.send_command(cmd).await?;
        self.read_answer().await
    }

    fn bye(&self, r: &Response) -> SieveError {
        match &r.code {
            Some(ResponseCode::Referral(url)) => SieveError::Referral(url.clone()),
            _ => SieveError::Bye(describe(r)),
        }
    }

    fn check(&self, r: Response) -> Result<(), SieveError> {
        match r.status {
            Status::Ok => Ok(()),
            Status::Bye => Err(self.bye(&r)),
            Status::No => Err(SieveError::Refused(describe(&r))),
        }
    }

    async fn send_command(&mut self, cmd: &Command) -> Result<(), SieveError> {
        let mut out = Vec::new();
        cmd.encode(&mut out);
        self.send(&out).await
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), SieveError> {
        tokio::time::timeout(TIMEOUT, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| SieveError::Timeout)?
        .map_err(|e| SieveError::Lost(e.to_string()))
    }

    /// Reads data lines up to and including the final OK/NO/BYE.
    async fn read_answer(&mut self) -> Result<(Vec<DataLine>, Response), SieveError> {
        let mut lines = Vec::new();
        loop {
            match self.read_line().await? {
                ServerLine::Response(r) => return Ok((lines, r)),
                ServerLine::Data(d) => {
                    if lines.len() >= MAX_LINES {
                        return Err(SieveError::Protocol(format!(
                            "more than {MAX_LINES} lines in one answer"
                        )));
                    }
                    lines.push(d);
                }
            }
        }
    }

    /// The next line (with its literals) from the server.
    async fn read_line(&mut self) -> Result<ServerLine, SieveError> {
        loop {
            if let Some(r) = self.codec.next() {
                return r.map_err(|e| SieveError::Protocol(e.to_string()));
            }
            let mut buf = [0u8; 16 * 1024];
            let n = tokio::time::timeout(TIMEOUT, self.stream.read(&mut buf))
                .await
                .map_err(|_| SieveError::Timeout)?
                .map_err(|e| SieveError::Lost(e.to_string()))?;
            if n == 0 {
                return Err(SieveError::Lost("the server closed the connection".into()));
            }
            self.codec.push(buf.get(..n).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrals() {
        assert_eq!(
            parse_referral("sieve://be1.example.org").unwrap(),
            ("be1.example.org".to_string(), SIEVE_PORT)
        );
        assert_eq!(
            parse_referral("sieve://admin;alice%example.org@127.0.0.1:2000/").unwrap(),
            ("127.0.0.1".to_string(), 2000)
        );
        assert!(parse_referral("imap://x").is_err());
        assert!(parse_referral("sieve://").is_err());
    }

    #[test]
    fn refusals_read_well() {
        let r = Response::no("line 3: syntax error\r\n");
        assert_eq!(describe(&r), "line 3: syntax error");
        let r = Response::bye("Try Remote.").with_code(ResponseCode::Referral("sieve://b".into()));
        assert_eq!(describe(&r), "Try Remote. (REFERRAL sieve://b)");
    }
}
