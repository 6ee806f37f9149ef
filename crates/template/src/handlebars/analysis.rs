//! What a Handlebars template reads, includes and calls, from its syntax tree: the top-level
//! variables (and which of them every render needs), the partials it loads and the helpers it
//! calls, each with its place.
//!
//! Handlebars has no implicit lookup in outer scopes: inside `{{#each items}}` or
//! `{{#with user}}`, `{{name}}` reads the item or the user, not a variable. So a path is a
//! top-level variable only when it resolves to the root context: a bare path outside any
//! context-changing block, `../name` climbing back to it, or `@root.name`. Block parameters
//! (`as |item|`) and data variables (`@index`) are not variables.
//!
//! A variable is *optional* when every read of it sits inside a block that tests it
//! (`{{#if name}}`, `{{#unless name}}`, `{{#each name}}`, `{{#with name}}`), or is that test:
//! Handlebars treats a missing value there as false, and Dotprompt templates use it for optional
//! input. Every other variable is required, and a render without it is refused by name.

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::{BlockParam, HelperTemplate, Parameter, Template, TemplateElement, TemplateMapping};
use handlebars::{Path, PathSeg};
use prompt_manager_core::{Error, Result, SourcePosition};

/// Helpers every template may call: Handlebars' own and Dotprompt's. handlebars-rust's extras
/// (`eq`, `len`, …) are not among them: Handlebars.js and Dotprompt have none of them, and a
/// prompt must render the same there.
pub(crate) const HELPERS: &[&str] = &[
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "log",
    "json",
    "role",
    "history",
    "section",
    "media",
    "ifEquals",
    "unlessEquals",
];

/// Helpers that print nothing without an argument: a bare `{{role}}` is a variable's name.
const NEEDS_ARGUMENTS: &[&str] = &[
    "role", "section", "json", "media", "lookup", "each", "with", "if", "unless",
];

/// Block helpers that test their first parameter (a missing value is false) and do not change
/// the context.
const TESTS: &[&str] = &["if", "unless"];
/// Block helpers whose body sees their first parameter as the context.
const SCOPES: &[&str] = &["each", "with"];

/// What one source reads, loads and calls.
#[derive(Debug, Default, Clone)]
pub(crate) struct Analysis {
    /// Every top-level variable, with the place of its first read.
    pub(crate) variables: BTreeMap<String, (usize, usize)>,
    /// The variables a render cannot do without (a read outside a test of the variable).
    pub(crate) required: BTreeSet<String>,
    /// The partials it loads, in order, without duplicates, with the place of the first.
    pub(crate) partials: Vec<(String, (usize, usize))>,
    /// Partial names written quoted or bracketed (`'shared/tone'`), as written: handlebars-rust
    /// looks a partial up by its name as written, so the include is registered under these too.
    pub(crate) quoted_partials: BTreeSet<String>,
    /// The partials loaded in the root context (outside `each`/`with`, without a context
    /// argument): what they read are top-level variables too.
    pub(crate) root_partials: BTreeSet<String>,
    /// Helpers called that are not known, with their place.
    pub(crate) unknown_helpers: Vec<(String, (usize, usize))>,
    /// Constructs the engine refuses (inline partials, computed partial names), with why.
    pub(crate) refused: Vec<(String, (usize, usize))>,
}

/// Parses `source` (named `name` in errors).
pub(crate) fn parse(name: &str, source: &str) -> Result<Template> {
    Template::compile_with_name(source, name.to_owned()).map_err(|e| {
        let (line, column) = e.pos().unwrap_or((1, 1));
        Error::TemplateSyntax {
            template: name.to_owned(),
            message: reason_text(&e.reason().to_string()),
            line: line.max(1),
            column: column.max(1),
        }
    })
}

/// handlebars-rust's parser messages quote the grammar's rule names; say it plainly.
fn reason_text(reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() {
        "invalid Handlebars syntax".into()
    } else {
        reason.to_owned()
    }
}

/// Parses and analyses `source`.
pub(crate) fn analyse(name: &str, source: &str) -> Result<(Template, Analysis)> {
    let template = parse(name, source)?;
    let mut walker = Walker::default();
    walker.template(&template, (1, 1));
    Ok((template, walker.out))
}

/// One level of context: the root, or a block that changed it.
#[derive(Debug, Clone)]
struct Frame {
    root: bool,
    block_params: Vec<String>,
}

#[derive(Default)]
struct Walker {
    frames: Vec<Frame>,
    /// The top-level variables the enclosing blocks test.
    guards: Vec<String>,
    out: Analysis,
}

impl Walker {
    fn template(&mut self, template: &Template, at: (usize, usize)) {
        if self.frames.is_empty() {
            self.frames.push(Frame {
                root: true,
                block_params: Vec::new(),
            });
        }
        for (i, element) in template.elements.iter().enumerate() {
            let place = template
                .mapping
                .get(i)
                .map_or(at, |mapping: &TemplateMapping| (mapping.0, mapping.1));
            self.element(element, place);
        }
    }

    fn element(&mut self, element: &TemplateElement, at: (usize, usize)) {
        match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => {}
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => self.expression(h, at),
            TemplateElement::HelperBlock(h) => self.block(h, at),
            TemplateElement::PartialExpression(d) | TemplateElement::PartialBlock(d) => {
                match d.name.as_name() {
                    Some(written) if !written.starts_with('@') && matches!(d.name, Parameter::Name(_)) => {
                        let name = unquote(written);
                        if name != written {
                            self.out.quoted_partials.insert(written.to_owned());
                        }
                        if self.frames.len() == 1 && d.params.is_empty() {
                            self.out.root_partials.insert(name.clone());
                        }
                        if !self.out.partials.iter().any(|(p, _)| *p == name) {
                            self.out.partials.push((name, at));
                        }
                    }
                    _ => self.out.refused.push((
                        "a partial must be named by a literal (`{{> shared/tone}}`); a computed or `@partial-block` name cannot be resolved ahead of time".into(),
                        at,
                    )),
                }
                if matches!(element, TemplateElement::PartialBlock(_)) {
                    self.out.refused.push((
                        "partial blocks (`{{#> name}}…{{/name}}`) are not supported; use `{{> name}}`".into(),
                        at,
                    ));
                }
                for param in d.params.iter().chain(d.hash.values()) {
                    self.parameter(param, at);
                }
            }
            _ => {
                self.out.refused.push((
                    "decorators and inline partials (`{{#*inline}}`) are not supported; keep shared text in its own prompt and include it with `{{> name}}`".into(),
                    at,
                ));
            }
        }
    }

    /// `{{name}}`, `{{helper a b=c}}`.
    fn expression(&mut self, h: &HelperTemplate, at: (usize, usize)) {
        match &h.name {
            Parameter::Name(name) => self.helper(name, at),
            // `{{history}}`: a helper when one has the name, as in Handlebars. A helper that
            // needs an argument, called bare, is almost surely a variable of the same name,
            // which Handlebars would not print: refused, with how to read the variable.
            Parameter::Path(path) if h.params.is_empty() && h.hash.is_empty() && is_helper_path(path) => {
                if let Path::Relative((_, name)) = path
                    && NEEDS_ARGUMENTS.contains(&name.as_str())
                {
                    self.out.refused.push((
                        format!(
                            "`{{{{{name}}}}}` calls the helper `{name}` with nothing to work on and prints nothing; to print a variable named `{name}`, write `{{{{this.{name}}}}}`"
                        ),
                        at,
                    ));
                }
            }
            other => self.parameter(other, at),
        }
        for param in h.params.iter().chain(h.hash.values()) {
            self.parameter(param, at);
        }
    }

    /// `{{#helper …}}…{{else}}…{{/helper}}`.
    fn block(&mut self, h: &HelperTemplate, at: (usize, usize)) {
        let name = match &h.name {
            Parameter::Name(name) => {
                self.helper(name, at);
                Some(name.as_str())
            }
            other => {
                // `{{#items}}…{{/items}}`: a section over `items`, which it tests and enters.
                self.parameter(other, at);
                None
            }
        };
        let subject = match name {
            Some(_) => h.params.first(),
            None => Some(&h.name),
        };
        let guard = subject.and_then(|p| self.top_level(p));
        let tests = name.is_none_or(|n| TESTS.contains(&n) || SCOPES.contains(&n));
        // The test itself is not a required read.
        if let Some(first) = h.params.first() {
            match (&guard, tests) {
                (Some(variable), true) => self.read(variable, at, false),
                _ => self.parameter(first, at),
            }
        }
        for param in h.params.iter().skip(1).chain(h.hash.values()) {
            self.parameter(param, at);
        }
        let guarded = tests.then_some(guard).flatten();
        if let Some(variable) = &guarded {
            self.guards.push(variable.clone());
        }
        let scopes = name.is_none_or(|n| SCOPES.contains(&n));
        if let Some(body) = &h.template {
            if scopes {
                let block_params = match &h.block_param {
                    Some(BlockParam::Single(p)) => vec![param_name(p)],
                    Some(BlockParam::Pair((a, b))) => vec![param_name(a), param_name(b)],
                    _ => Vec::new(),
                };
                self.frames.push(Frame {
                    root: false,
                    block_params,
                });
                self.template(body, at);
                self.frames.pop();
            } else {
                self.template(body, at);
            }
        }
        if let Some(inverse) = &h.inverse {
            self.template(inverse, at);
        }
        if guarded.is_some() {
            self.guards.pop();
        }
    }

    fn helper(&mut self, name: &str, at: (usize, usize)) {
        if !HELPERS.contains(&name) && !self.out.unknown_helpers.iter().any(|(n, _)| n == name) {
            self.out.unknown_helpers.push((name.to_owned(), at));
        }
    }

    fn parameter(&mut self, param: &Parameter, at: (usize, usize)) {
        match param {
            Parameter::Name(_) | Parameter::Literal(_) => {}
            Parameter::Path(_) => {
                if let Some(variable) = self.top_level(param) {
                    let required = !self.guards.contains(&variable);
                    self.read(&variable, at, required);
                } else if let Parameter::Path(Path::Relative((_, raw))) = param {
                    let up = raw.matches("../").count();
                    if up >= self.frames.len() && !raw.starts_with("@root") {
                        self.out.refused.push((
                            format!("`{raw}` climbs above the top of the template, where Handlebars finds nothing; write `{}`", raw.replace("../", "")),
                            at,
                        ));
                    }
                }
            }
            Parameter::Subexpression(sub) => {
                self.helper(sub.name(), at);
                if let Some(params) = sub.params() {
                    for p in params {
                        self.parameter(p, at);
                    }
                }
                if let Some(hash) = sub.hash() {
                    for p in hash.values() {
                        self.parameter(p, at);
                    }
                }
            }
            _ => {}
        }
    }

    fn read(&mut self, variable: &str, at: (usize, usize), required: bool) {
        self.out.variables.entry(variable.to_owned()).or_insert(at);
        if required {
            self.out.required.insert(variable.to_owned());
        }
    }

    /// The top-level variable a path parameter reads, if it reads one.
    fn top_level(&self, param: &Parameter) -> Option<String> {
        let Parameter::Path(Path::Relative((segs, raw))) = param else {
            return None;
        };
        let mut rest = raw.trim();
        if let Some(after) = rest.strip_prefix("@root") {
            let after = after.trim_start_matches(['.', '/']);
            return first_segment(after);
        }
        let mut up = 0;
        while let Some(after) = rest.strip_prefix("../") {
            up += 1;
            rest = after;
        }
        for prefix in ["this.", "this/", "./"] {
            if let Some(after) = rest.strip_prefix(prefix) {
                rest = after;
            }
        }
        if rest == "this" || rest == "." || rest.is_empty() || segs.is_empty() {
            return None;
        }
        let first = first_segment(rest)?;
        let index = self.frames.len().checked_sub(1 + up)?;
        if up == 0 && self.frames[index..].iter().any(|f| f.block_params.contains(&first)) {
            return None;
        }
        self.frames[index].root.then_some(first)
    }
}

/// A simple path naming a helper (`{{history}}`), which Handlebars calls instead of reading.
fn is_helper_path(path: &Path) -> bool {
    match path {
        Path::Relative((segs, raw)) => {
            segs.len() == 1 && matches!(&segs[0], PathSeg::Named(n) if n == raw) && HELPERS.contains(&raw.as_str())
        }
        Path::Local(_) => false,
    }
}

fn param_name(p: &Parameter) -> String {
    match p {
        Parameter::Name(n) => n.clone(),
        Parameter::Path(Path::Relative((_, raw))) => raw.clone(),
        _ => String::new(),
    }
}

/// The first segment of a path (`user` of `user.name`, `first name` of `[first name].x`).
fn first_segment(path: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix('[') {
        return rest
            .split_once(']')
            .map(|(seg, _)| seg.to_owned())
            .filter(|s| !s.is_empty());
    }
    let end = path.find(['.', '/']).unwrap_or(path.len());
    Some(path[..end].to_owned()).filter(|s| !s.is_empty() && !s.starts_with('@'))
}

/// A partial name as written, without the quotes of `{{> 'name'}}`.
fn unquote(name: &str) -> String {
    let bytes = name.as_bytes();
    let quoted = bytes.len() >= 2
        && matches!(
            (bytes[0], bytes[bytes.len() - 1]),
            (b'\'', b'\'') | (b'"', b'"') | (b'[', b']')
        );
    if quoted {
        name[1..name.len() - 1].to_owned()
    } else {
        name.to_owned()
    }
}

/// `(line, column)` as a [`SourcePosition`] in `source` (the offset found from them).
pub(crate) fn position(source: &str, (line, column): (usize, usize)) -> SourcePosition {
    let mut offset = 0;
    for (i, text) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            offset += text
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(text.len(), |(o, _)| o);
            return SourcePosition::at(source, offset);
        }
        offset += text.len();
    }
    SourcePosition::at(source, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(source: &str) -> (Vec<String>, Vec<String>) {
        let (_, a) = analyse("t", source).expect("parses");
        (a.variables.into_keys().collect(), a.required.into_iter().collect())
    }

    #[test]
    fn top_level_reads_only() {
        let (all, required) = vars(
            "Hi {{user.name}} {{#each items}}{{title}} {{../tone}} {{@index}} {{this}}{{/each}} {{@root.city}} {{#with place as |p|}}{{p.x}}{{zip}}{{/with}}",
        );
        assert_eq!(all, ["city", "items", "place", "tone", "user"]);
        assert_eq!(required, ["city", "tone", "user"]);
    }

    #[test]
    fn tests_make_variables_optional() {
        let (all, required) =
            vars("{{#if nick}}Hi {{nick}}{{else}}Hello {{name}}{{/if}} {{#unless quiet}}!{{/unless}}");
        assert_eq!(all, ["name", "nick", "quiet"]);
        assert_eq!(required, ["name"]);
    }

    #[test]
    fn helpers_are_not_variables() {
        let (all, required) = vars(
            "{{role \"system\"}}{{history}}{{json data indent=2}}{{media url=img}}{{#ifEquals a \"x\"}}{{b}}{{/ifEquals}}",
        );
        assert_eq!(all, ["a", "b", "data", "img"]);
        assert_eq!(required, ["a", "b", "data", "img"]);
    }

    #[test]
    fn partials_unknown_helpers_and_refusals_are_placed() {
        let (_, a) = analyse(
            "t",
            "x\n  {{> shared/tone@production}} {{> 'other'}}\n{{shout name}}\n{{#*inline \"p\"}}x{{/inline}}",
        )
        .expect("parses");
        assert_eq!(
            a.partials,
            [
                ("shared/tone@production".to_owned(), (2, 3)),
                ("other".to_owned(), (2, 32))
            ]
        );
        assert_eq!(a.unknown_helpers, [("shout".to_owned(), (3, 1))]);
        assert_eq!(a.refused.len(), 1);
        assert_eq!(a.refused[0].1, (4, 1));
        let (_, a) = analyse("t", "You are {{role}}. {{this.role}} {{history}}").expect("parses");
        assert_eq!(a.refused.len(), 1, "{:?}", a.refused);
        assert!(a.refused[0].0.contains("{{this.role}}"), "{:?}", a.refused);
        assert_eq!(a.variables.keys().collect::<Vec<_>>(), ["role"]);
        let (_, a) = analyse("t", "{{#each xs}}{{../y}}{{/each}} {{../z}}").expect("parses");
        assert_eq!(a.refused.len(), 1, "{:?}", a.refused);
        assert!(a.refused[0].0.contains("`../z`"), "{:?}", a.refused);
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let err = parse("t", "ok\n{{#if x}}open").unwrap_err();
        assert!(matches!(err, Error::TemplateSyntax { line: 2, .. }), "{err:?}");
    }
}
