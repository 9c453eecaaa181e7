use proptest::prelude::*;

use super::*;

/// Scripts from RFC 5228, 5229, 5230, 5232, 3894 and 5429 that must compile.
const GOOD: &[(&str, &str)] = &[
    (
        "rfc5228 §9 example 1",
        "#\n# Example Sieve Filter\n# Declare any optional features or extension used by the script\n#\nrequire [\"fileinto\"];\n\n#\n# Handle messages from known mailing lists\n# Move messages from IETF filter discussion list to filter mailbox\n#\nif header :is \"Sender\" \"owner-ietf-mta-filters@imc.org\"\n        {\n        fileinto \"filter\";  # move to \"filter\" mailbox\n        }\n#\n# Keep all messages to or from people in my company\n#\nelsif address :DOMAIN :is [\"From\", \"To\"] \"example.com\"\n        {\n        keep;               # keep in \"In\" mailbox\n        }\n\n#\n# Try and catch unsolicited email.  If a message is not to me,\n# or it contains a subject known to be spam, file it away.\n#\nelsif anyof (NOT address :all :contains\n               [\"To\", \"Cc\", \"Bcc\"] \"me@example.com\",\n             header :matches \"subject\"\n               [\"*make*money*fast*\", \"*university*dipl*mas*\"])\n        {\n        fileinto \"spam\";   # move to \"spam\" mailbox\n        }\nelse\n        {\n        # Move all other (non-company) mail to \"personal\"\n        # mailbox.\n        fileinto \"personal\";\n        }\n",
    ),
    (
        "rfc5228 §2.4.2 multi-line",
        "require \"fileinto\";\r\nif size :over 100K { # this is a comment\r\n  discard;\r\n}\r\nfileinto text:\r\nINBOX\r\n..dot\r\n.\r\n;\r\n",
    ),
    ("bracket comment", "/* a\n * b */ keep; /* c */"),
    ("empty", ""),
    ("rfc5228 §5.1 address", "if address :is :all \"from\" \"tim@example.com\" { discard; }"),
    ("rfc5228 §5.4 envelope", "require \"envelope\";\nif envelope :all :is \"from\" \"tim@example.com\" {\n   discard;\n}"),
    ("rfc5228 §5.5 exists", "if exists [\"From\",\"Date\"] { keep; }"),
    ("rfc5228 §5.9 size", "if size :under 1M { keep; } else { discard; }"),
    ("rfc5228 §5.8 not", "if not exists [\"From\",\"Date\"] { discard; }"),
    ("comparator", "if header :contains :comparator \"i;octet\" \"Subject\" \"MAKE MONEY FAST\" { discard; }"),
    ("rfc5230 example", "require \"vacation\";\nif header :contains \"subject\" \"cyrus\" {\n    vacation \"I'm out -- send mail to cyrus-bugs\";\n} else {\n    vacation \"I'm out -- call me at 321-7654\";\n}"),
    ("rfc5230 all tags", "require \"vacation\";\nvacation :days 23 :addresses [\"tjs@example.edu\",\n                               \"ts4z@landru.example.edu\"]\n   \"I'm away until October 19.\n   If it's an emergency, call 911, I guess.\" ;"),
    ("rfc5230 handle", "require \"vacation\";\nif header :contains \"subject\" \"lunch\" {\n    vacation :handle \"ran-away\" \"I'm out and can't meet for lunch\";\n} else {\n    vacation :handle \"ran-away\" \"I'm out\";\n}"),
    ("rfc5230 mime", "require \"vacation\";\nvacation :mime text:\nContent-Type: text/plain\n\nI'm away.\n.\n;"),
    ("rfc5230 subject from", "require \"vacation\";\nvacation :subject \"Gone fishing\" :from \"bob@example.org\" \"Having fun\";"),
    ("rfc5232 example", "require [\"imap4flags\", \"fileinto\", \"variables\"];\nif header :contains \"from\" \"boss@frobnitzm.example.edu\" {\n  setflag \"\\\\Flagged\";\n  fileinto \"INBOX.From Boss\";\n}\nif header :contains \"Subject\" \"Test\" {\n  addflag [\"\\\\Deleted\", \"\\\\Seen\"];\n}\nif hasflag :contains \"MyVar\" \"Junk\" { removeflag \"Junk\"; }"),
    ("rfc5232 :flags", "require [\"imap4flags\", \"fileinto\"];\nfileinto :flags \"\\\\Deleted\" \"Trash\";\nkeep :flags [\"\\\\Seen\"];"),
    ("rfc5232 flag variable", "require [\"imap4flags\", \"variables\"];\nsetflag \"flagvar\" \"\\\\Flagged\";\nif hasflag \"flagvar\" \"\\\\Flagged\" { addflag \"flagvar\" \"x\"; }"),
    ("rfc3894 copy", "require [\"copy\", \"fileinto\"];\nfileinto :copy \"incoming\";\nredirect :copy \"other@example.net\";"),
    ("rfc5429 reject", "require [\"reject\"];\nif size :over 100K {\n  reject text:\nYour message is too big.\n.\n;\n}"),
    ("rfc5429 ereject", "require \"ereject\";\nereject \"no\";"),
    ("rfc5229 example", "require \"variables\";\nrequire \"fileinto\";\nif header :matches \"List-ID\" \"*<*@*\" {\n    fileinto \"INBOX.lists.${2}\"; stop;\n}\nset :lower :upperfirst \"b\" \"${a}\";\nif string :is \"${b}\" \"\" { keep; }"),
    ("body", "require \"body\";\nif body :raw :contains \"MAKE MONEY FAST\" { discard; }\nif body :text :contains \"x\" { discard; }"),
    ("case-insensitive identifiers", "IF TRUE { KEEP; } ELSE { STOP; }"),
    ("comparator extension names", "require [\"comparator-i;octet\"]; keep;"),
];

#[test]
fn rfc_examples_compile() {
    for (name, src) in GOOD {
        if let Err(e) = compile(src.as_bytes()) {
            panic!("{name}: {e}");
        }
    }
}

/// Scripts that must fail, with where and why.
const BAD: &[(&str, usize, usize, &str)] = &[
    (
        "require \"fileinto\";\n\n  fileinot \"x\";",
        3,
        3,
        "unknown command \"fileinot\"",
    ),
    (
        "fileinto \"x\";",
        1,
        1,
        "\"fileinto\" needs require \"fileinto\"",
    ),
    ("require \"nope\";", 1, 9, "unsupported extension \"nope\""),
    (
        "keep;\nrequire \"fileinto\";",
        2,
        1,
        "require must come before any other command",
    ),
    ("keep \"x\";", 1, 6, "\"keep\" takes 0 arguments, found 1"),
    (
        "require \"fileinto\"; fileinto;",
        1,
        21,
        "\"fileinto\" takes 1 argument, found 0",
    ),
    (
        "if header :is \"a\" { keep; }",
        1,
        4,
        "test \"header\" takes 2 arguments, found 1",
    ),
    ("if foo { keep; }", 1, 4, "unknown test \"foo\""),
    ("keep :bogus;", 1, 6, "unknown tag \":bogus\" for \"keep\""),
    (
        "if true { keep; ",
        1,
        17,
        "expected \"}\", found end of script",
    ),
    (
        "keep",
        1,
        5,
        "expected \";\" or a block, found end of script",
    ),
    (
        "if header :is :contains \"a\" \"b\" { keep; }",
        1,
        15,
        "only one match type may be given",
    ),
    (
        "if header :comparator \"i;foo\" \"a\" \"b\" { keep; }",
        1,
        23,
        "unsupported comparator \"i;foo\"",
    ),
    ("/* open", 1, 1, "unterminated /* comment"),
    ("keep; \"abc", 1, 7, "unterminated string"),
    ("else { keep; }", 1, 1, "else without a preceding if"),
    (
        "if size 10 { keep; }",
        1,
        4,
        "size needs exactly one of :over and :under",
    ),
    ("keep;\n}", 2, 1, "unexpected \"}\""),
    (
        "require \"fileinto\"; fileinto :flags \"x\" \"y\";",
        1,
        30,
        "\":flags\" needs require \"imap4flags\"",
    ),
    (
        "require \"envelope\"; if envelope \"cc\" \"x\" { keep; }",
        1,
        33,
        "unknown envelope part \"cc\"",
    ),
    ("keep; @", 1, 7, "unexpected character \"@\""),
    ("if true keep;", 1, 1, "if needs a block"),
    ("if true;", 1, 1, "if needs a block"),
    (
        "require \"vacation\"; vacation :days \"x\" \"r\";",
        1,
        30,
        "tag \":days\" needs a number",
    ),
    (
        "if size :over 99999999999999999999 { keep; }",
        1,
        15,
        "number too large",
    ),
    (
        "require \"fileinto\"; fileinto text: x\nfoo\n.\n;",
        1,
        30,
        "\"text:\" must be followed by a line break",
    ),
];

#[test]
fn errors_name_line_and_column() {
    for (src, line, column, message) in BAD {
        match compile(src.as_bytes()) {
            Ok(_) => panic!("{src:?} compiled"),
            Err(e) => assert_eq!(
                (e.line, e.column, e.message.as_str()),
                (*line, *column, *message),
                "{src:?}"
            ),
        }
    }
}

#[test]
fn error_display_names_line_and_column() {
    let e = compile(b"keep;\n\n    fileinot \"x\";").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3, column 5: unknown command \"fileinot\""
    );
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let deep = "if true { if true { if true { if true { keep; } } } }";
    assert!(compile_with(deep.as_bytes(), &limits).is_err());
    assert!(compile(deep.as_bytes()).is_ok());
    let long = format!("if header :is \"a\" \"{}\" {{ keep; }}", "x".repeat(100));
    let small = Limits {
        max_string_len: 50,
        ..Limits::default()
    };
    assert!(compile_with(long.as_bytes(), &small)
        .unwrap_err()
        .message
        .contains("longer than 50"));
    let many = "keep;".repeat(20);
    let few = Limits {
        max_commands: 10,
        ..Limits::default()
    };
    assert!(compile_with(many.as_bytes(), &few).is_err());
    let big = Limits {
        max_script_size: 10,
        ..Limits::default()
    };
    assert!(compile_with(many.as_bytes(), &big).is_err());
    // A deeply nested test list must not overflow the stack.
    let nested = format!("if {}true{} {{ keep; }}", "not ".repeat(5000), "");
    assert!(compile(nested.as_bytes()).is_err());
    let nested = format!(
        "if {}true{} {{ keep; }}",
        "anyof(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(compile(nested.as_bytes()).is_err());
}

#[test]
fn strings_unescape_and_dot_unstuff() {
    let s = compile(b"require \"fileinto\"; fileinto \"a\\\\b\\\"c\\d\";").unwrap();
    assert_eq!(
        s.commands,
        vec![Command::FileInto {
            mailbox: "a\\b\"cd".into(),
            flags: None,
            copy: false
        }]
    );
    let s = compile(b"require \"reject\"; reject text:  # comment\r\n..x\r\ny\r\n.\r\n;").unwrap();
    assert_eq!(
        s.commands,
        vec![Command::Reject {
            reason: ".x\r\ny\r\n".into()
        }]
    );
    let s = compile(b"if size :over 2K { keep; } if size :under 1g { stop; }").unwrap();
    assert!(matches!(
        s.commands.first(),
        Some(Command::If { branches, .. }) if branches.first().map(|b| &b.0) == Some(&Test::Size { over: true, limit: 2048 })
    ));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = compile(&bytes);
    }

    #[test]
    fn random_sieve_like_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("if "), Just("elsif "), Just("else "), Just("{"), Just("}"), Just(";"),
                Just("("), Just(")"), Just("["), Just("]"), Just(","), Just("\"a\" "),
                Just("header "), Just(":is "), Just(":matches "), Just("text:\n"), Just(".\n"),
                Just("keep"), Just("not "), Just("anyof"), Just("require \"variables\";"),
                Just("12K "), Just("/*"), Just("*/"), Just("#"), Just("\n"), Just("\\"),
            ],
            0..60,
        )
    ) {
        let _ = compile(parts.concat().as_bytes());
    }
}

// ----- evaluation -----

/// RFC 5228 §1.2's example message, with a To/Cc the vacation tests need.
const MSG: &str = "Date: Tue, 1 Apr 1997 09:06:31 -0800 (PST)\r\n\
From: coyote@desert.example.org\r\n\
To: roadrunner@acme.example.com\r\n\
Cc: Bob <bob@example.org>\r\n\
Subject: =?utf-8?q?I_have_a_present_for_you?=\r\n\
Message-ID: <1234@desert.example.org>\r\n\
X-Caffeine: C8H10N4O2\r\n\
\r\n\
Look, I'm sorry about the whole anvil thing, and I really\r\n\
didn't mean to try and drop it on you from the top of the\r\n\
cliff.  I want to try to make it up to you.\r\n";

fn run(script: &str, msg: &str) -> Outcome {
    let s = compile(script.as_bytes()).unwrap_or_else(|e| panic!("{script}: {e}"));
    let ctx = MessageContext::new(
        msg.as_bytes(),
        "coyote@desert.example.org",
        "bob@example.org",
    );
    evaluate(&s, &ctx)
}

fn keep() -> Action {
    Action::Keep { flags: vec![] }
}

fn fileinto(m: &str) -> Action {
    Action::FileInto {
        mailbox: m.into(),
        flags: vec![],
        copy: false,
    }
}

#[test]
fn evaluation_table() {
    let f = "require [\"fileinto\", \"copy\", \"reject\", \"envelope\", \"imap4flags\", \"variables\", \"body\"];\n";
    let cases: Vec<(&str, String, Vec<Action>)> = vec![
        ("empty script keeps", String::new(), vec![keep()]),
        ("discard cancels keep", "discard;".into(), vec![Action::Discard]),
        ("header :contains", format!("{f}if header :contains \"Subject\" \"present\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("header :is is exact", format!("{f}if header :is \"Subject\" \"present\" {{ fileinto \"a\"; }}"), vec![keep()]),
        ("header decodes encoded words", format!("{f}if header :is \"subject\" \"I have a present for you\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("octet is case-sensitive", format!("{f}if header :contains :comparator \"i;octet\" \"Subject\" \"PRESENT\" {{ fileinto \"a\"; }}"), vec![keep()]),
        ("casemap is not", format!("{f}if header :contains \"Subject\" \"PRESENT\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("matches with ? and *", format!("{f}if header :matches \"x-caffeine\" \"C?H*O2\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("matches escaped star", format!("{f}if header :matches \"x-caffeine\" \"C8\\\\*\" {{ fileinto \"a\"; }}"), vec![keep()]),
        ("address :domain", format!("{f}if address :domain :is \"from\" \"DESERT.example.org\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("address :localpart of display-name form", format!("{f}if address :localpart :is \"cc\" \"bob\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("address :all", format!("{f}if address :all :is \"cc\" \"bob@example.org\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("envelope from", format!("{f}if envelope :domain :is \"from\" \"desert.example.org\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("envelope to", format!("{f}if envelope :localpart :is \"to\" \"bob\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("exists all", format!("{f}if exists [\"From\", \"Date\"] {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("exists not all", format!("{f}if exists [\"From\", \"X-Nope\"] {{ fileinto \"a\"; }}"), vec![keep()]),
        ("size over", format!("{f}if size :over 100 {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("size under", format!("{f}if size :under 1K {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("not anyof allof", format!("{f}if not anyof (false, allof (true, false)) {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("elsif chain", format!("{f}if false {{ fileinto \"a\"; }} elsif true {{ fileinto \"b\"; }} else {{ fileinto \"c\"; }}"), vec![fileinto("b")]),
        ("else", format!("{f}if false {{ fileinto \"a\"; }} else {{ fileinto \"c\"; }}"), vec![fileinto("c")]),
        ("stop ends the script", format!("{f}fileinto \"a\"; stop; fileinto \"b\";"), vec![fileinto("a")]),
        ("stop keeps implicitly", "stop;".into(), vec![keep()]),
        ("fileinto :copy keeps", format!("{f}fileinto :copy \"a\";"), vec![Action::FileInto { mailbox: "a".into(), flags: vec![], copy: true }, keep()]),
        ("duplicate fileinto once", format!("{f}fileinto \"a\"; fileinto \"a\";"), vec![fileinto("a")]),
        ("redirect", "redirect \"x@example.net\";".into(), vec![Action::Redirect { address: "x@example.net".into(), copy: false }]),
        ("redirect :copy", format!("{f}redirect :copy \"x@example.net\";"), vec![Action::Redirect { address: "x@example.net".into(), copy: true }, keep()]),
        ("reject", format!("{f}reject \"go away\";"), vec![Action::Reject { reason: "go away".into() }]),
        ("keep and fileinto", format!("{f}keep; fileinto \"a\";"), vec![keep(), fileinto("a")]),
        ("setflag applies to implicit keep", format!("{f}setflag \"\\\\Seen\";"), vec![Action::Keep { flags: vec!["\\Seen".into()] }]),
        ("addflag removeflag", format!("{f}addflag [\"a\", \"b c\"]; removeflag \"B\"; fileinto \"x\";"), vec![Action::FileInto { mailbox: "x".into(), flags: vec!["a".into(), "c".into()], copy: false }]),
        (":flags overrides", format!("{f}setflag \"a\"; fileinto :flags \"\\\\Flagged\" \"x\"; keep;"), vec![Action::FileInto { mailbox: "x".into(), flags: vec!["\\Flagged".into()], copy: false }, Action::Keep { flags: vec!["a".into()] }]),
        ("hasflag", format!("{f}addflag \"$Junk\"; if hasflag :is \"$junk\" {{ fileinto \"spam\"; }}"), vec![Action::FileInto { mailbox: "spam".into(), flags: vec!["$Junk".into()], copy: false }]),
        ("match variables", format!("{f}if header :matches \"From\" \"*@*.example.org\" {{ fileinto \"INBOX.${{2}}.${{1}}\"; }}"), vec![fileinto("INBOX.desert.coyote")]),
        ("rfc5229 non-greedy", format!("{f}set \"s\" \"[acme-users] [fwd] version 1.0 is out\"; if string :matches \"${{s}}\" \"[*] *\" {{ fileinto \"${{1}}|${{2}}\"; }}"), vec![fileinto("acme-users|[fwd] version 1.0 is out")]),
        ("set modifiers", format!("{f}set :upperfirst :lower \"a\" \"hELLO\"; set :length \"n\" \"${{a}}\"; fileinto \"${{a}}${{n}}${{unknown}}\";"), vec![fileinto("Hello5")]),
        ("quotewildcard", format!("{f}set :quotewildcard \"q\" \"a*b\"; if string :matches \"a*b\" \"${{q}}\" {{ fileinto \"y\"; }}"), vec![fileinto("y")]),
        ("no variables ext, no expansion", "require \"fileinto\"; fileinto \"${x}\";".into(), vec![fileinto("${x}")]),
        ("body :text", format!("{f}if body :contains \"anvil\" {{ fileinto \"a\"; }}"), vec![fileinto("a")]),
        ("body :raw", format!("{f}if body :raw :contains \"caffeine\" {{ fileinto \"a\"; }}"), vec![keep()]),
    ];
    for (name, script, want) in cases {
        let out = run(&script, MSG);
        assert_eq!(out.error, None, "{name}");
        assert_eq!(out.actions, want, "{name}");
    }
}

#[test]
fn runtime_errors_mean_implicit_keep() {
    let out = run("require \"reject\"; reject \"no\"; keep;", MSG);
    assert_eq!(out.actions, vec![keep()]);
    assert!(out.error.unwrap().contains("reject"));
    let out = run(
        "require [\"fileinto\", \"variables\"]; fileinto \"${empty}\";",
        MSG,
    );
    assert_eq!(out.actions, vec![keep()]);
    assert!(out.error.is_some());
    // The step limit stops an expensive script.
    let s = compile_with(
        format!(
            "{}keep;",
            "if header :matches \"x-caffeine\" \"*a*b*c*d*e*f*\" { discard; }\n".repeat(50)
        )
        .as_bytes(),
        &Limits {
            max_steps: 500,
            ..Limits::default()
        },
    )
    .unwrap();
    let out = evaluate(
        &s,
        &MessageContext::new(MSG.as_bytes(), "a@b.c", "bob@example.org"),
    );
    assert_eq!(out.actions, vec![keep()]);
    assert_eq!(out.error.as_deref(), Some("script ran too long"));
    let many: String = (0..40)
        .map(|n| format!("redirect \"r{n}@example.net\";"))
        .collect();
    let out = run(&many, MSG);
    assert_eq!(out.error.as_deref(), Some("too many redirects"));
}

fn vacation_of(out: &Outcome) -> Option<&Vacation> {
    out.actions.iter().find_map(|a| match a {
        Action::Vacation(v) => Some(&**v),
        _ => None,
    })
}

#[test]
fn vacation_answers_the_sender_once_per_handle() {
    let out = run(
        "require \"vacation\"; vacation :days 3 :handle \"h\" \"I'm away\";",
        MSG,
    );
    assert_eq!(out.vacation_skipped, None);
    let v = vacation_of(&out).expect("vacation");
    assert_eq!(v.to, "coyote@desert.example.org");
    assert_eq!(v.handle, "h");
    assert_eq!(v.days, 3);
    assert_eq!(v.subject, "Auto: I have a present for you");
    assert_eq!(v.reason, "I'm away");
    assert_eq!(v.recipient, "bob@example.org");
    assert_eq!(v.in_reply_to.as_deref(), Some("<1234@desert.example.org>"));
    // vacation does not cancel the implicit keep
    assert!(out.actions.contains(&keep()));
    // Default handles differ with the reason, and are stable.
    let a = run("require \"vacation\"; vacation \"one\";", MSG);
    let b = run("require \"vacation\"; vacation \"two\";", MSG);
    let a2 = run("require \"vacation\"; vacation \"one\";", MSG);
    assert_ne!(
        vacation_of(&a).unwrap().handle,
        vacation_of(&b).unwrap().handle
    );
    assert_eq!(
        vacation_of(&a).unwrap().handle,
        vacation_of(&a2).unwrap().handle
    );
    let s = run(
        "require \"vacation\"; vacation :subject \"Gone\" :from \"me@example.org\" :days 0 \"x\";",
        MSG,
    );
    let v = vacation_of(&s).unwrap();
    assert_eq!(
        (v.subject.as_str(), v.from.as_deref(), v.days),
        ("Gone", Some("me@example.org"), 1)
    );
}

#[test]
fn vacation_stays_silent_where_rfc5230_says_so() {
    let script =
        compile(b"require \"vacation\"; vacation :addresses \"alias@example.org\" \"away\";")
            .unwrap();
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("normal", "coyote@desert.example.org", "", None),
        ("null sender", "", "", Some("null sender")),
        (
            "mailer-daemon",
            "MAILER-DAEMON@example.net",
            "",
            Some("sender is a mailer or list address"),
        ),
        (
            "list owner",
            "owner-list@example.net",
            "",
            Some("sender is a mailer or list address"),
        ),
        (
            "auto-submitted",
            "a@example.net",
            "Auto-Submitted: auto-replied\r\n",
            Some("message is auto-submitted"),
        ),
        (
            "auto-submitted no",
            "a@example.net",
            "Auto-Submitted: no\r\n",
            None,
        ),
        (
            "list-id",
            "a@example.net",
            "List-Id: <l.example.net>\r\n",
            Some("message is from a mailing list"),
        ),
        (
            "precedence bulk",
            "a@example.net",
            "Precedence: Bulk\r\n",
            Some("message has bulk precedence"),
        ),
        (
            "precedence junk",
            "a@example.net",
            "Precedence: junk\r\n",
            Some("message has bulk precedence"),
        ),
        (
            "from self",
            "bob@example.org",
            "",
            Some("sender is the recipient"),
        ),
    ];
    for (name, from, extra, want) in cases {
        let msg = format!("{extra}{MSG}");
        let ctx = MessageContext::new(msg.as_bytes(), from, "bob@example.org");
        let out = evaluate(&script, &ctx);
        assert_eq!(out.vacation_skipped, *want, "{name}");
        assert_eq!(vacation_of(&out).is_some(), want.is_none(), "{name}");
    }
    // Not addressed to the recipient: no reply, unless to one of :addresses.
    let not_to_me = MSG.replace("Cc: Bob <bob@example.org>", "Cc: other@example.org");
    let ctx = MessageContext::new(not_to_me.as_bytes(), "a@example.net", "bob@example.org");
    assert_eq!(
        evaluate(&script, &ctx).vacation_skipped,
        Some("recipient is not in To or Cc")
    );
    let to_alias = MSG.replace("Cc: Bob <bob@example.org>", "Cc: alias@EXAMPLE.org");
    let ctx = MessageContext::new(to_alias.as_bytes(), "a@example.net", "bob@example.org");
    let out = evaluate(&script, &ctx);
    assert_eq!(
        vacation_of(&out).map(|v| v.recipient.as_str()),
        Some("alias@example.org")
    );
}

proptest! {
    #[test]
    fn evaluation_never_panics_on_random_messages(
        msg in proptest::collection::vec(any::<u8>(), 0..600),
        from in "[a-z@.]{0,12}",
    ) {
        let script = compile(concat!(
            "require [\"fileinto\", \"variables\", \"vacation\", \"body\", \"imap4flags\", \"envelope\"];\n",
            "if header :matches \"subject\" \"*?*\" { set \"x\" \"${1}\"; fileinto \"f.${x}\"; }\n",
            "if address :domain :contains [\"from\", \"to\"] \"a\" { addflag \"${0}\"; }\n",
            "if envelope :localpart :matches \"from\" \"*\" { keep; }\n",
            "if body :contains \"x\" { discard; }\n",
            "vacation :days 2 \"away\";\n",
        ).as_bytes()).unwrap();
        let ctx = MessageContext::new(&msg, &from, "bob@example.org");
        let out = evaluate(&script, &ctx);
        prop_assert!(!out.actions.is_empty());
    }
}
