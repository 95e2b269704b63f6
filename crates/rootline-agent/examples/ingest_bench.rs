//! Ingest throughput on real logs (default: the demo bundle's logs).
//!
//! Run: `cargo run --release -p rootline-agent --example ingest_bench -- [--repeat N] [FILES...]`
//!
//! Reports, per stage, decompressed MB/s and records/s: parsing alone (reader + parser), and the
//! whole ingest path (parse + template mining + tantivy indexing + commit) into a fresh on-disk
//! index. Each stage runs `--repeat` times; the best run counts (least disturbed by the machine).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rootline_agent::{IngestOptions, ingest_files};
use rootline_index::LogIndex;
use rootline_ingest::{FileReader, Item};

fn demo_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../eval/demo/nezha-tt-2023-01-29-0925/logs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("demo bundle logs")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut repeat = 5usize;
    let mut files = Vec::new();
    while let Some(a) = args.next() {
        if a == "--repeat" {
            repeat = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        files = demo_files();
    }

    // Stage 1: read + parse only.
    let mut best_parse = f64::MAX;
    let (mut bytes, mut records) = (0u64, 0u64);
    for _ in 0..repeat {
        let t = Instant::now();
        let (mut b, mut r) = (0u64, 0u64);
        for f in &files {
            let mut reader = FileReader::open(f, f.display().to_string(), "bench").expect("open");
            for item in reader.by_ref() {
                if let Ok(Item::Record(_)) = item {
                    r += 1;
                }
            }
            b += reader.bytes_read;
        }
        best_parse = best_parse.min(t.elapsed().as_secs_f64());
        (bytes, records) = (b, r);
    }

    // Stage 2: the whole ingest path into a fresh index each time.
    let mut best_full = f64::MAX;
    for _ in 0..repeat {
        let dir = tempfile::tempdir().expect("tempdir");
        let index = Arc::new(LogIndex::open(&dir.path().join("index")).expect("index"));
        let options = IngestOptions {
            service: None,
            labels: vec![],
            templates_path: dir.path().join("templates.json"),
        };
        let t = Instant::now();
        let (summary, errors) = ingest_files(index, files.clone(), options, |_| {})
            .await
            .expect("ingest");
        best_full = best_full.min(t.elapsed().as_secs_f64());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(summary.indexed, records);
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "input: {} file(s), {:.2} MB decompressed, {} records; best of {repeat} runs",
        files.len(),
        mb,
        records
    );
    println!(
        "parse only:              {:>8.1} MB/s {:>10.0} records/s",
        mb / best_parse,
        records as f64 / best_parse
    );
    println!(
        "parse+templates+index:   {:>8.1} MB/s {:>10.0} records/s ({:.3} s)",
        mb / best_full,
        records as f64 / best_full,
        best_full
    );
}
