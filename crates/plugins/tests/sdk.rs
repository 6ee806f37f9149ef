//! The providers' own SDKs read every plugin's payloads: a corpus of realistic prompts is rendered
//! through every plugin and piped to `tests/sdk/check_payloads.py`, which validates each payload
//! against the official Python SDK's request types (no undeclared key at any depth) and sends it
//! with the SDK's client to a recording server on 127.0.0.1 (the body the SDK sends must equal
//! ours). Our LiteLLM routing is compared with `litellm.get_llm_provider`, and the generated
//! routing table with the pinned LiteLLM.
//!
//! The SDK versions are pinned in `tests/python/requirements.txt`. Without them the test skips
//! with a printed reason; `PROMPT_MANAGER_REQUIRE_PYTHON_SDKS=1` (set by CI) makes that a failure.

#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use std::path::PathBuf;

mod support;
use std::process::Command;
use std::sync::Arc;

use prompt_manager_core::{
    ChatMessage, ContentHash, ModelConfig, Plugin, PromptFormat, PromptId, RenderOutput, RenderedPrompt, Role,
    ToolCall, semver::Version,
};
use prompt_manager_plugins::litellm::provider_of;
use prompt_manager_plugins::{
    AnthropicConfig, AnthropicPlugin, GeminiPlugin, LangChainPlugin, LiteLlmConfig, LiteLlmPlugin, OpenAiConfig,
    OpenAiPlugin,
};
use serde_json::{Value, json};

const REQUIRE: &str = "PROMPT_MANAGER_REQUIRE_PYTHON_SDKS";
const MODULES: &str = "import openai, anthropic, google.genai, langchain_core, litellm";

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// `true` when the SDKs can be imported; otherwise prints why and skips, or fails under `REQUIRE`.
fn sdks_available() -> bool {
    let probe = Command::new("python3").args(["-c", MODULES]).output();
    if matches!(&probe, Ok(o) if o.status.success()) {
        return true;
    }
    let why = format!(
        "python3 with the providers' SDKs is not available ({}); install them with \
         `python3 -m pip install -r tests/python/requirements.txt`",
        match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_owned(),
            Err(e) => e.to_string(),
        }
    );
    if std::env::var_os(REQUIRE).is_some_and(|v| v != "0") {
        panic!("{REQUIRE} is set: {why}");
    }
    eprintln!("skipped: {why}");
    false
}

// ------------------------------------------------------------------------------------------
// The corpus
// ------------------------------------------------------------------------------------------

/// A chat item: a message template, or a placeholder filled from a variable holding messages.
enum Item {
    Msg(Role, &'static str),
    Placeholder(&'static str),
}
use Item::{Msg, Placeholder};

/// Renders chat items with minijinja over `vars`; a placeholder's messages are inserted as they
/// are (as core does), read with core's own `ChatMessage` deserializer.
fn chat(items: &[Item], vars: &Value) -> Vec<ChatMessage> {
    let env = minijinja::Environment::new();
    let ctx = minijinja::Value::from(minijinja::value::Serde(vars));
    let mut out = Vec::new();
    for item in items {
        match item {
            Msg(role, template) => out.push(ChatMessage::new(
                *role,
                env.render_str(template, ctx.clone()).expect("renders"),
            )),
            Placeholder(var) => {
                let history: Vec<ChatMessage> = serde_json::from_value(vars[*var].clone()).expect("messages");
                out.extend(history);
            }
        }
    }
    out
}

fn prompt(id: &str, output: RenderOutput, model_config: ModelConfig) -> RenderedPrompt {
    RenderedPrompt {
        id: PromptId::new(id).expect("id"),
        version: Version::new(1, 0, 0),
        format: match output {
            RenderOutput::Text(_) => PromptFormat::Text,
            RenderOutput::Messages(_) => PromptFormat::Chat,
        },
        output,
        model_config,
        content_hash: ContentHash("0".repeat(64)),
        variant: None,
    }
}

fn tool(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({"type": "function", "function": {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required, "additionalProperties": false}
    }})
}

fn weather_tool() -> Value {
    tool(
        "get_weather",
        "Current weather for a city",
        json!({"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}}),
        &["city", "unit"],
    )
}

fn search_tool() -> Value {
    tool(
        "search_kb",
        "Search the knowledge base",
        json!({"query": {"type": "string"}, "top_k": {"type": "integer", "minimum": 1}}),
        &["query", "top_k"],
    )
}

fn full_config() -> ModelConfig {
    ModelConfig {
        temperature: Some(0.2),
        top_p: Some(0.9),
        max_tokens: Some(800),
        stop: vec!["\nObservation:".into(), "</answer>".into()],
        ..ModelConfig::default()
    }
}

/// A dozen and more prompts of the shapes prompt engineers write.
fn corpus() -> Vec<(&'static str, RenderedPrompt)> {
    let mut out = Vec::new();

    // Text prompts.
    let text = "Summarise the following support ticket in two sentences:\n\n{{ ticket }}";
    let env = minijinja::Environment::new();
    let rendered = env
        .render_str(
            text,
            minijinja::context! { ticket => "My card was charged twice for order #1182. Äpfel, 🍎." },
        )
        .expect("renders");
    out.push((
        "text_plain",
        prompt(
            "summarise",
            RenderOutput::Text(rendered.clone()),
            ModelConfig::default(),
        ),
    ));
    out.push((
        "text_full_config",
        prompt("summarise", RenderOutput::Text(rendered), full_config()),
    ));

    // Chat with a system message, and with two.
    let vars = json!({"company": "Acme", "question": "Where is my order?", "tone": "friendly"});
    let sys = chat(
        &[
            Msg(Role::System, "You are {{ company }}'s support agent. Be {{ tone }}."),
            Msg(Role::User, "{{ question }}"),
        ],
        &vars,
    );
    out.push((
        "chat_system",
        prompt("support/triage", RenderOutput::Messages(sys), full_config()),
    ));
    let two = chat(
        &[
            Msg(Role::System, "You are {{ company }}'s support agent."),
            Msg(Role::System, "Answer in a {{ tone }} tone; never promise refunds."),
            Msg(Role::User, "{{ question }}"),
        ],
        &vars,
    );
    out.push((
        "chat_two_system",
        prompt(
            "support/strict",
            RenderOutput::Messages(two),
            ModelConfig {
                max_tokens: Some(300),
                ..ModelConfig::default()
            },
        ),
    ));

    // Few-shot, with consecutive user messages (RAG context then the question).
    let vars = json!({
        "examples": [{"q": "2+2", "a": "4"}, {"q": "3*3", "a": "9"}],
        "docs": ["Refunds take 5 days.", "Orders ship in 48h."],
        "question": "How long do refunds take?"
    });
    let few = chat(
        &[
            Msg(Role::System, "Answer with a number only."),
            Msg(Role::User, "{{ examples[0].q }}"),
            Msg(Role::Assistant, "{{ examples[0].a }}"),
            Msg(Role::User, "{{ examples[1].q }}"),
            Msg(Role::Assistant, "{{ examples[1].a }}"),
            Msg(Role::User, "Context:\n{% for d in docs %}- {{ d }}\n{% endfor %}"),
            Msg(Role::User, "{{ question }}"),
        ],
        &vars,
    );
    out.push((
        "chat_few_shot_rag",
        prompt(
            "qa/few-shot",
            RenderOutput::Messages(few),
            ModelConfig {
                temperature: Some(0.0),
                max_tokens: Some(16),
                stop: vec!["\n".into()],
                ..ModelConfig::default()
            },
        ),
    ));

    // A message placeholder holding the conversation so far (a transcript with names).
    let vars = json!({
        "history": [
            {"role": "user", "content": "Hi, I'm Ada.", "name": "ada"},
            {"role": "assistant", "content": "Hello Ada! How can I help?"},
            {"role": "user", "content": "My parcel is late.", "name": "ada"},
            {"role": "assistant", "content": "Sorry to hear that. What's the order number?"}
        ],
        "input": "It's #1182."
    });
    let placeholder = chat(
        &[
            Msg(Role::System, "You are a courteous assistant."),
            Placeholder("history"),
            Msg(Role::User, "{{ input }}"),
        ],
        &vars,
    );
    out.push((
        "chat_placeholder",
        prompt("agent/chat", RenderOutput::Messages(placeholder), full_config()),
    ));

    // Tools: the assistant calls one, the result comes back as JSON, the assistant answers.
    let vars = json!({
        "history": [
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_w1", "name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}
            ]},
            {"role": "tool", "content": "{\"temp\": 21, \"sky\": \"clear\"}", "tool_call_id": "call_w1", "name": "get_weather"}
        ]
    });
    let tools = chat(
        &[Msg(Role::System, "Use tools when needed."), Placeholder("history")],
        &vars,
    );
    out.push((
        "chat_tool_call_and_result",
        prompt(
            "agent/weather",
            RenderOutput::Messages(tools),
            ModelConfig {
                tools: vec![weather_tool()],
                extra: [("tool_choice".to_owned(), json!("auto"))].into(),
                ..full_config()
            },
        ),
    ));

    // Parallel tool calls (two calls in one assistant turn, two results), text before the calls.
    let parallel = vec![
        ChatMessage::new(Role::System, "You compare cities."),
        ChatMessage::new(Role::User, "Weather in Paris and Oslo?"),
        ChatMessage::new(Role::Assistant, "Let me check both.").with_tool_calls([
            ToolCall::new("call_p1", "get_weather", json!({"city": "Paris", "unit": "c"})),
            ToolCall::new("call_p2", "get_weather", json!({"city": "Oslo", "unit": "c"})),
        ]),
        ChatMessage::tool_result("call_p1", "{\"temp\": 21}"),
        ChatMessage::tool_result("call_p2", "{\"temp\": 4}"),
        ChatMessage::new(Role::User, "Which is warmer?"),
    ];
    out.push((
        "chat_parallel_tool_calls",
        prompt(
            "agent/compare",
            RenderOutput::Messages(parallel),
            ModelConfig {
                max_tokens: Some(400),
                tools: vec![weather_tool(), search_tool()],
                extra: [
                    ("tool_choice".to_owned(), json!("required")),
                    ("parallel_tool_calls".to_owned(), json!(true)),
                ]
                .into(),
                ..ModelConfig::default()
            },
        ),
    ));

    // Tool results that are not JSON (plain text, a number, an empty string), and a named tool choice.
    let non_json = vec![
        ChatMessage::new(Role::User, "Search for the refund policy and count the hits."),
        ChatMessage::new(Role::Assistant, "").with_tool_calls([ToolCall::new(
            "call_s1",
            "search_kb",
            json!({"query": "refund policy", "top_k": 3}),
        )]),
        ChatMessage::tool_result("call_s1", "Refunds are issued within 5 business days.\nSee §4."),
        ChatMessage::new(Role::Assistant, "").with_tool_calls([ToolCall::new(
            "call_s2",
            "search_kb",
            json!({"query": "refund count", "top_k": 1}),
        )]),
        ChatMessage::tool_result("call_s2", "42"),
        ChatMessage::new(Role::Assistant, "There are 42 hits; refunds take 5 business days."),
        ChatMessage::new(Role::User, "Thanks!"),
    ];
    out.push((
        "chat_non_json_tool_results",
        prompt(
            "kb/search",
            RenderOutput::Messages(non_json),
            ModelConfig {
                tools: vec![search_tool()],
                extra: [(
                    "tool_choice".to_owned(),
                    json!({"type": "function", "function": {"name": "search_kb"}}),
                )]
                .into(),
                ..full_config()
            },
        ),
    ));

    // Structured output: a JSON schema, and plain JSON mode.
    let extract = chat(
        &[
            Msg(Role::System, "Extract the fields as JSON."),
            Msg(Role::User, "Order #1182, 2 items, total 35.50 EUR"),
        ],
        &json!({}),
    );
    let schema = json!({
        "type": "object",
        "properties": {
            "order": {"type": "string"},
            "items": {"type": "integer"},
            "total": {"type": "object", "properties": {"amount": {"type": "number"}, "currency": {"type": "string"}},
                      "required": ["amount", "currency"], "additionalProperties": false}
        },
        "required": ["order", "items", "total"],
        "additionalProperties": false
    });
    out.push((
        "chat_json_schema",
        prompt(
            "extract/order",
            RenderOutput::Messages(extract.clone()),
            ModelConfig {
                response_format: Some(
                    json!({"type": "json_schema", "json_schema": {"name": "order", "strict": true, "schema": schema}}),
                ),
                ..full_config()
            },
        ),
    ));
    out.push((
        "chat_json_object",
        prompt(
            "extract/loose",
            RenderOutput::Messages(extract.clone()),
            ModelConfig {
                max_tokens: Some(200),
                response_format: Some(json!({"type": "json_object"})),
                ..ModelConfig::default()
            },
        ),
    ));
    out.push((
        "chat_response_text",
        prompt(
            "extract/text",
            RenderOutput::Messages(extract),
            ModelConfig {
                max_tokens: Some(200),
                response_format: Some(json!({"type": "text"})),
                extra: [("seed".to_owned(), json!(7)), ("user".to_owned(), json!("u-1"))].into(),
                ..ModelConfig::default()
            },
        ),
    ));

    // A tool without parameters, an assistant prefill at the end.
    let prefill = chat(
        &[
            Msg(Role::User, "Write a haiku about {{ topic }}."),
            Msg(Role::Assistant, "Here is the haiku:"),
        ],
        &json!({"topic": "autumn"}),
    );
    out.push((
        "chat_prefill_bare_tool",
        prompt(
            "write/haiku",
            RenderOutput::Messages(prefill),
            ModelConfig {
                max_tokens: Some(100),
                tools: vec![json!({"name": "get_time", "description": "The current time"})],
                ..ModelConfig::default()
            },
        ),
    ));

    // Legacy shapes: a tool message whose call id is in `name`, a function message.
    let mut legacy_tool = ChatMessage::new(Role::Tool, "sunny");
    legacy_tool.name = Some("call_l1".into());
    let mut function = ChatMessage::new(Role::Function, "4.1");
    function.name = Some("get_rates".into());
    let legacy = vec![
        ChatMessage::new(Role::User, "Rates?"),
        ChatMessage::new(Role::Assistant, "").with_tool_calls([ToolCall::new(
            "call_l1",
            "get_weather",
            json!({"city": "Rome", "unit": "c"}),
        )]),
        legacy_tool,
        function,
        ChatMessage::new(Role::User, "And now?"),
    ];
    out.push((
        "chat_legacy_tool_and_function",
        prompt(
            "legacy/rates",
            RenderOutput::Messages(legacy),
            ModelConfig {
                max_tokens: Some(100),
                ..ModelConfig::default()
            },
        ),
    ));
    out
}

/// Prompts a plugin refuses by design, with what the refusal must say.
const REFUSED: &[(&str, &str, &str)] = &[
    ("chat_json_object", "anthropic", "json_object"),
    ("chat_legacy_tool_and_function", "anthropic", "function role"),
    ("chat_legacy_tool_and_function", "gemini", "function role"),
    ("chat_legacy_tool_and_function", "litellm", "function message"),
];

/// Every plugin as a user would configure it for prompts shared between providers, and the model
/// each is given. LiteLLM renders each prompt once per model: bare names it routes to OpenAI and
/// to Anthropic, and `provider/model` names.
fn plugins() -> Vec<(&'static str, Option<&'static str>, Arc<dyn Plugin>)> {
    let anthropic = {
        let mut c = AnthropicConfig::default();
        c.default_max_tokens = Some(1024);
        c.drop_unsupported = true;
        c
    };
    let litellm = {
        let mut c = LiteLlmConfig::default();
        c.drop_unsupported = true;
        c
    };
    let litellm = Arc::new(LiteLlmPlugin::with_config(litellm).expect("valid"));
    vec![
        (
            "openai",
            Some("gpt-4o"),
            Arc::new(OpenAiPlugin::with_config(OpenAiConfig::default()).expect("valid")) as Arc<dyn Plugin>,
        ),
        (
            "anthropic",
            Some("claude-sonnet-4-5"),
            Arc::new(AnthropicPlugin::with_config(anthropic).expect("valid")),
        ),
        ("gemini", Some("gemini-2.5-flash"), Arc::new(GeminiPlugin::new())),
        ("langchain", None, Arc::new(LangChainPlugin::new())),
        ("litellm", Some("gpt-4o"), litellm.clone()),
        ("litellm", Some("claude-sonnet-4-5"), litellm.clone()),
        ("litellm", Some("openai/gpt-4.1-mini"), litellm.clone()),
        ("litellm", Some("anthropic/claude-haiku-4-5"), litellm),
    ]
}

/// Model names whose routing must agree with `litellm.get_llm_provider`.
const ROUTED: &[&str] = &[
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5",
    "gpt-5-mini",
    "o1",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-3.5-turbo",
    "gpt-4-turbo",
    "gpt-image-1",
    "ft:gpt-4o-mini:acme::abc123",
    "ft:gpt-3.5-turbo:acme::x",
    "text-embedding-3-small",
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "claude-sonnet-4-20250514",
    "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-20241022",
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-2.0-flash",
    "command-r",
    "command-r-plus",
    "command-a-03-2025",
    "mistral-large-latest",
    "deepseek-chat",
    "llama3",
    "grok-3",
    "chatgpt-4o-latest",
    "amazon.nova-pro-v1:0",
    "anthropic.claude-3-5-sonnet-20240620-v1:0",
    "us.anthropic.claude-sonnet-4-20250514-v1:0",
    "j2-ultra",
    "my-finetune",
    "",
    "openai/gpt-4o",
    "anthropic/claude-sonnet-4-5",
    "gemini/gemini-2.5-flash",
    "vertex_ai/gemini-2.5-pro",
    "groq/llama-3.1-8b-instant",
    "mistral/mistral-large-latest",
    "deepseek/deepseek-chat",
    "openrouter/anthropic/claude-3.5-sonnet",
    "ollama/llama3",
    "ollama_chat/llama3.1",
    "azure/my-deployment",
    "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
    "together_ai/meta-llama/Llama-3-70b-chat-hf",
    "xai/grok-3",
    "hosted_vllm/qwen",
    "huggingface/bigcode/starcoder",
    "meta-llama/Llama-3-8b",
    "acme/model",
    "openai_like/x",
];

/// Runs the checker on `input`; its exit status and JSON summary.
fn run_checker(input: &Value) -> (bool, Value, String) {
    let script = sdk_dir().join("check_payloads.py");
    let out = support::python(&[script.as_os_str()], &input.to_string());
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    let summary = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON summary ({e}):\n{}", String::from_utf8_lossy(&out.stderr)));
    (
        out.status.success(),
        summary,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn payloads_are_what_the_providers_sdks_send() {
    if !sdks_available() {
        return;
    }
    let mut cases = Vec::new();
    let mut refused = Vec::new();
    for (case_name, base) in corpus() {
        for (plugin_name, model, plugin) in plugins() {
            let mut prompt = base.clone();
            prompt.model_config.model = model.map(str::to_owned);
            let label = match (plugin_name, model) {
                ("litellm", Some(m)) => format!("{case_name} ({m})"),
                _ => case_name.to_owned(),
            };
            let payload = plugin
                .validate_compatibility(&prompt)
                .and_then(|()| plugin.render_for_framework(&prompt));
            match payload {
                Ok(payload) => {
                    cases.push(json!({"plugin": plugin_name, "case_name": label, "payload": payload, "model": model}))
                }
                Err(e) => {
                    let expected = REFUSED
                        .iter()
                        .find(|(c, p, _)| *c == case_name && *p == plugin_name)
                        .unwrap_or_else(|| panic!("{plugin_name} refused {label}: {e}"));
                    assert!(e.to_string().contains(expected.2), "{plugin_name} / {label}: {e}");
                    refused.push((case_name, plugin_name));
                }
            }
        }
    }
    refused.dedup();
    assert_eq!(
        refused.len(),
        REFUSED.len(),
        "every expected refusal happens: {refused:?}"
    );
    let routes: Vec<Value> = ROUTED
        .iter()
        .map(|m| json!({"model": m, "provider": provider_of(m)}))
        .collect();
    let input = json!({"cases": cases, "litellm_routes": routes});
    let (ok, summary, stderr) = run_checker(&input);
    assert!(ok, "the SDKs disagree with our payloads:\n{stderr}");
    for (sdk, counts) in summary["accepted"].as_object().expect("counts") {
        assert_eq!(counts["accepted"], counts["total"], "{sdk}");
        assert!(
            counts["total"].as_u64() >= Some(10),
            "{sdk} saw too few payloads: {counts}"
        );
    }
}

/// The checker is only worth its green if it goes red: payloads with a key the SDK does not
/// declare (at the top and deep inside), a wrong type, or a wrong route must each fail.
#[test]
fn the_check_fails_what_the_sdks_refuse() {
    if !sdks_available() {
        return;
    }
    let (plugins, base) = (plugins(), corpus().remove(6).1);
    let render = |name: &str, model: &str| {
        let (_, _, plugin) = plugins
            .iter()
            .find(|(n, m, _)| *n == name && m.is_none_or(|m| m == model))
            .expect("plugin");
        let mut p = base.clone();
        p.model_config.model = Some(model.to_owned());
        plugin.render_for_framework(&p).expect("renders")
    };
    let mut bad = Vec::new();
    let mut case = |plugin: &str, name: &str, model: &str, change: &dyn Fn(&mut Value)| {
        let mut payload = render(plugin, model);
        change(&mut payload);
        bad.push(json!({"plugin": plugin, "case_name": name, "payload": payload, "model": model}));
    };
    case("openai", "stop_sequences", "gpt-4o", &|p| {
        p["stop_sequences"] = json!(["x"])
    });
    case("openai", "deep key", "gpt-4o", &|p| {
        p["tools"][0]["function"]["schema"] = json!({})
    });
    case("anthropic", "temperature", "claude-sonnet-4-5", &|p| {
        p["temperature"] = json!(0.2)
    });
    case("anthropic", "tool role", "claude-sonnet-4-5", &|p| {
        p["messages"][0]["role"] = json!("tool")
    });
    case("gemini", "snake case", "gemini-2.5-flash", &|p| {
        p["generationConfig"]["max_tokens"] = json!(5)
    });
    case("gemini", "deep key", "gemini-2.5-flash", &|p| {
        p["contents"][0]["parts"][0]["txt"] = json!("x")
    });
    case("langchain", "unknown field", "", &|p| p[0]["data"]["bogus"] = json!(1));
    case("langchain", "wrong type", "", &|p| p[1]["type"] = json!("robot"));
    case("litellm", "top_k", "gpt-4o", &|p| p["top_k"] = json!(3));
    case("litellm", "user name", "gpt-4o", &|p| {
        p["messages"][1]["name"] = json!("ada")
    });
    let n = bad.len();
    let routes = json!([{"model": "gpt-4o", "provider": "anthropic"}]);
    let (ok, summary, _) = run_checker(&json!({"cases": bad, "litellm_routes": routes}));
    assert!(!ok, "the checker passed payloads the SDKs refuse");
    let failed = summary["failed"].as_array().expect("failures");
    assert_eq!(
        failed.len(),
        n + 1,
        "every bad case and the bad route fail: {failed:#?}"
    );
}

#[test]
fn litellm_routing_table_is_the_pinned_litellms() {
    if !sdks_available() {
        return;
    }
    let table = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/litellm_routes.rs");
    let out = Command::new("python3")
        .arg(sdk_dir().join("litellm_routes.py"))
        .arg("--check")
        .arg(&table)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
