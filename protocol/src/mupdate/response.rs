//! Server → client: the capability banner, tagged results, records, untagged `BYE`/`BAD` and
//! SASL challenges, with Cyrus's exact texts (reference §1.3, §1.5, §1.7, §9.1).
//!
//! Decoding follows the Cyrus client (`mupdate_scarf`): strings may come quoted or as `{n}` or
//! `{n+}` literals. Encoding follows the Cyrus server: record fields as `{n+}` literals (or quoted
//! in the compatibility mode, [`StringForm::Quoted`]) and each text in the form Cyrus uses for
//! it, quoted or bare, which [`Text`] remembers so a decoded line re-encodes to the same bytes.
//!
//! ```
//! use protocol::mupdate::response::texts;
//! use protocol::mupdate::{Banner, Record, Response, StringForm, Tag};
//!
//! let r = Response::decode(b"X1 MAILBOX {8+}\r\nuser.bob {11+}\r\nbe1!default {19+}\r\nbob\tlrswipkxtecdan\t\r\n").unwrap();
//! let Response::Record { record: Record::Mailbox(m), .. } = &r else { panic!() };
//! assert_eq!(m.acl(), Some("bob\tlrswipkxtecdan\t"));
//!
//! let no = Response::reply(Tag::new("A01").unwrap(), texts::CLIENT_CANCELED);
//! assert_eq!(no.to_bytes(StringForm::Literal), b"A01 NO Client canceled authentication\r\n");
//!
//! let banner = Banner::decode(b"* AUTH \"PLAIN\"\r\n* PARTIAL-UPDATE\r\n* OK MUPDATE \"m\" \"Cyrus IMAP\" \"3.6.1\" \"(master)\"\r\n").unwrap();
//! assert_eq!(banner.mechanisms, vec!["PLAIN".to_string()]);
//! assert!(banner.is_master());
//! ```

use std::fmt;

use super::record::{MailboxRecord, MailboxState};
use super::syntax::{self, getstring, getword, line_ends, Cursor};
use super::{Limits, StringForm, Tag};
use crate::imap::framing::{Frame, Framer, Role};
use crate::imap::syntax::write_quoted;

/// The result of a tagged command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `OK`
    Ok,
    /// `NO`
    No,
    /// `BAD`
    Bad,
}

impl Status {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A human-readable text after `OK`, `NO`, `BAD` or `BYE`, and whether it goes quoted.
///
/// Cyrus quotes most texts (`OK "done"`) but sends a few bare (`NO Client canceled
/// authentication`). A text is one line: CR, LF and NUL become spaces. A bare text that would
/// read back as something else (starting with `"` or `{`, or ending with `}`, which announces a
/// literal) is quoted instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text {
    text: String,
    quoted: bool,
}

fn one_line(s: String) -> String {
    if s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        s.replace(['\r', '\n', '\0'], " ")
    } else {
        s
    }
}

impl Text {
    /// A text sent as a quoted string.
    pub fn quoted(s: impl Into<String>) -> Text {
        Text {
            text: one_line(s.into()),
            quoted: true,
        }
    }

    /// A text sent bare, up to the end of the line.
    pub fn bare(s: impl Into<String>) -> Text {
        let text = one_line(s.into());
        let quoted = text.starts_with(['"', '{']) || text.ends_with('}');
        Text { text, quoted }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it is sent quoted.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    fn encode(&self, out: &mut Vec<u8>) {
        if self.quoted {
            out.push(b' ');
            write_quoted(out, self.text.as_bytes());
        } else if !self.text.is_empty() {
            out.push(b' ');
            out.extend_from_slice(self.text.as_bytes());
        }
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Every text a Cyrus MUPDATE server sends (reference §9.1), with its status and form.
pub mod texts {
    use super::Status;

    /// A canned tagged answer: status, text and whether the text is quoted.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Reply {
        /// `OK`, `NO` or `BAD`.
        pub status: Status,
        /// Cyrus's exact text.
        pub text: &'static str,
        /// Whether Cyrus quotes it.
        pub quoted: bool,
    }

    const fn q(status: Status, text: &'static str) -> Reply {
        Reply {
            status,
            text,
            quoted: true,
        }
    }

    const fn b(status: Status, text: &'static str) -> Reply {
        Reply {
            status,
            text,
            quoted: false,
        }
    }

    /// AUTHENTICATE succeeded.
    pub const AUTHENTICATED: Reply = q(Status::Ok, "Authenticated");
    /// RESERVE, ACTIVATE, DEACTIVATE or DELETE succeeded.
    pub const DONE: Reply = q(Status::Ok, "done");
    /// FIND finished.
    pub const SEARCH_COMPLETED: Reply = q(Status::Ok, "Search completed");
    /// LIST finished.
    pub const LIST_COMPLETE: Reply = q(Status::Ok, "list complete");
    /// UPDATE's initial dump finished; changes follow as they happen.
    pub const STREAMING_STARTS: Reply = q(Status::Ok, "streaming starts");
    /// NOOP (after every pending update).
    pub const NOOP_DONE: Reply = q(Status::Ok, "Noop done");
    /// LOGOUT (Cyrus answers OK, not BYE).
    pub const BYE_BYE: Reply = q(Status::Ok, "bye-bye");
    /// STARTTLS accepted; the handshake starts after this line.
    pub const BEGIN_TLS: Reply = b(Status::Ok, "Begin TLS negotiation now");
    /// RESERVE of an existing mailbox at another location (standard config).
    pub const MAILBOX_EXISTS: Reply = q(Status::No, "mailbox already exists");
    /// DEACTIVATE of an entry that is not active.
    pub const MAILBOX_NOT_ACTIVE: Reply = q(Status::No, "mailbox not currently active");
    /// DEACTIVATE or DELETE of an unknown mailbox.
    pub const MAILBOX_UNKNOWN: Reply = q(Status::No, "mailbox doesn't exist");
    /// The user name could not be read back after a successful SASL exchange.
    pub const SASL_ERROR: Reply = q(Status::No, "SASL Error");
    /// The usual SASL failure text (others are `Response::no(tag, <sasl message>)`).
    pub const AUTHENTICATION_FAILURE: Reply = q(Status::No, "authentication failure");
    /// The client sent `*` during AUTHENTICATE.
    pub const CLIENT_CANCELED: Reply = b(Status::No, "Client canceled authentication");
    /// TLS could not be set up.
    pub const TLS_INIT_ERROR: Reply = b(Status::No, "Error initializing TLS");
    /// Unknown command, or STARTTLS without TLS configured.
    pub const UNRECOGNIZED: Reply = q(Status::Bad, "Unrecognized command");
    /// Junk after the arguments, an atom for the last string, a 31st UPDATE host.
    pub const EXTRA_ARGUMENTS: Reply = q(Status::Bad, "Extra arguments");
    /// An empty UPDATE host.
    pub const BADLY_FORMED: Reply = q(Status::Bad, "Badly formed arguments");
    /// Too few arguments.
    pub const MISSING_ARGUMENTS: Reply = q(Status::Bad, "Missing arguments");
    /// An empty command word.
    pub const NULL_COMMAND: Reply = q(Status::Bad, "Null command");
    /// FIND, LIST, UPDATE or a write command on a streaming connection.
    pub const NOT_WHEN_STREAMING: Reply = q(Status::Bad, "not legal when streaming");
    /// A write command on a slave.
    pub const READ_ONLY: Reply = q(Status::Bad, "read-only session");
    /// Anything but AUTHENTICATE, LOGOUT, STARTTLS and COMPRESS before login.
    pub const LOGIN_FIRST: Reply = q(Status::Bad, "Please login first");
    /// A second AUTHENTICATE.
    pub const ALREADY_AUTHENTICATED: Reply = q(Status::Bad, "already authenticated");
    /// STARTTLS after AUTHENTICATE.
    pub const STARTTLS_AFTER_AUTH: Reply = b(Status::Bad, "Can't Starttls after authentication");
    /// STARTTLS after COMPRESS.
    pub const STARTTLS_AFTER_COMPRESS: Reply = b(Status::Bad, "Can't Starttls after Compress");
    /// A second STARTTLS.
    pub const STARTTLS_TWICE: Reply = b(Status::Bad, "Already did a successful Starttls");
    /// A second COMPRESS.
    pub const COMPRESS_TWICE: Reply = b(Status::Bad, "DEFLATE active via COMPRESS");

    /// Untagged `* BAD`: a line without `tag SP`.
    pub const NEED_COMMAND: &str = "Need command";
    /// Untagged `* BYE`: too many connections, or SASL setup failed.
    pub const SERVER_UNABLE: &str = "Server Unable";
    /// Untagged `* BYE`: a slave resyncing drops its clients.
    pub const NO_LONGER_READY: &str = "no longer ready for connections";
    /// Untagged `* BYE`: the idle timeout.
    pub const IDLE_TOO_LONG: &str = "idle for too long";
    /// The exact bytes Cyrus writes when over its connection limit: the BYE line and one NUL
    /// (it writes `sizeof` the C string).
    pub const SERVER_UNABLE_WIRE: &[u8] = b"* BYE \"Server Unable\"\r\n\0";
    /// Prefix of the bare `NO` for a malformed SASL response line.
    pub const SASL_READ_ERROR_PREFIX: &str = "Error reading client response: ";
}

/// A record line's payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Record {
    /// `MAILBOX name location acl` (active) or `RESERVE name location` (reserved).
    Mailbox(MailboxRecord),
    /// `DELETE name`: the entry is gone (only while streaming).
    Delete {
        /// Internal mailbox name.
        name: String,
    },
}

/// The greeting's details, from `* OK MUPDATE "<server>" "<product>" "<version>" "<role>"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerInfo {
    /// The server's `servername`.
    pub server_name: String,
    /// `Cyrus IMAP` in 3.x, `Cyrus Murder` in 2.x.
    pub product: String,
    /// The version, e.g. `3.6.1-Debian-3.6.1-4+deb12u5`.
    pub version: String,
    /// Master or slave.
    pub role: ServerRole,
}

impl ServerInfo {
    /// The product string Cyrus 3.x sends.
    pub const CYRUS_PRODUCT: &'static str = "Cyrus IMAP";
}

/// The last greeting string: what the server is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerRole {
    /// `"(master)"`
    Master,
    /// `"mupdate://<upstream>"`: a slave, with its own `mupdate_server` value.
    Slave {
        /// The master it follows, as configured (no trailing slash).
        upstream: String,
    },
    /// Anything else, kept as sent.
    Other(String),
}

/// The banner's last line, `* OK ...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Greeting {
    /// The MUPDATE form with its four strings.
    Mupdate(ServerInfo),
    /// Another `* OK` line, kept as received (without its line end). It must be UTF-8: a
    /// non-UTF-8 line is refused ([`ResponseError::NotUtf8`]) rather than copied lossily, since
    /// a lossy copy would no longer match the octet counts of its literals.
    Other(String),
}

/// One untagged line of the capability banner.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BannerLine {
    /// `* AUTH "M1" "M2"`: SASL mechanisms, quotes removed.
    Auth(Vec<String>),
    /// `* STARTTLS`
    Starttls,
    /// `* COMPRESS "DEFLATE"`: algorithms, quotes removed.
    Compress(Vec<String>),
    /// `* PARTIAL-UPDATE`
    PartialUpdate,
    /// `* OK ...`: the end of the banner.
    Ok(Greeting),
    /// Any other untagged line, kept as received (without its line end) and ignored. Like
    /// [`Greeting::Other`], it must be UTF-8.
    Other(String),
}

/// One line (with its literals) from a MUPDATE server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    /// `tag OK|NO|BAD text`.
    Status {
        /// The command's tag.
        tag: Tag,
        /// The result.
        status: Status,
        /// Its text.
        text: Text,
    },
    /// `tag MAILBOX ...`, `tag RESERVE ...` or `tag DELETE ...`, with the tag of the FIND, LIST
    /// or UPDATE that asked.
    Record {
        /// The asking command's tag.
        tag: Tag,
        /// The record.
        record: Record,
    },
    /// `* BYE text`: the server closes the connection.
    Bye(Text),
    /// `* BAD text` (`Need command`).
    UntaggedBad(Text),
    /// A banner line.
    Banner(BannerLine),
    /// A SASL challenge during AUTHENTICATE: a bare base64 line, possibly empty.
    Challenge(String),
}

/// Why a server line could not be understood (Cyrus: `MUPDATE_PROTOCOL_ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The line has no valid tag followed by a space, and is not a SASL challenge.
    #[error("response line has no tag")]
    NoTag,
    /// A tagged line with a keyword MUPDATE does not define.
    #[error("unknown response keyword {keyword:?}")]
    UnknownKeyword {
        /// The keyword, lossily decoded.
        keyword: String,
    },
    /// A known keyword with arguments that do not parse.
    #[error("malformed {keyword} response")]
    Malformed {
        /// The keyword.
        keyword: &'static str,
    },
    /// A line, literal or string over the limits.
    #[error("response too big: {detail}")]
    TooBig {
        /// What was too big.
        detail: String,
    },
    /// The server said BYE before its banner ended.
    #[error("server said BYE: {text}")]
    Bye {
        /// The BYE text.
        text: String,
    },
    /// The input ended before the banner's `* OK` line.
    #[error("banner ended before its `* OK` line")]
    Incomplete,
    /// An untagged line kept verbatim ([`BannerLine::Other`], [`Greeting::Other`]) is not
    /// UTF-8. Cyrus servers send ASCII here.
    #[error("untagged line is not UTF-8")]
    NotUtf8,
}

impl Response {
    /// `tag OK "<text>"`.
    pub fn ok(tag: Tag, text: impl Into<String>) -> Response {
        Response::status(tag, Status::Ok, Text::quoted(text))
    }

    /// `tag NO "<text>"`.
    pub fn no(tag: Tag, text: impl Into<String>) -> Response {
        Response::status(tag, Status::No, Text::quoted(text))
    }

    /// `tag BAD "<text>"`.
    pub fn bad(tag: Tag, text: impl Into<String>) -> Response {
        Response::status(tag, Status::Bad, Text::quoted(text))
    }

    /// A tagged result with any status and text.
    pub fn status(tag: Tag, status: Status, text: Text) -> Response {
        Response::Status { tag, status, text }
    }

    /// A canned answer from [`texts`], e.g. `Response::reply(tag, texts::DONE)`.
    pub fn reply(tag: Tag, reply: texts::Reply) -> Response {
        let text = if reply.quoted {
            Text::quoted(reply.text)
        } else {
            Text::bare(reply.text)
        };
        Response::status(tag, reply.status, text)
    }

    /// `tag OK <ALG> active` (COMPRESS accepted; the text echoes the argument).
    pub fn compress_active(tag: Tag, alg: &str) -> Response {
        Response::status(tag, Status::Ok, Text::bare(format!("{alg} active")))
    }

    /// `tag NO <method> active via TLS`.
    pub fn compress_via_tls(tag: Tag, method: &str) -> Response {
        Response::status(
            tag,
            Status::No,
            Text::bare(format!("{method} active via TLS")),
        )
    }

    /// `tag NO Unknown COMPRESS algorithm: <alg>`.
    pub fn unknown_compress(tag: Tag, alg: &str) -> Response {
        let text = Text::bare(format!("Unknown COMPRESS algorithm: {alg}"));
        Response::status(tag, Status::No, text)
    }

    /// `tag NO Error initializing <alg> (incompatible zlib version)`.
    pub fn compress_init_error(tag: Tag, alg: &str) -> Response {
        let text = Text::bare(format!(
            "Error initializing {alg} (incompatible zlib version)"
        ));
        Response::status(tag, Status::No, text)
    }

    /// `* BYE "<text>"`.
    pub fn bye(text: impl Into<String>) -> Response {
        Response::Bye(Text::quoted(text))
    }

    /// `* BAD "Need command"`.
    pub fn need_command() -> Response {
        Response::UntaggedBad(Text::quoted(texts::NEED_COMMAND))
    }

    /// `tag MAILBOX ...` or `tag RESERVE ...` for an entry.
    pub fn record(tag: Tag, record: MailboxRecord) -> Response {
        Response::Record {
            tag,
            record: Record::Mailbox(record),
        }
    }

    /// `tag DELETE <name>`.
    pub fn delete(tag: Tag, name: impl Into<String>) -> Response {
        Response::Record {
            tag,
            record: Record::Delete { name: name.into() },
        }
    }

    /// Writes the response with its CRLF: record fields in `form`, texts as they are.
    pub fn encode(&self, out: &mut Vec<u8>, form: StringForm) {
        let arg = |out: &mut Vec<u8>, s: &str| {
            out.push(b' ');
            syntax::write_string(out, s.as_bytes(), form);
        };
        match self {
            Response::Status { tag, status, text } => {
                out.extend_from_slice(tag.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(status.as_str().as_bytes());
                text.encode(out);
            }
            Response::Record { tag, record } => {
                out.extend_from_slice(tag.as_str().as_bytes());
                match record {
                    Record::Mailbox(m) => match &m.state {
                        MailboxState::Active { location, acl } => {
                            out.extend_from_slice(b" MAILBOX");
                            arg(out, &m.name);
                            arg(out, location);
                            arg(out, acl);
                        }
                        MailboxState::Reserved { location } => {
                            out.extend_from_slice(b" RESERVE");
                            arg(out, &m.name);
                            arg(out, location);
                        }
                    },
                    Record::Delete { name } => {
                        out.extend_from_slice(b" DELETE");
                        arg(out, name);
                    }
                }
            }
            Response::Bye(text) => {
                out.extend_from_slice(b"* BYE");
                text.encode(out);
            }
            Response::UntaggedBad(text) => {
                out.extend_from_slice(b"* BAD");
                text.encode(out);
            }
            Response::Banner(line) => return line.encode(out),
            Response::Challenge(s) => out.extend_from_slice(s.as_bytes()),
        }
        out.extend_from_slice(b"\r\n");
    }

    /// [`Response::encode`] into a new buffer.
    pub fn to_bytes(&self, form: StringForm) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out, form);
        out
    }

    /// Parses one framed message with the default [`Limits`].
    pub fn decode(msg: &[u8]) -> Result<Response, ResponseError> {
        Response::decode_with(msg, &Limits::default())
    }

    /// Parses one framed message (a line with its literals) from a server.
    pub fn decode_with(msg: &[u8], limits: &Limits) -> Result<Response, ResponseError> {
        let max = limits.max_string;
        let mut cur = Cursor::new(msg);
        let (tag, ch) = getword(&mut cur);
        if ch != Some(b' ') {
            // Only a SASL challenge lacks `tag SP`: one base64 token, or an empty line.
            if syntax::is_base64_text(tag) && line_ends(&mut cur, ch) {
                let s = std::str::from_utf8(tag).map_err(|_| ResponseError::NoTag)?;
                return Ok(Response::Challenge(s.to_owned()));
            }
            return Err(ResponseError::NoTag);
        }
        if tag == b"*" {
            return untagged(msg, cur, max);
        }
        let tag = std::str::from_utf8(tag)
            .ok()
            .and_then(|t| Tag::new(t).ok())
            .ok_or(ResponseError::NoTag)?;
        let (kw, ch) = getword(&mut cur);
        let kw_upper = kw.to_ascii_uppercase();
        let status = match &kw_upper[..] {
            b"OK" => Some(Status::Ok),
            b"NO" => Some(Status::No),
            b"BAD" => Some(Status::Bad),
            _ => None,
        };
        if let Some(status) = status {
            let text = text_after(&mut cur, ch, max).map_err(|e| {
                e.unwrap_or(ResponseError::Malformed {
                    keyword: status.as_str(),
                })
            })?;
            return Ok(Response::Status { tag, status, text });
        }
        let (keyword, nargs) = match &kw_upper[..] {
            b"MAILBOX" => ("MAILBOX", 3),
            b"RESERVE" => ("RESERVE", 2),
            b"DELETE" => ("DELETE", 1),
            _ => {
                return Err(ResponseError::UnknownKeyword {
                    keyword: String::from_utf8_lossy(kw).into_owned(),
                })
            }
        };
        let malformed = ResponseError::Malformed { keyword };
        let mut args: Vec<String> = Vec::with_capacity(nargs);
        let mut ch = ch;
        for _ in 0..nargs {
            if ch != Some(b' ') {
                return Err(malformed);
            }
            let (v, next) = getstring(&mut cur, max).map_err(|_| ResponseError::TooBig {
                detail: format!("string longer than {max} octets"),
            })?;
            if next.is_none() {
                return Err(malformed);
            }
            args.push(String::from_utf8(v).map_err(|_| malformed.clone())?);
            ch = next;
        }
        if !line_ends(&mut cur, ch) {
            return Err(malformed);
        }
        let mut args = args.into_iter();
        let mut take = || args.next().unwrap_or_default();
        let record = match keyword {
            "MAILBOX" => {
                let (name, location, acl) = (take(), take(), take());
                Record::Mailbox(MailboxRecord::active(name, location, acl))
            }
            "RESERVE" => {
                let (name, location) = (take(), take());
                Record::Mailbox(MailboxRecord::reserved(name, location))
            }
            _ => Record::Delete { name: take() },
        };
        Ok(Response::Record { tag, record })
    }
}

/// The text after a status keyword (`ch` ended the keyword): a quoted string or literal that
/// fills the rest of the line, else the bare rest of the line. `Err(None)` is "malformed".
fn text_after(
    cur: &mut Cursor<'_>,
    ch: Option<u8>,
    max: usize,
) -> Result<Text, Option<ResponseError>> {
    match ch {
        None => Ok(Text::bare(String::new())),
        Some(b'\r') | Some(b'\n') => {
            if line_ends(cur, ch) {
                Ok(Text::bare(String::new()))
            } else {
                Err(None)
            }
        }
        Some(b' ') => {
            let rest = cur.rest();
            if rest.starts_with(b"\"") || rest.starts_with(b"{") {
                let mut c2 = cur.clone();
                match getstring(&mut c2, max) {
                    Ok((v, next @ Some(_))) if line_ends(&mut c2, next) => {
                        return Ok(Text::quoted(String::from_utf8_lossy(&v).into_owned()));
                    }
                    Ok(_) => {}
                    Err(_) => {
                        return Err(Some(ResponseError::TooBig {
                            detail: format!("string longer than {max} octets"),
                        }))
                    }
                }
            }
            let line = syntax::single_line(rest).ok_or(None)?;
            // Kept as received (not through `Text::bare`), so it re-encodes to the same bytes.
            Ok(Text {
                text: one_line(String::from_utf8_lossy(line).into_owned()),
                quoted: false,
            })
        }
        Some(_) => Err(None),
    }
}

/// An untagged (`* `) line; `cur` is past the `* `.
fn untagged(msg: &[u8], mut cur: Cursor<'_>, max: usize) -> Result<Response, ResponseError> {
    let (kw, ch) = getword(&mut cur);
    let kw_upper = kw.to_ascii_uppercase();
    match &kw_upper[..] {
        b"BYE" => {
            let t = text_after(&mut cur, ch, max)
                .map_err(|e| e.unwrap_or(ResponseError::Malformed { keyword: "BYE" }))?;
            return Ok(Response::Bye(t));
        }
        b"BAD" => {
            let t = text_after(&mut cur, ch, max)
                .map_err(|e| e.unwrap_or(ResponseError::Malformed { keyword: "BAD" }))?;
            return Ok(Response::UntaggedBad(t));
        }
        _ => {}
    }
    let line = msg.strip_suffix(b"\n").unwrap_or(msg);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Kept verbatim, literals included, so that it re-encodes to the same bytes: a lossy copy
    // would change the octet count under a literal's `{n}`.
    let line_text = || {
        std::str::from_utf8(line)
            .map(str::to_owned)
            .map_err(|_| ResponseError::NotUtf8)
    };
    // Cyrus clients end the banner at the first line starting `* OK`, in any case.
    if kw_upper.starts_with(b"OK") {
        let greeting = match greeting(kw, ch, cur, max) {
            Some(info) => Greeting::Mupdate(info),
            None => Greeting::Other(line_text()?),
        };
        return Ok(Response::Banner(BannerLine::Ok(greeting)));
    }
    let words = || -> Vec<String> {
        let rest = line.get(2 + kw.len()..).unwrap_or_default();
        String::from_utf8_lossy(rest)
            .split_ascii_whitespace()
            .map(|w| {
                let w = w.strip_prefix('"').unwrap_or(w);
                w.strip_suffix('"').unwrap_or(w).to_owned()
            })
            .filter(|w| !w.is_empty())
            .collect()
    };
    let line = match &kw_upper[..] {
        b"AUTH" => BannerLine::Auth(words()),
        b"STARTTLS" => BannerLine::Starttls,
        b"COMPRESS" => BannerLine::Compress(words()),
        b"PARTIAL-UPDATE" => BannerLine::PartialUpdate,
        _ => BannerLine::Other(line_text()?),
    };
    Ok(Response::Banner(line))
}

/// `OK MUPDATE "<server>" "<product>" "<version>" "<role>"` after the `* `.
fn greeting(kw: &[u8], ch: Option<u8>, mut cur: Cursor<'_>, max: usize) -> Option<ServerInfo> {
    if !kw.eq_ignore_ascii_case(b"OK") || ch != Some(b' ') {
        return None;
    }
    let (word, mut ch) = getword(&mut cur);
    if !word.eq_ignore_ascii_case(b"MUPDATE") {
        return None;
    }
    let mut fields = Vec::with_capacity(4);
    for _ in 0..4 {
        if ch != Some(b' ') {
            return None;
        }
        let (v, next) = getstring(&mut cur, max).ok()?;
        fields.push(String::from_utf8(v).ok()?);
        ch = next;
    }
    if !line_ends(&mut cur, ch) {
        return None;
    }
    let mut f = fields.into_iter();
    let (server_name, product, version, role) = (f.next()?, f.next()?, f.next()?, f.next()?);
    let role = if role == "(master)" {
        ServerRole::Master
    } else if let Some(up) = role.strip_prefix("mupdate://") {
        ServerRole::Slave {
            upstream: up.to_owned(),
        }
    } else {
        ServerRole::Other(role)
    };
    Some(ServerInfo {
        server_name,
        product,
        version,
        role,
    })
}

/// Writes ` "<word>"` for `* AUTH` and `* COMPRESS`. The quotes are not a quoted string:
/// readers (Cyrus's and [`Response::decode`]) split these lines at white space and strip one
/// quote from each end of a word, with no unescaping, so the word goes between them as is.
/// Escaping a `"` or `\` here would add a backslash to what is read back.
fn write_banner_word(out: &mut Vec<u8>, word: &str) {
    out.extend_from_slice(b" \"");
    out.extend_from_slice(word.as_bytes());
    out.push(b'"');
}

impl BannerLine {
    /// Writes the line as a Cyrus server does, with its CRLF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            BannerLine::Auth(mechs) => {
                out.extend_from_slice(b"* AUTH");
                for m in mechs {
                    write_banner_word(out, m);
                }
            }
            BannerLine::Starttls => out.extend_from_slice(b"* STARTTLS"),
            BannerLine::Compress(algs) => {
                out.extend_from_slice(b"* COMPRESS");
                for a in algs {
                    write_banner_word(out, a);
                }
            }
            BannerLine::PartialUpdate => out.extend_from_slice(b"* PARTIAL-UPDATE"),
            BannerLine::Ok(Greeting::Mupdate(info)) => {
                out.extend_from_slice(b"* OK MUPDATE");
                let role = match &info.role {
                    ServerRole::Master => "(master)".to_owned(),
                    ServerRole::Slave { upstream } => format!("mupdate://{upstream}"),
                    ServerRole::Other(s) => s.clone(),
                };
                for s in [&info.server_name, &info.product, &info.version, &role] {
                    out.push(b' ');
                    write_quoted(out, s.as_bytes());
                }
            }
            BannerLine::Ok(Greeting::Other(line)) | BannerLine::Other(line) => {
                out.extend_from_slice(line.as_bytes())
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The capability banner a server sends on connect and after STARTTLS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Banner {
    /// SASL mechanisms offered (`* AUTH`, always sent, possibly empty).
    pub mechanisms: Vec<String>,
    /// Whether `* STARTTLS` is offered.
    pub starttls: bool,
    /// `* COMPRESS` algorithms (`DEFLATE`); empty when the line is absent.
    pub compress: Vec<String>,
    /// Whether `* PARTIAL-UPDATE` is offered (Cyrus always sends it).
    pub partial_update: bool,
    /// The final `* OK` line.
    pub greeting: Greeting,
}

impl Banner {
    /// A Cyrus 3.x banner: `* AUTH`, `* STARTTLS` if offered, `* COMPRESS "DEFLATE"` if
    /// offered, `* PARTIAL-UPDATE`, and `* OK MUPDATE "<server>" "Cyrus IMAP" "<version>" "<role>"`.
    pub fn cyrus(
        mechanisms: Vec<String>,
        starttls: bool,
        deflate: bool,
        server_name: impl Into<String>,
        version: impl Into<String>,
        role: ServerRole,
    ) -> Banner {
        Banner {
            mechanisms,
            starttls,
            compress: if deflate {
                vec!["DEFLATE".to_owned()]
            } else {
                Vec::new()
            },
            partial_update: true,
            greeting: Greeting::Mupdate(ServerInfo {
                server_name: server_name.into(),
                product: ServerInfo::CYRUS_PRODUCT.to_owned(),
                version: version.into(),
                role,
            }),
        }
    }

    /// Writes the banner lines in Cyrus's order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        BannerLine::Auth(self.mechanisms.clone()).encode(out);
        if self.starttls {
            BannerLine::Starttls.encode(out);
        }
        if !self.compress.is_empty() {
            BannerLine::Compress(self.compress.clone()).encode(out);
        }
        if self.partial_update {
            BannerLine::PartialUpdate.encode(out);
        }
        BannerLine::Ok(self.greeting.clone()).encode(out);
    }

    /// [`Banner::encode`] into a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Reads a whole banner from bytes (the first `* OK` line ends it; bytes after it are
    /// ignored).
    pub fn decode(bytes: &[u8]) -> Result<Banner, ResponseError> {
        let mut reader = ResponseReader::new(Limits::default());
        reader.enqueue(bytes);
        let mut builder = BannerBuilder::default();
        while let Some(r) = reader.next() {
            if let Some(b) = builder.push(r?)? {
                return Ok(b);
            }
        }
        Err(ResponseError::Incomplete)
    }

    /// Whether the server offers `DEFLATE` (with or without quotes, any case).
    pub fn offers_deflate(&self) -> bool {
        self.compress
            .iter()
            .any(|a| a.eq_ignore_ascii_case("DEFLATE"))
    }

    /// Whether the greeting says `(master)`.
    pub fn is_master(&self) -> bool {
        matches!(
            &self.greeting,
            Greeting::Mupdate(ServerInfo {
                role: ServerRole::Master,
                ..
            })
        )
    }
}

/// Collects banner lines until the `* OK` line, ignoring lines it does not know.
#[derive(Debug, Clone, Default)]
pub struct BannerBuilder {
    mechanisms: Vec<String>,
    starttls: bool,
    compress: Vec<String>,
    partial_update: bool,
}

impl BannerBuilder {
    /// Takes the next response; returns the banner once its `* OK` line arrives. A `* BYE`
    /// (for example `"Server Unable"`) is an error.
    pub fn push(&mut self, response: Response) -> Result<Option<Banner>, ResponseError> {
        match response {
            Response::Banner(BannerLine::Auth(m)) => self.mechanisms.extend(m),
            Response::Banner(BannerLine::Starttls) => self.starttls = true,
            Response::Banner(BannerLine::Compress(a)) => self.compress.extend(a),
            Response::Banner(BannerLine::PartialUpdate) => self.partial_update = true,
            Response::Banner(BannerLine::Ok(greeting)) => {
                let b = std::mem::take(self);
                return Ok(Some(Banner {
                    mechanisms: b.mechanisms,
                    starttls: b.starttls,
                    compress: b.compress,
                    partial_update: b.partial_update,
                    greeting,
                }));
            }
            Response::Bye(text) => {
                return Err(ResponseError::Bye {
                    text: text.as_str().to_owned(),
                })
            }
            _ => {}
        }
        Ok(None)
    }
}

/// The client side of one connection's input: frames the byte stream (role client) and decodes
/// each message.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    framer: Framer,
    limits: Limits,
}

impl ResponseReader {
    /// A reader with these limits.
    pub fn new(limits: Limits) -> Self {
        ResponseReader {
            framer: Framer::new(Role::Client, limits.framing),
            limits,
        }
    }

    /// Adds received bytes.
    pub fn enqueue(&mut self, bytes: &[u8]) {
        self.framer.enqueue(bytes);
    }

    /// The next response or error; `None` when more input is needed.
    #[allow(clippy::should_implement_trait)] // `None` means "feed me", not "done"
    pub fn next(&mut self) -> Option<Result<Response, ResponseError>> {
        loop {
            return Some(match self.framer.next()? {
                Frame::Message(m) => Response::decode_with(&m, &self.limits),
                // Never produced in the client role; skip rather than trust it.
                Frame::NeedContinuation { .. } => continue,
                Frame::Error(e) => Err(ResponseError::TooBig {
                    detail: e.kind.to_string(),
                }),
            });
        }
    }

    /// Takes every byte not yet decoded (after STARTTLS or COMPRESS).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.framer.take_buffered()
    }

    /// Bytes held, decoded or not yet.
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader::new(Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_utf8_banner_line_is_refused_rather_than_copied_lossily() {
        // Fuzz finding: a lossy copy of `{2}\r\n\xe2\n` re-encoded with three octets under `{2}`.
        let wire = b"* OK {2}\r\n\xe2\nX\n";
        assert_eq!(Banner::decode(wire), Err(ResponseError::NotUtf8));
        assert_eq!(
            Response::decode(b"* X-FUTURE \xff\r\n"),
            Err(ResponseError::NotUtf8)
        );
        // A UTF-8 line with a literal is kept byte for byte and re-encodes to the same bytes.
        let wire = "* OK {4}\r\n\u{e9}x\nX\r\n".as_bytes();
        let b = Banner::decode(wire).unwrap();
        assert_eq!(
            b.greeting,
            Greeting::Other("* OK {4}\r\n\u{e9}x\nX".to_owned())
        );
        assert_eq!(Banner::decode(&b.to_bytes()), Ok(b));
    }

    #[test]
    fn banner_words_with_quotes_or_backslashes_read_back_unchanged() {
        // Fuzz finding: `\0"` was written escaped as `"\0\""` and read back as `\0\"`.
        let wire = b"* AUTH AT \x00\"\x00 x\\y\r\n* COMPRESS \"\"D\"\r\n* OK ready\r\n";
        let b = Banner::decode(wire).unwrap();
        assert_eq!(b.mechanisms, ["AT", "\0\"\0", "x\\y"]);
        assert_eq!(b.compress, ["\"D"]);
        assert_eq!(Banner::decode(&b.to_bytes()), Ok(b));
        let cyrus = Banner::cyrus(
            vec!["PLAIN".into(), "DIGEST-MD5".into()],
            false,
            true,
            "m",
            "3.6.1",
            ServerRole::Master,
        );
        assert!(cyrus
            .to_bytes()
            .starts_with(b"* AUTH \"PLAIN\" \"DIGEST-MD5\"\r\n* COMPRESS \"DEFLATE\"\r\n"));
    }
}
