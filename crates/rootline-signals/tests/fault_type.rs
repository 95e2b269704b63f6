//! The fault type a candidate is given: a resource the entity itself saturates names it over
//! the log symptoms that starvation causes.

use rootline_core::{Evidence, FaultType};
use rootline_signals::{Finding, FindingKind, RankConfig, RankContext, rank};

fn finding(id: &str, kind: &str, strength: f64, contribution: f64, fault: FaultType) -> Finding {
    let evidence: Evidence = serde_json::from_value(serde_json::json!({
        "id": id,
        "kind": kind,
        "entity": "preserve",
        "first_seen_ns": 0,
        "strength": strength,
        "summary": id,
    }))
    .unwrap();
    Finding {
        kind: if kind == "new_message" {
            FindingKind::NewMessage
        } else {
            FindingKind::Metric
        },
        evidence,
        contribution,
        fault,
    }
}

fn top_fault(findings: Vec<Finding>) -> FaultType {
    let context = RankContext {
        window_records: 100,
        baseline_records: 100,
        graph: None,
    };
    rank(findings, &context, &RankConfig::default()).candidates[0].fault_type
}

#[test]
fn a_saturated_cpu_outweighs_the_exceptions_it_causes() {
    let logs = || {
        vec![
            finding("sig-new-1", "new_message", 0.9, 8.0, FaultType::Exception),
            finding("sig-new-2", "new_message", 0.8, 6.0, FaultType::Exception),
        ]
    };
    let mut strong = logs();
    strong.push(finding(
        "sig-metric-cpu",
        "metric_anomaly",
        0.99,
        2.0,
        FaultType::Cpu,
    ));
    assert_eq!(top_fault(strong), FaultType::Cpu);
    // A mild CPU rise does not overrule what the logs show.
    let mut mild = logs();
    mild.push(finding(
        "sig-metric-cpu",
        "metric_anomaly",
        0.5,
        2.0,
        FaultType::Cpu,
    ));
    assert_eq!(top_fault(mild), FaultType::Exception);
}
