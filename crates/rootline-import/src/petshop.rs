//! PetShop RCA (amazon-science/petshop-root-cause-analysis, CC-BY-4.0; Hardt et al., CLeaR 2024):
//! metrics-only incidents on AWS's PetAdoptions demo, with a call graph and a fault-free period.
//!
//! Why this importer: it is the one dataset here with no logs and no traces, only CloudWatch /
//! X-Ray service-map metrics in 5-minute buckets, and whose held-back test split names other
//! root causes than its train split. It tests whether the metric signal and the call graph alone
//! localise a fault.
//!
//! Input: every *scenario* folder under `src` (any directory holding `graph.csv`, `src` itself
//! included) with
//! - `graph.csv`: an adjacency matrix, row node calls column node (non-zero = edge);
//! - `noissue/metrics.csv[.gz]`: the fault-free period; a wide CSV with three header rows
//!   (`microservice` = node, `metric` = latency / requests / availability, `statistic` =
//!   Average, p50, p90, p95, p99, Sum), an index-name row (`unix_timestamp`, no values) and one
//!   row per 5-minute bucket, unix seconds in the first column;
//! - `train/issue_N/` and `test/issue_N/`: `metrics.csv` (a ~25-minute clip, same layout) and
//!   `target.json` (`target` = the symptom that was noticed, `root_cause`, `metadata`).
//!
//! Output, one bundle per issue (`<scenario>-<split>-<issue>`):
//! - `metrics/issue.prom.gz` (the clip) and `metrics/noissue.prom.gz` (the last
//!   [`BASELINE_ROWS`] buckets of the fault-free period): Prometheus text, one sample per
//!   non-empty cell, `<metric>_<statistic>{instance="<node>",service="<service>"} <value> <unix s>`
//!   (`latency_p90`, `requests_sum`, `availability_average`, ...). Values are kept as recorded:
//!   latency in seconds, availability in percent (100 = every request succeeded). Empty and NaN
//!   cells are skipped and counted (`skipped_values`).
//! - `incident.json`: the window opens [`BEFORE_SECS`] before the moment the symptom was noticed
//!   and ends [`AFTER_SECS`] after it, clipped to the clip's buckets; the title, the description,
//!   `services` and `alert` name the symptom (node, metric, statistic, time) and nothing else.
//!   The baseline window is the fault-free period written to `metrics/` (recorded months after
//!   the issues, so it never overlaps the window).
//! - `topology.json`: `calls` from `graph.csv` between services (self edges dropped), `services`
//!   mapping every node of the graph and of the metric headers to its service.
//! - `logs/` (empty: an investigation needs the folder), `ATTRIBUTION.md`.
//! - `truth.json`: the root-cause node and its service, the injection command
//!   (`metadata.reproducibility.command`, which names the culprit) and the whole `target.json`
//!   metadata. Nothing else reads `root_cause` or `metadata`.
//!
//! Services: an X-Ray node `X_T`, where `T` is an X-Ray type (`AWS::ECS::Fargate`,
//! `AWS::Lambda::Function`, `Database::SQL`, ...), is the logical service `X` ([`service_of`]);
//! the three nodes of one Lambda (`f`, `f_AWS::Lambda`, `f_AWS::Lambda::Function`) are one
//! service, and their series stay apart by the `instance` label. `*_client` and `*_remote` nodes
//! (a caller's view of a dependency: external clients of a service, a call to an uninstrumented
//! endpoint) keep their own name as their service; the graph's edges place them next to the
//! service they observe (`PetSearch_client` → `PetSearch`, `PetSite` →
//! `servi-searc…_remote`), so the caller discount can tell their symptoms from the callee's
//! fault, and `topology.json` lists them as `views` (known only through their callers' side).
//! No rule here names a particular node.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rootline_core::observation::Topology;
use rootline_core::{Incident, TimeWindow};
use serde_json::{Value, json};

use crate::{ImportError, ImportSummary, io_err};

/// Dataset name in `truth.json`.
pub const SOURCE: &str = "petshop_rca";
/// Buckets of the fault-free period kept per bundle (12 hours of 5-minute buckets).
pub const BASELINE_ROWS: usize = 144;
/// The width of one bucket: a row's timestamp is its bucket's start.
pub const BUCKET_SECS: i64 = 300;
/// The window opens this long before the symptom was noticed...
pub const BEFORE_SECS: i64 = 15 * 60;
/// ...and ends this long after it (both clipped to the clip's buckets).
pub const AFTER_SECS: i64 = 10 * 60;

/// Split folders of a scenario that hold issues.
const SPLITS: &[&str] = &["train", "test"];
/// Scenario folders are searched this deep under `src`.
const MAX_DEPTH: usize = 3;

/// Imports every issue of every scenario under `src` (or only `only_case`, a bundle id such as
/// `high_traffic-train-issue_3`) into `out/<bundle id>/`.
pub fn import(
    src: &Path,
    out: &Path,
    only_case: Option<&str>,
) -> Result<ImportSummary, ImportError> {
    let mut scenarios = Vec::new();
    find_scenarios(src, 0, &mut scenarios)?;
    scenarios.sort();
    if scenarios.is_empty() {
        return Err(io_err(src, "no scenario folder (one holding graph.csv)"));
    }
    let mut summary = ImportSummary::default();
    let mut found = false;
    for dir in &scenarios {
        let name = scenario_name(src, dir);
        let issues = issue_dirs(dir)?;
        let ids: Vec<String> = issues
            .iter()
            .map(|(split, issue, _)| format!("{name}-{split}-{issue}"))
            .collect();
        if only_case.is_some_and(|c| !ids.iter().any(|id| id == c)) {
            continue;
        }
        found |= !issues.is_empty();
        let scenario = Scenario::read(dir, &name, &mut summary)?;
        for ((split, _, issue_dir), id) in issues.iter().zip(&ids) {
            if only_case.is_some_and(|c| c != id) {
                continue;
            }
            import_issue(&scenario, split, issue_dir, id, out, &mut summary)?;
        }
    }
    match only_case {
        Some(c) if !found => Err(ImportError::NoSuchCase(c.to_string())),
        _ => Ok(summary),
    }
}

/// The logical service of an X-Ray node: `X` for `X_T` when `T` is an X-Ray type (words joined
/// by `::`, such as `AWS::ECS::Fargate`), else the node itself (`PetSite`, `PetSearch_client`,
/// `AWS::StepFunctions::StateMachine`).
pub fn service_of(node: &str) -> String {
    let is_type = |t: &str| {
        t.contains("::")
            && t.split("::")
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric()))
    };
    node.match_indices('_')
        .map(|(i, _)| i)
        .find(|&i| i > 0 && is_type(&node[i + 1..]))
        .map_or_else(|| node.to_string(), |i| node[..i].to_string())
}

/// A metric name from the CloudWatch metric and statistic: `latency` + `p90` → `latency_p90`.
pub fn metric_name(metric: &str, statistic: &str) -> String {
    let clean = |s: &str| -> String {
        s.trim()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = format!("{}_{}", clean(metric), clean(statistic));
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("m_{name}")
    } else {
        name
    }
}

fn find_scenarios(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    if dir.join("graph.csv").is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let path = entry.map_err(|e| io_err(dir, e))?.path();
        if path.is_dir() {
            find_scenarios(&path, depth + 1, out)?;
        }
    }
    Ok(())
}

/// `high_traffic` for `src/high_traffic`, `a-b` for `src/a/b`, the folder's own name for `src`.
fn scenario_name(src: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(src).unwrap_or(dir);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        dir.file_name().map_or_else(
            || "petshop".to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    } else {
        parts.join("-")
    }
}

/// `(split, issue folder name, path)` of every issue folder (one with a `target.json`), sorted.
fn issue_dirs(scenario: &Path) -> Result<Vec<(String, String, PathBuf)>, ImportError> {
    let mut issues = Vec::new();
    for split in SPLITS {
        let dir = scenario.join(split);
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))? {
            let path = entry.map_err(|e| io_err(&dir, e))?.path();
            if path.join("target.json").is_file() {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                issues.push((split.to_string(), name, path));
            }
        }
    }
    // issue_2 before issue_10.
    issues.sort_by(|a, b| (&a.0, natural_key(&a.1), &a.1).cmp(&(&b.0, natural_key(&b.1), &b.1)));
    Ok(issues)
}

fn natural_key(name: &str) -> (String, u64) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, number) = name.split_at(name.len() - digits);
    (stem.to_string(), number.parse().unwrap_or(0))
}

/// One series of a wide file: its node and CloudWatch metric and statistic.
#[derive(Debug, Clone, PartialEq)]
struct Column {
    node: String,
    metric: String,
    statistic: String,
}

/// A wide metrics file: its columns and its rows (bucket start in unix seconds, one cell per
/// column, as written).
#[derive(Debug, Default)]
struct Table {
    columns: Vec<Column>,
    rows: Vec<(i64, Vec<String>)>,
}

impl Table {
    /// The buckets' span `[first start, last start + bucket)` in unix seconds.
    fn span(&self) -> Option<(i64, i64)> {
        let first = self.rows.first()?.0;
        let last = self.rows.last()?.0;
        Some((first, last + BUCKET_SECS))
    }

    fn nodes(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.node.as_str())
    }
}

/// Opens a file that may be gzip-compressed (told by its first bytes, not its name).
fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>, ImportError> {
    let mut file = BufReader::new(File::open(path).map_err(|e| io_err(path, e))?);
    let gz = file
        .fill_buf()
        .map_err(|e| io_err(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// `dir/metrics.csv`, or `dir/metrics.csv.gz` when only that exists.
fn metrics_file(dir: &Path) -> Option<PathBuf> {
    ["metrics.csv", "metrics.csv.gz"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads a wide metrics file (see the module doc). Rows whose first cell is not a time are
/// skipped: silently when they hold no value (the index-name row), else counted.
fn read_wide(path: &Path, summary: &mut ImportSummary) -> Result<Table, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(open_maybe_gz(path)?);
    let bad = |line: u64, message: String| ImportError::Bad {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut records = reader.records();
    let mut header = Vec::new();
    for (i, expected) in ["microservice", "metric", "statistic"].iter().enumerate() {
        let row = records
            .next()
            .ok_or_else(|| bad(i as u64 + 1, "missing header row".into()))?
            .map_err(|e| bad(i as u64 + 1, e.to_string()))?;
        let first = row.get(0).unwrap_or("").trim();
        if !first.eq_ignore_ascii_case(expected) {
            return Err(bad(
                i as u64 + 1,
                format!(
                    "header row {} should start with {expected:?}, not {first:?}",
                    i + 1
                ),
            ));
        }
        header.push(row);
    }
    let width = header.iter().map(csv::StringRecord::len).min().unwrap_or(0);
    let columns: Vec<Column> = (1..width)
        .map(|i| Column {
            node: header[0][i].trim().to_string(),
            metric: header[1][i].trim().to_string(),
            statistic: header[2][i].trim().to_string(),
        })
        .collect();
    let mut rows = Vec::new();
    for (i, row) in records.enumerate() {
        let line = i as u64 + 4;
        let row = row.map_err(|e| bad(line, e.to_string()))?;
        let time = row.get(0).unwrap_or("").trim();
        let Some(ts) = time
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t > 0.0)
        else {
            if row.iter().skip(1).any(|c| !c.trim().is_empty()) {
                summary.skipped_rows += 1;
            }
            continue;
        };
        let cells = (1..width)
            .map(|c| row.get(c).unwrap_or("").trim().to_string())
            .collect();
        rows.push((ts.round() as i64, cells));
    }
    rows.sort_by_key(|r| r.0);
    Ok(Table { columns, rows })
}

/// Caller → callee node pairs of an adjacency-matrix `graph.csv`.
fn read_graph(path: &Path) -> Result<Vec<(String, String)>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(open_maybe_gz(path)?);
    let mut records = reader.records();
    let header = match records.next() {
        Some(r) => r.map_err(|e| io_err(path, e))?,
        None => return Ok(Vec::new()),
    };
    let callees: Vec<String> = header
        .iter()
        .skip(1)
        .map(|s| s.trim().to_string())
        .collect();
    let mut edges = Vec::new();
    for row in records {
        let row = row.map_err(|e| io_err(path, e))?;
        let caller = row.get(0).unwrap_or("").trim();
        if caller.is_empty() {
            continue;
        }
        for (callee, cell) in callees.iter().zip(row.iter().skip(1)) {
            if cell.trim().parse::<f64>().is_ok_and(|v| v != 0.0) {
                edges.push((caller.to_string(), callee.clone()));
            }
        }
    }
    Ok(edges)
}

/// What every issue of one scenario shares.
struct Scenario {
    name: String,
    /// Caller → callee node pairs.
    edges: Vec<(String, String)>,
    /// The last [`BASELINE_ROWS`] buckets of the fault-free period (no rows when it is absent).
    noissue: Table,
}

impl Scenario {
    fn read(dir: &Path, name: &str, summary: &mut ImportSummary) -> Result<Scenario, ImportError> {
        let edges = read_graph(&dir.join("graph.csv"))?;
        let mut noissue = match metrics_file(&dir.join("noissue")) {
            Some(path) => read_wide(&path, summary)?,
            None => Table::default(),
        };
        let keep_from = noissue.rows.len().saturating_sub(BASELINE_ROWS);
        noissue.rows.drain(..keep_from);
        Ok(Scenario {
            name: name.to_string(),
            edges,
            noissue,
        })
    }
}

/// Whether an X-Ray node is a caller's view of a dependency rather than a service measured
/// from the inside: `*_remote` (an uninstrumented endpoint, inferred from its callers' client
/// calls) and `*_client` (a service's external clients, as X-Ray draws them).
pub fn is_view(node: &str) -> bool {
    node.ends_with("_remote") || node.ends_with("_client")
}

/// The declared topology: the graph's calls between services, every node's service, and the
/// nodes that are a caller's view of a dependency ([`is_view`]) as `views`.
fn topology<'a>(edges: &[(String, String)], nodes: impl Iterator<Item = &'a str>) -> Topology {
    let mut topology = Topology::default();
    for (caller, callee) in edges {
        let (from, to) = (service_of(caller), service_of(callee));
        if from != to {
            topology.add_call(&from, &to);
        }
        for node in [caller, callee] {
            topology.services.insert(node.clone(), service_of(node));
        }
    }
    for node in nodes.filter(|n| !n.is_empty()) {
        topology.services.insert(node.to_string(), service_of(node));
    }
    topology.views = topology
        .services
        .keys()
        .filter(|n| is_view(n))
        .cloned()
        .collect();
    topology
}

/// The symptom of `target.json`.
struct Symptom {
    node: String,
    metric: String,
    statistic: String,
    ts: i64,
}

fn symptom(target: &Value, path: &Path) -> Result<Symptom, ImportError> {
    let t = &target["target"];
    let text = |k: &str| t[k].as_str().unwrap_or("").trim().to_string();
    let ts = t["timestamp"]
        .as_f64()
        .or_else(|| t["timestamp"].as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|v| v.is_finite())
        .ok_or_else(|| io_err(path, "target.timestamp is missing or not a number"))?;
    let node = text("node");
    if node.is_empty() {
        return Err(io_err(path, "target.node is missing"));
    }
    Ok(Symptom {
        node,
        metric: text("metric"),
        statistic: text("agg"),
        ts: ts.round() as i64,
    })
}

/// The SSM parameter an injection command sets (`--name '/petstore/searchdelay'`), if any.
fn injected_parameter(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--name" {
            return words
                .next()
                .map(|n| n.trim_matches(|c| c == '\'' || c == '"').to_string());
        }
        if let Some(n) = w.strip_prefix("--name=") {
            return Some(n.trim_matches(|c| c == '\'' || c == '"').to_string());
        }
    }
    None
}

/// rootline fault types for an injected parameter, from generic words of its name.
fn fault_types(parameter: &str) -> Vec<&'static str> {
    let p = parameter.to_ascii_lowercase();
    if p.contains("delay") || p.contains("latency") || p.contains("slow") {
        vec!["latency"]
    } else if p.contains("error") || p.contains("fail") || p.contains("exception") {
        vec!["error_spike", "exception"]
    } else {
        vec![]
    }
}

fn import_issue(
    scenario: &Scenario,
    split: &str,
    dir: &Path,
    id: &str,
    out: &Path,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let target_path = dir.join("target.json");
    let target: Value = {
        let text = std::fs::read_to_string(&target_path).map_err(|e| io_err(&target_path, e))?;
        serde_json::from_str(&text).map_err(|e| io_err(&target_path, e))?
    };
    let symptom = symptom(&target, &target_path)?;
    let clip_path = metrics_file(dir).ok_or_else(|| io_err(dir, "no metrics.csv"))?;
    let clip = read_wide(&clip_path, summary)?;
    let (clip_start, clip_end) = clip
        .span()
        .ok_or_else(|| io_err(&clip_path, "no data rows"))?;
    let start = (symptom.ts - BEFORE_SECS).max(clip_start);
    let end = (symptom.ts + AFTER_SECS).min(clip_end);
    if end <= start {
        return Err(io_err(
            &clip_path,
            format!(
                "the clip's buckets ({clip_start}..{clip_end}) miss the symptom time {}",
                symptom.ts
            ),
        ));
    }

    let bundle = out.join(id);
    let metrics = bundle.join("metrics");
    let logs = bundle.join("logs");
    for d in [&metrics, &logs] {
        std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    let topology = topology(
        &scenario.edges,
        clip.nodes().chain(scenario.noissue.nodes()),
    );
    let about = format!(
        "PetShop {} scenario: CloudWatch service-map metrics, 5-minute buckets",
        scenario.name
    );
    write_prom(
        &metrics.join("issue.prom.gz"),
        &clip,
        &format!("{about}; the issue's clip"),
        summary,
    )?;
    let mut baseline_windows = Vec::new();
    if let Some((b_start, b_end)) = scenario.noissue.span() {
        write_prom(
            &metrics.join("noissue.prom.gz"),
            &scenario.noissue,
            &format!("{about}; the last buckets of a fault-free period"),
            summary,
        )?;
        baseline_windows.push(TimeWindow {
            start: secs_to_dt(b_start),
            end: secs_to_dt(b_end),
        });
    }

    let service = service_of(&symptom.node);
    let series = metric_name(&symptom.metric, &symptom.statistic);
    let noticed = secs_to_dt(symptom.ts);
    let incident = Incident {
        id: id.to_string(),
        title: format!(
            "{} {} ({}) anomaly noticed at {}",
            symptom.node,
            symptom.metric,
            symptom.statistic,
            noticed.format("%Y-%m-%d %H:%M:%SZ")
        ),
        description: format!(
            "The {} ({}) of {} was noticed to be abnormal at {} in the PetShop (AWS \
             PetAdoptions) {} scenario; cause unknown. Only CloudWatch service-map metrics in \
             5-minute buckets are available (series {series}); the baseline is a fault-free \
             period of the same system.",
            symptom.metric,
            symptom.statistic,
            symptom.node,
            noticed.to_rfc3339(),
            scenario.name,
        ),
        start: secs_to_dt(start),
        end: Some(secs_to_dt(end)),
        services: vec![service.clone()],
        alert: Some(json!({
            "node": symptom.node,
            "service": service,
            "metric": symptom.metric,
            "statistic": symptom.statistic,
            "series": series,
            "time": noticed.to_rfc3339(),
        })),
        baseline_windows,
    };
    write_json(
        &bundle.join("incident.json"),
        &serde_json::to_value(&incident).map_err(|e| io_err(&bundle, e))?,
    )?;
    write_json(
        &bundle.join("topology.json"),
        &serde_json::to_value(&topology).map_err(|e| io_err(&bundle, e))?,
    )?;

    // Ground truth: only here.
    let root_node = target["root_cause"]["node"]
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let command = target["metadata"]["reproducibility"]["command"].as_str();
    let parameter = command.and_then(injected_parameter);
    let truth = json!({
        "source": SOURCE,
        "case_id": format!("{}/{split}/{}", scenario.name, dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()),
        "scenario": scenario.name,
        "split": split,
        "root_cause_service": root_node.map(service_of),
        "root_cause_node": root_node,
        "root_cause_metric": target["root_cause"]["metric"],
        "injection_command": command,
        "fault_type": parameter,
        "fault_type_rootline": parameter.as_deref().map(fault_types).unwrap_or_default(),
        "symptom": target["target"],
        "metadata": target["metadata"],
        "entity_services": topology.services,
        "no_fault": false,
    });
    write_json(&bundle.join("truth.json"), &truth)?;
    std::fs::write(bundle.join("ATTRIBUTION.md"), ATTRIBUTION).map_err(|e| io_err(&bundle, e))?;
    summary.bundles.push(bundle.display().to_string());
    Ok(())
}

/// Writes a table as gzip Prometheus text (see the module doc); returns nothing, counts points
/// in `summary.records` and empty or non-numeric cells in `summary.skipped_values`.
fn write_prom(
    path: &Path,
    table: &Table,
    about: &str,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let names: Vec<String> = table
        .columns
        .iter()
        .map(|c| metric_name(&c.metric, &c.statistic))
        .collect();
    let labels: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            format!(
                "{{instance=\"{}\",service=\"{}\"}}",
                escape(&c.node),
                escape(&service_of(&c.node))
            )
        })
        .collect();
    let file = File::create(path).map_err(|e| io_err(path, e))?;
    let mut w = BufWriter::new(GzEncoder::new(file, Compression::new(6)));
    let err = |e: std::io::Error| io_err(path, e);
    writeln!(w, "# {about}").map_err(err)?;
    writeln!(
        w,
        "# instance = the X-Ray node, service = its logical service; timestamps in unix seconds"
    )
    .map_err(err)?;
    for (ts, cells) in &table.rows {
        for (i, cell) in cells.iter().enumerate() {
            let ok = cell.parse::<f64>().is_ok_and(f64::is_finite);
            if !ok || table.columns[i].node.is_empty() {
                summary.skipped_values += 1;
                continue;
            }
            writeln!(w, "{}{} {cell} {ts}", names[i], labels[i]).map_err(err)?;
            summary.records += 1;
        }
    }
    let enc = w.into_inner().map_err(|e| io_err(path, e.error()))?;
    enc.finish().map_err(err)?;
    Ok(())
}

/// A Prometheus label value: `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn secs_to_dt(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn write_json(path: &Path, value: &Value) -> Result<(), ImportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io_err(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| io_err(path, e))
}

const ATTRIBUTION: &str = "\
Derived from the PetShop dataset: amazon-science/petshop-root-cause-analysis
(https://github.com/amazon-science/petshop-root-cause-analysis, snapshot commit
1c5992dc46a02c988a027e2219036d59e8158a91, path `dataset/`).

Licence: CC-BY-4.0 (https://creativecommons.org/licenses/by/4.0/).

Authors: Hardt, Orchard, Blöbaum, Kasiviswanathan, Kirschbaum. \"The PetShop Dataset — Finding
Causes of Performance Issues across Microservices\", CLeaR 2024, arXiv:2311.04806.

Changes: the issue clip and the last 12 hours of the fault-free period converted from wide CSV
to Prometheus text (one sample per non-empty cell, metric = CloudWatch metric and statistic,
labels = X-Ray node and its logical service); the call graph converted to rootline's
topology.json; the symptom written as an incident; the ground truth moved to truth.json.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_map_to_services() {
        assert_eq!(service_of("PetSearch_AWS::ECS::Fargate"), "PetSearch");
        assert_eq!(
            service_of("lambda_step_readDDB_AWS::Lambda::Function"),
            "lambda_step_readDDB"
        );
        assert_eq!(
            service_of("lambda_step_readDDB_AWS::Lambda"),
            "lambda_step_readDDB"
        );
        assert_eq!(service_of("lambda_step_readDDB"), "lambda_step_readDDB");
        assert_eq!(
            service_of("adoptions@db.example.com_Database::SQL"),
            "adoptions@db.example.com"
        );
        assert_eq!(
            service_of("https://sqs.example.com/q_AWS::SQS::Queue"),
            "https://sqs.example.com/q"
        );
        // No name before the type, or no type: the node itself.
        assert_eq!(
            service_of("AWS::StepFunctions::StateMachine"),
            "AWS::StepFunctions::StateMachine"
        );
        assert_eq!(service_of("PetSite"), "PetSite");
        assert_eq!(service_of("PetSearch_client"), "PetSearch_client");
        assert_eq!(service_of("PGSQL Query_remote"), "PGSQL Query_remote");
        assert_eq!(
            service_of("servi-searc.us-west-2.elb.amazonaws.com_remote"),
            "servi-searc.us-west-2.elb.amazonaws.com_remote"
        );
    }

    #[test]
    fn metric_names_keep_the_cloudwatch_meaning() {
        assert_eq!(metric_name("latency", "p90"), "latency_p90");
        assert_eq!(metric_name("latency", "Average"), "latency_average");
        assert_eq!(metric_name("requests", "Sum"), "requests_sum");
        assert_eq!(
            metric_name("availability", "Average"),
            "availability_average"
        );
    }

    #[test]
    fn wide_file_and_graph() {
        let dir = tempfile::tempdir().unwrap();
        let wide = dir.path().join("metrics.csv");
        std::fs::write(
            &wide,
            "microservice,A_AWS::ECS::Fargate,A_client,B\n\
             metric,latency,latency,requests\n\
             statistic,p90,Average,Sum\n\
             unix_timestamp,,,\n\
             1681391700.0,0.5,,3.0\n\
             1681391400.0,0.25,nan,2.0\n\
             oops,1,2,3\n",
        )
        .unwrap();
        let mut summary = ImportSummary::default();
        let table = read_wide(&wide, &mut summary).unwrap();
        assert_eq!(table.columns.len(), 3);
        assert_eq!(table.columns[0].node, "A_AWS::ECS::Fargate");
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[0].0, 1681391400, "rows are sorted by time");
        assert_eq!(table.span(), Some((1681391400, 1681392000)));
        assert_eq!(
            summary.skipped_rows, 1,
            "the bad row, not the index-name row"
        );

        let prom = dir.path().join("m.prom.gz");
        write_prom(&prom, &table, "test", &mut summary).unwrap();
        assert_eq!(summary.records, 4);
        assert_eq!(summary.skipped_values, 2);
        let mut text = String::new();
        MultiGzDecoder::new(File::open(&prom).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert!(
            text.contains(
                "latency_p90{instance=\"A_AWS::ECS::Fargate\",service=\"A\"} 0.25 1681391400\n"
            ),
            "{text}"
        );
        assert!(text.contains("requests_sum{instance=\"B\",service=\"B\"} 3.0 1681391700\n"));

        let graph = dir.path().join("graph.csv");
        std::fs::write(
            &graph,
            ",A_AWS::ECS::Fargate,A_client,B,B_AWS::Lambda\n\
             A_AWS::ECS::Fargate,0.0,0.0,1.0,0.0\n\
             A_client,1.0,0.0,0.0,0.0\n\
             B,0.0,0.0,0.0,0.0\n\
             B_AWS::Lambda,0.0,0.0,1.0,0.0\n",
        )
        .unwrap();
        let edges = read_graph(&graph).unwrap();
        assert_eq!(edges.len(), 3);
        let t = topology(&edges, table.nodes());
        let calls: Vec<(&str, Vec<&str>)> = t
            .calls
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect();
        // B_AWS::Lambda → B is a self edge of service B and is dropped.
        assert_eq!(calls, vec![("A", vec!["B"]), ("A_client", vec!["A"])]);
        assert_eq!(t.services["A_AWS::ECS::Fargate"], "A");
        assert_eq!(t.services["B_AWS::Lambda"], "B");
        assert_eq!(t.services["A_client"], "A_client");
        assert_eq!(t.views.iter().collect::<Vec<_>>(), vec!["A_client"]);
    }

    #[test]
    fn injection_parameters_and_fault_types() {
        let cmd = "aws ssm put-parameter --name '/petstore/searchdelay' --value '1000' --overwrite";
        let p = injected_parameter(cmd).unwrap();
        assert_eq!(p, "/petstore/searchdelay");
        assert_eq!(fault_types(&p), vec!["latency"]);
        assert_eq!(
            fault_types("/petstore/searcherrorpercent"),
            vec!["error_spike", "exception"]
        );
        assert!(fault_types("/petstore/other").is_empty());
        assert_eq!(injected_parameter("restart x"), None);
    }

    #[test]
    fn issues_sort_naturally() {
        let mut v = vec!["issue_10", "issue_2", "issue_1"];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, vec!["issue_1", "issue_2", "issue_10"]);
    }
}
