//! Model scorecards (`rootline eval DIR --llm --llm-model M [--llm-model M2 ...]`): the model
//! step run on every bundle, on the engine's evidence exactly as `rootline investigate --llm`
//! runs it, and judged on the same truth as the engine.
//!
//! Per model: hypothesis AC@1/AC@3 at service level next to the engine's on the same cases;
//! grounding (hypotheses kept, citations invented before validation, misquotes); calibration of
//! the stated confidence of the first hypothesis (bins and Brier); tokens in and out and cost
//! per case; latency p50/p95; errors (the exchange failed and the answer fell back to the
//! ranking). With `--cassette DIR` each model's answers are recorded to `DIR/<model>.json` on
//! the first run and replayed from it afterwards, so a scorecard is reproducible without the
//! model (replayed latencies are the replay's, and no request is counted).

use rootline_core::Report;
use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, calibrate_pairs};
use crate::score::LevelMetrics;
use crate::truth::{Level, Truth};

/// A model to score, and how to reach it.
#[derive(Clone)]
pub struct ModelSpec {
    /// The name shown in the scorecard (the model name).
    pub name: String,
    pub run: std::sync::Arc<rootline_agent::LlmRun>,
}

impl std::fmt::Debug for ModelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The run holds settings with secrets' locations and the prompts: the name is enough.
        f.debug_struct("ModelSpec")
            .field("name", &self.name)
            .finish()
    }
}

/// One model's answer on one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCase {
    pub model: String,
    /// `llm` when grounded hypotheses came back, `offline` when the exchange failed or none
    /// survived.
    pub mode: String,
    /// Kept hypotheses, best first: entity and stated (capped) confidence.
    pub hypotheses: Vec<(String, f64)>,
    /// 1-based rank of the root cause among the kept hypotheses (service level, else entity).
    pub rank: Option<usize>,
    pub kept: usize,
    pub rejected: usize,
    /// Rejected for citing evidence that was not in the context.
    pub invented: usize,
    /// Rejected for quoting text that is not in the cited evidence.
    pub misquotes: usize,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub elapsed_ms: u64,
    pub error: Option<String>,
}

impl ModelCase {
    /// Reads a model's exchange from the report the model step wrote into.
    pub fn from_report(model: &str, report: &Report) -> ModelCase {
        let hypotheses: Vec<(String, f64)> = report
            .hypotheses
            .iter()
            .filter_map(|h| {
                Some((
                    h["entity"].as_str()?.to_owned(),
                    h["confidence"].as_f64().unwrap_or(0.0),
                ))
            })
            .collect();
        let code = |c: &str| {
            report
                .rejected_hypotheses
                .iter()
                .filter(|r| r["code"] == c)
                .count()
        };
        let exchange = rootline_agent::recorded_exchange(report).unwrap_or_default();
        let usage = exchange.usage;
        ModelCase {
            model: model.to_owned(),
            mode: report.mode.clone(),
            kept: hypotheses.len(),
            hypotheses,
            rank: None,
            rejected: report.rejected_hypotheses.len(),
            invented: code("unknown_evidence"),
            misquotes: code("misquote"),
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            cost_usd: usage.estimated_cost_usd,
            elapsed_ms: usage.elapsed_ms,
            error: exchange.error,
        }
    }

    /// Sets [`ModelCase::rank`] from the truth's service (else entity).
    pub fn score(&mut self, truth: &Truth) {
        let wanted: Vec<&str> = [
            truth.root_cause_service.as_deref(),
            truth.root_cause_entity.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.rank = self
            .hypotheses
            .iter()
            .position(|(e, _)| wanted.contains(&e.as_str()))
            .map(|i| i + 1);
    }
}

/// One model over every case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub model: String,
    /// Fault cases with a truth.
    pub cases: usize,
    /// Hypothesis AC@k at service level (else entity).
    pub hypotheses: LevelMetrics,
    /// The engine alone on the same cases.
    pub engine: LevelMetrics,
    pub kept: usize,
    pub rejected: usize,
    /// Share of the model's hypotheses that survived grounding.
    pub grounded_share: f64,
    pub invented_citations: usize,
    pub misquotes: usize,
    pub calibration: Calibration,
    pub input_tokens_per_case: f64,
    pub output_tokens_per_case: f64,
    pub cost_usd_per_case: f64,
    pub latency_ms_p50: u64,
    pub latency_ms_p95: u64,
    /// Exchanges that failed: the case's answer was the ranking alone.
    pub errors: usize,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Summarises each model over `cases` (the engine's rank per case at the same level next to it).
pub fn summarise_models(cases: &[&crate::score::CaseResult]) -> Vec<ModelSummary> {
    let mut names: Vec<String> = Vec::new();
    for m in cases.iter().flat_map(|c| &c.models) {
        if !names.contains(&m.model) {
            names.push(m.model.clone());
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mut hyp_ranks = Vec::new();
            let mut engine_ranks = Vec::new();
            let mut pairs = Vec::new();
            let mut latencies = Vec::new();
            let (mut kept, mut rejected, mut invented, mut misquotes, mut errors) = (0, 0, 0, 0, 0);
            let (mut tin, mut tout, mut cost, mut n_all) = (0u64, 0u64, 0.0, 0usize);
            for c in cases {
                let Some(m) = c.models.iter().find(|m| m.model == name) else {
                    continue;
                };
                n_all += 1;
                kept += m.kept;
                rejected += m.rejected;
                invented += m.invented;
                misquotes += m.misquotes;
                errors += usize::from(m.error.is_some());
                tin += m.input_tokens;
                tout += m.output_tokens;
                cost += m.cost_usd;
                latencies.push(m.elapsed_ms);
                let scored = c.truth.as_ref().is_some_and(|t| !t.no_fault);
                if !scored {
                    continue;
                }
                hyp_ranks.push(m.rank);
                let level = if c.ranks.contains_key(&Level::Service) {
                    Level::Service
                } else {
                    Level::Entity
                };
                engine_ranks.push(c.ranks.get(&level).copied().flatten());
                if let Some((_, confidence)) = m.hypotheses.first() {
                    pairs.push((*confidence, m.rank == Some(1)));
                }
            }
            latencies.sort_unstable();
            let per = |x: f64| if n_all > 0 { x / n_all as f64 } else { 0.0 };
            ModelSummary {
                model: name,
                cases: hyp_ranks.len(),
                hypotheses: LevelMetrics::from_ranks(&hyp_ranks),
                engine: LevelMetrics::from_ranks(&engine_ranks),
                kept,
                rejected,
                grounded_share: if kept + rejected > 0 {
                    kept as f64 / (kept + rejected) as f64
                } else {
                    0.0
                },
                invented_citations: invented,
                misquotes,
                calibration: calibrate_pairs(pairs),
                input_tokens_per_case: per(tin as f64),
                output_tokens_per_case: per(tout as f64),
                cost_usd_per_case: per(cost),
                latency_ms_p50: percentile(&latencies, 0.5),
                latency_ms_p95: percentile(&latencies, 0.95),
                errors,
            }
        })
        .collect()
}
