//! `movemailboxes` (bulk moves) against a real local murder (`murder local up` in a temporary
//! MURDER_HOME: master, two backends and a frontend as a separate process): dry run, a list
//! of users moved with their messages intact, failures reported, and a 200-user move
//! interrupted with SIGINT and resumed from its journal.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use daemons::mboxdb::MailboxDb;

const BIN: &str = env!("CARGO_BIN_EXE_murder");

struct Murder {
    home: tempfile::TempDir,
    base: u16,
}

impl Drop for Murder {
    fn drop(&mut self) {
        let _ = self.cmd().args(["local", "down"]).output();
    }
}

fn port_free(p: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
}

impl Murder {
    fn up() -> Murder {
        let home = tempfile::tempdir().unwrap();
        // A base whose every port is free; spread by pid so parallel runs rarely collide
        // (offset from murder_ops' bases).
        static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut base =
            20000 + ((std::process::id() as u16 % 150) * 2 + n % 2) * 100 + 50 + n / 2 * 5;
        let offsets = [
            905u16, 3905, 143, 110, 24, 1143, 1110, 1024, 2143, 2110, 2024,
        ];
        while !offsets.iter().all(|o| port_free(base + o)) {
            base = base.wrapping_add(37) % 50000 + 10000;
        }
        let m = Murder { home, base };
        let out = m.cmd().args(["local", "up"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        m
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(BIN);
        c.env("MURDER_HOME", self.home.path())
            .env("MURDER_BASE_PORT", self.base.to_string())
            .env("MURDER_AUTOSTART", "0")
            .env_remove("MURDER_PASSWORD");
        c
    }

    /// Runs shell commands connected to the local frontend as its admin.
    fn run(&self, args: &[&str], commands: &str) -> Output {
        self.cmd()
            .args(args)
            .args(["-e", commands])
            .output()
            .unwrap()
    }

    fn admin_pw(&self) -> String {
        std::fs::read_to_string(self.dir().join("admin.pw"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn backend_port(&self, n: u16) -> u16 {
        self.base + 1143 + (n - 1) * 1000
    }

    fn db(&self, host: &str) -> MailboxDb {
        MailboxDb::open_in(&self.dir().join(host).join("conf")).unwrap()
    }

    /// The master's location of every mailbox matching `pattern` (`murderlist -o json`).
    fn master(&self, pattern: &str) -> BTreeMap<String, String> {
        let out = self.run(
            &["-o", "json", "--no-connect"],
            &format!("lmurder {pattern}"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                assert_eq!(v["state"], "active", "{l}");
                (
                    v["mailbox"].as_str().unwrap().to_owned(),
                    v["location"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Waits until the frontend's slave agrees with the master and the backends.
    fn wait_in_sync(&self) {
        wait_for("an in-sync murder", || {
            self.run(&["--no-connect"], "mdiff").status.code() == Some(0)
        });
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// A small pipelining IMAP client that reads literals (`{n}`), for setting up users and
/// reading their messages back directly on a backend.
struct Imap {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Imap {
    fn login(port: u16, user: &str, pw: &str) -> Imap {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut c = Imap {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        };
        let greeting = c.line();
        assert!(greeting.starts_with(b"* OK"), "{}", text(&greeting));
        c.send(&format!("L LOGIN {user} \"{pw}\"\r\n"));
        c.until("L");
        c
    }

    fn send(&mut self, s: &str) {
        self.w.write_all(s.as_bytes()).unwrap();
    }

    fn line(&mut self) -> Vec<u8> {
        let mut l = Vec::new();
        self.r.read_until(b'\n', &mut l).unwrap();
        assert!(!l.is_empty(), "connection closed");
        l
    }

    /// Reads responses up to the completion tagged `tag` (which must be OK); returns the
    /// literals seen on the way.
    fn until(&mut self, tag: &str) -> Vec<Vec<u8>> {
        let mut literals = Vec::new();
        loop {
            let l = self.line();
            let s = text(&l);
            if let Some(n) = s
                .trim_end()
                .strip_suffix('}')
                .and_then(|x| x.rsplit_once('{'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
            {
                let mut buf = vec![0; n];
                self.r.read_exact(&mut buf).unwrap();
                literals.push(buf);
                continue;
            }
            if let Some(rest) = s.strip_prefix(&format!("{tag} ")) {
                assert!(rest.starts_with("OK"), "{s}");
                return literals;
            }
            // Other tags of a pipeline must have succeeded too.
            let mut words = s.split(' ');
            if let (Some(t), Some(st)) = (words.next(), words.next()) {
                if t != "*" && t != "+" {
                    assert_eq!(st, "OK", "{s}");
                }
            }
        }
    }
}

fn message(user: &str, k: usize) -> String {
    format!(
        "From: sender{k}@example.org\r\nTo: {user}@example.org\r\nSubject: message {k} for {user}\r\n\r\nBody {k} of {user}: {}\r\n",
        "x".repeat(40 + k * 17)
    )
}

/// Creates `users` on backend 1 with `per_user` messages each, pipelined 50 users at a time:
/// CREATE, SETACL (so the admin may read them back), one MULTIAPPEND.
fn populate(m: &Murder, backend: u16, users: &[String], per_user: usize) {
    let mut c = Imap::login(m.backend_port(backend), "admin", &m.admin_pw());
    for (b, chunk) in users.chunks(50).enumerate() {
        let mut out = String::new();
        for u in chunk {
            out.push_str(&format!("c{u} CREATE user.{u}\r\n"));
            out.push_str(&format!("s{u} SETACL user.{u} admin lrswipkxtea\r\n"));
            if per_user > 0 {
                out.push_str(&format!("a{u} APPEND user.{u}"));
                for k in 0..per_user {
                    let msg = message(u, k);
                    out.push_str(&format!(" {{{}+}}\r\n{msg}", msg.len()));
                }
                out.push_str("\r\n");
            }
        }
        out.push_str(&format!("n{b} NOOP\r\n"));
        c.send(&out);
        c.until(&format!("n{b}"));
    }
}

/// Each user's message count and a hash of the bodies in order, read on a backend.
fn contents(m: &Murder, backend: u16, users: &[String]) -> HashMap<String, (usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut c = Imap::login(m.backend_port(backend), "admin", &m.admin_pw());
    let mut out = HashMap::new();
    for u in users {
        c.send(&format!(
            "e EXAMINE user.{u}\r\nf FETCH 1:* BODY.PEEK[]\r\n"
        ));
        c.until("e");
        let bodies = c.until("f");
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bodies.hash(&mut h);
        out.insert(u.clone(), (bodies.len(), h.finish()));
    }
    out
}

/// Each mailbox's `start` count and last event in a journal.
fn journal(path: &Path) -> (HashMap<String, u32>, HashMap<String, String>) {
    let mut starts = HashMap::new();
    let mut last = HashMap::new();
    for l in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let ev = v["event"].as_str().unwrap().to_owned();
        if let Some(mb) = v["mailbox"].as_str() {
            if ev == "start" {
                *starts.entry(mb.to_owned()).or_insert(0) += 1;
            }
            last.insert(mb.to_owned(), ev);
        }
    }
    (starts, last)
}

fn summary(lines: &[serde_json::Value]) -> &serde_json::Value {
    let s = lines.last().unwrap();
    assert_eq!(s["type"], "bulkmove_summary", "{s}");
    s
}

#[test]
fn dry_run_moves_failures_and_reruns() {
    let m = Murder::up();
    let users: Vec<String> = (0..5).map(|i| format!("bm{i}")).collect();
    populate(&m, 1, &users, 3);
    populate(&m, 2, &["already".to_owned()], 1);
    m.on_backend_sub("bm0");
    m.wait_in_sync();
    let before = contents(&m, 1, &users);
    assert!(before.values().all(|(n, _)| *n == 3), "{before:?}");

    let list = m.dir().join("users.txt");
    std::fs::write(
        &list,
        "# users to move\nbm0\nbm1\nuser.bm2.Sub  # a submailbox stands for its user\nbm3\n\nbm4\nalready\nnosuchuser\nbm1\n",
    )
    .unwrap();
    let journal_path = m.dir().join("move.jsonl");
    let cmd = |extra: &str| {
        format!(
            "mmove {extra} --journal {} --file {} backend2",
            journal_path.display(),
            list.display()
        )
    };

    // Dry run: the plan, nothing changed, no journal.
    let out = m.run(&["-o", "json"], &cmd("--dry-run"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let plan: HashMap<&str, &str> = lines
        .iter()
        .filter(|l| l["type"] == "bulkmove_plan")
        .map(|l| {
            (
                l["mailbox"].as_str().unwrap(),
                l["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(plan.len(), 7, "{lines:?}");
    for u in &users {
        assert_eq!(plan[format!("user.{u}").as_str()], "move", "{lines:?}");
    }
    assert_eq!(plan["user.already"], "skip");
    assert_eq!(plan["user.nosuchuser"], "fail");
    let s = summary(&lines);
    assert_eq!(s["dry_run"], true);
    assert_eq!(s["to_move"], 5);
    let master = m.master("user.*");
    for u in &users {
        assert_eq!(master[&format!("user.{u}")], "backend1!default");
    }
    assert!(!journal_path.exists());
    let out = m.run(&[], &cmd("--dry-run"));
    let s = text(&out.stdout);
    assert!(
        s.contains("move user.bm0: backend1!default -> backend2!\n"),
        "{s}"
    );
    assert!(
        s.contains("skip user.already: already on backend2!default\n"),
        "{s}"
    );
    assert!(
        s.contains("fail user.nosuchuser: no such mailbox at the master\n"),
        "{s}"
    );
    assert!(s.ends_with("nothing changed\n"), "{s}");

    // A target that is not a backend of the murder: refused before anything happens.
    let out = m.run(
        &[],
        &format!(
            "mmove --journal {} --file {} backend9",
            journal_path.display(),
            list.display()
        ),
    );
    assert_eq!(out.status.code(), Some(1));
    let e = text(&out.stderr);
    assert!(
        e.contains("no backend backend9 in this murder (backends: backend1, backend2)"),
        "{e}"
    );
    assert!(!journal_path.exists());

    // The move, two at a time.
    let out = m.run(&["-o", "json"], &cmd("--parallel 2"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let results: HashMap<&str, &serde_json::Value> = lines
        .iter()
        .filter(|l| l["type"] == "bulkmove_result")
        .map(|l| (l["mailbox"].as_str().unwrap(), l))
        .collect();
    for u in &users {
        let r = results[format!("user.{u}").as_str()];
        assert_eq!(r["outcome"], "moved", "{r}");
        assert_eq!(r["from"], "backend1!default");
        assert_eq!(r["to"], "backend2!default");
    }
    assert_eq!(results["user.already"]["outcome"], "skipped");
    assert_eq!(results["user.nosuchuser"]["outcome"], "failed");
    assert_eq!(
        results["user.nosuchuser"]["reason"],
        "no such mailbox at the master"
    );
    let s = summary(&lines);
    assert_eq!(
        (&s["moved"], &s["failed"], &s["skipped"], &s["interrupted"]),
        (&5.into(), &1.into(), &1.into(), &false.into())
    );

    // The master, both backends and the messages agree.
    let master = m.master("user.*");
    for u in &users {
        assert_eq!(master[&format!("user.{u}")], "backend2!default");
    }
    assert_eq!(master["user.bm0.Sub"], "backend2!default");
    let (b1, b2) = (m.db("backend1"), m.db("backend2"));
    for u in &users {
        assert!(b1.get(&format!("user.{u}")).unwrap().is_none());
        assert!(b2.get(&format!("user.{u}")).unwrap().is_some());
    }
    assert!(b2.get("user.bm0.Sub").unwrap().is_some());
    assert_eq!(contents(&m, 2, &users), before);
    let (starts, _) = journal(&journal_path);
    assert!(users
        .iter()
        .all(|u| starts.get(&format!("user.{u}")) == Some(&1)));

    // Rerun: nothing moves twice; the cyradm report says why.
    let out = m.run(&[], &cmd("--parallel 2"));
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("skipped user.bm0: moved by an earlier run (backend2!default)\n"),
        "{s}"
    );
    assert!(
        s.contains("failed user.nosuchuser: no such mailbox at the master\n"),
        "{s}"
    );
    assert!(
        s.contains("7 mailboxes to backend2: 0 moved, 1 failed, 6 skipped in "),
        "{s}"
    );
    let (starts, _) = journal(&journal_path);
    assert!(users
        .iter()
        .all(|u| starts.get(&format!("user.{u}")) == Some(&1)));

    // A pattern, back to backend1, in a table; a journal for another target is refused.
    let out = m.run(
        &["-o", "table"],
        &format!(
            "mmove --journal {} user.bm* backend1",
            journal_path.display()
        ),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is for a move to backend2, not backend1"),
        "{}",
        text(&out.stderr)
    );
    let out = m.run(&["-o", "table", "--no-connect"], "mmove user.bm* backend1");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{s}{}", text(&out.stderr));
    assert!(s.contains("outcome") && s.contains("moved"), "{s}");
    let master = m.master("user.bm*");
    assert!(
        master.values().all(|l| l == "backend1!default"),
        "{master:?}"
    );
    assert_eq!(contents(&m, 1, &users), before);
}

impl Murder {
    /// Gives user `u` a submailbox on backend1 (moved with its user).
    fn on_backend_sub(&self, u: &str) {
        let mut c = Imap::login(self.backend_port(1), "admin", &self.admin_pw());
        c.send(&format!("c CREATE user.{u}.Sub\r\n"));
        c.until("c");
    }
}

fn count_events(path: &Path, event: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
        .count()
}

#[test]
fn interrupted_bulk_move_of_200_users_resumes_without_moving_twice() {
    let m = Murder::up();
    let users: Vec<String> = (0..200).map(|i| format!("bulk{i:03}")).collect();
    let t = Instant::now();
    populate(&m, 1, &users, 3);
    m.wait_in_sync();
    eprintln!("200 users with 3 messages each in {:?}", t.elapsed());
    let before = contents(&m, 1, &users);
    assert!(before.values().all(|(n, _)| *n == 3));

    let list: PathBuf = m.dir().join("users.txt");
    std::fs::write(&list, users.join("\n") + "\n").unwrap();
    let journal_path = m.dir().join("bulk.jsonl");
    let cmd = format!(
        "mmove --parallel 4 --journal {} --file {} backend2",
        journal_path.display(),
        list.display()
    );

    // Started, then SIGINT once some have moved.
    let t = Instant::now();
    let child = m
        .cmd()
        .args(["-o", "json", "-e", &cmd])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("40 moves", || count_events(&journal_path, "moved") >= 40);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    eprintln!("first run: {:?}", t.elapsed());
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted: no new moves"), "{err}");
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(s["interrupted"], true, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["in_flight"], 0, "{s}");
    let moved_first = s["moved"].as_u64().unwrap();
    let not_started = s["not_started"].as_u64().unwrap();
    assert!(moved_first >= 40 && not_started > 0, "{s}");
    assert_eq!(moved_first + not_started, 200, "{s}");
    assert!(
        lines
            .iter()
            .filter(|l| l["outcome"] == "not_started")
            .all(|l| l["reason"] == "not started: interrupted"),
        "{lines:?}"
    );
    // Everything the report calls moved is at backend2, the rest still at backend1.
    let master = m.master("user.bulk*");
    for l in lines.iter().filter(|l| l["type"] == "bulkmove_result") {
        let want = if l["outcome"] == "moved" {
            "backend2!default"
        } else {
            "backend1!default"
        };
        assert_eq!(master[l["mailbox"].as_str().unwrap()], want, "{l}");
    }

    // Resumed with the same journal: the rest moves, nothing twice.
    let t = Instant::now();
    let out = m.run(&["-o", "json"], &cmd);
    eprintln!("resumed run: {:?}", t.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(s["moved"].as_u64(), Some(not_started), "{s}");
    assert_eq!(s["skipped"].as_u64(), Some(moved_first), "{s}");
    assert_eq!(s["failed"], 0);

    // Every user moved exactly once, and the master and the backends agree.
    let (starts, last) = journal(&journal_path);
    for u in &users {
        let mb = format!("user.{u}");
        assert_eq!(
            starts.get(&mb),
            Some(&1),
            "{mb} started {:?} times",
            starts.get(&mb)
        );
        assert!(
            matches!(last.get(&mb).map(String::as_str), Some("moved" | "skipped")),
            "{mb}: {:?}",
            last.get(&mb)
        );
    }
    assert_eq!(count_events(&journal_path, "moved"), 200);
    let master = m.master("user.bulk*");
    assert_eq!(master.len(), 200);
    assert!(master.values().all(|l| l == "backend2!default"));
    let (b1, b2) = (m.db("backend1"), m.db("backend2"));
    assert!(b1
        .all()
        .unwrap()
        .iter()
        .all(|e| !e.name.starts_with("user.bulk")));
    assert_eq!(
        b2.all()
            .unwrap()
            .iter()
            .filter(|e| e.name.starts_with("user.bulk"))
            .count(),
        200
    );
    // No message lost.
    assert_eq!(contents(&m, 2, &users), before);
}

/// A run killed outright (no chance to write its end or wait for its moves) and resumed: the
/// moves it left in flight are looked up at the master, none is sent twice, none fails.
#[test]
fn killed_bulk_move_resumes_from_its_journal() {
    let m = Murder::up();
    let users: Vec<String> = (0..60).map(|i| format!("kill{i:02}")).collect();
    populate(&m, 1, &users, 2);
    m.wait_in_sync();
    let before = contents(&m, 1, &users);
    let list = m.dir().join("users.txt");
    std::fs::write(&list, users.join("\n") + "\n").unwrap();
    let journal_path = m.dir().join("kill.jsonl");
    let cmd = format!(
        "mmove --parallel 4 --journal {} --file {} backend2",
        journal_path.display(),
        list.display()
    );
    let mut child = m
        .cmd()
        .args(["--no-connect", "-e", &cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed right after a start was journalled, so at least one move is in flight.
    wait_for("10 moves", || count_events(&journal_path, "moved") >= 10);
    wait_for("a move in flight", || {
        let (starts, last) = journal(&journal_path);
        starts
            .keys()
            .any(|k| last.get(k).map(String::as_str) == Some("start"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let (_, last) = journal(&journal_path);
    let in_flight: Vec<String> = last
        .iter()
        .filter(|(_, e)| *e == "start")
        .map(|(k, _)| k.clone())
        .collect();
    assert!(!in_flight.is_empty());
    assert_eq!(count_events(&journal_path, "end"), 0);
    // The killed run's lock is left behind; its process is gone, so the rerun takes it over.
    let lock = m.dir().join("kill.jsonl.lock");
    assert!(lock.exists());

    let out = m.run(&["-o", "json"], &cmd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!(s["failed"], 0, "{s}");
    for mb in &in_flight {
        let r = lines.iter().find(|l| l["mailbox"] == mb.as_str()).unwrap();
        assert_eq!(r["outcome"], "moved", "{r}");
    }
    // One `moved` per user over both runs, and at most one extra start (a move the master
    // still showed at its source after the grace period).
    assert_eq!(count_events(&journal_path, "moved"), 60);
    assert!(!lock.exists());
    let (starts, _) = journal(&journal_path);
    assert!(starts.values().all(|n| *n <= 2), "{starts:?}");
    let master = m.master("user.kill*");
    assert_eq!(master.len(), 60);
    assert!(master.values().all(|l| l == "backend2!default"));
    assert_eq!(contents(&m, 2, &users), before);
}

/// At the prompt: the progress bar shows on the terminal, Ctrl-C stops the run with its
/// partial report and returns to the prompt, and the same command resumes it.
#[test]
fn ctrl_c_at_the_prompt_stops_cleanly_and_the_rerun_resumes() {
    use rexpect::session::spawn_command;
    let m = Murder::up();
    let users: Vec<String> = (0..30).map(|i| format!("repl{i:02}")).collect();
    populate(&m, 1, &users, 1);
    m.wait_in_sync();
    let list = m.dir().join("users.txt");
    std::fs::write(&list, users.join("\n") + "\n").unwrap();
    let journal_path = m.dir().join("repl.jsonl");
    let cmd = format!(
        "mmove --journal {} --file {} backend2\r",
        journal_path.display(),
        list.display()
    );
    let mut c = m.cmd();
    c.args(["--no-history"])
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut p = spawn_command(c, Some(60_000)).unwrap();
    let prompt = format!("admin@127.0.0.1:{}> ", m.base + 143);
    p.exp_string(&prompt).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    p.send(&cmd).unwrap();
    p.flush().unwrap();
    // The bar, with its counts.
    p.exp_regex(r"moved \d+ failed 0 skipped 0").unwrap();
    wait_for("3 moves", || count_events(&journal_path, "moved") >= 3);
    p.send_control('c').unwrap();
    p.exp_string("interrupted: no new moves").unwrap();
    let before = p.exp_string("(interrupted)").unwrap();
    assert!(before.contains("not started user.repl"), "{before}");
    p.exp_string(&prompt).unwrap();
    let moved = count_events(&journal_path, "moved");
    assert!(moved < 30, "{moved}");
    std::thread::sleep(Duration::from_millis(300));
    p.send(&cmd).unwrap();
    p.flush().unwrap();
    p.exp_string(&format!(
        "30 mailboxes to backend2: {} moved, 0 failed, {moved} skipped in",
        30 - moved
    ))
    .unwrap();
    p.exp_string(&prompt).unwrap();
    p.send("exit\r").unwrap();
    p.flush().unwrap();
    p.exp_eof().unwrap();
    let master = m.master("user.repl*");
    assert!(master.values().all(|l| l == "backend2!default"));
}
