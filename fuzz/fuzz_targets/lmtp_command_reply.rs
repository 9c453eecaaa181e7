//! LMTP value parsers on one arbitrary line: `Command::parse`, `Address::parse`,
//! `xtext_decode`, `EnhancedCode::parse`, `LhloCapability::parse`, `Reply::line`. Whatever
//! parses must encode and parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::lmtp::{
    xtext_decode, xtext_encode, Address, ClientCodec, Command, EnhancedCode, LhloCapability,
    Limits, Reply, Text,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        let mut wire = Vec::new();
        cmd.encode(&mut wire);
        let line = wire
            .strip_suffix(b"\r\n")
            .expect("encoded command ends in CRLF");
        assert_eq!(
            Command::parse(line).as_ref(),
            Ok(&cmd),
            "via {:?}",
            String::from_utf8_lossy(&wire)
        );
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(a) = Address::parse(s) {
        let _ = (
            a.user_and_detail(),
            a.downcase_user(),
            a.local(),
            a.domain(),
        );
        assert_eq!(Address::parse(&a.to_string()).as_ref(), Ok(&a));
    }
    if let Ok(x) = xtext_decode(s) {
        assert_eq!(xtext_decode(&xtext_encode(&x)).as_ref(), Ok(&x));
    }
    if let Ok(e) = EnhancedCode::parse(s) {
        assert_eq!(EnhancedCode::parse(&e.to_string()), Ok(e));
    }
    if let Ok(t) = Text::new(s) {
        let cap = LhloCapability::parse(&t);
        assert_eq!(LhloCapability::parse(&cap.to_text()), cap);
    }
    for code in [250u16, 451, 550] {
        if let Ok(r) = Reply::line(code, s) {
            let mut c = ClientCodec::new(Limits {
                reply_line: usize::MAX,
                ..Limits::default()
            });
            c.push(&r.to_bytes());
            assert_eq!(c.next_reply(), Some(Ok(r)));
        }
    }
});
