//! Cyrus mailbox names.

/// The separator Cyrus 3.6+ puts between hierarchy levels in a mailboxes.db key ("dbname").
pub const DBNAME_SEP: u8 = 0x1F;
/// The separator between the domain and the rest of a dbname.
pub const DBNAME_DOMAIN_SEP: u8 = 0x1D;

/// The mailboxes.db key of an internal name, in Cyrus 3.6+ form (reference §3.3).
///
/// Keys compare bytewise, and the hierarchy separator (0x1F) sorts below every printable byte,
/// so `user.test2.a.b` comes before `user.test2.a-b`. MUPDATE LIST/UPDATE order and
/// `ctl_mboxlist -m` depend on every host agreeing on this order.
pub fn dbname_key(internal: &str) -> Vec<u8> {
    let (domain, rest) = match internal.split_once('!') {
        Some((d, r)) => (Some(d), r),
        None => (None, internal),
    };
    let mut key = Vec::with_capacity(internal.len() + 1);
    if let Some(d) = domain {
        key.extend_from_slice(d.as_bytes());
        key.push(DBNAME_DOMAIN_SEP);
    }
    for b in rest.bytes() {
        key.push(match b {
            b'.' => DBNAME_SEP,
            b'^' => b'.',
            other => other,
        });
    }
    key
}

/// The internal name for a mailboxes.db key made by [`dbname_key`].
pub fn internal_from_dbname(key: &[u8]) -> String {
    let mut out = Vec::with_capacity(key.len());
    // The domain is kept verbatim: only the part after it uses the hierarchy mapping.
    let rest = match key.iter().position(|&b| b == DBNAME_DOMAIN_SEP) {
        Some(i) => {
            out.extend_from_slice(&key[..i]);
            out.push(b'!');
            &key[i + 1..]
        }
        None => key,
    };
    for &b in rest {
        out.push(match b {
            DBNAME_SEP => b'.',
            b'.' => b'^',
            other => other,
        });
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbname_orders_separator_below_printables() {
        assert!(dbname_key("user.test2.a.b") < dbname_key("user.test2.a-b"));
    }

    #[test]
    fn dbname_round_trips() {
        for n in [
            "user.bob",
            "example.com!user.dave.Sent",
            "user.john^doe.a^b",
            "DELETED.user.x.65E33B49",
        ] {
            assert_eq!(internal_from_dbname(&dbname_key(n)), n);
        }
    }
}
