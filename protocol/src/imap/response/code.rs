//! Response codes: the bracketed `[CODE args]` at the start of a status response's text
//! (RFC 3501 §7.1, RFC 5530, RFC 4315, RFC 7162, RFC 2193, RFC 5464, RFC 8474).

use super::lex::{self, keyword, write_num, PResult};
use super::{CodeArg, ReferralUrl};
use crate::imap::syntax::{self, number, number64, sp, write_astring, LiteralMode};
use crate::imap::types::{Atom, Flag, SequenceSet};

/// One entry of `PERMANENTFLAGS`: a flag, or `\*` (new keywords may be created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermanentFlag {
    /// A flag that can be changed permanently.
    Flag(Flag),
    /// `\*`: clients may create keywords.
    Wildcard,
}

/// The `METADATA` response code (RFC 5464 §4.2.1, §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataCode {
    /// `LONGENTRIES n`: entries larger than the client's MAXSIZE were left out; `n` is the
    /// largest size.
    LongEntries(u32),
    /// `MAXSIZE n`: the value is larger than the server accepts.
    MaxSize(u32),
    /// `TOOMANY`: too many annotations on the mailbox.
    TooMany,
    /// `NOPRIVATE`: private annotations are not supported.
    NoPrivate,
}

/// A response code. Unknown codes are kept as [`Code::Other`] so they can be relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// `ALERT`: show the text to the user.
    Alert,
    /// `BADCHARSET` with the supported charsets, if listed.
    BadCharset(Vec<Vec<u8>>),
    /// `CAPABILITY` list, in the order sent.
    Capability(Vec<Atom>),
    /// `PARSE`: a message's headers could not be parsed.
    Parse,
    /// `PERMANENTFLAGS (...)`.
    PermanentFlags(Vec<PermanentFlag>),
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`: the target mailbox does not exist but could be created.
    TryCreate,
    /// `UIDNEXT n`.
    UidNext(u32),
    /// `UIDVALIDITY n`.
    UidValidity(u32),
    /// `UNSEEN n`: the first unseen message.
    Unseen(u32),
    /// `HIGHESTMODSEQ n` (CONDSTORE).
    HighestModSeq(u64),
    /// `NOMODSEQ` (CONDSTORE).
    NoModSeq,
    /// `APPENDUID uidvalidity uids` (UIDPLUS).
    AppendUid {
        /// UIDVALIDITY of the target mailbox.
        uidvalidity: u32,
        /// UIDs given to the appended messages.
        uids: SequenceSet,
    },
    /// `COPYUID uidvalidity source destination` (UIDPLUS).
    CopyUid {
        /// UIDVALIDITY of the target mailbox.
        uidvalidity: u32,
        /// Source UIDs.
        source: SequenceSet,
        /// Destination UIDs, in the same order.
        destination: SequenceSet,
    },
    /// `REFERRAL url...` (RFC 2193, RFC 2221): try the command at these IMAP URLs, e.g.
    /// `imap://;AUTH=*@backend1/user.bob`.
    Referral(Vec<ReferralUrl>),
    /// `UNAVAILABLE` (RFC 5530): a temporary failure.
    Unavailable,
    /// `AUTHENTICATIONFAILED`.
    AuthenticationFailed,
    /// `AUTHORIZATIONFAILED`.
    AuthorizationFailed,
    /// `EXPIRED`.
    Expired,
    /// `PRIVACYREQUIRED`.
    PrivacyRequired,
    /// `CONTACTADMIN`.
    ContactAdmin,
    /// `NOPERM`.
    NoPerm,
    /// `INUSE`.
    InUse,
    /// `EXPUNGEISSUED`.
    ExpungeIssued,
    /// `CORRUPTION`.
    Corruption,
    /// `SERVERBUG`.
    ServerBug,
    /// `CLIENTBUG`.
    ClientBug,
    /// `CANNOT`.
    Cannot,
    /// `LIMIT`.
    Limit,
    /// `OVERQUOTA`.
    OverQuota,
    /// `ALREADYEXISTS`.
    AlreadyExists,
    /// `NONEXISTENT`.
    NonExistent,
    /// `CLOSED` (QRESYNC / RFC 9051): the previous mailbox was closed.
    Closed,
    /// `UNKNOWN-CTE` (BINARY).
    UnknownCte,
    /// `METADATA ...` (RFC 5464).
    Metadata(MetadataCode),
    /// `MAILBOXID (id)` (RFC 8474), which Cyrus sends after SELECT and CREATE.
    MailboxId(Atom),
    /// Any other code, with its arguments verbatim (e.g. `URLMECH INTERNAL`, `ANNOTATIONS
    /// 65536`).
    Other {
        /// The code name as sent.
        name: Atom,
        /// Everything after the name and a space, up to `]`.
        raw: Option<CodeArg>,
    },
}

/// Codes without arguments, with their canonical names.
const BARE: [(&str, Code); 25] = [
    ("ALERT", Code::Alert),
    ("PARSE", Code::Parse),
    ("READ-ONLY", Code::ReadOnly),
    ("READ-WRITE", Code::ReadWrite),
    ("TRYCREATE", Code::TryCreate),
    ("NOMODSEQ", Code::NoModSeq),
    ("UNAVAILABLE", Code::Unavailable),
    ("AUTHENTICATIONFAILED", Code::AuthenticationFailed),
    ("AUTHORIZATIONFAILED", Code::AuthorizationFailed),
    ("EXPIRED", Code::Expired),
    ("PRIVACYREQUIRED", Code::PrivacyRequired),
    ("CONTACTADMIN", Code::ContactAdmin),
    ("NOPERM", Code::NoPerm),
    ("INUSE", Code::InUse),
    ("EXPUNGEISSUED", Code::ExpungeIssued),
    ("CORRUPTION", Code::Corruption),
    ("SERVERBUG", Code::ServerBug),
    ("CLIENTBUG", Code::ClientBug),
    ("CANNOT", Code::Cannot),
    ("LIMIT", Code::Limit),
    ("OVERQUOTA", Code::OverQuota),
    ("ALREADYEXISTS", Code::AlreadyExists),
    ("NONEXISTENT", Code::NonExistent),
    ("CLOSED", Code::Closed),
    ("UNKNOWN-CTE", Code::UnknownCte),
];

fn permanent_flag(i: &[u8]) -> PResult<'_, PermanentFlag> {
    if let Some(rest) = i.strip_prefix(b"\\*") {
        return Ok((rest, PermanentFlag::Wildcard));
    }
    Flag::parse(i).map(|(r, f)| (r, PermanentFlag::Flag(f)))
}

fn capabilities(i: &[u8]) -> PResult<'_, Vec<Atom>> {
    let mut out = Vec::new();
    let mut i = i;
    loop {
        let (rest, a) = Atom::parse(i)?;
        out.push(a);
        match rest.strip_prefix(b" ") {
            Some(r) if r.first().is_some_and(|&b| syntax::is_atom_char(b)) => i = r,
            _ => return Ok((rest, out)),
        }
    }
}

/// Parses the capability names of `* CAPABILITY` data and the `CAPABILITY` code.
pub(super) fn capability_list(i: &[u8]) -> PResult<'_, Vec<Atom>> {
    capabilities(i)
}

fn referral_url(i: &[u8]) -> PResult<'_, ReferralUrl> {
    let end = i
        .iter()
        .position(|&b| b == b' ' || b == b']' || b < 0x20 || b == 0x7f)
        .unwrap_or(i.len());
    match ReferralUrl::new(&i[..end]) {
        Ok(u) => Ok((&i[end..], u)),
        Err(_) => lex::fail(i),
    }
}

/// Parses a code with its arguments, between `[` and `]` (both excluded); `i` ends before `]`
/// on success.
pub(super) fn code(i: &[u8]) -> PResult<'_, Code> {
    let (after_name, name) = syntax::atom(i)?;
    let upper = name.to_ascii_uppercase();
    let known = parse_known(&upper, after_name);
    if let Ok((rest, c)) = known {
        if rest.first() == Some(&b']') {
            return Ok((rest, c));
        }
    }
    // Unknown, or known but malformed: keep it verbatim rather than refuse the whole response,
    // since the text that follows is still meaningful to a person.
    let Ok(name) = Atom::new(name) else {
        return lex::fail(i);
    };
    let end = memchr::memchr(b']', after_name).unwrap_or(after_name.len());
    let args = &after_name[..end];
    let raw = match args.strip_prefix(b" ") {
        Some(a) => match CodeArg::new(a) {
            Ok(a) => Some(a),
            Err(_) => return lex::fail(i),
        },
        None if args.is_empty() => None,
        None => return lex::fail(i),
    };
    Ok((&after_name[end..], Code::Other { name, raw }))
}

fn parse_known<'a>(name: &[u8], i: &'a [u8]) -> PResult<'a, Code> {
    match name {
        b"CAPABILITY" => {
            let (i, _) = sp(i)?;
            let (i, caps) = capabilities(i)?;
            Ok((i, Code::Capability(caps)))
        }
        b"BADCHARSET" => match sp(i) {
            Ok((i, _)) => {
                let (i, l) = lex::paren_list(i, lex::astring)?;
                Ok((i, Code::BadCharset(l)))
            }
            Err(_) => Ok((i, Code::BadCharset(Vec::new()))),
        },
        b"PERMANENTFLAGS" => {
            let (i, _) = sp(i)?;
            let (i, l) = lex::paren_list(i, permanent_flag)?;
            Ok((i, Code::PermanentFlags(l)))
        }
        b"UIDNEXT" | b"UIDVALIDITY" | b"UNSEEN" => {
            let (i, _) = sp(i)?;
            let (i, n) = number(i)?;
            Ok((
                i,
                match name {
                    b"UIDNEXT" => Code::UidNext(n),
                    b"UIDVALIDITY" => Code::UidValidity(n),
                    _ => Code::Unseen(n),
                },
            ))
        }
        b"HIGHESTMODSEQ" => {
            let (i, _) = sp(i)?;
            let (i, n) = number64(i)?;
            Ok((i, Code::HighestModSeq(n)))
        }
        b"APPENDUID" => {
            let (i, _) = sp(i)?;
            let (i, uidvalidity) = number(i)?;
            let (i, _) = sp(i)?;
            let (i, uids) = SequenceSet::parse(i)?;
            Ok((i, Code::AppendUid { uidvalidity, uids }))
        }
        b"COPYUID" => {
            let (i, _) = sp(i)?;
            let (i, uidvalidity) = number(i)?;
            let (i, _) = sp(i)?;
            let (i, source) = SequenceSet::parse(i)?;
            let (i, _) = sp(i)?;
            let (i, destination) = SequenceSet::parse(i)?;
            Ok((
                i,
                Code::CopyUid {
                    uidvalidity,
                    source,
                    destination,
                },
            ))
        }
        b"REFERRAL" => {
            let mut urls = Vec::new();
            let mut i = i;
            while let Ok((rest, _)) = sp(i) {
                let (rest, u) = referral_url(rest)?;
                urls.push(u);
                i = rest;
            }
            if urls.is_empty() {
                return lex::fail(i);
            }
            Ok((i, Code::Referral(urls)))
        }
        b"METADATA" => {
            let (i, _) = sp(i)?;
            if let Some(r) = keyword(i, b"LONGENTRIES") {
                let (r, _) = sp(r)?;
                let (r, n) = number(r)?;
                Ok((r, Code::Metadata(MetadataCode::LongEntries(n))))
            } else if let Some(r) = keyword(i, b"MAXSIZE") {
                let (r, _) = sp(r)?;
                let (r, n) = number(r)?;
                Ok((r, Code::Metadata(MetadataCode::MaxSize(n))))
            } else if let Some(r) = keyword(i, b"TOOMANY") {
                Ok((r, Code::Metadata(MetadataCode::TooMany)))
            } else if let Some(r) = keyword(i, b"NOPRIVATE") {
                Ok((r, Code::Metadata(MetadataCode::NoPrivate)))
            } else {
                lex::fail(i)
            }
        }
        b"MAILBOXID" => {
            let (i, _) = sp(i)?;
            let i = lex::byte(i, b'(')?;
            let (i, id) = Atom::parse(i)?;
            let i = lex::byte(i, b')')?;
            Ok((i, Code::MailboxId(id)))
        }
        _ => {
            for (n, c) in &BARE {
                if n.as_bytes() == name {
                    return Ok((i, c.clone()));
                }
            }
            lex::fail(i)
        }
    }
}

impl Code {
    /// Writes the code without brackets.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Code::BadCharset(l) => {
                out.extend_from_slice(b"BADCHARSET");
                if !l.is_empty() {
                    out.extend_from_slice(b" (");
                    for (n, c) in l.iter().enumerate() {
                        if n > 0 {
                            out.push(b' ');
                        }
                        write_astring(out, c, LiteralMode::Sync);
                    }
                    out.push(b')');
                }
            }
            Code::Capability(caps) => {
                out.extend_from_slice(b"CAPABILITY");
                for c in caps {
                    out.push(b' ');
                    out.extend_from_slice(c.as_str().as_bytes());
                }
            }
            Code::PermanentFlags(l) => {
                out.extend_from_slice(b"PERMANENTFLAGS (");
                for (n, f) in l.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    match f {
                        PermanentFlag::Flag(f) => f.write(out),
                        PermanentFlag::Wildcard => out.extend_from_slice(b"\\*"),
                    }
                }
                out.push(b')');
            }
            Code::UidNext(n) => num_code(out, b"UIDNEXT", u64::from(*n)),
            Code::UidValidity(n) => num_code(out, b"UIDVALIDITY", u64::from(*n)),
            Code::Unseen(n) => num_code(out, b"UNSEEN", u64::from(*n)),
            Code::HighestModSeq(n) => num_code(out, b"HIGHESTMODSEQ", *n),
            Code::AppendUid { uidvalidity, uids } => {
                num_code(out, b"APPENDUID", u64::from(*uidvalidity));
                out.push(b' ');
                uids.write(out);
            }
            Code::CopyUid {
                uidvalidity,
                source,
                destination,
            } => {
                num_code(out, b"COPYUID", u64::from(*uidvalidity));
                out.push(b' ');
                source.write(out);
                out.push(b' ');
                destination.write(out);
            }
            Code::Referral(urls) => {
                out.extend_from_slice(b"REFERRAL");
                for u in urls {
                    out.push(b' ');
                    out.extend_from_slice(u.as_bytes());
                }
            }
            Code::Metadata(m) => {
                out.extend_from_slice(b"METADATA ");
                match m {
                    MetadataCode::LongEntries(n) => num_code(out, b"LONGENTRIES", u64::from(*n)),
                    MetadataCode::MaxSize(n) => num_code(out, b"MAXSIZE", u64::from(*n)),
                    MetadataCode::TooMany => out.extend_from_slice(b"TOOMANY"),
                    MetadataCode::NoPrivate => out.extend_from_slice(b"NOPRIVATE"),
                }
            }
            Code::MailboxId(id) => {
                out.extend_from_slice(b"MAILBOXID (");
                out.extend_from_slice(id.as_str().as_bytes());
                out.push(b')');
            }
            Code::Other { name, raw } => {
                out.extend_from_slice(name.as_str().as_bytes());
                if let Some(raw) = raw {
                    out.push(b' ');
                    out.extend_from_slice(raw.as_bytes());
                }
            }
            bare => {
                if let Some((n, _)) = BARE.iter().find(|(_, c)| c == bare) {
                    out.extend_from_slice(n.as_bytes());
                }
            }
        }
    }
}

fn num_code(out: &mut Vec<u8>, name: &[u8], n: u64) {
    out.extend_from_slice(name);
    out.push(b' ');
    write_num(out, n);
}
