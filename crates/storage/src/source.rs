//! Prompt files as tools read them to point at a place in them (the `prompt-manager lint`
//! checker): a YAML document as a tree of nodes with their line and column ([`parse_tree`]),
//! and the typed parsers of each kind of prompt file, whose errors carry the position of the
//! offending node — the same parsers the stores and the importer use, exposed one file at a time.
//!
//! Nothing here reads the disk or writes anything; callers hand in the text and a file name for
//! messages.

use std::collections::BTreeMap;

use prompt_manager_core::semver::Version;
use prompt_manager_core::{LabelName, Prompt, Result};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::library::LibraryEntry;
use crate::yaml;

/// One node of a YAML document and where it starts: 1-based line and column; a quoted scalar
/// starts at its quote, a block scalar (`|`, `>`) at the first character of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlNode {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The value.
    pub value: YamlValue,
}

/// The value of a [`YamlNode`].
#[derive(Debug, Clone, PartialEq)]
pub enum YamlValue {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<YamlNode>),
    /// A mapping, in document order, keys with their positions.
    Map(Vec<(YamlNode, YamlNode)>),
}

impl YamlNode {
    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&YamlNode> {
        match &self.value {
            YamlValue::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node of `key` in a mapping (where the key is written).
    pub fn key(&self, key: &str) -> Option<&YamlNode> {
        match &self.value {
            YamlValue::Map(entries) => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, _)| k),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            YamlValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a sequence (empty for anything else).
    pub fn items(&self) -> &[YamlNode] {
        match &self.value {
            YamlValue::Seq(items) => items,
            _ => &[],
        }
    }

    /// Whether this is a mapping.
    pub fn is_map(&self) -> bool {
        matches!(self.value, YamlValue::Map(_))
    }

    /// The value as JSON (keys that are not strings are written as their JSON text).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            YamlValue::Null => Value::Null,
            YamlValue::Bool(b) => Value::Bool(*b),
            YamlValue::Number(n) => Value::Number(n.clone()),
            YamlValue::String(s) => Value::String(s.clone()),
            YamlValue::Seq(items) => Value::Array(items.iter().map(YamlNode::to_json).collect()),
            YamlValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k.to_json() {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }
}

/// Parses a YAML (or JSON) document into a tree of positioned nodes. Syntax errors are
/// `Error::InvalidFile` with the line and column.
pub fn parse_tree(text: &str, file: &str) -> Result<YamlNode> {
    let root: Spanned<Raw> = yaml::parse(text, file)?;
    Ok(node(root))
}

fn node(spanned: Spanned<Raw>) -> YamlNode {
    YamlNode {
        line: spanned.referenced.line() as usize,
        column: spanned.referenced.column() as usize,
        value: spanned.value.0,
    }
}

/// A value whose children carry their spans.
struct Raw(YamlValue);

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Raw, E> {
        Ok(Raw(YamlValue::Null))
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Raw, E> {
        Ok(Raw(YamlValue::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Raw, E> {
        Ok(Raw(YamlValue::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Raw, E> {
        Ok(Raw(YamlValue::Number(v.into())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Raw, E> {
        Ok(Raw(YamlValue::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Raw, E> {
        Ok(Raw(
            serde_json::Number::from_f64(v).map_or_else(|| YamlValue::String(v.to_string()), YamlValue::Number)
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Raw, E> {
        Ok(Raw(YamlValue::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Raw, E> {
        Ok(Raw(YamlValue::String(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(node(item));
        }
        Ok(Raw(YamlValue::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Raw>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((node(key), node(value)));
        }
        Ok(Raw(YamlValue::Map(entries)))
    }
}

/// Parses a file holding one prompt (`id`, `template`, …).
pub fn parse_prompt(text: &str, file: &str) -> Result<Prompt> {
    yaml::parse(text, file)
}

/// Parses a version file of a `dir://` store (`<id>/<semver>.yaml`): its prompt and the version
/// it declares, if any.
pub fn parse_version_file(text: &str, file: &str) -> Result<(Prompt, Option<Version>)> {
    crate::dir::parse_version_file(text, file)
}

/// Parses a `_labels.yaml` of a `dir://` store: its labels and the versions they point to.
pub fn parse_labels_file(text: &str, file: &str) -> Result<BTreeMap<LabelName, Version>> {
    crate::dir::parse_labels_file(text, file)
}

/// Parses the entry of a library (the `index`-th, 0-based, starting at `position`) from its
/// value; errors name the file, the entry and its position, as [`parse_library`](crate::library::parse_library) does.
pub fn parse_library_entry(
    value: serde_json::Value,
    file: &str,
    index: usize,
    position: (usize, usize),
) -> Result<LibraryEntry> {
    crate::library::parse_one_entry(value, file, index, position)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn nodes_know_where_they_are() {
        let text =
            "id: greeting\ntemplate: |\n  Hello {{ name }}\n  Bye\ninput_schema:\n  - name: name\n    type: string\n";
        let root = parse_tree(text, "x.yaml").unwrap();
        let id = root.get("id").unwrap();
        assert_eq!((id.line, id.column), (1, 5));
        let template = root.get("template").unwrap();
        assert_eq!(template.as_str(), Some("Hello {{ name }}\nBye\n"));
        assert_eq!((template.line, template.column), (3, 3), "{template:?}");
        let quoted = parse_tree("template: \"Hi {{ x }}\"\n", "x.yaml").unwrap();
        let quoted = quoted.get("template").unwrap();
        assert_eq!((quoted.line, quoted.column), (1, 11));
        let spec = &root.get("input_schema").unwrap().items()[0];
        let name = spec.get("name").unwrap();
        assert_eq!((name.line, name.column), (6, 11));
        assert_eq!(root.to_json()["input_schema"][0]["type"], "string");
    }

    #[test]
    fn typed_errors_point_at_the_node() {
        let err =
            parse_version_file("prompt:\n  id: a\n  template: hi\n  format: texty\n", "a/1.0.0.yaml").unwrap_err();
        assert!(
            err.to_string().starts_with("a/1.0.0.yaml:4:11: unknown variant"),
            "{err}"
        );
        let err = parse_tree("a: [1,\n", "x.yaml").unwrap_err();
        assert!(err.to_string().starts_with("x.yaml:"), "{err}");
    }
}
