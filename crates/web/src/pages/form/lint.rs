//! What lint finds in the form's templates: syntax errors and undefined variables at their line
//! and column inside each template (asked of the engine as `prompt-manager lint` does), a pasted
//! prompt file linted by `prompt-manager lint` itself, and the sources highlighted with the lines
//! at fault marked.

use prompt_manager::{ChatItem, Engines, Error, Prompt, PromptId, Template, TemplateEngine};
use serde::Serialize;

use crate::highlight;

/// One lint finding in a template of the form.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    /// The chat card it is in (0-based), or `None` for a text template.
    pub(crate) part: Option<usize>,
    /// `template`, or `message 2 (user)`.
    pub(crate) place: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// `error` or `warning`.
    pub(crate) severity: &'static str,
    /// The lint code: `template_syntax`, `undefined_variable`, `unused_variable`.
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// A template of the form, highlighted, with the lines of its findings marked.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Source {
    pub(crate) place: String,
    /// Highlighted HTML (escaped by the highlighter).
    pub(crate) html: String,
}

/// What lint found in a prompt, and its templates highlighted with the lines at fault marked.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Lint {
    pub(crate) findings: Vec<Finding>,
    pub(crate) sources: Vec<Source>,
    /// Whether a template does not parse (nothing can be saved).
    pub(crate) syntax_error: bool,
    /// Errors other than syntax (undefined variables).
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
}

/// Lints a prompt's templates as `prompt-manager lint` does for a prompt file, with positions
/// inside each template: `template_syntax` (the engine's parse), `undefined_variable` (a
/// variable read but not declared, when a schema is declared) and `unused_variable` (a warning).
pub(crate) fn lint(engines: &Engines, prompt: &Prompt) -> Lint {
    match engines.of(prompt) {
        Ok(engine) => lint_with(engine.as_ref(), prompt),
        // A syntax this build has no engine for: nothing can be checked, nor saved.
        Err(e) => Lint {
            syntax_error: true,
            findings: vec![Finding {
                part: None,
                place: "template".into(),
                line: 1,
                column: 1,
                severity: "error",
                code: "template_syntax",
                message: e.to_string(),
            }],
            ..Lint::default()
        },
    }
}

fn lint_with(engine: &dyn TemplateEngine, prompt: &Prompt) -> Lint {
    let mut lint = Lint::default();
    let parts: Vec<(Option<usize>, String, &str)> = match &prompt.template {
        Template::Text(text) => vec![(None, "template".to_owned(), text.as_str())],
        Template::Chat(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                ChatItem::Message(m) => Some((Some(i), format!("message {} ({})", i + 1, m.role), m.content.as_str())),
                ChatItem::Placeholder(_) => None,
            })
            .collect(),
    };
    let declared: Vec<&str> = prompt.input_schema.variables.iter().map(|v| v.name.as_str()).collect();
    let mut read: Vec<String> = Vec::new();
    if let Template::Chat(items) = &prompt.template {
        for item in items {
            if let ChatItem::Placeholder(p) = item {
                read.push(p.variable.clone());
            }
        }
    }
    for (part, place, source) in &parts {
        let name = format!("{} {place}", prompt.id);
        if let Err(e) = engine.validate(&name, source) {
            lint.syntax_error = true;
            let (line, column, message) = match e {
                Error::TemplateSyntax {
                    message, line, column, ..
                } => (line, column, format!("template syntax error: {message}")),
                other => (1, 1, other.to_string()),
            };
            lint.findings.push(Finding {
                part: *part,
                place: place.clone(),
                line: line.max(1),
                column: column.max(1),
                severity: "error",
                code: "template_syntax",
                message,
            });
            continue;
        }
        let Ok(scan) = engine.scan(&name, source) else { continue };
        for (variable, position) in scan.variables {
            let (line, column) = position.map_or((1, 1), |p| (p.line.max(1), p.column.max(1)));
            if !declared.is_empty() && !declared.contains(&variable.as_str()) {
                lint.findings.push(Finding {
                    part: *part,
                    place: place.clone(),
                    line,
                    column,
                    severity: "error",
                    code: "undefined_variable",
                    message: format!("reads variable `{variable}`, which the input schema does not declare"),
                });
            }
            read.push(variable);
        }
    }
    if !lint.syntax_error && scan_includes_nothing(engine, &parts, &prompt.id) {
        for spec in &prompt.input_schema.variables {
            if !read.contains(&spec.name) {
                lint.findings.push(Finding {
                    part: None,
                    place: "input schema".into(),
                    line: 0,
                    column: 0,
                    severity: "warning",
                    code: "unused_variable",
                    message: format!("the input schema declares `{}`, which no template reads", spec.name),
                });
            }
        }
    }
    lint.errors = lint
        .findings
        .iter()
        .filter(|f| f.severity == "error" && f.code != "template_syntax")
        .count();
    lint.warnings = lint.findings.iter().filter(|f| f.severity == "warning").count();
    lint.sources = parts
        .iter()
        .map(|(part, place, source)| {
            let marks: Vec<(usize, &'static str)> = lint
                .findings
                .iter()
                .filter(|f| f.part == *part && f.line > 0)
                .map(|f| (f.line, f.severity))
                .collect();
            Source {
                place: place.clone(),
                html: mark_lines(&highlight::jinja_html(source), &marks),
            }
        })
        .collect();
    lint
}

/// Lints a pasted prompt file with `prompt-manager lint` itself (the storage crate's lint over
/// the text as one file), positions in the file; the file is the one source shown, its lines at
/// fault marked.
pub(crate) fn lint_file(engines: &Engines, text: &str) -> Lint {
    let file = prompt_manager::lint::SourceFile {
        display: "the pasted file".into(),
        relative: "pasted.yaml".into(),
        text: Ok(text.to_owned()),
    };
    let report = prompt_manager::lint::lint_sources(engines, &[file]);
    let mut lint = Lint::default();
    for d in report.diagnostics {
        let severity = d.severity.as_str();
        if d.code == "template_syntax" || d.code == "yaml" || d.code == "invalid_id" {
            lint.syntax_error = true;
        } else if severity == "error" {
            lint.errors += 1;
        } else {
            lint.warnings += 1;
        }
        lint.findings.push(Finding {
            part: None,
            place: "file".into(),
            line: d.line,
            column: d.column,
            severity: if severity == "error" { "error" } else { "warning" },
            code: d.code,
            message: d.message,
        });
    }
    let marks: Vec<(usize, &'static str)> = lint.findings.iter().map(|f| (f.line, f.severity)).collect();
    lint.sources = vec![Source {
        place: "the pasted file".into(),
        html: mark_lines(&highlight::jinja_html(text), &marks),
    }];
    lint
}

/// Whether no template includes another (an included template's variables are not known here,
/// so unused declarations are only reported without includes).
fn scan_includes_nothing(engine: &dyn TemplateEngine, parts: &[(Option<usize>, String, &str)], id: &PromptId) -> bool {
    parts.iter().all(|(_, place, source)| {
        engine
            .scan(&format!("{id} {place}"), source)
            .is_ok_and(|scan| scan.includes.is_empty())
    })
}

/// Marks lines (1-based) of highlighted HTML (`<span class="line error">`), and drops the line
/// breaks between the line spans, which are blocks already (else a `<pre>` shows each twice).
pub(crate) fn mark_lines(html: &str, marks: &[(usize, &str)]) -> String {
    if marks.is_empty() {
        return html.to_owned();
    }
    let opening = "<span class=\"line\">";
    let mut out = String::with_capacity(html.len() + 32 * marks.len());
    let mut rest = html;
    let mut line = 0;
    while let Some(at) = rest.find(opening) {
        line += 1;
        out.push_str(&rest[..at]);
        let severity = marks
            .iter()
            .filter(|(l, _)| *l == line)
            .map(|(_, s)| *s)
            .min_by_key(|s| if *s == "error" { 0 } else { 1 });
        match severity {
            Some(s) => {
                out.push_str("<span class=\"line ");
                out.push_str(if s == "error" { "error" } else { "warn" });
                out.push_str("\" aria-invalid=\"true\">");
            }
            None => out.push_str(opening),
        }
        rest = &rest[at + opening.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::form::parse_yaml;

    #[test]
    fn lint_finds_syntax_errors_and_undefined_variables_at_their_line() {
        let engine = prompt_manager::Engines::from(prompt_manager::MiniJinjaEngine::new());
        let broken = Prompt::text("a", "Hello\n{{ name }").unwrap();
        let lint = lint(&engine, &broken);
        assert!(lint.syntax_error);
        assert_eq!(lint.findings[0].line, 2);
        assert!(lint.sources[0].html.contains("line error"));
        let mut undeclared = Prompt::text("a", "Hi {{ name }}\n{{ other }}").unwrap();
        undeclared.input_schema = parse_yaml("- name: name\n- name: unused\n", "input schema").unwrap();
        let lint = super::lint(&engine, &undeclared);
        assert_eq!(lint.errors, 1);
        assert_eq!(lint.warnings, 1);
        let undefined = lint.findings.iter().find(|f| f.code == "undefined_variable").unwrap();
        assert_eq!((undefined.line, undefined.column), (2, 4));
    }
}
