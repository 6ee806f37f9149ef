//! Line diffs of template text: unified-style hunks computed with `similar`, and the
//! whitespace-only test that separates a patch from a wording change.

use serde::Serialize;
use similar::{Algorithm, DiffTag, capture_diff_slices, group_diff_ops};

/// Lines of unchanged context kept around each change, as in `diff -u`.
pub const CONTEXT_LINES: usize = 3;

/// The line diff of one template text (a text template, or one chat message's content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextChange {
    /// Groups of changed lines with up to [`CONTEXT_LINES`] lines of context.
    pub hunks: Vec<Hunk>,
    /// Whether the texts are equal once runs of whitespace are collapsed and the ends trimmed.
    pub whitespace_only: bool,
}

/// A group of nearby changes, as in a unified diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hunk {
    /// First old line of the hunk, 1-based (when `old_lines` is 0: the line after which lines were added).
    pub old_start: usize,
    /// How many old lines the hunk covers.
    pub old_lines: usize,
    /// First new line of the hunk, 1-based (when `new_lines` is 0: the line after which lines were removed).
    pub new_start: usize,
    /// How many new lines the hunk covers.
    pub new_lines: usize,
    /// The lines, in order.
    pub lines: Vec<DiffLine>,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// Whether the line is context, added or removed.
    pub tag: LineTag,
    /// The line without its line ending.
    pub text: String,
    /// Set on the last line of a side that lacks a final newline when the other side has one —
    /// the only difference such a line may have from its counterpart.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missing_newline: bool,
}

/// What happened to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LineTag {
    /// Unchanged context.
    Equal,
    /// Added in the new text.
    Insert,
    /// Removed from the old text.
    Delete,
}

impl LineTag {
    /// The unified-diff prefix: `' '`, `'+'` or `'-'`.
    pub fn sign(self) -> char {
        match self {
            LineTag::Equal => ' ',
            LineTag::Insert => '+',
            LineTag::Delete => '-',
        }
    }
}

/// Whether two texts are equal once runs of whitespace are collapsed to one space and the ends trimmed.
pub fn same_ignoring_whitespace(old: &str, new: &str) -> bool {
    old.split_whitespace().eq(new.split_whitespace())
}

/// One line of a text, without its terminator.
struct Line<'a> {
    /// The line without `\n` (a `\r` is kept, so CRLF changes still count as changes).
    key: &'a str,
    /// The last line of a text that lacks a final newline.
    unterminated: bool,
}

fn split_lines(text: &str) -> Vec<Line<'_>> {
    text.split_inclusive('\n')
        .map(|raw| match raw.strip_suffix('\n') {
            Some(key) => Line {
                key,
                unterminated: false,
            },
            None => Line {
                key: raw,
                unterminated: true,
            },
        })
        .collect()
}

/// What a line is compared by: its text, and whether it is an unterminated last line that the
/// other text has a newline after.
fn keys<'a>(lines: &[Line<'a>], newline_differs: bool) -> Vec<(&'a str, bool)> {
    lines
        .iter()
        .map(|l| (l.key, newline_differs && l.unterminated))
        .collect()
}

/// The line diff of two texts, or `None` when they are equal.
///
/// Lines are compared without their terminators, so a last line without a newline matches the
/// same line with one — unless the two texts differ in whether they end with a newline, in which
/// case the unterminated last line shows as changed and is marked `missing_newline`.
pub fn diff_text(old: &str, new: &str) -> Option<TextChange> {
    if old == new {
        return None;
    }
    let newline_differs = old.ends_with('\n') != new.ends_with('\n');
    let old_lines = split_lines(old);
    let new_lines = split_lines(new);
    let (old_keys, new_keys) = (keys(&old_lines, newline_differs), keys(&new_lines, newline_differs));
    let ops = capture_diff_slices(Algorithm::Myers, &old_keys, &new_keys);
    let line = |tag: LineTag, l: &Line<'_>| DiffLine {
        tag,
        text: l.key.strip_suffix('\r').unwrap_or(l.key).to_owned(),
        missing_newline: newline_differs && l.unterminated,
    };
    let mut hunks = Vec::new();
    for group in group_diff_ops(ops, CONTEXT_LINES) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let old_start = first.old_range().start;
        let new_start = first.new_range().start;
        let old_count = last.old_range().end.saturating_sub(old_start);
        let new_count = last.new_range().end.saturating_sub(new_start);
        let mut lines = Vec::new();
        for op in &group {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            if tag == DiffTag::Equal {
                lines.extend(
                    old_lines
                        .get(old_range)
                        .unwrap_or_default()
                        .iter()
                        .map(|l| line(LineTag::Equal, l)),
                );
            } else {
                lines.extend(
                    old_lines
                        .get(old_range)
                        .unwrap_or_default()
                        .iter()
                        .map(|l| line(LineTag::Delete, l)),
                );
                lines.extend(
                    new_lines
                        .get(new_range)
                        .unwrap_or_default()
                        .iter()
                        .map(|l| line(LineTag::Insert, l)),
                );
            }
        }
        hunks.push(Hunk {
            old_start: if old_count == 0 { old_start } else { old_start + 1 },
            old_lines: old_count,
            new_start: if new_count == 0 { new_start } else { new_start + 1 },
            new_lines: new_count,
            lines,
        });
    }
    Some(TextChange {
        hunks,
        whitespace_only: same_ignoring_whitespace(old, new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(change: &TextChange) -> String {
        let mut out = String::new();
        for h in &change.hunks {
            out.push_str(&format!(
                "@{},{} {},{}\n",
                h.old_start, h.old_lines, h.new_start, h.new_lines
            ));
            for l in &h.lines {
                out.push(l.tag.sign());
                out.push_str(&l.text);
                if l.missing_newline {
                    out.push('$');
                }
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert_eq!(diff_text("a\nb", "a\nb"), None);
        assert_eq!(diff_text("", ""), None);
    }

    #[test]
    fn hunks_keep_three_lines_of_context() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
        let new = "1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n";
        let change = diff_text(old, new).expect("differs");
        assert!(!change.whitespace_only);
        assert_eq!(render(&change), "@3,7 3,7\n 3\n 4\n 5\n-6\n+six\n 7\n 8\n 9\n");
    }

    #[test]
    fn far_apart_changes_make_separate_hunks() {
        let old: String = (1..=20).map(|i| format!("{i}\n")).collect();
        let new = old.replace("2\n", "two\n").replace("19\n", "nineteen\n");
        let change = diff_text(&old, &new).expect("differs");
        assert_eq!(change.hunks.len(), 2);
    }

    #[test]
    fn additions_to_empty_text_start_at_zero() {
        let change = diff_text("", "hello").expect("differs");
        assert_eq!(render(&change), "@0,0 1,1\n+hello\n");
    }

    #[test]
    fn a_final_newline_is_whitespace_and_marked() {
        let change = diff_text("a\nb", "a\nb\n").expect("differs");
        assert!(change.whitespace_only);
        assert_eq!(render(&change), "@1,2 1,2\n a\n-b$\n+b\n");
        // Without a trailing-newline difference nothing is marked, and an unterminated last
        // line matches the same line followed by more lines.
        let change = diff_text("a\nb", "a\nc").expect("differs");
        assert_eq!(render(&change), "@1,2 1,2\n a\n-b\n+c\n");
        let change = diff_text("a\nb", "a\nb\nc").expect("differs");
        assert_eq!(render(&change), "@1,2 1,3\n a\n b\n+c\n");
    }

    #[test]
    fn whitespace_only_means_same_words() {
        assert!(same_ignoring_whitespace("a  b\n c ", "a b c"));
        assert!(same_ignoring_whitespace("", " \n\t"));
        assert!(!same_ignoring_whitespace("ab", "a b"));
        assert!(!same_ignoring_whitespace("a b", "a c"));
        assert!(
            diff_text("Hello  {{ name }}\r\n", "Hello {{ name }}")
                .expect("differs")
                .whitespace_only
        );
    }
}
