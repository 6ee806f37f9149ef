//! `POST /v1/import` and `GET /v1/export`: other tools' files (Langfuse's prompt JSON, Prompty's
//! `.prompty`) in and out over HTTP, as `prompt-manager import` and `export --format` do.

use axum::Json;
use axum::extract::{Query, State};
use prompt_manager::interop::{self, Format};
use prompt_manager::library::{self, LibraryEntry};
use prompt_manager::{LabelName, ListQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::body::JsonBody;
use crate::error::{ApiError, Problem};
use crate::state::{AppState, ReadAccess, WriteAccess};

/// The most files one import takes.
const MAX_FILES: usize = 1_000;

/// Another tool's format.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FormatName {
    /// Langfuse's prompt JSON.
    Langfuse,
    /// Prompty's `.prompty` files.
    Prompty,
    /// MLflow prompt registry versions (`PromptVersion`'s fields) as JSON.
    Mlflow,
    /// Dotprompt's `.prompt` files (Handlebars templates).
    Dotprompt,
}

impl From<FormatName> for Format {
    fn from(name: FormatName) -> Self {
        match name {
            FormatName::Langfuse => Format::Langfuse,
            FormatName::Prompty => Format::Prompty,
            FormatName::Mlflow => Format::Mlflow,
            FormatName::Dotprompt => Format::Dotprompt,
        }
    }
}

/// Files of another tool to import, all or nothing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportRequest {
    /// The files' format.
    format: FormatName,
    /// The files (1 to 1,000). A Prompty file's id is its name without `.prompty`.
    #[schema(min_items = 1, max_items = 1000)]
    files: Vec<ImportFile>,
}

/// One file to import.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportFile {
    /// Its name (`support/triage.prompty`), in errors and, for Prompty, the prompt's id.
    name: String,
    /// Its content.
    text: String,
}

/// A version an import created or found unchanged.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportedVersion {
    id: String,
    version: String,
}

/// A field an import left behind, at its place.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportWarning {
    file: String,
    line: usize,
    column: usize,
    message: String,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ImportResponse {
    /// The versions created.
    created: Vec<ImportedVersion>,
    /// Versions the store already held with the same content.
    unchanged: Vec<ImportedVersion>,
    /// Each field left behind.
    warnings: Vec<ImportWarning>,
}

/// A value the schema allows that is not valid here: 422 with `code`.
fn unprocessable(code: &'static str, detail: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

fn format_of(name: &str) -> Result<Format, ApiError> {
    Format::parse(name).map_err(|_| {
        ApiError::bad_request(format!(
            "format: `{name}` is not one of {}",
            Format::ALL.map(Format::name).join(", ")
        ))
    })
}

/// Import other tools' files (Langfuse prompt JSON, Prompty `.prompty`): all or nothing; an error
/// names the file, line and column, and each field left behind is a warning.
#[utoipa::path(post, path = "/v1/import", tag = "interop", request_body = ImportRequest,
    responses((status = 200, description = "Imported", body = ImportResponse),
        (status = 400, description = "No files, or too many", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key may not write, or may not move a protected label", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A version conflicts with a stored one", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown format, a file that is not what its format says (or holds no prompt), or an invalid prompt", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn import_files(
    WriteAccess(caller): WriteAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ImportRequest>,
) -> Result<Json<ImportResponse>, ApiError> {
    let format = Format::from(request.format);
    if request.files.is_empty() || request.files.len() > MAX_FILES {
        return Err(ApiError::bad_request(format!(
            "files: from 1 to {MAX_FILES} files, not {}",
            request.files.len()
        )));
    }
    let mut entries: Vec<LibraryEntry> = Vec::new();
    let mut warnings = Vec::new();
    for file in &request.files {
        // A file that is not what its format says is the request's fault, not the store's.
        let read = interop::import(format, &file.text, &file.name).map_err(|e| match e {
            prompt_manager::Error::InvalidFile { .. } => ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_file",
                e.to_string(),
            ),
            other => ApiError::from(other),
        })?;
        warnings.extend(read.warnings.into_iter().map(|w| ImportWarning {
            file: w.file,
            line: w.line,
            column: w.column,
            message: w.message,
        }));
        entries.extend(read.entries.into_iter().map(interop::library_entry));
    }
    if entries.is_empty() {
        return Err(unprocessable("invalid_file", "files: they hold no prompts".into()));
    }
    let pm = state.writer(&caller);
    let report = library::import_entries(&pm, entries, "the request").await?;
    let refs = |items: Vec<(prompt_manager::PromptId, prompt_manager::semver::Version)>| {
        items
            .into_iter()
            .map(|(id, version)| ImportedVersion {
                id: id.to_string(),
                version: version.to_string(),
            })
            .collect()
    };
    Ok(Json(ImportResponse {
        created: refs(report.created),
        unchanged: refs(report.unchanged),
        warnings,
    }))
}

/// Which prompts to export, and as what.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// The files' format.
    #[param(inline)]
    format: FormatName,
    /// Only ids starting with this.
    prefix: Option<String>,
    /// Only prompts on which this label is set; for Prompty (one version per file), the version
    /// it points at.
    label: Option<String>,
    /// Every version (Langfuse), not only the latest and the labelled ones.
    all_versions: Option<bool>,
}

impl ExportQuery {
    /// The query from its pairs, each mistake a problem naming the parameter.
    fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut query = ExportQuery {
            format: FormatName::Langfuse,
            prefix: None,
            label: None,
            all_versions: None,
        };
        let mut format = None;
        for (key, value) in pairs {
            match key.as_str() {
                "format" => format = Some(value),
                "prefix" => query.prefix = Some(value),
                "label" => query.label = Some(value),
                "all_versions" => {
                    query.all_versions = Some(value.parse().map_err(|_| {
                        ApiError::bad_request(format!("all_versions: `{value}` must be true or false"))
                    })?);
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter `{other}`; use format, prefix, label or all_versions"
                    )));
                }
            }
        }
        let format =
            format.ok_or_else(|| ApiError::bad_request("format: required (langfuse, prompty, mlflow or dotprompt)"))?;
        query.format = match format_of(&format)? {
            Format::Langfuse => FormatName::Langfuse,
            Format::Prompty => FormatName::Prompty,
            Format::Mlflow => FormatName::Mlflow,
            Format::Dotprompt => FormatName::Dotprompt,
        };
        Ok(query)
    }
}

/// One exported file.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExportedFile {
    /// Its path in an export folder (`support/triage.json`).
    path: String,
    /// Its content.
    text: String,
}

/// What an export wrote.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExportResponse {
    /// One file per prompt.
    files: Vec<ExportedFile>,
    /// Each field left behind, with its prompt.
    warnings: Vec<String>,
}

/// Export prompts as another tool's files: Langfuse prompt JSON (every version of a prompt in
/// one file) or Prompty `.prompty` (one version per prompt). A prompt the format cannot express
/// is refused with the reason, never written wrong.
#[utoipa::path(get, path = "/v1/export", tag = "interop", params(ExportQuery),
    responses((status = 200, description = "The files", body = ExportResponse),
        (status = 400, description = "An unknown format or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A label or prefix that cannot be one, or a prompt the format cannot express", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub(crate) async fn export_files(
    ReadAccess(_caller): ReadAccess,
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<ExportResponse>, ApiError> {
    let query = ExportQuery::from_pairs(pairs)?;
    let format = Format::from(query.format);
    let label = query
        .label
        .as_deref()
        .map(|l| LabelName::new(l).map_err(|e| unprocessable("invalid_label", format!("label: {e}"))))
        .transpose()?;
    let list = ListQuery {
        id_prefix: query.prefix.clone(),
        label: label.clone(),
        ..ListQuery::default()
    };
    list.validate()
        .map_err(|e| unprocessable("invalid_query", e.to_string()))?;
    let store = state.inner.pm.store();
    let entries = library::export_entries(store.as_ref(), &list, query.all_versions.unwrap_or(false)).await?;
    let written = interop::export_library(format, entries, label.as_ref())?;
    Ok(Json(ExportResponse {
        files: written
            .files
            .into_iter()
            .map(|f| ExportedFile {
                path: f.path,
                text: f.text,
            })
            .collect(),
        warnings: written.warnings,
    }))
}
