//! End to end on real Nezha bundles made by the importer (skipped when `../shared/datasets` is
//! absent): the evaluator's ranks agree with the report's candidate order, the naive ranker's
//! counts are hand-checked, and the summary is recomputed from the cases.

use std::path::PathBuf;

use rootline_eval::{EvalOptions, Level, LevelMetrics, evaluate_dir, render_markdown};

fn nezha() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/nezha_trainticket"
    ));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: {} not found", p.display());
        None
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn evaluates_three_nezha_cases() {
    let Some(src) = nezha() else { return };
    let out = tempfile::tempdir().unwrap();
    // Nested under a subdirectory to exercise the recursive search.
    let bundles = out.path().join("nezha");
    for case in [
        "tt-2023-01-29-0903",
        "tt-2023-01-29-0843",
        "tt-2023-01-29-1331",
    ] {
        rootline_import::nezha::import(&src, &bundles, Some(case)).unwrap();
    }
    let report = evaluate_dir(out.path(), &EvalOptions::default())
        .await
        .unwrap();
    assert_eq!(report.cases.len(), 3);
    // Sorted by path.
    let names: Vec<&str> = report.cases.iter().map(|c| c.case.as_str()).collect();
    assert_eq!(
        names,
        [
            "nezha/tt-2023-01-29-0843",
            "nezha/tt-2023-01-29-0903",
            "nezha/tt-2023-01-29-1331"
        ]
    );
    for c in &report.cases {
        assert!(c.error.is_none(), "{:?}", c.error);
        assert_eq!(c.source, "nezha_trainticket");
        let truth = c.truth.as_ref().unwrap();
        let svc = truth.root_cause_service.as_deref().unwrap();
        // The service rank is the position of the first top candidate that is the service.
        let pos = c.top.iter().position(|r| r.entity == svc).map(|i| i + 1);
        match c.ranks[&Level::Service] {
            Some(r) if r <= c.top.len() => assert_eq!(Some(r), pos, "{}", c.case),
            Some(r) => assert!(pos.is_none() && r <= c.candidates),
            None => assert!(pos.is_none()),
        }
        // At pod level a candidate is named by its most implicated pod.
        let pod = truth.root_cause_pod.as_deref().unwrap();
        let pod_pos = c
            .top
            .iter()
            .position(|r| r.instance.as_deref() == Some(pod))
            .map(|i| i + 1);
        match c.ranks[&Level::Pod] {
            Some(r) if r <= c.top.len() => assert_eq!(Some(r), pod_pos, "{}", c.case),
            Some(r) => assert!(pod_pos.is_none() && r <= c.candidates),
            None => assert!(pod_pos.is_none()),
        }
        assert!(c.seconds > 0.0);
        assert!(c.records_indexed > 1000);
    }

    // Hand-checked with a separate script over the bundle's JSON lines: in the 09:03:53–09:05:08
    // window, WARN/ERROR lines per service are order-other 32, order 24, basic 23, travel 15,
    // verification-code 7; the root cause (ts-basic-service) is third.
    let c = &report.cases[1];
    let naive: Vec<(&str, f64)> = c
        .naive_top
        .iter()
        .map(|r| (r.entity.as_str(), r.score))
        .collect();
    assert_eq!(
        naive,
        [
            ("ts-order-other-service", 32.0),
            ("ts-order-service", 24.0),
            ("ts-basic-service", 23.0),
            ("ts-travel-service", 15.0),
            ("ts-verification-code-service", 7.0),
        ]
    );
    assert_eq!(c.naive_ranks[&Level::Service], Some(3));

    // The summary is the AC@k of the case ranks.
    assert_eq!(report.summaries.len(), 1);
    let s = &report.summaries[0];
    let ranks: Vec<Option<usize>> = report
        .cases
        .iter()
        .map(|c| c.ranks[&Level::Service])
        .collect();
    assert_eq!(s.levels[&Level::Service], LevelMetrics::from_ranks(&ranks));
    assert_eq!(s.levels[&Level::Service].n, 3);
    // The importer maps Nezha's fault labels to rootline fault types: every case is scored.
    assert_eq!(s.fault_type_top1.n, 3);
    let md = render_markdown(&report);
    assert!(md.contains("| nezha_trainticket | service | 3 |"));
    assert!(md.contains("nezha/tt-2023-01-29-0903"));
}
