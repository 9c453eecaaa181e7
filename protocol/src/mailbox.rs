//! Cyrus mailbox names: internal names, external names, modified UTF-7, locations and LIST
//! patterns (reference §3, §1.6, §2.4, §3.4, §3.5).
//!
//! A Cyrus murder speaks two dialects of mailbox names. MUPDATE, `mailboxes.db` and XFER use
//! **internal names** (`user.bob.Sent`, `example.com!user.dave`), which this module models as
//! [`InternalName`]. IMAP clients see **external names** that depend on the session's
//! [`Namespace`] (`INBOX/Sent`, `Other Users/alice`). Every frontend and backend must map
//! between the two identically, so the mapping lives here once.
//!
//! ```
//! use protocol::mailbox::{Namespace, Location, Pattern, utf7_encode};
//!
//! let ns = Namespace::default(); // Cyrus 3.x defaults: '/' separator, alternate namespace
//! let int = ns.to_internal("Sent", Some("bob"), false).unwrap();
//! assert_eq!(int.as_str(), "user.bob.Sent");
//! assert_eq!(ns.to_external(&int, Some("bob"), false).as_deref(), Some("Sent"));
//! assert_eq!(ns.to_external(&int, Some("cyrus"), true).as_deref(), Some("user/bob/Sent"));
//!
//! let loc = Location::parse_mupdate("be1.example.org!default").unwrap();
//! assert_eq!(loc.server(), Some("be1.example.org"));
//! assert_eq!(loc.to_string(), "be1.example.org!default");
//!
//! assert!(Pattern::new("", "user.%", '.').unwrap().matches("user.bob"));
//! assert_eq!(utf7_encode("Entwürfe"), "Entw&APw-rfe");
//! ```

use std::fmt;

use thiserror::Error;

/// Longest internal name Cyrus lets CREATE or RENAME make (`MAX_MAILBOX_CREATENAME`).
pub const MAX_MAILBOX_CREATENAME: usize = 490;
/// Longest partition name (`MAX_PARTITION_LEN`).
pub const MAX_PARTITION_LEN: usize = 64;
/// The default `deletedprefix`.
pub const DEFAULT_DELETED_PREFIX: &str = "DELETED";
/// The characters `mboxname_policycheck` allows in an internal name besides `&` sequences.
const GOODCHARS: &[u8] =
    b" #$'()*+,-.0123456789:=?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz~";
/// The modified BASE64 alphabet of RFC 3501 §5.1.3 (`,` instead of `/`).
const MB64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Size limits for the values this module accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest internal or external name accepted, in bytes. Default 1024 (Cyrus's
    /// `MAX_MAILBOX_BUFFER`); deleted names may exceed [`MAX_MAILBOX_CREATENAME`], so this is
    /// deliberately larger than the CREATE limit.
    pub max_name_len: usize,
    /// Longest reference + pattern accepted by [`Pattern`], in bytes. Default 1024.
    pub max_pattern_len: usize,
    /// Longest server name in a location, in bytes. Default 255 (a DNS name plus a port fits).
    pub max_server_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_name_len: 1024,
            max_pattern_len: 1024,
            max_server_len: 255,
        }
    }
}

/// Why `mboxname_policycheck` refuses a name (IMAP `NO Invalid mailbox name`, reference §3.5).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidName {
    /// Names beginning with `$` are reserved for internal database keys such as `$RACL`.
    #[error("names beginning with '$' are reserved")]
    ReservedDollar,
    /// Longer than [`MAX_MAILBOX_CREATENAME`].
    #[error("name is {len} bytes; the limit is {max}")]
    TooLong { len: usize, max: usize },
    /// A `!` appeared while `virtdomains` is off.
    #[error("'!' is not allowed without virtdomains")]
    DomainWithoutVirtdomains,
    /// The domain before `!` is empty or has a character other than an ASCII letter, digit,
    /// `-` or `.` (a control byte there would corrupt the mailboxes.db key).
    #[error("invalid domain {0:?}")]
    BadDomain(String),
    /// Nothing (after any domain).
    #[error("name is empty")]
    Empty,
    /// Begins with `.` or `~`.
    #[error("name begins with {0:?}")]
    BadStart(char),
    /// Ends with `.`.
    #[error("name ends with '.'")]
    TrailingDot,
    /// Contains `..` (an empty hierarchy level).
    #[error("name contains an empty hierarchy level")]
    EmptyComponent,
    /// Contains CR, LF or TAB.
    #[error("name contains a control character")]
    Whitespace,
    /// `user`, `user.anyone`, `user.anonymous` or `user.%…`.
    #[error("'{0}' is a reserved name")]
    Reserved(String),
    /// A byte outside the allowed set.
    #[error("character {0:?} is not allowed in a mailbox name")]
    BadChar(char),
    /// A malformed modified UTF-7 sequence.
    #[error("bad modified UTF-7: {0}")]
    Utf7(#[from] Utf7Error),
}

/// Errors from modified UTF-7 (RFC 3501 §5.1.3) decoding and validation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Utf7Error {
    /// An `&` without the closing `-`.
    #[error("'&' sequence at byte {0} is not closed by '-'")]
    Unterminated(usize),
    /// A byte inside an `&…-` sequence outside the modified BASE64 alphabet.
    #[error("byte {0:#04x} is not modified BASE64")]
    BadBase64(u8),
    /// The sequence length leaves a partial UTF-16 unit, or the unused bits are not zero.
    #[error("'&' sequence at byte {0} has a bad length or nonzero trailing bits")]
    BadPadding(usize),
    /// A sequence encodes a character that must be written as itself.
    #[error("'&' sequence encodes US-ASCII U+{0:04X}")]
    EncodedAscii(u16),
    /// Two encoded sequences directly after each other (they must be merged).
    #[error("two '&' sequences are adjacent")]
    Adjacent,
    /// A UTF-16 surrogate without its partner.
    #[error("unpaired UTF-16 surrogate")]
    BadSurrogate,
    /// A byte outside printable US-ASCII outside an `&` sequence.
    #[error("byte {0:#04x} must be encoded")]
    NotPrintable(u8),
}

/// Errors from names, namespaces, locations and patterns.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// An empty name.
    #[error("mailbox name is empty")]
    Empty,
    /// Longer than the configured limit.
    #[error("mailbox name is {len} bytes; the limit is {max}")]
    TooLong { len: usize, max: usize },
    /// An empty hierarchy level (leading, trailing or doubled separator).
    #[error("mailbox name has an empty hierarchy level")]
    EmptyComponent,
    /// A character the name form cannot hold (NUL, CR, LF, TAB; `^` or `/` in the wrong
    /// external form).
    #[error("character {0:?} is not allowed here")]
    ForbiddenChar(char),
    /// `!` with nothing before it.
    #[error("empty domain before '!'")]
    EmptyDomain,
    /// The name needs the session user (INBOX, alternate namespace) but there is none.
    #[error("the name refers to the user's mailboxes but the session has no user")]
    NoUser,
    /// The external name denotes no mailbox (for example `Other Users` alone).
    #[error("{0:?} does not name a mailbox")]
    NotAMailbox(String),
    /// The name fails the CREATE/RENAME policy check.
    #[error("invalid mailbox name: {0}")]
    Policy(#[from] InvalidName),
    /// Modified UTF-7 errors.
    #[error("modified UTF-7: {0}")]
    Utf7(#[from] Utf7Error),
    /// A location with an empty server part.
    #[error("location has an empty server name")]
    EmptyServer,
    /// A server name with a forbidden character or too long.
    #[error("invalid server name {0:?}")]
    BadServer(String),
    /// A partition name that is not 1–64 alphanumeric bytes.
    #[error("invalid partition name {0:?} (must be 1-64 letters or digits)")]
    BadPartition(String),
    /// A location with a second `!` (Cyrus: "double ! detected").
    #[error("location contains a second '!'")]
    DoubleBang,
    /// A LIST pattern longer than the limit.
    #[error("pattern is {len} bytes; the limit is {max}")]
    PatternTooLong { len: usize, max: usize },
    /// A hierarchy separator that is not a single ASCII byte.
    #[error("hierarchy separator {0:?} is not ASCII")]
    BadSeparator(char),
}

// ---------------------------------------------------------------------------------------------
// Internal names
// ---------------------------------------------------------------------------------------------

/// A Cyrus internal mailbox name (reference §3.1), for example `user.alice.Sent`,
/// `example.com!user.dave`, `user.john^doe` or `DELETED.user.bob.Trash.65E33B49`.
///
/// Construction checks the *structure* every stored name has: not empty, within
/// [`Limits::max_name_len`], no NUL, CR, LF or TAB, no empty hierarchy level, and a non-empty
/// domain before a `!`. It does not apply the CREATE policy ([`policy_check`]), because names
/// that already exist (deleted mailboxes, names from older servers) must still be handled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InternalName(String);

/// The decoded parts of an internal name, like Cyrus's `mbname_t`.
///
/// `localpart` and `boxes` hold real characters: the internal `^` is shown as `.`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameParts {
    /// The virtual domain (the part before `!`), if any.
    pub domain: Option<String>,
    /// The deletion time (hex suffix) of a mailbox under the deleted prefix.
    pub deleted: Option<u64>,
    /// The owner's local part for `user.<localpart>…` names.
    pub localpart: Option<String>,
    /// The remaining hierarchy levels.
    pub boxes: Vec<String>,
}

impl InternalName {
    /// Checks `name` against the structural rules with the default [`Limits`].
    pub fn new(name: &str) -> Result<Self, NameError> {
        Self::with_limits(name, &Limits::default())
    }

    /// Checks `name` against the structural rules with explicit limits.
    pub fn with_limits(name: &str, limits: &Limits) -> Result<Self, NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > limits.max_name_len {
            return Err(NameError::TooLong {
                len: name.len(),
                max: limits.max_name_len,
            });
        }
        // 0x1D and 0x1F are the separators of the mailboxes.db key: a name holding one would
        // come back from its key as a different name.
        if let Some(c) = name
            .chars()
            .find(|c| matches!(c, '\0' | '\r' | '\n' | '\t' | '\x1d' | '\x1f'))
        {
            return Err(NameError::ForbiddenChar(c));
        }
        let rest = match name.split_once('!') {
            Some(("", _)) => return Err(NameError::EmptyDomain),
            Some((_, rest)) => rest,
            None => name,
        };
        if rest.is_empty() {
            return Err(NameError::Empty);
        }
        if rest.split('.').any(str::is_empty) {
            return Err(NameError::EmptyComponent);
        }
        Ok(InternalName(name.to_owned()))
    }

    /// The name as Cyrus writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The virtual domain, if the name has one (`example.com` in `example.com!user.dave`).
    pub fn domain(&self) -> Option<&str> {
        self.0.split_once('!').map(|(d, _)| d)
    }

    /// The name without its domain.
    pub fn without_domain(&self) -> &str {
        match self.0.split_once('!') {
            Some((_, rest)) => rest,
            None => &self.0,
        }
    }

    /// The hierarchy levels of the name without its domain, as stored (`^` kept).
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.without_domain().split('.')
    }

    /// The decoded parts, recognising deleted mailboxes under `deletedprefix`.
    pub fn parts(&self, deletedprefix: &str) -> NameParts {
        let mut boxes: Vec<String> = self.components().map(|c| c.replace('^', ".")).collect();
        let mut deleted = None;
        // Like mbname_from_intname: a deleted name has at least the prefix, one level and the
        // hex time. A last level that is not a nonzero hex time leaves the name undeleted.
        if boxes.len() > 2 && boxes.first().map(String::as_str) == Some(deletedprefix) {
            if let Some(t) = boxes.last().and_then(|l| hex_time(l)) {
                deleted = Some(t);
                boxes.remove(0);
                boxes.pop();
            }
        }
        let mut localpart = None;
        if boxes.len() > 1 && boxes.first().map(String::as_str) == Some("user") {
            boxes.remove(0);
            localpart = Some(boxes.remove(0));
        }
        NameParts {
            domain: self.domain().map(str::to_owned),
            deleted,
            localpart,
            boxes,
        }
    }

    /// True for a mailbox under the default deleted prefix (`DELETED`).
    pub fn is_deleted(&self) -> bool {
        self.is_deleted_with(DEFAULT_DELETED_PREFIX)
    }

    /// True for a mailbox under `deletedprefix`.
    pub fn is_deleted_with(&self, deletedprefix: &str) -> bool {
        self.parts(deletedprefix).deleted.is_some()
    }

    /// True for a live mailbox of a user (`user.<name>…`), INBOX or below.
    pub fn is_user_mailbox(&self) -> bool {
        let p = self.parts(DEFAULT_DELETED_PREFIX);
        p.localpart.is_some() && p.deleted.is_none()
    }

    /// True for a user's INBOX itself (`user.<name>`).
    pub fn is_user_inbox(&self) -> bool {
        let p = self.parts(DEFAULT_DELETED_PREFIX);
        p.localpart.is_some() && p.deleted.is_none() && p.boxes.is_empty()
    }

    /// The user id owning this name: the local part (with `^` shown as `.`), plus `@domain`
    /// when the name has a domain. Deleted user mailboxes keep their owner, as in Cyrus.
    pub fn owner(&self) -> Option<String> {
        let p = self.parts(DEFAULT_DELETED_PREFIX);
        let local = p.localpart?;
        Some(match p.domain {
            Some(d) => format!("{local}@{d}"),
            None => local,
        })
    }

    /// The INBOX of the owning user (`user.bob` for `user.bob.Sent`).
    pub fn user_inbox(&self) -> Option<InternalName> {
        let p = self.parts(DEFAULT_DELETED_PREFIX);
        let parts = NameParts {
            domain: p.domain,
            deleted: None,
            localpart: Some(p.localpart?),
            boxes: Vec::new(),
        };
        parts.to_internal(DEFAULT_DELETED_PREFIX).ok()
    }

    /// The parent mailbox name: the name without its last level.
    ///
    /// A user's INBOX, a top-level shared mailbox and a bare domain entry have no parent
    /// (`user` alone is never a mailbox), which is what CREATE's "nearest parent" walk needs.
    pub fn parent(&self) -> Option<InternalName> {
        let rest = self.without_domain();
        let (head, _) = rest.rsplit_once('.')?;
        if head == "user" {
            return None;
        }
        let name = match self.domain() {
            Some(d) => format!("{d}!{head}"),
            None => head.to_owned(),
        };
        Some(InternalName(name))
    }

    /// Applies the CREATE/RENAME policy ([`policy_check`]) to this name.
    pub fn policy_check(&self, virtdomains: bool) -> Result<(), InvalidName> {
        policy_check(&self.0, virtdomains)
    }
}

impl fmt::Display for InternalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for InternalName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for InternalName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InternalName::new(s)
    }
}

impl NameParts {
    /// Builds the internal name (`mbname_intname`): `[domain!][prefix.][user.local][.box…][.HEX]`.
    pub fn to_internal(&self, deletedprefix: &str) -> Result<InternalName, NameError> {
        // The first `!` of an internal name ends the domain, so a `!` in the domain, or in any
        // level of a name without a domain, would be read back as a different domain.
        let bang = match &self.domain {
            Some(d) => d.contains('!'),
            None => {
                self.localpart.as_deref().is_some_and(|l| l.contains('!'))
                    || self.boxes.iter().any(|b| b.contains('!'))
            }
        };
        if bang {
            return Err(NameError::ForbiddenChar('!'));
        }
        // The parts hold real characters, and the internal `^` stands for a real `.`: a real
        // `^` (from a user id such as `a^b`) would read back as `.`, naming another user.
        if self.localpart.as_deref().is_some_and(|l| l.contains('^'))
            || self.boxes.iter().any(|b| b.contains('^'))
        {
            return Err(NameError::ForbiddenChar('^'));
        }
        let mut out = String::new();
        if let Some(d) = &self.domain {
            out.push_str(d);
            out.push('!');
        }
        let mut levels: Vec<String> = Vec::new();
        if self.deleted.is_some() {
            levels.push(deletedprefix.to_owned());
        }
        if let Some(l) = &self.localpart {
            levels.push("user".to_owned());
            levels.push(l.replace('.', "^"));
        }
        levels.extend(self.boxes.iter().map(|b| b.replace('.', "^")));
        if let Some(t) = self.deleted {
            levels.push(format!("{t:X}"));
        }
        out.push_str(&levels.join("."));
        InternalName::new(&out)
    }

    /// The owner's user id (`local` or `local@domain`).
    pub fn userid(&self) -> Option<String> {
        let local = self.localpart.as_ref()?;
        Some(match &self.domain {
            Some(d) => format!("{local}@{d}"),
            None => local.clone(),
        })
    }
}

/// The value of a deleted mailbox's time suffix, read the way `strtoul(…, 16)` does (leading
/// hex digits, saturating); `None` unless it is a nonzero number.
fn hex_time(s: &str) -> Option<u64> {
    let mut v: u64 = 0;
    for c in s.chars() {
        let Some(d) = c.to_digit(16) else { break };
        v = v.saturating_mul(16).saturating_add(u64::from(d));
    }
    (v != 0).then_some(v)
}

/// `mboxname_policycheck` with the default deleted prefix: may CREATE or RENAME make `name`?
///
/// `virtdomains` says whether `!` may separate a domain (reference §3.5).
pub fn policy_check(name: &str, virtdomains: bool) -> Result<(), InvalidName> {
    policy_check_with(name, virtdomains, DEFAULT_DELETED_PREFIX)
}

/// A virtual domain for CREATE/RENAME: DNS-like, so that it can neither hide a `!` nor the
/// mailboxes.db separators. Cyrus does not check the domain at all; this is stricter on
/// purpose, since a domain comes from a login or an admin's `@domain` and names a DNS domain.
fn check_domain(domain: &str) -> Result<(), InvalidName> {
    if domain.is_empty()
        || !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(InvalidName::BadDomain(domain.to_owned()));
    }
    Ok(())
}

/// `mboxname_policycheck` with an explicit `deletedprefix`.
pub fn policy_check_with(
    name: &str,
    virtdomains: bool,
    deletedprefix: &str,
) -> Result<(), InvalidName> {
    if name.starts_with('$') {
        return Err(InvalidName::ReservedDollar);
    }
    // Names under the deleted prefix existed before and were valid then; Cyrus skips them so
    // that long names can still be deleted.
    if let Ok(n) = InternalName::new(name) {
        if n.is_deleted_with(deletedprefix) {
            return Ok(());
        }
    }
    if name.len() > MAX_MAILBOX_CREATENAME {
        return Err(InvalidName::TooLong {
            len: name.len(),
            max: MAX_MAILBOX_CREATENAME,
        });
    }
    let (rest, hasdom) = match name.split_once('!') {
        Some((domain, rest)) if virtdomains => {
            check_domain(domain)?;
            (rest, true)
        }
        Some(_) => return Err(InvalidName::DomainWithoutVirtdomains),
        None => (name, false),
    };
    let first = rest.chars().next().ok_or(InvalidName::Empty)?;
    if first == '.' || first == '~' {
        return Err(InvalidName::BadStart(first));
    }
    if rest.ends_with('.') {
        return Err(InvalidName::TrailingDot);
    }
    if rest.contains("..") {
        return Err(InvalidName::EmptyComponent);
    }
    if rest.contains(['\r', '\n', '\t']) {
        return Err(InvalidName::Whitespace);
    }
    if matches!(rest, "user" | "user.anyone" | "user.anonymous") || rest.starts_with("user.%") {
        return Err(InvalidName::Reserved(rest.to_owned()));
    }
    let bytes = rest.as_bytes();
    let mut i = 0;
    let mut after_sequence = false;
    while let Some(&b) = bytes.get(i) {
        if b == b'&' {
            let (next, nonempty) = check_utf7_sequence(bytes, i, after_sequence, true)?;
            after_sequence = nonempty;
            i = next;
        } else {
            if !(GOODCHARS.contains(&b) || (hasdom && b == b'!')) {
                let c = rest
                    .get(i..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('\u{FFFD}');
                return Err(InvalidName::BadChar(c));
            }
            after_sequence = false;
            i += 1;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Modified UTF-7
// ---------------------------------------------------------------------------------------------

fn mb64_value(b: u8) -> Option<u32> {
    MB64.iter()
        .position(|&c| c == b)
        .and_then(|p| u32::try_from(p).ok())
}

/// Decodes the `&…-` sequence starting at `start` (which holds `&`) into UTF-16 units.
///
/// Returns the index after the closing `-`, and the units (empty for `&-`). `cyrus_ascii`
/// selects Cyrus's rule (every unit below 0x80 is refused) instead of RFC 3501's (only
/// printable US-ASCII, which must represent itself, is refused).
fn decode_utf7_units(
    bytes: &[u8],
    start: usize,
    cyrus_ascii: bool,
) -> Result<(usize, Vec<u16>), Utf7Error> {
    let body_start = start.saturating_add(1);
    let len = bytes
        .get(body_start..)
        .and_then(|s| s.iter().position(|&b| b == b'-'))
        .ok_or(Utf7Error::Unterminated(start))?;
    let body = bytes
        .get(body_start..body_start.saturating_add(len))
        .unwrap_or(&[]);
    let mut units = Vec::with_capacity(len / 2);
    let mut acc: u32 = 0;
    let mut nbits: u32 = 0;
    for &b in body {
        let v = mb64_value(b).ok_or(Utf7Error::BadBase64(b))?;
        acc = ((acc << 6) | v) & 0x3F_FFFF;
        nbits += 6;
        if nbits >= 16 {
            nbits -= 16;
            let unit = u16::try_from((acc >> nbits) & 0xFFFF).unwrap_or(0);
            let refused = if cyrus_ascii {
                unit < 0x80
            } else {
                (0x20..=0x7E).contains(&unit)
            };
            if refused {
                return Err(Utf7Error::EncodedAscii(unit));
            }
            units.push(unit);
        }
    }
    // Whatever is left must be fewer than 6 bits (no partial unit) and all zero.
    let mask = (1u32 << nbits).wrapping_sub(1);
    if nbits >= 6 || acc & mask != 0 || (!body.is_empty() && units.is_empty()) {
        return Err(Utf7Error::BadPadding(start));
    }
    Ok((body_start.saturating_add(len).saturating_add(1), units))
}

/// Checks one `&` sequence for [`policy_check`]; returns the next index and whether the
/// sequence encoded something.
fn check_utf7_sequence(
    bytes: &[u8],
    start: usize,
    after_sequence: bool,
    cyrus_ascii: bool,
) -> Result<(usize, bool), Utf7Error> {
    let (next, units) = decode_utf7_units(bytes, start, cyrus_ascii)?;
    if units.is_empty() {
        return Ok((next, false));
    }
    if after_sequence {
        return Err(Utf7Error::Adjacent);
    }
    Ok((next, true))
}

/// Encodes UTF-8 text as modified UTF-7 (RFC 3501 §5.1.3): printable US-ASCII stands for
/// itself, `&` becomes `&-`, and every run of other characters becomes one `&…-` sequence.
pub fn utf7_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Vec<u16> = Vec::new();
    for ch in text.chars() {
        if (' '..='~').contains(&ch) {
            flush_utf7(&mut out, &mut pending);
            if ch == '&' {
                out.push_str("&-");
            } else {
                out.push(ch);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut buf));
        }
    }
    flush_utf7(&mut out, &mut pending);
    out
}

fn flush_utf7(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut nbits: u32 = 0;
    let push6 = |v: u32, out: &mut String| {
        let idx = usize::try_from(v & 0x3F).unwrap_or(0);
        out.push(char::from(MB64.get(idx).copied().unwrap_or(b'A')));
    };
    for &u in pending.iter() {
        acc = ((acc << 16) | u32::from(u)) & 0x3F_FFFF;
        nbits += 16;
        while nbits >= 6 {
            nbits -= 6;
            push6(acc >> nbits, out);
        }
    }
    if nbits > 0 {
        push6(acc << (6 - nbits), out);
    }
    out.push('-');
    pending.clear();
}

/// Decodes modified UTF-7 into UTF-8, strictly: bytes outside printable US-ASCII, malformed
/// or adjacent sequences, encoded printable US-ASCII and unpaired surrogates are errors.
pub fn utf7_decode(text: &str) -> Result<String, Utf7Error> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut after_sequence = false;
    while let Some(&b) = bytes.get(i) {
        if b == b'&' {
            let (next, units) = decode_utf7_units(bytes, i, false)?;
            if units.is_empty() {
                out.push('&');
                after_sequence = false;
            } else {
                if after_sequence {
                    return Err(Utf7Error::Adjacent);
                }
                for c in char::decode_utf16(units.iter().copied()) {
                    out.push(c.map_err(|_| Utf7Error::BadSurrogate)?);
                }
                after_sequence = true;
            }
            i = next;
        } else if (0x20..=0x7E).contains(&b) {
            out.push(char::from(b));
            after_sequence = false;
            i += 1;
        } else {
            return Err(Utf7Error::NotPrintable(b));
        }
    }
    Ok(out)
}

/// Validates the `&` sequences of `text` with Cyrus's rules (reference §3.5): well-formed
/// modified BASE64, no encoded US-ASCII, zero trailing bits, no adjacent sequences; `&-` is
/// `&`. Other bytes are not judged here ([`policy_check`] does that).
pub fn utf7_validate(text: &str) -> Result<(), Utf7Error> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut after_sequence = false;
    while let Some(&b) = bytes.get(i) {
        if b == b'&' {
            let (next, nonempty) = check_utf7_sequence(bytes, i, after_sequence, true)?;
            after_sequence = nonempty;
            i = next;
        } else {
            after_sequence = false;
            i += 1;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Namespaces: external <-> internal
// ---------------------------------------------------------------------------------------------

/// The `imapd.conf` options that shape external names (reference §3.2). They must be
/// identical on every frontend and backend of a murder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `unixhierarchysep`: `/` separates levels in external names (else `.`).
    pub unixhierarchysep: bool,
    /// `altnamespace`: non-admins see personal folders at the top level.
    pub altnamespace: bool,
    /// `virtdomains`: `on` and `userid` are both `true` here; they differ only in how a login
    /// finds its domain, which is not this module's business.
    pub virtdomains: bool,
    /// `defaultdomain`: the domain that is written as no domain.
    pub defaultdomain: String,
    /// `userprefix` (alternate namespace).
    pub userprefix: String,
    /// `sharedprefix` (alternate namespace).
    pub sharedprefix: String,
    /// `altprefix` (alternate namespace).
    pub altprefix: String,
    /// `deletedprefix`.
    pub deletedprefix: String,
    /// Size limits for names.
    pub limits: Limits,
}

impl Default for Namespace {
    /// Cyrus 3.x defaults.
    fn default() -> Self {
        Namespace {
            unixhierarchysep: true,
            altnamespace: true,
            virtdomains: false,
            defaultdomain: "internal".to_owned(),
            userprefix: "Other Users".to_owned(),
            sharedprefix: "Shared Folders".to_owned(),
            altprefix: "Alt Folders".to_owned(),
            deletedprefix: DEFAULT_DELETED_PREFIX.to_owned(),
            limits: Limits::default(),
        }
    }
}

impl Namespace {
    /// The external hierarchy separator.
    pub fn separator(&self) -> char {
        if self.unixhierarchysep {
            '/'
        } else {
            '.'
        }
    }

    /// Whether a session with these rights sees the alternate namespace (never for admins).
    pub fn is_alt(&self, is_admin: bool) -> bool {
        self.altnamespace && !is_admin
    }

    /// Splits a user id into local part and domain (`mbname_from_userid`): at the last `@`,
    /// with `defaultdomain` written as no domain.
    pub fn split_userid<'a>(&self, userid: &'a str) -> (&'a str, Option<&'a str>) {
        match userid.rsplit_once('@') {
            Some((local, dom)) => (local, self.real_domain(Some(dom))),
            None => (userid, None),
        }
    }

    fn real_domain<'a>(&self, d: Option<&'a str>) -> Option<&'a str> {
        d.filter(|d| *d != self.defaultdomain)
    }

    /// The INBOX of `userid` (`user.bob`, `example.com!user.dave`, `user.john^doe`).
    pub fn user_inbox(&self, userid: &str) -> Result<InternalName, NameError> {
        let (local, domain) = self.split_userid(userid);
        if local.is_empty() {
            return Err(NameError::Empty);
        }
        let parts = NameParts {
            domain: domain.map(str::to_owned),
            deleted: None,
            localpart: Some(local.to_owned()),
            boxes: Vec::new(),
        };
        parts.to_internal(&self.deletedprefix)
    }

    /// [`policy_check_with`] with this namespace's `virtdomains` and `deletedprefix`.
    pub fn policy_check(&self, name: &str) -> Result<(), InvalidName> {
        policy_check_with(name, self.virtdomains, &self.deletedprefix)
    }

    /// Maps an external name, as the session `user` typed it, to the internal name
    /// (`mbname_from_extname` without `crossdomains` and UTF-8 names).
    ///
    /// Admins always use the standard namespace and, with virtdomains, may end the name with
    /// `@domain`. `INBOX` is matched case-insensitively. The result is structurally valid but
    /// not policy-checked: a lookup must find existing names that CREATE would refuse.
    pub fn to_internal(
        &self,
        external: &str,
        user: Option<&str>,
        is_admin: bool,
    ) -> Result<InternalName, NameError> {
        if external.is_empty() {
            return Err(NameError::Empty);
        }
        if external.len() > self.limits.max_name_len {
            return Err(NameError::TooLong {
                len: external.len(),
                max: self.limits.max_name_len,
            });
        }
        // Without virtdomains `!` cannot be part of a name (reference §3.5): an internal name
        // holding one would be read as `domain!rest`. The user id is refused too, since its
        // local part becomes a level of the name.
        if !self.virtdomains && (external.contains('!') || user.is_some_and(|u| u.contains('!'))) {
            return Err(NameError::Policy(InvalidName::DomainWithoutVirtdomains));
        }
        let sep = self.separator();
        let user_parts = user.filter(|u| !u.is_empty()).map(|u| self.split_userid(u));
        let user_local = || {
            user_parts
                .map(|(l, _)| l.to_owned())
                .ok_or(NameError::NoUser)
        };
        let user_domain = user_parts.and_then(|(_, d)| d).map(str::to_owned);

        let mut name = external;
        let mut parts = NameParts::default();
        if self.virtdomains && is_admin {
            match external.rsplit_once('@') {
                Some((n, d)) => {
                    name = n;
                    parts.domain = self.real_domain(Some(d)).map(str::to_owned);
                }
                // A domain admin works inside their own domain.
                None => parts.domain = user_domain.clone(),
            }
        } else {
            parts.domain = user_domain.clone();
        }

        let mut boxes: Vec<String> = Vec::new();
        for level in name.split(sep) {
            if level.is_empty() {
                return Err(NameError::EmptyComponent);
            }
            boxes.push(self.level_from_external(level)?);
        }

        let not_a_mailbox = || NameError::NotAMailbox(external.to_owned());
        if self.is_alt(is_admin) {
            let top = boxes.first().cloned().unwrap_or_default();
            if top == self.altprefix {
                boxes.remove(0);
                parts.localpart = Some(user_local()?);
            } else if top == self.userprefix {
                boxes.remove(0);
                if boxes.is_empty() {
                    return Err(not_a_mailbox());
                }
                parts.localpart = Some(boxes.remove(0));
            } else if top == self.sharedprefix {
                boxes.remove(0);
                if boxes.is_empty() {
                    return Err(not_a_mailbox());
                }
            } else {
                parts.localpart = Some(user_local()?);
                if top.eq_ignore_ascii_case("INBOX") {
                    if boxes.len() == 1 {
                        boxes.clear();
                    } else if let Some(first) = boxes.first_mut() {
                        // Cyrus keeps INBOX/… below INBOX as a real level named "INBOX".
                        *first = "INBOX".to_owned();
                    }
                }
            }
        } else if boxes
            .first()
            .is_some_and(|t| t.eq_ignore_ascii_case("INBOX"))
        {
            boxes.remove(0);
            parts.localpart = Some(user_local()?);
        } else {
            if is_admin && boxes.first() == Some(&self.deletedprefix) && boxes.len() > 1 {
                let last = boxes.last().map(String::as_str).unwrap_or("");
                if let Some(t) = hex_time(last).filter(|_| is_hex(last)) {
                    boxes.remove(0);
                    boxes.pop();
                    parts.deleted = Some(t);
                }
            }
            if boxes.first().map(String::as_str) == Some("user") {
                boxes.remove(0);
                if boxes.is_empty() {
                    return Err(not_a_mailbox());
                }
                parts.localpart = Some(boxes.remove(0));
            }
            if boxes.is_empty() && parts.localpart.is_none() {
                return Err(not_a_mailbox());
            }
        }
        parts.boxes = boxes;
        let int = parts.to_internal(&self.deletedprefix)?;
        if int.as_str().len() > self.limits.max_name_len {
            return Err(NameError::TooLong {
                len: int.as_str().len(),
                max: self.limits.max_name_len,
            });
        }
        Ok(int)
    }

    /// One external level to its real characters (`^` stands for `.` without
    /// `unixhierarchysep`; it is refused with it, and `/` is refused in both).
    fn level_from_external(&self, level: &str) -> Result<String, NameError> {
        let mut out = String::with_capacity(level.len());
        for c in level.chars() {
            match c {
                '^' if self.unixhierarchysep => return Err(NameError::ForbiddenChar('^')),
                '^' => out.push('.'),
                '/' => return Err(NameError::ForbiddenChar('/')),
                '\0' | '\r' | '\n' | '\t' => return Err(NameError::ForbiddenChar(c)),
                other => out.push(other),
            }
        }
        Ok(out)
    }

    fn level_to_external(&self, level: &str, out: &mut String) {
        for c in level.chars() {
            if c == '.' && !self.unixhierarchysep {
                out.push('^');
            } else {
                out.push(c);
            }
        }
    }

    /// Maps an internal name to what the session `user` sees (`mbname_extname` without
    /// `crossdomains` and UTF-8 names). `None` when the name has no external form for this
    /// session: deleted mailboxes in the alternate namespace, or another domain's mailboxes
    /// for a non-admin.
    pub fn to_external(
        &self,
        internal: &InternalName,
        user: Option<&str>,
        is_admin: bool,
    ) -> Option<String> {
        let sep = self.separator();
        let admindomains = self.virtdomains && is_admin;
        let mut parts = internal.parts(&self.deletedprefix);
        parts.domain = self.real_domain(parts.domain.as_deref()).map(str::to_owned);
        let user_parts = user.filter(|u| !u.is_empty()).map(|u| self.split_userid(u));
        let user_domain = user_parts.and_then(|(_, d)| d);
        let session_userid = user_parts.map(|(l, d)| match d {
            Some(d) => format!("{l}@{d}"),
            None => l.to_owned(),
        });
        let owner = parts.userid();
        let is_own = owner.is_some() && owner == session_userid;
        let mut out = String::new();

        let push_levels = |out: &mut String, levels: &[String], leading_sep: bool| {
            for (i, l) in levels.iter().enumerate() {
                if i > 0 || leading_sep {
                    out.push(sep);
                }
                self.level_to_external(l, out);
            }
        };

        if self.is_alt(is_admin) {
            if parts.deleted.is_some() {
                return None;
            }
            match &parts.localpart {
                None => {
                    let top = parts.boxes.first()?;
                    if parts.boxes.len() == 1 && top == "user" {
                        out.push_str(&self.userprefix);
                    } else {
                        out.push_str(&self.sharedprefix);
                        push_levels(&mut out, &parts.boxes, true);
                    }
                }
                Some(local) if !is_own => {
                    out.push_str(&self.userprefix);
                    out.push(sep);
                    self.level_to_external(local, &mut out);
                    push_levels(&mut out, &parts.boxes, true);
                }
                Some(_) => match parts.boxes.first() {
                    None => out.push_str("INBOX"),
                    Some(top) => {
                        let needs_alt = if top.eq_ignore_ascii_case("INBOX") {
                            parts.boxes.len() == 1 || top != "INBOX"
                        } else {
                            *top == self.userprefix
                                || *top == self.sharedprefix
                                || *top == self.altprefix
                        };
                        if needs_alt {
                            out.push_str(&self.altprefix);
                            out.push(sep);
                        }
                        push_levels(&mut out, &parts.boxes, false);
                    }
                },
            }
            return Some(out);
        }

        if parts.deleted.is_some() {
            out.push_str(&self.deletedprefix);
            out.push(sep);
        }
        match &parts.localpart {
            None => {
                let top = parts.boxes.first()?;
                if top.eq_ignore_ascii_case("INBOX") {
                    return None;
                }
                if !admindomains && parts.domain.as_deref() != user_domain {
                    return None;
                }
                push_levels(&mut out, &parts.boxes, false);
            }
            Some(local) if parts.deleted.is_some() || !is_own => {
                if !admindomains && parts.domain.as_deref() != user_domain {
                    return None;
                }
                out.push_str("user");
                out.push(sep);
                self.level_to_external(local, &mut out);
                push_levels(&mut out, &parts.boxes, true);
            }
            Some(_) => {
                out.push_str("INBOX");
                push_levels(&mut out, &parts.boxes, true);
            }
        }
        if let Some(t) = parts.deleted {
            out.push(sep);
            out.push_str(&format!("{t:X}"));
        }
        if admindomains {
            if let Some(d) = &parts.domain {
                out.push('@');
                out.push_str(d);
            }
        }
        Some(out)
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---------------------------------------------------------------------------------------------
// Locations: server!partition
// ---------------------------------------------------------------------------------------------

/// Where a mailbox lives: a backend server, a partition, or both (reference §1.6, §3.4).
///
/// At least one part is present. A server is any non-empty run of printable ASCII without
/// `!` or space (it may carry a port, `localhost:12345`); a partition is 1–64 ASCII letters or
/// digits, folded to lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    server: Option<String>,
    partition: Option<String>,
}

impl Location {
    /// Builds a location from its parts, validating both.
    pub fn new(server: Option<&str>, partition: Option<&str>) -> Result<Self, NameError> {
        Self::with_limits(server, partition, &Limits::default())
    }

    /// [`Location::new`] with explicit limits.
    pub fn with_limits(
        server: Option<&str>,
        partition: Option<&str>,
        limits: &Limits,
    ) -> Result<Self, NameError> {
        let server = server.map(|s| check_server(s, limits)).transpose()?;
        let partition = partition.map(check_partition).transpose()?;
        if server.is_none() && partition.is_none() {
            return Err(NameError::EmptyServer);
        }
        Ok(Location { server, partition })
    }

    /// The backend's `servername`, if given.
    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    /// The partition (lower case), if given.
    pub fn partition(&self) -> Option<&str> {
        self.partition.as_deref()
    }

    /// Parses the MUPDATE location field: split at the first `!`; without `!` the whole
    /// string is the server (as the master stores it); a second `!` is refused.
    pub fn parse_mupdate(s: &str) -> Result<Self, NameError> {
        match s.split_once('!') {
            Some((_, p)) if p.contains('!') => Err(NameError::DoubleBang),
            Some((srv, "")) => Location::new(Some(srv), None),
            Some((srv, p)) => Location::new(Some(srv), Some(p)),
            None => Location::new(Some(s), None),
        }
    }

    /// The MUPDATE location field: `server!partition`, or `server` alone, or `partition`
    /// alone (`mupdate_config: replicated`, which a reader takes for a server, as Cyrus does).
    pub fn to_mupdate(&self) -> String {
        match (&self.server, &self.partition) {
            (Some(s), Some(p)) => format!("{s}!{p}"),
            (Some(s), None) => s.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => String::new(),
        }
    }

    /// Parses CREATE's legacy second argument: `partition` or `server!partition`.
    pub fn parse_create_arg(s: &str) -> Result<Self, NameError> {
        match s.split_once('!') {
            Some((_, p)) if p.contains('!') => Err(NameError::DoubleBang),
            Some((srv, "")) => Location::new(Some(srv), None),
            Some((srv, p)) => Location::new(Some(srv), Some(p)),
            None => Location::new(None, Some(s)),
        }
    }

    /// Parses RENAME's third argument: `server!partition`, `server!` (no partition: the
    /// mailbox keeps its partition name), or a bare word.
    ///
    /// A bare word that is a valid partition name is taken as a partition (a partition move);
    /// any other bare word is taken as a server. A backend that does not have that partition
    /// treats it as a server instead (reference §2.4); that decision needs the backend's
    /// configuration and is the caller's.
    pub fn parse_rename_arg(s: &str) -> Result<Self, NameError> {
        if !s.contains('!') {
            if check_partition(s).is_ok() {
                return Location::new(None, Some(s));
            }
            return Location::new(Some(s), None);
        }
        Self::parse_create_arg(s)
    }

    /// Parses `server`, `server!` or `server!partition`: the part of a RENAME target after
    /// the mailbox name (see [`split_rename_target`]).
    pub fn parse_server_form(s: &str) -> Result<Self, NameError> {
        match s.split_once('!') {
            Some((_, p)) if p.contains('!') => Err(NameError::DoubleBang),
            Some((srv, "")) => Location::new(Some(srv), None),
            Some((srv, p)) => Location::new(Some(srv), Some(p)),
            None => Location::new(Some(s), None),
        }
    }
}

impl fmt::Display for Location {
    /// The IMAP argument form: `server!partition`, `server!` or `partition`, which
    /// [`Location::parse_rename_arg`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.server, &self.partition) {
            (Some(s), Some(p)) => write!(f, "{s}!{p}"),
            (Some(s), None) => write!(f, "{s}!"),
            (None, Some(p)) => f.write_str(p),
            (None, None) => Ok(()),
        }
    }
}

fn check_server(s: &str, limits: &Limits) -> Result<String, NameError> {
    if s.is_empty() {
        return Err(NameError::EmptyServer);
    }
    if s.len() > limits.max_server_len || !s.bytes().all(|b| b.is_ascii_graphic() && b != b'!') {
        return Err(NameError::BadServer(s.chars().take(64).collect()));
    }
    Ok(s.to_owned())
}

/// Validates a partition name and folds it to lower case.
pub fn check_partition(p: &str) -> Result<String, NameError> {
    if p.is_empty() || p.len() > MAX_PARTITION_LEN || !p.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(NameError::BadPartition(
            p.chars().take(MAX_PARTITION_LEN + 1).collect(),
        ));
    }
    Ok(p.to_ascii_lowercase())
}

/// Splits a RENAME target written in the old install guide's form, `name!server[!partition]`
/// (`rename user.bcyrus user.bcyrus!u2`), into the new name and a location.
///
/// Rule: without `virtdomains` a `!` cannot be part of a name, so the first `!` ends the
/// name and the rest is `server`, `server!` or `server!partition`. With `virtdomains` the
/// first `!` ends the domain, so the *second* `!` ends the name. Cyrus 3.x itself does not
/// accept this form (reference §3.4); a frontend that wants to offer it converts it to the
/// three-argument RENAME. A target without such a `!` is returned whole with no location.
pub fn split_rename_target(
    target: &str,
    virtdomains: bool,
) -> Result<(&str, Option<Location>), NameError> {
    let name_end = if virtdomains {
        target.find('!').and_then(|d| {
            target
                .get(d + 1..)
                .and_then(|r| r.find('!'))
                .map(|i| d + 1 + i)
        })
    } else {
        target.find('!')
    };
    match name_end {
        None => Ok((target, None)),
        Some(end) => {
            let name = target.get(..end).unwrap_or("");
            if name.is_empty() {
                return Err(NameError::Empty);
            }
            let loc = Location::parse_server_form(target.get(end + 1..).unwrap_or(""))?;
            Ok((name, Some(loc)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// LIST patterns
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `*`: anything, separators included.
    Star,
    /// `%`: anything but the separator.
    Percent,
}

/// A compiled IMAP LIST pattern (RFC 3501 §6.3.8): the reference followed by the mailbox
/// pattern, where `*` matches anything and `%` matches anything but the hierarchy separator.
///
/// Matching simulates all pattern positions at once, so it takes at most
/// O(name length × pattern length) steps whatever the pattern; there is no backtracking.
/// A leading `INBOX` is matched case-insensitively, as IMAP requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    tokens: Vec<Token>,
    sep: u8,
    /// The pattern begins with the five letters INBOX (any case) followed by the end, the
    /// separator or a wildcard, so a name's INBOX prefix is compared case-insensitively.
    inbox_prefix: bool,
}

impl Pattern {
    /// Compiles `reference` + `pattern` for names using `separator`.
    pub fn new(reference: &str, pattern: &str, separator: char) -> Result<Self, NameError> {
        Self::with_limits(reference, pattern, separator, &Limits::default())
    }

    /// [`Pattern::new`] with explicit limits.
    pub fn with_limits(
        reference: &str,
        pattern: &str,
        separator: char,
        limits: &Limits,
    ) -> Result<Self, NameError> {
        let len = reference.len().saturating_add(pattern.len());
        if len > limits.max_pattern_len {
            return Err(NameError::PatternTooLong {
                len,
                max: limits.max_pattern_len,
            });
        }
        let sep = u8::try_from(u32::from(separator))
            .ok()
            .filter(u8::is_ascii)
            .ok_or(NameError::BadSeparator(separator))?;
        let mut tokens = Vec::with_capacity(len);
        for b in reference.bytes().chain(pattern.bytes()) {
            let t = match b {
                b'*' => Token::Star,
                b'%' => Token::Percent,
                other => Token::Byte(other),
            };
            // `**`, `*%` and `%*` all mean `*`; `%%` means `%`. Collapsing keeps the state set
            // small without changing what matches.
            match (tokens.last_mut(), t) {
                (Some(Token::Star), Token::Star | Token::Percent) => {}
                (Some(last @ Token::Percent), Token::Star) => *last = Token::Star,
                (Some(Token::Percent), Token::Percent) => {}
                _ => tokens.push(t),
            }
        }
        let inbox_prefix =
            tokens.len() >= 5
                && tokens.iter().take(5).zip(b"INBOX").all(
                    |(t, want)| matches!(t, Token::Byte(b) if b.to_ascii_uppercase() == *want),
                )
                && match tokens.get(5) {
                    None | Some(Token::Star | Token::Percent) => true,
                    Some(Token::Byte(b)) => *b == sep,
                };
        Ok(Pattern {
            tokens,
            sep,
            inbox_prefix,
        })
    }

    /// Does `name` match? Names longer than the pattern limit still match in linear time.
    pub fn matches(&self, name: &str) -> bool {
        let n = self.tokens.len();
        let mut cur = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        self.activate(&mut cur, 0);
        for (pos, &raw) in name.as_bytes().iter().enumerate() {
            let c = if self.inbox_prefix && pos < 5 {
                raw.to_ascii_uppercase()
            } else {
                raw
            };
            next.iter_mut().for_each(|x| *x = false);
            let mut any = false;
            for i in 0..n {
                if !cur.get(i).copied().unwrap_or(false) {
                    continue;
                }
                match self.tokens.get(i) {
                    Some(Token::Byte(b)) => {
                        let want = if self.inbox_prefix && i < 5 {
                            b.to_ascii_uppercase()
                        } else {
                            *b
                        };
                        if want == c {
                            self.activate(&mut next, i + 1);
                            any = true;
                        }
                    }
                    Some(Token::Star) => {
                        self.activate(&mut next, i);
                        any = true;
                    }
                    Some(Token::Percent) if c != self.sep => {
                        self.activate(&mut next, i);
                        any = true;
                    }
                    Some(Token::Percent) | None => {}
                }
            }
            if !any {
                return false;
            }
            std::mem::swap(&mut cur, &mut next);
        }
        cur.get(n).copied().unwrap_or(false)
    }

    /// Marks position `i` active, and every position reachable from it by letting wildcards
    /// match nothing.
    fn activate(&self, set: &mut [bool], mut i: usize) {
        loop {
            if let Some(slot) = set.get_mut(i) {
                *slot = true;
            }
            match self.tokens.get(i) {
                Some(Token::Star | Token::Percent) => i += 1,
                _ => break,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// mailboxes.db keys
// ---------------------------------------------------------------------------------------------

/// The separator Cyrus 3.6+ puts between hierarchy levels in a mailboxes.db key ("dbname").
pub const DBNAME_SEP: u8 = 0x1F;
/// The separator between the domain and the rest of a dbname.
pub const DBNAME_DOMAIN_SEP: u8 = 0x1D;

/// The mailboxes.db key of an internal name, in Cyrus 3.6+ form (reference §3.3).
///
/// Keys compare bytewise, and the hierarchy separator (0x1F) sorts below every printable byte,
/// so `user.test2.a.b` comes before `user.test2.a-b`. MUPDATE LIST/UPDATE order and
/// `ctl_mboxlist -m` depend on every host agreeing on this order.
pub fn dbname_key(internal: &str) -> Vec<u8> {
    let (domain, rest) = match internal.split_once('!') {
        Some((d, r)) => (Some(d), r),
        None => (None, internal),
    };
    let mut key = Vec::with_capacity(internal.len() + 1);
    if let Some(d) = domain {
        key.extend_from_slice(d.as_bytes());
        key.push(DBNAME_DOMAIN_SEP);
    }
    for b in rest.bytes() {
        key.push(match b {
            b'.' => DBNAME_SEP,
            b'^' => b'.',
            other => other,
        });
    }
    key
}

/// The internal name for a mailboxes.db key made by [`dbname_key`].
pub fn internal_from_dbname(key: &[u8]) -> String {
    let mut out = Vec::with_capacity(key.len());
    // The domain is kept verbatim: only the part after it uses the hierarchy mapping.
    let rest = match key.iter().position(|&b| b == DBNAME_DOMAIN_SEP) {
        Some(i) => {
            out.extend_from_slice(&key[..i]);
            out.push(b'!');
            &key[i + 1..]
        }
        None => key,
    };
    for &b in rest {
        out.push(match b {
            DBNAME_SEP => b'.',
            b'.' => b'^',
            other => other,
        });
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mailboxes.db key order of Cyrus 3.0–3.4 (reference §3.3): the internal name's bytes,
/// compared plainly (`improved_mboxlist_sort: no`, the default). A master serving 3.0–3.4
/// backends may sort by this instead of [`dbname_key`].
pub fn legacy_key(internal: &str) -> Vec<u8> {
    internal.as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dbname_orders_separator_below_printables() {
        assert!(dbname_key("user.test2.a.b") < dbname_key("user.test2.a-b"));
    }

    #[test]
    fn dbname_round_trips() {
        for n in [
            "user.bob",
            "example.com!user.dave.Sent",
            "user.john^doe.a^b",
            "DELETED.user.x.65E33B49",
        ] {
            assert_eq!(internal_from_dbname(&dbname_key(n)), n);
        }
    }

    #[test]
    fn legacy_key_orders_by_internal_bytes() {
        // 3.0-3.4 default order is the reverse of the 3.6 order for this pair (issue #5043).
        assert!(legacy_key("user.test2.a-b") < legacy_key("user.test2.a.b"));
    }

    // ----- internal names -----

    #[test]
    fn internal_name_accessors_follow_reference_examples() {
        let n = InternalName::new("user.alice.Sent").unwrap();
        assert_eq!(n.domain(), None);
        assert!(n.is_user_mailbox());
        assert!(!n.is_user_inbox());
        assert_eq!(n.owner().as_deref(), Some("alice"));
        assert_eq!(n.user_inbox().unwrap().as_str(), "user.alice");
        assert_eq!(n.parent().unwrap().as_str(), "user.alice");
        assert_eq!(
            n.components().collect::<Vec<_>>(),
            ["user", "alice", "Sent"]
        );

        let d = InternalName::new("example.com!user.dave.Sent").unwrap();
        assert_eq!(d.domain(), Some("example.com"));
        assert_eq!(d.owner().as_deref(), Some("dave@example.com"));
        assert_eq!(d.user_inbox().unwrap().as_str(), "example.com!user.dave");
        assert_eq!(d.parent().unwrap().as_str(), "example.com!user.dave");
        assert_eq!(d.without_domain(), "user.dave.Sent");

        let j = InternalName::new("user.john^doe.a^b").unwrap();
        assert_eq!(j.owner().as_deref(), Some("john.doe"));
        assert_eq!(j.parts(DEFAULT_DELETED_PREFIX).boxes, ["a.b"]);

        let del = InternalName::new("DELETED.user.bob.Trash.65E33B49").unwrap();
        assert!(del.is_deleted());
        assert!(!del.is_user_mailbox());
        assert_eq!(del.owner().as_deref(), Some("bob"));
        let p = del.parts(DEFAULT_DELETED_PREFIX);
        assert_eq!(p.deleted, Some(0x65E3_3B49));
        assert_eq!(p.boxes, ["Trash"]);
        assert_eq!(p.to_internal(DEFAULT_DELETED_PREFIX).unwrap(), del);

        let ddel = InternalName::new("example.com!DELETED.user.dave.Trash.65E33B49").unwrap();
        assert!(ddel.is_deleted());
        assert_eq!(ddel.owner().as_deref(), Some("dave@example.com"));

        let shared = InternalName::new("shared.team").unwrap();
        assert!(!shared.is_user_mailbox());
        assert_eq!(shared.owner(), None);
        assert_eq!(shared.parent().unwrap().as_str(), "shared");
        assert_eq!(InternalName::new("team").unwrap().parent(), None);
        assert_eq!(InternalName::new("user.bob").unwrap().parent(), None);
        assert!(InternalName::new("user.bob").unwrap().is_user_inbox());
        // "user" alone is a (policy-invalid) shared name, not a user mailbox.
        assert_eq!(InternalName::new("user").unwrap().owner(), None);
    }

    #[test]
    fn internal_name_rejects_broken_structure() {
        assert_eq!(InternalName::new(""), Err(NameError::Empty));
        assert_eq!(
            InternalName::new("user..bob"),
            Err(NameError::EmptyComponent)
        );
        assert_eq!(InternalName::new(".user"), Err(NameError::EmptyComponent));
        assert_eq!(InternalName::new("user."), Err(NameError::EmptyComponent));
        assert_eq!(InternalName::new("!user.bob"), Err(NameError::EmptyDomain));
        assert_eq!(InternalName::new("example.com!"), Err(NameError::Empty));
        assert_eq!(
            InternalName::new("user.b\tob"),
            Err(NameError::ForbiddenChar('\t'))
        );
        let long = "a".repeat(1025);
        assert!(matches!(
            InternalName::new(&long),
            Err(NameError::TooLong { .. })
        ));
    }

    #[test]
    fn policy_check_known_answers() {
        use InvalidName as I;
        let ok = [
            "user.bob",
            "user.bob.Sent",
            "shared.team",
            "user.john^doe",
            "user.bob.Entw&APw-rfe",
            "user.bob.a&-b",
            "user.bob.&AOQ-&-&APY-",
            "lists.announce",
            "user.$bar",
        ];
        for n in ok {
            assert_eq!(policy_check(n, false), Ok(()), "{n}");
        }
        assert_eq!(policy_check("example.com!user.dave.Sent", true), Ok(()));
        // With virtdomains a further '!' after the domain is tolerated.
        assert_eq!(policy_check("example.com!user.a!b", true), Ok(()));
        // Deleted names skip the check, even when long.
        let long_deleted = format!("DELETED.user.bob.{}.65E33B49", "x".repeat(600));
        assert_eq!(policy_check(&long_deleted, false), Ok(()));

        let bad: &[(&str, I)] = &[
            ("$RACL", I::ReservedDollar),
            ("user.bob!backend2", I::DomainWithoutVirtdomains),
            (".user", I::BadStart('.')),
            ("~bob", I::BadStart('~')),
            ("user.bob.", I::TrailingDot),
            ("user..bob", I::EmptyComponent),
            ("user.bob\r", I::Whitespace),
            ("user", I::Reserved("user".into())),
            ("user.anyone", I::Reserved("user.anyone".into())),
            ("user.anonymous", I::Reserved("user.anonymous".into())),
            ("user.%x", I::Reserved("user.%x".into())),
            ("user.bob/x", I::BadChar('/')),
            ("user.bob.\"q\"", I::BadChar('"')),
            ("user.bob.ü", I::BadChar('ü')),
            ("user.bob.&AGE-", I::Utf7(Utf7Error::EncodedAscii(0x61))),
            ("user.bob.&AOQ", I::Utf7(Utf7Error::Unterminated(9))),
            ("user.bob.&AOQ-&APY-", I::Utf7(Utf7Error::Adjacent)),
            ("user.bob.&AOR-", I::Utf7(Utf7Error::BadPadding(9))),
            ("user.bob.&A~Q-", I::Utf7(Utf7Error::BadBase64(b'~'))),
        ];
        for (n, want) in bad {
            assert_eq!(policy_check(n, false).as_ref(), Err(want), "{n}");
        }
        assert_eq!(policy_check("example.com!", true), Err(I::Empty));
        let long = format!("user.{}", "a".repeat(486));
        assert_eq!(
            policy_check(&long, false),
            Err(I::TooLong { len: 491, max: 490 })
        );
        assert_eq!(policy_check(&long[..490], false), Ok(()));
    }

    // ----- modified UTF-7 -----

    #[test]
    fn utf7_known_answers() {
        // RFC 3501 §5.1.3 example and common cases.
        let table = [
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("a&b", "a&-b"),
            ("&", "&-"),
            ("", ""),
            ("ä", "&AOQ-"),
            ("äö", "&AOQA9g-"),
            ("äöü", "&AOQA9gD8-"),
            ("😀", "&2D3eAA-"),
        ];
        for (utf8, utf7) in table {
            assert_eq!(utf7_encode(utf8), utf7, "{utf8}");
            assert_eq!(utf7_decode(utf7).as_deref(), Ok(utf8), "{utf7}");
            assert_eq!(utf7_validate(utf7), Ok(()));
        }
        assert_eq!(utf7_decode("&2D0-"), Err(Utf7Error::BadSurrogate));
        assert_eq!(utf7_decode("a\u{e4}"), Err(Utf7Error::NotPrintable(0xC3)));
        assert_eq!(utf7_decode("&AGE-"), Err(Utf7Error::EncodedAscii(0x61)));
        assert_eq!(utf7_decode("&AOQ-&APY-"), Err(Utf7Error::Adjacent));
        assert_eq!(utf7_decode("&AOQ-&-&APY-").as_deref(), Ok("ä&ö"));
        // RFC 3501 decoders keep encoded control characters; Cyrus's policy refuses them.
        assert_eq!(utf7_decode(&utf7_encode("\u{1}")).as_deref(), Ok("\u{1}"));
        assert_eq!(
            utf7_validate(&utf7_encode("\u{1}")),
            Err(Utf7Error::EncodedAscii(1))
        );
    }

    // ----- namespaces -----

    fn standard_dot() -> Namespace {
        Namespace {
            unixhierarchysep: false,
            altnamespace: false,
            ..Namespace::default()
        }
    }

    #[test]
    fn transcript_namespace_standard_with_dot_separator() {
        // 06b-imap-wire-frontend-bob.txt: NAMESPACE (("INBOX." ".")) (("user." ".")) (("" "."))
        let ns = standard_dot();
        let cases = [
            ("INBOX", "user.bob"),
            ("INBOX.Drafts", "user.bob.Drafts"),
            ("user.alice", "user.alice"),
            ("user.alice.Sent", "user.alice.Sent"),
            ("user.alice.Trash", "user.alice.Trash"),
        ];
        for (ext, int) in cases {
            let i = ns.to_internal(ext, Some("bob"), false).unwrap();
            assert_eq!(i.as_str(), int);
            assert_eq!(ns.to_external(&i, Some("bob"), false).as_deref(), Some(ext));
        }
        assert_eq!(
            ns.to_internal("inbox.Drafts", Some("bob"), false)
                .unwrap()
                .as_str(),
            "user.bob.Drafts"
        );
        // The admin (cyradm as cyrus) sees every user under user.
        let i = InternalName::new("user.bob.Drafts").unwrap();
        assert_eq!(
            ns.to_external(&i, Some("cyrus"), true).as_deref(),
            Some("user.bob.Drafts")
        );
        // '^' stands for a dot inside a level when the separator is '.'.
        let j = ns
            .to_internal("user.john^doe.a^b", Some("bob"), false)
            .unwrap();
        assert_eq!(j.as_str(), "user.john^doe.a^b");
        assert_eq!(
            ns.to_external(&j, Some("bob"), false).as_deref(),
            Some("user.john^doe.a^b")
        );
    }

    #[test]
    fn unixhierarchysep_standard_namespace() {
        let ns = Namespace {
            altnamespace: false,
            ..Namespace::default()
        };
        let i = ns.to_internal("INBOX/Sent", Some("bob"), false).unwrap();
        assert_eq!(i.as_str(), "user.bob.Sent");
        assert_eq!(
            ns.to_internal("user/john.doe/a.b", Some("bob"), false)
                .unwrap()
                .as_str(),
            "user.john^doe.a^b"
        );
        assert_eq!(
            ns.to_internal("user/bob^x", Some("bob"), false),
            Err(NameError::ForbiddenChar('^'))
        );
        assert_eq!(
            ns.to_internal("team", Some("bob"), false).unwrap().as_str(),
            "team"
        );
        assert_eq!(
            ns.to_internal("a//b", Some("bob"), false),
            Err(NameError::EmptyComponent)
        );
        assert_eq!(ns.to_internal("INBOX", None, false), Err(NameError::NoUser));
        // john.doe's own INBOX.
        let jd = ns.user_inbox("john.doe").unwrap();
        assert_eq!(jd.as_str(), "user.john^doe");
        assert_eq!(
            ns.to_external(&jd, Some("john.doe"), false).as_deref(),
            Some("INBOX")
        );
        assert_eq!(
            ns.to_external(&jd, Some("bob"), false).as_deref(),
            Some("user/john.doe")
        );
    }

    #[test]
    fn alternate_namespace_reference_examples() {
        let ns = Namespace::default();
        let cases = [
            ("INBOX", "user.bob"),
            ("Sent", "user.bob.Sent"),
            ("Sent/2024", "user.bob.Sent.2024"),
            ("Other Users/alice/Sent", "user.alice.Sent"),
            ("Other Users/alice", "user.alice"),
            ("Shared Folders/team", "team"),
            ("Shared Folders/team/x.y", "team.x^y"),
            ("Alt Folders/Other Users", "user.bob.Other Users"),
            ("Alt Folders/inbox", "user.bob.inbox"),
            ("Alt Folders/INBOX", "user.bob.INBOX"),
            ("INBOX/sub", "user.bob.INBOX.sub"),
            ("Alt Folders/Inbox/sub", "user.bob.Inbox.sub"),
        ];
        for (ext, int) in cases {
            let i = ns.to_internal(ext, Some("bob"), false).unwrap();
            assert_eq!(i.as_str(), int, "{ext}");
            assert_eq!(
                ns.to_external(&i, Some("bob"), false).as_deref(),
                Some(ext),
                "{int}"
            );
        }
        assert_eq!(
            ns.to_internal("inbox", Some("bob"), false)
                .unwrap()
                .as_str(),
            "user.bob"
        );
        assert_eq!(
            ns.to_internal("Inbox/x", Some("bob"), false)
                .unwrap()
                .as_str(),
            "user.bob.INBOX.x"
        );
        assert!(matches!(
            ns.to_internal("Other Users", Some("bob"), false),
            Err(NameError::NotAMailbox(_))
        ));
        assert!(matches!(
            ns.to_internal("Shared Folders", Some("bob"), false),
            Err(NameError::NotAMailbox(_))
        ));
        let user_alone = InternalName::new("user").unwrap();
        assert_eq!(
            ns.to_external(&user_alone, Some("bob"), false).as_deref(),
            Some("Other Users")
        );
        // Deleted mailboxes have no alternate-namespace name; admins see them.
        let del = InternalName::new("DELETED.user.bob.Trash.65E33B49").unwrap();
        assert_eq!(ns.to_external(&del, Some("bob"), false), None);
        assert_eq!(
            ns.to_external(&del, Some("cyrus"), true).as_deref(),
            Some("DELETED/user/bob/Trash/65E33B49")
        );
        assert_eq!(
            ns.to_internal("DELETED/user/bob/Trash/65E33B49", Some("cyrus"), true)
                .unwrap(),
            del
        );
        // Admins always get the standard namespace.
        assert_eq!(
            ns.to_internal("user/bob/Sent", Some("cyrus"), true)
                .unwrap()
                .as_str(),
            "user.bob.Sent"
        );
        assert_eq!(
            ns.to_internal("Sent", Some("cyrus"), true)
                .unwrap()
                .as_str(),
            "Sent"
        );
    }

    #[test]
    fn virtdomains_admin_form() {
        let ns = Namespace {
            virtdomains: true,
            altnamespace: false,
            ..Namespace::default()
        };
        let i = ns
            .to_internal("user/dave/Sent@example.com", Some("cyrus"), true)
            .unwrap();
        assert_eq!(i.as_str(), "example.com!user.dave.Sent");
        assert_eq!(
            ns.to_external(&i, Some("cyrus"), true).as_deref(),
            Some("user/dave/Sent@example.com")
        );
        // defaultdomain is written as no domain.
        assert_eq!(
            ns.to_internal("user/dave@internal", Some("cyrus"), true)
                .unwrap()
                .as_str(),
            "user.dave"
        );
        // A domain admin works in their own domain.
        assert_eq!(
            ns.to_internal("user/dave", Some("admin@example.com"), true)
                .unwrap()
                .as_str(),
            "example.com!user.dave"
        );
        // The user dave@example.com sees their own INBOX, and nothing of other domains.
        let inbox = ns
            .to_internal("INBOX", Some("dave@example.com"), false)
            .unwrap();
        assert_eq!(inbox.as_str(), "example.com!user.dave");
        assert_eq!(
            ns.to_external(&inbox, Some("dave@example.com"), false)
                .as_deref(),
            Some("INBOX")
        );
        assert_eq!(
            ns.to_internal("team", Some("dave@example.com"), false)
                .unwrap()
                .as_str(),
            "example.com!team"
        );
        let other = InternalName::new("other.org!user.x").unwrap();
        assert_eq!(
            ns.to_external(&other, Some("dave@example.com"), false),
            None
        );
        assert_eq!(
            ns.user_inbox("dave@example.com").unwrap().as_str(),
            "example.com!user.dave"
        );
    }

    // ----- locations -----

    #[test]
    fn location_forms() {
        let l = Location::parse_mupdate("be1.example.org!default").unwrap();
        assert_eq!(
            (l.server(), l.partition()),
            (Some("be1.example.org"), Some("default"))
        );
        assert_eq!(l.to_mupdate(), "be1.example.org!default");
        let l = Location::parse_mupdate("localhost:12345!default").unwrap();
        assert_eq!(l.server(), Some("localhost:12345"));
        let l = Location::parse_mupdate("backend2").unwrap();
        assert_eq!((l.server(), l.partition()), (Some("backend2"), None));
        assert_eq!(l.to_mupdate(), "backend2");
        assert_eq!(Location::parse_mupdate("a!b!c"), Err(NameError::DoubleBang));
        assert_eq!(
            Location::parse_mupdate("!default"),
            Err(NameError::EmptyServer)
        );
        assert_eq!(Location::parse_mupdate(""), Err(NameError::EmptyServer));

        // CREATE: "cm user.alice backend1!default" (01-cyradm-frontend.txt) or a partition.
        let c = Location::parse_create_arg("backend1!default").unwrap();
        assert_eq!(
            (c.server(), c.partition()),
            (Some("backend1"), Some("default"))
        );
        let c = Location::parse_create_arg("Part2").unwrap();
        assert_eq!((c.server(), c.partition()), (None, Some("part2")));
        assert_eq!(c.to_string(), "part2");
        assert!(matches!(
            Location::parse_create_arg("part_2"),
            Err(NameError::BadPartition(_))
        ));
        assert!(matches!(
            Location::parse_create_arg(&"p".repeat(65)),
            Err(NameError::BadPartition(_))
        ));

        // RENAME third argument (reference §2.4, 01-cyradm-frontend.txt).
        let r = Location::parse_rename_arg("backend2!default").unwrap();
        assert_eq!(r.to_string(), "backend2!default");
        let r = Location::parse_rename_arg("be2.example.org!").unwrap();
        assert_eq!((r.server(), r.partition()), (Some("be2.example.org"), None));
        assert_eq!(r.to_string(), "be2.example.org!");
        let r = Location::parse_rename_arg("part2").unwrap();
        assert_eq!((r.server(), r.partition()), (None, Some("part2")));
        let r = Location::parse_rename_arg("be2.example.org").unwrap();
        assert_eq!((r.server(), r.partition()), (Some("be2.example.org"), None));
        assert!(Location::new(None, None).is_err());
        assert!(matches!(
            Location::new(Some("a b"), None),
            Err(NameError::BadServer(_))
        ));
    }

    #[test]
    fn rename_target_split_rule() {
        // The old install guide: "rename user.bcyrus user.bcyrus!u2".
        let (n, l) = split_rename_target("user.bcyrus!u2", false).unwrap();
        assert_eq!(n, "user.bcyrus");
        let l = l.unwrap();
        assert_eq!((l.server(), l.partition()), (Some("u2"), None));
        let (n, l) = split_rename_target("user.bcyrus!u2!part2", false).unwrap();
        assert_eq!(n, "user.bcyrus");
        assert_eq!(l.unwrap().to_string(), "u2!part2");
        assert_eq!(
            split_rename_target("user.bcyrus", false).unwrap(),
            ("user.bcyrus", None)
        );
        // With virtdomains the first '!' belongs to the domain.
        assert_eq!(
            split_rename_target("example.com!user.dave", true).unwrap(),
            ("example.com!user.dave", None)
        );
        let (n, l) = split_rename_target("example.com!user.dave!be2", true).unwrap();
        assert_eq!(n, "example.com!user.dave");
        assert_eq!(l.unwrap().server(), Some("be2"));
        assert_eq!(split_rename_target("!be2", false), Err(NameError::Empty));
        assert_eq!(
            split_rename_target("a!b!c!d", false),
            Err(NameError::DoubleBang)
        );
    }

    // ----- `!`, domains and dbname keys (fuzz findings) -----

    #[test]
    fn bang_in_an_external_name_or_user_is_refused_without_virtdomains() {
        let ns = Namespace {
            unixhierarchysep: false,
            ..Namespace::default()
        };
        let refused = Err(NameError::Policy(InvalidName::DomainWithoutVirtdomains));
        assert_eq!(ns.to_internal("a!b", Some("bob"), false), refused);
        assert_eq!(ns.to_internal("INBOX.a!b", Some("bob"), false), refused);
        assert_eq!(ns.to_internal("user.a!b", None, true), refused);
        assert_eq!(ns.to_internal("a", Some("b!ob"), false), refused);
        // The fuzzer's input: user "E\u{FFFD}\u{FFFD}/" and name "+!\x01" in the alt namespace.
        let uhs = Namespace::default();
        assert_eq!(
            uhs.to_internal("+!\x01", Some("E\u{FFFD}/"), false),
            refused
        );
        assert_eq!(
            ns.to_internal("a", Some("bob"), false).unwrap().as_str(),
            "user.bob.a"
        );
    }

    #[test]
    fn bang_in_a_level_needs_a_domain_in_front_of_it_with_virtdomains() {
        let ns = Namespace {
            unixhierarchysep: false,
            virtdomains: true,
            ..Namespace::default()
        };
        // Without a domain the `!` would be read back as the end of a domain.
        assert_eq!(
            ns.to_internal("a!b", Some("bob"), false),
            Err(NameError::ForbiddenChar('!'))
        );
        // With a domain, a later `!` is only a character (Cyrus tolerates it, reference §3.5).
        let int = ns
            .to_internal("a!b", Some("bob@example.com"), false)
            .unwrap();
        assert_eq!(int.as_str(), "example.com!user.bob.a!b");
        assert_eq!(int.domain(), Some("example.com"));
        assert_eq!(
            ns.to_internal("user.x@ex!ample", Some("admin"), true),
            Err(NameError::ForbiddenChar('!'))
        );
    }

    #[test]
    fn policy_check_refuses_a_domain_that_is_not_dns_like() {
        use InvalidName as I;
        assert_eq!(policy_check("example-1.com!user.dave", true), Ok(()));
        for (name, domain) in [
            ("&\x1d!!", "&\x1d"),
            ("\x1d\x1c/#!ser", "\x1d\x1c/#"),
            ("ex\x1fample!user.dave", "ex\x1fample"),
            ("ex ample!user.dave", "ex ample"),
            ("!user.dave", ""),
        ] {
            assert_eq!(
                policy_check(name, true),
                Err(I::BadDomain(domain.to_owned())),
                "{name:?}"
            );
        }
    }

    #[test]
    fn internal_names_holding_dbname_separators_are_refused() {
        for name in ["user.a\x1fb", "user.a\x1db", "&\x1d!!", "\x1d\x1c/#!ser"] {
            assert!(
                matches!(InternalName::new(name), Err(NameError::ForbiddenChar(_))),
                "{name:?}"
            );
        }
        for name in ["example.com!user.a!b", "user.john^doe.x", "d!!"] {
            let n = InternalName::new(name).unwrap();
            assert_eq!(internal_from_dbname(&dbname_key(n.as_str())), n.as_str());
        }
    }

    #[test]
    fn a_user_id_with_a_caret_has_no_internal_name() {
        // Fuzz finding: user `r^/V` made `user.r^/V…`, whose owner reads back as `r./V`, so the
        // session's own mailbox was shown under Other Users and mapped back elsewhere.
        let ns = Namespace::default();
        assert_eq!(
            ns.to_internal("x", Some("r^/V"), false),
            Err(NameError::ForbiddenChar('^'))
        );
        assert_eq!(ns.user_inbox("a^b"), Err(NameError::ForbiddenChar('^')));
        let parts = NameParts {
            boxes: vec!["a^b".into()],
            ..NameParts::default()
        };
        assert_eq!(
            parts.to_internal("DELETED"),
            Err(NameError::ForbiddenChar('^'))
        );
        // A `.` in a user id is what `^` is for.
        assert_eq!(ns.user_inbox("john.doe").unwrap().as_str(), "user.john^doe");
    }

    #[test]
    fn name_parts_with_a_bang_that_would_move_the_domain_are_refused() {
        let parts = NameParts {
            localpart: Some("bob".into()),
            boxes: vec!["a!b".into()],
            ..NameParts::default()
        };
        assert_eq!(
            parts.to_internal("DELETED"),
            Err(NameError::ForbiddenChar('!'))
        );
        let with_domain = NameParts {
            domain: Some("example.com".into()),
            ..parts.clone()
        };
        let int = with_domain.to_internal("DELETED").unwrap();
        assert_eq!(int.parts("DELETED"), with_domain);
        let bad_domain = NameParts {
            domain: Some("a!b".into()),
            ..parts
        };
        assert_eq!(
            bad_domain.to_internal("DELETED"),
            Err(NameError::ForbiddenChar('!'))
        );
    }

    // ----- patterns -----

    #[test]
    fn pattern_known_answers() {
        let p = |r: &str, pat: &str| Pattern::new(r, pat, '.').unwrap();
        assert!(p("", "*").matches("user.alice.Sent"));
        assert!(p("", "%").matches("user"));
        assert!(!p("", "%").matches("user.alice"));
        assert!(p("user.", "%").matches("user.alice"));
        assert!(!p("user.", "%").matches("user.alice.Sent"));
        assert!(p("", "user.%.Sent").matches("user.alice.Sent"));
        assert!(p("", "user.*").matches("user.alice.Sent"));
        assert!(!p("", "user.*").matches("user"));
        assert!(p("", "user*").matches("user"));
        assert!(p("", "*Sent").matches("user.alice.Sent"));
        assert!(!p("", "*Sent").matches("user.alice.Sent2"));
        assert!(p("", "inbox").matches("INBOX"));
        assert!(p("", "Inbox.%").matches("INBOX.Drafts"));
        assert!(!p("", "inbox.drafts").matches("INBOX.Drafts"));
        assert!(!p("", "inboxes").matches("INBOXES"));
        assert!(p("", "").matches(""));
        assert!(!p("", "").matches("a"));
        let slash = Pattern::new("", "Other Users/%", '/').unwrap();
        assert!(slash.matches("Other Users/alice"));
        assert!(!slash.matches("Other Users/alice/Sent"));
        assert!(Pattern::new("", "x", 'ü').is_err());
        assert!(matches!(
            Pattern::new("", &"*".repeat(2000), '.'),
            Err(NameError::PatternTooLong { .. })
        ));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pat = Pattern::new("", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", '.').unwrap();
        let name = "a".repeat(5000);
        let t = std::time::Instant::now();
        assert!(!pat.matches(&name));
        let mut yes = name.clone();
        yes.push('b');
        assert!(pat.matches(&yes));
        let pct = Pattern::new("", "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b", '.').unwrap();
        assert!(!pct.matches(&name));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "took {:?}",
            t.elapsed()
        );
    }

    // ----- property tests -----

    /// A policy-valid level: GOODCHARS minus '.', not "user"/"DELETED"-like traps at the top.
    fn level() -> impl Strategy<Value = String> {
        "[A-Za-z0-9 _+,=-]{1,8}"
    }

    /// Reference matcher with backtracking, for short inputs only.
    fn naive(p: &[u8], n: &[u8], sep: u8) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| naive(rest, &n[i..], sep)),
            Some((b'%', rest)) => {
                let stop = n.iter().position(|&c| c == sep).unwrap_or(n.len());
                (0..=stop).any(|i| naive(rest, &n[i..], sep))
            }
            Some((c, rest)) => n.first() == Some(c) && naive(rest, &n[1..], sep),
        }
    }

    proptest! {
        #[test]
        fn utf7_round_trips(s in any::<String>()) {
            let enc = utf7_encode(&s);
            prop_assert!(enc.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(utf7_decode(&enc), Ok(s));
        }

        #[test]
        fn utf7_of_non_ascii_passes_cyrus_validation(s in "[a-z &]{0,4}[\u{80}-\u{10FFFF}]{0,6}[a-z &]{0,4}") {
            prop_assert_eq!(utf7_validate(&utf7_encode(&s)), Ok(()));
        }

        #[test]
        fn utf7_decode_never_panics(s in any::<String>()) {
            let _ = utf7_decode(&s);
            let _ = utf7_validate(&s);
        }

        #[test]
        fn utf7_decode_of_ascii_soup_never_panics(s in "[&A-Za-z0-9+,\\-]{0,40}") {
            if let Ok(d) = utf7_decode(&s) {
                // Whatever decodes re-encodes to the same text (the encoding is canonical).
                prop_assert_eq!(utf7_encode(&d), s);
            }
        }

        #[test]
        fn parsers_never_panic(s in any::<String>(), virt in any::<bool>(), admin in any::<bool>()) {
            let _ = InternalName::new(&s).map(|n| (n.parts("DELETED"), n.parent(), n.owner(), n.user_inbox()));
            let _ = policy_check(&s, virt);
            let _ = Location::parse_mupdate(&s);
            let _ = Location::parse_create_arg(&s);
            let _ = Location::parse_rename_arg(&s);
            let _ = split_rename_target(&s, virt);
            let ns = Namespace { virtdomains: virt, ..Namespace::default() };
            if let Ok(i) = ns.to_internal(&s, Some("bob"), admin) {
                let _ = ns.to_external(&i, Some("bob"), admin);
            }
            let _ = standard_dot().to_internal(&s, None, admin);
            if let Ok(p) = Pattern::new("", &s, '/') {
                let _ = p.matches(&s);
            }
            let _ = internal_from_dbname(s.as_bytes());
        }

        #[test]
        fn names_round_trip_through_every_namespace(
            user_mbox in any::<bool>(),
            owner in prop_oneof![Just("bob".to_string()), "[a-z]{1,5}(\\.[a-z]{1,3})?"],
            levels in prop::collection::vec(level(), 0..4),
            uhs in any::<bool>(),
            alt in any::<bool>(),
            admin in any::<bool>(),
        ) {
            let ns = Namespace { unixhierarchysep: uhs, altnamespace: alt, ..Namespace::default() };
            let parts = if user_mbox {
                NameParts { localpart: Some(owner), boxes: levels, ..NameParts::default() }
            } else {
                prop_assume!(!levels.is_empty());
                let top = &levels[0];
                prop_assume!(top != "user" && !top.eq_ignore_ascii_case("inbox") && top != "DELETED");
                NameParts { boxes: levels, ..NameParts::default() }
            };
            let int = parts.to_internal("DELETED").unwrap();
            prop_assert_eq!(int.parts("DELETED"), parts.clone());
            if let Some(ext) = ns.to_external(&int, Some("bob"), admin) {
                prop_assert_eq!(ns.to_internal(&ext, Some("bob"), admin), Ok(int.clone()));
            } else {
                prop_assert!(false, "no external form for {}", int);
            }
            prop_assert_eq!(internal_from_dbname(&dbname_key(int.as_str())), int.as_str());
        }

        #[test]
        fn location_round_trips(server in "[a-z0-9.:-]{1,20}", part in proptest::option::of("[a-z0-9]{1,10}")) {
            let l = Location::new(Some(&server), part.as_deref()).unwrap();
            prop_assert_eq!(Location::parse_mupdate(&l.to_mupdate()), Ok(l.clone()));
            prop_assert_eq!(Location::parse_rename_arg(&l.to_string()), Ok(l.clone()));
            if part.is_some() {
                prop_assert_eq!(Location::parse_create_arg(&l.to_string()), Ok(l));
            }
        }

        #[test]
        fn pattern_agrees_with_backtracking_reference(
            pat in "[ab.*%]{0,8}",
            name in "[ab.]{0,10}",
        ) {
            let p = Pattern::new("", &pat, '.').unwrap();
            prop_assert_eq!(p.matches(&name), naive(pat.as_bytes(), name.as_bytes(), b'.'));
        }
    }
}
