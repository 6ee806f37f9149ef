//! Reading through the manager: the version a reference names, summaries, listings, histories,
//! and the variables a prompt reads. Reads of versions go through the registry; the rest are
//! the store's answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use semver::Version;

use crate::error::Result;
use crate::id::LabelName;
use crate::model::{LabelEvent, PromptSummary, PromptVersion, Template, VersionInfo};
use crate::reference::PromptRef;
use crate::store::{ListQuery, Page};

use super::{IntoLabelName, IntoPromptId, PromptManager, operation_span, record_prompt};

impl PromptManager {
    /// The version a reference names.
    pub async fn get(&self, reference: &str) -> Result<Arc<PromptVersion>> {
        Self::traced(
            operation_span!("prompt_manager.get", reference = %reference),
            async move {
                self.catch_up().await;
                if let Some(version) = self.inner.registry.get_with(reference, |r| r.version.clone()) {
                    return Ok(version);
                }
                Ok(self.lookup(&PromptRef::parse(reference)?).await?.0)
            },
        )
        .await
    }

    /// Status, latest version and labels of a prompt.
    pub async fn summary(&self, id: impl IntoPromptId) -> Result<PromptSummary> {
        Self::traced(operation_span!("prompt_manager.summary"), async move {
            let id = id.into_prompt_id()?;
            record_prompt(&id);
            self.inner.store.summary(&id).await
        })
        .await
    }

    /// Lists prompts.
    pub async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        Self::traced(operation_span!("prompt_manager.list"), async move {
            query.validate()?;
            self.inner.store.list(query).await
        })
        .await
    }

    /// The version history of a prompt, newest first.
    pub async fn history(&self, id: impl IntoPromptId) -> Result<Vec<VersionInfo>> {
        Self::traced(operation_span!("prompt_manager.history"), async move {
            let id = id.into_prompt_id()?;
            record_prompt(&id);
            self.inner.store.list_versions(&id).await
        })
        .await
    }

    /// The labels of a prompt.
    pub async fn labels(&self, id: impl IntoPromptId) -> Result<BTreeMap<LabelName, Version>> {
        Self::traced(operation_span!("prompt_manager.labels"), async move {
            let id = id.into_prompt_id()?;
            record_prompt(&id);
            self.inner.store.labels(&id).await
        })
        .await
    }

    /// The moves of one label (or of all labels, with `None::<&str>`), oldest first.
    pub async fn label_history<L: IntoLabelName>(
        &self,
        id: impl IntoPromptId,
        label: Option<L>,
    ) -> Result<Vec<LabelEvent>> {
        Self::traced(operation_span!("prompt_manager.label_history"), async move {
            let id = id.into_prompt_id()?;
            record_prompt(&id);
            let label = label.map(IntoLabelName::into_label_name).transpose()?;
            self.inner.store.label_history(&id, label.as_ref()).await
        })
        .await
    }

    /// The top-level variables a prompt's templates read (includes and placeholders included).
    pub async fn variables(&self, reference: &str) -> Result<BTreeSet<String>> {
        Self::traced(
            operation_span!("prompt_manager.variables", reference = %reference),
            async move {
                self.catch_up().await;
                let resolved = self.resolve(reference).await?;
                let mut vars = resolved.compiled.variables().clone();
                if let Template::Chat(items) = &resolved.version.prompt.template {
                    for item in items {
                        if let crate::model::ChatItem::Placeholder(p) = item {
                            vars.insert(p.variable.clone());
                        }
                    }
                }
                Ok(vars)
            },
        )
        .await
    }
}
