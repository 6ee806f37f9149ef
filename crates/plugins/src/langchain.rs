//! The `langchain` plugin: the message list as LangChain serialises messages with
//! `langchain_core.messages.messages_to_dict`, which `messages_from_dict` loads back:
//!
//! ```python
//! from langchain_core.messages import messages_from_dict
//! messages = messages_from_dict(payload)   # [SystemMessage(...), HumanMessage(...), ...]
//! ```
//!
//! Each message is `{"type": …, "data": {"content": …, "name"?: …}}`: `system` → `system`,
//! `user` → `human`, `assistant` → `ai` (its `tool_calls` as LangChain's `{name, args, id,
//! type: "tool_call"}`), `tool` → `tool` (with the `tool_call_id` LangChain's `ToolMessage`
//! requires; prompts written before messages had the field keep it in `name`), `function` →
//! `function` (with its required `name`).
//! A text prompt is one `human` message. The prompt's model config is not part of a message list
//! and is left out. The plugin takes no configuration (`null` or `{}`).

use async_trait::async_trait;
use prompt_manager_core::{Plugin, RenderedPrompt, Result, Role};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::common::{self, Ctx};

const NAME: &str = "langchain";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoConfig {}

/// Renders prompts as LangChain's serialised message list.
#[derive(Debug, Default)]
pub struct LangChainPlugin;

impl LangChainPlugin {
    /// The plugin.
    pub fn new() -> Self {
        LangChainPlugin
    }
}

fn check(ctx: Ctx<'_>, prompt: &RenderedPrompt) -> Result<()> {
    for (i, m) in common::messages(prompt).iter().enumerate() {
        match m.role {
            Role::Tool if m.call_id().is_none() => {
                return Err(ctx.message_error(
                    i,
                    m.role,
                    "LangChain's ToolMessage needs the id of the call it answers; set the message's `tool_call_id`",
                ));
            }
            Role::Function if m.name.is_none() => {
                return Err(ctx.message_error(i, m.role, "LangChain's FunctionMessage needs a `name`"));
            }
            _ => {}
        }
    }
    Ok(())
}

#[async_trait]
impl Plugin for LangChainPlugin {
    fn name(&self) -> &str {
        NAME
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    async fn initialize(&self, config: &serde_json::Value) -> Result<()> {
        common::parse_config::<NoConfig>(NAME, config).map(drop)
    }

    fn validate_compatibility(&self, prompt: &RenderedPrompt) -> Result<()> {
        check(Ctx::new(NAME, prompt), prompt)
    }

    fn render_for_framework(&self, prompt: &RenderedPrompt) -> Result<serde_json::Value> {
        check(Ctx::new(NAME, prompt), prompt)?;
        let list = common::messages(prompt)
            .iter()
            .map(|m| {
                let ty = match m.role {
                    Role::System => "system",
                    Role::User => "human",
                    Role::Assistant => "ai",
                    Role::Tool => "tool",
                    Role::Function => "function",
                };
                let mut data = Map::with_capacity(3);
                data.insert("content".into(), Value::from(m.content));
                if m.role == Role::Tool {
                    if let Some(id) = m.call_id() {
                        data.insert("tool_call_id".into(), Value::from(id));
                    }
                    // A name next to the id is the tool's; alone, it was the id (older prompts).
                    if let (Some(name), Some(_)) = (m.name, m.tool_call_id) {
                        data.insert("name".into(), Value::from(name));
                    }
                } else if let Some(name) = m.name {
                    data.insert("name".into(), Value::from(name));
                }
                if !m.tool_calls.is_empty() {
                    let calls = m.tool_calls.iter().map(
                        |call| json!({"name": call.name, "args": call.arguments, "id": call.id, "type": "tool_call"}),
                    );
                    data.insert("tool_calls".into(), Value::Array(calls.collect()));
                }
                let mut o = Map::with_capacity(2);
                o.insert("type".into(), Value::from(ty));
                o.insert("data".into(), Value::Object(data));
                Value::Object(o)
            })
            .collect();
        Ok(Value::Array(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_support::{chat, text};
    use prompt_manager_core::{ChatMessage, RenderOutput};
    use serde_json::json;

    #[test]
    fn maps_every_role() {
        let mut p = chat(&[]);
        let mut named = ChatMessage::new(Role::User, "Hi");
        named.name = Some("alice".into());
        let mut tool = ChatMessage::new(Role::Tool, "sunny");
        tool.name = Some("call_1".into());
        let mut function = ChatMessage::new(Role::Function, "42");
        function.name = Some("answer".into());
        p.output = RenderOutput::Messages(vec![
            ChatMessage::new(Role::System, "Be brief."),
            named,
            ChatMessage::new(Role::Assistant, "Hello."),
            tool,
            function,
        ]);
        let plugin = LangChainPlugin::new();
        plugin.validate_compatibility(&p).expect("compatible");
        assert_eq!(
            plugin.render_for_framework(&p).expect("renders"),
            json!([
                {"type": "system", "data": {"content": "Be brief."}},
                {"type": "human", "data": {"content": "Hi", "name": "alice"}},
                {"type": "ai", "data": {"content": "Hello."}},
                {"type": "tool", "data": {"content": "sunny", "tool_call_id": "call_1"}},
                {"type": "function", "data": {"content": "42", "name": "answer"}}
            ])
        );
        assert_eq!(
            plugin.render_for_framework(&text("Hi")).expect("renders"),
            json!([{"type": "human", "data": {"content": "Hi"}}])
        );
    }

    #[tokio::test]
    async fn refuses_unnamed_tool_messages_and_any_configuration() {
        let plugin = LangChainPlugin::new();
        let err = plugin
            .validate_compatibility(&chat(&[(Role::User, "q"), (Role::Tool, "r")]))
            .expect_err("no id")
            .to_string();
        assert!(err.contains("message 2 (role `tool`)"), "{err}");
        assert!(plugin.initialize(&json!({"format": "lc"})).await.is_err());
        plugin.initialize(&json!({})).await.expect("empty is fine");
    }
}
