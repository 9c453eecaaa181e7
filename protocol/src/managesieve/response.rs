//! Server output: `OK`/`NO`/`BYE` responses with their codes, and the data lines before them
//! (capabilities, script listings, script content, SASL challenges).

use nom::Parser;

use super::syntax::{self, encode_quoted, encode_string, eol, sp, LiteralStyle, Token};
use super::Error;

/// The status of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BYE`: the server closes the connection.
    Bye,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bye => "BYE",
        }
    }
}

/// Which quota a `QUOTA` response code names (RFC 5804 §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// `QUOTA/MAXSCRIPTS`: too many scripts.
    MaxScripts,
    /// `QUOTA/MAXSIZE`: the script is too large.
    MaxSize,
}

/// A response code (RFC 5804 §1.3), the parenthesised part after the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseCode {
    /// `AUTH-TOO-WEAK`.
    AuthTooWeak,
    /// `ENCRYPT-NEEDED`.
    EncryptNeeded,
    /// `QUOTA`, optionally `QUOTA/MAXSCRIPTS` or `QUOTA/MAXSIZE`.
    Quota(Option<QuotaKind>),
    /// `REFERRAL "sieve://host[:port]"`.
    Referral(String),
    /// `SASL "base64"`: the final server data of a successful AUTHENTICATE.
    Sasl(String),
    /// `TRANSITION-NEEDED`.
    TransitionNeeded,
    /// `TRYLATER`.
    TryLater,
    /// `ACTIVE`: the script is active and cannot be deleted.
    Active,
    /// `NONEXISTENT`.
    NonExistent,
    /// `ALREADYEXISTS`.
    AlreadyExists,
    /// `TAG string`: the tag of a NOOP.
    Tag(String),
    /// `WARNINGS`: the script was stored but has warnings.
    Warnings,
    /// Any other code, kept so a proxy can forward it.
    Other {
        /// The code's name.
        name: String,
        /// A string argument, if it had one.
        arg: Option<Vec<u8>>,
    },
}

impl ResponseCode {
    fn encode(&self, out: &mut Vec<u8>) {
        let (name, arg): (&str, Option<&[u8]>) = match self {
            ResponseCode::AuthTooWeak => ("AUTH-TOO-WEAK", None),
            ResponseCode::EncryptNeeded => ("ENCRYPT-NEEDED", None),
            ResponseCode::Quota(None) => ("QUOTA", None),
            ResponseCode::Quota(Some(QuotaKind::MaxScripts)) => ("QUOTA/MAXSCRIPTS", None),
            ResponseCode::Quota(Some(QuotaKind::MaxSize)) => ("QUOTA/MAXSIZE", None),
            ResponseCode::Referral(u) => ("REFERRAL", Some(u.as_bytes())),
            ResponseCode::Sasl(d) => ("SASL", Some(d.as_bytes())),
            ResponseCode::TransitionNeeded => ("TRANSITION-NEEDED", None),
            ResponseCode::TryLater => ("TRYLATER", None),
            ResponseCode::Active => ("ACTIVE", None),
            ResponseCode::NonExistent => ("NONEXISTENT", None),
            ResponseCode::AlreadyExists => ("ALREADYEXISTS", None),
            ResponseCode::Tag(t) => ("TAG", Some(t.as_bytes())),
            ResponseCode::Warnings => ("WARNINGS", None),
            ResponseCode::Other { name, arg } => (name.as_str(), arg.as_deref()),
        };
        out.push(b'(');
        out.extend_from_slice(name.as_bytes());
        if let Some(a) = arg {
            out.push(b' ');
            // Cyrus sends the NOOP tag as a literal; a quoted string is as valid and shorter.
            encode_string(out, a, LiteralStyle::Sync);
        }
        out.push(b')');
    }

    fn from_parts(name: String, arg: Option<Vec<u8>>) -> ResponseCode {
        let text = |a: &Option<Vec<u8>>| {
            a.as_ref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_string)
        };
        match (name.to_ascii_uppercase().as_str(), &arg) {
            ("AUTH-TOO-WEAK", None) => ResponseCode::AuthTooWeak,
            ("ENCRYPT-NEEDED", None) => ResponseCode::EncryptNeeded,
            ("QUOTA", None) => ResponseCode::Quota(None),
            ("QUOTA/MAXSCRIPTS", None) => ResponseCode::Quota(Some(QuotaKind::MaxScripts)),
            ("QUOTA/MAXSIZE", None) => ResponseCode::Quota(Some(QuotaKind::MaxSize)),
            ("TRANSITION-NEEDED", None) => ResponseCode::TransitionNeeded,
            ("TRYLATER", None) => ResponseCode::TryLater,
            ("ACTIVE", None) => ResponseCode::Active,
            ("NONEXISTENT", None) => ResponseCode::NonExistent,
            ("ALREADYEXISTS", None) => ResponseCode::AlreadyExists,
            ("WARNINGS", None) => ResponseCode::Warnings,
            ("REFERRAL", Some(_)) => match text(&arg) {
                Some(u) => ResponseCode::Referral(u),
                None => ResponseCode::Other { name, arg },
            },
            ("SASL", Some(_)) => match text(&arg) {
                Some(u) => ResponseCode::Sasl(u),
                None => ResponseCode::Other { name, arg },
            },
            ("TAG", Some(_)) => match text(&arg) {
                Some(u) => ResponseCode::Tag(u),
                None => ResponseCode::Other { name, arg },
            },
            _ => ResponseCode::Other { name, arg },
        }
    }
}

/// `OK`, `NO` or `BYE`, with an optional code and an optional human-readable string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status.
    pub status: Status,
    /// The response code.
    pub code: Option<ResponseCode>,
    /// The text (quoted or literal on the wire).
    pub text: Option<String>,
}

impl Response {
    /// `OK "text"`.
    pub fn ok(text: &str) -> Response {
        Response {
            status: Status::Ok,
            code: None,
            text: Some(text.to_string()),
        }
    }

    /// `NO "text"`.
    pub fn no(text: &str) -> Response {
        Response {
            status: Status::No,
            code: None,
            text: Some(text.to_string()),
        }
    }

    /// `BYE "text"`.
    pub fn bye(text: &str) -> Response {
        Response {
            status: Status::Bye,
            code: None,
            text: Some(text.to_string()),
        }
    }

    /// The same response with a code.
    pub fn with_code(mut self, code: ResponseCode) -> Response {
        self.code = Some(code);
        self
    }

    /// Whether the status is `OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// Appends the response line; text that cannot be quoted goes as a literal, as Cyrus does
    /// for multi-line script errors.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.status.as_str().as_bytes());
        if let Some(c) = &self.code {
            out.push(b' ');
            c.encode(out);
        }
        if let Some(t) = &self.text {
            out.push(b' ');
            encode_string(out, t.as_bytes(), LiteralStyle::Sync);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded response.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }

    /// Parses a framed message that starts with `OK`, `NO` or `BYE` (case-insensitive).
    pub fn parse(msg: &[u8]) -> Result<Response, Error> {
        let (mut rest, word) = syntax::atom(msg).map_err(|_| Error::Syntax("expected a status"))?;
        let status = match word.to_ascii_uppercase().as_str() {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BYE" => Status::Bye,
            _ => return Err(Error::Syntax("expected OK, NO or BYE")),
        };
        let mut code = None;
        if let Ok((r, (_, _, name))) =
            (sp, nom::bytes::complete::tag(&b"("[..]), syntax::atom).parse(rest)
        {
            let (r, arg) = match (sp, syntax::string).parse(r) {
                Ok((r, (_, a))) => (r, Some(a)),
                Err(_) => (r, None),
            };
            let (r, _) = nom::bytes::complete::tag::<_, _, nom::error::Error<&[u8]>>(&b")"[..])
                .parse(r)
                .map_err(|_| Error::Syntax("expected ) after the response code"))?;
            code = Some(ResponseCode::from_parts(name, arg));
            rest = r;
        }
        let mut text = None;
        if let Ok((r, (_, t))) = (sp, syntax::string).parse(rest) {
            text = Some(String::from_utf8(t).map_err(|_| Error::NotUtf8("response text"))?);
            rest = r;
        }
        eol(rest).map_err(|_| Error::Syntax("expected end of line"))?;
        Ok(Response { status, code, text })
    }
}

/// A server line that is not a response: one or more strings and atoms. What it means depends
/// on the command it answers: a capability (`"SIEVE" "fileinto"`), a script in a listing
/// (`"name" ACTIVE`), the script of GETSCRIPT (a literal), or a SASL challenge (a string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLine {
    /// The tokens, in order.
    pub tokens: Vec<Token>,
}

impl DataLine {
    /// Parses a framed message of tokens separated by spaces.
    pub fn parse(msg: &[u8]) -> Result<DataLine, Error> {
        let (mut rest, first) =
            syntax::token(msg).map_err(|_| Error::Syntax("expected a string"))?;
        let mut tokens = vec![first];
        while let Ok((r, (_, t))) = (sp, syntax::token).parse(rest) {
            tokens.push(t);
            rest = r;
        }
        eol(rest).map_err(|_| Error::Syntax("expected end of line"))?;
        Ok(DataLine { tokens })
    }

    /// The line as a capability, if it is `string [SP string]`.
    pub fn capability(&self) -> Option<Capability> {
        match self.tokens.as_slice() {
            [Token::Str(n)] => Some(Capability {
                name: String::from_utf8(n.clone()).ok()?,
                value: None,
            }),
            [Token::Str(n), Token::Str(v)] => Some(Capability {
                name: String::from_utf8(n.clone()).ok()?,
                value: Some(String::from_utf8(v.clone()).ok()?),
            }),
            _ => None,
        }
    }

    /// The line as a LISTSCRIPTS entry, if it is `string [SP "ACTIVE"]`.
    pub fn script_entry(&self) -> Option<ScriptEntry> {
        match self.tokens.as_slice() {
            [Token::Str(n)] => Some(ScriptEntry {
                name: String::from_utf8(n.clone()).ok()?,
                active: false,
            }),
            [Token::Str(n), Token::Atom(a)] if a.eq_ignore_ascii_case("ACTIVE") => {
                Some(ScriptEntry {
                    name: String::from_utf8(n.clone()).ok()?,
                    active: true,
                })
            }
            _ => None,
        }
    }

    /// The line as a single string: GETSCRIPT content or a SASL challenge.
    pub fn content(&self) -> Option<&[u8]> {
        match self.tokens.as_slice() {
            [Token::Str(s)] => Some(s),
            _ => None,
        }
    }
}

/// One capability line: `"NAME" ["value"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// The capability name (`IMPLEMENTATION`, `SASL`, `SIEVE`, `STARTTLS`...).
    pub name: String,
    /// Its value, if it has one.
    pub value: Option<String>,
}

impl Capability {
    /// A capability with a value.
    pub fn new(name: &str, value: &str) -> Capability {
        Capability {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// A capability without value.
    pub fn flag(name: &str) -> Capability {
        Capability {
            name: name.into(),
            value: None,
        }
    }

    /// Appends the capability line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_string(out, self.name.as_bytes(), LiteralStyle::Sync);
        if let Some(v) = &self.value {
            out.push(b' ');
            encode_string(out, v.as_bytes(), LiteralStyle::Sync);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// One LISTSCRIPTS line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptEntry {
    /// Script name.
    pub name: String,
    /// Whether it is the active script.
    pub active: bool,
}

impl ScriptEntry {
    /// Appends the listing line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_string(out, self.name.as_bytes(), LiteralStyle::Sync);
        if self.active {
            out.extend_from_slice(b" ACTIVE");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends GETSCRIPT content: always a literal, as Cyrus sends it, then CRLF.
pub fn encode_script(out: &mut Vec<u8>, script: &[u8]) {
    syntax::encode_literal(out, script, LiteralStyle::Sync);
    out.extend_from_slice(b"\r\n");
}

/// Appends a SASL challenge (base64 text) as a quoted string, or a literal if long.
pub fn encode_challenge(out: &mut Vec<u8>, base64: &str) {
    if syntax::quotable(base64.as_bytes()) {
        encode_quoted(out, base64.as_bytes());
    } else {
        syntax::encode_literal(out, base64.as_bytes(), LiteralStyle::Sync);
    }
    out.extend_from_slice(b"\r\n");
}

/// Anything a server sends, as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine {
    /// `OK`, `NO` or `BYE`.
    Response(Response),
    /// Anything else.
    Data(DataLine),
}

impl ServerLine {
    /// Parses one framed message. A line starting with the atoms `OK`, `NO` or `BYE` is a
    /// response; data lines always start with a string.
    pub fn parse(msg: &[u8]) -> Result<ServerLine, Error> {
        if matches!(msg.first(), Some(b'"' | b'{')) {
            DataLine::parse(msg).map(ServerLine::Data)
        } else {
            Response::parse(msg).map(ServerLine::Response)
        }
    }
}
