//! `testauth`: the seed's `mupdatetest`/`imtest` steps for every server at once.
//!
//! For the master, each backend and each frontend: is it reachable, what does it greet with,
//! does it offer STARTTLS, which SASL mechanisms, and does each mechanism (of PLAIN, LOGIN,
//! SCRAM-SHA-1, SCRAM-SHA-256 that it offers) log the admin in. Then the identities the
//! murder's roles need (reference §2.9, §8):
//!
//! * each backend's `mupdate_authname` and the frontend's (slave's) `mupdate_authname` log in
//!   to the master, and are listed in the master's `admins` (without admin rights the master
//!   refuses their pushes);
//! * the frontend's `proxy_authname` logs in to each backend with a test user as authzid
//!   (the backend's `proxyservers` must list it), and is *not* in the backend's `admins`
//!   (a proxy that is an admin there acts as admin for every proxied user).
//!
//! The role identities and their passwords come from the hosts' `imapd.conf` files, so those
//! checks run where the files are (the local murder, or the `imapd_conf` paths of a topology
//! file; the frontend's password for a backend is its `<backend>_password` when set, else
//! `proxy_password`, as Cyrus's frontend chooses); the admin
//! check is the "is it an admin" part read from `admins`, which is what Cyrus itself decides
//! by, rather than guessed from a command's refusal.
//!
//! Each failure gets one line of diagnosis, such as
//! `mupdate is not running on the master (connection refused at 127.0.0.1:3905)` or
//! `backend1 refuses proxy user murder: not in proxyservers`.

use std::time::{Duration, Instant};

use super::status::probe;
use super::{s, Ctx, Host, Out, Topology};
use crate::client::{Client, Credentials, TlsMode, TlsSettings};
use crate::commands::Invocation;

/// Mechanisms tried, when offered.
pub const MECHANISMS: [&str; 4] = ["PLAIN", "LOGIN", "SCRAM-SHA-1", "SCRAM-SHA-256"];

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct Check {
    /// `master`, `backend1`, ...
    pub server: String,
    /// What was checked (`reachable`, `auth PLAIN as admin`, `proxy murder for alice`, ...).
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// Detail: the banner, the mechanism list, the error.
    pub detail: String,
    /// Milliseconds taken.
    pub ms: u128,
    /// One line of diagnosis when it failed.
    pub diagnosis: Option<String>,
}

async fn mupdate_login(
    master: &Host,
    user: &str,
    pw: &str,
    mech: Option<&str>,
) -> Result<(), String> {
    let mut c = daemons::mupdate::client::MupdateClient::connect(
        &master.host,
        master.port,
        super::CONNECT_TIMEOUT,
    )
    .await
    .map_err(|e| e.to_string())?;
    let creds = daemons::mupdate::client::Credentials {
        authname: user.to_owned(),
        username: None,
        password: pw.to_owned(),
        mechs: mech.map(str::to_owned),
    };
    let r = c
        .authenticate(&creds)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    c.logout().await;
    r
}

async fn imap_login(
    h: &Host,
    tls: &TlsSettings,
    user: &str,
    authz: Option<&str>,
    pw: &str,
    mech: Option<&str>,
) -> Result<(), String> {
    let mut c = Client::connect(&h.host, h.port, tls)
        .await
        .map_err(|e| e.to_string())?;
    let creds = Credentials {
        authid: user.to_owned(),
        authzid: authz.map(str::to_owned),
        password: pw.to_owned(),
        mechanism: mech.map(str::to_owned),
    };
    let r = c
        .authenticate(&creds)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    c.logout().await;
    r
}

struct Checker {
    checks: Vec<Check>,
}

impl Checker {
    fn push(
        &mut self,
        server: &str,
        check: String,
        start: Instant,
        r: Result<String, String>,
        diag: impl FnOnce(&str) -> String,
    ) {
        let ms = start.elapsed().as_millis();
        let (ok, detail, diagnosis) = match r {
            Ok(d) => (true, d, None),
            Err(e) => {
                let d = diag(&e);
                (false, e, Some(d))
            }
        };
        self.checks.push(Check {
            server: server.to_owned(),
            check,
            ok,
            detail,
            ms,
            diagnosis,
        });
    }
}

/// Runs every check.
pub async fn checks(topo: &Topology, admin: (&str, &str), timeout: Duration) -> Vec<Check> {
    let mut ck = Checker { checks: Vec::new() };
    let tls = TlsSettings {
        mode: TlsMode::Auto,
        cafile: topo.state_dir.as_ref().map(|d| d.join("tls/ca.pem")),
        capath: None,
        insecure: false,
        client_cert: None,
    };
    let frontend = topo.frontends.first();
    let (au, ap) = admin;

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
    for (role, h, mupdate) in servers {
        let start = Instant::now();
        let p = probe(h, mupdate, timeout).await;
        let name = if role == "master" {
            "master".to_owned()
        } else {
            h.name.clone()
        };
        let addr = format!("{}:{}", h.host, h.port);
        ck.push(
            &name,
            "reachable".into(),
            start,
            if p.up {
                Ok(p.detail.clone())
            } else {
                Err(p.detail.clone())
            },
            |e| super::status::down_diagnosis(role, &h.name, e, &addr),
        );
        if !p.up {
            continue;
        }
        ck.checks.push(Check {
            server: name.clone(),
            check: "tls".into(),
            ok: true,
            detail: if p.starttls {
                "STARTTLS offered".into()
            } else {
                "no STARTTLS".into()
            },
            ms: 0,
            diagnosis: None,
        });
        ck.checks.push(Check {
            server: name.clone(),
            check: "mechanisms".into(),
            ok: !p.mechanisms.is_empty(),
            detail: p.mechanisms.join(" "),
            ms: 0,
            diagnosis: p.mechanisms.is_empty().then(|| {
                format!("{name} offers no SASL mechanism before TLS (STARTTLS first, or allowplaintext)")
            }),
        });
        for mech in MECHANISMS {
            if !p.mechanisms.iter().any(|m| m.eq_ignore_ascii_case(mech)) {
                continue;
            }
            let start = Instant::now();
            let r = if mupdate {
                mupdate_login(h, au, ap, Some(mech)).await
            } else {
                imap_login(h, &tls, au, None, ap, Some(mech)).await
            };
            ck.push(
                &name,
                format!("auth {mech} as {au}"),
                start,
                r.map(|_| "ok".into()),
                |e| format!("{name} refuses {au} with {mech}: {e}"),
            );
        }
    }

    // Roles: backends' and the slave's MUPDATE identities on the master.
    if let Some(master) = &topo.master {
        let master_admins = master
            .conf("admins")
            .map(|a| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
        let mut ids: Vec<(String, String, String)> = Vec::new();
        for b in &topo.backends {
            if let (Some(u), Some(p)) = (b.conf("mupdate_authname"), b.conf("mupdate_password")) {
                ids.push((b.name.clone(), u, p));
            }
        }
        if let Some(f) = frontend {
            if let (Some(u), Some(p)) = (f.conf("mupdate_authname"), f.conf("mupdate_password")) {
                ids.push(("slave".into(), u, p));
            }
        }
        for (who, u, p) in ids {
            let start = Instant::now();
            let r = mupdate_login(master, &u, &p, None).await;
            ck.push(
                "master",
                format!("{who}'s mupdate identity {u}"),
                start,
                r.map(|_| "authenticated".into()),
                |e| format!("the master refuses {who}'s mupdate identity {u}: {e}"),
            );
            if let Some(admins) = &master_admins {
                let ok = admins.iter().any(|a| a == &u);
                ck.checks.push(Check {
                    server: "master".into(),
                    check: format!("{u} is an admin"),
                    ok,
                    detail: format!("admins: {}", admins.join(" ")),
                    ms: 0,
                    diagnosis: (!ok).then(|| {
                        format!(
                            "{u} ({who}) is not in the master's admins: its pushes will be refused"
                        )
                    }),
                });
            }
        }
    }

    // Roles: the proxy user on each backend.
    if let Some(f) = frontend {
        if let (Some(pu), Some(pp)) = (f.conf("proxy_authname"), f.conf("proxy_password")) {
            let authz = crate::local::TEST_USERS[0].0;
            for b in &topo.backends {
                let proxyservers = b.conf("proxyservers");
                // As Cyrus's frontend: `<servername up to the first dot>_password` first.
                let short = b.name.split('.').next().unwrap_or_default();
                let pp = f
                    .conf(&format!("{short}_password"))
                    .unwrap_or_else(|| pp.clone());
                let start = Instant::now();
                let r = imap_login(b, &tls, &pu, Some(authz), &pp, None).await;
                let listed = proxyservers
                    .as_ref()
                    .map(|l| l.split_whitespace().any(|x| x == pu));
                ck.push(
                    &b.name,
                    format!("proxy {pu} for {authz}"),
                    start,
                    r.map(|_| "ok".into()),
                    |e| {
                        if listed == Some(false) {
                            format!("{} refuses proxy user {pu}: not in proxyservers", b.name)
                        } else {
                            format!("{} refuses proxy user {pu}: {e}", b.name)
                        }
                    },
                );
                if let Some(admins) = b.conf("admins") {
                    let is_admin = admins.split_whitespace().any(|a| a == pu);
                    ck.checks.push(Check {
                        server: b.name.clone(),
                        check: format!("{pu} is not an admin"),
                        ok: !is_admin,
                        detail: format!("admins: {admins}"),
                        ms: 0,
                        diagnosis: is_admin.then(|| format!("{}: proxy user {pu} is an admin there; every proxied user would act as admin", b.name)),
                    });
                }
            }
        }
    }
    ck.checks
}

/// Runs `testauth`: 0 when every check passed, else 1.
pub async fn run(inv: &Invocation, ctx: &Ctx, out: &mut dyn std::io::Write) -> Result<i32, String> {
    let topo = Topology::for_invocation(inv)?;
    let (user, pw) = topo.credentials(inv, ctx)?;
    let all = checks(&topo, (&user, &pw), super::CONNECT_TIMEOUT).await;
    let mut o = Out::new(ctx, out);
    for c in &all {
        let line = format!(
            "{:<9} {:<36} {:<4} {:>4}ms  {}",
            c.server,
            c.check,
            if c.ok { "ok" } else { "FAIL" },
            c.ms,
            c.detail
        );
        o.record(
            "murder_check",
            &line,
            &[
                ("server", s(c.server.clone())),
                ("check", s(c.check.clone())),
                ("ok", serde_json::Value::Bool(c.ok)),
                ("ms", serde_json::json!(c.ms)),
                ("detail", s(c.detail.clone())),
                ("diagnosis", s(c.diagnosis.clone().unwrap_or_default())),
            ],
        )
        .map_err(|e| e.to_string())?;
    }
    o.finish().map_err(|e| e.to_string())?;
    drop(o);
    let failures: Vec<&String> = all.iter().filter_map(|c| c.diagnosis.as_ref()).collect();
    if ctx.format != crate::output::Format::Json {
        for d in &failures {
            writeln!(out, "{d}").map_err(|e| e.to_string())?;
        }
    }
    Ok(if failures.is_empty() { 0 } else { 1 })
}
