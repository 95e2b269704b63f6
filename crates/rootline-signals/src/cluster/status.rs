//! What the cluster reports as broken: container states and exit codes, pods that cannot be
//! scheduled, claims that cannot bind, nodes that are not ready, and the warning events that
//! name a cause. A container that keeps failing is the culprit's symptom; *why* it fails comes
//! from its state message, its exit code and its own last log lines (the first thing an SRE
//! reads after `describe`).

use std::collections::BTreeMap;

use rootline_core::FaultType;
use rootline_core::k8s::ObjectRef;
use serde_json::Value;

use super::{ClusterSignalConfig, ClusterView, Problem, str_of, workload_name};

fn ts(v: &Value) -> i64 {
    v.as_str()
        .and_then(rootline_core::time::parse_timestamp)
        .unwrap_or(0)
}

pub(super) fn problems(
    view: &ClusterView,
    logs: &BTreeMap<String, Vec<String>>,
    config: &ClusterSignalConfig,
) -> Vec<Problem> {
    let mut out = Vec::new();
    for (r, o) in view.of_kind("Pod") {
        pod_problems(view, r, o, logs, config, &mut out);
    }
    for (r, o) in view.of_kind("Node") {
        node_problems(r, o, view, config, &mut out);
    }
    for (r, o) in view.of_kind("PersistentVolumeClaim") {
        if str_of(&o["status"], "phase") == "Pending" {
            out.push(Problem {
                object: r.clone(),
                fault: FaultType::Storage,
                weight: config.status_weight * 0.6,
                key: "pvc-pending".into(),
                summary: "claim Pending (not bound to a volume)".into(),
                at_ns: view.observed.get(r).copied().unwrap_or(0),
                via: None,
            });
        }
    }
    for (r, o) in view.of_kind("Job") {
        let failed = str_of(&o["status"], "state") == "Failed"
            || str_of(&o["status"], "podsStatuses")
                .split('/')
                .any(|p| p.trim().ends_with("Failed") && !p.trim().starts_with('0'));
        if failed {
            let (fault, why) = classify(logs_of(logs, r), None, None);
            out.push(Problem {
                object: r.clone(),
                fault,
                weight: config.status_weight * 0.8,
                key: "job-failed".into(),
                summary: format!("job failed{why}"),
                at_ns: view.observed.get(r).copied().unwrap_or(0),
                via: None,
            });
        }
    }
    for e in &view.events {
        event_problem(view, e, logs, config, &mut out);
    }
    // A workload short of its replicas: a symptom (the cause is in its pods or its spec), so it
    // names the workload without a fault.
    for (r, o) in view
        .objects
        .iter()
        .filter(|(r, _)| matches!(r.kind.as_str(), "Deployment" | "StatefulSet" | "DaemonSet"))
    {
        let st = &o["status"];
        let unavailable = st["unavailableReplicas"].as_i64().unwrap_or(0) > 0
            || st["conditions"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|c| str_of(c, "type") == "Available" && str_of(c, "status") == "False")
            });
        if unavailable {
            out.push(Problem {
                object: r.clone(),
                fault: FaultType::Unknown,
                weight: config.status_weight * 0.3,
                key: "unavailable".into(),
                summary: "fewer replicas available than desired".into(),
                at_ns: view.observed.get(r).copied().unwrap_or(0),
                via: None,
            });
        }
    }
    out
}

pub(super) fn logs_of<'a>(logs: &'a BTreeMap<String, Vec<String>>, r: &ObjectRef) -> &'a [String] {
    logs.get(&r.name)
        .or_else(|| logs.get(&workload_name(&r.name)))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn pod_problems(
    view: &ClusterView,
    r: &ObjectRef,
    o: &Value,
    logs: &BTreeMap<String, Vec<String>>,
    config: &ClusterSignalConfig,
    out: &mut Vec<Problem>,
) {
    let status = &o["status"];
    let observed = view.observed.get(r).copied().unwrap_or(0);
    let own_logs = logs_of(logs, r);
    let statuses = status["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (c, true))
        .chain(
            status["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (c, false)),
        );
    for (c, init) in statuses {
        let name = str_of(c, "name");
        let what = if init { "init container" } else { "container" };
        let waiting = &c["state"]["waiting"];
        let terminated = if c["state"]["terminated"].is_object() {
            &c["state"]["terminated"]
        } else {
            &c["lastState"]["terminated"]
        };
        let restarts = c["restartCount"].as_u64().unwrap_or(0);
        let wait_reason = str_of(waiting, "reason");
        let term_reason = str_of(terminated, "reason");
        let exit = terminated["exitCode"].as_i64();
        let at = ts(&terminated["finishedAt"]).max(0);
        let at = if at > 0 { at } else { observed };
        let message = format!(
            "{} {}",
            str_of(waiting, "message"),
            str_of(terminated, "message")
        );
        let mut push = |fault, weight: f64, key: &str, summary: String| {
            out.push(Problem {
                object: r.clone(),
                fault,
                weight,
                key: format!("{key}:{name}"),
                summary,
                at_ns: at,
                via: None,
            });
        };
        if term_reason == "OOMKilled" {
            let limit =
                str_of(&container_spec(o, name)["resources"]["limits"], "memory").to_string();
            let limit = if limit.is_empty() {
                String::new()
            } else {
                format!(", memory limit {limit}")
            };
            push(
                FaultType::Memory,
                config.status_weight,
                "oom",
                format!(
                    "{what} {name} OOMKilled (exit {}){limit}, {restarts} restarts",
                    exit.unwrap_or(137)
                ),
            );
            continue;
        }
        match wait_reason {
            "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "ErrImageNeverPull" => {
                let image = str_of(c, "image");
                push(
                    FaultType::ImagePull,
                    config.status_weight,
                    "image",
                    format!("{what} {name} {wait_reason} (image {image})"),
                );
                continue;
            }
            "CreateContainerConfigError" | "CreateContainerError" | "RunContainerError" => {
                push(
                    FaultType::ConfigError,
                    config.status_weight,
                    "config",
                    format!("{what} {name} {wait_reason}: {}", message.trim()),
                );
                continue;
            }
            _ => {}
        }
        let crashing = wait_reason == "CrashLoopBackOff"
            || wait_reason.starts_with("Init:CrashLoopBackOff")
            || (restarts >= 3 && exit.is_some_and(|e| e != 0))
            || term_reason == "Error";
        if crashing {
            let (fault, why) = classify(own_logs, exit, Some(&message));
            let exit_text = exit
                .map(|e| format!(", last exit code {e}"))
                .unwrap_or_default();
            push(
                fault,
                config.status_weight,
                "crash",
                format!(
                    "{what} {name} {}{exit_text}, {restarts} restarts{why}",
                    if wait_reason.is_empty() {
                        term_reason
                    } else {
                        wait_reason
                    }
                ),
            );
        }
    }
    // A pod that cannot be scheduled: its own condition (its message, else the scheduler's
    // event about the pod, says why), or a pod still Pending minutes after it was created with
    // no container started.
    let unscheduled = status["conditions"].as_array().and_then(|a| {
        a.iter()
            .find(|c| str_of(c, "type") == "PodScheduled" && str_of(c, "status") == "False")
    });
    let created = ts(&o["metadata"]["creationTimestamp"]);
    let no_container = status["containerStatuses"].as_array().is_none_or(|a| {
        a.iter()
            .all(|c| c["state"].as_object().is_none_or(|m| m.is_empty()))
    });
    let long_pending = str_of(status, "phase") == "Pending"
        && no_container
        && created > 0
        && observed - created > 5 * 60 * 1_000_000_000;
    if unscheduled.is_some() || long_pending {
        let msg = unscheduled
            .map(|c| str_of(c, "message"))
            .filter(|m| !m.is_empty())
            .or_else(|| {
                view.events
                    .iter()
                    .find(|e| {
                        str_of(e, "reason") == "FailedScheduling"
                            && str_of(&e["involvedObject"], "name") == r.name
                    })
                    .map(|e| str_of(e, "message"))
            });
        let (fault, object) = scheduling_cause(view, r, msg.unwrap_or(""));
        let via = (object != *r).then(|| r.clone());
        let weight = if unscheduled.is_some() {
            config.status_weight
        } else {
            config.status_weight * 0.6
        };
        out.push(Problem {
            object,
            fault,
            weight,
            key: "unschedulable".into(),
            summary: match msg {
                Some(m) => format!("pod cannot be scheduled: {m}"),
                None => "pod Pending, not scheduled".to_string(),
            },
            at_ns: observed,
            via,
        });
    }
    if str_of(status, "reason") == "Evicted" {
        out.push(Problem {
            object: r.clone(),
            fault: FaultType::NodeFailure,
            weight: config.status_weight * 0.5,
            key: "evicted".into(),
            summary: format!("pod Evicted: {}", str_of(status, "message")),
            at_ns: observed,
            via: None,
        });
    }
}

fn container_spec<'a>(pod: &'a Value, name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod["spec"][k].as_array())
        .flatten()
        .find(|c| str_of(c, "name") == name)
        .unwrap_or(&NULL)
}

/// The cause of a `FailedScheduling` message: an unbound claim is a storage fault of the
/// claim; anything else (resources, selectors, affinity, taints, pod capacity) is scheduling.
fn scheduling_cause(view: &ClusterView, pod: &ObjectRef, message: &str) -> (FaultType, ObjectRef) {
    let lower = message.to_ascii_lowercase();
    if lower.contains("persistentvolumeclaim") || lower.contains("unbound") {
        let claim = view
            .objects
            .get(pod)
            .and_then(|o| o["spec"]["volumes"].as_array())
            .and_then(|v| {
                v.iter()
                    .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
            })
            .or_else(|| {
                view.of_kind("PersistentVolumeClaim")
                    .find(|(c, o)| {
                        ClusterView::same_ns(c, pod) && str_of(&o["status"], "phase") == "Pending"
                    })
                    .map(|(c, _)| c.name.as_str())
            });
        if let Some(c) = claim {
            return (
                FaultType::Storage,
                ObjectRef::new("PersistentVolumeClaim", pod.namespace.as_deref(), c),
            );
        }
        return (FaultType::Storage, pod.clone());
    }
    (FaultType::Scheduling, pod.clone())
}

fn node_problems(
    r: &ObjectRef,
    o: &Value,
    view: &ClusterView,
    config: &ClusterSignalConfig,
    out: &mut Vec<Problem>,
) {
    let at = view.observed.get(r).copied().unwrap_or(0);
    for c in o["status"]["conditions"].as_array().into_iter().flatten() {
        let (t, s) = (str_of(c, "type"), str_of(c, "status"));
        let bad = (t == "Ready" && s != "True")
            || (t.ends_with("Pressure") || t == "NetworkUnavailable") && s == "True";
        if bad {
            out.push(Problem {
                object: r.clone(),
                fault: FaultType::NodeFailure,
                weight: config.status_weight,
                key: format!("node:{t}"),
                summary: format!("node condition {t}={s} ({})", str_of(c, "reason")),
                at_ns: at,
                via: None,
            });
        }
    }
    // A node running as many pods as it may: new pods cannot land on it.
    let allowed = o["status"]["allocatable"]["pods"]
        .as_str()
        .and_then(|p| p.parse::<u64>().ok());
    let running = o["status"]["podCount"].as_u64();
    if let (Some(a), Some(n)) = (allowed, running)
        && a > 0
        && n >= a
    {
        out.push(Problem {
            object: r.clone(),
            fault: FaultType::Scheduling,
            weight: config.status_weight * 0.75,
            key: "node:pods-full".into(),
            summary: format!("node runs {n} of {a} allowed pods"),
            at_ns: at,
            via: None,
        });
    }
}

/// A warning event that names a cause.
fn event_problem(
    view: &ClusterView,
    e: &Value,
    logs: &BTreeMap<String, Vec<String>>,
    config: &ClusterSignalConfig,
    out: &mut Vec<Problem>,
) {
    if str_of(e, "type") != "Warning" {
        return;
    }
    let inv = &e["involvedObject"];
    let object = ObjectRef::new(
        str_of(inv, "kind"),
        inv["namespace"].as_str(),
        str_of(inv, "name"),
    );
    if object.name.is_empty() {
        return;
    }
    let reason = str_of(e, "reason");
    let message = str_of(e, "message");
    let lower = message.to_ascii_lowercase();
    let count = e["count"].as_u64().unwrap_or(1);
    let at = ts(&e["firstTimestamp"]).max(ts(&e["eventTime"]));
    let ns = object.namespace.as_deref();
    // An object the message says does not exist is the culprit (`configmap "x" not found`).
    let missing = missing_object(&lower, message, ns);
    let (fault, culprit) = match reason {
        "FailedScheduling" => scheduling_cause(view, &object, message),
        "ProvisioningFailed" | "FailedBinding" => (FaultType::Storage, object.clone()),
        "FailedMount" | "FailedAttachVolume" => match missing {
            Some(m) if m.kind != "PersistentVolumeClaim" => (FaultType::ConfigError, m),
            Some(m) => (FaultType::Storage, m),
            None => (FaultType::Storage, object.clone()),
        },
        "FailedCreate" => {
            if let Some(q) = lower.find("exceeded quota: ").map(|i| &message[i + 16..]) {
                let name = q.split([',', ' ']).next().unwrap_or("");
                (FaultType::Quota, ObjectRef::new("ResourceQuota", ns, name))
            } else if lower.contains("must specify")
                || lower.contains("forbidden") && lower.contains("quota")
            {
                (FaultType::Quota, object.clone())
            } else if let Some(m) = missing {
                (
                    FaultType::ConfigError,
                    if m.kind == "ServiceAccount" {
                        object.clone()
                    } else {
                        m
                    },
                )
            } else {
                (FaultType::ConfigError, object.clone())
            }
        }
        "Unhealthy" if lower.contains("probe") => (FaultType::ProbeFailure, object.clone()),
        "Killing" if lower.contains("liveness") || lower.contains("startup probe") => {
            (FaultType::ProbeFailure, object.clone())
        }
        "Failed" | "BackOff" | "InspectFailed" | "ErrImageNeverPull" => {
            if lower.contains("pull") || lower.contains("image") {
                (FaultType::ImagePull, object.clone())
            } else if let Some(m) = missing {
                (FaultType::ConfigError, m)
            } else if lower.contains("couldn't find key")
                || lower.contains("executable file not found")
                || lower.contains("createcontainerconfigerror")
            {
                (FaultType::ConfigError, object.clone())
            } else if reason == "BackOff" {
                let (fault, _) = classify(logs_of(logs, &object), None, None);
                (fault, object.clone())
            } else {
                (FaultType::Unknown, object.clone())
            }
        }
        "BackoffLimitExceeded" | "DeadlineExceeded" => {
            let (fault, _) = classify(logs_of(logs, &object), None, None);
            (fault, object.clone())
        }
        "Evicted" | "OOMKilling" | "SystemOOM" => (FaultType::Memory, object.clone()),
        "NodeNotReady" | "Rebooted" | "NodeHasDiskPressure" | "EvictionThresholdMet" => {
            (FaultType::NodeFailure, object.clone())
        }
        _ => (FaultType::Unknown, object.clone()),
    };
    // Repetition makes a warning more certain, not a different cause: log-scaled.
    let weight = config.event_weight
        * (1.0 + (count as f64).ln().max(0.0) * 0.1).min(1.5)
        * if fault == FaultType::Unknown {
            0.5
        } else {
            1.0
        };
    let via = (culprit != object).then(|| object.clone());
    out.push(Problem {
        object: culprit,
        fault,
        weight,
        key: format!("event:{reason}"),
        summary: format!("{reason} (x{count}): {message}"),
        at_ns: at,
        via,
    });
}

/// `configmap "x" not found`, `secret "x" not found`, `persistentvolumeclaim "x" not found`,
/// `serviceaccount "x" not found`, `couldn't find key K in ConfigMap ns/x`.
pub(super) fn missing_object(lower: &str, message: &str, ns: Option<&str>) -> Option<ObjectRef> {
    for (word, kind) in [
        ("configmap \"", "ConfigMap"),
        ("secret \"", "Secret"),
        ("persistentvolumeclaim \"", "PersistentVolumeClaim"),
        ("serviceaccount \"", "ServiceAccount"),
    ] {
        if let Some(i) = lower.find(word) {
            let rest = &message[i + word.len()..];
            if let Some(name) = rest.split('"').next()
                && lower[i..].contains("not found")
            {
                return Some(ObjectRef::new(kind, ns, name));
            }
        }
    }
    if let Some(i) = lower.find("couldn't find key") {
        let rest = &message[i..];
        for kind in ["ConfigMap", "Secret"] {
            if let Some(j) = rest.find(&format!(" in {kind} ")) {
                let path = rest[j + kind.len() + 5..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("");
                let name = path.rsplit('/').next().unwrap_or(path);
                return Some(ObjectRef::new(kind, ns, name));
            }
        }
    }
    None
}

/// A line that reports its own work taking a second or more (`call completed in 10.01
/// seconds`, `took 2300ms`, `duration=4.2s`).
pub(crate) fn reports_slowness(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    const TIMING: [&str; 6] = [
        "took",
        "completed in",
        "duration",
        "latency",
        "elapsed",
        "slow",
    ];
    if !TIMING.iter().any(|w| lower.contains(w)) {
        return false;
    }
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '=' || c == ':' || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        let seconds = |n: &str, unit: &str| {
            let n: f64 = n.parse().ok()?;
            match unit {
                "ms" | "millis" | "milliseconds" => Some(n / 1000.0),
                "s" | "sec" | "secs" | "second" | "seconds" => Some(n),
                _ => None,
            }
        };
        let split = w
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(w.len());
        let (num, unit) = w.split_at(split);
        let unit = unit.trim_end_matches('.');
        let value = if unit.is_empty() {
            words
                .get(i + 1)
                .and_then(|u| seconds(num, u.trim_end_matches('.')))
        } else {
            seconds(num, unit)
        };
        value.is_some_and(|v| v >= 1.0)
    })
}

/// Why a container or job fails, from its exit code, its state message and its own last log
/// lines: a missing or wrong setting, an executable or file that is not there, a dependency
/// that does not answer, a full disk, memory — else the program itself crashes. The reason
/// comes back as text for the summary (`: "DEPLOY_ENV is not set"`).
pub(crate) fn classify(
    logs: &[String],
    exit: Option<i64>,
    message: Option<&str>,
) -> (FaultType, String) {
    let mut texts: Vec<&str> = message.into_iter().collect();
    // The last lines matter most: the program's final words.
    texts.extend(logs.iter().rev().take(60).map(String::as_str));
    const CONFIG: [&str; 16] = [
        "not set",
        "environment variable",
        "missing required",
        "keyerror",
        "no such file",
        "executable file not found",
        "command not found",
        "syntax error",
        "invalid config",
        "could not resolve host",
        "name or service not known",
        "no such host",
        "unknown host",
        "permission denied",
        "forbidden",
        "nodename nor servname",
    ];
    const DEPENDENCY: [&str; 9] = [
        "connection refused",
        "econnrefused",
        "could not connect",
        "cannot connect",
        "connection timed out",
        "no available connection",
        "unable to connect",
        "failed to connect",
        "connection reset",
    ];
    const STORAGE: [&str; 2] = ["no space left on device", "disk full"];
    const MEMORY: [&str; 2] = ["outofmemoryerror", "cannot allocate memory"];
    let find = |words: &[&str]| {
        texts.iter().find_map(|t| {
            let l = t.to_ascii_lowercase();
            words
                .iter()
                .any(|w| l.contains(w))
                .then(|| t.lines().next().unwrap_or(t).trim().to_string())
        })
    };
    let say = |line: String| {
        let short: String = line.chars().take(160).collect();
        format!(": \"{short}\"")
    };
    if let Some(l) = find(&STORAGE) {
        return (FaultType::Storage, say(l));
    }
    if let Some(l) = find(&MEMORY) {
        return (FaultType::Memory, say(l));
    }
    if let Some(l) = find(&DEPENDENCY) {
        return (FaultType::DependencyDown, say(l));
    }
    if let Some(l) = find(&CONFIG) {
        return (FaultType::ConfigError, say(l));
    }
    if let Some(l) = texts.iter().find(|t| reports_slowness(t)) {
        return (
            FaultType::Latency,
            say(l.lines().next().unwrap_or(l).trim().to_string()),
        );
    }
    match exit {
        Some(126..=128) => (
            FaultType::ConfigError,
            format!(
                " (exit code {} means the command could not run)",
                exit.unwrap_or(0)
            ),
        ),
        _ => (FaultType::CrashLoop, String::new()),
    }
}
