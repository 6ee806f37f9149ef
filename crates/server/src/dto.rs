//! The JSON bodies of the API: requests and responses the handlers read and write, and
//! [`schema`], the OpenAPI description of the core types they carry (prompts, versions,
//! summaries, label events), which `prompt-manager-core` does not derive itself.
//!
//! It is one file past 600 lines on purpose: plain declarations only, kept together so that a
//! body and the schema copy it must match are read side by side (the governance bodies live in
//! `crate::governance`).

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
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

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

    /// The template language of a prompt's sources; `jinja` when left out.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum Syntax {
        Jinja,
        Handlebars,
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

    /// A framework a render can produce the request body of.
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub(crate) enum Framework {
        Openai,
        Anthropic,
        Gemini,
        Langchain,
        Litellm,
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
    #[serde(deny_unknown_fields)]
    pub(crate) struct ChatMessage {
        role: Role,
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// On a `tool` message: the id of the call it answers.
        #[serde(skip_serializing_if = "Option::is_none")]
        tool_call_id: Option<String>,
        /// On an `assistant` message: the tools it called.
        #[schema(required = false)]
        tool_calls: Vec<ToolCall>,
    }

    /// A tool an assistant message called.
    #[derive(Serialize, ToSchema)]
    #[serde(deny_unknown_fields)]
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
    #[serde(deny_unknown_fields)]
    pub(crate) struct Placeholder {
        /// The variable that holds the messages.
        placeholder: String,
        /// Whether a missing variable expands to nothing.
        #[schema(required = false)]
        optional: bool,
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
    #[serde(deny_unknown_fields)]
    pub(crate) struct Metadata {
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[schema(required = false)]
        tags: Vec<String>,
        #[schema(required = false)]
        extra: BTreeMap<String, serde_json::Value>,
    }

    /// Model parameters.
    #[derive(Serialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct ModelConfig {
        #[serde(skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        temperature: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<i64>, minimum = 1, maximum = 4294967295_i64)]
        max_tokens: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        top_p: Option<f64>,
        #[schema(required = false)]
        stop: Vec<String>,
        #[schema(required = false)]
        tools: Vec<serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        response_format: Option<serde_json::Value>,
        #[schema(required = false)]
        extra: BTreeMap<String, serde_json::Value>,
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
    #[serde(deny_unknown_fields)]
    pub(crate) struct VariableSpec {
        name: String,
        #[serde(rename = "type")]
        #[schema(required = false)]
        kind: VariableType,
        #[schema(required = false)]
        required: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        default: Option<serde_json::Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    }

    /// A prompt: the versioned content. `id` is path-like (`support/triage`); `format` follows
    /// the template when left out.
    #[derive(Serialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Prompt {
        /// Path-like: lowercase segments of `[a-z0-9][a-z0-9._-]*` joined by `/`, at most 200 bytes.
        #[schema(
            pattern = r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$",
            max_length = 200,
            example = "support/triage"
        )]
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        format: Option<Format>,
        #[serde(skip_serializing_if = "Option::is_none")]
        syntax: Option<Syntax>,
        template: Template,
        #[schema(required = false)]
        metadata: Metadata,
        #[schema(required = false)]
        model_config: ModelConfig,
        #[schema(required = false)]
        input_schema: Vec<VariableSpec>,
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
        /// Labels and the versions they point to (an A/B split label: its primary version, the
        /// one with the largest weight).
        labels: BTreeMap<String, String>,
        /// The labels that are A/B splits, with their variants. Absent when none is.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        splits: BTreeMap<String, Vec<SplitVariant>>,
        /// Labels protected on this prompt (moving them needs an `admin` key; a label may be
        /// protected before it is set). Absent when none is. The labels the server configuration
        /// protects (default `production`) are protected on every prompt besides.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        #[schema(value_type = Vec<Label>)]
        protected: Vec<String>,
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

    /// A label name: a lowercase letter, then lowercase letters, digits, `.`, `_` or `-`; at most
    /// 64 bytes; `latest` is reserved (it always names the newest version).
    pub(crate) struct Label;

    impl utoipa::PartialSchema for Label {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(LABEL_PATTERN))
                .max_length(Some(64))
                .description(Some(
                    "A label: `[a-z][a-z0-9._-]*`, at most 64 bytes; `latest` is reserved",
                ))
                .examples([serde_json::json!("production")])
                .into()
        }
    }

    impl ToSchema for Label {}

    /// A label name's pattern.
    pub(crate) const LABEL_PATTERN: &str = r"^[a-z][a-z0-9._-]*$";

    /// A prompt id: lowercase segments of `[a-z0-9][a-z0-9._-]*` joined by `/`, at most 200 bytes.
    pub(crate) struct PromptId;

    impl utoipa::PartialSchema for PromptId {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*$"))
                .max_length(Some(200))
                .description(Some("A prompt id: `[a-z0-9][a-z0-9._-]*` segments joined by `/`"))
                .examples([serde_json::json!("support/triage")])
                .into()
        }
    }

    impl ToSchema for PromptId {}

    /// A full semantic version (`1.2.0`, `2.0.0-rc.1`), SemVer 2.0.0 with numbers that fit 64 bits.
    pub(crate) struct Version;

    impl utoipa::PartialSchema for Version {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(VERSION_PATTERN))
                .description(Some("A full semantic version: `1.2.0`, `2.0.0-rc.1`"))
                .examples([serde_json::json!("1.0.0")])
                .into()
        }
    }

    impl ToSchema for Version {}

    /// SemVer 2.0.0's own expression, with numbers of at most 19 digits (they fit 64 bits).
    pub(crate) const VERSION_PATTERN: &str = concat!(
        r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})",
        r"(-(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]{0,18}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?",
        r"(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$"
    );

    /// One variant of an A/B split: a version and its whole weight (its share is the weight
    /// over the sum of the split's weights).
    #[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SplitVariant {
        #[schema(value_type = Version)]
        pub(crate) version: String,
        /// From 1 to 1000000.
        #[schema(minimum = 1, maximum = 1_000_000)]
        pub(crate) weight: u32,
    }

    /// Which variant of an A/B split served a render.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct ServedVariant {
        /// The split label.
        #[schema(value_type = Label)]
        label: String,
        /// The version that served.
        #[schema(value_type = Version)]
        version: String,
        /// Its weight.
        weight: u32,
        /// The sum of the split's weights.
        total_weight: u64,
        /// Whether the split key chose it (the same key always gets it); `false`: at random.
        sticky: bool,
    }

    /// One recorded move of a label.
    #[derive(Serialize, ToSchema)]
    pub(crate) struct LabelEvent {
        label: String,
        /// Where it pointed before (a split's primary version).
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Where it points now (a split's primary version).
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<String>,
        kind: LabelEventKind,
        /// The A/B split it was, when it was one.
        #[serde(skip_serializing_if = "Option::is_none")]
        from_split: Option<Vec<SplitVariant>>,
        /// The A/B split it is now, when it is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        to_split: Option<Vec<SplitVariant>>,
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
    #[schema(value_type = Vec<schema::Label>)]
    pub(crate) labels: Vec<String>,
    /// The first version number (default `1.0.0`).
    #[serde(default)]
    #[schema(value_type = Option<schema::Version>)]
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
    #[schema(value_type = Vec<schema::Label>)]
    pub(crate) labels: Vec<String>,
    /// Compare-and-set without `If-Match`: the write fails with 409 unless the latest version is this one.
    #[serde(default)]
    #[schema(value_type = Option<schema::Version>)]
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
    /// Label → version (an A/B split label: its primary version).
    pub(crate) labels: BTreeMap<String, String>,
    /// The labels that are A/B splits, with their variants. Absent when none is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, Vec<schema::SplitVariant>>)]
    pub(crate) splits: BTreeMap<String, prompt_manager::Split>,
    /// Labels protected on this prompt (moving them needs an `admin` key; a label may be
    /// protected before it is set). Absent when none is. The labels the server configuration
    /// protects (default `production`) are protected on every prompt besides.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<schema::Label>)]
    pub(crate) protected: Vec<String>,
}

/// Where one label points.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The label.
    pub(crate) label: String,
    /// The version it points to (an A/B split: its primary version).
    pub(crate) version: String,
    /// When the label is an A/B split: its variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<schema::SplitVariant>>)]
    pub(crate) split: Option<prompt_manager::Split>,
}

/// `PUT /v1/prompts/{id}/labels/{label}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetLabelRequest {
    /// The exact version to point at (`1.2.0`).
    #[schema(value_type = schema::Version)]
    pub(crate) version: String,
}

/// `PUT /v1/prompts/{id}/labels/{label}/split`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetSplitRequest {
    /// 2 to 10 distinct existing versions, each with a weight from 1.
    #[schema(min_items = 2, max_items = 10)]
    pub(crate) variants: Vec<schema::SplitVariant>,
}

/// The result of a label move.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LabelMoveResponse {
    /// The prompt.
    pub(crate) id: String,
    /// The label.
    pub(crate) label: String,
    /// Where it points now (absent once removed; an A/B split: its primary version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    /// When the label is now an A/B split: its variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<schema::SplitVariant>>)]
    pub(crate) split: Option<prompt_manager::Split>,
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
    /// The split key of a render by an A/B split label (a user or session id): the same key
    /// always gets the same variant, on every instance. Without it the variant is random, in
    /// proportion to the weights. Ignored for references that name no split.
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub(crate) split_key: Option<String>,
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
    /// When the reference named an A/B split label: the variant that served.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<schema::ServedVariant>)]
    pub(crate) variant: Option<prompt_manager::ServedVariant>,
    /// The id to report usage and feedback of this render with
    /// (`POST /v1/renders/{render_id}/usage`, `…/feedback`); absent when the server records no
    /// usage (a store without usage records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) render_id: Option<String>,
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
    /// The split key of a render by an A/B split label (see the single render).
    #[serde(default)]
    #[schema(max_length = 1024)]
    pub(crate) split_key: Option<String>,
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
