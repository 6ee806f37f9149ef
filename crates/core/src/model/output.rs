//! What a render produces and reports: the [`RenderOutput`], the [`RenderedPrompt`] plugins
//! turn into provider requests, and the [`PromptExecution`] observers are told about.
//!
//! Rendering itself is in `crate::render` and the manager, not here.

use std::time::Duration;

use semver::Version;
use serde::{Deserialize, Serialize};

use super::{ChatMessage, ContentHash, ModelConfig, PromptFormat};
use crate::id::{LabelName, PromptId};

/// The outcome of one render, as observers see it. Variables are not kept: they may hold personal data.
///
/// It borrows what it names from the render's resolution, so telling the observers costs no
/// copies and no reference counting on the hot path; an observer that keeps something past the
/// call clones the fields it needs (or serializes the whole record, e.g. to a queue).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptExecution<'a> {
    /// A process-unique id of this render.
    pub id: u64,
    /// The reference as the caller wrote it.
    pub reference: &'a str,
    /// The prompt, when the reference resolved.
    pub prompt_id: Option<&'a PromptId>,
    /// The exact version rendered, when the reference resolved.
    pub version: Option<&'a Version>,
    /// The label used, if the reference named one.
    pub label: Option<&'a LabelName>,
    /// How long the render took.
    pub duration: Duration,
    /// `None` on success, else the error's code (`invalid_variables`, `archived`, …).
    pub error: Option<std::borrow::Cow<'static, str>>,
    /// Bytes of output.
    pub output_bytes: usize,
    /// A rough token count of the output (bytes / 4).
    pub token_estimate: usize,
}

/// What a render produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RenderOutput {
    /// The text of a text prompt.
    Text(String),
    /// The messages of a chat prompt.
    Messages(Vec<ChatMessage>),
}

impl RenderOutput {
    /// Total bytes of text.
    pub fn len_bytes(&self) -> usize {
        match self {
            RenderOutput::Text(t) => t.len(),
            RenderOutput::Messages(ms) => ms.iter().map(|m| m.content.len()).sum(),
        }
    }
}

/// A rendered prompt with what plugins need to build a provider request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderedPrompt {
    /// The prompt.
    pub id: PromptId,
    /// The exact version rendered.
    pub version: Version,
    /// The format.
    pub format: PromptFormat,
    /// The output.
    pub output: RenderOutput,
    /// The model parameters of the version.
    pub model_config: ModelConfig,
    /// The content hash of the version.
    pub content_hash: ContentHash,
    /// When the reference named an A/B split label: the variant that served this render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<super::ServedVariant>,
}
