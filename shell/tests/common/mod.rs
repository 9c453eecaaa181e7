//! Test helpers: a scripted IMAP server on loopback that answers with responses recorded
//! from a real Cyrus 3.6 murder, the `murder` binary, and the real murder when available.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `murder` binary under test.
pub fn murder_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_murder"))
}

/// Capabilities of a Cyrus 3.6 frontend after login (trimmed to what matters here).
pub const CYRUS_CAPS: &str = "IMAP4rev1 LITERAL+ ID ENABLE ACL CHILDREN CREATE-SPECIAL-USE \
LIST-EXTENDED MAILBOX-REFERRALS METADATA NAMESPACE QUOTA RIGHTS=kxten SPECIAL-USE \
X-QUOTA=STORAGE X-QUOTA=MESSAGE LOGINDISABLED";

/// One rule: when a command (after its tag) starts with `prefix` (case-insensitive), answer
/// `reply`, where `TAG` stands for the command's tag. A reply of `HANG` never answers;
/// `CLOSE` drops the connection.
#[derive(Clone)]
pub struct Rule {
    pub prefix: String,
    pub reply: String,
}

pub fn rule(prefix: &str, reply: &str) -> Rule {
    Rule {
        prefix: prefix.to_string(),
        reply: reply.to_string(),
    }
}

/// A scripted server; every command it received is kept in `log`.
pub struct FakeImap {
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl FakeImap {
    /// Starts a server that answers with `rules` (first match wins), LOGIN and
    /// AUTHENTICATE PLAIN with OK for the password `secret` and NO otherwise.
    pub fn start(rules: Vec<Rule>) -> FakeImap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let rules = rules.clone();
                let log = log2.clone();
                std::thread::spawn(move || serve(stream, &rules, &log));
            }
        });
        FakeImap { port, log }
    }

    /// The commands received so far, without tags.
    pub fn commands(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, rules: &[Rule], log: &Mutex<Vec<String>>) {
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let _ = w.write_all(
        b"* OK [CAPABILITY IMAP4rev1 LITERAL+ ID AUTH=PLAIN AUTH=LOGIN SASL-IR] fake Cyrus IMAP 3.6.1 server ready\r\n",
    );
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let l = line.trim_end().to_string();
        let (tag, rest) = l.split_once(' ').unwrap_or((&l, ""));
        let upper = rest.to_ascii_uppercase();
        log.lock().unwrap().push(rest.to_string());
        let reply = if upper.starts_with("LOGOUT") {
            let _ =
                w.write_all(format!("* BYE LOGOUT received\r\n{tag} OK Completed\r\n").as_bytes());
            return;
        } else if upper.starts_with("AUTHENTICATE PLAIN ") || upper.starts_with("LOGIN ") {
            // \0cyrus\0secret in base64, or LOGIN with the password secret.
            let ok = rest.contains("AGN5cnVzAHNlY3JldA==") || rest.ends_with(" secret");
            if ok {
                format!("{tag} OK [CAPABILITY {CYRUS_CAPS}] User logged in SESSIONID=<fake>\r\n")
            } else {
                format!("{tag} NO Login failed: authentication failure\r\n")
            }
        } else if let Some(rl) = rules
            .iter()
            .find(|x| upper.starts_with(&x.prefix.to_ascii_uppercase()))
        {
            if rl.reply == "CLOSE" {
                return;
            }
            if rl.reply == "HANG" {
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            rl.reply.replace("TAG", tag).replace('\n', "\r\n")
        } else if upper.starts_with("RLIST \"\" \"\"") {
            format!("* LIST (\\Noselect) \".\" \"\"\r\n{tag} OK Completed\r\n")
        } else if upper.starts_with("CAPABILITY") {
            format!("* CAPABILITY {CYRUS_CAPS}\r\n{tag} OK Completed\r\n")
        } else {
            format!("{tag} BAD Unrecognized command\r\n")
        };
        if w.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Runs `murder` with `args` against `port`, logged in as cyrus/secret, with `stdin`.
pub fn run_murder(port: u16, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(murder_bin());
    cmd.args(["-u", "cyrus", "--notls", "127.0.0.1", &port.to_string()])
        .args(args)
        .env("MURDER_PASSWORD", "secret")
        .env_remove("COLUMNS")
        .env("HOME", std::env::temp_dir())
        .env_remove("MURDER_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The real Cyrus 3.6 murder of `../shared/cyrus-murder`: `Some(frontend port)` when it runs
/// (started with up.sh when we are root and nothing listens yet), `None` (with a message)
/// when it cannot be had here.
///
/// Tests run in parallel threads and test binaries in parallel processes, while up.sh wipes
/// and rebuilds the murder's state: two runs at once destroy each other's instances. So the
/// first caller in a process decides for all of them, and the start itself happens under an
/// exclusive lock on a file shared by every process.
pub fn real_murder() -> Option<u16> {
    static STARTED: std::sync::OnceLock<Option<u16>> = std::sync::OnceLock::new();
    *STARTED.get_or_init(start_real_murder)
}

fn start_real_murder() -> Option<u16> {
    // `shared/` sits beside the repository (CI); MURDER_CYRUS_HARNESS overrides that, for
    // work trees elsewhere.
    let up = std::env::var_os("MURDER_CYRUS_HARNESS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/cyrus-murder/up.sh"
            ))
        });
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("murder-real-cyrus.lock"))
        .ok();
    if let Some(l) = &lock {
        let _ = l.lock();
    }
    if TcpStream::connect("127.0.0.1:10143").is_ok() {
        return Some(10143);
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !root || !up.exists() || !std::path::Path::new("/usr/sbin/cyrmaster").exists() {
        eprintln!(
            "skipping: the real Cyrus murder needs root, Cyrus installed and {}",
            up.display()
        );
        return None;
    }
    let st = Command::new("bash")
        .arg(&up)
        .current_dir(up.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !st.map(|s| s.success()).unwrap_or(false) {
        eprintln!("skipping: {} failed", up.display());
        return None;
    }
    for _ in 0..100 {
        if TcpStream::connect("127.0.0.1:10143").is_ok() {
            return Some(10143);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("skipping: the murder's frontend did not come up");
    None
}

/// A mailbox-name prefix unique to this test run.
pub fn unique(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    format!("{tag}{}x{}", std::process::id(), t % 1_000_000_000)
}

/// A local murder of our daemons (`murder local up` in a temporary MURDER_HOME), taken down
/// when dropped.
pub struct Murder {
    pub home: tempfile::TempDir,
    pub base: u16,
}

impl Drop for Murder {
    fn drop(&mut self) {
        let _ = self.cmd().args(["local", "down"]).output();
    }
}

pub fn port_free(p: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
}

impl Murder {
    pub fn up() -> Murder {
        let home = tempfile::tempdir().unwrap();
        // A base whose every port is free, away from murder_ops.rs's range; one per test
        // of this process, so parallel tests do not pick the same one.
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4;
        let mut base = 40000 + ((std::process::id() as u16 % 60) * 4 + n) * 50;
        let offsets = [
            905u16, 3905, 143, 110, 24, 1143, 1110, 1024, 2143, 2110, 2024, 190, 1190, 2190,
        ];
        while !offsets.iter().all(|o| port_free(base + o)) {
            base = base.wrapping_add(37) % 50000 + 10000;
        }
        let m = Murder { home, base };
        let out = m.cmd().args(["local", "up"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        m
    }

    pub fn dir(&self) -> &Path {
        self.home.path()
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(murder_bin());
        c.env("MURDER_HOME", self.home.path())
            .env("MURDER_BASE_PORT", self.base.to_string())
            .env("MURDER_AUTOSTART", "0")
            .env("HOME", self.home.path())
            .env_remove("MURDER_PASSWORD")
            .env_remove("COLUMNS");
        c
    }

    /// The shell on the frontend (the local murder's default), as admin, with `-e`.
    pub fn shell(&self, args: &[&str], commands: &str) -> Output {
        self.cmd()
            .args(args)
            .args(["-e", commands])
            .output()
            .unwrap()
    }

    pub fn frontend(&self) -> u16 {
        self.base + 143
    }
}
