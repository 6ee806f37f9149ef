//! Snapshots of rendered prompts (the shared benchmark workload) and of a diff, as users see them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use prompt_manager::{Bump, ChatMessage, Prompt, Variables, VersioningExt};

fn workload(file: &str) -> String {
    let path = format!("{}/../benches/workload/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn data(key: &str) -> Variables {
    let all: serde_json::Value = serde_json::from_str(&workload("data.json")).expect("valid json");
    Variables::try_from(all[key].clone()).expect("an object")
}

#[tokio::test]
async fn simple_text_workload() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("bench/simple", workload("simple.j2")).unwrap())
        .await
        .unwrap();
    pm.set_label("bench/simple", "production", "1.0.0").await.unwrap();
    let text = pm.render("bench/simple@production", &data("simple")).await.unwrap();
    assert_eq!(text.len(), 252, "the workload says 252 characters out");
    insta::assert_snapshot!(text);
}

#[tokio::test]
async fn complex_chat_workload() {
    let pm = prompt_manager::in_memory();
    let messages: Vec<ChatMessage> = serde_json::from_str(&workload("complex_chat.json")).expect("messages");
    let prompt = Prompt::chat(
        "bench/complex",
        messages.into_iter().map(prompt_manager::ChatItem::Message),
    )
    .unwrap();
    pm.create(prompt).await.unwrap();
    let rendered = pm.render_chat("bench/complex", &data("complex")).await.unwrap();
    assert_eq!(rendered.len(), 6);
    insta::assert_yaml_snapshot!(rendered);
}

#[tokio::test]
async fn complex_text_workload() {
    let pm = prompt_manager::in_memory();
    pm.create(Prompt::text("bench/complex-text", workload("complex.j2")).unwrap())
        .await
        .unwrap();
    let text = pm.render("bench/complex-text", &data("complex")).await.unwrap();
    insta::assert_snapshot!(text);
}

#[tokio::test]
async fn diff_of_two_chat_versions() {
    let pm = prompt_manager::in_memory();
    let v1: Prompt = serde_yaml_ng::from_str(
        r#"
id: support/triage
template:
  - role: system
    content: "You triage tickets for {{ product }}."
  - role: user
    content: "{{ ticket }}"
model_config:
  model: gpt-4o-mini
  temperature: 0.2
"#,
    )
    .unwrap();
    let v2: Prompt = serde_yaml_ng::from_str(
        r#"
id: support/triage
template:
  - role: system
    content: "You triage support tickets for {{ product }}. Be {{ tone }}."
  - placeholder: history
  - role: user
    content: "{{ ticket }}"
model_config:
  model: gpt-4o-mini
  temperature: 0.7
input_schema:
  - name: tone
    type: string
    default: calm
"#,
    )
    .unwrap();
    pm.create(v1).await.unwrap();
    pm.update(v2, Bump::Major, "tone and history").await.unwrap();
    let diff = pm.diff("support/triage@1.0.0", "support/triage@2.0.0").await.unwrap();
    insta::assert_snapshot!(diff.to_string());
}
