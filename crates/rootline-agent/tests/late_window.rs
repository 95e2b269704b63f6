//! A window declared after the fault began: the first errors fell just before the declared
//! start and the window itself looks like its baseline. The engine looks again with the window
//! opened a quarter earlier to rank the suspects, and says so, but claims nothing from that look;
//! with `onset.widen_share = 0` the culprit is not even a candidate.

use std::path::Path;

use rootline_agent::{Bundle, EngineConfig, investigate_bundle};
use rootline_core::Outcome;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn ts(s: i64) -> String {
    chrono::DateTime::from_timestamp(s, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Three services log steadily for ten minutes; `payments` writes a burst of a new error in the
/// eight seconds before the declared start, then goes on as before.
/// The declared start.
const START: i64 = 1_700_000_000;

fn late_bundle(root: &Path) {
    let start = START;
    let mut lines = String::new();
    for t in (start - 600)..(start + 120) {
        for service in ["web", "cart", "payments"] {
            lines.push_str(&format!(
                "{{\"time\":\"{}\",\"service\":\"{service}\",\"level\":\"info\",\"msg\":\"handled request in 12 ms\"}}\n",
                ts(t)
            ));
        }
        if (start - 8..start).contains(&t) {
            for _ in 0..3 {
                lines.push_str(&format!(
                    "{{\"time\":\"{}\",\"service\":\"payments\",\"level\":\"error\",\"msg\":\"ledger write failed: deadlock detected\"}}\n",
                    ts(t)
                ));
            }
        }
    }
    write(root, "logs/app.jsonl", &lines);
    write(
        root,
        "incident.json",
        &serde_json::json!({
            "id": "late",
            "title": "checkout errors",
            "start": ts(start),
            "end": ts(start + 40),
        })
        .to_string(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_declared_late_is_ranked_from_a_wider_look_without_a_claim() {
    let dir = tempfile::tempdir().unwrap();
    late_bundle(dir.path());
    let bundle = Bundle::load(dir.path()).unwrap();

    let scratch = tempfile::tempdir().unwrap();
    let (report, _) = investigate_bundle(&bundle, scratch.path(), EngineConfig::default())
        .await
        .unwrap();
    let first = report.candidates.first().expect("a candidate");
    assert_eq!(first.entity, "payments", "{:#?}", report.candidates);
    // Its first change is dated where the wider look saw it: before the declared start.
    let changed = first.first_change.as_deref().expect("a first change");
    let changed = chrono::DateTime::parse_from_rfc3339(changed)
        .unwrap()
        .timestamp();
    assert!((START - 8..START).contains(&changed), "{changed}");
    assert_ne!(
        report.outcome,
        Outcome::ProbableCause,
        "{}",
        report.outcome_reason
    );
    assert!(
        report
            .outcome_reason
            .contains("candidates ranked over the window opened 10 s earlier"),
        "{}",
        report.outcome_reason
    );

    let mut narrow = EngineConfig::default();
    narrow.onset.widen_share = 0.0;
    let scratch = tempfile::tempdir().unwrap();
    let (report, _) = investigate_bundle(&bundle, scratch.path(), narrow)
        .await
        .unwrap();
    assert!(
        report
            .candidates
            .first()
            .is_none_or(|c| c.entity != "payments"),
        "{:#?}",
        report.candidates
    );
    assert!(
        !report.outcome_reason.contains("opened"),
        "{}",
        report.outcome_reason
    );
}
