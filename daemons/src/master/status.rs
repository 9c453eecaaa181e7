//! What the master reports about its children: [`ServiceStatus`], the status file
//! `<configdirectory>/master.status.json`, and the per-entry log files under
//! `<configdirectory>/log/`.
//!
//! Tools that are not the master's parent (the shell, scripts) read these files instead of
//! asking the master, so they work while it runs and say what happened after it stopped.
//!
//! ```no_run
//! use std::path::Path;
//! use daemons::master::status::{read_status, tail_log};
//!
//! let dir = Path::new("/var/lib/cyrus");
//! for s in read_status(dir)?.services {
//!     println!("{} pid={:?} restarts={}", s.name, s.pid, s.restarts);
//!     for line in tail_log(dir, &s.name, 5)? {
//!         println!("  {line}");
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::plan::EntryKind;

/// The status file's name inside `configdirectory`.
pub const STATUS_FILE: &str = "master.status.json";
/// The log directory's name inside `configdirectory`.
pub const LOG_DIR: &str = "log";

/// What a long-lived child is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Its process is up.
    Running,
    /// It exited and is waiting out its back-off.
    Restarting,
    /// The master stopped it (shutdown).
    Stopped,
}

/// One service or daemon as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The entry name.
    pub name: String,
    /// `service` or `daemon`.
    pub kind: EntryKind,
    /// The current process, if one is up.
    pub pid: Option<u32>,
    /// How many times it has been restarted after exiting.
    pub restarts: u32,
    /// When the current process started (or, when none is up, when the last one ended).
    #[serde(with = "unix_seconds")]
    pub since: SystemTime,
    /// What it is doing.
    pub state: State,
    /// How the last process ended (`status 1`, `signal 9`), if one has.
    pub last_exit: Option<String>,
    /// The command line.
    pub command: String,
}

/// The whole status file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    /// The master's process id.
    pub master_pid: u32,
    /// When the master started.
    #[serde(with = "unix_seconds")]
    pub started: SystemTime,
    /// False once the master has stopped.
    pub running: bool,
    /// Services and daemons, in `cyrus.conf` order.
    pub services: Vec<ServiceStatus>,
}

mod unix_seconds {
    use super::*;

    pub fn serialize<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        s.serialize_u64(secs)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let secs = u64::deserialize(d)?;
        Ok(UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .unwrap_or(UNIX_EPOCH))
    }
}

/// Where the status file lives.
pub fn status_path(configdirectory: &Path) -> PathBuf {
    configdirectory.join(STATUS_FILE)
}

/// Where an entry's output goes.
pub fn log_path(configdirectory: &Path, name: &str) -> PathBuf {
    configdirectory.join(LOG_DIR).join(format!("{name}.log"))
}

/// Writes the status file atomically (a reader never sees half of it).
pub fn write_status(configdirectory: &Path, status: &StatusFile) -> std::io::Result<()> {
    let path = status_path(configdirectory);
    let tmp = configdirectory.join(format!(".{STATUS_FILE}.tmp"));
    let json = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, &path)
}

/// Reads the status file a master wrote in `configdirectory`.
pub fn read_status(configdirectory: &Path) -> std::io::Result<StatusFile> {
    let text = std::fs::read(status_path(configdirectory))?;
    serde_json::from_slice(&text)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// How much of a log's end [`tail_log`] reads: enough for many lines, bounded for huge logs.
const TAIL_BYTES: u64 = 64 * 1024;

/// The last `lines` lines of an entry's log (fewer if the log is shorter or the lines very
/// long); an absent log has none.
pub fn tail_log(configdirectory: &Path, name: &str, lines: usize) -> std::io::Result<Vec<String>> {
    let mut file = match std::fs::File::open(log_path(configdirectory, name)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        // The first line was cut by the seek.
        all.remove(0);
    }
    let skip = all.len().saturating_sub(lines);
    Ok(all.into_iter().skip(skip).map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_file_round_trips_with_unix_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let since = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let status = StatusFile {
            master_pid: 7,
            started: since,
            running: true,
            services: vec![ServiceStatus {
                name: "imap".into(),
                kind: EntryKind::Service,
                pid: Some(42),
                restarts: 2,
                since,
                state: State::Running,
                last_exit: Some("signal 9".into()),
                command: "/bin/imapd -C /etc/imapd.conf".into(),
            }],
        };
        write_status(dir.path(), &status).unwrap();
        let text = std::fs::read_to_string(status_path(dir.path())).unwrap();
        assert!(text.contains("\"since\": 1700000000"), "{text}");
        assert!(text.contains("\"kind\": \"service\""), "{text}");
        assert_eq!(read_status(dir.path()).unwrap(), status);
    }

    #[test]
    fn tail_log_returns_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert!(tail_log(dir.path(), "imap", 3).unwrap().is_empty());
        std::fs::create_dir(dir.path().join(LOG_DIR)).unwrap();
        let body: String = (0..10).map(|i| format!("line {i}\n")).collect();
        std::fs::write(log_path(dir.path(), "imap"), body).unwrap();
        assert_eq!(
            tail_log(dir.path(), "imap", 3).unwrap(),
            vec!["line 7", "line 8", "line 9"]
        );
        assert_eq!(tail_log(dir.path(), "imap", 30).unwrap().len(), 10);
    }

    #[test]
    fn tail_log_of_a_huge_log_reads_only_its_end() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(LOG_DIR)).unwrap();
        let body: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(log_path(dir.path(), "big"), body).unwrap();
        let tail = tail_log(dir.path(), "big", 2).unwrap();
        assert_eq!(tail, vec!["line 19998", "line 19999"]);
        let many = tail_log(dir.path(), "big", 100_000).unwrap();
        assert!(many.len() < 20_000 && many.iter().all(|l| l.starts_with("line ")));
    }
}
