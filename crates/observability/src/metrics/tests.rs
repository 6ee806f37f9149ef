//! Tests of the metrics observer: what is counted under which labels, the bounds on prompt-id
//! labels and on (prompt id, version, label) render series, the histogram and the text format
//! (read back with an independent parser).

use std::borrow::Cow;

use std::time::Duration;

use chrono::Utc;
use prompt_manager_core::{
    CacheStats, ContentHash, Error, ErrorKind, LabelEvent, LabelEventKind, LabelName, NotFound, Observer, Prompt,
    PromptExecution, PromptId, PromptVersion,
};
use semver::Version;

use super::prometheus::escape_label_value;
use super::{MetricsConfig, MetricsObserver, OTHER_LABEL, OTHER_PROMPT, OTHER_VERSION, UNRESOLVED_PROMPT};

fn id(s: &str) -> PromptId {
    PromptId::new(s).unwrap()
}

static V1: Version = Version::new(1, 0, 0);

/// A render of `prompt` (leaked: test ids live for the test process).
fn execution(prompt: Option<&str>, micros: u64, error: Option<&'static str>) -> PromptExecution<'static> {
    let prompt_id: Option<&'static PromptId> = prompt.map(|p| &*Box::leak(Box::new(id(p))));
    PromptExecution {
        id: 1,
        reference: prompt_id.map_or("missing", |p| p.as_str()),
        prompt_id,
        version: Some(&V1),
        label: None,
        duration: Duration::from_micros(micros),
        error: error.map(Cow::Borrowed),
        output_bytes: 10,
        token_estimate: 3,
    }
}

fn version(prompt: &str) -> PromptVersion {
    PromptVersion {
        prompt: Prompt::text(prompt, "Hello {{ name }}").unwrap(),
        version: Version::new(1, 0, 0),
        changelog: String::new(),
        author: None,
        created_at: Utc::now(),
        parent: None,
        content_hash: ContentHash("abc".into()),
    }
}

fn label_event(kind: LabelEventKind) -> LabelEvent {
    LabelEvent {
        label: LabelName::new("production").unwrap(),
        from: None,
        to: Some(Version::new(1, 0, 0)),
        kind,
        from_split: None,
        to_split: None,
        actor: None,
        at: Utc::now(),
    }
}

/// Parses the exposition with an independent parser and returns `(metric, labels, value)`.
fn samples(text: &str) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    scrape
        .samples
        .into_iter()
        .flat_map(|s| {
            let labels: std::collections::BTreeMap<String, String> =
                s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => vec![(s.metric, labels, v)],
                prometheus_parse::Value::Histogram(buckets) => buckets
                    .into_iter()
                    .map(|b| {
                        let mut l = labels.clone();
                        l.insert("le".into(), b.less_than.to_string());
                        (format!("{}_bucket", s.metric), l, b.count)
                    })
                    .collect(),
                prometheus_parse::Value::Summary(_) => vec![],
            }
        })
        .collect()
}

/// The sum of the samples of `metric` whose labels include `labels`; `None` when there is none.
fn value(text: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text)
        .into_iter()
        .filter(|(m, l, _)| {
            m == metric
                && labels
                    .iter()
                    .all(|(k, want)| l.get(*k).map(String::as_str) == Some(*want))
        })
        .map(|(_, _, v)| v)
        .reduce(|a, b| a + b)
}

/// A render of `prompt` at `version` through `label`.
fn versioned(prompt: &str, version: &str, label: Option<&str>) -> PromptExecution<'static> {
    let version: &'static Version = Box::leak(Box::new(Version::parse(version).unwrap()));
    let label: Option<&'static LabelName> = label.map(|l| &*Box::leak(Box::new(LabelName::new(l).unwrap())));
    PromptExecution {
        version: Some(version),
        label,
        ..execution(Some(prompt), 2, None)
    }
}

/// The distinct `(prompt_id, version, label)` of the renders counter.
fn render_series(text: &str) -> std::collections::BTreeSet<(String, String, String)> {
    samples(text)
        .into_iter()
        .filter(|(m, _, _)| m == "prompt_manager_renders_total")
        .map(|(_, l, _)| (l["prompt_id"].clone(), l["version"].clone(), l["label"].clone()))
        .collect()
}

#[test]
fn counts_renders_errors_versions_and_label_moves() {
    let m = MetricsObserver::default();
    m.on_render_complete(&execution(Some("a/one"), 3, None));
    m.on_render_complete(&execution(Some("a/one"), 7, None));
    let err = Error::NotFound(NotFound::Prompt(id("a/one")));
    m.on_render_error(&execution(Some("a/one"), 2, Some("not_found")), &err);
    let err = Error::InvalidVariables {
        reference: "x".into(),
        problems: vec![],
    };
    m.on_render_error(&execution(None, 2, Some("invalid_variables")), &err);
    m.on_version_created(&version("a/one"));
    m.on_label_moved(&id("a/one"), &label_event(LabelEventKind::Set));
    m.on_label_moved(&id("a/one"), &label_event(LabelEventKind::Rollback));
    m.on_label_moved(&id("a/one"), &label_event(LabelEventKind::Rollback));

    let text = m.render_prometheus();
    let renders = |p| value(&text, "prompt_manager_renders_total", &[("prompt_id", p)]);
    assert_eq!(renders("a/one"), Some(3.0));
    assert_eq!(renders(UNRESOLVED_PROMPT), Some(1.0));
    assert_eq!(
        value(
            &text,
            "prompt_manager_render_errors_total",
            &[("prompt_id", "a/one"), ("code", "not_found"), ("kind", "not_found")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "prompt_manager_render_errors_total",
            &[
                ("prompt_id", UNRESOLVED_PROMPT),
                ("code", "invalid_variables"),
                ("kind", "invalid_content")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "prompt_manager_versions_created_total",
            &[("prompt_id", "a/one")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "prompt_manager_label_moves_total",
            &[("prompt_id", "a/one"), ("kind", "rollback")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "prompt_manager_label_moves_total",
            &[("prompt_id", "a/one"), ("kind", "set")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "prompt_manager_label_moves_total", &[("kind", "remove")]),
        None
    );
}

#[test]
fn first_seen_ids_beyond_the_limit_are_other() {
    let m = MetricsObserver::new(MetricsConfig::first_seen(2));
    for p in ["p/a", "p/b", "p/c", "p/d", "p/a", "p/c"] {
        m.on_render_complete(&execution(Some(p), 1, None));
    }
    m.on_version_created(&version("p/e"));
    let text = m.render_prometheus();
    let renders = |p| value(&text, "prompt_manager_renders_total", &[("prompt_id", p)]);
    assert_eq!(renders("p/a"), Some(2.0));
    assert_eq!(renders("p/b"), Some(1.0));
    assert_eq!(renders("p/c"), None);
    assert_eq!(renders("p/d"), None);
    assert_eq!(renders(OTHER_PROMPT), Some(3.0));
    assert_eq!(
        value(
            &text,
            "prompt_manager_versions_created_total",
            &[("prompt_id", OTHER_PROMPT)]
        ),
        Some(1.0)
    );
    let distinct: std::collections::BTreeSet<String> = samples(&text)
        .into_iter()
        .filter_map(|(_, l, _)| l.get("prompt_id").cloned())
        .collect();
    assert_eq!(
        distinct.into_iter().collect::<Vec<_>>(),
        ["_other", "p/a", "p/b"],
        "never more than the limit plus `_other` (and `_unresolved` when used)"
    );
}

#[test]
fn the_limit_holds_under_concurrent_first_sightings() {
    let m = MetricsObserver::new(MetricsConfig::first_seen(5));
    std::thread::scope(|s| {
        for t in 0..4 {
            let m = m.clone();
            s.spawn(move || {
                for i in 0..50 {
                    let p = format!("t/id-{}", (i * 7 + t) % 20);
                    m.on_render_complete(&execution(Some(&p), 1, None));
                }
            });
        }
    });
    assert_eq!(m.inner.ids.len(), 5);
    let total: f64 = samples(&m.render_prometheus())
        .into_iter()
        .filter(|(name, _, _)| name == "prompt_manager_renders_total")
        .map(|(_, _, v)| v)
        .sum();
    assert_eq!(total, 200.0, "no render is lost, whichever label it lands on");
}

#[test]
fn an_allow_list_labels_exactly_its_ids() {
    let m = MetricsObserver::new(MetricsConfig::allow_list([id("keep/me"), id("keep/too")]));
    m.on_render_complete(&execution(Some("keep/me"), 1, None));
    m.on_render_complete(&execution(Some("not/listed"), 1, None));
    let text = m.render_prometheus();
    let renders = |p| value(&text, "prompt_manager_renders_total", &[("prompt_id", p)]);
    assert_eq!(renders("keep/me"), Some(1.0));
    assert_eq!(
        renders("keep/too"),
        Some(0.0),
        "allow-listed ids are exported from the start"
    );
    assert_eq!(renders("not/listed"), None);
    assert_eq!(renders(OTHER_PROMPT), Some(1.0));
}

#[test]
fn histogram_buckets_are_cumulative_and_consistent() {
    let config = MetricsConfig::default().with_latency_buckets([
        Duration::from_micros(10),
        Duration::from_micros(1),
        Duration::from_micros(100),
    ]);
    let m = MetricsObserver::new(config);
    for micros in [0, 1, 5, 10, 50, 100, 1_000] {
        m.on_render_complete(&execution(Some("h/x"), micros, None));
    }
    let text = m.render_prometheus();
    let bucket = |le: &str| {
        text.lines()
            .find(|l| {
                l.starts_with(&format!(
                    "prompt_manager_render_duration_seconds_bucket{{prompt_id=\"h/x\",version=\"1.0.0\",label=\"\",le=\"{le}\"}}"
                ))
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(|v| v.parse::<u64>().unwrap())
    };
    // A bucket counts observations <= its bound.
    assert_eq!(bucket("0.000001"), Some(2));
    assert_eq!(bucket("0.00001"), Some(4));
    assert_eq!(bucket("0.0001"), Some(6));
    assert_eq!(bucket("+Inf"), Some(7));
    assert!(
        text.contains(
            "prompt_manager_render_duration_seconds_count{prompt_id=\"h/x\",version=\"1.0.0\",label=\"\"} 7\n"
        )
    );
    let sum = value(
        &text,
        "prompt_manager_render_duration_seconds_sum",
        &[("prompt_id", "h/x")],
    );
    let want = 1_166e-6;
    assert!(sum.is_some_and(|s| (s - want).abs() < 1e-9), "{sum:?}");
    // The independent parser reads it as a histogram too.
    assert_eq!(
        value(
            &text,
            "prompt_manager_render_duration_seconds_bucket",
            &[("prompt_id", "h/x"), ("le", "0.00001")]
        ),
        Some(4.0)
    );
}

#[test]
fn cache_stats_are_exported() {
    let m = MetricsObserver::default();
    let mut stats = CacheStats::default();
    stats.render_hits = 40;
    stats.render_misses = 2;
    stats.rendered_entries = 3;
    stats.rendered_bytes = 1234;
    stats.references = 5;
    stats.prompts = 4;
    m.record_cache_stats(&stats);
    let text = m.render_prometheus();
    assert_eq!(value(&text, "prompt_manager_render_cache_hits_total", &[]), Some(40.0));
    assert_eq!(value(&text, "prompt_manager_render_cache_misses_total", &[]), Some(2.0));
    assert_eq!(value(&text, "prompt_manager_render_cache_entries", &[]), Some(3.0));
    assert_eq!(value(&text, "prompt_manager_render_cache_bytes", &[]), Some(1234.0));
    assert_eq!(value(&text, "prompt_manager_registry_references", &[]), Some(5.0));
    assert_eq!(value(&text, "prompt_manager_registry_prompts", &[]), Some(4.0));
    assert!(
        !text.contains("prompt_manager_store_reads_total"),
        "only for stores that report it"
    );

    stats.store_reads = Some(prompt_manager_core::ReadSources {
        server: 7,
        cache: 2,
        bundle: 1,
        redis: 30,
    });
    m.record_cache_stats(&stats);
    let text = m.render_prometheus();
    let reads = |source| value(&text, "prompt_manager_store_reads_total", &[("source", source)]);
    assert_eq!(
        [reads("server"), reads("cache"), reads("bundle"), reads("redis")],
        [Some(7.0), Some(2.0), Some(1.0), Some(30.0)]
    );
}

#[test]
fn the_exposition_is_well_formed_text_format() {
    let m = MetricsObserver::default();
    m.on_render_complete(&execution(Some("w/a"), 3, None));
    let err = Error::NotFound(NotFound::Prompt(id("w/a")));
    m.on_render_error(&execution(Some("w/a"), 3, Some("not_found")), &err);
    m.on_version_created(&version("w/a"));
    m.on_label_moved(&id("w/a"), &label_event(LabelEventKind::Remove));
    let text = m.render_prometheus();
    assert!(text.ends_with('\n'));
    let mut typed = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                typed.insert(name.to_owned(), kind.to_owned()).is_none(),
                "one TYPE per family: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        // name{labels} value
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = typed
            .keys()
            .find(|f| name == f.as_str() || ["_bucket", "_sum", "_count"].iter().any(|s| name == format!("{f}{s}")))
            .unwrap_or_else(|| panic!("sample without a TYPE line before it: {line}"));
        if typed[family] == "counter" {
            assert!(name.ends_with("_total"), "{line}");
        }
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
        }
    }
    assert!(samples(&text).len() >= 10);
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

#[test]
fn errors_are_labelled_by_cores_tables() {
    // Every code and kind core has gets its own series, labelled as core names them.
    let m = MetricsObserver::default();
    let errors = [
        Error::LabelProtected {
            id: id("k/a"),
            label: LabelName::new("production").unwrap(),
        },
        Error::Internal("x".into()),
        Error::backend("sqlite", "down"),
        Error::Archived { id: id("k/a") },
    ];
    for error in &errors {
        m.on_render_error(&execution(Some("k/a"), 1, Some(error.code())), error);
    }
    let text = m.render_prometheus();
    for error in &errors {
        let labels = [
            ("prompt_id", "k/a"),
            ("code", error.code()),
            ("kind", error.kind().as_str()),
        ];
        assert_eq!(
            value(&text, "prompt_manager_render_errors_total", &labels),
            Some(1.0),
            "{labels:?}\n{text}"
        );
    }
    assert_eq!(ErrorKind::InvalidContent.as_str(), "invalid_content");
    assert!(
        !text.contains("code=\"other\"") && !text.contains("kind=\"other\""),
        "{text}"
    );
}

#[test]
fn renders_are_labelled_by_version_and_label() {
    let m = MetricsObserver::default();
    for _ in 0..3 {
        m.on_render_complete(&versioned("s/a", "1.2.0", Some("production")));
    }
    m.on_render_complete(&versioned("s/a", "1.3.0", Some("production")));
    m.on_render_complete(&versioned("s/a", "1.3.0", None));
    let err = Error::Internal("boom".into());
    m.on_render_error(&versioned("s/a", "1.3.0", Some("production")), &err);
    m.on_render_error(
        &execution(None, 1, Some("not_found")),
        &Error::NotFound(NotFound::Prompt(id("s/zz"))),
    );
    let text = m.render_prometheus();
    let renders = |labels: &[(&str, &str)]| value(&text, "prompt_manager_renders_total", labels);
    let one = |v, l| [("prompt_id", "s/a"), ("version", v), ("label", l)];
    assert_eq!(renders(&one("1.2.0", "production")), Some(3.0));
    assert_eq!(renders(&one("1.3.0", "production")), Some(2.0));
    assert_eq!(renders(&one("1.3.0", "")), Some(1.0), "no label named: an empty label");
    assert_eq!(
        renders(&[("prompt_id", "s/a")]),
        Some(6.0),
        "the id's total sums its series"
    );
    assert_eq!(
        renders(&[("prompt_id", UNRESOLVED_PROMPT), ("version", ""), ("label", "")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "prompt_manager_render_errors_total",
            &[
                ("prompt_id", "s/a"),
                ("version", "1.3.0"),
                ("label", "production"),
                ("code", "internal")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "prompt_manager_render_duration_seconds_count",
            &one("1.2.0", "production")
        ),
        Some(3.0)
    );
    assert_eq!(value(&text, "prompt_manager_render_series", &[]), Some(3.0));
    assert_eq!(
        value(&text, "prompt_manager_render_series_overflow_total", &[]),
        Some(0.0)
    );
}

#[test]
fn render_series_beyond_the_bound_are_folded_and_counted() {
    let m = MetricsObserver::new(MetricsConfig::first_seen(10).with_max_render_series(3));
    // Three series are admitted in order of first sighting…
    m.on_render_complete(&versioned("b/one", "1.0.0", Some("production")));
    m.on_render_complete(&versioned("b/one", "1.1.0", Some("staging")));
    m.on_render_complete(&versioned("b/two", "2.0.0", None));
    // …the rest fold into their id's `_other` series, and count as overflow.
    m.on_render_complete(&versioned("b/one", "1.2.0", Some("production")));
    m.on_render_complete(&versioned("b/one", "1.2.0", Some("canary")));
    m.on_render_complete(&versioned("b/two", "2.1.0", None));
    // Admitted series keep counting.
    m.on_render_complete(&versioned("b/one", "1.0.0", Some("production")));
    let text = m.render_prometheus();
    let own: Vec<_> = render_series(&text)
        .into_iter()
        .filter(|(_, v, _)| v != OTHER_VERSION)
        .collect();
    assert_eq!(own.len(), 3, "{own:?}");
    let renders = |labels: &[(&str, &str)]| value(&text, "prompt_manager_renders_total", labels);
    assert_eq!(
        renders(&[("prompt_id", "b/one"), ("version", "1.0.0"), ("label", "production")]),
        Some(2.0)
    );
    assert_eq!(
        renders(&[
            ("prompt_id", "b/one"),
            ("version", OTHER_VERSION),
            ("label", OTHER_LABEL)
        ]),
        Some(2.0)
    );
    assert_eq!(
        renders(&[
            ("prompt_id", "b/two"),
            ("version", OTHER_VERSION),
            ("label", OTHER_LABEL)
        ]),
        Some(1.0)
    );
    assert_eq!(renders(&[]), Some(7.0), "no render is lost");
    assert_eq!(
        value(&text, "prompt_manager_render_series_overflow_total", &[]),
        Some(3.0)
    );
    assert_eq!(value(&text, "prompt_manager_render_series", &[]), Some(3.0));
    assert_eq!(value(&text, "prompt_manager_render_series_limit", &[]), Some(3.0));
}

#[test]
fn other_prompt_ids_are_not_split_by_version() {
    let m = MetricsObserver::new(MetricsConfig::first_seen(1));
    m.on_render_complete(&versioned("o/a", "1.0.0", None));
    m.on_render_complete(&versioned("o/b", "1.0.0", None));
    m.on_render_complete(&versioned("o/c", "3.0.0", Some("production")));
    let text = m.render_prometheus();
    let series = render_series(&text);
    assert!(
        series.contains(&("o/a".into(), "1.0.0".into(), String::new())),
        "{series:?}"
    );
    assert!(
        series.contains(&(OTHER_PROMPT.into(), OTHER_VERSION.into(), OTHER_LABEL.into())),
        "{series:?}"
    );
    assert_eq!(series.len(), 2, "{series:?}");
    assert_eq!(
        value(&text, "prompt_manager_render_series_overflow_total", &[]),
        Some(0.0)
    );
}

#[test]
fn the_series_bound_holds_under_concurrent_first_sightings() {
    let m = MetricsObserver::new(MetricsConfig::first_seen(100).with_max_render_series(7));
    std::thread::scope(|s| {
        for t in 0..4 {
            let m = m.clone();
            s.spawn(move || {
                for i in 0..60 {
                    let version = format!("1.{}.0", (i * 5 + t) % 12);
                    m.on_render_complete(&versioned("c/x", &version, Some("production")));
                }
            });
        }
    });
    let text = m.render_prometheus();
    let own = render_series(&text)
        .into_iter()
        .filter(|(_, v, _)| v != OTHER_VERSION)
        .count();
    assert_eq!(own, 7);
    let total = value(&text, "prompt_manager_renders_total", &[]).unwrap();
    let folded = value(&text, "prompt_manager_renders_total", &[("version", OTHER_VERSION)]).unwrap();
    assert_eq!(total, 240.0, "no render is lost, whichever series it lands on");
    assert_eq!(
        value(&text, "prompt_manager_render_series_overflow_total", &[]),
        Some(folded)
    );
}
