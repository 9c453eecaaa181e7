//! imapd as a murder backend: every mailbox change reaches our MUPDATE master, a master that
//! cannot be reached or refuses leaves nothing changed locally (reference §2.3–2.8), two
//! backends share one master, and a `proxyservers` identity acts as the user it names, never
//! as an admin (§4.11, §5.6).

#[path = "support/imap.rs"]
mod imap;

use std::time::Duration;

use daemons::mboxdb::MailboxDb;
use daemons::mupdate::client::{connect_authenticated, Credentials, MupdateClient};
use imap::Imap;
use murder_tests::{Daemon, Host};
use protocol::mupdate::MailboxRecord;

/// Standard base64 (the tests crate has no base64 dependency).
fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Murder {
    master_host: Host,
    master: Daemon,
    backend_host: Host,
    backend: Daemon,
}

fn murder(extra: &[(&str, &str)]) -> Murder {
    let master_host = Host::new("mupdate")
        .conf("admins", "backend1")
        .conf("allowplaintext", "yes")
        .user("backend1", "secret")
        .write();
    let master = Daemon::start(&master_host, "mupdate", &["-m"]);
    let mut b = Host::new("backend1")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("proxyservers", "murder")
        .conf("mupdate_server", &master.addr.to_string())
        .conf("mupdate_authname", "backend1")
        .conf("mupdate_password", "secret")
        .conf("client_timeout", "5")
        .user("cyrus", "secret")
        .user("murder", "secret")
        .user("alice", "alicepw");
    for (k, v) in extra {
        b = b.conf(k, v);
    }
    let backend_host = b.write();
    let backend = Daemon::start(&backend_host, "imapd", &[]);
    Murder {
        master_host,
        master,
        backend_host,
        backend,
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn master_client(m: &Murder) -> MupdateClient {
    let creds = Credentials {
        authname: "backend1".into(),
        username: None,
        password: "secret".into(),
        mechs: None,
    };
    connect_authenticated(
        &m.master.addr.ip().to_string(),
        m.master.addr.port(),
        &creds,
        None,
        Duration::from_secs(5),
    )
    .await
    .unwrap()
}

/// `FIND` at the master.
fn find(m: &Murder, name: &str) -> Option<MailboxRecord> {
    rt().block_on(async {
        let mut c = master_client(m).await;
        let r = c.find(name).await.unwrap();
        c.logout().await;
        r
    })
}

fn local(m: &Murder, name: &str) -> bool {
    MailboxDb::open_in(&m.backend_host.configdir())
        .unwrap()
        .get(name)
        .unwrap()
        .is_some()
}

#[test]
fn changes_reach_the_master() {
    let m = murder(&[]);
    let mut admin = Imap::login(m.backend.addr, "cyrus", "secret");
    admin.ok("CREATE user.alice");
    let rec = find(&m, "user.alice").expect("user.alice at the master");
    assert_eq!(rec.location(), "backend1!default");
    assert_eq!(rec.acl(), Some("alice\tlrswipkxtecdan\t"));

    admin.ok("CREATE user.alice.Sent");
    admin.ok("CREATE user.alice.Sent.old");
    admin.ok("RENAME user.alice.Sent user.alice.Outbox");
    assert!(find(&m, "user.alice.Sent").is_none());
    assert!(find(&m, "user.alice.Sent.old").is_none());
    assert!(find(&m, "user.alice.Outbox").is_some());
    assert_eq!(
        find(&m, "user.alice.Outbox.old").map(|r| r.location().to_string()),
        Some("backend1!default".into())
    );

    admin.ok("SETACL user.alice.Outbox bob lrs");
    assert_eq!(
        find(&m, "user.alice.Outbox").unwrap().acl(),
        Some("alice\tlrswipkxtecdan\tbob\tlrs\t")
    );
    admin.ok("DELETEACL user.alice.Outbox bob");
    assert_eq!(
        find(&m, "user.alice.Outbox").unwrap().acl(),
        Some("alice\tlrswipkxtecdan\t")
    );

    // Delayed delete: the master sees DELETE and the DELETED.* name (reference §2.5).
    admin.ok("SETACL user.alice.Outbox.old cyrus x");
    admin.ok("DELETE user.alice.Outbox.old");
    assert!(find(&m, "user.alice.Outbox.old").is_none());
    let all = rt().block_on(async {
        let mut c = master_client(&m).await;
        let mut names = Vec::new();
        c.list(None, |r| names.push(r.name)).await.unwrap();
        c.logout().await;
        names
    });
    assert!(
        all.iter()
            .any(|n| n.starts_with("DELETED.user.alice.Outbox.old.")),
        "{all:?}"
    );
}

#[test]
fn immediate_delete_tells_the_master() {
    let m = murder(&[("delete_mode", "immediate")]);
    let mut admin = Imap::login(m.backend.addr, "cyrus", "secret");
    admin.ok("CREATE shared1");
    assert!(find(&m, "shared1").is_some());
    admin.ok("SETACL shared1 cyrus x");
    admin.ok("DELETE shared1");
    assert!(find(&m, "shared1").is_none());
    assert!(!local(&m, "shared1"));
}

#[test]
fn with_the_master_down_nothing_changes_locally() {
    let mut m = murder(&[]);
    let mut admin = Imap::login(m.backend.addr, "cyrus", "secret");
    admin.ok("CREATE user.alice");
    admin.ok("CREATE user.alice.keep");
    admin.ok("SETACL user.alice.keep cyrus x");
    m.master.stop();

    assert_eq!(admin.no("CREATE user.bob"), "no connection to server");
    assert!(!local(&m, "user.bob"));
    assert!(admin
        .ok("LIST \"\" *")
        .iter()
        .all(|l| !l.contains("user.bob")));

    assert_eq!(
        admin.no("DELETE user.alice.keep"),
        "no connection to server"
    );
    assert!(local(&m, "user.alice.keep"));
    assert_eq!(
        admin.no("RENAME user.alice.keep user.alice.gone"),
        "no connection to server"
    );
    assert!(local(&m, "user.alice.keep"));
    assert!(!local(&m, "user.alice.gone"));
    // SETACL keeps the local change and says NO, as Cyrus.
    assert_eq!(
        admin.no("SETACL user.alice.keep bob lr"),
        "no connection to server"
    );
    assert_eq!(
        admin.ok("GETACL user.alice.keep"),
        ["* ACL user.alice.keep alice lrswipkxtecdan cyrus xc bob lr"]
    );
    let _ = &m.master_host;
}

#[test]
fn a_name_held_by_another_server_is_refused_and_rolled_back() {
    let m = murder(&[]);
    rt().block_on(async {
        let mut c = master_client(&m).await;
        c.reserve("user.taken", "backend2!default").await.unwrap();
        c.activate("user.taken", "backend2!default", "taken\tlrswipkxtecdan\t")
            .await
            .unwrap();
        c.logout().await;
    });
    let mut admin = Imap::login(m.backend.addr, "cyrus", "secret");
    assert_eq!(
        admin.no("CREATE user.taken"),
        "unable to reserve mailbox on mupdate server"
    );
    assert!(!local(&m, "user.taken"));
    assert_eq!(
        find(&m, "user.taken").unwrap().location(),
        "backend2!default"
    );
}

#[test]
fn localcreate_localdelete_and_mupdatepush() {
    let m = murder(&[]);
    let mut admin = Imap::login(m.backend.addr, "cyrus", "secret");
    let r = admin.cmd("LOCALCREATE user.moved");
    assert!(r.tagged.starts_with("OK"), "{r:?}");
    assert!(local(&m, "user.moved"));
    assert!(
        find(&m, "user.moved").is_none(),
        "LOCALCREATE pushes nothing"
    );
    admin.ok("MUPDATEPUSH user.moved");
    assert_eq!(
        find(&m, "user.moved").unwrap().location(),
        "backend1!default"
    );
    admin.ok("LOCALDELETE user.moved");
    assert!(!local(&m, "user.moved"));
    assert!(
        find(&m, "user.moved").is_some(),
        "LOCALDELETE pushes nothing"
    );
    assert_eq!(admin.no("MUPDATEPUSH user.moved"), "Mailbox does not exist");

    let mut alice = Imap::login(m.backend.addr, "alice", "alicepw");
    assert_eq!(alice.no("MUPDATEPUSH user.alice"), "Permission denied");
    assert_eq!(alice.no("LOCALCREATE user.x"), "Permission denied");
    // RENAME to another server is an XFER (tests/tests/imapd_xfer.rs).
    assert_eq!(
        admin.no("RENAME user.moved user.other backend2"),
        "Cross-server or cross-partition move w/rename not supported"
    );
    admin.ok("CREATE user.alice");
    assert_eq!(
        admin.no("RENAME user.alice user.alice backend1!default"),
        "Invalid server requested"
    );
    // A user move needs `allowusermoves`, off here (reference §5.4).
    assert_eq!(
        admin.no("RENAME user.alice user.alice backend2!default"),
        "Operation is not supported on mailbox"
    );
}

#[test]
fn a_proxyservers_login_acts_as_the_user_and_is_not_admin() {
    let m = murder(&[]);
    let mut admin = Imap::login(m.backend.addr, "cyrus", "secret");
    admin.ok("CREATE user.alice");
    admin.ok("CREATE user.alice.Sent");
    let mut c = Imap::connect(m.backend.addr);
    let ir = b64(b"alice\0murder\0secret");
    let r = c.cmd(&format!("AUTHENTICATE PLAIN {ir}"));
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(
        c.ok("LIST \"\" *"),
        [
            "* LIST (\\HasChildren) \".\" INBOX",
            "* LIST (\\HasNoChildren) \".\" INBOX.Sent"
        ]
    );
    c.ok("CREATE INBOX.Drafts");
    assert!(find(&m, "user.alice.Drafts").is_some());
    assert_eq!(c.no("CREATE toplevel"), "Permission denied");
    assert_eq!(c.no("GETQUOTA user.alice"), "Permission denied");
    assert_eq!(c.no("MUPDATEPUSH INBOX"), "Permission denied");
    // Someone not in proxyservers cannot switch identity.
    let mut x = Imap::connect(m.backend.addr);
    let ir = b64(b"cyrus\0alice\0alicepw");
    assert!(x
        .cmd(&format!("AUTHENTICATE PLAIN {ir}"))
        .tagged
        .starts_with("NO"));
}

#[test]
fn a_partition_move_activates_the_new_location() {
    let tmp = tempfile::tempdir().unwrap();
    let p2 = tmp.path().join("p2");
    let m = murder(&[("partition-p2", p2.to_str().unwrap())]);
    let mut admin = Imap::login(m.backend.addr, "cyrus", "secret");
    admin.ok("CREATE user.alice");
    admin.ok("CREATE user.alice.Sent");
    assert_eq!(
        admin.no("RENAME user.alice user.alicia p2"),
        "Cross-server or cross-partition move w/rename not supported"
    );
    admin.ok("RENAME user.alice user.alice p2");
    for name in ["user.alice", "user.alice.Sent"] {
        assert_eq!(find(&m, name).unwrap().location(), "backend1!p2");
        let e = MailboxDb::open_in(&m.backend_host.configdir())
            .unwrap()
            .get(name)
            .unwrap()
            .unwrap();
        assert_eq!(e.partition, "p2");
    }
    let md = admin
        .ok("GETMETADATA user.alice /shared/vendor/cmu/cyrus-imapd/partition")
        .join("");
    assert!(md.contains("\"p2\""), "{md}");
    let mut alice = Imap::login(m.backend.addr, "alice", "alicepw");
    assert_eq!(
        alice.no("RENAME INBOX INBOX p2"),
        "Permission denied",
        "only admins give a location"
    );
}

/// A second backend on the same master: each backend's changes reach the master under its
/// own name, a name one backend holds is refused to the other (nothing created there), and
/// with the master stopped neither can create.
#[test]
fn two_backends_share_the_master() {
    let master_host = Host::new("mupdate")
        .conf("admins", "backend1 backend2")
        .conf("allowplaintext", "yes")
        .user("backend1", "secret")
        .user("backend2", "secret")
        .write();
    let master = Daemon::start(&master_host, "mupdate", &["-m"]);
    let backend = |name: &str| {
        let h = Host::new(name)
            .conf("admins", "cyrus")
            .conf("allowplaintext", "yes")
            .conf("altnamespace", "no")
            .conf("unixhierarchysep", "no")
            .conf("proxyservers", "murder")
            .conf("mupdate_server", &master.addr.to_string())
            .conf("mupdate_authname", name)
            .conf("mupdate_password", "secret")
            .conf("client_timeout", "5")
            .user("cyrus", "secret")
            .write();
        let d = Daemon::start(&h, "imapd", &[]);
        (h, d)
    };
    let (h1, d1) = backend("backend1");
    let (h2, d2) = backend("backend2");
    let mut m = Murder {
        master_host,
        master,
        backend_host: h1,
        backend: d1,
    };
    let local2 = |name: &str| {
        MailboxDb::open_in(&h2.configdir())
            .unwrap()
            .get(name)
            .unwrap()
            .is_some()
    };
    let mut a1 = Imap::login(m.backend.addr, "cyrus", "secret");
    let mut a2 = Imap::login(d2.addr, "cyrus", "secret");
    a1.ok("CREATE user.alice");
    a1.ok("CREATE shared1");
    a2.ok("CREATE user.bob");
    a2.ok("CREATE user.bob.Sent");
    a2.ok("RENAME user.bob.Sent user.bob.Outbox");
    a2.ok("SETACL user.bob.Outbox alice lrs");
    a1.ok("SETACL shared1 cyrus x");
    a1.ok("DELETE shared1");
    let at = |n: &str| find(&m, n).map(|r| r.location().to_string());
    assert_eq!(at("user.alice").as_deref(), Some("backend1!default"));
    assert_eq!(at("user.bob").as_deref(), Some("backend2!default"));
    assert_eq!(at("user.bob.Outbox").as_deref(), Some("backend2!default"));
    assert_eq!(at("user.bob.Sent"), None);
    assert_eq!(at("shared1"), None);
    assert_eq!(
        find(&m, "user.bob.Outbox").unwrap().acl(),
        Some("bob\tlrswipkxtecdan\talice\tlrs\t")
    );

    // A name the other backend holds.
    assert_eq!(
        a2.no("CREATE user.alice"),
        "unable to reserve mailbox on mupdate server"
    );
    assert!(!local2("user.alice"));
    assert_eq!(at("user.alice").as_deref(), Some("backend1!default"));

    m.master.stop();
    for (a, name) in [(&mut a1, "user.carol"), (&mut a2, "user.dave")] {
        assert_eq!(a.no(&format!("CREATE {name}")), "no connection to server");
    }
    assert!(!local(&m, "user.carol"));
    assert!(!local2("user.dave"));
    let _ = &m.master_host;
}
