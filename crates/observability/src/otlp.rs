//! OpenTelemetry export over OTLP/HTTP (protobuf), feature `otlp`: the `tracing` spans as traces
//! (through `tracing-opentelemetry`) and the [`MetricsObserver`]'s figures as metrics. The Prometheus
//! text exposition lives in `metrics/`; the log lines in `logging.rs`.

use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter, MeterProvider as _, ObservableCounter, ObservableGauge};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::attributes::{ERROR_TYPE, PROMPT_MANAGER_ERROR_KIND, PROMPT_MANAGER_LABEL_MOVE};
use crate::logging::{InitError, LogFormat, fmt_layer, parse_filter};
use crate::metrics::{Inner, MetricsObserver};

/// The variable that turns OTLP export on: the collector's base URL (`http://localhost:4318`).
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The instrumentation scope and default service name.
pub const SERVICE_NAME: &str = "prompt-manager";

/// Where OTLP data goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpEndpoint {
    /// Wherever the standard `OTEL_EXPORTER_OTLP_*` variables say (`…_ENDPOINT` plus `/v1/traces`
    /// and `/v1/metrics`, or the per-signal `…_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`).
    FromEnv,
    /// A base URL; `/v1/traces` and `/v1/metrics` are appended.
    Base(String),
}

/// What [`init_telemetry_with`] sets up.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TelemetryConfig {
    /// How log lines look.
    pub format: LogFormat,
    /// The `RUST_LOG`-style filter; it applies to the exported spans too.
    pub filter: String,
    /// Where to export; `None` sets up logging only.
    pub endpoint: Option<OtlpEndpoint>,
    /// `service.name` of the exported resource; `None` takes `OTEL_SERVICE_NAME`, else
    /// [`SERVICE_NAME`].
    pub service_name: Option<String>,
    /// How often metrics are pushed.
    pub metrics_interval: Duration,
}

impl TelemetryConfig {
    /// Logging as given, and OTLP export when `OTEL_EXPORTER_OTLP_ENDPOINT` is set and not empty.
    pub fn from_env(format: LogFormat, filter: impl Into<String>) -> Self {
        let endpoint = std::env::var(OTEL_EXPORTER_OTLP_ENDPOINT)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|_| OtlpEndpoint::FromEnv);
        TelemetryConfig {
            format,
            filter: filter.into(),
            endpoint,
            service_name: None,
            metrics_interval: Duration::from_secs(60),
        }
    }

    /// Export to `base` (`http://127.0.0.1:4318`) whatever the environment says.
    pub fn with_endpoint(mut self, base: impl Into<String>) -> Self {
        self.endpoint = Some(OtlpEndpoint::Base(base.into()));
        self
    }

    /// Another `service.name`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Another metrics push interval.
    pub fn with_metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = interval;
        self
    }
}

/// The installed exporters. Keep it alive for the life of the program: dropping it (or calling
/// [`shutdown`](Self::shutdown)) flushes what is buffered and stops exporting.
#[derive(Debug, Default)]
#[must_use = "dropping the guard shuts the exporters down"]
pub struct Telemetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Whether traces and metrics are being exported.
    pub fn is_exporting(&self) -> bool {
        self.tracer_provider.is_some()
    }

    /// The meter to hand to [`MetricsObserver::export_to`], when exporting.
    pub fn meter(&self) -> Option<Meter> {
        self.meter_provider.as_ref().map(|p| p.meter(SERVICE_NAME))
    }

    /// Exports what is buffered now, without stopping.
    pub fn flush(&self) -> Result<(), InitError> {
        let mut first = Ok(());
        if let Some(p) = &self.tracer_provider
            && let Err(e) = p.force_flush()
        {
            first = Err(InitError::Telemetry(format!("flushing traces: {e}")));
        }
        if let Some(p) = &self.meter_provider
            && let Err(e) = p.force_flush()
        {
            first = first.and(Err(InitError::Telemetry(format!("flushing metrics: {e}"))));
        }
        first
    }

    /// Flushes and stops both exporters; the first error is returned, both are attempted.
    pub fn shutdown(mut self) -> Result<(), InitError> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), InitError> {
        let mut first = Ok(());
        if let Some(p) = self.tracer_provider.take()
            && let Err(e) = p.shutdown()
        {
            first = Err(InitError::Telemetry(format!("shutting down traces: {e}")));
        }
        if let Some(p) = self.meter_provider.take()
            && let Err(e) = p.shutdown()
        {
            first = first.and(Err(InitError::Telemetry(format!("shutting down metrics: {e}"))));
        }
        first
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown_inner() {
            tracing::warn!("{e}");
        }
    }
}

/// Installs logging as [`init_logging`](crate::init_logging) does and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, OTLP/HTTP export of the `tracing` spans and of metrics
/// (the global meter provider is set too).
///
/// ```no_run
/// use prompt_manager_observability::{LogFormat, MetricsObserver, filter_from_env, init_telemetry};
/// let telemetry = init_telemetry(LogFormat::Json, &filter_from_env("info"))?;
/// let metrics = MetricsObserver::default();
/// if let Some(meter) = telemetry.meter() {
///     metrics.export_to(&meter);
/// }
/// // … run; `telemetry` flushes when dropped.
/// # Ok::<(), prompt_manager_observability::InitError>(())
/// ```
pub fn init_telemetry(format: LogFormat, filter: &str) -> Result<Telemetry, InitError> {
    init_telemetry_with(TelemetryConfig::from_env(format, filter))
}

/// [`init_telemetry`] with every choice explicit.
pub fn init_telemetry_with(config: TelemetryConfig) -> Result<Telemetry, InitError> {
    let filter = parse_filter(&config.filter)?;
    let Some(endpoint) = &config.endpoint else {
        Registry::default()
            .with(filter)
            .with(fmt_layer(
                config.format,
                std::io::stderr,
                crate::logging::stderr_colour(),
            ))
            .try_init()
            .map_err(InitError::AlreadySet)?;
        return Ok(Telemetry::default());
    };
    let (tracer_provider, meter_provider) = build_providers(&config, endpoint)?;
    let tracer = tracer_provider.tracer(SERVICE_NAME);
    let installed = Registry::default()
        .with(filter)
        .with(fmt_layer(
            config.format,
            std::io::stderr,
            crate::logging::stderr_colour(),
        ))
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .try_init();
    if let Err(e) = installed {
        // Nothing was installed: stop the exporter threads before reporting.
        let _ = tracer_provider.shutdown();
        let _ = meter_provider.shutdown();
        return Err(InitError::AlreadySet(e));
    }
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    Ok(Telemetry {
        tracer_provider: Some(tracer_provider),
        meter_provider: Some(meter_provider),
    })
}

fn build_providers(
    config: &TelemetryConfig,
    endpoint: &OtlpEndpoint,
) -> Result<(SdkTracerProvider, SdkMeterProvider), InitError> {
    let service_name = config.service_name.clone().or_else(|| {
        std::env::var("OTEL_SERVICE_NAME")
            .is_err()
            .then(|| SERVICE_NAME.to_owned())
    });
    let mut resource = Resource::builder();
    if let Some(name) = service_name {
        resource = resource.with_service_name(name);
    }
    let resource = resource.build();

    let mut spans = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    let mut metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    if let OtlpEndpoint::Base(base) = endpoint {
        let base = base.trim_end_matches('/');
        spans = spans.with_endpoint(format!("{base}/v1/traces"));
        metrics = metrics.with_endpoint(format!("{base}/v1/metrics"));
    }
    let spans = spans
        .build()
        .map_err(|e| InitError::Telemetry(format!("building the span exporter: {e}")))?;
    let metrics = metrics
        .build()
        .map_err(|e| InitError::Telemetry(format!("building the metric exporter: {e}")))?;

    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(spans)
        .build();
    let reader = PeriodicReader::builder(metrics)
        .with_interval(config.metrics_interval)
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(reader)
        .build();
    Ok((tracer_provider, meter_provider))
}

/// The OpenTelemetry instruments a [`MetricsObserver`] feeds: the latency histogram is recorded on
/// each render; the counters are observed from the observer's atomics at each collection.
pub(crate) struct OtelInstruments {
    latency: Histogram<f64>,
    _counters: Vec<ObservableCounter<u64>>,
    _gauges: Vec<ObservableGauge<u64>>,
}

impl OtelInstruments {
    pub(crate) fn record_latency(&self, duration: Duration, attributes: &[KeyValue]) {
        self.latency.record(duration.as_secs_f64(), attributes);
    }
}

/// Registers an observable counter that reads `read` from the observer at each collection. The
/// callback holds the observer weakly, so the meter provider never keeps it alive.
fn observed_counter(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
    inner: &Arc<Inner>,
    read: impl Fn(&Inner, &mut dyn FnMut(u64, &[KeyValue])) + Send + Sync + 'static,
) -> ObservableCounter<u64> {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    meter
        .u64_observable_counter(name)
        .with_description(description)
        .with_callback(move |observer| {
            if let Some(inner) = weak.upgrade() {
                read(&inner, &mut |value, attributes| observer.observe(value, attributes));
            }
        })
        .build()
}

fn observed_gauge(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    inner: &Arc<Inner>,
    read: impl Fn(&Inner) -> u64 + Send + Sync + 'static,
) -> ObservableGauge<u64> {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    meter
        .u64_observable_gauge(name)
        .with_description(description)
        .with_unit(unit)
        .with_callback(move |observer| {
            if let Some(inner) = weak.upgrade() {
                observer.observe(read(&inner), &[]);
            }
        })
        .build()
}

impl MetricsObserver {
    /// Exports this observer's figures through `meter` (from [`Telemetry::meter`] or any
    /// OpenTelemetry meter provider), with the prompt id as `gen_ai.prompt.name`. The first call wins;
    /// later calls do nothing.
    ///
    /// Instruments: `prompt_manager.renders`, `prompt_manager.render.errors` (with `error.type` = code
    /// and `prompt_manager.error.kind`), `prompt_manager.render.duration` (histogram, seconds, the
    /// same buckets as the Prometheus one) — these three also with `gen_ai.prompt.version` and
    /// `gen_ai.prompt.label`, bounded as the Prometheus series are — `prompt_manager.versions.created`,
    /// `prompt_manager.label.moves` (with `prompt_manager.label.move`),
    /// `prompt_manager.render_cache.hits` / `.misses` (counters) and `.entries` / `.bytes` (gauges).
    pub fn export_to(&self, meter: &Meter) {
        let inner = &self.inner;
        inner.otel.get_or_init(|| instruments(meter, inner));
    }
}

fn instruments(meter: &Meter, inner: &Arc<Inner>) -> OtelInstruments {
    {
        let latency = meter
            .f64_histogram("prompt_manager.render.duration")
            .with_description("Render latency, from resolution to output.")
            .with_unit("s")
            .with_boundaries(inner.bounds_seconds.to_vec())
            .build();
        let counters = vec![
            observed_counter(
                meter,
                "prompt_manager.renders",
                "Renders, successful or not.",
                inner,
                |inner, observe| {
                    for m in inner.all() {
                        let series = m.render_series();
                        let only_folded = series.len() == 1;
                        for s in series {
                            // An id without renders is still exported, at 0, under its folded series.
                            let n = s.latency.count();
                            if n > 0 || only_folded {
                                observe(n, &s.otel_attributes);
                            }
                        }
                    }
                },
            ),
            observed_counter(
                meter,
                "prompt_manager.render.errors",
                "Failed renders by error code and kind.",
                inner,
                |inner, observe| {
                    for m in inner.all() {
                        for s in m.render_series() {
                            for (code, kind, n) in s.errors() {
                                let [name, version, label] = s.otel_attributes.clone();
                                let attributes = [
                                    name,
                                    version,
                                    label,
                                    KeyValue::new(ERROR_TYPE, code),
                                    KeyValue::new(PROMPT_MANAGER_ERROR_KIND, kind),
                                ];
                                observe(n, &attributes);
                            }
                        }
                    }
                },
            ),
            observed_counter(
                meter,
                "prompt_manager.versions.created",
                "New versions saved.",
                inner,
                |inner, observe| {
                    for m in inner.all() {
                        let n = m.versions_created.load(std::sync::atomic::Ordering::Relaxed);
                        if n > 0 {
                            observe(n, &m.otel_attributes);
                        }
                    }
                },
            ),
            observed_counter(
                meter,
                "prompt_manager.label.moves",
                "Labels set, rolled back or removed.",
                inner,
                |inner, observe| {
                    for m in inner.all() {
                        for (kind, n) in m.label_moves() {
                            let attributes = [
                                m.otel_attributes[0].clone(),
                                KeyValue::new(PROMPT_MANAGER_LABEL_MOVE, kind),
                            ];
                            observe(n, &attributes);
                        }
                    }
                },
            ),
            observed_counter(
                meter,
                "prompt_manager.render_cache.hits",
                "Renders served from the rendered-output cache.",
                inner,
                |inner, observe| observe(inner.cache.hits.load(std::sync::atomic::Ordering::Relaxed), &[]),
            ),
            observed_counter(
                meter,
                "prompt_manager.render_cache.misses",
                "Renders that missed the rendered-output cache.",
                inner,
                |inner, observe| observe(inner.cache.misses.load(std::sync::atomic::Ordering::Relaxed), &[]),
            ),
        ];
        let gauges = vec![
            observed_gauge(
                meter,
                "prompt_manager.render_cache.entries",
                "Rendered outputs kept in the cache.",
                "{entry}",
                inner,
                |inner| inner.cache.entries.load(std::sync::atomic::Ordering::Relaxed),
            ),
            observed_gauge(
                meter,
                "prompt_manager.render_cache.bytes",
                "Approximate size of the rendered outputs kept.",
                "By",
                inner,
                |inner| inner.cache.bytes.load(std::sync::atomic::Ordering::Relaxed),
            ),
        ];
        OtelInstruments {
            latency,
            _counters: counters,
            _gauges: gauges,
        }
    }
}
