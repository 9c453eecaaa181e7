//! `lmtpproxyd`: LMTP on a frontend or MX host (reference §4.12). Each RCPT is routed by the
//! user's INBOX (or a shared mailbox with `p` for anyone) in the local copy of the MUPDATE
//! database; after DATA the transaction is split into one per backend, and the replies come
//! back one per recipient in RCPT order.
//!
//! Never a permanent failure on doubt: an unknown recipient is `550 5.1.1` only when the local
//! database has synced with the master (`slave.last_sync`) and a kick of the slave worked;
//! otherwise, and whenever a backend cannot be reached, the answer is `451 4.4.3`.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::acl::Rights;
use protocol::config::imapd::ImapdConf;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::backends::{backend_address, proxy_credentials};
use crate::mboxdb::{MailboxDb, MbState};
use crate::net::{serve, ConnCounter};
use crate::service::Conn;

/// Longest command line accepted.
const MAX_LINE: usize = 4096;
/// Default largest message when `maxmessagesize` is not set.
const DEFAULT_MAX_MESSAGE: usize = 100 * 1024 * 1024;
/// How long one backend transaction may take (`lmtptxn_timeout`, Cyrus default 5 minutes).
const TXN_TIMEOUT: Duration = Duration::from_secs(300);

const UNAVAILABLE: &str = "451 4.4.3 Server(s) unavailable to complete operation\r\n";
const RETRY: &str = "451 4.3.0 Retry operation\r\n";
const UNKNOWN: &str = "550-Mailbox unknown.  Either there is no mailbox associated with this\r\n550-name or you do not have authorization to see it.\r\n550 5.1.1 User unknown\r\n";

/// Shared state.
pub struct Context {
    conf: ImapdConf,
    servername: String,
    mboxdb: MailboxDb,
    configdir: std::path::PathBuf,
    preauth_tcp: bool,
    max_message: usize,
    connections: Arc<ConnCounter>,
}

/// One accepted recipient: the address as given and where it goes.
struct Rcpt {
    path: String,
    server: String,
}

/// Where a recipient's mail goes, or the reply refusing it.
enum Route {
    To(String),
    Refuse(&'static str),
}

fn route(ctx: &Context, local: &str) -> Option<Result<String, &'static str>> {
    let (user, _detail) = match local.split_once('+') {
        Some((u, d)) => (u, Some(d)),
        None => (local, None),
    };
    let names = [format!("user.{}", user.replace('.', "^")), local.to_owned()];
    for (i, name) in names.iter().enumerate() {
        let Ok(Some(e)) = ctx.mboxdb.get(name) else {
            continue;
        };
        match e.state() {
            MbState::Reserved | MbState::Moving => {
                return Some(Err("451 4.2.1 Mailbox is currently reserved\r\n"))
            }
            MbState::Remote | MbState::Local => {}
            _ => continue,
        }
        // A shared mailbox takes mail only with `p` for anyone (no sender identity here).
        if i == 1 {
            let rights = super::entry_rights(&e, "anyone");
            if !rights.contains(Rights::POST) {
                return Some(Err("550 5.7.1 Permission denied\r\n"));
            }
        }
        return match e.server {
            Some(s) if !s.is_empty() => Some(Ok(s)),
            _ => Some(Err(UNAVAILABLE)),
        };
    }
    None
}

async fn lookup(ctx: &Context, local: &str) -> Route {
    if let Some(r) = route(ctx, local) {
        return match r {
            Ok(s) => Route::To(s),
            Err(e) => Route::Refuse(e),
        };
    }
    let kicked = crate::mupdate::slave::kick(&ctx.configdir, super::KICK_TIMEOUT).await;
    match route(ctx, local) {
        Some(Ok(s)) => Route::To(s),
        Some(Err(e)) => Route::Refuse(e),
        None => {
            let synced = ctx
                .mboxdb
                .get_meta(crate::mupdate::slave::meta::LAST_SYNC)
                .ok()
                .flatten()
                .is_some();
            if synced && kicked {
                Route::Refuse(UNKNOWN)
            } else {
                Route::Refuse(UNAVAILABLE)
            }
        }
    }
}

/// The address inside `<...>` and the rest of the line.
fn path_arg<'a>(rest: &'a str, kw: &str) -> Option<(&'a str, &'a str)> {
    let head = rest.get(..kw.len())?;
    if !head.eq_ignore_ascii_case(kw) {
        return None;
    }
    let after = rest.get(kw.len()..)?.trim_start();
    let inner = after.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some((inner.get(..end)?, inner.get(end + 1..)?))
}

/// Serves one client connection.
pub async fn handle<S: AsyncRead + AsyncWrite + Unpin>(ctx: Arc<Context>, conn: S, trusted: bool) {
    let mut r = BufReader::new(conn);
    let greeting = format!(
        "220 {} Cyrus LMTP {} server ready\r\n",
        ctx.servername,
        crate::imapd::VERSION
    );
    if r.get_mut().write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut sender: Option<String> = None;
    let mut rcpts: Vec<Rcpt> = Vec::new();
    // Replies for refused recipients are given at RCPT; only accepted ones get a DATA reply.
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut r)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let (verb, rest) = text.split_once(' ').unwrap_or((text, ""));
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "LHLO" => format!(
                "250-{}\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250 SIZE {}\r\n",
                ctx.servername, ctx.max_message
            ),
            "MAIL" if !trusted => "530 5.7.0 Authentication required\r\n".into(),
            "MAIL" if sender.is_some() => "503 5.5.1 Nested MAIL command\r\n".into(),
            "MAIL" => match path_arg(rest, "FROM:") {
                Some((p, _)) => {
                    sender = Some(p.to_owned());
                    "250 2.1.0 ok\r\n".into()
                }
                None => "501 5.5.4 Syntax error in parameters\r\n".into(),
            },
            "RCPT" if sender.is_none() => "503 5.5.1 Need MAIL command\r\n".into(),
            "RCPT" => match path_arg(rest, "TO:") {
                Some((p, _)) => {
                    let local = p.rsplit_once('@').map(|(l, _)| l).unwrap_or(p);
                    let local = local.trim_matches('"').to_owned();
                    match lookup(&ctx, &local).await {
                        Route::To(server) => {
                            rcpts.push(Rcpt {
                                path: p.to_owned(),
                                server,
                            });
                            "250 2.1.5 ok\r\n".into()
                        }
                        Route::Refuse(why) => why.into(),
                    }
                }
                None => "501 5.5.4 Syntax error in parameters\r\n".into(),
            },
            "DATA" if rcpts.is_empty() => "503 5.5.1 No recipients\r\n".into(),
            "DATA" => {
                if r.get_mut().write_all(b"354 go ahead\r\n").await.is_err() {
                    return;
                }
                let Some(body) = read_body(&mut r, ctx.max_message).await else {
                    return;
                };
                let replies = match body {
                    Some(body) => {
                        deliver(&ctx, sender.as_deref().unwrap_or(""), &rcpts, &body).await
                    }
                    None => vec!["552 5.2.3 Message size exceeds fixed maximum message size\r\n".to_owned(); rcpts.len()],
                };
                sender = None;
                rcpts.clear();
                replies.concat()
            }
            "RSET" => {
                sender = None;
                rcpts.clear();
                "250 2.0.0 ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 ok\r\n".into(),
            "QUIT" => {
                let _ = r.get_mut().write_all(b"221 2.0.0 bye\r\n").await;
                let _ = r.get_mut().shutdown().await;
                return;
            }
            _ => "500 5.5.2 Unrecognized command\r\n".into(),
        };
        if r.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads the message after `354`, still dot-stuffed, up to (not including) the final `.`.
/// `None` at end of stream; `Some(None)` when it was too large (the rest is discarded).
async fn read_body<R: AsyncBufReadExt + Unpin>(r: &mut R, max: usize) -> Option<Option<Vec<u8>>> {
    let mut body = Vec::new();
    let mut too_big = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line).await.ok()?;
        if n == 0 {
            return None;
        }
        if line == b".\r\n" || line == b".\n" {
            return Some(if too_big { None } else { Some(body) });
        }
        if body.len().saturating_add(line.len()) > max {
            too_big = true;
            body.clear();
        }
        if !too_big {
            if !line.ends_with(b"\r\n") {
                // Bare LF: make it CRLF for the backend.
                line.pop();
                line.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(&line);
        }
    }
}

/// Delivers to every backend concerned; one reply per recipient, in RCPT order.
async fn deliver(ctx: &Context, sender: &str, rcpts: &[Rcpt], body: &[u8]) -> Vec<String> {
    let mut replies: Vec<Option<String>> = vec![None; rcpts.len()];
    let mut servers: Vec<&str> = Vec::new();
    for r in rcpts {
        if !servers.contains(&r.server.as_str()) {
            servers.push(&r.server);
        }
    }
    for server in servers {
        let idx: Vec<usize> = (0..rcpts.len())
            .filter(|i| rcpts.get(*i).is_some_and(|r| r.server == server))
            .collect();
        let paths: Vec<&str> = idx
            .iter()
            .filter_map(|i| rcpts.get(*i).map(|r| r.path.as_str()))
            .collect();
        let got = tokio::time::timeout(TXN_TIMEOUT, transaction(ctx, server, sender, &paths, body))
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        match got {
            Ok(rs) => {
                for (i, rep) in idx.iter().zip(rs) {
                    if let Some(slot) = replies.get_mut(*i) {
                        *slot = Some(rep);
                    }
                }
            }
            Err(e) => {
                tracing::warn!("lmtp proxy: {server}: {e}");
                for i in &idx {
                    if let Some(slot) = replies.get_mut(*i) {
                        *slot = Some(UNAVAILABLE.into());
                    }
                }
            }
        }
    }
    replies
        .into_iter()
        .map(|r| r.unwrap_or_else(|| UNAVAILABLE.into()))
        .collect()
}

/// Reads one (possibly multi-line) reply; returns its code and the whole text.
async fn reply<R: AsyncBufReadExt + Unpin>(r: &mut R) -> Result<(u16, String), String> {
    let mut all = String::new();
    loop {
        let mut l = String::new();
        let n = r.read_line(&mut l).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        let code: u16 = l.get(..3).and_then(|c| c.parse().ok()).ok_or("bad reply")?;
        let last = l.as_bytes().get(3) != Some(&b'-');
        if !l.ends_with("\r\n") {
            l = format!("{}\r\n", l.trim_end_matches('\n'));
        }
        all.push_str(&l);
        if last {
            return Ok((code, all));
        }
    }
}

/// One LMTP transaction on `server` for `paths`; a reply per path.
async fn transaction(
    ctx: &Context,
    server: &str,
    sender: &str,
    paths: &[&str],
    body: &[u8],
) -> Result<Vec<String>, String> {
    let (host, port) =
        backend_address(&ctx.conf, server, "lmtp").ok_or("no usable address for this server")?;
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())?;
    // Commands go out as several small writes: without this, Nagle's algorithm holds each
    // one for the backend's delayed ACK (≈40 ms per transaction).
    let _ = tcp.set_nodelay(true);
    let mut b = BufReader::new(tcp);
    let (code, _) = reply(&mut b).await?;
    if code != 220 {
        return Err(format!("greeting {code}"));
    }
    b.get_mut()
        .write_all(b"LHLO lmtpproxyd\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let (code, caps) = reply(&mut b).await?;
    if code != 250 {
        return Err(format!("LHLO {code}"));
    }
    let auth = caps
        .lines()
        .filter_map(|l| l.get(4..))
        .find(|l| l.to_ascii_uppercase().starts_with("AUTH "))
        .map(|l| l.to_ascii_uppercase());
    if let Some(mechs) = auth {
        if !mechs.split_whitespace().any(|m| m == "PLAIN") {
            return Err("no usable AUTH mechanism".into());
        }
        let (authname, pw) =
            proxy_credentials(&ctx.conf, server).ok_or("no proxy_password is set")?;
        let ir = B64.encode(format!("\0{authname}\0{pw}"));
        b.get_mut()
            .write_all(format!("AUTH PLAIN {ir}\r\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let (code, text) = reply(&mut b).await?;
        if code != 235 {
            return Err(format!("AUTH: {}", text.trim_end()));
        }
    }
    let w = |s: String| s.into_bytes();
    b.get_mut()
        .write_all(&w(format!("MAIL FROM:<{sender}>\r\n")))
        .await
        .map_err(|e| e.to_string())?;
    let (code, text) = reply(&mut b).await?;
    if code != 250 {
        return Err(format!("MAIL: {}", text.trim_end()));
    }
    let mut out: Vec<Option<String>> = Vec::new();
    for p in paths {
        b.get_mut()
            .write_all(&w(format!("RCPT TO:<{p}>\r\n")))
            .await
            .map_err(|e| e.to_string())?;
        let (code, text) = reply(&mut b).await?;
        out.push(match code {
            250 | 251 => None,
            // Our copy of the database may be out of date: never a permanent "unknown".
            550 if text.contains("5.1.1") => Some(RETRY.to_owned()),
            _ => Some(text),
        });
    }
    if out.iter().all(Option::is_some) {
        let _ = b.get_mut().write_all(b"QUIT\r\n").await;
        return Ok(out.into_iter().flatten().collect());
    }
    b.get_mut()
        .write_all(b"DATA\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let (code, text) = reply(&mut b).await?;
    if code != 354 {
        return Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| text.clone()))
            .collect());
    }
    b.get_mut()
        .write_all(body)
        .await
        .map_err(|e| e.to_string())?;
    b.get_mut()
        .write_all(b".\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut res = Vec::new();
    for o in out {
        match o {
            Some(refused) => res.push(refused),
            // The backend's per-recipient replies are relayed as they are.
            None => match reply(&mut b).await {
                Ok((_, text)) => res.push(text),
                Err(_) => res.push(UNAVAILABLE.to_owned()),
            },
        }
    }
    let _ = b.get_mut().write_all(b"QUIT\r\n").await;
    Ok(res)
}

/// Runs the LMTP proxy until `shutdown` on a TCP listener, a UNIX listener, or both (the
/// signature of [`crate::lmtpd::run`], which calls this on a frontend).
pub async fn run(
    conf: ImapdConf,
    preauth_tcp: bool,
    tcp: Option<TcpListener>,
    unix: Option<UnixListener>,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let configdir = crate::service::configdir(&conf)?;
    let mboxdb = crate::service::open_mboxdb(&conf)?;
    let max_message = conf
        .get_int("maxmessagesize")
        .filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_MAX_MESSAGE);
    let ctx = Arc::new(Context {
        servername: conf.servername().unwrap_or_else(|| "localhost".into()),
        conf,
        mboxdb,
        configdir,
        preauth_tcp,
        max_message,
        connections: Arc::new(ConnCounter::default()),
    });
    let tcp_task = tcp.map(|l| {
        let ctx = ctx.clone();
        let sd = shutdown.clone();
        tokio::spawn(async move {
            let counter = ctx.connections.clone();
            serve(l, sd, counter, move |stream, _peer, guard| {
                let ctx = ctx.clone();
                async move {
                    let _guard = guard;
                    let trusted = ctx.preauth_tcp;
                    handle(ctx, Conn::Net(stream), trusted).await
                }
            })
            .await
        })
    });
    let unix_task = unix.map(|l| {
        let ctx = ctx.clone();
        let sd = shutdown.clone();
        tokio::spawn(async move {
            crate::service::serve_unix(l, sd, move |s| handle(ctx.clone(), Conn::Unix(s), true))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            path_arg("FROM:<a@b> SIZE=1", "FROM:"),
            Some(("a@b", " SIZE=1"))
        );
        assert_eq!(path_arg("to: <bob>", "TO:"), Some(("bob", "")));
        assert_eq!(path_arg("TO:bob", "TO:"), None);
        assert_eq!(path_arg("", "TO:"), None);
    }
}
