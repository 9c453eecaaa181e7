//! XFER between two of our backends with our MUPDATE master, all real processes: a whole
//! user moves (every folder, messages byte for byte, flags, seen state, subscriptions, quota
//! root, sieve scripts), nothing stays on the source, the master names the destination; the
//! same through `RENAME user.bob user.bob backend2!default`; a destination that does not list
//! the source as an admin is refused up front; and a `kill -9` of either backend in the
//! middle (injected with `MURDER_XFER_FAULT`) leaves one complete copy that the master names,
//! and running the XFER again finishes the move (reference §5.4, §10 items 6–7). While a
//! mailbox is being moved, writes to it (APPEND, STORE, EXPUNGE, COPY into it, LMTP delivery,
//! directly or through a frontend's lmtpproxyd) are refused with a temporary error, never
//! accepted and lost; after the move, deliveries reach the destination (§5.6).

#[path = "support/imap.rs"]
mod imap;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

use daemons::mboxdb::{MailboxDb, MbState};
use daemons::mupdate::client::{connect_authenticated, Credentials};
use daemons::store::{
    Flags, InternalDate, Keyword, MailboxId, NewMessage, Store, SystemFlags, UidSet,
};
use imap::Imap;
use murder_tests::{Daemon, Host};
use protocol::mailbox::InternalName;
use protocol::mupdate::MailboxRecord;

const FOLDERS: &[&str] = &[
    "user.bob",
    "user.bob.Sent",
    "user.bob.Drafts",
    "user.bob.Archive",
    "user.bob.Archive.2020",
];

/// Daemons are started with the fault variable set in this process's environment; starts
/// are serialised so no other daemon inherits it.
static START: Mutex<()> = Mutex::new(());

fn start_imapd(host: &Host, listen: &str, fault: Option<&str>) -> Daemon {
    let _g = START.lock().unwrap_or_else(|e| e.into_inner());
    match fault {
        Some(f) => std::env::set_var("MURDER_XFER_FAULT", f),
        None => std::env::remove_var("MURDER_XFER_FAULT"),
    }
    let d = Daemon::start_on(host, "imapd", &[], listen);
    std::env::remove_var("MURDER_XFER_FAULT");
    d
}

struct Murder {
    _master_host: Host,
    master: Daemon,
    b1_host: Host,
    b1: Daemon,
    b2_host: Host,
    b2: Daemon,
    b2_listen: String,
}

fn backend(name: &str, master: &Daemon, admins: &str) -> Host {
    Host::new(name)
        .conf("admins", admins)
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("proxyservers", "murder")
        .conf("lmtp_admins", "cyrus murder")
        .conf("allowusermoves", "yes")
        .conf("mupdate_server", &master.addr.to_string())
        .conf("mupdate_authname", name)
        .conf("mupdate_password", "secret")
        .conf("proxy_authname", name)
        .conf("proxy_password", "secret")
        .conf("client_timeout", "10")
        .user("cyrus", "secret")
        .user("murder", "secret")
        .user("backend1", "secret")
        .user("backend2", "secret")
}

fn murder(b2_admins: &str, b2_fault: Option<&str>, b1_fault: Option<&str>) -> Murder {
    let master_host = Host::new("mupdate")
        .conf("admins", "backend1 backend2")
        .conf("allowplaintext", "yes")
        .user("backend1", "secret")
        .user("backend2", "secret")
        .write();
    let master = Daemon::start(&master_host, "mupdate", &["-m"]);
    let b2_host = backend("backend2", &master, b2_admins);
    let part2 = b2_host.path("spool2").display().to_string();
    let b2_host = b2_host.conf("partition-part2", &part2).write();
    let b2 = start_imapd(&b2_host, "127.0.0.1:0", b2_fault);
    let b2_listen = b2.addr.to_string();
    let b1_host = backend("backend1", &master, "cyrus backend2")
        .conf("backend2_imap", &b2_listen)
        .write();
    let b1 = start_imapd(&b1_host, "127.0.0.1:0", b1_fault);
    Murder {
        _master_host: master_host,
        master,
        b1_host,
        b1,
        b2_host,
        b2,
        b2_listen,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `FIND` at the master for each name.
fn find(m: &Murder, names: &[&str]) -> Vec<Option<MailboxRecord>> {
    rt().block_on(async {
        let creds = Credentials {
            authname: "backend1".into(),
            username: None,
            password: "secret".into(),
            mechs: None,
        };
        let mut c = connect_authenticated(
            &m.master.addr.ip().to_string(),
            m.master.addr.port(),
            &creds,
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        for n in names {
            out.push(c.find(n).await.unwrap());
        }
        c.logout().await;
        out
    })
}

fn assert_master_at(m: &Murder, location: &str) {
    for (n, r) in FOLDERS.iter().zip(find(m, FOLDERS)) {
        let r = r.unwrap_or_else(|| panic!("{n} unknown at the master"));
        assert!(r.is_active(), "{n}: {r:?}");
        assert_eq!(r.location(), location, "{n}");
    }
}

fn open_store(host: &Host) -> Store {
    let mut parts = BTreeMap::new();
    parts.insert("default".to_string(), host.path("spool"));
    Store::open(&host.configdir(), parts).unwrap()
}

/// One mailbox: uniqueid, state and ACL, records, message bodies, bob's seen UIDs.
type MailboxSnapshot = (String, String, Vec<String>, Vec<Vec<u8>>, Vec<u32>);

/// Everything of bob's that must move, keyed by mailbox name.
#[derive(Debug, PartialEq)]
struct Snapshot {
    mailboxes: BTreeMap<String, MailboxSnapshot>,
    subscriptions: Vec<String>,
    sieve: Vec<(String, bool)>,
    sieve_body: Option<Vec<u8>>,
    quota: Option<(Option<u64>, u64)>,
}

/// Reads bob's state from a stopped backend's files.
fn snapshot(host: &Host) -> Snapshot {
    let db = MailboxDb::open_in(&host.configdir()).unwrap();
    let store = open_store(host);
    let mut mailboxes = BTreeMap::new();
    for e in db.all().unwrap() {
        if !e.name.starts_with("user.bob") {
            continue;
        }
        let id = MailboxId::new(&e.uniqueid).unwrap();
        let recs = store.records(&id).unwrap();
        let meta: Vec<String> = recs
            .iter()
            .map(|r| {
                format!(
                    "{} {:?} {:?} {} {:?}",
                    r.uid, r.flags, r.guid, r.size, r.internaldate
                )
            })
            .collect();
        let bodies: Vec<Vec<u8>> = recs
            .iter()
            .map(|r| store.read_message(&id, r.uid).unwrap())
            .collect();
        let seen = store.seen("bob", &id).unwrap();
        let seen: Vec<u32> = (1..=1000).filter(|u| seen.seen.contains(*u)).collect();
        let state = format!("{:?}{}", e.state(), e.acl);
        mailboxes.insert(
            e.name.clone(),
            (e.uniqueid.clone(), state, meta, bodies, seen),
        );
    }
    let quota = store
        .quota("user.bob")
        .unwrap()
        .map(|q| (q.limits.storage_kib, q.usage.messages));
    Snapshot {
        mailboxes,
        subscriptions: store
            .subscriptions("bob")
            .unwrap()
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect(),
        sieve: store.sieve_scripts("bob").unwrap(),
        sieve_body: store.sieve_script("bob", "main").unwrap(),
        quota,
    }
}

/// Creates bob's folders over IMAP (so the master knows them), then fills them through the
/// store while the source is stopped, and starts it again.
fn populate(m: &mut Murder, per_folder: u32) {
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    for f in FOLDERS {
        admin.ok(&format!("CREATE {f}"));
    }
    admin.ok("SETQUOTA user.bob (STORAGE 1000000)");
    drop(admin);
    m.b1.stop();
    {
        let db = MailboxDb::open_in(&m.b1_host.configdir()).unwrap();
        let store = open_store(&m.b1_host);
        for (i, f) in FOLDERS.iter().enumerate() {
            let e = db.get(f).unwrap().unwrap();
            let id = MailboxId::new(&e.uniqueid).unwrap();
            let bodies: Vec<Vec<u8>> = (0..per_folder)
                .map(|n| {
                    format!(
                        "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: {f} #{n}\r\n\r\nbody {i}/{n} {}\r\n",
                        "x".repeat((n as usize * 37) % 4000)
                    )
                    .into_bytes()
                })
                .collect();
            let msgs: Vec<NewMessage> = bodies
                .iter()
                .enumerate()
                .map(|(n, b)| {
                    let mut flags = Flags::default();
                    if n % 3 == 0 {
                        flags.system = flags.system.union(SystemFlags::FLAGGED);
                    }
                    if n % 5 == 0 {
                        flags.keywords.insert(Keyword::new("$Label1").unwrap());
                    }
                    NewMessage {
                        bytes: b,
                        flags,
                        internaldate: InternalDate {
                            secs: 1_600_000_000 + n as i64,
                            tz_minutes: 60,
                        },
                    }
                })
                .collect();
            store.append_batch(&id, &msgs).unwrap();
            store
                .set_seen("bob", &id, UidSet::from_uids(1..=per_folder / 2))
                .unwrap();
            store
                .subscribe("bob", &InternalName::new(f).unwrap())
                .unwrap();
        }
        store
            .put_sieve("bob", "main", b"require \"fileinto\";\r\nkeep;\r\n")
            .unwrap();
        store.set_active_sieve("bob", Some("main")).unwrap();
    }
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
}

/// Whether anything of bob is left on a stopped backend.
fn assert_nothing_left(host: &Host, ids: &[String]) {
    let db = MailboxDb::open_in(&host.configdir()).unwrap();
    let left: Vec<String> = db
        .all()
        .unwrap()
        .into_iter()
        .filter(|e| e.name.contains("user.bob"))
        .map(|e| e.name)
        .collect();
    assert!(left.is_empty(), "entries left on the source: {left:?}");
    let store = open_store(host);
    let all = store.mailbox_ids().unwrap();
    for id in ids {
        assert!(
            !all.contains(&MailboxId::new(id).unwrap()),
            "mailbox {id} left in the source store"
        );
    }
    assert!(store.subscriptions("bob").unwrap().is_empty());
    assert!(store.sieve_scripts("bob").unwrap().is_empty());
    assert!(store.quota("user.bob").unwrap().is_none());
}

fn ids(s: &Snapshot) -> Vec<String> {
    s.mailboxes.values().map(|v| v.0.clone()).collect()
}

/// Checks a finished move: master at backend2, the destination's copy equal to `before`,
/// nothing on the source. Stops both backends.
fn assert_moved(m: &mut Murder, before: &Snapshot) {
    assert_master_at(m, "backend2!default");
    m.b1.stop();
    m.b2.stop();
    let after = snapshot(&m.b2_host);
    assert_eq!(after.mailboxes.len(), FOLDERS.len());
    assert_eq!(&after, before);
    assert_nothing_left(&m.b1_host, &ids(before));
}

/// Sends a command that kills the server; returns what came back before the connection
/// closed.
fn run_until_closed(addr: SocketAddr, command: &str) -> String {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    w.write_all(b"a LOGIN cyrus secret\r\n").unwrap();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line.starts_with("a ") {
            assert!(line.starts_with("a OK"), "{line}");
            break;
        }
    }
    w.write_all(format!("b {command}\r\n").as_bytes()).unwrap();
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    rest
}

#[test]
fn xfer_moves_a_whole_user() {
    let mut m = murder("cyrus backend1", None, None);
    populate(&mut m, 200);
    m.b1.stop();
    let before = snapshot(&m.b1_host);
    assert_eq!(
        before.mailboxes.values().map(|v| v.3.len()).sum::<usize>(),
        1000
    );
    assert_eq!(before.sieve, vec![("main".to_string(), true)]);
    // About 2 MB: the transfer goes in several chunks.
    let bytes: usize = before
        .mailboxes
        .values()
        .flat_map(|v| &v.3)
        .map(Vec::len)
        .sum();
    assert!(bytes > 2 * 1024 * 1024 - 200_000, "{bytes}");
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    assert_master_at(&m, "backend1!default");

    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(r.untagged, vec!["* OK USER bob".to_string()]);
    // bob is gone from the source's view.
    assert_eq!(admin.no("GETACL user.bob"), "Mailbox does not exist");
    drop(admin);
    assert_moved(&mut m, &before);
}

#[test]
fn rename_with_a_server_moves_the_user() {
    let mut m = murder("cyrus backend1", None, None);
    populate(&mut m, 10);
    m.b1.stop();
    let before = snapshot(&m.b1_host);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("RENAME user.bob user.bob backend2!default");
    assert!(r.is_ok(), "{r:?}");
    drop(admin);
    assert_moved(&mut m, &before);
}

#[test]
fn a_destination_that_does_not_list_us_as_admin_is_refused() {
    let mut m = murder("cyrus", None, None);
    populate(&mut m, 3);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert_eq!(
        r.tagged,
        "NO the destination refuses backend1: not an admin there"
    );
    assert_eq!(
        r.untagged,
        vec!["* NO USER bob (the destination refuses backend1: not an admin there)".to_string()]
    );
    assert_master_at(&m, "backend1!default");
    m.b1.stop();
    let db = MailboxDb::open_in(&m.b1_host.configdir()).unwrap();
    for f in FOLDERS {
        assert_eq!(db.get(f).unwrap().unwrap().state(), MbState::Local);
    }
}

#[test]
fn xfer_checks_its_arguments() {
    let mut m = murder("cyrus backend1", None, None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    admin.ok("CREATE user.bob");
    admin.ok("CREATE user.bob.Sent");
    assert_eq!(
        admin.no("XFER user.bob backend1"),
        "Invalid server requested"
    );
    assert_eq!(
        admin.no("XFER user.bob.Sent backend2"),
        "Operation is not supported on mailbox"
    );
    assert_eq!(
        admin.no("XFER user.nobody backend2"),
        "Mailbox does not exist"
    );
    let r = admin.cmd("XFER user.bob backend2 \"bad part\"");
    assert!(r.tagged.starts_with("BAD"), "{r:?}");
    drop(admin);

    // The destination's private command: admins only, arguments checked.
    let mut other = Imap::login(m.b2.addr, "backend2", "secret");
    assert_eq!(
        other.no("XFERIMPORT CHECK"),
        "only administrators may use XFERIMPORT command"
    );
    let mut admin2 = Imap::login(m.b2.addr, "cyrus", "secret");
    admin2.ok("XFERIMPORT CHECK");
    for bad in [
        "XFERIMPORT",
        "XFERIMPORT BOGUS",
        "XFERIMPORT BEGIN ../x",
        "XFERIMPORT COMMIT x1 \"a b\"",
    ] {
        let r = admin2.cmd(bad);
        assert!(r.tagged.starts_with("BAD"), "{bad}: {r:?}");
    }
    assert_eq!(
        admin2.no("XFERIMPORT COMMIT nothing NIL"),
        "XFERIMPORT: nothing received for this transfer"
    );
    // A damaged transfer changes nothing.
    admin2.ok("XFERIMPORT BEGIN t1");
    admin2.ok("XFERIMPORT DATA t1 {5+}\r\nhello");
    assert!(admin2.no("XFERIMPORT COMMIT t1 NIL").contains("bundle"));
    admin2.ok("XFERIMPORT ABORT t1");
    m.b2.stop();
}

#[test]
fn killing_the_destination_mid_xfer_keeps_the_source_copy_and_a_rerun_finishes() {
    let mut m = murder("cyrus backend1", Some("dest-after-import"), None);
    populate(&mut m, 20);
    m.b1.stop();
    let before = snapshot(&m.b1_host);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);

    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.tagged.starts_with("NO "), "{r:?}");
    assert_eq!(r.untagged.len(), 1);
    assert!(r.untagged[0].starts_with("* NO USER bob ("), "{r:?}");
    assert!(murder_tests::wait_until(Duration::from_secs(5), || !m
        .b2
        .is_running()));
    // One complete copy, the one the master names.
    assert_master_at(&m, "backend1!default");
    drop(admin);
    m.b1.stop();
    assert_eq!(snapshot(&m.b1_host), before);

    // The rerun, with the destination back, finishes the move.
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    m.b2 = start_imapd(&m.b2_host, &m.b2_listen.clone(), None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.is_ok(), "{r:?}");
    drop(admin);
    assert_moved(&mut m, &before);
}

#[test]
fn killing_the_source_after_the_destination_took_over_and_a_rerun_cleans_up() {
    let mut m = murder("cyrus backend1", None, Some("source-after-commit"));
    // populate() restarts the source without the fault; restart it with it afterwards.
    populate(&mut m, 20);
    m.b1.stop();
    let before = snapshot(&m.b1_host);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", Some("source-after-commit"));
    let out = run_until_closed(m.b1.addr, "XFER user.bob backend2");
    assert!(!out.contains("b OK"), "{out}");
    assert!(murder_tests::wait_until(Duration::from_secs(5), || !m
        .b1
        .is_running()));
    // The master names the destination, which holds everything.
    assert_master_at(&m, "backend2!default");
    m.b2.stop();
    assert_eq!(snapshot(&m.b2_host), before);
    {
        let db = MailboxDb::open_in(&m.b1_host.configdir()).unwrap();
        assert_eq!(
            db.get("user.bob").unwrap().unwrap().state(),
            MbState::Moving
        );
    }
    m.b2 = start_imapd(&m.b2_host, &m.b2_listen.clone(), None);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.is_ok(), "{r:?}");
    drop(admin);
    assert_moved(&mut m, &before);
}

#[test]
fn killing_the_source_before_sending_leaves_it_reserved_and_a_rerun_finishes() {
    let mut m = murder("cyrus backend1", None, None);
    populate(&mut m, 20);
    m.b1.stop();
    let before = snapshot(&m.b1_host);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", Some("source-after-moving"));
    run_until_closed(m.b1.addr, "XFER user.bob backend2");
    assert!(murder_tests::wait_until(Duration::from_secs(5), || !m
        .b1
        .is_running()));
    // The master still names the source (reserved there), which holds everything.
    for r in find(&m, FOLDERS) {
        assert_eq!(r.unwrap().location(), "backend1!default");
    }
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.is_ok(), "{r:?}");
    drop(admin);
    assert_moved(&mut m, &before);
}

#[test]
fn killing_the_destination_after_it_wrote_its_entries_and_a_rerun_finishes() {
    let mut m = murder("cyrus backend1", Some("dest-after-entries"), None);
    populate(&mut m, 20);
    m.b1.stop();
    let before = snapshot(&m.b1_host);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.tagged.starts_with("NO "), "{r:?}");
    assert!(murder_tests::wait_until(Duration::from_secs(5), || !m
        .b2
        .is_running()));
    assert_master_at(&m, "backend1!default");
    drop(admin);
    m.b1.stop();
    assert_eq!(snapshot(&m.b1_host), before);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    m.b2 = start_imapd(&m.b2_host, &m.b2_listen.clone(), None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.is_ok(), "{r:?}");
    drop(admin);
    assert_moved(&mut m, &before);
}

#[test]
fn a_destination_that_cannot_tell_the_master_drops_its_copy() {
    let mut m = murder("cyrus backend1", None, None);
    // backend2 imports but its ACTIVATE fails: the master refuses its login.
    m.b2.stop();
    m.b2_host.set("mupdate_password", "wrong");
    m.b2 = start_imapd(&m.b2_host, &m.b2_listen.clone(), None);
    populate(&mut m, 5);
    m.b1.stop();
    let before = snapshot(&m.b1_host);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.tagged.starts_with("NO "), "{r:?}");
    assert_master_at(&m, "backend1!default");
    drop(admin);
    m.b1.stop();
    m.b2.stop();
    assert_eq!(snapshot(&m.b1_host), before);
    assert_nothing_left(&m.b2_host, &ids(&before));

    // Fixed, the same XFER goes through.
    m.b2_host.set("mupdate_password", "secret");
    m.b2 = start_imapd(&m.b2_host, &m.b2_listen.clone(), None);
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.is_ok(), "{r:?}");
    drop(admin);
    assert_moved(&mut m, &before);
}

#[test]
fn patterns_and_partitions_select_users_and_shared_mailboxes() {
    let mut m = murder("cyrus backend1", None, None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    for f in [
        "shared1",
        "shared2",
        "shared2.sub",
        "other",
        "user.bob",
        "user.bob.Sent",
    ] {
        admin.ok(&format!("CREATE {f}"));
    }
    // Our command parser takes the pattern quoted (an atom cannot hold `%`).
    let r = admin.cmd("XFER \"shared%\" backend2 part2");
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        r.untagged,
        vec![
            "* OK MAILBOX \"shared1\"".to_string(),
            "* OK MAILBOX \"shared2\"".to_string()
        ]
    );
    let recs = find(&m, &["shared1", "shared2", "shared2.sub", "other"]);
    assert_eq!(recs[0].as_ref().unwrap().location(), "backend2!part2");
    assert_eq!(recs[1].as_ref().unwrap().location(), "backend2!part2");
    assert_eq!(recs[2].as_ref().unwrap().location(), "backend1!default");
    assert_eq!(recs[3].as_ref().unwrap().location(), "backend1!default");

    // A partition name moves everything on it: the rest of the shared mailboxes, one by
    // one, and bob as a whole user.
    let r = admin.cmd("XFER default backend2");
    assert!(r.is_ok(), "{r:?}");
    let mut lines = r.untagged.clone();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "* OK MAILBOX \"other\"".to_string(),
            "* OK MAILBOX \"shared2.sub\"".to_string(),
            "* OK USER bob".to_string(),
        ]
    );
    for r in find(&m, &["other", "shared2.sub", "user.bob", "user.bob.Sent"]) {
        assert_eq!(r.unwrap().location(), "backend2!default");
    }
    assert_eq!(admin.no("XFER default backend2"), "Mailbox does not exist");
    drop(admin);
    m.b1.stop();
    m.b2.stop();
    assert!(MailboxDb::open_in(&m.b1_host.configdir())
        .unwrap()
        .all()
        .unwrap()
        .is_empty());
    let db = MailboxDb::open_in(&m.b2_host.configdir()).unwrap();
    assert_eq!(db.get("shared1").unwrap().unwrap().partition, "part2");
    assert_eq!(
        db.get("user.bob.Sent").unwrap().unwrap().partition,
        "default"
    );
    assert_eq!(db.all().unwrap().len(), 6);
}

/// A raw LMTP client.
struct Lmtp {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Lmtp {
    /// Connects, says LHLO and, with `auth`, authenticates as cyrus.
    fn connect(addr: SocketAddr, auth: bool) -> Lmtp {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut c = Lmtp {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        assert!(c.reply().starts_with("220"));
        assert!(c.cmd("LHLO test").starts_with("250"));
        if auth {
            // base64("\0cyrus\0secret")
            assert_eq!(
                c.cmd("AUTH PLAIN AGN5cnVzAHNlY3JldA=="),
                "235 Authenticated!"
            );
        }
        c
    }
    /// One reply, its lines joined by `\n`.
    fn reply(&mut self) -> String {
        let mut out = Vec::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).unwrap_or(0) == 0 {
                return out.join("\n");
            }
            let last = l.as_bytes().get(3) != Some(&b'-');
            out.push(l.trim_end_matches(['\r', '\n']).to_string());
            if last {
                return out.join("\n");
            }
        }
    }
    fn cmd(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }
    /// DATA with `subject`; returns the reply for the single recipient.
    fn data(&mut self, subject: &str) -> String {
        assert!(self.cmd("DATA").starts_with("354"));
        self.w
            .write_all(
                format!("From: a@example.org\r\nSubject: {subject}\r\n\r\nhello\r\n.\r\n")
                    .as_bytes(),
            )
            .unwrap();
        self.reply()
    }
    /// A whole transaction to bob; the reply to RCPT when it fails, else to DATA.
    fn deliver(&mut self, subject: &str) -> String {
        assert!(self.cmd("MAIL FROM:<a@example.org>").starts_with("250"));
        let r = self.cmd("RCPT TO:<bob>");
        if !r.starts_with("250") {
            self.cmd("RSET");
            return r;
        }
        self.data(subject)
    }
}

#[test]
fn writes_to_a_mailbox_being_moved_are_refused_then_deliveries_reach_the_destination() {
    let mut m = murder("cyrus backend1", None, None);
    populate(&mut m, 5);
    let lmtp1 = Daemon::start(&m.b1_host, "lmtpd", &[]);
    let lmtp2 = Daemon::start(&m.b2_host, "lmtpd", &[]);
    // A frontend with a slave of the master and lmtpproxyd, which routes by the master.
    let front = Host::new("frontend")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("mupdate_server", &m.master.addr.to_string())
        .conf("mupdate_authname", "backend1")
        .conf("mupdate_password", "secret")
        .conf("proxy_authname", "murder")
        .conf("proxy_password", "secret")
        .conf("backend1_lmtp", &lmtp1.addr.to_string())
        .conf("backend2_lmtp", &lmtp2.addr.to_string())
        .write();
    let _slave = Daemon::start(&front, "mupdate", &[]);
    let proxy = Daemon::start(&front, "lmtpproxyd", &["-a"]);
    let front_at = |server: &str| {
        MailboxDb::open_in(&front.configdir())
            .ok()
            .and_then(|db| db.get("user.bob").ok().flatten())
            .is_some_and(|e| e.state() == MbState::Remote && e.server.as_deref() == Some(server))
    };
    assert!(murder_tests::wait_until(Duration::from_secs(20), || {
        front_at("backend1")
    }));
    let mut via_front = Lmtp::connect(proxy.addr, false);
    assert!(
        via_front.deliver("before").starts_with("250"),
        "delivery before the move"
    );
    m.b1.stop();

    // Sessions that looked bob up before the move: an LMTP transaction past RCPT, and an
    // IMAP session (in a second imapd process, which the fault does not stop) with INBOX
    // selected and a message marked \Deleted.
    let mut late = Lmtp::connect(lmtp1.addr, true);
    assert!(late.cmd("MAIL FROM:<a@example.org>").starts_with("250"));
    assert!(late.cmd("RCPT TO:<bob>").starts_with("250"));
    let other = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut selected = Imap::login(other.addr, "cyrus", "secret");
    selected.ok("SETACL user.bob cyrus lrswipkxtecda");
    selected.ok("SELECT user.bob");
    selected.ok("STORE 2 +FLAGS (\\Deleted)");
    let before = snapshot(&m.b1_host);

    // The XFER stops (as a kill -9 would) once the mailboxes are marked MOVING.
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", Some("source-after-moving"));
    run_until_closed(m.b1.addr, "XFER user.bob backend2");
    assert!(murder_tests::wait_until(Duration::from_secs(5), || !m
        .b1
        .is_running()));

    // Every write is refused with a temporary error.
    let r = late.data("raced");
    assert!(r.starts_with("451 4.2.1 "), "delivery after RCPT: {r}");
    let r = Lmtp::connect(lmtp1.addr, true).deliver("direct");
    assert!(r.starts_with("451 4.2.1 "), "direct delivery: {r}");
    let r = via_front.deliver("through the frontend");
    assert!(r.starts_with("451 "), "delivery through the frontend: {r}");
    let inuse = |r: &imap::Reply| r.tagged.starts_with("NO [INUSE] ");
    let r = selected.cmd("STORE 1 +FLAGS (\\Flagged \\Deleted)");
    assert!(inuse(&r), "STORE: {r:?}");
    let r = selected.cmd("EXPUNGE");
    assert!(inuse(&r), "EXPUNGE: {r:?}");
    let r = selected.cmd("COPY 1 user.bob.Sent");
    assert!(inuse(&r), "COPY: {r:?}");
    let r = selected.cmd("APPEND user.bob {12+}\r\nSubject: x\r\n");
    assert!(inuse(&r), "APPEND: {r:?}");
    let mut admin = Imap::login(other.addr, "cyrus", "secret");
    let r = admin.cmd("APPEND user.bob.Sent {12+}\r\nSubject: x\r\n");
    assert!(inuse(&r), "APPEND from a new session: {r:?}");
    drop((selected, admin));

    // The rerun finishes the move; the destination holds exactly what bob had (nothing was
    // accepted meanwhile), and new mail goes there.
    m.b1 = start_imapd(&m.b1_host, "127.0.0.1:0", None);
    let mut admin = Imap::login(m.b1.addr, "cyrus", "secret");
    let r = admin.cmd("XFER user.bob backend2");
    assert!(r.is_ok(), "{r:?}");
    drop(admin);
    assert_master_at(&m, "backend2!default");
    assert_eq!(snapshot(&m.b2_host), before);
    assert!(murder_tests::wait_until(Duration::from_secs(20), || {
        front_at("backend2")
    }));
    let r = via_front.deliver("after");
    assert!(r.starts_with("250 "), "delivery after the move: {r}");
    let db = MailboxDb::open_in(&m.b2_host.configdir()).unwrap();
    let id = MailboxId::new(&db.get("user.bob").unwrap().unwrap().uniqueid).unwrap();
    let store = open_store(&m.b2_host);
    let recs = store.records(&id).unwrap();
    assert_eq!(recs.len(), before.mailboxes["user.bob"].2.len() + 1);
    let last = store.read_message(&id, recs.last().unwrap().uid).unwrap();
    assert!(String::from_utf8_lossy(&last).contains("Subject: after\r\n"));
    let r = Lmtp::connect(lmtp1.addr, true).deliver("to the old place");
    assert!(
        r.ends_with("550 5.1.1 User unknown"),
        "the source no longer knows bob: {r}"
    );
    drop(other);
    m.b1.stop();
    assert_nothing_left(&m.b1_host, &ids(&before));
}
