//! [`MiniJinjaEngine`] and its [`RenderLimits`].

use std::collections::BTreeSet;
use std::sync::Arc;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use prompt_manager_core::{CompileUnit, CompiledTemplate, Result, SourceScan, TemplateEngine};

use crate::compiled::MiniJinjaTemplate;
use crate::errors::convert_error;

/// Bounds on one render, so an untrusted template cannot hang or exhaust memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLimits {
    /// Fuel per render (roughly one unit per instruction; output bytes cost fuel too).
    pub fuel: u64,
    /// Deepest nesting of includes, macros and recursive loops.
    pub recursion: usize,
    /// Largest output of one part (one text or one message), in bytes.
    pub max_output_bytes: usize,
}

impl Default for RenderLimits {
    /// 1,000,000 fuel (a 10-example chat prompt uses about 1,500), recursion 64, 1 MiB of output.
    fn default() -> Self {
        RenderLimits {
            fuel: 1_000_000,
            recursion: 64,
            max_output_bytes: 1024 * 1024,
        }
    }
}

/// The minijinja template engine.
#[derive(Debug, Clone)]
pub struct MiniJinjaEngine {
    base: Environment<'static>,
    limits: RenderLimits,
    /// Names every template may read without them being variables (`range`, `namespace`, …).
    globals: Arc<BTreeSet<String>>,
}

impl Default for MiniJinjaEngine {
    fn default() -> Self {
        MiniJinjaEngine::with_limits(RenderLimits::default())
    }
}

impl MiniJinjaEngine {
    /// An engine with the default [`RenderLimits`].
    pub fn new() -> Self {
        MiniJinjaEngine::default()
    }

    /// An engine with these limits.
    pub fn with_limits(limits: RenderLimits) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // One behaviour in debug and release builds: minijinja's debug mode (on by default in
        // debug builds only) changes error details, and errors must read the same in both.
        env.set_debug(false);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(limits.fuel));
        env.set_recursion_limit(limits.recursion);
        crate::jinja2::install(&mut env);
        let globals = env
            .globals()
            .map(|(name, _)| name.to_owned())
            .chain(["loop".to_owned()])
            .collect();
        MiniJinjaEngine {
            base: env,
            limits,
            globals: Arc::new(globals),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> RenderLimits {
        self.limits
    }

    /// A copy of the configured environment (cheap: filters and globals are shared).
    pub(crate) fn environment(&self) -> Environment<'static> {
        self.base.clone()
    }

    pub(crate) fn globals(&self) -> &BTreeSet<String> {
        &self.globals
    }
}

impl TemplateEngine for MiniJinjaEngine {
    fn name(&self) -> &'static str {
        "minijinja"
    }

    fn compile(&self, unit: CompileUnit<'_>) -> Result<Arc<dyn CompiledTemplate>> {
        Ok(Arc::new(MiniJinjaTemplate::compile(self, unit)?))
    }

    fn includes(&self, name: &str, source: &str) -> Result<Vec<String>> {
        crate::scan::find_includes(name, source)
    }

    fn scan(&self, name: &str, source: &str) -> Result<SourceScan> {
        let variables = self.extract_variables(name, source)?;
        crate::scan::scan(name, source, variables)
    }

    fn extract_variables(&self, name: &str, source: &str) -> Result<BTreeSet<String>> {
        let env = Environment::empty();
        let source = crate::jinja2::normalize_newlines(source);
        let template = env
            .template_from_named_str(name, &source)
            .map_err(|e| convert_error(e, name))?;
        Ok(template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !self.globals.contains(v))
            .collect())
    }

    fn validate(&self, name: &str, source: &str) -> Result<()> {
        let source = crate::jinja2::normalize_newlines(source);
        self.environment()
            .template_from_named_str(name, &source)
            .map(|_| ())
            .map_err(|e| convert_error(e, name))?;
        crate::check::check(name, &source, &self.base)
    }

    fn check(&self, name: &str, source: &str) -> Result<()> {
        crate::check::check(name, &crate::jinja2::normalize_newlines(source), &self.base)
    }
}

impl From<MiniJinjaEngine> for Arc<dyn TemplateEngine> {
    fn from(engine: MiniJinjaEngine) -> Self {
        Arc::new(engine)
    }
}

impl From<MiniJinjaEngine> for prompt_manager_core::Engines {
    fn from(engine: MiniJinjaEngine) -> Self {
        prompt_manager_core::Engines::from(Arc::new(engine) as Arc<dyn TemplateEngine>)
    }
}
