//! `movemailboxes` (`mmove`, `bulkmove`): moves many users or mailboxes to one backend
//! through the frontend, N at a time, with a journal that makes an interrupted run resumable.
//!
//! * **What** moves comes from a file (one user or mailbox a line, `#` comments) or from a
//!   pattern matched against the master's list (MUPDATE `LIST`). A user moves as a whole:
//!   any of a user's mailboxes stands for the user's INBOX, which the backend's XFER moves
//!   with everything below it.
//! * **Plan**: the master (MUPDATE `FIND`, or one `LIST` for long lists) says where each one
//!   is; those already on the target are skipped, those the master does not know fail.
//! * **Moves**: each worker has its own IMAP connection to the frontend and sends Cyrus 3's
//!   `RENAME user.x user.x backend!partition` (`backend!` without a partition: the mailbox
//!   keeps its partition name), which the frontend carries out as an XFER on the source
//!   backend (reference §2.4, §4.9). After each, the master is asked again (`FIND`): only a
//!   master naming the target makes the move a success, whatever the server answered.
//! * **Journal**: `start` is on disk before the RENAME is sent and the outcome after; see
//!   [`journal`]. On a rerun with the same journal, a mailbox last seen in flight is looked
//!   up at the master first: at the target, it is recorded as moved; reserved (a move still
//!   running), it is waited for; still at its source, the move is sent again only after the
//!   master has shown it active there for [`GRACE`], so a RENAME of the stopped run that was
//!   still on its way cannot be doubled.
//! * **Ctrl-C**: the first stops launching moves and lets those in flight finish; a second
//!   abandons them (the journal has them as in flight). Either way the journal gets its `end`
//!   record and the partial report is printed.
//!
//! ```
//! use murder_shell::murder::bulkmove::{parse_list, Target};
//!
//! let names = parse_list("# users to move\nalice\nbob@example.com\nuser.carol.Sent  # carol\n\nalice\n", false).unwrap();
//! assert_eq!(names, ["user.alice", "example.com!user.bob", "user.carol"]);
//! let t = Target::parse("backend2", Some("p2")).unwrap();
//! assert_eq!(t.wire(), "backend2!p2");
//! assert!(t.holds("backend2!p2") && !t.holds("backend2!default"));
//! ```

pub mod journal;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use daemons::mupdate::client::MupdateClient;
use protocol::imap::command::CommandBody;
use protocol::imap::response::{Condition, Response};
use protocol::mailbox::{InternalName, Location, NameParts, Pattern};
use protocol::mupdate::MailboxRecord;
use thiserror::Error;

use self::journal::{Event, Journal, JournalError, Last};
use super::{s, Ctx, Host, Out, Topology};
use crate::client::{Client, ClientError};
use crate::commands::Invocation;
use crate::session::Settings;

/// Longest line of a list file.
pub const MAX_LINE: usize = 1024;
/// Most entries a list (file or pattern) may name.
pub const MAX_ITEMS: usize = 10_000_000;
/// Most workers.
pub const MAX_PARALLEL: usize = 64;
/// How long a mailbox that an interrupted run left in flight must stay active at its source
/// before it is moved again: a RENAME of that run may still be on its way to the backend.
pub const GRACE: Duration = Duration::from_secs(2);
/// How often the master is asked while waiting for a reserved mailbox.
const POLL: Duration = Duration::from_millis(250);
/// Lists longer than this are looked up with one `LIST` instead of a `FIND` each.
const FIND_LIMIT: usize = 500;

/// What went wrong reading a list of users or mailboxes.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ListError {
    /// A line longer than [`MAX_LINE`].
    #[error("line {line}: longer than {MAX_LINE} bytes")]
    TooLong {
        /// 1-based line number.
        line: usize,
    },
    /// A line that names no valid user or mailbox.
    #[error("line {line}: {text:?} is not a user or mailbox name ({reason})")]
    BadName {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
        /// Why.
        reason: String,
    },
    /// More than [`MAX_ITEMS`] entries.
    #[error("more than {MAX_ITEMS} entries")]
    TooMany,
    /// The text could not be read.
    #[error("{0}")]
    Io(String),
}

/// Where the mailboxes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The backend's server name.
    pub server: String,
    /// The partition there, if one was asked for.
    pub partition: Option<String>,
}

impl Target {
    /// From the target argument (`backend` or `backend!partition`) and `--partition`.
    pub fn parse(arg: &str, partition: Option<&str>) -> Result<Target, String> {
        let loc = Location::parse_server_form(arg).map_err(|e| format!("target {arg}: {e}"))?;
        let server = loc
            .server()
            .ok_or_else(|| format!("target {arg}: no server"))?
            .to_owned();
        let partition = match (loc.partition(), partition) {
            (Some(_), Some(_)) => {
                return Err("give the partition in the target or with --partition, not both".into())
            }
            (Some(p), None) | (None, Some(p)) => Some(
                Location::new(Some(&server), Some(p))
                    .map_err(|e| format!("partition {p}: {e}"))?
                    .partition()
                    .unwrap_or(p)
                    .to_owned(),
            ),
            (None, None) => None,
        };
        Ok(Target { server, partition })
    }

    /// The RENAME location argument: `server!partition`, or `server!` (the mailbox keeps its
    /// partition name, reference §2.4).
    pub fn wire(&self) -> String {
        format!(
            "{}!{}",
            self.server,
            self.partition.as_deref().unwrap_or("")
        )
    }

    /// Whether a master location (`server!partition`) is this target.
    pub fn holds(&self, location: &str) -> bool {
        let (server, part) = protocol::mupdate::split_location(location);
        server == self.server
            && self
                .partition
                .as_deref()
                .is_none_or(|p| part.is_some_and(|q| q.eq_ignore_ascii_case(p)))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.partition {
            Some(p) => write!(f, "{}!{p}", self.server),
            None => f.write_str(&self.server),
        }
    }
}

/// The name that moves for `name`: the user's INBOX for any mailbox of a user (XFER moves
/// users whole), the mailbox itself otherwise. `None` for a deleted mailbox (it moves with
/// its user).
pub fn unit_of(name: &str) -> Result<Option<String>, String> {
    let n = InternalName::new(name).map_err(|e| e.to_string())?;
    if n.is_deleted() {
        return Ok(None);
    }
    if n.is_user_mailbox() {
        return Ok(Some(
            n.user_inbox()
                .map(|i| i.as_str().to_owned())
                .unwrap_or_else(|| name.to_owned()),
        ));
    }
    Ok(Some(name.to_owned()))
}

/// The INBOX of a user id (`bob`, `bob@example.com`).
fn user_inbox(user: &str) -> Result<String, String> {
    let (local, domain) = match user.rsplit_once('@') {
        Some((l, d)) => (l, Some(d.to_owned())),
        None => (user, None),
    };
    if local.is_empty() {
        return Err("empty user name".into());
    }
    NameParts {
        domain,
        deleted: None,
        localpart: Some(local.to_owned()),
        boxes: Vec::new(),
    }
    .to_internal(protocol::mailbox::DEFAULT_DELETED_PREFIX)
    .map(|n| n.as_str().to_owned())
    .map_err(|e| e.to_string())
}

/// Reads a list: one user or mailbox a line, blank lines and `#` comments (a line starting
/// with `#`, or ` #` to the end of a line) ignored. A line that is a mailbox name (`user.x`,
/// `domain!user.x`, or any line with `as_mailboxes`) names that mailbox, any other a user.
/// Returns the names that move ([`unit_of`]), each once, in the order first named.
pub fn parse_list(text: &str, as_mailboxes: bool) -> Result<Vec<String>, ListError> {
    read_list(std::io::Cursor::new(text.as_bytes()), as_mailboxes)
}

/// [`parse_list`] from a reader, holding one line at a time.
pub fn read_list(mut r: impl BufRead, as_mailboxes: bool) -> Result<Vec<String>, ListError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut buf)
            .map_err(|e| ListError::Io(e.to_string()))?;
        if n == 0 {
            break;
        }
        line += 1;
        let raw = String::from_utf8_lossy(&buf);
        let raw = raw.trim_end_matches(['\n', '\r']);
        if raw.len() > MAX_LINE {
            return Err(ListError::TooLong { line });
        }
        let text = match raw.find(" #").or_else(|| raw.find("\t#")) {
            Some(i) => raw.get(..i).unwrap_or(raw),
            None => raw,
        }
        .trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let bad = |reason: String| ListError::BadName {
            line,
            text: text.to_owned(),
            reason,
        };
        let is_mailbox = as_mailboxes
            || text.starts_with("user.")
            || text
                .split_once('!')
                .is_some_and(|(_, rest)| rest.starts_with("user."));
        let name = if is_mailbox {
            text.to_owned()
        } else {
            user_inbox(text).map_err(bad)?
        };
        let Some(unit) = unit_of(&name).map_err(bad)? else {
            continue;
        };
        if seen.insert(unit.clone()) {
            if out.len() >= MAX_ITEMS {
                return Err(ListError::TooMany);
            }
            out.push(unit);
        }
    }
    Ok(out)
}

/// What the plan does with one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Move it from this location.
    Move {
        /// Where the master says it is.
        from: String,
    },
    /// Ask the master again when its turn comes: reserved there (a move or create under way),
    /// or left in flight by an interrupted run.
    Check {
        /// Where it was, if known.
        from: Option<String>,
        /// Why.
        why: String,
        /// Whether the journal has it in flight (then it may be recorded as moved).
        resumed: bool,
    },
    /// Nothing to do.
    Skip(String),
    /// Cannot be moved.
    Fail(String),
}

/// Plans one mailbox from the master's record and the journal's last word on it.
pub fn plan_step(rec: Option<&MailboxRecord>, target: &Target, last: Option<&Last>) -> Step {
    if let Some(Last::InFlight { from }) = last {
        return Step::Check {
            from: Some(from.clone()),
            why: "in flight when an earlier run stopped".into(),
            resumed: true,
        };
    }
    let Some(r) = rec else {
        return Step::Fail("no such mailbox at the master".into());
    };
    if !r.is_active() {
        return Step::Check {
            from: Some(r.location().to_owned()),
            why: format!(
                "reserved at the master ({}): a create or move is under way",
                r.location()
            ),
            resumed: false,
        };
    }
    if target.holds(r.location()) {
        return Step::Skip(match last {
            Some(Last::Moved { .. }) => format!("moved by an earlier run ({})", r.location()),
            Some(Last::Failed(why)) => format!(
                "already on {} (an earlier attempt failed: {why}; check it with murderdiff)",
                r.location()
            ),
            _ => format!("already on {}", r.location()),
        });
    }
    Step::Move {
        from: r.location().to_owned(),
    }
}

/// How one mailbox ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The master names the target.
    Moved {
        /// Where it was.
        from: String,
        /// Where the master says it is now.
        to: String,
        /// How long the move took (0 when an earlier run did it).
        seconds: f64,
        /// A remark (an earlier run finished it, the answer was lost...).
        note: Option<String>,
    },
    /// Not moved, or not confirmed.
    Failed {
        /// Where it was, if known.
        from: Option<String>,
        /// Why.
        reason: String,
    },
    /// Nothing was done.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Never started: the run was interrupted (or could not go on) first.
    NotStarted {
        /// Why.
        reason: String,
    },
    /// Sent, and abandoned before its answer (a second Ctrl-C).
    InFlight {
        /// Where it was.
        from: String,
    },
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Moved { .. } => "moved",
            Outcome::Failed { .. } => "failed",
            Outcome::Skipped { .. } => "skipped",
            Outcome::NotStarted { .. } => "not_started",
            Outcome::InFlight { .. } => "in_flight",
        }
    }
}

/// How workers reach the frontend: its address, and the shell's login and TLS settings.
#[derive(Clone)]
pub struct Frontend {
    /// Host.
    pub host: String,
    /// IMAP port.
    pub port: u16,
    /// Login and TLS settings.
    pub settings: Settings,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Frontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frontend")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.settings.user)
            .finish()
    }
}

impl Frontend {
    async fn open(&self) -> Result<Client, ClientError> {
        crate::session::open(
            &self.settings,
            Some(&self.password),
            &self.host,
            self.port,
            true,
        )
        .await
    }
}

/// Commands running now that handle Ctrl-C themselves (see [`handles_interrupt`]).
static GRACEFUL: AtomicUsize = AtomicUsize::new(0);

/// Whether a running command handles Ctrl-C itself (a bulk move stops launching moves and
/// prints its report), so the shell must not drop it on the first Ctrl-C.
pub fn handles_interrupt() -> bool {
    GRACEFUL.load(Ordering::SeqCst) > 0
}

/// Marks a run that handles Ctrl-C itself, for as long as it lives.
struct GracefulGuard;

impl GracefulGuard {
    fn new() -> GracefulGuard {
        GRACEFUL.fetch_add(1, Ordering::SeqCst);
        GracefulGuard
    }
}

impl Drop for GracefulGuard {
    fn drop(&mut self) {
        GRACEFUL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The command's options, read.
#[derive(Debug, Clone)]
struct Options {
    target: Target,
    file: Option<PathBuf>,
    pattern: Option<String>,
    as_mailboxes: bool,
    parallel: usize,
    journal: Option<PathBuf>,
    dry_run: bool,
    wait: Duration,
}

impl Options {
    fn from_invocation(inv: &Invocation) -> Result<Options, String> {
        let file = inv.value("file").map(PathBuf::from);
        let (pattern, target) = match (inv.args.as_slice(), &file) {
            ([t], Some(_)) => (None, t),
            ([p, t], None) => (Some(p.clone()), t),
            ([_], None) => return Err("give a pattern or --file FILE before the target".into()),
            (_, Some(_)) => return Err("give either --file FILE or a pattern, not both".into()),
            _ => return Err("give a pattern or --file FILE, and the target backend".into()),
        };
        let target = Target::parse(target, inv.value("partition"))?;
        let parallel = match inv.value("parallel") {
            Some(n) => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PARALLEL).contains(n))
                .ok_or_else(|| format!("--parallel takes 1 to {MAX_PARALLEL}, not {n}"))?,
            None => 1,
        };
        let wait = match inv.value("wait") {
            Some(w) => Duration::from_secs(
                w.parse::<u64>()
                    .ok()
                    .filter(|w| *w <= 86_400)
                    .ok_or_else(|| format!("--wait takes seconds (0 to 86400), not {w}"))?,
            ),
            None => Duration::from_secs(60),
        };
        Ok(Options {
            target,
            file,
            pattern,
            as_mailboxes: inv.flag("mailboxes"),
            parallel,
            journal: inv.value("journal").map(PathBuf::from),
            dry_run: inv.flag("dry-run"),
            wait,
        })
    }

    /// `file:PATH` or `pattern:PATTERN`, as the journal records it.
    fn source(&self) -> String {
        match (&self.file, &self.pattern) {
            (Some(f), _) => {
                let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
                format!("file:{}", abs.display())
            }
            (None, Some(p)) => format!("pattern:{p}"),
            (None, None) => String::new(),
        }
    }

    /// `--journal`, else `journals/movemailboxes-TARGET-HASH.jsonl` under the state directory,
    /// one per target and list, so rerunning the same command finds its journal.
    fn journal_path(&self) -> Result<PathBuf, String> {
        if let Some(j) = &self.journal {
            return Ok(j.clone());
        }
        let dir = crate::app::state_dir().ok_or(
            "no state directory for the journal: give --journal FILE (or set MURDER_HOME)",
        )?;
        let key = format!("{}|{}|{}", self.target, self.source(), self.as_mailboxes);
        // FNV-1a: a stable name for the same command line, not a security measure.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let safe: String = self
            .target
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(64)
            .collect();
        Ok(dir
            .join("journals")
            .join(format!("movemailboxes-{safe}-{h:016x}.jsonl")))
    }
}

/// One mailbox of the run.
#[derive(Debug, Clone)]
struct Job {
    index: usize,
    name: String,
    step: Step,
}

/// What a worker tells the run.
enum Msg {
    /// The journal has its `start`: the RENAME is being sent.
    Started(usize),
    /// Finished.
    Done(usize, Outcome),
    /// The run cannot go on (no connection, the journal cannot be written).
    Fatal(String),
}

/// What a worker needs.
struct Worker {
    frontend: Arc<Frontend>,
    master: Host,
    master_user: String,
    master_password: String,
    target: Target,
    journal: Arc<Mutex<Journal>>,
    wait: Duration,
    queue: Arc<Mutex<VecDeque<Job>>>,
    stop: Arc<AtomicBool>,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
}

/// Where a mailbox stands once the master is no longer reserving it.
enum Settled {
    /// Active at the target.
    AtTarget(String),
    /// Active elsewhere.
    Elsewhere(String),
    /// Not at the master.
    Gone,
    /// Still reserved after the wait.
    Stuck(String),
}

impl Worker {
    async fn log(&self, ev: Event) -> Result<(), JournalError> {
        let j = self.journal.clone();
        match tokio::task::spawn_blocking(move || {
            j.lock().unwrap_or_else(|e| e.into_inner()).append(&ev)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => Err(JournalError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    fn fatal(&self, why: String) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.tx.send(Msg::Fatal(why));
    }

    /// `FIND` at the master, reconnecting once if the connection was lost.
    async fn find(
        &self,
        m: &mut Option<MupdateClient>,
        name: &str,
    ) -> Result<Option<MailboxRecord>, String> {
        for attempt in 0..2 {
            if m.is_none() {
                *m = Some(
                    super::connect_master(&self.master, &self.master_user, &self.master_password)
                        .await?,
                );
            }
            let Some(c) = m.as_mut() else { continue };
            match c.find(name).await {
                Ok(r) => return Ok(r),
                Err(e) if e.is_connection() && attempt == 0 => *m = None,
                Err(e) => {
                    *m = None;
                    return Err(format!(
                        "FIND {name} at the master {}: {e}",
                        self.master.name
                    ));
                }
            }
        }
        Err(format!("FIND {name}: no connection to the master"))
    }

    /// Asks the master until `name` is not reserved, for up to the wait. When `grace`, a
    /// mailbox active away from the target must stay so for [`GRACE`] first.
    async fn settle(
        &self,
        m: &mut Option<MupdateClient>,
        name: &str,
        grace: bool,
    ) -> Result<Settled, String> {
        let deadline = Instant::now() + self.wait.max(GRACE);
        let mut active_since: Option<Instant> = None;
        loop {
            match self.find(m, name).await? {
                None => return Ok(Settled::Gone),
                Some(r) if r.is_active() => {
                    if self.target.holds(r.location()) {
                        return Ok(Settled::AtTarget(r.location().to_owned()));
                    }
                    let since = *active_since.get_or_insert_with(Instant::now);
                    if !grace || since.elapsed() >= GRACE {
                        return Ok(Settled::Elsewhere(r.location().to_owned()));
                    }
                }
                Some(r) => {
                    active_since = None;
                    if Instant::now() >= deadline {
                        return Ok(Settled::Stuck(r.location().to_owned()));
                    }
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `RENAME name name target` on the frontend: `Ok(Ok(()))` for OK, `Ok(Err(text))` for a
    /// refusal (a tagged NO/BAD, or Cyrus's untagged `* NO USER x (...)` before a tagged OK).
    async fn rename(&self, c: &mut Client, name: &str) -> Result<Result<(), String>, ClientError> {
        let body = CommandBody::Rename {
            from: name.as_bytes().to_vec(),
            to: name.as_bytes().to_vec(),
            location: Some(self.target.wire().into_bytes()),
        };
        let mut warnings = Vec::new();
        let done = c
            .run(body, &mut |r| {
                if let Response::Status {
                    kind: Condition::No,
                    text,
                } = r
                {
                    warnings.push(String::from_utf8_lossy(text.text.as_bytes()).into_owned());
                }
            })
            .await?;
        if let Some(url) = done.referral() {
            return Ok(Err(format!(
                "referred to {url}: run the bulk move through a frontend"
            )));
        }
        if !done.is_ok() {
            return Ok(Err(done.text));
        }
        if !warnings.is_empty() {
            return Ok(Err(warnings.join("; ")));
        }
        Ok(Ok(()))
    }

    /// Moves one mailbox: settle (if needed), journal `start`, RENAME, confirm at the master,
    /// journal the outcome.
    async fn one(
        &self,
        imap: &mut Option<Client>,
        m: &mut Option<MupdateClient>,
        job: &Job,
    ) -> Outcome {
        let name = job.name.as_str();
        let from = match &job.step {
            Step::Move { from } => from.clone(),
            Step::Check {
                from: was, resumed, ..
            } => match self.settle(m, name, *resumed).await {
                Ok(Settled::AtTarget(loc)) if *resumed => {
                    let o = Outcome::Moved {
                        from: was.clone().unwrap_or_default(),
                        to: loc.clone(),
                        seconds: 0.0,
                        note: Some("finished by the interrupted run".into()),
                    };
                    return self.finish(name, o).await;
                }
                Ok(Settled::AtTarget(loc)) => {
                    let o = Outcome::Skipped {
                        reason: format!("already on {loc}"),
                    };
                    return self.finish(name, o).await;
                }
                Ok(Settled::Elsewhere(loc)) => loc,
                Ok(Settled::Gone) => {
                    let o = Outcome::Failed {
                        from: was.clone(),
                        reason: "no longer at the master".into(),
                    };
                    return self.finish(name, o).await;
                }
                Ok(Settled::Stuck(loc)) => {
                    let o = Outcome::Failed {
                        from: Some(loc.clone()),
                        reason: format!(
                            "still reserved at the master ({loc}) after {} s: a move or create is under way; rerun later",
                            self.wait.as_secs()
                        ),
                    };
                    return self.finish(name, o).await;
                }
                Err(e) => {
                    let o = Outcome::Failed {
                        from: was.clone(),
                        reason: e,
                    };
                    return self.finish(name, o).await;
                }
            },
            Step::Skip(reason) => {
                return Outcome::Skipped {
                    reason: reason.clone(),
                }
            }
            Step::Fail(reason) => {
                return Outcome::Failed {
                    from: None,
                    reason: reason.clone(),
                }
            }
        };
        if let Err(e) = self.log(Event::start(name, &from)).await {
            self.fatal(e.to_string());
            return Outcome::NotStarted {
                reason: e.to_string(),
            };
        }
        let _ = self.tx.send(Msg::Started(job.index));
        let t0 = Instant::now();
        let (answer, lost) = match imap.as_mut() {
            Some(c) => match self.rename(c, name).await {
                Ok(a) => (a, false),
                Err(e) => {
                    *imap = None;
                    (Err(format!("connection to the frontend lost: {e}")), true)
                }
            },
            None => (Err("no connection to the frontend".into()), true),
        };
        // The master is the truth: a move is done when it names the target. Right after an
        // OK it does (the destination activates before the source answers); after a lost
        // connection the move may still be running, so wait while it is reserved.
        let confirmed = self.settle(m, name, false).await;
        let seconds = t0.elapsed().as_secs_f64();
        let outcome = match (answer, confirmed) {
            (Ok(()), Ok(Settled::AtTarget(to))) => Outcome::Moved {
                from,
                to,
                seconds,
                note: None,
            },
            (Err(_), Ok(Settled::AtTarget(to))) if lost => Outcome::Moved {
                from,
                to,
                seconds,
                note: Some(
                    "the connection was lost before the answer; the master names the target"
                        .into(),
                ),
            },
            (Ok(()), other) => Outcome::Failed {
                from: Some(from),
                reason: format!(
                    "the server answered OK but the master {}",
                    match other {
                        Ok(Settled::Elsewhere(l) | Settled::AtTarget(l)) => format!("names {l}"),
                        Ok(Settled::Stuck(l)) => format!("still reserves it at {l}"),
                        Ok(Settled::Gone) => "has no entry for it".into(),
                        Err(e) => format!("could not be asked: {e}"),
                    }
                ),
            },
            (Err(text), Ok(Settled::AtTarget(to))) => Outcome::Failed {
                from: Some(from),
                reason: format!(
                    "{text} (yet the master names {to} for it: part of the move may be done; check with murderdiff)"
                ),
            },
            (Err(text), _) => Outcome::Failed {
                from: Some(from),
                reason: text,
            },
        };
        self.finish(name, outcome).await
    }

    /// Journals an outcome and returns it.
    async fn finish(&self, name: &str, o: Outcome) -> Outcome {
        let ev = match &o {
            Outcome::Moved { to, .. } => Event::moved(name, to),
            Outcome::Failed { reason, .. } => Event::failed(name, reason),
            Outcome::Skipped { reason } => Event::skipped(name, reason),
            Outcome::NotStarted { .. } | Outcome::InFlight { .. } => return o,
        };
        if let Err(e) = self.log(ev).await {
            self.fatal(e.to_string());
        }
        o
    }

    async fn run(self) {
        let mut imap: Option<Client> = None;
        let mut m: Option<MupdateClient> = None;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            if imap.is_none() {
                match self.frontend.open().await {
                    Ok(c) => imap = Some(c),
                    Err(e) => {
                        self.fatal(format!(
                            "cannot log in to the frontend {}:{}: {e}",
                            self.frontend.host, self.frontend.port
                        ));
                        break;
                    }
                }
            }
            let job = {
                let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
                q.pop_front()
            };
            let Some(job) = job else { break };
            let o = self.one(&mut imap, &mut m, &job).await;
            let _ = self.tx.send(Msg::Done(job.index, o));
        }
        if let Some(c) = imap {
            c.logout().await;
        }
        if let Some(c) = m {
            c.logout().await;
        }
    }
}

/// The master's records for `names`: one `FIND` each, or for a long list one `LIST`.
async fn lookup(
    client: &mut MupdateClient,
    names: &[String],
) -> Result<HashMap<String, MailboxRecord>, String> {
    let mut out = HashMap::new();
    if names.len() > FIND_LIMIT {
        let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
        client
            .list(None, |r| {
                if wanted.contains(r.name.as_str()) {
                    out.insert(r.name.clone(), r);
                }
            })
            .await
            .map_err(|e| format!("LIST at the master: {e}"))?;
    } else {
        for n in names {
            if let Some(r) = client
                .find(n)
                .await
                .map_err(|e| format!("FIND {n} at the master: {e}"))?
            {
                out.insert(n.clone(), r);
            }
        }
    }
    Ok(out)
}

/// The units matching `pattern` in the master's list, in the master's order, with the records
/// seen.
async fn from_pattern(
    client: &mut MupdateClient,
    pattern: &str,
) -> Result<(Vec<String>, HashMap<String, MailboxRecord>), String> {
    let pat = Pattern::new("", pattern, '.').map_err(|e| format!("pattern {pattern}: {e}"))?;
    let mut units = Vec::new();
    let mut seen = HashSet::new();
    let mut recs = HashMap::new();
    let mut too_many = false;
    client
        .list(None, |r| {
            if !pat.matches(&r.name) {
                return;
            }
            if let Ok(Some(u)) = unit_of(&r.name) {
                if seen.insert(u.clone()) {
                    if units.len() >= MAX_ITEMS {
                        too_many = true;
                        return;
                    }
                    units.push(u.clone());
                }
                if r.name == u {
                    recs.insert(u, r);
                }
            }
        })
        .await
        .map_err(|e| format!("LIST at the master: {e}"))?;
    if too_many {
        return Err(format!("{pattern} matches more than {MAX_ITEMS} mailboxes"));
    }
    // A user whose INBOX did not match (`user.*.Sent`) is still moved whole.
    let missing: Vec<String> = units
        .iter()
        .filter(|u| !recs.contains_key(*u))
        .cloned()
        .collect();
    recs.extend(lookup(client, &missing).await?);
    Ok((units, recs))
}

fn io_err(e: std::io::Error) -> String {
    e.to_string()
}

fn plan_record(out: &mut Out<'_>, name: &str, step: &Step, target: &Target) -> Result<(), String> {
    let to = target.wire();
    let (action, from, reason, line) = match step {
        Step::Move { from } => (
            "move",
            Some(from.clone()),
            None,
            format!("move {name}: {from} -> {to}"),
        ),
        Step::Check { from, why, .. } => (
            "check",
            from.clone(),
            Some(why.clone()),
            format!("check {name}: {why}; then move it to {to} if it is not there"),
        ),
        Step::Skip(why) => (
            "skip",
            None,
            Some(why.clone()),
            format!("skip {name}: {why}"),
        ),
        Step::Fail(why) => (
            "fail",
            None,
            Some(why.clone()),
            format!("fail {name}: {why}"),
        ),
    };
    out.record(
        "bulkmove_plan",
        &line,
        &[
            ("mailbox", s(name)),
            ("action", s(action)),
            ("from", from.map(s).unwrap_or(serde_json::Value::Null)),
            ("to", s(to)),
            ("reason", reason.map(s).unwrap_or(serde_json::Value::Null)),
        ],
    )
    .map_err(io_err)
}

fn result_record(out: &mut Out<'_>, name: &str, o: &Outcome) -> Result<(), String> {
    let null = serde_json::Value::Null;
    let (from, to, reason, seconds, line) = match o {
        Outcome::Moved {
            from,
            to,
            seconds,
            note,
        } => (
            s(from.clone()),
            s(to.clone()),
            note.clone().map(s).unwrap_or(null.clone()),
            serde_json::json!((seconds * 1000.0).round() / 1000.0),
            format!(
                "moved {name}: {from} -> {to} ({seconds:.2} s){}",
                note.as_deref()
                    .map(|n| format!("; {n}"))
                    .unwrap_or_default()
            ),
        ),
        Outcome::Failed { from, reason } => (
            from.clone().map(s).unwrap_or(null.clone()),
            null.clone(),
            s(reason.clone()),
            null.clone(),
            format!("failed {name}: {reason}"),
        ),
        Outcome::Skipped { reason } => (
            null.clone(),
            null.clone(),
            s(reason.clone()),
            null.clone(),
            format!("skipped {name}: {reason}"),
        ),
        Outcome::NotStarted { reason } => (
            null.clone(),
            null.clone(),
            s(reason.clone()),
            null.clone(),
            format!("not started {name}: {reason}"),
        ),
        Outcome::InFlight { from } => (
            s(from.clone()),
            null.clone(),
            s("abandoned in flight; rerun with the same journal to check it"),
            null.clone(),
            format!(
                "in flight {name}: abandoned while moving from {from}; rerun with the same journal to check it"
            ),
        ),
    };
    out.record(
        "bulkmove_result",
        &line,
        &[
            ("mailbox", s(name)),
            ("outcome", s(o.label())),
            ("from", from),
            ("to", to),
            ("reason", reason),
            ("seconds", seconds),
        ],
    )
    .map_err(io_err)
}

/// Counts of a run.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    moved: u64,
    failed: u64,
    skipped: u64,
    not_started: u64,
    in_flight: u64,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Moved { .. } => self.moved += 1,
            Outcome::Failed { .. } => self.failed += 1,
            Outcome::Skipped { .. } => self.skipped += 1,
            Outcome::NotStarted { .. } => self.not_started += 1,
            Outcome::InFlight { .. } => self.in_flight += 1,
        }
    }
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    };
    let pb = indicatif::ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {msg} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

fn progress_message(c: &Counts, started: Instant) -> String {
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let rate = if minutes > 0.0 {
        c.moved as f64 / minutes
    } else {
        0.0
    };
    format!(
        "moved {} failed {} skipped {} ({rate:.0}/min)",
        c.moved, c.failed, c.skipped
    )
}

/// Runs `movemailboxes`. Returns 0 when everything asked for is on the target (moved or
/// skipped), 1 when something failed, was interrupted, or (dry run) would fail.
pub async fn run(
    inv: &Invocation,
    ctx: &Ctx,
    frontend: Frontend,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, String> {
    let opts = Options::from_invocation(inv)?;
    let topo = Topology::for_invocation(inv)?;
    if !topo.backends.is_empty() && !topo.backends.iter().any(|b| b.name == opts.target.server) {
        let known: Vec<&str> = topo.backends.iter().map(|b| b.name.as_str()).collect();
        return Err(format!(
            "no backend {} in this murder (backends: {})",
            opts.target.server,
            known.join(", ")
        ));
    }
    let master = topo
        .master
        .clone()
        .ok_or("no master: give --mupdate HOST:PORT (or run a local murder)")?;
    let (muser, mpw) = topo.credentials(inv, ctx)?;

    // What to move, and where each one is.
    let mut client = super::connect_master(&master, &muser, &mpw).await?;
    let listed = match (&opts.file, &opts.pattern) {
        (Some(f), _) => {
            let file = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
            let names = read_list(std::io::BufReader::new(file), opts.as_mailboxes)
                .map_err(|e| format!("{}: {e}", f.display()))?;
            lookup(&mut client, &names).await.map(|r| (names, r))
        }
        (None, Some(p)) => from_pattern(&mut client, p).await,
        (None, None) => Err("nothing to move".into()),
    };
    client.logout().await;
    let (names, recs) = listed?;

    let journal_path = opts.journal_path()?;
    let (journal, replay) = if opts.dry_run {
        (
            None,
            journal::Replay::read(&journal_path)
                .map_err(|e| e.to_string())?
                .0,
        )
    } else {
        let (j, r) = Journal::open(&journal_path).map_err(|e| e.to_string())?;
        (Some(j), r)
    };
    if let Some(t) = &replay.target {
        if *t != opts.target.to_string() {
            return Err(format!(
                "journal {} is for a move to {t}, not {}: give another --journal",
                journal_path.display(),
                opts.target
            ));
        }
    }
    let plan: Vec<Job> = names
        .iter()
        .enumerate()
        .map(|(index, n)| Job {
            index,
            name: n.clone(),
            step: plan_step(recs.get(n), &opts.target, replay.last.get(n)),
        })
        .collect();

    let mut o = Out::new(ctx, out);
    let Some(mut journal) = journal else {
        // Dry run: the plan, and nothing changed.
        let (mut mv, mut ck, mut sk, mut fl) = (0u64, 0u64, 0u64, 0u64);
        for j in &plan {
            match j.step {
                Step::Move { .. } => mv += 1,
                Step::Check { .. } => ck += 1,
                Step::Skip(_) => sk += 1,
                Step::Fail(_) => fl += 1,
            }
            plan_record(&mut o, &j.name, &j.step, &opts.target)?;
        }
        o.record(
            "bulkmove_summary",
            &format!(
                "dry run: {} mailboxes to {}: {mv} to move, {ck} to check first, {sk} skipped, {fl} would fail; nothing changed",
                plan.len(),
                opts.target
            ),
            &[
                ("target", s(opts.target.to_string())),
                ("dry_run", true.into()),
                ("total", plan.len().into()),
                ("to_move", mv.into()),
                ("to_check", ck.into()),
                ("skipped", sk.into()),
                ("failed", fl.into()),
                ("journal", s(journal_path.display().to_string())),
            ],
        )
        .map_err(io_err)?;
        o.finish().map_err(io_err)?;
        return Ok(if fl > 0 { 1 } else { 0 });
    };

    // The run.
    let _graceful = GracefulGuard::new();
    journal
        .append(&Event::begin(&opts.target.to_string(), &opts.source()))
        .map_err(|e| e.to_string())?;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.len()];
    let mut counts = Counts::default();
    let mut queue = VecDeque::new();
    for j in plan {
        match &j.step {
            Step::Skip(why) => {
                journal
                    .append(&Event::skipped(&j.name, why))
                    .map_err(|e| e.to_string())?;
                let oc = Outcome::Skipped {
                    reason: why.clone(),
                };
                counts.add(&oc);
                if let Some(slot) = outcomes.get_mut(j.index) {
                    *slot = Some(oc);
                }
            }
            Step::Fail(why) => {
                journal
                    .append(&Event::failed(&j.name, why))
                    .map_err(|e| e.to_string())?;
                let oc = Outcome::Failed {
                    from: None,
                    reason: why.clone(),
                };
                counts.add(&oc);
                if let Some(slot) = outcomes.get_mut(j.index) {
                    *slot = Some(oc);
                }
            }
            Step::Move { .. } | Step::Check { .. } => queue.push_back(j),
        }
    }
    let from_of: HashMap<usize, String> = queue
        .iter()
        .map(|j: &Job| {
            let f = match &j.step {
                Step::Move { from } => from.clone(),
                Step::Check { from, .. } => from.clone().unwrap_or_default(),
                _ => String::new(),
            };
            (j.index, f)
        })
        .collect();
    let todo = queue.len();
    let journal = Arc::new(Mutex::new(journal));
    let queue = Arc::new(Mutex::new(queue));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let frontend = Arc::new(frontend);
    // The IMAP client's callbacks are not Send, so the workers share this thread: they
    // wait on the servers, not on the CPU.
    let local = tokio::task::LocalSet::new();
    let started = Instant::now();
    let pb = progress_bar(todo as u64);
    pb.set_message(progress_message(&counts, started));
    let mut interrupts = 0u32;
    let mut in_flight: HashSet<usize> = HashSet::new();
    let mut fatal: Option<String> = None;
    local
        .run_until(async {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..opts.parallel.min(todo) {
            let w = Worker {
                frontend: frontend.clone(),
                master: master.clone(),
                master_user: muser.clone(),
                master_password: mpw.clone(),
                target: opts.target.clone(),
                journal: journal.clone(),
                wait: opts.wait,
                queue: queue.clone(),
                stop: stop.clone(),
                tx: tx.clone(),
            };
            workers.spawn_local(w.run());
        }
        drop(tx);

        let mut sigint =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        loop {
            let armed = interrupts < 2;
            let sig = async {
                match sigint.as_mut() {
                    Some(s) if armed => {
                        if s.recv().await.is_none() {
                            std::future::pending::<()>().await;
                        }
                    }
                    _ => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => match msg {
                    None => break,
                    Some(Msg::Started(i)) => { in_flight.insert(i); }
                    Some(Msg::Done(i, oc)) => {
                        in_flight.remove(&i);
                        counts.add(&oc);
                        if let Some(slot) = outcomes.get_mut(i) {
                            *slot = Some(oc);
                        }
                        pb.inc(1);
                        pb.set_message(progress_message(&counts, started));
                    }
                    Some(Msg::Fatal(why)) => {
                        pb.suspend(|| { let _ = writeln!(err, "movemailboxes: {why}; stopping"); });
                        fatal.get_or_insert(why);
                    }
                },
                _ = sig => {
                    interrupts += 1;
                    stop.store(true, Ordering::SeqCst);
                    if interrupts == 1 {
                        pb.suspend(|| {
                            let _ = writeln!(
                                err,
                                "movemailboxes: interrupted: no new moves; waiting for {} in flight (Ctrl-C again to abandon them)",
                                in_flight.len()
                            );
                        });
                    } else {
                        pb.suspend(|| {
                            let _ = writeln!(
                                err,
                                "movemailboxes: abandoning {} moves in flight (the journal has them)",
                                in_flight.len()
                            );
                        });
                        workers.abort_all();
                        break;
                    }
                }
            }
        }
        while workers.join_next().await.is_some() {}
        })
        .await;
    pb.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let interrupted = interrupts > 0 || fatal.is_some();
    let not_started_reason = match (&fatal, interrupts) {
        (Some(f), _) => format!("not started: {f}"),
        (None, _) => "not started: interrupted".into(),
    };
    for (i, slot) in outcomes.iter_mut().enumerate() {
        if slot.is_none() {
            let oc = if in_flight.contains(&i) {
                Outcome::InFlight {
                    from: from_of.get(&i).cloned().unwrap_or_default(),
                }
            } else {
                Outcome::NotStarted {
                    reason: not_started_reason.clone(),
                }
            };
            counts.add(&oc);
            *slot = Some(oc);
        }
    }
    {
        let mut j = journal.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = j.append(&Event::End {
            moved: counts.moved,
            failed: counts.failed,
            skipped: counts.skipped,
            not_started: counts.not_started,
            in_flight: counts.in_flight,
            interrupted,
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }) {
            let _ = writeln!(err, "movemailboxes: {e}");
        }
    }

    // The report, in the order of the list.
    for (name, oc) in names.iter().zip(&outcomes) {
        if let Some(oc) = oc {
            result_record(&mut o, name, oc)?;
        }
    }
    let per_minute = if seconds > 0.0 {
        counts.moved as f64 * 60.0 / seconds
    } else {
        0.0
    };
    let mut line = format!(
        "{} mailboxes to {}: {} moved, {} failed, {} skipped",
        names.len(),
        opts.target,
        counts.moved,
        counts.failed,
        counts.skipped
    );
    if counts.not_started > 0 {
        line.push_str(&format!(", {} not started", counts.not_started));
    }
    if counts.in_flight > 0 {
        line.push_str(&format!(", {} in flight", counts.in_flight));
    }
    if interrupted {
        line.push_str(" (interrupted)");
    }
    line.push_str(&format!(
        " in {seconds:.1} s ({per_minute:.0} per minute); journal {}",
        journal_path.display()
    ));
    o.record(
        "bulkmove_summary",
        &line,
        &[
            ("target", s(opts.target.to_string())),
            ("dry_run", false.into()),
            ("total", names.len().into()),
            ("moved", counts.moved.into()),
            ("failed", counts.failed.into()),
            ("skipped", counts.skipped.into()),
            ("not_started", counts.not_started.into()),
            ("in_flight", counts.in_flight.into()),
            ("interrupted", interrupted.into()),
            (
                "seconds",
                serde_json::json!((seconds * 1000.0).round() / 1000.0),
            ),
            ("per_minute", serde_json::json!(per_minute.round())),
            ("journal", s(journal_path.display().to_string())),
        ],
    )
    .map_err(io_err)?;
    o.finish().map_err(io_err)?;
    let clean = counts.failed == 0 && counts.not_started == 0 && counts.in_flight == 0;
    Ok(if clean && !interrupted { 0 } else { 1 })
}

/// The journal at `path`, read back (for tests and runbooks: how often each mailbox was
/// started, and where each one stands).
pub fn read_journal(path: &Path) -> Result<journal::Replay, String> {
    journal::Replay::read(path)
        .map(|(r, _)| r)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::parse_invocation;

    fn target(s: &str) -> Target {
        Target::parse(s, None).unwrap()
    }

    #[test]
    fn targets_and_their_wire_form() {
        assert_eq!(target("backend2").wire(), "backend2!");
        assert_eq!(target("backend2!p2").wire(), "backend2!p2");
        assert!(target("backend2").holds("backend2!default"));
        assert!(target("backend2").holds("backend2"));
        assert!(!target("backend2").holds("backend1!default"));
        assert!(!target("backend2").holds("backend22!default"));
        assert!(target("backend2!p2").holds("backend2!p2"));
        assert!(!target("backend2!p2").holds("backend2"));
        assert!(Target::parse("backend2!p2", Some("p3")).is_err());
        assert!(Target::parse("", None).is_err());
        assert!(Target::parse("a!b!c", None).is_err());
    }

    #[test]
    fn lists_read_users_mailboxes_and_comments() {
        let l = parse_list(
            "# header\n  alice  \nuser.bob.Sent\nbob\n\tcarol # trailing\nx@example.org\nexample.org!user.y\n",
            false,
        )
        .unwrap();
        assert_eq!(
            l,
            [
                "user.alice",
                "user.bob",
                "user.carol",
                "example.org!user.x",
                "example.org!user.y"
            ]
        );
        let l = parse_list("shared.news\nnews\nDELETED.user.z.5F00\n", true).unwrap();
        assert_eq!(l, ["shared.news", "news"]);
        let e = parse_list("ok\n@example.org\n", false).unwrap_err();
        assert!(matches!(e, ListError::BadName { line: 2, .. }), "{e}");
        let long = format!("{}\n", "a".repeat(MAX_LINE + 1));
        assert_eq!(
            parse_list(&long, false).unwrap_err(),
            ListError::TooLong { line: 1 }
        );
    }

    #[test]
    fn plans_from_master_and_journal() {
        let t = target("backend2");
        let here = MailboxRecord::active("user.a", "backend1!default", "a\tlrs\t");
        let there = MailboxRecord::active("user.a", "backend2!default", "a\tlrs\t");
        let reserved = MailboxRecord::reserved("user.a", "backend1!default");
        assert_eq!(
            plan_step(Some(&here), &t, None),
            Step::Move {
                from: "backend1!default".into()
            }
        );
        assert!(
            matches!(plan_step(Some(&there), &t, None), Step::Skip(r) if r == "already on backend2!default")
        );
        assert!(matches!(plan_step(None, &t, None), Step::Fail(_)));
        assert!(matches!(
            plan_step(Some(&reserved), &t, None),
            Step::Check { resumed: false, .. }
        ));
        let inflight = Last::InFlight {
            from: "backend1!default".into(),
        };
        // In flight: always asked again, whatever the plan-time record says.
        for r in [Some(&here), Some(&there), None] {
            assert!(matches!(
                plan_step(r, &t, Some(&inflight)),
                Step::Check { resumed: true, .. }
            ));
        }
        let moved = Last::Moved {
            to: "backend2!default".into(),
        };
        assert!(
            matches!(plan_step(Some(&there), &t, Some(&moved)), Step::Skip(r) if r.starts_with("moved by an earlier run"))
        );
        // Moved back since: moved again.
        assert!(matches!(
            plan_step(Some(&here), &t, Some(&moved)),
            Step::Move { .. }
        ));
    }

    #[test]
    fn options_are_checked() {
        let o = |w: &[&str]| Options::from_invocation(&parse_invocation(w).unwrap());
        assert!(o(&["mmove", "user.*", "backend2"]).is_ok());
        assert!(o(&["mmove", "--file", "f", "backend2"]).is_ok());
        assert!(o(&["mmove", "--file", "f", "user.*", "backend2"]).is_err());
        assert!(o(&["mmove", "backend2"]).is_err());
        assert!(o(&["mmove", "--parallel", "0", "user.*", "backend2"]).is_err());
        assert!(o(&["mmove", "--parallel", "65", "user.*", "backend2"]).is_err());
        let x = o(&[
            "mmove",
            "--parallel",
            "4",
            "--partition",
            "p2",
            "user.*",
            "backend2",
        ])
        .unwrap();
        assert_eq!(x.parallel, 4);
        assert_eq!(x.target.wire(), "backend2!p2");
        // The default journal is the same for the same command, and differs by target.
        let a = o(&["mmove", "--journal", "/x/j", "user.*", "b2"]).unwrap();
        assert_eq!(a.journal_path().unwrap(), PathBuf::from("/x/j"));
    }
}
