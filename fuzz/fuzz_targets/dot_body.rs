//! The dot-terminated body codec shared by POP3 and LMTP DATA
//! (`protocol::pop3::framing::{Framer::begin_body, DotStuffer, dot_stuff}`).
//!
//! Decoding: arbitrary bytes read in body mode (with a fuzzer-chosen size limit) must give the
//! same body, errors and end whole, split at a fuzzer-chosen point and a byte at a time.
//! Encoding: arbitrary data stuffed in two chunks must equal stuffing it whole, and decoding the
//! result must give back the data with its line ends made CRLF.
#![no_main]

use fuzz_util::{assert_split_invariant, split_at, two_chunks, Input};
use libfuzzer_sys::fuzz_target;
use protocol::pop3::framing::{dot_stuff, DotStuffer, Frame, FrameError, Framer};

/// Body events with chunks merged, plus the lines that follow the body.
fn decode(limit: Option<usize>, chunks: &[&[u8]]) -> Vec<Result<Frame, FrameError>> {
    let mut f = Framer::new(64);
    f.begin_body(limit);
    let mut out: Vec<Result<Frame, FrameError>> = Vec::new();
    for c in chunks {
        f.push(c);
        while let Some(ev) = f.next() {
            if let (Some(Ok(Frame::BodyChunk(prev))), Ok(Frame::BodyChunk(more))) =
                (out.last_mut(), &ev)
            {
                prev.extend_from_slice(more);
                continue;
            }
            out.push(ev);
        }
    }
    let _ = (f.in_body(), f.buffered());
    out
}

/// What the stuffer promises the receiver gets back: bare LF becomes CRLF, and unless the data
/// is empty or already ends with a line end, a final CRLF (completing a trailing CR) is added.
fn normalised(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if out.ends_with(b"\r") {
        out.push(b'\n');
    } else if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let limit = match input.u16() {
        0 => None,
        n => Some(usize::from(n % 4096)),
    };
    let chosen = input.u16();
    let data = input.rest();
    let at = split_at(data.len(), chosen);

    assert_split_invariant(data, at, 2048, "dot body decoder", |chunks| {
        decode(limit, chunks)
    });

    // Encoding, whole and in two chunks.
    let mut whole = Vec::new();
    dot_stuff(data, &mut whole);
    let mut chunked = Vec::new();
    let mut s = DotStuffer::new();
    for c in two_chunks(data, at) {
        s.push(c, &mut chunked);
    }
    s.finish(&mut chunked);
    assert_eq!(whole, chunked, "DotStuffer depends on chunking");
    assert!(whole.ends_with(b".\r\n"));

    // ...and back: exactly one body, then the framer is idle.
    let got = decode(None, &[&whole]);
    let want = normalised(data);
    let mut expected = Vec::new();
    if !want.is_empty() {
        expected.push(Ok(Frame::BodyChunk(want)));
    }
    expected.push(Ok(Frame::BodyEnd));
    assert_eq!(
        got,
        expected,
        "stuffed {:?}",
        String::from_utf8_lossy(&whole)
    );
});
