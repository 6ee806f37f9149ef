//! [`MemoryStore`], the reference backend: every prompt, and the audit log, behind one lock.
//!
//! It defines by example what the trait docs in `prompt_manager_core::store` mean; the other
//! backends must behave the same (the conformance suite checks it). It implements only the
//! required methods (and `save_all`, to be all-or-nothing), so the suite checks the traits'
//! derived ones (`exists`, `labels`, `get_label`, `resolve`) through it. Nothing here survives
//! the process, and nothing here does I/O: the async methods run to completion without awaiting.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::usage::{Bucket, UsageCounts, UsageKey, UsageQuery, UsageRow};
use prompt_manager_core::{
    AssignmentChange, AuditEntry, AuditQuery, AuditRecord, DeleteRequest, Error, GENESIS_HASH, LabelChange, LabelEvent,
    LabelName, ListQuery, NotFound, Page, PromptId, PromptStatus, PromptSummary, PromptVersion, ProtectionChange,
    Result, SaveRequest, Split, StatusChange, StorageBackend, VersionInfo, VersionStore, async_trait, seal_all,
};

use crate::rules;

const BACKEND: &str = "memory";

/// An in-memory store: fast, complete, and gone when the process ends.
///
/// Use it in tests, examples and short-lived tools (`memory://`). Writes are atomic: each one
/// takes the single write lock, checks everything, then mutates — the prompts and the audit log
/// together — so a refused write changes nothing and two compare-and-set writers never both win.
/// Loaded versions are shared (`Arc`), never copied.
///
/// Content hashes are checked when a version is saved (as every backend does): a stored version
/// is an immutable `Arc` that nothing outside the store can reach, so unlike the file and SQL
/// stores there is nothing that could change it before a load, and loads do not hash again.
///
/// ```
/// use prompt_manager_storage::MemoryStore;
/// use prompt_manager_core::{ListQuery, StorageBackend};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> prompt_manager_core::Result<()> {
/// let store = MemoryStore::new();
/// assert!(store.list(&ListQuery::default()).await?.items.is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct MemoryStore {
    state: RwLock<State>,
}

/// Everything the store holds, behind its one lock.
#[derive(Debug, Default)]
struct State {
    prompts: BTreeMap<PromptId, Record>,
    audit: Vec<AuditEntry>,
    /// Usage rows by prompt, bucket width, start, version and label (kept when a prompt is
    /// deleted, as the SQL stores keep them).
    usage: BTreeMap<(PromptId, Bucket, i64, Version, Option<LabelName>), UsageCounts>,
}

impl State {
    /// Seals `records` after the last entry and appends them.
    fn append(&mut self, records: Vec<AuditRecord>, now: DateTime<Utc>) -> Vec<AuditEntry> {
        let head = self
            .audit
            .last()
            .map_or_else(|| (0, GENESIS_HASH.to_owned()), |e| (e.seq, e.hash.clone()));
        let entries = seal_all(records, head, now);
        self.audit.extend(entries.iter().cloned());
        entries
    }
}

/// Everything stored about one prompt. Invariant: `versions` is never empty (a record is only
/// created by a save, and versions are only removed with the whole record).
#[derive(Debug, Clone)]
struct Record {
    status: PromptStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    versions: BTreeMap<Version, Arc<PromptVersion>>,
    labels: BTreeMap<LabelName, Version>,
    splits: BTreeMap<LabelName, Split>,
    protected: BTreeSet<LabelName>,
    history: Vec<LabelEvent>,
}

impl Record {
    fn latest(&self, id: &PromptId) -> Result<&Arc<PromptVersion>> {
        self.versions
            .values()
            .next_back()
            .ok_or_else(|| Error::backend(BACKEND, format!("prompt `{id}` has no versions (corrupt record)")))
    }

    fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        let latest = self.latest(id)?;
        let metadata = &latest.prompt.metadata;
        Ok(PromptSummary {
            id: id.clone(),
            status: self.status,
            format: latest.prompt.format,
            latest_version: latest.version.clone(),
            version_count: self.versions.len() as u64,
            labels: self.labels.clone(),
            splits: self.splits.clone(),
            protected: self.protected.clone(),
            tags: metadata.tags.clone(),
            description: metadata.description.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.state.read().map_err(|_| poisoned())
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, State>> {
        self.state.write().map_err(|_| poisoned())
    }

    fn with_record<T>(&self, id: &PromptId, f: impl FnOnce(&Record) -> Result<T>) -> Result<T> {
        let state = self.read()?;
        let record = state.prompts.get(id).ok_or_else(|| Error::prompt_not_found(id))?;
        f(record)
    }

    /// Applies every request to copies of the records they touch, and puts the copies in place
    /// (with the audit entries) only when all succeeded: a refused request leaves the store as
    /// it was.
    fn save_all_now(&self, requests: Vec<SaveRequest>, now: DateTime<Utc>) -> Result<Vec<LabelEvent>> {
        let mut state = self.write()?;
        let mut scratch = BTreeMap::new();
        for request in &requests {
            let id = &request.version.prompt.id;
            if let Some(record) = state.prompts.get(id) {
                scratch.entry(id.clone()).or_insert_with(|| record.clone());
            }
        }
        let mut events = Vec::new();
        let mut records = Vec::new();
        for request in requests {
            let (new_events, new_records) = apply_save(&mut scratch, request, now)?;
            events.extend(new_events);
            records.extend(new_records);
        }
        state.prompts.extend(scratch);
        state.append(records, now);
        Ok(events)
    }

    fn set_label_now(&self, id: &PromptId, change: AssignmentChange, now: DateTime<Utc>) -> Result<Option<LabelEvent>> {
        let mut state = self.write()?;
        let record = state.prompts.get_mut(id).ok_or_else(|| Error::prompt_not_found(id))?;
        let current = rules::current_target(&record.labels, &record.splits, &change.label);
        let authority = change.authority;
        let event = rules::check_assignment(
            id,
            change,
            current,
            &record.protected,
            |v| record.versions.contains_key(v),
            now,
        )?;
        if let Some(event) = &event {
            rules::apply_label_event(&mut record.labels, &mut record.splits, event);
            record.history.push(event.clone());
            record.updated_at = now;
            state.append(vec![rules::label_record(id, event, authority)], now);
        }
        Ok(event)
    }

    fn list_now(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        let prefix = query.id_prefix.as_deref().unwrap_or("");
        // Ids sharing a prefix are contiguous in id order, so start at the later of the cursor and
        // the prefix, and stop at the first id past the prefix.
        let start = match query.cursor.as_deref() {
            Some(cursor) if cursor >= prefix => Bound::Excluded(cursor),
            _ => Bound::Included(prefix),
        };
        let state = self.read()?;
        let in_range = state
            .prompts
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(id, _)| id.starts_with(prefix))
            .map(|(id, record)| record.summary(id));
        rules::page(in_range, query)
    }
}

/// Checks one save against `prompts` and applies it; returns its label events and audit
/// records. Everything is checked before anything changes, so a refused save leaves `prompts`
/// as it was.
fn apply_save(
    prompts: &mut BTreeMap<PromptId, Record>,
    request: SaveRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<LabelEvent>, Vec<AuditRecord>)> {
    // The version carries its own id; there is no second one in the request to disagree with.
    let id = request.version.prompt.id.clone();
    let current = prompts.get(&id);
    let latest = current
        .map(|record| record.latest(&id).map(|v| v.version.clone()))
        .transpose()?;
    rules::check_save(&request, latest.as_ref())?;
    if let Some(record) = current {
        rules::check_save_protection(&request, &record.protected)?;
    }

    // Compute the label events against the current state before touching it.
    let mut targets = current.map(|r| r.labels.clone()).unwrap_or_default();
    let mut splits = current.map(|r| r.splits.clone()).unwrap_or_default();
    let events = rules::move_labels(&mut targets, &mut splits, &request, now);
    let records = rules::save_records(&request, latest.as_ref(), &events);

    let record = prompts.entry(id).or_insert_with(|| Record {
        status: request.status,
        created_at: now,
        updated_at: now,
        versions: BTreeMap::new(),
        labels: BTreeMap::new(),
        splits: BTreeMap::new(),
        protected: BTreeSet::new(),
        history: Vec::new(),
    });
    record
        .versions
        .insert(request.version.version.clone(), Arc::new(request.version));
    record.labels = targets;
    record.splits = splits;
    record.history.extend(events.iter().cloned());
    record.updated_at = now;
    Ok((events, records))
}

fn poisoned() -> Error {
    Error::backend(
        BACKEND,
        "the store's lock is poisoned: a thread panicked while writing; the data may be inconsistent",
    )
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The content can be large; the number of prompts is what a log needs.
        let mut s = f.debug_struct("MemoryStore");
        match self.state.try_read() {
            Ok(state) => s.field("prompts", &state.prompts.len()),
            Err(_) => s.field("prompts", &format_args!("<locked>")),
        };
        s.finish()
    }
}

#[async_trait]
impl StorageBackend for MemoryStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        self.save_all_now(vec![request], Utc::now())
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        self.save_all_now(requests, Utc::now())
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        self.with_record(id, |record| match version {
            None => record.latest(id).cloned(),
            Some(v) => record
                .versions
                .get(v)
                .cloned()
                .ok_or_else(|| Error::NotFound(NotFound::Version(id.clone(), v.clone()))),
        })
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        let now = Utc::now();
        let mut state = self.write()?;
        let record = state.prompts.get(id).ok_or_else(|| Error::prompt_not_found(id))?;
        let latest = record.latest(id)?.version.clone();
        let audit = rules::delete_record(id, &latest, record.versions.len() as u64, &record.labels, request.actor);
        state.prompts.remove(id);
        state.append(vec![audit], now);
        Ok(())
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        query.validate()?;
        self.list_now(query)
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        self.with_record(id, |record| record.summary(id))
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        let now = Utc::now();
        let mut state = self.write()?;
        let record = state.prompts.get_mut(id).ok_or_else(|| Error::prompt_not_found(id))?;
        rules::check_status(id, record.status, &change)?;
        let audit = rules::status_record(id, record.status, &change);
        record.status = change.status;
        record.updated_at = now;
        state.append(vec![audit], now);
        Ok(())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        query.validate()?;
        let state = self.read()?;
        Ok(rules::audit_page(&state.audit, query))
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        rules::check_external(&record)?;
        let now = Utc::now();
        let mut state = self.write()?;
        let entries = state.append(vec![record], now);
        entries
            .into_iter()
            .next()
            .ok_or_else(|| Error::backend(BACKEND, "appending an audit entry produced none"))
    }

    fn records_usage(&self) -> bool {
        true
    }

    async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        let mut state = self.write()?;
        for row in rows {
            let key = (
                row.key.prompt_id.clone(),
                row.bucket,
                row.start,
                row.key.version.clone(),
                row.key.label.clone(),
            );
            state.usage.entry(key).or_default().add(&row.counts);
        }
        Ok(())
    }

    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        let state = self.read()?;
        Ok(state
            .usage
            .iter()
            .filter(|((id, bucket, start, _, _), _)| {
                *id == query.prompt_id && *bucket == query.bucket && (query.from..query.to).contains(start)
            })
            .map(|((id, bucket, start, version, label), counts)| UsageRow {
                key: UsageKey {
                    prompt_id: id.clone(),
                    version: version.clone(),
                    label: label.clone(),
                },
                bucket: *bucket,
                start: *start,
                counts: counts.clone(),
            })
            .collect())
    }

    async fn prune_usage(&self, bucket: Bucket, before: i64) -> Result<u64> {
        let mut state = self.write()?;
        let len = state.usage.len();
        state
            .usage
            .retain(|(_, b, start, _, _), _| *b != bucket || *start >= before);
        Ok((len - state.usage.len()) as u64)
    }
}

#[async_trait]
impl VersionStore for MemoryStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        self.with_record(id, |record| {
            Ok(record.versions.values().rev().map(|v| v.info()).collect())
        })
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        self.set_label_now(id, change.into(), Utc::now())
    }

    async fn assign_label(&self, id: &PromptId, change: AssignmentChange) -> Result<Option<LabelEvent>> {
        self.set_label_now(id, change, Utc::now())
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        let now = Utc::now();
        let mut state = self.write()?;
        let record = state.prompts.get_mut(id).ok_or_else(|| Error::prompt_not_found(id))?;
        let mut protected = record.protected.clone();
        let Some(audit) = rules::check_protection_change(id, &mut protected, &change)? else {
            return Ok(false);
        };
        record.protected = protected;
        record.updated_at = now;
        state.append(vec![audit], now);
        Ok(true)
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        self.with_record(id, |record| {
            Ok(record
                .history
                .iter()
                .filter(|e| label.is_none_or(|l| e.label == *l))
                .cloned()
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use prompt_manager_core::{Expect, Prompt};

    fn version(id: &str, number: &str, template: &str) -> PromptVersion {
        let prompt = Prompt::text(id, template).unwrap();
        PromptVersion {
            content_hash: prompt.content_hash(),
            prompt,
            version: Version::parse(number).unwrap(),
            changelog: String::new(),
            author: None,
            created_at: Utc::now(),
            parent: None,
        }
    }

    fn request(id: &str, number: &str, expected: Expect, labels: &[&str]) -> SaveRequest {
        SaveRequest {
            version: version(id, number, &format!("{id} {number}")),
            expected,
            status: PromptStatus::Draft,
            labels: labels.iter().map(|l| LabelName::new(l).unwrap()).collect(),
            actor: Some("tester".into()),
            authority: prompt_manager_core::Authority::User,
        }
    }

    fn id(s: &str) -> PromptId {
        PromptId::new(s).unwrap()
    }

    #[tokio::test]
    async fn saves_and_loads_latest_and_exact_versions() {
        let store = MemoryStore::new();
        store.save(request("a", "1.0.0", Expect::Absent, &[])).await.unwrap();
        store
            .save(request("a", "1.1.0", Expect::Version(Version::new(1, 0, 0)), &[]))
            .await
            .unwrap();
        assert_eq!(store.load(&id("a"), None).await.unwrap().version, Version::new(1, 1, 0));
        let first = store.load(&id("a"), Some(&Version::new(1, 0, 0))).await.unwrap();
        assert_eq!(first.prompt.template.sources(), ["a 1.0.0"]);
    }

    #[tokio::test]
    async fn a_refused_save_records_no_label() {
        let store = MemoryStore::new();
        store.save(request("a", "2.0.0", Expect::Absent, &[])).await.unwrap();
        let err = store
            .save(request("a", "1.0.0", Expect::Any, &["production"]))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::VersionNotIncreasing { .. }), "{err:?}");
        assert!(store.labels(&id("a")).await.unwrap().is_empty());
        assert!(store.label_history(&id("a"), None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_label_named_twice_in_a_save_is_recorded_once() {
        let store = MemoryStore::new();
        let events = store
            .save(request("a", "1.0.0", Expect::Absent, &["production", "production"]))
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(store.label_history(&id("a"), None).await.unwrap(), events);
    }

    #[tokio::test]
    async fn list_accepts_any_cursor_and_combines_it_with_the_prefix() {
        let store = MemoryStore::new();
        for name in ["a/1", "b/1", "b/2", "b/3", "c/1"] {
            store.save(request(name, "1.0.0", Expect::Absent, &[])).await.unwrap();
        }
        let ids = |page: Page<PromptSummary>| page.items.into_iter().map(|s| s.id.to_string()).collect::<Vec<_>>();
        // A cursor before the prefix starts at the prefix; one inside it continues after it.
        let query = |cursor: &str| ListQuery {
            id_prefix: Some("b/".into()),
            cursor: Some(cursor.into()),
            ..ListQuery::default()
        };
        assert_eq!(
            ids(store.list(&query("A not an id")).await.unwrap()),
            ["b/1", "b/2", "b/3"]
        );
        assert_eq!(ids(store.list(&query("b/1")).await.unwrap()), ["b/2", "b/3"]);
        assert!(store.list(&query("zzz")).await.unwrap().items.is_empty());

        let empty = store
            .list(&ListQuery {
                limit: Some(0),
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(
            empty,
            Page {
                items: Vec::new(),
                next_cursor: None
            }
        );

        let exact = store
            .list(&ListQuery {
                id_prefix: Some("b/".into()),
                limit: Some(3),
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(exact.items.len(), 3);
        assert_eq!(exact.next_cursor, None, "a page that ends the listing has no cursor");
    }

    #[tokio::test]
    async fn a_poisoned_lock_is_a_backend_error_not_a_panic() {
        let store = Arc::new(MemoryStore::new());
        let poisoner = Arc::clone(&store);
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.state.write().unwrap();
            panic!("poison the lock on purpose");
        })
        .join();
        assert!(joined.is_err());
        let err = store.exists(&id("a")).await.unwrap_err();
        assert!(matches!(err, Error::Backend { backend: "memory", .. }), "{err:?}");
        let err = store
            .save(request("a", "1.0.0", Expect::Absent, &[]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("poisoned"), "{err}");
    }

    #[tokio::test]
    async fn debug_shows_the_size_not_the_content() {
        let store = MemoryStore::new();
        store.save(request("a", "1.0.0", Expect::Absent, &[])).await.unwrap();
        assert_eq!(format!("{store:?}"), "MemoryStore { prompts: 1 }");
    }
}
