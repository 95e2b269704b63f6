//! A real alerting chain into rootline: Debian's `prometheus` evaluates an alerting rule and
//! sends the firing alert to Debian's `prometheus-alertmanager`, which notifies a running
//! `rootline serve` through the webhook receiver documented in docs/alertmanager.md. The alert
//! must become one incident (title from the `summary` annotation, service from the `service`
//! label) with its investigation stored, however many times Alertmanager repeats it. Skips with
//! a message when either program is missing (`scripts/test.sh` installs both when it can).

#[path = "support/process.rs"]
mod process;

use std::process::{Command, Stdio};
use std::time::Duration;

use process::{Killed, client_with, free_port, installed, serve};

#[tokio::test(flavor = "multi_thread")]
async fn a_prometheus_alert_through_a_real_alertmanager_becomes_one_investigation() {
    let (Some(prometheus), Some(alertmanager)) = (
        installed(&["prometheus", "/usr/bin/prometheus"], "--version"),
        installed(
            &[
                "prometheus-alertmanager",
                "/usr/bin/prometheus-alertmanager",
            ],
            "--version",
        ),
    ) else {
        eprintln!(
            "skipped: Debian's prometheus and prometheus-alertmanager are needed (scripts/test.sh installs them when it can)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_serve, rootline, token) = serve(d);
    let am_addr = format!("127.0.0.1:{}", free_port());
    let prom_addr = format!("127.0.0.1:{}", free_port());

    // The receiver from deploy/alertmanager/alertmanager.yml, pointed at this rootline, with
    // short waits for the test.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = std::fs::read_to_string(repo.join("deploy/alertmanager/alertmanager.yml"))
        .unwrap()
        .replace("127.0.0.1:7878", &rootline)
        .replace(
            "/etc/alertmanager/rootline-token",
            &d.join("rootline-token").display().to_string(),
        )
        .replace("group_wait: 30s", "group_wait: 1s")
        .replace("group_interval: 5m", "group_interval: 2s")
        .replace("repeat_interval: 4h", "repeat_interval: 3s");
    assert!(config.contains(&rootline) && config.contains("repeat_interval: 3s"));
    std::fs::write(d.join("alertmanager.yml"), config).unwrap();
    // Alertmanager's own credential: an investigate-only token of a responder, as the
    // deploy file's comment says.
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rootline"))
            .args(args)
            .env("ROOTLINE_DATA_DIR", d)
            .env_remove("ROOTLINE_DATABASE_URL")
            .current_dir(d)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&["user", "add", "alertmanager", "--role", "responder"]);
    let am_token = cli(&[
        "token",
        "create",
        "alertmanager",
        "--scope",
        "investigate",
        "--never-expires",
    ]);
    std::fs::write(d.join("rootline-token"), am_token.trim()).unwrap();
    std::fs::write(
        d.join("rules.yml"),
        r#"groups:
  - name: checkout
    interval: 1s
    rules:
      - alert: CheckoutLatencyHigh
        expr: vector(1)
        labels:
          severity: page
          service: checkout
        annotations:
          summary: checkout p99 latency above 2 s
          description: the checkout service answers slowly
"#,
    )
    .unwrap();
    std::fs::write(
        d.join("prometheus.yml"),
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n",
            d.join("rules.yml").display()
        ),
    )
    .unwrap();
    let _am = Killed(
        Command::new(alertmanager)
            .arg(format!(
                "--config.file={}",
                d.join("alertmanager.yml").display()
            ))
            .arg(format!("--storage.path={}", d.join("am").display()))
            .arg(format!("--web.listen-address={am_addr}"))
            // No gossip port: one instance.
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _prometheus = Killed(
        Command::new(prometheus)
            .arg(format!(
                "--config.file={}",
                d.join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
            .arg(format!("--web.listen-address={prom_addr}"))
            // The first notification may go out before Alertmanager is discovered; resend
            // every second instead of every minute.
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let client = client_with(&token);
    let incidents = || async {
        client
            .get(format!("http://{rootline}/api/v1/incidents"))
            .send()
            .await
            .ok()?
            .json::<serde_json::Value>()
            .await
            .ok()
    };
    let mut found = None;
    for _ in 0..120 {
        if let Some(list) = incidents().await
            && list["incidents"].as_array().is_some_and(|a| !a.is_empty())
        {
            found = Some(list);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let list = found.expect("no incident from the alert within a minute");
    let incident = &list["incidents"][0];
    assert_eq!(
        incident["title"], "checkout p99 latency above 2 s",
        "{list:#}"
    );
    assert_eq!(incident["services"][0], "checkout", "{list:#}");
    assert!(
        incident["description"]
            .as_str()
            .unwrap()
            .contains("answers slowly"),
        "{list:#}"
    );
    let id = incident["id"].as_str().unwrap();
    let investigations: serde_json::Value = client
        .get(format!(
            "http://{rootline}/api/v1/incidents/{id}/investigations"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        investigations["investigations"].as_array().map(Vec::len),
        Some(1),
        "{investigations:#}"
    );

    // Alertmanager repeats the group every 3 s: still one incident, one investigation.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let list = incidents().await.unwrap();
    assert_eq!(list["incidents"].as_array().unwrap().len(), 1, "{list:#}");
}
