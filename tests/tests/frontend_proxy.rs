//! What the IMAP and POP3 proxies do beyond relaying (reference §4.3–4.5, §4.10, §4.13), through
//! real processes (support/murder.rs: our master, two backends, a frontend): ENABLE on every
//! backend, the selected backend's news at each command and during IDLE, idle backend
//! connections closed and reopened, LIST RETURN data from every backend, quota roots that
//! span backends, referrals, a dying backend, and pop3proxyd's STLS.

#[path = "support/imap.rs"]
mod imap;
#[path = "support/murder.rs"]
mod murder;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use imap::Imap;
use murder::Murder;
use murder_tests::{wait_until, Daemon};

const MSG: &str = "From: s@example.org\r\nSubject: proxied\r\n\r\nHello.\r\n";

/// Delivers one message to `user` through lmtpproxyd (one recipient, so smtplib's single
/// reply after DATA is the whole answer).
fn deliver(m: &Murder, user: &str) {
    let script = "import smtplib,sys\nl=smtplib.LMTP(sys.argv[1],int(sys.argv[2]))\nr=l.sendmail('s@example.org',[sys.argv[4]],sys.argv[3].encode())\nassert not r, r\nl.quit()\n";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &m.lmtpproxyd.addr.ip().to_string(),
            &m.lmtpproxyd.addr.port().to_string(),
            MSG,
            user,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Established TCP connections to `port` on 127.0.0.1 (from /proc/net/tcp: the client ends,
/// whose remote port is `port`).
fn connections_to(port: u16) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!(":{port:04X}");
    text.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(2).is_some_and(|r| r.ends_with(&want)) && f.get(3) == Some(&"01")
        })
        .count()
}

/// A raw IMAP connection for what the line-oriented client cannot do (IDLE, BYE).
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    fn login(addr: SocketAddr, user: &str, pw: &str) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = Raw {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        assert!(c.line().starts_with("* OK"));
        c.send(&format!("l LOGIN {user} {pw}"));
        c.until("l ");
        c
    }

    fn send(&mut self, line: &str) {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }

    /// Reads lines up to one starting with `prefix`; returns them all.
    fn until(&mut self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line();
            assert!(!l.is_empty(), "connection closed; got {out:?}");
            let done = l.starts_with(prefix);
            out.push(l);
            if done {
                return out;
            }
        }
    }
}

/// One message in alice's INBOX and one in `shared` (backend2).
fn with_mail(m: &Murder) -> Imap {
    deliver(m, "alice");
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let r = alice.cmd(&format!("APPEND shared {{{}+}}\r\n{MSG}", MSG.len()));
    assert!(r.is_ok(), "{r:?}");
    alice
}

#[test]
fn enable_holds_on_every_backend_and_is_answered_once() {
    let m = Murder::start();
    let mut alice = with_mail(&m);
    // Without ENABLE no MODSEQ appears in FETCH answers.
    alice.ok("SELECT INBOX");
    let r = alice.ok("FETCH 1 (FLAGS)");
    assert!(!r.iter().any(|l| l.contains("MODSEQ")), "{r:?}");
    // backend1 is open already, backend2 not yet.
    let r = alice.ok("ENABLE CONDSTORE");
    assert_eq!(r, ["* ENABLED CONDSTORE"]);
    let r = alice.ok("FETCH 1 (FLAGS)");
    assert!(r.iter().any(|l| l.contains("MODSEQ")), "{r:?}");
    // A backend opened after ENABLE gets it too.
    alice.ok("SELECT shared");
    let r = alice.ok("FETCH 1 (FLAGS)");
    assert!(r.iter().any(|l| l.contains("MODSEQ")), "{r:?}");
    // Enabling again changes nothing.
    let r = alice.ok("ENABLE CONDSTORE");
    assert!(
        r.iter().all(|l| l == "* ENABLED" || l == "* ENABLED "),
        "{r:?}"
    );
}

#[test]
fn news_of_the_selected_backend_reach_the_client_at_each_command() {
    let m = Murder::start();
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let r = alice.ok("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 0 EXISTS"), "{r:?}");
    // Commands answered by the frontend itself, or by the other backend: the selected
    // backend is asked for news before the tagged answer (Cyrus does the same).
    let commands = [
        "LIST \"\" \"nothing\"",
        "CAPABILITY",
        "NAMESPACE",
        "MYRIGHTS INBOX",
        "STATUS shared (MESSAGES)",
        "ID NIL",
    ];
    for (i, c) in commands.iter().enumerate() {
        deliver(&m, "alice");
        let r = alice.ok(c);
        let want = format!("* {} EXISTS", i + 1);
        assert!(r.contains(&want), "{c}: {r:?}");
    }
    // An expunge by another session shows up too.
    let mut other = Imap::login(m.proxyd.addr, "alice", "alicepw");
    other.ok("SELECT INBOX");
    other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)");
    other.ok("EXPUNGE");
    let r = alice.ok("LIST \"\" INBOX");
    assert!(r.iter().any(|l| l == "* 1 EXPUNGE"), "{r:?}");
}

#[test]
fn idle_through_the_frontend_sees_new_mail() {
    let m = Murder::start();
    let mut c = Raw::login(m.proxyd.addr, "alice", "alicepw");
    c.send("s SELECT INBOX");
    c.until("s OK");
    c.send("i IDLE");
    assert!(c.line().starts_with("+ "));
    deliver(&m, "alice");
    let pushed = c.until("* 1 EXISTS");
    assert_eq!(pushed.last().map(String::as_str), Some("* 1 EXISTS"));
    c.send("DONE");
    c.until("i OK");
    // After IDLE the session goes on, and news still come at the next command.
    deliver(&m, "alice");
    c.send("n NAMESPACE");
    let r = c.until("n OK");
    assert!(r.iter().any(|l| l == "* 2 EXISTS"), "{r:?}");
}

#[test]
fn idle_backend_connections_are_closed_and_reopened() {
    let mut m = Murder::start();
    m.front_host.set("proxyd_backend_timeout", "2");
    let proxyd = Daemon::start(&m.front_host, "proxyd", &[]);
    let b1 = m.backends[0].1.addr.port();
    let b2 = m.backends[1].1.addr.port();
    let mut alice = Imap::login(proxyd.addr, "alice", "alicepw");
    alice.ok("SELECT INBOX");
    alice.ok("STATUS shared (MESSAGES)");
    assert_eq!((connections_to(b1), connections_to(b2)), (1, 1));
    // The client stays quiet: the connection to backend2 goes, the selected one stays.
    assert!(
        wait_until(Duration::from_secs(10), || connections_to(b2) == 0),
        "backend2's connection is still open"
    );
    assert_eq!(connections_to(b1), 1);
    // The next command that needs backend2 opens a new connection.
    let r = alice.ok("STATUS shared (MESSAGES)");
    assert!(r.iter().any(|l| l.contains("MESSAGES 0")), "{r:?}");
    assert_eq!(connections_to(b2), 1);
    alice.ok("NOOP");
}

#[test]
fn list_return_data_comes_from_every_backend() {
    let m = Murder::start();
    let mut alice = with_mail(&m);
    alice.ok("CREATE INBOX.Sent (USE (\\Sent))");
    alice.ok("SETMETADATA shared (/private/specialuse \"\\\\Drafts\")");
    alice.ok("SUBSCRIBE INBOX.Sent");
    alice.ok("SUBSCRIBE shared");
    // A plain LIST on a frontend shows no special use (as Cyrus's).
    assert_eq!(
        alice.ok("LIST \"\" \"*\""),
        [
            "* LIST (\\HasChildren) \".\" INBOX",
            "* LIST (\\HasNoChildren) \".\" INBOX.Sent",
            "* LIST (\\HasNoChildren) \".\" shared",
        ]
    );
    let r = alice.ok(
        "LIST \"\" \"*\" RETURN (SUBSCRIBED CHILDREN SPECIAL-USE MYRIGHTS STATUS (MESSAGES UIDNEXT))",
    );
    assert_eq!(
        r,
        [
            "* LIST (\\HasChildren) \".\" INBOX",
            "* STATUS INBOX (MESSAGES 1 UIDNEXT 2)",
            "* MYRIGHTS INBOX lrswipkxtecdan",
            "* LIST (\\Subscribed \\HasNoChildren \\Sent) \".\" INBOX.Sent",
            "* STATUS INBOX.Sent (MESSAGES 0 UIDNEXT 1)",
            "* MYRIGHTS INBOX.Sent lrswipkxtecdan",
            "* LIST (\\Subscribed \\HasNoChildren \\Drafts) \".\" shared",
            "* STATUS shared (MESSAGES 1 UIDNEXT 2)",
            "* MYRIGHTS shared lrswipkxtecd",
        ]
    );
    assert_eq!(
        alice.ok("LIST (SPECIAL-USE) \"\" \"*\""),
        [
            "* LIST (\\HasNoChildren \\Sent) \".\" INBOX.Sent",
            "* LIST (\\HasNoChildren \\Drafts) \".\" shared",
        ]
    );
    assert_eq!(
        alice.ok("LIST (SUBSCRIBED) \"\" \"*\" RETURN (STATUS (MESSAGES))"),
        [
            "* LIST (\\Subscribed \\HasNoChildren \\Sent) \".\" INBOX.Sent",
            "* STATUS INBOX.Sent (MESSAGES 0)",
            "* LIST (\\Subscribed \\HasNoChildren \\Drafts) \".\" shared",
            "* STATUS shared (MESSAGES 1)",
        ]
    );
    assert_eq!(
        alice.ok("LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""),
        [
            "* LIST (\\HasChildren) \".\" INBOX (\"CHILDINFO\" (\"SUBSCRIBED\"))",
            "* LIST (\\Subscribed \\HasNoChildren \\Drafts) \".\" shared",
        ]
    );
    // A backend that is down: its mailboxes are still listed, without its data.
    let mut m = m;
    m.stop_backend(1);
    let r = alice.ok("LIST \"\" \"*\" RETURN (STATUS (MESSAGES))");
    assert!(
        r.contains(&"* LIST (\\HasNoChildren) \".\" shared".to_string()),
        "{r:?}"
    );
    assert!(!r.iter().any(|l| l.starts_with("* STATUS shared")), "{r:?}");
    assert!(
        r.contains(&"* STATUS INBOX (MESSAGES 1)".to_string()),
        "{r:?}"
    );
    // Subscriptions live on the INBOX backend: with it down the answer is NO, not an empty
    // list a client might take for "no subscriptions" (reference §4.5).
    let mut bob = Imap::login(m.proxyd.addr, "bob", "bobpw");
    let r = bob.no("LIST \"\" \"*\" RETURN (SUBSCRIBED)");
    assert!(r.starts_with("[UNAVAILABLE]"), "{r}");
    bob.ok("LIST \"\" \"*\"");
}

#[test]
fn a_quota_root_must_live_on_one_backend() {
    let m = Murder::start();
    let mut admin = Imap::login(m.proxyd.addr, "cyrus", "secret");
    admin.ok("SETQUOTA user.alice (STORAGE 1000)");
    assert_eq!(
        admin.ok("GETQUOTA user.alice"),
        ["* QUOTA user.alice (STORAGE 0 1000)"]
    );
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let r = alice.ok("GETQUOTAROOT INBOX");
    assert!(r.contains(&"* QUOTAROOT INBOX INBOX".to_string()), "{r:?}");
    assert_eq!(
        admin.no("GETQUOTA user.nosuch"),
        "Quota root does not exist"
    );
    // A mailbox below alice's root appears on backend2.
    let mut b2 = Imap::login(m.backends[1].1.addr, "cyrus", "secret");
    b2.ok("CREATE user.alice.far");
    assert!(murder::wait_synced(
        &m.front_host,
        &["user.alice.far"],
        "backend2"
    ));
    let split = "This mailbox hierarchy does not exist on a single backend server.";
    assert_eq!(admin.no("GETQUOTA user.alice"), split);
    assert_eq!(admin.no("SETQUOTA user.alice (STORAGE 2000)"), split);
    // A root wholly on backend2 is fine.
    admin.ok("SETQUOTA user.alice.far (STORAGE 500)");
    assert_eq!(
        admin.ok("GETQUOTA user.alice.far"),
        ["* QUOTA user.alice.far (STORAGE 0 500)"]
    );
}

#[test]
fn referrals_go_to_clients_that_follow_them() {
    let mut m = Murder::start();
    let b2 = m.backends[1].1.addr;
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let r = alice.ok("CAPABILITY");
    assert!(r[0].contains(" MAILBOX-REFERRALS"), "{r:?}");
    // Until the client shows it follows referrals, everything is proxied.
    alice.ok("EXAMINE shared");
    alice.ok("RLIST \"\" \"\"");
    let referral = format!("[REFERRAL imap://;AUTH=*@{b2}/shared] Remote mailbox.");
    assert_eq!(alice.no("SELECT shared"), referral);
    assert_eq!(alice.no("EXAMINE shared"), referral);
    assert_eq!(alice.no("DELETE shared"), referral);
    let r = alice.cmd(&format!("APPEND shared {{{}+}}\r\n{MSG}", MSG.len()));
    assert_eq!(r.tagged, format!("NO {referral}"));
    // STATUS is proxied unless the administrator allows referring it.
    alice.ok("STATUS shared (MESSAGES)");
    assert_eq!(alice.no("SELECT nosuch"), "Mailbox does not exist");
    // The referral names a server the client can reach: a direct login there works.
    let mut direct = Imap::login(b2, "alice", "alicepw");
    direct.ok("EXAMINE shared");
    // ACL changes by a user are proxied; an admin's are referred (a frontend admin is no
    // admin on the backend), and so are an admin's CREATE and RECONSTRUCT.
    // (alice lacks `a` on shared: the backend's answer, not a referral.)
    assert_eq!(alice.no("SETACL shared bob lr"), "Permission denied");
    let mut admin = Imap::login(m.proxyd.addr, "cyrus", "secret");
    admin.ok("RLIST \"\" \"\"");
    assert_eq!(
        admin.no("SETACL shared bob lrs"),
        format!("[REFERRAL imap://;AUTH=*@{b2}/shared] Remote mailbox.")
    );
    assert_eq!(
        admin.no("RECONSTRUCT shared"),
        format!("[REFERRAL imap://;AUTH=*@{b2}/shared] Remote mailbox.")
    );
    let r = admin.no("CREATE user.zed");
    assert!(
        r.starts_with("[REFERRAL imap://;AUTH=*@127.0.0.1:")
            && r.ends_with("/user.zed] Remote mailbox."),
        "{r}"
    );
    assert!(!m.front_has("user.zed"));

    // proxyd_allow_status_referral refers STATUS too; proxyd_disable_mailbox_referrals turns
    // referrals off and stops advertising them.
    m.front_host.set("proxyd_allow_status_referral", "yes");
    let proxyd = Daemon::start(&m.front_host, "proxyd", &[]);
    let mut c = Imap::login(proxyd.addr, "alice", "alicepw");
    c.ok("STATUS shared (MESSAGES)");
    c.ok("LIST (REMOTE) \"\" \"\"");
    assert_eq!(c.no("STATUS shared (MESSAGES)"), referral);
    m.front_host.set("proxyd_disable_mailbox_referrals", "yes");
    let proxyd2 = Daemon::start(&m.front_host, "proxyd", &[]);
    let mut c = Imap::login(proxyd2.addr, "alice", "alicepw");
    let r = c.ok("CAPABILITY");
    assert!(!r[0].contains("MAILBOX-REFERRALS"), "{r:?}");
    c.ok("RLIST \"\" \"\"");
    c.ok("SELECT shared");
    c.ok("STATUS shared (MESSAGES)");
    let _ = &mut m;
}

#[test]
fn a_dying_backend_ends_only_the_sessions_selected_on_it() {
    let mut m = Murder::start();
    let mut on_b2 = Raw::login(m.proxyd.addr, "alice", "alicepw");
    on_b2.send("s SELECT shared");
    on_b2.until("s OK");
    let mut on_b1 = Imap::login(m.proxyd.addr, "alice", "alicepw");
    on_b1.ok("SELECT INBOX");
    on_b1.ok("STATUS shared (MESSAGES)");
    let mut bob = Raw::login(m.proxyd.addr, "bob", "bobpw");
    bob.send("s SELECT INBOX");
    bob.until("s OK");
    m.stop_backend(1);
    // The session selected on backend2: BYE, then the connection closes.
    on_b2.send("f FETCH 1:* (FLAGS)");
    let mut rest = String::new();
    let _ = on_b2.r.read_to_string(&mut rest);
    assert!(
        rest.starts_with("* BYE Fatal error: Lost connection to selected backend"),
        "{rest:?}"
    );
    // Bob, selected on backend2 as well, gets his BYE at his next command.
    bob.send("n NOOP");
    let mut rest = String::new();
    let _ = bob.r.read_to_string(&mut rest);
    assert!(rest.starts_with("* BYE"), "{rest:?}");
    // A session selected on backend1 goes on; backend2's mailboxes are NO [UNAVAILABLE].
    let r = on_b1.no("STATUS shared (MESSAGES)");
    assert!(r.starts_with("[UNAVAILABLE]"), "{r}");
    on_b1.ok("NOOP");
    on_b1.ok("LIST \"\" \"*\"");
    // New sessions are welcome; the frontend lives on.
    let start = Instant::now();
    let mut alice = Imap::login(m.proxyd.addr, "alice", "alicepw");
    alice.ok("SELECT INBOX");
    assert!(start.elapsed() < Duration::from_secs(10));
    // The backend comes back: the same mailbox works again, for new and old sessions.
    m.restart_backend(1);
    alice.ok("SELECT shared");
    on_b1.ok("STATUS shared (MESSAGES)");
}

/// A POP3 session through pop3proxyd over STLS with python's poplib; returns the CAPA lines
/// before and after STLS and the message count.
fn pop3_stls(addr: SocketAddr, user: &str, pw: &str) -> String {
    let script = "import poplib,ssl,sys\np=poplib.POP3(sys.argv[1],int(sys.argv[2]))\nprint('before',sorted(p.capa()))\nc=ssl.create_default_context()\nc.check_hostname=False\nc.verify_mode=ssl.CERT_NONE\np.stls(c)\nprint('after',sorted(p.capa()))\np.user(sys.argv[3])\np.pass_(sys.argv[4])\nprint('count',p.stat()[0])\np.quit()\n";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            user,
            pw,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn pop3proxyd_offers_stls_when_tls_is_configured() {
    let mut m = Murder::start();
    deliver(&m, "alice");
    // Without TLS configured: no STLS, and it is refused.
    let plain = {
        let s = TcpStream::connect(m.pop3proxyd.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        w.write_all(b"CAPA\r\nSTLS\r\nQUIT\r\n").unwrap();
        let mut all = String::new();
        let _ = r.read_to_string(&mut all);
        all
    };
    assert!(!plain.contains("STLS\r\n"), "{plain}");
    assert!(plain.contains("-ERR"), "{plain}");

    let dir = tempfile::tempdir().unwrap();
    let certs = daemons::tls::generate_certs(dir.path(), &["localhost", "127.0.0.1"]).unwrap();
    m.front_host
        .set("tls_server_cert", certs.cert.to_str().unwrap());
    m.front_host
        .set("tls_server_key", certs.key.to_str().unwrap());
    m.front_host.set("allowplaintext", "no");
    let pop3 = Daemon::start(&m.front_host, "pop3proxyd", &[]);
    let out = pop3_stls(pop3.addr, "alice", "alicepw");
    let mut lines = out.lines();
    let before = lines.next().unwrap_or_default();
    let after = lines.next().unwrap_or_default();
    assert!(before.contains("'STLS'"), "{out}");
    assert!(!before.contains("'USER'"), "{out}");
    assert!(!after.contains("'STLS'"), "{out}");
    assert!(after.contains("'USER'"), "{out}");
    assert_eq!(lines.next(), Some("count 1"), "{out}");
    // Plaintext login before STLS is refused when allowplaintext is off.
    let s = TcpStream::connect(pop3.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    w.write_all(b"USER alice\r\n").unwrap();
    l.clear();
    r.read_line(&mut l).unwrap();
    assert!(l.starts_with("-ERR [AUTH]"), "{l}");
    // pop3s (-s): TLS from the first byte, then the same proxied session.
    let pop3s = Daemon::start(&m.front_host, "pop3proxyd", &["-s"]);
    let script = "import poplib,ssl,sys\nc=ssl.create_default_context()\nc.check_hostname=False\nc.verify_mode=ssl.CERT_NONE\np=poplib.POP3_SSL(sys.argv[1],int(sys.argv[2]),context=c)\np.user('alice')\np.pass_('alicepw')\nprint(p.stat()[0])\np.quit()\n";
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &pop3s.addr.ip().to_string(),
            &pop3s.addr.port().to_string(),
        ])
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unauthenticate_on_a_backend_forgets_the_user_and_a_frontend_does_not_offer_it() {
    let m = Murder::start();
    let mut c = Imap::login(m.backends[0].1.addr, "alice", "alicepw");
    let caps = c.ok("CAPABILITY");
    assert!(
        caps.iter().any(|l| l.contains(" UNAUTHENTICATE")),
        "{caps:?}"
    );
    c.ok("SELECT INBOX");
    c.ok("UNAUTHENTICATE");
    // Back to the not-authenticated state, on the same connection.
    let r = c.cmd("SELECT INBOX");
    assert!(r.tagged.starts_with("BAD"), "{r:?}");
    let caps = c.ok("CAPABILITY");
    assert!(
        !caps.iter().any(|l| l.contains(" UNAUTHENTICATE")),
        "{caps:?}"
    );
    assert!(c.cmd("UNAUTHENTICATE").tagged.starts_with("BAD"));
    // Someone else logs in and is that someone: bob has no INBOX on backend1.
    c.ok("LOGIN bob bobpw");
    c.no("SELECT INBOX");
    c.ok("LOGOUT");
    // A frontend's backend connections belong to its user: it neither offers nor runs it.
    let mut f = Imap::login(m.proxyd.addr, "alice", "alicepw");
    let caps = f.ok("CAPABILITY");
    assert!(
        !caps.iter().any(|l| l.contains("UNAUTHENTICATE")),
        "{caps:?}"
    );
    assert!(f.cmd("UNAUTHENTICATE").tagged.starts_with("BAD"));
    f.ok("SELECT INBOX");
}

#[test]
fn backend_connections_serve_the_next_session_as_its_own_user() {
    let mut m = Murder::start();
    deliver(&m, "alice");
    let b1 = m.backends[0].1.addr.port();
    // The proxy logs in to backends with SCRAM (one round trip after another) on m.proxyd,
    // and with PLAIN on a second proxyd, where the AUTHENTICATE on a pooled connection is
    // pipelined with the session's first command.
    m.front_host.set("force_sasl_client_mech", "PLAIN");
    let plain = Daemon::start(&m.front_host, "proxyd", &[]);
    for (round, proxyd) in [m.proxyd.addr, plain.addr].into_iter().enumerate() {
        let session = |user: &str, pw: &str, mailbox: &str| {
            let mut c = Imap::login(proxyd, user, pw);
            let r = c.ok(&format!("SELECT {mailbox}"));
            assert!(r.iter().any(|l| l == "* 1 EXISTS"), "{user}: {r:?}");
            c
        };
        // alice's session ends; its backend connection stays open, unauthenticated, for the
        // next session.
        let mut alice = session("alice", "alicepw", "INBOX");
        alice.ok("LOGOUT");
        assert!(
            wait_until(Duration::from_secs(10), || m.backends[0]
                .1
                .log_text()
                .matches("unauthenticated")
                .count()
                > round * 3),
            "{}",
            m.logs()
        );
        // One pooled connection per proxyd so far.
        assert_eq!(connections_to(b1), round + 1);
        // The admin's session takes it over (no new connection) and acts as the admin.
        let mut admin = Imap::login(proxyd, "cyrus", "secret");
        admin.ok("GETACL user.alice");
        admin.ok("SETQUOTA user.alice (STORAGE 100000)");
        admin.ok("LOGOUT");
        assert_eq!(connections_to(b1), round + 1);
        // Then alice again, as alice: the admin's rights did not stay with the connection.
        let mut alice = session("alice", "alicepw", "INBOX");
        alice.no("SETQUOTA user.alice (STORAGE 1)");
        assert_eq!(connections_to(b1), round + 1);
        alice.ok("LOGOUT");
    }
    // The backend saw the proxy user log in for alice, the admin, then alice, on one
    // connection per proxyd.
    let log = m.backends[0].1.log_text();
    let logins: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" login") && l.contains("authid=murder"))
        .map(|l| {
            l.split("user=")
                .nth(1)
                .and_then(|u| u.split_whitespace().next())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        logins,
        ["alice", "cyrus", "alice", "alice", "cyrus", "alice"],
        "{log}"
    );
    // With `proxyd_backend_pool: 0` every session gets (and closes) its own connection.
    m.front_host.set("proxyd_backend_pool", "0");
    let proxyd = Daemon::start(&m.front_host, "proxyd", &[]);
    let mut c = Imap::login(proxyd.addr, "alice", "alicepw");
    c.ok("SELECT INBOX");
    assert_eq!(connections_to(b1), 3);
    c.ok("LOGOUT");
    assert!(
        wait_until(Duration::from_secs(10), || connections_to(b1) == 2),
        "the unpooled connection stayed open"
    );
}
