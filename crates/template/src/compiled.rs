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

impl MiniJinjaTemplate {
    pub(crate) fn compile(engine: &MiniJinjaEngine, unit: CompileUnit<'_>) -> Result<Self> {
        let mut env = engine.environment();
        let mut variables = BTreeSet::new();
        for include in unit.includes {
            env.add_template_owned(include.reference.clone(), include.source.clone())
                .map_err(|e| convert_error(e, &format!("{} (included by {})", include.resolved, unit.name)))?;
        }
        let several = unit.sources.len() > 1;
        let names: Vec<String> = (0..unit.sources.len())
            .map(|i| match unit.part_names.get(i) {
                Some(name) if unit.part_names.len() == unit.sources.len() => (*name).to_owned(),
                _ if several => format!("{} message {}", unit.name, i + 1),
                _ => unit.name.to_owned(),
            })
            .collect();
        let owner = Owner {
            env,
            names,
            sources: unit.sources.iter().map(|s| (*s).to_owned()).collect(),
        };
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
    /// templates read and the caller did not give (the failing one first if an include read it).
    fn missing(&self, err: &minijinja::Error, vars: &Variables) -> Option<Vec<VariableProblem>> {
        let failing = undefined_name(err)?;
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
                })
                .collect(),
        )
    }
}

impl CompiledTemplate for MiniJinjaTemplate {
    fn parts(&self) -> usize {
        self.cell.borrow_dependent().len()
    }

    fn variables(&self) -> &BTreeSet<String> {
        &self.variables
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

/// The name of the undefined top-level variable an error is about: the innermost undefined-value
/// error (includes wrap theirs) whose span is a bare identifier. `user.nme` is not one: `user`
/// was given and the fault is the attribute.
fn undefined_name(err: &minijinja::Error) -> Option<String> {
    let mut current = err;
    loop {
        if current.kind() == ErrorKind::UndefinedError {
            let span = current.template_source()?.get(current.range()?)?.trim();
            let mut chars = span.chars();
            let is_ident = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            return is_ident.then(|| span.to_owned());
        }
        current = std::error::Error::source(current)?.downcast_ref::<minijinja::Error>()?;
    }
}
