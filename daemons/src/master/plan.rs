//! Turning `cyrus.conf` entries into the command lines the master runs.
//!
//! Pure apart from looking for files in the binary directory (and `/etc/services` for a port
//! name the built-in table lacks), so the whole mapping is testable without starting anything.
//!
//! ```no_run
//! use std::path::Path;
//! use daemons::master::plan::{plan, Resolver};
//! use protocol::config::cyrus::CyrusConf;
//!
//! let conf = CyrusConf::parse("SERVICES {\n imap cmd=\"imapd\" listen=\"imap\"\n}\n", "cyrus.conf")?;
//! let resolver = Resolver::new(Path::new("/usr/lib/murder"), Path::new("/etc/imapd.conf"), false);
//! let plan = plan(&conf, &resolver);
//! // ["-C", "/etc/imapd.conf", "--listen", "0.0.0.0:143"]
//! println!("{:?}", plan.services[0].args);
//! # Ok::<(), protocol::config::cyrus::CyrusConfError>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use protocol::config::cyrus::{
    Command, CyrusConf, DaemonEntry, EventEntry, KnownProgram, Listen, Port, Proto, Schedule,
    ServiceEntry, StartEntry,
};

/// Which section an entry came from; it decides which arguments the master adds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Run once, to completion, before anything else.
    Start,
    /// A long-lived listening daemon.
    Service,
    /// A scheduled command.
    Event,
    /// A long-lived daemon that does not listen.
    Daemon,
}

impl EntryKind {
    /// The word used in log lines (`service imap: …`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Start => "start",
            EntryKind::Service => "service",
            EntryKind::Event => "event",
            EntryKind::Daemon => "daemon",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an entry is skipped. Cyrus's master carries on past a bad entry, and so do we.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A Cyrus program whose binary is not installed next to `master`.
    #[error("{kind} {entry}: program {program} not found (looked for {})", show_paths(.searched))]
    ProgramNotFound {
        /// The section.
        kind: EntryKind,
        /// The entry name.
        entry: String,
        /// The program as written in `cmd=`.
        program: String,
        /// Where we looked.
        searched: Vec<PathBuf>,
    },
    /// `listen=` names a port that neither our table nor `/etc/services` knows.
    #[error("{kind} {entry}: unknown port name {port} in listen=")]
    UnknownPort {
        /// The section.
        kind: EntryKind,
        /// The entry name.
        entry: String,
        /// The name.
        port: String,
    },
    /// Our daemons only speak TCP.
    #[error("{kind} {entry}: proto={proto} is not supported (our daemons speak TCP only)")]
    UnsupportedProto {
        /// The section.
        kind: EntryKind,
        /// The entry name.
        entry: String,
        /// The protocol.
        proto: &'static str,
    },
    /// A `cron=` we cannot read.
    #[error("{kind} {entry}: cron=\"{cron}\" not supported: {reason}")]
    BadCron {
        /// The section.
        kind: EntryKind,
        /// The entry name.
        entry: String,
        /// The value.
        cron: String,
        /// What is wrong.
        reason: String,
    },
}

impl PlanError {
    /// Whether the entry skipped is a START entry.
    pub fn is_start(&self) -> bool {
        let kind = match self {
            PlanError::ProgramNotFound { kind, .. }
            | PlanError::UnknownPort { kind, .. }
            | PlanError::UnsupportedProto { kind, .. }
            | PlanError::BadCron { kind, .. } => *kind,
        };
        kind == EntryKind::Start
    }
}

fn show_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One process the master will start: everything needed to spawn it, and what a reload
/// compares to decide whether a running one changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    /// The entry name (`CYRUS_SERVICE`, the log file name).
    pub name: String,
    /// The section.
    pub kind: EntryKind,
    /// The program to execute.
    pub program: PathBuf,
    /// Its arguments (without argv\[0\]).
    pub args: Vec<String>,
    /// Environment added to the master's.
    pub env: Vec<(String, String)>,
    /// The Cyrus program it stands for, if any (then `-C`/`--listen` were added).
    pub known: Option<KnownProgram>,
}

impl ChildSpec {
    /// The command line as one string, for logs.
    pub fn command_line(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }
}

/// A scheduled EVENTS entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    /// What to run.
    pub spec: ChildSpec,
    /// When.
    pub when: super::schedule::When,
}

/// Everything a `cyrus.conf` asks for, resolved, plus what was skipped and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// START entries in order.
    pub start: Vec<ChildSpec>,
    /// SERVICES entries in order.
    pub services: Vec<ChildSpec>,
    /// DAEMON entries in order.
    pub daemons: Vec<ChildSpec>,
    /// EVENTS entries in order.
    pub events: Vec<EventSpec>,
    /// Entries left out.
    pub skipped: Vec<PlanError>,
}

impl Plan {
    /// Services and daemons: the long-lived children.
    pub fn long_lived(&self) -> impl Iterator<Item = &ChildSpec> {
        self.services.iter().chain(self.daemons.iter())
    }
}

/// Our binary names for a Cyrus program, most specific first. In Cyrus 3.x `proxyd`,
/// `pop3proxyd` and `lmtpproxyd` are symlinks to `imapd`, `pop3d` and `lmtpd` (§0.1), so a
/// missing proxy binary falls back to the daemon that decides its role from imapd.conf (§0.2).
pub fn binary_names(program: KnownProgram) -> &'static [&'static str] {
    match program {
        KnownProgram::Proxyd => &["proxyd", "imapd"],
        KnownProgram::Pop3proxyd => &["pop3proxyd", "pop3d"],
        KnownProgram::Lmtpproxyd => &["lmtpproxyd", "lmtpd"],
        KnownProgram::Mupdate => &["mupdate"],
        KnownProgram::Imapd => &["imapd"],
        KnownProgram::Pop3d => &["pop3d"],
        KnownProgram::Lmtpd => &["lmtpd"],
        KnownProgram::Timsieved => &["timsieved"],
        KnownProgram::CtlMboxlist => &["ctl_mboxlist"],
        KnownProgram::CtlCyrusdb => &["ctl_cyrusdb"],
        KnownProgram::CtlDeliver => &["ctl_deliver"],
        KnownProgram::CyrExpire => &["cyr_expire"],
        KnownProgram::TlsPrune => &["tls_prune"],
        KnownProgram::Idled => &["idled"],
        KnownProgram::Fud => &["fud"],
        KnownProgram::Notifyd => &["notifyd"],
        KnownProgram::Httpd => &["httpd"],
        KnownProgram::Nntpd => &["nntpd"],
        KnownProgram::SyncClient => &["sync_client"],
        KnownProgram::SyncServer => &["sync_server"],
        KnownProgram::Squatter => &["squatter"],
    }
}

/// Resolves commands against the directory our binaries are installed in.
#[derive(Debug, Clone)]
pub struct Resolver {
    bin_dir: PathBuf,
    imapd_conf: PathBuf,
    verbose: bool,
}

impl Resolver {
    /// `bin_dir` holds our binaries (normally the directory of the `master` executable);
    /// `imapd_conf` is passed to every Cyrus program as `-C`; `verbose` sets `CYRUS_VERBOSE`.
    pub fn new(bin_dir: &Path, imapd_conf: &Path, verbose: bool) -> Resolver {
        Resolver {
            bin_dir: bin_dir.to_path_buf(),
            imapd_conf: imapd_conf.to_path_buf(),
            verbose,
        }
    }

    /// The program to execute for `cmd`, and the Cyrus program it stands for.
    ///
    /// A Cyrus program maps by base name to our binary in `bin_dir` (so
    /// `/usr/cyrus/bin/mupdate` runs our `mupdate`); a missing one is an error. Anything else
    /// runs as written, except that a bare name found in `bin_dir` is taken from there (the
    /// Cyrus master also looks in its own program directory first), else from `PATH`.
    pub fn program(
        &self,
        kind: EntryKind,
        entry: &str,
        cmd: &Command,
    ) -> Result<(PathBuf, Option<KnownProgram>), PlanError> {
        if let Some(known) = cmd.known_program() {
            let searched: Vec<PathBuf> = binary_names(known)
                .iter()
                .map(|n| self.bin_dir.join(n))
                .collect();
            return match searched.iter().find(|p| p.is_file()) {
                Some(p) => Ok((p.clone(), Some(known))),
                None => Err(PlanError::ProgramNotFound {
                    kind,
                    entry: entry.to_owned(),
                    program: cmd.program().to_owned(),
                    searched,
                }),
            };
        }
        let program = cmd.program();
        if !program.contains('/') {
            let local = self.bin_dir.join(program);
            if local.is_file() {
                return Ok((local, None));
            }
        }
        Ok((PathBuf::from(program), None))
    }

    fn base(&self, kind: EntryKind, entry: &str, cmd: &Command) -> Result<ChildSpec, PlanError> {
        let (program, known) = self.program(kind, entry, cmd)?;
        let argv = cmd.argv();
        let mut args: Vec<String> = argv.iter().skip(1).map(|s| (*s).to_owned()).collect();
        // Only our own daemons understand `-C`; a foreign program gets exactly its cmd=. A
        // cmd= that already names a config (as generated murder configs do) keeps it.
        if known.is_some() && !argv.contains(&"-C") {
            args.push("-C".into());
            args.push(self.imapd_conf.display().to_string());
        }
        let mut env = vec![("CYRUS_SERVICE".to_owned(), entry.to_owned())];
        if self.verbose {
            env.push(("CYRUS_VERBOSE".to_owned(), "1".to_owned()));
        }
        Ok(ChildSpec {
            name: entry.to_owned(),
            kind,
            program,
            args,
            env,
            known,
        })
    }

    /// A START entry.
    pub fn start(&self, e: &StartEntry) -> Result<ChildSpec, PlanError> {
        self.base(EntryKind::Start, e.name.as_str(), &e.cmd)
    }

    /// A DAEMON entry.
    pub fn daemon(&self, e: &DaemonEntry) -> Result<ChildSpec, PlanError> {
        self.base(EntryKind::Daemon, e.name.as_str(), &e.cmd)
    }

    /// A SERVICES entry: for our daemons, `--listen ADDR` or `--listen-unix PATH`, and
    /// `--max-connections N` when `maxchild` is positive.
    pub fn service(&self, e: &ServiceEntry) -> Result<ChildSpec, PlanError> {
        let name = e.name.as_str();
        let mut spec = self.base(EntryKind::Service, name, &e.cmd)?;
        if spec.known.is_none() {
            return Ok(spec);
        }
        spec.args.extend(listen_args(name, &e.listen, e.proto)?);
        if e.maxchild > 0 {
            spec.args.push("--max-connections".into());
            spec.args.push(e.maxchild.to_string());
        }
        Ok(spec)
    }

    /// An EVENTS entry.
    pub fn event(&self, e: &EventEntry) -> Result<EventSpec, PlanError> {
        let name = e.name.as_str();
        let spec = self.base(EntryKind::Event, name, &e.cmd)?;
        let when = match &e.schedule {
            Schedule::Period(m) => super::schedule::When::Period {
                minutes: u32::try_from(*m).unwrap_or(0),
            },
            Schedule::At { hour, minute } => super::schedule::When::At {
                hour: *hour,
                minute: *minute,
            },
            Schedule::Cron(text) => super::schedule::CronSpec::parse(text.as_str())
                .map(super::schedule::When::Cron)
                .map_err(|reason| PlanError::BadCron {
                    kind: EntryKind::Event,
                    entry: name.to_owned(),
                    cron: text.as_str().to_owned(),
                    reason: reason.to_string(),
                })?,
        };
        Ok(EventSpec { spec, when })
    }
}

/// The `--listen`/`--listen-unix` arguments for a `listen=` value.
pub fn listen_args(entry: &str, listen: &Listen, proto: Proto) -> Result<Vec<String>, PlanError> {
    match proto {
        Proto::Udp | Proto::Udp4 | Proto::Udp6 => {
            return Err(PlanError::UnsupportedProto {
                kind: EntryKind::Service,
                entry: entry.to_owned(),
                proto: proto.as_str(),
            })
        }
        Proto::Tcp | Proto::Tcp4 | Proto::Tcp6 => {}
    }
    match listen {
        Listen::Unix(path) => Ok(vec!["--listen-unix".into(), path.clone()]),
        Listen::Inet { host, port } => {
            let number = port_number(port).ok_or_else(|| PlanError::UnknownPort {
                kind: EntryKind::Service,
                entry: entry.to_owned(),
                port: port.to_string(),
            })?;
            let host = match host.as_deref() {
                Some(h) if h.contains(':') => format!("[{h}]"),
                Some(h) => h.to_owned(),
                None if proto == Proto::Tcp6 => "[::]".to_owned(),
                None => "0.0.0.0".to_owned(),
            };
            Ok(vec!["--listen".into(), format!("{host}:{number}")])
        }
    }
}

/// A port's number: the number itself, a name from our table, else `/etc/services`.
pub fn port_number(port: &Port) -> Option<u16> {
    port.well_known().or_else(|| match port {
        Port::Name(name) => std::fs::read_to_string("/etc/services")
            .ok()
            .and_then(|text| services_lookup(&text, name)),
        Port::Number(_) => None,
    })
}

/// Finds `name` (or an alias) with protocol tcp in the text of an `/etc/services` file.
pub fn services_lookup(text: &str, name: &str) -> Option<u16> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let service = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        let matches = service == name || words.any(|alias| alias == name);
        (matches && proto == "tcp")
            .then(|| port.parse().ok())
            .flatten()
    })
}

/// Resolves every entry of `conf`; entries that cannot run are listed in `skipped`.
pub fn plan(conf: &CyrusConf, resolver: &Resolver) -> Plan {
    let mut plan = Plan::default();
    for e in &conf.start {
        match resolver.start(e) {
            Ok(s) => plan.start.push(s),
            Err(err) => plan.skipped.push(err),
        }
    }
    for e in &conf.services {
        match resolver.service(e) {
            Ok(s) => plan.services.push(s),
            Err(err) => plan.skipped.push(err),
        }
    }
    for e in &conf.daemons {
        match resolver.daemon(e) {
            Ok(s) => plan.daemons.push(s),
            Err(err) => plan.skipped.push(err),
        }
    }
    for e in &conf.events {
        match resolver.event(e) {
            Ok(s) => plan.events.push(s),
            Err(err) => plan.skipped.push(err),
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "/etc/murder/imapd.conf";

    /// A bin directory holding (empty) files with our binaries' names.
    fn bin_dir(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for n in names {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        dir
    }

    const ALL: [&str; 10] = [
        "proxyd",
        "pop3proxyd",
        "lmtpproxyd",
        "imapd",
        "pop3d",
        "lmtpd",
        "mupdate",
        "timsieved",
        "ctl_mboxlist",
        "ctl_cyrusdb",
    ];

    fn planned(text: &str, dir: &Path) -> Plan {
        let conf = CyrusConf::parse(text, "cyrus.conf").unwrap();
        plan(&conf, &Resolver::new(dir, Path::new(CONF), false))
    }

    fn find<'a>(specs: &'a [ChildSpec], name: &str) -> &'a ChildSpec {
        specs.iter().find(|s| s.name == name).unwrap()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn seed_mupdate_master_line_maps_by_base_name() {
        let dir = bin_dir(&ALL);
        let p = planned(
            "SERVICES {\n  mupdate       cmd=\"/usr/cyrus/bin/mupdate -m\" listen=3905 prefork=1\n}\n",
            dir.path(),
        );
        let s = &p.services[0];
        assert_eq!(s.program, dir.path().join("mupdate"));
        assert_eq!(s.known, Some(KnownProgram::Mupdate));
        assert_eq!(
            s.args,
            strs(&["-m", "-C", CONF, "--listen", "0.0.0.0:3905"])
        );
        assert_eq!(
            s.env,
            vec![("CYRUS_SERVICE".to_owned(), "mupdate".to_owned())]
        );
        assert!(p.skipped.is_empty());
    }

    #[test]
    fn seed_frontend_services_map_to_our_binaries() {
        let dir = bin_dir(&ALL);
        let text = "START {\n  mupdatepush   cmd=\"ctl_mboxlist -m\"\n}\n\
            SERVICES {\n\
              mupdate       cmd=\"/usr/cyrus/bin/mupdate\" listen=3905 prefork=1\n\
              imap          cmd=\"proxyd\" listen=\"imap\" prefork=5\n\
              imaps         cmd=\"proxyd -s\" listen=\"imaps\" prefork=1\n\
              pop3          cmd=\"pop3proxyd\" listen=\"pop3\" prefork=0\n\
              pop3s         cmd=\"pop3proxyd -s\" listen=\"pop3s\" prefork=0\n\
              kpop          cmd=\"pop3proxyd -k\" listen=\"kpop\" prefork=0\n\
              sieve         cmd=\"timsieved\" listen=\"sieve\" prefork=0\n\
              lmtp          cmd=\"lmtpproxyd\" listen=\"/var/imap/socket/lmtp\" prefork=0\n\
            }\n";
        let p = planned(text, dir.path());
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        let bin = |n: &str| dir.path().join(n);
        let expect = [
            (
                "mupdate",
                "mupdate",
                vec!["-C", CONF, "--listen", "0.0.0.0:3905"],
            ),
            (
                "imap",
                "proxyd",
                vec!["-C", CONF, "--listen", "0.0.0.0:143"],
            ),
            (
                "imaps",
                "proxyd",
                vec!["-s", "-C", CONF, "--listen", "0.0.0.0:993"],
            ),
            (
                "pop3",
                "pop3proxyd",
                vec!["-C", CONF, "--listen", "0.0.0.0:110"],
            ),
            (
                "pop3s",
                "pop3proxyd",
                vec!["-s", "-C", CONF, "--listen", "0.0.0.0:995"],
            ),
            (
                "kpop",
                "pop3proxyd",
                vec!["-k", "-C", CONF, "--listen", "0.0.0.0:1109"],
            ),
            (
                "sieve",
                "timsieved",
                vec!["-C", CONF, "--listen", "0.0.0.0:4190"],
            ),
            (
                "lmtp",
                "lmtpproxyd",
                vec!["-C", CONF, "--listen-unix", "/var/imap/socket/lmtp"],
            ),
        ];
        for (name, binary, args) in expect {
            let s = find(&p.services, name);
            assert_eq!(s.program, bin(binary), "{name}");
            assert_eq!(s.args, strs(&args), "{name}");
            assert_eq!(s.kind, EntryKind::Service);
        }
        let push = &p.start[0];
        assert_eq!(push.program, bin("ctl_mboxlist"));
        assert_eq!(push.args, strs(&["-m", "-C", CONF]));
        assert_eq!(push.kind, EntryKind::Start);
    }

    #[test]
    fn proxy_names_fall_back_to_the_daemon_that_decides_its_role() {
        let dir = bin_dir(&["imapd", "pop3d", "lmtpd"]);
        let p = planned(
            "SERVICES {\n imap cmd=\"proxyd\" listen=143\n pop3 cmd=\"pop3proxyd\" listen=110\n \
             lmtp cmd=\"lmtpproxyd\" listen=24\n}\n",
            dir.path(),
        );
        assert_eq!(find(&p.services, "imap").program, dir.path().join("imapd"));
        assert_eq!(find(&p.services, "pop3").program, dir.path().join("pop3d"));
        assert_eq!(find(&p.services, "lmtp").program, dir.path().join("lmtpd"));
    }

    #[test]
    fn missing_binary_is_reported_and_the_entry_skipped() {
        let dir = bin_dir(&["mupdate"]);
        let p = planned(
            "START {\n recover cmd=\"ctl_cyrusdb -r\"\n}\n\
             SERVICES {\n imap cmd=\"imapd\" listen=143\n mupdate cmd=\"mupdate -m\" listen=3905\n}\n",
            dir.path(),
        );
        assert_eq!(p.services.len(), 1);
        assert!(p.start.is_empty());
        let messages: Vec<String> = p.skipped.iter().map(ToString::to_string).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("service imap: program imapd not found")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("start recover: program ctl_cyrusdb not found")),
            "{messages:?}"
        );
    }

    #[test]
    fn foreign_programs_run_exactly_as_written() {
        let dir = bin_dir(&["helper"]);
        let p = planned(
            "START {\n mk cmd=\"/usr/bin/touch /tmp/x\"\n}\n\
             SERVICES {\n sleeper cmd=\"/bin/sleep 1000\" listen=9999 maxchild=5\n \
             local cmd=\"helper -x\" listen=9998\n path cmd=\"sleep 5\" listen=9997\n}\n",
            dir.path(),
        );
        let s = find(&p.services, "sleeper");
        assert_eq!(s.program, PathBuf::from("/bin/sleep"));
        assert_eq!(s.args, strs(&["1000"]));
        assert_eq!(s.known, None);
        assert_eq!(
            find(&p.services, "local").program,
            dir.path().join("helper")
        );
        assert_eq!(find(&p.services, "path").program, PathBuf::from("sleep"));
        assert_eq!(p.start[0].args, strs(&["/tmp/x"]));
    }

    #[test]
    fn listen_forms_and_limits() {
        let dir = bin_dir(&ALL);
        let p = planned(
            "SERVICES {\n\
               a cmd=\"imapd\" listen=\"127.0.0.1:10143\" maxchild=100\n\
               b cmd=\"imapd\" listen=\"[::1]:143\" maxchild=0\n\
               c cmd=\"imapd\" listen=143 proto=tcp6\n\
               d cmd=\"imapd\" listen=\"localhost:imap\" proto=tcp4\n\
               e cmd=\"imapd\" listen=143 proto=udp\n\
               f cmd=\"imapd\" listen=\"nosuchservicename\"\n\
             }\n",
            dir.path(),
        );
        let tail = |name: &str| find(&p.services, name).args[2..].to_vec();
        assert_eq!(
            tail("a"),
            strs(&["--listen", "127.0.0.1:10143", "--max-connections", "100"])
        );
        assert_eq!(tail("b"), strs(&["--listen", "[::1]:143"]));
        assert_eq!(tail("c"), strs(&["--listen", "[::]:143"]));
        assert_eq!(tail("d"), strs(&["--listen", "localhost:143"]));
        assert!(p.skipped.contains(&PlanError::UnsupportedProto {
            kind: EntryKind::Service,
            entry: "e".into(),
            proto: "udp",
        }));
        assert!(p.skipped.contains(&PlanError::UnknownPort {
            kind: EntryKind::Service,
            entry: "f".into(),
            port: "nosuchservicename".into(),
        }));
    }

    #[test]
    fn daemons_and_events_get_config_but_no_listen() {
        let dir = bin_dir(&ALL);
        let conf = CyrusConf::parse(
            "DAEMON {\n idle cmd=\"mupdate\"\n}\nEVENTS {\n checkpoint cmd=\"ctl_cyrusdb -c\" period=30\n \
             nightly cmd=\"ctl_cyrusdb -c\" at=0400\n weekly cmd=\"ctl_cyrusdb -c\" cron=\"0 3 * * sun\"\n \
             broken cmd=\"ctl_cyrusdb -c\" cron=\"99 * * * *\"\n}\n",
            "cyrus.conf",
        )
        .unwrap();
        let p = plan(&conf, &Resolver::new(dir.path(), Path::new(CONF), true));
        assert_eq!(p.daemons[0].args, strs(&["-C", CONF]));
        assert_eq!(p.daemons[0].kind, EntryKind::Daemon);
        assert!(p.daemons[0]
            .env
            .contains(&("CYRUS_VERBOSE".to_owned(), "1".to_owned())));
        let whens: Vec<&super::super::schedule::When> = p.events.iter().map(|e| &e.when).collect();
        assert_eq!(
            whens[0],
            &super::super::schedule::When::Period { minutes: 30 }
        );
        assert_eq!(
            whens[1],
            &super::super::schedule::When::At { hour: 4, minute: 0 }
        );
        assert!(matches!(whens[2], super::super::schedule::When::Cron(_)));
        assert_eq!(p.events.len(), 3);
        assert!(matches!(p.skipped[0], PlanError::BadCron { .. }));
        assert_eq!(p.events[0].spec.args, strs(&["-c", "-C", CONF]));
    }

    #[test]
    fn services_file_lookup() {
        let text = "# comment\nimap\t\t143/tcp\timap2\nfoo 7000/udp\nfoo 7001/tcp bar # x\n";
        assert_eq!(services_lookup(text, "imap2"), Some(143));
        assert_eq!(services_lookup(text, "foo"), Some(7001));
        assert_eq!(services_lookup(text, "bar"), Some(7001));
        assert_eq!(services_lookup(text, "baz"), None);
        assert_eq!(port_number(&Port::Name("mupdate".into())), Some(3905));
    }

    // The generated example murder configs (shared/cyrus-murder/configs-example), as they
    // are; each names its imapd.conf, so no second -C is added.
    const EXAMPLE_BACKEND1: &str = r#"# ---- generated by up.sh for instance 'backend1' ----
START {
    recover     cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf -r"
    # push our mailbox list to the mupdate master at every start
    mupdatepush cmd="ctl_mboxlist -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf -m"
}
SERVICES {
    # direct access for tests/benchmarks (high ports on 127.0.0.1)
    imap        cmd="imapd -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf -U 30" listen="127.0.0.1:11143" prefork=2 maxchild=100
    pop3        cmd="pop3d -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf -U 30" listen="127.0.0.1:11110" prefork=0 maxchild=50
    lmtp        cmd="lmtpd -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf" listen="127.0.0.1:11024" prefork=0 maxchild=20
    lmtpunix    cmd="lmtpd -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf" listen="/var/tmp/cyrus-murder/backend1/conf/socket/lmtp" prefork=0 maxchild=20
    # what the frontend proxies to: Cyrus connects to "<servername>:<service>"
    # i.e. backend1 -> 127.0.0.11 on the *standard* imap/pop3/lmtp ports.
    imapmurder  cmd="imapd -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf -U 30" listen="127.0.0.11:143" prefork=2 maxchild=100
    pop3murder  cmd="pop3d -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf -U 30" listen="127.0.0.11:110" prefork=0 maxchild=50
    lmtpmurder  cmd="lmtpd -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf" listen="127.0.0.11:24" prefork=0 maxchild=20
}
EVENTS {
    checkpoint  cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/backend1/etc/imapd.conf -c" period=30
}
"#;

    const EXAMPLE_FRONTEND: &str = r#"# ---- generated by up.sh for instance 'frontend' ----
START {
    recover     cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/frontend/etc/imapd.conf -r"
}
SERVICES {
    # mupdate slave: threaded, must prefork>=1 so it syncs at startup
    mupdate     cmd="mupdate -C /var/tmp/cyrus-murder/frontend/etc/imapd.conf" listen="127.0.0.1:10905" prefork=1
    imap        cmd="imapd -C /var/tmp/cyrus-murder/frontend/etc/imapd.conf -U 30" listen="127.0.0.1:10143" prefork=2 maxchild=100
    pop3        cmd="pop3d -C /var/tmp/cyrus-murder/frontend/etc/imapd.conf -U 30" listen="127.0.0.1:10110" prefork=0 maxchild=50
    lmtp        cmd="lmtpd -C /var/tmp/cyrus-murder/frontend/etc/imapd.conf" listen="127.0.0.1:10024" prefork=0 maxchild=20
    lmtpunix    cmd="lmtpd -C /var/tmp/cyrus-murder/frontend/etc/imapd.conf" listen="/var/tmp/cyrus-murder/frontend/conf/socket/lmtp" prefork=0 maxchild=20
}
EVENTS {
    checkpoint  cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/frontend/etc/imapd.conf -c" period=30
}
"#;

    const EXAMPLE_MUPDATE: &str = r#"# ---- generated by up.sh for instance 'mupdate' ----
START {
    recover     cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/mupdate/etc/imapd.conf -r"
}
SERVICES {
    mupdate     cmd="mupdate -C /var/tmp/cyrus-murder/mupdate/etc/imapd.conf -m" listen="127.0.0.1:13905" prefork=1
}
EVENTS {
    checkpoint  cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/mupdate/etc/imapd.conf -c" period=30
}
"#;

    #[test]
    fn example_backend_maps_every_entry() {
        let dir = bin_dir(&ALL);
        let p = planned(EXAMPLE_BACKEND1, dir.path());
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        let c = "/var/tmp/cyrus-murder/backend1/etc/imapd.conf";
        let bin = |n: &str| dir.path().join(n);
        assert_eq!(p.start.len(), 2);
        assert_eq!(p.start[0].program, bin("ctl_cyrusdb"));
        assert_eq!(p.start[0].args, strs(&["-C", c, "-r"]));
        assert_eq!(p.start[1].program, bin("ctl_mboxlist"));
        assert_eq!(p.start[1].args, strs(&["-C", c, "-m"]));
        let names: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "imap",
                "pop3",
                "lmtp",
                "lmtpunix",
                "imapmurder",
                "pop3murder",
                "lmtpmurder"
            ]
        );
        let imap = find(&p.services, "imap");
        assert_eq!(imap.program, bin("imapd"));
        assert_eq!(
            imap.args,
            strs(&[
                "-C",
                c,
                "-U",
                "30",
                "--listen",
                "127.0.0.1:11143",
                "--max-connections",
                "100"
            ])
        );
        assert_eq!(find(&p.services, "pop3").program, bin("pop3d"));
        assert_eq!(
            find(&p.services, "lmtpunix").args,
            strs(&[
                "-C",
                c,
                "--listen-unix",
                "/var/tmp/cyrus-murder/backend1/conf/socket/lmtp",
                "--max-connections",
                "20"
            ])
        );
        assert_eq!(
            find(&p.services, "lmtpmurder").args,
            strs(&[
                "-C",
                c,
                "--listen",
                "127.0.0.11:24",
                "--max-connections",
                "20"
            ])
        );
        assert_eq!(p.events.len(), 1);
        assert_eq!(p.events[0].spec.program, bin("ctl_cyrusdb"));
        assert_eq!(p.events[0].spec.args, strs(&["-C", c, "-c"]));
        assert_eq!(
            p.events[0].when,
            super::super::schedule::When::Period { minutes: 30 }
        );
    }

    #[test]
    fn example_frontend_and_mupdate_master_map_every_entry() {
        let dir = bin_dir(&ALL);
        let bin = |n: &str| dir.path().join(n);
        let f = planned(EXAMPLE_FRONTEND, dir.path());
        assert!(f.skipped.is_empty(), "{:?}", f.skipped);
        let slave = find(&f.services, "mupdate");
        assert_eq!(slave.program, bin("mupdate"));
        assert_eq!(
            slave.args,
            strs(&[
                "-C",
                "/var/tmp/cyrus-murder/frontend/etc/imapd.conf",
                "--listen",
                "127.0.0.1:10905"
            ])
        );
        assert_eq!(find(&f.services, "imap").program, bin("imapd"));
        assert_eq!(find(&f.services, "lmtpunix").program, bin("lmtpd"));
        let m = planned(EXAMPLE_MUPDATE, dir.path());
        assert_eq!(
            m.services[0].args,
            strs(&[
                "-C",
                "/var/tmp/cyrus-murder/mupdate/etc/imapd.conf",
                "-m",
                "--listen",
                "127.0.0.1:13905"
            ])
        );
    }

    #[test]
    fn shared_example_files_match_and_map_when_present() {
        // Cross-check against the files themselves where the shared tree is at hand.
        let root = Path::new("/work/shared/cyrus-murder/configs-example");
        let dir = bin_dir(&ALL);
        for (inst, embedded) in [
            ("backend1", Some(EXAMPLE_BACKEND1)),
            ("backend2", None),
            ("frontend", Some(EXAMPLE_FRONTEND)),
            ("mupdate", Some(EXAMPLE_MUPDATE)),
        ] {
            let Ok(text) = std::fs::read_to_string(root.join(inst).join("cyrus.conf")) else {
                continue;
            };
            if let Some(e) = embedded {
                assert_eq!(text, e, "{inst}");
            }
            let p = planned(&text, dir.path());
            assert!(p.skipped.is_empty(), "{inst}: {:?}", p.skipped);
            assert!(p
                .services
                .iter()
                .all(|s| s.known.is_some() && s.args.iter().filter(|a| *a == "-C").count() == 1));
        }
    }
}
