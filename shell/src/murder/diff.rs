//! `murderdiff`: each backend's own list, the master's list and each frontend slave's list,
//! compared mailbox by mailbox.
//!
//! Every list becomes a hash map keyed by name ([`View`]); [`diff`] then walks each map
//! once, so the work is linear in the number of entries (a million mailboxes on two
//! backends, the master and a slave take well under the 5 s budget; see the benchmark test).
//!
//! Findings:
//! * `duplicate`: a mailbox held by two backends (resync refuses it without `--winner`);
//! * `missing-on-master`: a backend holds it, the master does not know it;
//! * `extra-on-master`: the master places it on a backend that does not hold it;
//! * `wrong-location`: the master places it elsewhere than the backend that holds it (other
//!   server or partition);
//! * `acl-mismatch`: the master's ACL differs from the backend's;
//! * `missing-on-slave`, `extra-on-slave`, `slave-differs`: a frontend slave's copy differs
//!   from the master.
//!
//! Exit status for runbooks: 0 in sync, 1 differences, 2 error.

use std::collections::HashMap;

use daemons::mboxdb::{MailboxDb, MailboxEntry, MbState};

use super::{s, Ctx, Out, Topology};
use crate::commands::Invocation;

/// One list's entry for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `server!partition`.
    pub location: String,
    /// Cyrus's ACL string (`id\trights\t...`); empty for a reservation.
    pub acl: String,
    /// A reservation (an unfinished create or move), not a usable mailbox.
    pub reserved: bool,
}

impl Entry {
    /// A usable mailbox.
    pub fn active(location: &str, acl: &str) -> Entry {
        Entry {
            location: location.to_owned(),
            acl: acl.to_owned(),
            reserved: false,
        }
    }
}

/// The ACL of an entry read over IMAP `LIST`, which says nothing of ACLs (not compared).
pub const UNKNOWN_ACL: &str = "\u{0}unknown";

/// Whether a backend's entry and the master's agree on the place. An entry read over IMAP
/// has no partition (`backend1!`): then only the server is compared.
fn same_place(local: &str, master: &str) -> bool {
    match local.strip_suffix('!') {
        Some(server) => server_of(master) == server,
        None => local == master,
    }
}

/// A fast, non-cryptographic hash for mailbox names (the multiply-rotate scheme of rustc's
/// FxHash). SipHash's flooding resistance buys nothing here, since the names come from the
/// murder's own databases, and at a million names per list the faster hash halves the time.
#[derive(Debug, Default, Clone, Copy)]
pub struct NameHasher(u64);

impl NameHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        for &x in chunks.remainder() {
            self.add(u64::from(x));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The hasher of [`View`] and the comparison's own maps.
pub type FastHash = std::hash::BuildHasherDefault<NameHasher>;

/// One list: name → entry.
pub type View = HashMap<String, Entry, FastHash>;

/// Every list to compare. A backend's view holds only the mailboxes it really holds.
#[derive(Debug, Default, Clone)]
pub struct Views {
    /// The master's list, if it could be read.
    pub master: Option<View>,
    /// (servername, its mailboxes).
    pub backends: Vec<(String, View)>,
    /// (slave name, its list).
    pub slaves: Vec<(String, View)>,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `duplicate`, `missing-on-master`, ... (see the module documentation).
    pub kind: &'static str,
    /// The mailbox.
    pub mailbox: String,
    /// Where (a backend or slave name, or `master`).
    pub place: String,
    /// What one side says.
    pub expected: String,
    /// What the other says.
    pub found: String,
}

impl Finding {
    /// One line for the cyradm format.
    pub fn line(&self) -> String {
        match self.kind {
            "duplicate" => format!(
                "duplicate: {} is on {} (resync needs --winner {}=BACKEND)",
                self.mailbox, self.place, self.mailbox
            ),
            "missing-on-master" => format!(
                "missing on master: {} (on {} at {})",
                self.mailbox, self.place, self.found
            ),
            "extra-on-master" => format!(
                "extra on master: {} (master says {}, {} does not hold it)",
                self.mailbox, self.expected, self.place
            ),
            "wrong-location" => format!(
                "wrong location: {} is at {} but the master says {}",
                self.mailbox, self.found, self.expected
            ),
            "acl-mismatch" => format!(
                "acl mismatch: {} on {}: master \"{}\", {} \"{}\"",
                self.mailbox,
                self.place,
                super::list::acl_text(&self.expected),
                self.place,
                super::list::acl_text(&self.found)
            ),
            "missing-on-slave" => format!(
                "missing on slave {}: {} (master: {})",
                self.place, self.mailbox, self.expected
            ),
            "extra-on-slave" => format!(
                "extra on slave {}: {} ({})",
                self.place, self.mailbox, self.found
            ),
            _ => format!(
                "slave {} differs: {}: master {}, slave {}",
                self.place, self.mailbox, self.expected, self.found
            ),
        }
    }
}

/// What [`diff`] found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every difference, grouped by kind.
    pub findings: Vec<Finding>,
    /// Mailboxes compared (distinct names over all lists).
    pub compared: usize,
    /// Errors reading a list (the comparison is then partial).
    pub errors: Vec<String>,
}

impl Report {
    /// 0 in sync, 1 differences, 2 a list could not be read.
    pub fn exit_code(&self) -> i32 {
        if !self.errors.is_empty() {
            2
        } else if !self.findings.is_empty() {
            1
        } else {
            0
        }
    }

    /// The summary line.
    pub fn summary(&self) -> String {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for f in &self.findings {
            match counts.iter_mut().find(|(k, _)| *k == f.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((f.kind, 1)),
            }
        }
        let detail: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let state = if !self.errors.is_empty() {
            "incomplete"
        } else if self.findings.is_empty() {
            "in sync"
        } else {
            "out of sync"
        };
        if detail.is_empty() {
            format!("{} mailboxes compared: {state}", self.compared)
        } else {
            format!(
                "{} mailboxes compared: {state}: {}",
                self.compared,
                detail.join(", ")
            )
        }
    }
}

fn server_of(location: &str) -> &str {
    protocol::mupdate::split_location(location).0
}

/// Compares the lists. Linear in the number of entries.
pub fn diff(v: &Views) -> Report {
    let mut r = Report::default();
    // name → index of the first backend holding it; duplicates collected apart.
    let mut owner: HashMap<&str, usize, FastHash> = HashMap::default();
    let mut dups: HashMap<&str, Vec<usize>, FastHash> = HashMap::default();
    for (i, (_, view)) in v.backends.iter().enumerate() {
        owner.reserve(view.len());
        for name in view.keys() {
            if let Some(&first) = owner.get(name.as_str()) {
                dups.entry(name.as_str())
                    .or_insert_with(|| vec![first])
                    .push(i);
            } else {
                owner.insert(name.as_str(), i);
            }
        }
    }
    let mut dup_names: Vec<&&str> = dups.keys().collect();
    dup_names.sort();
    for name in dup_names {
        let places: Vec<String> = dups[*name]
            .iter()
            .filter_map(|&i| v.backends.get(i))
            .map(|(b, view)| {
                format!(
                    "{b} ({})",
                    view.get(*name).map(|e| e.location.as_str()).unwrap_or("")
                )
            })
            .collect();
        r.findings.push(Finding {
            kind: "duplicate",
            mailbox: (*name).to_owned(),
            place: places.join(" and "),
            expected: String::new(),
            found: String::new(),
        });
    }
    let mut compared = owner.len();
    if let Some(master) = &v.master {
        let mut missing = Vec::new();
        let mut wrong = Vec::new();
        let mut acl = Vec::new();
        for (name, &i) in &owner {
            if dups.contains_key(name) {
                continue;
            }
            let Some((b, view)) = v.backends.get(i) else {
                continue;
            };
            let Some(local) = view.get(*name) else {
                continue;
            };
            match master.get(*name) {
                None => missing.push(Finding {
                    kind: "missing-on-master",
                    mailbox: (*name).to_owned(),
                    place: b.clone(),
                    expected: String::new(),
                    found: local.location.clone(),
                }),
                Some(m) if !same_place(&local.location, &m.location) || m.reserved => {
                    wrong.push(Finding {
                        kind: "wrong-location",
                        mailbox: (*name).to_owned(),
                        place: b.clone(),
                        expected: if m.reserved {
                            format!("{} (reserved)", m.location)
                        } else {
                            m.location.clone()
                        },
                        found: local.location.clone(),
                    })
                }
                Some(m) if local.acl != UNKNOWN_ACL && m.acl != local.acl => acl.push(Finding {
                    kind: "acl-mismatch",
                    mailbox: (*name).to_owned(),
                    place: b.clone(),
                    expected: m.acl.clone(),
                    found: local.acl.clone(),
                }),
                Some(_) => {}
            }
        }
        let mut extra = Vec::new();
        for (name, m) in master {
            if owner.contains_key(name.as_str()) {
                continue;
            }
            compared += 1;
            let server = server_of(&m.location);
            // Only backends we looked at can be said not to hold it.
            if m.reserved || !v.backends.iter().any(|(b, _)| b == server) {
                continue;
            }
            extra.push(Finding {
                kind: "extra-on-master",
                mailbox: name.clone(),
                place: server.to_owned(),
                expected: m.location.clone(),
                found: String::new(),
            });
        }
        for (sname, view) in &v.slaves {
            for (name, m) in master {
                if m.reserved {
                    continue;
                }
                match view.get(name) {
                    None => r.findings.push(Finding {
                        kind: "missing-on-slave",
                        mailbox: name.clone(),
                        place: sname.clone(),
                        expected: m.location.clone(),
                        found: String::new(),
                    }),
                    Some(e) if e.location != m.location || e.acl != m.acl => {
                        r.findings.push(Finding {
                            kind: "slave-differs",
                            mailbox: name.clone(),
                            place: sname.clone(),
                            expected: m.location.clone(),
                            found: e.location.clone(),
                        })
                    }
                    Some(_) => {}
                }
            }
            for (name, e) in view {
                if e.reserved {
                    continue;
                }
                if master.get(name).is_none_or(|m| m.reserved) {
                    r.findings.push(Finding {
                        kind: "extra-on-slave",
                        mailbox: name.clone(),
                        place: sname.clone(),
                        expected: String::new(),
                        found: e.location.clone(),
                    });
                }
            }
        }
        for group in [&mut missing, &mut wrong, &mut acl, &mut extra] {
            group.sort_by(|a, b| a.mailbox.cmp(&b.mailbox));
        }
        let slave_findings = std::mem::take(&mut r.findings);
        let (dupl, mut slave_findings): (Vec<Finding>, Vec<Finding>) = slave_findings
            .into_iter()
            .partition(|f| f.kind == "duplicate");
        slave_findings.sort_by(|a, b| (a.kind, &a.mailbox).cmp(&(b.kind, &b.mailbox)));
        r.findings = dupl;
        r.findings.extend(missing);
        r.findings.extend(extra);
        r.findings.extend(wrong);
        r.findings.extend(acl);
        r.findings.extend(slave_findings);
    }
    r.compared = compared;
    r
}

/// A backend's own mailboxes from its mailboxes.db: usable entries only (not reservations,
/// tombstones, intermediates or pointers to other servers).
pub fn backend_view(entries: impl IntoIterator<Item = MailboxEntry>, servername: &str) -> View {
    let mut view = View::default();
    for e in entries {
        let usable = match e.state() {
            MbState::Local | MbState::Moving => true,
            MbState::Remote => e.server.as_deref() == Some(servername),
            _ => false,
        };
        if usable {
            let location = format!("{servername}!{}", e.partition);
            view.insert(
                e.name,
                Entry {
                    location,
                    acl: e.acl,
                    reserved: false,
                },
            );
        }
    }
    view
}

/// A slave's (or frontend's) list from its mailboxes.db: remote entries and reservations.
pub fn slave_view(entries: impl IntoIterator<Item = MailboxEntry>) -> View {
    let mut view = View::default();
    for e in entries {
        let reserved = match e.state() {
            MbState::Remote | MbState::Local | MbState::Moving => false,
            MbState::Reserved => true,
            _ => continue,
        };
        let location = e.location();
        view.insert(
            e.name,
            Entry {
                location,
                acl: e.acl,
                reserved,
            },
        );
    }
    view
}

/// The master's list as a view.
pub fn master_view(records: impl IntoIterator<Item = protocol::mupdate::MailboxRecord>) -> View {
    records
        .into_iter()
        .map(|r| {
            let e = Entry {
                location: r.location().to_owned(),
                acl: r.acl().unwrap_or("").to_owned(),
                reserved: r.acl().is_none(),
            };
            (r.name, e)
        })
        .collect()
}

/// Which view a local database gives.
#[derive(Debug, Clone)]
pub enum LocalList {
    /// A backend's own mailboxes; the string is its servername.
    Backend(String),
    /// A frontend slave's copy of the master's list.
    Slave,
}

/// Reads several mailboxes.db files at once, one thread each, into views (in order).
pub fn read_views(jobs: &[(std::path::PathBuf, LocalList)]) -> Vec<Result<View, String>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(dir, kind)| {
                scope.spawn(move || {
                    let entries = read_db(dir)?;
                    Ok(match kind {
                        LocalList::Backend(s) => backend_view(entries, s),
                        LocalList::Slave => slave_view(entries),
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("reading thread failed".into()))
            })
            .collect()
    })
}

/// Reads one mailboxes.db into a view.
fn read_db(configdir: &std::path::Path) -> Result<Vec<MailboxEntry>, String> {
    if !configdir.join(daemons::mboxdb::DB_DIR).exists() {
        return Err(format!("no mailboxes.db in {}", configdir.display()));
    }
    let db = MailboxDb::open_in(configdir).map_err(|e| e.to_string())?;
    db.all().map_err(|e| e.to_string())
}

/// Reads an MUPDATE server's list (the master, or a slave's MUPDATE port).
async fn mupdate_view(h: &super::Host, user: &str, pw: &str) -> Result<View, String> {
    let mut c = super::connect_master(h, user, pw).await?;
    let mut view = View::default();
    let r = c
        .list(None, |rec| {
            let e = Entry {
                location: rec.location().to_owned(),
                acl: rec.acl().unwrap_or("").to_owned(),
                reserved: rec.acl().is_none(),
            };
            view.insert(rec.name, e);
        })
        .await;
    c.logout().await;
    r.map_err(|e| format!("LIST on {}: {e}", h.name))?;
    Ok(view)
}

/// A backend's list over IMAP: `LIST "" "*"` as an admin, the backend identified by the
/// connection. LIST gives neither partition nor ACL, so only names and servers are compared.
async fn imap_view(
    h: &super::Host,
    tls: &crate::client::TlsSettings,
    servername: &str,
    user: &str,
    pw: &str,
) -> Result<View, String> {
    use crate::client::{Client, Credentials};
    use protocol::imap::response::{Data, Response};
    let mut c = Client::connect(&h.host, h.port, tls)
        .await
        .map_err(|e| e.to_string())?;
    c.authenticate(&Credentials::new(user, pw))
        .await
        .map_err(|e| e.to_string())?;
    let body = crate::session::list_command(&|_| false, "*", "", Default::default())?;
    let mut view = View::default();
    let done = c
        .run(body, &mut |r| {
            if let Response::Data(Data::List(l)) = r {
                let noselect = l.attributes.iter().any(|a| {
                    let a = a.to_string().to_ascii_lowercase();
                    a == "\\noselect" || a == "\\nonexistent"
                });
                if !noselect {
                    view.insert(
                        String::from_utf8_lossy(&l.mailbox).into_owned(),
                        Entry {
                            location: format!("{servername}!"),
                            acl: UNKNOWN_ACL.into(),
                            reserved: false,
                        },
                    );
                }
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    c.logout().await;
    if !done.is_ok() {
        return Err(format!("LIST refused: {}", done.text));
    }
    Ok(view)
}

/// Gathers every list of the murder.
pub async fn gather(topo: &Topology, user: &str, pw: &str) -> (Views, Vec<String>) {
    let mut views = Views::default();
    let mut errors = Vec::new();
    // The local murder's own CA, when there is one; else the system's.
    let tls = crate::client::TlsSettings {
        cafile: topo.state_dir.as_ref().map(|d| d.join("tls/ca.pem")),
        ..Default::default()
    };
    let servername = |b: &super::Host| b.conf("servername").unwrap_or_else(|| b.name.clone());
    // Local databases are read on threads while the master streams its list.
    let mut jobs = Vec::new();
    for b in &topo.backends {
        if let Some(dir) = &b.configdir {
            jobs.push((dir.clone(), LocalList::Backend(servername(b))));
        }
    }
    for sl in &topo.slaves {
        if let Some(dir) = &sl.configdir {
            jobs.push((dir.clone(), LocalList::Slave));
        }
    }
    let local = tokio::task::spawn_blocking(move || read_views(&jobs));
    let master = async {
        match &topo.master {
            Some(m) => mupdate_view(m, user, pw).await,
            None => Err("no master given (--mupdate HOST:PORT)".into()),
        }
    };
    let (master, local) = tokio::join!(master, local);
    match master {
        Ok(v) => views.master = Some(v),
        Err(e) => errors.push(e),
    }
    let mut local = match local {
        Ok(l) => l.into_iter(),
        Err(e) => {
            errors.push(format!("reading the local databases: {e}"));
            Vec::new().into_iter()
        }
    };
    for b in &topo.backends {
        let r = match &b.configdir {
            Some(_) => local.next().unwrap_or_else(|| Err("not read".into())),
            None => imap_view(b, &tls, &servername(b), user, pw).await,
        };
        match r {
            Ok(v) => views.backends.push((b.name.clone(), v)),
            Err(e) => errors.push(format!("{}: {e}", b.name)),
        }
    }
    for sl in &topo.slaves {
        let r = match &sl.configdir {
            Some(_) => local.next().unwrap_or_else(|| Err("not read".into())),
            None => mupdate_view(sl, user, pw).await,
        };
        match r {
            Ok(v) => views.slaves.push((sl.name.clone(), v)),
            Err(e) => errors.push(format!("slave {}: {e}", sl.name)),
        }
    }
    (views, errors)
}

/// Prints a report.
pub fn print(report: &Report, ctx: &Ctx, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut o = Out::new(ctx, out);
    for f in &report.findings {
        o.record(
            "murder_difference",
            &f.line(),
            &[
                ("kind", s(f.kind)),
                ("mailbox", s(f.mailbox.clone())),
                ("place", s(f.place.clone())),
                ("expected", s(f.expected.clone())),
                ("found", s(f.found.clone())),
            ],
        )?;
    }
    o.finish()?;
    drop(o);
    match ctx.format {
        crate::output::Format::Json => {
            let v = serde_json::json!({
                "type": "murder_diff_summary",
                "compared": report.compared,
                "differences": report.findings.len(),
                "errors": report.errors,
                "summary": report.summary(),
            });
            writeln!(out, "{v}")?;
        }
        _ => writeln!(out, "{}", report.summary())?,
    }
    out.flush()
}

/// Runs `murderdiff`; returns the exit code (0, 1 or 2).
pub async fn run(
    inv: &Invocation,
    ctx: &Ctx,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<i32, String> {
    let topo = Topology::for_invocation(inv)?;
    let (user, pw) = topo.credentials(inv, ctx)?;
    let (views, errors) = gather(&topo, &user, &pw).await;
    let mut report = diff(&views);
    report.errors = errors;
    for e in &report.errors {
        let _ = writeln!(err, "murderdiff: {e}");
    }
    print(&report, ctx, out).map_err(|e| e.to_string())?;
    Ok(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use daemons::mboxdb::MbFlags;

    fn local(name: &str, partition: &str, acl: &str) -> MailboxEntry {
        MailboxEntry {
            name: name.into(),
            partition: partition.into(),
            acl: acl.into(),
            uniqueid: format!("u-{name}"),
            ..Default::default()
        }
    }

    fn kinds(r: &Report) -> Vec<(&str, &str)> {
        r.findings
            .iter()
            .map(|f| (f.kind, f.mailbox.as_str()))
            .collect()
    }

    #[test]
    fn every_kind_of_difference() {
        let acl = "alice\tlrs\t";
        let b1 = backend_view(
            vec![
                local("user.ok", "default", acl),
                local("user.nomaster", "default", acl),
                local("user.dup", "default", acl),
                local("user.moved", "p2", acl),
                local("user.acl", "default", "alice\tlrswipkxtecdan\t"),
                MailboxEntry {
                    flags: MbFlags::RESERVED,
                    ..local("user.reserved", "default", "")
                },
            ],
            "backend1",
        );
        let b2 = backend_view(vec![local("user.dup", "default", acl)], "backend2");
        let mut master = View::default();
        for (n, loc) in [
            ("user.ok", "backend1!default"),
            ("user.dup", "backend1!default"),
            ("user.moved", "backend1!default"),
            ("user.acl", "backend1!default"),
            ("user.gone", "backend2!default"),
            ("user.elsewhere", "backend9!default"),
        ] {
            master.insert(n.into(), Entry::active(loc, acl));
        }
        let mut slave = master.clone();
        slave.remove("user.ok");
        slave.insert("user.stale".into(), Entry::active("backend1!default", acl));
        slave.insert(
            "user.acl".into(),
            Entry::active("backend1!default", "x\tl\t"),
        );
        let v = Views {
            master: Some(master),
            backends: vec![("backend1".into(), b1), ("backend2".into(), b2)],
            slaves: vec![("frontend".into(), slave)],
        };
        let r = diff(&v);
        assert_eq!(
            kinds(&r),
            [
                ("duplicate", "user.dup"),
                ("missing-on-master", "user.nomaster"),
                ("extra-on-master", "user.gone"),
                ("wrong-location", "user.moved"),
                ("acl-mismatch", "user.acl"),
                ("extra-on-slave", "user.stale"),
                ("missing-on-slave", "user.ok"),
                ("slave-differs", "user.acl"),
            ]
        );
        assert_eq!(r.exit_code(), 1);
        assert!(r.summary().contains("out of sync"), "{}", r.summary());
        assert!(r.findings[0]
            .line()
            .contains("backend1 (backend1!default) and backend2"));
    }

    #[test]
    fn in_sync_and_errors() {
        let acl = "alice\tlrs\t";
        let b1 = backend_view(vec![local("user.a", "default", acl)], "backend1");
        let mut master = View::default();
        master.insert("user.a".into(), Entry::active("backend1!default", acl));
        let v = Views {
            master: Some(master.clone()),
            backends: vec![("backend1".into(), b1)],
            slaves: vec![("frontend".into(), master)],
        };
        let mut r = diff(&v);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.exit_code(), 0);
        assert_eq!(r.summary(), "1 mailboxes compared: in sync");
        r.errors.push("master down".into());
        assert_eq!(r.exit_code(), 2);
    }

    /// Writes `n` synthetic mailboxes per list to real mailboxes.db files and times reading
    /// them plus the comparison. `MURDER_DIFF_BENCH=1000000` for the full figure (release).
    #[test]
    fn diff_speed() {
        let n: usize = std::env::var("MURDER_DIFF_BENCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20_000);
        let dir = tempfile::tempdir().unwrap();
        let acl = "admin\tlrswipkxtecda\tanyone\tlrs\t";
        let name = |i: usize| format!("user.u{i:07}");
        let (b1, b2, fe) = (
            dir.path().join("b1"),
            dir.path().join("b2"),
            dir.path().join("fe"),
        );
        let write = |path: &std::path::Path, f: &dyn Fn(usize) -> Option<MailboxEntry>| {
            let db = MailboxDb::open_in(path).unwrap();
            db.write(|tx| {
                for i in 0..n {
                    if let Some(e) = f(i) {
                        tx.put(&e);
                    }
                }
                Ok(())
            })
            .unwrap();
        };
        write(&b1, &|i| {
            (i % 2 == 0).then(|| local(&name(i), "default", acl))
        });
        write(&b2, &|i| {
            (i % 2 == 1).then(|| local(&name(i), "default", acl))
        });
        let loc = |i: usize| format!("backend{}!default", 1 + i % 2);
        write(&fe, &|i| {
            Some(daemons::mupdate::slave::entry_from_record(
                &protocol::mupdate::MailboxRecord::active(name(i), loc(i), acl),
            ))
        });
        let master: View = (0..n)
            .map(|i| (name(i), Entry::active(&loc(i), acl)))
            .collect();
        let start = std::time::Instant::now();
        let mut read = read_views(&[
            (b1, LocalList::Backend("backend1".into())),
            (b2, LocalList::Backend("backend2".into())),
            (fe, LocalList::Slave),
        ])
        .into_iter()
        .map(|r| r.unwrap());
        let mut next = || read.next().unwrap();
        let v = Views {
            master: Some(master),
            backends: vec![("backend1".into(), next()), ("backend2".into(), next())],
            slaves: vec![("frontend".into(), next())],
        };
        let read = start.elapsed();
        let r = diff(&v);
        let total = start.elapsed();
        eprintln!(
            "diff of {n} mailboxes (2 backends, master, 1 slave): read {read:?}, total {total:?}"
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings.first());
        assert_eq!(r.compared, n);
    }
}
