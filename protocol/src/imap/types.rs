//! Small IMAP value types shared by client commands and server responses: tags, atoms, flags,
//! sequence sets, dates and date-times, STATUS items and FETCH request items (with body
//! sections).
//!
//! Each type is validated on construction (an invalid value cannot be built), has a nom parser
//! (`parse`, over a whole framed message as [`super::syntax`] does) and an encoder (`write`)
//! whose output parses back to the same value.
//!
//! ```
//! use protocol::imap::types::{Flag, SequenceSet, DateTime};
//!
//! let (_, set) = SequenceSet::parse(b"1:4,7,9:*").unwrap();
//! assert!(set.contains(3, 20) && set.contains(15, 20) && !set.contains(5, 20));
//!
//! let (_, flag) = Flag::parse(b"\\seen").unwrap();
//! assert_eq!(flag, Flag::Seen);
//!
//! let (_, dt) = DateTime::parse(b"\"17-Jul-1996 02:44:25 -0700\"").unwrap();
//! let mut out = Vec::new();
//! dt.write(&mut out);
//! assert_eq!(out, b"\"17-Jul-1996 02:44:25 -0700\"");
//! ```

use std::fmt;
use std::num::NonZeroU32;

use nom::error::{Error, ErrorKind};

use super::syntax::{self, is_atom_char, is_tag_char, PResult};

fn fail<T>(i: &[u8], kind: ErrorKind) -> PResult<'_, T> {
    Err(nom::Err::Error(Error::new(i, kind)))
}

/// Why a value could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    /// A tag must be one or more tag characters (astring chars other than `+`).
    #[error("invalid tag")]
    InvalidTag,
    /// An atom must be one or more atom characters.
    #[error("invalid atom")]
    InvalidAtom,
    /// A sequence set must hold at least one range.
    #[error("empty sequence set")]
    EmptySequenceSet,
    /// A date outside the calendar (day 31 of a 30-day month, year 0, ...).
    #[error("invalid date")]
    InvalidDate,
    /// A time or zone out of range.
    #[error("invalid time")]
    InvalidTime,
    /// A section whose parts are inconsistent (MIME without a part number, an empty header list).
    #[error("invalid section")]
    InvalidSection,
}

/// A command tag: one or more tag characters. The server echoes it in the tagged completion.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Checks and wraps a tag.
    pub fn new(s: impl AsRef<[u8]>) -> Result<Tag, TypeError> {
        let s = s.as_ref();
        if s.is_empty() || !s.iter().all(|&b| is_tag_char(b)) {
            return Err(TypeError::InvalidTag);
        }
        // Tag characters are ASCII, so this cannot fail; the error path keeps it panic-free.
        String::from_utf8(s.to_vec())
            .map(Tag)
            .map_err(|_| TypeError::InvalidTag)
    }

    /// Parses a tag at the start of `i`.
    pub fn parse(i: &[u8]) -> PResult<'_, Tag> {
        let (rest, t) = syntax::tag_token(i)?;
        match Tag::new(t) {
            Ok(t) => Ok((rest, t)),
            Err(_) => fail(i, ErrorKind::Verify),
        }
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.0)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An atom: one or more atom characters (keywords, capability names, SASL mechanisms, quota
/// resources). Case is kept as sent; compare with [`Atom::eq_ignore_case`] where IMAP says so.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom(String);

impl Atom {
    /// Checks and wraps an atom.
    pub fn new(s: impl AsRef<[u8]>) -> Result<Atom, TypeError> {
        let s = s.as_ref();
        if s.is_empty() || !s.iter().all(|&b| is_atom_char(b)) {
            return Err(TypeError::InvalidAtom);
        }
        String::from_utf8(s.to_vec())
            .map(Atom)
            .map_err(|_| TypeError::InvalidAtom)
    }

    /// Parses an atom at the start of `i`.
    pub fn parse(i: &[u8]) -> PResult<'_, Atom> {
        let (rest, a) = syntax::atom(i)?;
        match Atom::new(a) {
            Ok(a) => Ok((rest, a)),
            Err(_) => fail(i, ErrorKind::Verify),
        }
    }

    /// The atom text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// ASCII case-insensitive comparison.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Debug for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Atom({})", self.0)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message flag (RFC 3501 §2.3.2, RFC 9051): a system flag, a keyword, or a `\`-extension.
///
/// System flags compare case-insensitively on the wire and are normalised on parse; keywords
/// keep their case. Mailbox attributes such as `\Sent` (CREATE's `USE`) also fit as
/// [`Flag::Extension`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// `\Recent` (session flag; clients may not set it, but it appears in FETCH and SEARCH).
    Recent,
    /// A keyword such as `$Forwarded` or `NonJunk`.
    Keyword(Atom),
    /// Any other `\Name`; the atom is stored without the backslash.
    Extension(Atom),
}

impl Flag {
    /// Parses a flag. A system name in any case becomes the system variant.
    pub fn parse(i: &[u8]) -> PResult<'_, Flag> {
        let (body, slash) = match i.strip_prefix(b"\\") {
            Some(b) => (b, true),
            None => (i, false),
        };
        let (rest, a) = syntax::atom(body)?;
        if !slash {
            return Atom::new(a)
                .map(|a| (rest, Flag::Keyword(a)))
                .or_else(|_| fail(i, ErrorKind::Verify));
        }
        let sys = [
            ("SEEN", Flag::Seen),
            ("ANSWERED", Flag::Answered),
            ("FLAGGED", Flag::Flagged),
            ("DELETED", Flag::Deleted),
            ("DRAFT", Flag::Draft),
            ("RECENT", Flag::Recent),
        ];
        for (name, f) in sys {
            if a.eq_ignore_ascii_case(name.as_bytes()) {
                return Ok((rest, f));
            }
        }
        Atom::new(a)
            .map(|a| (rest, Flag::Extension(a)))
            .or_else(|_| fail(i, ErrorKind::Verify))
    }

    /// Writes the flag in its canonical spelling.
    pub fn write(&self, out: &mut Vec<u8>) {
        let s: &str = match self {
            Flag::Seen => "\\Seen",
            Flag::Answered => "\\Answered",
            Flag::Flagged => "\\Flagged",
            Flag::Deleted => "\\Deleted",
            Flag::Draft => "\\Draft",
            Flag::Recent => "\\Recent",
            Flag::Keyword(a) => a.as_str(),
            Flag::Extension(a) => {
                out.push(b'\\');
                a.as_str()
            }
        };
        out.extend_from_slice(s.as_bytes());
    }

    /// Parses `(flag *(SP flag))` or `()`.
    pub fn parse_list(i: &[u8]) -> PResult<'_, Vec<Flag>> {
        let Some(mut rest) = i.strip_prefix(b"(") else {
            return fail(i, ErrorKind::Char);
        };
        let mut flags = Vec::new();
        if let Some(r) = rest.strip_prefix(b")") {
            return Ok((r, flags));
        }
        loop {
            let (r, f) = Flag::parse(rest)?;
            flags.push(f);
            if let Some(r) = r.strip_prefix(b")") {
                return Ok((r, flags));
            }
            let (r, _) = syntax::sp(r)?;
            rest = r;
        }
    }

    /// Writes `(flag flag ...)`.
    pub fn write_list(out: &mut Vec<u8>, flags: &[Flag]) {
        out.push(b'(');
        for (n, f) in flags.iter().enumerate() {
            if n > 0 {
                out.push(b' ');
            }
            f.write(out);
        }
        out.push(b')');
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::new();
        self.write(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

/// One end of a sequence range: a message number or UID, or `*` (the largest in the mailbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNo {
    /// A non-zero number.
    Value(NonZeroU32),
    /// `*`
    Largest,
}

impl SeqNo {
    /// The number this stands for, given the largest number in use.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNo::Value(v) => v.get(),
            SeqNo::Largest => largest,
        }
    }

    fn parse(i: &[u8]) -> PResult<'_, SeqNo> {
        if let Some(rest) = i.strip_prefix(b"*") {
            return Ok((rest, SeqNo::Largest));
        }
        let (rest, n) = syntax::nz_number(i)?;
        match NonZeroU32::new(n) {
            Some(n) => Ok((rest, SeqNo::Value(n))),
            None => fail(i, ErrorKind::Verify),
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        match self {
            SeqNo::Value(v) => write_u64(out, u64::from(v.get())),
            SeqNo::Largest => out.push(b'*'),
        }
    }
}

/// One element of a sequence set: a single number or an inclusive range (either order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqRange {
    /// `n` or `*`
    Single(SeqNo),
    /// `a:b`; `b` may be below `a`, which means the same range.
    Range(SeqNo, SeqNo),
}

impl SeqRange {
    /// Whether `n` falls in this element, given the largest number in use.
    pub fn contains(self, n: u32, largest: u32) -> bool {
        match self {
            SeqRange::Single(s) => s.resolve(largest) == n,
            SeqRange::Range(a, b) => {
                let (a, b) = (a.resolve(largest), b.resolve(largest));
                a.min(b) <= n && n <= a.max(b)
            }
        }
    }
}

/// A sequence set (`1:4,7,9:*`): one or more [`SeqRange`]s, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(Vec<SeqRange>);

impl SequenceSet {
    /// A set from its elements; at least one.
    pub fn new(ranges: Vec<SeqRange>) -> Result<SequenceSet, TypeError> {
        if ranges.is_empty() {
            return Err(TypeError::EmptySequenceSet);
        }
        Ok(SequenceSet(ranges))
    }

    /// A set holding one number, `n` must be non-zero.
    pub fn single(n: NonZeroU32) -> SequenceSet {
        SequenceSet(vec![SeqRange::Single(SeqNo::Value(n))])
    }

    /// The elements.
    pub fn ranges(&self) -> &[SeqRange] {
        &self.0
    }

    /// Whether `n` is in the set, given the largest number in use (what `*` means).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|r| r.contains(n, largest))
    }

    /// Parses a sequence set.
    pub fn parse(i: &[u8]) -> PResult<'_, SequenceSet> {
        let mut ranges = Vec::new();
        let mut rest = i;
        loop {
            let (r, a) = SeqNo::parse(rest)?;
            let (r, range) = match r.strip_prefix(b":") {
                Some(r2) => {
                    let (r2, b) = SeqNo::parse(r2)?;
                    (r2, SeqRange::Range(a, b))
                }
                None => (r, SeqRange::Single(a)),
            };
            ranges.push(range);
            match r.strip_prefix(b",") {
                Some(r2) => rest = r2,
                None => return Ok((r, SequenceSet(ranges))),
            }
        }
    }

    /// Writes the set as sent.
    pub fn write(&self, out: &mut Vec<u8>) {
        for (n, r) in self.0.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            match *r {
                SeqRange::Single(s) => s.write(out),
                SeqRange::Range(a, b) => {
                    a.write(out);
                    out.push(b':');
                    b.write(out);
                }
            }
        }
    }
}

/// Writes a decimal number without allocating.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

// `is_multiple_of` is newer than the workspace's rust-version (1.85).
#[allow(clippy::manual_is_multiple_of)]
fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// A calendar date as IMAP writes it (`1-Feb-1994`): SEARCH BEFORE/ON/SINCE and the date part
/// of a date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// A checked date; the year has four digits (1..=9999).
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date, TypeError> {
        if !(1..=9999).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return Err(TypeError::InvalidDate);
        }
        Ok(Date { year, month, day })
    }

    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }
    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// The day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }

    /// `date-text` (`d-Mon-yyyy` or `dd-Mon-yyyy`) or the same in double quotes.
    pub fn parse(i: &[u8]) -> PResult<'_, Date> {
        if let Some(inner) = i.strip_prefix(b"\"") {
            let (rest, d) = Date::parse_text(inner, false)?;
            return match rest.strip_prefix(b"\"") {
                Some(rest) => Ok((rest, d)),
                None => fail(i, ErrorKind::Char),
            };
        }
        Date::parse_text(i, false)
    }

    /// The unquoted form; `fixed` allows a space-padded day (date-time's `date-day-fixed`).
    fn parse_text(i: &[u8], fixed: bool) -> PResult<'_, Date> {
        let (rest, day) = match i {
            [b' ', d, rest @ ..] if fixed && d.is_ascii_digit() => (rest, d - b'0'),
            [a, b, rest @ ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
                (rest, (a - b'0') * 10 + (b - b'0'))
            }
            [a, rest @ ..] if !fixed && a.is_ascii_digit() => (rest, a - b'0'),
            _ => return fail(i, ErrorKind::Digit),
        };
        let [b'-', m1, m2, m3, b'-', y1, y2, y3, y4, rest @ ..] = rest else {
            return fail(i, ErrorKind::Char);
        };
        let Some(month) = MONTHS
            .iter()
            .position(|m| m.as_bytes().eq_ignore_ascii_case(&[*m1, *m2, *m3]))
        else {
            return fail(i, ErrorKind::Tag);
        };
        let mut year: u16 = 0;
        for d in [y1, y2, y3, y4] {
            if !d.is_ascii_digit() {
                return fail(i, ErrorKind::Digit);
            }
            year = year * 10 + u16::from(d - b'0');
        }
        match Date::new(year, month as u8 + 1, day) {
            Ok(d) => Ok((rest, d)),
            Err(_) => fail(i, ErrorKind::Verify),
        }
    }

    /// Writes `d-Mon-yyyy` (unquoted, no padding), as SEARCH arguments are sent.
    pub fn write(self, out: &mut Vec<u8>) {
        write_u64(out, u64::from(self.day));
        out.push(b'-');
        out.extend_from_slice(self.month_name().as_bytes());
        out.push(b'-');
        write_4(out, self.year);
    }

    fn month_name(self) -> &'static str {
        MONTHS
            .get(usize::from(self.month).wrapping_sub(1))
            .copied()
            .unwrap_or("Jan")
    }
}

fn write_2(out: &mut Vec<u8>, n: u8) {
    out.push(b'0' + (n / 10) % 10);
    out.push(b'0' + n % 10);
}

fn write_4(out: &mut Vec<u8>, n: u16) {
    write_2(out, (n / 100 % 100) as u8);
    write_2(out, (n % 100) as u8);
}

/// An IMAP date-time (`"17-Jul-1996 02:44:25 -0700"`): APPEND's internal date, FETCH
/// INTERNALDATE. The zone is kept as sent, as minutes east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    zone_minutes: i16,
}

impl DateTime {
    /// A checked date-time. `second` may be 60 (a leap second); the zone is within ±99:59.
    pub fn new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        zone_minutes: i16,
    ) -> Result<DateTime, TypeError> {
        if hour > 23 || minute > 59 || second > 60 || !(-5999..=5999).contains(&zone_minutes) {
            return Err(TypeError::InvalidTime);
        }
        Ok(DateTime {
            date,
            hour,
            minute,
            second,
            zone_minutes,
        })
    }

    /// The date part.
    pub fn date(self) -> Date {
        self.date
    }
    /// Hour, minute, second.
    pub fn time(self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }
    /// The zone, in minutes east of UTC.
    pub fn zone_minutes(self) -> i16 {
        self.zone_minutes
    }

    /// Parses the quoted form.
    pub fn parse(i: &[u8]) -> PResult<'_, DateTime> {
        let Some(inner) = i.strip_prefix(b"\"") else {
            return fail(i, ErrorKind::Char);
        };
        let (rest, date) = Date::parse_text(inner, true)?;
        let [b' ', h1, h2, b':', m1, m2, b':', s1, s2, b' ', sign, z1, z2, z3, z4, b'"', rest @ ..] =
            rest
        else {
            return fail(i, ErrorKind::Char);
        };
        let digits = [h1, h2, m1, m2, s1, s2, z1, z2, z3, z4];
        if !digits.iter().all(|d| d.is_ascii_digit()) {
            return fail(i, ErrorKind::Digit);
        }
        let two = |a: &u8, b: &u8| (a - b'0') * 10 + (b - b'0');
        let zone = i16::from(two(z1, z2)) * 60 + i16::from(two(z3, z4));
        let zone = match sign {
            b'+' => zone,
            b'-' => -zone,
            _ => return fail(i, ErrorKind::Char),
        };
        if two(z3, z4) > 59 {
            return fail(i, ErrorKind::Verify);
        }
        match DateTime::new(date, two(h1, h2), two(m1, m2), two(s1, s2), zone) {
            Ok(dt) => Ok((rest, dt)),
            Err(_) => fail(i, ErrorKind::Verify),
        }
    }

    /// Writes the quoted form with a space-padded day, as servers do.
    pub fn write(self, out: &mut Vec<u8>) {
        out.push(b'"');
        if self.date.day < 10 {
            out.push(b' ');
            out.push(b'0' + self.date.day);
        } else {
            write_2(out, self.date.day);
        }
        out.push(b'-');
        out.extend_from_slice(self.date.month_name().as_bytes());
        out.push(b'-');
        write_4(out, self.date.year);
        out.push(b' ');
        write_2(out, self.hour);
        out.push(b':');
        write_2(out, self.minute);
        out.push(b':');
        write_2(out, self.second);
        out.push(b' ');
        out.push(if self.zone_minutes < 0 { b'-' } else { b'+' });
        let z = self.zone_minutes.unsigned_abs();
        write_2(out, (z / 60) as u8);
        write_2(out, (z % 60) as u8);
        out.push(b'"');
    }
}

/// A STATUS data item (RFC 3501, RFC 9051, CONDSTORE, STATUS=SIZE, OBJECTID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES`
    Messages,
    /// `RECENT`
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `DELETED` (RFC 9051)
    Deleted,
    /// `SIZE` (RFC 8438)
    Size,
    /// `HIGHESTMODSEQ` (RFC 7162)
    HighestModSeq,
    /// `MAILBOXID` (RFC 8474)
    MailboxId,
    /// `APPENDLIMIT` (RFC 7889)
    AppendLimit,
    /// Anything else. Responses keep it; the command parser refuses it, as Cyrus does.
    Other(Atom),
}

const STATUS_NAMES: [(&str, StatusItem); 10] = [
    ("MESSAGES", StatusItem::Messages),
    ("RECENT", StatusItem::Recent),
    ("UIDNEXT", StatusItem::UidNext),
    ("UIDVALIDITY", StatusItem::UidValidity),
    ("UNSEEN", StatusItem::Unseen),
    ("DELETED", StatusItem::Deleted),
    ("SIZE", StatusItem::Size),
    ("HIGHESTMODSEQ", StatusItem::HighestModSeq),
    ("MAILBOXID", StatusItem::MailboxId),
    ("APPENDLIMIT", StatusItem::AppendLimit),
];

impl StatusItem {
    /// Parses one item name (case-insensitive).
    pub fn parse(i: &[u8]) -> PResult<'_, StatusItem> {
        let (rest, a) = syntax::atom(i)?;
        for (name, item) in STATUS_NAMES {
            if a.eq_ignore_ascii_case(name.as_bytes()) {
                return Ok((rest, item));
            }
        }
        match Atom::new(a) {
            Ok(a) => Ok((rest, StatusItem::Other(a))),
            Err(_) => fail(i, ErrorKind::Verify),
        }
    }

    /// The canonical (upper-case) name.
    pub fn name(&self) -> &str {
        match self {
            StatusItem::Other(a) => a.as_str(),
            known => STATUS_NAMES
                .iter()
                .find(|(_, k)| k == known)
                .map(|(n, _)| *n)
                .unwrap_or("MESSAGES"),
        }
    }

    /// Writes the name.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name().as_bytes());
    }
}

/// The text part of a body section (`HEADER`, `HEADER.FIELDS (...)`, `TEXT`, `MIME`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText {
    /// `HEADER`
    Header,
    /// `HEADER.FIELDS (names)`; names kept as sent.
    HeaderFields(Vec<Vec<u8>>),
    /// `HEADER.FIELDS.NOT (names)`
    HeaderFieldsNot(Vec<Vec<u8>>),
    /// `TEXT`
    Text,
    /// `MIME` (only after a part number)
    Mime,
}

/// A body section: `[]`, `[1.2]`, `[HEADER]`, `[1.2.HEADER.FIELDS (FROM TO)]`, `[3.MIME]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section {
    part: Vec<NonZeroU32>,
    text: Option<SectionText>,
}

impl Section {
    /// A checked section: `MIME` needs a part number and header lists are non-empty.
    pub fn new(part: Vec<NonZeroU32>, text: Option<SectionText>) -> Result<Section, TypeError> {
        match &text {
            Some(SectionText::Mime) if part.is_empty() => return Err(TypeError::InvalidSection),
            Some(SectionText::HeaderFields(h) | SectionText::HeaderFieldsNot(h))
                if h.is_empty() =>
            {
                return Err(TypeError::InvalidSection)
            }
            _ => {}
        }
        Ok(Section { part, text })
    }

    /// The part numbers (empty for the whole message).
    pub fn part(&self) -> &[NonZeroU32] {
        &self.part
    }

    /// The text specifier.
    pub fn text(&self) -> Option<&SectionText> {
        self.text.as_ref()
    }

    /// Parses `[section-spec]`, brackets included.
    pub fn parse(i: &[u8]) -> PResult<'_, Section> {
        let Some(mut rest) = i.strip_prefix(b"[") else {
            return fail(i, ErrorKind::Char);
        };
        let mut part = Vec::new();
        let mut text = None;
        if let Some(r) = rest.strip_prefix(b"]") {
            return Ok((r, Section { part, text }));
        }
        // Part numbers, each followed by `.` (then a number or a text specifier) or `]`.
        let mut need_text = false;
        while rest.first().is_some_and(u8::is_ascii_digit) {
            let (r, n) = syntax::nz_number(rest)?;
            let Some(n) = NonZeroU32::new(n) else {
                return fail(i, ErrorKind::Verify);
            };
            part.push(n);
            match r.strip_prefix(b".") {
                Some(r) => {
                    rest = r;
                    need_text = true;
                }
                None => {
                    rest = r;
                    need_text = false;
                    break;
                }
            }
        }
        if need_text || part.is_empty() {
            let (r, t) = section_text(rest, !part.is_empty())?;
            text = Some(t);
            rest = r;
        }
        match rest.strip_prefix(b"]") {
            Some(r) => Ok((r, Section { part, text })),
            None => fail(i, ErrorKind::Char),
        }
    }

    /// Writes `[...]`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (n, p) in self.part.iter().enumerate() {
            if n > 0 {
                out.push(b'.');
            }
            write_u64(out, u64::from(p.get()));
        }
        if let Some(t) = &self.text {
            if !self.part.is_empty() {
                out.push(b'.');
            }
            let (name, list) = match t {
                SectionText::Header => ("HEADER", None),
                SectionText::HeaderFields(l) => ("HEADER.FIELDS", Some(l)),
                SectionText::HeaderFieldsNot(l) => ("HEADER.FIELDS.NOT", Some(l)),
                SectionText::Text => ("TEXT", None),
                SectionText::Mime => ("MIME", None),
            };
            out.extend_from_slice(name.as_bytes());
            if let Some(l) = list {
                out.extend_from_slice(b" (");
                for (n, h) in l.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    // Header names are astrings; a literal here is legal but never needed for
                    // a real field name, so the non-synchronising form keeps this mode-free.
                    syntax::write_astring(out, h, syntax::LiteralMode::NonSync);
                }
                out.push(b')');
            }
        }
        out.push(b']');
    }
}

fn section_text(i: &[u8], after_part: bool) -> PResult<'_, SectionText> {
    let end = i
        .iter()
        .position(|&b| !(b.is_ascii_alphabetic() || b == b'.'))
        .unwrap_or(i.len());
    let (word, rest) = i.split_at(end);
    let up = |s: &str| word.eq_ignore_ascii_case(s.as_bytes());
    if up("HEADER") {
        Ok((rest, SectionText::Header))
    } else if up("TEXT") {
        Ok((rest, SectionText::Text))
    } else if up("MIME") && after_part {
        Ok((rest, SectionText::Mime))
    } else if up("HEADER.FIELDS") || up("HEADER.FIELDS.NOT") {
        let not = word.len() > "HEADER.FIELDS".len();
        let (rest, _) = syntax::sp(rest)?;
        let Some(mut rest) = rest.strip_prefix(b"(") else {
            return fail(i, ErrorKind::Char);
        };
        let mut names = Vec::new();
        loop {
            let (r, h) = syntax::astring(rest)?;
            names.push(h.into_owned());
            if let Some(r) = r.strip_prefix(b")") {
                rest = r;
                break;
            }
            let (r, _) = syntax::sp(r)?;
            rest = r;
        }
        Ok((
            rest,
            if not {
                SectionText::HeaderFieldsNot(names)
            } else {
                SectionText::HeaderFields(names)
            },
        ))
    } else {
        fail(i, ErrorKind::Tag)
    }
}

/// A byte range of a fetched section: `<offset.length>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partial {
    /// First octet, from 0.
    pub offset: u32,
    /// How many octets at most.
    pub length: NonZeroU32,
}

impl Partial {
    fn parse(i: &[u8]) -> PResult<'_, Partial> {
        let Some(r) = i.strip_prefix(b"<") else {
            return fail(i, ErrorKind::Char);
        };
        let (r, offset) = syntax::number(r)?;
        let Some(r) = r.strip_prefix(b".") else {
            return fail(i, ErrorKind::Char);
        };
        let (r, length) = syntax::nz_number(r)?;
        let Some(r) = r.strip_prefix(b">") else {
            return fail(i, ErrorKind::Char);
        };
        match NonZeroU32::new(length) {
            Some(length) => Ok((r, Partial { offset, length })),
            None => fail(i, ErrorKind::Verify),
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        out.push(b'<');
        write_u64(out, u64::from(self.offset));
        out.push(b'.');
        write_u64(out, u64::from(self.length.get()));
        out.push(b'>');
    }
}

/// A FETCH request item (not a macro: `ALL`, `FAST` and `FULL` are expanded by the command
/// parser's caller, see `command::FetchItems`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchAttr {
    /// `ENVELOPE`
    Envelope,
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822` (same as `BODY[]`, sets `\Seen`)
    Rfc822,
    /// `RFC822.HEADER`
    Rfc822Header,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `RFC822.TEXT`
    Rfc822Text,
    /// `BODY` (non-extensible body structure)
    Body,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `UID`
    Uid,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// What to fetch.
        section: Section,
        /// Which octets.
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516)
    Binary {
        /// `.PEEK`
        peek: bool,
        /// Part numbers (empty: the whole message).
        part: Vec<NonZeroU32>,
        /// Which octets.
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`
    BinarySize {
        /// Part numbers.
        part: Vec<NonZeroU32>,
    },
    /// `MODSEQ` (RFC 7162)
    ModSeq,
    /// `EMAILID` (RFC 8474)
    EmailId,
    /// `THREADID` (RFC 8474)
    ThreadId,
    /// `SAVEDATE` (RFC 8514)
    SaveDate,
}

const SIMPLE_ATTRS: [(&str, FetchAttr); 14] = [
    ("ENVELOPE", FetchAttr::Envelope),
    ("FLAGS", FetchAttr::Flags),
    ("INTERNALDATE", FetchAttr::InternalDate),
    ("RFC822", FetchAttr::Rfc822),
    ("RFC822.HEADER", FetchAttr::Rfc822Header),
    ("RFC822.SIZE", FetchAttr::Rfc822Size),
    ("RFC822.TEXT", FetchAttr::Rfc822Text),
    ("BODY", FetchAttr::Body),
    ("BODYSTRUCTURE", FetchAttr::BodyStructure),
    ("UID", FetchAttr::Uid),
    ("MODSEQ", FetchAttr::ModSeq),
    ("EMAILID", FetchAttr::EmailId),
    ("THREADID", FetchAttr::ThreadId),
    ("SAVEDATE", FetchAttr::SaveDate),
];

impl FetchAttr {
    /// Parses one item. Names are case-insensitive.
    pub fn parse(i: &[u8]) -> PResult<'_, FetchAttr> {
        // Names are letters, digits and dots; a `[` starts a section.
        let end = i
            .iter()
            .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.'))
            .unwrap_or(i.len());
        let (word, rest) = i.split_at(end);
        let is = |s: &str| word.eq_ignore_ascii_case(s.as_bytes());
        if rest.first() == Some(&b'[') {
            if is("BODY") || is("BODY.PEEK") {
                let (r, section) = Section::parse(rest)?;
                let (r, partial) = opt_partial(r)?;
                return Ok((
                    r,
                    FetchAttr::BodySection {
                        peek: word.len() > 4,
                        section,
                        partial,
                    },
                ));
            }
            if is("BINARY") || is("BINARY.PEEK") || is("BINARY.SIZE") {
                let (r, part) = section_binary(rest)?;
                if is("BINARY.SIZE") {
                    return Ok((r, FetchAttr::BinarySize { part }));
                }
                let (r, partial) = opt_partial(r)?;
                return Ok((
                    r,
                    FetchAttr::Binary {
                        peek: word.len() > 6,
                        part,
                        partial,
                    },
                ));
            }
            return fail(i, ErrorKind::Tag);
        }
        for (name, a) in SIMPLE_ATTRS {
            if is(name) {
                return Ok((rest, a));
            }
        }
        fail(i, ErrorKind::Tag)
    }

    /// Writes the item in upper case.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            FetchAttr::BodySection {
                peek,
                section,
                partial,
            } => {
                out.extend_from_slice(if *peek { b"BODY.PEEK" } else { b"BODY" });
                section.write(out);
                if let Some(p) = partial {
                    p.write(out);
                }
            }
            FetchAttr::Binary {
                peek,
                part,
                partial,
            } => {
                out.extend_from_slice(if *peek {
                    &b"BINARY.PEEK"[..]
                } else {
                    &b"BINARY"[..]
                });
                write_part_brackets(out, part);
                if let Some(p) = partial {
                    p.write(out);
                }
            }
            FetchAttr::BinarySize { part } => {
                out.extend_from_slice(b"BINARY.SIZE");
                write_part_brackets(out, part);
            }
            simple => {
                let name = SIMPLE_ATTRS
                    .iter()
                    .find(|(_, a)| a == simple)
                    .map(|(n, _)| *n)
                    .unwrap_or("UID");
                out.extend_from_slice(name.as_bytes());
            }
        }
    }
}

fn opt_partial(i: &[u8]) -> PResult<'_, Option<Partial>> {
    if i.first() == Some(&b'<') {
        let (r, p) = Partial::parse(i)?;
        Ok((r, Some(p)))
    } else {
        Ok((i, None))
    }
}

fn section_binary(i: &[u8]) -> PResult<'_, Vec<NonZeroU32>> {
    let Some(mut rest) = i.strip_prefix(b"[") else {
        return fail(i, ErrorKind::Char);
    };
    let mut part = Vec::new();
    if let Some(r) = rest.strip_prefix(b"]") {
        return Ok((r, part));
    }
    loop {
        let (r, n) = syntax::nz_number(rest)?;
        let Some(n) = NonZeroU32::new(n) else {
            return fail(i, ErrorKind::Verify);
        };
        part.push(n);
        if let Some(r) = r.strip_prefix(b"]") {
            return Ok((r, part));
        }
        let Some(r) = r.strip_prefix(b".") else {
            return fail(i, ErrorKind::Char);
        };
        rest = r;
    }
}

fn write_part_brackets(out: &mut Vec<u8>, part: &[NonZeroU32]) {
    out.push(b'[');
    for (n, p) in part.iter().enumerate() {
        if n > 0 {
            out.push(b'.');
        }
        write_u64(out, u64::from(p.get()));
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn tags_and_atoms_are_validated() {
        assert!(Tag::new("a001").is_ok());
        assert_eq!(Tag::new("a+b"), Err(TypeError::InvalidTag));
        assert_eq!(Tag::new(""), Err(TypeError::InvalidTag));
        assert_eq!(Tag::new("a b"), Err(TypeError::InvalidTag));
        assert!(Atom::new("$Forwarded").is_ok());
        assert_eq!(Atom::new("a]"), Err(TypeError::InvalidAtom));
    }

    #[test]
    fn flags_known_answers() {
        for (wire, f, canon) in [
            (&b"\\SEEN"[..], Flag::Seen, &b"\\Seen"[..]),
            (b"\\answered", Flag::Answered, b"\\Answered"),
            (b"\\Recent", Flag::Recent, b"\\Recent"),
            (
                b"$Junk",
                Flag::Keyword(Atom::new("$Junk").unwrap()),
                b"$Junk",
            ),
            (
                b"\\Sent",
                Flag::Extension(Atom::new("Sent").unwrap()),
                b"\\Sent",
            ),
        ] {
            assert_eq!(Flag::parse(wire).unwrap().1, f);
            let mut o = Vec::new();
            f.write(&mut o);
            assert_eq!(o, canon);
        }
        assert!(Flag::parse(b"\\").is_err());
        let (_, l) = Flag::parse_list(b"(\\Seen $X)").unwrap();
        assert_eq!(l, vec![Flag::Seen, Flag::Keyword(Atom::new("$X").unwrap())]);
        assert_eq!(Flag::parse_list(b"()").unwrap().1, vec![]);
    }

    #[test]
    fn sequence_sets_known_answers() {
        let (rest, s) = SequenceSet::parse(b"2,4:7,9,12:* x").unwrap();
        assert_eq!(rest, b" x");
        assert_eq!(s.ranges().len(), 4);
        assert!(s.contains(13, 15) && s.contains(5, 15) && !s.contains(8, 15));
        let mut o = Vec::new();
        s.write(&mut o);
        assert_eq!(o, b"2,4:7,9,12:*");
        assert!(SequenceSet::parse(b"0").is_err());
        assert!(SequenceSet::parse(b"1:0").is_err());
        assert!(SequenceSet::parse(b"1,").is_err());
        assert!(SequenceSet::parse(b"4294967296").is_err());
        assert!(SeqRange::Range(SeqNo::Value(nz(9)), SeqNo::Value(nz(3))).contains(5, 10));
        assert_eq!(SequenceSet::new(vec![]), Err(TypeError::EmptySequenceSet));
    }

    #[test]
    fn dates_known_answers() {
        let (_, d) = Date::parse(b"1-Feb-1994").unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (1994, 2, 1));
        assert_eq!(Date::parse(b"\"01-feb-1994\"").unwrap().1, d);
        assert!(Date::parse(b"29-Feb-1993").is_err());
        assert!(Date::parse(b"29-Feb-2000").is_ok());
        assert!(Date::parse(b"31-Apr-2000").is_err());
        assert!(Date::parse(b"1-Foo-2000").is_err());
        let mut o = Vec::new();
        d.write(&mut o);
        assert_eq!(o, b"1-Feb-1994");

        let (_, dt) = DateTime::parse(b"\" 7-Jul-1996 02:44:25 +0530\"").unwrap();
        assert_eq!(dt.zone_minutes(), 330);
        assert_eq!(dt.time(), (2, 44, 25));
        let mut o = Vec::new();
        dt.write(&mut o);
        assert_eq!(o, b"\" 7-Jul-1996 02:44:25 +0530\"");
        assert!(DateTime::parse(b"\"07-Jul-1996 24:00:00 +0000\"").is_err());
        assert!(DateTime::parse(b"\"07-Jul-1996 02:44:25 +0060\"").is_err());
        assert!(DateTime::parse(b"\"7-Jul-1996 02:44:25 +0000\"").is_err());
    }

    #[test]
    fn fetch_attrs_known_answers() {
        let (_, a) = FetchAttr::parse(b"BODY.PEEK[HEADER.FIELDS (SUBJECT MESSAGE-ID)]").unwrap();
        assert_eq!(
            a,
            FetchAttr::BodySection {
                peek: true,
                section: Section::new(
                    vec![],
                    Some(SectionText::HeaderFields(vec![
                        b"SUBJECT".to_vec(),
                        b"MESSAGE-ID".to_vec()
                    ]))
                )
                .unwrap(),
                partial: None
            }
        );
        let (_, a) = FetchAttr::parse(b"body[1.2.mime]<0.100>").unwrap();
        let mut o = Vec::new();
        a.write(&mut o);
        assert_eq!(o, b"BODY[1.2.MIME]<0.100>");
        assert!(FetchAttr::parse(b"BODY[MIME]").is_err());
        assert!(FetchAttr::parse(b"BODY[1.]").is_err());
        assert!(FetchAttr::parse(b"BODY[]<1.0>").is_err());
        assert!(FetchAttr::parse(b"XYZZY").is_err());
        let (_, a) = FetchAttr::parse(b"BINARY.SIZE[1.2]").unwrap();
        assert_eq!(
            a,
            FetchAttr::BinarySize {
                part: vec![nz(1), nz(2)]
            }
        );
        assert_eq!(
            FetchAttr::parse(b"rfc822.size)").unwrap(),
            (&b")"[..], FetchAttr::Rfc822Size)
        );
    }

    #[test]
    fn status_items() {
        assert_eq!(
            StatusItem::parse(b"uidnext").unwrap().1,
            StatusItem::UidNext
        );
        assert_eq!(StatusItem::HighestModSeq.name(), "HIGHESTMODSEQ");
        assert!(matches!(
            StatusItem::parse(b"X-FOO").unwrap().1,
            StatusItem::Other(_)
        ));
    }

    #[test]
    fn numbers_write_without_allocation_errors() {
        for n in [0u64, 7, 10, 4294967295, u64::MAX] {
            let mut o = Vec::new();
            write_u64(&mut o, n);
            assert_eq!(o, n.to_string().as_bytes());
        }
    }
}
