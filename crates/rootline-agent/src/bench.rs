//! `rootline bench ingest`: end-to-end ingest throughput on real files against the floor of bare
//! tantivy indexing of the same records, with peak memory.
//!
//! Numbers, never assertions: the command prints them and docs/benchmarks.md records them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rootline_index::LogIndex;
use rootline_ingest::{FileReader, Item};

use rootline_core::LogRecord;

use crate::ingest::{COMMIT_EVERY, IngestError};
use crate::{IngestOptions, ingest_files};

#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestBench {
    pub files: usize,
    /// Decompressed input bytes and records.
    pub mb: f64,
    pub records: u64,
    /// End to end: parse + template mining + tantivy indexing + commit.
    pub seconds: f64,
    pub mb_per_s: f64,
    /// CPU seconds (all threads) of the end-to-end run, and MB per CPU second: the per-core rate.
    pub cpu_seconds: f64,
    pub mb_per_cpu_s: f64,
    /// Bare tantivy indexing of the same records with the same writer and commits: parsing and
    /// template mining excluded from the time, every commit (so all indexing work) included.
    pub floor_seconds: f64,
    pub floor_mb_per_s: f64,
    /// mb_per_s / floor_mb_per_s.
    pub ratio: f64,
    /// Peak resident memory (VmHWM) of the process at the end of the end-to-end run, MB.
    pub peak_rss_mb: f64,
}

/// Runs both measurements on `paths`, each read `repeat` times under distinct labels (so a small
/// real sample can be scaled up without duplicate records).
pub async fn bench_ingest(paths: Vec<PathBuf>, repeat: usize) -> Result<IngestBench, IngestError> {
    let repeat = repeat.max(1);
    let mut all = Vec::new();
    let mut labels = Vec::new();
    for r in 0..repeat {
        for p in &paths {
            all.push(p.clone());
            labels.push(Some(format!("{}#{r}", p.display())));
        }
    }
    let scratch = tempfile::tempdir().map_err(|e| IngestError::Join(e.to_string()))?;

    let index = Arc::new(LogIndex::open(&scratch.path().join("full"))?);
    let options = IngestOptions {
        service: None,
        labels: labels.clone(),
        templates_path: scratch.path().join("templates.json"),
    };
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let (summary, _) = ingest_files(index, all.clone(), options, |_| {}).await?;
    let seconds = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;

    // Peak memory of the end-to-end run alone: the floor below holds a whole commit interval of
    // parsed records in memory, which is not what ingest does.
    let peak_rss_mb = peak_rss_kb() as f64 / 1024.0;

    let floor_dir = scratch.path().join("floor");
    let floor_seconds = tokio::task::spawn_blocking(move || floor(&floor_dir, &all, labels))
        .await
        .map_err(|e| IngestError::Join(e.to_string()))??;

    let mb = summary.bytes as f64 / 1e6;
    let mb_per_s = mb / seconds;
    let floor_mb_per_s = mb / floor_seconds;
    Ok(IngestBench {
        files: paths.len() * repeat,
        mb: round2(mb),
        records: summary.indexed,
        seconds: round2(seconds),
        mb_per_s: round2(mb_per_s),
        cpu_seconds: round2(cpu),
        mb_per_cpu_s: round2(if cpu > 0.0 { mb / cpu } else { 0.0 }),
        floor_seconds: round2(floor_seconds),
        floor_mb_per_s: round2(floor_mb_per_s),
        ratio: round2(mb_per_s / floor_mb_per_s),
        peak_rss_mb: round2(peak_rss_mb),
    })
}

/// The floor: the same tantivy work as ingest, and nothing else. Same schema, writer settings,
/// records (template ids included) and commit cadence (every [`COMMIT_EVERY`] records, with a
/// payload); everything up to a commit is parsed and mined off the clock first, then the clock
/// runs from the first insert through the end of the commit, so all of tantivy's indexing of
/// those records is on it. Background merges that the commits start run on either side of the
/// clock, as they do during ingest.
fn floor(
    dir: &std::path::Path,
    paths: &[PathBuf],
    labels: Vec<Option<String>>,
) -> Result<f64, IngestError> {
    let index = LogIndex::open(dir)?;
    let mut writer = index.writer()?;
    let mut miner = rootline_templates::TemplateMiner::new(Default::default());
    let mut spent = 0.0;
    let mut chunk: Vec<LogRecord> = Vec::new();
    let mut flush = |chunk: &mut Vec<LogRecord>,
                     writer: &mut rootline_index::LogWriter<'_>|
     -> Result<(), IngestError> {
        let t = Instant::now();
        for r in chunk.drain(..) {
            writer.insert(&r)?;
        }
        writer.commit_with_payload("{}")?;
        spent += t.elapsed().as_secs_f64();
        Ok(())
    };
    for (path, label) in paths.iter().zip(labels) {
        let service = FileReader::service_from_file_name(path);
        let reader = FileReader::open(path, label.unwrap_or_default(), service)?;
        for item in reader {
            if let Ok(Item::Record(mut r)) = item {
                let first_line = r.message.lines().next().unwrap_or("");
                r.template_id = Some(miner.add_id(&r.service, first_line).0);
                chunk.push(r);
                if chunk.len() as u64 >= COMMIT_EVERY {
                    flush(&mut chunk, &mut writer)?;
                }
            }
        }
    }
    flush(&mut chunk, &mut writer)?;
    Ok(spent)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// VmHWM from /proc/self/status (Linux); 0 elsewhere.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of this process (all threads), from /proc/self/stat; clock ticks are
/// 100 per second on Linux.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name, which is in parentheses and may contain spaces.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}
