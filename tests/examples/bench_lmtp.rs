//! LMTP delivery throughput, run by `scripts/bench_lmtp.sh`: a 10 KB message delivered over
//! `BENCH_CONNS` (8) concurrent connections for `BENCH_SECS` (10) seconds, `BENCH_RUNS` (3)
//! times, against our lmtpd and (with `BENCH_CYRUS=host:port`) Cyrus's lmtpd, interleaved so
//! both see the same machine load. Each connection authenticates as an admin (AUTH PLAIN),
//! then pipelines MAIL/RCPT/DATA as an MTA with PIPELINING does and waits for the 250 of
//! each delivery before the next. Prints one JSON line per run and a summary with the
//! medians and their ratio.
//!
//! Env: `BENCH_SECS`, `BENCH_RUNS`, `BENCH_CONNS`, `BENCH_CYRUS`, `BENCH_CYRUS_RCPTS`
//! (comma-separated; default `bu01`..), `BENCH_CYRUS_AUTH` (base64 PLAIN; default cyrus/secret).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use daemons::mboxdb::{MailboxDb, MailboxEntry};
use daemons::store::{MailboxId, Store};
use murder_tests::{Daemon, Host};

/// base64("\0cyrus\0secret").
const ADMIN_PLAIN: &str = "AGN5cnVzAHNlY3JldA==";

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

/// A raw LMTP client.
struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }

    /// One whole reply, lines joined by `\n`.
    fn reply(&mut self) -> String {
        let mut out = String::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).unwrap_or(0) == 0 {
                return out;
            }
            let done = l.as_bytes().get(3) != Some(&b'-');
            out.push_str(l.trim_end_matches(['\r', '\n']));
            if done {
                return out;
            }
            out.push('\n');
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }
}

/// Deliveries per second summed over `conns` connections.
fn load(
    addr: SocketAddr,
    auth: &str,
    rcpts: &[String],
    conns: usize,
    secs: f64,
    msg: &[u8],
) -> f64 {
    let mut stuffed = Vec::new();
    protocol::lmtp::dot_stuff(msg, &mut stuffed);
    let stuffed = Arc::new(stuffed);
    let barrier = Arc::new(Barrier::new(conns + 1));
    let threads: Vec<_> = (0..conns)
        .map(|i| {
            let rcpt = rcpts[i % rcpts.len()].clone();
            let auth = auth.to_owned();
            let stuffed = stuffed.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.reply();
                c.cmd("LHLO bench");
                let a = c.cmd(&format!("AUTH PLAIN {auth}"));
                assert!(a.starts_with("235"), "{a}");
                let envelope =
                    format!("MAIL FROM:<bench@example.org>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n");
                barrier.wait();
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed().as_secs_f64() < secs {
                    c.w.write_all(envelope.as_bytes()).unwrap();
                    let r = c.reply();
                    assert!(r.starts_with("250"), "MAIL: {r}");
                    let r = c.reply();
                    assert!(r.starts_with("250"), "RCPT {rcpt}: {r}");
                    let r = c.reply();
                    assert!(r.starts_with("354"), "DATA: {r}");
                    c.w.write_all(&stuffed).unwrap();
                    let r = c.reply();
                    assert!(r.starts_with("250 2.1.5 "), "delivery: {r}");
                    n += 1;
                }
                let elapsed = start.elapsed().as_secs_f64();
                c.cmd("QUIT");
                n as f64 / elapsed
            })
        })
        .collect();
    barrier.wait();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// A user INBOX in our store and mailboxes.db, posting allowed to the user.
fn create_user(host: &Host, u: &str) {
    let parts = BTreeMap::from([("default".to_string(), host.path("spool"))]);
    let store = Store::open(&host.configdir(), parts).unwrap();
    let db = MailboxDb::open_in(&host.configdir()).unwrap();
    let id = MailboxId::generate();
    let st = store.create_mailbox(&id, "default").unwrap();
    db.put(&MailboxEntry {
        name: format!("user.{u}"),
        partition: "default".into(),
        acl: format!("{u}\tlrswipkxtecdan\t"),
        uniqueid: id.as_str().into(),
        uidvalidity: st.uidvalidity,
        ..MailboxEntry::default()
    })
    .unwrap();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let secs: f64 = env("BENCH_SECS", "10").parse().expect("BENCH_SECS");
    let runs: usize = env("BENCH_RUNS", "3").parse().expect("BENCH_RUNS");
    let conns: usize = env("BENCH_CONNS", "8").parse().expect("BENCH_CONNS");
    let mut msg = b"From: bench@example.org\r\nTo: bench@example.org\r\nSubject: bench\r\nMessage-ID: <bench@example.org>\r\n\r\n".to_vec();
    while msg.len() < 10 * 1024 - 80 {
        msg.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\r\n",
        );
    }
    let host = Host::new("be1")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("sasl_mech_list", "PLAIN LOGIN")
        .user("cyrus", "secret")
        .write();
    let ours_rcpts: Vec<String> = (1..=conns).map(|i| format!("bu{i:02}")).collect();
    for r in &ours_rcpts {
        create_user(&host, r);
    }
    let d = Daemon::start(&host, "lmtpd", &[]);
    let cyrus: Option<SocketAddr> = std::env::var("BENCH_CYRUS")
        .ok()
        .map(|a| a.parse().expect("BENCH_CYRUS host:port"));
    let cyrus_rcpts: Vec<String> = env("BENCH_CYRUS_RCPTS", &ours_rcpts.join(","))
        .split(',')
        .map(str::to_owned)
        .collect();
    let cyrus_auth = env("BENCH_CYRUS_AUTH", ADMIN_PLAIN);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let o = load(d.addr, ADMIN_PLAIN, &ours_rcpts, conns, secs, &msg);
        println!("{{\"server\": \"murder lmtpd\", \"run\": {run}, \"conns\": {conns}, \"msg_bytes\": {}, \"deliveries_per_s\": {o:.1}}}", msg.len());
        ours.push(o);
        if let Some(a) = cyrus {
            let c = load(a, &cyrus_auth, &cyrus_rcpts, conns, secs, &msg);
            println!("{{\"server\": \"cyrus 3.6 lmtpd\", \"run\": {run}, \"conns\": {conns}, \"msg_bytes\": {}, \"deliveries_per_s\": {c:.1}}}", msg.len());
            theirs.push(c);
        }
    }
    let o = median(&mut ours);
    if theirs.is_empty() {
        println!("{{\"summary\": true, \"ours_median\": {o:.1}}}");
    } else {
        let c = median(&mut theirs);
        println!(
            "{{\"summary\": true, \"ours_median\": {o:.1}, \"cyrus_median\": {c:.1}, \"ratio\": {:.2}}}",
            o / c
        );
    }
}
