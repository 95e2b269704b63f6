//! Incident bundles: an incident, the data files an investigation reads, and, optionally, the
//! ground truth that only evaluation reads.
//!
//! ```text
//! bundle/
//!   incident.json   the Incident (title, start, end, services, alert, baseline_windows)
//!   logs/           log files, any supported format, gzip allowed, read in name order
//!   metrics/        metric files (Prometheus text, CSV wide or long), optional
//!   traces/         span files (CSV, OTLP JSON), optional
//!   changes/        change events (JSON lines) and configs/ versioned config files, optional
//!   truth.json      optional ground truth; never opened by an investigation
//! ```

use std::path::{Path, PathBuf};

use rootline_core::Incident;

pub const INCIDENT_FILE: &str = "incident.json";
pub const LOGS_DIR: &str = "logs";
pub const METRICS_DIR: &str = "metrics";
pub const TRACES_DIR: &str = "traces";
pub const CHANGES_DIR: &str = "changes";
pub const CONFIGS_DIR: &str = "configs";
pub const TRUTH_FILE: &str = "truth.json";

#[derive(Debug, Clone)]
pub struct Bundle {
    pub root: PathBuf,
    pub incident: Incident,
    /// Log files, sorted by relative path.
    pub log_files: Vec<PathBuf>,
    pub metric_files: Vec<PathBuf>,
    pub trace_files: Vec<PathBuf>,
    pub change_files: Vec<PathBuf>,
    pub config_files: Vec<PathBuf>,
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
        let list = |name: &str, required: bool| -> Result<Vec<PathBuf>, BundleError> {
            let dir = root.join(name);
            let mut files = Vec::new();
            if !required && !dir.exists() {
                return Ok(files);
            }
            collect_files(&dir, &mut files).map_err(|e| BundleError::Read {
                path: dir.clone(),
                message: e.to_string(),
            })?;
            files.sort();
            Ok(files)
        };
        Ok(Bundle {
            root: root.to_path_buf(),
            incident,
            log_files: list(LOGS_DIR, true)?,
            metric_files: list(METRICS_DIR, false)?,
            trace_files: list(TRACES_DIR, false)?,
            change_files: list(CHANGES_DIR, false)?,
            config_files: list(CONFIGS_DIR, false)?,
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

/// Ingests a bundle into a fresh scratch index and investigates it. The scratch index lives in
/// `scratch` (a temporary directory the caller owns) and is independent of any data dir.
pub async fn investigate_bundle(
    bundle: &Bundle,
    scratch: &Path,
    config: impl Into<crate::EngineConfig>,
) -> Result<(rootline_core::Report, crate::IngestSummary), BundleRunError> {
    let config = config.into();
    let index = std::sync::Arc::new(rootline_index::LogIndex::open(&scratch.join("index"))?);
    let templates_path = scratch.join("templates.json");
    let labels = bundle
        .log_files
        .iter()
        .map(|f| Some(bundle.label(f)))
        .collect();
    let options = crate::IngestOptions {
        service: None,
        labels,
        templates_path: templates_path.clone(),
    };
    let (summary, errors) =
        crate::ingest_files(index.clone(), bundle.log_files.clone(), options, |_| {}).await?;
    if let Some(e) = errors.into_iter().next() {
        return Err(BundleRunError::Source(e));
    }
    let spans = if bundle.trace_files.is_empty() {
        None
    } else {
        let spans = std::sync::Arc::new(rootline_index::spans::SpanIndex::open(
            &scratch.join("spans"),
        )?);
        let labels = bundle
            .trace_files
            .iter()
            .map(|f| Some(bundle.label(f)))
            .collect();
        let (_, errors) =
            crate::ingest_span_files(spans.clone(), bundle.trace_files.clone(), labels).await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(BundleRunError::Source(e));
        }
        Some(spans)
    };
    let metrics = if bundle.metric_files.is_empty() {
        None
    } else {
        let metrics = std::sync::Arc::new(rootline_index::metrics::MetricIndex::open(
            &scratch.join("metrics"),
        )?);
        let labels = bundle
            .metric_files
            .iter()
            .map(|f| Some(bundle.label(f)))
            .collect();
        let (_, errors) =
            crate::ingest_metric_files(metrics.clone(), bundle.metric_files.clone(), labels)
                .await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(BundleRunError::Source(e));
        }
        Some(metrics)
    };
    let templates = std::sync::Arc::new(crate::load_miner(&templates_path)?);
    let sources = crate::Sources {
        logs: index,
        spans,
        metrics,
        changes: read_change_files(bundle)?,
    };
    let report = crate::investigate(sources, templates, bundle.incident.clone(), config).await?;
    Ok((report, summary))
}

/// Change events of a bundle: JSON lines of `ChangeEvent` in `changes/`.
fn read_change_files(bundle: &Bundle) -> Result<Vec<rootline_core::ChangeEvent>, BundleRunError> {
    let mut out = Vec::new();
    for path in &bundle.change_files {
        let text = std::fs::read_to_string(path).map_err(|e| BundleError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let change = serde_json::from_str(line).map_err(|e| BundleError::Invalid {
                path: path.clone(),
                message: format!("line {}: {e}", i + 1),
            })?;
            out.push(change);
        }
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum BundleRunError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Index(#[from] rootline_index::IndexError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Source(#[from] rootline_ingest::SourceError),
    #[error(transparent)]
    Templates(#[from] crate::TemplateStoreError),
    #[error(transparent)]
    Investigate(#[from] crate::InvestigateError),
}
