//! IMAP server responses (`protocol::imap::response::Response::parse`): the input is framed in
//! the client role and every framed message is parsed (and the raw input too). A response that
//! parses must encode to bytes that parse back to the same value.
#![no_main]

use fuzz_util::Input;
use libfuzzer_sys::fuzz_target;
use protocol::imap::framing::{Frame, Framer, Limits as FrameLimits, Role};
use protocol::imap::response::{Limits, Response};

fn check(message: &[u8], limits: &Limits) {
    if let Ok(r) = Response::parse_with(message, limits) {
        let wire = r.to_bytes();
        let back = Response::parse_with(&wire, &Limits::default());
        assert_eq!(
            back.as_ref(),
            Ok(&r),
            "round trip of {r:?} via {:?}",
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
            max_message: usize::from(input.u16()),
            max_depth: usize::from(input.byte() % 8),
        }
    };
    let data = input.rest();
    check(data, &limits);
    let mut framer = Framer::new(Role::Client, FrameLimits::default());
    framer.enqueue(data);
    while let Some(frame) = framer.next() {
        if let Frame::Message(m) = frame {
            check(&m, &limits);
        }
    }
});
