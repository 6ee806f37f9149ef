//! # prompt-manager-core
//!
//! The domain model, the traits and the orchestration of prompt-manager, with no dependency on
//! any other crate of the project: ids and references, prompts and their versions, the one
//! [`Error`] type, the extension points ([`StorageBackend`], [`VersionStore`],
//! [`TemplateEngine`], [`Observer`], [`Plugin`]) and [`PromptManager`], which works with any
//! implementation of them. Most applications use the `prompt-manager` umbrella crate instead,
//! which wires the minijinja engine and the stores.
//!
//! ```
//! use prompt_manager_core::{ChatItem, Prompt, PromptRef, Role, Selector};
//!
//! let prompt = Prompt::chat("support/triage", [
//!     ChatItem::message(Role::System, "You triage tickets for {{ product }}."),
//!     ChatItem::placeholder("history"),
//!     ChatItem::message(Role::User, "{{ ticket }}"),
//! ])?
//! .with_tags(["support"]);
//! prompt.validate()?;
//!
//! let reference: PromptRef = "support/triage@^1.2".parse()?;
//! assert!(matches!(reference.selector, Selector::Requirement(_)));
//! # Ok::<(), prompt_manager_core::Error>(())
//! ```

mod audit;
mod cache;
mod engine;
mod error;
mod hash;
mod id;
mod manager;
mod model;
mod observer;
mod plugin;
mod reference;
mod registry;
mod render;
pub mod stats;
mod store;
mod tokens;
pub mod usage;
mod variables;

pub use audit::{
    AuditAction, AuditBreak, AuditEntry, AuditQuery, AuditRecord, ChainVerifier, DEFAULT_AUDIT_LIMIT, GENESIS_HASH,
    MAX_AUDIT_LIMIT, UNKNOWN_ACTOR, seal_all, verify_chain,
};
pub use cache::RenderCacheConfig;
pub use engine::{
    CompileUnit, CompiledTemplate, Engines, IncludedTemplate, SourcePosition, SourceScan, TemplateEngine,
};
pub use error::{Error, ErrorDetails, ErrorKind, HashMismatch, NotFound, Result, VariableProblem};
pub use hash::sha256_hex;
pub use id::{LabelName, MAX_ID_LEN, MAX_LABEL_LEN, PromptId};
pub use manager::{
    AuditReport, CacheStats, CreateOptions, Dependent, IncludeKind, IntoLabelName, IntoPromptId, IntoVersion,
    LabelOptions, MAX_INCLUDE_DEPTH, MAX_UPDATE_ATTEMPTS, PromptManager, PromptManagerBuilder, RenderOptions,
    SaveOutcome, SplitOptions, UpdateOptions, rollback_assignment, rollback_target,
};
pub use model::{
    Bump, ChatItem, ChatMessage, ContentHash, InputSchema, LabelEvent, LabelEventKind, MAX_TAG_LEN, MessagePlaceholder,
    Metadata, ModelConfig, Prompt, PromptExecution, PromptFormat, PromptStatus, PromptSummary, PromptVersion,
    RenderOutput, RenderedPrompt, Role, Template, TemplateSyntax, ToolCall, VariableSpec, VariableType, VersionInfo,
};
pub use model::{
    LabelTarget, MAX_SPLIT_VARIANTS, MAX_SPLIT_WEIGHT, MIN_SPLIT_VARIANTS, ServedVariant, Split, SplitVariant,
};
pub use observer::Observer;
pub use plugin::Plugin;
pub use reference::{PromptRef, Selector, newest_matching};
pub use store::{
    AssignmentChange, Authority, ChangeListener, DeleteRequest, Expect, ExpectTarget, LabelChange, ListQuery,
    MAX_FILTER_TAGS, MAX_SEARCH_LEN, Page, ProtectionChange, ReadSources, Resolution, SaveRequest, StatusChange,
    StorageBackend, Store, VersionStore, fold_for_search,
};
pub use tokens::{NanoUsd, Price, PriceBook, TokenCount, TokenCounter, TokenMethod};
pub use usage::{
    Analytics, AnalyticsQuery, Bucket, Feedback, FlushReport, GroupBy, RenderId, UsageConfig, UsageCounts, UsageKey,
    UsageQuery, UsageReport, UsageRow,
};
pub use variables::{Variables, json_type};

/// The assignment of renders to the variants of an A/B split, as pure functions: the stable
/// hash (XXH64), the key and version hashes, and the weighted rendezvous pick. See
/// [`Split`] for the algorithm.
pub mod split {
    pub use crate::model::{context_seed, mix64, pick_at_random, pick_by_key, split_key_hash, version_hash, xxh64};
}

/// Re-exported so implementors of the async traits use the same macro version.
pub use async_trait::async_trait;
/// Re-exported: versions and requirements are `semver` types.
pub use semver;
