//! The murder-wide commands (`murderlist`, `murderdiff`, `murderstatus`) against a real local
//! murder (`murder local up` in a temporary MURDER_HOME), with faults injected behind the
//! master's back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use daemons::mboxdb::{MailboxDb, MailboxEntry};

const BIN: &str = env!("CARGO_BIN_EXE_murder");

struct Murder {
    home: tempfile::TempDir,
    base: u16,
}

impl Drop for Murder {
    fn drop(&mut self) {
        let _ = self.cmd().args(["local", "down"]).output();
    }
}

fn port_free(p: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
}

impl Murder {
    fn up() -> Murder {
        // A base whose every port is free; spread by pid so parallel runs rarely collide.
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut base = 20000 + ((std::process::id() as u16 % 150) * 2 + n % 2) * 100 + n / 2 * 5;
        let offsets = [
            905u16, 3905, 143, 110, 24, 1143, 1110, 1024, 2143, 2110, 2024, 190, 1190, 2190,
        ];
        // A port found free may be taken before the daemon binds it (other tests and
        // processes share the machine): then the start fails, and another base is tried.
        let mut last = String::new();
        for _ in 0..3 {
            while !offsets.iter().all(|o| port_free(base + o)) {
                base = base.wrapping_add(37) % 50000 + 10000;
            }
            let m = Murder {
                home: tempfile::tempdir().unwrap(),
                base,
            };
            let out = m.cmd().args(["local", "up"]).output().unwrap();
            if out.status.success() {
                return m;
            }
            last = format!("{}{}", text(&out.stdout), text(&out.stderr));
            eprintln!("local up on base {base} failed, trying another: {last}");
            base = base.wrapping_add(37) % 50000 + 10000;
        }
        panic!("the local murder did not start: {last}");
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("MURDER_HOME", self.home.path())
            .env("MURDER_BASE_PORT", self.base.to_string())
            .env("MURDER_AUTOSTART", "0")
            .env_remove("MURDER_PASSWORD");
        c
    }

    /// Runs shell commands without connecting anywhere.
    fn run(&self, args: &[&str], commands: &str) -> Output {
        self.cmd()
            .arg("--no-connect")
            .args(args)
            .args(["-e", commands])
            .output()
            .unwrap()
    }

    /// Runs commands as admin on a backend's IMAP port.
    fn on_backend(&self, n: u16, commands: &str) {
        let port = self.base + 1143 + (n - 1) * 1000;
        let out = self
            .cmd()
            .args(["127.0.0.1", &port.to_string(), "-u", "admin"])
            .arg("--password-file")
            .arg(self.dir().join("admin.pw"))
            .arg("--cafile")
            .arg(self.dir().join("tls/ca.pem"))
            .args(["-e", commands])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    fn configdir(&self, host: &str) -> PathBuf {
        self.dir().join(host).join("conf")
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn list_status_and_diff_with_faults() {
    let m = Murder::up();
    m.on_backend(1, "cm user.alice; cm user.bob; sam user.bob anyone lrs");
    m.on_backend(2, "cm user.carol");

    // Until the slave has caught up, diff reports it; then it is in sync.
    wait_for("an in-sync murder", || {
        m.run(&[], "mdiff").status.code() == Some(0)
    });
    let out = m.run(&[], "mdiff");
    assert_eq!(text(&out.stdout), "3 mailboxes compared: in sync\n");

    // murderlist in each format, with filters.
    let out = m.run(&[], "lmurder");
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        s.contains("user.alice backend1!default (active) alice lrswipkxtecdan"),
        "{s}"
    );
    assert!(
        s.contains("user.bob backend1!default (active) bob lrswipkxtecdan anyone lrs"),
        "{s}"
    );
    assert!(s.contains("user.carol backend2!default (active)"), "{s}");
    let out = m.run(&["-o", "json"], "lmurder --server backend2");
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["mailbox"], "user.carol");
    assert_eq!(lines[0]["state"], "active");
    assert_eq!(lines[0]["type"], "murder_mailbox");
    let out = m.run(&["-o", "table"], "lmurder user.%");
    let s = text(&out.stdout);
    assert!(
        s.contains("mailbox") && s.contains("location") && s.contains("user.bob"),
        "{s}"
    );
    let out = m.run(&[], "lmurder --state reserved");
    assert_eq!(text(&out.stdout), "");

    // Status: every server up, the slave connected.
    let out = m.run(&[], "mstatus");
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}{}", text(&out.stderr));
    assert_eq!(s.lines().filter(|l| l.contains(" up ")).count(), 5, "{s}");
    assert!(s.contains("state=connected"), "{s}");
    let out = m.run(&["-o", "json"], "mstatus");
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r["up"] == true));
    let slave = rows.iter().find(|r| r["role"] == "slave").unwrap();
    assert_eq!(slave["slave_state"], "connected");
    assert!(
        slave["last_sync"].as_str().unwrap().ends_with("s ago"),
        "{slave}"
    );

    // Fault 1: user.bob removed from backend1's mailboxes.db behind the master's back.
    let b1 = MailboxDb::open_in(&m.configdir("backend1")).unwrap();
    assert!(b1.delete("user.bob").unwrap());
    // Fault 2: user.carol duplicated on backend1.
    b1.put(&MailboxEntry {
        name: "user.carol".into(),
        partition: "default".into(),
        acl: "carol\tlrswipkxtecdan\t".into(),
        uniqueid: "dup-carol".into(),
        ..Default::default()
    })
    .unwrap();
    let out = m.run(&[], "mdiff");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("duplicate: user.carol is on backend1 (backend1!default) and backend2 (backend2!default)"), "{s}");
    assert!(
        s.contains(
            "extra on master: user.bob (master says backend1!default, backend1 does not hold it)"
        ),
        "{s}"
    );
    assert!(
        s.ends_with("3 mailboxes compared: out of sync: 1 duplicate, 1 extra-on-master\n"),
        "{s}"
    );
    let out = m.run(&["-o", "json"], "mdiff");
    let last: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "murder_diff_summary");
    assert_eq!(last["differences"], 2);

    // Resync backend1: a dry run first, then --yes; the duplicate is held back until a
    // winner is named.
    let out = m.run(&[], "mresync backend1");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}{}", text(&out.stderr));
    assert!(s.contains("Remove from MUPDATE: user.bob\n"), "{s}");
    assert!(
        s.contains("user.carol: held by two backends; refused until --winner user.carol=BACKEND"),
        "{s}"
    );
    assert!(s.contains("dry run: nothing changed"), "{s}");
    assert_eq!(m.run(&[], "mdiff").status.code(), Some(1));
    let out = m.run(&[], "mresync --yes --winner user.carol=backend2 backend1");
    let s = text(&out.stdout);
    assert!(
        s.contains("user.carol: backend2 wins; left alone here"),
        "{s}"
    );
    assert!(
        s.contains("backend1: 1 removed from the master, 0 activated"),
        "{s}"
    );
    assert!(s.contains("slave frontend: caught up"), "{s}");
    // The master no longer lists user.bob; only the duplicate is left (the operator
    // deletes backend1's copy).
    let out = m.run(&[], "lmurder user.bob");
    assert_eq!(text(&out.stdout), "");
    wait_for("the slave to drop user.bob", || {
        text(&m.run(&[], "mdiff").stdout).ends_with("out of sync: 1 duplicate\n")
    });
    b1.delete("user.carol").unwrap();
    assert_eq!(m.run(&[], "mdiff").status.code(), Some(0));

    // A mailbox missing on the master (created behind its back on backend2) is pushed.
    let b2 = MailboxDb::open_in(&m.configdir("backend2")).unwrap();
    b2.put(&MailboxEntry {
        name: "user.dora".into(),
        partition: "default".into(),
        acl: "dora\tlrswipkxtecdan\t".into(),
        uniqueid: "u-dora".into(),
        ..Default::default()
    })
    .unwrap();
    let s = text(&m.run(&[], "mdiff").stdout);
    assert!(
        s.contains("missing on master: user.dora (on backend2 at backend2!default)"),
        "{s}"
    );
    let s = text(&m.run(&[], "mresync --yes backend2").stdout);
    assert!(s.contains("Force Activate: user.dora"), "{s}");
    wait_for("a repaired murder", || {
        m.run(&[], "mdiff").status.code() == Some(0)
    });

    // testauth: everything passes, then a wrong proxy password is diagnosed.
    let out = m.run(&[], "testauth");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let conf = m.dir().join("frontend/imapd.conf");
    let orig = std::fs::read_to_string(&conf).unwrap();
    let bad: String = orig
        .lines()
        .map(|l| {
            if l.starts_with("proxy_password:") {
                "proxy_password: wrong\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&conf, bad).unwrap();
    let out = m.run(&[], "testauth");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("backend1 refuses proxy user murder:"), "{s}");
    assert!(s.contains("backend2 refuses proxy user murder:"), "{s}");
    std::fs::write(&conf, orig).unwrap();

    // The same comparison with the backends read over IMAP (LIST as admin): names and
    // servers only.
    let b = |n: u16| format!("backend{n}=127.0.0.1:{}", m.base + 1143 + (n - 1) * 1000);
    let out = m.run(&[], &format!("mdiff --backend {},{}", b(1), b(2)));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    b2.delete("user.dora").unwrap();
    let out = m.run(&[], &format!("mdiff --backend {},{}", b(1), b(2)));
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("extra on master: user.dora"), "{s}");

    // A slave that missed changes (its copy edited behind its back, as after a stop while
    // creates happened): reported per mailbox.
    let fe = MailboxDb::open_in(&m.configdir("frontend")).unwrap();
    assert!(fe.delete("user.alice").unwrap());
    let out = m.run(&[], "mdiff");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("missing on slave frontend: user.alice (master: backend1!default)"),
        "{s}"
    );

    // Fault 3: the master down (a port nobody listens on).
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let master = format!("--mupdate 127.0.0.1:{dead}");
    let out = m.run(&[], &format!("mdiff {master}"));
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(e.contains("mupdate is not reachable on master"), "{e}");
    let out = m.run(&[], &format!("mstatus {master}"));
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!("master master 127.0.0.1:{dead} DOWN")),
        "{s}"
    );
    assert!(s.contains("(connection refused)"), "{s}");
    let out = m.run(&[], &format!("testauth {master}"));
    let s = text(&out.stdout);
    assert!(
        s.contains(&format!(
            "mupdate is not running on the master (connection refused at 127.0.0.1:{dead})"
        )),
        "{s}"
    );
    let out = m.run(&[], &format!("lmurder {master}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("murderlist: mupdate is not reachable"));
}

/// The master's list streams: 200,000 entries written straight into the master's database
/// come out of `murderlist` in JSON lines and in table pages.
#[test]
fn murderlist_streams_a_large_list() {
    let m = Murder::up();
    let n = 200_000;
    let db = MailboxDb::open_in(&m.configdir("mupdate")).unwrap();
    db.write(|tx| {
        for i in 0..n {
            let r = protocol::mupdate::MailboxRecord::active(
                format!("user.u{i:07}"),
                format!("backend{}!default", 1 + i % 2),
                "anyone\tlrs\t",
            );
            tx.put(&daemons::mupdate::slave::entry_from_record(&r));
        }
        Ok(())
    })
    .unwrap();
    let start = Instant::now();
    let out = m.run(&["-o", "json"], "lmurder");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert_eq!(s.lines().count(), n);
    assert!(s
        .lines()
        .last()
        .unwrap()
        .contains("\"mailbox\":\"user.u0199999\""));
    eprintln!("murderlist -o json: {n} entries in {:?}", start.elapsed());
    let out = m.run(&["-o", "table"], "lmurder --server backend2 user.u00001*");
    let s = text(&out.stdout);
    // user.u0000100..user.u0000199 on backend2: the odd half of 100 names.
    assert_eq!(
        s.lines().filter(|l| l.contains("user.u00001")).count(),
        50,
        "{s}"
    );
}

/// Each daemon of the local murder is a process of its own. The frontend's slave really
/// stopped while mailboxes are created: the master has them, the frontend does not, and
/// `murderdiff` says so; starting the slave again catches the frontend up. The master
/// really stopped: `testauth` and `murderstatus` name it, on its real port.
#[test]
fn slave_and_master_stopped_for_real() {
    let m = Murder::up();
    let out = m.run(&[], "localshow");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
    for d in ["master", "backend1", "backend2", "slave", "frontend"] {
        let line = s.lines().find(|l| l.starts_with(d)).unwrap_or_default();
        assert!(line.contains(" up ") && line.contains("pid "), "{d}: {s}");
    }
    let out = m.run(&["-o", "json"], "localshow");
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pids: std::collections::HashSet<u64> =
        rows.iter().map(|r| r["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 5, "one process per daemon: {rows:?}");
    m.on_backend(1, "cm user.alice");
    wait_for("an in-sync murder", || {
        m.run(&[], "mdiff").status.code() == Some(0)
    });

    // The slave stopped: its process gone, its port closed, the rest up.
    let out = m.run(&[], "localstop slave");
    assert!(
        text(&out.stdout).starts_with("slave: stopped (pid "),
        "{}",
        text(&out.stdout)
    );
    assert!(port_free(m.base + 3905));
    let out = m.run(&[], "localshow");
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out.stdout);
    assert!(
        s.lines()
            .any(|l| l.starts_with("slave") && l.contains(" down ")),
        "{s}"
    );
    assert_eq!(s.matches(" up ").count(), 4, "{s}");

    // Creates while it is down reach the master but not the frontend.
    m.on_backend(1, "cm user.s1");
    m.on_backend(2, "cm user.s2");
    let s = text(&m.run(&[], "lmurder user.s*").stdout);
    assert!(
        s.contains("user.s1 backend1!default") && s.contains("user.s2 backend2!default"),
        "{s}"
    );
    let out = m.run(&[], "mdiff");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("missing on slave frontend: user.s1 (master: backend1!default)"),
        "{s}"
    );
    assert!(
        s.contains("missing on slave frontend: user.s2 (master: backend2!default)"),
        "{s}"
    );
    assert!(s.ends_with("out of sync: 2 missing-on-slave\n"), "{s}");
    let s = text(&m.run(&[], "mstatus").stdout);
    assert!(
        s.contains(&format!("127.0.0.1:{} DOWN", m.base + 3905)),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            "the mupdate slave is not running on frontend (connection refused at 127.0.0.1:{})",
            m.base + 3905
        )),
        "{s}"
    );

    // Starting it again resyncs the frontend.
    let out = m.run(&[], "localstart slave");
    assert!(
        text(&out.stdout).starts_with("slave: started (pid "),
        "{}",
        text(&out.stdout)
    );
    wait_for("the slave to catch up", || {
        m.run(&[], "mdiff").status.code() == Some(0)
    });
    // Its log tells the story, newest last.
    let out = m.run(&[], "locallog -n 3 slave");
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!((1..=3).contains(&s.lines().count()), "{s}");
    let log = std::fs::read_to_string(m.dir().join("log/slave.log")).unwrap();
    assert!(log.ends_with(&s), "{s}\n---\n{log}");
    assert!(log.contains("murder local: slave listening"), "{log}");

    // The master stopped for real: diagnosed on its own port.
    let master = m.base + 905;
    assert!(m.run(&[], "localstop master").status.success());
    let out = m.run(&[], "testauth");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains(&format!(
            "mupdate is not running on the master (connection refused at 127.0.0.1:{master})"
        )),
        "{s}"
    );
    let out = m.run(&[], "mstatus");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    let line = s
        .lines()
        .find(|l| l.starts_with("master "))
        .unwrap_or_default();
    assert!(
        line.starts_with(&format!("master mupdate 127.0.0.1:{master} DOWN"))
            && line.ends_with("(connection refused)"),
        "{s}"
    );
    // The slave, still up, knows it lost the master.
    assert!(s.contains("state=disconnected"), "{s}");
    assert!(
        s.ends_with(&format!(
            "mupdate is not running on the master (connection refused at 127.0.0.1:{master})\n"
        )),
        "{s}"
    );
    let out = m.run(&[], "mdiff");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!(
            "mupdate is not reachable on mupdate (127.0.0.1:{master})"
        )),
        "{}",
        text(&out.stderr)
    );
    assert!(m.run(&[], "localstart master").status.success());
    assert_eq!(m.run(&[], "testauth").status.code(), Some(0));
    wait_for("the murder after the master's return", || {
        m.run(&[], "mdiff").status.code() == Some(0)
    });
}

/// A wrong proxy password on the frontend, for real: the frontend restarted with it cannot
/// reach a user's backend, `testauth` says which backend refuses the proxy user, and the
/// frontend restarted with the right one works again.
#[test]
fn wrong_proxy_password_for_real() {
    let m = Murder::up();
    m.on_backend(1, "cm user.alice");
    wait_for("an in-sync murder", || {
        m.run(&[], "mdiff").status.code() == Some(0)
    });
    let as_alice = || {
        m.cmd()
            .args(["127.0.0.1", &(m.base + 143).to_string(), "-u", "alice"])
            .arg("--cafile")
            .arg(m.dir().join("tls/ca.pem"))
            .env("MURDER_PASSWORD", "alicepw")
            .args(["-e", "info INBOX"])
            .output()
            .unwrap()
    };
    let out = as_alice();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let conf = m.dir().join("frontend/imapd.conf");
    let orig = std::fs::read_to_string(&conf).unwrap();
    let bad = orig
        .lines()
        .map(|l| {
            if l.starts_with("proxy_password:") {
                "proxy_password: wrong\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect::<String>();
    std::fs::write(&conf, bad).unwrap();
    let out = m.run(&[], "localrestart frontend");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = as_alice();
    assert!(
        !out.status.success(),
        "alice reached her backend with a wrong proxy password"
    );
    let out = m.run(&[], "testauth");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("backend1 refuses proxy user murder: "), "{s}");
    assert!(s.contains("backend2 refuses proxy user murder: "), "{s}");

    std::fs::write(&conf, orig).unwrap();
    assert!(m.run(&[], "localrestart frontend").status.success());
    let out = as_alice();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(m.run(&[], "testauth").status.code(), Some(0));
}
