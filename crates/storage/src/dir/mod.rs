//! [`DirStore`], the folder backend (`dir://PATH`): prompts as plain YAML files that a person can
//! read, edit by hand and review in git.
//!
//! ```text
//! prompts/
//!   .prompt-manager.lock          writers lock it (across processes)
//!   _audit/
//!     00000000000000000001.json   the audit log: one entry per file, hash-chained
//!   greeting/
//!     1.0.0.yaml                  one file per version: changelog, author, … and the prompt
//!     1.1.0.yaml
//!     _labels.yaml                status, labels, protected labels and label history
//!   support/triage/
//!     1.0.0.yaml
//! ```
//!
//! Every write appends its audit entries (`audit`) in the same journaled write as the change.
//!
//! This file is past 600 lines because the store's reads and writes share its folder cache and
//! lock; the file operations are in `files`, the audit log's files in `audit`.
//!
//! A prompt is a folder holding at least one `<semver>.yaml` file; ids map to folders segment by
//! segment, so `support/triage` lives in `support/triage/`. A folder without `_labels.yaml`
//! (written by hand) is an `active` prompt with no labels.
//!
//! Durability: every file is written to a hidden temporary file, fsynced, renamed into place and
//! its folder fsynced. A write that touches several files (a new version and its labels; an
//! import; a delete) first commits a journal, which the next writer (or the next open) finishes
//! after a crash; readers never see a half-written file. Writers take an exclusive lock on
//! `.prompt-manager.lock`, so compare-and-set holds across processes. Reads take no lock.
//!
//! Integrity: the store writes each version's content hash into its file and checks it whenever
//! it loads the version's content, so a version edited after it was saved is refused with
//! [`Error::ContentHashMismatch`] naming the file and both hashes (listings and histories still
//! show it; other versions and prompts are unaffected). A file without a `content_hash` — a new
//! version written by hand — is accepted, its hash computed from the content.
//!
//! File I/O is blocking and short (a few files per call); the async methods do it inline.

pub(crate) mod audit;
pub(crate) mod files;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AuditEntry, AuditQuery, AuditRecord, ContentHash, DeleteRequest, Error, HashMismatch, LabelChange, LabelEvent,
    LabelName, ListQuery, NotFound, Page, Prompt, PromptId, PromptStatus, PromptSummary, PromptVersion,
    ProtectionChange, Result, SaveRequest, StatusChange, StorageBackend, VersionInfo, VersionStore, async_trait,
};
use serde::{Deserialize, Serialize};

use crate::{rules, yaml};
pub use audit::AUDIT_DIR;
use audit::AuditLog;
use files::{Journal, LOCK_FILE, io_error};

pub(crate) const BACKEND: &str = "dir";
/// The file of a prompt's status, labels and label history.
pub const LABELS_FILE: &str = "_labels.yaml";
/// Parsed files kept in memory (checked against the file's size, time and inode on every use).
const CACHE_LIMIT: usize = 16_384;
/// How long a folder must have been unchanged before its listing is reused.
const SETTLED: Duration = Duration::from_secs(1);

/// A store in a folder of YAML files (`dir://PATH`) that a person can read, edit by hand and
/// review in git.
///
/// ```text
/// prompts/
///   .prompt-manager.lock          writers lock it (across processes)
///   greeting/
///     1.0.0.yaml                  one file per version: changelog, author, … and the prompt
///     1.1.0.yaml
///     _labels.yaml                status, labels and label history
///   support/triage/
///     1.0.0.yaml
/// ```
///
/// A prompt is a folder holding at least one `<semver>.yaml` file; ids map to folders segment by
/// segment. A folder without `_labels.yaml` (written by hand) is an `active` prompt with no
/// labels. A file that does not parse is an [`Error::InvalidFile`] naming it with the line and
/// column; other prompts are unaffected.
///
/// Versions are immutable: the store records each version's content hash in its file and checks
/// it when it loads the content. A file whose content no longer matches its `content_hash` (a
/// version edited by hand after it was saved) is an [`Error::ContentHashMismatch`] naming the
/// file and both hashes. Adding a *new* version file by hand stays supported: a file without a
/// `content_hash` is accepted and its hash computed from the content.
///
/// Every file is written to a hidden temporary file, fsynced, renamed into place and its folder
/// fsynced; a write that touches several files (a version and its labels, an import, a delete)
/// first commits a small journal, which the next writer or the next [`DirStore::open`] finishes
/// after a crash. Writers hold an exclusive lock on `.prompt-manager.lock`, so compare-and-set
/// holds across processes; readers take no lock. File I/O is blocking and short; the async
/// methods do it inline.
pub struct DirStore {
    root: PathBuf,
    /// Held (with the file lock on it) by writers in this process.
    lock: Mutex<File>,
    versions: FileCache<ParsedVersion>,
    labels: FileCache<LabelsFile>,
    /// Folder listings by path, with the folder's modification time.
    folders: Mutex<HashMap<PathBuf, (SystemTime, Arc<Folder>)>>,
    /// The audit log in `_audit/`.
    audit: AuditLog,
}

/// One version file: the version's record, then the prompt.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionFile {
    /// Optional in hand-written files: the file name says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<Version>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    changelog: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    /// Optional in hand-written files: the file's modification time stands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<Version>,
    /// The hash recorded when the store wrote the version, checked against the content whenever
    /// it is loaded. Absent in a new file written by hand: the hash of its content is taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_hash: Option<ContentHash>,
    prompt: Prompt,
}

/// A version file as read: the version (with the hash its file records, or else the hash of its
/// content), and the hash of the content when that differs from the recorded one.
#[derive(Debug)]
struct ParsedVersion {
    version: Arc<PromptVersion>,
    /// The hash of the content, when it does not match the recorded hash (a tampered file).
    mismatch: Option<ContentHash>,
}

/// `_labels.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsFile {
    status: PromptStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)]
    labels: BTreeMap<LabelName, Version>,
    /// The labels that are A/B splits: their variants (`- version: 1.2.0` / `weight: 90`); the
    /// label's entry in `labels` is the split's primary version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    splits: BTreeMap<LabelName, prompt_manager_core::Split>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    protected: BTreeSet<LabelName>,
    #[serde(default)]
    history: Vec<LabelEvent>,
}

/// What a folder holds, from one listing of it.
#[derive(Debug)]
struct Folder {
    dir: PathBuf,
    /// Version files by number: a prompt folder has at least one.
    versions: BTreeMap<Version, PathBuf>,
    labels: Option<PathBuf>,
    /// Sub-folders that can hold prompts (their names are valid id segments).
    children: Vec<String>,
}

impl Folder {
    fn latest(&self) -> Option<&Version> {
        self.versions.keys().next_back()
    }
}

impl DirStore {
    /// Opens the store in `root`, creating the folder if needed, finishes any write a crash
    /// interrupted and removes the temporary files of writes killed before they committed.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| io_error("creating the store folder", &root, e))?;
        if !root.is_dir() {
            return Err(Error::Config(format!(
                "dir:// store `{}` is not a folder",
                root.display()
            )));
        }
        let lock_path = root.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_error("opening the lock file", &lock_path, e))?;
        let store = Self {
            audit: AuditLog::new(&root),
            root,
            lock: Mutex::new(lock),
            versions: FileCache::default(),
            labels: FileCache::default(),
            folders: Mutex::new(HashMap::new()),
        };
        // Recovers an interrupted write, then drops what writers killed before their commit left.
        let lock = store.write_lock()?;
        files::remove_orphan_temps(&store.root);
        drop(lock);
        Ok(store)
    }

    /// The store's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the write lock (this process, then the lock file) and finishes an interrupted write.
    fn write_lock(&self) -> Result<WriteLock<'_>> {
        let file = self
            .lock
            .lock()
            .map_err(|_| Error::backend(BACKEND, "the write lock is poisoned: a writer panicked"))?;
        file.lock()
            .map_err(|e| io_error("locking", &self.root.join(LOCK_FILE), e))?;
        let guard = WriteLock { file };
        Journal::recover(&self.root)?;
        Ok(guard)
    }

    fn dir_of(&self, id: &PromptId) -> Result<PathBuf> {
        // The id grammar refuses `..`, absolute paths, control characters and segments ending in
        // `.yaml` (which would read as this store's own files), for every backend alike.
        Ok(self.root.join(id.as_str()))
    }

    /// Lists the prompt folder of `id`; `None` when it holds no version.
    fn folder(&self, id: &PromptId) -> Result<Option<Arc<Folder>>> {
        let dir = self.dir_of(id)?;
        Ok(self.read_folder(&dir)?.filter(|f| !f.versions.is_empty()))
    }

    /// Lists `dir` (`None` when it does not exist), reusing the last listing while the folder's
    /// modification time is unchanged. A listing is kept only once the folder has been still for
    /// a while ([`SETTLED`]): file systems stamp times coarsely, and a change in the same tick as
    /// the listing would otherwise go unseen (git's "racy clean" rule).
    fn read_folder(&self, dir: &Path) -> Result<Option<Arc<Folder>>> {
        let modified = match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => meta.modified().ok(),
            Ok(_) => return Ok(None),
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(None),
            Err(e) => return Err(io_error("listing", dir, e)),
        };
        if let (Some(modified), Ok(folders)) = (modified, self.folders.lock())
            && let Some((stamp, folder)) = folders.get(dir)
            && *stamp == modified
        {
            return Ok(Some(Arc::clone(folder)));
        }
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => return Ok(None),
            Err(e) => return Err(io_error("listing", dir, e)),
        };
        let mut folder = Folder {
            dir: dir.to_path_buf(),
            versions: BTreeMap::new(),
            labels: None,
            children: Vec::new(),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_error("listing", dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name == LABELS_FILE {
                folder.labels = Some(entry.path());
            } else if let Some(version) = version_file_name(name) {
                folder.versions.insert(version, entry.path());
            } else if !name.starts_with(['.', '_'])
                && !name.ends_with(".yaml")
                && entry.file_type().is_ok_and(|t| t.is_dir())
                && PromptId::new(name).is_ok()
            {
                folder.children.push(name.to_owned());
            }
        }
        let folder = Arc::new(folder);
        let settled = modified.filter(|m| SystemTime::now().duration_since(*m).is_ok_and(|age| age > SETTLED));
        if let (Some(modified), Ok(mut folders)) = (settled, self.folders.lock()) {
            if folders.len() >= CACHE_LIMIT {
                folders.clear();
            }
            folders.insert(dir.to_path_buf(), (modified, Arc::clone(&folder)));
        }
        Ok(Some(folder))
    }

    fn existing(&self, id: &PromptId) -> Result<Arc<Folder>> {
        self.folder(id)?.ok_or_else(|| Error::prompt_not_found(id))
    }

    /// The version stored in `path`, checked against its content hash: what loads serve.
    fn verified_version(&self, id: &PromptId, path: &Path, number: &Version) -> Result<Arc<PromptVersion>> {
        let parsed = self.load_version(id, path, number)?;
        match &parsed.mismatch {
            None => Ok(Arc::clone(&parsed.version)),
            Some(actual) => Err(Error::ContentHashMismatch(Box::new(HashMismatch {
                id: id.clone(),
                version: number.clone(),
                location: display(path),
                expected: parsed.version.content_hash.clone(),
                actual: actual.clone(),
            }))),
        }
    }

    /// The version stored in `path`, parsed (once per change of the file) but not refused when
    /// its content no longer matches its hash: listings and histories show such a version, and
    /// only loading its content fails ([`Self::verified_version`]).
    fn load_version(&self, id: &PromptId, path: &Path, number: &Version) -> Result<Arc<ParsedVersion>> {
        self.versions.get(path, |text, modified| {
            let file = display(path);
            let parsed: VersionFile = yaml::parse(text, &file)?;
            if parsed.prompt.id != *id {
                return Err(Error::InvalidFile {
                    file,
                    line: None,
                    column: None,
                    message: format!(
                        "the file names prompt `{}` but lies in the folder of `{id}`",
                        parsed.prompt.id
                    ),
                });
            }
            if let Some(declared) = parsed.version.as_ref().filter(|v| *v != number) {
                return Err(Error::InvalidFile {
                    file,
                    line: None,
                    column: None,
                    message: format!("the file says version {declared} but is named {number}.yaml"),
                });
            }
            let actual = parsed.prompt.content_hash();
            let (content_hash, mismatch) = match parsed.content_hash {
                Some(recorded) if recorded != actual => (recorded, Some(actual)),
                _ => (actual, None),
            };
            Ok(ParsedVersion {
                version: Arc::new(PromptVersion {
                    content_hash,
                    prompt: parsed.prompt,
                    version: number.clone(),
                    changelog: parsed.changelog,
                    author: parsed.author,
                    created_at: parsed.created_at.unwrap_or_else(|| modified.into()),
                    parent: parsed.parent,
                }),
                mismatch,
            })
        })
    }

    fn load_from(&self, id: &PromptId, folder: &Folder, number: Option<&Version>) -> Result<Arc<PromptVersion>> {
        let (number, path) = match number {
            None => folder
                .versions
                .iter()
                .next_back()
                .ok_or_else(|| Error::prompt_not_found(id))?,
            Some(number) => folder
                .versions
                .get_key_value(number)
                .ok_or_else(|| Error::NotFound(NotFound::Version(id.clone(), number.clone())))?,
        };
        self.verified_version(id, path, number)
    }

    /// The labels file of a folder, or what a hand-written folder without one means.
    fn labels_of(&self, id: &PromptId, folder: &Folder) -> Result<Arc<LabelsFile>> {
        match &folder.labels {
            Some(path) => self.labels.get(path, |text, _| yaml::parse(text, &display(path))),
            None => {
                let first = folder.versions.iter().next();
                let last = folder.versions.iter().next_back();
                let (Some((first_v, first_p)), Some((last_v, last_p))) = (first, last) else {
                    return Err(Error::prompt_not_found(id));
                };
                Ok(Arc::new(LabelsFile {
                    status: PromptStatus::Active,
                    created_at: self.load_version(id, first_p, first_v)?.version.created_at,
                    updated_at: self.load_version(id, last_p, last_v)?.version.created_at,
                    labels: BTreeMap::new(),
                    splits: BTreeMap::new(),
                    protected: BTreeSet::new(),
                    history: Vec::new(),
                }))
            }
        }
    }

    fn summary_of(&self, id: &PromptId, folder: &Folder) -> Result<PromptSummary> {
        // A summary shows no content: a latest version that fails its hash check is still listed
        // (loading it is refused), so one edited file does not hide the others.
        let (number, path) = folder
            .versions
            .iter()
            .next_back()
            .ok_or_else(|| Error::prompt_not_found(id))?;
        let parsed = self.load_version(id, path, number)?;
        let latest = &parsed.version;
        let labels = self.labels_of(id, folder)?;
        let metadata = &latest.prompt.metadata;
        Ok(PromptSummary {
            id: id.clone(),
            status: labels.status,
            format: latest.prompt.format,
            latest_version: latest.version.clone(),
            version_count: folder.versions.len() as u64,
            labels: labels.labels.clone(),
            splits: labels.splits.clone(),
            protected: labels.protected.clone(),
            tags: metadata.tags.clone(),
            description: metadata.description.clone(),
            created_at: labels.created_at,
            updated_at: labels.updated_at,
        })
    }

    /// Checks `requests` in order against the current files, then writes them all in one journal.
    fn save_now(&self, requests: Vec<SaveRequest>, now: DateTime<Utc>) -> Result<Vec<LabelEvent>> {
        let _lock = self.write_lock()?;
        let mut pending: BTreeMap<PromptId, Pending> = BTreeMap::new();
        let mut events = Vec::new();
        let mut records = Vec::new();
        for request in requests {
            let id = request.version.prompt.id.clone();
            if !pending.contains_key(&id) {
                let state = match self.folder(&id)? {
                    Some(folder) => Some(State {
                        latest: folder.latest().cloned(),
                        labels: (*self.labels_of(&id, &folder)?).clone(),
                    }),
                    None => None,
                };
                let dir = self.dir_of(&id)?;
                pending.insert(
                    id.clone(),
                    Pending {
                        state,
                        dir,
                        files: Vec::new(),
                    },
                );
            }
            let Some(entry) = pending.get_mut(&id) else {
                continue; // inserted just above
            };
            let latest = entry.state.as_ref().and_then(|s| s.latest.clone());
            rules::check_save(&request, latest.as_ref())?;
            if let Some(state) = &entry.state {
                rules::check_save_protection(&request, &state.labels.protected)?;
            }
            let state = entry.state.get_or_insert_with(|| State {
                latest: None,
                labels: LabelsFile {
                    status: request.status,
                    created_at: now,
                    updated_at: now,
                    labels: BTreeMap::new(),
                    splits: BTreeMap::new(),
                    protected: BTreeSet::new(),
                    history: Vec::new(),
                },
            });
            let new_events = rules::move_labels(&mut state.labels.labels, &mut state.labels.splits, &request, now);
            records.extend(rules::save_records(&request, latest.as_ref(), &new_events));
            state.labels.history.extend(new_events.iter().cloned());
            state.labels.updated_at = now;
            state.latest = Some(request.version.version.clone());
            events.extend(new_events);
            let version = request.version;
            let file = VersionFile {
                version: Some(version.version.clone()),
                changelog: version.changelog,
                author: version.author,
                created_at: Some(version.created_at),
                parent: version.parent,
                content_hash: Some(version.content_hash),
                prompt: version.prompt,
            };
            let path = entry.dir.join(format!("{}.yaml", version.version));
            entry.files.push((path, yaml::render(&file, "a version")?.into_bytes()));
        }

        // Everything checked: write the temporary files, then commit them together with the
        // audit entries. Version files are renamed before labels files, so that a reader never
        // finds a label pointing at a version not yet in place.
        let mut new_dirs = BTreeSet::new();
        let mut writes = Vec::new();
        let mut labels = Vec::new();
        for entry in pending.into_values() {
            files::create_dirs(&self.root, &entry.dir, &mut new_dirs)?;
            if let Some(state) = &entry.state {
                labels.push((entry.dir.join(LABELS_FILE), labels_text(&state.labels)?.into_bytes()));
            }
            writes.extend(entry.files);
        }
        writes.extend(labels);
        self.commit(writes, Journal::default(), new_dirs, records, now)?;
        Ok(events)
    }

    /// Commits `writes` (target, content) and the audit entries of `records` as one journaled
    /// write, with what `journal` already holds (removals); `new_dirs` are folders created for
    /// it, to sync first. Call with the write lock held.
    fn commit(
        &self,
        mut writes: Vec<(PathBuf, Vec<u8>)>,
        mut journal: Journal,
        mut new_dirs: BTreeSet<PathBuf>,
        records: Vec<AuditRecord>,
        now: DateTime<Utc>,
    ) -> Result<Vec<AuditEntry>> {
        if !records.is_empty() {
            files::create_dirs(&self.root, self.audit.dir(), &mut new_dirs)?;
        }
        let entries = self.audit.prepare(records, now, &mut writes)?;
        files::sync_dirs(&new_dirs)?;
        let temps = files::write_temps(&writes)?;
        for (temp, (target, _)) in temps.iter().zip(&writes) {
            journal.rename(&self.root, temp, target);
        }
        journal.commit(&self.root)?;
        self.audit.committed(&entries);
        Ok(entries)
    }

    /// Rewrites the labels file of `id` after `change` accepts the current one, with the audit
    /// entries it returns, in one journaled write.
    fn update_labels<T>(
        &self,
        id: &PromptId,
        now: DateTime<Utc>,
        change: impl FnOnce(&Folder, &mut LabelsFile) -> Result<Option<(T, Vec<AuditRecord>)>>,
    ) -> Result<Option<T>> {
        let _lock = self.write_lock()?;
        let folder = self.existing(id)?;
        let mut labels = (*self.labels_of(id, &folder)?).clone();
        let Some((outcome, records)) = change(&folder, &mut labels)? else {
            return Ok(None);
        };
        let writes = vec![(folder.dir.join(LABELS_FILE), labels_text(&labels)?.into_bytes())];
        self.commit(writes, Journal::default(), BTreeSet::new(), records, now)?;
        Ok(Some(outcome))
    }

    fn delete_now(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        let now = Utc::now();
        let _lock = self.write_lock()?;
        let folder = self.existing(id)?;
        let labels = self.labels_of(id, &folder)?;
        let latest = folder.latest().ok_or_else(|| Error::prompt_not_found(id))?;
        let record = rules::delete_record(id, latest, folder.versions.len() as u64, &labels.labels, request.actor);
        let mut journal = Journal::default();
        for path in folder.versions.values().chain(&folder.labels) {
            journal.remove(&self.root, path);
        }
        // Then the folder and the parents this prompt alone kept alive (other prompts' folders stay).
        let mut dir = folder.dir.as_path();
        while dir != self.root {
            journal.remove_dir_if_empty(&self.root, dir);
            dir = dir.parent().unwrap_or(&self.root);
        }
        self.commit(Vec::new(), journal, BTreeSet::new(), vec![record], now)?;
        Ok(())
    }

    /// Every prompt folder under `dir` (whose id is `prefix`), in no particular order.
    fn walk(&self, dir: &Path, prefix: &str, out: &mut Vec<(PromptId, Arc<Folder>)>) -> Result<()> {
        let Some(folder) = self.read_folder(dir)? else {
            return Ok(());
        };
        for name in &folder.children {
            let child = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            self.walk(&dir.join(name), &child, out)?;
        }
        if !folder.versions.is_empty()
            && let Ok(id) = PromptId::new(prefix)
        {
            out.push((id, folder));
        }
        Ok(())
    }

    fn list_now(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        if query.limit == Some(0) {
            return rules::page([], query); // before walking the folder
        }
        let prefix = query.id_prefix.as_deref().unwrap_or("");
        // Start at the deepest folder the prefix names in full (`support/tri` → `support/`).
        let start = match prefix.rfind('/') {
            Some(end) if PromptId::new(&prefix[..end]).is_ok() => &prefix[..end],
            _ => "",
        };
        let mut found = Vec::new();
        self.walk(&self.root.join(start), start, &mut found)?;
        found.retain(|(id, _)| id.starts_with(prefix) && query.cursor.as_deref().is_none_or(|c| id.as_str() > c));
        found.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        let summaries = found
            .iter()
            .filter_map(|(id, folder)| match self.summary_of(id, folder) {
                // Deleted between the walk and now.
                Err(Error::NotFound(_)) => None,
                other => Some(other),
            });
        rules::page(summaries, query)
    }
}

/// The prompt's state while a batch of saves is checked.
struct State {
    latest: Option<Version>,
    labels: LabelsFile,
}

/// A prompt touched by a batch: its state and the version files to write.
struct Pending {
    state: Option<State>,
    dir: PathBuf,
    files: Vec<(PathBuf, Vec<u8>)>,
}

/// Holds the in-process lock and the file lock; dropping it releases both.
struct WriteLock<'a> {
    file: MutexGuard<'a, File>,
}

impl Drop for WriteLock<'_> {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The prompt and declared version of a version file's text (see [`crate::source`]).
pub(crate) fn parse_version_file(text: &str, file: &str) -> Result<(Prompt, Option<Version>)> {
    let parsed: VersionFile = yaml::parse(text, file)?;
    Ok((parsed.prompt, parsed.version))
}

/// The labels of a `_labels.yaml` text (see [`crate::source`]).
pub(crate) fn parse_labels_file(text: &str, file: &str) -> Result<BTreeMap<LabelName, Version>> {
    let parsed: LabelsFile = yaml::parse(text, file)?;
    Ok(parsed.labels)
}

/// `1.2.0.yaml` → 1.2.0; anything else (hidden files, `_labels.yaml`, other names) → `None`.
fn version_file_name(name: &str) -> Option<Version> {
    let stem = name.strip_suffix(".yaml")?;
    if stem.starts_with(['.', '_']) {
        return None;
    }
    Version::parse(stem).ok()
}

fn labels_text(labels: &LabelsFile) -> Result<String> {
    let body = yaml::render(labels, "the labels file")?;
    Ok(format!(
        "# Status, labels and label history of this prompt, kept by prompt-manager.\n{body}"
    ))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

impl std::fmt::Debug for DirStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirStore").field("root", &self.root).finish()
    }
}

#[async_trait]
impl StorageBackend for DirStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        self.save_now(vec![request], Utc::now())
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        self.save_now(requests, Utc::now())
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        let folder = self.existing(id)?;
        self.load_from(id, &folder, version)
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        self.delete_now(id, request)
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        query.validate()?;
        self.list_now(query)
    }

    async fn exists(&self, id: &PromptId) -> Result<bool> {
        Ok(self.folder(id)?.is_some())
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        let folder = self.existing(id)?;
        self.summary_of(id, &folder)
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        let now = Utc::now();
        self.update_labels(id, now, |_, labels| {
            rules::check_status(id, labels.status, &change)?;
            let record = rules::status_record(id, labels.status, &change);
            labels.status = change.status;
            labels.updated_at = labels.updated_at.max(now);
            Ok(Some(((), vec![record])))
        })?;
        Ok(())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        query.validate()?;
        self.audit.read(query)
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        rules::check_external(&record)?;
        let now = Utc::now();
        let _lock = self.write_lock()?;
        let entries = self.commit(Vec::new(), Journal::default(), BTreeSet::new(), vec![record], now)?;
        entries
            .into_iter()
            .next()
            .ok_or_else(|| Error::backend(BACKEND, "appending an audit entry produced none"))
    }
}

#[async_trait]
impl VersionStore for DirStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        let folder = self.existing(id)?;
        folder
            .versions
            .iter()
            .rev()
            .map(|(number, path)| Ok(self.load_version(id, path, number)?.version.info()))
            .collect()
    }

    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        let folder = self.existing(id)?;
        Ok(self.labels_of(id, &folder)?.labels.clone())
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        self.assign_label(id, change.into()).await
    }

    async fn assign_label(
        &self,
        id: &PromptId,
        change: prompt_manager_core::AssignmentChange,
    ) -> Result<Option<LabelEvent>> {
        let now = Utc::now();
        self.update_labels(id, now, |folder, labels| {
            let current = rules::current_target(&labels.labels, &labels.splits, &change.label);
            let authority = change.authority;
            let Some(event) = rules::check_assignment(
                id,
                change,
                current,
                &labels.protected,
                |v| folder.versions.contains_key(v),
                now,
            )?
            else {
                return Ok(None);
            };
            rules::apply_label_event(&mut labels.labels, &mut labels.splits, &event);
            labels.history.push(event.clone());
            labels.updated_at = now;
            let record = rules::label_record(id, &event, authority);
            Ok(Some((event, vec![record])))
        })
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        let now = Utc::now();
        let changed = self.update_labels(id, now, |_, labels| {
            let Some(record) = rules::check_protection_change(id, &mut labels.protected, &change)? else {
                return Ok(None);
            };
            labels.updated_at = labels.updated_at.max(now);
            Ok(Some(((), vec![record])))
        })?;
        Ok(changed.is_some())
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        let folder = self.existing(id)?;
        Ok(self
            .labels_of(id, &folder)?
            .history
            .iter()
            .filter(|e| label.is_none_or(|l| e.label == *l))
            .cloned()
            .collect())
    }
}

/// Parsed files, reused while the file is unchanged (same size, modification time and inode:
/// every write replaces the file, so a new inode).
struct FileCache<T> {
    entries: Mutex<HashMap<PathBuf, (Stamp, Arc<T>)>>,
}

impl<T> Default for FileCache<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Self {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let inode = 0;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode,
        }
    }
}

impl<T> FileCache<T> {
    /// The parsed content of `path`, parsing it with `parse(text, modified)` when it changed.
    fn get(&self, path: &Path, parse: impl FnOnce(&str, SystemTime) -> Result<T>) -> Result<Arc<T>> {
        let meta = fs::metadata(path).map_err(|e| io_error("reading", path, e))?;
        let stamp = Stamp::of(&meta);
        if let Ok(entries) = self.entries.lock()
            && let Some((cached, value)) = entries.get(path)
            && *cached == stamp
        {
            return Ok(Arc::clone(value));
        }
        // A version file may be edited by hand: a regular file within the size limit, only.
        let text = crate::library::read_text_file(path).map_err(|e| io_error("reading", path, e))?;
        let value = Arc::new(parse(&text, stamp.modified.unwrap_or(SystemTime::UNIX_EPOCH))?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_LIMIT {
                entries.clear();
            }
            entries.insert(path.to_path_buf(), (stamp, Arc::clone(&value)));
        }
        Ok(value)
    }
}
