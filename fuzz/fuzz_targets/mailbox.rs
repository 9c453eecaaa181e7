//! Mailbox names (`protocol::mailbox`): internal names, policy checks, modified UTF-7,
//! namespace mapping, locations, RENAME targets and LIST patterns, on fuzzer-chosen strings.
//!
//! Input: one flag byte, one separator byte, then up to three strings separated by 0xFF (a
//! byte that never occurs in UTF-8, so it cannot collide with string content). Round trips
//! asserted: UTF-7 decode→encode is the identity; a decodable UTF-7 string validates;
//! locations re-parse from their printed forms; a RENAME target re-splits from its parts;
//! a name mapped internal→external→internal is unchanged; policy-valid names survive the
//! mailboxes.db key mapping; LIST patterns agree with a naive backtracking matcher.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::mailbox::{
    check_partition, dbname_key, internal_from_dbname, policy_check, split_rename_target,
    utf7_decode, utf7_encode, utf7_validate, InternalName, Location, Namespace, Pattern,
    DEFAULT_DELETED_PREFIX,
};

/// Backtracking reference matcher for short inputs (case-sensitive; no INBOX rule).
fn naive(p: &[u8], n: &[u8], sep: u8) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some((b'*', rest)) => (0..=n.len()).any(|i| naive(rest, &n[i..], sep)),
        Some((b'%', rest)) => {
            let stop = n.iter().position(|&c| c == sep).unwrap_or(n.len());
            (0..=stop).any(|i| naive(rest, &n[i..], sep))
        }
        Some((c, rest)) => n.first() == Some(c) && naive(rest, &n[1..], sep),
    }
}

fn check_location(l: &Location) {
    let _ = (l.server(), l.partition());
    assert_eq!(
        Location::parse_rename_arg(&l.to_string()).as_ref(),
        Ok(l),
        "Display form"
    );
    if l.server().is_some() {
        assert_eq!(
            Location::parse_mupdate(&l.to_mupdate()).as_ref(),
            Ok(l),
            "MUPDATE form"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let Some((&sep_byte, data)) = data.split_first() else {
        return;
    };
    let mut parts = data.splitn(3, |&b| b == 0xFF).map(String::from_utf8_lossy);
    let s = parts.next().unwrap_or_default();
    let t = parts.next().unwrap_or_default();
    let u = parts.next().unwrap_or_default();
    let (s, t, u) = (s.as_ref(), t.as_ref(), u.as_ref());
    let virt = flags & 1 != 0;
    let admin = flags & 2 != 0;

    // Internal names.
    if let Ok(n) = InternalName::new(s) {
        let _ = (
            n.domain(),
            n.without_domain(),
            n.components().count(),
            n.is_deleted(),
        );
        let _ = (
            n.is_user_mailbox(),
            n.is_user_inbox(),
            n.owner(),
            n.user_inbox(),
            n.parent(),
        );
        let p = n.parts(DEFAULT_DELETED_PREFIX);
        let _ = (p.to_internal(DEFAULT_DELETED_PREFIX), p.userid());
        if n.policy_check(true).is_ok() {
            assert_eq!(
                internal_from_dbname(&dbname_key(n.as_str())),
                n.as_str(),
                "dbname key"
            );
        }
    }
    let _ = policy_check(s, virt);
    let _ = internal_from_dbname(data);

    // Modified UTF-7.
    if let Ok(d) = utf7_decode(s) {
        assert_eq!(utf7_encode(&d), s, "UTF-7 is canonical");
        assert_eq!(utf7_validate(s), Ok(()), "decodable UTF-7 must validate");
    }
    let _ = utf7_validate(s);
    assert_eq!(
        utf7_decode(&utf7_encode(s)).as_deref(),
        Ok(s),
        "UTF-7 encode→decode"
    );

    // Namespaces: external → internal → external → internal.
    let ns = Namespace {
        unixhierarchysep: flags & 4 != 0,
        altnamespace: flags & 8 != 0,
        virtdomains: virt,
        ..Namespace::default()
    };
    let user = if flags & 16 != 0 { None } else { Some(t) };
    let _ = ns.policy_check(s);
    let _ = ns.split_userid(t);
    let _ = ns.user_inbox(t);
    if let Ok(int) = ns.to_internal(s, user, admin) {
        if let Some(ext) = ns.to_external(&int, user, admin) {
            assert_eq!(
                ns.to_internal(&ext, user, admin).as_ref(),
                Ok(&int),
                "external {s:?} → internal {int} → external {ext:?} → ?"
            );
        }
    }
    if let Ok(int) = InternalName::new(s) {
        if let Some(ext) = ns.to_external(&int, user, admin) {
            let _ = ns.to_internal(&ext, user, admin);
        }
    }

    // Locations and RENAME targets.
    for l in [
        Location::parse_mupdate(s),
        Location::parse_create_arg(s),
        Location::parse_rename_arg(s),
        Location::parse_server_form(s),
    ]
    .into_iter()
    .flatten()
    {
        check_location(&l);
    }
    let _ = check_partition(s);
    if let Ok((name, loc)) = split_rename_target(s, virt) {
        assert!(!name.is_empty() || loc.is_none());
        if let Some(loc) = loc {
            check_location(&loc);
            let again = format!("{name}!{loc}");
            assert_eq!(split_rename_target(&again, virt), Ok((name, Some(loc))));
        }
    }

    // LIST patterns: reference `t`, pattern `s`, name `u`.
    let sep = match sep_byte % 4 {
        0 => '.',
        1 => '/',
        2 => char::from(sep_byte & 0x7F),
        _ => char::from(sep_byte),
    };
    if let Ok(p) = Pattern::new(t, s, sep) {
        let m = p.matches(u);
        let full = format!("{t}{s}");
        let inbox_like = full.len() >= 5 && full.as_bytes()[..5].eq_ignore_ascii_case(b"INBOX");
        if !inbox_like && full.len() <= 12 && u.len() <= 24 {
            assert_eq!(
                m,
                naive(full.as_bytes(), u.as_bytes(), sep as u8),
                "pattern {full:?} vs {u:?}"
            );
        }
    }
});
