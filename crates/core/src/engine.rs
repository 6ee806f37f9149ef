//! The template engine trait: compile once, render many. CPU-only, so the methods are sync.
//!
//! The manager hands an engine every source of one prompt version at once (one for a text
//! prompt, one per message for a chat prompt) so the variables are converted once per render,
//! together with the already resolved sources of everything it includes.

use std::collections::BTreeSet;
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
}

/// A template engine.
pub trait TemplateEngine: Send + Sync + Debug {
    /// The engine's name (`minijinja`).
    fn name(&self) -> &'static str;

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

    /// Checks that a source compiles (and passes [`check`](TemplateEngine::check)).
    fn validate(&self, name: &str, source: &str) -> Result<()> {
        self.compile(CompileUnit {
            name,
            sources: &[source],
            part_names: &[],
            includes: &[],
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
