//! The client side of MUPDATE, as Cyrus's own clients speak it (reference §1.9): used by the
//! slave (UPDATE), backends pushing changes (RESERVE/ACTIVATE/DEACTIVATE/DELETE),
//! `ctl_mboxlist`, `mupdatetest` and the shell.
//!
//! Tags and argument forms match Cyrus byte for byte: `A01` AUTHENTICATE, `S01` STARTTLS, `U01`
//! UPDATE, `Q01` LOGOUT, `X<n>` for the rest and `N<n>` for NOOP, with every string sent as a
//! `{n+}` literal.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::mupdate::{
    Banner, BannerBuilder, Command, CommandBody, Greeting, Limits, MailboxRecord, Record, Response,
    ResponseError, ResponseReader, Status, StringForm, Tag,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::sasl::ClientAuth;
use crate::tls::Stream;

/// What went wrong talking to an MUPDATE server. [`ClientError::is_connection`] tells a lost or
/// failed connection (Cyrus's `MUPDATE_NOCONN`) from a refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// TCP connect failed.
    #[error("cannot connect to mupdate server {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The connection failed or closed.
    #[error("connection to mupdate server lost: {0}")]
    Io(#[from] std::io::Error),
    /// No answer within the client timeout.
    #[error("mupdate server did not answer within {0:?}")]
    Timeout(Duration),
    /// The server sent something unparsable (Cyrus's `MUPDATE_PROTOCOL_ERROR`).
    #[error("mupdate server sent bad protocol: {0}")]
    Protocol(String),
    /// The server said BYE.
    #[error("mupdate server closed the connection: {0}")]
    Bye(String),
    /// No mechanism both sides support.
    #[error("no usable SASL mechanism (server offers: {offered})")]
    NoMechanism {
        /// The server's `* AUTH` list.
        offered: String,
    },
    /// Authentication was refused.
    #[error("authentication as {user} failed: {text}")]
    AuthFailed {
        /// The authentication id.
        user: String,
        /// The server's text.
        text: String,
    },
    /// The server answered NO or BAD.
    #[error("{status} {text}")]
    Refused {
        /// `NO` or `BAD`.
        status: &'static str,
        /// The server's text.
        text: String,
    },
    /// SASL failed on our side.
    #[error("SASL: {0}")]
    Sasl(#[from] crate::sasl::SaslError),
}

impl ClientError {
    /// Whether the connection is gone (reconnect) rather than a command refused.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. }
                | ClientError::Io(_)
                | ClientError::Timeout(_)
                | ClientError::Protocol(_)
                | ClientError::Bye(_)
        )
    }
}

impl From<ResponseError> for ClientError {
    fn from(e: ResponseError) -> Self {
        match e {
            ResponseError::Bye { .. } => ClientError::Bye(e.to_string()),
            other => ClientError::Protocol(other.to_string()),
        }
    }
}

/// Credentials for an MUPDATE connection (`mupdate_authname`, `mupdate_username`,
/// `mupdate_password`).
#[derive(Clone)]
pub struct Credentials {
    /// Authentication id.
    pub authname: String,
    /// Authorization id, if any.
    pub username: Option<String>,
    /// Password.
    pub password: String,
    /// Mechanisms to use (`<shorthost>_mechs` / `force_sasl_client_mech`), space-separated.
    pub mechs: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("authname", &self.authname)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// A stream event after UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// An entry is active or reserved.
    Mailbox(MailboxRecord),
    /// An entry is gone.
    Delete(String),
    /// A NOOP finished (its tag).
    NoopDone(String),
    /// The UPDATE itself ended (the server stopped streaming).
    Ended(String),
}

/// One connection to an MUPDATE server.
pub struct MupdateClient {
    stream: Stream,
    reader: ResponseReader,
    buf: Box<[u8]>,
    banner: Banner,
    counter: u64,
    noop_counter: u64,
    timeout: Duration,
    form: StringForm,
    host: String,
}

impl MupdateClient {
    /// Connects and reads the banner.
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self, ClientError> {
        let addr = format!("{host}:{port}");
        let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| ClientError::Connect {
                addr: addr.clone(),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
            })?
            .map_err(|source| ClientError::Connect {
                addr: addr.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let mut c = MupdateClient {
            stream: Stream::Plain(tcp),
            reader: ResponseReader::new(Limits::default()),
            buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            // Replaced by the real banner below, before the client is handed out.
            banner: Banner {
                mechanisms: Vec::new(),
                starttls: false,
                compress: Vec::new(),
                partial_update: false,
                greeting: Greeting::Other(String::new()),
            },
            counter: 0,
            noop_counter: 0,
            timeout,
            form: StringForm::Literal,
            host: host.to_owned(),
        };
        c.banner = c.read_banner().await?;
        Ok(c)
    }

    /// The server's capability banner.
    pub fn banner(&self) -> &Banner {
        &self.banner
    }

    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    async fn read_banner(&mut self) -> Result<Banner, ClientError> {
        let mut builder = BannerBuilder::default();
        loop {
            let r = self.read_response().await?;
            if let Some(b) = builder.push(r)? {
                return Ok(b);
            }
        }
    }

    async fn fill(&mut self) -> Result<(), ClientError> {
        let n = tokio::time::timeout(self.timeout, self.stream.read(&mut self.buf))
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))??;
        if n == 0 {
            return Err(ClientError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            )));
        }
        self.reader.enqueue(&self.buf[..n]);
        Ok(())
    }

    /// The next response, waiting at most the client timeout.
    pub async fn read_response(&mut self) -> Result<Response, ClientError> {
        loop {
            if let Some(r) = self.reader.next() {
                return Ok(r?);
            }
            self.fill().await?;
        }
    }

    /// The next response, waiting as long as it takes (for streaming). Cancel-safe: partial
    /// input stays buffered in the reader.
    pub async fn read_response_untimed(&mut self) -> Result<Response, ClientError> {
        loop {
            if let Some(r) = self.reader.next() {
                return Ok(r?);
            }
            let n = self.stream.read(&mut self.buf).await?;
            if n == 0 {
                return Err(ClientError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                )));
            }
            self.reader.enqueue(&self.buf[..n]);
        }
    }

    /// A response already received and buffered, without waiting.
    pub fn buffered_response(&mut self) -> Option<Result<Response, ClientError>> {
        self.reader.next().map(|r| r.map_err(ClientError::from))
    }

    /// Sends raw bytes (mupdatetest passes typed lines through).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    async fn send(&mut self, cmd: &Command) -> Result<(), ClientError> {
        let bytes = cmd.to_bytes(self.form);
        self.send_raw(&bytes).await
    }

    fn next_tag(&mut self) -> Tag {
        let t = Tag::request(self.counter);
        self.counter += 1;
        t
    }

    /// STARTTLS, then the banner again.
    pub async fn starttls(&mut self, config: Arc<rustls::ClientConfig>) -> Result<(), ClientError> {
        let tag = Tag::starttls();
        self.send(&Command::new(tag.clone(), CommandBody::Starttls))
            .await?;
        self.expect_ok(&tag).await?;
        // Anything the server sent after its OK belongs to the TLS stream.
        let _ = self.reader.take_buffered();
        let host = self.host.clone();
        self.stream.connect_tls(config, &host).await?;
        self.banner = self.read_banner().await?;
        Ok(())
    }

    /// Authenticates with SASL (`A01 AUTHENTICATE "MECH" {n+}...`). Returns the mechanism used.
    pub async fn authenticate(&mut self, creds: &Credentials) -> Result<String, ClientError> {
        let offered = self.banner.mechanisms.clone();
        let (mut sasl, initial) = ClientAuth::start(
            &offered,
            creds.mechs.as_deref(),
            &creds.authname,
            creds.username.as_deref(),
            &creds.password,
        )
        .map_err(|_| ClientError::NoMechanism {
            offered: offered.join(" "),
        })?;
        let mech = sasl.mechanism().to_owned();
        let tag = Tag::authenticate();
        let cmd = Command::new(
            tag.clone(),
            CommandBody::Authenticate {
                mech: mech.clone(),
                initial: initial.map(|i| B64.encode(i)),
            },
        );
        self.send(&cmd).await?;
        loop {
            match self.read_response().await? {
                Response::Status {
                    tag: t,
                    status,
                    text,
                } if t == tag => {
                    return match status {
                        Status::Ok => Ok(mech),
                        _ => Err(ClientError::AuthFailed {
                            user: creds.authname.clone(),
                            text: text.as_str().to_owned(),
                        }),
                    };
                }
                Response::Challenge(c) => {
                    let challenge = B64
                        .decode(c.trim())
                        .map_err(|e| ClientError::Protocol(format!("bad challenge: {e}")))?;
                    let answer = sasl.step(&challenge)?;
                    let mut line = B64.encode(answer).into_bytes();
                    line.extend_from_slice(b"\r\n");
                    self.send_raw(&line).await?;
                }
                Response::Bye(t) => return Err(ClientError::Bye(t.as_str().to_owned())),
                other => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected during AUTHENTICATE: {other:?}"
                    )))
                }
            }
        }
    }

    async fn expect_ok(&mut self, tag: &Tag) -> Result<(), ClientError> {
        match self.read_response().await? {
            Response::Status {
                tag: t,
                status,
                text,
            } if &t == tag => match status {
                Status::Ok => Ok(()),
                Status::No => Err(ClientError::Refused {
                    status: "NO",
                    text: text.as_str().to_owned(),
                }),
                Status::Bad => Err(ClientError::Refused {
                    status: "BAD",
                    text: text.as_str().to_owned(),
                }),
            },
            Response::Bye(t) => Err(ClientError::Bye(t.as_str().to_owned())),
            // A record where a result was expected is a protocol error (reference §1.9).
            other => Err(ClientError::Protocol(format!(
                "expected the result of {}, got {other:?}",
                tag.as_str()
            ))),
        }
    }

    async fn write_command(&mut self, body: CommandBody) -> Result<(), ClientError> {
        let tag = self.next_tag();
        self.send(&Command::new(tag.clone(), body)).await?;
        self.expect_ok(&tag).await
    }

    /// `RESERVE name location`.
    pub async fn reserve(&mut self, mailbox: &str, location: &str) -> Result<(), ClientError> {
        self.write_command(CommandBody::Reserve {
            mailbox: mailbox.into(),
            location: location.into(),
        })
        .await
    }

    /// `ACTIVATE name location acl`.
    pub async fn activate(
        &mut self,
        mailbox: &str,
        location: &str,
        acl: &str,
    ) -> Result<(), ClientError> {
        self.write_command(CommandBody::Activate {
            mailbox: mailbox.into(),
            location: location.into(),
            acl: acl.into(),
        })
        .await
    }

    /// `DEACTIVATE name location`.
    pub async fn deactivate(&mut self, mailbox: &str, location: &str) -> Result<(), ClientError> {
        self.write_command(CommandBody::Deactivate {
            mailbox: mailbox.into(),
            location: location.into(),
        })
        .await
    }

    /// `DELETE name`.
    pub async fn delete(&mut self, mailbox: &str) -> Result<(), ClientError> {
        self.write_command(CommandBody::Delete {
            mailbox: mailbox.into(),
        })
        .await
    }

    /// `FIND name`: the entry, if the server knows it.
    pub async fn find(&mut self, mailbox: &str) -> Result<Option<MailboxRecord>, ClientError> {
        let mut found = None;
        self.collect(
            CommandBody::Find {
                mailbox: mailbox.into(),
            },
            |r| found = Some(r),
        )
        .await?;
        Ok(found)
    }

    /// `LIST [prefix]`: every entry (whose location starts with `prefix`), in server order.
    pub async fn list(
        &mut self,
        prefix: Option<&str>,
        f: impl FnMut(MailboxRecord),
    ) -> Result<(), ClientError> {
        self.collect(
            CommandBody::List {
                prefix: prefix.map(str::to_owned),
            },
            f,
        )
        .await
    }

    async fn collect(
        &mut self,
        body: CommandBody,
        mut f: impl FnMut(MailboxRecord),
    ) -> Result<(), ClientError> {
        let tag = self.next_tag();
        self.send(&Command::new(tag.clone(), body)).await?;
        loop {
            match self.read_response().await? {
                Response::Record {
                    tag: t,
                    record: Record::Mailbox(m),
                } if t == tag => f(m),
                Response::Status {
                    tag: t,
                    status,
                    text,
                } if t == tag => {
                    return match status {
                        Status::Ok => Ok(()),
                        Status::No => Err(ClientError::Refused {
                            status: "NO",
                            text: text.as_str().to_owned(),
                        }),
                        Status::Bad => Err(ClientError::Refused {
                            status: "BAD",
                            text: text.as_str().to_owned(),
                        }),
                    };
                }
                Response::Bye(t) => return Err(ClientError::Bye(t.as_str().to_owned())),
                other => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected reply to {}: {other:?}",
                        tag.as_str()
                    )))
                }
            }
        }
    }

    /// `U01 UPDATE [hosts]`: collects the full dump. Any completion other than OK is an error
    /// here: a slave must never take a refused UPDATE as an empty list (reference §2.9).
    pub async fn update(
        &mut self,
        hosts: &[String],
        mut f: impl FnMut(MailboxRecord),
    ) -> Result<(), ClientError> {
        let tag = Tag::update();
        self.send(&Command::new(
            tag.clone(),
            CommandBody::Update {
                hosts: hosts.to_vec(),
            },
        ))
        .await?;
        loop {
            // A full dump of a large murder takes a while: no per-command timeout here, only
            // the per-read one.
            match self.read_response().await? {
                Response::Record {
                    tag: t,
                    record: Record::Mailbox(m),
                } if t == tag => f(m),
                Response::Status {
                    tag: t,
                    status: Status::Ok,
                    ..
                } if t == tag => return Ok(()),
                Response::Status {
                    tag: t,
                    status,
                    text,
                } if t == tag => {
                    return Err(ClientError::Refused {
                        status: if status == Status::No { "NO" } else { "BAD" },
                        text: text.as_str().to_owned(),
                    })
                }
                Response::Bye(t) => return Err(ClientError::Bye(t.as_str().to_owned())),
                other => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected during UPDATE: {other:?}"
                    )))
                }
            }
        }
    }

    /// Sends `N<n> NOOP` without waiting; returns its tag.
    pub async fn send_noop(&mut self) -> Result<String, ClientError> {
        let tag = Tag::noop(self.noop_counter);
        self.noop_counter += 1;
        self.send(&Command::new(tag.clone(), CommandBody::Noop))
            .await?;
        Ok(tag.as_str().to_owned())
    }

    /// `NOOP` and wait for its OK (outside streaming).
    pub async fn noop(&mut self) -> Result<(), ClientError> {
        let tag = Tag::noop(self.noop_counter);
        self.noop_counter += 1;
        self.send(&Command::new(tag.clone(), CommandBody::Noop))
            .await?;
        self.expect_ok(&tag).await
    }

    /// Turns a response received while streaming into an event.
    pub fn stream_event(r: Response) -> Result<StreamEvent, ClientError> {
        match r {
            Response::Record {
                record: Record::Mailbox(m),
                ..
            } => Ok(StreamEvent::Mailbox(m)),
            Response::Record {
                record: Record::Delete { name },
                ..
            } => Ok(StreamEvent::Delete(name)),
            Response::Status {
                tag,
                status: Status::Ok,
                ..
            } if tag.as_str().starts_with('N') => Ok(StreamEvent::NoopDone(tag.as_str().into())),
            Response::Status { tag, .. } if tag.as_str() == "U01" => {
                Ok(StreamEvent::Ended(tag.as_str().into()))
            }
            Response::Bye(t) => Err(ClientError::Bye(t.as_str().to_owned())),
            other => Err(ClientError::Protocol(format!(
                "unexpected while streaming: {other:?}"
            ))),
        }
    }

    /// `Q01 LOGOUT`; errors are ignored (the connection is going away anyway).
    pub async fn logout(mut self) {
        let tag = Tag::logout();
        if self
            .send(&Command::new(tag.clone(), CommandBody::Logout))
            .await
            .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.expect_ok(&tag)).await;
        }
        let _ = self.stream.shutdown().await;
    }
}

/// Connects to `host:port`, uses STARTTLS when no offered mechanism is usable in clear (or when
/// `tls` is given and the server offers it), and authenticates.
pub async fn connect_authenticated(
    host: &str,
    port: u16,
    creds: &Credentials,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<MupdateClient, ClientError> {
    let mut c = MupdateClient::connect(host, port, timeout).await?;
    let usable = |c: &MupdateClient| {
        ClientAuth::start(
            &c.banner().mechanisms,
            creds.mechs.as_deref(),
            &creds.authname,
            creds.username.as_deref(),
            &creds.password,
        )
        .is_ok()
    };
    if let Some(cfg) = tls {
        if c.banner().starttls && (!usable(&c) || !c.is_tls()) {
            c.starttls(cfg).await?;
        }
    }
    c.authenticate(creds).await?;
    Ok(c)
}
