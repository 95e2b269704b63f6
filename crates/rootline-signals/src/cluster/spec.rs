//! What the specs say cannot work, checked against the other objects in view: the faults a
//! reviewer would catch before any symptom. Each rule is a plain Kubernetes fact:
//! - a pod can only start when the ConfigMaps, Secrets and claims it references (and does not
//!   mark optional) exist, with the keys it reads;
//! - a Service routes only to pods its selector matches;
//! - a pod selected by an ingress NetworkPolicy takes traffic only from what some rule admits;
//! - a probe succeeds only on a port the container opens, and an exec probe whose command is
//!   `exit 1` or `false` never does;
//! - under a ResourceQuota that sets a limit, a pod must declare that limit, and the pods'
//!   requests must fit the quota;
//! - an HPA scaling on CPU or memory utilisation needs the containers to request it;
//! - a pod is placed only on a node that offers the extended resources it requests and carries
//!   its node selector's labels; required anti-affinity on the hostname needs a node per replica;
//! - a claim binds only through a StorageClass that exists.
//!
//! Where the objects that would tell are not in view (no StorageClass, no Node listed), the
//! rule says so with the lower `spec_hint_weight`.

use std::collections::BTreeSet;

use rootline_core::FaultType;
use rootline_core::k8s::{ObjectRef, is_workload_kind};
use serde_json::{Map, Value};

use super::{ClusterSignalConfig, ClusterView, Problem, str_of};

/// Workloads and bare pods with their pod spec.
fn pod_owners(view: &ClusterView) -> Vec<(&ObjectRef, &Value, &Value)> {
    view.objects
        .iter()
        .filter(|(r, o)| {
            // A pod owned by a workload in view is checked through the workload.
            (is_workload_kind(&r.kind) && r.kind != "ReplicaSet")
                || r.kind == "Pod"
                    && o["metadata"]["ownerReferences"]
                        .as_array()
                        .is_none_or(|a| a.is_empty())
        })
        .filter_map(|(r, o)| view.pod_spec(r, o).map(|s| (r, o, s)))
        .collect()
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .filter_map(|k| spec[k].as_array())
        .flatten()
}

/// Objects a pod spec references: `(kind, name, optional, key read)`.
fn references(spec: &Value) -> Vec<(&'static str, String, bool, Option<String>)> {
    let mut out = Vec::new();
    let opt = |v: &Value| v["optional"].as_bool().unwrap_or(false);
    for v in spec["volumes"].as_array().into_iter().flatten() {
        if let Some(n) = v["configMap"]["name"].as_str() {
            out.push(("ConfigMap", n.to_string(), opt(&v["configMap"]), None));
        }
        if let Some(n) = v["secret"]["secretName"].as_str() {
            out.push(("Secret", n.to_string(), opt(&v["secret"]), None));
        }
        if let Some(n) = v["persistentVolumeClaim"]["claimName"].as_str() {
            out.push(("PersistentVolumeClaim", n.to_string(), false, None));
        }
        for s in v["projected"]["sources"].as_array().into_iter().flatten() {
            if let Some(n) = s["configMap"]["name"]
                .as_str()
                .filter(|n| *n != "kube-root-ca.crt")
            {
                out.push(("ConfigMap", n.to_string(), opt(&s["configMap"]), None));
            }
            if let Some(n) = s["secret"]["name"].as_str() {
                out.push(("Secret", n.to_string(), opt(&s["secret"]), None));
            }
        }
    }
    for c in containers(spec) {
        for e in c["env"].as_array().into_iter().flatten() {
            let from = &e["valueFrom"];
            for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
                if let Some(n) = from[field]["name"].as_str() {
                    out.push((
                        kind,
                        n.to_string(),
                        opt(&from[field]),
                        from[field]["key"].as_str().map(str::to_string),
                    ));
                }
            }
        }
        for e in c["envFrom"].as_array().into_iter().flatten() {
            for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
                if let Some(n) = e[field]["name"].as_str() {
                    out.push((kind, n.to_string(), opt(&e[field]), None));
                }
            }
        }
    }
    out
}

/// The objects `r` depends on or that act on it (for the subject's neighbourhood).
pub(super) fn depends_on(view: &ClusterView, r: &ObjectRef) -> Vec<ObjectRef> {
    let mut out = Vec::new();
    let Some(o) = view.objects.get(r) else {
        return out;
    };
    let ns = r.namespace.as_deref();
    if let Some(spec) = view.pod_spec(r, o) {
        for (kind, name, _, _) in references(spec) {
            out.push(ObjectRef::new(kind, ns, &name));
        }
        if let Some(sa) = spec["serviceAccountName"].as_str() {
            out.push(ObjectRef::new("ServiceAccount", ns, sa));
        }
        if let Some(node) = spec["nodeName"].as_str() {
            out.push(ObjectRef::new("Node", None, node));
        }
        // Services its spec names as a host (env values, args: `http://backend:8080`): what
        // it calls.
        let text = spec.to_string();
        for (s, _) in view.of_kind("Service") {
            if ClusterView::same_ns(s, r) && names_host(&text, &s.name) {
                out.push(s.clone());
            }
        }
    }
    for t in o["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        // StatefulSet claims are `<template>-<set>-<ordinal>`.
        let prefix = format!("{}-{}-", str_of(&t["metadata"], "name"), r.name);
        for (c, _) in view.of_kind("PersistentVolumeClaim") {
            if c.name.starts_with(&prefix) {
                out.push(c.clone());
            }
        }
        out.push(ObjectRef::new(
            "PersistentVolumeClaim",
            ns,
            &format!("{prefix}0"),
        ));
    }
    let labels = view.pod_labels(r, o);
    for (other, oo) in &view.objects {
        if !ClusterView::same_ns(other, r) || other == r {
            continue;
        }
        let acts_on = match other.kind.as_str() {
            "Service" => {
                labels.is_some_and(|l| selects(oo["spec"]["selector"].as_object(), l, false))
            }
            "NetworkPolicy" => labels.is_some_and(|l| {
                selects(
                    oo["spec"]["podSelector"]["matchLabels"].as_object(),
                    l,
                    true,
                )
            }),
            "HorizontalPodAutoscaler" => str_of(&oo["spec"]["scaleTargetRef"], "name") == r.name,
            "ResourceQuota" | "LimitRange" => labels.is_some(),
            _ => false,
        };
        if acts_on {
            out.push(other.clone());
        }
    }
    // A Service or Ingress subject: the workloads behind it.
    if r.kind == "Service" {
        for (w, wo) in &view.objects {
            if ClusterView::same_ns(w, r)
                && view
                    .pod_labels(w, wo)
                    .is_some_and(|l| selects(o["spec"]["selector"].as_object(), l, false))
            {
                out.push(w.clone());
            }
        }
    }
    if r.kind == "HorizontalPodAutoscaler" {
        let t = &o["spec"]["scaleTargetRef"];
        out.push(ObjectRef::new(str_of(t, "kind"), ns, str_of(t, "name")));
    }
    if r.kind == "Ingress" {
        for s in o.to_string().split('"').filter(|s| !s.is_empty()) {
            out.extend(
                view.of_kind("Service")
                    .filter(|(x, _)| x.name == s)
                    .map(|(x, _)| x.clone()),
            );
        }
    }
    out
}

/// Whether `text` holds `name` as a whole host name (not part of a longer name).
fn names_host(text: &str, name: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// Whether a selector matches labels. An empty selector matches everything when `empty_all`
/// (NetworkPolicy `podSelector: {}`), nothing otherwise (a Service without selector).
fn selects(
    selector: Option<&Map<String, Value>>,
    labels: &Map<String, Value>,
    empty_all: bool,
) -> bool {
    match selector {
        Some(s) if !s.is_empty() => s.iter().all(|(k, v)| labels.get(k) == Some(v)),
        _ => empty_all,
    }
}

pub(super) fn problems(view: &ClusterView, config: &ClusterSignalConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let owners = pod_owners(view);
    let at = |r: &ObjectRef| view.observed.get(r).copied().unwrap_or(0);
    let mut push =
        |object: ObjectRef, fault, weight, key: String, summary: String, via: Option<ObjectRef>| {
            let at_ns = at(&object);
            out.push(Problem {
                object,
                fault,
                weight,
                key,
                summary,
                at_ns,
                via,
            });
        };
    let namespaces_with_specs: BTreeSet<Option<String>> =
        owners.iter().map(|(r, _, _)| r.namespace.clone()).collect();
    let exists = |kind: &str, name: &str, ns: &Option<String>| {
        view.objects.keys().any(|o| {
            o.kind == kind
                && o.name == name
                && (ns.is_none() || o.namespace.is_none() || &o.namespace == ns)
        })
    };
    for (r, o, spec) in &owners {
        // Missing references: only judged where the referencing spec came with its
        // namespace's other objects (a manifest or a full listing), else unknown.
        let others_in_ns = view
            .objects
            .keys()
            .filter(|k| {
                k.namespace == r.namespace
                    && !is_workload_kind(&k.kind)
                    && k.kind != "Pod"
                    && k.kind != "Namespace"
            })
            .count();
        for (kind, name, optional, key) in references(spec) {
            if optional {
                continue;
            }
            let target = ObjectRef::new(kind, r.namespace.as_deref(), &name);
            if !exists(kind, &name, &r.namespace) {
                if others_in_ns == 0 && !namespaces_with_specs.contains(&r.namespace) {
                    continue;
                }
                let fault = if kind == "PersistentVolumeClaim" {
                    FaultType::Storage
                } else {
                    FaultType::ConfigError
                };
                let weight = if others_in_ns > 0 {
                    config.spec_weight
                } else {
                    config.spec_hint_weight
                };
                push(
                    target.clone(),
                    fault,
                    weight,
                    format!("missing:{kind}"),
                    format!("referenced by {} but not found", r.entity()),
                    Some((*r).clone()),
                );
                push(
                    (*r).clone(),
                    fault,
                    weight * 0.5,
                    format!("references-missing:{name}"),
                    format!("references {kind}/{name}, which is not found"),
                    None,
                );
            } else if let Some(k) = key
                && let Some(obj) = view.objects.get(&target).or_else(|| {
                    view.objects
                        .iter()
                        .find(|(o, _)| o.kind == kind && o.name == name)
                        .map(|(_, v)| v)
                })
                && (obj["data"].is_object() || obj["stringData"].is_object())
                && obj["data"].get(&k).is_none()
                && obj["stringData"].get(&k).is_none()
            {
                push(
                    target,
                    FaultType::ConfigError,
                    config.spec_weight,
                    format!("missing-key:{k}"),
                    format!("has no key {k}, which {} reads", r.entity()),
                    Some((*r).clone()),
                );
            }
        }
        probe_problems(r, spec, config, &mut push);
        scheduling_problems(view, r, o, spec, config, &mut push);
    }
    service_problems(view, config, &mut push);
    policy_problems(view, config, &mut push);
    quota_problems(view, &owners, config, &mut push);
    hpa_problems(view, config, &mut push);
    claim_problems(view, config, &mut push);
    ingress_problems(view, config, &mut push);
    out
}

/// The spec weight when the objects that would tell are in view, the hint weight when none is.
fn weight_for_view(none_in_view: bool, config: &ClusterSignalConfig) -> f64 {
    if none_in_view {
        config.spec_hint_weight
    } else {
        config.spec_weight
    }
}

/// An Ingress routes only through an IngressClass that exists.
fn ingress_problems(view: &ClusterView, config: &ClusterSignalConfig, push: &mut Push<'_>) {
    let classes: BTreeSet<&str> = view
        .of_kind("IngressClass")
        .map(|(r, _)| r.name.as_str())
        .collect();
    for (r, o) in view.of_kind("Ingress") {
        let Some(class) = o["spec"]["ingressClassName"].as_str() else {
            continue;
        };
        if classes.contains(class) {
            continue;
        }
        let weight = weight_for_view(classes.is_empty(), config);
        push(
            r.clone(),
            FaultType::ConfigError,
            weight,
            "ingress-class".into(),
            format!("asks for IngressClass {class}, which is not in view"),
            None,
        );
    }
}

type Push<'a> = dyn FnMut(ObjectRef, FaultType, f64, String, String, Option<ObjectRef>) + 'a;

fn probe_problems(r: &ObjectRef, spec: &Value, config: &ClusterSignalConfig, push: &mut Push<'_>) {
    for c in spec["containers"].as_array().into_iter().flatten() {
        let ports: Vec<&Value> = c["ports"].as_array().into_iter().flatten().collect();
        for (field, what) in [
            ("livenessProbe", "liveness"),
            ("readinessProbe", "readiness"),
            ("startupProbe", "startup"),
        ] {
            let p = &c[field];
            if !p.is_object() {
                continue;
            }
            let port = p["httpGet"]["port"]
                .as_i64()
                .or(p["tcpSocket"]["port"].as_i64())
                .map(|n| n.to_string())
                .or_else(|| {
                    p["httpGet"]["port"]
                        .as_str()
                        .or(p["tcpSocket"]["port"].as_str())
                        .map(str::to_string)
                });
            if let Some(port) = port
                && !ports.is_empty()
                && !ports.iter().any(|q| {
                    q["containerPort"]
                        .as_i64()
                        .map(|n| n.to_string())
                        .as_deref()
                        == Some(port.as_str())
                        || str_of(q, "name") == port
                })
            {
                push(
                    (*r).clone(),
                    FaultType::ProbeFailure,
                    1.0 * config.spec_weight,
                    format!("probe-port:{what}"),
                    format!(
                        "{what} probe checks port {port}, which container {} does not open",
                        str_of(c, "name")
                    ),
                    None,
                );
            }
            let command: Vec<&str> = p["exec"]["command"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let last = command.last().map(|s| s.trim()).unwrap_or("");
            if matches!(last, "exit 1" | "false" | "/bin/false") {
                push(
                    (*r).clone(),
                    FaultType::ProbeFailure,
                    config.spec_weight,
                    format!("probe-never:{what}"),
                    format!("{what} probe runs `{last}`, which always fails"),
                    None,
                );
            }
        }
    }
}

fn scheduling_problems(
    view: &ClusterView,
    r: &ObjectRef,
    o: &Value,
    spec: &Value,
    config: &ClusterSignalConfig,
    push: &mut Push<'_>,
) {
    let nodes: Vec<&Value> = view.of_kind("Node").map(|(_, n)| n).collect();
    let weight = if nodes.is_empty() {
        config.spec_hint_weight
    } else {
        config.spec_weight
    };
    for c in containers(spec) {
        for (res, _) in c["resources"]["requests"]
            .as_object()
            .into_iter()
            .flatten()
            .chain(c["resources"]["limits"].as_object().into_iter().flatten())
        {
            if !res.contains('/') || res.starts_with("hugepages") {
                continue;
            }
            let offered = nodes
                .iter()
                .any(|n| n["status"]["allocatable"].get(res).is_some());
            if !offered {
                push(
                    (*r).clone(),
                    FaultType::Scheduling,
                    weight,
                    format!("extended:{res}"),
                    format!("requests {res}, which no node in view offers"),
                    None,
                );
                break;
            }
        }
    }
    if let Some(sel) = spec["nodeSelector"].as_object().filter(|s| !s.is_empty()) {
        let matched = nodes.iter().any(|n| {
            n["metadata"]["labels"]
                .as_object()
                .is_some_and(|l| selects(Some(sel), l, true))
        });
        let common = sel.keys().all(|k| {
            k.starts_with("kubernetes.io/")
                || k.starts_with("node.kubernetes.io/")
                || k.starts_with("topology.kubernetes.io/")
        });
        if !matched && !common {
            let s: Vec<String> = sel
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            push(
                (*r).clone(),
                FaultType::Scheduling,
                weight,
                "node-selector".into(),
                format!("node selector {} matches no node in view", s.join(",")),
                None,
            );
        }
    }
    let replicas = o["spec"]["replicas"].as_i64().unwrap_or(1);
    let required =
        spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            .as_array();
    if let Some(terms) = required
        && terms
            .iter()
            .any(|t| str_of(t, "topologyKey") == "kubernetes.io/hostname")
    {
        let n = nodes.len() as i64;
        if (n > 0 && replicas > n) || (n == 0 && replicas > 3) {
            push(
                (*r).clone(),
                FaultType::Scheduling,
                weight,
                "anti-affinity".into(),
                format!(
                    "{replicas} replicas with required anti-affinity per node, {} node(s) in view",
                    n
                ),
                None,
            );
        }
    }
}

fn service_problems(view: &ClusterView, config: &ClusterSignalConfig, push: &mut Push<'_>) {
    for (s, so) in view.of_kind("Service") {
        let Some(sel) = so["spec"]["selector"].as_object().filter(|m| !m.is_empty()) else {
            continue;
        };
        let candidates: Vec<(&ObjectRef, &Map<String, Value>)> = view
            .objects
            .iter()
            .filter(|(r, _)| ClusterView::same_ns(r, s))
            .filter_map(|(r, o)| view.pod_labels(r, o).map(|l| (r, l)))
            .collect();
        if candidates.is_empty() || candidates.iter().any(|(_, l)| selects(Some(sel), l, false)) {
            continue;
        }
        // Pods that match all but some of the selector: the selector is what is wrong.
        let near = candidates
            .iter()
            .any(|(_, l)| sel.iter().any(|(k, v)| l.get(k) == Some(v)));
        let sel_text: Vec<String> = sel
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        push(
            s.clone(),
            FaultType::SelectorMismatch,
            if near {
                config.spec_weight
            } else {
                config.spec_weight * 0.6
            },
            "selector".into(),
            format!("selector {} matches no pod in view", sel_text.join(",")),
            None,
        );
    }
}

fn policy_problems(view: &ClusterView, config: &ClusterSignalConfig, push: &mut Push<'_>) {
    let workloads: Vec<(&ObjectRef, &Map<String, Value>)> = view
        .objects
        .iter()
        .filter(|(r, _)| r.kind != "Pod" || view.owner_of(r) == **r)
        .filter_map(|(r, o)| view.pod_labels(r, o).map(|l| (r, l)))
        .collect();
    for (p, po) in view.of_kind("NetworkPolicy") {
        let spec = &po["spec"];
        let types: Vec<&str> = spec["policyTypes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !(types.contains(&"Ingress") || spec["ingress"].is_array()) {
            continue;
        }
        let sel = spec["podSelector"]["matchLabels"].as_object();
        let rules: Vec<&Value> = spec["ingress"].as_array().into_iter().flatten().collect();
        for (target, labels) in &workloads {
            if !ClusterView::same_ns(target, p) || !selects(sel, labels, true) {
                continue;
            }
            // Only workloads that serve (a Service selects them) take calls.
            let served = view.of_kind("Service").any(|(s, so)| {
                ClusterView::same_ns(s, target)
                    && selects(so["spec"]["selector"].as_object(), labels, false)
            });
            if !served {
                continue;
            }
            let refused: Vec<&ObjectRef> = workloads
                .iter()
                .filter(|(c, _)| c != target && ClusterView::same_ns(c, p))
                .filter(|(_, cl)| !rules.iter().any(|rule| admits(rule, cl)))
                .map(|(c, _)| *c)
                .collect();
            if let Some(client) = refused.first() {
                push(
                    p.clone(),
                    FaultType::NetworkPolicy,
                    config.spec_weight,
                    format!("blocks:{}", target.name),
                    format!(
                        "admits no traffic from {} to {} (ingress rules match none of its pods)",
                        client.entity(),
                        target.entity()
                    ),
                    None,
                );
            }
        }
    }
}

/// Whether an ingress rule admits a pod with `labels` from the same namespace.
fn admits(rule: &Value, labels: &Map<String, Value>) -> bool {
    let Some(from) = rule["from"].as_array().filter(|f| !f.is_empty()) else {
        return true;
    };
    from.iter().any(|peer| {
        if peer.get("ipBlock").is_some()
            || peer.get("namespaceSelector").is_some() && peer.get("podSelector").is_none()
        {
            return true;
        }
        selects(peer["podSelector"]["matchLabels"].as_object(), labels, true)
    })
}

/// A Kubernetes quantity (`100m`, `2`, `500Mi`, `1Gi`) in base units (cores, bytes).
fn quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (n, unit) = q.split_at(split);
    let n: f64 = n.parse().ok()?;
    let f = match unit {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        _ => return None,
    };
    Some(n * f)
}

fn quota_problems(
    view: &ClusterView,
    owners: &[(&ObjectRef, &Value, &Value)],
    config: &ClusterSignalConfig,
    push: &mut Push<'_>,
) {
    for (q, qo) in view.of_kind("ResourceQuota") {
        let Some(hard) = qo["spec"]["hard"].as_object() else {
            continue;
        };
        let mut total: std::collections::BTreeMap<&str, f64> = Default::default();
        for (r, o, spec) in owners.iter().filter(|(r, _, _)| ClusterView::same_ns(r, q)) {
            let replicas = o["spec"]["replicas"].as_f64().unwrap_or(1.0);
            for c in spec["containers"].as_array().into_iter().flatten() {
                for res in ["cpu", "memory"] {
                    let limit_key = format!("limits.{res}");
                    if hard.contains_key(&limit_key) && c["resources"]["limits"].get(res).is_none()
                    {
                        push(
                            (*r).clone(),
                            FaultType::Quota,
                            config.spec_weight,
                            format!("quota-needs:{limit_key}"),
                            format!(
                                "container {} sets no {res} limit, which quota {} requires",
                                str_of(c, "name"),
                                q.name
                            ),
                            None,
                        );
                    }
                    for kind in ["requests", "limits"] {
                        if let Some(v) = c["resources"][kind][res].as_str().and_then(quantity) {
                            *total
                                .entry(if kind == "requests" {
                                    if res == "cpu" {
                                        "requests.cpu"
                                    } else {
                                        "requests.memory"
                                    }
                                } else if res == "cpu" {
                                    "limits.cpu"
                                } else {
                                    "limits.memory"
                                })
                                .or_default() += v * replicas;
                        }
                    }
                }
            }
        }
        for (key, sum) in total {
            let Some(limit) = hard.get(key).and_then(Value::as_str).and_then(quantity) else {
                continue;
            };
            if sum > limit * 1.0001 {
                push(
                    q.clone(),
                    FaultType::Quota,
                    config.spec_weight,
                    format!("quota-exceeded:{key}"),
                    format!(
                        "{key} of the namespace's pods ({sum:.3}) exceeds the quota's {limit:.3}"
                    ),
                    None,
                );
            }
        }
    }
}

fn hpa_problems(view: &ClusterView, config: &ClusterSignalConfig, push: &mut Push<'_>) {
    for (h, ho) in view.of_kind("HorizontalPodAutoscaler") {
        let target = &ho["spec"]["scaleTargetRef"];
        let t = ObjectRef::new(
            str_of(target, "kind"),
            h.namespace.as_deref(),
            str_of(target, "name"),
        );
        let Some((tr, to)) = view
            .objects
            .iter()
            .find(|(r, _)| r.kind == t.kind && r.name == t.name && ClusterView::same_ns(r, &t))
        else {
            continue;
        };
        let Some(spec) = view.pod_spec(tr, to) else {
            continue;
        };
        let mut resources: Vec<String> = ho["spec"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["resource"]["name"].as_str().map(str::to_string))
            .collect();
        if ho["spec"]["targetCPUUtilizationPercentage"].is_number() {
            resources.push("cpu".into());
        }
        for res in resources {
            let missing = spec["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["resources"]["requests"].get(&res).is_none());
            if missing {
                push(
                    tr.clone(),
                    FaultType::ConfigError,
                    config.spec_weight,
                    format!("hpa-needs:{res}"),
                    format!(
                        "{} scales it on {res} utilisation, but its containers request no {res}",
                        h.entity()
                    ),
                    None,
                );
            }
        }
    }
}

fn claim_problems(view: &ClusterView, config: &ClusterSignalConfig, push: &mut Push<'_>) {
    let classes: BTreeSet<&str> = view
        .of_kind("StorageClass")
        .map(|(r, _)| r.name.as_str())
        .collect();
    let mut claims: Vec<(ObjectRef, String)> = view
        .of_kind("PersistentVolumeClaim")
        .filter_map(|(r, o)| {
            o["spec"]["storageClassName"]
                .as_str()
                .map(|c| (r.clone(), c.to_string()))
        })
        .collect();
    for (r, o) in &view.objects {
        for t in o["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(c) = t["spec"]["storageClassName"].as_str() {
                let name = format!("{}-{}-0", str_of(&t["metadata"], "name"), r.name);
                claims.push((
                    ObjectRef::new("PersistentVolumeClaim", r.namespace.as_deref(), &name),
                    c.to_string(),
                ));
            }
        }
    }
    for (claim, class) in claims {
        if class.is_empty() || classes.contains(class.as_str()) {
            continue;
        }
        let weight = weight_for_view(classes.is_empty(), config);
        push(
            claim,
            FaultType::Storage,
            weight,
            "storage-class".into(),
            format!("asks for StorageClass {class}, which is not in view"),
            None,
        );
    }
}
