//! A real Prometheus (Debian's `prometheus`) scrapes a running `rootline serve` with
//! `deploy/prometheus/prometheus.yml`, and rootline's own series are read back through
//! Prometheus's query API: the records an ingest request stored, the lines it rejected, and the
//! request itself under its route template. Skips with a message when Prometheus is not
//! installed (`scripts/test.sh` installs it when it can).

#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use process::{Killed, client_with, free_port, installed, serve};

/// The value of a Prometheus instant query's first sample, when there is one.
async fn query(client: &reqwest::Client, prometheus: &str, promql: &str) -> Option<f64> {
    let body: serde_json::Value = client
        .get(format!("http://{prometheus}/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["data"]["result"][0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_rootlines_own_series() {
    let Some(prometheus_bin) = installed(&["prometheus", "/usr/bin/prometheus"], "--version")
    else {
        eprintln!(
            "skipped: Debian's prometheus is not installed (scripts/test.sh installs it when it can)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_serve, addr, token) = serve(dir.path());
    let client = client_with(&token);
    // Two good lines and one that is not a log line.
    let reply = client
        .post(format!("http://{addr}/api/v1/ingest/logs?service=api"))
        .header("content-type", "text/plain")
        .body(concat!(
            "{\"time\":\"2024-01-01T00:00:00Z\",\"level\":\"info\",\"msg\":\"started\"}\n",
            "a line with no time after a JSON record\n",
            "{\"time\":\"2024-01-01T00:00:01Z\",\"level\":\"error\",\"msg\":\"failed\"}\n",
        ))
        .send()
        .await
        .unwrap();
    assert!(
        reply.status().is_success(),
        "{}",
        reply.text().await.unwrap()
    );

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = std::fs::read_to_string(repo.join("deploy/prometheus/prometheus.yml"))
        .unwrap()
        .replace("127.0.0.1:7878", &addr)
        .replace("scrape_interval: 15s", "scrape_interval: 1s");
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let _prometheus = Killed(
        Command::new(prometheus_bin)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut found = (None, None, None, None);
    for _ in 0..120 {
        found = (
            query(&client, &prom_addr, "up{job=\"rootline\"}").await,
            query(
                &client,
                &prom_addr,
                "rootline_ingested_records_total{kind=\"logs\"}",
            )
            .await,
            query(
                &client,
                &prom_addr,
                "rootline_rejected_records_total{kind=\"logs\"}",
            )
            .await,
            query(
                &client,
                &prom_addr,
                "rootline_http_requests_total{route=\"/api/v1/ingest/logs\",status=\"200\"}",
            )
            .await,
        );
        if found.0 == Some(1.0) && found.1.is_some() && found.2.is_some() && found.3.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(found.0, Some(1.0), "Prometheus scraped rootline: {found:?}");
    assert_eq!(found.1, Some(2.0), "two records stored: {found:?}");
    assert_eq!(found.2, Some(1.0), "one line rejected: {found:?}");
    assert_eq!(found.3, Some(1.0), "the request, by its route: {found:?}");
}
