//! imapd's message commands end to end: imapd runs as a process on a host directory, clients
//! talk IMAP over loopback (a small raw client here, python3's imaplib, Cyrus's imtest).
//!
//! Mailboxes are made by writing mailboxes.db and the store directly (CREATE belongs to
//! another module), the way CREATE leaves them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use daemons::mboxdb::{MailboxDb, MailboxEntry};
use daemons::store::{MailboxId, QuotaLimits, Store};
use murder_tests::{Daemon, Host};

// ---------------------------------------------------------------------------------------------
// Fixture

struct Fixture {
    host: Host,
    db: MailboxDb,
    store: Store,
}

const FULL: &str = "lrswipkxtecdan";

impl Fixture {
    fn new(name: &str) -> Fixture {
        let host = Host::new(name)
            .conf("allowplaintext", "yes")
            // The murder's settings (and the transcripts'): `.` separator, INBOX.* folders.
            .conf("unixhierarchysep", "no")
            .conf("altnamespace", "no")
            .user("alice", "alicepw")
            .user("bob", "bobpw")
            .user("carol", "carolpw")
            .write();
        let db = MailboxDb::open_in(&host.configdir()).expect("mailboxes.db");
        let parts = [("default".to_string(), host.path("spool"))].into();
        let store = Store::open(&host.configdir(), parts).expect("store");
        Fixture { host, db, store }
    }

    /// Creates a mailbox (internal name) with an ACL given as (identifier, rights) pairs.
    fn mailbox(&self, name: &str, acl: &[(&str, &str)]) -> MailboxId {
        let id = MailboxId::generate();
        let state = self.store.create_mailbox(&id, "default").expect("create");
        let acl: String = acl.iter().map(|(i, r)| format!("{i}\t{r}\t")).collect();
        let entry = MailboxEntry {
            name: name.into(),
            partition: "default".into(),
            acl,
            uniqueid: id.as_str().into(),
            uidvalidity: state.uidvalidity,
            ..MailboxEntry::default()
        };
        self.db.put(&entry).expect("put");
        id
    }

    fn imapd(&self) -> Daemon {
        Daemon::start(&self.host, "imapd", &[])
    }
}

// ---------------------------------------------------------------------------------------------
// A raw IMAP client

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
    n: u32,
}

/// One response: its text with literals inline.
type Resp = Vec<u8>;

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let w = TcpStream::connect(addr).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Client {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
            n: 0,
        };
        let greeting = c.read_resp().expect("greeting");
        assert!(greeting.starts_with(b"* OK"), "{}", s(&greeting));
        c
    }

    fn login(addr: SocketAddr, user: &str, pw: &str) -> Client {
        let mut c = Client::connect(addr);
        let (_, t) = c.cmd(&format!("LOGIN {user} {pw}"));
        assert!(t.contains("OK"), "{t}");
        c
    }

    /// Reads one response, literals included; `None` at end of stream.
    fn read_resp(&mut self) -> Option<Resp> {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            if self.r.read_until(b'\n', &mut line).ok()? == 0 {
                return None;
            }
            out.extend_from_slice(&line);
            // A line ending in {n}CRLF is followed by n octets and more of the response.
            let t = line.strip_suffix(b"\r\n").unwrap_or(&line);
            if t.ends_with(b"}") {
                if let Some(open) = t.iter().rposition(|&b| b == b'{') {
                    let n: usize = s(&t[open + 1..t.len() - 1])
                        .trim_end_matches('+')
                        .parse()
                        .ok()?;
                    let mut lit = vec![0u8; n];
                    self.r.read_exact(&mut lit).ok()?;
                    out.extend_from_slice(&lit);
                    continue;
                }
            }
            return Some(out);
        }
    }

    fn next_tag(&mut self) -> String {
        self.n += 1;
        format!("t{}", self.n)
    }

    /// Sends raw bytes of a command (the tag given), reads to its tagged reply.
    fn raw(&mut self, tag: &str, bytes: &[u8]) -> (Vec<Resp>, String) {
        self.w.write_all(bytes).unwrap();
        self.until(tag)
    }

    fn until(&mut self, tag: &str) -> (Vec<Resp>, String) {
        let mut untagged = Vec::new();
        loop {
            let r = self.read_resp().expect("connection closed");
            if r.starts_with(format!("{tag} ").as_bytes()) {
                return (untagged, s(&r).trim_end().to_string());
            }
            untagged.push(r);
        }
    }

    fn cmd(&mut self, text: &str) -> (Vec<Resp>, String) {
        let tag = self.next_tag();
        let line = format!("{tag} {text}\r\n");
        self.raw(&tag, line.as_bytes())
    }

    /// APPEND with a LITERAL+ literal.
    fn append(&mut self, mailbox: &str, flags: &str, date: &str, msg: &[u8]) -> String {
        let tag = self.next_tag();
        let args: Vec<&str> = [mailbox, flags, date]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let mut b = format!("{tag} APPEND {} {{{}+}}\r\n", args.join(" "), msg.len()).into_bytes();
        b.extend_from_slice(msg);
        b.extend_from_slice(b"\r\n");
        self.raw(&tag, &b).1
    }

    fn ok(&mut self, text: &str) -> Vec<Resp> {
        let (u, t) = self.cmd(text);
        assert!(t.split(' ').nth(1) == Some("OK"), "{text}: {t}");
        u
    }
}

fn lines(u: &[Resp]) -> Vec<String> {
    u.iter().map(|r| s(r).trim_end().to_string()).collect()
}

/// The octets of the literal in a FETCH response after `item` (for instance `BODY[] `).
fn literal_after(resp: &[u8], item: &str) -> Option<Vec<u8>> {
    let at = resp
        .windows(item.len())
        .position(|w| w == item.as_bytes())?
        + item.len();
    let rest = &resp[at..];
    let rest = rest.strip_prefix(b"~").unwrap_or(rest);
    let close = rest.iter().position(|&b| b == b'}')?;
    let n: usize = s(&rest[1..close]).parse().ok()?;
    Some(rest[close + 3..close + 3 + n].to_vec())
}

fn msg(subject: &str, from: &str, to: &str, body: &str) -> Vec<u8> {
    format!(
        "Date: Wed, 17 Jul 1996 02:23:25 -0700\r\nFrom: {from}\r\nTo: {to}\r\n\
         Subject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn uids_of(u: &[Resp]) -> Vec<u32> {
    let mut out = Vec::new();
    for l in lines(u) {
        if let Some(p) = l.find("UID ") {
            let n: String = l[p + 4..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            out.push(n.parse().unwrap());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn select_append_fetch_round_trip() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    let d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");

    let plain = msg(
        "one",
        "Alice <alice@example.org>",
        "bob@example.org",
        "Hello\r\nWorld",
    );
    let mut multi = b"From: x@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=XX\r\n\r\npre\r\n--XX\r\nContent-Type: text/plain\r\n\r\n\
        part one\r\n--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        AAECAwQ=\r\n--XX--\r\n"
        .to_vec();
    multi.extend_from_slice("8bit: \u{e9}t\u{e9}\r\n".as_bytes());
    let t = c.append(
        "INBOX",
        "(\\Flagged $Label1)",
        "\"01-Jan-2020 10:00:00 +0200\"",
        &plain,
    );
    assert!(t.contains("OK [APPENDUID "), "{t}");
    let uv: u32 = t.split(' ').nth(3).unwrap().parse().unwrap();
    assert!(t.ends_with(" 1] Completed"), "{t}");
    // MULTIAPPEND: one command, consecutive UIDs.
    let tag = c.next_tag();
    let mut b = format!("{tag} APPEND INBOX {{{}+}}\r\n", multi.len()).into_bytes();
    b.extend_from_slice(&multi);
    b.extend_from_slice(format!(" (\\Seen) {{{}+}}\r\n", plain.len()).as_bytes());
    b.extend_from_slice(&plain);
    b.extend_from_slice(b"\r\n");
    let (_, t) = c.raw(&tag, &b);
    assert_eq!(t, format!("{tag} OK [APPENDUID {uv} 2:3] Completed"));

    let u = c.ok("SELECT INBOX");
    let l = lines(&u);
    assert_eq!(l[0], "* 3 EXISTS");
    assert_eq!(l[1], "* 3 RECENT");
    assert_eq!(
        l[2],
        "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Label1)"
    );
    assert_eq!(
        l[3],
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $Label1 \\*)] Ok"
    );
    assert_eq!(l[4], "* OK [UNSEEN 1] Ok");
    assert_eq!(l[5], format!("* OK [UIDVALIDITY {uv}] Ok"));
    assert_eq!(l[6], "* OK [UIDNEXT 4] Ok");
    assert!(l[7].starts_with("* OK [HIGHESTMODSEQ "), "{l:?}");

    // Bodies come back byte for byte.
    let u = c.ok("FETCH 1:3 (UID RFC822.SIZE BODY.PEEK[])");
    assert_eq!(u.len(), 3);
    for (r, want) in u.iter().zip([&plain, &multi, &plain]) {
        assert_eq!(literal_after(r, "BODY[] ").as_ref(), Some(want), "{}", s(r));
        assert!(s(r).contains(&format!("RFC822.SIZE {}", want.len())));
    }
    let l = lines(&c.ok("FETCH 1 (FLAGS INTERNALDATE ENVELOPE)"));
    assert_eq!(
        l[0],
        "* 1 FETCH (FLAGS (\\Recent \\Flagged $Label1) INTERNALDATE \"01-Jan-2020 10:00:00 +0200\" \
         ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700\" \"one\" ((\"Alice\" NIL \"alice\" \"example.org\")) \
         ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\")) \
         ((NIL NIL \"bob\" \"example.org\")) NIL NIL NIL \"<one@example.org>\"))"
    );
    let l = lines(&c.ok("FETCH 2 (BODYSTRUCTURE BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[1])"));
    assert!(l[0].contains("BODYSTRUCTURE ((\"TEXT\" \"PLAIN\""), "{l:?}");
    assert!(l[0].contains("\"MIXED\" (\"BOUNDARY\" \"XX\")"), "{l:?}");
    assert!(l[0].contains("BINARY.SIZE[2] 5"), "{l:?}");
    assert_eq!(
        literal_after(&u_first(&mut c, "FETCH 2 BINARY.PEEK[2]"), "BINARY[2] "),
        Some(vec![0, 1, 2, 3, 4])
    );
    let r = u_first(&mut c, "FETCH 2 BODY.PEEK[HEADER.FIELDS (Subject)]");
    assert_eq!(
        literal_after(&r, "BODY[HEADER.FIELDS (Subject)] ").unwrap(),
        b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
    );
    let r = u_first(&mut c, "FETCH 1 BODY.PEEK[TEXT]<2.3>");
    assert_eq!(literal_after(&r, "BODY[TEXT]<2> ").unwrap(), b"llo");
    // A non-PEEK body fetch sets \Seen and says so.
    let r = u_first(&mut c, "FETCH 1 BODY[TEXT]");
    assert!(
        s(&r).starts_with("* 1 FETCH (FLAGS (\\Recent \\Flagged \\Seen $Label1) BODY[TEXT] {14}"),
        "{}",
        s(&r)
    );
    let l = lines(&c.ok("UID FETCH 1:* FLAGS"));
    assert_eq!(
        l[0],
        "* 1 FETCH (FLAGS (\\Recent \\Flagged \\Seen $Label1) UID 1)"
    );
    assert_eq!(l[2], "* 3 FETCH (FLAGS (\\Recent \\Seen) UID 3)");
    // Macros and RFC822.* items.
    let l = lines(&c.ok("FETCH 3 FAST"));
    assert!(
        l[0].starts_with("* 3 FETCH (FLAGS (\\Recent \\Seen) INTERNALDATE \""),
        "{l:?}"
    );
    assert!(
        l[0].ends_with(&format!("\" RFC822.SIZE {})", plain.len())),
        "{l:?}"
    );
    let r = u_first(&mut c, "FETCH 3 RFC822.HEADER");
    assert!(literal_after(&r, "RFC822.HEADER ")
        .unwrap()
        .ends_with(b"\r\n\r\n"));
    // Numbers past the end: Cyrus's NO; no mailbox selected is BAD.
    let (_, t) = c.cmd("FETCH 7 FLAGS");
    assert!(t.contains(" NO No matching messages ("), "{t}");
    assert!(c.ok("FETCH 2:7 FLAGS").len() == 2);
    assert!(c.ok("UID FETCH 7 FLAGS").is_empty());
    c.ok("UNSELECT");
    let (_, t) = c.cmd("FETCH 1 FLAGS");
    assert!(t.ends_with("BAD Please select a mailbox first"), "{t}");
    // A second SELECT: \Recent was claimed by the first.
    let l = lines(&c.ok("EXAMINE INBOX"));
    assert_eq!(l[1], "* 0 RECENT");
    let (_, t) = c.cmd("STORE 1 +FLAGS (\\Deleted)");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    let (_, t) = c.cmd("APPEND INBOX.nope {1+}\r\nx");
    assert!(t.ends_with("NO [TRYCREATE] Mailbox does not exist"), "{t}");
}

fn u_first(c: &mut Client, cmd: &str) -> Resp {
    c.ok(cmd).into_iter().next().expect("a FETCH response")
}

#[test]
fn flags_expunge_and_uids_survive_a_restart() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    let mut d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");
    for i in 1..=5 {
        let t = c.append(
            "INBOX",
            "",
            "",
            &msg(&format!("m{i}"), "a@b.c", "d@e.f", "x"),
        );
        assert!(t.contains("OK"), "{t}");
    }
    c.ok("SELECT INBOX");
    let l = lines(&c.ok("STORE 2,4 +FLAGS (\\Deleted)"));
    assert_eq!(
        l,
        [
            "* 2 FETCH (FLAGS (\\Recent \\Deleted))",
            "* 4 FETCH (FLAGS (\\Recent \\Deleted))"
        ]
    );
    assert!(c.ok("STORE 1 +FLAGS.SILENT (\\Answered)").is_empty());
    let l = lines(&c.ok("UID STORE 5 FLAGS (\\Flagged foo)"));
    assert_eq!(
        l,
        [
            "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen foo)",
            "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen foo \\*)] Ok",
            "* 5 FETCH (FLAGS (\\Recent \\Flagged foo) UID 5)"
        ]
    );
    let l = lines(&c.ok("STORE 5 -FLAGS (foo)"));
    assert_eq!(l, ["* 5 FETCH (FLAGS (\\Recent \\Flagged))"]);
    let l = lines(&c.ok("EXPUNGE"));
    assert_eq!(l, ["* 2 EXPUNGE", "* 3 EXPUNGE"]);
    // UID EXPUNGE only touches the UIDs given.
    c.ok("STORE 1:3 +FLAGS (\\Deleted)");
    let l = lines(&c.ok("UID EXPUNGE 3"));
    assert_eq!(l, ["* 2 EXPUNGE"]);
    c.ok("STORE 1:2 -FLAGS (\\Deleted)");
    let (_, t) = c.cmd("STORE 1 +FLAGS (\\Bogus)");
    assert!(t.contains("BAD"), "{t}");
    drop(c);

    d.kill9();
    let d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");
    let l = lines(&c.ok("SELECT INBOX"));
    assert_eq!(l[0], "* 2 EXISTS");
    assert!(l.contains(&"* OK [UIDNEXT 6] Ok".to_string()), "{l:?}");
    let l = lines(&c.ok("FETCH 1:* (UID FLAGS)"));
    assert_eq!(
        l,
        [
            "* 1 FETCH (FLAGS (\\Answered) UID 1)",
            "* 2 FETCH (FLAGS (\\Flagged) UID 5)"
        ]
    );
    // CLOSE expunges \Deleted silently.
    c.ok("STORE 2 +FLAGS (\\Deleted)");
    assert!(c.ok("CLOSE").is_empty());
    let l = lines(&c.ok("SELECT INBOX"));
    assert_eq!(l[0], "* 1 EXISTS");
}

#[test]
fn changes_by_other_sessions_are_reported() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    let d = f.imapd();
    let mut a = Client::login(d.addr, "alice", "alicepw");
    let mut b = Client::login(d.addr, "alice", "alicepw");
    for i in 1..=5 {
        a.append(
            "INBOX",
            "",
            "",
            &msg(&format!("m{i}"), "a@b.c", "d@e.f", "x"),
        );
    }
    a.ok("SELECT INBOX");
    b.ok("SELECT INBOX");
    b.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)");
    b.ok("STORE 1 +FLAGS.SILENT (\\Flagged)");
    // FETCH, STORE and SEARCH must not renumber; the flag change still shows.
    let l = lines(&a.ok("FETCH 5 UID"));
    assert_eq!(l[0], "* 5 FETCH (UID 5)");
    b.ok("EXPUNGE");
    let l = lines(&a.ok("SEARCH ALL"));
    assert!(l.contains(&"* SEARCH 1 2 3 4 5".to_string()), "{l:?}");
    let l = lines(&a.ok("NOOP"));
    assert_eq!(l, ["* 2 EXPUNGE", "* 3 EXPUNGE"]);
    assert_eq!(uids_of(&a.ok("FETCH 1:* UID")), [1, 3, 5]);
    b.append("INBOX", "", "", &msg("m6", "a@b.c", "d@e.f", "x"));
    let l = lines(&a.ok("NOOP"));
    // B's APPEND reported it to B first, which claimed its \Recent.
    assert_eq!(l, ["* 4 EXISTS", "* 3 RECENT"]);
}

#[test]
fn rights_are_enforced_for_other_users() {
    let f = Fixture::new("be1");
    f.mailbox(
        "user.alice",
        &[("alice", FULL), ("bob", "lrs"), ("carol", "l")],
    );
    f.mailbox("user.alice.drop", &[("alice", FULL), ("bob", "li")]);
    f.mailbox("user.alice.shared", &[("alice", FULL), ("bob", "lrswite")]);
    f.mailbox("user.bob", &[("bob", FULL)]);
    let d = f.imapd();
    let mut a = Client::login(d.addr, "alice", "alicepw");
    for i in 1..=2 {
        a.append(
            "INBOX",
            "",
            "",
            &msg(&format!("m{i}"), "a@b.c", "d@e.f", "x"),
        );
        a.append(
            "INBOX.shared",
            "",
            "",
            &msg(&format!("s{i}"), "a@b.c", "d@e.f", "x"),
        );
    }
    let mut b = Client::login(d.addr, "bob", "bobpw");
    let l = lines(&b.ok("SELECT user.alice"));
    assert!(
        l.contains(&"* OK [PERMANENTFLAGS (\\Seen)] Ok".to_string()),
        "{l:?}"
    );
    let (_, t) = b.cmd("STORE 1 +FLAGS (\\Flagged)");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    let (_, t) = b.cmd("STORE 1 +FLAGS (\\Deleted)");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    // Bob's \Seen is his own.
    let l = lines(&b.ok("STORE 1 +FLAGS (\\Seen)"));
    assert_eq!(l, ["* 1 FETCH (FLAGS (\\Recent \\Seen))"]);
    let (_, t) = b.cmd("EXPUNGE");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    let (_, t) = b.cmd("APPEND user.alice {3+}\r\nA:b");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    let (_, t) = b.cmd("MOVE 1 user.alice.shared");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    let l = lines(&a.ok("SELECT INBOX"));
    assert!(l.contains(&"* OK [UNSEEN 1] Ok".to_string()), "{l:?}");
    let l = lines(&a.ok("FETCH 1 FLAGS"));
    assert_eq!(l, ["* 1 FETCH (FLAGS (\\Recent))"]);
    // i lets bob append but not read.
    let t = b.append(
        "user.alice.drop",
        "(\\Seen)",
        "",
        &msg("p", "a@b.c", "d@e.f", "x"),
    );
    assert!(t.contains("OK [APPENDUID"), "{t}");
    let (_, t) = b.cmd("SELECT user.alice.drop");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    // COPY needs i on the target.
    b.ok("SELECT user.alice.shared");
    let (_, t) = b.cmd("COPY 1 user.alice");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    let l = lines(&b.ok("STORE 1 +FLAGS (\\Deleted \\Seen)"));
    assert_eq!(l, ["* 1 FETCH (FLAGS (\\Recent \\Deleted \\Seen))"]);
    b.ok("EXPUNGE");
    // Bob's seen state follows a copy into his own mailbox (where it is in the index).
    b.ok("STORE 1 +FLAGS (\\Seen)");
    b.ok("COPY 1 INBOX");
    b.ok("SELECT INBOX");
    let l = lines(&b.ok("FETCH 1 FLAGS"));
    assert_eq!(l, ["* 1 FETCH (FLAGS (\\Recent \\Seen))"]);
    let l = lines(&a.ok("EXAMINE INBOX.shared"));
    assert!(l.contains(&"* OK [UNSEEN 1] Ok".to_string()), "{l:?}");
    // Carol sees the name only; others nothing.
    let mut c = Client::login(d.addr, "carol", "carolpw");
    let (_, t) = c.cmd("SELECT user.alice");
    assert!(t.ends_with("NO Permission denied"), "{t}");
    let (_, t) = c.cmd("SELECT user.alice.shared");
    assert!(t.ends_with("NO Mailbox does not exist"), "{t}");
    let (_, t) = c.cmd("APPEND user.alice.shared {3+}\r\nA:b");
    assert!(t.ends_with("NO [TRYCREATE] Mailbox does not exist"), "{t}");
}

#[test]
fn quota_is_enforced_on_append_and_copy() {
    let f = Fixture::new("be1");
    let inbox = f.mailbox("user.alice", &[("alice", FULL)]);
    let small = f.mailbox("user.alice.small", &[("alice", FULL)]);
    f.store
        .set_quota(
            "user.alice.small",
            QuotaLimits {
                storage_kib: Some(1),
                ..QuotaLimits::default()
            },
        )
        .unwrap();
    f.store
        .set_mailbox_quota_root(&small, Some("user.alice.small"))
        .unwrap();
    let _ = inbox;
    let d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");
    let big = msg("big", "a@b.c", "d@e.f", &"x".repeat(2000));
    let t = c.append("INBOX.small", "", "", &big);
    assert!(t.ends_with("NO [OVERQUOTA] Over quota"), "{t}");
    let t = c.append("INBOX.small", "", "", &msg("s", "a@b.c", "d@e.f", "x"));
    assert!(t.contains("OK"), "{t}");
    assert!(c.append("INBOX", "", "", &big).contains("OK"));
    c.ok("SELECT INBOX");
    let (_, t) = c.cmd("COPY 1 INBOX.small");
    assert!(t.ends_with("NO [OVERQUOTA] Over quota"), "{t}");
    let (_, t) = c.cmd("MOVE 1 INBOX.small");
    assert!(t.ends_with("NO [OVERQUOTA] Over quota"), "{t}");
    let (_, t) = c.cmd("COPY 1 INBOX.none");
    assert!(t.ends_with("NO [TRYCREATE] Mailbox does not exist"), "{t}");
}

#[test]
fn copy_and_move() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    f.mailbox("user.alice.Archive", &[("alice", FULL)]);
    let d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");
    let bodies: Vec<Vec<u8>> = (1..=4)
        .map(|i| msg(&format!("m{i}"), "a@b.c", "d@e.f", &format!("body {i}")))
        .collect();
    for b in &bodies {
        c.append("INBOX", "(\\Flagged)", "", b);
    }
    c.ok("SELECT INBOX.Archive");
    let uv_line = lines(&c.ok("SELECT INBOX"));
    let _ = uv_line;
    let (_, t) = c.cmd("COPY 1 INBOX.Archive");
    assert!(
        t.contains("OK [COPYUID ") && t.ends_with(" 1 1] Completed"),
        "{t}"
    );
    let (u, t) = c.cmd("UID MOVE 2:3 INBOX.Archive");
    let l = lines(&u);
    assert!(
        l[0].starts_with("* OK [COPYUID ") && l[0].ends_with(" 2:3 2:3] Ok"),
        "{l:?}"
    );
    assert_eq!(&l[1..], ["* 2 EXPUNGE", "* 2 EXPUNGE"]);
    assert!(t.ends_with("OK Completed"), "{t}");
    assert_eq!(uids_of(&c.ok("FETCH 1:* UID")), [1, 4]);
    c.ok("SELECT INBOX.Archive");
    let u = c.ok("FETCH 1:* (UID FLAGS BODY.PEEK[])");
    assert_eq!(u.len(), 3);
    for (r, want) in u.iter().zip(&bodies[..3]) {
        assert_eq!(literal_after(r, "BODY[] ").as_ref(), Some(want));
        assert!(s(r).contains("\\Flagged"), "{}", s(r));
    }
}

#[test]
fn search_keys() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    let d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");
    let m1 = b"Date: Mon, 01 Jan 2018 12:00:00 +0000\r\nFrom: Alice Smith <alice@example.org>\r\n\
        To: bob@example.org\r\nCc: carol@example.org\r\nBcc: dave@example.org\r\n\
        Subject: Quarterly report\r\nX-Tag: red\r\n\r\nThe numbers are UP this quarter.\r\n"
        .to_vec();
    let m2 = b"Date: Tue, 15 Jun 2021 08:00:00 +0200\r\nFrom: =?utf-8?q?Ren=C3=A9e?= <renee@example.net>\r\n\
        To: alice@example.org\r\nSubject: =?utf-8?b?Q2Fmw6kgdGltZQ==?=\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
        Let us meet at the caf=C3=A9.\r\n"
        .to_vec();
    let m3 = format!(
        "From: bob@example.org\r\nTo: alice@example.org\r\nSubject: big one\r\n\r\n{}\r\n",
        "z".repeat(5000)
    )
    .into_bytes();
    c.append(
        "INBOX",
        "(\\Seen \\Answered)",
        "\"02-Jan-2018 10:00:00 +0000\"",
        &m1,
    );
    c.append(
        "INBOX",
        "(\\Flagged \\Draft $Work)",
        "\"15-Jun-2021 23:30:00 -0500\"",
        &m2,
    );
    c.append(
        "INBOX",
        "(\\Deleted)",
        "\"01-Mar-2022 00:00:00 +0000\"",
        &m3,
    );
    c.ok("SELECT INBOX");
    c.ok("STORE 3 -FLAGS.SILENT (\\Deleted)");
    c.ok("STORE 3 +FLAGS.SILENT (\\Deleted)");
    let table: &[(&str, &str)] = &[
        ("ALL", "1 2 3"),
        ("ANSWERED", "1"),
        ("UNANSWERED", "2 3"),
        ("DELETED", "3"),
        ("UNDELETED", "1 2"),
        ("DRAFT", "2"),
        ("UNDRAFT", "1 3"),
        ("FLAGGED", "2"),
        ("UNFLAGGED", "1 3"),
        ("SEEN", "1"),
        ("UNSEEN", "2 3"),
        ("KEYWORD $Work", "2"),
        ("KEYWORD $work", "2"),
        ("UNKEYWORD $Work", "1 3"),
        ("RECENT", "1 2 3"),
        ("NEW", "2 3"),
        ("OLD", ""),
        ("LARGER 1000", "3"),
        ("SMALLER 1000", "1 2"),
        ("BEFORE 15-Jun-2021", "1"),
        ("ON 15-Jun-2021", "2"),
        ("SINCE 15-Jun-2021", "2 3"),
        ("SENTBEFORE 15-Jun-2021", "1"),
        ("SENTON 15-Jun-2021", "2"),
        ("SENTSINCE 1-Jan-2019", "2 3"),
        ("FROM alice", "1"),
        ("FROM \"renée\"", "2"),
        ("TO alice@example.org", "2 3"),
        ("CC carol", "1"),
        ("BCC dave", "1"),
        ("SUBJECT report", "1"),
        ("SUBJECT \"CAFÉ\"", ""),
        ("SUBJECT \"café\"", "2"),
        ("SUBJECT CAF", "2"),
        ("HEADER X-Tag red", "1"),
        ("HEADER X-Tag \"\"", "1"),
        ("HEADER Message-ID \"\"", ""),
        ("BODY \"numbers are up\"", "1"),
        ("BODY café", "2"),
        ("BODY quarterly", ""),
        ("TEXT quarterly", "1"),
        ("TEXT zzzzzz", "3"),
        ("UID 2:*", "2 3"),
        ("2:3", "2 3"),
        ("*", "3"),
        ("NOT SEEN", "2 3"),
        ("OR SEEN FLAGGED", "1 2"),
        ("(SEEN ANSWERED) OR DRAFT DELETED", ""),
        ("OR (SEEN ANSWERED) DELETED", "1 3"),
        ("NOT (FROM bob LARGER 10)", "1 2"),
        ("CHARSET UTF-8 BODY café", "2"),
        ("CHARSET US-ASCII FROM bob", "3"),
        ("YOUNGER 60", ""),
        ("OLDER 60", "1 2 3"),
    ];
    for (crit, want) in table {
        let tag = c.next_tag();
        let mut line = format!("{tag} SEARCH {crit}\r\n").into_bytes();
        // Non-ASCII strings go as literals, as clients send them.
        if !crit.is_ascii() {
            let (head, lit) = crit.rsplit_once(' ').unwrap();
            let lit = lit.trim_matches('"');
            line = format!("{tag} SEARCH {head} {{{}+}}\r\n{lit}\r\n", lit.len()).into_bytes();
        }
        let (u, t) = c.raw(&tag, &line);
        assert!(t.contains(" OK Completed ("), "{crit}: {t}");
        let expect = if want.is_empty() {
            "* SEARCH".to_string()
        } else {
            format!("* SEARCH {want}")
        };
        assert_eq!(lines(&u), [expect], "SEARCH {crit}");
    }
    let l = lines(&c.ok("UID SEARCH SEEN"));
    assert_eq!(l, ["* SEARCH 1"]);
    let (_, t) = c.cmd("SEARCH CHARSET KOI8-R ALL");
    assert!(t.contains("NO [BADCHARSET (US-ASCII UTF-8)]"), "{t}");
    let (u, _) = c.cmd("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN");
    assert_eq!(
        lines(&u),
        [format!(
            "* ESEARCH (TAG \"t{}\") COUNT 2 MIN 2 MAX 3 ALL 2:3",
            c.n
        )]
    );
    let (u, _) = c.cmd("UID SEARCH RETURN (COUNT) SUBJECT nomatch");
    assert_eq!(
        lines(&u),
        [format!("* ESEARCH (TAG \"t{}\") UID COUNT 0", c.n)]
    );
    let (u, _) = c.cmd("SEARCH RETURN () ALL");
    assert_eq!(lines(&u), [format!("* ESEARCH (TAG \"t{}\") ALL 1:3", c.n)]);
}

#[test]
fn idle_reports_an_append_from_another_connection() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    let d = f.imapd();
    let mut a = Client::login(d.addr, "alice", "alicepw");
    a.ok("SELECT INBOX");
    a.w.write_all(b"i1 IDLE\r\n").unwrap();
    let r = a.read_resp().unwrap();
    assert_eq!(s(&r), "+ idling\r\n");
    let mut b = Client::login(d.addr, "alice", "alicepw");
    let t = b.append("INBOX", "", "", &msg("idle", "a@b.c", "d@e.f", "x"));
    assert!(t.contains("OK"), "{t}");
    let r = a.read_resp().unwrap();
    assert_eq!(s(&r), "* 1 EXISTS\r\n");
    let r = a.read_resp().unwrap();
    assert_eq!(s(&r), "* 1 RECENT\r\n");
    b.ok("SELECT INBOX");
    b.ok("STORE 1 +FLAGS.SILENT (\\Flagged)");
    let r = a.read_resp().unwrap();
    assert_eq!(s(&r), "* 1 FETCH (FLAGS (\\Recent \\Flagged))\r\n");
    a.w.write_all(b"DONE\r\n").unwrap();
    let (_, t) = a.until("i1");
    assert_eq!(t, "i1 OK Completed");
    let (_, t) = a.cmd("FETCH 1 UID");
    assert!(t.ends_with(" sec)"), "{t}");
}

#[test]
fn kill9_during_appends_loses_nothing_acknowledged() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    let mut d = f.imapd();
    // (UID, message) of every APPEND the server acknowledged.
    type Acked = Arc<Mutex<Vec<(u32, Vec<u8>)>>>;
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3 {
        let (acked, stop, addr) = (acked.clone(), stop.clone(), d.addr);
        workers.push(std::thread::spawn(move || {
            let mut c = Client::login(addr, "alice", "alicepw");
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let body = msg(
                    &format!("w{w}-{i}"),
                    "a@b.c",
                    "d@e.f",
                    &"y".repeat(i * 37 % 3000),
                );
                let tag = c.next_tag();
                let mut b = format!("{tag} APPEND INBOX {{{}+}}\r\n", body.len()).into_bytes();
                b.extend_from_slice(&body);
                b.extend_from_slice(b"\r\n");
                if c.w.write_all(&b).is_err() {
                    return;
                }
                let Some(r) = c.read_resp() else { return };
                let t = s(&r);
                if let Some(uid) = t
                    .strip_suffix("] Completed\r\n")
                    .and_then(|x| x.rsplit(' ').next())
                    .and_then(|u| u.parse::<u32>().ok())
                {
                    acked.lock().unwrap().push((uid, body));
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    d.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 5, "only {} appends acknowledged", acked.len());
    let d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");
    c.ok("SELECT INBOX");
    for (uid, body) in &acked {
        let r = u_first(&mut c, &format!("UID FETCH {uid} BODY.PEEK[]"));
        assert_eq!(
            literal_after(&r, "BODY[] ").as_ref(),
            Some(body),
            "UID {uid}"
        );
    }
}

#[test]
fn python_imaplib_and_cyrus_imtest_interoperate() {
    let f = Fixture::new("be1");
    f.mailbox("user.alice", &[("alice", FULL)]);
    let d = f.imapd();
    let script = format!(
        r#"
import imaplib, hashlib
m = imaplib.IMAP4("127.0.0.1", {port})
m.login("alice", "alicepw")
msg = b"From: a@b.c\r\nSubject: py\r\n\r\n" + bytes(range(32, 127)) * 50 + b"\r\n"
typ, data = m.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(1600000000), msg)
assert typ == "OK", data
typ, data = m.select("INBOX")
assert typ == "OK" and data == [b"1"], data
typ, data = m.uid("FETCH", "1", "(FLAGS BODY.PEEK[] INTERNALDATE)")
assert typ == "OK", data
assert hashlib.sha256(data[0][1]).hexdigest() == hashlib.sha256(msg).hexdigest()
assert b"\\Flagged" in data[0][0], data
typ, data = m.search(None, "SUBJECT", "py")
assert data == [b"1"], data
typ, data = m.store("1", "+FLAGS", "(\\Deleted)")
assert typ == "OK", data
typ, data = m.expunge()
assert data == [b"1"], data
m.close()
m.logout()
print("ok")
"#,
        port = d.addr.port()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ok"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let imtest = std::path::Path::new("/usr/lib/cyrus/bin/imtest");
    if !imtest.exists() {
        eprintln!("imtest not installed; skipping");
        return;
    }
    let mut child = Command::new(imtest)
        .args(["-a", "alice", "-w", "alicepw", "-m", "PLAIN", "-p"])
        .arg(d.addr.port().to_string())
        .arg("127.0.0.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("imtest");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"x1 SELECT INBOX\r\nx2 LOGOUT\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("x1 OK [READ-WRITE] Completed"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn envelopes_of_messages_stored_by_others_are_computed_then_cached() {
    let f = Fixture::new("be1");
    let id = f.mailbox("user.alice", &[("alice", FULL)]);
    // As lmtpd would deliver: straight into the store, never through APPEND.
    for i in 1..=3 {
        let m = msg(
            &format!("lmtp{i}"),
            "Zed <z@example.org>",
            "alice@example.org",
            "x",
        );
        f.store
            .append(
                &id,
                &m,
                &Default::default(),
                daemons::store::InternalDate::now(),
            )
            .unwrap();
    }
    let d = f.imapd();
    let mut c = Client::login(d.addr, "alice", "alicepw");
    c.ok("EXAMINE INBOX");
    let first = lines(&c.ok("FETCH 1:3 ENVELOPE"));
    let second = lines(&c.ok("FETCH 1:3 (ENVELOPE)"));
    assert_eq!(first, second);
    assert!(
        first[2].contains("\"lmtp3\" ((\"Zed\" NIL \"z\" \"example.org\"))"),
        "{first:?}"
    );
    assert!(f.host.configdir().join("envelopes").is_dir());
}
