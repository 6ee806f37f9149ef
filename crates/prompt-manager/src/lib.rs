//! # prompt-manager
//!
//! Versioned, labelled prompt templates for LLM applications: write a prompt once, version it,
//! promote it from `staging` to `production`, roll it back, and render it in-process in
//! microseconds — as text or as chat messages.
//!
//! This is the umbrella crate: it re-exports a curated API from the layer crates
//! (`prompt-manager-core`, `-template`, `-storage`, `-versioning`) and wires the defaults — the
//! minijinja engine and a store opened from a URL.
//!
//! ```
//! use prompt_manager::{Bump, Prompt, Variables, VersioningExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> prompt_manager::Result<()> {
//! let pm = prompt_manager::in_memory();
//! pm.create(Prompt::text("greeting", "Hello {{ name }}!")?).await?;
//! pm.set_label("greeting", "production", "1.0.0").await?;
//!
//! pm.update(Prompt::text("greeting", "Hi {{ name }}, welcome!")?, Bump::Minor, "Warmer").await?;
//! let vars = Variables::new().with("name", "Ada");
//! assert_eq!(pm.render("greeting@production", &vars).await?, "Hello Ada!");
//! assert_eq!(pm.render("greeting@^1.1", &vars).await?, "Hi Ada, welcome!");
//!
//! let diff = pm.diff("greeting@1.0.0", "greeting@1.1.0").await?;
//! assert_eq!(prompt_manager::versioning::suggest_bump(&diff), Bump::Minor);
//! # Ok(()) }
//! ```
//!
//! ## Stores
//! [`open_store`] and [`open`] take a URL:
//! - `memory://` — in the process, gone when it ends;
//! - `dir://./prompts` — a folder of YAML files, one per version, to read, edit and review in git
//!   (feature `fs`, on by default);
//! - `sqlite://./prompt-manager.db` — one file, WAL, fully durable (feature `sqlite`);
//! - `postgres://user@host/db?schema=name` — for many instances (feature `postgres`);
//! - `http://host:8080/?key=…` — a running `prompt-manager serve` (feature `remote`): versions are
//!   fetched once and rendered in-process, and the server's change stream keeps them fresh.
//!
//! ## Features
//! - `fs` (default): the folder store, YAML import/export ([`library`]) and the prompt-file
//!   checker ([`lint`]).
//! - `sqlite`, `postgres`: the SQL stores (sqlx).
//! - `remote`: `http://` stores (`RemoteStore`, from prompt-manager-remote).
//! - `openai`, `anthropic`, `gemini`, `langchain`, `litellm` (or `plugins` for all): framework
//!   payloads through `pm.render_for("openai", "support/triage@production", &vars)`.
//! - `observability` (and `otlp`): logging setup, Prometheus metrics, OpenTelemetry export, and
//!   the logging and metrics observers.
//! - `cost` (default): the token counter and price table of [`cost`], set on the manager by
//!   [`builder()`]; `openai-tokens` (default) counts OpenAI models with their own BPE encodings
//!   instead of the estimate.
//! - `full`: everything (for CI and docs).

use std::sync::Arc;

/// Where a rollback of a label goes, from the label's history (what `rollback` does), for front
/// ends that show it before doing it.
#[doc(inline)]
pub use prompt_manager_core::rollback_target;
#[doc(inline)]
pub use prompt_manager_core::{
    Bump, CacheStats, ChangeListener, ChatItem, ChatMessage, CompileUnit, CompiledTemplate, ContentHash, CreateOptions,
    Engines, Error, ErrorDetails, ErrorKind, Expect, HashMismatch, IncludedTemplate, InputSchema, IntoLabelName,
    IntoPromptId, IntoVersion, LabelChange, LabelEvent, LabelEventKind, LabelName, LabelOptions, ListQuery,
    MessagePlaceholder, Metadata, ModelConfig, NotFound, Observer, Page, Plugin, Prompt, PromptExecution, PromptFormat,
    PromptId, PromptManager, PromptManagerBuilder, PromptRef, PromptStatus, PromptSummary, PromptVersion,
    RenderCacheConfig, RenderOutput, RenderedPrompt, Resolution, Result, Role, SaveOutcome, SaveRequest, Selector,
    SourcePosition, SourceScan, StorageBackend, Store, Template, TemplateEngine, TemplateSyntax, ToolCall,
    UpdateOptions, VariableProblem, VariableSpec, VariableType, Variables, VersionInfo, VersionStore, async_trait,
    semver,
};
// A/B splits: a label over several weighted versions, renders that pick a variant, and the
// assignment's pure functions.
#[doc(inline)]
pub use prompt_manager_core::{
    AssignmentChange, ExpectTarget, LabelTarget, MAX_SPLIT_VARIANTS, MAX_SPLIT_WEIGHT, MIN_SPLIT_VARIANTS,
    RenderOptions, ServedVariant, Split, SplitOptions, SplitVariant, rollback_assignment, split,
};
// Governance: the store's requests for protected labels, and the audit log.
#[doc(inline)]
pub use prompt_manager_core::{
    AuditAction, AuditBreak, AuditEntry, AuditQuery, AuditRecord, AuditReport, Authority, ChainVerifier, DeleteRequest,
    Dependent, IncludeKind, ProtectionChange, StatusChange, verify_chain,
};
// Tokens and prices: core's contracts, which the `cost` module implements.
#[doc(inline)]
pub use prompt_manager_core::{NanoUsd, Price, PriceBook, TokenCount, TokenCounter, TokenMethod};
#[cfg(feature = "remote")]
#[doc(inline)]
pub use prompt_manager_remote::{Bundle, CopyServed, DiskCache, ReadSources, RemoteStore};
#[cfg(feature = "fs")]
#[doc(inline)]
pub use prompt_manager_storage::DirStore;
#[doc(inline)]
pub use prompt_manager_storage::MemoryStore;
#[cfg(feature = "postgres")]
#[doc(inline)]
pub use prompt_manager_storage::PostgresStore;
#[cfg(feature = "sqlite")]
#[doc(inline)]
pub use prompt_manager_storage::SqliteStore;
#[doc(inline)]
pub use prompt_manager_storage::redact_url;
#[cfg(feature = "redis")]
#[doc(inline)]
pub use prompt_manager_storage::{RedisCachedStore, RedisOptions, RedisStats};
#[cfg(feature = "s3")]
#[doc(inline)]
pub use prompt_manager_storage::{S3Options, S3Store};
#[cfg(feature = "handlebars")]
#[doc(inline)]
pub use prompt_manager_template::HandlebarsEngine;
#[doc(inline)]
pub use prompt_manager_template::{MiniJinjaEngine, RenderLimits};

/// Version logic: structural diffs, suggested bumps, changelog drafts.
pub mod versioning {
    #[doc(inline)]
    pub use prompt_manager_versioning::*;
}

/// Other tools' formats, in and out: Langfuse's prompt JSON and Prompty's `.prompty` files
/// (feature `interop`).
#[cfg(feature = "interop")]
pub mod interop {
    #[doc(inline)]
    pub use prompt_manager_interop::*;

    use crate::library::LibraryEntry;

    /// A version read from another tool's file as a library entry, for
    /// [`import_entries`](crate::library::import_entries): all or nothing with the rest.
    pub fn library_entry(imported: Imported) -> LibraryEntry {
        LibraryEntry {
            prompt: imported.prompt,
            version: imported.version,
            labels: imported.labels,
            status: None,
            changelog: imported.changelog,
            author: imported.author,
            created_at: imported.created_at,
            position: imported.position,
        }
    }

    /// Writes library entries (from [`export_entries`](crate::library::export_entries)) as
    /// `format`'s files, each prompt's versions in order. With `label`, a format that keeps one
    /// version per file (Prompty) writes the version the label points at; each prompt without
    /// it is left out and named in a warning. A format holds one template syntax
    /// ([`Format::syntax`]): prompts of the other are left out and named too, and an error says
    /// so when that leaves nothing to write.
    pub fn export_library(
        format: Format,
        mut entries: Vec<LibraryEntry>,
        label: Option<&crate::LabelName>,
    ) -> crate::Result<Export> {
        let mut other_syntax: Vec<String> = entries
            .iter()
            .filter(|e| e.prompt.syntax != format.syntax())
            .map(|e| e.prompt.id.to_string())
            .collect();
        other_syntax.dedup();
        entries.retain(|e| e.prompt.syntax == format.syntax());
        let left_out = (!other_syntax.is_empty()).then(|| {
            format!(
                "left out (written in another syntax; {format} files hold {} templates): {}",
                format.syntax(),
                other_syntax.join(", ")
            )
        });
        if let Some(left_out) = &left_out
            && entries.is_empty()
        {
            return Err(crate::Error::invalid_argument(
                "format",
                format.name(),
                format!("no prompt to export: {left_out}"),
            ));
        }
        let mut unlabelled = Vec::new();
        if let Some(label) = label.filter(|_| !format.keeps_versions()) {
            let ids: std::collections::BTreeSet<_> = entries.iter().map(|e| e.prompt.id.clone()).collect();
            entries.retain(|e| e.labels.contains(label));
            unlabelled = ids
                .into_iter()
                .filter(|id| !entries.iter().any(|e| e.prompt.id == *id))
                .map(|id| format!("{id} has no label `{label}`: not exported"))
                .collect();
        }
        // The last version of each prompt is its latest (Prompty writes only that one).
        entries.sort_by(|a, b| (&a.prompt.id, &a.version).cmp(&(&b.prompt.id, &b.version)));
        let exportable: Vec<Exportable<'_>> = entries.iter().map(exportable).collect();
        let mut written = export(format, &exportable)?;
        written.warnings.extend(left_out);
        written.warnings.extend(unlabelled);
        Ok(written)
    }

    /// A library entry (from [`export_entries`](crate::library::export_entries)) as a version
    /// to [`export`].
    pub fn exportable(entry: &LibraryEntry) -> Exportable<'_> {
        Exportable {
            prompt: &entry.prompt,
            version: entry.version.as_ref(),
            labels: &entry.labels,
            changelog: &entry.changelog,
            author: entry.author.as_deref(),
            created_at: entry.created_at,
        }
    }
}

mod ext;
pub use ext::VersioningExt;

/// Significance tests for comparing versions and A/B variants: two-proportion z-test, Wilson
/// interval, Welch's t-test, and [`stats::compare_to_control`] with its plain verdicts.
#[doc(inline)]
pub use prompt_manager_core::stats;
mod usage;
pub use usage::UsageFlusher;
/// Usage records and analytics: what a render records, what callers report after the model
/// call, and the grouped series read back (`docs/analytics.md`).
pub mod analytics {
    #[doc(inline)]
    pub use prompt_manager_core::usage::*;
}
#[doc(inline)]
pub use prompt_manager_core::{
    Analytics, AnalyticsQuery, Bucket, Feedback, FlushReport, GroupBy, RenderId, UsageConfig, UsageQuery, UsageReport,
    UsageRow,
};

#[cfg(feature = "fs")]
pub mod library;
#[cfg(feature = "fs")]
pub mod sync;
/// Checks a folder of prompt files and says what is wrong at `file:line:column` (what
/// `prompt-manager lint` runs). It lives in the storage crate, beside the formats it reads, and
/// asks the engines it is given (`pm.engines()`, or [`engines`]) about templates, each prompt's
/// of its syntax.
///
/// ```
/// # fn main() -> prompt_manager::Result<()> {
/// let folder = tempfile::tempdir().expect("a temporary folder");
/// std::fs::write(folder.path().join("greeting.yaml"), "id: greeting\ntemplate: Hello {{ name }\n").expect("written");
/// let pm = prompt_manager::in_memory();
/// let report = prompt_manager::lint::lint_path(pm.engines(), folder.path())?;
/// assert_eq!((report.errors, report.diagnostics[0].code), (1, "template_syntax"));
/// # Ok(()) }
/// ```
#[cfg(feature = "fs")]
pub mod lint {
    #[doc(inline)]
    pub use prompt_manager_storage::lint::*;
}

/// The template engines of this build, one per syntax: minijinja for Jinja and, with feature
/// `handlebars`, [`HandlebarsEngine`] for Handlebars. [`builder`] gives a manager these; tools
/// that read prompt files without a manager (lint) take them from here.
pub fn engines() -> Engines {
    #[allow(unused_mut)]
    let mut engines = Engines::from(Arc::new(MiniJinjaEngine::new()) as Arc<dyn TemplateEngine>);
    #[cfg(feature = "handlebars")]
    engines.insert(Arc::new(HandlebarsEngine::new()));
    engines
}

/// A manager builder with the defaults filled in: the engines of [`engines`], an in-memory store, the
/// framework plugins this build enables (features `openai`, `anthropic`, `gemini`, `langchain`,
/// `litellm`), and with feature `cost` the token counter ([`cost::Counter`]) and the shipped
/// price table ([`cost::PriceTable::shipped`]). Replace any of them with `.store(…)`,
/// `.engine(…)`, `.token_counter(…)`, `.prices(…)`.
pub fn builder() -> PromptManagerBuilder {
    let mut builder = PromptManager::builder().store(Arc::new(MemoryStore::new()));
    for engine in engines().iter() {
        builder = builder.engine(engine.clone());
    }
    #[cfg(feature = "cost")]
    let builder = builder
        .token_counter(Arc::new(cost::Counter::new()))
        .prices(Arc::new(cost::PriceTable::shipped()));
    #[cfg(any(
        feature = "openai",
        feature = "anthropic",
        feature = "gemini",
        feature = "langchain",
        feature = "litellm"
    ))]
    let builder = prompt_manager_plugins::builtin()
        .into_iter()
        .fold(builder, PromptManagerBuilder::plugin);
    builder
}

/// Tokens and cost: OpenAI's BPE encodings (feature `openai-tokens`), a documented estimate for
/// other models, and the price table shipped as data (`prompt-manager-cost`).
///
/// ```
/// use prompt_manager::{PriceBook, Prompt, Variables};
/// use prompt_manager::cost::PriceTable;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> prompt_manager::Result<()> {
/// let pm = prompt_manager::in_memory();
/// pm.create(Prompt::text("greeting", "Hello {{ name }}!")?).await?;
/// let rendered = pm.render_prompt("greeting", &Variables::new().with("name", "Ada")).await?;
/// let count = pm.token_counter().expect("set by builder()").count(Some("gpt-4o"), &rendered.output);
/// let price = pm.prices().expect("set by builder()").price("gpt-4o").expect("priced");
/// assert!(count.tokens > 0 && price.input_cost(count.tokens).0 > 0);
/// assert_eq!(PriceTable::shipped().price("no-such-model"), None);
/// # Ok(()) }
/// ```
#[cfg(feature = "cost")]
pub mod cost {
    #[doc(inline)]
    pub use prompt_manager_cost::*;
}

/// The `http://` store (a running `prompt-manager serve`) and its offline fallback: the disk
/// cache, bundles, the render budget and which source answered.
#[cfg(feature = "remote")]
pub mod remote {
    #[doc(inline)]
    pub use prompt_manager_remote::*;
}

/// Logging setup, metrics (Prometheus text, OTLP) and the logging and metrics observers.
#[cfg(feature = "observability")]
pub mod observability {
    #[doc(inline)]
    pub use prompt_manager_observability::*;
}

/// Framework renderers (`render_for`): OpenAI, Anthropic, Gemini, LangChain, LiteLLM.
#[cfg(any(
    feature = "openai",
    feature = "anthropic",
    feature = "gemini",
    feature = "langchain",
    feature = "litellm"
))]
pub mod plugins {
    #[doc(inline)]
    pub use prompt_manager_plugins::*;
}

/// A manager on a fresh in-memory store with the minijinja engine.
pub fn in_memory() -> PromptManager {
    builder()
        .build()
        // `builder()` sets both required parts, so building cannot fail.
        .unwrap_or_else(|_| unreachable!("engine and store are set"))
}

/// The store schemes [`open_store`] can open in this build, as its Cargo features decided:
/// `memory` always, `dir` with `fs`, `sqlite` with `sqlite`, `postgres` with `postgres`, `s3`
/// with `s3`, `http` with `remote`, `redis` with `redis`.
///
/// Features unify across a workspace, so a binary may have a backend its own manifest did not
/// ask for; this says what it really has (`prompt-manager --version` prints it).
pub const STORE_SCHEMES: &[&str] = &[
    "memory",
    #[cfg(feature = "fs")]
    "dir",
    #[cfg(feature = "sqlite")]
    "sqlite",
    #[cfg(feature = "postgres")]
    "postgres",
    #[cfg(feature = "s3")]
    "s3",
    #[cfg(feature = "remote")]
    "http",
    #[cfg(feature = "redis")]
    "redis",
];

/// Opens a store by URL: `memory://`, `dir://PATH`, `sqlite://PATH`, `postgres://…`,
/// `s3://BUCKET/PREFIX` (feature `s3`; see `S3Store`), `http://host:port/?key=…` (a running `prompt-manager serve`, feature `remote`), or any of
/// them behind a shared Redis cache and invalidation bus:
/// `redis://HOST:PORT/DB?store=URL` (feature `redis`; see `RedisCachedStore`).
///
/// A scheme whose backend is not compiled in is an error naming the Cargo feature that enables
/// it; an unknown scheme lists the known ones.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> prompt_manager::Result<()> {
/// let folder = tempfile::tempdir().expect("a temporary folder");
/// let store = prompt_manager::open_store(&format!("dir://{}", folder.path().display())).await?;
/// assert_eq!(store.backend_name(), "dir");
///
/// let err = prompt_manager::open_store("mongodb://localhost").await.unwrap_err();
/// assert!(err.to_string().contains("unknown store scheme `mongodb://`"));
/// # Ok(()) }
/// ```
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        return open_redis(url).await;
    }
    open_store_of_record(url).await
}

/// Every scheme but `redis://` (which wraps one of these).
async fn open_store_of_record(url: &str) -> Result<Arc<dyn Store>> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(Error::Config(format!(
            "`{}` is not a store URL; use memory://, dir://PATH, sqlite://PATH, postgres://…, s3://BUCKET/PREFIX or http://HOST:PORT",
            redact_url(url)
        )));
    };
    match scheme {
        "memory" => Ok(Arc::new(MemoryStore::new())),
        "dir" => open_dir(url, rest),
        "sqlite" => open_sqlite(url).await,
        "postgres" | "postgresql" => open_postgres(url).await,
        "s3" => open_s3(url).await,
        "http" | "https" => open_remote(url),
        other => Err(Error::Config(format!(
            "unknown store scheme `{other}://` in `{}`; use memory://, dir://, sqlite://, postgres://, s3://, http:// or redis://…?store=URL",
            redact_url(url)
        ))),
    }
}

#[cfg(feature = "fs")]
fn open_dir(_url: &str, path: &str) -> Result<Arc<dyn Store>> {
    if path.is_empty() {
        return Err(Error::Config(
            "`dir://` needs a folder: dir://./prompts or dir:///srv/prompts".into(),
        ));
    }
    Ok(Arc::new(DirStore::open(path)?))
}

#[cfg(not(feature = "fs"))]
fn open_dir(url: &str, _path: &str) -> Result<Arc<dyn Store>> {
    Err(not_compiled(url, "fs"))
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqliteStore::connect(url).await?))
}

#[cfg(not(feature = "sqlite"))]
async fn open_sqlite(url: &str) -> Result<Arc<dyn Store>> {
    Err(not_compiled(url, "sqlite"))
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(PostgresStore::connect(url).await?))
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(url: &str) -> Result<Arc<dyn Store>> {
    Err(not_compiled(url, "postgres"))
}

#[cfg(feature = "s3")]
async fn open_s3(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(prompt_manager_storage::S3Store::open(url).await?))
}

#[cfg(not(feature = "s3"))]
async fn open_s3(url: &str) -> Result<Arc<dyn Store>> {
    Err(not_compiled(url, "s3"))
}

#[cfg(feature = "remote")]
fn open_remote(url: &str) -> Result<Arc<dyn Store>> {
    prompt_manager_remote::open(url)
}

#[cfg(not(feature = "remote"))]
fn open_remote(url: &str) -> Result<Arc<dyn Store>> {
    Err(not_compiled(url, "remote"))
}

/// A store behind a Redis cache: the store named by `store=` is opened as any other.
#[cfg(feature = "redis")]
async fn open_redis(url: &str) -> Result<Arc<dyn Store>> {
    let cached =
        prompt_manager_storage::RedisCachedStore::open(url, |store| async move { open_store_of_record(&store).await })
            .await?;
    Ok(Arc::new(cached))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(url: &str) -> Result<Arc<dyn Store>> {
    Err(not_compiled(url, "redis"))
}

/// The store at `url` needs `feature`, which this build lacks. The error names the scheme, not
/// the URL: a caller that shows the URL (redacted) says which one it tried.
#[allow(dead_code)] // unused when every backend is compiled in
fn not_compiled(url: &str, feature: &'static str) -> Error {
    let scheme = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    Error::FeatureMissing {
        feature,
        what: format!("`{scheme}://` stores"),
    }
}

/// A manager on the store at `url` with the minijinja engine.
pub async fn open(url: &str) -> Result<PromptManager> {
    let store = open_store(url).await?;
    builder().store(store).build()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::{not_compiled, open_store, redact_url};

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("dir://./a@b:c"), "dir://./a@b:c");
        // A password holding `/` or `@`, or given as a parameter, never shows either.
        assert_eq!(redact_url("postgres://u:pa/ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&password=pw"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
        assert_eq!(redact_url("postgres://u:pa?ss@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("not a url ?password=x"), "not a url ?password=***");
        assert_eq!(redact_url("postgres:/ada:s3cret@db/pm"), "postgres:***@db/pm");
        assert_eq!(redact_url("./prompts"), "./prompts");
        assert_eq!(redact_url("sqlite://./é@ü.db"), "sqlite://./é@ü.db");
        // The store behind a Redis cache keeps its secrets too.
        assert_eq!(
            redact_url("redis://:r@c:6379/0?store=postgres://u:p@db/pm?password=q&sslmode=require"),
            "redis://:***@c:6379/0?store=postgres://u:***@db/pm?password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("redis://c/0?ttl=5&store=https://pm/?key=pm_a_b"),
            "redis://c/0?ttl=5&store=https://pm/?key=***"
        );
    }

    #[test]
    fn a_missing_backend_names_its_feature() {
        let err = not_compiled("postgres://u:pw@h/db", "postgres");
        assert!(
            matches!(
                err,
                crate::Error::FeatureMissing {
                    feature: "postgres",
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.starts_with("`postgres://` stores need the `postgres` feature"),
            "{message}"
        );
        assert!(message.contains("features = [\"postgres\"]"), "{message}");
        assert!(!message.contains("pw"), "{message}");
    }

    #[tokio::test]
    async fn bad_urls_get_clear_errors() {
        let cases = [
            ("prompts", "is not a store URL"),
            ("mongodb://x", "unknown store scheme `mongodb://`"),
            ("mongodb://x", "or redis://…?store=URL"),
            ("dir://", "`dir://` needs a folder"),
            ("redis://127.0.0.1:1", "no store: `store=URL`"),
            (
                "redis://127.0.0.1:1?store=mongodb://x",
                "unknown store scheme `mongodb://`",
            ),
        ];
        for (url, expected) in cases {
            let message = open_store(url).await.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(expected), "{url}: {message}");
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        let message = open_store(&format!("dir://{}", file.path().display()))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains(&file.path().display().to_string()), "{message}");
    }
}
