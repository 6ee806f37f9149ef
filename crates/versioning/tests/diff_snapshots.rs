//! Snapshot tests of the rendered and serialized diff for the typical kinds of edit, with the bump
//! and changelog each one suggests asserted directly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    Bump, ChatItem, ModelConfig, Prompt, PromptFormat, PromptVersion, Role, VariableSpec, VariableType,
};
use prompt_manager_template::MiniJinjaEngine;
use prompt_manager_versioning::{
    PromptDiff, VariableSource, changelog_draft, diff_versions_with_variables, suggest, suggest_bump,
};
use serde_json::json;

fn version(prompt: Prompt, v: &str) -> PromptVersion {
    let version: Version = v.parse().expect("semver");
    PromptVersion {
        content_hash: prompt.content_hash(),
        prompt,
        version,
        changelog: String::new(),
        author: None,
        created_at: Default::default(),
        parent: None,
    }
}

/// The diff with the variables the minijinja engine reads.
fn diff(old: &PromptVersion, new: &PromptVersion) -> PromptDiff {
    prompt_manager_versioning::diff(&prompt_manager_core::Engines::from(MiniJinjaEngine::new()), old, new)
        .expect("templates parse")
}

fn vars(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn check_serializes(d: &PromptDiff) {
    let value = serde_json::to_value(d).expect("serializes");
    assert!(value.is_object());
}

#[test]
fn text_wording_change() {
    let old = Prompt::text(
        "greeting",
        "Hello {{ name }}! Welcome to {{ product }}.\nKeep it short.\nSign as {{ bot }}.",
    )
    .expect("valid");
    let new = Prompt::text(
        "greeting",
        "Hi {{ name }}, welcome to {{ product }}!\nKeep it short.\nSign as {{ bot }}.",
    )
    .expect("valid");
    let d = diff(&version(old, "1.0.0"), &version(new, "1.1.0"));

    assert_eq!(suggest_bump(&d), Bump::Minor);
    assert_eq!(suggest(&d).reasons, ["changed wording of the template"]);
    assert_eq!(changelog_draft(&d), "Changed wording of the template");
    check_serializes(&d);
    insta::assert_snapshot!("text_wording_change", d.to_string());
    insta::assert_json_snapshot!("text_wording_change_json", d);
}

#[test]
fn whitespace_only_change() {
    let old = Prompt::text("greeting", "Hello {{ name }}!\nBe brief.").expect("valid");
    let new = Prompt::text("greeting", "Hello  {{ name }}!\n\nBe brief.\n").expect("valid");
    let d = diff(&version(old, "1.1.0"), &version(new, "1.1.1"));

    assert_eq!(suggest_bump(&d), Bump::Patch);
    assert_eq!(suggest(&d).reasons, ["changed whitespace in the template"]);
    assert_eq!(changelog_draft(&d), "Changed whitespace in the template");
    insta::assert_snapshot!("whitespace_only_change", d.to_string());
    insta::assert_json_snapshot!("whitespace_only_change_json", d);
}

#[test]
fn chat_system_change_added_message_and_placeholder() {
    let old = Prompt::chat(
        "support/triage",
        [
            ChatItem::message(Role::System, "You triage tickets for {{ product }}.\nBe precise."),
            ChatItem::message(Role::User, "{{ ticket }}"),
        ],
    )
    .expect("valid");
    let new = Prompt::chat(
        "support/triage",
        [
            ChatItem::message(
                Role::System,
                "You triage tickets for {{ product }}.\nBe precise.\nAnswer in {{ language }}.",
            ),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{ ticket }}"),
            ChatItem::message(Role::User, "Reply with a JSON object."),
        ],
    )
    .expect("valid");
    // As the template engine would report them (placeholders included).
    let old_vars = vars(&["product", "ticket"]);
    let new_vars = vars(&["history", "language", "product", "ticket"]);
    let d = diff_versions_with_variables(
        &version(old.clone(), "1.0.0"),
        &version(new.clone(), "2.0.0"),
        &old_vars,
        &new_vars,
    );

    assert_eq!(suggest_bump(&d), Bump::Major);
    assert_eq!(
        suggest(&d).reasons,
        [
            "added placeholder `history`",
            "added message 4 (user)",
            "added variable `language`"
        ]
    );
    assert_eq!(
        changelog_draft(&d),
        "Changed wording of message 1 (system); added placeholder `history`; added message 4 (user); \
         added variable `language`"
    );
    // The engine finds the same variables.
    let read = diff(&version(old, "1.0.0"), &version(new, "2.0.0"));
    assert_eq!(read.variables.source, VariableSource::Engine);
    assert_eq!(read.variables.added, d.variables.added);
    assert_eq!(read.template, d.template);

    insta::assert_snapshot!("chat_system_change_added_message_and_placeholder", d.to_string());
    insta::assert_json_snapshot!("chat_system_change_added_message_and_placeholder_json", d);
}

#[test]
fn model_config_and_schema_change() {
    let template = "Summarise {{ text }} in {{ n }} points{% if tone %}, {{ tone }}{% endif %}.";
    let old = Prompt::text("summarise", template)
        .expect("valid")
        .with_model_config(ModelConfig {
            model: Some("gpt-4o".into()),
            temperature: Some(0.2),
            stop: vec!["END".into()],
            ..ModelConfig::default()
        })
        .with_variable(VariableSpec::new("text", VariableType::String))
        .with_variable(VariableSpec::new("n", VariableType::Integer))
        .with_variable(VariableSpec::new("style", VariableType::String).optional());
    let mut config = ModelConfig {
        model: Some("gpt-4.1".into()),
        temperature: Some(0.7),
        max_tokens: Some(500),
        response_format: Some(json!({"type": "json_object"})),
        ..ModelConfig::default()
    };
    config.extra.insert("seed".into(), json!(42));
    let new = Prompt::text("summarise", template)
        .expect("valid")
        .with_model_config(config)
        .with_variable(VariableSpec::new("text", VariableType::String).with_description("The text to summarise"))
        .with_variable(VariableSpec::new("n", VariableType::Number).with_default(3))
        .with_variable(VariableSpec::new("tone", VariableType::String).with_default("neutral"));
    let d = diff(&version(old, "1.4.2"), &version(new, "2.0.0"));

    assert!(
        d.template.is_none() && d.variables.is_empty(),
        "same template, same variables"
    );
    assert_eq!(suggest_bump(&d), Bump::Major);
    assert_eq!(
        suggest(&d).reasons,
        [
            "declared input `tone`",
            "removed input `style`",
            "changed input `n` (type integer → number, default unset → 3)",
        ]
    );
    assert_eq!(
        changelog_draft(&d),
        "Declared input `tone`; removed input `style`; changed description of input `text`; changed input `n` \
         (type integer → number, default unset → 3); model gpt-4o → gpt-4.1; temperature 0.2 → 0.7; \
         set max_tokens to 500; unset stop; and 2 more changes"
    );
    insta::assert_snapshot!("model_config_and_schema_change", d.to_string());
    insta::assert_json_snapshot!("model_config_and_schema_change_json", d);
}

#[test]
fn model_config_only_is_minor() {
    let old = Prompt::text("a", "x").expect("valid");
    let new = old.clone().with_model_config(ModelConfig {
        temperature: Some(0.7),
        ..ModelConfig::default()
    });
    let d = diff(&version(old, "1.0.0"), &version(new, "1.1.0"));
    assert_eq!(suggest_bump(&d), Bump::Minor);
    assert_eq!(changelog_draft(&d), "Set temperature to 0.7");
}

#[test]
fn metadata_and_format_change() {
    let old = Prompt::text("notes/summary", "Summarise: {{ text }}")
        .expect("valid")
        .with_description("Summaries")
        .with_tags(["notes", "beta"]);
    let mut new = Prompt::text("notes/summary", "Summarise: {{ text }}")
        .expect("valid")
        .with_format(PromptFormat::Instruction)
        .with_description("Short summaries of notes")
        .with_tags(["notes", "stable"]);
    new.metadata.extra.insert("owner".into(), json!("ml-team"));
    let d = diff(&version(old.clone(), "1.0.0"), &version(new.clone(), "2.0.0"));

    assert_eq!(suggest_bump(&d), Bump::Major);
    assert_eq!(suggest(&d).reasons, ["changed format text → instruction"]);
    insta::assert_snapshot!("metadata_and_format_change", d.to_string());

    // Without the format change, metadata alone is minor.
    new.format = PromptFormat::Text;
    let d = diff(&version(old, "1.0.0"), &version(new, "1.1.0"));
    assert_eq!(suggest_bump(&d), Bump::Minor);
    assert_eq!(
        changelog_draft(&d),
        "Changed description; added tag `stable`; removed tag `beta`; changed metadata `owner`"
    );
}
