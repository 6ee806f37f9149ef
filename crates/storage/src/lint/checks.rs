//! The checks across files, once every prompt is known: labels files against the version files
//! beside them, includes against what the folder defines (and cycles among them), and input
//! schemas against what templates, their includes included, read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{LabelName, PromptId, PromptRef, Selector};

use super::files::{SourceFile, folder_id, version_file_number};
use super::report::{Linter, Severity};
use super::units::{Known, Unit};
use crate::source::YamlNode;

/// A label of a labels file: the file, the label, the version it names, where that is written.
pub(super) type LabelTarget<'a> = (&'a SourceFile, LabelName, Version, (usize, usize));

/// Checks that every label points to a version file beside its labels file, and records the
/// labels of the prompts found, for includes by label.
pub(super) fn check_labels(
    linter: &mut Linter<'_>,
    known: &mut Known,
    units: &[Unit<'_>],
    label_targets: Vec<LabelTarget<'_>>,
) {
    // A labels file belongs to the prompt whose version files share its folder (the folder may
    // lie deeper than the id, when the linted path holds a store among other files).
    let mut folders: BTreeMap<&Path, (&PromptId, BTreeSet<&Version>)> = BTreeMap::new();
    for unit in units {
        if let (Some(folder), Some(version)) = (unit.file.relative.parent(), &unit.version)
            && version_file_number(unit.file).is_some()
        {
            folders
                .entry(folder)
                .or_insert_with(|| (&unit.prompt.id, BTreeSet::new()))
                .1
                .insert(version);
        }
    }
    for (file, label, version, at) in label_targets {
        let folder = file.relative.parent().unwrap_or_else(|| Path::new(""));
        let found = folders.get(folder);
        let id = found.map_or_else(
            || folder_id(file).map_or_else(String::new, |i| i.to_string()),
            |(id, _)| id.to_string(),
        );
        if let Some((prompt, _)) = found {
            known.labels.entry((*prompt).clone()).or_default().insert(label.clone());
        }
        let exists = found.is_some_and(|(_, versions)| versions.contains(&version));
        if !exists {
            linter.report(
                file,
                at,
                Severity::Error,
                "unresolved_label",
                format!("label `{label}` of `{id}` points to version {version}, which has no {version}.yaml here"),
            );
        }
    }
}

pub(super) fn check_includes(linter: &mut Linter<'_>, known: &Known, units: &[Unit<'_>]) {
    for unit in units {
        for (reference, at) in &unit.includes {
            if let Some(problem) = unresolved(known, reference) {
                linter.report(
                    unit.file,
                    *at,
                    Severity::Error,
                    "unresolved_include",
                    format!("{{% include \"{reference}\" %}} does not resolve: {problem}"),
                );
            }
        }
    }
    // Cycles, over the newest definition of each prompt.
    let mut newest: BTreeMap<&PromptId, &Unit<'_>> = BTreeMap::new();
    for unit in units {
        let keep = newest.get(&unit.prompt.id).is_none_or(|u| u.version < unit.version);
        if keep {
            newest.insert(&unit.prompt.id, unit);
        }
    }
    let edges = |id: &PromptId| -> Vec<(PromptId, (usize, usize))> {
        newest
            .get(id)
            .map(|u| {
                u.includes
                    .iter()
                    .filter_map(|(r, at)| PromptRef::parse(r).ok().map(|r| (r.id, *at)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut reported: BTreeSet<Vec<PromptId>> = BTreeSet::new();
    for start in newest.keys() {
        // Depth-first search for paths that come back to `start`, through ids above it only,
        // so each cycle is found once: from its smallest id.
        let mut stack: Vec<(PromptId, Vec<PromptId>)> = vec![((*start).clone(), vec![(*start).clone()])];
        while let Some((id, path)) = stack.pop() {
            for (next, _) in edges(&id) {
                if next == **start {
                    if reported.insert(path.clone()) {
                        let unit = newest[*start];
                        let at = unit
                            .includes
                            .iter()
                            .find(|(r, _)| {
                                // The include that leaves `start` on the cycle (itself, for a self-include).
                                let target = path.get(1).unwrap_or(*start);
                                PromptRef::parse(r).is_ok_and(|r| &r.id == target)
                            })
                            .map_or((unit.node.line, unit.node.column), |(_, at)| *at);
                        let mut names: Vec<String> = path.iter().map(ToString::to_string).collect();
                        names.push(start.to_string());
                        linter.report(
                            unit.file,
                            at,
                            Severity::Error,
                            "include_cycle",
                            format!("include cycle: {}", names.join(" → ")),
                        );
                    }
                } else if next > **start && !path.contains(&next) && newest.contains_key(&next) && path.len() < 64 {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next, longer));
                }
            }
        }
    }
}

/// Why a reference does not resolve in the folder, or `None` when it does (or may).
fn unresolved(known: &Known, reference: &str) -> Option<String> {
    let parsed = match PromptRef::parse(reference) {
        Ok(r) => r,
        Err(e) => return Some(e.to_string()),
    };
    let id = &parsed.id;
    let versions = known.versions.get(id);
    if versions.is_none() && !known.unversioned.contains(id) {
        return Some(format!("no prompt `{id}` in the linted files"));
    }
    if known.unversioned.contains(id) {
        // Defined without a version number: any version or label may be meant.
        return None;
    }
    let versions = versions?;
    match &parsed.selector {
        Selector::Latest => None,
        Selector::Exact(v) => (!versions.contains(v)).then(|| format!("`{id}` has no version {v} here")),
        Selector::Requirement(req) => {
            (!versions.iter().any(|v| req.matches(v))).then(|| format!("no version of `{id}` here matches `{req}`"))
        }
        Selector::Label(label) => {
            let labels = known.labels.get(id);
            (!labels.is_some_and(|l| l.contains(label))).then(|| format!("`{id}` has no label `{label}` here"))
        }
    }
}

/// A prompt's newest definition: its version, the variables it reads, the prompts it includes.
type ReadBy<'a> = (&'a Option<Version>, Vec<&'a str>, Vec<PromptId>);

pub(super) fn check_variables(linter: &mut Linter<'_>, units: &[Unit<'_>]) {
    // Variables read by each prompt's newest definition, to count what includes read.
    let mut read_by: BTreeMap<&PromptId, ReadBy<'_>> = BTreeMap::new();
    for unit in units {
        let keep = read_by.get(&unit.prompt.id).is_none_or(|(v, _, _)| **v < unit.version);
        if keep {
            let includes = unit
                .includes
                .iter()
                .filter_map(|(r, _)| PromptRef::parse(r).ok().map(|r| r.id))
                .collect();
            read_by.insert(
                &unit.prompt.id,
                (
                    &unit.version,
                    unit.variables.keys().map(String::as_str).collect(),
                    includes,
                ),
            );
        }
    }
    for unit in units {
        let schema = &unit.prompt.input_schema;
        if unit.broken || schema.is_empty() {
            continue;
        }
        let declared: BTreeSet<&str> = schema.variables.iter().map(|v| v.name.as_str()).collect();
        for (variable, at) in &unit.variables {
            if !declared.contains(variable.as_str()) {
                linter.report(
                    unit.file,
                    *at,
                    Severity::Error,
                    "undefined_variable",
                    format!(
                        "`{}` reads variable `{variable}`, which its input_schema does not declare",
                        unit.prompt.id
                    ),
                );
            }
        }
        // What the prompt and everything it includes read.
        let mut read: BTreeSet<&str> = unit.variables.keys().map(String::as_str).collect();
        let mut queue: Vec<PromptId> = unit
            .includes
            .iter()
            .filter_map(|(r, _)| PromptRef::parse(r).ok().map(|r| r.id))
            .collect();
        let mut visited = BTreeSet::new();
        while let Some(id) = queue.pop() {
            if !visited.insert(id.clone()) {
                continue;
            }
            if let Some((_, vars, includes)) = read_by.get(&id) {
                read.extend(vars.iter().copied());
                queue.extend(includes.iter().cloned());
            }
        }
        let schema_nodes = unit.node.get("input_schema").map(YamlNode::items).unwrap_or_default();
        for (i, spec) in schema.variables.iter().enumerate() {
            if !read.contains(spec.name.as_str()) {
                let at = schema_nodes
                    .get(i)
                    .and_then(|n| n.get("name"))
                    .map_or((unit.node.line, unit.node.column), |n| (n.line, n.column));
                linter.report(
                    unit.file,
                    at,
                    Severity::Warning,
                    "unused_variable",
                    format!(
                        "input_schema declares `{}`, which no template of `{}` reads",
                        spec.name, unit.prompt.id
                    ),
                );
            }
        }
    }
}
