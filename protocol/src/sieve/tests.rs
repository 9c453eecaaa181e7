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
