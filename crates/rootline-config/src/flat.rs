//! The flattened form of a config: an ordered list of key paths
//! (`spec.template.spec.containers[0].image`) with JSON scalar values, secrets already masked.

use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::secrets;

/// Key paths in document order, each with a JSON scalar (string, number, bool, null). An empty
/// mapping or list is kept as the value `{}` or `[]`, so that it is not lost. Serialises as a
/// JSON object whose keys keep this order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlatConfig {
    entries: Vec<(String, Value)>,
    /// Position of each path in `entries`.
    index: HashMap<String, usize>,
}

impl FlatConfig {
    pub fn new() -> FlatConfig {
        FlatConfig::default()
    }

    /// Sets `path` to `value`: in place when the path exists (a later duplicate wins, as in
    /// most config loaders), else at the end.
    pub fn insert(&mut self, path: String, value: Value) {
        if let Some(&i) = self.index.get(&path) {
            self.entries[i].1 = value;
        } else {
            self.index.insert(path.clone(), self.entries.len());
            self.entries.push((path, value));
        }
    }

    pub fn get(&self, path: &str) -> Option<&Value> {
        self.index.get(path).map(|&i| &self.entries[i].1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in document order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Value)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// SHA-256 (hex) over the entries sorted by path: the same settings in another order hash
    /// the same, and a masked secret that changed hashes differently (its fingerprint changed).
    pub fn content_hash(&self) -> String {
        let mut sorted: Vec<&(String, Value)> = self.entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut h = Sha256::new();
        for (k, v) in sorted {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.to_string().as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }
}

impl FromIterator<(String, Value)> for FlatConfig {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut f = FlatConfig::new();
        for (k, v) in iter {
            f.insert(k, v);
        }
        f
    }
}

impl Serialize for FlatConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for FlatConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlatConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a json object of key paths to scalar values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FlatConfig, A::Error> {
                let mut out = FlatConfig::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.insert(k, v);
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A parsed structured document with its mapping order kept (serde_json's and toml's own maps
/// would sort keys).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Scalar(Value),
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
}

impl Node {
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// TOML datetimes arrive through serde as a one-entry map under this key.
const TOML_DATETIME_FIELD: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any config value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                // NaN and infinities have no JSON number: keep them as text.
                Ok(Node::Scalar(serde_json::Number::from_f64(v).map_or_else(
                    || Value::String(v.to_string()),
                    Value::Number,
                )))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Scalar(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = seq.next_element::<Node>()? {
                    items.push(n);
                }
                Ok(Node::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries: Vec<(String, Node)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Node>()? {
                    if k == TOML_DATETIME_FIELD {
                        return Ok(v);
                    }
                    if let Some(slot) = entries.iter_mut().find(|(e, _)| *e == k) {
                        slot.1 = v;
                    } else {
                        entries.push((k, v));
                    }
                }
                Ok(Node::Map(entries))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One step of a key path, rendered as `.key` (or `["odd key"]`) and `[i]`.
pub(crate) fn push_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '.' | '[' | ']' | '"' | ':'));
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

/// How secret a subtree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secrecy {
    /// Mask only what looks secret by its own key or value.
    No,
    /// Under a secret-looking key: mask every leaf, except under keys that only describe the
    /// secret (`secretName`, `password_file`).
    Inherited,
    /// Mask every leaf whatever its key (a Kubernetes `Secret`'s `data`).
    All,
}

/// Flattens `node` under `path` into `out`, masking secrets: every leaf whose key (or an
/// ancestor's key) looks secret, the `value` next to a `name` that looks secret (Kubernetes
/// `env` lists), and values that look like secrets whatever their key.
pub(crate) fn flatten(node: &Node, path: &str, secrecy: Secrecy, out: &mut FlatConfig) {
    match node {
        Node::Scalar(v) => out.insert(path.to_owned(), masked_scalar(v, secrecy != Secrecy::No)),
        Node::List(items) if items.is_empty() => out.insert(path.to_owned(), Value::Array(vec![])),
        Node::Map(entries) if entries.is_empty() => {
            out.insert(path.to_owned(), Value::Object(Default::default()))
        }
        Node::List(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(item, &format!("{path}[{i}]"), secrecy, out);
            }
        }
        Node::Map(entries) => {
            // `{name: DB_PASSWORD, value: …}`: the name says the value is a secret.
            let named_secret = node
                .get("name")
                .and_then(Node::as_str)
                .is_some_and(|n| secrets::is_secret_key(n, true));
            for (k, v) in entries {
                let child = child_secrecy(secrecy, k, named_secret && k == "value");
                flatten(v, &push_key(path, k), child, out);
            }
        }
    }
}

/// The secrecy of the value under key `key` in a subtree of secrecy `parent`.
pub(crate) fn child_secrecy(parent: Secrecy, key: &str, named_secret: bool) -> Secrecy {
    if parent == Secrecy::All {
        Secrecy::All
    } else if secrets::is_descriptive_key(key) {
        Secrecy::No
    } else if parent == Secrecy::Inherited || named_secret || secrets::is_secret_key(key, false) {
        Secrecy::Inherited
    } else {
        Secrecy::No
    }
}

/// A leaf value, masked when its key is secret or its text looks like a secret. Booleans, nulls
/// and empty strings carry nothing to hide and are kept.
pub(crate) fn masked_scalar(v: &Value, secret: bool) -> Value {
    match v {
        Value::String(s) if s.is_empty() || secrets::is_mask(s) => v.clone(),
        Value::String(s) if secret => Value::String(secrets::mask(s)),
        Value::String(s) => secrets::mask_text(s).map_or_else(|| v.clone(), Value::String),
        Value::Number(n) if secret => Value::String(secrets::mask(&n.to_string())),
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_with_dots_are_quoted() {
        assert_eq!(push_key("", "spec"), "spec");
        assert_eq!(push_key("spec", "replicas"), "spec.replicas");
        assert_eq!(
            push_key("metadata.annotations", "kubernetes.io/ingress.class"),
            r#"metadata.annotations["kubernetes.io/ingress.class"]"#
        );
        assert_eq!(push_key("a", ""), r#"a[""]"#);
    }

    #[test]
    fn order_is_kept_through_json_and_hash_ignores_it() {
        let a: FlatConfig = [("b".to_string(), json!(1)), ("a".to_string(), json!("x"))]
            .into_iter()
            .collect();
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(text, r#"{"b":1,"a":"x"}"#);
        let back: FlatConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        let b: FlatConfig = [("a".to_string(), json!("x")), ("b".to_string(), json!(1))]
            .into_iter()
            .collect();
        assert_eq!(a.content_hash(), b.content_hash());
        let c: FlatConfig = [("a".to_string(), json!("y")), ("b".to_string(), json!(1))]
            .into_iter()
            .collect();
        assert_ne!(a.content_hash(), c.content_hash());
    }
}
