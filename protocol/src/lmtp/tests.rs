//! LMTP tests: Cyrus transcripts replayed, known answers, chunk splits, round trips.

use super::*;
use proptest::prelude::*;

/// LMTP over the frontend unix socket (transcript 05).
const UNIX_WIRE: &str = r#"S: 220 frontend Cyrus LMTP 3.6.1-Debian-3.6.1-4+deb12u5 server ready
C: LHLO harness.local
S: 250-frontend
S: 250-8BITMIME
S: 250-ENHANCEDSTATUSCODES
S: 250-PIPELINING
S: 250-SIZE
S: 250-AUTH EXTERNAL
S: 250-IGNOREQUOTA
S: 250 Ok SESSIONID=<cyrus-frontend-1795860524-13678-1-3919510894870281527>
C: MAIL FROM:<sender@example.org>
S: 250 2.1.0 ok
C: RCPT TO:<alice>
S: 250 2.1.5 ok
C: RCPT TO:<bob>
S: 250 2.1.5 ok
C: RCPT TO:<bob+Drafts>
S: 250 2.1.5 ok
C: RCPT TO:<nosuchuser>
S: 550-Mailbox unknown.  Either there is no mailbox associated with this
S: 550-name or you do not have authorization to see it.
S: 550 5.1.1 User unknown
C: DATA
S: 354 go ahead
C: From: Sender <sender@example.org>
C: To: alice@example.org, bob@example.org
C: Subject: murder test 1
C: Message-ID: <murder-test-1@example.org>
C: Date: Thu, 01 Jan 2026 00:00:00 +0000
C: 
C: Hello through lmtpproxyd (unix socket).
C: ..a line starting with a dot
C: .
S: 250 2.1.5 Success SESSIONID=<cyrus-frontend-1795860524-13678-2-8558719395294102800>
S: 250 2.1.5 Success SESSIONID=<cyrus-frontend-1795860524-13678-2-8558719395294102800>
S: 250 2.1.5 Success SESSIONID=<cyrus-frontend-1795860524-13678-2-8558719395294102800>
C: QUIT
S: 221 2.0.0 bye
"#;

/// lmtptest with AUTH PLAIN (transcript 05c).
const LMTPTEST: &str = r#"S: 220 frontend Cyrus LMTP 3.6.1-Debian-3.6.1-4+deb12u5 server ready
C: LHLO lmtptest
S: 250-frontend
S: 250-8BITMIME
S: 250-ENHANCEDSTATUSCODES
S: 250-PIPELINING
S: 250-SIZE
S: 250-AUTH PLAIN LOGIN
S: 250-IGNOREQUOTA
S: 250 Ok SESSIONID=<cyrus-frontend-1795860524-13683-4-5955800842235086452>
C: AUTH PLAIN AGN5cnVzAHNlY3JldA==
S: 235 Authenticated!
C: QUIT
"#;

/// Everything python smtplib.LMTP sent (transcript 05b `send:` lines).
const SMTPLIB_CLIENT: &[u8] = b"lhlo [127.0.0.1]\r\nmail FROM:<x@example.org> size=23\r\nrset\r\nrset\r\nAUTH PLAIN AGN5cnVzAHNlY3JldA==\r\nmail FROM:<sender@example.org> size=164\r\nrcpt TO:<alice>\r\nrcpt TO:<bob>\r\ndata\r\nFrom: sender@example.org\r\nTo: alice@example.org\r\nSubject: murder test 2 (tcp+auth)\r\nMessage-ID: <murder-test-2@example.org>\r\n\r\nHello via TCP lmtpproxyd with AUTH.\r\n.\r\nquit\r\n";

/// Everything the frontend answered (transcript 05b `reply:` lines).
const SMTPLIB_SERVER: &[u8] = b"250-frontend\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-SIZE\r\n250-AUTH PLAIN LOGIN\r\n250-IGNOREQUOTA\r\n250 Ok SESSIONID=<cyrus-frontend-1795860524-13683-1-16145043231919354246>\r\n430 Authentication required\r\n250 2.0.0 Ok SESSIONID=<cyrus-frontend-1795860524-13683-3-9716371653540206144>\r\n250 2.0.0 Ok SESSIONID=<cyrus-frontend-1795860524-13683-4-5955800842235086452>\r\n235 Authenticated!\r\n250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n250 2.1.5 Success SESSIONID=<cyrus-frontend-1795860524-13683-4-5955800842235086452>\r\n250 2.1.5 Success SESSIONID=<cyrus-frontend-1795860524-13683-4-5955800842235086452>\r\n";

/// Feed the codec `pieces`, beginning DATA after each DATA command; merge adjacent chunks.
fn decode_client_stream(pieces: &[&[u8]], limit: Option<usize>) -> Vec<Result<ServerEvent, Error>> {
    let mut s = ServerCodec::new(Limits::default());
    let mut out: Vec<Result<ServerEvent, Error>> = Vec::new();
    for p in pieces {
        s.push(p);
        while let Some(ev) = s.next() {
            if matches!(ev, Ok(ServerEvent::Command(Command::Data))) {
                s.begin_data(limit);
            }
            match (out.last_mut(), ev) {
                (Some(Ok(ServerEvent::DataChunk(prev))), Ok(ServerEvent::DataChunk(more))) => {
                    prev.extend(more)
                }
                (_, ev) => out.push(ev),
            }
        }
    }
    out
}

fn decode_replies(pieces: &[&[u8]]) -> Vec<Result<Reply, Error>> {
    let mut c = ClientCodec::new(Limits::default());
    let mut out = Vec::new();
    for p in pieces {
        c.push(p);
        while let Some(r) = c.next_reply() {
            out.push(r);
        }
    }
    out
}

/// Split a `C:`/`S:` transcript into the client and server byte streams.
fn streams(transcript: &str) -> (Vec<u8>, Vec<u8>) {
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for line in transcript.lines() {
        if let Some(l) = line.strip_prefix("C: ") {
            c.extend_from_slice(l.as_bytes());
            c.extend_from_slice(b"\r\n");
        } else if let Some(l) = line.strip_prefix("S: ") {
            s.extend_from_slice(l.as_bytes());
            s.extend_from_slice(b"\r\n");
        }
    }
    (c, s)
}

/// Decode at every split point, check the result is the same, and return it.
fn split_invariant_events(wire: &[u8]) -> Vec<ServerEvent> {
    let whole = decode_client_stream(&[wire], None);
    for i in 0..=wire.len() {
        let (a, b) = wire.split_at(i);
        assert_eq!(decode_client_stream(&[a, b], None), whole, "split at {i}");
    }
    whole
        .into_iter()
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Decode replies at every split point; every reply re-encodes to exactly the wire bytes.
fn split_invariant_replies(wire: &[u8]) -> Vec<Reply> {
    let whole = decode_replies(&[wire]);
    for i in 0..=wire.len() {
        let (a, b) = wire.split_at(i);
        assert_eq!(decode_replies(&[a, b]), whole, "split at {i}");
    }
    let replies: Vec<Reply> = whole
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let re: Vec<u8> = replies.iter().flat_map(Reply::to_bytes).collect();
    assert_eq!(String::from_utf8_lossy(&re), String::from_utf8_lossy(wire));
    replies
}

fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

fn cmd(c: Command) -> ServerEvent {
    ServerEvent::Command(c)
}

fn rcpt(to: &str) -> ServerEvent {
    cmd(Command::Rcpt {
        to: addr(to),
        params: vec![],
    })
}

fn cyrus_caps(auth: &[&str]) -> Vec<LhloCapability> {
    vec![
        LhloCapability::EightBitMime,
        LhloCapability::EnhancedStatusCodes,
        LhloCapability::Pipelining,
        LhloCapability::Size(None),
        LhloCapability::Auth(auth.iter().map(|m| m.parse().unwrap()).collect()),
        LhloCapability::IgnoreQuota,
    ]
}

#[test]
fn cyrus_unix_socket_transcript_replays() {
    let (client, server) = streams(UNIX_WIRE);
    let events = split_invariant_events(&client);
    assert_eq!(
        events,
        vec![
            cmd(Command::Lhlo(Domain::new("harness.local").unwrap())),
            cmd(Command::Mail { from: ReversePath::Address(addr("sender@example.org")), params: vec![] }),
            rcpt("alice"),
            rcpt("bob"),
            rcpt("bob+Drafts"),
            rcpt("nosuchuser"),
            cmd(Command::Data),
            ServerEvent::DataChunk(
                b"From: Sender <sender@example.org>\r\nTo: alice@example.org, bob@example.org\r\n\
                  Subject: murder test 1\r\nMessage-ID: <murder-test-1@example.org>\r\n\
                  Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\nHello through lmtpproxyd (unix socket).\r\n\
                  .a line starting with a dot\r\n"
                    .to_vec()
            ),
            ServerEvent::DataEnd,
            cmd(Command::Quit),
        ]
    );
    // Client lines re-encode byte for byte (DATA body via the dot-stuffer).
    let mut re = Vec::new();
    for ev in &events {
        match ev {
            ServerEvent::Command(c) => c.encode(&mut re),
            ServerEvent::DataChunk(d) => dot_stuff(d, &mut re),
            ServerEvent::DataEnd => {}
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&re),
        String::from_utf8_lossy(&client)
    );

    let replies = split_invariant_replies(&server);
    let sid = "cyrus-frontend-1795860524-13678-1-3919510894870281527";
    let delivered = "cyrus-frontend-1795860524-13678-2-8558719395294102800";
    assert_eq!(
        replies,
        vec![
            Reply::greeting("frontend Cyrus LMTP 3.6.1-Debian-3.6.1-4+deb12u5 server ready")
                .unwrap(),
            Reply::cyrus_lhlo("frontend", &cyrus_caps(&["EXTERNAL"]), sid).unwrap(),
            Reply::mail_ok(),
            Reply::rcpt_ok(),
            Reply::rcpt_ok(),
            Reply::rcpt_ok(),
            Reply::user_unknown(),
            Reply::go_ahead(),
            Reply::delivered(delivered).unwrap(),
            Reply::delivered(delivered).unwrap(),
            Reply::delivered(delivered).unwrap(),
            Reply::bye(),
        ]
    );
    let lhlo = Lhlo::from_reply(&replies[1]).unwrap();
    assert_eq!(lhlo.host.as_str(), "frontend");
    assert_eq!(
        lhlo.auth_mechanisms(),
        Some(&["EXTERNAL".parse().unwrap()][..])
    );
    assert!(lhlo.has(&LhloCapability::IgnoreQuota) && !lhlo.has(&LhloCapability::StartTls));
    assert!(replies[6].is_permanent() && replies[6].texts().len() == 3);
}

#[test]
fn cyrus_lmtptest_transcript_replays() {
    let (client, server) = streams(LMTPTEST);
    assert_eq!(
        split_invariant_events(&client),
        vec![
            cmd(Command::Lhlo(Domain::new("lmtptest").unwrap())),
            cmd(Command::Auth {
                mechanism: "PLAIN".parse().unwrap(),
                initial: Some(InitialResponse::Data(
                    SaslData::new("AGN5cnVzAHNlY3JldA==").unwrap()
                )),
            }),
            cmd(Command::Quit),
        ]
    );
    let replies = split_invariant_replies(&server);
    assert_eq!(
        replies[1],
        Reply::cyrus_lhlo(
            "frontend",
            &cyrus_caps(&["PLAIN", "LOGIN"]),
            "cyrus-frontend-1795860524-13683-4-5955800842235086452"
        )
        .unwrap()
    );
    assert_eq!(replies[2], Reply::authenticated());
}

#[test]
fn python_smtplib_lmtp_transcript_replays() {
    let events = split_invariant_events(SMTPLIB_CLIENT);
    let size = |n| vec![MailParam::Size(n)];
    assert_eq!(
        events,
        vec![
            cmd(Command::Lhlo(Domain::new("[127.0.0.1]").unwrap())),
            cmd(Command::Mail { from: ReversePath::Address(addr("x@example.org")), params: size(23) }),
            cmd(Command::Rset),
            cmd(Command::Rset),
            cmd(Command::Auth {
                mechanism: "PLAIN".parse().unwrap(),
                initial: Some(InitialResponse::Data(SaslData::new("AGN5cnVzAHNlY3JldA==").unwrap())),
            }),
            cmd(Command::Mail { from: ReversePath::Address(addr("sender@example.org")), params: size(164) }),
            rcpt("alice"),
            rcpt("bob"),
            cmd(Command::Data),
            ServerEvent::DataChunk(
                b"From: sender@example.org\r\nTo: alice@example.org\r\nSubject: murder test 2 (tcp+auth)\r\n\
                  Message-ID: <murder-test-2@example.org>\r\n\r\nHello via TCP lmtpproxyd with AUTH.\r\n"
                    .to_vec()
            ),
            ServerEvent::DataEnd,
            cmd(Command::Quit),
        ]
    );
    let replies = split_invariant_replies(SMTPLIB_SERVER);
    assert_eq!(replies[1], Reply::auth_required());
    assert!(replies[1].is_transient());
    assert_eq!(
        replies[2],
        Reply::reset_ok("cyrus-frontend-1795860524-13683-3-9716371653540206144").unwrap()
    );
}

#[test]
fn reply_known_answers_reencode_exactly() {
    let table: &[&[u8]] = &[
        b"451 4.4.3 Server(s) unavailable to complete operation\r\n",
        b"451 4.3.0 Retry operation\r\n",
        b"452 4.2.2 Over quota\r\n",
        b"451 4.2.1 Mailbox is being moved\r\n",
        b"554 5.6.0 Message contains invalid header\r\n",
        b"550-5.7.1 Sieve says no\r\n550-5.7.1 really\r\n550 5.7.1 no\r\n",
        b"250-first\r\n250-2.0.0 odd\r\n250 last\r\n",
        b"334 \r\n",
        b"334 VXNlcm5hbWU6\r\n",
        b"250-\r\n250 2.0.0\r\n",
        b"503 5.5.0 AUTH not permitted now\r\n",
        b"421 4.4.1 bye\r\n",
    ];
    for wire in table {
        let r = split_invariant_replies(wire);
        assert_eq!(r.len(), 1, "{}", String::from_utf8_lossy(wire));
    }
    let sieve = &decode_replies(&[table[5]])[0].clone().unwrap();
    assert_eq!(sieve.placement(), EnhancedPlacement::EveryLine);
    assert_eq!(sieve.enhanced(), Some(EnhancedCode::new(5, 7, 1).unwrap()));
    let odd = &decode_replies(&[table[6]])[0].clone().unwrap();
    assert_eq!(odd.enhanced(), None);
    assert_eq!(
        Reply::line(451, "4.4.3 Server(s) unavailable to complete operation").unwrap(),
        Reply::server_unavailable()
    );
    // A code of the wrong class is text, not an enhanced code.
    let r = Reply::line(250, "5.1.1 looks like a code").unwrap();
    assert_eq!(
        (r.enhanced(), r.last_text()),
        (None, "5.1.1 looks like a code")
    );
}

#[test]
fn reply_classification() {
    assert_eq!(Reply::rcpt_ok().class(), ReplyClass::Positive);
    assert_eq!(Reply::go_ahead().class(), ReplyClass::Intermediate);
    assert!(Reply::retry().is_transient());
    assert!(Reply::over_quota("Over quota").unwrap().is_transient());
    assert!(Reply::user_unknown().is_permanent());
    assert!(Reply::message_too_large().is_permanent());
    assert!(
        ReplyCode::new(199).is_err() && ReplyCode::new(600).is_err() && ReplyCode::new(200).is_ok()
    );
    assert!(EnhancedCode::new(3, 0, 0).is_err() && EnhancedCode::new(2, 1000, 0).is_err());
    assert!(Reply::new(
        ReplyCode::new(250).unwrap(),
        Some(EnhancedCode::new(5, 1, 1).unwrap()),
        EnhancedPlacement::LastLine,
        vec![Text::default()]
    )
    .is_err());
    assert!(Reply::lines(250, None, &[]).is_err());
}

#[test]
fn malformed_replies_are_typed_errors_and_reading_resumes() {
    let wire = b"25x oops\r\n999 nope\r\n250-a\r\n251 b\r\n250 ok\r\n";
    let got = decode_replies(&[wire]);
    assert!(matches!(got[0], Err(Error::BadReply(_))));
    assert_eq!(got[1], Err(Error::InvalidReplyCode(999)));
    assert_eq!(
        got[2],
        Err(Error::MixedReplyCodes {
            first: 250,
            then: 251
        })
    );
    assert_eq!(got[3], Ok(Reply::line(250, "ok").unwrap()));
    // Too many lines: one error, the rest of that reply skipped.
    let mut c = ClientCodec::new(Limits {
        reply_lines: 2,
        ..Limits::default()
    });
    c.push(b"250-a\r\n250-b\r\n250-c\r\n250 d\r\n221 bye\r\n");
    assert_eq!(
        c.next_reply(),
        Some(Err(Error::TooManyReplyLines { limit: 2 }))
    );
    assert_eq!(c.next_reply(), Some(Ok(Reply::line(221, "bye").unwrap())));
}

#[test]
fn addresses_parse_known_answers() {
    let a = addr("\"john doe\"@example.org");
    assert_eq!(
        (a.local(), a.domain().map(Domain::as_str)),
        ("john doe", Some("example.org"))
    );
    assert_eq!(a.to_string(), "\"john doe\"@example.org");
    let a = addr("\"a\\\"b\"@x");
    assert_eq!(a.local(), "a\"b");
    assert_eq!(a.to_string(), "\"a\\\"b\"@x");
    assert_eq!(
        addr("@relay.example,@b.example:user@example.org"),
        addr("user@example.org")
    );
    assert_eq!(
        addr("user@[192.0.2.1]").domain().unwrap().as_str(),
        "[192.0.2.1]"
    );
    for bad in [
        "", "a b@x", "a@", "a@b c", "<a>", "\"open@x", "a..b@x", "a@x@y",
    ] {
        assert!(Address::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn detail_and_downcase_helpers() {
    let a = addr("Bob+Drafts@Example.ORG");
    assert_eq!(a.user_and_detail(), ("Bob", Some("Drafts")));
    let d = a.downcase_user();
    assert_eq!(d.local(), "bob+Drafts");
    assert_eq!(d.domain().unwrap().as_str(), "Example.ORG");
    assert_eq!(addr("alice").user_and_detail(), ("alice", None));
    assert_eq!(addr("ALICE").downcase_user().local(), "alice");
    assert_eq!(addr("a+b+c").user_and_detail(), ("a", Some("b+c")));
}

#[test]
fn commands_known_answers() {
    let table: Vec<(&str, Command)> = vec![
        (
            "MAIL FROM:<>",
            Command::Mail {
                from: ReversePath::Null,
                params: vec![],
            },
        ),
        (
            "mail from: <a@b> BODY=8BITMIME AUTH=<>",
            Command::Mail {
                from: ReversePath::Address(addr("a@b")),
                params: vec![
                    MailParam::Body(BodyType::EightBitMime),
                    MailParam::Auth(None),
                ],
            },
        ),
        (
            "MAIL FROM:<a@b> AUTH=mail+2Bproxy SIZE=0 X-FOO=bar X-FLAG",
            Command::Mail {
                from: ReversePath::Address(addr("a@b")),
                params: vec![
                    MailParam::Auth(Some("mail+proxy".into())),
                    MailParam::Size(0),
                    MailParam::Other(Param::new("X-FOO", Some("bar")).unwrap()),
                    MailParam::Other(Param::new("X-FLAG", None).unwrap()),
                ],
            },
        ),
        (
            "RCPT TO:<bob@example.org> IGNOREQUOTA NOTIFY=NEVER",
            Command::Rcpt {
                to: addr("bob@example.org"),
                params: vec![
                    RcptParam::IgnoreQuota,
                    RcptParam::Other(Param::new("NOTIFY", Some("NEVER")).unwrap()),
                ],
            },
        ),
        ("NOOP", Command::Noop),
        ("noop ignored", Command::Noop),
        ("STARTTLS", Command::Starttls),
        ("VRFY bob", Command::Vrfy("bob".parse().unwrap())),
        (
            "AUTH LOGIN",
            Command::Auth {
                mechanism: "LOGIN".parse().unwrap(),
                initial: None,
            },
        ),
        (
            "AUTH EXTERNAL =",
            Command::Auth {
                mechanism: "EXTERNAL".parse().unwrap(),
                initial: Some(InitialResponse::Empty),
            },
        ),
        (
            "TRACE abc",
            Command::Unknown {
                verb: Verb::new("TRACE").unwrap(),
                args: "abc".parse().unwrap(),
            },
        ),
    ];
    for (line, want) in table {
        assert_eq!(Command::parse(line.as_bytes()).unwrap(), want, "{line}");
    }
    let mut out = Vec::new();
    Command::parse(b"mail from: <a@b> auth=<> size=5")
        .unwrap()
        .encode(&mut out);
    assert_eq!(out, b"MAIL FROM:<a@b> AUTH=<> SIZE=5\r\n");
}

#[test]
fn bad_commands_are_typed_errors_with_replies() {
    let table: Vec<(&str, Error)> = vec![
        ("", Error::EmptyLine),
        ("LHLO", Error::MissingArgument { command: "LHLO" }),
        (
            "MAIL TO:<a>",
            Error::Syntax {
                command: "MAIL",
                expected: "FROM:<path>",
            },
        ),
        ("RCPT TO:<>", Error::InvalidAddress(String::new())),
        ("RCPT TO:bob", Error::InvalidAddress("bob".into())),
        (
            "MAIL FROM:<a> SIZE=x",
            Error::InvalidParameter("SIZE=x".into()),
        ),
        (
            "MAIL FROM:<a> BODY=9BIT",
            Error::InvalidParameter("BODY=9BIT".into()),
        ),
        (
            "MAIL FROM:<a>SIZE=1",
            Error::InvalidParameter("SIZE=1".into()),
        ),
        ("DATA now", Error::TooManyArguments { command: "DATA" }),
        ("AUTH", Error::MissingArgument { command: "AUTH" }),
    ];
    for (line, want) in table {
        let err = Command::parse(line.as_bytes()).unwrap_err();
        assert_eq!(err, want, "{line}");
        assert!(err.reply().is_permanent());
    }
    assert_eq!(
        Error::Frame(FrameError::BodyTooLarge { limit: 1 })
            .reply()
            .code()
            .get(),
        552
    );
}

#[test]
fn oversized_data_gives_552_and_the_session_continues() {
    let wire = b"DATA\r\n0123456789\r\n..x\r\n.\r\nQUIT\r\n";
    let whole = decode_client_stream(&[wire], Some(5));
    for i in 0..=wire.len() {
        let (a, b) = wire.split_at(i);
        assert_eq!(decode_client_stream(&[a, b], Some(5)), whole);
    }
    assert_eq!(
        whole,
        vec![
            Ok(cmd(Command::Data)),
            Ok(ServerEvent::DataChunk(b"01234".to_vec())),
            Err(Error::Frame(FrameError::BodyTooLarge { limit: 5 })),
            Ok(ServerEvent::DataEnd),
            Ok(cmd(Command::Quit)),
        ]
    );
}

#[test]
fn starttls_discards_pipelined_plaintext() {
    let mut s = ServerCodec::new(Limits::default());
    s.push(b"STARTTLS\r\nRCPT TO:<evil>\r\n");
    assert_eq!(s.next(), Some(Ok(cmd(Command::Starttls))));
    assert!(!s.buffered().is_empty());
    s.clear();
    assert_eq!(s.next(), None);
}

#[test]
fn sasl_exchange_lines() {
    let mut s = ServerCodec::new(Limits::default());
    s.push(b"AUTH LOGIN\r\nYWxpY2U=\r\n*\r\n");
    assert!(matches!(
        s.next(),
        Some(Ok(ServerEvent::Command(Command::Auth { .. })))
    ));
    assert_eq!(
        s.next_sasl_response(),
        Some(Ok(SaslResponse::Data(SaslData::new("YWxpY2U=").unwrap())))
    );
    assert_eq!(s.next_sasl_response(), Some(Ok(SaslResponse::Cancel)));
    assert_eq!(
        Reply::sasl_challenge(&SaslData::new("VXNlcm5hbWU6").unwrap()).to_bytes(),
        b"334 VXNlcm5hbWU6\r\n"
    );
}

#[test]
fn xtext_round_trips() {
    assert_eq!(xtext_encode("a+b=c d"), "a+2Bb+3Dc+20d");
    assert_eq!(xtext_decode("a+2Bb+3Dc+20d").unwrap(), "a+b=c d");
    assert!(
        xtext_decode("a+2").is_err()
            && xtext_decode("a+zz").is_err()
            && xtext_decode("a=b").is_err()
    );
}

fn arb_local() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\\.[a-zA-Z0-9+_-]{1,5})?",
        "[ -~]{0,12}"
    ]
}

fn arb_address() -> impl Strategy<Value = Address> {
    (
        arb_local(),
        proptest::option::of(prop_oneof![
            "[a-z0-9-]{1,10}(\\.[a-z]{2,5})?",
            "\\[[0-9.]{1,15}\\]"
        ]),
    )
        .prop_map(|(l, d)| Address::new(&l, d.map(|d| Domain::new(&d).unwrap())).unwrap())
}

fn arb_param() -> impl Strategy<Value = Param> {
    ("X-[A-Z0-9]{1,8}", proptest::option::of("[!-<>-~]{1,10}"))
        .prop_map(|(k, v)| Param::new(&k, v.as_deref()).unwrap())
}

fn arb_command() -> impl Strategy<Value = Command> {
    let mech = "[A-Z0-9_-]{1,20}".prop_map(|m| Mechanism::new(&m).unwrap());
    prop_oneof![
        "[a-z0-9.-]{1,20}".prop_map(|h| Command::Lhlo(Domain::new(&h).unwrap())),
        (
            proptest::option::of(arb_address()),
            proptest::collection::vec(
                prop_oneof![
                    any::<u64>().prop_map(MailParam::Size),
                    Just(MailParam::Body(BodyType::SevenBit)),
                    Just(MailParam::Body(BodyType::EightBitMime)),
                    Just(MailParam::Body(BodyType::BinaryMime)),
                    proptest::option::of("[ -~]{1,12}").prop_map(MailParam::Auth),
                    arb_param().prop_map(MailParam::Other),
                ],
                0..4
            ),
        )
            .prop_map(|(a, params)| Command::Mail {
                from: a.map_or(ReversePath::Null, ReversePath::Address),
                params
            }),
        (
            arb_address(),
            proptest::collection::vec(
                prop_oneof![
                    Just(RcptParam::IgnoreQuota),
                    arb_param().prop_map(RcptParam::Other)
                ],
                0..3
            )
        )
            .prop_map(|(to, params)| Command::Rcpt { to, params }),
        Just(Command::Data),
        Just(Command::Rset),
        Just(Command::Noop),
        Just(Command::Quit),
        Just(Command::Starttls),
        "[a-z][ -~]{0,20}".prop_map(|v| Command::Vrfy(Text::new(v).unwrap())),
        (
            mech,
            proptest::option::of(prop_oneof![
                Just(InitialResponse::Empty),
                "[A-Za-z0-9+/]{1,40}"
                    .prop_map(|s| InitialResponse::Data(SaslData::new(s).unwrap())),
            ])
        )
            .prop_map(|(mechanism, initial)| Command::Auth { mechanism, initial }),
        ("X[A-Z]{1,6}", "([a-z][ -~]{0,10})?").prop_map(|(v, a)| Command::Unknown {
            verb: Verb::new(&v).unwrap(),
            args: Text::new(a).unwrap()
        }),
    ]
}

fn arb_reply() -> impl Strategy<Value = Reply> {
    (
        200u16..=599,
        any::<bool>(),
        0u16..1000,
        0u16..1000,
        any::<bool>(),
        proptest::collection::vec("([A-Za-z][ -~]{0,30})?", 1..5),
    )
        .prop_map(|(code, with_enh, s, d, every, lines)| {
            let code = ReplyCode::new(code).unwrap();
            let class = code.class_digit();
            let enhanced =
                (with_enh && class != 3).then(|| EnhancedCode::new(class, s, d).unwrap());
            let placement = if every {
                EnhancedPlacement::EveryLine
            } else {
                EnhancedPlacement::LastLine
            };
            let lines = lines.into_iter().map(|l| Text::new(l).unwrap()).collect();
            Reply::new(code, enhanced, placement, lines).unwrap()
        })
}

proptest! {
    #[test]
    fn command_round_trips(c in arb_command()) {
        let mut enc = Vec::new();
        c.encode(&mut enc);
        let mut s = ServerCodec::new(Limits::default());
        s.push(&enc);
        prop_assert_eq!(s.next(), Some(Ok(ServerEvent::Command(c))));
        prop_assert_eq!(s.next(), None);
    }

    #[test]
    fn reply_round_trips(r in arb_reply()) {
        let wire = r.to_bytes();
        let got = decode_replies(&[&wire]);
        prop_assert_eq!(got, vec![Ok(r)]);
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), split in 0usize..600, data_at in 0usize..5) {
        let split = split.min(bytes.len());
        let mut s = ServerCodec::new(Limits { command_line: 64, ..Limits::default() });
        let mut c = ClientCodec::new(Limits { reply_line: 64, reply_lines: 3, ..Limits::default() });
        let mut n = 0;
        for part in [&bytes[..split], &bytes[split..]] {
            s.push(part);
            c.push(part);
            while let Some(_ev) = s.next() {
                n += 1;
                if n == data_at && !s.in_data() {
                    s.begin_data(Some(50));
                }
            }
            while c.next_reply().is_some() {}
            let _ = s.next_sasl_response();
        }
        if let Ok(t) = std::str::from_utf8(&bytes) {
            let _ = (Address::parse(t), xtext_decode(t), EnhancedCode::parse(t), Reply::line(250, t));
            if let Ok(t) = Text::new(t) {
                let _ = LhloCapability::parse(&t);
            }
        }
    }
}
