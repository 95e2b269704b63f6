//! The OpenRCA Online Boutique knowledge graph as a bundle topology, on a real fault: packet
//! corruption in recommendationservice (fault 7), where the `frontend-*` pods, which call it,
//! alert as loudly as its own pods. With the topology the frontend pods are recognised as its
//! callers and drop below them.
//!
//! "Without" keeps the topology's memberships (pod → service) and drops its calls and hosts, so
//! that the two runs differ only in the caller discount.

use std::path::{Path, PathBuf};

use rootline_agent::{Bundle, EngineConfig, investigate_bundle};
use rootline_core::Report;

fn dataset() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets/rca_alerts_gaia_openrca");
    if p.join("Online-Boutique-cloudbed-1/label.csv").exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

async fn run(bundle: &Bundle) -> Report {
    let scratch = tempfile::tempdir().unwrap();
    investigate_bundle(bundle, scratch.path(), EngineConfig::default())
        .await
        .unwrap()
        .0
}

fn scores<'a>(report: &'a Report, prefix: &str) -> Vec<(&'a str, f64)> {
    report
        .candidates
        .iter()
        .filter(|c| c.entity.starts_with(prefix))
        .map(|c| (c.entity.as_str(), c.score))
        .collect()
}

#[tokio::test]
async fn openrca_topology_discounts_the_entry_pods() {
    let Some(src) = dataset() else { return };
    let out = tempfile::tempdir().unwrap();
    rootline_import::gaia::import(&src, out.path(), Some("openrca-boutique-007")).unwrap();
    let root = out.path().join("openrca-boutique-007");

    let bundle = Bundle::load(&root).unwrap();
    let topology = bundle
        .topology
        .clone()
        .expect("the importer writes topology.json");
    assert!(topology.calls["frontend"].contains("recommendationservice"));
    assert_eq!(
        topology.services["recommendationservice-0"],
        "recommendationservice"
    );
    assert_eq!(topology.hosts["frontend-0"], "node-6");
    let with = run(&bundle).await;

    // Without the calls and hosts; the pods' services stay known, so the message crowd (pods of
    // one service count as one service) is the same in both runs and only the discount differs.
    let mut without_topology = bundle.clone();
    if let Some(t) = without_topology.topology.as_mut() {
        t.calls.clear();
        t.hosts.clear();
    }
    let without = run(&without_topology).await;

    let frontend_with = scores(&with, "frontend-");
    let frontend_without = scores(&without, "frontend-");
    assert!(!frontend_without.is_empty(), "{:#?}", without.candidates);
    // Every frontend pod is discounted, none gains.
    for (pod, before) in &frontend_without {
        let after = frontend_with
            .iter()
            .find(|(p, _)| p == pod)
            .map(|(_, s)| *s)
            .unwrap();
        assert!(after < *before, "{pod}: {after} vs {before}");
    }
    // Explained by what they call, and only with the calls known; the culprit's pods (which call
    // nothing that alerts) are not discounted and now lead.
    for c in &with.candidates {
        let explained = c.why.contains("partly explained by its callee");
        if c.entity.starts_with("frontend-") {
            assert!(explained, "{}: {}", c.entity, c.why);
        }
        if c.entity.starts_with("recommendationservice-") {
            assert!(!explained, "{}: {}", c.entity, c.why);
        }
    }
    assert!(
        without
            .candidates
            .iter()
            .all(|c| !c.why.contains("partly explained"))
    );
    assert!(
        with.candidates[0]
            .entity
            .starts_with("recommendationservice-"),
        "{:#?}",
        with.candidates
    );
}
