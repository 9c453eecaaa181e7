//! Local delivery: recipients to mailboxes, the trace headers Cyrus prepends, and the one
//! store transaction that writes a message into every recipient's mailbox.
//!
//! Each recipient goes through [`deliver_to_user`], which decides the target mailboxes
//! (INBOX, or the `+detail` folder); the sieve step of issue 8 replaces its body.

use protocol::acl::{Acl, Rights};
use protocol::lmtp::{Address, Reply, ReversePath};
use protocol::mailbox::{InternalName, Namespace};

use crate::mboxdb::{MailboxEntry, MbState};
use std::sync::OnceLock;

use std::sync::mpsc;

use crate::store::{Flags, InternalDate, MailboxId, Prepared, PreparedDelivery, Store, StoreError};

use super::Context;

/// Delivery options from imapd.conf (reference §7.3, LMTP).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// `lmtp_downcase_rcpt` (default on): lower-case the local part up to `+`.
    pub downcase_rcpt: bool,
    /// `lmtp_strict_quota`: check the message's size against the quota (else only whether the
    /// quota is already full, so one message may go over, as Cyrus does).
    pub strict_quota: bool,
    /// `lmtp_over_quota_perm_failure`: over quota is `552 5.2.2` instead of `452 4.2.2`.
    pub over_quota_perm_failure: bool,
    /// `postuser`: the user part that addresses shared mailboxes (`postuser+shared.folder`);
    /// empty means `+shared.folder`.
    pub postuser: String,
}

/// An accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address as given (after `lmtp_downcase_rcpt`).
    pub address: Address,
    /// Whom it is for.
    pub kind: RecipientKind,
    /// `IGNOREQUOTA` was given.
    pub ignore_quota: bool,
}

/// What a recipient address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientKind {
    /// A user: the INBOX entry, and the `+detail` if any.
    User {
        /// The user id (`bob`, `bob@example.com` with virtdomains).
        userid: String,
        /// The INBOX.
        inbox: MailboxEntry,
        /// The text after `+`.
        detail: Option<String>,
    },
    /// A shared mailbox (`+name` or `postuser+name`), already checked for `p`.
    Shared(MailboxEntry),
}

/// The envelope of the transaction being delivered.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// MAIL FROM.
    pub sender: ReversePath,
    /// The authenticated identity, if any (`None` on the pre-authenticated UNIX socket).
    pub authid: Option<String>,
}

/// The `550 5.1.1` long form.
fn unknown() -> Reply {
    Reply::user_unknown()
}

/// `451 4.3.0 System I/O error`: storage trouble; the MTA retries.
pub fn io_error() -> Reply {
    Reply::line(451, "4.3.0 System I/O error").unwrap_or_else(|_| Reply::server_unavailable())
}

/// `451 4.2.1` for a mailbox being moved to another server (XFER): the MTA retries later,
/// and the retry reaches the mailbox wherever it lives then.
fn moving() -> Reply {
    Reply::mailbox_disabled("Mailbox is being moved to another server; try again later")
        .unwrap_or_else(|_| io_error())
}

/// The over-quota reply for these options.
pub fn over_quota(opts: &DeliveryOptions) -> Reply {
    let r = if opts.over_quota_perm_failure {
        Reply::line(552, "5.2.2 Over quota")
    } else {
        Reply::over_quota("Over quota")
    };
    r.unwrap_or_else(|_| io_error())
}

/// Maps a mailboxes.db entry's state to "deliverable here" or the reply to give.
fn usable(entry: Option<MailboxEntry>) -> Result<MailboxEntry, Reply> {
    let Some(e) = entry else {
        return Err(unknown());
    };
    match e.state() {
        MbState::Local if !e.uniqueid.is_empty() => Ok(e),
        MbState::Reserved => {
            Err(Reply::mailbox_disabled("Mailbox is currently reserved")
                .unwrap_or_else(|_| io_error()))
        }
        MbState::Moving => Err(moving()),
        // Remote (this host is no backend for it), deleted, intermediate, or no store id.
        _ => Err(unknown()),
    }
}

/// Internal name of `+detail` under `inbox` (`bob+Sent/Old` → `user.bob.Sent.Old` with
/// `unixhierarchysep`, where a `.` in a component becomes `^`).
fn detail_name(ns: &Namespace, base: &InternalName, detail: &str) -> Option<InternalName> {
    if detail.is_empty() {
        return None;
    }
    let sep = ns.separator();
    let mut name = base.as_str().to_owned();
    for part in detail.split(sep) {
        if part.is_empty() {
            return None;
        }
        name.push('.');
        if sep == '/' {
            name.push_str(&part.replace('.', "^"));
        } else {
            name.push_str(part);
        }
    }
    InternalName::new(&name).ok()
}

/// A shared mailbox name from the text after `+` (`shared.folder` or `shared/folder`).
fn shared_name(ns: &Namespace, detail: &str) -> Option<InternalName> {
    let (first, rest) = match detail.split_once(ns.separator()) {
        Some((f, r)) => (f, Some(r)),
        None => (detail, None),
    };
    let base =
        InternalName::new(&first.replace('.', if ns.separator() == '/' { "^" } else { "." }))
            .ok()?;
    match rest {
        None => Some(base),
        Some(r) => detail_name(ns, &base, r),
    }
}

/// Whether `p` is granted to `anyone` or to the postuser on this entry.
fn may_post(entry: &MailboxEntry, opts: &DeliveryOptions) -> bool {
    let acl = Acl::parse(&entry.acl).unwrap_or_default();
    let mut rights = acl.rights_for("anyone", &[]);
    if !opts.postuser.is_empty() {
        rights = rights | acl.rights_for(&opts.postuser, &[]);
    }
    rights.contains(Rights::POST)
}

/// Whether the quota charged for `id` is over its limit with `add_bytes` more and one more
/// message (Cyrus's rule: usage + delta > limit; with `add_bytes` 0 only a full quota counts).
pub fn quota_exceeded(store: &Store, id: &MailboxId, add_bytes: u64) -> Result<bool, StoreError> {
    let state = store.mailbox_state(id)?;
    let Some(root) = state.quota_root else {
        return Ok(false);
    };
    let Some(q) = store.quota(&root)? else {
        return Ok(false);
    };
    if let Some(l) = q.limits.storage_kib {
        if q.usage.storage_bytes.saturating_add(add_bytes) > l.saturating_mul(1024) {
            return Ok(true);
        }
    }
    if let Some(l) = q.limits.messages {
        if q.usage.messages.saturating_add(1) > l {
            return Ok(true);
        }
    }
    Ok(false)
}

/// RCPT: resolves an address to a recipient, or the reply refusing it. `size` is MAIL's
/// `SIZE=` when given (used for the quota check only with `lmtp_strict_quota`). Blocking.
pub fn resolve(
    ctx: &Context,
    address: &Address,
    ignore_quota: bool,
    size: Option<u64>,
) -> Result<Recipient, Reply> {
    let address = if ctx.options.downcase_rcpt {
        address.downcase_user()
    } else {
        address.clone()
    };
    let (user, detail) = address.user_and_detail();
    let io = |_e| io_error();
    let kind = if user.is_empty()
        || (!ctx.options.postuser.is_empty() && user == ctx.options.postuser)
    {
        let name = detail
            .and_then(|d| shared_name(&ctx.namespace, d))
            .ok_or_else(unknown)?;
        let entry = usable(ctx.mboxdb.get(name.as_str()).map_err(|_| io_error())?)?;
        if !may_post(&entry, &ctx.options) {
            return Err(Reply::not_authorized("Permission denied").unwrap_or_else(|_| io_error()));
        }
        RecipientKind::Shared(entry)
    } else {
        let userid = match (ctx.namespace.virtdomains, address.domain()) {
            (true, Some(d)) => format!("{user}@{d}"),
            _ => user.to_owned(),
        };
        let inbox = ctx.namespace.user_inbox(&userid).map_err(|_| unknown())?;
        let entry = usable(ctx.mboxdb.get(inbox.as_str()).map_err(|_| io_error())?)?;
        RecipientKind::User {
            userid,
            inbox: entry,
            detail: detail.map(str::to_owned),
        }
    };
    if !ignore_quota {
        let entry = match &kind {
            RecipientKind::User { inbox, .. } => inbox,
            RecipientKind::Shared(e) => e,
        };
        let id = MailboxId::new(&entry.uniqueid).map_err(|_| unknown())?;
        let add = if ctx.options.strict_quota {
            size.unwrap_or(0)
        } else {
            0
        };
        match quota_exceeded(&ctx.store, &id, add) {
            Ok(true) => return Err(over_quota(&ctx.options)),
            Ok(false) => {}
            Err(StoreError::NoSuchMailbox(_)) => return Err(unknown()),
            Err(e) => return Err(io(e)),
        }
    }
    Ok(Recipient {
        address,
        kind,
        ignore_quota,
    })
}

/// What one recipient's delivery comes to: the mailboxes to store into, and the mail to send
/// once the message is stored (sieve's redirects and vacation replies).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Mailboxes and the flags to set there (empty after a sieve `discard`).
    pub targets: Vec<(MailboxId, Flags)>,
    /// Sent after the commit, so nothing goes out for a message the MTA will send again.
    pub sends: Vec<Outgoing>,
    /// The user (for vacation bookkeeping and logs).
    pub userid: String,
    /// The INBOX: where the message is kept when a send fails.
    pub fallback: Option<MailboxId>,
}

/// Mail a sieve script asked for.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// `redirect`: the message, as stored, to `address`.
    Redirect(String),
    /// `vacation`: a reply to the sender, unless already sent within its days.
    Vacation(Box<protocol::sieve::Vacation>),
}

/// Where one recipient's copy goes.
///
/// The default target is the `+detail` folder when it exists and grants `p` to `anyone` or
/// the postuser, else the INBOX; a shared mailbox as resolved. A user with an active sieve
/// script gets it run here: keep goes to the default target, fileinto to a
/// folder, reject becomes this recipient's reply. With `lmtp_strict_quota` the message's size
/// is checked against the quota. Blocking.
pub fn deliver_to_user(
    ctx: &Context,
    envelope: &Envelope,
    rcpt: &Recipient,
    message: &[u8],
) -> Result<Plan, Reply> {
    let entry = match &rcpt.kind {
        RecipientKind::Shared(e) => e.clone(),
        RecipientKind::User { inbox, detail, .. } => {
            let folder = detail.as_deref().and_then(|d| {
                let base = InternalName::new(&inbox.name).ok()?;
                let name = detail_name(&ctx.namespace, &base, d)?;
                let e = ctx.mboxdb.get(name.as_str()).ok().flatten()?;
                let ok = e.state() == MbState::Local
                    && !e.uniqueid.is_empty()
                    && may_post(&e, &ctx.options);
                ok.then_some(e)
            });
            folder.unwrap_or_else(|| inbox.clone())
        }
    };
    let id = MailboxId::new(&entry.uniqueid).map_err(|_| unknown())?;
    if ctx.options.strict_quota && !rcpt.ignore_quota {
        match quota_exceeded(&ctx.store, &id, message.len() as u64) {
            Ok(true) => return Err(over_quota(&ctx.options)),
            Ok(false) => {}
            Err(StoreError::NoSuchMailbox(_)) => return Err(unknown()),
            Err(_) => return Err(io_error()),
        }
    }
    if let RecipientKind::User { userid, inbox, .. } = &rcpt.kind {
        // The no-script path costs one read transaction.
        match ctx.store.active_sieve_script(userid) {
            Ok(None) => {}
            Ok(Some((name, text))) => {
                let inbox_id = MailboxId::new(&inbox.uniqueid).map_err(|_| unknown())?;
                return sieve_plan(
                    ctx, envelope, rcpt, message, userid, &name, &text, id, inbox_id,
                );
            }
            Err(e) => {
                tracing::warn!(user = %userid, "reading the active sieve script: {e}; keeping")
            }
        }
    }
    Ok(Plan {
        targets: vec![(id, Flags::new())],
        ..Plan::default()
    })
}

/// Flags from sieve's names; names the store cannot hold are dropped (and logged).
fn sieve_flags(names: &[String]) -> Flags {
    let ok: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| {
            let good = Flags::parse([*n]).is_ok();
            if !good {
                tracing::info!("sieve: ignoring flag {n:?}");
            }
            good
        })
        .collect();
    Flags::parse(ok).unwrap_or_default()
}

/// The folder a sieve `fileinto` names, if it exists here and the user may post to it.
///
/// Scripts name folders as the user sees them, and mostly as written for the standard
/// namespace (`INBOX.Work`) whatever this server's namespace is; so `INBOX.Work`,
/// `INBOX/Work` and `Work` all name the user's `Work` folder, in the standard and the
/// alternate namespace, with `.` or `/` as separator. A name that is not one of the user's
/// folders may name an existing shared mailbox.
fn fileinto_target(ctx: &Context, userid: &str, mailbox: &str) -> Option<MailboxId> {
    let ns = &ctx.namespace;
    let sep = ns.separator();
    let mut spellings = vec![mailbox.to_owned()];
    if sep == '/' && mailbox.contains('.') && !mailbox.contains('/') {
        spellings.push(mailbox.replace('.', "/"));
    }
    let mut names = Vec::new();
    for name in &spellings {
        let inbox_prefixed = name
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case(&format!("INBOX{sep}")));
        names.push(name.clone());
        if inbox_prefixed {
            names.extend(name.get(6..).map(str::to_owned));
        } else {
            names.push(format!("INBOX{sep}{name}"));
        }
    }
    let mut candidates: Vec<InternalName> = names
        .iter()
        .filter_map(|n| ns.to_internal(n, Some(userid), false).ok())
        .collect();
    // The user's own folders first.
    candidates.sort_by_key(|c| c.owner().as_deref() != Some(userid));
    for name in candidates {
        let Ok(Some(e)) = ctx.mboxdb.get(name.as_str()) else {
            continue;
        };
        if e.state() != MbState::Local || e.uniqueid.is_empty() {
            continue;
        }
        let acl = Acl::parse(&e.acl).unwrap_or_default();
        let rights = acl.rights_for(userid, &[]);
        if !rights.contains(Rights::POST) && !rights.contains(Rights::INSERT) {
            tracing::info!(user = %userid, "sieve: fileinto {mailbox:?}: permission denied");
            return None;
        }
        return MailboxId::new(&e.uniqueid).ok();
    }
    None
}

/// Runs the user's active script and turns its outcome into a [`Plan`] (or the refusal).
#[allow(clippy::too_many_arguments)]
fn sieve_plan(
    ctx: &Context,
    envelope: &Envelope,
    rcpt: &Recipient,
    message: &[u8],
    userid: &str,
    script_name: &str,
    text: &[u8],
    default_target: MailboxId,
    inbox: MailboxId,
) -> Result<Plan, Reply> {
    use protocol::sieve::{evaluate, Action, MessageContext};
    let keep_only = |flags: Flags| Plan {
        targets: vec![(default_target.clone(), flags)],
        userid: userid.to_owned(),
        fallback: Some(inbox.clone()),
        ..Plan::default()
    };
    let script = match ctx.sieve.compiled(userid, script_name, text) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(user = %userid, script = %script_name, "sieve script does not compile: {e}; keeping");
            return Ok(keep_only(Flags::new()));
        }
    };
    let from = match &envelope.sender {
        ReversePath::Null => String::new(),
        ReversePath::Address(a) => a.to_string(),
    };
    let to = rcpt.address.to_string();
    let mut msg = MessageContext::new(message, &from, &to);
    if rcpt.address.domain().is_none() {
        // A bare local part: the user's addresses are whatever this host's domains make it.
        msg.own_addresses.push(format!("{to}@{}", ctx.servername));
        if let Some(d) = ctx.conf.get_str("defaultdomain").filter(|d| !d.is_empty()) {
            msg.own_addresses.push(format!("{to}@{d}"));
        }
    }
    let outcome = evaluate(&script, &msg);
    if let Some(e) = &outcome.error {
        tracing::warn!(user = %userid, script = %script_name, "sieve run-time error: {e}; keeping");
    }
    if let Some(why) = outcome.vacation_skipped {
        tracing::debug!(user = %userid, "sieve: no vacation reply: {why}");
    }
    let mut plan = Plan {
        userid: userid.to_owned(),
        fallback: Some(inbox.clone()),
        ..Plan::default()
    };
    let add = |plan: &mut Plan, id: MailboxId, flags: Flags| match plan
        .targets
        .iter_mut()
        .find(|(t, _)| *t == id)
    {
        Some((_, f)) => *f = f.apply(crate::store::FlagMode::Add, &flags),
        None => plan.targets.push((id, flags)),
    };
    for action in outcome.actions {
        match action {
            Action::Keep { flags } => add(&mut plan, default_target.clone(), sieve_flags(&flags)),
            Action::FileInto { mailbox, flags, .. } => {
                let target = fileinto_target(ctx, userid, &mailbox).unwrap_or_else(|| {
                    tracing::info!(user = %userid, "sieve: fileinto {mailbox:?}: no such folder here; keeping in INBOX");
                    inbox.clone()
                });
                add(&mut plan, target, sieve_flags(&flags));
            }
            Action::Discard => {
                tracing::info!(user = %userid, "sieve: message discarded");
            }
            Action::Reject { reason } => {
                tracing::info!(user = %userid, "sieve: message rejected");
                let text = format!("5.7.1 {}", super::sieve::reject_text(&reason));
                return Err(Reply::line(550, &text).unwrap_or_else(|_| io_error()));
            }
            Action::Redirect { address, .. } => plan.sends.push(Outgoing::Redirect(address)),
            Action::Vacation(v) => plan.sends.push(Outgoing::Vacation(v)),
        }
    }
    Ok(plan)
}

/// Hands a stored recipient's redirects and vacation reply to `sendmail`. Returns the INBOX
/// when a send failed and the message is not stored there yet: the message must then be kept.
fn run_sends(ctx: &Context, envelope: &Envelope, plan: &Plan, message: &[u8]) -> Option<MailboxId> {
    let mut failed = false;
    for send in &plan.sends {
        match send {
            Outgoing::Redirect(to) => {
                let from = match &envelope.sender {
                    ReversePath::Null => "<>".to_string(),
                    ReversePath::Address(a) => a.to_string(),
                };
                if let Err(e) = ctx.sieve.send(&from, to, message) {
                    tracing::warn!(user = %plan.userid, "sieve: redirect to {to}: {e}; keeping in INBOX");
                    failed = true;
                }
            }
            Outgoing::Vacation(v) => match ctx.sieve.vacation(&plan.userid, v, &ctx.servername) {
                Ok(true) => {
                    tracing::info!(user = %plan.userid, "sieve: vacation reply sent to {}", v.to)
                }
                Ok(false) => {
                    tracing::debug!(user = %plan.userid, "sieve: vacation already sent to {}", v.to)
                }
                Err(e) => {
                    tracing::warn!(user = %plan.userid, "sieve: vacation reply to {}: {e}; keeping in INBOX", v.to);
                    failed = true;
                }
            },
        }
    }
    let inbox = plan.fallback.clone()?;
    (failed && !plan.targets.iter().any(|(t, _)| *t == inbox)).then_some(inbox)
}

/// Most deliveries committed by one store transaction.
const MAX_GROUP: usize = 64;

type Outcome = Result<Vec<(u32, u64)>, StoreError>;

/// One prepared delivery waiting for the committer.
struct Job {
    message: Prepared,
    internaldate: InternalDate,
    targets: Vec<(MailboxId, Flags)>,
    reply: mpsc::SyncSender<Outcome>,
}

/// Group commit. The store has one writer, and each transaction pays for a synchronous
/// commit, so sessions write and fsync their message files themselves, in parallel
/// ([`Store::prepare_message`]), then hand them to one committer thread, which commits
/// everything queued meanwhile in one transaction ([`Store::commit_prepared`]). Each session
/// waits for the commit of its own delivery before it answers 250. The thread starts on
/// first use and ends with the last handle.
#[derive(Default)]
pub struct Committer {
    tx: OnceLock<Option<mpsc::Sender<Job>>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

fn stopped() -> StoreError {
    StoreError::Io {
        path: std::path::PathBuf::new(),
        source: std::io::Error::other("delivery committer stopped"),
    }
}

impl Committer {
    /// Delivers like [`Store::deliver`], grouped with other sessions' deliveries. Blocking
    /// (it writes the message and waits for the commit).
    pub fn deliver(
        &self,
        store: &Store,
        bytes: &[u8],
        internaldate: InternalDate,
        targets: &[(MailboxId, Flags)],
    ) -> Outcome {
        let Some((first, _)) = targets.first() else {
            return Ok(Vec::new());
        };
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::channel();
            let store = store.clone();
            std::thread::Builder::new()
                .name("lmtp-commit".into())
                .spawn(move || commit_loop(&store, &rx))
                .map_err(|e| tracing::error!("cannot start the delivery committer: {e}"))
                .ok()?;
            Some(tx)
        });
        let Some(tx) = tx else {
            return store.deliver(bytes, internaldate, targets);
        };
        let message = store.prepare_message(bytes, first)?;
        let (reply, answer) = mpsc::sync_channel(1);
        let job = Job {
            message,
            internaldate,
            targets: targets.to_vec(),
            reply,
        };
        if let Err(mpsc::SendError(job)) = tx.send(job) {
            store.discard_prepared(job.message);
            return Err(stopped());
        }
        answer.recv().unwrap_or_else(|_| Err(stopped()))
    }
}

/// The committer thread: takes every queued delivery (up to [`MAX_GROUP`]), commits them
/// together, answers each, and removes what is left of their files.
fn commit_loop(store: &Store, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let batch: Vec<PreparedDelivery<'_>> = jobs
            .iter()
            .map(|j| PreparedDelivery {
                message: &j.message,
                internaldate: j.internaldate,
                targets: &j.targets,
            })
            .collect();
        let results = store.commit_prepared(&batch);
        drop(batch);
        for (j, r) in jobs.into_iter().zip(results) {
            let _ = j.reply.send(r);
            store.discard_prepared(j.message);
        }
    }
}

/// The reply for a failed store write.
fn store_reply(e: &StoreError) -> Reply {
    match e {
        StoreError::NoSuchMailbox(_) => unknown(),
        StoreError::TooLarge { .. } => Reply::message_too_large(),
        StoreError::Moving(_) => moving(),
        _ => io_error(),
    }
}

/// Delivers `message` for every recipient and returns one reply per recipient, in order.
/// All targets are written by one store transaction (one file, hard-linked), shared with
/// other sessions' deliveries through [`Committer`]; if that fails
/// for a reason other than storage trouble, each recipient is retried alone so one bad
/// mailbox does not fail the others. Blocking.
pub fn deliver_all(
    ctx: &Context,
    envelope: &Envelope,
    rcpts: &[Recipient],
    message: &[u8],
    session_id: &str,
) -> Vec<Reply> {
    let plans: Vec<Result<Plan, Reply>> = rcpts
        .iter()
        .map(|r| deliver_to_user(ctx, envelope, r, message))
        .collect();
    let mut targets: Vec<(MailboxId, Flags)> = Vec::new();
    for (id, flags) in plans.iter().flatten().flat_map(|p| &p.targets) {
        // Two recipients naming one mailbox get one copy (duplicate suppression).
        if !targets.iter().any(|(t, _)| t == id) {
            targets.push((id.clone(), flags.clone()));
        }
    }
    let ok = || Reply::delivered(session_id).unwrap_or_else(|_| Reply::rcpt_ok());
    let now = crate::store::InternalDate::now();
    let all = ctx.committer.deliver(&ctx.store, message, now, &targets);
    let replies: Vec<Result<(), Reply>> = match all {
        Ok(_) => plans
            .iter()
            .map(|p| p.as_ref().map(|_| ()).map_err(Clone::clone))
            .collect(),
        // A mailbox frozen for a move fails only its own recipients: retried one by one below.
        Err(e) if e.is_temporary() && !matches!(e, StoreError::Moving(_)) => {
            tracing::warn!("delivery failed: {e}");
            plans
                .iter()
                .map(|p| match p {
                    Ok(_) => Err(io_error()),
                    Err(r) => Err(r.clone()),
                })
                .collect()
        }
        Err(e) => {
            tracing::info!("delivery failed ({e}); retrying each recipient alone");
            plans
                .iter()
                .map(|p| match p {
                    Err(r) => Err(r.clone()),
                    Ok(p) => match ctx.committer.deliver(&ctx.store, message, now, &p.targets) {
                        Ok(_) => Ok(()),
                        Err(e) => Err(store_reply(&e)),
                    },
                })
                .collect()
        }
    };
    // Sieve's mail goes out only for stored messages; a failed send keeps the message in the
    // INBOX, which is then one more (small) commit.
    let mut keep: Vec<(MailboxId, Flags)> = Vec::new();
    for (plan, stored) in plans.iter().zip(&replies) {
        if let (Ok(plan), Ok(())) = (plan, stored) {
            if plan.sends.is_empty() {
                continue;
            }
            if let Some(inbox) = run_sends(ctx, envelope, plan, message) {
                if !keep.iter().any(|(t, _)| *t == inbox) {
                    keep.push((inbox, Flags::new()));
                }
            }
        }
    }
    if !keep.is_empty() {
        if let Err(e) = ctx.committer.deliver(&ctx.store, message, now, &keep) {
            tracing::error!("keeping after a failed sieve send: {e}");
        }
    }
    replies
        .into_iter()
        .map(|r| r.map(|()| ok()).unwrap_or_else(|r| r))
        .collect()
}

/// Makes a received message storable: bare LF becomes CRLF (as Cyrus stores it); NUL or a
/// bare CR is refused with `554 5.6.0`.
pub fn normalize(body: &[u8]) -> Result<Vec<u8>, Reply> {
    let mut out = Vec::with_capacity(body.len().saturating_add(body.len() / 64));
    let mut prev = 0u8;
    let mut iter = body.iter().copied().peekable();
    while let Some(b) = iter.next() {
        match b {
            0 => {
                return Err(Reply::invalid_message("Message contains NUL characters")
                    .unwrap_or_else(|_| io_error()))
            }
            b'\r' if iter.peek() != Some(&b'\n') => {
                return Err(Reply::invalid_message("Message contains bare newlines")
                    .unwrap_or_else(|_| io_error()))
            }
            b'\n' if prev != b'\r' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
        prev = b;
    }
    Ok(out)
}

/// The trace headers Cyrus's lmtpd prepends (transcript 07): `Return-Path`, `Received` and
/// `X-Cyrus-Session-Id`. `peer` is `[127.0.0.1]` or `[unix socket]`; no reverse DNS lookup is
/// made, so the `from` clause has only the bracketed address.
pub fn trace_headers(
    sender: &ReversePath,
    lhlo: &str,
    peer: &str,
    servername: &str,
    tls: bool,
    authenticated: bool,
    session_id: &str,
) -> Vec<u8> {
    let from = match sender {
        ReversePath::Null => String::new(),
        ReversePath::Address(a) => a.to_string(),
    };
    let with = format!(
        "LMTP{}{}",
        if tls { "S" } else { "" },
        if authenticated { "A" } else { "" }
    );
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000");
    format!(
        "Return-Path: <{from}>\r\nReceived: from {lhlo} ({peer})\r\n\t by {servername} (Cyrus {}) with {with};\r\n\t {date}\r\nX-Cyrus-Session-Id: {session_id}\r\n",
        crate::imapd::VERSION
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_fixes_bare_lf_and_refuses_nul_and_bare_cr() {
        assert_eq!(normalize(b"a\nb\r\n").unwrap(), b"a\r\nb\r\n");
        assert_eq!(normalize(b"a\r\n\r\n").unwrap(), b"a\r\n\r\n");
        assert_eq!(normalize(b"a\0\r\n").unwrap_err().code().get(), 554);
        assert_eq!(normalize(b"a\rb\r\n").unwrap_err().code().get(), 554);
    }

    #[test]
    fn detail_names_follow_the_separator() {
        let ns = Namespace::default();
        let base = InternalName::new("user.bob").unwrap();
        assert_eq!(
            detail_name(&ns, &base, "Sent/a.b").unwrap().as_str(),
            "user.bob.Sent.a^b"
        );
        assert!(detail_name(&ns, &base, "").is_none());
        assert!(detail_name(&ns, &base, "a//b").is_none());
        let dots = Namespace {
            unixhierarchysep: false,
            ..Namespace::default()
        };
        assert_eq!(
            detail_name(&dots, &base, "Sent.x").unwrap().as_str(),
            "user.bob.Sent.x"
        );
        assert_eq!(shared_name(&ns, "shared/in").unwrap().as_str(), "shared.in");
    }

    #[test]
    fn trace_headers_have_cyrus_shape() {
        let h = trace_headers(
            &ReversePath::Null,
            "mx",
            "[unix socket]",
            "be1",
            false,
            true,
            "sid",
        );
        let h = String::from_utf8(h).unwrap();
        assert!(h.starts_with(
            "Return-Path: <>\r\nReceived: from mx ([unix socket])\r\n\t by be1 (Cyrus "
        ));
        assert!(h.contains(" with LMTPA;\r\n\t "));
        assert!(h.ends_with("X-Cyrus-Session-Id: sid\r\n"));
    }
}
