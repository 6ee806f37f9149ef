//! How the entries of two chat templates are matched: a sequence diff over whole entries, then
//! moves, then pairing within each changed stretch (placeholders of the same variable, messages
//! of the same role or similar wording), bounded for huge templates. The types it produces
//! ([`ChatDiff`] and its entries) live here too.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Range;

use prompt_manager_core::{ChatItem, ChatMessage, Role, ToolCall};
use serde::Serialize;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use super::ValueChange;
use crate::text::{TextChange, diff_text};

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
pub(super) fn diff_chat(old: &[ChatItem], new: &[ChatItem]) -> ChatDiff {
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

#[cfg(test)]
mod tests {
    use prompt_manager_core::{MessagePlaceholder, Prompt};

    use super::*;
    use crate::diff::diff_with_minijinja as diff_prompts;
    use crate::{PromptDiff, TemplateDiff};

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
}
