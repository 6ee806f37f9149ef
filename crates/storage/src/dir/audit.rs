//! The audit log of the folder store: one JSON file per entry in `_audit/` at the root, named
//! by its number (`_audit/00000000000000000001.json`), so that a person can read it and git can
//! diff it.
//!
//! Entries are written with the change they record, in the same journaled write (see
//! `files::Journal`): a crash leaves both or, after recovery, neither; each file is renamed into
//! place whole, so a reader never sees half an entry. Writers find the head of the chain (the
//! last number and its hash) under the store's write lock; the head is kept between writes and
//! checked against the folder (its file is there, the next one is not), so a write in another
//! process is noticed. What lives here is only the log's files; the writes themselves are in
//! the parent module.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use prompt_manager_core::{AuditEntry, AuditQuery, AuditRecord, Error, GENESIS_HASH, Result, seal_all};

use super::BACKEND;
use super::files::io_error;

/// The folder of a `dir://` store's audit log, at its root: one JSON file per entry. Tools that
/// read a store's folder as prompt files (lint) skip it.
pub const AUDIT_DIR: &str = "_audit";

/// The audit log of one store.
pub(crate) struct AuditLog {
    dir: PathBuf,
    /// The last entry's number and hash, as this process last wrote or read them.
    head: Mutex<Option<(u64, String)>>,
}

impl AuditLog {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            dir: root.join(AUDIT_DIR),
            head: Mutex::new(None),
        }
    }

    /// The folder of the log.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }

    /// The numbers of the entries in the folder, ascending.
    fn numbers(&self) -> Result<Vec<u64>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("listing", &self.dir, e)),
        };
        let mut numbers = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("listing", &self.dir, e))?;
            let name = entry.file_name();
            if let Some(seq) = name.to_str().and_then(entry_number) {
                numbers.push(seq);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    fn read_entry(&self, seq: u64) -> Result<AuditEntry> {
        let path = self.file(seq);
        let text = fs::read(&path).map_err(|e| io_error("reading", &path, e))?;
        serde_json::from_slice(&text).map_err(|e| {
            Error::backend_with(
                BACKEND,
                format!("the audit entry `{}` is not valid: {e}", path.display()),
                e,
            )
        })
    }

    /// The number and hash of the last entry. Call with the write lock held.
    fn head(&self) -> Result<(u64, String)> {
        let cached = self.head.lock().ok().and_then(|head| head.clone());
        if let Some((seq, hash)) = cached
            && self.file(seq).exists()
            && !self.file(seq + 1).exists()
        {
            return Ok((seq, hash));
        }
        match self.numbers()?.last() {
            None => Ok((0, GENESIS_HASH.to_owned())),
            Some(&seq) => Ok((seq, self.read_entry(seq)?.hash)),
        }
    }

    /// Seals `records` after the head and adds their files to `writes`; returns the entries, to
    /// pass to [`committed`](Self::committed) once the write is committed. Call with the write
    /// lock held.
    pub(crate) fn prepare(
        &self,
        records: Vec<AuditRecord>,
        now: DateTime<Utc>,
        writes: &mut Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<Vec<AuditEntry>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let entries = seal_all(records, self.head()?, now);
        for entry in &entries {
            let text = serde_json::to_vec_pretty(entry)
                .map_err(|e| Error::backend_with(BACKEND, "cannot encode an audit entry", e))?;
            writes.push((self.file(entry.seq), text));
        }
        Ok(entries)
    }

    /// Remembers the head after a committed write of `entries`.
    pub(crate) fn committed(&self, entries: &[AuditEntry]) {
        if let (Some(last), Ok(mut head)) = (entries.last(), self.head.lock()) {
            *head = Some((last.seq, last.hash.clone()));
        }
    }

    /// The entries `query` selects, oldest first.
    pub(crate) fn read(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let limit = query.effective_limit();
        let mut found = Vec::new();
        if limit == 0 {
            return Ok(found);
        }
        let after = query.after_seq.unwrap_or(0);
        for seq in self.numbers()?.into_iter().filter(|&seq| seq > after) {
            let entry = match self.read_entry(seq) {
                Ok(entry) => entry,
                // Listed, then gone: nothing removes entries but a person; show what is there.
                Err(_) if !self.file(seq).exists() => continue,
                Err(e) => return Err(e),
            };
            if query.matches(&entry) {
                found.push(entry);
                if found.len() == limit {
                    break;
                }
            }
        }
        Ok(found)
    }
}

/// `00000000000000000012.json` → 12; anything else (temporary files, other names) → `None`.
fn entry_number(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".json")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn only_numbered_json_files_are_entries() {
        assert_eq!(entry_number("00000000000000000012.json"), Some(12));
        for other in [
            "12.json",
            ".00000000000000000012.json.1.2.ab.tmp",
            "0000000000000000001x.json",
            "notes.md",
        ] {
            assert_eq!(entry_number(other), None, "{other}");
        }
    }
}
