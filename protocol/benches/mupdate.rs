//! MUPDATE decode throughput: the stream of MAILBOX records a slave receives during UPDATE, and
//! the RESERVE/ACTIVATE commands a master receives from backends, both in Cyrus's literal form,
//! fed through the framer in 16 KiB reads as a socket would deliver them.
//!
//! Run: `cargo bench -p murder-protocol --bench mupdate`. Criterion reports each input twice:
//! as bytes (MB/s) and as messages (messages/s).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use protocol::mupdate::{
    Command, CommandBody, CommandReader, Inbound, MailboxRecord, Response, ResponseReader,
    StringForm, Tag,
};

const MESSAGES: usize = 10_000;
const READ: usize = 16 * 1024;

/// What a slave reads after `U01 UPDATE`: one MAILBOX record per mailbox.
fn update_stream() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..MESSAGES {
        let user = format!("user{}", i / 4);
        let name = match i % 4 {
            0 => format!("user.{user}"),
            1 => format!("user.{user}.Sent"),
            2 => format!("user.{user}.Trash"),
            _ => format!("user.{user}.Archive.{i}"),
        };
        let loc = format!("backend{}.example.org!default", i % 8);
        let acl = format!("{user}\tlrswipkxtecdan\tanyone\tp\t");
        Response::record(Tag::update(), MailboxRecord::active(name, loc, acl))
            .encode(&mut out, StringForm::Literal);
    }
    out
}

/// What a master reads from backends creating mailboxes: RESERVE then ACTIVATE, alternating.
fn push_stream() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..MESSAGES {
        let mailbox = format!("user.u{}.folder{}", i / 2, i % 7);
        let location = format!("backend{}.example.org!default", i % 8);
        let body = if i % 2 == 0 {
            CommandBody::Reserve { mailbox, location }
        } else {
            CommandBody::Activate {
                mailbox,
                location,
                acl: format!("u{}\tlrswipkxtecdan\t", i / 2),
            }
        };
        Command::new(Tag::request(i as u64), body).encode(&mut out, StringForm::Literal);
    }
    out
}

fn decode_records(input: &[u8]) -> usize {
    let mut r = ResponseReader::default();
    let mut n = 0;
    for chunk in input.chunks(READ) {
        r.enqueue(chunk);
        while let Some(resp) = r.next() {
            black_box(resp.expect("valid record"));
            n += 1;
        }
    }
    n
}

fn decode_commands(input: &[u8]) -> usize {
    let mut r = CommandReader::default();
    let mut n = 0;
    for chunk in input.chunks(READ) {
        r.enqueue(chunk);
        while let Some(i) = r.next() {
            assert!(matches!(i, Inbound::Command(_)));
            black_box(i);
            n += 1;
        }
    }
    n
}

/// Decodes a whole input and returns how many messages it held.
type Decoder = fn(&[u8]) -> usize;

fn bench(c: &mut Criterion) {
    let inputs: [(&str, Vec<u8>, Decoder); 2] = [
        (
            "slave_update_mailbox_records",
            update_stream(),
            decode_records,
        ),
        (
            "master_reserve_activate_commands",
            push_stream(),
            decode_commands,
        ),
    ];
    for (name, input, decode) in inputs {
        assert_eq!(decode(&input), MESSAGES);
        let mut g = c.benchmark_group(format!("mupdate_decode/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_with_input(BenchmarkId::new("bytes", input.len()), &input, |b, i| {
            b.iter(|| decode(i))
        });
        g.throughput(Throughput::Elements(MESSAGES as u64));
        g.bench_with_input(BenchmarkId::new("messages", MESSAGES), &input, |b, i| {
            b.iter(|| decode(i))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
