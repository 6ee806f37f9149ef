//! A walk through the prompt lifecycle on the in-memory store: create text and chat prompts,
//! update them, label and roll back, render by reference, diff, list, move through statuses, then
//! export everything to a folder of YAML files, open it as a `dir://` store and import a library.
//!
//! Run with `cargo run -p prompt-manager-examples --example basic_usage`.

use prompt_manager::library::{self, ExportOptions};
use prompt_manager::versioning::suggest;
use prompt_manager::{
    Bump, ChatItem, CreateOptions, LabelName, ListQuery, ModelConfig, Prompt, PromptStatus, Role, VariableSpec,
    VariableType, Variables, VersioningExt,
};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Deprecation warnings are logged through `tracing`; show them on stderr.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .init();
    let pm = prompt_manager::in_memory();

    section("1. Create a text prompt and a chat prompt");
    let greeting = Prompt::text("greeting", "Hello {{ name }}! Welcome to {{ product }}.")?
        .with_description("Greets a new user")
        .with_tags(["onboarding"])
        .with_variable(VariableSpec::new("name", VariableType::String))
        .with_variable(VariableSpec::new("product", VariableType::String).with_default("Acme"));
    let v = pm.create(greeting).await?;
    println!("created {} (hash {})", v.reference(), v.content_hash);

    let triage = Prompt::chat(
        "support/triage",
        [
            ChatItem::message(
                Role::System,
                "You triage tickets for {{ product }}. Answer in {{ language }}.",
            ),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{ ticket }}"),
        ],
    )?
    .with_tags(["support"])
    .with_model_config(ModelConfig {
        model: Some("gpt-4o-mini".into()),
        temperature: Some(0.2),
        max_tokens: Some(400),
        ..ModelConfig::default()
    })
    .with_variable(VariableSpec::new("history", VariableType::Messages))
    .with_variable(VariableSpec::new("language", VariableType::String).with_default("English"));
    let outcome = pm
        .create_with(
            triage,
            CreateOptions {
                status: PromptStatus::Active,
                labels: vec![LabelName::new("production")?],
                ..CreateOptions::default()
            },
        )
        .await?;
    println!("created {} with label production", outcome.version.reference());

    section("2. Update: every change is a new immutable version");
    let warmer = Prompt::text("greeting", "Hi {{ name }}, welcome to {{ product }}!")?
        .with_description("Greets a new user")
        .with_tags(["onboarding"])
        .with_variable(VariableSpec::new("name", VariableType::String))
        .with_variable(VariableSpec::new("product", VariableType::String).with_default("Acme"));
    let saved = pm.update(warmer.clone(), Bump::Minor, "Warmer wording").await?;
    println!("update -> {} (created: {})", saved.version.reference(), saved.created);
    let again = pm.update(warmer, Bump::Minor, "Same content again").await?;
    println!(
        "identical content -> {} (created: {})",
        again.version.reference(),
        again.created
    );
    let personal = Prompt::text("greeting", "Hi {{ name }} from {{ city }}, welcome to {{ product }}!")?
        .with_description("Greets a new user")
        .with_tags(["onboarding"])
        .with_variable(VariableSpec::new("name", VariableType::String))
        .with_variable(VariableSpec::new("city", VariableType::String))
        .with_variable(VariableSpec::new("product", VariableType::String).with_default("Acme"));
    let (diff, suggestion) = pm.suggest_update(&personal).await?;
    println!(
        "suggested bump for a new variable: {} ({})",
        suggestion.bump,
        suggestion.reasons.join("; ")
    );
    println!("{diff}");
    let (saved, _) = pm.update_suggested(personal, None).await?;
    println!(
        "saved {} with changelog {:?}",
        saved.version.reference(),
        saved.version.changelog
    );

    section("3. Labels: set, move, history, rollback");
    pm.set_label("greeting", "production", "1.0.0").await?;
    pm.set_label("greeting", "staging", "2.0.0").await?;
    pm.set_label("greeting", "production", "1.1.0").await?;
    pm.set_label("greeting", "production", "2.0.0").await?;
    for (label, version) in pm.labels("greeting").await? {
        println!("label {label} -> {version}");
    }
    let back = pm.rollback("greeting", "production").await?;
    println!(
        "rollback production: {:?} -> {:?}",
        back.from.map(|v| v.to_string()),
        back.to.map(|v| v.to_string())
    );
    for event in pm.label_history("greeting", Some("production")).await? {
        println!(
            "  {:?} {} {:?} -> {:?}",
            event.kind,
            event.label,
            event.from.map(|v| v.to_string()),
            event.to.map(|v| v.to_string())
        );
    }

    section("4. Render by reference");
    let vars = Variables::new().with("name", "Ada").with("city", "Lyon");
    for reference in [
        "greeting",
        "greeting@1.0.0",
        "greeting@^1",
        "greeting@production",
        "greeting@staging",
    ] {
        println!("{reference:>22} => {}", pm.render(reference, &vars).await?);
    }
    let chat_vars = Variables::try_from(json!({
        "product": "Acme Cloud",
        "ticket": "My invoice shows {{ total }} instead of a number",
        "history": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"}
        ]
    }))?;
    for message in pm.render_chat("support/triage@production", &chat_vars).await? {
        println!("  {:>9}: {}", message.role, message.content);
    }
    match pm.render("greeting", &Variables::new()).await {
        Err(e) => println!("missing variables -> error: {e}"),
        Ok(text) => println!("unexpected success: {text}"),
    }

    section("5. Diff two versions");
    let diff = pm.diff("greeting@1.0.0", "greeting@2.0.0").await?;
    println!("{diff}");
    println!("suggested bump: {}", suggest(&diff).bump);

    section("6. List, filter, history");
    let page = pm
        .list(&ListQuery {
            tags: vec!["onboarding".into()],
            ..ListQuery::default()
        })
        .await?;
    for summary in &page.items {
        println!(
            "{} [{}] latest {} ({} versions)",
            summary.id, summary.status, summary.latest_version, summary.version_count
        );
    }
    for info in pm.history("greeting").await? {
        println!("  {} {}", info.version, info.changelog);
    }

    section("7. Lifecycle: draft -> active -> deprecated -> archived");
    pm.set_status("greeting", PromptStatus::Active).await?;
    pm.set_status("greeting", PromptStatus::Deprecated).await?;
    println!(
        "deprecated still renders: {}",
        pm.render("greeting@production", &vars).await?
    );
    pm.archive("greeting").await?;
    match pm.render("greeting@production", &vars).await {
        Err(e) => println!("archived -> error: {e}"),
        Ok(text) => println!("unexpected success: {text}"),
    }

    section("8. Durable stores: export to a folder of YAML files, open it by URL, import a library");
    let folder = std::env::temp_dir().join(format!("prompt-manager-example-{}", std::process::id()));
    let all = ExportOptions {
        all_versions: true,
        ..ExportOptions::default()
    };
    let written = library::export(&pm, folder.join("prompts"), &all).await?;
    println!("exported {written} versions to {}", folder.join("prompts").display());
    println!("  greeting/1.0.0.yaml:");
    let file = std::fs::read_to_string(folder.join("prompts/greeting/1.0.0.yaml"))?;
    for line in file.lines().take(9) {
        println!("    {line}");
    }
    let on_disk = prompt_manager::open(&format!("dir://{}", folder.join("prompts").display())).await?;
    println!(
        "dir:// store: greeting@production is {}, status {}",
        on_disk.get("greeting@production").await?.version,
        on_disk.summary("greeting").await?.status
    );
    std::fs::write(
        folder.join("library.yaml"),
        "prompts:\n  - id: shared/tone\n    template: Be brief.\n  - id: Bad Id\n    template: x\n",
    )?;
    match library::import(&on_disk, folder.join("library.yaml")).await {
        Err(e) => println!("a library with one bad entry is refused as a whole:\n  {e}"),
        Ok(report) => println!("unexpected success: {report:?}"),
    }
    println!(
        "shared/tone exists after the refused import: {}",
        on_disk.get("shared/tone").await.is_ok()
    );
    std::fs::remove_dir_all(&folder)?;
    Ok(())
}

fn section(title: &str) {
    println!("\n== {title}");
}
