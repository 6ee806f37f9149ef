//! The version logic of `prompt-manager-versioning`, exposed on the manager.

use std::collections::BTreeSet;
use std::future::Future;

use prompt_manager_core::{
    ChatItem, Prompt, PromptManager, PromptRef, Result, SaveOutcome, Template, TemplateEngine, UpdateOptions,
};
use prompt_manager_versioning::{
    PromptDiff, Suggestion, changelog_draft, diff_versions_with_variables, diff_with_variables, suggest,
};

/// Diffs and suggested bumps on a [`PromptManager`].
pub trait VersioningExt {
    /// The structural diff between two references (`greeting@1.0.0`, `greeting@production`).
    fn diff(&self, from: &str, to: &str) -> impl Future<Output = Result<PromptDiff>> + Send;

    /// The diff from the latest version to `prompt` and the bump it suggests, without saving.
    fn suggest_update(&self, prompt: &Prompt) -> impl Future<Output = Result<(PromptDiff, Suggestion)>> + Send;

    /// Saves `prompt` with the bump its diff suggests; the changelog defaults to a draft made from the diff.
    fn update_suggested(
        &self,
        prompt: Prompt,
        changelog: Option<String>,
    ) -> impl Future<Output = Result<(SaveOutcome, Suggestion)>> + Send;
}

/// The top-level variables a prompt reads: its templates' variables and its placeholders.
pub(crate) fn template_variables(engine: &dyn TemplateEngine, prompt: &Prompt) -> Result<BTreeSet<String>> {
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

impl VersioningExt for PromptManager {
    async fn diff(&self, from: &str, to: &str) -> Result<PromptDiff> {
        let old = self.get(from).await?;
        let new = self.get(to).await?;
        let engine = self.engine().as_ref();
        let old_vars = template_variables(engine, &old.prompt)?;
        let new_vars = template_variables(engine, &new.prompt)?;
        Ok(diff_versions_with_variables(&old, &new, &old_vars, &new_vars))
    }

    async fn suggest_update(&self, prompt: &Prompt) -> Result<(PromptDiff, Suggestion)> {
        prompt.validate()?;
        let latest = self.get(&PromptRef::latest(prompt.id.clone()).to_string()).await?;
        let engine = self.engine().as_ref();
        let old_vars = template_variables(engine, &latest.prompt)?;
        let new_vars = template_variables(engine, prompt)?;
        let mut diff = diff_with_variables(&latest.prompt, prompt, &old_vars, &new_vars);
        diff.old.version = Some(latest.version.clone());
        let suggestion = suggest(&diff);
        Ok((diff, suggestion))
    }

    async fn update_suggested(&self, prompt: Prompt, changelog: Option<String>) -> Result<(SaveOutcome, Suggestion)> {
        let (diff, suggestion) = self.suggest_update(&prompt).await?;
        let changelog = changelog.unwrap_or_else(|| changelog_draft(&diff));
        // Compare-and-set on the version the diff was made against: if someone saved meanwhile,
        // the suggested bump and drafted changelog no longer describe the change.
        let options = UpdateOptions {
            expected: diff.old.version.clone(),
            ..UpdateOptions::new(suggestion.bump, changelog)
        };
        let outcome = self.update_with(prompt, options).await?;
        Ok((outcome, suggestion))
    }
}
