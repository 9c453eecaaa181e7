//! MUPDATE client side (`protocol::mupdate::{Response, ResponseReader}`): responses decoded
//! from arbitrary bytes must encode (literal and quoted forms) and decode back equal, and
//! `ResponseReader` must give the same results whole, split at a fuzzer-chosen point and a
//! byte at a time.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, Input};
use libfuzzer_sys::fuzz_target;
use protocol::imap::framing::Limits as FrameLimits;
use protocol::mupdate::{Limits, Response, ResponseError, ResponseReader, StringForm};

fn check(msg: &[u8], limits: &Limits) {
    if let Ok(r) = Response::decode_with(msg, limits) {
        for form in [StringForm::Literal, StringForm::Quoted] {
            let wire = r.to_bytes(form);
            let back = Response::decode_with(&wire, &Limits::default());
            assert_eq!(
                back.as_ref(),
                Ok(&r),
                "round trip ({form:?}) via {:?}",
                String::from_utf8_lossy(&wire)
            );
        }
    }
}

fn read(limits: Limits, chunks: &[&[u8]]) -> Vec<Result<Response, ResponseError>> {
    let mut r = ResponseReader::new(limits);
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

    check(data, &limits);
    let at = split_at(data.len(), chosen);
    assert_split_invariant(data, at, 2048, "mupdate ResponseReader", |chunks| {
        read(limits, chunks)
    });
    for r in read(limits, &[data]).into_iter().flatten() {
        let wire = r.to_bytes(StringForm::Literal);
        check(&wire, &Limits::default());
    }
});
