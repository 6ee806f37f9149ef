//! Where a place inside a template lies in its file: templates are YAML or JSON scalars, so a
//! template's line and column are moved by the scalar's own place, and inside quoted scalars
//! walked through escapes and folded line breaks. A [`LineIndex`] per file keeps this
//! constant-time per position on ASCII lines.

use crate::source::YamlNode;

/// Where each line of a file starts, so that a node's line and column become a byte offset
/// without scanning the file from its top: lint asks for thousands of positions in one library,
/// and a scan per position made it quadratic.
#[derive(Default)]
pub(super) struct LineIndex {
    /// Byte offset of each line's first character.
    starts: Vec<usize>,
    /// Whether each line is ASCII, where a column in characters is a column in bytes.
    ascii: Vec<bool>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> Self {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let ascii = starts
            .iter()
            .enumerate()
            .map(|(i, &start)| text[start..starts.get(i + 1).map_or(text.len(), |&end| end)].is_ascii())
            .collect();
        Self { starts, ascii }
    }

    /// The byte offset of 1-based (`line`, `column` in characters), or `None` when the line is
    /// shorter. Constant time on ASCII lines; on others, linear in the column.
    fn offset(&self, text: &str, line: usize, column: usize) -> Option<usize> {
        let (index, column) = (line.saturating_sub(1), column.saturating_sub(1));
        let start = *self.starts.get(index)?;
        let end = self.starts.get(index + 1).map_or(text.len(), |&end| end);
        let content = text[start..end].trim_end_matches('\n').trim_end_matches('\r');
        if self.ascii[index] {
            return (column < content.len()).then_some(start + column);
        }
        content.char_indices().nth(column).map(|(at, _)| start + at)
    }
}

/// Where a position inside a template source lies in the file.
pub(super) fn file_position(
    (text, lines): (&str, &LineIndex),
    node: Option<&YamlNode>,
    fallback: &YamlNode,
    source: &str,
    (line, column): (usize, usize),
) -> (usize, usize) {
    let Some(node) = node else {
        return (fallback.line, fallback.column);
    };
    let start = lines.offset(text, node.line, node.column);
    match start.and_then(|at| text[at..].chars().next()) {
        Some(quote @ ('"' | '\'')) => {
            // `start` is the quote's offset; the scalar's text follows it.
            let after = start.map_or(0, |at| at + 1);
            quoted_position(&text[after..], node, quote == '"', source, (line, column))
        }
        _ if line <= 1 => (node.line, node.column + column.saturating_sub(1)),
        _ => (node.line + line - 1, node.column + column.saturating_sub(1)),
    }
}

/// The file position of a template position inside a quoted scalar (JSON strings, quoted YAML):
/// walks the raw text after the opening quote (`raw`, the file from there on), decoding escapes
/// (`\n`, `\"`, `\u00e9`, `''`) and folded line breaks, until as many characters as precede the
/// position in the template. Reads no further than the position.
fn quoted_position(
    raw: &str,
    node: &YamlNode,
    double: bool,
    source: &str,
    (line, column): (usize, usize),
) -> (usize, usize) {
    let mut want: usize = source
        .split('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count() + 1)
        .sum::<usize>()
        + column.saturating_sub(1);
    let mut raw = RawChars::new(raw, (node.line, node.column + 1));
    let is_blank = |ch: char| ch == ' ' || ch == '\t';
    let mut i = 0;
    while want > 0 {
        let Some(current) = raw.get(i) else { break };
        match current.2 {
            '\\' if double => {
                let digits = match raw.get(i + 1).map(|r| r.2) {
                    Some('x') => 2,
                    Some('u') => 4,
                    Some('U') => 8,
                    Some('\n') => {
                        // An escaped line break joins the lines: nothing is decoded.
                        i += 2;
                        while raw.get(i).is_some_and(|r| is_blank(r.2)) {
                            i += 1;
                        }
                        continue;
                    }
                    _ => 0,
                };
                i += 2 + digits;
                want -= 1;
            }
            '\'' if !double => {
                i += 2;
                want -= 1;
            }
            '\n' => {
                // Folding: one break is a space, n > 1 breaks are n - 1 newlines; indentation goes.
                let mut breaks = 0;
                while raw.get(i).is_some_and(|r| r.2 == '\n') {
                    breaks += 1;
                    i += 1;
                    while raw.get(i).is_some_and(|r| is_blank(r.2)) {
                        i += 1;
                    }
                }
                want = want.saturating_sub(if breaks == 1 { 1 } else { breaks - 1 });
            }
            _ => {
                i += 1;
                want -= 1;
            }
        }
    }
    raw.get(i).map_or((node.line, node.column), |r| (r.0, r.1))
}

/// The characters of a file from some place on, each with its 1-based (line, column), a line
/// break as one `\n` (also for `\r\n`); read as far as they are asked for.
struct RawChars<'t> {
    chars: std::iter::Peekable<std::str::Chars<'t>>,
    at: (usize, usize),
    read: Vec<(usize, usize, char)>,
}

impl<'t> RawChars<'t> {
    fn new(text: &'t str, at: (usize, usize)) -> Self {
        Self {
            chars: text.chars().peekable(),
            at,
            read: Vec::new(),
        }
    }

    fn get(&mut self, i: usize) -> Option<(usize, usize, char)> {
        while self.read.len() <= i {
            let mut ch = self.chars.next()?;
            if ch == '\r' && self.chars.peek() == Some(&'\n') {
                ch = '\n';
                self.chars.next();
            }
            self.read.push((self.at.0, self.at.1, ch));
            self.at = if ch == '\n' {
                (self.at.0 + 1, 1)
            } else {
                (self.at.0, self.at.1 + 1)
            };
        }
        self.read.get(i).copied()
    }
}
