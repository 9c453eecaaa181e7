//! TLS: STARTTLS when offered, --notls, --tls, implicit TLS (--ssl), --cafile and
//! --insecure, against a small TLS-capable server with a generated CA.

mod common;

use std::process::Command;
use std::sync::Arc;

use daemons::tls::{generate_certs, server_config, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn read_line(s: &mut Stream) -> Option<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {
                line.push(b[0]);
                if b[0] == b'\n' {
                    return Some(String::from_utf8_lossy(&line).trim_end().to_string());
                }
            }
        }
    }
}

async fn serve(
    tcp: tokio::net::TcpStream,
    cfg: Arc<rustls::ServerConfig>,
    implicit: bool,
    offer: bool,
) {
    let mut s = Stream::Plain(tcp);
    if implicit && s.accept_tls(cfg.clone()).await.is_err() {
        return;
    }
    let caps = |s: &Stream| {
        if offer && !s.is_tls() {
            "IMAP4rev1 ID STARTTLS AUTH=PLAIN SASL-IR"
        } else {
            "IMAP4rev1 ID AUTH=PLAIN SASL-IR"
        }
    };
    let greeting = format!("* OK [CAPABILITY {}] tls test server\r\n", caps(&s));
    if s.write_all(greeting.as_bytes()).await.is_err() {
        return;
    }
    while let Some(line) = read_line(&mut s).await {
        let (tag, rest) = line.split_once(' ').unwrap_or(("*", ""));
        let up = rest.to_ascii_uppercase();
        let reply = if up == "STARTTLS" {
            let _ = s
                .write_all(format!("{tag} OK Begin TLS negotiation now\r\n").as_bytes())
                .await;
            if s.accept_tls(cfg.clone()).await.is_err() {
                return;
            }
            continue;
        } else if up == "CAPABILITY" {
            format!("* CAPABILITY {}\r\n{tag} OK Completed\r\n", caps(&s))
        } else if up.starts_with("AUTHENTICATE PLAIN") {
            format!("{tag} OK [CAPABILITY IMAP4rev1 ID] logged in\r\n")
        } else if up == "ID NIL" {
            let tls = if s.is_tls() { "yes" } else { "no" };
            format!("* ID (\"name\" \"tls test\" \"tls\" \"{tls}\")\r\n{tag} OK Completed\r\n")
        } else if up == "LOGOUT" {
            let _ = s
                .write_all(format!("* BYE\r\n{tag} OK Completed\r\n").as_bytes())
                .await;
            return;
        } else {
            format!("{tag} BAD unknown\r\n")
        };
        if s.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

struct Server {
    port: u16,
    ca: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn start(implicit: bool, offer: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let certs = generate_certs(dir.path(), &["localhost"]).unwrap();
    let cfg = server_config(&certs.cert, &certs.key).unwrap();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = std_listener.local_addr().unwrap().port();
    std_listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(std_listener).unwrap();
            while let Ok((tcp, _)) = l.accept().await {
                tokio::spawn(serve(tcp, cfg.clone(), implicit, offer));
            }
        });
    });
    Server {
        port,
        ca: certs.ca_cert,
        _dir: dir,
    }
}

fn version(srv: &Server, extra: &[&str]) -> std::process::Output {
    Command::new(common::murder_bin())
        .args([
            "-u",
            "cyrus",
            "localhost",
            &srv.port.to_string(),
            "-e",
            "version",
        ])
        .args(extra)
        .env("MURDER_PASSWORD", "secret")
        .output()
        .unwrap()
}

#[test]
fn starttls_when_offered_verified_by_the_ca() {
    let srv = start(false, true);
    let o = version(&srv, &["--cafile", srv.ca.to_str().unwrap()]);
    assert!(
        common::stdout(&o).contains("tls        : yes"),
        "{}",
        common::stderr(&o)
    );
    assert!(o.status.success());
}

#[test]
fn insecure_accepts_a_test_certificate() {
    let srv = start(false, true);
    let o = version(&srv, &["--insecure"]);
    assert!(
        common::stdout(&o).contains("tls        : yes"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn an_unknown_ca_is_refused_clearly() {
    let srv = start(false, true);
    let o = version(&srv, &[]);
    let err = common::stderr(&o);
    assert!(
        err.contains("TLS") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(err.contains("version: no connection to server"), "{err}");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn notls_refuses_starttls() {
    let srv = start(false, true);
    let o = version(&srv, &["--notls"]);
    assert!(
        common::stdout(&o).contains("tls        : no"),
        "{}",
        common::stderr(&o)
    );
}

#[test]
fn tls_required_but_not_offered() {
    let srv = start(false, false);
    let o = version(&srv, &["--tls", "--insecure"]);
    let err = common::stderr(&o);
    assert!(err.contains("does not offer STARTTLS"), "{err}");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn implicit_tls() {
    let srv = start(true, false);
    let o = version(&srv, &["--ssl", "--cafile", srv.ca.to_str().unwrap()]);
    assert!(
        common::stdout(&o).contains("tls        : yes"),
        "{}",
        common::stderr(&o)
    );
}

/// Our imapd with STARTTLS that requires a client certificate signed by a CA of its own
/// (`tls_client_ca_file`, `tls_client_certs: require`): the shell presents one with
/// --tlskey/--tlscert, or cyradm's single key-and-certificate file, or `authenticate
/// -tlskey` on a plain connection; without one the handshake fails with a clear message.
#[test]
fn client_certificates_against_our_imapd() {
    use murder_tests::{Daemon, Host};
    let dir = tempfile::tempdir().unwrap();
    let server = generate_certs(&dir.path().join("server"), &["localhost"]).unwrap();
    // A second CA, whose "server" certificate serves as the client's.
    let client = generate_certs(&dir.path().join("client"), &["admin.client"]).unwrap();
    let combined = dir.path().join("client-combined.pem");
    std::fs::write(
        &combined,
        std::fs::read_to_string(&client.key).unwrap()
            + &std::fs::read_to_string(&client.cert).unwrap(),
    )
    .unwrap();
    let host = Host::new("tlsbackend")
        .conf("admins", "cyrus")
        .conf("tls_server_cert", server.cert.to_str().unwrap())
        .conf("tls_server_key", server.key.to_str().unwrap())
        .conf("tls_client_ca_file", client.ca_cert.to_str().unwrap())
        .conf("tls_client_certs", "require")
        .user("cyrus", "secret")
        .write();
    let d = Daemon::start(&host, "imapd", &[]);
    let port = d.addr.port().to_string();
    let ca = server.ca_cert.to_str().unwrap();
    let run = |extra: &[&str], cmds: &str| {
        Command::new(common::murder_bin())
            .args(["--norc", "-u", "cyrus", "--cafile", ca])
            .args(extra)
            .args(["-e", cmds])
            .env("MURDER_PASSWORD", "secret")
            .output()
            .unwrap()
    };

    let o = run(
        &[
            "--tlskey",
            client.key.to_str().unwrap(),
            "--tlscert",
            client.cert.to_str().unwrap(),
            "localhost",
            &port,
        ],
        "cm user.tlsuser; lm user.*",
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stdout(&o).contains("user.tlsuser"),
        "{}",
        common::stdout(&o)
    );

    // cyradm's form: one file with the key and the certificate.
    let o = run(
        &["-t", combined.to_str().unwrap(), "localhost", &port],
        "lm user.*",
    );
    assert!(
        common::stdout(&o).contains("user.tlsuser"),
        "{}",
        common::stderr(&o)
    );

    // No certificate: the server ends the session (with TLS 1.3, at the client's first
    // read, as an alert naming the missing certificate); status 1.
    let o = run(&["--tls", "localhost", &port], "lm");
    let err = common::stderr(&o);
    assert!(err.contains("CertificateRequired"), "{err}");
    assert!(
        err.contains("listmailbox: no connection to server"),
        "{err}"
    );
    assert_eq!(o.status.code(), Some(1));

    // authenticate -tlskey on a connection opened without TLS: STARTTLS, then login.
    let o = run(
        &["--notls", "--no-connect"],
        &format!(
            "server -noauthenticate localhost:{port}; authenticate -tlskey {} cyrus; lm user.*",
            combined.display()
        ),
    );
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stdout(&o).contains("user.tlsuser"),
        "{}",
        common::stdout(&o)
    );
}
