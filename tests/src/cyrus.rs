//! Real Cyrus IMAP 3.6 instances for interoperability tests (Debian's `cyrus-*` packages).
//!
//! A [`CyrusInstance`] is one Cyrus host in its own temporary directory: a generated
//! `imapd.conf` and `cyrus.conf`, a sasldb made with `saslpasswd2`, a configdirectory and a
//! partition, all owned by the `cyrus` user. Cyrus's own `master` runs it in the foreground in
//! its own process group, on loopback ports chosen free at start; dropping the instance stops
//! the master and then kills whatever is left in that process group (by its id).
//!
//! ```no_run
//! use murder_tests::cyrus::{self, CyrusInstance};
//! if let Some(why) = cyrus::unavailable() {
//!     eprintln!("skipped: {why}");
//!     return;
//! }
//! let master = CyrusInstance::builder("mupdate")
//!     .conf("admins", "cyrus")
//!     .user("cyrus", "secret")
//!     .service("mupdate", "mupdate -m")
//!     .start();
//! println!("Cyrus master on 127.0.0.1:{}", master.port("mupdate"));
//! ```
//!
//! # Cyrus quirks handled here
//!
//! * **Root, then `cyrus`.** `master` must start as root and drops to the `cyrus` user, so the
//!   whole instance directory is chowned to `cyrus` (and its login group). Cyrus tools
//!   (`ctl_mboxlist`, `ctl_cyrusdb`) run as root switch to `cyrus` by themselves.
//! * **Process group.** On SIGTERM `master` signals its whole process group. It is therefore
//!   started as the leader of a new group, or it would take the test runner down with it.
//! * **Ports.** Cyrus clients look the MUPDATE port up by the service *name* `mupdate`, which
//!   Debian 12's `/etc/services` lacks, and `mupdate_port` is read by nothing. Every
//!   `mupdate_server` here is therefore `127.0.0.1:<port>`, and `mupdatetest` gets `-p <port>`:
//!   `/etc/services` is never needed or touched. Listeners in `cyrus.conf` are numeric
//!   `127.0.0.1:<port>` as well.
//! * **SASL realm = servername.** Cyrus looks a bare user up as `user@<servername>` in its
//!   sasldb, so users are created with `saslpasswd2 -u <servername>`.
//! * **Paths default to system locations.** The pid file (`-p`), `idlesocket`, `notifysocket`,
//!   `lmtpsocket` and `sievedir` would otherwise point under `/var/run` or `/var/lib/cyrus`;
//!   they are all placed inside the instance directory.
//! * **Naming.** 3.x defaults to `altnamespace` and `unixhierarchysep`; both are turned off so
//!   that internal and IMAP names are the classic `user.alice.work`.
//! * **A slave is silent until synced.** A Cyrus `mupdate` slave (no `-m`) blocks in
//!   `service_init` until its first full UPDATE, so `prefork=1` is needed, and readiness is
//!   "the banner arrives", not "the port accepts".
//! * **Logs go to syslog.** Cyrus daemons log only through `/dev/log`. Where a syslog listener
//!   exists their lines carry the prefix `murder-test-<name>`; otherwise they are lost. The
//!   master's own stderr goes to `master.log` in the instance directory ([`CyrusInstance::log_text`]).
//! * **`mupdatetest` and pipes.** With stdin a pipe, `mupdatetest` prints `C: Q01 LOGOUT` right
//!   after authenticating but still runs the piped lines first; its output must be read as a
//!   whole, not expected in order.
//!
//! # Cyrus behaviour the tests rely on (observed with 3.6.1-4+deb12u4)
//!
//! * An admin has no implicit `x` right on a user's sub-mailbox: `DELETE user.alice.play` as
//!   `cyrus` answers `NO Permission denied` until `SETACL user.alice.play cyrus x`.
//! * `delete_mode` defaults to delayed: a DELETE reaches the master as `DELETE <name>` plus a
//!   RESERVE/ACTIVATE of `DELETED.<name>.<HEX>`, which stays on the master.
//! * A backend RENAME pushes the new name with the location `<server>!` (empty partition);
//!   a Cyrus master stores and echoes that byte for byte (`server` set, `partition` empty),
//!   while a location without `!` is stored as all server (`partition` absent).
//! * Without `force_sasl_client_mech`, Cyrus's MUPDATE client picks SCRAM-SHA-256 from a banner
//!   offering it, and accepts a tagged OK that carries no SASL success data.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs Cyrus's daemons and tools.
pub const CYRUS_BIN: &str = "/usr/lib/cyrus/bin";

/// Why Cyrus tests cannot run here, or `None` when they can (Cyrus 3.6 installed, `saslpasswd2`
/// present, running as root).
pub fn unavailable() -> Option<String> {
    if !crate::cyrus_installed() {
        return Some(format!(
            "Cyrus IMAP is not installed ({CYRUS_BIN}/mupdate missing)"
        ));
    }
    for p in [
        crate::cyrus_bin("master"),
        crate::cyrus_bin("imapd"),
        crate::cyrus_bin("ctl_mboxlist"),
        PathBuf::from("/usr/sbin/saslpasswd2"),
    ] {
        if !p.exists() {
            return Some(format!("{} is missing", p.display()));
        }
    }
    let euid = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    if euid != Some(0) {
        return Some("not running as root (Cyrus's master must start as root)".into());
    }
    if Command::new("id")
        .args(["-u", "cyrus"])
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        return Some("there is no `cyrus` user".into());
    }
    None
}

/// A free loopback TCP port, for a daemon started later (bound and released). Ports come
/// from below the kernel's ephemeral range (32768 and up), so that no outgoing connection (and
/// the daemons keep many: pooled backend connections, slaves) can take one before its daemon
/// binds it, and one after another from a per-process start, so that two tests of this
/// process never get the same port (random picks did, for tests starting murders at once).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % SPAN,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::Relaxed) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// How to build a [`CyrusInstance`].
pub struct CyrusBuilder {
    name: String,
    conf: BTreeMap<String, String>,
    users: Vec<(String, String)>,
    services: Vec<(String, String, u16, u32)>,
    start: Vec<(String, String)>,
    unset: Vec<String>,
}

impl CyrusBuilder {
    /// Sets an imapd.conf option (overriding the defaults).
    pub fn conf(mut self, key: &str, value: &str) -> Self {
        self.conf.insert(key.into(), value.into());
        self
    }

    /// Removes an imapd.conf option, including one of the defaults (e.g.
    /// `force_sasl_client_mech`, to let Cyrus's client pick the mechanism itself).
    pub fn unset(mut self, key: &str) -> Self {
        self.unset.push(key.into());
        self
    }

    /// Adds a sasldb user (in the realm of the servername).
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push((name.into(), password.into()));
        self
    }

    /// Adds a cyrus.conf service `name` running `cmd` (a program in [`CYRUS_BIN`] and its
    /// arguments; `-C <imapd.conf>` is added) on a free loopback port, with `prefork=1`.
    pub fn service(self, name: &str, cmd: &str) -> Self {
        self.service_on(name, cmd, free_port())
    }

    /// Like [`CyrusBuilder::service`], on a chosen port.
    pub fn service_on(mut self, name: &str, cmd: &str, port: u16) -> Self {
        self.services.push((name.into(), cmd.into(), port, 1));
        self
    }

    /// Adds a START entry (run to completion before services start), e.g.
    /// `("mupdatepush", "ctl_mboxlist -m")`.
    pub fn start_cmd(mut self, name: &str, cmd: &str) -> Self {
        self.start.push((name.into(), cmd.into()));
        self
    }

    /// Writes everything and starts `master`, waiting until every service answers.
    pub fn start(self) -> CyrusInstance {
        let dir = tempfile::Builder::new()
            .prefix(&format!("murder-cyrus-{}-", self.name))
            .tempdir()
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let conf_path = root.join("imapd.conf");
        let configdir = root.join("conf");
        for sub in ["socket", "proc", "lock", "log", "db", "sieve"] {
            std::fs::create_dir_all(configdir.join(sub)).expect("configdirectory");
        }
        std::fs::create_dir_all(root.join("spool")).expect("partition");

        let mut conf = BTreeMap::new();
        let p = |s: &str| root.join(s).display().to_string();
        for (k, v) in [
            ("configdirectory", p("conf")),
            ("defaultpartition", "default".into()),
            ("partition-default", p("spool")),
            ("sievedir", p("conf/sieve")),
            ("lmtpsocket", p("conf/socket/lmtp")),
            ("idlesocket", p("conf/socket/idle")),
            ("notifysocket", p("conf/socket/notify")),
            ("syslog_prefix", format!("murder-test-{}", self.name)),
            ("servername", self.name.clone()),
            ("altnamespace", "no".into()),
            ("unixhierarchysep", "no".into()),
            ("virtdomains", "off".into()),
            ("allowplaintext", "yes".into()),
            ("sasl_pwcheck_method", "auxprop".into()),
            ("sasl_auxprop_plugin", "sasldb".into()),
            ("sasl_sasldb_path", p("sasldb2")),
            ("sasl_mech_list", "PLAIN LOGIN".into()),
            ("force_sasl_client_mech", "PLAIN".into()),
            ("mupdate_retry_delay", "2".into()),
        ] {
            conf.insert(k.to_string(), v);
        }
        conf.extend(self.conf);
        for k in &self.unset {
            conf.remove(k);
        }
        let servername = conf.get("servername").cloned().unwrap_or(self.name.clone());
        write_conf(&conf_path, &conf);

        let c = conf_path.display();
        let mut cyrus_conf = format!("START {{\n    recover cmd=\"ctl_cyrusdb -C {c} -r\"\n");
        for (name, cmd) in &self.start {
            let (prog, args) = cmd.split_once(' ').unwrap_or((cmd, ""));
            cyrus_conf.push_str(&format!("    {name} cmd=\"{prog} -C {c} {args}\"\n"));
        }
        cyrus_conf.push_str("}\nSERVICES {\n");
        let mut ports = BTreeMap::new();
        for (name, cmd, port, prefork) in &self.services {
            let (prog, args) = cmd.split_once(' ').unwrap_or((cmd, ""));
            cyrus_conf.push_str(&format!(
                "    {name} cmd=\"{prog} -C {c} {args}\" listen=\"127.0.0.1:{port}\" prefork={prefork}\n"
            ));
            ports.insert(name.clone(), *port);
        }
        cyrus_conf.push_str("}\nEVENTS {\n}\n");
        std::fs::write(root.join("cyrus.conf"), cyrus_conf).expect("cyrus.conf");

        let sasldb = root.join("sasldb2");
        for (u, pw) in &self.users {
            let mut child = Command::new("/usr/sbin/saslpasswd2")
                .args(["-p", "-c", "-f"])
                .arg(&sasldb)
                .args(["-u", &servername, u])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("saslpasswd2");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(pw.as_bytes())
                .expect("password");
            assert!(
                child.wait().expect("saslpasswd2").success(),
                "saslpasswd2 {u}"
            );
        }
        let st = Command::new("chown")
            .args(["-R", "cyrus:"])
            .arg(&root)
            .status()
            .expect("chown");
        assert!(st.success(), "chown -R cyrus {}", root.display());

        let log = root.join("master.log");
        let master = Command::new(crate::cyrus_bin("master"))
            .arg("-C")
            .arg(&conf_path)
            .arg("-M")
            .arg(root.join("cyrus.conf"))
            .arg("-p")
            .arg(root.join("master.pid"))
            .arg("-L")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // master SIGTERMs its own process group on shutdown: give it its own.
            .process_group(0)
            .spawn()
            .expect("starting Cyrus master");
        let inst = CyrusInstance {
            name: self.name,
            servername,
            dir,
            master: Some(master),
            ports,
            conf,
        };
        for (name, port) in &inst.ports {
            if !wait_banner(*port, Duration::from_secs(20)) {
                panic!(
                    "Cyrus {} service {name} on port {port} did not answer; master log:\n{}",
                    inst.name,
                    inst.log_text()
                );
            }
        }
        inst
    }
}

fn write_conf(path: &Path, conf: &BTreeMap<String, String>) {
    let mut text = String::new();
    for (k, v) in conf {
        text.push_str(&format!("{k}: {v}\n"));
    }
    std::fs::write(path, text).expect("imapd.conf");
}

/// Whether something on `port` sends a first line within `timeout` (retrying until then).
fn wait_banner(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(deadline.saturating_duration_since(Instant::now())));
            let mut line = String::new();
            if BufReader::new(&s).read_line(&mut line).is_ok() && !line.is_empty() {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// One running Cyrus host.
pub struct CyrusInstance {
    /// The name given to the builder.
    pub name: String,
    /// Its `servername` (also the sasldb realm).
    pub servername: String,
    dir: tempfile::TempDir,
    master: Option<Child>,
    ports: BTreeMap<String, u16>,
    conf: BTreeMap<String, String>,
}

impl CyrusInstance {
    /// The pid of its `master` (whose children are the services' processes).
    pub fn master_pid(&self) -> Option<u32> {
        self.master.as_ref().map(Child::id)
    }

    /// A builder for an instance whose servername is `name`.
    pub fn builder(name: &str) -> CyrusBuilder {
        CyrusBuilder {
            name: name.into(),
            conf: BTreeMap::new(),
            users: Vec::new(),
            services: Vec::new(),
            start: Vec::new(),
            unset: Vec::new(),
        }
    }

    /// The port of a cyrus.conf service.
    pub fn port(&self, service: &str) -> u16 {
        *self
            .ports
            .get(service)
            .unwrap_or_else(|| panic!("no service {service} on {}", self.name))
    }

    /// The imapd.conf path.
    pub fn imapd_conf(&self) -> PathBuf {
        self.dir.path().join("imapd.conf")
    }

    /// The configdirectory.
    pub fn configdir(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    /// Writes a copy of imapd.conf with some options changed, as `<file>` in the instance
    /// directory, and returns its path (for running a tool against another MUPDATE server).
    pub fn conf_variant(&self, file: &str, changes: &[(&str, &str)]) -> PathBuf {
        let mut conf = self.conf.clone();
        for (k, v) in changes {
            conf.insert((*k).into(), (*v).into());
        }
        let path = self.dir.path().join(file);
        write_conf(&path, &conf);
        path
    }

    /// Runs a Cyrus tool from [`CYRUS_BIN`] with `-C <imapd.conf>` and `args`.
    pub fn tool(&self, name: &str, args: &[&str]) -> Output {
        self.tool_with_conf(&self.imapd_conf(), name, args)
    }

    /// Runs a Cyrus tool with `-C <conf>` and `args`.
    pub fn tool_with_conf(&self, conf: &Path, name: &str, args: &[&str]) -> Output {
        Command::new(crate::cyrus_bin(name))
            .arg("-C")
            .arg(conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {name}: {e}"))
    }

    /// The mailbox names in this host's mailboxes.db (`ctl_mboxlist -d`), tombstones excluded.
    pub fn mailbox_names(&self) -> Vec<String> {
        let out = self.tool("ctl_mboxlist", &["-d"]);
        assert!(
            out.status.success(),
            "ctl_mboxlist -d failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        dump_entries(&text)
            .into_iter()
            .filter(|(_, mbtype)| !mbtype.contains('d'))
            .map(|(name, _)| name)
            .collect()
    }

    /// The master's error log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("master.log")).unwrap_or_default()
    }

    /// Stops `master` (SIGTERM, which it passes to its process group), then SIGKILLs whatever
    /// is left in that group.
    pub fn stop(&mut self) {
        let Some(mut child) = self.master.take() else {
            return;
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The group id is the master's pid: this reaches its children only.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for CyrusInstance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `(name, mbtype)` pairs of a `ctl_mboxlist -d` JSON dump (3.6: one object per mailbox,
/// keyed by internal name). A small scanner, enough for that output: strings, nesting, and the
/// `mbtype` key one level down.
pub fn dump_entries(json: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut depth = 0usize;
    let mut chars = json.chars().peekable();
    let mut last_string: Option<String> = None;
    let mut pending_key: Option<String> = None;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                s.push(match e {
                                    'n' => '\n',
                                    't' => '\t',
                                    other => other,
                                });
                            }
                        }
                        '"' => break,
                        other => s.push(other),
                    }
                }
                if pending_key.as_deref() == Some("mbtype") && depth == 2 {
                    if let Some(last) = out.last_mut() {
                        last.1 = s.clone();
                    }
                    pending_key = None;
                }
                last_string = Some(s);
            }
            ':' => {
                let key = last_string.take().unwrap_or_default();
                if depth == 1 {
                    out.push((key, String::new()));
                } else {
                    pending_key = Some(key);
                }
            }
            '{' | '[' => {
                depth += 1;
                pending_key = None;
            }
            '}' | ']' => depth = depth.saturating_sub(1),
            ',' => pending_key = None,
            _ => {}
        }
    }
    out
}

/// Runs Cyrus's `mupdatetest` as `user` with PLAIN against `127.0.0.1:port`, feeding `input`
/// (lines without CR; mupdatetest adds it) and returning everything it printed (stdout and
/// stderr together).
pub fn mupdatetest(port: u16, user: &str, password: &str, input: &str) -> String {
    let mut child = Command::new(crate::cyrus_bin("mupdatetest"))
        .args(["-a", user, "-w", password, "-m", "PLAIN", "-p"])
        .arg(port.to_string())
        .arg("127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mupdatetest");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(input.as_bytes())
        .expect("mupdatetest input");
    drop(stdin);
    let out = wait_output(child, Duration::from_secs(20));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Waits for a child's output, killing it after `timeout`.
fn wait_output(mut child: Child, timeout: Duration) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut b);
        }
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    }
}

/// A minimal synchronous IMAP client for driving a Cyrus backend as its admin: commands are
/// sent one at a time, and the tagged completion is returned with the untagged lines before it.
pub struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    counter: u32,
    /// The server's greeting line.
    pub greeting: String,
}

/// An IMAP command's outcome.
#[derive(Debug, Clone)]
pub struct ImapReply {
    /// Untagged lines (without CRLF).
    pub untagged: Vec<String>,
    /// `OK`, `NO` or `BAD`.
    pub status: String,
    /// The whole tagged line.
    pub line: String,
}

impl ImapReply {
    /// Panics with the server's line unless the status is OK.
    pub fn ok(self) -> Self {
        assert_eq!(self.status, "OK", "IMAP command failed: {}", self.line);
        self
    }
}

impl Imap {
    /// Connects to `127.0.0.1:port` and reads the greeting.
    pub fn connect(port: u16) -> Imap {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("IMAP connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut reader = BufReader::new(s.try_clone().expect("clone"));
        let mut greeting = String::new();
        reader.read_line(&mut greeting).expect("IMAP greeting");
        Imap {
            reader,
            writer: s,
            counter: 0,
            greeting: greeting.trim_end().into(),
        }
    }

    /// Connects and logs in (LOGIN with quoted strings).
    pub fn login(port: u16, user: &str, password: &str) -> Imap {
        let mut c = Imap::connect(port);
        c.command(&format!("LOGIN {} {}", quote(user), quote(password)))
            .ok();
        c
    }

    /// Sends one command (no literals) and reads up to its tagged completion.
    pub fn command(&mut self, cmd: &str) -> ImapReply {
        self.counter += 1;
        let tag = format!("t{}", self.counter);
        self.writer
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .expect("IMAP write");
        let mut untagged = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("IMAP read");
            assert!(n > 0, "IMAP server closed the connection during {cmd:?}");
            let line = line.trim_end().to_string();
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                let status = rest.split(' ').next().unwrap_or("").to_uppercase();
                return ImapReply {
                    untagged,
                    status,
                    line,
                };
            }
            untagged.push(line);
        }
    }

    /// LOGOUT.
    pub fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }
}

/// An IMAP quoted string.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
