//! From the generic tree to a checked [`Script`]: every command and test is known, its
//! extension was required, its tags are allowed and its positional arguments have the right
//! number and kind.

use super::lexer::tokenize;
use super::parser::{Arg, Node, Parser};
use super::{
    AddressPart, Command, Comparator, CompileError, FlagOp, Limits, Match, MatchType, Modifier,
    Script, Test, VacationArgs, EXTENSIONS,
};

pub(crate) fn compile(src: &[u8], limits: &Limits) -> Result<Script, CompileError> {
    let toks = tokenize(src, limits)?;
    let mut parser = Parser::new(src, &toks, limits);
    let nodes = parser.commands(0)?;
    if !parser.at_end() {
        // Only a stray "}" stops the top-level command list early.
        return Err(CompileError::at(
            src,
            parser.current_at(),
            "unexpected \"}\"",
        ));
    }
    let mut cx = Cx {
        src,
        requires: Vec::new(),
    };
    let commands = cx.block(&nodes, true)?;
    Ok(Script {
        commands,
        requires: cx.requires,
        limits: *limits,
    })
}

struct Cx<'a> {
    src: &'a [u8],
    requires: Vec<String>,
}

/// What a tag carries after it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TagArg {
    None,
    Number,
    String,
    StringList,
}

/// What a positional argument must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    StringList,
    Number,
}

/// Arguments sorted into tags (with their values) and positional ones.
struct Parsed {
    tags: Vec<(String, Option<Arg>, usize)>,
    positional: Vec<Arg>,
}

impl Parsed {
    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|(t, _, _)| t == tag)
    }

    fn tag_at(&self, tag: &str) -> Option<usize> {
        self.tags.iter().find(|(t, _, _)| t == tag).map(|t| t.2)
    }

    fn value(&self, tag: &str) -> Option<&Arg> {
        self.tags
            .iter()
            .find(|(t, _, _)| t == tag)
            .and_then(|(_, v, _)| v.as_ref())
    }
}

fn strings(arg: &Arg) -> Vec<String> {
    match arg {
        Arg::Strings { values, .. } => values.clone(),
        _ => Vec::new(),
    }
}

fn string(arg: &Arg) -> String {
    strings(arg).into_iter().next().unwrap_or_default()
}

fn number(arg: &Arg) -> u64 {
    match arg {
        Arg::Number(n, _) => *n,
        _ => 0,
    }
}

const COMPARATOR: (&str, TagArg) = ("comparator", TagArg::String);
const MATCH_TYPES: [(&str, TagArg); 3] = [
    ("is", TagArg::None),
    ("contains", TagArg::None),
    ("matches", TagArg::None),
];
const ADDRESS_PARTS: [(&str, TagArg); 3] = [
    ("all", TagArg::None),
    ("localpart", TagArg::None),
    ("domain", TagArg::None),
];

impl Cx<'_> {
    fn err(&self, at: usize, msg: impl Into<String>) -> CompileError {
        CompileError::at(self.src, at, msg)
    }

    fn need(&self, ext: &str, what: &str, at: usize) -> Result<(), CompileError> {
        if self.requires.iter().any(|r| r == ext) {
            Ok(())
        } else {
            Err(self.err(at, format!("{what} needs require \"{ext}\"")))
        }
    }

    /// Sorts `node`'s arguments against the allowed tags and checks the positional ones.
    fn args(
        &self,
        node: &Node,
        what: &str,
        tags: &[(&str, TagArg)],
        positional: &[Kind],
    ) -> Result<Parsed, CompileError> {
        let mut parsed = Parsed {
            tags: Vec::new(),
            positional: Vec::new(),
        };
        let mut it = node.args.iter().peekable();
        while let Some(arg) = it.next() {
            match arg {
                Arg::Tag(name, at) => {
                    if !parsed.positional.is_empty() {
                        return Err(self.err(
                            *at,
                            format!(
                                "tag \":{name}\" must come before the other arguments of {what}"
                            ),
                        ));
                    }
                    let Some((_, kind)) = tags.iter().find(|(t, _)| t == name) else {
                        return Err(self.err(*at, format!("unknown tag \":{name}\" for {what}")));
                    };
                    if parsed.has(name) {
                        return Err(self.err(*at, format!("tag \":{name}\" given twice")));
                    }
                    let value = match kind {
                        TagArg::None => None,
                        want => {
                            let ok = match (want, it.peek()) {
                                (TagArg::Number, Some(Arg::Number(..))) => true,
                                (TagArg::String, Some(Arg::Strings { values, list, .. })) => {
                                    !*list || values.len() == 1
                                }
                                (TagArg::StringList, Some(Arg::Strings { .. })) => true,
                                _ => false,
                            };
                            if !ok {
                                let kind = match want {
                                    TagArg::Number => "a number",
                                    TagArg::String => "a string",
                                    _ => "a string list",
                                };
                                return Err(self.err(*at, format!("tag \":{name}\" needs {kind}")));
                            }
                            it.next().cloned()
                        }
                    };
                    parsed.tags.push((name.clone(), value, *at));
                }
                other => parsed.positional.push(other.clone()),
            }
        }
        if parsed.positional.len() != positional.len() {
            let n = positional.len();
            let at = parsed.positional.get(n).map_or(node.at, Arg::at);
            return Err(self.err(
                at,
                format!(
                    "{what} takes {n} argument{}, found {}",
                    if n == 1 { "" } else { "s" },
                    parsed.positional.len()
                ),
            ));
        }
        for (arg, kind) in parsed.positional.iter().zip(positional) {
            let ok = match (kind, arg) {
                (Kind::Number, Arg::Number(..)) => true,
                (Kind::String, Arg::Strings { values, list, .. }) => !*list || values.len() == 1,
                (Kind::StringList, Arg::Strings { .. }) => true,
                _ => false,
            };
            if !ok {
                let want = match kind {
                    Kind::Number => "a number",
                    Kind::String => "a string",
                    Kind::StringList => "a string list",
                };
                return Err(self.err(arg.at(), format!("{what} expects {want} here")));
            }
        }
        Ok(parsed)
    }

    /// The comparator and match type among the tags, checking that only one match type was
    /// given and the comparator is supported.
    fn matching(&self, p: &Parsed) -> Result<Match, CompileError> {
        let kind = self.one_of(
            p,
            &[
                ("is", MatchType::Is),
                ("contains", MatchType::Contains),
                ("matches", MatchType::Matches),
            ],
            "match type",
        )?;
        let comparator = match p.value("comparator") {
            None => Comparator::AsciiCasemap,
            Some(arg) => match string(arg).as_str() {
                "i;ascii-casemap" => Comparator::AsciiCasemap,
                "i;octet" => Comparator::Octet,
                other => {
                    return Err(self.err(arg.at(), format!("unsupported comparator \"{other}\"")))
                }
            },
        };
        Ok(Match {
            comparator,
            kind: kind.unwrap_or(MatchType::Is),
        })
    }

    fn address_part(&self, p: &Parsed) -> Result<AddressPart, CompileError> {
        let part = self.one_of(
            p,
            &[
                ("all", AddressPart::All),
                ("localpart", AddressPart::LocalPart),
                ("domain", AddressPart::Domain),
            ],
            "address part",
        )?;
        Ok(part.unwrap_or(AddressPart::All))
    }

    /// The value of whichever of the mutually exclusive `choices` tags was given, if any; two
    /// of them is an error naming the second (`what`: "match type", "address part").
    fn one_of<T: Copy>(
        &self,
        p: &Parsed,
        choices: &[(&str, T)],
        what: &str,
    ) -> Result<Option<T>, CompileError> {
        let mut chosen = None;
        for (tag, value) in choices {
            if let Some(at) = p.tag_at(tag) {
                if chosen.is_some() {
                    return Err(self.err(at, format!("only one {what} may be given")));
                }
                chosen = Some(*value);
            }
        }
        Ok(chosen)
    }

    /// A block of commands; `top` says whether `require` is still allowed at its start.
    fn block(&mut self, nodes: &[Node], top: bool) -> Result<Vec<Command>, CompileError> {
        let mut out = Vec::new();
        let mut requires_allowed = top;
        let mut i = 0;
        while let Some(node) = nodes.get(i) {
            i += 1;
            if node.name == "require" {
                if !requires_allowed {
                    return Err(self.err(node.at, "require must come before any other command"));
                }
                self.no_tests_or_block(node, "require")?;
                let p = self.args(node, "require", &[], &[Kind::StringList])?;
                for (arg, ext) in p
                    .positional
                    .iter()
                    .flat_map(|a| strings(a).into_iter().map(move |s| (a, s)))
                {
                    if !EXTENSIONS.contains(&ext.as_str()) {
                        return Err(self.err(arg.at(), format!("unsupported extension \"{ext}\"")));
                    }
                    if !self.requires.contains(&ext) {
                        self.requires.push(ext);
                    }
                }
                continue;
            }
            requires_allowed = false;
            match node.name.as_str() {
                "if" => {
                    let mut branches = vec![self.branch(node, "if")?];
                    let mut otherwise = None;
                    while let Some(next) = nodes.get(i) {
                        match next.name.as_str() {
                            "elsif" => {
                                branches.push(self.branch(next, "elsif")?);
                                i += 1;
                            }
                            "else" => {
                                if !next.args.is_empty() || !next.tests.is_empty() {
                                    return Err(self.err(next.at, "else takes no test"));
                                }
                                let Some(body) = &next.block else {
                                    return Err(self.err(next.at, "else needs a block"));
                                };
                                otherwise = Some(self.block(body, false)?);
                                i += 1;
                                break;
                            }
                            _ => break,
                        }
                    }
                    out.push(Command::If {
                        branches,
                        otherwise,
                    });
                }
                "elsif" | "else" => {
                    return Err(self.err(node.at, format!("{} without a preceding if", node.name)))
                }
                _ => out.push(self.command(node)?),
            }
        }
        Ok(out)
    }

    fn branch(&mut self, node: &Node, what: &str) -> Result<(Test, Vec<Command>), CompileError> {
        if !node.args.is_empty() {
            let at = node.args.first().map_or(node.at, Arg::at);
            return Err(self.err(at, format!("{what} takes a test, not arguments")));
        }
        if node.test_list || node.tests.len() != 1 {
            return Err(self.err(node.at, format!("{what} needs exactly one test")));
        }
        let Some(body) = &node.block else {
            return Err(self.err(node.at, format!("{what} needs a block")));
        };
        let test = match node.tests.first() {
            Some(t) => self.test(t)?,
            None => return Err(self.err(node.at, format!("{what} needs a test"))),
        };
        Ok((test, self.block(body, false)?))
    }

    fn no_tests_or_block(&self, node: &Node, what: &str) -> Result<(), CompileError> {
        if let Some(t) = node.tests.first() {
            return Err(self.err(t.at, format!("{what} takes no test")));
        }
        if node.block.is_some() {
            return Err(self.err(node.at, format!("{what} takes no block")));
        }
        Ok(())
    }

    fn flags_tag(&self, p: &Parsed) -> Result<Option<Vec<String>>, CompileError> {
        match (p.tag_at("flags"), p.value("flags")) {
            (Some(at), Some(v)) => {
                self.need("imap4flags", "\":flags\"", at)?;
                Ok(Some(strings(v)))
            }
            _ => Ok(None),
        }
    }

    fn copy_tag(&self, p: &Parsed) -> Result<bool, CompileError> {
        match p.tag_at("copy") {
            Some(at) => {
                self.need("copy", "\":copy\"", at)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn command(&mut self, node: &Node) -> Result<Command, CompileError> {
        let name = node.name.as_str();
        let what = format!("\"{name}\"");
        let known = [
            "stop",
            "keep",
            "discard",
            "fileinto",
            "redirect",
            "reject",
            "ereject",
            "setflag",
            "addflag",
            "removeflag",
            "set",
            "vacation",
        ];
        if !known.contains(&name) {
            return Err(self.err(node.at, format!("unknown command \"{name}\"")));
        }
        let ext = match name {
            "fileinto" | "reject" | "ereject" | "vacation" => Some(name),
            "setflag" | "addflag" | "removeflag" => Some("imap4flags"),
            "set" => Some("variables"),
            _ => None,
        };
        if let Some(ext) = ext {
            self.need(ext, &what, node.at)?;
        }
        self.no_tests_or_block(node, &what)?;
        let cmd = match name {
            "stop" => {
                self.args(node, &what, &[], &[])?;
                Command::Stop
            }
            "discard" => {
                self.args(node, &what, &[], &[])?;
                Command::Discard
            }
            "keep" => {
                let p = self.args(node, &what, &[("flags", TagArg::StringList)], &[])?;
                Command::Keep {
                    flags: self.flags_tag(&p)?,
                }
            }
            "fileinto" => {
                let p = self.args(
                    node,
                    &what,
                    &[("flags", TagArg::StringList), ("copy", TagArg::None)],
                    &[Kind::String],
                )?;
                Command::FileInto {
                    mailbox: p.positional.first().map(string).unwrap_or_default(),
                    flags: self.flags_tag(&p)?,
                    copy: self.copy_tag(&p)?,
                }
            }
            "redirect" => {
                let p = self.args(node, &what, &[("copy", TagArg::None)], &[Kind::String])?;
                let address = p.positional.first().map(string).unwrap_or_default();
                if !address.contains('@') && !address.contains("${") {
                    let at = p.positional.first().map_or(node.at, Arg::at);
                    return Err(self.err(at, format!("\"{address}\" is not a mail address")));
                }
                Command::Redirect {
                    address,
                    copy: self.copy_tag(&p)?,
                }
            }
            "reject" | "ereject" => {
                let p = self.args(node, &what, &[], &[Kind::String])?;
                Command::Reject {
                    reason: p.positional.first().map(string).unwrap_or_default(),
                }
            }
            "setflag" | "addflag" | "removeflag" => {
                let op = match name {
                    "setflag" => FlagOp::Set,
                    "addflag" => FlagOp::Add,
                    _ => FlagOp::Remove,
                };
                // The optional first argument names a variable (RFC 5232 §3).
                let (variable, flags) = match node.args.len() {
                    2 => {
                        let p = self.args(node, &what, &[], &[Kind::String, Kind::StringList])?;
                        self.need("variables", "a flag variable", node.at)?;
                        (
                            p.positional.first().map(string),
                            p.positional.get(1).map(strings).unwrap_or_default(),
                        )
                    }
                    _ => {
                        let p = self.args(node, &what, &[], &[Kind::StringList])?;
                        (None, p.positional.first().map(strings).unwrap_or_default())
                    }
                };
                Command::Flags {
                    op,
                    variable,
                    flags,
                }
            }
            "set" => {
                let p = self.args(
                    node,
                    &what,
                    &[
                        ("lower", TagArg::None),
                        ("upper", TagArg::None),
                        ("lowerfirst", TagArg::None),
                        ("upperfirst", TagArg::None),
                        ("quotewildcard", TagArg::None),
                        ("length", TagArg::None),
                    ],
                    &[Kind::String, Kind::String],
                )?;
                let name_arg = p.positional.first();
                let var = name_arg.map(string).unwrap_or_default();
                if !valid_variable_name(&var) {
                    let at = name_arg.map_or(node.at, Arg::at);
                    return Err(self.err(at, format!("\"{var}\" is not a variable name")));
                }
                let mut modifiers: Vec<Modifier> = p
                    .tags
                    .iter()
                    .filter_map(|(t, _, _)| match t.as_str() {
                        "lower" => Some(Modifier::Lower),
                        "upper" => Some(Modifier::Upper),
                        "lowerfirst" => Some(Modifier::LowerFirst),
                        "upperfirst" => Some(Modifier::UpperFirst),
                        "quotewildcard" => Some(Modifier::QuoteWildcard),
                        "length" => Some(Modifier::Length),
                        _ => None,
                    })
                    .collect();
                // RFC 5229 §4.1: two modifiers of the same precedence are an error.
                let same = |a: &[Modifier]| a.iter().filter(|m| modifiers.contains(m)).count() > 1;
                if same(&[Modifier::Lower, Modifier::Upper])
                    || same(&[Modifier::LowerFirst, Modifier::UpperFirst])
                {
                    return Err(self.err(node.at, "conflicting modifiers"));
                }
                modifiers.sort();
                modifiers.reverse();
                Command::Set {
                    name: var.to_ascii_lowercase(),
                    value: p.positional.get(1).map(string).unwrap_or_default(),
                    modifiers,
                }
            }
            _ => {
                // vacation
                let p = self.args(
                    node,
                    &what,
                    &[
                        ("days", TagArg::Number),
                        ("subject", TagArg::String),
                        ("from", TagArg::String),
                        ("addresses", TagArg::StringList),
                        ("mime", TagArg::None),
                        ("handle", TagArg::String),
                    ],
                    &[Kind::String],
                )?;
                Command::Vacation(Box::new(VacationArgs {
                    days: p.value("days").map(number),
                    subject: p.value("subject").map(string),
                    from: p.value("from").map(string),
                    addresses: p.value("addresses").map(strings).unwrap_or_default(),
                    mime: p.has("mime"),
                    handle: p.value("handle").map(string),
                    reason: p.positional.first().map(string).unwrap_or_default(),
                }))
            }
        };
        Ok(cmd)
    }

    fn test(&mut self, node: &Node) -> Result<Test, CompileError> {
        let name = node.name.as_str();
        let what = format!("test \"{name}\"");
        let with_tests = matches!(name, "allof" | "anyof" | "not");
        if !with_tests {
            if let Some(t) = node.tests.first() {
                return Err(self.err(t.at, format!("{what} takes no test")));
            }
        }
        let ext = match name {
            "envelope" | "body" => Some(name),
            "hasflag" => Some("imap4flags"),
            "string" => Some("variables"),
            _ => None,
        };
        let known = [
            "true", "false", "not", "allof", "anyof", "header", "address", "envelope", "exists",
            "size", "hasflag", "body", "string",
        ];
        if !known.contains(&name) {
            return Err(self.err(node.at, format!("unknown test \"{name}\"")));
        }
        if let Some(ext) = ext {
            self.need(ext, &what, node.at)?;
        }
        let mut match_tags = vec![COMPARATOR];
        match_tags.extend(MATCH_TYPES);
        let test = match name {
            "true" | "false" => {
                self.args(node, &what, &[], &[])?;
                if name == "true" {
                    Test::True
                } else {
                    Test::False
                }
            }
            "not" => {
                self.args(node, &what, &[], &[])?;
                if node.test_list || node.tests.len() != 1 {
                    return Err(self.err(node.at, "not takes exactly one test"));
                }
                let inner = node
                    .tests
                    .first()
                    .map(|t| self.test(t))
                    .transpose()?
                    .unwrap_or(Test::False);
                Test::Not(Box::new(inner))
            }
            "allof" | "anyof" => {
                self.args(node, &what, &[], &[])?;
                if !node.test_list {
                    return Err(
                        self.err(node.at, format!("{name} needs a test list in parentheses"))
                    );
                }
                let tests = node
                    .tests
                    .iter()
                    .map(|t| self.test(t))
                    .collect::<Result<Vec<_>, _>>()?;
                if name == "allof" {
                    Test::AllOf(tests)
                } else {
                    Test::AnyOf(tests)
                }
            }
            "header" => {
                let p = self.args(
                    node,
                    &what,
                    &match_tags,
                    &[Kind::StringList, Kind::StringList],
                )?;
                Test::Header {
                    m: self.matching(&p)?,
                    names: p.positional.first().map(strings).unwrap_or_default(),
                    keys: p.positional.get(1).map(strings).unwrap_or_default(),
                }
            }
            "address" | "envelope" => {
                let mut tags = match_tags.clone();
                tags.extend(ADDRESS_PARTS);
                let p = self.args(node, &what, &tags, &[Kind::StringList, Kind::StringList])?;
                let m = self.matching(&p)?;
                let part = self.address_part(&p)?;
                let first = p.positional.first().map(strings).unwrap_or_default();
                let keys = p.positional.get(1).map(strings).unwrap_or_default();
                if name == "address" {
                    Test::Address {
                        m,
                        part,
                        headers: first,
                        keys,
                    }
                } else {
                    let parts: Vec<String> = first.iter().map(|s| s.to_ascii_lowercase()).collect();
                    if let Some(bad) = parts.iter().find(|s| *s != "from" && *s != "to") {
                        let at = p.positional.first().map_or(node.at, Arg::at);
                        return Err(self.err(at, format!("unknown envelope part \"{bad}\"")));
                    }
                    Test::Envelope {
                        m,
                        part,
                        parts,
                        keys,
                    }
                }
            }
            "exists" => {
                let p = self.args(node, &what, &[], &[Kind::StringList])?;
                Test::Exists(p.positional.first().map(strings).unwrap_or_default())
            }
            "size" => {
                let p = self.args(
                    node,
                    &what,
                    &[("over", TagArg::None), ("under", TagArg::None)],
                    &[Kind::Number],
                )?;
                let over = p.has("over");
                if over == p.has("under") {
                    return Err(self.err(node.at, "size needs exactly one of :over and :under"));
                }
                Test::Size {
                    over,
                    limit: p.positional.first().map(number).unwrap_or_default(),
                }
            }
            "hasflag" => {
                // Positional arguments, not counting the value of :comparator.
                let comparator = usize::from(
                    node.args
                        .iter()
                        .any(|a| matches!(a, Arg::Tag(t, _) if t == "comparator")),
                );
                let positional = node
                    .args
                    .iter()
                    .filter(|a| !matches!(a, Arg::Tag(..)))
                    .count()
                    .saturating_sub(comparator);
                let (variables, p) = if positional >= 2 {
                    let p = self.args(
                        node,
                        &what,
                        &match_tags,
                        &[Kind::StringList, Kind::StringList],
                    )?;
                    self.need("variables", "a flag variable", node.at)?;
                    (p.positional.first().map(strings).unwrap_or_default(), p)
                } else {
                    let p = self.args(node, &what, &match_tags, &[Kind::StringList])?;
                    (Vec::new(), p)
                };
                Test::HasFlag {
                    m: self.matching(&p)?,
                    variables,
                    keys: p.positional.last().map(strings).unwrap_or_default(),
                }
            }
            "body" => {
                let mut tags = match_tags.clone();
                tags.extend([("raw", TagArg::None), ("text", TagArg::None)]);
                let p = self.args(node, &what, &tags, &[Kind::StringList])?;
                if p.has("raw") && p.has("text") {
                    return Err(self.err(node.at, "only one body transform may be given"));
                }
                Test::Body {
                    m: self.matching(&p)?,
                    raw: p.has("raw"),
                    keys: p.positional.first().map(strings).unwrap_or_default(),
                }
            }
            _ => {
                // string
                let p = self.args(
                    node,
                    &what,
                    &match_tags,
                    &[Kind::StringList, Kind::StringList],
                )?;
                Test::String {
                    m: self.matching(&p)?,
                    sources: p.positional.first().map(strings).unwrap_or_default(),
                    keys: p.positional.get(1).map(strings).unwrap_or_default(),
                }
            }
        };
        Ok(test)
    }
}

/// RFC 5229 §3: identifier, or a namespaced name (which we do not support).
fn valid_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
