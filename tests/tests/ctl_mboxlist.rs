//! `ctl_mboxlist` as a process against our MUPDATE master: dump/undump in Cyrus 3.6's JSON
//! form, the `-m` push (dry run, push, removal of a locally deleted mailbox, conflicts kept
//! without consent), and the error paths. When the real Cyrus tools are installed (and we are
//! root, which they need to switch to the cyrus user), our dump is also read back by Cyrus's
//! own `ctl_mboxlist -u`/`-d`.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use daemons::ctl_mboxlist::parse_dump;
use daemons::mboxdb::MailboxDb;
use daemons::mupdate::client::{connect_authenticated, Credentials};
use murder_tests::{bin, cyrus_bin, cyrus_installed, Daemon, Host};

/// `ctl_mboxlist -d` on Cyrus 3.6's backend1 (transcript 04-ctl_mboxlist-d-backend1.txt).
const CYRUS_BACKEND1: &str = r#"{
"user.alice": {"name": "user.alice", "mtime": "1795860518", "uidvalidity": "1795860519", "createdmodseq": "1", "foldermodseq": "2", "mbtype": "e", "partition": "default", "acl": {"alice": "lrswipkxtecdan", "bob": "lrs"}, "uniqueid": "4ri3prim8ck7dh3w1dxmj0fz", "name_history": []},
"user.alice.Sent": {"name": "user.alice.Sent", "mtime": "1795860518", "uidvalidity": "1795860519", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"alice": "lrswipkxtecdan", "bob": "lrs"}, "uniqueid": "iccj2966k096vyvc0zcwsgg9", "name_history": []},
"user.alice.Trash": {"name": "user.alice.Trash", "mtime": "1795860519", "uidvalidity": "1795860520", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"alice": "lrswipkxtecdan", "bob": "lrs"}, "uniqueid": "mw4wvavu5coo9l4ewkrjary1", "name_history": []},
"user.bob": {"name": "user.bob", "mtime": "1795860519", "uidvalidity": "1795860519", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"bob": "lrswipkxtecdan"}, "uniqueid": "m60t3cp1kv2shojjmjucg0vi", "name_history": []},
"user.bob.Drafts": {"name": "user.bob.Drafts", "mtime": "1795860519", "uidvalidity": "1795860519", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"bob": "lrswipkxtecdan"}, "uniqueid": "gayi3w3ki7z9tps11vwk6ws3", "name_history": []},
"user.erin": {"name": "user.erin", "mtime": "1795860519", "uidvalidity": "1795860520", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"erin": "lrswipkxtecdan"}, "uniqueid": "dii75sl2kazqizuhujwh0pa0", "name_history": []}
}
"#;

/// Backend2 after an XFER away: tombstones (transcript 04-ctl_mboxlist-d-backend2.txt).
const CYRUS_BACKEND2: &str = r#"{
"user.bob": {"name": "user.bob", "mtime": "1795860519", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "ed", "partition": "default", "acl": {"bob": "lrswipkxtecdan"}, "uniqueid": "m60t3cp1kv2shojjmjucg0vi", "name_history": []},
"user.bob.Drafts": {"name": "user.bob.Drafts", "mtime": "1795860519", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "ed", "partition": "default", "acl": {"bob": "lrswipkxtecdan"}, "uniqueid": "gayi3w3ki7z9tps11vwk6ws3", "name_history": []},
"user.carol": {"name": "user.carol", "mtime": "1795860519", "uidvalidity": "1795860520", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"carol": "lrswipkxtecdan"}, "uniqueid": "g4ycedahpe27lhwv6pw80886", "name_history": []},
"user.dave": {"name": "user.dave", "mtime": "1795860519", "uidvalidity": "1795860520", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"dave": "lrswipkxtecdan"}, "uniqueid": "lg3er13l3rm0nh7stvtijf3z", "name_history": []}
}
"#;

/// A frontend's list: remote entries, no uniqueid (transcript 04-ctl_mboxlist-d-frontend.txt).
const CYRUS_FRONTEND: &str = r#"{
"user.alice": {"name": "user.alice", "mtime": "1795860518", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "er", "partition": "default", "server": "backend1", "acl": {"alice": "lrswipkxtecdan", "bob": "lrs"}, "name_history": []},
"user.alice.Sent": {"name": "user.alice.Sent", "mtime": "1795860518", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "er", "partition": "default", "server": "backend1", "acl": {"alice": "lrswipkxtecdan", "bob": "lrs"}, "name_history": []},
"user.carol": {"name": "user.carol", "mtime": "1795860519", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "er", "partition": "default", "server": "backend2", "acl": {"carol": "lrswipkxtecdan"}, "name_history": []},
"user.dave": {"name": "user.dave", "mtime": "1795860519", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "er", "partition": "default", "server": "backend2", "acl": {"dave": "lrswipkxtecdan"}, "name_history": []}
}
"#;

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

fn ctl(host: &Host, args: &[&str], stdin: &str) -> Output {
    let conf = host.imapd_conf();
    let mut all = vec!["-C", conf.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&bin("ctl_mboxlist"), &all, stdin)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Sets every `"mtime": "<n>"` to 0 (undump resets mtime to now, as Cyrus does).
fn no_mtime(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\"mtime\": \"") {
        let (head, tail) = rest.split_at(i + "\"mtime\": \"".len());
        out.push_str(head);
        out.push('0');
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

fn creds(user: &str, pw: &str) -> Credentials {
    Credentials {
        authname: user.into(),
        username: None,
        password: pw.into(),
        mechs: None,
    }
}

/// `(name, location, acl)` of everything the master has.
fn master_list(d: &Daemon) -> Vec<(String, String, Option<String>)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = connect_authenticated(
            &d.addr.ip().to_string(),
            d.addr.port(),
            &creds("mupduser", "secret"),
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let mut v = Vec::new();
        c.list(None, |r| {
            v.push((
                r.name.clone(),
                r.location().to_owned(),
                r.acl().map(str::to_owned),
            ))
        })
        .await
        .unwrap();
        c.logout().await;
        v
    })
}

fn master_activate(d: &Daemon, name: &str, location: &str, acl: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut c = connect_authenticated(
            &d.addr.ip().to_string(),
            d.addr.port(),
            &creds("mupduser", "secret"),
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        c.activate(name, location, acl).await.unwrap();
        c.logout().await;
    })
}

fn master() -> (Host, Daemon) {
    let host = Host::new("mupdate")
        .conf("admins", "mupduser be1")
        .conf("allowplaintext", "yes")
        .user("mupduser", "secret")
        .user("be1", "be1pw")
        .write();
    let d = Daemon::start(&host, "mupdate", &["-m"]);
    (host, d)
}

fn backend(master: &Daemon, password: &str) -> Host {
    Host::new("be1")
        .conf(
            "mupdate_server",
            &format!("127.0.0.1:{}", master.addr.port()),
        )
        .conf("mupdate_authname", "be1")
        .conf("mupdate_password", password)
        .conf("proxyservers", "murder")
        .write()
}

const BE1_LOCAL: &str = r#"{
"user.alice": {"name": "user.alice", "mtime": "1", "uidvalidity": "7", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"alice": "lrswipkxtecdan", "bob": "lrs"}, "uniqueid": "u-alice", "name_history": []},
"user.alice.Sent": {"name": "user.alice.Sent", "mtime": "1", "uidvalidity": "7", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"alice": "lrswipkxtecdan"}, "uniqueid": "u-sent", "name_history": []},
"user.bob": {"name": "user.bob", "mtime": "1", "uidvalidity": "0", "createdmodseq": "0", "foldermodseq": "0", "mbtype": "ed", "partition": "default", "acl": {"bob": "lrswipkxtecdan"}, "uniqueid": "u-bob", "name_history": []},
"user.carol": {"name": "user.carol", "mtime": "1", "uidvalidity": "7", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"carol": "lrswipkxtecdan"}, "uniqueid": "u-carol", "name_history": []},
"user.dave": {"name": "user.dave", "mtime": "1", "uidvalidity": "7", "createdmodseq": "1", "foldermodseq": "1", "mbtype": "e", "partition": "default", "acl": {"dave": "lrswipkxtecdan"}, "uniqueid": "u-dave", "name_history": []}
}
"#;

fn lines(o: &Output) -> Vec<String> {
    text(&o.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn push_plans_applies_removes_and_keeps_conflicts_without_consent() {
    let (_mh, m) = master();
    let be1 = backend(&m, "be1pw");
    // The master knows a stale mailbox at be1 and gives user.dave to be2.
    master_activate(&m, "user.ghost", "be1!default", "ghost\tlr\t");
    master_activate(&m, "user.dave", "be2!default", "dave\tlrswipkxtecdan\t");

    let u = ctl(&be1, &["-u"], BE1_LOCAL);
    assert!(u.status.success(), "{}", text(&u.stderr));

    // Dry run: Cyrus's four kinds of line, nothing changed.
    let before = master_list(&m);
    let w = ctl(&be1, &["-mw"], "");
    assert!(w.status.success(), "{}", text(&w.stderr));
    assert_eq!(
        lines(&w),
        [
            "Remove from MUPDATE: user.ghost",
            "Force Activate: user.alice",
            "Force Activate: user.alice.Sent",
            "Force Activate: user.carol",
            "Remove Local Mailbox: user.dave",
        ]
    );
    assert_eq!(master_list(&m), before);

    // The push: the master now matches the local list; user.dave is kept locally and reported.
    let p = ctl(&be1, &["-m"], "");
    assert!(p.status.success(), "{}", text(&p.stderr));
    assert!(p.stdout.is_empty());
    let err = text(&p.stderr);
    assert!(err.contains("kept local mailbox user.dave"), "{err}");
    assert_eq!(
        master_list(&m),
        [
            (
                "user.alice".to_string(),
                "be1!default".to_string(),
                Some("alice\tlrswipkxtecdan\tbob\tlrs\t".to_string())
            ),
            (
                "user.alice.Sent".into(),
                "be1!default".into(),
                Some("alice\tlrswipkxtecdan\t".into())
            ),
            (
                "user.carol".into(),
                "be1!default".into(),
                Some("carol\tlrswipkxtecdan\t".into())
            ),
            (
                "user.dave".into(),
                "be2!default".into(),
                Some("dave\tlrswipkxtecdan\t".into())
            ),
        ]
    );
    let dump = text(&ctl(&be1, &["-d"], "").stdout);
    assert!(
        dump.contains(r#""user.dave": {"name": "user.dave", "mtime""#)
            && dump.contains(r#""mbtype": "e", "partition": "default", "acl": {"dave""#),
        "{dump}"
    );
    assert_eq!(
        lines(&ctl(&be1, &["-mw"], "")),
        ["Remove Local Mailbox: user.dave"]
    );

    // A mailbox deleted locally goes from the master on the next push.
    MailboxDb::open_in(&be1.configdir())
        .unwrap()
        .delete("user.carol")
        .unwrap();
    let p = ctl(&be1, &["-m"], "");
    assert!(p.status.success(), "{}", text(&p.stderr));
    let names: Vec<String> = master_list(&m).into_iter().map(|(n, ..)| n).collect();
    assert_eq!(names, ["user.alice", "user.alice.Sent", "user.dave"]);

    // -i answered "n": Cyrus's question, "Cancelled!", exit 1, nothing deleted.
    let i = ctl(&be1, &["-m", "-i"], "n\n");
    assert_eq!(i.status.code(), Some(1));
    let err = text(&i.stderr);
    assert!(err.contains("OK to delete 1 local mailboxes? "), "{err}");
    assert!(err.contains("Cancelled!"), "{err}");
    assert!(MailboxDb::open_in(&be1.configdir())
        .unwrap()
        .get("user.dave")
        .unwrap()
        .is_some_and(|e| e.mbtype_letters() == "e"));

    // With consent the local copy becomes a tombstone; the master is untouched.
    let p = ctl(&be1, &["-m", "--delete-local"], "");
    assert!(p.status.success(), "{}", text(&p.stderr));
    let dave = MailboxDb::open_in(&be1.configdir())
        .unwrap()
        .get("user.dave")
        .unwrap()
        .unwrap();
    assert_eq!(dave.mbtype_letters(), "ed");
    assert!(lines(&ctl(&be1, &["-mw"], "")).is_empty());
    assert_eq!(master_list(&m).len(), 3);
}

#[test]
fn master_order_is_irrelevant_and_authoritative_skips_find() {
    let (_mh, m) = master();
    let be1 = backend(&m, "be1pw");
    master_activate(&m, "user.dave", "be2!default", "dave\tlr\t");
    assert!(ctl(&be1, &["-u"], BE1_LOCAL).status.success());
    // -a: everything local is activated here, even what the master gives to be2.
    let w = ctl(&be1, &["-m", "-a", "-w"], "");
    assert_eq!(
        lines(&w),
        [
            "Force Activate: user.alice",
            "Force Activate: user.alice.Sent",
            "Force Activate: user.carol",
            "Force Activate: user.dave",
        ]
    );
    assert!(ctl(&be1, &["-ma"], "").status.success());
    let all = master_list(&m);
    assert!(
        all.iter().all(|(_, loc, _)| loc == "be1!default"),
        "{all:?}"
    );
}

#[test]
fn dump_round_trips_cyrus_dumps() {
    let (_mh, m) = master();
    for (i, cyrus) in [CYRUS_BACKEND1, CYRUS_BACKEND2, CYRUS_FRONTEND]
        .into_iter()
        .enumerate()
    {
        let h = backend(&m, "x");
        let u = ctl(&h, &["-u"], cyrus);
        assert!(u.status.success(), "{}", text(&u.stderr));
        assert!(u.stderr.is_empty(), "dump {i}: {}", text(&u.stderr));
        let d = ctl(&h, &["-d"], "");
        assert!(d.status.success());
        let ours = text(&d.stdout);
        // Byte for byte the same, apart from mtime (reset on undump, as Cyrus does).
        assert_eq!(no_mtime(&ours), no_mtime(cyrus), "dump {i}");
        // And semantically.
        assert_eq!(
            parse_dump(&ours, 0).unwrap().entries,
            parse_dump(cyrus, 0).unwrap().entries
        );
        // -p and -x: dump one partition and remove what was dumped.
        let x = ctl(&h, &["-d", "-p", "default", "-x"], "");
        assert_eq!(no_mtime(&text(&x.stdout)), no_mtime(cyrus));
        assert_eq!(text(&ctl(&h, &["-d"], "").stdout), "{\n\n}\n");
    }
}

#[test]
fn errors_are_reported_as_cyrus_does() {
    let (_mh, mut m) = master();
    let bad = backend(&m, "wrong");
    let o = ctl(&bad, &["-m"], "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.starts_with("couldn't connect to mupdate server\n"),
        "{err}"
    );
    assert!(err.contains("authentication as be1 failed"), "{err}");

    let good = backend(&m, "be1pw");
    m.stop();
    let o = ctl(&good, &["-m"], "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.starts_with("couldn't connect to mupdate server\n"),
        "{err}"
    );
    assert!(
        err.contains("cannot connect to mupdate server 127.0.0.1:"),
        "{err}"
    );

    // Modes and their options (reference §2.11): usage and exit 1.
    for args in [
        &[][..],
        &["-d", "-m"],
        &["-d", "-a"],
        &["-m", "-x"],
        &["-u", "-y"],
        &["-d", "--delete-local"],
        &["-m", "-L"],
        &["-q"],
    ] {
        let o = ctl(&good, args, "");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(text(&o.stderr).contains("usage:"), "{args:?}");
    }
    let no_server = Host::new("be3").write();
    let o = ctl(&no_server, &["-m"], "");
    assert_eq!(o.status.code(), Some(69));
    assert_eq!(
        text(&o.stderr),
        "fatal error: couldn't get mupdate server name\n"
    );
    let o = ctl(&good, &["-u"], "[not a dump]");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("parse error"));
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn cyrus_reads_our_dump_back() {
    if !cyrus_installed() || !is_root() {
        eprintln!("skipped: needs the real Cyrus tools and root");
        return;
    }
    let (_mh, m) = master();
    let ours = backend(&m, "x");
    assert!(ctl(&ours, &["-u"], CYRUS_BACKEND1).status.success());
    let our_dump = text(&ctl(&ours, &["-d"], "").stdout);

    // A scratch Cyrus configuration owned by the cyrus user.
    let dir = tempfile::Builder::new()
        .prefix("murder-cyrus-")
        .tempdir()
        .unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("conf")).unwrap();
    std::fs::create_dir_all(d.join("spool")).unwrap();
    let conf = d.join("imapd.conf");
    std::fs::write(
        &conf,
        format!(
            "configdirectory: {0}/conf\npartition-default: {0}/spool\nservername: be1\n",
            d.display()
        ),
    )
    .unwrap();
    assert!(Command::new("chown")
        .args(["-R", "cyrus:mail"])
        .arg(d)
        .status()
        .unwrap()
        .success());
    let cyrus = cyrus_bin("ctl_mboxlist");
    let conf = conf.to_str().unwrap();
    let u = run(&cyrus, &["-C", conf, "-u"], &our_dump);
    assert!(
        u.status.success() && u.stderr.is_empty(),
        "{}",
        text(&u.stderr)
    );
    let back = text(&run(&cyrus, &["-C", conf, "-d"], "").stdout);
    assert_eq!(no_mtime(&back), no_mtime(&our_dump));
}
