//! The bulk move's journal: one JSON object per line, appended and flushed to disk
//! (`fsync`) before the step it records goes on, so that a run stopped at any point (Ctrl-C,
//! `kill -9`, a crash, a power cut) can be resumed from it.
//!
//! A mailbox's last record says where it stands: `start` without an outcome after it means
//! the move was in flight when the run stopped (the resuming run asks the master where the
//! mailbox is before doing anything); `moved`, `failed` and `skipped` are outcomes. A crash in
//! the middle of a write leaves a last line without its newline: it is dropped (and cut off the
//! file) when the journal is opened again, which is safe because the step it recorded had not
//! started yet. While a run has the journal open, `<journal>.lock` (its process id) keeps a
//! second run off it.
//!
//! ```
//! use murder_shell::murder::bulkmove::journal::{Event, Journal, Last};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("j.jsonl");
//! let (mut j, replay) = Journal::open(&path).unwrap();
//! assert!(replay.target.is_none());
//! j.append(&Event::begin("backend2", "file:/tmp/users")).unwrap();
//! j.append(&Event::start("user.alice", "backend1!default")).unwrap();
//! drop(j);
//! let (_, replay) = Journal::open(&path).unwrap();
//! assert_eq!(replay.target.as_deref(), Some("backend2"));
//! assert_eq!(
//!     replay.last.get("user.alice"),
//!     Some(&Last::InFlight { from: "backend1!default".into() })
//! );
//! ```

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest journal line read back; longer is a corrupt journal (reasons are cut to
/// [`MAX_REASON`] when written, so a real line stays far below).
pub const MAX_LINE: usize = 64 * 1024;

/// Longest reason kept in a record.
pub const MAX_REASON: usize = 2000;

/// What went wrong with a journal.
#[derive(Debug, Error)]
pub enum JournalError {
    /// Reading, writing or syncing failed.
    #[error("journal {path}: {source}")]
    Io {
        /// The journal.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another run (this process id) is using the journal.
    #[error("journal {path} is in use by another run (process {pid}); wait for it, or give another --journal")]
    InUse {
        /// The journal.
        path: PathBuf,
        /// The process holding it.
        pid: u32,
    },
    /// A complete line that is not a journal record: someone else's file, or damage that a
    /// torn last write cannot explain.
    #[error("journal {path} line {line}: not a journal record ({reason}); move it aside or give another --journal")]
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A run began: where to, and from what list.
    Begin {
        /// `server` or `server!partition`.
        target: String,
        /// `file:PATH` or `pattern:PATTERN`.
        source: String,
        /// Unix time.
        at: u64,
        /// The shell's process id.
        pid: u32,
    },
    /// A move is about to be sent.
    Start {
        /// The mailbox (a user's INBOX for a whole user).
        mailbox: String,
        /// Where the master said it was.
        from: String,
        /// Unix time.
        at: u64,
    },
    /// The master names the target.
    Moved {
        /// The mailbox.
        mailbox: String,
        /// Its location now.
        to: String,
        /// Unix time.
        at: u64,
    },
    /// The move did not happen (or could not be confirmed).
    Failed {
        /// The mailbox.
        mailbox: String,
        /// Why.
        reason: String,
        /// Unix time.
        at: u64,
    },
    /// Nothing to do.
    Skipped {
        /// The mailbox.
        mailbox: String,
        /// Why.
        reason: String,
        /// Unix time.
        at: u64,
    },
    /// A run ended (not written when the process was killed).
    End {
        /// Moves confirmed.
        moved: u64,
        /// Moves that failed.
        failed: u64,
        /// Mailboxes skipped.
        skipped: u64,
        /// Mailboxes not started (interrupted).
        not_started: u64,
        /// Moves abandoned in flight.
        in_flight: u64,
        /// Whether Ctrl-C (or a fatal error) stopped the run early.
        interrupted: bool,
        /// Unix time.
        at: u64,
    },
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn cut(reason: &str) -> String {
    reason.chars().take(MAX_REASON).collect()
}

impl Event {
    /// A `begin` record now.
    pub fn begin(target: &str, source: &str) -> Event {
        Event::Begin {
            target: target.to_owned(),
            source: source.to_owned(),
            at: now(),
            pid: std::process::id(),
        }
    }

    /// A `start` record now.
    pub fn start(mailbox: &str, from: &str) -> Event {
        Event::Start {
            mailbox: mailbox.to_owned(),
            from: from.to_owned(),
            at: now(),
        }
    }

    /// A `moved` record now.
    pub fn moved(mailbox: &str, to: &str) -> Event {
        Event::Moved {
            mailbox: mailbox.to_owned(),
            to: to.to_owned(),
            at: now(),
        }
    }

    /// A `failed` record now.
    pub fn failed(mailbox: &str, reason: &str) -> Event {
        Event::Failed {
            mailbox: mailbox.to_owned(),
            reason: cut(reason),
            at: now(),
        }
    }

    /// A `skipped` record now.
    pub fn skipped(mailbox: &str, reason: &str) -> Event {
        Event::Skipped {
            mailbox: mailbox.to_owned(),
            reason: cut(reason),
            at: now(),
        }
    }
}

/// Where a mailbox stood at its last record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Last {
    /// Started, no outcome: the run stopped during the move.
    InFlight {
        /// Where it was before.
        from: String,
    },
    /// Moved and confirmed.
    Moved {
        /// Its location.
        to: String,
    },
    /// Failed, with the reason.
    Failed(String),
    /// Skipped, with the reason.
    Skipped(String),
}

/// What a journal says, read back.
#[derive(Debug, Default, Clone)]
pub struct Replay {
    /// The target of the first run recorded in it.
    pub target: Option<String>,
    /// Each mailbox's last record.
    pub last: HashMap<String, Last>,
    /// How many times each mailbox was started.
    pub starts: HashMap<String, u32>,
    /// How many runs began.
    pub runs: u32,
}

impl Replay {
    fn apply(&mut self, ev: Event) {
        match ev {
            Event::Begin { target, .. } => {
                self.runs += 1;
                self.target.get_or_insert(target);
            }
            Event::Start { mailbox, from, .. } => {
                *self.starts.entry(mailbox.clone()).or_default() += 1;
                self.last.insert(mailbox, Last::InFlight { from });
            }
            Event::Moved { mailbox, to, .. } => {
                self.last.insert(mailbox, Last::Moved { to });
            }
            Event::Failed {
                mailbox, reason, ..
            } => {
                self.last.insert(mailbox, Last::Failed(reason));
            }
            Event::Skipped {
                mailbox, reason, ..
            } => {
                self.last.insert(mailbox, Last::Skipped(reason));
            }
            Event::End { .. } => {}
        }
    }

    /// Reads the journal at `path` (an absent file is an empty journal). Returns what it says
    /// and the length of its complete lines (a torn last line is left out).
    pub fn read(path: &Path) -> Result<(Replay, u64), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Replay::default(), 0))
            }
            Err(e) => return Err(io(e)),
        };
        let mut r = BufReader::new(f);
        let mut replay = Replay::default();
        let mut good: u64 = 0;
        let mut buf = Vec::new();
        let mut line = 0usize;
        loop {
            buf.clear();
            let n = (&mut r)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(io)?;
            if n == 0 {
                break;
            }
            line += 1;
            if buf.last() != Some(&b'\n') {
                if n > MAX_LINE {
                    return Err(JournalError::Corrupt {
                        path: path.to_owned(),
                        line,
                        reason: format!("longer than {MAX_LINE} bytes"),
                    });
                }
                // The last write was cut short: its step never ran.
                break;
            }
            let text = buf.get(..buf.len().saturating_sub(1)).unwrap_or_default();
            if !text.iter().all(u8::is_ascii_whitespace) {
                let ev: Event =
                    serde_json::from_slice(text).map_err(|e| JournalError::Corrupt {
                        path: path.to_owned(),
                        line,
                        reason: e.to_string(),
                    })?;
                replay.apply(ev);
            }
            good = good.saturating_add(n as u64);
        }
        Ok((replay, good))
    }
}

/// Keeps a second run off a journal in use, which could otherwise send the same moves twice:
/// `<journal>.lock` holds the process id of the run using it. A lock whose process is gone
/// (killed, crashed) is stale and taken over.
#[derive(Debug)]
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(journal: &Path) -> Result<Lock, JournalError> {
        let mut name = journal.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        for _ in 0..3 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(format!("{}\n", std::process::id()).as_bytes())
                        .and_then(|()| f.sync_all())
                        .map_err(io)?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid: Option<u32> = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    if let Some(pid) = pid {
                        if Path::new(&format!("/proc/{pid}")).exists() {
                            return Err(JournalError::InUse {
                                path: journal.to_owned(),
                                pid,
                            });
                        }
                    }
                    // Stale (or cut short before its pid was written): its run is gone.
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(io(e)),
            }
        }
        Err(JournalError::InUse {
            path: journal.to_owned(),
            pid: 0,
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A journal open for appending (and locked against a second run).
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    _lock: Lock,
}

impl Journal {
    /// Opens (creating it and its directory if needed) the journal at `path`, reads it back,
    /// and cuts off a torn last line.
    pub fn open(path: &Path) -> Result<(Journal, Replay), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = Lock::take(path)?;
        let existed = path.exists();
        let (replay, good) = Replay::read(path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if file.metadata().map_err(io)?.len() > good {
            file.set_len(good).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        if !existed {
            // The new file's directory entry must survive a crash too.
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok((
            Journal {
                file,
                path: path.to_owned(),
                _lock: lock,
            },
            replay,
        ))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and waits until it is on disk.
    pub fn append(&mut self, ev: &Event) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(ev).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_outcomes_and_counts_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/j.jsonl");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&Event::begin("backend2!p2", "pattern:user.*"))
            .unwrap();
        for e in [
            Event::start("user.a", "backend1!default"),
            Event::moved("user.a", "backend2!p2"),
            Event::start("user.b", "backend1!default"),
            Event::failed("user.b", "NO no"),
            Event::start("user.b", "backend1!default"),
            Event::skipped("user.c", "already there"),
            Event::start("user.d", "backend1!default"),
        ] {
            j.append(&e).unwrap();
        }
        drop(j);
        let (_, r) = Journal::open(&path).unwrap();
        assert_eq!(r.runs, 1);
        assert_eq!(r.target.as_deref(), Some("backend2!p2"));
        assert_eq!(
            r.last["user.a"],
            Last::Moved {
                to: "backend2!p2".into()
            }
        );
        assert!(matches!(r.last["user.b"], Last::InFlight { .. }));
        assert_eq!(r.starts["user.b"], 2);
        assert_eq!(r.last["user.c"], Last::Skipped("already there".into()));
        assert!(matches!(r.last["user.d"], Last::InFlight { .. }));
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_appends_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&Event::start("user.a", "b1!default")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"event\":\"moved\",\"mailb").unwrap();
        drop(f);
        let (mut j, r) = Journal::open(&path).unwrap();
        assert!(matches!(r.last["user.a"], Last::InFlight { .. }));
        j.append(&Event::moved("user.a", "b2!default")).unwrap();
        drop(j);
        let (_, r) = Journal::open(&path).unwrap();
        assert_eq!(
            r.last["user.a"],
            Last::Moved {
                to: "b2!default".into()
            }
        );
    }

    #[test]
    fn one_run_at_a_time_and_stale_locks_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (j, _) = Journal::open(&path).unwrap();
        let e = Journal::open(&path).unwrap_err();
        assert!(
            matches!(e, JournalError::InUse { pid, .. } if pid == std::process::id()),
            "{e}"
        );
        drop(j);
        let (j, _) = Journal::open(&path).unwrap();
        drop(j);
        // A lock left by a killed run: no such process.
        std::fs::write(dir.path().join("j.jsonl.lock"), "4294967290\n").unwrap();
        let (_j, _) = Journal::open(&path).unwrap();
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "hello\n").unwrap();
        let e = Journal::open(&path).unwrap_err();
        assert!(matches!(e, JournalError::Corrupt { line: 1, .. }), "{e}");
        std::fs::write(&path, vec![b'x'; MAX_LINE + 10]).unwrap();
        assert!(matches!(
            Replay::read(&path),
            Err(JournalError::Corrupt { .. })
        ));
    }
}
