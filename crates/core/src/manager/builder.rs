//! [`PromptManagerBuilder`]: how a [`PromptManager`] is put together, and the listener that keeps
//! its registry fresh when the store reports writes made elsewhere.

use std::sync::{Arc, RwLock};

use crate::cache::{RenderCache, RenderCacheConfig};
use crate::engine::{Engines, TemplateEngine};
use crate::error::{Error, Result};
use crate::id::PromptId;
use crate::observer::Observer;
use crate::plugin::Plugin;
use crate::registry::Registry;
use crate::store::Store;
use crate::tokens::{PriceBook, TokenCounter};
use crate::usage::{Recorder, UsageConfig};

use super::extensions::{Observers, warm_render_clock};
use super::{Inner, PromptManager};

/// Builds a [`PromptManager`]. A store and an engine are required; the `prompt-manager` umbrella
/// crate's `builder()` fills in the in-memory store and the minijinja engine.
#[derive(Default)]
pub struct PromptManagerBuilder {
    store: Option<Arc<dyn Store>>,
    engines: Engines,
    observers: Vec<Arc<dyn Observer>>,
    actor: Option<String>,
    render_cache: Option<RenderCacheConfig>,
    plugins: Vec<Arc<dyn Plugin>>,
    /// `None`: the default (watch).
    watch: Option<bool>,
    tokens: Option<Arc<dyn TokenCounter>>,
    prices: Option<Arc<dyn PriceBook>>,
    usage: Option<UsageConfig>,
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

    /// Counts input tokens with this counter (the umbrella crate sets `prompt-manager-cost`'s).
    pub fn token_counter(mut self, counter: Arc<dyn TokenCounter>) -> Self {
        self.tokens = Some(counter);
        self
    }

    /// Prices tokens with this price book (the umbrella crate sets `prompt-manager-cost`'s).
    pub fn prices(mut self, prices: Arc<dyn PriceBook>) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Records every render into usage aggregates (per prompt, version, label and minute) in
    /// memory, written to the store by [`PromptManager::flush_usage`] — which a flusher calls
    /// every [`UsageConfig::flush_interval`] (the umbrella crate's `UsageFlusher`, the server).
    /// Renders then return a render id ([`RenderedPrompt::render_id`](crate::RenderedPrompt::render_id))
    /// to report usage and feedback with. Off by default; the store must keep usage records
    /// ([`StorageBackend::records_usage`](crate::StorageBackend::records_usage)) for flushes to succeed.
    pub fn usage(mut self, config: UsageConfig) -> Self {
        self.usage = Some(config);
        self
    }

    /// Uses this store.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Uses this template engine for the prompts written in its syntax
    /// ([`TemplateEngine::syntax`]), in place of one given before for that syntax. Call it once
    /// per syntax to serve several (Jinja and Handlebars).
    pub fn engine(mut self, engine: Arc<dyn TemplateEngine>) -> Self {
        self.engines.insert(engine);
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

    /// Whether to listen to the store's change feed ([`StorageBackend::watch`](crate::StorageBackend::watch)),
    /// so that writes made through other handles (other processes, other instances on one
    /// database) reach the registry. On by default: a long-lived manager needs it. A one-shot
    /// command that reads once and exits turns it off, and the store starts no listener (SQLite
    /// polls its change log; PostgreSQL holds a `LISTEN` connection). Without it the registry is
    /// still exact for this handle's own writes, and [`PromptManager::refresh`] drops what others
    /// changed.
    pub fn watch_store(mut self, watch: bool) -> Self {
        self.watch = Some(watch);
        self
    }

    /// Builds the manager.
    pub fn build(self) -> Result<PromptManager> {
        let store = self
            .store
            .ok_or_else(|| Error::Config("no store configured; call .store(…)".into()))?;
        let engine = self
            .engines
            .default_engine()
            .cloned()
            .ok_or_else(|| Error::Config("no template engine configured; call .engine(…)".into()))?;
        if !self.observers.is_empty() || self.usage.is_some() {
            warm_render_clock();
        }
        let sampling = self.tokens.is_some();
        let manager = PromptManager {
            inner: Arc::new(Inner {
                store,
                engine,
                engines: self.engines,
                registry: Registry::default(),
                observers: Observers::new(self.observers),
                plugins: RwLock::new(self.plugins.into_iter().map(|p| (p.name().to_owned(), p)).collect()),
                render_cache: self.render_cache.map(RenderCache::new),
                watching: std::sync::atomic::AtomicBool::new(false),
                tokens: self.tokens,
                prices: self.prices,
                usage: self.usage.map(|config| Recorder::new(config, sampling)),
                subscribers: RwLock::new(Vec::new()),
            }),
            actor: self.actor.map(Arc::from),
            authority: crate::store::Authority::User,
        };
        // Writes by other processes or instances reach the registry when the store can tell.
        // The listener holds the manager weakly: the store (which the manager owns) keeps it.
        let listener = Arc::new(RegistryInvalidator(Arc::downgrade(&manager.inner)));
        if self.watch.unwrap_or(true) && manager.inner.store.watch(listener) {
            manager.inner.watching.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(
                backend = manager.inner.store.backend_name(),
                "watching the store for changes made elsewhere"
            );
        }
        Ok(manager)
    }
}

/// Drops what the registry cached about prompts the store reports changed elsewhere, and tells
/// the manager's subscribers. The rendered-output cache needs nothing: its keys are resolutions,
/// which the registry renews.
struct RegistryInvalidator(std::sync::Weak<Inner>);

impl crate::store::ChangeListener for RegistryInvalidator {
    fn changed(&self, id: &PromptId) {
        if let Some(inner) = self.0.upgrade() {
            inner.changed(id);
        }
    }

    fn lost(&self) {
        if let Some(inner) = self.0.upgrade() {
            inner.lost();
        }
    }
}
