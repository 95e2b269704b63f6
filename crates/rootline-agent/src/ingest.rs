//! Streaming ingest of log files into the index.

use std::path::PathBuf;
use std::sync::Arc;

use rootline_index::{IndexError, LogIndex};
use rootline_ingest::{FileReader, Item, Rejected, SourceError};

/// Commit at least this often so memory stays bounded on huge files.
const COMMIT_EVERY: u64 = 200_000;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Service for lines that name none; defaults to the file name.
    pub service: Option<String>,
    /// Label recorded in provenance instead of the path (bundles use their relative paths so that
    /// evidence ids do not depend on where the bundle sits).
    pub labels: Vec<Option<String>>,
    /// Where the template miner's snapshot lives; it is loaded before and saved after ingest.
    pub templates_path: PathBuf,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestSummary {
    pub files: u64,
    pub read: u64,
    pub indexed: u64,
    pub rejected: u64,
    /// Continuation lines (stack traces) joined onto the record before them.
    pub joined: u64,
    pub bytes: u64,
    #[serde(skip)]
    pub rejects: Vec<Rejected>,
}

/// Progress reports, sent from the blocking ingest thread.
#[derive(Debug, Clone)]
pub enum IngestProgress {
    FileStarted {
        path: PathBuf,
        bytes: u64,
    },
    /// Decompressed bytes read so far in the current file.
    Bytes(u64),
    Rejected(Rejected),
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Templates(#[from] crate::templates::TemplateStoreError),
    #[error("ingest task failed: {0}")]
    Join(String),
}

/// Ingests `paths` in order and commits (every 200k records and at the end), so a summary (the
/// acknowledgement) is only produced for data that is durable. A file that cannot be opened is an
/// error for that file and the others still go in.
pub async fn ingest_files(
    index: Arc<LogIndex>,
    paths: Vec<PathBuf>,
    options: IngestOptions,
    progress: impl Fn(IngestProgress) + Send + 'static,
) -> Result<(IngestSummary, Vec<SourceError>), IngestError> {
    tokio::task::spawn_blocking(move || ingest_blocking(&index, &paths, &options, &progress))
        .await
        .map_err(|e| IngestError::Join(e.to_string()))?
}

fn ingest_blocking(
    index: &LogIndex,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Fn(IngestProgress),
) -> Result<(IngestSummary, Vec<SourceError>), IngestError> {
    let mut summary = IngestSummary::default();
    let mut file_errors = Vec::new();
    let mut miner = crate::templates::load_miner(&options.templates_path)?;
    // The ledger rides in the index commit itself, so it is durable exactly when the records
    // are. A file it has never seen cannot have records in the index, so its records skip the
    // delete-before-add that makes re-ingest idempotent (deletes are paid at every commit).
    let (mut ledger, ledger_trusted) = match index.commit_payload()? {
        None => (Ledger::default(), true),
        Some(p) => match serde_json::from_str::<Ledger>(&p) {
            Ok(l) => (l, true),
            Err(_) => (Ledger::default(), false),
        },
    };
    let mut writer = index.writer()?;
    // Templates are saved before each index commit: a crash in between leaves templates that no
    // record uses yet, never records pointing at templates that were not saved.
    let commit = |writer: &mut rootline_index::LogWriter<'_>,
                  miner: &rootline_templates::TemplateMiner,
                  ledger: &Ledger|
     -> Result<(), IngestError> {
        crate::templates::save_miner(&options.templates_path, miner)?;
        let payload = serde_json::to_string(ledger).unwrap_or_default();
        writer.commit_with_payload(&payload)?;
        Ok(())
    };
    for (i, path) in paths.iter().enumerate() {
        let label = options
            .labels
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| path.display().to_string());
        let service = options
            .service
            .clone()
            .unwrap_or_else(|| FileReader::service_from_file_name(path));
        let upsert = !ledger_trusted || ledger.files.contains_key(&label);
        let mut reader = match FileReader::open(path, label.clone(), service) {
            Ok(r) => r,
            Err(e) => {
                file_errors.push(e);
                continue;
            }
        };
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        progress(IngestProgress::FileStarted {
            path: path.clone(),
            bytes: size,
        });
        let mut seen = 0u64;
        while let Some(item) = reader.next() {
            seen += 1;
            if seen.is_multiple_of(8192) {
                progress(IngestProgress::Bytes(reader.bytes_read));
            }
            match item {
                Ok(Item::Record(mut r)) => {
                    let first_line = r.message.lines().next().unwrap_or("");
                    r.template_id = Some(miner.add(&r.service, first_line).id.0);
                    if upsert {
                        writer.add(&r)?;
                    } else {
                        writer.insert(&r)?;
                    }
                    summary.indexed += 1;
                    ledger.files.entry(label.clone()).or_default().records += 1;
                    if writer.pending() >= COMMIT_EVERY {
                        commit(&mut writer, &miner, &ledger)?;
                    }
                }
                Ok(Item::Rejected(r)) => {
                    summary.rejected += 1;
                    progress(IngestProgress::Rejected(r.clone()));
                    if summary.rejects.len() < 10_000 {
                        summary.rejects.push(r);
                    }
                }
                Err(e) => {
                    file_errors.push(e);
                    break;
                }
            }
        }
        summary.files += 1;
        summary.read += reader.lines_read;
        summary.joined += reader.lines_joined;
        summary.bytes += reader.bytes_read;
        progress(IngestProgress::Bytes(reader.bytes_read));
    }
    // One commit at the end: the summary (the acknowledgement) is printed only after it.
    commit(&mut writer, &miner, &ledger)?;
    Ok((summary, file_errors))
}

/// Which sources have records in the index, stored as the payload of each index commit.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Ledger {
    files: std::collections::BTreeMap<String, LedgerEntry>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct LedgerEntry {
    records: u64,
}
