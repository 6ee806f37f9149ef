//! The version logic of `prompt-manager-versioning`, exposed on the manager: diffs and suggested
//! bumps ask the manager's own engine (`pm.engine()`) which variables each side reads, so a
//! custom engine gets them too.

use std::future::Future;

use prompt_manager_core::{Prompt, PromptManager, PromptRef, Result, SaveOutcome, UpdateOptions};
use prompt_manager_versioning::{PromptDiff, Suggestion, changelog_draft, diff, diff_prompts, suggest};

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

impl VersioningExt for PromptManager {
    async fn diff(&self, from: &str, to: &str) -> Result<PromptDiff> {
        let old = self.get(from).await?;
        let new = self.get(to).await?;
        diff(self.engines(), &old, &new)
    }

    async fn suggest_update(&self, prompt: &Prompt) -> Result<(PromptDiff, Suggestion)> {
        prompt.validate()?;
        let latest = self.get(&PromptRef::latest(prompt.id.clone()).to_string()).await?;
        let mut diff = diff_prompts(self.engines(), &latest.prompt, prompt)?;
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
