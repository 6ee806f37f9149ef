//! Extensions of a running manager: observers (told of renders, versions and label moves; a
//! panicking observer is logged and skipped) and plugins (framework payloads).

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::{Error, Result};
use crate::observer::Observer;
use crate::plugin::Plugin;

use super::PromptManager;

impl PromptManager {
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

    pub(super) fn each_observer(&self, f: impl Fn(&dyn Observer)) {
        self.inner.observers.each(f);
    }
}

/// The observers: those the builder was given, read on every render without a lock or a
/// reference count, then those added to the running manager.
pub(super) struct Observers {
    fixed: Box<[Arc<dyn Observer>]>,
    added: RwLock<Arc<[Arc<dyn Observer>]>>,
    /// Whether `added` holds any: read on every render without touching the lock.
    has_added: AtomicBool,
}

impl Observers {
    pub(super) fn new(fixed: Vec<Arc<dyn Observer>>) -> Self {
        Observers {
            fixed: fixed.into(),
            added: RwLock::new(Arc::from(Vec::new())),
            has_added: AtomicBool::new(false),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.fixed.is_empty() && !self.has_added.load(Ordering::Acquire)
    }

    pub(super) fn add(&self, observer: Arc<dyn Observer>) {
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
    pub(super) fn each(&self, f: impl Fn(&dyn Observer)) {
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

/// Observed renders are timed with the TSC (quanta), which calibrates itself against the OS clock
/// on first use (about half a millisecond): pay that when observers are attached, not on a render.
pub(super) fn warm_render_clock() {
    let _ = quanta::Instant::now();
}

fn guard_observer(f: impl FnOnce()) {
    if std::panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("an observer panicked; the render goes on");
    }
}
