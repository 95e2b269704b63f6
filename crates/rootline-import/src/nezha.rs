//! Nezha TrainTicket (IntelligentDDS/Nezha, MIT): `cases.jsonl` + per-case log CSVs.
//!
//! Inputs per case: the three ~1-minute log and trace windows starting about a minute before the
//! injection, and the day's fault-free `baseline/<day>/{log,trace}` window when there is one. Log rows are CSV with
//! the Docker JSON wrapper in the `Log` column; they become JSON lines with the application
//! line unwrapped and pod, node and trace id kept.
//!
//! Windows: the incident window runs from the injection second to the end of the last file; the
//! baselines are the part of the first file before the injection and the day's baseline window.
//! Ground truth (`root_cause_*`, `fault_type`, `inner_label`) goes to `truth.json` only.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rootline_core::{Incident, TimeWindow};
use serde::Deserialize;
use serde_json::json;

use crate::{ImportError, ImportSummary, io_err};

#[derive(Debug, Deserialize)]
struct Case {
    case_id: String,
    inject_unix_utc: i64,
    root_cause_pod: String,
    root_cause_service: String,
    fault_type: String,
    #[serde(default)]
    inner_label: String,
    log_files: Vec<String>,
    #[serde(default)]
    trace_files: Vec<String>,
    #[serde(default)]
    metric_dir: Option<String>,
    baseline_dir: String,
}

/// How much metric history before the injection goes into a bundle.
const METRIC_LOOKBACK_NS: i64 = 35 * 60 * 1_000_000_000;

/// Imports every case of `src` (or only `only_case`) into `out/<case_id>/`.
pub fn import(
    src: &Path,
    out: &Path,
    only_case: Option<&str>,
) -> Result<ImportSummary, ImportError> {
    let cases_path = src.join("cases.jsonl");
    let f = File::open(&cases_path).map_err(|e| io_err(&cases_path, e))?;
    let mut summary = ImportSummary::default();
    let mut found = false;
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| io_err(&cases_path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(&line).map_err(|e| ImportError::Bad {
            path: cases_path.clone(),
            line: i as u64 + 1,
            message: e.to_string(),
        })?;
        if only_case.is_some_and(|c| c != case.case_id) {
            continue;
        }
        found = true;
        import_case(src, out, &case, &mut summary)?;
    }
    if let (Some(c), false) = (only_case, found) {
        return Err(ImportError::NoSuchCase(c.to_string()));
    }
    Ok(summary)
}

fn import_case(
    src: &Path,
    out: &Path,
    case: &Case,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let dir = out.join(&case.case_id);
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| io_err(&logs, e))?;
    let inject = Utc
        .timestamp_opt(case.inject_unix_utc, 0)
        .single()
        .ok_or_else(|| io_err(&dir, "bad inject_unix_utc"))?;

    let mut incident_span: Option<(i64, i64)> = None;
    for rel in &case.log_files {
        let path = src.join(rel);
        let span = convert_log_csv(&path, &logs, summary)?;
        incident_span = merge(incident_span, span);
    }
    let mut baseline_windows = Vec::new();
    let (first_ns, last_ns) =
        incident_span.ok_or_else(|| io_err(&dir, "the case has no log records"))?;
    let inject_ns = case.inject_unix_utc * 1_000_000_000;
    if first_ns < inject_ns {
        baseline_windows.push(TimeWindow {
            start: ns_to_dt(first_ns),
            end: inject,
        });
    }
    let baseline_dir = src.join(&case.baseline_dir).join("log");
    if let Ok(entries) = std::fs::read_dir(&baseline_dir) {
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for path in files {
            if let Some((s, e)) = convert_log_csv(&path, &logs, summary)? {
                // A baseline that overlaps the incident would hide the fault; skip it.
                if e < inject_ns || s > last_ns {
                    baseline_windows.push(TimeWindow {
                        start: ns_to_dt(s),
                        end: ns_to_dt(e + 1),
                    });
                } else {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    let _ = std::fs::remove_file(logs.join(converted_name(&name)));
                }
            }
        }
    }
    if let Some(metric_dir) = &case.metric_dir {
        // Metrics are per minute: the investigation compares the window with the half hour before.
        let from = inject_ns - METRIC_LOOKBACK_NS;
        summary.records += crate::nezha_metrics::write_case_metrics(
            src,
            metric_dir,
            from,
            last_ns,
            &dir.join("metrics"),
        )?;
    }
    if !case.trace_files.is_empty() {
        let baseline_traces = src.join(&case.baseline_dir).join("trace");
        let (spans, _) = crate::nezha_traces::write_case_traces(
            src,
            &case.trace_files,
            baseline_traces
                .is_dir()
                .then_some(baseline_traces.as_path()),
            &dir.join("traces"),
        )?;
        summary.records += spans;
    }
    let incident = Incident {
        id: case.case_id.clone(),
        title: format!(
            "TrainTicket anomaly at {}",
            inject.format("%Y-%m-%d %H:%M:%SZ")
        ),
        description: "Anomaly reported on the TrainTicket deployment; cause unknown.".into(),
        start: inject,
        end: Some(ns_to_dt(last_ns + 1)),
        services: vec![],
        alert: None,
        baseline_windows,
    };
    write_json(
        &dir.join("incident.json"),
        &serde_json::to_value(&incident).unwrap_or_default(),
    )?;
    // Generic fault vocabulary for scoring fault-type accuracy.
    let fault_type_rootline = match case.fault_type.as_str() {
        "exception" => json!(["exception"]),
        "return" => json!(["wrong_return_value"]),
        "cpu_contention" | "cpu_consumed" => json!(["cpu"]),
        "network_delay" => json!(["network_delay", "latency"]),
        _ => json!([]),
    };
    let truth = json!({
        "source": "nezha_trainticket",
        "fault_type_rootline": fault_type_rootline,
        "root_cause_service": case.root_cause_service,
        "root_cause_pod": case.root_cause_pod,
        "fault_type": case.fault_type,
        "inner_label": case.inner_label,
        "root_cause_module": faulty_class(&case.fault_type, &case.inner_label),
    });
    write_json(&dir.join("truth.json"), &truth)?;
    summary.bundles.push(dir.display().to_string());
    Ok(())
}

/// The class a code fault was injected into, from Nezha's inner label
/// (`t.s.TravelServiceImpl#451_t.s.TravelServiceImpl#457`: between two lines of that class), in
/// the logger's own abbreviated form, which is how the logs name it (`root_cause_module`). Resource faults (CPU,
/// network) are labelled with a metric name and have no class.
fn faulty_class(fault_type: &str, inner_label: &str) -> Option<String> {
    if !matches!(fault_type, "exception" | "return") {
        return None;
    }
    let first = inner_label.split('_').next()?;
    // Other labels name a method by its bare class (`RouteController.queryByIds start`), which is
    // not how the logs abbreviate it: those cases have no module to score.
    let (class, line) = first.split_once('#')?;
    (class.contains('.') && !class.ends_with('.') && line.bytes().all(|b| b.is_ascii_digit()))
        .then(|| class.to_string())
}

fn merge(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, None) => a,
        (None, b) => b,
    }
}

fn ns_to_dt(ns: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(ns)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ImportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io_err(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| io_err(path, e))
}

fn converted_name(csv_name: &str) -> String {
    let stem = csv_name.trim_end_matches(".gz").trim_end_matches(".csv");
    format!("{stem}.jsonl.gz")
}

/// Converts one Nezha log CSV (gzip) into gzip JSON lines; returns the time span it covers.
fn convert_log_csv(
    path: &Path,
    out_dir: &Path,
    summary: &mut ImportSummary,
) -> Result<Option<(i64, i64)>, ImportError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut reader = csv::Reader::from_reader(BufReader::new(MultiGzDecoder::new(f)));
    let headers = reader.headers().map_err(|e| io_err(path, e))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(c_ns), Some(c_pod), Some(c_log)) = (col("TimeUnixNano"), col("PodName"), col("Log"))
    else {
        return Err(io_err(path, "missing TimeUnixNano, PodName or Log column"));
    };
    let (c_node, c_trace, c_span) = (col("Node"), col("TraceID"), col("SpanID"));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let out_path = out_dir.join(converted_name(&name));
    let out = File::create(&out_path).map_err(|e| io_err(&out_path, e))?;
    let mut w = BufWriter::new(GzEncoder::new(out, Compression::new(9)));
    let mut rows: Vec<(i64, String)> = Vec::new();
    for row in reader.records() {
        let Ok(row) = row else {
            summary.skipped_rows += 1;
            continue;
        };
        let get = |c: Option<usize>| c.and_then(|c| row.get(c)).unwrap_or("");
        let Ok(ns) = get(Some(c_ns)).parse::<i64>() else {
            summary.skipped_rows += 1;
            continue;
        };
        // The Log column is Docker's JSON wrapper; a few rows hold two wrappers back to back.
        let wrapper = get(Some(c_log));
        let inner = serde_json::Deserializer::from_str(wrapper)
            .into_iter::<serde_json::Value>()
            .next()
            .and_then(|v| v.ok())
            .and_then(|v| v.get("log").and_then(|l| l.as_str()).map(str::to_string))
            .unwrap_or_else(|| wrapper.to_string());
        let mut obj = json!({
            "time_unix_nano": ns,
            "pod": get(Some(c_pod)),
            "log": inner.trim_end_matches('\n'),
        });
        for (key, c) in [("node", c_node), ("trace_id", c_trace), ("span_id", c_span)] {
            let v = get(c);
            if !v.is_empty() {
                obj[key] = json!(v);
            }
        }
        rows.push((ns, obj.to_string()));
    }
    // Upstream files are newest first; write oldest first as a log would be.
    rows.sort_by_key(|r| r.0);
    for (_, line) in &rows {
        writeln!(w, "{line}").map_err(|e| io_err(&out_path, e))?;
    }
    let enc = w.into_inner().map_err(|e| io_err(&out_path, e.error()))?;
    enc.finish().map_err(|e| io_err(&out_path, e))?;
    summary.records += rows.len() as u64;
    Ok(match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => Some((a.0, b.0)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_fault_names_its_class_and_a_resource_fault_none() {
        assert_eq!(
            faulty_class(
                "exception",
                "t.s.TravelServiceImpl#451_t.s.TravelServiceImpl#457"
            )
            .as_deref(),
            Some("t.s.TravelServiceImpl")
        );
        assert_eq!(
            faulty_class(
                "return",
                "c.s.ContactsServiceImpl#31_c.s.ContactsServiceImpl#34"
            )
            .as_deref(),
            Some("c.s.ContactsServiceImpl")
        );
        assert_eq!(
            faulty_class("exception", "RouteController.queryByIds start"),
            None
        );
        assert_eq!(faulty_class("network_delay", "NetworkP90(ms)"), None);
        assert_eq!(faulty_class("cpu_contention", "CpuUsageRate(%)"), None);
    }
}
