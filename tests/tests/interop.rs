//! Other tools' formats against the tools themselves: Langfuse's Python SDK, the `prompty`
//! package and MLflow's client (pinned in `tests/python/requirements.txt`) read files and render
//! them, through `tests/interop/check.py`. MLflow's files go through a real prompt registry:
//! registered, loaded, formatted, and dumped again for us to read.
//!
//! - Their files → ours: every file of the corpus (`tests/interop/langfuse`, `tests/interop/prompty`,
//!   `tests/interop/mlflow`, realistic prompts with their variables beside them) is imported and rendered by us, and
//!   rendered by the tool; the outputs must be equal, message by message.
//! - Ours → theirs: a corpus of our prompts is exported, the tool reads the files and renders
//!   them, and the outputs must equal ours; the tool must see the same model parameters.
//! - Round trips: ours → theirs → ours gives back the same content hash for every prompt the
//!   format can express; each one it cannot is refused with a reason, never written wrong.
//!
//! Without the packages the tests skip with a printed reason; `PROMPT_MANAGER_REQUIRE_PYTHON_SDKS=1`
//! (set by CI) makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use prompt_manager::interop::{self, Exportable, Format};
use prompt_manager::{
    ChatItem, ChatMessage, InputSchema, ModelConfig, Prompt, PromptFormat, Role, VariableSpec, VariableType,
};
use serde_json::{Map, Value, json};

mod common;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// `true` when Langfuse's SDK, prompty and MLflow can be imported; otherwise prints why and
/// skips, or fails under `PROMPT_MANAGER_REQUIRE_PYTHON_SDKS`.
fn tools_available() -> bool {
    common::python_has("langfuse, prompty, jinja2, mlflow", "langfuse, prompty and mlflow")
}

/// Runs `check.py` on `jobs` ({format, file, vars}); one result per job.
fn check(jobs: &[Value]) -> Vec<Value> {
    common::run_check(&corpus().join("check.py"), jobs)
}

/// Renders `prompt` with `vars` as we do: its text, or its messages as `{role, content, name?}`.
async fn ours(prompt: &Prompt, vars: &Value) -> Value {
    let pm = prompt_manager::in_memory();
    pm.create(prompt.clone()).await.unwrap();
    let vars: prompt_manager::Variables = match vars {
        Value::Object(map) => map.clone().into(),
        _ => Map::new().into(),
    };
    let id = prompt.id.as_str();
    if prompt.format.is_chat() {
        let messages = pm.render_chat(id, &vars).await.unwrap();
        Value::Array(messages.iter().map(message_json).collect())
    } else {
        Value::String(pm.render(id, &vars).await.unwrap())
    }
}

fn message_json(m: &ChatMessage) -> Value {
    let mut out = json!({ "role": m.role, "content": m.content });
    if let Some(name) = &m.name {
        out["name"] = json!(name);
    }
    out
}

/// Messages without their `name`: Prompty's `prepare()` drops role-line attributes (its strict
/// mode rewrites each role line with a nonce), so names are compared by the round trips only.
fn nameless(rendered: Value) -> Value {
    match rendered {
        Value::Array(messages) => Value::Array(
            messages
                .into_iter()
                .map(|mut m| {
                    if let Some(m) = m.as_object_mut() {
                        m.remove("name");
                    }
                    m
                })
                .collect(),
        ),
        other => other,
    }
}

/// The tool's messages as ours: without Langfuse's `type` key.
fn theirs(rendered: &Value) -> Value {
    match rendered {
        Value::Array(messages) => Value::Array(
            messages
                .iter()
                .map(|m| {
                    let mut m = m.as_object().cloned().unwrap_or_default();
                    m.remove("type");
                    Value::Object(m)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The formats of Jinja templates (Dotprompt's are Handlebars: `tests/tests/dotprompt.rs`).
fn jinja_formats() -> impl Iterator<Item = Format> {
    Format::ALL
        .into_iter()
        .filter(|f| f.syntax() == prompt_manager::TemplateSyntax::Jinja)
}

fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == extension)
                && !p.file_name().unwrap().to_string_lossy().ends_with(".vars.json")
        })
        .collect();
    files.sort();
    files
}

fn vars_of(file: &Path) -> Value {
    let name = file.file_stem().unwrap().to_string_lossy();
    let path = file.with_file_name(format!("{name}.vars.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test]
async fn their_files_render_here_as_their_tools_render_them() {
    if !tools_available() {
        return;
    }
    let mut cases = Vec::new();
    for (dir, extension, format) in [
        ("langfuse", "json", Format::Langfuse),
        ("prompty", "prompty", Format::Prompty),
        ("mlflow", "json", Format::Mlflow),
    ] {
        for file in files(dir, extension) {
            let vars = vars_of(&file);
            if vars.is_null() {
                // Composition: rendering needs the included prompt (checked by the round trips).
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(Format::detect(&file, &text), Some(format), "{name} is recognised");
            let read = interop::import(format, &text, &name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let newest = read.entries.last().unwrap().prompt.clone();
            cases.push((file, format, vars, newest));
        }
    }
    assert!(cases.len() >= 30, "the corpus is there: {} files", cases.len());
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(file, format, vars, _)| json!({ "format": format.name(), "file": file, "vars": vars }))
        .collect();
    let results = check(&jobs);
    for ((file, format, vars, prompt), result) in cases.iter().zip(results) {
        let name = file.display();
        assert!(
            result.get("error").is_none(),
            "{name}: the tool failed: {}",
            result["error"]
        );
        let mut expected = theirs(&result["rendered"]);
        let mut got = ours(prompt, vars).await;
        if *format == Format::Prompty {
            expected = nameless(expected);
            got = nameless(got);
        }
        assert_eq!(got, expected, "{name}: our render differs from the tool's");
        if *format == Format::Mlflow {
            // What MLflow's registry gives back reads as the file did.
            let dumped = result["dumped"].as_str().unwrap();
            let read = interop::import(Format::Mlflow, dumped, "dumped.json")
                .unwrap_or_else(|e| panic!("{name}: MLflow's own dump: {e}\n{dumped}"));
            let back = &read.entries.last().unwrap().prompt;
            assert_eq!(back, prompt, "{name}: MLflow's dump reads differently");
            let labels: Vec<String> = read
                .entries
                .last()
                .unwrap()
                .labels
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(json!(labels), result["meta"]["aliases"], "{name}: aliases");
        }
    }
}

/// Our prompts, each with variables to render it with.
fn our_corpus() -> Vec<(Prompt, Value)> {
    let text = |id: &str, template: &str| Prompt::text(id, template).unwrap();
    let chat = |id: &str, items: Vec<ChatItem>| Prompt::chat(id, items).unwrap();
    let mut corpus = Vec::new();

    let mut p = text("support/triage", "Classify this ticket for {{ team }}:\n{{ ticket }}\n")
        .with_description("Routes tickets")
        .with_tags(["support", "routing"]);
    p.model_config = ModelConfig {
        model: Some("gpt-4o".into()),
        temperature: Some(0.2),
        max_tokens: Some(256),
        ..ModelConfig::default()
    };
    corpus.push((p, json!({ "team": "billing", "ticket": "I was charged twice." })));

    corpus.push((
        text(
            "json/shape",
            "Answer as {\"answer\": \"...\", \"score\": 0} for {{question}}.",
        ),
        json!({ "question": "Is water wet?" }),
    ));

    let mut p = chat(
        "assistant/history",
        vec![
            ChatItem::message(Role::System, "You are {{ bot }}, the assistant of {{ company }}."),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{ question }}"),
        ],
    );
    p.model_config.model = Some("claude-sonnet-4-5".into());
    p.model_config.stop = vec!["END".into()];
    corpus.push((
        p,
        json!({ "bot": "Ada", "company": "Acme", "question": "And tomorrow?",
                "history": [{"role": "user", "content": "Weather today?"}, {"role": "assistant", "content": "Sunny."}] }),
    ));

    let mut named = ChatMessage::new(Role::User, "I think {{ topic }} is overrated.");
    named.name = Some("alice".into());
    corpus.push((
        chat(
            "debate/named",
            vec![
                ChatItem::message(Role::System, "Moderate a debate on {{ topic }}."),
                ChatItem::Message(named),
            ],
        ),
        json!({ "topic": "tabs" }),
    ));

    corpus.push((
        chat(
            "list/loop",
            vec![
                ChatItem::message(Role::System, "Known products:\n{% for p in products %}- {{ p.name }}: {{ p.price }}\n{% endfor %}Be accurate."),
                ChatItem::message(Role::User, "{{ question | trim }}"),
            ],
        ),
        json!({ "products": [{"name": "Tent", "price": 199}, {"name": "Stove", "price": 49.5}], "question": " Cheapest? " }),
    ));

    let mut p = text("completion/story", "Once upon a time, {{ hero }} met {{ villain }}.");
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
        ],
    };
    corpus.push((p, json!({ "hero": "Zoë", "villain": "Grendel" })));

    corpus.push((
        text("i18n/hello", "Grüße, {{ name }}! 🎉 «{{ place }}» — こんにちは"),
        json!({ "name": "Zoë", "place": "Zürich" }),
    ));

    let mut p = chat(
        "agent/tools",
        vec![
            ChatItem::message(Role::System, "You report the weather in {{ unit }}.\n"),
            ChatItem::message(Role::User, "{{ question }}"),
        ],
    );
    p.model_config = ModelConfig {
        model: Some("gpt-4o-mini".into()),
        top_p: Some(0.9),
        tools: vec![
            json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}),
        ],
        response_format: Some(json!({"type": "json_object"})),
        extra: [
            ("seed".to_owned(), json!(7)),
            ("reasoning_effort".to_owned(), json!("low")),
        ]
        .into(),
        ..ModelConfig::default()
    };
    corpus.push((p, json!({ "unit": "celsius", "question": "Rain in Lyon?" })));

    corpus.push((
        text(
            "escape/literal",
            "Jinja prints {{ \"{\" }}% raw %} and {{ \"{\" }}# x #} as text for {{ who }}.",
        ),
        json!({ "who": "you" }),
    ));

    corpus.push((
        text(
            "compose/answer",
            "{% include \"shared/tone@production\" %}\nAnswer {{ question }}",
        ),
        Value::Null,
    ));

    corpus.push((
        chat(
            "optional/history",
            vec![
                ChatItem::message(Role::System, "Be kind."),
                ChatItem::Placeholder(prompt_manager::MessagePlaceholder {
                    variable: "history".into(),
                    optional: true,
                }),
            ],
        ),
        json!({ "history": [{"role": "user", "content": "Hi"}] }),
    ));
    corpus
}

/// Which prompts each format cannot express, and a word of the reason it gives.
fn refused(format: Format, id: &str) -> Option<&'static str> {
    match (format, id) {
        (Format::Langfuse, "debate/named") => Some("name or tool calls"),
        (Format::Langfuse, "list/loop") => Some("statement"),
        (Format::Prompty, "assistant/history" | "optional/history") => Some("placeholder"),
        (Format::Prompty | Format::Mlflow, "compose/answer") => Some("includes another prompt"),
        (Format::Mlflow, "debate/named") => Some("name or tool calls"),
        (Format::Mlflow, "assistant/history" | "optional/history") => Some("placeholder"),
        _ => None,
    }
}

fn export_one(format: Format, prompt: &Prompt) -> prompt_manager::Result<interop::Export> {
    interop::export(
        format,
        &[Exportable {
            prompt,
            version: None,
            labels: &[],
            changelog: "",
            author: None,
            created_at: None,
        }],
    )
}

#[test]
fn round_trips_keep_content_hashes_or_say_why_not() {
    for format in jinja_formats() {
        for (prompt, _) in our_corpus() {
            let id = prompt.id.as_str();
            match (export_one(format, &prompt), refused(format, id)) {
                (Ok(written), None) => {
                    let file = &written.files[0];
                    let read = interop::import(format, &file.text, &file.path)
                        .unwrap_or_else(|e| panic!("{format} {id}: reading our own export: {e}\n{}", file.text));
                    let back = &read.entries[0].prompt;
                    assert_eq!(
                        back, &prompt,
                        "{format} {id}: the round trip changed the prompt\n{}",
                        file.text
                    );
                    assert_eq!(back.content_hash(), prompt.content_hash(), "{format} {id}");
                }
                (Err(e), Some(word)) => assert!(e.to_string().contains(word), "{format} {id}: {e}"),
                (Ok(written), Some(_)) => panic!("{format} {id}: should be refused, wrote {}", written.files[0].text),
                (Err(e), None) => panic!("{format} {id}: refused: {e}"),
            }
        }
    }
}

#[tokio::test]
async fn their_tools_read_our_exports_and_render_what_we_render() {
    if !tools_available() {
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for format in jinja_formats() {
        for (prompt, vars) in our_corpus() {
            if vars.is_null() || refused(format, prompt.id.as_str()).is_some() {
                continue;
            }
            let written = export_one(format, &prompt).unwrap();
            let path = folder.path().join(format.name()).join(&written.files[0].path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &written.files[0].text).unwrap();
            cases.push((format, prompt, vars, path));
        }
    }
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(format, _, vars, path)| json!({ "format": format.name(), "file": path, "vars": vars }))
        .collect();
    let results = check(&jobs);
    for ((format, prompt, vars, path), result) in cases.iter().zip(results) {
        let id = &prompt.id;
        assert!(
            result.get("error").is_none(),
            "{format} {id}: the tool failed: {}\n{}",
            result["error"],
            std::fs::read_to_string(path).unwrap()
        );
        let mut expected = ours(prompt, vars).await;
        if *format == Format::Prompty {
            // Prompty's messages are what the body says between role lines, newlines at the ends
            // stripped (docs/interop.md); a text prompt is Prompty's one system message.
            expected = match expected {
                Value::String(text) => json!([{ "role": "system", "content": text.trim_matches('\n') }]),
                Value::Array(messages) => Value::Array(
                    messages
                        .into_iter()
                        .map(|mut m| {
                            let content = m["content"].as_str().unwrap().trim_matches('\n').to_owned();
                            m["content"] = json!(content);
                            m
                        })
                        .collect(),
                ),
                other => other,
            };
        }
        let mut got = theirs(&result["rendered"]);
        if *format == Format::Prompty {
            got = nameless(got);
            expected = nameless(expected);
        }
        assert_eq!(got, expected, "{format} {id}: the tool renders our export differently");
        let meta = &result["meta"];
        let config = &prompt.model_config;
        match format {
            Format::Langfuse => {
                assert_eq!(meta["name"], json!(id.as_str()));
                assert_eq!(meta["config"]["model"].as_str(), config.model.as_deref(), "{id}");
                assert_eq!(meta["config"]["temperature"].as_f64(), config.temperature, "{id}");
            }
            Format::Prompty => {
                assert_eq!(meta["model"].as_str(), config.model.as_deref(), "{id}");
                assert_eq!(meta["temperature"].as_f64(), config.temperature, "{id}");
                assert_eq!(
                    meta["max_output_tokens"].as_u64(),
                    config.max_tokens.map(u64::from),
                    "{id}"
                );
                let names: Vec<&str> = prompt.input_schema.variables.iter().map(|v| v.name.as_str()).collect();
                assert_eq!(meta["inputs"], json!(names), "{id}");
            }
            Format::Dotprompt => unreachable!("a Handlebars format"),
            Format::Mlflow => {
                assert_eq!(meta["name"], json!(id.as_str().replace('/', ".")));
                assert_eq!(
                    meta["model_config"]["model_name"].as_str(),
                    config.model.as_deref(),
                    "{id}"
                );
                assert_eq!(meta["model_config"]["temperature"].as_f64(), config.temperature, "{id}");
                assert_eq!(meta["model_config"]["top_p"].as_f64(), config.top_p, "{id}");
                assert_eq!(
                    meta["response_format"],
                    config.response_format.clone().unwrap_or(Value::Null),
                    "{id}"
                );
                assert_eq!(meta["is_text"], json!(!prompt.format.is_chat()), "{id}");
            }
        }
    }
}

/// A Langfuse file read and written again is the same JSON, but for Langfuse's bookkeeping.
#[test]
fn langfuse_files_come_back_as_they_were() {
    for file in files("langfuse", "json") {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.display().to_string();
        let read = interop::import(Format::Langfuse, &text, &name).unwrap();
        let exportable: Vec<Exportable<'_>> = read
            .entries
            .iter()
            .map(|e| Exportable {
                prompt: &e.prompt,
                version: e.version.as_ref(),
                labels: &e.labels,
                changelog: &e.changelog,
                author: None,
                created_at: None,
            })
            .collect();
        let written = interop::export(Format::Langfuse, &exportable).unwrap();
        let again: Value = serde_json::from_str(&written.files[0].text).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        let original = match original {
            Value::Array(items) => items,
            one => vec![one],
        };
        for (ours, theirs) in again.as_array().unwrap().iter().zip(&original) {
            // A message's `"type": "chatmessage"` is Langfuse's default, left out when written.
            let mut theirs = theirs.clone();
            if let Some(messages) = theirs["prompt"].as_array_mut() {
                for m in messages {
                    if m["type"] != "placeholder"
                        && let Some(m) = m.as_object_mut()
                    {
                        m.remove("type");
                    }
                }
            }
            let theirs = &theirs;
            for key in ["name", "type", "prompt"] {
                assert_eq!(ours[key], theirs[key], "{name}: `{key}`");
            }
            // Tags are a set here: written sorted.
            let sorted = |v: &Value| {
                let mut tags: Vec<String> = v.as_array().unwrap().iter().map(ToString::to_string).collect();
                tags.sort();
                tags
            };
            assert_eq!(sorted(&ours["tags"]), sorted(&theirs["tags"]), "{name}: tags");
            let mut labels: Vec<&Value> = theirs["labels"].as_array().unwrap().iter().collect();
            let mut back: Vec<&Value> = ours["labels"].as_array().unwrap().iter().collect();
            labels.sort_by_key(|v| v.to_string());
            back.sort_by_key(|v| v.to_string());
            if !labels.iter().any(|l| *l == "latest") {
                back.retain(|l| *l != "latest");
            }
            assert_eq!(back, labels, "{name}: labels");
            // Numbers by value: `0` and `0.0` are one temperature.
            fn numbers(v: &Value) -> Value {
                match v {
                    Value::Number(n) => json!(n.as_f64()),
                    Value::Array(items) => Value::Array(items.iter().map(numbers).collect()),
                    Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), numbers(v))).collect()),
                    other => other.clone(),
                }
            }
            let strip = |v: &Value| numbers(v);
            assert_eq!(strip(&ours["config"]), strip(&theirs["config"]), "{name}: config");
        }
    }
}

/// An MLflow file read and written again is the same JSON: names, templates, tags, aliases,
/// model config and response format.
#[test]
fn mlflow_files_come_back_as_they_were() {
    for file in files("mlflow", "json") {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.display().to_string();
        let read = interop::import(Format::Mlflow, &text, &name).unwrap();
        assert!(read.warnings.is_empty(), "{name}: {:?}", read.warnings);
        let exportable: Vec<Exportable<'_>> = read
            .entries
            .iter()
            .map(|e| Exportable {
                prompt: &e.prompt,
                version: e.version.as_ref(),
                labels: &e.labels,
                changelog: &e.changelog,
                author: e.author.as_deref(),
                created_at: e.created_at,
            })
            .collect();
        let written = interop::export(Format::Mlflow, &exportable).unwrap();
        let again: Value = serde_json::from_str(&written.files[0].text).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        let numbers = |v: &Value| -> Value {
            fn walk(v: &Value) -> Value {
                match v {
                    Value::Number(n) => json!(n.as_f64()),
                    Value::Array(items) => Value::Array(items.iter().map(walk).collect()),
                    Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), walk(v))).collect()),
                    other => other.clone(),
                }
            }
            walk(v)
        };
        let original = original.as_array().unwrap();
        assert_eq!(again.as_array().unwrap().len(), original.len(), "{name}");
        for (ours, theirs) in again.as_array().unwrap().iter().zip(original) {
            for key in [
                "name",
                "version",
                "template",
                "commit_message",
                "tags",
                "aliases",
                "creation_timestamp",
                "user_id",
            ] {
                assert_eq!(ours[key], theirs[key], "{name}: `{key}`");
            }
            for key in ["model_config", "response_format"] {
                assert_eq!(numbers(&ours[key]), numbers(&theirs[key]), "{name}: `{key}`");
            }
        }
    }
}

/// Version numbers that are not `N.0.0` come back as they were through the formats that keep
/// every version, and two ids MLflow would give one name are refused.
#[test]
fn version_numbers_survive_the_formats_that_renumber() {
    let prompts: Vec<Prompt> = ["Hi {{ name }}", "Hello {{ name }}", "Hello {{ name }}!"]
        .iter()
        .map(|t| Prompt::text("greeting", *t).unwrap())
        .collect();
    let versions: Vec<prompt_manager::semver::Version> =
        ["1.0.0", "1.1.0", "2.0.0"].iter().map(|v| v.parse().unwrap()).collect();
    let exportable: Vec<Exportable<'_>> = prompts
        .iter()
        .zip(&versions)
        .map(|(prompt, version)| Exportable {
            prompt,
            version: Some(version),
            labels: &[],
            changelog: "",
            author: None,
            created_at: None,
        })
        .collect();
    for format in [Format::Langfuse, Format::Mlflow] {
        let written = interop::export(format, &exportable).unwrap();
        let read = interop::import(format, &written.files[0].text, "f.json").unwrap();
        let back: Vec<String> = read
            .entries
            .iter()
            .map(|e| e.version.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(back, ["1.0.0", "1.1.0", "2.0.0"], "{format}");
    }
    let a = Prompt::text("a.b", "x").unwrap();
    let b = Prompt::text("a/b", "y").unwrap();
    let err = interop::export(Format::Mlflow, &[export_entry(&a), export_entry(&b)]).unwrap_err();
    assert!(err.to_string().contains("also"), "{err}");
}

fn export_entry(prompt: &Prompt) -> Exportable<'_> {
    Exportable {
        prompt,
        version: None,
        labels: &[],
        changelog: "",
        author: None,
        created_at: None,
    }
}

/// Bad files are refused at their place, and nothing is written.
#[test]
fn bad_files_say_what_and_where() {
    for (format, text, says) in [
        (Format::Langfuse, "{\"name\": \"x\", \"type\": \"text\"", "not JSON"),
        (
            Format::Langfuse,
            "{\"name\": \"x\", \"type\": \"text\", \"prompt\": 3}",
            "`prompt`",
        ),
        (
            Format::Langfuse,
            "[{\"name\": \"ok\", \"type\": \"text\", \"prompt\": \"fine\"},\n {\"name\": \"bad\", \"type\": \"text\",\n  \"prompt\": \"Hi {{user-name}}\"}]",
            "`user-name`",
        ),
        (
            Format::Langfuse,
            "{\"name\": \"../x\", \"type\": \"text\", \"prompt\": \"a\"}",
            "prompt id",
        ),
        (
            Format::Langfuse,
            "{\"name\": \"x\", \"type\": \"chat\", \"prompt\": [{\"role\": \"wizard\", \"content\": \"a\"}]}",
            "`wizard`",
        ),
        (
            Format::Langfuse,
            r#"{"name": "x", "type": "text", "prompt": "@@@langfusePrompt:name=y\" %}{% for i in range(9) %}|label=p@@@"}"#,
            "is not a valid name",
        ),
        (
            Format::Prompty,
            "---\nname: [unclosed\n---\nsystem:\nhi\n",
            "front matter",
        ),
        (
            Format::Prompty,
            "---\nname: x\n---\nsystem:\n{% if a %}\nuser:\nhi\n{% endif %}\n",
            "spans a role line",
        ),
        (Format::Prompty, "---\nname: x\n---\ndeveloper:\nhi\n", "`developer`"),
        (
            Format::Mlflow,
            "{\"name\": \"x\", \"template\": \"Hi {{ user.name }}\"}",
            "`user.name`",
        ),
        (Format::Mlflow, "{\"name\": \"x\", \"template\": 3}", "`template`"),
        (
            Format::Mlflow,
            "{\"name\": \"Summarizer\", \"template\": \"a\"}",
            "prompt id",
        ),
        (Format::Mlflow, "{\"name\": \"x\", \"template\": []}", "empty list"),
        (
            Format::Mlflow,
            "{\"name\": \"x\", \"template\": [{\"role\": \"wizard\", \"content\": \"a\"}]}",
            "`wizard`",
        ),
        (
            Format::Mlflow,
            "{\"name\": \"x\", \"template\": \"a\", \"tags\": {\"prompt_manager\": \"{nope\"}}",
            "JSON object",
        ),
        (
            Format::Mlflow,
            "{\"name\": \"x\", \"template\": \"a\", \"aliases\": [\"Not A Label\"]}",
            "alias",
        ),
        (
            Format::Mlflow,
            "{\"name\": \"x\", \"version\": 0, \"template\": \"a\"}",
            "`version`",
        ),
        (
            Format::Prompty,
            "---\ntemplate:\n  format: mustache\n---\nhi\n",
            "mustache",
        ),
    ] {
        let err = interop::import(format, text, "bad-file").map(|_| ()).expect_err(text);
        let shown = err.to_string();
        assert!(
            shown.contains(says) && shown.starts_with("bad-file:"),
            "{format}: {shown}"
        );
    }
    // The error's line is the bad entry's, not the file's first.
    let err = interop::import(
        Format::Langfuse,
        "[{\"name\": \"ok\", \"type\": \"text\", \"prompt\": \"fine\"},\n {\"name\": \"bad\", \"type\": \"text\",\n  \"prompt\": \"Hi {{user-name}}\"}]",
        "f.json",
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("f.json:3:17:"), "{err}");
}
