//! Kubernetes-state RCA cases (k8s_state_holmesgpt: HolmesGPT's recorded kubectl outputs and
//! scenario manifests, Apache-2.0) into bundles whose `k8s/` holds the captures as kubectl
//! printed them.
//!
//! Per case folder `cases/<case>/` (fair input per the dataset's PROVENANCE.md: `question`,
//! `affected`, `fixtures/`, `request/`, `manifests/`):
//! - every recorded tool output in `fixtures/` loses the two JSON header lines the mock
//!   framework adds and the `stdout:`/`stderr:` and `Command … failed` wrappers around the
//!   kubectl text; Kubernetes state tools go to `k8s/<file>`, container logs (any `*logs*`
//!   tool) to `k8s/<namespace>/<pod>.log`. Tools that are not Kubernetes state (web pages,
//!   ArgoCD, Prometheus rules, Robusta findings, lineage trees, `grep` output without a
//!   header, `kubectl top` that failed) are left out and counted;
//! - `manifests/*.yaml` are copied to `k8s/manifest-<file>` (the engine parses them: YAML
//!   comments, which state the answer in some cases, are dropped by the parser);
//! - `request/*.json` (the alert) becomes the incident's `alert`.
//!
//! The dataset has no capture time, so every case uses [`CAPTURED_AT`] (synthetic): the window
//! is the hour before it, and relative ages (`49m`) count back from it. The incident's title
//! and description are the question; `services` is the entity the question is about
//! (`affected`), never the culprit. Bundle ids are neutral (`k8s-state-07`): upstream case
//! names often name the fault.
//!
//! Ground truth (`culprit`, `fault_class`, `fault_detail`, `expected_output`) goes to
//! `truth.json` only: `root_cause_entity` is the culprit as `Kind/name`, `root_cause_service`
//! the culprit's workload or object name, `fault_type_rootline` the generic fault types.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::{ImportError, ImportSummary, io_err};

/// Dataset name in `truth.json`.
pub const SOURCE: &str = "k8s_state_holmesgpt";
/// The synthetic capture time of every case.
pub const CAPTURED_AT: &str = "2025-01-01T12:00:00Z";
/// The window is this long and ends at the capture time.
pub const WINDOW_MINUTES: i64 = 60;

/// Tools whose output is Kubernetes state or container logs.
fn is_state_tool(tool: &str) -> bool {
    matches!(
        tool,
        "kubectl_describe"
            | "kubectl_get_by_kind_in_namespace"
            | "kubectl_get_by_name"
            | "kubectl_get_by_kind_in_cluster"
            | "kubectl_get_yaml"
            | "kubectl_events"
    )
}

fn is_log_tool(tool: &str) -> bool {
    tool.contains("logs")
}

/// The kubectl text of a recorded tool output: after the two header lines, without the
/// `stdout:` / `stderr:` wrapper and the `Command … failed … Output:` preamble.
fn body(text: &str) -> (Value, Value, String) {
    let mut lines = text.splitn(3, '\n');
    let h1 = serde_json::from_str(lines.next().unwrap_or("")).unwrap_or(Value::Null);
    let h2 = serde_json::from_str(lines.next().unwrap_or("")).unwrap_or(Value::Null);
    let mut rest = lines.next().unwrap_or("").to_string();
    if rest.starts_with("Command `") {
        rest = rest
            .split_once('\n')
            .map(|(_, r)| r.to_string())
            .unwrap_or_default();
        if let Some(r) = rest.strip_prefix("Output:\n") {
            rest = r.to_string();
        }
    }
    if let Some(s) = rest.strip_prefix("stdout:\n") {
        let (out, err) = s.split_once("\nstderr:").unwrap_or((s, ""));
        // A failed command printed its error on stderr.
        rest = if out.trim().is_empty() {
            err.trim_start_matches('\n').to_string()
        } else {
            out.to_string()
        };
    }
    // A few outputs were recorded as a quoted string.
    let t = rest.trim();
    if let Some(inner) = t.strip_prefix('"') {
        let inner = inner
            .strip_suffix("\",")
            .or_else(|| inner.strip_suffix('"'))
            .unwrap_or(inner);
        rest = inner.to_string();
    }
    // fetch_pod_logs prints a metadata block between rules of `=` before the lines.
    if rest.contains("LOG QUERY METADATA") {
        let rule = |l: &str| l.len() > 10 && l.bytes().all(|b| b == b'=');
        let lines: Vec<&str> = rest.lines().collect();
        let last_rule = lines.iter().rposition(|l| rule(l)).unwrap_or(0);
        rest = lines[last_rule + 1..].join("\n");
    }
    (h1, h2, rest)
}

/// Imports every case under `src` (or only `only_case`, an upstream case id) into
/// `out/k8s-state-NN/`.
pub fn import(
    src: &Path,
    out: &Path,
    only_case: Option<&str>,
) -> Result<ImportSummary, ImportError> {
    let cases_dir = src.join("cases");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&cases_dir)
        .map_err(|e| io_err(&cases_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("case.json").exists())
        .collect();
    cases.sort();
    let mut summary = ImportSummary::default();
    let mut found = false;
    for (i, dir) in cases.iter().enumerate() {
        let case_id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if only_case.is_some_and(|c| c != case_id) {
            continue;
        }
        found = true;
        let id = format!("k8s-state-{:02}", i + 1);
        import_case(dir, &case_id, &out.join(&id), &id, &mut summary)?;
        summary.bundles.push(id);
    }
    match only_case {
        Some(c) if !found => Err(ImportError::NoSuchCase(c.to_string())),
        _ => Ok(summary),
    }
}

fn read_json(path: &Path) -> Result<Value, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| ImportError::Bad {
        path: path.to_path_buf(),
        line: e.line() as u64,
        message: e.to_string(),
    })
}

fn write(path: &Path, text: &str) -> Result<(), ImportError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    std::fs::write(path, text).map_err(|e| io_err(path, e))
}

fn import_case(
    dir: &Path,
    case_id: &str,
    out: &Path,
    id: &str,
    summary: &mut ImportSummary,
) -> Result<(), ImportError> {
    let case = read_json(&dir.join("case.json"))?;
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| io_err(out, e))?;
    }
    let k8s = out.join("k8s");
    let mut files = 0u64;
    let fixtures = dir.join("fixtures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.sort();
    for f in names {
        let text = std::fs::read_to_string(&f).map_err(|e| io_err(&f, e))?;
        let (h1, h2, text) = body(&text);
        let tool = h1["tool_name"].as_str().unwrap_or("");
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_log_tool(tool) {
            if h2["status"] != "success"
                || text.trim().is_empty()
                || text.starts_with("Error from server")
            {
                summary.skipped_rows += 1;
                continue;
            }
            let params = if h2["params"].is_object() {
                &h2["params"]
            } else {
                &h1["match_params"]
            };
            let pod = ["pod_name", "name", "resource_name"]
                .iter()
                .find_map(|k| params[k].as_str())
                .unwrap_or("unknown-pod");
            let ns = params["namespace"].as_str().unwrap_or("default");
            let stem = name.trim_end_matches(".txt");
            // Several log files of one pod (current, previous, all containers): one each.
            write(&k8s.join(ns).join(format!("{pod}~{stem}.log")), &text)?;
        } else if is_state_tool(tool) {
            write(&k8s.join(&name), &text)?;
        } else {
            summary.skipped_rows += 1;
            continue;
        }
        files += 1;
    }
    let manifests = dir.join("manifests");
    if let Ok(d) = std::fs::read_dir(&manifests) {
        let mut m: Vec<PathBuf> = d.filter_map(|e| e.ok().map(|e| e.path())).collect();
        m.sort();
        for f in m {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            std::fs::create_dir_all(&k8s).map_err(|e| io_err(&k8s, e))?;
            std::fs::copy(&f, k8s.join(format!("manifest-{name}"))).map_err(|e| io_err(&f, e))?;
            files += 1;
        }
    }
    let mut alert = serde_json::Map::new();
    if let Ok(d) = std::fs::read_dir(dir.join("request")) {
        let mut r: Vec<PathBuf> = d.filter_map(|e| e.ok().map(|e| e.path())).collect();
        r.sort();
        for f in r {
            let key = f
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            alert.insert(key, read_json(&f)?);
        }
    }
    let end = chrono::DateTime::parse_from_rfc3339(CAPTURED_AT)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| io_err(out, e))?;
    let start = end - chrono::Duration::minutes(WINDOW_MINUTES);
    let question = case["question"].as_str().unwrap_or("").to_string();
    let affected = &case["affected"];
    let subject = match (affected["kind"].as_str(), affected["name"].as_str()) {
        (Some(k), Some(n)) => vec![format!("{k}/{n}")],
        (None, Some(n)) => vec![n.to_string()],
        _ => vec![],
    };
    let title: String = question.chars().take(120).collect();
    let incident = json!({
        "id": id,
        "title": if title.is_empty() { "Kubernetes workload issue".to_string() } else { title },
        "description": question,
        "start": start.to_rfc3339(),
        "end": end.to_rfc3339(),
        "services": subject,
        "alert": if alert.is_empty() { Value::Null } else { Value::Object(alert) },
    });
    write(
        &out.join("incident.json"),
        &serde_json::to_string_pretty(&incident).unwrap_or_default(),
    )?;
    let culprit = &case["culprit"];
    let kind = culprit["kind"].as_str().unwrap_or("");
    let name = culprit["name"].as_str().unwrap_or("");
    let service = if kind == "Pod" {
        rootline_core::k8s::workload_of_pod(name)
    } else {
        name.to_string()
    };
    let fault_class = case["fault_class"].as_str().unwrap_or("");
    let detail = case["fault_detail"].as_str().unwrap_or("");
    let truth = json!({
        "source": SOURCE,
        "case_id": case_id,
        "root_cause_service": service,
        "root_cause_entity": format!("{kind}/{name}"),
        "entity_services": { format!("{kind}/{name}"): service },
        "fault_type": fault_class,
        "fault_type_rootline": rootline_faults(fault_class, detail),
        "culprit": culprit,
        "fault_detail": detail,
        "expected_output": case["expected_output"],
        "data": case["data"],
    });
    write(
        &out.join("truth.json"),
        &serde_json::to_string_pretty(&truth).unwrap_or_default(),
    )?;
    summary.records += files;
    Ok(())
}

/// The dataset's fault classes as rootline fault types.
fn rootline_faults(class: &str, detail: &str) -> Vec<&'static str> {
    let d = detail.to_ascii_lowercase();
    match class {
        "oom" => vec!["memory"],
        "crashloop" => vec!["crash_loop"],
        "image_pull" => vec!["image_pull"],
        "probe_failure" => vec!["probe_failure"],
        "scheduling" => vec!["scheduling"],
        "config_error" => vec!["config_error"],
        "network_policy" => vec!["network_policy"],
        "storage" => vec!["storage"],
        "quota" => vec!["quota"],
        "selector_mismatch" => vec!["selector_mismatch"],
        "dependency_down" => vec!["dependency_down"],
        _ if d.contains("latency") => vec!["latency"],
        _ if d.contains("throttl") => vec!["cpu"],
        _ if d.contains("pods") => vec!["scheduling", "node_failure"],
        _ => vec!["config_error"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_outputs_lose_their_mock_headers_and_wrappers() {
        let text = "{\"tool_name\":\"kubectl_describe\"}\n{\"status\":\"success\"}\nstdout:\nName: x\n\nstderr:\n";
        let (h1, h2, b) = body(text);
        assert_eq!(h1["tool_name"], "kubectl_describe");
        assert_eq!(h2["status"], "success");
        assert_eq!(b, "Name: x\n");
        let failed = "{}\n{}\nCommand `kubectl get pod x` failed with return code 1\nOutput:\nError from server (NotFound): pods \"x\" not found";
        assert!(body(failed).2.starts_with("Error from server"));
        assert_eq!(
            rootline_core::k8s::workload_of_pod("giant-narwhal-6958c5bdd8-69gtn"),
            "giant-narwhal"
        );
        assert_eq!(
            rootline_core::k8s::workload_of_pod("logging-agent"),
            "logging-agent"
        );
    }
}
