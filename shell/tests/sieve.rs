//! The shell's `sieve` command against a real Cyrus 3.6 `timsieved` (a CyrusInstance of
//! its own): an admin puts, lists, activates, gets, checks, deactivates and deletes a user's
//! scripts on the user's behalf, in the three output formats; and a frontend's
//! `BYE (REFERRAL "sieve://…")` is followed to that timsieved with the same credentials.
//! Skipped, with a message, where real Cyrus cannot run (not root, not installed).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};

use common::{murder_bin, stderr, stdout};
use murder_tests::cyrus::{self, CyrusInstance};

const SCRIPT: &str = "require [\"fileinto\"];\r\nif header :contains \"subject\" \"report\" {\r\n  fileinto \"INBOX.reports\";\r\n}\r\n";

fn timsieved() -> Option<CyrusInstance> {
    if let Some(why) = cyrus::unavailable() {
        eprintln!("skipping: {why}");
        return None;
    }
    let cy = CyrusInstance::builder("sieve")
        .conf("admins", "cyrus")
        .user("cyrus", "secret")
        .user("alice", "alicepw")
        .service("imap", "imapd")
        .service("sieve", "timsieved")
        .start();
    // timsieved refuses a login whose user has no INBOX.
    let o = Command::new(murder_bin())
        .args(["--norc", "--notls", "-u", "cyrus", "127.0.0.1"])
        .arg(cy.port("imap").to_string())
        .args(["-e", "cm user.alice; cm user.cyrus"])
        .env("MURDER_PASSWORD", "secret")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    Some(cy)
}

/// `murder --no-connect -u cyrus` with commands; the password from the environment.
fn murder(args: &[&str], commands: &str, dir: &std::path::Path) -> Output {
    Command::new(murder_bin())
        .args(["--no-connect", "--norc", "-u", "cyrus"])
        .args(args)
        .args(["-e", commands])
        .env("MURDER_PASSWORD", "secret")
        .env_remove("MURDER_HOME")
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn an_admin_manages_a_users_scripts() {
    let Some(cy) = timsieved() else { return };
    let port = cy.port("sieve");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("filter.sieve"), SCRIPT).unwrap();
    std::fs::write(dir.path().join("bad.sieve"), "if true {\r\n  keep\r\n").unwrap();
    let s = format!("sieve -user alice -server 127.0.0.1:{port}");

    let o = murder(
        &[],
        &format!(
            "{s} put filter.sieve; {s} put main < filter.sieve; {s} activate filter; {s} list"
        ),
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // sieveshell's layout; the server's order.
    let out = stdout(&o);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["filter  <- active script", "main "], "{out}");

    // get to standard output and to a file: the text stored, byte for byte.
    let o = murder(
        &[],
        &format!("{s} get filter; {s} get main copy.sieve"),
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), SCRIPT);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("copy.sieve")).unwrap(),
        SCRIPT
    );

    // JSON and table formats.
    let o = murder(&["-o", "json"], &format!("{s} list"), dir.path());
    let out = stdout(&o);
    assert!(
        out.contains(r#"{"type":"sieve_script","user":"alice","name":"filter","active":true}"#),
        "{out}"
    );
    assert!(out.contains(r#""name":"main","active":false}"#), "{out}");
    let o = murder(&["-o", "json"], &format!("{s} get main"), dir.path());
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["type"], "sieve_text");
    assert_eq!(v["script"], SCRIPT);
    let o = murder(&["-o", "table"], &format!("{s} list"), dir.path());
    assert!(stdout(&o).contains("filter"), "{}", stdout(&o));

    // A bad script: refused with the server's reason; the session goes on.
    let o = murder(
        &[],
        &format!("{s} put bad.sieve; {s} check bad.sieve; {s} check filter.sieve; {s} list"),
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("sieve: 127.0.0.1:{port}: ")) && err.contains("line"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(!stdout(&o).contains("bad"), "{}", stdout(&o));

    // Deactivate, delete; what is left.
    let o = murder(
        &[],
        &format!("{s} deactivate; {s} delete main; {s} list; {s} delete nosuch"),
        dir.path(),
    );
    assert_eq!(stdout(&o), "filter \n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("sieve: 127.0.0.1:"), "{}", stderr(&o));

    // alice herself sees the same scripts with her own password.
    let o = Command::new(murder_bin())
        .args(["--no-connect", "--norc", "-u", "alice", "-e"])
        .arg(format!("sieve -server 127.0.0.1:{port} list"))
        .env("MURDER_PASSWORD", "alicepw")
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "filter \n", "{}", stderr(&o));

    // Wrong password: a clear message and status 1.
    let o = Command::new(murder_bin())
        .args(["--no-connect", "--norc", "-u", "cyrus", "-e"])
        .arg(format!("{s} list"))
        .env("MURDER_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot authenticate as cyrus"),
        "{}",
        stderr(&o)
    );
}

/// A frontend's timsieved as reference §4.10 describes it: it takes the login, then answers
/// the next command with `BYE (REFERRAL "sieve://<backend>") "Try Remote."`. Every
/// connection is logged.
fn referring_frontend(backend: u16) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let _ = w.write_all(
                b"\"IMPLEMENTATION\" \"fake frontend\"\r\n\"SASL\" \"PLAIN\"\r\n\"VERSION\" \"1.0\"\r\nOK\r\n",
            );
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                log2.lock().unwrap().push(line.trim_end().to_string());
                let reply = if line.starts_with("AUTHENTICATE") {
                    "OK\r\n".to_string()
                } else {
                    format!("BYE (REFERRAL \"sieve://127.0.0.1:{backend}\") \"Try Remote.\"\r\n")
                };
                line.clear();
                if w.write_all(reply.as_bytes()).is_err() || reply.starts_with("BYE") {
                    break;
                }
            }
        }
    });
    (port, log)
}

#[test]
fn referrals_are_followed() {
    let Some(cy) = timsieved() else { return };
    let backend = cy.port("sieve");
    let (fe, log) = referring_frontend(backend);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.sieve"), "keep;\r\n").unwrap();
    let s = format!("sieve -user alice -server 127.0.0.1:{fe}");
    let o = murder(
        &[],
        &format!("{s} put r.sieve; {s} activate r; {s} list"),
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("r  <- active script"), "{}", stdout(&o));
    let log = log.lock().unwrap().clone();
    // Each command logged in at the frontend, as alice on cyrus's credentials, and was
    // then referred.
    assert!(
        log.iter()
            .filter(|l| l.starts_with("AUTHENTICATE \"PLAIN\""))
            .count()
            >= 3,
        "{log:?}"
    );
    assert!(
        log.iter().any(|l| l.starts_with("PUTSCRIPT \"r\"")),
        "{log:?}"
    );
}

/// Our timsieved on a host of its own: an admin acts for a user, and a script the
/// compiler refuses gets NO with its line and column.
#[test]
fn against_our_timsieved() {
    use murder_tests::{Daemon, Host};
    let host = Host::new("sievehost")
        .conf("admins", "cyrus")
        .conf("allowplaintext", "yes")
        .user("cyrus", "secret")
        .user("alice", "alicepw")
        .write();
    let d = Daemon::start(&host, "timsieved", &[]);
    let port = d.addr.port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("filter.sieve"), SCRIPT).unwrap();
    std::fs::write(dir.path().join("bad.sieve"), "if true {\r\n  keep\r\n").unwrap();
    let s = format!("sieve -user alice -server 127.0.0.1:{port}");
    let o = murder(
        &[],
        &format!("{s} put filter.sieve; {s} activate filter; {s} list; {s} get filter"),
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("filter  <- active script\n{SCRIPT}"));
    let o = murder(&[], &format!("{s} check bad.sieve; {s} list"), dir.path());
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("line") && err.contains("column"), "{err}");
    assert_eq!(stdout(&o), "filter  <- active script\n");
    let o = murder(
        &[],
        &format!("{s} deactivate; {s} delete filter; {s} list"),
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

/// Through our murder: the frontend's timsieved refers the admin acting for alice to
/// alice's backend, and the shell follows with the same credentials; the scripts are on that
/// backend. `sieve` with no -server uses the local murder's frontend.
#[test]
fn through_our_frontend() {
    let m = common::Murder::up();
    let sieve_ports = [m.base + 190, m.base + 1190, m.base + 2190];
    for p in sieve_ports {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
            assert!(std::time::Instant::now() < deadline, "no timsieved on {p}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    let o = m.shell(&[], "cm user.alice backend2!default");
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = m.dir().join("scripts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("filter.sieve"), SCRIPT).unwrap();
    let script = format!(
        "sieve -user alice put {0}; sieve -user alice activate filter",
        dir.join("filter.sieve").display()
    );
    // The frontend learns of the new INBOX through its MUPDATE slave, a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let o = m.shell(&[], &script);
        if o.status.success() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", stderr(&o));
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let o = m.shell(&[], "sieve -user alice list");
    assert_eq!(stdout(&o), "filter  <- active script\n", "{}", stderr(&o));
    // On backend2 itself, and not on backend1.
    let on = |port: u16| {
        let o = m.shell(
            &[],
            &format!("sieve -user alice -server 127.0.0.1:{port} list"),
        );
        stdout(&o)
    };
    assert_eq!(on(sieve_ports[2]), "filter  <- active script\n");
    assert_eq!(on(sieve_ports[1]), "");
    // JSON through the frontend.
    let o = m.shell(&["-o", "json"], "sieve -user alice list");
    assert_eq!(
        stdout(&o),
        "{\"type\":\"sieve_script\",\"user\":\"alice\",\"name\":\"filter\",\"active\":true}\n"
    );
}
