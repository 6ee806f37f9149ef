//! The optional rendered-output cache: the output of a render, keyed by the exact resolution it
//! was rendered from and the variables it was rendered with.
//!
//! Exactness comes from the key, not from invalidation: every resolution the registry builds
//! gets a new id, and any write that could change a render (a new version, a moved label, a
//! status change, a moved include) makes the registry build a new resolution. An entry of an old
//! resolution can never be found again; it only waits to be evicted by size or age. The variables
//! are hashed for the key and compared in full on a hit, so a hash collision is a miss, never a
//! wrong answer.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use serde_json::Value;

use crate::model::RenderOutput;
use crate::variables::Variables;

/// Settings of the rendered-output cache ([`PromptManagerBuilder::render_cache`](crate::PromptManagerBuilder::render_cache)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderCacheConfig {
    /// The most bytes of rendered output (and variables) kept; older, less used entries go first.
    pub max_bytes: u64,
    /// How long an entry may be served after it was rendered.
    pub ttl: Duration,
}

impl Default for RenderCacheConfig {
    /// 64 MiB, five minutes.
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            ttl: Duration::from_secs(300),
        }
    }
}

/// `(resolution id, hash of the variables)`.
type Key = (u64, u64);

#[derive(Debug)]
struct Entry {
    variables: Variables,
    output: RenderOutput,
    /// From the coarse clock (a few milliseconds of resolution): read on every hit, it costs a few
    /// nanoseconds where `std::time::Instant` costs about twenty.
    rendered_at: coarsetime::Instant,
    weight: u64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Arc<Entry>> for ByBytes {
    fn weight(&self, _key: &Key, entry: &Arc<Entry>) -> u64 {
        entry.weight
    }
}

/// The cache and its counters.
pub(crate) struct RenderCache {
    entries: Cache<Key, Arc<Entry>, ByBytes>,
    /// On the coarse clock, as the entries' times.
    ttl: coarsetime::Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    hasher: foldhash::fast::FixedState,
}

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderCache")
            .field("entries", &self.entries.len())
            .field("bytes", &self.entries.weight())
            .field("ttl", &std::time::Duration::from(self.ttl))
            .finish()
    }
}

impl RenderCache {
    pub(crate) fn new(config: RenderCacheConfig) -> Self {
        // quick_cache sizes its tables from an estimate of the number of items.
        let estimated_items = usize::try_from((config.max_bytes / 512).clamp(64, 1 << 20)).unwrap_or(1 << 20);
        Self {
            entries: Cache::with_weighter(estimated_items, config.max_bytes.max(1), ByBytes),
            ttl: coarsetime::Duration::from(config.ttl),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            hasher: foldhash::fast::FixedState::with_seed(0x7072_6f6d_7074),
        }
    }

    /// The cached output of rendering resolution `resolution` with `vars`, or a fresh one from
    /// `render` (cached when it succeeds).
    pub(crate) fn get_or_render(
        &self,
        resolution: u64,
        vars: &Variables,
        render: impl FnOnce() -> crate::Result<RenderOutput>,
    ) -> crate::Result<RenderOutput> {
        let key = (resolution, self.hash(vars));
        if let Some(entry) = self.entries.get(&key)
            && entry.rendered_at.elapsed() < self.ttl
            && entry.variables == *vars
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(entry.output.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let output = render()?;
        let weight = output_bytes(&output) + approximate_bytes(vars) + 64;
        self.entries.insert(
            key,
            Arc::new(Entry {
                variables: vars.clone(),
                output: output.clone(),
                rendered_at: coarsetime::Instant::now(),
                weight,
            }),
        );
        Ok(output)
    }

    /// `(hits, misses, entries, bytes)`.
    pub(crate) fn stats(&self) -> (u64, u64, usize, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            self.entries.len(),
            self.entries.weight(),
        )
    }

    fn hash(&self, vars: &Variables) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        for (name, value) in vars.iter() {
            name.hash(&mut hasher);
            hash_value(value, &mut hasher);
        }
        hasher.finish()
    }
}

/// Hashes a JSON value, with a tag per type so `"1"` and `1` differ.
fn hash_value(value: &Value, h: &mut impl Hasher) {
    match value {
        Value::Null => h.write_u8(0),
        Value::Bool(b) => {
            h.write_u8(1);
            b.hash(h);
        }
        Value::Number(n) => {
            h.write_u8(2);
            // serde_json numbers are equal only when of the same kind and value.
            if let Some(i) = n.as_i64() {
                h.write_i64(i);
            } else if let Some(u) = n.as_u64() {
                h.write_u64(u);
            } else if let Some(f) = n.as_f64() {
                h.write_u64(f.to_bits());
            }
        }
        Value::String(s) => {
            h.write_u8(3);
            s.hash(h);
        }
        Value::Array(items) => {
            h.write_u8(4);
            h.write_usize(items.len());
            for item in items {
                hash_value(item, h);
            }
        }
        Value::Object(map) => {
            h.write_u8(5);
            h.write_usize(map.len());
            for (k, v) in map {
                k.hash(h);
                hash_value(v, h);
            }
        }
    }
}

fn output_bytes(output: &RenderOutput) -> u64 {
    let bytes = match output {
        RenderOutput::Text(text) => text.len(),
        RenderOutput::Messages(messages) => messages
            .iter()
            .map(|m| m.content.len() + m.name.as_ref().map_or(0, String::len) + 16)
            .sum(),
    };
    bytes as u64
}

fn approximate_bytes(vars: &Variables) -> u64 {
    fn size(value: &Value) -> usize {
        match value {
            Value::String(s) => s.len() + 8,
            Value::Array(items) => items.iter().map(size).sum::<usize>() + 8,
            Value::Object(map) => map.iter().map(|(k, v)| k.len() + size(v)).sum::<usize>() + 8,
            _ => 8,
        }
    }
    vars.iter().map(|(k, v)| k.len() + size(v)).sum::<usize>() as u64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn text(s: &str) -> crate::Result<RenderOutput> {
        Ok(RenderOutput::Text(s.to_owned()))
    }

    #[test]
    fn a_hit_needs_the_same_resolution_and_the_same_variables() {
        let cache = RenderCache::new(RenderCacheConfig::default());
        let ada = Variables::new().with("name", "Ada");
        assert_eq!(
            cache.get_or_render(1, &ada, || text("Hello Ada")).unwrap(),
            RenderOutput::Text("Hello Ada".into())
        );
        // Served from the cache: the render closure is not called.
        let again = cache.get_or_render(1, &ada, || text("not this")).unwrap();
        assert_eq!(again, RenderOutput::Text("Hello Ada".into()));
        // Another resolution (a new version, a moved label) or other variables miss.
        assert_eq!(
            cache.get_or_render(2, &ada, || text("new")).unwrap(),
            RenderOutput::Text("new".into())
        );
        let number = Variables::new().with("name", 1);
        assert_eq!(
            cache.get_or_render(1, &number, || text("one")).unwrap(),
            RenderOutput::Text("one".into())
        );
        assert_eq!(cache.stats().0, 1);
        assert_eq!(cache.stats().1, 3);
    }

    #[test]
    fn entries_expire_and_errors_are_not_cached() {
        let cache = RenderCache::new(RenderCacheConfig {
            ttl: Duration::ZERO,
            ..RenderCacheConfig::default()
        });
        let vars = Variables::new();
        cache.get_or_render(1, &vars, || text("first")).unwrap();
        assert_eq!(
            cache.get_or_render(1, &vars, || text("second")).unwrap(),
            RenderOutput::Text("second".into())
        );

        let cache = RenderCache::new(RenderCacheConfig::default());
        let err = cache.get_or_render(1, &vars, || Err(crate::Error::Unsupported("boom".into())));
        assert!(err.is_err());
        assert_eq!(
            cache.get_or_render(1, &vars, || text("ok")).unwrap(),
            RenderOutput::Text("ok".into())
        );
    }

    #[test]
    fn an_entry_is_served_until_its_ttl_and_rendered_again_after() {
        let cache = RenderCache::new(RenderCacheConfig {
            ttl: Duration::from_millis(200),
            ..RenderCacheConfig::default()
        });
        let vars = Variables::new();
        cache.get_or_render(1, &vars, || text("first")).unwrap();
        assert_eq!(
            cache.get_or_render(1, &vars, || text("second")).unwrap(),
            RenderOutput::Text("first".into()),
            "well within the TTL: served from the cache"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            cache.get_or_render(1, &vars, || text("third")).unwrap(),
            RenderOutput::Text("third".into()),
            "past the TTL: rendered again"
        );
        assert_eq!(
            cache.get_or_render(1, &vars, || text("fourth")).unwrap(),
            RenderOutput::Text("third".into()),
            "and the fresh output is kept"
        );
    }

    #[test]
    fn the_size_bound_holds() {
        let cache = RenderCache::new(RenderCacheConfig {
            max_bytes: 10_000,
            ..RenderCacheConfig::default()
        });
        let big = "x".repeat(1_000);
        for i in 0..100 {
            let vars = Variables::new().with("i", i);
            cache.get_or_render(1, &vars, || text(&big)).unwrap();
        }
        assert!(cache.stats().3 <= 10_000, "{:?}", cache.stats());
    }

    #[test]
    fn variables_of_every_json_kind_hit_only_when_equal() {
        let cache = RenderCache::new(RenderCacheConfig::default());
        let values = [
            serde_json::json!(null),
            serde_json::json!(false),
            serde_json::json!(true),
            serde_json::json!(1),
            serde_json::json!(u64::MAX),
            serde_json::json!(1.0),
            serde_json::json!("1"),
            serde_json::json!([1]),
            serde_json::json!([[1]]),
            serde_json::json!({"1": 1}),
            serde_json::json!({"1": [1, {"a": null}]}),
        ];
        // Each value renders once, under its own key…
        for (i, value) in values.iter().enumerate() {
            let vars = Variables::new().with("v", value.clone());
            let out = cache.get_or_render(7, &vars, || text(&i.to_string())).unwrap();
            assert_eq!(
                out,
                RenderOutput::Text(i.to_string()),
                "{value} must not hit another value's entry"
            );
        }
        // …and an equal value built anew is served from it.
        for (i, value) in values.iter().enumerate() {
            let vars = Variables::new().with("v", value.clone());
            let out = cache.get_or_render(7, &vars, || text("rendered again")).unwrap();
            assert_eq!(out, RenderOutput::Text(i.to_string()), "{value}");
        }
        let (hits, misses, entries, _) = cache.stats();
        assert_eq!(
            (hits, misses, entries),
            (values.len() as u64, values.len() as u64, values.len())
        );
    }

    #[test]
    fn an_entry_weighs_its_messages_and_variables() {
        let cache = RenderCache::new(RenderCacheConfig::default());
        let mut message = crate::ChatMessage::new(crate::Role::User, "hello");
        message.name = Some("ada".into());
        let vars = Variables::new()
            .with("k", "v")
            .with("xs", serde_json::json!([1, {"a": "bc"}]));
        let out = cache
            .get_or_render(1, &vars, || Ok(RenderOutput::Messages(vec![message.clone()])))
            .unwrap();
        assert_eq!(out, RenderOutput::Messages(vec![message]));
        // Output: content 5 + name 3 + 16. Variables: "k" 1 + "v" (1 + 8); "xs" 2 + list
        // (8 + number 8 + object (8 + "a" 1 + "bc" (2 + 8))). Plus 64 for the entry itself.
        let expected = (5 + 3 + 16) + (1 + 9) + (2 + (8 + 8 + (8 + 1 + 10))) + 64;
        assert_eq!(cache.stats().3, expected);
        let debug = format!("{cache:?}");
        assert!(debug.starts_with("RenderCache"), "{debug}");
        assert!(debug.contains("entries: 1"), "{debug}");
        assert!(debug.contains(&format!("bytes: {expected}")), "{debug}");
        assert!(debug.contains("ttl: 300"), "{debug}");
    }
}
