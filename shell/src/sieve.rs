//! A ManageSieve client (RFC 5804) for the shell's `sieve` command: connect, STARTTLS,
//! AUTHENTICATE (SASL through [`daemons::sasl::ClientAuth`], with an authorisation id so an
//! admin can act for any user), LISTSCRIPTS, PUTSCRIPT, GETSCRIPT, SETACTIVE, DELETESCRIPT,
//! CHECKSCRIPT and LOGOUT.
//!
//! In a murder the frontend's timsieved answers the first command after a user whose INBOX
//! lives on a backend has authenticated with `BYE (REFERRAL "sieve://backend") "Try
//! Remote."` (reference §4.10). [`SieveError::Referral`] carries that URL; the shell's
//! [`crate::session`] reconnects there with the same credentials and repeats the command.
//!
//! The wire reading is split from the I/O: [`parse_line`] reads one line of a response into
//! [`Item`]s and says whether a literal follows, so it can be tested without a server. Every
//! line and literal has a limit ([`MAX_LINE`], [`MAX_LITERAL`]).

use std::time::Duration;

use base64::Engine as _;
use daemons::tls::Stream;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{Credentials, TlsMode, TlsSettings};

/// The ManageSieve port (RFC 5804).
pub const SIEVE_PORT: u16 = 4190;

/// Longest response line accepted, literals excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// Largest literal accepted (a script).
pub const MAX_LITERAL: usize = 4 << 20;

/// Most data lines in one answer (LISTSCRIPTS of a user with very many scripts).
pub const MAX_LINES: usize = 100_000;

/// How long to wait for the server at each step.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong talking ManageSieve.
#[derive(Debug, Error)]
pub enum SieveError {
    /// No TCP connection could be made.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The connection broke.
    #[error("connection to server lost ({0})")]
    Lost(String),
    /// TLS set-up failed, or TLS was required and is not offered.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server sent something this client cannot read.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// Logging in failed.
    #[error("cannot authenticate as {user}: {reason}")]
    Auth {
        /// The authentication id.
        user: String,
        /// The server's text or the local reason.
        reason: String,
    },
    /// The server refused the command (`NO`), with its text.
    #[error("{0}")]
    Refused(String),
    /// The server ended the session with `BYE (REFERRAL url)`: go there.
    #[error("referred to {0}")]
    Referral(String),
    /// The server ended the session (`BYE`) for another reason.
    #[error("server closed the session: {0}")]
    Bye(String),
    /// The server did not answer in time.
    #[error("timed out waiting for the server")]
    Timeout,
}

/// One element of a response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An atom such as `OK` or `ACTIVE`.
    Atom(String),
    /// A quoted string or a literal.
    Str(Vec<u8>),
    /// A parenthesised response code, its elements inside.
    List(Vec<Item>),
}

impl Item {
    fn as_atom(&self) -> Option<&str> {
        match self {
            Item::Atom(a) => Some(a),
            _ => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Item::Atom(a) => a.clone(),
            Item::Str(s) => String::from_utf8_lossy(s).into_owned(),
            Item::List(l) => {
                let parts: Vec<String> = l.iter().map(Item::text).collect();
                format!("({})", parts.join(" "))
            }
        }
    }
}

/// How a line ended: complete, or with a literal of this many bytes to read next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// The line is complete.
    Done,
    /// `{n}` or `{n+}` ended the line: `n` bytes follow, then more of the same line.
    Literal(usize),
}

/// Reads one line (without its CRLF) into items. Parentheses nest at most 8 deep.
pub fn parse_line(line: &[u8]) -> Result<(Vec<Item>, LineEnd), SieveError> {
    let bad = |what: &str| SieveError::Protocol(format!("{what} in {:?}", lossy_short(line)));
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut i = 0;
    let mut end = LineEnd::Done;
    while let Some(&c) = line.get(i) {
        match c {
            b' ' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match line.get(i) {
                        None => return Err(bad("unterminated string")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let e = line.get(i + 1).ok_or_else(|| bad("bad escape"))?;
                            s.push(*e);
                            i += 2;
                        }
                        Some(b) => {
                            s.push(*b);
                            i += 1;
                        }
                    }
                }
                push(&mut stack, Item::Str(s));
            }
            b'{' => {
                let close = line
                    .get(i..)
                    .and_then(|r| r.iter().position(|&b| b == b'}'))
                    .ok_or_else(|| bad("unterminated literal length"))?;
                let inner = line.get(i + 1..i + close).unwrap_or_default();
                let digits = inner.strip_suffix(b"+").unwrap_or(inner);
                let n: usize = std::str::from_utf8(digits)
                    .ok()
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| bad("bad literal length"))?;
                if n > MAX_LITERAL {
                    return Err(SieveError::Protocol(format!(
                        "literal of {n} bytes exceeds the limit of {MAX_LITERAL}"
                    )));
                }
                if i + close + 1 != line.len() {
                    return Err(bad("literal length not at the end of the line"));
                }
                end = LineEnd::Literal(n);
                i = line.len();
            }
            b'(' => {
                if stack.len() > 8 {
                    return Err(bad("parentheses nested too deep"));
                }
                stack.push(Vec::new());
                i += 1;
            }
            b')' => {
                if stack.len() < 2 {
                    return Err(bad("unbalanced `)'"));
                }
                let inner = stack.pop().unwrap_or_default();
                push(&mut stack, Item::List(inner));
                i += 1;
            }
            _ => {
                let start = i;
                while line
                    .get(i)
                    .is_some_and(|b| !matches!(b, b' ' | b'(' | b')' | b'"' | b'{'))
                {
                    i += 1;
                }
                let atom = line.get(start..i).unwrap_or_default();
                push(&mut stack, Item::Atom(String::from_utf8_lossy(atom).into()));
            }
        }
    }
    if stack.len() != 1 {
        return Err(bad("unbalanced `('"));
    }
    Ok((stack.pop().unwrap_or_default(), end))
}

fn push(stack: &mut [Vec<Item>], item: Item) {
    if let Some(top) = stack.last_mut() {
        top.push(item);
    }
}

fn lossy_short(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.chars().take(200).collect()
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// `OK`, `NO` or `BYE`.
    pub kind: String,
    /// The response code's items, e.g. `[Atom("REFERRAL"), Str("sieve://be1")]`.
    pub code: Vec<Item>,
    /// The human-readable text.
    pub text: String,
}

impl Reply {
    /// Reads a final response line, or `None` when the line is data.
    pub fn from_items(items: &[Item]) -> Option<Reply> {
        let kind = items.first()?.as_atom()?.to_ascii_uppercase();
        if !matches!(kind.as_str(), "OK" | "NO" | "BYE") {
            return None;
        }
        let mut rest = items.get(1..).unwrap_or_default().iter().peekable();
        let code = match rest.peek() {
            Some(Item::List(l)) => {
                let l = l.clone();
                rest.next();
                l
            }
            _ => Vec::new(),
        };
        let text: Vec<String> = rest.map(Item::text).collect();
        // Servers end multi-line texts (script errors) with a line end.
        Some(Reply {
            kind,
            code,
            text: text.join(" ").trim_end().to_string(),
        })
    }

    /// The URL of a `(REFERRAL "url")` code.
    pub fn referral(&self) -> Option<String> {
        match self.code.as_slice() {
            [Item::Atom(a), url, ..] if a.eq_ignore_ascii_case("REFERRAL") => Some(url.text()),
            _ => None,
        }
    }

    /// The text to show for a refusal: the text, and the code when there is one.
    pub fn describe(&self) -> String {
        if self.code.is_empty() {
            self.text.clone()
        } else {
            let code: Vec<String> = self.code.iter().map(Item::text).collect();
            format!("{} [{}]", self.text, code.join(" "))
        }
    }
}

/// `sieve://[auth@]host[:port][/]` → host and port.
pub fn parse_referral(url: &str) -> Result<(String, u16), SieveError> {
    let rest = url
        .strip_prefix("sieve://")
        .ok_or_else(|| SieveError::Protocol(format!("not a sieve:// referral: {url}")))?;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let rest = rest.split('/').next().unwrap_or(rest);
    if rest.is_empty() {
        return Err(SieveError::Protocol(format!("referral without a host: {url}")));
    }
    Ok(crate::session::split_host_port(rest, SIEVE_PORT))
}

/// A script as LISTSCRIPTS gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Its name.
    pub name: String,
    /// Whether it is the active one.
    pub active: bool,
}

/// Quotes a string for a command: a quoted string when it is short and plain, else a
/// non-synchronising literal (RFC 5804 servers all accept `{n+}`).
fn string_arg(s: &[u8]) -> Vec<u8> {
    let plain = s.len() < 1024
        && s.iter()
            .all(|&b| b != b'"' && b != b'\\' && b != b'\r' && b != b'\n' && b != 0);
    if plain {
        let mut v = Vec::with_capacity(s.len() + 2);
        v.push(b'"');
        v.extend_from_slice(s);
        v.push(b'"');
        v
    } else {
        let mut v = format!("{{{}+}}\r\n", s.len()).into_bytes();
        v.extend_from_slice(s);
        v
    }
}

/// A ManageSieve connection.
pub struct SieveClient {
    stream: Stream,
    rbuf: Vec<u8>,
    host: String,
    port: u16,
    caps: Vec<(String, String)>,
}

impl std::fmt::Debug for SieveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SieveClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish()
    }
}

impl SieveClient {
    /// Connects, reads the capabilities and sets up TLS as `tls` says (STARTTLS when
    /// offered in `Auto` mode; implicit TLS is not part of ManageSieve and is taken as
    /// `Require`).
    pub async fn connect(host: &str, port: u16, tls: &TlsSettings) -> Result<Self, SieveError> {
        let addr = format!("{host}:{port}");
        let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect((host, port)))
            .await
            .map_err(|_| SieveError::Connect {
                addr: addr.clone(),
                reason: "timed out".into(),
            })?
            .map_err(|e| SieveError::Connect {
                addr: addr.clone(),
                reason: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        let mut c = SieveClient {
            stream: Stream::Plain(tcp),
            rbuf: Vec::new(),
            host: host.to_string(),
            port,
            caps: Vec::new(),
        };
        c.read_capabilities().await?;
        let offered = c.has_cap("STARTTLS");
        match tls.mode {
            TlsMode::Never => {}
            TlsMode::Auto if !offered => {}
            _ if !offered => {
                return Err(SieveError::Tls("the server does not offer STARTTLS".into()))
            }
            _ => c.starttls(tls).await?,
        }
        Ok(c)
    }

    /// The host connected to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server listed capability `name` (case-insensitive).
    pub fn has_cap(&self, name: &str) -> bool {
        self.caps.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// The value of capability `name`, such as the SASL mechanisms.
    pub fn cap(&self, name: &str) -> Option<&str> {
        self.caps
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    async fn read_capabilities(&mut self) -> Result<(), SieveError> {
        let (lines, reply) = self.read_answer().await?;
        self.check(reply)?;
        self.caps = lines
            .iter()
            .filter_map(|l| {
                let k = l.first()?.text();
                Some((k, l.get(1).map(Item::text).unwrap_or_default()))
            })
            .collect();
        Ok(())
    }

    async fn starttls(&mut self, tls: &TlsSettings) -> Result<(), SieveError> {
        self.send(b"STARTTLS\r\n").await?;
        let (_, reply) = self.read_answer().await?;
        self.check(reply)
            .map_err(|e| SieveError::Tls(format!("STARTTLS refused: {e}")))?;
        if !self.rbuf.is_empty() {
            return Err(SieveError::Tls(
                "the server sent data after accepting STARTTLS".into(),
            ));
        }
        let config = daemons::tls::client_config_with_cert(&tls.verify(), tls.client_cert.as_ref())
        .map_err(|e| SieveError::Tls(e.to_string()))?;
        let host = self.host.clone();
        tokio::time::timeout(TIMEOUT, self.stream.connect_tls(config, &host))
            .await
            .map_err(|_| SieveError::Timeout)?
            .map_err(|e| SieveError::Tls(e.to_string()))?;
        // RFC 5804 2.2: the server sends its capabilities again after the handshake.
        self.read_capabilities().await
    }

    /// Logs in with SASL: PLAIN when offered (it carries the authorisation id of an admin
    /// acting for a user), else the best offered, or the mechanisms `creds` names.
    pub async fn authenticate(&mut self, creds: &Credentials) -> Result<(), SieveError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let offered: Vec<String> = self
            .cap("SASL")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        let auth_fail = |reason: String| SieveError::Auth {
            user: creds.authid.clone(),
            reason,
        };
        let force = match creds.mechanism.as_deref().filter(|m| !m.is_empty()) {
            Some(m) if m.eq_ignore_ascii_case("login") => Some("PLAIN LOGIN".to_string()),
            Some(m) => Some(m.to_string()),
            None if offered.iter().any(|m| m.eq_ignore_ascii_case("PLAIN")) => {
                Some("PLAIN".to_string())
            }
            None => None,
        };
        let (mut auth, initial) = daemons::sasl::ClientAuth::start(
            &offered,
            force.as_deref(),
            &creds.authid,
            creds.authzid.as_deref(),
            &creds.password,
        )
        .map_err(|e| auth_fail(e.to_string()))?;
        let mut cmd = b"AUTHENTICATE ".to_vec();
        cmd.extend(string_arg(auth.mechanism().as_bytes()));
        if let Some(i) = initial {
            cmd.push(b' ');
            cmd.extend(string_arg(b64.encode(i).as_bytes()));
        }
        cmd.extend_from_slice(b"\r\n");
        self.send(&cmd).await?;
        loop {
            let items = self.read_items().await?;
            if let Some(reply) = Reply::from_items(&items) {
                return match reply.kind.as_str() {
                    "OK" => Ok(()),
                    "BYE" => Err(self.bye(reply)),
                    _ => Err(auth_fail(if reply.text.is_empty() {
                        "authentication failed".into()
                    } else {
                        reply.text
                    })),
                };
            }
            // A challenge: one string of base64.
            let challenge = match items.first() {
                Some(Item::Str(s)) => b64
                    .decode(s)
                    .map_err(|e| SieveError::Protocol(format!("bad SASL challenge: {e}"))),
                _ => Err(SieveError::Protocol("expected a SASL challenge".into())),
            };
            match challenge.and_then(|c| auth.step(&c).map_err(|e| auth_fail(e.to_string()))) {
                Ok(r) => {
                    let mut line = string_arg(b64.encode(r).as_bytes());
                    line.extend_from_slice(b"\r\n");
                    self.send(&line).await?;
                }
                Err(e) => {
                    // `*` cancels the exchange; the server answers NO, which is read.
                    self.send(b"\"*\"\r\n").await?;
                    let _ = self.read_answer().await;
                    return Err(e);
                }
            }
        }
    }

    /// LISTSCRIPTS.
    pub async fn list(&mut self) -> Result<Vec<Script>, SieveError> {
        self.send(b"LISTSCRIPTS\r\n").await?;
        let (lines, reply) = self.read_answer().await?;
        self.check(reply)?;
        Ok(lines
            .iter()
            .filter_map(|l| {
                let name = match l.first()? {
                    Item::Str(s) => String::from_utf8_lossy(s).into_owned(),
                    _ => return None,
                };
                let active = l
                    .get(1)
                    .and_then(Item::as_atom)
                    .is_some_and(|a| a.eq_ignore_ascii_case("ACTIVE"));
                Some(Script { name, active })
            })
            .collect())
    }

    /// PUTSCRIPT: stores `script` as `name` (the server checks it first).
    pub async fn put(&mut self, name: &str, script: &[u8]) -> Result<(), SieveError> {
        let mut cmd = b"PUTSCRIPT ".to_vec();
        cmd.extend(string_arg(name.as_bytes()));
        cmd.push(b' ');
        cmd.extend(format!("{{{}+}}\r\n", script.len()).into_bytes());
        cmd.extend_from_slice(script);
        cmd.extend_from_slice(b"\r\n");
        self.simple(&cmd).await
    }

    /// CHECKSCRIPT: whether the server would accept `script`.
    pub async fn check_script(&mut self, script: &[u8]) -> Result<(), SieveError> {
        let mut cmd = format!("CHECKSCRIPT {{{}+}}\r\n", script.len()).into_bytes();
        cmd.extend_from_slice(script);
        cmd.extend_from_slice(b"\r\n");
        self.simple(&cmd).await
    }

    /// GETSCRIPT: the script's text.
    pub async fn get(&mut self, name: &str) -> Result<Vec<u8>, SieveError> {
        let mut cmd = b"GETSCRIPT ".to_vec();
        cmd.extend(string_arg(name.as_bytes()));
        cmd.extend_from_slice(b"\r\n");
        self.send(&cmd).await?;
        let (lines, reply) = self.read_answer().await?;
        self.check(reply)?;
        match lines.first().and_then(|l| l.first()) {
            Some(Item::Str(s)) => Ok(s.clone()),
            _ => Err(SieveError::Protocol("GETSCRIPT returned no script".into())),
        }
    }

    /// SETACTIVE; an empty name deactivates every script.
    pub async fn set_active(&mut self, name: &str) -> Result<(), SieveError> {
        let mut cmd = b"SETACTIVE ".to_vec();
        cmd.extend(string_arg(name.as_bytes()));
        cmd.extend_from_slice(b"\r\n");
        self.simple(&cmd).await
    }

    /// DELETESCRIPT.
    pub async fn delete(&mut self, name: &str) -> Result<(), SieveError> {
        let mut cmd = b"DELETESCRIPT ".to_vec();
        cmd.extend(string_arg(name.as_bytes()));
        cmd.extend_from_slice(b"\r\n");
        self.simple(&cmd).await
    }

    /// LOGOUT, ignoring the answer.
    pub async fn logout(mut self) {
        if self.send(b"LOGOUT\r\n").await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.read_answer()).await;
        }
    }

    async fn simple(&mut self, cmd: &[u8]) -> Result<(), SieveError> {
        self.send(cmd).await?;
        let (_, reply) = self.read_answer().await?;
        self.check(reply)
    }

    fn bye(&self, reply: Reply) -> SieveError {
        match reply.referral() {
            Some(url) => SieveError::Referral(url),
            None => SieveError::Bye(reply.describe()),
        }
    }

    fn check(&self, reply: Reply) -> Result<(), SieveError> {
        match reply.kind.as_str() {
            "OK" => Ok(()),
            "BYE" => Err(self.bye(reply)),
            _ => Err(SieveError::Refused(reply.describe())),
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), SieveError> {
        tokio::time::timeout(TIMEOUT, async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| SieveError::Timeout)?
        .map_err(|e| SieveError::Lost(e.to_string()))
    }

    /// Reads data lines up to and including the final OK/NO/BYE.
    async fn read_answer(&mut self) -> Result<(Vec<Vec<Item>>, Reply), SieveError> {
        let mut lines = Vec::new();
        loop {
            let items = self.read_items().await?;
            if let Some(reply) = Reply::from_items(&items) {
                return Ok((lines, reply));
            }
            if lines.len() >= MAX_LINES {
                return Err(SieveError::Protocol(format!(
                    "more than {MAX_LINES} lines in one answer"
                )));
            }
            lines.push(items);
        }
    }

    /// Reads one logical line: a line, and the literals it announces with the rest of it.
    async fn read_items(&mut self) -> Result<Vec<Item>, SieveError> {
        let mut items = Vec::new();
        let mut total = 0usize;
        loop {
            let line = self.read_raw_line().await?;
            total = total.saturating_add(line.len());
            let (mut part, end) = parse_line(&line)?;
            items.append(&mut part);
            match end {
                LineEnd::Done => return Ok(items),
                LineEnd::Literal(n) => {
                    total = total.saturating_add(n);
                    if total > MAX_LITERAL + MAX_LINE {
                        return Err(SieveError::Protocol("response too long".into()));
                    }
                    let lit = self.read_exact(n).await?;
                    items.push(Item::Str(lit));
                }
            }
        }
    }

    async fn fill(&mut self) -> Result<(), SieveError> {
        let mut buf = [0u8; 16 * 1024];
        let n = tokio::time::timeout(TIMEOUT, self.stream.read(&mut buf))
            .await
            .map_err(|_| SieveError::Timeout)?
            .map_err(|e| SieveError::Lost(e.to_string()))?;
        if n == 0 {
            return Err(SieveError::Lost("the server closed the connection".into()));
        }
        self.rbuf.extend_from_slice(buf.get(..n).unwrap_or_default());
        Ok(())
    }

    async fn read_raw_line(&mut self) -> Result<Vec<u8>, SieveError> {
        loop {
            if let Some(p) = self.rbuf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.rbuf.drain(..=p).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.rbuf.len() > MAX_LINE {
                return Err(SieveError::Protocol(format!(
                    "response line longer than {MAX_LINE} bytes"
                )));
            }
            self.fill().await?;
        }
    }

    async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, SieveError> {
        while self.rbuf.len() < n {
            self.fill().await?;
        }
        Ok(self.rbuf.drain(..n).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Item {
        Item::Str(x.as_bytes().to_vec())
    }
    fn a(x: &str) -> Item {
        Item::Atom(x.into())
    }

    #[test]
    fn lines_and_replies() {
        let (items, end) = parse_line(br#""IMPLEMENTATION" "Cyrus timsieved v3.6.1""#).unwrap();
        assert_eq!(items, [s("IMPLEMENTATION"), s("Cyrus timsieved v3.6.1")]);
        assert_eq!(end, LineEnd::Done);

        let (items, _) = parse_line(br#"BYE (REFERRAL "sieve://be1:4190") "Try Remote.""#).unwrap();
        let r = Reply::from_items(&items).unwrap();
        assert_eq!(r.kind, "BYE");
        assert_eq!(r.referral().as_deref(), Some("sieve://be1:4190"));
        assert_eq!(r.text, "Try Remote.");

        let (items, end) = parse_line(b"NO {12}").unwrap();
        assert_eq!(items, [a("NO")]);
        assert_eq!(end, LineEnd::Literal(12));

        let (items, _) = parse_line(br#""sc\"ript" ACTIVE"#).unwrap();
        assert_eq!(items, [s("sc\"ript"), a("ACTIVE")]);
        assert!(Reply::from_items(&items).is_none());

        let (items, _) = parse_line(b"OK").unwrap();
        assert_eq!(Reply::from_items(&items).unwrap().text, "");
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        for bad in [
            &b"\"open"[..],
            b"(REFERRAL",
            b")",
            b"{x}",
            b"{}",
            b"{5} trailing",
            b"{99999999999999999999}",
            b"\"\\",
            b"((((((((((((x))))))))))))",
        ] {
            assert!(parse_line(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(parse_line(format!("{{{}}}", MAX_LITERAL + 1).as_bytes()).is_err());
    }

    #[test]
    fn referrals() {
        assert_eq!(
            parse_referral("sieve://be1.example.org").unwrap(),
            ("be1.example.org".to_string(), SIEVE_PORT)
        );
        assert_eq!(
            parse_referral("sieve://admin;alice%example.org@127.0.0.1:2000/").unwrap(),
            ("127.0.0.1".to_string(), 2000)
        );
        assert!(parse_referral("imap://x").is_err());
        assert!(parse_referral("sieve://").is_err());
    }

    #[test]
    fn arguments_are_quoted_or_literal() {
        assert_eq!(string_arg(b"main"), b"\"main\"");
        assert_eq!(string_arg(b"a\"b"), b"{3+}\r\na\"b");
    }
}
