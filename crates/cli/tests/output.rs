//! Snapshot tests (insta-cmd) of every command's output, human and JSON, against temporary
//! SQLite stores. Timestamps, hashes and temporary paths are filtered out of the snapshots.
//!
//! Update after an intended change: `INSTA_UPDATE=always cargo test -p prompt-manager-cli --test output`
//! (or `cargo insta review`), then read the diff of `tests/snapshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use insta_cmd::assert_cmd_snapshot;

/// Whether the binary under test can open `scheme://` stores: `--version` lists them.
fn built_with_store(f: &Fixture, scheme: &str) -> bool {
    let output = f.cmd(&["--version"]).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let stores = text
        .lines()
        .find_map(|l| l.strip_prefix("stores: "))
        .unwrap_or_else(|| panic!("`--version` lists no stores: {text:?}"));
    stores.split(", ").any(|s| s == scheme)
}

/// A temporary folder with a store holding a few prompts, and the binary run inside it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// An empty folder.
    fn empty() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A folder whose store (`sqlite://./pm.db`) holds `greeting` (1.0.0 labelled production,
    /// 1.1.0) and the chat prompt `support/triage`.
    fn with_prompts() -> Self {
        let f = Fixture::empty();
        f.write(
            "greeting.yaml",
            "id: greeting\ntemplate: |\n  Hello {{ name }}! Welcome to {{ product }}.\nmetadata:\n  description: Greets a new user\n  tags: [onboarding]\ninput_schema:\n  - name: name\n    type: string\n    description: The user's name\n  - name: product\n    type: string\n    default: Acme\n",
        );
        f.write(
            "triage.yaml",
            "id: support/triage\ntemplate:\n  - role: system\n    content: You triage tickets for {{ product }}.\n  - placeholder: history\n    optional: true\n  - role: user\n    content: \"{{ ticket }}\"\nmodel_config:\n  model: gpt-4o\n  max_tokens: 256\n",
        );
        f.quiet(&["create", "greeting.yaml", "--status", "active"]);
        f.quiet(&["label", "set", "greeting", "production", "1.0.0"]);
        f.quiet(&[
            "update",
            "--id",
            "greeting",
            "--template",
            "Hi {{ name }}! Welcome to {{ product }}.\n",
        ]);
        f.quiet(&["create", "triage.yaml", "--tag", "support"]);
        f
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut command = Command::new(insta_cmd::get_cargo_bin("prompt-manager"));
        command
            .args(args)
            .current_dir(self.path())
            .env("PROMPT_MANAGER_STORE", "sqlite://./pm.db")
            .env("NO_COLOR", "1")
            // The author the CLI records when the config names none: `$USER@hostname`.
            .env("USER", "ada")
            .env("HOSTNAME", "laptop")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("COLUMNS");
        command
    }

    /// Runs a setup step that must succeed.
    fn quiet(&self, args: &[&str]) {
        let output = self.cmd(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Snapshot settings: filters for what changes from run to run.
    fn settings(&self) -> insta::Settings {
        let mut settings = insta::Settings::clone_current();
        let tmp = self.path().display().to_string();
        settings.add_filter(&regex_escape(&tmp), "[TMP]");
        settings.add_filter(
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
            "[TIMESTAMP]",
        );
        settings.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "YYYY-MM-DD hh:mm:ss");
        settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[HASH]");
        settings.add_filter(r"\br1[A-Za-z0-9_-]{20,}", "[RENDER_ID]");
        settings.set_omit_expression(true);
        settings
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$#&-~".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

macro_rules! snap {
    ($fixture:expr, $name:expr, $args:expr) => {
        $fixture
            .settings()
            .bind(|| assert_cmd_snapshot!($name, $fixture.cmd($args)));
    };
}

#[test]
fn help_documents_exit_codes() {
    let f = Fixture::empty();
    snap!(f, "help", &["--help"]);
}

#[test]
fn init() {
    let f = Fixture::empty();
    snap!(f, "init", &["init"]);
    let g = Fixture::empty();
    snap!(g, "init_json", &["init", "-o", "json"]);
    snap!(g, "init_again", &["init"]);
}

#[test]
fn create_and_update() {
    let f = Fixture::with_prompts();
    snap!(
        f,
        "create",
        &[
            "create",
            "--id",
            "farewell",
            "--template",
            "Bye {{ name }}",
            "--label",
            "staging"
        ]
    );
    snap!(
        f,
        "create_json",
        &["create", "--id", "farewell2", "--template", "Bye", "-o", "json"]
    );
    snap!(f, "create_exists", &["create", "--id", "farewell", "--template", "Bye"]);
    snap!(
        f,
        "update_suggested",
        &["update", "--id", "farewell", "--template", "Goodbye {{ name }}"]
    );
    snap!(
        f,
        "update_bump_json",
        &[
            "update",
            "--id",
            "farewell",
            "--template",
            "Goodbye {{ name }} {{ when }}",
            "--bump",
            "minor",
            "-m",
            "Adds when",
            "-o",
            "json",
        ]
    );
    snap!(
        f,
        "update_no_changes",
        &[
            "update",
            "--id",
            "farewell",
            "--template",
            "Goodbye {{ name }} {{ when }}"
        ]
    );
    snap!(
        f,
        "update_dry_run",
        &["update", "--id", "farewell", "--template", "Bye", "--dry-run"]
    );
}

#[test]
fn show_list_history() {
    let f = Fixture::with_prompts();
    snap!(f, "show_text", &["show", "greeting@production"]);
    snap!(f, "show_chat", &["show", "support/triage"]);
    snap!(f, "show_json", &["show", "greeting", "-o", "json"]);
    snap!(f, "show_yaml", &["show", "support/triage", "-o", "yaml"]);
    snap!(f, "show_unknown", &["show", "greting"]);
    snap!(f, "list", &["list"]);
    snap!(f, "list_json", &["list", "-o", "json"]);
    snap!(
        f,
        "list_filtered",
        &["list", "--tag", "support", "--status", "draft", "--prefix", "support/"]
    );
    // The description, in another ASCII case; the tag `support` of support/triage.
    snap!(f, "list_search", &["list", "--search", "GREETS"]);
    snap!(f, "list_search_tag", &["list", "--search", "pport", "-o", "json"]);
    // `%` is a literal character, not a wildcard: nothing holds one.
    snap!(f, "list_search_literal", &["list", "--search", "%"]);
    snap!(f, "list_label", &["list", "--label", "production", "--search", "e"]);
    snap!(f, "list_bad_label", &["list", "--label", "not a label"]);
    snap!(f, "history", &["history", "greeting"]);
    snap!(f, "history_json", &["history", "greeting", "-o", "json"]);
}

#[test]
fn diff() {
    let f = Fixture::with_prompts();
    snap!(f, "diff_text", &["diff", "greeting@1.0.0", "greeting@1.1.0"]);
    snap!(
        f,
        "diff_json",
        &["diff", "greeting@production", "greeting", "-o", "json"]
    );
    f.write(
        "triage.yaml",
        "id: support/triage\ntemplate:\n  - role: system\n    content: You sort tickets for {{ product }}.\n  - role: user\n    content: \"{{ ticket }}\"\nmodel_config:\n  model: gpt-4o\n  max_tokens: 512\n",
    );
    f.quiet(&["update", "triage.yaml"]);
    snap!(
        f,
        "diff_chat",
        &["diff", "support/triage@1.0.0", "support/triage@2.0.0"]
    );
}

#[test]
fn labels_rollback_status() {
    let f = Fixture::with_prompts();
    snap!(f, "label_set", &["label", "set", "greeting", "production", "1.1.0"]);
    snap!(
        f,
        "label_set_again",
        &["label", "set", "greeting", "production", "1.1.0", "-o", "json"]
    );
    snap!(f, "label_list", &["label", "list", "greeting"]);
    snap!(f, "rollback", &["rollback", "greeting", "production"]);
    snap!(
        f,
        "rollback_json",
        &["rollback", "greeting", "production", "-o", "json"]
    );
    snap!(f, "label_history", &["label", "history", "greeting"]);
    snap!(
        f,
        "label_history_json",
        &["label", "history", "greeting", "--label", "production", "-o", "json"]
    );
    snap!(f, "label_remove", &["label", "remove", "greeting", "production"]);
    snap!(f, "status_show", &["status", "greeting"]);
    snap!(
        f,
        "status_set_json",
        &["status", "greeting", "deprecated", "-o", "json"]
    );
    snap!(f, "status_refused", &["status", "greeting", "draft"]);
    snap!(f, "archive", &["archive", "greeting"]);
    snap!(f, "render_archived", &["render", "greeting", "-v", "name=Ada"]);
}

#[test]
fn render() {
    let f = Fixture::with_prompts();
    f.write("vars.json", "{\"product\": \"Acme\", \"ticket\": \"My order is late\"}");
    snap!(f, "render_text", &["render", "greeting@production", "-v", "name=Ada"]);
    snap!(
        f,
        "render_text_json",
        &["render", "greeting", "-v", "name=Ada", "-o", "json"]
    );
    snap!(f, "render_missing", &["render", "support/triage"]);
    snap!(f, "render_missing_json", &["render", "support/triage", "-o", "json"]);
    snap!(
        f,
        "render_messages",
        &["render", "support/triage", "--vars", "vars.json"]
    );
    snap!(
        f,
        "render_openai",
        &["render", "support/triage", "--vars", "vars.json", "--as", "openai"]
    );
    snap!(
        f,
        "render_anthropic",
        &["render", "support/triage", "--vars", "vars.json", "--as", "anthropic"]
    );
    snap!(
        f,
        "render_gemini",
        &["render", "support/triage", "--vars", "vars.json", "--as", "gemini"]
    );
    snap!(
        f,
        "render_chat_as_text",
        &["render", "support/triage", "--vars", "vars.json", "--as", "text"]
    );
    snap!(f, "render_bad_var", &["render", "greeting", "-v", "name"]);
    // A JSON prompt file; `-v key=value` is a string, `-v key:=JSON` any value.
    f.write(
        "count.json",
        r#"{"id": "count", "template": "{{ n }} items", "input_schema": [{"name": "n", "type": "integer"}]}"#,
    );
    f.quiet(&["create", "count.json"]);
    snap!(f, "render_wrong_type", &["render", "count", "-v", "n=3"]);
    snap!(f, "render_json_value", &["render", "count", "-v", "n:=3"]);
}

#[test]
fn lint() {
    let f = Fixture::empty();
    f.write(
        "prompts/ok.yaml",
        "id: ok\ntemplate: Hello {{ name }}\ninput_schema:\n  - name: name\n",
    );
    f.write(
        "prompts/syntax.yaml",
        "id: syntax\ntemplate: |\n  first line\n  {{ name }\n",
    );
    f.write(
        "prompts/vars.yaml",
        "id: vars\ntemplate: Hi {{ name }} {{ extra }}\ninput_schema:\n  - name: name\n  - name: unused\n",
    );
    f.write(
        "prompts/include.yaml",
        "id: include\ntemplate: \"{% include 'nope' %}\"\n",
    );
    snap!(f, "lint_text", &["lint", "prompts"]);
    snap!(f, "lint_json", &["lint", "prompts", "--format", "json"]);
    let clean = Fixture::empty();
    clean.write(
        "prompts/ok.yaml",
        "id: ok\ntemplate: Hello {{ name }}\ninput_schema:\n  - name: name\n",
    );
    snap!(clean, "lint_clean", &["lint", "prompts"]);
}

#[test]
fn import_export() {
    let f = Fixture::with_prompts();
    snap!(f, "export_file", &["export", "library.yaml"]);
    snap!(
        f,
        "export_folder_json",
        &["export", "folder", "--all-versions", "-o", "json"]
    );
    let library = std::fs::read_to_string(f.path().join("library.yaml")).unwrap();
    f.settings()
        .bind(|| insta::assert_snapshot!("export_library_file", library));
    let g = Fixture::empty();
    g.write("library.yaml", &library);
    snap!(g, "import", &["import", "library.yaml"]);
    snap!(g, "import_again_json", &["import", "library.yaml", "-o", "json"]);
    g.write("bad.yaml", "prompts:\n  - id: a\n    template: \"{{ x \"\n");
    snap!(g, "import_bad", &["import", "bad.yaml"]);
}

/// Without the `postgres` feature a postgres:// URL says how to get it (password masked). Whether
/// the binary has it is asked of the binary: features unify across the workspace, so `cargo test
/// --workspace` builds it with postgres although this crate's own feature is off.
#[test]
fn item_12_postgres_errors_follow_how_the_binary_was_built() {
    let f = Fixture::empty();
    let postgres_url = "postgres://ada:hunter2@localhost:1/db";
    if built_with_store(&f, "postgres") {
        // With it, the URL is tried (nothing listens on port 1) and the password still masked.
        let output = f.cmd(&["--store", postgres_url, "list"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("postgres://ada:***@localhost:1/db"), "{stderr}");
        assert!(!stderr.contains("hunter2") && !stderr.contains("feature"), "{stderr}");
    } else {
        snap!(f, "error_postgres_not_built", &["--store", postgres_url, "list"]);
    }
}

#[test]
fn errors() {
    let f = Fixture::empty();
    snap!(
        f,
        "error_bad_store",
        &["--store", "sqlite:///nonexistent/folder/pm.db", "list"]
    );
    snap!(
        f,
        "error_unknown_scheme_json",
        &["--store", "mongodb://x", "list", "-o", "json"]
    );
    snap!(f, "error_usage", &["render"]);
    snap!(f, "error_empty_store", &["show", "anything"]);
}

#[test]
fn tool_calls() {
    let f = Fixture::empty();
    f.write(
        "rates.yaml",
        "id: rates\ntemplate:\n  - role: system\n    content: You quote mortgage rates.\n  - role: user\n    content: Rates for {{ years }} years?\n  - role: assistant\n    content: \"\"\n    tool_calls:\n      - {id: call_1, name: get_rates, arguments: {years: 30}}\n      - {id: call_2, name: get_fees, arguments: {}}\n  - role: tool\n    content: '{\"fixed\": 4.1}'\n    tool_call_id: call_1\n  - role: tool\n    content: '{\"fee\": 300}'\n    tool_call_id: call_2\n",
    );
    f.quiet(&["create", "rates.yaml"]);
    snap!(f, "tool_calls_show", &["show", "rates"]);
    snap!(f, "tool_calls_render", &["render", "rates", "-v", "years=30"]);
    f.write(
        "rates.yaml",
        "id: rates\ntemplate:\n  - role: system\n    content: You quote mortgage rates.\n  - role: user\n    content: Rates for {{ years }} years?\n  - role: assistant\n    content: \"\"\n    tool_calls:\n      - {id: call_1, name: get_rates, arguments: {years: 15}}\n      - {id: call_2, name: get_fees, arguments: {}}\n  - role: tool\n    content: '{\"fixed\": 4.1}'\n    tool_call_id: call_1\n  - role: tool\n    content: '{\"fee\": 300}'\n    tool_call_id: call_3\n",
    );
    f.quiet(&["update", "rates.yaml"]);
    snap!(f, "tool_calls_diff", &["diff", "rates@1.0.0", "rates@1.1.0"]);
}

#[test]
fn verify() {
    let f = Fixture::empty();
    let store = "dir://./prompts";
    f.quiet(&[
        "--store",
        store,
        "create",
        "--id",
        "greeting",
        "--template",
        "Hello {{ name }}!",
    ]);
    f.quiet(&["--store", store, "label", "set", "greeting", "production", "1.0.0"]);
    f.quiet(&[
        "--store",
        store,
        "update",
        "--id",
        "greeting",
        "--template",
        "Hello {{ name }}, welcome!",
        "--bump",
        "major",
    ]);
    f.quiet(&[
        "--store",
        store,
        "create",
        "--id",
        "farewell",
        "--template",
        "Bye {{ name }}",
    ]);
    snap!(f, "verify_clean", &["--store", store, "verify"]);

    // A new version file written by hand, without a hash, is accepted.
    f.write(
        "prompts/greeting/2.1.0.yaml",
        "changelog: added by hand\nprompt:\n  id: greeting\n  template: Hi {{ name }}, welcome!\n",
    );
    // An existing version edited by hand is not.
    let path = f.path().join("prompts/greeting/2.0.0.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("welcome!", "welcome back!")).unwrap();

    snap!(f, "verify_tampered", &["--store", store, "verify"]);
    snap!(f, "verify_tampered_json", &["--store", store, "verify", "-o", "json"]);
    snap!(
        f,
        "render_tampered",
        &["--store", store, "render", "greeting@2.0.0", "-v", "name=Ada"]
    );
    snap!(
        f,
        "render_added_by_hand",
        &["--store", store, "render", "greeting@2.1.0", "-v", "name=Ada"]
    );
}
