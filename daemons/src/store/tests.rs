use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use protocol::mailbox::InternalName;
use sha2::Digest;

use super::*;

fn parts(root: &Path) -> BTreeMap<String, PathBuf> {
    BTreeMap::from([
        ("default".to_string(), root.join("spool")),
        ("other".to_string(), root.join("spool2")),
    ])
}

fn open(root: &Path) -> Store {
    Store::open(&root.join("conf"), parts(root)).unwrap()
}

fn setup() -> (tempfile::TempDir, Store, MailboxId) {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = MailboxId::generate();
    store.create_mailbox(&id, "default").unwrap();
    (tmp, store, id)
}

fn msg(i: usize) -> Vec<u8> {
    format!(
        "From: a@example.com\r\nSubject: message {i}\r\n\r\n{}\r\n",
        "x".repeat(i % 50)
    )
    .into_bytes()
}

fn date(secs: i64) -> InternalDate {
    InternalDate {
        secs,
        tz_minutes: 120,
    }
}

fn flags(names: &[&str]) -> Flags {
    Flags::parse(names.iter().copied()).unwrap()
}

/// The stored counters agree with the records.
fn assert_consistent(store: &Store, id: &MailboxId) {
    let (st, recs) = store.snapshot(id).unwrap();
    assert_eq!(st.exists as usize, recs.len());
    assert_eq!(st.size, recs.iter().map(|r| r.size).sum::<u64>());
    let unseen = recs
        .iter()
        .filter(|r| !r.flags.contains(SystemFlags::SEEN))
        .count();
    assert_eq!(st.unseen as usize, unseen);
    let deleted = recs
        .iter()
        .filter(|r| r.flags.contains(SystemFlags::DELETED))
        .count();
    assert_eq!(st.deleted as usize, deleted);
    for r in &recs {
        assert!(r.uid < st.uidnext);
        assert!(r.modseq <= st.highestmodseq);
        let body = store.read_message(id, r.uid).unwrap();
        assert_eq!(Guid::of(&body), r.guid);
        assert_eq!(body.len() as u64, r.size);
    }
}

// ----- lifecycle and persistence -----

#[test]
fn uid_uidvalidity_and_highestmodseq_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let id = MailboxId::generate();
    let (uidvalidity, highest) = {
        let store = open(tmp.path());
        let st = store.create_mailbox(&id, "default").unwrap();
        assert_eq!((st.uidnext, st.highestmodseq, st.exists), (1, 1, 0));
        for i in 0..5 {
            let (uid, modseq) = store
                .append(&id, &msg(i), &flags(&["$Work"]), date(1_700_000_000))
                .unwrap();
            assert_eq!(uid as usize, i + 1);
            assert_eq!(modseq as usize, i + 2);
        }
        store.expunge(&id, &[5]).unwrap();
        let st = store.mailbox_state(&id).unwrap();
        (st.uidvalidity, st.highestmodseq)
    };
    let store = open(tmp.path());
    let st = store.mailbox_state(&id).unwrap();
    assert_eq!(st.uidvalidity, uidvalidity);
    assert_eq!(st.uidnext, 6, "an expunged UID is never reused");
    assert_eq!(st.highestmodseq, highest);
    assert_eq!(st.exists, 4);
    assert_eq!(st.keywords, vec![Keyword::new("$Work").unwrap()]);
    let (uid, modseq) = store.append(&id, b"x\r\n", &Flags::new(), date(0)).unwrap();
    assert_eq!((uid, modseq), (6, highest + 1));
    let r = store.fetch_record(&id, 2).unwrap().unwrap();
    assert_eq!(r.internaldate, date(1_700_000_000));
    assert_eq!(store.read_message(&id, 2).unwrap(), msg(1));
    assert_consistent(&store, &id);
}

#[test]
fn uidvalidity_is_clock_based_and_strictly_increasing() {
    let (_tmp, store, first) = setup();
    let now = u32::try_from(now_secs()).unwrap();
    let a = store.mailbox_state(&first).unwrap().uidvalidity;
    assert!(a >= now - 5 && a <= now + 5, "{a} vs {now}");
    let mut last = a;
    for _ in 0..5 {
        let id = MailboxId::generate();
        let v = store.create_mailbox(&id, "default").unwrap().uidvalidity;
        assert!(v > last);
        last = v;
    }
}

#[test]
fn create_refuses_duplicates_and_unknown_partitions() {
    let (_tmp, store, id) = setup();
    assert!(matches!(
        store.create_mailbox(&id, "default"),
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        store.create_mailbox(&MailboxId::generate(), "nope"),
        Err(StoreError::NoSuchPartition(_))
    ));
    let missing = MailboxId::generate();
    assert!(matches!(
        store.append(&missing, b"x", &Flags::new(), date(0)),
        Err(StoreError::NoSuchMailbox(_))
    ));
    assert!(!store.delete_mailbox(&missing).unwrap());
}

#[test]
fn mailbox_ids_are_validated_and_generated_ids_are_unique() {
    assert!(MailboxId::new("").is_err());
    assert!(MailboxId::new("../etc").is_err());
    assert!(MailboxId::new("a/b").is_err());
    assert!(MailboxId::new(&"a".repeat(65)).is_err());
    assert!(MailboxId::new("7b3c-2f_A9").is_ok());
    let ids: std::collections::HashSet<String> = (0..10_000)
        .map(|_| MailboxId::generate().as_str().to_owned())
        .collect();
    assert_eq!(ids.len(), 10_000);
    assert!(ids.iter().all(|i| i.len() == 32));
}

#[test]
fn delete_mailbox_removes_index_files_seen_and_annotations() {
    let (_tmp, store, id) = setup();
    store.append(&id, &msg(1), &Flags::new(), date(0)).unwrap();
    store.seen_add("bob", &id, &[1]).unwrap();
    store
        .set_annotation(Some(&id), "/shared/comment", None, Some(b"hi"))
        .unwrap();
    let dir = store.dir_of("default", &id).unwrap();
    assert!(dir.join("1.").exists());
    assert!(store.delete_mailbox(&id).unwrap());
    assert!(!dir.exists());
    assert!(!store.mailbox_exists(&id).unwrap());
    assert!(store.seen_all("bob").unwrap().is_empty());
    assert!(store.annotations(Some(&id), "").unwrap().is_empty());
    // A new mailbox with the same id starts empty.
    store.create_mailbox(&id, "default").unwrap();
    assert!(store.records(&id).unwrap().is_empty());
    assert!(store.seen("bob", &id).unwrap().seen.is_empty());
}

#[test]
fn set_partition_moves_files_and_keeps_records() {
    let (_tmp, store, id) = setup();
    for i in 0..3 {
        store.append(&id, &msg(i), &Flags::new(), date(0)).unwrap();
    }
    let old = store.dir_of("default", &id).unwrap();
    store.set_partition(&id, "other").unwrap();
    let new = store.dir_of("other", &id).unwrap();
    assert!(!old.exists());
    assert!(new.join("3.").exists());
    assert_eq!(store.mailbox_state(&id).unwrap().partition, "other");
    assert_eq!(store.read_message(&id, 2).unwrap(), msg(1));
    store.append(&id, &msg(9), &Flags::new(), date(0)).unwrap();
    assert!(new.join("4.").exists());
    assert_consistent(&store, &id);
    assert!(matches!(
        store.set_partition(&id, "nope"),
        Err(StoreError::NoSuchPartition(_))
    ));
}

// ----- crash safety -----

#[test]
fn files_without_records_are_ignored_then_collected() {
    let (_tmp, store, id) = setup();
    store.append(&id, &msg(1), &Flags::new(), date(0)).unwrap();
    let dir = store.dir_of("default", &id).unwrap();
    // A crash between rename and commit leaves `<uidnext>.`; one during the write a temp.
    std::fs::write(dir.join("2."), b"half-delivered junk").unwrap();
    std::fs::write(dir.join(".tmp-deadbeef"), b"partial").unwrap();
    // A crash after an expunge commit leaves the old file.
    store.append(&id, &msg(3), &Flags::new(), date(0)).unwrap();
    assert_eq!(
        store.read_message(&id, 2).unwrap(),
        msg(3),
        "replaced the junk"
    );
    store.expunge(&id, &[1]).unwrap();
    std::fs::write(dir.join("1."), msg(1)).unwrap();
    // A deleted mailbox's directory left behind.
    let gone = MailboxId::generate();
    let gone_dir = store.dir_of("default", &gone).unwrap();
    std::fs::create_dir_all(&gone_dir).unwrap();
    std::fs::write(gone_dir.join("1."), b"x").unwrap();

    let recs = store.records(&id).unwrap();
    assert_eq!(recs.iter().map(|r| r.uid).collect::<Vec<_>>(), [2]);
    assert!(matches!(
        store.read_message(&id, 1),
        Err(StoreError::NoSuchMessage { uid: 1, .. })
    ));

    // A young temp may belong to an append in another process: kept.
    let r = store.gc(Duration::from_secs(3600)).unwrap();
    assert_eq!(r.temp_files, 0);
    assert_eq!(r.orphan_files, 2);
    assert_eq!(r.mailbox_dirs, 1);
    assert!(dir.join(".tmp-deadbeef").exists());
    let r = store.gc(Duration::ZERO).unwrap();
    assert_eq!(r.temp_files, 1);
    assert!(!dir.join("1.").exists());
    assert!(dir.join("2.").exists());
    assert!(!gone_dir.exists());
    assert_consistent(&store, &id);
}

/// Re-runs this test binary as a child process running `child_process_entry`.
fn spawn_child(mode: &str, root: &Path, id: &MailboxId, extra: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::tests::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STORE_CHILD_MODE", mode)
        .env("STORE_CHILD_ROOT", root)
        .env("STORE_CHILD_MAILBOX", id.as_str())
        .env("STORE_CHILD_EXTRA", extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Not a test by itself: the body of the child processes of the multi-process tests.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var("STORE_CHILD_MODE") else {
        return;
    };
    let root = PathBuf::from(std::env::var("STORE_CHILD_ROOT").unwrap());
    let id = MailboxId::new(&std::env::var("STORE_CHILD_MAILBOX").unwrap()).unwrap();
    let extra = std::env::var("STORE_CHILD_EXTRA").unwrap();
    let store = open(&root);
    let mut out = std::io::stdout().lock();
    match mode.as_str() {
        "append_forever" => {
            for i in 0.. {
                let body = format!("Subject: crash {i}\r\n\r\n{}\r\n", "y".repeat(i % 4000));
                let (uid, _) = store
                    .append(&id, body.as_bytes(), &flags(&["\\Flagged"]), date(i as i64))
                    .unwrap();
                writeln!(out, "ACK {uid} {i}").unwrap();
                out.flush().unwrap();
            }
        }
        "append_n" => {
            for i in 0..40 {
                let body = format!("Subject: {extra} {i}\r\n\r\nbody\r\n");
                store
                    .append(&id, body.as_bytes(), &Flags::new(), date(0))
                    .unwrap();
                if i % 10 == 0 {
                    // Readers in the other processes see consistent snapshots meanwhile.
                    let (st, recs) = store.snapshot(&id).unwrap();
                    assert_eq!(st.exists as usize, recs.len());
                }
            }
            writeln!(out, "DONE").unwrap();
        }
        "batch_forever" => {
            let targets = [(id.clone(), flags(&["\\Flagged"]))];
            for n in 0usize.. {
                let bodies: Vec<String> = (0..3)
                    .map(|k| {
                        let i = n * 3 + k;
                        format!("Subject: crash {i}\r\n\r\n{}\r\n", "y".repeat(i % 4000))
                    })
                    .collect();
                let batch: Vec<Delivery<'_>> = bodies
                    .iter()
                    .enumerate()
                    .map(|(k, b)| Delivery {
                        bytes: b.as_bytes(),
                        internaldate: date((n * 3 + k) as i64),
                        targets: &targets,
                    })
                    .collect();
                for (k, r) in store.deliver_batch(&batch).into_iter().enumerate() {
                    let uid = r.unwrap()[0].0;
                    writeln!(out, "ACK {uid} {}", n * 3 + k).unwrap();
                }
                out.flush().unwrap();
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn kill_9_keeps_every_acknowledged_append() {
    kill_9_keeps_every_acknowledged("append_forever");
}

#[test]
fn kill_9_keeps_every_acknowledged_batch_delivery() {
    kill_9_keeps_every_acknowledged("batch_forever");
}

/// A child appends (or batch-delivers) until SIGKILLed; every acknowledged message survives.
fn kill_9_keeps_every_acknowledged(mode: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let id = MailboxId::generate();
    open(tmp.path()).create_mailbox(&id, "default").unwrap();
    let mut child = spawn_child(mode, tmp.path(), &id, "");
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while acked.len() < 40 {
        let line = lines.next().unwrap().unwrap();
        if let Some(rest) = line.strip_prefix("ACK ") {
            let (uid, i) = rest.split_once(' ').unwrap();
            acked.push((uid.parse::<u32>().unwrap(), i.parse::<usize>().unwrap()));
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let store = open(tmp.path());
    let st = store.mailbox_state(&id).unwrap();
    assert!(st.exists as usize >= acked.len());
    for (uid, i) in &acked {
        let want = format!("Subject: crash {i}\r\n\r\n{}\r\n", "y".repeat(i % 4000));
        assert_eq!(store.read_message(&id, *uid).unwrap(), want.as_bytes());
        let r = store.fetch_record(&id, *uid).unwrap().unwrap();
        assert!(r.flags.contains(SystemFlags::FLAGGED));
    }
    assert_consistent(&store, &id);
    // The store keeps working after the crash; leftovers are collectable.
    let (uid, _) = store
        .append(&id, b"after\r\n", &Flags::new(), date(0))
        .unwrap();
    assert_eq!(uid, st.uidnext);
    store.gc(Duration::ZERO).unwrap();
    assert_consistent(&store, &id);
}

#[test]
fn two_processes_and_this_one_append_concurrently_without_clashes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = MailboxId::generate();
    store.create_mailbox(&id, "default").unwrap();
    let children: Vec<_> = ["alpha", "beta"]
        .iter()
        .map(|tag| spawn_child("append_n", tmp.path(), &id, tag))
        .collect();
    for i in 0..40 {
        let body = format!("Subject: local {i}\r\n\r\nbody\r\n");
        store
            .append(&id, body.as_bytes(), &Flags::new(), date(0))
            .unwrap();
    }
    for mut c in children {
        let mut s = String::new();
        std::io::Read::read_to_string(c.stdout.as_mut().unwrap(), &mut s).unwrap();
        assert!(c.wait().unwrap().success());
        assert!(s.contains("DONE"), "{s}");
    }
    let (st, recs) = store.snapshot(&id).unwrap();
    assert_eq!(recs.len(), 120);
    assert_eq!(st.uidnext, 121);
    assert_eq!(
        recs.iter().map(|r| r.uid).collect::<Vec<_>>(),
        (1..=120).collect::<Vec<_>>()
    );
    let mut bodies: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| store.read_message(&id, r.uid).unwrap())
        .collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 120);
    assert_eq!(st.highestmodseq, 121);
    assert_consistent(&store, &id);
}

#[test]
fn two_handles_in_one_process_share_one_environment() {
    let (tmp, a, id) = setup();
    let b = open(tmp.path());
    a.append(&id, b"one\r\n", &Flags::new(), date(0)).unwrap();
    assert_eq!(b.mailbox_state(&id).unwrap().exists, 1);
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|s| {
            let id = id.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    s.append(&id, &msg(i), &Flags::new(), date(0)).unwrap();
                    s.store_flags(&id, &[1], FlagMode::Add, &flags(&["\\Seen"]), None)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(a.mailbox_state(&id).unwrap().exists, 51);
    assert_eq!(b.records(&id).unwrap().len(), 51);
    assert_consistent(&b, &id);
}

// ----- messages -----

#[test]
fn batch_append_is_one_transaction_with_one_modseq() {
    let (_tmp, store, id) = setup();
    let bodies: Vec<Vec<u8>> = (0..3).map(msg).collect();
    let batch: Vec<NewMessage<'_>> = bodies
        .iter()
        .map(|b| NewMessage {
            bytes: b,
            flags: flags(&["\\Draft"]),
            internaldate: date(5),
        })
        .collect();
    let out = store.append_batch(&id, &batch).unwrap();
    assert_eq!(out, vec![(1, 2), (2, 2), (3, 2)]);
    let too_big = StoreOptions {
        max_message_size: 10,
        ..StoreOptions::default()
    };
    let tmp2 = tempfile::tempdir().unwrap();
    let small = Store::open_with(&tmp2.path().join("c"), parts(tmp2.path()), too_big).unwrap();
    small.create_mailbox(&id, "default").unwrap();
    assert!(matches!(
        small.append(&id, &[b'x'; 11], &Flags::new(), date(0)),
        Err(StoreError::TooLarge { .. })
    ));
    assert_consistent(&store, &id);
}

#[test]
fn read_range_serves_partial_bodies() {
    let (_tmp, store, id) = setup();
    store
        .append(&id, b"0123456789", &Flags::new(), date(0))
        .unwrap();
    assert_eq!(store.read_range(&id, 1, 2, 3).unwrap(), b"234");
    assert_eq!(store.read_range(&id, 1, 8, 100).unwrap(), b"89");
    assert_eq!(store.read_range(&id, 1, 50, 3).unwrap(), b"");
    let (mut f, r) = store.open_message(&id, 1).unwrap();
    store.expunge(&id, &[1]).unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut f, &mut s).unwrap();
    assert_eq!((s.as_str(), r.size), ("0123456789", 10));
    assert!(matches!(
        store.read_range(&id, 1, 0, 1),
        Err(StoreError::NoSuchMessage { .. })
    ));
}

#[test]
fn store_flags_add_remove_replace_with_modseqs() {
    let (_tmp, store, id) = setup();
    for i in 0..4 {
        store.append(&id, &msg(i), &Flags::new(), date(0)).unwrap();
    }
    let h0 = store.mailbox_state(&id).unwrap().highestmodseq;
    let up = store
        .store_flags(
            &id,
            &[1, 2, 99],
            FlagMode::Add,
            &flags(&["\\Seen", "$A"]),
            None,
        )
        .unwrap();
    assert_eq!(up.changed.iter().map(|r| r.uid).collect::<Vec<_>>(), [1, 2]);
    assert!(up.changed.iter().all(|r| r.modseq == h0 + 1));
    // No change, no new modseq.
    let up = store
        .store_flags(&id, &[1], FlagMode::Add, &flags(&["\\Seen"]), None)
        .unwrap();
    assert!(up.changed.is_empty());
    assert_eq!(store.mailbox_state(&id).unwrap().highestmodseq, h0 + 1);
    let up = store
        .store_flags(&id, &[2], FlagMode::Remove, &flags(&["$a"]), None)
        .unwrap();
    assert_eq!(up.changed[0].flags, flags(&["\\Seen"]));
    let up = store
        .store_flags(
            &id,
            &[1, 3],
            FlagMode::Replace,
            &flags(&["\\Deleted", "\\Answered"]),
            None,
        )
        .unwrap();
    assert_eq!(up.changed.len(), 2);
    assert_eq!(up.changed[0].flags.names(), ["\\Answered", "\\Deleted"]);
    // UNCHANGEDSINCE: 1 and 3 changed (at h0+3) after h0+2.
    let up = store
        .store_flags(
            &id,
            &[1, 2, 3, 4],
            FlagMode::Add,
            &flags(&["\\Flagged"]),
            Some(h0 + 2),
        )
        .unwrap();
    assert_eq!(up.modified, [1, 3]);
    assert_eq!(up.changed.iter().map(|r| r.uid).collect::<Vec<_>>(), [2, 4]);
    let st = store.mailbox_state(&id).unwrap();
    assert_eq!(store.changed_since(&id, h0 + 2).unwrap().len(), 4);
    assert_eq!(st.highestmodseq, h0 + 4);
    assert!(matches!(
        Flags::parse(["\\Recent"]),
        Err(StoreError::BadFlag(_))
    ));
    assert!(matches!(
        Flags::parse(["bad flag"]),
        Err(StoreError::BadFlag(_))
    ));
    assert_consistent(&store, &id);
}

#[test]
fn keywords_are_per_mailbox_case_insensitive_and_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        max_keywords: 2,
        ..StoreOptions::default()
    };
    let store = Store::open_with(&tmp.path().join("c"), parts(tmp.path()), opts).unwrap();
    let id = MailboxId::generate();
    store.create_mailbox(&id, "default").unwrap();
    store
        .append(&id, b"a", &flags(&["$Junk"]), date(0))
        .unwrap();
    store
        .append(&id, b"b", &flags(&["$JUNK", "Work"]), date(0))
        .unwrap();
    let st = store.mailbox_state(&id).unwrap();
    let names: Vec<&str> = st.keywords.iter().map(Keyword::as_str).collect();
    assert_eq!(names, ["$Junk", "Work"]);
    assert_eq!(
        store.fetch_record(&id, 2).unwrap().unwrap().flags.names(),
        ["$Junk", "Work"]
    );
    assert!(matches!(
        store.store_flags(&id, &[1], FlagMode::Add, &flags(&["Third"]), None),
        Err(StoreError::TooManyKeywords(_))
    ));
    let other = MailboxId::generate();
    store.create_mailbox(&other, "default").unwrap();
    assert!(store.mailbox_state(&other).unwrap().keywords.is_empty());
}

#[test]
fn expunge_and_expunge_deleted_report_uids_and_vanished() {
    let (_tmp, store, id) = setup();
    for i in 0..6 {
        store.append(&id, &msg(i), &Flags::new(), date(0)).unwrap();
    }
    store
        .store_flags(&id, &[2, 4, 6], FlagMode::Add, &flags(&["\\Deleted"]), None)
        .unwrap();
    let before = store.mailbox_state(&id).unwrap().highestmodseq;
    assert_eq!(
        store.expunge_deleted(&id, Some(&[4, 5, 6])).unwrap(),
        [4, 6]
    );
    assert_eq!(store.expunge_deleted(&id, None).unwrap(), [2]);
    assert_eq!(store.expunge(&id, &[1, 1, 42]).unwrap(), [1]);
    assert!(store.expunge(&id, &[42]).unwrap().is_empty());
    let st = store.mailbox_state(&id).unwrap();
    assert_eq!(st.exists, 2);
    assert_eq!(st.highestmodseq, before + 3);
    assert_eq!(store.vanished_since(&id, before).unwrap(), [1, 2, 4, 6]);
    assert_eq!(store.vanished_since(&id, before + 2).unwrap(), [1]);
    let dir = store.dir_of("default", &id).unwrap();
    assert!(!dir.join("4.").exists());
    assert!(dir.join("3.").exists());
    assert_consistent(&store, &id);
}

#[test]
fn copy_keeps_flags_and_dates_and_links_files() {
    let (_tmp, store, src) = setup();
    let dst = MailboxId::generate();
    store.create_mailbox(&dst, "default").unwrap();
    store
        .append(&dst, b"already there", &Flags::new(), date(0))
        .unwrap();
    for i in 0..3 {
        store
            .append(
                &src,
                &msg(i),
                &flags(&["\\Flagged", "$Tag"]),
                date(100 + i as i64),
            )
            .unwrap();
    }
    let map = store.copy(&src, &dst, &[3, 1, 7]).unwrap();
    assert_eq!(map, [(1, 2), (3, 3)]);
    let r = store.fetch_record(&dst, 3).unwrap().unwrap();
    assert_eq!(r.flags, flags(&["\\Flagged", "$Tag"]));
    assert_eq!(r.internaldate, date(102));
    assert_eq!(r.guid, store.fetch_record(&src, 3).unwrap().unwrap().guid);
    assert_eq!(store.read_message(&dst, 3).unwrap(), msg(2));
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let f = store.dir_of("default", &dst).unwrap().join("3.");
        assert_eq!(std::fs::metadata(f).unwrap().nlink(), 2, "hard link");
    }
    // Cross partition: a copy.
    let far = MailboxId::generate();
    store.create_mailbox(&far, "other").unwrap();
    assert_eq!(store.copy(&src, &far, &[2]).unwrap(), [(2, 1)]);
    assert_eq!(store.read_message(&far, 1).unwrap(), msg(1));
    // Source expunge leaves the copy intact.
    store.expunge(&src, &[1, 2, 3]).unwrap();
    assert_eq!(store.read_message(&dst, 2).unwrap(), msg(0));
    for id in [&src, &dst, &far] {
        assert_consistent(&store, id);
    }
}

#[test]
fn move_copies_then_expunges_in_one_step() {
    let (_tmp, store, src) = setup();
    let dst = MailboxId::generate();
    store.create_mailbox(&dst, "default").unwrap();
    for i in 0..3 {
        store.append(&src, &msg(i), &Flags::new(), date(0)).unwrap();
    }
    assert_eq!(
        store.move_messages(&src, &dst, &[2, 3]).unwrap(),
        [(2, 1), (3, 2)]
    );
    assert_eq!(store.records(&src).unwrap().len(), 1);
    assert_eq!(store.read_message(&dst, 2).unwrap(), msg(2));
    // MOVE within one mailbox gives new UIDs.
    assert_eq!(store.move_messages(&dst, &dst, &[1]).unwrap(), [(1, 3)]);
    assert_eq!(
        store
            .records(&dst)
            .unwrap()
            .iter()
            .map(|r| r.uid)
            .collect::<Vec<_>>(),
        [2, 3]
    );
    assert_consistent(&store, &src);
    assert_consistent(&store, &dst);
}

// ----- quota -----

#[test]
fn quota_usage_follows_every_change() {
    let (_tmp, store, id) = setup();
    let other = MailboxId::generate();
    store.create_mailbox(&other, "default").unwrap();
    store
        .append(&id, &[b'a'; 1000], &Flags::new(), date(0))
        .unwrap();
    let q = store
        .set_quota(
            "user.bob",
            QuotaLimits {
                storage_kib: Some(3),
                messages: Some(4),
                ..QuotaLimits::default()
            },
        )
        .unwrap();
    assert_eq!(q.usage, QuotaUsage::default(), "no mailbox charged yet");
    store.set_mailbox_quota_root(&id, Some("user.bob")).unwrap();
    store
        .set_mailbox_quota_root(&other, Some("user.bob"))
        .unwrap();
    let u = store.quota("user.bob").unwrap().unwrap().usage;
    assert_eq!((u.storage_bytes, u.messages, u.mailboxes), (1000, 1, 2));

    store
        .append(&id, &[b'b'; 1500], &Flags::new(), date(0))
        .unwrap();
    assert_eq!(store.would_exceed("user.bob", 572, 1).unwrap(), None);
    assert_eq!(
        store.would_exceed("user.bob", 573, 1).unwrap(),
        Some(QuotaResource::Storage)
    );
    assert_eq!(store.would_exceed_mailbox(&other, 0, 0).unwrap(), None);
    store.copy(&id, &other, &[1, 2]).unwrap();
    let u = store.quota("user.bob").unwrap().unwrap().usage;
    assert_eq!((u.storage_bytes, u.messages), (5000, 4));
    assert_eq!(u.storage_kib(), 4);
    assert_eq!(
        store.would_exceed("user.bob", 0, 1).unwrap(),
        Some(QuotaResource::Message)
    );
    assert_eq!(
        store.would_exceed("user.bob", 0, 0).unwrap(),
        None,
        "shrinking is fine"
    );
    store.expunge(&other, &[1]).unwrap();
    store
        .set_annotation(Some(&id), "/shared/comment", None, Some(&[b'c'; 100]))
        .unwrap();
    let u = store.quota("user.bob").unwrap().unwrap().usage;
    assert_eq!(
        (u.storage_bytes, u.messages, u.annotation_bytes),
        (4000, 3, 100)
    );
    store.delete_mailbox(&id).unwrap();
    let u = store.quota("user.bob").unwrap().unwrap().usage;
    assert_eq!(
        (u.storage_bytes, u.messages, u.mailboxes, u.annotation_bytes),
        (1500, 1, 1, 0)
    );
    store.set_mailbox_quota_root(&other, None).unwrap();
    assert_eq!(
        store.quota("user.bob").unwrap().unwrap().usage,
        QuotaUsage::default()
    );
    // Re-creating the root counts the mailboxes already charged to it.
    store
        .set_mailbox_quota_root(&other, Some("user.bob"))
        .unwrap();
    assert!(store.remove_quota("user.bob").unwrap());
    assert_eq!(store.mailbox_state(&other).unwrap().quota_root, None);
    assert!(store.quota("user.bob").unwrap().is_none());
    assert_eq!(store.would_exceed("user.bob", u64::MAX, 1).unwrap(), None);
    assert_eq!(store.quota_roots().unwrap().len(), 0);
}

// ----- seen, recent, subscriptions -----

#[test]
fn seen_is_per_user_and_recent_goes_to_the_first_session() {
    let (_tmp, store, id) = setup();
    for i in 0..5 {
        store.append(&id, &msg(i), &Flags::new(), date(0)).unwrap();
    }
    store.seen_add("anne", &id, &[1, 2, 3, 5]).unwrap();
    store.seen_remove("anne", &id, &[2]).unwrap();
    assert_eq!(store.seen("anne", &id).unwrap().seen.to_imap(), "1,3,5");
    assert!(store.seen("carl", &id).unwrap().seen.is_empty());
    assert_eq!(store.unseen_count(&id, Some("anne")).unwrap(), 2);
    assert_eq!(store.first_unseen(&id, Some("anne")).unwrap(), Some(2));
    // The owner's \Seen is in the index.
    store
        .store_flags(&id, &[1], FlagMode::Add, &flags(&["\\Seen"]), None)
        .unwrap();
    assert_eq!(store.unseen_count(&id, None).unwrap(), 4);
    assert_eq!(store.first_unseen(&id, None).unwrap(), Some(2));

    assert_eq!(store.take_recent("anne", &id).unwrap(), [1, 2, 3, 4, 5]);
    assert!(store.take_recent("anne", &id).unwrap().is_empty());
    store.append(&id, &msg(9), &Flags::new(), date(0)).unwrap();
    assert_eq!(store.take_recent("anne", &id).unwrap(), [6]);
    assert_eq!(store.take_recent("carl", &id).unwrap().len(), 6);
    store.set_seen("anne", &id, UidSet::from_uids([6])).unwrap();
    assert_eq!(store.seen_all("anne").unwrap().len(), 1);
}

#[test]
fn uid_sets_merge_split_and_print() {
    let mut s = UidSet::new();
    for u in [5, 1, 2, 3, 9, 4] {
        s.insert(u);
    }
    assert_eq!(s.to_imap(), "1:5,9");
    s.remove(3);
    assert_eq!(s.to_imap(), "1:2,4:5,9");
    s.insert_range(3, 8);
    assert_eq!(s.ranges(), &[(1, 9)]);
    s.insert(u32::MAX);
    s.remove(1);
    assert_eq!(s.to_imap(), format!("2:9,{}", u32::MAX));
    assert!(s.contains(u32::MAX) && !s.contains(1));
    assert_eq!(s.iter().take(3).collect::<Vec<_>>(), [2, 3, 4]);
}

#[test]
fn subscriptions_list_and_follow_renames() {
    let (_tmp, store, _) = setup();
    let n = |s: &str| InternalName::new(s).unwrap();
    for m in [
        "user.bob",
        "user.bob.Sent",
        "user.bob.Sent.2024",
        "user.bob.Sentinel",
        "shared.x",
    ] {
        store.subscribe("bob", &n(m)).unwrap();
    }
    assert!(store.unsubscribe("bob", &n("shared.x")).unwrap());
    assert!(!store.unsubscribe("bob", &n("shared.x")).unwrap());
    assert_eq!(
        store
            .rename_subscriptions("bob", &n("user.bob.Sent"), &n("user.bob.Archive.Sent"))
            .unwrap(),
        2
    );
    let subs: Vec<String> = store
        .subscriptions("bob")
        .unwrap()
        .into_iter()
        .map(|n| n.as_str().to_owned())
        .collect();
    assert_eq!(
        subs,
        [
            "user.bob",
            "user.bob.Archive.Sent",
            "user.bob.Archive.Sent.2024",
            "user.bob.Sentinel"
        ]
    );
    assert!(store.subscriptions("alice").unwrap().is_empty());
    assert!(store.subscribe("", &n("x")).is_err());
}

// ----- annotations -----

#[test]
fn annotations_shared_private_server_and_mailbox() {
    let (_tmp, store, id) = setup();
    store
        .set_annotation(None, "/shared/motd", None, Some(b"hello"))
        .unwrap();
    store
        .set_annotation(None, "/private/vendor/x", Some("bob"), Some(b"b"))
        .unwrap();
    store
        .set_annotation(Some(&id), "/shared/comment", None, Some(b"shared"))
        .unwrap();
    store
        .set_annotation(Some(&id), "/private/comment", Some("bob"), Some(b"mine"))
        .unwrap();
    store
        .set_annotation(Some(&id), "/private/comment", Some("ann"), Some(b"hers"))
        .unwrap();
    store
        .set_annotation(Some(&id), "/shared/vendor/cmu/x", None, Some(b"v"))
        .unwrap();
    assert_eq!(
        store
            .annotation(Some(&id), "/private/comment", Some("bob"))
            .unwrap(),
        Some(b"mine".to_vec())
    );
    assert_eq!(
        store.annotation(None, "/shared/comment", None).unwrap(),
        None
    );
    let all = store.annotations(Some(&id), "").unwrap();
    assert_eq!(all.len(), 4);
    let shared = store.annotations(Some(&id), "/shared/").unwrap();
    assert_eq!(
        shared.iter().map(|a| a.entry.as_str()).collect::<Vec<_>>(),
        ["/shared/comment", "/shared/vendor/cmu/x"]
    );
    let private = store.annotations(Some(&id), "/private/comment").unwrap();
    assert_eq!(
        private
            .iter()
            .map(|a| a.user.as_deref())
            .collect::<Vec<_>>(),
        [Some("ann"), Some("bob")]
    );
    let server = store.annotations(None, "").unwrap();
    assert_eq!(server.len(), 2);
    store
        .set_annotation(Some(&id), "/shared/comment", None, None)
        .unwrap();
    assert_eq!(store.annotations(Some(&id), "/shared/").unwrap().len(), 1);
    for (entry, user) in [
        ("/shared/", None),
        ("/other/x", None),
        ("/shared/x", Some("bob")),
        ("/private/x", None),
        ("/shared/a//b", None),
        ("/shared/a*", None),
    ] {
        assert!(
            matches!(
                store.set_annotation(None, entry, user, Some(b"x")),
                Err(StoreError::BadName { .. })
            ),
            "{entry}"
        );
    }
}

// ----- sieve -----

#[test]
fn sieve_scripts_with_one_active() {
    let (_tmp, store, _) = setup();
    store
        .put_sieve("bob", "vacation", b"require \"vacation\";")
        .unwrap();
    store.put_sieve("bob", "spam", b"keep;").unwrap();
    assert!(store.active_sieve("bob").unwrap().is_none());
    assert!(matches!(
        store.set_active_sieve("bob", Some("nope")),
        Err(StoreError::NoSuchScript(_))
    ));
    store.set_active_sieve("bob", Some("spam")).unwrap();
    assert_eq!(
        store.sieve_scripts("bob").unwrap(),
        [("spam".to_string(), true), ("vacation".to_string(), false)]
    );
    assert!(matches!(
        store.delete_sieve("bob", "spam"),
        Err(StoreError::SieveActive(_))
    ));
    assert!(matches!(
        store.rename_sieve("bob", "spam", "vacation"),
        Err(StoreError::ScriptExists(_))
    ));
    store.rename_sieve("bob", "spam", "filters").unwrap();
    assert_eq!(
        store.active_sieve_script("bob").unwrap(),
        Some(("filters".to_string(), b"keep;".to_vec()))
    );
    store.set_active_sieve("bob", None).unwrap();
    store.delete_sieve("bob", "filters").unwrap();
    assert!(matches!(
        store.delete_sieve("bob", "filters"),
        Err(StoreError::NoSuchScript(_))
    ));
    assert_eq!(store.sieve_scripts("bob").unwrap().len(), 1);
    assert!(store.sieve_scripts("alice").unwrap().is_empty());
    assert!(store.put_sieve("bob", "bad\nname", b"").is_err());
}

// ----- XFER -----

fn hashes(store: &Store, id: &MailboxId) -> Vec<(u32, String, Flags, u64)> {
    store
        .records(id)
        .unwrap()
        .into_iter()
        .map(|r| {
            let body = store.read_message(id, r.uid).unwrap();
            let h = sha2::Sha256::digest(&body);
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            (r.uid, hex, r.flags, r.modseq)
        })
        .collect()
}

/// A user with two mailboxes, flags, seen, subscriptions, quota, sieve and annotations.
fn populate(store: &Store) -> (MailboxId, MailboxId) {
    let inbox = MailboxId::generate();
    let sent = MailboxId::generate();
    store.create_mailbox(&inbox, "default").unwrap();
    store.create_mailbox(&sent, "other").unwrap();
    store
        .set_quota(
            "user.bob",
            QuotaLimits {
                storage_kib: Some(1000),
                messages: None,
                mailboxes: Some(10),
                annotation_kib: None,
            },
        )
        .unwrap();
    store
        .set_mailbox_quota_root(&inbox, Some("user.bob"))
        .unwrap();
    store
        .set_mailbox_quota_root(&sent, Some("user.bob"))
        .unwrap();
    for i in 0..20 {
        let big = if i == 7 { vec![b'z'; 300_000] } else { msg(i) };
        store
            .append(&inbox, &big, &flags(&["$Label1"]), date(i as i64))
            .unwrap();
    }
    store.copy(&inbox, &sent, &[3, 4, 5]).unwrap();
    store.expunge(&inbox, &[2]).unwrap();
    store
        .store_flags(
            &inbox,
            &[1, 5],
            FlagMode::Add,
            &flags(&["\\Seen", "\\Answered"]),
            None,
        )
        .unwrap();
    store.seen_add("bob", &sent, &[1, 2]).unwrap();
    store.take_recent("bob", &sent).unwrap();
    let n = |s: &str| InternalName::new(s).unwrap();
    store.subscribe("bob", &n("user.bob")).unwrap();
    store.subscribe("bob", &n("user.bob.Sent")).unwrap();
    store.put_sieve("bob", "main", b"keep;").unwrap();
    store.put_sieve("bob", "old", b"discard;").unwrap();
    store.set_active_sieve("bob", Some("main")).unwrap();
    store
        .set_annotation(Some(&inbox), "/shared/comment", None, Some(b"Bob's inbox"))
        .unwrap();
    store
        .set_annotation(Some(&sent), "/private/color", Some("bob"), Some(b"blue"))
        .unwrap();
    store
        .set_annotation(None, "/private/vendor/cmu/x", Some("bob"), Some(b"1"))
        .unwrap();
    (inbox, sent)
}

fn export_bob(store: &Store, inbox: &MailboxId, sent: &MailboxId) -> Vec<u8> {
    let mut buf = Vec::new();
    let sum = store
        .export_user(
            "bob",
            &[inbox.clone(), sent.clone()],
            &["user.bob"],
            &mut buf,
        )
        .unwrap();
    assert_eq!(sum.mailboxes, 2);
    assert_eq!(sum.messages, 22);
    assert_eq!(sum.bytes, buf.len() as u64);
    buf
}

#[test]
fn export_then_import_moves_a_user_exactly() {
    let src_dir = tempfile::tempdir().unwrap();
    let dst_dir = tempfile::tempdir().unwrap();
    let src = open(src_dir.path());
    let dst = open(dst_dir.path());
    let (inbox, sent) = populate(&src);
    let stream = export_bob(&src, &inbox, &sent);

    let sum = dst.import(&mut stream.as_slice(), Some("other")).unwrap();
    assert_eq!(sum.user.as_deref(), Some("bob"));
    assert_eq!(sum.mailboxes, [inbox.clone(), sent.clone()]);
    assert_eq!(sum.messages, 22);

    for id in [&inbox, &sent] {
        assert_eq!(hashes(&src, id), hashes(&dst, id));
        let (a, b) = (
            src.mailbox_state(id).unwrap(),
            dst.mailbox_state(id).unwrap(),
        );
        assert_eq!(b.partition, "other");
        assert_eq!(
            (
                a.uidvalidity,
                a.uidnext,
                a.highestmodseq,
                a.exists,
                a.unseen,
                a.size
            ),
            (
                b.uidvalidity,
                b.uidnext,
                b.highestmodseq,
                b.exists,
                b.unseen,
                b.size
            )
        );
        assert_eq!(a.keywords, b.keywords);
        assert_eq!(
            src.annotations(Some(id), "").unwrap(),
            dst.annotations(Some(id), "").unwrap()
        );
        assert_eq!(
            src.vanished_since(id, 0).unwrap(),
            dst.vanished_since(id, 0).unwrap()
        );
        assert_consistent(&dst, id);
    }
    assert_eq!(src.seen_all("bob").unwrap(), dst.seen_all("bob").unwrap());
    assert_eq!(
        src.subscriptions("bob").unwrap(),
        dst.subscriptions("bob").unwrap()
    );
    assert_eq!(
        src.sieve_scripts("bob").unwrap(),
        dst.sieve_scripts("bob").unwrap()
    );
    assert_eq!(
        dst.sieve_script("bob", "old").unwrap(),
        Some(b"discard;".to_vec())
    );
    assert_eq!(
        src.quota("user.bob").unwrap(),
        dst.quota("user.bob").unwrap()
    );
    assert_eq!(
        dst.annotation(None, "/private/vendor/cmu/x", Some("bob"))
            .unwrap(),
        Some(b"1".to_vec())
    );

    // Twice is the same as once.
    dst.import(&mut stream.as_slice(), Some("other")).unwrap();
    for id in [&inbox, &sent] {
        assert_eq!(hashes(&src, id), hashes(&dst, id));
        assert_consistent(&dst, id);
    }
    assert_eq!(
        src.quota("user.bob").unwrap(),
        dst.quota("user.bob").unwrap()
    );
    assert_eq!(dst.subscriptions("bob").unwrap().len(), 2);
    assert_eq!(dst.gc(Duration::ZERO).unwrap(), GcReport::default());

    // The source then deletes its copy; the destination is unaffected.
    src.delete_mailbox(&inbox).unwrap();
    src.delete_user_data("bob", true).unwrap();
    assert!(src.subscriptions("bob").unwrap().is_empty());
    assert_eq!(
        src.seen_all("bob").unwrap().len(),
        1,
        "seen kept, as Cyrus does"
    );
    assert_eq!(dst.records(&inbox).unwrap().len(), 19);
}

#[test]
fn a_damaged_or_truncated_stream_changes_nothing() {
    let src_dir = tempfile::tempdir().unwrap();
    let dst_dir = tempfile::tempdir().unwrap();
    let src = open(src_dir.path());
    let dst = open(dst_dir.path());
    let (inbox, sent) = populate(&src);
    let stream = export_bob(&src, &inbox, &sent);
    let step = (stream.len() / 37).max(1);
    for cut in (0..stream.len()).step_by(step) {
        let r = dst.import(&mut &stream[..cut], None);
        assert!(
            matches!(r, Err(StoreError::BadStream(_))),
            "cut at {cut}: {r:?}"
        );
    }
    for pos in (0..stream.len()).step_by(step) {
        let mut bad = stream.clone();
        bad[pos] ^= 0x5a;
        assert!(
            dst.import(&mut bad.as_slice(), None).is_err(),
            "flip at {pos}"
        );
    }
    assert!(dst.mailbox_ids().unwrap().is_empty());
    assert!(dst.subscriptions("bob").unwrap().is_empty());
    assert!(dst.quota("user.bob").unwrap().is_none());
    // No temporary files were left behind.
    assert_eq!(dst.gc(Duration::ZERO).unwrap().temp_files, 0);
    // And an intact stream still imports.
    dst.import(&mut stream.as_slice(), None).unwrap();
    assert_eq!(hashes(&src, &sent), hashes(&dst, &sent));
}

#[test]
fn import_replaces_a_stale_copy_of_the_same_mailbox() {
    let src_dir = tempfile::tempdir().unwrap();
    let dst_dir = tempfile::tempdir().unwrap();
    let src = open(src_dir.path());
    let dst = open(dst_dir.path());
    let (inbox, sent) = populate(&src);
    // The destination holds an older, different copy of the inbox.
    dst.create_mailbox(&inbox, "default").unwrap();
    dst.append(&inbox, b"stale\r\n", &Flags::new(), date(0))
        .unwrap();
    let stream = export_bob(&src, &inbox, &sent);
    dst.import(&mut stream.as_slice(), None).unwrap();
    assert_eq!(hashes(&src, &inbox), hashes(&dst, &inbox));
    assert_consistent(&dst, &inbox);
}

// ----- robustness -----

#[test]
fn decoders_never_panic_on_garbage() {
    for len in 0..80usize {
        let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let _ = Record::decode(&junk);
        let _ = mailbox::Meta::decode(&junk);
        let _ = SeenState::decode(&junk);
        let _ = Quota::decode("r".into(), &junk);
        let r = Record {
            uid: 7,
            modseq: 9,
            flags: flags(&["\\Seen", "$x"]),
            internaldate: date(-5),
            size: 3,
            guid: Guid::of(b"abc"),
            savedate: 1,
        };
        let mut enc = r.encode();
        assert_eq!(Record::decode(&enc), Some(r));
        enc.truncate(len.min(enc.len()));
        let _ = Record::decode(&enc);
    }
    assert_eq!(
        Guid::of(b"abc").to_hex(),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
}

#[test]
fn deliver_writes_once_and_links_into_every_target() {
    let (_tmp, store, a) = setup();
    let b = MailboxId::generate();
    let c = MailboxId::generate();
    store.create_mailbox(&b, "default").unwrap();
    store.create_mailbox(&c, "other").unwrap();
    store.append(&b, b"first", &Flags::new(), date(0)).unwrap();
    store.set_quota("q", QuotaLimits::default()).unwrap();
    store.set_mailbox_quota_root(&a, Some("q")).unwrap();
    store.set_mailbox_quota_root(&b, Some("q")).unwrap();
    let body = msg(7);
    let out = store
        .deliver(
            &body,
            date(9),
            &[
                (a.clone(), Flags::new()),
                (b.clone(), flags(&["\\Seen"])),
                (c.clone(), flags(&["$Junk"])),
            ],
        )
        .unwrap();
    assert_eq!(out, [(1, 2), (2, 3), (1, 2)]);
    for (id, uid) in [(&a, 1), (&b, 2), (&c, 1)] {
        assert_eq!(store.read_message(id, uid).unwrap(), body);
        assert_consistent(&store, id);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let f = store.dir_of("default", &a).unwrap().join("1.");
        assert_eq!(
            std::fs::metadata(f).unwrap().nlink(),
            3,
            "one file for all three (one filesystem)"
        );
    }
    let u = store.quota("q").unwrap().unwrap().usage;
    assert_eq!(u.messages, 3);
    let missing = MailboxId::generate();
    assert!(store
        .deliver(
            &body,
            date(0),
            &[(a.clone(), Flags::new()), (missing, Flags::new())]
        )
        .is_err());
    assert_eq!(store.records(&a).unwrap().len(), 1, "all or nothing");
    assert_eq!(store.gc(Duration::ZERO).unwrap().temp_files, 0);
}

#[test]
fn deliver_batch_results_are_independent_and_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let a = MailboxId::generate();
    let b = MailboxId::generate();
    store.create_mailbox(&a, "default").unwrap();
    store.create_mailbox(&b, "other").unwrap();
    store.set_quota("q", QuotaLimits::default()).unwrap();
    store.set_mailbox_quota_root(&a, Some("q")).unwrap();
    store.set_mailbox_quota_root(&b, Some("q")).unwrap();
    let missing = MailboxId::generate();
    let both = [(a.clone(), Flags::new()), (b.clone(), flags(&["\\Seen"]))];
    let bad = [(a.clone(), Flags::new()), (missing.clone(), Flags::new())];
    let only_b = [(b.clone(), flags(&["$Junk"]))];
    let bodies: Vec<Vec<u8>> = (0..5).map(msg).collect();
    let batch = [
        Delivery {
            bytes: &bodies[0],
            internaldate: date(1),
            targets: &both,
        },
        Delivery {
            bytes: &bodies[1],
            internaldate: date(2),
            targets: &bad,
        },
        Delivery {
            bytes: &bodies[2],
            internaldate: date(3),
            targets: &[],
        },
        Delivery {
            bytes: &bodies[3],
            internaldate: date(4),
            targets: &only_b,
        },
        Delivery {
            bytes: &bodies[4],
            internaldate: date(5),
            targets: &both,
        },
    ];
    let out = store.deliver_batch(&batch);
    assert_eq!(out.len(), 5);
    assert_eq!(*out[0].as_ref().unwrap(), [(1, 2), (1, 2)]);
    assert!(matches!(out[1], Err(StoreError::NoSuchMailbox(ref m)) if *m == missing));
    assert!(out[2].as_ref().unwrap().is_empty());
    assert_eq!(*out[3].as_ref().unwrap(), [(2, 3)]);
    assert_eq!(
        *out[4].as_ref().unwrap(),
        [(2, 3), (3, 4)],
        "the failed delivery used no UID"
    );
    drop(store);

    let store = open(tmp.path());
    let want_a = [(1, 0), (2, 4)];
    let want_b = [(1, 0), (2, 3), (3, 4)];
    for (id, want) in [(&a, &want_a[..]), (&b, &want_b[..])] {
        let recs = store.records(id).unwrap();
        assert_eq!(recs.len(), want.len());
        for (r, (uid, i)) in recs.iter().zip(want) {
            assert_eq!(r.uid, *uid);
            assert_eq!(r.internaldate, date(*i as i64 + 1));
            assert_eq!(store.read_message(id, *uid).unwrap(), bodies[*i]);
        }
        assert_consistent(&store, id);
    }
    let r = store.fetch_record(&b, 2).unwrap().unwrap();
    assert_eq!(r.flags.names(), ["$Junk"]);
    let u = store.quota("q").unwrap().unwrap().usage;
    assert_eq!(u.messages, 5);
    let size = |i: usize| bodies[i].len() as u64;
    assert_eq!(u.storage_bytes, 2 * size(0) + size(3) + 2 * size(4));
    let g = store.gc(Duration::ZERO).unwrap();
    assert_eq!(
        (g.temp_files, g.orphan_files),
        (0, 0),
        "nothing left behind"
    );
    // A batch of one behaves like deliver.
    let one = store.deliver_batch(&[Delivery {
        bytes: &bodies[1],
        internaldate: date(9),
        targets: &only_b,
    }]);
    assert_eq!(*one[0].as_ref().unwrap(), [(4, 5)]);
    assert_consistent(&store, &b);
}

#[test]
fn a_mailbox_frozen_for_a_move_refuses_every_change_until_thawed() {
    let (tmp, store, id) = setup();
    let other = MailboxId::generate();
    store.create_mailbox(&other, "default").unwrap();
    store.append(&id, &msg(1), &Flags::new(), date(1)).unwrap();
    store
        .append(&other, &msg(2), &Flags::new(), date(2))
        .unwrap();
    store.set_moving(std::slice::from_ref(&id), true).unwrap();
    assert!(store.is_moving(&id).unwrap());
    assert!(!store.is_moving(&other).unwrap());
    let moving = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Moving(m)) if m == id);
    assert!(moving(
        store
            .append(&id, &msg(3), &Flags::new(), date(3))
            .map(|_| ())
    ));
    assert!(moving(
        store
            .deliver(&msg(3), date(3), &[(id.clone(), Flags::new())])
            .map(|_| ())
    ));
    assert!(moving(
        store
            .store_flags(&id, &[1], FlagMode::Add, &flags(&["\\Deleted"]), None)
            .map(|_| ())
    ));
    assert!(moving(store.expunge(&id, &[1]).map(|_| ())));
    assert!(moving(store.expunge_deleted(&id, None).map(|_| ())));
    assert!(moving(store.copy(&other, &id, &[1]).map(|_| ())));
    assert!(moving(store.move_messages(&id, &other, &[1]).map(|_| ())));
    assert!(moving(store.seen_add("bob", &id, &[1]).map(|_| ())));
    assert!(moving(
        store
            .set_annotation(Some(&id), "/shared/comment", None, Some(b"x"))
            .map(|_| ())
    ));
    // A batch: the frozen mailbox's delivery fails alone.
    let (one, two) = (
        [(id.clone(), Flags::new())],
        [(other.clone(), Flags::new())],
    );
    let body = msg(4);
    let res = store.deliver_batch(&[
        Delivery {
            bytes: &body,
            internaldate: date(4),
            targets: &one,
        },
        Delivery {
            bytes: &body,
            internaldate: date(4),
            targets: &two,
        },
    ]);
    assert!(matches!(&res[0], Err(StoreError::Moving(_))));
    assert_eq!(res[1].as_ref().unwrap().len(), 1);
    // Reading goes on, nothing changed, and the mark survives a reopen.
    assert_eq!(store.read_message(&id, 1).unwrap(), msg(1));
    assert_eq!(store.records(&id).unwrap().len(), 1);
    assert!(StoreError::Moving(id.clone()).is_temporary());
    drop(store);
    let store = open(tmp.path());
    assert!(store.is_moving(&id).unwrap());
    // Copying out of it is fine; thawed, it takes changes again.
    store.copy(&id, &other, &[1]).unwrap();
    store.set_moving(std::slice::from_ref(&id), false).unwrap();
    store.append(&id, &msg(5), &Flags::new(), date(5)).unwrap();
    // Deleting a frozen mailbox drops the mark with it.
    store.set_moving(std::slice::from_ref(&id), true).unwrap();
    assert!(store.delete_mailbox(&id).unwrap());
    assert!(!store.is_moving(&id).unwrap());
    assert_consistent(&store, &other);
}

#[test]
fn prepared_messages_commit_in_one_batch_and_a_failed_one_can_be_prepared_again() {
    let (_tmp, store, a) = setup();
    let b = MailboxId::generate();
    store.create_mailbox(&b, "other").unwrap();
    let frozen = MailboxId::generate();
    store.create_mailbox(&frozen, "default").unwrap();
    store
        .set_moving(std::slice::from_ref(&frozen), true)
        .unwrap();
    let both = [(a.clone(), Flags::new()), (b.clone(), flags(&["\\Seen"]))];
    let to_frozen = [(frozen.clone(), Flags::new())];
    let (m1, m2) = (msg(7), msg(8));
    let p1 = store.prepare_message(&m1, &a).unwrap();
    let p2 = store.prepare_message(&m2, &frozen).unwrap();
    let res = store.commit_prepared(&[
        PreparedDelivery {
            message: &p1,
            internaldate: date(7),
            targets: &both,
        },
        PreparedDelivery {
            message: &p2,
            internaldate: date(8),
            targets: &to_frozen,
        },
    ]);
    assert_eq!(res[0].as_ref().unwrap(), &vec![(1, 2), (1, 2)]);
    assert!(matches!(&res[1], Err(StoreError::Moving(_))));
    store.discard_prepared(p1);
    store.discard_prepared(p2);
    // Renamed into the first target, linked into the other partition's copy.
    assert_eq!(store.read_message(&a, 1).unwrap(), m1);
    assert_eq!(store.read_message(&b, 1).unwrap(), m1);
    assert!(store.records(&frozen).unwrap().is_empty());
    // Nothing temporary is left behind.
    let report = store.gc(Duration::ZERO).unwrap();
    assert_eq!(report, GcReport::default());
    store
        .set_moving(std::slice::from_ref(&frozen), false)
        .unwrap();
    let p2 = store.prepare_message(&m2, &frozen).unwrap();
    let res = store.commit_prepared(&[PreparedDelivery {
        message: &p2,
        internaldate: date(8),
        targets: &to_frozen,
    }]);
    store.discard_prepared(p2);
    assert_eq!(res[0].as_ref().unwrap(), &vec![(1, 2)]);
    assert_eq!(store.read_message(&frozen, 1).unwrap(), m2);
}
