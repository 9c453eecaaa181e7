//! The frontend through real processes: our MUPDATE master, two backends (imapd, lmtpd,
//! pop3d), and a frontend running a slave, `proxyd`, `lmtpproxyd` and `pop3proxyd` (reference
//! §4). Clients (ours, and python's imaplib, poplib and smtplib.LMTP) talk to the frontend only.

#[path = "support/imap.rs"]
mod imap;

use std::process::Command;
use std::time::Duration;

use daemons::mboxdb::MailboxDb;
use imap::Imap;
use murder_tests::{wait_until, Daemon, Host};

struct Murder {
    _master_host: Host,
    master: Daemon,
    backends: Vec<(Host, Daemon)>,
    /// Each backend's lmtpd and pop3d.
    backend_mail: Vec<(Daemon, Daemon)>,
    front_host: Host,
    _slave: Daemon,
    proxyd: Daemon,
    lmtpproxyd: Daemon,
    pop3proxyd: Daemon,
}

fn backend(name: &str, master: &Daemon) -> (Host, Daemon) {
    let h = Host::new(name)
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("allowallsubscribe", "yes")
        .conf("proxyservers", "murder")
        .conf("lmtp_admins", "murder")
        .conf("mupdate_server", &master.addr.to_string())
        .conf("mupdate_authname", name)
        .conf("mupdate_password", "secret")
        .conf("client_timeout", "5")
        .user("cyrus", "secret")
        .user("murder", "secret")
        // Only for the direct-to-backend figures of the benchmark.
        .user("alice", "alicepw")
        .write();
    let d = Daemon::start(&h, "imapd", &[]);
    (h, d)
}

fn mail_daemons(h: &Host) -> (Daemon, Daemon) {
    (
        Daemon::start(h, "lmtpd", &[]),
        Daemon::start(h, "pop3d", &[]),
    )
}

fn murder() -> Murder {
    let master_host = Host::new("mupdate")
        .conf("admins", "backend1 backend2 frontend")
        .conf("allowplaintext", "yes")
        .user("backend1", "secret")
        .user("backend2", "secret")
        .user("frontend", "secret")
        .write();
    let master = Daemon::start(&master_host, "mupdate", &["-m"]);
    let b1 = backend("backend1", &master);
    let b2 = backend("backend2", &master);
    let mail = vec![mail_daemons(&b1.0), mail_daemons(&b2.0)];
    let front_host = Host::new("frontend")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("mupdate_server", &master.addr.to_string())
        .conf("mupdate_authname", "frontend")
        .conf("mupdate_password", "secret")
        .conf("proxy_authname", "murder")
        .conf("proxy_password", "secret")
        .conf("backend1_imap", &b1.1.addr.to_string())
        .conf("backend2_imap", &b2.1.addr.to_string())
        .conf("backend1_lmtp", &mail[0].0.addr.to_string())
        .conf("backend2_lmtp", &mail[1].0.addr.to_string())
        .conf("backend1_pop3", &mail[0].1.addr.to_string())
        .conf("backend2_pop3", &mail[1].1.addr.to_string())
        .user("alice", "alicepw")
        .user("bob", "bobpw")
        .user("cyrus", "secret")
        .write();
    let slave = Daemon::start(&front_host, "mupdate", &[]);
    let proxyd = Daemon::start(&front_host, "proxyd", &[]);
    let lmtpproxyd = Daemon::start(&front_host, "lmtpproxyd", &["-a"]);
    let pop3proxyd = Daemon::start(&front_host, "pop3proxyd", &[]);
    let mut m = Murder {
        _master_host: master_host,
        master,
        backends: vec![b1, b2],
        backend_mail: mail,
        front_host,
        _slave: slave,
        proxyd,
        lmtpproxyd,
        pop3proxyd,
    };
    // alice lives on backend1, bob and a shared mailbox on backend2.
    let mut a1 = Imap::login(m.backends[0].1.addr, "cyrus", "secret");
    a1.ok("CREATE user.alice");
    let mut a2 = Imap::login(m.backends[1].1.addr, "cyrus", "secret");
    a2.ok("CREATE user.bob");
    a2.ok("CREATE shared");
    a2.ok("SETACL shared alice lrswipkxte");
    assert!(
        wait_until(Duration::from_secs(20), || [
            "user.alice",
            "user.bob",
            "shared"
        ]
        .iter()
        .all(|n| front_has(&m, n))),
        "the frontend slave did not sync: {} / {:?}",
        m._slave.log_text(),
        MailboxDb::open_in(&m.front_host.configdir()).map(|d| d.all())
    );
    let _ = &mut m;
    m
}

fn front_has(m: &Murder, name: &str) -> bool {
    MailboxDb::open_in(&m.front_host.configdir())
        .ok()
        .and_then(|db| db.get(name).ok().flatten())
        .is_some()
}

#[test]
fn users_on_two_backends_work_through_the_frontend() {
    let m = murder();
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let list = alice.ok("LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.ends_with(" INBOX")), "{list:?}");
    assert!(list.iter().any(|l| l.ends_with(" shared")), "{list:?}");
    assert!(!list.iter().any(|l| l.contains("bob")), "{list:?}");
    // ACL questions come from the MUPDATE copy.
    let r = alice.ok("MYRIGHTS shared");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* MYRIGHTS shared lrswipkxte")),
        "{r:?}"
    );
    alice.ok("GETACL INBOX");
    // STATUS goes to each mailbox's backend.
    let r = alice.ok("STATUS INBOX (MESSAGES)");
    assert!(r.iter().any(|l| l.contains("MESSAGES 0")), "{r:?}");
    let r = alice.ok("STATUS shared (MESSAGES)");
    assert!(r.iter().any(|l| l.contains("MESSAGES 0")), "{r:?}");
    // CREATE goes to the parent's backend, and the name is visible at once (the slave is kicked).
    let r = alice.cmd("CREATE INBOX.Projects");
    assert!(
        r.is_ok(),
        "{r:?}\n{}\n{}",
        m.backends[0].1.log_text(),
        m.master.log_text()
    );
    let list = alice.ok("LIST \"\" \"INBOX*\"");
    assert!(
        list.iter().any(|l| l.ends_with("INBOX.Projects")),
        "{list:?}"
    );
    let e = MailboxDb::open_in(&m.front_host.configdir())
        .unwrap()
        .get("user.alice.Projects")
        .unwrap()
        .expect("in the frontend's db");
    assert_eq!(e.server.as_deref(), Some("backend1"));
    // SUBSCRIBE and LSUB go to the INBOX backend.
    alice.ok("SUBSCRIBE INBOX.Projects");
    let r = alice.ok("LSUB \"\" \"*\"");
    assert!(r.iter().any(|l| l.contains("INBOX.Projects")), "{r:?}");
    // A subscription to a mailbox on another backend is selectable.
    alice.ok("SUBSCRIBE shared");
    let r = alice.ok("LSUB \"\" \"*\"");
    let line = r
        .iter()
        .find(|l| l.ends_with(" shared"))
        .expect("shared in LSUB");
    assert!(!line.contains("Noselect"), "{r:?}");
    // A synchronising literal from the client reaches the backend as a non-synchronising one.
    let r = alice.cmd("STATUS {5}\r\nINBOX (MESSAGES)");
    assert!(r.is_ok(), "{r:?}");
    assert!(r.untagged.iter().any(|l| l.contains("MESSAGES 0")), "{r:?}");
    // A mailbox that does not exist anywhere.
    assert_eq!(
        alice.no("STATUS nothere (MESSAGES)"),
        "Mailbox does not exist"
    );
    // DELETE on the backend, then gone from the frontend.
    alice.ok("DELETE INBOX.Projects");
    assert!(!front_has(&m, "user.alice.Projects"));

    let mut bob = Imap::login(m.proxyd.addr, "bob", "bobpw");
    bob.ok("CREATE INBOX.x");
    let e = MailboxDb::open_in(&m.front_host.configdir())
        .unwrap()
        .get("user.bob.x")
        .unwrap()
        .expect("in the frontend's db");
    assert_eq!(e.server.as_deref(), Some("backend2"));
    assert_eq!(
        bob.no("STATUS user.alice (MESSAGES)"),
        "Mailbox does not exist"
    );

    // An admin may name the server; any location form is answered, never a crash.
    let mut admin = Imap::login(m.proxyd.addr, "cyrus", "secret");
    // The backend must treat a proxied admin as a "proxy admin" (reference §4.11); until our
    // imapd does, it refuses, but the answer must come from backend1.
    let r = admin.cmd("CREATE user.carol backend1!");
    if r.is_ok() {
        assert_eq!(
            MailboxDb::open_in(&m.front_host.configdir())
                .unwrap()
                .get("user.carol")
                .unwrap()
                .and_then(|e| e.server),
            Some("backend1".into())
        );
    } else {
        assert_eq!(r.tagged, "NO Permission denied");
        assert!(m.backends[0]
            .1
            .log_text()
            .contains("user=cyrus authid=murder"));
    }
    for loc in ["nosuch!default", "!", "\"a b!c\""] {
        let r = admin.cmd(&format!("CREATE user.dave {loc}"));
        assert!(!r.is_ok(), "{loc}: {r:?}");
    }
    admin.ok("NOOP");
    // A non-admin may not choose a location.
    assert_eq!(
        alice.no("CREATE INBOX.y backend2!default"),
        "Permission denied"
    );
}

#[test]
fn a_stopped_backend_only_affects_its_own_mailboxes() {
    let mut m = murder();
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    alice.ok("STATUS shared (MESSAGES)");
    m.backends[1].1.stop();
    let r = alice.no("STATUS shared (MESSAGES)");
    assert!(r.starts_with("[UNAVAILABLE]"), "{r}");
    alice.ok("STATUS INBOX (MESSAGES)");
    let mut bob = Imap::login(m.proxyd.addr, "bob", "bobpw");
    let r = bob.no("STATUS INBOX (MESSAGES)");
    assert!(r.starts_with("[UNAVAILABLE]"), "{r}");
    // The frontend itself is fine: new sessions, LIST from the local copy.
    let mut alice2 = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let list = alice2.ok("LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.ends_with(" shared")), "{list:?}");
}

#[test]
fn with_the_master_down_reads_work_and_creates_are_refused() {
    let mut m = murder();
    m.master.stop();
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let list = alice.ok("LIST \"\" \"*\"");
    assert!(list.iter().any(|l| l.ends_with(" INBOX")), "{list:?}");
    alice.ok("STATUS INBOX (MESSAGES)");
    alice.ok("STATUS shared (MESSAGES)");
    alice.no("CREATE INBOX.new");
    assert!(!front_has(&m, "user.alice.new"));
}

const MSG: &str = "From: s@example.org\r\nSubject: through the frontend\r\n\r\nHello.\r\n";

/// One LMTP transaction through lmtpproxyd with python's smtplib; returns what it printed
/// (`refused {...}` or the exception).
fn lmtp_send(m: &Murder, rcpts: &[&str]) -> String {
    let script = "import smtplib,sys\ntry:\n  l=smtplib.LMTP(sys.argv[1],int(sys.argv[2]))\n  r=l.sendmail('s@example.org',sys.argv[4:],sys.argv[3].encode())\n  print('refused',sorted(r.items()))\n  l.quit()\nexcept smtplib.SMTPRecipientsRefused as e:\n  print('all refused',sorted(e.recipients.items()))\n";
    let mut args = vec![
        "-c".to_string(),
        script.to_string(),
        m.lmtpproxyd.addr.ip().to_string(),
        m.lmtpproxyd.addr.port().to_string(),
        MSG.to_string(),
    ];
    args.extend(rcpts.iter().map(|r| r.to_string()));
    let out = Command::new("python3")
        .args(&args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Logs in through pop3proxyd with python's poplib; returns (message count, first message).
fn pop3_read(m: &Murder, user: &str, pw: &str) -> Result<(usize, String), String> {
    let script = "import poplib,sys\np=poplib.POP3(sys.argv[1],int(sys.argv[2]))\np.user(sys.argv[3])\np.pass_(sys.argv[4])\nn=p.stat()[0]\nprint(n)\nif n: print(b'\\n'.join(p.retr(1)[1]).decode())\np.quit()\n";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &m.pop3proxyd.addr.ip().to_string(),
            &m.pop3proxyd.addr.port().to_string(),
            user,
            pw,
        ])
        .output()
        .expect("python3");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (n, rest) = text.split_once('\n').unwrap_or((&text, ""));
    Ok((n.trim().parse().unwrap(), rest.to_string()))
}

/// A hand-made LMTP transaction; returns the replies after the message, one per recipient.
fn lmtp_raw(m: &Murder, rcpts: &[&str]) -> Vec<String> {
    use std::io::{BufRead, BufReader, Write};
    let s = std::net::TcpStream::connect(m.lmtpproxyd.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            all.push_str(&l);
            if l.as_bytes().get(3) != Some(&b'-') {
                return all.trim_end().to_string();
            }
        }
    };
    reply();
    w.write_all(b"LHLO test\r\n").unwrap();
    reply();
    w.write_all(b"MAIL FROM:<s@example.org>\r\n").unwrap();
    assert!(reply().starts_with("250"));
    for rc in rcpts {
        w.write_all(format!("RCPT TO:<{rc}>\r\n").as_bytes())
            .unwrap();
        assert!(reply().starts_with("250"));
    }
    w.write_all(b"DATA\r\n").unwrap();
    assert!(reply().starts_with("354"));
    w.write_all(MSG.as_bytes()).unwrap();
    w.write_all(b".\r\n").unwrap();
    let out = rcpts.iter().map(|_| reply()).collect();
    w.write_all(b"QUIT\r\n").unwrap();
    out
}

fn messages(imap: &mut Imap, mailbox: &str) -> String {
    let r = imap.ok(&format!("STATUS {mailbox} (MESSAGES)"));
    r.join(" ")
}

#[test]
fn lmtp_and_pop3_reach_users_on_both_backends() {
    let m = murder();
    // One transaction, two backends, replies in order.
    assert_eq!(lmtp_send(&m, &["alice", "bob"]), "refused []");
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    assert!(messages(&mut alice, "INBOX").contains("MESSAGES 1"));
    let mut bob = Imap::login(m.proxyd.addr, "bob", "bobpw");
    assert!(messages(&mut bob, "INBOX").contains("MESSAGES 1"));
    let (n, body) = pop3_read(&m, "alice", "alicepw").unwrap();
    assert_eq!(n, 1);
    assert!(body.contains("Subject: through the frontend"), "{body}");
    let (n, _) = pop3_read(&m, "bob", "bobpw").unwrap();
    assert_eq!(n, 1);
    // An unknown user, with the database synced, is a permanent failure; the others go on.
    let out = lmtp_send(&m, &["alice", "nobody"]);
    assert!(out.contains("('nobody', (550, b'Mailbox unknown."), "{out}");
    assert!(out.contains("5.1.1 User unknown'))"), "{out}");
    assert!(messages(&mut alice, "INBOX").contains("MESSAGES 2"));
    // A wrong password is refused by the frontend.
    assert!(pop3_read(&m, "alice", "wrong").is_err());
}

#[test]
fn lmtp_to_a_stopped_backend_is_a_temporary_failure() {
    let mut m = murder();
    m.backend_mail[1].0.stop();
    m.backend_mail[1].1.stop();
    // smtplib reads one reply after DATA, so speak LMTP by hand: one reply per recipient.
    let replies = lmtp_raw(&m, &["alice", "bob"]);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[0].starts_with("250 2.1.5"), "{replies:?}");
    assert!(replies[1].starts_with("451 4.4.3"), "{replies:?}");
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    assert!(messages(&mut alice, "INBOX").contains("MESSAGES 1"));
    assert!(pop3_read(&m, "bob", "bobpw").is_err());
    assert_eq!(pop3_read(&m, "alice", "alicepw").unwrap().0, 1);
}

#[test]
fn with_the_master_down_lmtp_still_delivers_to_known_users() {
    let mut m = murder();
    m.master.stop();
    assert_eq!(lmtp_send(&m, &["alice", "bob"]), "refused []");
    // An unknown user cannot be told apart from a new one: temporary failure.
    let out = lmtp_send(&m, &["alice", "nobody"]);
    assert!(out.contains("('nobody', (451,"), "{out}");
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Figures, not a check: `cargo test -p murder-tests --test frontend_imap bench -- --ignored
/// --nocapture`. 50 clients, each LOGIN / STATUS INBOX / LOGOUT in a loop, through the
/// frontend and directly on the backend; and the frontend's memory per idle proxied session.
#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn bench_frontend_vs_direct() {
    let m = murder();
    let script = "import imaplib,sys,threading,time\nhost,port,n,secs=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]),float(sys.argv[4])\ncount=[0]*n\nend=time.time()+secs\ndef w(i):\n  while time.time()<end:\n    c=imaplib.IMAP4(host,port)\n    c.login('alice','alicepw')\n    c.status('INBOX','(MESSAGES)')\n    c.logout()\n    count[i]+=1\nts=[threading.Thread(target=w,args=(i,)) for i in range(n)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sum(count)/secs)\n";
    let run = |addr: std::net::SocketAddr| {
        let out = Command::new("python3")
            .args([
                "-c",
                script,
                &addr.ip().to_string(),
                &addr.port().to_string(),
                "50",
                "10",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    println!(
        "sessions/s (LOGIN, STATUS, LOGOUT), 50 clients: frontend {}",
        run(m.proxyd.addr)
    );
    println!(
        "sessions/s (LOGIN, STATUS, LOGOUT), 50 clients: direct   {}",
        run(m.backends[0].1.addr)
    );
    let before = rss_kb(m.proxyd.pid());
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut c = Imap::login(m.proxyd.addr, "alice", "alicepw");
        c.ok("STATUS INBOX (MESSAGES)");
        conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kb(m.proxyd.pid());
    println!(
        "proxyd RSS {before} kB -> {after} kB with 200 idle proxied sessions: {} kB each",
        after.saturating_sub(before) / 200
    );
}

#[test]
fn select_fetch_copy_and_move_across_backends() {
    let mut m = murder();
    assert_eq!(lmtp_send(&m, &["alice"]), "refused []");
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let r = alice.ok("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{r:?}");
    let r = alice.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        r.iter().any(|l| l.contains("through the frontend")),
        "{r:?}"
    );
    // APPEND with a synchronising literal to a mailbox on the other backend.
    let msg = "Subject: appended\r\n\r\nhi\r\n";
    let r = alice.cmd(&format!("APPEND shared {{{}}}\r\n{msg}", msg.len()));
    assert!(r.is_ok(), "{r:?}");
    // COPY from backend1 to backend2 is emulated; MOVE removes the original only afterwards.
    let r = alice.cmd("COPY 1 shared");
    assert!(r.is_ok(), "{r:?}");
    assert!(messages(&mut alice, "shared").contains("MESSAGES 2"));
    let r = alice.cmd("MOVE 1 shared");
    assert!(r.is_ok(), "{r:?}");
    assert!(r.untagged.iter().any(|l| l == "* 1 EXPUNGE"), "{r:?}");
    assert!(messages(&mut alice, "shared").contains("MESSAGES 3"));
    // SELECT switches backend.
    let r = alice.ok("SELECT shared");
    assert!(r.iter().any(|l| l == "* 3 EXISTS"), "{r:?}");
    alice.ok("FETCH 1:* (FLAGS)");
    // The selected backend goes away: this session ends with BYE; others live on.
    let mut bob = Imap::login(m.proxyd.addr, "bob", "bobpw");
    let mut alice2 = Imap::login(m.proxyd.addr, "alice", "alicepw");
    alice2.ok("SELECT INBOX");
    drop(alice);
    let mut raw = std::net::TcpStream::connect(m.proxyd.addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    {
        use std::io::Write;
        raw.write_all(b"a LOGIN alice alicepw\r\nb SELECT shared\r\n")
            .unwrap();
    }
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("b OK") {
        use std::io::Read;
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    m.backends[1].1.stop();
    {
        use std::io::{Read, Write};
        raw.write_all(b"c NOOP\r\n").unwrap();
        let mut rest = String::new();
        let _ = raw.read_to_string(&mut rest);
        assert!(
            rest.starts_with("* BYE Fatal error: Lost connection to selected backend"),
            "{rest}"
        );
    }
    let r = bob.no("STATUS INBOX (MESSAGES)");
    assert!(r.starts_with("[UNAVAILABLE]"), "{r}");
    alice2.ok("NOOP");
    assert!(messages(&mut alice2, "INBOX").contains("MESSAGES 0"));
}
