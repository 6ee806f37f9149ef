//! The file operations of the folder store, each durable: write to a temporary file, fsync it,
//! rename it into place, fsync the folder. Writes that touch several files go through a journal,
//! so a crash leaves either the old state or, after recovery, the new one.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prompt_manager_core::{Error, Result};
use serde::{Deserialize, Serialize};

use super::BACKEND;

/// The store's lock file, at the root. Writers hold an exclusive lock on it.
pub(crate) const LOCK_FILE: &str = ".prompt-manager.lock";
/// The journal of a multi-file write in progress, at the root.
const JOURNAL_FILE: &str = ".prompt-manager.journal";

/// An I/O error as a backend error naming what was being done and the path.
pub(crate) fn io_error(doing: &str, path: &Path, error: io::Error) -> Error {
    Error::backend_with(BACKEND, format!("{doing} `{}`: {error}", path.display()), error)
}

/// A unique temporary name next to `target`, hidden (a dot-file) so that readers ignore it. The
/// process id, a counter and the time keep names apart, also from files a killed process left.
pub(crate) fn temp_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let name = target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    target.with_file_name(format!(".{name}.{}.{n}.{nanos:x}.tmp", std::process::id()))
}

/// Whether `name` is one of [`temp_path`]'s names, `.<file>.<pid>.<counter>.<hex time>.tmp`, or
/// of the names earlier releases used, `.<file>.<pid>.<counter>.tmp`.
pub(crate) fn is_temp_name(name: &str) -> bool {
    let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
        return false;
    };
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    let parts: Vec<&str> = inner.rsplitn(4, '.').collect();
    let numbered = |file: &str, pid: &str, counter: &str| !file.is_empty() && digits(pid, 10) && digits(counter, 10);
    match parts.as_slice() {
        [nanos, counter, pid, file] if digits(nanos, 16) && numbered(file, pid, counter) => true,
        // The older form: the last three parts are `<file's last part>.<pid>.<counter>`.
        [counter, pid, ..] => {
            let file = inner.rsplitn(3, '.').nth(2).unwrap_or_default();
            numbered(file, pid, counter)
        }
        _ => false,
    }
}

/// Removes the temporary files that writers killed mid-write left anywhere in the store, and
/// returns how many. Call with the write lock held and after [`Journal::recover`]: every write
/// makes its temporary files under the lock, and a committed journal's are renamed by then, so
/// any left is an orphan. Hidden folders (`.git`) and symbolic links are not entered; a file
/// that cannot be removed is left (best effort: it is never read as a prompt).
pub(crate) fn remove_orphan_temps(root: &Path) -> usize {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if !name.starts_with('.') {
                    stack.push(entry.path());
                }
            } else if kind.is_file() && is_temp_name(name) && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// Writes `content` to a new temporary file next to `target` and fsyncs it; returns its path.
/// Nothing is visible at `target` until the temporary file is renamed there.
pub(crate) fn write_temp(target: &Path, content: &[u8]) -> Result<PathBuf> {
    let mut attempts = 0;
    loop {
        let temp = temp_path(target);
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
            file.write_all(content)?;
            file.sync_all()
        })();
        match written {
            Ok(()) => return Ok(temp),
            // A name taken by a leftover of a killed process: take another one.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
            Err(e) => {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    let _ = fs::remove_file(&temp);
                }
                return Err(io_error("writing", target, e));
            }
        }
    }
}

/// Fsyncs a folder, so that the renames and creations in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("syncing folder", dir, e))
}

/// Replaces `target` with `content` atomically and durably.
pub(crate) fn write_atomic(target: &Path, content: &[u8]) -> Result<()> {
    let temp = write_temp(target, content)?;
    if let Err(e) = fs::rename(&temp, target) {
        let _ = fs::remove_file(&temp);
        return Err(io_error("replacing", target, e));
    }
    sync_dir(parent(target))
}

/// The folder holding `path`: `.` for a bare file name, whose `parent()` is the empty path.
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing ancestors below `root`, adding to `changed` each folder that got
/// a new entry (fsync them with [`sync_dirs`] so the new folders survive a crash).
pub(crate) fn create_dirs(root: &Path, dir: &Path, changed: &mut BTreeSet<PathBuf>) -> Result<()> {
    let Ok(relative) = dir.strip_prefix(root) else {
        return Err(Error::backend(
            BACKEND,
            format!("`{}` is outside the store `{}`", dir.display(), root.display()),
        ));
    };
    let mut current = root.to_path_buf();
    for component in relative.components() {
        let next = current.join(component);
        match fs::create_dir(&next) {
            Ok(()) => {
                changed.insert(current);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && next.is_dir() => {}
            Err(e) => return Err(io_error("creating folder", &next, e)),
        }
        current = next;
    }
    Ok(())
}

/// Fsyncs every folder of `dirs`, several at a time.
pub(crate) fn sync_dirs<'a>(dirs: impl IntoIterator<Item = &'a PathBuf>) -> Result<()> {
    let dirs: Vec<&PathBuf> = dirs.into_iter().collect();
    in_parallel(&dirs, |dir| sync_dir(dir)).map(drop)
}

/// Writes and fsyncs a temporary file for each `(target, content)`, several at a time (fsyncs
/// of different files overlap in the file system's journal); returns their paths in order. On
/// failure, the temporary files already written are removed.
pub(crate) fn write_temps(files: &[(PathBuf, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    let results = in_parallel_all(files, |(target, content)| write_temp(target, content));
    let mut temps = Vec::with_capacity(results.len());
    let mut failure = None;
    for result in results {
        match result {
            Ok(temp) => temps.push(temp),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    match failure {
        None => Ok(temps),
        Some(e) => {
            for temp in temps {
                let _ = fs::remove_file(temp);
            }
            Err(e)
        }
    }
}

/// Threads for file writes: fsync waits on the disk, not the CPU.
const WRITERS: usize = 8;

/// Runs `f` on every item, on up to [`WRITERS`] threads; the first error wins.
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    in_parallel_all(items, f).into_iter().collect()
}

/// Runs `f` on every item, on up to [`WRITERS`] threads, and returns every result in order.
fn in_parallel_all<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> Result<R> + Sync) -> Vec<Result<R>> {
    if items.len() < 4 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(WRITERS);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(Error::backend(BACKEND, "a file writer thread panicked"))])
            })
            .collect()
    })
}

/// A multi-file write: temporary files to rename into place and files to remove. Once the
/// journal is on disk the write is committed; [`Journal::recover`] finishes it after a crash.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Journal {
    /// (temporary file, target), relative to the root.
    renames: Vec<(PathBuf, PathBuf)>,
    /// Files to remove, relative to the root.
    removals: Vec<PathBuf>,
    /// Folders to remove when empty (after the files), relative to the root, deepest first.
    #[serde(default)]
    empty_dirs: Vec<PathBuf>,
}

impl Journal {
    /// Adds a rename of the already written and synced `temp` onto `target`.
    pub(crate) fn rename(&mut self, root: &Path, temp: &Path, target: &Path) {
        self.renames.push((relative(root, temp), relative(root, target)));
    }

    /// Adds the removal of `path`.
    pub(crate) fn remove(&mut self, root: &Path, path: &Path) {
        self.removals.push(relative(root, path));
    }

    /// Adds the removal of `dir` if it is empty once the files are gone.
    pub(crate) fn remove_dir_if_empty(&mut self, root: &Path, dir: &Path) {
        self.empty_dirs.push(relative(root, dir));
    }

    /// Commits and applies the write. A single rename needs no journal: it is atomic already.
    pub(crate) fn commit(self, root: &Path) -> Result<()> {
        let simple = self.renames.len() <= 1 && self.removals.is_empty() && self.empty_dirs.is_empty();
        if simple {
            return self.apply(root);
        }
        let journal = root.join(JOURNAL_FILE);
        let text = serde_json::to_vec(&self)
            .map_err(|e| Error::backend_with(BACKEND, "cannot encode the write journal", e))?;
        if let Err(e) = write_atomic(&journal, &text) {
            // Not committed: nothing of the write is visible; drop its temporary files.
            self.abandon(root);
            return Err(e);
        }
        // Committed: from here on, a failure is finished by the next writer's recovery.
        self.apply(root)?;
        fs::remove_file(&journal).map_err(|e| io_error("removing", &journal, e))?;
        sync_dir(root)
    }

    /// Drops the temporary files of a write that will not be committed.
    fn abandon(&self, root: &Path) {
        for (temp, _) in &self.renames {
            let _ = fs::remove_file(root.join(temp));
        }
    }

    /// Applies the journal; every step can run twice (recovery may repeat a step done before a crash).
    fn apply(&self, root: &Path) -> Result<()> {
        let mut dirs = BTreeSet::new();
        for (temp, target) in &self.renames {
            let (temp, target) = (root.join(temp), root.join(target));
            match fs::rename(&temp, &target) {
                Ok(()) => {}
                // Done before a crash: the temporary file is gone and the target is in place.
                Err(e) if e.kind() == io::ErrorKind::NotFound && target.exists() => {}
                Err(e) => return Err(io_error("renaming into", &target, e)),
            }
            dirs.insert(parent(&target).to_path_buf());
        }
        for path in &self.removals {
            let path = root.join(path);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("removing", &path, e)),
            }
            dirs.insert(parent(&path).to_path_buf());
        }
        sync_dirs(&dirs)?;
        for dir in &self.empty_dirs {
            let dir = root.join(dir);
            // Only an empty folder goes: it may hold other prompts' folders.
            if fs::remove_dir(&dir).is_ok() {
                sync_dir(parent(&dir))?;
            }
        }
        Ok(())
    }

    /// Finishes a write that was committed when the process died. Call with the write lock held.
    pub(crate) fn recover(root: &Path) -> Result<()> {
        let path = root.join(JOURNAL_FILE);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error("reading", &path, e)),
        };
        // The journal is itself written atomically, so it is complete or absent.
        let journal: Journal = serde_json::from_slice(&text).map_err(|e| {
            Error::backend_with(
                BACKEND,
                format!("the write journal `{}` is unreadable", path.display()),
                e,
            )
        })?;
        if journal.paths().any(|p| !is_inside(p)) {
            return Err(Error::backend(
                BACKEND,
                format!(
                    "the write journal `{}` names a path outside the store; not applied",
                    path.display()
                ),
            ));
        }
        journal.apply(root)?;
        fs::remove_file(&path).map_err(|e| io_error("removing", &path, e))?;
        sync_dir(root)
    }

    fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.renames
            .iter()
            .flat_map(|(a, b)| [a, b])
            .chain(&self.removals)
            .chain(&self.empty_dirs)
    }
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// Whether a journal path stays inside the root (no `..`, not absolute).
fn is_inside(path: &Path) -> bool {
    path.components().all(|c| matches!(c, std::path::Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_bare_file_name_is_in_the_current_folder() {
        // `Path::parent` of a bare name is the empty path, which cannot be opened to fsync it.
        assert_eq!(parent(Path::new("lib.yaml")), Path::new("."));
        assert_eq!(parent(Path::new("out/lib.yaml")), Path::new("out"));
        assert_eq!(parent(Path::new("/lib.yaml")), Path::new("/"));
    }

    #[test]
    fn a_committed_journal_is_finished_by_recovery() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        fs::write(root.join("old.yaml"), "old").unwrap();
        let target = root.join("new.yaml");
        let temp = write_temp(&target, b"new").unwrap();
        let other = root.join("second.yaml");
        let temp2 = write_temp(&other, b"second").unwrap();
        let mut journal = Journal::default();
        journal.rename(root, &temp, &target);
        journal.rename(root, &temp2, &other);
        journal.remove(root, &root.join("old.yaml"));
        // Simulate a crash after the commit point and after the first rename.
        write_atomic(&root.join(JOURNAL_FILE), &serde_json::to_vec(&journal).unwrap()).unwrap();
        fs::rename(&temp, &target).unwrap();

        Journal::recover(root).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(fs::read_to_string(&other).unwrap(), "second");
        assert!(!root.join("old.yaml").exists());
        assert!(!root.join(JOURNAL_FILE).exists());
        Journal::recover(root).unwrap(); // nothing to do
    }

    #[test]
    fn a_journal_pointing_outside_the_store_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let journal = Journal {
            removals: vec![PathBuf::from("../escape")],
            ..Journal::default()
        };
        write_atomic(&root.path().join(JOURNAL_FILE), &serde_json::to_vec(&journal).unwrap()).unwrap();
        let err = Journal::recover(root.path()).unwrap_err();
        assert!(err.to_string().contains("outside the store"), "{err}");
    }

    #[test]
    fn temporary_names_are_hidden_and_unique() {
        let a = temp_path(Path::new("/x/1.0.0.yaml"));
        let b = temp_path(Path::new("/x/1.0.0.yaml"));
        assert_ne!(a, b);
        assert!(a.file_name().unwrap().to_string_lossy().starts_with(".1.0.0.yaml."));
    }

    #[test]
    fn temporary_names_are_recognised_and_nothing_else() {
        for target in ["1.0.0.yaml", "_labels.yaml", JOURNAL_FILE, "lib.yaml"] {
            let temp = temp_path(&Path::new("/x").join(target));
            let name = temp.file_name().unwrap().to_string_lossy().into_owned();
            assert!(is_temp_name(&name), "{name}");
        }
        assert!(is_temp_name(".1.1.0.yaml.123.0.tmp"), "the older form");
        for other in [
            "notes.tmp",
            ".notes.tmp",
            ".a.b.tmp",
            ".1.0.0.yaml.12.x.tmp",
            ".x.y.2.zz.tmp",
            "1.0.0.yaml",
        ] {
            assert!(!is_temp_name(other), "{other}");
        }
    }
}
