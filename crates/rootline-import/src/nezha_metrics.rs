//! Nezha TrainTicket metrics: the day's per-pod 1-minute metric CSVs cut to a time range and
//! merged into one wide CSV (`metrics.csv.gz`) that `rootline_ingest::metrics` reads.
//!
//! Input: `<src>/<metric_dir>/<pod>_metric.csv.gz` (columns `Time`, `TimeStamp`, `PodName`, then
//! CPU, memory, syscalls, network, latency percentiles, workload, success rate, node CPU/memory)
//! and `front_service.csv.gz` (`Time`, `TimeStamp`, `ServiceName`, frontend success rate and
//! latency percentiles). Output columns: `TimeStamp` (epoch seconds, the time column), `PodName`
//! and `Scope` (labels), then the union of every value column in first-seen order. `Time` (a Go
//! `time.Time` string with a monotonic clock suffix) is dropped: `TimeStamp` says the same.
//!
//! Frontend SLIs are kept, with `Scope=frontend` instead of `ServiceName=Frontend`: they are
//! fair input (the symptom users saw, useful to date the onset), but the frontend is where the
//! symptom is measured, not a root-cause candidate, so its series name no entity and the metric
//! signals (which skip entity-less series) do not rank it.
//!
//! Metrics are fair input: nothing here reads `cases.jsonl` or `root_cause_ts.json`.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::{ImportError, io_err};

/// File name written into `out_dir`.
pub const METRICS_FILE: &str = "metrics.csv.gz";

const FRONT_FILE: &str = "front_service.csv.gz";
/// Columns that are not values: the time, the Go time string and the two name columns.
const NON_VALUE: &[&str] = &["Time", "TimeStamp", "PodName", "ServiceName"];

/// Writes the rows of `<src>/<metric_dir>` with `TimeStamp` in `[from_ns, to_ns]` to
/// `out_dir/metrics.csv.gz` and returns the number of points (non-empty, non-NaN value cells).
/// Rows whose `TimeStamp` is not an integer are skipped.
pub fn write_case_metrics(
    src: &Path,
    metric_dir: &str,
    from_ns: i64,
    to_ns: i64,
    out_dir: &Path,
) -> Result<u64, ImportError> {
    let dir = src.join(metric_dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| io_err(&dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_metric.csv.gz") || n == FRONT_FILE)
        })
        .collect();
    files.sort();

    // The union of value columns, so that one header serves pods and the frontend.
    let mut value_cols: Vec<String> = Vec::new();
    for path in &files {
        for name in open_csv(path)?
            .headers()
            .map_err(|e| bad(path, 1, e))?
            .iter()
        {
            if !NON_VALUE.contains(&name) && !value_cols.iter().any(|c| c == name) {
                value_cols.push(name.to_string());
            }
        }
    }

    std::fs::create_dir_all(out_dir).map_err(|e| io_err(out_dir, e))?;
    let out_path = out_dir.join(METRICS_FILE);
    let out = File::create(&out_path).map_err(|e| io_err(&out_path, e))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(GzEncoder::new(out, Compression::new(6))));
    let mut header = vec!["TimeStamp", "PodName", "Scope"];
    header.extend(value_cols.iter().map(String::as_str));
    w.write_record(&header).map_err(|e| io_err(&out_path, e))?;

    let mut points = 0u64;
    let mut row_out: Vec<String> = vec![String::new(); header.len()];
    for path in &files {
        let is_front = path.file_name().and_then(|n| n.to_str()) == Some(FRONT_FILE);
        let mut reader = open_csv(path)?;
        let names: Vec<String> = reader
            .headers()
            .map_err(|e| bad(path, 1, e))?
            .iter()
            .map(str::to_string)
            .collect();
        // Input column → output column.
        let mapping: Vec<Option<usize>> = names
            .iter()
            .map(|n| match n.as_str() {
                "TimeStamp" => Some(0),
                "PodName" => Some(1),
                _ => value_cols.iter().position(|c| c == n).map(|i| i + 3),
            })
            .collect();
        let Some(ts_col) = names.iter().position(|n| n == "TimeStamp") else {
            return Err(bad(path, 1, "no TimeStamp column"));
        };
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| bad(path, i as u64 + 2, e))?;
            let Some(ts) = record
                .get(ts_col)
                .and_then(|t| t.trim().parse::<i64>().ok())
            else {
                continue;
            };
            let ts_ns = ts.saturating_mul(1_000_000_000);
            if ts_ns < from_ns || ts_ns > to_ns {
                continue;
            }
            row_out.iter_mut().for_each(String::clear);
            if is_front {
                row_out[2].push_str("frontend");
            }
            for (cell, target) in record.iter().zip(&mapping) {
                let Some(target) = *target else { continue };
                let cell = cell.trim();
                if target >= 3 {
                    if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
                        continue;
                    }
                    points += 1;
                }
                row_out[target].push_str(cell);
            }
            w.write_record(&row_out).map_err(|e| io_err(&out_path, e))?;
        }
    }
    let inner = w
        .into_inner()
        .map_err(|e| io_err(&out_path, e.error()))?
        .into_inner()
        .map_err(|e| io_err(&out_path, e.error()))?;
    inner.finish().map_err(|e| io_err(&out_path, e))?;
    Ok(points)
}

fn open_csv(path: &Path) -> Result<csv::Reader<BufReader<MultiGzDecoder<File>>>, ImportError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(MultiGzDecoder::new(f))))
}

fn bad(path: &Path, line: u64, e: impl std::fmt::Display) -> ImportError {
    ImportError::Bad {
        path: path.to_path_buf(),
        line,
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn gz(path: &Path, text: &str) {
        let mut enc = GzEncoder::new(File::create(path).unwrap(), Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
    }

    fn read_gz(path: &Path) -> String {
        let mut s = String::new();
        MultiGzDecoder::new(File::open(path).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    /// Real rows of `metric/2023-01-29/` (cut to a few columns).
    #[test]
    fn merges_pods_and_frontend_within_the_range() {
        let src = tempfile::tempdir().unwrap();
        let day = src.path().join("metric/2023-01-29");
        std::fs::create_dir_all(&day).unwrap();
        gz(
            &day.join("ts-preserve-service-b5ccf8557-j4txs_metric.csv.gz"),
            "Time,TimeStamp,PodName,CpuUsageRate(%),PodServerLatencyP90(s)\n\
             2023-01-29 08:41:10.27442608 +0000 UTC m=+1.350587940,1674981670,ts-preserve-service-b5ccf8557-j4txs,0.512876845706174,NaN\n\
             2023-01-29 08:42:09.909844034 +0000 UTC m=+60.986005894,1674981729,ts-preserve-service-b5ccf8557-j4txs,0.5260576484179206,NaN\n\
             2023-01-29 08:43:10.602505892 +0000 UTC m=+121.678667759,1674981790,ts-preserve-service-b5ccf8557-j4txs,0.7521682283689143,0.475\n",
        );
        gz(
            &day.join("front_service.csv.gz"),
            "Time,TimeStamp,ServiceName,SuccessRate(%),LatencyP50(s)\n\
             2023-01-29 08:42:09.018658981 +0000 UTC m=+60.094820869,1674981729,Frontend,0,0.05\n\
             2023-01-29 08:43:09.04679005 +0000 UTC m=+120.122951914,1674981789,Frontend,0,0.08125000000000003\n",
        );
        std::fs::write(day.join("README.txt"), "not a metric file").unwrap();
        let out = tempfile::tempdir().unwrap();
        let n = write_case_metrics(
            src.path(),
            "metric/2023-01-29/",
            1_674_981_700_000_000_000,
            1_674_981_790_000_000_000,
            out.path(),
        )
        .unwrap();
        // Pods: 08:42 (cpu) and 08:43 (cpu, latency); frontend: 08:42 and 08:43, two each.
        assert_eq!(n, 7);
        let text = read_gz(&out.path().join(METRICS_FILE));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "TimeStamp,PodName,Scope,SuccessRate(%),LatencyP50(s),CpuUsageRate(%),PodServerLatencyP90(s)"
        );
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(lines[1], "1674981729,,frontend,0,0.05,,");
        assert_eq!(
            lines[4],
            "1674981790,ts-preserve-service-b5ccf8557-j4txs,,,,0.7521682283689143,0.475"
        );
        assert!(!text.contains("Frontend") && !text.contains("UTC"));
    }

    #[test]
    fn missing_metric_dir_is_an_error() {
        let out = tempfile::tempdir().unwrap();
        let err = write_case_metrics(Path::new("/nonexistent"), "metric/x", 0, 1, out.path())
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/metric/x"), "{err}");
    }

    #[test]
    fn real_nezha_day_if_present() {
        let src = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/datasets/nezha_trainticket"
        ));
        if !src.join("metric/2023-01-29").is_dir() {
            eprintln!("skipping: {} is absent", src.display());
            return;
        }
        let out = tempfile::tempdir().unwrap();
        // tt-2023-01-29-1542: 30 minutes before the injection to 3 minutes after.
        let inject = 1_675_006_920_000_000_000i64;
        let minute = 60_000_000_000i64;
        let n = write_case_metrics(
            src,
            "metric/2023-01-29/",
            inject - 30 * minute,
            inject + 3 * minute,
            out.path(),
        )
        .unwrap();
        let text = read_gz(&out.path().join(METRICS_FILE));
        let rows = text.lines().count() - 1;
        // 46 pods + the frontend, one row a minute.
        assert!((47 * 32..=47 * 34).contains(&rows), "{rows} rows");
        assert!(n > rows as u64 * 5, "{n} points in {rows} rows");
        for line in text.lines().skip(1) {
            let ts: i64 = line.split(',').next().unwrap().parse().unwrap();
            assert!((inject - 30 * minute..=inject + 3 * minute).contains(&(ts * 1_000_000_000)));
        }
        eprintln!("tt-2023-01-29-1542 metrics: {rows} rows, {n} points");
    }
}
