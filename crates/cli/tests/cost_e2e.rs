//! End-to-end tests of `cost` and of `diff`'s token and cost lines: the built binary on a real
//! SQLite store in a temporary project, its counts checked against the cost crate's counter and
//! its prices against the shipped table and `prompt-manager.toml` overrides.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use prompt_manager::cost::{Counter, PriceTable};
use prompt_manager::{ChatMessage, PriceBook, RenderOutput, Role, TokenCounter};
use serde_json::Value;

fn binary() -> PathBuf {
    std::env::var_os("PROMPT_MANAGER_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_prompt-manager")), PathBuf::from)
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project with a SQLite store and these prompt files created in it.
    fn with(prompts: &[(&str, &str)]) -> Self {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        p.write("prompt-manager.toml", "store = \"sqlite://./pm.db\"\n");
        for (name, text) in prompts {
            let path = p.write(name, text);
            p.ok(&["create", path.to_str().unwrap()]);
        }
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new(binary())
            .args(args)
            .current_dir(self.path())
            .env_remove("PROMPT_MANAGER_STORE")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        output
    }

    fn expect(&self, code: i32, args: &[&str]) -> (String, String) {
        let output = self.run(args);
        let (stdout, stderr) = (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        );
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}\nstdout: {stdout}\nstderr: {stderr}"
        );
        (stdout, stderr)
    }

    fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args).0
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

const TRIAGE: &str = "id: support/triage
model_config:
  model: gpt-4o-mini-2024-07-18
template: |
  Classify this ticket as billing, bug or other.
  Ticket from {{ customer }}: {{ ticket }}
input_schema:
  - name: customer
    type: string
    default: a customer
  - name: ticket
    type: string
";

const CHAT: &str = "id: chat/helper
model_config:
  model: gpt-4.1
template:
  - role: system
    content: You are a terse assistant.
  - role: user
    content: \"{{ question }}\"
";

fn text(customer: &str, ticket: &str) -> RenderOutput {
    RenderOutput::Text(format!(
        "Classify this ticket as billing, bug or other.\nTicket from {customer}: {ticket}"
    ))
}

#[test]
fn cost_counts_prices_and_totals_one_render() {
    let p = Project::with(&[("triage.yaml", TRIAGE), ("chat.yaml", CHAT)]);
    let ticket = "I was charged twice for March — please refund the duplicate 🙏";
    let out = p.json(&[
        "cost",
        "support/triage",
        "-v",
        "customer=Ada",
        "-v",
        &format!("ticket={ticket}"),
    ]);
    let expected = Counter::new().count(Some("gpt-4o-mini"), &text("Ada", ticket));
    assert_eq!(out["version"], "1.0.0");
    assert_eq!(out["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(out["input_tokens"]["tokens"], expected.tokens);
    assert_eq!(out["input_tokens"]["method"], "exact");
    assert_eq!(out["input_tokens"]["encoding"], "o200k_base");
    assert_eq!(out["price"]["entry"], "gpt-4o-mini");
    assert_eq!(out["price"]["source"], "shipped");
    let price = PriceTable::shipped().price("gpt-4o-mini").unwrap();
    assert_eq!(out["input_cost"]["nano_usd"], price.input_cost(expected.tokens).0);
    assert_eq!(out["total_cost"], out["input_cost"]);
    assert_eq!(out["prices_as_of"], PriceTable::shipped().as_of());

    // With output tokens and another model.
    let out = p.json(&[
        "cost",
        "support/triage@1.0.0",
        "-v",
        "ticket=hi",
        "--model",
        "gpt-4.1",
        "--output-tokens",
        "250",
    ]);
    let tokens = Counter::new().count(Some("gpt-4.1"), &text("a customer", "hi")).tokens;
    let price = PriceTable::shipped().price("gpt-4.1").unwrap();
    assert_eq!(out["input_tokens"]["tokens"], tokens);
    assert_eq!(out["output_tokens"], 250);
    assert_eq!(out["output_cost"]["nano_usd"], price.output_cost(250).0);
    assert_eq!(
        out["total_cost"]["nano_usd"],
        price.input_cost(tokens).0 + price.output_cost(250).0
    );
    let human = p.ok(&["cost", "support/triage", "-v", "ticket=hi", "--output-tokens", "250"]);
    assert!(human.contains("exact, o200k_base"), "{human}");
    assert!(human.contains("output tokens  250 (given)"), "{human}");
    assert!(human.contains("total"), "{human}");

    // A chat render carries OpenAI's per-message overhead.
    let out = p.json(&["cost", "chat/helper", "-v", "question=Why is the sky blue?"]);
    let messages = vec![
        ChatMessage::new(Role::System, "You are a terse assistant."),
        ChatMessage::new(Role::User, "Why is the sky blue?"),
    ];
    let counter = Counter::new();
    assert_eq!(
        out["input_tokens"]["tokens"],
        counter.count(Some("gpt-4.1"), &RenderOutput::Messages(messages)).tokens
    );
    let bare = counter.count_text(Some("gpt-4.1"), "You are a terse assistant.").tokens
        + counter.count_text(Some("gpt-4.1"), "Why is the sky blue?").tokens;
    assert_eq!(out["input_tokens"]["tokens"].as_u64().unwrap(), bare + 3 + 3 + 3 + 2);
}

#[test]
fn other_models_are_estimates_and_unknown_ones_have_no_price() {
    let p = Project::with(&[("triage.yaml", TRIAGE)]);
    let out = p.json(&[
        "cost",
        "support/triage",
        "-v",
        "ticket=hello",
        "--model",
        "claude-sonnet-4-5-20250929",
    ]);
    assert_eq!(out["input_tokens"]["method"], "estimate");
    assert!(out["input_tokens"].get("encoding").is_none());
    assert_eq!(out["price"]["entry"], "claude-sonnet-4-5");
    let human = p.ok(&[
        "cost",
        "support/triage",
        "-v",
        "ticket=hello",
        "--model",
        "claude-sonnet-4-5",
    ]);
    assert!(human.contains("(estimate)") && human.contains("an estimate"), "{human}");

    let out = p.json(&[
        "cost",
        "support/triage",
        "-v",
        "ticket=hello",
        "--model",
        "my-model",
        "--output-tokens",
        "9",
    ]);
    assert_eq!(out["price"], Value::Null);
    assert_eq!(out["input_cost"], Value::Null);
    assert_eq!(out["total_cost"], Value::Null);
    let human = p.ok(&["cost", "support/triage", "-v", "ticket=hello", "--model", "my-model"]);
    assert!(human.contains("no price for `my-model`"), "{human}");
    assert!(!human.contains("$0.0"), "{human}");

    // A missing variable is the render's error, with its hint.
    let (_, stderr) = p.expect(1, &["cost", "support/triage"]);
    assert!(stderr.contains("ticket"), "{stderr}");
}

#[test]
fn prices_in_the_config_file_override_the_shipped_ones() {
    let p = Project::with(&[("triage.yaml", TRIAGE)]);
    p.write(
        "prompt-manager.toml",
        "store = \"sqlite://./pm.db\"\n[prices.\"my-model\"]\ninput = 1.0\noutput = 4.0\n[prices.\"gpt-4o-mini\"]\ninput = 10\noutput = 20\n",
    );
    let out = p.json(&[
        "cost",
        "support/triage",
        "-v",
        "ticket=hello",
        "--model",
        "my-model",
        "--output-tokens",
        "1000",
    ]);
    assert_eq!(out["price"]["source"], "config");
    assert_eq!(out["output_cost"]["nano_usd"], 4_000_000);
    let out = p.json(&["cost", "support/triage", "-v", "ticket=hello"]);
    assert_eq!(out["price"]["input"], 10.0);
    assert_eq!(out["price"]["source"], "config");

    p.write(
        "prompt-manager.toml",
        "store = \"sqlite://./pm.db\"\n[prices.\"my-model\"]\ninput = -1.0\noutput = 4.0\n",
    );
    let output = p.run(&["cost", "support/triage", "-v", "ticket=x", "--model", "my-model"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0));
    assert!(
        stderr.contains("prompt-manager.toml") && stderr.contains("my-model"),
        "{stderr}"
    );
    assert!(stderr.contains("non-negative"), "{stderr}");

    p.write(
        "prompt-manager.toml",
        "store = \"sqlite://./pm.db\"\n[prices.\"my-model\"]\ninput = 1.0\n",
    );
    let output = p.run(&["cost", "support/triage", "-v", "ticket=x"]);
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("output"));
}

#[test]
fn diff_shows_tokens_per_render_and_cost_per_thousand_renders() {
    let p = Project::with(&[("triage.yaml", TRIAGE)]);
    let longer = TRIAGE.replace(
        "Classify this ticket as billing, bug or other.",
        "Classify this ticket as billing, bug, feature request or other. Answer with the category alone.",
    );
    let path = p.write("triage2.yaml", &longer);
    p.ok(&["update", path.to_str().unwrap()]);

    let out = p.json(&[
        "diff",
        "support/triage@1.0.0",
        "support/triage@1.1.0",
        "-v",
        "ticket=My bill is wrong",
    ]);
    let cost = &out["cost"];
    assert_eq!(cost["variables"], "given");
    let counter = Counter::new();
    let old = counter
        .count(Some("gpt-4o-mini"), &text("a customer", "My bill is wrong"))
        .tokens;
    let new_text = RenderOutput::Text(
        "Classify this ticket as billing, bug, feature request or other. Answer with the category alone.\nTicket from a customer: My bill is wrong".into(),
    );
    let new = counter.count(Some("gpt-4o-mini"), &new_text).tokens;
    assert_eq!(cost["from"]["input_tokens"]["tokens"], old);
    assert_eq!(cost["to"]["input_tokens"]["tokens"], new);
    assert_eq!(cost["tokens_change"], new as i64 - old as i64);
    let price = PriceTable::shipped().price("gpt-4o-mini").unwrap();
    assert_eq!(
        cost["per_1000_renders"]["from"]["nano_usd"],
        price.input_cost(old).0 * 1000
    );
    assert_eq!(
        cost["per_1000_renders"]["to"]["nano_usd"],
        price.input_cost(new).0 * 1000
    );

    let human = p.ok(&[
        "diff",
        "support/triage@1.0.0",
        "support/triage",
        "-v",
        "ticket=My bill is wrong",
    ]);
    assert!(
        human.contains(&format!("tokens per render: {old} → {new} (+{}", new - old)),
        "{human}"
    );
    assert!(human.contains("cost per 1,000 renders: $"), "{human}");

    // Without variables: `ticket` has no default, so no estimate — but the diff is shown.
    let (human, _) = p.expect(0, &["diff", "support/triage@1.0.0", "support/triage@1.1.0"]);
    assert!(
        human.contains("+Classify this ticket as billing, bug, feature request"),
        "{human}"
    );
    assert!(
        human.contains("cannot estimate tokens") && human.contains("`ticket`"),
        "{human}"
    );
    let out = p.json(&["diff", "support/triage@1.0.0", "support/triage@1.1.0"]);
    assert!(
        out["cost"]["unavailable"].as_str().unwrap().contains("-v key=value"),
        "{out}"
    );

    // Schema defaults are enough when every variable has one.
    let defaults = "id: defaults/only\nmodel_config:\n  model: claude-haiku-4-5\ntemplate: Hi {{ who }}\ninput_schema:\n  - name: who\n    type: string\n    default: there\n";
    let path = p.write("d.yaml", defaults);
    p.ok(&["create", path.to_str().unwrap()]);
    let path = p.write(
        "d2.yaml",
        &defaults.replace("Hi {{ who }}", "Hello again, {{ who }}, and welcome"),
    );
    p.ok(&["update", path.to_str().unwrap()]);
    let out = p.json(&["diff", "defaults/only@1.0.0", "defaults/only"]);
    assert_eq!(out["cost"]["variables"], "defaults");
    assert_eq!(out["cost"]["to"]["input_tokens"]["method"], "estimate");
    assert!(out["cost"]["tokens_change"].as_i64().unwrap() > 0);

    // An unknown model: tokens, and "no price".
    let human = p.ok(&[
        "diff",
        "support/triage@1.0.0",
        "support/triage",
        "-v",
        "ticket=x",
        "--model",
        "my-model",
    ]);
    assert!(human.contains("no price for `my-model`"), "{human}");
}
