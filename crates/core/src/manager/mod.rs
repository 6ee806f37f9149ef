//! [`PromptManager`]: the orchestration of a store, a template engine, the registry, observers
//! and plugins. It needs only traits, so it lives in core; the umbrella crate wires defaults.
//!
//! The manager is one type whose methods are spread over this folder by what they do:
//!
//! | module | holds |
//! |---|---|
//! | `options` | the options structs and the argument traits ([`IntoPromptId`], …) |
//! | `builder` | [`PromptManagerBuilder`], and the listener that keeps the registry fresh |
//! | `write` | create, update, imports (`save_all`), the acting handle |
//! | `labels` | label moves, rollbacks, status changes, deletion |
//! | `read` | get, summary, listing, histories, variables |
//! | `render` | the render methods and the observed-render path |
//! | `resolve` | references → compiled versions: lookups, compiling, includes |
//! | `extensions` | observers and plugins |
//! | `governance` | authority, protected labels, the audit log, impact analysis (dependents) |
//! | `usage` | flushing usage records, reports and feedback by render id, analytics |
//!
//! Every public operation runs inside one tracing span opened by [`operation_span!`] and finished
//! by [`PromptManager::traced`], which records the prompt attributes and the outcome.

mod builder;
mod extensions;
mod governance;
mod labels;
mod options;
mod read;
mod render;
mod resolve;
mod usage;
mod write;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use tracing::Instrument;

use crate::cache::RenderCache;
use crate::engine::{Engines, TemplateEngine};
use crate::error::Result;
use crate::id::PromptId;
use crate::model::{LabelEvent, Prompt, PromptVersion, TemplateSyntax};
use crate::plugin::Plugin;
use crate::registry::Registry;
use crate::store::Store;

pub use builder::PromptManagerBuilder;
use extensions::Observers;
pub use governance::{AuditReport, Dependent, IncludeKind};
pub use labels::{rollback_assignment, rollback_target};
pub use options::{
    CreateOptions, IntoLabelName, IntoPromptId, IntoVersion, LabelOptions, MAX_INCLUDE_DEPTH, MAX_UPDATE_ATTEMPTS,
    RenderOptions, SplitOptions, UpdateOptions,
};

/// Opens the span of one manager operation, at INFO: its name, the fields given, and the fields
/// every operation may record later (the `gen_ai.prompt.*` attributes and `outcome`).
macro_rules! operation_span {
    ($name:literal $(, $($field:tt)+)?) => {
        tracing::info_span!(
            $name,
            $($($field)+,)?
            gen_ai.prompt.name = tracing::field::Empty,
            gen_ai.prompt.version = tracing::field::Empty,
            gen_ai.prompt.label = tracing::field::Empty,
            gen_ai.prompt.content_hash = tracing::field::Empty,
            outcome = tracing::field::Empty,
        )
    };
}
use operation_span;

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
    /// For a store that can answer from copies (the `http://` store): how many reads its
    /// server, its disk cache and its bundle answered.
    pub store_reads: Option<crate::ReadSources>,
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
    /// What this handle may do to protected labels ([`PromptManager::with_authority`]).
    authority: crate::store::Authority,
}

struct Inner {
    store: Arc<dyn Store>,
    engine: Arc<dyn TemplateEngine>,
    /// Every engine, one per syntax (`engine` among them).
    engines: Engines,
    registry: Registry,
    observers: Observers,
    plugins: RwLock<BTreeMap<String, Arc<dyn Plugin>>>,
    render_cache: Option<RenderCache>,
    /// Whether the store reports writes made elsewhere to the registry.
    watching: std::sync::atomic::AtomicBool,
    tokens: Option<Arc<dyn crate::tokens::TokenCounter>>,
    prices: Option<Arc<dyn crate::tokens::PriceBook>>,
    /// The usage recorder, when renders are recorded.
    usage: Option<crate::usage::Recorder>,
    /// Who hears of changes ([`PromptManager::subscribe_changes`]).
    subscribers: RwLock<Vec<Arc<dyn crate::store::ChangeListener>>>,
}

impl Inner {
    /// Prompt `id` changed (a write through this manager, or one the store's feed reported):
    /// forget what the registry holds of it and tell the subscribers.
    fn changed(&self, id: &PromptId) {
        self.registry.invalidate(id);
        for subscriber in self.subscribers.read().unwrap_or_else(|e| e.into_inner()).iter() {
            subscriber.changed(id);
        }
    }

    /// The store's feed was interrupted: forget everything and tell the subscribers.
    fn lost(&self) {
        self.registry.invalidate_all();
        for subscriber in self.subscribers.read().unwrap_or_else(|e| e.into_inner()).iter() {
            subscriber.lost();
        }
    }
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

/// Records the prompt an operation is about on the current span.
fn record_prompt(id: &PromptId) {
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("gen_ai.prompt.name", tracing::field::display(id));
    }
}

/// Records the label an operation is about on the current span.
fn record_label(label: &crate::id::LabelName) {
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        span.record("gen_ai.prompt.label", label.as_str());
    }
}

/// Records the outcome of the current operation's span: `ok`, or the error's code.
fn record_outcome<T>(result: &Result<T>) {
    // The operation spans are at INFO: below that, there is no span to record on, and looking up
    // the current one is the most expensive part of a cache hit.
    if !tracing::level_enabled!(tracing::Level::INFO) {
        return;
    }
    let span = tracing::Span::current();
    if !span.is_disabled() {
        match result {
            Ok(_) => span.record("outcome", "ok"),
            Err(e) => span.record("outcome", e.code()),
        };
    }
}

impl PromptManager {
    /// Runs one operation inside its span (from [`operation_span!`]) and records its outcome:
    /// the one instrumentation of every public method.
    async fn traced<T>(span: tracing::Span, operation: impl Future<Output = Result<T>>) -> Result<T> {
        // As `#[tracing::instrument]` does: with no subscriber listening, no span to enter on
        // every poll and no outcome to record (a registry hit is ~200 ns; this is a fifth of it).
        if span.is_disabled() {
            return operation.await;
        }
        async move {
            let result = operation.await;
            record_outcome(&result);
            result
        }
        .instrument(span)
        .await
    }
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
            store_reads: self.inner.store.read_sources(),
        }
    }

    /// Whether the manager listens to its store's change feed: the builder asked for it
    /// ([`PromptManagerBuilder::watch_store`]) and the store has one (SQLite, PostgreSQL).
    pub fn watches_store(&self) -> bool {
        self.inner.watching.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The default template engine (Jinja's, when one is configured).
    pub fn engine(&self) -> &Arc<dyn TemplateEngine> {
        &self.inner.engine
    }

    /// The engine for prompts written in `syntax`; an error naming the syntax when this
    /// manager has none (a build without the `handlebars` feature).
    pub fn engine_for(&self, syntax: TemplateSyntax) -> Result<&Arc<dyn TemplateEngine>> {
        self.inner.engines.get(syntax)
    }

    /// Every engine, one per syntax, for tools that read prompts of any syntax.
    pub fn engines(&self) -> &Engines {
        &self.inner.engines
    }

    /// The engine for `prompt`'s syntax ([`engine_for`](Self::engine_for)).
    pub fn engine_of(&self, prompt: &Prompt) -> Result<&Arc<dyn TemplateEngine>> {
        self.engine_for(prompt.syntax)
    }

    /// The token counter, when one is configured ([`PromptManagerBuilder::token_counter`]).
    pub fn token_counter(&self) -> Option<&Arc<dyn crate::tokens::TokenCounter>> {
        self.inner.tokens.as_ref()
    }

    /// The price book, when one is configured ([`PromptManagerBuilder::prices`]).
    pub fn prices(&self) -> Option<&Arc<dyn crate::tokens::PriceBook>> {
        self.inner.prices.as_ref()
    }
}
