//! The murder's own commands: looking at the murder as a whole rather than at one server.
//!
//! * `murderlist` (`lmurder`): the master's mailbox list over MUPDATE, streamed.
//! * `murderdiff` (`mdiff`): each backend's list, the master's and each frontend slave's,
//!   compared mailbox by mailbox ([`diff`]).
//! * `movemailboxes` (`mmove`, `bulkmove`): many users or mailboxes moved to one backend,
//!   N at a time, with a journal to resume from ([`bulkmove`]).
//! * `murderstatus` (`mstatus`): every server up or down, its banner and latency, and each
//!   frontend slave's connection to the master ([`status`]).
//!
//! Where the murder is comes from the local murder's state directory (`$MURDER_HOME`:
//! `murder.json` with the ports, and each host's `imapd.conf`), or from options
//! (`--mupdate HOST:PORT`, `--backend NAME=HOST:PORT`, ...).
//!
//! ```
//! use murder_shell::murder::diff::{diff, Entry, View, Views};
//!
//! let mut v = Views { master: Some(View::default()), ..Views::default() };
//! let mut b1 = View::default();
//! b1.insert("user.alice".to_string(), Entry::active("backend1!default", "alice\tlrs\t"));
//! v.backends.push(("backend1".into(), b1));
//! let report = diff(&v);
//! assert_eq!(report.findings.len(), 1); // not on the master
//! assert_eq!(report.exit_code(), 1);
//! ```

pub mod bulkmove;
pub mod diff;
pub mod list;
pub mod resync;
pub mod status;
pub mod testauth;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::commands::Invocation;
use crate::output::Format;

/// How long to wait for a server to answer a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a murder command needs from the session.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Output format.
    pub format: Format,
    /// Table width (see [`crate::output::Sink::new`]).
    pub width: Option<u16>,
    /// The shell's user.
    pub user: String,
    /// The shell's password, when it is known without prompting.
    pub password: Option<String>,
}

/// One host of the murder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its `servername` (`backend1`), or `host:port` when given only as an address.
    pub name: String,
    /// Address.
    pub host: String,
    /// Port of the service looked at (IMAP for backends and frontends, MUPDATE for the
    /// master and slaves).
    pub port: u16,
    /// Its configdirectory, when its files are on this machine.
    pub configdir: Option<PathBuf>,
}

/// The murder as the commands see it.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    /// The MUPDATE master.
    pub master: Option<Host>,
    /// Backends (IMAP).
    pub backends: Vec<Host>,
    /// Frontends (IMAP).
    pub frontends: Vec<Host>,
    /// Frontend MUPDATE slaves (the MUPDATE port of each frontend).
    pub slaves: Vec<Host>,
    /// The admin's credentials for the local murder.
    pub admin: Option<(String, String)>,
    /// The state directory of the local murder, if that is what this is.
    pub state_dir: Option<PathBuf>,
}

/// Reads one `key: value` of an `imapd.conf`.
pub fn conf_value(dir: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("imapd.conf")).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

impl Topology {
    /// The local murder in `dir` (`murder.json` with its ports), if there is one.
    pub fn local(dir: &Path) -> Option<Topology> {
        let text = std::fs::read_to_string(dir.join("murder.json")).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let ports: crate::local::Ports = serde_json::from_value(json.get("ports")?.clone()).ok()?;
        let host = |name: &str, port: u16| Host {
            name: name.to_owned(),
            host: "127.0.0.1".into(),
            port,
            configdir: Some(dir.join(name).join("conf")),
        };
        let admin_user = json
            .pointer("/admin/user")
            .and_then(|u| u.as_str())
            .unwrap_or("admin")
            .to_owned();
        let admin_pw = std::fs::read_to_string(dir.join("admin.pw"))
            .ok()
            .map(|p| p.trim().to_owned());
        Some(Topology {
            master: Some(host("mupdate", ports.master)),
            backends: vec![
                host("backend1", ports.backend1[0]),
                host("backend2", ports.backend2[0]),
            ],
            frontends: vec![host("frontend", ports.imap)],
            slaves: vec![host("frontend", ports.slave)],
            admin: admin_pw.map(|p| (admin_user, p)),
            state_dir: Some(dir.to_owned()),
        })
    }

    /// The topology for a command: the local murder (unless options replace parts of it),
    /// with `--mupdate`/`--master`, `--backend NAME=HOST:PORT`, `--frontend HOST:PORT` and
    /// `--slave HOST:PORT` applied on top.
    pub fn for_invocation(inv: &Invocation) -> Result<Topology, String> {
        let mut t = crate::app::state_dir()
            .and_then(|d| Topology::local(&d))
            .unwrap_or_default();
        if let Some(m) = inv.value("mupdate") {
            let (h, p) = crate::session::split_host_port(m, 3905);
            t.master = Some(Host {
                name: "master".into(),
                host: h,
                port: p,
                configdir: None,
            });
        }
        let addr = |s: &str, default: u16| -> Host {
            let (name, a) = match s.split_once('=') {
                Some((n, a)) => (n.to_owned(), a),
                None => (s.to_owned(), s),
            };
            let (h, p) = crate::session::split_host_port(a, default);
            Host {
                name,
                host: h,
                port: p,
                configdir: None,
            }
        };
        if let Some(b) = inv.value("backend") {
            t.backends = b
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| addr(s, 143))
                .collect();
        }
        if let Some(f) = inv.value("frontend") {
            t.frontends = f
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| addr(s, 143))
                .collect();
        }
        if let Some(s) = inv.value("slave") {
            t.slaves = s
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| addr(s, 3905))
                .collect();
        }
        Ok(t)
    }

    /// Credentials for the master: `--mupdate-user` (with the shell's password), else the
    /// local murder's admin, else the shell's user and password.
    pub fn credentials(&self, inv: &Invocation, ctx: &Ctx) -> Result<(String, String), String> {
        if let Some(u) = inv.value("mupdate-user") {
            let pw = ctx.password.clone().ok_or(
                "no password for --mupdate-user (give --password-file or MURDER_PASSWORD)",
            )?;
            return Ok((u.to_owned(), pw));
        }
        if let Some(a) = &self.admin {
            return Ok(a.clone());
        }
        match &ctx.password {
            Some(p) => Ok((ctx.user.clone(), p.clone())),
            None => Err(
                "no credentials for the master (give --password-file or MURDER_PASSWORD)".into(),
            ),
        }
    }
}

/// Connects to the master and logs in. The error is one line of diagnosis.
pub async fn connect_master(
    master: &Host,
    user: &str,
    password: &str,
) -> Result<daemons::mupdate::client::MupdateClient, String> {
    let creds = daemons::mupdate::client::Credentials {
        authname: user.to_owned(),
        username: None,
        password: password.to_owned(),
        mechs: None,
    };
    daemons::mupdate::client::connect_authenticated(
        &master.host,
        master.port,
        &creds,
        None,
        CONNECT_TIMEOUT,
    )
    .await
    .map_err(|e| {
        if e.is_connection() {
            format!(
                "mupdate is not reachable on {} ({}:{}): {e}",
                master.name, master.host, master.port
            )
        } else {
            format!(
                "the master {} ({}:{}) refuses {user}: {e}",
                master.name, master.host, master.port
            )
        }
    })
}

/// Output of the murder commands: one record per call, as a cyradm-style line, a row of a
/// table (paged, so memory stays bounded) or a JSON object on its own line.
pub struct Out<'a> {
    format: Format,
    width: Option<u16>,
    out: &'a mut dyn Write,
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    first: bool,
}

impl<'a> Out<'a> {
    /// Output to `out`.
    pub fn new(ctx: &Ctx, out: &'a mut dyn Write) -> Out<'a> {
        Out {
            format: ctx.format,
            width: ctx.width,
            out,
            headers: Vec::new(),
            rows: Vec::new(),
            first: true,
        }
    }

    /// One record: `line` for cyradm format, `fields` (name, value) for table and JSON;
    /// `kind` is the JSON `"type"`.
    pub fn record(
        &mut self,
        kind: &str,
        line: &str,
        fields: &[(&'static str, serde_json::Value)],
    ) -> io::Result<()> {
        let first = std::mem::replace(&mut self.first, false);
        match self.format {
            Format::Cyradm => writeln!(self.out, "{line}")?,
            Format::Json => {
                let mut m = serde_json::Map::new();
                m.insert("type".into(), kind.into());
                for (k, v) in fields {
                    m.insert((*k).into(), v.clone());
                }
                serde_json::to_writer(&mut *self.out, &serde_json::Value::Object(m))?;
                self.out.write_all(b"\n")?;
            }
            Format::Table => {
                let headers: Vec<&'static str> = fields.iter().map(|(k, _)| *k).collect();
                if !self.rows.is_empty() && headers != self.headers {
                    self.flush_table()?;
                }
                self.headers = headers;
                self.rows.push(
                    fields
                        .iter()
                        .map(|(_, v)| match v {
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Null => String::new(),
                            other => other.to_string(),
                        })
                        .collect(),
                );
                if self.rows.len() >= crate::output::TABLE_PAGE_ROWS {
                    self.flush_table()?;
                }
            }
        }
        if first {
            self.out.flush()?;
        }
        Ok(())
    }

    fn flush_table(&mut self) -> io::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut t = comfy_table::Table::new();
        t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
        match self.width {
            Some(0) => {
                t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
            }
            Some(w) => {
                t.force_no_tty();
                t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
                t.set_width(w);
            }
            None => {
                t.force_no_tty();
                t.set_content_arrangement(comfy_table::ContentArrangement::Disabled);
            }
        }
        t.set_header(self.headers.iter().copied());
        for row in self.rows.drain(..) {
            t.add_row(row);
        }
        writeln!(self.out, "{t}")?;
        self.out.flush()
    }

    /// Draws the last table page and flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush_table()?;
        self.out.flush()
    }
}

/// A string field.
pub fn s(v: impl Into<String>) -> serde_json::Value {
    serde_json::Value::String(v.into())
}
