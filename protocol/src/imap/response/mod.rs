//! Typed IMAP server responses: a decoder over one framed message and an encoder that writes
//! what Cyrus writes.
//!
//! The shell and the proxies read server output with [`Response::parse`] (after splitting the
//! stream with a [`Framer`](super::framing::Framer) in [`Role::Client`](super::framing::Role));
//! the imapd and proxyd write with [`Response::encode`]. Strings are kept as the bytes received
//! and copied once, out of the framed message. Anything this module does not know is kept
//! verbatim ([`Data::Other`], [`Code::Other`], [`fetch::OtherItem`]) so a proxy can relay it.
//!
//! ```
//! use protocol::imap::response::{Code, Completion, Data, Response};
//!
//! let r = Response::parse(b"* LIST (\\HasNoChildren) \".\" INBOX.Sent\r\n").unwrap();
//! let Response::Data(Data::List(l)) = &r else { panic!() };
//! assert_eq!(l.mailbox, b"INBOX.Sent");
//! assert_eq!(l.delimiter, Some(b'.'));
//!
//! let r = Response::parse(b"a3 OK [READ-WRITE] Completed\r\n").unwrap();
//! let Response::Tagged { kind, text, .. } = &r else { panic!() };
//! assert_eq!(*kind, Completion::Ok);
//! assert_eq!(text.code, Some(Code::ReadWrite));
//!
//! let mut out = Vec::new();
//! r.encode(&mut out);
//! assert_eq!(out, b"a3 OK [READ-WRITE] Completed\r\n");
//! ```

pub mod body;
pub mod code;
pub mod envelope;
pub mod fetch;
mod lex;

#[cfg(test)]
mod tests;

use nom::error::Error;

pub use body::Body;
pub use code::{Code, MetadataCode, PermanentFlag};
pub use envelope::{Address, Envelope};
pub use fetch::FetchItem;

use crate::imap::framing::literal_header;
use crate::imap::syntax::{
    self, can_be_quoted, number, number64, sp, write_astring, write_nstring, write_quoted,
    write_string, LiteralMode,
};
use crate::imap::types::{Atom, Flag, SequenceSet, StatusItem, Tag};
use lex::{keyword, nil_or, write_num, PResult};

/// Limits applied while decoding. The framer has already bounded lines and literals; these
/// bound what a message may make the decoder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted, in octets. Default 80 MiB, the framer's default.
    pub max_message: usize,
    /// Deepest nesting of parenthesised structures (BODYSTRUCTURE parts, encapsulated
    /// messages, extension data). Default 64: real mail rarely goes past 10, and each level
    /// costs stack in the recursive parser.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 80 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// Why a response could not be decoded, or a value not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The message is larger than [`Limits::max_message`].
    #[error("response of {len} octets exceeds the {max}-octet limit")]
    TooLarge {
        /// Size of the message.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message does not end with a line end (it was not framed).
    #[error("response does not end with CRLF")]
    Unterminated,
    /// The bytes do not follow the grammar of the response kind.
    #[error("malformed {what} response at offset {offset}")]
    Syntax {
        /// Which response was being read (`"FETCH"`, `"LIST"`, `"tagged status"`...).
        what: &'static str,
        /// Offset in the message where parsing stopped.
        offset: usize,
    },
    /// Structures nest deeper than [`Limits::max_depth`].
    #[error("{what} response nested deeper than {max} levels")]
    TooDeep {
        /// Which response was being read.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A value given to a constructor breaks the rules of its type.
    #[error("invalid {what}")]
    InvalidValue {
        /// The type and rule broken.
        what: &'static str,
    },
}

/// Human-readable text in a status response or continuation: any bytes but CR, LF and NUL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(Vec<u8>);

impl Text {
    /// Checks and wraps text.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Text, ResponseError> {
        let bytes = bytes.into();
        if bytes.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(ResponseError::InvalidValue {
                what: "text (CR, LF or NUL)",
            });
        }
        Ok(Text(bytes))
    }

    /// The text bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The arguments of an unknown response code, verbatim: text without `]`, CR, LF or NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeArg(Vec<u8>);

impl CodeArg {
    /// Checks and wraps code arguments.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<CodeArg, ResponseError> {
        let bytes = bytes.into();
        if bytes.is_empty()
            || bytes
                .iter()
                .any(|&b| b == b'\r' || b == b'\n' || b == 0 || b == b']')
        {
            return Err(ResponseError::InvalidValue {
                what: "response code argument (empty, or CR, LF, NUL or ])",
            });
        }
        Ok(CodeArg(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A referral URL (RFC 2192 IMAP URL), e.g. `imap://;AUTH=*@backend1/user.bob`: printable
/// ASCII without spaces or `]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralUrl(String);

impl ReferralUrl {
    /// Checks and wraps a URL.
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<ReferralUrl, ResponseError> {
        let bytes = bytes.as_ref();
        if bytes.is_empty() || !bytes.iter().all(|&b| b > 0x20 && b < 0x7f && b != b']') {
            return Err(ResponseError::InvalidValue {
                what: "referral URL (empty, or space, ] or non-ASCII)",
            });
        }
        String::from_utf8(bytes.to_vec())
            .map(ReferralUrl)
            .map_err(|_| ResponseError::InvalidValue {
                what: "referral URL",
            })
    }

    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The result of a tagged command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// `OK`
    Ok,
    /// `NO`
    No,
    /// `BAD`
    Bad,
}

/// The condition of an untagged status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// `OK`: information (often a response code), or the greeting.
    Ok,
    /// `NO`: a warning.
    No,
    /// `BAD`: a protocol error not tied to a command.
    Bad,
    /// `BYE`: the server is closing the connection.
    Bye,
    /// `PREAUTH`: greeting of an already authenticated session.
    Preauth,
}

/// `resp-text`: an optional code and human-readable text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RespText {
    /// The bracketed response code.
    pub code: Option<Code>,
    /// The text after it (may be empty).
    pub text: Text,
}

impl RespText {
    /// Text without a code.
    pub fn plain(text: Text) -> RespText {
        RespText { code: None, text }
    }
}

/// A verbatim value in a generic position (unknown FETCH item values, LIST-EXTENDED values):
/// one number, atom, string, `NIL` or parenthesised list, exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValue(Vec<u8>);

impl RawValue {
    /// Checks that `bytes` is exactly one value.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<RawValue, ResponseError> {
        let bytes = bytes.into();
        match lex::raw_value(&bytes, Limits::default().max_depth) {
            Ok(([], _)) => Ok(RawValue(bytes)),
            _ => Err(ResponseError::InvalidValue {
                what: "raw value (not exactly one IMAP value)",
            }),
        }
    }

    /// The bytes as sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One item of LIST-EXTENDED data (RFC 5258 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListExtItem {
    /// `"CHILDINFO" ("SUBSCRIBED" ...)`: why a non-matching parent was listed.
    ChildInfo(Vec<Vec<u8>>),
    /// `"OLDNAME" ("name")` (RFC 5465): the name before a rename.
    OldName(Vec<u8>),
    /// Any other tagged extension value, verbatim.
    Other {
        /// The extension tag.
        tag: Vec<u8>,
        /// Its value.
        value: RawValue,
    },
}

/// A `LIST` or `LSUB` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxList {
    /// Attributes (`\HasNoChildren`, `\Noselect`, `\Sent`...), in the order sent.
    pub attributes: Vec<Flag>,
    /// Hierarchy delimiter, `None` for `NIL` (a flat namespace).
    pub delimiter: Option<u8>,
    /// Mailbox name as sent (modified UTF-7 unless UTF8=ACCEPT).
    pub mailbox: Vec<u8>,
    /// LIST-EXTENDED data, empty when none was sent.
    pub extended: Vec<ListExtItem>,
}

/// A STATUS value: a number for every item but `MAILBOXID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusValue {
    /// A count, UID, size or modseq.
    Number(u64),
    /// `MAILBOXID (id)`.
    MailboxId(Atom),
}

/// ESEARCH return data (RFC 4731) this module types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EsearchData {
    /// `MIN n`
    Min(u32),
    /// `MAX n`
    Max(u32),
    /// `COUNT n`
    Count(u32),
    /// `ALL set`
    All(SequenceSet),
    /// `MODSEQ n` (CONDSTORE)
    ModSeq(u64),
}

/// One namespace: prefix, delimiter and extensions (RFC 2342).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceDesc {
    /// Prefix, e.g. `INBOX.` or `user.`.
    pub prefix: Vec<u8>,
    /// Hierarchy delimiter, `None` for `NIL`.
    pub delimiter: Option<u8>,
    /// `Namespace-Response-Extension`s: a name and its values.
    pub extensions: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

/// One `(resource usage limit)` triple of a QUOTA response (RFC 2087, RFC 9208).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaResource {
    /// `STORAGE`, `MESSAGE`, `X-NUM-FOLDERS`...
    pub name: Atom,
    /// Current usage (KiB for STORAGE).
    pub usage: u64,
    /// Limit.
    pub limit: u64,
}

/// An untagged data response kept verbatim: the bytes between `* ` and the final CRLF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherData(Vec<u8>);

impl OtherData {
    /// Checks that `* <bytes>\r\n` is a well-formed message this module does not type.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<OtherData, ResponseError> {
        let bytes = bytes.into();
        let mut msg = b"* ".to_vec();
        msg.extend_from_slice(&bytes);
        msg.extend_from_slice(b"\r\n");
        match Response::parse(&msg) {
            Ok(Response::Data(Data::Other(o))) if o.0 == bytes => Ok(o),
            _ => Err(ResponseError::InvalidValue {
                what: "untagged data (typed, or not one message)",
            }),
        }
    }

    /// The bytes after `* `, without the final line end.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// ID parameters: field names and values (`None` for `NIL`), in order.
pub type IdParams = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Untagged data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// `* CAPABILITY ...`
    Capability(Vec<Atom>),
    /// `* LIST (...) "/" name [(ext)]`
    List(MailboxList),
    /// `* LSUB (...) "/" name`
    Lsub(MailboxList),
    /// `* STATUS name (item value ...)`
    Status {
        /// Mailbox name as sent.
        mailbox: Vec<u8>,
        /// Items in the order sent.
        items: Vec<(StatusItem, StatusValue)>,
    },
    /// `* SEARCH n...` with CONDSTORE's `(MODSEQ n)`.
    Search {
        /// Matching numbers.
        nums: Vec<u32>,
        /// Highest modseq of the matches, when asked for.
        modseq: Option<u64>,
    },
    /// `* ESEARCH [(TAG "t")] [UID] data...`
    Esearch {
        /// The tag of the command this answers.
        tag: Option<Vec<u8>>,
        /// Whether the numbers are UIDs.
        uid: bool,
        /// Return data in the order sent.
        data: Vec<EsearchData>,
    },
    /// `* FLAGS (...)`
    Flags(Vec<Flag>),
    /// `* n EXISTS`
    Exists(u32),
    /// `* n RECENT`
    Recent(u32),
    /// `* n EXPUNGE`
    Expunge(u32),
    /// `* n FETCH (...)`
    Fetch {
        /// Message sequence number.
        seq: u32,
        /// Items in the order sent.
        items: Vec<FetchItem>,
    },
    /// `* NAMESPACE personal other shared`; `NIL` is an empty list.
    Namespace {
        /// Personal namespaces.
        personal: Vec<NamespaceDesc>,
        /// Other users' namespaces.
        other: Vec<NamespaceDesc>,
        /// Shared namespaces.
        shared: Vec<NamespaceDesc>,
    },
    /// `* ID (...)` or `* ID NIL`.
    Id(Option<IdParams>),
    /// `* ENABLED cap...`
    Enabled(Vec<Atom>),
    /// `* ACL mailbox (identifier rights)*`
    Acl {
        /// Mailbox name as sent.
        mailbox: Vec<u8>,
        /// Identifier and rights pairs.
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// `* LISTRIGHTS mailbox identifier required optional*`
    ListRights {
        /// Mailbox name as sent.
        mailbox: Vec<u8>,
        /// The identifier asked about.
        identifier: Vec<u8>,
        /// Rights always granted.
        required: Vec<u8>,
        /// Groups of rights that may be granted.
        optional: Vec<Vec<u8>>,
    },
    /// `* MYRIGHTS mailbox rights`
    MyRights {
        /// Mailbox name as sent.
        mailbox: Vec<u8>,
        /// The rights.
        rights: Vec<u8>,
    },
    /// `* QUOTA root (resource usage limit ...)`
    Quota {
        /// Quota root name.
        root: Vec<u8>,
        /// Resources.
        resources: Vec<QuotaResource>,
    },
    /// `* QUOTAROOT mailbox root*`
    QuotaRoot {
        /// Mailbox name as sent.
        mailbox: Vec<u8>,
        /// Its quota roots (possibly none).
        roots: Vec<Vec<u8>>,
    },
    /// `* METADATA mailbox (entry value ...)` (RFC 5464 §4.4.1).
    Metadata {
        /// Mailbox name (empty for server annotations).
        mailbox: Vec<u8>,
        /// Entries and values (`None` for `NIL`).
        entries: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    },
    /// Unsolicited `* METADATA mailbox entry...` (RFC 5464 §4.4.2): these entries changed.
    MetadataChanged {
        /// Mailbox name.
        mailbox: Vec<u8>,
        /// Changed entries.
        entries: Vec<Vec<u8>>,
    },
    /// Anything else, verbatim.
    Other(OtherData),
}

/// A server response: one framed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `tag OK|NO|BAD [code] text`: a command completed.
    Tagged {
        /// The command's tag.
        tag: Tag,
        /// The result.
        kind: Completion,
        /// Code and text.
        text: RespText,
    },
    /// `* OK|NO|BAD|BYE|PREAUTH [code] text`.
    Status {
        /// The condition.
        kind: Condition,
        /// Code and text.
        text: RespText,
    },
    /// `+ text`: the server waits for more of the command (a literal, or a SASL response).
    /// The text is kept raw: for AUTHENTICATE it is a base64 challenge, which only the caller
    /// can tell apart from human text.
    Continuation(Text),
    /// Untagged data.
    Data(Data),
}

fn resp_text(i: &[u8]) -> PResult<'_, RespText> {
    // `i` is what follows the status keyword: nothing, or SP then [code] and text.
    let Some(i) = i.strip_prefix(b" ") else {
        return Ok((i, RespText::default()));
    };
    let (i, code) = match i.strip_prefix(b"[") {
        Some(r) => {
            let (r, c) = code::code(r)?;
            let r = lex::byte(r, b']')?;
            (r.strip_prefix(b" ").unwrap_or(r), Some(c))
        }
        None => (i, None),
    };
    let end = memchr::memchr2(b'\r', b'\n', i).unwrap_or(i.len());
    match Text::new(&i[..end]) {
        Ok(text) => Ok((&i[end..], RespText { code, text })),
        Err(_) => lex::fail(i),
    }
}

fn delimiter(i: &[u8]) -> PResult<'_, Option<u8>> {
    if let Some(r) = nil_or(i) {
        return Ok((r, None));
    }
    let (r, q) = syntax::quoted(i)?;
    match q.as_ref() {
        [c] => Ok((r, Some(*c))),
        _ => lex::fail(i),
    }
}

fn list_ext_item(i: &[u8], depth: usize) -> PResult<'_, ListExtItem> {
    let (i, tag) = lex::astring(i)?;
    let (i, _) = sp(i)?;
    if tag.eq_ignore_ascii_case(b"CHILDINFO") {
        if let Ok((r, l)) = lex::paren_list(i, lex::astring) {
            return Ok((r, ListExtItem::ChildInfo(l)));
        }
    }
    if tag.eq_ignore_ascii_case(b"OLDNAME") {
        if let Ok((r, mut l)) = lex::paren_list(i, lex::astring) {
            if l.len() == 1 {
                return Ok((r, ListExtItem::OldName(l.remove(0))));
            }
        }
    }
    let (r, v) = lex::raw_value(i, depth)?;
    Ok((
        r,
        ListExtItem::Other {
            tag,
            value: RawValue(v.to_vec()),
        },
    ))
}

fn mailbox_list(i: &[u8], depth: usize) -> PResult<'_, MailboxList> {
    let (i, attributes) = Flag::parse_list(i)?;
    let (i, _) = sp(i)?;
    let (i, delimiter) = delimiter(i)?;
    let (i, _) = sp(i)?;
    let (mut i, mailbox) = lex::astring(i)?;
    let mut extended = Vec::new();
    if let Some(r) = i.strip_prefix(b" ").filter(|r| r.starts_with(b"(")) {
        let (r, l) = lex::paren_list(r, |x| list_ext_item(x, depth))?;
        extended = l;
        i = r;
    }
    Ok((
        i,
        MailboxList {
            attributes,
            delimiter,
            mailbox,
            extended,
        },
    ))
}

fn namespaces(i: &[u8]) -> PResult<'_, Vec<NamespaceDesc>> {
    if let Some(r) = nil_or(i) {
        return Ok((r, Vec::new()));
    }
    let mut i = lex::byte(i, b'(')?;
    let mut out = Vec::new();
    loop {
        let r = lex::byte(i, b'(')?;
        let (r, prefix) = lex::string(r)?;
        let (r, _) = sp(r)?;
        let (mut r, delimiter) = delimiter(r)?;
        let mut extensions = Vec::new();
        while let Ok((r2, _)) = sp(r) {
            let (r2, name) = lex::string(r2)?;
            let (r2, _) = sp(r2)?;
            let (r2, values) = lex::paren_list(r2, lex::string)?;
            extensions.push((name, values));
            r = r2;
        }
        i = lex::byte(r, b')')?;
        out.push(NamespaceDesc {
            prefix,
            delimiter,
            extensions,
        });
        if let Some(r) = i.strip_prefix(b")") {
            if out.is_empty() {
                return lex::fail(i);
            }
            return Ok((r, out));
        }
        // Descriptors follow each other without a separator; tolerate a space.
        i = i.strip_prefix(b" ").unwrap_or(i);
    }
}

/// Space-separated astrings up to the end of the line (possibly none).
fn astrings_to_end(mut i: &[u8]) -> PResult<'_, Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while let Ok((r, _)) = sp(i) {
        let (r, s) = lex::astring(r)?;
        out.push(s);
        i = r;
    }
    Ok((i, out))
}

fn status_items(i: &[u8]) -> PResult<'_, Vec<(StatusItem, StatusValue)>> {
    lex::paren_list(i, |i| {
        let (i, item) = StatusItem::parse(i)?;
        let (i, _) = sp(i)?;
        if item == StatusItem::MailboxId {
            let i = lex::byte(i, b'(')?;
            let (i, id) = Atom::parse(i)?;
            let i = lex::byte(i, b')')?;
            return Ok((i, (item, StatusValue::MailboxId(id))));
        }
        let (i, n) = number64(i)?;
        Ok((i, (item, StatusValue::Number(n))))
    })
}

fn search(mut i: &[u8]) -> PResult<'_, Data> {
    let mut nums = Vec::new();
    let mut modseq = None;
    while let Ok((r, _)) = sp(i) {
        if let Some(r) = r.strip_prefix(b"(") {
            let r = lex::expect_keyword(r, b"MODSEQ")?;
            let (r, _) = sp(r)?;
            let (r, n) = number64(r)?;
            let r = lex::byte(r, b')')?;
            modseq = Some(n);
            i = r;
            break;
        }
        let (r, n) = number(r)?;
        nums.push(n);
        i = r;
    }
    Ok((i, Data::Search { nums, modseq }))
}

fn esearch(i: &[u8]) -> PResult<'_, Data> {
    let mut tag = None;
    let mut uid = false;
    let mut i = i;
    if let Some(r) = i.strip_prefix(b" (") {
        let r = lex::expect_keyword(r, b"TAG")?;
        let (r, _) = sp(r)?;
        let (r, t) = lex::string(r)?;
        i = lex::byte(r, b')')?;
        tag = Some(t);
    }
    if let Some(r) = i.strip_prefix(b" ").and_then(|r| keyword(r, b"UID")) {
        uid = true;
        i = r;
    }
    let mut data = Vec::new();
    while let Ok((r, _)) = sp(i) {
        let (r, name) = lex::word(r)?;
        let (r, _) = sp(r)?;
        let up = name.to_ascii_uppercase();
        let (r, d) = match up.as_slice() {
            b"MIN" => number(r).map(|(r, n)| (r, EsearchData::Min(n)))?,
            b"MAX" => number(r).map(|(r, n)| (r, EsearchData::Max(n)))?,
            b"COUNT" => number(r).map(|(r, n)| (r, EsearchData::Count(n)))?,
            b"ALL" => SequenceSet::parse(r).map(|(r, s)| (r, EsearchData::All(s)))?,
            b"MODSEQ" => number64(r).map(|(r, n)| (r, EsearchData::ModSeq(n)))?,
            _ => return lex::fail(r),
        };
        data.push(d);
        i = r;
    }
    Ok((i, Data::Esearch { tag, uid, data }))
}

/// Parses untagged data after `* ` and its name; `what` is the name. `Ok(None)` means the kind is
/// not typed here.
fn data<'a>(name: &[u8], i: &'a [u8], depth: usize) -> Option<PResult<'a, Data>> {
    let up = name.to_ascii_uppercase();
    let p = |f: &dyn Fn(&'a [u8]) -> PResult<'a, Data>| Some(f(i));
    match up.as_slice() {
        b"CAPABILITY" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, c) = code::capability_list(i)?;
            Ok((i, Data::Capability(c)))
        }),
        b"ENABLED" => p(&|i| {
            // ENABLED may list nothing.
            match sp(i) {
                Ok((r, _)) => {
                    let (r, c) = code::capability_list(r)?;
                    Ok((r, Data::Enabled(c)))
                }
                Err(_) => Ok((i, Data::Enabled(Vec::new()))),
            }
        }),
        b"LIST" | b"LSUB" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, l) = mailbox_list(i, depth)?;
            Ok((
                i,
                if up.as_slice() == b"LIST" {
                    Data::List(l)
                } else {
                    Data::Lsub(l)
                },
            ))
        }),
        b"STATUS" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, mailbox) = lex::astring(i)?;
            let (i, _) = sp(i)?;
            let (i, items) = status_items(i)?;
            Ok((i, Data::Status { mailbox, items }))
        }),
        b"SEARCH" => p(&search),
        b"ESEARCH" => p(&esearch),
        b"FLAGS" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, f) = Flag::parse_list(i)?;
            Ok((i, Data::Flags(f)))
        }),
        b"NAMESPACE" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, personal) = namespaces(i)?;
            let (i, _) = sp(i)?;
            let (i, other) = namespaces(i)?;
            let (i, _) = sp(i)?;
            let (i, shared) = namespaces(i)?;
            Ok((
                i,
                Data::Namespace {
                    personal,
                    other,
                    shared,
                },
            ))
        }),
        b"ID" => p(&|i| {
            let (i, _) = sp(i)?;
            if let Some(r) = nil_or(i) {
                return Ok((r, Data::Id(None)));
            }
            let (i, l) = lex::paren_list(i, |i| {
                let (i, k) = lex::string(i)?;
                let (i, _) = sp(i)?;
                let (i, v) = lex::nstring(i)?;
                Ok((i, (k, v)))
            })?;
            Ok((i, Data::Id(Some(l))))
        }),
        b"ACL" => p(&|i| {
            let (i, _) = sp(i)?;
            let (mut i, mailbox) = lex::astring(i)?;
            let mut entries = Vec::new();
            while let Ok((r, _)) = sp(i) {
                let (r, id) = lex::astring(r)?;
                let (r, _) = sp(r)?;
                let (r, rights) = lex::astring(r)?;
                entries.push((id, rights));
                i = r;
            }
            Ok((i, Data::Acl { mailbox, entries }))
        }),
        b"LISTRIGHTS" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, mailbox) = lex::astring(i)?;
            let (i, _) = sp(i)?;
            let (i, identifier) = lex::astring(i)?;
            let (i, _) = sp(i)?;
            let (i, required) = lex::astring(i)?;
            let (i, optional) = astrings_to_end(i)?;
            Ok((
                i,
                Data::ListRights {
                    mailbox,
                    identifier,
                    required,
                    optional,
                },
            ))
        }),
        b"MYRIGHTS" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, mailbox) = lex::astring(i)?;
            let (i, _) = sp(i)?;
            let (i, rights) = lex::astring(i)?;
            Ok((i, Data::MyRights { mailbox, rights }))
        }),
        b"QUOTA" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, root) = lex::astring(i)?;
            let (i, _) = sp(i)?;
            let (i, resources) = lex::paren_list(i, |i| {
                let (i, name) = Atom::parse(i)?;
                let (i, _) = sp(i)?;
                let (i, usage) = number64(i)?;
                let (i, _) = sp(i)?;
                let (i, limit) = number64(i)?;
                Ok((i, QuotaResource { name, usage, limit }))
            })?;
            Ok((i, Data::Quota { root, resources }))
        }),
        b"QUOTAROOT" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, mailbox) = lex::astring(i)?;
            let (i, roots) = astrings_to_end(i)?;
            Ok((i, Data::QuotaRoot { mailbox, roots }))
        }),
        b"METADATA" => p(&|i| {
            let (i, _) = sp(i)?;
            let (i, mailbox) = lex::astring(i)?;
            let (i, _) = sp(i)?;
            if i.first() == Some(&b'(') {
                let (i, entries) = lex::paren_list(i, |i| {
                    let (i, e) = lex::astring(i)?;
                    let (i, _) = sp(i)?;
                    let (i, v) = lex::nstring(i)?;
                    Ok((i, (e, v)))
                })?;
                if entries.is_empty() {
                    return lex::fail(i);
                }
                return Ok((i, Data::Metadata { mailbox, entries }));
            }
            let (i, first) = lex::astring(i)?;
            let (i, mut entries) = astrings_to_end(i)?;
            entries.insert(0, first);
            Ok((i, Data::MetadataChanged { mailbox, entries }))
        }),
        _ => None,
    }
}

fn data_name(name: &[u8]) -> &'static str {
    const NAMES: [&str; 17] = [
        "CAPABILITY",
        "ENABLED",
        "LIST",
        "LSUB",
        "STATUS",
        "SEARCH",
        "ESEARCH",
        "FLAGS",
        "NAMESPACE",
        "ID",
        "ACL",
        "LISTRIGHTS",
        "MYRIGHTS",
        "QUOTA",
        "QUOTAROOT",
        "METADATA",
        "FETCH",
    ];
    NAMES
        .iter()
        .find(|n| n.as_bytes().eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("untagged")
}

/// Strips the final line end; the parsers must consume everything before it.
fn split_line_end(msg: &[u8]) -> Option<&[u8]> {
    let body = msg.strip_suffix(b"\n")?;
    Some(body.strip_suffix(b"\r").unwrap_or(body))
}

fn status_kind(word: &[u8]) -> Option<Condition> {
    let up = word.to_ascii_uppercase();
    Some(match up.as_slice() {
        b"OK" => Condition::Ok,
        b"NO" => Condition::No,
        b"BAD" => Condition::Bad,
        b"BYE" => Condition::Bye,
        b"PREAUTH" => Condition::Preauth,
        _ => return None,
    })
}

impl Response {
    /// Decodes one framed message (as returned by the framer, line end included) with the
    /// default [`Limits`].
    pub fn parse(message: &[u8]) -> Result<Response, ResponseError> {
        Response::parse_with(message, &Limits::default())
    }

    /// Decodes one framed message with explicit limits.
    pub fn parse_with(message: &[u8], limits: &Limits) -> Result<Response, ResponseError> {
        if message.len() > limits.max_message {
            return Err(ResponseError::TooLarge {
                len: message.len(),
                max: limits.max_message,
            });
        }
        let body = split_line_end(message).ok_or(ResponseError::Unterminated)?;
        let mut what = "response";
        let result = parse_body(body, limits.max_depth, &mut what);
        let offset_of = |rest: &[u8]| body.len().saturating_sub(rest.len());
        match result {
            Ok(([], r)) => Ok(r),
            Ok((rest, _)) => Err(ResponseError::Syntax {
                what,
                offset: offset_of(rest),
            }),
            Err(nom::Err::Failure(Error { code, .. })) if code == lex::DEPTH_KIND => {
                Err(ResponseError::TooDeep {
                    what,
                    max: limits.max_depth,
                })
            }
            Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(ResponseError::Syntax {
                what,
                offset: offset_of(e.input),
            }),
            Err(nom::Err::Incomplete(_)) => Err(ResponseError::Syntax {
                what,
                offset: body.len(),
            }),
        }
    }

    /// Encodes the response, line end included, as Cyrus formats it.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Tagged { tag, kind, text } => {
                out.extend_from_slice(tag.as_str().as_bytes());
                out.extend_from_slice(match kind {
                    Completion::Ok => b" OK",
                    Completion::No => b" NO",
                    Completion::Bad => b" BAD",
                });
                write_resp_text(out, text);
            }
            Response::Status { kind, text } => {
                out.extend_from_slice(match kind {
                    Condition::Ok => &b"* OK"[..],
                    Condition::No => b"* NO",
                    Condition::Bad => b"* BAD",
                    Condition::Bye => b"* BYE",
                    Condition::Preauth => b"* PREAUTH",
                });
                write_resp_text(out, text);
            }
            Response::Continuation(t) => {
                out.extend_from_slice(b"+ ");
                out.extend_from_slice(t.as_bytes());
            }
            Response::Data(d) => {
                out.extend_from_slice(b"* ");
                d.encode(out);
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded bytes, for tests and one-off writes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn parse_body<'a>(i: &'a [u8], depth: usize, what: &mut &'static str) -> PResult<'a, Response> {
    if let Some(r) = i.strip_prefix(b"+") {
        *what = "continuation";
        let r = r.strip_prefix(b" ").unwrap_or(r);
        return match Text::new(r) {
            Ok(t) => Ok((&r[r.len()..], Response::Continuation(t))),
            Err(_) => lex::fail(r),
        };
    }
    if let Some(r) = i.strip_prefix(b"* ") {
        *what = "untagged";
        if r.first().is_some_and(u8::is_ascii_digit) {
            let (r2, n) = number(r)?;
            let (r2, _) = sp(r2)?;
            let (r3, name) = lex::word(r2)?;
            let up = name.to_ascii_uppercase();
            let typed = match up.as_slice() {
                b"EXISTS" => Some(Ok((r3, Data::Exists(n)))),
                b"RECENT" => Some(Ok((r3, Data::Recent(n)))),
                b"EXPUNGE" => Some(Ok((r3, Data::Expunge(n)))),
                b"FETCH" => {
                    *what = "FETCH";
                    Some((|| {
                        let (r, _) = sp(r3)?;
                        let (r, items) = fetch::items(r, depth)?;
                        Ok((r, Data::Fetch { seq: n, items }))
                    })())
                }
                _ => None,
            };
            return match typed {
                Some(res) => res.map(|(r, d)| (r, Response::Data(d))),
                None => other_data(r),
            };
        }
        let (r2, name) = lex::word(r)?;
        if let Some(kind) = status_kind(name) {
            *what = "untagged status";
            let (r2, text) = resp_text(r2)?;
            return Ok((r2, Response::Status { kind, text }));
        }
        *what = data_name(name);
        return match data(name, r2, depth) {
            Some(res) => res.map(|(r, d)| (r, Response::Data(d))),
            None => other_data(r),
        };
    }
    *what = "tagged status";
    let (r, tag) = Tag::parse(i)?;
    let (r, _) = sp(r)?;
    let (r2, word) = lex::word(r)?;
    let kind = match status_kind(word) {
        Some(Condition::Ok) => Completion::Ok,
        Some(Condition::No) => Completion::No,
        Some(Condition::Bad) => Completion::Bad,
        _ => return lex::fail(r),
    };
    let (r2, text) = resp_text(r2)?;
    Ok((r2, Response::Tagged { tag, kind, text }))
}

/// Untyped data: everything to the end, provided its line ends all belong to literals (so that
/// it is one message and encodes back to one message).
fn other_data(i: &[u8]) -> PResult<'_, Response> {
    let mut pos = 0usize;
    while let Some(nl) = i.get(pos..).and_then(|rest| memchr::memchr(b'\n', rest)) {
        let line_end = pos + nl + 1;
        let Some(h) = i.get(..line_end).and_then(literal_header) else {
            return lex::fail(i.get(pos..).unwrap_or_default());
        };
        match usize::try_from(h.len)
            .ok()
            .and_then(|n| n.checked_add(line_end))
        {
            Some(end) if end <= i.len() => pos = end,
            _ => return lex::fail(i.get(pos..).unwrap_or_default()),
        }
    }
    Ok((
        &i[i.len()..],
        Response::Data(Data::Other(OtherData(i.to_vec()))),
    ))
}

fn write_resp_text(out: &mut Vec<u8>, t: &RespText) {
    if let Some(c) = &t.code {
        out.extend_from_slice(b" [");
        c.encode(out);
        out.push(b']');
    }
    if !t.text.as_bytes().is_empty() {
        out.push(b' ');
        out.extend_from_slice(t.text.as_bytes());
    }
}

fn write_delimiter(out: &mut Vec<u8>, d: Option<u8>) {
    match d {
        None => out.extend_from_slice(b"NIL"),
        Some(c) if can_be_quoted(&[c]) => write_quoted(out, &[c]),
        // A delimiter that cannot be quoted (8-bit or CR/LF) has no legal form; a literal
        // at least keeps the stream framed.
        Some(c) => syntax::write_literal(out, &[c], LiteralMode::Sync),
    }
}

fn write_mailbox(out: &mut Vec<u8>, m: &[u8]) {
    write_astring(out, m, LiteralMode::Sync);
}

fn write_mailbox_list(out: &mut Vec<u8>, l: &MailboxList) {
    Flag::write_list(out, &l.attributes);
    out.push(b' ');
    write_delimiter(out, l.delimiter);
    out.push(b' ');
    write_mailbox(out, &l.mailbox);
    if !l.extended.is_empty() {
        out.extend_from_slice(b" (");
        for (n, e) in l.extended.iter().enumerate() {
            if n > 0 {
                out.push(b' ');
            }
            match e {
                ListExtItem::ChildInfo(v) => {
                    out.extend_from_slice(b"\"CHILDINFO\" (");
                    for (k, s) in v.iter().enumerate() {
                        if k > 0 {
                            out.push(b' ');
                        }
                        write_string(out, s, LiteralMode::Sync);
                    }
                    out.push(b')');
                }
                ListExtItem::OldName(name) => {
                    out.extend_from_slice(b"\"OLDNAME\" (");
                    write_string(out, name, LiteralMode::Sync);
                    out.push(b')');
                }
                ListExtItem::Other { tag, value } => {
                    write_string(out, tag, LiteralMode::Sync);
                    out.push(b' ');
                    out.extend_from_slice(value.as_bytes());
                }
            }
        }
        out.push(b')');
    }
}

fn write_namespaces(out: &mut Vec<u8>, l: &[NamespaceDesc]) {
    if l.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for d in l {
        out.push(b'(');
        write_string(out, &d.prefix, LiteralMode::Sync);
        out.push(b' ');
        write_delimiter(out, d.delimiter);
        for (name, values) in &d.extensions {
            out.push(b' ');
            write_string(out, name, LiteralMode::Sync);
            out.extend_from_slice(b" (");
            for (k, v) in values.iter().enumerate() {
                if k > 0 {
                    out.push(b' ');
                }
                write_string(out, v, LiteralMode::Sync);
            }
            out.push(b')');
        }
        out.push(b')');
    }
    out.push(b')');
}

fn write_atoms(out: &mut Vec<u8>, l: &[Atom]) {
    for a in l {
        out.push(b' ');
        out.extend_from_slice(a.as_str().as_bytes());
    }
}

impl Data {
    /// Writes the data after `* `, without the line end.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Data::Capability(c) => {
                out.extend_from_slice(b"CAPABILITY");
                write_atoms(out, c);
            }
            Data::Enabled(c) => {
                out.extend_from_slice(b"ENABLED");
                write_atoms(out, c);
            }
            Data::List(l) => {
                out.extend_from_slice(b"LIST ");
                write_mailbox_list(out, l);
            }
            Data::Lsub(l) => {
                out.extend_from_slice(b"LSUB ");
                write_mailbox_list(out, l);
            }
            Data::Status { mailbox, items } => {
                out.extend_from_slice(b"STATUS ");
                write_mailbox(out, mailbox);
                out.extend_from_slice(b" (");
                for (n, (item, value)) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    item.write(out);
                    out.push(b' ');
                    match value {
                        StatusValue::Number(v) => write_num(out, *v),
                        StatusValue::MailboxId(id) => {
                            out.push(b'(');
                            out.extend_from_slice(id.as_str().as_bytes());
                            out.push(b')');
                        }
                    }
                }
                out.push(b')');
            }
            Data::Search { nums, modseq } => {
                out.extend_from_slice(b"SEARCH");
                for n in nums {
                    out.push(b' ');
                    write_num(out, u64::from(*n));
                }
                if let Some(m) = modseq {
                    out.extend_from_slice(b" (MODSEQ ");
                    write_num(out, *m);
                    out.push(b')');
                }
            }
            Data::Esearch { tag, uid, data } => {
                out.extend_from_slice(b"ESEARCH");
                if let Some(t) = tag {
                    out.extend_from_slice(b" (TAG ");
                    write_string(out, t, LiteralMode::Sync);
                    out.push(b')');
                }
                if *uid {
                    out.extend_from_slice(b" UID");
                }
                for d in data {
                    out.push(b' ');
                    match d {
                        EsearchData::Min(n) => num_item(out, b"MIN", u64::from(*n)),
                        EsearchData::Max(n) => num_item(out, b"MAX", u64::from(*n)),
                        EsearchData::Count(n) => num_item(out, b"COUNT", u64::from(*n)),
                        EsearchData::ModSeq(n) => num_item(out, b"MODSEQ", *n),
                        EsearchData::All(s) => {
                            out.extend_from_slice(b"ALL ");
                            s.write(out);
                        }
                    }
                }
            }
            Data::Flags(f) => {
                out.extend_from_slice(b"FLAGS ");
                Flag::write_list(out, f);
            }
            Data::Exists(n) => num_suffix(out, *n, b" EXISTS"),
            Data::Recent(n) => num_suffix(out, *n, b" RECENT"),
            Data::Expunge(n) => num_suffix(out, *n, b" EXPUNGE"),
            Data::Fetch { seq, items } => {
                num_suffix(out, *seq, b" FETCH (");
                for (n, it) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    it.encode(out);
                }
                out.push(b')');
            }
            Data::Namespace {
                personal,
                other,
                shared,
            } => {
                out.extend_from_slice(b"NAMESPACE ");
                write_namespaces(out, personal);
                out.push(b' ');
                write_namespaces(out, other);
                out.push(b' ');
                write_namespaces(out, shared);
            }
            Data::Id(None) => out.extend_from_slice(b"ID NIL"),
            Data::Id(Some(l)) => {
                out.extend_from_slice(b"ID (");
                for (n, (k, v)) in l.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    write_string(out, k, LiteralMode::Sync);
                    out.push(b' ');
                    write_nstring(out, v.as_deref(), LiteralMode::Sync);
                }
                out.push(b')');
            }
            Data::Acl { mailbox, entries } => {
                out.extend_from_slice(b"ACL ");
                write_mailbox(out, mailbox);
                for (id, rights) in entries {
                    out.push(b' ');
                    write_astring(out, id, LiteralMode::Sync);
                    out.push(b' ');
                    write_astring(out, rights, LiteralMode::Sync);
                }
            }
            Data::ListRights {
                mailbox,
                identifier,
                required,
                optional,
            } => {
                out.extend_from_slice(b"LISTRIGHTS ");
                write_mailbox(out, mailbox);
                out.push(b' ');
                write_astring(out, identifier, LiteralMode::Sync);
                out.push(b' ');
                write_astring(out, required, LiteralMode::Sync);
                for o in optional {
                    out.push(b' ');
                    write_astring(out, o, LiteralMode::Sync);
                }
            }
            Data::MyRights { mailbox, rights } => {
                out.extend_from_slice(b"MYRIGHTS ");
                write_mailbox(out, mailbox);
                out.push(b' ');
                write_astring(out, rights, LiteralMode::Sync);
            }
            Data::Quota { root, resources } => {
                out.extend_from_slice(b"QUOTA ");
                write_mailbox(out, root);
                out.extend_from_slice(b" (");
                for (n, r) in resources.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    out.extend_from_slice(r.name.as_str().as_bytes());
                    out.push(b' ');
                    write_num(out, r.usage);
                    out.push(b' ');
                    write_num(out, r.limit);
                }
                out.push(b')');
            }
            Data::QuotaRoot { mailbox, roots } => {
                out.extend_from_slice(b"QUOTAROOT ");
                write_mailbox(out, mailbox);
                for r in roots {
                    out.push(b' ');
                    write_mailbox(out, r);
                }
            }
            Data::Metadata { mailbox, entries } => {
                out.extend_from_slice(b"METADATA ");
                write_mailbox(out, mailbox);
                out.extend_from_slice(b" (");
                for (n, (e, v)) in entries.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    write_astring(out, e, LiteralMode::Sync);
                    out.push(b' ');
                    write_nstring(out, v.as_deref(), LiteralMode::Sync);
                }
                out.push(b')');
            }
            Data::MetadataChanged { mailbox, entries } => {
                out.extend_from_slice(b"METADATA ");
                write_mailbox(out, mailbox);
                for e in entries {
                    out.push(b' ');
                    write_astring(out, e, LiteralMode::Sync);
                }
            }
            Data::Other(o) => out.extend_from_slice(&o.0),
        }
    }
}

fn num_item(out: &mut Vec<u8>, name: &[u8], n: u64) {
    out.extend_from_slice(name);
    out.push(b' ');
    write_num(out, n);
}

fn num_suffix(out: &mut Vec<u8>, n: u32, suffix: &[u8]) {
    write_num(out, u64::from(n));
    out.extend_from_slice(suffix);
}
