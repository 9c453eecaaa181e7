//! Sieve at delivery: lmtpd as a process runs the user's active script. fileinto with flags
//! (seen through imapd's FETCH FLAGS), reject as a per-recipient 550, redirect and vacation
//! handed to a `sendmail` (a shell script recording its arguments and input), vacation sent
//! once per sender, a failing sendmail or a run-time error keeping the message in the INBOX.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use daemons::mboxdb::{MailboxDb, MailboxEntry};
use daemons::store::{MailboxId, Store};
use murder_tests::{Daemon, Host};

fn msg(subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.org>\r\nTo: bob@example.org\r\nSubject: {subject}\r\nMessage-ID: <{subject}-1@example.org>\r\n{extra}\r\nHello.\r\n"
    )
    .into_bytes()
}

fn host(sendmail: Option<&Path>) -> Host {
    let mut h = Host::new("be1")
        .conf("allowplaintext", "yes")
        .conf("sasl_mech_list", "PLAIN LOGIN")
        .user("bob", "bobpw");
    if let Some(p) = sendmail {
        h = h.conf("sendmail", p.to_str().unwrap());
    }
    h.write()
}

fn open(host: &Host) -> (Store, MailboxDb) {
    let parts = BTreeMap::from([("default".to_string(), host.path("spool"))]);
    (
        Store::open(&host.configdir(), parts).unwrap(),
        MailboxDb::open_in(&host.configdir()).unwrap(),
    )
}

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

fn mailbox(host: &Host, user: &str, folder: Option<&str>) -> MailboxId {
    let name = match folder {
        Some(f) => format!("user.{user}.{f}"),
        None => format!("user.{user}"),
    };
    create(host, &name, &format!("{user}\tlrswipkxtecdan\t"))
}

/// Stores `script` for `user` and makes it active, as timsieved's PUTSCRIPT and SETACTIVE do.
fn activate(host: &Host, user: &str, script: &str) {
    let (store, _) = open(host);
    store.put_sieve(user, "main", script.as_bytes()).unwrap();
    store.set_active_sieve(user, Some("main")).unwrap();
}

fn count(host: &Host, id: &MailboxId) -> usize {
    open(host).0.records(id).unwrap().len()
}

/// A `sendmail` that appends its arguments and its input to `out`, then exits with `code`.
fn fake_sendmail(dir: &Path, code: i32) -> (std::path::PathBuf, std::path::PathBuf) {
    let script = dir.join(format!("sendmail-{code}.sh"));
    let out = dir.join(format!("sendmail-{code}.out"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{{ echo \"ARGS: $*\"; cat; echo \"--END--\"; }} >> '{}'\nexit {code}\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, out)
}

/// Raw LMTP on a pre-authenticated (`-a`) TCP port.
struct Lmtp {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Lmtp {
    fn connect(addr: SocketAddr) -> Lmtp {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Lmtp {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        assert!(c.reply().starts_with("220 "));
        assert!(c.cmd("LHLO test").contains("250 "));
        c
    }
    fn reply(&mut self) -> String {
        let mut all = Vec::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).unwrap_or(0) == 0 {
                break;
            }
            let l = l.trim_end().to_string();
            let last = l.as_bytes().get(3) != Some(&b'-');
            all.push(l);
            if last {
                break;
            }
        }
        all.join("\n")
    }
    fn cmd(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }
    /// One transaction; returns the per-recipient replies after DATA.
    fn send(&mut self, from: &str, rcpts: &[&str], message: &[u8]) -> Vec<String> {
        assert!(self.cmd(&format!("MAIL FROM:<{from}>")).starts_with("250"));
        for r in rcpts {
            let rep = self.cmd(&format!("RCPT TO:<{r}>"));
            assert!(rep.starts_with("250"), "{r}: {rep}");
        }
        assert!(self.cmd("DATA").starts_with("354"));
        let mut out = Vec::new();
        protocol::lmtp::dot_stuff(message, &mut out);
        self.w.write_all(&out).unwrap();
        rcpts.iter().map(|_| self.reply()).collect()
    }
}

/// FETCH 1:* FLAGS in `mailbox` through imapd, as `bob`.
fn imap_flags(addr: SocketAddr, mailbox: &str) -> Vec<String> {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut lines = Vec::new();
    let mut until = |w: &mut TcpStream, cmd: &str, tag: &str| -> Vec<String> {
        if !cmd.is_empty() {
            w.write_all(format!("{tag} {cmd}\r\n").as_bytes()).unwrap();
        }
        let mut out = Vec::new();
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap_or(0) == 0 {
                return out;
            }
            let done = l.starts_with(&format!("{tag} ")) || (tag == "*" && l.starts_with("* "));
            out.push(l.trim_end().to_string());
            if done {
                return out;
            }
        }
    };
    until(&mut w, "", "*");
    let login = until(&mut w, "LOGIN bob bobpw", "a1");
    assert!(login.last().unwrap().starts_with("a1 OK"), "{login:?}");
    let sel = until(&mut w, &format!("SELECT {mailbox}"), "a2");
    assert!(sel.last().unwrap().starts_with("a2 OK"), "{sel:?}");
    for l in until(&mut w, "FETCH 1:* FLAGS", "a3") {
        if l.starts_with("* ") && l.contains("FETCH") {
            lines.push(l);
        }
    }
    until(&mut w, "LOGOUT", "a4");
    lines
}

#[test]
fn fileinto_folder_with_flags_seen_through_imap() {
    let host = host(None);
    let inbox = mailbox(&host, "bob", None);
    let work = mailbox(&host, "bob", Some("Work"));
    let lists = mailbox(&host, "bob", Some("Lists"));
    activate(
        &host,
        "bob",
        "require [\"fileinto\", \"imap4flags\"];\n\
         if header :contains \"subject\" \"report\" {\n\
           fileinto :flags [\"\\\\Flagged\", \"$Work\"] \"INBOX.Work\";\n\
         } elsif header :is \"subject\" \"list\" {\n\
           fileinto \"Lists\";\n\
         } elsif header :is \"subject\" \"lost\" {\n\
           fileinto \"INBOX.NoSuchFolder\";\n\
         } else {\n\
           addflag \"$Later\";\n\
         }\n",
    );
    let lmtpd = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Lmtp::connect(lmtpd.addr);
    for subject in ["weekly report", "list", "lost", "other"] {
        let r = c.send(
            "sender@example.org",
            &["bob@example.org"],
            &msg(subject, ""),
        );
        assert!(r[0].starts_with("250 2.1.5"), "{subject}: {r:?}");
    }
    c.cmd("QUIT");
    assert_eq!(count(&host, &work), 1, "{}", lmtpd.log_text());
    assert_eq!(
        count(&host, &lists),
        1,
        "\"Lists\" is filed relative to INBOX"
    );
    // "lost" (no such folder) and "other" went to the INBOX.
    assert_eq!(count(&host, &inbox), 2);
    let imapd = Daemon::start(&host, "imapd", &[]);
    let work_flags = imap_flags(imapd.addr, "Work");
    assert_eq!(work_flags.len(), 1);
    assert!(
        work_flags[0].contains("\\Flagged") && work_flags[0].contains("$Work"),
        "{work_flags:?}"
    );
    let inbox_flags = imap_flags(imapd.addr, "INBOX");
    assert_eq!(inbox_flags.len(), 2, "{inbox_flags:?}");
    assert!(!inbox_flags[0].contains("$Later"), "{inbox_flags:?}");
    assert!(inbox_flags[1].contains("$Later"), "{inbox_flags:?}");
    assert!(lmtpd.log_text().contains("NoSuchFolder"));
}

#[test]
fn reject_refuses_only_that_recipient() {
    let host = host(None);
    let alice = mailbox(&host, "alice", None);
    let bob = mailbox(&host, "bob", None);
    activate(
        &host,
        "alice",
        "require \"reject\";\nif size :over 10 { reject text:\nNo mail accepted.\nReally.\n.\n; }\n",
    );
    let lmtpd = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Lmtp::connect(lmtpd.addr);
    let r = c.send(
        "sender@example.org",
        &["alice@example.org", "bob@example.org"],
        &msg("hi", ""),
    );
    assert_eq!(r[0], "550 5.7.1 No mail accepted.");
    assert!(r[1].starts_with("250 2.1.5"), "{r:?}");
    c.cmd("QUIT");
    assert_eq!(count(&host, &alice), 0);
    assert_eq!(count(&host, &bob), 1);
}

#[test]
fn vacation_once_per_sender_and_redirect_through_sendmail() {
    let tmp = tempfile::tempdir().unwrap();
    let (sendmail, out) = fake_sendmail(tmp.path(), 0);
    let host = host(Some(&sendmail));
    let inbox = mailbox(&host, "bob", None);
    activate(
        &host,
        "bob",
        "require [\"vacation\", \"copy\"];\n\
         redirect :copy \"fwd@example.net\";\n\
         vacation :days 7 :subject \"Away\" \"I am away until Monday.\";\n",
    );
    let lmtpd = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Lmtp::connect(lmtpd.addr);
    for n in 0..2 {
        let r = c.send(
            "sender@example.org",
            &["bob@example.org"],
            &msg(&format!("m{n}"), ""),
        );
        assert!(r[0].starts_with("250 2.1.5"), "{r:?}");
    }
    // A list message gets no vacation reply (RFC 5230 §4.6).
    let r = c.send(
        "other@example.org",
        &["bob@example.org"],
        &msg("news", "Precedence: bulk\r\n"),
    );
    assert!(r[0].starts_with("250 2.1.5"), "{r:?}");
    c.cmd("QUIT");
    assert_eq!(count(&host, &inbox), 3, "redirect :copy keeps");
    let log = std::fs::read_to_string(&out).unwrap();
    let calls: Vec<&str> = log.split("--END--\n").filter(|s| !s.is_empty()).collect();
    let redirects: Vec<&&str> = calls
        .iter()
        .filter(|c| {
            c.starts_with("ARGS: -i -f sender@example.org -- fwd@example.net\n")
                || c.starts_with("ARGS: -i -f other@example.org -- fwd@example.net\n")
        })
        .collect();
    let vacations: Vec<&&str> = calls
        .iter()
        .filter(|c| c.starts_with("ARGS: -i -f <> -- "))
        .collect();
    assert_eq!(redirects.len(), 3, "{log}");
    assert!(
        redirects[0].contains("Subject: m0\r\n")
            && redirects[0].contains("Return-Path: <sender@example.org>"),
        "{log}"
    );
    assert_eq!(vacations.len(), 1, "{log}");
    let v = vacations[0];
    assert!(
        v.starts_with("ARGS: -i -f <> -- sender@example.org\n"),
        "{v}"
    );
    assert!(v.contains("\r\nTo: <sender@example.org>\r\n"), "{v}");
    assert!(v.contains("\r\nSubject: Away\r\n"), "{v}");
    assert!(v.contains("\r\nAuto-Submitted: auto-replied"), "{v}");
    assert!(
        v.contains("\r\nIn-Reply-To: <m0-1@example.org>\r\nReferences: <m0-1@example.org>\r\n"),
        "{v}"
    );
    assert!(v.contains("I am away until Monday."), "{v}");
    // The suppression survives a restart (it is on disk).
    drop(lmtpd);
    let lmtpd = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Lmtp::connect(lmtpd.addr);
    let r = c.send("sender@example.org", &["bob@example.org"], &msg("m3", ""));
    assert!(r[0].starts_with("250 2.1.5"), "{r:?}");
    c.cmd("QUIT");
    let log = std::fs::read_to_string(&out).unwrap();
    assert_eq!(log.matches("ARGS: -i -f <> --").count(), 1, "{log}");
}

#[test]
fn failing_sendmail_keeps_the_message_in_inbox() {
    let tmp = tempfile::tempdir().unwrap();
    let (sendmail, out) = fake_sendmail(tmp.path(), 75);
    let host = host(Some(&sendmail));
    let inbox = mailbox(&host, "bob", None);
    activate(&host, "bob", "redirect \"fwd@example.net\";\n");
    let lmtpd = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Lmtp::connect(lmtpd.addr);
    let r = c.send("sender@example.org", &["bob@example.org"], &msg("x", ""));
    assert!(r[0].starts_with("250 2.1.5"), "{r:?}");
    c.cmd("QUIT");
    // sendmail ran (and failed), so the redirect's cancelled keep is restored.
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("ARGS: -i -f sender@example.org -- fwd@example.net"));
    assert_eq!(count(&host, &inbox), 1);
    assert!(
        lmtpd.log_text().contains("keeping in INBOX"),
        "{}",
        lmtpd.log_text()
    );
}

#[test]
fn runtime_error_or_broken_script_means_implicit_keep() {
    let host = host(None);
    let bob = mailbox(&host, "bob", None);
    let work = mailbox(&host, "bob", Some("Work"));
    let carol = mailbox(&host, "carol", None);
    // reject with fileinto is refused at run time (RFC 5429): implicit keep, not Work.
    activate(
        &host,
        "bob",
        "require [\"reject\", \"fileinto\"];\nfileinto \"INBOX.Work\";\nreject \"no\";\n",
    );
    // A script stored without checking that does not compile is ignored.
    activate(&host, "carol", "fileinot \"x\";\n");
    let lmtpd = Daemon::start(&host, "lmtpd", &["-a"]);
    let mut c = Lmtp::connect(lmtpd.addr);
    let r = c.send(
        "sender@example.org",
        &["bob@example.org", "carol@example.org"],
        &msg("x", ""),
    );
    assert!(
        r[0].starts_with("250 2.1.5") && r[1].starts_with("250 2.1.5"),
        "{r:?}"
    );
    c.cmd("QUIT");
    assert_eq!(count(&host, &bob), 1);
    assert_eq!(count(&host, &work), 0);
    assert_eq!(count(&host, &carol), 1);
    let log = lmtpd.log_text();
    assert!(log.contains("run-time error"), "{log}");
    assert!(log.contains("does not compile"), "{log}");
}
