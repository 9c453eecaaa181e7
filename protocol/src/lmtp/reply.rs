//! LMTP replies: codes, enhanced status codes (RFC 3463), multi-line replies, LHLO
//! capabilities and the replies Cyrus sends.

use std::fmt;

use crate::pop3::{Mechanism, SaslData, Text};

use super::command::clip;
use super::Error;

/// A reply code, 200 to 599 (LMTP uses no 1xx replies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplyCode(u16);

impl ReplyCode {
    /// Validate a code.
    pub fn new(code: u16) -> Result<Self, Error> {
        if (200..=599).contains(&code) {
            Ok(ReplyCode(code))
        } else {
            Err(Error::InvalidReplyCode(code))
        }
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }

    /// The first digit: 2 to 5.
    pub fn class_digit(self) -> u8 {
        u8::try_from(self.0 / 100).unwrap_or(0)
    }

    /// What the code means for the client.
    pub fn class(self) -> ReplyClass {
        match self.class_digit() {
            2 => ReplyClass::Positive,
            3 => ReplyClass::Intermediate,
            4 => ReplyClass::Transient,
            _ => ReplyClass::Permanent,
        }
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The meaning of a reply's first digit (RFC 5321 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyClass {
    /// 2xx: done.
    Positive,
    /// 3xx: go on (`354` to DATA, `334` during AUTH).
    Intermediate,
    /// 4xx: failed for now; the MTA keeps the message and retries.
    Transient,
    /// 5xx: failed for good; the MTA bounces.
    Permanent,
}

/// An enhanced status code `class.subject.detail` (RFC 3463): class 2, 4 or 5; subject and
/// detail 0 to 999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedCode {
    /// Validate a code.
    pub fn new(class: u8, subject: u16, detail: u16) -> Result<Self, Error> {
        if !matches!(class, 2 | 4 | 5) || subject > 999 || detail > 999 {
            return Err(Error::InvalidEnhancedCode(format!(
                "{class}.{subject}.{detail}"
            )));
        }
        Ok(EnhancedCode {
            class,
            subject,
            detail,
        })
    }

    /// Parse `c.s.d` exactly.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidEnhancedCode(clip(s));
        let mut it = s.split('.');
        let mut num = |max_len: usize| -> Result<u16, Error> {
            let p = it.next().ok_or_else(bad)?;
            if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let class = num(1)?;
        let subject = num(3)?;
        let detail = num(3)?;
        if it.next().is_some() {
            return Err(bad());
        }
        EnhancedCode::new(u8::try_from(class).map_err(|_| bad())?, subject, detail)
    }

    /// The class digit.
    pub fn class(self) -> u8 {
        self.class
    }

    /// The subject.
    pub fn subject(self) -> u16 {
        self.subject
    }

    /// The detail.
    pub fn detail(self) -> u16 {
        self.detail
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// Which lines of a multi-line reply carry the enhanced code. RFC 2034 wants it on every
/// line; Cyrus puts it only on the last line for "User unknown" and on every line for Sieve
/// rejections, so both are kept to re-encode byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnhancedPlacement {
    /// Only the last line (and so also every single-line reply).
    #[default]
    LastLine,
    /// Every line.
    EveryLine,
}

/// A complete reply: one or more lines with the same code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    code: ReplyCode,
    enhanced: Option<EnhancedCode>,
    placement: EnhancedPlacement,
    lines: Vec<Text>,
}

/// If `text` starts with an enhanced code of the right class, split it off.
fn split_enhanced(code: ReplyCode, text: &str) -> (Option<EnhancedCode>, &str) {
    let (head, rest) = text.split_once(' ').unwrap_or((text, ""));
    match EnhancedCode::parse(head) {
        Ok(e) if e.class == code.class_digit() => (Some(e), rest),
        _ => (None, text),
    }
}

impl Reply {
    /// Build a reply. `lines` must not be empty; an enhanced code must have the class of the
    /// reply code (a `250` cannot carry `5.1.1`), so the reply reads back the same.
    pub fn new(
        code: ReplyCode,
        enhanced: Option<EnhancedCode>,
        placement: EnhancedPlacement,
        lines: Vec<Text>,
    ) -> Result<Self, Error> {
        if lines.is_empty() {
            return Err(Error::BadReply("a reply needs at least one line".into()));
        }
        if let Some(e) = enhanced {
            if e.class != code.class_digit() {
                return Err(Error::InvalidEnhancedCode(format!("{e} in a {code} reply")));
            }
        }
        // One canonical form for values that encode the same.
        let placement = if enhanced.is_none() || lines.len() == 1 {
            EnhancedPlacement::LastLine
        } else {
            placement
        };
        Ok(Reply {
            code,
            enhanced,
            placement,
            lines,
        })
    }

    /// A single-line reply from its code and text; an enhanced code at the start of the text
    /// is recognised: `Reply::line(451, "4.4.3 Server(s) unavailable")`.
    pub fn line(code: u16, text: &str) -> Result<Self, Error> {
        let code = ReplyCode::new(code)?;
        let (enhanced, text) = split_enhanced(code, text);
        Reply::new(
            code,
            enhanced,
            EnhancedPlacement::LastLine,
            vec![Text::new(text)?],
        )
    }

    /// A multi-line reply with the enhanced code on the last line only (Cyrus's usual form).
    pub fn lines(code: u16, enhanced: Option<&str>, lines: &[&str]) -> Result<Self, Error> {
        let enhanced = enhanced.map(EnhancedCode::parse).transpose()?;
        let lines = lines
            .iter()
            .map(|l| Text::new(*l))
            .collect::<Result<Vec<_>, _>>()?;
        Reply::new(
            ReplyCode::new(code)?,
            enhanced,
            EnhancedPlacement::LastLine,
            lines,
        )
    }

    /// The reply code.
    pub fn code(&self) -> ReplyCode {
        self.code
    }

    /// The enhanced status code, if any.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// Where the enhanced code goes on the wire.
    pub fn placement(&self) -> EnhancedPlacement {
        self.placement
    }

    /// The text of each line, without code or enhanced code.
    pub fn texts(&self) -> &[Text] {
        &self.lines
    }

    /// The text of the last line (where Cyrus puts the short message).
    pub fn last_text(&self) -> &str {
        self.lines.last().map(Text::as_str).unwrap_or_default()
    }

    /// What the reply means for the client.
    pub fn class(&self) -> ReplyClass {
        self.code.class()
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        self.class() == ReplyClass::Positive
    }

    /// 4xx: a temporary failure.
    pub fn is_transient(&self) -> bool {
        self.class() == ReplyClass::Transient
    }

    /// 5xx: a permanent failure.
    pub fn is_permanent(&self) -> bool {
        self.class() == ReplyClass::Permanent
    }

    /// Append the reply lines with CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, text) in self.lines.iter().enumerate() {
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(if i == last { b' ' } else { b'-' });
            let with_code = i == last || self.placement == EnhancedPlacement::EveryLine;
            match self.enhanced {
                Some(e) if with_code => {
                    out.extend_from_slice(e.to_string().as_bytes());
                    if !text.is_empty() {
                        out.push(b' ');
                    }
                }
                _ => {}
            }
            out.extend_from_slice(text.as_str().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// The encoded reply.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// One parsed reply line: code, continuation flag, text.
pub(crate) fn parse_reply_line(line: &[u8]) -> Result<(ReplyCode, bool, &str), Error> {
    let line = std::str::from_utf8(line).map_err(|_| Error::NotUtf8)?;
    let bad = || Error::BadReply(clip(line));
    let digits = line.get(..3).ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let code = ReplyCode::new(digits.parse().map_err(|_| bad())?)?;
    let rest = line.get(3..).ok_or_else(bad)?;
    match rest.chars().next() {
        None => Ok((code, false, "")),
        Some(' ') => Ok((code, false, rest.get(1..).unwrap_or_default())),
        Some('-') => Ok((code, true, rest.get(1..).unwrap_or_default())),
        Some(_) => Err(bad()),
    }
}

/// Assemble a reply from its raw line texts, working out where the enhanced code sits.
pub(crate) fn assemble(code: ReplyCode, raw: Vec<String>) -> Result<Reply, Error> {
    let split: Vec<(Option<EnhancedCode>, &str)> =
        raw.iter().map(|t| split_enhanced(code, t)).collect();
    let last_code = split.last().and_then(|(e, _)| *e);
    let n = split.len();
    let only_last = last_code.is_some()
        && split
            .iter()
            .take(n.saturating_sub(1))
            .all(|(e, _)| e.is_none());
    let every = last_code.is_some() && split.iter().all(|(e, _)| *e == last_code);
    let (enhanced, placement, texts): (_, _, Vec<&str>) = if only_last {
        let mut texts: Vec<&str> = raw.iter().map(String::as_str).collect();
        if let (Some(t), Some((_, stripped))) = (texts.last_mut(), split.last()) {
            *t = stripped;
        }
        (last_code, EnhancedPlacement::LastLine, texts)
    } else if every {
        (
            last_code,
            EnhancedPlacement::EveryLine,
            split.iter().map(|(_, t)| *t).collect(),
        )
    } else {
        // An irregular mix: keep every line verbatim so the reply re-encodes unchanged.
        (
            None,
            EnhancedPlacement::LastLine,
            raw.iter().map(String::as_str).collect(),
        )
    };
    let lines = texts
        .into_iter()
        .map(Text::new)
        .collect::<Result<Vec<_>, _>>()?;
    Reply::new(code, enhanced, placement, lines)
}

/// One line of a LHLO reply after the first (RFC 2033 §4.1, RFC 1869).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LhloCapability {
    /// `8BITMIME`.
    EightBitMime,
    /// `ENHANCEDSTATUSCODES`.
    EnhancedStatusCodes,
    /// `PIPELINING`.
    Pipelining,
    /// `SIZE [max]` (Cyrus sends it without a number).
    Size(Option<u64>),
    /// `AUTH mech…`.
    Auth(Vec<Mechanism>),
    /// `STARTTLS`.
    StartTls,
    /// `IGNOREQUOTA` (Cyrus extension).
    IgnoreQuota,
    /// Anything else, verbatim (including Cyrus's closing `Ok SESSIONID=<…>` line).
    Other(Text),
}

impl LhloCapability {
    /// Parse one line's text.
    pub fn parse(text: &Text) -> Self {
        let words: Vec<&str> = text.as_str().split(' ').collect();
        let (first, rest) = match words.split_first() {
            Some((f, r)) => (f.to_ascii_uppercase(), r),
            None => return LhloCapability::Other(text.clone()),
        };
        let simple = |c| if rest.is_empty() { Some(c) } else { None };
        let parsed = match first.as_str() {
            "8BITMIME" => simple(LhloCapability::EightBitMime),
            "ENHANCEDSTATUSCODES" => simple(LhloCapability::EnhancedStatusCodes),
            "PIPELINING" => simple(LhloCapability::Pipelining),
            "STARTTLS" => simple(LhloCapability::StartTls),
            "IGNOREQUOTA" => simple(LhloCapability::IgnoreQuota),
            "SIZE" => match rest {
                [] => Some(LhloCapability::Size(None)),
                [n] if !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()) => {
                    n.parse().ok().map(|n| LhloCapability::Size(Some(n)))
                }
                _ => None,
            },
            "AUTH" => rest
                .iter()
                .map(|m| Mechanism::new(m).ok())
                .collect::<Option<Vec<_>>>()
                .map(LhloCapability::Auth),
            _ => None,
        };
        parsed.unwrap_or_else(|| LhloCapability::Other(text.clone()))
    }

    /// The line's text.
    pub fn to_text(&self) -> Text {
        let s = match self {
            LhloCapability::EightBitMime => "8BITMIME".to_owned(),
            LhloCapability::EnhancedStatusCodes => "ENHANCEDSTATUSCODES".to_owned(),
            LhloCapability::Pipelining => "PIPELINING".to_owned(),
            LhloCapability::StartTls => "STARTTLS".to_owned(),
            LhloCapability::IgnoreQuota => "IGNOREQUOTA".to_owned(),
            LhloCapability::Size(None) => "SIZE".to_owned(),
            LhloCapability::Size(Some(n)) => format!("SIZE {n}"),
            LhloCapability::Auth(mechs) => {
                let mut s = String::from("AUTH");
                for m in mechs {
                    s.push(' ');
                    s.push_str(m.as_str());
                }
                s
            }
            LhloCapability::Other(t) => return t.clone(),
        };
        // Built from validated parts: never holds CR or LF.
        Text::new(s).unwrap_or_default()
    }
}

/// A positive LHLO reply, typed: the first line (the server's name) and the capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lhlo {
    /// The first line's text (Cyrus: its `servername`).
    pub host: Text,
    /// The following lines.
    pub capabilities: Vec<LhloCapability>,
}

impl Lhlo {
    /// Read a `250` reply to LHLO; `None` for any other code.
    pub fn from_reply(reply: &Reply) -> Option<Self> {
        if reply.code().get() != 250 {
            return None;
        }
        let (host, caps) = reply.texts().split_first()?;
        Some(Lhlo {
            host: host.clone(),
            capabilities: caps.iter().map(LhloCapability::parse).collect(),
        })
    }

    /// The `250` reply.
    pub fn to_reply(&self) -> Reply {
        let mut lines = vec![self.host.clone()];
        lines.extend(self.capabilities.iter().map(LhloCapability::to_text));
        Reply {
            code: ReplyCode(250),
            enhanced: None,
            placement: EnhancedPlacement::LastLine,
            lines,
        }
    }

    /// The SASL mechanisms offered, if any.
    pub fn auth_mechanisms(&self) -> Option<&[Mechanism]> {
        self.capabilities.iter().find_map(|c| match c {
            LhloCapability::Auth(m) => Some(m.as_slice()),
            _ => None,
        })
    }

    /// True if the capability is offered.
    pub fn has(&self, cap: &LhloCapability) -> bool {
        self.capabilities.contains(cap)
    }
}

/// Build a fixed reply from parts known to be valid.
fn fixed(code: u16, enhanced: Option<(u8, u16, u16)>, lines: &[&str]) -> Reply {
    Reply {
        code: ReplyCode(code),
        enhanced: enhanced.map(|(class, subject, detail)| EnhancedCode {
            class,
            subject,
            detail,
        }),
        placement: EnhancedPlacement::LastLine,
        lines: lines
            .iter()
            .map(|l| Text::new(*l).unwrap_or_default())
            .collect(),
    }
}

/// Build a reply around caller text, which must be one line.
fn with_text(code: u16, enhanced: (u8, u16, u16), text: &str) -> Result<Reply, Error> {
    let mut r = fixed(code, Some(enhanced), &[]);
    r.lines.push(Text::new(text)?);
    Ok(r)
}

/// The replies Cyrus 3.6 sends (transcripts 05*, reference §4.12 and §9.4), so our servers
/// answer byte for byte as Cyrus does. Texts marked "our wording" were not seen on the wire.
impl Reply {
    /// `220 <text>`: the greeting, e.g. `frontend Cyrus LMTP 3.6.1 server ready`.
    pub fn greeting(text: &str) -> Result<Self, Error> {
        Reply::new(
            ReplyCode(220),
            None,
            EnhancedPlacement::LastLine,
            vec![Text::new(text)?],
        )
    }

    /// Cyrus's LHLO reply: host, capabilities, then `Ok SESSIONID=<id>`.
    pub fn cyrus_lhlo(
        host: &str,
        capabilities: &[LhloCapability],
        session_id: &str,
    ) -> Result<Self, Error> {
        let mut caps = capabilities.to_vec();
        caps.push(LhloCapability::Other(Text::new(format!(
            "Ok SESSIONID=<{session_id}>"
        ))?));
        Ok(Lhlo {
            host: Text::new(host)?,
            capabilities: caps,
        }
        .to_reply())
    }

    /// `250 2.1.0 ok`: MAIL accepted.
    pub fn mail_ok() -> Self {
        fixed(250, Some((2, 1, 0)), &["ok"])
    }

    /// `250 2.1.5 ok`: RCPT accepted.
    pub fn rcpt_ok() -> Self {
        fixed(250, Some((2, 1, 5)), &["ok"])
    }

    /// `354 go ahead`.
    pub fn go_ahead() -> Self {
        fixed(354, None, &["go ahead"])
    }

    /// `250 2.1.5 Success SESSIONID=<id>`: one recipient delivered (one per RCPT after DATA).
    pub fn delivered(session_id: &str) -> Result<Self, Error> {
        with_text(250, (2, 1, 5), &format!("Success SESSIONID=<{session_id}>"))
    }

    /// `250 2.0.0 Ok SESSIONID=<id>`: RSET.
    pub fn reset_ok(session_id: &str) -> Result<Self, Error> {
        with_text(250, (2, 0, 0), &format!("Ok SESSIONID=<{session_id}>"))
    }

    /// `250 2.0.0 ok`: NOOP (our wording).
    pub fn noop_ok() -> Self {
        fixed(250, Some((2, 0, 0)), &["ok"])
    }

    /// `221 2.0.0 bye`: QUIT.
    pub fn bye() -> Self {
        fixed(221, Some((2, 0, 0)), &["bye"])
    }

    /// `235 Authenticated!`.
    pub fn authenticated() -> Self {
        fixed(235, None, &["Authenticated!"])
    }

    /// `334 <base64>`: a SASL challenge.
    pub fn sasl_challenge(data: &SaslData) -> Self {
        let mut r = fixed(334, None, &[]);
        r.lines.push(Text::new(data.expose()).unwrap_or_default());
        r
    }

    /// `430 Authentication required`: MAIL before AUTH on a non-preauthenticated listener.
    pub fn auth_required() -> Self {
        fixed(430, None, &["Authentication required"])
    }

    /// The long "unknown mailbox" form Cyrus sends at RCPT.
    pub fn user_unknown() -> Self {
        fixed(
            550,
            Some((5, 1, 1)),
            &[
                "Mailbox unknown.  Either there is no mailbox associated with this",
                "name or you do not have authorization to see it.",
                "User unknown",
            ],
        )
    }

    /// `451 4.2.1 <text>`: the mailbox is reserved, moving or disabled.
    pub fn mailbox_disabled(text: &str) -> Result<Self, Error> {
        with_text(451, (4, 2, 1), text)
    }

    /// `451 4.4.3 Server(s) unavailable to complete operation`: no backend reachable, or a
    /// MUPDATE failure.
    pub fn server_unavailable() -> Self {
        fixed(
            451,
            Some((4, 4, 3)),
            &["Server(s) unavailable to complete operation"],
        )
    }

    /// `451 4.3.0 Retry operation`: what the proxy answers when a backend says "mailbox
    /// unknown" at RCPT, since its own data may be stale.
    pub fn retry() -> Self {
        fixed(451, Some((4, 3, 0)), &["Retry operation"])
    }

    /// `451 4.4.5 <text>`: server busy.
    pub fn server_busy(text: &str) -> Result<Self, Error> {
        with_text(451, (4, 4, 5), text)
    }

    /// `452 4.2.2 <text>`: over quota (temporary).
    pub fn over_quota(text: &str) -> Result<Self, Error> {
        with_text(452, (4, 2, 2), text)
    }

    /// `550 5.7.1 <text>`: not allowed to post.
    pub fn not_authorized(text: &str) -> Result<Self, Error> {
        with_text(550, (5, 7, 1), text)
    }

    /// `554 5.6.0 <text>`: invalid message.
    pub fn invalid_message(text: &str) -> Result<Self, Error> {
        with_text(554, (5, 6, 0), text)
    }

    /// `552 5.2.3 Message size exceeds fixed maximum message size` (our wording).
    pub fn message_too_large() -> Self {
        fixed(
            552,
            Some((5, 2, 3)),
            &["Message size exceeds fixed maximum message size"],
        )
    }

    /// `220 2.0.0 Ready to start TLS` (our wording).
    pub fn starttls_ready() -> Self {
        fixed(220, Some((2, 0, 0)), &["Ready to start TLS"])
    }

    /// `500 5.5.2 Syntax error` (our wording).
    pub fn syntax_error() -> Self {
        fixed(500, Some((5, 5, 2)), &["Syntax error"])
    }

    /// `500 5.5.2 Line too long` (our wording).
    pub fn line_too_long() -> Self {
        fixed(500, Some((5, 5, 2)), &["Line too long"])
    }

    /// `501 5.5.4 <text>`: bad parameters.
    pub fn bad_parameters(text: &str) -> Result<Self, Error> {
        with_text(501, (5, 5, 4), text)
    }

    /// `503 5.5.1 <text>`: bad sequence of commands.
    pub fn bad_sequence(text: &str) -> Result<Self, Error> {
        with_text(503, (5, 5, 1), text)
    }
}
