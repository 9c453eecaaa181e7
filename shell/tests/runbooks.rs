//! The runbooks of `scripts/` run end to end against a local murder (`murder local up` in a
//! temporary MURDER_HOME, on free ports): each one's dry run changes nothing, its real run
//! repairs what was injected, and a rerun finds nothing left to do.

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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn both(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Murder {
    fn up() -> Murder {
        // A base whose every port is free, spread by pid and test so parallel runs rarely
        // collide (and apart from murder_ops' range).
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut base = 40000 + (std::process::id() as u16 % 40) * 400 + n * 7;
        let offsets = [
            905u16, 3905, 143, 110, 24, 1143, 1110, 1024, 2143, 2110, 2024,
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
            .env_remove("MURDER_PASSWORD")
            .env_remove("MURDER_TOPOLOGY")
            .env_remove("MURDER_CONNECT");
        c
    }

    /// Runs shell commands without connecting anywhere.
    fn run(&self, commands: &str) -> Output {
        self.cmd()
            .args(["--no-connect", "-e", commands])
            .output()
            .unwrap()
    }

    fn stdout(&self, commands: &str) -> String {
        text(&self.run(commands).stdout)
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
        assert!(out.status.success(), "{}", both(&out));
    }

    fn configdir(&self, host: &str) -> PathBuf {
        self.dir().join(host).join("conf")
    }

    /// Runs a runbook with the shell as `$MURDER`.
    fn runbook(&self, name: &str, args: &[&str]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts")
            .join(name);
        let mut c = Command::new("bash");
        c.arg(script).args(args).env("MURDER", BIN);
        c.env("MURDER_HOME", self.home.path())
            .env("MURDER_BASE_PORT", self.base.to_string())
            .env_remove("MURDER_PASSWORD")
            .env_remove("MURDER_TOPOLOGY")
            .env_remove("MURDER_CONNECT");
        c.output().unwrap()
    }

    fn in_sync(&self) -> bool {
        self.run("mdiff").status.code() == Some(0)
    }

    /// Where the master says `mailbox` is (`backend1!default`), if it knows it.
    fn location(&self, mailbox: &str) -> Option<String> {
        let out = self
            .cmd()
            .args(["--no-connect", "-o", "json", "-e"])
            .arg(format!("lmurder {mailbox}"))
            .output()
            .unwrap();
        text(&out.stdout).lines().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["mailbox"] == mailbox).then(|| v["location"].as_str().unwrap_or("").to_owned())
        })
    }
}

fn entry(name: &str) -> MailboxEntry {
    let user = name.trim_start_matches("user.");
    MailboxEntry {
        name: name.into(),
        partition: "default".into(),
        acl: format!("{user}\tlrswipkxtecdan\t"),
        uniqueid: format!("u-{user}"),
        ..Default::default()
    }
}

#[test]
fn import_and_add_backend_runbooks() {
    let m = Murder::up();
    m.on_backend(1, "cm user.alice; cm user.bob");
    wait_for("an in-sync murder", || m.in_sync());

    // Behind the master's back: user.dora appears on backend2, user.bob vanishes from
    // backend1.
    let b1 = MailboxDb::open_in(&m.configdir("backend1")).unwrap();
    let b2 = MailboxDb::open_in(&m.configdir("backend2")).unwrap();
    b2.put(&entry("user.dora")).unwrap();
    assert!(b1.delete("user.bob").unwrap());

    // The dry run plans and changes nothing.
    let out = m.runbook("runbook_import_mailboxes.sh", &["--dry-run", "backend2"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("Force Activate: user.dora"), "{s}");
    assert!(s.contains("dry run: nothing changed"), "{s}");
    assert_eq!(m.location("user.dora"), None);

    let out = m.runbook("runbook_import_mailboxes.sh", &["backend2"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(1), "backend1 is still off: {s}");
    assert_eq!(m.location("user.dora").as_deref(), Some("backend2!default"));
    assert!(s.contains("extra on master: user.bob"), "{s}");
    let out = m.runbook("runbook_import_mailboxes.sh", &["backend1"]);
    let s = both(&out);
    assert!(s.contains("Remove from MUPDATE: user.bob"), "{s}");
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(m.location("user.bob"), None);
    // Rerun: nothing to do.
    let out = m.runbook("runbook_import_mailboxes.sh", &["backend2"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("backend2: nothing to import"), "{s}");

    // Adding a backend: backend2 taken out of the frontend's serverlist, with a mailbox
    // the master has never heard of.
    let conf = m.dir().join("frontend/imapd.conf");
    let orig = std::fs::read_to_string(&conf).unwrap();
    let without: String = orig
        .lines()
        .map(|l| {
            if l.starts_with("serverlist:") {
                "serverlist: backend1\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&conf, &without).unwrap();
    b2.put(&entry("user.erin")).unwrap();
    let out = m.runbook("runbook_add_backend.sh", &["--dry-run", "backend2"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("backend2 and the master are up"), "{s}");
    assert!(s.contains("testauth: backend2 and the master pass"), "{s}");
    assert!(s.contains("Force Activate: user.erin"), "{s}");
    assert!(
        s.contains("dry run: would add backend2 to the frontend's serverlist"),
        "{s}"
    );
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), without);
    assert_eq!(m.location("user.erin"), None);

    let out = m.runbook("runbook_add_backend.sh", &["backend2"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(m.location("user.erin").as_deref(), Some("backend2!default"));
    let now = std::fs::read_to_string(&conf).unwrap();
    assert!(now.contains("serverlist: backend1 backend2\n"), "{now}");
    assert!(s.contains("frontend: started"), "{s}");
    assert_eq!(m.run("localshow").status.code(), Some(0));
    // Rerun: nothing changes.
    let out = m.runbook("runbook_add_backend.sh", &["backend2"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("serverlist already has backend2"), "{s}");
    assert!(!s.contains("started"), "{s}");

    // A backend that is down is refused before anything changes.
    assert!(m.run("localstop backend2").status.success());
    let out = m.runbook("runbook_add_backend.sh", &["backend2"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        both(&out).contains("backend2 does not answer"),
        "{}",
        both(&out)
    );
}

#[test]
fn move_users_runbook() {
    let m = Murder::up();
    m.on_backend(1, "cm user.alice; cm user.bob; cm user.carol");
    wait_for("an in-sync murder", || m.in_sync());
    let list = m.dir().join("users.txt");
    std::fs::write(&list, "alice\nuser.bob\n\n# carol stays\n").unwrap();

    let out = m.runbook(
        "runbook_move_users.sh",
        &["--dry-run", "backend2", list.to_str().unwrap()],
    );
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(
        s.contains("dry run: would move alice from backend1 to backend2!default"),
        "{s}"
    );
    assert!(
        s.contains("dry run: 2 to move, 0 already on backend2, 0 failed"),
        "{s}"
    );
    assert_eq!(
        m.location("user.alice").as_deref(),
        Some("backend1!default")
    );

    let out = m.runbook(
        "runbook_move_users.sh",
        &["backend2", list.to_str().unwrap()],
    );
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("moved  alice: backend1 -> backend2"), "{s}");
    assert!(
        s.contains("2 moved, 0 already on backend2, 0 failed"),
        "{s}"
    );
    for u in ["user.alice", "user.bob"] {
        assert_eq!(m.location(u).as_deref(), Some("backend2!default"), "{u}");
    }
    assert_eq!(
        m.location("user.carol").as_deref(),
        Some("backend1!default")
    );

    // Rerun (as after an interruption), plus a user the master does not know.
    std::fs::write(&list, "alice\nbob\nnobody\n").unwrap();
    let out = m.runbook(
        "runbook_move_users.sh",
        &["backend2", list.to_str().unwrap()],
    );
    let s = both(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("skip   alice: already on backend2"), "{s}");
    assert!(
        s.contains("FAILED nobody: the master has no user.nobody"),
        "{s}"
    );
    assert!(
        s.contains("0 moved, 2 already on backend2, 1 failed"),
        "{s}"
    );
    wait_for("an in-sync murder after the moves", || m.in_sync());
}

#[test]
fn master_recovery_runbook() {
    let m = Murder::up();
    m.on_backend(1, "cm user.alice; cm user.bob");
    m.on_backend(2, "cm user.carol");
    wait_for("an in-sync murder", || m.in_sync());

    // The master loses its database while it is down.
    let out = m.run("localstop master");
    assert!(
        text(&out.stdout).contains("master: stopped"),
        "{}",
        both(&out)
    );
    // While it is down the runbook refuses to start.
    let out = m.runbook("runbook_master_recovery.sh", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        both(&out).contains("the master does not answer"),
        "{}",
        both(&out)
    );
    std::fs::remove_dir_all(m.configdir("mupdate").join(daemons::mboxdb::DB_DIR)).unwrap();
    assert!(m.run("localstart master").status.success());
    assert_eq!(m.location("user.alice"), None);

    let out = m.runbook("runbook_master_recovery.sh", &["--dry-run"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("Force Activate: user.alice"), "{s}");
    assert!(s.contains("Force Activate: user.carol"), "{s}");
    assert!(s.contains("dry run: nothing changed"), "{s}");
    assert_eq!(m.location("user.alice"), None);
    assert_eq!(m.location("user.carol"), None);

    let out = m.runbook("runbook_master_recovery.sh", &[]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(
        m.location("user.alice").as_deref(),
        Some("backend1!default")
    );
    assert_eq!(
        m.location("user.carol").as_deref(),
        Some("backend2!default")
    );
    assert!(s.ends_with("3 mailboxes compared: in sync\n"), "{s}");

    let out = m.runbook("runbook_master_recovery.sh", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn check_frontend_runbook() {
    let m = Murder::up();
    m.on_backend(1, "cm user.alice");
    wait_for("an in-sync murder", || m.in_sync());
    let out = m.runbook("runbook_check_frontend.sh", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(both(&out).contains("every frontend slave matches the master"));

    // The slave stopped while a mailbox is created.
    assert!(m.run("localstop slave").status.success());
    m.on_backend(2, "cm user.bob");
    let out = m.runbook("runbook_check_frontend.sh", &["--dry-run"]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("missing-on-slave frontend: user.bob"), "{s}");
    assert!(
        s.contains("dry run: would restart the local frontend's slave"),
        "{s}"
    );
    assert!(
        m.stdout("localshow")
            .lines()
            .any(|l| l.starts_with("slave") && l.contains(" down ")),
        "the dry run started the slave"
    );

    let out = m.runbook("runbook_check_frontend.sh", &[]);
    let s = both(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(s.contains("slave: started"), "{s}");
    assert!(m.in_sync());
    let out = m.runbook("runbook_check_frontend.sh", &["frontend"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}
