//! Create a prompt (`/ui/new`): from scratch in the prompt form the edit page uses (id, text or
//! chat, template or messages, description, tags, schema, model config), or by pasting a prompt
//! file in the format `prompt-manager create FILE` reads (YAML or JSON), parsed by the library's
//! own parser so errors name the line and column. A bad id, an id already taken, a parse error
//! or a template syntax error re-render the form with the message inline; nothing is stored.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use prompt_manager::{CreateOptions, Error, Prompt};
use serde::{Deserialize, Serialize};

use super::form::{self, Lint, Problems, PromptForm, error_text, mark_lines, writer_caller};
use crate::Web;
use crate::highlight;
use crate::session::Viewer;
use crate::view::{PageResult, data, fail, page};

/// Where a pasted file is wrong.
#[derive(Debug, Serialize)]
struct FileError {
    line: Option<usize>,
    column: Option<usize>,
    message: String,
    /// The pasted file, highlighted, the wrong line marked.
    html: String,
}

/// What the page shows besides the form.
#[derive(Default)]
struct Shown {
    problems: Problems,
    lint: Option<Lint>,
    file_error: Option<FileError>,
    /// A refusal over the form.
    notice: Option<String>,
    /// The preview's confirmation that the prompt is ready to create.
    ready: bool,
}

fn render(viewer: &Viewer, form: &PromptForm, shown: Shown, status: StatusCode) -> PageResult {
    Ok(page(
        status,
        "new.html",
        minijinja::context! {
            viewer => viewer.context(),
            f => form::view(form, &shown.problems, shown.lint.as_ref()),
            file_error => shown.file_error.as_ref().map(data),
            notice => shown.notice,
            ready => shown.ready,
        },
    ))
}

/// The new page's query: `?mode=file` opens the paste tab.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NewQuery {
    mode: Option<String>,
}

/// `GET /ui/new`: an empty form.
pub(crate) async fn page_get(
    viewer: Viewer,
    query: Result<Query<NewQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    writer_caller(&viewer)?;
    let mut form = PromptForm::blank();
    if query.ok().and_then(|q| q.0.mode).as_deref() == Some("file") {
        form.mode = "file".into();
    }
    render(&viewer, &form, Shown::default(), StatusCode::OK)
}

/// A pasted prompt file, parsed; or where it is wrong.
fn parse_file(text: &str) -> Result<Prompt, FileError> {
    let wrong = |line: Option<usize>, column: Option<usize>, message: String| FileError {
        html: mark_lines(
            &highlight::jinja_html(text),
            &line.map(|l| (l, "error")).into_iter().collect::<Vec<_>>(),
        ),
        line,
        column,
        message,
    };
    if text.trim().is_empty() {
        return Err(wrong(
            None,
            None,
            "paste a prompt file: YAML or JSON with `id` and `template`".into(),
        ));
    }
    prompt_manager::library::parse_prompt(text, "the pasted file").map_err(|e| match e {
        Error::InvalidFile {
            line, column, message, ..
        } => {
            // The position is shown apart; the parser's message repeats it at its end.
            let repeated = format!(" at line {}, column {}", line.unwrap_or(0), column.unwrap_or(0));
            let message = message.strip_suffix(&repeated).unwrap_or(&message).to_owned();
            wrong(line, column, message)
        }
        other => wrong(None, None, error_text(&other)),
    })
}

/// `POST /ui/new`: a card action, a preview, loading a pasted file into the form, or a save.
pub(crate) async fn submit(
    State(web): State<Web>,
    viewer: Viewer,
    posted: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> PageResult {
    let caller = writer_caller(&viewer)?;
    let Form(pairs) = posted.map_err(|e| fail(StatusCode::BAD_REQUEST, "Bad form", &e.body_text()))?;
    let pm = web.app.manager();
    let mut form = PromptForm::from_pairs(pairs);
    if form.apply() {
        return render(&viewer, &form, Shown::default(), StatusCode::OK);
    }
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    let prompt = if form.mode == "file" {
        match parse_file(&form.file) {
            Ok(prompt) if form.action == "load" => {
                // Into the form, to go on editing there.
                let file = std::mem::take(&mut form.file);
                form = PromptForm::from_prompt(&prompt);
                form.file = file;
                return render(&viewer, &form, Shown::default(), StatusCode::OK);
            }
            Ok(prompt) => prompt,
            Err(file_error) => {
                let shown = Shown {
                    file_error: Some(file_error),
                    ..Shown::default()
                };
                return render(&viewer, &form, shown, invalid);
            }
        }
    } else {
        match form.to_prompt(&form.id) {
            Ok(prompt) => prompt,
            Err(problems) => {
                return render(
                    &viewer,
                    &form,
                    Shown {
                        problems,
                        ..Shown::default()
                    },
                    invalid,
                );
            }
        }
    };
    let mut shown = Shown::default();
    if pm.summary(&prompt.id).await.is_ok() {
        shown.problems.id = Some(format!(
            "a prompt `{}` already exists: open it and use Edit to add a version",
            prompt.id
        ));
    }
    let lint = if form.mode == "file" {
        // The file as `prompt-manager lint` sees it, positions in the file.
        form::lint_file(pm.engines(), &form.file)
    } else {
        form::lint(pm.engines(), &prompt)
    };
    let (syntax_error, lint_errors) = (lint.syntax_error, lint.errors);
    shown.lint = Some(lint);
    let exists = shown.problems.id.is_some();
    let status = if exists {
        StatusCode::CONFLICT
    } else if syntax_error {
        invalid
    } else {
        StatusCode::OK
    };
    if form.action != "save" {
        shown.ready = status == StatusCode::OK;
        return render(&viewer, &form, shown, status);
    }
    if exists || syntax_error {
        shown.notice = Some("nothing was created: fix the problems below".into());
        return render(&viewer, &form, shown, status);
    }
    if lint_errors > 0 && !form.ignore_lint {
        shown.notice = Some(format!(
            "lint found {lint_errors} problem{} (below): fix or tick \"Save despite lint problems\". Nothing was created.",
            if lint_errors == 1 { "" } else { "s" }
        ));
        return render(&viewer, &form, shown, invalid);
    }
    let options = CreateOptions {
        changelog: Some(form.changelog.trim().to_owned()).filter(|c| !c.is_empty()),
        ..CreateOptions::default()
    };
    let id = prompt.id.clone();
    match web.app.writer(&caller).create_with(prompt, options).await {
        Ok(outcome) => {
            let v = &outcome.version.version;
            Ok(Redirect::to(&format!("/ui/p/{id}?v={v}&saved={v}")).into_response())
        }
        Err(e @ Error::AlreadyExists { .. }) => {
            shown.problems.id = Some(error_text(&e));
            shown.notice = Some("nothing was created".into());
            render(&viewer, &form, shown, StatusCode::CONFLICT)
        }
        Err(e) => {
            let (status, text) = super::form::save_error(e);
            shown.notice = Some(format!("{text} Nothing was created."));
            render(&viewer, &form, shown, status)
        }
    }
}
