//! Nezha TrainTicket traces: `cases/<id>/trace/HH_MM_trace.csv.gz` (and the day's
//! `baseline/<day>/trace/`) into normalised gzip CSV span tables for a bundle's `traces/`.
//!
//! Upstream columns are TraceID, SpanID, ParentID (`root` for roots), PodName, OperationName,
//! StartTimeUnixNano, EndTimeUnixNano, Duration (microseconds: it equals (End − Start) / 1000).
//! The rows are kept as they are (the span parser maps this header itself), sorted by start
//! time, with rows that have no ids or no usable times dropped. Traces are fair input: no
//! ground truth is read here.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::{ImportError, io_err};

const HEADER: [&str; 8] = [
    "TraceID",
    "SpanID",
    "ParentID",
    "PodName",
    "OperationName",
    "StartTimeUnixNano",
    "EndTimeUnixNano",
    "Duration",
];

/// Converts the case's trace files (paths relative to `src`) and, when given, every file of
/// `baseline_trace_dir` (written with a `baseline-` prefix) into `out_dir`. Returns the number
/// of spans written (all files) and the time range `(first start, last end)` of the case's own
/// files, in unix ns.
pub fn write_case_traces(
    src: &Path,
    trace_files: &[String],
    baseline_trace_dir: Option<&Path>,
    out_dir: &Path,
) -> Result<(u64, Option<(i64, i64)>), ImportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| io_err(out_dir, e))?;
    let mut count = 0;
    let mut range: Option<(i64, i64)> = None;
    for rel in trace_files {
        let path = src.join(rel);
        let (n, r) = convert(&path, out_dir, "")?;
        count += n;
        range = match (range, r) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
    }
    if let Some(dir) = baseline_trace_dir
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".csv.gz"))
            .collect();
        files.sort();
        for path in files {
            count += convert(&path, out_dir, "baseline-")?.0;
        }
    }
    Ok((count, range))
}

fn convert(
    path: &Path,
    out_dir: &Path,
    prefix: &str,
) -> Result<(u64, Option<(i64, i64)>), ImportError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(BufReader::new(MultiGzDecoder::new(f)));
    let headers = reader.headers().map_err(|e| io_err(path, e))?.clone();
    let cols: Vec<Option<usize>> = HEADER
        .iter()
        .map(|name| headers.iter().position(|h| h == *name))
        .collect();
    let (Some(c_trace), Some(c_span), Some(c_start), Some(c_end)) =
        (cols[0], cols[1], cols[5], cols[6])
    else {
        return Err(io_err(
            path,
            "missing TraceID, SpanID, StartTimeUnixNano or EndTimeUnixNano column",
        ));
    };
    let mut rows: Vec<(i64, i64, Vec<String>)> = Vec::new();
    for row in reader.records() {
        let Ok(row) = row else { continue };
        let get = |c: Option<usize>| c.and_then(|c| row.get(c)).unwrap_or("").trim();
        let (Ok(start), Ok(end)) = (
            get(Some(c_start)).parse::<i64>(),
            get(Some(c_end)).parse::<i64>(),
        ) else {
            continue;
        };
        if get(Some(c_trace)).is_empty() || get(Some(c_span)).is_empty() || end < start {
            continue;
        }
        rows.push((
            start,
            end,
            cols.iter().map(|c| get(*c).to_string()).collect(),
        ));
    }
    rows.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2)));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let out_path = out_dir.join(format!("{prefix}{name}"));
    let out = File::create(&out_path).map_err(|e| io_err(&out_path, e))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(GzEncoder::new(out, Compression::new(6))));
    w.write_record(HEADER).map_err(|e| io_err(&out_path, e))?;
    for (_, _, row) in &rows {
        w.write_record(row).map_err(|e| io_err(&out_path, e))?;
    }
    let buf = w
        .into_inner()
        .map_err(|e| io_err(&out_path, e.error().to_string()))?;
    let enc = buf.into_inner().map_err(|e| io_err(&out_path, e.error()))?;
    enc.finish().map_err(|e| io_err(&out_path, e))?;
    let range = rows
        .iter()
        .map(|r| (r.0, r.1))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    Ok((rows.len() as u64, range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn converts_sorts_and_drops_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("cases/c1/trace")).unwrap();
        std::fs::create_dir_all(src.join("baseline/d/trace")).unwrap();
        let write_gz = |p: PathBuf, text: &str| {
            let mut e = GzEncoder::new(File::create(p).unwrap(), Compression::default());
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap();
        };
        let header = HEADER.join(",");
        write_gz(
            src.join("cases/c1/trace/13_44_trace.csv.gz"),
            &format!(
                "{header}\n\
                 t1,s2,s1,ts-travel2-service-5c66d57d58-zxw8n,/x,1675086256359000000,1675086256948379585,589379\n\
                 t1,s1,root,ts-gateway-service-6f6cfc45b-d9pnv,/*,1675086256354000000,1675086256950359286,596359\n\
                 t1,s3,s1,ts-gateway-service-6f6cfc45b-d9pnv,/*,notanumber,1,1\n"
            ),
        );
        write_gz(
            src.join("baseline/d/trace/11_39_trace.csv.gz"),
            &format!(
                "{header}\nt0,s0,root,ts-a-service-1,/,1675078732000000000,1675078732000001000,1\n"
            ),
        );
        let out = dir.path().join("out");
        let (n, range) = write_case_traces(
            &src,
            &["cases/c1/trace/13_44_trace.csv.gz".to_string()],
            Some(&src.join("baseline/d/trace")),
            &out,
        )
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(range, Some((1675086256354000000, 1675086256950359286)));
        let mut text = String::new();
        MultiGzDecoder::new(File::open(out.join("13_44_trace.csv.gz")).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[1].starts_with("t1,s1,root,"), "{text}");
        assert!(out.join("baseline-11_39_trace.csv.gz").exists());
    }
}
