//! `murderlist`: the master's mailbox list, streamed as MUPDATE sends it.
//!
//! Each record is printed as it arrives (JSON lines at once, tables a page at a time), so
//! a million entries take no more memory than one page.

use protocol::mailbox::Pattern;
use protocol::mupdate::MailboxRecord;

use super::{s, Ctx, Out, Topology};
use crate::commands::Invocation;

/// Which entries to print.
#[derive(Debug)]
pub struct Filter {
    /// IMAP-style wildcards (`*`, `%`) on internal names.
    pub pattern: Option<Pattern>,
    /// Only entries on this server.
    pub server: Option<String>,
    /// Only `active` or `reserved` entries.
    pub state: Option<String>,
}

impl Filter {
    /// From the command's arguments.
    pub fn from_invocation(inv: &Invocation) -> Result<Filter, String> {
        let pattern = match inv.args.first() {
            Some(p) => Some(Pattern::new("", p, '.').map_err(|e| e.to_string())?),
            None => None,
        };
        let state = inv.value("state").map(str::to_ascii_lowercase);
        if let Some(st) = &state {
            if st != "active" && st != "reserved" {
                return Err(format!("--state must be active or reserved, not {st}"));
            }
        }
        Ok(Filter {
            pattern,
            server: inv.value("server").map(str::to_owned),
            state,
        })
    }

    /// Whether `r` passes.
    pub fn accepts(&self, r: &MailboxRecord) -> bool {
        if let Some(p) = &self.pattern {
            if !p.matches(&r.name) {
                return false;
            }
        }
        if let Some(srv) = &self.server {
            let (server, _) = protocol::mupdate::split_location(r.location());
            if server != srv {
                return false;
            }
        }
        if let Some(st) = &self.state {
            if state_name(r) != st {
                return false;
            }
        }
        true
    }
}

/// `active` or `reserved`.
pub fn state_name(r: &MailboxRecord) -> &'static str {
    if r.acl().is_some() {
        "active"
    } else {
        "reserved"
    }
}

/// An ACL (`id\trights\t...`) as `id rights id rights`.
pub fn acl_text(acl: &str) -> String {
    daemons::ctl_mboxlist::acl_pairs(acl)
        .iter()
        .map(|(i, r)| format!("{i} {r}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes one entry.
pub fn write_record(out: &mut Out<'_>, r: &MailboxRecord) -> std::io::Result<()> {
    let state = state_name(r);
    let acl = r.acl().map(acl_text).unwrap_or_default();
    let line = if acl.is_empty() {
        format!("{} {} ({state})", r.name, r.location())
    } else {
        format!("{} {} ({state}) {acl}", r.name, r.location())
    };
    out.record(
        "murder_mailbox",
        &line,
        &[
            ("mailbox", s(r.name.clone())),
            ("location", s(r.location())),
            ("state", s(state)),
            ("acl", s(acl)),
        ],
    )
}

/// Runs `murderlist`. Returns how many entries were printed.
pub async fn run(inv: &Invocation, ctx: &Ctx, out: &mut dyn std::io::Write) -> Result<u64, String> {
    let filter = Filter::from_invocation(inv)?;
    let topo = Topology::for_invocation(inv)?;
    let master = topo
        .master
        .clone()
        .ok_or("no master: give --mupdate HOST:PORT (or run a local murder)")?;
    let (user, pw) = topo.credentials(inv, ctx)?;
    let mut client = super::connect_master(&master, &user, &pw).await?;
    let prefix = filter.server.as_ref().map(|s| format!("{s}!"));
    let mut o = Out::new(ctx, out);
    let mut count = 0u64;
    let mut io_error = None;
    let r = client
        .list(prefix.as_deref(), |rec| {
            if io_error.is_some() || !filter.accepts(&rec) {
                return;
            }
            count += 1;
            if let Err(e) = write_record(&mut o, &rec) {
                io_error = Some(e);
            }
        })
        .await;
    client.logout().await;
    if let Some(e) = io_error {
        return Err(e.to_string());
    }
    r.map_err(|e| format!("LIST on the master {}: {e}", master.name))?;
    o.finish().map_err(|e| e.to_string())?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_invocation;

    fn filter(words: &[&str]) -> Filter {
        Filter::from_invocation(&parse_invocation(words).unwrap()).unwrap()
    }

    #[test]
    fn filters_by_pattern_server_and_state() {
        let a = MailboxRecord::active("user.alice", "backend1!default", "alice\tlrs\t");
        let b = MailboxRecord::reserved("user.bob.Sent", "backend2!default");
        let f = filter(&["lmurder", "user.%"]);
        assert!(f.accepts(&a) && !f.accepts(&b));
        let f = filter(&["lmurder", "--server", "backend2"]);
        assert!(!f.accepts(&a) && f.accepts(&b));
        let f = filter(&["lmurder", "--state", "reserved", "*"]);
        assert!(!f.accepts(&a) && f.accepts(&b));
        assert!(Filter::from_invocation(
            &parse_invocation(&["lmurder", "--state", "gone"]).unwrap()
        )
        .is_err());
    }

    #[test]
    fn records_in_each_format() {
        let a = MailboxRecord::active("user.alice", "backend1!default", "alice\tlrs\tanyone\tl\t");
        for (format, want) in [
            (
                crate::output::Format::Cyradm,
                "user.alice backend1!default (active) alice lrs anyone l\n",
            ),
            (
                crate::output::Format::Json,
                "{\"acl\":\"alice lrs anyone l\",\"location\":\"backend1!default\",\"mailbox\":\"user.alice\",\"state\":\"active\",\"type\":\"murder_mailbox\"}\n",
            ),
        ] {
            let ctx = Ctx {
                format,
                width: None,
                user: "admin".into(),
                password: None,
            };
            let mut buf = Vec::new();
            let mut o = Out::new(&ctx, &mut buf);
            write_record(&mut o, &a).unwrap();
            o.finish().unwrap();
            drop(o);
            assert_eq!(String::from_utf8(buf).unwrap(), want);
        }
    }
}
