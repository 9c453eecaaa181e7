//! ManageSieve tests: Cyrus 3.6 wire captured from a real `timsieved`, known answers, split
//! points, round trips, random input.

use super::*;
use proptest::prelude::*;

/// The greeting of Cyrus 3.6.1's timsieved (captured from a test instance without TLS).
const CYRUS_GREETING: &[u8] = b"\"IMPLEMENTATION\" \"Cyrus timsieved 3.6.1-Debian-3.6.1-4+deb12u4\"\r\n\"VERSION\" \"1.0\"\r\n\"SASL\" \"PLAIN LOGIN\"\r\n\"SIEVE\" \"encoded-character comparator-i;ascii-numeric fileinto reject ereject vacation vacation-seconds notify enotify include editheader vnd.cyrus.snooze vnd.cyrus.imip envelope environment body imap4flags date ihave mailbox mboxmetadata servermetadata duplicate vnd.cyrus.jmapquery relational regex extlists subaddress copy index variables redirect-deliverby redirect-dsn special-use fcc mailboxid\"\r\n\"NOTIFY\" \"mailto\"\r\n\"EXTLISTS\" \"urn:ietf:params:sieve:addrbook\"\r\n\"UNAUTHENTICATE\"\r\nOK\r\n";

/// Other Cyrus answers from the same capture: a NOOP tag as a literal, a script error as a
/// literal response text.
const CYRUS_ANSWERS: &[u8] = b"OK (TAG {3}\r\ntag) \"Done\"\r\nNO {22}\r\nline 2: syntax error\r\n\r\nNO \"Authenticate first\"\r\nOK \"Logout Complete\"\r\n";

fn client_lines(wire: &[u8]) -> Vec<ServerLine> {
    let mut c = ClientCodec::new(Limits::default());
    c.push(wire);
    let mut out = Vec::new();
    while let Some(l) = c.next() {
        out.push(l.unwrap());
    }
    out
}

fn encode_line(l: &ServerLine) -> Vec<u8> {
    let mut out = Vec::new();
    match l {
        ServerLine::Response(r) => r.encode(&mut out),
        ServerLine::Data(d) => {
            if let Some(c) = d.capability() {
                c.encode(&mut out)
            } else if let Some(s) = d.script_entry() {
                s.encode(&mut out)
            }
        }
    }
    out
}

#[test]
fn cyrus_greeting_parses_and_reencodes_byte_for_byte() {
    let lines = client_lines(CYRUS_GREETING);
    assert_eq!(lines.len(), 8);
    let caps: Vec<Capability> = lines
        .iter()
        .filter_map(|l| match l {
            ServerLine::Data(d) => d.capability(),
            _ => None,
        })
        .collect();
    assert_eq!(caps[0].name, "IMPLEMENTATION");
    assert_eq!(caps[2], Capability::new("SASL", "PLAIN LOGIN"));
    assert_eq!(caps[6], Capability::flag("UNAUTHENTICATE"));
    assert_eq!(
        lines[7],
        ServerLine::Response(Response {
            status: Status::Ok,
            code: None,
            text: None
        })
    );
    let again: Vec<u8> = lines.iter().flat_map(encode_line).collect();
    assert_eq!(again, CYRUS_GREETING);
}

#[test]
fn cyrus_literal_tag_and_literal_error_text() {
    let lines = client_lines(CYRUS_ANSWERS);
    assert_eq!(
        lines[0],
        ServerLine::Response(Response::ok("Done").with_code(ResponseCode::Tag("tag".into())))
    );
    assert_eq!(
        lines[1],
        ServerLine::Response(Response::no("line 2: syntax error\r\n"))
    );
    // Ours sends the multi-line text back as a literal too, and the tag quoted.
    assert_eq!(
        encode_line(&lines[1]),
        b"NO {22}\r\nline 2: syntax error\r\n\r\n"
    );
    assert_eq!(encode_line(&lines[0]), b"OK (TAG \"tag\") \"Done\"\r\n");
    assert_eq!(lines.len(), 4);
}

#[test]
fn script_listing_and_getscript_content() {
    let wire = b"\"a\"\r\n\"vacation\" ACTIVE\r\nOK\r\n{7}\r\nkeep;\r\n\r\nOK\r\n";
    let lines = client_lines(wire);
    let ServerLine::Data(d) = &lines[1] else {
        panic!()
    };
    assert_eq!(
        d.script_entry(),
        Some(ScriptEntry {
            name: "vacation".into(),
            active: true
        })
    );
    let ServerLine::Data(d) = &lines[3] else {
        panic!()
    };
    assert_eq!(d.content(), Some(&b"keep;\r\n"[..]));
    let mut out = Vec::new();
    encode_script(&mut out, b"keep;\r\n");
    assert_eq!(out, b"{7}\r\nkeep;\r\n\r\n");
}

#[test]
fn every_command_known_answer() {
    let cases: Vec<(&[u8], Command)> = vec![
        (
            b"AUTHENTICATE \"PLAIN\" \"AGFsaWNlAHNlY3JldA==\"\r\n",
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some("AGFsaWNlAHNlY3JldA==".into()),
            },
        ),
        (
            b"Authenticate \"SCRAM-SHA-256\"\r\n",
            Command::Authenticate {
                mechanism: "SCRAM-SHA-256".into(),
                initial: None,
            },
        ),
        (
            b"AUTHENTICATE {5+}\r\nPLAIN {4}\r\nAAAA\r\n",
            Command::Authenticate {
                mechanism: "PLAIN".into(),
                initial: Some("AAAA".into()),
            },
        ),
        (b"STARTTLS\r\n", Command::StartTls),
        (b"logout\r\n", Command::Logout),
        (b"CAPABILITY\r\n", Command::Capability),
        (
            b"HAVESPACE \"s\" 4294967295\r\n",
            Command::HaveSpace {
                name: "s".into(),
                size: 4294967295,
            },
        ),
        (
            b"PUTSCRIPT \"s\" {6+}\r\nkeep;\n\r\n",
            Command::PutScript {
                name: "s".into(),
                script: b"keep;\n".to_vec(),
            },
        ),
        (
            b"PUTSCRIPT {1}\r\ns {0}\r\n\r\n",
            Command::PutScript {
                name: "s".into(),
                script: vec![],
            },
        ),
        (
            b"CHECKSCRIPT \"keep;\"\r\n",
            Command::CheckScript {
                script: b"keep;".to_vec(),
            },
        ),
        (b"LISTSCRIPTS\r\n", Command::ListScripts),
        (
            b"SETACTIVE \"\"\r\n",
            Command::SetActive { name: "".into() },
        ),
        (
            b"GETSCRIPT \"a \\\"q\\\" \\\\\"\r\n",
            Command::GetScript {
                name: "a \"q\" \\".into(),
            },
        ),
        (
            b"DELETESCRIPT \"x\"\r\n",
            Command::DeleteScript { name: "x".into() },
        ),
        (
            b"RENAMESCRIPT \"x\" \"y\"\r\n",
            Command::RenameScript {
                old: "x".into(),
                new: "y".into(),
            },
        ),
        (b"NOOP\r\n", Command::Noop { tag: None }),
        (
            b"NOOP \"tag\"\n",
            Command::Noop {
                tag: Some("tag".into()),
            },
        ),
        (b"UNAUTHENTICATE\r\n", Command::Unauthenticate),
    ];
    for (wire, cmd) in cases {
        let mut s = ServerCodec::new(Limits::default());
        s.push(wire);
        assert_eq!(
            s.next_command(),
            Some(Ok(cmd.clone())),
            "{}",
            String::from_utf8_lossy(wire)
        );
        assert_eq!(s.next_command(), None);
        let enc = cmd.to_bytes();
        assert_eq!(Command::parse(&enc), Ok(cmd));
    }
}

#[test]
fn malformed_commands_are_errors_and_the_stream_goes_on() {
    let mut s = ServerCodec::new(Limits::default());
    s.push(b"BLAH\r\nPUTSCRIPT \"x\"\r\nHAVESPACE \"x\" big\r\nNOOP \"a\" \"b\"\r\nGETSCRIPT \"unterminated\r\nSETACTIVE \"\xff\"\r\nNOOP\r\n");
    assert!(matches!(
        s.next_command(),
        Some(Err(Error::UnknownCommand(_)))
    ));
    assert_eq!(
        s.next_command(),
        Some(Err(Error::Expected("script content")))
    );
    assert_eq!(s.next_command(), Some(Err(Error::Expected("script size"))));
    assert_eq!(
        s.next_command(),
        Some(Err(Error::Syntax("expected end of line")))
    );
    assert!(matches!(s.next_command(), Some(Err(_))));
    assert_eq!(s.next_command(), Some(Err(Error::NotUtf8("script name"))));
    assert_eq!(s.next_command(), Some(Ok(Command::Noop { tag: None })));
}

#[test]
fn oversize_literal_is_refused_and_skipped() {
    let mut s = ServerCodec::new(Limits {
        max_line: 1024,
        max_literal: 10,
    });
    s.push(b"PUTSCRIPT \"big\" {20+}\r\n01234567890123456789\r\nNOOP\r\n");
    let e = s.next_command().unwrap().unwrap_err();
    assert!(e.is_too_large(), "{e}");
    assert_eq!(s.next_command(), Some(Ok(Command::Noop { tag: None })));
}

#[test]
fn sasl_responses() {
    assert_eq!(SaslResponse::parse(b"\"*\"\r\n"), Ok(SaslResponse::Abort));
    assert_eq!(
        SaslResponse::parse(b"{4+}\r\nAAAA\r\n"),
        Ok(SaslResponse::Data("AAAA".into()))
    );
    assert!(SaslResponse::parse(b"AAAA\r\n").is_err());
}

#[test]
fn response_codes_known_answers() {
    let cases: Vec<(&[u8], Response)> = vec![
        (
            b"BYE (REFERRAL \"sieve://127.0.0.1:4190\") \"Try Remote.\"\r\n",
            Response::bye("Try Remote.")
                .with_code(ResponseCode::Referral("sieve://127.0.0.1:4190".into())),
        ),
        (
            b"OK (WARNINGS) \"line 2: warning\"\r\n",
            Response::ok("line 2: warning").with_code(ResponseCode::Warnings),
        ),
        (
            b"NO (QUOTA/MAXSIZE) \"Script too large\"\r\n",
            Response::no("Script too large")
                .with_code(ResponseCode::Quota(Some(QuotaKind::MaxSize))),
        ),
        (
            b"NO (QUOTA/MAXSCRIPTS) \"Too many scripts\"\r\n",
            Response::no("Too many scripts")
                .with_code(ResponseCode::Quota(Some(QuotaKind::MaxScripts))),
        ),
        (
            b"NO (NONEXISTENT) \"no\"\r\n",
            Response::no("no").with_code(ResponseCode::NonExistent),
        ),
        (
            b"NO (ACTIVE) \"a\"\r\n",
            Response::no("a").with_code(ResponseCode::Active),
        ),
        (
            b"NO (ALREADYEXISTS) \"a\"\r\n",
            Response::no("a").with_code(ResponseCode::AlreadyExists),
        ),
        (
            b"OK (SASL \"AAAA\")\r\n",
            Response {
                status: Status::Ok,
                code: Some(ResponseCode::Sasl("AAAA".into())),
                text: None,
            },
        ),
        (
            b"NO (X-THING \"v\") \"t\"\r\n",
            Response::no("t").with_code(ResponseCode::Other {
                name: "X-THING".into(),
                arg: Some(b"v".to_vec()),
            }),
        ),
    ];
    for (wire, r) in cases {
        assert_eq!(Response::parse(wire), Ok(r.clone()));
        assert_eq!(r.to_bytes(), wire);
    }
}

/// A full session's client side, fed at every split point, frames identically.
#[test]
fn server_codec_split_at_every_point() {
    let wire: &[u8] = b"AUTHENTICATE \"PLAIN\" {20+}\r\nAGFsaWNlAHNlY3JldA==\r\nPUTSCRIPT \"s\" {12}\r\nkeep;\r\nstop;\r\nLISTSCRIPTS\r\n\"*\"\r\nLOGOUT\r\n";
    let whole = {
        let mut s = ServerCodec::new(Limits::default());
        s.push(wire);
        let mut v = Vec::new();
        while let Some(m) = s.next_raw() {
            v.push(m);
        }
        v
    };
    assert_eq!(whole.len(), 5);
    for i in 0..=wire.len() {
        for j in i..=wire.len() {
            let mut s = ServerCodec::new(Limits::default());
            let mut v = Vec::new();
            for part in [&wire[..i], &wire[i..j], &wire[j..]] {
                s.push(part);
                while let Some(m) = s.next_raw() {
                    v.push(m);
                }
            }
            assert_eq!(v, whole, "split at {i},{j}");
        }
    }
}

#[test]
fn client_codec_split_at_every_point() {
    let whole = client_lines(CYRUS_ANSWERS);
    for i in 0..=CYRUS_ANSWERS.len() {
        let mut c = ClientCodec::new(Limits::default());
        let mut v = Vec::new();
        for part in [&CYRUS_ANSWERS[..i], &CYRUS_ANSWERS[i..]] {
            c.push(part);
            while let Some(l) = c.next() {
                v.push(l.unwrap());
            }
        }
        assert_eq!(v, whole, "split at {i}");
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,20}", "\\PC{0,10}", "[a-z\r\n\"\\\\]{0,2000}",]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        ("[A-Z0-9-]{1,20}", proptest::option::of(text()))
            .prop_map(|(mechanism, initial)| Command::Authenticate { mechanism, initial }),
        Just(Command::StartTls),
        Just(Command::Logout),
        Just(Command::Capability),
        (text(), any::<u64>()).prop_map(|(name, size)| Command::HaveSpace { name, size }),
        (text(), bytes()).prop_map(|(name, script)| Command::PutScript { name, script }),
        bytes().prop_map(|script| Command::CheckScript { script }),
        Just(Command::ListScripts),
        text().prop_map(|name| Command::SetActive { name }),
        text().prop_map(|name| Command::GetScript { name }),
        text().prop_map(|name| Command::DeleteScript { name }),
        (text(), text()).prop_map(|(old, new)| Command::RenameScript { old, new }),
        proptest::option::of(text()).prop_map(|tag| Command::Noop { tag }),
        Just(Command::Unauthenticate),
    ]
}

fn code() -> impl Strategy<Value = ResponseCode> {
    prop_oneof![
        Just(ResponseCode::AuthTooWeak),
        Just(ResponseCode::EncryptNeeded),
        Just(ResponseCode::Quota(None)),
        Just(ResponseCode::Quota(Some(QuotaKind::MaxScripts))),
        Just(ResponseCode::Quota(Some(QuotaKind::MaxSize))),
        text().prop_map(ResponseCode::Referral),
        text().prop_map(ResponseCode::Sasl),
        Just(ResponseCode::TransitionNeeded),
        Just(ResponseCode::TryLater),
        Just(ResponseCode::Active),
        Just(ResponseCode::NonExistent),
        Just(ResponseCode::AlreadyExists),
        text().prop_map(ResponseCode::Tag),
        Just(ResponseCode::Warnings),
        ("X-[A-Z]{1,8}", proptest::option::of(bytes()))
            .prop_map(|(name, arg)| ResponseCode::Other { name, arg }),
    ]
}

proptest! {
    #[test]
    fn commands_round_trip(cmd in command()) {
        let wire = cmd.to_bytes();
        let mut s = ServerCodec::new(Limits { max_line: 64 * 1024, max_literal: 1 << 20 });
        s.push(&wire);
        prop_assert_eq!(s.next_command(), Some(Ok(cmd)));
        prop_assert_eq!(s.next_command(), None);
    }

    #[test]
    fn responses_round_trip(
        status in prop_oneof![Just(Status::Ok), Just(Status::No), Just(Status::Bye)],
        code in proptest::option::of(code()),
        text in proptest::option::of(text()),
    ) {
        let r = Response { status, code, text };
        prop_assert_eq!(client_lines(&r.to_bytes()), vec![ServerLine::Response(r)]);
    }

    #[test]
    fn data_lines_round_trip(name in text(), value in proptest::option::of(text()), active: bool, script in bytes()) {
        let mut wire = Vec::new();
        Capability { name: name.clone(), value: value.clone() }.encode(&mut wire);
        ScriptEntry { name: name.clone(), active }.encode(&mut wire);
        encode_script(&mut wire, &script);
        encode_challenge(&mut wire, &name);
        let lines = client_lines(&wire);
        let data = |i: usize| match &lines[i] { ServerLine::Data(d) => d.clone(), other => panic!("{other:?}") };
        prop_assert_eq!(data(0).capability(), Some(Capability { name: name.clone(), value }));
        prop_assert_eq!(data(1).script_entry(), Some(ScriptEntry { name: name.clone(), active }));
        prop_assert_eq!(data(2).content().map(<[u8]>::to_vec), Some(script));
        prop_assert_eq!(data(3).content().map(<[u8]>::to_vec), Some(name.into_bytes()));
    }

    #[test]
    fn sasl_responses_round_trip(d in "[A-Za-z0-9+/=]{0,3000}") {
        let r = SaslResponse::Data(d);
        let mut wire = Vec::new();
        r.encode(&mut wire);
        let mut s = ServerCodec::new(Limits::default());
        s.push(&wire);
        prop_assert_eq!(s.next_sasl_response(), Some(Ok(r)));
    }

    #[test]
    fn random_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
        let cut = cut.min(input.len());
        let limits = Limits { max_line: 64, max_literal: 32 };
        let mut s = ServerCodec::new(limits);
        let mut c = ClientCodec::new(limits);
        for part in [&input[..cut], &input[cut..]] {
            s.push(part);
            c.push(part);
            while s.next_command().is_some() {}
            while c.next().is_some() {}
        }
        let _ = SaslResponse::parse(&input);
        let _ = Response::parse(&input);
        let _ = Command::parse(&input);
    }

    #[test]
    fn command_like_noise_never_panics(
        words in proptest::collection::vec(prop_oneof![
            Just("PUTSCRIPT".to_string()), Just("{3+}\r\nabc".to_string()), Just("\"x\"".to_string()),
            Just("{99999999999999999999999}".to_string()), Just("12".to_string()), Just("(".to_string()),
            Just("OK".to_string()), Just("\r\n".to_string()), "[ -~]{0,4}",
        ], 0..12)
    ) {
        let wire = words.join(" ");
        let mut s = ServerCodec::new(Limits::default());
        let mut c = ClientCodec::new(Limits::default());
        s.push(wire.as_bytes());
        c.push(wire.as_bytes());
        while s.next_command().is_some() {}
        while c.next().is_some() {}
    }
}
