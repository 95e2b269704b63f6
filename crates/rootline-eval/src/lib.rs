//! Batch evaluation: investigate every incident bundle under a directory, score the rankings
//! against each bundle's `truth.json`, and summarise per dataset.
//!
//! Each bundle runs in its own scratch index (a temporary directory), exactly as
//! `rootline investigate <bundle>` would; `truth.json` is read only after the investigation has
//! finished. Next to the engine, a naive ranker (most WARN/ERROR records in the window) is scored
//! on the same cases, so the tables show what the engine adds.
//!
//! Threading: bundles run one after another so that the seconds per case are not skewed by
//! contention; the agent moves blocking work off the runtime.

pub mod markdown;
pub mod naive;
pub mod score;
pub mod truth;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rootline_agent::{Bundle, bundle::TRUTH_FILE};
use rootline_signals::LogSignalConfig;
use serde::{Deserialize, Serialize};

pub use markdown::render_markdown;
pub use score::{CaseResult, DatasetSummary, LevelMetrics, Ranked, Rate, score_case, summarise};
pub use truth::{Level, Truth};

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Signal and ranking configuration given to every investigation.
    pub config: LogSignalConfig,
    /// Also score the naive error-count ranker.
    pub naive: bool,
    /// Only bundles whose relative path contains this string.
    pub filter: Option<String>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            config: LogSignalConfig::default(),
            naive: true,
            filter: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{0}: no incident bundles (directories with incident.json) found")]
    NoBundles(PathBuf),
}

/// Everything one evaluation run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub dir: String,
    pub summaries: Vec<DatasetSummary>,
    pub cases: Vec<CaseResult>,
}

/// Every bundle (a directory holding `incident.json`) under `dir`, `dir` itself included, sorted.
/// A bundle's own subdirectories are not searched.
pub fn find_bundles(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let mut out = Vec::new();
    walk(dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), EvalError> {
    let io = |e: std::io::Error| EvalError::Io {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    if dir.join(rootline_agent::bundle::INCIDENT_FILE).is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_dir() {
            walk(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Evaluates every bundle under `dir`.
pub async fn evaluate_dir(dir: &Path, options: &EvalOptions) -> Result<EvalReport, EvalError> {
    evaluate_dir_with(dir, options, |_, _, _| {}).await
}

/// [`evaluate_dir`], calling `progress(done, total, case)` after each bundle.
pub async fn evaluate_dir_with(
    dir: &Path,
    options: &EvalOptions,
    mut progress: impl FnMut(usize, usize, &CaseResult),
) -> Result<EvalReport, EvalError> {
    let mut bundles = find_bundles(dir)?;
    if let Some(f) = &options.filter {
        bundles.retain(|b| relative(dir, b).contains(f.as_str()));
    }
    if bundles.is_empty() {
        return Err(EvalError::NoBundles(dir.to_path_buf()));
    }
    let total = bundles.len();
    let mut cases = Vec::with_capacity(total);
    for (i, root) in bundles.iter().enumerate() {
        let case = evaluate_bundle(root, relative(dir, root), options).await;
        progress(i + 1, total, &case);
        cases.push(case);
    }
    Ok(EvalReport {
        dir: dir.display().to_string(),
        summaries: summarise(&cases),
        cases,
    })
}

fn relative(dir: &Path, bundle: &Path) -> String {
    let rel = bundle.strip_prefix(dir).unwrap_or(bundle);
    if rel.as_os_str().is_empty() {
        bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        rel.to_string_lossy().into_owned()
    }
}

/// Investigates one bundle in a fresh scratch index and scores it. Never fails: problems become
/// the case's `error` and the case counts as a miss.
pub async fn evaluate_bundle(root: &Path, case: String, options: &EvalOptions) -> CaseResult {
    let started = Instant::now();
    let bundle = match Bundle::load(root) {
        Ok(b) => b,
        Err(e) => {
            let (truth, _) = read_truth(root);
            return score::failed_case(
                case,
                String::new(),
                truth,
                e.to_string(),
                started.elapsed().as_secs_f64(),
            );
        }
    };
    let run = async {
        let scratch = tempfile::tempdir().map_err(|e| format!("scratch dir: {e}"))?;
        let started = Instant::now();
        let (report, summary) =
            rootline_agent::investigate_bundle(&bundle, scratch.path(), options.config.clone())
                .await
                .map_err(|e| e.to_string())?;
        Ok::<_, String>((report, summary, started.elapsed().as_secs_f64()))
    };
    let result = run.await;
    // The truth is read only now, after the investigation has finished.
    let (truth, truth_error) = read_truth(root);
    let (report, summary, seconds) = match result {
        Ok(r) => r,
        Err(e) => {
            return score::failed_case(
                case,
                bundle.incident.id.clone(),
                truth,
                e,
                started.elapsed().as_secs_f64(),
            );
        }
    };
    let naive = if options.naive {
        let b = bundle.clone();
        let ranked = tokio::task::spawn_blocking(move || naive::rank_by_error_count(&b))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        match ranked {
            Ok(r) => r,
            Err(e) => {
                let id = bundle.incident.id.clone();
                let e = format!("naive ranker: {e}");
                return score::failed_case(case, id, truth, e, seconds);
            }
        }
    } else {
        vec![]
    };
    let mut result = score_case(case, &report, truth, naive, seconds, summary.indexed);
    result.error = truth_error;
    result
}

/// The bundle's truth, and an error message when `truth.json` exists but cannot be used.
fn read_truth(root: &Path) -> (Option<Truth>, Option<String>) {
    let path = root.join(TRUTH_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (None, None),
        Err(e) => return (None, Some(format!("{}: {e}", path.display()))),
    };
    match serde_json::from_str::<Truth>(&text) {
        Ok(t) => (Some(t), None),
        Err(e) => (None, Some(format!("{}: {e}", path.display()))),
    }
}
