//! Bounded memory in `POST /api/v1/ingest/logs` (#21 item 2), over real HTTP (`127.0.0.1:0`, a
//! real SQLite store): a large body reaches the `IngestService` in chunks of at most 8192 records
//! (`ingest::LIMITS.records_per_call`, not exported: keep these numbers equal to it), requests at
//! once never have more than 8 chunks (`chunks_in_flight`) in calls, every record is acknowledged
//! only after every call returned, and a call failing part-way is an error response whose retry
//! stores every record once (the evidence ids come from the body's digest).
//!
//! The service here records what it is handed; the index-backed service of `rootline serve` is
//! exercised end to end in `crates/rootline/tests/serve_ingest.rs`, its memory in
//! `scripts/bench-serve-ingest-big.sh` (docs/benchmarks.md).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rootline_core::{LogRecord, MetricPoint, Span};
use rootline_server::{AppState, Application, BoxFuture, IngestService, ServiceError};
use rootline_store::Store;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[allow(unused_macros)]
mod common;

/// The server's own limits, as it enforces them.
const RECORDS_PER_CALL: usize = rootline_server::INGEST_LIMITS.records_per_call;
const CHUNKS_IN_FLIGHT: usize = rootline_server::INGEST_LIMITS.chunks_in_flight;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Keeps records by evidence id (an upsert, as the index does) and records every call.
#[derive(Default)]
struct Recorder {
    kept: Mutex<HashMap<String, LogRecord>>,
    calls: Mutex<Vec<usize>>,
    running: AtomicUsize,
    most_running: AtomicUsize,
    /// How long a call takes, so that calls of requests at once overlap.
    delay: Duration,
    /// The call (counted from 1) that fails with "unavailable".
    fail_call: Option<usize>,
}

impl IngestService for Recorder {
    fn ingest_logs(&self, records: Vec<LogRecord>) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_running.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            let call = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(records.len());
                calls.len()
            };
            if Some(call) == self.fail_call {
                return Err(ServiceError::Unavailable("the index is busy".into()));
            }
            let n = records.len() as u64;
            let mut kept = self.kept.lock().unwrap();
            for r in records {
                kept.insert(r.evidence_id.clone(), r);
            }
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

/// `n` JSON lines, gzip'd.
fn body(n: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for i in 1..=n {
        writeln!(
            e,
            r#"{{"time":"2026-12-07T10:{:02}:{:02}Z","level":"info","msg":"request {i} served"}}"#,
            (i / 60) % 60,
            i % 60
        )
        .unwrap();
    }
    e.finish().unwrap()
}

/// The app on port 0 with `recorder` as its ingest service, and an admin's bearer credential.
struct App {
    addr: SocketAddr,
    auth: String,
    server: tokio::task::JoinHandle<()>,
}

async fn start(recorder: Arc<Recorder>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rootline.db").display());
    let store = Store::connect(&url).await.unwrap();
    let auth = format!("Bearer {}", common::admin_token(&store).await);
    let state = AppState::new(store).with_ingest(recorder);
    let app = Application::build("127.0.0.1:0", state).await.unwrap();
    let addr = app.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _dir = dir;
        app.run_until(std::future::pending()).await.unwrap();
    });
    App { addr, auth, server }
}

/// POSTs a gzip'd log body; returns the status and the JSON reply.
async fn post(app: &App, body: &[u8]) -> (u16, Value) {
    post_to(
        app,
        "/api/v1/ingest/logs?service=web",
        "application/x-ndjson",
        body,
    )
    .await
}

/// POSTs a gzip'd body of `content_type` to `path`; returns the status and the JSON reply.
async fn post_to(app: &App, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let addr = app.addr;
    let send = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect to the app");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nContent-Type: {content_type}\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            app.auth,
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        String::from_utf8(raw).expect("utf-8 response")
    };
    let raw = tokio::time::timeout(REQUEST_TIMEOUT, send)
        .await
        .expect("POST timed out");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().expect("status line");
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_reaches_the_service_in_bounded_chunks() {
    let recorder = Arc::new(Recorder::default());
    let app = Arc::new(start(recorder.clone()).await);
    let n = 2 * RECORDS_PER_CALL + 1808;
    let (status, reply) = post(&app, &body(n)).await;
    app.server.abort();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["read"], n, "{reply}");
    assert_eq!(reply["indexed"], n, "{reply}");
    let calls = recorder.calls.lock().unwrap().clone();
    assert!(calls.len() >= 3, "{calls:?}");
    assert!(calls.iter().all(|&c| c <= RECORDS_PER_CALL), "{calls:?}");
    let kept = recorder.kept.lock().unwrap();
    let mut lines: Vec<u64> = kept.values().map(|r| r.provenance.line).collect();
    lines.sort_unstable();
    assert_eq!(lines, (1..=n as u64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_at_once_share_one_cap_on_chunks_in_calls() {
    let recorder = Arc::new(Recorder {
        delay: Duration::from_millis(400),
        ..Recorder::default()
    });
    let app = Arc::new(start(recorder.clone()).await);
    let requests = 2 * CHUNKS_IN_FLIGHT;
    let n = RECORDS_PER_CALL + 1;
    let body = Arc::new(body(n));
    let posts: Vec<_> = (0..requests)
        .map(|_| {
            let (app, body) = (app.clone(), body.clone());
            tokio::spawn(async move { post(&app, &body).await })
        })
        .collect();
    for p in posts {
        let (status, reply) = p.await.unwrap();
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["indexed"], n, "{reply}");
    }
    app.server.abort();
    let most = recorder.most_running.load(Ordering::SeqCst);
    assert!(most <= CHUNKS_IN_FLIGHT, "{most} calls at once");
    assert!(recorder.calls.lock().unwrap().len() >= 2 * requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_part_way_is_an_error_and_a_retry_stores_each_record_once() {
    let recorder = Arc::new(Recorder {
        fail_call: Some(2),
        ..Recorder::default()
    });
    let app = Arc::new(start(recorder.clone()).await);
    let n = 3 * RECORDS_PER_CALL;
    let body = body(n);
    // The second chunk's call fails: the request fails, though the first chunk was stored.
    let (status, reply) = post(&app, &body).await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"]["code"], "unavailable", "{reply}");
    let stored = recorder.kept.lock().unwrap().len();
    assert!(stored > 0 && stored < n, "{stored} stored");
    // The retry (no request id: the body's digest names the source) stores every record once.
    let (status, reply) = post(&app, &body).await;
    app.server.abort();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["indexed"], n, "{reply}");
    let kept = recorder.kept.lock().unwrap();
    assert_eq!(kept.len(), n);
    assert!(
        kept.values()
            .all(|r| r.provenance.source.starts_with("http:sha256-"))
    );
}

/// An OTLP message is decoded whole, so one larger than every chunk slot together is refused
/// before it is decoded (413 naming the collector's batch setting), and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otlp_message_too_large_to_hold_is_refused_before_decoding() {
    let recorder = Arc::new(Recorder::default());
    let app = start(recorder.clone()).await;
    let most = rootline_server::INGEST_LIMITS.whole_body_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&vec![0u8; most + 1]).unwrap();
    let body = gz.finish().unwrap();
    let (status, reply) = post_to(&app, "/v1/logs", "application/x-protobuf", &body).await;
    app.server.abort();
    assert_eq!(status, 413, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("send_batch_max_size"),
        "{reply}"
    );
    assert!(recorder.calls.lock().unwrap().is_empty());
}
