//! The storage traits every backend implements: [`StorageBackend`] (prompts: atomic
//! compare-and-set saves, loads, listing, the audit log) and [`VersionStore`] (history, labels
//! and their protection), joined in [`Store`], with the requests their writes take. Backends
//! keep versions, labels, label history and the audit log together, so each write — with its
//! audit entries — is one transaction. The reference backend is
//! `prompt_manager_storage::MemoryStore`. The audit types themselves live in `crate::audit`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditQuery, AuditRecord};
use crate::error::{Error, NotFound, Result};
use crate::id::{LabelName, MAX_ID_LEN, PromptId, truncate_for_message};
use crate::model::{
    LabelEvent, LabelEventKind, LabelTarget, MAX_TAG_LEN, PromptStatus, PromptSummary, PromptVersion, Split,
    VersionInfo,
};
use crate::reference::{PromptRef, Selector, newest_matching};
use crate::usage::{Bucket, UsageQuery, UsageRow, usage_unsupported};

/// The most distinct tags one [`ListQuery`] may filter by.
pub const MAX_FILTER_TAGS: usize = 64;

/// The longest [`ListQuery::search`] text, in bytes.
pub const MAX_SEARCH_LEN: usize = 200;

/// `text` as [`ListQuery::search`] compares it: ASCII letters lowercased, every other character
/// as it is. Every backend folds both sides with this one rule (the SQL stores with `lower()`
/// under the `C` collation, which folds ASCII only), so they agree on every input; a Unicode
/// fold would differ between Rust, SQLite (ASCII only without ICU) and PostgreSQL (by locale).
pub fn fold_for_search(text: &str) -> String {
    text.to_ascii_lowercase()
}

/// Filters and pagination for [`StorageBackend::list`].
///
/// On the wire (the server's store protocol) it is a JSON object with these field names, each
/// optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    /// Only prompts whose latest version has every one of these tags.
    pub tags: Vec<String>,
    /// Only prompts with this status.
    pub status: Option<PromptStatus>,
    /// Only ids starting with this string (`support/`).
    pub id_prefix: Option<String>,
    /// Only prompts whose id, latest description or one of the latest tags contains this text,
    /// ignoring ASCII case ([`fold_for_search`]); every character, `%` and `_` included, is
    /// literal. At most [`MAX_SEARCH_LEN`] bytes; empty matches every prompt.
    pub search: Option<String>,
    /// Only prompts on which this label is set.
    pub label: Option<LabelName>,
    /// At most this many items (all when `None`).
    pub limit: Option<usize>,
    /// Continue after this cursor (from [`Page::next_cursor`]).
    pub cursor: Option<String>,
}

impl ListQuery {
    /// Checks that the filters are within bounds: at most [`MAX_FILTER_TAGS`] distinct tags, each
    /// at most [`MAX_TAG_LEN`] bytes (no stored tag is longer), and an id prefix and cursor of at
    /// most [`MAX_ID_LEN`] bytes (no id is longer), and a search text of at most
    /// [`MAX_SEARCH_LEN`] bytes. Every backend's
    /// [`list`](StorageBackend::list) and `PromptManager::list` call it, so an oversized filter is
    /// [`Error::InvalidQuery`] whichever store is behind, never a failure of the store.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidQuery { reason });
        let distinct = self.tags.iter().collect::<std::collections::BTreeSet<_>>().len();
        if distinct > MAX_FILTER_TAGS {
            return bad(format!(
                "tag: at most {MAX_FILTER_TAGS} distinct tags can be filtered by at once, this query has {distinct}"
            ));
        }
        if let Some(tag) = self.tags.iter().find(|t| t.len() > MAX_TAG_LEN) {
            return bad(format!(
                "tag `{}` is {} bytes; tags are at most {MAX_TAG_LEN}",
                truncate_for_message(tag).escape_debug(),
                tag.len()
            ));
        }
        if let Some(search) = self.search.as_deref().filter(|s| s.len() > MAX_SEARCH_LEN) {
            return bad(format!(
                "search `{}` is {} bytes; a search text is at most {MAX_SEARCH_LEN}",
                truncate_for_message(search).escape_debug(),
                search.len()
            ));
        }
        for (name, value) in [("prefix", &self.id_prefix), ("cursor", &self.cursor)] {
            if let Some(value) = value.as_deref().filter(|v| v.len() > MAX_ID_LEN) {
                return bad(format!(
                    "{name} `{}` is {} bytes; ids are at most {MAX_ID_LEN}",
                    truncate_for_message(value).escape_debug(),
                    value.len()
                ));
            }
        }
        Ok(())
    }

    /// The tags to filter by, each once, in order.
    pub fn distinct_tags(&self) -> Vec<&str> {
        let set: std::collections::BTreeSet<&str> = self.tags.iter().map(String::as_str).collect();
        set.into_iter().collect()
    }

    /// The search text folded for comparison ([`fold_for_search`]); `None` when there is no
    /// search or it is empty (which matches everything).
    pub fn folded_search(&self) -> Option<String> {
        self.search.as_deref().filter(|s| !s.is_empty()).map(fold_for_search)
    }

    /// Whether `summary` passes the filters (ignoring pagination). Backends that filter in memory use this.
    pub fn matches(&self, summary: &PromptSummary) -> bool {
        self.status.is_none_or(|s| s == summary.status)
            && self.id_prefix.as_deref().is_none_or(|p| summary.id.starts_with(p))
            && self.tags.iter().all(|t| summary.tags.contains(t))
            && self.label.as_ref().is_none_or(|l| summary.labels.contains_key(l))
            && self
                .folded_search()
                .is_none_or(|needle| search_matches(summary, &needle))
    }
}

/// Whether `summary`'s id, description or one of its tags contains `needle` (already folded).
fn search_matches(summary: &PromptSummary, needle: &str) -> bool {
    let contains = |text: &str| fold_for_search(text).contains(needle);
    contains(summary.id.as_str())
        || summary.description.as_deref().is_some_and(contains)
        || summary.tags.iter().any(|t| contains(t))
}

/// One page of results, ordered by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass this as [`ListQuery::cursor`] to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a save expects of the prompt's current state (compare-and-set).
///
/// On the wire: `"any"`, `"absent"` or `{"version": "1.2.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// No check.
    #[default]
    Any,
    /// The prompt (or label) must not exist.
    Absent,
    /// The current latest version (or label target) must be this one.
    Version(Version),
}

impl Expect {
    /// Whether `current` satisfies the expectation.
    pub fn accepts(&self, current: Option<&Version>) -> bool {
        match self {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Version(v) => current == Some(v),
        }
    }

    /// The expected version, for error messages.
    pub fn version(&self) -> Option<Version> {
        match self {
            Expect::Version(v) => Some(v.clone()),
            _ => None,
        }
    }
}

/// Who asks for a write, as far as protected labels are concerned.
///
/// Moving, removing or rolling back a protected label, setting one through a save, and lifting a
/// protection need [`Admin`](Authority::Admin) or [`Forced`](Authority::Forced); otherwise the
/// store refuses the write with [`Error::LabelProtected`], atomically with its other checks.
///
/// On the wire: `"user"`, `"admin"` or `"forced"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// An ordinary writer (a write-scoped API key, the CLI without `--force`).
    #[default]
    User,
    /// An administrator (an admin-scoped API key).
    Admin,
    /// An explicit override (the CLI's `--force`): allowed as an administrator, and recorded in
    /// the audit entries of the write ([`AuditEntry::forced`]).
    Forced,
}

impl Authority {
    /// Whether protected labels may be changed.
    pub fn is_admin(self) -> bool {
        !matches!(self, Authority::User)
    }

    /// Whether this is an explicit override, recorded in the audit log.
    pub fn is_forced(self) -> bool {
        matches!(self, Authority::Forced)
    }
}

/// An atomic save of a new version.
///
/// On the wire: a JSON object with these field names; `expected`, `status`, `labels`, `actor`
/// and `authority` may be left out (their defaults).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaveRequest {
    /// The new version.
    pub version: PromptVersion,
    #[serde(default)]
    /// `Absent` creates the prompt (fails if it exists); `Version(v)` requires the latest to be `v`.
    pub expected: Expect,
    #[serde(default)]
    /// The status of a newly created prompt (ignored for updates).
    pub status: PromptStatus,
    #[serde(default)]
    /// Labels to point at the new version in the same transaction.
    pub labels: Vec<LabelName>,
    /// Who saves, recorded in label events and the audit log.
    #[serde(default)]
    pub actor: Option<String>,
    /// Whether protected labels among [`labels`](Self::labels) may be moved.
    #[serde(default)]
    pub authority: Authority,
}

/// A label move.
///
/// On the wire: a JSON object with these field names (`kind` is `set`, `rollback` or `remove`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabelChange {
    /// The label.
    pub label: LabelName,
    /// The target version; `None` removes the label.
    pub to: Option<Version>,
    /// What the label must point to now (compare-and-set).
    pub expected: Expect,
    /// Set, rollback or remove.
    pub kind: LabelEventKind,
    /// Who moves it.
    pub actor: Option<String>,
    /// Whether a protected label may be moved.
    pub authority: Authority,
}

/// What a label must point at now, for [`AssignmentChange`] (compare-and-set).
///
/// On the wire: `"any"`, `"absent"` or `{"is": {"version": "1.2.0"}}` / `{"is": {"split": […]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectTarget {
    /// No check.
    #[default]
    Any,
    /// The label must be unset.
    Absent,
    /// The label must point at exactly this version or this split (a split label never
    /// matches a version, even its primary).
    Is(LabelTarget),
}

impl ExpectTarget {
    /// Whether `current` satisfies the expectation.
    pub fn accepts(&self, current: Option<&LabelTarget>) -> bool {
        match self {
            ExpectTarget::Any => true,
            ExpectTarget::Absent => current.is_none(),
            ExpectTarget::Is(target) => current == Some(target),
        }
    }
}

impl From<Expect> for ExpectTarget {
    fn from(expect: Expect) -> Self {
        match expect {
            Expect::Any => ExpectTarget::Any,
            Expect::Absent => ExpectTarget::Absent,
            Expect::Version(v) => ExpectTarget::Is(LabelTarget::Version(v)),
        }
    }
}

/// A label change in general ([`VersionStore::assign_label`]): point a label at one version or
/// at an A/B split, or remove it. [`LabelChange`] is its one-version special case.
///
/// On the wire: a JSON object with these field names; `to` is `{"version": "1.2.0"}` or
/// `{"split": [{"version": …, "weight": …}, …]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssignmentChange {
    /// The label.
    pub label: LabelName,
    /// The new target; `None` removes the label.
    pub to: Option<LabelTarget>,
    /// What the label must point at now (compare-and-set).
    pub expected: ExpectTarget,
    /// Set, rollback or remove.
    pub kind: LabelEventKind,
    /// Who changes it.
    pub actor: Option<String>,
    /// Whether a protected label may be changed.
    pub authority: Authority,
}

impl From<LabelChange> for AssignmentChange {
    fn from(change: LabelChange) -> Self {
        Self {
            label: change.label,
            to: change.to.map(LabelTarget::Version),
            expected: change.expected.into(),
            kind: change.kind,
            actor: change.actor,
            authority: change.authority,
        }
    }
}

/// A status change ([`StorageBackend::set_status`]). On the wire: a JSON object with these field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// The new status.
    pub status: PromptStatus,
    /// What the status must be now (compare-and-set).
    pub expected: PromptStatus,
    /// Who changes it, recorded in the audit log.
    pub actor: Option<String>,
}

/// Protecting a label, or lifting its protection ([`VersionStore::set_protection`]). On the
/// wire: a JSON object with these field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionChange {
    /// The label (it need not be set yet).
    pub label: LabelName,
    /// `true` protects, `false` lifts the protection (which needs [`Authority::is_admin`]).
    pub protected: bool,
    /// Who asks.
    pub authority: Authority,
    /// Who changes it, recorded in the audit log.
    pub actor: Option<String>,
}

/// A deletion of a prompt ([`StorageBackend::delete`]). On the wire: `{"actor": …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteRequest {
    /// Who deletes it, recorded in the audit log.
    pub actor: Option<String>,
}

/// Prompt-level storage: saves, loads, listing, status, deletion and the audit log.
///
/// # Contract
///
/// This trait and [`VersionStore`] are intended to be the minimum a backend must provide; a
/// complete backend implements both and is then a [`Store`]. Every write is atomic: it checks
/// everything, then changes the prompt *and appends its audit entries* in one transaction, so a
/// refused write changes nothing and appends nothing. The conformance suite
/// (`prompt_manager_storage::conformance`) checks every promise made here.
///
/// Required: [`backend_name`](Self::backend_name), [`save`](Self::save), [`load`](Self::load),
/// [`delete`](Self::delete), [`list`](Self::list), [`summary`](Self::summary),
/// [`set_status`](Self::set_status), [`audit`](Self::audit), [`append_audit`](Self::append_audit).
///
/// Derived, with defaults a backend may override for speed or atomicity:
/// [`save_all`](Self::save_all) (one save after the other; the backends of prompt-manager
/// override it to be all-or-nothing), [`exists`](Self::exists) (from `summary`), and the change
/// feed ([`watch`](Self::watch), [`catch_up_needed`](Self::catch_up_needed),
/// [`catch_up`](Self::catch_up): none by default). [`VersionStore`] derives `labels`,
/// `get_label`; [`VersionStore::resolve`] resolves a reference from `summary`, `list_versions` and
/// `load`, which the SQL stores override with one query.
#[async_trait]
pub trait StorageBackend: Send + Sync + Debug {
    /// A short name of the backend (`memory`, `dir`, `sqlite`), used in errors and logs.
    fn backend_name(&self) -> &'static str;

    /// Saves a new version atomically, with its labels and their history, and appends to the
    /// audit log, in the same transaction, a `version_created` entry and a `label_set` entry per
    /// label moved.
    ///
    /// Fails with `AlreadyExists` when creating an existing prompt, `NotFound` when updating a
    /// missing one, `VersionConflict` when the latest version is not the expected one,
    /// `VersionNotIncreasing` when the new number is not above the latest, and `LabelProtected`
    /// when a label to move is protected and the request is not an administrator's. A failed
    /// save changes nothing and appends nothing. Returns the label events recorded.
    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>>;

    /// Saves several versions, of one or many prompts, in order, as one unit (imports use it).
    ///
    /// Each request is checked as [`save`](Self::save) checks it, against the state the earlier
    /// requests leave. The backends of prompt-manager override this so that a refused request
    /// refuses them all and nothing is written. The default saves one by one and stops at the
    /// first refusal, keeping what was saved before it: a backend that cannot do better should
    /// say so in its documentation.
    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        let mut events = Vec::new();
        for request in requests {
            events.extend(self.save(request).await?);
        }
        Ok(events)
    }

    /// Loads one version, or the latest when `version` is `None`.
    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>>;

    /// Deletes a prompt with all its versions, labels, protections and history, appending a
    /// `prompt_deleted` entry to the audit log in the same transaction (the prompt's earlier
    /// audit entries stay: the log is append-only).
    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()>;

    /// Lists prompts matching `query`, ordered by id. A query out of bounds
    /// ([`ListQuery::validate`]) is refused with [`Error::InvalidQuery`].
    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>>;

    /// Whether the prompt exists. Derived from [`summary`](Self::summary).
    async fn exists(&self, id: &PromptId) -> Result<bool> {
        match self.summary(id).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound(NotFound::Prompt(_))) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Status, latest version and labels of one prompt.
    async fn summary(&self, id: &PromptId) -> Result<PromptSummary>;

    /// Changes the status if it currently is `change.expected` (compare-and-set), appending a
    /// `status_changed` entry to the audit log in the same transaction.
    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()>;

    /// Audit entries matching `query`, oldest first. A limit above
    /// [`MAX_AUDIT_LIMIT`](crate::audit::MAX_AUDIT_LIMIT) is [`Error::InvalidQuery`].
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>>;

    /// Appends an entry for something that happened outside the store (an API key created or
    /// revoked: [`AuditAction::is_external`](crate::AuditAction::is_external)), chained after
    /// the current last entry, and returns it. Other actions are recorded by the writes that
    /// make them and are refused here with [`Error::InvalidQuery`].
    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry>;

    /// Asks to hear of writes to the shared data made through *other* handles — other processes
    /// or instances on the same database — so that a cache over this store can forget what they
    /// changed. Returns whether the backend can; the default cannot, and a cache over such a
    /// backend sees other writers' changes only when told (`PromptManager::refresh`).
    ///
    /// Writes through this handle may be reported too; a listener must tolerate that.
    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        let _ = listener;
        false
    }

    /// Whether a cache over this store should call [`catch_up`](Self::catch_up) before it
    /// serves what it cached: true when the store's change feed is read by polling (SQLite's
    /// change log) and the store cannot rule out a change since its last read of the feed, so a
    /// cache would otherwise lag writes made elsewhere by up to a poll. Asked on every cache hit,
    /// so it must be cheap (a field read, a `stat`); the default is `false`.
    fn catch_up_needed(&self) -> bool {
        false
    }

    /// Reports to the listeners of [`watch`](Self::watch), before returning, every change made
    /// elsewhere that committed before this call — so that what a cache serves next is as fresh
    /// as a read of the store. Concurrent calls share one read of the feed. Failures are the
    /// feed's to handle (it reports `lost`); the default does nothing.
    async fn catch_up(&self) {}

    /// Whether this store keeps usage records ([`add_usage`](Self::add_usage),
    /// [`usage`](Self::usage)); the default does not.
    fn records_usage(&self) -> bool {
        false
    }

    /// For a store that can answer a read from a copy (the `http://` store's disk cache and
    /// bundle, a Redis cache in front of a store): how many reads each source answered. `None`
    /// (the default) for a store that answers every read itself.
    fn read_sources(&self) -> Option<ReadSources> {
        None
    }

    /// Adds `rows` to the usage table *additively*, as one write: a row whose key (prompt,
    /// version, label, bucket, start) is already stored has every counter increased by the
    /// row's, so instances flushing to one database add up exactly. The default refuses
    /// ([`Error::Unsupported`]).
    async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        let _ = rows;
        Err(usage_unsupported(self.backend_name()))
    }

    /// The usage rows of one prompt and bucket width whose start is in the query's range, in
    /// no particular order. The default refuses ([`Error::Unsupported`]).
    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        let _ = query;
        Err(usage_unsupported(self.backend_name()))
    }

    /// Deletes the usage rows of `bucket` width that start before `before` (unix seconds) and
    /// returns how many; retention is the caller's choice. The default refuses.
    async fn prune_usage(&self, bucket: Bucket, before: i64) -> Result<u64> {
        let _ = (bucket, before);
        Err(usage_unsupported(self.backend_name()))
    }
}

/// Hears of changes to a store's data made elsewhere ([`StorageBackend::watch`]). Called from
/// the backend's own task: implementations must be quick and must not block.
pub trait ChangeListener: Send + Sync {
    /// Something of prompt `id` changed: a version, a label, its status, or it was deleted.
    fn changed(&self, id: &PromptId);

    /// The feed was interrupted (or has just started): changes may have been missed, so
    /// anything cached may be stale.
    fn lost(&self);
}

/// Version history, labels and their protection, over a [`StorageBackend`].
///
/// Required: [`list_versions`](Self::list_versions), [`set_label`](Self::set_label),
/// [`set_protection`](Self::set_protection), [`label_history`](Self::label_history). Derived
/// from [`StorageBackend::summary`]: [`labels`](Self::labels), [`get_label`](Self::get_label);
/// from `summary`, `list_versions` and `load`: [`resolve`](Self::resolve).
#[async_trait]
pub trait VersionStore: StorageBackend {
    /// Every version of a prompt without content, newest first.
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>>;

    /// The labels of a prompt and the versions they point to. Derived from
    /// [`summary`](StorageBackend::summary).
    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        Ok(self.summary(id).await?.labels)
    }

    /// The version a label points to (`NotFound` when unset). Derived from
    /// [`labels`](Self::labels).
    async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version> {
        self.labels(id)
            .await?
            .remove(label)
            .ok_or_else(|| Error::NotFound(NotFound::Label(id.clone(), label.clone())))
    }

    /// Moves, sets or removes a label, recording the event and its audit entry (`label_set`,
    /// `label_removed` or `label_rolled_back`) in the same transaction. The target version must
    /// exist; a protected label needs an administrator ([`Authority::is_admin`]), else
    /// [`Error::LabelProtected`]. Returns `None` when the label already pointed there (nothing
    /// recorded, whoever asked).
    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>>;

    /// [`set_label`](Self::set_label) in general: points a label at one version or at an A/B
    /// split ([`LabelTarget`]), or removes it, recording the event (with
    /// [`from_split`](LabelEvent::from_split) / [`to_split`](LabelEvent::to_split)) and its audit
    /// entry (`label_split` for a split set, else as `set_label`) in the same transaction. Every
    /// variant's version must exist; a protected label needs an administrator; a split label
    /// matches only [`ExpectTarget::Is`] of the same split. Returns `None` when the label already
    /// pointed there.
    ///
    /// The default handles one-version targets through [`set_label`](Self::set_label) and refuses
    /// splits with [`Error::Unsupported`]; the backends of prompt-manager support splits.
    async fn assign_label(&self, id: &PromptId, change: AssignmentChange) -> Result<Option<LabelEvent>> {
        let expected = match change.expected {
            ExpectTarget::Any => Expect::Any,
            ExpectTarget::Absent => Expect::Absent,
            ExpectTarget::Is(LabelTarget::Version(v)) => Expect::Version(v),
            ExpectTarget::Is(LabelTarget::Split(_)) => return Err(splits_unsupported(self.backend_name())),
        };
        let to = match change.to {
            None => None,
            Some(LabelTarget::Version(v)) => Some(v),
            Some(LabelTarget::Split(_)) => return Err(splits_unsupported(self.backend_name())),
        };
        let change = LabelChange {
            label: change.label,
            to,
            expected,
            kind: change.kind,
            actor: change.actor,
            authority: change.authority,
        };
        self.set_label(id, change).await
    }

    /// Protects a label of an existing prompt or lifts its protection, appending a
    /// `label_protected` / `label_unprotected` entry in the same transaction. Lifting needs an
    /// administrator ([`Error::LabelProtected`] otherwise). Returns whether anything changed
    /// (protecting a protected label records nothing).
    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool>;

    /// The version `reference` names — the latest, an exact version, the newest matching a
    /// requirement, or a label's target — with the prompt's status.
    ///
    /// Fails with `NotFound`: of the prompt, the version, the requirement (nothing matches), the
    /// label (unset), or the label's target (a label pointing at a missing version). The default
    /// reads [`summary`](StorageBackend::summary), then
    /// [`list_versions`](VersionStore::list_versions) for a requirement, then
    /// [`load`](StorageBackend::load); a backend may answer in one round trip.
    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        let id = &reference.id;
        let summary = self.summary(id).await?;
        let number = match &reference.selector {
            Selector::Latest => {
                return Ok(Resolution {
                    version: self.load(id, None).await?,
                    status: summary.status,
                    split: None,
                });
            }
            Selector::Exact(v) => v.clone(),
            Selector::Label(label) => summary
                .labels
                .get(label)
                .cloned()
                .ok_or_else(|| Error::NotFound(NotFound::Label(id.clone(), label.clone())))?,
            Selector::Requirement(req) => {
                let versions = self.list_versions(id).await?;
                newest_matching(versions.iter().map(|v| &v.version), req)
                    .cloned()
                    .ok_or_else(|| Error::NotFound(NotFound::Requirement(id.clone(), req.to_string())))?
            }
        };
        match self.load(id, Some(&number)).await {
            Ok(version) => Ok(Resolution {
                version,
                status: summary.status,
                split: reference.label().and_then(|l| summary.splits.get(l).cloned()),
            }),
            Err(Error::NotFound(NotFound::Version(..))) if reference.label().is_some() => match reference.label() {
                Some(label) => Err(Error::NotFound(NotFound::LabelTarget(
                    id.clone(),
                    label.clone(),
                    number,
                ))),
                None => Err(Error::NotFound(NotFound::Version(id.clone(), number))),
            },
            Err(e) => Err(e),
        }
    }

    /// Label events, oldest first; all labels when `label` is `None`.
    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>>;
}

/// What [`VersionStore::resolve`] finds: the version a reference names, and the prompt's status.
///
/// On the wire: `{"version": <PromptVersion>, "status": "active", "split": null | […]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resolution {
    /// The version (for a split label, its [`primary`](Split::primary)).
    pub version: Arc<PromptVersion>,
    /// The prompt's lifecycle status.
    pub status: PromptStatus,
    /// The label's split, when the reference names a label that is one.
    pub split: Option<Split>,
}

fn splits_unsupported(backend: &str) -> Error {
    Error::Unsupported(format!("the {backend} store does not support A/B splits of labels"))
}

/// How many of a store's reads each source answered: the store of record (for the `http://`
/// store, its server), a copy kept for when the server cannot answer, or a shared Redis cache in
/// front of the store ([`StorageBackend::read_sources`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadSources {
    /// Answered by the store of record (the server of an `http://` store).
    pub server: u64,
    /// Served from the disk cache because the server could not answer in time.
    pub cache: u64,
    /// Served from a bundle because neither the server nor the disk cache could.
    pub bundle: u64,
    /// Answered by a shared Redis cache in front of the store (`redis://…?store=URL`).
    pub redis: u64,
}

/// A complete backend: prompts, versions and labels. Implemented for every type that has both traits.
#[async_trait]
pub trait Store: StorageBackend + VersionStore {
    /// One exact version.
    async fn get_version(&self, id: &PromptId, version: &Version) -> Result<Arc<PromptVersion>> {
        self.load(id, Some(version)).await
    }

    /// The newest version.
    async fn get_latest(&self, id: &PromptId) -> Result<Arc<PromptVersion>> {
        self.load(id, None).await
    }
}

impl<T: StorageBackend + VersionStore + ?Sized> Store for T {}
