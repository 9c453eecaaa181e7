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

/// `key` lower-cased, without a copy when it already is (daemons look options up by their
/// lower-case names on every connection).
fn lower(key: &str) -> std::borrow::Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(key.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(key)
    }
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
            .get(lower(key).as_ref())
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
        let key = lower(key);
        let key = key.as_ref();
        if let Some(svc) = &self.service {
            if let Some(e) = self.entry(&format!("{svc}_{key}")) {
                return Some(e);
            }
        }
        if let Some(e) = self.entry(key) {
            return Some(e);
        }
        let old = options::replaced_names(key).find_map(|old| self.lookup_entry(old.name));
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
        match constraint_problem(option, &e.value) {
            None => Ok(()),
            Some(problem) => Err(err(ErrorKind::Invalid {
                key: e.key.clone(),
                problem,
            })),
        }
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

/// The rule `value` breaks for `option`, for the options whose values have rules beyond
/// their type.
fn constraint_problem(option: &str, value: &str) -> Option<String> {
    let int = options::parse_int(value);
    match option {
        // The slave's jitter is `rand() % (delay / 2)`: 0 or 1 divides by zero (§2.8).
        "mupdate_retry_delay" if int.is_some_and(|d| d < 2) => {
            Some(format!("must be at least 2 seconds, not {value}"))
        }
        "defaultpartition" if !value.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Some("partition names are letters and digits only".into())
        }
        "configdirectory" if !value.starts_with('/') => Some("must be an absolute path".into()),
        "configdirectory" if value == "/" => Some("must not be '/'".into()),
        "mupdate_server" if ServerAddress::parse(value).is_none() => Some(format!(
            "'{value}' is not host[:port[/opt]] or [v6addr]:port"
        )),
        "mupdate_port" if !int.is_some_and(|p| (1..=65535).contains(&p)) => {
            Some(format!("'{value}' is not a TCP port"))
        }
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// `configs-example/backend1/imapd.conf`
    const BACKEND1: &str = r#"# ---- generated by up.sh for instance 'backend1' ----
configdirectory: /var/tmp/cyrus-murder/backend1/conf
defaultpartition: default
partition-default: /var/tmp/cyrus-murder/backend1/spool
sievedir: /var/tmp/cyrus-murder/backend1/conf/sieve
lmtpsocket: /var/tmp/cyrus-murder/backend1/conf/socket/lmtp
idlesocket: /var/tmp/cyrus-murder/backend1/conf/socket/idle
notifysocket: /var/tmp/cyrus-murder/backend1/conf/socket/notify
syslog_prefix: cyrus-backend1
servername: backend1
# classic netnews namespace, so mailboxes are user.alice, user.alice.foo
altnamespace: no
unixhierarchysep: no
virtdomains: off
umask: 077
lmtp_downcase_rcpt: yes
# SASL: sasldb only, plaintext allowed (there is no TLS anywhere here)
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: /var/tmp/cyrus-murder/backend1/etc/sasldb2
sasl_mech_list: PLAIN LOGIN
force_sasl_client_mech: PLAIN
# backend: mupdate_server + proxyservers set => "backend" role
admins: cyrus backend1 backend2
proxyservers: murder
# "<service>_admins" is a per-service override keyed by the cyrus.conf
# SERVICE NAME (config_ident), so every lmtp service name needs its own line;
# the frontend's lmtpproxyd authenticates as 'murder' to "lmtpmurder".
lmtp_admins: cyrus murder
lmtpmurder_admins: cyrus murder
mupdate_server: 127.0.0.1:13905
mupdate_username: backend1
mupdate_authname: backend1
mupdate_password: secret
# XFER of a whole user (RENAME user.x user.x otherbackend!part via the
# frontend) fails with "Operation is not supported on mailbox" without this
allowusermoves: yes
# used when this backend XFERs a mailbox to the other backend
proxy_authname: backend1
proxy_password: secret
"#;

    /// `configs-example/backend2/imapd.conf`
    const BACKEND2: &str = r#"# ---- generated by up.sh for instance 'backend2' ----
configdirectory: /var/tmp/cyrus-murder/backend2/conf
defaultpartition: default
partition-default: /var/tmp/cyrus-murder/backend2/spool
sievedir: /var/tmp/cyrus-murder/backend2/conf/sieve
lmtpsocket: /var/tmp/cyrus-murder/backend2/conf/socket/lmtp
idlesocket: /var/tmp/cyrus-murder/backend2/conf/socket/idle
notifysocket: /var/tmp/cyrus-murder/backend2/conf/socket/notify
syslog_prefix: cyrus-backend2
servername: backend2
# classic netnews namespace, so mailboxes are user.alice, user.alice.foo
altnamespace: no
unixhierarchysep: no
virtdomains: off
umask: 077
lmtp_downcase_rcpt: yes
# SASL: sasldb only, plaintext allowed (there is no TLS anywhere here)
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: /var/tmp/cyrus-murder/backend2/etc/sasldb2
sasl_mech_list: PLAIN LOGIN
force_sasl_client_mech: PLAIN
# backend: mupdate_server + proxyservers set => "backend" role
admins: cyrus backend1 backend2
proxyservers: murder
# "<service>_admins" is a per-service override keyed by the cyrus.conf
# SERVICE NAME (config_ident), so every lmtp service name needs its own line;
# the frontend's lmtpproxyd authenticates as 'murder' to "lmtpmurder".
lmtp_admins: cyrus murder
lmtpmurder_admins: cyrus murder
mupdate_server: 127.0.0.1:13905
mupdate_username: backend2
mupdate_authname: backend2
mupdate_password: secret
# XFER of a whole user (RENAME user.x user.x otherbackend!part via the
# frontend) fails with "Operation is not supported on mailbox" without this
allowusermoves: yes
# used when this backend XFERs a mailbox to the other backend
proxy_authname: backend2
proxy_password: secret
"#;

    /// `configs-example/frontend/imapd.conf`
    const FRONTEND: &str = r#"# ---- generated by up.sh for instance 'frontend' ----
configdirectory: /var/tmp/cyrus-murder/frontend/conf
defaultpartition: default
partition-default: /var/tmp/cyrus-murder/frontend/spool
sievedir: /var/tmp/cyrus-murder/frontend/conf/sieve
lmtpsocket: /var/tmp/cyrus-murder/frontend/conf/socket/lmtp
idlesocket: /var/tmp/cyrus-murder/frontend/conf/socket/idle
notifysocket: /var/tmp/cyrus-murder/frontend/conf/socket/notify
syslog_prefix: cyrus-frontend
servername: frontend
# classic netnews namespace, so mailboxes are user.alice, user.alice.foo
altnamespace: no
unixhierarchysep: no
virtdomains: off
umask: 077
lmtp_downcase_rcpt: yes
# SASL: sasldb only, plaintext allowed (there is no TLS anywhere here)
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: /var/tmp/cyrus-murder/frontend/etc/sasldb2
sasl_mech_list: PLAIN LOGIN
force_sasl_client_mech: PLAIN
# frontend: mupdate_server set and NO proxyservers => "frontend" role
# (imapd/pop3d/lmtpd act as proxyd/pop3proxyd/lmtpproxyd)
admins: cyrus
lmtp_admins: cyrus
mupdate_server: 127.0.0.1:13905
mupdate_username: mupdateslave
mupdate_authname: mupdateslave
mupdate_password: secret
proxy_authname: murder
proxy_password: secret
backend1_password: secret
backend2_password: secret
serverlist: backend1 backend2
"#;

    /// `configs-example/mupdate/imapd.conf`
    const MUPDATE: &str = r#"# ---- generated by up.sh for instance 'mupdate' ----
configdirectory: /var/tmp/cyrus-murder/mupdate/conf
defaultpartition: default
partition-default: /var/tmp/cyrus-murder/mupdate/spool
sievedir: /var/tmp/cyrus-murder/mupdate/conf/sieve
lmtpsocket: /var/tmp/cyrus-murder/mupdate/conf/socket/lmtp
idlesocket: /var/tmp/cyrus-murder/mupdate/conf/socket/idle
notifysocket: /var/tmp/cyrus-murder/mupdate/conf/socket/notify
syslog_prefix: cyrus-mupdate
servername: mupdate
# classic netnews namespace, so mailboxes are user.alice, user.alice.foo
altnamespace: no
unixhierarchysep: no
virtdomains: off
umask: 077
lmtp_downcase_rcpt: yes
# SASL: sasldb only, plaintext allowed (there is no TLS anywhere here)
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: /var/tmp/cyrus-murder/mupdate/etc/sasldb2
sasl_mech_list: PLAIN LOGIN
force_sasl_client_mech: PLAIN
# MUPDATE master: only needs a skeleton.  Backends (backend1/backend2)
# and the frontend's slave (mupdateslave) authenticate here as admins.
admins: cyrus mupdateslave backend1 backend2
"#;

    fn parse(text: &str) -> Result<ImapdConf, ConfError> {
        ImapdConf::parse_str(text, "imapd.conf")
    }

    fn parse_for(text: &str, service: &str) -> Result<ImapdConf, ConfError> {
        let opts = ParseOptions {
            service: Some(service.to_string()),
            ..ParseOptions::default()
        };
        ImapdConf::parse(text, "imapd.conf", &mut ImapdConf::no_includes, &opts)
    }

    fn loose(text: &str) -> Result<ImapdConf, ConfError> {
        let opts = ParseOptions {
            require_configdirectory: false,
            ..ParseOptions::default()
        };
        ImapdConf::parse(text, "imapd.conf", &mut ImapdConf::no_includes, &opts)
    }

    fn err(text: &str) -> ConfError {
        loose(text).unwrap_err()
    }

    const CD: &str = "configdirectory: /var/lib/cyrus\n";

    #[test]
    fn example_backends_are_backends() {
        for (text, me, other) in [
            (BACKEND1, "backend1", "backend2"),
            (BACKEND2, "backend2", "backend1"),
        ] {
            let conf = parse(text).unwrap();
            assert_eq!(conf.role(), MurderRole::Backend);
            assert!(conf.is_backend() && conf.is_murder() && !conf.is_frontend());
            assert_eq!(conf.servername().as_deref(), Some(me));
            assert_eq!(conf.admins(), vec!["cyrus", "backend1", "backend2"]);
            assert_eq!(conf.proxyservers(), vec!["murder"]);
            assert_eq!(
                conf.mupdate_endpoint(),
                Some(("127.0.0.1".to_string(), 13905))
            );
            assert_eq!(conf.get_raw("mupdate_username"), Some(me));
            assert_eq!(conf.password_for_server(other).as_deref(), Some("secret"));
            assert_eq!(conf.mechs_for_server(other).as_deref(), Some("PLAIN"));
            assert_eq!(conf.defaultpartition().as_deref(), Some("default"));
            let parts = conf.partitions();
            assert_eq!(parts.len(), 1);
            assert_eq!(
                parts["default"],
                format!("/var/tmp/cyrus-murder/{me}/spool")
            );
            assert!(!conf.altnamespace());
            assert!(!conf.unixhierarchysep());
            assert_eq!(conf.virtdomains(), "off");
            assert!(conf.allowplaintext());
            assert!(conf.get_switch("allowusermoves"));
            assert!(conf.get_switch("lmtp_downcase_rcpt"));
            assert_eq!(conf.get_int("umask"), Some(0o77)); // a string option, read as strtol would
            assert_eq!(conf.get_str("umask").as_deref(), Some("077"));
            assert_eq!(conf.sasl_options()["pwcheck_method"], "auxprop");
            assert_eq!(conf.sasl_options()["mech_list"], "PLAIN LOGIN");
            assert!(conf.unknown_keys().is_empty(), "{:?}", conf.unknown_keys());
            // Per-service admins: the lmtp services see "cyrus murder".
            for svc in ["lmtp", "lmtpmurder"] {
                let c = conf.for_service(Some(svc)).unwrap();
                assert_eq!(c.admins(), vec!["cyrus", "murder"], "{svc}");
            }
            let imap = conf.for_service(Some("imap")).unwrap();
            assert_eq!(imap.admins(), vec!["cyrus", "backend1", "backend2"]);
        }
    }

    #[test]
    fn example_frontend_is_a_frontend() {
        let conf = parse(FRONTEND).unwrap();
        assert_eq!(conf.role(), MurderRole::Frontend);
        assert!(conf.is_frontend());
        assert_eq!(conf.proxyservers(), Vec::<String>::new());
        assert_eq!(conf.serverlist(), vec!["backend1", "backend2"]);
        assert_eq!(conf.get_raw("proxy_authname"), Some("murder"));
        assert_eq!(
            conf.password_for_server("backend1.example.org").as_deref(),
            Some("secret")
        );
        assert_eq!(conf.get_raw("mupdate_authname"), Some("mupdateslave"));
        assert!(conf.unknown_keys().is_empty());
        assert!(conf.can_run_mupdate_master());
    }

    #[test]
    fn example_mupdate_master_has_no_mupdate_server() {
        let conf = parse(MUPDATE).unwrap();
        assert_eq!(conf.role(), MurderRole::Standalone);
        assert!(conf.can_run_mupdate_master());
        assert_eq!(conf.mupdate_server(), None);
        assert_eq!(
            conf.admins(),
            vec!["cyrus", "mupdateslave", "backend1", "backend2"]
        );
        assert!(conf.check_mupdate_workers().is_ok());
        assert_eq!(conf.get_int("mupdate_connections_max"), Some(128));
        assert_eq!(conf.mupdate_retry_delay(), 20);
    }

    #[test]
    fn seed_snippets_parse() {
        // The master skeleton from "Installing the Cyrus Murder".
        let master =
            parse("configdirectory: /imap/conf\npartition-default: /tmp\n\nadmins: mupdateslave1 backend1\n")
                .unwrap();
        assert_eq!(master.admins(), vec!["mupdateslave1", "backend1"]);
        assert_eq!(master.partitions()["default"], "/tmp");
        assert_eq!(master.role(), MurderRole::Standalone);
        // Backend: admins + proxyservers + mupdate_server.
        let be = parse(&format!(
            "{CD}admins: cyrus\nproxyservers: murder\nmupdate_server: mupdate.example.org\n"
        ))
        .unwrap();
        assert_eq!(be.role(), MurderRole::Backend);
        assert_eq!(
            be.mupdate_endpoint(),
            Some(("mupdate.example.org".to_string(), 3905))
        );
        // Frontend: per-backend passwords.
        let fe = parse(&format!(
            "{CD}mupdate_server: mupdate.example.org\nmail1_password: foo\nmail2_password: bar\nproxy_authname: murder\n"
        ))
        .unwrap();
        assert_eq!(fe.role(), MurderRole::Frontend);
        assert_eq!(
            fe.password_for_server("mail1.example.org").as_deref(),
            Some("foo")
        );
        assert_eq!(fe.password_for_server("mail2").as_deref(), Some("bar"));
        assert_eq!(fe.password_for_server("mail3"), None);
    }

    #[test]
    fn reference_7_4_trailing_hash_is_part_of_the_value() {
        // §7.1: there are no trailing comments, so the §7.4 annotations become part of the
        // value: admins then lists the comment words too...
        let conf =
            parse("configdirectory: /var/lib/cyrus\nadmins: mupduser            # every backend\n")
                .unwrap();
        assert_eq!(conf.admins(), vec!["mupduser", "#", "every", "backend"]);
        // ...and a mupdate_server with a comment is no server string. Cyrus would only fail
        // when connecting; we say so at once.
        let e = parse(
            "configdirectory: /var/lib/cyrus\n\nmupdate_server: mupdate.example.org       # or mupdate.example.org:3905\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().contains("is not host[:port[/opt]]"), "{e}");
        assert_eq!(ServerAddress::parse("a b"), None);
    }

    #[test]
    fn syntax_comments_continuations_and_case() {
        let conf = loose(concat!(
            "# a comment\n",
            "   \n",
            "  ServerName:   Host.Example  \n",
            "admins: a \\\n",
            "b \\\n",
            "  c\n",
            "partition-Default: /p # not a comment\n",
            "\tsasl_mech_list:PLAIN\n",
            "#admins: ignored\n",
            "last: value\\",
        ))
        .unwrap();
        assert_eq!(conf.get_raw("servername"), Some("Host.Example"));
        assert_eq!(conf.entry("servername").map(|e| e.line), Some(3));
        assert_eq!(conf.get_raw("admins"), Some("a b   c"));
        assert_eq!(conf.entry("admins").map(|e| e.line), Some(4));
        assert_eq!(conf.partitions()["default"], "/p # not a comment");
        assert_eq!(conf.entry("partition-default").map(|e| e.line), Some(7));
        assert_eq!(conf.get_raw("sasl_mech_list"), Some("PLAIN"));
        assert_eq!(conf.get_raw("last"), Some("value\\"));
        assert_eq!(conf.entries().len(), 5);
    }

    #[test]
    fn crlf_lines_are_trimmed() {
        let conf = loose("servername: a\r\nadmins: x y\r\n").unwrap();
        assert_eq!(conf.servername().as_deref(), Some("a"));
        assert_eq!(conf.admins(), vec!["x", "y"]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("servername: a\nno colon here\n", 2, "invalid option name"),
            (
                "servername: a\n\nadmins:   \n",
                3,
                "empty value for option 'admins'",
            ),
            ("a.b: c\n", 1, "invalid option name"),
            (": c\n", 1, "invalid option name"),
            (
                "servername: a\n# x\nServerName: b\n",
                3,
                "specified twice (first at imapd.conf:1)",
            ),
            ("x\\\ny\\\nz: \n", 1, "empty value"),
            ("@define: x\n", 1, "invalid directive '@define'"),
            (
                "allowplaintext: maybe\n",
                1,
                "bad value for option 'allowplaintext': 'maybe' is not a switch",
            ),
            (
                "\n\nmupdate_retry_delay: 1\n",
                3,
                "must be at least 2 seconds",
            ),
            ("mupdate_retry_delay: 0x1\n", 1, "must be at least 2"),
            ("mupdate_retry_delay: soon\n", 1, "'soon' is not an integer"),
            ("timeout: 5x\n", 1, "bad unit 'x'"),
            ("maxliteral: lots\n", 1, "not a byte size"),
            ("virtdomains: maybe\n", 1, "not one of: off userid on"),
            ("defaultpartition: my-part\n", 1, "letters and digits only"),
            ("configdirectory: var/lib\n", 1, "absolute path"),
            ("configdirectory: /\n", 1, "must not be '/'"),
            ("mupdate_server: [::1\n", 1, "mupdate_server"),
            ("mupdate_port: 70000\n", 1, "not a TCP port"),
        ];
        for (text, line, msg) in cases {
            let e = err(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert_eq!(e.file, "imapd.conf");
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("imapd.conf:{line}: ")),
                "{shown}"
            );
            assert!(shown.contains(msg), "{text:?}: {shown}");
        }
    }

    #[test]
    fn missing_configdirectory_is_an_error_by_default() {
        let e = parse("servername: a\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::MissingConfigDirectory);
        assert_eq!(
            e.to_string(),
            "imapd.conf: configdirectory option not specified"
        );
    }

    #[test]
    fn includes_go_through_the_closure_once_each() {
        let files: HashMap<&str, &str> = [
            ("/etc/a.conf", "servername: a\n@include: /etc/b.conf\n"),
            ("/etc/b.conf", "admins: x\n"),
            ("/etc/loop.conf", "@include: /etc/imapd.conf\n"),
            ("/etc/dup.conf", "admins: y\n"),
        ]
        .into_iter()
        .collect();
        let calls = std::cell::RefCell::new(Vec::new());
        let mut include = |p: &str| -> Result<String, std::io::Error> {
            calls.borrow_mut().push(p.to_string());
            files
                .get(p)
                .map(|s| s.to_string())
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        };
        let text = format!("{CD}@include: /etc/a.conf\nallowplaintext: 1\n");
        let conf = ImapdConf::parse(
            &text,
            "/etc/imapd.conf",
            &mut include,
            &ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(*calls.borrow(), vec!["/etc/a.conf", "/etc/b.conf"]);
        assert_eq!(conf.admins(), vec!["x"]);
        let admins = conf.entry("admins").unwrap();
        assert_eq!((admins.file.as_str(), admins.line), ("/etc/b.conf", 1));
        assert!(conf.allowplaintext());
        // A duplicate across files names both places.
        let text = format!("{CD}admins: z\n@include: /etc/dup.conf\n");
        let e = ImapdConf::parse(
            &text,
            "/etc/imapd.conf",
            &mut include,
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/dup.conf:1: option 'admins' was specified twice (first at /etc/imapd.conf:2)"
        );
        // Twice, and including the top file again, are errors.
        let text = format!("{CD}@include: /etc/b.conf\n@include: /etc/b.conf\n");
        let e = ImapdConf::parse(
            &text,
            "/etc/imapd.conf",
            &mut include,
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.kind.clone()),
            (3, ErrorKind::IncludedTwice("/etc/b.conf".into()))
        );
        let text = format!("{CD}@include: /etc/loop.conf\n");
        let e = ImapdConf::parse(
            &text,
            "/etc/imapd.conf",
            &mut include,
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.file, "/etc/loop.conf");
        assert_eq!(e.kind, ErrorKind::IncludedTwice("/etc/imapd.conf".into()));
        // A failing include names the path and the I/O error.
        let e = ImapdConf::parse(
            "@INCLUDE: /nope\n",
            "/etc/imapd.conf",
            &mut include,
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&e.kind, ErrorKind::Include { path, io_kind: std::io::ErrorKind::NotFound, .. } if path == "/nope")
        );
        assert_eq!(
            e.to_string(),
            "/etc/imapd.conf:1: cannot include '/nope': no such file"
        );
        // The default resolver refuses.
        let e = parse("@include: /x\n").unwrap_err();
        assert!(matches!(
            e.kind,
            ErrorKind::Include {
                io_kind: std::io::ErrorKind::Unsupported,
                ..
            }
        ));
    }

    #[test]
    fn include_depth_is_limited() {
        let mut n = 0;
        let mut include = |_: &str| -> Result<String, std::io::Error> {
            n += 1;
            Ok(format!("@include: /f{n}\n"))
        };
        let e = ImapdConf::parse(
            "@include: /f0\n",
            "top",
            &mut include,
            &ParseOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::IncludeTooDeep(16));
    }

    #[test]
    fn size_limits_are_errors() {
        let limits = Limits {
            max_file_len: 100,
            max_line_len: 20,
            max_entries: 2,
            max_include_depth: 1,
        };
        let opts = ParseOptions {
            limits,
            require_configdirectory: false,
            ..ParseOptions::default()
        };
        let p = |t: &str| ImapdConf::parse(t, "f", &mut ImapdConf::no_includes, &opts);
        assert_eq!(
            p(&"#".repeat(101)).unwrap_err().kind,
            ErrorKind::FileTooLarge(100)
        );
        let e = p("a: b\nlong: 0123456789012345\n").unwrap_err();
        assert_eq!((e.line, e.kind), (2, ErrorKind::LineTooLong(20)));
        let e = p("a: 0123456789\\\n0123456789\n").unwrap_err();
        assert_eq!((e.line, e.kind), (1, ErrorKind::LineTooLong(20)));
        let e = p("a: 1\nb: 2\nc: 3\n").unwrap_err();
        assert_eq!((e.line, e.kind), (3, ErrorKind::TooManyEntries(2)));
    }

    #[test]
    fn service_overrides_win_and_are_checked_for_that_service_only() {
        let text =
            format!("{CD}admins: cyrus\nlmtp_admins: mailproxy\nimap_allowplaintext: maybe\n");
        // For tools (no service) and for lmtp, imap_allowplaintext is just an overflow key.
        let conf = loose(&text).unwrap();
        assert_eq!(conf.admins(), vec!["cyrus"]);
        let lmtp = parse_for(&text, "lmtp").unwrap();
        assert_eq!(lmtp.admins(), vec!["mailproxy"]);
        assert_eq!(lmtp.service(), Some("lmtp"));
        // For imap it is an override and must be a switch.
        let e = parse_for(&text, "IMAP").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.to_string().contains("imap_allowplaintext"), "{e}");
        assert!(conf.for_service(Some("imap")).is_err());
        let text = format!("{CD}allowplaintext: no\nimap_allowplaintext: yes\n");
        assert!(parse_for(&text, "imap").unwrap().allowplaintext());
        assert!(!parse_for(&text, "pop3").unwrap().allowplaintext());
    }

    #[test]
    fn deprecated_names_feed_their_replacement() {
        let conf = loose("autocreatequota: 1000\nquotawarn: 80\n").unwrap();
        assert_eq!(conf.get_bytesize("autocreate_quota"), Some(1000 * 1024));
        assert_eq!(conf.get_int("quotawarnpercent"), Some(80));
        let conf = loose("autocreatequota: 1000\nautocreate_quota: 5\n").unwrap();
        assert_eq!(conf.get_bytesize("autocreate_quota"), Some(5 * 1024));
    }

    #[test]
    fn defaults_and_typed_getters() {
        let conf = parse(CD).unwrap();
        assert_eq!(conf.get_duration_secs("timeout"), Some(32 * 60));
        assert_eq!(conf.client_timeout(), std::time::Duration::from_secs(10));
        assert_eq!(
            conf.get_duration("lmtptxn_timeout"),
            Some(std::time::Duration::from_secs(300))
        );
        assert_eq!(conf.get_bytesize("maxword"), Some(131_072));
        assert_eq!(conf.get_bytesize("maxliteral"), Some(131_072));
        assert_eq!(
            conf.get_str("sasl_sasldb_path").as_deref(),
            Some("/etc/sasldb2")
        );
        assert_eq!(
            conf.get_str("sendmail").as_deref(),
            Some("/usr/sbin/sendmail")
        );
        assert_eq!(
            conf.get_str("lmtpsocket").as_deref(),
            Some("/var/lib/cyrus/socket/lmtp")
        );
        assert_eq!(conf.get_str("proxy_authname").as_deref(), Some("proxy"));
        assert_eq!(conf.get_enum("serverinfo").as_deref(), Some("on"));
        assert_eq!(conf.get_enum("delete_mode").as_deref(), Some("delayed"));
        assert_eq!(conf.get_str("deletedprefix").as_deref(), Some("DELETED"));
        assert_eq!(conf.get_str("defaultdomain").as_deref(), Some("internal"));
        assert_eq!(conf.get_str("userprefix").as_deref(), Some("Other Users"));
        assert!(conf.get_switch("sieve_allowreferrals"));
        assert!(conf.get_switch("username_tolower"));
        assert!(conf.unixhierarchysep() && conf.altnamespace());
        assert!(!conf.tls_required());
        assert_eq!(conf.get_int("quotawarn"), Some(90));
        assert_eq!(conf.get_bytesize("autocreate_quota"), Some(-1024));
        assert_eq!(conf.get_str("defaultacl").as_deref(), Some("anyone lrs"));
        assert_eq!(conf.get_str("suppress_capabilities"), None);
        assert_eq!(conf.get_str("servername"), None);
        assert_eq!(conf.get("nosuchoption"), None);
        assert_eq!(conf.admins(), Vec::<String>::new());
        let conf = parse(&format!(
            "{CD}timeout: 45\nmaxliteral: 1M\nlmtpsocket: {{configdirectory}}/s\n"
        ))
        .unwrap();
        assert_eq!(conf.get_duration_secs("timeout"), Some(45 * 60));
        assert_eq!(conf.get_bytesize("maxliteral"), Some(1 << 20));
        assert_eq!(
            conf.get_str("lmtpsocket").as_deref(),
            Some("/var/lib/cyrus/s")
        );
    }

    #[test]
    fn mupdate_endpoint_honours_host_port_then_mupdate_port_then_3905() {
        let ep = |extra: &str| parse(&format!("{CD}{extra}")).unwrap().mupdate_endpoint();
        assert_eq!(ep(""), None);
        assert_eq!(
            ep("mupdate_server: m.example\n"),
            Some(("m.example".into(), 3905))
        );
        assert_eq!(ep("mupdate_server: m:4000\n"), Some(("m".into(), 4000)));
        assert_eq!(
            ep("mupdate_server: m\nmupdate_port: 4001\n"),
            Some(("m".into(), 4001))
        );
        assert_eq!(
            ep("mupdate_server: m:4000\nmupdate_port: 4001\n"),
            Some(("m".into(), 4000))
        );
        assert_eq!(ep("mupdate_server: m:mupdate\n"), Some(("m".into(), 3905)));
        assert_eq!(
            ep("mupdate_server: m:nosuch\nmupdate_port: 7\n"),
            Some(("m".into(), 7))
        );
        assert_eq!(
            ep("mupdate_server: [::1]:3906\n"),
            Some(("::1".into(), 3906))
        );
        assert_eq!(ep("mupdate_server: [::1]\n"), Some(("::1".into(), 3905)));
        let conf = parse(&format!("{CD}mupdate_server: m:3905/tls/noauth\n")).unwrap();
        assert_eq!(
            conf.mupdate_server(),
            Some(ServerAddress {
                host: "m".into(),
                port: Some("3905".into()),
                options: vec!["tls".into(), "noauth".into()]
            })
        );
    }

    #[test]
    fn roles_follow_mupdate_config() {
        let role = |extra: &str| parse(&format!("{CD}{extra}")).unwrap();
        assert_eq!(
            role("mupdate_server: m\nmupdate_config: unified\n").role(),
            MurderRole::Unified
        );
        assert!(!role("mupdate_server: m\nmupdate_config: unified\n").can_run_mupdate_master());
        assert_eq!(
            role("mupdate_server: m\nmupdate_config: replicated\nproxyservers: p\n").role(),
            MurderRole::Replicated
        );
        // mupdate_config is only read when mupdate_server is set.
        assert_eq!(
            role("mupdate_config: unified\n").role(),
            MurderRole::Standalone
        );
        assert!(role("mupdate_config: unified\n").can_run_mupdate_master());
    }

    #[test]
    fn per_server_overflow_keys() {
        let conf = parse(&format!(
            "{CD}be1_mechs: PLAIN\nforce_sasl_client_mech: GSSAPI\nbe1_client_cert: /c1\nbe1_client_key: /k1\ntls_client_cert: /c\n"
        ))
        .unwrap();
        assert_eq!(
            conf.mechs_for_server("be1.example.org").as_deref(),
            Some("PLAIN")
        );
        assert_eq!(
            conf.mechs_for_server("be2.example.org").as_deref(),
            Some("GSSAPI")
        );
        assert_eq!(conf.client_cert_for_server("be1").as_deref(), Some("/c1"));
        assert_eq!(conf.client_key_for_server("be1").as_deref(), Some("/k1"));
        assert_eq!(conf.client_cert_for_server("be2").as_deref(), Some("/c"));
        assert_eq!(conf.client_key_for_server("be2"), None);
        assert_eq!(conf.password_for_server(".x"), None);
    }

    #[test]
    fn unknown_keys_catch_typos_only() {
        let conf = parse(&format!(
            "{CD}servrename: x\npartition-news: /n\nmetapartition-news: /m\nbe1_password: p\nsasl_saslauthd_path: /s\nlmtpmurder_admins: a\nimap_sasl_mech_list: PLAIN\nadmin: oops\nmupdate_srever: m\n"
        ))
        .unwrap();
        let unknown: Vec<&str> = conf.unknown_keys().iter().map(|e| e.key.as_str()).collect();
        assert_eq!(unknown, vec!["servrename", "admin", "mupdate_srever"]);
        assert_eq!(conf.metapartitions()["news"], "/m");
        let imap = conf.for_service(Some("imap")).unwrap();
        assert_eq!(imap.sasl_options()["mech_list"], "PLAIN");
        assert_eq!(imap.sasl_options()["saslauthd_path"], "/s");
    }

    #[test]
    fn mupdate_worker_rules() {
        let check = |extra: &str| {
            parse(&format!("{CD}{extra}"))
                .unwrap()
                .check_mupdate_workers()
        };
        assert!(check("").is_ok());
        let e = check("mupdate_workers_start: 1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("mupdate_workers_start"), "{e}");
        assert!(check("mupdate_workers_max: 4\n").is_err());
        assert!(check("mupdate_workers_maxspare: 4\n").is_err());
        assert!(check("mupdate_workers_max: 1\n").is_err());
    }

    #[test]
    fn set_validates_and_encode_writes_lines() {
        let mut conf = ImapdConf::new(None);
        conf.set("configdirectory", "/var/lib/cyrus").unwrap();
        conf.set("Admins", " cyrus  mailproxy ").unwrap();
        conf.set("mupdate_server", "m:3905").unwrap();
        conf.set("weird", "ends with \\").unwrap();
        conf.set("admins", "cyrus").unwrap();
        assert_eq!(
            conf.set("mupdate_retry_delay", "1").unwrap_err().kind,
            ErrorKind::Invalid {
                key: "mupdate_retry_delay".into(),
                problem: "must be at least 2 seconds, not 1".into()
            }
        );
        assert_eq!(
            conf.set("bad key", "x").unwrap_err().kind,
            ErrorKind::InvalidOptionName
        );
        assert_eq!(
            conf.set("a", "  ").unwrap_err().kind,
            ErrorKind::EmptyValue("a".into())
        );
        assert_eq!(
            conf.set("a", "x\ny").unwrap_err().kind,
            ErrorKind::ValueHasNewline("a".into())
        );
        assert!(conf.set("allowplaintext", "perhaps").is_err());
        let text = conf.encode();
        assert_eq!(
            text,
            "configdirectory: /var/lib/cyrus\nadmins: cyrus\nmupdate_server: m:3905\nweird: ends with \\\r\n"
        );
        let back = parse(&text).unwrap();
        assert_eq!(back.get_raw("weird"), Some("ends with \\"));
        assert_eq!(conf.remove("mupdate_server").as_deref(), Some("m:3905"));
        assert_eq!(conf.get_raw("weird"), Some("ends with \\"));
        assert_eq!(conf.remove("mupdate_server"), None);
    }

    #[test]
    fn examples_round_trip() {
        for text in [BACKEND1, BACKEND2, FRONTEND, MUPDATE] {
            let conf = parse(text).unwrap();
            let back = parse(&conf.encode()).unwrap();
            assert_eq!(kv(&conf), kv(&back));
        }
    }

    fn kv(conf: &ImapdConf) -> Vec<(String, String)> {
        conf.entries()
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    }

    fn entry_strategy() -> impl Strategy<Value = (String, String)> {
        prop_oneof![
            ("[a-z][a-z0-9_-]{0,15}", "[!-~][ -~]{0,30}"),
            (
                Just("allowplaintext".to_string()),
                prop::sample::select(vec!["yes", "no", "1", "off"]).prop_map(String::from)
            ),
            (
                Just("timeout".to_string()),
                (1u32..1000).prop_map(|n| format!("{n}m"))
            ),
            (
                Just("maxliteral".to_string()),
                (0u32..1000).prop_map(|n| format!("{n}K"))
            ),
            ("partition-[a-z]{1,8}", "/[a-z/]{1,20}"),
        ]
    }

    proptest! {
        #[test]
        fn encode_then_parse_gives_the_same_entries(entries in prop::collection::vec(entry_strategy(), 0..20)) {
            let mut conf = ImapdConf::new(None);
            for (k, v) in &entries {
                // Keys from the regex may name real options with typed values; skip those
                // that do not fit, as set() reports them.
                let _ = conf.set(k, v);
            }
            let back = loose(&conf.encode()).unwrap();
            prop_assert_eq!(kv(&conf), kv(&back));
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = loose(&text);
            let _ = parse_for(&text, "imap");
        }

        #[test]
        fn random_config_like_lines_never_panic(lines in prop::collection::vec("[ \\t#@a-zA-Z_:\\\\{}\\-0-9\\r]{0,20}", 0..20)) {
            let text = lines.join("\n");
            if let Ok(conf) = loose(&text) {
                let _ = conf.role();
                let _ = conf.mupdate_endpoint();
                let _ = conf.unknown_keys();
                let _ = loose(&conf.encode()).unwrap();
            }
        }
    }
}
