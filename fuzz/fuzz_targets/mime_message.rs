//! MIME messages (`protocol::mime::Message`): arbitrary bytes parsed as a stored message with
//! default or fuzzer-chosen small limits; ENVELOPE, BODY and BODYSTRUCTURE are computed and
//! written as a FETCH response, which our own IMAP response parser must read back; sections,
//! BINARY and partial windows are taken at fuzzer-chosen part paths; search text, header
//! values and the sent date are extracted.
#![no_main]

use std::num::NonZeroU32;

use fuzz_util::Input;
use libfuzzer_sys::fuzz_target;
use protocol::imap::response::{Limits as ResponseLimits, Response};
use protocol::imap::types::{Section, SectionText};
use protocol::mime::{format_date, parse_date, partial, unix_time, Limits, Message};

/// Our FETCH encoding of `item` must be readable by our own response parser.
fn readable(item: &str, encoded: &[u8]) {
    let mut wire = format!("* 1 FETCH ({item} ").into_bytes();
    wire.extend_from_slice(encoded);
    wire.extend_from_slice(b")\r\n");
    let limits = ResponseLimits {
        max_depth: 1024,
        ..ResponseLimits::default()
    };
    if let Err(e) = Response::parse_with(&wire, &limits) {
        panic!(
            "{item} does not read back ({e}): {:?}",
            String::from_utf8_lossy(&wire)
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = if input.flag() {
        Limits::default()
    } else {
        Limits {
            max_depth: usize::from(input.byte() % 8),
            max_parts: 1 + usize::from(input.byte() % 64),
        }
    };
    // Up to four part paths of up to three levels, parts 1..=4.
    let mut paths: Vec<Vec<NonZeroU32>> = vec![Vec::new()];
    for _ in 0..4 {
        let b = input.byte();
        let depth = usize::from(b % 4);
        let path = (0..depth)
            .filter_map(|i| NonZeroU32::new(u32::from((b >> (2 + 2 * i)) & 3) + 1))
            .collect();
        paths.push(path);
    }
    let origin = u32::from(input.u16());
    let count = match input.u16() {
        0 => None,
        n => Some(u32::from(n)),
    };
    let raw = input.rest();

    let msg = Message::parse_with(raw, &limits);
    let _ = (msg.limit_exceeded(), msg.header(), msg.text(), msg.root());

    let mut out = Vec::new();
    msg.envelope().encode(&mut out);
    readable("ENVELOPE", &out);
    for (extensible, item) in [(false, "BODY"), (true, "BODYSTRUCTURE")] {
        let mut out = Vec::new();
        msg.body_structure(extensible).encode(&mut out);
        readable(item, &out);
    }

    // BODY[] is the whole message.
    assert_eq!(
        msg.section(&Section::default()).as_deref(),
        Some(raw),
        "BODY[] differs from the message"
    );
    let texts = [
        None,
        Some(SectionText::Header),
        Some(SectionText::HeaderFields(vec![
            b"SUBJECT".to_vec(),
            b"from".to_vec(),
        ])),
        Some(SectionText::HeaderFieldsNot(vec![b"Content-Type".to_vec()])),
        Some(SectionText::Text),
        Some(SectionText::Mime),
    ];
    for path in &paths {
        let _ = msg.part(path);
        if let Ok(Some(b)) = msg.binary(path) {
            let _ = partial(&b, origin, count);
        }
        for text in &texts {
            if let Ok(section) = Section::new(path.clone(), text.clone()) {
                if let Some(s) = msg.section(&section) {
                    let p = partial(&s, origin, count);
                    assert!(p.len() <= s.len());
                }
            }
        }
    }

    let _ = (msg.searchable_text(), msg.searchable_headers());
    let _ = (msg.header_values(b"Subject"), msg.header_values(b"to"));
    if let Some(Ok(date)) = msg.sent_date() {
        let _ = unix_time(date);
        let printed = format_date(date);
        assert_eq!(
            parse_date(printed.as_bytes()),
            Ok(date),
            "date via {printed:?}"
        );
    }
});
