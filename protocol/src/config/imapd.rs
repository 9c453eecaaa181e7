//! `imapd.conf`: the option file every Cyrus daemon and tool reads (reference §7.1, §7.3, §0.2).
//!
//! [`ImapdConf::parse`] reads the text of one file. It does no I/O: `@include: <file>` is
//! resolved through a closure the caller supplies, which keeps this crate sans-I/O and lets
//! tests include from memory. The result keeps every `key: value` line (known options, the
//! "overflow" keys such as `partition-default`, `be1_password`, `sasl_*`, and keys nobody knows,
//! so a tool can warn about typos), with the file and line it came from.
//!
//! Lookups follow Cyrus: a conf made for a service (the entry name in `cyrus.conf`, such as
//! `imap` or `lmtp`) consults `<service>_<key>` before `<key>`, then the deprecated names of the
//! option, then the option's default from [`options`](super::options).
//!
//! ```
//! use protocol::config::imapd::{ImapdConf, MurderRole, ParseOptions};
//!
//! let text = "configdirectory: /var/lib/cyrus\n\
//!             servername: be1.example.org\n\
//!             admins: cyrus mailproxy\n\
//!             lmtp_admins: mailproxy\n\
//!             proxyservers: mailproxy\n\
//!             mupdate_server: mupdate.example.org:3905\n\
//!             partition-default: /var/spool/cyrus\n\
//!             be2_password: secret\n";
//! let opts = ParseOptions { service: Some("lmtp".into()), ..ParseOptions::default() };
//! let conf = ImapdConf::parse(text, "/etc/imapd.conf", &mut ImapdConf::no_includes, &opts)?;
//! assert_eq!(conf.role(), MurderRole::Backend);
//! assert_eq!(conf.admins(), vec!["mailproxy".to_string()]); // lmtp_admins wins for "lmtp"
//! assert_eq!(conf.mupdate_endpoint(), Some(("mupdate.example.org".to_string(), 3905)));
//! assert_eq!(conf.password_for_server("be2.example.org").as_deref(), Some("secret"));
//! assert_eq!(conf.partitions()["default"], "/var/spool/cyrus");
//! assert_eq!(conf.get_duration_secs("timeout"), Some(32 * 60)); // a default
//! # Ok::<(), protocol::config::imapd::ConfError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use thiserror::Error;

use super::cyrus::well_known_port;
use super::options::{self, is_c_space, OptionValue, ValueError};

/// Size limits for reading a configuration; exceeding one is an error, never a large
/// allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest file, in bytes (default 4 MiB).
    pub max_file_len: usize,
    /// Longest logical line (after `\` continuations are joined), in bytes (default 64 KiB).
    pub max_line_len: usize,
    /// Most `key: value` entries over all files (default 10 000).
    pub max_entries: usize,
    /// Deepest `@include` nesting (default 16).
    pub max_include_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_len: 4 * 1024 * 1024,
            max_line_len: 64 * 1024,
            max_entries: 10_000,
            max_include_depth: 16,
        }
    }
}

/// How to read a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// The service the conf is read for (the `cyrus.conf` entry name, such as `imap`), so that
    /// `<service>_<option>` overrides apply and are type-checked. `None` for tools.
    pub service: Option<String>,
    /// Size limits.
    pub limits: Limits,
    /// Fail when `configdirectory` is missing, as every Cyrus program does (default true).
    pub require_configdirectory: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            service: None,
            limits: Limits::default(),
            require_configdirectory: true,
        }
    }
}

/// An error in a configuration file: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    /// The file, as named by the caller or by `@include`.
    pub file: String,
    /// The line the offending entry starts on (1-based); 0 when the error is about the whole
    /// file.
    pub line: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.kind)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.kind)
        }
    }
}

impl std::error::Error for ConfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

/// What is wrong in an `imapd.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ErrorKind {
    /// A line that is neither a comment nor `key: value` with a key of `[A-Za-z0-9_-]`.
    #[error(
        "invalid option name (expected 'key: value' with a key of letters, digits, '-' and '_')"
    )]
    InvalidOptionName,
    /// `key:` with nothing after it.
    #[error("empty value for option '{0}'")]
    EmptyValue(String),
    /// A value that cannot be written back (it contains a line break).
    #[error("value for option '{0}' contains a line break")]
    ValueHasNewline(String),
    /// `@something` other than `@include`.
    #[error("invalid directive '{0}' (only @include exists)")]
    InvalidDirective(String),
    /// The same key twice.
    #[error("option '{key}' was specified twice (first at {first_file}:{first_line})")]
    Duplicate {
        /// The key.
        key: String,
        /// Where it was first set.
        first_file: String,
        /// The line it was first set on.
        first_line: usize,
    },
    /// A value that does not fit the option's type.
    #[error("bad value for option '{key}': {error}")]
    BadValue {
        /// The key as written.
        key: String,
        /// Why the value does not fit.
        error: ValueError,
    },
    /// A file included a second time (Cyrus treats this as fatal to stop include loops).
    #[error("configuration file '{0}' included twice")]
    IncludedTwice(String),
    /// The include closure failed.
    #[error("cannot include '{path}': {message}")]
    Include {
        /// The path as written after `@include:`.
        path: String,
        /// The I/O error kind.
        io_kind: std::io::ErrorKind,
        /// The I/O error text.
        message: String,
    },
    /// Includes nested deeper than [`Limits::max_include_depth`].
    #[error("includes nested deeper than {0}")]
    IncludeTooDeep(usize),
    /// A file longer than [`Limits::max_file_len`].
    #[error("file longer than {0} bytes")]
    FileTooLarge(usize),
    /// A logical line longer than [`Limits::max_line_len`].
    #[error("line longer than {0} bytes")]
    LineTooLong(usize),
    /// More entries than [`Limits::max_entries`].
    #[error("more than {0} options")]
    TooManyEntries(usize),
    /// `configdirectory` is not set.
    #[error("configdirectory option not specified")]
    MissingConfigDirectory,
    /// An option value breaks a rule Cyrus (or a sane murder) relies on.
    #[error("option '{key}': {problem}")]
    Invalid {
        /// The key as written.
        key: String,
        /// The rule that is broken.
        problem: String,
    },
}

/// One `key: value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, lower-cased.
    pub key: String,
    /// The value, with surrounding white space removed.
    pub value: String,
    /// The file it came from.
    pub file: String,
    /// The line it starts on (0 for entries set through [`ImapdConf::set`]).
    pub line: usize,
}

/// The murder role a host's `imapd.conf` gives it (§0.2, §2.12).
///
/// Whether a host runs the MUPDATE *master* is decided by `mupdate -m` in `cyrus.conf`, not by
/// `imapd.conf` (the master in the upstream example has no `mupdate_server` at all, so it is
/// [`Standalone`](MurderRole::Standalone) here); see [`ImapdConf::can_run_mupdate_master`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MurderRole {
    /// No `mupdate_server`: not part of a murder (or a MUPDATE master, which needs none).
    Standalone,
    /// `mupdate_server` set, standard topology, no `proxyservers`: every mailbox is remote.
    Frontend,
    /// `mupdate_server` and `proxyservers` set, standard topology: mailboxes are local and every
    /// change is pushed to the master.
    Backend,
    /// `mupdate_config: unified`: frontend and backend at once.
    Unified,
    /// `mupdate_config: replicated`: a backend sharing its spool with others.
    Replicated,
}

/// `mupdate_config` (§2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MupdateConfig {
    /// `standard` (default)
    Standard,
    /// `unified`
    Unified,
    /// `replicated`
    Replicated,
}

/// A server string as Cyrus's client connections read it (§1.1): `host[:port[/opt[/opt]]]`,
/// with `[v6addr]` brackets allowed, or a UNIX socket path starting with `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddress {
    /// Host name, address (without brackets) or socket path.
    pub host: String,
    /// The port text after `:` (a number or a service name), if any.
    pub port: Option<String>,
    /// Options after `/` (`tls`, `noauth`).
    pub options: Vec<String>,
}

impl ServerAddress {
    /// Reads a server string; `None` when it has no host.
    pub fn parse(text: &str) -> Option<ServerAddress> {
        let text = text.trim_matches(is_c_space);
        if text.starts_with('/') {
            return Some(ServerAddress {
                host: text.to_string(),
                port: None,
                options: Vec::new(),
            });
        }
        let mut parts = text.split('/');
        let hostport = parts.next().unwrap_or_default();
        let options: Vec<String> = parts.map(str::to_string).collect();
        let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?.to_string()),
            };
            (host.to_string(), port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p.to_string())),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() || port.as_deref() == Some("") || host.contains(is_c_space) {
            return None;
        }
        Some(ServerAddress {
            host,
            port,
            options,
        })
    }

    /// The port as a number: the number given, a well-known service name resolved, or
    /// `None`.
    pub fn port_number(&self) -> Option<u16> {
        let p = self.port.as_deref()?;
        p.parse().ok().or_else(|| well_known_port(p))
    }
}

/// A parsed `imapd.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapdConf {
    /// The service overrides are looked up for, lower-cased.
    service: Option<String>,
    /// Every entry, in file order (included files in place of their `@include`).
    entries: Vec<Entry>,
    /// key → index in `entries`.
    index: BTreeMap<String, usize>,
}

/// The file name given to entries set through [`ImapdConf::set`].
const SET_FILE: &str = "<set>";

impl ImapdConf {
    /// An empty conf (for building one to encode).
    pub fn new(service: Option<&str>) -> ImapdConf {
        ImapdConf {
            service: service.map(str::to_ascii_lowercase),
            entries: Vec::new(),
            index: BTreeMap::new(),
        }
    }

    /// An include resolver that refuses every `@include`, for files known to have none.
    pub fn no_includes(path: &str) -> Result<String, std::io::Error> {
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            format!("@include of '{path}' not allowed here"),
        ))
    }

    /// Reads `text`, the contents of `file` (used in error messages and as the include-once
    /// key). `include` is called with the path after `@include:` and returns that file's text.
    pub fn parse(
        text: &str,
        file: &str,
        include: &mut dyn FnMut(&str) -> Result<String, std::io::Error>,
        opts: &ParseOptions,
    ) -> Result<ImapdConf, ConfError> {
        let mut conf = ImapdConf::new(opts.service.as_deref());
        let mut reader = Reader {
            include,
            limits: opts.limits,
            seen_files: BTreeSet::new(),
            conf: &mut conf,
        };
        reader.seen_files.insert(file.to_string());
        reader.read(text, file, 0)?;
        conf.validate(file, opts.require_configdirectory)?;
        Ok(conf)
    }

    /// [`parse`](Self::parse) with default options and no includes.
    pub fn parse_str(text: &str, file: &str) -> Result<ImapdConf, ConfError> {
        Self::parse(text, file, &mut Self::no_includes, &ParseOptions::default())
    }

    /// The same entries viewed for another service (re-checking that service's overrides).
    pub fn for_service(&self, service: Option<&str>) -> Result<ImapdConf, ConfError> {
        let mut conf = self.clone();
        conf.service = service.map(str::to_ascii_lowercase);
        for e in &conf.entries {
            conf.check_value(e)?;
        }
        Ok(conf)
    }

    /// The service overrides are looked up for.
    pub fn service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// Every entry in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry for exactly `key` (no override, no default).
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.index
            .get(&key.to_ascii_lowercase())
            .and_then(|&i| self.entries.get(i))
    }

    /// Sets `key` (replacing an earlier value), checking the key, the value and its type.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfError> {
        let err = |kind| ConfError {
            file: SET_FILE.to_string(),
            line: 0,
            kind,
        };
        let key = key.to_ascii_lowercase();
        if !valid_key(&key) {
            return Err(err(ErrorKind::InvalidOptionName));
        }
        if value.contains(['\n', '\r']) {
            return Err(err(ErrorKind::ValueHasNewline(key)));
        }
        let value = value.trim_matches(is_c_space);
        if value.is_empty() {
            return Err(err(ErrorKind::EmptyValue(key)));
        }
        let entry = Entry {
            key: key.clone(),
            value: value.to_string(),
            file: SET_FILE.to_string(),
            line: 0,
        };
        self.check_value(&entry)?;
        match self.index.get(&key) {
            Some(&i) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    *slot = entry;
                }
            }
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push(entry);
            }
        }
        Ok(())
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let key = key.to_ascii_lowercase();
        let i = self.index.remove(&key)?;
        let removed = self.entries.remove(i);
        for v in self.index.values_mut() {
            if *v > i {
                *v -= 1;
            }
        }
        Some(removed.value)
    }

    /// Writes the conf back as `key: value` lines (included files flattened in place).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for e in &self.entries {
            out.push_str(&e.key);
            out.push_str(": ");
            out.push_str(&e.value);
            // A value ending in `\` would continue onto the next line; a CR before the LF stops
            // that (Cyrus only looks at the character just before the LF) and is then trimmed
            // as white space.
            if e.value.ends_with('\\') {
                out.push('\r');
            }
            out.push('\n');
        }
        out
    }

    // ----- lookups -------------------------------------------------------------------------

    /// The raw value for `key`: `<service>_<key>`, then `key`, then a deprecated name of it.
    /// No default.
    pub fn get_raw(&self, key: &str) -> Option<&str> {
        self.lookup_entry(key).map(|e| e.value.as_str())
    }

    fn lookup_entry(&self, key: &str) -> Option<&Entry> {
        let key = key.to_ascii_lowercase();
        if let Some(svc) = &self.service {
            if let Some(e) = self.entry(&format!("{svc}_{key}")) {
                return Some(e);
            }
        }
        if let Some(e) = self.entry(&key) {
            return Some(e);
        }
        let old = options::replaced_names(&key).find_map(|old| self.lookup_entry(old.name));
        old
    }

    /// True when `key` is set (directly, for the service, or through a deprecated name).
    pub fn is_set(&self, key: &str) -> bool {
        self.lookup_entry(key).is_some()
    }

    /// The typed value for `key`: as set, else the default. Keys not in the option table are
    /// returned as [`OptionValue::String`].
    pub fn get(&self, key: &str) -> Option<OptionValue> {
        let spec = options::lookup(&key.to_ascii_lowercase());
        match (self.get_raw(key), spec) {
            (Some(raw), Some(spec)) => spec.ty.parse(raw).ok().or_else(|| spec.default_value()),
            (Some(raw), None) => Some(OptionValue::String(raw.to_string())),
            (None, Some(spec)) => spec.default_value(),
            (None, None) => None,
        }
    }

    /// A string option, with a leading `{configdirectory}` replaced as Cyrus does.
    pub fn get_str(&self, key: &str) -> Option<String> {
        let value = match self.get(key)? {
            OptionValue::String(s) | OptionValue::Enum(s) | OptionValue::StringList(s) => s,
            OptionValue::BitField(words) => words.join(" "),
            _ => self.get_raw(key)?.to_string(),
        };
        const MACRO: &str = "{configdirectory}";
        if let (Some(head), Some(rest)) = (value.get(..MACRO.len()), value.get(MACRO.len()..)) {
            if head.eq_ignore_ascii_case(MACRO) && !key.eq_ignore_ascii_case("configdirectory") {
                if let Some(dir) = self.get_raw("configdirectory") {
                    return Some(format!("{dir}{rest}"));
                }
            }
        }
        Some(value)
    }

    /// A switch (false when unset without a default or unreadable).
    pub fn get_switch(&self, key: &str) -> bool {
        match self.get(key) {
            Some(OptionValue::Switch(b)) => b,
            Some(OptionValue::String(s)) => options::parse_switch(&s).unwrap_or(false),
            _ => false,
        }
    }

    /// An integer.
    pub fn get_int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            OptionValue::Int(i) => Some(i),
            OptionValue::String(s) => options::parse_int(&s),
            _ => None,
        }
    }

    /// A duration in seconds.
    pub fn get_duration_secs(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            OptionValue::Duration(s) => Some(s),
            OptionValue::String(s) => {
                options::parse_duration(&s, options::DurationUnit::Seconds).ok()
            }
            _ => None,
        }
    }

    /// A non-negative duration as a [`std::time::Duration`].
    pub fn get_duration(&self, key: &str) -> Option<std::time::Duration> {
        let secs = u64::try_from(self.get_duration_secs(key)?).ok()?;
        Some(std::time::Duration::from_secs(secs))
    }

    /// A byte size in bytes.
    pub fn get_bytesize(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            OptionValue::ByteSize(n) => Some(n),
            OptionValue::String(s) => options::parse_bytesize(&s, options::SizeUnit::Bytes).ok(),
            _ => None,
        }
    }

    /// An enum or string-list option's word.
    pub fn get_enum(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            OptionValue::Enum(s) | OptionValue::StringList(s) | OptionValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// A string option split on white space (`admins`, `proxyservers`, `serverlist`, ...).
    pub fn get_words(&self, key: &str) -> Vec<String> {
        self.get_str(key)
            .map(|s| {
                s.split(is_c_space)
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    // ----- typed accessors for what the murder daemons read --------------------------------

    /// `configdirectory`.
    pub fn configdirectory(&self) -> Option<String> {
        self.get_str("configdirectory")
    }

    /// `servername`; `None` means "use the host name" (the caller's job).
    pub fn servername(&self) -> Option<String> {
        self.get_str("servername")
    }

    /// `admins` (with the service override), split on white space.
    pub fn admins(&self) -> Vec<String> {
        self.get_words("admins")
    }

    /// `proxyservers`, split on white space.
    pub fn proxyservers(&self) -> Vec<String> {
        self.get_words("proxyservers")
    }

    /// `serverlist`, split on white space.
    pub fn serverlist(&self) -> Vec<String> {
        self.get_words("serverlist")
    }

    /// `defaultpartition`.
    pub fn defaultpartition(&self) -> Option<String> {
        self.get_str("defaultpartition")
    }

    /// Every `partition-<name>`: name → spool path.
    pub fn partitions(&self) -> BTreeMap<String, String> {
        self.prefixed("partition-")
    }

    /// Every `metapartition-<name>`: name → metadata path.
    pub fn metapartitions(&self) -> BTreeMap<String, String> {
        self.prefixed("metapartition-")
    }

    fn prefixed(&self, prefix: &str) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .filter_map(|e| {
                let name = e.key.strip_prefix(prefix)?;
                (!name.is_empty()).then(|| (name.to_string(), e.value.clone()))
            })
            .collect()
    }

    /// Every `sasl_*` key with its value (the service override applied), without the
    /// `sasl_` prefix, for handing to a SASL layer.
    pub fn sasl_options(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in &self.entries {
            if let Some(k) = e.key.strip_prefix("sasl_") {
                out.insert(k.to_string(), e.value.clone());
            }
        }
        if let Some(svc) = &self.service {
            let prefix = format!("{svc}_sasl_");
            for e in &self.entries {
                if let Some(k) = e.key.strip_prefix(&prefix) {
                    out.insert(k.to_string(), e.value.clone());
                }
            }
        }
        out
    }

    /// The password for connecting to `server` as `proxy_authname`: `<shorthost>_password`,
    /// where the short host is `server` up to its first `.`, else `proxy_password`.
    pub fn password_for_server(&self, server: &str) -> Option<String> {
        self.per_server(server, "password")
            .or_else(|| self.get_str("proxy_password"))
    }

    /// The SASL mechanisms for connecting to `server`: `<shorthost>_mechs`, else
    /// `force_sasl_client_mech`.
    pub fn mechs_for_server(&self, server: &str) -> Option<String> {
        self.per_server(server, "mechs")
            .or_else(|| self.get_str("force_sasl_client_mech"))
    }

    /// The TLS client certificate for `server`: `<shorthost>_client_cert`, else
    /// `tls_client_cert`.
    pub fn client_cert_for_server(&self, server: &str) -> Option<String> {
        self.per_server(server, "client_cert")
            .or_else(|| self.get_str("tls_client_cert"))
    }

    /// The TLS client key for `server`: `<shorthost>_client_key`, else `tls_client_key`.
    pub fn client_key_for_server(&self, server: &str) -> Option<String> {
        self.per_server(server, "client_key")
            .or_else(|| self.get_str("tls_client_key"))
    }

    fn per_server(&self, server: &str, what: &str) -> Option<String> {
        let short = server.split('.').next().unwrap_or(server);
        if short.is_empty() {
            return None;
        }
        self.get_raw(&format!("{short}_{what}")).map(str::to_string)
    }

    /// `mupdate_server` read as a server string; `None` when unset.
    pub fn mupdate_server(&self) -> Option<ServerAddress> {
        self.get_raw("mupdate_server")
            .and_then(ServerAddress::parse)
    }

    /// Where to connect for MUPDATE: the host of `mupdate_server` and its port, else
    /// `mupdate_port` (default 3905). Cyrus 3.x ignores `mupdate_port`; honouring it is a
    /// deliberate improvement (§10 item 10).
    pub fn mupdate_endpoint(&self) -> Option<(String, u16)> {
        let server = self.mupdate_server()?;
        let port = server.port_number().unwrap_or_else(|| {
            self.get_int("mupdate_port")
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(3905)
        });
        Some((server.host, port))
    }

    /// `mupdate_config`.
    pub fn mupdate_config(&self) -> MupdateConfig {
        match self.get_enum("mupdate_config").as_deref() {
            Some("unified") => MupdateConfig::Unified,
            Some("replicated") => MupdateConfig::Replicated,
            _ => MupdateConfig::Standard,
        }
    }

    /// The murder role (§0.2).
    pub fn role(&self) -> MurderRole {
        if !self.is_set("mupdate_server") {
            return MurderRole::Standalone;
        }
        match self.mupdate_config() {
            MupdateConfig::Unified => MurderRole::Unified,
            MupdateConfig::Replicated => MurderRole::Replicated,
            MupdateConfig::Standard if self.is_set("proxyservers") => MurderRole::Backend,
            MupdateConfig::Standard => MurderRole::Frontend,
        }
    }

    /// A dedicated frontend: `mupdate_server` set, standard topology, no `proxyservers`.
    pub fn is_frontend(&self) -> bool {
        self.role() == MurderRole::Frontend
    }

    /// A backend (standard topology with `proxyservers`).
    pub fn is_backend(&self) -> bool {
        self.role() == MurderRole::Backend
    }

    /// Part of a murder at all (`mupdate_server` set).
    pub fn is_murder(&self) -> bool {
        self.role() != MurderRole::Standalone
    }

    /// Whether `mupdate -m` may run with this conf: Cyrus refuses on a unified host.
    pub fn can_run_mupdate_master(&self) -> bool {
        !(self.is_set("mupdate_server") && self.mupdate_config() == MupdateConfig::Unified)
    }

    /// `allowplaintext`.
    pub fn allowplaintext(&self) -> bool {
        self.get_switch("allowplaintext")
    }

    /// `tls_required`.
    pub fn tls_required(&self) -> bool {
        self.get_switch("tls_required")
    }

    /// `virtdomains`: `off`, `userid` or `on`.
    pub fn virtdomains(&self) -> String {
        self.get_enum("virtdomains")
            .unwrap_or_else(|| "off".to_string())
    }

    /// `unixhierarchysep`.
    pub fn unixhierarchysep(&self) -> bool {
        self.get_switch("unixhierarchysep")
    }

    /// `altnamespace`.
    pub fn altnamespace(&self) -> bool {
        self.get_switch("altnamespace")
    }

    /// `mupdate_retry_delay` in seconds.
    pub fn mupdate_retry_delay(&self) -> i64 {
        self.get_int("mupdate_retry_delay").unwrap_or(20)
    }

    /// `client_timeout`.
    pub fn client_timeout(&self) -> std::time::Duration {
        self.get_duration("client_timeout")
            .unwrap_or(std::time::Duration::from_secs(10))
    }

    /// Entries that are neither known options, nor overflow keys Cyrus reads
    /// (`partition-*`, `<host>_password`, `sasl_*`, ...), nor `<service>_<option>`
    /// overrides: probably typos.
    pub fn unknown_keys(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| !is_known_key(&e.key))
            .collect()
    }

    // ----- checking ------------------------------------------------------------------------

    /// The option spec governing `key` for this conf's service, if any: the key itself, or
    /// `<service>_<option>`.
    fn spec_for(&self, key: &str) -> Option<&'static options::OptionSpec> {
        if let Some(svc) = &self.service {
            if let Some(rest) = key
                .strip_prefix(svc.as_str())
                .and_then(|r| r.strip_prefix('_'))
            {
                if let Some(spec) = options::lookup(rest) {
                    return Some(spec);
                }
            }
        }
        options::lookup(key)
    }

    fn check_value(&self, e: &Entry) -> Result<(), ConfError> {
        let err = |kind| ConfError {
            file: e.file.clone(),
            line: e.line,
            kind,
        };
        let Some(spec) = self.spec_for(&e.key) else {
            return Ok(());
        };
        let option = spec.name;
        spec.ty.parse(&e.value).map_err(|error| {
            err(ErrorKind::BadValue {
                key: e.key.clone(),
                error,
            })
        })?;
        let invalid = |problem: String| {
            err(ErrorKind::Invalid {
                key: e.key.clone(),
                problem,
            })
        };
        match option {
            // The slave's jitter is `rand() % (delay / 2)`: 0 or 1 divides by zero (§2.8).
            "mupdate_retry_delay" => {
                if options::parse_int(&e.value).is_some_and(|d| d < 2) {
                    return Err(invalid(format!(
                        "must be at least 2 seconds, not {}",
                        e.value
                    )));
                }
            }
            "defaultpartition" => {
                if !e.value.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        "partition names are letters and digits only".into(),
                    ));
                }
            }
            "configdirectory" => {
                if !e.value.starts_with('/') {
                    return Err(invalid("must be an absolute path".into()));
                }
                if e.value == "/" {
                    return Err(invalid("must not be '/'".into()));
                }
            }
            "mupdate_server" => {
                if ServerAddress::parse(&e.value).is_none() {
                    return Err(invalid(format!(
                        "'{}' is not host[:port[/opt]] or [v6addr]:port",
                        e.value
                    )));
                }
            }
            "mupdate_port" => {
                if !options::parse_int(&e.value).is_some_and(|p| (1..=65535).contains(&p)) {
                    return Err(invalid(format!("'{}' is not a TCP port", e.value)));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn validate(&self, file: &str, require_configdirectory: bool) -> Result<(), ConfError> {
        if require_configdirectory && !self.is_set("configdirectory") {
            return Err(ConfError {
                file: file.to_string(),
                line: 0,
                kind: ErrorKind::MissingConfigDirectory,
            });
        }
        Ok(())
    }

    /// The start-up checks `mupdate` makes on its worker pool (§7.3): `max ≥ minspare`,
    /// `start ≥ minspare`, `maxspare ≥ start`, `max ≥ start`.
    pub fn check_mupdate_workers(&self) -> Result<(), ConfError> {
        let n = |k: &str| self.get_int(k).unwrap_or(0);
        let start = n("mupdate_workers_start");
        let minspare = n("mupdate_workers_minspare");
        let maxspare = n("mupdate_workers_maxspare");
        let max = n("mupdate_workers_max");
        let problem = if max < minspare {
            Some((
                "mupdate_workers_max",
                "must be at least mupdate_workers_minspare",
            ))
        } else if start < minspare {
            Some((
                "mupdate_workers_start",
                "must be at least mupdate_workers_minspare",
            ))
        } else if maxspare < start {
            Some((
                "mupdate_workers_maxspare",
                "must be at least mupdate_workers_start",
            ))
        } else if max < start {
            Some((
                "mupdate_workers_max",
                "must be at least mupdate_workers_start",
            ))
        } else {
            None
        };
        match problem {
            None => Ok(()),
            Some((key, problem)) => {
                let (file, line) = self
                    .lookup_entry(key)
                    .map(|e| (e.file.clone(), e.line))
                    .unwrap_or_else(|| (SET_FILE.to_string(), 0));
                Err(ConfError {
                    file,
                    line,
                    kind: ErrorKind::Invalid {
                        key: key.to_string(),
                        problem: problem.to_string(),
                    },
                })
            }
        }
    }
}

/// `[A-Za-z0-9_-]+`, lower case (keys are folded before this check).
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Overflow keys Cyrus reads by pattern.
fn is_known_key(key: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "partition-",
        "metapartition-",
        "archivepartition-",
        "searchpartition-",
        "backuppartition-",
        "xlist-",
        "sasl_",
    ];
    const SUFFIXES: [&str; 4] = ["_password", "_mechs", "_client_cert", "_client_key"];
    if options::lookup(key).is_some() || PREFIXES.iter().any(|p| key.starts_with(p)) {
        return true;
    }
    if SUFFIXES
        .iter()
        .any(|s| key.strip_suffix(s).is_some_and(|h| !h.is_empty()))
    {
        return true;
    }
    // `<service>_<option>`: service names are alphanumeric (cyrus.conf entry names).
    key.split_once('_').is_some_and(|(svc, rest)| {
        !svc.is_empty()
            && svc.bytes().all(|b| b.is_ascii_alphanumeric())
            && (options::lookup(rest).is_some() || rest.starts_with("sasl_"))
    })
}

/// The recursive reader behind [`ImapdConf::parse`].
struct Reader<'a, 'b> {
    include: &'a mut dyn FnMut(&str) -> Result<String, std::io::Error>,
    limits: Limits,
    seen_files: BTreeSet<String>,
    conf: &'b mut ImapdConf,
}

impl Reader<'_, '_> {
    fn read(&mut self, text: &str, file: &str, depth: usize) -> Result<(), ConfError> {
        let err = |line, kind| ConfError {
            file: file.to_string(),
            line,
            kind,
        };
        if text.len() > self.limits.max_file_len {
            return Err(err(0, ErrorKind::FileTooLarge(self.limits.max_file_len)));
        }
        let mut logical = String::new();
        let mut start_line = 0;
        let mut physical = text.split_inclusive('\n').enumerate().peekable();
        while let Some((i, raw)) = physical.next() {
            let lineno = i.saturating_add(1);
            if logical.is_empty() {
                start_line = lineno;
            }
            let (content, had_newline) = match raw.strip_suffix('\n') {
                Some(c) => (c, true),
                None => (raw, false),
            };
            if logical.len().saturating_add(content.len()) > self.limits.max_line_len {
                return Err(err(
                    start_line,
                    ErrorKind::LineTooLong(self.limits.max_line_len),
                ));
            }
            // Cyrus joins a line ending in `\` (just before the LF) with the next one, with no
            // white space added; the file's last line has no LF and never continues.
            if had_newline {
                if let Some(c) = content.strip_suffix('\\') {
                    logical.push_str(c);
                    if physical.peek().is_some() {
                        continue;
                    }
                    let line = std::mem::take(&mut logical);
                    self.line(&line, file, start_line, depth)?;
                    continue;
                }
            }
            logical.push_str(content);
            let line = std::mem::take(&mut logical);
            self.line(&line, file, start_line, depth)?;
        }
        Ok(())
    }

    fn line(
        &mut self,
        line: &str,
        file: &str,
        lineno: usize,
        depth: usize,
    ) -> Result<(), ConfError> {
        let err = |kind| ConfError {
            file: file.to_string(),
            line: lineno,
            kind,
        };
        let p = line.trim_start_matches(is_c_space);
        if p.is_empty() || p.starts_with('#') {
            return Ok(());
        }
        let (directive, rest) = match p.strip_prefix('@') {
            Some(r) => (true, r),
            None => (false, p),
        };
        let key_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            .count();
        let (key, after) = rest.split_at_checked(key_len).unwrap_or((rest, ""));
        let Some(value) = after.strip_prefix(':') else {
            return Err(err(ErrorKind::InvalidOptionName));
        };
        if key.is_empty() {
            return Err(err(ErrorKind::InvalidOptionName));
        }
        let key = key.to_ascii_lowercase();
        let value = value.trim_matches(is_c_space);
        if value.is_empty() {
            let shown = if directive { format!("@{key}") } else { key };
            return Err(err(ErrorKind::EmptyValue(shown)));
        }
        if directive {
            if key != "include" {
                return Err(err(ErrorKind::InvalidDirective(format!("@{key}"))));
            }
            return self.include(value, file, lineno, depth);
        }
        if let Some(&i) = self.conf.index.get(&key) {
            let first = self.conf.entries.get(i);
            return Err(err(ErrorKind::Duplicate {
                key,
                first_file: first.map(|e| e.file.clone()).unwrap_or_default(),
                first_line: first.map(|e| e.line).unwrap_or_default(),
            }));
        }
        if self.conf.entries.len() >= self.limits.max_entries {
            return Err(err(ErrorKind::TooManyEntries(self.limits.max_entries)));
        }
        let entry = Entry {
            key: key.clone(),
            value: value.to_string(),
            file: file.to_string(),
            line: lineno,
        };
        self.conf.check_value(&entry)?;
        self.conf.index.insert(key, self.conf.entries.len());
        self.conf.entries.push(entry);
        Ok(())
    }

    fn include(
        &mut self,
        path: &str,
        file: &str,
        lineno: usize,
        depth: usize,
    ) -> Result<(), ConfError> {
        let err = |kind| ConfError {
            file: file.to_string(),
            line: lineno,
            kind,
        };
        if depth >= self.limits.max_include_depth {
            return Err(err(ErrorKind::IncludeTooDeep(
                self.limits.max_include_depth,
            )));
        }
        if !self.seen_files.insert(path.to_string()) {
            return Err(err(ErrorKind::IncludedTwice(path.to_string())));
        }
        let text = (self.include)(path).map_err(|e| {
            err(ErrorKind::Include {
                path: path.to_string(),
                io_kind: e.kind(),
                message: e.to_string(),
            })
        })?;
        self.read(&text, path, depth.saturating_add(1))
    }
}
