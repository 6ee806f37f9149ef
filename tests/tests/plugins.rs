//! `render_for` through the umbrella: the framework plugins the build enables are registered by
//! `builder()`, render a prompt by reference into each framework's request body, and refuse
//! what the framework cannot take with an error naming the message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager::{ChatItem, ChatMessage, Error, ModelConfig, Prompt, Role, Variables};
use serde_json::json;

async fn manager() -> prompt_manager::PromptManager {
    let pm = prompt_manager::in_memory();
    let prompt = Prompt::chat(
        "support/triage",
        [
            ChatItem::message(Role::System, "You triage tickets for {{ product }}."),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{ ticket }}"),
        ],
    )
    .unwrap()
    .with_model_config(ModelConfig {
        model: Some("gpt-4o-mini".into()),
        temperature: Some(0.2),
        max_tokens: Some(256),
        stop: vec!["END".into()],
        ..ModelConfig::default()
    });
    pm.create(prompt).await.unwrap();
    pm.set_label("support/triage", "production", "1.0.0").await.unwrap();
    pm
}

fn vars() -> Variables {
    let history = vec![
        ChatMessage::new(Role::User, "Hi"),
        ChatMessage::new(Role::User, "Anyone there?"),
        ChatMessage::new(Role::Assistant, "Yes, how can I help?"),
    ];
    Variables::new()
        .with("product", "Acme")
        .with("ticket", "My invoice is wrong")
        .with("history", serde_json::to_value(history).unwrap())
}

#[tokio::test]
async fn every_builtin_plugin_is_registered() {
    let pm = manager().await;
    assert_eq!(
        pm.plugin_names(),
        ["anthropic", "gemini", "langchain", "litellm", "openai"]
    );
}

#[tokio::test]
async fn payloads_by_reference() {
    let pm = manager().await;
    let reference = "support/triage@production";

    let openai = pm.render_for("openai", reference, &vars()).await.unwrap();
    assert_eq!(openai["model"], "gpt-4o-mini");
    assert_eq!(
        openai["messages"][0],
        json!({"role": "system", "content": "You triage tickets for Acme."})
    );
    assert_eq!(openai["messages"].as_array().unwrap().len(), 5);
    assert_eq!(openai["temperature"], 0.2);
    assert_eq!(openai["stop"], json!(["END"]));

    // Anthropic's current API takes no `temperature`: refused by default, naming the key.
    let refused = pm.render_for("anthropic", reference, &vars()).await.unwrap_err();
    assert!(refused.to_string().contains("model_config.temperature"), "{refused}");
    let mut claude = pm.get("support/triage@production").await.unwrap().prompt.clone();
    claude.model_config.temperature = None;
    pm.update(claude, prompt_manager::Bump::Minor, "no temperature for Claude")
        .await
        .unwrap();
    let anthropic = pm.render_for("anthropic", "support/triage", &vars()).await.unwrap();
    assert_eq!(anthropic["system"], "You triage tickets for Acme.");
    assert_eq!(anthropic["max_tokens"], 256);
    assert_eq!(anthropic["stop_sequences"], json!(["END"]));
    let turns = anthropic["messages"].as_array().unwrap();
    // "Hi" and "Anyone there?" are one user turn; the assistant's; the ticket.
    assert_eq!(turns.len(), 3, "{anthropic}");
    assert_eq!(turns[0]["role"], "user");

    let gemini = pm.render_for("gemini", reference, &vars()).await.unwrap();
    assert_eq!(
        gemini["systemInstruction"]["parts"][0]["text"],
        "You triage tickets for Acme."
    );
    assert_eq!(gemini["contents"][1]["role"], "model");
    assert_eq!(gemini["generationConfig"]["maxOutputTokens"], 256);

    let langchain = pm.render_for("langchain", reference, &vars()).await.unwrap();
    assert_eq!(langchain[0]["type"], "system");
    assert_eq!(
        langchain[4],
        json!({"type": "human", "data": {"content": "My invoice is wrong"}})
    );

    // LiteLLM routes a bare model name as LiteLLM itself does (`gpt-4o-mini` is OpenAI's).
    let litellm = pm.render_for("litellm", reference, &vars()).await.unwrap();
    assert_eq!(litellm["model"], "gpt-4o-mini", "{litellm}");
    assert_eq!(litellm["temperature"], 0.2);
    // A name LiteLLM cannot route is refused, saying how to fix it.
    let mut unknown = pm.get(reference).await.unwrap().prompt.clone();
    unknown.model_config.model = Some("acme/x".into());
    pm.update(unknown, prompt_manager::Bump::Minor, "unroutable")
        .await
        .unwrap();
    let err = pm.render_for("litellm", "support/triage", &vars()).await.unwrap_err();
    assert!(matches!(err, Error::Plugin { .. }), "{err:?}");
    assert!(err.to_string().contains("provider"), "{err}");
}

#[tokio::test]
async fn incompatible_prompts_name_the_message() {
    let pm = manager().await;
    let prompt = Prompt::chat(
        "agent/step",
        [
            ChatItem::message(Role::User, "What is the weather?"),
            ChatItem::message(Role::Function, "{\"temp\": 21}"),
        ],
    )
    .unwrap()
    .with_model_config(ModelConfig {
        max_tokens: Some(100),
        ..ModelConfig::default()
    });
    pm.create(prompt).await.unwrap();
    let err = pm
        .render_for("anthropic", "agent/step", &Variables::new())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("message 2"), "{message}");
    assert!(message.contains("function"), "{message}");

    let err = pm
        .render_for("nope", "agent/step", &Variables::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no plugin named `nope`"), "{err}");
}
