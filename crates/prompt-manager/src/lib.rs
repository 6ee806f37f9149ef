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
//! ## Features
//! - `full`: everything (for CI and docs). Durable stores (`fs`, `sqlite`, `postgres`) and
//!   framework plugins arrive as features of their own.

use std::sync::Arc;

#[doc(inline)]
pub use prompt_manager_core::{
    Bump, CacheStats, ChatItem, ChatMessage, CompileUnit, CompiledTemplate, ContentHash, CreateOptions, Error,
    ErrorKind, Expect, IncludedTemplate, InputSchema, LabelChange, LabelEvent, LabelEventKind, LabelName, ListQuery,
    MessagePlaceholder, Metadata, ModelConfig, NotFound, Observer, Page, Plugin, Prompt, PromptExecution, PromptFormat,
    PromptId, PromptManager, PromptManagerBuilder, PromptRef, PromptStatus, PromptSummary, PromptVersion, RenderOutput,
    RenderedPrompt, Result, Role, SaveOutcome, SaveRequest, Selector, StorageBackend, Store, Template, TemplateEngine,
    UpdateOptions, VariableProblem, VariableSpec, VariableType, Variables, VersionInfo, VersionStore, async_trait,
    semver,
};
#[doc(inline)]
pub use prompt_manager_storage::MemoryStore;
#[doc(inline)]
pub use prompt_manager_template::{MiniJinjaEngine, RenderLimits};

/// Version logic: structural diffs, suggested bumps, changelog drafts.
pub mod versioning {
    #[doc(inline)]
    pub use prompt_manager_versioning::*;
}

mod ext;
pub use ext::VersioningExt;

/// A manager builder with the defaults filled in: the minijinja engine and an in-memory store.
/// Replace either with `.store(…)` / `.engine(…)`.
pub fn builder() -> PromptManagerBuilder {
    PromptManager::builder()
        .engine(Arc::new(MiniJinjaEngine::new()))
        .store(Arc::new(MemoryStore::new()))
}

/// A manager on a fresh in-memory store with the minijinja engine.
pub fn in_memory() -> PromptManager {
    builder()
        .build()
        // `builder()` sets both required parts, so building cannot fail.
        .unwrap_or_else(|_| unreachable!("engine and store are set"))
}

/// Opens a store by URL.
///
/// Supported now: `memory://`. `dir://`, `sqlite://` and `postgres://` are named so that a URL
/// for them gets a clear answer rather than a parse error.
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    let Some((scheme, _rest)) = url.split_once("://") else {
        return Err(Error::Config(format!(
            "`{url}` is not a store URL; use memory://, dir://PATH, sqlite://PATH or postgres://…"
        )));
    };
    match scheme {
        "memory" => Ok(Arc::new(MemoryStore::new())),
        "dir" | "file" | "sqlite" | "postgres" | "postgresql" => Err(Error::Config(format!(
            "the `{scheme}://` store is not available in this version of prompt-manager; use memory://"
        ))),
        other => Err(Error::Config(format!(
            "unknown store scheme `{other}://` in `{url}`; use memory://, dir://, sqlite:// or postgres://"
        ))),
    }
}

/// A manager on the store at `url` with the minijinja engine.
pub async fn open(url: &str) -> Result<PromptManager> {
    let store = open_store(url).await?;
    builder().store(store).build()
}
