//! Evidence recall of the packed LLM context: whether the evidence that proves the root cause is
//! among what a model would get to see at a token budget.
//!
//! The ground-truth evidence of a case is every evidence item the engine produced that matches
//! one of the truth's `evidence` patterns or, when the truth has none, every item about the
//! root-cause entity (matched at every level the truth names, with the scorer's rules). An item is
//! "in the pack" when its evidence id is among the packed items.

use std::collections::{BTreeSet, HashMap};

use rootline_core::Evidence;
use rootline_signals::pack::PackedContext;
use serde::{Deserialize, Serialize};

use crate::score::{CaseResult, Rate};
use crate::truth::{EvidencePattern, Truth};

/// The budgets measured by default, in estimated tokens.
pub const DEFAULT_BUDGETS: [usize; 2] = [8_000, 32_000];

/// How a case's ground-truth evidence was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The truth's own `evidence` patterns.
    Patterns,
    /// Every item whose entity is the root cause.
    RootCauseEntity,
}

/// One budget of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetRecall {
    pub budget_tokens: usize,
    /// Items in the pack (of any entity).
    pub packed_items: usize,
    /// Ground-truth items in the pack.
    pub truth_packed: usize,
    /// At least one ground-truth item is in the pack.
    pub any: bool,
    /// `truth_packed` / ground-truth items (0 when there are none).
    pub share: f64,
    /// The strongest ground-truth item is in the pack.
    pub strongest: bool,
}

/// The evidence recall of one fault case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecall {
    pub basis: Basis,
    /// Evidence items the engine produced in all.
    pub evidence_items: usize,
    /// Evidence ids of the ground-truth items, strongest first. Empty: the engine produced no
    /// evidence about the root cause, and every budget counts as a miss.
    pub truth_evidence: Vec<String>,
    pub budgets: Vec<BudgetRecall>,
}

/// Whether recall is measured for this truth: a fault case that names a root cause or patterns.
pub fn applies(truth: &Truth) -> bool {
    !truth.no_fault
        && (!truth.evidence.is_empty()
            || crate::truth::Level::ALL
                .into_iter()
                .any(|l| truth.target(l).is_some()))
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack
        .to_lowercase()
        .contains(needle.trim().to_lowercase().as_str())
}

fn pattern_matches(
    truth: &Truth,
    p: &EvidencePattern,
    e: &Evidence,
    examples: &HashMap<String, String>,
) -> bool {
    let entity_ok = p
        .entity
        .as_deref()
        .is_none_or(|want| truth.entity_matches(want, &e.entity));
    let kind_ok = p.kind.is_none_or(|k| k == e.kind);
    let text_ok = p.text.as_deref().is_none_or(|t| {
        contains_ci(&e.summary, t)
            || e.examples
                .iter()
                .filter_map(|id| examples.get(id))
                .any(|line| contains_ci(line, t))
    });
    entity_ok && kind_ok && text_ok
}

/// The ground-truth evidence among `evidence`, strongest first (then by id). `examples` maps log
/// record ids to their raw lines, for text patterns.
pub fn truth_evidence<'a>(
    truth: &Truth,
    evidence: &'a [Evidence],
    examples: &HashMap<String, String>,
) -> (Basis, Vec<&'a Evidence>) {
    let (basis, mut hits): (Basis, Vec<&Evidence>) = if truth.evidence.is_empty() {
        let hits = evidence
            .iter()
            .filter(|e| truth.is_root_cause_entity(&e.entity))
            .collect();
        (Basis::RootCauseEntity, hits)
    } else {
        let hits = evidence
            .iter()
            .filter(|e| {
                truth
                    .evidence
                    .iter()
                    .any(|p| pattern_matches(truth, p, e, examples))
            })
            .collect();
        (Basis::Patterns, hits)
    };
    hits.sort_by(|a, b| {
        b.strength
            .total_cmp(&a.strength)
            .then_with(|| a.id.cmp(&b.id))
    });
    hits.dedup_by(|a, b| a.id == b.id);
    (basis, hits)
}

/// The recall of one case over the packs made at each budget. None when recall does not apply
/// (a control, or a truth that names nothing).
pub fn case_recall(
    truth: &Truth,
    evidence: &[Evidence],
    examples: &HashMap<String, String>,
    packs: &[PackedContext],
) -> Option<CaseRecall> {
    if !applies(truth) {
        return None;
    }
    let (basis, hits) = truth_evidence(truth, evidence, examples);
    let budgets = packs
        .iter()
        .map(|p| {
            let packed: BTreeSet<&str> = p.items.iter().map(|i| i.evidence_id.as_str()).collect();
            let truth_packed = hits
                .iter()
                .filter(|e| packed.contains(e.id.as_str()))
                .count();
            BudgetRecall {
                budget_tokens: p.budget_tokens,
                packed_items: p.items.len(),
                truth_packed,
                any: truth_packed > 0,
                share: if hits.is_empty() {
                    0.0
                } else {
                    truth_packed as f64 / hits.len() as f64
                },
                strongest: hits.first().is_some_and(|e| packed.contains(e.id.as_str())),
            }
        })
        .collect();
    Some(CaseRecall {
        basis,
        evidence_items: evidence.len(),
        truth_evidence: hits.iter().map(|e| e.id.clone()).collect(),
        budgets,
    })
}

/// Evidence recall of one dataset at one budget.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecallSummary {
    pub budget_tokens: usize,
    /// Fault cases where recall applies. Failed cases are among them, as misses.
    pub n: usize,
    /// Of those, cases where the engine produced no evidence about the root cause at all (or
    /// failed). They count as misses in `any`, `strongest` and `share`.
    pub no_truth_evidence: usize,
    /// Cases with at least one ground-truth item in the pack, over all `n`.
    pub any: Rate,
    /// Cases whose strongest ground-truth item is in the pack, over all `n`.
    pub strongest: Rate,
    /// Mean share of the ground-truth items in the pack, over all `n`.
    pub share: f64,
    /// `any` over the cases that have ground-truth evidence.
    pub any_given_evidence: Rate,
    /// `share` over the cases that have ground-truth evidence (0 when none has).
    pub share_given_evidence: f64,
}

/// One summary per budget measured in any of `cases`, ascending.
pub fn summarise_recall(cases: &[&CaseResult]) -> Vec<RecallSummary> {
    let budgets: BTreeSet<usize> = cases
        .iter()
        .filter_map(|c| c.evidence_recall.as_ref())
        .flat_map(|r| r.budgets.iter().map(|b| b.budget_tokens))
        .collect();
    budgets
        .into_iter()
        .map(|budget| {
            let mut s = RecallSummary {
                budget_tokens: budget,
                ..RecallSummary::default()
            };
            let (mut share_sum, mut share_given_sum) = (0.0, 0.0);
            for c in cases {
                if !c.truth.as_ref().is_some_and(applies) {
                    continue;
                }
                s.n += 1;
                let b = c
                    .evidence_recall
                    .as_ref()
                    .filter(|r| !r.truth_evidence.is_empty())
                    .and_then(|r| r.budgets.iter().find(|b| b.budget_tokens == budget));
                s.any.n += 1;
                s.strongest.n += 1;
                let Some(b) = b else {
                    s.no_truth_evidence += 1;
                    continue;
                };
                s.any.hits += usize::from(b.any);
                s.strongest.hits += usize::from(b.strongest);
                share_sum += b.share;
                s.any_given_evidence.n += 1;
                s.any_given_evidence.hits += usize::from(b.any);
                share_given_sum += b.share;
            }
            if s.n > 0 {
                s.share = share_sum / s.n as f64;
            }
            if s.any_given_evidence.n > 0 {
                s.share_given_evidence = share_given_sum / s.any_given_evidence.n as f64;
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::{Candidate, EvidenceKind, FaultType};
    use rootline_signals::pack::pack;

    fn ev(
        id: &str,
        entity: &str,
        kind: EvidenceKind,
        strength: f64,
        examples: &[&str],
    ) -> Evidence {
        Evidence {
            id: id.into(),
            kind,
            entity: entity.into(),
            first_seen_ns: 0,
            strength,
            summary: format!("{entity}: {kind:?} {}", "x".repeat(200)),
            examples: examples.iter().map(|s| s.to_string()).collect(),
            instances: vec![],
            modules: vec![],
        }
    }

    fn truth_service(service: &str) -> Truth {
        Truth {
            root_cause_service: Some(service.into()),
            ..Truth::default()
        }
    }

    /// Two decoy services ranked above the culprit, each with more evidence than the culprit.
    fn scene() -> (Vec<Evidence>, Vec<Candidate>) {
        let mut evidence = Vec::new();
        let mut candidates = Vec::new();
        for (s, name) in ["ts-order-service", "ts-travel-service"].iter().enumerate() {
            let ids: Vec<String> = (0..6).map(|i| format!("sig-{s}-{i}")).collect();
            for (i, id) in ids.iter().enumerate() {
                evidence.push(ev(
                    id,
                    name,
                    EvidenceKind::RateChange,
                    0.9 - i as f64 * 0.01,
                    &[],
                ));
            }
            candidates.push(Candidate {
                entity: name.to_string(),
                fault_type: FaultType::Exception,
                score: 10.0 - s as f64,
                evidence: ids,
                why: String::new(),
                score_by_signal: Default::default(),
                instances: vec![],
                modules: vec![],
                first_change: None,
            });
        }
        // The culprit: one item on the service, one on its pod, one metric on the pod.
        evidence.push(ev(
            "sig-b-0",
            "ts-basic-service",
            EvidenceKind::NewMessage,
            0.5,
            &["log-1"],
        ));
        evidence.push(ev(
            "sig-b-1",
            "ts-basic-service-5dc8d4f9fd-46997",
            EvidenceKind::ErrorRate,
            0.8,
            &[],
        ));
        evidence.push(ev(
            "sig-b-2",
            "ts-basic-service-5dc8d4f9fd-46997",
            EvidenceKind::MetricAnomaly,
            0.3,
            &[],
        ));
        candidates.push(Candidate {
            entity: "ts-basic-service".into(),
            fault_type: FaultType::Exception,
            score: 1.0,
            evidence: vec!["sig-b-0".into(), "sig-b-1".into()],
            why: String::new(),
            score_by_signal: Default::default(),
            instances: vec![],
            modules: vec![],
            first_change: None,
        });
        (evidence, candidates)
    }

    #[test]
    fn root_cause_entity_basis_takes_instances_of_the_service() {
        let (evidence, _) = scene();
        let (basis, hits) = truth_evidence(
            &truth_service("ts-basic-service"),
            &evidence,
            &HashMap::new(),
        );
        assert_eq!(basis, Basis::RootCauseEntity);
        let ids: Vec<&str> = hits.iter().map(|e| e.id.as_str()).collect();
        // Strongest first: the pod's error rate (0.8), the service's new message (0.5), the metric.
        assert_eq!(ids, ["sig-b-1", "sig-b-0", "sig-b-2"]);
        // A pod-level truth takes only the pod's items.
        let t = Truth {
            root_cause_pod: Some("ts-basic-service-5dc8d4f9fd-46997".into()),
            ..Truth::default()
        };
        let (_, hits) = truth_evidence(&t, &evidence, &HashMap::new());
        assert_eq!(hits.len(), 2);
    }

    #[test]
    fn recall_counts_what_the_real_packer_kept() {
        let (evidence, candidates) = scene();
        let examples = HashMap::new();
        // Interleaved by rank: each candidate's first cited item, then each one's second; the
        // culprit's strongest item (cited second) does not fit.
        let small = pack(&evidence, &candidates, &examples, 450);
        let large = pack(&evidence, &candidates, &examples, 32_000);
        let ids: Vec<&str> = small.items.iter().map(|i| i.evidence_id.as_str()).collect();
        assert_eq!(ids, ["sig-0-0", "sig-1-0", "sig-b-0", "sig-0-1"]);
        let r = case_recall(
            &truth_service("ts-basic-service"),
            &evidence,
            &examples,
            &[small, large],
        )
        .unwrap();
        assert_eq!(r.evidence_items, 15);
        assert_eq!(r.truth_evidence, ["sig-b-1", "sig-b-0", "sig-b-2"]);
        let (s, l) = (&r.budgets[0], &r.budgets[1]);
        assert_eq!(
            (s.budget_tokens, s.truth_packed, s.any, s.strongest),
            (450, 1, true, false)
        );
        assert!((s.share - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            (l.truth_packed, l.any, l.strongest, l.share),
            (3, true, true, 1.0)
        );
        assert_eq!(l.packed_items, 15);
        // A case whose root cause has no evidence at all: nothing to find, a miss at every budget.
        let r = case_recall(
            &truth_service("ts-food-service"),
            &evidence,
            &examples,
            &[pack(&evidence, &candidates, &examples, 32_000)],
        )
        .unwrap();
        assert!(r.truth_evidence.is_empty());
        assert_eq!((r.budgets[0].any, r.budgets[0].share), (false, 0.0));
        // Controls are not measured.
        let control = Truth {
            no_fault: true,
            ..truth_service("ts-basic-service")
        };
        assert!(case_recall(&control, &evidence, &examples, &[]).is_none());
    }

    #[test]
    fn patterns_match_text_in_lines_kind_and_entity() {
        let (evidence, _) = scene();
        let examples = HashMap::from([(
            "log-1".to_string(),
            "ERROR BasicServiceImpl: station id not found".to_string(),
        )]);
        let t: Truth = serde_json::from_str(
            r#"{"root_cause_service":"ts-basic-service",
                "evidence":[{"text":"STATION ID NOT FOUND"},
                            {"entity":"ts-basic-service","kind":"metric_anomaly"}]}"#,
        )
        .unwrap();
        t.validate().unwrap();
        let (basis, hits) = truth_evidence(&t, &evidence, &examples);
        assert_eq!(basis, Basis::Patterns);
        let ids: Vec<&str> = hits.iter().map(|e| e.id.as_str()).collect();
        // The text is in sig-b-0's example line; the metric is on a pod of the service.
        assert_eq!(ids, ["sig-b-0", "sig-b-2"]);
        // Without the lines the text pattern finds nothing.
        let (_, hits) = truth_evidence(&t, &evidence, &HashMap::new());
        assert_eq!(hits.len(), 1);
        // A pattern that names nothing would match everything: rejected.
        let bad: Truth =
            serde_json::from_str(r#"{"evidence":[{"kind":"change"},{"text":" "}]}"#).unwrap();
        assert_eq!(
            bad.validate().unwrap_err(),
            "evidence[1]: a pattern needs at least one of text, entity, kind"
        );
        assert!(serde_json::from_str::<Truth>(r#"{"evidence":[{"kind":"nope"}]}"#).is_err());
    }

    fn case(truth: Truth, recall: Option<CaseRecall>) -> CaseResult {
        let mut c = crate::score::failed_case("c".into(), "i".into(), Some(truth), "x".into(), 0.0);
        c.error = None;
        c.evidence_recall = recall;
        c
    }

    fn budgets(truth_len: usize, packed: &[(usize, usize)]) -> CaseRecall {
        CaseRecall {
            basis: Basis::RootCauseEntity,
            evidence_items: 10,
            truth_evidence: (0..truth_len).map(|i| format!("e{i}")).collect(),
            budgets: packed
                .iter()
                .map(|&(budget_tokens, n)| BudgetRecall {
                    budget_tokens,
                    packed_items: 5,
                    truth_packed: n,
                    any: n > 0,
                    share: if truth_len == 0 {
                        0.0
                    } else {
                        n as f64 / truth_len as f64
                    },
                    strongest: n == truth_len && n > 0,
                })
                .collect(),
        }
    }

    #[test]
    fn summary_counts_cases_without_truth_evidence_as_misses() {
        let t = truth_service("a");
        let cases = [
            case(t.clone(), Some(budgets(2, &[(8_000, 1), (32_000, 2)]))),
            case(t.clone(), Some(budgets(4, &[(8_000, 0), (32_000, 4)]))),
            // The engine produced nothing about the root cause.
            case(t.clone(), Some(budgets(0, &[(8_000, 0), (32_000, 0)]))),
            // Failed to run: no measurement at all.
            case(t.clone(), None),
            // Controls and truths naming nothing are not counted.
            case(
                Truth {
                    no_fault: true,
                    ..t.clone()
                },
                None,
            ),
            case(Truth::default(), None),
        ];
        let refs: Vec<&CaseResult> = cases.iter().collect();
        let s = summarise_recall(&refs);
        assert_eq!(s.len(), 2);
        let (s8, s32) = (&s[0], &s[1]);
        assert_eq!(
            (s8.budget_tokens, s8.n, s8.no_truth_evidence),
            (8_000, 4, 2)
        );
        assert_eq!(s8.any, Rate { n: 4, hits: 1 });
        assert_eq!(s8.strongest, Rate { n: 4, hits: 0 });
        assert!((s8.share - 0.5 / 4.0).abs() < 1e-9);
        assert_eq!(s8.any_given_evidence, Rate { n: 2, hits: 1 });
        assert!((s8.share_given_evidence - 0.25).abs() < 1e-9);
        assert_eq!(s32.any, Rate { n: 4, hits: 2 });
        assert_eq!(s32.strongest, Rate { n: 4, hits: 2 });
        assert!((s32.share - 0.5).abs() < 1e-9);
        assert_eq!(s32.any_given_evidence.value(), Some(1.0));
        // No measurement anywhere: no summary rows.
        assert!(summarise_recall(&refs[3..]).is_empty());
    }
}
