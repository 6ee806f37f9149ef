//! Lint's tests: each check on small folders, positions through escapes and folds, odd files,
//! and large libraries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use prompt_manager_core::TemplateEngine;
use prompt_manager_template::MiniJinjaEngine;

use super::*;

fn lint(files: &[(&str, &str)]) -> LintReport {
    let sources: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile {
            display: format!("p/{path}"),
            relative: PathBuf::from(path),
            text: Ok((*text).to_owned()),
        })
        .collect();
    lint_sources(&MiniJinjaEngine::new().into(), &sources)
}

fn found(report: &LintReport) -> Vec<(String, usize, usize, &'static str)> {
    report
        .diagnostics
        .iter()
        .map(|d| (d.file.clone(), d.line, d.column, d.code))
        .collect()
}

#[test]
fn a_clean_folder_has_nothing_to_say() {
    let report = lint(&[
        (
            "greeting.yaml",
            "id: greeting\ntemplate: |\n  Hello {{ name }}! {% include \"shared/tone\" %}\ninput_schema:\n  - name: name\n  - name: tone\n",
        ),
        (
            "shared/tone/1.0.0.yaml",
            "prompt:\n  id: shared/tone\n  template: Be {{ tone }}.\n",
        ),
    ]);
    assert_eq!(report.diagnostics, vec![], "{report:?}");
    assert_eq!(report.files, 2);
}

#[test]
fn each_mistake_is_reported_once_at_its_line() {
    let report = lint(&[
        ("bad-yaml.yaml", "id: x\ntemplate: [unclosed\n"),
        ("syntax.yaml", "id: syntax\ntemplate: |\n  line one\n  {{ name }\n"),
        (
            "vars.yaml",
            "id: vars\ntemplate: |\n  Hi {{ name }}\n  and {{ extra }}\ninput_schema:\n  - name: name\n  - name: unused\n",
        ),
        ("bad-id.yaml", "id: Bad/ID\ntemplate: hi\n"),
        (
            "inc.yaml",
            "id: inc\ntemplate: |\n  first\n  {% include \"missing/one\" %}\n",
        ),
        ("a.yaml", "id: a\ntemplate: \"A {% include 'b' %}\"\n"),
        ("b.yaml", "id: b\ntemplate: \"B {% include 'a' %}\"\n"),
        (
            "chat.yaml",
            "id: chat\ntemplate:\n  - role: system\n    content: ok\n  - role: user\n    content: \"{{ q \"\n",
        ),
    ]);
    let mut got = found(&report);
    got.sort();
    let mut expected = vec![
        ("p/a.yaml".to_owned(), 2, 25, "include_cycle"),
        ("p/bad-id.yaml".to_owned(), 1, 5, "invalid_id"),
        ("p/inc.yaml".to_owned(), 4, 14, "unresolved_include"),
        ("p/vars.yaml".to_owned(), 4, 10, "undefined_variable"),
        ("p/vars.yaml".to_owned(), 7, 11, "unused_variable"),
    ];
    let positional: Vec<_> = got
        .iter()
        .filter(|(f, ..)| !["p/bad-yaml.yaml", "p/syntax.yaml", "p/chat.yaml"].contains(&f.as_str()))
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(positional, expected, "{report:#?}");
    let line_of = |file: &str| {
        got.iter()
            .filter(|(f, ..)| f == file)
            .map(|(_, l, _, c)| (*l, *c))
            .collect::<Vec<_>>()
    };
    assert_eq!(line_of("p/syntax.yaml").len(), 1, "{report:#?}");
    assert_eq!(line_of("p/syntax.yaml")[0].0, 4, "{report:#?}");
    assert_eq!(line_of("p/bad-yaml.yaml").len(), 1, "{report:#?}");
    assert_eq!(line_of("p/chat.yaml").len(), 1, "{report:#?}");
    assert_eq!(line_of("p/chat.yaml")[0].0, 6, "{report:#?}");
    assert_eq!(report.errors, 7, "{report:#?}");
    assert_eq!(report.warnings, 1, "{report:#?}");
}

#[test]
fn dir_layout_checks_names_labels_and_versions() {
    let report = lint(&[
        ("greeting/1.0.0.yaml", "prompt:\n  id: greeting\n  template: hi\n"),
        (
            "greeting/_labels.yaml",
            "status: active\ncreated_at: 2026-01-01T00:00:00Z\nupdated_at: 2026-01-01T00:00:00Z\nlabels:\n  production: 1.0.0\n",
        ),
        (
            "greeting/1.1.0.yaml",
            "version: 1.2.0\nprompt:\n  id: other\n  template: hi\n",
        ),
        (
            "user.yaml",
            "id: user\ntemplate: \"{% include 'greeting@production' %}{% include 'greeting@staging' %}{% include 'greeting@2.0.0' %}\"\n",
        ),
    ]);
    let got = found(&report);
    assert!(
        got.contains(&("p/greeting/1.1.0.yaml".into(), 1, 10, "version_mismatch")),
        "{report:#?}"
    );
    assert!(
        got.contains(&("p/greeting/1.1.0.yaml".into(), 3, 7, "id_mismatch")),
        "{report:#?}"
    );
    let includes: Vec<_> = got.iter().filter(|d| d.3 == "unresolved_include").collect();
    assert_eq!(includes.len(), 2, "{report:#?}");
    assert!(!got.iter().any(|d| d.3 == "unresolved_label"), "{report:#?}");

    let report = lint(&[
        ("greeting/1.0.0.yaml", "prompt:\n  id: greeting\n  template: hi\n"),
        (
            "greeting/_labels.yaml",
            "status: active\ncreated_at: 2026-01-01T00:00:00Z\nupdated_at: 2026-01-01T00:00:00Z\nlabels:\n  production: 1.0.0\n  staging: 1.1.0\n",
        ),
    ]);
    assert_eq!(
        found(&report),
        vec![("p/greeting/_labels.yaml".into(), 6, 12, "unresolved_label")],
        "{report:#?}"
    );
}

#[test]
fn odd_files_never_panic() {
    let odd = [
        "",
        "\u{0}\u{1}",
        "---\n...\n",
        "- a\n- b\n",
        "id: 42\ntemplate: 7\n",
        "id: é/ü\ntemplate: \"{{ ü }}\"\n",
        "id: a\r\ntemplate: \"{{\"\r\n",
        "id: a\ntemplate: \"{%\"\n",
        "id: a\ntemplate: \"{{ x }}{% include '' %}\"\n",
        "id: a\ntemplate: \"{% include x %}\"\n",
        "id: a\ntemplate:\n  - role: user\n    content: \"{{ 😀 }}\"\n  - placeholder: \"bad name\"\n",
        "prompts: 3\n",
        "prompts:\n  - 1\n  - [a]\n  - id: ''\n",
        "prompt: {id: a, template: \"\\t{{ x\"}\n",
        "a: &x [*x]\n",
        "id: a\ntemplate: |\n\t{{ x }\n",
        "id: a\ntemplate: >\n  folded\n  {{ x }\n",
        "id: a\ntemplate: 'it''s {{ x }'\ninput_schema: [{name: x}, {name: x}]\n",
    ];
    for (i, text) in odd.iter().enumerate() {
        for name in [
            format!("f{i}.yaml"),
            format!("a/{i}.0.0.yaml"),
            "_labels.yaml".to_owned(),
        ] {
            let report = lint(&[(name.as_str(), text)]);
            for d in &report.diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "{text:?}: {d:?}");
            }
        }
    }
}

#[test]
fn libraries_are_checked_entry_by_entry() {
    let report = lint(&[(
        "library.yaml",
        "prompts:\n  - id: one\n    template: \"{{ a }\"\n  - id: two\n    template: fine\n    colour: red\n  - id: One\n    template: x\n  - id: two\n    template: again\n",
    )]);
    let got = found(&report);
    assert_eq!(
        got,
        vec![
            ("p/library.yaml".into(), 3, 21, "template_syntax"),
            ("p/library.yaml".into(), 4, 5, "yaml"),
            ("p/library.yaml".into(), 7, 9, "invalid_id"),
        ],
        "{report:#?}"
    );
}

#[test]
fn a_self_include_is_reported_at_that_include() {
    let report = lint(&[
        (
            "a.yaml",
            "id: a\ntemplate: |\n  {% include \"shared/tone\" %}\n  {% include \"a\" %}\n",
        ),
        ("shared/tone.yaml", "id: shared/tone\ntemplate: calm\n"),
    ]);
    let cycles: Vec<_> = found(&report).into_iter().filter(|d| d.3 == "include_cycle").collect();
    assert_eq!(cycles, vec![("p/a.yaml".into(), 4, 14, "include_cycle")], "{report:#?}");
}

#[test]
fn one_version_file_is_linted_by_its_whole_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("store/greeting/1.0.0.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "prompt:\n  id: greeting\n  template: Hello\n").unwrap();
    let report = lint_path(&MiniJinjaEngine::new().into(), &file).unwrap();
    assert_eq!(report.diagnostics, vec![], "{report:#?}");
    std::fs::write(&file, "prompt:\n  id: other\n  template: Hello\n").unwrap();
    let codes: Vec<_> = lint_path(&MiniJinjaEngine::new().into(), &file)
        .unwrap()
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(codes, ["id_mismatch"]);
}

#[test]
fn positions_inside_quoted_templates_count_escapes_and_folds() {
    let report = lint(&[
        ("one.json", "{\"id\": \"one\", \"template\": \"a\\\"b\\nc {{ x }\"}\n"),
        (
            "two.json",
            "{\n  \"id\": \"two\",\n  \"template\": \"line\\n{{ y }\"\n}\n",
        ),
        ("three.yaml", "id: three\ntemplate: 'it''s\n  {{ z }'\n"),
    ]);
    let got: Vec<_> = found(&report)
        .into_iter()
        .filter(|d| d.3 == "template_syntax")
        .map(|(file, line, column, _)| (file, line, column))
        .collect();
    // Each error is where minijinja stops in the template, mapped back through the escapes.
    for (file, line, column) in &got {
        let text = match file.as_str() {
            "p/one.json" => "{\"id\": \"one\", \"template\": \"a\\\"b\\nc {{ x }\"}\n",
            "p/two.json" => "{\n  \"id\": \"two\",\n  \"template\": \"line\\n{{ y }\"\n}\n",
            _ => "id: three\ntemplate: 'it''s\n  {{ z }'\n",
        };
        let at: String = text.lines().nth(line - 1).unwrap().chars().skip(column - 1).collect();
        assert!(
            at.starts_with('}') || at.starts_with("{{"),
            "{file}:{line}:{column} points at {at:?}"
        );
    }
    assert_eq!(
        got,
        vec![
            ("p/one.json".into(), 1, 41),
            ("p/three.yaml".into(), 3, 8),
            ("p/two.json".into(), 3, 27)
        ],
        "{report:#?}"
    );
}

/// Lint used to rescan the file from its top for every position it reported, which made a
/// library of 8k entries take 20 s. This lints libraries of a few thousand entries (block
/// YAML, and JSON on one line) and checks the positions of mistakes at their ends.
#[test]
fn item_05_large_libraries_lint_with_exact_positions() {
    const ENTRIES: usize = 3000;
    let mut yaml = String::from("prompts:\n");
    let mut json = Vec::new();
    for i in 0..ENTRIES {
        // The last entry of each reads a variable its schema does not declare.
        let variable = if i + 1 == ENTRIES { "oops" } else { "name" };
        yaml.push_str(&format!(
            "  - id: team{}/p{i}\n    version: 1.0.0\n    labels: [production]\n    template: |\n      Héllo {{{{ name }}}}, ticket {i}.\n      {{% if {variable} %}}urgent{{% endif %}}\n    input_schema:\n      - name: name\n",
            i % 50
        ));
        json.push(format!(
            "{{\"id\": \"j{i}\", \"version\": \"1.0.0\", \"template\": \"Hi {{{{ name }}}}\\n{{{{ {variable} }}}}\", \"input_schema\": [{{\"name\": \"name\"}}]}}"
        ));
    }
    let json = format!("{{\"prompts\": [{}]}}\n", json.join(", "));
    let report = lint(&[("big.yaml", &yaml), ("big.json", &json)]);
    assert_eq!(report.errors, 2, "{:#?}", report.diagnostics);
    let got = found(&report);
    // YAML: 8 lines per entry after `prompts:`; the `if` is on the entry's 6th line, `oops`
    // after `{% if ` (6 spaces of indentation).
    let yaml_line = 1 + (ENTRIES - 1) * 8 + 6;
    assert_eq!(got[1], ("p/big.yaml".into(), yaml_line, 13, "undefined_variable"));
    // JSON: one line; the column is where `oops` is written, after `\n{{ `.
    let column = json.find("{{ oops").unwrap() + 4;
    assert_eq!(got[0], ("p/big.json".into(), 1, column, "undefined_variable"));
}

/// An engine that knows no positions (the trait's default `scan`) and reads one variable more
/// than minijinja does: lint must ask it, and place what it cannot place at the template's start.
#[derive(Debug)]
struct Ghostly(MiniJinjaEngine);

impl TemplateEngine for Ghostly {
    fn name(&self) -> &'static str {
        "ghostly"
    }

    fn compile(
        &self,
        unit: prompt_manager_core::CompileUnit<'_>,
    ) -> Result<std::sync::Arc<dyn prompt_manager_core::CompiledTemplate>> {
        self.0.compile(unit)
    }

    fn includes(&self, name: &str, source: &str) -> Result<Vec<String>> {
        self.0.includes(name, source)
    }

    fn extract_variables(&self, name: &str, source: &str) -> Result<std::collections::BTreeSet<String>> {
        let mut vars = self.0.extract_variables(name, source)?;
        vars.insert("ghost".into());
        Ok(vars)
    }
}

#[test]
fn lint_asks_the_engine_it_is_given() {
    let files = [SourceFile {
        display: "p/g.yaml".into(),
        relative: PathBuf::from("g.yaml"),
        text: Ok("id: g\ntemplate: |\n  Hi {{ name }}\n  {% include 'h' %}\ninput_schema:\n  - name: name\n".into()),
    }];
    let report = lint_sources(
        &Engines::from(std::sync::Arc::new(Ghostly(MiniJinjaEngine::new())) as std::sync::Arc<dyn TemplateEngine>),
        &files,
    );
    let got: Vec<_> = found(&report).into_iter().map(|(_, l, c, code)| (l, c, code)).collect();
    // Both land where the template starts (line 3, column 3), for want of a position.
    assert_eq!(
        got,
        [(3, 3, "undefined_variable"), (3, 3, "unresolved_include")],
        "{report:#?}"
    );
    assert!(report.diagnostics[0].message.contains("`ghost`"), "{report:#?}");
    let report = lint_sources(&MiniJinjaEngine::new().into(), &files);
    let got: Vec<_> = found(&report).into_iter().map(|(_, l, c, code)| (l, c, code)).collect();
    assert_eq!(got, [(4, 14, "unresolved_include")], "{report:#?}");
}
