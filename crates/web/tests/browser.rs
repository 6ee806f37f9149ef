//! The web UI in a real browser: two servers on real sockets (one open, one with API keys) over
//! SQLite stores seeded with the prompts `tests/browser/README.md` describes, then the journeys
//! of `tests/browser/journeys/` run by `node tests/browser/run.mjs` (playwright-core driving
//! Chromium). Skips with a notice when node, the npm packages or Chromium are missing, unless
//! `PROMPT_MANAGER_REQUIRE_BROWSER=1` (CI) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use prompt_manager::{
    Bump, ChatItem, ChatMessage, CreateOptions, Feedback, LabelName, ModelConfig, Prompt, PromptManager, PromptStatus,
    RenderOptions, Role, Split, SplitVariant, Template, ToolCall, UsageConfig, VariableSpec, VariableType, Variables,
};
use prompt_manager_server::keys::{self, Scope};
use prompt_manager_server::{AppOptions, Server, ServerConfig};

const REQUIRE: &str = "PROMPT_MANAGER_REQUIRE_BROWSER";
/// How long the whole browser run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Why the browser journeys cannot run here, if they cannot.
fn missing() -> Option<String> {
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("`node` is not on PATH (install Node.js 20 or later)".into());
    }
    let package = harness().join("node_modules/playwright-core/package.json");
    if !package.exists() {
        return Some(format!(
            "{} is missing: run `npm ci` in {}",
            package.display(),
            harness().display()
        ));
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (`apt-get install chromium`, or set CHROMIUM)"
        ));
    }
    None
}

fn active(labels: &[&str], changelog: &str) -> CreateOptions {
    CreateOptions {
        status: PromptStatus::Active,
        labels: labels.iter().map(|l| LabelName::new(*l).unwrap()).collect(),
        changelog: Some(changelog.into()),
        author: Some("ada".into()),
        ..CreateOptions::default()
    }
}

/// The prompts every journey can rely on (README.md lists them).
async fn seed(pm: &PromptManager) {
    // support/triage: text, 3 versions, schema, production → 1.1.0, staging → 2.0.0.
    let mut triage = Prompt::text("support/triage", "Classify this ticket: {{ ticket }}")
        .unwrap()
        .with_description("Sorts support tickets by urgency")
        .with_tags(["support", "triage"])
        .with_variable(VariableSpec::new("ticket", VariableType::String).with_description("The ticket's text"));
    pm.create_with(triage.clone(), active(&[], "First triage prompt"))
        .await
        .unwrap();
    triage.template = Template::Text(
        "Classify this ticket as low, normal or urgent.\n{% if team %}Team: {{ team }}\n{% endif %}Ticket: {{ ticket }}"
            .into(),
    );
    triage = triage.with_variable(VariableSpec::new("team", VariableType::String).with_default("general"));
    pm.update(triage.clone(), Bump::Minor, "Name the urgency levels; optional team")
        .await
        .unwrap();
    triage.template = Template::Text(
        "You triage support tickets for {{ product | default('our product') }}.\n\
         Classify this ticket as low, normal or urgent and give one reason.\n\
         {% if team %}Team: {{ team }}\n{% endif %}Ticket: {{ ticket }}"
            .into(),
    );
    triage.model_config = ModelConfig {
        model: Some("gpt-4o-mini".into()),
        temperature: Some(0.2),
        max_tokens: Some(200),
        ..ModelConfig::default()
    };
    pm.update(triage, Bump::Major, "Ask for a reason; model config")
        .await
        .unwrap();
    pm.set_label("support/triage", "production", "1.1.0").await.unwrap();
    pm.set_label("support/triage", "staging", "2.0.0").await.unwrap();

    // support/reply: chat with a placeholder and a tool call, 2 versions.
    let mut reply = Prompt::chat(
        "support/reply",
        vec![
            ChatItem::message(Role::System, "You answer customers of {{ product }} politely."),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{ question }}"),
        ],
    )
    .unwrap()
    .with_description("Drafts a reply to a customer")
    .with_tags(["support", "chat"])
    .with_variable(VariableSpec::new("product", VariableType::String).with_default("Acme"))
    .with_variable(VariableSpec::new("question", VariableType::String))
    .with_variable(VariableSpec::new("history", VariableType::Messages).optional());
    pm.create_with(reply.clone(), active(&["production"], "First reply prompt"))
        .await
        .unwrap();
    let Template::Chat(items) = &mut reply.template else {
        unreachable!()
    };
    items.insert(
        2,
        ChatItem::Message(
            ChatMessage::new(Role::Assistant, "Let me look up the order.").with_tool_calls([ToolCall {
                id: "call_1".into(),
                name: "lookup_order".into(),
                arguments: serde_json::json!({"order": "{{ order }}"}),
            }]),
        ),
    );
    items.insert(
        3,
        ChatItem::Message(ChatMessage::tool_result("call_1", "{\"status\": \"shipped\"}")),
    );
    pm.update(reply, Bump::Minor, "Look the order up first").await.unwrap();
    pm.set_label("support/reply", "staging", "1.1.0").await.unwrap();

    // A draft, a deprecated prompt, and enough others for a second browse page.
    pm.create(
        Prompt::text("marketing/tagline", "A tagline for {{ product }} in {{ words }} words.")
            .unwrap()
            .with_description("Short slogans")
            .with_tags(["marketing"]),
    )
    .await
    .unwrap();
    pm.create_with(
        Prompt::text("legacy/summary", "Summarize: {{ text }}")
            .unwrap()
            .with_tags(["legacy"]),
        active(&[], "Old summarizer"),
    )
    .await
    .unwrap();
    pm.set_status("legacy/summary", PromptStatus::Deprecated).await.unwrap();
    for i in 1..=55 {
        pm.create(
            Prompt::text(format!("translate/item-{i:03}"), format!("Item {i}: {{{{ input }}}}"))
                .unwrap()
                .with_tags(["translate"]),
        )
        .await
        .unwrap();
    }
}

/// An A/B test on support/triage — label `experiment`, 1.1.0 against 2.0.0 — with 300 renders
/// by split keys and their feedback (2.0.0 succeeds more often), recorded by a second manager on
/// the same database as another instance would record them, and flushed.
async fn record_experiment(pm: &PromptManager, url: &str) {
    let split = Split::new([
        SplitVariant::new("1.1.0".parse().unwrap(), 50),
        SplitVariant::new("2.0.0".parse().unwrap(), 50),
    ])
    .unwrap();
    pm.set_split("support/triage", "experiment", split).await.unwrap();
    let store = prompt_manager::open_store(url).await.unwrap();
    let instance = prompt_manager::builder()
        .store(store)
        .usage(UsageConfig::default())
        .watch_store(false)
        .build()
        .unwrap();
    let vars = Variables::new().with("ticket", "The app crashes when I log in");
    let mut served = [0u32; 2];
    for i in 0..300 {
        let key = format!("user-{i}");
        let rendered = instance
            .render_prompt_with("support/triage@experiment", &vars, &RenderOptions::split_key(&key))
            .await
            .unwrap();
        let newer = usize::from(rendered.version.major == 2);
        served[newer] += 1;
        let n = served[newer];
        let success = if newer == 1 { n % 10 < 9 } else { n % 10 < 6 };
        let feedback = Feedback {
            success: Some(success),
            score: Some(f64::from(n % 5) + if newer == 1 { 1.0 } else { 0.0 }),
        };
        let id = rendered.render_id.unwrap();
        instance.report_feedback(id.as_str(), &feedback).await.unwrap();
    }
    instance.flush_usage().await.unwrap();
}

/// A server on 127.0.0.1:0 over a seeded SQLite store in `dir`, with the UI; returns its URL.
async fn start(dir: &Path, name: &str, app: AppOptions, stop: tokio::sync::watch::Receiver<bool>) -> String {
    let url = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    let pm = prompt_manager::open(&url).await.unwrap();
    // The example `serve` seeds into an empty store (the playground journey uses it), then ours.
    prompt_manager_server::seed_example(&pm).await.unwrap();
    seed(&pm).await;
    record_experiment(&pm, &url).await;
    let config = ServerConfig {
        store: url,
        bind: "127.0.0.1:0".parse().unwrap(),
        app,
        seed_example: false,
        shutdown_grace: Duration::from_secs(1),
    };
    let server = Server::bind_with(pm, config).await.unwrap();
    let ui = prompt_manager_web::router(server.state().clone());
    let server = server.with_ui(ui, prompt_manager_web::HOME);
    let base = format!("http://{}", server.local_addr());
    let mut stop = stop;
    tokio::spawn(server.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journeys_pass_in_a_real_browser() {
    if let Some(why) = missing() {
        assert!(
            std::env::var(REQUIRE).as_deref() != Ok("1"),
            "{REQUIRE}=1 requires the browser journeys to run, but {why}"
        );
        eprintln!("SKIPPED the_journeys_pass_in_a_real_browser: {why} (set {REQUIRE}=1 to make this a failure)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys_file = dir.path().join("keys.json");
    let reader = keys::create(&keys_file, "reader", Scope::Read).unwrap();
    let writer = keys::create(&keys_file, "writer", Scope::Write).unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // The open server delivers webhooks: one subscription (to a port nobody listens on) that
    // receives every change its seed makes, each tried once and failed (the webhooks journey).
    let webhooks_file = dir.path().join("open-webhooks.json");
    prompt_manager_server::webhooks::add(
        &webhooks_file,
        "http://127.0.0.1:9/seeded",
        prompt_manager_server::webhooks::EventType::ALL.into_iter().collect(),
        0,
        true,
    )
    .unwrap();
    let open_options = AppOptions {
        webhooks_file: Some(webhooks_file),
        webhooks: prompt_manager_server::webhooks::WebhookOptions {
            allow_private: true,
            poll: Duration::from_millis(100),
            max_attempts: 1,
            ..Default::default()
        },
        ..AppOptions::default()
    };
    let open = start(dir.path(), "open", open_options, stopped.clone()).await;
    let keyed = start(
        dir.path(),
        "keyed",
        AppOptions {
            keys_file: Some(keys_file),
            ..AppOptions::default()
        },
        stopped,
    )
    .await;

    let mut command = tokio::process::Command::new("node");
    command
        .arg(harness().join("run.mjs"))
        .current_dir(harness())
        .env("PM_BASE_OPEN", &open)
        .env("PM_BASE_KEYS", &keyed)
        .env("PM_READ_KEY", &reader.token)
        .env("PM_WRITE_KEY", &writer.token)
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("the browser journeys took longer than {RUN_TIMEOUT:?}"))
        .unwrap();
    let _ = stop.send(true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Shown with --nocapture, and on failure below.
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "the browser journeys failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains(" passed, 0 failed"), "no summary in:\n{stdout}");
}
