//! Streaming ingest of span files (CSV, OTLP JSON) into the span index.

use std::path::PathBuf;
use std::sync::Arc;

use rootline_index::spans::SpanIndex;
use rootline_ingest::spans::{SpanItem, SpanReader};
use rootline_ingest::{Rejected, SourceError};

use crate::ingest::IngestError;

/// Commit at least this often so memory stays bounded on huge files.
const COMMIT_EVERY: u64 = 200_000;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SpanIngestSummary {
    pub files: u64,
    pub read: u64,
    pub indexed: u64,
    pub rejected: u64,
    #[serde(skip)]
    pub rejects: Vec<Rejected>,
}

/// Ingests span files in order, committing before returning (the acknowledgement). `labels[i]`
/// replaces the path in provenance when given.
pub async fn ingest_span_files(
    index: Arc<SpanIndex>,
    paths: Vec<PathBuf>,
    labels: Vec<Option<String>>,
) -> Result<(SpanIngestSummary, Vec<SourceError>), IngestError> {
    tokio::task::spawn_blocking(move || {
        let mut summary = SpanIngestSummary::default();
        let mut errors = Vec::new();
        let mut writer = index.writer()?;
        for (i, path) in paths.iter().enumerate() {
            let label = labels
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| path.display().to_string());
            let mut reader = match SpanReader::open(path, label) {
                Ok(r) => r,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for item in reader.by_ref() {
                match item {
                    Ok(SpanItem::Span(s)) => {
                        writer.add(&s)?;
                        summary.indexed += 1;
                        if writer.pending() >= COMMIT_EVERY {
                            writer.commit()?;
                        }
                    }
                    Ok(SpanItem::Rejected(r)) => {
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
            summary.read += reader.rows_read;
        }
        writer.commit()?;
        Ok((summary, errors))
    })
    .await
    .map_err(|e| IngestError::Join(e.to_string()))?
}
