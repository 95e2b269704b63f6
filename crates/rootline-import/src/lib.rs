//! Importers: public incident datasets in, incident bundles out.
//!
//! This is the only place where code may know a dataset's layout. Each importer writes the
//! investigation's inputs (`incident.json`, `logs/`) and puts every ground-truth field in
//! `truth.json`, which investigations never open. Incident titles and descriptions are neutral
//! ("anomaly at <time>") so that they cannot leak the answer.
//!
//! Architecture invariant: no dependency on the index, the store, the signals or the agent.

pub mod gaia;
pub mod k8s;
pub mod k8s_state;
pub mod nezha;
pub mod nezha_metrics;
pub mod nezha_traces;
pub mod openstack;
pub mod petshop;

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Bad {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("case {0} not found")]
    NoSuchCase(String),
}

pub(crate) fn io_err(path: &Path, e: impl std::fmt::Display) -> ImportError {
    ImportError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// What an import produced.
#[derive(Debug, Default, serde::Serialize)]
pub struct ImportSummary {
    pub bundles: Vec<String>,
    pub records: u64,
    pub skipped_rows: u64,
    /// Empty, NaN or non-numeric value cells skipped (importers of wide metric tables).
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_values: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
