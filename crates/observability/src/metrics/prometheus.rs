//! The Prometheus text exposition format (version 0.0.4) of everything a
//! [`MetricsObserver`] recorded: [`MetricsObserver::render_prometheus`] and the escaping of label
//! values. What is recorded, and how, lives in `series.rs` and `registry.rs`; OTLP export in
//! `otlp.rs`.

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::registry::Inner;
use super::series::{IdMetrics, RenderSeries};
use super::{MetricsObserver, OTHER_PROMPT, UNRESOLVED_PROMPT};

impl MetricsObserver {
    /// Everything recorded so far in the Prometheus text exposition format (version 0.0.4), for a
    /// `/metrics` endpoint (`Content-Type: text/plain; version=0.0.4`).
    pub fn render_prometheus(&self) -> String {
        let inner = &self.inner;
        let all = inner.all();
        let mut out = String::with_capacity(1024 + all.len() * 256);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        // The render families, one series per (prompt id, version, label).
        let series: Vec<(&IdMetrics, Vec<Arc<RenderSeries>>)> = all.iter().map(|m| (&**m, m.render_series())).collect();
        family(
            &mut out,
            "prompt_manager_renders_total",
            "counter",
            "Renders, successful or not, by prompt id, version rendered and label named.",
        );
        for (m, list) in &series {
            let listed = is_allow_listed(inner, m);
            for s in list {
                let n = s.latency.count();
                // An allow-listed id is exported from the start, at 0, under its folded series.
                if n > 0 || (listed && Arc::ptr_eq(s, &m.folded) && m.renders() == 0) {
                    let _ = writeln!(out, "prompt_manager_renders_total{{{}}} {n}", Labels(m, s));
                }
            }
        }

        family(
            &mut out,
            "prompt_manager_render_errors_total",
            "counter",
            "Failed renders by prompt id, version, label, error code and error kind.",
        );
        for (m, list) in &series {
            for s in list {
                for (code, kind, n) in s.errors() {
                    let _ = writeln!(
                        out,
                        "prompt_manager_render_errors_total{{{},code=\"{code}\",kind=\"{kind}\"}} {n}",
                        Labels(m, s)
                    );
                }
            }
        }

        family(
            &mut out,
            "prompt_manager_render_duration_seconds",
            "histogram",
            "Render latency by prompt id, version and label, from resolution to output.",
        );
        for (m, list) in &series {
            for s in list {
                let (cumulative, sum_nanos) = s.latency.snapshot();
                let count = cumulative.last().copied().unwrap_or(0);
                if count == 0 {
                    continue;
                }
                let labels = Labels(m, s);
                for (bound, n) in inner.bounds_seconds.iter().zip(&cumulative) {
                    let _ = writeln!(
                        out,
                        "prompt_manager_render_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "prompt_manager_render_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
                );
                let sum = Duration::from_nanos(sum_nanos).as_secs_f64();
                let _ = writeln!(out, "prompt_manager_render_duration_seconds_sum{{{labels}}} {sum}");
                let _ = writeln!(out, "prompt_manager_render_duration_seconds_count{{{labels}}} {count}");
            }
        }

        family(
            &mut out,
            "prompt_manager_render_series",
            "gauge",
            "Distinct (prompt id, version, label) render series kept; at most prompt_manager_render_series_limit.",
        );
        let _ = writeln!(
            out,
            "prompt_manager_render_series {}",
            inner.series_admitted.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "prompt_manager_render_series_limit",
            "gauge",
            "The bound on distinct (prompt id, version, label) render series.",
        );
        let _ = writeln!(out, "prompt_manager_render_series_limit {}", inner.series_limit);
        family(
            &mut out,
            "prompt_manager_render_series_overflow_total",
            "counter",
            "Renders counted under version=\"_other\", label=\"_other\" because the render-series bound was reached.",
        );
        let _ = writeln!(
            out,
            "prompt_manager_render_series_overflow_total {}",
            inner.series_overflow.load(Ordering::Relaxed)
        );

        family(
            &mut out,
            "prompt_manager_versions_created_total",
            "counter",
            "New versions saved, by prompt id.",
        );
        for m in &all {
            let n = load(&m.versions_created);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "prompt_manager_versions_created_total{{prompt_id=\"{}\"}} {n}",
                    m.label
                );
            }
        }

        family(
            &mut out,
            "prompt_manager_label_moves_total",
            "counter",
            "Labels set, rolled back or removed, by prompt id.",
        );
        for m in &all {
            for (kind, n) in m.label_moves() {
                let _ = writeln!(
                    out,
                    "prompt_manager_label_moves_total{{prompt_id=\"{}\",kind=\"{kind}\"}} {n}",
                    m.label
                );
            }
        }

        let c = &inner.cache;
        for (name, kind, help, value) in [
            (
                "prompt_manager_render_cache_hits_total",
                "counter",
                "Renders served from the rendered-output cache.",
                &c.hits,
            ),
            (
                "prompt_manager_render_cache_misses_total",
                "counter",
                "Renders that missed the rendered-output cache.",
                &c.misses,
            ),
            (
                "prompt_manager_render_cache_entries",
                "gauge",
                "Rendered outputs kept in the cache.",
                &c.entries,
            ),
            (
                "prompt_manager_render_cache_bytes",
                "gauge",
                "Approximate size of the rendered outputs kept.",
                &c.bytes,
            ),
            (
                "prompt_manager_registry_references",
                "gauge",
                "Reference strings with a cached, compiled resolution.",
                &c.references,
            ),
            (
                "prompt_manager_registry_prompts",
                "gauge",
                "Prompts the in-process registry tracks.",
                &c.prompts,
            ),
        ] {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {}", load(value));
        }
        if c.has_store_reads.load(std::sync::atomic::Ordering::Relaxed) {
            let name = "prompt_manager_store_reads_total";
            family(
                &mut out,
                name,
                "counter",
                "Reads a render made of the store, by the source that answered: the server (the store of record), the disk cache or the bundle of an http:// store, or a shared Redis cache.",
            );
            for (source, value) in ["server", "cache", "bundle", "redis"].into_iter().zip(&c.store_reads) {
                let _ = writeln!(out, "{name}{{source=\"{source}\"}} {}", load(value));
            }
        }
        out
    }
}

fn is_allow_listed(inner: &Inner, m: &IdMetrics) -> bool {
    inner.first_seen_limit.is_none() && &*m.label != OTHER_PROMPT && &*m.label != UNRESOLVED_PROMPT
}

/// The `prompt_id`, `version` and `label` labels of a render series, as written in the text format.
struct Labels<'a>(&'a IdMetrics, &'a RenderSeries);

impl fmt::Display for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Labels(m, s) = self;
        write!(
            f,
            "prompt_id=\"{}\",version=\"{}\",label=\"{}\"",
            m.label, s.version, s.label
        )
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes `\`, `"` and newlines, as the text format requires in label values.
pub(crate) fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
