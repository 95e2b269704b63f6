//! The structured diff between two versions of a flattened config.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::flat::FlatConfig;

/// A key path that only one version has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffEntry {
    pub path: String,
    pub value: Value,
}

/// A key path both versions have, with different values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffChange {
    pub path: String,
    pub old: Value,
    pub new: Value,
}

/// What changed between two versions. Values are the stored (masked) ones, so a changed secret
/// shows as two different fingerprints. `added` and `changed` follow the new version's order,
/// `removed` the old one's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigDiff {
    #[serde(default)]
    pub added: Vec<DiffEntry>,
    #[serde(default)]
    pub removed: Vec<DiffEntry>,
    #[serde(default)]
    pub changed: Vec<DiffChange>,
}

impl ConfigDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// `1 changed, 2 removed`, or `no change`.
    pub fn counts(&self) -> String {
        let mut parts = Vec::new();
        for (n, label) in [
            (self.changed.len(), "changed"),
            (self.added.len(), "added"),
            (self.removed.len(), "removed"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {label}"));
            }
        }
        if parts.is_empty() {
            "no change".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// One line: the counts and the first `max` changes, e.g.
    /// `1 changed: spec.replicas 2 → 3`.
    pub fn summary(&self, max: usize) -> String {
        let mut out = self.counts();
        let mut items: Vec<String> = Vec::new();
        for c in &self.changed {
            items.push(format!("{} {} → {}", c.path, short(&c.old), short(&c.new)));
        }
        for a in &self.added {
            items.push(format!("+{} = {}", a.path, short(&a.value)));
        }
        for r in &self.removed {
            items.push(format!("-{}", r.path));
        }
        if !items.is_empty() && max > 0 {
            let shown: Vec<&str> = items.iter().take(max).map(String::as_str).collect();
            let _ = write!(out, ": {}", shown.join("; "));
            if items.len() > max {
                let _ = write!(out, "; … {} more", items.len() - max);
            }
        }
        out
    }

    /// Several lines, one per key path, `~ path: old → new`, `+ path: value`, `- path: value`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for c in &self.changed {
            let _ = writeln!(out, "~ {}: {} → {}", c.path, short(&c.old), short(&c.new));
        }
        for a in &self.added {
            let _ = writeln!(out, "+ {}: {}", a.path, short(&a.value));
        }
        for r in &self.removed {
            let _ = writeln!(out, "- {}: {}", r.path, short(&r.value));
        }
        out
    }
}

/// A value on one line, cut at 80 characters.
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.replace('\n', "\\n"),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// The changes that turn `old` into `new`.
pub fn diff(old: &FlatConfig, new: &FlatConfig) -> ConfigDiff {
    let mut d = ConfigDiff::default();
    for (path, value) in new.iter() {
        match old.get(path) {
            None => d.added.push(DiffEntry {
                path: path.to_owned(),
                value: value.clone(),
            }),
            Some(o) if o != value => d.changed.push(DiffChange {
                path: path.to_owned(),
                old: o.clone(),
                new: value.clone(),
            }),
            Some(_) => {}
        }
    }
    for (path, value) in old.iter() {
        if new.get(path).is_none() {
            d.removed.push(DiffEntry {
                path: path.to_owned(),
                value: value.clone(),
            });
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(items: &[(&str, Value)]) -> FlatConfig {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn added_removed_changed() {
        let old = flat(&[("a", json!(1)), ("b", json!("x")), ("c", json!(true))]);
        let new = flat(&[("b", json!("y")), ("a", json!(1)), ("d", json!(null))]);
        let d = diff(&old, &new);
        assert_eq!(
            d.changed,
            vec![DiffChange {
                path: "b".into(),
                old: json!("x"),
                new: json!("y")
            }]
        );
        assert_eq!(
            d.added,
            vec![DiffEntry {
                path: "d".into(),
                value: json!(null)
            }]
        );
        assert_eq!(
            d.removed,
            vec![DiffEntry {
                path: "c".into(),
                value: json!(true)
            }]
        );
        assert_eq!(d.counts(), "1 changed, 1 added, 1 removed");
        assert_eq!(
            d.summary(2),
            "1 changed, 1 added, 1 removed: b x → y; +d = null; … 1 more"
        );
        assert!(diff(&old, &old).is_empty());
        assert_eq!(diff(&old, &old).summary(3), "no change");
        let back: ConfigDiff = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }
}
