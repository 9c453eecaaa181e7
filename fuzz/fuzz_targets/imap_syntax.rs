//! IMAP lexical parsers (`protocol::imap::syntax`): astring, nstring, string, literal, quoted,
//! list-mailbox, atom and numbers on arbitrary bytes. Whatever decodes must re-encode (with the
//! matching `write_*`) to bytes that decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::imap::syntax::{
    astring, atom, list_mailbox, literal, nstring, number, number64, nz_number, quoted, string,
    tag_token, write_astring, write_literal, write_nstring, write_quoted, write_string,
    LiteralMode,
};

/// The remainder a parser returns must be a suffix of its input.
fn check_rest(input: &[u8], rest: &[u8]) {
    assert!(rest.len() <= input.len());
    assert_eq!(&input[input.len() - rest.len()..], rest);
}

fuzz_target!(|data: &[u8]| {
    let modes = [LiteralMode::Sync, LiteralMode::NonSync];

    if let Ok((rest, v)) = astring(data) {
        check_rest(data, rest);
        for mode in modes {
            let mut out = Vec::new();
            write_astring(&mut out, &v, mode);
            let (r, back) = astring(&out).expect("encoded astring must parse");
            assert!(r.is_empty(), "astring encoding left {r:?}");
            assert_eq!(back.as_ref(), v.as_ref());
        }
    }
    if let Ok((rest, v)) = nstring(data) {
        check_rest(data, rest);
        for mode in modes {
            let mut out = Vec::new();
            write_nstring(&mut out, v.as_deref(), mode);
            let (r, back) = nstring(&out).expect("encoded nstring must parse");
            assert!(r.is_empty(), "nstring encoding left {r:?}");
            assert_eq!(back.as_deref(), v.as_deref());
        }
    }
    if let Ok((rest, v)) = string(data) {
        check_rest(data, rest);
        for mode in modes {
            let mut out = Vec::new();
            write_string(&mut out, &v, mode);
            let (r, back) = string(&out).expect("encoded string must parse");
            assert!(r.is_empty());
            assert_eq!(back.as_ref(), v.as_ref());
        }
    }
    if let Ok((rest, v)) = literal(data) {
        check_rest(data, rest);
        for mode in modes {
            let mut out = Vec::new();
            write_literal(&mut out, v, mode);
            let (r, back) = literal(&out).expect("encoded literal must parse");
            assert!(r.is_empty());
            assert_eq!(back, v);
        }
    }
    if let Ok((rest, v)) = quoted(data) {
        check_rest(data, rest);
        // A decoded quoted string has no CR, LF or NUL, so it can always be quoted again.
        let mut out = Vec::new();
        write_quoted(&mut out, &v);
        let (r, back) = quoted(&out).expect("encoded quoted must parse");
        assert!(r.is_empty());
        assert_eq!(back.as_ref(), v.as_ref());
    }
    if let Ok((rest, _)) = list_mailbox(data) {
        check_rest(data, rest);
    }
    if let Ok((rest, _)) = atom(data) {
        check_rest(data, rest);
    }
    if let Ok((rest, _)) = tag_token(data) {
        check_rest(data, rest);
    }
    if let Ok((rest, n)) = number(data) {
        check_rest(data, rest);
        assert_eq!(
            number(n.to_string().as_bytes()).ok().map(|(_, m)| m),
            Some(n)
        );
    }
    if let Ok((rest, n)) = nz_number(data) {
        check_rest(data, rest);
        assert!(n > 0);
    }
    if let Ok((rest, n)) = number64(data) {
        check_rest(data, rest);
        assert!(n <= i64::MAX as u64);
    }
});
