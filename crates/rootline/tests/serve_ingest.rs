//! The ingest endpoints and the OTLP/HTTP receiver, served on a real port over a real data dir:
//! the server's router with `rootline serve`'s ingest service (`src/live_ingest.rs`, included
//! below) in-process, requests over TCP through a minimal HTTP/1.1 client, and the data checked
//! afterwards with the index APIs and the `rootline search` binary on the same data dir.

#[path = "../src/live_ingest.rs"]
mod live_ingest;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLog, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan, Status};
use prost::Message;
use rootline_index::metrics::MetricIndex;
use rootline_index::spans::SpanIndex;
use rootline_index::{Filter, LogIndex};
use rootline_server::{AppState, Application};
use rootline_store::Store;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const OPENSSH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/loghub2k/OpenSSH/OpenSSH_2k.log"
);

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// The ingest token [`start`] made; every request [`send`] writes carries it.
static TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), with the ingest token.
/// `declared_len` overrides the Content-Length (to announce a body that is never sent).
async fn send(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    declared_len: Option<usize>,
) -> Reply {
    let fut = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            declared_len.unwrap_or(body.len())
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(token) = TOKEN.get() {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        if declared_len.is_none() {
            stream.write_all(body).await.unwrap();
        }
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = tokio::time::timeout(REQUEST_TIMEOUT, fut)
        .await
        .expect("request timed out");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("bad status line");
    let mut content_type = String::new();
    let mut chunked = false;
    for l in lines {
        let (k, v) = l.split_once(':').unwrap_or((l, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = v.trim().to_string(),
            "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        content_type,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", service)],
        ..Default::default()
    })
}

fn otlp_traces() -> ExportTraceServiceRequest {
    let trace_id = vec![
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 1, 2, 3, 4, 5, 6, 7, 8,
    ];
    let span = |id: u8, parent: Option<u8>, name: &str, start: u64, ms: u64, code: i32| OtlpSpan {
        trace_id: trace_id.clone(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent
            .map(|p| vec![0, 0, 0, 0, 0, 0, 0, p])
            .unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + ms * 1_000_000,
        status: Some(Status {
            code,
            ..Default::default()
        }),
        ..Default::default()
    };
    let t0 = 1_700_000_000_000_000_000;
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: resource("frontend"),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(1, None, "GET /checkout", t0, 120, 0)],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                resource: resource("payment"),
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(2, Some(1), "POST /charge", t0 + 5_000_000, 100, 2),
                        // No end time before start: rejected, the rest still stored.
                        OtlpSpan {
                            end_time_unix_nano: 1,
                            ..span(3, Some(2), "db", t0 + 6_000_000, 1, 0)
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    }
}

fn otlp_logs() -> ExportLogsServiceRequest {
    let log = |t: u64, sev: i32, body: &str| OtlpLog {
        time_unix_nano: t,
        severity_number: sev,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        trace_id: vec![0x4b; 16],
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource("payment"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    log(
                        1_700_000_000_010_000_000,
                        17,
                        "card processor timeout after 100ms",
                    ),
                    log(1_700_000_000_020_000_000, 9, "retrying charge for order 77"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn otlp_metrics() -> ExportMetricsServiceRequest {
    let dp = |t: u64, v: f64| NumberDataPoint {
        attributes: vec![kv("pod", "payment-7d9f8b6c5d-x2x4z")],
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource("payment"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "process_cpu_utilization".into(),
                    data: Some(
                        opentelemetry_proto::tonic::metrics::v1::metric::Data::Gauge(Gauge {
                            data_points: vec![
                                dp(1_700_000_000_000_000_000, 0.31),
                                dp(1_700_000_060_000_000_000, 0.97),
                            ],
                        }),
                    ),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn start(data_dir: &Path) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let url = format!("sqlite://{}", data_dir.join("rootline.db").display());
    let store = Store::connect(&url).await.unwrap();
    // A collector's credential: a responder's token that may only ingest.
    store
        .add_user("otel", rootline_actions::Role::Responder, "test")
        .await
        .unwrap();
    let token = store
        .create_scoped_token(
            "otel",
            "collector",
            None,
            Some(&[rootline_actions::Scope::Ingest]),
            "test",
        )
        .await
        .unwrap()
        .token;
    TOKEN.set(token).expect("one server per test binary");
    let indexes = live_ingest::LiveIndexes::open(data_dir).unwrap();
    let ingest = live_ingest::LiveIngest::over(&indexes, data_dir).unwrap();
    let state = AppState::new(store).with_ingest(Arc::new(ingest));
    let app = Application::build("127.0.0.1:0", state).await.unwrap();
    let addr = app.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    (addr, tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_endpoints_and_otlp_receiver_store_queryable_data() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let (addr, stop) = start(&data_dir).await;

    // Real OpenSSH lines (Loghub-2.0), when the shared datasets are present.
    let ssh_lines: Vec<String> = match std::fs::read_to_string(OPENSSH) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(_) => {
            eprintln!("skipping the OpenSSH part: {OPENSSH} is absent");
            Vec::new()
        }
    };
    if !ssh_lines.is_empty() {
        let body = ssh_lines.join("\n");
        let started = std::time::Instant::now();
        let r = send(
            addr,
            "/api/v1/ingest/logs?service=openssh",
            &[
                ("Content-Type", "text/plain"),
                ("X-Request-Id", "ssh-batch-1"),
            ],
            body.as_bytes(),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let j = r.json();
        eprintln!(
            "{} OpenSSH lines ingested and committed in {:?}",
            ssh_lines.len(),
            started.elapsed()
        );
        assert_eq!(j["source"], "http:ssh-batch-1");
        assert_eq!(j["read"], ssh_lines.len());
        assert_eq!(j["indexed"], ssh_lines.len(), "{j}");
        assert_eq!(j["rejected"], 0);
        // A retry of the same request id upserts: still one copy of each afterwards (checked below).
        let r = send(
            addr,
            "/api/v1/ingest/logs?service=openssh",
            &[
                ("X-Request-Id", "ssh-batch-1"),
                ("Content-Encoding", "gzip"),
            ],
            &gzip(body.as_bytes()),
            None,
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["indexed"], ssh_lines.len());
    }

    // JSON lines with a bad line: the good ones go in, the bad one is named by its line.
    let json_lines = concat!(
        r#"{"ts":"2023-11-14T22:13:20Z","level":"error","service":"cart","msg":"redis connection refused"}"#,
        "\n",
        r#"{"ts":"2023-11-14T22:13:21Z","level":"info","service":"cart","msg":"cart saved for user 12"}"#,
        "\n",
        "this line has no timestamp at all\n",
    );
    let r = send(
        addr,
        "/api/v1/ingest/logs",
        &[("Content-Type", "application/x-ndjson")],
        json_lines.as_bytes(),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(
        (j["read"].as_u64(), j["indexed"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(j["rejected"], 1);
    assert_eq!(j["rejects"][0]["line"], 3, "{j}");
    assert!(j["source"].as_str().unwrap().starts_with("http:"));

    // OTLP protobuf traces: protobuf response, one rejected span reported as partial success.
    let r = send(
        addr,
        "/v1/traces",
        &[("Content-Type", "application/x-protobuf")],
        &otlp_traces().encode_to_vec(),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type, "application/x-protobuf");
    let resp = ExportTraceServiceResponse::decode(&r.body[..]).unwrap();
    let partial = resp.partial_success.expect("one span was rejected");
    assert_eq!(partial.rejected_spans, 1, "{}", partial.error_message);

    // OTLP JSON logs, gzip-compressed: JSON response.
    let body = serde_json::to_vec(&otlp_logs()).unwrap();
    let r = send(
        addr,
        "/v1/logs",
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        &gzip(&body),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type, "application/json");
    assert!(r.json().get("partialSuccess").is_none_or(Value::is_null));
    // The exporter's retry of the same batch carries no request id (and this one is not
    // compressed): the same records, stored once (counted with the rest below).
    let r = send(
        addr,
        "/v1/logs",
        &[("Content-Type", "application/json")],
        &body,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // OTLP protobuf metrics and Prometheus text.
    let r = send(
        addr,
        "/v1/metrics",
        &[("Content-Type", "application/x-protobuf")],
        &otlp_metrics().encode_to_vec(),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let prom = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
http_requests_total{service=\"cart\",code=\"500\"} 17 1700000000000\n\
http_requests_total{service=\"cart\",code=\"200\"} 1021 1700000000000\n\
http_requests_total{service=\"cart\",code=\"200\"} oops 1700000015000\n";
    let r = send(
        addr,
        "/api/v1/ingest/metrics",
        &[("Content-Type", "text/plain; version=0.0.4")],
        prom.as_bytes(),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["indexed"], 2, "{j}");
    assert_eq!(j["rejected"], 1);
    assert_eq!(j["rejects"][0]["line"], 5, "{j}");

    // CSV spans on the rootline endpoint.
    let csv = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano\n\
d14d81a99e164d6fe7fa308d3a4ecd7e,b6417f9ead13468d,root,ts-gateway-service-6f6cfc45b-d9pnv,/*,1675086256354000000,1675086256950359286\n";
    let r = send(
        addr,
        "/api/v1/ingest/traces",
        &[("Content-Type", "text/csv")],
        csv.as_bytes(),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["indexed"], 1);

    // ---- errors ----
    let r = send(
        addr,
        "/v1/logs",
        &[("Content-Type", "text/plain")],
        b"hello",
        None,
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(r.json()["error"]["code"], "unsupported_media_type");
    let r = send(
        addr,
        "/api/v1/ingest/logs",
        &[("Content-Encoding", "br")],
        b"x",
        None,
    )
    .await;
    assert_eq!(r.status, 415);
    let r = send(
        addr,
        "/v1/traces",
        &[("Content-Type", "application/x-protobuf")],
        b"\xff\xff\xff\xff not protobuf",
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("protobuf"),
        "{}",
        r.json()
    );
    let r = send(
        addr,
        "/v1/metrics",
        &[("Content-Type", "application/json")],
        b"{\"resourceMetrics\": [\n  {\"resource\": 7}]}",
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("line 2"), "{message}");
    // Over the limit as announced, and over the limit once decompressed: 413, JSON shape.
    let r = send(
        addr,
        "/api/v1/ingest/logs",
        &[("Content-Type", "text/plain")],
        b"",
        Some(rootline_server::MAX_BODY_BYTES + 1),
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "payload_too_large");
    let bomb = gzip(&vec![b'a'; 8 * rootline_server::MAX_BODY_BYTES + 1024]);
    assert!(bomb.len() < rootline_server::MAX_BODY_BYTES);
    let r = send(
        addr,
        "/api/v1/ingest/logs",
        &[("Content-Encoding", "gzip")],
        &bomb,
        None,
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "payload_too_large");

    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;

    // ---- the data is in the data dir ----
    let logs = LogIndex::open(&data_dir.join("index")).unwrap();
    let all = logs.records(&Filter::default()).unwrap();
    assert_eq!(all.len(), ssh_lines.len() + 2 + 2);
    assert!(all.iter().all(|r| r.template_id.is_some()));
    assert!(all.iter().all(|r| r.provenance.source.starts_with("http:")));
    let otlp = all
        .iter()
        .find(|r| r.message.starts_with("card processor timeout"))
        .expect("the OTLP log record");
    assert_eq!(otlp.service, "payment");
    assert_eq!(otlp.level, rootline_core::Level::Error);
    assert_eq!(otlp.trace_id.as_deref(), Some("4b".repeat(16).as_str()));
    let spans = SpanIndex::open(&data_dir.join("spans")).unwrap();
    assert_eq!(spans.count(None).unwrap(), 3);
    let metrics = MetricIndex::open(&data_dir.join(live_ingest::METRICS_DIR)).unwrap();
    assert_eq!(metrics.count(None, None).unwrap(), 4);
    assert_eq!(metrics.count(None, Some("payment")).unwrap(), 2);

    // And the CLI finds it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["search", "redis", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1, "{hits}");
    assert_eq!(hits[0]["service"], "cart");
    if !ssh_lines.is_empty() {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["search", "webmaster", "--json", "--limit", "100"])
            .output()
            .unwrap();
        let hits: Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected = ssh_lines.iter().filter(|l| l.contains("webmaster")).count();
        assert!(expected > 0);
        assert_eq!(hits.as_array().unwrap().len(), expected, "{hits}");
        assert_eq!(hits[0]["provenance"]["source"], "http:ssh-batch-1");
    }
}
