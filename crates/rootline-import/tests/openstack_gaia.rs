//! The OpenStack and GAIA/OpenRCA importers on the real datasets (skipped when
//! `../shared/datasets` is absent): bundles load, windows are sane, truth stays out of `logs/`.

use std::io::Read;
use std::path::{Path, PathBuf};

use rootline_core::Incident;

fn datasets() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets"
    ));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: {} not found", p.display());
        None
    }
}

fn read_gz(path: &Path) -> String {
    let mut s = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn json_lines(logs: &Path) -> Vec<serde_json::Value> {
    let mut files = Vec::new();
    all_files(logs, &mut files);
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            read_gz(f)
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn openstack_failure_case() {
    let Some(ds) = datasets() else { return };
    let out = tempfile::tempdir().unwrap();
    let src = ds.join("openstack_fault_injection");
    let summary =
        rootline_import::openstack::import(&src, out.path(), Some("nova-test281")).unwrap();
    assert_eq!(summary.bundles.len(), 1);
    // Neutral id: the workload's epoch, not the subsystem-bearing case id.
    let bundle = out.path().join("openstack-1530320225");
    let incident: Incident =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("incident.json")).unwrap())
            .unwrap();
    assert!(!incident.title.to_lowercase().contains("nova"));
    // First failure symptom 2018-06-30 03:07:01.932 local = 01:07:01.932 UTC (UTC+2 log clock);
    // the window starts 180 s earlier.
    assert_eq!(
        incident.start.to_rfc3339(),
        "2018-06-30T01:04:01.932460+00:00"
    );
    assert_eq!(incident.baseline_windows.len(), 2);
    assert_eq!(
        incident.baseline_windows[0].start.to_rfc3339(),
        "2018-06-30T00:57:04.695+00:00"
    );
    assert_eq!(incident.baseline_windows[0].end, incident.start);
    // The second baseline is a known-good run of the same workload at another time, written
    // next to the case's own logs.
    let (start, end) = incident.window_ns();
    let reference = &incident.baseline_windows[1];
    let (rs, re) = (
        reference.start.timestamp_nanos_opt().unwrap(),
        reference.end.timestamp_nanos_opt().unwrap(),
    );
    assert!(re < start || rs > end, "{reference:?}");
    let mut files = Vec::new();
    all_files(&bundle.join("logs"), &mut files);
    assert!(
        files.iter().any(|f| f
            .to_string_lossy()
            .ends_with("nova-compute.reference.jsonl.gz")),
        "{files:?}"
    );
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth["root_cause_service"], "nova");
    assert_eq!(truth["root_cause_module"], "nova.image.glance");
    assert_eq!(truth["no_fault"], false);
    // The harness is declared: the workload calls every service; nothing between services.
    let topology: rootline_core::observation::Topology =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("topology.json")).unwrap())
            .unwrap();
    let graph = {
        let mut g = rootline_core::ServiceGraph::default();
        g.add_topology(&topology);
        g
    };
    let mut callees: Vec<&str> = graph.callees("workload").map(String::as_str).collect();
    callees.sort();
    assert_eq!(
        callees,
        ["cinder", "glance", "heat", "keystone", "neutron", "nova"]
    );
    assert_eq!(graph.callees("nova").count(), 0);
    assert!(graph.is_probe("workload") && !graph.is_probe("nova"));

    let records = json_lines(&bundle.join("logs"));
    // Every line of the service logs and the workload output is kept, continuations joined.
    assert!(records.len() > 10_000, "{}", records.len());
    assert!(
        records
            .iter()
            .all(|r| r["time"].is_string() && r["service"].is_string())
    );
    let compute = records
        .iter()
        .find(|r| r["instance"] == "nova-compute" && r["logger"] == "nova.compute.manager")
        .expect("a nova-compute record from nova.compute.manager");
    assert_eq!(compute["service"], "nova");
    let errs: Vec<_> = records
        .iter()
        .filter(|r| r["service"] == "workload" && r["instance"] == "err")
        .collect();
    assert_eq!(errs.len(), 2);
    assert!(errs.iter().all(|r| r["level"] == "error"));
    // The injector's record never reaches the logs.
    let mut files = Vec::new();
    all_files(&bundle, &mut files);
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().contains("trigger"))
    );
    assert!(records.iter().all(|r| {
        !r["msg"]
            .as_str()
            .unwrap_or("")
            .contains("Injection activated")
    }));
}

#[test]
fn openstack_control_case_and_all_cases() {
    let Some(ds) = datasets() else { return };
    let out = tempfile::tempdir().unwrap();
    let src = ds.join("openstack_fault_injection");
    let summary = rootline_import::openstack::import(&src, out.path(), None).unwrap();
    assert_eq!(summary.bundles.len(), 80);
    let mut controls = 0;
    for b in &summary.bundles {
        let b = Path::new(b);
        let incident: Incident =
            serde_json::from_str(&std::fs::read_to_string(b.join("incident.json")).unwrap())
                .unwrap();
        incident.validate().unwrap();
        let (s, e) = incident.window_ns();
        assert!(e > s);
        // The test's own start, and a known-good reference run.
        assert_eq!(incident.baseline_windows.len(), 2, "{}", b.display());
        let truth: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(b.join("truth.json")).unwrap()).unwrap();
        if truth["no_fault"] == true {
            controls += 1;
        }
    }
    assert_eq!(controls, 14);
    assert!(matches!(
        rootline_import::openstack::import(&src, out.path(), Some("nova-test0")),
        Err(rootline_import::ImportError::NoSuchCase(_))
    ));
}

#[test]
fn gaia_and_openrca_faults() {
    let Some(ds) = datasets() else { return };
    let out = tempfile::tempdir().unwrap();
    let src = ds.join("rca_alerts_gaia_openrca");
    let summary = rootline_import::gaia::import(&src, out.path(), None).unwrap();
    assert_eq!(summary.bundles.len(), 152 + 70);

    // GAIA fault 0: redisservice2 memory anomaly, 2021-07-01 18:45:00.236 (UTC+8).
    let b = out.path().join("gaia-micross-000");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth["root_cause_entity"], "redisservice2");
    assert_eq!(truth["root_cause_service"], "redisservice");
    assert_eq!(truth["fault_type_rootline"], serde_json::json!(["memory"]));
    assert_eq!(truth["entity_services"]["mobservice2"], "mobservice");
    let incident: Incident =
        serde_json::from_str(&std::fs::read_to_string(b.join("incident.json")).unwrap()).unwrap();
    // The window is the alerts' span: the first alert is 1625136300740 ms (10:45:00.740 UTC).
    assert_eq!(incident.start.to_rfc3339(), "2021-07-01T10:45:00.740+00:00");
    // The first fault in time has no earlier fault to serve as its baseline.
    assert!(incident.baseline_windows.is_empty());
    let records = json_lines(&b.join("logs"));
    let (ws, we) = incident.window_ns();
    let in_window = |r: &serde_json::Value| {
        let t: chrono::DateTime<chrono::Utc> = r["time"].as_str().unwrap().parse().unwrap();
        let ns = t.timestamp_nanos_opt().unwrap();
        ns >= ws && ns < we
    };
    assert!(records.iter().all(in_window));
    assert!(records.iter().any(|r| r["alert"] == "trace"));
    assert!(records.iter().any(|r| r["alert"] == "metric"));
    let mut files = Vec::new();
    all_files(&b.join("logs"), &mut files);
    for f in files {
        assert!(!read_gz(&f).contains("trigger a high memory program"));
    }

    // A later OpenRCA fault has three earlier faults as baseline, all before its window.
    let b = out.path().join("openrca-boutique-010");
    let incident: Incident =
        serde_json::from_str(&std::fs::read_to_string(b.join("incident.json")).unwrap()).unwrap();
    assert_eq!(incident.baseline_windows.len(), 3);
    assert!(
        incident
            .baseline_windows
            .iter()
            .all(|w| w.end <= incident.start)
    );
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth["source"], "openrca_online_boutique");
    let node_fault = summary
        .bundles
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(
                &std::fs::read_to_string(Path::new(b).join("truth.json")).unwrap(),
            )
            .unwrap()
        })
        .find(|t| t["fault_level"] == "node")
        .expect("a node-level fault");
    // A node is not a service.
    assert!(node_fault["root_cause_service"].is_null());
}
