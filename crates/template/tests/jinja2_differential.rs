//! The differential test against Python's Jinja2 (issue 11, item 2): every template of the corpus
//! in `tests/jinja2/templates/` (`NAME.j2` with its context `NAME.json`) and every one-feature probe
//! of `tests/jinja2/probes.yaml` is rendered by our engine and by Jinja2 (`tests/jinja2/render_jinja2.py`,
//! strict undefined, Jinja2's defaults otherwise), and the outputs must be identical byte for byte.
//! An error on both sides counts as identical: a probe marked `jinja2_error: true` is one where
//! Jinja2 refuses the template on purpose (strict undefined, a bad filter argument, …).
//!
//! A difference kept on purpose is listed, with its reason, in `tests/jinja2/deliberate.yaml`
//! (and in `docs/templates.md` for users); any other difference fails the test after all of them
//! are printed. The figures `templates identical X/Y, probes identical X/Y, deliberate differences Z`
//! are printed on every run (`--no-capture` shows them on success).
//!
//! Without python3 and jinja2 the test prints why and passes, unless
//! `PROMPT_MANAGER_REQUIRE_JINJA2=1` is set (CI sets it; `pip install -r tests/python/requirements.txt`).
//! `PROMPT_MANAGER_JINJA2_CASES=text` renders only the cases whose name contains `text`.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use prompt_manager_core::{CompileUnit, TemplateEngine, Variables};
use prompt_manager_template::MiniJinjaEngine;
use serde_json::{Map, Value, json};

/// One template to render on both sides.
struct Case {
    /// `templates/NAME` or `probes/NAME`.
    name: String,
    template: String,
    context: Map<String, Value>,
    /// Where the template comes from, for the report.
    source: Source,
    /// Jinja2 itself refuses this template, on purpose.
    jinja2_error: bool,
}

enum Source {
    File(PathBuf),
    Probe,
}

/// What rendering gave: the output, or the error's message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok(String),
    Error(String),
}

impl Outcome {
    fn same_as(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Ok(a), Outcome::Ok(b)) => a == b,
            (Outcome::Error(_), Outcome::Error(_)) => true,
            _ => false,
        }
    }
}

const REQUIRE: &str = "PROMPT_MANAGER_REQUIRE_JINJA2";

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jinja2")
}

fn load_templates(dir: &Path) -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.join("templates"))
        .expect("tests/jinja2/templates exists")
        .map(|e| e.expect("directory entry").path())
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in &paths {
        match path.extension().and_then(|e| e.to_str()) {
            Some("j2") => {}
            Some("json") => {
                assert!(
                    path.with_extension("j2").exists(),
                    "{} has no template beside it",
                    path.display()
                );
                continue;
            }
            _ => panic!("unexpected file in the corpus: {}", path.display()),
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("utf-8 file name");
        // Read as bytes: `\r\n` and the trailing newline are part of what is compared.
        let template = String::from_utf8(std::fs::read(path).expect("template reads")).expect("template is UTF-8");
        let context_path = path.with_extension("json");
        let text = std::fs::read_to_string(&context_path)
            .unwrap_or_else(|e| panic!("{} needs a context {}: {e}", path.display(), context_path.display()));
        let context = match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => panic!("{}: the context must be a JSON object", context_path.display()),
            Err(e) => panic!("{}: {e}", context_path.display()),
        };
        cases.push(Case {
            name: format!("templates/{stem}"),
            template,
            context,
            source: Source::File(path.clone()),
            jinja2_error: false,
        });
    }
    cases
}

/// Reads a YAML list of mappings whose keys are all among `known`.
fn yaml_list(path: &Path, known: &[&str]) -> Vec<Map<String, Value>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let items = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        _ => panic!("{}: expected a list", path.display()),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => {
                for key in map.keys() {
                    assert!(known.contains(&key.as_str()), "{}: unknown key {key:?}", path.display());
                }
                map
            }
            other => panic!("{}: expected a mapping, got {other}", path.display()),
        })
        .collect()
}

fn string_field(map: &Map<String, Value>, key: &str, file: &str) -> String {
    match map.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => panic!(
            "{file}: every entry needs a string {key:?}: {}",
            Value::Object(map.clone())
        ),
    }
}

/// The probes of `probes.yaml`: `{name, template, context?, jinja2_error?}`.
fn load_probes(dir: &Path) -> Vec<Case> {
    yaml_list(
        &dir.join("probes.yaml"),
        &["name", "template", "context", "jinja2_error"],
    )
    .into_iter()
    .map(|p| Case {
        name: format!("probes/{}", string_field(&p, "name", "probes.yaml")),
        template: string_field(&p, "template", "probes.yaml"),
        context: match p.get("context") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => panic!("probes.yaml: a context is a mapping, got {other}"),
        },
        source: Source::Probe,
        jinja2_error: p.get("jinja2_error") == Some(&Value::Bool(true)),
    })
    .collect()
}

/// The deliberate differences of `deliberate.yaml`: `{name, reason}`, name to reason.
fn load_deliberate(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for d in yaml_list(&dir.join("deliberate.yaml"), &["name", "reason"]) {
        let (name, reason) = (
            string_field(&d, "name", "deliberate.yaml"),
            string_field(&d, "reason", "deliberate.yaml"),
        );
        assert!(!reason.trim().is_empty(), "deliberate.yaml: {name} needs a reason");
        assert!(
            out.insert(name.clone(), reason).is_none(),
            "deliberate.yaml lists {name} twice"
        );
    }
    out
}

fn render_ours(engine: &MiniJinjaEngine, case: &Case) -> Outcome {
    let compiled = match engine.compile(CompileUnit {
        name: &case.name,
        sources: &[case.template.as_str()],
        part_names: &[],
        includes: &[],
        messages: false,
    }) {
        Ok(c) => c,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let vars = Variables::from(case.context.clone());
    let mut out = String::new();
    match compiled.render(&vars, &mut |_, text| out.push_str(&text)) {
        Ok(()) => Outcome::Ok(out),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// python3 with jinja2, or why not.
fn jinja2_available(script: &Path) -> Result<String, String> {
    match Command::new("python3").arg(script).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        Ok(o) => Err(format!(
            "python3 cannot import jinja2 (pip install -r tests/python/requirements.txt): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("python3 is not available: {e}")),
    }
}

/// Renders every case with Jinja2 in one python3 process.
fn render_jinja2(script: &Path, cases: &[Case]) -> BTreeMap<String, Outcome> {
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({"name": c.name, "template": c.template, "context": c.context}))
        .collect();
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let payload = serde_json::to_vec(&input).expect("cases serialize");
    // Write from another thread so a large output cannot block on a full pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&payload));
    let out = child.wait_with_output().expect("python3 runs");
    writer.join().expect("writer thread").expect("cases written to python3");
    assert!(
        out.status.success(),
        "render_jinja2.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).expect("render_jinja2.py prints JSON");
    results
        .into_iter()
        .map(|(name, v)| {
            let outcome = match (v.get("ok"), v.get("error")) {
                (Some(Value::String(s)), _) => Outcome::Ok(s.clone()),
                (_, Some(Value::String(e))) => Outcome::Error(e.clone()),
                _ => panic!("render_jinja2.py: unexpected result for {name}: {v}"),
            };
            (name, outcome)
        })
        .collect()
}

/// Where two outputs first differ: line number and both lines.
fn first_difference(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.split('\n').collect(), theirs.split('\n').collect());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            return format!(
                "first difference at line {}:\n      ours:   {}\n      jinja2: {}",
                i + 1,
                x.map_or("<end of output>".to_owned(), |s| format!("{s:?}")),
                y.map_or("<end of output>".to_owned(), |s| format!("{s:?}")),
            );
        }
    }
    "outputs differ".to_owned()
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok(s) => format!("{s:?}"),
        Outcome::Error(e) => format!("error: {e}"),
    }
}

fn report_mismatch(report: &mut String, case: &Case, ours: &Outcome, theirs: &Outcome) {
    let _ = writeln!(report, "--- MISMATCH {}", case.name);
    match &case.source {
        Source::File(path) => {
            let _ = writeln!(report, "  template: {}", path.display());
        }
        Source::Probe => {
            let _ = writeln!(report, "  template: {:?}", case.template);
            let _ = writeln!(report, "  context:  {}", Value::Object(case.context.clone()));
        }
    }
    if let (Outcome::Ok(a), Outcome::Ok(b)) = (ours, theirs) {
        let _ = writeln!(report, "  {}", first_difference(a, b));
    }
    let _ = writeln!(report, "  ours:   {}", describe(ours));
    let _ = writeln!(report, "  jinja2: {}", describe(theirs));
}

#[test]
fn renders_like_python_jinja2() {
    let dir = corpus_dir();
    let script = dir.join("render_jinja2.py");
    let version = match jinja2_available(&script) {
        Ok(v) => v,
        Err(why) => {
            if std::env::var_os(REQUIRE).is_some_and(|v| v == "1") {
                panic!("{why} ({REQUIRE}=1)");
            }
            eprintln!("skipped: {why}");
            return;
        }
    };

    let templates = load_templates(&dir);
    let probes = load_probes(&dir);
    let deliberate = load_deliberate(&dir);
    assert!(
        templates.len() >= 60,
        "the corpus needs at least 60 templates, has {}",
        templates.len()
    );
    assert!(
        probes.len() >= 100,
        "the corpus needs at least 100 probes, has {}",
        probes.len()
    );

    let mut names = HashSet::new();
    for case in templates.iter().chain(&probes) {
        assert!(names.insert(case.name.clone()), "case {} appears twice", case.name);
    }
    for name in deliberate.keys() {
        assert!(names.contains(name), "deliberate.yaml lists {name}, which is no case");
    }

    let filter = std::env::var("PROMPT_MANAGER_JINJA2_CASES").unwrap_or_default();
    let all: Vec<Case> = templates
        .into_iter()
        .chain(probes)
        .filter(|c| filter.is_empty() || c.name.contains(&filter))
        .collect();
    let is_template = |c: &Case| c.name.starts_with("templates/");
    let (template_count, probe_count) = (
        all.iter().filter(|c| is_template(c)).count(),
        all.iter().filter(|c| !is_template(c)).count(),
    );

    let theirs = render_jinja2(&script, &all);
    let engine = MiniJinjaEngine::new();

    let mut report = String::new();
    let mut corpus_errors = Vec::new();
    let (mut templates_same, mut probes_same, mut deliberate_seen, mut mismatches) = (0, 0, 0, 0);
    let mut stale = Vec::new();
    // What renders in Jinja2 and here must also pass the save-time check (`create`, `lint`):
    // the check may refuse only what render would refuse.
    let mut refused_at_save = Vec::new();
    let mut deliberate_caught = 0;
    use prompt_manager_core::TemplateEngine as _;
    for case in &all {
        let jinja2 = theirs
            .get(&case.name)
            .unwrap_or_else(|| panic!("render_jinja2.py gave no result for {}", case.name));
        // The corpus itself: Jinja2 renders every case unless the probe says it must not.
        match (jinja2, case.jinja2_error) {
            (Outcome::Error(e), false) => corpus_errors.push(format!("{}: Jinja2 refuses it: {e}", case.name)),
            (Outcome::Ok(_), true) => {
                corpus_errors.push(format!("{}: marked jinja2_error but Jinja2 renders it", case.name))
            }
            _ => {}
        }
        let ours = render_ours(&engine, case);
        let same = ours.same_as(jinja2);
        let validated = engine.validate(&case.name, &case.template);
        if let (true, Outcome::Ok(_), Err(e)) = (same, jinja2, &validated) {
            refused_at_save.push(format!("{}: {e}", case.name));
        }
        if deliberate.contains_key(&case.name) && validated.is_err() {
            deliberate_caught += 1;
        }
        if same {
            if is_template(case) {
                templates_same += 1;
            } else {
                probes_same += 1;
            }
            if deliberate.contains_key(&case.name) {
                stale.push(case.name.clone());
            }
        } else if let Some(reason) = deliberate.get(&case.name) {
            deliberate_seen += 1;
            let _ = writeln!(report, "--- deliberate {}: {reason}", case.name);
        } else {
            mismatches += 1;
            report_mismatch(&mut report, case, &ours, jinja2);
        }
    }

    let summary = format!(
        "templates identical {templates_same}/{template_count}, probes identical {probes_same}/{probe_count}, deliberate differences {deliberate_seen} ({deliberate_caught} of them refused at save) (Jinja2 {version})",
    );
    println!("{report}");
    println!("{summary}");
    assert!(
        corpus_errors.is_empty(),
        "the corpus is wrong, fix the case (not the engine):\n{}",
        corpus_errors.join("\n")
    );
    assert!(
        stale.is_empty(),
        "deliberate.yaml lists cases that now render identically; remove them (and from docs/templates.md): {stale:?}"
    );
    assert!(
        refused_at_save.is_empty(),
        "the save-time check refuses templates that render identically:\n{}",
        refused_at_save.join("\n")
    );
    assert!(mismatches == 0, "{mismatches} cases differ from Jinja2: {summary}");
}
