//! The `gemini` plugin: the body of Gemini's `models/{model}:generateContent` (REST, v1beta).
//!
//! The model is part of the URL, not of the body, so the prompt's `model` is not in the payload.
//!
//! | prompt | request |
//! |---|---|
//! | leading `system` messages | `systemInstruction`: `{"parts": [{"text"}…]}` |
//! | a `system` message after the conversation started | refused, naming the message |
//! | `user` / `assistant` messages | `contents` with roles `user` / `model`; consecutive messages of one role are one content of several parts |
//! | an `assistant` message's `tool_calls` | `functionCall` parts (`id`, `name`, `args`) after its text |
//! | `tool` messages | a `user` content's `functionResponse` part: `id` from `tool_call_id`, `name` from the message's `name` or else the call it answers, `response` the content if it is a JSON object, else `{"output": content}`; refused naming the message when the function cannot be told |
//! | `function` messages | refused, naming the message (OpenAI's legacy role; write a `tool` message) |
//! | message `name` | dropped: Gemini contents have no name |
//! | text prompt | one `user` content |
//! | `temperature`, `top_p`, `max_tokens`, `stop` | `generationConfig.temperature`, `topP`, `maxOutputTokens`, `stopSequences` |
//! | `response_format` | `json_object` → `responseMimeType: application/json`; `json_schema` → that plus `responseJsonSchema` (full JSON Schema; `responseSchema` takes only an OpenAPI subset that OpenAI-style schemas break) |
//! | `tools` (OpenAI function tools) | `tools: [{"functionDeclarations": [{name, description, parametersJsonSchema}]}]` |
//! | `extra` | `top_k`, `seed`, `presence_penalty`, `frequency_penalty`, `n` / `candidate_count` → `generationConfig` in camelCase; `tool_choice` → `toolConfig.functionCallingConfig`; `extra.gemini` (an object) is merged over the body last |
//!
//! Configuration (`initialize`): `{"safety_settings": [{"category": …, "threshold": …}]}` (sent as
//! `safetySettings`), optional.

use async_trait::async_trait;
use prompt_manager_core::{Plugin, RenderedPrompt, Result, Role};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::{self, ConfigCell, Ctx, Msg, ResponseFormat};

const NAME: &str = "gemini";

/// The configuration of the [`GeminiPlugin`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GeminiConfig {
    /// Safety settings sent with every request (`safetySettings`), as Gemini spells them.
    #[serde(default)]
    pub safety_settings: Vec<Value>,
}

/// Renders prompts as Gemini `generateContent` request bodies.
#[derive(Debug, Default)]
pub struct GeminiPlugin {
    config: ConfigCell<GeminiConfig>,
}

impl GeminiPlugin {
    /// A plugin with the default configuration (until `initialize` sets one).
    pub fn new() -> Self {
        Self::default()
    }

    /// A plugin with a configuration.
    pub fn with_config(config: GeminiConfig) -> Result<Self> {
        validate(&config)?;
        Ok(GeminiPlugin {
            config: ConfigCell::new(config),
        })
    }
}

fn validate(config: &GeminiConfig) -> Result<()> {
    for (i, s) in config.safety_settings.iter().enumerate() {
        if s.get("category").and_then(Value::as_str).is_none() {
            return Err(common::config_error(
                NAME,
                format_args!("safety_settings[{i}] needs a `category` string (e.g. HARM_CATEGORY_HARASSMENT)"),
            ));
        }
    }
    Ok(())
}

fn split_system<'a, 'm>(ctx: Ctx<'_>, msgs: &'a [Msg<'m>]) -> Result<(&'a [Msg<'m>], &'a [Msg<'m>])> {
    let lead = msgs.iter().take_while(|m| m.role == Role::System).count();
    let (system, rest) = msgs.split_at(lead);
    for (i, m) in rest.iter().enumerate() {
        match m.role {
            Role::User | Role::Assistant => {}
            Role::System => {
                return Err(ctx.message_error(
                    lead + i,
                    m.role,
                    "Gemini takes system instructions only before the conversation (`systemInstruction`); \
                     move this message to the start or make it a user message",
                ));
            }
            Role::Tool => {
                function_of(rest, i).ok_or_else(|| {
                    ctx.message_error(
                        lead + i,
                        m.role,
                        "Gemini's `functionResponse` names the function: set the message's `tool_call_id` to the \
                         id of an earlier assistant tool call, or its `name` to the function's name",
                    )
                })?;
            }
            Role::Function => {
                return Err(ctx.message_error(
                    lead + i,
                    m.role,
                    "Gemini has no function role (OpenAI's legacy one): write a `tool` message with the \
                     `tool_call_id` of the call it answers",
                ));
            }
        }
    }
    if rest.is_empty() {
        return Err(ctx.error("Gemini needs at least one user or model content; the prompt has only system messages"));
    }
    Ok((system, rest))
}

/// The function a tool message at `index` answers: its `name` next to a `tool_call_id`, or the
/// name of the earlier assistant call with that id.
fn function_of<'m>(msgs: &[Msg<'m>], index: usize) -> Option<&'m str> {
    let m = msgs.get(index)?;
    if let (Some(name), Some(_)) = (m.name, m.tool_call_id) {
        return Some(name);
    }
    let id = m.call_id()?;
    msgs[..index]
        .iter()
        .rev()
        .flat_map(|earlier| earlier.tool_calls.iter())
        .find(|call| call.id == id)
        .map(|call| call.name.as_str())
}

/// The content a message belongs to (a function result is the user's) and its parts.
fn parts(msgs: &[Msg<'_>], index: usize) -> (&'static str, Vec<Value>) {
    let m = &msgs[index];
    let text = |t: &str| json!({"text": t});
    match m.role {
        Role::Tool => {
            let response = match serde_json::from_str::<Value>(m.content) {
                Ok(object @ Value::Object(_)) => object,
                _ => json!({"output": m.content}),
            };
            let call = json!({
                "id": m.call_id().unwrap_or_default(),
                "name": function_of(msgs, index).unwrap_or_default(),
                "response": response,
            });
            ("user", vec![json!({"functionResponse": call})])
        }
        Role::Assistant => {
            let mut out = Vec::with_capacity(1 + m.tool_calls.len());
            if !m.content.is_empty() || m.tool_calls.is_empty() {
                out.push(text(m.content));
            }
            out.extend(
                m.tool_calls
                    .iter()
                    .map(|call| json!({"functionCall": {"id": call.id, "name": call.name, "args": call.arguments}})),
            );
            ("model", out)
        }
        _ => ("user", vec![text(m.content)]),
    }
}

/// Contents of alternating roles; a run of one role becomes one content of several parts.
fn contents(rest: &[Msg<'_>]) -> Vec<Value> {
    let mut grouped: Vec<(&str, Vec<Value>)> = Vec::with_capacity(rest.len());
    for index in 0..rest.len() {
        let (role, new) = parts(rest, index);
        match grouped.last_mut() {
            Some((r, parts)) if *r == role => parts.extend(new),
            _ => grouped.push((role, new)),
        }
    }
    grouped
        .into_iter()
        .map(|(role, parts)| {
            let mut o = Map::with_capacity(2);
            o.insert("role".into(), Value::from(role));
            o.insert("parts".into(), Value::Array(parts));
            Value::Object(o)
        })
        .collect()
}

fn tool_config(ctx: Ctx<'_>, choice: &Value) -> Result<Value> {
    let mode = |m: &str| json!({"functionCallingConfig": {"mode": m}});
    Ok(match choice {
        Value::String(s) if s == "auto" => mode("AUTO"),
        Value::String(s) if s == "required" => mode("ANY"),
        Value::String(s) if s == "none" => mode("NONE"),
        Value::Object(o) => match (
            o.get("type").and_then(Value::as_str),
            o.get("function").and_then(|f| f.get("name")).and_then(Value::as_str),
        ) {
            (Some("function"), Some(name)) => {
                json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}})
            }
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

#[async_trait]
impl Plugin for GeminiPlugin {
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
        split_system(ctx, &common::messages(prompt))?;
        common::response_format(ctx, &prompt.model_config).map(drop)
    }

    fn render_for_framework(&self, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        let ctx = Ctx::new(NAME, prompt);
        let config = self.config.get();
        let msgs = common::messages(prompt);
        let (system, rest) = split_system(ctx, &msgs)?;
        let mc = &prompt.model_config;

        let mut body = Map::new();
        body.insert("contents".into(), Value::Array(contents(rest)));
        if !system.is_empty() {
            let mut o = Map::with_capacity(1);
            o.insert(
                "parts".into(),
                Value::Array(system.iter().map(|m| json!({"text": m.content})).collect()),
            );
            body.insert("systemInstruction".into(), Value::Object(o));
        }

        let mut gc = Map::new();
        if let Some(t) = mc.temperature {
            gc.insert("temperature".into(), common::number(t));
        }
        if let Some(p) = mc.top_p {
            gc.insert("topP".into(), common::number(p));
        }
        if let Some(n) = mc.max_tokens {
            gc.insert("maxOutputTokens".into(), Value::from(n));
        }
        if !mc.stop.is_empty() {
            gc.insert("stopSequences".into(), Value::from(mc.stop.clone()));
        }
        match common::response_format(ctx, mc)? {
            None | Some(ResponseFormat::Text) => {}
            Some(ResponseFormat::JsonObject) => {
                gc.insert("responseMimeType".into(), Value::from("application/json"));
            }
            Some(ResponseFormat::JsonSchema { schema }) => {
                gc.insert("responseMimeType".into(), Value::from("application/json"));
                gc.insert("responseJsonSchema".into(), schema.clone());
            }
        }
        common::copy_extra(
            &mut gc,
            mc,
            &[
                ("top_k", "topK"),
                ("seed", "seed"),
                ("presence_penalty", "presencePenalty"),
                ("frequency_penalty", "frequencyPenalty"),
                ("candidate_count", "candidateCount"),
                ("n", "candidateCount"),
            ],
        );
        if !gc.is_empty() {
            body.insert("generationConfig".into(), Value::Object(gc));
        }

        if !mc.tools.is_empty() {
            let declarations: Vec<Value> = common::function_tools(ctx, mc)?
                .into_iter()
                .map(|t| {
                    let mut o = Map::with_capacity(3);
                    o.insert("name".into(), Value::from(t.name));
                    if let Some(d) = t.description {
                        o.insert("description".into(), d.clone());
                    }
                    if let Some(p) = t.parameters {
                        o.insert("parametersJsonSchema".into(), p.clone());
                    }
                    Value::Object(o)
                })
                .collect();
            body.insert("tools".into(), json!([{"functionDeclarations": declarations}]));
        }
        if let Some(choice) = mc.extra.get("tool_choice") {
            body.insert("toolConfig".into(), tool_config(ctx, choice)?);
        }
        if !config.safety_settings.is_empty() {
            body.insert("safetySettings".into(), Value::from(config.safety_settings.clone()));
        }
        common::merge_override(ctx, &mut body, mc)?;
        Ok(Value::Object(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::{chat, text, weather_tool};

    fn render(plugin: &GeminiPlugin, prompt: &RenderedPrompt) -> Result<Value> {
        plugin.validate_compatibility(prompt)?;
        plugin.render_for_framework(prompt)
    }

    #[test]
    fn maps_roles_system_and_generation_config() {
        let mut p = chat(&[
            (Role::System, "Be brief."),
            (Role::User, "Hi"),
            (Role::Assistant, "Hello."),
            (Role::Assistant, "How can I help?"),
            (Role::User, "Weather?"),
        ]);
        p.model_config.model = Some("gemini-2.5-flash".into());
        p.model_config.temperature = Some(0.5);
        p.model_config.max_tokens = Some(256);
        p.model_config.stop = vec!["END".into()];
        p.model_config.tools = vec![weather_tool()];
        p.model_config.extra.insert("top_k".into(), json!(40));
        p.model_config.extra.insert(
            "tool_choice".into(),
            json!({"type": "function", "function": {"name": "get_weather"}}),
        );
        let body = render(&GeminiPlugin::new(), &p).expect("renders");
        assert_eq!(
            body,
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "Hi"}]},
                    {"role": "model", "parts": [{"text": "Hello."}, {"text": "How can I help?"}]},
                    {"role": "user", "parts": [{"text": "Weather?"}]}
                ],
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "generationConfig": {
                    "temperature": 0.5,
                    "maxOutputTokens": 256,
                    "stopSequences": ["END"],
                    "topK": 40
                },
                "tools": [{"functionDeclarations": [{
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "parametersJsonSchema": weather_tool()["function"]["parameters"]
                }]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
            })
        );
    }

    #[test]
    fn response_format_sets_mime_type_and_schema() {
        let mut p = text("List three colours.");
        let schema = json!({"type": "array", "items": {"type": "string"}});
        p.model_config.response_format =
            Some(json!({"type": "json_schema", "json_schema": {"name": "c", "schema": schema}}));
        let body = render(&GeminiPlugin::new(), &p).expect("renders");
        assert_eq!(
            body,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "List three colours."}]}],
                "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}
            })
        );
    }

    #[test]
    fn refuses_tool_roles_and_late_system_naming_the_message() {
        let err = render(&GeminiPlugin::new(), &chat(&[(Role::User, "q"), (Role::Function, "r")]))
            .expect_err("function")
            .to_string();
        assert!(err.contains("plugin `gemini`"), "{err}");
        assert!(err.contains("message 2 (role `function`)"), "{err}");
        let err = render(
            &GeminiPlugin::new(),
            &chat(&[(Role::User, "q"), (Role::Assistant, "a"), (Role::System, "s")]),
        )
        .expect_err("late system")
        .to_string();
        assert!(err.contains("message 3 (role `system`)"), "{err}");
    }

    #[tokio::test]
    async fn safety_settings_come_from_the_configuration() {
        let plugin = GeminiPlugin::new();
        let err = plugin
            .initialize(&json!({"safety_settings": [{"threshold": "BLOCK_NONE"}]}))
            .await
            .expect_err("no category")
            .to_string();
        assert!(err.contains("safety_settings[0] needs a `category`"), "{err}");
        let setting = json!({"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"});
        plugin
            .initialize(&json!({"safety_settings": [setting]}))
            .await
            .expect("valid");
        let body = render(&plugin, &text("Hi")).expect("renders");
        assert_eq!(body["safetySettings"], json!([setting]));
    }
}
