//! APPEND (with MULTIAPPEND, RFC 3502), COPY and MOVE (RFC 6851), with UIDPLUS's APPENDUID
//! and COPYUID (RFC 4315).
//!
//! Each APPEND is one store transaction: every message of a MULTIAPPEND becomes visible with
//! consecutive UIDs, or none does, and the store's commit is durable before the OK is sent.

use protocol::acl::Rights;
use protocol::imap::command::AppendMessage;
use protocol::imap::response::{Code, Condition};
use protocol::imap::types::SequenceSet;

use super::{allowed_flags, lookup, seqset, to_store_flags, HReply, LookupError, Reply};
use crate::imapd::Session;
use crate::store::{FlagMode, Flags, Guid, InternalDate, NewMessage, StoreError, SystemFlags};

/// Checks a message the way Cyrus does before it is stored: no NUL (except in a binary
/// literal), no bare CR or LF.
fn check_message(m: &AppendMessage) -> Result<(), &'static str> {
    let d = &m.data;
    if d.is_empty() {
        return Err("Message has no header/body separator");
    }
    if !m.binary && d.contains(&0) {
        return Err("Message contains NUL characters");
    }
    let mut prev = 0u8;
    for (i, &b) in d.iter().enumerate() {
        if b == b'\n' && prev != b'\r' {
            return Err("Message contains bare newlines");
        }
        if prev == b'\r' && b != b'\n' {
            return Err("Message contains bare newlines");
        }
        prev = b;
        if i + 1 == d.len() && b == b'\r' {
            return Err("Message contains bare newlines");
        }
    }
    Ok(())
}

fn no_rights(rights: Rights, needed: Rights, trycreate: bool) -> Reply {
    if rights.contains(Rights::LOOKUP) || rights.contains(Rights::READ) {
        let _ = needed;
        Reply::no("Permission denied")
    } else {
        LookupError::NonExistent.reply(trycreate)
    }
}

pub(super) async fn append(
    s: &mut Session,
    mailbox: &[u8],
    messages: Vec<AppendMessage>,
) -> HReply {
    let t = match lookup(s, mailbox) {
        Ok(t) => t,
        Err(e) => return Ok(e.reply(true)),
    };
    if !t.rights.contains(Rights::INSERT) {
        return Ok(no_rights(t.rights, Rights::INSERT, true));
    }
    let mut flags = Vec::with_capacity(messages.len());
    for m in &messages {
        if let Err(text) = check_message(m) {
            return Ok(Reply::no(text));
        }
        let f = match m.flags.as_deref().map(to_store_flags).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(_) => return Ok(Reply::bad("Invalid flag name in Append command")),
        };
        flags.push(allowed_flags(&f, t.rights));
    }
    if let Some(max) = s.ctx.conf.get_int("maxmessagesize").filter(|&m| m > 0) {
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        if messages.iter().any(|m| m.data.len() as u64 > max) {
            return Ok(Reply::no("Message size exceeds fixed limit"));
        }
    }
    let Some(store) = s.store() else {
        return Ok(Reply::no("Server(s) unavailable to complete operation"));
    };
    let user = s.user_name().to_owned();
    let owner = t.owner;
    let id = t.id.clone();
    let res = s
        .blocking(
            move || -> Result<Result<(u32, Vec<u32>), Reply>, StoreError> {
                let bytes: u64 = messages.iter().map(|m| m.data.len() as u64).sum();
                if store
                    .would_exceed_mailbox(&id, bytes, messages.len() as u64)?
                    .is_some()
                {
                    return Ok(Err(Reply::no_code(Code::OverQuota, "Over quota")));
                }
                // A non-owner's \Seen lives in the seen table, not in the index.
                let mut seen_uids = Vec::new();
                let batch: Vec<NewMessage<'_>> = messages
                    .iter()
                    .zip(&flags)
                    .map(|(m, f)| {
                        let mut f = f.clone();
                        if !owner {
                            f.system = f.system.difference(SystemFlags::SEEN);
                        }
                        NewMessage {
                            bytes: &m.data,
                            flags: f,
                            internaldate: m
                                .date
                                .map(|d| InternalDate {
                                    secs: protocol::mime::unix_time(d),
                                    tz_minutes: d.zone_minutes(),
                                })
                                .unwrap_or_else(InternalDate::now),
                        }
                    })
                    .collect();
                let done = store.append_batch(&id, &batch)?;
                // Listing the mailbox will want these envelopes: compute them while the bytes
                // are at hand.
                if let Some(cache) = super::cache::EnvelopeCache::for_store(&store) {
                    let entries: Vec<_> = messages
                        .iter()
                        .map(|m| {
                            let header = protocol::mime::split(&m.data).0;
                            (Guid::of(&m.data), super::cache::encode_envelope(header))
                        })
                        .collect();
                    cache.put_many(&entries);
                }
                let uids: Vec<u32> = done.iter().map(|(u, _)| *u).collect();
                if !owner {
                    for (u, f) in uids.iter().zip(&flags) {
                        if f.contains(SystemFlags::SEEN) {
                            seen_uids.push(*u);
                        }
                    }
                    if !seen_uids.is_empty() {
                        store.seen_add(&user, &id, &seen_uids)?;
                    }
                }
                let uidvalidity = store.mailbox_state(&id)?.uidvalidity;
                Ok(Ok((uidvalidity, uids)))
            },
        )
        .await?;
    match res {
        Ok(Ok((uidvalidity, uids))) => Ok(match seqset(&uids) {
            Some(set) => Reply::ok_code(Code::AppendUid {
                uidvalidity,
                uids: set,
            }),
            None => Reply::ok(),
        }),
        Ok(Err(r)) => Ok(r),
        Err(e) => Ok(Reply::store_error(&e)),
    }
}

/// A finished COPY or MOVE: the target's UIDVALIDITY and (source, new) UID pairs.
type CopyDone = (u32, Vec<(u32, u32)>);

pub(super) async fn copy(
    s: &mut Session,
    uid: bool,
    set: &SequenceSet,
    mailbox: &[u8],
    is_move: bool,
) -> HReply {
    let Some(sel) = s.selected.as_ref() else {
        return Ok(Reply::bad("Please select a mailbox first"));
    };
    if is_move
        && (sel.read_only
            || !sel.rights.contains(Rights::DELETE_MESSAGES)
            || !sel.rights.contains(Rights::EXPUNGE))
    {
        return Ok(Reply::no("Permission denied"));
    }
    // (UID, size, seen by this user, \Seen in the source index).
    let recs: Vec<(u32, u64, bool, bool)> = sel
        .resolve(set, uid)
        .into_iter()
        .filter_map(|i| sel.msgs.get(i))
        .filter(|m| !m.gone)
        .map(|m| {
            let index_seen = m.rec.flags.contains(SystemFlags::SEEN);
            (m.rec.uid, m.rec.size, sel.is_seen(m), index_seen)
        })
        .collect();
    let src = sel.id.clone();
    let user = s.user_name().to_owned();
    let t = match lookup(s, mailbox) {
        Ok(t) => t,
        Err(e) => return Ok(e.reply(true)),
    };
    if !t.rights.contains(Rights::INSERT) {
        return Ok(no_rights(t.rights, Rights::INSERT, true));
    }
    if recs.is_empty() {
        return Ok(Reply::ok());
    }
    let Some(store) = s.store() else {
        return Ok(Reply::no("Server(s) unavailable to complete operation"));
    };
    let dst = t.id.clone();
    let dst_owner = t.owner;
    let res = s
        .blocking(move || -> Result<Result<CopyDone, Reply>, StoreError> {
            let bytes: u64 = recs.iter().map(|r| r.1).sum();
            // Moving within one quota root frees what it uses; Cyrus still checks.
            if store
                .would_exceed_mailbox(&dst, bytes, recs.len() as u64)?
                .is_some()
            {
                return Ok(Err(Reply::no_code(Code::OverQuota, "Over quota")));
            }
            let uids: Vec<u32> = recs.iter().map(|r| r.0).collect();
            let pairs = if is_move {
                store.move_messages(&src, &dst, &uids)?
            } else {
                store.copy(&src, &dst, &uids)?
            };
            // The copies carry the source index's \Seen (its owner's); the copying user's
            // own seen state goes where the target keeps it for them.
            let seen_of = |u: u32| {
                let i = recs.binary_search_by_key(&u, |r| r.0).ok()?;
                recs.get(i).map(|r| (r.2, r.3))
            };
            let (mut add, mut remove, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
            for &(from, to) in &pairs {
                let Some((mine, index)) = seen_of(from) else {
                    continue;
                };
                if dst_owner {
                    if mine && !index {
                        add.push(to);
                    } else if !mine && index {
                        remove.push(to);
                    }
                } else if mine {
                    theirs.push(to);
                }
            }
            let seen = Flags::system(SystemFlags::SEEN);
            if !add.is_empty() {
                store.store_flags(&dst, &add, FlagMode::Add, &seen, None)?;
            }
            if !remove.is_empty() {
                store.store_flags(&dst, &remove, FlagMode::Remove, &seen, None)?;
            }
            if !theirs.is_empty() {
                store.seen_add(&user, &dst, &theirs)?;
            }
            let uidvalidity = store.mailbox_state(&dst)?.uidvalidity;
            Ok(Ok((uidvalidity, pairs)))
        })
        .await?;
    let (uidvalidity, mut pairs) = match res {
        Ok(Ok(x)) => x,
        Ok(Err(r)) => return Ok(r),
        Err(e) => return Ok(Reply::store_error(&e)),
    };
    pairs.sort_unstable();
    let from: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    let to: Vec<u32> = pairs.iter().map(|p| p.1).collect();
    let code = match (seqset(&from), seqset(&to)) {
        (Some(source), Some(destination)) => Some(Code::CopyUid {
            uidvalidity,
            source,
            destination,
        }),
        _ => None,
    };
    if is_move {
        // RFC 6851: COPYUID in an untagged OK, then the EXPUNGEs, then the tagged OK.
        if let Some(code) = code {
            s.untagged(Condition::Ok, Some(code), "Ok");
        }
        return Ok(Reply::ok());
    }
    Ok(match code {
        Some(c) => Reply::ok_code(c),
        None => Reply::ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(d: &[u8]) -> AppendMessage {
        AppendMessage {
            flags: None,
            date: None,
            data: d.to_vec(),
            binary: false,
        }
    }

    #[test]
    fn message_checks() {
        assert!(check_message(&msg(b"A: b\r\n\r\nx\r\n")).is_ok());
        assert!(check_message(&msg(b"A: b\n\nx\n")).is_err());
        assert!(check_message(&msg(b"A: b\r\n\r\nx\r")).is_err());
        assert!(check_message(&msg(b"A: b\r\n\r\nx\0\r\n")).is_err());
        assert!(check_message(&msg(b"")).is_err());
        let mut m = msg(b"A: b\r\n\r\nx\0\r\n");
        m.binary = true;
        assert!(check_message(&m).is_ok());
    }
}
