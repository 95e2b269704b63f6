//! `investigate --prometheus-url` against real query APIs: Debian's `prometheus` and Debian's
//! `victoria-metrics` (the same `/api/v1/query_range`, a second implementation) both scrape a
//! running `rootline serve`; a burst of rejected ingest lines makes its rejected-records counter
//! move, and an investigation of that minute pulls the window and its baseline from each and
//! names the series that moved. It also says which query failed and why, and completes when the
//! API cannot be reached. Each part skips with a message
//! when its program is not installed (`scripts/test.sh` installs both when it can).

#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use process::{Killed, free_port, installed, serve};

/// Waits until the query API at `addr` has `at_least` samples of `up` (scraped every second):
/// true when it did within three minutes.
async fn has_samples(addr: &str, at_least: f64) -> bool {
    let client = reqwest::Client::new();
    for _ in 0..360 {
        let body: Option<serde_json::Value> = async {
            client
                .get(format!("http://{addr}/api/v1/query"))
                .query(&[("query", "count_over_time(up[5m])")])
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
        if n.is_some_and(|n| n >= at_least) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// `rootline --config CONFIG investigate ... --format json` from `start` to now.
fn investigate(
    dir: &Path,
    config: &Path,
    start: chrono::DateTime<chrono::Utc>,
    extra: &[&str],
) -> Output {
    let now = chrono::Utc::now();
    let mut args = vec![
        "--config".to_string(),
        config.display().to_string(),
        "investigate".into(),
        "--title".into(),
        "latency alert".into(),
        "--start".into(),
        start.to_rfc3339(),
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

/// The config: the query API, one query of the team's own (rootline's rejected records, 0 while
/// there are none) and one that is not PromQL.
fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("rootline.toml");
    std::fs::write(
        &path,
        format!(
            r#"[prometheus]
url = "{url}"
timeout_secs = 5
[[prometheus.queries]]
name = "ingest_errors"
query = "sum by (job) (rootline_rejected_records_total) or sum by (job) (up) * 0"
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

/// What both implementations must give: series pulled into the window, the rejected records'
/// rise found at rootline, the broken query named in `missing` with the API's reason, the others
/// not.
fn check(report: &serde_json::Value, what: &str) {
    let moved = report["evidence"].as_array().unwrap().iter().find(|e| {
        e["kind"] == "metric_anomaly"
            && e["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("ingest_errors") && s.contains("rose"))
    });
    let moved = moved.unwrap_or_else(|| panic!("{what}: the rise was not found: {report:#}"));
    assert_eq!(moved["entity"], "rootline", "{what}: {moved:#}");
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
async fn real_prometheus_and_victoria_metrics_answer_the_pull() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("serve")).unwrap();

    // Without any API listening: the investigation completes and says what is missing.
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let out = investigate(
        d,
        &config(d, &unreachable),
        chrono::Utc::now() - chrono::Duration::seconds(20),
        &[],
    );
    let r = report(&out);
    let missing = r["missing"].as_array().unwrap();
    assert!(!missing.is_empty());
    assert!(
        missing
            .iter()
            .all(|m| m.as_str().unwrap().contains("cannot reach")),
        "{missing:?}"
    );

    let Some(prometheus) = installed(&["prometheus", "/usr/bin/prometheus"], "--version") else {
        eprintln!(
            "skipped: Debian's prometheus is not installed (scripts/test.sh installs it when it can)"
        );
        return;
    };
    let vm = installed(
        &["victoria-metrics", "/usr/bin/victoria-metrics"],
        "-version",
    );
    if vm.is_none() {
        eprintln!(
            "skipped the VictoriaMetrics part: Debian's victoria-metrics is not installed (scripts/test.sh installs it when it can)"
        );
    }
    let (_serve, target, token) = serve(&d.join("serve"));
    let scrape = d.join("scrape.yml");
    std::fs::write(
        &scrape,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: rootline\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let _prometheus = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", scrape.display()))
            .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let vm_addr = format!("127.0.0.1:{}", free_port());
    let _vm = vm.map(|vm| {
        Killed(
            Command::new(vm)
                .arg(format!("-promscrape.config={}", scrape.display()))
                .arg(format!("-storageDataPath={}", d.join("vm").display()))
                .arg(format!("-httpListenAddr={vm_addr}"))
                // VictoriaMetrics hides the last 30 s from queries by default; the window here
                // ends now.
                .arg("-search.latencyOffset=0s")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    });
    // A quiet baseline first: the metric baseline ends a minute before the window
    // (`metric_gap_ns`) and three points at a 15 s step need 45 s more of samples.
    assert!(
        has_samples(&prom_addr, 115.0).await,
        "Prometheus never scraped"
    );
    if vm.is_some() {
        assert!(
            has_samples(&vm_addr, 115.0).await,
            "VictoriaMetrics never scraped"
        );
    }

    // The burst: forty lines that are not log lines, all rejected.
    let burst_at = chrono::Utc::now();
    let reply = process::client_with(&token)
        .post(format!("http://{target}/api/v1/ingest/logs?service=api"))
        .header("content-type", "text/plain")
        .body("not a log line\n".repeat(40))
        .send()
        .await
        .unwrap();
    assert!(reply.status().is_success() || reply.status().as_u16() == 422);
    // Let both scrape it and reach the next evaluation point.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let start = burst_at - chrono::Duration::seconds(3);

    let r = report(&investigate(
        d,
        &config(d, &format!("http://{prom_addr}")),
        start,
        &[],
    ));
    check(&r, "prometheus");
    // The flag overrides the file's URL.
    let r = report(&investigate(
        d,
        &config(d, &unreachable),
        start,
        &["--prometheus-url", &format!("http://{prom_addr}")],
    ));
    check(&r, "prometheus via --prometheus-url");
    if vm.is_some() {
        let r = report(&investigate(
            d,
            &config(d, &format!("http://{vm_addr}")),
            start,
            &[],
        ));
        check(&r, "victoria-metrics");
    }
}
