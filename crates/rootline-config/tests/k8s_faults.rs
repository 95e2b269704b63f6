//! Real Kubernetes manifests from the k8s_fault_configs dataset (exolightor/k8s-fault-dataset,
//! MIT): each fault's `inject/` manifests are the faulty config (fair input), `restore/` the
//! reference fix (ground truth, used here only to compute the expected diff). The diff inject →
//! restore must point at the field the fault's event names in `data/faults.json`.
//!
//! Skips with a message when `../shared/datasets` is not next to the repository.

use std::path::{Path, PathBuf};

use rootline_config::{ConfigDiff, FlatConfig, Format, diff, parse_config};
use serde_json::{Value, json};

fn dataset() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/k8s_fault_configs"
    ));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: dataset not found at {} (clone ../shared next to the repository)",
            dir.display()
        );
        None
    }
}

fn load(path: &Path) -> FlatConfig {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = parse_config(&text, path.to_str(), None)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(parsed.format, Format::Yaml);
    parsed.config
}

fn fault_diff(root: &Path, fault: &str, file: &str) -> ConfigDiff {
    let dir = root.join("faults").join(fault);
    diff(
        &load(&dir.join("inject").join(file)),
        &load(&dir.join("restore").join(file)),
    )
}

/// The `error` text of fault `id` in `data/faults.json`.
fn fault_error(root: &Path, id: u64) -> String {
    let text = std::fs::read_to_string(root.join("data/faults.json")).unwrap();
    let faults: Vec<Value> = serde_json::from_str(&text).unwrap();
    let fault = faults
        .iter()
        .find(|f| f["id"] == json!(id))
        .unwrap_or_else(|| panic!("fault {id} in faults.json"));
    fault["error"].as_str().unwrap().to_owned()
}

const CONTAINER: &str = "spec.template.spec.containers[0]";

#[test]
fn f1_memory_limit_below_minimum() {
    let Some(root) = dataset() else { return };
    let d = fault_diff(&root, "f1", "f1.yaml");
    let limit = format!("Deployment/ba-test/nginx-f1:{CONTAINER}.resources.limits.memory");
    assert_eq!(d.changed.len(), 1, "{}", d.render());
    assert_eq!(d.changed[0].path, limit);
    assert_eq!(d.changed[0].old, json!("5Mi"));
    assert_eq!(d.changed[0].new, json!("20Mi"));
    let removed: Vec<&str> = d.removed.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        removed,
        [
            format!("Deployment/ba-test/nginx-f1:{CONTAINER}.resources.requests.cpu"),
            format!("Deployment/ba-test/nginx-f1:{CONTAINER}.resources.requests.memory"),
        ]
    );
    assert!(d.added.is_empty());
    // The event: "Minimum memory limit allowed is 6MB"; the faulty value is below it.
    assert!(fault_error(&root, 1).contains("Minimum memory limit allowed is 6MB"));
}

#[test]
fn f8_and_f11_cpu_values_named_by_the_event() {
    let Some(root) = dataset() else { return };
    for (fault, id, field, old, new) in [
        ("f8", 8, "requests.cpu", "500m", "400m"),
        ("f11", 11, "limits.cpu", "900m", "700m"),
    ] {
        let d = fault_diff(&root, fault, &format!("{fault}.yaml"));
        assert_eq!(d.counts(), "1 changed", "{fault}: {}", d.render());
        let c = &d.changed[0];
        assert_eq!(
            c.path,
            format!("Deployment/ba-test/nginx-{fault}:{CONTAINER}.resources.{field}")
        );
        assert_eq!((c.old.clone(), c.new.clone()), (json!(old), json!(new)));
        // The faulty value is the one the Kubernetes event quotes.
        let error = fault_error(&root, id);
        assert!(error.contains(old), "{fault}: {error}");
    }
}

#[test]
fn f3_taint_removed_and_toleration_added() {
    let Some(root) = dataset() else { return };
    let d = fault_diff(&root, "f3", "f3.yaml");
    assert!(d.changed.is_empty(), "{}", d.render());
    // The whole tainted Node document is gone from the fix...
    assert!(
        d.removed
            .iter()
            .any(|r| r.path == "Node/minikube:spec.taints[0].key" && r.value == json!("key1"))
    );
    assert!(
        d.removed
            .iter()
            .all(|r| r.path.starts_with("Node/minikube:"))
    );
    // ...and the Deployment tolerates the taint instead.
    let tol = "Deployment/ba-test/nginx-f3:spec.template.spec.tolerations[0]";
    let added: Vec<(&str, &Value)> = d
        .added
        .iter()
        .map(|a| (a.path.as_str(), &a.value))
        .collect();
    assert_eq!(
        added,
        [
            (format!("{tol}.key").as_str(), &json!("key1")),
            (format!("{tol}.operator").as_str(), &json!("Equal")),
            (format!("{tol}.value").as_str(), &json!("value1")),
            (format!("{tol}.effect").as_str(), &json!("NoSchedule")),
        ]
    );
    assert!(fault_error(&root, 3).contains("untolerated taint {key1: value1}"));
}

/// Every faulty manifest (fair input) parses, and no two documents share a key prefix.
#[test]
fn every_inject_manifest_parses() {
    let Some(root) = dataset() else { return };
    let mut files = 0;
    let mut keys = 0;
    for fault in std::fs::read_dir(root.join("faults")).unwrap() {
        let inject = fault.unwrap().path().join("inject");
        let Ok(entries) = std::fs::read_dir(&inject) else {
            continue;
        };
        for f in entries {
            let path = f.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let c = load(&path);
            assert!(!c.is_empty(), "{}", path.display());
            files += 1;
            keys += c.len();
        }
    }
    eprintln!("parsed {files} inject manifests, {keys} key paths");
    assert!(files >= 30, "{files}");
}
