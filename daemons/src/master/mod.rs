//! `master`: starts and watches the murder's daemons as `cyrus.conf` says, like Cyrus's
//! `master` (Debian's `cyrmaster`), reference §7.2.
//!
//! What it does, in order:
//!
//! 1. Reads `imapd.conf` (for `configdirectory`) and `cyrus.conf`.
//! 2. Runs the START entries one after another, each to completion. A failing entry is
//!    logged with its exit status and the master carries on, as Cyrus's does.
//! 3. Starts every SERVICES and DAEMON entry as one long-lived child and restarts one that
//!    exits, with exponential back-off (1 s doubling to 60 s, back to 1 s after a child has
//!    stayed up for 60 s), logging `service imap (pid N) exited with status S; restarting in Ts`.
//! 4. Runs EVENTS entries to completion when due ([`schedule`]).
//! 5. On SIGHUP ([`Supervisor::reload`]) rereads both files, stops entries that disappeared or
//!    changed, starts new and changed ones, and leaves the rest running. On SIGTERM or SIGINT
//!    (the `shutdown` token of [`run`]) sends SIGTERM to every child, SIGKILL to those still
//!    there after 10 s, removes the pid file and returns.
//!
//! # Commands
//!
//! A `cmd=` naming a Cyrus program (`imapd`, `/usr/cyrus/bin/mupdate`, `proxyd`, …; see
//! [`plan::binary_names`]) runs *our* binary of that name from the directory of the `master`
//! executable, with arguments added:
//!
//! ```text
//! <cmd= arguments> -C <imapd.conf> --listen <host:port>      # listen=[host:]port or a name
//!                  -C <imapd.conf> --listen-unix <path>      # listen=/path
//!                  ... --max-connections N                   # when maxchild > 0
//! ```
//!
//! `-C` is left out when `cmd=` already has one; DAEMON, START and EVENTS entries get `-C`
//! only. A port name maps to its well-known number (`imap` → 143). A Cyrus program whose
//! binary is missing is logged (`service imap: program imapd not found …`) and skipped. Any
//! other program runs exactly as written, with nothing added (a bare name is looked for next
//! to `master`, then on `PATH`). Like Cyrus, `cmd=` is split on white space with no quoting.
//! Every child gets `CYRUS_SERVICE=<entry name>` (so `<name>_option` overrides in imapd.conf
//! apply, [`crate::conf`]) and, with `-d`, `CYRUS_VERBOSE=1`. Its stdout and stderr are
//! appended to `<configdirectory>/log/<name>.log`; `<configdirectory>/master.status.json`
//! is rewritten on every change ([`status`]).
//!
//! # Differences from Cyrus
//!
//! * Our daemons are single-process async servers that listen themselves, so a service is
//!   one long-lived process, not a pool the master forks per connection on a socket it
//!   holds. `prefork=`, `maxfds=`, `maxforkrate=` and `babysit=` are read and ignored;
//!   `maxchild=` becomes `--max-connections` (Cyrus's -1 and 0 both mean no limit here).
//!   `proto=udp*` is not supported (the entry is skipped), `tcp6` without a host listens
//!   on `[::]`, anything else without a host on `0.0.0.0`.
//! * A reload restarts a service only when its resolved command line or environment
//!   changed; a changed `prefork=` or imapd.conf alone does not restart it.
//! * The master always stays in the foreground and logs to stderr; `-d` only raises the log
//!   level and sets `CYRUS_VERBOSE` for the children. DAEMON `wait=y` is not waited for.
//! * `at=` and `cron=` use local time as chrono finds it (`TZ`, `/etc/localtime`; UTC if
//!   neither). A `period=` event runs at start-up and then every period.
//!
//! # Example
//!
//! ```no_run
//! use daemons::master::{run, Options};
//! use tokio_util::sync::CancellationToken;
//!
//! # async fn demo() -> Result<(), daemons::master::MasterError> {
//! let shutdown = CancellationToken::new();
//! let options = Options::new("/etc/imapd.conf".into(), "/etc/cyrus.conf".into());
//! run(options, shutdown).await // until shutdown.cancel()
//! # }
//! ```
//!
//! In-process, [`Supervisor`] gives the same with status and reload under the caller's
//! control.

pub mod child;
mod events;
pub mod plan;
pub mod schedule;
pub mod status;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use protocol::config::cyrus::CyrusConf;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::conf::ConfigError;
use plan::{ChildSpec, EntryKind, EventSpec, Plan, Resolver};
use status::{ServiceStatus, State, StatusFile};

/// How long a restart waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait (default 1 s); it doubles on each exit in a row.
    pub initial: Duration,
    /// The longest wait (default 60 s).
    pub max: Duration,
    /// Uptime after which the wait goes back to `initial` (default 60 s).
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// What the master is told to do (its command line, plus knobs for tests).
#[derive(Debug, Clone)]
pub struct Options {
    /// `-C`: passed to every Cyrus program, and read for `configdirectory`.
    pub imapd_conf: PathBuf,
    /// `-M`.
    pub cyrus_conf: PathBuf,
    /// `-p`: written at start, removed at exit.
    pub pid_file: Option<PathBuf>,
    /// `-d`: sets `CYRUS_VERBOSE=1` for children.
    pub verbose: bool,
    /// Where our binaries are; `None` means the directory of the running executable.
    pub bin_dir: Option<PathBuf>,
    /// Restart timing.
    pub backoff: Backoff,
    /// How long a child has between SIGTERM and SIGKILL (default 10 s).
    pub stop_grace: Duration,
    /// Whether [`run`] rereads the configuration on SIGHUP (default true).
    pub reload_on_sighup: bool,
}

impl Options {
    /// The defaults for the two configuration files.
    pub fn new(imapd_conf: PathBuf, cyrus_conf: PathBuf) -> Options {
        Options {
            imapd_conf,
            cyrus_conf,
            pid_file: None,
            verbose: false,
            bin_dir: None,
            backoff: Backoff::default(),
            stop_grace: Duration::from_secs(10),
            reload_on_sighup: true,
        }
    }
}

/// Why the master cannot start (or cannot take a new configuration).
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// imapd.conf is unreadable or wrong.
    #[error(transparent)]
    Imapd(#[from] ConfigError),
    /// cyrus.conf is unreadable.
    #[error("{path}: {source}")]
    ReadCyrusConf {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// cyrus.conf is malformed (the message names file:line).
    #[error(transparent)]
    CyrusConf(#[from] protocol::config::cyrus::CyrusConfError),
    /// The pid file cannot be written.
    #[error("pid file {path}: {source}")]
    PidFile {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The log directory under configdirectory cannot be made.
    #[error("{path}: {source}")]
    LogDir {
        /// The directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The directory of our binaries cannot be found.
    #[error("cannot find the master's own directory: {0}")]
    BinDir(std::io::Error),
    /// A signal handler cannot be installed.
    #[error("installing a signal handler: {0}")]
    Signal(std::io::Error),
}

/// State shared by the supervisor and its tasks: the status of each long-lived child, and
/// where files go.
pub(crate) struct Shared {
    inner: Mutex<SharedState>,
}

struct SharedState {
    configdir: PathBuf,
    file: StatusFile,
    /// So a failing status write is reported once, not on every change.
    write_failed: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SharedState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn configdir(&self) -> PathBuf {
        self.lock().configdir.clone()
    }

    fn set_configdir(&self, dir: PathBuf) {
        let mut st = self.lock();
        st.configdir = dir;
        Self::write(&mut st);
    }

    /// Applies `f` to an entry's status and rewrites the status file.
    pub(crate) fn update(&self, kind: EntryKind, name: &str, f: impl FnOnce(&mut ServiceStatus)) {
        let mut st = self.lock();
        if let Some(s) = st
            .file
            .services
            .iter_mut()
            .find(|s| s.kind == kind && s.name == name)
        {
            f(s);
        }
        Self::write(&mut st);
    }

    fn edit(&self, f: impl FnOnce(&mut StatusFile)) {
        let mut st = self.lock();
        f(&mut st.file);
        Self::write(&mut st);
    }

    fn write(st: &mut SharedState) {
        match status::write_status(&st.configdir, &st.file) {
            Ok(()) => st.write_failed = false,
            Err(e) if !st.write_failed => {
                warn!(
                    "cannot write {}: {e}",
                    status::status_path(&st.configdir).display()
                );
                st.write_failed = true;
            }
            Err(_) => {}
        }
    }

    fn services(&self) -> Vec<ServiceStatus> {
        self.lock().file.services.clone()
    }
}

fn new_status(spec: &ChildSpec) -> ServiceStatus {
    ServiceStatus {
        name: spec.name.clone(),
        kind: spec.kind,
        pid: None,
        restarts: 0,
        since: SystemTime::now(),
        state: State::Restarting,
        last_exit: None,
        command: spec.command_line(),
    }
}

struct Running {
    spec: ChildSpec,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// What a reload changed, by entry name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// New entries, started.
    pub started: Vec<String>,
    /// Entries no longer configured (or now unrunnable), stopped.
    pub stopped: Vec<String>,
    /// Changed entries, stopped and started again.
    pub restarted: Vec<String>,
    /// Entries left running.
    pub unchanged: Vec<String>,
}

/// The running master: its children, their status, and reload/stop.
pub struct Supervisor {
    options: Options,
    bin_dir: PathBuf,
    shared: Arc<Shared>,
    children: tokio::sync::Mutex<Vec<Running>>,
    events: watch::Sender<Vec<EventSpec>>,
    scheduler: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    root: CancellationToken,
}

/// Both configuration files read and resolved.
struct Loaded {
    configdir: PathBuf,
    plan: Plan,
}

/// `initial`: at start-up (a reload runs no START entries, so it does not report them).
fn load(options: &Options, bin_dir: &Path, initial: bool) -> Result<Loaded, MasterError> {
    let imapd = crate::conf::load(&options.imapd_conf, Some("master"))?;
    let configdir = crate::conf::configdirectory(&imapd, &options.imapd_conf)?;
    let log_dir = configdir.join(status::LOG_DIR);
    std::fs::create_dir_all(&log_dir).map_err(|source| MasterError::LogDir {
        path: log_dir,
        source,
    })?;
    let text = std::fs::read_to_string(&options.cyrus_conf).map_err(|source| {
        MasterError::ReadCyrusConf {
            path: options.cyrus_conf.clone(),
            source,
        }
    })?;
    let conf = CyrusConf::parse(&text, &options.cyrus_conf.display().to_string())?;
    for w in &conf.warnings {
        warn!("{}:{}: {}", options.cyrus_conf.display(), w.line, w.message);
    }
    let resolver = Resolver::new(bin_dir, &options.imapd_conf, options.verbose);
    let plan = plan::plan(&conf, &resolver);
    for skipped in plan.skipped.iter().filter(|s| initial || !s.is_start()) {
        warn!("{skipped}; skipping it");
    }
    Ok(Loaded { configdir, plan })
}

impl Supervisor {
    /// Reads the configuration, runs the START entries, then starts services, daemons and the
    /// event scheduler. Returns once everything is started.
    pub async fn start(options: Options) -> Result<Supervisor, MasterError> {
        let bin_dir = match &options.bin_dir {
            Some(d) => d.clone(),
            None => std::env::current_exe()
                .map_err(MasterError::BinDir)?
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        };
        let loaded = load(&options, &bin_dir, true)?;
        let root = CancellationToken::new();
        for spec in &loaded.plan.start {
            let what = format!("{} {}", spec.kind, spec.name);
            match child::run_to_completion(spec, &loaded.configdir, options.stop_grace, &root).await
            {
                Ok(Some((pid, s))) if s.success() => info!("{what} (pid {pid}) finished"),
                Ok(Some((pid, s))) => warn!(
                    "{what} (pid {pid}) exited with {}; carrying on",
                    child::describe_exit(s)
                ),
                Ok(None) => {}
                Err(e) => warn!(
                    "{what}: cannot run {}: {e}; carrying on",
                    spec.program.display()
                ),
            }
        }
        let shared = Arc::new(Shared {
            inner: Mutex::new(SharedState {
                configdir: loaded.configdir.clone(),
                file: StatusFile {
                    master_pid: std::process::id(),
                    started: SystemTime::now(),
                    running: true,
                    services: Vec::new(),
                },
                write_failed: false,
            }),
        });
        let (events_tx, events_rx) = watch::channel(loaded.plan.events.clone());
        let scheduler = tokio::spawn(events::schedule(
            events_rx,
            Arc::clone(&shared),
            options.stop_grace,
            root.child_token(),
        ));
        let sup = Supervisor {
            options,
            bin_dir,
            shared,
            children: tokio::sync::Mutex::new(Vec::new()),
            events: events_tx,
            scheduler: tokio::sync::Mutex::new(Some(scheduler)),
            root,
        };
        {
            let mut children = sup.children.lock().await;
            for spec in loaded.plan.long_lived() {
                children.push(sup.launch(spec.clone()));
            }
        }
        Ok(sup)
    }

    fn launch(&self, spec: ChildSpec) -> Running {
        let stop = self.root.child_token();
        let status = new_status(&spec);
        self.shared.edit(|f| f.services.push(status));
        let task = tokio::spawn(child::keep(
            spec.clone(),
            Arc::clone(&self.shared),
            self.options.backoff,
            self.options.stop_grace,
            stop.clone(),
        ));
        Running { spec, stop, task }
    }

    /// The services and daemons, in `cyrus.conf` order.
    pub fn services(&self) -> Vec<ServiceStatus> {
        self.shared.services()
    }

    /// `configdirectory`, where the status file and the logs are.
    pub fn configdirectory(&self) -> PathBuf {
        self.shared.configdir()
    }

    /// Rereads both files (SIGHUP): stops entries that disappeared or changed, starts new and
    /// changed ones, leaves the others running, and replaces the event list. START entries
    /// are not run again. On error nothing changes.
    pub async fn reload(&self) -> Result<ReloadSummary, MasterError> {
        let loaded = load(&self.options, &self.bin_dir, false)?;
        let mut summary = ReloadSummary::default();
        let wanted: Vec<ChildSpec> = loaded.plan.long_lived().cloned().collect();
        let mut children = self.children.lock().await;
        let mut keep = Vec::new();
        let mut halting = Vec::new();
        for running in children.drain(..) {
            let same_entry =
                |w: &ChildSpec| w.kind == running.spec.kind && w.name == running.spec.name;
            match wanted.iter().find(|w| same_entry(w)) {
                Some(w) if *w == running.spec => keep.push(running),
                Some(_) => {
                    info!(
                        "{} {} changed; restarting it",
                        running.spec.kind, running.spec.name
                    );
                    summary.restarted.push(running.spec.name.clone());
                    halting.push(running);
                }
                None => {
                    info!(
                        "{} {} removed; stopping it",
                        running.spec.kind, running.spec.name
                    );
                    summary.stopped.push(running.spec.name.clone());
                    halting.push(running);
                }
            }
        }
        // Stop them all at once, then forget their status (a changed one gets a fresh one).
        let gone: Vec<(EntryKind, String)> = halting
            .iter()
            .map(|r| (r.spec.kind, r.spec.name.clone()))
            .collect();
        for r in &halting {
            r.stop.cancel();
        }
        for r in halting {
            let _ = r.task.await;
        }
        self.shared.edit(|f| {
            f.services
                .retain(|s| !gone.iter().any(|(k, n)| *k == s.kind && *n == s.name));
        });
        if loaded.configdir != self.shared.configdir() {
            info!("configdirectory is now {}", loaded.configdir.display());
            self.shared.set_configdir(loaded.configdir.clone());
        }
        for spec in wanted {
            match keep
                .iter()
                .position(|r| r.spec.kind == spec.kind && r.spec.name == spec.name)
            {
                Some(i) => {
                    summary.unchanged.push(spec.name.clone());
                    children.push(keep.swap_remove(i));
                }
                None => {
                    if !summary.restarted.contains(&spec.name) {
                        info!("{} {} added; starting it", spec.kind, spec.name);
                        summary.started.push(spec.name.clone());
                    }
                    children.push(self.launch(spec));
                }
            }
        }
        // Keep the status file in cyrus.conf order.
        let order: Vec<(EntryKind, String)> = children
            .iter()
            .map(|r| (r.spec.kind, r.spec.name.clone()))
            .collect();
        self.shared.edit(|f| {
            f.services.sort_by_key(|s| {
                order
                    .iter()
                    .position(|(k, n)| *k == s.kind && *n == s.name)
                    .unwrap_or(usize::MAX)
            });
        });
        self.events.send_replace(loaded.plan.events);
        Ok(summary)
    }

    /// Stops everything: SIGTERM to every child at once, SIGKILL to those still there after
    /// the grace period. The status file is left saying the master has stopped.
    pub async fn stop(&self) {
        self.root.cancel();
        let children: Vec<Running> = self.children.lock().await.drain(..).collect();
        // Every child's token is a child of root, so all got SIGTERM at once.
        for r in children {
            let _ = r.task.await;
        }
        if let Some(scheduler) = self.scheduler.lock().await.take() {
            let _ = scheduler.await;
        }
        self.shared.edit(|f| f.running = false);
        info!("master stopped");
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Tasks left behind stop their children; kill_on_drop covers a runtime going away.
        self.root.cancel();
    }
}

/// Runs the master until `shutdown` fires: writes the pid file, starts everything, rereads
/// the configuration on SIGHUP (if [`Options::reload_on_sighup`]), then stops everything and
/// removes the pid file. A reload that fails is logged and the running set kept.
pub async fn run(options: Options, shutdown: CancellationToken) -> Result<(), MasterError> {
    let pid_file = options.pid_file.clone();
    if let Some(path) = &pid_file {
        std::fs::write(path, format!("{}\n", std::process::id())).map_err(|source| {
            MasterError::PidFile {
                path: path.clone(),
                source,
            }
        })?;
    }
    let result = run_inner(options, &shutdown).await;
    if let Some(path) = &pid_file {
        if let Err(e) = std::fs::remove_file(path) {
            warn!("cannot remove pid file {}: {e}", path.display());
        }
    }
    result
}

async fn run_inner(options: Options, shutdown: &CancellationToken) -> Result<(), MasterError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = if options.reload_on_sighup {
        Some(signal(SignalKind::hangup()).map_err(MasterError::Signal)?)
    } else {
        None
    };
    let sup = tokio::select! {
        s = Supervisor::start(options) => s?,
        _ = shutdown.cancelled() => return Ok(()),
    };
    info!(
        "master ready: {} services and daemons",
        sup.services().len()
    );
    loop {
        let hangup = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(()) = hangup => {
                info!("SIGHUP: rereading the configuration");
                match sup.reload().await {
                    Ok(s) => info!(
                        "reloaded: started {:?}, stopped {:?}, restarted {:?}, unchanged {}",
                        s.started, s.stopped, s.restarted, s.unchanged.len()
                    ),
                    Err(e) => warn!("reload failed, keeping the running configuration: {e}"),
                }
            }
        }
    }
    info!("stopping");
    sup.stop().await;
    Ok(())
}
