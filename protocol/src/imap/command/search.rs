//! SEARCH criteria (RFC 3501 §6.4.4, plus CONDSTORE's MODSEQ and WITHIN's OLDER/YOUNGER).

use super::{excerpt, skip, upper, CommandBody, Cursor, Kind};
use crate::imap::syntax::{self, LiteralMode};
use crate::imap::types::{write_u64, Atom, Date, SequenceSet};

/// Which flavour of a per-flag mod-sequence a MODSEQ search key compares (RFC 7162).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModSeqEntryType {
    /// `priv`
    Private,
    /// `shared`
    Shared,
    /// `all`
    All,
}

/// One search key. Strings are kept as the client's bytes (in the search charset).
/// `And` must hold at least one key (the parser never builds an empty one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`
    All,
    /// `ANSWERED`
    Answered,
    /// `BCC string`
    Bcc(Vec<u8>),
    /// `BEFORE date`
    Before(Date),
    /// `BODY string`
    Body(Vec<u8>),
    /// `CC string`
    Cc(Vec<u8>),
    /// `DELETED`
    Deleted,
    /// `DRAFT`
    Draft,
    /// `FLAGGED`
    Flagged,
    /// `FROM string`
    From(Vec<u8>),
    /// `HEADER field-name string`
    Header(Vec<u8>, Vec<u8>),
    /// `KEYWORD flag`
    Keyword(Atom),
    /// `LARGER n`
    Larger(u64),
    /// `NEW`
    New,
    /// `NOT key`
    Not(Box<SearchKey>),
    /// `OLD`
    Old,
    /// `ON date`
    On(Date),
    /// `OR key key`
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT`
    Recent,
    /// `SEEN`
    Seen,
    /// `SENTBEFORE date`
    SentBefore(Date),
    /// `SENTON date`
    SentOn(Date),
    /// `SENTSINCE date`
    SentSince(Date),
    /// `SINCE date`
    Since(Date),
    /// `SMALLER n`
    Smaller(u64),
    /// `SUBJECT string`
    Subject(Vec<u8>),
    /// `TEXT string`
    Text(Vec<u8>),
    /// `TO string`
    To(Vec<u8>),
    /// `UID set`
    Uid(SequenceSet),
    /// `UNANSWERED`
    Unanswered,
    /// `UNDELETED`
    Undeleted,
    /// `UNDRAFT`
    Undraft,
    /// `UNFLAGGED`
    Unflagged,
    /// `UNKEYWORD flag`
    Unkeyword(Atom),
    /// `UNSEEN`
    Unseen,
    /// A bare sequence set (message numbers).
    SequenceSet(SequenceSet),
    /// `(key key ...)`
    And(Vec<SearchKey>),
    /// `MODSEQ ["/flags/name" type] n` (RFC 7162)
    ModSeq {
        /// The per-flag entry and which of its values, if given.
        entry: Option<(Vec<u8>, ModSeqEntryType)>,
        /// The mod-sequence.
        modseq: u64,
    },
    /// `OLDER seconds` (RFC 5032)
    Older(u32),
    /// `YOUNGER seconds` (RFC 5032)
    Younger(u32),
}

fn next_word_is(c: &Cursor<'_>, word: &str) -> bool {
    c.rest
        .get(..word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word.as_bytes()))
        && c.rest.get(word.len()) == Some(&b' ')
}

pub(super) fn search(c: &mut Cursor<'_>, uid: bool) -> Result<CommandBody, Kind> {
    c.sp()?;
    let mut returns = None;
    if next_word_is(c, "RETURN") {
        c.rest = skip(c.rest, "RETURN ".len());
        returns = Some(c.paren_list0("return options", |c| c.atom_owned("return option"))?);
        c.sp()?;
    }
    let mut charset = None;
    if next_word_is(c, "CHARSET") {
        c.rest = skip(c.rest, "CHARSET ".len());
        charset = Some(c.astring("charset")?);
        c.sp()?;
    }
    let mut criteria = vec![key(c, 1)?];
    while c.more() {
        criteria.push(key(c, 1)?);
    }
    Ok(CommandBody::Search {
        uid,
        returns,
        charset,
        criteria,
    })
}

fn date(c: &mut Cursor<'_>) -> Result<Date, Kind> {
    c.sp()?;
    match Date::parse(c.rest) {
        Ok((r, d)) if matches!(r.first(), None | Some(b' ' | b')' | b'\r' | b'\n')) => {
            c.rest = r;
            Ok(d)
        }
        _ => Err(c.bad("date")),
    }
}

fn string(c: &mut Cursor<'_>) -> Result<Vec<u8>, Kind> {
    c.sp()?;
    c.astring("search string")
}

fn key(c: &mut Cursor<'_>, depth: usize) -> Result<SearchKey, Kind> {
    use SearchKey as K;
    if depth > c.limits.max_depth {
        return Err(Kind::TooDeep(c.limits.max_depth));
    }
    if c.eat(b'(') {
        let mut keys = vec![key(c, depth + 1)?];
        loop {
            if c.eat(b')') {
                return Ok(K::And(keys));
            }
            c.sp()?;
            keys.push(key(c, depth + 1)?);
        }
    }
    if matches!(c.rest.first(), Some(b'0'..=b'9' | b'*')) {
        return Ok(K::SequenceSet(c.seq_set()?));
    }
    let start = c.rest;
    let Ok(word) = c.atom("search key") else {
        return Err(if c.at_eol() {
            Kind::MissingArgument(c.cmd)
        } else {
            Kind::InvalidSearchKey(excerpt(start))
        });
    };
    let unknown = || Kind::InvalidSearchKey(excerpt(start));
    let Some((buf, len)) = upper::<16>(word) else {
        return Err(unknown());
    };
    Ok(match buf.get(..len).unwrap_or_default() {
        b"ALL" => K::All,
        b"ANSWERED" => K::Answered,
        b"DELETED" => K::Deleted,
        b"DRAFT" => K::Draft,
        b"FLAGGED" => K::Flagged,
        b"NEW" => K::New,
        b"OLD" => K::Old,
        b"RECENT" => K::Recent,
        b"SEEN" => K::Seen,
        b"UNANSWERED" => K::Unanswered,
        b"UNDELETED" => K::Undeleted,
        b"UNDRAFT" => K::Undraft,
        b"UNFLAGGED" => K::Unflagged,
        b"UNSEEN" => K::Unseen,
        b"BCC" => K::Bcc(string(c)?),
        b"BODY" => K::Body(string(c)?),
        b"CC" => K::Cc(string(c)?),
        b"FROM" => K::From(string(c)?),
        b"SUBJECT" => K::Subject(string(c)?),
        b"TEXT" => K::Text(string(c)?),
        b"TO" => K::To(string(c)?),
        b"HEADER" => {
            c.sp()?;
            let name = c.astring("header name")?;
            K::Header(name, string(c)?)
        }
        b"BEFORE" => K::Before(date(c)?),
        b"ON" => K::On(date(c)?),
        b"SINCE" => K::Since(date(c)?),
        b"SENTBEFORE" => K::SentBefore(date(c)?),
        b"SENTON" => K::SentOn(date(c)?),
        b"SENTSINCE" => K::SentSince(date(c)?),
        b"KEYWORD" | b"UNKEYWORD" => {
            c.sp()?;
            let a = c.atom_owned("keyword")?;
            if buf.starts_with(b"UN") {
                K::Unkeyword(a)
            } else {
                K::Keyword(a)
            }
        }
        b"LARGER" | b"SMALLER" => {
            c.sp()?;
            let n = c.number64("size")?;
            if buf.starts_with(b"L") {
                K::Larger(n)
            } else {
                K::Smaller(n)
            }
        }
        b"OLDER" | b"YOUNGER" => {
            c.sp()?;
            let n = c.number64("interval")?;
            let n = u32::try_from(n).map_err(|_| c.bad("interval"))?;
            if buf.starts_with(b"O") {
                K::Older(n)
            } else {
                K::Younger(n)
            }
        }
        b"UID" => {
            c.sp()?;
            K::Uid(c.seq_set()?)
        }
        b"NOT" => {
            c.sp()?;
            K::Not(Box::new(key(c, depth + 1)?))
        }
        b"OR" => {
            c.sp()?;
            let a = key(c, depth + 1)?;
            c.sp()?;
            let b = key(c, depth + 1)?;
            K::Or(Box::new(a), Box::new(b))
        }
        b"MODSEQ" => {
            c.sp()?;
            let entry = if c.peek(b'"') || c.peek(b'{') {
                let name = c.string("entry name")?;
                c.sp()?;
                let t = c.atom("entry type")?;
                let t = if t.eq_ignore_ascii_case(b"priv") {
                    ModSeqEntryType::Private
                } else if t.eq_ignore_ascii_case(b"shared") {
                    ModSeqEntryType::Shared
                } else if t.eq_ignore_ascii_case(b"all") {
                    ModSeqEntryType::All
                } else {
                    return Err(c.bad("entry type"));
                };
                c.sp()?;
                Some((name, t))
            } else {
                None
            };
            let modseq = c.number64("mod-sequence")?;
            K::ModSeq { entry, modseq }
        }
        _ => return Err(unknown()),
    })
}

impl SearchKey {
    /// Writes the key; strings as astrings, literals in `mode`.
    pub fn write(&self, out: &mut Vec<u8>, mode: LiteralMode) {
        use SearchKey as K;
        let word = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
        let with_string = |out: &mut Vec<u8>, name: &str, s: &[u8]| {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            syntax::write_astring(out, s, mode);
        };
        let with_date = |out: &mut Vec<u8>, name: &str, d: Date| {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            d.write(out);
        };
        let with_num = |out: &mut Vec<u8>, name: &str, n: u64| {
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            write_u64(out, n);
        };
        match self {
            K::All => word(out, "ALL"),
            K::Answered => word(out, "ANSWERED"),
            K::Deleted => word(out, "DELETED"),
            K::Draft => word(out, "DRAFT"),
            K::Flagged => word(out, "FLAGGED"),
            K::New => word(out, "NEW"),
            K::Old => word(out, "OLD"),
            K::Recent => word(out, "RECENT"),
            K::Seen => word(out, "SEEN"),
            K::Unanswered => word(out, "UNANSWERED"),
            K::Undeleted => word(out, "UNDELETED"),
            K::Undraft => word(out, "UNDRAFT"),
            K::Unflagged => word(out, "UNFLAGGED"),
            K::Unseen => word(out, "UNSEEN"),
            K::Bcc(s) => with_string(out, "BCC", s),
            K::Body(s) => with_string(out, "BODY", s),
            K::Cc(s) => with_string(out, "CC", s),
            K::From(s) => with_string(out, "FROM", s),
            K::Subject(s) => with_string(out, "SUBJECT", s),
            K::Text(s) => with_string(out, "TEXT", s),
            K::To(s) => with_string(out, "TO", s),
            K::Header(n, s) => {
                with_string(out, "HEADER", n);
                out.push(b' ');
                syntax::write_astring(out, s, mode);
            }
            K::Before(d) => with_date(out, "BEFORE", *d),
            K::On(d) => with_date(out, "ON", *d),
            K::Since(d) => with_date(out, "SINCE", *d),
            K::SentBefore(d) => with_date(out, "SENTBEFORE", *d),
            K::SentOn(d) => with_date(out, "SENTON", *d),
            K::SentSince(d) => with_date(out, "SENTSINCE", *d),
            K::Keyword(a) => {
                word(out, "KEYWORD ");
                word(out, a.as_str());
            }
            K::Unkeyword(a) => {
                word(out, "UNKEYWORD ");
                word(out, a.as_str());
            }
            K::Larger(n) => with_num(out, "LARGER", *n),
            K::Smaller(n) => with_num(out, "SMALLER", *n),
            K::Older(n) => with_num(out, "OLDER", u64::from(*n)),
            K::Younger(n) => with_num(out, "YOUNGER", u64::from(*n)),
            K::Uid(s) => {
                word(out, "UID ");
                s.write(out);
            }
            K::SequenceSet(s) => s.write(out),
            K::Not(k) => {
                word(out, "NOT ");
                k.write(out, mode);
            }
            K::Or(a, b) => {
                word(out, "OR ");
                a.write(out, mode);
                out.push(b' ');
                b.write(out, mode);
            }
            K::And(keys) => {
                out.push(b'(');
                for (n, k) in keys.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    k.write(out, mode);
                }
                out.push(b')');
            }
            K::ModSeq { entry, modseq } => {
                word(out, "MODSEQ ");
                if let Some((name, t)) = entry {
                    syntax::write_string(out, name, mode);
                    word(
                        out,
                        match t {
                            ModSeqEntryType::Private => " priv ",
                            ModSeqEntryType::Shared => " shared ",
                            ModSeqEntryType::All => " all ",
                        },
                    );
                }
                write_u64(out, *modseq);
            }
        }
    }
}
