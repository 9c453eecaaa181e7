//! `murderresync BACKEND`: repairs what `murderdiff` found between one backend and the
//! master, with `ctl_mboxlist -m` semantics (reference §2.10), reusing
//! [`daemons::ctl_mboxlist`]'s `gather`, `plan` and `push`.
//!
//! 1. Reads the backend's mailboxes.db (the local murder, or run on the backend), and every
//!    other list, to find mailboxes held by two backends.
//! 2. Asks the master (as the backend's own `mupdate_authname` when its imapd.conf is here,
//!    else as the admin) for its entries at this backend, and plans.
//! 3. Prints the plan (Cyrus's `ctl_mboxlist -m -w` lines). A mailbox held by two backends is
//!    left out of the plan until `--winner NAME=BACKEND` says which copy wins: if this backend
//!    wins, the master is pointed here; if the other does, nothing here changes (delete the
//!    losing copy on this backend yourself once checked).
//! 4. Without `--yes` it stops there (a dry run), except at a terminal, where it asks.
//! 5. Carries the plan out (`push`: DELETE and ACTIVATE at the master; with consent, the
//!    local removals of `RemoveLocal`), then kicks each frontend slave whose files are here
//!    (its `socket/mupdate.target` kick socket: the slave asks the master for everything
//!    changed and answers once it has caught up). A slave out of reach keeps streaming from
//!    the master, which sends it the same changes.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use daemons::ctl_mboxlist::{self, Action, PlanOptions};
use daemons::mboxdb::MailboxDb;

use super::{conf_value, Ctx, Topology};
use crate::commands::Invocation;

/// `--winner` values: mailbox → winning backend.
pub fn winners(inv: &Invocation) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for w in inv
        .value("winner")
        .unwrap_or("")
        .split(',')
        .filter(|w| !w.is_empty())
    {
        let (m, b) = w
            .split_once('=')
            .ok_or_else(|| format!("--winner takes MAILBOX=BACKEND, not {w}"))?;
        out.insert(m.to_owned(), b.to_owned());
    }
    Ok(out)
}

/// Runs `murderresync`; returns 0 when nothing was left to do or everything was done, 1 when
/// the plan was only shown, mailboxes were held back, or a store failed.
pub async fn run(
    inv: &Invocation,
    ctx: &Ctx,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let topo = Topology::for_invocation(inv)?;
    let name = inv.args.first().cloned().unwrap_or_default();
    let backend = topo
        .backends
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| format!("no backend {name} in this murder"))?
        .clone();
    let configdir = backend
        .configdir
        .clone()
        .ok_or_else(|| format!("{name}: its mailboxes.db is not on this machine; run on {name}"))?;
    let hostdir = configdir.parent().map(|p| p.to_owned()).unwrap_or_default();
    let servername = conf_value(&hostdir, "servername").unwrap_or_else(|| name.clone());
    let winners = winners(inv)?;
    let master = topo
        .master
        .clone()
        .ok_or("no master: give --mupdate HOST:PORT (or run a local murder)")?;
    let (user, pw) = match (
        conf_value(&hostdir, "mupdate_authname"),
        conf_value(&hostdir, "mupdate_password"),
    ) {
        (Some(u), Some(p)) if inv.value("mupdate-user").is_none() => (u, p),
        _ => topo.credentials(inv, ctx)?,
    };

    // Duplicates, from every backend's list.
    let (views, errors) = super::diff::gather(&topo, &user, &pw).await;
    for e in &errors {
        let _ = writeln!(err, "murderresync: {e}");
    }
    let report = super::diff::diff(&views);
    let dups: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.kind == "duplicate" && f.place.contains(&format!("{name} (")))
        .map(|f| f.mailbox.clone())
        .collect();

    let db = MailboxDb::open_in(&configdir).map_err(|e| e.to_string())?;
    let local = db.all().map_err(|e| e.to_string())?;
    let opts = PlanOptions::new(&servername);
    let mut client = super::connect_master(&master, &user, &pw).await?;
    let view = ctl_mboxlist::gather(&mut client, &local, &opts)
        .await
        .map_err(|e| {
            format!(
                "{e}: {}",
                std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            )
        })?;
    let mut plan = ctl_mboxlist::plan(&local, &view, &opts);
    let mut held = 0;
    plan.actions.retain(|a| {
        if !dups.iter().any(|d| d == a.name()) {
            return true;
        }
        match winners.get(a.name()) {
            Some(w) if *w == name => true,
            Some(w) => {
                let _ = writeln!(
                    out,
                    "{}: {w} wins; left alone here (delete {name}'s copy once checked)",
                    a.name()
                );
                false
            }
            None => {
                held += 1;
                let _ = writeln!(
                    out,
                    "{}: held by two backends; refused until --winner {}=BACKEND",
                    a.name(),
                    a.name()
                );
                false
            }
        }
    });
    for a in &plan.actions {
        writeln!(out, "{}", a.warn_line()).map_err(|e| e.to_string())?;
    }
    for n in &plan.notes {
        let _ = writeln!(err, "murderresync: {n}");
    }
    writeln!(
        out,
        "{name}: {} change(s) planned, {} in sync, {held} held back",
        plan.actions.len(),
        plan.in_sync
    )
    .map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    if plan.actions.is_empty() {
        client.logout().await;
        return Ok(if held > 0 { 1 } else { 0 });
    }
    let yes = inv.flag("yes") || {
        if std::io::stdin().is_terminal() {
            let _ = write!(err, "apply these changes? [y/N] ");
            let _ = err.flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            line.trim().eq_ignore_ascii_case("y")
        } else {
            false
        }
    };
    if !yes {
        writeln!(out, "dry run: nothing changed (give --yes to apply)")
            .map_err(|e| e.to_string())?;
        client.logout().await;
        return Ok(1);
    }
    let mut log = |l: String| {
        let _ = writeln!(err, "{l}");
    };
    let pushed = ctl_mboxlist::push(&plan, &mut client, &db, &mut log)
        .await
        .map_err(|e| e.to_string())?;
    client.logout().await;
    let removed = if plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::RemoveLocal { .. }))
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        ctl_mboxlist::remove_local(&plan, &db, now).map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };
    writeln!(
        out,
        "{name}: {} removed from the master, {} activated, {} removed locally, {} failed",
        pushed.removed_from_master.len(),
        pushed.activated.len(),
        removed.len(),
        pushed.failed.len()
    )
    .map_err(|e| e.to_string())?;
    for sl in &topo.slaves {
        if let Some(dir) = &sl.configdir {
            let ok = daemons::mupdate::slave::kick(dir, Duration::from_secs(10)).await;
            writeln!(
                out,
                "slave {}: {}",
                sl.name,
                if ok {
                    "caught up"
                } else {
                    "not reachable by its kick socket; it catches up by streaming"
                }
            )
            .map_err(|e| e.to_string())?;
        }
    }
    Ok(if pushed.failed.is_empty() && held == 0 {
        0
    } else {
        1
    })
}
