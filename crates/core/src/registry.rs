//! The in-process registry: resolved, compiled prompt versions keyed by the reference string
//! callers use, so a warm render is one lock-free map lookup.
//!
//! Exactness: every write through the manager invalidates the prompt's entries *after* the store
//! committed. A resolution that raced with a write is never kept: the registry's epoch moves on
//! every invalidation and an insert made under an older epoch is withdrawn. A prompt that includes
//! others records the generation of each dependency and is re-resolved when one has moved.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::CompiledTemplate;
use crate::id::PromptId;
use crate::model::ContentHash;
use crate::render::Resolved;

#[derive(Debug)]
struct Entry {
    generation: u64,
    /// Reference strings cached for this prompt, removed on invalidation.
    keys: Mutex<Vec<Box<str>>>,
}

/// Maps keyed by strings callers send; foldhash is fast on short keys and randomly seeded per process.
type Map<K, V> = papaya::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
pub(crate) struct Registry {
    resolved: Map<Box<str>, Arc<Resolved>>,
    entries: Map<PromptId, Arc<Entry>>,
    /// Compiled templates without includes, by content: equal content compiles once, and
    /// content-addressed entries can never be stale.
    compiled: Map<ContentHash, Arc<dyn CompiledTemplate>>,
    epoch: AtomicU64,
    generations: AtomicU64,
}

impl Registry {
    /// The cached resolution of `reference`, if it is still current.
    pub(crate) fn get(&self, reference: &str) -> Option<Arc<Resolved>> {
        self.get_with(reference, |r| r.clone())
    }

    /// Runs `f` on the cached resolution of `reference`, if it is still current. The resolution
    /// is borrowed, not cloned, so a hit touches no reference count.
    pub(crate) fn get_with<R>(&self, reference: &str, f: impl FnOnce(&Arc<Resolved>) -> R) -> Option<R> {
        let map = self.resolved.pin();
        let resolved = map.get(reference)?;
        if resolved.deps.is_empty() || self.deps_current(resolved) {
            Some(f(resolved))
        } else {
            None
        }
    }

    fn deps_current(&self, resolved: &Resolved) -> bool {
        let entries = self.entries.pin();
        resolved
            .deps
            .iter()
            .all(|(id, generation)| entries.get(id.as_str()).is_some_and(|e| e.generation == *generation))
    }

    /// Read before loading from the store; pass to [`Registry::insert`].
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// The current generation of a prompt's entry, creating the entry if needed.
    pub(crate) fn generation(&self, id: &PromptId) -> u64 {
        self.entry(id).generation
    }

    fn entry(&self, id: &PromptId) -> Arc<Entry> {
        self.entries
            .pin()
            .get_or_insert_with(id.clone(), || {
                Arc::new(Entry {
                    generation: self.generations.fetch_add(1, Ordering::Relaxed),
                    keys: Mutex::new(Vec::new()),
                })
            })
            .clone()
    }

    /// Caches a resolution made under `epoch`; withdrawn if a write happened since.
    pub(crate) fn insert(&self, reference: &str, resolved: Arc<Resolved>, epoch: u64) {
        let entry = self.entry(&resolved.version.prompt.id);
        let key: Box<str> = reference.into();
        match entry.keys.lock() {
            Ok(mut keys) => keys.push(key.clone()),
            // A poisoned list cannot be trusted for invalidation: do not cache.
            Err(_) => return,
        }
        let map = self.resolved.pin();
        map.insert(key, resolved);
        if self.epoch.load(Ordering::SeqCst) != epoch {
            map.remove(reference);
        }
    }

    /// Forgets everything cached about `id`. Call after the store committed a change.
    pub(crate) fn invalidate(&self, id: &PromptId) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let removed = self.entries.pin().remove(id.as_str()).cloned();
        if let Some(entry) = removed {
            let keys = match entry.keys.lock() {
                Ok(mut keys) => std::mem::take(&mut *keys),
                Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
            };
            let map = self.resolved.pin();
            for key in keys {
                map.remove(&key);
            }
        }
    }

    pub(crate) fn compiled(&self, hash: &ContentHash) -> Option<Arc<dyn CompiledTemplate>> {
        self.compiled.pin().get(hash).cloned()
    }

    pub(crate) fn insert_compiled(&self, hash: ContentHash, compiled: Arc<dyn CompiledTemplate>) {
        self.compiled.pin().insert(hash, compiled);
    }

    /// How many references are cached.
    pub(crate) fn len(&self) -> usize {
        self.resolved.len()
    }
}
