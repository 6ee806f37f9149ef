//! The one-call logging setup (human-readable or JSON lines on stderr, `RUST_LOG`-style filter) and
//! the [`LoggingObserver`]. OpenTelemetry export joins the same subscriber in `otlp.rs`.

use std::fmt;
use std::str::FromStr;

use prompt_manager_core::{Error, LabelEvent, Observer, PromptExecution, PromptId, PromptVersion};
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The target of the events the [`LoggingObserver`] emits (filter with `prompt_manager::events=info`).
pub const EVENTS_TARGET: &str = "prompt_manager::events";

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// One readable line per event, for a terminal.
    #[default]
    Human,
    /// One JSON object per line with the span context, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = InitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "human" | "text" | "pretty" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(InitError::Format(other.to_owned())),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        })
    }
}

/// Why logging or telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The filter is not a valid `RUST_LOG`-style directive list.
    #[error("invalid log filter `{filter}`: {source}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What the parser said.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// The log format is neither `human` nor `json`.
    #[error("unknown log format `{0}` (expected `human` or `json`)")]
    Format(String),
    /// A global subscriber was set before (by this crate or another); nothing was changed.
    #[error("a global tracing subscriber is already set: {0}")]
    AlreadySet(#[source] tracing_subscriber::util::TryInitError),
    /// The OpenTelemetry exporters could not be built or shut down.
    #[error("OpenTelemetry: {0}")]
    Telemetry(String),
}

/// The filter to use: `RUST_LOG` when it is set and not empty, else `default`.
pub fn filter_from_env(default: &str) -> String {
    match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => v,
        _ => default.to_owned(),
    }
}

/// Installs the global `tracing` subscriber: log lines on stderr in `format`, filtered by `filter`
/// (`RUST_LOG` syntax, e.g. `info,prompt_manager_core=debug`; see [`filter_from_env`]).
///
/// Returns [`InitError::AlreadySet`] instead of panicking when a global subscriber exists.
///
/// ```no_run
/// use prompt_manager_observability::{LogFormat, filter_from_env, init_logging};
/// init_logging(LogFormat::Json, &filter_from_env("info"))?;
/// # Ok::<(), prompt_manager_observability::InitError>(())
/// ```
pub fn init_logging(format: LogFormat, filter: &str) -> Result<(), InitError> {
    let filter = parse_filter(filter)?;
    Registry::default()
        .with(filter)
        .with(fmt_layer(format, std::io::stderr, stderr_colour()))
        .try_init()
        .map_err(InitError::AlreadySet)
}

pub(crate) fn parse_filter(filter: &str) -> Result<EnvFilter, InitError> {
    EnvFilter::try_new(filter).map_err(|source| InitError::Filter {
        filter: filter.to_owned(),
        source,
    })
}

/// Whether human-readable logs on stderr get colour: only on a terminal, never with `NO_COLOR`
/// (a log file or a CI log gets plain text).
pub(crate) fn stderr_colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The formatting layer of `format`, writing to `writer`; `ansi`: colour in human output.
pub(crate) fn fmt_layer<S, W>(format: LogFormat, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Human => Box::new(tracing_subscriber::fmt::layer().with_ansi(ansi).with_writer(writer)),
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(writer),
        ),
    }
}

/// An [`Observer`] that logs through `tracing` (target [`EVENTS_TARGET`]): render errors at `warn`,
/// versions created and label moves at `info`, successful renders at `debug`.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoggingObserver;

impl LoggingObserver {
    /// A logging observer.
    pub fn new() -> Self {
        LoggingObserver
    }
}

/// Displays an optional value as itself or as nothing, without allocating.
struct Opt<'a, T>(Option<&'a T>);

impl<T: fmt::Display> fmt::Display for Opt<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

impl Observer for LoggingObserver {
    fn on_render_complete(&self, execution: &PromptExecution<'_>) {
        tracing::debug!(
            target: EVENTS_TARGET,
            reference = %execution.reference,
            prompt_id = %Opt(execution.prompt_id),
            version = %Opt(execution.version),
            label = %Opt(execution.label),
            duration_us = execution.duration.as_micros() as u64,
            output_bytes = execution.output_bytes,
            "rendered"
        );
    }

    fn on_render_error(&self, execution: &PromptExecution<'_>, error: &Error) {
        tracing::warn!(
            target: EVENTS_TARGET,
            reference = %execution.reference,
            prompt_id = %Opt(execution.prompt_id),
            version = %Opt(execution.version),
            label = %Opt(execution.label),
            duration_us = execution.duration.as_micros() as u64,
            code = error.code(),
            kind = error.kind().as_str(),
            error = %error,
            "render failed"
        );
    }

    fn on_version_created(&self, version: &PromptVersion) {
        tracing::info!(
            target: EVENTS_TARGET,
            prompt_id = %version.prompt.id,
            version = %version.version,
            parent = %Opt(version.parent.as_ref()),
            author = version.author.as_deref().unwrap_or(""),
            content_hash = %version.content_hash,
            changelog = %version.changelog,
            "version created"
        );
    }

    fn on_label_moved(&self, id: &PromptId, event: &LabelEvent) {
        tracing::info!(
            target: EVENTS_TARGET,
            prompt_id = %id,
            label = %event.label,
            from = %Opt(event.from.as_ref()),
            to = %Opt(event.to.as_ref()),
            kind = ?event.kind,
            actor = event.actor.as_deref().unwrap_or(""),
            "label moved"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use prompt_manager_core::NotFound;

    use super::*;

    /// A writer that keeps what is logged.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    fn logged(format: LogFormat, filter: &str, f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let subscriber =
            Registry::default()
                .with(parse_filter(filter).unwrap())
                .with(fmt_layer(format, buffer.clone(), false));
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    fn failed_execution() -> PromptExecution<'static> {
        PromptExecution {
            id: 7,
            reference: "support/triage@production",
            prompt_id: None,
            version: None,
            label: None,
            duration: Duration::from_micros(12),
            error: Some("not_found".into()),
            output_bytes: 0,
            token_estimate: 0,
        }
    }

    #[test]
    fn render_errors_are_json_warnings_with_code_and_kind() {
        let error = Error::NotFound(NotFound::Prompt(PromptId::new("support/triage").unwrap()));
        let out = logged(LogFormat::Json, "info", || {
            LoggingObserver::new().on_render_error(&failed_execution(), &error);
            LoggingObserver::new().on_render_complete(&failed_execution());
        });
        let lines: Vec<serde_json_line::Line> = out.lines().map(serde_json_line::parse).collect();
        assert_eq!(lines.len(), 1, "successful renders log at debug, filtered out: {out}");
        let line = &lines[0];
        assert_eq!(line.get("level"), Some("WARN"));
        assert_eq!(line.get("target"), Some(EVENTS_TARGET));
        assert_eq!(line.get("message"), Some("render failed"));
        assert_eq!(line.get("code"), Some("not_found"));
        assert_eq!(line.get("kind"), Some("not_found"));
        assert_eq!(line.get("reference"), Some("support/triage@production"));
    }

    #[test]
    fn the_filter_selects_what_is_logged() {
        let out = logged(LogFormat::Human, "warn,prompt_manager::events=debug", || {
            LoggingObserver::new().on_render_complete(&failed_execution());
            tracing::info!(target: "elsewhere", "not shown");
        });
        assert!(out.contains("rendered"), "{out}");
        assert!(out.contains("DEBUG"), "{out}");
        assert!(!out.contains("not shown"), "{out}");
    }

    #[test]
    fn bad_filters_and_formats_are_errors() {
        assert!(matches!(parse_filter("info,=[bad"), Err(InitError::Filter { .. })));
        assert!(matches!("xml".parse::<LogFormat>(), Err(InitError::Format(_))));
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("human".parse::<LogFormat>().unwrap(), LogFormat::Human);
        assert_eq!(LogFormat::Json.to_string(), "json");
    }

    #[test]
    fn successful_renders_log_what_was_rendered_at_debug() {
        let id = PromptId::new("support/triage").unwrap();
        let version = prompt_manager_core::semver::Version::new(1, 4, 2);
        let label = prompt_manager_core::LabelName::new("production").unwrap();
        let execution = PromptExecution {
            prompt_id: Some(&id),
            version: Some(&version),
            label: Some(&label),
            error: None,
            output_bytes: 42,
            ..failed_execution()
        };
        let out = logged(LogFormat::Json, "prompt_manager::events=debug", || {
            LoggingObserver::new().on_render_complete(&execution);
        });
        let line = serde_json_line::parse(out.trim_end());
        assert_eq!(line.get("level"), Some("DEBUG"));
        assert_eq!(line.get("message"), Some("rendered"));
        assert_eq!(line.get("prompt_id"), Some("support/triage"));
        assert_eq!(line.get("version"), Some("1.4.2"));
        assert_eq!(line.get("label"), Some("production"));
        assert!(out.contains("\"output_bytes\":42"), "{out}");
        assert!(out.contains("\"duration_us\":12"), "{out}");
        // Without a resolved prompt the fields are empty, never `None` or a placeholder.
        let out = logged(LogFormat::Json, "prompt_manager::events=debug", || {
            LoggingObserver::new().on_render_complete(&failed_execution());
        });
        assert_eq!(serde_json_line::parse(out.trim_end()).get("prompt_id"), Some(""));
        assert_eq!(LogFormat::Human.to_string(), "human");
        assert_eq!("Pretty".parse::<LogFormat>().unwrap(), LogFormat::Human);
    }

    /// Just enough JSON reading for flat string fields, to keep serde_json out of the dependencies.
    mod serde_json_line {
        pub(super) struct Line(String);

        pub(super) fn parse(s: &str) -> Line {
            assert!(s.starts_with('{') && s.ends_with('}'), "not a JSON object: {s}");
            Line(s.to_owned())
        }

        impl Line {
            pub(super) fn get(&self, key: &str) -> Option<&str> {
                let pattern = format!("\"{key}\":\"");
                let start = self.0.find(&pattern)? + pattern.len();
                let rest = &self.0[start..];
                Some(&rest[..rest.find('"')?])
            }
        }
    }
}
