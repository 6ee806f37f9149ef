//! Dotprompt `.prompt` files and Handlebars prompts against Dotprompt's reference implementation,
//! `dotpromptz` (pinned in `tests/python/requirements.txt`), through
//! `tests/interop/dotprompt_check.py`:
//!
//! - Their files → ours: every file of the corpus (`tests/interop/dotprompt`: realistic prompts,
//!   partials among them, each with its input beside it) is imported and rendered by us, and
//!   rendered by Dotprompt; the messages must be equal, and Dotprompt's rendered metadata (model,
//!   config, the input and output schemas it turns Picoschema into, tool definitions) must be
//!   what we imported.
//! - Ours → theirs: a corpus of our Handlebars prompts is exported as one folder (an included
//!   prompt becomes a partial `_name.prompt`); Dotprompt renders each file, and the messages must
//!   be ours.
//! - Round trips: ours → Dotprompt → ours, and theirs → ours → Dotprompt → ours, keep the content
//!   hash; what the format cannot say is refused with the reason.
//!
//! Without `dotpromptz` the tool tests skip with a printed reason;
//! `PROMPT_MANAGER_REQUIRE_PYTHON_SDKS=1` (set by CI) makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use prompt_manager::interop::{self, Exportable, Format};
use prompt_manager::{
    ChatItem, ChatMessage, InputSchema, ModelConfig, Prompt, PromptFormat, PromptManager, Role, Template,
    TemplateSyntax, VariableSpec, VariableType, Variables,
};
use serde_json::{Value, json};

mod common;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

fn dotpromptz_available() -> bool {
    common::python_has("dotpromptz", "dotpromptz")
}

/// Runs `dotprompt_check.py` on `jobs` ({file, root, input, history}); one result per job.
fn check(jobs: &[Value]) -> Vec<Value> {
    common::run_check(&corpus().join("dotprompt_check.py"), jobs)
}

/// Every `.prompt` file below `root`, with its path relative to it, partials first.
fn prompt_files(root: &Path) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "prompt") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    let mut files: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|p| {
            let relative = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            (p, relative)
        })
        .collect();
    files.sort_by_key(|(p, relative)| {
        (
            !p.file_name().unwrap().to_string_lossy().starts_with('_'),
            relative.clone(),
        )
    });
    files
}

fn is_partial(path: &Path) -> bool {
    path.file_name().unwrap().to_string_lossy().starts_with('_')
}

/// Imports every file of `root` into a fresh manager, partials first.
async fn import_folder(root: &Path) -> (PromptManager, Vec<(PathBuf, Prompt)>) {
    let pm = prompt_manager::in_memory();
    let mut read = Vec::new();
    for (path, relative) in prompt_files(root) {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(Format::detect(&path, &text), Some(Format::Dotprompt), "{relative}");
        let import = interop::import(Format::Dotprompt, &text, &relative).unwrap_or_else(|e| panic!("{relative}: {e}"));
        let prompt = import.entries[0].prompt.clone();
        pm.create(prompt.clone())
            .await
            .unwrap_or_else(|e| panic!("{relative}: {e}"));
        read.push((path, prompt));
    }
    (pm, read)
}

/// Our render of `prompt` as Dotprompt's messages: a text prompt is one user message, and the
/// assistant is Dotprompt's `model`.
async fn ours(pm: &PromptManager, prompt: &Prompt, input: &Value, history: &Value) -> Value {
    let mut vars: Variables = match input {
        Value::Object(map) => map.clone().into(),
        _ => Variables::new(),
    };
    if let Value::Array(messages) = history {
        let ours: Vec<Value> = messages
            .iter()
            .map(|m| {
                let role = if m["role"] == "model" {
                    "assistant"
                } else {
                    m["role"].as_str().unwrap()
                };
                json!({"role": role, "content": m["content"]})
            })
            .collect();
        vars.insert("history", Value::Array(ours));
    }
    let id = prompt.id.as_str();
    if prompt.format.is_chat() {
        let messages = pm.render_chat(id, &vars).await.unwrap_or_else(|e| panic!("{id}: {e}"));
        Value::Array(messages.iter().map(message_json).collect())
    } else {
        let text = pm.render(id, &vars).await.unwrap_or_else(|e| panic!("{id}: {e}"));
        json!([{"role": "user", "content": as_parts(&text)}])
    }
}

fn message_json(m: &ChatMessage) -> Value {
    let role = match m.role {
        Role::Assistant => "model",
        other => other.as_str(),
    };
    json!({"role": role, "content": as_parts(&m.content)})
}

/// A message's text as Dotprompt's parts read it: split at media and section markers, with the
/// whitespace-only text between them dropped (a consumer of our payload sees the markers as
/// text; Dotprompt turns them into parts).
fn as_parts(content: &str) -> String {
    let mut pieces = Vec::new();
    let mut rest = content;
    while let Some(start) = ["<<<dotprompt:media:url", "<<<dotprompt:section"]
        .iter()
        .filter_map(|m| rest.find(m))
        .min()
    {
        let Some(end) = rest[start..].find(">>>").map(|e| start + e + 3) else {
            break;
        };
        pieces.push(&rest[..start]);
        pieces.push(&rest[start..end]);
        rest = &rest[end..];
    }
    pieces.push(rest);
    pieces.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

fn vars_of(file: &Path) -> Value {
    let name = file.file_name().unwrap().to_string_lossy();
    let stem = name.strip_suffix(".prompt").unwrap();
    serde_json::from_str(&std::fs::read_to_string(file.with_file_name(format!("{stem}.vars.json"))).unwrap()).unwrap()
}

#[tokio::test]
async fn their_files_render_here_as_dotprompt_renders_them() {
    if !dotpromptz_available() {
        return;
    }
    let root = corpus().join("dotprompt");
    let (pm, read) = import_folder(&root).await;
    let cases: Vec<(PathBuf, Prompt, Value)> = read
        .into_iter()
        .filter(|(path, _)| !is_partial(path))
        .map(|(path, prompt)| {
            let vars = vars_of(&path);
            (path, prompt, vars)
        })
        .collect();
    assert!(cases.len() >= 18, "the corpus is there: {} files", cases.len());
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(path, _, vars)| json!({"file": path, "root": root, "input": vars["input"], "history": vars["history"]}))
        .collect();
    let results = check(&jobs);
    for ((path, prompt, vars), result) in cases.iter().zip(results) {
        let name = path.strip_prefix(&root).unwrap().display();
        assert!(
            result.get("error").is_none(),
            "{name}: Dotprompt failed: {}",
            result["error"]
        );
        let got = ours(&pm, prompt, &vars["input"], &vars["history"]).await;
        assert_eq!(got, result["messages"], "{name}: our render differs from Dotprompt's");
        let meta = &result["meta"];
        let config = &prompt.model_config;
        assert_eq!(meta["model"].as_str(), config.model.as_deref(), "{name}: model");
        let theirs = meta["config"].as_object().cloned().unwrap_or_default();
        assert_eq!(
            theirs.get("temperature").and_then(Value::as_f64),
            config.temperature,
            "{name}"
        );
        assert_eq!(theirs.get("topP").and_then(Value::as_f64), config.top_p, "{name}");
        assert_eq!(
            theirs.get("maxOutputTokens").and_then(Value::as_u64),
            config.max_tokens.map(u64::from),
            "{name}"
        );
        assert_eq!(
            theirs.get("stopSequences").cloned().unwrap_or(json!(null)),
            if config.stop.is_empty() {
                json!(null)
            } else {
                json!(config.stop)
            },
            "{name}"
        );
        for (key, value) in &config.extra {
            assert_eq!(theirs.get(key), Some(value), "{name}: config.{key}");
        }
        assert_eq!(
            meta["description"].as_str(),
            prompt.metadata.description.as_deref(),
            "{name}: description"
        );
        // The input schema Dotprompt renders, property by property, is what we declared.
        let properties = meta["input_schema"]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let required: Vec<&str> = meta["input_schema"]["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let declared: Vec<&VariableSpec> = prompt
            .input_schema
            .variables
            .iter()
            .filter(|v| properties.contains_key(&v.name))
            .collect();
        assert_eq!(
            declared.len(),
            properties.len(),
            "{name}: every input property is declared"
        );
        for spec in declared {
            assert_eq!(
                spec.required,
                required.contains(&spec.name.as_str()),
                "{name}: {}",
                spec.name
            );
            assert_eq!(
                properties[&spec.name]["description"].as_str(),
                spec.description.as_deref(),
                "{name}: {}",
                spec.name
            );
        }
        for (variable, default) in meta["input_default"].as_object().cloned().unwrap_or_default() {
            let spec = prompt
                .input_schema
                .variables
                .iter()
                .find(|v| v.name == variable)
                .unwrap();
            assert_eq!(spec.default.as_ref(), Some(&default), "{name}: default of {variable}");
        }
        // Their output schema is our response format's.
        match meta["output"]["schema"].as_object() {
            Some(_) => assert_eq!(
                config.response_format.as_ref().map(|f| &f["json_schema"]["schema"]),
                Some(&meta["output"]["schema"]),
                "{name}: output schema"
            ),
            None if meta["output"]["format"] == "json" => {
                assert_eq!(config.response_format, Some(json!({"type": "json_object"})), "{name}")
            }
            None => assert!(config.response_format.is_none(), "{name}"),
        }
        let defs = meta["tool_defs"].as_array().cloned().unwrap_or_default();
        assert_eq!(defs.len(), config.tools.len(), "{name}: tools");
        for (def, tool) in defs.iter().zip(&config.tools) {
            assert_eq!(def["name"], tool["function"]["name"], "{name}");
            assert_eq!(def.get("inputSchema"), tool["function"].get("parameters"), "{name}");
        }
    }
}

/// Our Handlebars prompts, each with the input and history to render it with.
fn our_corpus() -> Vec<(Prompt, Value, Value)> {
    let hb = |p: Prompt| p.with_syntax(TemplateSyntax::Handlebars);
    let text = |id: &str, template: &str| hb(Prompt::text(id, template).unwrap());
    let chat = |id: &str, items: Vec<ChatItem>| hb(Prompt::chat(id, items).unwrap());
    let mut corpus = Vec::new();

    let mut p = text("support/triage", "Classify this ticket for {{team}}:\n{{ticket}}\n")
        .with_description("Routes tickets")
        .with_tags(["support", "routing"]);
    p.model_config = ModelConfig {
        model: Some("googleai/gemini-2.0-flash".into()),
        temperature: Some(0.2),
        max_tokens: Some(256),
        top_p: Some(0.8),
        stop: vec!["###".into()],
        extra: [("topK".to_owned(), json!(20))].into(),
        ..ModelConfig::default()
    };
    corpus.push((
        p,
        json!({"team": "billing", "ticket": "I was charged twice."}),
        Value::Null,
    ));

    let mut p = chat(
        "assistant/history",
        vec![
            ChatItem::message(Role::System, "You are {{bot}}, the assistant of {{company}}."),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{question}}"),
        ],
    );
    p.model_config.model = Some("googleai/gemini-2.5-pro".into());
    corpus.push((
        p,
        json!({"bot": "Ada", "company": "Acme", "question": "And tomorrow?"}),
        json!([{"role": "user", "content": "Weather today?"}, {"role": "model", "content": "Sunny."}]),
    ));

    corpus.push((
        chat(
            "list/loop",
            vec![
                ChatItem::message(
                    Role::System,
                    "Known products:\n{{#each products}}- {{name}}: {{price}}\n{{/each}}Be accurate.",
                ),
                ChatItem::message(Role::User, "\n  {{question}}  \n"),
                ChatItem::message(Role::Assistant, "Let me check."),
                ChatItem::message(Role::User, "Go on"),
            ],
        ),
        json!({"products": [{"name": "Tent", "price": 199}, {"name": "Stove", "price": 49.5}], "question": "Cheapest?"}),
        Value::Null,
    ));

    let mut p = text("completion/story", "  Once upon a time, {{hero}} met {{villain}}.\n\n");
    p.format = PromptFormat::Completion;
    p.input_schema = InputSchema {
        variables: vec![
            VariableSpec {
                description: Some("The hero".into()),
                ..VariableSpec::new("hero", VariableType::String)
            },
            VariableSpec {
                default: Some(json!("a dragon")),
                required: false,
                ..VariableSpec::new("villain", VariableType::String)
            },
            VariableSpec {
                required: false,
                ..VariableSpec::new("tags", VariableType::Array)
            },
            VariableSpec::new("meta", VariableType::Object),
            VariableSpec::new("anything", VariableType::Any),
        ],
    };
    corpus.push((
        p,
        json!({"hero": "Zoë", "villain": "Grendel", "meta": {}, "anything": 1}),
        Value::Null,
    ));

    corpus.push((
        text(
            "i18n/hello",
            "Grüße, {{name}}! 🎉 «{{place}}» — こんにちは {{json data}}",
        ),
        json!({"name": "Zoë", "place": "Zürich", "data": {"ß": ["ü", 1.5]}}),
        Value::Null,
    ));

    corpus.push((
        text("shared/tone", "Answer in a {{tone}} tone."),
        json!({"tone": "calm"}),
        Value::Null,
    ));
    corpus.push((
        chat(
            "uses/partial",
            vec![
                ChatItem::message(Role::System, "{{> shared/tone}}\nYou help with {{topic}}."),
                ChatItem::message(Role::User, "{{#if urgent}}URGENT: {{/if}}{{question}}"),
            ],
        ),
        json!({"tone": "calm", "topic": "billing", "urgent": true, "question": "Where is my refund?"}),
        Value::Null,
    ));

    let mut p = chat(
        "agent/weather",
        vec![
            ChatItem::message(Role::System, "You report the weather in {{unit}}.\n"),
            ChatItem::message(Role::User, "{{question}}"),
        ],
    );
    p.model_config = ModelConfig {
        model: Some("googleai/gemini-2.0-flash".into()),
        tools: vec![
            json!({"type": "function", "function": {"name": "getWeather", "description": "The weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}),
        ],
        response_format: Some(
            json!({"type": "json_schema", "json_schema": {"name": "agent_weather", "schema": {"type": "object", "properties": {"temp": {"type": "number"}}}}}),
        ),
        ..ModelConfig::default()
    };
    corpus.push((p, json!({"unit": "celsius", "question": "Oslo?"}), Value::Null));

    let mut p = text("json/mode", "List three {{thing}} as JSON.");
    p.model_config.response_format = Some(json!({"type": "json_object"}));
    p.metadata.extra.insert("owner".into(), json!("team-a"));
    corpus.push((p, json!({"thing": "colours"}), Value::Null));

    corpus
}

/// What the Dotprompt export refuses, by id, with a word of the reason.
fn refusals() -> Vec<(Prompt, &'static str)> {
    let hb = |p: Prompt| p.with_syntax(TemplateSyntax::Handlebars);
    let mut named = ChatMessage::new(Role::User, "Hi");
    named.name = Some("alice".into());
    vec![
        (hb(Prompt::chat("named", [ChatItem::Message(named)]).unwrap()), "name"),
        (
            hb(Prompt::text("splits", "Hi {{role \"system\"}} there").unwrap()),
            "split",
        ),
        (
            hb(Prompt::chat("empty", [ChatItem::message(Role::User, " \n")]).unwrap()),
            "empty",
        ),
        (Prompt::text("jinja", "Hi {{ name }}").unwrap(), "jinja"),
        (
            hb(Prompt::chat("two", [ChatItem::placeholder("a"), ChatItem::placeholder("b")]).unwrap()),
            "placeholders",
        ),
    ]
}

fn exportable(prompt: &Prompt) -> Exportable<'_> {
    Exportable {
        prompt,
        version: None,
        labels: &[],
        changelog: "",
        author: None,
        created_at: None,
    }
}

#[test]
fn our_prompts_come_back_with_their_hash_and_the_rest_is_refused_with_a_reason() {
    let corpus: Vec<Prompt> = our_corpus().into_iter().map(|(p, _, _)| p).collect();
    let all: Vec<Exportable<'_>> = corpus.iter().map(exportable).collect();
    let written = interop::export(Format::Dotprompt, &all).unwrap();
    assert_eq!(written.files.len(), corpus.len());
    assert!(
        written.files.iter().any(|f| f.path == "shared/_tone.prompt"),
        "an included prompt is a partial: {:?}",
        written.files.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    for file in &written.files {
        let read = interop::import(Format::Dotprompt, &file.text, &file.path)
            .unwrap_or_else(|e| panic!("{}: reading our own export: {e}\n{}", file.path, file.text));
        let back = &read.entries[0].prompt;
        let original = corpus.iter().find(|p| p.id == back.id).unwrap();
        assert_eq!(
            back, original,
            "{}: the round trip changed the prompt\n{}",
            file.path, file.text
        );
        assert_eq!(back.content_hash(), original.content_hash());
    }
    for (prompt, word) in refusals() {
        let err = interop::export(Format::Dotprompt, &[exportable(&prompt)]).unwrap_err();
        assert!(err.to_string().contains(word), "{}: {err}", prompt.id);
    }
}

#[test]
fn their_files_come_back_the_same_after_an_export() {
    let root = corpus().join("dotprompt");
    let mut read = Vec::new();
    for (path, relative) in prompt_files(&root) {
        let text = std::fs::read_to_string(&path).unwrap();
        read.push(
            interop::import(Format::Dotprompt, &text, &relative)
                .unwrap()
                .entries
                .remove(0)
                .prompt,
        );
    }
    let all: Vec<Exportable<'_>> = read.iter().map(exportable).collect();
    let written = interop::export(Format::Dotprompt, &all).unwrap();
    for file in &written.files {
        let back = interop::import(Format::Dotprompt, &file.text, &file.path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", file.path, file.text))
            .entries
            .remove(0)
            .prompt;
        let original = read.iter().find(|p| p.id == back.id).unwrap();
        assert_eq!(&back, original, "{}\n{}", file.path, file.text);
    }
    // A schema our variables cannot say in full (nested fields, item types) is written back as
    // it was read.
    let triage = written
        .files
        .iter()
        .find(|f| f.path == "support/triage.prompt")
        .unwrap();
    assert!(
        triage.text.contains("subject: string") && triage.text.contains("teams(array, teams that can take it)"),
        "{}",
        triage.text
    );
    // Partials are partials again.
    for partial in ["_signature.prompt", "shared/_style.prompt"] {
        assert!(written.files.iter().any(|f| f.path == partial), "{partial}");
    }
}

#[tokio::test]
async fn dotprompt_renders_our_exports_as_we_render_them() {
    if !dotpromptz_available() {
        return;
    }
    let corpus = our_corpus();
    let prompts: Vec<&Prompt> = corpus.iter().map(|(p, _, _)| p).collect();
    let all: Vec<Exportable<'_>> = prompts.iter().map(|p| exportable(p)).collect();
    let written = interop::export(Format::Dotprompt, &all).unwrap();
    let folder = tempfile::tempdir().unwrap();
    for file in &written.files {
        let path = folder.path().join(&file.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &file.text).unwrap();
    }
    let pm = prompt_manager::in_memory();
    for prompt in prompts.iter().filter(|p| p.id.as_str() == "shared/tone") {
        pm.create((*prompt).clone()).await.unwrap();
    }
    for prompt in prompts.iter().filter(|p| p.id.as_str() != "shared/tone") {
        pm.create((*prompt).clone()).await.unwrap();
    }
    let mut cases = Vec::new();
    for file in &written.files {
        let path = folder.path().join(&file.path);
        if is_partial(&path) {
            // A partial is rendered through the prompt that includes it.
            continue;
        }
        let id = interop::import(Format::Dotprompt, &file.text, &file.path)
            .unwrap()
            .entries[0]
            .prompt
            .id
            .clone();
        let (prompt, input, history) = corpus.iter().find(|(p, _, _)| p.id == id).unwrap();
        cases.push((prompt, input, history, path));
    }
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(_, input, history, path)| json!({"file": path, "root": folder.path(), "input": input, "history": history}))
        .collect();
    let results = check(&jobs);
    for ((prompt, input, history, path), result) in cases.iter().zip(results) {
        let id = &prompt.id;
        assert!(
            result.get("error").is_none(),
            "{id}: Dotprompt failed: {}\n{}",
            result["error"],
            std::fs::read_to_string(path).unwrap()
        );
        // Dotprompt strips the ends of a file's body (the export warns, and keeps them for us).
        let mut expected = ours(&pm, prompt, input, history).await;
        let messages = expected.as_array_mut().unwrap();
        let last = messages.len() - 1;
        if let Some(first) = messages.iter_mut().find(|m| m["content"].is_string()) {
            let content = first["content"].as_str().unwrap().trim_start().to_owned();
            first["content"] = json!(content);
        }
        let content = messages[last]["content"].as_str().unwrap().trim_end().to_owned();
        messages[last]["content"] = json!(content);
        assert_eq!(
            result["messages"],
            expected,
            "{id}: Dotprompt renders our export differently\n{}",
            std::fs::read_to_string(path).unwrap()
        );
        assert_eq!(
            result["meta"]["model"].as_str(),
            prompt.model_config.model.as_deref(),
            "{id}"
        );
        if let Template::Chat(_) = prompt.template {
            assert!(result["messages"].as_array().unwrap().len() > 1, "{id}");
        }
    }
}
