//! Decoding speed of a stream of `* n FETCH (FLAGS (...) ENVELOPE (...))` responses, the bulk of
//! what a client reads when it lists a mailbox: framing plus typed parsing, in MB/s (criterion's
//! throughput) and responses/s (divide the element count by the time per iteration).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use protocol::imap::framing::{Frame, Framer, Limits, Role};
use protocol::imap::response::Response;

const RESPONSES: usize = 1000;

fn stream() -> Vec<u8> {
    let mut out = Vec::new();
    for n in 1..=RESPONSES {
        let line = format!(
            "* {n} FETCH (FLAGS (\\Seen \\Flagged $Label{k}) ENVELOPE (\"Sat, 28 Nov 2026 10:08:44 +0000\" \"Re: quarterly report number {n} (draft)\" ((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) ((NIL NIL \"bob\" \"example.org\")(\"Carol\" NIL \"carol\" \"example.net\")) ((NIL NIL \"team\" \"lists.example.org\")) NIL \"<prev-{n}@example.org>\" \"<msg-{n}@example.org>\"))\r\n",
            k = n % 7
        );
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn decode(c: &mut Criterion) {
    let input = stream();
    let mut g = c.benchmark_group("imap_responses");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("fetch_envelope_flags_bytes", |b| {
        b.iter(|| {
            let mut f = Framer::new(Role::Client, Limits::default());
            f.enqueue(black_box(&input));
            let mut n = 0usize;
            while let Some(Frame::Message(m)) = f.next() {
                let r = Response::parse(&m).expect("valid response");
                black_box(&r);
                n += 1;
            }
            assert_eq!(n, RESPONSES);
        })
    });
    g.throughput(Throughput::Elements(RESPONSES as u64));
    g.bench_function("fetch_envelope_flags_responses", |b| {
        let mut f = Framer::new(Role::Client, Limits::default());
        f.enqueue(&input);
        let mut msgs = Vec::new();
        while let Some(Frame::Message(m)) = f.next() {
            msgs.push(m);
        }
        b.iter(|| {
            for m in &msgs {
                black_box(Response::parse(black_box(m)).expect("valid response"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
