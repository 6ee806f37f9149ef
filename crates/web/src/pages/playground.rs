//! The playground: render one version or label of a prompt with variables typed into a form
//! built from its input schema (or from the variables its template reads), and see the result as
//! text, as chat message cards and as each framework's payload. Problems with the variables show
//! next to their field. The URL `?ref=…&vars=<json>` holds the whole state, so it can be shared.
//!
//! Rendering writes nothing: a read-only key may use the playground. How form fields become
//! variables, and render errors become field messages, lives in `playground/form.rs`.

mod form;

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use prompt_manager::{ChatMessage, PromptManager, PromptRef, RenderOutput, Template, Variables};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use self::form::{Field, FieldValues};
use crate::Web;
use crate::session::Viewer;
use crate::view::{self, OrPage, PageResult, fail};

/// The playground's query string (the shareable state).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PlayQuery {
    /// The reference rendered: `id@1.2.0`, `id@production`, or just the version or label.
    #[serde(rename = "ref")]
    reference: Option<String>,
    /// The variables, as a JSON object.
    vars: Option<String>,
}

/// What a reference selector offers: every version and label of the prompt.
#[derive(Debug, Serialize)]
struct RefOption {
    value: String,
    label: String,
}

/// One framework's payload, or why the framework refused the prompt.
#[derive(Debug, Serialize)]
struct Payload {
    name: String,
    title: String,
    json: Option<String>,
    error: Option<String>,
}

/// What a render produced, or why it failed.
#[derive(Debug, Default, Serialize)]
struct Outcome {
    /// Whether a render ran (a first visit without variables does not show one that failed).
    rendered: bool,
    /// Whether the render failed only for want of variables (a first visit shows no problems then).
    #[serde(skip)]
    only_missing: bool,
    text: Option<String>,
    messages: Option<Vec<ChatMessage>>,
    /// The messages as JSON, for copying.
    messages_json: Option<String>,
    payloads: Vec<Payload>,
    /// Problems for the summary: every field problem, and those no field owns.
    problems: Vec<String>,
}

/// The name people know a framework by.
fn framework_title(name: &str) -> String {
    match name {
        "openai" => "OpenAI".to_owned(),
        "anthropic" => "Anthropic".to_owned(),
        "gemini" => "Gemini".to_owned(),
        "langchain" => "LangChain".to_owned(),
        "litellm" => "LiteLLM".to_owned(),
        other => other.to_owned(),
    }
}

/// The full reference of `raw` (a reference, or only its version or label) for prompt `id`.
fn full_reference(id: &prompt_manager::PromptId, raw: Option<&str>) -> Result<String, view::PageError> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty());
    let Some(raw) = raw else {
        return Ok(id.to_string());
    };
    let full = if raw.contains('@') || raw == id.as_str() {
        raw.to_owned()
    } else {
        format!("{id}@{raw}")
    };
    let parsed = PromptRef::parse(&full).map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad reference", &e.to_string()))?;
    if parsed.id != *id {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "Bad reference",
            &format!("ref: `{raw}` names another prompt than `{id}`"),
        ));
    }
    Ok(full)
}

/// The versions and labels of a prompt, newest first, and the reference shown selected.
async fn ref_options(
    pm: &PromptManager,
    id: &prompt_manager::PromptId,
    current: &str,
) -> Result<Vec<RefOption>, view::PageError> {
    let summary = pm.summary(id).await.or_page()?;
    let history = pm.history(id).await.or_page()?;
    let mut options: Vec<RefOption> = summary
        .labels
        .iter()
        .map(|(label, version)| RefOption {
            value: format!("{id}@{label}"),
            label: format!("label {label} → {version}"),
        })
        .collect();
    options.extend(history.iter().rev().map(|h| RefOption {
        value: format!("{id}@{}", h.version),
        label: if h.version == summary.latest_version {
            format!("{} (latest)", h.version)
        } else {
            h.version.to_string()
        },
    }));
    if !options.iter().any(|o| o.value == current) {
        options.insert(
            0,
            RefOption {
                value: current.to_owned(),
                label: match current.rsplit_once('@') {
                    Some((_, selector)) => selector.to_owned(),
                    None => format!("latest ({})", summary.latest_version),
                },
            },
        );
    }
    Ok(options)
}

/// Renders `reference` with `vars`: the output, each framework's payload, and the problems, with
/// those about a variable put on its field.
async fn run(pm: &PromptManager, reference: &str, vars: &Variables, fields: &mut [Field]) -> Outcome {
    let mut outcome = Outcome {
        rendered: true,
        ..Outcome::default()
    };
    match pm.render_prompt(reference, vars).await {
        Ok(rendered) => {
            match rendered.output {
                RenderOutput::Text(text) => outcome.text = Some(text),
                RenderOutput::Messages(messages) => {
                    outcome.messages_json = serde_json::to_string_pretty(&messages).ok();
                    outcome.messages = Some(messages);
                }
            }
            for name in pm.plugin_names() {
                let (json, error) = match pm.render_for(&name, reference, vars).await {
                    Ok(payload) => (serde_json::to_string_pretty(&payload).ok(), None),
                    Err(e) => (None, Some(form::problem_text(e))),
                };
                outcome.payloads.push(Payload {
                    title: framework_title(&name),
                    name,
                    json,
                    error,
                });
            }
        }
        Err(e) => {
            outcome.only_missing = matches!(&e, prompt_manager::Error::InvalidVariables { problems, .. }
                if problems.iter().all(|p| matches!(p, prompt_manager::VariableProblem::Missing { .. })));
            outcome.problems.extend(form::place_error(e, fields));
        }
    }
    // Field problems found before the render (bad JSON, not a number) win over the render's.
    let mut summary: Vec<String> = fields
        .iter()
        .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.name)))
        .collect();
    summary.append(&mut outcome.problems);
    outcome.problems = summary;
    outcome
}

/// The page (or, for a script, its result fragment) of one playground state.
#[allow(
    clippy::too_many_arguments,
    reason = "one call per handler; a struct would only rename them"
)]
async fn respond(
    web: &Web,
    viewer: &Viewer,
    id: &prompt_manager::PromptId,
    reference: String,
    values: FieldValues,
    vars_json_error: Option<String>,
    first_visit: bool,
    fragment: bool,
) -> PageResult {
    let pm = web.app.manager();
    let version = pm.get(&reference).await.or_page()?;
    let options = ref_options(pm, id, &reference).await?;
    // A template whose include is gone still opens; its fields are then the schema's only.
    let read = pm.variables(&reference).await.ok();
    let placeholders = match &version.prompt.template {
        Template::Chat(items) => items
            .iter()
            .filter_map(|i| match i {
                prompt_manager::ChatItem::Placeholder(p) => Some((p.variable.clone(), p.optional)),
                prompt_manager::ChatItem::Message(_) => None,
            })
            .collect(),
        Template::Text(_) => Vec::new(),
    };
    let mut fields = form::fields(&version.prompt.input_schema, read.as_ref(), &placeholders);
    let vars = values.apply(&mut fields);
    let mut outcome = if vars_json_error.is_some() {
        Outcome::default()
    } else {
        run(pm, &reference, &vars, &mut fields).await
    };
    if first_visit && outcome.only_missing {
        // Nothing typed yet: the form marks what is required; no wall of errors.
        outcome = Outcome::default();
        for f in &mut fields {
            f.error = None;
        }
    }
    if let Some(e) = &vars_json_error {
        outcome.problems.push(format!("variables JSON: {e}"));
    }
    let vars_text = serde_json::to_string(vars.as_map()).unwrap_or_else(|_| "{}".to_owned());
    let share = format!(
        "/ui/play/{id}?{}",
        serde_urlencoded::to_string([("ref", reference.as_str()), ("vars", vars_text.as_str())]).unwrap_or_default()
    );
    let mut field_errors: BTreeMap<&str, &str> = fields
        .iter()
        .filter_map(|f| f.error.as_deref().map(|e| (f.name.as_str(), e)))
        .collect();
    if let Some(e) = &vars_json_error {
        field_errors.insert("_json", e);
    }
    let field_errors = serde_json::to_string(&field_errors).unwrap_or_default();
    let failed = !outcome.problems.is_empty();
    let ctx = minijinja::context! {
        viewer => viewer.context(),
        id => id.as_str(),
        reference => &reference,
        version => version.version.to_string(),
        format => version.prompt.format.to_string(),
        options => view::data(&options),
        fields => view::data(&fields),
        has_schema => !version.prompt.input_schema.is_empty(),
        vars_json => if vars_json_error.is_some() { values.raw_json().unwrap_or_default().to_owned() } else { serde_json::to_string_pretty(vars.as_map()).unwrap_or_default() },
        vars_json_error,
        vars_compact => vars_text,
        field_errors,
        outcome => view::data(&outcome),
        share,
    };
    if fragment {
        return Ok(view::fragment("playground.html", "result", ctx));
    }
    let status = if failed && !first_visit {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(view::page(status, "playground.html", ctx))
}

/// `GET /ui/play/{id}?ref=…&vars=…`: the playground, rendering the shared variables when given.
pub(crate) async fn page(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    query: Result<Query<PlayQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(query) = query.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad request", &e.body_text()))?;
    let id = super::prompt_id(&raw)?;
    web.app.manager().summary(&id).await.or_page()?;
    let reference = full_reference(&id, query.reference.as_deref())?;
    let first_visit = query.vars.is_none();
    let (values, error) = match query.vars.as_deref() {
        None => (FieldValues::Json(Map::new()), None),
        Some(text) => match parse_vars(text) {
            Ok(map) => (FieldValues::Json(map), None),
            Err(e) => (FieldValues::RawJson(text.to_owned()), Some(e)),
        },
    };
    respond(&web, &viewer, &id, reference, values, error, first_visit, false).await
}

/// `POST /ui/play/{id}`: renders the form's variables (`mode=fields`, the default) or its JSON
/// editor (`mode=json`). A script (`x-requested-with: fetch`) gets the result fragment only.
pub(crate) async fn render(
    State(web): State<Web>,
    viewer: Viewer,
    Path(raw): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, view::PageError> {
    let Form(pairs) = form.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad request", &e.body_text()))?;
    let id = super::prompt_id(&raw)?;
    web.app.manager().summary(&id).await.or_page()?;
    let field = |name: &str| pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let reference = full_reference(&id, field("ref"))?;
    let fragment = headers
        .get("x-requested-with")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "fetch");
    let (values, error) = if field("mode") == Some("json") {
        let text = field("vars_json").unwrap_or_default();
        match parse_vars(text) {
            Ok(map) => (FieldValues::Json(map), None),
            Err(e) => (FieldValues::RawJson(text.to_owned()), Some(e)),
        }
    } else {
        let typed = pairs
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("var.").map(|name| (name.to_owned(), v.clone())))
            .collect();
        (FieldValues::Form(typed), None)
    };
    respond(&web, &viewer, &id, reference, values, error, false, fragment).await
}

/// The variables of a JSON editor or a shared URL: a JSON object (empty text is none).
fn parse_vars(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "must be a JSON object of variables, not {}",
            form::json_type(&other)
        )),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}
