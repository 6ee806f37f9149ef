//! The shared benchmark workload (`benches/workload/`) rendered into a `RenderedPrompt`, the
//! plugins configured for it, and a way to hand a payload to a Python reference.

#![allow(dead_code, clippy::expect_used, unreachable_pub)]

use std::sync::Arc;

use prompt_manager_core::{
    ChatMessage, ContentHash, ModelConfig, Plugin, PromptFormat, PromptId, RenderOutput, RenderedPrompt,
    semver::Version,
};
use prompt_manager_plugins::{
    AnthropicConfig, AnthropicPlugin, GeminiPlugin, LangChainPlugin, LiteLlmConfig, LiteLlmPlugin, OpenAiConfig,
    OpenAiPlugin,
};
use serde_json::{Value, json};

fn workload(file: &str) -> String {
    let path = format!("{}/../../benches/workload/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The complex chat workload's six messages, rendered with its variables by minijinja.
pub fn complex_messages() -> Vec<ChatMessage> {
    let templates: Vec<ChatMessage> = serde_json::from_str(&workload("complex_chat.json")).expect("messages");
    let data: Value = serde_json::from_str(&workload("data.json")).expect("data");
    let vars = minijinja::Value::from(minijinja::value::Serde(&data["complex"]));
    let env = minijinja::Environment::new();
    templates
        .into_iter()
        .map(|m| ChatMessage {
            content: env.render_str(&m.content, vars.clone()).expect("renders"),
            ..m
        })
        .collect()
}

pub fn weather_tool() -> Value {
    json!({
        "type": "function",
        "function": {
            "name": "get_rates",
            "description": "Current mortgage rates for a term",
            "parameters": {
                "type": "object",
                "properties": {"years": {"type": "integer"}, "kind": {"type": "string", "enum": ["fixed", "variable"]}},
                "required": ["years", "kind"],
                "additionalProperties": false
            }
        }
    })
}

/// The complex chat workload with a model config that exercises every mapped field.
pub fn complex_prompt() -> RenderedPrompt {
    RenderedPrompt {
        id: PromptId::new("bench/complex").expect("id"),
        version: Version::new(1, 0, 0),
        format: PromptFormat::Chat,
        output: RenderOutput::Messages(complex_messages()),
        model_config: ModelConfig {
            temperature: Some(0.5),
            top_p: Some(0.75),
            max_tokens: Some(512),
            stop: vec!["\nQ:".into()],
            tools: vec![weather_tool()],
            ..ModelConfig::default()
        },
        content_hash: ContentHash("0".repeat(64)),
        variant: None,
    }
}

/// The same prompt with a JSON-schema response format instead of tools.
pub fn structured_prompt() -> RenderedPrompt {
    let mut p = complex_prompt();
    p.model_config.tools.clear();
    p.model_config.response_format = Some(json!({
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {"answer": {"type": "string"}, "refer_to_advisor": {"type": "boolean"}},
                "required": ["answer", "refer_to_advisor"],
                "additionalProperties": false
            }
        }
    }));
    p
}

/// Every plugin, configured with a default model where it takes one.
pub fn plugins() -> Vec<Arc<dyn Plugin>> {
    let mut openai = OpenAiConfig::default();
    openai.default_model = Some("gpt-4o".into());
    let mut anthropic = AnthropicConfig::default();
    anthropic.default_model = Some("claude-sonnet-4-5".into());
    // The workload sets temperature and top_p, which Anthropic's Messages API no longer takes.
    anthropic.drop_unsupported = true;
    let mut litellm = LiteLlmConfig::default();
    litellm.default_model = Some("gpt-4o".into());
    litellm.default_provider = Some("openai".into());
    vec![
        Arc::new(OpenAiPlugin::with_config(openai).expect("valid")),
        Arc::new(AnthropicPlugin::with_config(anthropic).expect("valid")),
        Arc::new(GeminiPlugin::new()),
        Arc::new(LangChainPlugin::new()),
        Arc::new(LiteLlmPlugin::with_config(litellm).expect("valid")),
    ]
}

pub fn plugin(name: &str) -> Arc<dyn Plugin> {
    plugins()
        .into_iter()
        .find(|p| p.name() == name)
        .unwrap_or_else(|| panic!("no plugin {name}"))
}

pub fn render(name: &str, prompt: &RenderedPrompt) -> Value {
    let plugin = plugin(name);
    plugin.validate_compatibility(prompt).expect("compatible");
    plugin.render_for_framework(prompt).expect("renders")
}

/// Runs `python3 ARGS` with `input` on its standard input and waits for it.
pub fn python(args: &[&std::ffi::OsStr], input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writes the input");
    child.wait_with_output().expect("python3 runs")
}
