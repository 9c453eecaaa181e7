//! The EVENTS scheduler: one task that wakes at every local minute (and whenever a period
//! falls due), starts what is due, and reaps finished runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::child::{describe_exit, run_to_completion};
use super::plan::{ChildSpec, EventSpec};
use super::schedule::{Minute, When};
use super::Shared;

struct Slot {
    event: EventSpec,
    /// For `period=`: when it next runs (None: never again).
    due: Option<Instant>,
    /// For `at=`/`cron=`: the minute it last ran in, so a minute fires once.
    last: Option<Minute>,
}

impl Slot {
    fn new(event: EventSpec, now: Instant) -> Slot {
        // A period event runs at start-up (and when a reload adds it), then every period.
        let due = matches!(event.when, When::Period { .. }).then_some(now);
        Slot {
            event,
            due,
            last: None,
        }
    }
}

/// The time until the next local minute starts, a little late so that the wake-up lands
/// inside the new minute.
fn until_next_minute() -> Duration {
    use chrono::Timelike;
    let now = chrono::Local::now();
    let into = Duration::new(u64::from(now.second()), now.nanosecond() % 1_000_000_000);
    Duration::from_secs(60).saturating_sub(into) + Duration::from_millis(50)
}

/// Runs until `stop` fires; the event list comes (and changes on reload) through `events`.
pub(crate) async fn schedule(
    mut events: watch::Receiver<Vec<EventSpec>>,
    shared: Arc<Shared>,
    grace: Duration,
    stop: CancellationToken,
) {
    let mut slots: Vec<Slot> = Vec::new();
    let mut runs: JoinSet<()> = JoinSet::new();
    events.mark_changed();
    loop {
        let now = Instant::now();
        if events.has_changed().unwrap_or(false) {
            let new = events.borrow_and_update().clone();
            let mut old = std::mem::take(&mut slots);
            // An unchanged event keeps its timing; a new or changed one starts afresh.
            for event in new {
                match old.iter().position(|s| s.event == event) {
                    Some(i) => slots.push(old.swap_remove(i)),
                    None => slots.push(Slot::new(event, now)),
                }
            }
        }
        let minute = Minute::now();
        for slot in &mut slots {
            let fire = match slot.event.when {
                When::Period { minutes } => match slot.due {
                    Some(due) if due <= now => {
                        let period = Duration::from_secs(u64::from(minutes) * 60);
                        // After a stall (suspend), skip the missed runs rather than catch up.
                        slot.due =
                            (minutes > 0).then(|| (due + period).max(now + Duration::from_secs(1)));
                        true
                    }
                    _ => false,
                },
                ref when => {
                    let fire = when.fires_at(&minute) && slot.last != Some(minute);
                    if fire {
                        slot.last = Some(minute);
                    }
                    fire
                }
            };
            if fire {
                runs.spawn(run_event(
                    slot.event.spec.clone(),
                    Arc::clone(&shared),
                    grace,
                    stop.child_token(),
                ));
            }
        }
        let next_due = slots.iter().filter_map(|s| s.due).min();
        let mut sleep = until_next_minute();
        if let Some(due) = next_due {
            sleep = sleep.min(due.saturating_duration_since(Instant::now()));
        }
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            r = events.changed() => {
                if r.is_err() {
                    // The supervisor is gone; nothing will change again.
                    stop.cancelled().await;
                    break;
                }
            }
            Some(_) = runs.join_next(), if !runs.is_empty() => {}
            _ = stop.cancelled() => break,
        }
    }
    // Every run has a child of `stop`, so each stops its process now.
    while runs.join_next().await.is_some() {}
}

async fn run_event(spec: ChildSpec, shared: Arc<Shared>, grace: Duration, stop: CancellationToken) {
    let what = format!("{} {}", spec.kind, spec.name);
    match run_to_completion(&spec, &shared.configdir(), grace, &stop).await {
        Ok(Some((pid, status))) if status.success() => info!("{what} (pid {pid}) finished"),
        Ok(Some((pid, status))) => {
            warn!("{what} (pid {pid}) exited with {}", describe_exit(status))
        }
        Ok(None) => info!("{what} stopped by shutdown"),
        Err(e) => warn!("{what}: cannot run {}: {e}", spec.program.display()),
    }
}
