//! Streaming ingest of log files into the index.

use std::path::PathBuf;
use std::sync::Arc;

use rootline_core::LogRecord;
use rootline_index::{IndexError, LogIndex};
use rootline_ingest::{FileReader, Item, Rejected, SourceError};

/// Commit at least this often so memory stays bounded on huge files.
pub(crate) const COMMIT_EVERY: u64 = 200_000;

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
    #[error("{path}: {message}")]
    Io { path: String, message: String },
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

/// Records per message from the parsing thread to the indexing thread, and messages in flight:
/// enough to keep both busy, small enough that memory stays flat (≈ 16 × 512 records).
const BATCH: usize = 512;
const IN_FLIGHT: usize = 16;

/// From the parsing thread (read, parse, template mining) to the indexing thread.
enum Msg {
    /// The next records come from this source.
    File {
        label: String,
    },
    Records(Vec<LogRecord>),
    Progress(IngestProgress),
    Rejected(Rejected),
    FileError(SourceError),
    FileDone {
        read: u64,
        joined: u64,
        bytes: u64,
    },
    /// The templates of every record sent so far are saved: commit.
    Commit,
    Failed(IngestError),
}

fn ingest_blocking(
    index: &LogIndex,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Fn(IngestProgress),
) -> Result<(IngestSummary, Vec<SourceError>), IngestError> {
    let miner = crate::templates::load_miner(&options.templates_path)?;
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
    // Parsing and template mining run on their own thread, ahead of tantivy indexing on this
    // one (tantivy adds its own indexing threads).
    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(IN_FLIGHT);
    std::thread::scope(|scope| {
        scope.spawn(move || parse_and_mine(paths, options, miner, &tx));
        let mut summary = IngestSummary::default();
        let mut file_errors = Vec::new();
        let mut label = String::new();
        let mut upsert = !ledger_trusted;
        for msg in rx.iter() {
            match msg {
                Msg::File { label: l } => {
                    upsert = !ledger_trusted || ledger.files.contains_key(&l);
                    label = l;
                }
                Msg::Records(records) => {
                    for r in &records {
                        if upsert {
                            writer.add(r)?;
                        } else {
                            writer.insert(r)?;
                        }
                    }
                    summary.indexed += records.len() as u64;
                    ledger.files.entry(label.clone()).or_default().records += records.len() as u64;
                }
                Msg::Progress(p) => progress(p),
                Msg::Rejected(r) => {
                    summary.rejected += 1;
                    progress(IngestProgress::Rejected(r.clone()));
                    if summary.rejects.len() < 10_000 {
                        summary.rejects.push(r);
                    }
                }
                Msg::FileError(e) => file_errors.push(e),
                Msg::FileDone {
                    read,
                    joined,
                    bytes,
                } => {
                    summary.files += 1;
                    summary.read += read;
                    summary.joined += joined;
                    summary.bytes += bytes;
                }
                // Templates were saved before this message was sent: a crash between the two
                // leaves templates that no record uses yet, never records pointing at templates
                // that were not saved.
                Msg::Commit => {
                    let payload = serde_json::to_string(&ledger).unwrap_or_default();
                    writer.commit_with_payload(&payload)?;
                }
                Msg::Failed(e) => return Err(e),
            }
        }
        // The parsing thread always ends with a final `Commit` (or `Failed`): the summary, the
        // acknowledgement, is returned only after it.
        Ok((summary, file_errors))
    })
}

/// The parsing thread: every file in order, template ids assigned, records sent in batches; a
/// `Commit` (templates saved first) every [`COMMIT_EVERY`] records and at the end. Stops when
/// the indexing thread hangs up (it failed).
fn parse_and_mine(
    paths: &[PathBuf],
    options: &IngestOptions,
    mut miner: rootline_templates::TemplateMiner,
    tx: &std::sync::mpsc::SyncSender<Msg>,
) {
    let save = |miner: &rootline_templates::TemplateMiner| {
        crate::templates::save_miner(&options.templates_path, miner).map_err(IngestError::from)
    };
    let mut since_commit = 0u64;
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
        let mut reader = match FileReader::open(path, label.clone(), service) {
            Ok(r) => r,
            Err(e) => {
                if tx.send(Msg::FileError(e)).is_err() {
                    return;
                }
                continue;
            }
        };
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let started = Msg::Progress(IngestProgress::FileStarted {
            path: path.clone(),
            bytes: size,
        });
        if tx.send(Msg::File { label }).is_err() || tx.send(started).is_err() {
            return;
        }
        let mut batch = Vec::with_capacity(BATCH);
        let mut seen = 0u64;
        while let Some(item) = reader.next() {
            seen += 1;
            if seen.is_multiple_of(8192)
                && tx
                    .send(Msg::Progress(IngestProgress::Bytes(reader.bytes_read)))
                    .is_err()
            {
                return;
            }
            let sent = match item {
                Ok(Item::Record(mut r)) => {
                    let first_line = r.message.lines().next().unwrap_or("");
                    r.template_id = Some(miner.add_id(&r.service, first_line).0);
                    batch.push(r);
                    since_commit += 1;
                    if batch.len() == BATCH || since_commit >= COMMIT_EVERY {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        tx.send(Msg::Records(full)).is_ok()
                    } else {
                        true
                    }
                }
                Ok(Item::Rejected(r)) => tx.send(Msg::Rejected(r)).is_ok(),
                Err(e) => {
                    let _ = tx.send(Msg::FileError(e));
                    break;
                }
            };
            if !sent {
                return;
            }
            if since_commit >= COMMIT_EVERY {
                since_commit = 0;
                let msg = match save(&miner) {
                    Ok(()) => Msg::Commit,
                    Err(e) => Msg::Failed(e),
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        }
        let done = Msg::FileDone {
            read: reader.lines_read,
            joined: reader.lines_joined,
            bytes: reader.bytes_read,
        };
        if (!batch.is_empty() && tx.send(Msg::Records(batch)).is_err())
            || tx
                .send(Msg::Progress(IngestProgress::Bytes(reader.bytes_read)))
                .is_err()
            || tx.send(done).is_err()
        {
            return;
        }
    }
    // One commit at the end: the summary (the acknowledgement) is returned only after it.
    let _ = tx.send(match save(&miner) {
        Ok(()) => Msg::Commit,
        Err(e) => Msg::Failed(e),
    });
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
