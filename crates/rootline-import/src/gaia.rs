//! GAIA MicroSS and OpenRCA Online Boutique fault alerts (boerste/rca-llm-reasoning, MIT):
//! per-fault metric, trace and log *alerts* already extracted upstream, plus a topology graph.
//!
//! Inputs per fault: its alerts as JSON-lines events, one file per modality under `logs/`
//! (`time`, `service` = the alerting entity as the dataset names it: instance, pod, node or
//! service; `level` = error for failed calls (HTTP 4xx/5xx) and for log lines logged at error,
//! warn for every other alert; `msg` = the alert text). The system's `*-KG.json` knowledge graph
//! becomes the bundle's `topology.json` in rootline's own format ([`Topology`]): `control_flow`
//! and `data_flow` edges are calls, `instance_of` gives each instance or pod its service,
//! `hosted_on` its host. `label.csv` (entity, type and, for GAIA, the injection record) goes to
//! `truth.json` only.
//!
//! Windows: the incident window is the span of the fault's own alerts. Upstream extracted alerts
//! only inside fault windows, so there is no quiet period to compare with; the baseline is the
//! alerts of up to [`BASELINE_FAULTS`] earlier faults of the same system whose windows end before
//! this one starts. They show which alerts fire in every window (chronic noise); they are other
//! incidents, so an entity that was at fault in one of them is disadvantaged (a known bias).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use rootline_core::observation::Topology;
use rootline_core::{Incident, Level, TimeWindow};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ImportError, ImportSummary, io_err};

/// Earlier faults whose alerts form a fault's baseline.
pub const BASELINE_FAULTS: usize = 3;

/// Date-time strings in these datasets (labels, log lines) are UTC+8.
const LOCAL_OFFSET_SECS: i64 = 8 * 3600;

/// A system folder and how its bundles and truth are named.
struct System {
    dir: &'static str,
    source: &'static str,
    prefix: &'static str,
    title: &'static str,
}

const SYSTEMS: &[System] = &[
    System {
        dir: "MicroSS",
        source: "gaia_micross",
        prefix: "gaia-micross",
        title: "MicroSS",
    },
    System {
        dir: "Online-Boutique-cloudbed-1",
        source: "openrca_online_boutique",
        prefix: "openrca-boutique",
        title: "Online Boutique",
    },
];

#[derive(Debug, Deserialize)]
struct Label {
    fault_id: String,
    #[serde(default)]
    fault_level: String,
    fault_entity: String,
    fault_type: String,
    fault_st_time: String,
    fault_ed_time: String,
    #[serde(default)]
    fault_message: Option<String>,
}

/// Maps a dataset fault label to the rootline fault types that describe it; labels with no
/// rootline equivalent (I/O load, disk space, login failure, file moving, process termination)
/// map to none and are not scored for fault type.
pub fn rootline_fault_types(label: &str) -> Vec<&'static str> {
    let l = label.to_ascii_lowercase();
    if l.contains("cpu") {
        vec!["cpu"]
    } else if l.contains("memory") {
        vec!["memory"]
    } else if l.contains("network") || l.contains("packet") {
        vec!["network_delay", "latency"]
    } else if l.contains("exception") {
        vec!["exception"]
    } else {
        vec![]
    }
}

/// Imports every fault of both systems under `src` (or only `only_case`, a bundle id such as
/// `gaia-micross-017`) into `out/<bundle id>/`.
pub fn import(
    src: &Path,
    out: &Path,
    only_case: Option<&str>,
) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary::default();
    let mut found = false;
    for system in SYSTEMS {
        let dir = src.join(system.dir);
        if !dir.is_dir() {
            continue;
        }
        found |= import_system(&dir, system, out, only_case, &mut summary)?;
    }
    match only_case {
        Some(c) if !found => Err(ImportError::NoSuchCase(c.to_string())),
        _ => Ok(summary),
    }
}

/// One alert turned into a JSON-lines event.
struct Event {
    ts_ns: i64,
    line: String,
}

/// A fault's alerts by modality, and their time span.
#[derive(Default)]
struct Alerts {
    by_kind: BTreeMap<&'static str, Vec<Event>>,
    span: Option<(i64, i64)>,
}

impl Alerts {
    fn push(&mut self, kind: &'static str, ts_ns: i64, value: Value) {
        self.span = Some(match self.span {
            Some((a, b)) => (a.min(ts_ns), b.max(ts_ns)),
            None => (ts_ns, ts_ns),
        });
        self.by_kind.entry(kind).or_default().push(Event {
            ts_ns,
            line: value.to_string(),
        });
    }
}

fn read_json(path: &Path) -> Result<Value, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| io_err(path, e))
}

fn ms_to_ns(v: &Value) -> Option<i64> {
    let ms = match v {
        Value::String(s) => s.parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    ms.checked_mul(1_000_000)
}

fn local_to_ns(s: &str) -> Option<i64> {
    let s = s.trim().replace(',', ".");
    let t = NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    t.and_utc()
        .timestamp_nanos_opt()?
        .checked_sub(LOCAL_OFFSET_SECS * 1_000_000_000)
}

fn rfc3339(ns: i64) -> String {
    ns_to_dt(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn str_at(row: &[Value], i: usize) -> Option<&str> {
    row.get(i).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Reads every alert of every fault of one system: fault id → alerts.
fn read_alerts(
    dir: &Path,
    summary: &mut ImportSummary,
) -> Result<BTreeMap<String, Alerts>, ImportError> {
    let mut all: BTreeMap<String, Alerts> = BTreeMap::new();
    // metric: [ts_ms, entity, host, metric, up|down]
    let path = dir.join("metric/metrics.json");
    if let Value::Object(faults) = read_json(&path)? {
        for (fid, rows) in faults {
            let alerts = all.entry(fid).or_default();
            for row in rows.as_array().into_iter().flatten() {
                let Some(row) = row.as_array() else { continue };
                let (Some(ts), Some(entity)) = (row.first().and_then(ms_to_ns), str_at(row, 1))
                else {
                    summary.skipped_rows += 1;
                    continue;
                };
                let metric = str_at(row, 3).unwrap_or("unknown");
                let dir = str_at(row, 4).unwrap_or("changed");
                let mut v = json!({
                    "time": rfc3339(ts),
                    "level": "warn",
                    "service": entity,
                    "alert": "metric",
                    "metric": metric,
                    "msg": format!("metric alert: {} {dir}", metric_words(metric)),
                });
                if let Some(host) = str_at(row, 2) {
                    v["host"] = json!(host);
                }
                alerts.push("metric", ts, v);
            }
        }
    }
    // trace: [ts_ms, caller, callee, operation, PD|400|500]
    let path = dir.join("trace/traces.json");
    if let Value::Object(faults) = read_json(&path)? {
        for (fid, rows) in faults {
            let alerts = all.entry(fid).or_default();
            for row in rows.as_array().into_iter().flatten() {
                let Some(row) = row.as_array() else { continue };
                let (Some(ts), Some(caller), Some(callee)) = (
                    row.first().and_then(ms_to_ns),
                    str_at(row, 1),
                    str_at(row, 2),
                ) else {
                    summary.skipped_rows += 1;
                    continue;
                };
                let op = str_at(row, 3).unwrap_or("");
                let kind = row
                    .get(4)
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default();
                let (level, what) = if kind == "PD" {
                    ("warn", "performance degradation".to_string())
                } else {
                    ("error", format!("status {kind}"))
                };
                let v = json!({
                    "time": rfc3339(ts),
                    "level": level,
                    "service": callee,
                    "caller": caller,
                    "alert": "trace",
                    "msg": format!("trace alert: {caller} -> {callee} {op}: {what}"),
                });
                alerts.push("trace", ts, v);
            }
        }
    }
    // log: [entity, template_id, [messages…], count, representative]
    let path = dir.join("log/logs.json");
    if let Value::Object(faults) = read_json(&path)? {
        for (fid, rows) in faults {
            let alerts = all.entry(fid).or_default();
            for row in rows.as_array().into_iter().flatten() {
                let Some(row) = row.as_array() else { continue };
                let Some(entity) = str_at(row, 0) else {
                    summary.skipped_rows += 1;
                    continue;
                };
                let messages = row.get(2).and_then(Value::as_array);
                for m in messages.into_iter().flatten().filter_map(Value::as_str) {
                    let Some((ts, level, msg)) = parse_log_alert(m) else {
                        summary.skipped_rows += 1;
                        continue;
                    };
                    let v = json!({
                        "time": rfc3339(ts),
                        "level": level,
                        "service": entity,
                        "alert": "log",
                        "msg": msg,
                    });
                    alerts.push("log", ts, v);
                }
            }
        }
    }
    Ok(all)
}

/// A metric's name as words (`container_memory_usage_MB` → `container memory usage MB`): an
/// alert is about one metric, and the template miner should keep that identity. Written as one
/// word, the many metric names of an entity fill one position of one message and the miner
/// rightly turns it into a variable, so every metric alert of an entity became one template.
fn metric_words(metric: &str) -> String {
    metric
        .split(['_', '.'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `2021-07-01 18:45:03,964 | ERROR | ip | ip | entity | trace | message` (GAIA) or
/// `2022-03-20 08:48:54.000 | severity: warning, message: failed to retrieve ads` (OpenRCA) or
/// `2022-03-20 08:42:51.000 | message`. Returns UTC ns, level and message.
fn parse_log_alert(line: &str) -> Option<(i64, &'static str, String)> {
    let fields: Vec<&str> = line.split(" | ").collect();
    let ts = local_to_ns(fields.first()?)?;
    let level_name = |l: Level| match l {
        Level::Error | Level::Fatal => "error",
        Level::Warn => "warn",
        Level::Info | Level::Unknown => "info",
        Level::Debug | Level::Trace => "debug",
    };
    if fields.len() >= 3
        && let Some(l) = Level::parse(fields[1])
    {
        let msg = fields[fields.len() - 1].to_string();
        return Some((ts, level_name(l), msg));
    }
    let rest = fields[1..].join(" | ");
    if let Some(r) = rest.strip_prefix("severity: ")
        && let Some((sev, msg)) = r.split_once(", message: ")
        && let Some(l) = Level::parse(sev)
    {
        return Some((ts, level_name(l), msg.to_string()));
    }
    // No level of its own: it is an alert, so at least a warning.
    Some((ts, "warn", rest))
}

/// Entity → service from the topology's `instance_of` edges.
fn entity_services(kg: &Value) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for e in kg["edges"].as_array().into_iter().flatten() {
        if e["label"] == "instance_of"
            && let (Some(s), Some(t)) = (e["source"].as_str(), e["target"].as_str())
        {
            map.insert(s.to_string(), t.to_string());
        }
    }
    map
}

/// The dataset's knowledge graph (`nodes`, `edges` with `source`, `target`, `label`) as a
/// rootline topology. Requests flow along `control_flow` (service → service) and `data_flow`
/// (service → database or cache); `registers_with` (service → coordination manager) is left out:
/// registration is not on the request path, so a slow coordinator does not explain a service's
/// alerts. The inverse labels (`has_instance`, `hosts`, `discovers`) add nothing.
pub fn topology_from_kg(kg: &Value) -> Topology {
    let mut topology = Topology::default();
    for e in kg["edges"].as_array().into_iter().flatten() {
        let (Some(source), Some(target)) = (e["source"].as_str(), e["target"].as_str()) else {
            continue;
        };
        match e["label"].as_str() {
            Some("control_flow" | "data_flow") if source != target => {
                topology.add_call(source, target)
            }
            Some("instance_of") => {
                topology
                    .services
                    .insert(source.to_string(), target.to_string());
            }
            Some("hosted_on") => {
                topology
                    .hosts
                    .insert(source.to_string(), target.to_string());
            }
            _ => {}
        }
    }
    topology
}

fn node_type<'a>(kg: &'a Value, id: &str) -> Option<&'a str> {
    kg["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["id"] == id)
        .and_then(|n| n["type"].as_str())
}

fn label_time(s: &str) -> Option<i64> {
    match s.trim().parse::<f64>() {
        Ok(secs) => Some((secs * 1e9) as i64),
        Err(_) => local_to_ns(s),
    }
}

fn import_system(
    dir: &Path,
    system: &System,
    out: &Path,
    only_case: Option<&str>,
    summary: &mut ImportSummary,
) -> Result<bool, ImportError> {
    let label_path = dir.join("label.csv");
    let mut reader = csv::Reader::from_path(&label_path).map_err(|e| io_err(&label_path, e))?;
    let mut labels = Vec::new();
    for (i, row) in reader.deserialize::<Label>().enumerate() {
        let row = row.map_err(|e| ImportError::Bad {
            path: label_path.clone(),
            line: i as u64 + 2,
            message: e.to_string(),
        })?;
        labels.push(row);
    }
    let bundle_id = |l: &Label| {
        let n: u64 = l.fault_id.parse().unwrap_or(0);
        format!("{}-{n:03}", system.prefix)
    };
    if only_case.is_some_and(|c| !labels.iter().any(|l| bundle_id(l) == c)) {
        return Ok(false);
    }
    let kg_path = dir.join(format!("{}-KG.json", system.dir));
    let kg = read_json(&kg_path).unwrap_or(Value::Null);
    let services = entity_services(&kg);
    let topology = serde_json::to_value(topology_from_kg(&kg)).map_err(|e| io_err(&kg_path, e))?;
    let mut alerts = read_alerts(dir, summary)?;

    // Each fault's window: its alerts' span, or the labelled window when it has no alerts.
    let mut windows: Vec<(usize, i64, i64)> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let span = alerts.get(&l.fault_id).and_then(|a| a.span);
        let (s, e) = match span {
            Some((s, e)) => (s, e + 1_000_000_000),
            None => {
                let s = label_time(&l.fault_st_time).ok_or_else(|| {
                    io_err(
                        &label_path,
                        format!("fault {}: bad fault_st_time", l.fault_id),
                    )
                })?;
                let e = label_time(&l.fault_ed_time).unwrap_or(s + 60_000_000_000);
                (s, e.max(s + 1_000_000_000))
            }
        };
        windows.push((i, s, e));
    }
    let mut order = windows.clone();
    order.sort_by_key(|w| (w.1, w.0));

    for (pos, &(i, start_ns, end_ns)) in order.iter().enumerate() {
        let label = &labels[i];
        let id = bundle_id(label);
        if only_case.is_some_and(|c| c != id) {
            continue;
        }
        // Earlier faults whose windows end before this one starts, nearest first.
        let earlier: Vec<(usize, i64, i64)> = order[..pos]
            .iter()
            .rev()
            .filter(|w| w.2 <= start_ns)
            .take(BASELINE_FAULTS)
            .copied()
            .collect();
        let bundle = out.join(&id);
        let logs = bundle.join("logs");
        std::fs::create_dir_all(&logs).map_err(|e| io_err(&logs, e))?;
        let mut by_kind: BTreeMap<&'static str, Vec<&Event>> = BTreeMap::new();
        for fid in std::iter::once(i)
            .chain(earlier.iter().map(|w| w.0))
            .map(|k| &labels[k].fault_id)
        {
            if let Some(a) = alerts.get(fid) {
                for (kind, events) in &a.by_kind {
                    by_kind.entry(kind).or_default().extend(events.iter());
                }
            }
        }
        for (kind, mut events) in by_kind {
            events.sort_by_key(|e| e.ts_ns);
            let path = logs.join(format!("{kind}-alerts.jsonl.gz"));
            write_lines(&path, events.iter().map(|e| e.line.as_str()))?;
            summary.records += events.len() as u64;
        }
        let mut baseline_windows: Vec<TimeWindow> = earlier
            .iter()
            .map(|w| TimeWindow {
                start: ns_to_dt(w.1),
                end: ns_to_dt(w.2),
            })
            .collect();
        baseline_windows.sort_by_key(|w| w.start);
        let start = ns_to_dt(start_ns);
        let incident = Incident {
            id: id.clone(),
            title: format!(
                "{} anomaly at {}",
                system.title,
                start.format("%Y-%m-%d %H:%M:%SZ")
            ),
            description: format!(
                "Alerts fired on the {} system; cause unknown.",
                system.title
            ),
            start,
            end: Some(ns_to_dt(end_ns)),
            services: vec![],
            alert: None,
            baseline_windows,
        };
        write_json(
            &bundle.join("incident.json"),
            &serde_json::to_value(&incident).map_err(|e| io_err(&bundle, e))?,
        )?;
        if !kg.is_null() {
            write_json(&bundle.join("topology.json"), &topology)?;
        }
        let entity = label.fault_entity.trim();
        let root_cause_service = services.get(entity).cloned().or_else(|| {
            matches!(node_type(&kg, entity), Some("Service")).then(|| entity.to_string())
        });
        let truth = json!({
            "source": system.source,
            "case_id": format!("{}/{}", system.dir, label.fault_id),
            "root_cause_entity": entity,
            "root_cause_service": root_cause_service,
            "fault_level": label.fault_level,
            "fault_type": label.fault_type,
            "fault_type_rootline": rootline_fault_types(&label.fault_type),
            "fault_message": label.fault_message,
            "fault_st_time": label.fault_st_time,
            "fault_ed_time": label.fault_ed_time,
            "entity_services": services,
            "no_fault": false,
        });
        write_json(&bundle.join("truth.json"), &truth)?;
        std::fs::write(bundle.join("ATTRIBUTION.md"), ATTRIBUTION)
            .map_err(|e| io_err(&bundle, e))?;
        summary.bundles.push(bundle.display().to_string());
    }
    // Free the alerts of this system before the next one is read.
    alerts.clear();
    Ok(true)
}

const ATTRIBUTION: &str = "\
Derived from boerste/rca-llm-reasoning (commit 235902c), MIT: fault alerts and topology of
GAIA MicroSS (CloudWise GAIA-DataSet, Apache-2.0) and OpenRCA Market cloudbed-1 (microsoft/OpenRCA;
check its terms before external redistribution).
";

fn write_lines<'a>(
    path: &PathBuf,
    lines: impl Iterator<Item = &'a str>,
) -> Result<(), ImportError> {
    let out = File::create(path).map_err(|e| io_err(path, e))?;
    let mut w = BufWriter::new(GzEncoder::new(out, Compression::fast()));
    for l in lines {
        writeln!(w, "{l}").map_err(|e| io_err(path, e))?;
    }
    let enc = w.into_inner().map_err(|e| io_err(path, e.error()))?;
    enc.finish().map_err(|e| io_err(path, e))?;
    Ok(())
}

fn ns_to_dt(ns: i64) -> DateTime<Utc> {
    Utc.timestamp_nanos(ns)
}

fn write_json(path: &Path, value: &Value) -> Result<(), ImportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io_err(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each metric keeps its own words, so the miner sees distinct alerts, while a per-core
    /// series (`core_3`, `core_6`) differs only in a number and becomes one alert kind.
    #[test]
    fn metric_names_become_words() {
        assert_eq!(
            metric_words("container_memory_usage_MB"),
            "container memory usage MB"
        );
        assert_eq!(metric_words("system.cpu.pct_usage"), "system cpu pct usage");
        assert_eq!(
            metric_words("container_fs_reads./dev/vda"),
            "container fs reads /dev/vda"
        );
        assert_eq!(
            metric_words("docker_cpu_core_3_pct"),
            "docker cpu core 3 pct"
        );
    }

    #[test]
    fn parses_log_alerts_of_both_systems() {
        let (ts, level, msg) = parse_log_alert("2021-07-01 18:45:03,964 | ERROR | 0.0.0.1 | 172.17.0.3 | webservice1 | ac37ec90377cfc42 | an error occurred in the downstream service").unwrap();
        assert_eq!(rfc3339(ts), "2021-07-01T10:45:03.964Z");
        assert_eq!(level, "error");
        assert_eq!(msg, "an error occurred in the downstream service");
        let (ts, level, msg) = parse_log_alert(
            "2022-03-20 08:48:54.000 | severity: warning, message: failed to retrieve ads",
        )
        .unwrap();
        assert_eq!(rfc3339(ts), "2022-03-20T00:48:54.000Z");
        assert_eq!((level, msg.as_str()), ("warn", "failed to retrieve ads"));
        let (_, level, msg) =
            parse_log_alert("2022-03-20 08:42:51.000 | DB saved on disk").unwrap();
        assert_eq!((level, msg.as_str()), ("warn", "DB saved on disk"));
        assert!(parse_log_alert("no time | x").is_none());
    }

    #[test]
    fn knowledge_graph_becomes_a_topology() {
        let kg = json!({
            "nodes": [
                {"id": "frontend", "type": "Service"},
                {"id": "cart", "type": "Service"},
                {"id": "cart-1", "type": "Service_Instance"},
                {"id": "redis-cart", "type": "Cache"},
                {"id": "node-6", "type": "Host"},
                {"id": "zookeeper", "type": "Coordination_Manager"},
            ],
            "edges": [
                {"source": "frontend", "target": "cart", "label": "control_flow"},
                {"source": "cart", "target": "cart", "label": "control_flow"},
                {"source": "cart", "target": "redis-cart", "label": "data_flow"},
                {"source": "cart-1", "target": "cart", "label": "instance_of"},
                {"source": "cart", "target": "cart-1", "label": "has_instance"},
                {"source": "cart-1", "target": "node-6", "label": "hosted_on"},
                {"source": "node-6", "target": "cart-1", "label": "hosts"},
                {"source": "cart", "target": "zookeeper", "label": "registers_with"},
                {"source": "frontend", "label": "control_flow"},
            ],
        });
        let t = topology_from_kg(&kg);
        let calls: Vec<(&str, Vec<&str>)> = t
            .calls
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            calls,
            vec![("cart", vec!["redis-cart"]), ("frontend", vec!["cart"])]
        );
        assert_eq!(t.services.get("cart-1").map(String::as_str), Some("cart"));
        assert_eq!(t.services.len(), 1);
        assert_eq!(t.hosts.get("cart-1").map(String::as_str), Some("node-6"));
        assert_eq!(t.hosts.len(), 1);
        assert!(topology_from_kg(&Value::Null).is_empty());
    }

    /// The real knowledge graphs: every instance named in a label has a service, and the entry
    /// service calls something.
    #[test]
    fn real_knowledge_graphs_convert() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/datasets/rca_alerts_gaia_openrca");
        if !root.exists() {
            eprintln!("skipping: {} is absent", root.display());
            return;
        }
        for (dir, instance, service, host) in [
            ("MicroSS", "webservice1", "webservice", Some("host1")),
            (
                "Online-Boutique-cloudbed-1",
                "cartservice-1",
                "cartservice",
                Some("node-6"),
            ),
        ] {
            let kg = read_json(&root.join(dir).join(format!("{dir}-KG.json"))).unwrap();
            let t = topology_from_kg(&kg);
            assert_eq!(t.services.get(instance).map(String::as_str), Some(service));
            assert_eq!(t.hosts.get(instance).map(String::as_str), host);
            assert!(
                t.calls.get("frontend").is_some_and(|c| !c.is_empty()),
                "{dir}: {:?}",
                t.calls
            );
            assert!(
                t.calls
                    .values()
                    .flatten()
                    .all(|callee| callee != "zookeeper")
            );
        }
    }

    #[test]
    fn fault_type_mapping() {
        assert_eq!(rootline_fault_types("container CPU load"), vec!["cpu"]);
        assert_eq!(rootline_fault_types("[memory_anomalies]"), vec!["memory"]);
        assert_eq!(
            rootline_fault_types("container network packet corruption"),
            vec!["network_delay", "latency"]
        );
        assert_eq!(
            rootline_fault_types("[access permission denied exception]"),
            vec!["exception"]
        );
        assert!(rootline_fault_types("node disk space consumption").is_empty());
        assert!(rootline_fault_types("[login failure]").is_empty());
    }
}
