//! The structural diff of two prompts: what it holds ([`PromptDiff`] and its parts) and how it is
//! computed. Its textual rendering lives in `render.rs`, the bump it suggests in `bump.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Range;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{
    ChatItem, ChatMessage, InputSchema, Metadata, ModelConfig, Prompt, PromptFormat, PromptId, PromptVersion, Role,
    Template, ToolCall, VariableSpec, VariableType,
};
use serde::Serialize;
use serde_json::Value;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::scan::heuristic_variables;
use crate::text::{TextChange, diff_text};

/// The structural difference between two prompts (or two versions of one prompt).
///
/// Every part is empty when the two sides agree on it; [`PromptDiff::is_empty`] says whether
/// anything differs. It serializes to JSON for the CLI and the REST API, and its `Display` is a
/// git-like text (without colours).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptDiff {
    /// The old side.
    pub old: DiffSide,
    /// The new side.
    pub new: DiffSide,
    /// The format, when it changed.
    pub format: Option<ValueChange<PromptFormat>>,
    /// The template, when it changed.
    pub template: Option<TemplateDiff>,
    /// The variables the templates read.
    pub variables: VariablesDiff,
    /// The declared input schema.
    pub input_schema: SchemaDiff,
    /// Changed model parameters (`model`, `temperature`, …, `extra.<key>`), in field order.
    pub model_config: Vec<FieldChange>,
    /// Description, tags and free metadata.
    pub metadata: MetadataDiff,
}

impl PromptDiff {
    /// Whether the two sides have the same content as far as the diff can tell.
    ///
    /// Only the content counts: two prompts with different ids or versions but equal content
    /// make an empty diff.
    pub fn is_empty(&self) -> bool {
        self.format.is_none()
            && self.template.is_none()
            && self.variables.is_empty()
            && self.input_schema.is_empty()
            && self.model_config.is_empty()
            && self.metadata.is_empty()
    }
}

/// Which prompt (and version, when known) one side of a diff is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffSide {
    /// The prompt id.
    pub id: PromptId,
    /// The version, when the diff was made from versions.
    pub version: Option<Version>,
}

impl DiffSide {
    /// `id@version`, or the id alone when the version is unknown.
    pub fn reference(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.id),
            None => self.id.to_string(),
        }
    }
}

/// An old and a new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueChange<T> {
    /// Before.
    pub old: T,
    /// After.
    pub new: T,
}

impl<T: PartialEq> ValueChange<T> {
    /// `Some` when the values differ.
    pub fn between(old: T, new: T) -> Option<Self> {
        (old != new).then_some(ValueChange { old, new })
    }
}

/// A changed field of a map-like part (model config, free metadata) as JSON values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field: `temperature`, `extra.seed`, or a metadata key.
    pub field: String,
    /// The old value; absent when it was not set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The new value; absent when it is no longer set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// How a template changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateDiff {
    /// Both are text templates: a line diff.
    Text(TextChange),
    /// Both are chat templates: the changed entries.
    Chat(ChatDiff),
    /// A text template became a chat template or the reverse.
    Replaced {
        /// The old template.
        old: Template,
        /// The new template.
        new: Template,
    },
}

/// The changed entries of a chat template, in template order.
///
/// Positions are 1-based and count every entry (messages and placeholders), as in validation
/// errors. Entries are matched with a sequence diff over whole entries; identical entries left
/// over on both sides are moves; within a changed stretch, the rest are paired in order,
/// preferring placeholders of the same variable and messages of the same role or similar wording
/// (a role change); what does not pair was added or removed. Unchanged entries are left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatDiff {
    /// The changes.
    pub entries: Vec<EntryChange>,
}

/// One changed entry of a chat template.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum EntryChange {
    /// A message or placeholder that only the new template has.
    Added {
        /// Its position in the new template.
        position: usize,
        /// The entry.
        item: ChatItem,
    },
    /// A message or placeholder that only the old template has.
    Removed {
        /// Its position in the old template.
        position: usize,
        /// The entry.
        item: ChatItem,
    },
    /// An unchanged message or placeholder at another position.
    Moved {
        /// Its position in the old template.
        old_position: usize,
        /// Its position in the new template.
        new_position: usize,
        /// The entry.
        item: ChatItem,
    },
    /// A message whose role, name, content or tool fields changed.
    Message(MessageChange),
    /// A placeholder that became optional or required.
    Placeholder(PlaceholderChange),
}

/// A message present in both templates with a different role, name, content or tool fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageChange {
    /// Its position in the old template.
    pub old_position: usize,
    /// Its position in the new template.
    pub new_position: usize,
    /// Its role in the new template.
    pub role: Role,
    /// The role, when it changed.
    pub role_change: Option<ValueChange<Role>>,
    /// The participant name, when it changed.
    pub name_change: Option<ValueChange<Option<String>>>,
    /// The content's line diff, when it changed.
    pub content: Option<TextChange>,
    /// The tool calls (of an assistant message), when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls_change: Option<ValueChange<Vec<ToolCall>>>,
    /// The id of the tool call a tool message answers, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id_change: Option<ValueChange<Option<String>>>,
}

/// A placeholder present in both templates whose `optional` flag changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaceholderChange {
    /// Its position in the old template.
    pub old_position: usize,
    /// Its position in the new template.
    pub new_position: usize,
    /// The variable it expands.
    pub variable: String,
    /// The `optional` flag.
    pub optional: ValueChange<bool>,
}

/// Where the variable sets of a diff came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VariableSource {
    /// Given by the caller, normally from the template engine ([`diff_with_variables`]).
    Given,
    /// Guessed by [`heuristic_variables`](crate::heuristic_variables) ([`diff`], [`diff_prompts`]).
    Heuristic,
}

/// Template variables that appeared or disappeared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariablesDiff {
    /// Whether the sets were given or guessed.
    pub source: VariableSource,
    /// Variables only the new templates read, sorted.
    pub added: Vec<String>,
    /// Variables only the old templates read, sorted.
    pub removed: Vec<String>,
}

impl VariablesDiff {
    /// Whether the variable sets are equal.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// How the declared input schema changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SchemaDiff {
    /// Newly declared variables, in declaration order.
    pub added: Vec<VariableSpec>,
    /// Variables no longer declared, in old declaration order.
    pub removed: Vec<VariableSpec>,
    /// Variables declared on both sides with a different declaration, in new declaration order.
    pub changed: Vec<SpecChange>,
    /// Whether the declarations kept on both sides appear in another order.
    pub reordered: bool,
}

impl SchemaDiff {
    /// Whether the schemas declare the same variables the same way, in the same order.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() && !self.reordered
    }
}

/// The changed parts of one variable declaration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecChange {
    /// The variable.
    pub name: String,
    /// The type, when it changed (serialized as `type`, as in a declaration).
    #[serde(rename = "type")]
    pub kind: Option<ValueChange<VariableType>>,
    /// Whether it is required, when that changed.
    pub required: Option<ValueChange<bool>>,
    /// The default, when it changed.
    pub default: Option<ValueChange<Option<Value>>>,
    /// The description, when it changed.
    pub description: Option<ValueChange<Option<String>>>,
}

impl SpecChange {
    /// Whether a change reaches callers (type, required or default), not only the description.
    pub fn changes_contract(&self) -> bool {
        self.kind.is_some() || self.required.is_some() || self.default.is_some()
    }
}

/// How the metadata changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetadataDiff {
    /// The description, when it changed.
    pub description: Option<ValueChange<Option<String>>>,
    /// Tags only the new side has, sorted.
    pub tags_added: Vec<String>,
    /// Tags only the old side has, sorted.
    pub tags_removed: Vec<String>,
    /// Changed free metadata keys, sorted.
    pub extra: Vec<FieldChange>,
}

impl MetadataDiff {
    /// Whether the metadata is the same.
    pub fn is_empty(&self) -> bool {
        self.description.is_none()
            && self.tags_added.is_empty()
            && self.tags_removed.is_empty()
            && self.extra.is_empty()
    }
}

/// The diff of two versions. Template variables are guessed with
/// [`heuristic_variables`](crate::heuristic_variables); prefer [`diff_versions_with_variables`]
/// when the template engine can say which variables each version reads.
pub fn diff(old: &PromptVersion, new: &PromptVersion) -> PromptDiff {
    let mut d = diff_prompts(&old.prompt, &new.prompt);
    d.old.version = Some(old.version.clone());
    d.new.version = Some(new.version.clone());
    d
}

/// The diff of two prompts. Template variables are guessed with
/// [`heuristic_variables`](crate::heuristic_variables); prefer [`diff_with_variables`] when the
/// template engine can say which variables each prompt reads.
pub fn diff_prompts(old: &Prompt, new: &Prompt) -> PromptDiff {
    let old_vars = heuristic_variables(&old.template);
    let new_vars = heuristic_variables(&new.template);
    build(old, new, &old_vars, &new_vars, VariableSource::Heuristic)
}

/// The diff of two prompts with the variables each one's templates read, as the template engine
/// reports them (include placeholder variables, as `extract_variables` plus placeholders does).
pub fn diff_with_variables(
    old: &Prompt,
    new: &Prompt,
    old_vars: &BTreeSet<String>,
    new_vars: &BTreeSet<String>,
) -> PromptDiff {
    build(old, new, old_vars, new_vars, VariableSource::Given)
}

/// [`diff_with_variables`] for two versions: the diff also names the versions.
pub fn diff_versions_with_variables(
    old: &PromptVersion,
    new: &PromptVersion,
    old_vars: &BTreeSet<String>,
    new_vars: &BTreeSet<String>,
) -> PromptDiff {
    let mut d = diff_with_variables(&old.prompt, &new.prompt, old_vars, new_vars);
    d.old.version = Some(old.version.clone());
    d.new.version = Some(new.version.clone());
    d
}

fn build(
    old: &Prompt,
    new: &Prompt,
    old_vars: &BTreeSet<String>,
    new_vars: &BTreeSet<String>,
    source: VariableSource,
) -> PromptDiff {
    PromptDiff {
        old: DiffSide {
            id: old.id.clone(),
            version: None,
        },
        new: DiffSide {
            id: new.id.clone(),
            version: None,
        },
        format: ValueChange::between(old.format, new.format),
        template: diff_template(&old.template, &new.template),
        variables: VariablesDiff {
            source,
            added: new_vars.difference(old_vars).cloned().collect(),
            removed: old_vars.difference(new_vars).cloned().collect(),
        },
        input_schema: diff_schema(&old.input_schema, &new.input_schema),
        model_config: diff_model_config(&old.model_config, &new.model_config),
        metadata: diff_metadata(&old.metadata, &new.metadata),
    }
}

fn diff_template(old: &Template, new: &Template) -> Option<TemplateDiff> {
    if old == new {
        return None;
    }
    match (old, new) {
        (Template::Text(a), Template::Text(b)) => diff_text(a, b).map(TemplateDiff::Text),
        (Template::Chat(a), Template::Chat(b)) => Some(TemplateDiff::Chat(diff_chat(a, b))),
        _ => Some(TemplateDiff::Replaced {
            old: old.clone(),
            new: new.clone(),
        }),
    }
}

/// What identifies an entry exactly (first pass) — everything it holds: placeholder or
/// message, role or variable, content, name, optional flag, tool call id, tool calls (as JSON).
type FullKey<'a> = (bool, &'a str, &'a str, Option<&'a str>, bool, Option<&'a str>, String);

fn full_key(item: &ChatItem) -> FullKey<'_> {
    match item {
        ChatItem::Message(m) => (
            false,
            m.role.as_str(),
            m.content.as_str(),
            m.name.as_deref(),
            false,
            m.tool_call_id.as_deref(),
            tool_calls_key(&m.tool_calls),
        ),
        ChatItem::Placeholder(p) => (true, p.variable.as_str(), "", None, p.optional, None, String::new()),
    }
}

/// The tool calls as compact JSON (empty for none): equal calls, equal text.
fn tool_calls_key(calls: &[ToolCall]) -> String {
    if calls.is_empty() {
        return String::new();
    }
    // Serializing strings and a JSON value cannot fail; the debug form is a safe stand-in.
    serde_json::to_string(calls).unwrap_or_else(|_| format!("{calls:?}"))
}

/// The diff ops of two entry lists compared as whole entries.
fn diff_entries(old: &[ChatItem], new: &[ChatItem]) -> Vec<DiffOp> {
    let old_keys: Vec<_> = old.iter().map(full_key).collect();
    let new_keys: Vec<_> = new.iter().map(full_key).collect();
    capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys)
}

/// Calls `f(old_range, new_range, equal)` for each maximal stretch of equal or changed entries.
fn for_each_stretch(ops: &[DiffOp], mut f: impl FnMut(Range<usize>, Range<usize>, bool)) {
    let mut pending: Option<(Range<usize>, Range<usize>)> = None;
    for op in ops {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == similar::DiffTag::Equal {
            if let Some((o, n)) = pending.take() {
                f(o, n, false);
            }
            f(old, new, true);
        } else {
            pending = Some(match pending.take() {
                Some((o, n)) => (o.start..old.end.max(o.end), n.start..new.end.max(n.end)),
                None => (old, new),
            });
        }
    }
    if let Some((o, n)) = pending {
        f(o, n, false);
    }
}

/// Three passes: a sequence diff over whole entries finds the unchanged ones; identical entries
/// left unmatched on both sides are moves; in each changed stretch, the rest is aligned by
/// [`align`] (same variable, same role, similar wording).
fn diff_chat(old: &[ChatItem], new: &[ChatItem]) -> ChatDiff {
    let ops = diff_entries(old, new);
    let mut stretches = Vec::new();
    for_each_stretch(&ops, |o, n, equal| {
        if !equal {
            stretches.push((o, n));
        }
    });

    // Moves: new index → old index, greedily in order.
    let mut moved_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut moved_old = BTreeSet::new();
    let mut unmatched_old: BTreeMap<_, VecDeque<usize>> = BTreeMap::new();
    for i in stretches.iter().flat_map(|(o, _)| o.clone()) {
        if let Some(item) = old.get(i) {
            unmatched_old.entry(full_key(item)).or_default().push_back(i);
        }
    }
    for j in stretches.iter().flat_map(|(_, n)| n.clone()) {
        let found = new
            .get(j)
            .and_then(|b| unmatched_old.get_mut(&full_key(b)))
            .and_then(VecDeque::pop_front);
        if let Some(i) = found {
            moved_old.insert(i);
            moved_from.insert(j, i);
        }
    }

    let mut entries = Vec::new();
    for (o, n) in stretches {
        for j in n.clone() {
            if let (Some(&i), Some(item)) = (moved_from.get(&j), new.get(j)) {
                entries.push(EntryChange::Moved {
                    old_position: i + 1,
                    new_position: j + 1,
                    item: item.clone(),
                });
            }
        }
        let old_idx: Vec<usize> = o.filter(|i| !moved_old.contains(i)).collect();
        let new_idx: Vec<usize> = n.filter(|j| !moved_from.contains_key(j)).collect();
        diff_chat_stretch(old, &old_idx, new, &new_idx, &mut entries);
    }
    ChatDiff { entries }
}

/// Above this many candidate pairs in one stretch, similarity is not computed (roles only), so
/// a pathological template costs no more than a few thousand comparisons.
const MAX_SIMILARITY_PAIRS: usize = 4096;

/// Above this many cells the alignment table is not built (about 8 MB).
const MAX_ALIGN_CELLS: usize = 1 << 20;

/// How well old entry `a` matches new entry `b` as "the same entry, edited"; `None` when they
/// should not pair. Placeholders pair on the same variable; messages on the same role or on
/// similar wording (a role change).
fn pair_weight(a: &ChatItem, b: &ChatItem, with_similarity: bool) -> Option<f64> {
    match (a, b) {
        (ChatItem::Placeholder(a), ChatItem::Placeholder(b)) => (a.variable == b.variable).then_some(2.0),
        (ChatItem::Message(a), ChatItem::Message(b)) => {
            let same_role = a.role == b.role;
            let similarity = if with_similarity {
                f64::from(similar::TextDiff::from_words(a.content.as_str(), b.content.as_str()).ratio())
            } else {
                0.0
            };
            (same_role || similarity >= 0.5).then_some(1.0 + similarity + if same_role { 0.5 } else { 0.0 })
        }
        _ => None,
    }
}

/// The order-preserving pairing of a changed stretch with the largest total weight (a weighted
/// longest common subsequence), as pairs of indices into `old_idx` and `new_idx`.
fn align(old: &[ChatItem], old_idx: &[usize], new: &[ChatItem], new_idx: &[usize]) -> Vec<(usize, usize)> {
    let (p, q) = (old_idx.len(), new_idx.len());
    let with_similarity = p.saturating_mul(q) <= MAX_SIMILARITY_PAIRS;
    let weight = |x: usize, y: usize| match (
        old_idx.get(x).and_then(|&i| old.get(i)),
        new_idx.get(y).and_then(|&j| new.get(j)),
    ) {
        (Some(a), Some(b)) => pair_weight(a, b, with_similarity),
        _ => None,
    };
    if p.saturating_mul(q) > MAX_ALIGN_CELLS {
        // Too large to align: pair in order where entries may pair at all.
        return (0..p.min(q))
            .filter(|&k| weight(k, k).is_some())
            .map(|k| (k, k))
            .collect();
    }
    // best[x][y]: the best total for old_idx[x..] and new_idx[y..].
    let mut best = vec![vec![0.0_f64; q + 1]; p + 1];
    for x in (0..p).rev() {
        for y in (0..q).rev() {
            let skip = best[x + 1][y].max(best[x][y + 1]);
            best[x][y] = match weight(x, y) {
                Some(w) => skip.max(w + best[x + 1][y + 1]),
                None => skip,
            };
        }
    }
    let mut pairs = Vec::new();
    let (mut x, mut y) = (0, 0);
    while x < p && y < q {
        match weight(x, y) {
            Some(w) if best[x][y] == w + best[x + 1][y + 1] => {
                pairs.push((x, y));
                x += 1;
                y += 1;
            }
            _ if best[x][y] == best[x + 1][y] => x += 1,
            _ => y += 1,
        }
    }
    pairs
}

/// Emits the changes of one changed stretch in template order: for each aligned pair, the entries
/// removed and added before it, then the pair itself.
fn diff_chat_stretch(
    old: &[ChatItem],
    old_idx: &[usize],
    new: &[ChatItem],
    new_idx: &[usize],
    out: &mut Vec<EntryChange>,
) {
    let (mut x, mut y) = (0, 0);
    let pairs = align(old, old_idx, new, new_idx);
    // A final `None` flushes what is left after the last pair.
    for next in pairs.into_iter().map(Some).chain([None]) {
        let (x_end, y_end) = next.unwrap_or((old_idx.len(), new_idx.len()));
        for &i in old_idx.get(x..x_end).unwrap_or_default() {
            if let Some(item) = old.get(i) {
                out.push(EntryChange::Removed {
                    position: i + 1,
                    item: item.clone(),
                });
            }
        }
        for &j in new_idx.get(y..y_end).unwrap_or_default() {
            if let Some(item) = new.get(j) {
                out.push(EntryChange::Added {
                    position: j + 1,
                    item: item.clone(),
                });
            }
        }
        if next.is_some()
            && let (Some(&i), Some(&j)) = (old_idx.get(x_end), new_idx.get(y_end))
            && let (Some(a), Some(b)) = (old.get(i), new.get(j))
        {
            pair(i, a, j, b, out);
        }
        (x, y) = (x_end + 1, y_end + 1);
    }
}

/// Records how entry `i` of the old template became entry `j` of the new one, if it changed.
fn pair(i: usize, a: &ChatItem, j: usize, b: &ChatItem, out: &mut Vec<EntryChange>) {
    if a == b {
        return;
    }
    match (a, b) {
        (ChatItem::Message(a), ChatItem::Message(b)) => out.push(EntryChange::Message(message_change(i, a, j, b))),
        (ChatItem::Placeholder(a), ChatItem::Placeholder(b)) if a.variable == b.variable => {
            if let Some(optional) = ValueChange::between(a.optional, b.optional) {
                out.push(EntryChange::Placeholder(PlaceholderChange {
                    old_position: i + 1,
                    new_position: j + 1,
                    variable: b.variable.clone(),
                    optional,
                }));
            }
        }
        _ => {
            out.push(EntryChange::Removed {
                position: i + 1,
                item: a.clone(),
            });
            out.push(EntryChange::Added {
                position: j + 1,
                item: b.clone(),
            });
        }
    }
}

fn message_change(i: usize, a: &ChatMessage, j: usize, b: &ChatMessage) -> MessageChange {
    MessageChange {
        old_position: i + 1,
        new_position: j + 1,
        role: b.role,
        role_change: ValueChange::between(a.role, b.role),
        name_change: ValueChange::between(a.name.clone(), b.name.clone()),
        content: diff_text(&a.content, &b.content),
        tool_calls_change: ValueChange::between(a.tool_calls.clone(), b.tool_calls.clone()),
        tool_call_id_change: ValueChange::between(a.tool_call_id.clone(), b.tool_call_id.clone()),
    }
}

fn diff_schema(old: &InputSchema, new: &InputSchema) -> SchemaDiff {
    let mut out = SchemaDiff::default();
    for spec in &old.variables {
        if new.get(&spec.name).is_none() {
            out.removed.push(spec.clone());
        }
    }
    for spec in &new.variables {
        match old.get(&spec.name) {
            None => out.added.push(spec.clone()),
            Some(before) if before != spec => out.changed.push(SpecChange {
                name: spec.name.clone(),
                kind: ValueChange::between(before.kind, spec.kind),
                required: ValueChange::between(before.required, spec.required),
                default: ValueChange::between(before.default.clone(), spec.default.clone()),
                description: ValueChange::between(before.description.clone(), spec.description.clone()),
            }),
            Some(_) => {}
        }
    }
    let kept_old = old
        .variables
        .iter()
        .filter(|v| new.get(&v.name).is_some())
        .map(|v| &v.name);
    let kept_new = new
        .variables
        .iter()
        .filter(|v| old.get(&v.name).is_some())
        .map(|v| &v.name);
    out.reordered = !kept_old.eq(kept_new);
    out
}

fn config_fields(c: &ModelConfig) -> [(&'static str, Option<Value>); 7] {
    let list = |v: Vec<Value>| (!v.is_empty()).then_some(Value::Array(v));
    [
        ("model", c.model.clone().map(Value::from)),
        ("temperature", c.temperature.map(Value::from)),
        ("max_tokens", c.max_tokens.map(Value::from)),
        ("top_p", c.top_p.map(Value::from)),
        ("stop", list(c.stop.iter().cloned().map(Value::from).collect())),
        ("tools", list(c.tools.clone())),
        ("response_format", c.response_format.clone()),
    ]
}

fn diff_model_config(old: &ModelConfig, new: &ModelConfig) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for ((field, a), (_, b)) in config_fields(old).into_iter().zip(config_fields(new)) {
        if a != b {
            out.push(FieldChange {
                field: field.to_owned(),
                old: a,
                new: b,
            });
        }
    }
    out.extend(diff_map(&old.extra, &new.extra, "extra."));
    out
}

fn diff_map(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>, prefix: &str) -> Vec<FieldChange> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (a, b) = (old.get(k), new.get(k));
            (a != b).then(|| FieldChange {
                field: format!("{prefix}{k}"),
                old: a.cloned(),
                new: b.cloned(),
            })
        })
        .collect()
}

fn diff_metadata(old: &Metadata, new: &Metadata) -> MetadataDiff {
    MetadataDiff {
        description: ValueChange::between(old.description.clone(), new.description.clone()),
        tags_added: new.tags.difference(&old.tags).cloned().collect(),
        tags_removed: old.tags.difference(&new.tags).cloned().collect(),
        extra: diff_map(&old.extra, &new.extra, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_manager_core::MessagePlaceholder;

    fn chat(items: Vec<ChatItem>) -> Prompt {
        Prompt::chat("t", items).expect("valid id")
    }

    fn summary(d: &PromptDiff) -> Vec<String> {
        let Some(TemplateDiff::Chat(c)) = &d.template else {
            return vec![];
        };
        c.entries
            .iter()
            .map(|e| match e {
                EntryChange::Added { position, .. } => format!("+{position}"),
                EntryChange::Removed { position, .. } => format!("-{position}"),
                EntryChange::Moved {
                    old_position,
                    new_position,
                    ..
                } => format!("{old_position}>{new_position}"),
                EntryChange::Message(m) => format!(
                    "~{}/{}{}{}",
                    m.old_position,
                    m.new_position,
                    if m.role_change.is_some() { " role" } else { "" },
                    if m.content.is_some() { " content" } else { "" }
                ),
                EntryChange::Placeholder(p) => format!("?{}", p.new_position),
            })
            .collect()
    }

    #[test]
    fn identical_prompts_make_an_empty_diff() {
        let p = chat(vec![ChatItem::message(Role::User, "{{ q }}")]);
        let d = diff_prompts(&p, &p);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.variables.source, VariableSource::Heuristic);
    }

    #[test]
    fn chat_entries_match_by_content_then_role_then_position() {
        let old = chat(vec![
            ChatItem::message(Role::System, "A"),
            ChatItem::message(Role::User, "Q"),
        ]);
        // Changed system message, inserted placeholder, unchanged user message, appended message.
        let new = chat(vec![
            ChatItem::message(Role::System, "A2"),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "Q"),
            ChatItem::message(Role::User, "R"),
        ]);
        assert_eq!(summary(&diff_prompts(&old, &new)), ["~1/1 content", "+2", "+4"]);

        // A removed first message does not make every later message "changed".
        let old = chat(vec![
            ChatItem::message(Role::System, "S"),
            ChatItem::message(Role::User, "U"),
            ChatItem::message(Role::Assistant, "A"),
        ]);
        let new = chat(vec![
            ChatItem::message(Role::User, "U"),
            ChatItem::message(Role::Assistant, "A"),
        ]);
        assert_eq!(summary(&diff_prompts(&old, &new)), ["-1"]);

        // A role change pairs when the wording is similar; a different role and text is another message.
        let old = chat(vec![ChatItem::message(Role::User, "Summarise the ticket")]);
        let new = chat(vec![ChatItem::message(Role::Assistant, "Summarise the ticket.")]);
        assert_eq!(summary(&diff_prompts(&old, &new)), ["~1/1 role content"]);
        let new = chat(vec![ChatItem::message(Role::Assistant, "Sure.")]);
        assert_eq!(summary(&diff_prompts(&old, &new)), ["-1", "+1"]);

        // Within a changed stretch, wording decides between messages of the same role.
        let old = chat(vec![
            ChatItem::message(Role::System, "Sys"),
            ChatItem::message(Role::User, "Q1"),
            ChatItem::message(Role::Assistant, "A1"),
            ChatItem::placeholder("history"),
            ChatItem::message(Role::User, "{{ q }}"),
        ]);
        let new = chat(vec![
            ChatItem::message(Role::User, "Q1"),
            ChatItem::message(Role::System, "Sys"),
            ChatItem::message(Role::User, "A1 changed"),
            ChatItem::message(Role::User, "{{ q }}\nThanks"),
        ]);
        assert_eq!(
            summary(&diff_prompts(&old, &new)),
            ["1>2", "~3/3 role content", "-4", "~5/4 content"]
        );
    }

    #[test]
    fn swapped_messages_are_moves_and_placeholder_flags_are_changes() {
        let a = ChatItem::message(Role::System, "S");
        let b = ChatItem::message(Role::User, "U");
        let d = diff_prompts(&chat(vec![a.clone(), b.clone()]), &chat(vec![b, a]));
        let s = summary(&d);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0] == "1>2" || s[0] == "2>1", "{s:?}");

        let required = ChatItem::placeholder("h");
        let optional = ChatItem::Placeholder(MessagePlaceholder {
            variable: "h".into(),
            optional: true,
        });
        let d = diff_prompts(&chat(vec![required]), &chat(vec![optional]));
        assert_eq!(summary(&d), ["?1"]);
        assert!(d.variables.is_empty());
    }

    #[test]
    fn huge_chat_templates_stay_bounded() {
        let items = |tag: &str| -> Vec<ChatItem> {
            (0..1500)
                .map(|i| {
                    ChatItem::message(
                        if i % 2 == 0 { Role::User } else { Role::Assistant },
                        format!("{tag} {i}"),
                    )
                })
                .collect()
        };
        let d = diff_prompts(&chat(items("old")), &chat(items("new")));
        let s = summary(&d);
        assert_eq!(s.len(), 1500);
        assert!(s.iter().all(|e| e.ends_with(" content")), "{:?}", &s[..3]);
    }

    #[test]
    fn placeholders_with_other_variables_do_not_pair() {
        let d = diff_prompts(
            &chat(vec![ChatItem::placeholder("a")]),
            &chat(vec![ChatItem::placeholder("b")]),
        );
        assert_eq!(summary(&d), ["-1", "+1"]);
        assert_eq!(d.variables.added, ["b"]);
        assert_eq!(d.variables.removed, ["a"]);
    }

    #[test]
    fn text_to_chat_is_a_replacement_and_a_format_change() {
        let old = Prompt::text("t", "hi").expect("valid");
        let new = chat(vec![ChatItem::message(Role::User, "hi")]);
        let d = diff_prompts(&old, &new);
        assert!(matches!(d.template, Some(TemplateDiff::Replaced { .. })));
        assert_eq!(
            d.format,
            Some(ValueChange {
                old: PromptFormat::Text,
                new: PromptFormat::Chat
            })
        );
    }

    #[test]
    fn config_schema_and_metadata_fields() {
        let old = Prompt::text("t", "x")
            .expect("valid")
            .with_tags(["a", "b"])
            .with_variable(VariableSpec::new("keep", VariableType::String))
            .with_variable(VariableSpec::new("gone", VariableType::String))
            .with_model_config(ModelConfig {
                temperature: Some(0.2),
                stop: vec!["END".into()],
                ..ModelConfig::default()
            });
        let mut new = Prompt::text("t", "x")
            .expect("valid")
            .with_tags(["b", "c"])
            .with_variable(VariableSpec::new("keep", VariableType::Number).optional())
            .with_variable(VariableSpec::new("fresh", VariableType::Any))
            .with_model_config(ModelConfig {
                temperature: Some(0.7),
                ..ModelConfig::default()
            });
        new.model_config.extra.insert("seed".into(), Value::from(7));
        new.metadata.extra.insert("owner".into(), Value::from("ml"));
        let d = diff_prompts(&old, &new);
        let fields: Vec<&str> = d.model_config.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["temperature", "stop", "extra.seed"]);
        assert_eq!(d.model_config[1].new, None);
        assert_eq!(d.input_schema.added[0].name, "fresh");
        assert_eq!(d.input_schema.removed[0].name, "gone");
        let change = &d.input_schema.changed[0];
        assert!(change.changes_contract() && change.kind.is_some() && change.required.is_some());
        assert!(!d.input_schema.reordered);
        assert_eq!(d.metadata.tags_added, ["c"]);
        assert_eq!(d.metadata.tags_removed, ["a"]);
        assert_eq!(d.metadata.extra[0].field, "owner");
        assert!(d.template.is_none() && d.format.is_none() && d.variables.is_empty());
    }

    #[test]
    fn schema_reordering_is_noticed() {
        let a = VariableSpec::new("a", VariableType::Any);
        let b = VariableSpec::new("b", VariableType::Any);
        let old = Prompt::text("t", "x")
            .expect("valid")
            .with_variable(a.clone())
            .with_variable(b.clone());
        let new = Prompt::text("t", "x").expect("valid").with_variable(b).with_variable(a);
        let d = diff_prompts(&old, &new);
        assert!(d.input_schema.reordered && !d.is_empty());
    }

    #[test]
    fn given_variables_are_used_as_they_are() {
        let p = Prompt::text("t", "{{ a }}").expect("valid");
        let old: BTreeSet<String> = ["a".to_owned()].into();
        let new: BTreeSet<String> = ["a".to_owned(), "z".to_owned()].into();
        let d = diff_with_variables(&p, &p, &old, &new);
        assert_eq!(d.variables.source, VariableSource::Given);
        assert_eq!(d.variables.added, ["z"]);
        assert!(!d.is_empty());
    }

    #[test]
    fn non_finite_numbers_do_not_panic() {
        let old = Prompt::text("t", "x").expect("valid").with_model_config(ModelConfig {
            temperature: Some(f64::NAN),
            ..ModelConfig::default()
        });
        let d = diff_prompts(&old, &old);
        assert!(d.is_empty());
        let _ = d.to_string();
    }
}
