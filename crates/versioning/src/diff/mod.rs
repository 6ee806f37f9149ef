//! The structural diff of two prompts: what it holds ([`PromptDiff`] and its parts) and the entry
//! points that compute it. The variable sets come from the template engine
//! ([`TemplateEngine::extract_variables`]) or from the caller; this crate reads no template
//! syntax itself. How a chat template's entries are matched lives in `chat.rs`; the model
//! config, input schema and metadata parts in `fields.rs`; a text template's line diff in
//! `text.rs`. The diff's textual rendering lives in `render.rs`, the bump it suggests in `bump.rs`.

mod chat;
mod fields;

use std::collections::BTreeSet;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ChatItem, Engines, Prompt, PromptFormat, PromptId, PromptVersion, Result, Template, TemplateEngine, TemplateSyntax,
};
use serde::Serialize;
use serde_json::Value;

use crate::text::{TextChange, diff_text};

pub use chat::{ChatDiff, EntryChange, MessageChange, PlaceholderChange};
pub use fields::{MetadataDiff, SchemaDiff, SpecChange};

/// The structural difference between two prompts (or two versions of one prompt).
///
/// Every part is empty when the two sides agree on it; [`PromptDiff::is_empty`] says whether
/// anything differs. It serializes to JSON for the CLI and the REST API, and its `Display` is a
/// git-like text (without colours).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptDiff {
    /// The old side.
    pub old: DiffSide,
    /// The new side.
    pub new: DiffSide,
    /// The format, when it changed.
    pub format: Option<ValueChange<PromptFormat>>,
    /// The template syntax, when it changed (Jinja ↔ Handlebars).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syntax: Option<ValueChange<TemplateSyntax>>,
    /// The template, when it changed.
    pub template: Option<TemplateDiff>,
    /// The variables the templates read.
    pub variables: VariablesDiff,
    /// The declared input schema.
    pub input_schema: SchemaDiff,
    /// Changed model parameters (`model`, `temperature`, …, `extra.<key>`), in field order.
    pub model_config: Vec<FieldChange>,
    /// Description, tags and free metadata.
    pub metadata: MetadataDiff,
}

impl PromptDiff {
    /// Whether the two sides have the same content as far as the diff can tell.
    ///
    /// Only the content counts: two prompts with different ids or versions but equal content
    /// make an empty diff.
    pub fn is_empty(&self) -> bool {
        self.format.is_none()
            && self.syntax.is_none()
            && self.template.is_none()
            && self.variables.is_empty()
            && self.input_schema.is_empty()
            && self.model_config.is_empty()
            && self.metadata.is_empty()
    }
}

/// Which prompt (and version, when known) one side of a diff is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffSide {
    /// The prompt id.
    pub id: PromptId,
    /// The version, when the diff was made from versions.
    pub version: Option<Version>,
}

impl DiffSide {
    /// `id@version`, or the id alone when the version is unknown.
    pub fn reference(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.id),
            None => self.id.to_string(),
        }
    }
}

/// An old and a new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange<T> {
    /// Before.
    pub old: T,
    /// After.
    pub new: T,
}

impl<T: PartialEq> ValueChange<T> {
    /// `Some` when the values differ.
    pub fn between(old: T, new: T) -> Option<Self> {
        (old != new).then_some(ValueChange { old, new })
    }
}

/// A changed field of a map-like part (model config, free metadata) as JSON values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field: `temperature`, `extra.seed`, or a metadata key.
    pub field: String,
    /// The old value; absent when it was not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The new value; absent when it is no longer set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// How a template changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateDiff {
    /// Both are text templates: a line diff.
    Text(TextChange),
    /// Both are chat templates: the changed entries.
    Chat(ChatDiff),
    /// A text template became a chat template or the reverse.
    Replaced {
        /// The old template.
        old: Template,
        /// The new template.
        new: Template,
    },
}

/// Where the variable sets of a diff came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VariableSource {
    /// Given by the caller, normally from the template engine ([`diff_with_variables`]).
    Given,
    /// Read by the template engine the diff was given ([`diff`], [`diff_prompts`]).
    Engine,
}

/// Template variables that appeared or disappeared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariablesDiff {
    /// Whether the engine read the sets or the caller gave them.
    pub source: VariableSource,
    /// Variables only the new templates read, sorted.
    pub added: Vec<String>,
    /// Variables only the old templates read, sorted.
    pub removed: Vec<String>,
}

impl VariablesDiff {
    /// Whether the variable sets are equal.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The top-level variables a prompt reads, as `engine` extracts them from each template source,
/// plus the variables of its message placeholders. Fails on a template the engine cannot parse.
///
/// ```
/// use prompt_manager_core::{ChatItem, Prompt, Role};
/// use prompt_manager_template::MiniJinjaEngine;
///
/// let p = Prompt::chat("t", [ChatItem::message(Role::System, "{% for x in items %}{{ x.name }}{% endfor %} {{ tone }}"), ChatItem::placeholder("history")])?;
/// let vars = prompt_manager_versioning::template_variables(&MiniJinjaEngine::new(), &p)?;
/// assert_eq!(vars.into_iter().collect::<Vec<_>>(), ["history", "items", "tone"]);
/// # Ok::<(), prompt_manager_core::Error>(())
/// ```
pub fn template_variables(engine: &dyn TemplateEngine, prompt: &Prompt) -> Result<BTreeSet<String>> {
    let mut vars = BTreeSet::new();
    let name = prompt.id.as_str();
    for source in prompt.template.sources() {
        vars.extend(engine.extract_variables(name, source)?);
    }
    if let Template::Chat(items) = &prompt.template {
        for item in items {
            if let ChatItem::Placeholder(p) = item {
                vars.insert(p.variable.clone());
            }
        }
    }
    Ok(vars)
}

/// The diff of two versions, with the variables each one's engine (by its syntax) says it
/// reads. Fails when an engine cannot read a template (a syntax error, with its line and column).
pub fn diff(engines: &Engines, old: &PromptVersion, new: &PromptVersion) -> Result<PromptDiff> {
    let mut d = diff_prompts(engines, &old.prompt, &new.prompt)?;
    d.old.version = Some(old.version.clone());
    d.new.version = Some(new.version.clone());
    Ok(d)
}

/// The diff of two prompts, with the variables each one's engine (by its syntax) says it reads.
/// Fails when an engine cannot read a template (a syntax error, with its line and column).
pub fn diff_prompts(engines: &Engines, old: &Prompt, new: &Prompt) -> Result<PromptDiff> {
    let old_vars = template_variables(engines.of(old)?.as_ref(), old)?;
    let new_vars = template_variables(engines.of(new)?.as_ref(), new)?;
    Ok(build(old, new, &old_vars, &new_vars, VariableSource::Engine))
}

/// The diff of two prompts with the variables each one's templates read, as the template engine
/// reports them (include placeholder variables, as `extract_variables` plus placeholders does).
pub fn diff_with_variables(
    old: &Prompt,
    new: &Prompt,
    old_vars: &BTreeSet<String>,
    new_vars: &BTreeSet<String>,
) -> PromptDiff {
    build(old, new, old_vars, new_vars, VariableSource::Given)
}

/// [`diff_with_variables`] for two versions: the diff also names the versions.
pub fn diff_versions_with_variables(
    old: &PromptVersion,
    new: &PromptVersion,
    old_vars: &BTreeSet<String>,
    new_vars: &BTreeSet<String>,
) -> PromptDiff {
    let mut d = diff_with_variables(&old.prompt, &new.prompt, old_vars, new_vars);
    d.old.version = Some(old.version.clone());
    d.new.version = Some(new.version.clone());
    d
}

/// [`diff_prompts`] with the minijinja engine, for this crate's tests.
#[cfg(test)]
pub(crate) fn diff_with_minijinja(old: &Prompt, new: &Prompt) -> PromptDiff {
    let engines = Engines::from(prompt_manager_template::MiniJinjaEngine::new());
    diff_prompts(&engines, old, new).expect("templates parse")
}

fn build(
    old: &Prompt,
    new: &Prompt,
    old_vars: &BTreeSet<String>,
    new_vars: &BTreeSet<String>,
    source: VariableSource,
) -> PromptDiff {
    PromptDiff {
        old: DiffSide {
            id: old.id.clone(),
            version: None,
        },
        new: DiffSide {
            id: new.id.clone(),
            version: None,
        },
        format: ValueChange::between(old.format, new.format),
        syntax: ValueChange::between(old.syntax, new.syntax),
        template: diff_template(&old.template, &new.template),
        variables: VariablesDiff {
            source,
            added: new_vars.difference(old_vars).cloned().collect(),
            removed: old_vars.difference(new_vars).cloned().collect(),
        },
        input_schema: fields::diff_schema(&old.input_schema, &new.input_schema),
        model_config: fields::diff_model_config(&old.model_config, &new.model_config),
        metadata: fields::diff_metadata(&old.metadata, &new.metadata),
    }
}

fn diff_template(old: &Template, new: &Template) -> Option<TemplateDiff> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Template::Text(a), Template::Text(b)) => diff_text(a, b).map(TemplateDiff::Text),
        (Template::Chat(a), Template::Chat(b)) => Some(TemplateDiff::Chat(chat::diff_chat(a, b))),
        _ => Some(TemplateDiff::Replaced {
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::diff_with_minijinja as diff_prompts;
    use prompt_manager_core::{ModelConfig, Role};

    fn chat(items: Vec<ChatItem>) -> Prompt {
        Prompt::chat("t", items).expect("valid id")
    }

    #[test]
    fn identical_prompts_make_an_empty_diff() {
        let p = chat(vec![ChatItem::message(Role::User, "{{ q }}")]);
        let d = diff_prompts(&p, &p);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.variables.source, VariableSource::Engine);
    }

    #[test]
    fn text_to_chat_is_a_replacement_and_a_format_change() {
        let old = Prompt::text("t", "hi").expect("valid");
        let new = chat(vec![ChatItem::message(Role::User, "hi")]);
        let d = diff_prompts(&old, &new);
        assert!(matches!(d.template, Some(TemplateDiff::Replaced { .. })));
        assert_eq!(
            d.format,
            Some(ValueChange {
                old: PromptFormat::Text,
                new: PromptFormat::Chat
            })
        );
    }

    #[test]
    fn given_variables_are_used_as_they_are() {
        let p = Prompt::text("t", "{{ a }}").expect("valid");
        let old: BTreeSet<String> = ["a".to_owned()].into();
        let new: BTreeSet<String> = ["a".to_owned(), "z".to_owned()].into();
        let d = diff_with_variables(&p, &p, &old, &new);
        assert_eq!(d.variables.source, VariableSource::Given);
        assert_eq!(d.variables.added, ["z"]);
        assert!(!d.is_empty());
    }

    #[test]
    fn non_finite_numbers_do_not_panic() {
        let old = Prompt::text("t", "x").expect("valid").with_model_config(ModelConfig {
            temperature: Some(f64::NAN),
            ..ModelConfig::default()
        });
        let d = diff_prompts(&old, &old);
        assert!(d.is_empty());
        let _ = d.to_string();
    }

    #[test]
    fn the_engine_reads_the_variables_and_refuses_broken_templates() {
        let engine = Engines::from(prompt_manager_template::MiniJinjaEngine::new());
        let old = Prompt::text("t", "{% for x in items %}{{ x }}{% endfor %}").expect("valid");
        let new = chat(vec![
            ChatItem::message(Role::System, "{{ 'quoted' }} {{ tone }}"),
            ChatItem::placeholder("history"),
        ]);
        let d = super::diff_prompts(&engine, &old, &new).expect("both parse");
        assert_eq!(d.variables.source, VariableSource::Engine);
        assert_eq!(d.variables.added, ["history", "tone"]);
        assert_eq!(d.variables.removed, ["items"]);

        let broken = Prompt::text("t", "fine\n{{ x").expect("valid");
        for (a, b) in [(&old, &broken), (&broken, &old)] {
            match super::diff_prompts(&engine, a, b) {
                Err(prompt_manager_core::Error::TemplateSyntax { line, .. }) => assert_eq!(line, 2),
                other => panic!("expected a syntax error, got {other:?}"),
            }
        }
    }
}
