//! Sieve at delivery: the user's active script, compiled once per content (a cache keyed by
//! user and script name that keeps the text it compiled, so a changed script is compiled
//! again), evaluated with [`protocol::sieve::evaluate`], and its actions turned into
//! store targets, a refusal, or mail handed to `sendmail` (redirect, vacation).
//!
//! Vacation replies are remembered per (user, handle, sender) in a small LMDB database,
//! `<configdirectory>/vacation.db`, so each sender is answered once per `:days`.
#![allow(unsafe_code)] // opening an LMDB map is `unsafe` in heed; see the SAFETY note in `open`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions};
use protocol::sieve::{self, Script, Vacation};

/// Most users whose compiled scripts are kept; past this the cache starts afresh (a script is cheap to
/// compile again, and a bound keeps a server with many users from growing without limit).
const CACHE_MAX: usize = 4096;

/// How long `sendmail` may run before it is killed and counted as failed.
const SENDMAIL_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a sieve side effect failed.
#[derive(Debug, thiserror::Error)]
pub enum SieveError {
    /// `sendmail` could not be started or fed.
    #[error("running {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// `sendmail` exited with a failure or was killed.
    #[error("{program} failed: {status}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status, or "timed out".
        status: String,
    },
    /// The vacation database.
    #[error("vacation database {path}: {source}")]
    Lmdb {
        /// Its directory.
        path: PathBuf,
        /// Why.
        source: heed::Error,
    },
}

/// A compiled script and the text it came from.
struct Cached {
    text: Box<[u8]>,
    script: Arc<Script>,
}

/// Sieve state shared by every lmtpd session.
pub struct SieveState {
    /// Compiled scripts by user and script name, with the text each was compiled from.
    cache: Mutex<HashMap<String, HashMap<String, Cached>>>,
    /// The `sendmail` program (imapd.conf `sendmail`, default `/usr/sbin/sendmail`).
    pub sendmail: String,
    /// Where the vacation database lives; opened on first use so a host without vacation
    /// scripts never creates it.
    vacation_dir: PathBuf,
    vacation: OnceLock<Result<VacationDb, String>>,
}

impl std::fmt::Debug for SieveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SieveState")
            .field("sendmail", &self.sendmail)
            .finish_non_exhaustive()
    }
}

impl SieveState {
    /// State for a server whose configuration directory is `configdir`.
    pub fn new(sendmail: String, configdir: &Path) -> SieveState {
        SieveState {
            cache: Mutex::new(HashMap::new()),
            sendmail,
            vacation_dir: configdir.join("vacation.db"),
            vacation: OnceLock::new(),
        }
    }

    /// The compiled form of `user`'s script `name` whose text is `text`, compiled only when
    /// the text differs from the one compiled last time. Comparing the texts costs a memcmp
    /// per delivery, less than hashing them; the key is built only on a miss.
    pub fn compiled(
        &self,
        user: &str,
        name: &str,
        text: &[u8],
    ) -> Result<Arc<Script>, sieve::CompileError> {
        let hit = |c: &Cached| (*c.text == *text).then(|| c.script.clone());
        if let Some(s) = self
            .lock()
            .get(user)
            .and_then(|m| m.get(name))
            .and_then(hit)
        {
            return Ok(s);
        }
        let script = Arc::new(sieve::compile(text)?);
        let mut cache = self.lock();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.entry(user.to_owned()).or_default().insert(
            name.to_owned(),
            Cached {
                text: text.into(),
                script: script.clone(),
            },
        );
        Ok(script)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, Cached>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn vacation_db(&self) -> Result<&VacationDb, SieveError> {
        self.vacation
            .get_or_init(|| VacationDb::open(&self.vacation_dir).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| SieveError::Lmdb {
                path: self.vacation_dir.clone(),
                source: heed::Error::Io(std::io::Error::other(e.clone())),
            })
    }

    /// Runs `sendmail -i -f <from> -- <to>` with `message` on stdin.
    pub fn send(&self, from: &str, to: &str, message: &[u8]) -> Result<(), SieveError> {
        let program = self.sendmail.clone();
        let spawn = |source| SieveError::Spawn {
            program: program.clone(),
            source,
        };
        let mut child = Command::new(&self.sendmail)
            .args(["-i", "-f", from, "--", to])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(spawn)?;
        if let Some(mut stdin) = child.stdin.take() {
            if let Err(e) = stdin.write_all(message) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(spawn(e));
            }
        }
        let start = Instant::now();
        loop {
            match child.try_wait().map_err(spawn)? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => {
                    return Err(SieveError::Failed {
                        program,
                        status: status.to_string(),
                    })
                }
                None if start.elapsed() > SENDMAIL_TIMEOUT => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SieveError::Failed {
                        program,
                        status: "timed out".into(),
                    });
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Sends a vacation reply for `user` unless this sender was answered for this handle
    /// within its `:days`. Returns whether a reply was sent.
    pub fn vacation(&self, user: &str, v: &Vacation, servername: &str) -> Result<bool, SieveError> {
        let db = self.vacation_db()?;
        let key = format!("{user}\0{}\0{}", v.handle, v.to.to_ascii_lowercase());
        let now = unix_now();
        if let Some(sent) = db.get(key.as_bytes())? {
            if now < sent.saturating_add(u64::from(v.days) * 86_400) {
                return Ok(false);
            }
        }
        let message = vacation_message(v, servername);
        // RFC 3834 §3.3 / RFC 5230 §5.2: auto-replies go out with the null sender, so that
        // a bounce of the reply cannot start a loop.
        self.send("<>", &v.to, &message)?;
        db.put(key.as_bytes(), now)?;
        Ok(true)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// When each (user, handle, sender) was last answered.
struct VacationDb {
    env: Env<heed::WithoutTls>,
    db: Database<Bytes, Bytes>,
    path: PathBuf,
}

impl VacationDb {
    fn open(path: &Path) -> Result<VacationDb, SieveError> {
        let lmdb = |source| SieveError::Lmdb {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(path).map_err(|e| lmdb(heed::Error::Io(e)))?;
        let mut opts = EnvOpenOptions::new().read_txn_without_tls();
        // Address space, not memory: only pages in use take space.
        opts.map_size(1 << 30).max_dbs(2).max_readers(512);
        // SAFETY: the map is only modified through LMDB (this process or others using LMDB's
        // own lock file); nothing writes the files behind LMDB's back, and the directory is
        // local (configdirectory), not on a network filesystem.
        let env = unsafe { opts.open(path) }.map_err(lmdb)?;
        let _ = env.clear_stale_readers();
        let mut wtxn = env.write_txn().map_err(lmdb)?;
        let db = env
            .create_database(&mut wtxn, Some("vacation"))
            .map_err(lmdb)?;
        wtxn.commit().map_err(lmdb)?;
        Ok(VacationDb {
            env,
            db,
            path: path.to_owned(),
        })
    }

    fn err(&self, source: heed::Error) -> SieveError {
        SieveError::Lmdb {
            path: self.path.clone(),
            source,
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<u64>, SieveError> {
        let txn = self.env.read_txn().map_err(|e| self.err(e))?;
        let v = self.db.get(&txn, key).map_err(|e| self.err(e))?;
        Ok(v.and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes))
    }

    fn put(&self, key: &[u8], sent: u64) -> Result<(), SieveError> {
        let mut txn = self.env.write_txn().map_err(|e| self.err(e))?;
        self.db
            .put(&mut txn, key, &sent.to_be_bytes())
            .map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }
}

/// An RFC 3834 reply: `Auto-Submitted: auto-replied`, `In-Reply-To`/`References` to the
/// original, and the reason as text (or, with `:mime`, as the MIME entity it already is).
pub fn vacation_message(v: &Vacation, servername: &str) -> Vec<u8> {
    let from = v.from.clone().unwrap_or_else(|| v.recipient.clone());
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S +0000");
    let id = format!(
        "<cyrus-vacation-{}-{}@{servername}>",
        unix_now(),
        rand::random::<u64>()
    );
    let mut out = String::new();
    out.push_str(&format!("From: <{from}>\r\nTo: <{}>\r\n", v.to));
    out.push_str(&format!(
        "Subject: {}\r\n",
        protocol::mime::encode_words(&one_line(&v.subject))
    ));
    out.push_str(&format!("Date: {date}\r\nMessage-ID: {id}\r\n"));
    if let Some(orig) = &v.in_reply_to {
        let orig = one_line(orig);
        out.push_str(&format!("In-Reply-To: {orig}\r\nReferences: {orig}\r\n"));
    }
    out.push_str("Auto-Submitted: auto-replied (vacation)\r\nMIME-Version: 1.0\r\n");
    let reason = crlf(&v.reason);
    if v.mime {
        out.push_str(&reason);
    } else {
        out.push_str(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        );
        out.push_str(&reason);
        if !reason.ends_with("\r\n") {
            out.push_str("\r\n");
        }
    }
    out.into_bytes()
}

/// A header value on one line: line breaks become spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Bare LF line ends as CRLF.
fn crlf(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut prev = '\0';
    for c in s.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// The text of a `550 5.7.1` refusal: the reason's first line, printable ASCII only, bounded.
pub fn reject_text(reason: &str) -> String {
    let line = reason.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let clean: String = line
        .chars()
        .filter(|c| (' '..='~').contains(c))
        .take(200)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "Message rejected".to_string()
    } else {
        clean.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_text_is_one_printable_line() {
        assert_eq!(reject_text("go away\r\nsecond"), "go away");
        assert_eq!(reject_text("\r\n"), "Message rejected");
        assert_eq!(reject_text("caf\u{e9} ok"), "caf ok");
    }

    #[test]
    fn vacation_message_has_rfc3834_headers() {
        let v = Vacation {
            handle: "h".into(),
            days: 7,
            subject: "Auto: hi".into(),
            from: None,
            addresses: vec![],
            mime: false,
            reason: "away\nback soon".into(),
            to: "a@example.org".into(),
            in_reply_to: Some("<1@x>".into()),
            recipient: "bob@example.org".into(),
        };
        let m = String::from_utf8(vacation_message(&v, "be1")).unwrap();
        assert!(m.starts_with(
            "From: <bob@example.org>\r\nTo: <a@example.org>\r\nSubject: Auto: hi\r\n"
        ));
        assert!(m.contains("\r\nIn-Reply-To: <1@x>\r\nReferences: <1@x>\r\n"));
        assert!(m.contains("\r\nAuto-Submitted: auto-replied (vacation)\r\n"));
        assert!(m.ends_with("\r\n\r\naway\r\nback soon\r\n"));
    }

    #[test]
    fn compiled_scripts_are_cached_until_their_text_changes() {
        let dir = tempfile::tempdir().unwrap();
        let s = SieveState::new("/bin/true".into(), dir.path());
        let a = s.compiled("alice", "main", b"keep;").unwrap();
        let b = s.compiled("alice", "main", b"keep;").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // Another user's script of the same name is its own entry.
        let other = s.compiled("bob", "main", b"keep;").unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        // A changed text is compiled again.
        let c = s.compiled("alice", "main", b"discard;").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        let d = s.compiled("alice", "main", b"discard;").unwrap();
        assert!(Arc::ptr_eq(&c, &d));
        assert!(s.compiled("alice", "main", b"fileinot;").is_err());
    }
}
