//! The domain model: prompts, their templates and configuration, versions, labels and renders.
//!
//! A [`Prompt`] is the content a person writes; a [`PromptVersion`] is an immutable snapshot of
//! it with a semver number. Status and labels are prompt-level state that moves without creating
//! versions, so they live in [`PromptSummary`] and [`LabelEvent`], not in the snapshot.
//!
//! The types are split by responsibility and all re-exported here, so `crate::model::X` names
//! each of them:
//! - [`prompt`]: the prompt, its format, metadata and model configuration, and its validation;
//! - [`chat`]: roles, chat messages, tool calls, placeholders and the template;
//! - [`schema`]: declared variables and their types;
//! - [`version`]: versions, content hashes and bumps;
//! - [`state`]: status, label moves and the summary a store keeps;
//! - [`output`]: what a render produces and reports.
//!
//! Storage, rendering and the manager that use these types live elsewhere.

mod chat;
mod output;
mod prompt;
mod schema;
mod state;
mod version;

pub use chat::{ChatItem, ChatMessage, MessagePlaceholder, Role, Template, ToolCall};
pub use output::{PromptExecution, RenderOutput, RenderedPrompt};
pub use prompt::{MAX_TAG_LEN, Metadata, ModelConfig, Prompt, PromptFormat};
pub use schema::{InputSchema, VariableSpec, VariableType};
pub use state::{LabelEvent, LabelEventKind, PromptStatus, PromptSummary};
pub use version::{Bump, ContentHash, PromptVersion, VersionInfo};
