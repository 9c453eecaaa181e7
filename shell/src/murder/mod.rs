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
//! Where the murder is comes from a topology file (`--topology FILE`, else
//! `$MURDER_HOME/topology.json` when it exists; see [`Topology::from_file`]), else the local
//! murder's state directory (`$MURDER_HOME`: `murder.json` with the ports, and each host's
//! `imapd.conf`), with options on top (`--mupdate HOST:PORT`, `--backend NAME=HOST:PORT`,
//! ...).
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
    /// Its configdirectory, when its files are on this machine and in our format (its
    /// mailboxes.db is then read directly).
    pub configdir: Option<PathBuf>,
    /// Its `imapd.conf`, when it is on this machine and not beside the configdirectory
    /// (a real Cyrus host): the role checks read identities from it.
    pub imapd_conf: Option<PathBuf>,
}

impl Host {
    /// A host known only by its address.
    pub fn at(name: &str, host: &str, port: u16) -> Host {
        Host {
            name: name.to_owned(),
            host: host.to_owned(),
            port,
            configdir: None,
            imapd_conf: None,
        }
    }

    /// The `imapd.conf` this host runs with, if it is on this machine: [`Host::imapd_conf`],
    /// else the one beside the configdirectory (the local murder's layout).
    pub fn conf_path(&self) -> Option<PathBuf> {
        self.imapd_conf.clone().or_else(|| {
            self.configdir
                .as_ref()
                .and_then(|c| c.parent())
                .map(|d| d.join("imapd.conf"))
        })
    }

    /// One `key: value` of this host's `imapd.conf`.
    pub fn conf(&self, key: &str) -> Option<String> {
        conf_file_value(&self.conf_path()?, key)
    }
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

/// Reads one `key: value` of the `imapd.conf` in `dir`.
pub fn conf_value(dir: &Path, key: &str) -> Option<String> {
    conf_file_value(&dir.join("imapd.conf"), key)
}

/// Reads one `key: value` of an `imapd.conf` file.
pub fn conf_file_value(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// The topology file looked for in `$MURDER_HOME` when `--topology` is not given.
pub const TOPOLOGY_FILE: &str = "topology.json";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HostFile {
    name: String,
    address: String,
    #[serde(default)]
    configdir: Option<PathBuf>,
    #[serde(default)]
    imapd_conf: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminFile {
    user: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyFile {
    #[serde(default)]
    master: Option<HostFile>,
    #[serde(default)]
    backends: Vec<HostFile>,
    #[serde(default)]
    frontends: Vec<HostFile>,
    #[serde(default)]
    slaves: Vec<HostFile>,
    #[serde(default)]
    admin: Option<AdminFile>,
}

impl Topology {
    /// A murder described by a JSON file, for murders other than the local one (a real
    /// Cyrus murder, a production one):
    ///
    /// ```json
    /// {
    ///   "master":    { "name": "mupdate",  "address": "10.0.0.5:3905",
    ///                  "imapd_conf": "/etc/cyrus/mupdate/imapd.conf" },
    ///   "backends":  [ { "name": "backend1", "address": "10.0.0.6:143" } ],
    ///   "frontends": [ { "name": "frontend", "address": "10.0.0.4:143" } ],
    ///   "slaves":    [ { "name": "frontend", "address": "10.0.0.4:3905" } ],
    ///   "admin":     { "user": "cyrus", "password_file": "admin.pw" }
    /// }
    /// ```
    ///
    /// A backend's `name` is its `servername`, the server part of its master locations.
    /// `imapd_conf` (optional) lets `testauth` check the murder's identities; `configdir`
    /// (optional, our daemons only) lets `murderdiff` read that host's mailboxes.db instead
    /// of asking over IMAP or MUPDATE. Relative paths are relative to the file. Without
    /// `admin`, the commands log in as the shell's user with its password.
    pub fn from_file(path: &Path) -> Result<Topology, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let f: TopologyFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let host = |h: HostFile, default_port: u16| -> Host {
            let (addr, port) = crate::session::split_host_port(&h.address, default_port);
            Host {
                configdir: h.configdir.map(|c| base.join(c)),
                imapd_conf: h.imapd_conf.map(|c| base.join(c)),
                ..Host::at(&h.name, &addr, port)
            }
        };
        let admin = match f.admin {
            None => None,
            Some(a) => {
                let pw = match (a.password, a.password_file) {
                    (Some(p), _) => p,
                    (None, Some(file)) => {
                        let file = base.join(file);
                        std::fs::read_to_string(&file)
                            .map_err(|e| format!("{}: {e}", file.display()))?
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    }
                    (None, None) => {
                        return Err(format!(
                            "{}: admin needs password or password_file",
                            path.display()
                        ))
                    }
                };
                Some((a.user, pw))
            }
        };
        Ok(Topology {
            master: f.master.map(|m| host(m, 3905)),
            backends: f.backends.into_iter().map(|h| host(h, 143)).collect(),
            frontends: f.frontends.into_iter().map(|h| host(h, 143)).collect(),
            slaves: f.slaves.into_iter().map(|h| host(h, 3905)).collect(),
            admin,
            state_dir: None,
        })
    }

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
            imapd_conf: None,
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
        let state = crate::app::state_dir();
        let file = inv.value("topology").map(PathBuf::from).or_else(|| {
            state
                .as_ref()
                .map(|d| d.join(TOPOLOGY_FILE))
                .filter(|f| f.exists())
        });
        let mut t = match file {
            Some(f) => Topology::from_file(&f)?,
            None => state
                .as_deref()
                .and_then(Topology::local)
                .unwrap_or_default(),
        };
        if let Some(m) = inv.value("mupdate") {
            let (h, p) = crate::session::split_host_port(m, 3905);
            t.master = Some(Host::at("master", &h, p));
        }
        let addr = |s: &str, default: u16| -> Host {
            let (name, a) = match s.split_once('=') {
                Some((n, a)) => (n.to_owned(), a),
                None => (s.to_owned(), s),
            };
            let (h, p) = crate::session::split_host_port(a, default);
            Host::at(&name, &h, p)
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
        let t = crate::output::table_page(self.width, &self.headers, self.rows.drain(..));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topology_file_describes_another_murder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin.pw"), "s3cret\n").unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(
            &path,
            r#"{
              "master": { "name": "mupdate", "address": "10.0.0.5", "imapd_conf": "m.conf" },
              "backends": [ { "name": "backend1", "address": "10.0.0.6:1143" } ],
              "frontends": [ { "name": "fe", "address": "10.0.0.4:143" } ],
              "slaves": [ { "name": "fe", "address": "10.0.0.4:3905" } ],
              "admin": { "user": "cyrus", "password_file": "admin.pw" }
            }"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("m.conf"),
            "# a comment: here\nadmins: cyrus b1\n",
        )
        .unwrap();
        let t = Topology::from_file(&path).unwrap();
        let m = t.master.unwrap();
        assert_eq!((m.host.as_str(), m.port), ("10.0.0.5", 3905));
        assert_eq!(m.conf("admins").as_deref(), Some("cyrus b1"));
        assert_eq!(t.backends[0].port, 1143);
        assert_eq!(t.backends[0].conf("admins"), None);
        assert_eq!(t.slaves[0].name, "fe");
        assert_eq!(t.admin, Some(("cyrus".into(), "s3cret".into())));
        assert!(t.state_dir.is_none());

        std::fs::write(&path, r#"{ "masters": [] }"#).unwrap();
        let e = Topology::from_file(&path).unwrap_err();
        assert!(e.contains("unknown field `masters`"), "{e}");
    }
}
