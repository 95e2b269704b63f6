//! Kubernetes cluster state as rootline keeps it: every object in the API's own JSON shape
//! (`apiVersion`, `kind`, `metadata`, `spec`, `status`; events as core/v1 `Event`s), whatever it
//! was read from — `kubectl get -o yaml|json`, `kubectl describe` text, a `kubectl get` table, a
//! live watch. One shape means one analysis: the readers translate, the signal reads objects.
//!
//! A [`StateItem`] is one object as observed at one time, with where it came from and whether
//! its times were reconstructed from relative ages (`49m`, `3d2h`) and so are approximate.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::Provenance;

/// A Kubernetes object's identity. `kind` is the canonical singular kind (`Pod`,
/// `Deployment`, `PersistentVolumeClaim`), see [`canonical_kind`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            kind: canonical_kind(kind),
            namespace: namespace.filter(|n| !n.is_empty()).map(str::to_string),
            name: name.to_string(),
        }
    }

    /// The identity of an object in API shape (`kind` and `metadata.name` required).
    pub fn of(object: &Value) -> Option<ObjectRef> {
        let kind = object.get("kind")?.as_str()?;
        let meta = object.get("metadata")?;
        let name = meta.get("name")?.as_str()?;
        Some(ObjectRef::new(
            kind,
            meta.get("namespace").and_then(Value::as_str),
            name,
        ))
    }

    /// How a candidate names the object: `Deployment/checkout`. The namespace is left out (it
    /// is in the evidence), so that a workload and the service of the same name meet.
    pub fn entity(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{} (namespace {ns})", self.kind, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// One object as observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateItem {
    /// The object in API shape.
    pub object: Value,
    /// When it was observed (the capture time), unix nanoseconds.
    pub observed_ns: i64,
    /// Its times were reconstructed from relative ages or from the order of untimed lines.
    #[serde(default)]
    pub approximate: bool,
    pub provenance: Provenance,
}

/// The canonical kind for the spellings kubectl accepts (`po`, `pods`, `deploy`,
/// `deployments.apps`, `pvc`, ...). Unknown kinds keep their spelling with a capital first
/// letter.
pub fn canonical_kind(kind: &str) -> String {
    let k = kind.trim();
    let base = k.split('.').next().unwrap_or(k).to_ascii_lowercase();
    let known = match base.as_str() {
        "po" | "pod" | "pods" => "Pod",
        "deploy" | "deployment" | "deployments" => "Deployment",
        "rs" | "replicaset" | "replicasets" => "ReplicaSet",
        "sts" | "statefulset" | "statefulsets" => "StatefulSet",
        "ds" | "daemonset" | "daemonsets" => "DaemonSet",
        "job" | "jobs" => "Job",
        "cj" | "cronjob" | "cronjobs" => "CronJob",
        "svc" | "service" | "services" => "Service",
        "ep" | "endpoints" => "Endpoints",
        "cm" | "configmap" | "configmaps" => "ConfigMap",
        "secret" | "secrets" => "Secret",
        "netpol" | "networkpolicy" | "networkpolicies" => "NetworkPolicy",
        "no" | "node" | "nodes" => "Node",
        "pvc" | "persistentvolumeclaim" | "persistentvolumeclaims" => "PersistentVolumeClaim",
        "pv" | "persistentvolume" | "persistentvolumes" => "PersistentVolume",
        "sc" | "storageclass" | "storageclasses" => "StorageClass",
        "hpa" | "horizontalpodautoscaler" | "horizontalpodautoscalers" => "HorizontalPodAutoscaler",
        "quota" | "resourcequota" | "resourcequotas" => "ResourceQuota",
        "limits" | "limitrange" | "limitranges" => "LimitRange",
        "ev" | "event" | "events" => "Event",
        "ing" | "ingress" | "ingresses" => "Ingress",
        "sa" | "serviceaccount" | "serviceaccounts" => "ServiceAccount",
        "ns" | "namespace" | "namespaces" => "Namespace",
        "role" | "roles" => "Role",
        "rolebinding" | "rolebindings" => "RoleBinding",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    // Already canonical (`Application`, `ScaledObject`): keep it, first letter upper.
    let mut c = k.split('.').next().unwrap_or(k).chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What of an object is its configuration, to be versioned and diffed: its identity, labels,
/// owner, `spec` and `data` — not its status or the fields the API server changes on every
/// write (resourceVersion, managedFields, timestamps, the last-applied annotation). A Secret's
/// values are replaced by a mark (their keys stay): rootline never keeps secret values. `None`
/// for kinds whose state is not configuration (events, pods: pods are their workload's).
pub fn spec_version(object: &Value) -> Option<Value> {
    let r = ObjectRef::of(object)?;
    if matches!(
        r.kind.as_str(),
        "Event" | "Pod" | "Node" | "ReplicaSet" | "Endpoints"
    ) {
        return None;
    }
    let meta = &object["metadata"];
    let mut out = serde_json::Map::new();
    out.insert("kind".into(), Value::String(r.kind.clone()));
    let mut m = serde_json::Map::new();
    for k in ["name", "namespace", "labels", "ownerReferences"] {
        if let Some(v) = meta.get(k).filter(|v| !v.is_null()) {
            m.insert(k.into(), v.clone());
        }
    }
    out.insert("metadata".into(), Value::Object(m));
    for k in ["spec", "data", "stringData", "rules", "roleRef", "subjects"] {
        if let Some(v) = object.get(k).filter(|v| !v.is_null()) {
            let v = if r.kind == "Secret" && (k == "data" || k == "stringData") {
                match v.as_object() {
                    Some(map) => Value::Object(
                        map.keys()
                            .map(|key| (key.clone(), Value::String("<secret>".into())))
                            .collect(),
                    ),
                    None => Value::Null,
                }
            } else {
                v.clone()
            };
            out.insert(k.into(), v);
        }
    }
    Some(Value::Object(out))
}

/// The config source a versioned object is stored under: `k8s:<namespace>/<Kind>/<name>`.
pub fn spec_source(r: &ObjectRef) -> String {
    format!(
        "k8s:{}/{}/{}",
        r.namespace.as_deref().unwrap_or("-"),
        r.kind,
        r.name
    )
}

/// Kubernetes names pods `<workload>-<replicaset hash>-<pod hash>` (Deployments) or
/// `<workload>-<ordinal>` (StatefulSets): the workload's name; any other name is kept. The one
/// copy of this rule (the log parser, the cluster signal and the importers use it).
pub fn workload_of_pod(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    let looks_like_hash =
        |s: &str| (5..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let has_digit = |s: &str| s.bytes().any(|b| b.is_ascii_digit());
    if parts.len() >= 3 {
        let (a, b) = (parts[parts.len() - 2], parts[parts.len() - 1]);
        if looks_like_hash(a)
            && b.len() == 5
            && looks_like_hash(b)
            && (has_digit(a) || has_digit(b))
        {
            return parts[..parts.len() - 2].join("-");
        }
    }
    if parts.len() >= 2 {
        let last = parts[parts.len() - 1];
        if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
            return parts[..parts.len() - 1].join("-");
        }
    }
    pod.to_string()
}

/// Kinds that own and run pods: a candidate is one of these, with its pods as instances.
pub fn is_workload_kind(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob" | "ReplicaSet"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_canonical_whatever_kubectl_spelling() {
        assert_eq!(canonical_kind("po"), "Pod");
        assert_eq!(canonical_kind("deployments.apps"), "Deployment");
        assert_eq!(
            canonical_kind("PersistentVolumeClaim"),
            "PersistentVolumeClaim"
        );
        assert_eq!(canonical_kind("scaledobject"), "Scaledobject");
        assert_eq!(canonical_kind("Application"), "Application");
    }

    #[test]
    fn a_spec_version_keeps_configuration_and_never_a_secret_value() {
        let deploy = serde_json::json!({"kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "resourceVersion": "7", "labels": {"app": "api"}},
            "spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
        let v = spec_version(&deploy).unwrap();
        assert_eq!(v["spec"]["replicas"], 2);
        assert!(v.get("status").is_none() && v["metadata"].get("resourceVersion").is_none());
        assert_eq!(
            spec_source(&ObjectRef::of(&deploy).unwrap()),
            "k8s:shop/Deployment/api"
        );
        let secret = serde_json::json!({"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}});
        assert_eq!(
            spec_version(&secret).unwrap()["data"]["password"],
            "<secret>"
        );
        assert!(
            spec_version(&serde_json::json!({"kind": "Event", "metadata": {"name": "e"}}))
                .is_none()
        );
    }

    #[test]
    fn an_object_in_api_shape_has_an_identity() {
        let o = serde_json::json!({"kind": "pods", "metadata": {"name": "a", "namespace": "ns"}});
        let r = ObjectRef::of(&o).unwrap();
        assert_eq!(r, ObjectRef::new("Pod", Some("ns"), "a"));
        assert_eq!(r.entity(), "Pod/a");
        assert!(ObjectRef::of(&serde_json::json!({"kind": "Pod"})).is_none());
    }
}
