//! The local murder: a whole murder on loopback from one command, for a newcomer's first
//! minutes and for the tests.
//!
//! `murder local up` creates (or reuses) a state directory holding four hosts — the MUPDATE
//! master, two backends and a frontend — each with its own `imapd.conf`, configdirectory,
//! spool and sasldb, plus generated TLS certificates and the users a murder needs: `admin`
//! (password in `admin.pw`), the proxy user `murder`, the slave user `mupdateslave`, the
//! backends' own identities, and two test users `alice`/`alicepw` and `bob`/`bobpw`. It then
//! starts every daemon in one background process (`murder local serve`, the daemons linked
//! in from the `daemons` crate, so no other binary is needed), writes `murder.json` (how the
//! shell connects) and prints how to connect. `murder local down` stops that process.
//!
//! The state directory is `$MURDER_HOME`, else `~/.local/state/murder`. Ports are fixed
//! offsets from `$MURDER_BASE_PORT` (default 30000), recorded in `murder.json`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemons::sasl::CredStore;

/// The hosts of the local murder.
pub const HOSTS: [&str; 4] = ["mupdate", "backend1", "backend2", "frontend"];

/// The test users and their passwords.
pub const TEST_USERS: [(&str, &str); 2] = [("alice", "alicepw"), ("bob", "bobpw")];

/// Every port of the local murder.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
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
    /// The frontend's ManageSieve (timsieved, referring clients to the backends). Absent
    /// from a `murder.json` written before it existed, hence the default.
    #[serde(default)]
    pub sieve: u16,
    /// backend1's and backend2's ManageSieve.
    #[serde(default)]
    pub backend_sieve: [u16; 2],
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
            sieve: p(4190),
            backend_sieve: [p(5190), p(6190)],
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

/// Writes every configuration file, user and certificate that does not exist yet.
pub fn prepare(dir: &Path, ports: &Ports) -> Result<(), LocalError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
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
            // The frontend's sieve referrals must name a port that answers on loopback.
            for (b, port) in ["backend1", "backend2"].iter().zip(ports.backend_sieve) {
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
        std::fs::write(&path, text).map_err(io(&path))?;
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

fn pid_path(dir: &Path) -> PathBuf {
    dir.join("murder.pid")
}

/// The pid of a running `local serve`, if any.
pub fn running_pid(dir: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_path(dir))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // Signal 0 only checks that the process exists.
    let alive = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    alive.then_some(pid)
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Starts the local murder in the background (or finds it running) and waits until the
/// frontend answers. Prints how to connect when `announce`.
pub fn up(dir: &Path, announce: bool) -> Result<Ports, LocalError> {
    let ports = Ports::from_env();
    prepare(dir, &ports)?;
    if running_pid(dir).is_none() {
        let exe = std::env::current_exe().map_err(|e| LocalError::Other(e.to_string()))?;
        let log = dir.join("murder.log");
        let logf = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(io(&log))?;
        let logf2 = logf.try_clone().map_err(io(&log))?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["local", "serve"])
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
        let child = cmd.spawn().map_err(|e| LocalError::Other(e.to_string()))?;
        let path = pid_path(dir);
        std::fs::write(&path, format!("{}\n", child.id())).map_err(io(&path))?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !port_open(ports.imap) {
        if Instant::now() > deadline {
            return Err(LocalError::Other(format!(
                "the local murder did not start; see {}",
                dir.join("murder.log").display()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if announce {
        println!("local murder running from {}", dir.display());
        println!(
            "  frontend   imap 127.0.0.1:{}  pop3 :{}  lmtp :{}  sieve :{}",
            ports.imap, ports.pop3, ports.lmtp, ports.sieve
        );
        println!(
            "  mupdate    master 127.0.0.1:{}  frontend slave :{}",
            ports.master, ports.slave
        );
        println!(
            "  backend1   imap :{}  pop3 :{}  lmtp :{}  sieve :{}",
            ports.backend1[0], ports.backend1[1], ports.backend1[2], ports.backend_sieve[0]
        );
        println!(
            "  backend2   imap :{}  pop3 :{}  lmtp :{}  sieve :{}",
            ports.backend2[0], ports.backend2[1], ports.backend2[2], ports.backend_sieve[1]
        );
        println!(
            "  admin: admin, password in {}; users alice/alicepw, bob/bobpw",
            dir.join("admin.pw").display()
        );
        println!(
            "connect: murder   (or: murder 127.0.0.1 {} --user admin)",
            ports.imap
        );
        println!("stop:    murder local down");
    }
    Ok(ports)
}

/// Stops the background process started by [`up`].
pub fn down(dir: &Path) -> Result<bool, LocalError> {
    let Some(pid) = running_pid(dir) else {
        return Ok(false);
    };
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while running_pid(dir).is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_file(pid_path(dir));
    Ok(true)
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

/// Runs every daemon of the local murder in this process until SIGTERM or SIGINT.
pub async fn serve(dir: &Path) -> Result<(), LocalError> {
    daemons::cli::init_logging(false);
    let ports = Ports::from_env();
    prepare(dir, &ports)?;
    let shutdown = daemons::cli::shutdown_on_signals();
    let mut tasks = tokio::task::JoinSet::new();
    let report = |name: &'static str, r: Result<(), String>| {
        if let Err(e) = r {
            eprintln!("murder local: {name}: {e}");
        }
    };
    // The master first, so backends and the slave find it.
    {
        let conf = load(dir, "mupdate", "mupdate")?;
        let l = listen(ports.master).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "mupdate master",
                daemons::mupdate::run(&conf, true, l, None, s).await,
            )
        });
    }
    for (host, p, sieve) in [
        ("backend1", ports.backend1, ports.backend_sieve[0]),
        ("backend2", ports.backend2, ports.backend_sieve[1]),
    ] {
        let conf = load(dir, host, "sieve")?;
        let l = listen(sieve).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "backend timsieved",
                daemons::timsieved::run(conf, l, s).await,
            )
        });
        let conf = load(dir, host, "imap")?;
        let l = listen(p[0]).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "backend imapd",
                daemons::imapd::run(conf, false, l, s).await,
            )
        });
        let conf = load(dir, host, "pop3")?;
        let l = listen(p[1]).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "backend pop3d",
                daemons::pop3d::run(conf, false, l, s).await,
            )
        });
        let conf = load(dir, host, "lmtp")?;
        let l = listen(p[2]).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "backend lmtpd",
                daemons::lmtpd::run(conf, false, Some(l), None, s).await,
            )
        });
    }
    {
        let conf = load(dir, "frontend", "mupdate")?;
        let l = listen(ports.slave).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "mupdate slave",
                daemons::mupdate::run(&conf, false, l, None, s).await,
            )
        });
        let conf = load(dir, "frontend", "imap")?;
        let l = listen(ports.imap).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "frontend imapd",
                daemons::imapd::run(conf, false, l, s).await,
            )
        });
        let conf = load(dir, "frontend", "pop3")?;
        let l = listen(ports.pop3).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "frontend pop3d",
                daemons::pop3d::run(conf, false, l, s).await,
            )
        });
        let conf = load(dir, "frontend", "sieve")?;
        let l = listen(ports.sieve).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "frontend timsieved",
                daemons::timsieved::run(conf, l, s).await,
            )
        });
        // The frontend's LMTP is pre-authorised (as Cyrus's `lmtpd -a` for a trusted MTA).
        let conf = load(dir, "frontend", "lmtp")?;
        let l = listen(ports.lmtp).await?;
        let s = shutdown.clone();
        tasks.spawn(async move {
            report(
                "frontend lmtpd",
                daemons::lmtpd::run(conf, true, Some(l), None, s).await,
            )
        });
    }
    shutdown.cancelled().await;
    tasks.abort_all();
    Ok(())
}
