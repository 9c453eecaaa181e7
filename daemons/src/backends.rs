//! How one murder server reaches another: the address of a named server for a protocol, and
//! the proxy credentials a frontend uses towards a backend (reference §4.3).
//!
//! A server name is what MUPDATE carries (`backend1.example.org`, optionally with `:port`).
//! Cyrus resolves it through `/etc/services`; we use the protocol's well-known port, with an
//! `imapd.conf` override `<shorthost>_<protocol>_address: host:port` so that a whole murder can
//! run on one loopback host:
//!
//! ```
//! use protocol::config::imapd::{ImapdConf, ParseOptions};
//! let conf = ImapdConf::parse(
//!     "configdirectory: /tmp\nbackend1_imap_address: 127.0.0.1:24143\n",
//!     "imapd.conf",
//!     &mut |_| Err(std::io::Error::other("no includes")),
//!     &ParseOptions::default(),
//! )
//! .unwrap();
//! assert_eq!(
//!     daemons::backends::backend_address(&conf, "backend1.example.org", "imap"),
//!     ("127.0.0.1".to_string(), 24143)
//! );
//! assert_eq!(
//!     daemons::backends::backend_address(&conf, "be2:1143", "imap"),
//!     ("be2".to_string(), 1143)
//! );
//! ```

use protocol::config::imapd::ImapdConf;

/// The well-known port of a protocol (`imap` 143, `pop3` 110, `lmtp` 24, `sieve` 4190,
/// `mupdate` 3905); 0 for an unknown one.
pub fn default_port(protocol: &str) -> u16 {
    match protocol {
        "imap" => 143,
        "imaps" => 993,
        "pop3" => 110,
        "pop3s" => 995,
        "lmtp" => 24,
        "sieve" => 4190,
        "mupdate" => 3905,
        _ => 0,
    }
}

/// The part of a server name before the first `.` (and before any `:port`), which Cyrus
/// uses to name per-server options (`<shorthost>_password`).
pub fn shorthost(server: &str) -> &str {
    let host = split_port(server).0;
    host.split('.').next().unwrap_or(host)
}

/// Splits `host[:port]` (also `[v6]:port`); the port is `None` when absent or not a number.
fn split_port(server: &str) -> (&str, Option<u16>) {
    if let Some(rest) = server.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
            return (host, port);
        }
    }
    match server.rsplit_once(':') {
        // A bare IPv6 address has several colons and no port.
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(p) => (host, Some(p)),
            Err(_) => (server, None),
        },
        _ => (server, None),
    }
}

/// Where to connect to reach `server` for `protocol`: the override
/// `<shorthost>_<protocol>_address: host:port` if set, else the server's own `:port`, else the
/// protocol's default port.
pub fn backend_address(conf: &ImapdConf, server: &str, protocol: &str) -> (String, u16) {
    let key = format!("{}_{protocol}_address", shorthost(server));
    if let Some(addr) = conf.get_raw(&key) {
        let (host, port) = split_port(addr.trim());
        return (
            host.to_owned(),
            port.unwrap_or_else(|| default_port(protocol)),
        );
    }
    let (host, port) = split_port(server);
    (
        host.to_owned(),
        port.unwrap_or_else(|| default_port(protocol)),
    )
}

/// The identity a frontend authenticates as towards backends: `proxy_authname`, default
/// `proxy`.
pub fn proxy_authname(conf: &ImapdConf) -> String {
    conf.get_str("proxy_authname")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "proxy".into())
}

/// The password for `server`: `<shorthost>_password`, else `proxy_password` (empty if
/// neither is set).
pub fn proxy_password(conf: &ImapdConf, server: &str) -> String {
    conf.get_raw(&format!("{}_password", shorthost(server)))
        .or_else(|| conf.get_raw("proxy_password"))
        .unwrap_or("")
        .to_owned()
}

/// Mechanisms to force for `server`: `<shorthost>_mechs`, else `force_sasl_client_mech`.
pub fn forced_mechs(conf: &ImapdConf, server: &str) -> Option<String> {
    conf.get_raw(&format!("{}_mechs", shorthost(server)))
        .or_else(|| conf.get_raw("force_sasl_client_mech"))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::config::imapd::ParseOptions;

    fn conf(text: &str) -> ImapdConf {
        ImapdConf::parse(
            &format!("configdirectory: /tmp\n{text}"),
            "imapd.conf",
            &mut |_| Err(std::io::Error::other("no includes")),
            &ParseOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn addresses() {
        let c = conf("be1_lmtp_address: 127.0.0.1:2424\nbe1_password: s1\nproxy_password: p\n");
        assert_eq!(
            backend_address(&c, "be1", "lmtp"),
            ("127.0.0.1".into(), 2424)
        );
        assert_eq!(
            backend_address(&c, "be1.x.org", "lmtp"),
            ("127.0.0.1".into(), 2424)
        );
        assert_eq!(backend_address(&c, "be1", "imap"), ("be1".into(), 143));
        assert_eq!(backend_address(&c, "be2:99", "pop3"), ("be2".into(), 99));
        assert_eq!(backend_address(&c, "[::1]:99", "pop3"), ("::1".into(), 99));
        assert_eq!(backend_address(&c, "::1", "sieve"), ("::1".into(), 4190));
        assert_eq!(proxy_password(&c, "be1.x.org"), "s1");
        assert_eq!(proxy_password(&c, "be2"), "p");
        assert_eq!(proxy_authname(&c), "proxy");
        assert_eq!(shorthost("a.b:12"), "a");
    }
}
