//! The model step: pack the ranked evidence, ask the configured model for hypotheses, keep only
//! the grounded ones. The offline ranking is never replaced: hypotheses are added next to it.
//!
//! Nothing here can execute anything: fixes stay proposals in the report.

use std::collections::HashMap;
use std::sync::Arc;

use rootline_core::Report;
use rootline_index::{Filter, LogIndex};
use rootline_llm::{CassetteMode, FollowUp, LlmOutcome, LlmSettings, Prompts, Searcher};
use rootline_signals::pack::{PackedContext, pack};

/// What the model step needs.
pub struct LlmRun {
    pub settings: LlmSettings,
    pub prompts: Prompts,
    pub cassette: CassetteMode,
}

impl LlmRun {
    /// The model step for `settings`: its prompts directory's templates, else the embedded ones.
    pub fn new(
        settings: LlmSettings,
        cassette: CassetteMode,
    ) -> Result<LlmRun, rootline_llm::PromptError> {
        let prompts = match &settings.prompts_dir {
            Some(dir) => Prompts::load(dir)?,
            None => Prompts::embedded()?,
        };
        Ok(LlmRun {
            settings,
            prompts,
            cassette,
        })
    }
}

/// Follow-up searches the model asks for, run on the log index. Model output is untrusted: a
/// query that does not parse finds nothing.
struct IndexSearcher {
    index: Arc<LogIndex>,
}

impl Searcher for IndexSearcher {
    fn search(&self, q: &FollowUp) -> Vec<(String, String)> {
        let range = match (q.start, q.end) {
            (None, None) => None,
            (s, e) => Some((
                s.and_then(|t| t.timestamp_nanos_opt()).unwrap_or(i64::MIN),
                e.and_then(|t| t.timestamp_nanos_opt()).unwrap_or(i64::MAX),
            )),
        };
        let filter = Filter {
            range_ns: range,
            service: q.entity.clone(),
            text: Some(q.query.clone()),
        };
        self.index
            .search(&filter, q.limit.min(50))
            .map(|hits| {
                hits.into_iter()
                    .map(|r| (r.evidence_id, r.message))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Packs the report's evidence with the raw lines of its example records, within the budget.
pub fn packed_context(report: &Report, index: &LogIndex, budget_tokens: usize) -> PackedContext {
    let mut examples = HashMap::new();
    for e in &report.evidence {
        for id in &e.examples {
            if examples.contains_key(id) {
                continue;
            }
            if let Ok(Some(r)) = index.get(id) {
                examples.insert(id.clone(), r.message);
            }
        }
    }
    pack(
        &report.evidence,
        &report.candidates,
        &examples,
        budget_tokens,
    )
}

/// The exact request that would be sent, without sending it.
pub fn dry_run(
    report: &Report,
    index: &LogIndex,
    run: &LlmRun,
) -> Result<serde_json::Value, String> {
    let context = packed_context(report, index, run.settings.context_tokens);
    rootline_llm::dry_run_payload(
        &run.settings,
        &run.prompts,
        &report.incident,
        &report.candidates,
        &context,
    )
}

/// Asks the model and records the outcome in the report. Never fails: a failed exchange leaves
/// the report offline with the error recorded. Returns the packed context the model was shown
/// (for the frozen evidence snapshot that a replay re-runs).
pub async fn add_hypotheses(
    report: &mut Report,
    index: Arc<LogIndex>,
    run: &LlmRun,
) -> PackedContext {
    let context = {
        let index = index.clone();
        let snapshot = report.clone();
        let budget = run.settings.context_tokens;
        tokio::task::spawn_blocking(move || packed_context(&snapshot, &index, budget))
            .await
            .unwrap_or_else(|_| pack(&[], &[], &HashMap::new(), budget))
    };
    let searcher = IndexSearcher { index };
    let outcome = rootline_llm::hypothesize(
        Some(&run.settings),
        &run.prompts,
        &report.incident,
        &report.candidates,
        &context,
        &searcher,
        run.cassette.clone(),
    )
    .await;
    record_outcome(report, &outcome, &context);
    context
}

/// A model exchange as a report records it ([`record_outcome`] writes it): what it used and how
/// it failed, typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedExchange {
    pub usage: rootline_llm::Usage,
    /// The exchange failed: the answer is the ranking's alone.
    pub error: Option<String>,
}

/// The model exchange `report` records; `None` when it ran no model step.
pub fn recorded_exchange(report: &Report) -> Option<RecordedExchange> {
    let llm = report.llm.as_ref()?;
    Some(RecordedExchange {
        usage: serde_json::from_value(llm["usage"].clone()).unwrap_or_default(),
        error: llm["error"].as_str().map(str::to_owned),
    })
}

/// Writes a model exchange into the report: mode, grounded hypotheses (each `grounded: true`),
/// rejected ones with the reason, and the `llm` record (prompt, model, usage, errors).
pub(crate) fn record_outcome(report: &mut Report, outcome: &LlmOutcome, context: &PackedContext) {
    report.mode = outcome.mode.clone();
    report.hypotheses = outcome
        .hypotheses
        .iter()
        .filter_map(|h| serde_json::to_value(h).ok())
        .map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.insert("grounded".into(), serde_json::Value::Bool(true));
            }
            v
        })
        .collect();
    report.rejected_hypotheses = outcome
        .rejected
        .iter()
        .filter_map(|r| serde_json::to_value(r).ok())
        .collect();
    report.llm = Some(serde_json::json!({
        "summary": outcome.summary(),
        "insufficient_evidence": outcome.insufficient_evidence,
        "prompt": outcome.prompt,
        "model": outcome.model,
        "usage": outcome.usage,
        "error": outcome.error,
        "redactions": outcome.redactions,
        "searches": outcome.searches,
        "context_items": context.items.len(),
        "context_tokens_estimate": context.tokens_estimate,
    }));
}
