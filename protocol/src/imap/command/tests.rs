use std::num::NonZeroU32;

use proptest::prelude::*;

use super::*;
use crate::imap::framing::{Frame, Framer, Limits, Role};
use crate::imap::types::{Date, Section, SectionText, SeqNo, SeqRange};

fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn atom(s: &str) -> Atom {
    Atom::new(s).unwrap()
}

fn set(s: &str) -> SequenceSet {
    SequenceSet::parse(s.as_bytes()).unwrap().1
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// Parses, checks the value, then checks that encoding parses back to the same value in both
/// literal modes; `canonical`, when given, is the exact encoding.
fn check(wire: &str, expected: CommandBody, canonical: Option<&str>) {
    let cmd = Command::parse(wire.as_bytes()).unwrap_or_else(|e| panic!("{wire:?}: {e}"));
    assert_eq!(cmd.body, expected, "{wire:?}");
    for mode in [LiteralMode::Sync, LiteralMode::NonSync] {
        let out = cmd.to_bytes(mode);
        let back = Command::parse(&out).unwrap_or_else(|e| panic!("{out:?}: {e}"));
        assert_eq!(back, cmd, "re-encoded {:?}", String::from_utf8_lossy(&out));
    }
    if let Some(c) = canonical {
        assert_eq!(
            String::from_utf8_lossy(&cmd.to_bytes(LiteralMode::NonSync)),
            c,
            "{wire:?}"
        );
    }
}

#[test]
fn rfc3501_sample_session_client_lines() {
    use CommandBody as B;
    check(
        "a001 login mrc secret\r\n",
        B::Login {
            username: v("mrc"),
            password: Secret::new(v("secret")),
        },
        Some("a001 LOGIN mrc secret\r\n"),
    );
    check(
        "a002 select inbox\r\n",
        B::Select {
            mailbox: v("inbox"),
            params: None,
        },
        Some("a002 SELECT inbox\r\n"),
    );
    check(
        "a003 fetch 12 full\r\n",
        B::Fetch {
            uid: false,
            set: set("12"),
            items: FetchItems::Full,
            modifiers: None,
        },
        Some("a003 FETCH 12 FULL\r\n"),
    );
    check(
        "a004 fetch 12 body[header]\r\n",
        B::Fetch {
            uid: false,
            set: set("12"),
            items: FetchItems::Attrs(vec![FetchAttr::BodySection {
                peek: false,
                section: Section::new(vec![], Some(SectionText::Header)).unwrap(),
                partial: None,
            }]),
            modifiers: None,
        },
        Some("a004 FETCH 12 BODY[HEADER]\r\n"),
    );
    check(
        "a005 store 12 +flags \\deleted\r\n",
        B::Store {
            uid: false,
            set: set("12"),
            modifiers: None,
            mode: StoreMode::Add,
            silent: false,
            flags: vec![Flag::Deleted],
        },
        Some("a005 STORE 12 +FLAGS (\\Deleted)\r\n"),
    );
    check("a006 logout\r\n", B::Logout, Some("a006 LOGOUT\r\n"));
}

#[test]
fn cyrus_transcript_client_lines() {
    use CommandBody as B;
    // 06-imaplib-frontend.txt (imaplib sends LF-less lines in the log; the wire has CRLF).
    check("HIOI0 CAPABILITY\r\n", B::Capability, None);
    check(
        "HIOI1 LOGIN alice \"alicepw\"\r\n",
        B::Login {
            username: v("alice"),
            password: Secret::new(v("alicepw")),
        },
        Some("HIOI1 LOGIN alice alicepw\r\n"),
    );
    check(
        "HIOI2 LIST \"\" *\r\n",
        B::List {
            selection: vec![],
            reference: vec![],
            patterns: vec![v("*")],
            returns: vec![],
        },
        Some("HIOI2 LIST \"\" *\r\n"),
    );
    check(
        "HIOI4 FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])\r\n",
        B::Fetch {
            uid: false,
            set: SequenceSet::new(vec![SeqRange::Range(SeqNo::Value(nz(1)), SeqNo::Largest)])
                .unwrap(),
            items: FetchItems::Attrs(vec![
                FetchAttr::Uid,
                FetchAttr::Flags,
                FetchAttr::Rfc822Size,
                FetchAttr::BodySection {
                    peek: true,
                    section: Section::new(
                        vec![],
                        Some(SectionText::HeaderFields(vec![v("SUBJECT"), v("MESSAGE-ID")])),
                    )
                    .unwrap(),
                    partial: None,
                },
            ]),
            modifiers: None,
        },
        Some("HIOI4 FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)])\r\n"),
    );
    check(
        "HIOI5 FETCH 1 (BODY[TEXT])\r\n",
        B::Fetch {
            uid: false,
            set: set("1"),
            items: FetchItems::Attrs(vec![FetchAttr::BodySection {
                peek: false,
                section: Section::new(vec![], Some(SectionText::Text)).unwrap(),
                partial: None,
            }]),
            modifiers: None,
        },
        Some("HIOI5 FETCH 1 BODY[TEXT]\r\n"),
    );
    check(
        "HIOI6 STORE 1 +FLAGS (\\Flagged)\r\n",
        B::Store {
            uid: false,
            set: set("1"),
            modifiers: None,
            mode: StoreMode::Add,
            silent: false,
            flags: vec![Flag::Flagged],
        },
        Some("HIOI6 STORE 1 +FLAGS (\\Flagged)\r\n"),
    );
    check(
        "HIOI7 GETQUOTAROOT INBOX\r\n",
        B::GetQuotaRoot {
            mailbox: v("INBOX"),
        },
        None,
    );
    check(
        "HIOI8 GETACL INBOX\r\n",
        B::GetAcl {
            mailbox: v("INBOX"),
        },
        None,
    );
    check(
        "HIOI9 STATUS INBOX (MESSAGES UNSEEN UIDNEXT)\r\n",
        B::Status {
            mailbox: v("INBOX"),
            items: vec![
                StatusItem::Messages,
                StatusItem::Unseen,
                StatusItem::UidNext,
            ],
        },
        Some("HIOI9 STATUS INBOX (MESSAGES UNSEEN UIDNEXT)\r\n"),
    );
    check("HIOI10 CLOSE\r\n", B::Close, None);
    check("HIOI11 LOGOUT\r\n", B::Logout, None);
    // 06b-imap-wire-frontend-bob.txt
    check(
        "a1 AUTHENTICATE PLAIN AGJvYgBib2Jwdw==\r\n",
        B::Authenticate {
            mechanism: atom("PLAIN"),
            initial_response: Some(Secret::new(v("AGJvYgBib2Jwdw=="))),
        },
        Some("a1 AUTHENTICATE PLAIN AGJvYgBib2Jwdw==\r\n"),
    );
    check(
        "a2 LIST \"\" \"*\"\r\n",
        B::List {
            selection: vec![],
            reference: vec![],
            patterns: vec![v("*")],
            returns: vec![],
        },
        None,
    );
    check(
        "a4 FETCH 1:* (UID FLAGS ENVELOPE)\r\n",
        B::Fetch {
            uid: false,
            set: set("1:*"),
            items: FetchItems::Attrs(vec![FetchAttr::Uid, FetchAttr::Flags, FetchAttr::Envelope]),
            modifiers: None,
        },
        None,
    );
    check(
        "a5 SELECT user.alice\r\n",
        B::Select {
            mailbox: v("user.alice"),
            params: None,
        },
        None,
    );
    check("a7 NAMESPACE\r\n", B::Namespace, None);
    // 08-imtest-*.txt
    check(
        "A01 AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\r\n",
        B::Authenticate {
            mechanism: atom("PLAIN"),
            initial_response: Some(Secret::new(v("AGFsaWNlAGFsaWNlcHc="))),
        },
        None,
    );
    check("Q01 LOGOUT\r\n", B::Logout, None);
    // 01-cyradm-frontend.txt and 01b-frontend-create-forms.txt
    check(
        "r2 RENAME user.bob user.bob backend2!default\r\n",
        B::Rename {
            from: v("user.bob"),
            to: v("user.bob"),
            location: Some(v("backend2!default")),
        },
        Some("r2 RENAME user.bob user.bob backend2!default\r\n"),
    );
    check(
        "r4 RENAME user.bob user.bob backend1\r\n",
        B::Rename {
            from: v("user.bob"),
            to: v("user.bob"),
            location: Some(v("backend1")),
        },
        None,
    );
    check(
        "c2 CREATE user.carol backend2!default\r\n",
        B::Create {
            mailbox: v("user.carol"),
            args: Some(CreateArgs::Partition(v("backend2!default"))),
        },
        None,
    );
    check(
        "c3 CREATE user.dave (SERVER backend2 PARTITION default)\r\n",
        B::Create {
            mailbox: v("user.dave"),
            args: Some(CreateArgs::Params(vec![
                CreateParam::Server(v("backend2")),
                CreateParam::Partition(v("default")),
            ])),
        },
        Some("c3 CREATE user.dave (SERVER backend2 PARTITION default)\r\n"),
    );
    check(
        "c4 CREATE user.erin\r\n",
        B::Create {
            mailbox: v("user.erin"),
            args: None,
        },
        None,
    );
}

#[test]
fn murder_and_cyradm_wire_forms() {
    use CommandBody as B;
    // §4.5: the frontend forwards LSUB with literals.
    check(
        "PROXY1 Lsub {0+}\r\n {1+}\r\n*\r\n",
        B::Lsub {
            reference: vec![],
            pattern: v("*"),
        },
        Some("PROXY1 LSUB \"\" *\r\n"),
    );
    // §4.6: SELECT with a literal name and QRESYNC parameters.
    check(
        "t1 Select {8+}\r\nuser.bob (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
        B::Select {
            mailbox: v("user.bob"),
            params: Some(v(
                "(QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
            )),
        },
        None,
    );
    check(
        "t2 EXAMINE INBOX (CONDSTORE)\r\n",
        B::Examine {
            mailbox: v("INBOX"),
            params: Some(v("(CONDSTORE)")),
        },
        None,
    );
    // §4.7: the proxy's pinning fetch, streaming fetch, and MOVE cleanup.
    check(
        "PROXY2 Uid Fetch 1:3 (Flags Internaldate Uid)\r\n",
        B::Fetch {
            uid: true,
            set: set("1:3"),
            items: FetchItems::Attrs(vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Uid,
            ]),
            modifiers: None,
        },
        Some("PROXY2 UID FETCH 1:3 (FLAGS INTERNALDATE UID)\r\n"),
    );
    check(
        "PROXY3 Uid Fetch 4 (Body.peek[])\r\n",
        B::Fetch {
            uid: true,
            set: set("4"),
            items: FetchItems::Attrs(vec![FetchAttr::BodySection {
                peek: true,
                section: Section::default(),
                partial: None,
            }]),
            modifiers: None,
        },
        Some("PROXY3 UID FETCH 4 BODY.PEEK[]\r\n"),
    );
    check(
        "m1 UID Store 4,7 +FLAGS.SILENT (\\Deleted)\r\n",
        B::Store {
            uid: true,
            set: set("4,7"),
            modifiers: None,
            mode: StoreMode::Add,
            silent: true,
            flags: vec![Flag::Deleted],
        },
        None,
    );
    check(
        "m2 UID Expunge 4,7\r\n",
        B::UidExpunge { set: set("4,7") },
        Some("m2 UID EXPUNGE 4,7\r\n"),
    );
    check(
        "a Append {8+}\r\nuser.bob (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5+}\r\nhello (\\Flagged) \" 1-Jan-2026 00:00:00 +0000\" {3+}\r\nbye\r\n",
        B::Append {
            mailbox: v("user.bob"),
            messages: vec![
                AppendMessage {
                    flags: Some(vec![Flag::Seen]),
                    date: Some(DateTime::parse(b"\"17-Jul-1996 02:44:25 -0700\"").unwrap().1),
                    data: v("hello"),
                    binary: false,
                },
                AppendMessage {
                    flags: Some(vec![Flag::Flagged]),
                    date: Some(DateTime::parse(b"\" 1-Jan-2026 00:00:00 +0000\"").unwrap().1),
                    data: v("bye"),
                    binary: false,
                },
            ],
        },
        None,
    );
    // §5.4 and §5.5: what a backend sends another during a legacy XFER.
    check(
        "Q01 SETQUOTA {9+}\r\n+user.bob (STORAGE 102400)\r\n",
        B::SetQuota {
            root: v("+user.bob"),
            limits: vec![(atom("STORAGE"), 102400)],
        },
        Some("Q01 SETQUOTA +user.bob (STORAGE 102400)\r\n"),
    );
    check(
        "LC1 LOCALCREATE {8+}\r\nuser.bob default\r\n",
        B::LocalCreate {
            mailbox: v("user.bob"),
            args: Some(CreateArgs::Partition(v("default"))),
        },
        None,
    );
    check(
        "LD1 LOCALDELETE user.bob\r\n",
        B::LocalDelete {
            mailbox: v("user.bob"),
        },
        None,
    );
    check(
        "MP1 MUPDATEPUSH {8+}\r\nuser.bob\r\n",
        B::MupdatePush {
            mailbox: v("user.bob"),
        },
        Some("MP1 MUPDATEPUSH user.bob\r\n"),
    );
    check(
        "x1 XFER \"user.bob\" be2 part\r\n",
        B::Xfer {
            mailbox: v("user.bob"),
            server: v("be2"),
            partition: Some(v("part")),
        },
        Some("x1 XFER user.bob be2 part\r\n"),
    );
    check(
        "x2 XFER user.bob be2.example.org:143\r\n",
        B::Xfer {
            mailbox: v("user.bob"),
            server: v("be2.example.org:143"),
            partition: None,
        },
        None,
    );
    // §6.3 and §6.4: what cyradm sends.
    check(
        "C04 LIST (REMOTE RECURSIVEMATCH SUBSCRIBED SPECIAL-USE) \"\" * RETURN (SUBSCRIBED SPECIAL-USE)\r\n",
        B::List {
            selection: vec![
                ListSelect::Remote,
                ListSelect::RecursiveMatch,
                ListSelect::Subscribed,
                ListSelect::SpecialUse,
            ],
            reference: vec![],
            patterns: vec![v("*")],
            returns: vec![ListReturn::Subscribed, ListReturn::SpecialUse],
        },
        Some("C04 LIST (REMOTE RECURSIVEMATCH SUBSCRIBED SPECIAL-USE) \"\" * RETURN (SUBSCRIBED SPECIAL-USE)\r\n"),
    );
    check(
        "C05 RLIST \"\" \"\"\r\n",
        B::Rlist {
            reference: vec![],
            pattern: vec![],
        },
        None,
    );
    check(
        "C06 RLSUB \"\" user.%\r\n",
        B::Rlsub {
            reference: vec![],
            pattern: v("user.%"),
        },
        None,
    );
    check(
        "C07 LSUB * *\r\n",
        B::Lsub {
            reference: v("*"),
            pattern: v("*"),
        },
        None,
    );
    check(
        "C08 CREATE user.alice.Sent (PARTITION default USE (\\Sent))\r\n",
        B::Create {
            mailbox: v("user.alice.Sent"),
            args: Some(CreateArgs::Params(vec![
                CreateParam::Partition(v("default")),
                CreateParam::Use(vec![Flag::Extension(atom("Sent"))]),
            ])),
        },
        None,
    );
    check(
        "C09 CREATE x (MAILBOXID m60t3cp1kv2shojjmjucg0vi X-FOO (1 \"a)\") X-BAR)\r\n",
        B::Create {
            mailbox: v("x"),
            args: Some(CreateArgs::Params(vec![
                CreateParam::MailboxId(v("m60t3cp1kv2shojjmjucg0vi")),
                CreateParam::Other(atom("X-FOO"), Some(v("(1 \"a)\")"))),
                CreateParam::Other(atom("X-BAR"), None),
            ])),
        },
        None,
    );
    check(
        "C10 SETACL user.alice bob lrs\r\n",
        B::SetAcl {
            mailbox: v("user.alice"),
            identifier: v("bob"),
            rights: v("lrs"),
        },
        None,
    );
    check(
        "C11 SETACL user.alice anyone -w\r\n",
        B::SetAcl {
            mailbox: v("user.alice"),
            identifier: v("anyone"),
            rights: v("-w"),
        },
        None,
    );
    check(
        "C12 DELETEACL user.alice bob\r\n",
        B::DeleteAcl {
            mailbox: v("user.alice"),
            identifier: v("bob"),
        },
        None,
    );
    check(
        "C13 LISTRIGHTS user.alice bob\r\n",
        B::ListRights {
            mailbox: v("user.alice"),
            identifier: v("bob"),
        },
        None,
    );
    check(
        "C14 MYRIGHTS user.alice\r\n",
        B::MyRights {
            mailbox: v("user.alice"),
        },
        None,
    );
    check(
        "C15 GETQUOTA user.alice\r\n",
        B::GetQuota {
            root: v("user.alice"),
        },
        None,
    );
    check(
        "C16 SETQUOTA user.alice ()\r\n",
        B::SetQuota {
            root: v("user.alice"),
            limits: vec![],
        },
        None,
    );
    check(
        "C17 GETMETADATA user.alice (\"/private/*\" \"/shared/*\")\r\n",
        B::GetMetadata {
            options: MetadataOptions::default(),
            mailbox: v("user.alice"),
            entries: vec![v("/private/*"), v("/shared/*")],
        },
        Some("C17 GETMETADATA user.alice (\"/private/*\" \"/shared/*\")\r\n"),
    );
    check(
        "C18 GETMETADATA (MAXSIZE 1024 DEPTH infinity) \"\" /shared/comment\r\n",
        B::GetMetadata {
            options: MetadataOptions {
                max_size: Some(1024),
                depth: Some(MetadataDepth::Infinity),
            },
            mailbox: vec![],
            entries: vec![v("/shared/comment")],
        },
        None,
    );
    check(
        "C19 SETMETADATA user.alice (/shared/comment \"my comment\" /private/x NIL)\r\n",
        B::SetMetadata {
            mailbox: v("user.alice"),
            entries: vec![
                (v("/shared/comment"), Some(v("my comment"))),
                (v("/private/x"), None),
            ],
        },
        None,
    );
    check("C20 ID NIL\r\n", B::Id(None), None);
    check(
        "C21 RECONSTRUCT user.alice RECURSIVE\r\n",
        B::Reconstruct {
            mailbox: v("user.alice"),
            recursive: true,
        },
        None,
    );
    check(
        "C22 RECONSTRUCT user.alice\r\n",
        B::Reconstruct {
            mailbox: v("user.alice"),
            recursive: false,
        },
        None,
    );
    check(
        "C23 DELETE user.alice.Sent\r\n",
        B::Delete {
            mailbox: v("user.alice.Sent"),
        },
        None,
    );
    check(
        "C24 SUBSCRIBE user.alice.Sent\r\n",
        B::Subscribe {
            mailbox: v("user.alice.Sent"),
        },
        None,
    );
    check(
        "C25 UNSUBSCRIBE \"user.alice.Sent\"\r\n",
        B::Unsubscribe {
            mailbox: v("user.alice.Sent"),
        },
        None,
    );
}

#[test]
fn other_rfc_commands() {
    use CommandBody as B;
    check("n NOOP\n", B::Noop, Some("n NOOP\r\n"));
    check("s STARTTLS\r\n", B::StartTls, None);
    check("c CHECK\r\n", B::Check, None);
    check("u UNSELECT\r\n", B::Unselect, None);
    check(
        "u unauthenticate\r\n",
        B::Unauthenticate,
        Some("u UNAUTHENTICATE\r\n"),
    );
    check("e EXPUNGE\r\n", B::Expunge, None);
    check("i idle\r\n", B::Idle, Some("i IDLE\r\n"));
    check(
        "a AUTHENTICATE EXTERNAL =\r\n",
        B::Authenticate {
            mechanism: atom("EXTERNAL"),
            initial_response: Some(Secret::new(vec![])),
        },
        Some("a AUTHENTICATE EXTERNAL =\r\n"),
    );
    check(
        "a AUTHENTICATE GSSAPI\r\n",
        B::Authenticate {
            mechanism: atom("GSSAPI"),
            initial_response: None,
        },
        None,
    );
    check(
        "l LOGIN {5}\r\nalice {6}\r\nse cr\"\r\n",
        B::Login {
            username: v("alice"),
            password: Secret::new(v("se cr\"")),
        },
        Some("l LOGIN alice \"se cr\\\"\"\r\n"),
    );
    check(
        "l LIST (SUBSCRIBED) \"\" (\"INBOX\" \"user.%\") RETURN (CHILDREN STATUS (MESSAGES UIDNEXT) MYRIGHTS METADATA (MAXSIZE 10 (\"/shared/comment\")))\r\n",
        B::List {
            selection: vec![ListSelect::Subscribed],
            reference: vec![],
            patterns: vec![v("INBOX"), v("user.%")],
            returns: vec![
                ListReturn::Children,
                ListReturn::Status(vec![StatusItem::Messages, StatusItem::UidNext]),
                ListReturn::MyRights,
                ListReturn::Other(atom("METADATA"), Some(v("(MAXSIZE 10 (\"/shared/comment\"))"))),
            ],
        },
        Some("l LIST (SUBSCRIBED) \"\" (INBOX user.%) RETURN (CHILDREN STATUS (MESSAGES UIDNEXT) MYRIGHTS METADATA (MAXSIZE 10 (\"/shared/comment\")))\r\n"),
    );
    check(
        "l LIST \"\" \"a b\"\r\n",
        B::List {
            selection: vec![],
            reference: vec![],
            patterns: vec![v("a b")],
            returns: vec![],
        },
        None,
    );
    check(
        "A003 APPEND saved-messages (\\Seen) {10}\r\n0123456789\r\n",
        B::Append {
            mailbox: v("saved-messages"),
            messages: vec![AppendMessage {
                flags: Some(vec![Flag::Seen]),
                date: None,
                data: v("0123456789"),
                binary: false,
            }],
        },
        Some("A003 APPEND saved-messages (\\Seen) {10+}\r\n0123456789\r\n"),
    );
    check(
        "A004 APPEND INBOX ~{3}\r\na\0b\r\n",
        B::Append {
            mailbox: v("INBOX"),
            messages: vec![AppendMessage {
                flags: None,
                date: None,
                data: b"a\0b".to_vec(),
                binary: true,
            }],
        },
        None,
    );
    check(
        "c COPY 2:4 MEETING\r\n",
        B::Copy {
            uid: false,
            set: set("2:4"),
            mailbox: v("MEETING"),
        },
        None,
    );
    check(
        "c UID MOVE 2:4 \"Other Users\"\r\n",
        B::Move {
            uid: true,
            set: set("2:4"),
            mailbox: v("Other Users"),
        },
        None,
    );
    check(
        "c MOVE 1 Trash\r\n",
        B::Move {
            uid: false,
            set: set("1"),
            mailbox: v("Trash"),
        },
        None,
    );
    check(
        "c UID COPY 1 Trash\r\n",
        B::Copy {
            uid: true,
            set: set("1"),
            mailbox: v("Trash"),
        },
        None,
    );
    check(
        "s STORE 2:4 FLAGS.SILENT ()\r\n",
        B::Store {
            uid: false,
            set: set("2:4"),
            modifiers: None,
            mode: StoreMode::Replace,
            silent: true,
            flags: vec![],
        },
        None,
    );
    check(
        "s STORE 1 (UNCHANGEDSINCE 12345) -FLAGS \\Seen $Junk\r\n",
        B::Store {
            uid: false,
            set: set("1"),
            modifiers: Some(v("(UNCHANGEDSINCE 12345)")),
            mode: StoreMode::Remove,
            silent: false,
            flags: vec![Flag::Seen, Flag::Keyword(atom("$Junk"))],
        },
        Some("s STORE 1 (UNCHANGEDSINCE 12345) -FLAGS (\\Seen $Junk)\r\n"),
    );
    check(
        "f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
        B::Fetch {
            uid: true,
            set: set("1:*"),
            items: FetchItems::Attrs(vec![FetchAttr::Flags]),
            modifiers: Some(v("(CHANGEDSINCE 12345 VANISHED)")),
        },
        None,
    );
    check(
        "f FETCH 2:4 all\r\n",
        B::Fetch {
            uid: false,
            set: set("2:4"),
            items: FetchItems::All,
            modifiers: None,
        },
        Some("f FETCH 2:4 ALL\r\n"),
    );
    check(
        "f FETCH * fast\r\n",
        B::Fetch {
            uid: false,
            set: set("*"),
            items: FetchItems::Fast,
            modifiers: None,
        },
        None,
    );
    check(
        "f FETCH 1 (BODY[1.2.HEADER.FIELDS.NOT (Received)]<0.2048> BINARY.PEEK[1]<10.20> BINARY.SIZE[2] BODYSTRUCTURE BODY RFC822 RFC822.HEADER RFC822.TEXT MODSEQ BODY[3.MIME] BODY[4] EMAILID THREADID SAVEDATE)\r\n",
        B::Fetch {
            uid: false,
            set: set("1"),
            items: FetchItems::Attrs(vec![
                FetchAttr::BodySection {
                    peek: false,
                    section: Section::new(
                        vec![nz(1), nz(2)],
                        Some(SectionText::HeaderFieldsNot(vec![v("Received")])),
                    )
                    .unwrap(),
                    partial: Some(crate::imap::types::Partial {
                        offset: 0,
                        length: nz(2048),
                    }),
                },
                FetchAttr::Binary {
                    peek: true,
                    part: vec![nz(1)],
                    partial: Some(crate::imap::types::Partial {
                        offset: 10,
                        length: nz(20),
                    }),
                },
                FetchAttr::BinarySize { part: vec![nz(2)] },
                FetchAttr::BodyStructure,
                FetchAttr::Body,
                FetchAttr::Rfc822,
                FetchAttr::Rfc822Header,
                FetchAttr::Rfc822Text,
                FetchAttr::ModSeq,
                FetchAttr::BodySection {
                    peek: false,
                    section: Section::new(vec![nz(3)], Some(SectionText::Mime)).unwrap(),
                    partial: None,
                },
                FetchAttr::BodySection {
                    peek: false,
                    section: Section::new(vec![nz(4)], None).unwrap(),
                    partial: None,
                },
                FetchAttr::EmailId,
                FetchAttr::ThreadId,
                FetchAttr::SaveDate,
            ]),
            modifiers: None,
        },
        None,
    );
    check(
        "x ID (\"name\" \"sodr\" \"version\" NIL)\r\n",
        B::Id(Some(vec![
            (v("name"), Some(v("sodr"))),
            (v("version"), None),
        ])),
        None,
    );
    check(
        "x ENABLE CONDSTORE QRESYNC\r\n",
        B::Enable(vec![atom("CONDSTORE"), atom("QRESYNC")]),
        None,
    );
    check(
        "x STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ SIZE MAILBOXID DELETED RECENT UIDVALIDITY APPENDLIMIT)\r\n",
        B::Status {
            mailbox: v("blurdybloop"),
            items: vec![
                StatusItem::UidNext,
                StatusItem::Messages,
                StatusItem::HighestModSeq,
                StatusItem::Size,
                StatusItem::MailboxId,
                StatusItem::Deleted,
                StatusItem::Recent,
                StatusItem::UidValidity,
                StatusItem::AppendLimit,
            ],
        },
        None,
    );
}

#[test]
fn search_keys() {
    use SearchKey as K;
    let d = |s: &str| Date::parse(s.as_bytes()).unwrap().1;
    let search = |criteria: Vec<SearchKey>| CommandBody::Search {
        uid: false,
        returns: None,
        charset: None,
        criteria,
    };
    check(
        "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        search(vec![
            K::Flagged,
            K::Since(d("1-Feb-1994")),
            K::Not(Box::new(K::From(v("Smith")))),
        ]),
        Some("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM Smith\r\n"),
    );
    check(
        "A283 SEARCH TEXT \"string not in mailbox\"\r\n",
        search(vec![K::Text(v("string not in mailbox"))]),
        None,
    );
    check(
        "A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n",
        CommandBody::Search {
            uid: false,
            returns: None,
            charset: Some(v("UTF-8")),
            criteria: vec![K::Text(v("XXXXXX"))],
        },
        Some("A284 SEARCH CHARSET UTF-8 TEXT XXXXXX\r\n"),
    );
    check(
        "s UID SEARCH RETURN (MIN COUNT) OR (SEEN UNANSWERED) 1:5,*\r\n",
        CommandBody::Search {
            uid: true,
            returns: Some(vec![atom("MIN"), atom("COUNT")]),
            charset: None,
            criteria: vec![K::Or(
                Box::new(K::And(vec![K::Seen, K::Unanswered])),
                Box::new(K::SequenceSet(set("1:5,*"))),
            )],
        },
        None,
    );
    check(
        "s search all answered bcc a before \"1-Jan-2000\" body b cc c deleted draft flagged \
header X-Spam yes keyword $Junk larger 100 new old on 2-Feb-2001 recent seen \
sentbefore 3-Mar-2002 senton 4-Apr-2003 sentsince 5-May-2004 smaller 5 subject s to t \
uid 1:3 unanswered undeleted undraft unflagged unkeyword $X unseen \
modseq \"/flags/\\\\draft\" all 620162338 modseq 5 older 60 younger 3600\r\n",
        search(vec![
            K::All,
            K::Answered,
            K::Bcc(v("a")),
            K::Before(d("1-Jan-2000")),
            K::Body(v("b")),
            K::Cc(v("c")),
            K::Deleted,
            K::Draft,
            K::Flagged,
            K::Header(v("X-Spam"), v("yes")),
            K::Keyword(atom("$Junk")),
            K::Larger(100),
            K::New,
            K::Old,
            K::On(d("2-Feb-2001")),
            K::Recent,
            K::Seen,
            K::SentBefore(d("3-Mar-2002")),
            K::SentOn(d("4-Apr-2003")),
            K::SentSince(d("5-May-2004")),
            K::Smaller(5),
            K::Subject(v("s")),
            K::To(v("t")),
            K::Uid(set("1:3")),
            K::Unanswered,
            K::Undeleted,
            K::Undraft,
            K::Unflagged,
            K::Unkeyword(atom("$X")),
            K::Unseen,
            K::ModSeq {
                entry: Some((v("/flags/\\draft"), ModSeqEntryType::All)),
                modseq: 620162338,
            },
            K::ModSeq {
                entry: None,
                modseq: 5,
            },
            K::Older(60),
            K::Younger(3600),
        ]),
        None,
    );
}

#[test]
fn unknown_commands_are_kept_raw_for_forwarding() {
    let wire = b"x1 XLIST \"\" {1+}\r\n*\r\n";
    let cmd = Command::parse(wire).unwrap();
    assert_eq!(cmd.tag.as_str(), "x1");
    match &cmd.body {
        CommandBody::Other { name, raw } => {
            assert_eq!(name.as_str(), "XLIST");
            assert_eq!(raw, wire);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(cmd.to_bytes(LiteralMode::Sync), wire);
    for wire in [
        &b"s1 SYNCAPPLY (junk\r\n"[..],
        b"d DUMP user.bob 5\r\n",
        b"c COMPRESS DEFLATE\r\n",
        b"t THISCOMMANDNAMEISWAYTOOLONG x\r\n",
        b"t UID SORT (DATE) UTF-8 ALL\r\n",
        b"t UID THREAD REFERENCES UTF-8 ALL\r\n",
        b"t SORT (SUBJECT) UTF-8 ALL\r\n",
    ] {
        assert!(
            matches!(
                Command::parse(wire).unwrap().body,
                CommandBody::Other { .. }
            ),
            "{wire:?}"
        );
    }
}

#[test]
fn bad_input_gives_tag_and_reason() {
    let table: &[(&str, Option<&str>, &str)] = &[
        ("", None, "Invalid tag"),
        ("\r\n", None, "Invalid tag"),
        (" NOOP\r\n", None, "Invalid tag"),
        ("+ NOOP\r\n", None, "Invalid tag"),
        ("* NOOP\r\n", None, "Invalid tag"),
        ("a(b NOOP\r\n", None, "Invalid tag"),
        ("a1\r\n", Some("a1"), "Null command"),
        ("a1 \r\n", Some("a1"), "Null command"),
        ("a1 (x)\r\n", Some("a1"), "Null command"),
        ("a1 NOOP", Some("a1"), "Missing command terminator"),
        (
            "a1 NOOP x\r\n",
            Some("a1"),
            "Unexpected extra arguments to Noop",
        ),
        (
            "a1 NOOP \r\n",
            Some("a1"),
            "Unexpected extra arguments to Noop",
        ),
        (
            "a2 SELECT\r\n",
            Some("a2"),
            "Missing required argument to Select",
        ),
        (
            "a2 SELECT \r\n",
            Some("a2"),
            "Missing required argument to Select",
        ),
        (
            "a2 SELECT INBOX x\r\n",
            Some("a2"),
            "Invalid parameters in Select",
        ),
        (
            "a3 LOGIN alice\r\n",
            Some("a3"),
            "Missing required argument to Login",
        ),
        (
            "a4 FETCH 0 FLAGS\r\n",
            Some("a4"),
            "Invalid sequence in Fetch",
        ),
        (
            "a4 FETCH 1:x FLAGS\r\n",
            Some("a4"),
            "Invalid sequence in Fetch",
        ),
        (
            "a4 FETCH 1,,2 FLAGS\r\n",
            Some("a4"),
            "Invalid sequence in Fetch",
        ),
        (
            "a4 FETCH 1\r\n",
            Some("a4"),
            "Missing required argument to Fetch",
        ),
        (
            "a4 UID FETCH 1 (FLAGS XYZZY)\r\n",
            Some("a4"),
            "Invalid Uid Fetch attribute XYZZY",
        ),
        (
            "a4 FETCH 1 BODY[MIME]\r\n",
            Some("a4"),
            "Invalid Fetch attribute BODY[MIME]",
        ),
        ("a4 FETCH 1 ()\r\n", Some("a4"), "Invalid Fetch attribute "),
        (
            "a5 SEARCH FOO\r\n",
            Some("a5"),
            "Invalid Search criteria FOO",
        ),
        (
            "a5 UID SEARCH NOT BAR 1\r\n",
            Some("a5"),
            "Invalid Search criteria BAR",
        ),
        (
            "a5 SEARCH\r\n",
            Some("a5"),
            "Missing required argument to Search",
        ),
        (
            "a5 SEARCH FROM\r\n",
            Some("a5"),
            "Missing required argument to Search",
        ),
        (
            "a5 SEARCH OR SEEN\r\n",
            Some("a5"),
            "Missing required argument to Search",
        ),
        (
            "a5 SEARCH SINCE 30-Feb-2000\r\n",
            Some("a5"),
            "Invalid date in Search",
        ),
        (
            "a5 SEARCH (SEEN\r\n",
            Some("a5"),
            "Missing required argument to Search",
        ),
        ("a5 SEARCH ()\r\n", Some("a5"), "Invalid Search criteria "),
        (
            "a6 STORE 1 FLAGZ (\\Seen)\r\n",
            Some("a6"),
            "Invalid data item in Store",
        ),
        (
            "a6 STORE 1 +FLAGS (\\)\r\n",
            Some("a6"),
            "Invalid flag list in Store",
        ),
        (
            "a6 STORE * FLAGS\r\n",
            Some("a6"),
            "Missing required argument to Store",
        ),
        (
            "a7 STATUS INBOX (MESSAGES BOGUS)\r\n",
            Some("a7"),
            "Invalid Status attribute BOGUS",
        ),
        (
            "a7 STATUS INBOX ()\r\n",
            Some("a7"),
            "Invalid status items in Status",
        ),
        (
            "a8 APPEND INBOX\r\n",
            Some("a8"),
            "Missing required argument to Append",
        ),
        (
            "a8 APPEND INBOX \"not a date\" {1}\r\nx\r\n",
            Some("a8"),
            "Invalid date-time in Append",
        ),
        (
            "a8 APPEND INBOX \"hello\"\r\n",
            Some("a8"),
            "Invalid date-time in Append",
        ),
        (
            "a8 APPEND INBOX {5}\r\nab\r\n",
            Some("a8"),
            "Invalid message literal in Append",
        ),
        ("a9 UID\r\n", Some("a9"), "Missing required argument to Uid"),
        (
            "b1 RECONSTRUCT x DEEP\r\n",
            Some("b1"),
            "Invalid option in Reconstruct",
        ),
        (
            "b2 GETMETADATA (DEPTH 2) \"\" /x\r\n",
            Some("b2"),
            "Invalid depth in Getmetadata",
        ),
        (
            "b3 SETMETADATA x ()\r\n",
            Some("b3"),
            "Invalid entry name in Setmetadata",
        ),
        (
            "b4 LIST \"\" * FOO (X)\r\n",
            Some("b4"),
            "Unexpected extra arguments to List",
        ),
        (
            "b5 ENABLE\r\n",
            Some("b5"),
            "Missing required argument to Enable",
        ),
        ("b6 ID (\"a\")\r\n", Some("b6"), "Invalid argument in Id"),
        (
            "b7 SETQUOTA x (STORAGE)\r\n",
            Some("b7"),
            "Invalid argument in Setquota",
        ),
        (
            "b8 AUTHENTICATE\r\n",
            Some("b8"),
            "Missing required argument to Authenticate",
        ),
        (
            "b9 XFER user.bob\r\n",
            Some("b9"),
            "Missing required argument to Xfer",
        ),
        (
            "c1 CREATE x (USE (\\Sent)\r\n",
            Some("c1"),
            "Missing required argument to Create",
        ),
    ];
    for (wire, tag, reason) in table {
        let err = match Command::parse(wire.as_bytes()) {
            Err(e) => e,
            Ok(c) => panic!("{wire:?} parsed as {c:?}"),
        };
        assert_eq!(err.tag.as_ref().map(Tag::as_str), *tag, "{wire:?}");
        assert_eq!(err.to_string(), *reason, "{wire:?}");
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut wire = b"a SEARCH ".to_vec();
    wire.extend(std::iter::repeat_n(b"NOT ".as_slice(), 10_000).flatten());
    wire.extend_from_slice(b"SEEN\r\n");
    let err = Command::parse(&wire).unwrap_err();
    assert_eq!(err.kind, CommandErrorKind::TooDeep(64));

    let mut wire = b"a SEARCH ".to_vec();
    wire.extend(std::iter::repeat_n(b'(', 10_000));
    wire.extend_from_slice(b"SEEN\r\n");
    assert_eq!(
        Command::parse(&wire).unwrap_err().kind,
        CommandErrorKind::TooDeep(64)
    );

    let mut wire = b"a SELECT x ".to_vec();
    wire.extend(std::iter::repeat_n(b'(', 10_000));
    wire.extend_from_slice(b"\r\n");
    assert_eq!(
        Command::parse(&wire).unwrap_err().kind,
        CommandErrorKind::TooDeep(64)
    );

    let shallow = ParseLimits { max_depth: 2 };
    assert!(Command::parse_with(b"a SEARCH NOT SEEN\r\n", shallow).is_ok());
    assert!(Command::parse_with(b"a SEARCH NOT NOT NOT SEEN\r\n", shallow).is_err());
}

#[test]
fn bad_response_lines() {
    let mut out = Vec::new();
    Command::parse(b"a4 FETCH 0 FLAGS\r\n")
        .unwrap_err()
        .write_bad(&mut out);
    assert_eq!(out, b"a4 BAD Invalid sequence in Fetch\r\n");
    out.clear();
    Command::parse(b"\r\n").unwrap_err().write_bad(&mut out);
    assert_eq!(out, b"* BAD Invalid tag\r\n");
}

#[test]
fn passwords_and_sasl_responses_are_redacted_in_debug() {
    let c = Command::parse(b"a LOGIN alice hunter2\r\n").unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("redacted"));
    let c = Command::parse(b"a AUTHENTICATE PLAIN AGFsaWNlAGFsaWNlcHc=\r\n").unwrap();
    assert!(!format!("{c:?}").contains("AGFsaWNl"));
}

#[test]
fn idle_done_is_recognised() {
    assert!(is_idle_done(b"DONE\r\n"));
    assert!(is_idle_done(b"done\n"));
    assert!(!is_idle_done(b"DONE x\r\n"));
    assert!(!is_idle_done(b"a DONE\r\n"));
}

#[test]
fn fetch_macros_expand() {
    assert_eq!(FetchItems::Fast.expand().len(), 3);
    assert_eq!(FetchItems::All.expand().len(), 4);
    assert_eq!(FetchItems::Full.expand().len(), 5);
}

fn frames_then_parse(chunks: &[&[u8]]) -> Vec<Result<Command, CommandError>> {
    let mut f = Framer::new(Role::Server, Limits::default());
    let mut out = Vec::new();
    for c in chunks {
        f.enqueue(c);
        while let Some(fr) = f.next() {
            match fr {
                Frame::Message(m) => out.push(Command::parse(&m)),
                Frame::NeedContinuation { .. } => {}
                Frame::Error(e) => panic!("{e}"),
            }
        }
    }
    out
}

#[test]
fn framed_stream_parses_the_same_at_every_split() {
    let stream: &[u8] = b"a1 LOGIN {5}\r\nalice {7+}\r\nsecret!\r\n\
a2 SELECT INBOX\r\n\
a3 APPEND INBOX (\\Seen) {13}\r\nHi\r\n{there}\r\n (\\Draft) {1+}\r\nx\r\n\
a4 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM)])\r\n\
a5 SEARCH SUBJECT {3}\r\n)(\" UNSEEN\n\
a6 IDLE\r\n\
a7 XFROB {2+}\r\nzz\r\n\
a8 FETCH 0 FLAGS\r\n\
a9 LOGOUT\r\n";
    let whole = frames_then_parse(&[stream]);
    assert_eq!(whole.len(), 9);
    assert!(whole.iter().take(7).all(Result::is_ok), "{whole:?}");
    assert!(whole[7].is_err());
    match &whole[2] {
        Ok(Command {
            body: CommandBody::Append { messages, .. },
            ..
        }) => {
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0].data, b"Hi\r\n{there}\r\n");
        }
        other => panic!("{other:?}"),
    }
    for i in 0..=stream.len() {
        let (a, b) = stream.split_at(i);
        assert_eq!(frames_then_parse(&[a, b]), whole, "split at {i}");
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(frames_then_parse(&bytes), whole);
}

// ---------------------------------------------------------------------------------------------
// Generators for round-trip properties.

fn any_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[a-zA-Z0-9._!%*]{0,12}".prop_map(|s| s.into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..max),
    ]
}

fn any_atom() -> impl Strategy<Value = Atom> {
    "[A-Za-z$][A-Za-z0-9$._-]{0,10}".prop_map(|s| Atom::new(s).unwrap())
}

fn any_flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Draft),
        Just(Flag::Recent),
        any_atom().prop_map(Flag::Keyword),
        any_atom()
            .prop_filter("not a system flag", |a| ![
                "SEEN", "ANSWERED", "FLAGGED", "DELETED", "DRAFT", "RECENT"
            ]
            .iter()
            .any(|s| a.eq_ignore_case(s)))
            .prop_map(Flag::Extension),
    ]
}

fn any_seqno() -> impl Strategy<Value = SeqNo> {
    prop_oneof![
        Just(SeqNo::Largest),
        (1u32..=u32::MAX).prop_map(|n| SeqNo::Value(nz(n))),
    ]
}

fn any_set() -> impl Strategy<Value = SequenceSet> {
    proptest::collection::vec(
        prop_oneof![
            any_seqno().prop_map(SeqRange::Single),
            (any_seqno(), any_seqno()).prop_map(|(a, b)| SeqRange::Range(a, b)),
        ],
        1..5,
    )
    .prop_map(|r| SequenceSet::new(r).unwrap())
}

fn any_date() -> impl Strategy<Value = Date> {
    (1u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

fn any_datetime() -> impl Strategy<Value = DateTime> {
    (any_date(), 0u8..24, 0u8..60, 0u8..=60, -5999i16..=5999)
        .prop_map(|(d, h, m, s, z)| DateTime::new(d, h, m, s, z).unwrap())
}

fn any_part() -> impl Strategy<Value = Vec<NonZeroU32>> {
    proptest::collection::vec((1u32..100).prop_map(nz), 0..4)
}

fn any_fetch_attr() -> BoxedStrategy<FetchAttr> {
    let partial = proptest::option::of((any::<u32>(), 1u32..=u32::MAX).prop_map(|(o, l)| {
        crate::imap::types::Partial {
            offset: o,
            length: nz(l),
        }
    }));
    let names = proptest::collection::vec("[A-Za-z-]{1,10}".prop_map(|s| s.into_bytes()), 1..4);
    let text = prop_oneof![
        Just(None),
        Just(Some(SectionText::Header)),
        Just(Some(SectionText::Text)),
        Just(Some(SectionText::Mime)),
        names
            .clone()
            .prop_map(|n| Some(SectionText::HeaderFields(n))),
        names.prop_map(|n| Some(SectionText::HeaderFieldsNot(n))),
    ];
    let section =
        (any_part(), text).prop_filter_map("MIME needs a part", |(p, t)| Section::new(p, t).ok());
    prop_oneof![
        prop_oneof![
            Just(FetchAttr::Envelope),
            Just(FetchAttr::Flags),
            Just(FetchAttr::InternalDate),
            Just(FetchAttr::Rfc822),
            Just(FetchAttr::Rfc822Header),
            Just(FetchAttr::Rfc822Size),
            Just(FetchAttr::Rfc822Text),
            Just(FetchAttr::Body),
            Just(FetchAttr::BodyStructure),
            Just(FetchAttr::Uid),
        ],
        prop_oneof![
            Just(FetchAttr::ModSeq),
            Just(FetchAttr::EmailId),
            Just(FetchAttr::ThreadId),
            Just(FetchAttr::SaveDate),
        ],
        (any::<bool>(), section, partial.clone()).prop_map(|(peek, section, partial)| {
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            }
        }),
        (any::<bool>(), any_part(), partial).prop_map(|(peek, part, partial)| FetchAttr::Binary {
            peek,
            part,
            partial
        }),
        any_part().prop_map(|part| FetchAttr::BinarySize { part }),
    ]
    .boxed()
}

fn any_search_key() -> BoxedStrategy<SearchKey> {
    use SearchKey as K;
    let leaf = prop_oneof![
        prop_oneof![
            Just(K::All),
            Just(K::Answered),
            Just(K::Deleted),
            Just(K::Draft),
            Just(K::Flagged),
            Just(K::New),
            Just(K::Old),
            Just(K::Recent),
            Just(K::Seen),
            Just(K::Unseen),
        ],
        prop_oneof![
            Just(K::Unanswered),
            Just(K::Undeleted),
            Just(K::Undraft),
            Just(K::Unflagged),
            any_atom().prop_map(K::Keyword),
            any_atom().prop_map(K::Unkeyword),
            any::<u32>().prop_map(K::Older),
            any::<u32>().prop_map(K::Younger),
            (0u64..=i64::MAX as u64).prop_map(K::Larger),
            (0u64..=i64::MAX as u64).prop_map(K::Smaller),
        ],
        prop_oneof![
            any_bytes(20).prop_map(K::Bcc),
            any_bytes(20).prop_map(K::Body),
            any_bytes(20).prop_map(K::Cc),
            any_bytes(20).prop_map(K::From),
            any_bytes(20).prop_map(K::Subject),
            any_bytes(20).prop_map(K::Text),
            any_bytes(20).prop_map(K::To),
            (any_bytes(10), any_bytes(10)).prop_map(|(a, b)| K::Header(a, b)),
        ],
        prop_oneof![
            any_date().prop_map(K::Before),
            any_date().prop_map(K::On),
            any_date().prop_map(K::Since),
            any_date().prop_map(K::SentBefore),
            any_date().prop_map(K::SentOn),
            any_date().prop_map(K::SentSince),
            any_set().prop_map(K::Uid),
            any_set().prop_map(K::SequenceSet),
            (
                proptest::option::of((
                    any_bytes(10),
                    prop_oneof![
                        Just(ModSeqEntryType::Private),
                        Just(ModSeqEntryType::Shared),
                        Just(ModSeqEntryType::All)
                    ]
                )),
                0u64..=i64::MAX as u64
            )
                .prop_map(|(entry, modseq)| K::ModSeq { entry, modseq }),
        ],
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| K::Not(Box::new(k))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| K::Or(Box::new(a), Box::new(b))),
            proptest::collection::vec(inner, 1..4).prop_map(K::And),
        ]
    })
    .boxed()
}

fn raw_params() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(prop_oneof![
        Just(v("(CONDSTORE)")),
        Just(v("(QRESYNC (1 2 1:5))")),
        Just(v("(X \"a)b\" {2+}\r\n() Y)")),
    ])
}

fn any_create_args() -> BoxedStrategy<Option<CreateArgs>> {
    proptest::option::of(prop_oneof![
        any_bytes(20).prop_map(CreateArgs::Partition),
        proptest::collection::vec(
            prop_oneof![
                any_bytes(10).prop_map(CreateParam::Partition),
                any_bytes(10).prop_map(CreateParam::Server),
                any_bytes(10).prop_map(CreateParam::MailboxId),
                proptest::collection::vec(any_flag(), 0..3).prop_map(CreateParam::Use),
                (
                    any_atom().prop_filter("typed labels", |a| ![
                        "PARTITION",
                        "SERVER",
                        "MAILBOXID",
                        "USE"
                    ]
                    .iter()
                    .any(|s| a.eq_ignore_case(s))),
                    proptest::option::of(prop_oneof![
                        Just(v("(1 \"x\")")),
                        Just(v("1:5,*")),
                        Just(v("42"))
                    ])
                )
                    .prop_map(|(a, v)| CreateParam::Other(a, v)),
            ],
            1..4
        )
        .prop_map(CreateArgs::Params),
    ])
    .boxed()
}

fn any_status_items() -> impl Strategy<Value = Vec<StatusItem>> {
    proptest::collection::vec(
        prop_oneof![
            Just(StatusItem::Messages),
            Just(StatusItem::Recent),
            Just(StatusItem::UidNext),
            Just(StatusItem::UidValidity),
            Just(StatusItem::Unseen),
            Just(StatusItem::Deleted),
            Just(StatusItem::Size),
            Just(StatusItem::HighestModSeq),
            Just(StatusItem::MailboxId),
            Just(StatusItem::AppendLimit),
        ],
        1..4,
    )
}

fn any_body() -> impl Strategy<Value = CommandBody> {
    use CommandBody as B;
    let mb = || any_bytes(30);
    let simple = prop_oneof![
        Just(B::Capability),
        Just(B::Noop),
        Just(B::Logout),
        Just(B::StartTls),
        Just(B::Check),
        Just(B::Close),
        Just(B::Unselect),
        Just(B::Unauthenticate),
        Just(B::Expunge),
        Just(B::Idle),
        Just(B::Namespace),
    ];
    let mailbox_only = prop_oneof![
        mb().prop_map(|mailbox| B::Delete { mailbox }),
        mb().prop_map(|mailbox| B::Subscribe { mailbox }),
        mb().prop_map(|mailbox| B::Unsubscribe { mailbox }),
        mb().prop_map(|mailbox| B::GetAcl { mailbox }),
        mb().prop_map(|mailbox| B::MyRights { mailbox }),
        mb().prop_map(|root| B::GetQuota { root }),
        mb().prop_map(|mailbox| B::GetQuotaRoot { mailbox }),
        mb().prop_map(|mailbox| B::MupdatePush { mailbox }),
        mb().prop_map(|mailbox| B::LocalDelete { mailbox }),
        (mb(), any::<bool>())
            .prop_map(|(mailbox, recursive)| B::Reconstruct { mailbox, recursive }),
    ];
    let auth = prop_oneof![
        (
            any_atom(),
            proptest::option::of(
                "([A-Za-z0-9+/]{4}){0,4}([A-Za-z0-9+/]{2}==)?"
                    .prop_map(|s| Secret::new(s.into_bytes()))
            )
        )
            .prop_map(|(mechanism, initial_response)| B::Authenticate {
                mechanism,
                initial_response
            }),
        (mb(), mb()).prop_map(|(u, p)| B::Login {
            username: u,
            password: Secret::new(p)
        }),
        (mb(), raw_params()).prop_map(|(mailbox, params)| B::Select { mailbox, params }),
        (mb(), raw_params()).prop_map(|(mailbox, params)| B::Examine { mailbox, params }),
        (mb(), any_create_args()).prop_map(|(mailbox, args)| B::Create { mailbox, args }),
        (mb(), any_create_args()).prop_map(|(mailbox, args)| B::LocalCreate { mailbox, args }),
        (mb(), mb(), proptest::option::of(mb())).prop_map(|(from, to, location)| B::Rename {
            from,
            to,
            location
        }),
        (mb(), mb(), proptest::option::of(mb())).prop_map(|(mailbox, server, partition)| {
            B::Xfer {
                mailbox,
                server,
                partition,
            }
        }),
    ];
    let lists = prop_oneof![
        (
            proptest::collection::vec(
                prop_oneof![
                    Just(ListSelect::Subscribed),
                    Just(ListSelect::Remote),
                    Just(ListSelect::RecursiveMatch),
                    Just(ListSelect::SpecialUse),
                    Just(ListSelect::Other(atom("X-SEL"))),
                ],
                0..3
            ),
            mb(),
            proptest::collection::vec(mb(), 1..3),
            proptest::collection::vec(
                prop_oneof![
                    Just(ListReturn::Subscribed),
                    Just(ListReturn::Children),
                    Just(ListReturn::SpecialUse),
                    Just(ListReturn::MyRights),
                    any_status_items().prop_map(ListReturn::Status),
                    Just(ListReturn::Other(
                        atom("METADATA"),
                        Some(v("(\"/shared/x\")"))
                    )),
                    Just(ListReturn::Other(atom("X-RET"), None)),
                ],
                0..3
            )
        )
            .prop_map(|(selection, reference, patterns, returns)| B::List {
                selection,
                reference,
                patterns,
                returns
            }),
        (mb(), mb()).prop_map(|(reference, pattern)| B::Lsub { reference, pattern }),
        (mb(), mb()).prop_map(|(reference, pattern)| B::Rlist { reference, pattern }),
        (mb(), mb()).prop_map(|(reference, pattern)| B::Rlsub { reference, pattern }),
        (mb(), any_status_items()).prop_map(|(mailbox, items)| B::Status { mailbox, items }),
        (
            mb(),
            proptest::collection::vec(
                (
                    proptest::option::of(proptest::collection::vec(any_flag(), 0..3)),
                    proptest::option::of(any_datetime()),
                    proptest::collection::vec(any::<u8>(), 0..40),
                    any::<bool>()
                )
                    .prop_map(|(flags, date, data, binary)| AppendMessage {
                        flags,
                        date,
                        data,
                        binary
                    }),
                1..3
            )
        )
            .prop_map(|(mailbox, messages)| B::Append { mailbox, messages }),
    ];
    let messages = prop_oneof![
        any_set().prop_map(|set| B::UidExpunge { set }),
        (
            any::<bool>(),
            proptest::option::of(proptest::collection::vec(any_atom(), 0..3)),
            proptest::option::of(any_bytes(10)),
            proptest::collection::vec(any_search_key(), 1..4)
        )
            .prop_map(|(uid, returns, charset, criteria)| B::Search {
                uid,
                returns,
                charset,
                criteria
            }),
        (
            any::<bool>(),
            any_set(),
            prop_oneof![
                Just(FetchItems::All),
                Just(FetchItems::Fast),
                Just(FetchItems::Full),
                proptest::collection::vec(any_fetch_attr(), 1..5).prop_map(FetchItems::Attrs),
            ],
            proptest::option::of(Just(v("(CHANGEDSINCE 12345)")))
        )
            .prop_map(|(uid, set, items, modifiers)| B::Fetch {
                uid,
                set,
                items,
                modifiers
            }),
        (
            any::<bool>(),
            any_set(),
            proptest::option::of(Just(v("(UNCHANGEDSINCE 7)"))),
            prop_oneof![
                Just(StoreMode::Replace),
                Just(StoreMode::Add),
                Just(StoreMode::Remove)
            ],
            any::<bool>(),
            proptest::collection::vec(any_flag(), 0..4)
        )
            .prop_map(|(uid, set, modifiers, mode, silent, flags)| B::Store {
                uid,
                set,
                modifiers,
                mode,
                silent,
                flags
            }),
        (any::<bool>(), any_set(), mb()).prop_map(|(uid, set, mailbox)| B::Copy {
            uid,
            set,
            mailbox
        }),
        (any::<bool>(), any_set(), mb()).prop_map(|(uid, set, mailbox)| B::Move {
            uid,
            set,
            mailbox
        }),
    ];
    let admin = prop_oneof![
        proptest::option::of(proptest::collection::vec(
            (any_bytes(10), proptest::option::of(any_bytes(10))),
            0..3
        ))
        .prop_map(B::Id),
        proptest::collection::vec(any_atom(), 1..3).prop_map(B::Enable),
        (mb(), mb(), mb()).prop_map(|(mailbox, identifier, rights)| B::SetAcl {
            mailbox,
            identifier,
            rights
        }),
        (mb(), mb()).prop_map(|(mailbox, identifier)| B::DeleteAcl {
            mailbox,
            identifier
        }),
        (mb(), mb()).prop_map(|(mailbox, identifier)| B::ListRights {
            mailbox,
            identifier
        }),
        (
            mb(),
            proptest::collection::vec((any_atom(), 0u64..=i64::MAX as u64), 0..3)
        )
            .prop_map(|(root, limits)| B::SetQuota { root, limits }),
        (
            proptest::option::of(0u64..=i64::MAX as u64),
            proptest::option::of(prop_oneof![
                Just(MetadataDepth::Zero),
                Just(MetadataDepth::One),
                Just(MetadataDepth::Infinity)
            ]),
            mb(),
            proptest::collection::vec(mb(), 1..3)
        )
            .prop_map(|(max_size, depth, mailbox, entries)| B::GetMetadata {
                options: MetadataOptions { max_size, depth },
                mailbox,
                entries
            }),
        (
            mb(),
            proptest::collection::vec((mb(), proptest::option::of(mb())), 1..3)
        )
            .prop_map(|(mailbox, entries)| B::SetMetadata { mailbox, entries }),
        "[A-Z]{2,6}".prop_filter_map("unknown name", |n| {
            let raw = format!("t {n} some args\r\n").into_bytes();
            match Command::parse(&raw) {
                Ok(Command {
                    body: b @ B::Other { .. },
                    ..
                }) => Some(b),
                _ => None,
            }
        }),
    ];
    prop_oneof![
        simple.boxed(),
        mailbox_only.boxed(),
        auth.boxed(),
        lists.boxed(),
        messages.boxed(),
        admin.boxed()
    ]
}

fn any_tag() -> impl Strategy<Value = Tag> {
    "[A-Za-z0-9.]{1,8}".prop_map(|s| Tag::new(s).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn commands_round_trip(tag in any_tag(), body in any_body(), sync in any::<bool>()) {
        let body = match body {
            // An Other's raw bytes carry their own tag.
            CommandBody::Other { name, raw } => {
                let mut r = tag.as_str().as_bytes().to_vec();
                r.extend_from_slice(raw.get(1..).unwrap_or_default());
                CommandBody::Other { name, raw: r }
            }
            b => b,
        };
        let cmd = Command { tag, body };
        let mode = if sync { LiteralMode::Sync } else { LiteralMode::NonSync };
        let wire = cmd.to_bytes(mode);
        let back = Command::parse(&wire);
        prop_assert_eq!(back.as_ref(), Ok(&cmd), "{}", String::from_utf8_lossy(&wire));

        // The encoding also frames as exactly one message.
        let mut f = Framer::new(Role::Client, Limits::default());
        f.enqueue(&wire);
        prop_assert_eq!(f.next(), Some(Frame::Message(wire.clone())));
        prop_assert!(f.is_idle());
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Command::parse(&data);
    }

    #[test]
    fn random_arguments_to_known_commands_never_panic(
        name in prop_oneof![
            Just("FETCH"), Just("UID FETCH"), Just("SEARCH"), Just("UID SEARCH"), Just("STORE"),
            Just("APPEND"), Just("LIST"), Just("CREATE"), Just("SELECT"), Just("STATUS"),
            Just("GETMETADATA"), Just("SETMETADATA"), Just("ID"), Just("SETQUOTA"), Just("LOGIN"),
            Just("AUTHENTICATE"), Just("RENAME"), Just("XFER"), Just("ENABLE"), Just("COPY"),
        ],
        tail in proptest::collection::vec(
            prop_oneof![
                Just(b' '), Just(b'('), Just(b')'), Just(b'"'), Just(b'{'), Just(b'}'), Just(b'['),
                Just(b']'), Just(b'<'), Just(b'>'), Just(b'\\'), Just(b'*'), Just(b':'), Just(b','),
                Just(b'1'), Just(b'0'), Just(b'A'), Just(b'\r'), Just(b'\n'), any::<u8>(),
            ],
            0..80,
        ),
    ) {
        let mut wire = format!("t {name} ").into_bytes();
        wire.extend_from_slice(&tail);
        wire.extend_from_slice(b"\r\n");
        if let Err(e) = Command::parse(&wire) {
            prop_assert_eq!(e.tag.as_ref().map(Tag::as_str), Some("t"));
        }
    }

    #[test]
    fn search_keys_round_trip_alone(key in any_search_key()) {
        let mut wire = b"t SEARCH ".to_vec();
        key.write(&mut wire, LiteralMode::NonSync);
        wire.extend_from_slice(b"\r\n");
        match Command::parse(&wire) {
            Ok(Command { body: CommandBody::Search { criteria, .. }, .. }) => {
                prop_assert_eq!(criteria, vec![key]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
