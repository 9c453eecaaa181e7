//! A first end-to-end check of the MUPDATE master with our own client: authentication as an
//! admin works, a non-admin is refused, writes are durable and readable back.

use std::time::Duration;

use daemons::mupdate::client::{connect_authenticated, ClientError, Credentials};
use murder_tests::{Daemon, Host};

fn creds(user: &str, pw: &str) -> Credentials {
    Credentials {
        authname: user.into(),
        username: None,
        password: pw.into(),
        mechs: None,
    }
}

#[tokio::test]
async fn master_accepts_admins_and_stores_what_it_acknowledges() {
    let host = Host::new("mupdate")
        .conf("admins", "mupduser")
        .conf("allowplaintext", "yes")
        .user("mupduser", "secret")
        .user("alice", "alicepw")
        .write();
    let d = Daemon::start(&host, "mupdate", &["-m"]);
    let (h, p) = (d.addr.ip().to_string(), d.addr.port());
    let t = Duration::from_secs(5);

    let err = connect_authenticated(&h, p, &creds("alice", "alicepw"), None, t)
        .await
        .err()
        .expect("a non-admin must be refused");
    assert!(matches!(err, ClientError::AuthFailed { .. }), "{err}");

    let mut c = connect_authenticated(&h, p, &creds("mupduser", "secret"), None, t)
        .await
        .unwrap();
    c.reserve("user.bob", "be1!default").await.unwrap();
    c.activate("user.bob", "be1!default", "bob\tlrswipkxtecdan\t")
        .await
        .unwrap();
    let err = c.reserve("user.bob", "be2!default").await.unwrap_err();
    assert_eq!(err.to_string(), "NO mailbox already exists");
    let found = c.find("user.bob").await.unwrap().expect("found");
    assert_eq!(found.location(), "be1!default");
    let mut names = Vec::new();
    c.list(Some("be1!"), |r| names.push(r.name)).await.unwrap();
    assert_eq!(names, ["user.bob"]);
    assert_eq!(
        c.delete("user.nosuch").await.unwrap_err().to_string(),
        "NO mailbox doesn't exist"
    );
    c.logout().await;
}
