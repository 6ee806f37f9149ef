//! [`PromptManager`]: the orchestration of a store, a template engine, the registry, observers
//! and plugins. It needs only traits, so it lives in core; the umbrella crate wires defaults.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use chrono::Utc;
use semver::Version;

use crate::cache::{RenderCache, RenderCacheConfig};
use crate::engine::{CompileUnit, CompiledTemplate, IncludedTemplate, TemplateEngine};
use crate::error::{Error, NotFound, Result};
use crate::id::{LabelName, PromptId};
use crate::model::{
    Bump, ChatMessage, ContentHash, LabelEvent, LabelEventKind, Prompt, PromptExecution, PromptStatus, PromptSummary,
    PromptVersion, RenderOutput, RenderedPrompt, Template, VersionInfo,
};
use crate::observer::Observer;
use crate::plugin::Plugin;
use crate::reference::PromptRef;
use crate::registry::Registry;
use crate::render::Resolved;
use crate::store::{Authority, DeleteRequest, Expect, LabelChange, ListQuery, Page, SaveRequest, StatusChange, Store};
use crate::variables::Variables;

/// How deep includes may nest.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Options of [`PromptManager::create_with`].
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The first version number (default `1.0.0`).
    pub version: Option<Version>,
    /// The initial status (default `draft`).
    pub status: PromptStatus,
    /// Labels to point at the first version.
    pub labels: Vec<LabelName>,
    /// The changelog message (default "Initial version").
    pub changelog: Option<String>,
    /// Who creates it (default: the manager's actor).
    pub author: Option<String>,
}

/// Options of [`PromptManager::update_with`].
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// How to bump the version.
    pub bump: Bump,
    /// What changed and why.
    pub changelog: String,
    /// Who updates (default: the manager's actor).
    pub author: Option<String>,
    /// Compare-and-set: fail with a version conflict unless the latest version is this one.
    pub expected: Option<Version>,
    /// Labels to point at the new version in the same transaction.
    pub labels: Vec<LabelName>,
}

impl UpdateOptions {
    /// A bump with a changelog message.
    pub fn new(bump: Bump, changelog: impl Into<String>) -> Self {
        UpdateOptions {
            bump,
            changelog: changelog.into(),
            author: None,
            expected: None,
            labels: Vec::new(),
        }
    }
}

/// How many times [`PromptManager::update_with`] without an expected version tries to save when
/// other writes keep landing first. Each lost race means another write succeeded, so a bound
/// above the number of concurrent writers of one prompt is never reached.
pub const MAX_UPDATE_ATTEMPTS: usize = 1000;

/// The size of the in-process registry and the counters of the rendered-output cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reference strings with a cached, compiled resolution.
    pub references: usize,
    /// Prompts the registry tracks.
    pub prompts: usize,
    /// Renders served from the rendered-output cache (0 when it is off).
    pub render_hits: u64,
    /// Renders that missed it and rendered.
    pub render_misses: u64,
    /// Rendered outputs kept.
    pub rendered_entries: usize,
    /// Their approximate size in bytes.
    pub rendered_bytes: u64,
}

/// The result of a save.
#[derive(Debug, Clone)]
pub struct SaveOutcome {
    /// The saved version, or the existing one when the content was identical.
    pub version: Arc<PromptVersion>,
    /// Whether a new version was created.
    pub created: bool,
    /// Label moves recorded with the save.
    pub labels: Vec<LabelEvent>,
}

/// The prompt registry and renderer. Cheap to clone; clones share everything.
///
/// ```
/// # async fn demo(pm: prompt_manager_core::PromptManager) -> prompt_manager_core::Result<()> {
/// use prompt_manager_core::{Prompt, Variables};
/// pm.create(Prompt::text("greeting", "Hello {{ name }}!")?).await?;
/// pm.set_label("greeting", "production", "1.0.0").await?;
/// let text = pm.render("greeting@production", &Variables::new().with("name", "Ada")).await?;
/// assert_eq!(text, "Hello Ada!");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PromptManager {
    inner: Arc<Inner>,
    /// Who this handle records as the author and actor of its writes ([`PromptManager::acting_as`]).
    actor: Option<Arc<str>>,
}

struct Inner {
    store: Arc<dyn Store>,
    engine: Arc<dyn TemplateEngine>,
    registry: Registry,
    observers: Observers,
    plugins: RwLock<BTreeMap<String, Arc<dyn Plugin>>>,
    render_cache: Option<RenderCache>,
}

impl std::fmt::Debug for PromptManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptManager")
            .field("store", &self.inner.store)
            .field("engine", &self.inner.engine.name())
            .field("cached_references", &self.inner.registry.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`PromptManager`]. A store and an engine are required; the `prompt-manager` umbrella
/// crate's `builder()` fills in the in-memory store and the minijinja engine.
#[derive(Default)]
pub struct PromptManagerBuilder {
    store: Option<Arc<dyn Store>>,
    engine: Option<Arc<dyn TemplateEngine>>,
    observers: Vec<Arc<dyn Observer>>,
    actor: Option<String>,
    render_cache: Option<RenderCacheConfig>,
    plugins: Vec<Arc<dyn Plugin>>,
}

impl PromptManagerBuilder {
    /// Registers a plugin as it is configured: its `initialize` is not called (use
    /// [`PromptManager::register_plugin`] to pass a configuration). A later plugin with the same
    /// name replaces an earlier one.
    pub fn plugin(mut self, plugin: Arc<dyn Plugin>) -> Self {
        self.plugins.push(plugin);
        self
    }

    /// Keeps rendered outputs, keyed by the exact version rendered and the variables, bounded in
    /// size and age. Off by default: a warm render is already microseconds, and the cache pays off
    /// for large templates rendered with repeating variables. It is never stale: any write that
    /// changes what a reference renders (a new version, a moved label, a status change, a moved
    /// include) changes the key.
    pub fn render_cache(mut self, config: RenderCacheConfig) -> Self {
        self.render_cache = Some(config);
        self
    }

    /// Uses this store.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses this template engine.
    pub fn engine(mut self, engine: Arc<dyn TemplateEngine>) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Adds an observer.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The author recorded on versions and label moves when a call names none.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Builds the manager.
    pub fn build(self) -> Result<PromptManager> {
        let store = self
            .store
            .ok_or_else(|| Error::Config("no store configured; call .store(…)".into()))?;
        let engine = self
            .engine
            .ok_or_else(|| Error::Config("no template engine configured; call .engine(…)".into()))?;
        if !self.observers.is_empty() {
            warm_render_clock();
        }
        let manager = PromptManager {
            inner: Arc::new(Inner {
                store,
                engine,
                registry: Registry::default(),
                observers: Observers::new(self.observers),
                plugins: RwLock::new(self.plugins.into_iter().map(|p| (p.name().to_owned(), p)).collect()),
                render_cache: self.render_cache.map(RenderCache::new),
            }),
            actor: self.actor.map(Arc::from),
        };
        // Writes by other processes or instances reach the registry when the store can tell.
        // The listener holds the manager weakly: the store (which the manager owns) keeps it.
        let listener = Arc::new(RegistryInvalidator(Arc::downgrade(&manager.inner)));
        if manager.inner.store.watch(listener) {
            tracing::debug!(
                backend = manager.inner.store.backend_name(),
                "watching the store for changes made elsewhere"
            );
        }
        Ok(manager)
    }
}

/// Drops what the registry cached about prompts the store reports changed elsewhere. The
/// rendered-output cache needs nothing: its keys are resolutions, which the registry renews.
struct RegistryInvalidator(std::sync::Weak<Inner>);

impl crate::store::ChangeListener for RegistryInvalidator {
    fn changed(&self, id: &PromptId) {
        if let Some(inner) = self.0.upgrade() {
            inner.registry.invalidate(id);
        }
    }

    fn lost(&self) {
        if let Some(inner) = self.0.upgrade() {
            inner.registry.invalidate_all();
        }
    }
}

/// Records the outcome of the current operation's span (`ok`, or the error's code) and passes the
/// result through.
fn finish<T>(result: Result<T>) -> Result<T> {
    // The operation spans are at INFO: below that, there is no span to record on, and looking up
    // the current one is the most expensive part of a cache hit.
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return result;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        match &result {
            Ok(_) => span.record("outcome", "ok"),
            Err(e) => span.record("outcome", e.code()),
        };
    }
    result
}

/// Records what a render resolved to on the current span: the GenAI-style prompt attributes.
fn record_resolved(resolved: &Resolved) {
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        let version = &resolved.version;
        span.record("gen_ai.prompt.name", tracing::field::display(&version.prompt.id));
        span.record("gen_ai.prompt.version", tracing::field::display(&version.version));
        span.record("gen_ai.prompt.content_hash", version.content_hash.0.as_str());
        if let Some(label) = &resolved.label {
            span.record("gen_ai.prompt.label", label.as_str());
        }
    }
}

static EXECUTION_IDS: AtomicU64 = AtomicU64::new(1);
/// Every resolution gets its own id: the rendered-output cache keys on it.
static RESOLUTION_IDS: AtomicU64 = AtomicU64::new(1);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Includes collected for one compile: sources by reference, and dependency generations.
#[derive(Default)]
struct IncludeSet {
    templates: Vec<IncludedTemplate>,
    seen: HashSet<String>,
    deps: Vec<(PromptId, u64)>,
}

impl PromptManager {
    /// A builder; a store and an engine are required.
    pub fn builder() -> PromptManagerBuilder {
        PromptManagerBuilder::default()
    }

    /// How many references and prompts the in-process registry holds.
    pub fn cache_stats(&self) -> CacheStats {
        let (render_hits, render_misses, rendered_entries, rendered_bytes) = self
            .inner
            .render_cache
            .as_ref()
            .map_or((0, 0, 0, 0), RenderCache::stats);
        CacheStats {
            references: self.inner.registry.len(),
            prompts: self.inner.registry.prompts(),
            render_hits,
            render_misses,
            rendered_entries,
            rendered_bytes,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The template engine.
    pub fn engine(&self) -> &Arc<dyn TemplateEngine> {
        &self.inner.engine
    }

    // ----- writing -------------------------------------------------------------------------

    /// Creates a prompt as version `1.0.0`, status `draft`.
    pub async fn create(&self, prompt: Prompt) -> Result<Arc<PromptVersion>> {
        finish(
            async move {
                self.create_with(prompt, CreateOptions::default())
                    .await
                    .map(|o| o.version)
            }
            .await,
        )
    }

    /// Creates a prompt with options. The template must compile and its includes resolve.
    #[tracing::instrument(name = "prompt_manager.create", skip_all, fields(gen_ai.prompt.name = %prompt.id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn create_with(&self, prompt: Prompt, options: CreateOptions) -> Result<SaveOutcome> {
        finish(
            async move {
                prompt.validate()?;
                let version = options.version.unwrap_or_else(|| Version::new(1, 0, 0));
                let content_hash = prompt.content_hash();
                self.check_compiles(&prompt, &version, &content_hash).await?;
                let new = PromptVersion {
                    prompt,
                    version,
                    changelog: options.changelog.unwrap_or_else(|| "Initial version".into()),
                    author: options.author.or_else(|| self.actor_name()),
                    // Microseconds: what every store keeps (SQL timestamps), so a write answers what a read returns.
                    created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
                    parent: None,
                    content_hash,
                };
                self.commit(new, Expect::Absent, options.status, options.labels).await
            }
            .await,
        )
    }

    /// Saves new content as a new version with a bump and a changelog. Identical content returns
    /// the latest version unchanged (`created == false`).
    pub async fn update(&self, prompt: Prompt, bump: Bump, changelog: impl Into<String>) -> Result<SaveOutcome> {
        finish(async move { self.update_with(prompt, UpdateOptions::new(bump, changelog)).await }.await)
    }

    /// Saves new content with options.
    ///
    /// With [`UpdateOptions::expected`] the save is compare-and-set on the latest version: if it
    /// is another one, [`Error::VersionConflict`] names both and nothing is written. Without it,
    /// the update applies on top of whatever is latest when it is saved: a concurrent write that
    /// lands between reading the latest version and saving is retried against the new latest,
    /// up to [`MAX_UPDATE_ATTEMPTS`] times (each lost race means another write succeeded), after
    /// which [`Error::UpdateContended`] says so — never a conflict with an expectation the caller
    /// did not state.
    #[tracing::instrument(name = "prompt_manager.update", skip_all, fields(gen_ai.prompt.name = %prompt.id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn update_with(&self, prompt: Prompt, options: UpdateOptions) -> Result<SaveOutcome> {
        finish(
            async move {
                prompt.validate()?;
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match self.update_once(&prompt, &options).await {
                        // Only a race on the expectation this method made up is retried; the
                        // caller's own expectation is the caller's to retry.
                        Err(Error::VersionConflict { .. }) if options.expected.is_none() => {
                            if attempts >= MAX_UPDATE_ATTEMPTS {
                                return Err(Error::UpdateContended {
                                    id: prompt.id.clone(),
                                    attempts,
                                });
                            }
                            tracing::debug!(id = %prompt.id, attempts, "an update lost a race; retrying on the new latest version");
                        }
                        other => return other,
                    }
                }
            }
            .await,
        )
    }

    /// One attempt of [`update_with`](Self::update_with): read the latest version, derive the new
    /// one from it, save it compare-and-set on that latest version.
    async fn update_once(&self, prompt: &Prompt, options: &UpdateOptions) -> Result<SaveOutcome> {
        let id = prompt.id.clone();
        let latest = match self.inner.store.load(&id, None).await {
            Err(Error::NotFound(NotFound::Prompt(_))) => {
                return Err(Error::NotFound(NotFound::Prompt(id)));
            }
            other => other?,
        };
        if let Some(expected) = &options.expected
            && *expected != latest.version
        {
            return Err(Error::VersionConflict {
                id,
                what: "latest version".into(),
                expected: Some(expected.clone()),
                actual: Some(latest.version.clone()),
            });
        }
        let content_hash = prompt.content_hash();
        if content_hash == latest.content_hash && options.labels.is_empty() {
            return Ok(SaveOutcome {
                version: latest,
                created: false,
                labels: Vec::new(),
            });
        }
        if content_hash == latest.content_hash {
            // Same content, but labels to move: move them to the existing version.
            let mut events = Vec::new();
            for label in &options.labels {
                if let Some(event) = self
                    .move_label(
                        &id,
                        label.clone(),
                        Some(latest.version.clone()),
                        Expect::Any,
                        LabelEventKind::Set,
                    )
                    .await?
                {
                    events.push(event);
                }
            }
            return Ok(SaveOutcome {
                version: latest,
                created: false,
                labels: events,
            });
        }
        let version = options
            .bump
            .apply(&latest.version)
            .ok_or_else(|| Error::InvalidPrompt {
                id: id.to_string(),
                reason: format!(
                    "a {} bump of {} overflows the version number",
                    options.bump, latest.version
                ),
            })?;
        self.check_compiles(prompt, &version, &content_hash).await?;
        let new = PromptVersion {
            prompt: prompt.clone(),
            version,
            changelog: options.changelog.clone(),
            author: options.author.clone().or_else(|| self.actor_name()),
            // Microseconds: what every store keeps (SQL timestamps), so a write answers what a read returns.
            created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
            parent: Some(latest.version.clone()),
            content_hash,
        };
        self.commit(
            new,
            Expect::Version(latest.version.clone()),
            PromptStatus::default(),
            options.labels.clone(),
        )
        .await
    }

    /// Saves a new version (compare-and-set on `expected`), then invalidates the registry and
    /// tells the observers — in that order, so no render can see the store older than the cache.
    async fn commit(
        &self,
        new: PromptVersion,
        expected: Expect,
        status: PromptStatus,
        labels: Vec<LabelName>,
    ) -> Result<SaveOutcome> {
        let labels = self
            .inner
            .store
            .save(SaveRequest {
                version: new.clone(),
                expected,
                status,
                labels,
                actor: self.actor_name(),
                authority: Authority::User,
            })
            .await?;
        self.inner.registry.invalidate(&new.prompt.id);
        let span = tracing::Span::current();
        span.record("gen_ai.prompt.version", tracing::field::display(&new.version));
        span.record("gen_ai.prompt.content_hash", new.content_hash.0.as_str());
        let version = Arc::new(new);
        self.each_observer(|o| o.on_version_created(&version));
        for event in &labels {
            self.each_observer(|o| o.on_label_moved(&version.prompt.id, event));
        }
        Ok(SaveOutcome {
            version,
            created: true,
            labels,
        })
    }

    /// Saves many versions, of one or many prompts, as one unit: an import. Every template is
    /// checked first (syntax only: includes may name prompts of the same batch), then the store
    /// applies the batch all-or-nothing ([`StorageBackend::save_all`](crate::StorageBackend::save_all)), then the cache forgets
    /// every prompt the batch touched and the observers hear of each version and label move.
    ///
    /// The requests are taken as they are: their version numbers, expectations, statuses and
    /// labels are the caller's (an importer computes them against the store's state).
    #[tracing::instrument(name = "prompt_manager.save_all", skip_all, fields(batch = requests.len(), gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        finish(
            async move {
                for request in &requests {
                    let version = &request.version;
                    version.prompt.validate()?;
                    let name = format!("{}@{}", version.prompt.id, version.version);
                    for (part, source) in version.prompt.template.named_sources(&name) {
                        self.inner.engine.validate(&part, source)?;
                    }
                }
                // Which labels each request moves, to tell observers which prompt an event belongs to
                // (events come back in request order, so a cursor pairs them).
                let moved: Vec<(Arc<PromptVersion>, Vec<LabelName>)> = requests
                    .iter()
                    .map(|r| (Arc::new(r.version.clone()), r.labels.clone()))
                    .collect();
                let events = self.inner.store.save_all(requests).await?;
                for (version, _) in &moved {
                    self.inner.registry.invalidate(&version.prompt.id);
                }
                for (version, _) in &moved {
                    self.each_observer(|o| o.on_version_created(version));
                }
                let mut cursor = 0;
                for event in &events {
                    while let Some((version, labels)) = moved.get(cursor) {
                        if event.to.as_ref() == Some(&version.version) && labels.contains(&event.label) {
                            self.each_observer(|o| o.on_label_moved(&version.prompt.id, event));
                            break;
                        }
                        cursor += 1;
                    }
                }
                Ok(events)
            }
            .await,
        )
    }

    /// Who this manager records as the author and actor of its writes, when set.
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// A handle on the same manager (store, caches, observers, plugins) that records `actor` as
    /// the author of the versions and the actor of the label moves it writes — for a server that
    /// writes on behalf of many callers (an API key's name) through one manager. Cheap: two
    /// reference counts.
    pub fn acting_as(&self, actor: impl Into<String>) -> PromptManager {
        PromptManager {
            inner: Arc::clone(&self.inner),
            actor: Some(Arc::from(actor.into())),
        }
    }

    fn actor_name(&self) -> Option<String> {
        self.actor.as_deref().map(str::to_owned)
    }

    /// Forgets what the manager cached about `id`, so that the next render reads the store.
    ///
    /// Writes through this manager keep the cache exact by themselves, and so do writes of other
    /// processes or instances on a store that reports them ([`StorageBackend::watch`](crate::StorageBackend::watch):
    /// PostgreSQL and SQLite do). Call this after the store was changed behind the manager's back
    /// otherwise: by hand or by another process in a `dir://` folder.
    pub fn refresh(&self, id: &PromptId) {
        self.inner.registry.invalidate(id);
    }

    /// Points `label` at `version` (an exact version number), recording the move. Returns the
    /// recorded event, or `None` when the label already pointed there (nothing is recorded).
    #[tracing::instrument(name = "prompt_manager.set_label", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.label = %label, gen_ai.prompt.version, gen_ai.prompt.content_hash, outcome))]
    pub async fn set_label(&self, id: &str, label: &str, version: &str) -> Result<Option<LabelEvent>> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                let label = LabelName::new(label)?;
                let version = parse_version(version)?;
                self.move_label(&id, label, Some(version), Expect::Any, LabelEventKind::Set)
                    .await
            }
            .await,
        )
    }

    /// Like [`set_label`](Self::set_label), compare-and-set: the move happens only if the label
    /// currently points to `expected` (`None`: the label must be unset); otherwise it fails with a
    /// version conflict and nothing is recorded. For callers with optimistic concurrency (HTTP
    /// `If-Match`).
    #[tracing::instrument(name = "prompt_manager.set_label", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.label = %label, gen_ai.prompt.version, gen_ai.prompt.content_hash, outcome))]
    pub async fn set_label_expecting(
        &self,
        id: &str,
        label: &str,
        version: &str,
        expected: Option<&str>,
    ) -> Result<Option<LabelEvent>> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                let label = LabelName::new(label)?;
                let version = parse_version(version)?;
                let expected = match expected {
                    Some(v) => Expect::Version(parse_version(v)?),
                    None => Expect::Absent,
                };
                self.move_label(&id, label, Some(version), expected, LabelEventKind::Set)
                    .await
            }
            .await,
        )
    }

    /// Removes a label.
    #[tracing::instrument(name = "prompt_manager.remove_label", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.label = %label, gen_ai.prompt.version, gen_ai.prompt.content_hash, outcome))]
    pub async fn remove_label(&self, id: &str, label: &str) -> Result<LabelEvent> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                let label = LabelName::new(label)?;
                self.move_label(&id, label.clone(), None, Expect::Any, LabelEventKind::Remove)
                    .await?
                    .ok_or_else(|| Error::NotFound(NotFound::Label(id, label)))
            }
            .await,
        )
    }

    /// Like [`remove_label`](Self::remove_label), compare-and-set: the label is removed only if it
    /// currently points to `expected`; otherwise it fails with a version conflict and nothing is
    /// recorded. For callers with optimistic concurrency (HTTP `If-Match`).
    #[tracing::instrument(name = "prompt_manager.remove_label", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.label = %label, gen_ai.prompt.version, gen_ai.prompt.content_hash, outcome))]
    pub async fn remove_label_expecting(&self, id: &str, label: &str, expected: &str) -> Result<LabelEvent> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                let label = LabelName::new(label)?;
                let expected = Expect::Version(parse_version(expected)?);
                self.move_label(&id, label.clone(), None, expected, LabelEventKind::Remove)
                    .await?
                    .ok_or_else(|| Error::NotFound(NotFound::Label(id, label)))
            }
            .await,
        )
    }

    /// Moves `label` back to the version it pointed to before its current assignment.
    /// Repeated rollbacks keep going back; a rollback is undone by setting the label again.
    #[tracing::instrument(name = "prompt_manager.rollback", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.label = %label, gen_ai.prompt.version, gen_ai.prompt.content_hash, outcome))]
    pub async fn rollback(&self, id: &str, label: &str) -> Result<LabelEvent> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                let label = LabelName::new(label)?;
                let history = self.inner.store.label_history(&id, Some(&label)).await?;
                let (current, target) = rollback_target(&history).ok_or_else(|| {
                Error::Unsupported(format!(
                    "label `{label}` of `{id}` has no earlier version to roll back to; set it explicitly with set_label"
                ))
            })?;
                self.move_label(
                    &id,
                    label.clone(),
                    Some(target),
                    Expect::Version(current),
                    LabelEventKind::Rollback,
                )
                .await?
                .ok_or_else(|| {
                    Error::Unsupported(format!(
                        "label `{label}` of `{id}` already points to the rollback target"
                    ))
                })
            }
            .await,
        )
    }

    async fn move_label(
        &self,
        id: &PromptId,
        label: LabelName,
        to: Option<Version>,
        expected: Expect,
        kind: LabelEventKind,
    ) -> Result<Option<LabelEvent>> {
        let event = self
            .inner
            .store
            .set_label(
                id,
                LabelChange {
                    label,
                    to,
                    expected,
                    kind,
                    actor: self.actor_name(),
                    authority: Authority::User,
                },
            )
            .await?;
        self.inner.registry.invalidate(id);
        if let Some(event) = &event {
            self.each_observer(|o| o.on_label_moved(id, event));
        }
        Ok(event)
    }

    /// Moves a prompt through its lifecycle (`draft → active → deprecated → archived`).
    #[tracing::instrument(name = "prompt_manager.set_status", skip_all, fields(gen_ai.prompt.name = %id, status = %status, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn set_status(&self, id: &str, status: PromptStatus) -> Result<PromptSummary> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                let current = self.inner.store.summary(&id).await?.status;
                current
                    .check_transition(status)
                    .map_err(|reason| Error::InvalidStatusTransition {
                        id: id.clone(),
                        from: current,
                        to: status,
                        reason,
                    })?;
                self.inner
                    .store
                    .set_status(
                        &id,
                        StatusChange {
                            status,
                            expected: current,
                            actor: self.actor_name(),
                        },
                    )
                    .await?;
                self.inner.registry.invalidate(&id);
                self.inner.store.summary(&id).await
            }
            .await,
        )
    }

    /// Archives a prompt: it stays stored but refuses to render.
    #[tracing::instrument(name = "prompt_manager.archive", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn archive(&self, id: &str) -> Result<PromptSummary> {
        finish(async move { self.set_status(id, PromptStatus::Archived).await }.await)
    }

    /// Deletes a prompt with all its versions and labels.
    #[tracing::instrument(name = "prompt_manager.delete", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn delete(&self, id: &str) -> Result<()> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                self.inner
                    .store
                    .delete(
                        &id,
                        DeleteRequest {
                            actor: self.actor_name(),
                        },
                    )
                    .await?;
                self.inner.registry.invalidate(&id);
                self.inner.registry.forget_compiled(&id);
                Ok(())
            }
            .await,
        )
    }

    // ----- reading -------------------------------------------------------------------------

    /// The version a reference names.
    #[tracing::instrument(name = "prompt_manager.get", skip_all, fields(reference = %reference, gen_ai.prompt.name, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn get(&self, reference: &str) -> Result<Arc<PromptVersion>> {
        finish(
            async move {
                self.catch_up().await;
                if let Some(version) = self.inner.registry.get_with(reference, |r| r.version.clone()) {
                    return Ok(version);
                }
                Ok(self.lookup(&PromptRef::parse(reference)?).await?.0)
            }
            .await,
        )
    }

    /// Status, latest version and labels of a prompt.
    #[tracing::instrument(name = "prompt_manager.summary", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn summary(&self, id: &str) -> Result<PromptSummary> {
        finish(async move { self.inner.store.summary(&PromptId::new(id)?).await }.await)
    }

    /// Lists prompts.
    #[tracing::instrument(name = "prompt_manager.list", skip_all, fields(gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        finish(
            async move {
                query.validate()?;
                self.inner.store.list(query).await
            }
            .await,
        )
    }

    /// The version history of a prompt, newest first.
    #[tracing::instrument(name = "prompt_manager.history", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn history(&self, id: &str) -> Result<Vec<VersionInfo>> {
        finish(async move { self.inner.store.list_versions(&PromptId::new(id)?).await }.await)
    }

    /// The labels of a prompt.
    #[tracing::instrument(name = "prompt_manager.labels", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn labels(&self, id: &str) -> Result<BTreeMap<LabelName, Version>> {
        finish(async move { self.inner.store.labels(&PromptId::new(id)?).await }.await)
    }

    /// The moves of one label (or of all labels), oldest first.
    #[tracing::instrument(name = "prompt_manager.label_history", skip_all, fields(gen_ai.prompt.name = %id, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn label_history(&self, id: &str, label: Option<&str>) -> Result<Vec<LabelEvent>> {
        finish(
            async move {
                let id = PromptId::new(id)?;
                let label = label.map(LabelName::new).transpose()?;
                self.inner.store.label_history(&id, label.as_ref()).await
            }
            .await,
        )
    }

    /// The top-level variables a prompt's templates read (includes and placeholders included).
    #[tracing::instrument(name = "prompt_manager.variables", skip_all, fields(reference = %reference, gen_ai.prompt.name, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn variables(&self, reference: &str) -> Result<BTreeSet<String>> {
        finish(
            async move {
                self.catch_up().await;
                let resolved = self.resolve(reference).await?;
                let mut vars = resolved.compiled.variables().clone();
                if let Template::Chat(items) = &resolved.version.prompt.template {
                    for item in items {
                        if let crate::model::ChatItem::Placeholder(p) = item {
                            vars.insert(p.variable.clone());
                        }
                    }
                }
                Ok(vars)
            }
            .await,
        )
    }

    // ----- rendering -----------------------------------------------------------------------

    /// Renders a text prompt to a string.
    #[tracing::instrument(name = "prompt_manager.render", skip_all, fields(reference = %reference, gen_ai.prompt.name, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn render(&self, reference: &str, vars: &Variables) -> Result<String> {
        finish(
            async move {
                let output = self
                    .render_observed(reference, vars, |resolved, vars| {
                        if resolved.version.prompt.format.is_chat() {
                            return Err(Error::Unsupported(format!(
                                "`{reference}` is a chat prompt; use render_chat to get its messages"
                            )));
                        }
                        self.render_output(resolved, vars)
                    })
                    .await?;
                match output {
                    RenderOutput::Text(text) => Ok(text),
                    RenderOutput::Messages(_) => Err(Error::Unsupported(format!("`{reference}` rendered to messages"))),
                }
            }
            .await,
        )
    }

    /// Renders a prompt to chat messages. A text prompt becomes one `user` message.
    #[tracing::instrument(name = "prompt_manager.render_chat", skip_all, fields(reference = %reference, gen_ai.prompt.name, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn render_chat(&self, reference: &str, vars: &Variables) -> Result<Vec<ChatMessage>> {
        finish(
            async move {
                match self
                    .render_observed(reference, vars, |r, v| self.render_output(r, v))
                    .await?
                {
                    RenderOutput::Messages(messages) => Ok(messages),
                    RenderOutput::Text(text) => Ok(vec![ChatMessage::new(crate::model::Role::User, text)]),
                }
            }
            .await,
        )
    }

    /// Renders a prompt and returns the output with its version and model configuration.
    #[tracing::instrument(name = "prompt_manager.render_prompt", skip_all, fields(reference = %reference, gen_ai.prompt.name, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn render_prompt(&self, reference: &str, vars: &Variables) -> Result<RenderedPrompt> {
        finish(
            async move {
                self.render_observed(reference, vars, |r, v| {
                    let output = self.render_output(r, v)?;
                    let version = &r.version;
                    Ok(RenderedPrompt {
                        id: version.prompt.id.clone(),
                        version: version.version.clone(),
                        format: version.prompt.format,
                        output,
                        model_config: version.prompt.model_config.clone(),
                        content_hash: version.content_hash.clone(),
                    })
                })
                .await
            }
            .await,
        )
    }

    /// Renders a prompt into the payload of a registered plugin (`openai`, `anthropic`, …).
    #[tracing::instrument(name = "prompt_manager.render_for", skip_all, fields(reference = %reference, plugin = %plugin, gen_ai.prompt.name, gen_ai.prompt.version, gen_ai.prompt.label, gen_ai.prompt.content_hash, outcome))]
    pub async fn render_for(&self, plugin: &str, reference: &str, vars: &Variables) -> Result<serde_json::Value> {
        finish(
            async move {
                let plugin = self
                    .plugin(plugin)
                    .ok_or_else(|| Error::NotFound(NotFound::Plugin(plugin.to_owned())))?;
                let rendered = self.render_prompt(reference, vars).await?;
                plugin.validate_compatibility(&rendered)?;
                plugin.render_for_framework(&rendered)
            }
            .await,
        )
    }

    /// Renders a resolution, through the rendered-output cache when it is on.
    fn render_output(&self, resolved: &Resolved, vars: &Variables) -> Result<RenderOutput> {
        record_resolved(resolved);
        match &self.inner.render_cache {
            // Archived prompts refuse to render even when an output is cached.
            Some(cache) if resolved.status != PromptStatus::Archived => {
                cache.get_or_render(resolved.id, vars, || resolved.render(vars))
            }
            _ => resolved.render(vars),
        }
    }

    async fn render_observed<T: OutputSize>(
        &self,
        reference: &str,
        vars: &Variables,
        render: impl FnOnce(&Resolved, &Variables) -> Result<T>,
    ) -> Result<T> {
        let observers = &self.inner.observers;
        if observers.is_empty() {
            return self.with_resolved(reference, |r| render(r, vars)).await?;
        }
        observers.each(|o| o.on_render_start(reference));
        let started = quanta::Instant::now();
        // The observers hear of the render where it happens, so only the result travels back up.
        let notify = |resolved: Option<&Resolved>, result: &Result<T>| {
            let execution = execution_of(reference, resolved, result, started);
            match result {
                Ok(_) => observers.each(|o| o.on_render_complete(&execution)),
                Err(error) => observers.each(|o| o.on_render_error(&execution, error)),
            }
        };
        // The resolution is borrowed from the registry on a hit, as on the unobserved path.
        let rendered = self
            .with_resolved(reference, |r| {
                let result = render(r, vars);
                notify(Some(r), &result);
                result
            })
            .await;
        match rendered {
            Ok(result) => result,
            Err(e) => {
                let result = Err(e);
                notify(None, &result);
                result
            }
        }
    }

    /// Runs `f` on the resolution of `reference`: borrowed from the registry on a hit, loaded and
    /// compiled on a miss.
    async fn with_resolved<T>(&self, reference: &str, f: impl FnOnce(&Resolved) -> T) -> Result<T> {
        self.catch_up().await;
        let mut f = Some(f);
        let hit = self.inner.registry.get_with(reference, |r| f.take().map(|f| f(r)));
        if let Some(Some(out)) = hit {
            return Ok(out);
        }
        // Boxed: the miss path's future (store reads, compiling, includes) is large, and without the
        // box every render would copy it around on the hit path, which never runs it.
        let resolved = Box::pin(self.resolve(reference)).await?;
        match f.take() {
            Some(f) => Ok(f(&resolved)),
            // `f` is only taken on a hit, which returned above.
            None => Err(Error::Unsupported(
                "internal: the registry consumed a render without a result".into(),
            )),
        }
    }

    /// Before serving from the registry: when the store's change feed polls (SQLite), reads it
    /// now, so that what the registry serves is as fresh as a read of the store — a render
    /// agrees with a `get` of the store made at the same moment. Other stores need nothing.
    async fn catch_up(&self) {
        if self.inner.store.catch_up_needed() {
            self.inner.store.catch_up().await;
        }
    }

    /// Resolves a reference through the registry, loading and compiling on a miss.
    async fn resolve(&self, reference: &str) -> Result<Arc<Resolved>> {
        if let Some(hit) = self.inner.registry.get(reference) {
            return Ok(hit);
        }
        let registry = &self.inner.registry;
        let parsed = PromptRef::parse(reference)?;
        // Taken before reading the store: a write that lands meanwhile invalidates this entry,
        // and the registry then refuses to cache what was read.
        let entry = registry.entry(&parsed.id);
        let loaded = match self.lookup(&parsed).await {
            Ok(found) => self.compile_version(&found.0).await.map(|compiled| (found, compiled)),
            Err(e) => Err(e),
        };
        let ((version, status), (compiled, deps)) = match loaded {
            Ok(done) => done,
            Err(e) => {
                registry.forget_if_unused(&parsed.id, &entry);
                return Err(e);
            }
        };
        if status == PromptStatus::Deprecated {
            tracing::warn!(
                prompt = %version.prompt.id,
                version = %version.version,
                "prompt `{}` is deprecated; move callers to its replacement",
                version.prompt.id
            );
        }
        let resolved = Arc::new(Resolved {
            id: RESOLUTION_IDS.fetch_add(1, Ordering::Relaxed),
            name: version.reference(),
            label: parsed.label().cloned(),
            version,
            status,
            compiled,
            deps,
        });
        registry.insert(&entry, reference, resolved.clone());
        Ok(resolved)
    }

    /// Finds the version a reference names, and the prompt's status.
    async fn lookup(&self, reference: &PromptRef) -> Result<(Arc<PromptVersion>, PromptStatus)> {
        let found = self.inner.store.resolve(reference).await?;
        Ok((found.version, found.status))
    }

    /// Compiles a version, resolving its includes; include-free templates are shared by content.
    async fn compile_version(
        &self,
        version: &PromptVersion,
    ) -> Result<(Arc<dyn CompiledTemplate>, Vec<(PromptId, u64)>)> {
        let prompt = &version.prompt;
        let name = version.reference();
        let parts = prompt.template.named_sources(&name);
        // Scanning for includes is cheap and does I/O only when there are some.
        let includes = self.collect_includes(&prompt.id, &name, &parts).await?;
        let registry = &self.inner.registry;
        let include_free = includes.templates.is_empty();
        if include_free && let Some(compiled) = registry.compiled(&name, &version.content_hash) {
            return Ok((compiled, Vec::new()));
        }
        let compiled = compile_parts(self.inner.engine.as_ref(), &name, &parts, &includes.templates)?;
        if include_free {
            registry.insert_compiled(&name, version.content_hash.clone(), compiled.clone());
        }
        Ok((compiled, includes.deps))
    }

    /// Checks that a prompt about to be saved as `version` compiles with its includes.
    /// An include-free template is kept, so the version's first render does not compile it again.
    async fn check_compiles(&self, prompt: &Prompt, version: &Version, hash: &ContentHash) -> Result<()> {
        let name = format!("{}@{}", prompt.id, version);
        let parts = prompt.template.named_sources(&name);
        let includes = self.collect_includes(&prompt.id, &name, &parts).await?;
        let compiled = compile_parts(self.inner.engine.as_ref(), &name, &parts, &includes.templates)?;
        // What every render would refuse (an unknown filter, a mutating method) is refused now,
        // with its place; stored versions are only compiled, so older ones keep loading.
        for (part, source) in &parts {
            self.inner.engine.check(part, source)?;
        }
        if includes.templates.is_empty() {
            self.inner.registry.insert_compiled(&name, hash.clone(), compiled);
        }
        Ok(())
    }

    async fn collect_includes(&self, root: &PromptId, name: &str, parts: &[(String, &str)]) -> Result<IncludeSet> {
        let mut set = IncludeSet::default();
        for (part, source) in parts {
            let mut path = vec![(root.clone(), name.to_owned())];
            for child in self.inner.engine.includes(part, source)? {
                self.visit_include(child, part, &mut path, &mut set).await?;
            }
        }
        Ok(set)
    }

    fn visit_include<'a>(
        &'a self,
        reference: String,
        includer: &'a str,
        path: &'a mut Vec<(PromptId, String)>,
        set: &'a mut IncludeSet,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let in_include = |e: Error| match e {
                Error::NotFound(_) | Error::InvalidReference { .. } | Error::InvalidId { .. } => Error::InvalidPrompt {
                    id: includer.to_owned(),
                    reason: format!("its include of `{reference}` failed: {e}"),
                },
                other => other,
            };
            let parsed = PromptRef::parse(&reference).map_err(in_include)?;
            if let Some(start) = path.iter().position(|(id, _)| *id == parsed.id) {
                let mut cycle: Vec<String> = path[start..].iter().map(|(_, r)| r.clone()).collect();
                cycle.push(reference);
                return Err(Error::IncludeCycle { cycle });
            }
            if set.seen.contains(&reference) {
                return Ok(());
            }
            if path.len() > MAX_INCLUDE_DEPTH {
                return Err(Error::Unsupported(format!(
                    "includes nest deeper than {MAX_INCLUDE_DEPTH} levels at `{reference}`"
                )));
            }
            let generation = self.inner.registry.entry(&parsed.id).generation;
            let (version, status) = self.lookup(&parsed).await.map_err(in_include)?;
            if status == PromptStatus::Archived {
                return Err(Error::Archived { id: parsed.id });
            }
            let Template::Text(source) = &version.prompt.template else {
                return Err(Error::Unsupported(format!(
                    "`{reference}` is a chat prompt and cannot be included; only text prompts can"
                )));
            };
            let exact = version.reference();
            path.push((parsed.id.clone(), reference.clone()));
            for child in self.inner.engine.includes(&exact, source)? {
                self.visit_include(child, &exact, path, set).await?;
            }
            path.pop();
            set.seen.insert(reference.clone());
            set.deps.push((parsed.id, generation));
            set.templates.push(IncludedTemplate {
                reference,
                resolved: exact,
                source: source.clone(),
            });
            Ok(())
        })
    }

    // ----- extensions ----------------------------------------------------------------------

    /// Adds an observer.
    pub fn add_observer(&self, observer: Arc<dyn Observer>) {
        warm_render_clock();
        self.inner.observers.add(observer);
    }

    /// Initializes a plugin with `config` and registers it under its name.
    pub async fn register_plugin(&self, plugin: Arc<dyn Plugin>, config: &serde_json::Value) -> Result<()> {
        let name = plugin.name().to_owned();
        let taken = || Error::Config(format!("a plugin named `{name}` is already registered"));
        if self.plugin(&name).is_some() {
            return Err(taken());
        }
        plugin.initialize(config).await?;
        let mut plugins = match self.inner.plugins.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Checked again under the lock: another registration may have won while this one initialized.
        if plugins.contains_key(&name) {
            return Err(taken());
        }
        plugins.insert(name, plugin);
        Ok(())
    }

    /// A registered plugin.
    pub fn plugin(&self, name: &str) -> Option<Arc<dyn Plugin>> {
        match self.inner.plugins.read() {
            Ok(p) => p.get(name).cloned(),
            Err(poisoned) => poisoned.into_inner().get(name).cloned(),
        }
    }

    /// The names of the registered plugins.
    pub fn plugin_names(&self) -> Vec<String> {
        match self.inner.plugins.read() {
            Ok(p) => p.keys().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().keys().cloned().collect(),
        }
    }

    /// Shuts every plugin down; the first failure is returned after all were asked.
    pub async fn shutdown(&self) -> Result<()> {
        let plugins: Vec<_> = match self.inner.plugins.read() {
            Ok(p) => p.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        let mut first = None;
        for plugin in plugins {
            if let Err(e) = plugin.shutdown().await {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn each_observer(&self, f: impl Fn(&dyn Observer)) {
        self.inner.observers.each(f);
    }
}

/// The observers: those the builder was given, read on every render without a lock or a
/// reference count, then those added to the running manager.
struct Observers {
    fixed: Box<[Arc<dyn Observer>]>,
    added: RwLock<Arc<[Arc<dyn Observer>]>>,
    /// Whether `added` holds any: read on every render without touching the lock.
    has_added: AtomicBool,
}

impl Observers {
    fn new(fixed: Vec<Arc<dyn Observer>>) -> Self {
        Observers {
            fixed: fixed.into(),
            added: RwLock::new(Arc::from(Vec::new())),
            has_added: AtomicBool::new(false),
        }
    }

    fn is_empty(&self) -> bool {
        self.fixed.is_empty() && !self.has_added.load(Ordering::Acquire)
    }

    fn add(&self, observer: Arc<dyn Observer>) {
        let mut guard = match self.added.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut all: Vec<_> = guard.iter().cloned().collect();
        all.push(observer);
        *guard = all.into();
        self.has_added.store(true, Ordering::Release);
    }

    /// Calls `f` on every observer, in the order they were added; a panicking observer is logged
    /// and skipped.
    fn each(&self, f: impl Fn(&dyn Observer)) {
        for o in self.fixed.iter() {
            guard_observer(|| f(o.as_ref()));
        }
        if self.has_added.load(Ordering::Acquire) {
            let added = match self.added.read() {
                Ok(o) => o.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            };
            for o in added.iter() {
                guard_observer(|| f(o.as_ref()));
            }
        }
    }
}

/// The record of one render for the observers: what `reference` resolved to, if it did, and how
/// the render went.
fn execution_of<'a, T: OutputSize>(
    reference: &'a str,
    resolved: Option<&'a Resolved>,
    result: &Result<T>,
    started: quanta::Instant,
) -> PromptExecution<'a> {
    let output_bytes = result.as_ref().map_or(0, OutputSize::size);
    PromptExecution {
        id: next_execution_id(),
        reference,
        prompt_id: resolved.map(|r| &r.version.prompt.id),
        version: resolved.map(|r| &r.version.version),
        label: resolved.and_then(|r| r.label.as_ref()),
        duration: started.elapsed(),
        error: result.as_ref().err().map(|e| e.code().into()),
        output_bytes,
        token_estimate: output_bytes.div_ceil(4),
    }
}

/// Observed renders are timed with the TSC (quanta), which calibrates itself against the OS clock
/// on first use (about half a millisecond): pay that when observers are attached, not on a render.
fn warm_render_clock() {
    let _ = quanta::Instant::now();
}

/// A process-unique render id. Each thread takes a block of ids from the shared counter and
/// hands them out without touching shared memory until the block is spent.
fn next_execution_id() -> u64 {
    const BLOCK: u64 = 1024;
    thread_local! {
        static NEXT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    NEXT.with(|next| {
        let (id, end) = next.get();
        if id < end {
            next.set((id + 1, end));
            id
        } else {
            let start = EXECUTION_IDS.fetch_add(BLOCK, Ordering::Relaxed);
            next.set((start + 1, start + BLOCK));
            start
        }
    })
}

/// Compiles the named parts of one version with the engine.
fn compile_parts(
    engine: &dyn TemplateEngine,
    name: &str,
    parts: &[(String, &str)],
    includes: &[IncludedTemplate],
) -> Result<Arc<dyn CompiledTemplate>> {
    let sources: Vec<&str> = parts.iter().map(|(_, s)| *s).collect();
    let part_names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
    engine.compile(CompileUnit {
        name,
        sources: &sources,
        part_names: &part_names,
        includes,
    })
}

fn guard_observer(f: impl FnOnce()) {
    if std::panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("an observer panicked; the render goes on");
    }
}

fn parse_version(input: &str) -> Result<Version> {
    Version::parse(input).map_err(|e| Error::InvalidReference {
        input: input.to_owned(),
        reason: format!("`{input}` is not a full version (like 1.2.0): {e}"),
    })
}

/// From a label's history, the current target and the one a rollback returns to.
///
/// Replays the events as a stack: a set pushes, a rollback pops, a removal clears.
pub fn rollback_target(history: &[LabelEvent]) -> Option<(Version, Version)> {
    let mut stack: Vec<Version> = Vec::new();
    for event in history {
        match (event.kind, &event.to) {
            (LabelEventKind::Remove, _) | (_, None) => stack.clear(),
            (LabelEventKind::Set, Some(to)) => {
                if stack.last() != Some(to) {
                    stack.push(to.clone());
                }
            }
            (LabelEventKind::Rollback, Some(to)) => {
                // Back to where the label pointed before; if the history does not say so (a
                // hand-made rollback), pop until it does, or start over from `to`.
                while stack.last().is_some_and(|top| top != to) {
                    stack.pop();
                }
                if stack.is_empty() {
                    stack.push(to.clone());
                }
            }
        }
    }
    let n = stack.len();
    (n >= 2).then(|| (stack[n - 1].clone(), stack[n - 2].clone()))
}

trait OutputSize {
    fn size(&self) -> usize;
}

impl OutputSize for RenderOutput {
    fn size(&self) -> usize {
        self.len_bytes()
    }
}

impl OutputSize for RenderedPrompt {
    fn size(&self) -> usize {
        self.output.len_bytes()
    }
}

impl OutputSize for String {
    fn size(&self) -> usize {
        self.len()
    }
}

impl OutputSize for Vec<ChatMessage> {
    fn size(&self) -> usize {
        self.iter().map(|m| m.content.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: LabelEventKind, to: &str) -> LabelEvent {
        LabelEvent {
            label: LabelName::new("production").expect("valid"),
            from: None,
            to: Version::parse(to).ok(),
            kind,
            actor: None,
            at: Utc::now(),
        }
    }

    #[test]
    fn rollbacks_walk_back_through_the_history() {
        use LabelEventKind::*;
        let mut history = vec![ev(Set, "1.0.0"), ev(Set, "1.1.0"), ev(Set, "2.0.0")];
        let (cur, target) = rollback_target(&history).expect("has history");
        assert_eq!((cur.to_string(), target.to_string()), ("2.0.0".into(), "1.1.0".into()));
        history.push(ev(Rollback, "1.1.0"));
        let (cur, target) = rollback_target(&history).expect("still has history");
        assert_eq!((cur.to_string(), target.to_string()), ("1.1.0".into(), "1.0.0".into()));
        history.push(ev(Rollback, "1.0.0"));
        assert_eq!(rollback_target(&history), None);
        let hand_made = vec![
            ev(Set, "1.0.0"),
            ev(Set, "2.0.0"),
            ev(Set, "3.0.0"),
            ev(Rollback, "1.0.0"),
        ];
        assert_eq!(
            rollback_target(&hand_made),
            None,
            "a rollback straight to 1.0.0 leaves nothing before it"
        );
        let repeated = vec![ev(Set, "1.0.0"), ev(Set, "2.0.0"), ev(Set, "2.0.0")];
        let (cur, target) = rollback_target(&repeated).expect("has history");
        assert_eq!((cur.to_string(), target.to_string()), ("2.0.0".into(), "1.0.0".into()));
        history.push(ev(Remove, "x"));
        history.push(ev(Set, "2.0.0"));
        assert_eq!(rollback_target(&history), None);
    }
}
