//! The PetShop importer on the real dataset (skipped when `../shared/datasets/petshop_rca` is
//! absent): every train issue becomes a bundle that loads, its window and baseline are sane, its
//! metrics and topology are there, and the ground truth (the root-cause fields and the injection
//! command) lives in `truth.json` only.

use std::io::Read;
use std::path::{Path, PathBuf};

use rootline_agent::Bundle;
use rootline_core::observation::Topology;

fn dataset() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/petshop_rca"
    ));
    if p.join("PROVENANCE.md").exists() || p.join("high_traffic/graph.csv").exists() {
        Some(p)
    } else {
        eprintln!("skipping: petshop_rca dataset not found at {}", p.display());
        None
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A file's text, gunzipped when it is gzip.
fn text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_train_issue_imports_without_leaking_the_truth() {
    let Some(src) = dataset() else { return };
    let out = tempfile::tempdir().unwrap();
    let summary = rootline_import::petshop::import(&src, out.path(), None).unwrap();
    assert_eq!(summary.bundles.len(), 16, "{:?}", summary.bundles);
    assert!(summary.records > 16 * 1000, "{}", summary.records);
    assert!(summary.skipped_values > 0, "the clips have empty cells");

    for scenario in ["high_traffic", "low_traffic"] {
        for n in 0..8 {
            let id = format!("{scenario}-train-issue_{n}");
            let dir = out.path().join(&id);
            assert!(dir.is_dir(), "{id} missing");

            // Loads as the agent loads it.
            let bundle = Bundle::load(&dir).unwrap_or_else(|e| panic!("{id}: {e}"));
            let incident = &bundle.incident;
            assert_eq!(incident.id, id);
            incident.validate().unwrap();

            // 15 minutes before the symptom to 10 minutes after, clipped to the clip.
            let (start, end) = incident.window_ns();
            let target = read_json(
                &src.join(scenario)
                    .join(format!("train/issue_{n}/target.json")),
            );
            let noticed = target["target"]["timestamp"].as_i64().unwrap() * 1_000_000_000;
            let minute = 60 * 1_000_000_000;
            assert!(end - start <= 25 * minute, "{id}: window too long");
            assert!(start >= noticed - 15 * minute && start < noticed, "{id}");
            assert!(end <= noticed + 10 * minute && end > noticed, "{id}");
            assert!(
                end - start == 25 * minute
                    || start > noticed - 15 * minute
                    || end < noticed + 10 * minute,
                "{id}: neither 25 minutes nor clipped"
            );

            // One baseline, 12 hours of 5-minute buckets, away from the window.
            assert_eq!(incident.baseline_windows.len(), 1, "{id}");
            let (bs, be) = incident.baseline_windows[0].ns();
            assert_eq!(be - bs, 144 * 5 * minute, "{id}");
            assert!(
                be <= start || bs >= end,
                "{id}: baseline overlaps the window"
            );

            // The symptom, and nothing of the cause, in the incident.
            assert_eq!(incident.services, vec!["PetSite".to_string()]);
            let alert = incident.alert.as_ref().unwrap();
            assert_eq!(alert["node"], target["target"]["node"]);
            assert_eq!(alert["metric"], target["target"]["metric"]);
            assert_eq!(alert["statistic"], target["target"]["agg"]);
            let root_node = target["root_cause"]["node"].as_str().unwrap();
            for text in [&incident.title, &incident.description] {
                assert!(text.contains("PetSite"), "{id}: {text}");
                assert!(!text.contains("PetSearch"), "{id}: {text}");
            }
            assert!(!alert.to_string().contains("PetSearch"), "{id}: {alert}");

            // Metrics: the clip and the fault-free period, non-empty Prometheus text.
            assert_eq!(bundle.metric_files.len(), 2, "{id}");
            for f in &bundle.metric_files {
                let t = text(f);
                let samples = t.lines().filter(|l| !l.starts_with('#')).count();
                assert!(samples > 100, "{}: {samples} samples", f.display());
            }
            let clip = text(&dir.join("metrics/issue.prom.gz"));
            assert!(
                clip.contains("latency_average{instance=\"PetSite\",service=\"PetSite\"} "),
                "{id}"
            );
            assert!(clip.contains(
                "requests_sum{instance=\"PetSearch_AWS::ECS::Fargate\",service=\"PetSearch\"} "
            ));

            // Topology: the graph's calls between services, every node mapped.
            let topology: Topology = bundle.topology.clone().expect("topology.json");
            assert!(
                topology.calls["PetSite"].contains("PetSearch"),
                "{id}: {:?}",
                topology.calls
            );
            assert!(topology.calls["PetSearch_client"].contains("PetSearch"));
            assert!(
                topology
                    .calls
                    .iter()
                    .all(|(caller, callees)| !callees.contains(caller)),
                "no self edges"
            );
            assert_eq!(
                topology.services["PetSearch_AWS::ECS::Fargate"],
                "PetSearch"
            );
            assert_eq!(topology.services["PetSearch_client"], "PetSearch_client");

            // Truth: complete, and only in truth.json.
            let truth = read_json(&dir.join("truth.json"));
            assert_eq!(truth["source"], "petshop_rca");
            assert_eq!(truth["root_cause_service"], "PetSearch");
            assert_eq!(truth["root_cause_node"], root_node);
            let command = target["metadata"]["reproducibility"]["command"]
                .as_str()
                .unwrap();
            assert_eq!(truth["injection_command"], command);
            assert_eq!(truth["no_fault"], false);
            assert!(!truth["fault_type_rootline"].as_array().unwrap().is_empty());
            let parameter = truth["fault_type"].as_str().unwrap();
            assert!(parameter.starts_with("/petstore/"), "{parameter}");

            let attribution = std::fs::read_to_string(dir.join("ATTRIBUTION.md")).unwrap();
            assert!(attribution.contains("CC-BY-4.0") && attribution.contains("2311.04806"));

            for f in files(&dir) {
                if f.file_name().is_some_and(|n| n == "truth.json") {
                    continue;
                }
                let t = text(&f);
                for secret in [
                    command,
                    parameter,
                    "root_cause",
                    "injection",
                    "put-parameter",
                ] {
                    assert!(!t.contains(secret), "{}: contains {secret:?}", f.display());
                }
            }
        }
    }

    // One case alone, and an unknown one.
    let one = tempfile::tempdir().unwrap();
    let s = rootline_import::petshop::import(&src, one.path(), Some("low_traffic-train-issue_5"))
        .unwrap();
    assert_eq!(s.bundles.len(), 1);
    assert!(matches!(
        rootline_import::petshop::import(&src, one.path(), Some("low_traffic-train-issue_99")),
        Err(rootline_import::ImportError::NoSuchCase(_))
    ));
}

/// A `test/` split next to `train/` is imported the same way (the held-back evaluation runs the
/// importer on one): a scenario copied with its issue moved under `test/`.
#[test]
fn a_test_split_is_imported_too() {
    let Some(src) = dataset() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("data/low_traffic");
    std::fs::create_dir_all(scenario.join("noissue")).unwrap();
    std::fs::create_dir_all(scenario.join("test/issue_0")).unwrap();
    let from = src.join("low_traffic");
    for f in ["graph.csv", "noissue/metrics.csv.gz"] {
        std::fs::copy(from.join(f), scenario.join(f)).unwrap();
    }
    for f in ["metrics.csv", "target.json"] {
        std::fs::copy(
            from.join("train/issue_2").join(f),
            scenario.join("test/issue_0").join(f),
        )
        .unwrap();
    }
    let out = tmp.path().join("out");
    let summary = rootline_import::petshop::import(&tmp.path().join("data"), &out, None).unwrap();
    assert_eq!(summary.bundles.len(), 1);
    let bundle = Bundle::load(&out.join("low_traffic-test-issue_0")).unwrap();
    assert_eq!(bundle.incident.baseline_windows.len(), 1);
    // The scenario folder itself as the source works too.
    let summary = rootline_import::petshop::import(&scenario, &out, None).unwrap();
    assert_eq!(summary.bundles.len(), 1);
}
