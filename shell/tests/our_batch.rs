//! Batch scripts exercising every command against OUR murder: the local murder (`murder
//! local up` in a temporary MURDER_HOME: our mupdate master, two backends and a frontend as
//! one background process on loopback), reached through its frontend with STARTTLS verified
//! by the murder's CA. The cyradm-format lines are those the real Cyrus murder gives for the
//! same commands (see cyrus_batch.rs), where they do not depend on the server's software.
//! Also: the rc files, `<` input, and every kind of bad input, each with its message, the
//! exit status, and the session going on.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{murder_bin, stderr, stdout, unique, Murder};

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn every_command_against_our_frontend() {
    let m = Murder::up();
    let p = format!("user.{}", unique("ob"));
    let script = format!(
        "cm {p} backend1!default\n\
         cm {p}.Sent\n\
         cm --specialuse '\\Drafts' {p}.Drafts\n\
         lm {p}*\n\
         lm -specialuse {p}*\n\
         sq {p} 102400\n\
         lq {p}\n\
         lqr {p}.Sent\n\
         sam {p} bob read\n\
         sam {p}.* anyone lrs\n\
         lam {p}\n\
         lam {p}.*\n\
         dam {p} bob\n\
         dam {p}.* anyone\n\
         setmd {p} /shared/comment hello\n\
         mboxcfg {p} expire 30\n\
         getmd {p} expire\n\
         info {p}\n\
         rename {p}.Sent {p}.Archive\n\
         lm {p}.*\n\
         version\n\
         server\n\
         cd /tmp\n\
         help cm\n"
    );
    let o = m.shell(&[], &script);
    let out = stdout(&o);
    assert!(o.status.success(), "stderr: {}\nstdout: {out}", stderr(&o));
    // The same lines the real Cyrus murder gives (cyrus_batch.rs).
    for expected in [
        format!("{p} (\\HasChildren)"),
        format!("{p}.Sent (\\HasNoChildren)"),
        "quota:102400\n".to_string(),
        " STORAGE 0/102400 (0%)\n".to_string(),
        format!("{p} STORAGE 0/102400 (0%)\n"),
        format!("Setting ACL on {p}.Drafts...OK.\n"),
        "bob lrs\n".to_string(),
        format!("{p}.Sent:\n"),
        "  anyone lrs\n".to_string(),
        format!("Deleting acl on {p}.Sent...OK.\n"),
        format!("{{{p}}}:\n  shared:\n    expire: 30\n"),
        "    comment: hello\n".to_string(),
        format!("{p}.Archive (\\HasNoChildren)"),
        "name       : Cyrus IMAPD\n".to_string(),
        format!("127.0.0.1:{}\n", m.frontend()),
        "cm, alias for createmailbox".to_string(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }
    // lm's columns: every cell padded to the longest entry + 2, as cyradm does.
    let lm_line = format!("{p}.Drafts (\\HasNoChildren)  \n");
    assert!(out.contains(&lm_line), "{out}");

    // Real cyradm as the client of our frontend: the same bytes as our shell.
    let same = format!("lm {p}*\nlq {p}\nlqr {p}.Archive\nlam {p}.Drafts\n");
    if std::path::Path::new("/usr/bin/cyradm").exists() {
        let pw = std::fs::read_to_string(m.dir().join("admin.pw")).unwrap();
        let theirs = Command::new("/usr/bin/cyradm")
            .args([
                "--user",
                "admin",
                "-w",
                pw.trim(),
                "--auth",
                "PLAIN",
                "--notls",
            ])
            .args(["--port", &m.frontend().to_string(), "127.0.0.1"])
            .env_remove("COLUMNS")
            .output_with(&same);
        let theirs = stdout(&theirs).replace("127.0.0.1> ", "");
        let ours = m.shell(&["--notls"], &same.replace('\n', ";"));
        assert_eq!(
            stdout(&ours),
            theirs,
            "ours vs cyradm on our frontend for:\n{same}"
        );
    }

    // Subscriptions, as a user on her own INBOX (an admin without an INBOX has no
    // subscriptions, on Cyrus as here).
    let _ = m.shell(&[], "cm user.alice");
    let o = Command::new(murder_bin())
        .args(["--norc", "-u", "alice", "--cafile"])
        .arg(m.dir().join("tls/ca.pem"))
        .args(["127.0.0.1", &m.frontend().to_string()])
        .args([
            "-e",
            "sub INBOX; lm -subscribed INBOX; unsub INBOX; lm -subscribed INBOX",
        ])
        .env("MURDER_PASSWORD", "alicepw")
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("INBOX"), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));

    // Where the mailbox went: backend1, as asked.
    let on = |port: u16, name: &str| {
        let o = m
            .cmd()
            .args(["-u", "admin", "--password-file"])
            .arg(m.dir().join("admin.pw"))
            .arg("--cafile")
            .arg(m.dir().join("tls/ca.pem"))
            .args(["127.0.0.1", &port.to_string(), "-e", &format!("lm {name}")])
            .output()
            .unwrap();
        stdout(&o).contains(name)
    };
    let (be1, be2) = (m.base + 1143, m.base + 2143);
    assert!(on(be1, &p) && !on(be2, &p));

    // Moves: cyradm's rename with server!partition through the frontend; xfer on the
    // backend that holds the mailbox.
    let o = m.shell(&[], &format!("rename {p} {p} backend2!default"));
    assert!(o.status.success(), "{}", stderr(&o));
    wait_for("the rename to backend2", || on(be2, &p));
    let o = m
        .cmd()
        .args(["-u", "admin", "--password-file"])
        .arg(m.dir().join("admin.pw"))
        .arg("--cafile")
        .arg(m.dir().join("tls/ca.pem"))
        .args([
            "127.0.0.1",
            &be2.to_string(),
            "-e",
            &format!("xfer {p} backend1"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    wait_for("the xfer to backend1", || on(be1, &p));

    // server -noauthenticate, then authenticate; reconstruct; setinfo; wildcard clean-up.
    let fe = m.frontend();
    let script = format!(
        "disconnect\n\
         server -noauth 127.0.0.1:{fe}\n\
         auth admin\n\
         lm {p}\n\
         reconstruct {p}\n\
         sam {p} admin x\n\
         sam {p}.* admin x\n\
         dm {p}.*\n\
         dm {p}\n\
         lm {p}*\n"
    );
    let o = m.shell(&[], &script);
    let out = stdout(&o);
    assert!(o.status.success(), "stderr: {}\nstdout: {out}", stderr(&o));
    assert!(out.starts_with(&format!("{p} (\\HasChildren)")), "{out}");
    assert!(
        out.contains(&format!("Setting ACL on {p}.Archive...OK.")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Deleting mailbox {p}.Archive...OK.")),
        "{out}"
    );
    assert!(
        out.ends_with("OK.\n"),
        "the last lm must print nothing: {out}"
    );

    // Server-wide entries (setinfo, info without a mailbox), on a backend: our frontend
    // answers them with "Server(s) unavailable" where Cyrus's serves them.
    let o = m
        .cmd()
        .args(["-u", "admin", "--password-file"])
        .arg(m.dir().join("admin.pw"))
        .arg("--cafile")
        .arg(m.dir().join("tls/ca.pem"))
        .args(["127.0.0.1", &be1.to_string()])
        .args([
            "-e",
            &format!("setinfo comment {p}; info; setinfo comment none"),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("{Server Wide}\n"), "{out}");
    assert!(out.contains(&format!("    comment: {p}\n")), "{out}");
}

/// The same commands straight to one of our backends (no frontend, no referrals): what an
/// operator runs on a backend host, and what cyradm does against a single Cyrus server.
#[test]
fn every_command_against_our_backend() {
    let m = Murder::up();
    let p = format!("user.{}", unique("obb"));
    let be1 = m.base + 1143;
    let script = format!(
        "cm {p}\n\
         cm {p}.Sent\n\
         cm --specialuse '\\Drafts' {p}.Drafts\n\
         lm {p}*\n\
         sq {p} 102400\n\
         lq {p}\n\
         lqr {p}.Sent\n\
         sam {p} bob read\n\
         sam {p}.* anyone lrs\n\
         lam {p}\n\
         dam {p} bob\n\
         dam {p}.* anyone\n\
         setmd {p} /shared/comment hello\n\
         mboxcfg {p} expire 30\n\
         getmd {p} expire\n\
         rename {p}.Sent {p}.Archive\n\
         subscribe {p}.Archive\n\
         unsubscribe {p}.Archive\n\
         reconstruct {p}\n\
         lm {p}.*\n\
         version\n\
         sam {p} admin x\n\
         sam {p}.* admin x\n\
         dm {p}.*\n\
         dm {p}\n\
         lm {p}*\n"
    );
    let o = m
        .cmd()
        .args(["-u", "admin", "--password-file"])
        .arg(m.dir().join("admin.pw"))
        .arg("--cafile")
        .arg(m.dir().join("tls/ca.pem"))
        .args(["127.0.0.1", &be1.to_string()])
        .output_with(&script);
    let out = stdout(&o);
    assert!(o.status.success(), "stderr: {}\nstdout: {out}", stderr(&o));
    for expected in [
        format!("{p} (\\HasChildren)"),
        format!("{p}.Sent (\\HasNoChildren)"),
        " STORAGE 0/102400 (0%)\n".to_string(),
        format!("{p} STORAGE 0/102400 (0%)\n"),
        format!("Setting ACL on {p}.Drafts...OK.\n"),
        "bob lrs\n".to_string(),
        format!("Deleting acl on {p}.Sent...OK.\n"),
        format!("{{{p}}}:\n  shared:\n    expire: 30\n"),
        format!("{p}.Archive (\\HasNoChildren)"),
        "name       : ".to_string(),
        format!("Deleting mailbox {p}.Archive...OK."),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }
    assert!(
        out.ends_with("OK.\n"),
        "the last lm must print nothing: {out}"
    );
}

/// Bad input of every kind: the message, status 1, and the next command still runs.
#[test]
fn bad_input_against_our_frontend() {
    let m = Murder::up();
    let p = format!("user.{}", unique("obx"));
    let fe = m.frontend();
    let script = format!(
        "frobnicate\n\
         lq\n\
         sam {p} bob\n\
         lm \"unbalanced\n\
         lam {p}\n\
         cm {p}\n\
         cm {p}\n\
         help lq\n"
    );
    let o = m.cmd().args(["-f", "/dev/stdin"]).output_with(&script);
    let err = stderr(&o);
    for expected in [
        "frobnicate: unknown command".to_string(),
        "usage: listquota root".to_string(),
        "usage: setaclmailbox mailbox id rights [id rights ...]".to_string(),
        "unbalanced quote".to_string(),
        format!("listacl: 127.0.0.1:{fe}: Mailbox does not exist"),
        // An admin's CREATE is referred to the backend (reference §4.10), which answers.
        "Mailbox already exists".to_string(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in\n{err}");
    }
    assert_eq!(o.status.code(), Some(1));
    // The last command ran.
    assert!(stdout(&o).contains("listquota"), "{}", stdout(&o));

    // An unreachable server, then a good one: the session goes on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let o = m.shell(
        &[],
        &format!("connect 127.0.0.1:{dead_port}; lam {p}; connect 127.0.0.1:{fe}; version"),
    );
    let err = stderr(&o);
    assert!(
        err.contains(&format!("cannot connect to 127.0.0.1:{dead_port}")),
        "{err}"
    );
    assert!(err.contains("listacl: no connection to server"), "{err}");
    assert!(stdout(&o).contains("Cyrus IMAPD"), "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(1));

    // A wrong password: said at start; local commands still work; status 1.
    let o = Command::new(murder_bin())
        .args(["--norc", "-u", "admin", "--cafile"])
        .arg(m.dir().join("tls/ca.pem"))
        .args(["127.0.0.1", &fe.to_string(), "-e", "lm; help lm"])
        .env("MURDER_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(
        err.contains(&format!("cannot authenticate to 127.0.0.1:{fe} as admin")),
        "{err}"
    );
    assert!(
        err.contains("listmailbox: no connection to server"),
        "{err}"
    );
    assert!(stdout(&o).contains("listmailbox"), "{}", stdout(&o));
    assert_eq!(o.status.code(), Some(1));

    // Clean up.
    let _ = m.shell(&[], &format!("sam {p} admin x; dm {p}"));
}

/// cyradm's rc files: the system one, then the user's, run after connecting and before the
/// other input; --norc skips them; `<` gives a metadata value from a file, and is refused
/// clearly by a command that reads no input.
#[test]
fn rc_files_and_input_redirection() {
    let m = Murder::up();
    let p = format!("user.{}", unique("obr"));
    let sysrc = m.dir().join("system.rc");
    std::fs::write(&sysrc, format!("# made by the test\ncm {p}\n")).unwrap();
    // The user rc under $HOME (the test's MURDER_HOME), cyradm's name.
    std::fs::write(m.dir().join(".cyradmrc.pl"), format!("lm {p}\n")).unwrap();
    let o = m.shell(&["-S", sysrc.to_str().unwrap()], "server");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{p} (\\HasNoChildren)  \n127.0.0.1:{}\n", m.frontend())
    );
    let o = m.shell(&["--norc", "-S", sysrc.to_str().unwrap()], "server");
    assert_eq!(stdout(&o), format!("127.0.0.1:{}\n", m.frontend()));
    // --userrc names another file; a missing rc file is skipped silently.
    let o = m.shell(
        &["-S", "/nonexistent/rc", "--userrc", sysrc.to_str().unwrap()],
        "lm",
    );
    assert!(
        stderr(&o).contains("Mailbox already exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(1));

    let value = m.dir().join("value.txt");
    std::fs::write(&value, "a comment\nfrom a file\n").unwrap();
    let o = m.shell(
        &["--norc"],
        &format!(
            "setmd {p} /shared/comment < {0}; getmd {p} /shared/comment; lm {p} < {0}; server",
            value.display()
        ),
    );
    let out = stdout(&o);
    assert!(
        out.contains("    comment: a comment\nfrom a file\n"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("listmailbox: reads no input"),
        "{}",
        stderr(&o)
    );
    assert!(
        out.ends_with(&format!("127.0.0.1:{}\n", m.frontend())),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1));
    let _ = m.shell(&["--norc"], &format!("sam {p} admin x; dm {p}"));
}

trait OutputWith {
    fn output_with(&mut self, stdin: &str) -> Output;
}

impl OutputWith for Command {
    fn output_with(&mut self, stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}
