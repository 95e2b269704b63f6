//! `investigate --prometheus-url` against real query APIs: Debian's `prometheus` scraping itself,
//! and Debian's `victoria-metrics` scraping the same target (the same `/api/v1/query_range`, a
//! second implementation). The investigation pulls the window's and the baseline's series
//! (the documented defaults and a team's own queries from `[prometheus]`), says which query
//! failed and why, and completes when the API cannot be reached. Each part skips with a message
//! when its program is not installed (`scripts/test.sh` installs both when it can).

#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use process::{Killed, free_port};

fn installed(candidates: &[&'static str], version_flag: &str) -> Option<&'static str> {
    candidates.iter().copied().find(|b| {
        Command::new(b)
            .arg(version_flag)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Waits until the query API at `addr` has ten seconds of `up` (scraped every second): true
/// when it did within a minute. The investigated window (the last 20 s, a 15 s step) then has
/// an evaluation point with a sample before it.
async fn has_samples(addr: &str) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..120 {
        let body: Option<serde_json::Value> = async {
            client
                .get(format!("http://{addr}/api/v1/query"))
                .query(&[("query", "count_over_time(up[1m])")])
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()
        }
        .await;
        let n = body
            .as_ref()
            .and_then(|b| b["data"]["result"][0]["value"][1].as_str())
            .and_then(|v| v.parse::<f64>().ok());
        if n.is_some_and(|n| n >= 10.0) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// `rootline --config CONFIG investigate ... --format json` over the last 20 seconds.
fn investigate(dir: &Path, config: &Path, extra: &[&str]) -> Output {
    let now = chrono::Utc::now();
    let mut args = vec![
        "--config".to_string(),
        config.display().to_string(),
        "investigate".into(),
        "--title".into(),
        "latency alert".into(),
        "--start".into(),
        (now - chrono::Duration::seconds(20)).to_rfc3339(),
        "--end".into(),
        now.to_rfc3339(),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(&args)
        .env("ROOTLINE_DATA_DIR", dir.join("data"))
        .env_remove("ROOTLINE_DATABASE_URL")
        .current_dir(dir)
        .output()
        .unwrap()
}

/// The config: the query API, one query of the team's own and one that is not PromQL.
fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("rootline.toml");
    std::fs::write(
        &path,
        format!(
            r#"[prometheus]
url = "{url}"
timeout_secs = 5
[[prometheus.queries]]
name = "scrape_duration_seconds"
query = "scrape_duration_seconds"
[[prometheus.queries]]
name = "broken"
query = "sum by (job"
"#
        ),
    )
    .unwrap();
    path
}

fn report(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What both implementations must give: series pulled into the window, the broken query named
/// in `missing` with the API's reason, the others not.
fn check(report: &serde_json::Value, what: &str) {
    let records = report["stats"]["window_records"].as_u64().unwrap();
    assert!(records > 0, "{what}: nothing pulled: {report:#}");
    let missing: Vec<&str> = report["missing"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert_eq!(missing.len(), 2, "{what}: once per range: {missing:?}");
    assert!(
        missing
            .iter()
            .all(|m| m.starts_with("metrics query broken at http://")),
        "{what}: {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_and_victoria_metrics_answer_the_pull() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = format!("127.0.0.1:{}", free_port());
    let scrape = d.join("scrape.yml");
    std::fs::write(
        &scrape,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();

    // Without any API listening: the investigation completes and says what is missing.
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let out = investigate(d, &config(d, &unreachable), &[]);
    let r = report(&out);
    let missing = r["missing"].as_array().unwrap();
    assert!(!missing.is_empty());
    assert!(
        missing
            .iter()
            .all(|m| m.as_str().unwrap().contains("cannot reach")),
        "{missing:?}"
    );

    match installed(&["prometheus", "/usr/bin/prometheus"], "--version") {
        None => eprintln!(
            "skipped: Debian's prometheus is not installed (scripts/test.sh installs it when it can)"
        ),
        Some(bin) => {
            let _prometheus = Killed(
                Command::new(bin)
                    .arg(format!("--config.file={}", scrape.display()))
                    .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
                    .arg(format!("--web.listen-address={target}"))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            assert!(
                has_samples(&target).await,
                "Prometheus never scraped itself"
            );
            let r = report(&investigate(
                d,
                &config(d, &format!("http://{target}")),
                &[],
            ));
            check(&r, "prometheus");
            // The flag overrides the file's URL.
            let r = report(&investigate(
                d,
                &config(d, &unreachable),
                &["--prometheus-url", &format!("http://{target}")],
            ));
            check(&r, "prometheus via --prometheus-url");

            // VictoriaMetrics scrapes the same Prometheus and answers the same API.
            match installed(
                &["victoria-metrics", "/usr/bin/victoria-metrics"],
                "-version",
            ) {
                None => eprintln!(
                    "skipped: Debian's victoria-metrics is not installed (scripts/test.sh installs it when it can)"
                ),
                Some(vm) => {
                    let vm_addr = format!("127.0.0.1:{}", free_port());
                    let _vm = Killed(
                        Command::new(vm)
                            .arg(format!("-promscrape.config={}", scrape.display()))
                            .arg(format!("-storageDataPath={}", d.join("vm").display()))
                            .arg(format!("-httpListenAddr={vm_addr}"))
                            // VictoriaMetrics hides the last 30 s from queries by default; the
                            // window here is the last 20 s.
                            .arg("-search.latencyOffset=0s")
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .spawn()
                            .unwrap(),
                    );
                    assert!(has_samples(&vm_addr).await, "VictoriaMetrics never scraped");
                    let r = report(&investigate(
                        d,
                        &config(d, &format!("http://{vm_addr}")),
                        &[],
                    ));
                    check(&r, "victoria-metrics");
                }
            }
        }
    }
}
