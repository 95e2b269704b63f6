//! Streaming ingest of metric files (Prometheus text, OpenMetrics, CSV wide or long) into the
//! metric index.

use std::path::PathBuf;
use std::sync::Arc;

use rootline_index::metrics::MetricIndex;
use rootline_ingest::metrics::{MetricItem, MetricReadOptions, read_metrics};
use rootline_ingest::{Rejected, SourceError};

use crate::ingest::IngestError;

const COMMIT_EVERY: u64 = 500_000;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MetricIngestSummary {
    pub files: u64,
    pub read: u64,
    pub indexed: u64,
    pub rejected: u64,
    #[serde(skip)]
    pub rejects: Vec<Rejected>,
}

/// Ingests metric files in order, committing before returning (the acknowledgement).
pub async fn ingest_metric_files(
    index: Arc<MetricIndex>,
    paths: Vec<PathBuf>,
    labels: Vec<Option<String>>,
) -> Result<(MetricIngestSummary, Vec<SourceError>), IngestError> {
    tokio::task::spawn_blocking(move || {
        let mut summary = MetricIngestSummary::default();
        let mut errors = Vec::new();
        let mut writer = index.writer()?;
        let mut pending = 0u64;
        for (i, path) in paths.iter().enumerate() {
            let label = labels
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| path.display().to_string());
            let mut reader = match read_metrics(path, &label, MetricReadOptions::default()) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for item in reader.by_ref() {
                match item {
                    Ok(MetricItem::Point(p)) => {
                        writer.add(&p)?;
                        summary.indexed += 1;
                        pending += 1;
                        if pending >= COMMIT_EVERY {
                            writer.commit()?;
                            pending = 0;
                        }
                    }
                    Ok(MetricItem::Rejected(r)) => {
                        summary.rejected += 1;
                        if summary.rejects.len() < 10_000 {
                            summary.rejects.push(r);
                        }
                    }
                    Err(e) => {
                        errors.push(e);
                        break;
                    }
                }
            }
            summary.files += 1;
            summary.read += reader.lines_read;
        }
        writer.commit()?;
        Ok((summary, errors))
    })
    .await
    .map_err(|e| IngestError::Join(e.to_string()))?
}
