//! Every model survives a JSON and a YAML round trip unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use prompt_manager::semver::Version;
use prompt_manager::{
    ChatItem, ChatMessage, ContentHash, InputSchema, LabelEvent, LabelEventKind, LabelName, MessagePlaceholder,
    Metadata, ModelConfig, Prompt, PromptExecution, PromptFormat, PromptId, PromptStatus, PromptSummary, PromptVersion,
    RenderOutput, RenderedPrompt, Role, Template, TemplateSyntax, ToolCall, VariableSpec, VariableType, VersionInfo,
};
use proptest::prelude::*;

fn id() -> impl Strategy<Value = PromptId> {
    "[a-z0-9][a-z0-9._-]{0,10}(/[a-z0-9][a-z0-9_-]{0,10}){0,2}".prop_map(|s| PromptId::new(s).expect("valid id"))
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![
        Just(Role::System),
        Just(Role::User),
        Just(Role::Assistant),
        Just(Role::Function),
        Just(Role::Tool)
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,5}", inner, 0..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn template() -> impl Strategy<Value = (PromptFormat, Template)> {
    let item = prop_oneof![
        (role(), "\\PC{0,30}", proptest::option::of("[a-z]{1,8}")).prop_map(|(role, content, name)| ChatItem::Message(
            ChatMessage {
                name,
                ..ChatMessage::new(role, content)
            }
        )),
        // An assistant turn calling a tool, and the tool's answer.
        ("[a-z0-9_]{1,8}", "[a-z_]{1,8}", "\\PC{0,20}").prop_flat_map(|(id, tool, content)| {
            prop_oneof![
                Just(ChatItem::Message(
                    ChatMessage::new(Role::Assistant, content.clone()).with_tool_calls([ToolCall::new(
                        id.clone(),
                        tool,
                        serde_json::json!({"q": content.clone()})
                    )])
                )),
                Just(ChatItem::Message(ChatMessage::tool_result(id, content))),
            ]
        }),
        ("[a-z_][a-z0-9_]{0,8}", any::<bool>())
            .prop_map(|(variable, optional)| ChatItem::Placeholder(MessagePlaceholder { variable, optional })),
    ];
    prop_oneof![
        (
            prop_oneof![
                Just(PromptFormat::Text),
                Just(PromptFormat::Completion),
                Just(PromptFormat::Instruction)
            ],
            "\\PC{0,60}"
        )
            .prop_map(|(f, t)| (f, Template::Text(t))),
        prop::collection::vec(item, 1..5).prop_map(|items| (PromptFormat::Chat, Template::Chat(items))),
    ]
}

fn var_type() -> impl Strategy<Value = VariableType> {
    prop_oneof![
        Just(VariableType::Any),
        Just(VariableType::String),
        Just(VariableType::Boolean),
        Just(VariableType::Object)
    ]
}

prop_compose! {
    fn prompt()(
        id in id(),
        (format, template) in template(),
        handlebars in any::<bool>(),
        description in proptest::option::of("\\PC{0,20}"),
        tags in prop::collection::btree_set("[a-z]{1,6}", 0..3),
        extra in prop::collection::btree_map("[a-z]{1,5}", json_value(), 0..2),
        model in proptest::option::of("[a-z0-9-]{1,10}"),
        temperature in proptest::option::of(0.0f64..2.0),
        max_tokens in proptest::option::of(1u32..100_000),
        stop in prop::collection::vec("\\PC{1,5}", 0..2),
        vars in prop::collection::btree_map("[a-z_][a-z0-9_]{0,6}", (var_type(), any::<bool>(), proptest::option::of("[a-z]{0,5}")), 0..3),
    ) -> Prompt {
        Prompt {
            id,
            format,
            syntax: if handlebars { TemplateSyntax::Handlebars } else { TemplateSyntax::Jinja },
            template,
            metadata: Metadata { description, tags, extra },
            model_config: ModelConfig { model, temperature, max_tokens, stop, ..ModelConfig::default() },
            input_schema: InputSchema {
                variables: vars
                    .into_iter()
                    .map(|(name, (kind, required, description))| VariableSpec {
                        name,
                        kind,
                        required,
                        default: None,
                        description,
                    })
                    .collect(),
            },
        }
    }
}

fn version() -> impl Strategy<Value = Version> {
    (0u64..20, 0u64..20, 0u64..20).prop_map(|(a, b, c)| Version::new(a, b, c))
}

fn time() -> impl Strategy<Value = chrono::DateTime<chrono::Utc>> {
    (0i64..4_000_000_000).prop_map(|s| chrono::DateTime::from_timestamp(s, 0).expect("in range"))
}

fn both_ways<T>(value: &T) -> Result<(), TestCaseError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_string(value).expect("to json");
    let back: T = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
    prop_assert_eq!(&back, value);
    let yaml = serde_yaml_ng::to_string(value).expect("to yaml");
    let back: T = serde_yaml_ng::from_str(&yaml).map_err(|e| TestCaseError::fail(format!("{e}: {yaml}")))?;
    prop_assert_eq!(&back, value);
    Ok(())
}

proptest! {
    #[test]
    fn prompts_round_trip(p in prompt()) {
        both_ways(&p)?;
        prop_assert!(p.validate().is_ok() || matches!(p.template, Template::Chat(_)));
    }

    #[test]
    fn versions_round_trip(p in prompt(), v in version(), parent in proptest::option::of(version()), at in time(), log in "\\PC{0,20}") {
        let hash = p.content_hash();
        let pv = PromptVersion { prompt: p, version: v, changelog: log, author: Some("me".into()), created_at: at, parent, content_hash: hash };
        both_ways(&pv)?;
        both_ways(&pv.info())?;
    }

    #[test]
    fn label_events_and_summaries_round_trip(id in id(), from in proptest::option::of(version()), to in proptest::option::of(version()), at in time(), count in 1u64..1000) {
        let label = LabelName::new("production").expect("valid");
        for kind in [LabelEventKind::Set, LabelEventKind::Rollback, LabelEventKind::Remove] {
            both_ways(&LabelEvent { label: label.clone(), from: from.clone(), to: to.clone(), kind, from_split: None, to_split: None, actor: None, at })?;
            let split: prompt_manager::Split = "1.0.0=90 1.1.0=10".parse().expect("valid split");
            both_ways(&LabelEvent { label: label.clone(), from: from.clone(), to: to.clone(), kind, from_split: Some(split.clone()), to_split: Some(split), actor: None, at })?;
        }
        for status in [PromptStatus::Draft, PromptStatus::Active, PromptStatus::Deprecated, PromptStatus::Archived] {
            let summary = PromptSummary {
                id: id.clone(), status, format: PromptFormat::Chat, latest_version: Version::new(1, 2, 3), version_count: count,
                labels: BTreeMap::from([(label.clone(), Version::new(1, 0, 0))]),
                splits: BTreeMap::from([(label.clone(), "1.0.0=90 1.1.0=10".parse().expect("valid split"))]), protected: BTreeSet::from([label.clone()]), tags: BTreeSet::from(["x".to_string()]),
                description: None, created_at: at, updated_at: at,
            };
            both_ways(&summary)?;
        }
        let info = VersionInfo { version: Version::new(1, 0, 0), changelog: String::new(), author: None, created_at: at, parent: None, content_hash: ContentHash("sha256:00".into()) };
        both_ways(&info)?;
        // Executions borrow from the render and are only ever written (to logs, queues): check
        // what they write.
        let reference = format!("{id}@production");
        let execution = PromptExecution {
            id: count, reference: &reference, prompt_id: Some(&id), version: to.as_ref(),
            label: Some(&label), duration: Duration::from_micros(count), error: Some("archived".into()),
            output_bytes: 12, token_estimate: 3,
        };
        let written = serde_json::to_value(&execution).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&written["reference"], &serde_json::json!(reference));
        prop_assert_eq!(&written["prompt_id"], &serde_json::json!(id.as_str()));
        prop_assert_eq!(&written["label"], &serde_json::json!(label.as_str()));
        prop_assert_eq!(&written["version"], &serde_json::to_value(&to).map_err(|e| TestCaseError::fail(e.to_string()))?);
        for output in [RenderOutput::Text("hi".into()), RenderOutput::Messages(vec![ChatMessage::new(Role::User, "hi")])] {
            let rendered = RenderedPrompt {
                id: id.clone(), version: Version::new(1, 0, 0), format: PromptFormat::Chat, output,
                model_config: ModelConfig { temperature: Some(0.5), ..ModelConfig::default() },
                content_hash: ContentHash("sha256:00".into()), variant: None, render_id: None,
            };
            both_ways(&rendered)?;
        }
    }
}
