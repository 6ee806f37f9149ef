//! What every plugin shares: errors that name the prompt and the message, the message view of a
//! rendered prompt (a text prompt is one user message), configuration parsing and storage, and
//! the reading of core's provider-neutral `tools` and `response_format`. Nothing provider-specific
//! lives here.

// Some helpers serve only some plugins; dead code is checked when every plugin is compiled in.
#![cfg_attr(not(feature = "all"), allow(dead_code))]

use std::sync::{Arc, RwLock};

use prompt_manager_core::{Error, ModelConfig, RenderOutput, RenderedPrompt, Result, Role, ToolCall};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One message of a rendered prompt, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Msg<'a> {
    pub(crate) role: Role,
    pub(crate) content: &'a str,
    pub(crate) name: Option<&'a str>,
    /// A tool message's call id (older prompts kept it in `name`: see [`Msg::call_id`]).
    pub(crate) tool_call_id: Option<&'a str>,
    pub(crate) tool_calls: &'a [ToolCall],
}

impl<'a> Msg<'a> {
    /// The id of the tool call a `tool` message answers: `tool_call_id`, or `name` for prompts
    /// written before messages had the field.
    pub(crate) fn call_id(&self) -> Option<&'a str> {
        self.tool_call_id.or(self.name)
    }
}

/// The messages of a rendered prompt; a text prompt is one `user` message.
pub(crate) fn messages(prompt: &RenderedPrompt) -> Vec<Msg<'_>> {
    match &prompt.output {
        RenderOutput::Text(text) => vec![Msg {
            role: Role::User,
            content: text,
            name: None,
            tool_call_id: None,
            tool_calls: &[],
        }],
        RenderOutput::Messages(ms) => ms
            .iter()
            .map(|m| Msg {
                role: m.role,
                content: &m.content,
                name: m.name.as_deref(),
                tool_call_id: m.tool_call_id.as_deref(),
                tool_calls: &m.tool_calls,
            })
            .collect(),
    }
}

/// Builds errors that name the plugin and the prompt (`id@version`).
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub(crate) plugin: &'static str,
    pub(crate) prompt: &'a RenderedPrompt,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(plugin: &'static str, prompt: &'a RenderedPrompt) -> Self {
        Ctx { plugin, prompt }
    }

    /// An error about the prompt as a whole.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Plugin {
            plugin: self.plugin.to_owned(),
            message: format!("prompt `{}@{}`: {message}", self.prompt.id, self.prompt.version),
        }
    }

    /// An error about one message; `index` is 0-based, the message says it 1-based as core does.
    pub(crate) fn message_error(&self, index: usize, role: Role, message: impl std::fmt::Display) -> Error {
        self.error(format_args!("message {} (role `{role}`): {message}", index + 1))
    }
}

/// An error about the plugin's configuration.
pub(crate) fn config_error(plugin: &'static str, message: impl std::fmt::Display) -> Error {
    Error::Plugin {
        plugin: plugin.to_owned(),
        message: format!("invalid configuration: {message}"),
    }
}

/// Reads a plugin configuration: `null` is `None` (keep the configuration the plugin was built
/// with), anything else must be an object of the known keys.
pub(crate) fn parse_config<C: DeserializeOwned>(plugin: &'static str, value: &Value) -> Result<Option<C>> {
    match value {
        Value::Null => Ok(None),
        Value::Object(_) => C::deserialize(value).map(Some).map_err(|e| config_error(plugin, e)),
        other => Err(config_error(
            plugin,
            format_args!(
                "expected an object or null, got {}",
                prompt_manager_core::json_type(other)
            ),
        )),
    }
}

/// A configuration set by `initialize` and read by every render.
#[derive(Debug, Default)]
pub(crate) struct ConfigCell<C>(RwLock<Arc<C>>);

impl<C> ConfigCell<C> {
    pub(crate) fn new(config: C) -> Self {
        ConfigCell(RwLock::new(Arc::new(config)))
    }

    pub(crate) fn get(&self) -> Arc<C> {
        // A poisoned lock only means a writer panicked between two whole values; the value is intact.
        match self.0.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// `Plugin::initialize` for every plugin: a `null` configuration keeps the current one;
    /// anything else is parsed (unknown keys refused), checked with `validate`, then taken.
    pub(crate) fn initialize(
        &self,
        plugin: &'static str,
        value: &Value,
        validate: impl FnOnce(&C) -> Result<()>,
    ) -> Result<()>
    where
        C: DeserializeOwned,
    {
        if let Some(config) = parse_config::<C>(plugin, value)? {
            validate(&config)?;
            self.set(config);
        }
        Ok(())
    }

    pub(crate) fn set(&self, config: C) {
        let mut slot = match self.0.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Arc::new(config);
    }
}

/// A non-empty, trimmed string option of a configuration.
pub(crate) fn check_non_empty(plugin: &'static str, key: &str, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) if v.trim().is_empty() => Err(config_error(plugin, format_args!("`{key}` must not be empty"))),
        _ => Ok(()),
    }
}

/// A function tool read from core's `tools` (OpenAI's function-tool shape, or its bare inner
/// `{"name", "description", "parameters"}` object).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FunctionTool<'a> {
    pub(crate) name: &'a str,
    pub(crate) description: Option<&'a Value>,
    pub(crate) parameters: Option<&'a Value>,
    pub(crate) strict: Option<&'a Value>,
}

/// Reads `tools[index]` as a function tool.
pub(crate) fn function_tool<'a>(ctx: Ctx<'_>, index: usize, tool: &'a Value) -> Result<FunctionTool<'a>> {
    let bad = |why: &str| {
        ctx.error(format_args!(
            "model_config.tools[{index}] {why}; a tool is {{\"type\": \"function\", \"function\": {{\"name\": …, \"description\": …, \"parameters\": {{JSON schema}}}}}}"
        ))
    };
    let Some(obj) = tool.as_object() else {
        return Err(bad("is not an object"));
    };
    let function = match obj.get("type").and_then(Value::as_str) {
        Some("function") => obj
            .get("function")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("has type `function` but no `function` object"))?,
        Some(other) => {
            return Err(bad(&format!(
                "has type `{other}`, which `{}` cannot map (only function tools)",
                ctx.plugin
            )));
        }
        None if obj.contains_key("name") => obj,
        None => return Err(bad("has neither `type` nor `name`")),
    };
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("has no `name` string"))?;
    let parameters = function.get("parameters");
    if let Some(p) = parameters
        && !p.is_object()
    {
        return Err(bad("has `parameters` that is not a JSON schema object"));
    }
    Ok(FunctionTool {
        name,
        description: function.get("description").filter(|d| !d.is_null()),
        parameters,
        strict: function.get("strict"),
    })
}

/// Every tool of a config as a function tool.
pub(crate) fn function_tools<'a>(ctx: Ctx<'_>, config: &'a ModelConfig) -> Result<Vec<FunctionTool<'a>>> {
    config
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| function_tool(ctx, i, t))
        .collect()
}

/// Core's `response_format`, read in OpenAI's vocabulary.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ResponseFormat<'a> {
    /// Plain text: nothing to ask of the provider.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema { schema: &'a Value },
}

/// Reads `model_config.response_format` (`{"type": "text" | "json_object" | "json_schema", …}`).
pub(crate) fn response_format<'a>(ctx: Ctx<'_>, config: &'a ModelConfig) -> Result<Option<ResponseFormat<'a>>> {
    let Some(rf) = &config.response_format else {
        return Ok(None);
    };
    let bad = |why: &str| {
        ctx.error(format_args!(
            "model_config.response_format {why}; use {{\"type\": \"text\"}}, {{\"type\": \"json_object\"}} or {{\"type\": \"json_schema\", \"json_schema\": {{\"name\": …, \"schema\": {{…}}}}}}"
        ))
    };
    let ty = rf
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no `type`"))?;
    Ok(Some(match ty {
        "text" => ResponseFormat::Text,
        "json_object" => ResponseFormat::JsonObject,
        "json_schema" => {
            let schema = rf
                .get("json_schema")
                .and_then(|j| j.get("schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| bad("of type `json_schema` has no `json_schema.schema` object"))?;
            ResponseFormat::JsonSchema { schema }
        }
        other => return Err(bad(&format!("has unknown type `{other}`"))),
    }))
}

/// The sampling keys of a model config that Anthropic's current Messages API does not take
/// (`temperature`, `top_p`: the official `anthropic` SDK 2.x has neither), for Anthropic and
/// for LiteLLM routing to it. With `drop`, the keys set are returned to be left out; without, a
/// prompt that sets any is refused naming them. `api` names the API in the message.
pub(crate) fn unsupported_sampling(
    ctx: Ctx<'_>,
    config: &ModelConfig,
    api: &str,
    drop: bool,
) -> Result<Vec<&'static str>> {
    let set: Vec<&'static str> = [
        ("temperature", config.temperature.is_some()),
        ("top_p", config.top_p.is_some()),
    ]
    .into_iter()
    .filter_map(|(key, is_set)| is_set.then_some(key))
    .collect();
    if set.is_empty() || drop {
        return Ok(set);
    }
    let one = set.len() == 1;
    let keys = set
        .iter()
        .map(|k| format!("model_config.{k}"))
        .collect::<Vec<_>>()
        .join(" and ");
    let names = set.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" or ");
    Err(ctx.error(format_args!(
        "{keys}: {api} does not take {names} (the current API, as the official `anthropic` SDK 2.x types it, has \
         no such parameter{s}); remove {it} from the prompt's model config, or initialize the {plugin} plugin with \
         {{\"drop_unsupported\": true}} to leave {it} out",
        s = if one { "" } else { "s" },
        it = if one { "it" } else { "them" },
        plugin = ctx.plugin,
    )))
}

/// Copies `extra[key]` to `body[to]` for each `(key, to)` in `fields`, unless the body has it.
pub(crate) fn copy_extra(body: &mut Map<String, Value>, config: &ModelConfig, fields: &[(&str, &str)]) {
    for (key, to) in fields {
        if let Some(v) = config.extra.get(*key)
            && !body.contains_key(*to)
        {
            body.insert((*to).to_owned(), v.clone());
        }
    }
}

/// Merges the object `extra[<plugin>]`, verbatim, over the body: the escape hatch for provider
/// fields that have no provider-neutral spelling.
pub(crate) fn merge_override(ctx: Ctx<'_>, body: &mut Map<String, Value>, config: &ModelConfig) -> Result<()> {
    match config.extra.get(ctx.plugin) {
        None => Ok(()),
        Some(Value::Object(o)) => {
            for (k, v) in o {
                body.insert(k.clone(), v.clone());
            }
            Ok(())
        }
        Some(other) => Err(ctx.error(format_args!(
            "model_config.extra.{} must be an object of request fields, got {}",
            ctx.plugin,
            prompt_manager_core::json_type(other)
        ))),
    }
}

/// A JSON number from a float (core refuses non-finite ones before a prompt is saved).
pub(crate) fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Rendered prompts built by hand for unit tests.

    use prompt_manager_core::{
        ChatMessage, ContentHash, ModelConfig, PromptFormat, PromptId, RenderOutput, RenderedPrompt, Role,
        semver::Version,
    };

    pub(crate) fn chat(messages: &[(Role, &str)]) -> RenderedPrompt {
        RenderedPrompt {
            id: PromptId::new("support/triage").expect("valid id"),
            version: Version::new(1, 2, 0),
            format: PromptFormat::Chat,
            output: RenderOutput::Messages(messages.iter().map(|(r, c)| ChatMessage::new(*r, *c)).collect()),
            model_config: ModelConfig::default(),
            content_hash: ContentHash("0".repeat(64)),
            variant: None,
        }
    }

    pub(crate) fn text(text: &str) -> RenderedPrompt {
        RenderedPrompt {
            format: PromptFormat::Text,
            output: RenderOutput::Text(text.to_owned()),
            ..chat(&[])
        }
    }

    pub(crate) fn weather_tool() -> serde_json::Value {
        serde_json::json!({
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"]
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use prompt_manager_core::Role;
    use serde_json::json;

    use super::test_support::{chat, weather_tool};
    use super::*;

    fn message_of(err: Error) -> String {
        match err {
            Error::Plugin { plugin, message } => {
                assert_eq!(plugin, "openai");
                message
            }
            other => panic!("not a plugin error: {other:?}"),
        }
    }

    #[test]
    fn tools_are_read_in_both_shapes_and_bad_ones_are_named_by_index() {
        let prompt = chat(&[(Role::User, "hi")]);
        let ctx = Ctx::new("openai", &prompt);
        let full = weather_tool();
        let tool = function_tool(ctx, 0, &full).unwrap();
        assert_eq!(tool.name, "get_weather");
        assert_eq!(tool.description, Some(&json!("Current weather for a city")));
        assert!(tool.parameters.is_some_and(Value::is_object));
        assert_eq!(tool.strict, None);
        let bare = json!({"name": "lookup", "description": null, "strict": true});
        let tool = function_tool(ctx, 0, &bare).unwrap();
        assert_eq!(
            (tool.name, tool.description, tool.parameters, tool.strict),
            ("lookup", None, None, Some(&json!(true))),
            "a null description is no description"
        );

        for (tool, why) in [
            (json!("get_weather"), "is not an object"),
            (
                json!({"type": "function"}),
                "has type `function` but no `function` object",
            ),
            (
                json!({"type": "code_interpreter"}),
                "has type `code_interpreter`, which `openai` cannot map (only function tools)",
            ),
            (json!({"description": "x"}), "has neither `type` nor `name`"),
            (json!({"name": ""}), "has no `name` string"),
            (
                json!({"name": "f", "parameters": "city"}),
                "has `parameters` that is not a JSON schema object",
            ),
        ] {
            let message = message_of(function_tool(ctx, 3, &tool).expect_err("refused"));
            assert!(
                message.starts_with(&format!(
                    "prompt `support/triage@1.2.0`: model_config.tools[3] {why}; a tool is"
                )),
                "{tool}: {message}"
            );
        }

        let config = ModelConfig {
            tools: vec![weather_tool(), json!({"type": "web_search"})],
            ..ModelConfig::default()
        };
        let message = message_of(function_tools(ctx, &config).expect_err("the second tool"));
        assert!(message.contains("tools[1] has type `web_search`"), "{message}");
    }

    #[test]
    fn response_formats_are_read_or_refused_with_what_to_write() {
        let prompt = chat(&[(Role::User, "hi")]);
        let ctx = Ctx::new("openai", &prompt);
        let read = |rf: Option<Value>| {
            let config = ModelConfig {
                response_format: rf,
                ..ModelConfig::default()
            };
            response_format(ctx, &config).map(|f| format!("{f:?}"))
        };
        assert_eq!(read(None).unwrap(), "None");
        assert_eq!(read(Some(json!({"type": "text"}))).unwrap(), "Some(Text)");
        assert_eq!(read(Some(json!({"type": "json_object"}))).unwrap(), "Some(JsonObject)");
        let schema = json!({"type": "json_schema", "json_schema": {"name": "t", "schema": {"type": "object"}}});
        assert!(read(Some(schema)).unwrap().starts_with("Some(JsonSchema"));
        for (rf, why) in [
            (json!({}), "has no `type`"),
            (json!({"type": "yaml"}), "has unknown type `yaml`"),
            (
                json!({"type": "json_schema", "json_schema": {"name": "t"}}),
                "of type `json_schema` has no `json_schema.schema` object",
            ),
        ] {
            let message = message_of(read(Some(rf.clone())).expect_err("refused"));
            assert!(
                message.contains(&format!(
                    "model_config.response_format {why}; use {{\"type\": \"text\"}}"
                )),
                "{rf}: {message}"
            );
        }
    }

    #[test]
    fn the_override_object_is_merged_over_the_body_and_anything_else_is_refused() {
        let prompt = chat(&[(Role::User, "hi")]);
        let ctx = Ctx::new("openai", &prompt);
        let mut body = Map::new();
        body.insert("model".into(), json!("gpt-x"));
        body.insert("seed".into(), json!(1));
        let mut config = ModelConfig::default();
        config
            .extra
            .insert("openai".into(), json!({"seed": 7, "service_tier": "flex"}));
        config.extra.insert("user".into(), json!("u-1"));
        config.extra.insert("seed".into(), json!(99));
        copy_extra(
            &mut body,
            &config,
            &[("user", "user"), ("seed", "seed"), ("absent", "absent")],
        );
        assert_eq!(body.get("user"), Some(&json!("u-1")), "copied");
        assert_eq!(
            body.get("seed"),
            Some(&json!(1)),
            "the body's own value wins over extra"
        );
        assert!(!body.contains_key("absent"));
        merge_override(ctx, &mut body, &config).unwrap();
        assert_eq!(
            Value::Object(body.clone()),
            json!({"model": "gpt-x", "seed": 7, "service_tier": "flex", "user": "u-1"}),
            "the override wins over everything"
        );
        config.extra.insert("openai".into(), json!(["seed"]));
        let message = message_of(merge_override(ctx, &mut body, &config).expect_err("not an object"));
        assert_eq!(
            message,
            "prompt `support/triage@1.2.0`: model_config.extra.openai must be an object of request fields, got array"
        );
    }

    #[test]
    fn configurations_are_objects_or_null_and_set_only_when_valid() {
        #[derive(Debug, Default, PartialEq, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Config {
            model: Option<String>,
        }
        let config_message = |err: Error| match err {
            Error::Plugin { message, .. } => message,
            other => panic!("{other:?}"),
        };
        assert_eq!(parse_config::<Config>("openai", &Value::Null).unwrap(), None);
        let message = config_message(parse_config::<Config>("openai", &json!("gpt")).expect_err("a string"));
        assert_eq!(message, "invalid configuration: expected an object or null, got string");
        let message = config_message(parse_config::<Config>("openai", &json!({"modle": "x"})).expect_err("typo"));
        assert!(
            message.starts_with("invalid configuration: unknown field `modle`"),
            "{message}"
        );

        let cell = ConfigCell::new(Config {
            model: Some("a".into()),
        });
        let refuse_empty = |c: &Config| check_non_empty("openai", "model", c.model.as_deref());
        cell.initialize("openai", &Value::Null, refuse_empty).unwrap();
        assert_eq!(cell.get().model.as_deref(), Some("a"), "null keeps the configuration");
        let message = config_message(
            cell.initialize("openai", &json!({"model": "  "}), refuse_empty)
                .expect_err("empty"),
        );
        assert_eq!(message, "invalid configuration: `model` must not be empty");
        assert_eq!(
            cell.get().model.as_deref(),
            Some("a"),
            "a refused configuration changes nothing"
        );
        cell.initialize("openai", &json!({"model": "b"}), refuse_empty).unwrap();
        assert_eq!(cell.get().model.as_deref(), Some("b"));
    }

    #[test]
    fn sampling_keys_anthropic_lacks_are_refused_or_dropped() {
        let prompt = chat(&[(Role::User, "hi")]);
        let ctx = Ctx::new("anthropic", &prompt);
        let mut config = ModelConfig::default();
        assert!(
            unsupported_sampling(ctx, &config, "the Messages API", false)
                .unwrap()
                .is_empty()
        );
        config.top_p = Some(0.9);
        let Error::Plugin { message, .. } = unsupported_sampling(ctx, &config, "the Messages API", false).unwrap_err()
        else {
            panic!("not a plugin error")
        };
        assert!(
            message.contains("model_config.top_p: the Messages API does not take `top_p`"),
            "{message}"
        );
        assert!(message.contains("no such parameter); remove it"), "{message}");
        config.temperature = Some(0.2);
        let Error::Plugin { message, .. } = unsupported_sampling(ctx, &config, "the Messages API", false).unwrap_err()
        else {
            panic!("not a plugin error")
        };
        assert!(
            message.contains("model_config.temperature and model_config.top_p: the Messages API does not take `temperature` or `top_p`"),
            "{message}"
        );
        assert!(message.contains("no such parameters); remove them"), "{message}");
        assert!(
            message.contains("initialize the anthropic plugin with {\"drop_unsupported\": true}"),
            "{message}"
        );
        assert_eq!(
            unsupported_sampling(ctx, &config, "the Messages API", true).unwrap(),
            ["temperature", "top_p"]
        );
        assert_eq!(number(0.5), json!(0.5));
        assert_eq!(number(f64::NAN), Value::Null);
    }
}
