//! One compiled prompt version: every part's template, compiled once against a private copy of
//! the environment that also holds the (already resolved) included templates.

use std::collections::BTreeSet;
use std::fmt;

use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, Template};
use prompt_manager_core::{CompileUnit, CompiledTemplate, Error, Result, VariableProblem, Variables};

use crate::context::JsonContext;
use crate::engine::MiniJinjaEngine;
use crate::errors::convert_error;

struct Owner {
    env: Environment<'static>,
    names: Vec<String>,
    sources: Vec<String>,
}

type Templates<'a> = Vec<Template<'a, 'a>>;

self_cell::self_cell!(
    struct Cell {
        owner: Owner,
        #[covariant]
        dependent: Templates,
    }
);

/// A compiled unit of the minijinja engine.
pub(crate) struct MiniJinjaTemplate {
    cell: Cell,
    name: String,
    /// What the unit's own templates read.
    root_variables: BTreeSet<String>,
    /// That plus what its includes read.
    variables: BTreeSet<String>,
    max_output_bytes: usize,
}

impl fmt::Debug for MiniJinjaTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MiniJinjaTemplate")
            .field("name", &self.name)
            .field("parts", &self.cell.borrow_owner().sources.len())
            .field("variables", &self.variables)
            .finish()
    }
}

/// A name per source of `unit` for messages: the caller's, else `name message N` for several.
pub(crate) fn part_names(unit: &CompileUnit<'_>) -> Vec<String> {
    let several = unit.sources.len() > 1;
    (0..unit.sources.len())
        .map(|i| match unit.part_names.get(i) {
            Some(name) if unit.part_names.len() == unit.sources.len() => (*name).to_owned(),
            _ if several => format!("{} message {}", unit.name, i + 1),
            _ => unit.name.to_owned(),
        })
        .collect()
}

impl MiniJinjaTemplate {
    pub(crate) fn compile(engine: &MiniJinjaEngine, unit: CompileUnit<'_>) -> Result<Self> {
        let mut env = engine.environment();
        let mut variables = BTreeSet::new();
        for include in unit.includes {
            let source = crate::jinja2::normalize_newlines(&include.source).into_owned();
            env.add_template_owned(include.reference.clone(), source)
                .map_err(|e| convert_error(e, &format!("{} (included by {})", include.resolved, unit.name)))?;
        }
        let names = part_names(&unit);
        let owner = Owner {
            env,
            names,
            sources: unit
                .sources
                .iter()
                .map(|s| crate::jinja2::normalize_newlines(s).into_owned())
                .collect(),
        };
        // Only an include can be imported from: without includes there is nothing to check.
        if !unit.includes.is_empty() {
            for (name, source) in owner.names.iter().zip(&owner.sources) {
                crate::check::check_imports(name, source, unit.includes)?;
            }
        }
        let cell = Cell::try_new(owner, |owner| -> Result<Templates<'_>> {
            let env: &Environment<'_> = &owner.env;
            owner
                .names
                .iter()
                .zip(&owner.sources)
                .map(|(name, source)| {
                    env.template_from_named_str(name, source)
                        .map_err(|e| convert_error(e, name))
                })
                .collect()
        })?;
        let globals = engine.globals();
        for template in cell.borrow_dependent() {
            variables.extend(template.undeclared_variables(false));
        }
        variables.retain(|v| !globals.contains(v));
        let root_variables = variables.clone();
        for (name, template) in cell.borrow_owner().env.templates() {
            if unit.includes.iter().any(|i| i.reference == name) {
                variables.extend(template.undeclared_variables(false));
            }
        }
        variables.retain(|v| !globals.contains(v));
        Ok(MiniJinjaTemplate {
            cell,
            name: unit.name.to_owned(),
            root_variables,
            variables,
            max_output_bytes: engine.limits().max_output_bytes,
        })
    }

    /// When `err` is about a variable the caller did not give, every variable the unit's own
    /// templates read and the caller did not give (the failing one first if an include read it),
    /// each with the line that first reads it.
    fn missing(&self, err: &minijinja::Error, vars: &Variables) -> Option<Vec<VariableProblem>> {
        let (failing, failing_line) = self.undefined_name(err)?;
        if vars.contains(&failing) {
            return None;
        }
        let mut names: Vec<&String> = self.root_variables.iter().filter(|v| !vars.contains(v)).collect();
        if !names.contains(&&failing) {
            names.insert(0, &failing);
        }
        Some(
            names
                .into_iter()
                .map(|v| VariableProblem::Missing {
                    name: v.clone(),
                    expected: None,
                    line: self
                        .variable_position(v)
                        .map(|(_, line)| line)
                        .or_else(|| (*v == failing).then_some(failing_line).flatten()),
                    message: None,
                })
                .collect(),
        )
    }

    /// The source of the template called `name`: one of the unit's parts or an include.
    fn source_of(&self, name: &str) -> Option<String> {
        let owner = self.cell.borrow_owner();
        match owner.names.iter().position(|n| n == name) {
            Some(i) => owner.sources.get(i).cloned(),
            None => owner.env.get_template(name).ok().map(|t| t.source().to_owned()),
        }
    }

    /// The name (and line) of the undefined top-level variable an error is about: the innermost
    /// undefined-value error (includes wrap theirs) whose span is a bare identifier. `user.nme`
    /// is not one: `user` was given and the fault is the attribute. Reads the span against our
    /// own copy of the source, so it works without minijinja's debug mode (release builds).
    fn undefined_name(&self, err: &minijinja::Error) -> Option<(String, Option<usize>)> {
        let mut current = err;
        loop {
            if current.kind() == ErrorKind::UndefinedError {
                let source = self.source_of(current.name()?)?;
                let span = source.get(current.range()?)?.trim();
                let mut chars = span.chars();
                let is_ident = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
                return is_ident.then(|| (span.to_owned(), current.line()));
            }
            current = std::error::Error::source(current)?.downcast_ref::<minijinja::Error>()?;
        }
    }
}

impl CompiledTemplate for MiniJinjaTemplate {
    fn parts(&self) -> usize {
        self.cell.borrow_dependent().len()
    }

    fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }

    fn variable_position(&self, variable: &str) -> Option<(usize, usize)> {
        self.cell
            .borrow_owner()
            .sources
            .iter()
            .enumerate()
            .find_map(|(i, source)| first_read(source, variable).map(|line| (i, line)))
    }

    fn render(&self, vars: &Variables, emit: &mut dyn FnMut(usize, String)) -> Result<()> {
        let ctx = Value::from_object(JsonContext(vars.clone()));
        let names = &self.cell.borrow_owner().names;
        for (index, template) in self.cell.borrow_dependent().iter().enumerate() {
            let name = &names[index];
            let output = template.render(ctx.clone()).map_err(|e| match self.missing(&e, vars) {
                Some(problems) => Error::InvalidVariables {
                    reference: self.name.clone(),
                    problems,
                },
                None => convert_error(e, name),
            })?;
            if output.len() > self.max_output_bytes {
                return Err(Error::RenderLimit {
                    template: name.clone(),
                    limit: format!(
                        "its output of {} bytes exceeds the limit of {} bytes",
                        output.len(),
                        self.max_output_bytes
                    ),
                });
            }
            emit(index, output);
        }
        Ok(())
    }
}

/// The line of the first place `source` reads the top-level name `variable` (an identifier in
/// a tag that is not an attribute after a `.`).
fn first_read(source: &str, variable: &str) -> Option<usize> {
    let offset = *crate::scan::first_reads(source, |name| name == variable).get(variable)?;
    Some(prompt_manager_core::SourcePosition::at(source, offset).line)
}
