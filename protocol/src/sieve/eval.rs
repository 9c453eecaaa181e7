//! Running a compiled script against one message: tests, actions, the implicit keep
//! (RFC 5228 §2.10.2), imap4flags' internal variable, variables, and the vacation rules of
//! RFC 5230 §4.5–4.6 (whom not to answer).

use std::borrow::Cow;
use std::collections::HashMap;

use super::matching::{matches, Budget, OutOfSteps};
use super::{AddressPart, Command, FlagOp, Match, MatchType, Modifier, Script, Test};
use crate::mime::{self, header};

/// What the script sees of one message and its envelope.
#[derive(Debug, Clone)]
pub struct MessageContext<'a> {
    /// The whole message as delivered (header, empty line, body).
    pub message: &'a [u8],
    /// The header block of `message`.
    pub header: &'a [u8],
    /// The body of `message`.
    pub body: &'a [u8],
    /// Size for `size :over/:under`, in bytes.
    pub size: u64,
    /// MAIL FROM without angle brackets; empty for the null sender `<>`.
    pub envelope_from: &'a str,
    /// This recipient's RCPT TO without angle brackets.
    pub envelope_to: &'a str,
    /// The recipient's own addresses: vacation answers only mail sent to one of these (or to
    /// one of the script's `:addresses`), and never to mail sent by one of them.
    pub own_addresses: Vec<String>,
    /// The header fields, parsed once on first use: a script of fifty rules asks for the same
    /// few headers again and again.
    parsed: std::cell::OnceCell<Vec<ParsedField>>,
}

/// One header field as the tests see it.
#[derive(Debug, Clone)]
struct ParsedField {
    /// The name, lower-cased.
    name: Vec<u8>,
    /// The value, unfolded.
    value: Vec<u8>,
    /// The value with RFC 2047 encoded words decoded, trimmed (what `header` compares).
    decoded: String,
    /// The addresses in the value (what `address` compares), parsed on first use.
    addresses: std::cell::OnceCell<Vec<String>>,
}

impl ParsedField {
    fn addresses(&self) -> &[String] {
        self.addresses
            .get_or_init(|| mime::plain_addresses(&self.value))
    }
}

impl<'a> MessageContext<'a> {
    /// The context of `message` for one recipient, whose own address is `envelope_to`.
    pub fn new(message: &'a [u8], envelope_from: &'a str, envelope_to: &'a str) -> Self {
        let (header, body) = header::split(message);
        MessageContext {
            message,
            header,
            body,
            size: message.len() as u64,
            envelope_from,
            envelope_to,
            own_addresses: vec![envelope_to.to_string()],
            parsed: std::cell::OnceCell::new(),
        }
    }

    fn parsed(&self) -> &[ParsedField] {
        self.parsed.get_or_init(|| {
            header::fields(self.header)
                .map(|f| {
                    let value = f.value().into_owned();
                    ParsedField {
                        name: f.name().to_ascii_lowercase(),
                        decoded: mime::decode_words(&value),
                        value,
                        addresses: std::cell::OnceCell::new(),
                    }
                })
                .collect()
        })
    }

    /// The fields named `name` (case-insensitive), in order.
    fn fields_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s ParsedField> + 's {
        self.parsed()
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name.as_bytes()))
    }
}

/// One thing the delivery agent must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Store in the INBOX with these flags (explicit `keep` or the implicit keep).
    Keep {
        /// IMAP flags to set, one per entry (`\Seen`, `$Junk`).
        flags: Vec<String>,
    },
    /// Store in the named mailbox (as the script names it, e.g. `INBOX.Work`).
    FileInto {
        /// The mailbox, in the user's view of the namespace.
        mailbox: String,
        /// IMAP flags to set.
        flags: Vec<String>,
        /// `:copy`: does not cancel the implicit keep.
        copy: bool,
    },
    /// The message was thrown away (kept only so logs can say so).
    Discard,
    /// Refuse the message with this reason (RFC 5429).
    Reject {
        /// Text for the refusal.
        reason: String,
    },
    /// Send the message on to `address`.
    Redirect {
        /// Where to.
        address: String,
        /// `:copy`: does not cancel the implicit keep.
        copy: bool,
    },
    /// Answer the sender, unless already answered within `days` for this `handle`.
    Vacation(Box<Vacation>),
}

/// A vacation reply that passed the RFC 5230 checks; only duplicate suppression is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacation {
    /// What identifies "the same" vacation for duplicate suppression: `:handle`, or a hash of
    /// the reason, subject, from and mime arguments (RFC 5230 §4.2).
    pub handle: String,
    /// Days within which the same sender gets no second reply (1 to 365; default 7).
    pub days: u32,
    /// Subject of the reply (`:subject`, else "Auto: " and the original subject).
    pub subject: String,
    /// `:from`, if given; else the reply comes from the recipient.
    pub from: Option<String>,
    /// `:addresses` plus the recipient's own: the address the reply should come from is the
    /// one of these the message was sent to.
    pub addresses: Vec<String>,
    /// `:mime`: `reason` is a MIME entity (headers and body), not plain text.
    pub mime: bool,
    /// The reply text.
    pub reason: String,
    /// Whom to answer: the envelope sender.
    pub to: String,
    /// The original `Message-ID`, for `In-Reply-To` and `References`.
    pub in_reply_to: Option<String>,
    /// The recipient address the message was sent to (one of `addresses`).
    pub recipient: String,
}

/// The result of running a script.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// What to do, in the order the script asked; the implicit keep, when it applies, is last.
    pub actions: Vec<Action>,
    /// A run-time error. The actions are then only the implicit keep (RFC 5228 §2.10.6).
    pub error: Option<String>,
    /// Why a `vacation` the script ran gives no reply (RFC 5230 §4.5–4.6), for the log.
    pub vacation_skipped: Option<&'static str>,
}

/// A run-time error.
struct RunError(String);

impl From<OutOfSteps> for RunError {
    fn from(_: OutOfSteps) -> Self {
        RunError("script ran too long".into())
    }
}

struct Run<'s, 'm> {
    script: &'s Script,
    msg: &'m MessageContext<'m>,
    budget: Budget,
    actions: Vec<Action>,
    implicit_keep: bool,
    /// imap4flags' internal variable.
    flags: Vec<String>,
    variables: HashMap<String, String>,
    /// `${0}`, `${1}`... from the last successful `:matches`.
    match_vars: Vec<String>,
    vacation: Option<Box<super::VacationArgs>>,
    uses_variables: bool,
}

/// Runs `script` against `msg`.
pub fn evaluate(script: &Script, msg: &MessageContext<'_>) -> Outcome {
    let mut run = Run {
        script,
        msg,
        budget: Budget {
            left: script.limits.max_steps,
        },
        actions: Vec::new(),
        implicit_keep: true,
        flags: Vec::new(),
        variables: HashMap::new(),
        match_vars: Vec::new(),
        vacation: None,
        uses_variables: script.requires.iter().any(|r| r == "variables"),
    };
    let result = run.block(&script.commands).and_then(|_| run.finish());
    match result {
        Ok(skipped) => Outcome {
            actions: run.actions,
            error: None,
            vacation_skipped: skipped,
        },
        Err(RunError(e)) => Outcome {
            actions: vec![Action::Keep { flags: Vec::new() }],
            error: Some(e),
            vacation_skipped: None,
        },
    }
}

/// Whether a command said `stop`.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

impl Run<'_, '_> {
    fn expand<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if !self.uses_variables || !s.contains("${") {
            return Cow::Borrowed(s);
        }
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let name_len = after.find('}');
            let name = name_len.and_then(|n| after.get(..n));
            match name {
                Some(name) if is_variable_ref(name) => {
                    if name.bytes().all(|b| b.is_ascii_digit()) {
                        let n: usize = name.parse().unwrap_or(usize::MAX);
                        if let Some(v) = self.match_vars.get(n) {
                            out.push_str(v);
                        }
                    } else if let Some(v) = self.variables.get(&name.to_ascii_lowercase()) {
                        out.push_str(v);
                    }
                    rest = after.get(name.len() + 1..).unwrap_or_default();
                }
                _ => {
                    out.push_str("${");
                    rest = after;
                }
            }
            if out.len() > self.script.limits.max_string_len {
                break;
            }
        }
        out.push_str(rest);
        Cow::Owned(out)
    }

    fn expand_all<'a>(&self, list: &'a [String]) -> Vec<Cow<'a, str>> {
        list.iter().map(|s| self.expand(s)).collect()
    }

    fn step(&mut self) -> Result<(), RunError> {
        if self.budget.spend(1) {
            Ok(())
        } else {
            Err(OutOfSteps.into())
        }
    }

    fn block(&mut self, cmds: &[Command]) -> Result<Flow, RunError> {
        for c in cmds {
            self.step()?;
            if self.command(c)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Go)
    }

    fn command(&mut self, c: &Command) -> Result<Flow, RunError> {
        match c {
            Command::If {
                branches,
                otherwise,
            } => {
                for (test, body) in branches {
                    if self.test(test)? {
                        return self.block(body);
                    }
                }
                if let Some(body) = otherwise {
                    return self.block(body);
                }
            }
            Command::Stop => return Ok(Flow::Stop),
            Command::Keep { flags } => {
                let flags = self.flag_arg(flags.as_deref());
                self.implicit_keep = false;
                if !self
                    .actions
                    .iter()
                    .any(|a| matches!(a, Action::Keep { .. }))
                {
                    self.actions.push(Action::Keep { flags });
                }
            }
            Command::Discard => {
                self.implicit_keep = false;
                if !self.actions.contains(&Action::Discard) {
                    self.actions.push(Action::Discard);
                }
            }
            Command::FileInto {
                mailbox,
                flags,
                copy,
            } => {
                let mailbox = self.expand(mailbox).into_owned();
                if mailbox.is_empty() {
                    return Err(RunError("fileinto: empty mailbox name".into()));
                }
                let flags = self.flag_arg(flags.as_deref());
                if !*copy {
                    self.implicit_keep = false;
                }
                let dup = self
                    .actions
                    .iter()
                    .any(|a| matches!(a, Action::FileInto { mailbox: m, .. } if *m == mailbox));
                if !dup {
                    self.actions.push(Action::FileInto {
                        mailbox,
                        flags,
                        copy: *copy,
                    });
                }
            }
            Command::Redirect { address, copy } => {
                let address = self.expand(address).into_owned();
                if !valid_address(&address) {
                    return Err(RunError(format!(
                        "redirect: \"{address}\" is not a mail address"
                    )));
                }
                let n = self
                    .actions
                    .iter()
                    .filter(|a| matches!(a, Action::Redirect { .. }))
                    .count();
                if n >= self.script.limits.max_redirects {
                    return Err(RunError("too many redirects".into()));
                }
                if !*copy {
                    self.implicit_keep = false;
                }
                let dup = self.actions.iter().any(
                    |a| matches!(a, Action::Redirect { address: x, .. } if x.eq_ignore_ascii_case(&address)),
                );
                if !dup {
                    self.actions.push(Action::Redirect {
                        address,
                        copy: *copy,
                    });
                }
            }
            Command::Reject { reason } => {
                let reason = self.expand(reason).into_owned();
                self.implicit_keep = false;
                if !self
                    .actions
                    .iter()
                    .any(|a| matches!(a, Action::Reject { .. }))
                {
                    self.actions.push(Action::Reject { reason });
                }
            }
            Command::Flags {
                op,
                variable,
                flags,
            } => {
                let given = split_flags(&self.expand_all(flags));
                let mut current = match variable {
                    Some(v) => split_flags(&[self.variable(v)]),
                    None => self.flags.clone(),
                };
                match op {
                    FlagOp::Set => current = given,
                    FlagOp::Add => {
                        for f in given {
                            if !current.iter().any(|c| c.eq_ignore_ascii_case(&f)) {
                                current.push(f);
                            }
                        }
                    }
                    FlagOp::Remove => {
                        current.retain(|c| !given.iter().any(|f| f.eq_ignore_ascii_case(c)))
                    }
                }
                match variable {
                    Some(v) => {
                        let name = self.expand(v).to_ascii_lowercase();
                        self.variables.insert(name, current.join(" "));
                    }
                    None => self.flags = current,
                }
            }
            Command::Set {
                name,
                value,
                modifiers,
            } => {
                let mut v = self.expand(value).into_owned();
                for m in modifiers {
                    v = apply_modifier(*m, &v);
                }
                truncate(&mut v, self.script.limits.max_string_len);
                self.variables.insert(name.clone(), v);
            }
            Command::Vacation(args) => {
                if self.vacation.is_some() {
                    return Err(RunError("vacation used twice".into()));
                }
                self.vacation = Some(args.clone());
            }
        }
        Ok(Flow::Go)
    }

    fn variable(&self, name: &str) -> String {
        let name = self.expand(name).to_ascii_lowercase();
        self.variables.get(&name).cloned().unwrap_or_default()
    }

    /// The flags of a `:flags` argument, or the internal variable's.
    fn flag_arg(&self, flags: Option<&[String]>) -> Vec<String> {
        match flags {
            Some(f) => split_flags(&self.expand_all(f)),
            None => self.flags.clone(),
        }
    }

    /// Compares each value against each key; true at the first match.
    fn any_match<V: AsRef<str>>(
        &mut self,
        m: &Match,
        values: &[V],
        keys: &[String],
    ) -> Result<bool, RunError> {
        let keys = self.expand_all(keys);
        let want_captures = self.uses_variables && m.kind == MatchType::Matches;
        let mut caps = Vec::new();
        for v in values {
            let v = v.as_ref();
            for k in &keys {
                let c = if want_captures { Some(&mut caps) } else { None };
                if matches(m.comparator, m.kind, v, k, c, &mut self.budget)? {
                    if want_captures {
                        self.match_vars = std::mem::take(&mut caps);
                    }
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn test(&mut self, t: &Test) -> Result<bool, RunError> {
        self.step()?;
        Ok(match t {
            Test::True => true,
            Test::False => false,
            Test::Not(inner) => !self.test(inner)?,
            Test::AllOf(list) => {
                for t in list {
                    if !self.test(t)? {
                        return Ok(false);
                    }
                }
                true
            }
            Test::AnyOf(list) => {
                for t in list {
                    if self.test(t)? {
                        return Ok(true);
                    }
                }
                false
            }
            Test::Header { m, names, keys } => {
                let names = self.expand_all(names);
                let msg = self.msg;
                // Unfolded, trimmed, RFC 2047 words decoded; borrowed from the parsed header.
                let values: Vec<&str> = names
                    .iter()
                    .flat_map(|n| msg.fields_named(n))
                    .map(|f| f.decoded.as_str())
                    .collect();
                self.any_match(m, &values, keys)?
            }
            Test::Address {
                m,
                part,
                headers,
                keys,
            } => {
                let names = self.expand_all(headers);
                let msg = self.msg;
                let values: Vec<&str> = names
                    .iter()
                    .flat_map(|n| msg.fields_named(n))
                    .flat_map(|f| f.addresses())
                    .map(|a| address_part(a, *part))
                    .collect();
                self.any_match(m, &values, keys)?
            }
            Test::Envelope {
                m,
                part,
                parts,
                keys,
            } => {
                let values: Vec<&str> = parts
                    .iter()
                    .map(|p| {
                        let a = if p == "from" {
                            self.msg.envelope_from
                        } else {
                            self.msg.envelope_to
                        };
                        // The null sender's parts are all empty (RFC 5228 §5.4).
                        if a.is_empty() {
                            ""
                        } else {
                            address_part(a, *part)
                        }
                    })
                    .collect();
                self.any_match(m, &values, keys)?
            }
            Test::Exists(names) => {
                let names = self.expand_all(names);
                names
                    .iter()
                    .all(|n| self.msg.fields_named(n).next().is_some())
            }
            Test::Size { over, limit } => {
                if *over {
                    self.msg.size > *limit
                } else {
                    self.msg.size < *limit
                }
            }
            Test::HasFlag { m, variables, keys } => {
                let values = if variables.is_empty() {
                    self.flags.clone()
                } else {
                    let vals: Vec<String> = variables.iter().map(|v| self.variable(v)).collect();
                    split_flags(&vals)
                };
                let keys = split_flags(&self.expand_all(keys));
                self.any_match(m, &values, &keys)?
            }
            Test::Body { m, raw, keys } => {
                let text = if *raw {
                    String::from_utf8_lossy(self.msg.body).into_owned()
                } else {
                    mime::searchable_text(self.msg.message)
                };
                self.any_match(m, &[text], keys)?
            }
            Test::String { m, sources, keys } => {
                let values = self.expand_all(sources);
                self.any_match(m, &values, keys)?
            }
        })
    }

    /// After the last command: conflicts, the implicit keep and the vacation decision.
    fn finish(&mut self) -> Result<Option<&'static str>, RunError> {
        let rejected = self
            .actions
            .iter()
            .any(|a| matches!(a, Action::Reject { .. }));
        if rejected {
            // RFC 5429 §2.1: reject cannot be combined with delivering or forwarding the
            // message, nor with vacation (both would answer the sender).
            let other = self.actions.iter().any(|a| {
                matches!(
                    a,
                    Action::Keep { .. } | Action::FileInto { .. } | Action::Redirect { .. }
                )
            });
            if other || self.vacation.is_some() {
                return Err(RunError("reject cannot be used with other actions".into()));
            }
        }
        if self.implicit_keep {
            self.actions.push(Action::Keep {
                flags: self.flags.clone(),
            });
        }
        let Some(args) = self.vacation.take() else {
            return Ok(None);
        };
        let mut addresses = self.msg.own_addresses.clone();
        addresses.extend(
            self.expand_all(&args.addresses)
                .into_iter()
                .map(Cow::into_owned),
        );
        let recipient = match vacation_reply_allowed(self.msg, &addresses) {
            Ok(r) => r,
            Err(why) => return Ok(Some(why)),
        };
        let reason = self.expand(&args.reason).into_owned();
        let subject = match &args.subject {
            Some(s) => self.expand(s).into_owned(),
            None => {
                let original = self
                    .msg
                    .fields_named("subject")
                    .next()
                    .map(|f| f.decoded.clone())
                    .unwrap_or_default();
                if original.is_empty() {
                    "Automated reply".to_string()
                } else {
                    format!("Auto: {original}")
                }
            }
        };
        let from = args.from.as_ref().map(|f| self.expand(f).into_owned());
        let handle = match &args.handle {
            Some(h) => self.expand(h).into_owned(),
            None => {
                // RFC 5230 §4.2: without :handle, vacations that differ in these arguments
                // are different vacations.
                let mut h = Fnv::default();
                h.add(reason.as_bytes());
                h.add(args.subject.as_deref().unwrap_or_default().as_bytes());
                h.add(from.as_deref().unwrap_or_default().as_bytes());
                h.add(&[u8::from(args.mime)]);
                format!("{:016x}", h.0)
            }
        };
        let in_reply_to = header::first(self.msg.header, b"Message-ID")
            .map(|f| String::from_utf8_lossy(&f.value()).into_owned())
            .filter(|s| !s.is_empty());
        let days = args.days.unwrap_or(7).clamp(1, 365) as u32;
        self.actions.push(Action::Vacation(Box::new(Vacation {
            handle,
            days,
            subject,
            from,
            addresses,
            mime: args.mime,
            reason,
            to: self.msg.envelope_from.to_string(),
            in_reply_to,
            recipient,
        })));
        Ok(None)
    }
}

/// RFC 5230 §4.5–4.6: whether `msg` may be answered by a vacation, given the recipient's
/// addresses. Returns the address (among `addresses`) the message was sent to, or why not.
pub fn vacation_reply_allowed(
    msg: &MessageContext<'_>,
    addresses: &[String],
) -> Result<String, &'static str> {
    let sender = msg.envelope_from;
    if sender.is_empty() {
        return Err("null sender");
    }
    let local = sender
        .rsplit_once('@')
        .map_or(sender, |(l, _)| l)
        .to_ascii_lowercase();
    if local == "mailer-daemon"
        || local == "listserv"
        || local == "majordomo"
        || local.starts_with("owner-")
        || local.ends_with("-request")
    {
        return Err("sender is a mailer or list address");
    }
    if addresses.iter().any(|a| a.eq_ignore_ascii_case(sender)) {
        return Err("sender is the recipient");
    }
    if let Some(f) = header::first(msg.header, b"Auto-Submitted") {
        let v = f.value();
        let kind = String::from_utf8_lossy(&v);
        let kind = kind.split(';').next().unwrap_or_default().trim();
        if !kind.eq_ignore_ascii_case("no") {
            return Err("message is auto-submitted");
        }
    }
    if header::first(msg.header, b"List-Id").is_some() {
        return Err("message is from a mailing list");
    }
    if let Some(f) = header::first(msg.header, b"Precedence") {
        let v = String::from_utf8_lossy(&f.value())
            .trim()
            .to_ascii_lowercase();
        if v == "bulk" || v == "list" || v == "junk" {
            return Err("message has bulk precedence");
        }
    }
    for name in ["To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc"] {
        for f in header::all(msg.header, name.as_bytes()) {
            for a in mime::plain_addresses(&f.value()) {
                if let Some(own) = addresses.iter().find(|o| o.eq_ignore_ascii_case(&a)) {
                    return Ok(own.clone());
                }
            }
        }
    }
    Err("recipient is not in To or Cc")
}

/// 64-bit FNV-1a, for default vacation handles: stable across runs and builds.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
}

/// `${name}` or `${digits}`: what a variable reference may name.
fn is_variable_ref(name: &str) -> bool {
    let mut b = name.bytes();
    match b.next() {
        Some(c) if c.is_ascii_digit() => {
            name.len() <= 4 && name.bytes().all(|c| c.is_ascii_digit())
        }
        Some(c) if c.is_ascii_alphabetic() || c == b'_' => {
            b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        }
        _ => false,
    }
}

fn address_part(address: &str, part: AddressPart) -> &str {
    match part {
        AddressPart::All => address,
        AddressPart::LocalPart => address.rsplit_once('@').map_or(address, |(l, _)| l),
        AddressPart::Domain => address.rsplit_once('@').map_or("", |(_, d)| d),
    }
}

/// Flag lists are space-separated inside each string (RFC 5232 §3).
fn split_flags<S: AsRef<str>>(list: &[S]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in list
        .iter()
        .flat_map(|s| s.as_ref().split_ascii_whitespace())
    {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(f)) {
            out.push(f.to_string());
        }
    }
    out
}

fn valid_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((l, d)) => {
            !l.is_empty()
                && !d.is_empty()
                && !a
                    .bytes()
                    .any(|b| b.is_ascii_whitespace() || b == b'<' || b == b'>')
        }
        None => false,
    }
}

fn apply_modifier(m: Modifier, v: &str) -> String {
    match m {
        Modifier::Lower => v.to_lowercase(),
        Modifier::Upper => v.to_uppercase(),
        Modifier::LowerFirst | Modifier::UpperFirst => {
            let mut c = v.chars();
            match c.next() {
                Some(f) => {
                    let first: String = if m == Modifier::LowerFirst {
                        f.to_lowercase().collect()
                    } else {
                        f.to_uppercase().collect()
                    };
                    first + c.as_str()
                }
                None => String::new(),
            }
        }
        Modifier::QuoteWildcard => {
            let mut out = String::with_capacity(v.len());
            for c in v.chars() {
                if matches!(c, '*' | '?' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        }
        Modifier::Length => v.chars().count().to_string(),
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}
