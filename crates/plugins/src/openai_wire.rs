//! The OpenAI Chat Completions body, shared by the `openai` plugin and the OpenAI-compatible
//! `litellm` plugin. The plugins decide the model name, the max-tokens field and which extra
//! fields they forward; this module only builds.

use prompt_manager_core::{RenderedPrompt, Result, Role, ToolCall};
use serde_json::{Map, Value};

use crate::common::{self, Ctx, Msg};

/// The request fields of `POST /v1/chat/completions` that core's `model_config.extra` may carry,
/// forwarded as they are. The typed fields (model, messages, temperature, top_p, max tokens, stop,
/// tools, response_format) are not here: the typed value wins.
pub(crate) const EXTRA_FIELDS: &[&str] = &[
    "audio",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "metadata",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "reasoning_effort",
    "safety_identifier",
    "seed",
    "service_tier",
    "store",
    "stream",
    "stream_options",
    "tool_choice",
    "top_logprobs",
    "user",
    "verbosity",
    "web_search_options",
];

/// Checks what a Chat Completions message list needs: `tool` and `function` messages carry a name.
pub(crate) fn check_messages(ctx: Ctx<'_>, messages: &[Msg<'_>]) -> Result<()> {
    for (i, m) in messages.iter().enumerate() {
        match m.role {
            Role::Tool if m.call_id().is_none() => {
                return Err(ctx.message_error(
                    i,
                    m.role,
                    "a tool message needs the id of the tool call it answers; set its `tool_call_id`",
                ));
            }
            Role::Function if m.name.is_none() => {
                return Err(ctx.message_error(
                    i,
                    m.role,
                    "a function message needs the `name` of the function that produced it",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The `messages` array. `system_role` is `system` or `developer`; without `user_names`, user
/// messages are sent without their `name`.
pub(crate) fn messages(messages: &[Msg<'_>], system_role: &str, user_names: bool) -> Vec<Value> {
    messages
        .iter()
        .map(|m| {
            let mut o = Map::with_capacity(3);
            let role = match m.role {
                Role::System => system_role,
                other => other.as_str(),
            };
            o.insert("role".into(), Value::from(role));
            // An assistant turn that only calls tools has no text.
            if !m.content.is_empty() || m.tool_calls.is_empty() {
                o.insert("content".into(), Value::from(m.content));
            }
            if m.role == Role::Tool {
                // OpenAI's tool messages have no `name`, only the id of the call they answer.
                if let Some(id) = m.call_id() {
                    o.insert("tool_call_id".into(), Value::from(id));
                }
            } else if let Some(name) = m.name
                && (user_names || m.role != Role::User)
            {
                o.insert("name".into(), Value::from(name));
            }
            if !m.tool_calls.is_empty() {
                o.insert(
                    "tool_calls".into(),
                    Value::Array(m.tool_calls.iter().map(tool_call).collect()),
                );
            }
            Value::Object(o)
        })
        .collect()
}

/// One call of an assistant message: `{id, type: "function", function: {name, arguments}}`, the
/// arguments as JSON text, as the API takes them.
fn tool_call(call: &ToolCall) -> Value {
    let mut function = Map::with_capacity(2);
    function.insert("name".into(), Value::from(call.name.as_str()));
    function.insert("arguments".into(), Value::from(call.arguments.to_string()));
    let mut o = Map::with_capacity(3);
    o.insert("id".into(), Value::from(call.id.as_str()));
    o.insert("type".into(), Value::from("function"));
    o.insert("function".into(), Value::Object(function));
    Value::Object(o)
}

/// `tools`, normalised to `{"type": "function", "function": {…}}`; other tool types pass as they are.
pub(crate) fn tools(ctx: Ctx<'_>, tools: &[Value]) -> Result<Vec<Value>> {
    tools
        .iter()
        .enumerate()
        .map(|(i, tool)| {
            if let Some(ty) = tool.get("type").and_then(Value::as_str)
                && ty != "function"
            {
                return Ok(tool.clone());
            }
            let f = common::function_tool(ctx, i, tool)?;
            let mut function = Map::new();
            function.insert("name".into(), Value::from(f.name));
            if let Some(d) = f.description {
                function.insert("description".into(), d.clone());
            }
            if let Some(p) = f.parameters {
                function.insert("parameters".into(), p.clone());
            }
            if let Some(s) = f.strict {
                function.insert("strict".into(), s.clone());
            }
            let mut o = Map::with_capacity(2);
            o.insert("type".into(), Value::from("function"));
            o.insert("function".into(), Value::Object(function));
            Ok(Value::Object(o))
        })
        .collect()
}

/// How a body is put together.
pub(crate) struct BodySpec<'a> {
    pub(crate) model: String,
    pub(crate) system_role: &'a str,
    pub(crate) max_tokens_field: &'a str,
    pub(crate) extra_fields: &'a [&'a str],
    /// Typed keys (`temperature`, `top_p`) left out because the routed provider does not take them.
    pub(crate) leave_out: &'a [&'a str],
    /// Whether user messages keep their `name` (OpenAI's do; LiteLLM's user message has none).
    pub(crate) user_names: bool,
}

/// The whole body.
pub(crate) fn body(ctx: Ctx<'_>, prompt: &RenderedPrompt, spec: &BodySpec<'_>) -> Result<Value> {
    let msgs = common::messages(prompt);
    check_messages(ctx, &msgs)?;
    let config = &prompt.model_config;
    // Validated in the shared vocabulary, forwarded verbatim below: it is OpenAI's own shape.
    common::response_format(ctx, config)?;
    let mut body = Map::new();
    body.insert("model".into(), Value::from(spec.model.as_str()));
    body.insert(
        "messages".into(),
        Value::Array(messages(&msgs, spec.system_role, spec.user_names)),
    );
    if let Some(t) = config.temperature
        && !spec.leave_out.contains(&"temperature")
    {
        body.insert("temperature".into(), common::number(t));
    }
    if let Some(p) = config.top_p
        && !spec.leave_out.contains(&"top_p")
    {
        body.insert("top_p".into(), common::number(p));
    }
    if let Some(n) = config.max_tokens {
        body.insert(spec.max_tokens_field.into(), Value::from(n));
    }
    if !config.stop.is_empty() {
        body.insert("stop".into(), Value::from(config.stop.clone()));
    }
    if !config.tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools(ctx, &config.tools)?));
    }
    if let Some(rf) = &config.response_format {
        body.insert("response_format".into(), rf.clone());
    }
    for key in spec.extra_fields {
        if let Some(v) = config.extra.get(*key)
            && !body.contains_key(*key)
        {
            body.insert((*key).to_owned(), v.clone());
        }
    }
    common::merge_override(ctx, &mut body, config)?;
    Ok(Value::Object(body))
}
