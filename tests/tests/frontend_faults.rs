//! Faults in a murder of our daemons, seen through the frontend, and convergence afterwards
//! (issue 5): a whole backend stops and comes back; the master stops and comes back; the
//! frontend's slave stops while backends change things, and catches up when it returns.
//! The single-fault checks (a stopped backend's mailboxes, LMTP to a stopped lmtpd, reads with
//! the master down) are in frontend_imap.rs; these add the whole fault-and-recovery cycle.

#[path = "support/imap.rs"]
mod imap;
#[path = "support/murder.rs"]
mod murder;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::time::Duration;

use imap::Imap;
use murder::{db_has, wait_synced, Murder};
use murder_tests::{wait_until, Daemon};

const MSG: &str = "From: s@example.org\r\nSubject: faults\r\n\r\nHello.\r\n";

/// One LMTP transaction to lmtpproxyd; the reply to each recipient (RCPT refusals included:
/// the recipient is then left out of DATA).
fn lmtp(addr: SocketAddr, rcpts: &[&str]) -> Vec<String> {
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
    let mut out = vec![String::new(); rcpts.len()];
    let mut accepted = Vec::new();
    for (i, rc) in rcpts.iter().enumerate() {
        w.write_all(format!("RCPT TO:<{rc}>\r\n").as_bytes())
            .unwrap();
        let r = reply();
        if r.starts_with("250") {
            accepted.push(i);
        } else {
            out[i] = r;
        }
    }
    if !accepted.is_empty() {
        w.write_all(b"DATA\r\n").unwrap();
        assert!(reply().starts_with("354"));
        w.write_all(MSG.as_bytes()).unwrap();
        w.write_all(b".\r\n").unwrap();
        for i in accepted {
            out[i] = reply();
        }
    }
    w.write_all(b"QUIT\r\n").unwrap();
    out
}

/// Logs in through pop3proxyd by hand; the reply to PASS.
fn pop3_pass(addr: SocketAddr, user: &str, pw: &str) -> String {
    let s = std::net::TcpStream::connect(addr).unwrap();
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
    assert!(line().starts_with("+OK"));
    w.write_all(format!("PASS {pw}\r\n").as_bytes()).unwrap();
    let l = line();
    let _ = w.write_all(b"QUIT\r\n");
    l
}

fn messages(c: &mut Imap, mailbox: &str) -> String {
    c.ok(&format!("STATUS {mailbox} (MESSAGES)")).join(" ")
}

#[test]
fn a_backend_stops_and_comes_back() {
    let mut m = Murder::start();
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    m.stop_backend(1);

    // alice (backend1) goes on as if nothing happened.
    let r = alice.cmd(&format!("APPEND INBOX {{{}}}\r\n{MSG}", MSG.len()));
    assert!(r.is_ok(), "{r:?}");
    alice.ok("SELECT INBOX");
    alice.ok("FETCH 1:* (FLAGS)");
    let mut alice2 = Imap::login(m.proxyd.addr, "alice", "alicepw");
    assert!(messages(&mut alice2, "INBOX").contains("MESSAGES 1"));
    // A mailbox of the stopped backend: a clean NO for alice, whose session lives on.
    let r = alice.no("STATUS shared (MESSAGES)");
    assert!(r.starts_with("[UNAVAILABLE]"), "{r}");
    alice.ok("NOOP");

    // bob logs in (the frontend checks the password) and gets a NO for his INBOX (a session
    // that had it selected gets BYE: frontend_imap.rs).
    let mut bob = Imap::login(m.proxyd.addr, "bob", "bobpw");
    let r = bob.no("SELECT INBOX");
    assert!(r.starts_with("[UNAVAILABLE]"), "{r}");
    // POP3 for bob is refused, alice's works.
    assert!(
        pop3_pass(m.pop3proxyd.addr, "bob", "bobpw").starts_with("-ERR"),
        "bob's POP3 login should fail"
    );
    assert!(pop3_pass(m.pop3proxyd.addr, "alice", "alicepw").starts_with("+OK"));
    // LMTP: bob temp-fails, alice is delivered, in the same transaction.
    let r = lmtp(m.lmtpproxyd.addr, &["alice", "bob"]);
    assert!(r[0].starts_with("250"), "{r:?}");
    assert!(r[1].starts_with("451 4.4.3"), "{r:?}");
    assert!(messages(&mut alice, "INBOX").contains("MESSAGES 2"));

    // Back again on the same addresses: everything works without restarting the frontend.
    m.restart_backend(1);
    assert!(
        wait_until(Duration::from_secs(10), || {
            bob.cmd("SELECT INBOX").is_ok()
        }),
        "bob's INBOX did not come back"
    );
    let r = lmtp(m.lmtpproxyd.addr, &["alice", "bob"]);
    assert!(r.iter().all(|l| l.starts_with("250")), "{r:?}");
    assert!(messages(&mut bob, "INBOX").contains("MESSAGES 1"));
    // The selected session learns of the delivery, then reads it.
    bob.ok("NOOP");
    let r = bob.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(r.iter().any(|l| l.contains("Subject: faults")), "{r:?}");
    assert!(pop3_pass(m.pop3proxyd.addr, "bob", "bobpw").starts_with("+OK"));
    alice.ok("STATUS shared (MESSAGES)");
    bob.ok("CREATE INBOX.after");
    assert!(m.front_has("user.bob.after"));
}

#[test]
fn the_master_stops_and_comes_back() {
    let mut m = Murder::start();
    m.master.stop();
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    alice.ok("SELECT INBOX");
    alice.ok("STATUS shared (MESSAGES)");
    // Creates are refused with a NO that says why; nothing is left behind.
    let r = alice.cmd("CREATE INBOX.new");
    assert!(r.tagged.starts_with("NO "), "{r:?}");
    assert!(r.tagged.len() > "NO ".len(), "{r:?}");
    assert!(!m.front_has("user.alice.new"));
    let mut direct = Imap::login(m.backends[0].1.addr, "cyrus", "secret");
    let r = direct.ok("LIST \"\" \"user.alice*\"");
    assert!(!r.iter().any(|l| l.contains("new")), "{r:?}");
    // Mail to known users is delivered.
    let r = lmtp(m.lmtpproxyd.addr, &["alice", "bob"]);
    assert!(r.iter().all(|l| l.starts_with("250")), "{r:?}");

    // The master comes back on its address: the slave reconnects by itself, creates work
    // again, through the frontend and directly on a backend, and reach the frontend.
    m.restart_master();
    assert!(
        wait_until(Duration::from_secs(20), || {
            alice.cmd("CREATE INBOX.new").is_ok()
        }),
        "creates stay refused after the master came back:\n{}",
        m.backends[0].1.log_text()
    );
    assert!(wait_synced(&m.front_host, &["user.alice.new"], "backend1"));
    let mut direct2 = Imap::login(m.backends[1].1.addr, "cyrus", "secret");
    direct2.ok("CREATE user.bob.direct");
    assert!(
        wait_synced(&m.front_host, &["user.bob.direct"], "backend2"),
        "the slave did not follow the master again: {}",
        m.slave.log_text()
    );
    let mut bob = Imap::login(m.proxyd.addr, "bob", "bobpw");
    bob.ok("SELECT INBOX.direct");
}

#[test]
fn the_frontend_slave_catches_up_after_a_restart() {
    let mut m = Murder::start();
    m.slave.stop();
    // Changes made at the backends while the frontend's slave is away.
    let mut b1 = Imap::login(m.backends[0].1.addr, "cyrus", "secret");
    b1.ok("CREATE user.alice.while");
    let mut b2 = Imap::login(m.backends[1].1.addr, "cyrus", "secret");
    b2.ok("CREATE user.carol");
    b2.ok("SETACL shared cyrus x");
    b2.ok("DELETE shared");
    // Meanwhile the frontend serves what it knew.
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    alice.ok("SELECT INBOX");
    assert!(!m.front_has("user.alice.while"));
    // Back: a full resync brings the frontend's copy in line with the master.
    m.slave = Daemon::start(&m.front_host, "mupdate", &[]);
    assert!(wait_synced(
        &m.front_host,
        &["user.alice.while"],
        "backend1"
    ));
    assert!(wait_synced(&m.front_host, &["user.carol"], "backend2"));
    assert!(wait_until(Duration::from_secs(20), || !db_has(
        &m.front_host,
        "shared"
    )));
    alice.ok("SELECT INBOX.while");
    let r = alice.ok("LIST \"\" \"*\"");
    assert!(!r.iter().any(|l| l.ends_with(" shared")), "{r:?}");
}
