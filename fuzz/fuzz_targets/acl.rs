//! ACLs (`protocol::acl`): rights strings, SETACL arguments, identifiers and Cyrus's TAB
//! format on arbitrary strings. Rights and ACLs that parse must print and parse back equal,
//! under both `deleteright` settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::acl::{
    format_rights_arg, parse_cyradm_rights, parse_rights_arg, Acl, AclLimits, DeleteRight,
    Identifier, Rights, SetMode,
};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();
    let limits = AclLimits::default();
    for dr in [DeleteRight::C, DeleteRight::D] {
        if let Ok(r) = Rights::parse_with(s, dr, &limits) {
            let printed = r.to_string_with(dr);
            assert_eq!(
                Rights::parse_with(&printed, dr, &limits),
                Ok(r),
                "rights via {printed:?}"
            );
            assert_eq!(Rights::from_bits(r.bits()), Some(r));
        }
        if let Ok(acl) = Acl::parse_with(s, &limits, dr) {
            let printed = acl.encode_with(dr);
            assert_eq!(
                Acl::parse_with(&printed, &limits, dr).as_ref(),
                Ok(&acl),
                "ACL via {printed:?}"
            );
            let _ = (
                acl.len(),
                acl.is_empty(),
                acl.rights_for("bob", &["group:staff"]),
            );
            // Editing: replace, add and remove on every identifier keep the ACL printable.
            let mut edited = acl.clone();
            for (id, rights) in acl.entries() {
                edited.set(id, SetMode::Add, *rights);
                if id.positive().len() < limits.max_identifier_len {
                    edited.set(&id.negated(), SetMode::Remove, *rights);
                }
                let _ = edited.get(id);
            }
            let printed = edited.encode_with(dr);
            if edited.len() <= limits.max_entries && printed.len() <= limits.max_acl_len {
                assert_eq!(Acl::parse_with(&printed, &limits, dr).as_ref(), Ok(&edited));
            }
        }
    }
    if let Ok((mode, r)) = parse_rights_arg(s) {
        assert_eq!(parse_rights_arg(&format_rights_arg(mode, r)), Ok((mode, r)));
    }
    let _ = parse_cyradm_rights(s);
    if let Ok(id) = Identifier::new(s) {
        let _ = (
            id.kind(),
            id.is_negative(),
            id.positive(),
            id.applies_to("bob", &["group:x"]),
        );
        let neg = id.negated();
        assert!(neg.is_negative());
        assert_eq!(neg.positive(), id.positive());
        if id.positive().len() < limits.max_identifier_len {
            assert_eq!(Identifier::new(neg.as_str()).as_ref(), Ok(&neg));
        }
    }
    if let Ok(acl) = Acl::from_defaultacl(s) {
        let printed = acl.to_string();
        assert_eq!(
            Acl::parse(&printed).as_ref(),
            Ok(&acl),
            "defaultacl via {printed:?}"
        );
    }
});
