//! Where each watch left off, so that a restarted watcher resumes instead of re-listing: the
//! last resource version the sink accepted, per collection, in a small JSON file.
//!
//! ```json
//! {
//!   "format": 1,
//!   "server": "https://10.0.0.1:6443/",
//!   "resource_versions": { "events/default": "1240325", "nodes": "88121", "pods/*": "1240323" }
//! }
//! ```
//!
//! Keys are `resource/namespace`, `resource/*` for all namespaces, or `resource` for a
//! cluster-scoped kind. Every save writes a temporary file next to it, fsyncs it, renames it
//! over the old one and fsyncs the directory, so a crash leaves the old or the new file, never
//! half of one. The server URL is recorded because resource versions mean nothing on another
//! cluster: a checkpoint of another server is refused rather than silently reused.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::KubeError;

const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile {
    format: u32,
    server: String,
    resource_versions: BTreeMap<String, String>,
}

/// The checkpoint of one watcher, in memory and on disk.
#[derive(Debug)]
pub(crate) struct Checkpoint {
    path: PathBuf,
    file: CheckpointFile,
}

fn error(path: &Path, reason: impl std::fmt::Display) -> KubeError {
    KubeError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Checkpoint {
    /// Reads the checkpoint at `path`, or starts an empty one when there is no file yet.
    pub async fn load(path: &Path, server: &str) -> Result<Self, KubeError> {
        let file = match tokio::fs::read(path).await {
            Ok(bytes) => {
                let file: CheckpointFile =
                    serde_json::from_slice(&bytes).map_err(|e| error(path, e))?;
                if file.format != FORMAT {
                    return Err(error(
                        path,
                        format!("format {} is not {FORMAT}", file.format),
                    ));
                }
                if file.server != server {
                    return Err(error(
                        path,
                        format!(
                            "written for server {} but connected to {server}; resource versions do not carry over between clusters (use another checkpoint file)",
                            file.server
                        ),
                    ));
                }
                file
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CheckpointFile {
                format: FORMAT,
                server: server.to_string(),
                resource_versions: BTreeMap::new(),
            },
            Err(e) => return Err(error(path, e)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The saved resource version of a collection key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.file.resource_versions.get(key).map(String::as_str)
    }

    /// Records `resource_version` for `key` and saves the file (temp, fsync, rename).
    pub async fn advance(&mut self, key: &str, resource_version: &str) -> Result<(), KubeError> {
        if self.get(key) == Some(resource_version) {
            return Ok(());
        }
        self.file
            .resource_versions
            .insert(key.to_string(), resource_version.to_string());
        let path = self.path.clone();
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &file))
            .await
            .map_err(|e| error(&self.path, e))?
    }
}

fn write_atomically(path: &Path, file: &CheckpointFile) -> Result<(), KubeError> {
    let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| error(path, e))?;
    bytes.push(b'\n');
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| error(path, e))?;
    let Some(name) = path.file_name() else {
        return Err(error(path, "not a file path"));
    };
    let mut temp_name = name.to_os_string();
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    let mut out = std::fs::File::create(&temp).map_err(|e| error(&temp, e))?;
    out.write_all(&bytes).map_err(|e| error(&temp, e))?;
    out.sync_all().map_err(|e| error(&temp, e))?;
    drop(out);
    std::fs::rename(&temp, path).map_err(|e| error(path, e))?;
    #[cfg(unix)]
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| error(&dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn saves_atomically_reloads_and_refuses_another_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/kube.json");
        let mut cp = Checkpoint::load(&path, "http://a/").await.unwrap();
        assert_eq!(cp.get("pods/default"), None);
        cp.advance("pods/default", "17").await.unwrap();
        cp.advance("nodes", "5").await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["resource_versions"]["pods/default"], "17");
        assert_eq!(json["server"], "http://a/");
        assert!(!dir.path().join("state/kube.json.tmp").exists());
        let again = Checkpoint::load(&path, "http://a/").await.unwrap();
        assert_eq!(again.get("nodes"), Some("5"));
        let err = Checkpoint::load(&path, "http://b/").await.unwrap_err();
        assert!(err.to_string().contains("http://b/"), "{err}");
        std::fs::write(&path, "{not json").unwrap();
        assert!(Checkpoint::load(&path, "http://a/").await.is_err());
    }
}
