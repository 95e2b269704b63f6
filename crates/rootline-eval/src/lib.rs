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

pub mod calibration;
pub mod html;
pub mod jitter;
pub mod markdown;
pub mod models;
pub mod naive;
pub mod recall;
pub mod score;
pub mod truth;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rootline_agent::{Bundle, EngineConfig, bundle::TRUTH_FILE};
use serde::{Deserialize, Serialize};

pub use jitter::{JitterRun, JitterSummary};

pub use html::render_html;
pub use markdown::render_markdown;
pub use recall::{BudgetRecall, CaseRecall, RecallSummary};
pub use score::{CaseResult, DatasetSummary, LevelMetrics, Ranked, Rate, score_case, summarise};
pub use truth::{EvidencePattern, Level, Truth};

#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Signal and ranking configuration given to every investigation.
    pub config: EngineConfig,
    /// Also score the naive error-count ranker.
    pub naive: bool,
    /// Only bundles whose relative path contains this string.
    pub filter: Option<String>,
    /// Token budgets at which the evidence recall of the packed LLM context is measured; empty
    /// skips the measurement.
    pub recall_budgets: Vec<usize>,
    /// Window-start offsets in seconds: each bundle is investigated again with its start moved
    /// by each (end kept), to show how much the ranking depends on knowing the onset.
    pub jitter: Vec<i64>,
    /// Models whose hypotheses are scored on every bundle, on the engine's evidence.
    pub models: Vec<models::ModelSpec>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            config: EngineConfig::default(),
            naive: true,
            filter: None,
            recall_budgets: recall::DEFAULT_BUDGETS.to_vec(),
            jitter: Vec::new(),
            models: Vec::new(),
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
    /// AC@k per window-start offset over every case (empty without `--jitter`); each dataset's
    /// own is in its summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jitter: Vec<JitterSummary>,
    /// One scorecard per model (`--llm`), in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<models::ModelSummary>,
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
    let refs: Vec<&CaseResult> = cases.iter().collect();
    Ok(EvalReport {
        dir: dir.display().to_string(),
        summaries: summarise(&cases),
        jitter: jitter::summarise_jitter(&refs, &options.jitter),
        models: models::summarise_models(&refs),
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
    // Outlives the investigation: the recall measurement reads example lines from its index.
    let scratch = tempfile::tempdir();
    let run = async {
        let scratch = scratch.as_ref().map_err(|e| format!("scratch dir: {e}"))?;
        let started = Instant::now();
        let ingested = rootline_agent::ingest_bundle(&bundle, scratch.path())
            .await
            .map_err(|e| e.to_string())?;
        let report = rootline_agent::investigate(
            ingested.sources.clone(),
            ingested.templates.clone(),
            bundle.incident.clone(),
            options.config.clone(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let seconds = started.elapsed().as_secs_f64();
        let jitter = jitter::rerun(&ingested, &bundle.incident, options).await;
        // Each model on the engine's evidence, as `rootline investigate --llm` runs it.
        let mut model_cases = Vec::with_capacity(options.models.len());
        for spec in &options.models {
            let mut answered = report.clone();
            rootline_agent::add_hypotheses(&mut answered, ingested.sources.logs.clone(), &spec.run)
                .await;
            model_cases.push(models::ModelCase::from_report(&spec.name, &answered));
        }
        Ok::<_, String>((report, ingested.summary, seconds, jitter, model_cases))
    };
    let result = run.await;
    // The truth is read only now, after the investigation has finished.
    let (truth, truth_error) = read_truth(root);
    let (report, summary, seconds, jitter_runs, mut model_cases) = match result {
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
    let recall = match (&truth, &scratch) {
        (Some(t), Ok(dir)) if recall::applies(t) && !options.recall_budgets.is_empty() => {
            let (t, r, budgets) = (t.clone(), report.clone(), options.recall_budgets.clone());
            let index_dir = dir.path().join("index");
            tokio::task::spawn_blocking(move || measure_recall(&t, &r, &index_dir, &budgets))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r)
                .map(Some)
        }
        _ => Ok(None),
    };
    let mut result = score_case(case, &report, truth, naive, seconds, summary.indexed);
    result.jitter = jitter::score_runs(jitter_runs, result.truth.as_ref());
    if let Some(truth) = &result.truth {
        for m in &mut model_cases {
            m.score(truth);
        }
    }
    result.models = model_cases;
    // A failed measurement keeps the ranking scores; the case counts as a recall miss.
    match recall {
        Ok(r) => {
            result.error = truth_error;
            result.evidence_recall = r;
        }
        Err(e) => result.error = Some(format!("evidence recall: {e}")),
    }
    result
}

/// Packs the report's evidence at each budget, exactly as the model step would, and checks which
/// ground-truth items made it in. `index_dir` is the investigation's log index (example lines).
fn measure_recall(
    truth: &Truth,
    report: &rootline_core::Report,
    index_dir: &Path,
    budgets: &[usize],
) -> Result<CaseRecall, String> {
    let index = rootline_index::LogIndex::open(index_dir).map_err(|e| e.to_string())?;
    let packs: Vec<_> = budgets
        .iter()
        .map(|b| rootline_agent::hypotheses::packed_context(report, &index, *b))
        .collect();
    // Example lines only matter to text patterns; fetch them only then.
    let mut examples = std::collections::HashMap::new();
    if truth.evidence.iter().any(|p| p.text.is_some()) {
        for id in report.evidence.iter().flat_map(|e| &e.examples) {
            if !examples.contains_key(id)
                && let Ok(Some(r)) = index.get(id)
            {
                examples.insert(id.clone(), r.message);
            }
        }
    }
    recall::case_recall(truth, &report.evidence, &examples, &packs)
        .ok_or_else(|| "recall does not apply to this truth".to_string())
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
        Ok(t) => match t.validate() {
            Ok(()) => (Some(t), None),
            Err(e) => (None, Some(format!("{}: {e}", path.display()))),
        },
        Err(e) => (None, Some(format!("{}: {e}", path.display()))),
    }
}
