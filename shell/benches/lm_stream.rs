//! `lm *` over many mailboxes: how soon the first line is printed after the server's first
//! LIST response, and the shell's peak memory, in each output format.
//!
//! `cargo bench -p murder-shell --bench lm_stream [-- N...]` runs `murder` (the release or
//! bench build) against a loopback server that answers LIST with N mailboxes (default
//! 10,000, 100,000 and 1,000,000), sending as fast as the socket takes them, and reads the
//! shell's standard output through a pipe. Peak memory is the child's VmHWM from /proc.
//!
//! With `MURDER_BENCH_CYRUS=PATTERN` it also measures against the real Cyrus frontend on
//! 127.0.0.1:10143 (as cyrus/secret) with `lm PATTERN`. The server's send times are not
//! visible there, so it reports the time from process start to the first line and the
//! total, with the time of a whole run whose `lm` matches nothing (process start, connect,
//! login, an empty LIST) alongside: the difference bounds the shell's own delay.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CAPS: &str = "IMAP4rev1 LITERAL+ ID LIST-EXTENDED MAILBOX-REFERRALS SPECIAL-USE";

/// A server answering every LIST with `n` mailboxes; records when it wrote the first one.
fn server(n: usize, first_sent: Arc<Mutex<Option<Instant>>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let first_sent = first_sent.clone();
            std::thread::spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(256 * 1024, s.try_clone().unwrap());
                let mut r = BufReader::new(s);
                let _ = write!(w, "* OK [CAPABILITY {CAPS} AUTH=PLAIN SASL-IR] bench\r\n");
                let _ = w.flush();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let (tag, rest) = line.trim_end().split_once(' ').unwrap_or(("*", ""));
                    let up = rest.to_ascii_uppercase();
                    if up.starts_with("AUTHENTICATE") || up.starts_with("LOGIN") {
                        let _ = write!(w, "{tag} OK [CAPABILITY {CAPS}] ok\r\n");
                    } else if up.starts_with("LIST") && !up.contains("\"\" \"\"") {
                        for i in 0..n {
                            let _ = write!(
                                w,
                                "* LIST (\\HasNoChildren) \".\" user.u{:07}.folder{}\r\n",
                                i / 10,
                                i % 10
                            );
                            if i == 0 {
                                let _ = w.flush();
                                *first_sent.lock().unwrap() = Some(Instant::now());
                            }
                        }
                        let _ = write!(w, "{tag} OK Completed\r\n");
                    } else if up.starts_with("LOGOUT") {
                        let _ = write!(w, "* BYE\r\n{tag} OK\r\n");
                        let _ = w.flush();
                        return;
                    } else {
                        let _ = write!(w, "* LIST (\\Noselect) \".\" \"\"\r\n{tag} OK\r\n");
                    }
                    let _ = w.flush();
                }
            });
        }
    });
    port
}

struct Run {
    first_line: Option<Instant>,
    end: Instant,
    lines: usize,
    peak_kib: u64,
}

fn run_murder(port: u16, format: &str, cmd: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_murder"))
        .args([
            "-u",
            "cyrus",
            "--notls",
            "-o",
            format,
            "127.0.0.1",
            &port.to_string(),
            "-e",
            cmd,
        ])
        .env("MURDER_PASSWORD", "secret")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = Arc::new(Mutex::new(0u64));
    let done = Arc::new(Mutex::new(false));
    let (peak2, done2) = (peak.clone(), done.clone());
    let poller = std::thread::spawn(move || {
        while !*done2.lock().unwrap() {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                if let Some(kb) = s
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    let mut p = peak2.lock().unwrap();
                    *p = (*p).max(kb);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut first_line = None;
    let mut lines = 0usize;
    loop {
        let k = out.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        let nl = buf[..k].iter().filter(|&&b| b == b'\n').count();
        if first_line.is_none() && nl > 0 {
            first_line = Some(Instant::now());
        }
        lines += nl;
    }
    let end = Instant::now();
    child.wait().unwrap();
    *done.lock().unwrap() = true;
    poller.join().unwrap();
    let peak_kib = *peak.lock().unwrap();
    Run {
        first_line,
        end,
        lines,
        peak_kib,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let sizes = if args.is_empty() {
        vec![10_000, 100_000, 1_000_000]
    } else {
        args
    };
    println!("| mailboxes | format | first line after server's first LIST response | total | lines out | peak RSS |");
    println!("|---:|---|---:|---:|---:|---:|");
    for &n in &sizes {
        for format in ["json", "table", "cyradm"] {
            let first_sent = Arc::new(Mutex::new(None));
            let port = server(n, first_sent.clone());
            let r = run_murder(port, format, "lm *");
            let sent = first_sent.lock().unwrap().expect("server sent LIST");
            let first = r
                .first_line
                .map(|f| {
                    format!(
                        "{:.1} ms",
                        f.saturating_duration_since(sent).as_secs_f64() * 1e3
                    )
                })
                .unwrap_or_else(|| "-".into());
            println!(
                "| {n} | {format} | {first} | {:.2} s | {} | {:.1} MiB |",
                r.end.saturating_duration_since(sent).as_secs_f64(),
                r.lines,
                r.peak_kib as f64 / 1024.0
            );
        }
    }
    if let Ok(pattern) = std::env::var("MURDER_BENCH_CYRUS") {
        println!();
        println!("Real Cyrus frontend 127.0.0.1:10143, `lm {pattern}`:");
        println!(
            "| format | process start → first line | total | lines | peak RSS | login + empty lm |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for format in ["json", "table", "cyradm"] {
            let t0 = Instant::now();
            let base = run_murder(10143, format, "lm nothing.matches.this.x*");
            let login = base.end.saturating_duration_since(t0);
            let t0 = Instant::now();
            let r = run_murder(10143, format, &format!("lm {pattern}"));
            println!(
                "| {format} | {:.1} ms | {:.2} s | {} | {:.1} MiB | {:.1} ms |",
                r.first_line
                    .map(|f| f.saturating_duration_since(t0).as_secs_f64() * 1e3)
                    .unwrap_or(f64::NAN),
                r.end.saturating_duration_since(t0).as_secs_f64(),
                r.lines,
                r.peak_kib as f64 / 1024.0,
                login.as_secs_f64() * 1e3
            );
        }
    }
}
