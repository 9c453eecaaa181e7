//! Message files: where they live and how they are written durably.
//!
//! A message is written under a temporary name in its mailbox directory, fsynced, and renamed
//! to `<uid>.` while the index transaction that lists it is open; with
//! [`super::StoreOptions::fsync_dirs`] the directory is fsynced before that transaction
//! commits too. So a committed record always has its file, and a crash can only leave files
//! nobody lists (temporaries, or `<uid>.` files at or above UIDNEXT, which the next append of
//! that UID replaces), which [`super::Store::gc`] removes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha1::Digest;

use super::types::{Guid, MailboxId};

/// Prefix of temporary files; never a valid `<uid>.` name.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// `<partition>/<h0>/<h1>/<uniqueid>`: two levels of hashing keep directories small.
pub(crate) fn mailbox_dir(partition_root: &Path, id: &MailboxId) -> PathBuf {
    let h = sha1::Sha1::digest(id.as_str().as_bytes());
    partition_root
        .join(format!("{:02x}", h[0]))
        .join(format!("{:02x}", h[1]))
        .join(id.as_str())
}

/// `<dir>/<uid>.` (Cyrus's spelling of message file names).
pub(crate) fn message_path(dir: &Path, uid: u32) -> PathBuf {
    dir.join(format!("{uid}."))
}

/// The UID of a message file name, if it is one.
pub(crate) fn uid_of_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn temp_path(dir: &Path) -> PathBuf {
    dir.join(format!("{TEMP_PREFIX}{:032x}", rand::random::<u128>()))
}

/// Makes sure `dir` exists; when it had to be created, its new entries up to the partition
/// root are made durable, or a crash could lose a directory whose files a commit lists.
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    let mut p = dir.parent();
    // mailbox dir → h1 → h0 → partition root: three parents hold the new entries.
    for _ in 0..3 {
        match p {
            Some(parent) => {
                fsync_dir(parent)?;
                p = parent.parent();
            }
            None => break,
        }
    }
    Ok(())
}

/// fsync on a directory: makes renames and new entries in it durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// fsyncs several directories at once (in parallel: the filesystem can batch them into one
/// journal commit, where one after the other each waits for its own).
pub(crate) fn fsync_dirs(dirs: impl IntoIterator<Item = PathBuf>) -> Result<(), super::StoreError> {
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    let err = |path: &Path, source| super::StoreError::Io {
        path: path.to_owned(),
        source,
    };
    if dirs.len() < 2 {
        for d in &dirs {
            fsync_dir(d).map_err(|e| err(d, e))?;
        }
        return Ok(());
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| s.spawn(move || fsync_dir(d).map_err(|e| err(d, e))))
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(err(Path::new(""), io::Error::other("fsync panicked"))));
            if first.is_ok() {
                first = r;
            }
        }
        first
    })
}

/// Writes `bytes` to a new temporary file in `dir` and syncs it. Returns its path and GUID.
pub(crate) fn write_temp(dir: &Path, bytes: &[u8]) -> io::Result<(PathBuf, Guid)> {
    ensure_dir(dir)?;
    let path = temp_path(dir);
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    match res {
        Ok(()) => Ok((path, Guid::of(bytes))),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Copies a stream of exactly `len` bytes into a new synced temporary file in `dir`, hashing
/// as it goes, without holding the message in memory.
pub(crate) fn stream_temp(
    dir: &Path,
    src: &mut impl Read,
    len: u64,
) -> io::Result<(PathBuf, Guid)> {
    ensure_dir(dir)?;
    let path = temp_path(dir);
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let mut hasher = sha1::Sha1::new();
        let mut left = len;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            let chunk = buf.get_mut(..want).unwrap_or_default();
            src.read_exact(chunk)?;
            hasher.update(&*chunk);
            f.write_all(chunk)?;
            left -= want as u64;
        }
        f.sync_all()?;
        Ok(Guid(hasher.finalize().into()))
    })();
    match res {
        Ok(g) => Ok((path, g)),
        Err(e) => {
            let _ = fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Puts a copy of `src` under a temporary name in `dir`: a hard link when both are on one
/// filesystem (no data copied, as Cyrus does for COPY), otherwise a synced copy.
pub(crate) fn link_temp(src: &Path, dir: &Path) -> io::Result<PathBuf> {
    ensure_dir(dir)?;
    let path = temp_path(dir);
    match fs::hard_link(src, &path) {
        Ok(()) => Ok(path),
        Err(_) => {
            let res = (|| {
                let mut from = File::open(src)?;
                let mut to = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                io::copy(&mut from, &mut to)?;
                to.sync_all()
            })();
            match res {
                Ok(()) => Ok(path),
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    Err(e)
                }
            }
        }
    }
}

/// Removes files, ignoring the ones already gone (cleanup after a commit or a failure).
pub(crate) fn remove_all(paths: impl IntoIterator<Item = PathBuf>) {
    for p in paths {
        if let Err(e) = fs::remove_file(&p) {
            if e.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = %p.display(), error = %e, "could not remove message file");
            }
        }
    }
}
