//! POP3 value parsers on one arbitrary line: `Command::parse`, `Response::parse`,
//! `SaslResponse::parse`, `Capability::parse`, `parse_capabilities`, `Stat`, `ListEntry`,
//! `UidlEntry`. Whatever parses must encode and parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::pop3::framing::{Frame, Framer};
use protocol::pop3::{
    parse_capabilities, Capability, Command, ListEntry, Response, SaslResponse, Stat, UidlEntry,
};

fn strip_crlf(wire: &[u8]) -> &[u8] {
    wire.strip_suffix(b"\r\n")
        .expect("encoder ends lines in CRLF")
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        let mut wire = Vec::new();
        cmd.encode(&mut wire);
        assert_eq!(Command::parse(strip_crlf(&wire)).as_ref(), Ok(&cmd));
    }
    if let Ok(r) = Response::parse(data) {
        let mut wire = Vec::new();
        r.encode(&mut wire);
        assert_eq!(Response::parse(strip_crlf(&wire)).as_ref(), Ok(&r));
    }
    if let Ok(s) = SaslResponse::parse(data) {
        let mut wire = Vec::new();
        s.encode(&mut wire);
        assert_eq!(SaslResponse::parse(strip_crlf(&wire)).as_ref(), Ok(&s));
    }
    if let Ok(caps) = parse_capabilities(data) {
        // Encoded as a CAPA body, decoded with the body framer, parsed again.
        let mut wire = Vec::new();
        Capability::encode_list(&caps, &mut wire);
        let mut f = Framer::new(1024);
        f.begin_body(None);
        f.push(&wire);
        let mut body = Vec::new();
        loop {
            match f.next() {
                Some(Ok(Frame::BodyChunk(c))) => body.extend_from_slice(&c),
                Some(Ok(Frame::BodyEnd)) => break,
                other => panic!("CAPA body did not decode: {other:?}"),
            }
        }
        assert_eq!(parse_capabilities(&body).as_ref(), Ok(&caps));
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = Capability::parse(s) {
            assert_eq!(Capability::parse(&c.to_line()).as_ref(), Ok(&c));
        }
        if let Ok(st) = Stat::parse(s) {
            let r = st.to_response();
            assert_eq!(Stat::parse(r.text()).as_ref(), Ok(&st));
        }
        if let Ok(l) = ListEntry::parse(s) {
            assert_eq!(ListEntry::parse(&l.to_string()).as_ref(), Ok(&l));
        }
        if let Ok(u) = UidlEntry::parse(s) {
            assert_eq!(UidlEntry::parse(&u.to_string()).as_ref(), Ok(&u));
        }
    }
});
