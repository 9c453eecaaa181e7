//! Batch scripts exercising every command against the real Cyrus 3.6 murder of
//! `../shared/cyrus-murder` (frontend 127.0.0.1:10143, backends 11143 and 12143), and the
//! cyradm-format output compared byte for byte with the real cyradm. Skipped, with a
//! message, when the murder cannot be started here (not root, Cyrus or the harness absent).
//!
//! The tests share the murder with whoever else uses it, so every mailbox they touch has a
//! name unique to the run, and they clean up after themselves.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{murder_bin, real_murder, stderr, stdout, unique};

/// Runs `murder` against `host:port` as `user`, with a script on standard input.
fn murder(port: u16, user: &str, pw: &str, script: &str) -> std::process::Output {
    let mut child = Command::new(murder_bin())
        .args(["-u", user, "--notls", "127.0.0.1", &port.to_string()])
        .env("MURDER_PASSWORD", pw)
        .env_remove("COLUMNS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Real cyradm's standard output for a script, prompts removed.
fn cyradm(port: u16, script: &str) -> Option<String> {
    if !std::path::Path::new("/usr/bin/cyradm").exists() {
        return None;
    }
    let mut child = Command::new("/usr/bin/cyradm")
        .args([
            "--user",
            "cyrus",
            "-w",
            "secret",
            "--auth",
            "PLAIN",
            "--notls",
            "--port",
            &port.to_string(),
            "127.0.0.1",
        ])
        .env_remove("COLUMNS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    use std::io::Write;
    child.stdin.take()?.write_all(script.as_bytes()).ok()?;
    let o = child.wait_with_output().ok()?;
    Some(String::from_utf8_lossy(&o.stdout).replace("127.0.0.1> ", ""))
}

/// Retries `check` for a few seconds: the frontend learns of moves through its MUPDATE
/// slave, a moment later.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..40 {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

#[test]
fn every_command_against_cyrus() {
    let Some(fe) = real_murder() else { return };
    let p = format!("user.{}", unique("sht"));
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
    let o = murder(fe, "cyrus", "secret", &script);
    let out = stdout(&o);
    assert!(o.status.success(), "stderr: {}\nstdout: {out}", stderr(&o));
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
        format!("{{{p}}}:\n  shared:\n    server: backend1\n"),
        format!("{p}.Archive (\\HasNoChildren)"),
        "name       : Cyrus IMAPD\n".to_string(),
        "127.0.0.1:10143\n".to_string(),
        "cm, alias for createmailbox".to_string(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in\n{out}");
    }

    // cyradm's formats, byte for byte, on the same mailboxes.
    let same = format!("lm {p}*\nlq {p}\nlqr {p}.Archive\ninfo {p}\nversion\nlam {p}.Drafts\n");
    if let Some(theirs) = cyradm(fe, &same) {
        let ours = murder(fe, "cyrus", "secret", &same);
        assert_eq!(stdout(&ours), theirs, "ours vs cyradm for:\n{same}");
    }

    // server -noauthenticate, then authenticate; reconstruct (referred to the backend by
    // the frontend, and followed); setinfo; clean-up with wildcards.
    let script = format!(
        "server -noauth 127.0.0.1:{fe}\n\
         auth cyrus\n\
         lm {p}\n\
         setinfo comment {p}\n\
         info\n\
         setinfo comment none\n\
         sam {p} cyrus x\n\
         sam {p}.* cyrus x\n\
         dm {p}.*\n\
         dm {p}\n\
         lm {p}*\n"
    );
    let o = murder(fe, "cyrus", "secret", &script);
    let out = stdout(&o);
    assert!(o.status.success(), "stderr: {}\nstdout: {out}", stderr(&o));
    assert!(out.contains(&format!("{p} (\\HasChildren)")), "{out}");
    assert!(out.contains(&format!("    comment: {p}\n")), "{out}");
    assert!(
        out.contains(&format!("Deleting mailbox {p}.Archive...OK.")),
        "{out}"
    );
    assert!(
        out.ends_with("OK.\n"),
        "the last lm must print nothing: {out}"
    );

    // A command on a mailbox that does not exist: the error, and status 1.
    let o = murder(fe, "cyrus", "secret", &format!("lam {p}\n"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("listacl: 127.0.0.1:{fe}: Mailbox does not exist")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn moves_between_backends() {
    let Some(fe) = real_murder() else { return };
    let q = format!("user.{}", unique("shm"));
    let on = |port: u16, name: &str| {
        let o = murder(port, "cyrus", "secret", &format!("lm {name}\n"));
        stdout(&o).contains(name)
    };
    // cyradm's form: rename with server!partition, through the frontend.
    let o = murder(
        fe,
        "cyrus",
        "secret",
        &format!("cm {q} backend1!default\nrename {q} {q} backend2!default\n"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(eventually(|| on(12143, &q)), "{q} not on backend2");
    // The seed's form: newname!server.
    let o = murder(fe, "cyrus", "secret", &format!("rename {q} {q}!backend1\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(eventually(|| on(11143, &q)), "{q} not back on backend1");
    // xfer, run on the backend that holds the mailbox.
    let o = murder(11143, "cyrus", "secret", &format!("xfer {q} backend2\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(eventually(|| on(12143, &q)), "{q} not moved by xfer");
    // reconstruct through the frontend is referred to the backend and followed there.
    // (Retried: the frontend learns of the xfer through its MUPDATE slave.)
    let mut last = String::new();
    let followed = eventually(|| {
        let o = murder(fe, "cyrus", "secret", &format!("reconstruct {q}\n"));
        last = stderr(&o);
        o.status.success() || last.contains("reconstruct: backend")
    });
    assert!(followed, "{last}");
    let _ = murder(fe, "cyrus", "secret", &format!("sam {q} cyrus x\ndm {q}\n"));
}

#[test]
fn subscriptions_as_a_user() {
    let Some(fe) = real_murder() else { return };
    // alice needs an INBOX (a fresh murder has none); "already exists" is fine.
    let _ = murder(fe, "cyrus", "secret", "cm user.alice\n");
    let o = murder(
        fe,
        "alice",
        "alicepw",
        "sub INBOX\nlm -subscribed INBOX\nunsub INBOX\nlm -subscribed INBOX\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("INBOX"), "{}", stdout(&o));
}

#[test]
fn wrong_password_against_cyrus() {
    let Some(fe) = real_murder() else { return };
    let o = murder(fe, "cyrus", "not-the-password", "lm\n");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("cannot authenticate to 127.0.0.1:10143 as cyrus"),
        "{err}"
    );
    assert!(
        err.contains("listmailbox: no connection to server"),
        "{err}"
    );
}
