//! `kubectl get` tables and event tables into objects in API shape. kubectl pads every column
//! to its widest cell, so a column runs from its header's first character to the next header's
//! (the last column, `MESSAGE` or `LABELS`, to the end of the line): cells may hold spaces
//! (`3694 (4m40s ago)`, `56m (x5 over 58m)`).
//!
//! What a table can say becomes the matching API field: a pod's `STATUS` (`CrashLoopBackOff`,
//! `OOMKilled`, `Pending`, `ImagePullBackOff`) is its waiting or terminated reason, `RESTARTS`
//! its restart count, `LABELS` its labels; a PVC's `STATUS` and `STORAGECLASS`; a node's
//! `STATUS` (`NotReady`) its Ready condition; a Job's `STATUS`/`COMPLETIONS`. Ages count back
//! from the capture time and are approximate.

use rootline_core::k8s::{ObjectRef, canonical_kind};
use serde_json::{Map, Value, json};

use super::{CaptureOptions, event_object, object_ref, parse_age, parse_event_age};

/// `(object, line)` per row, and `(line, reason)` per row that could not be read.
pub(super) type Read = (Vec<(Value, u64)>, Vec<(u64, String)>);

pub(super) fn read(text: &str, events: bool, options: &CaptureOptions) -> Read {
    let mut out = Vec::new();
    let mut rejected = Vec::new();
    let mut columns: Vec<(String, usize)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        if columns.is_empty() || is_header(line) {
            columns = header(line);
            continue;
        }
        let row = cells(line, &columns);
        let get = |name: &str| -> Option<&str> {
            row.iter()
                .find(|(h, _)| h == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty() && *v != "<none>")
        };
        let result = if events {
            event_row(&get, options, line_no as usize)
        } else {
            object_row(&get, options)
        };
        match result {
            Some(o) => out.push((o, line_no)),
            None => rejected.push((
                line_no,
                "a row without the columns its header names".to_string(),
            )),
        }
    }
    (out, rejected)
}

fn is_header(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    (first == "NAME" || first == "NAMESPACE" || first == "LAST")
        && line.chars().filter(|c| c.is_ascii_lowercase()).count() == 0
}

/// Column names with their start offsets (`LAST SEEN`, `NOMINATED NODE`, `ACCESS MODES` are one
/// column each: words one space apart belong together).
fn header(line: &str) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len()
            && !(bytes[i] == b' ' && (i + 1 >= bytes.len() || bytes[i + 1] == b' '))
        {
            i += 1;
        }
        out.push((line[start..i].trim().to_string(), start));
    }
    out
}

fn cells(line: &str, columns: &[(String, usize)]) -> Vec<(String, String)> {
    columns
        .iter()
        .enumerate()
        .map(|(k, (name, start))| {
            let end = columns.get(k + 1).map(|c| c.1).unwrap_or(usize::MAX);
            let cell = slice(line, *start, end);
            (name.clone(), cell.trim().to_string())
        })
        .collect()
}

/// `line[start..end]` on character boundaries, clipped.
fn slice(line: &str, start: usize, end: usize) -> &str {
    let fix = |mut p: usize| {
        p = p.min(line.len());
        while p > 0 && !line.is_char_boundary(p) {
            p -= 1;
        }
        p
    };
    let (s, e) = (fix(start), fix(end));
    if s >= e { "" } else { &line[s..e] }
}

fn event_row<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    options: &CaptureOptions,
    seq: usize,
) -> Option<Value> {
    let namespace = get("NAMESPACE")
        .map(str::to_string)
        .or_else(|| options.namespace.clone());
    let age = get("LAST SEEN").or_else(|| get("AGE"))?;
    let (last, mut count, first) = parse_event_age(age).unwrap_or((0, 1, 0));
    if let Some(c) = get("COUNT").and_then(|c| c.parse().ok()) {
        count = c;
    }
    let involved = get("OBJECT")
        .and_then(|o| object_ref(o, options.kind.as_deref(), namespace.as_deref()))
        .or_else(|| {
            let name = get("NAME")?;
            Some(ObjectRef::new(
                options.kind.as_deref().unwrap_or("Pod"),
                namespace.as_deref(),
                name,
            ))
        })?;
    let at = options.captured_at_ns;
    Some(event_object(
        get("TYPE").unwrap_or("Normal"),
        get("REASON").unwrap_or(""),
        &involved,
        get("MESSAGE").unwrap_or(""),
        count,
        at - first,
        at - last,
        seq,
    ))
}

fn object_row<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    options: &CaptureOptions,
) -> Option<Value> {
    let name = get("NAME")?;
    let namespace = get("NAMESPACE")
        .map(str::to_string)
        .or_else(|| options.namespace.clone());
    let kind = options
        .kind
        .as_deref()
        .map(canonical_kind)
        .or_else(|| name.split_once('/').map(|(k, _)| canonical_kind(k)))
        .unwrap_or_else(|| guess_kind(get));
    let name = name.split_once('/').map(|(_, n)| n).unwrap_or(name);
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = &namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    if let Some(labels) = get("LABELS") {
        let map: Map<String, Value> = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        meta.insert("labels".into(), Value::Object(map));
    }
    if let Some(age) = get("AGE").and_then(parse_age) {
        meta.insert(
            "creationTimestamp".into(),
            json!(rootline_core::time::format_ns(options.captured_at_ns - age)),
        );
    }
    let mut object = json!({"kind": kind, "metadata": meta});
    let status = get("STATUS");
    match kind.as_str() {
        "Pod" => {
            let restarts = get("RESTARTS")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|r| r.parse::<u64>().ok())
                .unwrap_or(0);
            let ready = get("READY")
                .is_some_and(|r| r.split_once('/').is_some_and(|(a, b)| a == b && a != "0"));
            let reason = status.unwrap_or("");
            let phase = match reason {
                "Running" | "Pending" | "Succeeded" | "Failed" | "Unknown" => reason,
                "Completed" => "Succeeded",
                "Error" | "OOMKilled" | "Evicted" => "Failed",
                _ if reason.starts_with("Init:") => "Pending",
                _ => "Running",
            };
            let state = match reason {
                "Running" | "Pending" | "Succeeded" | "Unknown" | "" => json!({}),
                "Completed" | "Error" | "OOMKilled" => json!({"terminated": {"reason": reason}}),
                _ => json!({"waiting": {"reason": reason}}),
            };
            object["status"] = json!({
                "phase": phase,
                "reason": if reason == "Evicted" { json!("Evicted") } else { Value::Null },
                "containerStatuses": [{"name": "", "ready": ready, "restartCount": restarts, "state": state}],
            });
            if let Some(node) = get("NODE") {
                object["spec"] = json!({"nodeName": node});
            }
        }
        "Node" => {
            let s = status.unwrap_or("");
            let ready = s.split(',').next() == Some("Ready");
            object["status"] = json!({"conditions": [
                {"type": "Ready", "status": if ready { "True" } else { "False" }, "reason": s}
            ]});
        }
        "PersistentVolumeClaim" => {
            object["status"] = json!({"phase": status});
            object["spec"] =
                json!({"storageClassName": get("STORAGECLASS"), "volumeName": get("VOLUME")});
        }
        "Job" => {
            object["status"] = json!({"state": status, "completions": get("COMPLETIONS")});
        }
        "Deployment" | "StatefulSet" | "ReplicaSet" | "DaemonSet" => {
            let ready = get("READY").or_else(|| get("AVAILABLE"));
            object["status"] = json!({"ready": ready});
        }
        _ => {
            if let Some(s) = status {
                object["status"] = json!({"phase": s});
            }
        }
    }
    Some(object)
}

/// The kind a table's columns imply.
fn guess_kind<'a>(get: &dyn Fn(&str) -> Option<&'a str>) -> String {
    let has = |c: &str| get(c).is_some();
    if has("RESTARTS") {
        "Pod"
    } else if has("ROLES") || has("VERSION") && has("STATUS") && !has("READY") {
        "Node"
    } else if has("STORAGECLASS") && has("ACCESS MODES") {
        "PersistentVolumeClaim"
    } else if has("COMPLETIONS") {
        "Job"
    } else if has("UP-TO-DATE") {
        "Deployment"
    } else if has("CLUSTER-IP") {
        "Service"
    } else {
        "Unknown"
    }
    .to_string()
}
