//! Moving labels (set, remove, roll back), a prompt's lifecycle status, and deletion: the writes
//! that change what a reference resolves to without adding a version.

use semver::Version;

use crate::error::{Error, NotFound, Result};
use crate::id::{LabelName, PromptId};
use crate::model::{LabelEvent, LabelEventKind, LabelTarget, PromptStatus, PromptSummary, Split};
use crate::store::{AssignmentChange, DeleteRequest, Expect, ExpectTarget, LabelChange, StatusChange};

use super::{
    IntoLabelName, IntoPromptId, IntoVersion, LabelOptions, PromptManager, SplitOptions, operation_span, record_prompt,
};

impl PromptManager {
    /// Points `label` at `version` (an exact version number), recording the move. Returns the
    /// recorded event, or `None` when the label already pointed there (nothing is recorded).
    pub async fn set_label(
        &self,
        id: impl IntoPromptId,
        label: impl IntoLabelName,
        version: impl IntoVersion,
    ) -> Result<Option<LabelEvent>> {
        self.set_label_with(id, label, version, LabelOptions::default()).await
    }

    /// [`set_label`](Self::set_label) with options: compare-and-set on where the label points
    /// now ([`LabelOptions::expected`]); when it is elsewhere, a version conflict, and nothing is
    /// recorded.
    pub async fn set_label_with(
        &self,
        id: impl IntoPromptId,
        label: impl IntoLabelName,
        version: impl IntoVersion,
        options: LabelOptions,
    ) -> Result<Option<LabelEvent>> {
        Self::traced(operation_span!("prompt_manager.set_label"), async move {
            let (id, label) = label_arguments(id, label)?;
            let version = version.into_version()?;
            self.move_label(&id, label, Some(version), options.expected, LabelEventKind::Set)
                .await
        })
        .await
    }

    /// Makes `label` an A/B split of several versions with weights (`1.2.0=90 1.3.0=10`),
    /// recording the change in the label's history and the audit log (`label_split`). Renders by
    /// the label then pick a variant per render ([`RenderOptions::split_key`](super::RenderOptions)).
    /// Every version must exist (not found otherwise); a protected label needs an
    /// administrator. Setting the label to one version ([`set_label`](Self::set_label)) ends
    /// the test. Returns `None` when the label already was this split.
    pub async fn set_split(
        &self,
        id: impl IntoPromptId,
        label: impl IntoLabelName,
        split: Split,
    ) -> Result<Option<LabelEvent>> {
        self.set_split_with(id, label, split, SplitOptions::default()).await
    }

    /// [`set_split`](Self::set_split) with options: compare-and-set on where the label points
    /// now ([`SplitOptions::expected`]).
    pub async fn set_split_with(
        &self,
        id: impl IntoPromptId,
        label: impl IntoLabelName,
        split: Split,
        options: SplitOptions,
    ) -> Result<Option<LabelEvent>> {
        Self::traced(operation_span!("prompt_manager.set_split"), async move {
            let (id, label) = label_arguments(id, label)?;
            self.assign(
                &id,
                label,
                Some(LabelTarget::Split(split)),
                options.expected,
                LabelEventKind::Set,
            )
            .await
        })
        .await
    }

    /// A label change in general, with compare-and-set on a version or a split
    /// ([`SplitOptions::expected`]): `Some` target sets the label to one version or a split,
    /// `None` removes it. For HTTP `If-Match` on labels that may be splits; the other methods
    /// are its special cases. Returns `None` when nothing changed.
    pub async fn assign_label_with(
        &self,
        id: impl IntoPromptId,
        label: impl IntoLabelName,
        target: Option<LabelTarget>,
        options: SplitOptions,
    ) -> Result<Option<LabelEvent>> {
        Self::traced(operation_span!("prompt_manager.assign_label"), async move {
            let (id, label) = label_arguments(id, label)?;
            let kind = if target.is_some() {
                LabelEventKind::Set
            } else {
                LabelEventKind::Remove
            };
            self.assign(&id, label, target, options.expected, kind).await
        })
        .await
    }

    /// Removes a label. Fails with not found when it is not set.
    pub async fn remove_label(&self, id: impl IntoPromptId, label: impl IntoLabelName) -> Result<LabelEvent> {
        self.remove_label_with(id, label, LabelOptions::default()).await
    }

    /// [`remove_label`](Self::remove_label) with options: compare-and-set on where the label
    /// points now ([`LabelOptions::expected`]).
    pub async fn remove_label_with(
        &self,
        id: impl IntoPromptId,
        label: impl IntoLabelName,
        options: LabelOptions,
    ) -> Result<LabelEvent> {
        Self::traced(operation_span!("prompt_manager.remove_label"), async move {
            let (id, label) = label_arguments(id, label)?;
            self.move_label(&id, label.clone(), None, options.expected, LabelEventKind::Remove)
                .await?
                .ok_or_else(|| Error::NotFound(NotFound::Label(id, label)))
        })
        .await
    }

    /// Moves `label` back to what it pointed to before its current assignment: a version or an
    /// A/B split. Repeated rollbacks keep going back; a rollback is undone by setting the label
    /// again.
    pub async fn rollback(&self, id: impl IntoPromptId, label: impl IntoLabelName) -> Result<LabelEvent> {
        Self::traced(operation_span!("prompt_manager.rollback"), async move {
            let (id, label) = label_arguments(id, label)?;
            let history = self.inner.store.label_history(&id, Some(&label)).await?;
            let (current, target) = rollback_assignment(&history).ok_or_else(|| {
                Error::Unsupported(format!(
                    "label `{label}` of `{id}` has no earlier version to roll back to; set it explicitly with set_label"
                ))
            })?;
            self.assign(
                &id,
                label.clone(),
                Some(target),
                ExpectTarget::Is(current),
                LabelEventKind::Rollback,
            )
            .await?
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "label `{label}` of `{id}` already points to the rollback target"
                ))
            })
        })
        .await
    }

    /// A label change in general (a split, or a rollback to either kind), through the store's
    /// `assign_label`.
    async fn assign(
        &self,
        id: &PromptId,
        label: LabelName,
        to: Option<LabelTarget>,
        expected: ExpectTarget,
        kind: LabelEventKind,
    ) -> Result<Option<LabelEvent>> {
        let event = self
            .inner
            .store
            .assign_label(
                id,
                AssignmentChange {
                    label,
                    to,
                    expected,
                    kind,
                    actor: self.actor_name(),
                    authority: self.authority,
                },
            )
            .await?;
        self.inner.changed(id);
        if let Some(event) = &event {
            self.each_observer(|o| o.on_label_moved(id, event));
        }
        Ok(event)
    }

    pub(super) async fn move_label(
        &self,
        id: &PromptId,
        label: LabelName,
        to: Option<Version>,
        expected: Expect,
        kind: LabelEventKind,
    ) -> Result<Option<LabelEvent>> {
        let event = self
            .inner
            .store
            .set_label(
                id,
                LabelChange {
                    label,
                    to,
                    expected,
                    kind,
                    actor: self.actor_name(),
                    authority: self.authority,
                },
            )
            .await?;
        self.inner.changed(id);
        if let Some(event) = &event {
            self.each_observer(|o| o.on_label_moved(id, event));
        }
        Ok(event)
    }

    /// Moves a prompt through its lifecycle (`draft → active → deprecated → archived`).
    pub async fn set_status(&self, id: impl IntoPromptId, status: PromptStatus) -> Result<PromptSummary> {
        Self::traced(
            operation_span!("prompt_manager.set_status", status = %status),
            async move {
                let id = id.into_prompt_id()?;
                record_prompt(&id);
                let current = self.inner.store.summary(&id).await?.status;
                current
                    .check_transition(status)
                    .map_err(|reason| Error::InvalidStatusTransition {
                        id: id.clone(),
                        from: current,
                        to: status,
                        reason,
                    })?;
                let change = StatusChange {
                    status,
                    expected: current,
                    actor: self.actor_name(),
                };
                self.inner.store.set_status(&id, change).await?;
                self.inner.changed(&id);
                self.inner.store.summary(&id).await
            },
        )
        .await
    }

    /// Archives a prompt: it stays stored but refuses to render.
    pub async fn archive(&self, id: impl IntoPromptId) -> Result<PromptSummary> {
        self.set_status(id, PromptStatus::Archived).await
    }

    /// Deletes a prompt with all its versions and labels.
    pub async fn delete(&self, id: impl IntoPromptId) -> Result<()> {
        Self::traced(operation_span!("prompt_manager.delete"), async move {
            let id = id.into_prompt_id()?;
            record_prompt(&id);
            let request = DeleteRequest {
                actor: self.actor_name(),
            };
            self.inner.store.delete(&id, request).await?;
            self.inner.changed(&id);
            self.inner.registry.forget_compiled(&id);
            Ok(())
        })
        .await
    }
}

/// Checks a label operation's arguments and records them on the operation's span.
fn label_arguments(id: impl IntoPromptId, label: impl IntoLabelName) -> Result<(PromptId, LabelName)> {
    let id = id.into_prompt_id()?;
    record_prompt(&id);
    let label = label.into_label_name()?;
    super::record_label(&label);
    Ok((id, label))
}

/// From a label's history, the current version and the one a rollback returns to (for a split,
/// its primary version: [`rollback_assignment`] gives the splits).
///
/// Replays the events as a stack: a set pushes, a rollback pops, a removal clears.
pub fn rollback_target(history: &[LabelEvent]) -> Option<(Version, Version)> {
    rollback_assignment(history).map(|(current, target)| (current.version().clone(), target.version().clone()))
}

/// From a label's history, the current assignment (a version or an A/B split) and the one a
/// rollback returns to.
///
/// Replays the events as a stack: a set pushes, a rollback pops, a removal clears.
pub fn rollback_assignment(history: &[LabelEvent]) -> Option<(LabelTarget, LabelTarget)> {
    let mut stack: Vec<LabelTarget> = Vec::new();
    for event in history {
        match (event.kind, event.to_target()) {
            (LabelEventKind::Remove, _) | (_, None) => stack.clear(),
            (LabelEventKind::Set, Some(to)) => {
                if stack.last() != Some(&to) {
                    stack.push(to);
                }
            }
            (LabelEventKind::Rollback, Some(to)) => {
                // Back to where the label pointed before; if the history does not say so (a
                // hand-made rollback), pop until it does, or start over from `to`.
                while stack.last().is_some_and(|top| *top != to) {
                    stack.pop();
                }
                if stack.is_empty() {
                    stack.push(to);
                }
            }
        }
    }
    let n = stack.len();
    (n >= 2).then(|| (stack[n - 1].clone(), stack[n - 2].clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn ev(kind: LabelEventKind, to: &str) -> LabelEvent {
        LabelEvent {
            label: LabelName::new("production").expect("valid"),
            from: None,
            to: Version::parse(to).ok(),
            kind,
            from_split: None,
            to_split: None,
            actor: None,
            at: Utc::now(),
        }
    }

    #[test]
    fn rollbacks_walk_back_through_the_history() {
        use LabelEventKind::*;
        let mut history = vec![ev(Set, "1.0.0"), ev(Set, "1.1.0"), ev(Set, "2.0.0")];
        let (cur, target) = rollback_target(&history).expect("has history");
        assert_eq!((cur.to_string(), target.to_string()), ("2.0.0".into(), "1.1.0".into()));
        history.push(ev(Rollback, "1.1.0"));
        let (cur, target) = rollback_target(&history).expect("still has history");
        assert_eq!((cur.to_string(), target.to_string()), ("1.1.0".into(), "1.0.0".into()));
        history.push(ev(Rollback, "1.0.0"));
        assert_eq!(rollback_target(&history), None);
        let hand_made = vec![
            ev(Set, "1.0.0"),
            ev(Set, "2.0.0"),
            ev(Set, "3.0.0"),
            ev(Rollback, "1.0.0"),
        ];
        assert_eq!(
            rollback_target(&hand_made),
            None,
            "a rollback straight to 1.0.0 leaves nothing before it"
        );
        let repeated = vec![ev(Set, "1.0.0"), ev(Set, "2.0.0"), ev(Set, "2.0.0")];
        let (cur, target) = rollback_target(&repeated).expect("has history");
        assert_eq!((cur.to_string(), target.to_string()), ("2.0.0".into(), "1.0.0".into()));
        history.push(ev(Remove, "x"));
        history.push(ev(Set, "2.0.0"));
        assert_eq!(rollback_target(&history), None);
    }
}
