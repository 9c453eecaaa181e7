//! The set-up of the document the project started from (shared/seed/, "Installing the Cyrus
//! Murder"), as written: each host runs our `master -C imapd.conf -M cyrus.conf` with the
//! document's cyrus.conf lines, changed only in ports and paths (loopback ports chosen free,
//! the LMTP socket inside the host's directory). The MUPDATE master runs
//! `cmd="/usr/cyrus/bin/mupdate -m"`; the backend pushes its mailboxes at start with the START
//! entry `mupdatepush cmd="ctl_mboxlist -m"`; the frontend runs the slave (`cmd="mupdate"`),
//! `proxyd`, `proxyd -s`, `pop3proxyd`, `pop3proxyd -s`, `pop3proxyd -k`, `timsieved` and
//! `lmtpproxyd` lines. Clients then connect through the frontend only.

#[path = "support/imap.rs"]
mod imap;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use daemons::mboxdb::MailboxDb;
use imap::Imap;
use murder_tests::cyrus::free_port;
use murder_tests::{bin, wait_until, Host};

/// Our `master` for one host; SIGTERM (which stops its children) when dropped.
struct Master {
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Master {
    fn start(host: &Host, cyrus_conf: &str) -> Master {
        let conf = host.path("cyrus.conf");
        std::fs::write(&conf, cyrus_conf).unwrap();
        let log = host.path("master.log");
        let logf = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin("master"))
            .arg("-C")
            .arg(host.imapd_conf())
            .arg("-M")
            .arg(&conf)
            .arg("-p")
            .arg(host.path("master.pid"))
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("starting our master");
        Master {
            child: Some(child),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let stopped = wait_until(Duration::from_secs(15), || {
                matches!(c.try_wait(), Ok(Some(_)))
            });
            if !stopped {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether something on `port` sends a first line that starts with `prefix`.
fn banner(port: u16, prefix: &str) -> bool {
    let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    let _ = BufReader::new(&s).read_line(&mut line);
    line.starts_with(prefix)
}

fn wait_banner(port: u16, prefix: &str, what: &str, master: &Master) {
    assert!(
        wait_until(Duration::from_secs(30), || banner(port, prefix)),
        "{what} on port {port} did not answer; master log:\n{}",
        master.log()
    );
}

fn db_server(dir: &Path, name: &str) -> Option<String> {
    MailboxDb::open_in(dir)
        .ok()
        .and_then(|db| db.get(name).ok().flatten())
        .and_then(|e| e.server)
}

/// One LMTP delivery over a unix socket (lmtpproxyd's, trusted like Cyrus's).
fn lmtp_unix(path: &Path, rcpt: &str) -> Vec<String> {
    let s = std::os::unix::net::UnixStream::connect(path).expect("lmtp socket");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut replies = Vec::new();
    let mut reply = |replies: &mut Vec<String>| {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            all.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        replies.push(all.trim_end().to_string());
    };
    reply(&mut replies);
    for cmd in [
        "LHLO seed".to_string(),
        "MAIL FROM:<s@example.org>".into(),
        format!("RCPT TO:<{rcpt}>"),
        "DATA".into(),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).unwrap();
        reply(&mut replies);
    }
    w.write_all(b"Subject: seed\r\n\r\nThrough the seed's lmtpproxyd.\r\n.\r\n")
        .unwrap();
    reply(&mut replies);
    w.write_all(b"QUIT\r\n").unwrap();
    replies
}

/// POP3 through pop3proxyd: USER/PASS, STAT.
fn pop3_stat(port: u16, user: &str, pw: &str) -> String {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut line = || {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    };
    assert!(line().starts_with("+OK"));
    w.write_all(format!("USER {user}\r\n").as_bytes()).unwrap();
    line();
    w.write_all(format!("PASS {pw}\r\n").as_bytes()).unwrap();
    let pass = line();
    assert!(pass.starts_with("+OK"), "{pass}");
    w.write_all(b"STAT\r\n").unwrap();
    let stat = line();
    w.write_all(b"QUIT\r\n").unwrap();
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    stat
}

#[test]
fn the_seed_document_set_up_runs_as_written() {
    let certs_dir = tempfile::tempdir().unwrap();
    let certs =
        daemons::tls::generate_certs(certs_dir.path(), &["localhost", "127.0.0.1"]).unwrap();
    let (cert, key) = (
        certs.cert.display().to_string(),
        certs.key.display().to_string(),
    );
    let mupdate_port = free_port();

    // The MUPDATE master: "configdirectory, a bogus partition-default and the admins".
    let master_host = Host::new("mupdate")
        .conf("admins", "mupdateslave1 backend1")
        .conf("allowplaintext", "yes")
        .user("mupdateslave1", "secret")
        .user("backend1", "secret")
        .write();
    let master = Master::start(
        &master_host,
        &format!(
            "SERVICES {{\n  mupdate       cmd=\"/usr/cyrus/bin/mupdate -m\" listen={mupdate_port} prefork=1\n}}\n"
        ),
    );
    wait_banner(mupdate_port, "* AUTH", "the MUPDATE master", &master);

    // The backend: mupdate_server and friends, `admins: cyrus`, `proxyservers: murder`.
    let (b_imap, b_pop3, b_lmtp) = (free_port(), free_port(), free_port());
    let backend_host = Host::new("backend1")
        .conf("admins", "cyrus")
        .conf("proxyservers", "murder")
        .conf("lmtp_admins", "murder")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("mupdate_server", &format!("127.0.0.1:{mupdate_port}"))
        .conf("mupdate_authname", "backend1")
        .conf("mupdate_password", "secret")
        .user("cyrus", "secret")
        .user("murder", "secret")
        .write();
    let backend_conf = format!(
        "START {{\n  mupdatepush   cmd=\"ctl_mboxlist -m\"\n}}\n\
         SERVICES {{\n  imap          cmd=\"imapd\" listen={b_imap} prefork=5\n  \
         pop3          cmd=\"pop3d\" listen={b_pop3} prefork=0\n  \
         lmtp          cmd=\"lmtpd -a\" listen={b_lmtp} prefork=0\n}}\n"
    );
    let mut backend = Master::start(&backend_host, &backend_conf);
    wait_banner(b_imap, "* OK", "the backend's imapd", &backend);
    let mut admin = Imap::login(
        format!("127.0.0.1:{b_imap}").parse().unwrap(),
        "cyrus",
        "secret",
    );
    admin.ok("CREATE user.alice");
    admin.ok("CREATE user.alice.Sent");
    admin.ok("LOGOUT");

    // The frontend: the slave and the proxies, with the document's SERVICES lines.
    let (f_mupdate, f_imap, f_imaps, f_pop3, f_pop3s, f_kpop, f_sieve) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let front_host = Host::new("frontend")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("mupdate_server", &format!("127.0.0.1:{mupdate_port}"))
        .conf("mupdate_authname", "mupdateslave1")
        .conf("mupdate_password", "secret")
        .conf("mupdate_retry_delay", "2")
        .conf("proxy_authname", "murder")
        .conf("backend1_password", "secret")
        .conf("tls_server_cert", &cert)
        .conf("tls_server_key", &key)
        // Only the ports differ from a real deployment: where backend1 listens.
        .conf("backend1_imap", &format!("127.0.0.1:{b_imap}"))
        .conf("backend1_pop3", &format!("127.0.0.1:{b_pop3}"))
        .conf("backend1_lmtp", &format!("127.0.0.1:{b_lmtp}"))
        .user("alice", "alicepw")
        .write();
    let lmtp_socket = front_host.configdir().join("socket/lmtp");
    std::fs::create_dir_all(lmtp_socket.parent().unwrap()).unwrap();
    let front_conf = format!(
        "SERVICES {{\n\
         \x20 # mupdate database service - must prefork atleast 1\n\
         \x20 mupdate       cmd=\"/usr/cyrus/bin/mupdate\" listen={f_mupdate} prefork=1\n\n\
         \x20 imap          cmd=\"proxyd\" listen=\"{f_imap}\" prefork=5\n\
         \x20 imaps         cmd=\"proxyd -s\" listen=\"{f_imaps}\" prefork=1\n\
         \x20 pop3          cmd=\"pop3proxyd\" listen=\"{f_pop3}\" prefork=0\n\
         \x20 pop3s         cmd=\"pop3proxyd -s\" listen=\"{f_pop3s}\" prefork=0\n\
         \x20 kpop          cmd=\"pop3proxyd -k\" listen=\"{f_kpop}\" prefork=0\n\
         \x20 sieve         cmd=\"timsieved\" listen=\"{f_sieve}\" prefork=0\n\
         \x20 lmtp          cmd=\"lmtpproxyd\" listen=\"{}\" prefork=0\n}}\n",
        lmtp_socket.display()
    );
    let frontend = Master::start(&front_host, &front_conf);
    wait_banner(f_imap, "* OK", "proxyd", &frontend);
    wait_banner(f_pop3, "+OK", "pop3proxyd", &frontend);
    wait_banner(f_mupdate, "* AUTH", "the frontend's slave", &frontend);

    // "A local mailboxes database should automatically synchronize itself."
    assert!(
        wait_until(Duration::from_secs(20), || {
            db_server(&front_host.configdir(), "user.alice.Sent").as_deref() == Some("backend1")
        }),
        "the frontend did not sync; master log:\n{}",
        frontend.log()
    );
    // "Your clients should connect to the frontends."
    let imap_addr = format!("127.0.0.1:{f_imap}").parse().unwrap();
    let mut alice = Imap::login(imap_addr, "alice", "alicepw");
    let r = alice.ok("LIST \"\" \"*\"");
    assert!(r.iter().any(|l| l.ends_with(" INBOX.Sent")), "{r:?}");
    let r = lmtp_unix(&lmtp_socket, "alice");
    assert!(r.last().is_some_and(|l| l.starts_with("250")), "{r:?}");
    let r = alice.ok("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{r:?}");
    let r = alice.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(r.iter().any(|l| l.contains("Subject: seed")), "{r:?}");
    assert!(pop3_stat(f_pop3, "alice", "alicepw").starts_with("+OK 1 "));
    // The TLS-only lines answer too (imaps: a TLS handshake, not a plaintext banner).
    assert!(
        wait_until(Duration::from_secs(20), || TcpStream::connect((
            "127.0.0.1",
            f_imaps
        ))
        .is_ok()),
        "imaps did not listen; master log:\n{}",
        frontend.log()
    );

    // "You don't need to really backup the data on the mupdate master": wipe it, restart the
    // backend, and its START line (ctl_mboxlist -m) fills the master again.
    drop(master);
    let db_files: Vec<_> = std::fs::read_dir(master_host.configdir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("mailboxes"))
        })
        .collect();
    assert!(!db_files.is_empty(), "where is the master's mailboxes.db?");
    for p in db_files {
        if p.is_dir() {
            std::fs::remove_dir_all(p).unwrap();
        } else {
            std::fs::remove_file(p).unwrap();
        }
    }
    assert!(db_server(&master_host.configdir(), "user.alice").is_none());
    let master = Master::start(
        &master_host,
        &format!(
            "SERVICES {{\n  mupdate       cmd=\"/usr/cyrus/bin/mupdate -m\" listen={mupdate_port} prefork=1\n}}\n"
        ),
    );
    wait_banner(mupdate_port, "* AUTH", "the MUPDATE master", &master);
    backend.stop();
    let backend = Master::start(&backend_host, &backend_conf);
    wait_banner(b_imap, "* OK", "the backend's imapd", &backend);
    assert!(
        wait_until(Duration::from_secs(20), || {
            db_server(&master_host.configdir(), "user.alice.Sent").as_deref() == Some("backend1")
        }),
        "mupdatepush did not refill the master; backend master log:\n{}",
        backend.log()
    );
    // The frontend follows the refilled master, and serves alice again.
    let mut alice = Imap::login(imap_addr, "alice", "alicepw");
    assert!(
        wait_until(Duration::from_secs(20), || alice
            .cmd("SELECT INBOX.Sent")
            .is_ok()),
        "the frontend did not follow the refilled master"
    );
}
