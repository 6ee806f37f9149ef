//! Token counts against OpenAI's own tokenizer: every text of the corpus (`support/corpus.rs`)
//! and a set of chat conversations are counted by this crate and by Python's `tiktoken`
//! (`tests/tiktoken/reference.py`), in `o200k_base` and `cl100k_base`, and must be equal.
//!
//! tiktoken is given the very `.tiktoken` rank files this crate embeds (tiktoken-rs's, found
//! with `cargo metadata`), after checking their SHA-256 against the `expected_hash` tiktoken
//! pins, and builds each encoding from its own definition (pattern, special tokens).
//!
//! tiktoken's version is pinned in `tests/python/requirements.txt`. Without it the test skips
//! with a printed reason; `PROMPT_MANAGER_REQUIRE_PYTHON_SDKS=1` (set by CI) makes that a failure.

#![cfg(feature = "openai-tokens")]
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used, missing_docs)]

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use prompt_manager_core::{ChatMessage, Role};
use prompt_manager_cost::{Counter, Encoding, count_exact, estimate_text};
use serde_json::{Value, json};

const REQUIRE: &str = "PROMPT_MANAGER_REQUIRE_PYTHON_SDKS";

/// `true` when python3 can import tiktoken; otherwise prints why and skips, or fails under `REQUIRE`.
fn tiktoken_available() -> bool {
    let probe = Command::new("python3").args(["-c", "import tiktoken"]).output();
    if matches!(&probe, Ok(o) if o.status.success()) {
        return true;
    }
    let why = format!(
        "python3 with tiktoken is not available ({}); install it with \
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

/// The folder of rank files of the tiktoken-rs this crate is built with: its version from the
/// workspace's `Cargo.lock`, its source in cargo's registry (`$CARGO_HOME/registry/src/*/`).
fn embedded_assets() -> PathBuf {
    let lock_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let lock = std::fs::read_to_string(lock_path).expect("the workspace's Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|entry| entry.contains("name = \"tiktoken-rs\"\n"))
        .and_then(|entry| entry.lines().find_map(|l| l.strip_prefix("version = \"")))
        .and_then(|v| v.strip_suffix('"'))
        .expect("tiktoken-rs in Cargo.lock");
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    let registries = std::fs::read_dir(cargo_home.join("registry/src")).expect("cargo's registry sources");
    registries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path().join(format!("tiktoken-rs-{version}/assets")))
        .find(|assets| assets.join("o200k_base.tiktoken").is_file())
        .unwrap_or_else(|| panic!("tiktoken-rs {version}'s source is not in {}", cargo_home.display()))
}

fn chats() -> Vec<Vec<ChatMessage>> {
    let named = |role, name: &str, content: &str| ChatMessage {
        name: Some(name.to_owned()),
        ..ChatMessage::new(role, content)
    };
    vec![
        vec![ChatMessage::new(Role::User, "Hello!")],
        vec![
            ChatMessage::new(Role::System, "You triage support tickets. Answer with one word."),
            ChatMessage::new(Role::User, "My invoice shows a double charge for March."),
        ],
        vec![
            ChatMessage::new(
                Role::System,
                "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
            ),
            named(
                Role::System,
                "example_user",
                "New synergies will help drive top-line growth.",
            ),
            named(
                Role::System,
                "example_assistant",
                "Things working well together will increase revenue.",
            ),
            named(
                Role::System,
                "example_user",
                "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
            ),
            named(
                Role::System,
                "example_assistant",
                "Let's talk later when we're less busy about how to do better.",
            ),
            ChatMessage::new(
                Role::User,
                "This late pivot means we don't have time to boil the ocean for the client deliverable.",
            ),
        ],
        vec![
            ChatMessage::new(Role::System, "Réponds en français. 日本語も可。"),
            ChatMessage::new(Role::User, "Quel temps fait-il à Tōkyō ? 🌧️"),
            ChatMessage::new(Role::Assistant, "Il pleut. ☔"),
            ChatMessage::new(Role::User, ""),
        ],
    ]
}

fn chat_json(messages: &[ChatMessage]) -> Value {
    Value::Array(
        messages
            .iter()
            .map(|m| {
                let mut o = json!({"role": serde_json::to_value(m.role).unwrap(), "content": m.content});
                if let Some(name) = &m.name {
                    o["name"] = json!(name);
                }
                o
            })
            .collect(),
    )
}

#[test]
fn counts_equal_tiktokens_on_the_corpus() {
    if !tiktoken_available() {
        return;
    }
    let corpus = support::corpus::corpus();
    assert!(corpus.len() >= 30, "the corpus has {} texts", corpus.len());
    let chats = chats();
    let assets = embedded_assets();
    let request = json!({
        "files": {
            "o200k_base": assets.join("o200k_base.tiktoken"),
            "cl100k_base": assets.join("cl100k_base.tiktoken"),
        },
        "texts": corpus.iter().map(|(_, t)| t).collect::<Vec<_>>(),
        "chats": chats.iter().map(|c| chat_json(c)).collect::<Vec<_>>(),
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tiktoken/reference.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "reference.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference: Value = serde_json::from_slice(&output.stdout).expect("reference.py prints JSON");
    eprintln!("compared with tiktoken {}", reference["tiktoken"]);

    for (encoding, model) in [(Encoding::O200kBase, "gpt-4o"), (Encoding::Cl100kBase, "gpt-4")] {
        let expected = &reference["encodings"][encoding.name()];
        let mut mismatches = Vec::new();
        let (mut prose_error, mut worst) = (Vec::new(), (0.0f64, ""));
        for (i, (name, text)) in corpus.iter().enumerate() {
            let ours = count_exact(encoding, text).expect("encodings are compiled in");
            let theirs = expected["texts"][i].as_u64().unwrap();
            if ours != theirs {
                mismatches.push(format!("{name}: ours {ours}, tiktoken {theirs}"));
            }
            if theirs > 0 {
                let error = (estimate_text(text) as f64 - theirs as f64) / theirs as f64;
                prose_error.push((name, error));
                if error.abs() > worst.0.abs() {
                    worst = (error, name);
                }
            }
        }
        let counter = Counter::new();
        for (i, chat) in chats.iter().enumerate() {
            let ours = counter.count_messages(Some(model), chat).tokens;
            let theirs = expected["chats"][i].as_u64().unwrap();
            if ours != theirs {
                mismatches.push(format!("chat {i}: ours {ours}, tiktoken {theirs}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{}: {} differences:\n{}",
            encoding.name(),
            mismatches.len(),
            mismatches.join("\n")
        );
        // The estimate's error against this encoding, as docs/cost.md states it.
        let mut errors: Vec<f64> = prose_error.iter().map(|(_, e)| e.abs()).collect();
        errors.sort_by(f64::total_cmp);
        let median = errors[errors.len() / 2];
        let p90 = errors[errors.len() * 9 / 10];
        for (name, error) in &prose_error {
            eprintln!("estimate vs {}: {name}: {:+.0} %", encoding.name(), error * 100.0);
        }
        eprintln!(
            "estimate vs {}: median |error| {:.0} %, 90th percentile {:.0} %, worst {:+.0} % ({})",
            encoding.name(),
            median * 100.0,
            p90 * 100.0,
            worst.0 * 100.0,
            worst.1
        );
        if encoding == Encoding::Cl100kBase {
            assert!(
                median <= 0.20 && p90 <= 0.50 && worst.0.abs() <= 1.0,
                "the estimate's stated error no longer holds"
            );
        }
    }
}
