//! Investigation replay: freeze what an investigation's model step saw, re-run only that step on
//! the frozen evidence (another model, another prompt), and say what changed.
//!
//! A [`FrozenEvidence`] holds everything a replay needs and nothing it would have to fetch: the
//! incident, the offline ranking (outcome, stats, candidates, evidence) and the exact packed
//! context a model is shown (local ids `E1…`, summaries, raw example lines), plus which model and
//! prompt ran, if any. It is stored once per investigation as its evidence snapshot.
//!
//! [`replay`] asks the model on that context alone: no index, no re-ingest, and the follow-up
//! searches a model asks for find nothing (the evidence is frozen). The offline ranking is copied
//! unchanged: it is deterministic, so re-running it on the same evidence would give the same
//! candidates. [`diff`] compares two reports' hypotheses, models and prompts.
//!
//! Pure except for the model call; nothing here touches the store.

use std::collections::{BTreeMap, HashSet};

use rootline_core::{Candidate, Evidence, Incident, Outcome, Report, WindowStats};
use rootline_llm::{NoSearch, PromptRecord, RejectCode, RejectedHypothesis};
use rootline_signals::pack::PackedContext;
use rootline_store::Hypothesis;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hypotheses::{LlmRun, record_outcome};

/// The `format` of a [`FrozenEvidence`] body.
pub const SNAPSHOT_FORMAT: &str = "rootline.evidence_snapshot.v1";

/// Two confidences closer than this are the same (they went through JSON and a cap).
const CONFIDENCE_EPSILON: f64 = 1e-6;

/// Everything a replay needs: the frozen evidence snapshot of one investigation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenEvidence {
    /// [`SNAPSHOT_FORMAT`].
    pub format: String,
    pub incident: Incident,
    pub outcome: Outcome,
    #[serde(default)]
    pub outcome_reason: String,
    pub stats: WindowStats,
    /// Where the compared window started and how that was found (absent in older snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<rootline_core::Onset>,
    pub candidates: Vec<Candidate>,
    pub evidence: Vec<Evidence>,
    /// Exactly the evidence items (local ids, summaries, raw lines) a model is shown.
    pub context: PackedContext,
    /// The model step of the frozen investigation; `None` when it ran offline.
    #[serde(default)]
    pub llm: Option<FrozenModel>,
}

/// Which model and prompt an investigation's model step used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrozenModel {
    /// `llm`, or `offline` when the exchange failed.
    pub mode: String,
    pub model: Option<String>,
    pub prompt: Option<PromptRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the evidence snapshot of investigation {id} is not usable: {reason}")]
    BadSnapshot { id: String, reason: String },
}

impl FrozenEvidence {
    /// Freezes a finished report with the context its model step saw (or would see).
    pub fn freeze(report: &Report, context: &PackedContext) -> FrozenEvidence {
        FrozenEvidence {
            format: SNAPSHOT_FORMAT.into(),
            incident: report.incident.clone(),
            outcome: report.outcome,
            outcome_reason: report.outcome_reason.clone(),
            stats: report.stats.clone(),
            onset: report.onset.clone(),
            candidates: report.candidates.clone(),
            evidence: report.evidence.clone(),
            context: context.clone(),
            llm: report.llm.as_ref().map(|_| FrozenModel {
                mode: report.mode.clone(),
                model: model_of(report),
                prompt: prompt_of(report),
            }),
        }
    }

    pub fn to_value(&self) -> Value {
        // Plain data with string keys: serialising it cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Reads a stored snapshot body; `id` names the investigation in errors.
    pub fn from_value(id: &str, body: &Value) -> Result<FrozenEvidence, ReplayError> {
        let bad = |reason: String| ReplayError::BadSnapshot {
            id: id.to_owned(),
            reason,
        };
        match body.get("format").and_then(Value::as_str) {
            Some(SNAPSHOT_FORMAT) => {}
            Some(other) => {
                return Err(bad(format!(
                    "field `format` is {other:?}, expected {SNAPSHOT_FORMAT:?}"
                )));
            }
            None => return Err(bad("field `format` is missing".into())),
        }
        serde_json::from_value(body.clone()).map_err(|e| bad(e.to_string()))
    }

    /// Every evidence id a claim on this snapshot may cite: the report's evidence and the raw
    /// lines shown in the context.
    pub fn evidence_ids(&self) -> HashSet<&str> {
        let mut ids: HashSet<&str> = self.evidence.iter().map(|e| e.id.as_str()).collect();
        for item in &self.context.items {
            ids.insert(&item.evidence_id);
            ids.extend(item.lines.iter().map(|l| l.record_id.as_str()));
        }
        ids
    }
}

/// The id of a report's `rank`-th (1-based) model hypothesis, as stored and as verdicts target it.
pub fn hypothesis_id(investigation_id: &str, rank: usize) -> String {
    format!("hyp-{investigation_id}-{rank}")
}

/// Gives every model hypothesis of the report its store id (an `id` field in its JSON) and
/// returns the store rows, ranked as in the report.
pub fn number_hypotheses(report: &mut Report) -> Vec<Hypothesis> {
    let mut rows = Vec::with_capacity(report.hypotheses.len());
    for (i, h) in report.hypotheses.iter_mut().enumerate() {
        let id = hypothesis_id(&report.investigation_id, i + 1);
        let text = |key: &str| h.get(key).and_then(Value::as_str).map(str::to_owned);
        rows.push(Hypothesis {
            id: id.clone(),
            investigation_id: report.investigation_id.clone(),
            rank: i as i64 + 1,
            entity: text("entity").unwrap_or_default(),
            fault_type: text("fault_type"),
            statement: text("cause").unwrap_or_default(),
            source: "model".into(),
            created_at: report.created_at.clone(),
        });
        if let Some(o) = h.as_object_mut() {
            o.insert("id".into(), Value::String(id));
        }
    }
    rows
}

/// Re-runs the model step on frozen evidence only and returns the new investigation: a new id,
/// the frozen ranking unchanged, the new model's grounded hypotheses, and `llm.replay_of` /
/// `llm.snapshot_sha256` naming what was replayed. Never fails: a failed exchange gives an
/// offline report with the error recorded, as a first run would.
pub async fn replay(
    frozen: &FrozenEvidence,
    replay_of: &str,
    snapshot_hash: &str,
    run: &LlmRun,
) -> Report {
    let mut report = Report {
        investigation_id: uuid::Uuid::now_v7().to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        incident: frozen.incident.clone(),
        mode: rootline_llm::MODE_OFFLINE.into(),
        outcome: frozen.outcome,
        outcome_reason: frozen.outcome_reason.clone(),
        stats: frozen.stats.clone(),
        onset: frozen.onset.clone(),
        candidates: frozen.candidates.clone(),
        evidence: frozen.evidence.clone(),
        hypotheses: vec![],
        rejected_hypotheses: vec![],
        llm: None,
        missing: Vec::new(),
    };
    let outcome = rootline_llm::hypothesize(
        Some(&run.settings),
        &run.prompts,
        &frozen.incident,
        &frozen.candidates,
        &frozen.context,
        &NoSearch,
        run.cassette.clone(),
    )
    .await;
    record_outcome(&mut report, &outcome, &frozen.context);
    ground_in_frozen(&mut report, frozen);
    if let Some(llm) = report.llm.as_mut().and_then(Value::as_object_mut) {
        llm.insert("replay_of".into(), Value::String(replay_of.to_owned()));
        llm.insert(
            "snapshot_sha256".into(),
            Value::String(snapshot_hash.to_owned()),
        );
        llm.insert("notes".into(), serde_json::json!(outcome.notes));
    }
    report
}

/// Moves every hypothesis citing an evidence id outside the snapshot to the rejected ones. The
/// model's grounding already checks against the items shown; this holds the replay to the
/// snapshot whatever the exchange did (a cassette recorded elsewhere, say).
pub fn ground_in_frozen(report: &mut Report, frozen: &FrozenEvidence) {
    let known = frozen.evidence_ids();
    let mut kept = Vec::with_capacity(report.hypotheses.len());
    for h in std::mem::take(&mut report.hypotheses) {
        let missing: Vec<String> = h
            .get("evidence_ids")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .filter(|id| !known.contains(id))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if missing.is_empty() {
            kept.push(h);
        } else {
            let reason = format!(
                "cites evidence that is not in the frozen snapshot: {}",
                missing.join(", ")
            );
            let rejected = RejectedHypothesis {
                hypothesis: h,
                code: RejectCode::UnknownEvidence,
                reason,
            };
            if let Ok(v) = serde_json::to_value(rejected) {
                report.rejected_hypotheses.push(v);
            }
        }
    }
    report.hypotheses = kept;
}

/// One hypothesis, as a diff shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypothesisBrief {
    pub entity: String,
    pub fault_type: String,
    pub confidence: f64,
    pub cause: String,
}

/// A hypothesis (same entity and fault type) in both runs, with another confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfidenceChange {
    pub entity: String,
    pub fault_type: String,
    pub before: f64,
    pub after: f64,
}

/// What a replay changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayDiff {
    pub original: String,
    pub replay: String,
    pub mode_before: String,
    pub mode_after: String,
    pub model_before: Option<String>,
    pub model_after: Option<String>,
    pub prompt_before: Option<PromptRecord>,
    pub prompt_after: Option<PromptRecord>,
    /// Hypotheses (by entity and fault type) only the replay has.
    pub added: Vec<HypothesisBrief>,
    /// Hypotheses only the original has.
    pub dropped: Vec<HypothesisBrief>,
    pub changed_confidence: Vec<ConfidenceChange>,
    /// Hypotheses in both with the same confidence.
    pub unchanged: usize,
    /// The ranked candidates (entity, fault type, score) are the same in both.
    pub candidates_unchanged: bool,
    /// The replay's model exchange failed with this error.
    pub error_after: Option<String>,
}

fn model_of(report: &Report) -> Option<String> {
    report
        .llm
        .as_ref()
        .and_then(|l| l.get("model"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn prompt_of(report: &Report) -> Option<PromptRecord> {
    report
        .llm
        .as_ref()
        .and_then(|l| l.get("prompt"))
        .and_then(|p| serde_json::from_value(p.clone()).ok())
}

/// The report's hypotheses by (entity, fault type); the first (most confident) of each key.
fn briefs(report: &Report) -> BTreeMap<(String, String), HypothesisBrief> {
    let mut out = BTreeMap::new();
    for h in &report.hypotheses {
        let text = |key: &str| {
            h.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let brief = HypothesisBrief {
            entity: text("entity"),
            fault_type: text("fault_type"),
            confidence: h.get("confidence").and_then(Value::as_f64).unwrap_or(0.0),
            cause: text("cause"),
        };
        out.entry((brief.entity.clone(), brief.fault_type.clone()))
            .or_insert(brief);
    }
    out
}

/// What changed from `original` to `replayed`.
pub fn diff(original: &Report, replayed: &Report) -> ReplayDiff {
    let before = briefs(original);
    let after = briefs(replayed);
    let mut d = ReplayDiff {
        original: original.investigation_id.clone(),
        replay: replayed.investigation_id.clone(),
        mode_before: original.mode.clone(),
        mode_after: replayed.mode.clone(),
        model_before: model_of(original),
        model_after: model_of(replayed),
        prompt_before: prompt_of(original),
        prompt_after: prompt_of(replayed),
        added: vec![],
        dropped: vec![],
        changed_confidence: vec![],
        unchanged: 0,
        candidates_unchanged: same_candidates(&original.candidates, &replayed.candidates),
        error_after: replayed
            .llm
            .as_ref()
            .and_then(|l| l.get("error"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    for (key, b) in &before {
        match after.get(key) {
            None => d.dropped.push(b.clone()),
            Some(a) if (a.confidence - b.confidence).abs() > CONFIDENCE_EPSILON => {
                d.changed_confidence.push(ConfidenceChange {
                    entity: b.entity.clone(),
                    fault_type: b.fault_type.clone(),
                    before: b.confidence,
                    after: a.confidence,
                })
            }
            Some(_) => d.unchanged += 1,
        }
    }
    d.added = after
        .iter()
        .filter(|(k, _)| !before.contains_key(*k))
        .map(|(_, a)| a.clone())
        .collect();
    d
}

fn same_candidates(a: &[Candidate], b: &[Candidate]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.entity == y.entity
                && x.fault_type == y.fault_type
                && (x.score - y.score).abs() <= CONFIDENCE_EPSILON * x.score.abs().max(1.0)
        })
}

fn prompt_text(p: &Option<PromptRecord>) -> String {
    match p {
        Some(p) => format!(
            "{} v{} (sha256 {})",
            p.name,
            p.version,
            &p.sha256[..p.sha256.len().min(12)]
        ),
        None => "none".into(),
    }
}

/// The diff as text for a terminal (also valid Markdown).
pub fn render_diff(d: &ReplayDiff) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Replay {} of investigation {}\n",
        d.replay, d.original
    ));
    s.push_str(&format!(
        "- model: {} -> {}\n",
        d.model_before.as_deref().unwrap_or("none (offline)"),
        d.model_after.as_deref().unwrap_or("none (offline)")
    ));
    s.push_str(&format!(
        "- prompt: {} -> {}\n",
        prompt_text(&d.prompt_before),
        prompt_text(&d.prompt_after)
    ));
    s.push_str(&format!("- mode: {} -> {}\n", d.mode_before, d.mode_after));
    if let Some(e) = &d.error_after {
        s.push_str(&format!("- the replay's model exchange failed: {e}\n"));
    }
    s.push_str(&format!(
        "- candidates: {}\n",
        if d.candidates_unchanged {
            "unchanged (the offline ranking is deterministic and the evidence is frozen)"
        } else {
            "DIFFERENT from the stored report (its evidence snapshot does not match it)"
        }
    ));
    let line = |h: &HypothesisBrief| {
        format!(
            "{} ({}) confidence {:.2}: {}",
            h.entity, h.fault_type, h.confidence, h.cause
        )
    };
    for h in &d.added {
        s.push_str(&format!("- added: {}\n", line(h)));
    }
    for h in &d.dropped {
        s.push_str(&format!("- dropped: {}\n", line(h)));
    }
    for c in &d.changed_confidence {
        s.push_str(&format!(
            "- changed confidence: {} ({}) {:.2} -> {:.2}\n",
            c.entity, c.fault_type, c.before, c.after
        ));
    }
    s.push_str(&format!(
        "- {} added, {} dropped, {} changed confidence, {} unchanged\n",
        d.added.len(),
        d.dropped.len(),
        d.changed_confidence.len(),
        d.unchanged
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(id: &str, model: Option<&str>, hypotheses: Vec<Value>) -> Report {
        serde_json::from_value(json!({
            "investigation_id": id,
            "created_at": "2023-01-29T09:00:00Z",
            "incident": {"id": "inc-1", "title": "t", "start": "2023-01-29T08:43:00Z"},
            "mode": if model.is_some() { "llm" } else { "offline" },
            "outcome": "probable_cause",
            "stats": {
                "window_start": "a", "window_end": "b", "baseline_start": "c", "baseline_end": "d",
                "window_records": 10, "baseline_records": 9, "services_seen": 2,
            },
            "candidates": [{"entity": "payments", "fault_type": "exception", "score": 2.0,
                            "evidence": ["sig-1"], "why": "w"}],
            "evidence": [{"id": "sig-1", "kind": "new_message", "entity": "payments",
                          "first_seen_ns": 1, "strength": 0.9, "summary": "s",
                          "examples": ["log-1"]}],
            "hypotheses": hypotheses,
            "llm": model.map(|m| json!({"model": m,
                "prompt": {"name": "hypotheses", "version": 1, "sha256": "abcdef0123456789"}})),
        }))
        .unwrap()
    }

    fn hyp(entity: &str, fault: &str, confidence: f64, ids: &[&str]) -> Value {
        json!({"entity": entity, "fault_type": fault, "confidence": confidence,
               "cause": format!("{entity} broke"), "evidence_ids": ids})
    }

    #[test]
    fn diff_names_added_dropped_and_changed_hypotheses() {
        let a = report(
            "inv-a",
            Some("model-a"),
            vec![
                hyp("payments", "exception", 0.8, &["sig-1"]),
                hyp("db", "latency", 0.5, &["sig-1"]),
            ],
        );
        let b = report(
            "inv-b",
            Some("model-b"),
            vec![
                hyp("payments", "exception", 0.6, &["sig-1"]),
                hyp("cache", "memory", 0.4, &["sig-1"]),
            ],
        );
        let d = diff(&a, &b);
        assert_eq!(d.model_before.as_deref(), Some("model-a"));
        assert_eq!(d.model_after.as_deref(), Some("model-b"));
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].entity, "cache");
        assert_eq!(d.dropped.len(), 1);
        assert_eq!(d.dropped[0].entity, "db");
        assert_eq!(d.changed_confidence.len(), 1);
        assert_eq!(d.changed_confidence[0].before, 0.8);
        assert_eq!(d.changed_confidence[0].after, 0.6);
        assert_eq!(d.unchanged, 0);
        assert!(d.candidates_unchanged);
        let text = render_diff(&d);
        assert!(text.contains("model: model-a -> model-b"), "{text}");
        assert!(text.contains("added: cache (memory)"), "{text}");
        assert!(text.contains("dropped: db (latency)"), "{text}");
        assert!(
            text.contains("changed confidence: payments (exception) 0.80 -> 0.60"),
            "{text}"
        );

        let mut c = b.clone();
        c.candidates[0].entity = "other".into();
        assert!(!diff(&a, &c).candidates_unchanged);
        assert_eq!(diff(&a, &a).unchanged, 2);
    }

    #[test]
    fn snapshot_round_trips_and_bad_ones_name_the_field() {
        let r = report("inv-a", Some("model-a"), vec![]);
        let frozen = FrozenEvidence::freeze(&r, &PackedContext::default());
        assert_eq!(
            frozen.llm.as_ref().unwrap().model.as_deref(),
            Some("model-a")
        );
        let back = FrozenEvidence::from_value("inv-a", &frozen.to_value()).unwrap();
        assert_eq!(back, frozen);

        let mut v = frozen.to_value();
        v.as_object_mut().unwrap().remove("context");
        let e = FrozenEvidence::from_value("inv-a", &v)
            .unwrap_err()
            .to_string();
        assert!(e.contains("inv-a") && e.contains("context"), "{e}");
        let e = FrozenEvidence::from_value("inv-a", &json!({"evidence": []}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`format` is missing"), "{e}");
        let offline = FrozenEvidence::freeze(&report("x", None, vec![]), &PackedContext::default());
        assert!(offline.llm.is_none());
    }

    #[test]
    fn claims_outside_the_snapshot_are_rejected() {
        let mut r = report(
            "inv-a",
            Some("m"),
            vec![
                hyp("payments", "exception", 0.8, &["sig-1", "log-1"]),
                hyp("db", "latency", 0.5, &["sig-9"]),
            ],
        );
        let mut frozen = FrozenEvidence::freeze(&r, &PackedContext::default());
        frozen
            .context
            .items
            .push(rootline_signals::pack::PackedItem {
                id: "E1".into(),
                evidence_id: "sig-1".into(),
                entity: "payments".into(),
                kind: rootline_core::EvidenceKind::NewMessage,
                first_seen_ns: 1,
                strength: 0.9,
                summary: "s".into(),
                lines: vec![rootline_signals::pack::PackedLine {
                    record_id: "log-1".into(),
                    text: "boom".into(),
                }],
            });
        ground_in_frozen(&mut r, &frozen);
        assert_eq!(r.hypotheses.len(), 1);
        assert_eq!(r.hypotheses[0]["entity"], "payments");
        assert_eq!(r.rejected_hypotheses.len(), 1);
        assert!(
            r.rejected_hypotheses[0]["reason"]
                .as_str()
                .unwrap()
                .contains("sig-9")
        );
    }

    #[test]
    fn hypotheses_get_store_ids_in_rank_order() {
        let mut r = report(
            "inv-a",
            Some("m"),
            vec![
                hyp("payments", "exception", 0.8, &["sig-1"]),
                hyp("db", "latency", 0.5, &["sig-1"]),
            ],
        );
        let rows = number_hypotheses(&mut r);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].id, "hyp-inv-a-2");
        assert_eq!(rows[1].rank, 2);
        assert_eq!(rows[1].entity, "db");
        assert_eq!(rows[1].fault_type.as_deref(), Some("latency"));
        assert_eq!(rows[0].statement, "payments broke");
        assert_eq!(rows[0].source, "model");
        assert_eq!(r.hypotheses[0]["id"], "hyp-inv-a-1");
    }
}
