//! `murderdiff` and `testauth` against the real Cyrus 3.6 murder of `shared/cyrus-murder`
//! (frontend 127.0.0.1:10143, backends 11143/12143 direct, master 13905, the frontend's
//! slave 10905), described to the shell by a topology file. The murder is shared with other
//! tests: these only read it, except for one uniquely named entry put on the master and
//! taken off again.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::{real_murder, stderr, stdout, unique};

/// The real murder's state directory (up.sh's `$CYRUS_MURDER_STATE`).
fn state() -> PathBuf {
    std::env::var_os("CYRUS_MURDER_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/cyrus-murder"))
}

/// Writes the real murder's topology into `dir` and returns the file.
fn write_topology(dir: &Path) -> PathBuf {
    let conf = |inst: &str| {
        state()
            .join(inst)
            .join("etc/imapd.conf")
            .display()
            .to_string()
    };
    let t = serde_json::json!({
        "master": { "name": "mupdate", "address": "127.0.0.1:13905", "imapd_conf": conf("mupdate") },
        "backends": [
            { "name": "backend1", "address": "127.0.0.1:11143", "imapd_conf": conf("backend1") },
            { "name": "backend2", "address": "127.0.0.1:12143", "imapd_conf": conf("backend2") },
        ],
        "frontends": [
            { "name": "frontend", "address": "127.0.0.1:10143", "imapd_conf": conf("frontend") },
        ],
        "slaves": [ { "name": "frontend", "address": "127.0.0.1:10905" } ],
        "admin": { "user": "cyrus", "password": "secret" },
    });
    let path = dir.join("cyrus-murder.json");
    std::fs::write(&path, serde_json::to_string_pretty(&t).unwrap()).unwrap();
    path
}

/// Runs murder-wide commands against the real murder, connecting nowhere first.
fn run(topology: &Path, json: bool, commands: &str) -> Output {
    let home = topology.parent().unwrap();
    let mut c = std::process::Command::new(common::murder_bin());
    c.env("MURDER_HOME", home)
        .env("MURDER_AUTOSTART", "0")
        .env_remove("MURDER_PASSWORD")
        .arg("--no-connect");
    if json {
        c.args(["-o", "json"]);
    }
    c.args(["-e", commands]).output().unwrap()
}

#[test]
fn testauth_on_the_real_murder_is_all_green() {
    if real_murder().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let topo = write_topology(dir.path());
    let out = run(
        &topo,
        false,
        &format!("testauth --topology {}", topo.display()),
    );
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{s}{}", stderr(&out));
    // Every server reached, logins per mechanism, and the murder's identities read from the
    // real imapd.conf files.
    for want in [
        "master    reachable",
        "backend1  reachable",
        "backend2  reachable",
        "frontend  reachable",
        "master    auth PLAIN as cyrus",
        "frontend  auth LOGIN as cyrus",
        "master    backend1's mupdate identity backend1",
        "master    slave's mupdate identity mupdateslave",
        "master    mupdateslave is an admin",
        "backend1  proxy murder for alice",
        "backend2  proxy murder for alice",
        "backend2  murder is not an admin",
    ] {
        let line = s.lines().find(|l| l.starts_with(want));
        assert!(
            line.is_some_and(|l| l.contains(" ok ")),
            "{want}: {line:?}\n{s}"
        );
    }
    assert!(s.contains("Cyrus IMAP 3.6"), "{s}");
    let out = run(
        &topo,
        true,
        &format!("testauth --topology {}", topo.display()),
    );
    let rows: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() >= 20, "{rows:?}");
    assert!(rows.iter().all(|r| r["ok"] == true), "{rows:?}");
}

/// A wrong proxy password in the topology's view of the frontend is diagnosed against the
/// real backends (the files are copies: the real murder is not touched).
#[test]
fn testauth_on_the_real_murder_diagnoses_a_wrong_proxy_password() {
    if real_murder().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let topo = write_topology(dir.path());
    let real = state().join("frontend/etc/imapd.conf");
    let bad: String = std::fs::read_to_string(&real)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("backend1_password") && !l.starts_with("backend2_password"))
        .map(|l| {
            if l.starts_with("proxy_password:") {
                "proxy_password: wrong\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let copy = dir.path().join("frontend-imapd.conf");
    std::fs::write(&copy, bad).unwrap();
    let text = std::fs::read_to_string(&topo)
        .unwrap()
        .replace(&real.display().to_string(), &copy.display().to_string());
    std::fs::write(&topo, text).unwrap();
    let out = run(
        &topo,
        false,
        &format!("testauth --topology {}", topo.display()),
    );
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("backend1 refuses proxy user murder: "), "{s}");
    assert!(s.contains("backend2 refuses proxy user murder: "), "{s}");
}

/// A clean diff (retried for a while: other tests create and delete mailboxes on the same
/// murder, and a change takes a moment to reach the frontend's slave), then a stale entry
/// put on the master is reported, and the diff is clean again once it is gone.
#[test]
fn murderdiff_on_the_real_murder_is_clean_then_finds_a_stale_master_entry() {
    if real_murder().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let topo = write_topology(dir.path());
    // The topology found as $MURDER_HOME/topology.json, without --topology.
    std::fs::copy(&topo, dir.path().join("topology.json")).unwrap();
    let diff = || run(&topo, false, "mdiff");
    let settle = |what: &str, ok: &dyn Fn(&Output) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = diff();
            if ok(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {}{}",
                stdout(&out),
                stderr(&out)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    let out = settle("a clean diff", &|o| o.status.code() == Some(0));
    let s = stdout(&out);
    assert!(s.ends_with(": in sync\n"), "{s}");
    let compared: usize = s
        .trim_end()
        .rsplit('\n')
        .next()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(compared > 0, "{s}");

    // A stale entry on the master: the master says backend1 holds it, backend1 does not.
    let ghost = format!("user.{}", unique("ghost"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let creds = daemons::mupdate::client::Credentials {
        authname: "cyrus".into(),
        username: None,
        password: "secret".into(),
        mechs: None,
    };
    let master = || {
        rt.block_on(daemons::mupdate::client::connect_authenticated(
            "127.0.0.1",
            13905,
            &creds,
            None,
            Duration::from_secs(5),
        ))
        .unwrap()
    };
    let mut c = master();
    rt.block_on(c.activate(&ghost, "backend1!default", "cyrus\tlrswipkxtecda\t"))
        .unwrap();
    rt.block_on(c.logout());
    let want = format!(
        "extra on master: {ghost} (master says backend1!default, backend1 does not hold it)"
    );
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settle("the stale entry", &|o| stdout(o).contains(&want))
    }));
    // Clean up before asserting anything else.
    let mut c = master();
    rt.block_on(c.delete(&ghost)).unwrap();
    rt.block_on(c.logout());
    let out = found.unwrap();
    assert_eq!(out.status.code(), Some(1));
    settle("a clean diff after the cleanup", &|o| {
        o.status.code() == Some(0) && !stdout(o).contains(&ghost)
    });
}

/// The frontend-check runbook, on a murder described by a topology file (`MURDER_TOPOLOGY`):
/// the real frontend's slave matches the real master.
#[test]
fn check_frontend_runbook_on_the_real_murder() {
    if real_murder().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let topo = write_topology(dir.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/runbook_check_frontend.sh");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("frontend")
            .env("MURDER", common::murder_bin())
            .env("MURDER_HOME", dir.path())
            .env("MURDER_TOPOLOGY", &topo)
            .env_remove("MURDER_CONNECT")
            .output()
            .unwrap();
        let s = format!("{}{}", stdout(&out), stderr(&out));
        if out.status.code() == Some(0) {
            assert_eq!(s, "every frontend slave matches the master\n");
            return;
        }
        // Out of step only while other tests' changes travel to the slave; this runbook
        // never restarts anything on a murder that is not the local one.
        assert_eq!(out.status.code(), Some(1), "{s}");
        assert!(
            s.contains("restart the mupdate slave on each frontend"),
            "{s}"
        );
        assert!(Instant::now() < deadline, "{s}");
        std::thread::sleep(Duration::from_millis(500));
    }
}
