//! Incident bundles: an incident, the data files an investigation reads, and, optionally, the
//! ground truth that only evaluation reads.
//!
//! ```text
//! bundle/
//!   incident.json   the Incident (title, start, end, services, alert, baseline_windows)
//!   logs/           log files, any supported format, gzip allowed, read in name order
//!   truth.json      optional ground truth; never opened by an investigation
//! ```

use std::path::{Path, PathBuf};

use rootline_core::Incident;

pub const INCIDENT_FILE: &str = "incident.json";
pub const LOGS_DIR: &str = "logs";
pub const TRUTH_FILE: &str = "truth.json";

#[derive(Debug, Clone)]
pub struct Bundle {
    pub root: PathBuf,
    pub incident: Incident,
    /// Log files, sorted by relative path.
    pub log_files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: invalid incident: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Bundle {
    pub fn load(root: &Path) -> Result<Bundle, BundleError> {
        let incident_path = root.join(INCIDENT_FILE);
        let text = std::fs::read_to_string(&incident_path).map_err(|e| BundleError::Read {
            path: incident_path.clone(),
            message: e.to_string(),
        })?;
        let incident: Incident = serde_json::from_str(&text).map_err(|e| BundleError::Invalid {
            path: incident_path.clone(),
            message: e.to_string(),
        })?;
        incident.validate().map_err(|e| BundleError::Invalid {
            path: incident_path.clone(),
            message: e.to_string(),
        })?;
        let logs_dir = root.join(LOGS_DIR);
        let mut log_files = Vec::new();
        collect_files(&logs_dir, &mut log_files).map_err(|e| BundleError::Read {
            path: logs_dir.clone(),
            message: e.to_string(),
        })?;
        log_files.sort();
        Ok(Bundle {
            root: root.to_path_buf(),
            incident,
            log_files,
        })
    }

    /// The provenance label of a bundle file: its path relative to the bundle root.
    pub fn label(&self, file: &Path) -> String {
        file.strip_prefix(&self.root)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned()
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(&path, out)?;
        } else if !entry.file_name().to_string_lossy().starts_with('.') {
            out.push(path);
        }
    }
    Ok(())
}
