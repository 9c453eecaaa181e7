//! The frontend IMAP proxy through real processes: our MUPDATE master, two backends, and a
//! frontend running a slave and `proxyd` (reference §4). Clients talk to the frontend only.

#[path = "support/imap.rs"]
mod imap;

use std::time::Duration;

use daemons::mboxdb::MailboxDb;
use imap::Imap;
use murder_tests::{wait_until, Daemon, Host};

struct Murder {
    _master_host: Host,
    master: Daemon,
    backends: Vec<(Host, Daemon)>,
    front_host: Host,
    _slave: Daemon,
    proxyd: Daemon,
}

fn backend(name: &str, master: &Daemon) -> (Host, Daemon) {
    let h = Host::new(name)
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("allowallsubscribe", "yes")
        .conf("proxyservers", "murder")
        .conf("mupdate_server", &master.addr.to_string())
        .conf("mupdate_authname", name)
        .conf("mupdate_password", "secret")
        .conf("client_timeout", "5")
        .user("cyrus", "secret")
        .user("murder", "secret")
        .write();
    let d = Daemon::start(&h, "imapd", &[]);
    (h, d)
}

fn murder() -> Murder {
    let master_host = Host::new("mupdate")
        .conf("admins", "backend1 backend2 frontend")
        .conf("allowplaintext", "yes")
        .user("backend1", "secret")
        .user("backend2", "secret")
        .user("frontend", "secret")
        .write();
    let master = Daemon::start(&master_host, "mupdate", &["-m"]);
    let b1 = backend("backend1", &master);
    let b2 = backend("backend2", &master);
    let front_host = Host::new("frontend")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("mupdate_server", &master.addr.to_string())
        .conf("mupdate_authname", "frontend")
        .conf("mupdate_password", "secret")
        .conf("proxy_authname", "murder")
        .conf("proxy_password", "secret")
        .conf("backend1_imap_address", &b1.1.addr.to_string())
        .conf("backend2_imap_address", &b2.1.addr.to_string())
        .user("alice", "alicepw")
        .user("bob", "bobpw")
        .user("cyrus", "secret")
        .write();
    let slave = Daemon::start(&front_host, "mupdate", &[]);
    let proxyd = Daemon::start(&front_host, "proxyd", &[]);
    let mut m = Murder {
        _master_host: master_host,
        master,
        backends: vec![b1, b2],
        front_host,
        _slave: slave,
        proxyd,
    };
    // alice lives on backend1, bob and a shared mailbox on backend2.
    let mut a1 = Imap::login(m.backends[0].1.addr, "cyrus", "secret");
    a1.ok("CREATE user.alice");
    let mut a2 = Imap::login(m.backends[1].1.addr, "cyrus", "secret");
    a2.ok("CREATE user.bob");
    a2.ok("CREATE shared");
    a2.ok("SETACL shared alice lrswipkxte");
    assert!(
        wait_until(Duration::from_secs(20), || [
            "user.alice",
            "user.bob",
            "shared"
        ]
        .iter()
        .all(|n| front_has(&m, n))),
        "the frontend slave did not sync: {} / {:?}",
        m._slave.log_text(),
        MailboxDb::open_in(&m.front_host.configdir()).map(|d| d.all())
    );
    let _ = &mut m;
    m
}

fn front_has(m: &Murder, name: &str) -> bool {
    MailboxDb::open_in(&m.front_host.configdir())
        .ok()
        .and_then(|db| db.get(name).ok().flatten())
        .is_some()
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
