//! Kubernetes state as people and scripts capture it, read into objects in API shape
//! ([`StateItem`]s) and log records: `kubectl get -o json|yaml` (an object or a `List`),
//! `kubectl describe` text (`describe`), `kubectl get` tables and `kubectl get events` /
//! `kubectl events` tables (`table`), and `kubectl logs` output, timestamped or not.
//!
//! Relative ages (`49m`, `3d2h`, `3m30s (x256 over 58m)`) and untimed log lines need a capture
//! time ([`CaptureOptions::captured_at_ns`]): an age becomes `captured_at − age`, and untimed
//! lines keep their order, one millisecond apart, ending at the capture time; both are marked
//! approximate. What cannot be read is a [`Rejected`] with the file and line; the rest goes in.
//! Everything here is pure: text in, objects out.

mod describe;
mod table;

use rootline_core::k8s::{ObjectRef, StateItem, canonical_kind};
use rootline_core::{Level, LogRecord, Provenance};
use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

use crate::Rejected;
use crate::parse::{LineContext, parse_line, service_from_pod};

/// What a capture file holds, as detected from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// `kubectl get -o json` / `-o yaml` (an object, a `List`, or several YAML documents).
    Objects,
    /// `kubectl describe` of one or more objects.
    Describe,
    /// `kubectl get events` / `kubectl events`.
    EventsTable,
    /// `kubectl get KIND` (any columns).
    Table,
    /// `kubectl logs` (container output).
    Logs,
    /// `Error from server (NotFound)` and friends: the object asked for does not exist.
    Error,
    Empty,
}

/// How to read one capture.
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// When the capture was taken (unix ns): relative ages and untimed lines count back from it.
    pub captured_at_ns: i64,
    /// The pod whose logs these are, when the file is `kubectl logs` output.
    pub pod: Option<ObjectRef>,
    /// The kind a `describe` or table shows, when the command that made it is known.
    pub kind: Option<String>,
    /// The namespace of a table or describe that does not print one.
    pub namespace: Option<String>,
}

/// What one capture file became.
#[derive(Debug, Default)]
pub struct Capture {
    pub format: Option<CaptureFormat>,
    pub items: Vec<StateItem>,
    /// Container log lines (and nothing else): they go to the log index.
    pub logs: Vec<LogRecord>,
    /// Log lines whose time is their order before the capture time.
    pub approximate_lines: u64,
    pub rejected: Vec<Rejected>,
}

/// Reads one capture. `source` labels provenance and errors.
pub fn read_capture(text: &str, source: &str, options: &CaptureOptions) -> Capture {
    let mut out = Capture::default();
    let trimmed = text.trim_start();
    let first = trimmed.lines().next().unwrap_or("").trim_end();
    let format = detect(trimmed, first, options);
    out.format = Some(format);
    let push = |out: &mut Capture, object: Value, approximate: bool, line: u64| {
        out.items.push(StateItem {
            object,
            observed_ns: options.captured_at_ns,
            approximate,
            provenance: Provenance {
                source: source.to_string(),
                line,
            },
        });
    };
    match format {
        CaptureFormat::Empty | CaptureFormat::Error => {}
        CaptureFormat::Objects => match objects_of(trimmed) {
            Ok((objects, bad)) => {
                for DocError(line, reason) in bad {
                    out.rejected.push(rejected(source, line, &reason));
                }
                for (i, o) in objects.into_iter().enumerate() {
                    if ObjectRef::of(&o).is_some() {
                        push(&mut out, o, false, i as u64 + 1);
                    } else {
                        out.rejected.push(rejected(
                            source,
                            i as u64 + 1,
                            "an object without kind or metadata.name",
                        ));
                    }
                }
            }
            Err(e) => out.rejected.push(rejected(source, e.0, &e.1)),
        },
        CaptureFormat::Describe => {
            let (objects, rej) = describe::read(text, options);
            for (o, line, approx) in objects {
                push(&mut out, o, approx, line);
            }
            out.rejected
                .extend(rej.into_iter().map(|(l, r)| rejected(source, l, &r)));
        }
        CaptureFormat::EventsTable | CaptureFormat::Table => {
            let (objects, rej) = table::read(text, format == CaptureFormat::EventsTable, options);
            for (o, line) in objects {
                push(&mut out, o, true, line);
            }
            out.rejected
                .extend(rej.into_iter().map(|(l, r)| rejected(source, l, &r)));
        }
        CaptureFormat::Logs => read_logs(text, source, options, &mut out),
    }
    out
}

fn rejected(source: &str, line: u64, reason: &str) -> Rejected {
    Rejected {
        file: source.to_string(),
        line,
        reason: reason.to_string(),
    }
}

fn detect(text: &str, first: &str, options: &CaptureOptions) -> CaptureFormat {
    if text.trim().is_empty() || first.starts_with("No resources found") {
        return CaptureFormat::Empty;
    }
    if first.starts_with("Error from server") || first.starts_with("error: ") {
        return CaptureFormat::Error;
    }
    if options.pod.is_some() {
        return CaptureFormat::Logs;
    }
    if first.starts_with('{') || first.starts_with('[') {
        // One JSON document (an object or a list), JSON lines of objects (events exported one
        // per line), else JSON lines of a container log.
        return if serde_json::from_str::<Value>(text).is_ok() || is_object_line(first) {
            CaptureFormat::Objects
        } else {
            CaptureFormat::Logs
        };
    }
    if first.starts_with("apiVersion:")
        || first.starts_with("kind:")
        || first.starts_with("items:")
        || first == "---"
    {
        return CaptureFormat::Objects;
    }
    if first.starts_with("Name:") {
        return CaptureFormat::Describe;
    }
    let header: Vec<&str> = first.split_whitespace().collect();
    if header.contains(&"REASON") && (header.contains(&"LAST") || header.contains(&"AGE")) {
        return CaptureFormat::EventsTable;
    }
    if header.first() == Some(&"NAME")
        || (header.first() == Some(&"NAMESPACE") && header.get(1) == Some(&"NAME"))
    {
        return CaptureFormat::Table;
    }
    CaptureFormat::Logs
}

/// A JSON line that is a Kubernetes object (`kind` and `metadata`) or an event
/// (`involvedObject`).
fn is_object_line(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|v| {
        v.get("involvedObject").is_some()
            || (v.get("kind").is_some() && v.get("metadata").is_some())
    })
}

/// Whether a file's first lines are a Kubernetes capture (objects, describe, a table) rather
/// than a log: a bundle's `logs/` may hold `kubectl get events` output.
pub fn is_capture(head: &str) -> bool {
    let trimmed = head.trim_start();
    let first = trimmed.lines().next().unwrap_or("").trim_end();
    if first.starts_with('{') || first.starts_with('[') {
        // A pretty-printed document opens alone on its line; its first keys say what it is.
        let opening: String = trimmed.lines().take(6).collect();
        return is_object_line(first)
            || (matches!(first, "{" | "[" | "[{")
                && (opening.contains("\"apiVersion\"") || opening.contains("\"kind\"")));
    }
    !matches!(
        detect(trimmed, first, &CaptureOptions::default()),
        CaptureFormat::Logs | CaptureFormat::Empty
    )
}

/// `(line, message)` of a document that does not parse.
struct DocError(u64, String);

/// Objects of a JSON or YAML capture: a `List`'s items, every YAML document.
fn objects_of(text: &str) -> Result<(Vec<Value>, Vec<DocError>), DocError> {
    let mut bad_lines = Vec::new();
    let docs: Vec<Value> = if text.starts_with('{') || text.starts_with('[') {
        match serde_json::from_str(text) {
            Ok(v) => vec![v],
            // JSON lines: one object per line; a bad line is located by its number.
            Err(_) if text.lines().nth(1).is_some() => {
                let mut out = Vec::new();
                for (i, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let mut v: Value = match serde_json::from_str(line) {
                        Ok(v) => v,
                        Err(e) => {
                            bad_lines
                                .push(DocError(i as u64 + 1, format!("invalid JSON line: {e}")));
                            continue;
                        }
                    };
                    if v.get("kind").is_none()
                        && v.get("involvedObject").is_some()
                        && let Some(o) = v.as_object_mut()
                    {
                        o.insert("kind".into(), Value::String("Event".into()));
                    }
                    out.push(v);
                }
                out
            }
            Err(e) => return Err(DocError(e.line() as u64, format!("invalid JSON: {e}"))),
        }
    } else {
        // The parser counts lines from 0 and may point one past the end of a truncated file.
        let last = text.lines().count().max(1) as u64;
        let docs = YamlLoader::load_from_str(text).map_err(|e| {
            DocError(
                (e.marker().line() as u64 + 1).min(last),
                format!("invalid YAML: {e}"),
            )
        })?;
        docs.iter().map(yaml_to_json).collect()
    };
    let mut out = Vec::new();
    for d in docs {
        match d {
            Value::Array(a) => out.extend(a),
            Value::Object(ref m) if m.get("items").is_some_and(Value::is_array) => {
                // A List: kubectl leaves each item's kind in place; the API does not.
                let list_kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
                let item_kind = list_kind.strip_suffix("List").filter(|k| !k.is_empty());
                for mut item in m["items"].as_array().cloned().unwrap_or_default() {
                    if item.get("kind").is_none()
                        && let (Some(k), Some(o)) = (item_kind, item.as_object_mut())
                    {
                        o.insert("kind".into(), Value::String(k.to_string()));
                    }
                    out.push(item);
                }
            }
            Value::Null => {}
            other => out.push(other),
        }
    }
    Ok((out, bad_lines))
}

/// YAML as JSON (comments are gone by now: the parser drops them).
pub fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .map(|f| json!(f))
            .unwrap_or(Value::String(s.clone())),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    _ => continue,
                };
                m.insert(key, yaml_to_json(v));
            }
            Value::Object(m)
        }
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

/// `kubectl logs` output: lines with a timestamp keep it; untimed lines keep their order and
/// end at the capture time, one millisecond apart. A line that looks like a continuation
/// (indented, `at ...`, `Caused by`) joins the message before it.
fn read_logs(text: &str, source: &str, options: &CaptureOptions, out: &mut Capture) {
    let pod = options.pod.clone();
    let service = pod
        .as_ref()
        .map(|p| service_from_pod(&p.name))
        .unwrap_or_else(|| {
            let stem = source.rsplit('/').next().unwrap_or(source);
            stem.split('.').next().unwrap_or(stem).to_string()
        });
    let host = pod.as_ref().map(|p| p.name.clone());
    let ctx = LineContext {
        default_service: &service,
        default_host: host.as_deref(),
        format: crate::LogFormat::Auto,
        json_mapping: None,
        reference_year: None,
        now_ns: Some(options.captured_at_ns),
        fallback_ts_ns: None,
        stream: None,
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let n = lines.len() as i64;
    for (k, (i, line)) in lines.into_iter().enumerate() {
        let provenance = Provenance {
            source: source.to_string(),
            line: i as u64 + 1,
        };
        let approx_ts = options.captured_at_ns - (n - k as i64) * 1_000_000;
        let parsed = parse_line(line, &ctx).ok();
        let approximate_time = parsed.as_ref().is_none_or(|p| p.ts_ns <= 0);
        let (ts_ns, level, message, trace_id, module, service) = match parsed {
            Some(p) if p.ts_ns > 0 => {
                (p.ts_ns, p.level, p.message, p.trace_id, p.module, p.service)
            }
            _ => {
                out.approximate_lines += 1;
                (
                    approx_ts,
                    level_of_untimed(line),
                    line.trim_end().to_string(),
                    None,
                    None,
                    service.clone(),
                )
            }
        };
        // Stack frames and `Caused by` join the message before them; an indented line joins
        // only a traceback (curl's progress meter and tables are indented too, and are lines).
        let t = line.trim_start();
        let indented = line.starts_with(' ') || line.starts_with('\t');
        let in_trace = out.logs.last().is_some_and(|l| {
            let first = l.message.lines().next().unwrap_or("");
            first.contains("Traceback") || first.contains("Exception") || first.contains("Error:")
        });
        let is_continuation = !out.logs.is_empty()
            && (t.starts_with("at ")
                || t.starts_with("Caused by")
                || (t.starts_with("...") && t.ends_with("more"))
                || (indented && in_trace));
        if is_continuation
            && let Some(last) = out.logs.last_mut()
            && last.message.len() < crate::MAX_LINE_BYTES
        {
            last.message.push('\n');
            last.message.push_str(line.trim_end());
            continue;
        }
        let evidence_id = LogRecord::compute_evidence_id(&provenance, line);
        out.logs.push(LogRecord {
            evidence_id,
            ts_ns,
            service,
            host: host.clone(),
            level,
            message,
            template_id: None,
            trace_id,
            module,
            approximate_time,
            provenance,
        });
    }
}

/// The level of an untimed line: the usual level words, else error words, else unknown.
fn level_of_untimed(line: &str) -> Level {
    for w in line.split(|c: char| !c.is_ascii_alphabetic()).take(6) {
        if let Some(l) = Level::parse(w).filter(|_| w.len() > 1) {
            return l;
        }
    }
    let lower = line.to_ascii_lowercase();
    const ERROR_WORDS: [&str; 8] = [
        "exception",
        "error",
        "fatal",
        "panic",
        "traceback",
        "failed",
        "refused",
        "not found",
    ];
    if ERROR_WORDS.iter().any(|w| lower.contains(w)) {
        Level::Error
    } else {
        Level::Unknown
    }
}

/// A kubectl age (`49m`, `3d2h`, `2m12s`, `119d`, `5y31d`) in nanoseconds; `None` for
/// `<unknown>`, `<invalid>` and anything else.
pub fn parse_age(age: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut n: i64 = 0;
    let mut digits = false;
    let mut any = false;
    for c in age.trim().chars() {
        if let Some(d) = c.to_digit(10) {
            n = n.checked_mul(10)?.checked_add(d as i64)?;
            digits = true;
            continue;
        }
        if !digits {
            return None;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'y' => 365 * 86_400,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        n = 0;
        digits = false;
        any = true;
    }
    (any && !digits).then_some(total.checked_mul(1_000_000_000)?)
}

/// An event's last-seen column (`3m30s (x256 over 58m)`, `58m`): `(last age, count, first age)`.
pub(crate) fn parse_event_age(cell: &str) -> Option<(i64, u64, i64)> {
    let cell = cell.trim();
    let (last, rest) = match cell.split_once(' ') {
        Some((a, b)) => (a, Some(b.trim())),
        None => (cell, None),
    };
    let last = parse_age(last)?;
    let mut count = 1;
    let mut first = last;
    if let Some(rest) = rest
        .and_then(|r| r.strip_prefix("(x"))
        .and_then(|r| r.strip_suffix(')'))
    {
        let mut parts = rest.split_whitespace();
        count = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
        if parts.next() == Some("over") {
            first = parts.next().and_then(parse_age).unwrap_or(last);
        }
    }
    Some((last, count, first))
}

/// A core/v1 Event in API shape.
#[allow(clippy::too_many_arguments)]
pub(crate) fn event_object(
    event_type: &str,
    reason: &str,
    involved: &ObjectRef,
    message: &str,
    count: u64,
    first_ns: i64,
    last_ns: i64,
    seq: usize,
) -> Value {
    let ts = |ns: i64| rootline_core::time::format_ns(ns);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": format!("{}.{}.{seq}", involved.name, reason.to_ascii_lowercase()),
            "namespace": involved.namespace,
        },
        "type": event_type,
        "reason": reason,
        "involvedObject": {
            "kind": involved.kind,
            "name": involved.name,
            "namespace": involved.namespace,
        },
        "message": message,
        "count": count,
        "firstTimestamp": ts(first_ns),
        "lastTimestamp": ts(last_ns),
    })
}

/// `Pod/x`, `pod/x`, `x` (with the default kind) as a reference.
pub(crate) fn object_ref(
    cell: &str,
    default_kind: Option<&str>,
    namespace: Option<&str>,
) -> Option<ObjectRef> {
    let cell = cell.trim();
    match cell.split_once('/') {
        Some((k, n)) if !k.is_empty() && !n.is_empty() => Some(ObjectRef::new(k, namespace, n)),
        _ if !cell.is_empty() => {
            default_kind.map(|k| ObjectRef::new(&canonical_kind(k), namespace, cell))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
