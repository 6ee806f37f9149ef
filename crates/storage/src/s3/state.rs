//! What an [`S3Store`](super::S3Store) holds in memory, and the commits that change it.
//!
//! The bucket's log of commits is the store of record; this is its replay: every prompt's record
//! (versions by reference to their objects, labels, splits, protection, label history) and the
//! audit log. A write plans its commit against a copy of the records it touches, with the same
//! [`rules`] every backend applies; a commit then carries, per prompt, what changed (the new
//! versions, the label history it appended, the rest as it now is) or that the prompt was
//! deleted, and the audit entries it appended, sealed. Replaying a commit needs no rule, only
//! the commit, so a store opened by a later release reads the same state from the same log.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    AssignmentChange, AuditEntry, AuditRecord, DeleteRequest, Error, GENESIS_HASH, LabelEvent, LabelName, PromptFormat,
    PromptId, PromptStatus, PromptSummary, PromptVersion, ProtectionChange, Result, SaveRequest, Split, StatusChange,
    VersionInfo, seal_all, sha256_hex,
};
use serde::{Deserialize, Serialize};

use crate::rules;

/// A version as the log records it: what listings and summaries need, and the object its body
/// is in (`versions/<sha256 of the body>.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Stored {
    pub(super) info: VersionInfo,
    /// The SHA-256 of the body's bytes, in hex: the object's name.
    pub(super) object: String,
    pub(super) format: PromptFormat,
    #[serde(default)]
    pub(super) tags: BTreeSet<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
}

/// Everything stored about one prompt but its versions' bodies. Invariant: `versions` is never
/// empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) status: PromptStatus,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) versions: BTreeMap<Version, Stored>,
    #[serde(default)]
    pub(super) labels: BTreeMap<LabelName, Version>,
    #[serde(default)]
    pub(super) splits: BTreeMap<LabelName, Split>,
    #[serde(default)]
    pub(super) protected: BTreeSet<LabelName>,
    #[serde(default)]
    pub(super) history: Vec<LabelEvent>,
}

impl Record {
    pub(super) fn latest(&self) -> Option<&Stored> {
        self.versions.values().next_back()
    }

    pub(super) fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        let latest = self.latest().ok_or_else(|| corrupt(id))?;
        Ok(PromptSummary {
            id: id.clone(),
            status: self.status,
            format: latest.format,
            latest_version: latest.info.version.clone(),
            version_count: self.versions.len() as u64,
            labels: self.labels.clone(),
            splits: self.splits.clone(),
            protected: self.protected.clone(),
            tags: latest.tags.clone(),
            description: latest.description.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn corrupt(id: &PromptId) -> Error {
    Error::backend(super::BACKEND, format!("prompt `{id}` has no versions (corrupt log)"))
}

/// What one commit did to one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub(super) enum Change {
    /// The prompt as it now is; `versions` and `history` hold only what this commit added,
    /// unless `fresh`, when the record starts anew (a new prompt, or one deleted before).
    Put {
        fresh: bool,
        status: PromptStatus,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        versions: Vec<Stored>,
        labels: BTreeMap<LabelName, Version>,
        splits: BTreeMap<LabelName, Split>,
        protected: BTreeSet<LabelName>,
        history: Vec<LabelEvent>,
    },
    /// The prompt and everything about it is gone.
    Delete,
}

impl Change {
    /// The change that turns `before` into `after`.
    fn between(before: Option<&Record>, after: &Record) -> Self {
        let (versions, history) = match before {
            Some(before) => {
                let newest = before.versions.keys().next_back();
                (
                    after
                        .versions
                        .iter()
                        .filter(|(v, _)| newest.is_none_or(|n| *v > n))
                        .map(|(_, s)| s.clone())
                        .collect(),
                    after.history[before.history.len().min(after.history.len())..].to_vec(),
                )
            }
            None => (after.versions.values().cloned().collect(), after.history.clone()),
        };
        Change::Put {
            fresh: before.is_none(),
            status: after.status,
            created_at: after.created_at,
            updated_at: after.updated_at,
            versions,
            labels: after.labels.clone(),
            splits: after.splits.clone(),
            protected: after.protected.clone(),
            history,
        }
    }
}

/// One entry of the log, `log/<seq>.json`: created only if absent, so of two writers planning
/// the same sequence number one wins and the other plans again on what the winner wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Commit {
    pub(super) seq: u64,
    /// Unique to the write that made it, to recognise one's own commit after an unanswered put.
    pub(super) token: String,
    pub(super) at: DateTime<Utc>,
    pub(super) changes: BTreeMap<PromptId, Change>,
    #[serde(default)]
    pub(super) audit: Vec<AuditEntry>,
}

/// The whole state after commit `seq`, `snapshots/<seq>.json`, so that opening a store reads
/// one object and the log after it rather than the log from its start.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(super) struct State {
    pub(super) seq: u64,
    pub(super) prompts: BTreeMap<PromptId, Record>,
    pub(super) audit: Vec<AuditEntry>,
}

impl State {
    /// Applies commit `commit`, which must be the next one.
    pub(super) fn apply(&mut self, commit: &Commit) -> Result<()> {
        if commit.seq != self.seq + 1 {
            return Err(Error::backend(
                super::BACKEND,
                format!(
                    "the log's commit {} follows commit {}: the log is damaged",
                    commit.seq, self.seq
                ),
            ));
        }
        for (id, change) in &commit.changes {
            match change {
                Change::Delete => {
                    self.prompts.remove(id);
                }
                Change::Put {
                    fresh,
                    status,
                    created_at,
                    updated_at,
                    versions,
                    labels,
                    splits,
                    protected,
                    history,
                } => {
                    let record = match self.prompts.get_mut(id) {
                        Some(record) if !fresh => record,
                        None if !fresh => {
                            return Err(Error::backend(
                                super::BACKEND,
                                format!(
                                    "commit {} changes prompt `{id}`, which the log never created",
                                    commit.seq
                                ),
                            ));
                        }
                        _ => {
                            self.prompts.insert(
                                id.clone(),
                                Record {
                                    status: *status,
                                    created_at: *created_at,
                                    updated_at: *updated_at,
                                    versions: BTreeMap::new(),
                                    labels: BTreeMap::new(),
                                    splits: BTreeMap::new(),
                                    protected: BTreeSet::new(),
                                    history: Vec::new(),
                                },
                            );
                            self.prompts.get_mut(id).ok_or_else(|| corrupt(id))?
                        }
                    };
                    record.status = *status;
                    record.created_at = *created_at;
                    record.updated_at = *updated_at;
                    record
                        .versions
                        .extend(versions.iter().map(|s| (s.info.version.clone(), s.clone())));
                    record.labels.clone_from(labels);
                    record.splits.clone_from(splits);
                    record.protected.clone_from(protected);
                    record.history.extend(history.iter().cloned());
                    if record.versions.is_empty() {
                        return Err(corrupt(id));
                    }
                }
            }
        }
        self.audit.extend(commit.audit.iter().cloned());
        self.seq = commit.seq;
        Ok(())
    }

    fn head(&self) -> (u64, String) {
        self.audit
            .last()
            .map_or_else(|| (0, GENESIS_HASH.to_owned()), |e| (e.seq, e.hash.clone()))
    }
}

/// A write planned against the state: the prompts it changes and the audit records it appends,
/// and what the caller gets once it is committed.
#[derive(Debug)]
pub(super) struct Plan<T> {
    pub(super) changes: BTreeMap<PromptId, Change>,
    pub(super) records: Vec<AuditRecord>,
    /// The bodies of new versions, to put before the commit that names them.
    pub(super) bodies: Vec<Body>,
    pub(super) out: T,
}

impl<T> Plan<T> {
    fn unchanged(out: T) -> Self {
        Plan {
            changes: BTreeMap::new(),
            records: Vec::new(),
            bodies: Vec::new(),
            out,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.records.is_empty()
    }

    /// The commit after `state` that carries this plan, made at `at`.
    pub(super) fn commit(&self, state: &State, token: String, at: DateTime<Utc>) -> Commit {
        Commit {
            seq: state.seq + 1,
            token,
            at,
            changes: self.changes.clone(),
            audit: seal_all(self.records.clone(), state.head(), at),
        }
    }
}

/// A version's body as stored: the SHA-256 of its bytes in hex (the object's name), and the
/// bytes (the version as JSON).
#[derive(Debug, Clone)]
pub(super) struct Body(pub(super) String, pub(super) Vec<u8>);

impl Body {
    pub(super) fn of(version: &PromptVersion) -> Result<Self> {
        let bytes = serde_json::to_vec(version).map_err(|e| {
            Error::backend(
                super::BACKEND,
                format!(
                    "version {} of `{}` cannot be written as JSON: {e}",
                    version.version, version.prompt.id
                ),
            )
        })?;
        Ok(Body(sha256_hex(&bytes), bytes))
    }
}

/// A store's write: plans itself against the state at `now`, or refuses.
pub(super) trait Op: Send + Sync {
    type Out: Send;
    fn plan(&self, state: &State, now: DateTime<Utc>) -> Result<Plan<Self::Out>>;
}

/// `save_all`: every request checked and applied to copies; nothing when one is refused.
pub(super) struct Save(pub(super) Vec<SaveRequest>);

impl Op for Save {
    type Out = Vec<LabelEvent>;

    fn plan(&self, state: &State, now: DateTime<Utc>) -> Result<Plan<Vec<LabelEvent>>> {
        let mut scratch: BTreeMap<PromptId, Record> = BTreeMap::new();
        let mut events = Vec::new();
        let mut records = Vec::new();
        let mut bodies = Vec::new();
        for request in &self.0 {
            let id = request.version.prompt.id.clone();
            if !scratch.contains_key(&id)
                && let Some(record) = state.prompts.get(&id)
            {
                scratch.insert(id.clone(), record.clone());
            }
            let current = scratch.get(&id);
            let latest = current.and_then(|r| r.latest()).map(|s| s.info.version.clone());
            rules::check_save(request, latest.as_ref())?;
            if let Some(record) = current {
                rules::check_save_protection(request, &record.protected)?;
            }
            let mut targets = current.map(|r| r.labels.clone()).unwrap_or_default();
            let mut splits = current.map(|r| r.splits.clone()).unwrap_or_default();
            let new_events = rules::move_labels(&mut targets, &mut splits, request, now);
            records.extend(rules::save_records(request, latest.as_ref(), &new_events));
            let body = Body::of(&request.version)?;
            let metadata = &request.version.prompt.metadata;
            let stored = Stored {
                info: request.version.info(),
                object: body.0.clone(),
                format: request.version.prompt.format,
                tags: metadata.tags.clone(),
                description: metadata.description.clone(),
            };
            let record = scratch.entry(id).or_insert_with(|| Record {
                status: request.status,
                created_at: now,
                updated_at: now,
                versions: BTreeMap::new(),
                labels: BTreeMap::new(),
                splits: BTreeMap::new(),
                protected: BTreeSet::new(),
                history: Vec::new(),
            });
            record.versions.insert(request.version.version.clone(), stored);
            record.labels = targets;
            record.splits = splits;
            record.history.extend(new_events.iter().cloned());
            record.updated_at = now;
            events.extend(new_events);
            bodies.push(body);
        }
        let changes = scratch
            .iter()
            .map(|(id, after)| (id.clone(), Change::between(state.prompts.get(id), after)))
            .collect();
        Ok(Plan {
            changes,
            records,
            bodies,
            out: events,
        })
    }
}

/// Runs `f` on a copy of `id`'s record; the plan puts the copy back with the audit record `f`
/// returns, or changes nothing when it returns none.
fn edit<T>(
    state: &State,
    id: &PromptId,
    f: impl FnOnce(&mut Record) -> Result<(Option<AuditRecord>, T)>,
) -> Result<Plan<T>> {
    let before = state.prompts.get(id).ok_or_else(|| Error::prompt_not_found(id))?;
    let mut after = before.clone();
    let (record, out) = f(&mut after)?;
    let Some(record) = record else {
        return Ok(Plan::unchanged(out));
    };
    Ok(Plan {
        changes: BTreeMap::from([(id.clone(), Change::between(Some(before), &after))]),
        records: vec![record],
        bodies: Vec::new(),
        out,
    })
}

/// `assign_label` (and `set_label`).
pub(super) struct Assign(pub(super) PromptId, pub(super) AssignmentChange);

impl Op for Assign {
    type Out = Option<LabelEvent>;

    fn plan(&self, state: &State, now: DateTime<Utc>) -> Result<Plan<Option<LabelEvent>>> {
        let Assign(id, change) = self;
        edit(state, id, |record| {
            let current = rules::current_target(&record.labels, &record.splits, &change.label);
            let event = rules::check_assignment(
                id,
                change.clone(),
                current,
                &record.protected,
                |v| record.versions.contains_key(v),
                now,
            )?;
            let Some(event) = event else {
                return Ok((None, None));
            };
            rules::apply_label_event(&mut record.labels, &mut record.splits, &event);
            record.history.push(event.clone());
            record.updated_at = now;
            Ok((Some(rules::label_record(id, &event, change.authority)), Some(event)))
        })
    }
}

/// `set_protection`.
pub(super) struct Protect(pub(super) PromptId, pub(super) ProtectionChange);

impl Op for Protect {
    type Out = bool;

    fn plan(&self, state: &State, now: DateTime<Utc>) -> Result<Plan<bool>> {
        let Protect(id, change) = self;
        edit(state, id, |record| {
            let Some(audit) = rules::check_protection_change(id, &mut record.protected, change)? else {
                return Ok((None, false));
            };
            record.updated_at = now;
            Ok((Some(audit), true))
        })
    }
}

/// `set_status`.
pub(super) struct SetStatus(pub(super) PromptId, pub(super) StatusChange);

impl Op for SetStatus {
    type Out = ();

    fn plan(&self, state: &State, now: DateTime<Utc>) -> Result<Plan<()>> {
        let SetStatus(id, change) = self;
        edit(state, id, |record| {
            rules::check_status(id, record.status, change)?;
            let audit = rules::status_record(id, record.status, change);
            record.status = change.status;
            record.updated_at = now;
            Ok((Some(audit), ()))
        })
    }
}

/// `delete`.
pub(super) struct Delete(pub(super) PromptId, pub(super) DeleteRequest);

impl Op for Delete {
    type Out = ();

    fn plan(&self, state: &State, _: DateTime<Utc>) -> Result<Plan<()>> {
        let Delete(id, request) = self;
        let record = state.prompts.get(id).ok_or_else(|| Error::prompt_not_found(id))?;
        let latest = record.latest().ok_or_else(|| corrupt(id))?.info.version.clone();
        let audit = rules::delete_record(
            id,
            &latest,
            record.versions.len() as u64,
            &record.labels,
            request.actor.clone(),
        );
        Ok(Plan {
            changes: BTreeMap::from([(id.clone(), Change::Delete)]),
            records: vec![audit],
            bodies: Vec::new(),
            out: (),
        })
    }
}

/// `append_audit`: an external event, appended as it is.
pub(super) struct Append(pub(super) AuditRecord);

impl Op for Append {
    type Out = ();

    fn plan(&self, _: &State, _: DateTime<Utc>) -> Result<Plan<()>> {
        rules::check_external(&self.0)?;
        Ok(Plan {
            changes: BTreeMap::new(),
            records: vec![self.0.clone()],
            bodies: Vec::new(),
            out: (),
        })
    }
}
