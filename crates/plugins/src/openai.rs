//! The `openai` plugin: the body of `POST /v1/chat/completions` (Chat Completions).
//!
//! | prompt | request |
//! |---|---|
//! | messages | `messages`: `{role, content, name?}`; a `tool` message carries its `tool_call_id` (prompts written before messages had the field keep it in `name`); an `assistant` message's `tool_calls` become `{id, type: "function", function: {name, arguments}}` with the arguments as JSON text (and no `content` when it has none); a `function` message keeps its `name` |
//! | text prompt | one `user` message |
//! | `model` | `model`, else the configured `default_model`, else an error |
//! | `temperature`, `top_p`, `stop` | the same fields (at most 4 stop sequences) |
//! | `max_tokens` | `max_completion_tokens` (OpenAI deprecated `max_tokens`, and reasoning models refuse it); configure `max_tokens_field: "max_tokens"` for older servers |
//! | `tools` | `tools`; bare `{name, parameters}` objects are wrapped as `{"type": "function", "function": …}` |
//! | `response_format` | `response_format`, verbatim (checked to be text, json_object or json_schema) |
//! | `extra` | the known Chat Completions fields (`seed`, `tool_choice`, `user`, …) are forwarded; others are left out; `extra.openai` (an object) is merged over the body last |
//!
//! Configuration (`initialize`): `{"default_model": "gpt-4o", "max_tokens_field": "max_completion_tokens", "system_role": "system"}`,
//! every key optional; `system_role: "developer"` sends system messages as OpenAI's `developer` role.

use async_trait::async_trait;
use prompt_manager_core::{Plugin, RenderedPrompt, Result};
use serde::Deserialize;

use crate::common::{self, ConfigCell, Ctx};
use crate::openai_wire::{self, BodySpec};

const NAME: &str = "openai";
/// The Chat Completions API refuses more stop sequences.
const MAX_STOP: usize = 4;

/// Which request field carries `model_config.max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_completion_tokens`: the current field, required by reasoning models.
    #[default]
    MaxCompletionTokens,
    /// `max_tokens`: deprecated by OpenAI, still what some OpenAI-compatible servers read.
    MaxTokens,
}

impl MaxTokensField {
    fn as_str(self) -> &'static str {
        match self {
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
            MaxTokensField::MaxTokens => "max_tokens",
        }
    }
}

/// The role system messages are sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemRole {
    /// `system`, which every chat model takes.
    #[default]
    System,
    /// `developer`, OpenAI's name for it from the o1 models on.
    Developer,
}

/// The configuration of the [`OpenAiPlugin`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OpenAiConfig {
    /// The model used when a prompt names none.
    pub default_model: Option<String>,
    /// Which field carries `max_tokens`.
    #[serde(default)]
    pub max_tokens_field: MaxTokensField,
    /// The role of system messages.
    #[serde(default)]
    pub system_role: SystemRole,
}

/// Renders prompts as OpenAI Chat Completions request bodies.
#[derive(Debug, Default)]
pub struct OpenAiPlugin {
    config: ConfigCell<OpenAiConfig>,
}

impl OpenAiPlugin {
    /// A plugin with the default configuration (until `initialize` sets one).
    pub fn new() -> Self {
        Self::default()
    }

    /// A plugin with a configuration.
    pub fn with_config(config: OpenAiConfig) -> Result<Self> {
        validate(&config)?;
        Ok(OpenAiPlugin {
            config: ConfigCell::new(config),
        })
    }

    fn model(ctx: Ctx<'_>, prompt: &RenderedPrompt, config: &OpenAiConfig) -> Result<String> {
        prompt
            .model_config
            .model
            .as_deref()
            .or(config.default_model.as_deref())
            .map(str::to_owned)
            .ok_or_else(|| {
                ctx.error(
                    "no model: set model_config.model on the prompt, or initialize the openai plugin with \
                     {\"default_model\": \"…\"}",
                )
            })
    }
}

fn validate(config: &OpenAiConfig) -> Result<()> {
    common::check_non_empty(NAME, "default_model", config.default_model.as_deref())
}

#[async_trait]
impl Plugin for OpenAiPlugin {
    fn name(&self) -> &str {
        NAME
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    async fn initialize(&self, config: &serde_json::Value) -> Result<()> {
        self.config.initialize(NAME, config, validate)
    }

    fn validate_compatibility(&self, prompt: &RenderedPrompt) -> Result<()> {
        let ctx = Ctx::new(NAME, prompt);
        openai_wire::check_messages(ctx, &common::messages(prompt))?;
        check_config(ctx, prompt)?;
        Self::model(ctx, prompt, &self.config.get()).map(drop)
    }

    fn render_for_framework(&self, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        let ctx = Ctx::new(NAME, prompt);
        let config = self.config.get();
        check_config(ctx, prompt)?;
        let spec = BodySpec {
            model: Self::model(ctx, prompt, &config)?,
            system_role: match config.system_role {
                SystemRole::System => "system",
                SystemRole::Developer => "developer",
            },
            max_tokens_field: config.max_tokens_field.as_str(),
            extra_fields: openai_wire::EXTRA_FIELDS,
            leave_out: &[],
            user_names: true,
        };
        openai_wire::body(ctx, prompt, &spec)
    }
}

fn check_config(ctx: Ctx<'_>, prompt: &RenderedPrompt) -> Result<()> {
    let n = prompt.model_config.stop.len();
    if n > MAX_STOP {
        return Err(ctx.error(format_args!(
            "model_config.stop has {n} sequences; OpenAI accepts at most {MAX_STOP}"
        )));
    }
    common::response_format(ctx, &prompt.model_config).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::{chat, text, weather_tool};
    use prompt_manager_core::{ChatMessage, Error, RenderOutput, Role};
    use serde_json::json;

    fn render(plugin: &OpenAiPlugin, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        plugin.validate_compatibility(prompt)?;
        plugin.render_for_framework(prompt)
    }

    #[test]
    fn maps_messages_and_config() {
        let mut p = chat(&[(Role::System, "Be brief."), (Role::User, "Hi")]);
        p.model_config.model = Some("gpt-4o".into());
        p.model_config.temperature = Some(0.5);
        p.model_config.max_tokens = Some(200);
        p.model_config.stop = vec!["END".into()];
        p.model_config.tools = vec![weather_tool()];
        p.model_config.response_format = Some(json!({"type": "json_object"}));
        p.model_config.extra.insert("seed".into(), json!(7));
        p.model_config.extra.insert("top_k".into(), json!(40));
        let body = render(&OpenAiPlugin::new(), &p).expect("renders");
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"}
                ],
                "temperature": 0.5,
                "max_completion_tokens": 200,
                "stop": ["END"],
                "tools": [weather_tool()],
                "response_format": {"type": "json_object"},
                "seed": 7
            })
        );
    }

    #[test]
    fn text_prompt_is_one_user_message_and_default_model_applies() {
        let plugin = OpenAiPlugin::with_config(OpenAiConfig {
            default_model: Some("gpt-4o-mini".into()),
            max_tokens_field: MaxTokensField::MaxTokens,
            system_role: SystemRole::Developer,
        })
        .expect("valid");
        let mut p = text("Summarise this.");
        p.model_config.max_tokens = Some(10);
        let body = render(&plugin, &p).expect("renders");
        assert_eq!(body["model"], "gpt-4o-mini");
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "Summarise this."}])
        );
        assert_eq!(body["max_tokens"], 10);
    }

    #[test]
    fn tool_and_function_messages_need_names() {
        let mut p = chat(&[(Role::User, "weather?"), (Role::Tool, "sunny")]);
        p.model_config.model = Some("gpt-4o".into());
        let err = render(&OpenAiPlugin::new(), &p)
            .expect_err("no tool_call_id")
            .to_string();
        assert!(err.contains("plugin `openai`"), "{err}");
        assert!(err.contains("support/triage@1.2.0"), "{err}");
        assert!(err.contains("message 2 (role `tool`)"), "{err}");

        let mut tool = ChatMessage::new(Role::Tool, "sunny");
        tool.name = Some("call_1".into());
        let mut function = ChatMessage::new(Role::Function, "42");
        function.name = Some("answer".into());
        p.output = RenderOutput::Messages(vec![ChatMessage::new(Role::User, "q"), tool, function]);
        let body = render(&OpenAiPlugin::new(), &p).expect("renders");
        assert_eq!(
            body["messages"][1],
            json!({"role": "tool", "content": "sunny", "tool_call_id": "call_1"})
        );
        assert_eq!(
            body["messages"][2],
            json!({"role": "function", "content": "42", "name": "answer"})
        );
    }

    #[test]
    fn refuses_missing_model_bad_tools_and_too_many_stops() {
        let p = chat(&[(Role::User, "Hi")]);
        let err = render(&OpenAiPlugin::new(), &p).expect_err("no model").to_string();
        assert!(err.contains("default_model"), "{err}");

        let mut p = chat(&[(Role::User, "Hi")]);
        p.model_config.model = Some("gpt-4o".into());
        p.model_config.stop = (0..5).map(|i| i.to_string()).collect();
        let err = render(&OpenAiPlugin::new(), &p).expect_err("5 stops").to_string();
        assert!(err.contains("at most 4"), "{err}");

        p.model_config.stop.clear();
        p.model_config.tools = vec![json!(3)];
        let err = render(&OpenAiPlugin::new(), &p).expect_err("bad tool").to_string();
        assert!(err.contains("model_config.tools[0] is not an object"), "{err}");
    }

    #[tokio::test]
    async fn initialize_validates_the_configuration() {
        let plugin = OpenAiPlugin::new();
        for (config, expected) in [
            (json!({"default_modle": "x"}), "unknown field `default_modle`"),
            (json!({"max_tokens_field": "tokens"}), "unknown variant `tokens`"),
            (json!({"default_model": " "}), "`default_model` must not be empty"),
            (json!([1]), "expected an object or null, got array"),
        ] {
            let err = plugin.initialize(&config).await.expect_err("invalid");
            assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
            assert!(err.to_string().contains(expected), "{config}: {err}");
        }
        plugin
            .initialize(&json!({"default_model": "gpt-4.1"}))
            .await
            .expect("valid");
        let body = render(&plugin, &chat(&[(Role::User, "Hi")])).expect("renders");
        assert_eq!(body["model"], "gpt-4.1");
        plugin
            .initialize(&serde_json::Value::Null)
            .await
            .expect("null keeps the configuration");
        let body = render(&plugin, &chat(&[(Role::User, "Hi")])).expect("renders");
        assert_eq!(body["model"], "gpt-4.1");
        plugin.shutdown().await.expect("shuts down");
    }
}
