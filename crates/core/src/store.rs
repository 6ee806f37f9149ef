//! The storage traits every backend implements: [`StorageBackend`] (prompts: atomic
//! compare-and-set saves, loads, listing) and [`VersionStore`] (history and labels), joined in
//! [`Store`]. Backends keep versions, labels and label history together, so each write is one
//! transaction. The reference backend is `prompt_manager_storage::MemoryStore`.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use semver::Version;

use crate::error::Result;
use crate::id::{LabelName, PromptId};
use crate::model::{LabelEvent, LabelEventKind, PromptStatus, PromptSummary, PromptVersion, VersionInfo};

/// Filters and pagination for [`StorageBackend::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// Only prompts whose latest version has every one of these tags.
    pub tags: Vec<String>,
    /// Only prompts with this status.
    pub status: Option<PromptStatus>,
    /// Only ids starting with this string (`support/`).
    pub id_prefix: Option<String>,
    /// At most this many items (all when `None`).
    pub limit: Option<usize>,
    /// Continue after this cursor (from [`Page::next_cursor`]).
    pub cursor: Option<String>,
}

impl ListQuery {
    /// Whether `summary` passes the filters (ignoring pagination). Backends that filter in memory use this.
    pub fn matches(&self, summary: &PromptSummary) -> bool {
        self.status.is_none_or(|s| s == summary.status)
            && self.id_prefix.as_deref().is_none_or(|p| summary.id.starts_with(p))
            && self.tags.iter().all(|t| summary.tags.contains(t))
    }
}

/// One page of results, ordered by id.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass this as [`ListQuery::cursor`] to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a save expects of the prompt's current state (compare-and-set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No check.
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

/// An atomic save of a new version.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    /// The new version.
    pub version: PromptVersion,
    /// `Absent` creates the prompt (fails if it exists); `Version(v)` requires the latest to be `v`.
    pub expected: Expect,
    /// The status of a newly created prompt (ignored for updates).
    pub status: PromptStatus,
    /// Labels to point at the new version in the same transaction.
    pub labels: Vec<LabelName>,
    /// Who saves, recorded in label events.
    pub actor: Option<String>,
}

/// A label move.
#[derive(Debug, Clone)]
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
}

/// Prompt-level storage: the minimal set of operations a backend must provide.
#[async_trait]
pub trait StorageBackend: Send + Sync + Debug {
    /// A short name of the backend (`memory`, `dir`, `sqlite`), used in errors and logs.
    fn backend_name(&self) -> &'static str;

    /// Saves a new version atomically, with its labels and their history.
    ///
    /// Fails with `AlreadyExists` when creating an existing prompt, `NotFound` when updating a
    /// missing one, `VersionConflict` when the latest version is not the expected one and
    /// `VersionNotIncreasing` when the new number is not above the latest. A failed save
    /// changes nothing. Returns the label events recorded.
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

    /// Deletes a prompt with all its versions, labels and history.
    async fn delete(&self, id: &PromptId) -> Result<()>;

    /// Lists prompts matching `query`, ordered by id.
    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>>;

    /// Whether the prompt exists.
    async fn exists(&self, id: &PromptId) -> Result<bool>;

    /// Status, latest version and labels of one prompt.
    async fn summary(&self, id: &PromptId) -> Result<PromptSummary>;

    /// Changes the status if it currently is `expected` (compare-and-set).
    async fn set_status(&self, id: &PromptId, status: PromptStatus, expected: PromptStatus) -> Result<()>;

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

/// Version history and labels.
#[async_trait]
pub trait VersionStore: Send + Sync {
    /// Every version of a prompt without content, newest first.
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>>;

    /// The labels of a prompt and the versions they point to.
    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>>;

    /// The version a label points to (`NotFound` when unset).
    async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version>;

    /// Moves, sets or removes a label, recording the event in the same transaction. The target
    /// version must exist. Returns `None` when the label already pointed there (nothing recorded).
    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>>;

    /// Label events, oldest first; all labels when `label` is `None`.
    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>>;
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
