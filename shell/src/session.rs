//! A shell session: the connection, the login settings, and the implementation of every
//! command of the table ([`crate::commands`]). The REPL, `-e`, `-f` and scripts on standard
//! input all go through [`Session::run_line`], so each command has exactly one definition.
//!
//! Errors are written to the error stream as `command: server: what failed` when a server
//! refused something, `command: what failed` for local problems, and cyradm's `usage: …`
//! lines for bad arguments.
//!
//! Referrals (reference §6.5): when a command gets `NO [REFERRAL imap://…]` and the server
//! advertised MAILBOX-REFERRALS, the session opens a new connection to the referred server
//! with the same credentials and TLS settings, runs the command there (a second referral is
//! followed too, up to [`MAX_REFERRALS`]), and drops that connection.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use protocol::imap::command::{CommandBody, CreateArgs, CreateParam, ListReturn, ListSelect};
use protocol::imap::response::{Data, ListExtItem, MailboxList, Response};
use protocol::imap::types::{Atom, Flag};

use crate::cache::Cache;
use crate::client::{Client, ClientError, Completed, Credentials, Referral, TlsSettings};
use crate::commands::{
    self, parse_invocation, CommandId, Invocation, QuotaChange, QuotaValue, UsageError,
};
use crate::lex::{CommandLine, Redirect};
use crate::output::{self, Format, QuotaUsage, Record, Sink};

/// How many referrals one command follows before giving up (a referral loop).
pub const MAX_REFERRALS: usize = 3;

/// The IMAP port used when none is given.
pub const IMAP_PORT: u16 = 143;

/// Where the password comes from.
#[derive(Clone, Default)]
pub enum PasswordSource {
    /// Given on the command line (`-w`) or read already.
    Given(String),
    /// A file whose first line is the password.
    File(PathBuf),
    /// Asked for on the terminal, without echo, when first needed.
    #[default]
    Prompt,
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordSource::Given(_) => f.write_str("Given(<redacted>)"),
            PasswordSource::File(p) => write!(f, "File({})", p.display()),
            PasswordSource::Prompt => f.write_str("Prompt"),
        }
    }
}

/// Login and display settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Authentication id.
    pub user: String,
    /// Authorisation id.
    pub authz: Option<String>,
    /// SASL mechanism(s), or `login`.
    pub mechanism: Option<String>,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// TLS.
    pub tls: TlsSettings,
    /// Output format.
    pub format: Format,
    /// cyradm's line width for `listmailbox` columns (`$COLUMNS`, default 79).
    pub columns: usize,
    /// Width to fit tables to: `Some(0)` for the terminal's own width, `None` for no fitting
    /// (standard output is not a terminal).
    pub table_width: Option<u16>,
    /// The ManageSieve server `sieve` uses when given no -server (the local murder's
    /// frontend); otherwise the connected server's host on port 4190.
    pub sieve: Option<(String, u16)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            user: default_user(),
            authz: None,
            mechanism: None,
            password: PasswordSource::Prompt,
            tls: TlsSettings::default(),
            format: Format::Cyradm,
            columns: 79,
            table_width: None,
            sieve: None,
        }
    }
}

/// `$USER`, else `$LOGNAME`, else `cyrus`.
pub fn default_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "cyrus".into())
}

/// What a command line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It worked.
    Ok,
    /// It failed; the reason has been written to the error stream.
    Failed,
    /// `exit N`.
    Exit(i32),
}

/// Why a command failed.
#[derive(Debug)]
enum Fail {
    /// A usage error; the text is complete.
    Usage(String),
    /// A local problem: printed as `command: text`.
    Local(String),
    /// The server refused: `command: server: text`.
    Server { server: String, text: String },
    /// Already reported (a wildcard operation printed its own progress).
    Reported,
}

/// The text of a failed step, for progress output.
fn fail_text(r: &Result<(), Fail>) -> Option<String> {
    match r {
        Ok(()) => None,
        Err(Fail::Server { text, .. } | Fail::Local(text) | Fail::Usage(text)) => {
            Some(text.clone())
        }
        Err(Fail::Reported) => Some(String::new()),
    }
}

/// A connection problem, turned into a [`Fail`] that names the server.
fn client_fail(server: &str, e: &ClientError) -> Fail {
    Fail::Server {
        server: server.to_string(),
        text: if e.is_lost() {
            format!("{e}; use connect to connect again")
        } else {
            e.to_string()
        },
    }
}

/// A session: settings, the current connection, and a cache for completion.
pub struct Session {
    /// Login and display settings.
    pub settings: Settings,
    conn: Option<Client>,
    /// The server as the user named it (prompt and `server`).
    server: Option<String>,
    /// The user logged in on the current connection.
    logged_in_as: Option<String>,
    /// Where the current connection goes: host, port.
    target: Option<(String, u16)>,
    /// Names for completion, filled in the background.
    pub cache: Arc<Mutex<Cache>>,
    /// Whether to fill the cache in the background after connecting (REPL only).
    pub background_cache: bool,
    /// What the running command's `<` redirection gave it (`sieve put`), if anything.
    input: Option<Vec<u8>>,
}

/// Splits `host:port` (IPv6 in brackets); a bare host gets `default_port`.
pub fn split_host_port(s: &str, default_port: u16) -> (String, u16) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            let port = tail
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default_port);
            return (h.to_string(), port);
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h.to_string(), port),
            Err(_) => (s.to_string(), default_port),
        },
        _ => (s.to_string(), default_port),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('%')
}

/// The text cyradm shows for one LIST entry: `name`, ` (attrs)`, ` (extended)`.
pub fn list_entry_text(l: &MailboxList) -> String {
    let mut s = lossy(&l.mailbox);
    if !l.attributes.is_empty() {
        let attrs: Vec<String> = l.attributes.iter().map(Flag::to_string).collect();
        s.push_str(&format!(" ({})", attrs.join(" ")));
    }
    if let Some(ext) = extended_text(&l.extended) {
        s.push_str(&format!(" ({ext})"));
    }
    s
}

fn extended_text(items: &[ListExtItem]) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let parts: Vec<String> = items
        .iter()
        .map(|i| match i {
            ListExtItem::ChildInfo(v) => {
                let inner: Vec<String> = v.iter().map(|x| format!("\"{}\"", lossy(x))).collect();
                format!("\"CHILDINFO\" ({})", inner.join(" "))
            }
            ListExtItem::OldName(n) => format!("\"OLDNAME\" (\"{}\")", lossy(n)),
            ListExtItem::Other { tag, value } => {
                format!("\"{}\" {}", lossy(tag), lossy(value.as_bytes()))
            }
        })
        .collect();
    Some(parts.join(" "))
}

fn mailbox_record(l: &MailboxList) -> Record {
    Record::Mailbox {
        name: lossy(&l.mailbox),
        delimiter: l.delimiter.map(|d| (d as char).to_string()),
        attributes: l.attributes.iter().map(Flag::to_string).collect(),
        extended: extended_text(&l.extended),
    }
}

fn is_selectable(l: &MailboxList) -> bool {
    !l.attributes.iter().any(|a| {
        let s = a.to_string().to_ascii_lowercase();
        s == "\\noselect" || s == "\\nonexistent" || s == "\\placeholder"
    })
}

/// How `listmailbox` asks, given the server's capabilities (reference §6.4).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOptions {
    /// `-subscribed`
    pub subscribed: bool,
    /// `-specialuse`
    pub specialuse: bool,
    /// `-recursivematch`
    pub recursivematch: bool,
}

/// The LIST (or LSUB, RLIST, RLSUB) command cyradm would send.
pub fn list_command(
    has_cap: &dyn Fn(&str) -> bool,
    pattern: &str,
    reference: &str,
    o: ListOptions,
) -> Result<CommandBody, String> {
    let referrals = has_cap("MAILBOX-REFERRALS");
    let ext = has_cap("LIST-EXTENDED");
    let su = has_cap("SPECIAL-USE");
    let reference = reference.as_bytes().to_vec();
    let pattern = pattern.as_bytes().to_vec();
    if o.subscribed && !o.specialuse && !o.recursivematch {
        // cyradm sends the pattern where the reference goes (LSUB * *); this shell sends
        // them in their places, which is what the user means.
        return Ok(if referrals {
            CommandBody::Rlsub { reference, pattern }
        } else {
            CommandBody::Lsub { reference, pattern }
        });
    }
    if o.specialuse && !su {
        return Err("Remote does not support SPECIAL-USE.".into());
    }
    if (o.specialuse || o.recursivematch || o.subscribed) && !ext {
        return Err("Remote does not support LIST-EXTENDED.".into());
    }
    if referrals && !ext {
        return Ok(CommandBody::Rlist { reference, pattern });
    }
    let mut selection = Vec::new();
    let mut returns = Vec::new();
    if referrals {
        selection.push(ListSelect::Remote);
    }
    if ext {
        returns.push(ListReturn::Subscribed);
        if o.recursivematch {
            selection.push(ListSelect::RecursiveMatch);
        }
        if o.subscribed {
            selection.push(ListSelect::Subscribed);
        }
        if su {
            returns.push(ListReturn::SpecialUse);
            if o.specialuse {
                selection.push(ListSelect::SpecialUse);
            }
        }
    }
    Ok(CommandBody::List {
        selection,
        reference,
        patterns: vec![pattern],
        returns,
    })
}

/// The rights string cyradm sends for a rights argument: an alias's letters, or the
/// argument as written.
fn wire_rights(arg: &str) -> String {
    match arg {
        "none" => String::new(),
        "read" => "lrs".into(),
        "post" => "lrsp".into(),
        "append" => "lrsip".into(),
        "write" => "lrswipkxte".into(),
        "delete" => "lrxte".into(),
        "all" => "lrswipkxtea".into(),
        other => other.to_string(),
    }
}

/// Where a command's output and errors go.
pub struct Io<'a> {
    /// Standard output (data).
    pub out: &'a mut dyn Write,
    /// Standard error (messages).
    pub err: &'a mut dyn Write,
}

/// Metadata gathered for cyradm's `info` layout: mailbox → scope → (entry → value).
type InfoMap = BTreeMap<String, BTreeMap<&'static str, BTreeMap<String, String>>>;

/// Adds one METADATA response to `info` as cyradm's parser does: a NIL value that another
/// pair follows reads as `NIL ` (with the space), and entries go under `private` or `shared`
/// by whether their name contains those words.
fn info_add(info: &mut InfoMap, mailbox: &str, entries: &[(Vec<u8>, Option<Vec<u8>>)]) {
    let n = entries.len();
    for (i, (k, v)) in entries.iter().enumerate() {
        let key = lossy(k);
        let value = match v {
            Some(v) => lossy(v),
            None if i + 1 < n => "NIL ".into(),
            None => "NIL".into(),
        };
        let prefixed = if mailbox.is_empty() {
            format!("/server/{key}")
        } else {
            format!("/mailbox/{key}")
        };
        let scope = if prefixed.contains("private") {
            "private"
        } else if prefixed.contains("shared") {
            "shared"
        } else {
            continue;
        };
        info.entry(mailbox.to_string())
            .or_default()
            .entry(scope)
            .or_default()
            .insert(prefixed, value);
    }
}

fn info_print(info: &InfoMap, out: &mut dyn Write) -> io::Result<()> {
    for (mailbox, scopes) in info {
        if mailbox.is_empty() {
            writeln!(out, "{{Server Wide}}")?;
        } else {
            writeln!(out, "{{{mailbox}}}:")?;
        }
        for (scope, entries) in scopes {
            writeln!(out, "  {scope}:")?;
            for (k, v) in entries {
                let last = k.rsplit('/').next().unwrap_or(k);
                writeln!(out, "    {last}: {v}")?;
            }
        }
    }
    Ok(())
}

/// Opens a connection and, when `auth` is set, logs in.
/// Connects to `host:port` with `settings` (TLS, mechanism) and logs in unless `auth` is
/// false.
pub(crate) async fn open(
    settings: &Settings,
    password: Option<&str>,
    host: &str,
    port: u16,
    auth: bool,
) -> Result<Client, ClientError> {
    let mut c = Client::connect(host, port, &settings.tls).await?;
    if auth && !c.is_authenticated() {
        let creds = Credentials {
            authid: settings.user.clone(),
            authzid: settings.authz.clone(),
            password: password.unwrap_or_default().to_string(),
            mechanism: settings.mechanism.clone(),
        };
        c.authenticate(&creds).await?;
    }
    Ok(c)
}

/// A file opened for a redirection, or a standard stream.
enum Target {
    Stdout,
    Stderr,
    File(Arc<Mutex<std::fs::File>>),
    Closed,
}

impl Target {
    fn dup(&self) -> Target {
        match self {
            Target::Stdout => Target::Stdout,
            Target::Stderr => Target::Stderr,
            Target::File(f) => Target::File(f.clone()),
            Target::Closed => Target::Closed,
        }
    }
}

struct TargetWriter(Target);

impl Write for TargetWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.0 {
            Target::Stdout => io::stdout().write(buf),
            Target::Stderr => io::stderr().write(buf),
            Target::File(f) => f
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .write(buf),
            Target::Closed => Ok(buf.len()),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &self.0 {
            Target::Stdout => io::stdout().lock().write_all(buf),
            Target::Stderr => io::stderr().lock().write_all(buf),
            Target::File(f) => f
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .write_all(buf),
            Target::Closed => Ok(()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &self.0 {
            Target::Stdout => io::stdout().flush(),
            Target::Stderr => io::stderr().flush(),
            Target::File(f) => f.lock().map_err(|_| io::Error::other("poisoned"))?.flush(),
            Target::Closed => Ok(()),
        }
    }
}

/// One `sieve` action, its arguments read.
enum SieveOp {
    List,
    Put { name: String, script: Vec<u8> },
    Get { name: String, file: Option<String> },
    Activate(String),
    Deactivate,
    Delete(String),
    Check(Vec<u8>),
}

/// What a `sieve` action gave back.
enum SieveOutcome {
    Scripts(Vec<crate::sieve::Script>),
    Text(Vec<u8>),
    Done,
}

/// Reads a script file for `sieve put` and `sieve check`.
fn read_script(path: &str) -> Result<Vec<u8>, Fail> {
    use std::io::Read as _;
    let f = std::fs::File::open(path).map_err(|e| Fail::Local(format!("{path}: {e}")))?;
    let mut text = Vec::new();
    f.take(MAX_INPUT + 1)
        .read_to_end(&mut text)
        .map_err(|e| Fail::Local(format!("{path}: {e}")))?;
    if text.len() as u64 > MAX_INPUT {
        return Err(Fail::Local(format!(
            "{path}: longer than {MAX_INPUT} bytes"
        )));
    }
    Ok(text)
}

/// The script name `sieve put FILE` uses: the file's name without directory and extension.
fn script_name(path: &str) -> String {
    let p = std::path::Path::new(path);
    p.file_stem()
        .or_else(|| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// Runs one `sieve` action on one server: connect, log in, act, log out.
async fn sieve_once(
    tls: &TlsSettings,
    creds: &Credentials,
    host: &str,
    port: u16,
    op: &SieveOp,
) -> Result<SieveOutcome, crate::sieve::SieveError> {
    let mut c = crate::sieve::SieveClient::connect(host, port, tls).await?;
    c.authenticate(creds).await?;
    let r = match op {
        SieveOp::List => c.list().await.map(SieveOutcome::Scripts),
        SieveOp::Put { name, script } => c.put(name, script).await.map(|_| SieveOutcome::Done),
        SieveOp::Get { name, .. } => c.get(name).await.map(SieveOutcome::Text),
        SieveOp::Activate(name) => c.set_active(name).await.map(|_| SieveOutcome::Done),
        SieveOp::Deactivate => c.set_active("").await.map(|_| SieveOutcome::Done),
        SieveOp::Delete(name) => c.delete(name).await.map(|_| SieveOutcome::Done),
        SieveOp::Check(script) => c.check_script(script).await.map(|_| SieveOutcome::Done),
    };
    if !matches!(r, Err(crate::sieve::SieveError::Referral(_))) {
        c.logout().await;
    }
    r
}

/// The most a `<` redirection reads: a generous Sieve script or metadata value.
pub const MAX_INPUT: u64 = 1 << 20;

/// Reads the file of a command's `<` redirection (descriptor 0), if it has one.
fn read_input(redirects: &[Redirect]) -> Result<Option<Vec<u8>>, String> {
    let mut input = None;
    for r in redirects.iter().filter(|r| r.fd() == 0) {
        match r {
            Redirect::Read { path, .. } => {
                use std::io::Read as _;
                let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
                let mut text = Vec::new();
                f.take(MAX_INPUT + 1)
                    .read_to_end(&mut text)
                    .map_err(|e| format!("{path}: {e}"))?;
                if text.len() as u64 > MAX_INPUT {
                    return Err(format!("{path}: longer than {MAX_INPUT} bytes"));
                }
                input = Some(text);
            }
            Redirect::Close { .. } => input = None,
            Redirect::Dup { source, .. } => {
                return Err(format!(
                    "cannot read from file descriptor {source}: give a file with `<file'"
                ))
            }
            Redirect::Write { path, .. } => {
                return Err(format!("{path}: descriptor 0 is for input"))
            }
        }
    }
    Ok(input)
}

/// Sets up a command's descriptors 1 and 2 from its redirections.
fn redirect_targets(redirects: &[Redirect]) -> Result<(Target, Target), String> {
    let mut fds = [Target::Stdout, Target::Stderr];
    for r in redirects {
        let idx = match r.fd() {
            1 => 0,
            2 => 1,
            // Descriptor 0 and others: commands read nothing and write only 1 and 2.
            _ => continue,
        };
        let t = match r {
            Redirect::Write { path, append, .. } => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .append(*append)
                    .truncate(!*append)
                    .open(path)
                    .map_err(|e| format!("{path}: {e}"))?;
                Target::File(Arc::new(Mutex::new(f)))
            }
            Redirect::Read { .. } => continue,
            Redirect::Dup { source, .. } => match source {
                1 => fds[0].dup(),
                2 => fds[1].dup(),
                other => return Err(format!("bad file descriptor {other}")),
            },
            Redirect::Close { .. } => Target::Closed,
        };
        fds[idx] = t;
    }
    let [o, e] = fds;
    Ok((o, e))
}

impl Session {
    /// A session with no connection.
    pub fn new(settings: Settings) -> Session {
        Session {
            settings,
            conn: None,
            server: None,
            logged_in_as: None,
            target: None,
            cache: Arc::new(Mutex::new(Cache::default())),
            background_cache: false,
            input: None,
        }
    }

    /// The server connected to, as named by the user.
    pub fn server(&self) -> Option<&str> {
        self.conn.as_ref().and(self.server.as_deref())
    }

    /// The user logged in, when connected and logged in.
    pub fn user(&self) -> Option<&str> {
        self.conn.as_ref().and(self.logged_in_as.as_deref())
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// The prompt: `user@server> `, or cyradm's `cyradm> ` when not connected.
    pub fn prompt(&self) -> String {
        match (self.user(), self.server()) {
            (Some(u), Some(s)) => format!("{u}@{s}> "),
            (None, Some(s)) => format!("{s}> "),
            _ => "cyradm> ".into(),
        }
    }

    /// What the murder commands need: format, user, and the password when known without
    /// prompting (they fall back to the local murder's admin).
    fn murder_ctx(&mut self) -> crate::murder::Ctx {
        let password = match &self.settings.password {
            PasswordSource::Prompt => None,
            _ => self.password().ok(),
        };
        crate::murder::Ctx {
            format: self.settings.format,
            width: self.settings.table_width,
            user: self.settings.user.clone(),
            password,
        }
    }

    /// Where and as whom a bulk move's workers log in: `--frontend`, else the server this
    /// session is connected to, else the local murder's frontend; as this session's user, or
    /// (not connected, no password given) the local murder's admin.
    fn bulk_frontend(
        &mut self,
        inv: &Invocation,
    ) -> Result<crate::murder::bulkmove::Frontend, String> {
        let topo = crate::murder::Topology::for_invocation(inv)?;
        let local = topo.frontends.first().map(|h| (h.host.clone(), h.port));
        let (host, port, from_topology) = match (inv.value("frontend"), &self.target) {
            (None, Some((h, p))) if self.conn.is_some() => (h.clone(), *p, false),
            _ => {
                let (h, p) = local.ok_or(
                    "no frontend: connect to one, give --frontend HOST:PORT, or run a local murder",
                )?;
                (h, p, true)
            }
        };
        let mut settings = self.settings.clone();
        let known = self.logged_in_as.is_some()
            || !matches!(self.settings.password, PasswordSource::Prompt);
        let password = match &topo.admin {
            Some((user, pw)) if !known => {
                settings.user = user.clone();
                settings.authz = None;
                pw.clone()
            }
            _ => self.password()?,
        };
        if from_topology && settings.tls.cafile.is_none() && settings.tls.capath.is_none() {
            // The local murder's certificates are signed by its own CA.
            if let Some(ca) = topo.state_dir.as_ref().map(|d| d.join("tls/ca.pem")) {
                if ca.exists() {
                    settings.tls.cafile = Some(ca);
                }
            }
        }
        Ok(crate::murder::bulkmove::Frontend {
            host,
            port,
            settings,
            password,
        })
    }

    /// The password, reading it from its source the first time.
    pub fn password(&mut self) -> Result<String, String> {
        let pw = match &self.settings.password {
            PasswordSource::Given(p) => return Ok(p.clone()),
            PasswordSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read password file {}: {e}", path.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
            PasswordSource::Prompt => {
                rpassword::prompt_password("IMAP Password: ").map_err(|e| {
                    format!(
                    "cannot ask for the password ({e}); give --password-file or set MURDER_PASSWORD"
                )
                })?
            }
        };
        self.settings.password = PasswordSource::Given(pw.clone());
        Ok(pw)
    }

    /// Connects to `server` (`host` or `host:port`, port 143 by default) in place of the
    /// current connection, and logs in unless `auth` is false.
    pub async fn connect(&mut self, server: &str, auth: bool) -> Result<(), String> {
        let (host, port) = split_host_port(server, IMAP_PORT);
        self.connect_to(&host, port, auth).await
    }

    /// Connects to `host:port` and logs in unless `auth` is false.
    pub async fn connect_to(&mut self, host: &str, port: u16, auth: bool) -> Result<(), String> {
        if let Some(old) = self.conn.take() {
            old.logout().await;
        }
        self.logged_in_as = None;
        let display = if port == IMAP_PORT {
            host.to_string()
        } else {
            format!("{host}:{port}")
        };
        // The password is read before connecting, so a slow prompt does not time out the
        // server's login timer.
        let password = if auth { Some(self.password()?) } else { None };
        let c = open(&self.settings, password.as_deref(), host, port, auth)
            .await
            .map_err(|e| match e {
                ClientError::Auth { reason, .. } => format!(
                    "cannot authenticate to {display}{} as {}: {reason}",
                    self.settings
                        .mechanism
                        .as_deref()
                        .map(|m| format!(" with {m}"))
                        .unwrap_or_default(),
                    self.settings.user
                ),
                other => other.to_string(),
            })?;
        if c.is_authenticated() {
            self.logged_in_as = Some(self.settings.user.clone());
        }
        self.conn = Some(c);
        self.server = Some(display.clone());
        self.target = Some((host.to_string(), port));
        if let Ok(mut cache) = self.cache.lock() {
            cache.servers.insert(host.to_string());
        }
        if auth && self.background_cache {
            crate::cache::spawn_fill(
                self.cache.clone(),
                self.settings.clone(),
                password,
                host.to_string(),
                port,
            );
        }
        Ok(())
    }

    /// After Ctrl-C interrupted a command: the server may still be working on it and will
    /// answer later, so the connection is replaced by a fresh one to the same server, logged
    /// in as before. Returns a line to tell the user, if anything was done.
    pub async fn recover_after_interrupt(&mut self) -> Option<String> {
        let dirty = self
            .conn
            .as_ref()
            .is_some_and(|c| c.has_pending() || !c.is_usable());
        if !dirty {
            return None;
        }
        let (host, port) = self.target.clone()?;
        let auth = self.logged_in_as.is_some();
        self.conn = None;
        Some(match self.connect_to(&host, port, auth).await {
            Ok(()) => format!("reconnected to {}", self.server_name()),
            Err(e) => format!("murder: {e}"),
        })
    }

    /// Drops the connection (LOGOUT first).
    pub async fn disconnect(&mut self) {
        if let Some(c) = self.conn.take() {
            c.logout().await;
        }
        self.logged_in_as = None;
    }

    /// Tokenised input line → each command run in turn. Returns the worst status: `Exit`
    /// as soon as one says so, else `Failed` if any failed. With `stop_on_error`, the rest
    /// of the line is skipped after a failure.
    pub async fn run_commands(&mut self, lines: &[CommandLine], stop_on_error: bool) -> Status {
        let mut status = Status::Ok;
        for line in lines {
            match self.run_line(line).await {
                Status::Exit(n) => return Status::Exit(n),
                Status::Failed => {
                    status = Status::Failed;
                    if stop_on_error {
                        break;
                    }
                }
                Status::Ok => {}
            }
        }
        status
    }

    /// Runs one command with its redirections, writing to the process's stdout/stderr or
    /// the redirection targets.
    pub async fn run_line(&mut self, line: &CommandLine) -> Status {
        if line.words.is_empty() {
            return Status::Ok;
        }
        let (o, e) = match redirect_targets(&line.redirects) {
            Ok(t) => t,
            Err(msg) => {
                let name = line.words.first().map(String::as_str).unwrap_or("");
                eprintln!("{name}: {msg}");
                return Status::Failed;
            }
        };
        let mut out = io::BufWriter::with_capacity(64 * 1024, TargetWriter(o));
        let mut err = TargetWriter(e);
        let name = line.words.first().map(String::as_str).unwrap_or("");
        let mut words = std::borrow::Cow::Borrowed(&line.words);
        match read_input(&line.redirects) {
            Ok(None) => {}
            Ok(Some(text)) => match commands::lookup(name).map(|s| s.id) {
                // The value of a metadata or info entry: the file's text, without the
                // line end an editor leaves at its end.
                Some(CommandId::SetMetadata | CommandId::MboxCfg | CommandId::SetInfo) => {
                    let value = String::from_utf8_lossy(&text);
                    let value = value.strip_suffix('\n').unwrap_or(&value);
                    let value = value.strip_suffix('\r').unwrap_or(value);
                    words.to_mut().push(value.to_string());
                }
                Some(CommandId::Sieve) => self.input = Some(text),
                other => {
                    let name: &str = match other {
                        Some(id) => id.name(),
                        None => name,
                    };
                    let _ = writeln!(
                        err,
                        "{name}: reads no input: `<' gives the value of setmetadata, \
                         mboxconfig and setinfo, and the script of sieve put and sieve check"
                    );
                    return Status::Failed;
                }
            },
            Err(msg) => {
                let name = commands::lookup(name).map_or(name, |s| s.name);
                let _ = writeln!(err, "{name}: {msg}");
                return Status::Failed;
            }
        }
        let status = self
            .run_words(
                &words,
                &mut Io {
                    out: &mut out,
                    err: &mut err,
                },
            )
            .await;
        self.input = None;
        if let Err(e) = out.flush() {
            let _ = writeln!(
                err,
                "{}: {e}",
                line.words.first().map_or("", |s| s.as_str())
            );
            return Status::Failed;
        }
        status
    }

    /// Runs one command (its words) with explicit output streams.
    pub async fn run_words(&mut self, words: &[String], io: &mut Io<'_>) -> Status {
        let inv = match parse_invocation(words) {
            Ok(i) => i,
            Err(e) => {
                let _ = writeln!(io.err, "{}", usage_text(&e));
                return Status::Failed;
            }
        };
        let name = inv.command.name();
        if inv.spec().needs_connection && self.conn.is_none() {
            let _ = writeln!(io.err, "{name}: no connection to server");
            return Status::Failed;
        }
        match self.execute(&inv, io).await {
            Ok(Some(code)) => Status::Exit(code),
            Ok(None) => Status::Ok,
            Err(fail) => {
                let _ = io.out.flush();
                let _ = match fail {
                    Fail::Usage(t) => writeln!(io.err, "{t}"),
                    Fail::Local(t) => writeln!(io.err, "{name}: {t}"),
                    Fail::Server { server, text } => writeln!(io.err, "{name}: {server}: {text}"),
                    Fail::Reported => Ok(()),
                };
                Status::Failed
            }
        }
    }

    fn server_name(&self) -> String {
        self.server
            .clone()
            .unwrap_or_else(|| "(not connected)".into())
    }

    fn conn(&mut self) -> Result<&mut Client, Fail> {
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err(Fail::Local("no connection to server".into())),
        }
    }

    /// A lost connection is dropped, so the prompt and later commands know.
    fn note_error(&mut self, e: &ClientError) -> Fail {
        let f = client_fail(&self.server_name(), e);
        if e.is_lost() || self.conn.as_ref().is_some_and(|c| !c.is_usable()) {
            self.conn = None;
            self.logged_in_as = None;
        }
        f
    }

    /// Runs `body` on the current connection, following referrals: on the referred server
    /// it runs `referred` (when given) instead, e.g. a CREATE without the server part of its
    /// location. Returns the completion and the server that gave it.
    async fn run_followed(
        &mut self,
        body: CommandBody,
        referred: Option<CommandBody>,
        on: &mut dyn FnMut(&Response),
    ) -> Result<(Completed, String), Fail> {
        let conn = self.conn()?;
        let referrals = conn.has_cap("MAILBOX-REFERRALS");
        let r = conn.run(body.clone(), on).await;
        let mut done = match r {
            Ok(d) => d,
            Err(e) => return Err(self.note_error(&e)),
        };
        let mut server = self.server_name();
        let body = referred.unwrap_or(body);
        let mut hops = 0;
        while let Some(url) = done.referral().filter(|_| referrals).map(str::to_string) {
            hops += 1;
            if hops > MAX_REFERRALS {
                return Err(Fail::Server {
                    server,
                    text: format!("too many referrals (last: {url})"),
                });
            }
            let referral = Referral::parse(&url).map_err(|e| Fail::Server {
                server: server.clone(),
                text: e.to_string(),
            })?;
            server = if referral.port == IMAP_PORT {
                referral.host.clone()
            } else {
                format!("{}:{}", referral.host, referral.port)
            };
            if let Ok(mut cache) = self.cache.lock() {
                cache.servers.insert(referral.host.clone());
            }
            let password = self.password().map_err(Fail::Local)?;
            let mut c = open(
                &self.settings,
                Some(&password),
                &referral.host,
                referral.port,
                true,
            )
            .await
            .map_err(|e| client_fail(&server, &e))?;
            let r = c.run(body.clone(), on).await;
            c.logout().await;
            done = r.map_err(|e| client_fail(&server, &e))?;
        }
        Ok((done, server))
    }

    /// Runs a command whose only answer is its completion.
    async fn simple(
        &mut self,
        body: CommandBody,
        referred: Option<CommandBody>,
    ) -> Result<(), Fail> {
        let (done, server) = self.run_followed(body, referred, &mut |_| {}).await?;
        if done.is_ok() {
            Ok(())
        } else {
            Err(Fail::Server {
                server,
                text: done.text,
            })
        }
    }

    /// Lists the mailboxes matching `pattern` as cyradm does before a wildcard operation.
    async fn list_names(&mut self, pattern: &str) -> Result<Vec<MailboxList>, Fail> {
        let conn = self.conn()?;
        let body = list_command(&|c| conn.has_cap(c), pattern, "", ListOptions::default())
            .map_err(Fail::Local)?;
        let mut found = Vec::new();
        let (done, server) = self
            .run_followed(body, None, &mut |r| {
                if let Response::Data(Data::List(l) | Data::Lsub(l)) = r {
                    found.push(l.clone());
                }
            })
            .await?;
        if !done.is_ok() {
            return Err(Fail::Server {
                server,
                text: done.text,
            });
        }
        Ok(found)
    }

    /// Runs `step` on every selectable mailbox matching `pattern`, printing cyradm's
    /// progress (`<verb> <name>...OK.`) and stopping at the first failure.
    async fn for_each_mailbox(
        &mut self,
        io: &mut Io<'_>,
        command: CommandId,
        verb: &str,
        pattern: &str,
        make: &dyn Fn(&str) -> CommandBody,
    ) -> Result<(), Fail> {
        let boxes = self.list_names(pattern).await?;
        let format = self.settings.format;
        let width = self.settings.table_width;
        let mut failed = false;
        let mut results = Vec::new();
        for l in boxes.iter().filter(|l| is_selectable(l)) {
            let name = lossy(&l.mailbox);
            if format == Format::Cyradm {
                let _ = write!(io.out, "{verb} {name}...");
                let _ = io.out.flush();
            }
            let r = self.simple(make(&name), None).await;
            let (ok, error) = match r {
                Ok(()) => (true, None),
                Err(Fail::Server { text, .. } | Fail::Local(text) | Fail::Usage(text)) => {
                    (false, Some(text))
                }
                Err(Fail::Reported) => (false, None),
            };
            if format == Format::Cyradm {
                let _ = writeln!(io.out, "{}", error.as_deref().unwrap_or("OK."));
            } else {
                results.push(Record::Result {
                    command: command.name().into(),
                    mailbox: name.clone(),
                    ok,
                    error: error.clone(),
                });
            }
            if !ok {
                failed = true;
                break;
            }
        }
        if format != Format::Cyradm {
            let mut sink = Sink::new(format, io.out, width);
            for r in &results {
                sink.record(r).map_err(|e| Fail::Local(e.to_string()))?;
            }
            sink.finish().map_err(|e| Fail::Local(e.to_string()))?;
        }
        if failed {
            Err(Fail::Reported)
        } else {
            Ok(())
        }
    }

    /// `sieve`: one action on a user's scripts over ManageSieve, following referrals.
    async fn sieve(&mut self, inv: &Invocation, io: &mut Io<'_>) -> Result<(), Fail> {
        let usage = || Fail::Usage(inv.spec().usage_line());
        let input = self.input.take();
        let args: Vec<&str> = inv.args.iter().map(String::as_str).collect();
        let action = args
            .first()
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default();
        let op = match (action.as_str(), args.get(1..).unwrap_or_default(), input) {
            ("list" | "ls", [], None) => SieveOp::List,
            ("put", [name], Some(script)) => SieveOp::Put {
                name: name.to_string(),
                script,
            },
            ("put", [file], None) => SieveOp::Put {
                name: script_name(file),
                script: read_script(file)?,
            },
            ("put", [file, name], None) => SieveOp::Put {
                name: name.to_string(),
                script: read_script(file)?,
            },
            ("get", [name], None) => SieveOp::Get {
                name: name.to_string(),
                file: None,
            },
            ("get", [name, file], None) => SieveOp::Get {
                name: name.to_string(),
                file: Some(file.to_string()),
            },
            ("activate" | "setactive", [name], None) => SieveOp::Activate(name.to_string()),
            ("deactivate", [], None) => SieveOp::Deactivate,
            ("delete" | "rm", [name], None) => SieveOp::Delete(name.to_string()),
            ("check", [], Some(script)) => SieveOp::Check(script),
            ("check", [file], None) => SieveOp::Check(read_script(file)?),
            (_, _, Some(_)) => {
                return Err(Fail::Local(
                    "`<' gives the script of sieve put NAME and sieve check only".into(),
                ))
            }
            _ => return Err(usage()),
        };
        let (mut host, mut port) = match inv.value("server") {
            Some(s) => split_host_port(s, crate::sieve::SIEVE_PORT),
            None => match (&self.settings.sieve, &self.target) {
                (Some((h, p)), _) => (h.clone(), *p),
                (None, Some((h, _))) => (h.clone(), crate::sieve::SIEVE_PORT),
                (None, None) => {
                    return Err(Fail::Local(
                        "no server: connect first, or give -server host[:port]".into(),
                    ))
                }
            },
        };
        let password = self.password().map_err(Fail::Local)?;
        let authzid = inv
            .value("user")
            .filter(|u| *u != self.settings.user)
            .map(str::to_string)
            .or_else(|| self.settings.authz.clone());
        let user = authzid
            .clone()
            .unwrap_or_else(|| self.settings.user.clone());
        let creds = Credentials {
            authid: self.settings.user.clone(),
            authzid,
            password,
            mechanism: self.settings.mechanism.clone(),
        };
        let mut hops = 0;
        let (outcome, server) = loop {
            let server = if port == crate::sieve::SIEVE_PORT {
                host.clone()
            } else {
                format!("{host}:{port}")
            };
            match sieve_once(&self.settings.tls, &creds, &host, port, &op).await {
                Ok(o) => break (o, server),
                Err(crate::sieve::SieveError::Referral(url)) if hops < MAX_REFERRALS => {
                    hops += 1;
                    (host, port) =
                        crate::sieve::parse_referral(&url).map_err(|e| Fail::Server {
                            server: server.clone(),
                            text: e.to_string(),
                        })?;
                }
                Err(e) => {
                    return Err(Fail::Server {
                        server,
                        text: e.to_string(),
                    })
                }
            }
        };
        let format = self.settings.format;
        let io_err = |e: io::Error| Fail::Local(e.to_string());
        match (outcome, &op) {
            (SieveOutcome::Scripts(list), _) => {
                if format == Format::Cyradm {
                    // sieveshell's layout.
                    for s in &list {
                        let mark = if s.active { " <- active script" } else { "" };
                        writeln!(io.out, "{} {mark}", s.name).map_err(io_err)?;
                    }
                } else {
                    let mut sink = Sink::new(format, io.out, self.settings.table_width);
                    for s in list {
                        sink.record(&Record::SieveScript {
                            user: user.clone(),
                            name: s.name,
                            active: s.active,
                        })
                        .map_err(io_err)?;
                    }
                    sink.finish().map_err(io_err)?;
                }
            }
            (SieveOutcome::Text(text), SieveOp::Get { name, file }) => match file {
                Some(f) => {
                    std::fs::write(f, &text).map_err(|e| Fail::Local(format!("{f}: {e}")))?
                }
                None if format == Format::Json => {
                    let mut sink = Sink::new(format, io.out, None);
                    sink.record(&Record::SieveText {
                        user,
                        name: name.clone(),
                        script: String::from_utf8_lossy(&text).into_owned(),
                    })
                    .map_err(io_err)?;
                    sink.finish().map_err(io_err)?;
                }
                None => io.out.write_all(&text).map_err(io_err)?,
            },
            (SieveOutcome::Text(_), _) | (SieveOutcome::Done, _) => {
                let _ = server;
            }
        }
        Ok(())
    }

    /// Runs one resolved command. `Ok(Some(n))` asks the shell to exit with status `n`.
    async fn execute(&mut self, inv: &Invocation, io: &mut Io<'_>) -> Result<Option<i32>, Fail> {
        let arg = |i: usize| inv.args.get(i).cloned().unwrap_or_default();
        let bytes = |s: &str| s.as_bytes().to_vec();
        let format = self.settings.format;
        let width = self.settings.table_width;
        let arg_err = |e: commands::ArgError| Fail::Local(e.to_string());
        let io_err = |e: io::Error| Fail::Local(e.to_string());
        match inv.command {
            CommandId::Authenticate => {
                if let Some(u) = inv.args.first() {
                    self.settings.user = u.clone();
                }
                if let Some(m) = inv.value("mechanisms") {
                    self.settings.mechanism = Some(m.to_string());
                }
                if let Some(f) = inv.value("cafile") {
                    self.settings.tls.cafile = Some(f.into());
                }
                if let Some(d) = inv.value("capath") {
                    self.settings.tls.capath = Some(d.into());
                }
                // -tlskey: STARTTLS first, presenting the key (an empty value: no key);
                // -notls only drops the key, as in cyradm.
                if let Some(k) = inv.value("tlskey") {
                    self.settings.tls.client_cert =
                        (!k.is_empty()).then(|| daemons::tls::ClientCert {
                            cert: k.into(),
                            key: k.into(),
                        });
                }
                if inv.flag("notls") {
                    self.settings.tls.client_cert = None;
                }
                if inv.value("tlskey").is_some() && !inv.flag("notls") {
                    let tls = self.settings.tls.clone();
                    let server = self.server_name();
                    let c = self.conn()?;
                    if c.is_tls() {
                        return Err(Fail::Local(
                            "TLS is already active on this connection; to present a client \
                             key, connect again with --tlskey"
                                .into(),
                        ));
                    }
                    if let Err(e) = c.starttls(&tls).await {
                        return Err(if e.is_lost() {
                            self.note_error(&e)
                        } else {
                            client_fail(&server, &e)
                        });
                    }
                }
                let password = self.password().map_err(Fail::Local)?;
                let creds = Credentials {
                    authid: self.settings.user.clone(),
                    authzid: self.settings.authz.clone(),
                    password,
                    mechanism: self.settings.mechanism.clone(),
                };
                let server = self.server_name();
                let c = self.conn()?;
                match c.authenticate(&creds).await {
                    Ok(_) => {
                        self.logged_in_as = Some(self.settings.user.clone());
                        Ok(None)
                    }
                    Err(ClientError::Auth { reason, .. }) => Err(Fail::Server {
                        server,
                        text: format!("cannot authenticate as {}: {reason}", creds.authid),
                    }),
                    Err(e) => Err(self.note_error(&e)),
                }
            }
            CommandId::Chdir => {
                let dir = arg(0);
                std::env::set_current_dir(&dir)
                    .map(|_| None)
                    .map_err(|e| Fail::Local(format!("{dir}: {e}")))
            }
            CommandId::CreateMailbox => {
                let location = commands::create_location(inv).map_err(arg_err)?;
                let mailbox = bytes(&arg(0));
                let specialuse = inv.value("specialuse").map(str::to_string);
                let conn = self.conn()?;
                if specialuse.is_some() && !conn.has_cap("CREATE-SPECIAL-USE") {
                    return Err(Fail::Server {
                        server: self.server_name(),
                        text: "Remote does not support CREATE-SPECIAL-USE.".into(),
                    });
                }
                let build = |server: Option<&str>, partition: Option<&str>| {
                    let use_flags = specialuse.as_deref().map(|su| {
                        su.split_whitespace()
                            .filter_map(|f| {
                                Flag::parse(format!("{f})").as_bytes()).ok().map(|(_, f)| f)
                            })
                            .collect::<Vec<_>>()
                    });
                    let args = match (use_flags, server, partition) {
                        (None, None, None) => None,
                        (None, Some(s), p) => Some(CreateArgs::Partition(
                            format!("{s}!{}", p.unwrap_or("")).into_bytes(),
                        )),
                        (None, None, Some(p)) => Some(CreateArgs::Partition(p.as_bytes().to_vec())),
                        (Some(flags), s, p) => {
                            let mut params = Vec::new();
                            if let Some(s) = s {
                                params.push(CreateParam::Server(s.as_bytes().to_vec()));
                            }
                            if let Some(p) = p {
                                params.push(CreateParam::Partition(p.as_bytes().to_vec()));
                            }
                            params.push(CreateParam::Use(flags));
                            Some(CreateArgs::Params(params))
                        }
                    };
                    CommandBody::Create {
                        mailbox: mailbox.clone(),
                        args,
                    }
                };
                let server = location.as_ref().and_then(|l| l.server());
                let partition = location.as_ref().and_then(|l| l.partition());
                let body = build(server, partition);
                // On the server a referral leads to, only the partition applies.
                let referred = build(None, partition);
                self.simple(body, Some(referred)).await?;
                if let Ok(mut c) = self.cache.lock() {
                    c.add_mailbox(&arg(0));
                    if let Some(p) = partition {
                        c.partitions.insert(p.to_string());
                    }
                }
                Ok(None)
            }
            CommandId::DeleteAclMailbox => {
                let targets = commands::parse_deleteacl_ids(inv.args.get(1..).unwrap_or_default())
                    .map_err(arg_err)?;
                let mailbox = arg(0);
                let ids: Option<Vec<String>> = match &targets {
                    commands::AclTargets::All => None,
                    commands::AclTargets::Ids(v) => Some(v.iter().map(|i| i.to_string()).collect()),
                };
                if has_wildcard(&mailbox) {
                    let boxes = self.list_names(&mailbox).await?;
                    for l in boxes.iter().filter(|l| is_selectable(l)) {
                        let name = lossy(&l.mailbox);
                        if format == Format::Cyradm {
                            let _ = write!(io.out, "Deleting acl on {name}...");
                            let _ = io.out.flush();
                        }
                        let r = self.delete_acl_on(&name, ids.clone()).await;
                        let error = fail_text(&r);
                        self.report_step(io, inv.command, &name, error.as_deref())?;
                        if r.is_err() {
                            return Err(Fail::Reported);
                        }
                    }
                    Ok(None)
                } else {
                    self.delete_acl_on(&mailbox, ids).await.map(|_| None)
                }
            }
            CommandId::DeleteMailbox => {
                let mailbox = arg(0);
                if has_wildcard(&mailbox) {
                    self.for_each_mailbox(io, inv.command, "Deleting mailbox", &mailbox, &|m| {
                        CommandBody::Delete {
                            mailbox: m.as_bytes().to_vec(),
                        }
                    })
                    .await?;
                } else {
                    self.simple(
                        CommandBody::Delete {
                            mailbox: bytes(&mailbox),
                        },
                        None,
                    )
                    .await?;
                    if let Ok(mut c) = self.cache.lock() {
                        c.remove_mailbox(&mailbox);
                    }
                }
                Ok(None)
            }
            CommandId::Disconnect => {
                self.disconnect().await;
                Ok(None)
            }
            CommandId::Exit => {
                let code = match inv.args.first() {
                    Some(n) => n
                        .parse::<i32>()
                        .map_err(|_| Fail::Usage(inv.spec().usage_line()))?,
                    None => 0,
                };
                Ok(Some(code))
            }
            CommandId::GetMetadata | CommandId::Info => {
                let mailbox = inv.args.first().cloned().unwrap_or_default();
                let entries: Vec<String> = if inv.command == CommandId::GetMetadata {
                    inv.args
                        .get(1..)
                        .unwrap_or_default()
                        .iter()
                        .map(|e| commands::getmetadata_entry(e))
                        .collect()
                } else {
                    Vec::new()
                };
                let conn = self.conn()?;
                if !conn.has_cap("METADATA") {
                    return Err(Fail::Server {
                        server: self.server_name(),
                        text: "Remote does not support METADATA.".into(),
                    });
                }
                let asks: Vec<String> = if entries.is_empty() {
                    vec!["/private/*".into(), "/shared/*".into()]
                } else {
                    entries
                };
                let mut info = InfoMap::new();
                let mut records = Vec::new();
                let mut last = None;
                for entry in asks {
                    let body = CommandBody::GetMetadata {
                        options: Default::default(),
                        mailbox: bytes(&mailbox),
                        entries: vec![entry.into_bytes()],
                    };
                    let (done, server) = self
                        .run_followed(body, None, &mut |r| {
                            if let Response::Data(Data::Metadata { mailbox, entries }) = r {
                                let m = lossy(mailbox);
                                info_add(&mut info, &m, entries);
                                for (k, v) in entries {
                                    records.push(Record::Metadata {
                                        mailbox: m.clone(),
                                        entry: lossy(k),
                                        value: v.as_deref().map(lossy),
                                    });
                                }
                            }
                        })
                        .await?;
                    let ok = done.is_ok();
                    last = Some((done, server));
                    if !ok && inv.command == CommandId::GetMetadata {
                        break;
                    }
                }
                if let Ok(mut c) = self.cache.lock() {
                    for r in &records {
                        if let Record::Metadata {
                            entry,
                            value: Some(v),
                            ..
                        } = r
                        {
                            if entry.ends_with("/cyrus-imapd/server") {
                                c.servers.insert(v.clone());
                            } else if entry.ends_with("/cyrus-imapd/partition") {
                                c.partitions.insert(v.clone());
                            }
                        }
                    }
                }
                if let Some((done, server)) = last {
                    if !done.is_ok() {
                        return Err(Fail::Server {
                            server,
                            text: done.text,
                        });
                    }
                }
                if format == Format::Cyradm {
                    info_print(&info, io.out).map_err(io_err)?;
                } else {
                    let mut sink = Sink::new(format, io.out, width);
                    for r in &records {
                        sink.record(r).map_err(io_err)?;
                    }
                    sink.finish().map_err(io_err)?;
                }
                Ok(None)
            }
            CommandId::Help => {
                let width = std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(crate::help::DEFAULT_WIDTH);
                let h = crate::help::help(&inv.args, width);
                io.out.write_all(h.text.as_bytes()).map_err(io_err)?;
                if h.ok {
                    Ok(None)
                } else {
                    Err(Fail::Reported)
                }
            }
            CommandId::ListAcl => {
                let mailbox = arg(0);
                let mut sink = Sink::new(format, io.out, width);
                if has_wildcard(&mailbox) {
                    let boxes = self.list_names(&mailbox).await?;
                    let mut failed = false;
                    for l in boxes.iter().filter(|l| is_selectable(l)) {
                        let name = lossy(&l.mailbox);
                        if format == Format::Cyradm {
                            writeln!(sink.writer(), "{name}:").map_err(io_err)?;
                        }
                        match self.get_acl(&name).await {
                            Ok(entries) => {
                                for (id, rights) in entries {
                                    if format == Format::Cyradm {
                                        writeln!(sink.writer(), "  {id} {rights}")
                                            .map_err(io_err)?;
                                    } else {
                                        sink.record(&Record::Acl {
                                            mailbox: name.clone(),
                                            identifier: id,
                                            rights,
                                        })
                                        .map_err(io_err)?;
                                    }
                                }
                            }
                            Err(Fail::Server { server, text }) => {
                                // cyradm goes on with the next mailbox.
                                failed = true;
                                let _ = writeln!(io.err, "listacl: {server}: {name}: {text}");
                            }
                            Err(other) => return Err(other),
                        }
                    }
                    sink.finish().map_err(io_err)?;
                    if failed {
                        return Err(Fail::Reported);
                    }
                } else {
                    let entries = self.get_acl(&mailbox).await?;
                    for (id, rights) in entries {
                        if format == Format::Cyradm {
                            writeln!(sink.writer(), "{id} {rights}").map_err(io_err)?;
                        } else {
                            sink.record(&Record::Acl {
                                mailbox: mailbox.clone(),
                                identifier: id,
                                rights,
                            })
                            .map_err(io_err)?;
                        }
                    }
                    sink.finish().map_err(io_err)?;
                }
                Ok(None)
            }
            CommandId::ListMailbox => self.list_mailbox(inv, io).await.map(|_| None),
            CommandId::ListQuota | CommandId::ListQuotaRoot => {
                let name = arg(0);
                let root_cmd = inv.command == CommandId::ListQuotaRoot;
                let body = if root_cmd {
                    CommandBody::GetQuotaRoot {
                        mailbox: bytes(&name),
                    }
                } else {
                    CommandBody::GetQuota { root: bytes(&name) }
                };
                let mut roots: Vec<String> = Vec::new();
                let mut quotas: Vec<(String, Vec<QuotaUsage>)> = Vec::new();
                let (done, server) = self
                    .run_followed(body, None, &mut |r| match r {
                        Response::Data(Data::QuotaRoot { roots: rs, .. }) => {
                            roots.extend(rs.iter().map(|r| lossy(r)));
                        }
                        Response::Data(Data::Quota { root, resources }) => quotas.push((
                            lossy(root),
                            resources
                                .iter()
                                .map(|q| QuotaUsage {
                                    resource: q.name.as_str().to_string(),
                                    usage: q.usage,
                                    limit: q.limit,
                                })
                                .collect(),
                        )),
                        _ => {}
                    })
                    .await?;
                if !done.is_ok() {
                    return Err(Fail::Server {
                        server,
                        text: done.text,
                    });
                }
                let root = if root_cmd {
                    roots.first().cloned().unwrap_or_default()
                } else {
                    name.clone()
                };
                let resources: Vec<QuotaUsage> = quotas
                    .iter()
                    .filter(|(r, _)| *r == root)
                    .flat_map(|(_, q)| q.iter().cloned())
                    .collect();
                if format == Format::Cyradm {
                    let lead = if root_cmd { root.as_str() } else { "" };
                    writeln!(io.out, "{lead}{}", output::quota_items(&resources))
                        .map_err(io_err)?;
                } else {
                    let mut sink = Sink::new(format, io.out, width);
                    sink.record(&Record::Quota {
                        mailbox: root_cmd.then(|| name.clone()),
                        root,
                        resources,
                    })
                    .map_err(io_err)?;
                    sink.finish().map_err(io_err)?;
                }
                Ok(None)
            }
            CommandId::MboxCfg | CommandId::SetMetadata | CommandId::SetInfo => {
                let (mailbox, entry, value) = match inv.command {
                    CommandId::SetInfo => (
                        String::new(),
                        commands::setinfo_entry(&arg(0)).map_err(arg_err)?,
                        arg(1),
                    ),
                    CommandId::MboxCfg => (
                        arg(0),
                        commands::mboxcfg_entry(&arg(1), inv.flag("private")).map_err(arg_err)?,
                        arg(2),
                    ),
                    _ => (
                        arg(0),
                        commands::setmetadata_entry(&arg(1), inv.flag("private"))
                            .map_err(arg_err)?,
                        arg(2),
                    ),
                };
                if !self.conn()?.has_cap("METADATA") {
                    return Err(Fail::Server {
                        server: self.server_name(),
                        text: "Remote does not support METADATA.".into(),
                    });
                }
                let value = commands::metadata_value(&value).map(|v| v.as_bytes().to_vec());
                self.simple(
                    CommandBody::SetMetadata {
                        mailbox: mailbox.into_bytes(),
                        entries: vec![(entry.into_bytes(), value)],
                    },
                    None,
                )
                .await?;
                Ok(None)
            }
            CommandId::Reconstruct => {
                self.simple(
                    CommandBody::Reconstruct {
                        mailbox: bytes(&arg(0)),
                        recursive: inv.flag("r"),
                    },
                    None,
                )
                .await?;
                Ok(None)
            }
            CommandId::RenameMailbox => {
                let req = commands::rename_request(inv, false).map_err(arg_err)?;
                let body = CommandBody::Rename {
                    from: req.old.clone().into_bytes(),
                    to: req.new.clone().into_bytes(),
                    location: req.location.as_ref().map(|l| l.to_string().into_bytes()),
                };
                self.move_like(body).await?;
                if let Ok(mut c) = self.cache.lock() {
                    c.remove_mailbox(&req.old);
                    c.add_mailbox(&req.new);
                    if let Some(s) = req.location.as_ref().and_then(|l| l.server()) {
                        c.servers.insert(s.to_string());
                    }
                }
                Ok(None)
            }
            CommandId::Server => {
                let Some(target) = inv.args.first() else {
                    match format {
                        Format::Cyradm => {
                            if let Some(s) = self.server() {
                                writeln!(io.out, "{s}").map_err(io_err)?;
                            }
                        }
                        _ => {
                            let mut sink = Sink::new(format, io.out, width);
                            sink.record(&Record::Server {
                                server: self.server().map(str::to_string),
                            })
                            .map_err(io_err)?;
                            sink.finish().map_err(io_err)?;
                        }
                    }
                    return Ok(None);
                };
                self.connect(target, !inv.flag("noauthenticate"))
                    .await
                    .map_err(Fail::Local)?;
                Ok(None)
            }
            CommandId::SetAclMailbox => {
                let pairs_args = inv.args.get(1..).unwrap_or_default();
                commands::parse_acl_pairs(pairs_args).map_err(arg_err)?;
                let pairs: Vec<(String, String)> = pairs_args
                    .chunks(2)
                    .map(|c| {
                        (
                            c.first().cloned().unwrap_or_default(),
                            wire_rights(c.get(1).map_or("", |s| s.as_str())),
                        )
                    })
                    .collect();
                let mailbox = arg(0);
                if has_wildcard(&mailbox) {
                    let boxes = self.list_names(&mailbox).await?;
                    for l in boxes.iter().filter(|l| is_selectable(l)) {
                        let name = lossy(&l.mailbox);
                        if format == Format::Cyradm {
                            let _ = write!(io.out, "Setting ACL on {name}...");
                            let _ = io.out.flush();
                        }
                        let r = self.set_acl_on(&name, &pairs).await;
                        let error = fail_text(&r);
                        self.report_step(io, inv.command, &name, error.as_deref())?;
                        if r.is_err() {
                            return Err(Fail::Reported);
                        }
                    }
                    Ok(None)
                } else {
                    self.set_acl_on(&mailbox, &pairs).await.map(|_| None)
                }
            }
            CommandId::SetQuota => {
                let req = commands::parse_setquota(&inv.args).map_err(arg_err)?;
                if let (Some(n), Format::Cyradm) = (req.cyradm_notice(), format) {
                    writeln!(io.out, "{n}").map_err(io_err)?;
                }
                let limits: Vec<(Atom, u64)> = match &req.change {
                    QuotaChange::RemoveAll => Vec::new(),
                    QuotaChange::Set(pairs) => pairs
                        .iter()
                        .filter_map(|(r, v)| match v {
                            QuotaValue::Limit(n) => Atom::new(r.as_str()).ok().map(|a| (a, *n)),
                            QuotaValue::Unlimited => None,
                        })
                        .collect(),
                };
                self.simple(
                    CommandBody::SetQuota {
                        root: req.root.into_bytes(),
                        limits,
                    },
                    None,
                )
                .await?;
                Ok(None)
            }
            CommandId::Sieve => self.sieve(inv, io).await.map(|_| None),
            CommandId::Subscribe => {
                self.simple(
                    CommandBody::Subscribe {
                        mailbox: bytes(&arg(0)),
                    },
                    None,
                )
                .await?;
                Ok(None)
            }
            CommandId::Unsubscribe => {
                self.simple(
                    CommandBody::Unsubscribe {
                        mailbox: bytes(&arg(0)),
                    },
                    None,
                )
                .await?;
                Ok(None)
            }
            CommandId::LocalStart
            | CommandId::LocalStop
            | CommandId::LocalRestart
            | CommandId::LocalShow
            | CommandId::LocalLog => {
                let ctx = self.murder_ctx();
                match crate::local::run_command(inv, &ctx, io.out)
                    .await
                    .map_err(Fail::Local)?
                {
                    0 => Ok(None),
                    _ => Err(Fail::Reported),
                }
            }
            CommandId::ListMurder
            | CommandId::DiffMurder
            | CommandId::MurderStatus
            | CommandId::TestAuth
            | CommandId::ResyncMurder => {
                let ctx = self.murder_ctx();
                let code = match inv.command {
                    CommandId::ListMurder => crate::murder::list::run(inv, &ctx, io.out)
                        .await
                        .map(|_| 0)
                        .map_err(Fail::Local)?,
                    CommandId::DiffMurder => {
                        match crate::murder::diff::run(inv, &ctx, io.out, io.err).await {
                            Ok(c) => c,
                            Err(e) => {
                                let _ = writeln!(io.err, "murderdiff: {e}");
                                2
                            }
                        }
                    }
                    CommandId::ResyncMurder => {
                        crate::murder::resync::run(inv, &ctx, io.out, io.err)
                            .await
                            .map_err(Fail::Local)?
                    }
                    CommandId::TestAuth => crate::murder::testauth::run(inv, &ctx, io.out)
                        .await
                        .map_err(Fail::Local)?,
                    _ => crate::murder::status::run(inv, &ctx, io.out)
                        .await
                        .map_err(Fail::Local)?,
                };
                match code {
                    0 => Ok(None),
                    // A runbook tells "could not compare" (2) from "differences" (1); at the
                    // prompt both are just a failed command.
                    2 if !self.background_cache => Ok(Some(2)),
                    _ => Err(Fail::Reported),
                }
            }
            CommandId::MoveMailboxes => {
                let ctx = self.murder_ctx();
                let frontend = self.bulk_frontend(inv).map_err(Fail::Local)?;
                let code = crate::murder::bulkmove::run(inv, &ctx, frontend, io.out, io.err)
                    .await
                    .map_err(Fail::Local)?;
                if code == 0 {
                    Ok(None)
                } else {
                    Err(Fail::Reported)
                }
            }
            CommandId::Version => {
                let mut fields: Option<Vec<(String, Option<String>)>> = None;
                let (done, server) = self
                    .run_followed(CommandBody::Id(None), None, &mut |r| {
                        if let Response::Data(Data::Id(p)) = r {
                            fields = Some(
                                p.iter()
                                    .flatten()
                                    .map(|(k, v)| (lossy(k), v.as_deref().map(lossy)))
                                    .collect(),
                            );
                        }
                    })
                    .await?;
                if !done.is_ok() {
                    return Err(Fail::Server {
                        server,
                        text: done.text,
                    });
                }
                let fields = fields.unwrap_or_default();
                if format == Format::Cyradm {
                    if fields.is_empty() {
                        writeln!(io.out, "no version info returned by server").map_err(io_err)?;
                    }
                    for (k, v) in &fields {
                        let mut v = v.clone().unwrap_or_default();
                        if k == "environment" {
                            v = v.replace(';', "\n            ");
                        }
                        writeln!(io.out, "{k:<11}: {v}").map_err(io_err)?;
                    }
                } else {
                    let mut sink = Sink::new(format, io.out, width);
                    for (field, value) in fields {
                        sink.record(&Record::Version { field, value })
                            .map_err(io_err)?;
                    }
                    sink.finish().map_err(io_err)?;
                }
                Ok(None)
            }
            CommandId::XferMailbox => {
                let req = commands::xfer_request(inv).map_err(arg_err)?;
                let body = CommandBody::Xfer {
                    mailbox: req.mailbox.into_bytes(),
                    server: req
                        .location
                        .server()
                        .unwrap_or_default()
                        .as_bytes()
                        .to_vec(),
                    partition: req.location.partition().map(|p| p.as_bytes().to_vec()),
                };
                self.move_like(body).await?;
                Ok(None)
            }
        }
    }

    /// RENAME and XFER: an untagged `NO` during the command means part of the move failed
    /// even when the completion is OK (Cyrus answers `* NO USER bob (...)` then `OK`), so it
    /// counts as a failure here (cyradm prints it and reports success).
    async fn move_like(&mut self, body: CommandBody) -> Result<(), Fail> {
        let mut warnings = Vec::new();
        let (done, server) = self
            .run_followed(body, None, &mut |r| {
                if let Response::Status {
                    kind: protocol::imap::response::Condition::No,
                    text,
                } = r
                {
                    warnings.push(lossy(text.text.as_bytes()));
                }
            })
            .await?;
        if !done.is_ok() {
            return Err(Fail::Server {
                server,
                text: done.text,
            });
        }
        if !warnings.is_empty() {
            return Err(Fail::Server {
                server,
                text: warnings.join("; "),
            });
        }
        Ok(())
    }

    /// Progress of one step of a wildcard ACL command.
    fn report_step(
        &self,
        io: &mut Io<'_>,
        command: CommandId,
        name: &str,
        error: Option<&str>,
    ) -> Result<(), Fail> {
        let io_err = |e: io::Error| Fail::Local(e.to_string());
        if self.settings.format == Format::Cyradm {
            writeln!(io.out, "{}", error.unwrap_or("OK.")).map_err(io_err)
        } else {
            let mut sink = Sink::new(self.settings.format, io.out, self.settings.table_width);
            sink.record(&Record::Result {
                command: command.name().into(),
                mailbox: name.into(),
                ok: error.is_none(),
                error: error.map(str::to_string),
            })
            .map_err(io_err)?;
            sink.finish().map_err(io_err)
        }
    }

    /// DELETEACL for each identifier (every entry of the ACL when `ids` is `None`).
    async fn delete_acl_on(&mut self, mailbox: &str, ids: Option<Vec<String>>) -> Result<(), Fail> {
        let ids = match ids {
            Some(v) => v,
            None => self
                .get_acl(mailbox)
                .await?
                .into_iter()
                .map(|(i, _)| i)
                .collect(),
        };
        for id in ids {
            self.simple(
                CommandBody::DeleteAcl {
                    mailbox: mailbox.as_bytes().to_vec(),
                    identifier: id.into_bytes(),
                },
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// SETACL for each `(identifier, rights)` pair.
    async fn set_acl_on(&mut self, mailbox: &str, pairs: &[(String, String)]) -> Result<(), Fail> {
        for (id, rights) in pairs {
            self.simple(
                CommandBody::SetAcl {
                    mailbox: mailbox.as_bytes().to_vec(),
                    identifier: id.as_bytes().to_vec(),
                    rights: rights.as_bytes().to_vec(),
                },
                None,
            )
            .await?;
        }
        Ok(())
    }

    /// GETACL: the entries in the server's order.
    async fn get_acl(&mut self, mailbox: &str) -> Result<Vec<(String, String)>, Fail> {
        let mut entries = Vec::new();
        let (done, server) = self
            .run_followed(
                CommandBody::GetAcl {
                    mailbox: mailbox.as_bytes().to_vec(),
                },
                None,
                &mut |r| {
                    if let Response::Data(Data::Acl { entries: e, .. }) = r {
                        entries.extend(e.iter().map(|(i, r)| (lossy(i), lossy(r))));
                    }
                },
            )
            .await?;
        if done.is_ok() {
            Ok(entries)
        } else {
            Err(Fail::Server {
                server,
                text: done.text,
            })
        }
    }

    /// `listmailbox`: JSON and table stream as entries arrive; cyradm's format holds the
    /// entry texts (only) until the end, to sort them and lay out the columns.
    async fn list_mailbox(&mut self, inv: &Invocation, io: &mut Io<'_>) -> Result<(), Fail> {
        let pattern = inv.args.first().cloned().unwrap_or_else(|| "*".into());
        let reference = inv.args.get(1).cloned().unwrap_or_default();
        let opts = ListOptions {
            subscribed: inv.flag("subscribed"),
            specialuse: inv.flag("specialuse"),
            recursivematch: inv.flag("recursivematch"),
        };
        let conn = self.conn()?;
        let body = list_command(&|c| conn.has_cap(c), &pattern, &reference, opts).map_err(|t| {
            Fail::Server {
                server: self.server_name(),
                text: t,
            }
        })?;
        let format = self.settings.format;
        let columns = self.settings.columns;
        let width = self.settings.table_width;
        let cache = self.cache.clone();
        let mut texts: Vec<String> = Vec::new();
        let mut io_error: Option<io::Error> = None;
        let mut names_for_cache: Vec<String> = Vec::new();
        // Only an interactive session completes names; scripts keep memory flat.
        let fill_cache =
            self.background_cache && cache.lock().map(|c| c.wants_more()).unwrap_or(false);
        let mut sink = Sink::new(format, io.out, width);
        let (done, server) = self
            .run_followed(body, None, &mut |r| {
                let (Response::Data(Data::List(l)) | Response::Data(Data::Lsub(l))) = r else {
                    return;
                };
                if fill_cache && names_for_cache.len() < crate::cache::MAX_NAMES {
                    names_for_cache.push(lossy(&l.mailbox));
                }
                if format == Format::Cyradm {
                    texts.push(list_entry_text(l));
                } else if io_error.is_none() {
                    if let Err(e) = sink.record(&mailbox_record(l)) {
                        io_error = Some(e);
                    }
                }
            })
            .await?;
        if let Some(e) = io_error {
            return Err(Fail::Local(e.to_string()));
        }
        if !done.is_ok() {
            return Err(Fail::Server {
                server,
                text: done.text,
            });
        }
        if format == Format::Cyradm {
            output::cyradm_columns(&mut texts, columns, sink.writer())
                .map_err(|e| Fail::Local(e.to_string()))?;
        }
        sink.finish().map_err(|e| Fail::Local(e.to_string()))?;
        if !names_for_cache.is_empty() {
            if let Ok(mut c) = cache.lock() {
                for n in names_for_cache {
                    c.add_mailbox(&n);
                }
            }
        }
        Ok(())
    }
}

/// The message for a usage error: cyradm's `usage: …` for argument counts, and a complete
/// sentence for the rest.
pub fn usage_text(e: &UsageError) -> String {
    match e {
        UsageError::UnknownCommand { name } => {
            format!("{name}: unknown command; type help for the list of commands")
        }
        UsageError::Empty => "no command given".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::imap::command::Command;
    use protocol::imap::syntax::LiteralMode;
    use protocol::imap::types::Tag;

    fn wire(body: CommandBody) -> String {
        let c = Command {
            tag: Tag::new("1").unwrap(),
            body,
        };
        String::from_utf8(c.to_bytes(LiteralMode::NonSync)).unwrap()
    }

    const CYRUS: &[&str] = &[
        "MAILBOX-REFERRALS",
        "LIST-EXTENDED",
        "SPECIAL-USE",
        "METADATA",
        "CREATE-SPECIAL-USE",
    ];

    fn cyrus(c: &str) -> bool {
        CYRUS.contains(&c)
    }

    #[test]
    fn list_forms_follow_cyradm() {
        let b = list_command(&cyrus, "*", "", ListOptions::default()).unwrap();
        assert_eq!(
            wire(b),
            "1 LIST (REMOTE) \"\" * RETURN (SUBSCRIBED SPECIAL-USE)\r\n"
        );
        let b = list_command(
            &cyrus,
            "*",
            "",
            ListOptions {
                subscribed: true,
                specialuse: true,
                recursivematch: false,
            },
        )
        .unwrap();
        assert_eq!(
            wire(b),
            "1 LIST (REMOTE SUBSCRIBED SPECIAL-USE) \"\" * RETURN (SUBSCRIBED SPECIAL-USE)\r\n"
        );
        let only_ref = |c: &str| c == "MAILBOX-REFERRALS";
        let b = list_command(&only_ref, "user.%", "", ListOptions::default()).unwrap();
        assert_eq!(wire(b), "1 RLIST \"\" user.%\r\n");
        let none = |_: &str| false;
        let b = list_command(&none, "*", "", ListOptions::default()).unwrap();
        assert_eq!(wire(b), "1 LIST \"\" *\r\n");
        let sub = ListOptions {
            subscribed: true,
            ..Default::default()
        };
        assert_eq!(
            wire(list_command(&cyrus, "*", "", sub).unwrap()),
            "1 RLSUB \"\" *\r\n"
        );
        assert_eq!(
            wire(list_command(&none, "*", "", sub).unwrap()),
            "1 LSUB \"\" *\r\n"
        );
        let su = ListOptions {
            specialuse: true,
            ..Default::default()
        };
        assert_eq!(
            list_command(&none, "*", "", su).unwrap_err(),
            "Remote does not support SPECIAL-USE."
        );
    }

    #[test]
    fn info_layout_matches_cyradm_quirks() {
        // The Server Wide block real cyradm printed against Cyrus 3.6 (note the spaces
        // after every NIL but the last of each response).
        let mut info = InfoMap::new();
        let e = |k: &str| (k.as_bytes().to_vec(), None);
        info_add(
            &mut info,
            "",
            &[
                e("/private/vendor/cmu/cyrus-imapd/squat"),
                e("/private/vendor/cmu/cyrus-imapd/expire"),
                e("/private/comment"),
                e("/private/admin"),
            ],
        );
        info_add(
            &mut info,
            "user.alice",
            &[(
                b"/shared/vendor/cmu/cyrus-imapd/server".to_vec(),
                Some(b"backend1".to_vec()),
            )],
        );
        let mut out = Vec::new();
        info_print(&info, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{Server Wide}\n  private:\n    admin: NIL\n    comment: NIL \n    expire: NIL \n    squat: NIL \n\
             {user.alice}:\n  shared:\n    server: backend1\n"
        );
    }

    #[test]
    fn host_port() {
        assert_eq!(split_host_port("h", 143), ("h".into(), 143));
        assert_eq!(split_host_port("h:10143", 143), ("h".into(), 10143));
        assert_eq!(split_host_port("[::1]:5", 143), ("::1".into(), 5));
        assert_eq!(split_host_port("::1", 143), ("::1".into(), 143));
    }

    #[test]
    fn rights_aliases_on_the_wire() {
        assert_eq!(wire_rights("read"), "lrs");
        assert_eq!(wire_rights("none"), "");
        assert_eq!(wire_rights("+x"), "+x");
    }

    #[test]
    fn entry_text() {
        let l = MailboxList {
            attributes: vec![],
            delimiter: Some(b'.'),
            mailbox: b"user.a".to_vec(),
            extended: vec![ListExtItem::ChildInfo(vec![b"SUBSCRIBED".to_vec()])],
        };
        assert_eq!(
            list_entry_text(&l),
            "user.a (\"CHILDINFO\" (\"SUBSCRIBED\"))"
        );
    }
}
