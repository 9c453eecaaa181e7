//! The local murder: a whole murder on loopback from one command, for a newcomer's first
//! minutes and for the tests.
//!
//! `murder local up` creates (or reuses) a state directory holding four hosts — the MUPDATE
//! master, two backends and a frontend — each with its own `imapd.conf`, configdirectory,
//! spool and sasldb, plus generated TLS certificates and the users a murder needs: `admin`
//! (password in `admin.pw`), the proxy user `murder`, the slave user `mupdateslave`, the
//! backends' own identities, and two test users `alice`/`alicepw` and `bob`/`bobpw`. It then
//! starts the murder's daemons, writes `murder.json` (how the shell connects) and prints how
//! to connect. `murder local down` stops them.
//!
//! Each daemon of [`DAEMONS`] — the master, each backend (its imapd, pop3d and lmtpd), the
//! frontend's MUPDATE slave and the frontend's proxies — is a process of its own,
//! `murder local serve --only NAME` (the daemons are linked in from the `daemons` crate, so
//! no other binary is needed), with its pid file in `run/NAME.pid` and its log in
//! `log/NAME.log`. One can therefore be stopped and started while the others run, as an
//! operator does on a real murder: [`start`], [`stop`], [`restart`], [`show`], [`log_tail`].
//! There is no supervisor process to fail: the pid files are the whole state, and a pid
//! counts only while its process is alive and still a `murder local serve`.
//!
//! The state directory is `$MURDER_HOME`, else `~/.local/state/murder`. Ports are fixed
//! offsets from `$MURDER_BASE_PORT` (default 30000), recorded in `murder.json`; while any
//! daemon runs, `murder.json`'s ports win, so starting one daemon never moves the others.
//! Each backend and the frontend also run timsieved (offsets 1190, 2190 and 190); the
//! frontend's refers users to their backend's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemons::sasl::CredStore;

/// The hosts of the local murder.
pub const HOSTS: [&str; 4] = ["mupdate", "backend1", "backend2", "frontend"];

/// The test users and their passwords.
pub const TEST_USERS: [(&str, &str); 2] = [("alice", "alicepw"), ("bob", "bobpw")];

/// Every port of the local murder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ports {
    /// The master's MUPDATE.
    pub master: u16,
    /// The frontend's MUPDATE slave.
    pub slave: u16,
    /// The frontend's IMAP (proxyd).
    pub imap: u16,
    /// The frontend's POP3 (pop3proxyd).
    pub pop3: u16,
    /// The frontend's LMTP (lmtpproxyd).
    pub lmtp: u16,
    /// backend1's IMAP, POP3 and LMTP.
    pub backend1: [u16; 3],
    /// backend2's IMAP, POP3 and LMTP.
    pub backend2: [u16; 3],
    /// ManageSieve (timsieved) of the frontend, backend1 and backend2.
    #[serde(default)]
    pub sieve: [u16; 3],
}

impl Ports {
    /// The ports for a base.
    pub fn from_base(base: u16) -> Ports {
        let p = |off: u16| base.saturating_add(off);
        Ports {
            master: p(905),
            slave: p(3905),
            imap: p(143),
            pop3: p(110),
            lmtp: p(24),
            backend1: [p(1143), p(1110), p(1024)],
            backend2: [p(2143), p(2110), p(2024)],
            sieve: [p(190), p(1190), p(2190)],
        }
    }

    /// From `$MURDER_BASE_PORT` (default 30000).
    pub fn from_env() -> Ports {
        let base = std::env::var("MURDER_BASE_PORT")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(30000);
        Ports::from_base(base)
    }
}

/// What went wrong with the local murder.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something else, said plainly.
    #[error("{0}")]
    Other(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The state directory.
pub fn state_dir() -> Option<PathBuf> {
    crate::app::state_dir()
}

fn password(dir: &Path, name: &str) -> Result<String, LocalError> {
    let path = dir.join(format!("{name}.pw"));
    if let Ok(p) = std::fs::read_to_string(&path) {
        return Ok(p.trim().to_owned());
    }
    let pw: String = (0..16)
        .map(|_| {
            let n = rand::random::<u8>() % 36;
            (if n < 10 { b'0' + n } else { b'a' + n - 10 }) as char
        })
        .collect();
    std::fs::write(&path, format!("{pw}\n")).map_err(io(&path))?;
    Ok(pw)
}

/// Writes every configuration file, user and certificate that does not exist yet. An
/// existing `imapd.conf` is rewritten only when the ports changed, so an operator's edit (a
/// fault injected by a test, a tuned option) survives restarts.
pub fn prepare(dir: &Path, ports: &Ports) -> Result<(), LocalError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let same_ports = recorded_ports(dir).is_some_and(|p| p == *ports);
    let tls = dir.join("tls");
    let certs = daemons::tls::generate_certs(&tls, &["localhost", "127.0.0.1"])
        .map_err(|e| LocalError::Other(e.to_string()))?;
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).map_err(io(&secrets))?;
    let admin_pw = password(dir, "admin")?;
    let sys_pw = password(&secrets, "system")?;
    let master = format!("127.0.0.1:{}", ports.master);
    for host in HOSTS {
        let h = dir.join(host);
        for sub in ["conf", "spool"] {
            std::fs::create_dir_all(h.join(sub)).map_err(io(&h))?;
        }
        let mut conf = vec![
            (
                "configdirectory".to_owned(),
                h.join("conf").display().to_string(),
            ),
            ("servername".into(), host.into()),
            (
                "sasl_sasldb_path".into(),
                h.join("sasldb").display().to_string(),
            ),
            (
                "partition-default".into(),
                h.join("spool").display().to_string(),
            ),
            ("allowplaintext".into(), "yes".into()),
            ("unixhierarchysep".into(), "no".into()),
            ("altnamespace".into(), "no".into()),
            ("failedloginpause".into(), "1".into()),
            ("tls_server_cert".into(), certs.cert.display().to_string()),
            ("tls_server_key".into(), certs.key.display().to_string()),
            (
                "tls_server_ca_file".into(),
                certs.ca_cert.display().to_string(),
            ),
        ];
        let mut users: Vec<(String, String)> = vec![("admin".into(), admin_pw.clone())];
        let addresses = |conf: &mut Vec<(String, String)>| {
            for (b, p) in [("backend1", ports.backend1), ("backend2", ports.backend2)] {
                for (proto, port) in ["imap", "pop3", "lmtp"].iter().zip(p) {
                    conf.push((format!("{b}_{proto}"), format!("127.0.0.1:{port}")));
                }
            }
            // Where the frontend's timsieved refers users (our `<shorthost>_sieve` key).
            for (b, port) in [("backend1", ports.sieve[1]), ("backend2", ports.sieve[2])] {
                conf.push((format!("{b}_sieve"), format!("127.0.0.1:{port}")));
            }
        };
        match host {
            "mupdate" => {
                conf.push((
                    "admins".into(),
                    "admin mupdateslave backend1 backend2".into(),
                ));
                for u in ["mupdateslave", "backend1", "backend2"] {
                    users.push((u.into(), sys_pw.clone()));
                }
            }
            "frontend" => {
                for (k, v) in [
                    ("admins", "admin"),
                    ("mupdate_server", master.as_str()),
                    ("mupdate_authname", "mupdateslave"),
                    ("mupdate_password", sys_pw.as_str()),
                    ("mupdate_retry_delay", "2"),
                    ("proxy_authname", "murder"),
                    ("proxy_password", sys_pw.as_str()),
                    ("serverlist", "backend1 backend2"),
                ] {
                    conf.push((k.into(), v.into()));
                }
                addresses(&mut conf);
                for (u, p) in TEST_USERS {
                    users.push((u.into(), p.into()));
                }
            }
            backend => {
                for (k, v) in [
                    ("admins", "admin backend1 backend2"),
                    ("proxyservers", "murder"),
                    ("lmtp_admins", "admin murder"),
                    ("allowusermoves", "yes"),
                    ("allowallsubscribe", "yes"),
                    ("mupdate_server", master.as_str()),
                    ("mupdate_authname", backend),
                    ("mupdate_password", sys_pw.as_str()),
                    ("proxy_authname", backend),
                    ("proxy_password", sys_pw.as_str()),
                ] {
                    conf.push((k.into(), v.into()));
                }
                addresses(&mut conf);
                for u in ["murder", "backend1", "backend2"] {
                    users.push((u.into(), sys_pw.clone()));
                }
                for (u, p) in TEST_USERS {
                    users.push((u.into(), p.into()));
                }
            }
        }
        let text: String = conf.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
        let path = h.join("imapd.conf");
        if !(same_ports && path.exists()) {
            std::fs::write(&path, text).map_err(io(&path))?;
        }
        let store = CredStore::new(h.join("sasldb"));
        let existing = store.users().unwrap_or_default();
        for (u, p) in users {
            if !existing.contains(&u) {
                store
                    .set_password(&u, &p)
                    .map_err(|e| LocalError::Other(e.to_string()))?;
            }
        }
    }
    let json = serde_json::json!({
        "frontend": { "host": "127.0.0.1", "port": ports.imap },
        "sieve": { "host": "127.0.0.1", "port": ports.sieve[0] },
        "admin": { "user": "admin", "password_file": "admin.pw" },
        "tls": "auto",
        "cafile": "tls/ca.pem",
        "ports": ports,
    });
    let path = dir.join("murder.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| LocalError::Other(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(io(&path))?;
    Ok(())
}

/// The ports recorded in `murder.json`, if it exists.
pub fn recorded_ports(dir: &Path) -> Option<Ports> {
    let text = std::fs::read_to_string(dir.join("murder.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(json.get("ports")?.clone()).ok()
}

/// The ports to use: those of the running murder while any daemon runs (so starting one
/// daemon never moves the others), else `$MURDER_BASE_PORT`'s.
pub fn current_ports(dir: &Path) -> Ports {
    if running_pid(dir).is_some() {
        if let Some(p) = recorded_ports(dir) {
            return p;
        }
    }
    Ports::from_env()
}

/// One daemon of the local murder: one process, started and stopped on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daemon {
    /// Its name in `localstop NAME`, the pid file and the log file.
    pub name: &'static str,
    /// The host directory (and `imapd.conf`) it runs from.
    pub host: &'static str,
    /// What it is, for `show`.
    pub about: &'static str,
}

/// Every daemon, in start order: the master first so backends and the slave find it, the
/// frontend's proxies last.
pub const DAEMONS: [Daemon; 5] = [
    Daemon {
        name: "master",
        host: "mupdate",
        about: "MUPDATE master",
    },
    Daemon {
        name: "backend1",
        host: "backend1",
        about: "backend imapd, pop3d, lmtpd, timsieved",
    },
    Daemon {
        name: "backend2",
        host: "backend2",
        about: "backend imapd, pop3d, lmtpd, timsieved",
    },
    Daemon {
        name: "slave",
        host: "frontend",
        about: "the frontend's MUPDATE slave",
    },
    Daemon {
        name: "frontend",
        host: "frontend",
        about: "the frontend's imap, pop3, lmtp proxies and timsieved",
    },
];

impl Daemon {
    /// The daemon called `name` (`mupdate` is the master's other name).
    pub fn named(name: &str) -> Result<Daemon, LocalError> {
        let name = if name == "mupdate" { "master" } else { name };
        DAEMONS
            .iter()
            .find(|d| d.name == name)
            .copied()
            .ok_or_else(|| {
                LocalError::Other(format!(
                    "no daemon {name} in the local murder (daemons: {})",
                    DAEMONS.map(|d| d.name).join(", ")
                ))
            })
    }

    /// Its listening ports, each with its service name.
    pub fn ports(&self, p: &Ports) -> Vec<(&'static str, u16)> {
        let four = |a: [u16; 3], sieve: u16| {
            vec![
                ("imap", a[0]),
                ("pop3", a[1]),
                ("lmtp", a[2]),
                ("sieve", sieve),
            ]
            .into_iter()
            .filter(|(_, port)| *port != 0)
            .collect::<Vec<_>>()
        };
        match self.name {
            "master" => vec![("mupdate", p.master)],
            "backend1" => four(p.backend1, p.sieve[1]),
            "backend2" => four(p.backend2, p.sieve[2]),
            "slave" => vec![("mupdate", p.slave)],
            _ => four([p.imap, p.pop3, p.lmtp], p.sieve[0]),
        }
    }
}

/// The daemons named (all of them when `names` is empty), in start order.
pub fn select(names: &[String]) -> Result<Vec<Daemon>, LocalError> {
    if names.is_empty() {
        return Ok(DAEMONS.to_vec());
    }
    let mut chosen = Vec::new();
    for n in names {
        chosen.push(Daemon::named(n)?);
    }
    Ok(DAEMONS
        .iter()
        .filter(|d| chosen.contains(d))
        .copied()
        .collect())
}

fn daemon_pid_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("run").join(format!("{name}.pid"))
}

/// Where a daemon's log goes.
pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("log").join(format!("{name}.log"))
}

/// The pid file of the single process earlier versions ran every daemon in; still stopped
/// by [`down`] so an upgrade does not leave it holding the ports.
fn legacy_pid_path(dir: &Path) -> PathBuf {
    dir.join("murder.pid")
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether `pid` is a live `murder local serve`. On Linux a zombie does not count and
/// neither does a recycled pid now running something else; elsewhere `kill -0` decides.
fn alive(pid: u32) -> bool {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    if Path::new("/proc/self").exists() {
        let Ok(stat) = std::fs::read_to_string(proc.join("stat")) else {
            return false;
        };
        // The state letter is the first field after the command name in parentheses.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if matches!(state, Some("Z") | Some("X") | None) {
            return false;
        }
        return std::fs::read(proc.join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains("serve"))
            .unwrap_or(false);
    }
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `(pid, start time in Unix seconds)` from a pid file, when its process is alive.
fn live_pid(path: &Path) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut words = text.split_whitespace();
    let pid: u32 = words.next()?.parse().ok()?;
    let started = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    alive(pid).then_some((pid, started))
}

/// The pid of a running daemon of the local murder, if any.
pub fn running_pid(dir: &Path) -> Option<u32> {
    DAEMONS
        .iter()
        .find_map(|d| live_pid(&daemon_pid_path(dir, d.name)))
        .or_else(|| live_pid(&legacy_pid_path(dir)))
        .map(|(pid, _)| pid)
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// What [`show`] knows about one daemon.
#[derive(Debug, Clone)]
pub struct DaemonState {
    /// Which daemon.
    pub daemon: Daemon,
    /// Its pid while it runs.
    pub pid: Option<u32>,
    /// Seconds since it started, while it runs.
    pub uptime: Option<u64>,
    /// Each port with its service and whether it accepts connections.
    pub ports: Vec<(&'static str, u16, bool)>,
}

impl DaemonState {
    /// `up` (running, every port answers), `starting` (running, a port not yet), `down`.
    pub fn state(&self) -> &'static str {
        match self.pid {
            None => "down",
            Some(_) if self.ports.iter().all(|p| p.2) => "up",
            Some(_) => "starting",
        }
    }
}

/// `1h02m`, `3m05s`, `12s`.
pub fn format_uptime(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if secs >= 86400 {
        format!("{}d{:02}h", secs / 86400, h % 24)
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The state of every daemon.
pub fn show(dir: &Path) -> Vec<DaemonState> {
    let ports = current_ports(dir);
    let now = now_secs();
    DAEMONS
        .iter()
        .map(|d| {
            let live = live_pid(&daemon_pid_path(dir, d.name));
            DaemonState {
                daemon: *d,
                pid: live.map(|l| l.0),
                uptime: live.and_then(|l| (l.1 > 0).then(|| now.saturating_sub(l.1))),
                ports: d
                    .ports(&ports)
                    .into_iter()
                    .map(|(svc, p)| (svc, p, live.is_some() && port_open(p)))
                    .collect(),
            }
        })
        .collect()
}

/// Starts a daemon's process and writes its pid file. The caller watches the child until
/// it listens, then hands it to [`reap`].
fn spawn(dir: &Path, d: &Daemon) -> Result<std::process::Child, LocalError> {
    let exe = std::env::current_exe().map_err(|e| LocalError::Other(e.to_string()))?;
    let log = log_path(dir, d.name);
    let run = daemon_pid_path(dir, d.name);
    for p in [&log, &run] {
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
    }
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(io(&log))?;
    let logf2 = logf.try_clone().map_err(io(&log))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["local", "serve", "--only", d.name])
        .env("MURDER_HOME", dir)
        .stdin(std::process::Stdio::null())
        .stdout(logf)
        .stderr(logf2);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C in the shell must not stop the murder.
        cmd.process_group(0);
    }
    let child = cmd
        .spawn()
        .map_err(|e| LocalError::Other(format!("cannot start {}: {e}", d.name)))?;
    std::fs::write(&run, format!("{} {}\n", child.id(), now_secs())).map_err(io(&run))?;
    Ok(child)
}

/// Reaps a started daemon when it exits, so one stopped from a long-running shell does not
/// stay behind as a zombie.
fn reap(mut child: std::process::Child) {
    std::thread::spawn(move || child.wait());
}

/// Waits until a just-started daemon listens on every port. Its own [`std::process::Child`]
/// says whether it exited: [`alive`] cannot tell yet, as between fork and exec the child
/// still shows the parent's command line.
fn wait_ports(
    dir: &Path,
    d: &Daemon,
    ports: &Ports,
    child: &mut std::process::Child,
) -> Result<(), LocalError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if d.ports(ports).iter().all(|(_, p)| port_open(*p)) {
            return Ok(());
        }
        let tail = || {
            log_tail(dir, d.name, 5)
                .map(|l| l.join("\n  "))
                .unwrap_or_default()
        };
        if !matches!(child.try_wait(), Ok(None)) {
            return Err(LocalError::Other(format!(
                "{} exited at start; the end of {}:\n  {}",
                d.name,
                log_path(dir, d.name).display(),
                tail()
            )));
        }
        if Instant::now() > deadline {
            return Err(LocalError::Other(format!(
                "{} did not open its ports within 30 s; see {}",
                d.name,
                log_path(dir, d.name).display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts the named daemons (every one when `names` is empty) that are not running, and
/// waits until each listens. Returns one line per daemon.
pub fn start(dir: &Path, names: &[String]) -> Result<Vec<String>, LocalError> {
    let chosen = select(names)?;
    let ports = current_ports(dir);
    prepare(dir, &ports)?;
    let mut lines = Vec::new();
    let mut started = Vec::new();
    for d in &chosen {
        if let Some((pid, _)) = live_pid(&daemon_pid_path(dir, d.name)) {
            lines.push(format!("{}: already running (pid {pid})", d.name));
            continue;
        }
        let mut child = spawn(dir, d)?;
        if d.name == "master" {
            // Backends and the slave connect to the master at start: let it listen first.
            if let Err(e) = wait_ports(dir, d, &ports, &mut child) {
                reap(child);
                return Err(e);
            }
        }
        started.push((d, child));
    }
    let mut failure = None;
    for (d, mut child) in started {
        if failure.is_none() {
            match wait_ports(dir, d, &ports, &mut child) {
                Ok(()) => {
                    let list: Vec<String> = d
                        .ports(&ports)
                        .iter()
                        .map(|(svc, p)| format!("{svc}:{p}"))
                        .collect();
                    lines.push(format!(
                        "{}: started (pid {}, {})",
                        d.name,
                        child.id(),
                        list.join(" ")
                    ));
                }
                Err(e) => failure = Some(e),
            }
        }
        reap(child);
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(lines)
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status();
}

/// Stops one process: SIGTERM, then SIGKILL after 10 s. Returns whether it had to be killed.
fn stop_pid(pid: u32) -> bool {
    signal(pid, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        if Instant::now() > deadline {
            signal(pid, "-KILL");
            let deadline = Instant::now() + Duration::from_secs(5);
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Stops the named daemons (every one when `names` is empty), the frontend's proxies first.
/// Returns one line per daemon.
pub fn stop(dir: &Path, names: &[String]) -> Result<Vec<String>, LocalError> {
    let chosen = select(names)?;
    let mut lines = Vec::new();
    for d in chosen.iter().rev() {
        let path = daemon_pid_path(dir, d.name);
        match live_pid(&path) {
            Some((pid, _)) => {
                let killed = stop_pid(pid);
                lines.push(format!(
                    "{}: stopped (pid {pid}{})",
                    d.name,
                    if killed { ", killed after 10 s" } else { "" }
                ));
            }
            None => lines.push(format!("{}: not running", d.name)),
        }
        let _ = std::fs::remove_file(&path);
    }
    if names.is_empty() {
        if let Some((pid, _)) = live_pid(&legacy_pid_path(dir)) {
            stop_pid(pid);
            lines.push(format!("stopped the old single-process murder (pid {pid})"));
        }
        let _ = std::fs::remove_file(legacy_pid_path(dir));
    }
    Ok(lines)
}

/// Stops then starts the named daemons (every one when `names` is empty).
pub fn restart(dir: &Path, names: &[String]) -> Result<Vec<String>, LocalError> {
    let mut lines = stop(dir, names)?;
    lines.extend(start(dir, names)?);
    Ok(lines)
}

/// The last `n` lines of a daemon's log (at most the last MiB of it is read).
pub fn log_tail(dir: &Path, name: &str, n: usize) -> Result<Vec<String>, LocalError> {
    use std::io::{Read, Seek, SeekFrom};
    let d = Daemon::named(name)?;
    let path = log_path(dir, d.name);
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path)(e)),
    };
    const WINDOW: u64 = 1 << 20;
    let len = f.metadata().map_err(io(&path))?.len();
    let from = len.saturating_sub(WINDOW);
    f.seek(SeekFrom::Start(from)).map_err(io(&path))?;
    let mut buf = Vec::new();
    f.take(WINDOW).read_to_end(&mut buf).map_err(io(&path))?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    // A window that starts mid-file starts mid-line: drop the partial first line.
    if from > 0 && !lines.is_empty() {
        lines.remove(0);
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines.into_iter().skip(skip).map(str::to_owned).collect())
}

/// Starts every daemon of the local murder that is not running and waits until each
/// answers. Prints how to connect when `announce`.
pub fn up(dir: &Path, announce: bool) -> Result<Ports, LocalError> {
    start(dir, &[])?;
    let ports = current_ports(dir);
    if announce {
        println!("local murder running from {}", dir.display());
        println!(
            "  frontend   imap 127.0.0.1:{}  pop3 :{}  lmtp :{}",
            ports.imap, ports.pop3, ports.lmtp
        );
        println!(
            "  mupdate    master 127.0.0.1:{}  frontend slave :{}",
            ports.master, ports.slave
        );
        println!(
            "  backend1   imap :{}  pop3 :{}  lmtp :{}",
            ports.backend1[0], ports.backend1[1], ports.backend1[2]
        );
        println!(
            "  backend2   imap :{}  pop3 :{}  lmtp :{}",
            ports.backend2[0], ports.backend2[1], ports.backend2[2]
        );
        println!(
            "  sieve      frontend :{}  backend1 :{}  backend2 :{}",
            ports.sieve[0], ports.sieve[1], ports.sieve[2]
        );
        println!(
            "  admin: admin, password in {}; users alice/alicepw, bob/bobpw",
            dir.join("admin.pw").display()
        );
        println!(
            "connect: murder   (or: murder 127.0.0.1 {} --user admin)",
            ports.imap
        );
        println!(
            "daemons: murder local show; logs in {}",
            dir.join("log").display()
        );
        println!("stop:    murder local down");
    }
    Ok(ports)
}

/// Stops every daemon. Returns whether any was running.
pub fn down(dir: &Path) -> Result<bool, LocalError> {
    let lines = stop(dir, &[])?;
    Ok(lines.iter().any(|l| !l.ends_with("not running")))
}

async fn listen(port: u16) -> Result<tokio::net::TcpListener, LocalError> {
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| LocalError::Other(format!("cannot listen on 127.0.0.1:{port}: {e}")))
}

fn load(
    dir: &Path,
    host: &str,
    service: &str,
) -> Result<protocol::config::imapd::ImapdConf, LocalError> {
    daemons::conf::load(&dir.join(host).join("imapd.conf"), Some(service))
        .map_err(|e| LocalError::Other(e.to_string()))
}

type Tasks = tokio::task::JoinSet<(String, Result<(), String>)>;

/// Binds one daemon's ports and spawns its servers on `tasks`.
async fn launch(
    d: &Daemon,
    dir: &Path,
    ports: &Ports,
    shutdown: &tokio_util::sync::CancellationToken,
    tasks: &mut Tasks,
) -> Result<(), LocalError> {
    let label = |svc: &str| format!("{} {svc}", d.name);
    match d.name {
        "master" | "slave" => {
            let conf = load(dir, d.host, "mupdate")?;
            let port = if d.name == "master" {
                ports.master
            } else {
                ports.slave
            };
            let l = listen(port).await?;
            let s = shutdown.clone();
            let master = d.name == "master";
            let name = label("mupdate");
            tasks.spawn(
                async move { (name, daemons::mupdate::run(&conf, master, l, None, s).await) },
            );
        }
        _ => {
            let [imap, pop3, lmtp] = match d.name {
                "backend1" => ports.backend1,
                "backend2" => ports.backend2,
                _ => [ports.imap, ports.pop3, ports.lmtp],
            };
            let conf = load(dir, d.host, "imap")?;
            let l = listen(imap).await?;
            let s = shutdown.clone();
            let name = label("imapd");
            tasks.spawn(async move { (name, daemons::imapd::run(conf, false, l, s).await) });
            let conf = load(dir, d.host, "pop3")?;
            let l = listen(pop3).await?;
            let s = shutdown.clone();
            let name = label("pop3d");
            tasks.spawn(async move { (name, daemons::pop3d::run(conf, false, l, s).await) });
            // The frontend's LMTP is pre-authorised (as Cyrus's `lmtpd -a` for a trusted MTA).
            let preauth = d.name == "frontend";
            let conf = load(dir, d.host, "lmtp")?;
            let l = listen(lmtp).await?;
            let s = shutdown.clone();
            let name = label("lmtpd");
            tasks.spawn(async move {
                (
                    name,
                    daemons::lmtpd::run(conf, preauth, Some(l), None, s).await,
                )
            });
            // timsieved: the frontend's refers users to their backend's.
            let sieve = match d.name {
                "backend1" => ports.sieve[1],
                "backend2" => ports.sieve[2],
                _ => ports.sieve[0],
            };
            // (No sieve port: a murder.json written before timsieved was part of it.)
            if sieve != 0 {
                let conf = load(dir, d.host, "sieve")?;
                let l = listen(sieve).await?;
                let s = shutdown.clone();
                let name = label("timsieved");
                tasks.spawn(async move { (name, daemons::timsieved::run(conf, l, s).await) });
            }
        }
    }
    Ok(())
}

/// Runs daemons of the local murder in this process until SIGTERM or SIGINT: every one
/// (`murder local serve`, all in the foreground), or only the one named (what [`start`]
/// runs in the background, one process per daemon).
pub async fn serve(dir: &Path, only: Option<&str>) -> Result<(), LocalError> {
    daemons::cli::init_logging(false);
    let (chosen, ports) = match only {
        None => {
            let ports = Ports::from_env();
            prepare(dir, &ports)?;
            (DAEMONS.to_vec(), ports)
        }
        Some(name) => {
            let d = Daemon::named(name)?;
            let ports = recorded_ports(dir).ok_or_else(|| {
                LocalError::Other(format!(
                    "no local murder in {} (run `murder local up` first)",
                    dir.display()
                ))
            })?;
            let path = daemon_pid_path(dir, d.name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            let own = format!("{} {}\n", std::process::id(), now_secs());
            std::fs::write(&path, own).map_err(io(&path))?;
            (vec![d], ports)
        }
    };
    let shutdown = daemons::cli::shutdown_on_signals();
    let mut tasks = Tasks::new();
    for d in &chosen {
        launch(d, dir, &ports, &shutdown, &mut tasks).await?;
    }
    tracing::info!(
        "murder local: {} listening",
        chosen.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
    );
    let mut failed = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok((name, r))) => {
                    if let Err(e) = &r {
                        tracing::error!("murder local: {name}: {e}");
                    } else {
                        tracing::error!("murder local: {name} ended");
                    }
                    // A daemon process whose server ended must end too, so `show` says
                    // it is down rather than half up.
                    if only.is_some() {
                        failed = true;
                        break;
                    }
                }
                Some(Err(e)) => {
                    tracing::error!("murder local: a server task failed: {e}");
                    if only.is_some() {
                        failed = true;
                        break;
                    }
                }
            }
        }
    }
    tasks.abort_all();
    if !failed {
        tracing::info!(
            "murder local: {} stopping",
            chosen.iter().map(|d| d.name).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(name) = only {
        let path = daemon_pid_path(dir, name);
        let mine = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.split_whitespace().next().map(str::to_owned))
            == Some(std::process::id().to_string());
        if mine {
            let _ = std::fs::remove_file(&path);
        }
    }
    if failed {
        return Err(LocalError::Other("a server ended; stopping".into()));
    }
    Ok(())
}

/// Writes [`show`]'s states, one record per daemon, in the shell's output format.
pub fn print_show(
    states: &[DaemonState],
    ctx: &crate::murder::Ctx,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use crate::murder::s;
    let mut o = crate::murder::Out::new(ctx, out);
    for st in states {
        let ports: Vec<String> = st
            .ports
            .iter()
            .map(|(svc, p, open)| {
                if st.pid.is_some() && !open {
                    format!("{svc}:{p}(closed)")
                } else {
                    format!("{svc}:{p}")
                }
            })
            .collect();
        let pid = st.pid.map_or("-".to_owned(), |p| p.to_string());
        let uptime = st.uptime.map_or("-".to_owned(), format_uptime);
        let line = format!(
            "{:<9} {:<8} pid {:<8} uptime {:<7} {:<38} {}",
            st.daemon.name,
            st.state(),
            pid,
            uptime,
            ports.join(" "),
            st.daemon.about
        );
        o.record(
            "local_daemon",
            &line,
            &[
                ("daemon", s(st.daemon.name)),
                ("state", s(st.state())),
                ("pid", st.pid.map_or(serde_json::Value::Null, |p| p.into())),
                (
                    "uptime_s",
                    st.uptime.map_or(serde_json::Value::Null, |u| u.into()),
                ),
                ("ports", s(ports.join(" "))),
                ("what", s(st.daemon.about)),
            ],
        )?;
    }
    o.finish()
}

/// Runs a shell command of the local murder (`localstart`, `localstop`, `localrestart`,
/// `localshow`, `locallog`). Returns the exit status: 1 when a daemon could not be started
/// or, for `localshow`, when one is not up.
pub async fn run_command(
    inv: &crate::commands::Invocation,
    ctx: &crate::murder::Ctx,
    out: &mut dyn std::io::Write,
) -> Result<i32, String> {
    use crate::commands::CommandId;
    let dir = state_dir().ok_or("set MURDER_HOME or HOME")?;
    let names = inv.args.clone();
    let command = inv.command;
    let lines_opt = inv.value("lines").map(str::to_owned);
    let d = dir.clone();
    // Starting and stopping wait for processes and ports: off the async threads, so Ctrl-C
    // still reaches the shell.
    let result = tokio::task::spawn_blocking(move || -> Result<Vec<String>, LocalError> {
        match command {
            CommandId::LocalStart => start(&d, &names),
            CommandId::LocalStop => stop(&d, &names),
            CommandId::LocalRestart => restart(&d, &names),
            CommandId::LocalLog => {
                let n = match lines_opt {
                    Some(v) => v.parse().map_err(|_| {
                        LocalError::Other(format!("-n wants a number of lines, not {v}"))
                    })?,
                    None => 50,
                };
                let name = names.first().map(String::as_str).unwrap_or_default();
                log_tail(&d, name, n)
            }
            _ => Ok(Vec::new()),
        }
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    if command == CommandId::LocalShow {
        let states = tokio::task::spawn_blocking(move || show(&dir))
            .await
            .map_err(|e| e.to_string())?;
        print_show(&states, ctx, out).map_err(io)?;
        return Ok(if states.iter().all(|s| s.state() == "up") {
            0
        } else {
            1
        });
    }
    for l in &result {
        writeln!(out, "{l}").map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemons_by_name_in_start_order() {
        let names = |v: Vec<Daemon>| v.iter().map(|d| d.name).collect::<Vec<_>>();
        assert_eq!(names(select(&[]).unwrap()).len(), 5);
        let picked = select(&["frontend".into(), "mupdate".into(), "backend2".into()]).unwrap();
        assert_eq!(names(picked), ["master", "backend2", "frontend"]);
        let e = select(&["backend3".into()]).unwrap_err().to_string();
        assert_eq!(
            e,
            "no daemon backend3 in the local murder (daemons: master, backend1, backend2, slave, frontend)"
        );
        let p = Ports::from_base(30000);
        let slave = Daemon::named("slave").unwrap();
        assert_eq!(slave.ports(&p), [("mupdate", 33905)]);
        assert_eq!(
            Daemon::named("backend2").unwrap().ports(&p),
            [
                ("imap", 32143),
                ("pop3", 32110),
                ("lmtp", 32024),
                ("sieve", 32190)
            ]
        );
    }

    #[test]
    fn uptimes_read_at_a_glance() {
        assert_eq!(format_uptime(7), "7s");
        assert_eq!(format_uptime(185), "3m05s");
        assert_eq!(format_uptime(3720), "1h02m");
        assert_eq!(format_uptime(90000), "1d01h");
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert!(log_tail(dir.path(), "master", 5).unwrap().is_empty());
        std::fs::create_dir_all(dir.path().join("log")).unwrap();
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(log_path(dir.path(), "master"), text).unwrap();
        assert_eq!(
            log_tail(dir.path(), "master", 2).unwrap(),
            ["line 99", "line 100"]
        );
        assert_eq!(log_tail(dir.path(), "master", 500).unwrap().len(), 100);
        assert!(log_tail(dir.path(), "nobody", 1).is_err());
    }

    #[test]
    fn a_stale_pid_file_is_not_a_running_daemon() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("run")).unwrap();
        // Our own pid is alive but is not a `murder local serve`.
        std::fs::write(
            daemon_pid_path(dir.path(), "master"),
            format!("{} 0\n", std::process::id()),
        )
        .unwrap();
        if Path::new("/proc/self").exists() {
            assert_eq!(running_pid(dir.path()), None);
        }
        let states = show(dir.path());
        assert!(states
            .iter()
            .all(|s| s.state() == "down" && s.pid.is_none()));
    }
}
