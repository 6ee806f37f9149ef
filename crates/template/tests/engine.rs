//! Behaviour of the minijinja engine on its own: errors, limits, includes, literal values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use prompt_manager_core::{
    CompileUnit, CompiledTemplate, Error, IncludedTemplate, TemplateEngine, VariableProblem, Variables,
};
use prompt_manager_template::{MiniJinjaEngine, RenderLimits};
use proptest::prelude::*;
use serde_json::json;

fn compile(engine: &MiniJinjaEngine, sources: &[&str]) -> Result<Arc<dyn CompiledTemplate>, Error> {
    engine.compile(CompileUnit {
        name: "t@1.0.0",
        sources,
        part_names: &[],
        includes: &[],
        messages: false,
    })
}

fn render_all(compiled: &dyn CompiledTemplate, vars: &Variables) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    compiled.render(vars, &mut |_, s| out.push(s))?;
    Ok(out)
}

fn vars(value: serde_json::Value) -> Variables {
    Variables::try_from(value).unwrap()
}

#[test]
fn renders_every_part_with_one_set_of_variables() {
    let engine = MiniJinjaEngine::new();
    let compiled = compile(&engine, &["Hi {{ name }}", "{% for x in items %}{{ x }},{% endfor %}"]).unwrap();
    assert_eq!(compiled.parts(), 2);
    let out = render_all(
        compiled.as_ref(),
        &vars(json!({"name": "Ada", "items": [1, 2.5, true, null]})),
    )
    .unwrap();
    assert_eq!(out, vec!["Hi Ada", "1,2.5,True,None,"], "Jinja semantics, as in Python");
}

#[test]
fn missing_variables_are_all_named() {
    let engine = MiniJinjaEngine::new();
    let compiled = compile(&engine, &["{{ a }} {{ b }}", "{% if c %}{{ d.x }}{% endif %}"]).unwrap();
    let vars_used: Vec<_> = compiled.variables().iter().cloned().collect();
    assert_eq!(vars_used, vec!["a", "b", "c", "d"]);
    let err = render_all(compiled.as_ref(), &vars(json!({"b": 1}))).unwrap_err();
    match err {
        Error::InvalidVariables { reference, problems } => {
            assert_eq!(reference, "t@1.0.0");
            let names: Vec<_> = problems.iter().map(VariableProblem::name).collect();
            assert_eq!(names, vec!["a", "c", "d"]);
        }
        other => panic!("expected missing variables, got {other}"),
    }
}

#[test]
fn a_missing_variable_is_named_with_its_line_without_a_schema() {
    // The engine runs without minijinja's debug mode in every profile, so this is what the
    // release binary does too.
    let engine = MiniJinjaEngine::new();
    let compiled = compile(
        &engine,
        &["Hello {{ name }}!\n{% if vip %}\nWelcome back, {{ title }}.{% endif %}"],
    )
    .unwrap();
    let err = render_all(compiled.as_ref(), &vars(json!({}))).unwrap_err();
    match &err {
        Error::InvalidVariables { problems, .. } => {
            let found: Vec<_> = problems
                .iter()
                .map(|p| match p {
                    VariableProblem::Missing { name, line, .. } => (name.as_str(), *line),
                    other => panic!("{other}"),
                })
                .collect();
            assert_eq!(found, vec![("name", Some(1)), ("title", Some(3)), ("vip", Some(2))]);
        }
        other => panic!("expected missing variables, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        "t@1.0.0: missing variables `name` (line 1), `title` (line 3), `vip` (line 2)"
    );
}

#[test]
fn what_every_render_would_refuse_is_refused_at_validation_with_its_place() {
    let engine = MiniJinjaEngine::new();
    let cases = [
        ("{{ x|nosuchfilter }}", "unknown filter `nosuchfilter`", 1, 6),
        (
            "line\n  {% if x is nosuchtest %}{% endif %}",
            "unknown test `nosuchtest`",
            2,
            14,
        ),
        ("{{ x.frobnicate() }}", "unknown method `frobnicate`", 1, 5),
        (
            "{% set _ = xs.append(1) %}",
            "`.append()` changes a value in place",
            1,
            14,
        ),
        (
            "{{ x|replace('a') }}",
            "the filter `replace` needs at least 2 argument(s), 1 given",
            1,
            6,
        ),
        (
            "{{ x|lower(1) }}",
            "the filter `lower` takes at most 0 argument(s), 1 given",
            1,
            6,
        ),
        (
            "{% if x is divisibleby %}{% endif %}",
            "the test `divisibleby` needs at least 1 argument(s)",
            1,
            12,
        ),
        ("{% macro m(a) %}{{ varargs }}{% endmacro %}", "`varargs`", 1, 20),
    ];
    for (source, message, line, column) in cases {
        match engine.validate("t@1.0.0", source) {
            Err(Error::TemplateSyntax {
                message: m,
                line: l,
                column: c,
                ..
            }) => {
                assert!(m.contains(message), "{source}: {m}");
                assert_eq!((l, c), (line, column), "{source}: {m}");
            }
            other => panic!("{source}: expected a template error, got {other:?}"),
        }
    }
    for fine in [
        "{{ d.items()|list }} {{ s.split()|join(', ') }} {{ '{}'.format(x) }} {{ x|truncate(10) }}",
        "{% for k, v in d|dictsort %}{{ loop.cycle('a', 'b') }}{% endfor %}{{ x|default('y', true) }}",
        "{% macro m(a, varargs) %}{{ varargs }}{% endmacro %}{{ x is divisibleby 3 }}",
    ] {
        engine
            .validate("t@1.0.0", fine)
            .unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
}

#[test]
fn item_10_templates_that_fail_every_render_are_refused_when_compiled_or_checked() {
    let engine = MiniJinjaEngine::new();
    // `self` alone is no value: Jinja2 prints `<TemplateReference None>`, minijinja fails.
    match engine.validate("t@1.0.0", "Hi\n{{ self }}") {
        Err(Error::TemplateSyntax { message, line, .. }) => {
            assert!(message.contains("`self` only names the template's blocks"), "{message}");
            assert_eq!(line, 2);
        }
        other => panic!("{other:?}"),
    }
    // Importing a name the included prompt does not define fails at every render.
    let includes = vec![IncludedTemplate {
        reference: "shared/macros".into(),
        resolved: "shared/macros@1.0.0".into(),
        source: "{% macro bullet(x) %}* {{ x }}{% endmacro %}{% if true %}{% set sep = ', ' %}{% endif %}".into(),
    }];
    let unit = |source: &'static [&'static str]| CompileUnit {
        name: "t@1.0.0",
        sources: source,
        part_names: &[],
        includes: &includes,
        messages: false,
    };
    match engine.compile(unit(&[
        "{% from \"shared/macros\" import bullet, nosuch %}{{ bullet('a') }}",
    ])) {
        Err(Error::TemplateSyntax {
            message, line, column, ..
        }) => {
            assert_eq!(
                message,
                "`nosuch` is not defined by `shared/macros` (it defines: bullet, sep)"
            );
            assert_eq!((line, column), (1, 40));
        }
        other => panic!("{other:?}"),
    }
    let compiled = engine
        .compile(unit(&[
            "{% from \"shared/macros\" import bullet, sep %}{{ bullet('a') }}{{ sep }}",
        ]))
        .unwrap();
    assert_eq!(render_all(compiled.as_ref(), &vars(json!({}))).unwrap(), vec!["* a, "]);
}

#[test]
fn every_jinja2_builtin_filter_test_and_global_exists() {
    let engine = MiniJinjaEngine::new();
    let filters = "abs attr('a') batch(2) capitalize center count d default dictsort e escape filesizeformat \
        first float forceescape format groupby('a') indent int items join last length list lower map max min \
        pprint reject rejectattr replace('a','b') reverse round safe select selectattr slice(2) sort string \
        striptags sum title tojson trim truncate unique upper urlencode wordcount wordwrap xmlattr";
    for filter in filters.split_whitespace() {
        let source = format!("{{{{ x|{filter} }}}}");
        engine
            .validate("t@1.0.0", &source)
            .unwrap_or_else(|e| panic!("{filter}: {e}"));
    }
    let tests = "boolean callable defined divisibleby(2) eq(1) escaped even false filter float ge(1) gt(1) \
        in([1]) integer iterable le(1) lower lt(1) mapping ne(1) none number odd sameas(1) sequence string \
        test true undefined upper";
    for test in tests.split_whitespace() {
        let source = format!("{{{{ x is {test} }}}}");
        engine
            .validate("t@1.0.0", &source)
            .unwrap_or_else(|e| panic!("{test}: {e}"));
    }
    let compiled = compile(
        &engine,
        &["{{ range(2)|list }} {{ dict(a=1) }} {{ namespace(a=1).a }} {% set c = cycler('x', 'y') %}{{ c.next() }}{{ c.next() }} {% set j = joiner('/') %}{{ j() }}a{{ j() }}b"],
    )
    .unwrap();
    assert_eq!(
        render_all(compiled.as_ref(), &vars(json!({}))).unwrap(),
        vec!["[0, 1] {'a': 1} 1 xy a/b"]
    );
    assert!(compiled.variables().is_empty(), "{:?}", compiled.variables());
}

#[test]
fn a_missing_attribute_is_not_blamed_on_an_unused_variable() {
    let engine = MiniJinjaEngine::new();
    let compiled = compile(&engine, &["{% if show %}{{ extra }}{% endif %}{{ user.nme }}"]).unwrap();
    let err = render_all(compiled.as_ref(), &vars(json!({"show": false, "user": {"name": "x"}}))).unwrap_err();
    assert!(matches!(err, Error::Render { .. }), "{err}");
    assert!(!err.to_string().contains("extra"), "{err}");
}

#[test]
fn a_variable_set_by_the_template_is_never_missing() {
    let engine = MiniJinjaEngine::new();
    let includes = vec![IncludedTemplate {
        reference: "shared/tone".into(),
        resolved: "shared/tone@1.0.0".into(),
        source: "Be {{ tone }}.".into(),
    }];
    let compiled = engine
        .compile(CompileUnit {
            name: "main@1.0.0",
            sources: &[r#"{% set tone = "warm" %}{% include "shared/tone" %} {{ who }}"#],
            part_names: &[],
            includes: &includes,
            messages: false,
        })
        .unwrap();
    let err = render_all(compiled.as_ref(), &Variables::new()).unwrap_err();
    let Error::InvalidVariables { problems, .. } = &err else {
        panic!("{err}")
    };
    let names: Vec<_> = problems.iter().map(VariableProblem::name).collect();
    assert_eq!(names, vec!["who"], "{err}");
    assert_eq!(
        render_all(compiled.as_ref(), &vars(json!({"who": "Ada"}))).unwrap(),
        vec!["Be warm. Ada"]
    );
}

#[test]
fn an_undefined_attribute_is_a_render_error_with_a_line() {
    let engine = MiniJinjaEngine::new();
    let compiled = compile(&engine, &["line\n{{ user.missing.deeper }}"]).unwrap();
    let err = render_all(compiled.as_ref(), &vars(json!({"user": {"name": "x"}}))).unwrap_err();
    assert!(matches!(err, Error::Render { line: Some(2), .. }), "{err}");
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let engine = MiniJinjaEngine::new();
    let err = compile(&engine, &["ok", "first line\n  {{ name | }}"]).unwrap_err();
    match &err {
        Error::TemplateSyntax {
            template, line, column, ..
        } => {
            assert_eq!(template, "t@1.0.0 message 2");
            assert_eq!(*line, 2);
            assert_eq!(*column, 13, "{err}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
    let err = engine.validate("x", "{% for a in b %}never closed").unwrap_err();
    assert!(matches!(err, Error::TemplateSyntax { line: 1, .. }), "{err}");
}

#[test]
fn values_are_never_interpreted_as_templates() {
    let engine = MiniJinjaEngine::new();
    let compiled = compile(&engine, &["<{{ evil }}>"]).unwrap();
    let out = render_all(
        compiled.as_ref(),
        &vars(json!({"evil": "{{ 7 * 7 }}{% include 'x' %}<b>&"})),
    )
    .unwrap();
    assert_eq!(
        out,
        vec!["<{{ 7 * 7 }}{% include 'x' %}<b>&>"],
        "no evaluation and no HTML escaping"
    );
}

#[test]
fn an_unbounded_loop_runs_out_of_fuel() {
    let engine = MiniJinjaEngine::new();
    let compiled = compile(
        &engine,
        &["{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"],
    )
    .unwrap();
    let err = render_all(compiled.as_ref(), &Variables::new()).unwrap_err();
    assert!(matches!(err, Error::RenderLimit { .. }), "{err}");
    assert!(err.to_string().contains("fuel"), "{err}");
}

#[test]
fn deep_recursion_is_stopped() {
    let engine = MiniJinjaEngine::new();
    let compiled = compile(&engine, &["{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"]).unwrap();
    let err = render_all(compiled.as_ref(), &Variables::new()).unwrap_err();
    assert!(matches!(err, Error::RenderLimit { .. }), "{err}");
}

#[test]
fn output_size_is_bounded() {
    let engine = MiniJinjaEngine::with_limits(RenderLimits {
        max_output_bytes: 1000,
        ..RenderLimits::default()
    });
    let compiled = compile(&engine, &["{{ 'x' * n }}"]).unwrap();
    assert_eq!(
        render_all(compiled.as_ref(), &vars(json!({"n": 1000}))).unwrap()[0].len(),
        1000
    );
    let err = render_all(compiled.as_ref(), &vars(json!({"n": 1001}))).unwrap_err();
    assert!(err.to_string().contains("exceeds the limit of 1000 bytes"), "{err}");
}

#[test]
fn includes_render_from_the_resolved_sources() {
    let engine = MiniJinjaEngine::new();
    let includes = vec![IncludedTemplate {
        reference: "shared/tone@production".into(),
        resolved: "shared/tone@1.2.0".into(),
        source: "Be {{ tone }}.".into(),
    }];
    let compiled = engine
        .compile(CompileUnit {
            name: "main@1.0.0",
            sources: &[r#"Hello. {% include "shared/tone@production" %}"#],
            part_names: &[],
            includes: &includes,
            messages: false,
        })
        .unwrap();
    assert!(compiled.variables().contains("tone"), "variables of includes count");
    let out = render_all(compiled.as_ref(), &vars(json!({"tone": "kind"}))).unwrap();
    assert_eq!(out, vec!["Hello. Be kind."]);
    let err = render_all(compiled.as_ref(), &Variables::new()).unwrap_err();
    assert!(matches!(err, Error::InvalidVariables { .. }), "{err}");
}

#[test]
fn extract_variables_skips_builtins_and_locals() {
    let engine = MiniJinjaEngine::new();
    let found = engine
        .extract_variables(
            "t",
            "{% for ex in examples %}{{ loop.index }} {{ ex.q }}{% endfor %}{{ range(3)|join }} {{ name }}",
        )
        .unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), vec!["examples", "name"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Rendering any template with any variables returns Ok or an error, never panics.
    #[test]
    fn any_template_with_any_variables_never_panics(
        source in prop_oneof![
            "\\PC{0,60}",
            "[{}%# a-z0-9|.()\\[\\]'\"+*-]{0,60}",
            prop::collection::vec(prop_oneof![
                Just("{{ a }}".to_string()), Just("{% for x in a %}".to_string()), Just("{% endfor %}".to_string()),
                Just("{% if b %}".to_string()), Just("{% endif %}".to_string()), Just("{{ a|upper }}".to_string()),
                Just("{{ b * 3 }}".to_string()), Just("{{ a[0] }}".to_string()), Just("{% include 'z' %}".to_string()),
                "[a-z ]{0,5}".prop_map(|s| s),
            ], 0..8).prop_map(|parts| parts.concat()),
        ],
        a in prop_oneof![Just(json!(null)), Just(json!([1, "x"])), "\\PC{0,10}".prop_map(|s| json!(s)), any::<i64>().prop_map(|n| json!(n))],
        b in prop_oneof![Just(json!({"k": 1})), any::<bool>().prop_map(|v| json!(v)), any::<f64>().prop_map(|v| json!(v))],
    ) {
        let engine = MiniJinjaEngine::new();
        if let Ok(compiled) = compile(&engine, &[&source]) {
            let _ = render_all(compiled.as_ref(), &vars(json!({"a": a, "b": b})));
        }
        let _ = engine.extract_variables("t", &source);
        let _ = engine.includes("t", &source);
    }
}
