//! Mailbox-level commands: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST (with
//! LIST-EXTENDED), LSUB, RLIST, RLSUB and STATUS, with Cyrus 3.6's rules and texts
//! (reference §2.3–2.6, §3.5; checked against a running Cyrus 3.6 backend).
//!
//! A mailbox is two records: its `mailboxes.db` entry (name, ACL, partition, uniqueid), which
//! is what names and rights come from, and its data in the [`crate::store::Store`], keyed by
//! the uniqueid. So a RENAME only rewrites `mailboxes.db` entries, and a delayed DELETE is a
//! rename to `DELETED.<name>.<hextime>`.
//!
//! On a murder backend every change is pushed to the MUPDATE master ([`super::murder`]): a
//! CREATE that the master refuses is rolled back, a DELETE is refused when the master cannot
//! be reached, a RENAME is undone locally when a push fails.
//!
//! Rights, as Cyrus applies them:
//!
//! | operation | needs |
//! |---|---|
//! | see a mailbox (LIST, any command) | `l`, else "Mailbox does not exist" |
//! | CREATE | `k` on the nearest existing parent (admins: nothing) |
//! | DELETE | `x` (admins too; they get only `l` and `a` for free); a user INBOX: admins only |
//! | RENAME | `x` on the old name and `k` on the new parent (admins: nothing) |
//! | STATUS | `r` |
//! | a location or partition argument | admin |
//!
//! ```no_run
//! // Driven by the session loop: `mailboxes::dispatch(&mut session, &tag, body).await`.
//! ```

use std::collections::{HashMap, HashSet};

use protocol::acl::{Acl, Rights, DEFAULT_DEFAULTACL};
use protocol::imap::command::{CommandBody, CreateArgs, CreateParam, ListReturn, ListSelect};
use protocol::imap::response::{Code, Completion, Data, ListExtItem, MailboxList, StatusValue};
use protocol::imap::types::{Atom, Flag, StatusItem, Tag};
use protocol::mailbox::{check_partition, dbname_key, InternalName, Pattern};

use super::murder::{self, PushError};
use super::{atom, Context, End, HResult, Session};
use crate::mboxdb::{DbError, MailboxEntry, MbKind, MbState};
use crate::store::{MailboxId, Store, StoreError};

// ---------------------------------------------------------------------------------------------
// Failures and small helpers shared with `admin`
// ---------------------------------------------------------------------------------------------

/// How a command handler ends when it does not succeed.
#[derive(Debug)]
pub enum Fail {
    /// `tag NO [code] text`.
    No(Option<Code>, String),
    /// `tag BAD text`.
    Bad(String),
    /// The session ends.
    End(End),
}

impl Fail {
    /// `NO text`.
    pub fn no(text: impl Into<String>) -> Fail {
        Fail::No(None, text.into())
    }

    /// `NO [code] text`.
    pub fn code(code: Code, text: impl Into<String>) -> Fail {
        Fail::No(Some(code), text.into())
    }

    /// `NO Mailbox does not exist`.
    pub fn nonexistent() -> Fail {
        Fail::no(NONEXISTENT)
    }

    /// `NO Permission denied`.
    pub fn denied() -> Fail {
        Fail::no(DENIED)
    }
}

impl From<End> for Fail {
    fn from(e: End) -> Self {
        Fail::End(e)
    }
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        tracing::error!("mailboxes.db: {e}");
        Fail::code(Code::Unavailable, format!("System I/O error: {e}"))
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        tracing::error!("mail store: {e}");
        if e.is_temporary() {
            Fail::code(Code::Unavailable, format!("System I/O error: {e}"))
        } else {
            Fail::no(e.to_string())
        }
    }
}

impl From<PushError> for Fail {
    fn from(e: PushError) -> Self {
        tracing::warn!("mupdate push failed: {e:?}");
        Fail::no(e.to_string())
    }
}

/// Handler results.
pub type R<T = ()> = Result<T, Fail>;

/// Cyrus's texts.
pub const NONEXISTENT: &str = "Mailbox does not exist";
/// `IMAP_PERMISSION_DENIED`.
pub const DENIED: &str = "Permission denied";
/// `IMAP_MAILBOX_EXISTS`.
pub const EXISTS: &str = "Mailbox already exists";
/// `IMAP_MAILBOX_BADNAME`.
pub const BADNAME: &str = "Invalid mailbox name";
/// `IMAP_PARTITION_UNKNOWN`.
pub const BADPARTITION: &str = "Unknown/invalid partition";
/// `IMAP_MAILBOX_RESERVED`.
pub const RESERVED: &str = "Mailbox is currently reserved";
/// `IMAP_SERVER_UNAVAILABLE`.
pub const UNAVAILABLE: &str = "Server(s) unavailable to complete operation";

/// Sends the tagged result of a handler that failed; passes session ends through.
pub fn finish(s: &mut Session, tag: &Tag, r: R) -> HResult {
    match r {
        Ok(()) => Ok(()),
        Err(Fail::No(code, text)) => {
            s.tagged(tag, Completion::No, code, &text);
            Ok(())
        }
        Err(Fail::Bad(text)) => {
            s.bad(tag, &text);
            Ok(())
        }
        Err(Fail::End(e)) => Err(e),
    }
}

/// Runs blocking work with the shared context.
pub async fn run<T: Send + 'static>(
    s: &Session,
    f: impl FnOnce(&Context) -> T + Send + 'static,
) -> Result<T, End> {
    let ctx = s.ctx.clone();
    s.blocking(move || f(&ctx)).await
}

/// The store, or NO on a host without one (a frontend).
pub fn store(s: &Session) -> R<Store> {
    s.store().ok_or_else(|| Fail::no(UNAVAILABLE))
}

/// A code without arguments that the response module does not name (`HASCHILDREN`,
/// `USEATTR`).
pub fn other_code(name: &str) -> Code {
    match Atom::new(name.as_bytes()) {
        Ok(name) => Code::Other { name, raw: None },
        Err(_) => Code::Cannot,
    }
}

/// The session's hierarchy separator.
pub fn sep(s: &Session) -> char {
    s.ctx.namespace.separator()
}

/// The entry of a mailbox that can be used here: present and local. Reserved, deleted
/// (tombstone) and intermediate entries do not count.
pub async fn local_entry(s: &Session, name: &InternalName) -> R<Option<MailboxEntry>> {
    let n = name.as_str().to_owned();
    let e = run(s, move |ctx| ctx.mboxdb.get(&n)).await??;
    match e {
        Some(e) if e.state() == MbState::Reserved => Err(Fail::no(RESERVED)),
        Some(e) if matches!(e.state(), MbState::Local | MbState::Moving) => Ok(Some(e)),
        // A frontend answers ACL questions and LIST from the MUPDATE copy.
        Some(e) if s.ctx.frontend && e.state() == MbState::Remote => Ok(Some(e)),
        _ => Ok(None),
    }
}

/// Whether the session may see a name at all: deleted mailboxes only show to admins.
fn may_see_name(s: &Session, name: &InternalName) -> bool {
    s.is_admin() || !name.is_deleted_with(&s.ctx.namespace.deletedprefix)
}

/// Resolves a client's mailbox name to an existing mailbox the session may use with `need`
/// rights: "Mailbox does not exist" without `l` (or without the mailbox), "Permission denied"
/// with `l` but not `need`.
pub async fn open(s: &Session, mailbox: &[u8], need: Rights) -> R<(InternalName, MailboxEntry)> {
    let name = s.internal_name(mailbox).ok_or_else(Fail::nonexistent)?;
    if !may_see_name(s, &name) {
        return Err(Fail::nonexistent());
    }
    let entry = local_entry(s, &name).await?.ok_or_else(Fail::nonexistent)?;
    let rights = s.rights(&entry);
    if !rights.contains(need) {
        if rights.contains(Rights::LOOKUP) {
            return Err(Fail::denied());
        }
        return Err(Fail::nonexistent());
    }
    if !rights.contains(Rights::LOOKUP) && !rights.contains(Rights::READ) {
        return Err(Fail::nonexistent());
    }
    Ok((name, entry))
}

/// `name` and every entry below it (`name.*`), in database order.
pub fn subtree(ctx: &Context, name: &str) -> Result<Vec<MailboxEntry>, DbError> {
    let mut out = Vec::new();
    let below = format!("{name}.");
    ctx.mboxdb.scan(name, |e| {
        if e.name == name || e.name.starts_with(&below) {
            out.push(e);
        }
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// The nearest existing (local) ancestor of `name`.
fn nearest_parent(ctx: &Context, name: &InternalName) -> Result<Option<MailboxEntry>, DbError> {
    let mut cur = name.parent();
    while let Some(p) = cur {
        if let Some(e) = ctx.mboxdb.get(p.as_str())? {
            if matches!(e.state(), MbState::Local | MbState::Moving) {
                return Ok(Some(e));
            }
        }
        cur = p.parent();
    }
    Ok(None)
}

/// The quota root a mailbox called `name` is charged to: the nearest of itself and its
/// ancestors that is a quota root.
pub fn quota_root_for(store: &Store, name: &InternalName) -> Result<Option<String>, StoreError> {
    let mut cur = Some(name.clone());
    while let Some(n) = cur {
        if store.quota(n.as_str())?.is_some() {
            return Ok(Some(n.as_str().to_owned()));
        }
        cur = n.parent();
    }
    Ok(None)
}

/// The partition a new mailbox goes to without an explicit one: its parent's, else
/// `defaultpartition`, else `default`, else the first configured.
fn default_partition(ctx: &Context, store: &Store, parent: Option<&MailboxEntry>) -> String {
    if let Some(p) = parent {
        if store.partitions().contains_key(&p.partition) {
            return p.partition.clone();
        }
    }
    if let Some(p) = ctx.conf.defaultpartition() {
        let p = p.to_ascii_lowercase();
        if store.partitions().contains_key(&p) {
            return p;
        }
    }
    if store.partitions().contains_key("default") {
        return "default".into();
    }
    store
        .partitions()
        .keys()
        .next()
        .cloned()
        .unwrap_or_default()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn utf8(b: &[u8]) -> R<&str> {
    std::str::from_utf8(b).map_err(|_| Fail::no(BADNAME))
}

/// `delete_mode: delayed` (Cyrus 3's default).
pub fn delayed_delete(ctx: &Context) -> bool {
    ctx.conf.get_enum("delete_mode").as_deref() != Some("immediate")
}

// ---------------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------------

/// Runs one command of this group.
pub async fn dispatch(s: &mut Session, tag: &Tag, body: CommandBody) -> HResult {
    let r = match body {
        CommandBody::Create { mailbox, args } => create(s, tag, &mailbox, args, false).await,
        CommandBody::Delete { mailbox } => delete(s, tag, &mailbox, false).await,
        CommandBody::Rename { from, to, location } => {
            rename(s, tag, &from, &to, location.as_deref()).await
        }
        CommandBody::Subscribe { mailbox } => subscribe(s, tag, &mailbox, true).await,
        CommandBody::Unsubscribe { mailbox } => subscribe(s, tag, &mailbox, false).await,
        CommandBody::List {
            selection,
            reference,
            patterns,
            returns,
        } => list(s, tag, &selection, &reference, &patterns, &returns).await,
        CommandBody::Lsub { reference, pattern } => lsub(s, tag, &reference, &pattern).await,
        CommandBody::Rlist { reference, pattern } => {
            s.referrals_ok = true;
            list(s, tag, &[], &reference, &[pattern], &[]).await
        }
        CommandBody::Rlsub { reference, pattern } => {
            s.referrals_ok = true;
            lsub(s, tag, &reference, &pattern).await
        }
        CommandBody::Status { mailbox, items } => status(s, tag, &mailbox, &items).await,
        _ => Err(Fail::Bad("Unrecognized command".into())),
    };
    finish(s, tag, r)
}

// ---------------------------------------------------------------------------------------------
// CREATE
// ---------------------------------------------------------------------------------------------

/// The RFC 6154 special-use attributes a mailbox may carry.
const SPECIAL_USE: &[&str] = &[
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
];

/// The annotation holding a mailbox's special-use attributes (the owner's private value).
pub const SPECIALUSE_ENTRY: &str = "/private/specialuse";

fn flag_name(f: &Flag) -> String {
    let mut v = Vec::new();
    f.write(&mut v);
    String::from_utf8_lossy(&v).into_owned()
}

/// What CREATE was asked beyond the name.
#[derive(Default)]
struct CreateOpts {
    partition: Option<String>,
    server: Option<String>,
    special_use: Vec<String>,
    mailbox_id: Option<String>,
}

fn create_opts(args: Option<CreateArgs>) -> R<CreateOpts> {
    let mut o = CreateOpts::default();
    let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| Fail::no(BADPARTITION));
    match args {
        None => {}
        Some(CreateArgs::Partition(p)) => {
            let p = text(p)?;
            match p.split_once('!') {
                Some((srv, part)) => {
                    o.server = Some(srv.to_owned());
                    if !part.is_empty() {
                        o.partition = Some(part.to_owned());
                    }
                }
                None => o.partition = Some(p),
            }
        }
        Some(CreateArgs::Params(params)) => {
            for p in params {
                match p {
                    CreateParam::Partition(p) => o.partition = Some(text(p)?),
                    CreateParam::Server(v) => o.server = Some(text(v)?),
                    CreateParam::Use(flags) => {
                        o.special_use.extend(flags.iter().map(flag_name));
                    }
                    CreateParam::MailboxId(id) => o.mailbox_id = Some(text(id)?),
                    // Unknown parameters are ignored, as Cyrus ignores what it does not use.
                    CreateParam::Other(..) => {}
                }
            }
        }
    }
    Ok(o)
}

/// CREATE, and LOCALCREATE when `local_only` (no push to the master).
pub async fn create(
    s: &mut Session,
    tag: &Tag,
    mailbox: &[u8],
    args: Option<CreateArgs>,
    local_only: bool,
) -> R {
    let store = store(s)?;
    let opts = create_opts(args)?;
    let ext = utf8(mailbox)?.trim_end_matches(sep(s));
    let name = s
        .internal_name(ext.as_bytes())
        .ok_or_else(|| Fail::no(BADNAME))?;
    let admin = s.is_admin();
    if (opts.partition.is_some() || opts.server.is_some() || opts.mailbox_id.is_some()) && !admin {
        return Err(Fail::denied());
    }
    if let Some(srv) = &opts.server {
        if *srv != s.ctx.servername {
            return Err(Fail::no(BADPARTITION));
        }
    }
    let partition = match &opts.partition {
        Some(p) => {
            let p = check_partition(p).map_err(|_| Fail::no(BADPARTITION))?;
            if !store.partitions().contains_key(&p) {
                return Err(Fail::no(BADPARTITION));
            }
            Some(p)
        }
        None => None,
    };
    s.ctx
        .namespace
        .policy_check(name.as_str())
        .map_err(|_| Fail::no(BADNAME))?;
    let explicit_id = match &opts.mailbox_id {
        Some(id) => Some(MailboxId::new(id).map_err(|_| Fail::Bad("Invalid MAILBOXID".into()))?),
        None => None,
    };
    let entry = create_mailbox(
        s,
        &name,
        partition,
        &opts.special_use,
        explicit_id,
        local_only,
        true,
    )
    .await?;
    let code = Atom::new(entry.uniqueid.as_bytes())
        .ok()
        .map(Code::MailboxId);
    s.tagged(tag, Completion::Ok, code, "Completed");
    Ok(())
}

/// Creates `name` (already policy-checked): rights, partition, ACL, special-use, the store
/// mailbox, the `mailboxes.db` entry and, unless `local_only`, the push to the master (the
/// local create is undone when that fails). `check_rights` false skips the permission checks
/// (the caller made them).
pub async fn create_mailbox(
    s: &mut Session,
    name: &InternalName,
    partition: Option<String>,
    special_use: &[String],
    explicit_id: Option<MailboxId>,
    local_only: bool,
    check_rights: bool,
) -> R<MailboxEntry> {
    let store = store(s)?;
    let admin = s.is_admin();
    let n = name.clone();
    let (existing, parent) = run(s, move |ctx| {
        Ok::<_, DbError>((ctx.mboxdb.get(n.as_str())?, nearest_parent(ctx, &n)?))
    })
    .await??;
    if let Some(e) = existing {
        return Err(match e.state() {
            MbState::Reserved => Fail::no(RESERVED),
            _ => Fail::no(EXISTS),
        });
    }
    if check_rights && !admin {
        // Users never create INBOXes, nor anything without a parent that grants `k`.
        let ok = !name.is_user_inbox()
            && parent
                .as_ref()
                .is_some_and(|p| s.rights(p).contains(Rights::CREATE));
        if !ok {
            return Err(Fail::denied());
        }
    }
    // Special-use: known attributes, on a user's mailbox, not already used by another.
    let owner = name.owner();
    let mut special: Vec<String> = Vec::new();
    if !special_use.is_empty() {
        let extra = s.ctx.conf.get_words("specialuse_extra");
        for f in special_use {
            let known = SPECIAL_USE.iter().any(|k| k.eq_ignore_ascii_case(f))
                || extra.iter().any(|k| k.eq_ignore_ascii_case(f));
            if !known || owner.is_none() {
                return Err(Fail::code(
                    other_code("USEATTR"),
                    "Invalid annotation entry",
                ));
            }
            let canon = SPECIAL_USE
                .iter()
                .find(|k| k.eq_ignore_ascii_case(f))
                .map(|k| (*k).to_owned())
                .unwrap_or_else(|| f.clone());
            if !special.contains(&canon) {
                special.push(canon);
            }
        }
        if let (Some(owner), Some(inbox)) = (owner.clone(), name.user_inbox()) {
            let st = store.clone();
            let wanted = special.clone();
            let conflict = run(s, move |ctx| -> Result<bool, Fail> {
                for e in subtree(ctx, inbox.as_str())? {
                    let Ok(id) = MailboxId::new(&e.uniqueid) else {
                        continue;
                    };
                    if let Ok(Some(v)) = st.annotation(Some(&id), SPECIALUSE_ENTRY, Some(&owner)) {
                        let have = String::from_utf8_lossy(&v).into_owned();
                        if have
                            .split_whitespace()
                            .any(|h| wanted.iter().any(|w| w.eq_ignore_ascii_case(h)))
                        {
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            })
            .await??;
            if conflict {
                return Err(Fail::code(
                    other_code("USEATTR"),
                    "SPECIAL-USE flag conflict",
                ));
            }
        }
    }
    let partition = match partition {
        Some(p) => p,
        None => default_partition(&s.ctx, &store, parent.as_ref()),
    };
    let defaultacl = s
        .ctx
        .conf
        .get_str("defaultacl")
        .unwrap_or_else(|| DEFAULT_DEFAULTACL.into());
    let parent_acl = parent.as_ref().and_then(|p| Acl::parse(&p.acl).ok());
    let acl = Acl::for_new_mailbox(
        name,
        parent_acl.as_ref(),
        &Acl::from_defaultacl(&defaultacl).unwrap_or_default(),
    )
    .map_err(|e| Fail::no(e.to_string()))?;
    let acl = acl.to_string();

    // The master is contacted before anything changes here, so that an unreachable master
    // leaves nothing behind even for a moment.
    let mut pusher = if local_only {
        None
    } else {
        murder::connect_if_backend(&s.ctx).await?
    };

    let id = explicit_id.unwrap_or_else(MailboxId::generate);
    let (st, n, p, a, sp, ow) = (
        store.clone(),
        name.clone(),
        partition.clone(),
        acl.clone(),
        special.join(" "),
        owner.clone(),
    );
    let entry = run(s, move |ctx| -> Result<MailboxEntry, Fail> {
        let state = st.create_mailbox(&id, &p)?;
        let entry = MailboxEntry {
            name: n.as_str().to_owned(),
            kind: MbKind::Email,
            partition: p,
            acl: a,
            uniqueid: id.as_str().to_owned(),
            uidvalidity: state.uidvalidity,
            mtime: now_secs(),
            createdmodseq: state.createdmodseq,
            foldermodseq: state.highestmodseq,
            ..MailboxEntry::default()
        };
        let written = ctx.mboxdb.write(|tx| {
            // Another session may have created the name since the check above.
            if tx.get(&entry.name)?.is_some() {
                return Ok(false);
            }
            tx.put(&entry);
            Ok(true)
        });
        match written {
            Ok(true) => {}
            Ok(false) => {
                let _ = st.delete_mailbox(&id);
                return Err(Fail::no(EXISTS));
            }
            Err(e) => {
                let _ = st.delete_mailbox(&id);
                return Err(e.into());
            }
        }
        if let Some(root) = quota_root_for(&st, &n)? {
            st.set_mailbox_quota_root(&id, Some(&root))?;
        }
        if let (false, Some(owner)) = (sp.is_empty(), ow) {
            st.set_annotation(
                Some(&id),
                SPECIALUSE_ENTRY,
                Some(&owner),
                Some(sp.as_bytes()),
            )?;
        }
        Ok(entry)
    })
    .await??;

    if let Some(p) = pusher.as_mut() {
        let loc = murder::location(&s.ctx, &entry.partition);
        let pushed = p.create(&entry.name, &loc, &entry.acl).await;
        if let Err(e) = pushed {
            let e2 = entry.clone();
            let st = store.clone();
            run(s, move |ctx| {
                let _ = ctx.mboxdb.delete(&e2.name);
                if let Ok(id) = MailboxId::new(&e2.uniqueid) {
                    let _ = st.delete_mailbox(&id);
                }
            })
            .await?;
            if let Some(p) = pusher.take() {
                p.finish().await;
            }
            return Err(e.into());
        }
    }
    if let Some(p) = pusher {
        p.finish().await;
    }
    tracing::info!(user = %s.user_name(), mailbox = %entry.name, partition = %entry.partition, "created");
    Ok(entry)
}

// ---------------------------------------------------------------------------------------------
// DELETE
// ---------------------------------------------------------------------------------------------

/// DELETE, and LOCALDELETE when `local_only` (no push, immediate, this mailbox alone).
pub async fn delete(s: &mut Session, tag: &Tag, mailbox: &[u8], local_only: bool) -> R {
    let store = store(s)?;
    let name = s.internal_name(mailbox).ok_or_else(Fail::nonexistent)?;
    if !may_see_name(s, &name) {
        return Err(Fail::nonexistent());
    }
    let entry = local_entry(s, &name).await?.ok_or_else(Fail::nonexistent)?;
    let rights = s.rights(&entry);
    let admin = s.is_admin();
    if !rights.contains(Rights::LOOKUP) {
        return Err(Fail::nonexistent());
    }
    if !local_only {
        if name.is_user_inbox() && !admin {
            return Err(Fail::no("Operation is not supported on mailbox"));
        }
        if !rights.contains(Rights::DELETE_MAILBOX) {
            return Err(Fail::denied());
        }
    }
    let user_delete = name.is_user_inbox() && !local_only;
    let n = name.as_str().to_owned();
    let tree = run(s, move |ctx| subtree(ctx, &n)).await??;
    if !user_delete && !local_only && tree.len() > 1 {
        return Err(Fail::code(
            other_code("HASCHILDREN"),
            "Mailbox has inferior hierarchical names",
        ));
    }
    // The whole user for an INBOX, children first; otherwise the mailbox alone.
    let mut victims: Vec<MailboxEntry> = if user_delete {
        tree.into_iter()
            .filter(|e| matches!(e.state(), MbState::Local | MbState::Moving))
            .collect()
    } else {
        vec![entry]
    };
    victims.reverse();

    let delayed = delayed_delete(&s.ctx) && !local_only && !name.is_deleted();
    if delayed {
        let now = u64::try_from(now_secs()).unwrap_or(0);
        let prefix = s.ctx.namespace.deletedprefix.clone();
        let mut pairs = Vec::new();
        for e in victims {
            let old = InternalName::new(&e.name).map_err(|_| Fail::no(BADNAME))?;
            let mut parts = old.parts(&prefix);
            parts.deleted = Some(now.max(1));
            let new = parts.to_internal(&prefix).map_err(|_| Fail::no(BADNAME))?;
            pairs.push((e, new));
        }
        rename_entries(s, pairs, true).await?;
    } else {
        let mut pusher = if local_only {
            None
        } else {
            murder::connect_if_backend(&s.ctx).await?
        };
        for e in victims {
            if let Some(p) = pusher.as_mut() {
                if let Err(err) = p.delete(&e.name).await {
                    if let Some(p) = pusher.take() {
                        p.finish().await;
                    }
                    return Err(err.into());
                }
            }
            let st = store.clone();
            run(s, move |ctx| -> Result<(), Fail> {
                ctx.mboxdb.delete(&e.name)?;
                if let Ok(id) = MailboxId::new(&e.uniqueid) {
                    st.delete_mailbox(&id)?;
                }
                Ok(())
            })
            .await??;
        }
        if let Some(p) = pusher {
            p.finish().await;
        }
    }
    if user_delete {
        let st = store.clone();
        let root = name.as_str().to_owned();
        let owner = name.owner();
        run(s, move |_| -> Result<(), StoreError> {
            st.remove_quota(&root)?;
            if let Some(u) = owner {
                st.delete_user_data(&u, false)?;
            }
            Ok(())
        })
        .await??;
    } else if !delayed {
        let st = store.clone();
        let root = name.as_str().to_owned();
        run(s, move |_| st.remove_quota(&root)).await??;
    }
    tracing::info!(user = %s.user_name(), mailbox = %name, delayed, "deleted");
    s.ok(tag);
    Ok(())
}

/// Renames `mailboxes.db` entries (data stays where it is: the store is keyed by uniqueid) in
/// one transaction, then pushes each rename to the master (`push`); when a push fails the
/// local renames are undone and the push's error is returned. Quota roots follow the names.
pub async fn rename_entries(
    s: &mut Session,
    pairs: Vec<(MailboxEntry, InternalName)>,
    push: bool,
) -> R {
    let store = store(s)?;
    let mut pusher = if push {
        murder::connect_if_backend(&s.ctx).await?
    } else {
        None
    };
    let now = now_secs();
    let moved: Vec<(MailboxEntry, MailboxEntry)> = pairs
        .into_iter()
        .map(|(old, new)| {
            let mut e = old.clone();
            e.name = new.as_str().to_owned();
            e.mtime = now;
            (old, e)
        })
        .collect();
    let m = moved.clone();
    run(s, move |ctx| -> Result<(), Fail> {
        let clash = ctx.mboxdb.write(|tx| {
            for (_, new) in &m {
                if tx.get(&new.name)?.is_some() {
                    return Ok(true);
                }
            }
            for (old, new) in &m {
                tx.delete(&old.name);
                tx.put(new);
            }
            Ok(false)
        })?;
        if clash {
            return Err(Fail::no(EXISTS));
        }
        Ok(())
    })
    .await??;

    if let Some(p) = pusher.as_mut() {
        for (old, new) in &moved {
            let loc = murder::location(&s.ctx, &new.partition);
            if let Err(e) = p.rename(&old.name, &new.name, &loc, &new.acl).await {
                let m = moved.clone();
                run(s, move |ctx| {
                    let _ = ctx.mboxdb.write(|tx| {
                        for (old, new) in &m {
                            tx.delete(&new.name);
                            tx.put(old);
                        }
                        Ok(())
                    });
                })
                .await?;
                if let Some(p) = pusher.take() {
                    p.finish().await;
                }
                return Err(e.into());
            }
        }
    }
    if let Some(p) = pusher {
        p.finish().await;
    }

    // Quota roots: a root named after a renamed mailbox moves with it; then every renamed
    // mailbox is charged to the root its new name falls under.
    let st = store.clone();
    run(s, move |_| -> Result<(), StoreError> {
        for (old, new) in &moved {
            if let Some(q) = st.quota(&old.name)? {
                st.remove_quota(&old.name)?;
                st.set_quota(&new.name, q.limits)?;
            }
        }
        for (_, new) in &moved {
            let (Ok(id), Ok(n)) = (MailboxId::new(&new.uniqueid), InternalName::new(&new.name))
            else {
                continue;
            };
            let root = quota_root_for(&st, &n)?;
            st.set_mailbox_quota_root(&id, root.as_deref())?;
        }
        Ok(())
    })
    .await??;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RENAME
// ---------------------------------------------------------------------------------------------

async fn rename(s: &mut Session, tag: &Tag, from: &[u8], to: &[u8], location: Option<&[u8]>) -> R {
    let store = store(s)?;
    let admin = s.is_admin();
    if location.is_some() && !admin {
        return Err(Fail::denied());
    }
    let old = s.internal_name(from).ok_or_else(Fail::nonexistent)?;
    let to_ext = utf8(to)?.trim_end_matches(sep(s));
    let new = s
        .internal_name(to_ext.as_bytes())
        .ok_or_else(|| Fail::no(BADNAME))?;

    if let Some(loc) = location {
        let loc = std::str::from_utf8(loc)
            .ok()
            .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| Fail::Bad("Invalid partition name in Rename".into()))?;
        if old != new {
            return Err(Fail::no(
                "Cross-server or cross-partition move w/rename not supported",
            ));
        }
        let lower = loc.to_ascii_lowercase();
        if !loc.contains('!') && store.partitions().contains_key(&lower) {
            return partition_move(s, tag, &old, &lower).await;
        }
        // Anything else names a server: an XFER (reference §2.4).
        let (server, partition) = match loc.split_once('!') {
            Some((srv, part)) => (srv, (!part.is_empty()).then_some(part)),
            None => (loc, None),
        };
        return super::admin::xfer(
            s,
            tag,
            from,
            server.as_bytes(),
            partition.map(str::as_bytes),
        )
        .await;
    }

    if !may_see_name(s, &old) {
        return Err(Fail::nonexistent());
    }
    let entry = local_entry(s, &old).await?.ok_or_else(Fail::nonexistent)?;
    let rights = s.rights(&entry);
    if !rights.contains(Rights::LOOKUP) {
        return Err(Fail::nonexistent());
    }
    if old == new {
        return Err(if admin {
            Fail::no(EXISTS)
        } else {
            Fail::denied()
        });
    }
    if !new.is_deleted_with(&s.ctx.namespace.deletedprefix) {
        s.ctx
            .namespace
            .policy_check(new.as_str())
            .map_err(|_| Fail::no(BADNAME))?;
    }
    if !admin && !rights.contains(Rights::DELETE_MAILBOX) {
        return Err(Fail::denied());
    }
    let n = new.clone();
    let (target, parent) = run(s, move |ctx| {
        Ok::<_, DbError>((ctx.mboxdb.get(n.as_str())?, nearest_parent(ctx, &n)?))
    })
    .await??;
    if target.is_some() {
        return Err(Fail::no(EXISTS));
    }
    if !admin {
        let ok = !new.is_user_inbox()
            && parent
                .as_ref()
                .is_some_and(|p| s.rights(p).contains(Rights::CREATE));
        if !ok {
            return Err(Fail::denied());
        }
    }

    // RFC 3501: renaming INBOX moves its messages to a new mailbox and leaves INBOX empty;
    // its submailboxes stay. Renaming one user's INBOX to another's is a user rename.
    let user_rename = old.is_user_inbox() && new.is_user_inbox();
    if old.is_user_inbox() && !user_rename {
        return rename_inbox(s, tag, &entry, &new).await;
    }
    if user_rename && !s.ctx.conf.get_switch("allowusermoves") {
        return Err(Fail::no("Operation is not supported on mailbox"));
    }
    if new.as_str().starts_with(&format!("{}.", old.as_str())) {
        return Err(Fail::no(BADNAME));
    }

    let o = old.as_str().to_owned();
    let tree = run(s, move |ctx| subtree(ctx, &o)).await??;
    let mut pairs = Vec::new();
    let deletedprefix = s.ctx.namespace.deletedprefix.clone();
    for e in tree {
        if !matches!(e.state(), MbState::Local | MbState::Moving) {
            continue;
        }
        let suffix = e.name.get(old.as_str().len()..).unwrap_or("");
        let n = InternalName::new(&format!("{}{suffix}", new.as_str()))
            .map_err(|_| Fail::no(BADNAME))?;
        if !n.is_deleted_with(&deletedprefix) {
            s.ctx
                .namespace
                .policy_check(n.as_str())
                .map_err(|_| Fail::no(BADNAME))?;
        }
        pairs.push((e, n));
    }
    let lines: Vec<(String, String)> = pairs
        .iter()
        .map(|(e, n)| {
            let from = InternalName::new(&e.name)
                .ok()
                .and_then(|i| s.external_name(&i))
                .unwrap_or_else(|| e.name.clone());
            let to = s.external_name(n).unwrap_or_else(|| n.as_str().to_owned());
            (from, to)
        })
        .collect();
    rename_entries(s, pairs, true).await?;
    if let Some(user) = s.user.as_ref().map(|u| u.name.clone()) {
        let (st, o, n) = (store.clone(), old.clone(), new.clone());
        run(s, move |_| st.rename_subscriptions(&user, &o, &n)).await??;
    }
    for (from, to) in lines {
        s.untagged(
            protocol::imap::response::Condition::Ok,
            None,
            &format!("rename {from} {to}"),
        );
    }
    tracing::info!(user = %s.user_name(), from = %old, to = %new, "renamed");
    s.ok(tag);
    Ok(())
}

/// RENAME INBOX: a new mailbox receives every message of INBOX.
async fn rename_inbox(s: &mut Session, tag: &Tag, inbox: &MailboxEntry, new: &InternalName) -> R {
    let store = store(s)?;
    let created = create_mailbox(s, new, None, &[], None, false, false).await?;
    let (Ok(src), Ok(dst)) = (
        MailboxId::new(&inbox.uniqueid),
        MailboxId::new(&created.uniqueid),
    ) else {
        return Err(Fail::no("Mailbox has an invalid format"));
    };
    run(s, move |_| -> Result<(), StoreError> {
        let uids: Vec<u32> = store.records(&src)?.iter().map(|r| r.uid).collect();
        if !uids.is_empty() {
            store.move_messages(&src, &dst, &uids)?;
        }
        Ok(())
    })
    .await??;
    s.ok(tag);
    Ok(())
}

/// RENAME name name partition: moves the files of the mailbox and its submailboxes.
async fn partition_move(s: &mut Session, tag: &Tag, name: &InternalName, part: &str) -> R {
    let store = store(s)?;
    local_entry(s, name).await?.ok_or_else(Fail::nonexistent)?;
    let n = name.as_str().to_owned();
    let tree = run(s, move |ctx| subtree(ctx, &n)).await??;
    let mut pusher = murder::connect_if_backend(&s.ctx).await?;
    for e in tree {
        if !matches!(e.state(), MbState::Local) || e.partition == part {
            continue;
        }
        let (st, p, e2) = (store.clone(), part.to_owned(), e.clone());
        let moved = run(s, move |ctx| -> Result<MailboxEntry, Fail> {
            let id = MailboxId::new(&e2.uniqueid)?;
            st.set_partition(&id, &p)?;
            let mut new = e2;
            new.partition = p;
            ctx.mboxdb.put(&new)?;
            Ok(new)
        })
        .await??;
        if let Some(pu) = pusher.as_mut() {
            let loc = murder::location(&s.ctx, &moved.partition);
            if let Err(err) = pu.activate(&moved.name, &loc, &moved.acl).await {
                if let Some(pu) = pusher.take() {
                    pu.finish().await;
                }
                return Err(err.into());
            }
        }
    }
    if let Some(p) = pusher {
        p.finish().await;
    }
    s.ok(tag);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE
// ---------------------------------------------------------------------------------------------

async fn subscribe(s: &mut Session, tag: &Tag, mailbox: &[u8], on: bool) -> R {
    let store = store(s)?;
    let user = s.user_name().to_owned();
    let name = s.internal_name(mailbox).ok_or_else(|| {
        Fail::no(if on {
            "Subscribe: Mailbox does not exist"
        } else {
            BADNAME
        })
    })?;
    if on {
        // Only mailboxes the user can see may be subscribed (Cyrus's rule), unless
        // `allowallsubscribe` (a murder backend: the frontend checked the murder-wide name).
        if !s.ctx.conf.get_switch("allowallsubscribe")
            && open(s, mailbox, Rights::LOOKUP).await.is_err()
        {
            return Err(Fail::no("Subscribe: Mailbox does not exist"));
        }
        run(s, move |_| store.subscribe(&user, &name)).await??;
    } else {
        run(s, move |_| store.unsubscribe(&user, &name)).await??;
    }
    s.ok(tag);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LIST / LSUB
// ---------------------------------------------------------------------------------------------

/// A mailbox the session can see, as LIST shows it.
#[derive(Clone)]
struct Seen {
    ext: String,
    entry: MailboxEntry,
    rights: Rights,
}

/// The order Cyrus lists in: the user's own mailboxes, other users', shared ones, deleted
/// ones; each group in `mailboxes.db` order.
fn order_key(s: &Session, name: &InternalName) -> (u8, Vec<u8>) {
    let parts = name.parts(&s.ctx.namespace.deletedprefix);
    let cat = if parts.deleted.is_some() {
        3
    } else {
        match name.owner() {
            Some(o) if o == s.user_name() => 0,
            Some(_) => 1,
            None => 2,
        }
    };
    (cat, dbname_key(name.as_str()))
}

/// Every mailbox the session can see (`l`), in listing order.
async fn visible(s: &Session) -> R<Vec<Seen>> {
    let all = run(s, |ctx| ctx.mboxdb.all()).await??;
    let mut out: Vec<((u8, Vec<u8>), Seen)> = Vec::new();
    for entry in all {
        let usable = matches!(entry.state(), MbState::Local | MbState::Moving)
            || (s.ctx.frontend && entry.state() == MbState::Remote);
        if !usable {
            continue;
        }
        let Ok(name) = InternalName::new(&entry.name) else {
            continue;
        };
        if !may_see_name(s, &name) {
            continue;
        }
        let rights = s.rights(&entry);
        if !rights.contains(Rights::LOOKUP) {
            continue;
        }
        let Some(ext) = s.external_name(&name) else {
            continue;
        };
        out.push((order_key(s, &name), Seen { ext, entry, rights }));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// The session user's subscriptions as external names, in listing order.
async fn subscriptions(s: &Session) -> R<Vec<String>> {
    let user = s.user_name().to_owned();
    // A frontend keeps no subscriptions (they live on the INBOX backend); when it answers a
    // LIST itself, for a user without an INBOX, there are none to show.
    let Some(store) = s.store() else {
        return Ok(Vec::new());
    };
    if user.is_empty() {
        return Ok(Vec::new());
    }
    let subs = run(s, move |_| store.subscriptions(&user)).await??;
    let mut v: Vec<((u8, Vec<u8>), String)> = subs
        .into_iter()
        .filter(|n| may_see_name(s, n))
        .filter_map(|n| s.external_name(&n).map(|e| (order_key(s, &n), e)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    let mut seen = HashSet::new();
    Ok(v.into_iter()
        .map(|(_, e)| e)
        .filter(|e| seen.insert(e.clone()))
        .collect())
}

/// Every proper ancestor of an external name, outermost first.
fn ancestors(name: &str, sep: char) -> Vec<&str> {
    name.char_indices()
        .filter(|(_, c)| *c == sep)
        .filter_map(|(i, _)| name.get(..i))
        .filter(|a| !a.is_empty())
        .collect()
}

/// Names that have at least one of `names` below them.
fn parents_of<'a>(names: impl Iterator<Item = &'a String>, sep: char) -> HashSet<String> {
    let mut out = HashSet::new();
    for n in names {
        for a in ancestors(n, sep) {
            out.insert(a.to_owned());
        }
    }
    out
}

fn ext_flag(name: &str) -> Flag {
    match atom(name) {
        Some(a) => Flag::Extension(a),
        None => Flag::Recent,
    }
}

fn special_flags(v: &str) -> Vec<Flag> {
    v.split_whitespace()
        .filter_map(|f| f.strip_prefix('\\'))
        .filter_map(atom)
        .map(Flag::Extension)
        .collect()
}

/// What one LIST line says about a name.
enum Row {
    /// An existing mailbox.
    Mailbox(usize),
    /// A subscribed name that does not exist.
    NonExistent,
    /// A level of hierarchy with matching names below it (`%`).
    Intermediate,
    /// A parent listed for RECURSIVEMATCH (`CHILDINFO`); `Some` when it exists.
    ChildInfo(Option<usize>),
}

async fn list(
    s: &mut Session,
    tag: &Tag,
    selection: &[ListSelect],
    reference: &[u8],
    patterns: &[Vec<u8>],
    returns: &[ListReturn],
) -> R {
    let sep = sep(s);
    let sel_sub = selection.contains(&ListSelect::Subscribed);
    let recursive = selection.contains(&ListSelect::RecursiveMatch);
    let sel_special = selection.contains(&ListSelect::SpecialUse);
    if selection.contains(&ListSelect::Remote) {
        s.referrals_ok = true;
    }
    if recursive && !sel_sub && !sel_special {
        return Err(Fail::Bad(
            "Invalid RECURSIVEMATCH without another selection".into(),
        ));
    }
    let ret_sub = sel_sub || returns.contains(&ListReturn::Subscribed);
    let ret_rights = returns.contains(&ListReturn::MyRights);
    let ret_status: Option<Vec<StatusItem>> = returns.iter().find_map(|r| match r {
        ListReturn::Status(items) => Some(items.clone()),
        _ => None,
    });
    let reference = utf8(reference)?;
    // `LIST "" ""`: just the hierarchy delimiter.
    if patterns.len() == 1 && patterns.first().is_some_and(|p| p.is_empty()) {
        s.data(Data::List(MailboxList {
            attributes: vec![ext_flag("Noselect")],
            delimiter: u8::try_from(u32::from(sep)).ok(),
            mailbox: if reference.is_empty() {
                Vec::new()
            } else {
                reference
                    .split(sep)
                    .next()
                    .unwrap_or("")
                    .as_bytes()
                    .to_vec()
            },
            extended: Vec::new(),
        }));
        s.ok(tag);
        return Ok(());
    }
    let mut pats = Vec::new();
    let mut pct_tail = false;
    for p in patterns {
        let p = utf8(p)?;
        pct_tail |= p.ends_with('%');
        pats.push(Pattern::new(reference, p, sep).map_err(|e| Fail::Bad(e.to_string()))?);
    }
    let matches = |n: &str| pats.iter().any(|p| p.matches(n));

    let seen = visible(s).await?;
    let index: HashMap<String, usize> = seen
        .iter()
        .enumerate()
        .map(|(i, m)| (m.ext.clone(), i))
        .collect();
    let with_children = parents_of(seen.iter().map(|m| &m.ext), sep);
    let subs = if !(ret_sub || sel_sub) {
        Vec::new()
    } else if s.ctx.frontend {
        // A frontend asks the INBOX backend (reference §4.5).
        let mut v: Vec<((u8, Vec<u8>), String)> = crate::proxyd::list::subscriptions(s)
            .await?
            .into_iter()
            .filter_map(|e| s.internal_name(e.as_bytes()).map(|n| (order_key(s, &n), e)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, e)| e).collect()
    } else {
        subscriptions(s).await?
    };
    let sub_set: HashSet<String> = subs.iter().cloned().collect();

    // The base names, in order, and the rows to print.
    let base: Vec<String> = if sel_sub {
        subs.clone()
    } else {
        seen.iter().map(|m| m.ext.clone()).collect()
    };
    let mut rows: Vec<(String, Row)> = Vec::new();
    let mut emitted: HashSet<String> = HashSet::new();
    for b in &base {
        if matches(b) {
            if emitted.insert(b.clone()) {
                let row = match index.get(b) {
                    Some(i) => Row::Mailbox(*i),
                    None => Row::NonExistent,
                };
                rows.push((b.clone(), row));
            }
            continue;
        }
        if sel_sub && recursive {
            for a in ancestors(b, sep) {
                if matches(a) && emitted.insert(a.to_owned()) {
                    rows.push((a.to_owned(), Row::ChildInfo(index.get(a).copied())));
                }
            }
        } else if pct_tail && !sel_sub {
            for a in ancestors(b, sep) {
                if matches(a) && !index.contains_key(a) && emitted.insert(a.to_owned()) {
                    rows.push((a.to_owned(), Row::Intermediate));
                }
            }
        }
    }

    // A frontend asks each mailbox's backend for what only it knows: special-use attributes
    // (when asked for: a plain LIST on a Cyrus frontend shows none) and STATUS values.
    let remote = if s.ctx.frontend {
        let want_special = sel_special || sel_sub || returns.contains(&ListReturn::SpecialUse);
        let mailboxes: Vec<(String, MailboxEntry)> = rows
            .iter()
            .filter_map(|(_, r)| match r {
                Row::Mailbox(i) | Row::ChildInfo(Some(i)) => seen.get(*i),
                _ => None,
            })
            .filter(|m| ret_status.is_none() || m.rights.contains(Rights::READ) || want_special)
            .map(|m| (m.ext.clone(), m.entry.clone()))
            .collect();
        Some(
            crate::proxyd::list::backend_data(s, &mailboxes, want_special, ret_status.as_deref())
                .await,
        )
    } else {
        None
    };
    // Special-use attributes: the session user's private annotation on their mailboxes.
    let store = s.store();
    if store.is_none() && !s.ctx.frontend {
        return Err(Fail::no(UNAVAILABLE));
    }
    let user = s.user_name().to_owned();
    let wanted: Vec<(usize, String)> = rows
        .iter()
        .filter_map(|(_, r)| match r {
            Row::Mailbox(i) | Row::ChildInfo(Some(i)) => Some(*i),
            _ => None,
        })
        .filter_map(|i| seen.get(i).map(|m| (i, m.entry.uniqueid.clone())))
        .collect();
    let st = store.clone();
    let special: HashMap<usize, String> = run(s, move |_| {
        let mut out = HashMap::new();
        let Some(st) = st else {
            return out;
        };
        if user.is_empty() {
            return out;
        }
        for (i, uid) in wanted {
            let Ok(id) = MailboxId::new(&uid) else {
                continue;
            };
            if let Ok(Some(v)) = st.annotation(Some(&id), SPECIALUSE_ENTRY, Some(&user)) {
                out.insert(i, String::from_utf8_lossy(&v).into_owned());
            }
        }
        out
    })
    .await?;
    let mut special = special;
    if let Some(r) = &remote {
        for (i, m) in seen.iter().enumerate() {
            if let Some(flags) = r.special.get(&m.ext) {
                let v: Vec<String> = flags.iter().map(ToString::to_string).collect();
                special.insert(i, v.join(" "));
            }
        }
    }

    let delimiter = u8::try_from(u32::from(sep)).ok();
    for (name, row) in rows {
        let has_children = with_children.contains(&name);
        let children = |attrs: &mut Vec<Flag>| {
            attrs.push(ext_flag(if has_children {
                "HasChildren"
            } else {
                "HasNoChildren"
            }));
        };
        let mut attrs = Vec::new();
        let mut extended = Vec::new();
        let mut mailbox_idx = None;
        match row {
            Row::Mailbox(i) => {
                if ret_sub && sub_set.contains(&name) {
                    attrs.push(ext_flag("Subscribed"));
                }
                children(&mut attrs);
                if let Some(v) = special.get(&i) {
                    attrs.extend(special_flags(v));
                }
                mailbox_idx = Some(i);
            }
            Row::NonExistent => {
                attrs.push(ext_flag("NonExistent"));
                attrs.push(ext_flag("Subscribed"));
                if has_children {
                    attrs.push(ext_flag("HasChildren"));
                }
            }
            Row::Intermediate => {
                attrs.push(ext_flag("Noselect"));
                attrs.push(ext_flag("HasChildren"));
            }
            Row::ChildInfo(i) => {
                match i {
                    Some(i) => {
                        children(&mut attrs);
                        if let Some(v) = special.get(&i) {
                            attrs.extend(special_flags(v));
                        }
                    }
                    None => {
                        attrs.push(ext_flag("NonExistent"));
                        attrs.push(ext_flag("HasChildren"));
                    }
                }
                extended.push(ListExtItem::ChildInfo(vec![b"SUBSCRIBED".to_vec()]));
            }
        }
        if sel_special && !mailbox_idx.is_some_and(|i| special.contains_key(&i)) {
            continue;
        }
        s.data(Data::List(MailboxList {
            attributes: attrs,
            delimiter,
            mailbox: name.as_bytes().to_vec(),
            extended,
        }));
        let Some(m) = mailbox_idx.and_then(|i| seen.get(i)) else {
            continue;
        };
        // Cyrus's order: LIST, STATUS, MYRIGHTS.
        let rights = ret_rights.then(|| Data::MyRights {
            mailbox: name.as_bytes().to_vec(),
            rights: m.rights.to_string().into_bytes(),
        });
        if let Some(values) = remote.as_ref().and_then(|r| r.status.get(&name)) {
            if m.rights.contains(Rights::READ) {
                s.data(Data::Status {
                    mailbox: name.as_bytes().to_vec(),
                    items: values.clone(),
                });
            }
        }
        if let (Some(items), Some(store)) = (&ret_status, &store) {
            if m.rights.contains(Rights::READ) {
                let owner = InternalName::new(&m.entry.name)
                    .ok()
                    .and_then(|n| n.owner())
                    .is_some_and(|o| o == s.user_name());
                if let Ok(values) = status_values(s, store, &m.entry, owner, items.clone()).await? {
                    s.data(Data::Status {
                        mailbox: name.as_bytes().to_vec(),
                        items: values,
                    });
                }
            }
        }
        if let Some(d) = rights {
            s.data(d);
        }
    }
    s.ok(tag);
    Ok(())
}

async fn lsub(s: &mut Session, tag: &Tag, reference: &[u8], pattern: &[u8]) -> R {
    let sep = sep(s);
    let reference = utf8(reference)?;
    let pattern = utf8(pattern)?;
    if pattern.is_empty() {
        s.ok(tag);
        return Ok(());
    }
    let pat = Pattern::new(reference, pattern, sep).map_err(|e| Fail::Bad(e.to_string()))?;
    let pct_tail = pattern.ends_with('%');
    let subs = subscriptions(s).await?;
    let seen = visible(s).await?;
    let exists: HashSet<&str> = seen.iter().map(|m| m.ext.as_str()).collect();
    let sub_parents = parents_of(subs.iter(), sep);
    let sub_set: HashSet<&str> = subs.iter().map(String::as_str).collect();
    let delimiter = u8::try_from(u32::from(sep)).ok();
    let mut emitted: HashSet<String> = HashSet::new();
    let mut rows: Vec<(String, Vec<Flag>)> = Vec::new();
    for b in &subs {
        if pat.matches(b) {
            if emitted.insert(b.clone()) {
                let mut attrs = Vec::new();
                if !exists.contains(b.as_str()) {
                    attrs.push(ext_flag("Noselect"));
                }
                if sub_parents.contains(b) {
                    attrs.push(ext_flag("HasChildren"));
                }
                rows.push((b.clone(), attrs));
            }
        } else if pct_tail {
            for a in ancestors(b, sep) {
                if pat.matches(a) && !sub_set.contains(a) && emitted.insert(a.to_owned()) {
                    rows.push((
                        a.to_owned(),
                        vec![ext_flag("Noselect"), ext_flag("HasChildren")],
                    ));
                }
            }
        }
    }
    for (name, attrs) in rows {
        s.data(Data::Lsub(MailboxList {
            attributes: attrs,
            delimiter,
            mailbox: name.into_bytes(),
            extended: Vec::new(),
        }));
    }
    s.ok(tag);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// STATUS
// ---------------------------------------------------------------------------------------------

/// The order Cyrus prints STATUS items in, whatever the order asked.
const STATUS_ORDER: &[StatusItem] = &[
    StatusItem::Messages,
    StatusItem::Recent,
    StatusItem::UidNext,
    StatusItem::UidValidity,
    StatusItem::MailboxId,
    StatusItem::Unseen,
    StatusItem::Deleted,
    StatusItem::Size,
    StatusItem::HighestModSeq,
    StatusItem::AppendLimit,
];

/// The values of `items` for a mailbox, in Cyrus's order. `owner`: the session user owns it
/// (their `\Seen` is the index's).
pub async fn status_values(
    s: &Session,
    store: &Store,
    entry: &MailboxEntry,
    owner: bool,
    items: Vec<StatusItem>,
) -> Result<Result<Vec<(StatusItem, StatusValue)>, Fail>, End> {
    let st = store.clone();
    let user = s.user_name().to_owned();
    let uid = entry.uniqueid.clone();
    let append_limit = s
        .ctx
        .conf
        .get_bytesize("maxmessagesize")
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(u64::from(u32::MAX));
    run(
        s,
        move |_| -> Result<Vec<(StatusItem, StatusValue)>, Fail> {
            let id = MailboxId::new(&uid)?;
            let state = st.mailbox_state(&id)?;
            let mut out = Vec::new();
            for item in STATUS_ORDER {
                if !items.contains(item) {
                    continue;
                }
                let v = match item {
                    StatusItem::Messages => StatusValue::Number(u64::from(state.exists)),
                    StatusItem::Recent => {
                        let last = if user.is_empty() {
                            0
                        } else {
                            st.seen(&user, &id)?.recent_uid
                        };
                        let n = st.records(&id)?.iter().filter(|r| r.uid > last).count();
                        StatusValue::Number(n as u64)
                    }
                    StatusItem::UidNext => StatusValue::Number(u64::from(state.uidnext)),
                    StatusItem::UidValidity => StatusValue::Number(u64::from(state.uidvalidity)),
                    StatusItem::MailboxId => match Atom::new(id.as_str().as_bytes()) {
                        Ok(a) => StatusValue::MailboxId(a),
                        Err(_) => continue,
                    },
                    StatusItem::Unseen => {
                        let n = if owner || user.is_empty() {
                            st.unseen_count(&id, None)?
                        } else {
                            st.unseen_count(&id, Some(&user))?
                        };
                        StatusValue::Number(u64::from(n))
                    }
                    StatusItem::Deleted => StatusValue::Number(u64::from(state.deleted)),
                    StatusItem::Size => StatusValue::Number(state.size),
                    StatusItem::HighestModSeq => StatusValue::Number(state.highestmodseq),
                    StatusItem::AppendLimit => StatusValue::Number(append_limit),
                    StatusItem::Other(_) => continue,
                };
                out.push((item.clone(), v));
            }
            Ok(out)
        },
    )
    .await
}

async fn status(s: &mut Session, tag: &Tag, mailbox: &[u8], items: &[StatusItem]) -> R {
    let store = store(s)?;
    if let Some(StatusItem::Other(a)) = items.iter().find(|i| matches!(i, StatusItem::Other(_))) {
        return Err(Fail::Bad(format!(
            "Invalid Status attributes {}",
            a.as_str().to_ascii_lowercase()
        )));
    }
    let (name, entry) = open(s, mailbox, Rights::READ).await?;
    let owner = name.owner().is_some_and(|o| o == s.user_name());
    let values = status_values(s, &store, &entry, owner, items.to_vec()).await??;
    s.data(Data::Status {
        mailbox: mailbox.to_vec(),
        items: values,
    });
    s.ok(tag);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_are_listed_outermost_first() {
        assert_eq!(ancestors("a.b.c", '.'), ["a", "a.b"]);
        assert!(ancestors("INBOX", '.').is_empty());
        assert_eq!(
            ancestors("Other Users/alice/Sent", '/'),
            ["Other Users", "Other Users/alice"]
        );
        let names = ["a.b.c".to_string(), "x".to_string()];
        let p = parents_of(names.iter(), '.');
        assert!(p.contains("a") && p.contains("a.b") && !p.contains("x"));
    }

    #[test]
    fn create_arguments_name_partition_server_and_special_use() {
        let o = create_opts(Some(CreateArgs::Partition(b"p2".to_vec()))).unwrap();
        assert_eq!(
            (o.partition.as_deref(), o.server.as_deref()),
            (Some("p2"), None)
        );
        let o = create_opts(Some(CreateArgs::Partition(b"be1!p2".to_vec()))).unwrap();
        assert_eq!(
            (o.partition.as_deref(), o.server.as_deref()),
            (Some("p2"), Some("be1"))
        );
        let o = create_opts(Some(CreateArgs::Params(vec![
            CreateParam::Use(vec![Flag::Extension(Atom::new(b"Sent").unwrap())]),
            CreateParam::Partition(b"default".to_vec()),
        ])))
        .unwrap();
        assert_eq!(o.special_use, ["\\Sent"]);
        assert_eq!(o.partition.as_deref(), Some("default"));
        // `\Flagged` parses as the system flag and is still the special-use name.
        let o = create_opts(Some(CreateArgs::Params(vec![CreateParam::Use(vec![
            Flag::Flagged,
        ])])))
        .unwrap();
        assert_eq!(o.special_use, ["\\Flagged"]);
    }
}
