//! The frontend through real processes: our MUPDATE master, two backends (imapd, lmtpd,
//! pop3d), and a frontend running a slave, `proxyd`, `lmtpproxyd` and `pop3proxyd` (reference
//! §4). Clients (ours, and python's imaplib, poplib and smtplib.LMTP) talk to the frontend only.

#[path = "support/imap.rs"]
mod imap;
#[path = "support/murder.rs"]
mod murder;

use std::process::Command;
use std::time::Duration;

use daemons::mboxdb::MailboxDb;
use imap::Imap;
use murder::Murder;

fn murder() -> Murder {
    Murder::start()
}

fn front_has(m: &Murder, name: &str) -> bool {
    m.front_has(name)
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
