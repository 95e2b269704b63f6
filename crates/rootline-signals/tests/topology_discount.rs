//! The caller → callee discount when candidates are pods or instances: a declared topology names
//! each pod's service and host, so an alerting entry pod is recognised as a caller of an alerting
//! backend pod, and a pod as a dependant of its alerting host.

use rootline_core::observation::Topology;
use rootline_core::{Evidence, FaultType, ServiceGraph};
use rootline_signals::{Finding, FindingKind, RankConfig, RankContext, rank};

/// One latency finding about `entity` (built through serde so that later optional fields of
/// `Evidence` keep their defaults).
fn finding(entity: &str, contribution: f64) -> Finding {
    finding_of(entity, contribution, FaultType::Latency)
}

fn finding_of(entity: &str, contribution: f64, fault: FaultType) -> Finding {
    let evidence: Evidence = serde_json::from_value(serde_json::json!({
        "id": format!("sig-metric-{entity}"),
        "kind": "metric_anomaly",
        "entity": entity,
        "first_seen_ns": 0,
        "strength": 0.9,
        "summary": format!("metric alert on {entity}"),
    }))
    .unwrap();
    Finding {
        kind: FindingKind::Metric,
        evidence,
        contribution,
        fault,
    }
}

/// The entry pods alert loudest; the backend pod they call alerts less; an unrelated pod a bit.
fn findings() -> Vec<Finding> {
    vec![
        finding("frontend-0", 6.0),
        finding("frontend-1", 5.5),
        finding("cart-1", 4.5),
        finding("email-0", 1.0),
    ]
}

fn topology(json: &str) -> ServiceGraph {
    let t: Topology = serde_json::from_str(json).unwrap();
    let mut g = ServiceGraph::default();
    g.add_topology(&t);
    g
}

fn ranked(findings: Vec<Finding>, graph: Option<&ServiceGraph>) -> Vec<(String, f64, String)> {
    let context = RankContext {
        window_records: 100,
        baseline_records: 100,
        graph,
    };
    rank(findings, &context, &RankConfig::default())
        .candidates
        .into_iter()
        .map(|c| (c.entity, c.score, c.why))
        .collect()
}

const BOUTIQUE: &str = r#"{
    "calls": {"frontend": ["cart", "email"]},
    "services": {"frontend-0": "frontend", "frontend-1": "frontend",
                 "cart-0": "cart", "cart-1": "cart", "email-0": "email"},
    "hosts": {"frontend-0": "node-5", "cart-0": "node-6", "cart-1": "node-6"}
}"#;

#[test]
fn pods_are_joined_to_their_services_calls() {
    let without = ranked(findings(), None);
    assert_eq!(without[0].0, "frontend-0", "{without:?}");

    // Service edges alone do not name the pods: nothing changes.
    let services_only = topology(r#"{"calls": {"frontend": ["cart"]}}"#);
    let r = ranked(findings(), Some(&services_only));
    assert_eq!(r, without);

    let g = topology(BOUTIQUE);
    let r = ranked(findings(), Some(&g));
    let names: Vec<&str> = r.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["cart-1", "frontend-0", "frontend-1", "email-0"]);
    // frontend-0: 6.0 × (1 − 0.5 × 4.5 / 6.0); its strongest explaining callee is cart-1.
    assert_eq!(r[1].1, 3.75);
    assert!(
        r[1].2.contains("partly explained by its callee cart-1"),
        "{}",
        r[1].2
    );
    // The callee and the pod with no alerting callee keep their scores.
    assert_eq!((r[0].1, r[3].1), (4.5, 1.0));
}

#[test]
fn a_host_explains_its_pods_and_siblings_explain_nothing() {
    let g = topology(BOUTIQUE);
    let r = ranked(
        vec![
            finding("cart-1", 3.0),
            finding("cart-0", 2.5),
            finding("node-6", 2.0),
            finding("email-0", 2.2),
        ],
        Some(&g),
    );
    let score = |e: &str| r.iter().find(|c| c.0 == e).unwrap().1;
    // cart-1 runs on node-6: 3.0 × (1 − 0.5 × 2.0 / 3.0) = 2.0; cart-0 likewise 2.5 × 0.6.
    assert_eq!(score("cart-1"), 2.0);
    assert_eq!(score("cart-0"), 1.5);
    // email-0 runs elsewhere (no host known) and cart-0/cart-1 share a service: untouched.
    assert_eq!(score("email-0"), 2.2);
    assert_eq!(score("node-6"), 2.0);
    assert_eq!(r[0].0, "email-0");
}

/// A caller's own self time and the network gap of calls into it cannot come from its callee:
/// only the rest of its score is discounted (Nezha: a network delay on `food`, whose callee
/// `delivery` also degrades, stays ahead of it).
#[test]
fn self_time_and_inbound_gap_are_never_explained_by_a_callee() {
    let with_id = |id: &str, entity: &str, contribution: f64| {
        let mut f = finding(entity, contribution);
        f.evidence.id = id.to_string();
        f
    };
    let graph = topology(r#"{"calls": {"food": ["delivery"]}}"#);
    let gap = vec![
        with_id("sig-trace-gap-1", "food", 6.0),
        finding("delivery", 5.0),
    ];
    let ranking = ranked(gap, Some(&graph));
    assert_eq!(ranking[0].0, "food", "{ranking:?}");
    assert_eq!(ranking[0].1, 6.0, "the gap is food's own: {ranking:?}");
    assert!(!ranking[0].2.contains("explained"), "{ranking:?}");
    // The same strength as a duration rise, which a slow callee does explain, is discounted.
    let duration = vec![
        with_id("sig-trace-duration-1", "food", 6.0),
        finding("delivery", 5.0),
    ];
    let ranking = ranked(duration, Some(&graph));
    let food = ranking.iter().find(|r| r.0 == "food").unwrap();
    assert!(food.1 < 6.0, "{ranking:?}");
    assert!(food.2.contains("partly explained by its callee delivery"));
}

/// A callee explains its callers only as far as it is not explained itself: in the chain
/// food → travel → seat, travel is mostly seat's symptom, so it takes little from food.
#[test]
fn a_callee_explained_by_its_own_callee_explains_less() {
    let chain = topology(r#"{"calls": {"food": ["travel"], "travel": ["seat"]}}"#);
    let findings = || {
        vec![
            finding("food", 7.0),
            finding("travel", 6.5),
            finding("seat", 6.5),
        ]
    };
    let ranking = ranked(findings(), Some(&chain));
    let score = |e: &str| ranking.iter().find(|r| r.0 == e).unwrap().1;
    // travel keeps half (seat explains it fully); food is discounted by travel's settled 3.25,
    // not its raw 6.5: 7 × (1 − 0.5 × 3.25 / 7) = 5.375, ahead of travel and behind seat.
    assert_eq!(score("travel"), 3.25, "{ranking:?}");
    assert_eq!(score("food"), 5.375, "{ranking:?}");
    assert_eq!(ranking[0].0, "seat");
    // Without the bottom link, travel is not explained and takes more from food.
    let short = topology(r#"{"calls": {"food": ["travel"]}}"#);
    let ranking = ranked(findings(), Some(&short));
    let food = ranking.iter().find(|r| r.0 == "food").unwrap().1;
    assert!(food < 5.375, "{ranking:?}");
}

/// A declared probe (here a test harness that calls everything) ranks after every entity with a
/// change, however loud, and never decides the outcome; alone, it is not a cause.
#[test]
fn a_probe_ranks_after_what_it_calls_and_decides_nothing() {
    let g = topology(r#"{"calls": {"harness": ["api", "db"]}, "probes": ["harness"]}"#);
    let context = RankContext {
        window_records: 100,
        baseline_records: 100,
        graph: Some(&g),
    };
    let r = rank(
        vec![
            finding("harness", 9.0),
            finding("db", 2.0),
            finding("api", 0.5),
        ],
        &context,
        &RankConfig::default(),
    );
    let names: Vec<&str> = r.candidates.iter().map(|c| c.entity.as_str()).collect();
    assert_eq!(names, ["db", "api", "harness"]);
    assert!(
        r.candidates[2].why.contains("only observes"),
        "{}",
        r.candidates[2].why
    );
    // db and api are not linked, so db (2.0) is decisive over api (0.5).
    assert_eq!(
        r.outcome,
        rootline_core::Outcome::ProbableCause,
        "{}",
        r.outcome_reason
    );

    let alone = rank(
        vec![finding("harness", 9.0)],
        &context,
        &RankConfig::default(),
    );
    assert_eq!(alone.candidates.len(), 1);
    assert_eq!(alone.outcome, rootline_core::Outcome::InsufficientEvidence);
    assert!(
        alone.outcome_reason.contains("probe"),
        "{}",
        alone.outcome_reason
    );

    // Without the declaration the harness is just the loudest candidate.
    let plain = topology(r#"{"calls": {"harness": ["api", "db"]}}"#);
    let context = RankContext {
        graph: Some(&plain),
        ..context
    };
    let r = rank(
        vec![finding("harness", 9.0), finding("db", 2.0)],
        &context,
        &RankConfig::default(),
    );
    assert_eq!(r.candidates[0].entity, "harness");
}

#[test]
fn a_callee_that_is_only_asked_more_explains_no_caller() {
    let g = topology(BOUTIQUE);
    // cart-1's only change is its traffic (a metric of no known symptom kind): frontend-0's
    // slowness is not explained by it. A slow cart-1 would explain it.
    let traffic = ranked(
        vec![
            finding("frontend-0", 6.0),
            finding_of("cart-1", 4.5, FaultType::Unknown),
        ],
        Some(&g),
    );
    assert_eq!(
        traffic[0],
        ("frontend-0".to_string(), 6.0, traffic[0].2.clone())
    );
    assert!(!traffic[0].2.contains("explained"), "{}", traffic[0].2);
    let slow = ranked(
        vec![finding("frontend-0", 6.0), finding("cart-1", 4.5)],
        Some(&g),
    );
    let frontend = slow.iter().find(|c| c.0 == "frontend-0").unwrap();
    assert_eq!(frontend.1, 3.75);
    // The old behaviour, as a switch for the ablation.
    let context = RankContext {
        window_records: 100,
        baseline_records: 100,
        graph: Some(&g),
    };
    let config = RankConfig {
        traffic_explains_callers: true,
        ..RankConfig::default()
    };
    let old = rank(
        vec![
            finding("frontend-0", 6.0),
            finding_of("cart-1", 4.5, FaultType::Unknown),
        ],
        &context,
        &config,
    );
    assert_eq!(old.candidates[0].entity, "cart-1");
}

#[test]
fn an_entity_known_only_through_its_callers_counts_half() {
    let g = topology(r#"{"calls": {"site": ["search", "lb_remote"]}, "views": ["lb_remote"]}"#);
    assert!(g.is_view("lb_remote") && !g.is_view("search"));
    let r = ranked(
        vec![finding("lb_remote", 5.0), finding("search", 4.0)],
        Some(&g),
    );
    assert_eq!(r[0].0, "search", "{r:?}");
    let view = r.iter().find(|c| c.0 == "lb_remote").unwrap();
    assert_eq!(view.1, 2.5);
    assert!(
        view.2.contains("known only through its callers' side"),
        "{}",
        view.2
    );
}
