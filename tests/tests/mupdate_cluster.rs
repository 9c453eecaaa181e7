//! A murder's MUPDATE tier as real processes: one master (`mupdate -m`) and slaves following
//! it, all on ephemeral loopback ports, driven by our own client from tokio tasks.
//!
//! What is checked, one test each: slaves converge to exactly the master's list after a
//! concurrent burst; a master killed with SIGKILL mid-burst loses nothing it acknowledged and
//! slaves never bring back a deleted mailbox; authentication, read-only slaves, malformed input
//! and oversized literals; streaming (UPDATE on a slave, partial UPDATE, NOOP flushing); the kick
//! socket.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemons::mboxdb::MailboxDb;
use daemons::mupdate::client::{
    connect_authenticated, ClientError, Credentials, MupdateClient, StreamEvent,
};
use daemons::mupdate::server::record_of;
use daemons::mupdate::slave::{kick, KICK_SOCKET};
use murder_tests::{proc_status_kib, Daemon, Host};
use protocol::mupdate::{MailboxRecord, MailboxState, Record, Response, Status};

const ADMIN: (&str, &str) = ("mupduser", "secret");
const SLAVE_USER: (&str, &str) = ("slaveuser", "slavepw");
const ACL: &str = "owner\tlrswipkxtecdan\t";
const T: Duration = Duration::from_secs(10);

fn creds(user: &str, pw: &str) -> Credentials {
    Credentials {
        authname: user.into(),
        username: None,
        password: pw.into(),
        mechs: None,
    }
}

fn master_host() -> Host {
    Host::new("mupdate")
        .conf("admins", &format!("{} {}", ADMIN.0, SLAVE_USER.0))
        .conf("allowplaintext", "yes")
        .user(ADMIN.0, ADMIN.1)
        .user(SLAVE_USER.0, SLAVE_USER.1)
        .user("alice", "alicepw")
        .write()
}

fn slave_host(name: &str, master: &Daemon) -> Host {
    Host::new(name)
        .conf(
            "mupdate_server",
            &format!("127.0.0.1:{}", master.addr.port()),
        )
        .conf("mupdate_authname", SLAVE_USER.0)
        .conf("mupdate_password", SLAVE_USER.1)
        .conf("mupdate_retry_delay", "2")
        .conf("admins", ADMIN.0)
        .conf("allowplaintext", "yes")
        .user(ADMIN.0, ADMIN.1)
        .write()
}

/// A running slave: its host, its process, and its mailboxes.db opened from the test process
/// (LMDB is multi-process; one handle per environment per process).
struct Slave {
    host: Host,
    daemon: Daemon,
    db: MailboxDb,
}

fn start_slave(name: &str, master: &Daemon) -> Slave {
    let host = slave_host(name, master);
    let daemon = Daemon::start(&host, "mupdate", &[]);
    let db = MailboxDb::open_in(&host.configdir()).expect("slave mailboxes.db");
    Slave { host, daemon, db }
}

async fn admin(d: &Daemon) -> MupdateClient {
    connect_authenticated(
        &d.addr.ip().to_string(),
        d.addr.port(),
        &creds(ADMIN.0, ADMIN.1),
        None,
        T,
    )
    .await
    .unwrap_or_else(|e| panic!("admin login to {}: {e}; log: {}", d.addr, d.log_text()))
}

/// What a LIST line or a DB entry says about one mailbox, keyed by name.
type View = BTreeMap<String, MailboxState>;

async fn master_view(d: &Daemon) -> View {
    let mut c = admin(d).await;
    let mut v = View::new();
    c.list(None, |r| {
        v.insert(r.name, r.state);
    })
    .await
    .expect("LIST on the master");
    c.logout().await;
    v
}

fn db_view(db: &MailboxDb) -> View {
    db.all()
        .expect("reading a slave's mailboxes.db")
        .iter()
        .filter_map(record_of)
        .map(|r| (r.name, r.state))
        .collect()
}

fn describe_diff(want: &View, got: &View) -> String {
    let missing: Vec<_> = want
        .keys()
        .filter(|k| !got.contains_key(*k))
        .take(5)
        .collect();
    let extra: Vec<_> = got
        .keys()
        .filter(|k| !want.contains_key(*k))
        .take(5)
        .collect();
    let differ: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .take(5)
        .collect();
    format!(
        "master {} entries, slave {}; missing e.g. {missing:?}, extra e.g. {extra:?}, different e.g. {differ:?}",
        want.len(),
        got.len()
    )
}

/// Waits until the slave's database equals `want`, kicking it so that it asks the master to
/// flush its stream instead of waiting for the 5-second timer.
async fn converge(slave: &Slave, want: &View, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = db_view(&slave.db);
        if &got == want {
            return;
        }
        if Instant::now() >= deadline {
            panic!(
                "slave {} did not converge: {}; log: {}",
                slave.host.name,
                describe_diff(want, &got),
                slave.daemon.log_text()
            );
        }
        kick(&slave.host.configdir(), Duration::from_secs(2)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the master acknowledged for one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Acked {
    Reserved(String),
    Active(String),
}

/// One backend's worth of work: RESERVE then ACTIVATE `count` mailboxes, recording each OK.
/// Stops at the first connection error (the master went away).
async fn reserve_activate(
    d: std::net::SocketAddr,
    client: usize,
    count: usize,
    acked: Arc<Mutex<HashMap<String, Acked>>>,
    oks: Arc<AtomicUsize>,
) -> Result<(), ClientError> {
    let mut c = connect_authenticated(
        &d.ip().to_string(),
        d.port(),
        &creds(ADMIN.0, ADMIN.1),
        None,
        T,
    )
    .await?;
    let location = format!("be{}!default", client % 2 + 1);
    for i in 0..count {
        let name = format!("user.c{client}n{i:05}");
        c.reserve(&name, &location).await?;
        acked
            .lock()
            .unwrap()
            .insert(name.clone(), Acked::Reserved(location.clone()));
        oks.fetch_add(1, Ordering::Relaxed);
        c.activate(&name, &location, ACL).await?;
        acked
            .lock()
            .unwrap()
            .insert(name.clone(), Acked::Active(location.clone()));
        oks.fetch_add(1, Ordering::Relaxed);
    }
    c.logout().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_reserve_activate_pairs_from_four_clients_reach_both_slaves_exactly() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let slaves = [
        start_slave("slave1", &master),
        start_slave("slave2", &master),
    ];

    let acked = Arc::new(Mutex::new(HashMap::new()));
    let oks = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|client| {
            tokio::spawn(reserve_activate(
                master.addr,
                client,
                2_500,
                acked.clone(),
                oks.clone(),
            ))
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("every write is accepted");
    }
    eprintln!(
        "10,000 RESERVE+ACTIVATE pairs from 4 clients in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(oks.load(Ordering::Relaxed), 20_000);

    let want = master_view(&master).await;
    assert_eq!(want.len(), 10_000);
    assert!(want.values().all(|s| matches!(
        s,
        MailboxState::Active { acl, .. } if acl == ACL
    )));
    for s in &slaves {
        converge(s, &want, Duration::from_secs(30)).await;
    }
    // The slaves' own LIST says the same as their databases.
    let mut c = admin(&slaves[0].daemon).await;
    let mut listed = View::new();
    c.list(None, |r| {
        listed.insert(r.name, r.state);
    })
    .await
    .unwrap();
    assert_eq!(listed, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_killed_mid_burst_keeps_every_acknowledged_write_and_slaves_never_resurrect_deletes(
) {
    let mhost = master_host();
    let mut master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let port = master.addr.port();
    let slaves = Arc::new([
        start_slave("slave1", &master),
        start_slave("slave2", &master),
    ]);

    // Mailboxes that are deleted before the crash, and seen gone on both slaves.
    let mut c = admin(&master).await;
    let mut deleted: Vec<String> = Vec::new();
    for i in 0..100 {
        let name = format!("user.old{i:03}");
        c.activate(&name, "be1!default", ACL).await.unwrap();
        if i % 2 == 0 {
            deleted.push(name);
        }
    }
    for name in &deleted {
        c.delete(name).await.unwrap();
    }
    c.logout().await;
    let before = master_view(&master).await;
    assert_eq!(before.len(), 50);
    for s in slaves.iter() {
        converge(s, &before, Duration::from_secs(20)).await;
    }

    // From now on, watch the slaves: none of those may ever show up again.
    let stop = Arc::new(AtomicBool::new(false));
    let deleted = Arc::new(Mutex::new(deleted));
    let watcher = {
        let (slaves, stop, deleted) = (slaves.clone(), stop.clone(), deleted.clone());
        std::thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let names = deleted.lock().unwrap().clone();
                for s in slaves.iter() {
                    for n in &names {
                        if s.db.get(n).expect("slave db").is_some() {
                            return Err(format!("{} shows deleted {n}", s.host.name));
                        }
                    }
                }
                checks += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(checks)
        })
    };

    // The burst, killed once 1,000 writes have been acknowledged.
    let acked = Arc::new(Mutex::new(HashMap::new()));
    let oks = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..4)
        .map(|client| {
            tokio::spawn(reserve_activate(
                master.addr,
                client,
                2_500,
                acked.clone(),
                oks.clone(),
            ))
        })
        .collect();
    while oks.load(Ordering::Relaxed) < 1_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    master.kill9();
    for t in tasks {
        let r = t.await.unwrap();
        let e = r.expect_err("the burst cannot finish: the master was killed");
        assert!(e.is_connection(), "{e}");
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 500, "{} mailboxes acknowledged", acked.len());

    let master = Daemon::start_on(&mhost, "mupdate", &["-m"], &format!("127.0.0.1:{port}"));
    let after = master_view(&master).await;
    for (name, ack) in &acked {
        let got = after.get(name);
        let ok = match (ack, got) {
            (Acked::Active(l), Some(MailboxState::Active { location, acl })) => {
                location == l && acl == ACL
            }
            (Acked::Reserved(l), Some(MailboxState::Reserved { location }))
            | (Acked::Reserved(l), Some(MailboxState::Active { location, .. })) => location == l,
            _ => false,
        };
        assert!(
            ok,
            "{name}: acknowledged {ack:?}, restarted master has {got:?}"
        );
    }
    for (name, state) in &before {
        assert_eq!(after.get(name), Some(state), "{name} survived the crash");
    }
    assert!(deleted
        .lock()
        .unwrap()
        .iter()
        .all(|n| !after.contains_key(n)));

    // Deletes at the restarted master, while the slaves are still reconnecting.
    let mut c = admin(&master).await;
    let more: Vec<String> = acked
        .iter()
        .filter(|(_, a)| matches!(a, Acked::Active(_)))
        .map(|(n, _)| n.clone())
        .take(50)
        .collect();
    for n in &more {
        c.delete(n).await.unwrap();
    }
    c.logout().await;
    let want = master_view(&master).await;
    for s in slaves.iter() {
        converge(s, &want, Duration::from_secs(30)).await;
    }
    // Converged: the new deletes join the watch list, and the watch goes on a little longer.
    deleted.lock().unwrap().extend(more);
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let checks = watcher.join().unwrap().unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{} mailboxes acknowledged before the kill; {checks} watch rounds saw no deleted mailbox",
        acked.len()
    );
    assert!(checks > 10, "the watcher ran only {checks} rounds");
    for s in slaves.iter() {
        assert!(
            s.daemon.log_text().contains("synced"),
            "{}",
            s.daemon.log_text()
        );
    }
}

#[tokio::test]
async fn only_admins_may_authenticate_to_the_master() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let (h, p) = (master.addr.ip().to_string(), master.addr.port());
    let err = connect_authenticated(&h, p, &creds("alice", "alicepw"), None, T)
        .await
        .err()
        .expect("alice is not an admin");
    assert!(matches!(err, ClientError::AuthFailed { .. }), "{err}");
    let err = connect_authenticated(&h, p, &creds(ADMIN.0, "wrong"), None, T)
        .await
        .err()
        .expect("a wrong password");
    assert!(matches!(err, ClientError::AuthFailed { .. }), "{err}");
    // A refused login leaves the connection unauthenticated: commands still need a login.
    let mut c = MupdateClient::connect(&h, p, T).await.unwrap();
    assert!(c.authenticate(&creds("alice", "alicepw")).await.is_err());
    c.send_raw(b"x NOOP\r\n").await.unwrap();
    assert_status(&mut c, "x", Status::Bad, "Please login first").await;
    let mut a = admin(&master).await;
    a.noop().await.unwrap();
}

#[tokio::test]
async fn a_slave_refuses_writes_as_a_read_only_session() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let slave = start_slave("slave1", &master);
    let mut c = admin(&slave.daemon).await;
    for r in [
        c.reserve("user.x", "be1!default").await,
        c.activate("user.x", "be1!default", ACL).await,
        c.deactivate("user.x", "be1!default").await,
        c.delete("user.x").await,
    ] {
        let e = r.expect_err("a slave is read-only");
        assert!(
            matches!(&e, ClientError::Refused { status: "BAD", text } if text == "read-only session"),
            "{e}"
        );
    }
    // Reads work, and the refused writes reached nobody.
    assert_eq!(c.find("user.x").await.unwrap(), None);
    assert_eq!(admin(&master).await.find("user.x").await.unwrap(), None);
}

async fn assert_status(c: &mut MupdateClient, tag: &str, status: Status, text: &str) {
    match c.read_response().await.expect("a response") {
        Response::Status {
            tag: t,
            status: s,
            text: x,
        } => {
            assert_eq!((t.as_str(), s, x.as_str()), (tag, status, text));
        }
        other => panic!("expected {tag} {status:?} {text:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_lines_get_bad_and_the_connection_goes_on() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let mut c = admin(&master).await;
    let cases: &[(&[u8], &str, &str)] = &[
        // Arguments are strings only: a bare atom is refused (reference §1.2).
        (b"x FIND user.bob\r\n", "x", "Extra arguments"),
        (b"x2 FIND \"user.bob\" junk\r\n", "x2", "Extra arguments"),
        (b"x3 FROBNICATE\r\n", "x3", "Unrecognized command"),
        (b"x4  NOOP\r\n", "x4", "Null command"),
        (b"x5 RESERVE \"user.bob\"\r\n", "x5", "Missing arguments"),
    ];
    for (line, tag, text) in cases {
        c.send_raw(line).await.unwrap();
        assert_status(&mut c, tag, Status::Bad, text).await;
        c.send_raw(b"y NOOP\r\n").await.unwrap();
        assert_status(&mut c, "y", Status::Ok, "Noop done").await;
    }
    // A line without a tag separator: untagged BAD, and on we go.
    c.send_raw(b"lonelytag\r\n").await.unwrap();
    assert!(matches!(
        c.read_response().await.unwrap(),
        Response::UntaggedBad(_)
    ));
    c.send_raw(b"y NOOP\r\n").await.unwrap();
    assert_status(&mut c, "y", Status::Ok, "Noop done").await;
    // Binary garbage.
    c.send_raw(b"\x00\xff\xfe garbage \x01\r\n").await.unwrap();
    let r = c.read_response().await.unwrap();
    assert!(
        matches!(
            r,
            Response::UntaggedBad(_)
                | Response::Status {
                    status: Status::Bad,
                    ..
                }
        ),
        "{r:?}"
    );
    c.send_raw(b"y NOOP\r\n").await.unwrap();
    assert_status(&mut c, "y", Status::Ok, "Noop done").await;
}

#[tokio::test]
async fn a_literal_announced_at_one_gigabyte_is_refused_without_allocating_it() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let pid = master.pid();
    let rss_before = proc_status_kib(pid, "VmRSS").expect("VmRSS");
    for announce in [&b"a FIND {1073741824}\r\n"[..], b"a FIND {1073741824+}\r\n"] {
        let mut c = admin(&master).await;
        c.send_raw(announce).await.unwrap();
        // Some body bytes, as a client that means it would send.
        let _ = c.send_raw(&[b'x'; 64 * 1024]).await;
        let r = c.read_response().await.expect("an answer to the literal");
        assert!(
            matches!(
                r,
                Response::Status {
                    status: Status::Bad,
                    ..
                }
            ),
            "{}: {r:?}",
            String::from_utf8_lossy(announce)
        );
        // The connection may be dropped (the line broke a limit); if it is still there it
        // must still work.
        if c.send_raw(b"y NOOP\r\n").await.is_ok() {
            match c.read_response().await {
                Ok(Response::Status { tag, status, .. }) => {
                    assert_eq!((tag.as_str(), status), ("y", Status::Ok))
                }
                Ok(other) => panic!("after the refused literal: {other:?}"),
                Err(e) => assert!(e.is_connection(), "{e}"),
            }
        }
        let rss = proc_status_kib(pid, "VmRSS").expect("the master is still running");
        let hwm = proc_status_kib(pid, "VmHWM").unwrap();
        assert!(
            hwm < rss_before + 64 * 1024 && rss < rss_before + 64 * 1024,
            "VmRSS {rss} KiB, VmHWM {hwm} KiB (was {rss_before} KiB)"
        );
    }
    // The process survived and serves new connections.
    let mut c = admin(&master).await;
    c.activate("user.after", "be1!default", ACL).await.unwrap();
    assert!(c.find("user.after").await.unwrap().is_some());
}

/// Collects stream events until the NOOP with `tag` completes.
async fn events_until_noop(c: &mut MupdateClient, tag: &str) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    loop {
        let r = c.read_response().await.expect("stream response");
        match MupdateClient::stream_event(r).expect("stream event") {
            StreamEvent::NoopDone(t) if t == tag => return out,
            ev => out.push(ev),
        }
    }
}

fn names_of(events: &[StreamEvent]) -> Vec<(String, &'static str)> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Mailbox(r) => Some((
                r.name.clone(),
                match r.state {
                    MailboxState::Active { .. } => "MAILBOX",
                    MailboxState::Reserved { .. } => "RESERVE",
                },
            )),
            StreamEvent::Delete(n) => Some((n.clone(), "DELETE")),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slaves_own_update_stream_delivers_changes_made_at_the_master() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let mut m = admin(&master).await;
    m.activate("user.before", "be1!default", ACL).await.unwrap();
    let slave = start_slave("slave1", &master);

    let mut s = admin(&slave.daemon).await;
    let mut dump = Vec::new();
    s.update(&[], |r| dump.push(r)).await.unwrap();
    assert_eq!(
        dump,
        [MailboxRecord::active("user.before", "be1!default", ACL)]
    );

    m.activate("user.new", "be2!default", ACL).await.unwrap();
    m.delete("user.before").await.unwrap();
    // Wait for the slave to hold the changes (the kick makes the master flush to it), then
    // NOOP the slave: everything it queued for us comes before the NOOP's OK.
    assert!(
        kick(&slave.host.configdir(), T).await,
        "the slave answers kicks"
    );
    let tag = s.send_noop().await.unwrap();
    let events = events_until_noop(&mut s, &tag).await;
    let got: HashSet<_> = names_of(&events).into_iter().collect();
    assert_eq!(
        got,
        HashSet::from([
            ("user.new".to_owned(), "MAILBOX"),
            ("user.before".to_owned(), "DELETE")
        ]),
        "{events:?}"
    );
    // Writes are still refused while streaming, reads too ("not legal when streaming").
    s.send_raw(b"w FIND {8+}\r\nuser.new\r\n").await.unwrap();
    assert_status(&mut s, "w", Status::Bad, "not legal when streaming").await;
}

#[tokio::test]
async fn update_with_hosts_dumps_and_streams_only_those_hosts() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let mut m = admin(&master).await;
    m.activate("user.one", "be1!default", ACL).await.unwrap();
    m.activate("user.two", "be2!default", ACL).await.unwrap();
    m.reserve("user.three", "be1!p2").await.unwrap();
    m.activate("user.moving", "be1!default", ACL).await.unwrap();

    let mut s = admin(&master).await;
    let mut dump = Vec::new();
    s.update(&["be1".into()], |r| dump.push(r.name))
        .await
        .unwrap();
    dump.sort();
    assert_eq!(dump, ["user.moving", "user.one", "user.three"]);

    m.activate("user.be2only", "be2!default", ACL)
        .await
        .unwrap();
    m.activate("user.be1new", "be1!default", ACL).await.unwrap();
    // A move away from be1 concerns be1 (its old server).
    m.activate("user.moving", "be2!default", ACL).await.unwrap();
    m.delete("user.two").await.unwrap();
    m.delete("user.one").await.unwrap();
    let tag = s.send_noop().await.unwrap();
    let got: HashSet<_> = names_of(&events_until_noop(&mut s, &tag).await)
        .into_iter()
        .collect();
    assert_eq!(
        got,
        HashSet::from([
            ("user.be1new".to_owned(), "MAILBOX"),
            ("user.moving".to_owned(), "MAILBOX"),
            ("user.one".to_owned(), "DELETE"),
        ])
    );
}

#[tokio::test]
async fn noop_flushes_pending_updates_immediately() {
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let mut m = admin(&master).await;
    let mut s = admin(&master).await;
    s.update(&[], |_| {}).await.unwrap();
    for i in 0..3 {
        let name = format!("user.quick{i}");
        m.activate(&name, "be1!default", ACL).await.unwrap();
        let started = Instant::now();
        let tag = s.send_noop().await.unwrap();
        let events = events_until_noop(&mut s, &tag).await;
        let waited = started.elapsed();
        assert_eq!(names_of(&events), [(name, "MAILBOX")]);
        // The stream timer runs every 5 seconds: the NOOP did not wait for it.
        assert!(waited < Duration::from_secs(2), "the NOOP took {waited:?}");
    }
    // Without a NOOP the change still comes, by the timer, within about 5 seconds.
    m.reserve("user.timer", "be2!default").await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(8), s.read_response_untimed())
        .await
        .expect("the 5 s flush")
        .unwrap();
    assert!(
        matches!(&r, Response::Record { record: Record::Mailbox(rec), .. } if rec.name == "user.timer"),
        "{r:?}"
    );
}

#[tokio::test]
async fn the_kick_socket_answers_ok_on_a_slave_and_on_the_master() {
    use tokio::io::AsyncReadExt;
    let mhost = master_host();
    let master = Daemon::start(&mhost, "mupdate", &["-m"]);
    let slave = start_slave("slave1", &master);
    // The slave creates its socket after its first sync.
    let path = slave.host.configdir().join(KICK_SOCKET);
    assert!(murder_tests::wait_until(T, || path.exists()), "no {path:?}");
    for path in [path, mhost.configdir().join(KICK_SOCKET)] {
        let mut k = tokio::net::UnixStream::connect(&path)
            .await
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let mut got = Vec::new();
        tokio::time::timeout(T, k.read_to_end(&mut got))
            .await
            .expect("an answer")
            .unwrap();
        assert_eq!(got, b"ok", "{path:?}");
    }
    // A kick after a change at the master returns once the slave holds it.
    admin(&master)
        .await
        .activate("user.kicked", "be1!default", ACL)
        .await
        .unwrap();
    assert!(kick(&slave.host.configdir(), T).await);
    assert!(slave.db.get("user.kicked").unwrap().is_some());
}
