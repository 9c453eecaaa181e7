//! The library side of `ctl_mboxlist`: the Cyrus 3.6 JSON dump format of `mailboxes.db`
//! (`-d`/`-u`), and the backend → master reconciliation of `-m` (reference §2.10, §2.11), split
//! into a [`plan`] that changes nothing and the steps that carry it out, so `-m -w` and the
//! shell's "resync" share one decision procedure.
//!
//! # How `-m` differs from Cyrus (on purpose)
//!
//! * **Reconciled by key.** Cyrus merges the master's `LIST "<servername>!"` with its local
//!   iteration as two ordered streams and aborts with "mupdate said not us before it said us"
//!   when the orders differ (issue #4946, reference §10 item 1). We put the LIST answer in a map
//!   keyed by mailbox name and look each local entry up in it, so the master's order does not
//!   matter and that abort cannot happen. A name the master did not list is looked up with
//!   `FIND`, as Cyrus does; if FIND says the master has it at *our* server after all (it changed
//!   between LIST and FIND) it is treated as if it had been listed.
//! * **No local data is deleted as a side effect.** A local mailbox that the master assigns to
//!   another server becomes a [`Action::RemoveLocal`] in the plan, which `-w` prints as Cyrus
//!   does, but [`remove_local`] only runs when the caller has consent (`--delete-local`, or `-i`
//!   answered `y`). Otherwise the binary reports the conflict and leaves the mailbox alone
//!   (reference §10 item 8: a changed `servername` must not wipe a backend).
//! * **Only usable local mailboxes are pushed.** The walk covers local and MOVING entries.
//!   Tombstones and intermediates are skipped (as in Cyrus); reservations and remote pointers
//!   (entries naming another server) are skipped too and reported as [`Plan::notes`]: Cyrus
//!   3.6 force-activates them, which claims another server's mailbox at the master, and for a
//!   reservation contradicts its own removal step.
//!
//! ```
//! use daemons::ctl_mboxlist::{plan, Action, MasterView, PlanOptions};
//! use daemons::mboxdb::MailboxEntry;
//! use protocol::mupdate::MailboxRecord;
//!
//! let local = vec![MailboxEntry {
//!     name: "user.bob".into(),
//!     partition: "default".into(),
//!     acl: "bob\tlrswipkxtecdan\t".into(),
//!     ..Default::default()
//! }];
//! let master = MasterView {
//!     listed: vec![MailboxRecord::active("user.gone", "be1!default", "x\tl\t")],
//!     found: [("user.bob".to_string(), None)].into_iter().collect(),
//! };
//! let p = plan(&local, &master, &PlanOptions::new("be1"));
//! let lines: Vec<String> = p.actions.iter().map(Action::warn_line).collect();
//! assert_eq!(lines, ["Remove from MUPDATE: user.gone", "Force Activate: user.bob"]);
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use protocol::mupdate::MailboxRecord;

use crate::mboxdb::{DbError, MailboxDb, MailboxEntry, MbFlags, MbState};
use crate::mupdate::client::{ClientError, MupdateClient};

/// Errors of `ctl_mboxlist`'s library side. The MUPDATE variants display Cyrus's own line
/// (`couldn't do LIST command on mupdate server`, ...); the cause is their `source()`.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The dump given to `-u` is not a JSON object.
    #[error("parse error: {0}")]
    Parse(String),
    /// The local database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// `LIST` failed (Cyrus's wording, then the cause).
    #[error("couldn't do LIST command on mupdate server")]
    List(#[source] ClientError),
    /// `FIND` failed.
    #[error("couldn't do FIND command on mupdate server for {name}")]
    Find {
        /// The mailbox.
        name: String,
        /// Why.
        #[source]
        source: ClientError,
    },
    /// A removal from the master failed (fatal in Cyrus too).
    #[error("couldn't mupdate delete {name}")]
    Delete {
        /// The mailbox.
        name: String,
        /// Why.
        #[source]
        source: ClientError,
    },
    /// The connection was lost while storing (Cyrus: "permanent failure storing").
    #[error("permanent failure storing '{name}'")]
    Permanent {
        /// The mailbox being stored.
        name: String,
        /// Why.
        #[source]
        source: ClientError,
    },
}

// ---------------------------------------------------------------------------------------------
// The JSON dump (3.6+ form)
// ---------------------------------------------------------------------------------------------

/// Which entries `-d` prints.
#[derive(Debug, Clone, Default)]
pub struct DumpFilter {
    /// `-y`: include intermediate placeholders.
    pub intermediates: bool,
    /// `-p`: only this partition.
    pub partition: Option<String>,
}

impl DumpFilter {
    /// Whether `e` is dumped. Tombstones always are (Cyrus 3.6 does the same).
    pub fn accepts(&self, e: &MailboxEntry) -> bool {
        if e.flags.contains(MbFlags::INTERMEDIATE) && !self.intermediates {
            return false;
        }
        match &self.partition {
            Some(p) => &e.partition == p,
            None => true,
        }
    }
}

fn json_str(out: &mut String, s: &str) {
    // serde_json escapes exactly what jansson (Cyrus's JSON library) escapes with its default
    // flags: `"`, `\` and control characters; UTF-8 and `/` pass through.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// Cyrus's TAB-separated ACL (`id\trights\t...`) as `(identifier, rights)` pairs, in order.
pub fn acl_pairs(acl: &str) -> Vec<(&str, &str)> {
    let mut parts = acl.split('\t');
    let mut out = Vec::new();
    while let (Some(id), Some(rights)) = (parts.next(), parts.next()) {
        if !id.is_empty() {
            out.push((id, rights));
        }
    }
    out
}

/// One entry's line in the dump: `"<name>": {...}` (without the separator), byte for byte as
/// Cyrus 3.6 prints it (transcripts 04).
pub fn dump_line(e: &MailboxEntry) -> String {
    let mut s = String::with_capacity(256);
    json_str(&mut s, &e.name);
    s.push_str(": {\"name\": ");
    json_str(&mut s, &e.name);
    let _ = write!(
        s,
        ", \"mtime\": \"{}\", \"uidvalidity\": \"{}\", \"createdmodseq\": \"{}\", \
         \"foldermodseq\": \"{}\", \"mbtype\": ",
        e.mtime, e.uidvalidity, e.createdmodseq, e.foldermodseq
    );
    json_str(&mut s, &e.mbtype_letters());
    s.push_str(", \"partition\": ");
    json_str(&mut s, &e.partition);
    if let Some(server) = &e.server {
        s.push_str(", \"server\": ");
        json_str(&mut s, server);
    }
    s.push_str(", \"acl\": {");
    for (i, (id, rights)) in acl_pairs(&e.acl).into_iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        json_str(&mut s, id);
        s.push_str(": ");
        json_str(&mut s, rights);
    }
    s.push('}');
    if !e.uniqueid.is_empty() {
        s.push_str(", \"uniqueid\": ");
        json_str(&mut s, &e.uniqueid);
    }
    // We keep no rename history (Cyrus 3.6's undump drops it as well).
    s.push_str(", \"name_history\": []}");
    s
}

/// The whole dump: `{`, the entries separated by `,\n`, `}` (an empty database prints
/// `{\n\n}\n`, as Cyrus does).
pub fn dump_text<'a>(entries: impl IntoIterator<Item = &'a MailboxEntry>) -> String {
    let lines: Vec<String> = entries.into_iter().map(dump_line).collect();
    format!("{{\n{}\n}}\n", lines.join(",\n"))
}

/// What `-u` read: the entries to store and a message for each entry it skipped or repaired
/// (Cyrus's `missing <field> for <name>` lines).
#[derive(Debug, Default)]
pub struct Undump {
    /// Entries to store, in input order.
    pub entries: Vec<MailboxEntry>,
    /// Messages for stderr.
    pub warnings: Vec<String>,
}

/// A JSON object with its keys in input order (ACL order is meaningful; serde_json's own map
/// would sort it).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, serde_json::Value>()? {
                    v.push((k, val));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// One mailbox object, with its members in order (so the ACL object keeps its order).
struct Record(Vec<(String, RecordValue)>);

enum RecordValue {
    Acl(Vec<(String, serde_json::Value)>),
    Other(serde_json::Value),
}

impl<'de> serde::Deserialize<'de> for Record {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Record;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mailbox object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Record, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    let val = if k == "acl" {
                        RecordValue::Acl(m.next_value::<Ordered>()?.0)
                    } else {
                        RecordValue::Other(m.next_value()?)
                    };
                    v.push((k, val));
                }
                Ok(Record(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Top level: name → mailbox object, in input order.
struct Top(Vec<(String, Record)>);

impl<'de> serde::Deserialize<'de> for Top {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Top;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("'{' starting the dump's object of mailboxes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Top, A::Error> {
                let mut v = Vec::new();
                while let Some((k, r)) = m.next_entry::<String, Record>()? {
                    v.push((k, r));
                }
                Ok(Top(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses a 3.6+ JSON dump (what `-d` prints) for `-u`. `now` becomes every entry's mtime (Cyrus
/// resets it too). Numbers are accepted as JSON strings (Cyrus's form) or plain numbers; an entry
/// is skipped, with a warning, when it lacks a partition, has a bad `mbtype`, or (for a local
/// mailbox) lacks its `uniqueid`. Remote and reserved entries (a frontend's or the master's dump)
/// may lack the uniqueid: MUPDATE never carries it.
pub fn parse_dump(text: &str, now: i64) -> Result<Undump, CtlError> {
    let top: Top = serde_json::from_str(text).map_err(|e| CtlError::Parse(e.to_string()))?;
    let mut out = Undump::default();
    for (name, rec) in top.0 {
        let mut e = MailboxEntry {
            name: name.clone(),
            mtime: now,
            ..Default::default()
        };
        let mut partition = None;
        let mut uniqueid = None;
        let mut skip = false;
        for (key, val) in rec.0 {
            let v = match val {
                RecordValue::Acl(pairs) => {
                    let mut acl = String::new();
                    for (id, rights) in pairs {
                        let r = rights.as_str().unwrap_or_default();
                        let _ = write!(acl, "{id}\t{r}\t");
                    }
                    e.acl = acl;
                    continue;
                }
                RecordValue::Other(v) => v,
            };
            let num = |field: &str, warnings: &mut Vec<String>| -> u64 {
                match &v {
                    serde_json::Value::String(s) => s.parse().ok(),
                    serde_json::Value::Number(n) => n.as_u64(),
                    _ => None,
                }
                .unwrap_or_else(|| {
                    warnings.push(format!("missing {field} for {name}"));
                    0
                })
            };
            match key.as_str() {
                "uidvalidity" => {
                    e.uidvalidity =
                        u32::try_from(num("uidvalidity", &mut out.warnings)).unwrap_or_default()
                }
                "createdmodseq" => e.createdmodseq = num("createdmodseq", &mut out.warnings),
                "foldermodseq" => e.foldermodseq = num("foldermodseq", &mut out.warnings),
                "mbtype" => {
                    let letters = v.as_str().unwrap_or_default();
                    if e.set_mbtype_letters(letters).is_err() {
                        out.warnings
                            .push(format!("invalid mbtype {letters:?} for {name}"));
                        skip = true;
                    }
                }
                "partition" => partition = v.as_str().map(str::to_owned),
                "server" => e.server = v.as_str().filter(|s| !s.is_empty()).map(str::to_owned),
                "uniqueid" => uniqueid = v.as_str().map(str::to_owned),
                // `name` repeats the key; mtime is reset; jmapId, legacy_specialuse and
                // name_history have no place in our entry (Cyrus 3.6's undump drops them too).
                _ => {}
            }
        }
        match partition {
            Some(p) => e.partition = p,
            None => {
                out.warnings.push(format!("missing partition for {name}"));
                continue;
            }
        }
        let needs_uniqueid = matches!(e.state(), MbState::Local | MbState::Moving)
            || e.flags.contains(MbFlags::DELETED) && e.server.is_none();
        match uniqueid {
            Some(u) if !u.is_empty() => e.uniqueid = u,
            _ if needs_uniqueid => {
                out.warnings.push(format!("missing uniqueid for {name}"));
                continue;
            }
            _ => {}
        }
        if !skip {
            out.entries.push(e);
        }
    }
    Ok(out)
}

/// Stores an undump in one transaction, replacing entries of the same name and keeping the
/// others (Cyrus merges the same way). Local only: nothing is sent to MUPDATE.
pub fn undump(db: &MailboxDb, entries: &[MailboxEntry]) -> Result<usize, CtlError> {
    db.write(|tx| {
        for e in entries {
            tx.put(e);
        }
        Ok(entries.len())
    })
    .map_err(CtlError::from)
}

// ---------------------------------------------------------------------------------------------
// -m: the plan
// ---------------------------------------------------------------------------------------------

/// What the master said: the answer to `LIST "<servername>!"` and the answers to `FIND` for
/// local names it did not list (`None`: not found).
#[derive(Debug, Clone, Default)]
pub struct MasterView {
    /// The LIST answer, in the master's order.
    pub listed: Vec<MailboxRecord>,
    /// FIND answers by name.
    pub found: HashMap<String, Option<MailboxRecord>>,
}

/// Settings of one reconciliation.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// This host's `servername`.
    pub servername: String,
    /// `-a`: local is authoritative; no FIND, every unlisted or differing mailbox is activated.
    pub authoritative: bool,
    /// `mupdate_config: unified`: local mailboxes held elsewhere are never removed.
    pub unified: bool,
}

impl PlanOptions {
    /// Standard, non-authoritative options for `servername`.
    pub fn new(servername: &str) -> Self {
        PlanOptions {
            servername: servername.to_owned(),
            authoritative: false,
            unified: false,
        }
    }

    /// `<servername>!<partition>`: where a local mailbox is, as MUPDATE says it.
    pub fn realpart(&self, partition: &str) -> String {
        format!("{}!{partition}", self.servername)
    }
}

/// One change the reconciliation makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The master lists the name at us, but we hold no usable mailbox: `DELETE name`.
    RemoveFromMupdate {
        /// The mailbox.
        name: String,
    },
    /// Tell the master the mailbox is here: `ACTIVATE name location acl`.
    ForceActivate {
        /// The mailbox.
        name: String,
        /// `<servername>!<partition>`.
        location: String,
        /// The local ACL.
        acl: String,
    },
    /// A stale MOVING entry: clear MOVING, REMOTE and the server locally, then
    /// `ACTIVATE name location acl`.
    RemoveRemoteFlag {
        /// The mailbox.
        name: String,
        /// `<servername>!<partition>`.
        location: String,
        /// The local ACL.
        acl: String,
    },
    /// The master has the name at another server: the local copy is stale. Carried out only
    /// with consent ([`remove_local`]).
    RemoveLocal {
        /// The mailbox.
        name: String,
        /// Where the master has it.
        master_location: String,
    },
}

impl Action {
    /// The mailbox the action is about.
    pub fn name(&self) -> &str {
        match self {
            Action::RemoveFromMupdate { name }
            | Action::ForceActivate { name, .. }
            | Action::RemoveRemoteFlag { name, .. }
            | Action::RemoveLocal { name, .. } => name,
        }
    }

    /// The line `ctl_mboxlist -m -w` prints for it, verbatim as Cyrus prints it.
    pub fn warn_line(&self) -> String {
        match self {
            Action::RemoveFromMupdate { name } => format!("Remove from MUPDATE: {name}"),
            Action::ForceActivate { name, .. } => format!("Force Activate: {name}"),
            Action::RemoveRemoteFlag { name, .. } => format!("Remove remote flag on: {name}"),
            Action::RemoveLocal { name, .. } => format!("Remove Local Mailbox: {name}"),
        }
    }
}

/// The outcome of [`plan`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The changes, in Cyrus's order: removals from the master (in reverse LIST order, as Cyrus
    /// prints them), then the local walk's actions in local key order.
    pub actions: Vec<Action>,
    /// Local mailboxes already in sync with the master.
    pub in_sync: usize,
    /// Entries left alone and why (reservations, remote pointers), for stderr.
    pub notes: Vec<String>,
}

impl Plan {
    /// The actions that delete local mailboxes.
    pub fn local_removals(&self) -> impl Iterator<Item = &Action> {
        self.actions
            .iter()
            .filter(|a| matches!(a, Action::RemoveLocal { .. }))
    }
}

/// Whether a local entry is a mailbox this host holds (Cyrus's `mboxlist_lookup` succeeds and
/// it is not a pointer elsewhere).
fn usable(e: &MailboxEntry, servername: &str) -> bool {
    match e.state() {
        MbState::Local | MbState::Moving => true,
        // An entry with REMOTE naming ourselves is a local mailbox recorded the unified way.
        MbState::Remote => e.server.as_deref() == Some(servername),
        _ => false,
    }
}

/// The local names that need a `FIND`: usable, not listed, and not authoritative.
pub fn names_to_find(
    local: &[MailboxEntry],
    listed: &[MailboxRecord],
    opts: &PlanOptions,
) -> Vec<String> {
    if opts.authoritative {
        return Vec::new();
    }
    let listed: HashSet<&str> = listed.iter().map(|r| r.name.as_str()).collect();
    local
        .iter()
        .filter(|e| usable(e, &opts.servername) && !listed.contains(e.name.as_str()))
        .map(|e| e.name.clone())
        .collect()
}

/// Computes the reconciliation (reference §2.10) without changing anything. `local` is every
/// local entry in key order (tombstones and intermediates included; they are skipped here).
pub fn plan(local: &[MailboxEntry], master: &MasterView, opts: &PlanOptions) -> Plan {
    let by_name: BTreeMap<&str, &MailboxEntry> =
        local.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut out = Plan::default();

    // Step 2/3: names the master places here that we do not hold.
    let mut listed: HashMap<&str, &MailboxRecord> = HashMap::new();
    let mut removals = Vec::new();
    for r in &master.listed {
        match by_name.get(r.name.as_str()) {
            Some(e) if usable(e, &opts.servername) => {
                listed.insert(r.name.as_str(), r);
            }
            Some(e) if e.state() == MbState::Remote => out.notes.push(format!(
                "{}: the master has it here, but the local entry points to {}; left alone",
                e.name,
                e.server.as_deref().unwrap_or("another server")
            )),
            _ => removals.push(Action::RemoveFromMupdate {
                name: r.name.clone(),
            }),
        }
    }
    // Cyrus collects removals on a stack and so prints them last-listed first.
    removals.reverse();
    out.actions.extend(removals);

    // Step 4: walk the local entries.
    for e in local {
        if !usable(e, &opts.servername) {
            match e.state() {
                MbState::Reserved => out.notes.push(format!(
                    "{}: reserved locally (an unfinished create or move); not pushed",
                    e.name
                )),
                MbState::Remote => out.notes.push(format!(
                    "{}: a remote entry (on {}), not a mailbox here; not pushed",
                    e.name,
                    e.server.as_deref().unwrap_or("?")
                )),
                _ => {}
            }
            continue;
        }
        let location = opts.realpart(&e.partition);
        let moving = e.flags.contains(MbFlags::MOVING);
        let activate = || Action::ForceActivate {
            name: e.name.clone(),
            location: location.clone(),
            acl: e.acl.clone(),
        };
        let unmove = || Action::RemoveRemoteFlag {
            name: e.name.clone(),
            location: location.clone(),
            acl: e.acl.clone(),
        };
        let agree = |r: &MailboxRecord| {
            if moving {
                Some(unmove())
            } else if r.acl() == Some(e.acl.as_str()) && r.location() == location {
                None
            } else {
                Some(activate())
            }
        };
        let action = if let Some(r) = listed.get(e.name.as_str()) {
            agree(r)
        } else if opts.authoritative {
            Some(activate())
        } else {
            match master.found.get(&e.name) {
                // Not looked up (the caller gathered no FIND for it): treat as not found.
                None | Some(None) => Some(if moving { unmove() } else { activate() }),
                Some(Some(r)) => {
                    let (server, _) = protocol::mupdate::split_location(r.location());
                    if server == opts.servername {
                        agree(r)
                    } else if opts.unified {
                        None
                    } else {
                        Some(Action::RemoveLocal {
                            name: e.name.clone(),
                            master_location: r.location().to_owned(),
                        })
                    }
                }
            }
        };
        match action {
            Some(a) => out.actions.push(a),
            None => out.in_sync += 1,
        }
    }
    out
}

/// Asks the master what it knows: `LIST "<servername>!"`, then `FIND` for each usable local
/// mailbox it did not list (none with `-a`).
pub async fn gather(
    client: &mut MupdateClient,
    local: &[MailboxEntry],
    opts: &PlanOptions,
) -> Result<MasterView, CtlError> {
    let mut view = MasterView::default();
    let prefix = format!("{}!", opts.servername);
    client
        .list(Some(&prefix), |r| view.listed.push(r))
        .await
        .map_err(CtlError::List)?;
    for name in names_to_find(local, &view.listed, opts) {
        let r = client.find(&name).await.map_err(|source| CtlError::Find {
            name: name.clone(),
            source,
        })?;
        view.found.insert(name, r);
    }
    Ok(view)
}

// ---------------------------------------------------------------------------------------------
// -m: carrying the plan out
// ---------------------------------------------------------------------------------------------

/// What [`push`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// Names deleted at the master.
    pub removed_from_master: Vec<String>,
    /// Names activated at the master (including cleared MOVING entries).
    pub activated: Vec<String>,
    /// Names whose MOVING flag was cleared locally.
    pub unmoved: Vec<String>,
    /// Names that could not be stored, with the message printed for each.
    pub failed: Vec<(String, String)>,
}

/// Carries out the master-side part of a plan (Cyrus's steps 3 to 5): DELETE each removal,
/// ACTIVATE each Force Activate in order, then for each stale MOVING entry clear it locally and
/// ACTIVATE it. Local mailboxes are never deleted here. `log` receives Cyrus's per-mailbox
/// messages (`temporary failure storing '...' (update continuing)` and so on).
///
/// A failed DELETE and a lost connection end the run with an error, as in Cyrus.
pub async fn push(
    plan: &Plan,
    client: &mut MupdateClient,
    db: &MailboxDb,
    log: &mut dyn FnMut(String),
) -> Result<PushReport, CtlError> {
    let mut report = PushReport::default();
    for a in &plan.actions {
        if let Action::RemoveFromMupdate { name } = a {
            client
                .delete(name)
                .await
                .map_err(|source| CtlError::Delete {
                    name: name.clone(),
                    source,
                })?;
            report.removed_from_master.push(name.clone());
        }
    }
    for a in &plan.actions {
        if let Action::ForceActivate {
            name,
            location,
            acl,
        } = a
        {
            store(client, &mut report, log, name, location, acl).await?;
        }
    }
    for a in &plan.actions {
        if let Action::RemoveRemoteFlag {
            name,
            location,
            acl,
        } = a
        {
            db.write(|tx| {
                if let Some(mut e) = tx.get(name)? {
                    e.flags.set(MbFlags::MOVING, false);
                    e.flags.set(MbFlags::REMOTE, false);
                    e.server = None;
                    tx.put(&e);
                }
                Ok(())
            })?;
            report.unmoved.push(name.clone());
            store(client, &mut report, log, name, location, acl).await?;
        }
    }
    Ok(report)
}

/// One ACTIVATE of [`push`], with Cyrus's handling of its failure.
async fn store(
    client: &mut MupdateClient,
    report: &mut PushReport,
    log: &mut dyn FnMut(String),
    name: &str,
    location: &str,
    acl: &str,
) -> Result<(), CtlError> {
    match client.activate(name, location, acl).await {
        Ok(()) => report.activated.push(name.to_owned()),
        Err(e) if e.is_connection() => {
            return Err(CtlError::Permanent {
                name: name.to_owned(),
                source: e,
            })
        }
        Err(ClientError::Refused { status: "NO", text }) => {
            let msg = format!("temporary failure storing '{name}' (update continuing)");
            log(format!("{msg}: {text}"));
            report.failed.push((name.to_owned(), msg));
        }
        Err(e) => {
            let msg = format!("error storing '{name}' (update continuing): {e}");
            log(msg.clone());
            report.failed.push((name.to_owned(), msg));
        }
    }
    Ok(())
}

/// Deletes the plan's [`Action::RemoveLocal`] entries locally (Cyrus's step 7), which the caller
/// may only do with the operator's consent. Each becomes a tombstone (`d`, server cleared), as a
/// Cyrus 3.6 delete leaves it; the spool is not touched here. Returns the names removed.
pub fn remove_local(plan: &Plan, db: &MailboxDb, now: i64) -> Result<Vec<String>, CtlError> {
    let names: Vec<&str> = plan.local_removals().map(Action::name).collect();
    db.write(|tx| {
        let mut done = Vec::new();
        for name in names {
            if let Some(mut e) = tx.get(name)? {
                e.flags = MbFlags::DELETED.with(if e.flags.contains(MbFlags::LEGACY_DIRS) {
                    MbFlags::LEGACY_DIRS
                } else {
                    MbFlags::empty()
                });
                e.server = None;
                e.mtime = now;
                tx.put(&e);
                done.push(name.to_owned());
            }
        }
        Ok(done)
    })
    .map_err(CtlError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(name: &str, letters: &str, server: Option<&str>, acl: &str) -> MailboxEntry {
        let mut e = MailboxEntry {
            name: name.into(),
            partition: "default".into(),
            server: server.map(Into::into),
            acl: acl.into(),
            uniqueid: format!("id-{name}"),
            ..Default::default()
        };
        e.set_mbtype_letters(letters).unwrap();
        e
    }

    fn lines(p: &Plan) -> Vec<String> {
        p.actions.iter().map(Action::warn_line).collect()
    }

    #[test]
    fn the_plan_matches_cyrus_on_the_probe_data() {
        // The master (real Cyrus 3.6) listed three names at backend1; the local DB is the
        // scratch set used to probe Cyrus's `-mw` (see the module doc for the differences).
        let l = vec![
            local("user.aaa", "e", None, "aaa\tlr\t"),
            local("user.alice", "e", None, "alice\tlrswipkxtecdan\t"),
            local("user.bob", "ed", None, ""),
            local("user.dave", "em", Some("backend2"), "dave\tlr\t"),
            local("user.int", "ei", None, ""),
            local("user.rem", "er", Some("backend2"), "x\tlr\t"),
            local("user.res", "ez", None, ""),
        ];
        let m = MasterView {
            listed: vec![
                MailboxRecord::active("DELETED.user.x.1", "backend1!", "a\tl\t"),
                MailboxRecord::active("user.alice", "backend1!default", "alice\tlrswipkxtecdan\t"),
                MailboxRecord::active("user.alice.probe", "backend1!default", "a\tl\t"),
            ],
            found: [
                ("user.aaa".to_string(), None),
                ("user.dave".to_string(), None),
            ]
            .into_iter()
            .collect(),
        };
        let opts = PlanOptions::new("backend1");
        assert_eq!(
            names_to_find(&l, &m.listed, &opts),
            ["user.aaa", "user.dave"]
        );
        let p = plan(&l, &m, &opts);
        assert_eq!(
            lines(&p),
            [
                "Remove from MUPDATE: user.alice.probe",
                "Remove from MUPDATE: DELETED.user.x.1",
                "Force Activate: user.aaa",
                "Remove remote flag on: user.dave",
            ]
        );
        assert_eq!(p.in_sync, 1);
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    }

    #[test]
    fn listing_order_does_not_matter_and_elsewhere_is_a_local_removal() {
        let l = vec![
            local("user.a", "e", None, "a\tl\t"),
            local("user.b", "e", None, "b\tl\t"),
            local("user.c", "e", None, "c\tl\t"),
        ];
        // The master lists b before a: Cyrus would abort; we do not care.
        let m = MasterView {
            listed: vec![
                MailboxRecord::active("user.b", "be1!default", "b\tl\t"),
                MailboxRecord::active("user.a", "be1!default", "other\tl\t"),
            ],
            found: [(
                "user.c".to_string(),
                Some(MailboxRecord::active("user.c", "be2!default", "c\tl\t")),
            )]
            .into_iter()
            .collect(),
        };
        let p = plan(&l, &m, &PlanOptions::new("be1"));
        assert_eq!(
            lines(&p),
            ["Force Activate: user.a", "Remove Local Mailbox: user.c"]
        );
        assert_eq!(p.local_removals().count(), 1);
        let mut unified = PlanOptions::new("be1");
        unified.unified = true;
        assert_eq!(lines(&plan(&l, &m, &unified)), ["Force Activate: user.a"]);
        let mut auth = PlanOptions::new("be1");
        auth.authoritative = true;
        assert!(names_to_find(&l, &m.listed, &auth).is_empty());
        assert_eq!(
            lines(&plan(&l, &m, &auth)),
            ["Force Activate: user.a", "Force Activate: user.c"]
        );
    }

    #[test]
    fn a_reserved_record_and_a_moved_partition_are_activated() {
        let l = vec![
            local("user.a", "e", None, "a\tl\t"),
            local("user.b", "e", None, "b\tl\t"),
        ];
        let m = MasterView {
            listed: vec![
                MailboxRecord::reserved("user.a", "be1!default"),
                MailboxRecord::active("user.b", "be1!other", "b\tl\t"),
            ],
            found: HashMap::new(),
        };
        let p = plan(&l, &m, &PlanOptions::new("be1"));
        assert_eq!(
            lines(&p),
            ["Force Activate: user.a", "Force Activate: user.b"]
        );
    }

    const CYRUS_BACKEND1: &str = r#"{
"user.alice": {"name": "user.alice", "mtime": "1795860518", "uidvalidity": "1795860519", "createdmodseq": "1", "foldermodseq": "2", "mbtype": "e", "partition": "default", "acl": {"alice": "lrswipkxtecdan", "bob": "lrs"}, "uniqueid": "4ri3prim8ck7dh3w1dxmj0fz", "name_history": []},
"user.bob": {"name": "user.bob", "mtime": "1795860519", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "ed", "partition": "default", "acl": {"bob": "lrswipkxtecdan"}, "uniqueid": "m60t3cp1kv2shojjmjucg0vi", "name_history": []},
"user.carol": {"name": "user.carol", "mtime": "1795860519", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "er", "partition": "default", "server": "backend2", "acl": {"carol": "lrswipkxtecdan"}, "name_history": []}
}
"#;

    #[test]
    fn cyrus_dump_lines_come_back_byte_for_byte_except_mtime() {
        let u = parse_dump(CYRUS_BACKEND1, 1795860518).unwrap();
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        assert_eq!(u.entries.len(), 3);
        let carol = &u.entries[2];
        assert_eq!(carol.server.as_deref(), Some("backend2"));
        assert_eq!(carol.mbtype_letters(), "er");
        assert_eq!(u.entries[0].acl, "alice\tlrswipkxtecdan\tbob\tlrs\t");
        let text = dump_text(&u.entries);
        let want: Vec<&str> = CYRUS_BACKEND1.lines().collect();
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(got[0], want[0]);
        assert_eq!(got[1], want[1]);
        // mtime is reset on undump, as in Cyrus.
        assert_eq!(
            got[2],
            want[2].replace("\"mtime\": \"1795860519\"", "\"mtime\": \"1795860518\"")
        );
        assert_eq!(got[4], "}");
        assert_eq!(dump_text(&[]), "{\n\n}\n");
    }

    #[test]
    fn undump_warns_like_cyrus_and_keeps_acl_order() {
        let text = r#"{"user.x": {"mtime": "1", "uidvalidity": 7, "mbtype": "e",
            "partition": "p", "acl": {"zed": "lr", "abe": "l"}},
            "user.y": {"uidvalidity": [], "mbtype": "e", "partition": "p", "uniqueid": "u",
            "acl": {"zed": "lr", "abe": "l"}},
            "user.z": {"mbtype": "eQ", "partition": "p", "uniqueid": "u", "acl": {}},
            "user.w": {"mbtype": "e", "uniqueid": "u", "acl": {}}}"#;
        let u = parse_dump(text, 5).unwrap();
        assert_eq!(
            u.warnings,
            [
                "missing uniqueid for user.x",
                "missing uidvalidity for user.y",
                "invalid mbtype \"eQ\" for user.z",
                "missing partition for user.w"
            ]
        );
        assert_eq!(u.entries.len(), 1);
        assert_eq!(u.entries[0].acl, "zed\tlr\tabe\tl\t");
        assert_eq!(u.entries[0].mtime, 5);
        assert!(matches!(parse_dump("[1]", 0), Err(CtlError::Parse(_))));
        assert!(matches!(parse_dump("{", 0), Err(CtlError::Parse(_))));
    }

    #[test]
    fn special_characters_are_escaped_as_jansson_does() {
        let e = local("user.q\"x", "erz", Some("be2"), "a b\tlr\t");
        let line = dump_line(&e);
        assert!(line.starts_with(r#""user.q\"x": {"name": "user.q\"x", "mtime": "0""#));
        assert!(line.contains(
            r#""mbtype": "erz", "partition": "default", "server": "be2", "acl": {"a b": "lr"}"#
        ));
        let back = parse_dump(&dump_text([&e]), 0).unwrap();
        assert_eq!(back.entries, [e]);
    }

    #[test]
    fn filters_select_partitions_and_intermediates() {
        let mut i = local("user.i", "ei", None, "");
        assert!(!DumpFilter::default().accepts(&i));
        let f = DumpFilter {
            intermediates: true,
            partition: Some("default".into()),
        };
        assert!(f.accepts(&i));
        i.partition = "other".into();
        assert!(!f.accepts(&i));
        assert!(DumpFilter::default().accepts(&local("user.d", "ed", None, "")));
    }
}
