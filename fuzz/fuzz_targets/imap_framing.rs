//! IMAP framer (`protocol::imap::framing::Framer`), both roles: arbitrary bytes, default or
//! fuzzer-chosen small limits, fed whole, split at a fuzzer-chosen point and a byte at a time;
//! the frames must be identical. Also `literal_header` on every line.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, Input};
use libfuzzer_sys::fuzz_target;
use protocol::imap::framing::{literal_header, Frame, Framer, Limits, Role};

fn frames(role: Role, limits: Limits, chunks: &[&[u8]]) -> Vec<Frame> {
    let mut f = Framer::new(role, limits);
    let mut out = Vec::new();
    for c in chunks {
        f.enqueue(c);
        while let Some(fr) = f.next() {
            out.push(fr);
        }
    }
    // What is left must be accountable and takeable without panicking.
    let _ = (f.buffered(), f.is_idle());
    let _ = f.take_buffered();
    assert!(f.is_idle());
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let small = input.flag();
    let limits = if small {
        Limits {
            max_line: 4 + usize::from(input.u16() % 256),
            max_literal: u64::from(input.u16() % 512),
            max_message: 8 + usize::from(input.u16() % 2048),
        }
    } else {
        Limits::default()
    };
    let chosen = input.u16();
    let data = input.rest();
    let at = split_at(data.len(), chosen);
    for role in [Role::Server, Role::Client] {
        assert_split_invariant(data, at, 2048, "imap framer", |chunks| {
            frames(role, limits, chunks)
        });
    }
    for line in data.split_inclusive(|&b| b == b'\n') {
        let _ = literal_header(line);
    }
});
