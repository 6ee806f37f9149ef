//! [`HandlebarsEngine`]: Handlebars templates (`syntax: handlebars`) on
//! [handlebars-rust](https://docs.rs/handlebars), with Dotprompt's helpers, under the same
//! guarantees as the Jinja engine:
//!
//! - every part compiles once per prompt version; renders share it from any thread;
//! - a render without a variable the template needs is refused, naming *every* such variable
//!   (a variable only tested, `{{#if nick}}`, is optional, as Handlebars treats it);
//! - an output larger than [`RenderLimits::max_output_bytes`] stops the render;
//! - values are data: a variable holding `{{x}}` prints as it is, and nothing is HTML-escaped;
//! - partials (`{{> shared/tone@production}}`) are includes, resolved by the manager like
//!   Jinja's `{% include %}`; a computed partial name, partial blocks and inline partials are
//!   refused, so every include is known before a render.

mod analysis;
mod helpers;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use handlebars::{Context, Handlebars, RenderErrorReason, no_escape};
use prompt_manager_core::{
    CompileUnit, CompiledTemplate, Error, Result, SourceScan, TemplateEngine, TemplateSyntax, VariableProblem,
    Variables,
};

use crate::RenderLimits;

/// The Handlebars template engine.
#[derive(Debug, Clone, Default)]
pub struct HandlebarsEngine {
    limits: RenderLimits,
}

impl HandlebarsEngine {
    /// An engine with the default [`RenderLimits`] (of which Handlebars uses the output size).
    pub fn new() -> Self {
        HandlebarsEngine::default()
    }

    /// An engine with these limits.
    pub fn with_limits(limits: RenderLimits) -> Self {
        HandlebarsEngine { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> RenderLimits {
        self.limits
    }
}

/// A registry with the engine's settings: no escaping, Dotprompt's helpers, lenient paths (a
/// missing nested value prints nothing, as in Handlebars; missing variables are checked before).
fn registry() -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.register_escape_fn(no_escape);
    // handlebars-rust's extras are not Handlebars.js's or Dotprompt's: without them `{{len}}`
    // reads the variable `len`, as it does there.
    for extra in ["eq", "ne", "gt", "gte", "lt", "lte", "and", "or", "not", "len", "raw"] {
        registry.unregister_helper(extra);
    }
    helpers::register(&mut registry);
    registry.register_helper(
        "_pm_continue",
        Box::new(
            |_: &handlebars::Helper<'_>,
             _: &Handlebars<'_>,
             _: &Context,
             _: &mut handlebars::RenderContext<'_, '_>,
             _: &mut dyn handlebars::Output| Ok(()),
        ),
    );
    registry
}

/// The first construct the engine does not support (a computed partial name, partial blocks,
/// inline partials, a path above the top), as an error at its place.
fn unsupported(name: &str, analysis: &analysis::Analysis) -> Result<()> {
    match analysis.refused.first() {
        Some((message, (line, column))) => Err(Error::TemplateSyntax {
            template: name.to_owned(),
            message: message.clone(),
            line: *line,
            column: *column,
        }),
        None => Ok(()),
    }
}

/// What every render would refuse, and what the engine does not support, at its place: unknown
/// helpers, and what [`unsupported`] refuses.
fn refusals(name: &str, analysis: &analysis::Analysis) -> Result<()> {
    let at = |(line, column): (usize, usize), message: String| Error::TemplateSyntax {
        template: name.to_owned(),
        message,
        line,
        column,
    };
    unsupported(name, analysis)?;
    if let Some((helper, place)) = analysis.unknown_helpers.first() {
        return Err(at(
            *place,
            format!(
                "unknown helper `{helper}`; the helpers are {}",
                analysis::HELPERS.join(", ")
            ),
        ));
    }
    Ok(())
}

impl TemplateEngine for HandlebarsEngine {
    fn name(&self) -> &'static str {
        "handlebars"
    }

    fn syntax(&self) -> TemplateSyntax {
        TemplateSyntax::Handlebars
    }

    fn compile(&self, unit: CompileUnit<'_>) -> Result<Arc<dyn CompiledTemplate>> {
        Ok(Arc::new(HandlebarsTemplate::compile(self, unit)?))
    }

    fn includes(&self, name: &str, source: &str) -> Result<Vec<String>> {
        let (_, analysis) = analysis::analyse(name, source)?;
        unsupported(name, &analysis)?;
        Ok(analysis.partials.into_iter().map(|(partial, _)| partial).collect())
    }

    fn extract_variables(&self, name: &str, source: &str) -> Result<BTreeSet<String>> {
        let (_, analysis) = analysis::analyse(name, source)?;
        Ok(analysis.variables.into_keys().collect())
    }

    fn scan(&self, name: &str, source: &str) -> Result<SourceScan> {
        let (_, analysis) = analysis::analyse(name, source)?;
        unsupported(name, &analysis)?;
        Ok(SourceScan {
            includes: analysis
                .partials
                .iter()
                .map(|(partial, at)| (partial.clone(), Some(analysis::position(source, *at))))
                .collect(),
            variables: analysis
                .variables
                .iter()
                .map(|(variable, at)| (variable.clone(), Some(analysis::position(source, *at))))
                .collect(),
        })
    }

    fn check(&self, name: &str, source: &str) -> Result<()> {
        let (_, analysis) = analysis::analyse(name, source)?;
        refusals(name, &analysis)
    }

    fn validate(&self, name: &str, source: &str) -> Result<()> {
        self.check(name, source)
    }
}

impl From<HandlebarsEngine> for Arc<dyn TemplateEngine> {
    fn from(engine: HandlebarsEngine) -> Self {
        Arc::new(engine)
    }
}

/// A compiled unit: a registry holding every part and every include (as partials).
pub(crate) struct HandlebarsTemplate {
    registry: Handlebars<'static>,
    name: String,
    names: Vec<String>,
    /// Every top-level variable the unit reads, includes included.
    variables: BTreeSet<String>,
    /// Those a render needs.
    required: BTreeSet<String>,
    /// Where each of the unit's own variables is first read: part and line.
    positions: BTreeMap<String, (usize, usize)>,
    max_output_bytes: usize,
}

impl fmt::Debug for HandlebarsTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlebarsTemplate")
            .field("name", &self.name)
            .field("parts", &self.names.len())
            .field("variables", &self.variables)
            .finish()
    }
}

impl HandlebarsTemplate {
    fn compile(engine: &HandlebarsEngine, unit: CompileUnit<'_>) -> Result<Self> {
        let mut registry = registry();
        let names = crate::compiled::part_names(&unit);
        let mut variables = BTreeSet::new();
        let mut required = BTreeSet::new();
        let mut positions = BTreeMap::new();
        let mut root_partials = BTreeSet::new();
        let mut quoted_partials = BTreeSet::new();
        for (index, (name, source)) in names.iter().zip(unit.sources).enumerate() {
            let (mut template, analysis) = analysis::analyse(name, source)?;
            if unit.messages {
                // A message's first line continues its role's line: an expression before it keeps
                // a block tag there from being standalone, as in a Dotprompt body.
                template = analysis::parse(name, &format!("{CONTINUATION}{source}")).map_err(|e| match e {
                    Error::TemplateSyntax {
                        template,
                        message,
                        line: 1,
                        column,
                    } => Error::TemplateSyntax {
                        template,
                        message,
                        line: 1,
                        column: column.saturating_sub(CONTINUATION.len()).max(1),
                    },
                    other => other,
                })?;
            }
            unsupported(name, &analysis)?;
            for (variable, (line, _)) in &analysis.variables {
                positions.entry(variable.clone()).or_insert((index, *line));
            }
            variables.extend(analysis.variables.into_keys());
            required.extend(analysis.required);
            root_partials.extend(analysis.root_partials);
            quoted_partials.extend(analysis.quoted_partials);
            registry.register_template(&part_key(index), template);
        }
        // Includes are partials under the reference they are written with. What a partial
        // loaded in the root context reads is read from the root, and counts as the unit's.
        let mut pending: Vec<String> = root_partials.into_iter().collect();
        let mut seen = BTreeSet::new();
        let mut analyses = BTreeMap::new();
        for include in unit.includes {
            let label = format!("{} (included by {})", include.resolved, unit.name);
            let (template, analysis) = analysis::analyse(&label, &include.source)?;
            quoted_partials.extend(analysis.quoted_partials.iter().cloned());
            registry.register_template(&include.reference, template);
            analyses.insert(include.reference.clone(), analysis);
        }
        // handlebars-rust looks a partial up by its name as written: a quoted one is the same
        // include under the spelling used.
        for written in &quoted_partials {
            let reference = &written[1..written.len() - 1];
            if let Some(template) = registry.get_template(reference).cloned() {
                registry.register_template(written, template);
            }
        }
        while let Some(reference) = pending.pop() {
            if !seen.insert(reference.clone()) {
                continue;
            }
            if let Some(analysis) = analyses.get(&reference) {
                variables.extend(analysis.variables.keys().cloned());
                required.extend(analysis.required.iter().cloned());
                pending.extend(analysis.root_partials.iter().cloned());
            }
        }
        Ok(HandlebarsTemplate {
            registry,
            name: unit.name.to_owned(),
            names,
            variables,
            required,
            positions,
            max_output_bytes: engine.limits.max_output_bytes,
        })
    }
}

/// What a message's source is compiled after: a call of a helper that prints nothing, so its
/// first line is not the start of a line (a comment would not do: it can be standalone itself).
const CONTINUATION: &str = "{{_pm_continue}}";

/// The registry's name of part `index` (not a name a partial reference can take).
fn part_key(index: usize) -> String {
    format!("\u{0}part{index}")
}

/// A writer that refuses to grow past a limit.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CompiledTemplate for HandlebarsTemplate {
    fn parts(&self) -> usize {
        self.names.len()
    }

    fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }

    fn variable_position(&self, variable: &str) -> Option<(usize, usize)> {
        self.positions.get(variable).copied()
    }

    fn render(&self, vars: &Variables, emit: &mut dyn FnMut(usize, String)) -> Result<()> {
        let missing: Vec<VariableProblem> = self
            .required
            .iter()
            .filter(|v| !vars.contains(v))
            .map(|v| VariableProblem::Missing {
                name: v.clone(),
                expected: None,
                line: self.positions.get(v).map(|(_, line)| *line),
                message: None,
            })
            .collect();
        if !missing.is_empty() {
            return Err(Error::InvalidVariables {
                reference: self.name.clone(),
                problems: missing,
            });
        }
        let context = Context::from(serde_json::Value::Object(vars.as_map().clone()));
        for (index, name) in self.names.iter().enumerate() {
            let mut out = Bounded {
                bytes: Vec::new(),
                limit: self.max_output_bytes,
                exceeded: false,
            };
            let result = self
                .registry
                .render_with_context_to_write(&part_key(index), &context, &mut out);
            if out.exceeded {
                return Err(Error::RenderLimit {
                    template: name.clone(),
                    limit: format!("its output exceeds the limit of {} bytes", self.max_output_bytes),
                });
            }
            result.map_err(|e| {
                let template = match &e.template_name {
                    Some(t) if !t.starts_with('\u{0}') && t != name => format!("{name} (in {t})"),
                    _ => name.clone(),
                };
                let message = match e.reason() {
                    RenderErrorReason::PartialNotFound(partial) => {
                        format!("the partial `{partial}` is not included")
                    }
                    other => other.to_string(),
                };
                Error::Render {
                    template,
                    message,
                    line: e.line_no,
                }
            })?;
            // Every piece written is a `&str`, so the bytes are UTF-8.
            let text = String::from_utf8(out.bytes).map_err(|e| Error::Render {
                template: name.clone(),
                message: format!("the output is not UTF-8: {e}"),
                line: None,
            })?;
            emit(index, text);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_manager_core::IncludedTemplate;
    use serde_json::json;

    #[test]
    fn a_message_first_line_continues_its_role_line() {
        let source = "{{#if x}}\nA\n{{/if}}\nB";
        let render_as = |messages: bool, source: &str| {
            let compiled = HandlebarsEngine::new()
                .compile(CompileUnit {
                    name: "t@1.0.0",
                    sources: &[source],
                    part_names: &[],
                    includes: &[],
                    messages,
                })
                .unwrap();
            let mut out = String::new();
            compiled
                .render(&Variables::new().with("x", true), &mut |_, text| out = text)
                .unwrap();
            out
        };
        assert_eq!(render_as(false, source), "A\nB");
        assert_eq!(render_as(true, source), "\nA\nB");
        // A message that starts with a newline keeps it.
        assert_eq!(render_as(true, "\n{{#if x}}\nA\n{{/if}}\nB"), "\nA\nB");
    }

    fn render(source: &str, vars: serde_json::Value) -> Result<String> {
        render_with(source, vars, &[], HandlebarsEngine::new())
    }

    fn render_with(
        source: &str,
        vars: serde_json::Value,
        includes: &[IncludedTemplate],
        engine: HandlebarsEngine,
    ) -> Result<String> {
        let compiled = engine.compile(CompileUnit {
            name: "t@1.0.0",
            sources: &[source],
            part_names: &[],
            includes,
            messages: false,
        })?;
        let mut out = String::new();
        compiled.render(&Variables::from_serialize(&vars)?, &mut |_, text| out = text)?;
        Ok(out)
    }

    #[test]
    fn renders_without_escaping_or_reinterpreting() {
        let out = render(
            "Hi {{name}} <{{{tag}}}> {{#each items}}{{@index}}:{{this}}{{#unless @last}}, {{/unless}}{{/each}}",
            json!({"name": "{{x}} & <b>", "tag": "a&b", "items": ["x", "y"]}),
        )
        .unwrap();
        assert_eq!(out, "Hi {{x}} & <b> <a&b> 0:x, 1:y");
    }

    #[test]
    fn every_missing_variable_is_named() {
        let err = render(
            "{{a}} {{#if b}}{{b}}{{/if}} {{c.d}} {{#each e}}{{f}}{{/each}}",
            json!({}),
        )
        .unwrap_err();
        let Error::InvalidVariables { problems, .. } = &err else {
            panic!("{err:?}")
        };
        let names: Vec<_> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            err.to_string().contains("`a`") && err.to_string().contains("`c`"),
            "{err}"
        );
        // Tested-only variables may be left out.
        assert_eq!(render("{{#if b}}{{b}}{{else}}none{{/if}}", json!({})).unwrap(), "none");
    }

    #[test]
    fn output_is_bounded() {
        let engine = HandlebarsEngine::with_limits(RenderLimits {
            max_output_bytes: 100,
            ..RenderLimits::default()
        });
        let err = render_with(
            "{{#each items}}{{#each ../items}}{{../../word}}{{/each}}{{/each}}",
            json!({"items": (0..20).collect::<Vec<_>>(), "word": "0123456789"}),
            &[],
            engine,
        )
        .unwrap_err();
        assert!(matches!(err, Error::RenderLimit { .. }), "{err:?}");
    }

    #[test]
    fn partials_are_includes_and_their_variables_count() {
        let engine = HandlebarsEngine::new();
        assert_eq!(
            engine.includes("t", "{{> shared/tone@production}} {{> 'b'}}").unwrap(),
            ["shared/tone@production", "b"]
        );
        let includes = [IncludedTemplate {
            reference: "shared/tone@production".into(),
            resolved: "shared/tone@1.0.0".into(),
            source: "Be {{tone}}.".into(),
        }];
        assert_eq!(
            render_with(
                "{{> shared/tone@production}} Hi {{name}}",
                json!({"tone": "kind", "name": "Ada"}),
                &includes,
                HandlebarsEngine::new()
            )
            .unwrap(),
            "Be kind. Hi Ada"
        );
        // A quoted name is the same partial.
        assert_eq!(
            render_with(
                "{{> 'shared/tone@production'}}",
                json!({"tone": "kind"}),
                &includes,
                HandlebarsEngine::new()
            )
            .unwrap(),
            "Be kind."
        );
        let err = render_with(
            "{{> shared/tone@production}}",
            json!({}),
            &includes,
            HandlebarsEngine::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`tone`"), "{err}");
    }

    #[test]
    fn variables_named_like_other_engines_helpers_are_variables() {
        assert_eq!(
            render("{{len}} {{not}} {{eq}}", json!({"len": 3, "not": "n", "eq": true})).unwrap(),
            "3 n true"
        );
        assert_eq!(
            render("You are {{this.role}}.", json!({"role": "kind"})).unwrap(),
            "You are kind."
        );
    }

    #[test]
    fn dotprompt_helpers() {
        assert_eq!(
            render(
                "{{role \"system\"}}{{json data}} {{json data indent=2}}{{history}}{{section \"s\"}}{{media url=u contentType=\"image/png\"}}{{#ifEquals a 1}}one{{else}}other{{/ifEquals}}",
                json!({"data": {"k": [1]}, "u": "http://x/y.png", "a": 1.0})
            )
            .unwrap(),
            "<<<dotprompt:role:system>>>{\"k\":[1]} {\n  \"k\": [\n    1\n  ]\n}<<<dotprompt:history>>><<<dotprompt:section s>>><<<dotprompt:media:url http://x/y.png image/png>>>one"
        );
    }

    #[test]
    fn refusals_have_a_place() {
        let engine = HandlebarsEngine::new();
        let err = engine.check("t", "ok\n{{shout name}}").unwrap_err();
        assert!(
            matches!(err, Error::TemplateSyntax { line: 2, column: 1, .. }),
            "{err:?}"
        );
        let err = engine.includes("t", "{{> (lookup kinds 'p')}}").unwrap_err();
        assert!(err.to_string().contains("literal"), "{err}");
        let err = engine.validate("t", "{{#*inline \"p\"}}x{{/inline}}").unwrap_err();
        assert!(err.to_string().contains("inline"), "{err}");
    }
}
