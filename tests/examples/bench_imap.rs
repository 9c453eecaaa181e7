//! IMAP figures, run by `scripts/bench_imap.sh`, for our imapd and (with
//! `BENCH_CYRUS=host:port`) Cyrus 3.6's imapd measured in the same run:
//!
//! * APPEND/s: `BENCH_CONNS` (8) connections, each logged in as its own user, APPEND a 10 KB
//!   message to INBOX (LITERAL+) in a loop for `BENCH_SECS` (10) seconds; `BENCH_RUNS` (3)
//!   interleaved runs, medians compared.
//! * FETCH of `BENCH_FETCH` (10000; 0 skips it) message headers: a fresh folder is filled
//!   with that many small messages, then `FETCH 1:* (ENVELOPE FLAGS)` is timed (best of 3).
//! * Resident memory per idle authenticated connection: `BENCH_IDLE` (1000) connections log
//!   in and stay idle; our daemon's `VmRSS` before and after, divided by the count. Cyrus runs
//!   one process per connection (and its service allows `BENCH_CYRUS_IDLE`, 90, at most): the
//!   growth of the summed `VmRSS` and `Pss` of its imapd processes, divided by the count.
//!
//! Env for Cyrus: `BENCH_CYRUS` (IMAP address), `BENCH_CYRUS_CONF` (its imapd.conf, which
//! finds its processes), `BENCH_CYRUS_PASSWORD` (`benchpw`, users `bu01`..).
//! Prints one JSON line per measurement and a summary.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use murder_tests::{proc_status_kib, Daemon, Host};

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

/// A raw IMAP client.
struct Imap {
    r: BufReader<TcpStream>,
    w: TcpStream,
    n: u32,
}

impl Imap {
    fn connect(addr: SocketAddr) -> Imap {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
        s.set_nodelay(true).unwrap();
        let mut c = Imap {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
            n: 0,
        };
        let mut greeting = String::new();
        c.r.read_line(&mut greeting).unwrap();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        c
    }

    fn login(addr: SocketAddr, user: &str, pw: &str) -> Imap {
        let mut c = Imap::connect(addr);
        c.ok(&format!("LOGIN {user} {pw}"));
        c
    }

    /// Sends `tag <command>` (bytes, may hold LITERAL+ literals) and reads to the tagged
    /// reply; returns it and how many bytes of untagged data came before.
    fn cmd_bytes(&mut self, command: &[u8]) -> (String, usize) {
        self.n += 1;
        let tag = format!("b{}", self.n);
        let mut out = Vec::with_capacity(command.len() + 16);
        out.extend_from_slice(tag.as_bytes());
        out.push(b' ');
        out.extend_from_slice(command);
        out.extend_from_slice(b"\r\n");
        self.w.write_all(&out).unwrap();
        let prefix = format!("{tag} ");
        let mut untagged = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = self.r.read_until(b'\n', &mut line).unwrap();
            assert!(n > 0, "connection closed");
            if line.starts_with(prefix.as_bytes()) {
                return (
                    String::from_utf8_lossy(&line).trim_end().to_string(),
                    untagged,
                );
            }
            untagged += n;
            // A literal in a response: read its bytes.
            if let Some(len) = literal_len(&line) {
                let mut buf = vec![0u8; len];
                std::io::Read::read_exact(&mut self.r, &mut buf).unwrap();
                untagged += len;
            }
        }
    }

    fn ok(&mut self, command: &str) -> usize {
        let (r, n) = self.cmd_bytes(command.as_bytes());
        assert!(r.split(' ').nth(1) == Some("OK"), "{command}: {r}");
        n
    }
}

/// `{n}` at the end of a response line.
fn literal_len(line: &[u8]) -> Option<usize> {
    let l = line.strip_suffix(b"\r\n")?;
    let l = l.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&l[open + 1..]).ok()?.parse().ok()
}

fn append_cmd(mailbox: &str, msg: &[u8]) -> Vec<u8> {
    let mut c = format!("APPEND {mailbox} {{{}+}}\r\n", msg.len()).into_bytes();
    c.extend_from_slice(msg);
    c
}

/// APPENDs per second summed over the connections.
fn appends(addr: SocketAddr, users: &[String], pw: &str, secs: f64, msg: &[u8]) -> f64 {
    let barrier = Arc::new(Barrier::new(users.len() + 1));
    let cmd = Arc::new(append_cmd("INBOX", msg));
    let threads: Vec<_> = users
        .iter()
        .map(|u| {
            let (u, pw, barrier, cmd) = (u.clone(), pw.to_owned(), barrier.clone(), cmd.clone());
            std::thread::spawn(move || {
                let mut c = Imap::login(addr, &u, &pw);
                barrier.wait();
                let start = Instant::now();
                let mut n = 0u64;
                while start.elapsed().as_secs_f64() < secs {
                    let (r, _) = c.cmd_bytes(&cmd);
                    assert!(r.split(' ').nth(1) == Some("OK"), "APPEND as {u}: {r}");
                    n += 1;
                }
                let el = start.elapsed().as_secs_f64();
                c.ok("LOGOUT");
                n as f64 / el
            })
        })
        .collect();
    barrier.wait();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// Fills `folder` (created) with `count` small messages, then times FETCH 1:* (ENVELOPE
/// FLAGS), best of three; returns seconds and the bytes of the answer.
fn fetch_headers(
    addr: SocketAddr,
    user: &str,
    pw: &str,
    folder: &str,
    count: usize,
) -> (f64, usize) {
    let mut c = Imap::login(addr, user, pw);
    c.ok(&format!("CREATE {folder}"));
    // Pipelined in chunks: the server answers each APPEND in turn.
    let mut sent = 0;
    while sent < count {
        let chunk = (count - sent).min(200);
        let mut out = Vec::new();
        for i in sent..sent + chunk {
            let msg = format!(
                "From: Sender {i} <sender{i}@example.org>\r\nTo: {user}@example.org\r\nSubject: fetch benchmark message {i}\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <fetch{i}@example.org>\r\n\r\nbody {i}\r\n"
            );
            out.extend_from_slice(format!("f{i} ").as_bytes());
            out.extend_from_slice(&append_cmd(folder, msg.as_bytes()));
            out.extend_from_slice(b"\r\n");
        }
        c.w.write_all(&out).unwrap();
        let mut done = 0;
        let mut line = String::new();
        while done < chunk {
            line.clear();
            c.r.read_line(&mut line).unwrap();
            if line.starts_with('f') {
                assert!(line.contains(" OK"), "{line}");
                done += 1;
            }
        }
        sent += chunk;
    }
    c.ok(&format!("SELECT {folder}"));
    let mut best = f64::MAX;
    let mut bytes = 0;
    for _ in 0..3 {
        let t = Instant::now();
        bytes = c.ok("FETCH 1:* (ENVELOPE FLAGS)");
        best = best.min(t.elapsed().as_secs_f64());
    }
    c.ok("CLOSE");
    c.ok(&format!("DELETE {folder}"));
    (best, bytes)
}

/// Opens `n` idle authenticated connections; returns them.
fn idle(addr: SocketAddr, user: &str, pw: &str, n: usize) -> Vec<Imap> {
    (0..n).map(|_| Imap::login(addr, user, pw)).collect()
}

/// The pids of Cyrus imapd processes run with `conf`.
fn cyrus_imapd_pids(conf: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        if args.first().is_some_and(|a| a.ends_with(b"imapd")) && args.contains(&conf.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// `Pss` of a process in KiB (from smaps_rollup).
fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("Pss:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Summed (VmRSS, Pss) in KiB of Cyrus's imapd processes for `conf`.
fn cyrus_memory(conf: &str) -> (u64, u64, usize) {
    let pids = cyrus_imapd_pids(conf);
    let rss = pids
        .iter()
        .filter_map(|p| proc_status_kib(*p, "VmRSS"))
        .sum();
    let pss = pids.iter().filter_map(|p| pss_kib(*p)).sum();
    (rss, pss, pids.len())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let secs: f64 = env("BENCH_SECS", "10").parse().expect("BENCH_SECS");
    let runs: usize = env("BENCH_RUNS", "3").parse().expect("BENCH_RUNS");
    let conns: usize = env("BENCH_CONNS", "8").parse().expect("BENCH_CONNS");
    let fetch: usize = env("BENCH_FETCH", "10000").parse().expect("BENCH_FETCH");
    let n_idle: usize = env("BENCH_IDLE", "1000").parse().expect("BENCH_IDLE");
    let cyrus: Option<SocketAddr> = std::env::var("BENCH_CYRUS")
        .ok()
        .map(|a| a.parse().expect("BENCH_CYRUS host:port"));
    let cyrus_pw = env("BENCH_CYRUS_PASSWORD", "benchpw");
    let cyrus_conf = env(
        "BENCH_CYRUS_CONF",
        "/var/tmp/cyrus-murder/backend1/etc/imapd.conf",
    );
    let n_cyrus_idle: usize = env("BENCH_CYRUS_IDLE", "90")
        .parse()
        .expect("BENCH_CYRUS_IDLE");
    let run_id = std::process::id();

    let mut msg = b"From: bench@example.org\r\nTo: bench@example.org\r\nSubject: bench\r\nMessage-ID: <bench@example.org>\r\n\r\n".to_vec();
    while msg.len() < 10 * 1024 - 80 {
        msg.extend_from_slice(
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\r\n",
        );
    }
    let users: Vec<String> = (1..=conns).map(|i| format!("bu{i:02}")).collect();
    let mut host = Host::new("be1")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .conf("sasl_mech_list", "PLAIN LOGIN")
        // The namespace of the Cyrus murder's backends.
        .conf("altnamespace", "no")
        .conf("unixhierarchysep", "no")
        .user("cyrus", "secret");
    for u in &users {
        host = host.user(u, "benchpw");
    }
    let host = host.write();
    let d = Daemon::start(&host, "imapd", &[]);
    {
        let mut admin = Imap::login(d.addr, "cyrus", "secret");
        for u in &users {
            admin.ok(&format!("CREATE user.{u}"));
        }
        admin.ok("LOGOUT");
    }

    // APPEND/s, interleaved.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let o = appends(d.addr, &users, "benchpw", secs, &msg);
        println!("{{\"measure\": \"append\", \"server\": \"murder imapd\", \"run\": {run}, \"conns\": {conns}, \"msg_bytes\": {}, \"appends_per_s\": {o:.1}}}", msg.len());
        ours.push(o);
        if let Some(a) = cyrus {
            let c = appends(a, &users, &cyrus_pw, secs, &msg);
            println!("{{\"measure\": \"append\", \"server\": \"cyrus 3.6 imapd\", \"run\": {run}, \"conns\": {conns}, \"msg_bytes\": {}, \"appends_per_s\": {c:.1}}}", msg.len());
            theirs.push(c);
        }
    }
    let append_ours = median(&mut ours);
    let append_cyrus = (!theirs.is_empty()).then(|| median(&mut theirs));

    // FETCH of the headers of `fetch` messages.
    let mut fetch_figs = None;
    if fetch > 0 {
        let folder = format!("INBOX.fetch{run_id}");
        let (o, ob) = fetch_headers(d.addr, &users[0], "benchpw", &folder, fetch);
        println!("{{\"measure\": \"fetch\", \"server\": \"murder imapd\", \"messages\": {fetch}, \"seconds\": {o:.3}, \"bytes\": {ob}}}");
        let c = cyrus.map(|a| {
            let (c, cb) = fetch_headers(a, &users[0], &cyrus_pw, &folder, fetch);
            println!("{{\"measure\": \"fetch\", \"server\": \"cyrus 3.6 imapd\", \"messages\": {fetch}, \"seconds\": {c:.3}, \"bytes\": {cb}}}");
            c
        });
        fetch_figs = Some((o, c));
    }

    // Memory per idle authenticated connection.
    drop(idle(d.addr, &users[0], "benchpw", 10));
    std::thread::sleep(Duration::from_millis(500));
    let rss0 = proc_status_kib(d.pid(), "VmRSS").unwrap_or(0);
    let open = idle(d.addr, &users[0], "benchpw", n_idle);
    std::thread::sleep(Duration::from_secs(1));
    let rss1 = proc_status_kib(d.pid(), "VmRSS").unwrap_or(0);
    drop(open);
    let ours_kib = rss1.saturating_sub(rss0) as f64 / n_idle as f64;
    println!("{{\"measure\": \"idle\", \"server\": \"murder imapd\", \"connections\": {n_idle}, \"rss_before_kib\": {rss0}, \"rss_after_kib\": {rss1}, \"kib_per_connection\": {ours_kib:.1}}}");
    let mut cyrus_idle = None;
    if let Some(a) = cyrus {
        std::thread::sleep(Duration::from_secs(1));
        let (r0, p0, n0) = cyrus_memory(&cyrus_conf);
        let open = idle(a, &users[0], &cyrus_pw, n_cyrus_idle);
        std::thread::sleep(Duration::from_secs(1));
        let (r1, p1, n1) = cyrus_memory(&cyrus_conf);
        drop(open);
        let per_rss = r1.saturating_sub(r0) as f64 / n_cyrus_idle as f64;
        let per_pss = p1.saturating_sub(p0) as f64 / n_cyrus_idle as f64;
        println!("{{\"measure\": \"idle\", \"server\": \"cyrus 3.6 imapd\", \"connections\": {n_cyrus_idle}, \"processes_before\": {n0}, \"processes_after\": {n1}, \"rss_kib_per_connection\": {per_rss:.1}, \"pss_kib_per_connection\": {per_pss:.1}}}");
        cyrus_idle = Some((per_rss, per_pss));
    }

    let mut summary = format!(
        "{{\"summary\": true, \"append_ours_median\": {append_ours:.1}, \"idle_kib_ours\": {ours_kib:.1}"
    );
    if let Some(c) = append_cyrus {
        summary += &format!(
            ", \"append_cyrus_median\": {c:.1}, \"append_ratio\": {:.2}",
            append_ours / c
        );
    }
    if let Some((o, c)) = fetch_figs {
        summary += &format!(", \"fetch_ours_s\": {o:.3}");
        if let Some(c) = c {
            summary += &format!(
                ", \"fetch_cyrus_s\": {c:.3}, \"fetch_speedup\": {:.2}",
                c / o
            );
        }
    }
    if let Some((r, p)) = cyrus_idle {
        summary += &format!(", \"idle_rss_kib_cyrus\": {r:.1}, \"idle_pss_kib_cyrus\": {p:.1}");
    }
    summary.push('}');
    println!("{summary}");
}
