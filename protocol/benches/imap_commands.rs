//! Framer + `Command::parse` throughput on a realistic mix of client commands, as a server (or a
//! frontend proxy) sees them: FETCH, UID FETCH, STORE, SELECT, LIST, APPEND with a small
//! literal, SEARCH, NOOP, IDLE/DONE.
//!
//! Run with `cargo bench -p murder-protocol --bench imap_commands`. Criterion reports both
//! MiB/s (the `bytes` group) and commands/s (the `commands` group). Target: at least 200 MB/s
//! on one core.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protocol::imap::command::{is_idle_done, Command};
use protocol::imap::framing::{Frame, Framer, Limits, Role};

/// A small but real-looking message for APPEND (about 600 octets).
fn message() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(
        b"Return-Path: <alice@example.org>\r\n\
Received: from mx.example.org (mx.example.org [192.0.2.1])\r\n\tby imap.example.org with LMTPA;\r\n\tSat, 28 Nov 2026 10:08:44 +0000\r\n\
From: Alice <alice@example.org>\r\n\
To: Bob <bob@example.org>\r\n\
Subject: quarterly numbers\r\n\
Date: Sat, 28 Nov 2026 10:08:44 +0000\r\n\
Message-ID: <bench-1@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\r\n",
    );
    for _ in 0..5 {
        m.extend_from_slice(
            b"The numbers are in the attached sheet; please check them before Monday.\r\n",
        );
    }
    m
}

/// One round of a client session's steady state: 20 commands.
fn session_round(round: u32) -> Vec<u8> {
    let msg = message();
    let mut s = Vec::new();
    let t = |s: &mut Vec<u8>, n: u32, rest: &str| {
        s.extend_from_slice(format!("r{round}c{n} {rest}\r\n").as_bytes());
    };
    t(&mut s, 1, "SELECT INBOX");
    t(&mut s, 2, "UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM DATE MESSAGE-ID)])");
    t(&mut s, 3, "FETCH 12 (BODY.PEEK[TEXT]<0.2048>)");
    t(&mut s, 4, "UID FETCH 1201:1300 (FLAGS)");
    t(&mut s, 5, "UID STORE 1201 +FLAGS.SILENT (\\Seen)");
    t(&mut s, 6, "STORE 3:5 -FLAGS (\\Flagged $Junk)");
    t(&mut s, 7, "NOOP");
    t(&mut s, 8, "LIST \"\" \"*\"");
    t(&mut s, 9, "STATUS INBOX.Sent (MESSAGES UNSEEN UIDNEXT)");
    t(
        &mut s,
        10,
        "UID SEARCH UNSEEN SINCE 1-Nov-2026 NOT FROM \"newsletter\"",
    );
    s.extend_from_slice(
        format!(
            "r{round}c11 APPEND INBOX.Sent (\\Seen) {{{}+}}\r\n",
            msg.len()
        )
        .as_bytes(),
    );
    s.extend_from_slice(&msg);
    s.extend_from_slice(b"\r\n");
    t(&mut s, 12, "IDLE");
    s.extend_from_slice(b"DONE\r\n");
    t(&mut s, 13, "UID FETCH 1301 (BODY.PEEK[])");
    t(&mut s, 14, "UID MOVE 1201:1205 INBOX.Trash");
    t(&mut s, 15, "EXAMINE INBOX.Sent");
    t(&mut s, 16, "FETCH 1:20 FAST");
    t(&mut s, 17, "SEARCH OR SUBJECT report BODY numbers SEEN");
    t(&mut s, 18, "GETQUOTAROOT INBOX");
    t(&mut s, 19, "NOOP");
    s
}

fn stream() -> (Vec<u8>, u64) {
    let mut s = Vec::new();
    let mut commands = 0u64;
    for round in 0..500 {
        s.extend_from_slice(&session_round(round));
        commands += 20; // 19 tagged commands and DONE
    }
    (s, commands)
}

/// Feeds the stream in 16 KiB reads, as from a socket, and parses every message.
fn run(stream: &[u8]) -> usize {
    let mut f = Framer::new(Role::Server, Limits::default());
    let mut parsed = 0;
    for chunk in stream.chunks(16 * 1024) {
        f.enqueue(chunk);
        while let Some(frame) = f.next() {
            if let Frame::Message(m) = frame {
                if is_idle_done(&m) {
                    parsed += 1;
                    continue;
                }
                match Command::parse(&m) {
                    Ok(c) => {
                        black_box(&c);
                        parsed += 1;
                    }
                    Err(e) => panic!("{e}: {}", String::from_utf8_lossy(&m)),
                }
            }
        }
    }
    parsed
}

fn bench(c: &mut Criterion) {
    let (s, commands) = stream();
    assert_eq!(run(&s) as u64, commands);

    let mut g = c.benchmark_group("imap_commands_bytes");
    g.sample_size(50);
    g.throughput(Throughput::Bytes(s.len() as u64));
    g.bench_function("framer+parse mixed session", |b| {
        b.iter(|| run(black_box(&s)))
    });
    g.finish();

    let mut g = c.benchmark_group("imap_commands_count");
    g.sample_size(50);
    g.throughput(Throughput::Elements(commands));
    g.bench_function("framer+parse mixed session", |b| {
        b.iter(|| run(black_box(&s)))
    });
    g.finish();

    // Without the APPEND literal, the mix is all short command lines: the harder case.
    let lines: Vec<u8> = {
        let mut out = Vec::new();
        let mut f = Framer::new(Role::Server, Limits::default());
        f.enqueue(&s);
        while let Some(frame) = f.next() {
            if let Frame::Message(m) = frame {
                if !m.windows(6).any(|w| w == b"APPEND") {
                    out.extend_from_slice(&m);
                }
            }
        }
        out
    };
    let mut g = c.benchmark_group("imap_commands_lines_only");
    g.sample_size(50);
    g.throughput(Throughput::Bytes(lines.len() as u64));
    g.bench_function("framer+parse without APPEND", |b| {
        b.iter(|| run(black_box(&lines)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
