//! The `anthropic` plugin: the body of `POST /v1/messages` (Anthropic's Messages API).
//!
//! | prompt | request |
//! |---|---|
//! | leading `system` messages | top-level `system`: a string for one, text blocks for several |
//! | a `system` message after the conversation started | refused, naming the message (not every model takes one inline) |
//! | `user` / `assistant` messages | `messages`; consecutive messages of one role are merged into one turn of text blocks |
//! | an `assistant` message's `tool_calls` | `tool_use` blocks (`id`, `name`, `input`) after its text |
//! | `tool` messages | a `user` turn's `tool_result` block (`tool_use_id` from `tool_call_id`), merged with the user turn around it; without a call id, refused naming the message |
//! | `function` messages | refused, naming the message (OpenAI's legacy role; write a `tool` message) |
//! | message `name` | dropped: Anthropic messages have no name |
//! | text prompt | one `user` message |
//! | `model` | `model`, else the configured `default_model`, else an error |
//! | `max_tokens` | `max_tokens` (required), else the configured `default_max_tokens`, else an error saying how to set it |
//! | `temperature`, `top_p` | refused, naming the key: the current Messages API takes neither (the official `anthropic` Python SDK 2.x has no such parameter); configured with `drop_unsupported: true`, left out instead |
//! | `stop` | `stop_sequences` |
//! | `tools` (OpenAI function tools) | `tools`: `{name, description, input_schema}` (an empty object schema when a tool has no parameters) |
//! | `response_format` | `json_schema` → `output_config.format` (structured outputs); `text` → nothing; `json_object` → refused (Anthropic needs a schema) |
//! | `extra` | `thinking` forwarded (`top_k` is not: the API no longer takes it); `tool_choice` translated (`auto`, `required` → `any`, `none`, a named function → `tool`); `extra.anthropic` (an object) is merged over the body last |
//!
//! Configuration (`initialize`): `{"default_model": "claude-sonnet-4-5", "default_max_tokens": 1024,
//! "drop_unsupported": false}`, every key optional.

use async_trait::async_trait;
use prompt_manager_core::{Plugin, RenderedPrompt, Result, Role};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::{self, ConfigCell, Ctx, Msg, ResponseFormat};

const NAME: &str = "anthropic";

/// The configuration of the [`AnthropicPlugin`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AnthropicConfig {
    /// The model used when a prompt names none.
    pub default_model: Option<String>,
    /// `max_tokens` for prompts whose model config sets none (Anthropic requires it).
    pub default_max_tokens: Option<u32>,
    /// Leave out the model-config keys the Messages API does not take (`temperature`, `top_p`)
    /// instead of refusing the prompt: for prompts shared with providers that take them.
    #[serde(default)]
    pub drop_unsupported: bool,
}

/// Renders prompts as Anthropic Messages API request bodies.
#[derive(Debug, Default)]
pub struct AnthropicPlugin {
    config: ConfigCell<AnthropicConfig>,
}

impl AnthropicPlugin {
    /// A plugin with the default configuration (until `initialize` sets one).
    pub fn new() -> Self {
        Self::default()
    }

    /// A plugin with a configuration.
    pub fn with_config(config: AnthropicConfig) -> Result<Self> {
        validate(&config)?;
        Ok(AnthropicPlugin {
            config: ConfigCell::new(config),
        })
    }
}

fn validate(config: &AnthropicConfig) -> Result<()> {
    common::check_non_empty(NAME, "default_model", config.default_model.as_deref())?;
    if config.default_max_tokens == Some(0) {
        return Err(common::config_error(NAME, "`default_max_tokens` must be at least 1"));
    }
    Ok(())
}

/// The system messages that open the prompt, and the index of the first other message.
fn split_system<'a, 'm>(ctx: Ctx<'_>, msgs: &'a [Msg<'m>]) -> Result<(&'a [Msg<'m>], &'a [Msg<'m>])> {
    let lead = msgs.iter().take_while(|m| m.role == Role::System).count();
    let (system, rest) = msgs.split_at(lead);
    for (i, m) in rest.iter().enumerate() {
        let index = lead + i;
        match m.role {
            Role::User | Role::Assistant => {}
            Role::System => {
                return Err(ctx.message_error(
                    index,
                    m.role,
                    "Anthropic takes system instructions only before the conversation (top-level `system`); \
                     move this message to the start or make it a user message",
                ));
            }
            Role::Tool if m.call_id().is_none() => {
                return Err(ctx.message_error(
                    index,
                    m.role,
                    "a tool result answers a `tool_use` by its id; set the message's `tool_call_id`",
                ));
            }
            Role::Tool => {}
            Role::Function => {
                return Err(ctx.message_error(
                    index,
                    m.role,
                    "Anthropic's Messages API has no function role (OpenAI's legacy one): write a `tool` \
                     message with the `tool_call_id` of the call it answers",
                ));
            }
        }
    }
    if rest.is_empty() {
        return Err(
            ctx.error("Anthropic needs at least one user or assistant message; the prompt has only system messages")
        );
    }
    Ok((system, rest))
}

fn text_block(text: &str) -> Value {
    let mut o = Map::with_capacity(2);
    o.insert("type".into(), Value::from("text"));
    o.insert("text".into(), Value::from(text));
    Value::Object(o)
}

/// The turn a message belongs to (a tool result is the user's) and its content blocks.
fn blocks(m: &Msg<'_>) -> (&'static str, Vec<Value>) {
    match m.role {
        Role::Tool => {
            let mut o = Map::with_capacity(3);
            o.insert("type".into(), Value::from("tool_result"));
            o.insert("tool_use_id".into(), Value::from(m.call_id().unwrap_or_default()));
            o.insert("content".into(), Value::from(m.content));
            ("user", vec![Value::Object(o)])
        }
        Role::Assistant => {
            let mut out = Vec::with_capacity(1 + m.tool_calls.len());
            if !m.content.is_empty() || m.tool_calls.is_empty() {
                out.push(text_block(m.content));
            }
            out.extend(
                m.tool_calls
                    .iter()
                    .map(|call| json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})),
            );
            ("assistant", out)
        }
        // `split_system` let only user messages through besides these.
        _ => ("user", vec![text_block(m.content)]),
    }
}

/// Turns of alternating roles; a run of one role becomes one turn of blocks, and a turn of one
/// plain message keeps its text as a string.
fn turns<'m>(rest: &[Msg<'m>]) -> Vec<Value> {
    // (role, blocks, the text of a turn that is one plain message)
    let mut grouped: Vec<(&str, Vec<Value>, Option<&'m str>)> = Vec::with_capacity(rest.len());
    for m in rest {
        let (role, new) = blocks(m);
        match grouped.last_mut() {
            Some((r, blocks, plain)) if *r == role => {
                blocks.extend(new);
                *plain = None;
            }
            _ => {
                let plain = matches!(m.role, Role::User | Role::Assistant) && m.tool_calls.is_empty();
                grouped.push((role, new, plain.then_some(m.content)));
            }
        }
    }
    grouped
        .into_iter()
        .map(|(role, blocks, plain)| {
            let mut o = Map::with_capacity(2);
            o.insert("role".into(), Value::from(role));
            o.insert("content".into(), plain.map_or(Value::Array(blocks), Value::from));
            Value::Object(o)
        })
        .collect()
}

fn tool_choice(ctx: Ctx<'_>, choice: &Value) -> Result<Value> {
    let named = |name: &Value| json!({"type": "tool", "name": name});
    Ok(match choice {
        Value::String(s) if s == "auto" => json!({"type": "auto"}),
        Value::String(s) if s == "required" => json!({"type": "any"}),
        Value::String(s) if s == "none" => json!({"type": "none"}),
        Value::Object(o) => match (
            o.get("type").and_then(Value::as_str),
            o.get("function").and_then(|f| f.get("name")),
        ) {
            (Some("function"), Some(name)) if name.is_string() => named(name),
            _ => {
                return Err(ctx.error(format_args!(
                    "model_config.extra.tool_choice {choice} is not `auto`, `required`, `none` or {{\"type\": \"function\", \"function\": {{\"name\": …}}}}"
                )));
            }
        },
        other => {
            return Err(ctx.error(format_args!(
                "model_config.extra.tool_choice {other} is not `auto`, `required`, `none` or a named function"
            )));
        }
    })
}

struct Checked<'a> {
    model: &'a str,
    max_tokens: u32,
}

fn check<'a>(ctx: Ctx<'_>, prompt: &'a RenderedPrompt, config: &'a AnthropicConfig) -> Result<Checked<'a>> {
    let mc = &prompt.model_config;
    let model = mc.model.as_deref().or(config.default_model.as_deref()).ok_or_else(|| {
        ctx.error(
            "no model: set model_config.model on the prompt, or initialize the anthropic plugin with \
                 {\"default_model\": \"…\"}",
        )
    })?;
    let max_tokens = mc.max_tokens.or(config.default_max_tokens).ok_or_else(|| {
        ctx.error(
            "Anthropic requires max_tokens and the prompt sets none: set model_config.max_tokens on the prompt \
             (e.g. `max_tokens: 1024`), or initialize the anthropic plugin with {\"default_max_tokens\": 1024}",
        )
    })?;
    if max_tokens == 0 {
        return Err(ctx.error("model_config.max_tokens is 0; Anthropic needs at least 1"));
    }
    // Refused here, or (configured so) never written by the body.
    common::unsupported_sampling(ctx, mc, "Anthropic's Messages API", config.drop_unsupported)?;
    Ok(Checked { model, max_tokens })
}

#[async_trait]
impl Plugin for AnthropicPlugin {
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
        let config = self.config.get();
        split_system(ctx, &common::messages(prompt))?;
        check(ctx, prompt, &config).map(drop)
    }

    fn render_for_framework(&self, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        let ctx = Ctx::new(NAME, prompt);
        let config = self.config.get();
        let Checked { model, max_tokens } = check(ctx, prompt, &config)?;
        let msgs = common::messages(prompt);
        let (system, rest) = split_system(ctx, &msgs)?;
        let mc = &prompt.model_config;

        let mut body = Map::new();
        body.insert("model".into(), Value::from(model));
        body.insert("max_tokens".into(), Value::from(max_tokens));
        match system {
            [] => {}
            [one] => {
                body.insert("system".into(), Value::from(one.content));
            }
            many => {
                body.insert(
                    "system".into(),
                    Value::Array(many.iter().map(|m| text_block(m.content)).collect()),
                );
            }
        }
        body.insert("messages".into(), Value::Array(turns(rest)));
        // `temperature` and `top_p` were refused by `check`, or are left out as configured.
        if !mc.stop.is_empty() {
            body.insert("stop_sequences".into(), Value::from(mc.stop.clone()));
        }
        if !mc.tools.is_empty() {
            let tools = common::function_tools(ctx, mc)?
                .into_iter()
                .map(|t| {
                    let mut o = Map::with_capacity(3);
                    o.insert("name".into(), Value::from(t.name));
                    if let Some(d) = t.description {
                        o.insert("description".into(), d.clone());
                    }
                    let schema = t
                        .parameters
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                    o.insert("input_schema".into(), schema);
                    Value::Object(o)
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        match common::response_format(ctx, mc)? {
            None | Some(ResponseFormat::Text) => {}
            Some(ResponseFormat::JsonObject) => {
                return Err(ctx.error(
                    "model_config.response_format `json_object` has no Anthropic equivalent; use `json_schema` \
                     with a schema (sent as output_config.format)",
                ));
            }
            Some(ResponseFormat::JsonSchema { schema }) => {
                body.insert(
                    "output_config".into(),
                    json!({"format": {"type": "json_schema", "schema": schema}}),
                );
            }
        }
        if let Some(choice) = mc.extra.get("tool_choice") {
            body.insert("tool_choice".into(), tool_choice(ctx, choice)?);
        }
        common::copy_extra(&mut body, mc, &[("thinking", "thinking")]);
        common::merge_override(ctx, &mut body, mc)?;
        Ok(Value::Object(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::{chat, text, weather_tool};
    use serde_json::json;

    fn render(plugin: &AnthropicPlugin, prompt: &RenderedPrompt) -> Result<Value> {
        plugin.validate_compatibility(prompt)?;
        plugin.render_for_framework(prompt)
    }

    fn configured() -> AnthropicPlugin {
        AnthropicPlugin::with_config(AnthropicConfig {
            default_model: Some("claude-sonnet-4-5".into()),
            default_max_tokens: Some(1024),
            drop_unsupported: false,
        })
        .expect("valid")
    }

    #[test]
    fn system_goes_top_level_and_runs_merge() {
        let mut p = chat(&[
            (Role::System, "Be brief."),
            (Role::User, "Hi"),
            (Role::User, "Are you there?"),
            (Role::Assistant, "Yes."),
        ]);
        p.model_config.stop = vec!["END".into()];
        p.model_config.tools = vec![weather_tool()];
        p.model_config.extra.insert("tool_choice".into(), json!("required"));
        p.model_config.extra.insert("top_k".into(), json!(5));
        p.model_config.extra.insert("seed".into(), json!(1));
        let body = render(&configured(), &p).expect("renders");
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-5",
                "max_tokens": 1024,
                "system": "Be brief.",
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "Hi"},
                        {"type": "text", "text": "Are you there?"}
                    ]},
                    {"role": "assistant", "content": "Yes."}
                ],
                "stop_sequences": ["END"],
                "tools": [{
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "input_schema": weather_tool()["function"]["parameters"]
                }],
                "tool_choice": {"type": "any"}
            })
        );
    }

    #[tokio::test]
    async fn sampling_keys_the_api_does_not_take_are_refused_or_left_out() {
        let mut p = chat(&[(Role::User, "Hi")]);
        p.model_config.temperature = Some(0.25);
        let err = render(&configured(), &p).expect_err("temperature").to_string();
        assert!(err.contains("plugin `anthropic`"), "{err}");
        assert!(err.contains("model_config.temperature:"), "{err}");
        assert!(err.contains("drop_unsupported"), "{err}");
        assert!(!err.contains("top_p"), "names only what the prompt sets: {err}");
        p.model_config.top_p = Some(0.9);
        let err = configured().validate_compatibility(&p).expect_err("both").to_string();
        assert!(err.contains("model_config.temperature and model_config.top_p"), "{err}");

        let plugin = configured();
        plugin
            .initialize(
                &json!({"default_model": "claude-sonnet-4-5", "default_max_tokens": 64, "drop_unsupported": true}),
            )
            .await
            .expect("valid");
        let body = render(&plugin, &p).expect("left out");
        assert_eq!(body.get("temperature"), None);
        assert_eq!(body.get("top_p"), None);
        assert_eq!(body["max_tokens"], 64);
    }

    #[test]
    fn several_system_messages_become_blocks() {
        let p = chat(&[(Role::System, "A"), (Role::System, "B"), (Role::User, "Hi")]);
        let body = render(&configured(), &p).expect("renders");
        assert_eq!(
            body["system"],
            json!([{"type": "text", "text": "A"}, {"type": "text", "text": "B"}])
        );
    }

    #[test]
    fn max_tokens_is_required_with_a_way_out() {
        let mut p = text("Hi");
        p.model_config.model = Some("claude-haiku-4-5".into());
        let err = render(&AnthropicPlugin::new(), &p)
            .expect_err("no max_tokens")
            .to_string();
        assert!(err.contains("plugin `anthropic`"), "{err}");
        assert!(err.contains("support/triage@1.2.0"), "{err}");
        assert!(err.contains("model_config.max_tokens"), "{err}");
        assert!(err.contains("default_max_tokens"), "{err}");
        p.model_config.max_tokens = Some(64);
        let body = render(&AnthropicPlugin::new(), &p).expect("renders");
        assert_eq!(body["messages"], json!([{"role": "user", "content": "Hi"}]));
    }

    #[test]
    fn refuses_roles_it_cannot_take_naming_the_message() {
        for (messages, expected) in [
            (vec![(Role::User, "q"), (Role::Tool, "r")], "message 2 (role `tool`)"),
            (
                vec![(Role::User, "q"), (Role::Assistant, "a"), (Role::Function, "r")],
                "message 3 (role `function`)",
            ),
            (
                vec![(Role::User, "q"), (Role::System, "s")],
                "message 2 (role `system`)",
            ),
            (vec![(Role::System, "s")], "only system messages"),
        ] {
            let err = render(&configured(), &chat(&messages))
                .expect_err("refused")
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn response_format_maps_to_structured_outputs() {
        let mut p = chat(&[(Role::User, "Hi")]);
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false});
        p.model_config.response_format =
            Some(json!({"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}));
        let body = render(&configured(), &p).expect("renders");
        assert_eq!(
            body["output_config"],
            json!({"format": {"type": "json_schema", "schema": schema}})
        );
        p.model_config.response_format = Some(json!({"type": "json_object"}));
        let err = render(&configured(), &p).expect_err("json_object").to_string();
        assert!(err.contains("json_object"), "{err}");
    }

    #[tokio::test]
    async fn initialize_validates_the_configuration() {
        let plugin = AnthropicPlugin::new();
        let err = plugin
            .initialize(&json!({"default_max_tokens": 0}))
            .await
            .expect_err("zero")
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
        let err = plugin
            .initialize(&json!({"max_tokens": 5}))
            .await
            .expect_err("unknown")
            .to_string();
        assert!(err.contains("unknown field `max_tokens`"), "{err}");
        plugin
            .initialize(&json!({"default_model": "claude-opus-4-1", "default_max_tokens": 512}))
            .await
            .expect("valid");
        let body = render(&plugin, &chat(&[(Role::User, "Hi")])).expect("renders");
        assert_eq!(
            (body["model"].as_str(), body["max_tokens"].as_u64()),
            (Some("claude-opus-4-1"), Some(512))
        );
    }
}
