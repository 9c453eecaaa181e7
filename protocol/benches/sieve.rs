//! Sieve at delivery: compiling, and running, the 50-rule script of issue 8's LMTP benchmark
//! (`scripts/bench_sieve.sh`, where no rule matches) against its 10 KB message. Running it is
//! what every delivery pays; compiling happens once per script change (lmtpd caches it).
//!
//! Run: `cargo bench -p murder-protocol --bench sieve`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use protocol::sieve::{compile, evaluate, MessageContext};

/// The same rules as `fifty_rules` in tests/tests/lmtpd_sieve.rs.
fn fifty_rules() -> String {
    let mut s = String::from("require [\"fileinto\", \"imap4flags\"];\n");
    for i in 0..50 {
        s.push_str(&match i % 5 {
            0 => format!("if header :contains \"List-Id\" \"list{i}.example.net\" {{ fileinto \"INBOX.list{i}\"; stop; }}\n"),
            1 => format!("if address :is :domain \"from\" \"sender{i}.example.com\" {{ fileinto \"INBOX.people\"; stop; }}\n"),
            2 => format!("if header :matches \"Subject\" \"*[spam{i}]*\" {{ fileinto \"INBOX.Junk\"; stop; }}\n"),
            3 => format!("if allof (header :contains \"X-Spam-Flag\" \"YES\", size :over {}K) {{ discard; stop; }}\n", 100 + i),
            _ => format!("if anyof (address :localpart :is [\"to\", \"cc\"] \"team{i}\", exists \"X-Rule-{i}\") {{ fileinto \"INBOX.team\"; stop; }}\n"),
        });
    }
    s.push_str("addflag \"$sievebench\";\n");
    s
}

fn message() -> Vec<u8> {
    let mut msg = b"From: bench@example.org\r\nTo: bench@example.org\r\nSubject: bench\r\nMessage-ID: <bench@example.org>\r\n\r\n".to_vec();
    while msg.len() < 10 * 1024 - 80 {
        msg.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\r\n",
        );
    }
    msg
}

fn bench(c: &mut Criterion) {
    let text = fifty_rules();
    let msg = message();
    let script = compile(text.as_bytes()).expect("the benchmark script compiles");
    c.bench_function("sieve/compile 50 rules", |b| {
        b.iter(|| compile(black_box(text.as_bytes())))
    });
    // A fresh context per run, as each delivery has: the header is parsed inside.
    c.bench_function("sieve/evaluate 50 rules, 10 KB message", |b| {
        b.iter(|| {
            let ctx = MessageContext::new(black_box(&msg), "bench@example.org", "bu01");
            evaluate(&script, &ctx)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
