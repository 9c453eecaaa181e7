//! Running child processes: spawning with output to the entry's log, keeping a long-lived
//! child up with back-off, running a command to completion, and stopping children.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::plan::ChildSpec;
use super::status::{log_path, State};
use super::{Backoff, Shared};

/// How a process ended, as the log lines and the status file say it: `status 1`, `signal 9`.
pub fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        (None, None) => "unknown status".to_owned(),
    }
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Starts `spec` with stdin from /dev/null and stdout and stderr appended to its log file.
///
/// Each child gets its own process group, so that a terminal's Ctrl-C reaches only the
/// master (which then stops the children in order) and so that stopping a child also stops
/// whatever it started.
pub(crate) fn spawn(spec: &ChildSpec, configdir: &Path) -> std::io::Result<Child> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    match open_log(configdir, &spec.name) {
        Ok(file) => {
            cmd.stdout(file.try_clone()?).stderr(file);
        }
        Err(e) => warn!(
            "{} {}: cannot open its log file ({e}); output goes to the master's",
            spec.kind, spec.name
        ),
    }
    cmd.spawn()
}

fn open_log(configdir: &Path, name: &str) -> std::io::Result<std::fs::File> {
    let path = log_path(configdir, name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

fn signal_group(pid: u32, sig: Signal) {
    let Ok(raw) = i32::try_from(pid) else { return };
    let pid = Pid::from_raw(raw);
    // The group is the child's own (process_group(0)); fall back to the process alone.
    if killpg(pid, sig).is_err() {
        let _ = kill(pid, sig);
    }
}

/// SIGTERM, then SIGKILL after `grace` if the child is still there.
pub(crate) async fn terminate(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    if let Some(pid) = child.id() {
        signal_group(pid, Signal::SIGTERM);
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(r) => r.ok(),
        Err(_) => {
            if let Some(pid) = child.id() {
                warn!(
                    "pid {pid} still running {} after SIGTERM; sending SIGKILL",
                    seconds(grace)
                );
                signal_group(pid, Signal::SIGKILL);
            }
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }
}

/// Runs `spec` to completion (START and EVENTS entries). Returns `Ok(None)` if `stop` fired
/// first (the child is then stopped).
pub(crate) async fn run_to_completion(
    spec: &ChildSpec,
    configdir: &Path,
    grace: Duration,
    stop: &CancellationToken,
) -> std::io::Result<Option<(u32, ExitStatus)>> {
    let mut child = spawn(spec, configdir)?;
    let pid = child.id().unwrap_or_default();
    tokio::select! {
        status = child.wait() => Ok(Some((pid, status?))),
        _ = stop.cancelled() => {
            terminate(&mut child, grace).await;
            Ok(None)
        }
    }
}

/// Keeps a service or daemon running until `stop` fires, restarting it with back-off.
pub(crate) async fn keep(
    spec: ChildSpec,
    shared: Arc<Shared>,
    backoff: Backoff,
    grace: Duration,
    stop: CancellationToken,
) {
    let what = format!("{} {}", spec.kind, spec.name);
    let mut delay = backoff.initial;
    let mut first = true;
    loop {
        let started = Instant::now();
        match spawn(&spec, &shared.configdir()) {
            Ok(mut child) => {
                let pid = child.id();
                let restart = !first;
                shared.update(spec.kind, &spec.name, |s| {
                    s.pid = pid;
                    s.since = SystemTime::now();
                    s.state = State::Running;
                    if restart {
                        s.restarts = s.restarts.saturating_add(1);
                    }
                });
                let shown = pid.map_or_else(|| "?".to_owned(), |p| p.to_string());
                info!("{what} started (pid {shown}): {}", spec.command_line());
                tokio::select! {
                    status = child.wait() => {
                        if started.elapsed() >= backoff.reset_after {
                            delay = backoff.initial;
                        }
                        let how = match status {
                            Ok(s) => describe_exit(s),
                            Err(e) => format!("unknown status ({e})"),
                        };
                        warn!("{what} (pid {shown}) exited with {how}; restarting in {}", seconds(delay));
                        shared.update(spec.kind, &spec.name, |s| {
                            s.pid = None;
                            s.since = SystemTime::now();
                            s.state = State::Restarting;
                            s.last_exit = Some(how.clone());
                        });
                    }
                    _ = stop.cancelled() => {
                        let how = terminate(&mut child, grace).await.map(describe_exit);
                        info!("{what} (pid {shown}) stopped ({})", how.as_deref().unwrap_or("unknown status"));
                        shared.update(spec.kind, &spec.name, |s| {
                            s.pid = None;
                            s.since = SystemTime::now();
                            s.state = State::Stopped;
                            s.last_exit = how;
                        });
                        return;
                    }
                }
            }
            Err(e) => {
                error!(
                    "{what}: cannot run {}: {e}; retrying in {}",
                    spec.program.display(),
                    seconds(delay)
                );
                shared.update(spec.kind, &spec.name, |s| {
                    s.pid = None;
                    s.state = State::Restarting;
                    s.last_exit = Some(format!("not started: {e}"));
                });
            }
        }
        first = false;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.cancelled() => {
                shared.update(spec.kind, &spec.name, |s| s.state = State::Stopped);
                return;
            }
        }
        delay = delay.saturating_mul(2).min(backoff.max);
    }
}
