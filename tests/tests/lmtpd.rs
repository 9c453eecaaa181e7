//! lmtpd as a process: Cyrus's LHLO and replies, AUTH on TCP and the pre-authenticated UNIX
//! socket, per-recipient results, quota, `+detail`, durability under `kill -9`, python's
//! smtplib.LMTP and Cyrus's lmtptest as clients.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daemons::mboxdb::{MailboxDb, MailboxEntry};
use daemons::store::{MailboxId, QuotaLimits, Store};
use murder_tests::{Daemon, Host};

const MSG: &[u8] = b"From: Sender <sender@example.org>\r\nTo: alice@example.org\r\nSubject: lmtp test\r\nMessage-ID: <t1@example.org>\r\n\r\nHello.\r\n.a line starting with a dot\r\n";

fn backend() -> Host {
    Host::new("be1")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("sasl_mech_list", "PLAIN LOGIN")
        .user("cyrus", "secret")
        .user("alice", "alicepw")
        .write()
}

fn open(host: &Host) -> (Store, MailboxDb) {
    let parts = BTreeMap::from([("default".to_string(), host.path("spool"))]);
    (
        Store::open(&host.configdir(), parts).unwrap(),
        MailboxDb::open_in(&host.configdir()).unwrap(),
    )
}

/// Creates a local mailbox (mailboxes.db entry and store) with `acl` (TAB form).
fn create(host: &Host, name: &str, acl: &str) -> MailboxId {
    let (store, db) = open(host);
    let id = MailboxId::generate();
    let st = store.create_mailbox(&id, "default").unwrap();
    db.put(&MailboxEntry {
        name: name.into(),
        partition: "default".into(),
        acl: acl.into(),
        uniqueid: id.as_str().into(),
        uidvalidity: st.uidvalidity,
        ..MailboxEntry::default()
    })
    .unwrap();
    id
}

fn user(host: &Host, u: &str) -> MailboxId {
    create(
        host,
        &format!("user.{u}"),
        &format!("{u}\tlrswipkxtecdan\t"),
    )
}

/// A raw LMTP client reading whole replies.
struct Client {
    r: BufReader<Box<dyn Read + Send>>,
    w: Box<dyn Write + Send>,
}

impl Client {
    fn tcp(addr: std::net::SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client {
            r: BufReader::new(Box::new(s.try_clone().unwrap())),
            w: Box::new(s),
        }
    }
    fn unix(path: &PathBuf) -> Client {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client {
            r: BufReader::new(Box::new(s.try_clone().unwrap())),
            w: Box::new(s),
        }
    }
    /// One reply's lines (with CRLF removed); empty at EOF.
    fn reply(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).unwrap_or(0) == 0 {
                return lines;
            }
            let l = l.trim_end_matches(['\r', '\n']).to_string();
            let last = l.as_bytes().get(3) != Some(&b'-');
            lines.push(l);
            if last {
                return lines;
            }
        }
    }
    fn cmd(&mut self, line: &str) -> Vec<String> {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }
    fn one(&mut self, line: &str) -> String {
        self.cmd(line).join("\n")
    }
    /// Sends the message after a 354.
    fn data(&mut self, msg: &[u8]) {
        let mut out = Vec::new();
        protocol::lmtp::dot_stuff(msg, &mut out);
        self.w.write_all(&out).unwrap();
    }
    fn auth_admin(&mut self) {
        // base64("\0cyrus\0secret"), as in transcript 05b.
        assert_eq!(
            self.one("AUTH PLAIN AGN5cnVzAHNlY3JldA=="),
            "235 Authenticated!"
        );
    }
}

fn greeting_ok(c: &mut Client) {
    let g = c.reply().join("\n");
    assert!(g.starts_with("220 be1 Cyrus LMTP 3.6.1"), "{g}");
    assert!(g.ends_with(" server ready"), "{g}");
}

#[test]
fn lhlo_auth_and_per_recipient_replies_over_tcp() {
    let host = backend();
    let alice = user(&host, "alice");
    let bob = user(&host, "bob");
    let d = Daemon::start(&host, "lmtpd", &[]);
    let mut c = Client::tcp(d.addr);
    greeting_ok(&mut c);
    let lhlo = c.cmd("LHLO mx.example.org");
    let sid = lhlo.last().unwrap().clone();
    assert_eq!(
        lhlo[..lhlo.len() - 1],
        [
            "250-be1",
            "250-8BITMIME",
            "250-ENHANCEDSTATUSCODES",
            "250-PIPELINING",
            "250-SIZE",
            "250-AUTH PLAIN LOGIN",
            "250-IGNOREQUOTA",
        ]
    );
    assert!(sid.starts_with("250 Ok SESSIONID=<cyrus-be1-"), "{sid}");
    // TCP needs AUTH first (transcript 05b).
    assert_eq!(
        c.one("MAIL FROM:<x@example.org> SIZE=23"),
        "430 Authentication required"
    );
    assert!(c.one("RSET").starts_with("250 2.0.0 Ok SESSIONID=<"));
    // base64("\0cyrus\0wrong")
    assert!(c.one("AUTH PLAIN AGN5cnVzAHdyb25n").starts_with("535 "));
    c.auth_admin();
    assert_eq!(c.one("MAIL FROM:<sender@example.org>"), "250 2.1.0 ok");
    assert_eq!(c.one("RCPT TO:<alice>"), "250 2.1.5 ok");
    assert_eq!(c.one("RCPT TO:<Bob@example.org>"), "250 2.1.5 ok");
    assert_eq!(
        c.cmd("RCPT TO:<nosuchuser>"),
        [
            "550-Mailbox unknown.  Either there is no mailbox associated with this",
            "550-name or you do not have authorization to see it.",
            "550 5.1.1 User unknown",
        ]
    );
    assert_eq!(c.one("DATA"), "354 go ahead");
    c.data(MSG);
    let r1 = c.one_reply();
    let r2 = c.one_reply();
    assert!(
        r1.starts_with("250 2.1.5 Success SESSIONID=<cyrus-be1-"),
        "{r1}"
    );
    assert_eq!(r1, r2);
    assert_eq!(c.one("QUIT"), "221 2.0.0 bye");

    let (store, _) = open(&host);
    let a = store.read_message(&alice, 1).unwrap();
    let b = store.read_message(&bob, 1).unwrap();
    assert_eq!(a, b);
    assert!(a.ends_with(MSG), "{}", String::from_utf8_lossy(&a));
    let head = String::from_utf8_lossy(&a[..a.len() - MSG.len()]).into_owned();
    assert!(head.starts_with("Return-Path: <sender@example.org>\r\nReceived: from mx.example.org ([127.0.0.1])\r\n\t by be1 (Cyrus 3.6.1"), "{head}");
    assert!(head.contains(" with LMTPA;\r\n\t "), "{head}");
    assert!(
        head.contains("\r\nX-Cyrus-Session-Id: cyrus-be1-"),
        "{head}"
    );
}

impl Client {
    fn one_reply(&mut self) -> String {
        self.reply().join("\n")
    }
}

#[test]
fn unix_socket_is_preauthenticated_and_python_smtplib_delivers() {
    let host = backend();
    let alice = user(&host, "alice");
    let sock = host.path("lmtp.sock");
    let d = Daemon::start(&host, "lmtpd", &["--listen-unix", sock.to_str().unwrap()]);
    let _ = d.addr;
    let mut c = Client::unix(&sock);
    greeting_ok(&mut c);
    let lhlo = c.cmd("LHLO harness.local");
    assert_eq!(lhlo[5], "250-AUTH EXTERNAL");
    assert_eq!(c.one("MAIL FROM:<>"), "250 2.1.0 ok");
    assert_eq!(c.one("RCPT TO:<alice>"), "250 2.1.5 ok");
    assert_eq!(c.one("DATA"), "354 go ahead");
    c.data(MSG);
    assert!(c.one_reply().starts_with("250 2.1.5 Success"));
    c.one("QUIT");

    // python3's smtplib.LMTP speaks to the UNIX socket.
    let msgfile = host.path("msg.eml");
    std::fs::write(&msgfile, MSG).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import smtplib,sys\nl=smtplib.LMTP(sys.argv[1])\nr=l.sendmail('s@example.org',['alice'],open(sys.argv[2],'rb').read())\nprint('refused',r)\nl.quit()",
            sock.to_str().unwrap(),
            msgfile.to_str().unwrap(),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "refused {}");
    let (store, _) = open(&host);
    let recs = store.records(&alice).unwrap();
    assert_eq!(recs.len(), 2);
    let m1 = store.read_message(&alice, 1).unwrap();
    let m2 = store.read_message(&alice, 2).unwrap();
    assert!(m1.starts_with(b"Return-Path: <>\r\nReceived: from harness.local ([unix socket])\r\n"));
    assert!(m1.ends_with(MSG) && m2.ends_with(MSG));
}

#[test]
fn over_quota_ignorequota_and_detail_folders() {
    let host = backend();
    let alice = user(&host, "alice");
    let bob = user(&host, "bob");
    let drafts = create(&host, "user.bob.Drafts", "bob\tlrswipkxtecdan\tanyone\tp\t");
    let private = create(&host, "user.bob.Private", "bob\tlrswipkxtecdan\t");
    {
        let (store, _) = open(&host);
        store
            .set_quota(
                "user.alice",
                QuotaLimits {
                    storage_kib: Some(1),
                    ..QuotaLimits::default()
                },
            )
            .unwrap();
        store
            .set_mailbox_quota_root(&alice, Some("user.alice"))
            .unwrap();
    }
    let d = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Client::tcp(d.addr);
    greeting_ok(&mut c);
    c.cmd("LHLO x");
    let big = [MSG, &vec![b'x'; 2000][..], b"\r\n"].concat();
    // Not full yet: one message may go over (Cyrus without lmtp_strict_quota).
    assert_eq!(c.one("MAIL FROM:<s@example.org>"), "250 2.1.0 ok");
    assert_eq!(c.one("RCPT TO:<alice>"), "250 2.1.5 ok");
    assert_eq!(c.one("RCPT TO:<bob+Drafts>"), "250 2.1.5 ok");
    assert_eq!(c.one("RCPT TO:<bob+Private>"), "250 2.1.5 ok");
    assert_eq!(c.one("RCPT TO:<bob+NoSuch>"), "250 2.1.5 ok");
    assert_eq!(c.one("DATA"), "354 go ahead");
    c.data(&big);
    for _ in 0..4 {
        assert!(c.one_reply().starts_with("250 2.1.5 Success"));
    }
    // Now full.
    assert_eq!(c.one("MAIL FROM:<s@example.org>"), "250 2.1.0 ok");
    assert_eq!(c.one("RCPT TO:<alice>"), "452 4.2.2 Over quota");
    assert_eq!(c.one("RCPT TO:<alice> IGNOREQUOTA"), "250 2.1.5 ok");
    assert_eq!(c.one("DATA"), "354 go ahead");
    c.data(MSG);
    assert!(c.one_reply().starts_with("250 2.1.5 Success"));
    c.one("QUIT");

    let (store, _) = open(&host);
    assert_eq!(store.records(&alice).unwrap().len(), 2);
    assert_eq!(store.records(&drafts).unwrap().len(), 1);
    assert_eq!(store.records(&private).unwrap().len(), 0);
    // bob+Private (no `p` for anyone) and bob+NoSuch went to the INBOX, once.
    assert_eq!(store.records(&bob).unwrap().len(), 1);
}

#[test]
fn strict_quota_and_perm_failure_options() {
    let host = Host::new("be1")
        .conf("lmtp_strict_quota", "yes")
        .conf("lmtp_over_quota_perm_failure", "yes")
        .write();
    let alice = user(&host, "alice");
    {
        let (store, _) = open(&host);
        store
            .set_quota(
                "user.alice",
                QuotaLimits {
                    storage_kib: Some(1),
                    ..QuotaLimits::default()
                },
            )
            .unwrap();
        store
            .set_mailbox_quota_root(&alice, Some("user.alice"))
            .unwrap();
    }
    let d = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Client::tcp(d.addr);
    greeting_ok(&mut c);
    c.cmd("LHLO x");
    assert_eq!(c.one("MAIL FROM:<s@example.org> SIZE=5000"), "250 2.1.0 ok");
    assert_eq!(c.one("RCPT TO:<alice>"), "552 5.2.2 Over quota");
    c.one("RSET");
    assert_eq!(c.one("MAIL FROM:<s@example.org>"), "250 2.1.0 ok");
    assert_eq!(c.one("RCPT TO:<alice>"), "250 2.1.5 ok");
    assert_eq!(c.one("DATA"), "354 go ahead");
    c.data(&[MSG, &vec![b'x'; 2000][..], b"\r\n"].concat());
    assert_eq!(c.one_reply(), "552 5.2.2 Over quota");
    let (store, _) = open(&host);
    assert!(store.records(&alice).unwrap().is_empty());
}

#[test]
fn kill_9_during_deliveries_loses_nothing_acknowledged() {
    let host = backend();
    let alice = user(&host, "alice");
    let mut d = Daemon::start(&host, "lmtpd", &["-a"]);
    let addr = d.addr;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let acked = acked.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut c = Client::tcp(addr);
                c.reply();
                c.cmd("LHLO x");
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mid = format!("<k{t}-{i}@example.org>");
                    let msg = format!("Message-ID: {mid}\r\nSubject: k\r\n\r\nbody {i}\r\n");
                    if c.one("MAIL FROM:<s@example.org>") != "250 2.1.0 ok"
                        || c.one("RCPT TO:<alice>") != "250 2.1.5 ok"
                        || c.one("DATA") != "354 go ahead"
                    {
                        break;
                    }
                    if c.w.write_all(msg.as_bytes()).is_err() || c.w.write_all(b".\r\n").is_err() {
                        break;
                    }
                    if c.one_reply().starts_with("250 2.1.5 Success") {
                        acked.lock().unwrap().push(mid);
                    } else {
                        break;
                    }
                }
            })
        })
        .collect();
    // Let some deliveries complete, then kill in the middle of others.
    assert!(murder_tests::wait_until(Duration::from_secs(20), || acked
        .lock()
        .unwrap()
        .len()
        >= 20));
    d.kill9();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let (store, _) = open(&host);
    let mut stored = Vec::new();
    for r in store.records(&alice).unwrap() {
        stored.push(
            String::from_utf8_lossy(&store.read_message(&alice, r.uid).unwrap()).into_owned(),
        );
    }
    for mid in &acked {
        assert!(
            stored
                .iter()
                .any(|m| m.contains(&format!("Message-ID: {mid}\r\n"))),
            "{mid} was acknowledged but is not in the store"
        );
    }
    assert!(stored.len() >= acked.len());
}

#[test]
fn message_too_large_and_bad_sequences() {
    let host = Host::new("be1").conf("maxmessagesize", "100").write();
    user(&host, "alice");
    let d = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Client::tcp(d.addr);
    greeting_ok(&mut c);
    let lhlo = c.cmd("LHLO x");
    assert_eq!(lhlo[4], "250-SIZE 100");
    assert!(c.one("RCPT TO:<alice>").starts_with("503 5.5.1"));
    assert!(c.one("DATA").starts_with("503 5.5.1"));
    assert!(c.one("MAIL FROM:<s@x> SIZE=1000").starts_with("552 "));
    assert_eq!(c.one("MAIL FROM:<s@x>"), "250 2.1.0 ok");
    assert!(c.one("DATA").starts_with("503 5.5.1"));
    assert_eq!(c.one("RCPT TO:<alice>"), "250 2.1.5 ok");
    assert_eq!(c.one("DATA"), "354 go ahead");
    c.data(&[MSG, &vec![b'x'; 200][..], b"\r\n"].concat());
    assert!(c.one_reply().starts_with("552 5.2.3"));
    // The session goes on.
    assert_eq!(c.one("NOOP"), "250 2.0.0 ok");
}

#[test]
fn cyrus_lmtptest_authenticates_as_admin_and_delivers() {
    let lmtptest = murder_tests::cyrus_bin("lmtptest");
    if !lmtptest.exists() {
        eprintln!("skipped: {} is not installed", lmtptest.display());
        return;
    }
    let host = backend();
    let alice = user(&host, "alice");
    let d = Daemon::start(&host, "lmtpd", &[]);
    let input = host.path("lmtptest.in");
    std::fs::write(
        &input,
        "MAIL FROM:<s@example.org>\r\nRCPT TO:<alice>\r\nDATA\r\nSubject: via lmtptest\r\n\r\nhi\r\n.\r\nQUIT\r\n",
    )
    .unwrap();
    let out = Command::new(&lmtptest)
        .args(["-a", "cyrus", "-w", "secret", "-m", "PLAIN", "-p"])
        .arg(d.addr.port().to_string())
        .arg("-f")
        .arg(&input)
        .arg("127.0.0.1")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("235 Authenticated!"), "{text}");
    let (store, _) = open(&host);
    assert!(
        murder_tests::wait_until(Duration::from_secs(5), || store
            .records(&alice)
            .map(|r| r.len() == 1)
            .unwrap_or(false)),
        "{text}"
    );
    let m = store.read_message(&alice, 1).unwrap();
    assert!(m.ends_with(b"Subject: via lmtptest\r\n\r\nhi\r\n"));
}

/// A message delivered with python's smtplib.LMTP (TCP, AUTH) reads back byte for byte
/// through python's imaplib and curl's IMAP support.
#[test]
fn smtplib_delivery_reads_back_byte_identical_through_imaplib_and_curl() {
    let host = backend();
    let alice = user(&host, "alice");
    let lmtp = Daemon::start(&host, "lmtpd", &[]);
    let imap = Daemon::start(&host, "imapd", &[]);
    let msgfile = host.path("msg.eml");
    std::fs::write(&msgfile, MSG).unwrap();
    let fetched = host.path("fetched.eml");
    let script = r#"
import imaplib, smtplib, sys
l = smtplib.LMTP(sys.argv[1], int(sys.argv[2]))
l.ehlo_or_helo_if_needed()
l.login("cyrus", "secret")
print("refused", l.sendmail("s@example.org", ["alice"], open(sys.argv[4], "rb").read()))
l.quit()
m = imaplib.IMAP4(sys.argv[1], int(sys.argv[3]))
m.login("alice", "alicepw")
typ, data = m.select("INBOX")
assert typ == "OK" and data == [b"1"], data
typ, data = m.uid("FETCH", "1", "(BODY.PEEK[])")
assert typ == "OK", data
open(sys.argv[5], "wb").write(data[0][1])
m.logout()
"#;
    let out = Command::new("python3")
        .args(["-c", script, "127.0.0.1"])
        .arg(lmtp.addr.port().to_string())
        .arg(imap.addr.port().to_string())
        .arg(&msgfile)
        .arg(&fetched)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("refused {}"));
    let (store, _) = open(&host);
    let stored = store.read_message(&alice, 1).unwrap();
    // Cyrus's trace headers, then the message as sent.
    assert!(stored.starts_with(b"Return-Path: <s@example.org>\r\n"));
    assert!(stored.ends_with(MSG));
    assert_eq!(std::fs::read(&fetched).unwrap(), stored);

    let out = Command::new("curl")
        .args(["-sS", "--user", "alice:alicepw"])
        .arg(format!("imap://127.0.0.1:{}/INBOX;UID=1", imap.addr.port()))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, stored);
}
