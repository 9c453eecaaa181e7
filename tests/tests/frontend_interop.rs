//! Our frontend with real Cyrus 3.6 parts (Debian's packages):
//!
//! * a real Cyrus backend joins our murder (our master, one of our backends, our frontend):
//!   mailboxes on both are created, listed, read, appended to and delivered to through our
//!   frontend, and a user moves between the two backends;
//! * the real `cyradm` administers our murder through our frontend.
//!
//! The Cyrus tests skip (with a message) unless Cyrus is installed and the tests run as root;
//! see [`murder_tests::cyrus`].

#[path = "support/imap.rs"]
mod imap;
#[path = "support/murder.rs"]
mod murder;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use imap::Imap;
use murder::{db_server, wait_synced, Murder};
use murder_tests::cyrus::{self, CyrusInstance};
use murder_tests::Daemon;

const MSG: &str = "From: s@example.org\r\nSubject: interop\r\n\r\nHello.\r\n";

/// Runs the real `cyradm` as `cyrus` against `port` with `script` on stdin and returns what
/// each command printed (stdout and stderr together), one entry per script line.
fn cyradm(port: u16, script: &str) -> Vec<String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec cyradm --user cyrus -w secret --auth PLAIN --notls --port {port} 127.0.0.1 2>&1"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cyradm");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // cyradm prints its prompt before reading each line: the output of line i follows
    // prompt i.
    let mut parts: Vec<String> = text
        .split("127.0.0.1> ")
        .skip(1)
        .map(str::to_owned)
        .collect();
    parts.truncate(script.lines().count());
    assert_eq!(
        parts.len(),
        script.lines().count(),
        "cyradm printed {text:?}"
    );
    parts
}

fn cyradm_missing(test: &str) -> bool {
    if Path::new("/usr/bin/cyradm").exists() {
        return false;
    }
    eprintln!("SKIPPED {test}: /usr/bin/cyradm is not installed");
    true
}

#[test]
fn cyradm_administers_our_murder_through_our_frontend() {
    if cyradm_missing("cyradm_administers_our_murder_through_our_frontend") {
        return;
    }
    let m = Murder::start();
    let port = m.proxyd.addr.port();
    let script = "\
cm user.carol backend1!default
cm user.carol.Sent
cm user.dave backend2!default
lm user.*
sam user.carol bob lrs
lam user.carol
dam user.carol bob
lam user.carol
sq user.carol 10240
lq user.carol
lqr user.carol
info user.carol
cm user.erin nosuch!default
";
    let out = cyradm(port, script);
    let expect = [
        "",
        "",
        "",
        // Column layout as cyradm prints for Cyrus (transcript 01).
        "",
        "",
        "bob lrs\ncarol lrswipkxtecdan\n",
        "",
        "carol lrswipkxtecdan\n",
        "quota:10240\n",
        " STORAGE 0/10240 (0%)\n",
        "user.carol STORAGE 0/10240 (0%)\n",
        "{user.carol}:\n  shared:\n    server: backend1\n",
        "",
    ];
    for (i, line) in script.lines().enumerate() {
        if i == 3 {
            // `lm`: every mailbox with its attributes, in columns.
            for (name, attr) in [
                ("user.alice", "\\HasNoChildren"),
                ("user.bob", "\\HasNoChildren"),
                ("user.carol", "\\HasChildren"),
                ("user.carol.Sent", "\\HasNoChildren"),
                ("user.dave", "\\HasNoChildren"),
            ] {
                assert!(
                    out[i].contains(&format!("{name} ({attr})")),
                    "{line}: {:?}",
                    out[i]
                );
            }
            continue;
        }
        if i == 5 || i == 7 {
            // `lam`: cyradm prints the pairs in its hash's order.
            let mut got: Vec<&str> = out[i].lines().collect();
            let mut want: Vec<&str> = expect[i].lines().collect();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{line}");
            continue;
        }
        if i == 11 {
            // `info`: a Cyrus frontend shows the server; our backends add their own entries.
            assert!(
                out[i].starts_with("{user.carol}:\n"),
                "{line}: {:?}",
                out[i]
            );
            assert!(out[i].contains("  shared:\n"), "{line}: {:?}", out[i]);
            assert!(
                out[i].contains("    server: backend1\n"),
                "{line}: {:?}",
                out[i]
            );
            continue;
        }
        if i == 12 {
            // A server nobody knows: cyradm reports the frontend's NO.
            assert!(
                out[i].starts_with("createmailbox: "),
                "{line}: {:?}",
                out[i]
            );
            continue;
        }
        assert_eq!(out[i], expect[i], "{line}");
    }
    assert_eq!(
        db_server(&m.front_host, "user.carol.Sent").as_deref(),
        Some("backend1")
    );
    assert_eq!(
        db_server(&m.front_host, "user.dave").as_deref(),
        Some("backend2")
    );

    // Moving a user between our backends, in the seed's form and in Cyrus 3's; cyradm prints
    // nothing for a successful rename.
    let mut direct = Imap::login(m.backends[0].1.addr, "cyrus", "secret");
    direct.ok("SETACL user.carol cyrus lrswipkxtea");
    let r = direct.cmd(&format!("APPEND user.carol {{{}}}\r\n{MSG}", MSG.len()));
    assert!(r.is_ok(), "{r:?}");
    let out = cyradm(
        port,
        "rename user.carol user.carol!backend2\ninfo user.carol\n",
    );
    assert_eq!(out[0], "", "{}", m.logs());
    assert!(out[1].contains("    server: backend2\n"), "{:?}", out[1]);
    assert!(wait_synced(
        &m.front_host,
        &["user.carol", "user.carol.Sent"],
        "backend2"
    ));
    let out = cyradm(
        port,
        "rename user.carol user.carol backend1!default\ninfo user.carol\nlq user.carol\n",
    );
    assert_eq!(out[0], "", "{}", m.logs());
    assert!(out[1].contains("    server: backend1\n"), "{:?}", out[1]);
    // The quota root came along (usage is in KiB: the small message counts 0).
    assert_eq!(out[2], " STORAGE 0/10240 (0%)\n");
    assert!(wait_synced(
        &m.front_host,
        &["user.carol", "user.carol.Sent"],
        "backend1"
    ));
    // The message came along both ways.
    let mut admin = Imap::login(m.proxyd.addr, "cyrus", "secret");
    let r = admin.ok("STATUS user.carol (MESSAGES)");
    assert!(r.iter().any(|l| l.contains("MESSAGES 1")), "{r:?}");

    // Deleting a user: the admin needs the `x` right on it, as on Cyrus.
    let out = cyradm(port, "sam user.dave cyrus x\ndm user.dave\nlm user.d*\n");
    // An empty `lm` prints nothing, as against Cyrus.
    assert_eq!(out, ["", "", ""]);
    assert!(db_server(&m.front_host, "user.dave").is_none());
}

/// A real Cyrus backend `cyrusbe` in a murder of our master, our `backend1` and our frontend.
struct Mixed {
    _master_host: murder_tests::Host,
    _master: Daemon,
    _b1_host: murder_tests::Host,
    b1: (Daemon, Daemon, Daemon),
    cy: CyrusInstance,
    front_host: murder_tests::Host,
    _front: (Daemon, Daemon, Daemon, Daemon),
    proxyd: std::net::SocketAddr,
    lmtpproxyd: std::net::SocketAddr,
}

fn mixed() -> Mixed {
    let master_host = murder::master_host(&["backend1", "cyrusbe", "frontend"]);
    let master = murder::start_master(&master_host, "127.0.0.1:0");
    let cy = CyrusInstance::builder("cyrusbe")
        .conf("admins", "cyrus backend1 cyrusbe")
        .conf("proxyservers", "murder")
        .conf("lmtp_admins", "murder")
        .conf("allowusermoves", "yes")
        .conf("mupdate_server", &master.addr.to_string())
        .conf("mupdate_authname", "cyrusbe")
        .conf("mupdate_username", "cyrusbe")
        .conf("mupdate_password", "secret")
        .conf("proxy_authname", "cyrusbe")
        .conf("proxy_password", "secret")
        .conf("backend1_password", "secret")
        .user("cyrus", "secret")
        .user("murder", "secret")
        .user("cyrusbe", "secret")
        .user("backend1", "secret")
        .service("imap", "imapd")
        .service("lmtp", "lmtpd")
        .start();
    let b1_routes = vec![(
        "cyrusbe_imap".to_string(),
        format!("127.0.0.1:{}", cy.port("imap")),
    )];
    let b1_host = murder::backend_host("backend1", master.addr, &b1_routes);
    let b1 = murder::start_backend(&b1_host);
    let routes = vec![
        ("backend1_imap".to_string(), b1.0.addr.to_string()),
        ("backend1_lmtp".to_string(), b1.1.addr.to_string()),
        ("backend1_pop3".to_string(), b1.2.addr.to_string()),
        (
            "cyrusbe_imap".to_string(),
            format!("127.0.0.1:{}", cy.port("imap")),
        ),
        (
            "cyrusbe_lmtp".to_string(),
            format!("127.0.0.1:{}", cy.port("lmtp")),
        ),
    ];
    let front_host = murder::frontend_host(master.addr, &routes);
    let front = murder::start_frontend(&front_host);
    // The frontend's slave is in step with the master before the test starts.
    let mut direct = Imap::login(b1.0.addr, "cyrus", "secret");
    direct.ok("CREATE ready");
    assert!(
        wait_synced(&front_host, &["ready"], "backend1"),
        "{}",
        front.0.log_text()
    );
    Mixed {
        proxyd: front.1.addr,
        lmtpproxyd: front.2.addr,
        _master_host: master_host,
        _master: master,
        _b1_host: b1_host,
        b1,
        cy,
        front_host,
        _front: front,
    }
}

/// One LMTP transaction by hand to lmtpproxyd (AUTH as cyrus, which the frontend trusts);
/// returns the reply to each recipient after the message.
fn lmtp(addr: std::net::SocketAddr, rcpts: &[&str]) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    let s = std::net::TcpStream::connect(addr).unwrap();
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
        let r = reply();
        assert!(r.starts_with("250"), "{rc}: {r}");
    }
    w.write_all(b"DATA\r\n").unwrap();
    assert!(reply().starts_with("354"));
    w.write_all(MSG.as_bytes()).unwrap();
    w.write_all(b".\r\n").unwrap();
    let out = rcpts.iter().map(|_| reply()).collect();
    w.write_all(b"QUIT\r\n").unwrap();
    out
}

#[test]
fn a_cyrus_backend_joins_our_murder() {
    if let Some(why) = cyrus::unavailable() {
        eprintln!("SKIPPED a_cyrus_backend_joins_our_murder: {why}");
        return;
    }
    let m = mixed();
    let mut admin = Imap::login(m.proxyd, "cyrus", "secret");
    // CREATE on each backend, by location: Cyrus pushes its mailbox to our master, our
    // slave brings it to the frontend.
    admin.ok("CREATE user.bob cyrusbe!default");
    let r = admin.cmd("CREATE user.bob.Work");
    assert!(
        r.is_ok(),
        "{r:?}\nproxyd: {}\nCyrus: {}",
        m._front.1.log_text(),
        m.cy.log_text()
    );
    admin.ok("CREATE user.alice backend1!default");
    assert!(
        wait_synced(&m.front_host, &["user.bob", "user.bob.Work"], "cyrusbe"),
        "{}",
        m.cy.log_text()
    );
    assert!(wait_synced(&m.front_host, &["user.alice"], "backend1"));
    assert!(m.cy.mailbox_names().contains(&"user.bob.Work".to_string()));
    let list = admin.ok("LIST \"\" \"user.*\"");
    for n in ["user.alice", "user.bob", "user.bob.Work"] {
        assert!(
            list.iter().any(|l| l.ends_with(&format!(" {n}"))),
            "{list:?}"
        );
    }

    // Users on either backend read and write through the frontend.
    for (user, pw) in [("alice", "alicepw"), ("bob", "bobpw")] {
        let mut c = Imap::login(m.proxyd, user, pw);
        let r = c.cmd(&format!("APPEND INBOX {{{}}}\r\n{MSG}", MSG.len()));
        assert!(r.is_ok(), "{user}: {r:?}");
        let r = c.ok("SELECT INBOX");
        assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{user}: {r:?}");
        let r = c.ok("FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
        assert!(r.iter().any(|l| l.contains("Subject: interop")), "{r:?}");
        let list = c.ok("LIST \"\" \"*\"");
        assert!(list.iter().any(|l| l.ends_with(" INBOX")), "{list:?}");
    }
    // bob's sub-mailbox on Cyrus, selected after his INBOX: the same backend connection.
    let mut bob = Imap::login(m.proxyd, "bob", "bobpw");
    bob.ok("SELECT INBOX.Work");
    bob.ok("SELECT INBOX");
    let r = bob.cmd("COPY 1 INBOX.Work");
    assert!(r.is_ok(), "{r:?}");

    // LMTP through our lmtpproxyd to both backends in one transaction.
    let replies = lmtp(m.lmtpproxyd, &["alice", "bob"]);
    assert!(replies[0].starts_with("250"), "{replies:?}");
    assert!(replies[1].starts_with("250"), "{replies:?}");
    // (A Cyrus admin has no implicit read right: the owners look.)
    for (user, pw) in [("alice", "alicepw"), ("bob", "bobpw")] {
        let mut c = Imap::login(m.proxyd, user, pw);
        let r = c.ok("STATUS INBOX (MESSAGES)");
        assert!(r.iter().any(|l| l.contains("MESSAGES 2")), "{user}: {r:?}");
    }

    // A cross-backend move, our backend to Cyrus: the frontend sends XFER to our backend,
    // which moves alice over plain IMAP (Cyrus does not speak our XFERIMPORT) and has Cyrus
    // take the mailboxes over at the master with MUPDATEPUSH. (Cyrus to ours cannot work:
    // Cyrus's XFER speaks its replication protocol, SYNCAPPLY, and reaches the destination by
    // its server name on port 143.)
    let r = admin.cmd("RENAME user.alice user.alice cyrusbe!default");
    assert!(
        r.is_ok(),
        "{r:?}\nbackend1: {}\nCyrus: {}",
        m.b1.0.log_text(),
        m.cy.log_text()
    );
    assert!(r.untagged.iter().any(|l| l == "* OK USER alice"), "{r:?}");
    assert!(wait_synced(&m.front_host, &["user.alice"], "cyrusbe"));
    assert!(m.cy.mailbox_names().contains(&"user.alice".to_string()));
    let mut alice = Imap::login(m.proxyd, "alice", "alicepw");
    let r = alice.ok("STATUS INBOX (MESSAGES)");
    assert!(r.iter().any(|l| l.contains("MESSAGES 2")), "{r:?}");
    let r = alice.ok("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 2 EXISTS"), "{r:?}");
    let r = alice.ok("FETCH 1:2 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(r.iter().any(|l| l.contains("Subject: interop")), "{r:?}");
    // The local copy is gone from our backend.
    let mut direct = Imap::login(m.b1.0.addr, "cyrus", "secret");
    let r = direct.ok("LIST \"\" \"user.alice*\"");
    assert!(r.is_empty(), "{r:?}");
}
