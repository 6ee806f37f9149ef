//! The in-process registry: resolved, compiled prompt versions keyed by the reference string
//! callers use, so a warm render is one lock-free map lookup.
//!
//! Exactness: every write through the manager invalidates the prompt *after* the store committed.
//! A resolution holds the prompt's [`Entry`] from before it read the store; it is cached only if
//! that entry has not been invalidated meanwhile, and caching and invalidation take the entry's
//! lock, so a resolution that raced with a write can never be cached — not even for an instant.
//! A prompt that includes others records the generation of each dependency's entry and is
//! re-resolved when one has moved. Writes to other prompts never disturb a resolution.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::engine::CompiledTemplate;
use crate::id::PromptId;
use crate::model::ContentHash;
use crate::render::Resolved;

/// What the registry knows about one prompt; replaced by a fresh entry on every invalidation.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) generation: u64,
    state: Mutex<EntryState>,
}

#[derive(Debug, Default)]
struct EntryState {
    invalidated: bool,
    /// Reference strings cached for this prompt, removed on invalidation.
    keys: Vec<Box<str>>,
}

impl Entry {
    fn lock(&self) -> MutexGuard<'_, EntryState> {
        // The state is a flag and a list of keys, consistent after any panic.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Maps keyed by strings callers send; foldhash is fast on short keys and randomly seeded per process.
type Map<K, V> = papaya::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
pub(crate) struct Registry {
    resolved: Map<Box<str>, Arc<Resolved>>,
    entries: Map<PromptId, Arc<Entry>>,
    /// Compiled templates without includes, by exact version and content: compiled once, and
    /// never stale (a deleted and recreated version has another content hash or is recompiled).
    compiled: Map<(Box<str>, ContentHash), Arc<dyn CompiledTemplate>>,
    generations: AtomicU64,
}

impl Registry {
    /// The cached resolution of `reference`, if it is still current.
    pub(crate) fn get(&self, reference: &str) -> Option<Arc<Resolved>> {
        self.get_with(reference, Arc::clone)
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

    /// The prompt's current entry, created if needed. Take it *before* reading the store.
    pub(crate) fn entry(&self, id: &PromptId) -> Arc<Entry> {
        self.entries
            .pin()
            .get_or_insert_with(id.clone(), || {
                Arc::new(Entry {
                    generation: self.generations.fetch_add(1, Ordering::Relaxed),
                    state: Mutex::new(EntryState::default()),
                })
            })
            .clone()
    }

    /// Caches a resolution made under `entry`, unless the prompt was invalidated meanwhile.
    pub(crate) fn insert(&self, entry: &Entry, reference: &str, resolved: Arc<Resolved>) {
        let mut state = entry.lock();
        if state.invalidated {
            return;
        }
        if !state.keys.iter().any(|k| &**k == reference) {
            state.keys.push(reference.into());
        }
        self.resolved.pin().insert(reference.into(), resolved);
    }

    /// Drops an entry that cached nothing (a lookup of a prompt that does not exist), so unknown
    /// ids do not accumulate.
    pub(crate) fn forget_if_unused(&self, id: &PromptId, entry: &Arc<Entry>) {
        let state = entry.lock();
        if state.keys.is_empty() && !state.invalidated {
            let _ = self.entries.pin().remove_if(id.as_str(), |_, e| Arc::ptr_eq(e, entry));
        }
    }

    /// Forgets everything cached about `id`. Call after the store committed a change.
    pub(crate) fn invalidate(&self, id: &PromptId) {
        let removed = self.entries.pin().remove(id.as_str()).cloned();
        if let Some(entry) = removed {
            let mut state = entry.lock();
            state.invalidated = true;
            let map = self.resolved.pin();
            for key in state.keys.drain(..) {
                map.remove(&key);
            }
        }
    }

    /// Forgets everything cached about every prompt (after changes may have been missed).
    pub(crate) fn invalidate_all(&self) {
        let ids: Vec<PromptId> = self.entries.pin().keys().cloned().collect();
        for id in &ids {
            self.invalidate(id);
        }
    }

    pub(crate) fn compiled(&self, name: &str, hash: &ContentHash) -> Option<Arc<dyn CompiledTemplate>> {
        self.compiled
            .pin()
            .get(&(Box::<str>::from(name), hash.clone()))
            .cloned()
    }

    pub(crate) fn insert_compiled(&self, name: &str, hash: ContentHash, compiled: Arc<dyn CompiledTemplate>) {
        self.compiled.pin().insert((name.into(), hash), compiled);
    }

    /// Drops compiled templates of a deleted prompt.
    pub(crate) fn forget_compiled(&self, id: &PromptId) {
        let prefix = format!("{id}@");
        self.compiled.pin().retain(|(name, _), _| !name.starts_with(&prefix));
    }

    /// How many references are cached.
    pub(crate) fn len(&self) -> usize {
        self.resolved.len()
    }

    /// How many prompts have an entry.
    pub(crate) fn prompts(&self) -> usize {
        self.entries.len()
    }
}
