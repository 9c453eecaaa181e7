//! A frontend's ManageSieve connection to a backend (`sieve_allowreferrals: no`, reference
//! §4.10): logged in as `proxy_authname` with the user as authorization id, then relayed.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::config::imapd::ImapdConf;
use protocol::managesieve::{ClientCodec, Command, Limits, SaslResponse, ServerLine, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::backends::{backend_address, proxy_credentials, short_host};
use crate::sasl::ClientAuth;
use crate::service::Conn;

/// How long connecting and logging in to a backend may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the backend could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No address, connection refused, or the connection broke.
    #[error("{server}: {message}")]
    Unavailable {
        /// The backend's server name.
        server: String,
        /// What happened.
        message: String,
    },
    /// The backend refused the proxy login.
    #[error("{server}: proxy login refused: {message}")]
    AuthFailed {
        /// The backend's server name.
        server: String,
        /// The backend's answer or our SASL error.
        message: String,
    },
}

/// A logged-in backend connection.
pub struct Backend {
    tcp: TcpStream,
    codec: ClientCodec,
}

impl Backend {
    /// Connects to `server`'s sieve service and logs in for `user`.
    pub async fn connect(
        conf: &ImapdConf,
        server: &str,
        user: &str,
    ) -> Result<Backend, ProxyError> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::connect_inner(conf, server, user))
            .await
            .map_err(|_| unavailable(server, "timed out"))?
    }

    async fn connect_inner(
        conf: &ImapdConf,
        server: &str,
        user: &str,
    ) -> Result<Backend, ProxyError> {
        let (host, port) = backend_address(conf, server, "sieve")
            .ok_or_else(|| unavailable(server, "no usable address for this server name"))?;
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| unavailable(server, e))?;
        let _ = tcp.set_nodelay(true);
        let mut b = Backend {
            tcp,
            codec: ClientCodec::new(Limits::default()),
        };
        // The greeting: capability lines, then OK.
        let mut mechs: Vec<String> = Vec::new();
        loop {
            match b.line(server).await? {
                ServerLine::Data(d) => {
                    if let Some(c) = d.capability() {
                        if c.name.eq_ignore_ascii_case("SASL") {
                            mechs = c
                                .value
                                .unwrap_or_default()
                                .split_whitespace()
                                .map(str::to_owned)
                                .collect();
                        }
                    }
                }
                ServerLine::Response(r) if r.is_ok() => break,
                ServerLine::Response(r) => {
                    return Err(unavailable(server, r.text.unwrap_or_default()))
                }
            }
        }
        let (authname, password) =
            proxy_credentials(conf, server).ok_or_else(|| ProxyError::AuthFailed {
                server: server.to_owned(),
                message: "no proxy_password (or <shorthost>_password) is set".into(),
            })?;
        let forced = conf
            .mechs_for_server(short_host(server))
            .or_else(|| conf.get_str("force_sasl_client_mech"));
        let auth_failed = |message: String| ProxyError::AuthFailed {
            server: server.to_owned(),
            message,
        };
        let (mut client, initial) =
            ClientAuth::start(&mechs, forced.as_deref(), &authname, Some(user), &password)
                .map_err(|e| auth_failed(e.to_string()))?;
        let cmd = Command::Authenticate {
            mechanism: client.mechanism().to_owned(),
            initial: initial.map(|i| B64.encode(i)),
        };
        b.send(server, &cmd.to_bytes()).await?;
        loop {
            match b.line(server).await? {
                ServerLine::Response(r) if r.status == Status::Ok => return Ok(b),
                ServerLine::Response(r) => return Err(auth_failed(r.text.unwrap_or_default())),
                ServerLine::Data(d) => {
                    let challenge = d
                        .content()
                        .and_then(|c| B64.decode(c).ok())
                        .ok_or_else(|| auth_failed("malformed challenge".into()))?;
                    let answer = client
                        .step(&challenge)
                        .map_err(|e| auth_failed(e.to_string()))?;
                    let mut out = Vec::new();
                    SaslResponse::Data(B64.encode(answer)).encode(&mut out);
                    b.send(server, &out).await?;
                }
            }
        }
    }

    async fn line(&mut self, server: &str) -> Result<ServerLine, ProxyError> {
        let mut buf = [0u8; 4096];
        loop {
            match self.codec.next() {
                Some(Ok(l)) => return Ok(l),
                Some(Err(e)) => return Err(unavailable(server, e)),
                None => {}
            }
            let n = self
                .tcp
                .read(&mut buf)
                .await
                .map_err(|e| unavailable(server, e))?;
            if n == 0 {
                return Err(unavailable(server, "connection closed"));
            }
            self.codec.push(buf.get(..n).unwrap_or_default());
        }
    }

    async fn send(&mut self, server: &str, bytes: &[u8]) -> Result<(), ProxyError> {
        self.tcp
            .write_all(bytes)
            .await
            .map_err(|e| unavailable(server, e))
    }

    /// Copies bytes both ways until either side closes. `pending` is what the client already
    /// sent after its AUTHENTICATE.
    pub async fn relay(mut self, client: &mut Conn, pending: &[u8]) {
        let early = self.codec.take_buffered();
        if !pending.is_empty() && self.tcp.write_all(pending).await.is_err() {
            return;
        }
        if !early.is_empty() && client.write_all(&early).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(client, &mut self.tcp).await;
    }
}

fn unavailable(server: &str, e: impl std::fmt::Display) -> ProxyError {
    ProxyError::Unavailable {
        server: server.to_owned(),
        message: e.to_string(),
    }
}
