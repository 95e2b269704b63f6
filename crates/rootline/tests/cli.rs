//! End-to-end tests of the `rootline` binary: real files, a real index and a real SQLite store in
//! a temporary data dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rootline(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(args)
        .env("ROOTLINE_DATA_DIR", data_dir)
        .env_remove("ROOTLINE_DATABASE_URL")
        .env_remove("ROOTLINE_CONFIG")
        .current_dir(data_dir)
        .output()
        .expect("run rootline")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const MIXED_LOG: &str = r#"2023-01-29T08:40:00Z INFO  checkout started order=1
{"time":"2023-01-29T08:40:01Z","level":"error","service":"payments","msg":"card processor timeout after 3000ms"}
this line has no timestamp
{"time":"2023-01-29T08:40:02Z","msg":
2023-01-29T08:40:03Z ERROR checkout failed: upstream payments unavailable
    at com.shop.Checkout.pay(Checkout.java:88)
{"time":"not a time","msg":"x"}
2023-01-29T08:40:04Z INFO  checkout started order=2
"#;

#[test]
fn ingest_reports_counts_and_rejects_and_good_lines_are_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("checkout.log");
    std::fs::write(&log, MIXED_LOG).unwrap();
    let out = rootline(dir.path(), &["ingest", "--json", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["read"], 8);
    assert_eq!(summary["indexed"], 4);
    assert_eq!(summary["rejected"], 3);
    assert_eq!(summary["joined"], 1);
    let err = stderr(&out);
    for line in [3, 4, 7] {
        assert!(
            err.contains(&format!("checkout.log:{line}: ")),
            "line {line} not reported in: {err}"
        );
    }
    assert!(err.contains("no timestamp") && err.contains("invalid JSON"));

    let out = rootline(dir.path(), &["search", "--json", "timeout OR unavailable"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hits: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().any(|h| h["service"] == "payments"));
    assert!(hits.iter().any(|h| h["service"] == "checkout"
        && h["message"].as_str().unwrap().contains("Checkout.java:88")));

    // Re-ingesting the same file adds nothing.
    let out = rootline(dir.path(), &["ingest", "--json", log.to_str().unwrap()]);
    assert!(out.status.success());
    let out = rootline(dir.path(), &["search", "--json", "checkout"]);
    let hits: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(hits.len(), 3, "{hits:?}");
}

#[test]
fn rejects_file_and_missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, MIXED_LOG).unwrap();
    let rejects = dir.path().join("rejects.jsonl");
    let missing = dir.path().join("does-not-exist.log");
    let out = rootline(
        dir.path(),
        &[
            "ingest",
            "--json",
            "--rejects",
            rejects.to_str().unwrap(),
            missing.to_str().unwrap(),
            log.to_str().unwrap(),
        ],
    );
    // The missing file fails the run, but the good file still went in.
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does-not-exist.log"),
        "{}",
        stderr(&out)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(summary["indexed"], 4);
    assert_eq!(summary["file_errors"], 1);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rejects)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["line"], 3);
    assert!(lines[0]["file"].as_str().unwrap().ends_with("app.log"));
}

#[test]
fn investigate_a_window_with_no_data_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("checkout.log");
    std::fs::write(&log, MIXED_LOG).unwrap();
    assert!(
        rootline(dir.path(), &["ingest", log.to_str().unwrap()])
            .status
            .success()
    );
    let out = rootline(
        dir.path(),
        &[
            "investigate",
            "--title",
            "checkout down",
            "--start",
            "2024-05-01T00:00:00Z",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["outcome"], "no_data");
    assert_eq!(report["candidates"].as_array().unwrap().len(), 0);
    // Stored, and printable again by id.
    let id = report["investigation_id"].as_str().unwrap();
    let again = rootline(dir.path(), &["report", id, "--format", "markdown"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("No data"));
}

/// A data dir's `topology.json` reaches a data-dir investigation: the caller whose callee also
/// fails is discounted, and says so.
#[test]
fn investigate_over_the_data_dir_reads_its_declared_topology() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = String::new();
    for i in 0..300 {
        // Ten minutes of routine traffic, then ten minutes in which both services fail.
        let ts = |s: i64| {
            chrono::DateTime::from_timestamp(1_675_000_000 + s, 0)
                .unwrap()
                .to_rfc3339()
        };
        let (t, window) = (i * 4, i >= 150);
        lines.push_str(&format!(
            "{{\"time\":\"{}\",\"level\":\"info\",\"service\":\"frontend\",\"pod\":\"frontend-0\",\"msg\":\"GET /cart 200\"}}\n",
            ts(t)
        ));
        lines.push_str(&format!(
            "{{\"time\":\"{}\",\"level\":\"info\",\"service\":\"cart\",\"pod\":\"cart-1\",\"msg\":\"cart read ok\"}}\n",
            ts(t + 1)
        ));
        if window {
            lines.push_str(&format!(
                "{{\"time\":\"{}\",\"level\":\"error\",\"service\":\"frontend\",\"pod\":\"frontend-0\",\"msg\":\"upstream request failed\"}}\n",
                ts(t + 2)
            ));
            lines.push_str(&format!(
                "{{\"time\":\"{}\",\"level\":\"error\",\"service\":\"cart\",\"pod\":\"cart-1\",\"msg\":\"redis timeout\"}}\n",
                ts(t + 3)
            ));
        }
    }
    let log = dir.path().join("shop.jsonl");
    std::fs::write(&log, lines).unwrap();
    assert!(
        rootline(dir.path(), &["ingest", log.to_str().unwrap()])
            .status
            .success()
    );
    let investigate = || {
        let out = rootline(
            dir.path(),
            &[
                "investigate",
                "--title",
                "shop errors",
                "--start",
                "2023-01-29T13:56:40Z",
                "--end",
                "2023-01-29T14:06:40Z",
                "--format",
                "json",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let frontend = report["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["entity"] == "frontend")
            .cloned()
            .expect("frontend is a candidate");
        (
            frontend["score"].as_f64().unwrap(),
            frontend["why"].as_str().unwrap().to_string(),
        )
    };
    let (alone, why_alone) = investigate();
    assert!(!why_alone.contains("callee"), "{why_alone}");
    std::fs::write(
        dir.path().join("topology.json"),
        r#"{"calls": {"frontend": ["cart"]}}"#,
    )
    .unwrap();
    let (with_topology, why) = investigate();
    assert!(with_topology < alone, "{with_topology} vs {alone}");
    assert!(why.contains("partly explained by its callee cart"), "{why}");
}

#[test]
fn investigate_flags_errors_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = rootline(
        dir.path(),
        &["investigate", "--title", "x", "--start", "tomorrow-ish"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--start"), "{}", stderr(&out));
    let out = rootline(dir.path(), &["investigate", "/nonexistent/bundle"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/nonexistent/bundle/incident.json"),
        "{}",
        stderr(&out)
    );
}

/// The bundled real incident: the ranking must put the known root cause in its top 3.
#[test]
fn demo_ranks_the_true_root_cause_in_the_top_three() {
    let dir = tempfile::tempdir().unwrap();
    let out = rootline(dir.path(), &["demo", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let bundle = repo_root().join("eval/demo/nezha-tt-2023-01-29-0925");
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("truth.json")).unwrap()).unwrap();
    let top3: Vec<&str> = report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .take(3)
        .map(|c| c["entity"].as_str().unwrap())
        .collect();
    assert!(
        top3.contains(&truth["root_cause_service"].as_str().unwrap()),
        "top 3 {top3:?}, truth {}",
        truth["root_cause_service"]
    );
    // Every candidate cites evidence that is in the report.
    let ids: Vec<&str> = report["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for c in report["candidates"].as_array().unwrap() {
        assert!(!c["evidence"].as_array().unwrap().is_empty());
        for e in c["evidence"].as_array().unwrap() {
            assert!(ids.contains(&e.as_str().unwrap()));
        }
    }
    assert!(dir.path().join("rootline.db").exists());
}

#[test]
fn config_file_is_read_and_env_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file");
    std::fs::write(
        dir.path().join("rootline.toml"),
        format!("data_dir = {:?}\n", from_file.to_str().unwrap()),
    )
    .unwrap();
    let log = dir.path().join("a.log");
    std::fs::write(&log, "2023-01-29T08:40:00Z INFO hello\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["ingest", log.to_str().unwrap()])
        .env_remove("ROOTLINE_DATA_DIR")
        .env_remove("ROOTLINE_DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(from_file.join("index").exists());
    assert!(from_file.join("rootline.db").exists());
}

#[test]
fn templates_list_and_diff_on_the_demo_logs() {
    let dir = tempfile::tempdir().unwrap();
    let logs = repo_root().join("eval/demo/nezha-tt-2023-01-29-0925/logs");
    let mut args = vec!["ingest".to_string(), "--json".to_string()];
    for e in std::fs::read_dir(&logs).unwrap() {
        args.push(e.unwrap().path().display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = rootline(dir.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let indexed = summary["indexed"].as_u64().unwrap();

    let out = rootline(
        dir.path(),
        &["templates", "list", "--json", "--limit", "100000"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let total: u64 = list.iter().map(|t| t["count"].as_u64().unwrap()).sum();
    assert_eq!(
        total, indexed,
        "every record belongs to exactly one template"
    );
    assert!(
        list.len() < indexed as usize / 10,
        "templates compress the logs"
    );

    // The injected exception shows up as a template that is new in the incident window.
    let out = rootline(
        dir.path(),
        &[
            "templates",
            "diff",
            "--json",
            "--start",
            "2023-01-29T09:25:39Z",
            "--end",
            "2023-01-29T09:27:09Z",
            "--baseline-start",
            "2023-01-29T08:48:00Z",
            "--baseline-end",
            "2023-01-29T08:52:00Z",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    let exception = rows
        .iter()
        .find(|r| {
            r["change"] == "new"
                && r["service"] == "ts-basic-service"
                && r["template"].as_str().unwrap().contains("exception")
        })
        .expect("the new exception template");
    assert_eq!(exception["baseline_count"], 0);
    assert!(exception["window_count"].as_u64().unwrap() > 0);
    assert!(!exception["examples"].as_array().unwrap().is_empty());
    // A quiet window compared with itself shows nothing.
    let out = rootline(
        dir.path(),
        &[
            "templates",
            "diff",
            "--json",
            "--start",
            "2023-01-29T08:48:00Z",
            "--end",
            "2023-01-29T08:52:00Z",
            "--baseline-start",
            "2023-01-29T08:48:00Z",
            "--baseline-end",
            "2023-01-29T08:52:00Z",
        ],
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn templates_eval_writes_assignments_for_independent_scoring() {
    let loghub = repo_root().join("../shared/datasets/loghub2k/HDFS");
    if !loghub.exists() {
        eprintln!("SKIPPED: {} is absent", loghub.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("loghub");
    std::fs::create_dir_all(data.join("HDFS")).unwrap();
    for e in std::fs::read_dir(&loghub).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, data.join("HDFS").join(p.file_name().unwrap())).unwrap();
    }
    let out_dir = dir.path().join("assignments");
    let out = rootline(
        dir.path(),
        &[
            "templates",
            "eval",
            data.to_str().unwrap(),
            "--json",
            "--assignments",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report["average"]["ga"].as_f64().unwrap() > 0.95, "{report}");
    let csv = std::fs::read_to_string(out_dir.join("HDFS.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("LineId,TemplateId,Template"));
    assert_eq!(lines.count(), 2000);
}

/// A process killed in the middle of an ingest loses nothing that was acknowledged before, and
/// running the same ingest again ends with every line exactly once.
#[test]
fn killed_ingest_loses_nothing_acknowledged_and_rerun_does_not_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    // Acknowledged first: a small file whose summary is printed.
    let small = dir.path().join("small.log");
    std::fs::write(&small, MIXED_LOG).unwrap();
    let out = rootline(dir.path(), &["ingest", "--json", small.to_str().unwrap()]);
    assert!(out.status.success());
    // A big file, killed while it is being ingested.
    let big = dir.path().join("big.log");
    let lines = 300_000u64;
    let mut text = String::with_capacity(lines as usize * 80);
    for i in 0..lines {
        text.push_str(&format!(
            "{{\"ts\":{},\"service\":\"s{}\",\"level\":\"info\",\"msg\":\"request {i} served in {}ms\"}}\n",
            1_700_000_000 + i,
            i % 7,
            i % 500
        ));
    }
    std::fs::write(&big, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["ingest", big.to_str().unwrap()])
        .env("ROOTLINE_DATA_DIR", dir.path())
        .env_remove("ROOTLINE_DATABASE_URL")
        .env_remove("ROOTLINE_CONFIG")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let _ = child.kill();
    let _ = child.wait();
    let count = |query: &str| -> u64 {
        let out = rootline(dir.path(), &["search", "--count", query]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().parse().unwrap()
    };
    // The acknowledged records are all there, whatever the kill left half done.
    assert_eq!(count("checkout"), 3);
    let partial = count("*");
    assert!(partial >= 4 && partial <= 4 + lines, "{partial}");
    // Re-running the same ingest completes it without duplicates.
    let out = rootline(dir.path(), &["ingest", "--json", big.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count("*"), 4 + lines);
    let out = rootline(dir.path(), &["ingest", "--json", big.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(count("*"), 4 + lines);
}

/// An on-call engineer knows when the alert fired, not the fault's second: `--around` the alert
/// with the default half hour before it finds the demo incident's culprit first, and a window
/// flag that makes no sense is refused with its name.
#[test]
fn investigate_around_the_alert_time_finds_the_demo_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo_root().join("eval/demo/nezha-tt-2023-01-29-0925");
    let logs: Vec<String> = std::fs::read_dir(demo.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["ingest"];
    args.extend(logs.iter().map(String::as_str));
    let o = rootline(dir.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    // The fault was injected at 09:25:39; the alert fired about a minute and a half later.
    let o = rootline(
        dir.path(),
        &[
            "investigate",
            "--around",
            "2023-01-29T09:27:00Z",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["stats"]["window_start"], "2023-01-29T08:57:00.000Z");
    assert_eq!(report["stats"]["window_end"], "2023-01-29T09:37:00.000Z");
    assert_eq!(report["candidates"][0]["entity"], "ts-basic-service");
    assert_eq!(report["onset"]["how"], "declared");
    let o = rootline(
        dir.path(),
        &[
            "investigate",
            "--around",
            "2023-01-29T09:27:00Z",
            "--before",
            "30x",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--before"), "{}", stderr(&o));
}

/// "How right were we this month": the demo investigation, judged right, is scored by
/// `eval --verdicts` from the store alone (no bundle, no export).
#[test]
fn eval_verdicts_scores_stored_investigations_against_their_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let demo = repo_root().join("eval/demo/nezha-tt-2023-01-29-0925");
    let o = rootline(
        dir.path(),
        &["investigate", demo.to_str().unwrap(), "--format", "json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = report["investigation_id"].as_str().unwrap().to_owned();
    let o = rootline(dir.path(), &["eval", "--verdicts"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("No judged investigation yet"),
        "{}",
        stdout(&o)
    );
    let o = rootline(dir.path(), &["user", "add", "rae", "--role", "responder"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&rootline(dir.path(), &["token", "create", "rae"]));
    let o = rootline(
        dir.path(),
        &[
            "verdict",
            "add",
            "--token",
            token.trim(),
            &id,
            "--target",
            "investigation",
            "--judgement",
            "accepted",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = rootline(dir.path(), &["eval", "--verdicts", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scores: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(scores["all"]["n"], 1, "{scores:#}");
    assert_eq!(scores["all"]["at1"], 1, "{scores:#}");
    assert_eq!(
        scores["cases"][0]["root_cause"], "ts-basic-service",
        "{scores:#}"
    );
    let o = rootline(dir.path(), &["eval", "--verdicts"]);
    assert!(
        stdout(&o).contains("| all | 1 | 1.00 | 1.00 |"),
        "{}",
        stdout(&o)
    );
}
