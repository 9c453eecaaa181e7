//! `cyrus.conf`: what the master process starts (reference §7.2).
//!
//! ```text
//! SERVICES {
//!   mupdate   cmd="/usr/cyrus/bin/mupdate -m" listen=3905 prefork=1
//! }
//! ```
//!
//! Four sections, `START`, `SERVICES`, `EVENTS` and `DAEMON`, each holding entries of an
//! alphanumeric name followed by `key=value` or `key="quoted value"` arguments. Everything from
//! the first `#` on a line is a comment, even inside quotes. [`CyrusConf::parse`] reads the text
//! into typed entries with Cyrus's defaults filled in; [`CyrusConf::encode`] writes it back.
//!
//! ```
//! use protocol::config::cyrus::{CyrusConf, Listen, Port, KnownProgram};
//!
//! let conf = CyrusConf::parse(
//!     "SERVICES {\n  mupdate cmd=\"/usr/cyrus/bin/mupdate -m\" listen=3905 prefork=1\n}\n",
//!     "cyrus.conf",
//! )?;
//! let svc = &conf.services[0];
//! assert_eq!(svc.name.as_str(), "mupdate");
//! assert_eq!(svc.cmd.argv(), vec!["/usr/cyrus/bin/mupdate", "-m"]);
//! assert_eq!(svc.cmd.program_name(), "mupdate");
//! assert_eq!(svc.cmd.known_program(), Some(KnownProgram::Mupdate));
//! assert_eq!(svc.listen, Listen::Inet { host: None, port: Port::Number(3905) });
//! assert_eq!(svc.prefork, 1);
//! assert_eq!(svc.maxchild, -1); // a default
//! # Ok::<(), protocol::config::cyrus::CyrusConfError>(())
//! ```

use std::fmt;

use thiserror::Error;

/// Size limits for reading a `cyrus.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest file in bytes (default 1 MiB).
    pub max_file_len: usize,
    /// Longest line in bytes (default 4096, Cyrus's line buffer).
    pub max_line_len: usize,
    /// Most entries over all sections (default 10 000).
    pub max_entries: usize,
    /// Most arguments on one entry (default 64, Cyrus's limit).
    pub max_args: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_len: 1024 * 1024,
            max_line_len: 4096,
            max_entries: 10_000,
            max_args: 64,
        }
    }
}

/// An error in a `cyrus.conf`: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CyrusConfError {
    /// The file name given to the parser.
    pub file: String,
    /// The line (1-based); 0 when the error is about the whole file.
    pub line: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for CyrusConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.kind)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.kind)
        }
    }
}

impl std::error::Error for CyrusConfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// What is wrong in a `cyrus.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ErrorKind {
    /// An entry name with something other than letters and digits.
    #[error("bad character '{0}' in name (names are letters and digits only)")]
    BadNameChar(char),
    /// An argument key with something other than letters and digits, or without `=`.
    #[error("bad character '{0}' in argument (expected key=value)")]
    BadArgChar(char),
    /// An argument key with nothing after it.
    #[error("argument '{0}' has no '=value'")]
    MissingEquals(String),
    /// `key="...` without the closing quote.
    #[error("missing closing '\"' in argument '{0}'")]
    MissingQuote(String),
    /// More arguments than [`Limits::max_args`].
    #[error("more than {0} arguments")]
    TooManyArgs(usize),
    /// A required argument is missing or empty.
    #[error("entry '{name}' has no {arg}=")]
    MissingArg {
        /// The entry.
        name: String,
        /// The argument (`cmd` or `listen`).
        arg: &'static str,
    },
    /// An integer argument that is not an integer.
    #[error("argument {key}='{value}' is not an integer")]
    BadInt {
        /// The argument.
        key: String,
        /// Its value.
        value: String,
    },
    /// A switch argument that is not y/n.
    #[error("argument {key}='{value}' is not a switch (use y or n)")]
    BadSwitch {
        /// The argument.
        key: String,
        /// Its value.
        value: String,
    },
    /// `proto=` other than tcp, tcp4, tcp6, udp, udp4, udp6.
    #[error("unknown proto '{0}' (tcp, tcp4, tcp6, udp, udp4 or udp6)")]
    BadProto(String),
    /// A `listen=` that is neither a path nor `[host:]port`.
    #[error("bad listen '{0}' (a /path, port, host:port or [v6addr]:port)")]
    BadListen(String),
    /// `at=` outside 0000–2359.
    #[error("bad at={0} (hhmm, 0000 to 2359)")]
    BadAt(String),
    /// `cron=` without five fields.
    #[error("bad cron=\"{0}\" (five fields: min hour day-of-month month day-of-week)")]
    BadCron(String),
    /// A value that cannot be written back into a `cyrus.conf`.
    #[error("value '{0}' cannot be written in cyrus.conf (it has '#', a line break, or both '\"' and spaces)")]
    Unencodable(String),
    /// A second SERVICES (or DAEMON) entry with the same name.
    #[error("multiple entries named '{name}' (first on line {first_line})")]
    DuplicateName {
        /// The name.
        name: String,
        /// The line of the first one.
        first_line: usize,
    },
    /// A section still open at the end of the file.
    #[error("section {section} opened on line {line} is not closed with '}}'")]
    UnclosedSection {
        /// The section.
        section: Section,
        /// Where it opened.
        line: usize,
    },
    /// A file longer than [`Limits::max_file_len`].
    #[error("file longer than {0} bytes")]
    FileTooLarge(usize),
    /// A line longer than [`Limits::max_line_len`].
    #[error("line longer than {0} bytes")]
    LineTooLong(usize),
    /// More entries than [`Limits::max_entries`].
    #[error("more than {0} entries")]
    TooManyEntries(usize),
}

/// The four sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    /// Commands run to completion, in order, before services start.
    Start,
    /// Listening services.
    Services,
    /// Periodic or scheduled commands.
    Events,
    /// Long-running daemons without a listener.
    Daemon,
}

impl Section {
    /// The section's keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Start => "START",
            Section::Services => "SERVICES",
            Section::Events => "EVENTS",
            Section::Daemon => "DAEMON",
        }
    }

    const ALL: [Section; 4] = [
        Section::Start,
        Section::Services,
        Section::Events,
        Section::Daemon,
    ];
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry name: letters and digits only. It is also the service name that selects
/// `<name>_<option>` overrides in `imapd.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryName(String);

impl EntryName {
    /// Checks `name`.
    pub fn new(name: &str) -> Result<EntryName, ErrorKind> {
        match name.chars().find(|c| !c.is_ascii_alphanumeric()) {
            Some(c) => Err(ErrorKind::BadNameChar(c)),
            None if name.is_empty() => Err(ErrorKind::BadNameChar(' ')),
            None => Ok(EntryName(name.to_string())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An argument value that can be written back: no `#`, no line break, and not both a `"` and
/// white space (a quoted value cannot hold `"`, a bare one cannot hold spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArgValue(String);

impl ArgValue {
    /// Checks `value`.
    pub fn new(value: &str) -> Result<ArgValue, ErrorKind> {
        let has_space = value.chars().any(is_space);
        let bad = value.contains(['#', '\n', '\r'])
            || (value.contains('"') && (has_space || value.starts_with('"')));
        if bad {
            Err(ErrorKind::Unencodable(value.to_string()))
        } else {
            Ok(ArgValue(value.to_string()))
        }
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn encode(&self, out: &mut String) {
        if self.0.contains('"') {
            out.push_str(&self.0);
        } else {
            out.push('"');
            out.push_str(&self.0);
            out.push('"');
        }
    }
}

/// A command line. The master splits it on white space with no quoting (§7.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command(ArgValue);

impl Command {
    /// Checks `cmd`: it must name a program and be writable back.
    pub fn new(cmd: &str) -> Result<Command, ErrorKind> {
        let v = ArgValue::new(cmd)?;
        if cmd.split(is_space).all(str::is_empty) {
            return Err(ErrorKind::MissingArg {
                name: String::new(),
                arg: "cmd",
            });
        }
        Ok(Command(v))
    }

    /// The command as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The argument vector, split on white space as the Cyrus master does.
    pub fn argv(&self) -> Vec<&str> {
        self.0
             .0
            .split(is_space)
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// The program as written (`/usr/cyrus/bin/mupdate` or `mupdate`).
    pub fn program(&self) -> &str {
        self.0
             .0
            .split(is_space)
            .find(|w| !w.is_empty())
            .unwrap_or_default()
    }

    /// The program's base name (`/usr/cyrus/bin/mupdate` → `mupdate`).
    pub fn program_name(&self) -> &str {
        let p = self.program();
        p.rsplit('/').next().unwrap_or(p)
    }

    /// The Cyrus program this command runs, if it is one the murder knows.
    pub fn known_program(&self) -> Option<KnownProgram> {
        KnownProgram::from_name(self.program_name())
    }
}

/// Cyrus programs a master may be asked to run, so our master can map each to our binary.
/// The proxy names are 2.x binaries that 3.x installs as symlinks (§0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KnownProgram {
    /// `mupdate` (master with `-m`, slave otherwise)
    Mupdate,
    /// `imapd`
    Imapd,
    /// `proxyd` (imapd on a frontend)
    Proxyd,
    /// `pop3d`
    Pop3d,
    /// `pop3proxyd`
    Pop3proxyd,
    /// `lmtpd`
    Lmtpd,
    /// `lmtpproxyd`
    Lmtpproxyd,
    /// `timsieved`
    Timsieved,
    /// `ctl_mboxlist`
    CtlMboxlist,
    /// `ctl_cyrusdb`
    CtlCyrusdb,
    /// `ctl_deliver`
    CtlDeliver,
    /// `cyr_expire`
    CyrExpire,
    /// `tls_prune`
    TlsPrune,
    /// `idled`
    Idled,
    /// `fud`
    Fud,
    /// `notifyd`
    Notifyd,
    /// `httpd`
    Httpd,
    /// `nntpd`
    Nntpd,
    /// `sync_client`
    SyncClient,
    /// `sync_server`
    SyncServer,
    /// `squatter`
    Squatter,
}

impl KnownProgram {
    const TABLE: [(&'static str, KnownProgram); 21] = [
        ("mupdate", KnownProgram::Mupdate),
        ("imapd", KnownProgram::Imapd),
        ("proxyd", KnownProgram::Proxyd),
        ("pop3d", KnownProgram::Pop3d),
        ("pop3proxyd", KnownProgram::Pop3proxyd),
        ("lmtpd", KnownProgram::Lmtpd),
        ("lmtpproxyd", KnownProgram::Lmtpproxyd),
        ("timsieved", KnownProgram::Timsieved),
        ("ctl_mboxlist", KnownProgram::CtlMboxlist),
        ("ctl_cyrusdb", KnownProgram::CtlCyrusdb),
        ("ctl_deliver", KnownProgram::CtlDeliver),
        ("cyr_expire", KnownProgram::CyrExpire),
        ("tls_prune", KnownProgram::TlsPrune),
        ("idled", KnownProgram::Idled),
        ("fud", KnownProgram::Fud),
        ("notifyd", KnownProgram::Notifyd),
        ("httpd", KnownProgram::Httpd),
        ("nntpd", KnownProgram::Nntpd),
        ("sync_client", KnownProgram::SyncClient),
        ("sync_server", KnownProgram::SyncServer),
        ("squatter", KnownProgram::Squatter),
    ];

    /// The program for a base name.
    pub fn from_name(name: &str) -> Option<KnownProgram> {
        Self::TABLE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
    }

    /// The base name.
    pub fn name(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or_default()
    }
}

/// The port part of a `listen=`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Port {
    /// A number.
    Number(u16),
    /// A service name for `/etc/services` (resolving it is the caller's job; see
    /// [`well_known_port`]).
    Name(String),
}

impl Port {
    /// The number, or the well-known number of the name.
    pub fn well_known(&self) -> Option<u16> {
        match self {
            Port::Number(n) => Some(*n),
            Port::Name(name) => well_known_port(name),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Name(s) => f.write_str(s),
        }
    }
}

/// Where a service listens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Listen {
    /// A UNIX socket path (the value starts with `/`).
    Unix(String),
    /// `[host:]port` or `[v6addr]:port`; no host means every address.
    Inet {
        /// Host name or address, without brackets.
        host: Option<String>,
        /// The port.
        port: Port,
    },
}

impl Listen {
    /// Reads a `listen=` value the way the master splits it (the last `]` or `:` separates
    /// the host).
    pub fn parse(text: &str) -> Result<Listen, ErrorKind> {
        let bad = || ErrorKind::BadListen(text.to_string());
        if text.starts_with('/') {
            return Ok(Listen::Unix(text.to_string()));
        }
        if text.is_empty() || text.contains(is_space) {
            return Err(bad());
        }
        let (host, port) = if let Some(close) = text.rfind(']') {
            let (before, after) = text.split_at(close);
            let port = after.strip_prefix("]:").ok_or_else(bad)?;
            let host = before.strip_prefix('[').ok_or_else(bad)?;
            (host, port)
        } else if let Some((host, port)) = text.rsplit_once(':') {
            (host, port)
        } else {
            ("", text)
        };
        if port.is_empty() || port.contains([':', '[', ']']) || host.contains(['[', ']']) {
            return Err(bad());
        }
        let port = if port.bytes().all(|b| b.is_ascii_digit()) {
            Port::Number(port.parse().map_err(|_| bad())?)
        } else {
            Port::Name(port.to_string())
        };
        Ok(Listen::Inet {
            host: (!host.is_empty()).then(|| host.to_string()),
            port,
        })
    }

    fn to_value(&self) -> String {
        match self {
            Listen::Unix(path) => path.clone(),
            Listen::Inet { host: None, port } => port.to_string(),
            Listen::Inet {
                host: Some(h),
                port,
            } if h.contains(':') => format!("[{h}]:{port}"),
            Listen::Inet {
                host: Some(h),
                port,
            } => format!("{h}:{port}"),
        }
    }
}

/// Well-known service-name → port numbers for the names a murder's `cyrus.conf` uses, for
/// callers that cannot (or would rather not) read `/etc/services`.
pub fn well_known_port(name: &str) -> Option<u16> {
    Some(match name {
        "imap" => 143,
        "imaps" => 993,
        "pop3" => 110,
        "pop3s" => 995,
        "kpop" => 1109,
        "lmtp" => 24,
        "mupdate" => 3905,
        "sieve" => 4190,
        "http" => 80,
        "https" => 443,
        "nntp" => 119,
        "nntps" => 563,
        "smtp" => 25,
        "submission" => 587,
        "csync" => 2005,
        "fud" => 4201,
        _ => return None,
    })
}

/// `proto=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Proto {
    /// `tcp` (IPv4 and IPv6; default)
    #[default]
    Tcp,
    /// `tcp4`
    Tcp4,
    /// `tcp6`
    Tcp6,
    /// `udp`
    Udp,
    /// `udp4`
    Udp4,
    /// `udp6`
    Udp6,
}

impl Proto {
    const TABLE: [(&'static str, Proto); 6] = [
        ("tcp", Proto::Tcp),
        ("tcp4", Proto::Tcp4),
        ("tcp6", Proto::Tcp6),
        ("udp", Proto::Udp),
        ("udp4", Proto::Udp4),
        ("udp6", Proto::Udp6),
    ];

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or("tcp")
    }

    fn parse(s: &str) -> Option<Proto> {
        Self::TABLE.iter().find(|(n, _)| *n == s).map(|(_, p)| *p)
    }
}

/// One argument the typed entry does not use (unknown, or a later duplicate), kept so that it
/// round-trips and can be reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtraArg {
    /// The key (letters and digits).
    pub key: String,
    /// The value.
    pub value: ArgValue,
}

/// A START entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartEntry {
    /// The name.
    pub name: EntryName,
    /// `cmd=`.
    pub cmd: Command,
    /// Arguments not understood here.
    pub extra: Vec<ExtraArg>,
    /// The line it was read from (0 when built in code).
    pub line: usize,
}

/// A SERVICES entry, with Cyrus's defaults for what is not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The name (also the `imapd.conf` override prefix).
    pub name: EntryName,
    /// `cmd=`.
    pub cmd: Command,
    /// `listen=`.
    pub listen: Listen,
    /// `proto=` (default tcp).
    pub proto: Proto,
    /// `prefork=` (default 0).
    pub prefork: i32,
    /// `maxchild=` (default -1, unlimited).
    pub maxchild: i32,
    /// `maxfds=` (default 256).
    pub maxfds: i32,
    /// `maxforkrate=` (default 0, unlimited).
    pub maxforkrate: i32,
    /// `babysit=` (default n).
    pub babysit: bool,
    /// Arguments not understood here.
    pub extra: Vec<ExtraArg>,
    /// The line it was read from (0 when built in code).
    pub line: usize,
}

impl ServiceEntry {
    /// A service with the defaults.
    pub fn new(name: EntryName, cmd: Command, listen: Listen) -> ServiceEntry {
        ServiceEntry {
            name,
            cmd,
            listen,
            proto: Proto::Tcp,
            prefork: 0,
            maxchild: -1,
            maxfds: DEFAULT_MAXFDS,
            maxforkrate: 0,
            babysit: false,
            extra: Vec::new(),
            line: 0,
        }
    }
}

const DEFAULT_MAXFDS: i32 = 256;

/// When an EVENTS entry runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Schedule {
    /// Every `period=` minutes (0, the default, means once at start-up).
    Period(i32),
    /// Daily at `at=hhmm`.
    At {
        /// 0–23
        hour: u8,
        /// 0–59
        minute: u8,
    },
    /// `cron="min hour dom mon dow"`.
    Cron(ArgValue),
}

/// An EVENTS entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    /// The name.
    pub name: EntryName,
    /// `cmd=`.
    pub cmd: Command,
    /// `cron=` wins over `at=`, which wins over `period=` (as in the master); the losers are
    /// kept in `extra`.
    pub schedule: Schedule,
    /// Arguments not understood here.
    pub extra: Vec<ExtraArg>,
    /// The line it was read from (0 when built in code).
    pub line: usize,
}

/// A DAEMON entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonEntry {
    /// The name.
    pub name: EntryName,
    /// `cmd=`.
    pub cmd: Command,
    /// `wait=` (default n): with y the master waits for `ok\r\n` on fd 3 before going on.
    pub wait: bool,
    /// Arguments not understood here.
    pub extra: Vec<ExtraArg>,
    /// The line it was read from (0 when built in code).
    pub line: usize,
}

/// Something the parser skipped that an operator probably wants to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The line.
    pub line: usize,
    /// What was skipped.
    pub message: String,
}

/// A parsed `cyrus.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CyrusConf {
    /// START entries in order.
    pub start: Vec<StartEntry>,
    /// SERVICES entries in order.
    pub services: Vec<ServiceEntry>,
    /// EVENTS entries in order.
    pub events: Vec<EventEntry>,
    /// DAEMON entries in order.
    pub daemons: Vec<DaemonEntry>,
    /// Things skipped while reading (unknown sections, text after `{`); not encoded.
    pub warnings: Vec<Warning>,
}

/// An argument not understood, for reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownArg<'a> {
    /// The section.
    pub section: Section,
    /// The entry.
    pub name: &'a str,
    /// The entry's line.
    pub line: usize,
    /// The argument.
    pub key: &'a str,
}

/// C `isspace` in the "C" locale.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// An entry's arguments as read, with the line for errors.
struct RawEntry {
    section: Section,
    name: EntryName,
    args: Vec<(String, String)>,
    line: usize,
}

impl RawEntry {
    /// Takes the first argument named `key`; later ones stay for `extra`.
    fn take(&mut self, key: &str) -> Option<String> {
        let i = self.args.iter().position(|(k, _)| k == key)?;
        Some(self.args.remove(i).1)
    }

    fn int(&mut self, key: &str, default: i32) -> Result<i32, ErrorKind> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ErrorKind::BadInt {
                key: key.to_string(),
                value: v,
            }),
        }
    }

    fn switch(&mut self, key: &str) -> Result<bool, ErrorKind> {
        match self.take(key) {
            None => Ok(false),
            Some(v) => super::options::parse_switch(&v).ok_or(ErrorKind::BadSwitch {
                key: key.to_string(),
                value: v,
            }),
        }
    }

    fn cmd(&mut self) -> Result<Command, ErrorKind> {
        let missing = ErrorKind::MissingArg {
            name: self.name.0.clone(),
            arg: "cmd",
        };
        let v = self.take("cmd").ok_or(missing.clone())?;
        Command::new(&v).map_err(|e| match e {
            ErrorKind::MissingArg { .. } => missing,
            other => other,
        })
    }

    fn extra(self) -> Result<Vec<ExtraArg>, ErrorKind> {
        self.args
            .into_iter()
            .map(|(key, v)| {
                Ok(ExtraArg {
                    key,
                    value: ArgValue::new(&v)?,
                })
            })
            .collect()
    }
}

impl CyrusConf {
    /// Reads `text`; `file` names it in errors. Uses default [`Limits`].
    pub fn parse(text: &str, file: &str) -> Result<CyrusConf, CyrusConfError> {
        Self::parse_with_limits(text, file, &Limits::default())
    }

    /// Reads `text` with the given limits.
    pub fn parse_with_limits(
        text: &str,
        file: &str,
        limits: &Limits,
    ) -> Result<CyrusConf, CyrusConfError> {
        let err = |line, kind| CyrusConfError {
            file: file.to_string(),
            line,
            kind,
        };
        if text.len() > limits.max_file_len {
            return Err(err(0, ErrorKind::FileTooLarge(limits.max_file_len)));
        }
        let mut conf = CyrusConf::default();
        let mut raw_entries = Vec::new();
        // The open known section and the line it opened on.
        let mut current: Option<(Section, usize)> = None;
        // Brace depth while skipping an unknown section or stray braces.
        let mut level: i64 = 0;
        for (i, raw) in text.split('\n').enumerate() {
            let lineno = i.saturating_add(1);
            if raw.len() > limits.max_line_len {
                return Err(err(lineno, ErrorKind::LineTooLong(limits.max_line_len)));
            }
            let uncommented = raw.split('#').next().unwrap_or_default();
            let p = uncommented.trim_start_matches(is_space);
            if p.trim_end_matches(is_space).is_empty() {
                continue;
            }
            if let Some((section, _)) = current {
                if p.starts_with('}') {
                    current = None;
                    continue;
                }
                if raw_entries.len() >= limits.max_entries {
                    return Err(err(lineno, ErrorKind::TooManyEntries(limits.max_entries)));
                }
                let entry = parse_entry(section, p, lineno, limits).map_err(|k| err(lineno, k))?;
                raw_entries.push(entry);
                continue;
            }
            if level == 0 {
                if let Some(section) = section_header(p) {
                    let rest = p.get(section.as_str().len()..).unwrap_or_default();
                    let opens = brace_delta(rest);
                    if opens == 1 {
                        let after = rest.split_once('{').map(|(_, a)| a).unwrap_or_default();
                        if !after.trim_matches(is_space).is_empty() {
                            conf.warnings.push(Warning {
                                line: lineno,
                                message: format!(
                                    "text after '{section} {{' ignored (entries go on their own lines)"
                                ),
                            });
                        }
                        current = Some((section, lineno));
                    } else {
                        conf.warnings.push(Warning {
                            line: lineno,
                            message: format!(
                                "{section} not followed by '{{' on the same line; section ignored"
                            ),
                        });
                        level = level.saturating_add(opens);
                    }
                    continue;
                }
                let word: String = p
                    .chars()
                    .take_while(|c| !is_space(*c) && *c != '{')
                    .collect();
                conf.warnings.push(Warning {
                    line: lineno,
                    message: format!("unknown section or stray text '{word}' ignored"),
                });
            }
            level = level.saturating_add(brace_delta(p));
        }
        if let Some((section, line)) = current {
            return Err(err(line, ErrorKind::UnclosedSection { section, line }));
        }
        conf.build(raw_entries).map_err(|(line, k)| err(line, k))?;
        Ok(conf)
    }

    fn build(&mut self, raw_entries: Vec<RawEntry>) -> Result<(), (usize, ErrorKind)> {
        // Services and daemons share the master's table, so their names must be unique across
        // both.
        let mut names: Vec<(EntryName, usize)> = Vec::new();
        for mut e in raw_entries {
            let line = e.line;
            let fail = |k| (line, k);
            if matches!(e.section, Section::Services | Section::Daemon) {
                if let Some((_, first_line)) = names.iter().find(|(n, _)| *n == e.name) {
                    return Err(fail(ErrorKind::DuplicateName {
                        name: e.name.0.clone(),
                        first_line: *first_line,
                    }));
                }
                names.push((e.name.clone(), line));
            }
            match e.section {
                Section::Start => {
                    let cmd = e.cmd().map_err(fail)?;
                    let name = e.name.clone();
                    self.start.push(StartEntry {
                        name,
                        cmd,
                        extra: e.extra().map_err(fail)?,
                        line,
                    });
                }
                Section::Services => {
                    let cmd = e.cmd().map_err(fail)?;
                    let listen_text = e.take("listen").unwrap_or_default();
                    if listen_text.is_empty() {
                        return Err(fail(ErrorKind::MissingArg {
                            name: e.name.0.clone(),
                            arg: "listen",
                        }));
                    }
                    let listen = Listen::parse(&listen_text).map_err(fail)?;
                    let proto = match e.take("proto") {
                        None => Proto::Tcp,
                        Some(p) => Proto::parse(&p).ok_or(fail(ErrorKind::BadProto(p)))?,
                    };
                    let prefork = e.int("prefork", 0).map_err(fail)?;
                    let maxchild = e.int("maxchild", -1).map_err(fail)?;
                    let maxfds = e.int("maxfds", DEFAULT_MAXFDS).map_err(fail)?;
                    let maxforkrate = e.int("maxforkrate", 0).map_err(fail)?;
                    let babysit = e.switch("babysit").map_err(fail)?;
                    let name = e.name.clone();
                    self.services.push(ServiceEntry {
                        name,
                        cmd,
                        listen,
                        proto,
                        prefork,
                        maxchild,
                        maxfds,
                        maxforkrate,
                        babysit,
                        extra: e.extra().map_err(fail)?,
                        line,
                    });
                }
                Section::Events => {
                    let cmd = e.cmd().map_err(fail)?;
                    let schedule = if let Some(cron) = e.take("cron") {
                        if cron.split(is_space).filter(|w| !w.is_empty()).count() != 5 {
                            return Err(fail(ErrorKind::BadCron(cron)));
                        }
                        Schedule::Cron(ArgValue::new(&cron).map_err(fail)?)
                    } else if let Some(at) = e.take("at").filter(|v| !v.starts_with('-')) {
                        let n: u32 = at.parse().map_err(|_| fail(ErrorKind::BadAt(at.clone())))?;
                        let (hour, minute) = (n / 100, n % 100);
                        if hour > 23 || minute > 59 {
                            return Err(fail(ErrorKind::BadAt(at)));
                        }
                        Schedule::At {
                            hour: u8::try_from(hour).unwrap_or(0),
                            minute: u8::try_from(minute).unwrap_or(0),
                        }
                    } else {
                        Schedule::Period(e.int("period", 0).map_err(fail)?)
                    };
                    let name = e.name.clone();
                    self.events.push(EventEntry {
                        name,
                        cmd,
                        schedule,
                        extra: e.extra().map_err(fail)?,
                        line,
                    });
                }
                Section::Daemon => {
                    let cmd = e.cmd().map_err(fail)?;
                    let wait = e.switch("wait").map_err(fail)?;
                    let name = e.name.clone();
                    self.daemons.push(DaemonEntry {
                        name,
                        cmd,
                        wait,
                        extra: e.extra().map_err(fail)?,
                        line,
                    });
                }
            }
        }
        Ok(())
    }

    /// The service entry called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceEntry> {
        self.services.iter().find(|s| s.name.as_str() == name)
    }

    /// Every argument the typed entries did not use, for a tool to warn about.
    pub fn unknown_args(&self) -> Vec<UnknownArg<'_>> {
        let start = self
            .start
            .iter()
            .map(|e| (Section::Start, &e.name, e.line, &e.extra));
        let services = self
            .services
            .iter()
            .map(|e| (Section::Services, &e.name, e.line, &e.extra));
        let events = self
            .events
            .iter()
            .map(|e| (Section::Events, &e.name, e.line, &e.extra));
        let daemons = self
            .daemons
            .iter()
            .map(|e| (Section::Daemon, &e.name, e.line, &e.extra));
        start
            .chain(services)
            .chain(events)
            .chain(daemons)
            .flat_map(|(section, name, line, extra)| {
                extra.iter().map(move |x| UnknownArg {
                    section,
                    name: name.as_str(),
                    line,
                    key: &x.key,
                })
            })
            .collect()
    }

    /// Writes the conf back: the non-empty sections in START, SERVICES, EVENTS, DAEMON order,
    /// one entry per line, arguments that differ from the defaults only.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for section in Section::ALL {
            let mut lines: Vec<String> = Vec::new();
            match section {
                Section::Start => {
                    for e in &self.start {
                        lines.push(entry_line(&e.name, &e.cmd, &[], &e.extra));
                    }
                }
                Section::Services => {
                    for s in &self.services {
                        let mut args: Vec<(&str, String)> = vec![("listen", s.listen.to_value())];
                        if s.proto != Proto::Tcp {
                            args.push(("proto", s.proto.as_str().to_string()));
                        }
                        if s.prefork != 0 {
                            args.push(("prefork", s.prefork.to_string()));
                        }
                        if s.maxchild != -1 {
                            args.push(("maxchild", s.maxchild.to_string()));
                        }
                        if s.maxfds != DEFAULT_MAXFDS {
                            args.push(("maxfds", s.maxfds.to_string()));
                        }
                        if s.maxforkrate != 0 {
                            args.push(("maxforkrate", s.maxforkrate.to_string()));
                        }
                        if s.babysit {
                            args.push(("babysit", "1".to_string()));
                        }
                        lines.push(entry_line(&s.name, &s.cmd, &args, &s.extra));
                    }
                }
                Section::Events => {
                    for e in &self.events {
                        let args: Vec<(&str, String)> = match &e.schedule {
                            Schedule::Period(0) => Vec::new(),
                            Schedule::Period(p) => vec![("period", p.to_string())],
                            Schedule::At { hour, minute } => {
                                vec![("at", format!("{hour:02}{minute:02}"))]
                            }
                            Schedule::Cron(c) => vec![("cron", c.as_str().to_string())],
                        };
                        lines.push(entry_line(&e.name, &e.cmd, &args, &e.extra));
                    }
                }
                Section::Daemon => {
                    for d in &self.daemons {
                        let args: Vec<(&str, String)> = if d.wait {
                            vec![("wait", "y".to_string())]
                        } else {
                            Vec::new()
                        };
                        lines.push(entry_line(&d.name, &d.cmd, &args, &d.extra));
                    }
                }
            }
            if lines.is_empty() {
                continue;
            }
            out.push_str(section.as_str());
            out.push_str(" {\n");
            for l in lines {
                out.push_str("  ");
                out.push_str(&l);
                out.push('\n');
            }
            out.push_str("}\n");
        }
        out
    }
}

fn entry_line(
    name: &EntryName,
    cmd: &Command,
    args: &[(&str, String)],
    extra: &[ExtraArg],
) -> String {
    let mut out = String::new();
    out.push_str(name.as_str());
    out.push_str(" cmd=");
    cmd.0.encode(&mut out);
    for (k, v) in args {
        out.push(' ');
        out.push_str(k);
        out.push('=');
        // Values built here (numbers, listen strings from validated parts) hold no '#', '"'
        // or white space, except a listen path, which is quoted.
        match ArgValue::new(v) {
            Ok(av) => av.encode(&mut out),
            Err(_) => {
                out.push('"');
                out.push_str(v);
                out.push('"');
            }
        }
    }
    for x in extra {
        out.push(' ');
        out.push_str(&x.key);
        out.push('=');
        x.value.encode(&mut out);
    }
    out
}

/// The section a level-0 line opens, if it starts with a section keyword not followed by a
/// letter or digit.
fn section_header(p: &str) -> Option<Section> {
    Section::ALL.into_iter().find(|s| {
        let kw = s.as_str();
        p.get(..kw.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(kw))
            && !p
                .get(kw.len()..)
                .and_then(|r| r.chars().next())
                .is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

fn brace_delta(s: &str) -> i64 {
    s.chars().fold(0i64, |acc, c| match c {
        '{' => acc.saturating_add(1),
        '}' => acc.saturating_sub(1),
        _ => acc,
    })
}

/// Reads `name key=value ...` (comment already removed, leading space trimmed).
fn parse_entry(
    section: Section,
    p: &str,
    lineno: usize,
    limits: &Limits,
) -> Result<RawEntry, ErrorKind> {
    let name_len = p.bytes().take_while(|b| b.is_ascii_alphanumeric()).count();
    let (name, rest) = p.split_at_checked(name_len).unwrap_or((p, ""));
    if let Some(c) = rest.chars().next() {
        if name.is_empty() || !is_space(c) {
            return Err(ErrorKind::BadNameChar(c));
        }
    }
    let name = EntryName::new(name)?;
    let args = split_args(rest, limits.max_args)?;
    Ok(RawEntry {
        section,
        name,
        args,
        line: lineno,
    })
}

fn split_args(mut s: &str, max_args: usize) -> Result<Vec<(String, String)>, ErrorKind> {
    let mut args = Vec::new();
    loop {
        s = s.trim_start_matches(is_space);
        if s.is_empty() {
            return Ok(args);
        }
        let key_len = s.bytes().take_while(|b| b.is_ascii_alphanumeric()).count();
        let (key, rest) = s.split_at_checked(key_len).unwrap_or((s, ""));
        let Some(rest) = rest.strip_prefix('=') else {
            return Err(match rest.chars().next() {
                None => ErrorKind::MissingEquals(key.to_string()),
                Some(c) => ErrorKind::BadArgChar(c),
            });
        };
        if key.is_empty() {
            return Err(ErrorKind::BadArgChar('='));
        }
        let (value, after) = if let Some(q) = rest.strip_prefix('"') {
            // No escapes: the value runs to the next quote, and the next argument may start
            // right after it.
            q.split_once('"')
                .ok_or_else(|| ErrorKind::MissingQuote(key.to_string()))?
        } else {
            rest.split_once(is_space).unwrap_or((rest, ""))
        };
        if args.len() >= max_args {
            return Err(ErrorKind::TooManyArgs(max_args));
        }
        if value.contains(['\r', '\n']) {
            return Err(ErrorKind::Unencodable(value.to_string()));
        }
        args.push((key.to_string(), value.to_string()));
        s = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `configs-example/backend1/cyrus.conf`
    const BACKEND1: &str = r#"# ---- generated by up.sh for instance 'backend1' ----
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

    /// `configs-example/backend2/cyrus.conf`
    const BACKEND2: &str = r#"# ---- generated by up.sh for instance 'backend2' ----
START {
    recover     cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf -r"
    # push our mailbox list to the mupdate master at every start
    mupdatepush cmd="ctl_mboxlist -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf -m"
}
SERVICES {
    # direct access for tests/benchmarks (high ports on 127.0.0.1)
    imap        cmd="imapd -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf -U 30" listen="127.0.0.1:12143" prefork=2 maxchild=100
    pop3        cmd="pop3d -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf -U 30" listen="127.0.0.1:12110" prefork=0 maxchild=50
    lmtp        cmd="lmtpd -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf" listen="127.0.0.1:12024" prefork=0 maxchild=20
    lmtpunix    cmd="lmtpd -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf" listen="/var/tmp/cyrus-murder/backend2/conf/socket/lmtp" prefork=0 maxchild=20
    # what the frontend proxies to: Cyrus connects to "<servername>:<service>"
    # i.e. backend2 -> 127.0.0.12 on the *standard* imap/pop3/lmtp ports.
    imapmurder  cmd="imapd -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf -U 30" listen="127.0.0.12:143" prefork=2 maxchild=100
    pop3murder  cmd="pop3d -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf -U 30" listen="127.0.0.12:110" prefork=0 maxchild=50
    lmtpmurder  cmd="lmtpd -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf" listen="127.0.0.12:24" prefork=0 maxchild=20
}
EVENTS {
    checkpoint  cmd="ctl_cyrusdb -C /var/tmp/cyrus-murder/backend2/etc/imapd.conf -c" period=30
}
"#;

    /// `configs-example/frontend/cyrus.conf`
    const FRONTEND: &str = r#"# ---- generated by up.sh for instance 'frontend' ----
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

    /// `configs-example/mupdate/cyrus.conf`
    const MUPDATE: &str = r#"# ---- generated by up.sh for instance 'mupdate' ----
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

    fn parse(text: &str) -> Result<CyrusConf, CyrusConfError> {
        CyrusConf::parse(text, "cyrus.conf")
    }

    fn err(text: &str) -> CyrusConfError {
        parse(text).unwrap_err()
    }

    fn inet(host: Option<&str>, port: u16) -> Listen {
        Listen::Inet {
            host: host.map(str::to_string),
            port: Port::Number(port),
        }
    }

    /// The model without line numbers or warnings, for round trips.
    fn model(conf: &CyrusConf) -> CyrusConf {
        let mut c = conf.clone();
        c.warnings.clear();
        c.start.iter_mut().for_each(|e| e.line = 0);
        c.services.iter_mut().for_each(|e| e.line = 0);
        c.events.iter_mut().for_each(|e| e.line = 0);
        c.daemons.iter_mut().for_each(|e| e.line = 0);
        c
    }

    #[test]
    fn example_backend_parses_to_the_expected_entries() {
        let conf = parse(BACKEND1).unwrap();
        assert!(conf.warnings.is_empty(), "{:?}", conf.warnings);
        let start: Vec<(&str, Vec<&str>)> = conf
            .start
            .iter()
            .map(|e| (e.name.as_str(), e.cmd.argv()))
            .collect();
        assert_eq!(
            start,
            vec![
                (
                    "recover",
                    vec![
                        "ctl_cyrusdb",
                        "-C",
                        "/var/tmp/cyrus-murder/backend1/etc/imapd.conf",
                        "-r"
                    ]
                ),
                (
                    "mupdatepush",
                    vec![
                        "ctl_mboxlist",
                        "-C",
                        "/var/tmp/cyrus-murder/backend1/etc/imapd.conf",
                        "-m"
                    ]
                ),
            ]
        );
        assert_eq!(
            conf.start[1].cmd.known_program(),
            Some(KnownProgram::CtlMboxlist)
        );
        assert_eq!(conf.start[1].line, 5);
        let services: Vec<(&str, &str, Listen, i32, i32)> = conf
            .services
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.cmd.program_name(),
                    s.listen.clone(),
                    s.prefork,
                    s.maxchild,
                )
            })
            .collect();
        assert_eq!(
            services,
            vec![
                ("imap", "imapd", inet(Some("127.0.0.1"), 11143), 2, 100),
                ("pop3", "pop3d", inet(Some("127.0.0.1"), 11110), 0, 50),
                ("lmtp", "lmtpd", inet(Some("127.0.0.1"), 11024), 0, 20),
                (
                    "lmtpunix",
                    "lmtpd",
                    Listen::Unix("/var/tmp/cyrus-murder/backend1/conf/socket/lmtp".into()),
                    0,
                    20
                ),
                ("imapmurder", "imapd", inet(Some("127.0.0.11"), 143), 2, 100),
                ("pop3murder", "pop3d", inet(Some("127.0.0.11"), 110), 0, 50),
                ("lmtpmurder", "lmtpd", inet(Some("127.0.0.11"), 24), 0, 20),
            ]
        );
        let imap = conf.service("imap").unwrap();
        assert_eq!(imap.cmd.argv().last(), Some(&"30"));
        assert_eq!(
            (imap.proto, imap.maxfds, imap.maxforkrate, imap.babysit),
            (Proto::Tcp, 256, 0, false)
        );
        assert_eq!(imap.line, 9);
        assert_eq!(conf.events.len(), 1);
        assert_eq!(conf.events[0].name.as_str(), "checkpoint");
        assert_eq!(conf.events[0].schedule, Schedule::Period(30));
        assert!(conf.daemons.is_empty());
        assert!(conf.unknown_args().is_empty());
    }

    #[test]
    fn every_example_parses_and_round_trips() {
        for (text, services) in [(BACKEND1, 7), (BACKEND2, 7), (FRONTEND, 5), (MUPDATE, 1)] {
            let conf = parse(text).unwrap();
            assert_eq!(conf.services.len(), services);
            assert!(conf.warnings.is_empty());
            let back = parse(&conf.encode()).unwrap();
            assert_eq!(model(&back), model(&conf));
        }
        let mupdate = parse(MUPDATE).unwrap();
        let m = mupdate.service("mupdate").unwrap();
        assert_eq!(m.cmd.known_program(), Some(KnownProgram::Mupdate));
        assert!(m.cmd.argv().contains(&"-m"));
        assert_eq!(m.listen, inet(Some("127.0.0.1"), 13905));
        assert_eq!(m.prefork, 1);
        let frontend = parse(FRONTEND).unwrap();
        let slave = frontend.service("mupdate").unwrap();
        assert!(!slave.cmd.argv().contains(&"-m"));
        assert_eq!(slave.listen, inet(Some("127.0.0.1"), 10905));
    }

    #[test]
    fn seed_lines_parse() {
        let text = r#"
SERVICES {
  mupdate       cmd="/usr/cyrus/bin/mupdate -m" listen=3905 prefork=1
}
START {
  mupdatepush   cmd="ctl_mboxlist -m"
}
services {
  # mupdate database service - must prefork atleast 1
  mupdate2      cmd="mupdate" listen=3905 prefork=1 
  mupdate3      cmd="/usr/cyrus/bin/mupdate" listen=3905 prefork=1 

  imap          cmd="proxyd" listen="imap" prefork=5
  imaps         cmd="proxyd -s" listen="imaps" prefork=1
  pop3          cmd="pop3proxyd" listen="pop3" prefork=0
  pop3s         cmd="pop3proxyd -s" listen="pop3s" prefork=0
  kpop          cmd="pop3proxyd -k" listen="kpop" prefork=0
  sieve         cmd="timsieved" listen="sieve" prefork=0
  lmtp          cmd="lmtpproxyd" listen="/var/imap/socket/lmtp" prefork=0
}
"#;
        let conf = parse(text).unwrap();
        assert_eq!(conf.start[0].cmd.argv(), vec!["ctl_mboxlist", "-m"]);
        let m = conf.service("mupdate").unwrap();
        assert_eq!(m.cmd.program(), "/usr/cyrus/bin/mupdate");
        assert_eq!(m.cmd.program_name(), "mupdate");
        assert_eq!(m.cmd.argv(), vec!["/usr/cyrus/bin/mupdate", "-m"]);
        assert_eq!(m.listen, inet(None, 3905));
        assert_eq!(m.prefork, 1);
        let table: Vec<(&str, Option<KnownProgram>, Vec<&str>, Listen)> = conf.services[1..]
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.cmd.known_program(),
                    s.cmd.argv(),
                    s.listen.clone(),
                )
            })
            .collect();
        let name = |n: &str| Listen::Inet {
            host: None,
            port: Port::Name(n.into()),
        };
        assert_eq!(
            table,
            vec![
                (
                    "mupdate2",
                    Some(KnownProgram::Mupdate),
                    vec!["mupdate"],
                    inet(None, 3905)
                ),
                (
                    "mupdate3",
                    Some(KnownProgram::Mupdate),
                    vec!["/usr/cyrus/bin/mupdate"],
                    inet(None, 3905)
                ),
                (
                    "imap",
                    Some(KnownProgram::Proxyd),
                    vec!["proxyd"],
                    name("imap")
                ),
                (
                    "imaps",
                    Some(KnownProgram::Proxyd),
                    vec!["proxyd", "-s"],
                    name("imaps")
                ),
                (
                    "pop3",
                    Some(KnownProgram::Pop3proxyd),
                    vec!["pop3proxyd"],
                    name("pop3")
                ),
                (
                    "pop3s",
                    Some(KnownProgram::Pop3proxyd),
                    vec!["pop3proxyd", "-s"],
                    name("pop3s")
                ),
                (
                    "kpop",
                    Some(KnownProgram::Pop3proxyd),
                    vec!["pop3proxyd", "-k"],
                    name("kpop")
                ),
                (
                    "sieve",
                    Some(KnownProgram::Timsieved),
                    vec!["timsieved"],
                    name("sieve")
                ),
                (
                    "lmtp",
                    Some(KnownProgram::Lmtpproxyd),
                    vec!["lmtpproxyd"],
                    Listen::Unix("/var/imap/socket/lmtp".into())
                ),
            ]
        );
        assert_eq!(conf.service("imaps").unwrap().listen, name("imaps"));
        let ports: Vec<Option<u16>> = [
            "imap", "imaps", "pop3", "pop3s", "kpop", "sieve", "mupdate", "lmtp",
        ]
        .iter()
        .map(|n| well_known_port(n))
        .collect();
        assert_eq!(
            ports,
            vec![
                Some(143),
                Some(993),
                Some(110),
                Some(995),
                Some(1109),
                Some(4190),
                Some(3905),
                Some(24)
            ]
        );
        assert_eq!(well_known_port("nosuch"), None);
        let back = parse(&conf.encode()).unwrap();
        assert_eq!(model(&back), model(&conf));
    }

    #[test]
    fn reference_7_2_murder_entries_parse() {
        let text = r#"
# MUPDATE master host
SERVICES {
  mupdate   cmd="mupdate -m" listen="mupdate" prefork=1
}
# frontend
SERVICES {
  mupdate2  cmd="mupdate" listen="mupdate" prefork=1          # slave; prefork>=1 so that it syncs at boot
  imap      cmd="imapd" listen="imap" prefork=5                # acts as proxyd
  imaps     cmd="imapd -s" listen="imaps"
  pop3      cmd="pop3d" listen="pop3"
  sieve     cmd="timsieved" listen="sieve"
  lmtp      cmd="lmtpd" listen="lmtp" prefork=1               # lmtpproxyd; add -a to pre-authorise the MTA
}
# backend
START {
  recover     cmd="ctl_cyrusdb -r"
  mupdatepush cmd="ctl_mboxlist -m"
}
"#;
        let conf = parse(text).unwrap();
        assert_eq!(conf.services.len(), 7);
        assert_eq!(conf.service("lmtp").unwrap().prefork, 1);
        assert_eq!(
            conf.service("mupdate").unwrap().listen.clone(),
            Listen::Inet {
                host: None,
                port: Port::Name("mupdate".into())
            }
        );
        assert_eq!(Port::Name("mupdate".into()).well_known(), Some(3905));
        assert_eq!(conf.start.len(), 2);
        assert_eq!(
            conf.start[0].cmd.known_program(),
            Some(KnownProgram::CtlCyrusdb)
        );
    }

    #[test]
    fn listen_forms() {
        let ok: &[(&str, Listen)] = &[
            ("3905", inet(None, 3905)),
            (
                "mupdate",
                Listen::Inet {
                    host: None,
                    port: Port::Name("mupdate".into()),
                },
            ),
            ("127.0.0.1:13905", inet(Some("127.0.0.1"), 13905)),
            (
                "localhost:imap",
                Listen::Inet {
                    host: Some("localhost".into()),
                    port: Port::Name("imap".into()),
                },
            ),
            ("[::1]:143", inet(Some("::1"), 143)),
            ("[fe80::1%eth0]:24", inet(Some("fe80::1%eth0"), 24)),
            (":143", inet(None, 143)),
            (
                "/var/run/cyrus/socket/lmtp",
                Listen::Unix("/var/run/cyrus/socket/lmtp".into()),
            ),
        ];
        for (text, want) in ok {
            let got = Listen::parse(text).unwrap();
            assert_eq!(&got, want, "{text}");
            assert_eq!(Listen::parse(&got.to_value()).unwrap(), got);
        }
        for text in [
            "", "[::1]", "[::1]143", "host:", "70000", "a b", "[a]:b:c", "x]:1",
        ] {
            assert!(Listen::parse(text).is_err(), "{text}");
        }
        // No brackets: the last ':' splits, as in the master.
        assert_eq!(Listen::parse("::1:143").unwrap(), inet(Some("::1"), 143));
    }

    #[test]
    fn sections_are_case_insensitive_and_comments_cut_quotes() {
        let conf =
            parse("services{\n imap cmd=\"imapd\" listen=imap\n}\nStart {\n a cmd=x\n}\n").unwrap();
        assert_eq!(conf.services.len(), 1);
        assert_eq!(conf.start.len(), 1);
        // Everything from '#' on is a comment, even inside quotes.
        let e = err("SERVICES {\n imap cmd=\"imapd # x\" listen=imap\n}\n");
        assert_eq!((e.line, e.kind), (2, ErrorKind::MissingQuote("cmd".into())));
    }

    #[test]
    fn events_and_daemons() {
        let conf = parse(concat!(
            "EVENTS {\n",
            "  checkpoint cmd=\"ctl_cyrusdb -c\" period=30\n",
            "  delprune   cmd=\"cyr_expire -E 3\" at=0400\n",
            "  tlsprune   cmd=\"tls_prune\" at=400 period=5\n",
            "  squat      cmd=\"squatter -i\" cron=\"*/15 * * * *\" at=1200\n",
            "  once       cmd=\"true\"\n",
            "  neg        cmd=\"x\" at=-1 period=2\n",
            "}\n",
            "DAEMON {\n",
            "  idled cmd=\"idled\"\n",
            "  ready cmd=\"notifyd\" wait=y\n",
            "}\n",
        ))
        .unwrap();
        let sched: Vec<&Schedule> = conf.events.iter().map(|e| &e.schedule).collect();
        assert_eq!(
            sched,
            vec![
                &Schedule::Period(30),
                &Schedule::At { hour: 4, minute: 0 },
                &Schedule::At { hour: 4, minute: 0 },
                &Schedule::Cron(ArgValue::new("*/15 * * * *").unwrap()),
                &Schedule::Period(0),
                &Schedule::Period(2),
            ]
        );
        assert_eq!(
            conf.events[1].cmd.known_program(),
            Some(KnownProgram::CyrExpire)
        );
        // The arguments the winning schedule made irrelevant are reported.
        let unknown: Vec<(Section, &str, &str)> = conf
            .unknown_args()
            .iter()
            .map(|u| (u.section, u.name, u.key))
            .collect();
        assert_eq!(
            unknown,
            vec![
                (Section::Events, "tlsprune", "period"),
                (Section::Events, "squat", "at")
            ]
        );
        assert_eq!(conf.daemons.len(), 2);
        assert!(!conf.daemons[0].wait);
        assert!(conf.daemons[1].wait);
        let back = parse(&conf.encode()).unwrap();
        assert_eq!(model(&back), model(&conf));
    }

    #[test]
    fn unknown_and_duplicate_args_are_kept() {
        let conf =
            parse("SERVICES {\n imap cmd=imapd listen=imap prefork=1 prefork=2 colour=blue\n}\n")
                .unwrap();
        let s = conf.service("imap").unwrap();
        assert_eq!(s.prefork, 1);
        let keys: Vec<&str> = conf.unknown_args().iter().map(|u| u.key).collect();
        assert_eq!(keys, vec!["prefork", "colour"]);
        assert_eq!(conf.unknown_args()[0].line, 2);
        let back = parse(&conf.encode()).unwrap();
        assert_eq!(model(&back), model(&conf));
    }

    #[test]
    fn every_service_argument_is_read() {
        let conf = parse(
            "SERVICES {\n x cmd=\"imapd -s\" listen=\"[::]:993\" proto=tcp6 prefork=3 maxchild=9 maxfds=1024 maxforkrate=5 babysit=y\n}\n",
        )
        .unwrap();
        let s = &conf.services[0];
        assert_eq!(
            (
                s.proto,
                s.prefork,
                s.maxchild,
                s.maxfds,
                s.maxforkrate,
                s.babysit
            ),
            (Proto::Tcp6, 3, 9, 1024, 5, true)
        );
        assert_eq!(s.listen, inet(Some("::"), 993));
        let back = parse(&conf.encode()).unwrap();
        assert_eq!(model(&back), model(&conf));
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, usize, ErrorKind)] = &[
            (
                "SERVICES {\n imap-s cmd=imapd listen=imap\n}\n",
                2,
                ErrorKind::BadNameChar('-'),
            ),
            (
                "SERVICES {\n lmtp_unix cmd=lmtpd listen=/s\n}\n",
                2,
                ErrorKind::BadNameChar('_'),
            ),
            (
                "SERVICES {\n -x cmd=imapd listen=imap\n}\n",
                2,
                ErrorKind::BadNameChar('-'),
            ),
            (
                "START {\n\n a cmd=x b-c=1\n}\n",
                3,
                ErrorKind::BadArgChar('-'),
            ),
            (
                "START {\n a cmd=x flag\n}\n",
                2,
                ErrorKind::MissingEquals("flag".into()),
            ),
            ("START {\n a cmd=x =1\n}\n", 2, ErrorKind::BadArgChar('=')),
            (
                "START {\n a cmd=\"x\n}\n",
                2,
                ErrorKind::MissingQuote("cmd".into()),
            ),
            (
                "START {\n a\n}\n",
                2,
                ErrorKind::MissingArg {
                    name: "a".into(),
                    arg: "cmd",
                },
            ),
            (
                "START {\n a cmd=\"\"\n}\n",
                2,
                ErrorKind::MissingArg {
                    name: "a".into(),
                    arg: "cmd",
                },
            ),
            (
                "START {\n a cmd=\"  \"\n}\n",
                2,
                ErrorKind::MissingArg {
                    name: "a".into(),
                    arg: "cmd",
                },
            ),
            (
                "SERVICES {\n imap cmd=imapd\n}\n",
                2,
                ErrorKind::MissingArg {
                    name: "imap".into(),
                    arg: "listen",
                },
            ),
            (
                "SERVICES {\n imap cmd=imapd listen=imap\n\n imap cmd=imapd listen=143\n}\n",
                4,
                ErrorKind::DuplicateName {
                    name: "imap".into(),
                    first_line: 2,
                },
            ),
            (
                "SERVICES {\n x cmd=imapd listen=imap\n}\nDAEMON {\n x cmd=idled\n}\n",
                5,
                ErrorKind::DuplicateName {
                    name: "x".into(),
                    first_line: 2,
                },
            ),
            (
                "SERVICES {\n imap cmd=imapd listen=imap proto=sctp\n}\n",
                2,
                ErrorKind::BadProto("sctp".into()),
            ),
            (
                "SERVICES {\n imap cmd=imapd listen=imap prefork=many\n}\n",
                2,
                ErrorKind::BadInt {
                    key: "prefork".into(),
                    value: "many".into(),
                },
            ),
            (
                "SERVICES {\n imap cmd=imapd listen=imap babysit=maybe\n}\n",
                2,
                ErrorKind::BadSwitch {
                    key: "babysit".into(),
                    value: "maybe".into(),
                },
            ),
            (
                "SERVICES {\n imap cmd=imapd listen=[::1]\n}\n",
                2,
                ErrorKind::BadListen("[::1]".into()),
            ),
            (
                "EVENTS {\n e cmd=x at=2400\n}\n",
                2,
                ErrorKind::BadAt("2400".into()),
            ),
            (
                "EVENTS {\n e cmd=x at=1260\n}\n",
                2,
                ErrorKind::BadAt("1260".into()),
            ),
            (
                "EVENTS {\n e cmd=x cron=\"* * *\"\n}\n",
                2,
                ErrorKind::BadCron("* * *".into()),
            ),
            (
                "# header\nSERVICES {\n imap cmd=imapd listen=imap\n",
                2,
                ErrorKind::UnclosedSection {
                    section: Section::Services,
                    line: 2,
                },
            ),
        ];
        for (text, line, kind) in cases {
            let e = err(text);
            assert_eq!((e.line, &e.kind), (*line, kind), "{text:?}");
            assert!(
                e.to_string().starts_with(&format!("cyrus.conf:{line}: ")),
                "{e}"
            );
        }
        let many: String = (0..65).map(|i| format!(" a{i}=1")).collect();
        let e = err(&format!("START {{\n x cmd=y{many}\n}}\n"));
        assert_eq!((e.line, e.kind), (2, ErrorKind::TooManyArgs(64)));
    }

    #[test]
    fn limits_are_errors() {
        let limits = Limits {
            max_file_len: 200,
            max_line_len: 40,
            max_entries: 1,
            max_args: 64,
        };
        let p = |t: &str| CyrusConf::parse_with_limits(t, "c", &limits);
        assert_eq!(
            p(&"#".repeat(201)).unwrap_err().kind,
            ErrorKind::FileTooLarge(200)
        );
        let e = p(&format!("START {{\n{}\n}}\n", "#".repeat(41))).unwrap_err();
        assert_eq!((e.line, e.kind), (2, ErrorKind::LineTooLong(40)));
        let e = p("START {\n a cmd=x\n b cmd=y\n}\n").unwrap_err();
        assert_eq!((e.line, e.kind), (3, ErrorKind::TooManyEntries(1)));
    }

    #[test]
    fn skipped_text_becomes_warnings() {
        let conf = parse(concat!(
            "OTHER {\n  imap cmd=imapd listen=imap\n}\n",
            "START\n{\n  a cmd=x\n}\n",
            "START { a cmd=y\n  b cmd=z\n}\n",
        ))
        .unwrap();
        let lines: Vec<usize> = conf.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![1, 4, 5, 8]);
        assert!(conf.services.is_empty());
        let names: Vec<&str> = conf.start.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["b"]);
    }

    #[test]
    fn crlf_files_parse() {
        let conf =
            parse("SERVICES {\r\n  imap cmd=\"imapd\" listen=imap prefork=1\r\n}\r\n").unwrap();
        assert_eq!(conf.services[0].prefork, 1);
        assert_eq!(
            conf.services[0].listen,
            Listen::Inet {
                host: None,
                port: Port::Name("imap".into())
            }
        );
    }

    #[test]
    fn values_that_cannot_be_written_are_refused() {
        assert!(ArgValue::new("a # b").is_err());
        assert!(ArgValue::new("a\"b c").is_err());
        assert!(ArgValue::new("\"ab").is_err());
        assert!(ArgValue::new("a\nb").is_err());
        assert!(ArgValue::new("a\"b").is_ok());
        assert!(Command::new("   ").is_err());
        assert!(EntryName::new("lmtp_unix").is_err());
        assert!(EntryName::new("").is_err());
        assert_eq!(
            KnownProgram::from_name("lmtpproxyd").map(KnownProgram::name),
            Some("lmtpproxyd")
        );
    }

    #[test]
    fn built_conf_encodes() {
        let mut conf = CyrusConf::default();
        conf.services.push(ServiceEntry::new(
            EntryName::new("mupdate").unwrap(),
            Command::new("/usr/cyrus/bin/mupdate -m").unwrap(),
            Listen::parse("3905").unwrap(),
        ));
        conf.services[0].prefork = 1;
        assert_eq!(
            conf.encode(),
            "SERVICES {\n  mupdate cmd=\"/usr/cyrus/bin/mupdate -m\" listen=\"3905\" prefork=\"1\"\n}\n"
        );
        assert_eq!(model(&parse(&conf.encode()).unwrap()), conf);
    }

    fn cmd_strategy() -> impl Strategy<Value = Command> {
        prop::collection::vec("[a-zA-Z0-9/._-]{1,10}", 1..4)
            .prop_map(|w| Command::new(&w.join(" ")).unwrap())
    }

    fn conf_strategy() -> impl Strategy<Value = CyrusConf> {
        let name = "[a-z][a-z0-9]{0,7}".prop_map(|n| EntryName::new(&n).unwrap());
        let listen = prop_oneof![
            "/[a-z/]{1,12}".prop_map(Listen::Unix),
            (
                prop::option::of("[a-z0-9.]{1,10}|[0-9a-f:]{2,10}"),
                any::<u16>()
            )
                .prop_map(|(h, p)| Listen::Inet {
                    host: h,
                    port: Port::Number(p)
                }),
            "[a-z]{1,8}".prop_map(|n| Listen::Inet {
                host: None,
                port: Port::Name(n)
            }),
        ];
        let extra = prop::collection::vec(
            ("x[a-z0-9]{0,5}", "[ -!$-~]{0,10}").prop_filter_map("encodable", |(k, v)| {
                ArgValue::new(&v)
                    .ok()
                    .map(|value| ExtraArg { key: k, value })
            }),
            0..3,
        );
        let service = (
            name.clone(),
            cmd_strategy(),
            listen,
            0usize..6,
            any::<i32>(),
            any::<i32>(),
            any::<bool>(),
            extra.clone(),
        )
            .prop_map(|(n, c, l, proto, prefork, maxchild, babysit, extra)| {
                let mut s = ServiceEntry::new(n, c, l);
                s.proto = Proto::TABLE[proto].1;
                s.prefork = prefork;
                s.maxchild = maxchild;
                s.babysit = babysit;
                s.extra = extra;
                s
            });
        let schedule = prop_oneof![
            (0i32..10_000).prop_map(Schedule::Period),
            (0u8..24, 0u8..60).prop_map(|(hour, minute)| Schedule::At { hour, minute }),
            Just(Schedule::Cron(ArgValue::new("0 4 * * 1").unwrap())),
        ];
        let start = (name.clone(), cmd_strategy(), extra.clone()).prop_map(|(name, cmd, extra)| {
            StartEntry {
                name,
                cmd,
                extra,
                line: 0,
            }
        });
        let event =
            (name.clone(), cmd_strategy(), schedule).prop_map(|(name, cmd, schedule)| EventEntry {
                name,
                cmd,
                schedule,
                extra: Vec::new(),
                line: 0,
            });
        let daemon =
            (name, cmd_strategy(), any::<bool>()).prop_map(|(name, cmd, wait)| DaemonEntry {
                name,
                cmd,
                wait,
                extra: Vec::new(),
                line: 0,
            });
        (
            prop::collection::vec(start, 0..3),
            prop::collection::vec(service, 0..4),
            prop::collection::vec(event, 0..3),
            prop::collection::vec(daemon, 0..3),
        )
            .prop_map(|(start, mut services, events, mut daemons)| {
                // Service and daemon names must be unique together.
                let mut seen = std::collections::BTreeSet::new();
                services.retain(|s| seen.insert(s.name.clone()));
                daemons.retain(|d| seen.insert(d.name.clone()));
                CyrusConf {
                    start,
                    services,
                    events,
                    daemons,
                    warnings: Vec::new(),
                }
            })
    }

    proptest! {
        #[test]
        fn encode_then_parse_gives_the_same_model(conf in conf_strategy()) {
            let text = conf.encode();
            let back = parse(&text).unwrap();
            prop_assert_eq!(model(&back), conf);
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn random_conf_like_text_never_panics(lines in prop::collection::vec("[ \\t{}#\"=a-zA-Z0-9:/\\[\\]\\r-]{0,30}", 0..15)) {
            let text = format!("SERVICES {{\n{}\n", lines.join("\n"));
            if let Ok(conf) = parse(&text) {
                let back = parse(&conf.encode()).unwrap();
                prop_assert_eq!(model(&back), model(&conf));
            }
        }
    }
}
