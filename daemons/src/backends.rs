//! Reaching another backend of the murder: the network address for a server name and the
//! credentials this host presents there (reference §4.3). Used by XFER (backend to backend)
//! and by the frontend proxy.
//!
//! A server name is a host name with an optional `:port` (the MUPDATE `server` part of a
//! location). A one-host murder (tests, small setups) runs several backends on one machine
//! under made-up server names; for those, `imapd.conf` may give the address explicitly with
//! `<shorthost>_<protocol>: host:port` (for example `backend2_imap: 127.0.0.1:10143`), where
//! the short host is the server name up to its first `.`. This key is ours, not Cyrus's.
//!
//! ```
//! use daemons::backends::backend_address;
//! use protocol::config::imapd::ImapdConf;
//! let conf = ImapdConf::parse_str("configdirectory: /tmp\nbe2_imap: 127.0.0.1:1143\n", "imapd.conf").unwrap();
//! assert_eq!(backend_address(&conf, "be2.example.org", "imap"), Some(("127.0.0.1".into(), 1143)));
//! assert_eq!(backend_address(&conf, "be3:2143", "imap"), Some(("be3".into(), 2143)));
//! assert_eq!(backend_address(&conf, "be3", "lmtp"), Some(("be3".into(), 24)));
//! ```

use protocol::config::imapd::{ImapdConf, ServerAddress};

/// The well-known port of a protocol name (`imap`, `imaps`, `pop3`, `pop3s`, `lmtp`,
/// `sieve`, `mupdate`), as `/etc/services` gives it.
pub fn default_port(protocol: &str) -> Option<u16> {
    Some(match protocol {
        "imap" => 143,
        "imaps" => 993,
        "pop3" => 110,
        "pop3s" => 995,
        "lmtp" => 24,
        "sieve" => 4190,
        "mupdate" => 3905,
        _ => return None,
    })
}

/// The short host of a server name: up to the first `.` (and without a `:port`).
pub fn short_host(server: &str) -> &str {
    let s = server.split('.').next().unwrap_or(server);
    s.split(':').next().unwrap_or(s)
}

/// Where to reach `server` for `protocol`: `<shorthost>_<protocol>` from `conf` when set,
/// otherwise the server name itself (its `:port`, or the protocol's well-known port).
/// `None` when neither gives a usable host and port.
pub fn backend_address(conf: &ImapdConf, server: &str, protocol: &str) -> Option<(String, u16)> {
    let short = short_host(server);
    let explicit = (!short.is_empty())
        .then(|| conf.get_raw(&format!("{short}_{protocol}")))
        .flatten();
    let addr = ServerAddress::parse(explicit.unwrap_or(server))?;
    if addr.host.is_empty() {
        return None;
    }
    let port = match &addr.port {
        Some(_) => addr.port_number()?,
        None => default_port(protocol)?,
    };
    Some((addr.host, port))
}

/// The identity and password this host uses towards `server`: `proxy_authname` (default
/// `proxy`) and `<shorthost>_password`, else `proxy_password`. `None` without a password.
pub fn proxy_credentials(conf: &ImapdConf, server: &str) -> Option<(String, String)> {
    let authname = conf
        .get_str("proxy_authname")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "proxy".into());
    let password = conf.password_for_server(short_host(server))?;
    Some((authname, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(extra: &str) -> ImapdConf {
        ImapdConf::parse_str(&format!("configdirectory: /tmp\n{extra}"), "imapd.conf").unwrap()
    }

    #[test]
    fn explicit_key_wins_over_the_server_name() {
        let c = conf("be2_imap: 127.0.0.1:1143\nbe2_lmtp: 127.0.0.1:1024\n");
        assert_eq!(
            backend_address(&c, "be2", "imap"),
            Some(("127.0.0.1".into(), 1143))
        );
        assert_eq!(
            backend_address(&c, "be2.example.org", "lmtp"),
            Some(("127.0.0.1".into(), 1024))
        );
        assert_eq!(
            backend_address(&c, "be2", "pop3"),
            Some(("be2".into(), 110))
        );
    }

    #[test]
    fn server_name_with_and_without_port() {
        let c = conf("");
        assert_eq!(
            backend_address(&c, "mail.example.org", "imap"),
            Some(("mail.example.org".into(), 143))
        );
        assert_eq!(
            backend_address(&c, "mail:2143", "imap"),
            Some(("mail".into(), 2143))
        );
        assert_eq!(backend_address(&c, "mail", "gopher"), None);
        assert_eq!(backend_address(&c, "", "imap"), None);
    }

    #[test]
    fn credentials_follow_the_short_host() {
        let c = conf("proxy_authname: be1\nbe2_password: two\nproxy_password: any\n");
        assert_eq!(
            proxy_credentials(&c, "be2.example.org"),
            Some(("be1".into(), "two".into()))
        );
        assert_eq!(
            proxy_credentials(&c, "be3"),
            Some(("be1".into(), "any".into()))
        );
        let c = conf("");
        assert_eq!(proxy_credentials(&c, "be3"), None);
        let c = conf("proxy_password: p\n");
        assert_eq!(
            proxy_credentials(&c, "be3"),
            Some(("proxy".into(), "p".into()))
        );
    }
}
