//! The parts of a diff besides the template: the declared input schema ([`SchemaDiff`]), the
//! model config (as [`FieldChange`](super::FieldChange)s in field order) and the metadata
//! ([`MetadataDiff`]).

use std::collections::{BTreeMap, BTreeSet};

use prompt_manager_core::{InputSchema, Metadata, ModelConfig, VariableSpec, VariableType};
use serde::Serialize;
use serde_json::Value;

use super::{FieldChange, ValueChange};

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

pub(super) fn diff_schema(old: &InputSchema, new: &InputSchema) -> SchemaDiff {
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

pub(super) fn diff_model_config(old: &ModelConfig, new: &ModelConfig) -> Vec<FieldChange> {
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

pub(super) fn diff_metadata(old: &Metadata, new: &Metadata) -> MetadataDiff {
    MetadataDiff {
        description: ValueChange::between(old.description.clone(), new.description.clone()),
        tags_added: new.tags.difference(&old.tags).cloned().collect(),
        tags_removed: old.tags.difference(&new.tags).cloned().collect(),
        extra: diff_map(&old.extra, &new.extra, ""),
    }
}

#[cfg(test)]
mod tests {
    use prompt_manager_core::Prompt;

    use super::*;
    use crate::diff::diff_with_minijinja as diff_prompts;

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
}
