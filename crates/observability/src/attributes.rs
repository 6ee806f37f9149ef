//! The names of the span fields and metric attributes that describe a prompt render, shared by the
//! core's `tracing` spans and by this crate's exporters so traces link to prompt versions.
//!
//! They follow the OpenTelemetry GenAI naming style (`gen_ai.*`). `tracing` accepts dotted field
//! names as written (`tracing::info_span!("prompt.render", gen_ai.prompt.name = %id)`), and
//! `tracing-opentelemetry` exports each field as a span attribute of the same name.

/// The prompt id (`support/triage`).
pub const GEN_AI_PROMPT_NAME: &str = "gen_ai.prompt.name";
/// The exact semver version rendered (`1.4.2`).
pub const GEN_AI_PROMPT_VERSION: &str = "gen_ai.prompt.version";
/// The label the reference named (`production`), when it named one.
pub const GEN_AI_PROMPT_LABEL: &str = "gen_ai.prompt.label";
/// The content hash of the rendered version.
pub const GEN_AI_PROMPT_CONTENT_HASH: &str = "gen_ai.prompt.content_hash";
/// The reference as the caller wrote it (`support/triage@production`).
pub const GEN_AI_PROMPT_REFERENCE: &str = "gen_ai.prompt.reference";
/// The outcome of an operation: `ok`, or the error's code (`invalid_variables`, `not_found`, …).
pub const PROMPT_MANAGER_OUTCOME: &str = "prompt_manager.outcome";
/// The error's code on failure (`invalid_variables`, `not_found`, …), as OpenTelemetry's
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// The broad error kind on failure (`invalid_input`, `not_found`, `conflict`, `render`,
/// `unsupported`, `internal`).
pub const PROMPT_MANAGER_ERROR_KIND: &str = "prompt_manager.error.kind";
/// How a label moved (`set`, `rollback`, `remove`), on label-move metrics.
pub const PROMPT_MANAGER_LABEL_MOVE: &str = "prompt_manager.label.move";

/// The name of the span around one render, as the core should open it.
pub const RENDER_SPAN_NAME: &str = "prompt.render";
