//! STORE and UID STORE (RFC 3501 §6.4.6, RFC 7162 UNCHANGEDSINCE).
//!
//! Rights: `\Seen` needs `s`, `\Deleted` needs `t`, every other flag `w`. Adding or removing a
//! flag without its right is refused; replacing the flags changes only the kinds the user may
//! change and keeps the others, as Cyrus does.

use std::collections::BTreeSet;

use protocol::acl::Rights;
use protocol::imap::command::StoreMode;
use protocol::imap::response::{Code, CodeArg, Condition, Data, FetchItem};
use protocol::imap::types::{Atom, Flag, SequenceSet};

use super::fetch::modifier;
use super::{condstore, seqset, to_store_flags, HReply, Reply};
use crate::imapd::Session;
use crate::store::{FlagMode, Flags, SystemFlags, UidSet};

const OTHER_SYSTEM: SystemFlags = SystemFlags::ANSWERED
    .union(SystemFlags::FLAGGED)
    .union(SystemFlags::DRAFT);

pub(super) async fn store(
    s: &mut Session,
    uid: bool,
    set: &SequenceSet,
    modifiers: Option<&[u8]>,
    mode: StoreMode,
    silent: bool,
    flags: &[Flag],
) -> HReply {
    let Ok(unchanged_since) = modifier(modifiers, "UNCHANGEDSINCE", &[]) else {
        return Ok(Reply::bad("Invalid modifier in Store"));
    };
    let wanted = match to_store_flags(flags) {
        Ok(f) => f,
        Err(_) => return Ok(Reply::bad("Invalid system flag in Store command")),
    };
    let cond = condstore(s) || unchanged_since.is_some();
    let Some(store) = s.store() else {
        return Ok(Reply::no("Server(s) unavailable to complete operation"));
    };
    let user = s.user_name().to_owned();
    let Some(sel) = s.selected.as_ref() else {
        return Ok(Reply::bad("Please select a mailbox first"));
    };
    let r = sel.rights;
    let may_seen = !sel.read_only && r.contains(Rights::SEEN);
    let may_delete = !sel.read_only && r.contains(Rights::DELETE_MESSAGES);
    let may_write = !sel.read_only && r.contains(Rights::WRITE);
    if sel.read_only && !(may_seen || may_delete || may_write) {
        return Ok(Reply::no("Permission denied"));
    }
    let idxs: Vec<usize> = sel
        .resolve(set, uid)
        .into_iter()
        .filter(|&i| sel.msgs.get(i).is_some_and(|m| !m.gone))
        .collect();
    let uids: Vec<u32> = idxs
        .iter()
        .filter_map(|&i| sel.msgs.get(i).map(|m| m.rec.uid))
        .collect();
    let has_seen = wanted.contains(SystemFlags::SEEN);
    let has_deleted = wanted.contains(SystemFlags::DELETED);
    let has_other = wanted.system.bits() & OTHER_SYSTEM.bits() != 0 || !wanted.keywords.is_empty();
    if mode != StoreMode::Replace
        && ((has_seen && !may_seen) || (has_deleted && !may_delete) || (has_other && !may_write))
    {
        return Ok(Reply::no("Permission denied"));
    }
    // Index changes (add, remove) and seen-table changes (add, remove) to make.
    let mut add = Flags::new();
    let mut remove = Flags::new();
    let mut replace: Option<Flags> = None;
    let mut seen_op: Option<bool> = None;
    let owner_seen = sel.owner_seen;
    let index_flags = |f: &Flags| {
        let mut f = f.clone();
        if !owner_seen {
            f.system = f.system.difference(SystemFlags::SEEN);
        }
        f
    };
    match mode {
        StoreMode::Add => {
            add = index_flags(&wanted);
            if !owner_seen && has_seen {
                seen_op = Some(true);
            }
        }
        StoreMode::Remove => {
            remove = index_flags(&wanted);
            if !owner_seen && has_seen {
                seen_op = Some(false);
            }
        }
        StoreMode::Replace => {
            if may_seen && may_delete && may_write && owner_seen {
                replace = Some(wanted.clone());
            } else {
                // Change only the kinds of flags the user may change.
                let mut kinds = SystemFlags::empty();
                if may_seen && owner_seen {
                    kinds = kinds.union(SystemFlags::SEEN);
                }
                if may_delete {
                    kinds = kinds.union(SystemFlags::DELETED);
                }
                if may_write {
                    kinds = kinds.union(OTHER_SYSTEM);
                }
                add.system =
                    SystemFlags::from_bits(wanted.system.bits() & kinds.bits()).unwrap_or_default();
                remove.system = kinds.difference(wanted.system);
                if may_write {
                    add.keywords = wanted.keywords.clone();
                    let present: BTreeSet<_> = idxs
                        .iter()
                        .filter_map(|&i| sel.msgs.get(i))
                        .flat_map(|m| m.rec.flags.keywords.iter().cloned())
                        .collect();
                    remove.keywords = present.difference(&wanted.keywords).cloned().collect();
                }
                if may_seen && !owner_seen {
                    seen_op = Some(has_seen);
                }
            }
        }
    }
    let id = sel.id.clone();
    let uids2 = uids.clone();
    let res = s
        .blocking(move || -> Result<_, crate::store::StoreError> {
            let mut changed = Vec::new();
            let mut modified = Vec::new();
            let mut run = |mode: FlagMode, f: &Flags| -> Result<(), crate::store::StoreError> {
                if uids2.is_empty() {
                    return Ok(());
                }
                let u = store.store_flags(&id, &uids2, mode, f, unchanged_since)?;
                changed.extend(u.changed);
                modified.extend(u.modified);
                Ok(())
            };
            if let Some(f) = &replace {
                run(FlagMode::Replace, f)?;
            }
            if add != Flags::new() {
                run(FlagMode::Add, &add)?;
            }
            if remove != Flags::new() {
                run(FlagMode::Remove, &remove)?;
            }
            let seen = match seen_op {
                Some(true) if !uids2.is_empty() => Some(store.seen_add(&user, &id, &uids2)?.seen),
                Some(false) if !uids2.is_empty() => {
                    Some(store.seen_remove(&user, &id, &uids2)?.seen)
                }
                _ => None,
            };
            Ok((changed, modified, seen))
        })
        .await?;
    let (changed, modified, seen): (_, Vec<u32>, Option<UidSet>) = match res {
        Ok(x) => x,
        Err(e) => return Ok(Reply::store_error(&e)),
    };
    let Some(sel) = s.selected.as_mut() else {
        return Ok(Reply::ok());
    };
    // Later records of the same UID (a second operation) win.
    for r in changed {
        if let Some(i) = sel.index_of(r.uid) {
            if let Some(m) = sel.msgs.get_mut(i) {
                m.rec = r;
            }
        }
    }
    if let Some(seen) = seen {
        sel.seen = seen;
    }
    // New keywords are announced (FLAGS, PERMANENTFLAGS) before the FETCH that shows them.
    let used: Vec<String> = idxs
        .iter()
        .filter_map(|&i| sel.msgs.get(i))
        .flat_map(|m| m.rec.flags.keywords.iter().map(|k| k.as_str().to_owned()))
        .collect();
    let new_keywords = sel.note_keywords(used);
    if new_keywords {
        let (flags, pf) = (sel.flags_data(), sel.permanent_flags());
        s.data(flags);
        s.untagged(Condition::Ok, Some(Code::PermanentFlags(pf)), "Ok");
    }
    let Some(sel) = s.selected.as_ref() else {
        return Ok(Reply::ok());
    };
    let modified: BTreeSet<u32> = modified.into_iter().collect();
    let mut fetches = Vec::new();
    if !silent {
        for &i in &idxs {
            let Some(m) = sel.msgs.get(i) else { continue };
            if modified.contains(&m.rec.uid) {
                continue;
            }
            let mut items = vec![FetchItem::Flags(sel.flags_of(m))];
            if uid || cond {
                items.push(FetchItem::Uid(m.rec.uid));
            }
            if cond {
                items.push(FetchItem::ModSeq(m.rec.modseq));
            }
            fetches.push(Data::Fetch {
                seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                items,
            });
        }
    }
    for f in fetches {
        s.data(f);
    }
    if !modified.is_empty() {
        let nums: Vec<u32> = if uid {
            modified.iter().copied().collect()
        } else {
            let sel = s.selected.as_ref();
            let mut v: Vec<u32> = modified
                .iter()
                .filter_map(|u| sel.and_then(|sel| sel.index_of(*u)))
                .filter_map(|i| u32::try_from(i + 1).ok())
                .collect();
            v.sort_unstable();
            v
        };
        let mut raw = Vec::new();
        if let Some(set) = seqset(&nums) {
            set.write(&mut raw);
        }
        if let (Ok(name), Ok(arg)) = (Atom::new("MODIFIED"), CodeArg::new(raw)) {
            return Ok(Reply::ok_code(Code::Other {
                name,
                raw: Some(arg),
            })
            .with_text("Conditional Store failed"));
        }
    }
    Ok(Reply::ok())
}
