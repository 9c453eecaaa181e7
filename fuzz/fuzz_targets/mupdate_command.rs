//! MUPDATE server side (`protocol::mupdate::{Command, CommandReader, SaslResponse}`): commands
//! parsed from arbitrary bytes must encode (literal and quoted forms) and parse back equal;
//! every refusal's answer must decode as a response; `CommandReader` must give the same
//! results whole, split at a fuzzer-chosen point and a byte at a time; SASL lines round-trip.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, Input};
use libfuzzer_sys::fuzz_target;
use protocol::imap::framing::Limits as FrameLimits;
use protocol::mupdate::{
    Command, CommandReader, Inbound, Limits, Response, SaslResponse, StringForm,
};

fn check_command(msg: &[u8], limits: &Limits) {
    match Command::parse_with(msg, limits) {
        Ok(cmd) => {
            let _ = cmd.requires_login();
            for form in [StringForm::Literal, StringForm::Quoted] {
                let wire = cmd.to_bytes(form);
                let back = Command::parse_with(&wire, &Limits::default());
                assert_eq!(
                    back.as_ref(),
                    Ok(&cmd),
                    "round trip ({form:?}) via {:?}",
                    String::from_utf8_lossy(&wire)
                );
            }
        }
        Err(e) => {
            let _ = (e.requires_login(), e.is_fatal());
            let wire = e.to_response().to_bytes(StringForm::Literal);
            assert!(
                Response::decode(&wire).is_ok(),
                "answer to {e:?} does not decode: {:?}",
                String::from_utf8_lossy(&wire)
            );
        }
    }
}

fn check_sasl(msg: &[u8], limits: &Limits) {
    if let Ok(r) = SaslResponse::parse_with(msg, limits) {
        let mut wire = Vec::new();
        r.encode(&mut wire);
        assert_eq!(SaslResponse::parse_with(&wire, limits), Ok(r));
    }
}

fn read(limits: Limits, chunks: &[&[u8]]) -> Vec<Inbound> {
    let mut r = CommandReader::new(limits);
    let mut out = Vec::new();
    for c in chunks {
        r.enqueue(c);
        while let Some(i) = r.next() {
            out.push(i);
        }
    }
    let _ = r.buffered();
    let _ = r.take_buffered();
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = if input.flag() {
        Limits::default()
    } else {
        Limits {
            framing: FrameLimits {
                max_line: 4 + usize::from(input.u16() % 512),
                max_literal: u64::from(input.u16() % 512),
                max_message: 8 + usize::from(input.u16() % 2048),
            },
            max_string: usize::from(input.u16() % 512),
        }
    };
    let chosen = input.u16();
    let data = input.rest();

    check_command(data, &limits);
    check_sasl(data, &limits);

    let at = split_at(data.len(), chosen);
    assert_split_invariant(data, at, 2048, "mupdate CommandReader", |chunks| {
        read(limits, chunks)
    });
    for inbound in read(limits, &[data]) {
        if let Inbound::Bad(e) = inbound {
            let wire = e.to_response().to_bytes(StringForm::Quoted);
            assert!(Response::decode(&wire).is_ok());
        }
    }

    // The same stream read as SASL lines, as during AUTHENTICATE.
    let mut r = CommandReader::new(limits);
    r.enqueue(data);
    while let Some(s) = r.next_sasl() {
        if let Ok(s) = s {
            let mut wire = Vec::new();
            s.encode(&mut wire);
            check_sasl(&wire, &limits);
        }
    }
});
