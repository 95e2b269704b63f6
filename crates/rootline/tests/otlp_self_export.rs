//! rootline watches itself: `rootline serve` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at its
//! own OTLP receiver exports the spans of an investigation (the investigation, its phases, the
//! HTTP request that asked for it), and they land in its own span index, joined as one trace.
//! The receiver's own requests are never exported (that would feed itself forever).

#[path = "support/process.rs"]
mod process;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use process::{Killed, free_port};
use rootline_index::spans::SpanIndex;

#[tokio::test(flavor = "multi_thread")]
async fn serve_exports_its_own_investigation_spans_to_its_own_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let addr = format!("127.0.0.1:{}", free_port());
    // The receiver needs a credential, the exporter sends it as an operator would configure it.
    let token = process::admin_token(d);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["serve", "--listen", &addr])
        .env("ROOTLINE_DATA_DIR", d)
        .env_remove("ROOTLINE_DATABASE_URL")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer%20{token}"),
        )
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .current_dir(d)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _serve = Killed(child);
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines.next().expect("serve exited").unwrap();
        if line.starts_with("rootline listening on ") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});

    let client = process::client_with(&token);
    process::payments_errors_investigated(&client, &addr).await;

    let mut spans = Vec::new();
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Ok(index) = SpanIndex::open(&d.join("spans")) else {
            continue;
        };
        spans = index.spans(None).unwrap_or_default();
        let has = |op: &str| spans.iter().any(|s| s.operation == op);
        if has("investigation") && has("rank") && has("signals") {
            break;
        }
    }
    let ops: Vec<&str> = spans.iter().map(|s| s.operation.as_str()).collect();
    let investigation = spans
        .iter()
        .find(|s| s.operation == "investigation")
        .unwrap_or_else(|| panic!("no investigation span among {ops:?}"));
    assert_eq!(investigation.service, "rootline");
    for phase in ["onset", "signals", "rank"] {
        let s = spans
            .iter()
            .find(|s| s.operation == phase)
            .unwrap_or_else(|| panic!("no {phase} span among {ops:?}"));
        assert_eq!(s.trace_id, investigation.trace_id, "{phase}");
        assert!(s.parent_span_id.is_some(), "{phase}");
    }
    // The HTTP request that asked for it is the same trace's root.
    assert!(
        spans.iter().any(|s| s.trace_id == investigation.trace_id
            && s.operation.contains("/api/v1/investigations")),
        "{ops:?}"
    );
    // The receiver's own requests are not exported.
    assert!(!ops.iter().any(|o| o.contains("/v1/traces")), "{ops:?}");
}
