//! `rootline serve`'s ingest: the server's [`IngestService`] over the agent's [`LiveIngestor`]
//! on the data dir's indexes (the server cannot depend on the agent, so the CLI joins them).

use std::path::Path;
use std::sync::Arc;

use rootline_agent::LiveIngestor;
use rootline_agent::ingest::IngestError;
use rootline_core::{LogRecord, MetricPoint, Span};
use rootline_index::LogIndex;
use rootline_index::metrics::MetricIndex;
use rootline_index::spans::SpanIndex;
use rootline_server::{BoxFuture, IngestService, ServiceError};

/// Where live metrics go inside the data dir (next to `index/` and `spans/`).
pub const METRICS_DIR: &str = "metrics";

pub struct LiveIngest(LiveIngestor);

/// The data dir's three indexes, opened once: the ingest writes them and the chat
/// investigations read them (`src/live_investigate.rs`).
#[derive(Clone)]
pub struct LiveIndexes {
    pub logs: Arc<LogIndex>,
    pub spans: Arc<SpanIndex>,
    pub metrics: Arc<MetricIndex>,
}

impl LiveIndexes {
    /// Opens (creating when missing) `data_dir`'s `index/`, `spans/` and `metrics/`.
    pub fn open(data_dir: &Path) -> anyhow::Result<LiveIndexes> {
        Ok(LiveIndexes {
            logs: Arc::new(LogIndex::open(&data_dir.join("index"))?),
            spans: Arc::new(SpanIndex::open(&data_dir.join("spans"))?),
            metrics: Arc::new(MetricIndex::open(&data_dir.join(METRICS_DIR))?),
        })
    }
}

impl LiveIngest {
    /// Writes to `indexes`, which belong to `data_dir`, and to its template snapshot
    /// (`templates.json`).
    pub fn over(indexes: &LiveIndexes, data_dir: &Path) -> anyhow::Result<LiveIngest> {
        Ok(LiveIngest(LiveIngestor::new(
            indexes.logs.clone(),
            indexes.spans.clone(),
            indexes.metrics.clone(),
            data_dir.join("templates.json"),
        )?))
    }

    /// The same ingestor (one index writer lock), for the Kubernetes watcher.
    // The serve_ingest test compiles this file without the watcher.
    #[allow(dead_code)]
    pub fn ingestor(&self) -> LiveIngestor {
        self.0.clone()
    }
}

/// Index failures are mostly a busy writer (a `rootline ingest` holds it) or a full disk: the
/// client may retry. Anything else is a bug or corruption.
fn service_error(e: IngestError) -> ServiceError {
    match e {
        IngestError::Index(_) => ServiceError::Unavailable(Box::new(e)),
        _ => ServiceError::Internal(Box::new(e)),
    }
}

impl IngestService for LiveIngest {
    fn ingest_logs(&self, records: Vec<LogRecord>) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move { self.0.ingest_logs(records).await.map_err(service_error) })
    }

    fn ingest_spans(&self, spans: Vec<Span>) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move { self.0.ingest_spans(spans).await.map_err(service_error) })
    }

    fn ingest_metrics(&self, points: Vec<MetricPoint>) -> BoxFuture<'_, Result<u64, ServiceError>> {
        Box::pin(async move { self.0.ingest_metrics(points).await.map_err(service_error) })
    }
}
