//! POP3 client side (`protocol::pop3::ClientCodec`): arbitrary bytes read as responses, with a
//! multi-line body begun after a fuzzer-chosen pattern of `+OK`s, must give the same events
//! whole, split at a fuzzer-chosen point and a byte at a time (body chunks compared after
//! concatenation). Every response read must round-trip.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, Input};
use libfuzzer_sys::fuzz_target;
use protocol::pop3::{ClientCodec, ClientEvent, Error, Limits, Response};

fn read(
    limits: Limits,
    mask: u16,
    body_limit: Option<usize>,
    chunks: &[&[u8]],
) -> Vec<Result<ClientEvent, Error>> {
    let mut c = ClientCodec::new(limits);
    let mut out: Vec<Result<ClientEvent, Error>> = Vec::new();
    let mut oks = 0usize;
    for chunk in chunks {
        c.push(chunk);
        while let Some(ev) = c.next() {
            if let Ok(ClientEvent::Response(r)) = &ev {
                if r.is_ok() {
                    if mask & (1 << (oks % 16)) != 0 {
                        c.begin_multiline(body_limit);
                    }
                    oks += 1;
                }
            }
            // Chunk boundaries inside a body depend on how the input arrived; merge them.
            if let (Some(Ok(ClientEvent::BodyChunk(prev))), Ok(ClientEvent::BodyChunk(more))) =
                (out.last_mut(), &ev)
            {
                prev.extend_from_slice(more);
                continue;
            }
            out.push(ev);
        }
    }
    let _ = c.buffered();
    c.clear();
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = if input.flag() {
        Limits::default()
    } else {
        Limits {
            command_line: 255,
            sasl_line: 12288,
            response_line: usize::from(input.u16() % 1024),
        }
    };
    let mask = input.u16();
    let body_limit = match input.u16() {
        0 => None,
        n => Some(usize::from(n % 4096)),
    };
    let chosen = input.u16();
    let data = input.rest();
    let at = split_at(data.len(), chosen);
    assert_split_invariant(data, at, 2048, "pop3 ClientCodec", |chunks| {
        read(limits, mask, body_limit, chunks)
    });
    for ev in read(limits, mask, body_limit, &[data]) {
        if let Ok(ClientEvent::Response(r)) = ev {
            let _ = (r.code(), r.text(), r.apop_timestamp());
            let mut wire = Vec::new();
            r.encode(&mut wire);
            let line = wire
                .strip_suffix(b"\r\n")
                .expect("encoded response ends in CRLF");
            assert_eq!(
                Response::parse(line).as_ref(),
                Ok(&r),
                "round trip via {:?}",
                String::from_utf8_lossy(&wire)
            );
        }
    }
});
