//! Administrative commands: ACL (RFC 4314), QUOTA (RFC 2087/9208 as Cyrus 3.6 speaks it),
//! METADATA (RFC 5464, with the entries cyradm's `info`, `mboxcfg` and `setinfo` use), and the
//! murder's MUPDATEPUSH, LOCALCREATE and LOCALDELETE (reference §5.5). XFER and RECONSTRUCT
//! answer here too; XFER's work is in [`super::xfer`].
//!
//! | command | who |
//! |---|---|
//! | GETACL, LISTRIGHTS, SETACL, DELETEACL | `a` on the mailbox (admins have it implicitly) |
//! | MYRIGHTS | anyone who can see the mailbox |
//! | GETQUOTA, SETQUOTA | admins |
//! | GETQUOTAROOT | anyone who can see the mailbox |
//! | SETMETADATA shared on a mailbox | admins or `n`; private: anyone who can see it |
//! | SETMETADATA shared on the server | admins |
//! | MUPDATEPUSH, LOCALCREATE, LOCALDELETE, XFER, RECONSTRUCT | admins |
//!
//! On a murder backend an ACL change is pushed to the master with ACTIVATE; if that fails
//! the local change stays and the client gets NO, as with Cyrus (reference §2.6).
//!
//! ```no_run
//! // Driven by the session loop: `admin::dispatch(&mut session, &tag, body).await`.
//! ```

use std::collections::BTreeSet;

use protocol::acl::{parse_rights_arg, Acl, AclError, Identifier, ListRights, Rights, SetMode};
use protocol::imap::command::{CommandBody, MetadataDepth, MetadataOptions};
use protocol::imap::response::{Code, Completion, Data, MetadataCode, QuotaResource};
use protocol::imap::syntax::{write_astring, write_string, LiteralMode};
use protocol::imap::types::{Atom, Tag};
use protocol::mailbox::InternalName;

use super::mailboxes::{
    self, finish, open, quota_root_for, run, store, subtree, Fail, NONEXISTENT, R,
    SPECIALUSE_ENTRY, UNAVAILABLE,
};
use super::murder::{self, Pusher};
use super::{HResult, Session};
use crate::mboxdb::{MailboxEntry, MbState};
use crate::store::{MailboxId, Quota, QuotaLimits, StoreError};

/// Runs one command of this group.
pub async fn dispatch(s: &mut Session, tag: &Tag, body: CommandBody) -> HResult {
    let r = match body {
        CommandBody::GetAcl { mailbox } => getacl(s, tag, &mailbox).await,
        CommandBody::SetAcl {
            mailbox,
            identifier,
            rights,
        } => setacl(s, tag, &mailbox, &identifier, Some(&rights)).await,
        CommandBody::DeleteAcl {
            mailbox,
            identifier,
        } => setacl(s, tag, &mailbox, &identifier, None).await,
        CommandBody::ListRights {
            mailbox,
            identifier,
        } => listrights(s, tag, &mailbox, &identifier).await,
        CommandBody::MyRights { mailbox } => myrights(s, tag, &mailbox).await,
        CommandBody::GetQuota { root } => getquota(s, tag, &root).await,
        CommandBody::GetQuotaRoot { mailbox } => getquotaroot(s, tag, &mailbox).await,
        CommandBody::SetQuota { root, limits } => setquota(s, tag, &root, &limits).await,
        CommandBody::GetMetadata {
            options,
            mailbox,
            entries,
        } => getmetadata(s, tag, options, &mailbox, &entries).await,
        CommandBody::SetMetadata { mailbox, entries } => {
            setmetadata(s, tag, &mailbox, &entries).await
        }
        CommandBody::Xfer {
            mailbox,
            server,
            partition,
        } => xfer(s, tag, &mailbox, &server, partition.as_deref()).await,
        CommandBody::Reconstruct { mailbox, .. } => reconstruct(s, tag, &mailbox).await,
        CommandBody::MupdatePush { mailbox } => mupdatepush(s, tag, &mailbox).await,
        CommandBody::LocalCreate { mailbox, args } => {
            if s.is_admin() {
                mailboxes::create(s, tag, &mailbox, args, true).await
            } else {
                Err(Fail::denied())
            }
        }
        CommandBody::LocalDelete { mailbox } => {
            if s.is_admin() {
                mailboxes::delete(s, tag, &mailbox, true).await
            } else {
                Err(Fail::denied())
            }
        }
        _ => Err(Fail::Bad("Unrecognized command".into())),
    };
    finish(s, tag, r)
}

// ---------------------------------------------------------------------------------------------
// ACL
// ---------------------------------------------------------------------------------------------

fn acl_of(entry: &MailboxEntry) -> Acl {
    Acl::parse(&entry.acl).unwrap_or_default()
}

async fn getacl(s: &mut Session, tag: &Tag, mailbox: &[u8]) -> R {
    let (_, entry) = open(s, mailbox, Rights::ADMIN).await?;
    let entries = acl_of(&entry)
        .entries()
        .iter()
        .map(|(id, r)| (id.as_str().as_bytes().to_vec(), r.to_string().into_bytes()))
        .collect();
    s.data(Data::Acl {
        mailbox: mailbox.to_vec(),
        entries,
    });
    s.ok(tag);
    Ok(())
}

async fn myrights(s: &mut Session, tag: &Tag, mailbox: &[u8]) -> R {
    let (_, entry) = open(s, mailbox, Rights::NONE).await?;
    let rights = s.rights(&entry);
    s.data(Data::MyRights {
        mailbox: mailbox.to_vec(),
        rights: rights.to_string().into_bytes(),
    });
    s.ok(tag);
    Ok(())
}

async fn listrights(s: &mut Session, tag: &Tag, mailbox: &[u8], identifier: &[u8]) -> R {
    let (name, _) = open(s, mailbox, Rights::ADMIN).await?;
    let id = std::str::from_utf8(identifier).ok();
    let lr = ListRights::compute(id, &name, Rights::DEFAULT_IMPLICIT_OWNER);
    s.data(Data::ListRights {
        mailbox: mailbox.to_vec(),
        identifier: identifier.to_vec(),
        required: if lr.required.is_empty() {
            Vec::new()
        } else {
            lr.required.to_string().into_bytes()
        },
        optional: lr
            .optional
            .to_string()
            .chars()
            .map(|c| c.to_string().into_bytes())
            .collect(),
    });
    s.ok(tag);
    Ok(())
}

/// SETACL (`rights` given) and DELETEACL (`None`).
async fn setacl(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    identifier: &[u8],
    rights: Option<&[u8]>,
) -> R {
    let (name, entry) = open(s, mailbox, Rights::ADMIN).await?;
    let id = std::str::from_utf8(identifier)
        .ok()
        .and_then(|i| Identifier::new(i).ok())
        .ok_or_else(|| Fail::no("Invalid identifier"))?;
    let change = match rights {
        Some(r) => {
            let text = std::str::from_utf8(r).map_err(|_| Fail::Bad("Invalid rights".into()))?;
            Some(parse_rights_arg(text).map_err(|e| match e {
                AclError::UnknownRight(c) => Fail::Bad(format!("The {c} right is not supported")),
                other => Fail::Bad(other.to_string()),
            })?)
        }
        None => None,
    };
    // Users cannot take the administer right away from the owner of a personal mailbox.
    if !s.is_admin() && name.owner().as_deref() == Some(id.as_str()) {
        let mut probe = acl_of(&entry);
        match change {
            Some((mode, r)) => probe.set(&id, mode, r),
            None => {
                probe.remove(&id);
            }
        }
        if !probe.get(&id).unwrap_or_default().contains(Rights::ADMIN) {
            return Err(Fail::denied());
        }
    }
    let n = name.as_str().to_owned();
    let updated = run(s, move |ctx| -> Result<Option<MailboxEntry>, Fail> {
        Ok(ctx.mboxdb.write(|tx| {
            let Some(mut e) = tx.get(&n)? else {
                return Ok(None);
            };
            let mut acl = Acl::parse(&e.acl).unwrap_or_default();
            match change {
                Some((SetMode::Replace, r)) if r.is_empty() => {
                    acl.remove(&id);
                }
                Some((mode, r)) => acl.set(&id, mode, r),
                None => {
                    acl.remove(&id);
                }
            }
            e.acl = acl.to_string();
            tx.put(&e);
            Ok(Some(e))
        })?)
    })
    .await??
    .ok_or_else(Fail::nonexistent)?;
    if s.ctx.is_murder_backend() {
        let mut p = Pusher::connect(&s.ctx).await?;
        let loc = murder::location(&s.ctx, &updated.partition);
        let r = p.activate(&updated.name, &loc, &updated.acl).await;
        p.finish().await;
        r?;
    }
    s.ok(tag);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// QUOTA
// ---------------------------------------------------------------------------------------------

fn resource(name: &str, usage: u64, limit: u64) -> Option<QuotaResource> {
    Some(QuotaResource {
        name: Atom::new(name.as_bytes()).ok()?,
        usage,
        limit,
    })
}

/// The `(resource usage limit ...)` list, in Cyrus's order, for the limits that are set.
fn quota_resources(q: &Quota) -> Vec<QuotaResource> {
    let l = q.limits;
    let u = q.usage;
    [
        l.storage_kib
            .and_then(|lim| resource("STORAGE", u.storage_kib(), lim)),
        l.messages
            .and_then(|lim| resource("MESSAGE", u.messages, lim)),
        l.annotation_kib
            .and_then(|lim| resource("X-ANNOTATION-STORAGE", u.annotation_kib(), lim)),
        l.mailboxes
            .and_then(|lim| resource("X-NUM-FOLDERS", u.mailboxes, lim)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn root_name(s: &Session, root: &str) -> Vec<u8> {
    InternalName::new(root)
        .ok()
        .and_then(|n| s.external_name(&n))
        .unwrap_or_else(|| root.to_owned())
        .into_bytes()
}

async fn getquota(s: &mut Session, tag: &Tag, root: &[u8]) -> R {
    let store = store(s)?;
    if !s.is_admin() {
        return Err(Fail::denied());
    }
    let none = || Fail::no("Quota root does not exist");
    let name = s.internal_name(root).ok_or_else(none)?;
    let n = name.as_str().to_owned();
    let q = run(s, move |_| store.quota(&n)).await??.ok_or_else(none)?;
    s.data(Data::Quota {
        root: root_name(s, &q.root),
        resources: quota_resources(&q),
    });
    s.ok(tag);
    Ok(())
}

async fn getquotaroot(s: &mut Session, tag: &Tag, mailbox: &[u8]) -> R {
    let store = store(s)?;
    let (_, entry) = open(s, mailbox, Rights::NONE).await?;
    let uid = entry.uniqueid.clone();
    let q = run(s, move |_| -> Result<Option<Quota>, StoreError> {
        let id = MailboxId::new(&uid)?;
        match store.mailbox_state(&id)?.quota_root {
            Some(r) => store.quota(&r),
            None => Ok(None),
        }
    })
    .await??;
    s.data(Data::QuotaRoot {
        mailbox: mailbox.to_vec(),
        roots: q.iter().map(|q| root_name(s, &q.root)).collect(),
    });
    if let Some(q) = q {
        s.data(Data::Quota {
            root: root_name(s, &q.root),
            resources: quota_resources(&q),
        });
    }
    s.ok(tag);
    Ok(())
}

async fn setquota(s: &mut Session, tag: &Tag, root: &[u8], limits: &[(Atom, u64)]) -> R {
    let store = store(s)?;
    if !s.is_admin() {
        return Err(Fail::denied());
    }
    // XFER's legacy path writes `+name` to force a new root; the `+` is not part of the name.
    let root = root.strip_prefix(b"+").unwrap_or(root);
    let mut l = QuotaLimits::default();
    for (res, v) in limits {
        let slot = match res.as_str().to_ascii_uppercase().as_str() {
            "STORAGE" => &mut l.storage_kib,
            "MESSAGE" => &mut l.messages,
            "X-NUM-FOLDERS" | "MAILBOX" => &mut l.mailboxes,
            "X-ANNOTATION-STORAGE" | "ANNOTATION-STORAGE" => &mut l.annotation_kib,
            _ => return Err(Fail::no("Unsupported quota resource")),
        };
        *slot = Some(*v);
    }
    let name = s.internal_name(root).ok_or_else(Fail::nonexistent)?;
    mailboxes::local_entry(s, &name)
        .await?
        .ok_or_else(Fail::nonexistent)?;
    // An empty list leaves the root in place with no limits, as Cyrus 3.6 does.
    run(s, move |ctx| -> Result<(), Fail> {
        store.set_quota(name.as_str(), l)?;
        for e in subtree(ctx, name.as_str())? {
            let (Ok(id), Ok(n)) = (MailboxId::new(&e.uniqueid), InternalName::new(&e.name)) else {
                continue;
            };
            let r = quota_root_for(&store, &n)?;
            store.set_mailbox_quota_root(&id, r.as_deref())?;
        }
        Ok(())
    })
    .await??;
    s.ok(tag);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// METADATA
// ---------------------------------------------------------------------------------------------

const VENDOR: &str = "/vendor/cmu/cyrus-imapd";

/// Entries a mailbox has under both `/shared` and `/private`, settable.
const MAILBOX_ENTRIES: &[&str] = &[
    "/check",
    "/checkperiod",
    "/comment",
    "/sort",
    "/specialuse",
    "/thread",
    "/vendor/cmu/cyrus-imapd/archive",
    "/vendor/cmu/cyrus-imapd/delete",
    "/vendor/cmu/cyrus-imapd/expire",
    "/vendor/cmu/cyrus-imapd/news2mail",
    "/vendor/cmu/cyrus-imapd/search-fuzzy-always",
    "/vendor/cmu/cyrus-imapd/sieve",
    "/vendor/cmu/cyrus-imapd/sortorder",
    "/vendor/cmu/cyrus-imapd/squat",
];

/// Shared-only mailbox entries that may be set.
const MAILBOX_SHARED_SETTABLE: &[&str] = &[
    "/vendor/cmu/cyrus-imapd/pop3showafter",
    "/vendor/cmu/cyrus-imapd/sharedseen",
    "/vendor/cmu/cyrus-imapd/duplicatedeliver",
];

/// Shared-only mailbox entries computed from the mailbox (read-only).
const MAILBOX_COMPUTED: &[&str] = &[
    "/vendor/cmu/cyrus-imapd/lastpop",
    "/vendor/cmu/cyrus-imapd/partition",
    "/vendor/cmu/cyrus-imapd/pop3newuidl",
    "/vendor/cmu/cyrus-imapd/size",
    "/vendor/cmu/cyrus-imapd/uniqueid",
];

/// Server entries (`""`): shared.
const SERVER_SHARED: &[&str] = &[
    "/admin",
    "/comment",
    "/motd",
    "/vendor/cmu/cyrus-imapd/expire",
    "/vendor/cmu/cyrus-imapd/shutdown",
    "/vendor/cmu/cyrus-imapd/squat",
];

/// Server entries (`""`): private.
const SERVER_PRIVATE: &[&str] = &[
    "/admin",
    "/comment",
    "/vendor/cmu/cyrus-imapd/expire",
    "/vendor/cmu/cyrus-imapd/squat",
];

/// Every entry this scope knows, full names.
fn known_entries(server: bool) -> Vec<String> {
    let mut out = Vec::new();
    if server {
        out.extend(SERVER_SHARED.iter().map(|e| format!("/shared{e}")));
        out.extend(SERVER_PRIVATE.iter().map(|e| format!("/private{e}")));
    } else {
        for e in MAILBOX_ENTRIES {
            out.push(format!("/shared{e}"));
            out.push(format!("/private{e}"));
        }
        out.extend(
            MAILBOX_SHARED_SETTABLE
                .iter()
                .chain(MAILBOX_COMPUTED)
                .map(|e| format!("/shared{e}")),
        );
    }
    out
}

/// Whether a client may write `entry` in this scope.
fn settable(entry: &str, server: bool) -> bool {
    if server {
        match (
            entry.strip_prefix("/shared"),
            entry.strip_prefix("/private"),
        ) {
            (Some(e), _) => SERVER_SHARED.contains(&e),
            (_, Some(e)) => SERVER_PRIVATE.contains(&e),
            _ => false,
        }
    } else {
        match (
            entry.strip_prefix("/shared"),
            entry.strip_prefix("/private"),
        ) {
            (Some(e), _) => MAILBOX_ENTRIES.contains(&e) || MAILBOX_SHARED_SETTABLE.contains(&e),
            (_, Some(e)) => MAILBOX_ENTRIES.contains(&e),
            _ => false,
        }
    }
}

/// Whether `entry` is asked for by `req` (an entry name, possibly ending in `*` or `%`) at
/// `depth`.
fn wanted(entry: &str, req: &str, depth: MetadataDepth) -> bool {
    if let Some(prefix) = req.strip_suffix('*') {
        return entry.starts_with(prefix);
    }
    if let Some(prefix) = req.strip_suffix('%') {
        return entry
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.contains('/'));
    }
    if entry == req {
        return true;
    }
    let Some(rest) = entry.strip_prefix(req).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    match depth {
        MetadataDepth::Zero => false,
        MetadataDepth::One => !rest.contains('/'),
        MetadataDepth::Infinity => true,
    }
}

fn check_entry_name(e: &[u8]) -> R<String> {
    let e = std::str::from_utf8(e).map_err(|_| Fail::Bad("Invalid entry name".into()))?;
    let lower = e.to_ascii_lowercase();
    if !(lower == "/shared"
        || lower == "/private"
        || lower.starts_with("/shared/")
        || lower.starts_with("/private/"))
    {
        return Err(Fail::Bad(format!("Invalid entry name {e}")));
    }
    Ok(lower)
}

/// An entry name and its value (`None`: no value).
type EntryValue = (String, Option<Vec<u8>>);

/// The scope of a METADATA command: the server, or a mailbox.
struct Scope {
    entry: Option<MailboxEntry>,
}

async fn scope(s: &Session, mailbox: &[u8], need: Rights) -> R<Scope> {
    if mailbox.is_empty() {
        return Ok(Scope { entry: None });
    }
    let (_, entry) = open(s, mailbox, need).await?;
    Ok(Scope { entry: Some(entry) })
}

async fn getmetadata(
    s: &mut Session,
    tag: &Tag,
    options: MetadataOptions,
    mailbox: &[u8],
    entries: &[Vec<u8>],
) -> R {
    let store = store(s)?;
    let mut reqs = Vec::new();
    for e in entries {
        reqs.push(check_entry_name(e)?);
    }
    let sc = scope(s, mailbox, Rights::LOOKUP).await?;
    let depth = options.depth.unwrap_or(MetadataDepth::Zero);
    let user = s.user_name().to_owned();
    let server = sc.entry.is_none();
    let entry = sc.entry.clone();
    // Every (entry, value) of the scope that this user may read, computed ones included.
    let values: Vec<EntryValue> = run(s, move |_| -> Result<Vec<EntryValue>, Fail> {
        let id = match &entry {
            Some(e) => Some(MailboxId::new(&e.uniqueid)?),
            None => None,
        };
        let mut out: std::collections::BTreeMap<String, Option<Vec<u8>>> = known_entries(server)
            .into_iter()
            .map(|e| (e, None))
            .collect();
        for a in store.annotations(id.as_ref(), "")? {
            match &a.user {
                None => {
                    out.insert(a.entry.clone(), Some(a.value));
                }
                Some(u) if *u == user => {
                    out.insert(a.entry.clone(), Some(a.value));
                }
                Some(_) => {}
            }
        }
        if let (Some(e), Some(id)) = (&entry, &id) {
            let state = store.mailbox_state(id)?;
            let v = |s: &str| Some(s.as_bytes().to_vec());
            let computed = [
                ("partition", v(&e.partition)),
                ("uniqueid", v(&e.uniqueid)),
                ("size", v(&state.size.to_string())),
                ("pop3newuidl", v("true")),
            ];
            for (k, val) in computed {
                out.insert(format!("/shared{VENDOR}/{k}"), val);
            }
            for (k, default) in [("sharedseen", "false"), ("duplicatedeliver", "false")] {
                out.entry(format!("/shared{VENDOR}/{k}"))
                    .and_modify(|x| {
                        if x.is_none() {
                            *x = v(default);
                        }
                    })
                    .or_insert_with(|| v(default));
            }
        }
        Ok(out.into_iter().collect())
    })
    .await??;

    let known: BTreeSet<String> = known_entries(server).into_iter().collect();
    let mut out: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut longest: Option<usize> = None;
    for req in &reqs {
        let exact = !req.ends_with('*') && !req.ends_with('%');
        for (name, value) in &values {
            if !wanted(name, req, depth) || done.contains(name) {
                continue;
            }
            // An entry asked for by its exact name shows even without a value when it is a
            // known one; one found by a pattern or depth shows when known or set.
            if value.is_none() && !known.contains(name) {
                continue;
            }
            if exact && name != req && value.is_none() && depth == MetadataDepth::Zero {
                continue;
            }
            if let (Some(max), Some(v)) = (options.max_size, value) {
                if v.len() as u64 > max {
                    longest = Some(longest.unwrap_or(0).max(v.len()));
                    continue;
                }
            }
            done.insert(name.clone());
            out.push((name.clone().into_bytes(), value.clone()));
        }
    }
    if !out.is_empty() {
        let line = metadata_line(mailbox, &out);
        s.out.extend_from_slice(&line);
    }
    let code = longest.map(|n| {
        Code::Metadata(MetadataCode::LongEntries(
            u32::try_from(n).unwrap_or(u32::MAX),
        ))
    });
    s.tagged(tag, Completion::Ok, code, "Completed");
    Ok(())
}

/// `* METADATA mailbox ("entry" value ...)` written as Cyrus writes it: entry names always
/// quoted, values quoted when they are plain text and literals otherwise. cyradm's parser
/// (`Cyrus::IMAP::Admin::getmetadata`) only copes with this shape.
fn metadata_line(mailbox: &[u8], entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Vec<u8> {
    let mut out = b"* METADATA ".to_vec();
    if mailbox.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        write_astring(&mut out, mailbox, LiteralMode::Sync);
    }
    out.extend_from_slice(b" (");
    for (i, (e, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_string(&mut out, e, LiteralMode::Sync);
        out.push(b' ');
        match v {
            None => out.extend_from_slice(b"NIL"),
            Some(v)
                if v.iter()
                    .all(|b| (0x20..0x7f).contains(b) && !matches!(b, b'"' | b'\\')) =>
            {
                out.push(b'"');
                out.extend_from_slice(v);
                out.push(b'"');
            }
            Some(v) => {
                out.extend_from_slice(format!("{{{}}}\r\n", v.len()).as_bytes());
                out.extend_from_slice(v);
            }
        }
    }
    out.extend_from_slice(b")\r\n");
    out
}

async fn setmetadata(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    entries: &[(Vec<u8>, Option<Vec<u8>>)],
) -> R {
    let store = store(s)?;
    let sc = scope(s, mailbox, Rights::LOOKUP).await?;
    let server = sc.entry.is_none();
    let admin = s.is_admin();
    let rights = sc.entry.as_ref().map(|e| s.rights(e)).unwrap_or_default();
    let mut changes = Vec::new();
    for (e, v) in entries {
        let name = check_entry_name(e)?;
        if !settable(&name, server) {
            return Err(Fail::denied());
        }
        let private = name.starts_with("/private");
        if !private && !admin && (server || !rights.contains(Rights::ANNOTATE)) {
            return Err(Fail::denied());
        }
        if name == SPECIALUSE_ENTRY {
            if let Some(v) = v {
                let text = String::from_utf8_lossy(v);
                let known = [
                    "\\All",
                    "\\Archive",
                    "\\Drafts",
                    "\\Flagged",
                    "\\Junk",
                    "\\Sent",
                    "\\Trash",
                ];
                if text
                    .split_whitespace()
                    .any(|f| !known.iter().any(|k| k.eq_ignore_ascii_case(f)))
                {
                    return Err(Fail::code(
                        mailboxes::other_code("USEATTR"),
                        "Invalid annotation entry",
                    ));
                }
            }
        }
        changes.push((name, private, v.clone()));
    }
    let user = s.user_name().to_owned();
    let uid = sc.entry.map(|e| e.uniqueid);
    run(s, move |_| -> Result<(), Fail> {
        let id = match &uid {
            Some(u) => Some(MailboxId::new(u)?),
            None => None,
        };
        for (name, private, value) in changes {
            let who = private.then_some(user.as_str());
            store.set_annotation(id.as_ref(), &name, who, value.as_deref())?;
        }
        Ok(())
    })
    .await??;
    s.ok(tag);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Murder and maintenance
// ---------------------------------------------------------------------------------------------

/// XFER (and RENAME with a server location): checks the arguments, then moves the user or
/// mailbox with [`super::xfer`].
pub async fn xfer(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    server: &[u8],
    partition: Option<&[u8]>,
) -> R {
    if !s.is_admin() {
        return Err(Fail::denied());
    }
    if let Some(p) = partition {
        if p.is_empty() || !p.iter().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Fail::Bad("Invalid partition name in Xfer".into()));
        }
    }
    if server == s.ctx.servername.as_bytes() {
        return Err(Fail::no("Invalid server requested"));
    }
    let server = std::str::from_utf8(server)
        .ok()
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| Fail::no("Invalid server requested"))?
        .to_owned();
    let partition = partition.map(|p| String::from_utf8_lossy(p).to_ascii_lowercase());
    super::xfer::start(s, tag, mailbox, &server, partition.as_deref()).await
}

async fn reconstruct(s: &mut Session, tag: &Tag, mailbox: &[u8]) -> R {
    if !s.is_admin() {
        return Err(Fail::denied());
    }
    // The store keeps its counters exact in every transaction; there is nothing to rebuild,
    // so RECONSTRUCT only checks that the mailbox exists.
    open(s, mailbox, Rights::NONE).await?;
    s.ok(tag);
    Ok(())
}

async fn mupdatepush(s: &mut Session, tag: &Tag, mailbox: &[u8]) -> R {
    if !s.is_admin() {
        return Err(Fail::denied());
    }
    if !s.ctx.is_murder_backend() {
        return Err(Fail::no(UNAVAILABLE));
    }
    let name = s.internal_name(mailbox).ok_or_else(Fail::nonexistent)?;
    let n = name.as_str().to_owned();
    let entry = run(s, move |ctx| ctx.mboxdb.get(&n))
        .await??
        .filter(|e| e.state() == MbState::Local)
        .ok_or_else(|| Fail::no(NONEXISTENT))?;
    let mut p = Pusher::connect(&s.ctx).await?;
    let loc = murder::location(&s.ctx, &entry.partition);
    let r = p.activate(&entry.name, &loc, &entry.acl).await;
    p.finish().await;
    r?;
    s.ok(tag);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_requests_match_by_name_depth_and_pattern() {
        let d0 = MetadataDepth::Zero;
        assert!(wanted("/shared/comment", "/shared/comment", d0));
        assert!(!wanted("/shared/comment", "/shared", d0));
        assert!(wanted("/shared/comment", "/shared", MetadataDepth::One));
        assert!(!wanted(
            "/shared/vendor/cmu/cyrus-imapd/size",
            "/shared",
            MetadataDepth::One
        ));
        assert!(wanted(
            "/shared/vendor/cmu/cyrus-imapd/size",
            "/shared",
            MetadataDepth::Infinity
        ));
        assert!(wanted(
            "/shared/vendor/cmu/cyrus-imapd/size",
            "/shared/*",
            d0
        ));
        assert!(wanted("/shared/comment", "/shared/%", d0));
        assert!(!wanted("/shared/vendor/x", "/shared/%", d0));
        assert!(!wanted("/sharedx", "/shared", MetadataDepth::Infinity));
    }

    #[test]
    fn only_known_entries_are_settable() {
        assert!(settable("/shared/comment", false));
        assert!(settable("/private/comment", false));
        assert!(settable("/private/specialuse", false));
        assert!(!settable("/shared/vendor/cmu/cyrus-imapd/partition", false));
        assert!(!settable("/shared/foo", false));
        assert!(settable("/shared/motd", true));
        assert!(!settable("/private/motd", true));
        assert!(!settable("/shared/foo", true));
    }

    #[test]
    fn entry_names_must_be_shared_or_private() {
        assert_eq!(
            check_entry_name(b"/Shared/Comment").unwrap(),
            "/shared/comment"
        );
        assert!(check_entry_name(b"/other/x").is_err());
        assert!(check_entry_name(b"/sharedx").is_err());
    }
}
