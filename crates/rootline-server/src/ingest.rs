//! Telemetry ingest over HTTP: rootline's own endpoints and an OTLP/HTTP receiver. The handlers
//! decode and parse bodies into core records; the [`IngestService`] in the state stores them and
//! answers only once they are committed, so a 2xx is the acknowledgement.
//!
//! | method and path | request → response |
//! |---|---|
//! | `POST /api/v1/ingest/logs?service=` | log text read like a file (`FileReader::from_bytes`: JSON lines, syslog, logfmt, timestamped text, CSV; stack traces joined onto their record) → `{"source","read","indexed","rejected","rejects":[{"line","reason"}…first 100]}` |
//! | `POST /api/v1/ingest/traces` | a span CSV table or OTLP JSON → the same counts |
//! | `POST /api/v1/ingest/metrics?format=prometheus\|csv` | Prometheus text / OpenMetrics or metric CSV (`text/csv` or sniffed) → the same counts plus `skipped` |
//! | `POST /v1/logs`, `/v1/metrics`, `/v1/traces` | OTLP/HTTP, `application/x-protobuf` or `application/json` → `Export*ServiceResponse` in the request's encoding (`partialSuccess` when some items were rejected) |
//!
//! `Content-Encoding: gzip` is accepted everywhere. Errors use the usual JSON shape: 413 for a
//! body over the limit (also after decompression), 415 for an unsupported content type or
//! encoding, 400 naming the line or field for an undecodable body. Records are labelled
//! `http:<id>` in provenance, with `<id>` the request's `X-Request-Id` when it is a plain token
//! (so a retried request upserts the same evidence ids) or, without one, `sha256-` and the digest
//! of the decoded body (an OTLP exporter's retry is the same batch: stored once), and numbered 1.. in
//! the batch.

use std::io::{Cursor, Read};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use rootline_core::{LogRecord, MetricPoint, Span};
use rootline_ingest::metrics::{MetricFormat, MetricItem, MetricReadOptions, MetricReader};
use rootline_ingest::spans::{SpanItem, SpanReader};
use rootline_ingest::{FileReader, Item, ReaderOptions, Rejected};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::observe;
use crate::service::{BoxFuture, ServiceError};
use crate::{AppState, MAX_BODY_BYTES};

/// Largest body accepted after gzip decompression.
pub const MAX_DECODED_BYTES: usize = 8 * MAX_BODY_BYTES;
/// Rejects listed in a response; the count covers all of them.
const MAX_LISTED_REJECTS: usize = 100;
/// Service of log lines that name none, when the request gives no `?service=`.
const DEFAULT_SERVICE: &str = "http";

/// Stores already-parsed telemetry. Each call returns the number of items stored, and returns
/// only after they are durable (committed to the index).
pub trait IngestService: Send + Sync + 'static {
    /// Log records without template ids: the service assigns them (and saves the templates)
    /// before committing.
    fn ingest_logs(&self, records: Vec<LogRecord>) -> BoxFuture<'_, Result<u64, ServiceError>>;

    fn ingest_spans(&self, spans: Vec<Span>) -> BoxFuture<'_, Result<u64, ServiceError>>;

    fn ingest_metrics(&self, points: Vec<MetricPoint>) -> BoxFuture<'_, Result<u64, ServiceError>>;
}

/// The ingest routes: `/ingest/*` (to nest under `/api/v1`) and the OTLP `/v1/*` receiver.
pub(crate) fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/ingest/logs", post(ingest_logs))
        .route("/ingest/traces", post(ingest_traces))
        .route("/ingest/metrics", post(ingest_metrics))
}

pub(crate) fn otlp_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/logs", post(otlp_logs))
        .route("/v1/metrics", post(otlp_metrics))
        .route("/v1/traces", post(otlp_traces))
}

/// Gives the 413 of the body limit layer (and axum's own 413/415 rejections, which are plain
/// text) the JSON error shape every other error has.
pub(crate) async fn json_errors<B>(response: axum::http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let response = response.map(axum::body::Body::new);
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => too_large().into_response(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            unsupported("unsupported content type".into()).into_response()
        }
        _ => response,
    }
}

/// Why a request failed: an [`ApiError`], or one of the statuses it has no variant for (413,
/// 415), answered in the same `{"error": {...}}` shape.
#[derive(Debug)]
enum Failure {
    Api(ApiError),
    Status {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::Api(e) => e.into_response(),
            Failure::Status {
                status,
                code,
                message,
            } => {
                let body = json!({"error": {"code": code, "message": message}});
                (status, axum::Json(body)).into_response()
            }
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

fn error_response(status: StatusCode, code: &'static str, message: String) -> Failure {
    Failure::Status {
        status,
        code,
        message,
    }
}

fn too_large() -> Failure {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "request body is larger than {MAX_BODY_BYTES} bytes (or {MAX_DECODED_BYTES} bytes decompressed)"
        ),
    )
}

fn unsupported(what: String) -> Failure {
    error_response(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        what,
    )
}

fn bad_request(message: String) -> Failure {
    Failure::Api(ApiError::BadRequest(message))
}

#[derive(Debug, Default, Deserialize)]
struct IngestQuery {
    service: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Serialize)]
struct IngestReply {
    /// The provenance source of every record of this request.
    source: String,
    read: u64,
    indexed: u64,
    rejected: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u64>,
    rejects: Vec<RejectReply>,
}

#[derive(Debug, Serialize)]
struct RejectReply {
    line: u64,
    reason: String,
}

impl IngestReply {
    fn new(source: String, read: u64, indexed: u64, rejects: &[Rejected]) -> IngestReply {
        IngestReply {
            source,
            read,
            indexed,
            rejected: rejects.len() as u64,
            skipped: None,
            rejects: rejects
                .iter()
                .take(MAX_LISTED_REJECTS)
                .map(|r| RejectReply {
                    line: r.line,
                    reason: r.reason.clone(),
                })
                .collect(),
        }
    }
}

type Reply = Result<Response, Failure>;

fn service(state: &AppState) -> Result<std::sync::Arc<dyn IngestService>, Failure> {
    state
        .ingest
        .clone()
        .ok_or_else(|| ApiError::NotFound("ingest is not enabled on this server".into()).into())
}

/// The body's media type without parameters, lowercased; `None` when absent.
fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| {
            v.to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|m| !m.is_empty())
}

/// The body after `Content-Encoding` (identity or gzip), capped at [`MAX_DECODED_BYTES`].
fn decode_body(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, Failure> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::new();
            let mut decoder =
                flate2::read::MultiGzDecoder::new(&body[..]).take(MAX_DECODED_BYTES as u64 + 1);
            decoder
                .read_to_end(&mut out)
                .map_err(|e| bad_request(format!("body is not valid gzip: {e}")))?;
            if out.len() > MAX_DECODED_BYTES {
                return Err(too_large());
            }
            Ok(out)
        }
        Some(other) => Err(unsupported(format!(
            "content encoding {other:?} is not supported (use gzip or none)"
        ))),
    }
}

/// The provenance label of a request's records: `http:<X-Request-Id>` when the client names
/// its request, else `http:sha256-<digest of the decoded body>`, so a retried batch (every OTLP
/// exporter retries without a request id) is the same source with the same evidence ids, and
/// its records are upserted rather than stored twice.
fn source_label(headers: &HeaderMap, body: &[u8]) -> String {
    let id = headers
        .get("x-request-id")
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(
            || {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(body);
                format!("sha256-{}", hex::encode(&digest[..16]))
            },
            str::to_string,
        );
    format!("http:{id}")
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Runs CPU-bound parsing off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)).into())
}

fn stored(r: Result<u64, ServiceError>) -> Result<u64, Failure> {
    r.map_err(|e| ApiError::from(e).into())
}

fn json_reply(reply: &IngestReply) -> Response {
    (StatusCode::OK, axum::Json(reply)).into_response()
}

/// Text-like types the line-oriented endpoints accept (absent is fine too).
fn is_text_like(media: Option<&str>) -> bool {
    match media {
        None => true,
        Some(m) => {
            m.starts_with("text/")
                || matches!(
                    m,
                    "application/json"
                        | "application/x-ndjson"
                        | "application/jsonl"
                        | "application/jsonlines"
                        | "application/openmetrics-text"
                        | "application/octet-stream"
                )
        }
    }
}

fn require_text(headers: &HeaderMap) -> Result<Option<String>, Failure> {
    let media = media_type(headers);
    if is_text_like(media.as_deref()) {
        Ok(media)
    } else {
        Err(unsupported(format!(
            "content type {:?} is not supported here (send text lines, JSON or CSV)",
            media.unwrap_or_default()
        )))
    }
}

// ---- rootline's own endpoints ----

async fn ingest_logs(
    State(state): State<AppState>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let ingest = service(&state)?;
    require_text(&headers)?;
    let body = decode_body(&headers, body)?;
    let source = source_label(&headers, &body);
    let default_service = query
        .service
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE.to_string());
    let label = source.clone();
    let (read, records, rejects) =
        blocking(move || parse_log_lines(body, &label, &default_service)).await?;
    observe::rejected("logs", rejects.len());
    let indexed = if records.is_empty() {
        0
    } else {
        stored(observe::counted("logs", ingest.ingest_logs(records)).await)?
    };
    Ok(json_reply(&IngestReply::new(
        source, read, indexed, &rejects,
    )))
}

/// The body read exactly like a log file (`FileReader::from_bytes`): lines numbered from 1,
/// continuation lines (Java/Python/Go stack traces) joined onto the record that started them,
/// over-long lines cut with a marker, every unusable line a reject naming its line.
fn parse_log_lines(
    body: Vec<u8>,
    source: &str,
    default_service: &str,
) -> (u64, Vec<LogRecord>, Vec<Rejected>) {
    let mut reader = FileReader::from_bytes(source, body, ReaderOptions::new(default_service));
    let mut records = Vec::new();
    let mut rejects = Vec::new();
    let mut failed = None;
    for item in reader.by_ref() {
        match item {
            Ok(Item::Record(r)) => records.push(r),
            Ok(Item::Rejected(r)) => rejects.push(r),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    // Reading memory cannot fail; if it ever did, the reject says where it stopped.
    if let Some(e) = failed {
        rejects.push(Rejected {
            file: source.to_string(),
            line: reader.lines_read + 1,
            reason: e.to_string(),
        });
    }
    (reader.lines_read, records, rejects)
}

async fn ingest_traces(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Reply {
    let ingest = service(&state)?;
    require_text(&headers)?;
    let body = decode_body(&headers, body)?;
    let source = source_label(&headers, &body);
    let label = source.clone();
    let (read, spans, rejects) = blocking(move || -> Result<_, Failure> {
        let mut reader =
            SpanReader::from_reader(Cursor::new(body), Path::new("request body"), label)
                .map_err(|e| bad_request(format!("cannot read the body: {e}")))?;
        let mut spans = Vec::new();
        let mut rejects = Vec::new();
        for item in reader.by_ref() {
            match item {
                Ok(SpanItem::Span(s)) => spans.push(s),
                Ok(SpanItem::Rejected(r)) => rejects.push(r),
                Err(e) => return Err(bad_request(format!("cannot read the body: {e}"))),
            }
        }
        Ok((reader.rows_read, spans, rejects))
    })
    .await??;
    observe::rejected("traces", rejects.len());
    let indexed = if spans.is_empty() {
        0
    } else {
        stored(observe::counted("traces", ingest.ingest_spans(spans)).await)?
    };
    Ok(json_reply(&IngestReply::new(
        source, read, indexed, &rejects,
    )))
}

async fn ingest_metrics(
    State(state): State<AppState>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let ingest = service(&state)?;
    let media = require_text(&headers)?;
    let body = decode_body(&headers, body)?;
    let format = match query
        .format
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => MetricFormat::Csv,
        Some("prometheus" | "prom" | "openmetrics") => MetricFormat::Prometheus,
        Some(other) => {
            return Err(bad_request(format!(
                "query parameter format: unknown metric format {other:?} (use prometheus or csv)"
            )));
        }
        None if media.as_deref() == Some("text/csv") => MetricFormat::Csv,
        None => sniff_metric_format(&body),
    };
    let source = source_label(&headers, &body);
    let label = source.clone();
    let (read, skipped, points, rejects) = blocking(move || -> Result<_, Failure> {
        let options = MetricReadOptions {
            format: Some(format),
            scrape_time_ns: Some(now_ns()),
        };
        let mut reader = MetricReader::from_reader(
            Box::new(Cursor::new(body)),
            Path::new("request body"),
            &label,
            options,
        );
        let mut points = Vec::new();
        let mut rejects = Vec::new();
        for item in reader.by_ref() {
            match item {
                Ok(MetricItem::Point(p)) => points.push(p),
                Ok(MetricItem::Rejected(r)) => rejects.push(r),
                Err(e) => return Err(bad_request(format!("cannot read the body: {e}"))),
            }
        }
        Ok((reader.lines_read, reader.skipped_values, points, rejects))
    })
    .await??;
    observe::rejected("metrics", rejects.len());
    let indexed = if points.is_empty() {
        0
    } else {
        stored(observe::counted("metrics", ingest.ingest_metrics(points)).await)?
    };
    let mut reply = IngestReply::new(source, read, indexed, &rejects);
    reply.skipped = Some(skipped);
    Ok(json_reply(&reply))
}

/// Prometheus text unless the first data line looks like a CSV header (commas, no braces or
/// spaces, not a comment).
fn sniff_metric_format(body: &[u8]) -> MetricFormat {
    let first = body
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .find(|l| !l.is_empty());
    match first {
        Some(l) if !l.starts_with('#') && l.contains(',') && !l.contains('{') => MetricFormat::Csv,
        _ => MetricFormat::Prometheus,
    }
}

// ---- OTLP/HTTP ----

/// How an OTLP body is encoded; the response uses the same encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Otlp {
    Protobuf,
    Json,
}

fn otlp_encoding(headers: &HeaderMap) -> Result<Otlp, Failure> {
    match media_type(headers).as_deref() {
        Some("application/x-protobuf" | "application/protobuf") => Ok(Otlp::Protobuf),
        Some("application/json") => Ok(Otlp::Json),
        other => Err(unsupported(format!(
            "content type {:?} is not supported: OTLP/HTTP takes application/x-protobuf or application/json",
            other.unwrap_or("")
        ))),
    }
}

fn otlp_decode<T>(encoding: Otlp, body: &[u8], what: &str) -> Result<T, Failure>
where
    T: Message + Default + for<'de> Deserialize<'de>,
{
    match encoding {
        Otlp::Protobuf => T::decode(body)
            .map_err(|e| bad_request(format!("cannot decode the OTLP {what} protobuf body: {e}"))),
        Otlp::Json => serde_json::from_slice(body).map_err(|e| {
            bad_request(format!(
                "cannot decode the OTLP {what} JSON body at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        }),
    }
}

fn otlp_encode<T: Message + Serialize>(encoding: Otlp, response: &T) -> Response {
    match encoding {
        Otlp::Protobuf => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            response.encode_to_vec(),
        )
            .into_response(),
        Otlp::Json => match serde_json::to_vec(response) {
            Ok(bytes) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                bytes,
            )
                .into_response(),
            Err(e) => ApiError::Internal(Box::new(e)).into_response(),
        },
    }
}

/// The OTLP partial-success message: how many were rejected and the first reason.
fn partial_message(rejects: &[Rejected], extra: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(first) = rejects.first() {
        parts.push(format!(
            "{} rejected; first: {}",
            rejects.len(),
            first.reason
        ));
    }
    if !extra.is_empty() {
        parts.push(extra.to_string());
    }
    parts.join("; ")
}

async fn otlp_logs(
    State(state): State<AppState>,
    Query(query): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let ingest = service(&state)?;
    let encoding = otlp_encoding(&headers)?;
    let body = decode_body(&headers, body)?;
    let source = source_label(&headers, &body);
    let default_service = query
        .service
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE.to_string());
    let (records, rejects) = blocking(move || -> Result<_, Failure> {
        let request: ExportLogsServiceRequest = otlp_decode(encoding, &body, "logs")?;
        Ok(rootline_ingest::otlp::logs_from_otlp_request(
            &request,
            &source,
            &default_service,
        ))
    })
    .await??;
    observe::rejected("logs", rejects.len());
    if !records.is_empty() {
        stored(observe::counted("logs", ingest.ingest_logs(records)).await)?;
    }
    let response = ExportLogsServiceResponse {
        partial_success: (!rejects.is_empty()).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejects.len() as i64,
            error_message: partial_message(&rejects, ""),
        }),
    };
    Ok(otlp_encode(encoding, &response))
}

async fn otlp_traces(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Reply {
    let ingest = service(&state)?;
    let encoding = otlp_encoding(&headers)?;
    let body = decode_body(&headers, body)?;
    let source = source_label(&headers, &body);
    let (spans, rejects) = blocking(move || -> Result<_, Failure> {
        let request: ExportTraceServiceRequest = otlp_decode(encoding, &body, "traces")?;
        Ok(rootline_ingest::spans::spans_from_otlp_request(
            &request, &source,
        ))
    })
    .await??;
    observe::rejected("traces", rejects.len());
    if !spans.is_empty() {
        stored(observe::counted("traces", ingest.ingest_spans(spans)).await)?;
    }
    let response = ExportTraceServiceResponse {
        partial_success: (!rejects.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans: rejects.len() as i64,
            error_message: partial_message(&rejects, ""),
        }),
    };
    Ok(otlp_encode(encoding, &response))
}

async fn otlp_metrics(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Reply {
    let ingest = service(&state)?;
    let encoding = otlp_encoding(&headers)?;
    let body = decode_body(&headers, body)?;
    let source = source_label(&headers, &body);
    let conversion = blocking(move || -> Result<_, Failure> {
        let request: ExportMetricsServiceRequest = otlp_decode(encoding, &body, "metrics")?;
        Ok(rootline_ingest::otlp::metrics_from_otlp_request(
            &request, &source,
        ))
    })
    .await??;
    observe::rejected("metrics", conversion.rejects.len());
    if !conversion.points.is_empty() {
        stored(observe::counted("metrics", ingest.ingest_metrics(conversion.points)).await)?;
    }
    // Skipped histogram points are not "rejected" (the data was fine); they are only noted.
    let note = if conversion.skipped_points > 0 {
        format!(
            "{} histogram/summary data points skipped (not stored yet)",
            conversion.skipped_points
        )
    } else {
        String::new()
    };
    let response = ExportMetricsServiceResponse {
        partial_success: (!conversion.rejects.is_empty() || !note.is_empty()).then(|| {
            ExportMetricsPartialSuccess {
                rejected_data_points: conversion.rejects.len() as i64,
                error_message: partial_message(&conversion.rejects, &note),
            }
        }),
    };
    Ok(otlp_encode(encoding, &response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_numbered_like_a_file_and_rejects_name_the_line() {
        // Real OpenSSH lines (Loghub-2.0 OpenSSH_2k.log), a JSON line, a blank and a bad line.
        let body = b"Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!\n\
\n\
{\"ts\":\"2024-01-02T03:04:05Z\",\"level\":\"error\",\"service\":\"cart\",\"msg\":\"redis timeout\"}\n\
no timestamp here\r\n";
        let (read, records, rejects) = parse_log_lines(body.to_vec(), "http:t", "ssh");
        assert_eq!(read, 3);
        assert_eq!(records.len(), 2, "{rejects:?}");
        assert_eq!(records[0].provenance.line, 1);
        assert_eq!(records[1].provenance.line, 3);
        assert_eq!(records[1].service, "cart");
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 4);
    }

    #[test]
    fn request_ids_become_sources_only_when_plain() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(source_label(&h, b"x"), "http:abc-123");
        // Not plain, or absent: the body's digest, the same for the same bytes.
        h.insert("x-request-id", HeaderValue::from_static("a b/c"));
        let label = source_label(&h, b"x");
        assert!(
            label.starts_with("http:sha256-") && !label.contains(' '),
            "{label}"
        );
        assert_eq!(label, source_label(&HeaderMap::new(), b"x"));
        assert_ne!(label, source_label(&HeaderMap::new(), b"y"));
    }

    #[test]
    fn metric_format_sniffing() {
        assert!(sniff_metric_format(b"# HELP x\nx 1\n") == MetricFormat::Prometheus);
        assert!(sniff_metric_format(b"timestamp,cpu\n1,2\n") == MetricFormat::Csv);
        assert!(sniff_metric_format(b"x{a=\"1,2\"} 3\n") == MetricFormat::Prometheus);
    }
}
