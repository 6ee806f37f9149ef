//! End-to-end tests: the built `prompt-manager` binary, run as a user would, in temporary folders
//! with real SQLite files and prompt folders.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The binary under test: the one Cargo built for this test, or the one
/// `PROMPT_MANAGER_BIN` names (CI runs this file again against the release build, so what a
/// user runs is what is tested).
fn binary() -> PathBuf {
    std::env::var_os("PROMPT_MANAGER_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_prompt-manager")), PathBuf::from)
}

/// A temporary project folder, and the binary run inside it.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(binary());
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("PROMPT_MANAGER_STORE")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("COLUMNS")
            .env("NO_COLOR", "1");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        output
    }

    /// Runs and expects exit code `code`; returns stdout.
    fn expect(&self, code: i32, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    fn stderr(&self, code: i32, args: &[&str]) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stderr).unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

#[test]
fn a_user_walks_through_the_lifecycle() {
    let p = Project::new();
    let init = p.ok(&["init"]);
    assert!(init.contains("Created prompt-manager.toml"), "{init}");
    assert!(init.contains("Next:"), "{init}");
    assert!(p.path().join("prompt-manager.toml").is_file());
    assert!(p.path().join("prompts/greeting.yaml").is_file());
    // A second init refuses to overwrite, and says how.
    assert!(p.stderr(2, &["init"]).contains("--force"));

    // The example is clean, and goes into the default store (SQLite, next to the config).
    assert!(p.ok(&["lint"]).contains("0 errors"));
    assert!(
        p.ok(&["create", "prompts/greeting.yaml"])
            .contains("Created greeting 1.0.0 (draft)")
    );
    assert!(
        p.path().join("prompt-manager.db").is_file(),
        "the config's store is used"
    );
    let shown = p.json(&["show", "greeting"]);
    assert_eq!(shown["version"], "1.0.0");
    assert_eq!(shown["input_schema"][0]["name"], "name");

    assert!(
        p.ok(&["label", "set", "greeting", "production", "1.0.0"])
            .contains("(none) → 1.0.0")
    );

    // Changed wording: the suggested bump (minor) is shown, then applied.
    let file = std::fs::read_to_string(p.path().join("prompts/greeting.yaml")).unwrap();
    p.write(
        "prompts/greeting.yaml",
        &file.replace("Hello {{ name }}!", "Hi {{ name }}!"),
    );
    let updated = p.ok(&["update", "prompts/greeting.yaml"]);
    assert!(updated.contains("Suggested bump: minor"), "{updated}");
    assert!(updated.contains("Updated greeting 1.0.0 → 1.1.0 (minor)"), "{updated}");
    // Same content again: nothing new.
    assert!(p.ok(&["update", "prompts/greeting.yaml"]).contains("No changes"));
    // An explicit bump with a changelog, from flags.
    let major = p.json(&[
        "update",
        "--id",
        "greeting",
        "--template",
        "Hey {{ name }}, {{ mood }}?",
        "--bump",
        "major",
        "-m",
        "Asks",
    ]);
    assert_eq!(major["version"], "2.0.0");
    assert_eq!(major["changelog"], "Asks");
    assert_eq!(major["suggested"], false);

    // Render by label, by version requirement, and with missing variables.
    assert_eq!(
        p.ok(&["render", "greeting@production", "-v", "name=Ada"]),
        "Hello Ada! Welcome to prompt-manager.\n"
    );
    assert_eq!(
        p.ok(&["render", "greeting@^1", "-v", "name=Ada"]),
        "Hi Ada! Welcome to prompt-manager.\n"
    );
    let missing = p.stderr(1, &["render", "greeting@1.1.0", "-v", "product=X"]);
    assert!(
        missing.contains("missing variable `name` (string, line 1)"),
        "{missing}"
    );
    assert!(missing.contains("hint:"), "{missing}");

    // Diff, human and JSON.
    let diff = p.ok(&["diff", "greeting@1.0.0", "greeting@1.1.0"]);
    assert!(diff.contains("-Hello {{ name }}!"), "{diff}");
    assert!(diff.contains("+Hi {{ name }}!"), "{diff}");
    assert!(!diff.contains('\x1b'), "no colour without a terminal");
    let diff = p.json(&["diff", "greeting@1.1.0", "greeting@2.0.0"]);
    assert_eq!(diff["bump"], "major");

    // Promote, roll back, see where the label went.
    p.ok(&["label", "set", "greeting", "production", "1.1.0"]);
    assert!(
        p.ok(&["rollback", "greeting", "production"])
            .contains("1.1.0 → 1.0.0 (rollback)")
    );
    let moves = p.json(&["label", "history", "greeting"]);
    assert_eq!(moves.as_array().unwrap().len(), 3);
    assert_eq!(moves[2]["kind"], "rollback");

    let history = p.json(&["history", "greeting"]);
    let versions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2.0.0", "1.1.0", "1.0.0"]);
    assert_eq!(history[2]["labels"][0], "production");

    // Status and archive: an archived prompt refuses to render (a refused state like a conflict,
    // exit 2, as the server answers 409: the content did not fail a check).
    assert_eq!(p.json(&["status", "greeting"])["status"], "draft");
    p.ok(&["status", "greeting", "active"]);
    assert!(p.ok(&["archive", "greeting"]).contains("active → archived"));
    assert!(
        p.stderr(2, &["render", "greeting", "-v", "name=A", "-v", "mood=ok"])
            .contains("status greeting active")
    );
    assert_eq!(p.json(&["list", "--status", "archived"]).as_array().unwrap().len(), 1);
    assert_eq!(p.json(&["list", "--status", "active"]).as_array().unwrap().len(), 0);
}

#[test]
fn chat_prompts_render_as_messages_and_framework_bodies() {
    let p = Project::new();
    p.write(
        "triage.yaml",
        "id: support/triage\ntemplate:\n  - role: system\n    content: You triage tickets for {{ product }}.\n  \
         - placeholder: history\n    optional: true\n  - role: user\n    content: \"{{ ticket }}\"\n\
         model_config:\n  model: gpt-4o\n  max_tokens: 256\n",
    );
    p.write("vars.yaml", "product: Acme\nticket: It broke\n");
    let store = format!("dir://{}", p.path().join("store").display());
    p.ok(&["--store", &store, "create", "triage.yaml", "--tag", "support"]);
    let messages = p.ok(&["--store", &store, "render", "support/triage", "--vars", "vars.yaml"]);
    assert_eq!(messages, "[system]\nYou triage tickets for Acme.\n\n[user]\nIt broke\n");
    let openai: Value = serde_json::from_str(&p.ok(&[
        "--store",
        &store,
        "render",
        "support/triage",
        "--vars",
        "vars.yaml",
        "--as",
        "openai",
    ]))
    .unwrap();
    assert_eq!(openai["model"], "gpt-4o");
    assert_eq!(openai["messages"][0]["role"], "system");
    let anthropic: Value = serde_json::from_str(&p.ok(&[
        "--store",
        &store,
        "render",
        "support/triage",
        "--vars",
        "vars.yaml",
        "--as",
        "anthropic",
    ]))
    .unwrap();
    assert_eq!(anthropic["system"], "You triage tickets for Acme.");
    // Variables from stdin, JSON values with `:=`.
    let mut child = p
        .command(&[
            "--store",
            &store,
            "render",
            "support/triage",
            "--vars",
            "-",
            "-v",
            "ticket:=42",
            "-o",
            "json",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"{\"product\": \"Stdin\"}").unwrap();
    let output = child.wait_with_output().unwrap();
    let rendered: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rendered["output"][0]["content"], "You triage tickets for Stdin.");
    assert_eq!(rendered["output"][1]["content"], "42");
    // A chat diff is per message.
    p.write(
        "triage.yaml",
        &std::fs::read_to_string(p.path().join("triage.yaml"))
            .unwrap()
            .replace("You triage", "You sort"),
    );
    p.ok(&["--store", &store, "update", "triage.yaml", "--tag", "support"]);
    let diff = p.ok(&["--store", &store, "diff", "support/triage@1.0.0"]);
    assert!(diff.contains("message 1"), "{diff}");
    assert!(diff.contains("+You sort tickets"), "{diff}");
    // Filters.
    assert_eq!(
        p.json(&["--store", &store, "list", "--tag", "support"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        p.json(&["--store", &store, "list", "--prefix", "billing/"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// The planted mistakes: (file, line, code), each to be reported exactly once.
const PLANTED: &[(&str, usize, &str)] = &[
    ("broken-yaml.yaml", 3, "yaml"),
    ("syntax.yaml", 4, "template_syntax"),
    ("vars.yaml", 4, "undefined_variable"),
    ("vars.yaml", 8, "unused_variable"),
    ("bad-id.yaml", 1, "invalid_id"),
    ("includes.yaml", 3, "unresolved_include"),
    ("cycle-a.yaml", 2, "include_cycle"),
    ("library.yaml", 6, "template_syntax"),
    ("store/greeting/1.1.0.yaml", 3, "id_mismatch"),
    ("store/greeting/_labels.yaml", 6, "unresolved_label"),
];

fn plant(p: &Project) -> PathBuf {
    let root = p.path().join("prompts");
    let files = [
        (
            "ok.yaml",
            "id: ok\ntemplate: Hello {{ name }}\ninput_schema:\n  - name: name\n",
        ),
        ("broken-yaml.yaml", "id: broken\ntemplate: fine\nmetadata: [unclosed\n"),
        ("syntax.yaml", "id: syntax\ntemplate: |\n  first line\n  {{ name }\n"),
        (
            "vars.yaml",
            "id: vars\ntemplate: |\n  Hi {{ name }},\n  your {{ order_id }} shipped.\ninput_schema:\n  - name: name\n    type: string\n  - name: unused\n",
        ),
        ("bad-id.yaml", "id: Support/Triage\ntemplate: hi\n"),
        (
            "includes.yaml",
            "id: includes\ntemplate: |\n  {% include \"shared/missing\" %}\n  {% include \"ok\" %}\n",
        ),
        ("cycle-a.yaml", "id: cycle-a\ntemplate: \"A {% include 'cycle-b' %}\"\n"),
        ("cycle-b.yaml", "id: cycle-b\ntemplate: \"B {% include 'cycle-a' %}\"\n"),
        (
            "library.yaml",
            "prompts:\n  - id: lib/one\n    template: fine\n  - id: lib/two\n    template: |\n      {% if x %}unclosed\n",
        ),
        (
            "store/greeting/1.0.0.yaml",
            "prompt:\n  id: greeting\n  template: Hello\n",
        ),
        (
            "store/greeting/1.1.0.yaml",
            "changelog: moved\nprompt:\n  id: greetings\n  template: Hello\n",
        ),
        (
            "store/greeting/_labels.yaml",
            "status: active\ncreated_at: 2026-01-01T00:00:00Z\nupdated_at: 2026-01-01T00:00:00Z\nlabels:\n  production: 1.0.0\n  staging: 2.0.0\n",
        ),
    ];
    for (name, text) in files {
        p.write(&format!("prompts/{name}"), text);
    }
    root
}

#[test]
fn lint_reports_each_planted_mistake_once_at_its_line() {
    let p = Project::new();
    plant(&p);
    let report: Value = serde_json::from_str(&p.expect(1, &["lint", "prompts", "--format", "json"])).unwrap();
    let mut found: Vec<(String, u64, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let file = d["file"].as_str().unwrap().strip_prefix("prompts/").unwrap().to_owned();
            (
                file,
                d["line"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut expected: Vec<(String, u64, String)> = PLANTED
        .iter()
        .map(|(f, l, c)| ((*f).to_owned(), *l as u64, (*c).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(found, expected, "{report:#}");
    assert_eq!(report["files"], 12);
    assert_eq!(report["errors"], 9);
    assert_eq!(report["warnings"], 1);

    // The compiler-style text: file:line:column: error: message.
    let text = p.expect(1, &["lint", "prompts"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("prompts/syntax.yaml:4:") && l.contains(": error: ")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("prompts/vars.yaml:8:11: warning: ")),
        "{text}"
    );
    assert!(text.ends_with("12 files: 9 errors, 1 warning\n"), "{text}");

    // Fixing everything makes it pass; warnings alone pass unless denied.
    for (name, _, _) in PLANTED {
        if *name != "vars.yaml" {
            std::fs::remove_file(p.path().join("prompts").join(name)).unwrap();
        }
    }
    p.write(
        "prompts/vars.yaml",
        "id: vars\ntemplate: Hi {{ name }}\ninput_schema:\n  - name: name\n  - name: unused\n",
    );
    p.write("prompts/cycle-b.yaml", "id: cycle-b\ntemplate: B\n");
    let clean = p.ok(&["lint", "prompts"]);
    assert!(clean.contains("0 errors, 1 warning"), "{clean}");
    p.expect(1, &["lint", "prompts", "--deny-warnings"]);
}

#[test]
fn templates_from_python_render_as_jinja2_and_what_would_fail_is_refused_at_save() {
    // The issue's scenarios, run through this binary (CI runs this file against the release
    // build too): without an input schema, every missing variable is named with its line.
    let p = Project::new();
    p.ok(&[
        "--store",
        "dir://store",
        "create",
        "--id",
        "g1",
        "--template",
        "Hello {{ name }}!\n{{ title }}",
    ]);
    let missing = p.stderr(1, &["--store", "dir://store", "render", "g1"]);
    assert!(
        missing.contains("missing variables `name` (line 1), `title` (line 2)"),
        "{missing}"
    );

    // Python's methods and Jinja2's filters render as Jinja2 renders them.
    p.write(
        "vars.json",
        r#"{"profile": {"name": "Ada", "role": "admin"}, "s": "  a b  ", "xs": ["x", "y"], "price": 1.5e-7, "n": "42abc"}"#,
    );
    let template = "{% for k, v in profile.items() %}{{ k }}={{ v }};{% endfor %} {{ profile.get('plan', 1) }} \
        {{ s.split()|join('+') }} [{{ s.strip() }}] {{ ', '.join(xs) }} {{ '{}!'.format(xs[0]) }} {{ price }} \
        {{ n|int }} {{ 'a long sentence here'|truncate(9, leeway=0) }} {{ profile|tojson }} {{ 'ü'|tojson }}";
    p.ok(&["--store", "dir://store", "create", "--id", "py", "--template", template]);
    let out = p.ok(&["--store", "dir://store", "render", "py", "--vars", "vars.json"]);
    assert_eq!(
        out.trim_end(),
        r#"name=Ada;role=admin; 1 a+b [a b] x, y x! 1.5e-07 0 a... {"name": "Ada", "role": "admin"} "\u00fc""#
    );

    // What every render would refuse is refused when saved, and lint says where.
    let refused = p.stderr(
        1,
        &[
            "--store",
            "dir://store",
            "create",
            "--id",
            "bad",
            "--template",
            "Hi\n{{ x|nosuch }}",
        ],
    );
    assert!(refused.contains("unknown filter `nosuch`"), "{refused}");
    assert!(refused.contains("line 2"), "{refused}");
    p.write(
        "prompts/append.yaml",
        "id: append\ntemplate: |\n  {% set xs = [] %}\n  {% set _ = xs.append(1) %}\n",
    );
    let lint = p.expect(1, &["lint", "prompts"]);
    assert!(
        lint.lines()
            .any(|l| l.starts_with("prompts/append.yaml:4:") && l.contains("`.append()` changes a value in place")),
        "{lint}"
    );
}

#[test]
fn export_then_import_into_a_fresh_sqlite_store_gives_the_same_prompts() {
    let p = Project::new();
    let a = format!("sqlite://{}", p.path().join("a.db").display());
    let b = format!("sqlite://{}", p.path().join("b.db").display());
    let c = format!("sqlite://{}", p.path().join("c.db").display());
    for i in 0..25 {
        p.ok(&[
            "--store",
            &a,
            "create",
            "--id",
            &format!("bulk/p{i:02}"),
            "--template",
            "Item {{ n }}",
            "--tag",
            "bulk",
        ]);
    }
    p.write(
        "chat.yaml",
        "id: support/triage\ntemplate:\n  - role: system\n    content: Triage for {{ product }}.\n  - role: user\n    content: \"{{ ticket }}\"\n",
    );
    p.ok(&[
        "--store",
        &a,
        "create",
        "chat.yaml",
        "--status",
        "active",
        "--label",
        "staging",
    ]);
    p.ok(&[
        "--store",
        &a,
        "update",
        "--id",
        "support/triage",
        "--description",
        "Sorts tickets",
        "-m",
        "Describe",
    ]);
    p.ok(&["--store", &a, "label", "set", "support/triage", "production", "1.0.0"]);
    p.ok(&[
        "--store",
        &a,
        "update",
        "--id",
        "bulk/p03",
        "--template",
        "Thing {{ n }}",
        "--bump",
        "patch",
    ]);

    // To a library file and back into a fresh store.
    let exported = p.json(&["--store", &a, "export", "library.yaml", "--all-versions", "--quiet"]);
    assert_eq!(exported["prompts"], 26);
    assert_eq!(exported["versions"], 28);
    let imported = p.json(&["--store", &b, "import", "library.yaml"]);
    assert_eq!(imported["created"].as_array().unwrap().len(), 28);
    // Importing again changes nothing.
    let again = p.json(&["--store", &b, "import", "library.yaml"]);
    assert_eq!(again["created"].as_array().unwrap().len(), 0);

    p.ok(&["--store", &b, "export", "library-b.yaml", "--all-versions"]);
    let first = std::fs::read_to_string(p.path().join("library.yaml")).unwrap();
    let second = std::fs::read_to_string(p.path().join("library-b.yaml")).unwrap();
    assert_eq!(
        first, second,
        "the round trip keeps every version, label, status and date"
    );

    let summaries = |store: &str| {
        let mut list = p.json(&["--store", store, "list"]);
        for item in list.as_array_mut().unwrap() {
            let item = item.as_object_mut().unwrap();
            item.remove("created_at");
            item.remove("updated_at");
        }
        list
    };
    assert_eq!(summaries(&a), summaries(&b));
    for reference in ["support/triage@1.0.0", "support/triage@1.1.0", "bulk/p03@1.0.1"] {
        assert_eq!(
            p.json(&["--store", &a, "show", reference]),
            p.json(&["--store", &b, "show", reference]),
            "{reference}"
        );
    }

    // Through a folder (the dir:// layout) too.
    p.ok(&["--store", &a, "export", "folder", "--all-versions"]);
    assert!(p.path().join("folder/support/triage/1.1.0.yaml").is_file());
    p.ok(&["lint", "folder"]);
    p.ok(&["--store", &c, "import", "folder"]);
    assert_eq!(summaries(&a), summaries(&c));
}

#[test]
fn errors_say_what_to_do_and_nothing_panics() {
    let p = Project::new();
    let store = format!("sqlite://{}", p.path().join("pm.db").display());
    p.ok(&[
        "--store",
        &store,
        "create",
        "--id",
        "support/triage",
        "--template",
        "T {{ x }}",
    ]);

    let unknown = p.stderr(2, &["--store", &store, "show", "support/triag"]);
    assert!(unknown.contains("prompt `support/triag` not found"), "{unknown}");
    assert!(unknown.contains("did you mean `support/triage`?"), "{unknown}");

    let bad = p.stderr(2, &["--store", "postgres://ada:hunter2@127.0.0.1:1/db", "list"]);
    assert!(bad.contains("postgres://ada:***@127.0.0.1:1/db"), "{bad}");
    assert!(!bad.contains("hunter2"), "{bad}");
    let json: Value = serde_json::from_str(&p.stderr(2, &["--store", "nosuch://x", "list", "-o", "json"])).unwrap();
    assert_eq!(json["error"]["code"], "config");
    assert_eq!(json["error"]["exit_code"], 2);

    let help = p.ok(&["--help"]);
    assert!(
        help.contains("Exit codes:") && help.contains("1  a check failed"),
        "{help}"
    );
    p.expect(2, &["no-such-command"]);

    p.write("list.json", "[1, 2]");
    p.write("bad.yaml", "id: x\ntemplate: [\n");
    let odd: &[&[&str]] = &[
        &["show", ""],
        &["show", "@@"],
        &["show", "support/triage@^^"],
        &["show", "../etc/passwd"],
        &["render", "support/triage", "-v", "noequals"],
        &["render", "support/triage", "-v", "x:=not json"],
        &["render", "support/triage", "--vars", "list.json"],
        &["render", "support/triage", "--vars", "missing.json"],
        &["label", "set", "support/triage", "BAD LABEL", "1.0.0"],
        &["label", "set", "support/triage", "prod", "9.9.9"],
        &["rollback", "support/triage", "prod"],
        &["status", "support/triage", "draft"],
        &["diff", "support/triage@1.0.0", "nope"],
        &["create"],
        &["create", "bad.yaml"],
        &["create", "missing.yaml"],
        &["update", "--id", "support/triage"],
        &["import", "missing"],
        &["import", "bad.yaml"],
        &["lint", "missing"],
        &["history", "x\u{7}y"],
    ];
    for args in odd {
        let mut all = vec!["--store", store.as_str()];
        all.extend_from_slice(args);
        let output = p.run(&all);
        let code = output.status.code();
        assert!(matches!(code, Some(1 | 2)), "{args:?} exited {code:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("error: ") || stderr.contains("\nerror: ") || stderr.contains("error:"),
            "{args:?}: {stderr}"
        );
    }
    let bad_yaml = p.stderr(2, &["--store", &store, "create", "bad.yaml"]);
    assert!(bad_yaml.contains("bad.yaml:2:"), "{bad_yaml}");
}

#[test]
fn config_is_found_upward_and_flags_win() {
    let p = Project::new();
    p.write(
        "prompt-manager.toml",
        "store = \"dir://store\"\n[defaults]\noutput = \"json\"\n[server]\nbind = \"x\"\n",
    );
    std::fs::create_dir_all(p.path().join("deep/er")).unwrap();
    let mut command = p.command(&["create", "--id", "a", "--template", "A"]);
    let output = command.current_dir(p.path().join("deep/er")).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(created["version"], "1.0.0", "output = json from the config");
    assert!(
        p.path().join("store/a/1.0.0.yaml").is_file(),
        "dir://store is relative to the config file"
    );

    // The environment beats the config file, --store beats both.
    let elsewhere = format!("dir://{}", p.path().join("other").display());
    let mut command = p.command(&["list", "-o", "table"]);
    let output = command.env("PROMPT_MANAGER_STORE", &elsewhere).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "No prompts match.\n");
    assert!(
        p.ok(&["--store", "memory://", "list", "-o", "table"])
            .contains("No prompts match.")
    );
    let completions = p.ok(&["completions", "bash"]);
    assert!(completions.contains("prompt-manager"), "{completions}");
}

#[test]
fn colour_is_forced_only_when_asked_and_never_with_no_color() {
    let p = Project::new();
    let store = format!("dir://{}", p.path().join("s").display());
    p.ok(&["--store", &store, "create", "--id", "a", "--template", "one"]);
    p.ok(&["--store", &store, "update", "--id", "a", "--template", "two"]);
    let mut forced = p.command(&["--store", &store, "diff", "a@1.0.0", "a@1.1.0"]);
    let output = forced
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\x1b[32m+two\x1b[0m"), "{text:?}");
    let mut both = p.command(&["--store", &store, "diff", "a@1.0.0", "a@1.1.0"]);
    let output = both.env("CLICOLOR_FORCE", "1").output().unwrap();
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains('\x1b'),
        "NO_COLOR wins"
    );
}

#[test]
fn a_broken_config_does_not_block_the_commands_that_fix_or_bypass_it() {
    let p = Project::new();
    p.write("prompt-manager.toml", "store = \n");
    let err = p.stderr(2, &["list"]);
    assert!(err.contains("prompt-manager.toml:1:"), "{err}");
    // --store bypasses it (with a warning), completions never needed it, init --force replaces it.
    let store = format!("dir://{}", p.path().join("s").display());
    let output = p.run(&["--store", &store, "list", "-o", "json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("warning: ignoring prompt-manager.toml"));
    p.ok(&["completions", "fish"]);
    p.ok(&["init", "--force"]);
    p.ok(&["list"]);
    // An empty PROMPT_MANAGER_STORE names no store: the config file's is used.
    let mut command = p.command(&["list", "-o", "json"]);
    let output = command.env("PROMPT_MANAGER_STORE", "").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_folder_of_prompt_files_imports_and_an_empty_one_is_an_error() {
    let p = Project::new();
    p.ok(&["init"]);
    p.write(
        "prompts/support/triage.json",
        r#"{"id": "support/triage", "template": "Triage {{ ticket }}"}"#,
    );
    p.write("prompts/.hidden.yaml", "not: a prompt\n");
    let imported = p.json(&["import", "prompts"]);
    let created: Vec<String> = imported["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("{}@{}", v["id"].as_str().unwrap(), v["version"].as_str().unwrap()))
        .collect();
    assert_eq!(created, ["greeting@1.0.0", "support/triage@1.0.0"]);
    assert_eq!(p.ok(&["render", "support/triage", "-v", "ticket=42"]), "Triage 42\n");
    // The same files again: nothing new.
    assert_eq!(p.json(&["import", "prompts"])["created"], Value::Array(vec![]));

    std::fs::create_dir_all(p.path().join("empty")).unwrap();
    let err = p.stderr(2, &["import", "empty"]);
    assert!(err.contains("holds no prompts"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let quiet = p.stderr(2, &["--quiet", "import", "empty"]);
    assert!(
        quiet.contains("holds no prompts") && !quiet.contains("hint:"),
        "{quiet}"
    );
}

#[test]
fn init_keeps_passwords_out_of_the_config_file() {
    let p = Project::new();
    let err = p.stderr(2, &["--store", "postgres://ada:s3cret@db.example/pm", "init"]);
    assert!(err.contains("holds a password"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert!(!p.path().join("prompt-manager.toml").exists());
    let err = p.stderr(2, &["--store", "postgres:/ada:s3cret@db/pm", "list"]);
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn a_dry_run_of_identical_content_reports_no_new_version() {
    let p = Project::new();
    let store = format!("dir://{}", p.path().join("s").display());
    p.ok(&["--store", &store, "create", "--id", "a", "--template", "one"]);
    let dry = p.json(&[
        "--store",
        &store,
        "update",
        "--id",
        "a",
        "--template",
        "one",
        "--dry-run",
    ]);
    assert_eq!(dry["version"], "1.0.0", "{dry}");
    assert!(dry.get("bump").is_none(), "{dry}");
    let dry = p.json(&[
        "--store",
        &store,
        "update",
        "--id",
        "a",
        "--template",
        "two",
        "--dry-run",
    ]);
    assert_eq!(dry["version"], "1.1.0", "{dry}");
    assert_eq!(dry["bump"], "minor", "{dry}");
    let shown = p.json(&["--store", &store, "show", "a"]);
    assert!(shown["created_at"].as_str().unwrap().ends_with('Z'), "{shown}");
}

#[test]
fn rendering_a_deprecated_prompt_warns() {
    let p = Project::new();
    let store = format!("dir://{}", p.path().join("s").display());
    p.ok(&["--store", &store, "create", "--id", "a", "--template", "one"]);
    p.ok(&["--store", &store, "status", "a", "active"]);
    p.ok(&["--store", &store, "status", "a", "deprecated"]);
    let output = p.run(&["--store", &store, "render", "a"]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "one\n");
    assert!(String::from_utf8_lossy(&output.stderr).contains("`a` is deprecated"));
}

#[test]
fn verify_finds_hand_edited_versions_and_accepts_hand_added_ones() {
    let p = Project::new();
    let store = "dir://./prompts";
    p.ok(&[
        "--store",
        store,
        "create",
        "--id",
        "greeting",
        "--template",
        "Hello {{ name }}!",
    ]);
    p.ok(&[
        "--store",
        store,
        "create",
        "--id",
        "farewell",
        "--template",
        "Bye {{ name }}",
    ]);
    p.ok(&[
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
    let clean = p.json(&["--store", store, "verify"]);
    assert_eq!(clean["ok"], true, "{clean}");
    assert_eq!(clean["versions"], 3, "{clean}");

    // The hash a version had when saved, as its file records it.
    let saved = p.json(&["--store", store, "show", "greeting@2.0.0"])["content_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = p.path().join("prompts/greeting/2.0.0.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&saved), "{text}");
    std::fs::write(&path, text.replace("welcome!", "welcome back!")).unwrap();
    // A new version file, written by hand without a hash: the supported way to add a version.
    p.write(
        "prompts/greeting/2.1.0.yaml",
        "prompt:\n  id: greeting\n  template: Hi {{ name }}!\n",
    );
    let added = p.json(&["--store", store, "show", "greeting@2.1.0"]);
    let added_hash = added["content_hash"].as_str().unwrap();
    assert!(added_hash.starts_with("sha256:") && added_hash != saved, "{added}");

    let out = p.expect(1, &["--store", store, "verify", "-o", "json"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["versions"], 4, "{report}");
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "only the edited version: {report}");
    let problem = &problems[0];
    assert_eq!(problem["code"], "content_hash_mismatch");
    assert_eq!(problem["prompt"], "greeting");
    assert_eq!(problem["version"], "2.0.0");
    assert_eq!(problem["expected_hash"], saved.as_str());
    let actual = problem["actual_hash"].as_str().unwrap();
    assert!(actual.starts_with("sha256:") && actual != saved, "{problem}");
    assert!(
        problem["location"]
            .as_str()
            .unwrap()
            .ends_with("prompts/greeting/2.0.0.yaml"),
        "{problem}"
    );

    // Loading the edited version fails (exit 1) naming the file and both hashes; everything
    // else still loads, and the listing still shows every prompt.
    let err = p.stderr(1, &["--store", store, "render", "greeting@2.0.0", "-v", "name=Ada"]);
    for part in ["prompts/greeting/2.0.0.yaml", saved.as_str(), actual] {
        assert!(err.contains(part), "`{part}` in: {err}");
    }
    assert!(err.contains("prompt-manager verify"), "{err}");
    assert_eq!(
        p.ok(&["--store", store, "render", "greeting@1.0.0", "-v", "name=Ada"]),
        "Hello Ada!\n"
    );
    assert_eq!(
        p.ok(&["--store", store, "render", "greeting", "-v", "name=Ada"]),
        "Hi Ada!\n"
    );
    assert_eq!(
        p.ok(&["--store", store, "render", "farewell", "-v", "name=Ada"]),
        "Bye Ada\n"
    );
    assert_eq!(p.json(&["--store", store, "list"]).as_array().unwrap().len(), 2);

    // Restoring the file repairs the store.
    std::fs::write(&path, &text).unwrap();
    assert_eq!(p.json(&["--store", store, "verify"])["ok"], true);

    // A label edited to point at a version that does not exist is a problem too.
    p.ok(&["--store", store, "label", "set", "farewell", "production", "1.0.0"]);
    let labels = p.path().join("prompts/farewell/_labels.yaml");
    let text = std::fs::read_to_string(&labels).unwrap();
    assert!(text.contains("production: \"1.0.0\""), "{text}");
    std::fs::write(&labels, text.replace("production: \"1.0.0\"", "production: \"9.0.0\"")).unwrap();
    let out = p.expect(1, &["--store", store, "verify"]);
    assert!(
        out.contains("label `production` of prompt `farewell` points to version 9.0.0, which does not exist [label_target_missing]"),
        "{out}"
    );
}

#[test]
fn verify_finds_a_changed_sqlite_row() {
    let p = Project::new();
    let store = "sqlite://./pm.db";
    p.ok(&[
        "--store",
        store,
        "create",
        "--id",
        "greeting",
        "--template",
        "Hello {{ name }}!",
    ]);
    p.ok(&["--store", store, "label", "set", "greeting", "production", "1.0.0"]);
    assert!(
        p.ok(&["--store", store, "verify"])
            .starts_with("verified 1 prompt, 1 version, 1 label")
    );
    let status = Command::new("sqlite3")
        .arg(p.path().join("pm.db"))
        .arg("UPDATE pm_versions SET prompt = replace(prompt, 'Hello', 'Howdy')")
        .status();
    let Ok(status) = status else {
        // The sqlite3 shell is optional here; the storage tests change rows through sqlx.
        eprintln!("skipping: no sqlite3 command");
        return;
    };
    assert!(status.success());
    let out = p.expect(1, &["--store", store, "verify"]);
    assert!(
        out.contains("table pm_versions, row (prompt_id 'greeting', version '1.0.0')"),
        "{out}"
    );
    assert!(out.contains("[content_hash_mismatch]"), "{out}");
    assert!(out.contains("1 problem"), "{out}");
}

#[test]
fn protected_labels_need_force_and_every_change_is_in_a_verifiable_audit_log() {
    let p = Project::new();
    for store in ["dir://./prompts", "sqlite://./pm.db"] {
        fn pm<'a>(store: &'a str, args: &[&'a str]) -> Vec<&'a str> {
            let mut all = vec!["--store", store];
            all.extend(args);
            all
        }
        let pm = |args: &[&'static str]| pm(store, args);
        p.ok(&pm(&["create", "--id", "shared/tone", "--template", "Be kind."]));
        p.ok(&pm(&[
            "update",
            "--id",
            "shared/tone",
            "--template",
            "Be very kind.",
            "--bump",
            "minor",
            "-m",
            "Kinder",
        ]));
        p.ok(&pm(&["label", "set", "shared/tone", "production", "1.0.0"]));
        p.ok(&pm(&[
            "create",
            "--id",
            "support",
            "--template",
            "{% include \"shared/tone@production\" %} Help {{ name }}.",
        ]));
        p.ok(&pm(&["label", "set", "support", "production", "1.0.0"]));

        // Protect: from now on the label moves only with --force, which is recorded.
        assert!(
            p.ok(&pm(&["label", "protect", "shared/tone", "production"]))
                .contains("protected")
        );
        let refused = p.stderr(2, &pm(&["label", "set", "shared/tone", "production", "1.1.0"]));
        assert!(
            refused.contains("label `production` of `shared/tone` is protected"),
            "{refused}"
        );
        assert!(refused.contains("--force"), "{refused}");
        let still = p.json(&pm(&["label", "list", "shared/tone"]));
        assert_eq!(still["production"], "1.0.0", "a refused move changes nothing");
        assert!(
            p.stderr(2, &pm(&["label", "unprotect", "shared/tone", "production"]))
                .contains("protected")
        );

        // With --force it moves, and whoever follows the label is named.
        let moved = p.ok(&pm(&["label", "set", "shared/tone", "production", "1.1.0", "--force"]));
        assert!(moved.contains("1.0.0 → 1.1.0 (forced)"), "{moved}");
        assert!(moved.contains("followed by 1"), "{moved}");
        assert!(moved.contains("support@1.0.0"), "{moved}");
        let refused = p.stderr(2, &pm(&["rollback", "shared/tone", "production"]));
        assert!(refused.contains("is protected"), "{refused}");

        // Impact analysis: who includes the prompt, and how.
        let dependents = p.json(&pm(&["dependents", "shared/tone"]));
        let dependents = dependents.as_array().unwrap();
        assert_eq!(dependents.len(), 1, "{dependents:?}");
        assert_eq!(dependents[0]["prompt"], "support");
        assert_eq!(dependents[0]["kind"], "label");
        assert_eq!(dependents[0]["resolves_to"], "1.1.0");
        assert_eq!(dependents[0]["labels"][0], "production");
        assert!(
            p.json(&pm(&["dependents", "shared/tone@1.0.0"]))
                .as_array()
                .unwrap()
                .is_empty()
        );

        // The audit log: every change, with who made it; a forced move says so.
        let log = p.json(&pm(&["audit", "shared/tone"]));
        let actions: Vec<&str> = log
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "version_created",
                "version_created",
                "label_set",
                "label_protected",
                "label_set"
            ],
            "{log}"
        );
        let last = log.as_array().unwrap().last().unwrap();
        assert_eq!(last["forced"], true);
        assert!(last["actor"].as_str().is_some_and(|a| a.contains('@')), "{last}");
        let verified = p.json(&pm(&["audit", "verify"]));
        assert_eq!(verified["ok"], true, "{verified}");
        assert_eq!(verified["entries"], 7);
    }

    // An edited entry is found: exit 1, naming the entry.
    let entry = p.path().join("prompts/_audit/00000000000000000003.json");
    let text = std::fs::read_to_string(&entry).unwrap();
    assert!(text.contains("1.0.0"), "{text}");
    p.write(
        "prompts/_audit/00000000000000000003.json",
        &text.replacen("1.0.0", "9.9.9", 1),
    );
    let broken = p.expect(1, &["--store", "dir://./prompts", "audit", "verify"]);
    assert!(broken.contains("audit entry 3 was edited"), "{broken}");
}

#[test]
fn an_ab_split_is_set_rendered_sticky_listed_ended_and_rolled_back() {
    let p = Project::new();
    p.ok(&["init"]);
    p.ok(&["create", "prompts/greeting.yaml"]);
    let file = std::fs::read_to_string(p.path().join("prompts/greeting.yaml")).unwrap();
    p.write(
        "prompts/greeting.yaml",
        &file.replace("Hello {{ name }}!", "Hi {{ name }}!"),
    );
    p.ok(&["update", "prompts/greeting.yaml"]);
    p.ok(&["label", "set", "greeting", "production", "1.0.0"]);

    let split = p.ok(&["label", "split", "greeting", "production", "1.0.0=50", "1.1.0=50"]);
    assert!(split.contains("1.0.0 → split 1.0.0=50 1.1.0=50"), "{split}");
    let listed = p.ok(&["label", "list", "greeting"]);
    assert!(listed.contains("split 1.0.0=50 1.1.0=50"), "{listed}");
    let listed = p.json(&["label", "list", "greeting"]);
    assert_eq!(listed["production"][1]["weight"], 50, "{listed}");
    let shown = p.json(&["show", "greeting@1.0.0"]);
    assert_eq!(shown["splits"]["production"][0]["version"], "1.0.0", "{shown}");

    // The same key gets the same variant every time (each run is a new process), and stderr
    // names it; JSON output carries it as `variant`.
    let render = |key: &str| {
        let output = p.run(&["render", "greeting@production", "-v", "name=Ada", "--split-key", key]);
        assert!(output.status.success());
        (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let mut texts = std::collections::BTreeSet::new();
    for i in 0..12 {
        let key = format!("user-{i}");
        let (text, note) = render(&key);
        assert_eq!(render(&key).0, text, "sticky for {key}");
        assert!(note.contains("split production: variant 1."), "{note}");
        assert!(note.contains("sticky"), "{note}");
        let json = p.json(&["render", "greeting@production", "-v", "name=Ada", "--split-key", &key]);
        assert_eq!(json["variant"]["label"], "production");
        let served = json["variant"]["version"].as_str().unwrap().to_owned();
        assert_eq!(text.starts_with("Hi Ada!"), served == "1.1.0", "{text} from {served}");
        texts.insert(text);
    }
    assert_eq!(texts.len(), 2, "both variants serve some of 12 keys: {texts:?}");

    // Bad input is refused, nothing is stored.
    let err = p.stderr(2, &["label", "split", "greeting", "production", "1.0.0=0", "1.1.0=1"]);
    assert!(err.contains("weight"), "{err}");
    let err = p.stderr(2, &["label", "split", "greeting", "production", "1.0.0=1", "9.0.0=1"]);
    assert!(err.contains("9.0.0"), "{err}");

    // Ending the test, then rolling the end back, then the history.
    assert!(
        p.ok(&["label", "set", "greeting", "production", "1.1.0"])
            .contains("split 1.0.0=50 1.1.0=50 → 1.1.0")
    );
    assert!(
        p.ok(&["rollback", "greeting", "production"])
            .contains("→ split 1.0.0=50 1.1.0=50 (rollback)")
    );
    let history = p.ok(&["label", "history", "greeting"]);
    assert_eq!(history.matches("split 1.0.0=50 1.1.0=50").count(), 3, "{history}");
    let history = p.json(&["label", "history", "greeting"]);
    assert_eq!(history[1]["to_split"][1]["version"], "1.1.0", "{history}");

    // A protected label needs --force for a split too.
    p.ok(&["label", "protect", "greeting", "production"]);
    p.stderr(2, &["label", "split", "greeting", "production", "1.0.0=1", "1.1.0=3"]);
    assert!(
        p.ok(&[
            "label",
            "split",
            "--force",
            "greeting",
            "production",
            "1.0.0=1",
            "1.1.0=3"
        ])
        .contains("(forced)")
    );
}

/// The URL of a service in `var`, or `None` to skip (a failure when
/// `PROMPT_MANAGER_REQUIRE_SERVICES=1`).
fn service(var: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|u| !u.is_empty());
    assert!(
        url.is_some() || std::env::var("PROMPT_MANAGER_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{var} is required"
    );
    url
}

/// `--store s3://BUCKET/PREFIX`: the product binary keeps prompts in an S3-compatible bucket;
/// each command is a new process that reads the log, so what one wrote the next sees, and the
/// same bucket behind a shared Redis gives the same answers.
#[test]
fn the_cli_works_on_an_s3_bucket() {
    let Some(base) = service("PROMPT_MANAGER_TEST_S3_URL") else {
        return;
    };
    let p = Project::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let (bucket, query) = base.split_once('?').unwrap_or((&base, ""));
    let store = format!(
        "{}/pmcli/{}-{nanos}?{query}",
        bucket.trim_end_matches('/'),
        std::process::id()
    );
    p.ok(&[
        "--store",
        &store,
        "create",
        "--id",
        "team/greet",
        "--template",
        "Hello {{ name }}!",
    ]);
    p.ok(&["--store", &store, "label", "set", "team/greet", "production", "1.0.0"]);
    p.ok(&[
        "--store",
        &store,
        "update",
        "--id",
        "team/greet",
        "--template",
        "Hi {{ name }}!",
        "-m",
        "Shorter",
    ]);
    let out = p.ok(&["--store", &store, "render", "team/greet@production", "-v", "name=Ada"]);
    assert_eq!(out.trim(), "Hello Ada!");
    p.ok(&["--store", &store, "label", "set", "team/greet", "production", "1.1.0"]);
    let out = p.ok(&["--store", &store, "render", "team/greet@production", "-v", "name=Ada"]);
    assert_eq!(out.trim(), "Hi Ada!");
    let listed = p.ok(&["--store", &store, "list"]);
    assert!(listed.contains("team/greet") && listed.contains("1.1.0"), "{listed}");
    let history = p.ok(&["--store", &store, "history", "team/greet"]);
    assert!(history.contains("Shorter"), "{history}");
    let audit = p.ok(&["--store", &store, "audit", "verify"]);
    assert!(audit.contains("4 entries"), "{audit}");

    if let Some(redis) = std::env::var("PROMPT_MANAGER_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let cached = format!("{redis}?namespace=pmcli-s3-{nanos}&store={store}");
        let out = p.ok(&["--store", &cached, "render", "team/greet@production", "-v", "name=Bo"]);
        assert_eq!(out.trim(), "Hi Bo!");
    }

    let err = p.stderr(2, &["--store", "s3://pmtest?secret_access_key=hunter2", "list"]);
    assert!(
        err.contains("AWS_SECRET_ACCESS_KEY") && !err.contains("hunter2"),
        "{err}"
    );
    let version = p.ok(&["--version"]);
    assert!(version.contains("s3"), "{version}");
}

/// `--store redis://…?store=URL`: the product binary puts a shared Redis in front of a folder
/// store; what it renders is what the folder holds, Redis keeps the lookups for the next
/// process, and a URL without `store=` says what it needs.
#[test]
fn the_cli_works_through_a_redis_cache_in_front_of_a_folder() {
    let Some(redis) = service("PROMPT_MANAGER_TEST_REDIS_URL") else {
        return;
    };
    let p = Project::new();
    let namespace = format!("pmcli{}", std::process::id());
    let store = format!(
        "{redis}?namespace={namespace}&ttl=60&store=dir://{}",
        p.path().join("prompts").display()
    );
    p.ok(&[
        "--store",
        &store,
        "create",
        "--id",
        "team/greet",
        "--template",
        "Hello {{ name }}!",
    ]);
    p.ok(&["--store", &store, "label", "set", "team/greet", "production", "1.0.0"]);
    for _ in 0..2 {
        let out = p.ok(&["--store", &store, "render", "team/greet@production", "-v", "name=Ada"]);
        assert_eq!(out.trim(), "Hello Ada!");
    }
    // The folder is the store of record: the version is a file there.
    assert!(p.path().join("prompts/team/greet").exists());
    // Redis holds the lookup for the next process, under the namespace (stored in the
    // background: a process that exits first leaves it to the next).
    let mut keys = String::new();
    for _ in 0..20 {
        let scan = Command::new("redis-cli")
            .args(["-u", &redis, "--scan", "--pattern", &format!("{namespace}:p:*")])
            .output()
            .unwrap();
        keys = String::from_utf8_lossy(&scan.stdout).into_owned();
        if keys.contains(&format!("{namespace}:p:0:team/greet")) {
            break;
        }
        p.ok(&["--store", &store, "render", "team/greet@production", "-v", "name=Ada"]);
    }
    assert!(keys.contains(&format!("{namespace}:p:0:team/greet")), "{keys}");
    // A new version moved through the cache is what the next render sees.
    p.ok(&[
        "--store",
        &store,
        "update",
        "--id",
        "team/greet",
        "--template",
        "Hi {{ name }}!",
        "-m",
        "Shorter",
    ]);
    p.ok(&["--store", &store, "label", "set", "team/greet", "production", "1.1.0"]);
    let out = p.ok(&["--store", &store, "render", "team/greet@production", "-v", "name=Ada"]);
    assert_eq!(out.trim(), "Hi Ada!");

    let err = p.stderr(2, &["--store", &redis, "list"]);
    assert!(err.contains("store=URL"), "{err}");
    // The store's password behind the cache is no more written to the config than its own.
    let secret = format!("{redis}?store=postgres://ada:hunter2@db.example/pm");
    let err = p.stderr(2, &["--store", &secret, "init"]);
    assert!(err.contains("holds a password") && !err.contains("hunter2"), "{err}");
    let version = p.ok(&["--version"]);
    assert!(version.contains("redis"), "{version}");
}

/// Other tools' files: a folder of Prompty and Langfuse files imports all or nothing (their
/// warnings on stderr), renders, and exports back as either format; a bad file is named with its
/// line and column, and nothing is imported.
#[test]
fn langfuse_and_prompty_files_import_and_export() {
    let p = Project::new();
    let store = "sqlite://./pm.db";
    p.write(
        "foreign/support/triage.prompty",
        "---\nname: Triage\ndescription: Routes tickets\nmodel:\n  id: gpt-4o\n  options:\n    temperature: 0.2\n\
         inputs:\n  - name: ticket\n    kind: string\n---\nsystem:\nRoute the ticket to a team.\n\nuser:\n{{ ticket }}\n",
    );
    p.write(
        "foreign/critic.json",
        r#"[{"name": "movie-critic", "version": 1, "type": "text", "prompt": "Do you like {{movie}}?", "config": {}, "labels": [], "tags": []},
            {"name": "movie-critic", "version": 2, "type": "text", "prompt": "As a {{level}} critic, do you like {{movie}}?",
             "config": {"model": "gpt-4o"}, "labels": ["production", "latest"], "tags": ["movies"], "commitMessage": "Level", "isActive": true, "extra": 1}]"#,
    );
    let out = p.expect(0, &["--store", store, "import", "foreign"]);
    assert!(out.contains("3 new versions"), "{out}");
    let err = String::from_utf8(p.run(&["--store", store, "import", "foreign"]).stderr).unwrap();
    assert!(
        err.contains("warning:") && err.contains("`extra`"),
        "the field left behind is named: {err}"
    );
    let out = p.ok(&[
        "--store",
        store,
        "render",
        "movie-critic@production",
        "-v",
        "level=harsh",
        "-v",
        "movie=Alien",
    ]);
    assert_eq!(out.trim(), "As a harsh critic, do you like Alien?");
    let out = p.ok(&[
        "--store",
        store,
        "render",
        "support/triage",
        "-v",
        "ticket=Refund please",
    ]);
    assert!(
        out.contains("Route the ticket") && out.contains("Refund please"),
        "{out}"
    );

    let out = p.ok(&[
        "--store",
        store,
        "export",
        "out-langfuse",
        "--format",
        "langfuse",
        "--all-versions",
    ]);
    assert!(out.contains("as langfuse"), "{out}");
    let written = std::fs::read_to_string(p.path().join("out-langfuse/movie-critic.json")).unwrap();
    assert!(
        written.contains("\"commitMessage\": \"Level\"") && written.contains("\"latest\""),
        "{written}"
    );
    p.ok(&[
        "--store",
        store,
        "label",
        "set",
        "support/triage",
        "production",
        "1.0.0",
    ]);
    p.ok(&[
        "--store",
        store,
        "export",
        "out-prompty",
        "--format",
        "prompty",
        "--label",
        "production",
    ]);
    let prompty = std::fs::read_to_string(p.path().join("out-prompty/support/triage.prompty")).unwrap();
    assert!(
        prompty.contains("temperature: 0.2") && prompty.contains("user:\n{{ ticket }}"),
        "{prompty}"
    );
    assert!(p.path().join("out-prompty/movie-critic.prompty").exists());

    // The exports import into another store with the same content.
    p.ok(&["--store", "sqlite://./again.db", "import", "out-prompty"]);
    let a = p.json(&["--store", store, "show", "support/triage"]);
    let b = p.json(&["--store", "sqlite://./again.db", "show", "support/triage"]);
    assert_eq!(a["content_hash"], b["content_hash"], "{a}\n{b}");

    // A bad file refuses the whole folder, at its place.
    p.write(
        "foreign/zz-bad.json",
        r#"{"name": "bad", "type": "text", "prompt": "Hi {{user-name}}"}"#,
    );
    let err = p.stderr(2, &["--store", "sqlite://./fresh.db", "import", "foreign"]);
    assert!(err.contains("zz-bad.json:1:") && err.contains("`user-name`"), "{err}");
    let listed = p.ok(&["--store", "sqlite://./fresh.db", "list"]);
    assert!(!listed.contains("movie-critic"), "nothing was imported: {listed}");
    let err = p.stderr(2, &["--store", store, "export", "x", "--format", "yaml-ish"]);
    assert!(err.contains("langfuse, prompty, mlflow"), "{err}");
}

/// MLflow's prompt versions (as `tools/mlflow-prompts.py dump` writes them) import with their
/// aliases as labels, render, and export back as MLflow's JSON with the same templates.
#[test]
fn mlflow_files_import_and_export() {
    let p = Project::new();
    let store = "sqlite://./pm.db";
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/mlflow");
    for name in ["summarize.json", "qa-chat.json", "jinja-conditional.json"] {
        p.write(
            &format!("mlflow/{name}"),
            &std::fs::read_to_string(corpus.join(name)).unwrap(),
        );
    }
    let out = p.expect(0, &["--store", store, "import", "mlflow"]);
    assert!(out.contains("4 new versions"), "{out}");
    let out = p.ok(&[
        "--store",
        store,
        "render",
        "summarize@staging",
        "-v",
        "num_sentences=1",
        "-v",
        "text=Short.",
    ]);
    assert_eq!(out.trim(), "Summarize the following text in 1 sentences:\n\nShort.");
    let shown = p.json(&["--store", store, "show", "summarize@production"]);
    assert_eq!(shown["version"], "2.0.0", "{shown}");
    let shown = p.json(&["--store", store, "show", "qa.chat"]);
    assert_eq!(shown["model_config"]["model"], "claude-sonnet-4-5", "{shown}");

    let out = p.ok(&[
        "--store",
        store,
        "export",
        "out",
        "--format",
        "mlflow",
        "--all-versions",
    ]);
    assert!(out.contains("as mlflow"), "{out}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path().join("out/summarize.json")).unwrap()).unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("summarize.json")).unwrap()).unwrap();
    for i in 0..2 {
        assert_eq!(written[i]["template"], original[i]["template"], "{written}");
        assert_eq!(written[i]["aliases"], original[i]["aliases"], "{written}");
    }
    // The export reads back into another store with the same content.
    p.ok(&["--store", "sqlite://./again.db", "import", "out", "--format", "mlflow"]);
    let a = p.json(&["--store", store, "show", "support-reply"]);
    let b = p.json(&["--store", "sqlite://./again.db", "show", "support-reply"]);
    assert_eq!(a["content_hash"], b["content_hash"], "{a}\n{b}");

    // A variable MLflow allows and we cannot have is refused at its place; nothing is imported.
    p.write(
        "mlflow/zz-dotted.json",
        "[{\"name\": \"dotted\",\n  \"template\": \"Hi {{ user.name }}\"}]",
    );
    let err = p.stderr(2, &["--store", "sqlite://./fresh.db", "import", "mlflow"]);
    assert!(
        err.contains("zz-dotted.json:2:") && err.contains("`user.name`"),
        "{err}"
    );
    let listed = p.ok(&["--store", "sqlite://./fresh.db", "list"]);
    assert!(!listed.contains("summarize"), "nothing was imported: {listed}");
}

/// `sync plan` and `sync apply` as a CI job runs them: pull the store into a folder, release a
/// new version file in the folder, plan (exit 0, the suggested bump shown), push; a hand edit of
/// a released version makes the plan exit 1 and apply change nothing.
#[test]
fn sync_plans_and_applies_a_folder_in_both_directions() {
    let p = Project::new();
    let store = "sqlite://./server.db";
    p.ok(&[
        "--store",
        store,
        "create",
        "--id",
        "greeting",
        "--template",
        "Hello {{ name }}!",
    ]);
    p.ok(&["--store", store, "label", "set", "greeting", "production", "1.0.0"]);
    let out = p.ok(&["--store", store, "sync", "apply", "prompts", "--direction", "pull"]);
    assert!(out.contains("Pulled: created 1 version, moved 1 label"), "{out}");
    assert!(p.path().join("prompts/greeting/1.0.0.yaml").exists());

    // A new version file, written by hand as a person would in a pull request.
    p.write(
        "prompts/greeting/1.1.0.yaml",
        "version: \"1.1.0\"\nchangelog: Say where from\nprompt:\n  id: greeting\n  format: text\n  template: Hello {{ name }} from {{ city }}!\n",
    );
    let out = p.ok(&["--store", store, "sync", "plan", "prompts"]);
    assert!(
        out.contains("create 1.1.0") && out.contains("major suggested (added variable `city`)"),
        "{out}"
    );
    let plan = p.json(&["--store", store, "sync", "plan", "prompts"]);
    assert_eq!(plan["conflicts"], 0, "{plan}");
    assert_eq!(
        plan["plan"]["prompts"][0]["push"]["actions"][0]["kind"], "create_version",
        "{plan}"
    );
    let out = p.ok(&["--store", store, "sync", "apply", "prompts"]);
    assert!(out.contains("Pushed: created 1 version"), "{out}");
    let shown = p.json(&["--store", store, "show", "greeting"]);
    assert_eq!(shown["version"], "1.1.0", "{shown}");
    assert_eq!(p.json(&["--store", store, "sync", "plan", "prompts"])["in_sync"], true);

    // A released version edited in place: exit 1, a way out named, nothing changed.
    let file = p.path().join("prompts/greeting/1.0.0.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("Hello {{ name }}!", "Hello there {{ name }}!")).unwrap();
    let out = p.expect(1, &["--store", store, "sync", "plan", "prompts"]);
    assert!(
        out.contains("edited after it was saved") && out.contains("git checkout -- greeting/1.0.0.yaml"),
        "{out}"
    );
    let out = p.expect(1, &["--store", store, "sync", "apply", "prompts"]);
    assert!(out.contains("nothing was changed"), "{out}");
    let history = p.json(&["--store", store, "history", "greeting"]);
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");
}

/// `webhooks add|list|deliveries|remove` on the webhooks file: the secret is printed once, a
/// private address is refused unless allowed, listings never show a secret.
#[test]
fn webhooks_are_managed_from_the_command_line() {
    let p = Project::new();
    let store = "sqlite://./pm.db";
    p.ok(&[
        "--store",
        store,
        "create",
        "--id",
        "greeting",
        "--template",
        "Hi {{ name }}",
    ]);
    let err = p.stderr(2, &["--store", store, "webhooks", "add", "http://127.0.0.1:9000/hook"]);
    assert!(err.contains("private-network"), "{err}");
    let err = p.stderr(
        2,
        &[
            "--store",
            store,
            "webhooks",
            "add",
            "https://hooks.example.com/pm",
            "--events",
            "version.made",
        ],
    );
    assert!(
        err.contains("unknown event `version.made`") && err.contains("label.moved"),
        "{err}"
    );
    let added = p.json(&[
        "--store",
        store,
        "webhooks",
        "add",
        "http://127.0.0.1:9000/hook",
        "--allow-private",
        "--events",
        "version.created,label.moved",
    ]);
    assert!(added["secret"].as_str().unwrap().starts_with("whsec_"), "{added}");
    assert_eq!(added["events"], serde_json::json!(["version.created", "label.moved"]));
    let id = added["id"].as_str().unwrap().to_owned();
    let listed = p.ok(&["--store", store, "webhooks", "list"]);
    assert!(listed.contains(&id) && !listed.contains("whsec_"), "{listed}");
    let file = std::fs::read_to_string(p.path().join("prompt-manager-webhooks.json")).unwrap();
    let file: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(
        file["subscriptions"][0]["after_seq"], 1,
        "only changes after the subscription: {file}"
    );
    let out = p.ok(&["--store", store, "webhooks", "deliveries"]);
    assert!(out.contains("No deliveries yet"), "{out}");
    p.ok(&["--store", store, "webhooks", "remove", &id]);
    let err = p.stderr(2, &["--store", store, "webhooks", "remove", &id]);
    assert!(err.contains("no webhook"), "{err}");
}

/// `export --format` into a folder that holds an older export of other content refuses and
/// writes nothing; the same content again is fine.
#[test]
fn a_foreign_export_does_not_overwrite_other_content() {
    let p = Project::new();
    let store = "sqlite://./pm.db";
    p.ok(&[
        "--store",
        store,
        "create",
        "--id",
        "greet",
        "--template",
        "Hello {{ name }}!",
    ]);
    p.ok(&["--store", store, "export", "out", "--format", "langfuse"]);
    p.ok(&["--store", store, "export", "out", "--format", "langfuse"]);
    p.ok(&[
        "--store",
        store,
        "update",
        "--id",
        "greet",
        "--template",
        "Hi {{ name }}!",
    ]);
    let before = std::fs::read_to_string(p.path().join("out/greet.json")).unwrap();
    let err = p.stderr(2, &["--store", store, "export", "out", "--format", "langfuse"]);
    assert!(err.contains("greet.json") && err.contains("other content"), "{err}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("out/greet.json")).unwrap(),
        before
    );
}

/// `lint` on a folder of other tools' files reads them as `import` does: a format error and a
/// template error at their places, fields left behind as warnings; Dotprompt files too.
#[test]
fn lint_checks_langfuse_and_prompty_files() {
    let p = Project::new();
    p.write("ok.prompty", "---\nname: ok\n---\nsystem:\nHello {{ name }}\n");
    p.write("broken.prompty", "---\nname: broken\n---\nsystem:\nHello {{ name }\n");
    p.write(
        "extra.json",
        r#"{"name": "extra", "type": "text", "prompt": "Hi {{x}}", "shiny": true}"#,
    );
    p.write(
        "bad.json",
        "{\"name\": \"bad\", \"type\": \"text\",\n \"prompt\": \"Hi {{user-name}}\"}",
    );
    p.write("fine.prompt", "---\nmodel: x\n---\n{{role \"system\"}}\nHi {{name}}\n");
    p.write(
        "nested.prompt",
        "---\nmodel: x\n---\n{{#if a}}\n{{role \"system\"}}{{/if}}\n",
    );
    p.write("helper.prompt", "---\nvariant: short\n---\nHi {{shout name}}\n");
    let output = p.run(&["lint", "."]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(
        out.contains("./bad.json:2:16: error:") && out.contains("`user-name`"),
        "{out}"
    );
    assert!(out.contains("./broken.prompty:") && out.contains("error"), "{out}");
    assert!(
        out.contains("./extra.json:1:2: warning:") && out.contains("`shiny`"),
        "{out}"
    );
    assert!(
        out.contains("./nested.prompt:5:1: error:") && out.contains("inside a block"),
        "{out}"
    );
    assert!(
        out.contains("./helper.prompt:2:1: warning:") && out.contains("`variant`"),
        "{out}"
    );
    assert!(
        out.contains("./helper.prompt:") && out.contains("unknown helper `shout`"),
        "{out}"
    );
    assert!(!out.contains("ok.prompty") && !out.contains("fine.prompt"), "{out}");
}

/// A folder of Dotprompt files imports as Handlebars prompts (a partial among them), renders,
/// shows its syntax, and exports again; a Jinja prompt of the store is left out of the export and
/// named, and what does not parse is refused with its place and nothing stored.
#[test]
fn dotprompt_files_import_render_and_export() {
    let p = Project::new();
    let store = format!("sqlite://{}", p.path().join("p.db").display());
    p.write("genkit/shared/_tone.prompt", "Answer in a {{tone}} tone.\n");
    p.write(
        "genkit/reply.prompt",
        "---\nmodel: googleai/gemini-2.0-flash\nconfig:\n  temperature: 0.2\n  topK: 20\ninput:\n  schema:\n    tone: string\n    question: string, what the customer asks\n---\n{{role \"system\"}}\n{{> shared/tone}}\n{{history}}\n{{role \"user\"}}\n{{question}}\n",
    );
    let imported = p.ok(&["--store", &store, "import", "genkit"]);
    assert!(imported.contains("2 new versions"), "{imported}");
    let shown = p.ok(&["--store", &store, "show", "reply"]);
    assert!(shown.contains("syntax:      handlebars"), "{shown}");
    assert!(shown.contains("googleai/gemini-2.0-flash"), "{shown}");
    let rendered = p.json(&[
        "--store",
        &store,
        "render",
        "reply",
        "-v",
        "tone=calm",
        "-v",
        "question=Where is my refund?",
        "-v",
        "history:=[{\"role\": \"user\", \"content\": \"Hi\"}]",
    ]);
    let messages = rendered["output"].as_array().unwrap_or_else(|| panic!("{rendered}"));
    let shown: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shown,
        [
            ("system", "\nAnswer in a calm tone.\n"),
            ("user", "Hi"),
            ("user", "\nWhere is my refund?")
        ]
    );
    // Langfuse's files hold Jinja: a store of Handlebars prompts only has nothing to give it.
    let err = p.stderr(2, &["--store", &store, "export", "lf", "--format", "langfuse"]);
    assert!(err.contains("no prompt to export") && err.contains("reply"), "{err}");
    assert!(!p.path().join("lf").exists(), "nothing written");
    p.write("ours/mine.yaml", "id: mine\ntemplate: Hi {{ name }}\n");
    p.ok(&["--store", &store, "import", "ours"]);
    let output = p.run(&["--store", &store, "export", "out", "--format", "dotprompt"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("left out") && stderr.contains("mine"), "{stderr}");
    assert!(p.path().join("out/shared/_tone.prompt").is_file());
    let written = std::fs::read_to_string(p.path().join("out/reply.prompt")).unwrap();
    assert!(
        written.contains("topK: 20") && written.contains("{{history}}"),
        "{written}"
    );
    // A marker inside a block cannot be a fixed message: refused at its place, nothing stored.
    p.write(
        "bad/nested.prompt",
        "---\nmodel: x\n---\n{{#if a}}\n{{role \"system\"}}{{/if}}\n",
    );
    let err = p.stderr(2, &["--store", &store, "import", "bad"]);
    assert!(
        err.contains("nested.prompt:5:1") && err.contains("inside a block"),
        "{err}"
    );
    assert!(!p.ok(&["--store", &store, "list"]).contains("nested"));
}
