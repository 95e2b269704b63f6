//! rootline watched like any other service: `GET /metrics` for Prometheus (no credential, like
//! `/healthz`: it holds counts, never data), and the middleware that counts every routed request
//! by method, route template and status.

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rootline_telemetry::metrics::{HttpLabels, metrics};

/// The exposition page (OpenMetrics text, which Prometheus negotiates).
pub async fn metrics_page() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics().render(),
    )
}

/// Counts the request under its route template, after it is answered.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = req.method().to_string();
    // Ingest bytes as received (compressed or not), by the kind the route takes.
    let ingest_kind = ["logs", "traces", "metrics"]
        .into_iter()
        .find(|k| route == format!("/api/v1/ingest/{k}") || route == format!("/v1/{k}"));
    if let Some(kind) = ingest_kind {
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        metrics()
            .ingested_bytes
            .get_or_create(&rootline_telemetry::metrics::kind(kind))
            .inc_by(length);
    }
    let response = next.run(req).await;
    metrics()
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Stores a batch through the ingest service, counting what was stored and timing the store
/// and commit.
pub async fn counted(
    kind: &str,
    store: impl std::future::Future<Output = Result<u64, crate::service::ServiceError>>,
) -> Result<u64, crate::service::ServiceError> {
    let started = std::time::Instant::now();
    let result = store.await;
    let m = metrics();
    let label = rootline_telemetry::metrics::kind(kind);
    m.commit_seconds
        .get_or_create(&label)
        .observe(started.elapsed().as_secs_f64());
    if let Ok(n) = &result {
        m.ingested_records.get_or_create(&label).inc_by(*n);
    }
    result
}

/// Counts the items of a request that could not be used.
pub fn rejected(kind: &str, n: usize) {
    if n > 0 {
        metrics()
            .rejected_records
            .get_or_create(&rootline_telemetry::metrics::kind(kind))
            .inc_by(n as u64);
    }
}
