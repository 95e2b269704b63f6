//! Record / replay of model exchanges, so evaluations with a model are repeatable and free.
//!
//! A cassette is a JSON file of request/response pairs keyed by the SHA-256 of the request body
//! in canonical form (object keys sorted). Bodies are recorded after redaction, and no header (so
//! no API key) is ever stored. Replaying the same investigation sends the same bodies, finds the
//! same keys and gets the same answers with no network. A key recorded several times replays its
//! responses in order (the last one repeats).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CassetteMode {
    #[default]
    Off,
    /// Send requests and append each exchange to this file.
    Record(PathBuf),
    /// Answer every request from this file; nothing goes on the network.
    Replay(PathBuf),
}

impl CassetteMode {
    /// The cassette of `name` (a model) in `dir`: `<dir>/<name>.json`, unsafe characters as `_`;
    /// replayed when that file exists, else recorded there.
    pub fn record_or_replay(dir: &Path, name: &str) -> CassetteMode {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let file = dir.join(format!("{safe}.json"));
        if file.exists() {
            CassetteMode::Replay(file)
        } else {
            CassetteMode::Record(file)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassetteEntry {
    pub key: String,
    pub request: Value,
    pub response: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassetteFile {
    pub version: u32,
    pub entries: Vec<CassetteEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum CassetteError {
    #[error("cassette {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("cassette {path} has no response for request {key}")]
    Missing { path: PathBuf, key: String },
}

/// Writes `value` with object keys sorted at every level, so equal requests hash equally
/// whatever the map implementation's order.
pub fn canonical_json(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&map[k]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

pub fn request_key(request: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(request).as_bytes()))
}

/// An open cassette.
#[derive(Debug)]
pub struct Cassette {
    path: PathBuf,
    file: CassetteFile,
    /// Replay position per key.
    served: HashMap<String, usize>,
}

impl Cassette {
    /// Opens `path`; a missing file is an empty cassette (for recording).
    pub fn open(path: &Path) -> Result<Cassette, CassetteError> {
        let io = |message: String| CassetteError::Io {
            path: path.to_path_buf(),
            message,
        };
        let file = match std::fs::read_to_string(path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|e| io(format!("not a cassette: {e}")))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CassetteFile {
                version: 1,
                entries: vec![],
            },
            Err(e) => return Err(io(e.to_string())),
        };
        Ok(Cassette {
            path: path.to_path_buf(),
            file,
            served: HashMap::new(),
        })
    }

    pub fn entries(&self) -> &[CassetteEntry] {
        &self.file.entries
    }

    /// The recorded response to `request`.
    pub fn replay(&mut self, request: &Value) -> Result<Value, CassetteError> {
        let key = request_key(request);
        let matches: Vec<&CassetteEntry> =
            self.file.entries.iter().filter(|e| e.key == key).collect();
        let n = self.served.entry(key.clone()).or_default();
        let entry = matches
            .get(*n)
            .or(matches.last())
            .ok_or_else(|| CassetteError::Missing {
                path: self.path.clone(),
                key: key.clone(),
            })?;
        *n += 1;
        Ok(entry.response.clone())
    }

    /// Appends an exchange and rewrites the file (temp file, then rename).
    pub fn record(&mut self, request: &Value, response: &Value) -> Result<(), CassetteError> {
        self.file.entries.push(CassetteEntry {
            key: request_key(request),
            request: request.clone(),
            response: response.clone(),
        });
        let io = |message: String| CassetteError::Io {
            path: self.path.clone(),
            message,
        };
        let text = serde_json::to_string_pretty(&self.file).map_err(|e| io(e.to_string()))?;
        let tmp = self.path.with_extension("json.tmp");
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
        }
        std::fs::write(&tmp, text).map_err(|e| io(e.to_string()))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_ignore_key_order() {
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        let b: Value =
            serde_json::from_str(r#"{"messages":[{"content":"x","role":"user"}],"model":"m"}"#)
                .unwrap();
        assert_eq!(request_key(&a), request_key(&b));
        assert_ne!(request_key(&a), request_key(&json!({"model": "m2"})));
    }

    #[test]
    fn record_then_replay_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/c.json");
        let req = json!({"model": "m"});
        let mut c = Cassette::open(&path).unwrap();
        c.record(&req, &json!({"n": 1})).unwrap();
        c.record(&req, &json!({"n": 2})).unwrap();
        let mut r = Cassette::open(&path).unwrap();
        assert_eq!(r.entries().len(), 2);
        assert_eq!(r.replay(&req).unwrap()["n"], 1);
        assert_eq!(r.replay(&req).unwrap()["n"], 2);
        assert_eq!(r.replay(&req).unwrap()["n"], 2);
        let err = r.replay(&json!({"model": "other"})).unwrap_err();
        assert!(matches!(err, CassetteError::Missing { .. }));
        std::fs::write(&path, "nope").unwrap();
        assert!(Cassette::open(&path).is_err());
    }
}
