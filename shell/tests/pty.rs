//! The interactive shell driven through a pseudo-terminal: completion of commands and of
//! mailbox names (from the background cache), history across restarts, Ctrl-C cancelling a
//! command but not the shell, and a lost connection recovered with `connect`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{murder_bin, rule, FakeImap, Rule};
use rexpect::session::{spawn_command, PtySession};

fn rules() -> Vec<Rule> {
    vec![
        rule(
            "LIST \"\" *",
            "* LIST (\\HasChildren) \".\" user.alice\n* LIST (\\HasNoChildren) \".\" user.alice.Sent\n\
             * LIST (\\HasNoChildren) \".\" user.bobby\nTAG OK Completed\n",
        ),
        rule("GETACL user.bobby", "* ACL user.bobby bobby lrswipkxtecdan\nTAG OK Completed\n"),
        rule("GETACL user.alice", "* ACL user.alice alice lrswipkxtecdan\nTAG OK Completed\n"),
        rule("GETACL user.hang", "HANG"),
        rule("GETACL user.drop", "CLOSE"),
        rule("ID NIL", "* ID (\"name\" \"Fake\")\nTAG OK Completed\n"),
    ]
}

/// Types `text` (rexpect buffers until flushed).
fn send(p: &mut PtySession, text: &str) {
    p.send(text).unwrap();
    p.flush().unwrap();
}

/// Waits for the prompt, then a moment more: the line editor discards what is typed
/// before it has switched the terminal to raw mode.
fn prompt(p: &mut PtySession, text: &str) {
    p.exp_string(text).expect("prompt");
    std::thread::sleep(Duration::from_millis(300));
}

fn start(port: u16, home: &std::path::Path) -> PtySession {
    let mut cmd = Command::new(murder_bin());
    cmd.args(["-u", "cyrus", "--notls", "127.0.0.1", &port.to_string()])
        .env("MURDER_PASSWORD", "secret")
        .env("HOME", home)
        .env("MURDER_HOME", home)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(10_000)).expect("spawn murder in a pty");
    prompt(&mut p, &format!("cyrus@127.0.0.1:{port}> "));
    p
}

#[test]
fn completes_commands_and_mailbox_names() {
    let srv = FakeImap::start(rules());
    let home = tempfile::tempdir().unwrap();
    let mut p = start(srv.port, home.path());
    // A command name.
    send(&mut p, "versi");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\t");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\r");
    p.exp_string("name       : Fake").unwrap();
    // A mailbox name, from the cache the background listing filled.
    prompt(&mut p, "> ");
    send(&mut p, "lam user.bo");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\t");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\r");
    p.exp_string("bobby lrswipkxtecdan").unwrap();
    prompt(&mut p, "> ");
    // Several candidates are listed on a second Tab.
    send(&mut p, "listq");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\t");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\t");
    p.exp_string("listquotaroot").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    p.send_control('u').unwrap();
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn history_survives_a_restart() {
    let srv = FakeImap::start(rules());
    let home = tempfile::tempdir().unwrap();
    let mut p = start(srv.port, home.path());
    p.send_line("lam user.alice").unwrap();
    p.exp_string("alice lrswipkxtecdan").unwrap();
    prompt(&mut p, "> ");
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
    let hist = std::fs::read_to_string(home.path().join("history")).unwrap();
    assert!(hist.contains("lam user.alice"), "{hist}");

    let mut p = start(srv.port, home.path());
    // Up twice: past `exit`, to the command before it in the previous session.
    send(&mut p, "\x1b[A");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\x1b[A");
    std::thread::sleep(Duration::from_millis(100));
    send(&mut p, "\r");
    p.exp_string("alice lrswipkxtecdan").unwrap();
    prompt(&mut p, "> ");
    p.send_line("exit 0").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn ctrl_c_cancels_the_command_not_the_shell() {
    let srv = FakeImap::start(rules());
    let home = tempfile::tempdir().unwrap();
    let mut p = start(srv.port, home.path());
    p.send_line("lam user.hang").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    p.send_control('c').unwrap();
    p.exp_string("interrupted").unwrap();
    p.exp_string("reconnected to 127.0.0.1").unwrap();
    prompt(&mut p, "> ");
    p.send_line("lam user.alice").unwrap();
    p.exp_string("alice lrswipkxtecdan").unwrap();
    prompt(&mut p, "> ");
    // Ctrl-C at the prompt only clears the line.
    send(&mut p, "lam user.ali");
    std::thread::sleep(Duration::from_millis(200));
    p.send_control('c').unwrap();
    prompt(&mut p, "> ");
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn lost_connection_is_said_and_connect_recovers() {
    let srv = FakeImap::start(rules());
    let home = tempfile::tempdir().unwrap();
    let mut p = start(srv.port, home.path());
    p.send_line("lam user.drop").unwrap();
    p.exp_string("Connection to server lost").unwrap();
    prompt(&mut p, "cyradm> ");
    p.send_line("lam user.alice").unwrap();
    p.exp_string("listacl: no connection to server").unwrap();
    prompt(&mut p, "cyradm> ");
    p.send_line(&format!("connect 127.0.0.1:{}", srv.port))
        .unwrap();
    prompt(&mut p, &format!("cyrus@127.0.0.1:{}> ", srv.port));
    p.send_line("lam user.alice").unwrap();
    p.exp_string("alice lrswipkxtecdan").unwrap();
    prompt(&mut p, "> ");
    p.send_line("exit").unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn unconnected_without_a_local_murder() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(murder_bin());
    cmd.env("HOME", home.path())
        .env_remove("MURDER_HOME")
        .env("MURDER_AUTOSTART", "0")
        .env("TERM", "xterm");
    let mut p = spawn_command(cmd, Some(10_000)).unwrap();
    p.exp_string("no local murder").unwrap();
    prompt(&mut p, "cyradm> ");
    p.send_line("help quit").unwrap();
    p.exp_string("leave the shell").unwrap();
    prompt(&mut p, "cyradm> ");
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
}
