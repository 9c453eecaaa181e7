//! Known answers from real Cyrus 3.6 transcripts and the reference's examples, the error table,
//! round trips, chunk splits and hostile input.

use proptest::prelude::*;

use super::response::texts;
use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn tag(s: &str) -> Tag {
    Tag::new(s).unwrap()
}

fn read_commands(chunks: &[&[u8]]) -> Vec<Inbound> {
    let mut r = CommandReader::default();
    let mut out = Vec::new();
    for c in chunks {
        r.enqueue(c);
        while let Some(i) = r.next() {
            out.push(i);
        }
    }
    out
}

fn read_responses(chunks: &[&[u8]]) -> Vec<Result<Response, ResponseError>> {
    let mut r = ResponseReader::default();
    let mut out = Vec::new();
    for c in chunks {
        r.enqueue(c);
        while let Some(i) = r.next() {
            out.push(i);
        }
    }
    out
}

/// Reads `input` whole, split in two at every point, and a byte at a time; all must agree.
fn commands_at_every_split(input: &[u8]) -> Vec<Inbound> {
    let whole = read_commands(&[input]);
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(read_commands(&[a, b]), whole, "split at {i}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(read_commands(&bytes), whole, "byte at a time");
    whole
}

fn responses_at_every_split(input: &[u8]) -> Vec<Response> {
    let whole = read_responses(&[input]);
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(read_responses(&[a, b]), whole, "split at {i}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(read_responses(&bytes), whole, "byte at a time");
    whole.into_iter().map(|r| r.unwrap()).collect()
}

fn commands(inbound: Vec<Inbound>) -> Vec<Command> {
    inbound
        .into_iter()
        .map(|i| match i {
            Inbound::Command(c) => c,
            other => panic!("not a command: {other:?}"),
        })
        .collect()
}

fn encode_all(rs: &[Response], form: StringForm) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rs {
        r.encode(&mut out, form);
    }
    out
}

/// One session of a wire transcript: what the client and the server sent.
#[derive(Default, Debug)]
struct Session {
    client: Vec<u8>,
    server: Vec<u8>,
}

/// Rebuilds the wire bytes of the `S:`/`C:` transcripts (02b, 02c, 03), where each line is shown
/// without its CRLF and a literal's octets are marked `<literal N bytes>` and run on into the
/// next line. `###` lines start a new session; other lines are commentary.
fn sessions(transcript: &str) -> Vec<Session> {
    let mut out = vec![Session::default()];
    for line in transcript.lines() {
        if line.starts_with("###") {
            if !out
                .last()
                .is_some_and(|s| s.client.is_empty() && s.server.is_empty())
            {
                out.push(Session::default());
            }
        } else if let Some(c) = line.strip_prefix("C: ") {
            let s = out.last_mut().unwrap();
            s.client.extend_from_slice(c.as_bytes());
            s.client.extend_from_slice(b"\r\n");
        } else if let Some(c) = line.strip_prefix("S: ") {
            let s = out.last_mut().unwrap();
            if let Some(lit) = c.strip_prefix("<literal ") {
                let (n, octets) = lit.split_once(" bytes>").unwrap();
                assert_eq!(octets.len(), n.parse::<usize>().unwrap());
                s.server.extend_from_slice(octets.as_bytes());
            } else {
                s.server.extend_from_slice(c.as_bytes());
                s.server.extend_from_slice(b"\r\n");
            }
        }
    }
    out.retain(|s| !s.client.is_empty() || !s.server.is_empty());
    out
}

const T02: &str = include_str!("testdata/02-mupdatetest-master.txt");
const T02B: &str = include_str!("testdata/02b-mupdate-wire-master.txt");
const T02C: &str = include_str!("testdata/02c-mupdate-wire-frontend-slave.txt");
const T03: &str = include_str!("testdata/03-ctl_mboxlist-m-backend.txt");

const ALICE_ACL: &str = "alice\tlrswipkxtecdan\tbob\tlrs\t";

/// What the server should answer before login, following Cyrus's dispatch.
fn pre_login_gate(i: &Inbound) -> Option<Response> {
    match i {
        Inbound::Command(c) if c.requires_login() => {
            Some(Response::reply(c.tag.clone(), texts::LOGIN_FIRST))
        }
        Inbound::Bad(e) if e.requires_login() => {
            Some(Response::reply(e.tag.clone().unwrap(), texts::LOGIN_FIRST))
        }
        _ => None,
    }
}

/// Replays one wire session: every client line parses and re-encodes (quoted form, as sent)
/// to the same bytes; every server line decodes and re-encodes (Cyrus's literal form) to the
/// same bytes; pre-login refusals match the gate.
fn replay(s: &Session) -> (Vec<Inbound>, Vec<Response>) {
    let inbound = commands_at_every_split(&s.client);
    let mut reencoded = Vec::new();
    for i in &inbound {
        match i {
            Inbound::Command(c) => c.encode(&mut reencoded, StringForm::Quoted),
            Inbound::Bad(e) => {
                // Only `FROB` in these transcripts; it re-encodes as itself.
                assert_eq!(e.kind, BadCommand::Unrecognized);
                reencoded
                    .extend_from_slice(format!("{} FROB\r\n", e.tag.as_ref().unwrap()).as_bytes());
            }
            Inbound::Continue { .. } => panic!("no sync literal in these transcripts"),
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&reencoded),
        String::from_utf8_lossy(&s.client)
    );
    let responses = responses_at_every_split(&s.server);
    let back = encode_all(&responses, StringForm::Literal);
    assert_eq!(
        String::from_utf8_lossy(&back),
        String::from_utf8_lossy(&s.server)
    );
    (inbound, responses)
}

fn status_of(r: &Response) -> Option<(&str, Status, &str)> {
    match r {
        Response::Status { tag, status, text } => Some((tag.as_str(), *status, text.as_str())),
        _ => None,
    }
}

fn records_for<'a>(rs: &'a [Response], t: &str) -> Vec<&'a MailboxRecord> {
    rs.iter()
        .filter_map(|r| match r {
            Response::Record {
                tag,
                record: Record::Mailbox(m),
            } if tag.as_str() == t => Some(m),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Real Cyrus 3.6 transcripts

#[test]
fn master_wire_transcript_replays_byte_for_byte() {
    let s = sessions(T02B);
    assert_eq!(s.len(), 2);
    let (cmds, rs) = replay(&s[0]);
    let cmds = commands(cmds);
    assert_eq!(
        cmds[0].body,
        CommandBody::Authenticate {
            mech: "PLAIN".into(),
            initial: Some("AGN5cnVzAHNlY3JldA==".into())
        }
    );
    assert_eq!(
        cmds[4].body,
        CommandBody::List {
            prefix: Some("backend2".into())
        }
    );
    let Response::Banner(BannerLine::Ok(Greeting::Mupdate(info))) = &rs[3] else {
        panic!("{:?}", rs[3])
    };
    assert_eq!(info.server_name, "mupdate");
    assert_eq!(info.version, "3.6.1-Debian-3.6.1-4+deb12u5");
    assert_eq!(info.role, ServerRole::Master);
    assert_eq!(
        records_for(&rs, "A02"),
        vec![&MailboxRecord::active(
            "user.alice",
            "backend1!default",
            ALICE_ACL
        )]
    );
    assert_eq!(records_for(&rs, "A03"), Vec::<&MailboxRecord>::new());
    assert_eq!(records_for(&rs, "A04").len(), 8);
    let a05: Vec<_> = records_for(&rs, "A05")
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(a05, ["user.carol", "user.dave"]);
    assert_eq!(
        status_of(rs.last().unwrap()),
        Some(("A07", Status::Ok, "bye-bye"))
    );

    // The second session: everything but AUTHENTICATE and LOGOUT before login is refused with
    // "Please login first", even an unknown word starting with F.
    let (inbound, rs) = replay(&s[1]);
    let answers: Vec<&Response> = rs.iter().filter(|r| status_of(r).is_some()).collect();
    assert_eq!(pre_login_gate(&inbound[0]).as_ref(), Some(answers[0]));
    assert_eq!(pre_login_gate(&inbound[1]).as_ref(), Some(answers[1]));
    assert_eq!(pre_login_gate(&inbound[2]), None);
    assert_eq!(pre_login_gate(&inbound[3]), None);
    assert_eq!(*answers[2], Response::no(tag("B03"), "undefined error!"));
    assert_eq!(*answers[3], Response::reply(tag("B04"), texts::BYE_BYE));
}

#[test]
fn slave_wire_transcript_replays_byte_for_byte() {
    let s = sessions(T02C);
    assert_eq!(s.len(), 1);
    let (_, rs) = replay(&s[0]);
    let banner = Banner::decode(&s[0].server).unwrap();
    assert_eq!(banner.mechanisms, ["PLAIN", "LOGIN"]);
    assert!(banner.offers_deflate() && banner.partial_update && !banner.starttls);
    assert_eq!(
        banner,
        Banner::cyrus(
            vec!["PLAIN".into(), "LOGIN".into()],
            false,
            true,
            "frontend",
            "3.6.1-Debian-3.6.1-4+deb12u5",
            ServerRole::Slave {
                upstream: "127.0.0.1:13905".into()
            }
        )
    );
    // Our encoder writes the slave's banner exactly.
    let banner_bytes = banner.to_bytes();
    assert!(s[0].server.starts_with(&banner_bytes));
    assert_eq!(records_for(&rs, "A04").len(), 8);
}

#[test]
fn ctl_mboxlist_transcript_activate_with_tabs() {
    let s = sessions(T03);
    assert_eq!(s.len(), 1);
    let (cmds, rs) = replay(&s[0]);
    let cmds = commands(cmds);
    assert_eq!(
        cmds[1],
        Command::new(
            tag("M02"),
            CommandBody::Activate {
                mailbox: "user.ghost".into(),
                location: "backend2!default".into(),
                acl: "ghost\tlrswipkxtecdan\t".into()
            }
        )
    );
    assert_eq!(
        *rs.last().unwrap(),
        Response::reply(tag("M03"), texts::BYE_BYE)
    );
}

#[test]
fn mupdatetest_transcript_client_and_raw_server_bytes() {
    // mupdatetest shows the Cyrus client's AUTHENTICATE exactly: mechanism quoted, initial
    // response as a `{n+}` literal. Our encoder must produce the same bytes.
    let start = T02.find("A01 AUTHENTICATE").unwrap();
    let seg = &T02[start..];
    let first = seg.find("\r\n").unwrap() + 2;
    let end = first + seg[first..].find("\r\n").unwrap() + 2;
    let wire = &seg.as_bytes()[..end];
    let ours = Command::new(
        Tag::authenticate(),
        CommandBody::Authenticate {
            mech: "PLAIN".into(),
            initial: Some("AGN5cnVzAHNlY3JldA==".into()),
        },
    );
    assert_eq!(ours.to_bytes(StringForm::Literal), wire);
    assert_eq!(commands(commands_at_every_split(wire)), vec![ours]);
    assert!(T02.contains("C: Q01 LOGOUT\r\n"));

    // The banner lines carry their CRs in this file (`lines()` would drop them).
    let banner: String = T02
        .split('\n')
        .filter_map(|l| l.strip_prefix("S: * "))
        .map(|l| format!("* {l}\n"))
        .collect();
    let b = Banner::decode(banner.as_bytes()).unwrap();
    assert_eq!(b.to_bytes(), banner.as_bytes());

    // The raw responses mupdatetest printed, literals and all.
    let from = T02.find("X01 MAILBOX").unwrap();
    let to = T02.find("X06 OK \"bye-bye\"\r\n").unwrap() + "X06 OK \"bye-bye\"\r\n".len();
    let raw = &T02.as_bytes()[from..to];
    let rs = responses_at_every_split(raw);
    assert_eq!(encode_all(&rs, StringForm::Literal), raw);
    assert_eq!(records_for(&rs, "X01").len(), 8);
    assert_eq!(records_for(&rs, "X02").len(), 1);
    assert_eq!(records_for(&rs, "X04").len(), 2);
    assert_eq!(
        *records_for(&rs, "X01")[3],
        MailboxRecord::active("user.bob", "backend1!default", "bob\tlrswipkxtecdan\t")
    );
    let texts_seen: Vec<_> = rs.iter().filter_map(status_of).collect();
    assert_eq!(
        texts_seen,
        [
            ("X01", Status::Ok, "list complete"),
            ("X02", Status::Ok, "Search completed"),
            ("X03", Status::Ok, "Search completed"),
            ("X04", Status::Ok, "list complete"),
            ("X05", Status::Ok, "Noop done"),
            ("X06", Status::Ok, "bye-bye"),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Reference §1.11 examples

const BE1: &str = "be1.example.org!default";
const BE2: &str = "be2.example.org!default";
const BOB_ACL: &str = "bob\tlrswipkxtecdan\t";

fn reference_banner(mechs: &[&str]) -> Banner {
    Banner::cyrus(
        mechs.iter().map(|m| m.to_string()).collect(),
        false,
        false,
        "mupdate.example.org",
        "3.8.6",
        ServerRole::Master,
    )
}

#[test]
fn example_a_backend_creates_a_mailbox() {
    let client = b"A01 AUTHENTICATE \"PLAIN\" {24+}\r\nAG11cGR1c2VyAHNlY3JldA==\r\n\
X0 RESERVE {8+}\r\nuser.bob {23+}\r\nbe1.example.org!default\r\n\
X1 ACTIVATE {8+}\r\nuser.bob {23+}\r\nbe1.example.org!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n\
Q01 LOGOUT\r\n";
    let want = vec![
        Command::new(
            Tag::authenticate(),
            CommandBody::Authenticate {
                mech: "PLAIN".into(),
                initial: Some("AG11cGR1c2VyAHNlY3JldA==".into()),
            },
        ),
        Command::new(
            Tag::request(0),
            CommandBody::Reserve {
                mailbox: "user.bob".into(),
                location: BE1.into(),
            },
        ),
        Command::new(
            Tag::request(1),
            CommandBody::Activate {
                mailbox: "user.bob".into(),
                location: BE1.into(),
                acl: BOB_ACL.into(),
            },
        ),
        Command::new(Tag::logout(), CommandBody::Logout),
    ];
    assert_eq!(commands(commands_at_every_split(client)), want);
    // Our backend push client is byte-identical to Cyrus's.
    let ours: Vec<u8> = want
        .iter()
        .flat_map(|c| c.to_bytes(StringForm::Literal))
        .collect();
    assert_eq!(ours, client);

    let server = b"* AUTH \"PLAIN\" \"DIGEST-MD5\"\r\n* PARTIAL-UPDATE\r\n\
* OK MUPDATE \"mupdate.example.org\" \"Cyrus IMAP\" \"3.8.6\" \"(master)\"\r\n\
A01 OK \"Authenticated\"\r\nX0 OK \"done\"\r\nX1 OK \"done\"\r\nQ01 OK \"bye-bye\"\r\n";
    let mut ours = reference_banner(&["PLAIN", "DIGEST-MD5"]).to_bytes();
    for r in [
        Response::reply(Tag::authenticate(), texts::AUTHENTICATED),
        Response::reply(Tag::request(0), texts::DONE),
        Response::reply(Tag::request(1), texts::DONE),
        Response::reply(Tag::logout(), texts::BYE_BYE),
    ] {
        r.encode(&mut ours, StringForm::Literal);
    }
    assert_eq!(ours, server);
    let rs = responses_at_every_split(server);
    assert_eq!(encode_all(&rs, StringForm::Literal), server);
}

#[test]
fn example_b_collision() {
    let client = b"X0 RESERVE {8+}\r\nuser.bob {23+}\r\nbe2.example.org!default\r\n";
    let c = commands(commands_at_every_split(client));
    assert_eq!(
        c[0].body,
        CommandBody::Reserve {
            mailbox: "user.bob".into(),
            location: BE2.into()
        }
    );
    assert_eq!(
        Response::reply(Tag::request(0), texts::MAILBOX_EXISTS).to_bytes(StringForm::Literal),
        b"X0 NO \"mailbox already exists\"\r\n"
    );
}

#[test]
fn example_c_slave_streams() {
    let server: &[u8] = b"* AUTH \"PLAIN\"\r\n* PARTIAL-UPDATE\r\n\
* OK MUPDATE \"mupdate.example.org\" \"Cyrus IMAP\" \"3.8.6\" \"(master)\"\r\n\
A01 OK \"Authenticated\"\r\n\
U01 MAILBOX {11+}\r\nshared.team {23+}\r\nbe2.example.org!default {30+}\r\nanyone\tlrs\tbob\tlrswipkxtecdan\t\r\n\
U01 MAILBOX {8+}\r\nuser.bob {23+}\r\nbe1.example.org!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n\
U01 OK \"streaming starts\"\r\n\
U01 RESERVE {10+}\r\nuser.carol {23+}\r\nbe2.example.org!default\r\n\
U01 MAILBOX {10+}\r\nuser.carol {23+}\r\nbe2.example.org!default {21+}\r\ncarol\tlrswipkxtecdan\t\r\n\
U01 DELETE {13+}\r\nuser.bob.Sent\r\n\
N0 OK \"Noop done\"\r\n";
    let u = Tag::update();
    let want = {
        let mut v = vec![
            Response::Banner(BannerLine::Auth(vec!["PLAIN".into()])),
            Response::Banner(BannerLine::PartialUpdate),
        ];
        let b = reference_banner(&["PLAIN"]);
        v.push(Response::Banner(BannerLine::Ok(b.greeting)));
        v.extend([
            Response::reply(Tag::authenticate(), texts::AUTHENTICATED),
            Response::record(
                u.clone(),
                MailboxRecord::active("shared.team", BE2, "anyone\tlrs\tbob\tlrswipkxtecdan\t"),
            ),
            Response::record(u.clone(), MailboxRecord::active("user.bob", BE1, BOB_ACL)),
            Response::reply(u.clone(), texts::STREAMING_STARTS),
            Response::record(u.clone(), MailboxRecord::reserved("user.carol", BE2)),
            Response::record(
                u.clone(),
                MailboxRecord::active("user.carol", BE2, "carol\tlrswipkxtecdan\t"),
            ),
            Response::delete(u, "user.bob.Sent"),
            Response::reply(Tag::noop(0), texts::NOOP_DONE),
        ]);
        v
    };
    assert_eq!(responses_at_every_split(server), want);
    assert_eq!(encode_all(&want, StringForm::Literal), server);

    let client = b"U01 UPDATE\r\nN0 NOOP\r\n";
    let ours: Vec<u8> = [
        Command::new(Tag::update(), CommandBody::Update { hosts: vec![] }),
        Command::new(Tag::noop(0), CommandBody::Noop),
    ]
    .iter()
    .flat_map(|c| c.to_bytes(StringForm::Literal))
    .collect();
    assert_eq!(ours, client);
    assert_eq!(commands(commands_at_every_split(client)).len(), 2);
}

#[test]
fn example_d_ctl_mboxlist_m() {
    let client = b"X0 LIST {16+}\r\nbe1.example.org!\r\nX1 FIND {10+}\r\nuser.carol\r\n\
X2 ACTIVATE {13+}\r\nuser.bob.Sent {23+}\r\nbe1.example.org!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n";
    let want = vec![
        Command::new(
            Tag::request(0),
            CommandBody::List {
                prefix: Some("be1.example.org!".into()),
            },
        ),
        Command::new(
            Tag::request(1),
            CommandBody::Find {
                mailbox: "user.carol".into(),
            },
        ),
        Command::new(
            Tag::request(2),
            CommandBody::Activate {
                mailbox: "user.bob.Sent".into(),
                location: BE1.into(),
                acl: BOB_ACL.into(),
            },
        ),
    ];
    assert_eq!(commands(commands_at_every_split(client)), want);
    let ours: Vec<u8> = want
        .iter()
        .flat_map(|c| c.to_bytes(StringForm::Literal))
        .collect();
    assert_eq!(ours, client);

    let server: &[u8] = b"X0 MAILBOX {8+}\r\nuser.bob {23+}\r\nbe1.example.org!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n\
X0 OK \"list complete\"\r\n\
X1 MAILBOX {10+}\r\nuser.carol {23+}\r\nbe2.example.org!default {21+}\r\ncarol\tlrswipkxtecdan\t\r\n\
X1 OK \"Search completed\"\r\nX2 OK \"done\"\r\n";
    let rs = responses_at_every_split(server);
    assert_eq!(rs.len(), 5);
    assert_eq!(records_for(&rs, "X1")[0].server(), "be2.example.org");
    assert_eq!(encode_all(&rs, StringForm::Literal), server);
    assert_eq!(rs[4], Response::reply(Tag::request(2), texts::DONE));
}

#[test]
fn example_e_human_session_with_errors() {
    let input = b"a FIND \"user.nobody\"\r\nb FIND user.bob\r\nc RESERVE \"user.x\" \"be1.example.org!default\"\r\nd UPDATE \"\"\r\ne LOGOUT\r\n";
    let got = commands_at_every_split(input);
    assert_eq!(got.len(), 5);
    let answer = |i: &Inbound| match i {
        Inbound::Bad(e) => e.to_response().to_bytes(StringForm::Literal),
        other => panic!("{other:?}"),
    };
    assert!(
        matches!(&got[0], Inbound::Command(c) if c.body == CommandBody::Find { mailbox: "user.nobody".into() })
    );
    assert_eq!(answer(&got[1]), b"b BAD \"Extra arguments\"\r\n");
    let Inbound::Command(c) = &got[2] else {
        panic!()
    };
    assert!(c.body.verb().is_write());
    assert_eq!(
        Response::reply(c.tag.clone(), texts::READ_ONLY).to_bytes(StringForm::Literal),
        b"c BAD \"read-only session\"\r\n"
    );
    assert_eq!(answer(&got[3]), b"d BAD \"Badly formed arguments\"\r\n");
    assert!(matches!(&got[4], Inbound::Command(c) if c.body == CommandBody::Logout));
    assert_eq!(
        Response::reply(tag("a"), texts::SEARCH_COMPLETED).to_bytes(StringForm::Literal),
        b"a OK \"Search completed\"\r\n"
    );
}

#[test]
fn example_f_xfer_in_quoted_form() {
    let input = "X0 DEACTIVATE \"user.bob\" \"be1.example.org!default\"\r\n\
X1 DEACTIVATE \"user.bob.Sent\" \"be1.example.org!default\"\r\n\
X0 ACTIVATE \"user.bob\" \"be2.example.org!default\" \"bob\tlrswipkxtecdan\t\"\r\n";
    let cmds = commands(commands_at_every_split(input.as_bytes()));
    assert_eq!(
        cmds[0].body,
        CommandBody::Deactivate {
            mailbox: "user.bob".into(),
            location: BE1.into()
        }
    );
    assert_eq!(
        cmds[2].body,
        CommandBody::Activate {
            mailbox: "user.bob".into(),
            location: BE2.into(),
            acl: BOB_ACL.into()
        }
    );
    let back: Vec<u8> = cmds
        .iter()
        .flat_map(|c| c.to_bytes(StringForm::Quoted))
        .collect();
    assert_eq!(back, input.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// The error table (§1.11 E, §9.1)

#[test]
fn malformed_commands_get_cyrus_texts() {
    let hosts = |n: usize| {
        let mut s = String::from("u UPDATE");
        for i in 0..n {
            s.push_str(&format!(" \"h{i}\""));
        }
        s + "\r\n"
    };
    let h30 = hosts(30);
    let h31 = hosts(31);
    let cases: &[(&[u8], &str)] = &[
        (b"x\r\n", "* BAD \"Need command\"\r\n"),
        (b"x\tNOOP\r\n", "* BAD \"Need command\"\r\n"),
        (b"(x NOOP\r\n", "* BAD \"Need command\"\r\n"),
        (b" NOOP\r\n", "* BAD \"Need command\"\r\n"),
        (b"* NOOP\r\n", "* BAD \"Need command\"\r\n"),
        (b"\r\n", "* BAD \"Need command\"\r\n"),
        (b"", "* BAD \"Need command\"\r\n"),
        (b"a  NOOP\r\n", "a BAD \"Null command\"\r\n"),
        (b"a \r\n", "a BAD \"Null command\"\r\n"),
        (b"a (NOOP)\r\n", "a BAD \"Null command\"\r\n"),
        (b"a FROB\r\n", "a BAD \"Unrecognized command\"\r\n"),
        (b"a CAPABILITY\r\n", "a BAD \"Unrecognized command\"\r\n"),
        (b"a FIND\r\n", "a BAD \"Missing arguments\"\r\n"),
        (b"a FIND(\"x\")\r\n", "a BAD \"Missing arguments\"\r\n"),
        (b"a RESERVE \"x\"\r\n", "a BAD \"Missing arguments\"\r\n"),
        (b"a RESERVE x \"y\"\r\n", "a BAD \"Missing arguments\"\r\n"),
        (
            b"a ACTIVATE \"x\" \"y\"\r\n",
            "a BAD \"Missing arguments\"\r\n",
        ),
        (b"a AUTHENTICATE\r\n", "a BAD \"Missing arguments\"\r\n"),
        (b"a COMPRESS\r\n", "a BAD \"Missing arguments\"\r\n"),
        (
            b"a RESERVE {3+}\r\na\0b {1+}\r\nx\r\n",
            "a BAD \"Missing arguments\"\r\n",
        ),
        (b"b FIND user.bob\r\n", "b BAD \"Extra arguments\"\r\n"),
        (b"a RESERVE \"x\" y\r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a NOOP junk\r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a NOOP\r", "a BAD \"Extra arguments\"\r\n"),
        (b"a NOOP\r\r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a LIST foo\r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a LIST \r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a LIST \"x\"\"y\"\r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a AUTHENTICATE PLAIN\r\n", "a BAD \"Extra arguments\"\r\n"),
        (
            b"a AUTHENTICATE \"PLAIN\" xyz\r\n",
            "a BAD \"Extra arguments\"\r\n",
        ),
        (b"a FIND {3+}\r\na\0b\r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a FIND {3}\nabc\r\n", "a BAD \"Extra arguments\"\r\n"),
        (b"a FIND \"abc\r\n", "a BAD \"Extra arguments\"\r\n"),
        (
            b"a FIND \"x\"\r\nb NOOP\r\n",
            "a BAD \"Extra arguments\"\r\n",
        ),
        (h31.as_bytes(), "u BAD \"Extra arguments\"\r\n"),
        (b"d UPDATE \"\"\r\n", "d BAD \"Badly formed arguments\"\r\n"),
        (b"d UPDATE foo\r\n", "d BAD \"Badly formed arguments\"\r\n"),
        (
            b"d UPDATE \"a\" \r\n",
            "d BAD \"Badly formed arguments\"\r\n",
        ),
        (
            b"d UPDATE {2+}\r\n\0a\r\n",
            "d BAD \"Badly formed arguments\"\r\n",
        ),
        (
            b"a FIND \"\xff\"\r\n",
            "a BAD \"Badly formed arguments\"\r\n",
        ),
    ];
    for (input, want) in cases {
        let err = Command::parse(input).expect_err(&String::from_utf8_lossy(input));
        assert_eq!(
            String::from_utf8_lossy(&err.to_response().to_bytes(StringForm::Literal)),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!err.is_fatal());
    }
    assert!(Command::parse(h30.as_bytes()).is_ok());
}

#[test]
fn login_gate_follows_cyrus_dispatch() {
    // (input, is "Please login first" before login)
    let cases: &[(&[u8], bool)] = &[
        (b"a FROB\r\n", true),
        (b"a LOGIN x y\r\n", true),
        (b"a ACTIVATEX\r\n", true),
        (b"a NOOPS\r\n", true),
        (b"a CAPABILITY\r\n", false),
        (b"a SELECT INBOX\r\n", false),
        (b"a XYZ\r\n", false),
        (b"a FIND user.bob\r\n", true),
        (b"a LIST foo\r\n", true),
        (b"a AUTHENTICATE PLAIN\r\n", false),
        (b"a LOGOUT x\r\n", false),
        (b"a COMPRESS\r\n", false),
        (b"a  x\r\n", false),
        (b"x\r\n", false),
    ];
    for (input, want) in cases {
        let err = Command::parse(input).unwrap_err();
        assert_eq!(
            err.requires_login(),
            *want,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    for (input, want) in [
        (&b"a NOOP\r\n"[..], true),
        (b"a LIST\r\n", true),
        (b"a STARTTLS\r\n", false),
        (b"a COMPRESS \"DEFLATE\"\r\n", false),
        (b"a LOGOUT\r\n", false),
    ] {
        assert_eq!(Command::parse(input).unwrap().requires_login(), want);
    }
    let v = Verb::Find;
    assert!(v.refused_while_streaming() && !v.is_write());
    assert!(!Verb::Noop.refused_while_streaming());
}

#[test]
fn well_formed_variants() {
    let ok = |i: &[u8]| Command::parse(i).unwrap().body;
    assert_eq!(ok(b"a noop\n"), CommandBody::Noop);
    assert_eq!(ok(b"a NoOp\r\n"), CommandBody::Noop);
    assert_eq!(ok(b"a STARTTLS\r\n"), CommandBody::Starttls);
    assert_eq!(
        ok(b"Z01 COMPRESS \"DEFLATE\"\r\n"),
        CommandBody::Compress {
            alg: "DEFLATE".into()
        }
    );
    assert_eq!(ok(b"a LIST\r\n"), CommandBody::List { prefix: None });
    assert_eq!(
        ok(b"a LIST \"\"\r\n"),
        CommandBody::List {
            prefix: Some(String::new())
        }
    );
    assert_eq!(
        ok(b"a UPDATE \"be1\" {3+}\r\nbe2\r\n"),
        CommandBody::Update {
            hosts: vec!["be1".into(), "be2".into()]
        }
    );
    assert_eq!(
        ok(b"a DELETE {8}\r\nuser.bob\r\n"),
        CommandBody::Delete {
            mailbox: "user.bob".into()
        }
    );
    // A quoted string escapes any byte.
    assert_eq!(
        ok(b"a FIND \"us\\er.\\\"b\\\\\"\r\n"),
        CommandBody::Find {
            mailbox: "user.\"b\\".into()
        }
    );
    let auth = |i: &[u8]| match ok(i) {
        CommandBody::Authenticate { mech, initial } => (mech, initial),
        other => panic!("{other:?}"),
    };
    for empty in [
        &b"A01 AUTHENTICATE \"PLAIN\" =\r\n"[..],
        b"A01 AUTHENTICATE \"PLAIN\" =\n",
        b"A01 AUTHENTICATE \"PLAIN\" \"=\"\r\n",
        b"A01 AUTHENTICATE \"PLAIN\" {1+}\r\n=\r\n",
    ] {
        assert_eq!(auth(empty), ("PLAIN".into(), Some(String::new())));
    }
    assert_eq!(
        auth(b"a AUTHENTICATE \"GSSAPI\"\r\n"),
        ("GSSAPI".into(), None)
    );
    // We send the empty initial response as a string, which Cyrus servers accept.
    let c = Command::new(
        Tag::authenticate(),
        CommandBody::Authenticate {
            mech: "PLAIN".into(),
            initial: Some(String::new()),
        },
    );
    assert_eq!(
        c.to_bytes(StringForm::Literal),
        b"A01 AUTHENTICATE \"PLAIN\" {1+}\r\n=\r\n"
    );
    assert_eq!(
        c.to_bytes(StringForm::Quoted),
        b"A01 AUTHENTICATE \"PLAIN\" \"=\"\r\n"
    );
    assert_eq!(
        Command::new(
            Tag::compress(),
            CommandBody::Compress {
                alg: "DEFLATE".into()
            }
        )
        .to_bytes(StringForm::Literal),
        b"Z01 COMPRESS \"DEFLATE\"\r\n"
    );
    assert_eq!(
        Command::new(Tag::starttls(), CommandBody::Starttls).to_bytes(StringForm::Literal),
        b"S01 STARTTLS\r\n"
    );
}

#[test]
fn sync_literal_asks_for_continuation() {
    let got = commands_at_every_split(b"X0 FIND {8}\r\nuser.bob\r\n");
    assert_eq!(got[0], Inbound::Continue { len: 8 });
    assert!(
        matches!(&got[1], Inbound::Command(c) if c.body == CommandBody::Find { mailbox: "user.bob".into() })
    );
    assert_eq!(CONTINUATION, b"+ go ahead\r\n");
}

#[test]
fn server_texts_are_exact() {
    let t = || tag("t");
    let cases: Vec<(Response, &str)> = vec![
        (
            Response::reply(t(), texts::AUTHENTICATED),
            "t OK \"Authenticated\"",
        ),
        (Response::reply(t(), texts::DONE), "t OK \"done\""),
        (
            Response::reply(t(), texts::SEARCH_COMPLETED),
            "t OK \"Search completed\"",
        ),
        (
            Response::reply(t(), texts::LIST_COMPLETE),
            "t OK \"list complete\"",
        ),
        (
            Response::reply(t(), texts::STREAMING_STARTS),
            "t OK \"streaming starts\"",
        ),
        (Response::reply(t(), texts::NOOP_DONE), "t OK \"Noop done\""),
        (Response::reply(t(), texts::BYE_BYE), "t OK \"bye-bye\""),
        (
            Response::reply(t(), texts::BEGIN_TLS),
            "t OK Begin TLS negotiation now",
        ),
        (
            Response::compress_active(t(), "DEFLATE"),
            "t OK DEFLATE active",
        ),
        (
            Response::reply(t(), texts::MAILBOX_EXISTS),
            "t NO \"mailbox already exists\"",
        ),
        (
            Response::reply(t(), texts::MAILBOX_NOT_ACTIVE),
            "t NO \"mailbox not currently active\"",
        ),
        (
            Response::reply(t(), texts::MAILBOX_UNKNOWN),
            "t NO \"mailbox doesn't exist\"",
        ),
        (
            Response::reply(t(), texts::SASL_ERROR),
            "t NO \"SASL Error\"",
        ),
        (
            Response::reply(t(), texts::AUTHENTICATION_FAILURE),
            "t NO \"authentication failure\"",
        ),
        (
            Response::reply(t(), texts::CLIENT_CANCELED),
            "t NO Client canceled authentication",
        ),
        (
            Response::sasl_read_error(t(), &SaslError::NotBase64),
            "t NO Error reading client response: response is not base64",
        ),
        (
            Response::reply(t(), texts::TLS_INIT_ERROR),
            "t NO Error initializing TLS",
        ),
        (
            Response::compress_via_tls(t(), "zlib"),
            "t NO zlib active via TLS",
        ),
        (
            Response::unknown_compress(t(), "LZ4"),
            "t NO Unknown COMPRESS algorithm: LZ4",
        ),
        (
            Response::compress_init_error(t(), "DEFLATE"),
            "t NO Error initializing DEFLATE (incompatible zlib version)",
        ),
        (
            Response::reply(t(), texts::UNRECOGNIZED),
            "t BAD \"Unrecognized command\"",
        ),
        (
            Response::reply(t(), texts::EXTRA_ARGUMENTS),
            "t BAD \"Extra arguments\"",
        ),
        (
            Response::reply(t(), texts::BADLY_FORMED),
            "t BAD \"Badly formed arguments\"",
        ),
        (
            Response::reply(t(), texts::MISSING_ARGUMENTS),
            "t BAD \"Missing arguments\"",
        ),
        (
            Response::reply(t(), texts::NOT_WHEN_STREAMING),
            "t BAD \"not legal when streaming\"",
        ),
        (
            Response::reply(t(), texts::READ_ONLY),
            "t BAD \"read-only session\"",
        ),
        (
            Response::reply(t(), texts::LOGIN_FIRST),
            "t BAD \"Please login first\"",
        ),
        (
            Response::reply(t(), texts::NULL_COMMAND),
            "t BAD \"Null command\"",
        ),
        (
            Response::reply(t(), texts::ALREADY_AUTHENTICATED),
            "t BAD \"already authenticated\"",
        ),
        (
            Response::reply(t(), texts::STARTTLS_AFTER_AUTH),
            "t BAD Can't Starttls after authentication",
        ),
        (
            Response::reply(t(), texts::STARTTLS_AFTER_COMPRESS),
            "t BAD Can't Starttls after Compress",
        ),
        (
            Response::reply(t(), texts::STARTTLS_TWICE),
            "t BAD Already did a successful Starttls",
        ),
        (
            Response::reply(t(), texts::COMPRESS_TWICE),
            "t BAD DEFLATE active via COMPRESS",
        ),
        (Response::need_command(), "* BAD \"Need command\""),
        (
            Response::bye(texts::SERVER_UNABLE),
            "* BYE \"Server Unable\"",
        ),
        (
            Response::bye(texts::NO_LONGER_READY),
            "* BYE \"no longer ready for connections\"",
        ),
        (
            Response::bye(texts::IDLE_TOO_LONG),
            "* BYE \"idle for too long\"",
        ),
        (Response::Challenge(String::new()), ""),
        (
            Response::Challenge("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+".into()),
            "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
        ),
    ];
    for (r, want) in cases {
        let wire = r.to_bytes(StringForm::Literal);
        assert_eq!(String::from_utf8_lossy(&wire), format!("{want}\r\n"));
        // Every one reads back as itself, quoted or bare.
        assert_eq!(Response::decode(&wire).unwrap(), r, "{want}");
    }
    assert_eq!(
        texts::SERVER_UNABLE_WIRE,
        [
            &Response::bye(texts::SERVER_UNABLE).to_bytes(StringForm::Literal)[..],
            b"\0"
        ]
        .concat()
    );
}

#[test]
fn records_in_compatibility_mode_are_quoted() {
    let r = Response::record(tag("U01"), MailboxRecord::active("user.bob", BE1, BOB_ACL));
    let q = r.to_bytes(StringForm::Quoted);
    assert_eq!(
        q,
        b"U01 MAILBOX \"user.bob\" \"be1.example.org!default\" \"bob\tlrswipkxtecdan\t\"\r\n"
    );
    assert_eq!(Response::decode(&q).unwrap(), r);
    let d = Response::delete(tag("U01"), "a\"b\\c").to_bytes(StringForm::Quoted);
    assert_eq!(d, b"U01 DELETE \"a\\\"b\\\\c\"\r\n");
    // Sync literals from a server are read too.
    let s = Response::decode(b"X1 RESERVE {3}\r\nabc \"be1!p\"\r\n").unwrap();
    assert_eq!(
        s,
        Response::record(tag("X1"), MailboxRecord::reserved("abc", "be1!p"))
    );
}

#[test]
fn malformed_server_lines_are_protocol_errors() {
    for (input, want) in [
        (
            &b"X1 MAILBOX user.bob \"l\" \"a\"\r\n"[..],
            ResponseError::Malformed { keyword: "MAILBOX" },
        ),
        (
            b"X1 MAILBOX \"n\" \"l\"\r\n",
            ResponseError::Malformed { keyword: "MAILBOX" },
        ),
        (
            b"X1 RESERVE \"n\" \"l\" \"x\"\r\n",
            ResponseError::Malformed { keyword: "RESERVE" },
        ),
        (
            b"X1 DELETE\r\n",
            ResponseError::Malformed { keyword: "DELETE" },
        ),
        (
            b"X1 FROB \"x\"\r\n",
            ResponseError::UnknownKeyword {
                keyword: "FROB".into(),
            },
        ),
        (b"X1\tOK\r\n", ResponseError::NoTag),
        (
            b"a b c\r\n",
            ResponseError::UnknownKeyword {
                keyword: "b".into(),
            },
        ),
        (b"*\r\n", ResponseError::NoTag),
        (b"X1 OK(\r\n", ResponseError::Malformed { keyword: "OK" }),
    ] {
        assert_eq!(
            Response::decode(input),
            Err(want),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    // A bare text keeps exactly what was sent.
    let r = Response::decode(b"X1 NO  \"odd\" text\r\n").unwrap();
    assert_eq!(r.to_bytes(StringForm::Literal), b"X1 NO  \"odd\" text\r\n");
    assert_eq!(
        Response::decode(b"A01 OK\r\n").unwrap(),
        Response::status(tag("A01"), Status::Ok, Text::bare(""))
    );
}

// ---------------------------------------------------------------------------------------------
// Banner

#[test]
fn banner_reading_is_lenient() {
    let b = Banner::decode(
        b"* AUTH PLAIN \"DIGEST-MD5\"\r\n* X-FUTURE thing\r\n* STARTTLS\r\n* COMPRESS DEFLATE\r\n* ok MUPDATE \"m\" \"Other\" \"1\" \"mupdate://up/\"\r\nX1 OK \"x\"\r\n",
    )
    .unwrap();
    assert_eq!(b.mechanisms, ["PLAIN", "DIGEST-MD5"]);
    assert!(b.starttls && b.offers_deflate() && !b.partial_update && !b.is_master());
    assert_eq!(
        b.greeting,
        Greeting::Mupdate(ServerInfo {
            server_name: "m".into(),
            product: "Other".into(),
            version: "1".into(),
            role: ServerRole::Slave {
                upstream: "up/".into()
            }
        })
    );
    let b = Banner::decode(b"* AUTH\r\n* OK ready\r\n").unwrap();
    assert!(b.mechanisms.is_empty());
    assert_eq!(b.greeting, Greeting::Other("* OK ready".into()));
    assert_eq!(b.to_bytes(), b"* AUTH\r\n* OK ready\r\n");
    assert_eq!(
        Banner::decode(texts::SERVER_UNABLE_WIRE),
        Err(ResponseError::Bye {
            text: "Server Unable".into()
        })
    );
    assert_eq!(
        Banner::decode(b"* AUTH \"PLAIN\"\r\n"),
        Err(ResponseError::Incomplete)
    );
    let cyrus = Banner::cyrus(
        vec!["PLAIN".into()],
        true,
        true,
        "mupdate",
        "3.6.1",
        ServerRole::Master,
    );
    assert_eq!(
        cyrus.to_bytes(),
        b"* AUTH \"PLAIN\"\r\n* STARTTLS\r\n* COMPRESS \"DEFLATE\"\r\n* PARTIAL-UPDATE\r\n* OK MUPDATE \"mupdate\" \"Cyrus IMAP\" \"3.6.1\" \"(master)\"\r\n"
    );
    assert_eq!(Banner::decode(&cyrus.to_bytes()).unwrap(), cyrus);
}

// ---------------------------------------------------------------------------------------------
// SASL lines

#[test]
fn sasl_lines() {
    assert_eq!(SaslResponse::parse(b"*\r\n"), Ok(SaslResponse::Cancel));
    assert_eq!(
        SaslResponse::parse(b"\r\n"),
        Ok(SaslResponse::Data(String::new()))
    );
    assert_eq!(
        SaslResponse::parse(b"AG11cGR1c2VyAHNlY3JldA==\n"),
        Ok(SaslResponse::Data("AG11cGR1c2VyAHNlY3JldA==".into()))
    );
    assert_eq!(SaslResponse::parse(b"a b\r\n"), Err(SaslError::NotBase64));
    assert_eq!(
        SaslResponse::parse(b"a\r\nb\r\n"),
        Err(SaslError::NotBase64)
    );
    let mut r = CommandReader::default();
    r.enqueue(b"dGVzdA==\r\n*\r\nA02 NOOP\r\n");
    assert_eq!(
        r.next_sasl(),
        Some(Ok(SaslResponse::Data("dGVzdA==".into())))
    );
    assert_eq!(r.next_sasl(), Some(Ok(SaslResponse::Cancel)));
    assert!(matches!(r.next(), Some(Inbound::Command(_))));
    assert_eq!(r.next(), None);
    // Server side: an empty challenge line and a base64 one.
    assert_eq!(
        Response::decode(b"\r\n"),
        Ok(Response::Challenge(String::new()))
    );
    let mut out = Vec::new();
    SaslResponse::Cancel.encode(&mut out);
    assert_eq!(out, b"*\r\n");
}

// ---------------------------------------------------------------------------------------------
// Limits

#[test]
fn a_literal_announced_at_one_gigabyte_is_refused_without_allocation() {
    // Non-synchronising: refused at once, tag recovered, connection to be dropped.
    let mut r = CommandReader::default();
    r.enqueue(b"X0 RESERVE {1073741824+}\r\n");
    let Some(Inbound::Bad(e)) = r.next() else {
        panic!()
    };
    assert_eq!(e.tag, Some(Tag::request(0)));
    assert!(e.is_fatal());
    assert!(matches!(e.kind, BadCommand::TooBig { .. }));
    assert!(r.buffered() < 64, "nothing of the announced size is held");
    r.enqueue(&[b'x'; 4096]);
    assert_eq!(r.next(), None);
    assert!(r.buffered() < 64);

    // Synchronising: no `+ go ahead`, refused, and the next command still parses.
    let got = commands_at_every_split(b"X0 RESERVE {1073741824}\r\nX1 NOOP\r\n");
    assert!(matches!(&got[0], Inbound::Bad(e) if e.is_fatal() && e.tag == Some(Tag::request(0))));
    assert!(matches!(&got[1], Inbound::Command(c) if c.body == CommandBody::Noop));

    // Parsed directly, without the framer: refused before touching the octets.
    let e = Command::parse(b"X0 FIND {1073741824+}\r\n").unwrap_err();
    assert!(e.is_fatal());
    assert_eq!(
        String::from_utf8_lossy(&e.to_response().to_bytes(StringForm::Literal)),
        "X0 BAD \"[TOOBIG] string longer than 131072 octets\"\r\n"
    );

    // A client reading a record.
    let mut r = ResponseReader::default();
    r.enqueue(b"U01 MAILBOX {1073741824+}\r\n");
    assert!(matches!(r.next(), Some(Err(ResponseError::TooBig { .. }))));
    assert!(r.buffered() < 64);
    assert!(matches!(
        Response::decode(b"U01 DELETE {1073741824+}\r\n"),
        Err(ResponseError::TooBig { .. })
    ));
}

#[test]
fn long_lines_are_refused() {
    let limits = Limits {
        framing: crate::imap::framing::Limits {
            max_line: 64,
            ..Limits::default().framing
        },
        ..Limits::default()
    };
    let mut r = CommandReader::new(limits);
    let mut input = b"X7 FIND \"".to_vec();
    input.extend(std::iter::repeat_n(b'a', 100));
    input.extend_from_slice(b"\"\r\nX8 NOOP\r\n");
    r.enqueue(&input);
    let Some(Inbound::Bad(e)) = r.next() else {
        panic!()
    };
    assert_eq!(e.tag, Some(Tag::request(7)));
    assert!(e.is_fatal());
    assert!(matches!(r.next(), Some(Inbound::Command(c)) if c.tag == Tag::request(8)));
    // A string limit below the line limit.
    let small = Limits {
        max_string: 4,
        ..Limits::default()
    };
    assert!(Command::parse_with(b"a FIND \"abcdef\"\r\n", &small)
        .unwrap_err()
        .is_fatal());
    assert!(Response::decode_with(b"a DELETE \"abcdef\"\r\n", &small).is_err());
    assert_eq!(
        SaslResponse::parse_with(b"abcdefgh\r\n", &small),
        Err(SaslError::TooLong)
    );
}

#[test]
fn tags() {
    assert_eq!(Tag::new(""), Err(TagError::Empty));
    assert_eq!(Tag::new("a b"), Err(TagError::BadByte));
    assert_eq!(Tag::new("a\0"), Err(TagError::BadByte));
    assert_eq!(Tag::new("*"), Err(TagError::Untagged));
    assert_eq!(Tag::new("X{3}").unwrap().as_str(), "X{3}");
    assert_eq!(Tag::request(12).to_string(), "X12");
    assert_eq!("N3".parse::<Tag>().unwrap(), Tag::noop(3));
}

// ---------------------------------------------------------------------------------------------
// Property tests

fn arb_tag() -> impl Strategy<Value = Tag> {
    "[A-Za-z0-9.+{}-]{1,8}".prop_filter_map("valid tag", |s| Tag::new(s).ok())
}

fn arb_value() -> impl Strategy<Value = String> {
    "[^\\x00]{0,24}"
}

fn arb_host() -> impl Strategy<Value = String> {
    "[^\\x00]{1,12}"
}

fn arb_b64() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/]{0,24}(=|==)?".prop_filter("`=` alone means empty", |s| s != "=")
}

fn arb_body() -> impl Strategy<Value = CommandBody> {
    prop_oneof![
        ("[A-Z0-9_-]{1,20}", proptest::option::of(arb_b64()))
            .prop_map(|(mech, initial)| CommandBody::Authenticate { mech, initial }),
        Just(CommandBody::Starttls),
        "[A-Za-z0-9]{1,10}".prop_map(|alg| CommandBody::Compress { alg }),
        Just(CommandBody::Logout),
        Just(CommandBody::Noop),
        (arb_value(), arb_value())
            .prop_map(|(mailbox, location)| CommandBody::Reserve { mailbox, location }),
        (arb_value(), arb_value(), arb_value()).prop_map(|(mailbox, location, acl)| {
            CommandBody::Activate {
                mailbox,
                location,
                acl,
            }
        }),
        (arb_value(), arb_value())
            .prop_map(|(mailbox, location)| CommandBody::Deactivate { mailbox, location }),
        arb_value().prop_map(|mailbox| CommandBody::Delete { mailbox }),
        arb_value().prop_map(|mailbox| CommandBody::Find { mailbox }),
        proptest::option::of(arb_value()).prop_map(|prefix| CommandBody::List { prefix }),
        proptest::collection::vec(arb_host(), 0..=MAX_UPDATE_HOSTS)
            .prop_map(|hosts| CommandBody::Update { hosts }),
    ]
}

fn arb_form() -> impl Strategy<Value = StringForm> {
    prop_oneof![Just(StringForm::Literal), Just(StringForm::Quoted)]
}

fn arb_text() -> impl Strategy<Value = Text> {
    ("[^\\x00]{0,30}", any::<bool>())
        .prop_map(|(s, q)| if q { Text::quoted(s) } else { Text::bare(s) })
}

fn arb_response() -> impl Strategy<Value = Response> {
    let status = prop_oneof![Just(Status::Ok), Just(Status::No), Just(Status::Bad)];
    let record = prop_oneof![
        (arb_value(), arb_value(), arb_value())
            .prop_map(|(n, l, a)| Record::Mailbox(MailboxRecord::active(n, l, a))),
        (arb_value(), arb_value())
            .prop_map(|(n, l)| Record::Mailbox(MailboxRecord::reserved(n, l))),
        arb_value().prop_map(|name| Record::Delete { name }),
    ];
    let role = prop_oneof![
        Just(ServerRole::Master),
        "[a-z0-9.:]{0,20}".prop_map(|upstream| ServerRole::Slave { upstream }),
    ];
    let info = (
        "[^\\x00\r\n]{0,20}",
        "[^\\x00\r\n]{0,20}",
        "[^\\x00\r\n]{0,20}",
        role,
    )
        .prop_map(|(server_name, product, version, role)| ServerInfo {
            server_name,
            product,
            version,
            role,
        });
    let mechs = proptest::collection::vec("[A-Z0-9_-]{1,10}", 0..4);
    prop_oneof![
        (arb_tag(), status, arb_text()).prop_map(|(tag, status, text)| Response::Status {
            tag,
            status,
            text
        }),
        (arb_tag(), record).prop_map(|(tag, record)| Response::Record { tag, record }),
        arb_text().prop_map(Response::Bye),
        arb_text().prop_map(Response::UntaggedBad),
        "[A-Za-z0-9+/=]{0,40}".prop_map(Response::Challenge),
        mechs
            .clone()
            .prop_map(|m| Response::Banner(BannerLine::Auth(m))),
        mechs.prop_map(|m| Response::Banner(BannerLine::Compress(m))),
        Just(Response::Banner(BannerLine::Starttls)),
        Just(Response::Banner(BannerLine::PartialUpdate)),
        info.prop_map(|i| Response::Banner(BannerLine::Ok(Greeting::Mupdate(i)))),
    ]
}

proptest! {
    #[test]
    fn commands_round_trip(tag in arb_tag(), body in arb_body(), form in arb_form(), split in any::<prop::sample::Index>()) {
        let cmd = Command::new(tag, body);
        let wire = cmd.to_bytes(form);
        prop_assert_eq!(Command::parse(&wire), Ok(cmd.clone()));
        // Through the framer, cut anywhere.
        let at = split.index(wire.len() + 1);
        let got = read_commands(&[&wire[..at], &wire[at..]]);
        let got: Vec<_> = got.into_iter().filter(|i| !matches!(i, Inbound::Continue { .. })).collect();
        prop_assert_eq!(got, vec![Inbound::Command(cmd)]);
    }

    #[test]
    fn responses_round_trip(r in arb_response(), form in arb_form(), split in any::<prop::sample::Index>()) {
        let wire = r.to_bytes(form);
        prop_assert_eq!(Response::decode(&wire), Ok(r.clone()));
        let at = split.index(wire.len() + 1);
        prop_assert_eq!(read_responses(&[&wire[..at], &wire[at..]]), vec![Ok(r)]);
    }

    #[test]
    fn banners_round_trip(mechs in proptest::collection::vec("[A-Z0-9_-]{1,10}", 0..4), tls in any::<bool>(), z in any::<bool>(), name in "[a-z0-9.-]{1,20}", ver in "[0-9.a-z+-]{1,20}") {
        let b = Banner::cyrus(mechs, tls, z, name, ver, ServerRole::Master);
        prop_assert_eq!(Banner::decode(&b.to_bytes()), Ok(b));
    }

    #[test]
    fn sasl_lines_round_trip(s in "[A-Za-z0-9+/=]{0,60}", cancel in any::<bool>()) {
        let r = if cancel { SaslResponse::Cancel } else { SaslResponse::Data(s) };
        let mut out = Vec::new();
        r.encode(&mut out);
        prop_assert_eq!(SaslResponse::parse(&out), Ok(r));
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), split in any::<prop::sample::Index>()) {
        let _ = Command::parse(&data);
        let _ = Response::decode(&data);
        let _ = SaslResponse::parse(&data);
        let _ = Banner::decode(&data);
        let at = split.index(data.len() + 1);
        prop_assert_eq!(read_commands(&[&data[..at], &data[at..]]), read_commands(&[&data]));
        prop_assert_eq!(read_responses(&[&data[..at], &data[at..]]), read_responses(&[&data]));
        let mut r = CommandReader::default();
        r.enqueue(&data);
        while r.next_sasl().is_some() {}
    }

    #[test]
    fn near_miss_commands_never_panic(
        tag in "[a-z0-9*(]{0,3}",
        word in prop_oneof![Just("FIND".to_string()), Just("UPDATE".to_string()), Just("ACTIVATE".to_string()), Just("AUTHENTICATE".to_string()), "[A-Za-z]{0,8}"],
        args in proptest::collection::vec(prop_oneof![
            Just("\"x\"".to_string()), Just("{1+}\r\nx".to_string()), Just("{1}\r\n\0".to_string()),
            Just("atom".to_string()), Just("\"un".to_string()), Just("=".to_string()), Just("".to_string()), Just("{99999999999}\r\n".to_string()),
        ], 0..5),
        sep in prop_oneof![Just(" "), Just("  "), Just("\t")],
        end in prop_oneof![Just("\r\n"), Just("\n"), Just("\r"), Just("")],
    ) {
        let line = format!("{tag} {word}{}{end}", args.iter().map(|a| format!("{sep}{a}")).collect::<String>());
        if let Err(e) = Command::parse(line.as_bytes()) {
            // Every refusal has an answer that itself reads back.
            let wire = e.to_response().to_bytes(StringForm::Literal);
            prop_assert!(Response::decode(&wire).is_ok());
        }
    }
}
