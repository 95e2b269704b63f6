//! Bundles with only some parts: metrics and a topology without any logs, judged against a
//! declared known-good period far from the incident; and logs without any baseline, ranked from
//! the window alone.

use std::path::Path;

use rootline_agent::{Bundle, EngineConfig, investigate_bundle};
use rootline_core::Outcome;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Five-minute points, as CloudWatch gives them: a day of fault-free latency (with a little
/// variation) a week before the incident, then the incident's clip where `search` slows down
/// while `web`, which calls it, stays almost as it was.
#[tokio::test(flavor = "multi_thread")]
async fn a_metrics_only_bundle_is_judged_against_its_declared_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let day = 86_400i64;
    let incident_at = 1_700_000_000i64 - 1_700_000_000 % 300;
    let baseline_at = incident_at - 7 * day;
    let mut prom = String::new();
    for i in 0..288i64 {
        let t = baseline_at + i * 300;
        let wiggle = [0.0, 0.002, -0.001, 0.001][(i % 4) as usize];
        prom.push_str(&format!(
            "latency_p90{{service=\"search\"}} {} {t}\nlatency_p90{{service=\"web\"}} {} {t}\n",
            0.010 + wiggle,
            0.050 + wiggle
        ));
    }
    for i in 0..6i64 {
        let t = incident_at + i * 300;
        let slow = if i >= 2 { 0.400 } else { 0.010 };
        let web = if i >= 2 { 0.056 } else { 0.050 };
        prom.push_str(&format!(
            "latency_p90{{service=\"search\"}} {slow} {t}\nlatency_p90{{service=\"web\"}} {web} {t}\n"
        ));
    }
    write(root, "metrics/all.prom", &prom);
    write(root, "topology.json", r#"{"calls": {"web": ["search"]}}"#);
    let ts = |s: i64| {
        chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    write(
        root,
        "incident.json",
        &serde_json::json!({
            "id": "metrics-only",
            "title": "web latency p90 high",
            "start": ts(incident_at),
            "end": ts(incident_at + 1_800),
            "services": ["web"],
            "baseline_windows": [{"start": ts(baseline_at), "end": ts(baseline_at + day)}],
        })
        .to_string(),
    );
    let bundle = Bundle::load(root).expect("a bundle without logs/ loads");
    assert!(bundle.log_files.is_empty());
    let scratch = tempfile::tempdir().unwrap();
    let (report, _) = investigate_bundle(&bundle, scratch.path(), EngineConfig::default())
        .await
        .unwrap();
    assert_ne!(report.outcome, Outcome::NoData, "{}", report.outcome_reason);
    let first = report.candidates.first().expect("a candidate");
    assert_eq!(first.entity, "search", "{:#?}", report.candidates);
}

/// Only the incident's own minutes of logs, nothing before them: the window is ranked by
/// itself. The service that writes the new errors leads, and the outcome says why it cannot be
/// a probable cause.
#[tokio::test(flavor = "multi_thread")]
async fn logs_without_a_baseline_are_ranked_from_the_window_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut logs = String::new();
    for s in 0..120u32 {
        let t = format!("2024-01-01T00:{:02}:{:02}Z", 10 + s / 60, s % 60);
        for svc in ["web", "cart", "search"] {
            logs.push_str(&format!(
                "{}\n",
                serde_json::json!({"time": t, "level": "info", "service": svc, "msg": "request served"})
            ));
        }
        if s % 3 == 0 {
            logs.push_str(&format!(
                "{}\n",
                serde_json::json!({"time": t, "level": "error", "service": "cart", "msg": "java.sql.SQLException: connection refused"})
            ));
        }
    }
    write(root, "logs/app.jsonl", &logs);
    write(
        root,
        "incident.json",
        &serde_json::json!({
            "id": "no-baseline",
            "title": "cart failing",
            "start": "2024-01-01T00:10:00Z",
            "end": "2024-01-01T00:12:00Z",
        })
        .to_string(),
    );
    let bundle = Bundle::load(root).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (report, _) = investigate_bundle(&bundle, scratch.path(), EngineConfig::default())
        .await
        .unwrap();
    assert_eq!(report.stats.baseline_records, 0);
    assert_eq!(
        report.candidates[0].entity, "cart",
        "{:#?}",
        report.candidates
    );
    assert_eq!(report.outcome, Outcome::InsufficientEvidence);
    assert!(
        report
            .outcome_reason
            .starts_with("no baseline: ranked from the window alone"),
        "{}",
        report.outcome_reason
    );
}
