//! The rules every backend applies the same way: what a save or a label move may do given the
//! prompt's current state, and the label events it records. Backends fetch the state their own
//! way, call these, then write; so the backends cannot drift apart on semantics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    Error, Expect, LabelChange, LabelEvent, LabelEventKind, LabelName, ListQuery, NotFound, Page, PromptId,
    PromptStatus, PromptSummary, Result, SaveRequest,
};

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

/// Points the request's labels at its version: updates `labels` and returns the events to
/// record (none for a label named twice, or already there).
pub fn move_labels(
    labels: &mut BTreeMap<LabelName, Version>,
    request: &SaveRequest,
    now: DateTime<Utc>,
) -> Vec<LabelEvent> {
    let number = &request.version.version;
    let mut events = Vec::with_capacity(request.labels.len());
    for label in &request.labels {
        let from = labels.insert(label.clone(), number.clone());
        if from.as_ref() == Some(number) {
            continue;
        }
        events.push(LabelEvent {
            label: label.clone(),
            from,
            to: Some(number.clone()),
            kind: LabelEventKind::Set,
            actor: request.actor.clone(),
            at: now,
        });
    }
    events
}

/// Checks a label move against the label's current target and the prompt's versions, and
/// returns the event to record, or `None` when the label already points there.
pub fn check_label_change(
    id: &PromptId,
    change: LabelChange,
    current: Option<&Version>,
    version_exists: impl FnOnce(&Version) -> bool,
    now: DateTime<Utc>,
) -> Result<Option<LabelEvent>> {
    let LabelChange {
        label,
        to,
        expected,
        kind,
        actor,
    } = change;
    match &to {
        Some(target) if !version_exists(target) => {
            return Err(Error::NotFound(NotFound::Version(id.clone(), target.clone())));
        }
        None if current.is_none() => return Err(Error::NotFound(NotFound::Label(id.clone(), label))),
        _ => {}
    }
    if !expected.accepts(current) {
        return Err(Error::VersionConflict {
            id: id.clone(),
            what: format!("label {label}"),
            expected: expected.version(),
            actual: current.cloned(),
        });
    }
    if current == to.as_ref() {
        return Ok(None);
    }
    Ok(Some(LabelEvent {
        label,
        from: current.cloned(),
        to,
        kind,
        actor,
        at: now,
    }))
}

/// Checks a status change: the status must still be `expected` (compare-and-set).
pub fn check_status(id: &PromptId, current: PromptStatus, status: PromptStatus, expected: PromptStatus) -> Result<()> {
    if current == expected {
        Ok(())
    } else {
        Err(Error::InvalidStatusTransition {
            id: id.clone(),
            from: current,
            to: status,
            reason: "the status changed meanwhile; reload and retry",
        })
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

/// Applies a checked label event to a label map.
pub fn apply_label_event(labels: &mut BTreeMap<LabelName, Version>, event: &LabelEvent) {
    match &event.to {
        Some(target) => labels.insert(event.label.clone(), target.clone()),
        None => labels.remove(&event.label),
    };
}
