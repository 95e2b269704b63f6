//! Scoring: one case's ranking against its truth, and the per-dataset summary (AC@k, Avg@5,
//! fault-type accuracy, control cases, seconds per case).

use std::collections::BTreeMap;

use rootline_core::{Outcome, Report};
use serde::{Deserialize, Serialize};

use crate::recall::{CaseRecall, RecallSummary, summarise_recall};
use crate::truth::{Level, Truth};

/// How many ranked entities a case keeps and Avg@k averages over.
pub const TOP_K: usize = 5;

/// One ranked entity, from the engine or from the naive ranker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub entity: String,
    pub score: f64,
    /// rootline fault type (snake case); empty for the naive ranker.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fault_type: String,
    /// The candidate's most implicated pod, host or process, when known (its name at pod
    /// level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The candidate's most implicated code modules, up to three.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
}

/// The result of one bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The bundle's path relative to the evaluated directory.
    pub case: String,
    pub incident_id: String,
    /// `truth.source`, or `unlabelled`.
    pub source: String,
    pub truth: Option<Truth>,
    /// None when the bundle could not be investigated (see `error`).
    pub outcome: Option<Outcome>,
    pub outcome_reason: String,
    /// Number of candidates the engine ranked.
    pub candidates: usize,
    pub top: Vec<Ranked>,
    /// 1-based rank of the root cause among all candidates, per level the truth names
    /// (null: not among the candidates).
    pub ranks: BTreeMap<Level, Option<usize>>,
    pub naive_top: Vec<Ranked>,
    pub naive_ranks: BTreeMap<Level, Option<usize>>,
    /// The top candidate's fault type is an accepted one.
    pub fault_type_top1: Option<bool>,
    /// The fault type of the candidate that matches the truth is an accepted one.
    pub fault_type_at_truth: Option<bool>,
    /// For control cases: the outcome is "no incident" or "insufficient evidence".
    pub control_correct: Option<bool>,
    /// For fault cases where the engine committed to a probable cause: whether its top candidate
    /// is the root cause at the coarsest level the truth names (service, else entity, ...).
    pub committed_correct: Option<bool>,
    /// Wall-clock seconds for ingest + investigation.
    pub seconds: f64,
    pub records_indexed: u64,
    pub error: Option<String>,
    /// Whether the root cause's evidence is in the packed LLM context, per budget (fault cases).
    #[serde(default)]
    pub evidence_recall: Option<CaseRecall>,
    /// The same case with its window start moved (`--jitter`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jitter: Vec<crate::JitterRun>,
    /// Each scored model's answer on this case (`--llm`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<crate::models::ModelCase>,
}

impl CaseResult {
    pub fn is_control(&self) -> bool {
        self.truth.as_ref().is_some_and(|t| t.no_fault)
    }
}

/// `ranked` names each candidate at service and entity level; `instances` names it at pod level
/// (its most implicated pod, host or process, else its entity); `modules` is the module ranking
/// (see [`module_ranking`]).
fn ranks_for(
    truth: &Truth,
    ranked: &[&str],
    instances: &[&str],
    modules: &[&str],
) -> BTreeMap<Level, Option<usize>> {
    if truth.no_fault {
        return BTreeMap::new();
    }
    Level::ALL
        .into_iter()
        .filter(|l| truth.target(*l).is_some())
        .map(|l| {
            let names = match l {
                Level::Pod => instances,
                Level::Module => modules,
                Level::Service | Level::Entity => ranked,
            };
            (l, truth.rank(l, names.iter().copied()))
        })
        .collect()
}

/// The module ranking: each candidate's modules in order, candidates best first, each module
/// once. The engine first decides which service, then where in its code.
fn module_ranking(report: &Report) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for m in report.candidates.iter().flat_map(|c| &c.modules) {
        if !out.contains(&m.as_str()) {
            out.push(m);
        }
    }
    out
}

/// Scores a finished investigation. `naive` is the naive ranking, best first.
pub fn score_case(
    case: String,
    report: &Report,
    truth: Option<Truth>,
    naive: Vec<Ranked>,
    seconds: f64,
    records_indexed: u64,
) -> CaseResult {
    let entities: Vec<&str> = report
        .candidates
        .iter()
        .map(|c| c.entity.as_str())
        .collect();
    let instances: Vec<&str> = report
        .candidates
        .iter()
        .map(|c| c.instances.first().unwrap_or(&c.entity).as_str())
        .collect();
    let modules = module_ranking(report);
    let naive_entities: Vec<&str> = naive.iter().map(|r| r.entity.as_str()).collect();
    let (mut ranks, mut naive_ranks) = (BTreeMap::new(), BTreeMap::new());
    let (mut fault_type_top1, mut fault_type_at_truth, mut control_correct) = (None, None, None);
    if let Some(t) = &truth {
        ranks = ranks_for(t, &entities, &instances, &modules);
        naive_ranks = ranks_for(t, &naive_entities, &naive_entities, &naive_entities);
        if t.no_fault {
            control_correct = Some(matches!(
                report.outcome,
                Outcome::NoIncidentDetected | Outcome::InsufficientEvidence
            ));
        } else if !t.fault_type_rootline.is_empty() {
            fault_type_top1 = Some(
                report
                    .candidates
                    .first()
                    .and_then(|c| t.fault_type_matches(c.fault_type.as_str()))
                    .unwrap_or(false),
            );
            // The candidate that matches at the most specific level it matches at (module ranks
            // count modules, not candidates).
            let hit = [Level::Pod, Level::Entity, Level::Service]
                .into_iter()
                .find_map(|l| ranks.get(&l).copied().flatten());
            fault_type_at_truth = hit.map(|r| {
                t.fault_type_matches(report.candidates[r - 1].fault_type.as_str())
                    .unwrap_or(false)
            });
        }
    }
    let committed_correct = truth
        .as_ref()
        .filter(|t| !t.no_fault && report.outcome == Outcome::ProbableCause)
        .and_then(|_| {
            [Level::Service, Level::Entity, Level::Pod, Level::Module]
                .into_iter()
                .find_map(|l| ranks.get(&l))
                .map(|r| *r == Some(1))
        });
    let top = report
        .candidates
        .iter()
        .take(TOP_K)
        .map(|c| Ranked {
            entity: c.entity.clone(),
            score: c.score,
            fault_type: c.fault_type.as_str().to_string(),
            instance: c.instances.first().cloned(),
            modules: c.modules.iter().take(3).cloned().collect(),
        })
        .collect();
    CaseResult {
        case,
        incident_id: report.incident.id.clone(),
        source: source_of(truth.as_ref()),
        outcome: Some(report.outcome),
        outcome_reason: report.outcome_reason.clone(),
        candidates: report.candidates.len(),
        top,
        ranks,
        naive_top: naive.into_iter().take(TOP_K).collect(),
        naive_ranks,
        fault_type_top1,
        fault_type_at_truth,
        control_correct,
        committed_correct,
        seconds,
        records_indexed,
        error: None,
        evidence_recall: None,
        jitter: Vec::new(),
        models: Vec::new(),
        truth,
    }
}

/// A case whose bundle could not be loaded or investigated: it counts as a miss.
pub fn failed_case(
    case: String,
    incident_id: String,
    truth: Option<Truth>,
    error: String,
    seconds: f64,
) -> CaseResult {
    let empty: Vec<&str> = vec![];
    let ranks = truth
        .as_ref()
        .map(|t| ranks_for(t, &empty, &empty, &empty))
        .unwrap_or_default();
    let control_correct = truth.as_ref().filter(|t| t.no_fault).map(|_| false);
    let fault_type_top1 = truth
        .as_ref()
        .and_then(|t| t.fault_type_matches(""))
        .map(|_| false);
    CaseResult {
        case,
        incident_id,
        source: source_of(truth.as_ref()),
        outcome: None,
        outcome_reason: String::new(),
        candidates: 0,
        top: vec![],
        naive_ranks: ranks.clone(),
        ranks,
        naive_top: vec![],
        fault_type_top1,
        fault_type_at_truth: None,
        control_correct,
        committed_correct: None,
        seconds,
        records_indexed: 0,
        error: Some(error),
        evidence_recall: None,
        jitter: Vec::new(),
        models: Vec::new(),
        truth,
    }
}

fn source_of(truth: Option<&Truth>) -> String {
    truth
        .and_then(|t| t.source.clone())
        .unwrap_or_else(|| "unlabelled".to_string())
}

/// AC@1..AC@5 and Avg@5 over the cases whose truth names this level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelMetrics {
    pub n: usize,
    /// `ac[k-1]` = AC@k.
    pub ac: [f64; TOP_K],
    pub avg5: f64,
}

impl LevelMetrics {
    /// From the 1-based ranks (None = missed) of the cases scored at this level.
    pub fn from_ranks(ranks: &[Option<usize>]) -> LevelMetrics {
        let n = ranks.len();
        if n == 0 {
            return LevelMetrics::default();
        }
        let mut ac = [0.0; TOP_K];
        for (k, slot) in ac.iter_mut().enumerate() {
            let hits = ranks
                .iter()
                .filter(|r| r.is_some_and(|r| r <= k + 1))
                .count();
            *slot = hits as f64 / n as f64;
        }
        let avg5 = ac.iter().sum::<f64>() / TOP_K as f64;
        LevelMetrics { n, ac, avg5 }
    }

    pub fn ac1(&self) -> f64 {
        self.ac[0]
    }

    pub fn ac3(&self) -> f64 {
        self.ac[2]
    }
}

/// A hit rate over the cases where it applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub n: usize,
    pub hits: usize,
}

impl Rate {
    fn from(values: impl Iterator<Item = Option<bool>>) -> Rate {
        let mut r = Rate::default();
        for v in values.flatten() {
            r.n += 1;
            r.hits += usize::from(v);
        }
        r
    }

    /// None when nothing applies.
    pub fn value(&self) -> Option<f64> {
        (self.n > 0).then(|| self.hits as f64 / self.n as f64)
    }
}

/// The summary of one dataset (`truth.source`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub source: String,
    pub cases: usize,
    pub fault_cases: usize,
    pub controls: usize,
    pub errors: usize,
    pub levels: BTreeMap<Level, LevelMetrics>,
    pub naive_levels: BTreeMap<Level, LevelMetrics>,
    pub fault_type_top1: Rate,
    pub fault_type_at_truth: Rate,
    pub controls_correct: Rate,
    /// Fault cases with a "probable cause" outcome, and how many of those name the root cause.
    pub committed_correct: Rate,
    /// Outcome name → number of cases (`error` for failed bundles).
    pub outcomes: BTreeMap<String, usize>,
    pub seconds_mean: f64,
    pub seconds_max: f64,
    /// Evidence recall of the packed context, one entry per budget, ascending.
    #[serde(default)]
    pub evidence_recall: Vec<RecallSummary>,
    /// AC@k per window-start offset (`--jitter`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jitter: Vec<crate::JitterSummary>,
    /// The engine's confidence against its hit rate, in bins, and the Brier score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::calibration::Calibration>,
}

fn outcome_key(o: Option<Outcome>) -> String {
    match o {
        None => "error".into(),
        Some(o) => serde_json::to_value(o)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| o.as_str().to_string()),
    }
}

/// The offsets the cases were re-run at, in the order given.
fn jitter_offsets(cs: &[&CaseResult]) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    for r in cs.iter().flat_map(|c| &c.jitter) {
        if !out.contains(&r.offset_s) {
            out.push(r.offset_s);
        }
    }
    out
}

/// Groups cases by source (sorted) and summarises each group.
pub fn summarise(cases: &[CaseResult]) -> Vec<DatasetSummary> {
    let mut groups: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for c in cases {
        groups.entry(c.source.as_str()).or_default().push(c);
    }
    groups
        .into_iter()
        .map(|(source, cs)| summarise_group(source, &cs))
        .collect()
}

fn summarise_group(source: &str, cs: &[&CaseResult]) -> DatasetSummary {
    let level_metrics = |pick: fn(&CaseResult) -> &BTreeMap<Level, Option<usize>>| {
        Level::ALL
            .into_iter()
            .filter_map(|l| {
                let ranks: Vec<Option<usize>> =
                    cs.iter().filter_map(|c| pick(c).get(&l).copied()).collect();
                (!ranks.is_empty()).then(|| (l, LevelMetrics::from_ranks(&ranks)))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let mut outcomes = BTreeMap::new();
    for c in cs {
        *outcomes.entry(outcome_key(c.outcome)).or_insert(0) += 1;
    }
    let seconds: Vec<f64> = cs.iter().map(|c| c.seconds).collect();
    let controls = cs.iter().filter(|c| c.is_control()).count();
    let labelled = cs.iter().filter(|c| c.truth.is_some()).count();
    DatasetSummary {
        source: source.to_string(),
        cases: cs.len(),
        fault_cases: labelled - controls,
        controls,
        errors: cs.iter().filter(|c| c.error.is_some()).count(),
        levels: level_metrics(|c| &c.ranks),
        naive_levels: level_metrics(|c| &c.naive_ranks),
        fault_type_top1: Rate::from(cs.iter().map(|c| c.fault_type_top1)),
        fault_type_at_truth: Rate::from(cs.iter().map(|c| c.fault_type_at_truth)),
        controls_correct: Rate::from(cs.iter().map(|c| c.control_correct)),
        committed_correct: Rate::from(cs.iter().map(|c| c.committed_correct)),
        outcomes,
        seconds_mean: if seconds.is_empty() {
            0.0
        } else {
            seconds.iter().sum::<f64>() / seconds.len() as f64
        },
        seconds_max: seconds.iter().copied().fold(0.0, f64::max),
        evidence_recall: summarise_recall(cs),
        jitter: crate::jitter::summarise_jitter(cs, &jitter_offsets(cs)),
        calibration: Some(crate::calibration::calibrate(cs.iter().copied())),
    }
}
