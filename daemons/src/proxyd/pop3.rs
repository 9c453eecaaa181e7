//! `pop3proxyd`: POP3 on a frontend (reference §4.13). The user logs in here (USER/PASS, or
//! AUTH PLAIN); the INBOX is looked up in the local copy of the MUPDATE database; the proxy
//! logs in to that backend's pop3 as `proxy_authname` with the user as authorisation id, says
//! `+OK` with the backend's text, and from then on copies bytes both ways.
//!
//! With `tls_server_cert`/`tls_server_key` set, CAPA offers `STLS` (RFC 2595) and pop3s
//! (implicit TLS) is served; the client's TLS ends here, and the backend session behind it is
//! the same as for a plain client. Without `allowplaintext`, USER/PASS and AUTH PLAIN need
//! TLS first.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use protocol::config::imapd::ImapdConf;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::backends::{backend_address, proxy_credentials};
use crate::mboxdb::{MailboxDb, MbState};
use crate::net::{serve, ConnCounter};
use crate::sasl::ServerAuth;
use crate::service::Conn;

const MAX_LINE: u64 = 4096;

/// Shared state.
pub struct Context {
    conf: ImapdConf,
    servername: String,
    mboxdb: MailboxDb,
    configdir: std::path::PathBuf,
    auth: ServerAuth,
    tls: Option<Arc<rustls::ServerConfig>>,
    failed_login_pause: Duration,
    connections: Arc<ConnCounter>,
}

/// Finds the server holding `user`'s INBOX, kicking the slave once on a miss.
async fn inbox_server(ctx: &Context, user: &str) -> Result<String, String> {
    let name = format!("user.{}", user.replace('.', "^"));
    let mut entry = ctx.mboxdb.get(&name).ok().flatten();
    if entry.is_none() {
        crate::mupdate::slave::kick(&ctx.configdir, super::KICK_TIMEOUT).await;
        entry = ctx.mboxdb.get(&name).ok().flatten();
    }
    match entry {
        Some(e) if matches!(e.state(), MbState::Remote | MbState::Local) => {
            e.server.filter(|s| !s.is_empty()).ok_or_else(|| {
                "-ERR [SYS/TEMP] Unable to open maildrop: Server(s) unavailable to complete operation".into()
            })
        }
        Some(e) if matches!(e.state(), MbState::Reserved | MbState::Moving) => {
            Err("-ERR [SYS/TEMP] Unable to open maildrop: Mailbox is currently reserved".into())
        }
        _ => Err("-ERR [SYS/PERM] Unable to open maildrop: Mailbox does not exist".into()),
    }
}

/// Logs in to the backend as the proxy acting for `user`; returns the connection and the
/// backend's success text.
async fn backend(
    ctx: &Context,
    server: &str,
    user: &str,
) -> Result<(BufReader<TcpStream>, String), String> {
    let unavailable = || "-ERR [SYS/TEMP] Server(s) unavailable to complete operation".to_string();
    let (host, port) = backend_address(&ctx.conf, server, "pop3").ok_or_else(unavailable)?;
    let (authname, password) = proxy_credentials(&ctx.conf, server)
        .ok_or_else(|| "-ERR [SYS/TEMP] Authentication to backend server failed".to_string())?;
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    .map_err(|_| unavailable())?
    .map_err(|_| unavailable())?;
    let mut b = BufReader::new(tcp);
    let mut l = String::new();
    b.read_line(&mut l).await.map_err(|_| unavailable())?;
    if !l.starts_with("+OK") {
        return Err(unavailable());
    }
    let ir = B64.encode(format!("{user}\0{authname}\0{password}"));
    b.get_mut()
        .write_all(format!("AUTH PLAIN {ir}\r\n").as_bytes())
        .await
        .map_err(|_| unavailable())?;
    l.clear();
    b.read_line(&mut l).await.map_err(|_| unavailable())?;
    match l.strip_prefix("+OK") {
        Some(text) => Ok((b, text.trim().to_owned())),
        None => Err("-ERR [SYS/TEMP] Authentication to backend server failed".into()),
    }
}

/// The CAPA answer: STLS only while it can still be used.
fn capa(ctx: &Context, tls: bool) -> String {
    let mut out = String::from("+OK List of capabilities follows\r\n");
    if tls || ctx.conf.allowplaintext() {
        out.push_str("SASL PLAIN\r\n");
    }
    if ctx.tls.is_some() && !tls {
        out.push_str("STLS\r\n");
    }
    out.push_str(
        "EXPIRE NEVER\r\nLOGIN-DELAY 0\r\nTOP\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n",
    );
    if tls || ctx.conf.allowplaintext() {
        out.push_str("USER\r\n");
    }
    out.push_str(&format!(
        "IMPLEMENTATION Cyrus POP3 {}\r\n.\r\n",
        crate::imapd::VERSION
    ));
    out
}

/// Serves one client.
pub async fn handle(ctx: Arc<Context>, mut conn: Conn, implicit_tls: bool) {
    if implicit_tls {
        let Some(cfg) = ctx.tls.clone() else {
            return;
        };
        if conn.accept_tls(cfg).await.is_err() {
            return;
        }
    }
    let mut r = BufReader::new(conn);
    let greeting = format!(
        "+OK {} Cyrus POP3 {} server ready <{}.{}@{}>\r\n",
        ctx.servername,
        crate::imapd::VERSION,
        rand::random::<u64>(),
        chrono::Utc::now().timestamp(),
        ctx.servername
    );
    if r.get_mut().write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    let mut pending_user: Option<String> = None;
    let mut line = Vec::new();
    let user = loop {
        line.clear();
        match (&mut r).take(MAX_LINE).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        let (verb, arg) = text.split_once(' ').unwrap_or((text.as_str(), ""));
        let mut login: Option<(String, Option<String>, String)> = None;
        let tls = r.get_ref().is_tls();
        let plaintext_ok = tls || ctx.conf.allowplaintext();
        let reply: String = match verb.to_ascii_uppercase().as_str() {
            "CAPA" => capa(&ctx, tls),
            "STLS" => {
                let Some(cfg) = ctx.tls.clone().filter(|_| !tls) else {
                    if r.get_mut()
                        .write_all(b"-ERR STLS not available\r\n")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    continue;
                };
                if r.get_mut()
                    .write_all(b"+OK Begin TLS negotiation now\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                // Anything pipelined after STLS was sent in the clear: dropped (RFC 2595 §4).
                let mut conn = r.into_inner();
                if conn.accept_tls(cfg).await.is_err() {
                    return;
                }
                r = BufReader::new(conn);
                pending_user = None;
                continue;
            }
            "USER" | "PASS" | "AUTH" if !plaintext_ok => {
                "-ERR [AUTH] USER command only available under a layer\r\n".into()
            }
            "USER" if !arg.is_empty() => {
                pending_user = Some(arg.to_owned());
                "+OK Name is a valid mailbox\r\n".into()
            }
            "PASS" => match pending_user.take() {
                Some(u) => {
                    login = Some((u.clone(), None, arg.to_owned()));
                    String::new()
                }
                None => "-ERR Must give USER command\r\n".into(),
            },
            "AUTH" => {
                let (mech, ir) = arg.split_once(' ').unwrap_or((arg, ""));
                if !mech.eq_ignore_ascii_case("PLAIN") || ir.is_empty() {
                    "-ERR [AUTH] Only AUTH PLAIN with an initial response is offered\r\n".into()
                } else {
                    let decoded = B64.decode(ir.trim()).unwrap_or_default();
                    let parts: Vec<String> = decoded
                        .split(|b| *b == 0)
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect();
                    match parts.as_slice() {
                        [z, c, p] => {
                            let z = Some(z.clone()).filter(|z| !z.is_empty() && z != c);
                            login = Some((c.clone(), z, p.clone()));
                            String::new()
                        }
                        _ => "-ERR [AUTH] Invalid authentication data\r\n".into(),
                    }
                }
            }
            "QUIT" => {
                let _ = r.get_mut().write_all(b"+OK bye\r\n").await;
                return;
            }
            _ => "-ERR Unrecognized command\r\n".into(),
        };
        if let Some((authid, authzid, pw)) = login {
            let auth = ctx.auth.clone();
            let a2 = authid.clone();
            let ok = auth.login_recently_verified(&authid, &pw)
                || tokio::task::spawn_blocking(move || auth.check_login(&a2, &pw).unwrap_or(false))
                    .await
                    .unwrap_or(false);
            // Acting as someone else is for admins only on a frontend.
            let allowed = authzid.is_none() || ctx.conf.admins().contains(&authid);
            if ok && allowed {
                break authzid.unwrap_or(authid);
            }
            tokio::time::sleep(ctx.failed_login_pause).await;
            if r.get_mut()
                .write_all(b"-ERR [AUTH] Invalid login\r\n")
                .await
                .is_err()
            {
                return;
            }
            continue;
        }
        if r.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    };
    let server = match inbox_server(&ctx, &user).await {
        Ok(s) => s,
        Err(e) => {
            tokio::time::sleep(
                Duration::from_secs(3).min(ctx.failed_login_pause.max(Duration::from_millis(10))),
            )
            .await;
            let _ = r.get_mut().write_all(format!("{e}\r\n").as_bytes()).await;
            return;
        }
    };
    let (b, text) = match backend(&ctx, &server, &user).await {
        Ok(x) => x,
        Err(e) => {
            let _ = r.get_mut().write_all(format!("{e}\r\n").as_bytes()).await;
            return;
        }
    };
    tracing::info!(user = %user, backend = %server, "pop3 proxy login");
    let ok = if text.is_empty() {
        "+OK\r\n".to_owned()
    } else {
        format!("+OK {text}\r\n")
    };
    if r.get_mut().write_all(ok.as_bytes()).await.is_err() {
        return;
    }
    // Whatever either side already buffered goes first, then plain copying.
    let client_buf = r.buffer().to_vec();
    let backend_buf = b.buffer().to_vec();
    let mut client = r.into_inner();
    let mut back = b.into_inner();
    if !client_buf.is_empty() && back.write_all(&client_buf).await.is_err() {
        return;
    }
    if !backend_buf.is_empty() && client.write_all(&backend_buf).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut back).await;
}

/// Runs the POP3 proxy on `listener` until `shutdown` (the signature of
/// [`crate::pop3d::run`], which calls this on a frontend).
pub async fn run(
    conf: ImapdConf,
    implicit_tls: bool,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let tls = crate::service::server_tls(&conf)?;
    if implicit_tls && tls.is_none() {
        return Err("pop3s needs tls_server_cert and tls_server_key".into());
    }
    let ctx = Arc::new(Context {
        tls,
        servername: conf.servername().unwrap_or_else(|| "localhost".into()),
        configdir: crate::service::configdir(&conf)?,
        mboxdb: crate::service::open_mboxdb(&conf)?,
        auth: crate::service::server_auth(&conf)?,
        failed_login_pause: crate::service::failed_login_pause(&conf),
        conf,
        connections: Arc::new(ConnCounter::default()),
    });
    let counter = ctx.connections.clone();
    serve(listener, shutdown, counter, move |stream, _peer, guard| {
        let ctx = ctx.clone();
        async move {
            let _guard = guard;
            handle(ctx, Conn::Net(stream), implicit_tls).await
        }
    })
    .await;
    Ok(())
}
