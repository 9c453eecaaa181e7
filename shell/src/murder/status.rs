//! `murderstatus`: every server up or down, what its banner says, and each frontend slave's
//! connection to the master.
//!
//! A server is probed with a TCP connection and its greeting: IMAP's `* OK ...` line, or
//! MUPDATE's banner up to its `* OK MUPDATE "<server>" "Cyrus IMAP" "<version>" "<role>"`.
//! The latency is the time from connecting to the end of the greeting. A slave's state
//! comes from its frontend's mailboxes.db meta keys (`slave.state`, `slave.last_sync`,
//! `slave.last_change`, written by the slave itself), readable when the frontend's files are
//! on this machine (the local murder, or run on the frontend).

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{s, Ctx, Host, Out, Topology};
use crate::commands::Invocation;

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Probe {
    /// Whether the greeting arrived.
    pub up: bool,
    /// The greeting line (`* OK ...`), or why it failed.
    pub detail: String,
    /// Milliseconds until the greeting.
    pub latency_ms: u128,
    /// The version from the greeting, if it says one.
    pub version: Option<String>,
    /// Whether STARTTLS is offered in the banner.
    pub starttls: bool,
    /// SASL mechanisms named in the banner.
    pub mechanisms: Vec<String>,
}

/// The version in a greeting: a word after `Cyrus IMAP` (`v3.6.0` or `"3.6.0"`).
pub fn version_of(greeting: &str) -> Option<String> {
    let i = greeting.find("Cyrus IMAP")?;
    let rest = greeting.get(i + "Cyrus IMAP".len()..)?;
    rest.split(|c: char| c.is_whitespace() || c == '"')
        .find(|w| !w.is_empty())
        .map(|w| w.to_owned())
}

/// Connects to `host` and reads its greeting.
pub async fn probe(host: &Host, mupdate: bool, timeout: Duration) -> Probe {
    let start = Instant::now();
    let fail = |detail: String| Probe {
        up: false,
        detail,
        latency_ms: start.elapsed().as_millis(),
        version: None,
        starttls: false,
        mechanisms: Vec::new(),
    };
    let tcp = match tokio::time::timeout(
        timeout,
        tokio::net::TcpStream::connect((host.host.as_str(), host.port)),
    )
    .await
    {
        Err(_) => return fail(format!("no answer within {}s", timeout.as_secs())),
        Ok(Err(e)) => return fail(connect_error(&e)),
        Ok(Ok(t)) => t,
    };
    let mut r = BufReader::new(tcp);
    let mut starttls = false;
    let mut mechanisms = Vec::new();
    let read = async {
        let mut line = String::new();
        for _ in 0..16 {
            line.clear();
            if r.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let l = line.trim_end().to_owned();
            if l.starts_with("* STARTTLS") || l.contains("STARTTLS") && !mupdate {
                starttls = true;
            }
            if let Some(m) = l.strip_prefix("* AUTH") {
                mechanisms.extend(m.split_whitespace().map(|w| w.trim_matches('"').to_owned()));
            }
            if !mupdate {
                for w in l.split(|c: char| c.is_whitespace() || c == ']' || c == '[') {
                    if let Some(m) = w.strip_prefix("AUTH=") {
                        mechanisms.push(m.to_owned());
                    }
                }
            }
            if l.starts_with("* OK") || l.starts_with("* BYE") || l.starts_with("* NO") {
                return Some(l);
            }
        }
        None
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Some(l)) => Probe {
            up: l.starts_with("* OK"),
            version: version_of(&l),
            detail: l,
            latency_ms: start.elapsed().as_millis(),
            starttls,
            mechanisms,
        },
        Ok(None) => fail("connection closed before a greeting".into()),
        Err(_) => fail(format!("no greeting within {}s", timeout.as_secs())),
    }
}

/// A connection error in a few words.
pub fn connect_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut => "connection timed out".into(),
        _ => e.to_string(),
    }
}

/// A Unix time as "N s ago".
fn ago(secs: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match secs.trim().parse::<i64>() {
        Ok(t) => format!("{}s ago", now.saturating_sub(t)),
        Err(_) => secs.to_owned(),
    }
}

/// A slave's state from its frontend's mailboxes.db meta.
pub fn slave_meta(configdir: &std::path::Path) -> Option<Vec<(&'static str, String)>> {
    use daemons::mupdate::slave::meta;
    if !configdir.join(daemons::mboxdb::DB_DIR).exists() {
        return None;
    }
    let db = daemons::mboxdb::MailboxDb::open_in(configdir).ok()?;
    let get = |k: &str| db.get_meta(k).ok().flatten();
    Some(vec![
        (
            "state",
            get(meta::STATE).unwrap_or_else(|| "unknown".into()),
        ),
        (
            "last_sync",
            get(meta::LAST_SYNC).map(|t| ago(&t)).unwrap_or_default(),
        ),
        (
            "last_sync_count",
            get(meta::LAST_SYNC_COUNT).unwrap_or_default(),
        ),
        (
            "last_change",
            get(meta::LAST_CHANGE).map(|t| ago(&t)).unwrap_or_default(),
        ),
    ])
}

/// Runs `murderstatus`; returns 0 when every server is up and every slave connected, else 1.
pub async fn run(inv: &Invocation, ctx: &Ctx, out: &mut dyn std::io::Write) -> Result<i32, String> {
    let topo = Topology::for_invocation(inv)?;
    let mut servers: Vec<(&str, &Host, bool)> = Vec::new();
    if let Some(m) = &topo.master {
        servers.push(("master", m, true));
    }
    for b in &topo.backends {
        servers.push(("backend", b, false));
    }
    for f in &topo.frontends {
        servers.push(("frontend", f, false));
    }
    for sl in &topo.slaves {
        servers.push(("slave", sl, true));
    }
    if servers.is_empty() {
        return Err(
            "no servers: run a local murder or give --mupdate, --backend, --frontend".into(),
        );
    }
    let probes = futures_join(&servers).await;
    let mut o = Out::new(ctx, out);
    let mut code = 0;
    let mut diagnoses = Vec::new();
    for ((role, h, _), p) in servers.iter().zip(probes) {
        let mut fields = vec![
            ("role", s(*role)),
            ("name", s(h.name.clone())),
            ("address", s(format!("{}:{}", h.host, h.port))),
            ("up", serde_json::Value::Bool(p.up)),
            ("latency_ms", serde_json::json!(p.latency_ms)),
            ("version", s(p.version.clone().unwrap_or_default())),
        ];
        let mut line = format!(
            "{role} {} {}:{} {} {}ms{}",
            h.name,
            h.host,
            h.port,
            if p.up { "up" } else { "DOWN" },
            p.latency_ms,
            p.version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        );
        if !p.up {
            code = 1;
            line.push_str(&format!(" ({})", p.detail));
            diagnoses.push(down_diagnosis(
                role,
                &h.name,
                &p.detail,
                &format!("{}:{}", h.host, h.port),
            ));
        }
        // Table and JSON keep one set of columns for every role; the slave's are empty
        // for other roles.
        let mut slave_fields: Vec<(&'static str, String)> =
            ["slave_state", "last_sync", "last_sync_count", "last_change"]
                .iter()
                .map(|k| (*k, String::new()))
                .collect();
        if *role == "slave" {
            if let Some(meta) = h.configdir.as_deref().and_then(slave_meta) {
                let mut text = String::new();
                for ((k, v), slot) in meta.iter().zip(slave_fields.iter_mut()) {
                    if *k == "state" && v != "connected" {
                        code = 1;
                    }
                    if !v.is_empty() {
                        text.push_str(&format!(" {k}={v}"));
                    }
                    slot.1 = v.clone();
                }
                line.push_str(&format!(" slave:{text}"));
            }
        }
        for (k, v) in slave_fields {
            fields.push((k, s(v)));
        }
        fields.push((
            "detail",
            s(if p.up {
                String::new()
            } else {
                p.detail.clone()
            }),
        ));
        o.record("murder_status", &line, &fields)
            .map_err(|e| e.to_string())?;
    }
    o.finish().map_err(|e| e.to_string())?;
    drop(o);
    // One line of diagnosis per server down, after the table (JSON has it in `detail`).
    if ctx.format != crate::output::Format::Json {
        for d in diagnoses {
            writeln!(out, "{d}").map_err(|e| e.to_string())?;
        }
    }
    Ok(code)
}

/// The one-line diagnosis of a server that does not answer, shared with `testauth`:
/// `mupdate is not running on the master (connection refused at 127.0.0.1:3905)`.
pub fn down_diagnosis(role: &str, name: &str, detail: &str, addr: &str) -> String {
    match role {
        "master" => format!("mupdate is not running on the master ({detail} at {addr})"),
        "slave" => format!("the mupdate slave is not running on {name} ({detail} at {addr})"),
        _ => format!("imapd is not running on {name} ({detail} at {addr})"),
    }
}

async fn futures_join(servers: &[(&str, &Host, bool)]) -> Vec<Probe> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (_, h, mupdate)) in servers.iter().enumerate() {
        let h = (*h).clone();
        let m = *mupdate;
        set.spawn(async move { (i, probe(&h, m, super::CONNECT_TIMEOUT).await) });
    }
    let mut out: Vec<Option<Probe>> = vec![None; servers.len()];
    while let Some(r) = set.join_next().await {
        if let Ok((i, p)) = r {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(p);
            }
        }
    }
    out.into_iter()
        .map(|p| {
            p.unwrap_or(Probe {
                up: false,
                detail: "probe failed".into(),
                latency_ms: 0,
                version: None,
                starttls: false,
                mechanisms: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_greetings() {
        assert_eq!(
            version_of(
                "* OK [CAPABILITY IMAP4rev1] backend1 Cyrus IMAP 3.6.1-murder-0.1.0 server ready"
            )
            .as_deref(),
            Some("3.6.1-murder-0.1.0")
        );
        assert_eq!(
            version_of(r#"* OK MUPDATE "mupdate" "Cyrus IMAP" "v3.6.0" "(master)""#).as_deref(),
            Some("v3.6.0")
        );
        assert_eq!(version_of("* OK Dovecot ready."), None);
    }

    #[tokio::test]
    async fn a_closed_port_is_down_with_a_reason() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let h = Host::at("x", "127.0.0.1", port);
        let p = probe(&h, false, Duration::from_secs(2)).await;
        assert!(!p.up);
        assert_eq!(p.detail, "connection refused");
    }
}
