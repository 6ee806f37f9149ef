//! Each framework plugin's `render_for_framework` on the complex chat workload
//! (`benches/workload/complex_chat.json` with `data.json`), rendered once through `PromptManager`
//! with a model config that exercises every mapping (temperature, top_p, max_tokens, stop, a tool).
//! `plugins/render_for_framework/complex_chat/<plugin>` is the plugin alone;
//! `…/render_for/complex_chat/<plugin>` is the whole `PromptManager::render_for` call (warm).
//!
//! `cargo bench -p prompt-manager-benches --bench plugins`

#![allow(clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use prompt_manager::plugins::{
    AnthropicConfig, AnthropicPlugin, GeminiPlugin, LangChainPlugin, LiteLlmConfig, LiteLlmPlugin, OpenAiConfig,
    OpenAiPlugin,
};
use prompt_manager::{ChatItem, ChatMessage, ModelConfig, Plugin, Prompt, PromptManager, Variables};

fn workload(file: &str) -> String {
    let path = format!("{}/workload/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

fn plugins() -> Vec<Arc<dyn Plugin>> {
    let mut openai = OpenAiConfig::default();
    openai.default_model = Some("gpt-4o".into());
    let mut anthropic = AnthropicConfig::default();
    anthropic.default_model = Some("claude-sonnet-4-5".into());
    // The workload sets temperature and top_p, which Anthropic's API does not take.
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

fn bench_plugins(c: &mut Criterion) {
    let rt = runtime();
    // Without the umbrella's built-in plugins: this bench registers its own configurations.
    let pm: PromptManager = PromptManager::builder()
        .engine(Arc::new(prompt_manager::MiniJinjaEngine::new()))
        .store(Arc::new(prompt_manager::MemoryStore::new()))
        .build()
        .expect("manager");
    let messages: Vec<ChatMessage> = serde_json::from_str(&workload("complex_chat.json")).expect("messages");
    let mut prompt = Prompt::chat("bench/complex", messages.into_iter().map(ChatItem::Message)).expect("valid");
    prompt.model_config = ModelConfig {
        temperature: Some(0.5),
        top_p: Some(0.75),
        max_tokens: Some(512),
        stop: vec!["\nQ:".into()],
        tools: vec![serde_json::json!({
            "type": "function",
            "function": {
                "name": "get_rates",
                "description": "Current mortgage rates for a term",
                "parameters": {"type": "object", "properties": {"years": {"type": "integer"}}, "required": ["years"]}
            }
        })],
        ..ModelConfig::default()
    };
    let all: serde_json::Value = serde_json::from_str(&workload("data.json")).expect("valid json");
    let vars = Variables::try_from(all["complex"].clone()).expect("object");
    let reference = "bench/complex@1.0.0";
    let rendered = rt.block_on(async {
        pm.create(prompt).await.expect("create");
        for plugin in plugins() {
            pm.register_plugin(plugin, &serde_json::Value::Null)
                .await
                .expect("register");
        }
        pm.render_prompt(reference, &vars).await.expect("renders")
    });

    let mut group = c.benchmark_group("plugins/render_for_framework/complex_chat");
    for plugin in plugins() {
        plugin.validate_compatibility(&rendered).expect("compatible");
        group.bench_function(plugin.name().to_owned(), |b| {
            b.iter(|| plugin.render_for_framework(black_box(&rendered)).expect("renders"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("plugins/render_for/complex_chat");
    for plugin in plugins() {
        let name = plugin.name().to_owned();
        rt.block_on(pm.render_for(&name, reference, &vars)).expect("renders");
        group.bench_function(name.clone(), |b| {
            b.iter(|| {
                rt.block_on(pm.render_for(black_box(&name), reference, &vars))
                    .expect("renders")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_plugins);
criterion_main!(benches);
