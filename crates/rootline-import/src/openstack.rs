//! OpenStack fault-injection tests (dessertlab/Fault-Injection-Dataset, AGPL-3.0): `cases.jsonl`
//! plus per-test oslo.log files of every service and the workload client's output.
//!
//! Licence: AGPL. Bundles are written to the caller's output directory only; never copy them into
//! the repository.
//!
//! Inputs per case (an allow-list, so nothing else can slip in): `<service>/*.log.gz` for nova,
//! cinder, neutron, glance, heat and keystone, and `foreground_wl/*.log.gz` (the workload's
//! output and its API errors / failed assertions, as service `workload`). `trigger_log.txt` is the
//! fault injector's own record and names the answer: it is never read.
//!
//! Records: oslo.log lines `date time.ms PID LEVEL logger message` become JSON lines with
//! `service` = the OpenStack service (the folder), `instance` = the process (`nova-compute`, from
//! the file name), `logger` = the Python logger (module) and `pid`; lines that do not start with
//! a timestamp (tables, dumps) are joined onto the record before them. Times are the log clock
//! converted to UTC with the offset implied by the workload file name (`…-<epoch>.out.log.gz`).
//!
//! Windows: the incident starts [`LOOKBACK_SECS`] before the workload's first failure symptom
//! (first line of its `*.err.log.gz`) and runs to the end of the test's logs; the baseline is the
//! same test from its first record up to the incident start (at least [`MIN_BASELINE_SECS`]),
//! plus a known-good reference run: the test nearest in time whose workload reported no error,
//! whose logs are written as `logs/<service>/<process>.reference.jsonl.gz` with their own time
//! range as a second baseline window. Control tests (no failure) have no symptom: their window
//! is the second half of the test.
//! Ground truth goes to `truth.json` only; ids and titles are neutral. `topology.json` declares
//! the harness: the workload is a probe and a client of every service (nothing between the
//! services).
//! An oslo.log traceback, written one prefixed record per line, is joined back onto its header.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rootline_core::frames::{
    PYTHON_TRACEBACK_HEADER, make_room_for_traceback, without_oslo_instance_tag,
};
use rootline_core::{Incident, TimeWindow};
use serde::Deserialize;
use serde_json::json;

use crate::{ImportError, ImportSummary, io_err};

/// The incident window starts this long before the first failure symptom: the failing request
/// is logged by the services before the client sees its error.
pub const LOOKBACK_SECS: i64 = 180;
/// The baseline (start of the test up to the window) is never shorter than this.
pub const MIN_BASELINE_SECS: i64 = 60;
/// Known-good runs tried, nearest first, to find one that did not overlap the test in time.
const MAX_REFERENCE_TRIES: usize = 3;
/// Joined continuation lines stop growing a record's message past this many bytes.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// Service folders whose logs are investigation input.
const SERVICE_DIRS: &[&str] = &["nova", "cinder", "neutron", "glance", "heat", "keystone"];
const WORKLOAD_DIR: &str = "foreground_wl";
const WORKLOAD_SERVICE: &str = "workload";

#[derive(Debug, Deserialize)]
struct Case {
    case_id: String,
    injected_subsystem: String,
    test: String,
    fault_type: String,
    #[serde(default)]
    root_cause_component: Option<String>,
    #[serde(default)]
    root_cause_module: Option<String>,
    #[serde(default)]
    root_cause_class: Option<String>,
    #[serde(default)]
    root_cause_function: Option<String>,
    failure_round_1: bool,
    #[serde(default)]
    assertion_round_1: Option<String>,
    #[serde(default)]
    api_error_round_1: Option<String>,
    files: Vec<String>,
}

/// Maps a dataset fault label (`OPENSTACK_THROW_EXCEPTION-VOLUME`) to the rootline fault types
/// that describe it. Missing calls and wrong or missing parameters have no rootline equivalent
/// (they may surface as exceptions, wrong values or nothing), so they map to none and are not
/// scored for fault type.
pub fn rootline_fault_types(label: &str) -> Vec<&'static str> {
    let kind = label.split('-').next().unwrap_or("");
    if kind.ends_with("THROW_EXCEPTION") {
        vec!["exception"]
    } else if kind.ends_with("WRONG_RETURN_VALUE") {
        vec!["wrong_return_value"]
    } else {
        vec![]
    }
}

/// Imports every test of `src` (or only the one whose `case_id` is `only_case`) into
/// `out/openstack-<workload epoch>/`.
pub fn import(
    src: &Path,
    out: &Path,
    only_case: Option<&str>,
) -> Result<ImportSummary, ImportError> {
    let cases_path = src.join("cases.jsonl");
    let f = File::open(&cases_path).map_err(|e| io_err(&cases_path, e))?;
    let mut summary = ImportSummary::default();
    let mut found = false;
    let mut cases: Vec<(usize, Case)> = Vec::new();
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
        cases.push((i, case));
    }
    for (k, (i, case)) in cases.iter().enumerate() {
        if only_case.is_some_and(|c| c != case.case_id) {
            continue;
        }
        found = true;
        let references: Vec<&Case> = reference_runs(&cases, k)
            .into_iter()
            .map(|r| &cases[r].1)
            .collect();
        import_case(src, out, case, *i, &references, &mut summary)?;
    }
    if let (Some(c), false) = (only_case, found) {
        return Err(ImportError::NoSuchCase(c.to_string()));
    }
    Ok(summary)
}

/// An input file of a case, by role.
#[derive(Debug)]
struct Input {
    path: PathBuf,
    service: String,
    /// Process name (`nova-compute`) or workload stream (`out`, `err`).
    process: String,
    workload: bool,
}

fn inputs(src: &Path, case: &Case) -> Vec<Input> {
    let mut out = Vec::new();
    for rel in &case.files {
        let path = Path::new(rel);
        let Some(dir) = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|d| d.to_string_lossy().into_owned())
        else {
            continue;
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".log.gz") {
            continue;
        }
        let stem = name.trim_end_matches(".log.gz");
        if dir == WORKLOAD_DIR {
            // `openstack_demo_workload-<epoch>.out` → stream `out`.
            let stream = stem.rsplit('.').next().unwrap_or(stem).to_string();
            out.push(Input {
                path: src.join(rel),
                service: WORKLOAD_SERVICE.into(),
                process: stream,
                workload: true,
            });
        } else if SERVICE_DIRS.contains(&dir.as_str()) {
            // Cinder and glance name files `api.log`: prefix the service for a useful process.
            let process = if stem.starts_with(&format!("{dir}-")) {
                stem.to_string()
            } else {
                format!("{dir}-{stem}")
            };
            out.push(Input {
                path: src.join(rel),
                service: dir,
                process,
                workload: false,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The known-good runs to compare case `k` with, nearest in time first: tests whose workload
/// reported no error (no `*.err.log.gz`; empty files were dropped upstream). What an SRE does
/// with a batch job: compare with the last run that passed. Only observable facts choose them
/// (file names and whether the workload's error stream is empty), never the labels.
fn reference_runs(cases: &[(usize, Case)], k: usize) -> Vec<usize> {
    let epoch_of = |case: &Case| workload_epoch(&inputs(Path::new(""), case));
    let passed = |case: &Case| {
        !case
            .files
            .iter()
            .any(|f| f.contains(WORKLOAD_DIR) && f.ends_with(".err.log.gz"))
    };
    let Some(own) = epoch_of(&cases[k].1) else {
        return vec![];
    };
    let mut near: Vec<(i64, usize)> = cases
        .iter()
        .enumerate()
        .filter(|(j, (_, c))| *j != k && passed(c))
        .filter_map(|(j, (_, c))| epoch_of(c).map(|e| ((e - own).abs(), j)))
        .collect();
    near.sort_unstable();
    near.into_iter().map(|(_, j)| j).collect()
}

/// One test's logs, parsed, with the log clock's offset from UTC.
struct Run {
    inputs: Vec<Input>,
    parsed: Vec<Vec<Line>>,
    epoch: Option<i64>,
    offset_ns: i64,
}

fn read_run(src: &Path, case: &Case, summary: &mut ImportSummary) -> Result<Run, ImportError> {
    let inputs = inputs(src, case);
    if inputs.is_empty() {
        return Err(io_err(
            &src.join(&case.case_id),
            "the case has no log files",
        ));
    }
    let epoch = workload_epoch(&inputs);
    let mut parsed = Vec::with_capacity(inputs.len());
    for input in &inputs {
        parsed.push(read_input(&input.path, summary)?);
    }
    // The log clock is local time; the workload file name carries the UTC epoch of its start,
    // which is within a minute of its first line. Round the difference to whole hours.
    let offset_ns = epoch
        .and_then(|e| {
            let first = inputs
                .iter()
                .zip(&parsed)
                .filter(|(i, _)| i.workload && i.process == "out")
                .find_map(|(_, recs)| recs.first())?;
            let diff_s = first.local_ns / 1_000_000_000 - e;
            Some(((diff_s as f64 / 3600.0).round() as i64) * 3600 * 1_000_000_000)
        })
        .unwrap_or(0);
    Ok(Run {
        inputs,
        parsed,
        epoch,
        offset_ns,
    })
}

/// The epoch in the workload file name (`openstack_demo_workload-1530320225.out.log.gz`).
fn workload_epoch(inputs: &[Input]) -> Option<i64> {
    inputs.iter().filter(|i| i.workload).find_map(|i| {
        let name = i.path.file_name()?.to_string_lossy().into_owned();
        let digits = name.rsplit('-').next()?.split('.').next()?;
        digits.parse().ok()
    })
}

/// A parsed line: local time as if UTC (ns), level, logger/tag, pid, message.
struct Line {
    local_ns: i64,
    level: String,
    logger: String,
    pid: Option<u64>,
    message: String,
}

fn parse_local(date: &str, time: &str) -> Option<i64> {
    let t =
        NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S%.f").ok()?;
    t.and_utc().timestamp_nanos_opt()
}

/// `2018-06-30 02:57:08.553 29667 DEBUG oslo_service.periodic_task [req-…] message`, or the
/// workload's `2018-06-30 02:57:52.017204 INFO [sample_workload.sh]: message`.
fn parse_line(line: &str) -> Option<Line> {
    let mut it = line.splitn(3, ' ');
    let (date, time, rest) = (it.next()?, it.next()?, it.next()?);
    if date.len() != 10 || !date.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let local_ns = parse_local(date, time)?;
    let mut parts = rest.splitn(2, ' ');
    let first = parts.next()?;
    let after = parts.next().unwrap_or("");
    if let Ok(pid) = first.parse::<u64>() {
        // oslo.log: PID LEVEL logger message
        let mut p = after.splitn(3, ' ');
        let level = p.next().unwrap_or("").to_string();
        let logger = p.next().unwrap_or("").to_string();
        let message = p.next().unwrap_or("").to_string();
        Some(Line {
            local_ns,
            level,
            logger,
            pid: Some(pid),
            message,
        })
    } else {
        // workload: LEVEL [tag]: message
        let (tag, message) = match after.split_once("]: ") {
            Some((t, m)) => (t.trim_start_matches('[').to_string(), m.to_string()),
            None => (String::new(), after.to_string()),
        };
        Some(Line {
            local_ns,
            level: first.to_string(),
            logger: tag,
            pid: None,
            message,
        })
    }
}

/// Reads one input file into parsed records (continuations joined). Local times.
fn read_input(path: &Path, summary: &mut ImportSummary) -> Result<Vec<Line>, ImportError> {
    let f = File::open(path).map_err(|e| io_err(path, e))?;
    let reader = BufReader::new(MultiGzDecoder::new(f));
    let mut records: Vec<Line> = Vec::new();
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| io_err(path, e))?;
        push_line(&mut records, &String::from_utf8_lossy(&line), summary);
    }
    Ok(records)
}

/// Adds one line of a log file: a new record, or a continuation of the one before it.
fn push_line(records: &mut Vec<Line>, line: &str, summary: &mut ImportSummary) {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return;
    }
    match parse_line(line) {
        Some(rec) => match records.last_mut() {
            Some(prev) if continues_traceback(prev, &rec) => {
                let line = without_oslo_instance_tag(&rec.message);
                if line.starts_with(PYTHON_TRACEBACK_HEADER) {
                    make_room_for_traceback(&mut prev.message, MAX_MESSAGE_BYTES);
                }
                if prev.message.len() < MAX_MESSAGE_BYTES {
                    prev.message.push('\n');
                    prev.message.push_str(line);
                }
            }
            _ => records.push(rec),
        },
        None => match records.last_mut() {
            Some(prev) if prev.message.len() < MAX_MESSAGE_BYTES => {
                prev.message.push('\n');
                prev.message.push_str(line);
            }
            Some(_) => {}
            // Text before the first timestamp has no time to attach to.
            None => summary.skipped_rows += 1,
        },
    }
}

/// oslo.log writes every line of a logged exception with the full prefix, so a traceback
/// arrives as twenty records (`… ERROR nova.compute.manager [instance: …]   File "…"`). Its lines
/// share the header's timestamp, process, level and logger; from the `Traceback` line on they
/// are joined onto the header, which makes one event with a whole stack trace again.
fn continues_traceback(prev: &Line, line: &Line) -> bool {
    // oslo.log's exception prefix says ERROR whatever the level of the record that carries the
    // traceback (`LOG.warning(…, exc_info=True)`).
    let same_call = prev.pid.is_some()
        && prev.pid == line.pid
        && prev.local_ns == line.local_ns
        && (prev.level == line.level || line.level == "ERROR")
        && prev.logger == line.logger;
    // A new call carries its request context; the traceback lines never do.
    same_call
        && !line.message.starts_with("[req-")
        && (without_oslo_instance_tag(&line.message).starts_with(PYTHON_TRACEBACK_HEADER)
            || prev.message.contains(PYTHON_TRACEBACK_HEADER))
}

fn write_records(
    path: &Path,
    input: &Input,
    records: &[Line],
    offset_ns: i64,
) -> Result<(), ImportError> {
    let out = File::create(path).map_err(|e| io_err(path, e))?;
    let mut w = BufWriter::new(GzEncoder::new(out, Compression::fast()));
    for r in records {
        let level = if input.workload && input.process == "err" {
            // The workload's error stream holds failed API calls and failed assertions.
            "error".to_string()
        } else {
            r.level.to_ascii_lowercase()
        };
        let mut obj = json!({
            "time": ns_to_dt(r.local_ns - offset_ns).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": level,
            "service": input.service,
            "instance": input.process,
            "logger": r.logger,
            "msg": r.message,
        });
        if let Some(pid) = r.pid {
            obj["pid"] = json!(pid);
        }
        writeln!(w, "{obj}").map_err(|e| io_err(path, e))?;
    }
    let enc = w.into_inner().map_err(|e| io_err(path, e.error()))?;
    enc.finish().map_err(|e| io_err(path, e))?;
    Ok(())
}

fn import_case(
    src: &Path,
    out: &Path,
    case: &Case,
    index: usize,
    references: &[&Case],
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let Run {
        inputs,
        parsed,
        epoch,
        offset_ns,
    } = read_run(src, case, summary)?;
    let bundle_id = match epoch {
        Some(e) => format!("openstack-{e}"),
        None => format!("openstack-case-{index:03}"),
    };
    let dir = out.join(&bundle_id);
    let logs = dir.join("logs");

    let mut span: Option<(i64, i64)> = None;
    let mut symptom: Option<i64> = None;
    for (input, recs) in inputs.iter().zip(&parsed) {
        for r in recs {
            let ns = r.local_ns - offset_ns;
            span = Some(match span {
                Some((a, b)) => (a.min(ns), b.max(ns)),
                None => (ns, ns),
            });
            if input.workload && input.process == "err" {
                symptom = Some(symptom.map_or(ns, |s: i64| s.min(ns)));
            }
        }
    }
    let (first_ns, last_ns) = span.ok_or_else(|| io_err(&dir, "the case has no log records"))?;
    let sec = 1_000_000_000i64;
    let min_start = first_ns + MIN_BASELINE_SECS * sec;
    let start_ns = match symptom {
        Some(s) => (s - LOOKBACK_SECS * sec).max(min_start),
        None => (first_ns + (last_ns - first_ns) / 2).max(min_start),
    };
    // Some tests stop logging as the failure is reported; keep the symptom inside the window.
    let end_ns = last_ns.max(symptom.unwrap_or(last_ns)).max(start_ns) + sec;

    for (input, recs) in inputs.iter().zip(&parsed) {
        let sub = logs.join(&input.service);
        std::fs::create_dir_all(&sub).map_err(|e| io_err(&sub, e))?;
        let path = sub.join(format!("{}.jsonl.gz", input.process));
        write_records(&path, input, recs, offset_ns)?;
        summary.records += recs.len() as u64;
    }

    let start = ns_to_dt(start_ns);
    let mut baseline_windows = Vec::new();
    if first_ns < start_ns {
        baseline_windows.push(TimeWindow {
            start: ns_to_dt(first_ns),
            end: start,
        });
    }
    // The nearest known-good run that did not run at the same time joins the baseline: the
    // same workload steps, so a step that merely did not run before the window no longer looks
    // new.
    for reference in references.iter().take(MAX_REFERENCE_TRIES) {
        let run = read_run(src, reference, &mut ImportSummary::default())?;
        let Some((a, b)) = run
            .inputs
            .iter()
            .zip(&run.parsed)
            .flat_map(|(_, recs)| recs.iter().map(|r| r.local_ns - run.offset_ns))
            .fold(None, |span: Option<(i64, i64)>, ns| {
                Some(span.map_or((ns, ns), |(a, b)| (a.min(ns), b.max(ns))))
            })
        else {
            continue;
        };
        if !(b < first_ns || a > end_ns) {
            continue;
        }
        for (input, recs) in run.inputs.iter().zip(&run.parsed) {
            let sub = logs.join(&input.service);
            std::fs::create_dir_all(&sub).map_err(|e| io_err(&sub, e))?;
            let path = sub.join(format!("{}.reference.jsonl.gz", input.process));
            write_records(&path, input, recs, run.offset_ns)?;
            summary.records += recs.len() as u64;
        }
        baseline_windows.push(TimeWindow {
            start: ns_to_dt(a),
            end: ns_to_dt(b + sec),
        });
        break;
    }
    let incident = Incident {
        id: bundle_id.clone(),
        title: format!(
            "OpenStack anomaly at {}",
            start.format("%Y-%m-%d %H:%M:%SZ")
        ),
        description: "Anomaly reported on the OpenStack deployment; cause unknown.".into(),
        start,
        end: Some(ns_to_dt(end_ns)),
        services: vec![],
        alert: None,
        baseline_windows,
    };
    write_json(
        &dir.join("incident.json"),
        &serde_json::to_value(&incident).map_err(|e| io_err(&dir, e))?,
    )?;
    let truth = json!({
        "source": "openstack_fault_injection",
        "case_id": case.case_id,
        "test": case.test,
        "no_fault": !case.failure_round_1,
        "root_cause_service": case.injected_subsystem,
        "root_cause_module": case.root_cause_module,
        "root_cause_component": case.root_cause_component,
        "root_cause_class": case.root_cause_class,
        "root_cause_function": case.root_cause_function,
        "fault_type": case.fault_type,
        "fault_type_rootline": rootline_fault_types(&case.fault_type),
        "assertion": case.assertion_round_1,
        "api_error": case.api_error_round_1,
        "first_symptom": symptom.map(|s| ns_to_dt(s).to_rfc3339()),
    });
    write_json(&dir.join("truth.json"), &truth)?;
    write_json(&dir.join("topology.json"), &workload_topology())?;
    std::fs::write(dir.join("ATTRIBUTION.md"), ATTRIBUTION).map_err(|e| io_err(&dir, e))?;
    summary.bundles.push(dir.display().to_string());
    Ok(())
}

const ATTRIBUTION: &str = "\
Derived from dessertlab/Fault-Injection-Dataset (commit f16a73f), GNU AGPL-3.0.
Cotroneo, De Simone, Liguori, Natella, Bidokhti, \"How Bad Can a Bug Get? An Empirical Analysis
of Software Failures in the OpenStack Cloud Computing Platform\", ESEC/FSE 2019.
Internal evaluation only: do not commit or redistribute without AGPL terms.
";

fn ns_to_dt(ns: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(ns)
}

/// What the test harness is: the workload is a client of every service's API and only observes
/// (a probe), so its failed calls and assertions are its callees' symptoms. Nothing is declared
/// between the services: which of them calls which is what the engine must find out.
fn workload_topology() -> serde_json::Value {
    let mut topology = rootline_core::observation::Topology::default();
    topology.probes.insert(WORKLOAD_SERVICE.to_string());
    for service in SERVICE_DIRS {
        topology.add_call(WORKLOAD_SERVICE, service);
    }
    serde_json::to_value(topology).expect("a topology serialises")
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ImportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io_err(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_oslo_and_workload_lines() {
        let l = parse_line("2018-06-30 02:57:08.635 29667 DEBUG nova.compute.manager [req-6cd5 - - - - -] CONF.reclaim_instance_interval <= 0, skipping...").unwrap();
        assert_eq!(l.level, "DEBUG");
        assert_eq!(l.logger, "nova.compute.manager");
        assert_eq!(l.pid, Some(29667));
        assert!(l.message.starts_with("[req-6cd5"));
        let w = parse_line(
            "2018-06-30 03:07:01.932460 INFO [sample_workload.sh]: Assertion results: FAILURE_SSH",
        )
        .unwrap();
        assert_eq!(w.logger, "sample_workload.sh");
        assert_eq!(w.message, "Assertion results: FAILURE_SSH");
        assert!(parse_line("| Field | Value |").is_none());
        assert!(parse_line("  <uuid>83a9</uuid>").is_none());
    }

    /// The records `lines` of a log file make, continuations joined.
    fn read_lines(lines: &[String]) -> Vec<Line> {
        let mut records = Vec::new();
        let mut summary = ImportSummary::default();
        for l in lines {
            push_line(&mut records, l, &mut summary);
        }
        records
    }

    #[test]
    fn an_oslo_traceback_becomes_one_record_with_its_header() {
        let head = "2018-09-13 19:43:56.829 8665 ERROR nova.compute.manager";
        let inst = "[instance: 347a6ced-a6e2-4c95-80c6-f004e5ce6c82]";
        let lines = [
            format!("{head} [req-d6d1 5050 e20e - 43b6 43b6] {inst} Instance failed to spawn: NovaException: Unsupported VIF type"),
            format!("{head} {inst} Traceback (most recent call last):"),
            format!(r#"{head} {inst}   File "/usr/lib/python2.7/site-packages/nova/network/os_vif_util.py", line 486, in nova_to_osvif_vif"#),
            format!("{head} {inst}     {{'type': vif['type'], 'func': funcname}})"),
            format!("{head} {inst} NovaException: Unsupported VIF type unbound"),
            format!("{head} {inst} "),
            // The same process, logger and millisecond, but a new call: its own request context.
            format!("{head} [req-aaaa - - - - -] Another failure"),
            // Same call shape a millisecond later: a new record.
            "2018-09-13 19:43:56.830 8665 ERROR nova.compute.manager [instance: x] Traceback (most recent call last):".to_string(),
            // Another process at the same instant is never joined.
            "2018-09-13 19:43:56.830 8666 ERROR nova.compute.manager   File \"a.py\", line 1, in f".to_string(),
            // A warning that carries a traceback: oslo writes the traceback lines as ERROR.
            "2018-09-13 19:43:57.000 8665 WARNING cinder.volume.manager [req-cccc - - - - -] Task failed".to_string(),
            "2018-09-13 19:43:57.000 8665 ERROR cinder.volume.manager Traceback (most recent call last):".to_string(),
            "2018-09-13 19:43:57.000 8665 ERROR cinder.volume.manager ValueError: x".to_string(),
        ];
        let records = read_lines(&lines);
        assert_eq!(
            records.len(),
            5,
            "{:?}",
            records.iter().map(|r| &r.message).collect::<Vec<_>>()
        );
        let joined = &records[0].message;
        assert!(joined.contains("Unsupported VIF type\nTraceback (most recent call last):\n  File \"/usr/lib/python2.7/site-packages/nova/network/os_vif_util.py\""), "{joined}");
        assert!(
            joined.contains("\nNovaException: Unsupported VIF type unbound"),
            "{joined}"
        );
        assert_eq!(
            joined.matches("[instance: 347a").count(),
            1,
            "only the header keeps the tag: {joined}"
        );
        assert_eq!(
            rootline_core::frames::stack_frame_modules(joined),
            ["nova.network.os_vif_util"]
        );
        assert_eq!(records[1].message, "[req-aaaa - - - - -] Another failure");
        assert_eq!(records[3].pid, Some(8666));
        assert_eq!(records[4].level, "WARNING");
        assert_eq!(
            records[4].message,
            "[req-cccc - - - - -] Task failed\nTraceback (most recent call last):\nValueError: x"
        );
    }

    #[test]
    fn a_traceback_after_a_long_state_dump_is_still_joined() {
        // taskflow logs a failed task with every predecessor's arguments (tens of KB) before
        // oslo writes the traceback: the frames must still reach the record, and none of the
        // traceback's lines may become records of their own.
        let head = "2018-09-28 23:07:53.730 29147";
        let mut lines = vec![format!(
            "{head} WARNING cinder.volume.manager [req-240d - - - - -] Task 'create' transitioned into state 'FAILURE'"
        )];
        for i in 0..40 {
            lines.push(format!(
                "  |__Atom 'task{i}' {}",
                "{'requires': ...}".repeat(20)
            ));
        }
        let frame = |module: &str| {
            format!(
                r#"{head} ERROR cinder.volume.manager   File "/usr/lib/python2.7/site-packages/{module}.py", line 1, in f"#
            )
        };
        lines.push(format!(
            "{head} ERROR cinder.volume.manager Traceback (most recent call last):"
        ));
        for _ in 0..3 {
            lines.push(frame("taskflow/engines/action_engine/executor"));
            lines.push(format!(
                "{head} ERROR cinder.volume.manager     result = task.execute()"
            ));
        }
        lines.push(frame("cinder/volume/flows/manager/create_volume"));
        lines.push(format!(
            "{head} ERROR cinder.volume.manager ImageCopyFailure: Failed to copy image to volume"
        ));
        let records = read_lines(&lines);
        assert_eq!(
            records.len(),
            1,
            "{:?}",
            records.iter().map(|r| r.message.len()).collect::<Vec<_>>()
        );
        let message = &records[0].message;
        assert!(
            message.len() <= MAX_MESSAGE_BYTES + 1024,
            "{}",
            message.len()
        );
        assert!(
            message.contains(" …[cut]\nTraceback (most recent call last):"),
            "{message}"
        );
        assert_eq!(
            rootline_core::frames::stack_frame_modules(message),
            [
                "cinder.volume.flows.manager.create_volume",
                "taskflow.engines.action_engine.executor"
            ]
        );
    }

    fn case(id: &str, epoch: i64, failed: bool) -> (usize, Case) {
        let wl = format!("cases/{id}/round_1/foreground_wl/openstack_demo_workload-{epoch}");
        let mut files = vec![format!("{wl}.out.log.gz")];
        if failed {
            files.push(format!("{wl}.err.log.gz"));
        }
        let case = Case {
            case_id: id.into(),
            injected_subsystem: "nova".into(),
            test: id.into(),
            fault_type: String::new(),
            root_cause_component: None,
            root_cause_module: None,
            root_cause_class: None,
            root_cause_function: None,
            failure_round_1: failed,
            assertion_round_1: None,
            api_error_round_1: None,
            files,
        };
        (0, case)
    }

    #[test]
    fn reference_run_is_the_nearest_run_that_passed() {
        let cases = vec![
            case("a", 1_000, true),
            case("b", 1_500, false),
            case("c", 5_000, true),
            case("d", 4_000, false),
            case("e", 9_000, false),
        ];
        assert_eq!(reference_runs(&cases, 0), [1, 3, 4]);
        assert_eq!(reference_runs(&cases, 2), [3, 1, 4]);
        // A passing run is never its own reference.
        assert_eq!(reference_runs(&cases, 4), [3, 1]);
        assert!(reference_runs(&cases[..1], 0).is_empty());
    }

    #[test]
    fn fault_type_mapping() {
        assert_eq!(
            rootline_fault_types("OPENSTACK_THROW_EXCEPTION-VOLUME"),
            vec!["exception"]
        );
        assert_eq!(
            rootline_fault_types("OPENSTACK_WRONG_RETURN_VALUE-IMAGE"),
            vec!["wrong_return_value"]
        );
        assert!(rootline_fault_types("OPENSTACK_MISSING_PARAMETERS-VOLUME").is_empty());
    }
}
