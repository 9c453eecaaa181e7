//! POP3 server side (`protocol::pop3::ServerCodec`): arbitrary bytes, read as commands or (by a
//! fuzzer-chosen pattern) as SASL lines, must give the same results whole, split at a
//! fuzzer-chosen point and a byte at a time. Every command read must round-trip.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, Input};
use libfuzzer_sys::fuzz_target;
use protocol::pop3::{Command, Error, Limits, SaslResponse, ServerCodec};

#[derive(Debug, PartialEq)]
enum Item {
    Command(Result<Command, Error>),
    Sasl(Result<SaslResponse, Error>),
}

/// Reads everything; the `k`-th item is read as a SASL line when bit `k % 16` of `mask` is
/// set. The choice depends only on items produced, never on how the input was chunked.
fn read(limits: Limits, mask: u16, chunks: &[&[u8]]) -> Vec<Item> {
    let mut s = ServerCodec::new(limits);
    let mut out = Vec::new();
    for c in chunks {
        s.push(c);
        loop {
            let sasl = mask & (1 << (out.len() % 16)) != 0;
            let item = if sasl {
                s.next_sasl_response().map(Item::Sasl)
            } else {
                s.next_command().map(Item::Command)
            };
            match item {
                Some(i) => out.push(i),
                None => break,
            }
        }
    }
    let _ = s.buffered();
    s.clear();
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = if input.flag() {
        Limits::default()
    } else {
        Limits {
            command_line: usize::from(input.byte()),
            sasl_line: usize::from(input.u16() % 1024),
            response_line: usize::from(input.u16() % 1024),
        }
    };
    let mask = input.u16();
    let chosen = input.u16();
    let data = input.rest();
    let at = split_at(data.len(), chosen);
    assert_split_invariant(data, at, 2048, "pop3 ServerCodec", |chunks| {
        read(limits, mask, chunks)
    });
    for item in read(limits, mask, &[data]) {
        if let Item::Command(Ok(cmd)) = item {
            let _ = (cmd.verb(), cmd.has_multiline_response());
            let mut wire = Vec::new();
            cmd.encode(&mut wire);
            let line = wire
                .strip_suffix(b"\r\n")
                .expect("encoded command ends in CRLF");
            assert_eq!(
                Command::parse(line).as_ref(),
                Ok(&cmd),
                "round trip via {:?}",
                String::from_utf8_lossy(&wire)
            );
        }
    }
});
