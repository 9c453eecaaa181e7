//! Interoperability of our MUPDATE master and slave with real Cyrus IMAP 3.6 (Debian's
//! packages): Cyrus's tools, backends and slave against our master, and our slave against a
//! Cyrus master. Every test skips (with a message) unless Cyrus is installed and the tests run
//! as root; see [`murder_tests::cyrus`] for how the Cyrus side is run and its quirks.

use std::path::Path;
use std::time::{Duration, Instant};

use daemons::mboxdb::MailboxDb;
use daemons::mupdate::client::{connect_authenticated, Credentials, MupdateClient};
use daemons::mupdate::server::record_of;
use murder_tests::cyrus::{self, CyrusInstance, Imap};
use murder_tests::{wait_until, Daemon, Host};
use protocol::mupdate::MailboxRecord;

const SECRET: &str = "secret";
const T: Duration = Duration::from_secs(10);
/// How long a change may take to travel master → slave (our master flushes streams every 5 s
/// or on the slave's NOOP keep-alive, every `mupdate_retry_delay` = 2 s here).
const PROPAGATION: Duration = Duration::from_secs(20);

/// Names whose order differs between plain byte order and Cyrus 3.6's dbname order
/// (reference §3.3): `user.alice.a.b` sorts before `user.alice.a-b` in 3.6.
const TRICKY: [&str; 4] = [
    "user.alice.a",
    "user.alice.a-b",
    "user.alice.a.b",
    "user.alice.ab",
];

fn skip(test: &str) -> bool {
    match cyrus::unavailable() {
        Some(why) => {
            eprintln!("SKIPPED {test}: {why}");
            true
        }
        None => false,
    }
}

fn creds(user: &str) -> Credentials {
    Credentials {
        authname: user.into(),
        username: None,
        password: SECRET.into(),
        mechs: Some("PLAIN".into()),
    }
}

/// Our MUPDATE master; `admins` may authenticate, each with the password [`SECRET`].
fn our_master(admins: &[&str]) -> (Host, Daemon) {
    let mut host = Host::new("mupdate")
        .conf("admins", &admins.join(" "))
        .conf("allowplaintext", "yes");
    for a in admins {
        host = host.user(a, SECRET);
    }
    let host = host.write();
    let d = Daemon::start(&host, "mupdate", &["-m"]);
    (host, d)
}

async fn client(port: u16, user: &str) -> MupdateClient {
    connect_authenticated("127.0.0.1", port, &creds(user), None, T)
        .await
        .unwrap_or_else(|e| panic!("authenticating as {user} to 127.0.0.1:{port}: {e}"))
}

async fn list(port: u16, user: &str, prefix: Option<&str>) -> Vec<MailboxRecord> {
    let mut c = client(port, user).await;
    let mut out = Vec::new();
    c.list(prefix, |r| out.push(r)).await.expect("LIST");
    c.logout().await;
    out
}

fn names(records: &[MailboxRecord]) -> Vec<String> {
    records.iter().map(|r| r.name.clone()).collect()
}

/// A Cyrus backend (`proxyservers` set, `mupdate_server` = ours) serving IMAP, pushing to
/// the MUPDATE server on `mupdate_port` as `backend1`.
fn cyrus_backend(mupdate_port: u16) -> CyrusInstance {
    CyrusInstance::builder("backend1")
        .conf("admins", "cyrus backend1")
        .conf("proxyservers", "murder")
        .conf("mupdate_server", &format!("127.0.0.1:{mupdate_port}"))
        .conf("mupdate_authname", "backend1")
        .conf("mupdate_username", "backend1")
        .conf("mupdate_password", SECRET)
        .user("cyrus", SECRET)
        .service("imap", "imapd")
        .start()
}

fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    // Blocking I/O (Cyrus tools, a sync IMAP session) off the async test's only thread.
    std::thread::spawn(f)
        .join()
        .expect("blocking helper panicked")
}

#[tokio::test]
async fn cyrus_mupdatetest_authenticates_to_our_master_and_lists_its_mailboxes() {
    if skip("mupdatetest → our master") {
        return;
    }
    let (_h, d) = our_master(&["mupduser"]);
    let port = d.addr.port();
    let mut c = client(port, "mupduser").await;
    c.reserve("user.alice", "backend1!default").await.unwrap();
    c.activate("user.alice", "backend1!default", "alice\tlrswipkxtecdan\t")
        .await
        .unwrap();
    c.reserve("user.bob", "backend2!default").await.unwrap();
    c.logout().await;

    let out = run_blocking(move || {
        cyrus::mupdatetest(
            port,
            "mupduser",
            SECRET,
            "L01 LIST\nF01 FIND \"user.alice\"\nL02 LIST \"backend2!\"\n",
        )
    });
    let expect = [
        "(master)\"",
        "A01 OK \"Authenticated\"",
        "Authenticated.",
        "L01 MAILBOX {10+}",
        "user.alice {16+}",
        "backend1!default {21+}",
        "alice\tlrswipkxtecdan\t",
        "L01 RESERVE {8+}",
        "user.bob {16+}",
        "L01 OK \"list complete\"",
        "F01 MAILBOX {10+}",
        "F01 OK \"Search completed\"",
        "L02 RESERVE {8+}",
        "L02 OK \"list complete\"",
    ];
    for e in expect {
        assert!(out.contains(e), "mupdatetest output lacks {e:?}:\n{out}");
    }
    assert!(
        !out.contains("L02 MAILBOX"),
        "LIST \"backend2!\" must not show backend1's mailbox:\n{out}"
    );
    assert!(!out.contains("BAD"), "{out}");
}

#[tokio::test]
async fn cyrus_backend_create_rename_delete_and_setacl_reach_our_master() {
    if skip("Cyrus backend → our master") {
        return;
    }
    let (_h, d) = our_master(&["backend1", "mupduser"]);
    let port = d.addr.port();
    let be = cyrus_backend(port);
    let imap_port = be.port("imap");

    run_blocking(move || {
        let mut s = Imap::login(imap_port, "cyrus", SECRET);
        s.command("CREATE user.alice").ok();
        s.command("CREATE user.alice.work").ok();
        s.logout();
    });
    let alice = {
        let mut c = client(port, "mupduser").await;
        let alice = c.find("user.alice").await.unwrap().expect("user.alice");
        let work = c.find("user.alice.work").await.unwrap().expect("work");
        assert_eq!(work.location(), "backend1!default");
        c.logout().await;
        alice
    };
    assert_eq!(alice.location(), "backend1!default");
    let acl = alice.acl().expect("active").to_owned();
    assert!(acl.starts_with("alice\t"), "{acl:?}");

    run_blocking(move || {
        let mut s = Imap::login(imap_port, "cyrus", SECRET);
        s.command("RENAME user.alice.work user.alice.play").ok();
        s.command("SETACL user.alice bob lrs").ok();
        s.logout();
    });
    let mut c = client(port, "mupduser").await;
    assert!(c.find("user.alice.work").await.unwrap().is_none());
    let play = c.find("user.alice.play").await.unwrap().expect("renamed");
    // Cyrus 3.6 pushes a renamed mailbox as `backend1!` (empty partition), and a Cyrus master
    // echoes that byte for byte; ours answers `backend1` (mailboxes.db cannot tell an empty
    // partition from none). Both name the right server, which is what frontends use.
    assert_eq!(
        play.location().split('!').next(),
        Some("backend1"),
        "{play:?}"
    );
    let alice = c.find("user.alice").await.unwrap().unwrap();
    assert!(
        alice.acl().unwrap().contains("bob\tlrs\t"),
        "SETACL must be pushed: {alice:?}"
    );
    c.logout().await;

    run_blocking(move || {
        let mut s = Imap::login(imap_port, "cyrus", SECRET);
        // An admin has no implicit `x` on a user's sub-mailbox: grant it first.
        s.command("SETACL user.alice.play cyrus x").ok();
        s.command("DELETE user.alice.play").ok();
        s.logout();
    });
    let all = list(port, "mupduser", None).await;
    let n = names(&all);
    assert!(!n.iter().any(|x| x == "user.alice.play"), "{n:?}");
    assert!(n.iter().any(|x| x == "user.alice"), "{n:?}");
    // Cyrus 3.6 defaults to delayed delete: the mailbox moves to DELETED.<name>.<HEX>,
    // which the master must hold like any other entry (reference §2.5).
    assert!(
        n.iter().any(|x| x.starts_with("DELETED.user.alice.play.")),
        "{n:?}"
    );
    // And the backend's own view agrees with ours.
    // Blocking, but nothing else runs on this test's runtime meanwhile.
    let mut local = be.mailbox_names();
    local.sort();
    let mut ours = n.clone();
    ours.sort();
    assert_eq!(local, ours);
}

#[tokio::test]
async fn cyrus_ctl_mboxlist_m_fills_our_empty_master_and_then_finds_it_in_sync() {
    if skip("ctl_mboxlist -m → our master") {
        return;
    }
    // Mailboxes are created while the backend follows master A...
    let (_ha, a) = our_master(&["backend1", "mupduser"]);
    let be = cyrus_backend(a.addr.port());
    let imap_port = be.port("imap");
    run_blocking(move || {
        let mut s = Imap::login(imap_port, "cyrus", SECRET);
        s.command("CREATE user.alice").ok();
        for n in TRICKY {
            s.command(&format!("CREATE {n}")).ok();
        }
        s.command("CREATE user.bob").ok();
        s.logout();
    });
    let on_a = list(a.addr.port(), "mupduser", Some("backend1!")).await;
    assert_eq!(on_a.len(), 6, "{:?}", names(&on_a));

    // ...then pushed with ctl_mboxlist -m into a fresh, empty master B, plus a stale entry.
    let (_hb, b) = our_master(&["backend1", "mupduser"]);
    let bport = b.addr.port();
    let mut c = client(bport, "mupduser").await;
    c.activate("user.ghost", "backend1!default", "ghost\tlrs\t")
        .await
        .unwrap();
    c.logout().await;
    let conf_b = be.conf_variant(
        "imapd-b.conf",
        &[("mupdate_server", &format!("127.0.0.1:{bport}"))],
    );

    let dry = be.tool_with_conf(&conf_b, "ctl_mboxlist", &["-m", "-w"]);
    let dry_out = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(dry.status.success(), "{dry_out}{}", stderr(&dry));
    assert!(
        dry_out.contains("Remove from MUPDATE: user.ghost"),
        "{dry_out}"
    );
    assert!(
        dry_out.contains("Force Activate: user.alice.a.b"),
        "{dry_out}"
    );

    let push = be.tool_with_conf(&conf_b, "ctl_mboxlist", &["-m"]);
    assert!(push.status.success(), "ctl_mboxlist -m: {}", stderr(&push));
    let on_b = list(bport, "mupduser", Some("backend1!")).await;
    assert_eq!(
        on_b, on_a,
        "master B must hold exactly the backend's mailboxes"
    );

    // A second run walks the agree queue: it only works when our LIST order equals the
    // backend's local order (else "mupdate said not us before it said us").
    let again = be.tool_with_conf(&conf_b, "ctl_mboxlist", &["-m"]);
    assert!(
        again.status.success(),
        "second ctl_mboxlist -m: {}",
        stderr(&again)
    );
    let again = be.tool_with_conf(&conf_b, "ctl_mboxlist", &["-m", "-w"]);
    let again_out = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        again.status.success(),
        "second ctl_mboxlist -m: {again_out}{}",
        stderr(&again)
    );
    assert_eq!(again_out.trim(), "", "in sync: nothing to do");
    assert_eq!(list(bport, "mupduser", Some("backend1!")).await, on_a);
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn cyrus_slave_syncs_from_our_master_and_follows_its_changes() {
    if skip("Cyrus slave ← our master") {
        return;
    }
    let (_h, d) = our_master(&["mupdateslave", "mupduser"]);
    let port = d.addr.port();
    let mut c = client(port, "mupduser").await;
    c.activate("user.alice", "backend1!default", "alice\tlrswipkxtecdan\t")
        .await
        .unwrap();
    for n in TRICKY {
        c.activate(n, "backend1!default", "alice\tlrswipkxtecdan\t")
            .await
            .unwrap();
    }
    c.activate("user.bob", "backend2!default", "bob\tlrswipkxtecdan\t")
        .await
        .unwrap();
    c.reserve("user.carol", "backend2!default").await.unwrap();

    let fe = CyrusInstance::builder("frontend")
        .conf("admins", "cyrus")
        .conf("mupdate_server", &format!("127.0.0.1:{port}"))
        .conf("mupdate_authname", "mupdateslave")
        .conf("mupdate_username", "mupdateslave")
        .conf("mupdate_password", SECRET)
        .user("cyrus", SECRET)
        .service("mupdate", "mupdate")
        .start();
    let slave_port = fe.port("mupdate");

    let ours = list(port, "mupduser", None).await;
    assert_eq!(ours.len(), 7);
    let theirs = list(slave_port, "cyrus", None).await;
    assert_eq!(
        theirs, ours,
        "the Cyrus slave's LIST must equal our master's"
    );
    let dumped = fe.tool("ctl_mboxlist", &["-d"]);
    let dumped = String::from_utf8_lossy(&dumped.stdout).into_owned();
    let entries = cyrus::dump_entries(&dumped);
    assert_eq!(
        entries.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        names(&ours),
        "{dumped}"
    );
    assert!(entries.iter().all(|(_, t)| t.contains('r')), "{dumped}");

    // Changes stream: a new mailbox, an ACL change, a delete, a reservation turned active.
    c.activate("user.dave", "backend1!default", "dave\tlrswipkxtecdan\t")
        .await
        .unwrap();
    c.activate(
        "user.alice",
        "backend1!default",
        "alice\tlrswipkxtecdan\tbob\tlrs\t",
    )
    .await
    .unwrap();
    c.delete("user.bob").await.unwrap();
    c.activate("user.carol", "backend2!default", "carol\tlrswipkxtecdan\t")
        .await
        .unwrap();
    c.logout().await;
    let want = list(port, "mupduser", None).await;
    let deadline = Instant::now() + PROPAGATION;
    let (followed, last) = loop {
        let last = list(slave_port, "cyrus", None).await;
        if last == want || Instant::now() >= deadline {
            break (last == want, last);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        followed,
        "the Cyrus slave did not follow:\nours:   {want:?}\ntheirs: {last:?}"
    );
}

#[tokio::test]
async fn our_slave_syncs_from_a_cyrus_master_and_follows_its_changes() {
    if skip("our slave ← Cyrus master") {
        return;
    }
    let cm = CyrusInstance::builder("mupdate")
        .conf("admins", "cyrus mupdateslave")
        .user("cyrus", SECRET)
        .user("mupdateslave", SECRET)
        .service("mupdate", "mupdate -m")
        .start();
    let cport = cm.port("mupdate");
    let mut c = client(cport, "cyrus").await;
    c.activate("user.alice", "backend1!default", "alice\tlrswipkxtecdan\t")
        .await
        .unwrap();
    for n in TRICKY {
        c.reserve(n, "backend1!default").await.unwrap();
        c.activate(n, "backend1!default", "alice\tlrswipkxtecdan\t")
            .await
            .unwrap();
    }
    c.activate("user.bob", "backend2!default", "bob\tlrswipkxtecdan\t")
        .await
        .unwrap();
    c.reserve("user.carol", "backend2!default").await.unwrap();

    let host = Host::new("frontend")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("mupdate_server", &format!("127.0.0.1:{cport}"))
        .conf("mupdate_authname", "mupdateslave")
        .conf("mupdate_password", SECRET)
        .conf("mupdate_retry_delay", "2")
        .user("cyrus", SECRET)
        .write();
    let mut slave = Daemon::start(&host, "mupdate", &[]);

    let theirs = list(cport, "cyrus", None).await;
    assert_eq!(theirs.len(), 7);
    let db = open_db(&host.configdir());
    let local = || -> Vec<MailboxRecord> {
        db.all()
            .expect("reading our slave's mailboxes.db")
            .iter()
            .filter_map(record_of)
            .collect()
    };
    assert!(
        wait_until(PROPAGATION, || local() == theirs),
        "our slave's mailboxes.db {:?}\n!= the Cyrus master's LIST {theirs:?}\nlog: {}",
        local(),
        slave.log_text()
    );
    // Our slave serves the same list, in the same (Cyrus 3.6) order.
    assert_eq!(list(slave.addr.port(), "cyrus", None).await, theirs);

    c.activate("user.dave", "backend1!default", "dave\tlrswipkxtecdan\t")
        .await
        .unwrap();
    c.activate(
        "user.alice",
        "backend1!default",
        "alice\tlrswipkxtecdan\tbob\tlrs\t",
    )
    .await
    .unwrap();
    c.delete("user.bob").await.unwrap();
    c.activate("user.carol", "backend2!default", "carol\tlrswipkxtecdan\t")
        .await
        .unwrap();
    c.logout().await;
    let want = list(cport, "cyrus", None).await;
    assert!(
        wait_until(PROPAGATION, || local() == want),
        "our slave did not follow the Cyrus master:\nours:   {:?}\ntheirs: {want:?}\nlog: {}",
        local(),
        slave.log_text()
    );
    assert!(slave.is_running());
    slave.stop();
}

fn open_db(configdir: &Path) -> MailboxDb {
    let mut db = None;
    let ok = wait_until(Duration::from_secs(10), || {
        db = MailboxDb::open_in(configdir).ok();
        db.is_some()
    });
    assert!(ok, "our slave's mailboxes.db did not appear");
    db.expect("db")
}

#[tokio::test]
async fn cyrus_backend_choosing_its_own_sasl_mechanism_authenticates_to_our_master() {
    if skip("Cyrus backend, own SASL choice → our master") {
        return;
    }
    // Without force_sasl_client_mech, Cyrus's client picks from our banner (SCRAM-SHA-256
    // first): observed on the wire, it chooses SCRAM-SHA-256 and accepts our OK, which like
    // Cyrus's carries no SASL success data.
    let (_h, d) = our_master(&["backend1", "mupduser"]);
    let port = d.addr.port();
    let be = CyrusInstance::builder("backend1")
        .conf("admins", "cyrus backend1")
        .conf("proxyservers", "murder")
        .conf("mupdate_server", &format!("127.0.0.1:{port}"))
        .conf("mupdate_authname", "backend1")
        .conf("mupdate_username", "backend1")
        .conf("mupdate_password", SECRET)
        .unset("force_sasl_client_mech")
        .user("cyrus", SECRET)
        .service("imap", "imapd")
        .start();
    let imap_port = be.port("imap");
    run_blocking(move || {
        let mut s = Imap::login(imap_port, "cyrus", SECRET);
        s.command("CREATE user.alice").ok();
        s.logout();
    });
    let mut c = client(port, "mupduser").await;
    let alice = c.find("user.alice").await.unwrap().expect("pushed");
    assert_eq!(alice.location(), "backend1!default");
    c.logout().await;
}
