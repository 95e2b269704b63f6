//! A bundle's `topology.json` reaches the ranking: alerts name pods, the topology says which
//! service each pod belongs to and which services call which, and the entry pod that only
//! reports its backend's failures drops below the backend pod.

use std::path::Path;

use rootline_agent::{Bundle, EngineConfig, investigate_bundle};
use rootline_core::Report;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn line(minute: u32, second: u32, level: &str, pod: &str, msg: &str) -> String {
    format!(
        "{}\n",
        serde_json::json!({
            "time": format!("2024-01-01T00:{minute:02}:{second:02}Z"),
            "level": level,
            "service": pod,
            "msg": msg,
        })
    )
}

/// Routine traffic on both pods in the baseline (00:00–00:10); in the window the cart pod times
/// out on its store and the frontend pod, which calls it, reports more failures than the cart.
fn synthetic_bundle(root: &Path) {
    write(
        root,
        "incident.json",
        &serde_json::json!({
            "id": "topo-1",
            "title": "shop failing",
            "description": "",
            "start": "2024-01-01T00:10:00Z",
            "end": "2024-01-01T00:20:00Z",
            "services": [],
            "alert": null,
            "baseline_windows": [{"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T00:10:00Z"}],
        })
        .to_string(),
    );
    let mut logs = String::new();
    for m in 0..20 {
        for s in [5, 35] {
            logs.push_str(&line(m, s, "info", "frontend-0", "GET /cart 200"));
            logs.push_str(&line(m, s + 1, "info", "cart-1", "cart loaded"));
        }
    }
    for m in 10..20 {
        for s in [10, 15, 20, 25, 40, 50] {
            logs.push_str(&line(
                m,
                s,
                "error",
                "frontend-0",
                "cart call failed: deadline exceeded",
            ));
        }
        for s in [12, 42] {
            logs.push_str(&line(m, s, "error", "cart-1", "store read timed out"));
        }
    }
    write(root, "logs/app.jsonl", &logs);
}

async fn run(root: &Path) -> Report {
    let bundle = Bundle::load(root).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    investigate_bundle(&bundle, scratch.path(), EngineConfig::default())
        .await
        .unwrap()
        .0
}

fn score(report: &Report, entity: &str) -> f64 {
    report
        .candidates
        .iter()
        .find(|c| c.entity == entity)
        .unwrap_or_else(|| panic!("no candidate {entity}: {:#?}", report.candidates))
        .score
}

#[tokio::test]
async fn topology_puts_the_backend_pod_above_its_caller() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_bundle(dir.path());
    let without = run(dir.path()).await;
    assert_eq!(
        without.candidates[0].entity, "frontend-0",
        "{:#?}",
        without.candidates
    );

    write(
        dir.path(),
        "topology.json",
        r#"{"calls": {"frontend": ["cart"]},
            "services": {"frontend-0": "frontend", "cart-1": "cart"},
            "hosts": {"frontend-0": "node-1", "cart-1": "node-2"}}"#,
    );
    let bundle = Bundle::load(dir.path()).unwrap();
    let topology = bundle.topology.as_ref().expect("topology.json is loaded");
    assert_eq!(topology.services["cart-1"], "cart");
    let with = run(dir.path()).await;
    assert_eq!(
        with.candidates[0].entity, "cart-1",
        "{:#?}",
        with.candidates
    );
    assert_eq!(score(&with, "cart-1"), score(&without, "cart-1"));
    assert!(score(&with, "frontend-0") < score(&without, "frontend-0"));
    let frontend = with
        .candidates
        .iter()
        .find(|c| c.entity == "frontend-0")
        .unwrap();
    assert!(
        frontend
            .why
            .contains("partly explained by its callee cart-1"),
        "{}",
        frontend.why
    );
}

#[test]
fn a_malformed_topology_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    synthetic_bundle(dir.path());
    write(dir.path(), "topology.json", r#"{"calls": ["frontend"]}"#);
    let err = Bundle::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("topology.json") && err.contains("not a topology"),
        "{err}"
    );
}
