//! Static checks of a template that compiles: what every render would refuse, found at save
//! time with its line and column — an unknown filter, test or method, a filter or test called
//! with the wrong number of arguments, a mutating Python method (`xs.append(1)`), a macro that
//! reads `varargs` or `kwargs`. `lint` and `create` both reach it through
//! [`TemplateEngine::validate`](prompt_manager_core::TemplateEngine::validate).
//!
//! The walk reads minijinja's parsed template (`unstable_machinery`, pinned by the lock file).

use minijinja::machinery::ast::{BinOpKind, CallArg, CallType, Expr, FromImport, Macro, Stmt};
use minijinja::machinery::{Span, parse};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind};
use prompt_manager_core::{Error, IncludedTemplate, Result};

use crate::jinja2::mutating_hint;

/// Checks `source` (already known to compile) against the filters and tests of `env`.
pub(crate) fn check(name: &str, source: &str, env: &Environment<'static>) -> Result<()> {
    // The source compiled, so it parses; a parse error here is reported by the compiler anyway.
    let Ok(ast) = parse(source, name, SyntaxConfig::default()) else {
        return Ok(());
    };
    let mut walker = Walker {
        env,
        problem: None,
        macro_params: Vec::new(),
        probed: std::collections::HashMap::new(),
    };
    walker.stmt(&ast);
    refuse(name, walker.problem)
}

/// The first problem found, as a template error at its line and column.
fn refuse(name: &str, problem: Option<(Span, String)>) -> Result<()> {
    match problem {
        None => Ok(()),
        Some((span, message)) => Err(Error::TemplateSyntax {
            template: name.to_owned(),
            message,
            line: usize::from(span.start_line),
            column: usize::from(span.start_col) + 1,
        }),
    }
}

/// Python methods a template may call: minijinja-contrib's `pycompat` and ours, on strings,
/// dicts and lists, plus the methods of `loop` and of `cycler()`.
const KNOWN_METHODS: &[&str] = &[
    // str (pycompat)
    "upper",
    "lower",
    "islower",
    "isupper",
    "isspace",
    "isdigit",
    "isnumeric",
    "isalnum",
    "isalpha",
    "isascii",
    "strip",
    "lstrip",
    "rstrip",
    "replace",
    "title",
    "split",
    "splitlines",
    "capitalize",
    "count",
    "find",
    "format",
    "rfind",
    "startswith",
    "endswith",
    "join",
    // dict and list (pycompat)
    "keys",
    "values",
    "items",
    "get",
    // ours (jinja2.rs)
    "zfill",
    "center",
    "ljust",
    "rjust",
    "removeprefix",
    "removesuffix",
    "partition",
    "rpartition",
    "rsplit",
    "swapcase",
    "index",
    "copy",
    // loop, cycler
    "cycle",
    "changed",
    "next",
    "reset",
    "current",
];

/// Jinja2's filters with the most positional arguments each takes (after the value) and the
/// fewest it needs; `None` = any number.
fn filter_arity(name: &str) -> Option<(usize, Option<usize>)> {
    Some(match name {
        "abs" | "capitalize" | "count" | "e" | "escape" | "first" | "forceescape" | "items" | "last" | "length"
        | "list" | "lower" | "reverse" | "safe" | "string" | "striptags" | "title" | "upper" | "wordcount"
        | "urlencode" | "random" | "pprint" => (0, Some(0)),
        "center" | "filesizeformat" | "float" | "tojson" | "trim" | "xmlattr" => (0, Some(1)),
        "attr" => (1, Some(1)),
        "batch" | "slice" => (1, Some(2)),
        "default" | "d" | "int" | "join" | "round" | "sum" | "max" | "min" | "unique" => (0, Some(2)),
        "dictsort" | "sort" | "indent" => (0, Some(3)),
        "groupby" => (1, Some(3)),
        "replace" => (2, Some(3)),
        "truncate" | "wordwrap" => (0, Some(4)),
        _ => return None,
    })
}

fn test_arity(name: &str) -> Option<usize> {
    Some(match name {
        "divisibleby" | "sameas" | "eq" | "equalto" | "==" | "ne" | "!=" | "lt" | "lessthan" | "<" | "le" | "<="
        | "gt" | "greaterthan" | ">" | "ge" | ">=" | "in" => 1,
        "defined" | "undefined" | "none" | "boolean" | "false" | "true" | "integer" | "float" | "number" | "string"
        | "sequence" | "iterable" | "mapping" | "odd" | "even" | "lower" | "upper" | "callable" | "escaped"
        | "safe" => 0,
        _ => return None,
    })
}

struct Walker<'e> {
    env: &'e Environment<'static>,
    problem: Option<(Span, String)>,
    /// The parameters of the macros we are inside.
    macro_params: Vec<Vec<String>>,
    /// Probes already made (`none|upper` → exists), so a name used often is probed once.
    probed: std::collections::HashMap<String, bool>,
}

impl Walker<'_> {
    fn report(&mut self, span: Span, message: String) {
        if self.problem.is_none() {
            self.problem = Some((span, message));
        }
    }

    fn body(&mut self, stmts: &[Stmt<'_>]) {
        for stmt in stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &Stmt<'_>) {
        if self.problem.is_some() {
            return;
        }
        match stmt {
            Stmt::Template(t) => self.body(&t.children),
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                if let Some(filter) = &f.filter_expr {
                    self.expr(filter);
                }
                self.body(&f.body);
                self.body(&f.else_body);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr);
                self.body(&i.true_body);
                self.body(&i.false_body);
            }
            Stmt::WithBlock(w) => {
                for (_, value) in &w.assignments {
                    self.expr(value);
                }
                self.body(&w.body);
            }
            Stmt::Set(s) => self.expr(&s.expr),
            Stmt::SetBlock(s) => {
                if let Some(filter) = &s.filter {
                    self.expr(filter);
                }
                self.body(&s.body);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.body(&a.body);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.body(&f.body);
            }
            Stmt::Block(b) => self.body(&b.body),
            Stmt::Import(i) => self.expr(&i.expr),
            Stmt::FromImport(i) => self.expr(&i.expr),
            Stmt::Extends(e) => self.expr(&e.name),
            Stmt::Include(i) => self.expr(&i.name),
            Stmt::Macro(m) => self.macro_decl(m),
            Stmt::CallBlock(c) => {
                self.call_args(&c.call.args);
                self.expr(&c.call.expr);
                self.macro_decl(&c.macro_decl);
            }
            Stmt::Do(d) => self.call(&d.call, d.call.span()),
        }
    }

    fn macro_decl(&mut self, m: &Macro<'_>) {
        for default in &m.defaults {
            self.expr(default);
        }
        let params = m
            .args
            .iter()
            .filter_map(|arg| match arg {
                Expr::Var(v) => Some(v.id.to_owned()),
                _ => None,
            })
            .collect();
        self.macro_params.push(params);
        self.body(&m.body);
        self.macro_params.pop();
    }

    fn call_args(&mut self, args: &[CallArg<'_>]) {
        for arg in args {
            match arg {
                CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn call(&mut self, call: &minijinja::machinery::ast::Call<'_>, span: Span) {
        self.call_args(&call.args);
        match call.identify_call() {
            CallType::Method(target, method) => {
                self.expr(target);
                if let Some(hint) = mutating_hint(method) {
                    self.report(
                        span,
                        format!("`.{method}()` changes a value in place, which templates here cannot do: {hint}"),
                    );
                } else if !KNOWN_METHODS.contains(&method) {
                    self.report(span, format!("unknown method `{method}`"));
                }
            }
            CallType::Function(_) | CallType::Block(_) => {}
            CallType::Object(target) => self.expr(target),
        }
    }

    fn expr(&mut self, expr: &Expr<'_>) {
        if self.problem.is_some() {
            return;
        }
        match expr {
            Expr::Var(v) if v.id == "self" => {
                self.report(
                    v.span(),
                    "`self` only names the template's blocks: call one with `self.name()`".into(),
                );
            }
            Expr::Var(v) => {
                if matches!(v.id, "varargs" | "kwargs")
                    && let Some(params) = self.macro_params.last()
                    && !params.iter().any(|p| p == v.id)
                {
                    self.report(
                        v.span(),
                        format!(
                            "macros here take only the parameters they declare: `{}` (Jinja2's extra-argument collector) is not supported; declare the parameters instead",
                            v.id
                        ),
                    );
                }
            }
            Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr);
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part);
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                self.expr(&b.left);
                self.expr(&b.right);
                if matches!(b.op, BinOpKind::Rem)
                    && let Expr::Const(c) = &b.left
                    && c.value.kind() == minijinja::value::ValueKind::String
                {
                    self.report(
                        b.span(),
                        "`%` on a string is not formatting here: write `'…'|format(…)`, which formats as Python's `%` does".into(),
                    );
                }
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                for op in &c.ops {
                    self.expr(&op.expr);
                }
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                if let Some(f) = &i.false_expr {
                    self.expr(f);
                }
            }
            Expr::Filter(f) => {
                if let Some(inner) = &f.expr {
                    self.expr(inner);
                }
                self.call_args(&f.args);
                if !self.has_filter(f.name) {
                    self.report(f.span(), format!("unknown filter `{}`", f.name));
                } else if let Some((min, max)) = filter_arity(f.name) {
                    self.check_arity("filter", f.name, &f.args, min, max, f.span());
                }
            }
            Expr::Test(t) => {
                self.expr(&t.expr);
                self.call_args(&t.args);
                if !self.has_test(t.name) {
                    self.report(t.span(), format!("unknown test `{}`", t.name));
                } else if let Some(n) = test_arity(t.name) {
                    self.check_arity("test", t.name, &t.args, n, Some(n), t.span());
                }
            }
            Expr::GetAttr(g) => self.expr(&g.expr),
            Expr::GetItem(g) => {
                self.expr(&g.expr);
                self.expr(&g.subscript_expr);
            }
            Expr::Call(c) => self.call(c, c.span()),
            Expr::List(l) => l.items.iter().for_each(|e| self.expr(e)),
            Expr::Tuple(t) => t.items.iter().for_each(|e| self.expr(e)),
            Expr::Map(m) => {
                m.keys.iter().for_each(|e| self.expr(e));
                m.values.iter().for_each(|e| self.expr(e));
            }
        }
    }

    fn check_arity(
        &mut self,
        what: &str,
        name: &str,
        args: &[CallArg<'_>],
        min: usize,
        max: Option<usize>,
        span: Span,
    ) {
        if args
            .iter()
            .any(|a| matches!(a, CallArg::PosSplat(_) | CallArg::KwargSplat(_)))
        {
            return;
        }
        let positional = args.iter().filter(|a| matches!(a, CallArg::Pos(_))).count();
        let keywords = args.iter().filter(|a| matches!(a, CallArg::Kwarg(..))).count();
        if let Some(max) = max
            && positional > max
        {
            self.report(
                span,
                format!("the {what} `{name}` takes at most {max} argument(s), {positional} given"),
            );
        } else if positional + keywords < min {
            self.report(
                span,
                format!(
                    "the {what} `{name}` needs at least {min} argument(s), {} given",
                    positional + keywords
                ),
            );
        }
    }

    /// Whether `env` has the filter: compiling `none|name` and evaluating it fails with
    /// `UnknownFilter` exactly when it does not (a wrong argument fails otherwise).
    fn has_filter(&mut self, name: &str) -> bool {
        self.probe(format!("none|{name}"), ErrorKind::UnknownFilter)
    }

    fn has_test(&mut self, name: &str) -> bool {
        self.probe(format!("none is {name}"), ErrorKind::UnknownTest)
    }

    fn probe(&mut self, expression: String, unknown: ErrorKind) -> bool {
        let env = self.env;
        *self
            .probed
            .entry(expression)
            .or_insert_with_key(|expression| probe(env, expression, unknown))
    }
}

fn probe(env: &Environment<'static>, expression: &str, unknown: ErrorKind) -> bool {
    match env.compile_expression(expression) {
        Err(e) => e.kind() != unknown,
        Ok(compiled) => !matches!(compiled.eval(()), Err(e) if e.kind() == unknown),
    }
}

/// Checks that every name a `{% from "x" import a, b %}` takes from an included prompt is one
/// that prompt defines at its top level (a macro or a `set`): otherwise every render fails.
pub(crate) fn check_imports(name: &str, source: &str, includes: &[IncludedTemplate]) -> Result<()> {
    let Ok(ast) = parse(source, name, SyntaxConfig::default()) else {
        return Ok(());
    };
    let Stmt::Template(template) = &ast else {
        return Ok(());
    };
    let mut problem = None;
    visit_from_imports(&template.children, &mut |import| {
        let Expr::Const(target) = &import.expr else { return };
        let Some(reference) = target.value.as_str() else { return };
        let Some(included) = includes.iter().find(|i| i.reference == reference) else {
            return;
        };
        let exported = exports(&included.source);
        for (imported, _) in &import.names {
            if let Expr::Var(v) = imported
                && !exported.iter().any(|e| e == v.id)
                && problem.is_none()
            {
                problem = Some((
                    v.span(),
                    format!(
                        "`{}` is not defined by `{reference}` (it defines: {})",
                        v.id,
                        if exported.is_empty() {
                            "nothing".to_owned()
                        } else {
                            exported.join(", ")
                        }
                    ),
                ));
            }
        }
    });
    refuse(name, problem)
}

fn visit_from_imports<'a>(stmts: &'a [Stmt<'a>], f: &mut dyn FnMut(&'a FromImport<'a>)) {
    for stmt in stmts {
        match stmt {
            Stmt::FromImport(i) => f(i),
            Stmt::IfCond(i) => {
                visit_from_imports(&i.true_body, f);
                visit_from_imports(&i.false_body, f);
            }
            Stmt::ForLoop(l) => visit_from_imports(&l.body, f),
            Stmt::WithBlock(w) => visit_from_imports(&w.body, f),
            Stmt::Block(b) => visit_from_imports(&b.body, f),
            Stmt::Macro(m) => visit_from_imports(&m.body, f),
            _ => {}
        }
    }
}

/// The names a template defines at its top level: its macros and `set` variables.
fn exports(source: &str) -> Vec<String> {
    let Ok(Stmt::Template(template)) = parse(source, "<import>", SyntaxConfig::default()) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    collect_exports(&template.children, &mut names);
    names
}

/// Top-level `{% if %}` bodies share the template's scope, so what they define is exported too.
fn collect_exports(stmts: &[Stmt<'_>], names: &mut Vec<String>) {
    for stmt in stmts {
        match stmt {
            Stmt::IfCond(i) => {
                collect_exports(&i.true_body, names);
                collect_exports(&i.false_body, names);
            }
            Stmt::Macro(m) => names.push(m.name.to_owned()),
            Stmt::Set(s) => {
                if let Expr::Var(v) = &s.target {
                    names.push(v.id.to_owned());
                }
            }
            Stmt::SetBlock(s) => {
                if let Expr::Var(v) = &s.target {
                    names.push(v.id.to_owned());
                }
            }
            _ => {}
        }
    }
}
