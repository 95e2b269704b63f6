//! Kubernetes misconfiguration faults (exolightor/k8s-fault-dataset, MIT): per fault folder
//! `faults/fN/` the faulty manifests (`inject/`), the reference fix (`restore/`), the incident as
//! shown to an operator (`prompt.txt`) and the affected workload's label selector (`labels.txt`);
//! `data/faults.json` holds category, event reason and the reference root cause.
//!
//! Fair input, per bundle `out/k8s-<folder>/`:
//! - `configs/`: every `inject/` file copied byte for byte, plus the affected object's live
//!   manifest from `prompt.txt` (`configs/live-<name>.yaml`).
//! - `logs/events.jsonl`: the event text of `prompt.txt` (the `Error:` paragraph, never the
//!   `Solution:` that follows it, which is the reference root cause) as Kubernetes-event-like JSON
//!   lines (`time`, `level`, `service`, `msg`, plus `reason`, `type`, `object`, `namespace`,
//!   `count`), repeated inside the window the way the event recorder re-emits a failing event.
//!
//! Synthetic parts: the dataset has no clock, so every bundle uses the same fixed times
//! ([`START`], a ten-minute window and the ten minutes before it as the baseline), and the
//! baseline holds normal rollout events (`ScalingReplicaSet`, `Scheduled`, `Pulled`, `Created`,
//! `Started`) generated from the workloads in the manifests, so that the incident's warnings
//! have something healthy to be compared with. They are labelled `"synthetic": true`.
//!
//! Ground truth goes to `truth.json` only: the reference root cause, category, event reason,
//! the workload of `labels.txt` as `root_cause_service`, the objects the reference fix patches
//! as `root_cause_entity`, and generic rootline fault types. `restore/` is read for the truth
//! only and nothing of it is copied. Titles are neutral ("Kubernetes workload failure (k8s-f3)").

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rootline_core::{Incident, TimeWindow};
use serde::Deserialize;
use serde_json::json;
use yaml_rust2::{Yaml, YamlLoader};

use crate::{ImportError, ImportSummary, io_err};

/// The incident start every bundle uses (the dataset has no timestamps).
pub const START: &str = "2024-01-01T00:10:00Z";
/// Window and baseline length.
pub const WINDOW_MINUTES: i64 = 10;
/// Seconds after the start at which the failing event is (re-)emitted; the recorder backs off.
const EVENT_OFFSETS_SECS: &[i64] = &[30, 90, 210, 450];
/// Minutes after the baseline start of the synthetic healthy rollouts.
const BASELINE_ROLLOUTS_MIN: &[i64] = &[1, 5];
/// Workload kinds whose pods get synthetic baseline events.
const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
    "Job",
];

#[derive(Debug, Deserialize)]
struct Fault {
    id: u64,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    error: String,
    #[serde(default)]
    reference_root_cause: String,
    #[serde(default)]
    docs: String,
}

/// What `prompt.txt` says that an operator would see: the affected object, its manifest and
/// the event message.
#[derive(Debug, Default, PartialEq)]
struct Prompt {
    kind: String,
    name: String,
    namespace: String,
    manifest: String,
    error: String,
}

/// A workload named by a manifest.
#[derive(Debug, Clone, PartialEq)]
struct Workload {
    kind: String,
    name: String,
    namespace: String,
    containers: Vec<(String, String)>,
}

/// Imports every `faults/f<N>/` folder of `src` (or only `only_case`: `f3`, `k8s-f3` or `3`)
/// into `out/k8s-f<N>/`.
pub fn import(
    src: &Path,
    out: &Path,
    only_case: Option<&str>,
) -> Result<ImportSummary, ImportError> {
    let faults_path = src.join("data").join("faults.json");
    let text = std::fs::read_to_string(&faults_path).map_err(|e| io_err(&faults_path, e))?;
    let faults: Vec<Fault> = serde_json::from_str(&text).map_err(|e| ImportError::Bad {
        path: faults_path.clone(),
        line: e.line() as u64,
        message: e.to_string(),
    })?;
    let folders = fault_folders(&src.join("faults"))?;
    let wanted = only_case.map(|c| {
        let c = c.trim_start_matches("k8s-");
        if c.starts_with('f') {
            c.to_string()
        } else {
            format!("f{c}")
        }
    });
    let mut summary = ImportSummary::default();
    for (n, dir) in &folders {
        let folder = format!("f{n}");
        if wanted.as_ref().is_some_and(|w| *w != folder) {
            continue;
        }
        let fault = faults.iter().find(|f| f.id == *n);
        import_fault(dir, &folder, fault, out, &mut summary)?;
    }
    if let Some(w) = wanted
        && summary.bundles.is_empty()
    {
        return Err(ImportError::NoSuchCase(w));
    }
    Ok(summary)
}

/// `faults/f<N>` folders, by number.
fn fault_folders(dir: &Path) -> Result<Vec<(u64, PathBuf)>, ImportError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(n) = name.strip_prefix('f').and_then(|d| d.parse::<u64>().ok()) else {
            continue;
        };
        if entry.path().is_dir() {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn import_fault(
    dir: &Path,
    folder: &str,
    fault: Option<&Fault>,
    out: &Path,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let prompt_path = dir.join("prompt.txt");
    let prompt_text = std::fs::read_to_string(&prompt_path).map_err(|e| io_err(&prompt_path, e))?;
    let prompt = parse_prompt(&prompt_text);
    if prompt.error.is_empty() {
        return Err(io_err(&prompt_path, "no `Error:` line"));
    }

    // Workloads: the live manifest of the prompt, then the workload patches of inject/.
    let mut workloads = workloads_in(&prompt.manifest, &prompt.namespace);
    let inject = dir.join("inject");
    let inject_files = list_files(&inject)?;
    for f in &inject_files {
        if f.file_name().is_some_and(|n| n == "kustomization.yaml") {
            let text = std::fs::read_to_string(f).map_err(|e| io_err(f, e))?;
            for patch in kustomization_patches(&text) {
                for w in workloads_in(&patch, &prompt.namespace) {
                    if !workloads
                        .iter()
                        .any(|x| x.kind == w.kind && x.name == w.name)
                    {
                        workloads.push(w);
                    }
                }
            }
        }
    }
    let service = affected_service(&prompt, &workloads);

    let bundle_id = format!("k8s-{folder}");
    let bdir = out.join(&bundle_id);
    let configs = bdir.join("configs");
    let logs = bdir.join("logs");
    for d in [&configs, &logs] {
        std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    for f in &inject_files {
        let Some(name) = f.file_name() else { continue };
        let to = configs.join(name);
        std::fs::copy(f, &to).map_err(|e| io_err(&to, e))?;
    }
    if !prompt.manifest.trim().is_empty() {
        let to = configs.join(format!("live-{}.yaml", safe_name(&prompt.name)));
        std::fs::write(&to, format!("{}\n", prompt.manifest.trim_end()))
            .map_err(|e| io_err(&to, e))?;
    }

    let start = fixed_start();
    let end = start + Duration::minutes(WINDOW_MINUTES);
    let baseline = start - Duration::minutes(WINDOW_MINUTES);
    // faults.json is ground truth: its event reason goes to truth.json only. The event line
    // carries what prompt.txt (fair input) shows: the error text.
    let truth_reason = fault
        .map(|f| f.event.clone())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "Failed".to_string());
    let reason = "Failed";
    let mut lines = baseline_events(&workloads, baseline);
    for (i, secs) in EVENT_OFFSETS_SECS.iter().enumerate() {
        lines.push(json!({
            "time": rfc3339(start + Duration::seconds(*secs)),
            "level": "warn",
            "service": service,
            "msg": prompt.error,
            "type": "Warning",
            "reason": reason,
            "object": format!("{}/{}", prompt.kind, prompt.name),
            "namespace": prompt.namespace,
            "count": i + 1,
        }));
    }
    let events_path = logs.join("events.jsonl");
    let mut body = String::new();
    for l in &lines {
        body.push_str(&l.to_string());
        body.push('\n');
    }
    std::fs::write(&events_path, body).map_err(|e| io_err(&events_path, e))?;
    summary.records += lines.len() as u64;

    let incident = Incident {
        id: bundle_id.clone(),
        title: format!("Kubernetes workload failure ({bundle_id})"),
        description: format!(
            "{} {} in namespace {} is failing; cause unknown.",
            prompt.kind, prompt.name, prompt.namespace
        ),
        start,
        end: Some(end),
        services: vec![],
        alert: None,
        baseline_windows: vec![TimeWindow {
            start: baseline,
            end: start,
        }],
    };
    let value = serde_json::to_value(&incident).map_err(|e| io_err(&bdir, e))?;
    write_json(&bdir.join("incident.json"), &value)?;

    let labels_path = dir.join("labels.txt");
    let selector = std::fs::read_to_string(&labels_path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let labelled = selector
        .split(',')
        .find_map(|kv| kv.trim().strip_prefix("app="))
        .map(str::to_string);
    let fix_targets = restore_targets(&dir.join("restore"))?;
    let error = fault.map(|f| f.error.as_str()).unwrap_or(&prompt.error);
    let truth = json!({
        "source": "k8s_fault_configs",
        "case_id": folder,
        "fault_id": fault.map(|f| f.id),
        "object_kind": fault.map(|f| f.kind.clone()),
        "category": fault.map(|f| f.category.clone()),
        "event": fault.map(|f| f.event.clone()),
        "error": error,
        "reference_root_cause": fault.map(|f| f.reference_root_cause.clone()),
        "docs": fault.map(|f| f.docs.clone()),
        "label_selector": selector,
        "root_cause_service": labelled.or_else(|| Some(service.clone())),
        "root_cause_entity": fix_targets.first(),
        "fix_targets": fix_targets,
        "fault_type": fault.map(|f| format!("{}/{}", f.category, f.event)),
        "fault_type_rootline": rootline_fault_types(&truth_reason, error),
        "no_fault": false,
    });
    write_json(&bdir.join("truth.json"), &truth)?;
    std::fs::write(bdir.join("ATTRIBUTION.md"), ATTRIBUTION).map_err(|e| io_err(&bdir, e))?;
    summary.bundles.push(bdir.display().to_string());
    Ok(())
}

const ATTRIBUTION: &str = "\
Derived from exolightor/k8s-fault-dataset (commit 30db60e), MIT licence, Copyright (c) 2025 exolightor.
configs/ are the dataset's manifests as published; logs/events.jsonl is the dataset's event text
placed at synthetic times, with synthetic healthy rollout events in the baseline window.
";

/// Maps an event reason and message to generic rootline fault types. Every fault of the dataset
/// is a manifest misconfiguration (`config_change`); the resource it concerns comes first.
pub fn rootline_fault_types(reason: &str, message: &str) -> Vec<&'static str> {
    let m = message.to_ascii_lowercase();
    let mut out = Vec::new();
    if reason == "OOMKilled" || m.contains("oomkilled") || m.contains("memory") {
        out.push("memory");
    }
    if m.contains("cpu") {
        out.push("cpu");
    }
    out.push("config_change");
    out
}

/// Splits `prompt.txt`: "Affected by the issue is the <Kind> with the name <name> in the
/// namespace <ns>.", a fenced YAML block, then "Error: …" up to "Solution: …" (dropped).
fn parse_prompt(text: &str) -> Prompt {
    let mut p = Prompt::default();
    if let Some(first) = text.lines().next() {
        let words: Vec<&str> = first.split_whitespace().collect();
        let after = |w: &str| {
            words
                .windows(2)
                .find(|p| p[0] == w)
                .map(|p| p[1].trim_end_matches(['.', ',']).to_string())
        };
        p.kind = words
            .windows(2)
            .find(|p| p[1] == "with")
            .map(|p| p[0].to_string())
            .unwrap_or_default();
        p.name = after("name").unwrap_or_default();
        p.namespace = after("namespace").unwrap_or_default();
    }
    if let Some((_, rest)) = text.split_once("```yaml")
        && let Some((yaml, _)) = rest.split_once("```")
    {
        p.manifest = yaml.trim_start_matches(['\r', '\n']).to_string();
    }
    let mut error = Vec::new();
    let mut in_error = false;
    for line in text.lines() {
        if let Some(e) = line.strip_prefix("Error:") {
            in_error = true;
            error.push(e.trim().to_string());
        } else if line.starts_with("Solution:") {
            break;
        } else if in_error && !line.trim().is_empty() {
            error.push(line.trim().to_string());
        }
    }
    p.error = error.join(" ");
    p
}

/// Workload objects in a (multi-document) YAML text.
fn workloads_in(text: &str, default_ns: &str) -> Vec<Workload> {
    let Ok(docs) = YamlLoader::load_from_str(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for doc in &docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let Some(name) = doc["metadata"]["name"].as_str() else {
            continue;
        };
        if !WORKLOAD_KINDS.contains(&kind) {
            continue;
        }
        let pod_spec = if kind == "Pod" {
            &doc["spec"]
        } else {
            &doc["spec"]["template"]["spec"]
        };
        let containers = match &pod_spec["containers"] {
            Yaml::Array(cs) => cs
                .iter()
                .filter_map(|c| {
                    let name = c["name"].as_str()?.to_string();
                    let image = c["image"].as_str().unwrap_or(&name).to_string();
                    Some((name, image))
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push(Workload {
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_ns)
                .to_string(),
            containers,
        });
    }
    out
}

/// The inline patches of a kustomization (`patches[].patch`).
fn kustomization_patches(text: &str) -> Vec<String> {
    let Ok(docs) = YamlLoader::load_from_str(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for doc in &docs {
        if let Yaml::Array(ps) = &doc["patches"] {
            out.extend(
                ps.iter()
                    .filter_map(|p| p["patch"].as_str().map(str::to_string)),
            );
        }
    }
    out
}

/// `Kind/name` of every object the reference fix patches (truth only).
fn restore_targets(dir: &Path) -> Result<Vec<String>, ImportError> {
    let path = dir.join("kustomization.yaml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for patch in kustomization_patches(&text) {
        let Ok(docs) = YamlLoader::load_from_str(&patch) else {
            continue;
        };
        for d in &docs {
            if let (Some(k), Some(n)) = (d["kind"].as_str(), d["metadata"]["name"].as_str()) {
                let t = format!("{k}/{n}");
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    Ok(out)
}

/// The workload the event's object belongs to: a manifest workload whose name is the object's
/// name or a prefix of it (`recommendationservice-gzqrtmkzng-xtp7v`), otherwise the object name
/// without the generated suffixes Kubernetes appends for ReplicaSets and their pods.
fn affected_service(prompt: &Prompt, workloads: &[Workload]) -> String {
    let obj = prompt.name.as_str();
    if let Some(w) = workloads
        .iter()
        .filter(|w| obj == w.name || obj.starts_with(&format!("{}-", w.name)))
        .max_by_key(|w| w.name.len())
    {
        return w.name.clone();
    }
    let strip = match prompt.kind.as_str() {
        "Pod" => 2,
        "ReplicaSet" => 1,
        _ => 0,
    };
    let parts: Vec<&str> = obj.split('-').collect();
    if parts.len() > strip {
        parts[..parts.len() - strip].join("-")
    } else {
        obj.to_string()
    }
}

/// Synthetic healthy rollouts of every workload in the baseline window.
fn baseline_events(workloads: &[Workload], baseline: DateTime<Utc>) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (round, minute) in BASELINE_ROLLOUTS_MIN.iter().enumerate() {
        for w in workloads {
            let t0 = baseline + Duration::minutes(*minute);
            let rs = format!("{}-rev{}", w.name, round + 1);
            let pod = if w.kind == "Pod" {
                w.name.clone()
            } else {
                format!("{rs}-pod")
            };
            let mut ev = |secs: i64, reason: &str, object: String, msg: String| {
                out.push(json!({
                    "time": rfc3339(t0 + Duration::seconds(secs)),
                    "level": "info",
                    "service": w.name,
                    "msg": msg,
                    "type": "Normal",
                    "reason": reason,
                    "object": object,
                    "namespace": w.namespace,
                    "count": 1,
                    "synthetic": true,
                }));
            };
            if w.kind != "Pod" {
                ev(
                    0,
                    "ScalingReplicaSet",
                    format!("{}/{}", w.kind, w.name),
                    format!("Scaled up replica set {rs} to 1"),
                );
            }
            ev(
                1,
                "Scheduled",
                format!("Pod/{pod}"),
                format!("Successfully assigned {}/{pod} to a node", w.namespace),
            );
            for (c, image) in &w.containers {
                ev(
                    2,
                    "Pulled",
                    format!("Pod/{pod}"),
                    format!("Container image \"{image}\" already present on machine"),
                );
                ev(
                    3,
                    "Created",
                    format!("Pod/{pod}"),
                    format!("Created container {c}"),
                );
                ev(
                    4,
                    "Started",
                    format!("Pod/{pod}"),
                    format!("Started container {c}"),
                );
            }
        }
    }
    out
}

fn list_files(dir: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        if entry.path().is_file() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn fixed_start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(START)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc.timestamp_nanos(0))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), ImportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io_err(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| io_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "Affected by the issue is the ReplicaSet with the name cart-zl8rl2nq9b in the namespace shop. Here is the corresponding yaml file:\n\n```yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: cart\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: server\n        image: cart\n```.\n\nHere is the error:\n\nError: pods cart-zl8rl2nq9b-hfc7d is forbidden: exceeded quota\nSolution: raise the quota.\nSecond solution line.";

    #[test]
    fn prompt_keeps_event_and_drops_solution() {
        let p = parse_prompt(PROMPT);
        assert_eq!(p.kind, "ReplicaSet");
        assert_eq!(p.name, "cart-zl8rl2nq9b");
        assert_eq!(p.namespace, "shop");
        assert_eq!(
            p.error,
            "pods cart-zl8rl2nq9b-hfc7d is forbidden: exceeded quota"
        );
        assert!(p.manifest.starts_with("apiVersion: apps/v1"));
        assert!(!p.manifest.contains("```"));
        let w = workloads_in(&p.manifest, "x");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].containers, vec![("server".into(), "cart".into())]);
        assert_eq!(affected_service(&p, &w), "cart");
        // Without a manifest the generated suffix is stripped.
        assert_eq!(affected_service(&p, &[]), "cart");
    }

    #[test]
    fn fault_type_mapping() {
        assert_eq!(
            rootline_fault_types("OOMKilled", "the last termination reason is OOMKilled"),
            vec!["memory", "config_change"]
        );
        assert_eq!(
            rootline_fault_types("FailedScheduling", "1 Insufficient cpu."),
            vec!["cpu", "config_change"]
        );
        assert_eq!(
            rootline_fault_types("FailedScheduling", "untolerated taint"),
            vec!["config_change"]
        );
    }
}
