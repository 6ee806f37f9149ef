//! The rules every backend applies the same way: what a save, a label move or a protection
//! change may do given the prompt's current state (protected labels included), the label events
//! it records, and the audit records each write appends. Backends fetch the state their own way,
//! call these, then write; so the backends cannot drift apart on semantics.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AssignmentChange, AuditAction, AuditEntry, AuditQuery, AuditRecord, Authority, Error, Expect, ExpectTarget,
    LabelEvent, LabelEventKind, LabelName, LabelTarget, ListQuery, NotFound, Page, PromptId, PromptStatus,
    PromptSummary, ProtectionChange, Result, SaveRequest, Split, StatusChange,
};
use serde_json::json;

/// Checks a save of `request` against the prompt's current latest version (`None` when the
/// prompt does not exist), in the order every backend reports problems.
///
/// A version whose recorded content hash does not match its content is refused first: every
/// backend checks the hash when it loads a version, so such a version could never be read back.
pub fn check_save(request: &SaveRequest, latest: Option<&Version>) -> Result<()> {
    let id = &request.version.prompt.id;
    let number = &request.version.version;
    let expected = &request.expected;
    let actual = request.version.prompt.content_hash();
    if actual != request.version.content_hash {
        return Err(Error::InvalidPrompt {
            id: id.to_string(),
            reason: format!(
                "version {number} records the content hash {}, but its content hashes to {actual}",
                request.version.content_hash
            ),
        });
    }
    match latest {
        None if matches!(expected, Expect::Version(_)) => Err(Error::prompt_not_found(id)),
        None => Ok(()),
        Some(_) if *expected == Expect::Absent => Err(Error::AlreadyExists { id: id.clone() }),
        Some(latest) if !expected.accepts(Some(latest)) => Err(Error::VersionConflict {
            id: id.clone(),
            what: "latest version".into(),
            expected: expected.version(),
            actual: Some(latest.clone()),
        }),
        Some(latest) if number <= latest => Err(Error::VersionNotIncreasing {
            id: id.clone(),
            version: number.clone(),
            latest: latest.clone(),
        }),
        Some(_) => Ok(()),
    }
}

/// Points the request's labels at its version: updates `labels` (and drops the split of a split
/// label, which a save makes a one-version label) and returns the events to record (none for a
/// label named twice, or already there).
pub fn move_labels(
    labels: &mut BTreeMap<LabelName, Version>,
    splits: &mut BTreeMap<LabelName, Split>,
    request: &SaveRequest,
    now: DateTime<Utc>,
) -> Vec<LabelEvent> {
    let number = &request.version.version;
    let mut events = Vec::with_capacity(request.labels.len());
    for label in &request.labels {
        let from = labels.insert(label.clone(), number.clone());
        let from_split = splits.remove(label);
        if from.as_ref() == Some(number) && from_split.is_none() {
            continue;
        }
        events.push(LabelEvent {
            label: label.clone(),
            from,
            to: Some(number.clone()),
            kind: LabelEventKind::Set,
            from_split,
            to_split: None,
            actor: request.actor.clone(),
            at: now,
        });
    }
    events
}

/// Refuses to change `label` when it is protected and `authority` is not an administrator's.
pub fn check_protected(
    id: &PromptId,
    protected: &BTreeSet<LabelName>,
    label: &LabelName,
    authority: Authority,
) -> Result<()> {
    if protected.contains(label) && !authority.is_admin() {
        return Err(Error::LabelProtected {
            id: id.clone(),
            label: label.clone(),
        });
    }
    Ok(())
}

/// Refuses a save that would set a protected label without an administrator's authority.
/// Call after [`check_save`], with the prompt's protected labels (none for a new prompt).
pub fn check_save_protection(request: &SaveRequest, protected: &BTreeSet<LabelName>) -> Result<()> {
    let id = &request.version.prompt.id;
    request
        .labels
        .iter()
        .try_for_each(|label| check_protected(id, protected, label, request.authority))
}

/// Where `label` points in a prompt's `labels` and `splits`.
pub fn current_target(
    labels: &BTreeMap<LabelName, Version>,
    splits: &BTreeMap<LabelName, Split>,
    label: &LabelName,
) -> Option<LabelTarget> {
    labels
        .get(label)
        .map(|v| LabelTarget::from_parts(v.clone(), splits.get(label).cloned()))
}

/// Checks a label change (one version, a split, or a removal) against the label's current
/// target, the prompt's versions and its protected labels, and returns the event to record, or
/// `None` when the label already points there (which needs no authority: nothing changes).
/// Problems are reported in this order: a missing version, an unset label to remove, a
/// compare-and-set mismatch, a protected label.
pub fn check_assignment(
    id: &PromptId,
    change: AssignmentChange,
    current: Option<LabelTarget>,
    protected: &BTreeSet<LabelName>,
    version_exists: impl Fn(&Version) -> bool,
    now: DateTime<Utc>,
) -> Result<Option<LabelEvent>> {
    let AssignmentChange {
        label,
        to,
        expected,
        kind,
        actor,
        authority,
    } = change;
    match &to {
        Some(LabelTarget::Version(target)) if !version_exists(target) => {
            return Err(Error::NotFound(NotFound::Version(id.clone(), target.clone())));
        }
        Some(LabelTarget::Split(split)) => {
            if let Some(missing) = split.variants().iter().find(|v| !version_exists(&v.version)) {
                return Err(Error::NotFound(NotFound::Version(id.clone(), missing.version.clone())));
            }
        }
        None if current.is_none() => return Err(Error::NotFound(NotFound::Label(id.clone(), label))),
        _ => {}
    }
    if !expected.accepts(current.as_ref()) {
        let split_involved = matches!(&expected, ExpectTarget::Is(LabelTarget::Split(_)))
            || current.as_ref().is_some_and(|c| c.split().is_some());
        let what = if split_involved {
            let shown = |t: Option<&LabelTarget>| t.map_or_else(|| "unset".to_owned(), ToString::to_string);
            let wanted = match &expected {
                ExpectTarget::Is(t) => shown(Some(t)),
                ExpectTarget::Absent => "unset".to_owned(),
                ExpectTarget::Any => "anything".to_owned(),
            };
            format!(
                "label {label} (expected {wanted}, found {}; shown below by primary version)",
                shown(current.as_ref())
            )
        } else {
            format!("label {label}")
        };
        return Err(Error::VersionConflict {
            id: id.clone(),
            what,
            expected: match &expected {
                ExpectTarget::Is(t) => Some(t.version().clone()),
                _ => None,
            },
            actual: current.as_ref().map(|c| c.version().clone()),
        });
    }
    if current == to {
        return Ok(None);
    }
    check_protected(id, protected, &label, authority)?;
    let (from, from_split) = split_parts(current);
    let (to, to_split) = split_parts(to);
    Ok(Some(LabelEvent {
        label,
        from,
        to,
        kind,
        from_split,
        to_split,
        actor,
        at: now,
    }))
}

/// A target as the version and split that events and summaries keep.
fn split_parts(target: Option<LabelTarget>) -> (Option<Version>, Option<Split>) {
    match target {
        None => (None, None),
        Some(LabelTarget::Version(v)) => (Some(v), None),
        Some(LabelTarget::Split(s)) => (Some(s.primary().clone()), Some(s)),
    }
}

/// Checks a status change: the status must still be `expected` (compare-and-set).
pub fn check_status(id: &PromptId, current: PromptStatus, change: &StatusChange) -> Result<()> {
    if current == change.expected {
        Ok(())
    } else {
        Err(Error::InvalidStatusTransition {
            id: id.clone(),
            from: current,
            to: change.status,
            reason: "the status changed meanwhile; reload and retry",
        })
    }
}

/// Checks a protection change against the prompt's protected labels (lifting one needs an
/// administrator) and applies it to `protected`; returns the audit record, or `None` when the
/// label already was as asked.
pub fn check_protection_change(
    id: &PromptId,
    protected: &mut BTreeSet<LabelName>,
    change: &ProtectionChange,
) -> Result<Option<AuditRecord>> {
    if protected.contains(&change.label) == change.protected {
        return Ok(None);
    }
    if change.protected {
        protected.insert(change.label.clone());
    } else {
        check_protected(id, protected, &change.label, change.authority)?;
        protected.remove(&change.label);
    }
    let action = if change.protected {
        AuditAction::LabelProtected
    } else {
        AuditAction::LabelUnprotected
    };
    Ok(Some(AuditRecord {
        prompt: Some(id.clone()),
        label: Some(change.label.clone()),
        before: Some(json!({ "protected": !change.protected })),
        after: Some(json!({ "protected": change.protected })),
        forced: change.authority.is_forced(),
        ..AuditRecord::new(action, change.actor.clone())
    }))
}

/// Refuses a record [`StorageBackend::append_audit`](prompt_manager_core::StorageBackend::append_audit)
/// may not append: one of the actions the store records itself.
pub fn check_external(record: &AuditRecord) -> Result<()> {
    if record.action.is_external() {
        return Ok(());
    }
    Err(Error::InvalidQuery {
        reason: format!(
            "action: `{}` is recorded by the store with the change it makes; only key_created and key_revoked \
             can be appended",
            record.action
        ),
    })
}

// ----- audit records ----------------------------------------------------------------------------

fn version_state(version: Option<&Version>) -> Option<serde_json::Value> {
    version.map(|v| json!({ "version": v.to_string() }))
}

/// `{"version"}`, with `"split"` when the label is (or was) a split.
fn target_state(version: Option<&Version>, split: Option<&Split>) -> Option<serde_json::Value> {
    match (version, split) {
        (Some(v), Some(split)) => Some(json!({ "version": v.to_string(), "split": split })),
        (version, _) => version_state(version),
    }
}

/// The audit records of a save: `version_created`, then a `label_set` per label event. `latest`
/// is the latest version before the save (`None` when the save creates the prompt).
pub fn save_records(request: &SaveRequest, latest: Option<&Version>, events: &[LabelEvent]) -> Vec<AuditRecord> {
    let version = &request.version;
    let id = &version.prompt.id;
    let forced = request.authority.is_forced();
    let mut records = Vec::with_capacity(1 + events.len());
    records.push(AuditRecord {
        prompt: Some(id.clone()),
        before: version_state(latest),
        after: Some(json!({
            "version": version.version.to_string(),
            "content_hash": version.content_hash.0,
        })),
        forced,
        ..AuditRecord::new(AuditAction::VersionCreated, request.actor.clone())
    });
    records.extend(events.iter().map(|event| label_record(id, event, request.authority)));
    records
}

/// The audit record of a label event.
pub fn label_record(id: &PromptId, event: &LabelEvent, authority: Authority) -> AuditRecord {
    let action = match event.kind {
        LabelEventKind::Set if event.to_split.is_some() => AuditAction::LabelSplit,
        LabelEventKind::Set => AuditAction::LabelSet,
        LabelEventKind::Rollback => AuditAction::LabelRolledBack,
        LabelEventKind::Remove => AuditAction::LabelRemoved,
    };
    AuditRecord {
        prompt: Some(id.clone()),
        label: Some(event.label.clone()),
        before: target_state(event.from.as_ref(), event.from_split.as_ref()),
        after: target_state(event.to.as_ref(), event.to_split.as_ref()),
        forced: authority.is_forced(),
        ..AuditRecord::new(action, event.actor.clone())
    }
}

/// The audit record of a status change from `from`.
pub fn status_record(id: &PromptId, from: PromptStatus, change: &StatusChange) -> AuditRecord {
    AuditRecord {
        prompt: Some(id.clone()),
        before: Some(json!({ "status": from.as_str() })),
        after: Some(json!({ "status": change.status.as_str() })),
        ..AuditRecord::new(AuditAction::StatusChanged, change.actor.clone())
    }
}

/// The audit record of a deletion: what the prompt was (latest version, count, labels).
pub fn delete_record(
    id: &PromptId,
    latest: &Version,
    version_count: u64,
    labels: &BTreeMap<LabelName, Version>,
    actor: Option<String>,
) -> AuditRecord {
    let labels: BTreeMap<&str, String> = labels.iter().map(|(l, v)| (l.as_str(), v.to_string())).collect();
    AuditRecord {
        prompt: Some(id.clone()),
        before: Some(json!({
            "latest_version": latest.to_string(),
            "version_count": version_count,
            "labels": labels,
        })),
        ..AuditRecord::new(AuditAction::PromptDeleted, actor)
    }
}

/// One page of a listing: the summaries (in id order, already past the cursor and within the id
/// prefix) that match the query's other filters, up to its limit. The iterator is read lazily and
/// only one summary past a full page. A zero limit is an empty last page: no item fits, and no
/// cursor can say "from the start".
pub fn page(
    summaries: impl IntoIterator<Item = Result<PromptSummary>>,
    query: &ListQuery,
) -> Result<Page<PromptSummary>> {
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut items = Vec::new();
    let mut next_cursor = None;
    if limit == 0 {
        return Ok(Page { items, next_cursor });
    }
    for summary in summaries {
        let summary = summary?;
        if !query.matches(&summary) {
            continue;
        }
        if items.len() == limit {
            // One more match exists: the page is full and another follows.
            next_cursor = items.last().map(|s: &PromptSummary| s.id.to_string());
            break;
        }
        items.push(summary);
    }
    Ok(Page { items, next_cursor })
}

/// Applies a checked label event to a prompt's labels and splits.
pub fn apply_label_event(
    labels: &mut BTreeMap<LabelName, Version>,
    splits: &mut BTreeMap<LabelName, Split>,
    event: &LabelEvent,
) {
    match &event.to {
        Some(target) => labels.insert(event.label.clone(), target.clone()),
        None => labels.remove(&event.label),
    };
    match &event.to_split {
        Some(split) => splits.insert(event.label.clone(), split.clone()),
        None => splits.remove(&event.label),
    };
}

/// The entries of `audit` (numbered from 1 without gaps, in order) that `query` selects: after
/// its cursor, through its filters, at most its limit. Stores that keep the log in memory use it.
pub fn audit_page(audit: &[AuditEntry], query: &AuditQuery) -> Vec<AuditEntry> {
    // Skip straight to the first entry after the cursor.
    let start = query
        .after_seq
        .map_or(0, |after| usize::try_from(after).unwrap_or(usize::MAX));
    audit
        .iter()
        .skip(start)
        .filter(|e| query.matches(e))
        .take(query.effective_limit())
        .cloned()
        .collect()
}
