//! The recorder on the render path and its flush.
//!
//! A render adds to an aggregate in memory, in one of a few shards chosen per thread (so threads
//! rarely meet on a lock), keyed by the resolution it rendered and its minute: two integers, no
//! allocation once the aggregate exists. A few renders per aggregate and minute are *sampled*:
//! their output is copied to a bounded queue, whose tokens the flush counts off the render path
//! (token counting costs microseconds); the other renders' input tokens are estimated from the
//! version's sampled tokens per byte.
//!
//! The flush drains the shards, folds what it drained into rows of the usage key (prompt,
//! version, label) per minute, hour and day, and adds them to the store in one write. Memory is
//! bounded: past [`UsageConfig::max_keys`] aggregates, new keys are dropped and counted
//! ([`FlushReport::lost_renders`]), and the flusher is asked to flush early.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use semver::Version;

use super::{Bucket, DURATION_BUCKETS, UsageCounts, UsageKey, UsageRow, duration_bucket};
use crate::error::Result;
use crate::id::{LabelName, PromptId};
use crate::model::{PromptVersion, RenderOutput};
use crate::render::Resolved;
use crate::store::Store;
use crate::tokens::{PriceBook, TokenCounter};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Settings of usage recording ([`PromptManagerBuilder::usage`](crate::PromptManagerBuilder::usage)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsageConfig {
    /// How often a flusher writes the aggregates to the store (the umbrella crate's
    /// `UsageFlusher`, the server). A crash loses at most this long of records. Default 10 s.
    pub flush_interval: Duration,
    /// The most aggregates (usage key × minute) kept in memory between flushes. When they are
    /// all taken, renders of a new key are not recorded but counted as lost, and the flusher is
    /// asked to flush at once. Default 16,384 (a few MiB).
    pub max_keys: usize,
    /// Renders sampled for token counting per aggregate, minute and shard. Default 2.
    pub token_samples: u32,
    /// The most sampled outputs waiting for the flush; more are not sampled. Default 1,024.
    pub max_samples: usize,
    /// How long minute rows are kept: a flusher deletes older ones about once an hour (hour and
    /// day rows are kept). `None` keeps them. Default 7 days.
    pub minute_retention: Option<Duration>,
}

impl Default for UsageConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(10),
            max_keys: 16_384,
            token_samples: 2,
            max_samples: 1_024,
            minute_retention: Some(Duration::from_secs(7 * 86_400)),
        }
    }
}

impl UsageConfig {
    /// The defaults with another flush interval.
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// The defaults with another number of renders sampled for token counting per aggregate,
    /// minute and shard; 0 samples none, and every render's tokens are estimated (about four
    /// bytes a token) — for one-shot processes, which should not load a tokenizer to exit.
    pub fn with_token_samples(mut self, samples: u32) -> Self {
        self.token_samples = samples;
        self
    }

    /// The defaults with another bound on the aggregates kept in memory.
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys.max(1);
        self
    }
}

/// What a flush did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FlushReport {
    /// Rows written (minute, hour and day rows; 0 when there was nothing to write).
    pub rows: usize,
    /// Renders the rows count.
    pub renders: u64,
    /// Renders not recorded since the last flush because the in-memory bound was reached.
    pub lost_renders: u64,
    /// Reports (usage, feedback) not recorded since the last flush for the same reason.
    pub lost_reports: u64,
    /// Rows dropped because earlier writes failed and the retry buffer was full.
    pub lost_rows: u64,
}

/// The shards of the render-path aggregates: a power of two above the cores of most machines.
const SHARDS: usize = 16;

/// The aggregates on the render path, and what waits for the next flush.
pub(crate) struct Recorder {
    config: UsageConfig,
    shards: Box<[Mutex<Shard>]>,
    shard_cap: usize,
    /// Whether renders are sampled for token counting (a token counter is configured).
    sampling: bool,
    samples: Mutex<Vec<Sample>>,
    reports: Mutex<FastMap<(UsageKey, u32), UsageCounts>>,
    /// The latest sampled (tokens, bytes) per prompt version, for the estimates.
    ratios: Mutex<FastMap<(PromptId, Version), (u64, u64)>>,
    /// Rows a failed write left, written with the next flush.
    pending: Mutex<Vec<UsageRow>>,
    lost_renders: AtomicU64,
    lost_reports: AtomicU64,
    lost_rows: AtomicU64,
    pressure: AtomicBool,
    clock: WallClock,
}

#[derive(Default)]
struct Shard {
    map: FastMap<(u64, u32), Entry>,
}

/// One aggregate on the render path: a resolution in one minute.
struct Entry {
    version: Arc<PromptVersion>,
    label: Option<LabelName>,
    renders: u64,
    errors: Vec<(&'static str, u64)>,
    duration_ns: u64,
    buckets: [u64; DURATION_BUCKETS],
    output_bytes: u64,
    sampled: u32,
}

/// A sampled render's output, for the flush to count tokens of.
struct Sample {
    key: UsageKey,
    minute: u32,
    model: Option<String>,
    output: RenderOutput,
}

/// The shard of the current thread: assigned round-robin on first use.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    INDEX.with(|i| *i)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The wall clock of the render path: the unix time of an instant read from quanta's TSC clock
/// (which the render reads anyway for its duration), so a render's minute costs no system call.
/// The offset to the system clock is measured again at every flush, so the two never drift apart
/// by more than one flush interval's worth of clock slew.
struct WallClock {
    base: quanta::Instant,
    /// The raw counter at `base`, for the render path's cheaper reads ([`Recorder::now_raw`]).
    clock: quanta::Clock,
    base_raw: u64,
    /// The system clock at `base`, in nanoseconds since the epoch (whole seconds would put a
    /// render up to a second early, into the previous minute).
    base_unix_nanos: i64,
    /// Nanoseconds to add to the TSC's estimate so it agrees with the system clock.
    correction: std::sync::atomic::AtomicI64,
}

/// The system clock in nanoseconds since the epoch (saturating past 2262).
fn unix_nanos_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl WallClock {
    fn new() -> Self {
        let clock = quanta::Clock::new();
        Self {
            base: quanta::Instant::now(),
            base_raw: clock.raw(),
            clock,
            base_unix_nanos: unix_nanos_now(),
            correction: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Unix nanoseconds `since_base` nanoseconds after the base.
    fn nanos_after_base(&self, since_base: u64) -> i64 {
        self.base_unix_nanos
            .saturating_add(i64::try_from(since_base).unwrap_or(i64::MAX))
            .saturating_add(self.correction.load(Ordering::Relaxed))
    }

    fn unix_at_raw(&self, raw: u64) -> i64 {
        self.nanos_after_base(self.clock.delta_as_nanos(self.base_raw, raw)) / 1_000_000_000
    }

    fn unix_at(&self, at: quanta::Instant) -> i64 {
        let since = u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        self.nanos_after_base(since) / 1_000_000_000
    }

    fn resync(&self) {
        let since =
            u64::try_from(quanta::Instant::now().saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX);
        let estimate = self
            .base_unix_nanos
            .saturating_add(i64::try_from(since).unwrap_or(i64::MAX));
        self.correction.store(unix_nanos_now() - estimate, Ordering::Relaxed);
    }
}

/// The system clock in whole seconds since the epoch.
#[cfg(test)]
fn unix_now() -> i64 {
    unix_nanos_now() / 1_000_000_000
}

impl Recorder {
    pub(crate) fn new(config: UsageConfig, sampling: bool) -> Self {
        let config = UsageConfig {
            max_keys: config.max_keys.max(1),
            ..config
        };
        Self {
            shard_cap: config.max_keys.div_ceil(SHARDS),
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            config,
            sampling,
            samples: Mutex::new(Vec::new()),
            reports: Mutex::new(FastMap::default()),
            ratios: Mutex::new(FastMap::default()),
            pending: Mutex::new(Vec::new()),
            lost_renders: AtomicU64::new(0),
            lost_reports: AtomicU64::new(0),
            lost_rows: AtomicU64::new(0),
            pressure: AtomicBool::new(false),
            clock: WallClock::new(),
        }
    }

    /// The unix minute of `at` (an instant of the render).
    pub(crate) fn minute_at(&self, at: quanta::Instant) -> u32 {
        u32::try_from(self.clock.unix_at(at).max(0) / 60).unwrap_or(u32::MAX)
    }

    /// The raw clock counter now: a render that only records (no observers) times itself with
    /// two of these, which cost about two thirds of two [`quanta::Instant`] reads.
    pub(crate) fn now_raw(&self) -> u64 {
        self.clock.clock.raw()
    }

    /// The unix minute of a [`now_raw`](Self::now_raw) reading.
    pub(crate) fn minute_at_raw(&self, raw: u64) -> u32 {
        u32::try_from(self.clock.unix_at_raw(raw).max(0) / 60).unwrap_or(u32::MAX)
    }

    /// Nanoseconds since a [`now_raw`](Self::now_raw) reading.
    pub(crate) fn nanos_since_raw(&self, start: u64) -> u64 {
        self.clock.clock.delta_as_nanos(start, self.now_raw())
    }

    pub(crate) fn config(&self) -> &UsageConfig {
        &self.config
    }

    /// Whether the in-memory bound was reached since the last flush (flush now).
    pub(crate) fn under_pressure(&self) -> bool {
        self.pressure.load(Ordering::Relaxed)
    }

    /// Adds one render of `resolved` in `minute`: `outcome` is the output's size or the error's
    /// code; `sample` copies the output when this render is sampled for token counting.
    pub(crate) fn record(
        &self,
        resolved: &Resolved,
        minute: u32,
        nanos: u64,
        outcome: std::result::Result<usize, &'static str>,
        sample: impl FnOnce() -> Option<RenderOutput>,
    ) {
        let take_sample = {
            let mut shard = lock(&self.shards[shard_index()]);
            let full = shard.map.len() >= self.shard_cap;
            let entry = match shard.map.entry((resolved.id, minute)) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(_) if full => {
                    drop(shard);
                    self.lost_renders.fetch_add(1, Ordering::Relaxed);
                    self.pressure.store(true, Ordering::Relaxed);
                    return;
                }
                std::collections::hash_map::Entry::Vacant(e) => e.insert(Entry {
                    version: Arc::clone(&resolved.version),
                    label: resolved.label.clone(),
                    renders: 0,
                    errors: Vec::new(),
                    duration_ns: 0,
                    buckets: [0; DURATION_BUCKETS],
                    output_bytes: 0,
                    sampled: 0,
                }),
            };
            entry.renders += 1;
            entry.duration_ns = entry.duration_ns.saturating_add(nanos);
            entry.buckets[duration_bucket(nanos)] += 1;
            match outcome {
                Ok(bytes) => {
                    entry.output_bytes += bytes as u64;
                    if self.sampling && entry.sampled < self.config.token_samples {
                        entry.sampled += 1;
                        true
                    } else {
                        false
                    }
                }
                Err(code) => {
                    match entry.errors.iter_mut().find(|(c, _)| *c == code) {
                        Some((_, n)) => *n += 1,
                        None => entry.errors.push((code, 1)),
                    }
                    false
                }
            }
        };
        if take_sample {
            let mut samples = lock(&self.samples);
            if samples.len() < self.config.max_samples
                && let Some(output) = sample()
            {
                let version = &resolved.version;
                samples.push(Sample {
                    key: UsageKey {
                        prompt_id: version.prompt.id.clone(),
                        version: version.version.clone(),
                        label: resolved.label.clone(),
                    },
                    minute,
                    model: version.prompt.model_config.model.clone(),
                    output,
                });
            }
        }
    }

    /// Adds what a caller reported about a render of `key` in `minute`.
    pub(crate) fn report(&self, key: UsageKey, minute: u32, counts: &UsageCounts) {
        let mut reports = lock(&self.reports);
        let len = reports.len();
        match reports.get_mut(&(key.clone(), minute)) {
            Some(c) => c.add(counts),
            None if len >= self.config.max_keys => {
                self.lost_reports.fetch_add(1, Ordering::Relaxed);
                self.pressure.store(true, Ordering::Relaxed);
            }
            None => {
                reports.insert((key, minute), counts.clone());
            }
        }
    }

    /// The aggregates in memory now (for tests of the bound and for diagnostics).
    pub(crate) fn keys_in_memory(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum::<usize>() + lock(&self.reports).len()
    }

    /// Drains everything recorded, folds it into minute, hour and day rows and adds them to
    /// `store`. When the write fails, the rows are kept (within the bound) for the next flush.
    pub(crate) async fn flush(
        &self,
        store: &dyn Store,
        tokens: Option<&Arc<dyn TokenCounter>>,
        prices: Option<&Arc<dyn PriceBook>>,
    ) -> Result<FlushReport> {
        self.pressure.store(false, Ordering::Relaxed);
        self.clock.resync();
        let mut minutes: FastMap<(UsageKey, u32), (UsageCounts, Option<String>)> = FastMap::default();
        for shard in self.shards.iter() {
            let drained = std::mem::take(&mut lock(shard).map);
            for ((_, minute), entry) in drained {
                let key = UsageKey {
                    prompt_id: entry.version.prompt.id.clone(),
                    version: entry.version.version.clone(),
                    label: entry.label,
                };
                let (counts, _) = minutes
                    .entry((key, minute))
                    .or_insert_with(|| (UsageCounts::default(), entry.version.prompt.model_config.model.clone()));
                counts.renders += entry.renders;
                counts.duration_ns = counts.duration_ns.saturating_add(entry.duration_ns);
                for (sum, n) in counts.duration_buckets.iter_mut().zip(entry.buckets) {
                    *sum += n;
                }
                counts.output_bytes += entry.output_bytes;
                for (code, n) in entry.errors {
                    counts.errors += n;
                    *counts.error_kinds.entry(code.to_owned()).or_default() += n;
                }
            }
        }
        let samples = std::mem::take(&mut *lock(&self.samples));
        if let Some(counter) = tokens {
            self.count_tokens(&mut minutes, samples, counter.as_ref(), prices);
        }
        let renders = minutes.values().map(|(c, _)| c.renders).sum();
        let reports = std::mem::take(&mut *lock(&self.reports));
        let mut rows: FastMap<(UsageKey, Bucket, i64), UsageCounts> = FastMap::default();
        let all = minutes.into_iter().map(|(k, (c, _))| (k, c)).chain(reports);
        for ((key, minute), counts) in all {
            let at = i64::from(minute) * 60;
            for bucket in Bucket::ALL {
                rows.entry((key.clone(), bucket, bucket.floor(at)))
                    .or_default()
                    .add(&counts);
            }
        }
        let mut batch = std::mem::take(&mut *lock(&self.pending));
        batch.extend(rows.into_iter().map(|((key, bucket, start), counts)| UsageRow {
            key,
            bucket,
            start,
            counts,
        }));
        let mut report = FlushReport {
            rows: batch.len(),
            renders,
            lost_renders: self.lost_renders.swap(0, Ordering::Relaxed),
            lost_reports: self.lost_reports.swap(0, Ordering::Relaxed),
            lost_rows: 0,
        };
        if batch.is_empty() {
            report.lost_rows = self.lost_rows.swap(0, Ordering::Relaxed);
            return Ok(report);
        }
        match store.add_usage(&batch).await {
            Ok(()) => {
                report.lost_rows = self.lost_rows.swap(0, Ordering::Relaxed);
                Ok(report)
            }
            Err(e) => {
                let mut pending = lock(&self.pending);
                let room = (self.config.max_keys * 3).saturating_sub(pending.len());
                if batch.len() > room {
                    self.lost_rows.fetch_add((batch.len() - room) as u64, Ordering::Relaxed);
                    batch.truncate(room);
                }
                pending.extend(batch);
                Err(e)
            }
        }
    }

    /// Counts the sampled outputs' tokens and sets each aggregate's input tokens (counted plus
    /// estimated) and input cost.
    fn count_tokens(
        &self,
        minutes: &mut FastMap<(UsageKey, u32), (UsageCounts, Option<String>)>,
        samples: Vec<Sample>,
        counter: &dyn TokenCounter,
        prices: Option<&Arc<dyn PriceBook>>,
    ) {
        // Per aggregate: (renders counted, counted exactly, tokens, bytes).
        let mut counted: FastMap<(UsageKey, u32), (u64, u64, u64, u64)> = FastMap::default();
        let mut fresh: FastMap<(PromptId, Version), (u64, u64)> = FastMap::default();
        for sample in samples {
            let count = counter.count(sample.model.as_deref(), &sample.output);
            let bytes = sample.output.len_bytes() as u64;
            let ratio = fresh
                .entry((sample.key.prompt_id.clone(), sample.key.version.clone()))
                .or_default();
            ratio.0 += count.tokens;
            ratio.1 += bytes;
            let c = counted.entry((sample.key, sample.minute)).or_default();
            c.0 += 1;
            c.1 += u64::from(count.method.is_exact());
            c.2 += count.tokens;
            c.3 += bytes;
        }
        let ratios = {
            let mut ratios = lock(&self.ratios);
            if ratios.len() > self.config.max_keys {
                ratios.clear();
            }
            ratios.extend(fresh);
            ratios.clone()
        };
        for ((key, minute), (counts, model)) in minutes.iter_mut() {
            let ok = counts.renders - counts.errors;
            if ok == 0 {
                continue;
            }
            let (_, exact, tokens, bytes) = counted.remove(&(key.clone(), *minute)).unwrap_or_default();
            let rest = counts.output_bytes.saturating_sub(bytes);
            let estimate = match ratios.get(&(key.prompt_id.clone(), key.version.clone())) {
                Some(&(t, b)) if b > 0 => ((rest as u128 * t as u128 + b as u128 / 2) / b as u128) as u64,
                // No sample of this version yet (the queue was full): about four bytes a token.
                _ => rest.div_ceil(4),
            };
            counts.input_tokens = tokens + estimate;
            counts.input_tokens_renders = ok;
            counts.input_tokens_exact_renders = exact;
            if let Some(price) = model.as_deref().and_then(|m| prices.and_then(|p| p.price(m))) {
                counts.input_cost = price.input_cost(counts.input_tokens);
                counts.priced_renders = ok;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_render_clock_tells_the_unix_minute() {
        let recorder = Recorder::new(UsageConfig::default(), false);
        let minute = i64::from(recorder.minute_at(quanta::Instant::now()));
        let expected = unix_now() / 60;
        assert!((minute - expected).abs() <= 1, "{minute} vs {expected}");
        recorder.clock.resync();
        let again = i64::from(recorder.minute_at(quanta::Instant::now()));
        assert!((again - unix_now() / 60).abs() <= 1);
    }

    #[test]
    fn the_render_clock_agrees_with_the_system_clock_within_milliseconds() {
        // A render's minute must not start early: a clock a second behind would put a render
        // made in a minute's first second into the previous minute.
        let recorder = Recorder::new(UsageConfig::default(), false);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let clock = &recorder.clock;
        let before = unix_nanos_now();
        let raw = clock.clock.raw();
        let after = unix_nanos_now();
        let estimate = clock.nanos_after_base(clock.clock.delta_as_nanos(clock.base_raw, raw));
        let slack = 5_000_000;
        assert!(
            estimate >= before - slack && estimate <= after + slack,
            "{estimate} not within [{before}, {after}] ± 5 ms"
        );
    }
}
