//! Kubernetes cluster state as findings: what an SRE reads first on a cluster — pods that
//! cannot start or keep dying, events that name a cause, objects whose spec cannot work — made
//! first-class evidence next to logs, traces and metrics.
//!
//! The input is objects in API shape ([`StateItem`]s, from any reader or a live watch). A
//! [`ClusterView`] keeps the latest observation of each object (observations of one object
//! merged, so a `describe` and a table row of the same pod add up) and the events. Two
//! families of rules read it:
//! - `status`: what the cluster reports (container states and exit codes, restarts, events such
//!   as `FailedScheduling`, `FailedMount`, `Unhealthy`, `FailedCreate`, node conditions). A
//!   failing container's own log lines say why it fails (a missing setting, a dependency that
//!   does not answer, a full disk): they decide the fault, the workload stays the culprit.
//! - `spec`: what the specs say cannot work, without waiting for a symptom (a referenced
//!   ConfigMap, Secret or claim that does not exist, a Service selector that matches no pod, a
//!   NetworkPolicy that admits none of the namespace's clients, a probe on a port the container
//!   does not open, a quota the pods cannot fit).
//!
//! Entities: a pod's finding goes to the workload that owns it (`Deployment/checkout`, the pod
//! as an instance); a finding about another object names it (`Service/backend`,
//! `PersistentVolumeClaim/data`, `Secret/db`). When the incident names a subject (the alert's
//! workload or pod), findings about objects it does not depend on count less: a demo cluster's
//! other broken workloads are background, not the cause.
//!
//! Pure and deterministic.

mod spec;
mod status;

use std::collections::{BTreeMap, BTreeSet};

use rootline_core::k8s::{ObjectRef, StateItem, is_workload_kind};
use rootline_core::{Evidence, EvidenceKind, FaultType};
use serde_json::Value;

use crate::rank::{Finding, FindingKind, strength};

/// The cluster-state rules' settings (`[cluster]` in the engine configuration).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSignalConfig {
    /// Switch for the whole family.
    pub enabled: bool,
    /// A state the cluster reports as broken (a container that cannot start, is killed or keeps
    /// exiting; a pod that cannot be scheduled; a claim that cannot bind).
    pub status_weight: f64,
    /// A warning event that names a cause, per distinct reason and object.
    pub event_weight: f64,
    /// A spec that cannot work as written (checked against the other objects seen).
    pub spec_weight: f64,
    /// A spec that likely cannot work, where the objects that would tell are not in view (a
    /// storage class or node label never listed).
    pub spec_hint_weight: f64,
    /// Factor on findings about objects the incident's subject does not depend on.
    pub unrelated_factor: f64,
    /// The subject itself when nothing it depends on shows a problem (0: no such finding).
    pub subject_weight: f64,
    /// State observed up to this long after the window's end still counts: a capture is
    /// taken after the alert.
    pub state_after_ns: i64,
    /// An event last seen this long before the window's start is history, not this incident.
    pub event_lookback_ns: i64,
}

impl Default for ClusterSignalConfig {
    fn default() -> Self {
        ClusterSignalConfig {
            enabled: true,
            status_weight: 8.0,
            event_weight: 5.0,
            spec_weight: 6.0,
            spec_hint_weight: 2.5,
            unrelated_factor: 0.25,
            subject_weight: 2.5,
            state_after_ns: 15 * 60 * 1_000_000_000,
            event_lookback_ns: 6 * 3600 * 1_000_000_000,
        }
    }
}

/// Findings from cluster state, and which log service names are which workload.
#[derive(Debug, Default)]
pub struct ClusterFindings {
    pub findings: Vec<Finding>,
    /// Service name in log records (a workload's or pod's base name) → the candidate entity
    /// (`Deployment/checkout`), so the logs' findings and the cluster's meet.
    pub aliases: BTreeMap<String, String>,
}

/// The objects and events, latest observation of each object.
#[derive(Debug, Default)]
pub struct ClusterView {
    pub objects: BTreeMap<ObjectRef, Value>,
    pub events: Vec<Value>,
    /// When each object was last observed (unix ns).
    pub observed: BTreeMap<ObjectRef, i64>,
}

impl ClusterView {
    pub fn new(items: &[StateItem]) -> ClusterView {
        let mut sorted: Vec<&StateItem> = items.iter().collect();
        sorted.sort_by_key(|i| i.observed_ns);
        let mut view = ClusterView::default();
        let mut events: BTreeMap<(String, String, String, String), Value> = BTreeMap::new();
        for item in sorted {
            let Some(r) = ObjectRef::of(&item.object) else {
                continue;
            };
            if r.kind == "Event" {
                let inv = &item.object["involvedObject"];
                let key = (
                    str_of(inv, "kind").to_string(),
                    str_of(inv, "name").to_string(),
                    str_of(&item.object, "reason").to_string(),
                    str_of(&item.object, "message").to_string(),
                );
                let count = |v: &Value| v.get("count").and_then(Value::as_u64).unwrap_or(1);
                match events.get(&key) {
                    Some(old) if count(old) > count(&item.object) => {}
                    _ => {
                        events.insert(key, item.object.clone());
                    }
                }
                continue;
            }
            let entry = view.objects.entry(r.clone()).or_insert(Value::Null);
            merge(entry, &item.object);
            view.observed.insert(r, item.observed_ns);
        }
        view.events = events.into_values().collect();
        view
    }

    pub fn of_kind<'a>(
        &'a self,
        kind: &'a str,
    ) -> impl Iterator<Item = (&'a ObjectRef, &'a Value)> + 'a {
        self.objects.iter().filter(move |(r, _)| r.kind == kind)
    }

    /// Two namespaces agree when either is unknown (a describe without one) or they are equal.
    pub fn same_ns(a: &ObjectRef, b: &ObjectRef) -> bool {
        a.namespace.is_none() || b.namespace.is_none() || a.namespace == b.namespace
    }

    /// The workload that owns a pod (through its ReplicaSet to its Deployment), else the pod.
    pub fn owner_of(&self, pod: &ObjectRef) -> ObjectRef {
        let object = self.objects.get(pod);
        let meta = object.map(|o| &o["metadata"]);
        let labels = meta.map(|m| &m["labels"]);
        if let Some(owner) = meta
            .and_then(|m| m["ownerReferences"].as_array())
            .and_then(|a| a.iter().find(|o| o["controller"].as_bool().unwrap_or(true)))
        {
            let kind = str_of(owner, "kind");
            let name = str_of(owner, "name");
            let owner_ref = ObjectRef::new(kind, pod.namespace.as_deref(), name);
            if kind == "ReplicaSet" {
                return self.deployment_of_replicaset(&owner_ref, labels);
            }
            if !name.is_empty() {
                return owner_ref;
            }
        }
        if let Some(job) = labels
            .and_then(|l| l.get("job-name"))
            .and_then(Value::as_str)
        {
            return ObjectRef::new("Job", pod.namespace.as_deref(), job);
        }
        // A workload whose pod template labels the pod carries, or whose name the pod's starts
        // with (`checkout-7d9f8-x2x4p`, `db-0`).
        let pod_labels = labels.and_then(Value::as_object);
        let mut best: Option<&ObjectRef> = None;
        for (r, o) in self
            .objects
            .iter()
            .filter(|(r, _)| is_workload_kind(&r.kind) && r.kind != "ReplicaSet")
        {
            if !Self::same_ns(r, pod) {
                continue;
            }
            let selector = o["spec"]["selector"]["matchLabels"].as_object();
            let by_labels = matches!((selector, pod_labels), (Some(s), Some(l)) if !s.is_empty() && s.iter().all(|(k, v)| l.get(k) == Some(v)));
            let by_name = pod.name.starts_with(&format!("{}-", r.name));
            if (by_labels || by_name) && best.is_none_or(|b| r.name.len() > b.name.len()) {
                best = Some(r);
            }
        }
        if let Some(b) = best {
            return b.clone();
        }
        let base = workload_name(&pod.name);
        if base != pod.name {
            let kind = if pod
                .name
                .rsplit('-')
                .next()
                .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
            {
                "StatefulSet"
            } else {
                "Deployment"
            };
            return ObjectRef::new(kind, pod.namespace.as_deref(), &base);
        }
        pod.clone()
    }

    fn deployment_of_replicaset(&self, rs: &ObjectRef, pod_labels: Option<&Value>) -> ObjectRef {
        if let Some(owner) = self
            .objects
            .get(rs)
            .and_then(|o| o["metadata"]["ownerReferences"].as_array())
            .and_then(|a| a.first())
        {
            return ObjectRef::new(
                str_of(owner, "kind"),
                rs.namespace.as_deref(),
                str_of(owner, "name"),
            );
        }
        let hash = pod_labels
            .and_then(|l| l.get("pod-template-hash"))
            .and_then(Value::as_str);
        let stripped = match hash {
            Some(h) => rs.name.strip_suffix(&format!("-{h}")),
            None => rs.name.rsplit_once('-').map(|(a, _)| a),
        };
        match stripped {
            Some(d) if !d.is_empty() => ObjectRef::new("Deployment", rs.namespace.as_deref(), d),
            _ => rs.clone(),
        }
    }

    /// The candidate an object's problem goes to: a pod's owner, else the object itself.
    pub fn culprit_of(&self, r: &ObjectRef) -> ObjectRef {
        if r.kind == "Pod" {
            self.owner_of(r)
        } else {
            r.clone()
        }
    }

    /// The pod template of a workload or the spec of a pod.
    pub fn pod_spec<'a>(&self, r: &ObjectRef, o: &'a Value) -> Option<&'a Value> {
        match r.kind.as_str() {
            "Pod" => o.get("spec"),
            "CronJob" => o["spec"]["jobTemplate"]["spec"]["template"].get("spec"),
            k if is_workload_kind(k) => o["spec"]["template"].get("spec"),
            _ => None,
        }
    }

    /// Labels of the pods a workload or pod runs.
    pub fn pod_labels<'a>(
        &self,
        r: &ObjectRef,
        o: &'a Value,
    ) -> Option<&'a serde_json::Map<String, Value>> {
        match r.kind.as_str() {
            "Pod" => o["metadata"]["labels"].as_object(),
            k if is_workload_kind(k) => o["spec"]["template"]["metadata"]["labels"].as_object(),
            _ => None,
        }
    }
}

/// `<workload>-<hash>-<hash>` and `<statefulset>-<ordinal>` pod names to the workload's name.
pub fn workload_name(pod: &str) -> String {
    rootline_core::k8s::workload_of_pod(pod)
}

/// Observations of one object merged: later non-null fields win, arrays are replaced when the
/// later one is not empty.
fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_null() {
                    continue;
                }
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (Value::Array(_), Value::Array(b)) if b.is_empty() => {}
        // Containers, conditions: elements meet by name (or type); a table row's unnamed
        // container is the one a describe named.
        (Value::Array(a), Value::Array(b))
            if b.iter().all(|v| v.get("name").or(v.get("type")).is_some()) =>
        {
            let key = |v: &Value| {
                v.get("name")
                    .or(v.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            for v in b {
                let k = key(v);
                let single = a.len() == 1;
                match a.iter_mut().find(|x| {
                    key(x) == k || (k.is_empty() && single) || (key(x).is_empty() && single)
                }) {
                    Some(slot) => merge(slot, v),
                    None => a.push(v.clone()),
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One rule's verdict before weighting: what is wrong with which object.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    /// The object at fault (a pod's problem names the pod; its owner is found later).
    pub object: ObjectRef,
    pub fault: FaultType,
    pub weight: f64,
    /// Stable key of the rule and its detail, for the evidence id.
    pub key: String,
    pub summary: String,
    pub at_ns: i64,
    /// The object whose state or event showed it, when that is another one (a pod's event
    /// naming a missing Secret): it ties the problem to the subject's neighbourhood.
    pub via: Option<ObjectRef>,
}

/// What the incident is about: the entities the alert names (`checkout`,
/// `Deployment/checkout`, a pod name) and its words (title and description).
#[derive(Debug, Clone, Default)]
pub struct Subject {
    pub names: Vec<String>,
    pub symptom: String,
}

impl Subject {
    pub fn named(names: &[&str]) -> Subject {
        Subject {
            names: names.iter().map(|s| s.to_string()).collect(),
            symptom: String::new(),
        }
    }
}

/// The fault class an alert's words name (`CPUThrottlingHigh`, `high latency`), when any.
fn fault_named_in(symptom: &str) -> Option<FaultType> {
    let s = symptom.to_ascii_lowercase();
    if s.contains("throttl") || s.contains("cpu") {
        Some(FaultType::Cpu)
    } else if s.contains("memory") || s.contains("oom") {
        Some(FaultType::Memory)
    } else if s.contains("latency") || s.contains("slow") {
        Some(FaultType::Latency)
    } else {
        None
    }
}

/// Cluster-state findings about the incident. `logs` holds the window's log lines per service
/// name, which say why a container fails.
pub fn cluster_findings(
    items: &[StateItem],
    subject: &Subject,
    logs: &BTreeMap<String, Vec<String>>,
    config: &ClusterSignalConfig,
) -> ClusterFindings {
    if !config.enabled || items.is_empty() {
        return ClusterFindings::default();
    }
    let view = ClusterView::new(items);
    // A pod's log lines are its owner's too (a Job's pod `get-data-mldtn` logs for `Job/get-data`).
    let mut logs = logs.clone();
    for (pod, _) in view.of_kind("Pod") {
        let owner = view.owner_of(pod);
        if owner.name == pod.name {
            continue;
        }
        let lines: Vec<String> = [pod.name.clone(), workload_name(&pod.name)]
            .iter()
            .filter_map(|n| logs.get(n).cloned())
            .flatten()
            .collect();
        if !lines.is_empty() {
            logs.entry(owner.name.clone()).or_default().extend(lines);
        }
    }
    let logs = &logs;
    let mut problems = status::problems(&view, logs, config);
    problems.extend(spec::problems(&view, config));
    let related = related_to(&view, &subject.names);
    let mut aliases = BTreeMap::new();
    let mut by_key: BTreeMap<(String, String), Finding> = BTreeMap::new();
    for p in problems {
        let culprit = view.culprit_of(&p.object);
        let entity = culprit.entity();
        if culprit.kind != "Pod" || p.object.kind == "Pod" {
            aliases.insert(workload_name(&p.object.name), entity.clone());
            aliases.insert(culprit.name.clone(), entity.clone());
        }
        let factor = match &related {
            Some(set)
                if !in_set(set, &culprit)
                    && !in_set(set, &p.object)
                    && !p
                        .via
                        .as_ref()
                        .is_some_and(|v| in_set(set, &view.culprit_of(v))) =>
            {
                config.unrelated_factor
            }
            _ => 1.0,
        };
        let contribution = p.weight * factor;
        let instances = if p.object.kind == "Pod" && culprit != p.object {
            vec![p.object.name.clone()]
        } else {
            Vec::new()
        };
        let id = format!(
            "sig-k8s-{:016x}",
            rootline_core::hash::fnv1a_parts(&[&entity, &p.key])
        );
        let namespace = p
            .object
            .namespace
            .as_deref()
            .map(|n| format!(" in namespace {n}"))
            .unwrap_or_default();
        let finding = Finding {
            kind: FindingKind::ClusterState,
            evidence: Evidence {
                id: id.clone(),
                kind: EvidenceKind::ClusterState,
                entity: entity.clone(),
                first_seen_ns: p.at_ns,
                strength: strength(contribution),
                summary: format!(
                    "{}/{}{namespace}: {}",
                    p.object.kind, p.object.name, p.summary
                ),
                examples: Vec::new(),
                instances,
                modules: Vec::new(),
            },
            contribution,
            fault: p.fault,
        };
        // One finding per rule and object: the strongest reading wins.
        match by_key.get(&(entity.clone(), p.key.clone())) {
            Some(old) if old.contribution >= finding.contribution => {}
            _ => {
                by_key.insert((entity, p.key), finding);
            }
        }
    }
    // The subject, when nothing in its neighbourhood shows a problem: the alert names it and no
    // cluster state explains it elsewhere, so it is where to look first (its cause is in data
    // not captured: its metrics, its code). Weak and without a fault: it never decides alone.
    if let Some(set) = related.as_ref().filter(|_| config.subject_weight > 0.0) {
        let explained = by_key.values().any(|f| {
            f.contribution >= config.spec_hint_weight
                && set.iter().any(|r| r.entity() == f.evidence.entity)
        });
        if !explained {
            let roots: BTreeSet<ObjectRef> = set
                .iter()
                .filter(|r| {
                    view.objects.contains_key(*r)
                        && subject.names.iter().any(|s| {
                            s.ends_with(&r.name)
                                || r.kind == "Pod" && s.ends_with(&workload_name(&r.name))
                        })
                })
                .map(|r| view.culprit_of(r))
                .collect();
            for r in roots {
                // Its own latest lines may say what is wrong (slow calls, a dependency that
                // does not answer, a missing setting).
                let (fault, why) = match status::classify(status::logs_of(logs, &r), None, None) {
                    // Else the alert's own words, when they name a resource or latency.
                    (FaultType::CrashLoop, _) => match fault_named_in(&subject.symptom) {
                        Some(f) => (f, " (the alert names the symptom)".to_string()),
                        None => (FaultType::Unknown, String::new()),
                    },
                    other => other,
                };
                let entity = r.entity();
                let id = format!(
                    "sig-k8s-{:016x}",
                    rootline_core::hash::fnv1a_parts(&[&entity, "subject"])
                );
                by_key.insert(
                    (entity.clone(), "subject".into()),
                    Finding {
                        kind: FindingKind::ClusterState,
                        evidence: Evidence {
                            id,
                            kind: EvidenceKind::ClusterState,
                            entity,
                            first_seen_ns: view.observed.get(&r).copied().unwrap_or(0),
                            strength: strength(config.subject_weight),
                            summary: format!("{r}: the incident names it, and nothing it depends on shows a problem in the cluster state{why}"),
                            examples: Vec::new(),
                            instances: Vec::new(),
                            modules: Vec::new(),
                        },
                        contribution: config.subject_weight,
                        fault,
                    },
                );
            }
        }
    }
    // Every workload seen gets its alias, so its logs join it even when it has no problem.
    for (r, _) in view
        .objects
        .iter()
        .filter(|(r, _)| is_workload_kind(&r.kind) && r.kind != "ReplicaSet")
    {
        aliases.entry(r.name.clone()).or_insert_with(|| r.entity());
    }
    for (r, _) in view.of_kind("Pod") {
        let owner = view.owner_of(r);
        aliases
            .entry(workload_name(&r.name))
            .or_insert_with(|| owner.entity());
    }
    ClusterFindings {
        findings: by_key.into_values().collect(),
        aliases,
    }
}

/// Membership that lets an unknown namespace match any.
fn in_set(set: &BTreeSet<ObjectRef>, r: &ObjectRef) -> bool {
    set.iter()
        .any(|s| s.kind == r.kind && s.name == r.name && ClusterView::same_ns(s, r))
}

/// What the subject depends on: the subject's workload and pods, what its pod template
/// references (ConfigMaps, Secrets, claims, its service account), the Services, NetworkPolicies,
/// HPAs and quotas that act on it, the Services its spec names (its dependencies), the nodes
/// its pods run on, and the workloads behind a subject Service. `None` when there is no subject
/// or none of it is in view.
fn related_to(view: &ClusterView, subject: &[String]) -> Option<BTreeSet<ObjectRef>> {
    let mut roots: Vec<ObjectRef> = Vec::new();
    for s in subject {
        let (kind, name) = match s.split_once('/') {
            Some((k, n)) => (Some(rootline_core::k8s::canonical_kind(k)), n),
            None => (None, s.as_str()),
        };
        for r in view.objects.keys() {
            let name_ok = r.name == name || (r.kind == "Pod" && workload_name(&r.name) == name);
            if name_ok && kind.as_ref().is_none_or(|k| *k == r.kind) {
                roots.push(r.clone());
            }
        }
        // A subject not in view (a workload only its pods show) still names its owner.
        if let Some(k) = &kind {
            roots.push(ObjectRef {
                kind: k.clone(),
                namespace: None,
                name: name.to_string(),
            });
        }
    }
    if roots.is_empty() {
        return None;
    }
    let mut set: BTreeSet<ObjectRef> = BTreeSet::new();
    let mut todo: Vec<(ObjectRef, u8)> = roots.into_iter().map(|r| (r, 0)).collect();
    while let Some((r, depth)) = todo.pop() {
        if !set.insert(r.clone()) || depth > 2 {
            continue;
        }
        let culprit = view.culprit_of(&r);
        if culprit != r {
            todo.push((culprit, depth));
        }
        for next in spec::depends_on(view, &r) {
            todo.push((next, depth + 1));
        }
    }
    // Namespace-less refs (from a subject string) match any namespace.
    let extra: Vec<ObjectRef> = set
        .iter()
        .filter(|r| r.namespace.is_none())
        .flat_map(|r| {
            view.objects
                .keys()
                .filter(move |o| o.kind == r.kind && o.name == r.name)
                .cloned()
        })
        .collect();
    set.extend(extra);
    Some(set)
}

#[cfg(test)]
mod tests;
