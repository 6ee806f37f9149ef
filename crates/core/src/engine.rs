//! The template engine trait: compile once, render many. CPU-only, so the methods are sync.
//!
//! The manager hands an engine every source of one prompt version at once (one for a text
//! prompt, one per message for a chat prompt) so the variables are converted once per render,
//! together with the already resolved sources of everything it includes.
//!
//! Tools that point into a template (lint, the structural diff) ask the engine too, through
//! [`TemplateEngine::scan`] and [`TemplateEngine::extract_variables`], so the workspace has one
//! reader of template syntax: the engine's. What a [`SourcePosition`] is lives here as well.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;

use crate::error::Result;
use crate::variables::Variables;

/// A template included by another, resolved by the manager before compiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedTemplate {
    /// The reference as written in the `{% include %}` tag (`shared/tone@production`).
    pub reference: String,
    /// The exact version it resolved to (`shared/tone@1.2.0`), for messages.
    pub resolved: String,
    /// Its template source.
    pub source: String,
}

/// Everything an engine needs to compile one prompt version.
#[derive(Debug, Clone, Copy)]
pub struct CompileUnit<'a> {
    /// A name for messages: the exact reference, `greeting@1.2.0`.
    pub name: &'a str,
    /// The sources, in order.
    pub sources: &'a [&'a str],
    /// A name per source for messages (`greeting@1.2.0 message 3`); when empty or of another
    /// length, the engine names parts itself.
    pub part_names: &'a [&'a str],
    /// Templates the sources include (transitively), already resolved.
    pub includes: &'a [IncludedTemplate],
    /// Whether the sources are a chat prompt's messages. Each one follows its role as the rest
    /// of that line does in a Dotprompt file, so an engine with line-based whitespace rules
    /// reads a message's first line as the continuation of a line (Handlebars makes no block
    /// tag there standalone).
    pub messages: bool,
}

/// A place in a template source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourcePosition {
    /// The byte offset from the start of the source.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl SourcePosition {
    /// The position of byte `offset` in `source` (clamped to the source's end; an offset inside
    /// a character counts from that character's start).
    ///
    /// ```
    /// use prompt_manager_core::SourcePosition;
    ///
    /// let at = SourcePosition::at("é\n  {{ x }}", 5);
    /// assert_eq!((at.line, at.column), (2, 3));
    /// ```
    pub fn at(source: &str, offset: usize) -> Self {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        SourcePosition {
            offset,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// What one template source loads and reads, with where: the answer of [`TemplateEngine::scan`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceScan {
    /// The references it loads (`{% include "…" %}` and the like), as
    /// [`includes`](TemplateEngine::includes) gives them, each with the position of its first
    /// literal (the opening quote) when the engine knows it.
    pub includes: Vec<(String, Option<SourcePosition>)>,
    /// The top-level variables it reads, as [`extract_variables`](TemplateEngine::extract_variables)
    /// gives them, each with the position of its first read when the engine knows it.
    pub variables: BTreeMap<String, Option<SourcePosition>>,
}

/// A template engine.
///
/// # Contract
/// The required methods are what the manager needs to save and render a prompt: compile, the
/// references a source includes, the variables it reads. The rest have defaults built on them;
/// an engine overrides them when it can do better (positions in [`scan`](TemplateEngine::scan),
/// stricter checks in [`check`](TemplateEngine::check)).
pub trait TemplateEngine: Send + Sync + Debug {
    /// The engine's name (`minijinja`).
    fn name(&self) -> &'static str;

    /// The template language it reads: the manager hands it the prompts written in it
    /// ([`Prompt::syntax`](crate::Prompt::syntax)). Jinja unless the engine says otherwise.
    fn syntax(&self) -> crate::TemplateSyntax {
        crate::TemplateSyntax::Jinja
    }

    /// Compiles all sources of a unit. Syntax errors name the part, line and column.
    fn compile(&self, unit: CompileUnit<'_>) -> Result<Arc<dyn CompiledTemplate>>;

    /// The references a source includes (`{% include "…" %}`), in order of appearance, without
    /// duplicates. Only literal references are allowed; a computed one is an error.
    fn includes(&self, name: &str, source: &str) -> Result<Vec<String>>;

    /// The top-level variables a source reads (without builtins such as `range` or `loop`).
    fn extract_variables(&self, name: &str, source: &str) -> Result<BTreeSet<String>>;

    /// Checks a source that compiles for what every render of it would refuse (an unknown
    /// filter, test or method, a wrong number of arguments), with the line and column. Saving a
    /// version runs it; loading a stored one does not, so older versions keep loading.
    fn check(&self, name: &str, source: &str) -> Result<()> {
        let _ = (name, source);
        Ok(())
    }

    /// What a source loads and reads, with where, for tools that point at them (lint reports
    /// an unresolved include or an undeclared variable at its place in the file).
    ///
    /// The default asks [`includes`](TemplateEngine::includes) and
    /// [`extract_variables`](TemplateEngine::extract_variables) and knows no positions. Errors
    /// are theirs: a source that does not parse fails with its syntax error.
    fn scan(&self, name: &str, source: &str) -> Result<SourceScan> {
        Ok(SourceScan {
            includes: self
                .includes(name, source)?
                .into_iter()
                .map(|reference| (reference, None))
                .collect(),
            variables: self
                .extract_variables(name, source)?
                .into_iter()
                .map(|variable| (variable, None))
                .collect(),
        })
    }

    /// Checks that a source compiles (and passes [`check`](TemplateEngine::check)).
    fn validate(&self, name: &str, source: &str) -> Result<()> {
        self.compile(CompileUnit {
            name,
            sources: &[source],
            part_names: &[],
            includes: &[],
            messages: false,
        })?;
        self.check(name, source)
    }
}

/// A compiled unit, ready to render any number of times from any thread.
pub trait CompiledTemplate: Send + Sync + Debug {
    /// How many sources the unit has.
    fn parts(&self) -> usize;

    /// The top-level variables the unit reads, includes included.
    fn variables(&self) -> &BTreeSet<String>;

    /// Where the unit's own templates first read `variable`: the index of the source (part)
    /// and the 1-based line in it, for error messages (`None` when unknown: engines need not
    /// track it).
    fn variable_position(&self, variable: &str) -> Option<(usize, usize)> {
        let _ = variable;
        None
    }

    /// Renders every part with the same variables and hands each output to `emit` with its index.
    ///
    /// A variable the template needs but `vars` lacks fails with `InvalidVariables` listing every
    /// variable the unit reads that was not given; runaway templates fail with `RenderLimit`.
    fn render(&self, vars: &Variables, emit: &mut dyn FnMut(usize, String)) -> Result<()>;
}

/// The engines of a manager, one per [`TemplateSyntax`](crate::TemplateSyntax): what tools that
/// read prompts of any syntax (lint, the structural diff, bundles) are handed, to take the one a
/// prompt is written for.
#[derive(Debug, Clone, Default)]
pub struct Engines(Vec<Arc<dyn TemplateEngine>>);

impl Engines {
    /// These engines; a later one replaces an earlier one of the same syntax.
    pub fn new(engines: impl IntoIterator<Item = Arc<dyn TemplateEngine>>) -> Self {
        let mut set = Engines::default();
        for engine in engines {
            set.insert(engine);
        }
        set
    }

    /// Adds `engine`, replacing the one of its syntax.
    pub fn insert(&mut self, engine: Arc<dyn TemplateEngine>) {
        self.0.retain(|e| e.syntax() != engine.syntax());
        self.0.push(engine);
    }

    /// The engine for `syntax`; an error naming the syntax when there is none (a build without
    /// the `handlebars` feature).
    pub fn get(&self, syntax: crate::TemplateSyntax) -> Result<&Arc<dyn TemplateEngine>> {
        self.0.iter().find(|e| e.syntax() == syntax).ok_or_else(|| {
            crate::Error::Unsupported(format!(
                "`{syntax}` templates: this build has no {syntax} engine (the `{syntax}` feature is off)"
            ))
        })
    }

    /// The engine for `prompt`'s syntax.
    pub fn of(&self, prompt: &crate::Prompt) -> Result<&Arc<dyn TemplateEngine>> {
        self.get(prompt.syntax)
    }

    /// The default engine: Jinja's when there is one, else the first.
    pub fn default_engine(&self) -> Option<&Arc<dyn TemplateEngine>> {
        self.0.iter().find(|e| e.syntax().is_default()).or(self.0.first())
    }

    /// Every engine.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn TemplateEngine>> {
        self.0.iter()
    }
}

impl From<Arc<dyn TemplateEngine>> for Engines {
    fn from(engine: Arc<dyn TemplateEngine>) -> Self {
        Engines(vec![engine])
    }
}
