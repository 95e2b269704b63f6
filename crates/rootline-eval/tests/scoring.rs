//! Scoring on synthetic reports: AC@k, Avg@5, control cases, fault type, per-dataset grouping,
//! and the Markdown rendering of the result.

use rootline_core::{Candidate, FaultType, Incident, Outcome, Report, WindowStats};
use rootline_eval::{
    EvalReport, Level, LevelMetrics, Ranked, Truth, render_markdown, score_case, summarise,
};

fn report(outcome: Outcome, candidates: &[(&str, FaultType, f64)]) -> Report {
    Report {
        investigation_id: "inv".into(),
        created_at: "2024-01-01T00:00:00Z".into(),
        incident: Incident {
            id: "case".into(),
            title: "anomaly".into(),
            description: String::new(),
            start: "2023-01-29T08:43:00Z".parse().unwrap(),
            end: None,
            services: vec![],
            alert: None,
            baseline_windows: vec![],
        },
        mode: "offline".into(),
        outcome,
        outcome_reason: String::new(),
        stats: WindowStats::default(),
        onset: None,
        candidates: candidates
            .iter()
            .map(|(e, f, s)| Candidate {
                entity: e.to_string(),
                fault_type: *f,
                score: *s,
                evidence: vec![],
                why: String::new(),
                score_by_signal: Default::default(),
                instances: vec![],
                modules: vec![],
                first_change: None,
            })
            .collect(),
        evidence: vec![],
        hypotheses: vec![],
        rejected_hypotheses: vec![],
        llm: None,
        missing: Vec::new(),
    }
}

fn truth(json: &str) -> Truth {
    serde_json::from_str(json).unwrap()
}

fn naive(entities: &[&str]) -> Vec<Ranked> {
    entities
        .iter()
        .enumerate()
        .map(|(i, e)| Ranked {
            entity: e.to_string(),
            score: (10 - i) as f64,
            fault_type: String::new(),
            instance: None,
            modules: vec![],
        })
        .collect()
}

#[test]
fn ac_at_k_and_avg5_from_ranks() {
    // Ranks 1, 3, 6 (beyond top 5) and a miss.
    let m = LevelMetrics::from_ranks(&[Some(1), Some(3), Some(6), None]);
    assert_eq!(m.n, 4);
    assert_eq!(m.ac, [0.25, 0.25, 0.5, 0.5, 0.5]);
    assert!((m.avg5 - 0.4).abs() < 1e-12);
    assert_eq!(LevelMetrics::from_ranks(&[]).n, 0);
}

#[test]
fn scores_a_case_at_every_level_the_truth_names() {
    use FaultType::*;
    let r = report(
        Outcome::InsufficientEvidence,
        &[
            ("ts-order-service", ErrorSpike, 9.0),
            ("ts-food-service", Exception, 4.0),
            ("ts-food-service-f5756978c-k8vqf", Exception, 1.0),
        ],
    );
    let t = truth(
        r#"{"source":"nezha","root_cause_service":"ts-food-service",
            "root_cause_pod":"ts-food-service-f5756978c-k8vqf","fault_type":"exception",
            "fault_type_rootline":["exception"]}"#,
    );
    let c = score_case(
        "a".into(),
        &r,
        Some(t),
        naive(&["ts-order-service", "ts-route-service", "ts-food-service"]),
        1.5,
        100,
    );
    assert_eq!(c.ranks.get(&Level::Service), Some(&Some(2)));
    assert_eq!(c.ranks.get(&Level::Pod), Some(&Some(3)));
    assert_eq!(c.ranks.get(&Level::Module), None);
    assert_eq!(c.naive_ranks.get(&Level::Service), Some(&Some(3)));
    assert_eq!(c.naive_ranks.get(&Level::Pod), Some(&None));
    // The top candidate says error spike; the matching one (the pod, most specific) says exception.
    assert_eq!(c.fault_type_top1, Some(false));
    assert_eq!(c.fault_type_at_truth, Some(true));
    assert_eq!(c.control_correct, None);
    assert_eq!(c.top.len(), 3);
    assert_eq!(c.top[0].fault_type, "error_spike");
}

#[test]
fn controls_fault_types_and_grouping() {
    use FaultType::*;
    let mut cases = Vec::new();
    // Dataset "a": hit at 1, hit at 4, miss, a control correctly quiet, a control with a false alarm.
    let t = |svc: &str| {
        truth(&format!(
            r#"{{"source":"a","root_cause_service":"{svc}","fault_type_rootline":["cpu"]}}"#
        ))
    };
    cases.push(score_case(
        "1".into(),
        &report(Outcome::ProbableCause, &[("x", Cpu, 5.0), ("y", Cpu, 1.0)]),
        Some(t("x")),
        naive(&["y", "x"]),
        1.0,
        1,
    ));
    cases.push(score_case(
        "2".into(),
        &report(
            Outcome::InsufficientEvidence,
            &[
                ("p", Memory, 3.0),
                ("q", Cpu, 2.0),
                ("r", Cpu, 2.0),
                ("x", Cpu, 1.0),
            ],
        ),
        Some(t("x")),
        naive(&["x"]),
        3.0,
        1,
    ));
    cases.push(score_case(
        "3".into(),
        &report(Outcome::NoIncidentDetected, &[]),
        Some(t("x")),
        vec![],
        2.0,
        1,
    ));
    let control = truth(r#"{"source":"a","no_fault":true,"root_cause_service":"x"}"#);
    cases.push(score_case(
        "4".into(),
        &report(Outcome::NoIncidentDetected, &[]),
        Some(control.clone()),
        vec![],
        1.0,
        1,
    ));
    cases.push(score_case(
        "5".into(),
        &report(Outcome::ProbableCause, &[("x", Cpu, 9.0)]),
        Some(control),
        naive(&["x"]),
        1.0,
        1,
    ));
    // Dataset "b": one case without any fault-type mapping.
    cases.push(score_case(
        "6".into(),
        &report(Outcome::ProbableCause, &[("n1", Cpu, 9.0)]),
        Some(truth(r#"{"source":"b","root_cause_entity":"n1"}"#)),
        naive(&["n1"]),
        0.5,
        1,
    ));
    // Controls are not ranked.
    assert!(cases[3].ranks.is_empty());
    assert_eq!(cases[3].control_correct, Some(true));
    assert_eq!(cases[4].control_correct, Some(false));

    let summaries = summarise(&cases);
    assert_eq!(summaries.len(), 2);
    let a = &summaries[0];
    assert_eq!(a.source, "a");
    assert_eq!((a.cases, a.fault_cases, a.controls), (5, 3, 2));
    let svc = &a.levels[&Level::Service];
    assert_eq!(svc.n, 3);
    assert_eq!(
        svc.ac,
        [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]
    );
    assert!((svc.avg5 - (1.0 + 1.0 + 1.0 + 2.0 + 2.0) / 15.0).abs() < 1e-12);
    let naive_svc = &a.naive_levels[&Level::Service];
    assert_eq!(naive_svc.ac[0], 1.0 / 3.0); // case 2's naive ranker has x first
    assert_eq!(naive_svc.ac[2], 2.0 / 3.0);
    // Fault type: case 1 top is cpu (hit), case 2 top is memory (miss), case 3 has no candidate.
    assert_eq!((a.fault_type_top1.n, a.fault_type_top1.hits), (3, 1));
    assert_eq!(
        (a.fault_type_at_truth.n, a.fault_type_at_truth.hits),
        (2, 2)
    );
    assert_eq!((a.controls_correct.n, a.controls_correct.hits), (2, 1));
    // Only case 1 committed to a probable cause among the fault cases, and it was right.
    assert_eq!((a.committed_correct.n, a.committed_correct.hits), (1, 1));
    assert_eq!(a.outcomes["probable_cause"], 2);
    assert_eq!(a.outcomes["no_incident_detected"], 2);
    assert!((a.seconds_mean - 1.6).abs() < 1e-12);
    assert_eq!(a.seconds_max, 3.0);
    let b = &summaries[1];
    assert_eq!(b.levels[&Level::Entity].ac[0], 1.0);
    assert_eq!(b.fault_type_top1.n, 0);

    let report = EvalReport {
        dir: "x".into(),
        summaries,
        cases,
        jitter: vec![],
        models: vec![],
    };
    let md = render_markdown(&report);
    assert!(
        md.contains("| a | service | 3 | 0.33 | 0.33 | 0.47 | 0.33 | 0.67 |"),
        "{md}"
    );
    assert!(md.contains("control: false alarm"));
    // The JSON form round-trips.
    let json = serde_json::to_string(&report).unwrap();
    let back: EvalReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn fault_type_at_truth_falls_back_to_the_level_that_matched() {
    // The module is named by the truth but no candidate is a module: the service match decides.
    let r = report(
        Outcome::ProbableCause,
        &[
            ("neutron", FaultType::ErrorSpike, 9.0),
            ("nova", FaultType::Exception, 1.0),
        ],
    );
    let t = truth(
        r#"{"root_cause_service":"nova","root_cause_module":"nova.compute.manager",
            "fault_type_rootline":"exception"}"#,
    );
    let c = score_case("c".into(), &r, Some(t), vec![], 0.1, 1);
    assert_eq!(c.ranks.get(&Level::Module), Some(&None));
    assert_eq!(c.ranks.get(&Level::Service), Some(&Some(2)));
    assert_eq!(c.fault_type_at_truth, Some(true));
    assert_eq!(c.fault_type_top1, Some(false));
    assert_eq!(c.committed_correct, Some(false));
    assert_eq!(c.source, "unlabelled");
}

#[test]
fn module_rank_walks_candidates_modules_in_order() {
    use FaultType::*;
    let mut r = report(
        Outcome::InsufficientEvidence,
        &[("nova", Exception, 9.0), ("cinder", Exception, 4.0)],
    );
    r.candidates[0].modules = vec!["nova.compute.manager".into(), "nova.rpc".into()];
    r.candidates[1].modules = vec!["nova.rpc".into(), "cinder.image.image_utils".into()];
    let t = truth(
        r#"{"source":"openstack","root_cause_service":"cinder",
            "root_cause_module":"cinder.image.image_utils"}"#,
    );
    let c = score_case("a".into(), &r, Some(t), naive(&["cinder"]), 1.0, 10);
    assert_eq!(c.ranks.get(&Level::Service), Some(&Some(2)));
    // nova.compute.manager, nova.rpc (once), cinder.image.image_utils.
    assert_eq!(c.ranks.get(&Level::Module), Some(&Some(3)));
    assert_eq!(c.naive_ranks.get(&Level::Module), Some(&None));
    assert_eq!(c.top[1].modules, ["nova.rpc", "cinder.image.image_utils"]);
}
