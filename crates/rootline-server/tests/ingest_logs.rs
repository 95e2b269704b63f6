//! `POST /api/v1/ingest/logs` over real HTTP (`127.0.0.1:0`, a real SQLite store): a body is
//! read like a log file, so a Java or Python stack trace becomes one record with its trace lines,
//! lines are numbered like a file's and rejects name their line.
//!
//! The ingest service here keeps what the server hands it: this crate's boundary is the
//! `IngestService` trait (the index-backed service of `rootline serve` is exercised end to end in
//! `crates/rootline/tests/serve_ingest.rs`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rootline_core::{Level, LogRecord, MetricPoint, Span};
use rootline_server::{AppState, Application, BoxFuture, IngestService, ServiceError};
use rootline_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[allow(unused_macros)]
mod common;

use common::{REQUEST_TIMEOUT, Response};

#[derive(Default)]
struct Kept {
    logs: Mutex<Vec<LogRecord>>,
}

impl IngestService for Kept {
    fn ingest_logs(&self, records: Vec<LogRecord>) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move {
            let n = records.len() as u64;
            self.logs.lock().unwrap().extend(records);
            Ok(n)
        })
    }

    fn ingest_spans(&self, spans: Vec<Span>) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move { Ok(spans.len() as u64) })
    }

    fn ingest_metrics(&self, points: Vec<MetricPoint>) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move { Ok(points.len() as u64) })
    }
}

async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the app");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.strip_prefix("HTTP/1.1 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A Spring Boot error with a Java stack trace (and its cause), a Python traceback, normal lines
/// around them, and one line that claims to be a record but whose time does not parse.
const BODY: &str = "\
2023-01-29 09:25:40.123 ERROR 1 --- [nio-8080-exec-3] c.t.order.OrderService : order lookup failed
java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"id\" is null
\tat com.trainticket.order.OrderService.find(OrderService.java:88)
\tat com.trainticket.order.OrderController.get(OrderController.java:41)
Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.
\t... 12 more
2023-01-29 09:25:41.002  INFO 1 --- [nio-8080-exec-4] c.t.order.OrderService : order 42 found

2023-01-29 09:25:42,100 ERROR worker: task failed
Traceback (most recent call last):
  File \"/app/worker.py\", line 12, in run
    do()
ValueError: bad input
2023-01-29 09:25:43,000 INFO worker: next task
{\"time\":\"yesterday\",\"msg\":\"not a record\"}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_stack_traces_become_one_record_each() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rootline.db").display());
    let store = Store::connect(&url).await.unwrap();
    let auth = format!("Bearer {}", common::admin_token(&store).await);
    let kept = Arc::new(Kept::default());
    let state = AppState::new(store).with_ingest(kept.clone());
    let app = Application::build("127.0.0.1:0", state).await.unwrap();
    let addr = app.local_addr().unwrap();
    let server = tokio::spawn(app.run_until(std::future::pending()));

    let r = tokio::time::timeout(
        REQUEST_TIMEOUT,
        post(
            addr,
            "/api/v1/ingest/logs?service=order",
            &[
                ("Content-Type", "text/plain"),
                ("X-Request-Id", "trace-1"),
                ("Authorization", &auth),
            ],
            BODY.as_bytes(),
        ),
    )
    .await
    .expect("POST timed out");
    server.abort();
    assert_eq!(r.status, 200, "{r:?}");
    let j = r.json();
    assert_eq!(j["source"], "http:trace-1");
    assert_eq!(j["read"], 14, "{j}");
    assert_eq!(j["indexed"], 4, "{j}");
    assert_eq!(j["rejected"], 1, "{j}");
    assert_eq!(j["rejects"][0]["line"], 15, "{j}");

    let logs = kept.logs.lock().unwrap();
    assert_eq!(logs.len(), 4);
    let java = &logs[0];
    assert_eq!(java.level, Level::Error);
    assert_eq!(java.service, "order");
    assert_eq!(java.provenance.source, "http:trace-1");
    assert_eq!(java.provenance.line, 1);
    let java_lines: Vec<&str> = java.message.lines().collect();
    assert_eq!(java_lines.len(), 6, "{}", java.message);
    assert!(java_lines[1].starts_with("java.lang.NullPointerException"));
    assert!(java_lines[4].starts_with("Caused by: java.sql.SQLTransientConnectionException"));
    assert_eq!(logs[1].provenance.line, 7);
    assert!(logs[1].message.contains("order 42 found"));
    let python = &logs[2];
    assert_eq!(python.provenance.line, 9);
    assert_eq!(python.message.lines().count(), 5, "{}", python.message);
    assert!(python.message.ends_with("ValueError: bad input"));
    assert_eq!(logs[3].provenance.line, 14);
    assert!(logs[3].message.contains("next task"));
}
