//! Golden (insta) snapshots of every plugin's payload for the shared complex chat workload
//! (`benches/workload/complex_chat.json` rendered with `data.json`), with tools, and with a JSON
//! schema response format.

#![allow(clippy::expect_used, missing_docs)]

mod support;

use support::{complex_prompt, render, structured_prompt};

/// Snapshots with sorted keys, so they do not depend on whether serde_json keeps insertion order.
fn snapshot(name: &str, value: &serde_json::Value) {
    insta::with_settings!({sort_maps => true}, {
        insta::assert_json_snapshot!(name, value);
    });
}

#[test]
fn complex_chat_with_tools() {
    let prompt = complex_prompt();
    for name in ["openai", "anthropic", "gemini", "langchain", "litellm"] {
        snapshot(&format!("complex_chat_{name}"), &render(name, &prompt));
    }
}

#[test]
fn complex_chat_with_json_schema() {
    let prompt = structured_prompt();
    for name in ["openai", "anthropic", "gemini", "litellm"] {
        snapshot(&format!("structured_{name}"), &render(name, &prompt));
    }
}

#[test]
fn workload_renders_as_the_readme_says() {
    let messages = support::complex_messages();
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user", "assistant", "user"]);
    assert!(messages[0].content.contains("Q: What is example question number 10"));
    assert!(messages[0].content.contains("Follow this policy strictly"));
}
