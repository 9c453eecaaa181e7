//! The harness for cross-crate integration tests: real daemons as processes on ephemeral
//! loopback ports, each in its own temporary directory with its own imapd.conf and sasldb.
//!
//! ```no_run
//! use murder_tests::{Host, Daemon};
//! let master = Host::new("mupdate")
//!     .conf("admins", "mupduser")
//!     .conf("allowplaintext", "yes")
//!     .user("mupduser", "secret")
//!     .write();
//! let d = Daemon::start(&master, "mupdate", &["-m"]);
//! println!("master listens on {}", d.addr);
//! ```

pub mod cyrus;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries (`target/debug` or `target/release`).
pub fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Test executables live in target/<profile>/deps/, examples (the benchmarks) in
        // target/<profile>/examples/.
        let exe = std::env::current_exe().expect("test executable path");
        let deps = exe.parent().expect("deps dir");
        if deps.ends_with("deps") || deps.ends_with("examples") {
            deps.parent().expect("profile dir").to_path_buf()
        } else {
            deps.to_path_buf()
        }
    })
    .clone()
}

/// The path of one of our binaries. The daemons are built once per test process, so a test
/// never runs a stale binary (cargo takes about a second when nothing changed; under
/// `cargo test --workspace` they are already fresh).
pub fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        // The benchmark scripts build the daemons themselves first.
        if std::env::var_os("MURDER_DAEMONS_BUILT").is_some() {
            return;
        }
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-q", "-p", "murder-daemons", "--bins"]);
        if bin_dir().ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build for the daemons");
        assert!(status.success(), "building the daemons failed");
    });
    bin_dir().join(name)
}

/// A host of the murder: a directory with imapd.conf, configdirectory and sasldb.
pub struct Host {
    /// Its `servername`.
    pub name: String,
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    conf: BTreeMap<String, String>,
    users: Vec<(String, String)>,
}

impl Host {
    /// A host named `name` (its servername) in a fresh temporary directory.
    pub fn new(name: &str) -> Host {
        let dir = tempfile::Builder::new()
            .prefix(&format!("murder-{name}-"))
            .tempdir()
            .expect("temp dir");
        let mut conf = BTreeMap::new();
        conf.insert(
            "configdirectory".into(),
            dir.path().join("conf").display().to_string(),
        );
        conf.insert("servername".into(), name.into());
        conf.insert(
            "sasl_sasldb_path".into(),
            dir.path().join("sasldb").display().to_string(),
        );
        conf.insert(
            "partition-default".into(),
            dir.path().join("spool").display().to_string(),
        );
        conf.insert("failedloginpause".into(), "0".into());
        Host {
            name: name.into(),
            dir,
            conf,
            users: Vec::new(),
        }
    }

    /// Sets an imapd.conf option.
    pub fn conf(mut self, key: &str, value: &str) -> Host {
        self.conf.insert(key.into(), value.into());
        self
    }

    /// Adds a user to this host's sasldb.
    pub fn user(mut self, name: &str, password: &str) -> Host {
        self.users.push((name.into(), password.into()));
        self
    }

    /// Writes imapd.conf and the sasldb.
    pub fn write(self) -> Host {
        std::fs::create_dir_all(self.configdir()).expect("configdirectory");
        let mut text = String::new();
        for (k, v) in &self.conf {
            text.push_str(&format!("{k}: {v}\n"));
        }
        std::fs::write(self.imapd_conf(), text).expect("imapd.conf");
        for (u, p) in &self.users {
            add_user(&self.sasldb(), u, p);
        }
        self
    }

    /// Rewrites imapd.conf after changing an option.
    pub fn set(&mut self, key: &str, value: &str) {
        self.conf.insert(key.into(), value.into());
        let mut text = String::new();
        for (k, v) in &self.conf {
            text.push_str(&format!("{k}: {v}\n"));
        }
        std::fs::write(self.imapd_conf(), text).expect("imapd.conf");
    }

    /// The imapd.conf path.
    pub fn imapd_conf(&self) -> PathBuf {
        self.dir.path().join("imapd.conf")
    }

    /// The configdirectory.
    pub fn configdir(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// The sasldb path.
    pub fn sasldb(&self) -> PathBuf {
        self.dir.path().join("sasldb")
    }

    /// A path inside the host's directory.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

/// Adds or replaces a user with our `saslpasswd`.
pub fn add_user(sasldb: &Path, user: &str, password: &str) {
    use std::io::Write;
    let mut child = Command::new(bin("saslpasswd"))
        .args(["-c", "-p", "-f"])
        .arg(sasldb)
        .arg(user)
        .stdin(Stdio::piped())
        .spawn()
        .expect("saslpasswd");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    assert!(child.wait().expect("saslpasswd").success());
}

/// A daemon running as a process; killed (SIGKILL) when dropped.
pub struct Daemon {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Option<Child>,
    /// Its stderr log file.
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `program` for `host` on an ephemeral loopback port and waits until it listens.
    pub fn start(host: &Host, program: &str, args: &[&str]) -> Daemon {
        Daemon::start_on(host, program, args, "127.0.0.1:0")
    }

    /// Starts `program` listening on `listen`.
    pub fn start_on(host: &Host, program: &str, args: &[&str], listen: &str) -> Daemon {
        let log = host.path(&format!("{program}.{}.log", std::process::id()));
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let mut child = Command::new(bin(program))
            .args(args)
            .arg("-C")
            .arg(host.imapd_conf())
            .args(["--listen", listen, "--print-address"])
            .stdout(Stdio::piped())
            .stderr(logf)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{program} did not start; log: {}", read(&log)));
        let addr = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{program} printed {line:?}; log: {}", read(&log)));
        Daemon {
            addr,
            child: Some(child),
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the process with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        read(&self.log)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the real Cyrus 3.6 tools and daemons are installed (Debian's packages).
pub fn cyrus_installed() -> bool {
    Path::new("/usr/lib/cyrus/bin/mupdate").exists()
        && Path::new("/usr/lib/cyrus/bin/mupdatetest").exists()
}

/// A Cyrus binary from Debian's packages.
pub fn cyrus_bin(name: &str) -> PathBuf {
    Path::new("/usr/lib/cyrus/bin").join(name)
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, `RssAnon`, ...), in KiB.
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// CPU time (user + system) used so far by process `pid`, its reaped children, and (with
/// `children`) its live children too, from /proc; zero if it is gone. Benchmarks compare
/// server CPU per operation with it, which is far steadier than throughput on a shared host.
pub fn cpu_time(pid: u32, children: bool) -> Duration {
    // Fields 14..17 of /proc/PID/stat (utime, stime, cutime, cstime), after the `(comm)`.
    let fields = |pid: &str| -> Option<(u32, u64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = stat.get(stat.rfind(')')? + 2..)?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ppid = f.get(1)?.parse().ok()?;
        let ticks = f
            .get(11..15)?
            .iter()
            .filter_map(|t| t.parse::<u64>().ok())
            .sum();
        Some((ppid, ticks))
    };
    let mut ticks = fields(&pid.to_string()).map(|(_, t)| t).unwrap_or(0);
    if children {
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let name = e.file_name();
                let Some(name) = name
                    .to_str()
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                if let Some((ppid, t)) = fields(name) {
                    if ppid == pid {
                        ticks += t;
                    }
                }
            }
        }
    }
    // /proc reports these in USER_HZ ticks, which Linux fixes at 100 on every architecture
    // this runs on.
    Duration::from_micros(ticks * 10_000)
}
