//! POP3 server responses: status lines, response codes, CAPA and listing lines.

use std::fmt;

use super::command::MsgNum;
use super::framing::body_lines;
use super::text::{InvalidText, Mechanism, SaslData, Text};
use super::Error;

/// An extended response code (RFC 2449 §8, RFC 3206), the bracketed word after `+OK`/`-ERR`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RespCode {
    /// `AUTH`: the credentials were wrong (a permanent failure for these credentials).
    Auth,
    /// `SYS/TEMP`: a temporary system problem; Cyrus sends it when the maildrop is reserved or
    /// moving in a murder (reference §4.13).
    SysTemp,
    /// `SYS/PERM`: a permanent system problem.
    SysPerm,
    /// `IN-USE`: the maildrop is locked by another session.
    InUse,
    /// `LOGIN-DELAY`: logged in too recently.
    LoginDelay,
    /// Any other well-formed code (kept for relaying).
    Other(OtherCode),
}

/// A well-formed response code outside the ones [`RespCode`] names: one or more levels of
/// `%x21-2E / %x30-5C / %x5E-7F` separated by `/` (RFC 2449 §8).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OtherCode(String);

impl OtherCode {
    /// The code text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_resp_code(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|level| {
            !level.is_empty()
                && level
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'/' && b != b']')
        })
}

impl RespCode {
    /// Parse the text between the brackets; `None` if it is not a valid code.
    pub fn parse(s: &str) -> Option<Self> {
        if !valid_resp_code(s) {
            return None;
        }
        Some(match s.to_ascii_uppercase().as_str() {
            "AUTH" => RespCode::Auth,
            "SYS/TEMP" => RespCode::SysTemp,
            "SYS/PERM" => RespCode::SysPerm,
            "IN-USE" => RespCode::InUse,
            "LOGIN-DELAY" => RespCode::LoginDelay,
            _ => RespCode::Other(OtherCode(s.to_owned())),
        })
    }

    /// The code as sent.
    pub fn as_str(&self) -> &str {
        match self {
            RespCode::Auth => "AUTH",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::Other(o) => o.as_str(),
        }
    }

    /// True for codes that mean "try again later" (the proxy maps these to a temporary error).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            RespCode::SysTemp | RespCode::InUse | RespCode::LoginDelay
        )
    }
}

impl fmt::Display for RespCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A single-line server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `+OK [code] text`.
    Ok {
        /// The optional response code.
        code: Option<RespCode>,
        /// The text (may be empty: Cyrus answers QUIT with a bare `+OK`).
        text: Text,
    },
    /// `-ERR [code] text`.
    Err {
        /// The optional response code.
        code: Option<RespCode>,
        /// The text.
        text: Text,
    },
    /// `+ base64`: a SASL challenge during AUTH (RFC 5034).
    Challenge(SaslData),
}

/// Split `[CODE] text` into code and text; a malformed bracket stays part of the text.
fn split_code(rest: &str) -> (Option<RespCode>, &str) {
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some((code, after)) = inner.split_once(']') {
            let after_ok = after.is_empty() || after.starts_with(' ');
            if let (true, Some(code)) = (after_ok, RespCode::parse(code)) {
                return (Some(code), after.strip_prefix(' ').unwrap_or(after));
            }
        }
    }
    (None, rest)
}

impl Response {
    /// `+OK text`.
    pub fn ok(text: &str) -> Result<Self, InvalidText> {
        Ok(Response::Ok {
            code: None,
            text: Text::new(text)?,
        })
    }

    /// `-ERR text`.
    pub fn err(text: &str) -> Result<Self, InvalidText> {
        Ok(Response::Err {
            code: None,
            text: Text::new(text)?,
        })
    }

    /// `-ERR [code] text`.
    pub fn err_with(code: RespCode, text: &str) -> Result<Self, InvalidText> {
        Ok(Response::Err {
            code: Some(code),
            text: Text::new(text)?,
        })
    }

    /// Parse one line (without CRLF).
    pub fn parse(line: &[u8]) -> Result<Self, Error> {
        let line = std::str::from_utf8(line).map_err(|_| Error::NotUtf8)?;
        let status = |prefix: &str| -> Option<&str> {
            let head = line.get(..prefix.len())?;
            if !head.eq_ignore_ascii_case(prefix) {
                return None;
            }
            let after = line.get(prefix.len()..)?;
            if after.is_empty() {
                Some("")
            } else {
                after.strip_prefix(' ')
            }
        };
        if let Some(rest) = status("+OK") {
            let (code, text) = split_code(rest);
            return Ok(Response::Ok {
                code,
                text: Text::new(text)?,
            });
        }
        if let Some(rest) = status("-ERR") {
            let (code, text) = split_code(rest);
            return Ok(Response::Err {
                code,
                text: Text::new(text)?,
            });
        }
        if line == "+" {
            return Ok(Response::Challenge(SaslData::default()));
        }
        if let Some(data) = line.strip_prefix("+ ") {
            return Ok(Response::Challenge(SaslData::new(data)?));
        }
        Err(Error::BadResponse(line.chars().take(80).collect()))
    }

    /// True for `+OK`.
    pub fn is_ok(&self) -> bool {
        matches!(self, Response::Ok { .. })
    }

    /// The response code, if any.
    pub fn code(&self) -> Option<&RespCode> {
        match self {
            Response::Ok { code, .. } | Response::Err { code, .. } => code.as_ref(),
            Response::Challenge(_) => None,
        }
    }

    /// The text after the status and code (empty for a challenge).
    pub fn text(&self) -> &str {
        match self {
            Response::Ok { text, .. } | Response::Err { text, .. } => text.as_str(),
            Response::Challenge(_) => "",
        }
    }

    /// The APOP timestamp (`<…@…>`) in a greeting, if the server offers APOP (RFC 1939 §7).
    pub fn apop_timestamp(&self) -> Option<&str> {
        let Response::Ok { text, .. } = self else {
            return None;
        };
        let text = text.as_str();
        let start = text.rfind('<')?;
        let tail = text.get(start..)?;
        let end = tail.find('>')?;
        let stamp = tail.get(..=end)?;
        stamp.contains('@').then_some(stamp)
    }

    /// Append the line with CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (status, code, text) = match self {
            Response::Ok { code, text } => ("+OK", code, text),
            Response::Err { code, text } => ("-ERR", code, text),
            Response::Challenge(data) => {
                out.extend_from_slice(b"+ ");
                out.extend_from_slice(data.expose().as_bytes());
                out.extend_from_slice(b"\r\n");
                return;
            }
        };
        out.extend_from_slice(status.as_bytes());
        if let Some(code) = code {
            out.extend_from_slice(b" [");
            out.extend_from_slice(code.as_str().as_bytes());
            out.push(b']');
        }
        if !text.is_empty() {
            out.push(b' ');
            out.extend_from_slice(text.as_str().as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The EXPIRE capability's policy (RFC 2449 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirePolicy {
    /// `NEVER`: the server never deletes messages on its own.
    Never,
    /// Messages may be deleted after this many days (0: as soon as retrieved).
    Days(u32),
}

/// One CAPA line (RFC 2449 §6, plus the AUTH-RESP-CODE capability of RFC 3206).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// `TOP`.
    Top,
    /// `USER`: USER/PASS is allowed.
    User,
    /// `UIDL`.
    Uidl,
    /// `PIPELINING`.
    Pipelining,
    /// `RESP-CODES`.
    RespCodes,
    /// `AUTH-RESP-CODE` (RFC 3206).
    AuthRespCode,
    /// `STLS` (RFC 2595).
    Stls,
    /// `SASL mech…`.
    Sasl(Vec<Mechanism>),
    /// `EXPIRE policy [USER]`.
    Expire {
        /// The policy.
        policy: ExpirePolicy,
        /// `USER`: the value may differ per user.
        per_user: bool,
    },
    /// `LOGIN-DELAY seconds [USER]`.
    LoginDelay {
        /// Minimum seconds between logins.
        seconds: u32,
        /// `USER`: the value may differ per user.
        per_user: bool,
    },
    /// `IMPLEMENTATION text`.
    Implementation(Text),
    /// Any other line, kept verbatim.
    Other(Text),
}

fn small_number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn per_user(rest: &[&str]) -> Option<bool> {
    match rest {
        [] => Some(false),
        [u] if u.eq_ignore_ascii_case("USER") => Some(true),
        _ => None,
    }
}

impl Capability {
    /// Parse one CAPA line. Lines not understood become [`Capability::Other`].
    pub fn parse(line: &str) -> Result<Self, InvalidText> {
        let words: Vec<&str> = line.split(' ').collect();
        let (first, rest) = match words.split_first() {
            Some((f, r)) => (f.to_ascii_uppercase(), r),
            None => return Ok(Capability::Other(Text::new(line)?)),
        };
        let simple = |c: Capability| if rest.is_empty() { Some(c) } else { None };
        let parsed = match first.as_str() {
            "TOP" => simple(Capability::Top),
            "USER" => simple(Capability::User),
            "UIDL" => simple(Capability::Uidl),
            "PIPELINING" => simple(Capability::Pipelining),
            "RESP-CODES" => simple(Capability::RespCodes),
            "AUTH-RESP-CODE" => simple(Capability::AuthRespCode),
            "STLS" => simple(Capability::Stls),
            "SASL" => rest
                .iter()
                .map(|m| Mechanism::new(m).ok())
                .collect::<Option<Vec<_>>>()
                .map(Capability::Sasl),
            "EXPIRE" => rest.split_first().and_then(|(p, r)| {
                let policy = if p.eq_ignore_ascii_case("NEVER") {
                    ExpirePolicy::Never
                } else {
                    ExpirePolicy::Days(small_number(p)?)
                };
                Some(Capability::Expire {
                    policy,
                    per_user: per_user(r)?,
                })
            }),
            "LOGIN-DELAY" => rest.split_first().and_then(|(s, r)| {
                Some(Capability::LoginDelay {
                    seconds: small_number(s)?,
                    per_user: per_user(r)?,
                })
            }),
            "IMPLEMENTATION" if !rest.is_empty() => {
                let text = line.get("IMPLEMENTATION ".len()..).unwrap_or_default();
                Some(Capability::Implementation(Text::new(text)?))
            }
            _ => None,
        };
        match parsed {
            Some(c) => Ok(c),
            None => Ok(Capability::Other(Text::new(line)?)),
        }
    }

    /// The line as sent (without CRLF).
    pub fn to_line(&self) -> String {
        let user = |u: bool| if u { " USER" } else { "" };
        match self {
            Capability::Top => "TOP".into(),
            Capability::User => "USER".into(),
            Capability::Uidl => "UIDL".into(),
            Capability::Pipelining => "PIPELINING".into(),
            Capability::RespCodes => "RESP-CODES".into(),
            Capability::AuthRespCode => "AUTH-RESP-CODE".into(),
            Capability::Stls => "STLS".into(),
            Capability::Sasl(mechs) => {
                let mut s = String::from("SASL");
                for m in mechs {
                    s.push(' ');
                    s.push_str(m.as_str());
                }
                s
            }
            Capability::Expire {
                policy: ExpirePolicy::Never,
                per_user: u,
            } => format!("EXPIRE NEVER{}", user(*u)),
            Capability::Expire {
                policy: ExpirePolicy::Days(d),
                per_user: u,
            } => format!("EXPIRE {d}{}", user(*u)),
            Capability::LoginDelay {
                seconds,
                per_user: u,
            } => format!("LOGIN-DELAY {seconds}{}", user(*u)),
            Capability::Implementation(t) => format!("IMPLEMENTATION {t}"),
            Capability::Other(t) => t.as_str().to_owned(),
        }
    }

    /// Append a CAPA body: each capability on its line, then `.\r\n` (the `+OK` line comes
    /// first, written by the caller).
    pub fn encode_list(caps: &[Capability], out: &mut Vec<u8>) {
        super::framing::encode_lines(caps.iter().map(Capability::to_line), out);
    }
}

/// Parse a decoded CAPA body (as collected from [`super::ClientEvent::BodyChunk`]s).
pub fn parse_capabilities(body: &[u8]) -> Result<Vec<Capability>, Error> {
    body_lines(body)
        .map(|l| {
            let l = std::str::from_utf8(l).map_err(|_| Error::NotUtf8)?;
            Capability::parse(l).map_err(Error::from)
        })
        .collect()
}

fn two_words<'a>(what: &'static str, s: &'a str) -> Result<(&'a str, &'a str), Error> {
    let mut it = s.split(' ').filter(|w| !w.is_empty());
    match (it.next(), it.next()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::InvalidArgument {
            what,
            value: s.chars().take(80).collect(),
        }),
    }
}

fn msg_and_size(what: &'static str, s: &str) -> Result<(MsgNum, u64), Error> {
    let (n, size) = two_words(what, s)?;
    let bad = || Error::InvalidArgument {
        what,
        value: s.chars().take(80).collect(),
    };
    let n = small_number(n).and_then(MsgNum::new).ok_or_else(bad)?;
    let digits = !size.is_empty() && size.len() <= 20 && size.bytes().all(|b| b.is_ascii_digit());
    let size = if digits { size.parse().ok() } else { None }.ok_or_else(bad)?;
    Ok((n, size))
}

/// The `+OK count size` answer to STAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Number of messages.
    pub count: u32,
    /// Total size in octets.
    pub size: u64,
}

impl Stat {
    /// Parse the text of the `+OK` line (extra words after the two numbers are ignored,
    /// as RFC 1939 §5 allows).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let (count, size) = two_words("STAT answer", text)?;
        let bad = || Error::InvalidArgument {
            what: "STAT answer",
            value: text.chars().take(80).collect(),
        };
        let count = small_number(count).ok_or_else(bad)?;
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| size.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(bad)?;
        Ok(Stat { count, size })
    }

    /// The `+OK` response.
    pub fn to_response(self) -> Response {
        Response::Ok {
            code: None,
            // Digits and a space: always valid text.
            text: Text::new(format!("{} {}", self.count, self.size)).unwrap_or_default(),
        }
    }
}

/// One scan listing line: `n size` (LIST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListEntry {
    /// The message.
    pub msg: MsgNum,
    /// Its size in octets.
    pub size: u64,
}

impl ListEntry {
    /// Parse a body line, or the text of `+OK` to `LIST n`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let (msg, size) = msg_and_size("scan listing", s)?;
        Ok(ListEntry { msg, size })
    }
}

impl fmt::Display for ListEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.msg, self.size)
    }
}

/// One unique-id listing line: `n uid` (UIDL). The uid is 1 to 70 characters in
/// `0x21..=0x7E` (RFC 1939 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlEntry {
    msg: MsgNum,
    uid: String,
}

impl UidlEntry {
    /// Build an entry, validating the uid.
    pub fn new(msg: MsgNum, uid: &str) -> Result<Self, Error> {
        if !(1..=70).contains(&uid.len()) || !uid.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(Error::InvalidArgument {
                what: "unique-id",
                value: uid.chars().take(80).collect(),
            });
        }
        Ok(UidlEntry {
            msg,
            uid: uid.to_owned(),
        })
    }

    /// Parse a body line, or the text of `+OK` to `UIDL n`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let (n, uid) = two_words("unique-id listing", s)?;
        let msg = small_number(n)
            .and_then(MsgNum::new)
            .ok_or_else(|| Error::InvalidArgument {
                what: "unique-id listing",
                value: s.chars().take(80).collect(),
            })?;
        UidlEntry::new(msg, uid)
    }

    /// The message.
    pub fn msg(&self) -> MsgNum {
        self.msg
    }

    /// The unique id.
    pub fn uid(&self) -> &str {
        &self.uid
    }
}

impl fmt::Display for UidlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.msg, self.uid)
    }
}
