//! `mupdatetest` as a process against our MUPDATE master: the banner and AUTHENTICATE
//! exchange printed as Cyrus prints them, the raw terminal, LOGOUT at end of input, failed
//! authentication, STARTTLS; and, when Cyrus is installed, the same session through Cyrus's own
//! `mupdatetest` gives the same lines.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use daemons::mupdate::client::{connect_authenticated, Credentials};
use murder_tests::{bin, cyrus_bin, cyrus_installed, Daemon, Host};

fn run(program: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn master(extra: &[(&str, &str)]) -> (Host, Daemon) {
    let mut host = Host::new("mupdate")
        .conf("admins", "mupduser")
        .conf("allowplaintext", "yes")
        .user("mupduser", "secret");
    for (k, v) in extra {
        host = host.conf(k, v);
    }
    let host = host.write();
    let d = Daemon::start(&host, "mupdate", &["-m"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let creds = Credentials {
            authname: "mupduser".into(),
            username: None,
            password: "secret".into(),
            mechs: None,
        };
        let mut c = connect_authenticated(
            &d.addr.ip().to_string(),
            d.addr.port(),
            &creds,
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        c.activate("user.bob", "be1!default", "bob\tlrswipkxtecdan\t")
            .await
            .unwrap();
        c.logout().await;
    });
    (host, d)
}

fn mupdatetest(program: &Path, d: &Daemon, args: &[&str], stdin: &str) -> Output {
    let port = d.addr.port().to_string();
    let mut all: Vec<&str> = vec!["-p", &port];
    all.extend_from_slice(args);
    all.push("127.0.0.1");
    run(program, &all, stdin)
}

const SESSION: &str = "a FIND \"user.bob\"\nb LIST\nc NOOP\n";

/// What the server says to SESSION, as printed raw.
const SESSION_REPLY: &str =
    "a MAILBOX {8+}\r\nuser.bob {11+}\r\nbe1!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n\
a OK \"Search completed\"\r\n\
b MAILBOX {8+}\r\nuser.bob {11+}\r\nbe1!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n\
b OK \"list complete\"\r\n\
c OK \"Noop done\"\r\n\
Q01 OK \"bye-bye\"\r\n\
Connection closed.\n";

#[test]
fn a_plain_session_looks_like_cyrus() {
    let (_h, d) = master(&[]);
    let o = mupdatetest(
        &bin("mupdatetest"),
        &d,
        &["-a", "mupduser", "-w", "secret", "-m", "PLAIN"],
        SESSION,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let (head, tail) = out
        .split_once("Security strength factor: 0\n")
        .unwrap_or_else(|| panic!("{out}"));
    let head: Vec<&str> = head.split_inclusive('\n').collect();
    assert!(head[0].starts_with("S: * AUTH "), "{out}");
    assert!(
        head.iter()
            .any(|l| l.starts_with("S: * OK MUPDATE \"mupdate\"")),
        "{out}"
    );
    // PLAIN of "\0mupduser\0secret": 24 base64 characters, sent as a literal (transcript 02).
    let n = head.len();
    assert_eq!(
        head[n - 4..],
        [
            "C: A01 AUTHENTICATE \"PLAIN\" {24+}\r\n",
            "AG11cGR1c2VyAHNlY3JldA==\r\n",
            "S: A01 OK \"Authenticated\"\r\n",
            "Authenticated.\n",
        ]
    );
    // The LOGOUT line comes when input ends, wherever the server's answers are by then.
    assert!(tail.contains("C: Q01 LOGOUT\r\n"), "{out}");
    assert_eq!(tail.replacen("C: Q01 LOGOUT\r\n", "", 1), SESSION_REPLY);
}

#[test]
fn scram_wrong_passwords_and_no_initial_response() {
    let (_h, d) = master(&[]);
    let prog = bin("mupdatetest");
    // The best mechanism offered (SCRAM) shows its challenges as bare S:/C: lines.
    let o = mupdatetest(&prog, &d, &["-a", "mupduser", "-w", "secret"], "c NOOP\n");
    let out = text(&o.stdout);
    assert!(
        out.contains("C: A01 AUTHENTICATE \"SCRAM-SHA-256\" {"),
        "{out}"
    );
    assert!(
        out.contains("\r\nS: A01 OK \"Authenticated\"\r\nAuthenticated.\n"),
        "{out}"
    );
    // The LOGOUT line is printed when input ends, which may be before or after the NOOP's
    // answer arrives; the server's lines themselves come in order.
    let answers = out.replacen("C: Q01 LOGOUT\r\n", "", 1);
    assert!(
        answers.ends_with("c OK \"Noop done\"\r\nQ01 OK \"bye-bye\"\r\nConnection closed.\n"),
        "{out}"
    );

    // -i: no initial response; the server's empty challenge is answered.
    let o = mupdatetest(
        &prog,
        &d,
        &["-a", "mupduser", "-w", "secret", "-m", "plain", "-i"],
        "",
    );
    let out = text(&o.stdout);
    assert!(
        out.contains(
            "C: A01 AUTHENTICATE \"PLAIN\"\r\nS: \r\nC: AG11cGR1c2VyAHNlY3JldA==\r\nS: A01 OK"
        ),
        "{out}"
    );

    // A wrong password: Cyrus's failure line, then the terminal all the same.
    let o = mupdatetest(
        &prog,
        &d,
        &["-a", "mupduser", "-w", "nope", "-m", "PLAIN"],
        "c NOOP\n",
    );
    assert!(o.status.success());
    let out = text(&o.stdout);
    assert!(
        out.contains("Authentication failed. generic failure\nSecurity strength factor: 0\n"),
        "{out}"
    );
    assert!(out.contains("c BAD \"Please login first\"\r\n"), "{out}");
    assert!(out.ends_with("Connection closed.\n"), "{out}");

    // -f: the file is sent, then LOGOUT.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), "f1 FIND \"user.bob\"\n").unwrap();
    let o = mupdatetest(
        &prog,
        &d,
        &[
            "-a",
            "mupduser",
            "-w",
            "secret",
            "-m",
            "PLAIN",
            "-f",
            f.path().to_str().unwrap(),
        ],
        "",
    );
    let out = text(&o.stdout);
    assert!(out.contains("f1 OK \"Search completed\"\r\n"), "{out}");
}

#[test]
fn starttls_with_a_test_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let certs = daemons::tls::generate_certs(dir.path(), &["127.0.0.1", "localhost"]).unwrap();
    let (_h, d) = master(&[
        ("tls_server_cert", certs.cert.to_str().unwrap()),
        ("tls_server_key", certs.key.to_str().unwrap()),
    ]);
    let prog = bin("mupdatetest");
    for verify in [
        vec!["--insecure"],
        vec!["--cafile", certs.ca_cert.to_str().unwrap()],
    ] {
        let mut args = vec!["-a", "mupduser", "-w", "secret", "-m", "PLAIN", "-t", ""];
        args.extend(verify.iter().copied());
        let o = mupdatetest(&prog, &d, &args, "c NOOP\n");
        let out = text(&o.stdout);
        assert!(out.contains("S: * STARTTLS\r\n"), "{out}");
        assert!(out.contains("C: S01 STARTTLS\r\nS: S01 OK"), "{out}");
        assert!(out.contains("TLS connection established: "), "{out}");
        assert!(
            out.contains("Authenticated.\nSecurity strength factor: "),
            "{out}"
        );
        assert!(!out.contains("Security strength factor: 0\n"), "{out}");
        assert!(out.contains("c OK \"Noop done\"\r\n"), "{out}");
    }
    // Without --insecure or the CA, the test certificate is refused.
    let o = mupdatetest(&prog, &d, &["-a", "mupduser", "-w", "secret", "-t", ""], "");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("TLS negotiation failed"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn cyrus_mupdatetest_prints_the_same_session() {
    if !cyrus_installed() {
        eprintln!("skipped: Cyrus's mupdatetest is not installed");
        return;
    }
    let (_h, d) = master(&[]);
    let args = ["-a", "mupduser", "-w", "secret", "-m", "PLAIN"];
    let ours = text(&mupdatetest(&bin("mupdatetest"), &d, &args, SESSION).stdout);
    let cyrus = text(&mupdatetest(&cyrus_bin("mupdatetest"), &d, &args, SESSION).stdout);
    // Where "C: Q01 LOGOUT" falls among the server's answers depends on timing only.
    let strip = |s: &str| s.replacen("C: Q01 LOGOUT\r\n", "", 1);
    assert_eq!(strip(&ours), strip(&cyrus));
}
