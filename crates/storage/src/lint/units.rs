//! The prompts lint finds in each file (a library's entries, a version file's `prompt:`, a
//! single prompt), with the checks that need one file only: ids, version numbers against file
//! names, duplicate versions, and each template's syntax, includes and variables (asked of the
//! engine, placed in the file by `position`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{ChatItem, Error, LabelName, Prompt, PromptId, SourcePosition, Template};

use super::files::{SourceFile, version_file_number};
use super::position::{LineIndex, file_position};
use super::report::{Linter, Severity};
use crate::source::{YamlNode, parse_library_entry, parse_prompt, parse_version_file};

/// One prompt found in a file, with where its parts are.
pub(super) struct Unit<'a> {
    pub(super) file: &'a SourceFile,
    text: &'a str,
    lines: &'a LineIndex,
    pub(super) prompt: Prompt,
    /// The node of the prompt's fields (the file, the entry, or `prompt:` of a version file).
    pub(super) node: &'a YamlNode,
    pub(super) version: Option<Version>,
    /// Variables read by the templates, with a position of their first use.
    pub(super) variables: BTreeMap<String, (usize, usize)>,
    /// Included references, with the position of the reference.
    pub(super) includes: Vec<(String, (usize, usize))>,
    /// Whether a template failed to parse (further template checks are skipped).
    pub(super) broken: bool,
}

/// What the folder holds, to resolve includes against.
#[derive(Default)]
pub(super) struct Known {
    pub(super) versions: BTreeMap<PromptId, BTreeSet<Version>>,
    /// Labels, for prompts whose labels the folder records (dir layout, libraries).
    pub(super) labels: BTreeMap<PromptId, BTreeSet<LabelName>>,
    /// Ids defined without a version (single-prompt files): any version may be meant.
    pub(super) unversioned: BTreeSet<PromptId>,
}

/// Checks the id node of a prompt; `false` when it is invalid (and reported).
fn check_id(linter: &mut Linter<'_>, file: &SourceFile, node: &YamlNode) -> bool {
    let Some(id) = node.get("id") else { return true };
    let Some(text) = id.as_str() else { return true };
    match PromptId::new(text) {
        Ok(_) => true,
        Err(e) => {
            linter.report(file, (id.line, id.column), Severity::Error, "invalid_id", e.to_string());
            false
        }
    }
}

pub(super) fn collect_units<'a>(
    linter: &mut Linter<'_>,
    known: &mut Known,
    file: &'a SourceFile,
    (text, lines): (&'a str, &'a LineIndex),
    tree: &'a YamlNode,
    units: &mut Vec<Unit<'a>>,
) {
    let unit = |prompt: Prompt, node: &'a YamlNode, version: Option<Version>| Unit {
        file,
        text,
        lines,
        prompt,
        node,
        version,
        variables: BTreeMap::new(),
        includes: Vec::new(),
        broken: false,
    };
    if let Some(entries) = tree.get("prompts").filter(|_| tree.get("id").is_none()) {
        // A library.
        let mut seen = BTreeSet::new();
        for (index, entry) in entries.items().iter().enumerate() {
            if !check_id(linter, file, entry) {
                continue;
            }
            let position = (entry.line, entry.column);
            match parse_library_entry(entry.to_json(), &file.display, index, position) {
                Ok(parsed) => {
                    let id = parsed.prompt.id.clone();
                    known
                        .labels
                        .entry(id.clone())
                        .or_default()
                        .extend(parsed.labels.iter().cloned());
                    let Some(version) = parsed.version.clone() else {
                        // Entries without a number become successive versions on import.
                        known.unversioned.insert(id);
                        units.push(unit(parsed.prompt, entry, None));
                        continue;
                    };
                    if !seen.insert((id.clone(), version.clone())) {
                        let at = entry.get("version").map_or(position, |v| (v.line, v.column));
                        linter.report(
                            file,
                            at,
                            Severity::Error,
                            "duplicate_version",
                            format!("`{id}` version {version} appears twice in the library"),
                        );
                        continue;
                    }
                    known.versions.entry(id).or_default().insert(version.clone());
                    units.push(unit(parsed.prompt, entry, Some(version)));
                }
                Err(e) => linter.report_error(file, position, "yaml", e),
            }
        }
    } else if let Some(prompt_node) = tree.get("prompt").filter(|_| tree.get("id").is_none()) {
        // A version file of the dir layout.
        if !check_id(linter, file, prompt_node) {
            return;
        }
        match parse_version_file(text, &file.display) {
            Ok((prompt, declared)) => {
                let number = version_file_number(file);
                if let (Some(declared), Some(number)) = (&declared, &number)
                    && declared != number
                {
                    let at = tree.get("version").map_or((1, 1), |v| (v.line, v.column));
                    linter.report(
                        file,
                        at,
                        Severity::Error,
                        "version_mismatch",
                        format!("the file says version {declared} but is named {number}.yaml"),
                    );
                }
                if number.is_some() {
                    let folder = file
                        .relative
                        .parent()
                        .and_then(Path::to_str)
                        .unwrap_or("")
                        .replace('\\', "/");
                    let id = prompt.id.as_str();
                    if folder != id && !folder.ends_with(&format!("/{id}")) {
                        let at = prompt_node.get("id").map_or((1, 1), |n| (n.line, n.column));
                        linter.report(
                            file,
                            at,
                            Severity::Error,
                            "id_mismatch",
                            format!(
                                "the file names prompt `{id}` but lies in the folder `{}`; a dir:// store keeps `{id}` in `{id}/`",
                                if folder.is_empty() { "." } else { &folder }
                            ),
                        );
                    }
                }
                let version = number.or(declared);
                match &version {
                    Some(v) => {
                        known.versions.entry(prompt.id.clone()).or_default().insert(v.clone());
                    }
                    None => {
                        known.unversioned.insert(prompt.id.clone());
                    }
                }
                units.push(unit(prompt, prompt_node, version));
            }
            Err(e) => linter.report_error(file, (prompt_node.line, prompt_node.column), "yaml", e),
        }
    } else if tree.get("id").is_some() {
        // One prompt.
        if !check_id(linter, file, tree) {
            return;
        }
        match parse_prompt(text, &file.display) {
            Ok(prompt) => {
                known.unversioned.insert(prompt.id.clone());
                units.push(unit(prompt, tree, None));
            }
            Err(e) => linter.report_error(file, (tree.line, tree.column), "yaml", e),
        }
    } else {
        linter.report(
            file,
            (1, 1),
            Severity::Warning,
            "not_a_prompt",
            "not a prompt file (expected `id` and `template`, a `prompts:` list, or a version file with `prompt:`); skipped"
                .into(),
        );
    }
}

/// The template sources of a unit with their nodes: the text, or each message's content.
fn sources<'a>(unit: &'a Unit<'_>) -> Vec<(String, &'a str, Option<&'a YamlNode>)> {
    let template_node = unit.node.get("template");
    let name = match &unit.version {
        Some(v) => format!("{}@{v}", unit.prompt.id),
        None => unit.prompt.id.to_string(),
    };
    match &unit.prompt.template {
        Template::Text(text) => vec![(name, text.as_str(), template_node)],
        Template::Chat(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                ChatItem::Message(m) => {
                    let node = template_node
                        .and_then(|t| t.items().get(i))
                        .and_then(|n| n.get("content"));
                    Some((format!("{name} message {}", i + 1), m.content.as_str(), node))
                }
                ChatItem::Placeholder(_) => None,
            })
            .collect(),
    }
}

pub(super) fn check_templates(linter: &mut Linter<'_>, unit: &mut Unit<'_>) {
    let mut variables = BTreeMap::new();
    let mut includes = Vec::new();
    let mut broken = false;
    let engine = match linter.engines.of(&unit.prompt) {
        Ok(engine) => engine.clone(),
        Err(e) => {
            let at = file_position((unit.text, unit.lines), unit.node.get("syntax"), unit.node, "", (1, 1));
            linter.report(unit.file, at, Severity::Error, "template_syntax", e.to_string());
            return;
        }
    };
    for (name, source, node) in sources(unit) {
        let at = |position: (usize, usize)| file_position((unit.text, unit.lines), node, unit.node, source, position);
        if let Err(e) = engine.validate(&name, source) {
            broken = true;
            match e {
                Error::TemplateSyntax {
                    message, line, column, ..
                } => linter.report(
                    unit.file,
                    at((line, column)),
                    Severity::Error,
                    "template_syntax",
                    format!("template syntax error in {name}: {message}"),
                ),
                other => linter.report(
                    unit.file,
                    at((1, 1)),
                    Severity::Error,
                    "template_syntax",
                    other.to_string(),
                ),
            }
            continue;
        }
        // A place the engine does not know is the start of the template.
        let place = |position: Option<SourcePosition>| at(position.map_or((1, 1), |p| (p.line, p.column)));
        match engine.scan(&name, source) {
            Ok(scan) => {
                for (reference, position) in scan.includes {
                    includes.push((reference, place(position)));
                }
                for (variable, position) in scan.variables {
                    variables.entry(variable).or_insert_with(|| place(position));
                }
            }
            Err(e) => {
                // A loading tag the engine cannot resolve ahead of time (a computed target).
                broken = true;
                linter.report(
                    unit.file,
                    at((1, 1)),
                    Severity::Error,
                    "unresolved_include",
                    e.to_string(),
                );
                // What it reads still counts for the prompts that include it; where does not
                // matter, since a broken unit's own variables are not checked.
                if let Ok(found) = engine.extract_variables(&name, source) {
                    for variable in found {
                        variables.entry(variable).or_insert_with(|| at((1, 1)));
                    }
                }
            }
        }
    }
    if let Template::Chat(items) = &unit.prompt.template {
        let nodes = unit.node.get("template").map(YamlNode::items).unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            if let ChatItem::Placeholder(p) = item {
                let at = nodes
                    .get(i)
                    .and_then(|n| n.get("placeholder"))
                    .map_or((unit.node.line, unit.node.column), |n| (n.line, n.column));
                variables.entry(p.variable.clone()).or_insert(at);
            }
        }
    }
    unit.variables = variables;
    unit.includes = includes;
    unit.broken = broken;
}
