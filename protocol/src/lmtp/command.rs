//! LMTP client commands (RFC 2033 over RFC 5321 syntax), envelope addresses and parameters.

use std::fmt;

use crate::pop3::{InitialResponse, Mechanism, Text};

use super::Error;

/// An unrecognised command keyword: 1 to 16 ASCII letters or digits, kept in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Verb(String);

impl Verb {
    /// Validate a keyword.
    pub fn new(s: &str) -> Result<Self, Error> {
        if !(1..=16).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::InvalidArgument {
                what: "command keyword",
                value: clip(s),
            });
        }
        Ok(Verb(s.to_ascii_uppercase()))
    }

    /// The keyword in upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub(crate) fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// A domain, address literal (`[127.0.0.1]`) or bare host name, as in LHLO and after `@`.
/// Letters, digits, `-`, `.`, `_` and non-ASCII (internationalised names), or a bracketed
/// literal of printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Domain(String);

impl Domain {
    /// Validate a domain.
    pub fn new(s: &str) -> Result<Self, Error> {
        let ok = if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b'[' | b']' | b'\\'))
        } else {
            !s.is_empty()
                && s.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') || b >= 0x80
                })
        };
        if !ok || s.len() > 255 {
            return Err(Error::InvalidAddress(clip(s)));
        }
        Ok(Domain(s.to_owned()))
    }

    /// The domain as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 5322 `atext`, plus non-ASCII for internationalised local parts (RFC 6531).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_atext))
}

/// A mailbox address `local@domain`, or a bare `local` (LMTP recipients at Cyrus are often
/// plain user names: `RCPT TO:<alice>`).
///
/// The local part is stored decoded (without quotes); [`fmt::Display`] quotes it again when
/// it is not a dot-atom.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    local: String,
    domain: Option<Domain>,
}

impl Address {
    /// Build an address. The local part may hold any printable characters (it is quoted on
    /// output when needed) but no CR, LF or NUL, and at most 256 octets.
    pub fn new(local: &str, domain: Option<Domain>) -> Result<Self, Error> {
        if local.len() > 256 || local.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Error::InvalidAddress(clip(local)));
        }
        Ok(Address {
            local: local.to_owned(),
            domain,
        })
    }

    /// Parse the text between `<` and `>` (a source route `@a,@b:` is accepted and dropped,
    /// as RFC 5321 §4.1.2 asks).
    pub fn parse(inner: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidAddress(clip(inner));
        let mut s = inner;
        if s.starts_with('@') {
            let colon = s.find(':').ok_or_else(bad)?;
            s = s.get(colon.saturating_add(1)..).ok_or_else(bad)?;
        }
        let (local, rest) = if let Some(q) = s.strip_prefix('"') {
            let mut local = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => local.push(chars.next().ok_or_else(bad)?.1),
                    '"' => {
                        end = Some(i.saturating_add(1));
                        break;
                    }
                    c => local.push(c),
                }
            }
            let end = end.ok_or_else(bad)?;
            (local, q.get(end..).ok_or_else(bad)?)
        } else {
            // An unquoted local part cannot hold '@', so the first one starts the domain.
            let (l, r) = match s.find('@') {
                Some(at) => (s.get(..at).ok_or_else(bad)?, s.get(at..).ok_or_else(bad)?),
                None => (s, ""),
            };
            if !is_dot_atom(l) {
                return Err(bad());
            }
            (l.to_owned(), r)
        };
        let domain = match rest {
            "" => None,
            r => Some(Domain::new(r.strip_prefix('@').ok_or_else(bad)?)?),
        };
        Address::new(&local, domain)
    }

    /// The local part, decoded.
    pub fn local(&self) -> &str {
        &self.local
    }

    /// The domain, if any.
    pub fn domain(&self) -> Option<&Domain> {
        self.domain.as_ref()
    }

    /// Split the local part at the first `+` into user and detail: `bob+Drafts` gives
    /// `("bob", Some("Drafts"))` (Cyrus delivers to the user's `Drafts` folder).
    pub fn user_and_detail(&self) -> (&str, Option<&str>) {
        match self.local.split_once('+') {
            Some((user, detail)) => (user, Some(detail)),
            None => (&self.local, None),
        }
    }

    /// The address with the user part (up to the first `+`) in lower case, as Cyrus does with
    /// `lmtp_downcase_rcpt` (on by default). The detail and the domain are left alone: folder
    /// names are case-sensitive, and domains are compared case-insensitively anyway.
    pub fn downcase_user(&self) -> Address {
        let local = match self.local.split_once('+') {
            Some((user, detail)) => format!("{}+{detail}", user.to_lowercase()),
            None => self.local.to_lowercase(),
        };
        Address {
            local,
            domain: self.domain.clone(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_dot_atom(&self.local) {
            f.write_str(&self.local)?;
        } else {
            f.write_str("\"")?;
            for c in self.local.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\"")?;
        }
        if let Some(d) = &self.domain {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The `MAIL FROM` path: an address or `<>` (bounces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversePath {
    /// `<>`.
    Null,
    /// `<address>`.
    Address(Address),
}

impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversePath::Null => f.write_str("<>"),
            ReversePath::Address(a) => write!(f, "<{a}>"),
        }
    }
}

/// An ESMTP parameter `KEYWORD[=value]` not otherwise typed. The keyword is kept in upper
/// case; the value is 1 or more of `%x21-3C / %x3E-7E` (RFC 5321 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    keyword: String,
    value: Option<String>,
}

impl Param {
    /// Validate a parameter.
    pub fn new(keyword: &str, value: Option<&str>) -> Result<Self, Error> {
        let kw_ok = keyword
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
            && keyword.len() <= 64
            && keyword
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let val_ok = value.is_none_or(|v| {
            !v.is_empty()
                && v.len() <= 1000
                && v.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'=')
        });
        if !kw_ok || !val_ok {
            return Err(Error::InvalidParameter(clip(&format!(
                "{keyword}={}",
                value.unwrap_or_default()
            ))));
        }
        Ok(Param {
            keyword: keyword.to_ascii_uppercase(),
            value: value.map(str::to_owned),
        })
    }

    /// The keyword in upper case.
    pub fn keyword(&self) -> &str {
        &self.keyword
    }

    /// The value, if any.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.keyword)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        Ok(())
    }
}

/// The `BODY=` parameter (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    /// `7BIT`.
    SevenBit,
    /// `8BITMIME`.
    EightBitMime,
    /// `BINARYMIME`.
    BinaryMime,
}

/// A `MAIL FROM` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailParam {
    /// `SIZE=n` (RFC 1870): the client's estimate of the message size.
    Size(u64),
    /// `BODY=…`.
    Body(BodyType),
    /// `AUTH=` (RFC 4954 §5): the identity that submitted the message, xtext-decoded; `None`
    /// for `AUTH=<>` (unknown). The Cyrus LMTP proxy sends this to backends.
    Auth(Option<String>),
    /// Anything else.
    Other(Param),
}

/// A `RCPT TO` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptParam {
    /// `IGNOREQUOTA` (Cyrus extension): deliver even over quota.
    IgnoreQuota,
    /// Anything else (DSN `NOTIFY=`, `ORCPT=`, …).
    Other(Param),
}

/// Decode RFC 3461 xtext (`+HH` escapes).
pub fn xtext_decode(s: &str) -> Result<String, Error> {
    let bad = || Error::InvalidParameter(clip(s));
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'+' {
            let hi = bytes.next().ok_or_else(bad)?;
            let lo = bytes.next().ok_or_else(bad)?;
            let hex = [hi, lo];
            let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
            if !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c))
            {
                return Err(bad());
            }
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
        } else if (0x21..=0x7e).contains(&b) && b != b'=' {
            out.push(b);
        } else {
            return Err(bad());
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// Encode as RFC 3461 xtext.
pub fn xtext_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    out
}

impl MailParam {
    fn from_param(p: Param) -> Result<Self, Error> {
        let bad = || Error::InvalidParameter(clip(&p.to_string()));
        Ok(match (p.keyword(), p.value()) {
            ("SIZE", Some(v)) => {
                let digits = v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit());
                MailParam::Size(if digits { v.parse().ok() } else { None }.ok_or_else(bad)?)
            }
            ("BODY", Some(v)) => MailParam::Body(match v.to_ascii_uppercase().as_str() {
                "7BIT" => BodyType::SevenBit,
                "8BITMIME" => BodyType::EightBitMime,
                "BINARYMIME" => BodyType::BinaryMime,
                _ => return Err(bad()),
            }),
            ("AUTH", Some("<>")) => MailParam::Auth(None),
            ("AUTH", Some(v)) => MailParam::Auth(Some(xtext_decode(v)?)),
            ("SIZE" | "BODY" | "AUTH", None) => return Err(bad()),
            _ => MailParam::Other(p),
        })
    }
}

impl fmt::Display for MailParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailParam::Size(n) => write!(f, "SIZE={n}"),
            MailParam::Body(BodyType::SevenBit) => f.write_str("BODY=7BIT"),
            MailParam::Body(BodyType::EightBitMime) => f.write_str("BODY=8BITMIME"),
            MailParam::Body(BodyType::BinaryMime) => f.write_str("BODY=BINARYMIME"),
            MailParam::Auth(None) => f.write_str("AUTH=<>"),
            MailParam::Auth(Some(id)) => write!(f, "AUTH={}", xtext_encode(id)),
            MailParam::Other(p) => p.fmt(f),
        }
    }
}

impl fmt::Display for RcptParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RcptParam::IgnoreQuota => f.write_str("IGNOREQUOTA"),
            RcptParam::Other(p) => p.fmt(f),
        }
    }
}

/// An LMTP client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `LHLO host`.
    Lhlo(Domain),
    /// `MAIL FROM:<path> [params]`.
    Mail {
        /// The reverse path.
        from: ReversePath,
        /// ESMTP parameters.
        params: Vec<MailParam>,
    },
    /// `RCPT TO:<address> [params]`.
    Rcpt {
        /// The recipient.
        to: Address,
        /// ESMTP parameters.
        params: Vec<RcptParam>,
    },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP` (an argument, which RFC 5321 allows, is ignored).
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(Text),
    /// `STARTTLS`.
    Starttls,
    /// `AUTH mech [initial-response]`.
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism,
        /// The initial response (`=` is an empty one).
        initial: Option<InitialResponse>,
    },
    /// Anything else (`TRACE`, `HELP`, `EHLO`, …), kept so the server can answer `500`.
    Unknown {
        /// The keyword.
        verb: Verb,
        /// Everything after the keyword and one space.
        args: Text,
    },
}

/// Split `<path>` off the front of `s`, honouring quoted local parts; returns the text between
/// the brackets and what follows the `>`.
fn split_path(s: &str) -> Result<(&str, &str), Error> {
    let bad = || Error::InvalidAddress(clip(s));
    let body = s.strip_prefix('<').ok_or_else(bad)?;
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '>' if !in_quote => {
                let inner = body.get(..i).ok_or_else(bad)?;
                let rest = body.get(i.saturating_add(1)..).ok_or_else(bad)?;
                return Ok((inner, rest));
            }
            _ => {}
        }
    }
    Err(bad())
}

fn params(rest: &str) -> Result<Vec<Param>, Error> {
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return Err(Error::InvalidParameter(clip(rest)));
    }
    rest.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Param::new(k, Some(v)),
            None => Param::new(w, None),
        })
        .collect()
}

/// Strip a case-insensitive `FROM:`/`TO:` and any spaces after it (many MTAs send
/// `MAIL FROM: <x>`; RFC 5321 has no space, but Cyrus and most servers accept it).
fn strip_keyword<'a>(rest: &'a str, kw: &str, command: &'static str) -> Result<&'a str, Error> {
    let head = rest.get(..kw.len()).filter(|h| h.eq_ignore_ascii_case(kw));
    let after = head
        .and_then(|_| rest.get(kw.len()..))
        .ok_or_else(|| Error::Syntax {
            command,
            expected: if kw == "FROM:" {
                "FROM:<path>"
            } else {
                "TO:<path>"
            },
        })?;
    Ok(after.trim_start_matches(' '))
}

impl Command {
    /// Parse one line (without CRLF). Keywords are case-insensitive.
    pub fn parse(line: &[u8]) -> Result<Self, Error> {
        let line = std::str::from_utf8(line).map_err(|_| Error::NotUtf8)?;
        if line.is_empty() {
            return Err(Error::EmptyLine);
        }
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let no_args = |c: Command, name: &'static str| {
            if rest.trim_matches(' ').is_empty() {
                Ok(c)
            } else {
                Err(Error::TooManyArguments { command: name })
            }
        };
        Ok(match verb.to_ascii_uppercase().as_str() {
            "LHLO" => {
                let host = rest.trim_matches(' ');
                if host.is_empty() {
                    return Err(Error::MissingArgument { command: "LHLO" });
                }
                Command::Lhlo(Domain::new(host)?)
            }
            "MAIL" => {
                let (path, rest) = split_path(strip_keyword(rest, "FROM:", "MAIL")?)?;
                let from = if path.is_empty() {
                    ReversePath::Null
                } else {
                    ReversePath::Address(Address::parse(path)?)
                };
                let params = params(rest)?
                    .into_iter()
                    .map(MailParam::from_param)
                    .collect::<Result<_, _>>()?;
                Command::Mail { from, params }
            }
            "RCPT" => {
                let (path, rest) = split_path(strip_keyword(rest, "TO:", "RCPT")?)?;
                let to = Address::parse(path)?;
                let params = params(rest)?
                    .into_iter()
                    .map(|p| match (p.keyword(), p.value()) {
                        ("IGNOREQUOTA", None) => RcptParam::IgnoreQuota,
                        _ => RcptParam::Other(p),
                    })
                    .collect();
                Command::Rcpt { to, params }
            }
            "DATA" => no_args(Command::Data, "DATA")?,
            "RSET" => no_args(Command::Rset, "RSET")?,
            "QUIT" => no_args(Command::Quit, "QUIT")?,
            "STARTTLS" => no_args(Command::Starttls, "STARTTLS")?,
            "NOOP" => Command::Noop,
            "VRFY" => {
                if rest.is_empty() {
                    return Err(Error::MissingArgument { command: "VRFY" });
                }
                Command::Vrfy(Text::new(rest)?)
            }
            "AUTH" => {
                let mut it = rest.split(' ').filter(|w| !w.is_empty());
                let mechanism = Mechanism::new(
                    it.next()
                        .ok_or(Error::MissingArgument { command: "AUTH" })?,
                )?;
                let initial = it.next().map(InitialResponse::parse).transpose()?;
                if it.next().is_some() {
                    return Err(Error::TooManyArguments { command: "AUTH" });
                }
                Command::Auth { mechanism, initial }
            }
            _ => Command::Unknown {
                verb: Verb::new(verb)?,
                args: Text::new(rest)?,
            },
        })
    }

    /// The keyword, for logs and error texts.
    pub fn verb(&self) -> &str {
        match self {
            Command::Lhlo(_) => "LHLO",
            Command::Mail { .. } => "MAIL",
            Command::Rcpt { .. } => "RCPT",
            Command::Data => "DATA",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
            Command::Vrfy(_) => "VRFY",
            Command::Starttls => "STARTTLS",
            Command::Auth { .. } => "AUTH",
            Command::Unknown { verb, .. } => verb.as_str(),
        }
    }

    /// Append the command line with CRLF, in canonical form (upper-case keywords, no space
    /// after the colon).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let line = match self {
            Command::Lhlo(h) => format!("LHLO {h}"),
            Command::Mail { from, params } => {
                let mut s = format!("MAIL FROM:{from}");
                for p in params {
                    s.push_str(&format!(" {p}"));
                }
                s
            }
            Command::Rcpt { to, params } => {
                let mut s = format!("RCPT TO:<{to}>");
                for p in params {
                    s.push_str(&format!(" {p}"));
                }
                s
            }
            Command::Vrfy(t) => format!("VRFY {t}"),
            Command::Auth { mechanism, initial } => match initial {
                Some(i) => format!("AUTH {mechanism} {}", i.wire()),
                None => format!("AUTH {mechanism}"),
            },
            Command::Unknown { verb, args } if !args.is_empty() => {
                format!("{} {args}", verb.as_str())
            }
            other => other.verb().to_owned(),
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}
