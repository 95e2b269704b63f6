//! Imports every fault of the shared k8s_fault_configs dataset and checks that each bundle loads
//! and that nothing of the reference fix (`restore/`) or the reference root cause reaches a file
//! an investigation reads. Skips when the dataset is absent.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn dataset() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/k8s_fault_configs"
    ));
    if p.join("data/faults.json").exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: k8s_fault_configs dataset not found at {}",
            p.display()
        );
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

/// A YAML line without indentation, list dash or quotes, so that the same field written in
/// another layout compares equal.
fn norm(l: &str) -> String {
    l.trim()
        .trim_start_matches("- ")
        .replace('"', "")
        .trim()
        .to_string()
}

fn read_lines(dir: &Path) -> HashSet<String> {
    let mut out = HashSet::new();
    if dir.exists() {
        for f in files(dir) {
            for l in std::fs::read_to_string(f).unwrap().lines() {
                out.insert(norm(l));
            }
        }
    }
    out
}

/// Lines of the reference fix that appear in no fair input (inject/ or the prompt before its
/// `Solution:`): the text an investigation must never see.
fn restore_only_lines(fault: &Path) -> Vec<String> {
    let mut fair = read_lines(&fault.join("inject"));
    let prompt = std::fs::read_to_string(fault.join("prompt.txt")).unwrap();
    let before_solution = prompt.split("\nSolution:").next().unwrap();
    fair.extend(before_solution.lines().map(norm));
    let mut out: Vec<String> = read_lines(&fault.join("restore"))
        .into_iter()
        .filter(|l| l.len() >= 8 && !fair.contains(l))
        .collect();
    out.sort();
    out
}

#[test]
fn imports_every_fault_without_leaking_the_fix() {
    let Some(src) = dataset() else { return };
    let out = tempfile::tempdir().unwrap();
    let summary = rootline_import::k8s::import(&src, out.path(), None).unwrap();
    let folders: Vec<_> = std::fs::read_dir(src.join("faults"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            (name.starts_with('f') && name[1..].parse::<u64>().is_ok()).then_some(name)
        })
        .collect();
    assert_eq!(summary.bundles.len(), folders.len());
    assert!(folders.len() >= 15);

    let faults: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(src.join("data/faults.json")).unwrap())
            .unwrap();
    let mut restore_lines_checked = 0;
    for folder in &folders {
        let bdir = out.path().join(format!("k8s-{folder}"));
        let bundle = rootline_agent::Bundle::load(&bdir).unwrap();
        assert_eq!(
            bundle.incident.title,
            format!("Kubernetes workload failure (k8s-{folder})")
        );
        assert_eq!(bundle.log_files.len(), 1);
        assert!(!bundle.config_files.is_empty(), "{folder}: no configs");

        // The event text is there, at warn level, inside the window, for the labelled workload.
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(bdir.join("truth.json")).unwrap())
                .unwrap();
        let culprit = truth["root_cause_service"].as_str().unwrap();
        let events = std::fs::read_to_string(&bundle.log_files[0]).unwrap();
        let mut warn_in_window = 0;
        let mut baseline = 0;
        for line in events.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let t: chrono::DateTime<chrono::Utc> = v["time"].as_str().unwrap().parse().unwrap();
            if v["level"] == "warn" {
                assert!(t >= bundle.incident.start && Some(t) < bundle.incident.end);
                assert_eq!(v["service"], culprit, "{folder}");
                warn_in_window += 1;
            } else if t < bundle.incident.start {
                baseline += 1;
            }
        }
        assert!(warn_in_window > 0 && baseline > 0, "{folder}");
        assert!(!truth["fault_type_rootline"].as_array().unwrap().is_empty());

        // Nothing unique to the fix or the reference root cause outside truth.json.
        let fault_dir = src.join("faults").join(folder);
        let secret_lines = restore_only_lines(&fault_dir);
        restore_lines_checked += secret_lines.len();
        let n: u64 = folder[1..].parse().unwrap();
        let reference = faults
            .iter()
            .find(|f| f["id"] == n)
            .and_then(|f| f["reference_root_cause"].as_str())
            .unwrap_or_default();
        let sentences: Vec<&str> = reference
            .split(['\n', '.'])
            .map(str::trim)
            .filter(|s| s.len() >= 20)
            .collect();
        for f in files(&bdir) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name == "truth.json" || name == "ATTRIBUTION.md" {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let lines: HashSet<String> = text.lines().map(norm).collect();
            for l in &secret_lines {
                // Whole lines everywhere; long ones also inside JSON strings.
                let leaked = lines.contains(l) || (l.len() >= 24 && text.contains(l.as_str()));
                assert!(!leaked, "{}: restore text {l:?}", f.display());
            }
            for s in &sentences {
                assert!(!text.contains(s), "{}: reference text {s:?}", f.display());
            }
            assert!(!text.contains("Solution:"), "{}", f.display());
        }
    }
    assert!(restore_lines_checked > 0);
}

#[test]
fn imports_one_case_and_rejects_unknown() {
    let Some(src) = dataset() else { return };
    let out = tempfile::tempdir().unwrap();
    let s = rootline_import::k8s::import(&src, out.path(), Some("k8s-f3")).unwrap();
    assert_eq!(s.bundles.len(), 1);
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("k8s-f3/truth.json")).unwrap(),
    )
    .unwrap();
    // The taint fault's fix patches the workload (a toleration), not the node.
    assert_eq!(truth["root_cause_service"], "currencyservice");
    assert_eq!(truth["root_cause_entity"], "Deployment/currencyservice");
    assert!(matches!(
        rootline_import::k8s::import(&src, out.path(), Some("f99")),
        Err(rootline_import::ImportError::NoSuchCase(_))
    ));
}
