//! A whole murder of our daemons as processes, for the frontend tests: an MUPDATE master, two
//! backends (imapd, lmtpd, pop3d) and a frontend running a slave, `proxyd`, `lmtpproxyd` and
//! `pop3proxyd`. The pieces are public so a test can assemble another shape (a Cyrus backend
//! in place of one of ours, say) or stop and restart one of them on the same address.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use daemons::mboxdb::MailboxDb;
use murder_tests::{wait_until, Daemon, Host};

use super::imap::Imap;

/// The whole murder; every process dies with it.
pub struct Murder {
    /// The master's host.
    pub master_host: Host,
    /// `mupdate -m`.
    pub master: Daemon,
    /// Each backend's host and imapd.
    pub backends: Vec<(Host, Daemon)>,
    /// Each backend's lmtpd and pop3d.
    pub backend_mail: Vec<(Daemon, Daemon)>,
    /// The frontend's host.
    pub front_host: Host,
    /// The frontend's MUPDATE slave.
    pub slave: Daemon,
    /// The frontend's IMAP proxy.
    pub proxyd: Daemon,
    /// The frontend's LMTP proxy.
    pub lmtpproxyd: Daemon,
    /// The frontend's POP3 proxy.
    pub pop3proxyd: Daemon,
}

/// The master's host: `servers` may authenticate (password `secret`) and are admins.
pub fn master_host(servers: &[&str]) -> Host {
    let mut h = Host::new("mupdate")
        .conf("admins", &servers.join(" "))
        .conf("allowplaintext", "yes");
    for s in servers {
        h = h.user(s, "secret");
    }
    h.write()
}

/// Starts `mupdate -m` for `h` (on `listen`, `127.0.0.1:0` for any port).
pub fn start_master(h: &Host, listen: &str) -> Daemon {
    Daemon::start_on(h, "mupdate", &["-m"], listen)
}

/// One of our backends named `name`, pushing to the master at `master`, reaching the other
/// backends (for XFER) at the `(<server>_<protocol>, host:port)` pairs of `routes`; alice and
/// bob may log in directly too.
///
/// Every other backend must have a route: a bare server name would be looked up as a host
/// name, and this machine's /etc/hosts may map `backend1` and `backend2` to the shared Cyrus
/// murder.
pub fn backend_host(name: &str, master: SocketAddr, routes: &[(String, String)]) -> Host {
    let mut h = Host::new(name);
    for (k, v) in routes {
        h = h.conf(k, v);
    }
    h
        // The other backends (ours, and the Cyrus one of the interop tests) log in as admins
        // for XFER (the seed: "Backend machines will need to be full admins").
        .conf("admins", "cyrus backend1 backend2 cyrusbe")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("allowallsubscribe", "yes")
        .conf("allowusermoves", "yes")
        .conf("proxyservers", "murder")
        .conf("lmtp_admins", "murder")
        .conf("mupdate_server", &master.to_string())
        .conf("mupdate_authname", name)
        .conf("mupdate_password", "secret")
        .conf("proxy_authname", name)
        .conf("proxy_password", "secret")
        .conf("client_timeout", "5")
        .user("cyrus", "secret")
        .user("murder", "secret")
        .user("alice", "alicepw")
        .user("bob", "bobpw")
        .user("backend1", "secret")
        .user("backend2", "secret")
        .user("cyrusbe", "secret")
        .write()
}

/// A backend's imapd, lmtpd and pop3d.
pub fn start_backend(h: &Host) -> (Daemon, Daemon, Daemon) {
    (
        Daemon::start(h, "imapd", &[]),
        Daemon::start(h, "lmtpd", &[]),
        Daemon::start(h, "pop3d", &[]),
    )
}

/// The frontend's host, reaching the backends at the addresses given as
/// `(<server>_<protocol>, host:port)` pairs.
pub fn frontend_host(master: SocketAddr, routes: &[(String, String)]) -> Host {
    let mut h = Host::new("frontend")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .conf("mupdate_server", &master.to_string())
        .conf("mupdate_authname", "frontend")
        .conf("mupdate_password", "secret")
        // Reconnect quickly when the master comes back (the tests wait for it).
        .conf("mupdate_retry_delay", "2")
        .conf("proxy_authname", "murder")
        .conf("proxy_password", "secret");
    for (k, v) in routes {
        h = h.conf(k, v);
    }
    h.user("alice", "alicepw")
        .user("bob", "bobpw")
        .user("cyrus", "secret")
        .write()
}

/// The frontend's slave, proxyd, lmtpproxyd and pop3proxyd.
pub fn start_frontend(h: &Host) -> (Daemon, Daemon, Daemon, Daemon) {
    (
        Daemon::start(h, "mupdate", &[]),
        Daemon::start(h, "proxyd", &[]),
        Daemon::start(h, "lmtpproxyd", &["-a"]),
        Daemon::start(h, "pop3proxyd", &[]),
    )
}

/// Whether the frontend's local database holds `name` (in any state).
pub fn db_has(front: &Host, name: &str) -> bool {
    db_server(front, name).is_some()
}

/// The server the frontend's local database gives for `name`.
pub fn db_server(front: &Host, name: &str) -> Option<String> {
    MailboxDb::open_in(&front.configdir())
        .ok()
        .and_then(|db| db.get(name).ok().flatten())
        .map(|e| e.server.unwrap_or_default())
}

/// Waits until the frontend's database names `server` for every one of `names`.
pub fn wait_synced(front: &Host, names: &[&str], server: &str) -> bool {
    wait_until(Duration::from_secs(20), || {
        names
            .iter()
            .all(|n| db_server(front, n).as_deref() == Some(server))
    })
}

impl Murder {
    /// Starts everything; alice lives on backend1, bob and a shared mailbox on backend2.
    pub fn start() -> Murder {
        let master_host = master_host(&["backend1", "backend2", "frontend"]);
        let master = start_master(&master_host, "127.0.0.1:0");
        let mut backends = Vec::new();
        let mut backend_mail = Vec::new();
        // Ports first, so that each backend knows where the other one is.
        let names = ["backend1", "backend2"];
        let mut routes = Vec::new();
        for name in names {
            for proto in ["imap", "lmtp", "pop3"] {
                let addr = format!("127.0.0.1:{}", murder_tests::cyrus::free_port());
                routes.push((format!("{name}_{proto}"), addr));
            }
        }
        let route = |key: &str| -> String {
            routes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        for name in names {
            let h = backend_host(name, master.addr, &routes);
            let imapd = Daemon::start_on(&h, "imapd", &[], &route(&format!("{name}_imap")));
            let lmtpd = Daemon::start_on(&h, "lmtpd", &[], &route(&format!("{name}_lmtp")));
            let pop3d = Daemon::start_on(&h, "pop3d", &[], &route(&format!("{name}_pop3")));
            backends.push((h, imapd));
            backend_mail.push((lmtpd, pop3d));
        }
        let front_host = frontend_host(master.addr, &routes);
        let (slave, proxyd, lmtpproxyd, pop3proxyd) = start_frontend(&front_host);
        let m = Murder {
            master_host,
            master,
            backends,
            backend_mail,
            front_host,
            slave,
            proxyd,
            lmtpproxyd,
            pop3proxyd,
        };
        let mut a1 = Imap::login(m.backends[0].1.addr, "cyrus", "secret");
        a1.ok("CREATE user.alice");
        let mut a2 = Imap::login(m.backends[1].1.addr, "cyrus", "secret");
        a2.ok("CREATE user.bob");
        a2.ok("CREATE shared");
        a2.ok("SETACL shared alice lrswipkxte");
        assert!(
            wait_synced(&m.front_host, &["user.alice"], "backend1")
                && wait_synced(&m.front_host, &["user.bob", "shared"], "backend2"),
            "the frontend slave did not sync: {} / {:?}",
            m.slave.log_text(),
            MailboxDb::open_in(&m.front_host.configdir()).map(|d| d.all())
        );
        m
    }

    /// Every daemon's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = format!("master:\n{}\n", self.master.log_text());
        for (i, (h, d)) in self.backends.iter().enumerate() {
            out.push_str(&format!("{} imapd:\n{}\n", h.name, d.log_text()));
            out.push_str(&format!(
                "{} lmtpd:\n{}\n",
                h.name,
                self.backend_mail[i].0.log_text()
            ));
        }
        out.push_str(&format!(
            "slave:\n{}\nproxyd:\n{}\n",
            self.slave.log_text(),
            self.proxyd.log_text()
        ));
        out
    }

    /// Whether the frontend's database holds `name`.
    pub fn front_has(&self, name: &str) -> bool {
        db_has(&self.front_host, name)
    }

    /// Stops backend `i`'s imapd, lmtpd and pop3d (SIGTERM).
    pub fn stop_backend(&mut self, i: usize) {
        self.backends[i].1.stop();
        self.backend_mail[i].0.stop();
        self.backend_mail[i].1.stop();
    }

    /// Starts backend `i`'s daemons again on the addresses they had.
    pub fn restart_backend(&mut self, i: usize) {
        let h = &self.backends[i].0;
        let imapd = Daemon::start_on(h, "imapd", &[], &self.backends[i].1.addr.to_string());
        let lmtpd = Daemon::start_on(h, "lmtpd", &[], &self.backend_mail[i].0.addr.to_string());
        let pop3d = Daemon::start_on(h, "pop3d", &[], &self.backend_mail[i].1.addr.to_string());
        self.backends[i].1 = imapd;
        self.backend_mail[i] = (lmtpd, pop3d);
    }

    /// Starts the master again on its address.
    pub fn restart_master(&mut self) {
        self.master = start_master(&self.master_host, &self.master.addr.to_string());
    }
}
