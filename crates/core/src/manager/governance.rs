//! Governance, in the manager so that every front end (library, CLI, server) obeys it: the
//! authority a handle writes with, protected labels, the hash-chained audit log the store keeps,
//! and impact analysis — which prompt versions include a prompt, and how.
//!
//! The store enforces protection atomically with each write and appends the audit entries in
//! the same transaction; this module asks it, and reads the log back.

use std::sync::Arc;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditBreak, AuditEntry, AuditQuery, AuditRecord, ChainVerifier, MAX_AUDIT_LIMIT};
use crate::error::{Error, Result};
use crate::id::{LabelName, PromptId};
use crate::reference::{PromptRef, Selector};
use crate::store::{Authority, ListQuery, ProtectionChange};

use super::{IntoLabelName, IntoPromptId, PromptManager, operation_span, record_prompt};

/// How an include names the prompt it pulls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncludeKind {
    /// `{% include "shared/tone" %}`: whatever is latest.
    Latest,
    /// `{% include "shared/tone@1.2.0" %}`: one version, forever.
    Exact,
    /// `{% include "shared/tone@^1.2" %}`: the newest version in a range.
    Range,
    /// `{% include "shared/tone@production" %}`: wherever the label points.
    Label,
}

crate::model::wire_names!(IncludeKind, "include kind", [
    Latest => "latest",
    Exact => "exact",
    Range => "range",
    Label => "label",
]);

impl IncludeKind {
    fn of(selector: &Selector) -> Self {
        match selector {
            Selector::Latest => IncludeKind::Latest,
            Selector::Exact(_) => IncludeKind::Exact,
            Selector::Requirement(_) => IncludeKind::Range,
            Selector::Label(_) => IncludeKind::Label,
        }
    }
}

/// One prompt version that includes the prompt asked about ([`PromptManager::dependents`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    /// The including prompt.
    pub prompt: PromptId,
    /// Its version that holds the include.
    pub version: Version,
    /// The include's reference, as written (`shared/tone@production`).
    pub reference: String,
    /// How it names the included prompt.
    pub kind: IncludeKind,
    /// The version the include resolves to now (`None` when it does not resolve: a label that
    /// is not set, a range nothing matches).
    pub resolves_to: Option<Version>,
    /// The including prompt's labels that point at this version: what renders through it.
    pub labels: Vec<LabelName>,
    /// Whether this is the including prompt's latest version.
    pub latest: bool,
}

/// The result of [`PromptManager::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// How many entries were checked (up to the break, when there is one).
    pub entries: u64,
    /// The hash of the last good entry: keep it, and a later check can tell whether entries
    /// after it were removed.
    pub head: Option<String>,
    /// The first break found, if any.
    pub broken: Option<AuditBreak>,
}

impl PromptManager {
    /// A handle on the same manager whose writes carry `authority`: [`Authority::Admin`] for an
    /// administrator (an admin-scoped API key), [`Authority::Forced`] for an explicit override
    /// (the CLI's `--force`, recorded in the audit log). Writes of other handles are unchanged.
    pub fn with_authority(&self, authority: Authority) -> PromptManager {
        PromptManager {
            inner: Arc::clone(&self.inner),
            actor: self.actor.clone(),
            authority,
        }
    }

    /// The authority this handle writes with.
    pub fn authority(&self) -> Authority {
        self.authority
    }

    /// Protects `label` of a prompt: from now on moving, removing or rolling it back needs
    /// [`Authority::Admin`] or [`Authority::Forced`]. The label need not be set yet. Returns
    /// whether anything changed (protecting a protected label changes nothing).
    pub async fn protect_label(&self, id: impl IntoPromptId, label: impl IntoLabelName) -> Result<bool> {
        Self::traced(operation_span!("prompt_manager.protect_label"), async move {
            self.set_protection(id, label, true).await
        })
        .await
    }

    /// Lifts the protection of `label` (which needs the admin role). Returns whether anything
    /// changed.
    pub async fn unprotect_label(&self, id: impl IntoPromptId, label: impl IntoLabelName) -> Result<bool> {
        Self::traced(operation_span!("prompt_manager.unprotect_label"), async move {
            self.set_protection(id, label, false).await
        })
        .await
    }

    async fn set_protection(&self, id: impl IntoPromptId, label: impl IntoLabelName, protected: bool) -> Result<bool> {
        let id = id.into_prompt_id()?;
        record_prompt(&id);
        let label = label.into_label_name()?;
        let change = ProtectionChange {
            label,
            protected,
            authority: self.authority,
            actor: self.actor_name(),
        };
        let changed = self.inner.store.set_protection(&id, change).await?;
        self.inner.changed(&id);
        Ok(changed)
    }

    /// Entries of the audit log, oldest first ([`AuditQuery`]: a prompt, a page after a number,
    /// a limit).
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        Self::traced(operation_span!("prompt_manager.audit"), async move {
            query.validate()?;
            self.inner.store.audit(query).await
        })
        .await
    }

    /// Records an event the store does not see itself (an API key created or revoked), with this
    /// handle's actor when the record names none.
    pub async fn append_audit(&self, mut record: AuditRecord) -> Result<AuditEntry> {
        Self::traced(operation_span!("prompt_manager.append_audit"), async move {
            if record.actor.is_none() {
                record.actor = self.actor_name();
            }
            record.forced |= self.authority.is_forced();
            self.inner.store.append_audit(record).await
        })
        .await
    }

    /// Reads the whole audit log, page by page, and checks its hash chain: an edited, deleted,
    /// reordered or replaced entry is reported as the first [`AuditBreak`].
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        Self::traced(operation_span!("prompt_manager.verify_audit"), async move {
            let mut verifier = ChainVerifier::new();
            let mut head = None;
            let mut after = None;
            loop {
                let page = self
                    .inner
                    .store
                    .audit(&AuditQuery {
                        prompt: None,
                        after_seq: after,
                        limit: Some(MAX_AUDIT_LIMIT),
                    })
                    .await?;
                for entry in &page {
                    if let Err(broken) = verifier.push(entry) {
                        return Ok(AuditReport {
                            entries: verifier.last_seq(),
                            head,
                            broken: Some(broken),
                        });
                    }
                    head = Some(entry.hash.clone());
                }
                match page.last() {
                    Some(last) if page.len() == MAX_AUDIT_LIMIT => after = Some(last.seq),
                    _ => break,
                }
            }
            Ok(AuditReport {
                entries: verifier.last_seq(),
                head,
                broken: None,
            })
        })
        .await
    }

    /// Impact analysis: every stored prompt version that includes `target` (`ID`, or `ID@ref`
    /// for only the includes that resolve to the version `ref` names now), with how it names it
    /// and which of its labels point at it. Reads every version of every prompt: a question for
    /// a review or a deploy, not for a render path.
    pub async fn dependents(&self, target: &str) -> Result<Vec<Dependent>> {
        Self::traced(
            operation_span!("prompt_manager.dependents", target = %target),
            async move {
                let target = PromptRef::parse(target)?;
                record_prompt(&target.id);
                let store = &self.inner.store;
                // The prompt must exist; with a ref, the version it names is what includes must reach.
                let wanted = match target.selector {
                    Selector::Latest => {
                        store.summary(&target.id).await?;
                        None
                    }
                    _ => Some(store.resolve(&target).await?.version.version.clone()),
                };
                let mut found = Vec::new();
                let mut query = ListQuery::default();
                loop {
                    let page = store.list(&query).await?;
                    for summary in &page.items {
                        if summary.id == target.id {
                            continue;
                        }
                        for info in store.list_versions(&summary.id).await? {
                            let version = store.load(&summary.id, Some(&info.version)).await?;
                            let name = version.reference();
                            let Ok(engine) = self.engine_of(&version.prompt) else {
                                continue;
                            };
                            for (part, source) in version.prompt.template.named_sources(&name) {
                                for reference in engine.includes(&part, source)? {
                                    let Ok(parsed) = PromptRef::parse(&reference) else {
                                        continue;
                                    };
                                    if parsed.id != target.id {
                                        continue;
                                    }
                                    let resolves_to = match store.resolve(&parsed).await {
                                        Ok(found) => Some(found.version.version.clone()),
                                        Err(Error::NotFound(_)) => None,
                                        Err(e) => return Err(e),
                                    };
                                    if wanted.is_some() && resolves_to != wanted {
                                        continue;
                                    }
                                    let labels = summary
                                        .labels
                                        .iter()
                                        .filter(|(_, v)| **v == version.version)
                                        .map(|(l, _)| l.clone())
                                        .collect();
                                    let dependent = Dependent {
                                        prompt: summary.id.clone(),
                                        version: version.version.clone(),
                                        kind: IncludeKind::of(&parsed.selector),
                                        reference,
                                        resolves_to,
                                        labels,
                                        latest: version.version == summary.latest_version,
                                    };
                                    if !found.contains(&dependent) {
                                        found.push(dependent);
                                    }
                                }
                            }
                        }
                    }
                    match page.next_cursor {
                        Some(cursor) => query.cursor = Some(cursor),
                        None => break,
                    }
                }
                Ok(found)
            },
        )
        .await
    }

    /// The prompt versions whose include follows `label` of `id` (`{% include "id@label" %}`):
    /// who a move of that label changes. Empty when nobody includes it by that label.
    pub async fn label_followers(&self, id: impl IntoPromptId, label: impl IntoLabelName) -> Result<Vec<Dependent>> {
        let id = id.into_prompt_id()?;
        let label = label.into_label_name()?;
        let all = self.dependents(id.as_str()).await?;
        Ok(all
            .into_iter()
            .filter(|d| {
                d.kind == IncludeKind::Label && PromptRef::parse(&d.reference).is_ok_and(|r| r.label() == Some(&label))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_kinds_have_one_table_of_names() {
        crate::model::tests::assert_wire_names(IncludeKind::ALL, IncludeKind::as_str);
        let kind = |r: &str| IncludeKind::of(&PromptRef::parse(r).expect("valid").selector);
        assert_eq!(kind("shared/tone"), IncludeKind::Latest);
        assert_eq!(kind("shared/tone@1.2.0"), IncludeKind::Exact);
        assert_eq!(kind("shared/tone@^1.2"), IncludeKind::Range);
        assert_eq!(kind("shared/tone@production"), IncludeKind::Label);
    }
}
