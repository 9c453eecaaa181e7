//! IMAP client commands (`protocol::imap::command::Command::parse`): the input is framed in the
//! server role and every framed message is parsed (and the raw input too). A command that
//! parses must encode (both literal modes) to bytes that parse back to the same value; an
//! error's `BAD` line must be one line that the response parser accepts.
#![no_main]

use fuzz_util::Input;
use libfuzzer_sys::fuzz_target;
use protocol::imap::command::{is_idle_done, Command, ParseLimits};
use protocol::imap::framing::{Frame, Framer, Limits, Role};
use protocol::imap::response::Response;
use protocol::imap::syntax::LiteralMode;

fn check(message: &[u8], limits: ParseLimits) {
    let _ = is_idle_done(message);
    match Command::parse_with(message, limits) {
        Ok(cmd) => {
            for mode in [LiteralMode::Sync, LiteralMode::NonSync] {
                let wire = cmd.to_bytes(mode);
                let back = Command::parse_with(&wire, limits);
                assert_eq!(
                    back.as_ref(),
                    Ok(&cmd),
                    "round trip ({mode:?}) of {cmd:?} via {:?}",
                    String::from_utf8_lossy(&wire)
                );
            }
        }
        Err(e) => {
            let mut bad = Vec::new();
            e.write_bad(&mut bad);
            assert!(
                bad.iter().filter(|&&b| b == b'\n').count() == 1 && bad.ends_with(b"\r\n"),
                "BAD answer is not one line: {:?}",
                String::from_utf8_lossy(&bad)
            );
            assert!(
                Response::parse(&bad).is_ok(),
                "BAD answer does not parse: {:?}",
                String::from_utf8_lossy(&bad)
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = ParseLimits {
        max_depth: if input.flag() {
            64
        } else {
            usize::from(input.byte() % 8)
        },
    };
    let data = input.rest();
    check(data, limits);
    let mut framer = Framer::new(Role::Server, Limits::default());
    framer.enqueue(data);
    while let Some(frame) = framer.next() {
        if let Frame::Message(m) = frame {
            check(&m, limits);
        }
    }
});
