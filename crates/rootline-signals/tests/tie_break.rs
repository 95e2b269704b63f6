//! Candidates with equal scores (one alert each, on alert-only data) are ordered by who showed
//! a change first, not by name: effects follow their cause.

use rootline_core::{Evidence, FaultType};
use rootline_signals::{Finding, FindingKind, RankConfig, RankContext, rank};

/// One finding about `entity` first seen at `first_seen_ns` (built through serde so that later
/// optional fields of `Evidence` keep their defaults).
fn finding(id: &str, entity: &str, first_seen_ns: i64) -> Finding {
    let evidence: Evidence = serde_json::from_value(serde_json::json!({
        "id": id,
        "kind": "metric_anomaly",
        "entity": entity,
        "first_seen_ns": first_seen_ns,
        "strength": 0.7,
        "summary": format!("alert on {entity}"),
    }))
    .unwrap();
    Finding {
        // What a finding is comes from its kind, not its id; these ids only name them.
        kind: if id.starts_with("sig-vanished") {
            FindingKind::Stopped
        } else {
            FindingKind::Metric
        },
        evidence,
        contribution: 1.4,
        fault: FaultType::Unknown,
    }
}

fn order(findings: Vec<Finding>) -> Vec<String> {
    let context = RankContext {
        window_records: 100,
        baseline_records: 100,
        graph: None,
    };
    rank(findings, &context, &RankConfig::default())
        .candidates
        .into_iter()
        .map(|c| c.entity)
        .collect()
}

#[test]
fn equal_scores_rank_the_first_to_change_first() {
    let r = order(vec![
        finding("sig-metric-a", "adservice", 3_000),
        finding("sig-metric-n", "node-6", 1_000),
        finding("sig-metric-c", "cartservice", 2_000),
    ]);
    assert_eq!(r, ["node-6", "cartservice", "adservice"]);
}

/// A message that stopped carries a time from the baseline, which says nothing about who changed
/// first in the window: an entity whose only finding is one ranks after an equal one with a
/// change seen in the window, whatever the names.
#[test]
fn messages_that_stopped_do_not_count_as_first() {
    let r = order(vec![
        finding("sig-vanished-b", "billing", -5_000),
        finding("sig-metric-a", "auth", 1_000),
    ]);
    assert_eq!(r, ["auth", "billing"]);
    let r = order(vec![
        finding("sig-vanished-a", "auth", -5_000),
        finding("sig-metric-b", "billing", 1_000),
    ]);
    assert_eq!(r, ["billing", "auth"]);
}
