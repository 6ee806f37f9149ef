//! The JSON bodies of the API: requests and responses the handlers read and write, and
//! [`schema`], the OpenAPI description of the core types they carry (prompts, versions,
//! summaries, label events), which `prompt-manager-core` does not derive itself.

use std::collections::BTreeMap;

use prompt_manager::{ChatMessage, Prompt, PromptFormat, PromptStatus, Variables};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema};
use utoipa::openapi::{RefOr, schema::SchemaType};
use utoipa::{PartialSchema, ToSchema};

use crate::error::Problem;

/// The OpenAPI schemas of core types as they serialize. Documentation only: the handlers read and
/// write the core types themselves, and a test checks real responses against these.
#[allow(dead_code)]
pub(crate) mod schema {
    use std::collections::BTreeMap;

    use serde::Serialize;
    use utoipa::ToSchema;

    /// A chat role.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum Role {
        System,
        User,
        Assistant,
        Function,
        Tool,
    }

    /// How a prompt is sent to a model.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum Format {
        Text,
        Chat,
        Completion,
        Instruction,
    }

    /// The lifecycle status of a prompt.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum Status {
        Draft,
        Active,
        Deprecated,
        Archived,
    }

    /// A semver bump.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum Bump {
        Patch,
        Minor,
        Major,
    }

    /// One chat message: a template inside a prompt, plain text once rendered.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct ChatMessage {
        role: Role,
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// On a `tool` message: the id of the call it answers.
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_call_id: Option<String>,
        /// On an `assistant` message: the tools it called.
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_calls: Option<Vec<ToolCall>>,
    }

    /// A tool an assistant message called.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct ToolCall {
        /// The call's id, which the answering `tool` message names.
        id: String,
        /// The tool's name.
        name: String,
        /// The arguments, a JSON object.
        arguments: BTreeMap<String, serde_json::Value>,
    }

    /// A slot that expands a variable holding a list of messages.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct Placeholder {
        /// The variable that holds the messages.
        placeholder: String,
        /// Whether a missing variable expands to nothing.
        #[serde(skip_serializing_if = "Option::is_none")]
        optional: Option<bool>,
    }

    /// One entry of a chat template.
    #[derive(Serialize, ToSchema)]
    #[serde(untagged)]
    pub(crate) enum ChatItem {
        Message(ChatMessage),
        Placeholder(Placeholder),
    }

    /// A text template, or a list of chat entries.
    #[derive(Serialize, ToSchema)]
    #[serde(untagged)]
    pub(crate) enum Template {
        Text(String),
        Chat(Vec<ChatItem>),
    }

    /// Description, tags and free metadata.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct Metadata {
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tags: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        extra: Option<BTreeMap<String, serde_json::Value>>,
    }

    /// Model parameters.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct ModelConfig {
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        temperature: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(minimum = 1)]
        max_tokens: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        top_p: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        stop: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tools: Option<Vec<serde_json::Value>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        response_format: Option<serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        extra: Option<BTreeMap<String, serde_json::Value>>,
    }

    /// The type of a declared variable.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum VariableType {
        Any,
        String,
        Number,
        Integer,
        Boolean,
        Array,
        Object,
        Messages,
    }

    /// The declaration of one template variable.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct VariableSpec {
        name: String,
        #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
        kind: Option<VariableType>,
        #[serde(skip_serializing_if = "Option::is_none")]
        required: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        default: Option<serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    }

    /// A prompt: the versioned content. `id` is path-like (`support/triage`); `format` follows
    /// the template when left out.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct Prompt {
        /// Path-like: lowercase segments of `[a-z0-9][a-z0-9._-]*` joined by `/`, at most 200 bytes.
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        format: Option<Format>,
        template: Template,
        #[serde(skip_serializing_if = "Option::is_none")]
        metadata: Option<Metadata>,
        #[serde(skip_serializing_if = "Option::is_none")]
        model_config: Option<ModelConfig>,
        #[serde(skip_serializing_if = "Option::is_none")]
        input_schema: Option<Vec<VariableSpec>>,
    }

    /// An immutable snapshot of a prompt.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct PromptVersion {
        prompt: Prompt,
        /// The semver number.
        version: String,
        changelog: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        created_at: chrono::DateTime<chrono::Utc>,
        #[serde(skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        /// `sha256:<hex>` of the content.
        content_hash: String,
    }

    /// One entry of a prompt's history.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct VersionInfo {
        version: String,
        changelog: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        author: Option<String>,
        created_at: chrono::DateTime<chrono::Utc>,
        #[serde(skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        content_hash: String,
    }

    /// What the store knows of a prompt without its content.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct PromptSummary {
        id: String,
        status: Status,
        format: Format,
        latest_version: String,
        version_count: u64,
        /// Labels and the versions they point to.
        labels: BTreeMap<String, String>,
        tags: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        created_at: chrono::DateTime<chrono::Utc>,
        updated_at: chrono::DateTime<chrono::Utc>,
    }

    /// How a label moved.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum LabelEventKind {
        Set,
        Rollback,
        Remove,
    }

    /// One recorded move of a label.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct LabelEvent {
        label: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        kind: LabelEventKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
        at: chrono::DateTime<chrono::Utc>,
    }
}

/// `POST /v1/prompts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRequest {
    /// The prompt.
    #[schema(value_type = schema::Prompt)]
    pub(crate) prompt: Prompt,
    /// The initial status (default `draft`).
    #[serde(default)]
    #[schema(value_type = Option<schema::Status>)]
    pub(crate) status: Option<PromptStatus>,
    /// Labels to point at the first version (a protected label needs an `admin` key).
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    /// The first version number (default `1.0.0`).
    #[serde(default)]
    pub(crate) version: Option<String>,
    /// The changelog message (default "Initial version").
    #[serde(default)]
    pub(crate) changelog: Option<String>,
}

/// `PUT /v1/prompts/{id}`: a new version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateRequest {
    /// The new content; its `id` must be the one in the path.
    #[schema(value_type = schema::Prompt)]
    pub(crate) prompt: Prompt,
    /// How to bump the version.
    #[schema(value_type = schema::Bump)]
    pub(crate) bump: prompt_manager::Bump,
    /// What changed and why.
    pub(crate) changelog: String,
    /// Labels to point at the new version in the same write.
    #[serde(default)]
    pub(crate) labels: Vec<String>,
    /// Compare-and-set without `If-Match`: the write fails with 409 unless the latest version is this one.
    #[serde(default)]
    pub(crate) expected_version: Option<String>,
}

/// The result of an update.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UpdateResponse {
    /// Whether a new version was made (`false`: the content was identical to the latest).
    pub(crate) created: bool,
    /// The new (or unchanged latest) version.
    #[schema(value_type = schema::PromptVersion)]
    pub(crate) version: prompt_manager::PromptVersion,
    /// Label moves made with the write.
    #[schema(value_type = Vec<schema::LabelEvent>)]
    pub(crate) labels: Vec<prompt_manager::LabelEvent>,
}

/// One page of prompt summaries.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PromptPage {
    /// The prompts, ordered by id.
    #[schema(value_type = Vec<schema::PromptSummary>)]
    pub(crate) items: Vec<prompt_manager::PromptSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_cursor: Option<String>,
}

/// The labels of a prompt.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelsResponse {
    /// The prompt.
    pub(crate) id: String,
    /// Label → version.
    pub(crate) labels: BTreeMap<String, String>,
}

/// Where one label points.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The label.
    pub(crate) label: String,
    /// The version it points to.
    pub(crate) version: String,
}

/// `PUT /v1/prompts/{id}/labels/{label}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetLabelRequest {
    /// The exact version to point at (`1.2.0`).
    pub(crate) version: String,
}

/// The result of a label move.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelMoveResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The label.
    pub(crate) label: String,
    /// Where it points now (absent once removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    /// The recorded move; absent when the label already pointed there.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schema::LabelEvent>)]
    pub(crate) event: Option<prompt_manager::LabelEvent>,
}

/// The moves of a label, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelHistoryResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The label.
    pub(crate) label: String,
    /// The moves.
    #[schema(value_type = Vec<schema::LabelEvent>)]
    pub(crate) events: Vec<prompt_manager::LabelEvent>,
}

/// The versions of a prompt, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VersionsResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The versions, without content.
    #[schema(value_type = Vec<schema::VersionInfo>)]
    pub(crate) versions: Vec<prompt_manager::VersionInfo>,
}

/// The structural diff of two versions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DiffResponse {
    /// The old side, as an exact reference.
    pub(crate) from: String,
    /// The new side, as an exact reference.
    pub(crate) to: String,
    /// Whether the content differs.
    pub(crate) changed: bool,
    /// The bump the change calls for.
    #[schema(value_type = schema::Bump)]
    pub(crate) suggested_bump: prompt_manager::Bump,
    /// Why.
    pub(crate) reasons: Vec<String>,
    /// A one-line changelog drafted from the diff.
    pub(crate) changelog_draft: String,
    /// A git-like text of the diff.
    pub(crate) text: String,
    /// The structural diff: template hunks or per-message changes, variables, schema, model config, metadata.
    #[schema(value_type = Object)]
    pub(crate) diff: serde_json::Value,
}

/// `POST /v1/prompts/{ref}/render`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenderRequest {
    /// The template variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) variables: Variables,
}

/// A rendered prompt: `text` for text prompts, `messages` for chat prompts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RenderResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The exact version rendered.
    pub(crate) version: String,
    /// Its format.
    #[schema(value_type = schema::Format)]
    pub(crate) format: PromptFormat,
    /// Its content hash.
    pub(crate) content_hash: String,
    /// The text (text, completion and instruction prompts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<String>,
    /// The messages (chat prompts).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<schema::ChatMessage>>)]
    pub(crate) messages: Option<Vec<ChatMessage>>,
    /// The model parameters stored with the version.
    #[schema(value_type = schema::ModelConfig)]
    pub(crate) model_config: prompt_manager::ModelConfig,
}

/// A render's result: a [`RenderResponse`], or with `as`, the framework's request body.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum RenderResult {
    /// Plain render.
    Rendered(Box<RenderResponse>),
    /// A framework payload (`?as=openai`, …).
    Payload(serde_json::Value),
}

impl PartialSchema for RenderResult {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("RenderResponse")))
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(utoipa::openapi::schema::Type::Object))
                    .description(Some(
                        "With `as`: the request body the framework takes (OpenAI, Anthropic, Gemini, LangChain, LiteLLM)",
                    )),
            )
            .into()
    }
}

impl ToSchema for RenderResult {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("RenderResponse".into(), RenderResponse::schema()));
        <RenderResponse as ToSchema>::schemas(schemas);
    }
}

/// One render of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchItem {
    /// What to render (`id`, `id@1.2.0`, `id@^1`, `id@production`).
    pub(crate) reference: String,
    /// The template variables.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) variables: Variables,
    /// A framework to render for (`openai`, `anthropic`, `gemini`, `langchain`, `litellm`).
    #[serde(default, rename = "as")]
    pub(crate) framework: Option<String>,
}

/// `POST /v1/render`: many renders in one request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    /// The renders, at most 100.
    pub(crate) requests: Vec<BatchItem>,
}

/// The outcome of one render of a batch: `result` or `error`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchOutcome {
    /// Whether it rendered.
    pub(crate) ok: bool,
    /// The render, when it worked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<RenderResult>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<Problem>,
}

/// The results of a batch, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchResponse {
    /// One outcome per request.
    pub(crate) results: Vec<BatchOutcome>,
}

/// `/healthz` and `/readyz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// `ok`, or `unavailable` when the store does not answer.
    pub(crate) status: String,
    /// The store backend (`sqlite`, `dir`, …), on `/readyz`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) store: Option<String>,
}
