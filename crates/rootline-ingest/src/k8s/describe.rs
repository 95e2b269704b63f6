//! `kubectl describe` text into objects in API shape. describe prints an indented tree of
//! `Key:  value` lines with tables (`Conditions`, `Events`) and continuation lines (more labels,
//! more annotations) inside it; its layout changes a little between kubectl versions, so the
//! tree is read by indentation, not by column, and fields are looked up by name: a field this
//! reader does not know is skipped, never an error.
//!
//! Kinds: `Pod` (containers and init containers with state, last state, exit code, restarts,
//! limits, requests, probes, env references; phase, node, owner), `Node` (conditions),
//! `PersistentVolumeClaim` (phase, storage class), workloads (`Deployment`, `StatefulSet`,
//! `ReplicaSet`, `DaemonSet`, `Job`: replicas, pod template containers), `Service` (selector),
//! and for every kind its labels and its `Events` table (core/v1 Events about it, ages counted
//! back from the capture time).

use rootline_core::k8s::{ObjectRef, canonical_kind};
use serde_json::{Map, Value, json};

use super::{CaptureOptions, event_object, parse_event_age};

/// `(object, line, approximate)` per object and event; `(line, reason)` per problem.
pub(super) type Read = (Vec<(Value, u64, bool)>, Vec<(u64, String)>);

#[derive(Debug, Default)]
struct Node {
    key: String,
    value: String,
    line: u64,
    indent: usize,
    children: Vec<Node>,
    /// Lines under this key that are not `Key: value` (table rows, more labels).
    rows: Vec<(u64, String)>,
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.key == key)
    }
    fn val(&self, key: &str) -> Option<&str> {
        self.get(key)
            .map(|n| n.value.as_str())
            .filter(|v| !v.is_empty() && *v != "<none>" && *v != "<unset>")
    }
}

pub(super) fn read(text: &str, options: &CaptureOptions) -> Read {
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    for block in blocks(text) {
        let root = tree(&block);
        let Some(name) = root.val("Name") else {
            problems.push((
                block.first().map(|l| l.0).unwrap_or(1),
                "a describe block without Name".into(),
            ));
            continue;
        };
        let kind = options
            .kind
            .as_deref()
            .map(canonical_kind)
            .unwrap_or_else(|| guess_kind(&root));
        let namespace = root
            .val("Namespace")
            .map(str::to_string)
            .or_else(|| options.namespace.clone());
        let line = root.get("Name").map(|n| n.line).unwrap_or(1);
        let mut meta = Map::new();
        meta.insert("name".into(), json!(name));
        if let Some(ns) = &namespace {
            meta.insert("namespace".into(), json!(ns));
        }
        meta.insert(
            "labels".into(),
            Value::Object(pairs(root.get("Labels"), '=')),
        );
        if let Some(owner) = root.val("Controlled By").and_then(|o| o.split_once('/')) {
            meta.insert(
                "ownerReferences".into(),
                json!([{"kind": canonical_kind(owner.0), "name": owner.1, "controller": true}]),
            );
        }
        let mut object = json!({"kind": kind, "metadata": meta});
        match kind.as_str() {
            "Pod" => pod(&root, &mut object),
            "Node" => {
                let allocatable: Map<String, Value> = root
                    .get("Allocatable")
                    .map(|n| {
                        n.children
                            .iter()
                            .map(|c| (c.key.clone(), json!(c.value)))
                            .collect()
                    })
                    .unwrap_or_default();
                // `Non-terminated Pods:  (17 in total)`
                let pods = root
                    .val("Non-terminated Pods")
                    .and_then(|v| v.trim_start_matches('(').split_whitespace().next())
                    .and_then(|n| n.parse::<u64>().ok());
                object["status"] = json!({
                    "conditions": conditions(root.get("Conditions")),
                    "allocatable": allocatable,
                    "podCount": pods,
                });
            }
            "PersistentVolumeClaim" => {
                object["spec"] = json!({"storageClassName": root.val("StorageClass"), "volumeName": root.val("Volume")});
                object["status"] = json!({"phase": root.val("Status")});
            }
            "Service" => {
                object["spec"] =
                    json!({"selector": pairs_inline(root.val("Selector").unwrap_or(""))});
            }
            k if rootline_core::k8s::is_workload_kind(k) => workload(&root, &mut object),
            _ => {}
        }
        objects.push((object, line, false));
        let involved = ObjectRef::new(&kind, namespace.as_deref(), name);
        for (event, l) in events(root.get("Events"), &involved, options) {
            objects.push((event, l, true));
        }
    }
    (objects, problems)
}

/// Lines split into one block per described object (each starts with `Name:` at column 0).
fn blocks(text: &str) -> Vec<Vec<(u64, &str)>> {
    let mut out: Vec<Vec<(u64, &str)>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("Name:") || out.is_empty() {
            out.push(Vec::new());
        }
        if let Some(b) = out.last_mut() {
            b.push((i as u64 + 1, line));
        }
    }
    out
}

/// `Key:  value` when the key is a few words without double spaces, `/` or `=` (those are
/// continuation lines or table rows).
fn key_value(text: &str) -> Option<(&str, &str)> {
    let (k, v) = match text.find(": ") {
        Some(p) => (&text[..p], &text[p + 2..]),
        None => (text.strip_suffix(':')?, ""),
    };
    let ok = !k.is_empty()
        && k.split(' ').count() <= 4
        && !k.contains("  ")
        && !k.contains(['/', '=', '"', '(', ','])
        && k.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    ok.then(|| (k.trim(), v.trim()))
}

fn tree(lines: &[(u64, &str)]) -> Node {
    let mut root = Node::default();
    // Path of child indices from the root to the current open node.
    let mut path: Vec<usize> = Vec::new();
    for &(line_no, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        // Close nodes at this indent or deeper.
        while let Some(node) = node_at(&root, &path)
            && node.indent >= indent
        {
            path.pop();
        }
        let parent = node_at_mut(&mut root, &path);
        let continues_value = !parent.value.is_empty() && !path.is_empty();
        match key_value(text) {
            Some((k, v)) if !(continues_value && looks_like_row(&parent.key)) => {
                parent.children.push(Node {
                    key: k.to_string(),
                    value: v.to_string(),
                    line: line_no,
                    indent,
                    ..Node::default()
                });
                let i = parent.children.len() - 1;
                path.push(i);
            }
            _ => parent.rows.push((line_no, text.to_string())),
        }
    }
    root
}

/// Keys whose continuation lines look like `key: value` (annotations, labels) but are values.
fn looks_like_row(key: &str) -> bool {
    matches!(
        key,
        "Annotations" | "Labels" | "Selector" | "Tolerations" | "Node-Selectors"
    )
}

fn node_at<'a>(root: &'a Node, path: &[usize]) -> Option<&'a Node> {
    let mut n = root;
    for &i in path {
        n = n.children.get(i)?;
    }
    (!path.is_empty()).then_some(n)
}

fn node_at_mut<'a>(root: &'a mut Node, path: &[usize]) -> &'a mut Node {
    let mut n = root;
    for &i in path {
        n = &mut n.children[i];
    }
    n
}

/// `a=b` pairs of a node's value and continuation rows (labels, node selectors).
fn pairs(node: Option<&Node>, sep: char) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(n) = node {
        for v in std::iter::once(n.value.as_str()).chain(n.rows.iter().map(|r| r.1.as_str())) {
            if let Some((k, v)) = v.split_once(sep) {
                m.insert(k.trim().to_string(), json!(v.trim()));
            }
        }
    }
    m
}

fn pairs_inline(s: &str) -> Map<String, Value> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), json!(v.trim())))
        .collect()
}

fn guess_kind(root: &Node) -> String {
    let has = |k: &str| root.get(k).is_some();
    if has("Containers") && (has("Node") || has("IP")) {
        "Pod"
    } else if has("Kubelet Version") || has("System Info") || has("Taints") && has("Addresses") {
        "Node"
    } else if has("StorageClass") && has("Access Modes") {
        "PersistentVolumeClaim"
    } else if has("Completions") || has("Pods Statuses") && has("Backoff Limit") {
        "Job"
    } else if has("StrategyType") {
        "Deployment"
    } else if has("TargetPort") || has("Endpoints") && has("Selector") {
        "Service"
    } else if has("Pods Status") && has("Replicas") {
        "StatefulSet"
    } else {
        "Unknown"
    }
    .to_string()
}

/// A describe time (`Tue, 12 Aug 2025 05:45:20 +0200`) as RFC 3339.
fn time(s: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339())
}

/// A container state node (`State: Waiting` with `Reason`, `Exit Code`, `Started`, `Finished`).
fn state(node: Option<&Node>) -> Value {
    let Some(n) = node else { return json!({}) };
    let mut inner = Map::new();
    if let Some(r) = n.val("Reason") {
        inner.insert("reason".into(), json!(r));
    }
    if let Some(m) = n.val("Message") {
        inner.insert("message".into(), json!(m));
    }
    if let Some(c) = n.val("Exit Code").and_then(|c| c.parse::<i64>().ok()) {
        inner.insert("exitCode".into(), json!(c));
    }
    if let Some(t) = n.val("Started").and_then(time) {
        inner.insert("startedAt".into(), json!(t));
    }
    if let Some(t) = n.val("Finished").and_then(time) {
        inner.insert("finishedAt".into(), json!(t));
    }
    match n.value.as_str() {
        "Waiting" => json!({"waiting": inner}),
        "Terminated" => json!({"terminated": inner}),
        "Running" => json!({"running": inner}),
        _ => json!({}),
    }
}

/// `http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3` as a
/// probe (the handler's port and path, and the raw text).
fn probe(s: &str) -> Value {
    let mut p = Map::new();
    p.insert("describe".into(), json!(s));
    let mut words = s.split_whitespace();
    match words.next() {
        Some("http-get") => {
            if let Some(url) = words.next() {
                let rest = url.split("://").nth(1).unwrap_or(url);
                let (hostport, path) = rest.split_once('/').unwrap_or((rest, ""));
                let port = hostport.rsplit(':').next().unwrap_or("");
                p.insert(
                    "httpGet".into(),
                    json!({"port": port_value(port), "path": format!("/{path}")}),
                );
            }
        }
        Some("tcp-socket") => {
            if let Some(hp) = words.next() {
                let port = hp.rsplit(':').next().unwrap_or("");
                p.insert("tcpSocket".into(), json!({"port": port_value(port)}));
            }
        }
        Some("exec") => {
            p.insert(
                "exec".into(),
                json!({"command": words.collect::<Vec<_>>().join(" ")}),
            );
        }
        _ => {}
    }
    Value::Object(p)
}

fn port_value(p: &str) -> Value {
    p.parse::<i64>()
        .map(|n| json!(n))
        .unwrap_or_else(|_| json!(p))
}

/// Containers of a `Containers:` / `Init Containers:` node: spec and status.
fn containers(node: Option<&Node>) -> (Vec<Value>, Vec<Value>) {
    let (mut specs, mut statuses) = (Vec::new(), Vec::new());
    for c in node.map(|n| n.children.as_slice()).unwrap_or(&[]) {
        let mut spec = Map::new();
        spec.insert("name".into(), json!(c.key));
        if let Some(i) = c.val("Image") {
            spec.insert("image".into(), json!(i));
        }
        let mut resources = Map::new();
        for (k, out) in [("Limits", "limits"), ("Requests", "requests")] {
            if let Some(n) = c.get(k) {
                let m: Map<String, Value> = n
                    .children
                    .iter()
                    .map(|r| (r.key.clone(), json!(r.value)))
                    .collect();
                resources.insert(out.into(), Value::Object(m));
            }
        }
        spec.insert("resources".into(), Value::Object(resources));
        for (k, out) in [
            ("Liveness", "livenessProbe"),
            ("Readiness", "readinessProbe"),
            ("Startup", "startupProbe"),
        ] {
            if let Some(v) = c.val(k) {
                spec.insert(out.into(), probe(v));
            }
        }
        if let Some(p) = c
            .val("Port")
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse::<i64>().ok())
        {
            spec.insert("ports".into(), json!([{"containerPort": p}]));
        }
        let command: Vec<String> = c
            .get("Command")
            .map(|n| {
                std::iter::once(n.value.clone())
                    .chain(n.rows.iter().map(|r| r.1.clone()))
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if !command.is_empty() {
            spec.insert("command".into(), json!(command));
        }
        if let Some(env) = c.get("Environment") {
            let vars: Vec<Value> = env
                .children
                .iter()
                .map(|v| json!({"name": v.key, "describe": v.value}))
                .collect();
            spec.insert("env".into(), json!(vars));
        }
        specs.push(Value::Object(spec));
        if c.get("State").is_some() || c.get("Restart Count").is_some() {
            statuses.push(json!({
                "name": c.key,
                "image": c.val("Image"),
                "ready": c.val("Ready") == Some("True"),
                "restartCount": c.val("Restart Count").and_then(|r| r.parse::<u64>().ok()).unwrap_or(0),
                "state": state(c.get("State")),
                "lastState": state(c.get("Last State")),
            }));
        }
    }
    (specs, statuses)
}

fn pod(root: &Node, object: &mut Value) {
    let (specs, statuses) = containers(root.get("Containers"));
    let (init_specs, init_statuses) = containers(root.get("Init Containers"));
    object["spec"] = json!({
        "nodeName": root.val("Node").map(|n| n.split('/').next().unwrap_or(n)),
        "containers": specs,
        "initContainers": init_specs,
        "nodeSelector": pairs(root.get("Node-Selectors"), '='),
        "volumes": volumes(root.get("Volumes")),
    });
    object["status"] = json!({
        "phase": root.val("Status"),
        "reason": root.val("Reason"),
        "message": root.val("Message"),
        "startTime": root.val("Start Time").and_then(time),
        "containerStatuses": statuses,
        "initContainerStatuses": init_statuses,
        "conditions": conditions(root.get("Conditions")),
    });
}

/// `Volumes:` entries: `Type: PersistentVolumeClaim` with `ClaimName`, `Type: ConfigMap` with
/// `Name`, `Type: Secret` with `SecretName` (and `Optional`).
fn volumes(node: Option<&Node>) -> Vec<Value> {
    let mut out = Vec::new();
    for v in node.map(|n| n.children.as_slice()).unwrap_or(&[]) {
        let ty = v.val("Type").unwrap_or("");
        let optional = v.val("Optional") == Some("true");
        if ty.starts_with("PersistentVolumeClaim") {
            if let Some(c) = v.val("ClaimName") {
                out.push(json!({"name": v.key, "persistentVolumeClaim": {"claimName": c}}));
            }
        } else if ty.starts_with("ConfigMap") {
            if let Some(c) = v.val("Name") {
                out.push(json!({"name": v.key, "configMap": {"name": c, "optional": optional}}));
            }
        } else if ty.starts_with("Secret")
            && let Some(c) = v.val("SecretName")
        {
            out.push(json!({"name": v.key, "secret": {"secretName": c, "optional": optional}}));
        }
    }
    out
}

fn workload(root: &Node, object: &mut Value) {
    let template = root.get("Pod Template");
    let (specs, _) = containers(template.and_then(|t| t.get("Containers")));
    let (init_specs, _) = containers(template.and_then(|t| t.get("Init Containers")));
    let labels = pairs(template.and_then(|t| t.get("Labels")), '=');
    let replicas = root.val("Replicas").unwrap_or("");
    let count = |word: &str| {
        replicas
            .split('|')
            .find(|p| p.contains(word))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse::<i64>().ok())
    };
    object["spec"] = json!({
        "replicas": count("desired"),
        "selector": {"matchLabels": pairs_inline(root.val("Selector").unwrap_or(""))},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": specs, "initContainers": init_specs}},
        "backoffLimit": root.val("Backoff Limit").and_then(|b| b.parse::<i64>().ok()),
    });
    object["status"] = json!({
        "replicas": count("total"),
        "availableReplicas": count("available"),
        "unavailableReplicas": count("unavailable"),
        "podsStatuses": root.val("Pods Statuses"),
        "conditions": conditions(root.get("Conditions")),
    });
}

/// A conditions table (`Type  Status  [LastHeartbeatTime  LastTransitionTime]  Reason  Message`)
/// or a two-column one (`Type  Status`).
fn conditions(node: Option<&Node>) -> Vec<Value> {
    let Some(n) = node else { return Vec::new() };
    let Some(header) = n.rows.first().map(|r| r.1.as_str()) else {
        return Vec::new();
    };
    let columns = column_starts(header);
    n.rows
        .iter()
        .skip(1)
        .filter(|r| !r.1.starts_with("----"))
        .map(|(_, row)| {
            let cell = |name: &str| cell(row, &columns, name);
            json!({"type": cell("Type"), "status": cell("Status"), "reason": cell("Reason"), "message": cell("Message")})
        })
        .collect()
}

fn column_starts(header: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut prev_space = true;
    for (i, c) in header.char_indices() {
        if c != ' ' && prev_space {
            out.push((
                header[i..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
                i,
            ));
        }
        prev_space = c == ' ';
    }
    out
}

/// The cell of `name` in a row whose columns start where the header's words do (rows are
/// trimmed like the header, so offsets line up).
fn cell(row: &str, columns: &[(String, usize)], name: &str) -> String {
    let Some(k) = columns.iter().position(|c| c.0 == name) else {
        return String::new();
    };
    let start = columns[k].1.min(row.len());
    let end = columns
        .get(k + 1)
        .map(|c| c.1)
        .unwrap_or(usize::MAX)
        .min(row.len());
    if !row.is_char_boundary(start) || !row.is_char_boundary(end) || start >= end {
        return String::new();
    }
    row[start..end].trim().to_string()
}

/// The `Events:` table of a described object.
fn events(
    node: Option<&Node>,
    involved: &ObjectRef,
    options: &CaptureOptions,
) -> Vec<(Value, u64)> {
    let Some(n) = node else { return Vec::new() };
    let Some((_, header)) = n.rows.first() else {
        return Vec::new();
    };
    let columns = column_starts(header);
    let at = options.captured_at_ns;
    let mut out = Vec::new();
    for (seq, (line, row)) in n.rows.iter().skip(1).enumerate() {
        if row.starts_with("----") {
            continue;
        }
        let age = cell(row, &columns, "Age");
        let (last, count, first) = parse_event_age(&age).unwrap_or((0, 1, 0));
        out.push((
            event_object(
                &cell(row, &columns, "Type"),
                &cell(row, &columns, "Reason"),
                involved,
                &cell(row, &columns, "Message"),
                count,
                at - first,
                at - last,
                seq,
            ),
            *line,
        ));
    }
    out
}
