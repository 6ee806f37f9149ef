//! `prompt-manager create`: a new prompt (version 1.0.0) from a YAML or JSON file, or from flags.
//! Also holds what `update` shares with it: reading a prompt file and the content flags.

use std::path::{Path, PathBuf};

use clap::Args;
use prompt_manager::{CreateOptions, LabelName, Prompt, PromptId, PromptStatus, Template, library};
use serde::Serialize;

use super::list::StatusArg;
use super::{Context, read_input};
use crate::error::{Outcome, hinted};

/// Content flags shared by `create` and `update`.
#[derive(Debug, Args)]
pub(crate) struct ContentArgs {
    /// A YAML or JSON prompt file (`id`, `template`, `metadata`, `model_config`, `input_schema`);
    /// `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// The prompt id (overrides the file's).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// A text template (replaces the file's).
    #[arg(long, short = 't')]
    pub(crate) template: Option<String>,
    /// The description.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// A tag (repeatable); replaces the tags.
    #[arg(long = "tag", value_name = "TAG")]
    pub(crate) tags: Vec<String>,
    /// The model name (`gpt-4o`, `claude-sonnet-4`, …).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Point this label at the new version (repeatable).
    #[arg(long = "label", short = 'l', value_name = "LABEL")]
    pub(crate) labels: Vec<String>,
}

impl ContentArgs {
    /// Applies the flags to a prompt.
    pub(crate) fn apply(&self, mut prompt: Prompt) -> anyhow::Result<Prompt> {
        if let Some(id) = &self.id {
            prompt.id = PromptId::new(id)?;
        }
        if let Some(template) = &self.template {
            prompt.template = Template::Text(template.clone());
            if prompt.format.is_chat() {
                prompt.format = prompt_manager::PromptFormat::Text;
            }
        }
        if let Some(description) = &self.description {
            prompt.metadata.description = Some(description.clone());
        }
        if !self.tags.is_empty() {
            prompt.metadata.tags = self.tags.iter().cloned().collect();
        }
        if let Some(model) = &self.model {
            prompt.model_config.model = Some(model.clone());
        }
        prompt.validate()?;
        Ok(prompt)
    }

    /// The labels as names.
    pub(crate) fn label_names(&self) -> anyhow::Result<Vec<LabelName>> {
        Ok(self.labels.iter().map(LabelName::new).collect::<Result<_, _>>()?)
    }

    /// Whether only flags (no file) describe the content.
    pub(crate) fn has_content_flags(&self) -> bool {
        self.template.is_some() || self.description.is_some() || !self.tags.is_empty() || self.model.is_some()
    }
}

/// Arguments of `create`.
#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    content: ContentArgs,
    /// The initial status.
    #[arg(long, value_enum, default_value = "draft")]
    status: StatusArg,
    /// The changelog message.
    #[arg(long, short = 'm')]
    message: Option<String>,
}

/// What `create` and `update` print as JSON.
#[derive(Debug, Serialize)]
pub(crate) struct SavedOut {
    /// The prompt.
    pub(crate) id: String,
    /// The version saved (or the existing one, when nothing changed).
    pub(crate) version: String,
    /// The version it was derived from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) previous: Option<String>,
    /// Whether a new version was written.
    pub(crate) created: bool,
    /// The bump applied (`update` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bump: Option<String>,
    /// Whether the bump was the suggested one (`update` without `--bump`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) suggested: Option<bool>,
    /// Why that bump (`update` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) reasons: Vec<String>,
    /// The changelog.
    pub(crate) changelog: String,
    /// The status (`create` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<String>,
    /// Labels moved to the version.
    pub(crate) labels: Vec<String>,
    /// The content hash.
    pub(crate) content_hash: String,
}

/// Reads a prompt file (YAML or JSON; JSON is YAML too), or a version file of a `dir://` store,
/// with the file, line and column in errors.
pub(crate) fn read_prompt_file(path: &Path) -> anyhow::Result<Prompt> {
    let text = read_input(path)?;
    let name = if path == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    };
    // The top-level keys say which kind of file it is; a file that does not parse goes to the
    // prompt parser, whose error points at the syntax error.
    let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_default();
    let has = |key: &str| value.get(key).is_some();
    if has("prompts") {
        return Err(hinted(
            anyhow::anyhow!("{name} is a library of prompts, not one prompt"),
            format!("import it with `prompt-manager import {name}`"),
        ));
    }
    if has("prompt") && !has("id") {
        return Ok(library::parse_version_file(&text, &name)?.0);
    }
    library::parse_prompt(&text, &name).map_err(|e| {
        if e.to_string().contains("missing field") {
            hinted(
                e,
                "a prompt file needs `id` and `template`; see `prompt-manager init` for an example",
            )
        } else {
            e.into()
        }
    })
}

/// Runs `create`.
pub(crate) async fn run(ctx: &Context, args: CreateArgs) -> anyhow::Result<Outcome> {
    let content = &args.content;
    let prompt = match &content.file {
        Some(path) => content.apply(read_prompt_file(path)?)?,
        None => {
            let (Some(id), Some(template)) = (&content.id, &content.template) else {
                return Err(hinted(
                    anyhow::anyhow!("create needs a prompt file, or --id and --template"),
                    "prompt-manager create prompts/greeting.yaml, or \
                     prompt-manager create --id greeting --template 'Hello {{ name }}!'",
                ));
            };
            content.apply(Prompt::text(id, template.clone())?)?
        }
    };
    let pm = ctx.pm().await?;
    let status: PromptStatus = args.status.into();
    let options = CreateOptions {
        status,
        labels: content.label_names()?,
        changelog: args.message.clone(),
        ..CreateOptions::default()
    };
    let id = prompt.id.clone();
    let outcome = pm.create_with(prompt, options).await.map_err(|e| match e {
        prompt_manager::Error::AlreadyExists { .. } => hinted(
            e,
            format!("add a version with `prompt-manager update` (e.g. `prompt-manager update --id {id} FILE`)"),
        ),
        other => other.into(),
    })?;
    let version = &outcome.version;
    let out = SavedOut {
        id: id.to_string(),
        version: version.version.to_string(),
        previous: None,
        created: outcome.created,
        bump: None,
        suggested: None,
        reasons: Vec::new(),
        changelog: version.changelog.clone(),
        status: Some(status.to_string()),
        labels: outcome.labels.iter().map(|e| e.label.to_string()).collect(),
        content_hash: version.content_hash.to_string(),
    };
    ctx.printer.emit(&out, || {
        let mut text = format!("Created {id} {} ({status})\n", version.version);
        for label in &out.labels {
            text.push_str(&format!("Label {label} → {}\n", version.version));
        }
        text
    });
    let variables = pm.variables(id.as_str()).await.unwrap_or_default();
    let flags: String = variables.iter().map(|v| format!(" -v {v}=…")).collect();
    if ctx.printer.human() {
        ctx.printer.note(&format!("next: prompt-manager render {id}{flags}"));
    }
    Ok(Outcome::Success)
}
