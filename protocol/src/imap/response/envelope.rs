//! `ENVELOPE` (RFC 3501 §7.4.2): the parsed header fields a server sends so that a client can list
//! messages without fetching headers.

use super::lex::{self, depth_guard, nil_or, PResult};
use crate::imap::syntax::{sp, write_nstring, LiteralMode};

/// One address of an envelope address list: `(name adl mailbox host)`.
///
/// RFC 2822 group syntax is carried as addresses too: a `host` of `None` opens a group named by
/// `mailbox`, and an address with both `mailbox` and `host` `None` closes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Display name (`addr-name`), as the server sent it (often still RFC 2047 encoded).
    pub name: Option<Vec<u8>>,
    /// Source route (`addr-adl`), obsolete and almost always `None`.
    pub adl: Option<Vec<u8>>,
    /// Local part, or the group name when `host` is `None`.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; `None` marks group syntax.
    pub host: Option<Vec<u8>>,
}

/// The envelope of a message. Address lists sent as `NIL` are empty vectors (an empty list has no
/// other wire form: RFC 3501 requires at least one address inside parentheses).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// `Date:` header, unparsed.
    pub date: Option<Vec<u8>>,
    /// `Subject:` header, unparsed.
    pub subject: Option<Vec<u8>>,
    /// `From:` addresses.
    pub from: Vec<Address>,
    /// `Sender:` addresses (servers fill in `From` when absent).
    pub sender: Vec<Address>,
    /// `Reply-To:` addresses (servers fill in `From` when absent).
    pub reply_to: Vec<Address>,
    /// `To:` addresses.
    pub to: Vec<Address>,
    /// `Cc:` addresses.
    pub cc: Vec<Address>,
    /// `Bcc:` addresses.
    pub bcc: Vec<Address>,
    /// `In-Reply-To:` header, unparsed.
    pub in_reply_to: Option<Vec<u8>>,
    /// `Message-ID:` header, unparsed.
    pub message_id: Option<Vec<u8>>,
}

fn address(i: &[u8]) -> PResult<'_, Address> {
    let i = lex::byte(i, b'(')?;
    let (i, name) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, adl) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, mailbox) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, host) = lex::nstring(i)?;
    let i = lex::byte(i, b')')?;
    Ok((
        i,
        Address {
            name,
            adl,
            mailbox,
            host,
        },
    ))
}

fn address_list(i: &[u8]) -> PResult<'_, Vec<Address>> {
    if let Some(rest) = nil_or(i) {
        return Ok((rest, Vec::new()));
    }
    let mut i = lex::byte(i, b'(')?;
    let mut out = Vec::new();
    loop {
        // Addresses follow each other without a separator; some servers put a space there.
        if let Some(rest) = i.strip_prefix(b")") {
            return Ok((rest, out));
        }
        if !out.is_empty() {
            i = i.strip_prefix(b" ").unwrap_or(i);
        }
        let (rest, a) = address(i)?;
        out.push(a);
        i = rest;
    }
}

/// Parses `"(" date SP subject SP from ... SP message-id ")"`.
pub(super) fn envelope(i: &[u8], depth: usize) -> PResult<'_, Envelope> {
    depth_guard(i, depth)?;
    let i = lex::byte(i, b'(')?;
    let (i, date) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, subject) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, from) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, sender) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, reply_to) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, to) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, cc) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, bcc) = address_list(i)?;
    let (i, _) = sp(i)?;
    let (i, in_reply_to) = lex::nstring(i)?;
    let (i, _) = sp(i)?;
    let (i, message_id) = lex::nstring(i)?;
    let i = lex::byte(i, b')')?;
    Ok((
        i,
        Envelope {
            date,
            subject,
            from,
            sender,
            reply_to,
            to,
            cc,
            bcc,
            in_reply_to,
            message_id,
        },
    ))
}

fn write_address_list(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    // Cyrus writes the addresses back to back, without a space.
    for a in list {
        out.push(b'(');
        write_nstring(out, a.name.as_deref(), LiteralMode::Sync);
        out.push(b' ');
        write_nstring(out, a.adl.as_deref(), LiteralMode::Sync);
        out.push(b' ');
        write_nstring(out, a.mailbox.as_deref(), LiteralMode::Sync);
        out.push(b' ');
        write_nstring(out, a.host.as_deref(), LiteralMode::Sync);
        out.push(b')');
    }
    out.push(b')');
}

impl Envelope {
    /// Writes the envelope as Cyrus does: quoted strings where possible, `NIL` for absent
    /// fields and empty address lists.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        write_nstring(out, self.date.as_deref(), LiteralMode::Sync);
        out.push(b' ');
        write_nstring(out, self.subject.as_deref(), LiteralMode::Sync);
        for list in [
            &self.from,
            &self.sender,
            &self.reply_to,
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            out.push(b' ');
            write_address_list(out, list);
        }
        out.push(b' ');
        write_nstring(out, self.in_reply_to.as_deref(), LiteralMode::Sync);
        out.push(b' ');
        write_nstring(out, self.message_id.as_deref(), LiteralMode::Sync);
        out.push(b')');
    }
}
