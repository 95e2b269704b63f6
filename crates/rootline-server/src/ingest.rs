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
//!
//! Memory is bounded per request and across requests ([`LIMITS`], #21 item 2: one 213 KB gzip
//! body of 70 MB of JSON lines once took the server from 17 MB to 2.3 GB). A body is held as sent
//! (at most [`MAX_BODY_BYTES`]); a gzip body is decompressed as a stream, once to check it and
//! take its digest and once while it is read, never whole. Text bodies (logs, span tables, metric
//! text) are parsed on a blocking thread and handed to the [`IngestService`] in chunks of at most
//! [`IngestLimits::records_per_call`] items, each chunk holding one of the server's
//! [`IngestLimits::chunks_in_flight`] slots from its first parsed byte until the call storing it
//! returns. Each call commits, and the reply is sent only after the last one did: a 2xx still
//! means every item is durable. A failure part-way is an error response (the chunks before it
//! are stored; a retry with the same request id or the same body upserts them, stored once).
//! OTLP bodies (one protobuf or JSON message) are decoded whole, so they take one slot per
//! [`IngestLimits::bytes_per_call`] of decoded body, may be at most what all slots allow
//! ([`IngestLimits::whole_body_bytes`], 32 MiB decompressed; 413 naming the collector setting
//! otherwise) and are handed on in the same chunks.

use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::observe;
use crate::service::{BoxFuture, ServiceError};
use crate::{AppState, MAX_BODY_BYTES};

/// Largest body accepted after gzip decompression.
pub const MAX_DECODED_BYTES: usize = 8 * MAX_BODY_BYTES;

/// How much of the posted telemetry the server holds at once, per call and across requests: the
/// ingest path's memory bounds, in one place (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Most items (log records, spans, metric points) handed to the [`IngestService`] in one
    /// call. Each call commits (an fsync, the template snapshot, a merge every few commits), so
    /// larger calls cost less CPU and smaller ones less memory: a parsed record of short JSON
    /// lines takes about 0.5 KB, so 8192 take about 4 MB. Measured on a 70 MB body
    /// (`scripts/bench-serve-ingest-big.sh`, docs/benchmarks.md): 8192 per call cost no more CPU
    /// than the old single call (10.2 against 11.2 CPU-s), 4096 cost 13-14.5, 16384 held 200 MB.
    pub records_per_call: usize,
    /// Most decoded bytes read into one call (a chunk also ends here): a record may be up to
    /// 256 KiB (a joined stack trace), so the record count alone would let 8192 of them hold 2 GB.
    pub bytes_per_call: usize,
    /// Chunks held at once by all requests together, from the first byte parsed into one until
    /// the call storing it returns. A text request holds at most three (one being parsed, one
    /// queued, one being stored), so three requests at once still overlap parsing with storing;
    /// more wait for a slot instead of each adding a body's worth of records to the heap. Eight
    /// chunks hold at most about 8 × 5 MB = 40 MB, next to the index writer's heap.
    pub chunks_in_flight: usize,
}

impl IngestLimits {
    /// Largest body decoded whole (an OTLP message): what every chunk slot together allows.
    pub const fn whole_body_bytes(&self) -> usize {
        self.bytes_per_call * self.chunks_in_flight
    }
}

/// The limits of this server.
pub const LIMITS: IngestLimits = IngestLimits {
    records_per_call: 8192,
    bytes_per_call: 4 * 1024 * 1024,
    chunks_in_flight: 8,
};

/// The server-wide slots of [`IngestLimits::chunks_in_flight`] (one server per process; tests
/// that start several share it, which only makes the bound tighter).
static IN_FLIGHT: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(LIMITS.chunks_in_flight)));

/// Waits for `n` of the server's chunk slots (at least one, at most all).
async fn slots(n: usize) -> OwnedSemaphorePermit {
    let n = n.clamp(1, LIMITS.chunks_in_flight) as u32;
    IN_FLIGHT
        .clone()
        .acquire_many_owned(n)
        .await
        .expect("the ingest semaphore is never closed")
}

/// Rejects listed in a response; the count covers all of them.
const MAX_LISTED_REJECTS: usize = 100;
/// Service of log lines that name none, when the request gives no `?service=`.
const DEFAULT_SERVICE: &str = "http";

/// Stores already-parsed telemetry. Each call returns the number of items stored, and returns
/// only after they are durable (committed to the index). A request's items come in calls of at
/// most [`IngestLimits::records_per_call`], one after the other; calls of several requests may
/// run at once.
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
    /// `rejects` lists (the first of) the `rejected` items.
    fn new(
        source: String,
        read: u64,
        indexed: u64,
        rejected: u64,
        rejects: &[Rejected],
    ) -> IngestReply {
        IngestReply {
            source,
            read,
            indexed,
            rejected,
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

/// Whether the body is gzip (`Content-Encoding: gzip`) or as is.
fn is_gzip(headers: &HeaderMap) -> Result<bool, Failure> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(false),
        Some("gzip") | Some("x-gzip") => Ok(true),
        Some(other) => Err(unsupported(format!(
            "content encoding {other:?} is not supported (use gzip or none)"
        ))),
    }
}

/// A request body whose encoding was checked. It is kept as sent (a gzip body stays compressed,
/// so at most [`MAX_BODY_BYTES`] are held) and decoded as a stream each time it is read.
struct Body {
    sent: Bytes,
    gzip: bool,
    /// Length after decompression, at most [`MAX_DECODED_BYTES`].
    decoded_len: usize,
    /// Hex of the first 16 bytes of the SHA-256 of the decoded body, when asked for.
    digest: Option<String>,
}

impl Body {
    /// Decompresses a gzip body once as a stream (never whole): a body that is not valid gzip
    /// (400) or too large decompressed (413) fails here, before anything of it is stored. Takes
    /// the digest of the decoded bytes when `digest` is set.
    fn check(sent: Bytes, gzip: bool, digest: bool) -> Result<Body, Failure> {
        use sha2::Digest;
        let mut hasher = digest.then(sha2::Sha256::new);
        let decoded_len = if gzip {
            let mut decoder =
                flate2::read::MultiGzDecoder::new(&sent[..]).take(MAX_DECODED_BYTES as u64 + 1);
            let mut buf = vec![0u8; 64 * 1024];
            let mut n = 0usize;
            loop {
                let k = decoder
                    .read(&mut buf)
                    .map_err(|e| bad_request(format!("body is not valid gzip: {e}")))?;
                if k == 0 {
                    break;
                }
                n += k;
                if let Some(h) = hasher.as_mut() {
                    h.update(&buf[..k]);
                }
            }
            if n > MAX_DECODED_BYTES {
                return Err(too_large());
            }
            n
        } else {
            if let Some(h) = hasher.as_mut() {
                h.update(&sent);
            }
            sent.len()
        };
        Ok(Body {
            sent,
            gzip,
            decoded_len,
            digest: hasher.map(|h| hex::encode(&h.finalize()[..16])),
        })
    }

    /// The decoded bytes as a stream.
    fn reader(&self) -> Box<dyn BufRead + Send> {
        let sent = Cursor::new(self.sent.clone());
        if self.gzip {
            Box::new(BufReader::with_capacity(
                64 * 1024,
                flate2::read::MultiGzDecoder::new(sent),
            ))
        } else {
            Box::new(sent)
        }
    }

    /// The decoded bytes in memory, for a format that is read whole (an OTLP message): hold
    /// slots for them first ([`Body::slots`]).
    fn decoded(&self) -> Result<Bytes, Failure> {
        if !self.gzip {
            return Ok(self.sent.clone());
        }
        let mut out = Vec::with_capacity(self.decoded_len);
        self.reader()
            .read_to_end(&mut out)
            .map_err(|e| bad_request(format!("body is not valid gzip: {e}")))?;
        Ok(out.into())
    }

    /// The slots a body decoded whole takes: one per [`IngestLimits::bytes_per_call`]. A body
    /// read whole must fit in all of them ([`IngestLimits::whole_body_bytes`]), else 413: the
    /// bound on what the server holds would not hold for it.
    async fn slots(&self) -> Result<OwnedSemaphorePermit, Failure> {
        let most = LIMITS.whole_body_bytes();
        if self.decoded_len > most {
            return Err(error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "an OTLP message is decoded whole, so it may be at most {most} bytes \
                     decompressed (this one is {}); send smaller batches (the collector's \
                     batch processor: send_batch_max_size)",
                    self.decoded_len
                ),
            ));
        }
        Ok(slots(self.decoded_len.div_ceil(LIMITS.bytes_per_call)).await)
    }
}

/// Checks the body (off the async workers: decompressing 80 MB takes a while) and names its
/// records' source: `http:<X-Request-Id>` when the client names its request, else
/// `http:sha256-<digest of the decoded body>`, so a retried batch (every OTLP exporter retries
/// without a request id) is the same source with the same evidence ids, and its records are
/// upserted rather than stored twice.
async fn receive(headers: &HeaderMap, sent: Bytes) -> Result<(Body, String), Failure> {
    let gzip = is_gzip(headers)?;
    let id = request_id(headers);
    let digest = id.is_none();
    let body = blocking(move || Body::check(sent, gzip, digest)).await??;
    let id = match (id, &body.digest) {
        (Some(id), _) => id,
        (None, Some(digest)) => format!("sha256-{digest}"),
        (None, None) => unreachable!("the digest is taken when there is no request id"),
    };
    Ok((body, format!("http:{id}")))
}

/// The request's `X-Request-Id` when it is a plain token (letters, digits, `-_.:`, ≤ 128).
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
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
        .map(str::to_string)
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

// ---- streaming text bodies in chunks ----

/// One thing read from a text body.
enum Parsed<T> {
    Item(T),
    Rejected(Rejected),
}

/// A streaming reader of one endpoint's items (log records, spans, metric points).
trait ItemReader: Send + 'static {
    type Item: Send + 'static;
    /// The next item or reject; `None` at the end; an error when the body cannot be read on.
    fn next_parsed(&mut self) -> Option<Result<Parsed<Self::Item>, String>>;
}

impl ItemReader for FileReader {
    type Item = LogRecord;
    fn next_parsed(&mut self) -> Option<Result<Parsed<LogRecord>, String>> {
        self.next().map(|r| match r {
            Ok(Item::Record(r)) => Ok(Parsed::Item(r)),
            Ok(Item::Rejected(r)) => Ok(Parsed::Rejected(r)),
            Err(e) => Err(e.to_string()),
        })
    }
}

impl ItemReader for SpanReader {
    type Item = Span;
    fn next_parsed(&mut self) -> Option<Result<Parsed<Span>, String>> {
        self.next().map(|r| match r {
            Ok(SpanItem::Span(s)) => Ok(Parsed::Item(s)),
            Ok(SpanItem::Rejected(r)) => Ok(Parsed::Rejected(r)),
            Err(e) => Err(e.to_string()),
        })
    }
}

impl ItemReader for MetricReader {
    type Item = MetricPoint;
    fn next_parsed(&mut self) -> Option<Result<Parsed<MetricPoint>, String>> {
        self.next().map(|r| match r {
            Ok(MetricItem::Point(p)) => Ok(Parsed::Item(p)),
            Ok(MetricItem::Rejected(r)) => Ok(Parsed::Rejected(r)),
            Err(e) => Err(e.to_string()),
        })
    }
}

/// A decoded body stream that counts the bytes taken from it, so a chunk can end at
/// [`IngestLimits::bytes_per_call`] whatever reader parses it.
struct Counting {
    inner: Box<dyn BufRead + Send>,
    taken: Arc<AtomicU64>,
}

impl Counting {
    fn new(inner: Box<dyn BufRead + Send>) -> (Counting, Arc<AtomicU64>) {
        let taken = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner,
            taken: taken.clone(),
        };
        (counting, taken)
    }
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl BufRead for Counting {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.taken.fetch_add(amt as u64, Ordering::Relaxed);
        self.inner.consume(amt);
    }
}

/// Reads items into chunks of at most [`IngestLimits::records_per_call`] items and about
/// [`IngestLimits::bytes_per_call`] decoded bytes (one item more at most), counting the rejects
/// and keeping the first [`MAX_LISTED_REJECTS`] of them (a body of 80 MB of bad lines lists 100,
/// not a million).
struct Chunker<R: ItemReader> {
    reader: R,
    taken: Arc<AtomicU64>,
    limits: IngestLimits,
    rejected: u64,
    rejects: Vec<Rejected>,
    finished: bool,
}

impl<R: ItemReader> Chunker<R> {
    /// `taken` counts the decoded bytes `reader` has read.
    fn new(reader: R, taken: Arc<AtomicU64>, limits: IngestLimits) -> Chunker<R> {
        Chunker {
            reader,
            taken,
            limits,
            rejected: 0,
            rejects: Vec::new(),
            finished: false,
        }
    }

    /// The next chunk (never empty), `None` after the last; an error when the body cannot be
    /// read on.
    fn next_chunk(&mut self) -> Result<Option<Vec<R::Item>>, String> {
        let mut items = Vec::new();
        while !self.finished {
            let start = self.taken.load(Ordering::Relaxed);
            let bytes = |c: &Self| c.taken.load(Ordering::Relaxed) - start;
            while !self.finished
                && items.len() < self.limits.records_per_call
                && bytes(self) < self.limits.bytes_per_call as u64
            {
                match self.reader.next_parsed() {
                    None => self.finished = true,
                    Some(Ok(Parsed::Item(item))) => items.push(item),
                    Some(Ok(Parsed::Rejected(r))) => {
                        self.rejected += 1;
                        if self.rejects.len() < MAX_LISTED_REJECTS {
                            self.rejects.push(r);
                        }
                    }
                    Some(Err(e)) => return Err(e),
                }
            }
            // A stretch of rejects only: read on rather than hand over an empty chunk.
            if !items.is_empty() {
                return Ok(Some(items));
            }
        }
        Ok(None)
    }
}

/// Stores what `chunker` reads, chunk by chunk: a blocking thread parses each chunk while the
/// one before is stored, and every chunk holds one of the server's slots ([`IN_FLIGHT`]) from
/// its first parsed byte until the call storing it returns. Returns how many items were stored
/// and the chunker (the reader's counters and the rejects), or the first failure: a body that
/// cannot be read on (400) or a call that failed (its error). Chunks stored before a failure
/// stay stored (a retry upserts them).
async fn store_streamed<'a, R: ItemReader>(
    kind: &'static str,
    chunker: Chunker<R>,
    store: impl Fn(Vec<R::Item>) -> BoxFuture<'a, Result<u64, ServiceError>>,
) -> Result<(u64, Chunker<R>), Failure> {
    // One chunk queued while one is stored: parsing overlaps the commit before it.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<R::Item>, OwnedSemaphorePermit)>(1);
    let runtime = tokio::runtime::Handle::current();
    let parser = tokio::task::spawn_blocking(move || -> Result<Chunker<R>, Failure> {
        let mut chunker = chunker;
        loop {
            let slot = runtime.block_on(slots(1));
            match chunker.next_chunk() {
                Ok(Some(items)) => {
                    if tx.blocking_send((items, slot)).is_err() {
                        // The handler stopped (a call failed, or the client went away).
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(bad_request(format!("cannot read the body: {e}"))),
            }
        }
        Ok(chunker)
    });
    let mut count = 0;
    while let Some((items, slot)) = rx.recv().await {
        let result = observe::counted(kind, store(items)).await;
        drop(slot);
        // On failure `rx` is dropped with this frame: the parser stops at its next chunk.
        count += stored(result)?;
    }
    let chunker = parser
        .await
        .map_err(|e| Failure::from(ApiError::Internal(Box::new(e))))??;
    Ok((count, chunker))
}

/// Stores items read whole (an OTLP message) in calls of at most
/// [`IngestLimits::records_per_call`].
async fn store_in_calls<'a, T>(
    kind: &'static str,
    items: Vec<T>,
    store: impl Fn(Vec<T>) -> BoxFuture<'a, Result<u64, ServiceError>>,
) -> Result<u64, Failure> {
    let mut count = 0;
    let mut items = items.into_iter();
    loop {
        let chunk: Vec<T> = items.by_ref().take(LIMITS.records_per_call).collect();
        if chunk.is_empty() {
            return Ok(count);
        }
        count += stored(observe::counted(kind, store(chunk)).await)?;
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
    let (body, source) = receive(&headers, body).await?;
    let default_service = query
        .service
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE.to_string());
    let chunker = log_chunker(&body, &source, &default_service, LIMITS);
    let svc: &dyn IngestService = &*ingest;
    let (indexed, chunks) = store_streamed("logs", chunker, |r| svc.ingest_logs(r)).await?;
    observe::rejected("logs", chunks.rejected as usize);
    Ok(json_reply(&IngestReply::new(
        source,
        chunks.reader.lines_read,
        indexed,
        chunks.rejected,
        &chunks.rejects,
    )))
}

/// The body read exactly like a log file (`FileReader`): lines numbered from 1, continuation
/// lines (Java/Python/Go stack traces) joined onto the record that started them, over-long lines
/// cut with a marker, every unusable line a reject naming its line.
fn log_chunker(
    body: &Body,
    source: &str,
    default_service: &str,
    limits: IngestLimits,
) -> Chunker<FileReader> {
    let (stream, taken) = Counting::new(body.reader());
    let reader = FileReader::from_reader(source, stream, ReaderOptions::new(default_service));
    Chunker::new(reader, taken, limits)
}

async fn ingest_traces(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Reply {
    let ingest = service(&state)?;
    require_text(&headers)?;
    let (body, source) = receive(&headers, body).await?;
    let (stream, taken) = Counting::new(body.reader());
    let label = source.clone();
    let reader = blocking(move || {
        SpanReader::from_reader(stream, Path::new("request body"), label)
            .map_err(|e| bad_request(format!("cannot read the body: {e}")))
    })
    .await??;
    let chunker = Chunker::new(reader, taken, LIMITS);
    let svc: &dyn IngestService = &*ingest;
    let (indexed, chunks) = store_streamed("traces", chunker, |s| svc.ingest_spans(s)).await?;
    observe::rejected("traces", chunks.rejected as usize);
    Ok(json_reply(&IngestReply::new(
        source,
        chunks.reader.rows_read,
        indexed,
        chunks.rejected,
        &chunks.rejects,
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
    let format = match query
        .format
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => Some(MetricFormat::Csv),
        Some("prometheus" | "prom" | "openmetrics") => Some(MetricFormat::Prometheus),
        Some(other) => {
            return Err(bad_request(format!(
                "query parameter format: unknown metric format {other:?} (use prometheus or csv)"
            )));
        }
        None if media.as_deref() == Some("text/csv") => Some(MetricFormat::Csv),
        None => None,
    };
    let (body, source) = receive(&headers, body).await?;
    let format = match format {
        Some(f) => f,
        None => {
            // The first line decides; it is within the first 64 KiB (the line cap).
            let mut head = Vec::new();
            let mut reader = body.reader().take(rootline_ingest::MAX_LINE_BYTES as u64);
            reader
                .read_to_end(&mut head)
                .map_err(|e| bad_request(format!("cannot read the body: {e}")))?;
            sniff_metric_format(&head)
        }
    };
    let options = MetricReadOptions {
        format: Some(format),
        scrape_time_ns: Some(now_ns()),
    };
    let (stream, taken) = Counting::new(body.reader());
    let reader = MetricReader::from_reader(
        Box::new(stream),
        Path::new("request body"),
        &source,
        options,
    );
    let chunker = Chunker::new(reader, taken, LIMITS);
    let svc: &dyn IngestService = &*ingest;
    let (indexed, chunks) = store_streamed("metrics", chunker, |p| svc.ingest_metrics(p)).await?;
    observe::rejected("metrics", chunks.rejected as usize);
    let mut reply = IngestReply::new(
        source,
        chunks.reader.lines_read,
        indexed,
        chunks.rejected,
        &chunks.rejects,
    );
    reply.skipped = Some(chunks.reader.skipped_values);
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
    let (body, source) = receive(&headers, body).await?;
    let default_service = query
        .service
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVICE.to_string());
    let _slots = body.slots().await?;
    let (records, rejects) = blocking(move || -> Result<_, Failure> {
        let request: ExportLogsServiceRequest = otlp_decode(encoding, &body.decoded()?, "logs")?;
        Ok(rootline_ingest::otlp::logs_from_otlp_request(
            &request,
            &source,
            &default_service,
        ))
    })
    .await??;
    observe::rejected("logs", rejects.len());
    let svc: &dyn IngestService = &*ingest;
    store_in_calls("logs", records, |r| svc.ingest_logs(r)).await?;
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
    let (body, source) = receive(&headers, body).await?;
    let _slots = body.slots().await?;
    let (spans, rejects) = blocking(move || -> Result<_, Failure> {
        let request: ExportTraceServiceRequest = otlp_decode(encoding, &body.decoded()?, "traces")?;
        Ok(rootline_ingest::spans::spans_from_otlp_request(
            &request, &source,
        ))
    })
    .await??;
    observe::rejected("traces", rejects.len());
    let svc: &dyn IngestService = &*ingest;
    store_in_calls("traces", spans, |s| svc.ingest_spans(s)).await?;
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
    let (body, source) = receive(&headers, body).await?;
    let _slots = body.slots().await?;
    let mut conversion = blocking(move || -> Result<_, Failure> {
        let request: ExportMetricsServiceRequest =
            otlp_decode(encoding, &body.decoded()?, "metrics")?;
        Ok(rootline_ingest::otlp::metrics_from_otlp_request(
            &request, &source,
        ))
    })
    .await??;
    observe::rejected("metrics", conversion.rejects.len());
    let points = std::mem::take(&mut conversion.points);
    let svc: &dyn IngestService = &*ingest;
    store_in_calls("metrics", points, |p| svc.ingest_metrics(p)).await?;
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
    use std::io::Write;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    fn plain(body: &[u8]) -> Body {
        Body::check(Bytes::copy_from_slice(body), false, false).unwrap()
    }

    fn gzip(body: &[u8]) -> Bytes {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(body).unwrap();
        e.finish().unwrap().into()
    }

    fn all_chunks<R: ItemReader>(chunker: &mut Chunker<R>) -> Vec<Vec<R::Item>> {
        std::iter::from_fn(|| chunker.next_chunk().unwrap()).collect()
    }

    #[test]
    fn log_lines_are_numbered_like_a_file_and_rejects_name_the_line() {
        // Real OpenSSH lines (Loghub-2.0 OpenSSH_2k.log), a JSON line, a blank and a bad line.
        let body = b"Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!\n\
\n\
{\"ts\":\"2024-01-02T03:04:05Z\",\"level\":\"error\",\"service\":\"cart\",\"msg\":\"redis timeout\"}\n\
no timestamp here\r\n";
        let mut chunker = log_chunker(&plain(body), "http:t", "ssh", LIMITS);
        let records: Vec<LogRecord> = all_chunks(&mut chunker).concat();
        assert_eq!(chunker.reader.lines_read, 3);
        assert_eq!(records.len(), 2, "{:?}", chunker.rejects);
        assert_eq!(records[0].provenance.line, 1);
        assert_eq!(records[1].provenance.line, 3);
        assert_eq!(records[1].service, "cart");
        assert_eq!(chunker.rejected, 1);
        assert_eq!(chunker.rejects[0].line, 4);
    }

    fn json_lines(n: usize, pad: usize) -> Vec<u8> {
        let pad = "x".repeat(pad);
        (1..=n)
            .map(|i| {
                format!(
                    "{{\"time\":\"2026-12-07T10:00:00Z\",\"level\":\"info\",\"msg\":\"line {i} {pad}\"}}\n"
                )
            })
            .collect::<String>()
            .into_bytes()
    }

    /// #21 item 2: a body is handed over in chunks bounded by records and by decoded bytes, the
    /// lines numbered across chunks as in one file, and only the first rejects are kept.
    #[test]
    fn chunks_are_bounded_by_records_and_bytes() {
        let limits = IngestLimits {
            records_per_call: 3,
            bytes_per_call: 1 << 20,
            chunks_in_flight: 1,
        };
        let body = gzip(&json_lines(10, 0));
        let body = Body::check(body, true, false).unwrap();
        let mut chunker = log_chunker(&body, "http:t", "svc", limits);
        let chunks = all_chunks(&mut chunker);
        let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 3, 1]);
        let lines: Vec<u64> = chunks.concat().iter().map(|r| r.provenance.line).collect();
        assert_eq!(lines, (1..=10).collect::<Vec<u64>>());

        // Long lines: the byte bound ends a chunk first (one line past it at most).
        let limits = IngestLimits {
            records_per_call: 1000,
            bytes_per_call: 10_000,
            chunks_in_flight: 1,
        };
        let body = plain(&json_lines(100, 1000));
        let chunks = all_chunks(&mut log_chunker(&body, "http:t", "svc", limits));
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 100);
        assert!(chunks.len() >= 9, "{} chunks", chunks.len());
        for c in &chunks {
            let bytes: usize = c.iter().map(|r| r.message.len()).sum();
            assert!(bytes <= 10_000 + 1100, "{bytes} bytes in one chunk");
        }

        // 300 bad lines around 2 good ones: two records, 300 counted, 100 listed.
        let mut body = b"bad\n".repeat(150);
        body.extend(json_lines(2, 0));
        body.extend(b"bad\n".repeat(150));
        let mut chunker = log_chunker(&plain(&body), "http:t", "svc", limits);
        assert_eq!(all_chunks(&mut chunker).concat().len(), 2);
        assert_eq!(chunker.rejected, 300);
        assert_eq!(chunker.rejects.len(), MAX_LISTED_REJECTS);
    }

    #[tokio::test]
    async fn sources_are_request_ids_when_plain_else_the_decoded_digest() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        let label = |h: HeaderMap, body: &'static [u8]| async move {
            receive(&h, Bytes::from_static(body)).await.unwrap().1
        };
        assert_eq!(label(h.clone(), b"x").await, "http:abc-123");
        // Not plain, or absent: the decoded body's digest, the same for the same bytes, sent
        // gzipped or not (a retry is the same source either way).
        h.insert("x-request-id", HeaderValue::from_static("a b/c"));
        let l = label(h, b"x").await;
        assert!(l.starts_with("http:sha256-") && !l.contains(' '), "{l}");
        assert_eq!(l, label(HeaderMap::new(), b"x").await);
        assert_ne!(l, label(HeaderMap::new(), b"y").await);
        let mut gz = HeaderMap::new();
        gz.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let (body, from_gzip) = receive(&gz, gzip(b"x")).await.unwrap();
        assert_eq!(from_gzip, l);
        assert_eq!(body.decoded_len, 1);
        // Not gzip: refused before anything is read (too large: `serve_ingest.rs`).
        assert!(receive(&gz, Bytes::from_static(b"x")).await.is_err());
    }

    #[test]
    fn metric_format_sniffing() {
        assert!(sniff_metric_format(b"# HELP x\nx 1\n") == MetricFormat::Prometheus);
        assert!(sniff_metric_format(b"timestamp,cpu\n1,2\n") == MetricFormat::Csv);
        assert!(sniff_metric_format(b"x{a=\"1,2\"} 3\n") == MetricFormat::Prometheus);
    }

    /// Records every call: its size, and how many calls were running at once.
    #[derive(Default)]
    struct Recorder {
        sizes: Mutex<Vec<usize>>,
        running: AtomicU64,
        most_running: AtomicU64,
        /// The call (counted from 1) that fails, if any.
        fail_at: Option<usize>,
    }

    impl Recorder {
        fn store(&self, records: Vec<LogRecord>) -> BoxFuture<'_, Result<u64, ServiceError>> {
            Box::pin(async move {
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_running.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.running.fetch_sub(1, Ordering::SeqCst);
                let call = {
                    let mut sizes = self.sizes.lock().unwrap();
                    sizes.push(records.len());
                    sizes.len()
                };
                if Some(call) == self.fail_at {
                    return Err(ServiceError::Unavailable("disk full".into()));
                }
                Ok(records.len() as u64)
            })
        }
    }

    /// #21 item 2: every call gets at most `records_per_call` records, all are acknowledged, and
    /// requests at once never hold more than `chunks_in_flight` chunks in calls.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_bodies_are_stored_in_bounded_chunks_under_one_cap() {
        let n = LIMITS.records_per_call + 17;
        let body = Body::check(gzip(&json_lines(n, 0)), true, false).unwrap();
        let recorder = Arc::new(Recorder::default());
        let requests = (0..12).map(|i| {
            let chunker = log_chunker(&body, &format!("http:r{i}"), "svc", LIMITS);
            let recorder = recorder.clone();
            tokio::spawn(async move {
                let (stored, chunker) = store_streamed("logs", chunker, |r| recorder.store(r))
                    .await
                    .unwrap();
                (stored, chunker.reader.lines_read)
            })
        });
        for request in requests.collect::<Vec<_>>() {
            assert_eq!(request.await.unwrap(), (n as u64, n as u64));
        }
        let sizes = recorder.sizes.lock().unwrap();
        assert_eq!(sizes.len(), 12 * 2);
        assert!(
            sizes.iter().all(|&s| s <= LIMITS.records_per_call),
            "{sizes:?}"
        );
        let most = recorder.most_running.load(Ordering::SeqCst);
        assert!(
            most <= LIMITS.chunks_in_flight as u64,
            "{most} calls at once"
        );
    }

    /// A call that fails part-way fails the request, and nothing after it is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_chunk_fails_the_request() {
        let n = 3 * LIMITS.records_per_call;
        let body = plain(&json_lines(n, 0));
        let recorder = Recorder {
            fail_at: Some(2),
            ..Recorder::default()
        };
        let chunker = log_chunker(&body, "http:t", "svc", LIMITS);
        let result = store_streamed("logs", chunker, |r| recorder.store(r)).await;
        assert!(matches!(
            result,
            Err(Failure::Api(ApiError::Unavailable(_)))
        ));
        assert_eq!(recorder.sizes.lock().unwrap().len(), 2);
    }
}
