//! Persistence of the template miner: one JSON snapshot in the data dir, replaced atomically.

use std::io::Write;
use std::path::Path;

use rootline_templates::{MinerConfig, MinerSnapshot, TemplateMiner};

#[derive(Debug, thiserror::Error)]
pub enum TemplateStoreError {
    #[error("cannot read templates from {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write templates to {path}: {message}")]
    Write { path: String, message: String },
}

/// Loads the miner saved at `path`, or a new one when there is none yet.
pub fn load_miner(path: &Path) -> Result<TemplateMiner, TemplateStoreError> {
    let read_err = |message: String| TemplateStoreError::Read {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read(path) {
        Ok(bytes) => {
            let snapshot: MinerSnapshot =
                serde_json::from_slice(&bytes).map_err(|e| read_err(e.to_string()))?;
            Ok(TemplateMiner::from_snapshot(snapshot))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(TemplateMiner::new(MinerConfig::default()))
        }
        Err(e) => Err(read_err(e.to_string())),
    }
}

/// Writes to a temporary file, syncs it, then renames over the old snapshot, so a crash leaves
/// either the old or the new snapshot, never half of one.
pub fn save_miner(path: &Path, miner: &TemplateMiner) -> Result<(), TemplateStoreError> {
    let write_err = |message: String| TemplateStoreError::Write {
        path: path.display().to_string(),
        message,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_err(e.to_string()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(&miner.to_snapshot()).map_err(|e| write_err(e.to_string()))?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| write_err(e.to_string()))?;
    f.write_all(&bytes).map_err(|e| write_err(e.to_string()))?;
    f.sync_all().map_err(|e| write_err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| write_err(e.to_string()))?;
    Ok(())
}
