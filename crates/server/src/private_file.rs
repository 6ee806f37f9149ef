//! Files that hold secrets (the API keys file, the webhooks file): read-modify-write under an
//! exclusive lock on `.NAME.lock` beside the file, and atomic, durable writes (a temporary file
//! with mode 0600, fsynced, renamed into place, the folder fsynced). Readers take no lock: they
//! see the old file or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of `path` (`.` for a bare file name) and the file's name.
pub(crate) fn folder_and_name(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name)
}

/// Runs `change` holding an exclusive lock on `.NAME.lock` beside `path`; the lock is released
/// when it returns (or the process dies). `io` turns a failure to take the lock into `E`.
pub(crate) fn locked<T, E>(
    path: &Path,
    change: impl FnOnce() -> Result<T, E>,
    io: impl Fn(PathBuf, std::io::Error) -> E,
) -> Result<T, E> {
    let (dir, name) = folder_and_name(path);
    let lock_path = dir.join(format!(".{name}.lock"));
    std::fs::create_dir_all(&dir).map_err(|e| io(lock_path.clone(), e))?;
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| io(lock_path.clone(), e))?;
    lock.lock().map_err(|e| io(lock_path.clone(), e))?;
    change()
}

/// Replaces `path` with `bytes`, atomically and durably, readable by its owner only.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, name) = folder_and_name(path);
    std::fs::create_dir_all(&dir)?;
    let mut nonce = [0u8; 4];
    getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
    // A fresh name each time: a leftover of a killed run is never reopened with its old mode.
    let tmp = dir.join(format!(
        ".{name}.tmp{}-{:08x}",
        std::process::id(),
        u32::from_le_bytes(nonce)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the folder is synced.
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
