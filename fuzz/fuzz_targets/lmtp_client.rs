//! LMTP client side (`protocol::lmtp::ClientCodec`): arbitrary bytes read as (multi-line)
//! replies must give the same results whole, split at a fuzzer-chosen point and a byte at a
//! time. Every reply read must encode and read back equal, and LHLO replies must convert to
//! `Lhlo` and back.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, Input};
use libfuzzer_sys::fuzz_target;
use protocol::lmtp::{ClientCodec, Error, Lhlo, Limits, Reply};

fn read(limits: Limits, chunks: &[&[u8]]) -> Vec<Result<Reply, Error>> {
    let mut c = ClientCodec::new(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        c.push(chunk);
        while let Some(r) = c.next_reply() {
            out.push(r);
        }
    }
    let _ = c.buffered();
    c.clear();
    out
}

fn read_back(limits: Limits, reply: &Reply) -> Vec<Result<Reply, Error>> {
    // Room for whatever the canonical encoding adds (an enhanced code on every line).
    let roomy = Limits {
        reply_line: limits.reply_line.saturating_add(64),
        ..limits
    };
    read(roomy, &[&reply.to_bytes()])
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limits = if input.flag() {
        Limits::default()
    } else {
        Limits {
            reply_line: usize::from(input.u16() % 2048),
            reply_lines: usize::from(input.byte() % 16),
            ..Limits::default()
        }
    };
    let chosen = input.u16();
    let data = input.rest();
    let at = split_at(data.len(), chosen);
    assert_split_invariant(data, at, 2048, "lmtp ClientCodec", |chunks| {
        read(limits, chunks)
    });
    for r in read(limits, &[data]).into_iter().flatten() {
        let _ = (
            r.code(),
            r.enhanced(),
            r.placement(),
            r.last_text(),
            r.class(),
        );
        assert_eq!(
            read_back(limits, &r),
            vec![Ok(r.clone())],
            "round trip via {:?}",
            String::from_utf8_lossy(&r.to_bytes())
        );
        if let Some(lhlo) = Lhlo::from_reply(&r) {
            let _ = lhlo.auth_mechanisms();
            let again = Lhlo::from_reply(&lhlo.to_reply());
            assert_eq!(again.as_ref(), Some(&lhlo));
        }
    }
});
