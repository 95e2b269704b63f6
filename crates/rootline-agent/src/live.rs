//! Live ingest: batches pushed by a running server (HTTP, OTLP) written into the data dir's
//! indexes, each batch committed before the call returns (the caller's acknowledgement).
//!
//! tantivy allows one writer per index at a time, so each index has a mutex and a batch takes its
//! writer for the duration of the batch only: between batches a `rootline ingest` in another
//! process can still write (while a batch runs it gets a lock error, and vice versa). Log records
//! get template ids from the data dir's miner, whose snapshot is saved before each index commit
//! (as in file ingest), and reloaded when another process changed it since this one last saved.
//!
//! Memory: a batch is held whole, so callers keep batches small (the server hands over chunks of
//! a few thousand records, `rootline-server`'s ingest limits), and every writer here indexes into
//! a heap of [`LIVE_WRITER_HEAP`] rather than a bulk ingest's 128 MB.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rootline_core::{LogRecord, MetricPoint, Span};
use rootline_index::metrics::MetricIndex;
use rootline_index::spans::SpanIndex;
use rootline_index::{LIVE_WRITER_HEAP, LogIndex};
use rootline_templates::TemplateMiner;
use tokio::sync::Mutex;

use crate::ingest::IngestError;
use crate::templates::{load_miner, save_miner};

/// The miner and the modification time of the snapshot it was loaded from or last saved to.
struct Miner {
    miner: TemplateMiner,
    seen: Option<SystemTime>,
}

/// Writes pushed batches into the log, span and metric indexes of one data dir. Clones share
/// the writers' locks and the miner.
#[derive(Clone)]
pub struct LiveIngestor {
    logs: Arc<LogIndex>,
    spans: Arc<SpanIndex>,
    metrics: Arc<MetricIndex>,
    templates_path: PathBuf,
    /// Also serialises the log index writer.
    miner: Arc<Mutex<Miner>>,
    span_writer: Arc<Mutex<()>>,
    metric_writer: Arc<Mutex<()>>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl LiveIngestor {
    /// Loads the template miner from `templates_path` (empty when the file does not exist).
    pub fn new(
        logs: Arc<LogIndex>,
        spans: Arc<SpanIndex>,
        metrics: Arc<MetricIndex>,
        templates_path: PathBuf,
    ) -> Result<LiveIngestor, IngestError> {
        let miner = Miner {
            miner: load_miner(&templates_path)?,
            seen: modified(&templates_path),
        };
        Ok(LiveIngestor {
            logs,
            spans,
            metrics,
            templates_path,
            miner: Arc::new(Mutex::new(miner)),
            span_writer: Arc::new(Mutex::new(())),
            metric_writer: Arc::new(Mutex::new(())),
        })
    }

    /// Assigns template ids, upserts the records and commits; returns how many were stored.
    pub async fn ingest_logs(&self, records: Vec<LogRecord>) -> Result<u64, IngestError> {
        let mut guard = self.miner.clone().lock_owned().await;
        let index = self.logs.clone();
        let path = self.templates_path.clone();
        tokio::task::spawn_blocking(move || {
            let state = &mut *guard;
            // Another process (`rootline ingest`) saved templates since: continue from its
            // snapshot, so ids are never handed out twice.
            let on_disk = modified(&path);
            if on_disk != state.seen {
                state.miner = load_miner(&path)?;
                state.seen = on_disk;
            }
            // File ingest keeps its ledger in the commit payload; pass it on untouched (HTTP
            // sources never collide with file labels).
            let payload = index.commit_payload()?;
            let mut writer = index.writer_with_heap(LIVE_WRITER_HEAP)?;
            let n = records.len() as u64;
            for mut r in records {
                let first_line = r.message.lines().next().unwrap_or("");
                r.template_id = Some(state.miner.add(&r.service, first_line).id.0);
                // Upsert: a retried request with the same request id keeps one copy.
                writer.add(&r)?;
            }
            save_miner(&path, &state.miner)?;
            state.seen = modified(&path);
            match payload {
                Some(p) => writer.commit_with_payload(&p)?,
                None => writer.commit()?,
            }
            Ok(n)
        })
        .await
        .map_err(|e| IngestError::Join(e.to_string()))?
    }

    /// Upserts the spans (keyed by trace and span id) and commits.
    pub async fn ingest_spans(&self, spans: Vec<Span>) -> Result<u64, IngestError> {
        let guard = self.span_writer.clone().lock_owned().await;
        let index = self.spans.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let mut writer = index.writer_with_heap(LIVE_WRITER_HEAP)?;
            for s in &spans {
                writer.add(s)?;
            }
            writer.commit()?;
            Ok(spans.len() as u64)
        })
        .await
        .map_err(|e| IngestError::Join(e.to_string()))?
    }

    /// Upserts the points (keyed by series and time) and commits.
    pub async fn ingest_metrics(&self, points: Vec<MetricPoint>) -> Result<u64, IngestError> {
        let guard = self.metric_writer.clone().lock_owned().await;
        let index = self.metrics.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let mut writer = index.writer_with_heap(LIVE_WRITER_HEAP)?;
            for p in &points {
                writer.add(p)?;
            }
            writer.commit()?;
            Ok(points.len() as u64)
        })
        .await
        .map_err(|e| IngestError::Join(e.to_string()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::{Level, Provenance};

    fn record(line: u64, message: &str) -> LogRecord {
        let provenance = Provenance {
            source: "http:test".into(),
            line,
        };
        LogRecord {
            evidence_id: LogRecord::compute_evidence_id(&provenance, message),
            ts_ns: 1_700_000_000_000_000_000 + line as i64,
            service: "sshd".into(),
            host: None,
            level: Level::Info,
            message: message.into(),
            template_id: None,
            trace_id: None,
            approximate_time: false,
            module: None,
            provenance,
        }
    }

    #[tokio::test]
    async fn batches_are_committed_templated_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let logs = Arc::new(LogIndex::open(&dir.path().join("index")).unwrap());
        let live = LiveIngestor::new(
            logs.clone(),
            Arc::new(SpanIndex::in_memory().unwrap()),
            Arc::new(MetricIndex::in_memory().unwrap()),
            dir.path().join("templates.json"),
        )
        .unwrap();
        let batch = vec![
            record(
                1,
                "Failed password for root from 112.95.230.3 port 47766 ssh2",
            ),
            record(
                2,
                "Failed password for root from 183.62.140.253 port 52123 ssh2",
            ),
        ];
        assert_eq!(live.ingest_logs(batch.clone()).await.unwrap(), 2);
        // The same batch again (a retry) stays two documents.
        live.ingest_logs(batch).await.unwrap();
        let all = logs.records(&rootline_index::Filter::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].template_id.is_some());
        assert_eq!(all[0].template_id, all[1].template_id);
        // The snapshot was saved, so a fresh miner knows the template.
        let miner = load_miner(&dir.path().join("templates.json")).unwrap();
        assert!(miner.templates().next().is_some());
    }
}
