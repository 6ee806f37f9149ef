//! Two-way sync of a prompt folder kept in git with a store: [`plan`] says, per prompt, what
//! [`apply`] would do in each [`Direction`] and what stands in the way; [`apply`] does one
//! direction's part, all versions in one write.
//!
//! The folder has the `dir://` layout that `prompt-manager export DIR` writes: one file per
//! version (`greeting/1.2.0.yaml`), labels in `_labels.yaml`. Versions are immutable on both
//! sides, so the sync compares them by number and content hash:
//!
//! - a version on one side only is created on the other (push: folder → store; pull: store →
//!   folder), with the bump its diff from the version before it suggests, flagged when the number
//!   chosen is smaller;
//! - a label that points elsewhere is moved to where the source side points it, after the
//!   versions (a move to a lower version is flagged as a rollback) — unless the target side moved
//!   it later than the source side last did (by the two label histories): that is a change the
//!   source has not seen, such as a rollback in the store during an incident, and a conflict;
//! - **drift** is a conflict, never overwritten: one version number with two contents (a released
//!   version edited by hand in the folder, or changed on the server), versions the target side has
//!   that the source lacks while the source adds its own, a new version below the other side's
//!   latest, a label the target side moved to a version the source side does not have, and a
//!   protected label (unless forced).
//!
//! Nothing is ever deleted: a prompt or label on one side only is reported, and the other
//! direction brings it over.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> prompt_manager::Result<()> {
//! use prompt_manager::sync::{self, Direction};
//! use prompt_manager::{DirStore, Prompt};
//!
//! let folder = tempfile::tempdir().expect("a temporary folder");
//! let repo = DirStore::open(folder.path())?;
//! let pm = prompt_manager::in_memory();
//! pm.create(Prompt::text("greeting", "Hello {{ name }}!")?).await?;
//!
//! let plan = sync::plan(&pm, &repo, false).await?;
//! assert_eq!(plan.prompts[0].pull.actions.len(), 1, "the folder lacks greeting 1.0.0");
//! sync::apply(&pm, &repo, &plan, Direction::Pull, false).await?;
//! assert!(folder.path().join("greeting/1.0.0.yaml").exists());
//! assert!(sync::plan(&pm, &repo, false).await?.is_in_sync());
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    Authority, Bump, Error, Expect, LabelChange, LabelEventKind, LabelName, LabelOptions, ListQuery, NotFound,
    PromptId, PromptManager, PromptStatus, PromptVersion, Result, StorageBackend, Store, VersionStore,
};
use prompt_manager_storage::DirStore;
use serde::Serialize;

use crate::library::{self, LibraryEntry};

/// Which way [`apply`] copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Folder → store: the store gets the folder's new versions and label positions.
    Push,
    /// Store → folder: the folder gets the store's new versions and label positions.
    Pull,
}

impl Direction {
    /// `push` or `pull`.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Push => "push",
            Direction::Pull => "pull",
        }
    }
}

/// What [`plan`] found, per prompt (in id order).
#[derive(Debug, Clone, Serialize)]
pub struct SyncPlan {
    /// Every prompt on either side that differs, and the ones in sync.
    pub prompts: Vec<PromptPlan>,
}

impl SyncPlan {
    /// Whether both sides hold the same versions and labels.
    pub fn is_in_sync(&self) -> bool {
        self.prompts.iter().all(PromptPlan::is_in_sync)
    }

    /// The conflicts of one direction, with their prompt.
    pub fn conflicts(&self, direction: Direction) -> impl Iterator<Item = (&PromptId, &Conflict)> {
        self.prompts
            .iter()
            .flat_map(move |p| p.side(direction).conflicts.iter().map(move |c| (&p.id, c)))
    }

    /// How many actions one direction would take.
    pub fn action_count(&self, direction: Direction) -> usize {
        self.prompts.iter().map(|p| p.side(direction).actions.len()).sum()
    }
}

/// One prompt's plan.
#[derive(Debug, Clone, Serialize)]
pub struct PromptPlan {
    /// The prompt.
    pub id: PromptId,
    /// Where it is: `both`, `folder` or `store`.
    pub presence: Presence,
    /// What a push would do.
    pub push: Side,
    /// What a pull would do.
    pub pull: Side,
}

impl PromptPlan {
    /// The plan of one direction.
    pub fn side(&self, direction: Direction) -> &Side {
        match direction {
            Direction::Push => &self.push,
            Direction::Pull => &self.pull,
        }
    }

    /// Whether nothing differs.
    pub fn is_in_sync(&self) -> bool {
        self.push.is_empty() && self.pull.is_empty()
    }
}

/// Where a prompt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// In the folder and the store.
    Both,
    /// In the folder only.
    Folder,
    /// In the store only.
    Store,
}

/// What one direction would do for a prompt, and what stands in its way.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Side {
    /// The changes, in the order they are made.
    pub actions: Vec<Action>,
    /// What must be resolved first; a direction with any conflict changes nothing.
    pub conflicts: Vec<Conflict>,
}

impl Side {
    fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.conflicts.is_empty()
    }
}

/// One change.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// A version the target side lacks is created (the labels that point at it follow as
    /// [`Action::MoveLabel`]s).
    CreateVersion {
        /// Its number.
        version: Version,
        /// What its diff from the version before it suggests, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        suggested: Option<Suggested>,
        /// Its content.
        #[serde(skip)]
        content: Arc<PromptVersion>,
    },
    /// A label moves to a version the target side has.
    MoveLabel {
        /// The label.
        label: LabelName,
        /// Where it points on the target side now (`None`: unset).
        from: Option<Version>,
        /// Where it will point.
        to: Version,
        /// Whether it moves to a lower version.
        rollback: bool,
    },
}

/// The bump a new version's diff suggests.
#[derive(Debug, Clone, Serialize)]
pub struct Suggested {
    /// The version it is compared with.
    pub from: Version,
    /// The bump the diff calls for.
    pub bump: Bump,
    /// The changes that call for it.
    pub reasons: Vec<String>,
    /// Whether the version's number is a smaller step than suggested (a breaking change numbered
    /// as a minor one).
    pub smaller: bool,
}

/// Something a direction cannot do without losing a change, and how to resolve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// What is in the way.
    pub message: String,
    /// What to do about it.
    pub resolve: String,
}

/// One side of a prompt: its versions (number → content hash, and the content when loaded), its
/// labels, protected labels and status.
#[derive(Default)]
struct Holdings {
    versions: BTreeMap<Version, String>,
    contents: BTreeMap<Version, Arc<PromptVersion>>,
    /// Versions whose file no longer matches its recorded hash (folder only).
    edited: BTreeMap<Version, String>,
    labels: BTreeMap<LabelName, Version>,
    /// When each label was last moved on this side, and by whom (from its label history).
    moved: BTreeMap<LabelName, (DateTime<Utc>, Option<String>)>,
    protected: BTreeSet<LabelName>,
}

impl Holdings {
    fn present(&self) -> bool {
        !self.versions.is_empty() || !self.edited.is_empty()
    }

    fn latest(&self) -> Option<&Version> {
        self.versions.keys().chain(self.edited.keys()).max()
    }
}

async fn ids(store: &dyn Store) -> Result<BTreeSet<PromptId>> {
    let mut out = BTreeSet::new();
    let mut query = ListQuery {
        limit: Some(500),
        ..ListQuery::default()
    };
    loop {
        let page = store.list(&query).await?;
        out.extend(page.items.into_iter().map(|s| s.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(out),
        }
    }
}

/// What `store` holds of `id`; the folder's versions are loaded (which checks each file against
/// its recorded hash), the store's only listed.
async fn holdings(store: &dyn Store, id: &PromptId, load_all: bool) -> Result<Holdings> {
    let mut held = Holdings::default();
    let versions = match store.list_versions(id).await {
        Ok(versions) => versions,
        Err(Error::NotFound(NotFound::Prompt(_))) => return Ok(held),
        Err(e) => return Err(e),
    };
    for info in versions {
        if load_all {
            match store.load(id, Some(&info.version)).await {
                Ok(content) => {
                    held.contents.insert(info.version.clone(), content);
                }
                Err(Error::ContentHashMismatch { .. }) => {
                    held.edited.insert(info.version.clone(), info.content_hash.to_string());
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        held.versions.insert(info.version, info.content_hash.to_string());
    }
    for event in store.label_history(id, None).await? {
        let newer = held.moved.get(&event.label).is_none_or(|(at, _)| event.at >= *at);
        if newer {
            held.moved.insert(event.label.clone(), (event.at, event.actor.clone()));
        }
    }
    let summary = store.summary(id).await?;
    held.labels = summary.labels;
    held.protected = summary.protected;
    Ok(held)
}

/// Compares `folder` with the manager's store. `force` lets a push move protected labels (as
/// the CLI's `--force`: an administrator's override, recorded in the audit log).
pub async fn plan(pm: &PromptManager, folder: &DirStore, force: bool) -> Result<SyncPlan> {
    let store = pm.store();
    let mut all = ids(folder).await?;
    all.extend(ids(store.as_ref()).await?);
    let mut prompts = Vec::with_capacity(all.len());
    for id in all {
        let mut local = holdings(folder, &id, true).await?;
        let mut remote = holdings(store.as_ref(), &id, false).await?;
        let presence = match (local.present(), remote.present()) {
            (true, true) => Presence::Both,
            (true, false) => Presence::Folder,
            _ => Presence::Store,
        };
        let push = side(
            pm,
            &id,
            (&mut local, &mut remote),
            (folder, store.as_ref()),
            Direction::Push,
            force,
        )
        .await?;
        let pull = side(
            pm,
            &id,
            (&mut remote, &mut local),
            (store.as_ref(), folder),
            Direction::Pull,
            true,
        )
        .await?;
        prompts.push(PromptPlan {
            id,
            presence,
            push,
            pull,
        });
    }
    Ok(SyncPlan { prompts })
}

/// The side names in messages.
fn names(direction: Direction) -> (&'static str, &'static str) {
    match direction {
        Direction::Push => ("the folder", "the store"),
        Direction::Pull => ("the store", "the folder"),
    }
}

/// The content of `version` on `held`'s side, loading it from `store` when it is not yet.
async fn content(
    held: &mut Holdings,
    store: &dyn Store,
    id: &PromptId,
    version: &Version,
) -> Result<Arc<PromptVersion>> {
    if let Some(content) = held.contents.get(version) {
        return Ok(content.clone());
    }
    let content = store.load(id, Some(version)).await?;
    held.contents.insert(version.clone(), content.clone());
    Ok(content)
}

/// What copying `source` onto `target` would do for one prompt.
async fn side(
    pm: &PromptManager,
    id: &PromptId,
    (source, target): (&mut Holdings, &mut Holdings),
    stores: (&dyn Store, &dyn Store),
    direction: Direction,
    force: bool,
) -> Result<Side> {
    let (from_name, to_name) = names(direction);
    let mut out = Side::default();
    let pull_first = match direction {
        Direction::Push => {
            "`prompt-manager sync apply --direction pull` first, then release the folder's change as a newer version"
        }
        Direction::Pull => {
            "`prompt-manager sync apply --direction push` first, or delete the folder's unreleased version files"
        }
    };
    // A released version edited by hand in the folder: whichever content is right, copying
    // would lose the other.
    let folder_side = match direction {
        Direction::Push => &*source,
        Direction::Pull => &*target,
    };
    for (version, hash) in &folder_side.edited {
        out.conflicts.push(Conflict {
            message: format!(
                "{id} {version}: the folder's file was edited after it was saved (its recorded content hash \
                 {hash} no longer matches its content)"
            ),
            resolve: format!(
                "restore the file (`git checkout -- {id}/{version}.yaml`) and save the edit as a new version file \
                 without `content_hash`, e.g. {id}/{}.yaml",
                next_minor(folder_side.latest().unwrap_or(version))
            ),
        });
    }
    if !out.conflicts.is_empty() {
        return Ok(out);
    }
    let mut differing = Vec::new();
    for (version, hash) in &source.versions {
        if let Some(theirs) = target.versions.get(version)
            && theirs != hash
        {
            differing.push(version.clone());
            out.conflicts.push(Conflict {
                message: format!("{id} {version} differs: {from_name} holds {hash}, {to_name} {theirs}"),
                resolve: format!(
                    "versions are immutable: keep one content under {version} (restore the folder's file from git, \
                     or pull the store's), and release the other as a new version"
                ),
            });
        }
    }
    let new: Vec<Version> = source
        .versions
        .keys()
        .filter(|v| !target.versions.contains_key(*v))
        .cloned()
        .collect();
    let missing: Vec<Version> = target
        .versions
        .keys()
        .filter(|v| !source.versions.contains_key(*v))
        .cloned()
        .collect();
    let target_latest = target.latest().cloned();
    if !new.is_empty() && !missing.is_empty() {
        out.conflicts.push(Conflict {
            message: format!(
                "{id}: {to_name} has {} that {from_name} lacks, and {from_name} adds {}",
                list(&missing),
                list(&new)
            ),
            resolve: pull_first.to_owned(),
        });
    } else if let Some(latest) = &target_latest
        && let Some(low) = new.iter().find(|v| *v < latest)
    {
        out.conflicts.push(Conflict {
            message: format!("{id} {low} is below {to_name}'s latest version {latest}, and versions only grow"),
            resolve: format!("number it above {latest}"),
        });
    }
    // New versions, each compared with the version before it.
    for version in &new {
        let content = content(source, stores.0, id, version).await?;
        let before = source
            .versions
            .keys()
            .chain(target.versions.keys())
            .filter(|v| *v < version)
            .max()
            .cloned();
        let suggested = match &before {
            Some(before) => {
                let old = if source.versions.contains_key(before) {
                    self::content(source, stores.0, id, before).await?
                } else {
                    self::content(target, stores.1, id, before).await?
                };
                Some(suggestion(pm, before, &old, version, &content)?)
            }
            None => None,
        };
        out.actions.push(Action::CreateVersion {
            version: version.clone(),
            suggested,
            content,
        });
    }
    // Labels: to where the source points them.
    for (label, to) in &source.labels {
        let from = target.labels.get(label);
        if from == Some(to) {
            continue;
        }
        if let Some(from) = from
            && !source.versions.contains_key(from)
        {
            out.conflicts.push(Conflict {
                message: format!(
                    "{id}: `{label}` points at {from} in {to_name}, a version {from_name} does not have, and at {to} \
                     in {from_name}"
                ),
                resolve: pull_first.to_owned(),
            });
            continue;
        }
        if differing.contains(to) {
            continue;
        }
        // Who moved it last: a move on the target side after the source's last move of it is a
        // change the source has not seen (a rollback in the store during an incident), which
        // copying would undo.
        if let Some((at, actor)) = target.moved.get(label)
            && source.moved.get(label).is_none_or(|(theirs, _)| at > theirs)
        {
            let since = match source.moved.get(label) {
                Some((theirs, _)) => format!("its last move in {from_name} ({})", stamp(theirs)),
                None => format!("any move of it recorded in {from_name}"),
            };
            out.conflicts.push(Conflict {
                message: format!(
                    "{id}: `{label}` was moved in {to_name} to {} at {}{}, after {since}",
                    from.map_or("(unset)".to_owned(), ToString::to_string),
                    stamp(at),
                    actor.as_ref().map(|a| format!(" by {a}")).unwrap_or_default()
                ),
                resolve: match direction {
                    Direction::Push => format!(
                        "pull it first (`sync apply --direction pull`), or, to move it anyway, set it again in the \
                         folder: `prompt-manager --store dir://FOLDER label set {id} {label} {to}`"
                    ),
                    Direction::Pull => format!(
                        "push first (`sync apply`), or, to keep the store's, set it again there: `prompt-manager label \
                         set {id} {label} {to}`"
                    ),
                },
            });
            continue;
        }
        if direction == Direction::Push && target.protected.contains(label) && !force {
            out.conflicts.push(Conflict {
                message: format!("{id}: `{label}` is protected in the store"),
                resolve: "move it with an approval, or as an administrator with `sync apply --force` (recorded in \
                          the audit log)"
                    .to_owned(),
            });
            continue;
        }
        out.actions.push(Action::MoveLabel {
            label: label.clone(),
            from: from.cloned(),
            to: to.clone(),
            rollback: from.is_some_and(|from| to < from),
        });
    }
    Ok(out)
}

/// What the diff from `before` to `version` suggests, and whether `version` is a smaller step.
fn suggestion(
    pm: &PromptManager,
    before: &Version,
    old: &PromptVersion,
    version: &Version,
    new: &PromptVersion,
) -> Result<Suggested> {
    let diff = crate::versioning::diff_prompts(pm.engines(), &old.prompt, &new.prompt)?;
    let suggestion = crate::versioning::suggest(&diff);
    let step = if version.major > before.major {
        Bump::Major
    } else if version.minor > before.minor {
        Bump::Minor
    } else {
        Bump::Patch
    };
    Ok(Suggested {
        from: before.clone(),
        bump: suggestion.bump,
        reasons: suggestion.reasons,
        smaller: step < suggestion.bump,
    })
}

/// A time in messages: UTC to the second.
fn stamp(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn next_minor(v: &Version) -> Version {
    Version::new(v.major, v.minor + 1, 0)
}

fn list(versions: &[Version]) -> String {
    let shown: Vec<String> = versions.iter().map(ToString::to_string).collect();
    match shown.len() {
        1 => format!("version {}", shown[0]),
        _ => format!("versions {}", shown.join(", ")),
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// The versions created on the target side.
    pub created: Vec<(PromptId, Version)>,
    /// The labels moved on the target side: prompt, label, version.
    pub moved: Vec<(PromptId, LabelName, Version)>,
}

/// Does `direction`'s part of `plan` (made by [`plan`] just before): every new version in one
/// write (all or nothing), then each label move, compare-and-set on where the plan saw it. A plan
/// with conflicts in that direction is refused whole. `force` moves protected labels on a push
/// as an administrator.
pub async fn apply(
    pm: &PromptManager,
    folder: &DirStore,
    plan: &SyncPlan,
    direction: Direction,
    force: bool,
) -> Result<ApplyReport> {
    if let Some((id, conflict)) = plan.conflicts(direction).next() {
        return Err(Error::invalid_argument(
            "sync",
            id.as_str(),
            format!("the plan has conflicts; the first: {}", conflict.message),
        ));
    }
    let mut report = ApplyReport::default();
    let mut entries = Vec::new();
    let mut moves = Vec::new();
    for prompt in &plan.prompts {
        let actions = &prompt.side(direction).actions;
        // The status a prompt new on the target side is created with: the source's, read once.
        let status = if actions.iter().any(|a| matches!(a, Action::CreateVersion { .. })) {
            match direction {
                Direction::Push => folder.summary(&prompt.id).await.map(|s| s.status),
                Direction::Pull => pm.store().summary(&prompt.id).await.map(|s| s.status),
            }
            .unwrap_or_default()
        } else {
            PromptStatus::default()
        };
        for action in actions {
            match action {
                Action::CreateVersion { version, content, .. } => {
                    entries.push(LibraryEntry::from_version(content, Vec::new(), status));
                    report.created.push((prompt.id.clone(), version.clone()));
                }
                Action::MoveLabel { label, from, to, .. } => {
                    moves.push((prompt.id.clone(), label.clone(), from.clone(), to.clone()));
                }
            }
        }
    }
    let name = folder.root().display().to_string();
    match direction {
        Direction::Push => {
            let pm = if force {
                pm.with_authority(Authority::Forced)
            } else {
                pm.clone()
            };
            if !entries.is_empty() {
                library::import_entries(&pm, entries, &name).await?;
            }
            for (id, label, from, to) in moves {
                let expected = from.map_or(Expect::Absent, Expect::Version);
                pm.set_label_with(&id, &label, &to, LabelOptions { expected }).await?;
                report.moved.push((id, label, to));
            }
        }
        Direction::Pull => {
            if !entries.is_empty() {
                library::export_into(folder, entries, &name).await?;
            }
            for (id, label, from, to) in moves {
                folder
                    .set_label(
                        &id,
                        LabelChange {
                            label: label.clone(),
                            to: Some(to.clone()),
                            expected: from.map_or(Expect::Absent, Expect::Version),
                            kind: LabelEventKind::Set,
                            actor: pm.actor().map(str::to_owned),
                            // The folder follows the store, protected labels included.
                            authority: Authority::Admin,
                        },
                    )
                    .await?;
                report.moved.push((id, label, to));
            }
        }
    }
    Ok(report)
}
