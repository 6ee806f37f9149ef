//! Proof against definitions that are not ours: each payload is read into the request types of a
//! maintained client crate and written back by that crate; the result must equal our payload, so
//! every field we send is one the client knows, with the shape it expects.
//!
//! | plugin | independent definition |
//! |---|---|
//! | openai, litellm | `async-openai` `CreateChatCompletionRequest` (types only, no HTTP) |
//! | anthropic | `claude-api` request parts (types only); the request is rebuilt with its builder |
//! | gemini | `rust-genai-types` `GenerateContentRequest` |
//! | langchain | Python `langchain_core.messages.messages_from_dict`, when `langchain_core` is importable |

#![allow(clippy::expect_used, missing_docs)]

mod support;

use prompt_manager_core::{ChatMessage, RenderOutput, RenderedPrompt, Role, ToolCall};
use serde::Deserialize;
use serde_json::{Value, json};
use support::{complex_prompt, render, structured_prompt};

/// Writes a typed value as JSON text and reads it back, so `f32` fields compare as they print.
fn written<T: serde::Serialize>(typed: &T) -> Value {
    serde_json::from_str(&serde_json::to_string(typed).expect("serializes")).expect("json")
}

/// The workload's tools, with a conversation in which the assistant called one and its result
/// came back: every API has that, in its own shape.
fn tool_conversation() -> RenderedPrompt {
    let mut p = complex_prompt();
    let call = ToolCall::new("call_1", "get_rates", json!({"years": 30, "kind": "fixed"}));
    let mut answered = ChatMessage::tool_result("call_1", "{\"fixed\": 4.1}");
    answered.name = Some("get_rates".into());
    p.output = RenderOutput::Messages(vec![
        ChatMessage::new(Role::System, "You quote mortgage rates."),
        ChatMessage::new(Role::User, "Rates for 30 years?"),
        ChatMessage::new(Role::Assistant, "").with_tool_calls([call]),
        answered,
        ChatMessage::new(Role::User, "And the variable rate?"),
        ChatMessage::new(Role::Assistant, "Let me check.").with_tool_calls([ToolCall::new(
            "call_2",
            "get_rates",
            json!({"years": 30, "kind": "variable"}),
        )]),
        ChatMessage::tool_result("call_2", "3.9"),
    ]);
    p
}

/// Prompts that exercise the mapping: the workload with tools, with a JSON schema, a tool-calling
/// conversation, with legacy tool and function messages (where the API has them), and a text prompt.
fn prompts(with_tool_roles: bool) -> Vec<RenderedPrompt> {
    let mut out = vec![complex_prompt(), structured_prompt(), tool_conversation()];
    let mut text = complex_prompt();
    text.output = RenderOutput::Text("Summarise our mortgage policy.".into());
    text.model_config.extra.insert("tool_choice".into(), json!("auto"));
    out.push(text);
    if with_tool_roles {
        let mut p = complex_prompt();
        let mut tool = ChatMessage::new(Role::Tool, "{\"fixed\": 4.1}");
        tool.name = Some("call_1".into());
        let mut function = ChatMessage::new(Role::Function, "4.1");
        function.name = Some("get_rates".into());
        let mut named = ChatMessage::new(Role::User, "And now?");
        named.name = Some("bob".into());
        p.output = RenderOutput::Messages(vec![ChatMessage::new(Role::User, "Rates?"), tool, function, named]);
        p.model_config.extra.insert("seed".into(), json!(7));
        p.model_config.extra.insert("user".into(), json!("u-1"));
        out.push(p);
    }
    out
}

#[test]
fn openai_payloads_are_async_openai_requests() {
    use async_openai::types::chat::CreateChatCompletionRequest;
    for prompt in prompts(true) {
        let body = render("openai", &prompt);
        let typed: CreateChatCompletionRequest = serde_json::from_value(body.clone()).expect("async-openai reads it");
        assert_eq!(written(&typed), body);
    }
}

#[test]
fn litellm_payloads_are_openai_compatible() {
    use async_openai::types::chat::CreateChatCompletionRequest;
    // Without the legacy function message, which LiteLLM's message types cannot hold.
    for prompt in prompts(false) {
        let body = render("litellm", &prompt);
        assert_eq!(body["model"], "openai/gpt-4o");
        let typed: CreateChatCompletionRequest = serde_json::from_value(body.clone()).expect("async-openai reads it");
        assert_eq!(written(&typed), body);
    }
}

/// The top-level fields of `claude_api::messages::CreateMessageRequest` (which only serializes),
/// each read with claude-api's own type; an unknown field is an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnthropicParts {
    model: String,
    max_tokens: u32,
    messages: Vec<claude_api::messages::MessageInput>,
    system: Option<claude_api::messages::SystemPrompt>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<u32>,
    stop_sequences: Option<Vec<String>>,
    tools: Option<Vec<claude_api::messages::Tool>>,
    tool_choice: Option<claude_api::messages::ToolChoice>,
    output_config: Option<claude_api::messages::OutputConfig>,
}

#[test]
fn anthropic_payloads_rebuild_as_claude_api_requests() {
    for prompt in prompts(false) {
        let body = render("anthropic", &prompt);
        let parts: AnthropicParts = serde_json::from_value(body.clone()).expect("claude-api reads it");
        let mut b = claude_api::messages::CreateMessageRequest::builder()
            .model(parts.model)
            .max_tokens(parts.max_tokens)
            .messages(parts.messages);
        if let Some(s) = parts.system {
            b = b.system(s);
        }
        if let Some(t) = parts.temperature {
            b = b.temperature(t);
        }
        if let Some(p) = parts.top_p {
            b = b.top_p(p);
        }
        if let Some(k) = parts.top_k {
            b = b.top_k(k);
        }
        if let Some(s) = parts.stop_sequences {
            b = b.stop_sequences(s);
        }
        if let Some(t) = parts.tools {
            b = b.tools(t);
        }
        if let Some(c) = parts.tool_choice {
            b = b.tool_choice(c);
        }
        if let Some(o) = parts.output_config {
            b = b.output_config(o);
        }
        let request = b.build().expect("claude-api accepts it");
        assert_eq!(written(&request), body);
    }
}

#[test]
fn anthropic_tool_blocks_are_ones_claude_api_knows() {
    use claude_api::messages::{ContentBlock, KnownBlock, MessageContent, MessageInput};
    let body = render("anthropic", &tool_conversation());
    let turns: Vec<MessageInput> = serde_json::from_value(body["messages"].clone()).expect("claude-api reads it");
    let mut uses = Vec::new();
    let mut results = Vec::new();
    for turn in &turns {
        let MessageContent::Blocks(blocks) = &turn.content else {
            continue;
        };
        for block in blocks {
            match block {
                ContentBlock::Known(KnownBlock::ToolUse { id, name, input }) => {
                    uses.push((id.clone(), name.clone(), input.clone()));
                }
                ContentBlock::Known(KnownBlock::ToolResult { tool_use_id, .. }) => results.push(tool_use_id.clone()),
                ContentBlock::Known(KnownBlock::Text { .. }) => {}
                other => panic!("a block claude-api does not know as ours: {other:?}"),
            }
        }
    }
    assert_eq!(
        uses,
        [
            (
                "call_1".into(),
                "get_rates".into(),
                json!({"years": 30, "kind": "fixed"})
            ),
            (
                "call_2".into(),
                "get_rates".into(),
                json!({"years": 30, "kind": "variable"})
            ),
        ]
    );
    assert_eq!(results, ["call_1", "call_2"]);
    // Roles alternate: a tool result is the user's turn, merged with the user message after it.
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|t| t["role"].as_str())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant", "user"]);
}

#[test]
fn gemini_payloads_are_rust_genai_requests() {
    use rust_genai_types::models::GenerateContentRequest;
    for prompt in prompts(false) {
        let body = render("gemini", &prompt);
        let typed: GenerateContentRequest = serde_json::from_value(body.clone()).expect("rust-genai-types reads it");
        assert_eq!(written(&typed), body);
    }
}

#[test]
fn gemini_function_parts_name_the_function_the_call_named() {
    use rust_genai_types::content::PartKind;
    use rust_genai_types::models::GenerateContentRequest;
    let body = render("gemini", &tool_conversation());
    let typed: GenerateContentRequest = serde_json::from_value(body.clone()).expect("rust-genai-types reads it");
    let mut calls = Vec::new();
    let mut answers = Vec::new();
    for content in &typed.contents {
        for part in &content.parts {
            match &part.kind {
                PartKind::FunctionCall { function_call: call } => {
                    calls.push((call.id.clone(), call.name.clone(), call.args.clone()));
                }
                PartKind::FunctionResponse {
                    function_response: answer,
                } => answers.push((answer.id.clone(), answer.name.clone(), answer.response.clone())),
                _ => {}
            }
        }
    }
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        calls,
        [
            (
                some("call_1"),
                some("get_rates"),
                Some(json!({"years": 30, "kind": "fixed"}))
            ),
            (
                some("call_2"),
                some("get_rates"),
                Some(json!({"years": 30, "kind": "variable"}))
            ),
        ]
    );
    // The second answer has no `name`: it is the name of the call its id answers. A result that
    // is not a JSON object goes in `output`.
    assert_eq!(
        answers,
        [
            (some("call_1"), some("get_rates"), Some(json!({"fixed": 4.1}))),
            (some("call_2"), some("get_rates"), Some(json!({"output": "3.9"}))),
        ]
    );
}

const LANGCHAIN_CHECK: &str = r#"
import json, sys
from langchain_core.messages import messages_from_dict, messages_to_dict
payload = json.load(sys.stdin)
messages = messages_from_dict(payload)
out = [{"type": type(m).__name__, "content": m.content, "name": m.name,
        "tool_call_id": getattr(m, "tool_call_id", None),
        "tool_calls": getattr(m, "tool_calls", None)} for m in messages]
again = messages_from_dict(messages_to_dict(messages))
assert again == messages, "round trip through messages_to_dict changed the messages"
print(json.dumps(out))
"#;

#[test]
fn langchain_payloads_load_with_messages_from_dict() {
    use std::process::Command;

    let probe = Command::new("python3").args(["-c", "import langchain_core"]).output();
    if !matches!(&probe, Ok(o) if o.status.success()) {
        let why = "python3 with langchain-core is not available (pip install langchain-core)";
        if std::env::var_os("PROMPT_MANAGER_REQUIRE_LANGCHAIN").is_some() {
            panic!("{why}");
        }
        eprintln!("skipped: {why}");
        return;
    }
    for prompt in prompts(true) {
        let body = render("langchain", &prompt);
        let out = support::python(&["-c".as_ref(), LANGCHAIN_CHECK.as_ref()], &body.to_string());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let loaded: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
        let expected: Vec<Value> = match &prompt.output {
            RenderOutput::Text(t) => {
                vec![
                    json!({"type": "HumanMessage", "content": t, "name": null, "tool_call_id": null, "tool_calls": null}),
                ]
            }
            RenderOutput::Messages(ms) => ms
                .iter()
                .map(|m| {
                    let class = match m.role {
                        Role::System => "SystemMessage",
                        Role::User => "HumanMessage",
                        Role::Assistant => "AIMessage",
                        Role::Tool => "ToolMessage",
                        Role::Function => "FunctionMessage",
                    };
                    let (name, id) = match (m.role, &m.tool_call_id) {
                        (Role::Tool, Some(id)) => (m.name.clone(), Some(id.clone())),
                        // Older prompts kept a tool message's call id in `name`.
                        (Role::Tool, None) => (None, m.name.clone()),
                        _ => (m.name.clone(), None),
                    };
                    // LangChain's AIMessage always has a list of calls; other messages none.
                    let calls = (m.role == Role::Assistant).then(|| {
                        m.tool_calls
                            .iter()
                            .map(|c| json!({"name": c.name, "args": c.arguments, "id": c.id, "type": "tool_call"}))
                            .collect::<Vec<_>>()
                    });
                    json!({"type": class, "content": m.content, "name": name, "tool_call_id": id, "tool_calls": calls})
                })
                .collect(),
        };
        assert_eq!(loaded, expected);
    }
}

#[test]
fn the_proofs_catch_fields_the_clients_do_not_know() {
    use async_openai::types::chat::CreateChatCompletionRequest;
    use rust_genai_types::models::GenerateContentRequest;

    let mut openai = render("openai", &complex_prompt());
    openai["stop_sequences"] = json!(["x"]);
    let typed: CreateChatCompletionRequest = serde_json::from_value(openai.clone()).expect("reads");
    assert_ne!(
        written(&typed),
        openai,
        "an unknown OpenAI field must not survive the round trip"
    );

    let mut gemini = render("gemini", &complex_prompt());
    gemini["generationConfig"]["max_tokens"] = json!(5);
    let typed: GenerateContentRequest = serde_json::from_value(gemini.clone()).expect("reads");
    assert_ne!(
        written(&typed),
        gemini,
        "an unknown Gemini field must not survive the round trip"
    );

    let mut anthropic = render("anthropic", &complex_prompt());
    anthropic["stop"] = json!(["x"]);
    assert!(serde_json::from_value::<AnthropicParts>(anthropic).is_err());
    let mut anthropic = render("anthropic", &complex_prompt());
    anthropic["messages"][0]["role"] = json!("tool");
    assert!(serde_json::from_value::<AnthropicParts>(anthropic).is_err());
}
