//! What the mail-facing daemons (imapd, lmtpd, pop3d) build the same way from imapd.conf:
//! the mailbox list, the store, SASL, TLS and the namespace; the authorization switch; Cyrus's
//! session ids; and a connection that may also be a UNIX socket (LMTP's local socket).
//!
//! Written for lmtpd and pop3d; imapd's `context` builds the same values and can call these.
//!
//! ```
//! use protocol::config::imapd::ImapdConf;
//! let conf = ImapdConf::parse_str("configdirectory: /tmp/x\nunixhierarchysep: no\n", "t").unwrap();
//! let ns = daemons::service::namespace(&conf);
//! assert_eq!(ns.separator(), '.');
//! let id = daemons::service::session_id("backend1");
//! assert!(id.starts_with("cyrus-backend1-"));
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use protocol::config::imapd::ImapdConf;
use protocol::mailbox::Namespace;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::mboxdb::MailboxDb;
use crate::sasl::{CredStore, ServerAuth};
use crate::store::Store;
use crate::tls::Stream;

/// The configdirectory as a path.
pub fn configdir(conf: &ImapdConf) -> Result<PathBuf, String> {
    conf.configdirectory()
        .map(PathBuf::from)
        .ok_or_else(|| "configdirectory is not set".to_string())
}

/// This host's mailboxes.db.
pub fn open_mboxdb(conf: &ImapdConf) -> Result<MailboxDb, String> {
    MailboxDb::open_in(&configdir(conf)?).map_err(|e| e.to_string())
}

/// The mail store over the configured `partition-*` directories.
pub fn open_store(conf: &ImapdConf) -> Result<Store, String> {
    let partitions: BTreeMap<String, PathBuf> = conf
        .partitions()
        .into_iter()
        .map(|(k, v)| (k, PathBuf::from(v)))
        .collect();
    let options = crate::store::StoreOptions {
        // Ours, not Cyrus's: Cyrus has no such switch and never fsyncs directories.
        fsync_dirs: conf.get_switch("murder_fsync_dirs"),
        ..crate::store::StoreOptions::default()
    };
    Store::open_with(&configdir(conf)?, partitions, options).map_err(|e| e.to_string())
}

/// Server-side SASL over the sasldb, limited by `sasl_mech_list`.
pub fn server_auth(conf: &ImapdConf) -> Result<ServerAuth, String> {
    let creds = Arc::new(CredStore::new(crate::conf::sasldb_path(conf)));
    ServerAuth::new(creds, conf.get_raw("sasl_mech_list")).map_err(|e| e.to_string())
}

/// STARTTLS / implicit TLS configuration from `tls_server_cert` and `tls_server_key`.
pub fn server_tls(conf: &ImapdConf) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    crate::mupdate::server_tls(conf)
}

/// The namespace options of this host.
pub fn namespace(conf: &ImapdConf) -> Namespace {
    let mut ns = Namespace {
        unixhierarchysep: conf.unixhierarchysep(),
        altnamespace: conf.altnamespace(),
        virtdomains: conf.virtdomains() != "off",
        ..Namespace::default()
    };
    if let Some(d) = conf.get_str("defaultdomain").filter(|d| !d.is_empty()) {
        ns.defaultdomain = d;
    }
    ns
}

/// `failedloginpause` (Cyrus default 3 s).
pub fn failed_login_pause(conf: &ImapdConf) -> Duration {
    conf.get_duration("failedloginpause")
        .unwrap_or(Duration::from_secs(3))
}

/// Who a session acts as after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The user the session acts as.
    pub name: String,
    /// Whose credentials were checked.
    pub authid: String,
    /// Whether the session has admin rights (after a switch: only when acting for an admin).
    pub is_admin: bool,
}

/// Decides whether `authid` may act as `authzid` (reference §4.11): itself always; another
/// user only when `authid` is in `proxyservers` or `admins`, and then never as an admin.
/// `username_tolower` lower-cases the name acted as.
pub fn authorize(
    conf: &ImapdConf,
    authid: &str,
    authzid: Option<&str>,
) -> Result<Authorized, &'static str> {
    let admins = conf.admins();
    let name = authzid.unwrap_or(authid);
    let name = if conf.get_switch("username_tolower") {
        name.to_lowercase()
    } else {
        name.to_owned()
    };
    let is_admin = |u: &str| admins.iter().any(|a| a == u);
    if name == authid || authzid.is_none() {
        return Ok(Authorized {
            is_admin: is_admin(authid),
            name,
            authid: authid.to_owned(),
        });
    }
    if conf.proxyservers().iter().any(|p| p == authid) || is_admin(authid) {
        // A frontend's proxy user acting for an administrator is a "proxy admin" (reference
        // §4.11): the admin logged in on the frontend, so admin commands proxied for them
        // (CREATE with a partition, XFER) work. Acting for anyone else, it is never an admin.
        return Ok(Authorized {
            is_admin: is_admin(&name),
            name,
            authid: authid.to_owned(),
        });
    }
    Err("authorization failure")
}

static SESSION_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new Cyrus-style session id, `cyrus-<servername>-<start>-<pid>-<n>-<random>` (the shape
/// of `SESSIONID=<…>` in Cyrus's replies, transcripts 05 and 07).
pub fn session_id(servername: &str) -> String {
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let n = SESSION_COUNTER
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(1);
    let r: u64 = rand::random();
    format!("cyrus-{servername}-{start}-{}-{n}-{r}", std::process::id())
}

/// Why a POP3, LMTP or ManageSieve session stopped reading.
#[derive(Debug)]
pub enum End {
    /// The client went away, or stayed silent past the idle timeout.
    Closed,
    /// The connection failed.
    Io(io::Error),
}

impl From<io::Error> for End {
    fn from(e: io::Error) -> Self {
        End::Io(e)
    }
}

/// Runs `f` with the shared context on the blocking pool (storage, password hashing).
pub async fn blocking<C, T>(
    ctx: &Arc<C>,
    f: impl FnOnce(&C) -> T + Send + 'static,
) -> Result<T, End>
where
    C: Send + Sync + 'static,
    T: Send + 'static,
{
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || f(&ctx))
        .await
        .map_err(|e| End::Io(io::Error::other(e.to_string())))
}

/// A connection on a TCP listener (plain or TLS, see [`Stream`]) or on a UNIX socket.
pub enum Conn {
    /// TCP, possibly upgraded to TLS.
    Net(Stream),
    /// A UNIX-domain socket (never TLS).
    Unix(UnixStream),
}

impl Conn {
    /// Whether TLS is active.
    pub fn is_tls(&self) -> bool {
        matches!(self, Conn::Net(s) if s.is_tls())
    }

    /// Whether this is a UNIX-socket connection.
    pub fn is_unix(&self) -> bool {
        matches!(self, Conn::Unix(_))
    }

    /// Sends what `out` holds (emptying it) and flushes.
    pub async fn send_out(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        if !out.is_empty() {
            self.write_all(out).await?;
            out.clear();
        }
        self.flush().await
    }

    /// Reads what has arrived into `buf` and hands it to `push` (the session's codec): false at
    /// the end of the stream, [`End::Closed`] after `idle` without input.
    pub async fn read_into(
        &mut self,
        buf: &mut [u8],
        idle: Duration,
        push: impl FnOnce(&[u8]),
    ) -> Result<bool, End> {
        use tokio::io::AsyncReadExt;
        let n = tokio::time::timeout(idle, self.read(buf))
            .await
            .map_err(|_| End::Closed)??;
        match buf.get(..n) {
            Some(bytes) if n > 0 => {
                push(bytes);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Starts server-side TLS (STARTTLS, or an implicit-TLS port); refused on a UNIX socket.
    pub async fn accept_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        match self {
            Conn::Net(s) => s.accept_tls(config).await,
            Conn::Unix(_) => Err(io::Error::other("no TLS on a UNIX socket")),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Net(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Net(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Net(s) => Pin::new(s).poll_flush(cx),
            Conn::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Net(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Binds a UNIX socket at `path`, replacing a stale socket file left by a killed process, and
/// making the directory if needed.
pub fn bind_unix(path: &Path) -> Result<UnixListener, String> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
            let _ = std::fs::remove_file(path);
        }
        _ => {}
    }
    UnixListener::bind(path).map_err(|e| format!("cannot listen on {}: {e}", path.display()))
}

/// Accepts UNIX-socket connections until `shutdown`, running `handle` for each in its own task.
pub async fn serve_unix<F, Fut>(listener: UnixListener, shutdown: CancellationToken, handle: F)
where
    F: Fn(UnixStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((s, _)) => {
                tokio::spawn(handle(s));
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> ImapdConf {
        ImapdConf::parse_str(&format!("configdirectory: /tmp/x\n{text}"), "t").unwrap()
    }

    #[test]
    fn authorization_switch_follows_proxyservers_and_admins() {
        let c = conf("admins: cyrus\nproxyservers: murder\n");
        let a = authorize(&c, "cyrus", None).unwrap();
        assert!(a.is_admin);
        let a = authorize(&c, "murder", Some("Alice")).unwrap();
        assert_eq!((a.name.as_str(), a.is_admin), ("alice", false));
        let a = authorize(&c, "cyrus", Some("bob")).unwrap();
        assert!(!a.is_admin);
        assert!(authorize(&c, "alice", Some("bob")).is_err());
        assert!(!authorize(&c, "alice", None).unwrap().is_admin);
    }

    #[test]
    fn session_ids_differ() {
        assert_ne!(session_id("h"), session_id("h"));
    }
}
