//! Observations other than log lines: metric points, spans, change events, and the service
//! call graph derived from spans.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::Provenance;

/// One sample of one metric series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Metric name, e.g. `container_cpu_usage_seconds_total` or `CpuUsageRate(%)`.
    pub name: String,
    /// Labels, sorted by key.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The entity the series describes (service, pod, host), when a label names one.
    pub entity: Option<String>,
    pub ts_ns: i64,
    pub value: f64,
}

impl MetricPoint {
    /// The canonical series key: `name{k="v",...}` with labels sorted.
    pub fn series_key(&self) -> String {
        series_key(&self.name, &self.labels)
    }
}

pub fn series_key(name: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SpanStatus {
    #[default]
    Unset,
    Ok,
    Error,
}

/// One span of a distributed trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Stable id (`span-` + hash of trace id and span id).
    pub evidence_id: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub service: String,
    /// Pod or instance, when known.
    pub host: Option<String>,
    pub operation: String,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub status: SpanStatus,
    pub provenance: Provenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Deploy,
    Rollback,
    FeatureFlag,
    Scale,
    Config,
    Other,
}

/// A deploy, rollback, flag flip, scaling or config change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub id: String,
    pub ts_ns: i64,
    pub service: String,
    pub kind: ChangeKind,
    /// Who made the change, when known.
    pub who: Option<String>,
    /// One line: what changed.
    pub what: String,
    /// A structured diff (config changes), when there is one.
    #[serde(default)]
    pub diff: Option<serde_json::Value>,
}

/// Caller → callee edges between services with call counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceGraph {
    pub edges: BTreeMap<String, BTreeMap<String, u64>>,
    /// Entity (instance, pod, process) → the service it belongs to, from a [`Topology`]: alerts
    /// name pods while the edges join services.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members: BTreeMap<String, String>,
    /// Entity (instance, pod, service, datastore) → the host it runs on, from a [`Topology`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, String>,
    /// Entities that only observe, from a [`Topology`]'s `probes`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub probes: BTreeSet<String>,
    /// Entities known only through their callers' side, from a [`Topology`]'s `views`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub views: BTreeSet<String>,
}

impl ServiceGraph {
    pub fn add_call(&mut self, caller: &str, callee: &str, calls: u64) {
        if caller == callee {
            return;
        }
        *self
            .edges
            .entry(caller.to_string())
            .or_default()
            .entry(callee.to_string())
            .or_default() += calls;
    }

    /// Adds every edge of `other` (call counts add up) and its memberships (those already known
    /// are kept).
    pub fn merge(&mut self, other: &ServiceGraph) {
        for (caller, callees) in &other.edges {
            for (callee, calls) in callees {
                self.add_call(caller, callee, *calls);
            }
        }
        for (entity, service) in &other.members {
            self.members
                .entry(entity.clone())
                .or_insert_with(|| service.clone());
        }
        for (entity, host) in &other.hosts {
            self.hosts
                .entry(entity.clone())
                .or_insert_with(|| host.clone());
        }
        self.probes.extend(other.probes.iter().cloned());
        self.views.extend(other.views.iter().cloned());
    }

    /// Adds a topology's calls (one call each: a declared edge, not an observed count) and its
    /// memberships.
    pub fn add_topology(&mut self, topology: &Topology) {
        let mut g = ServiceGraph::default();
        for (caller, callees) in &topology.calls {
            for callee in callees {
                g.add_call(caller, callee, 1);
            }
        }
        g.members = topology.services.clone();
        g.hosts = topology.hosts.clone();
        g.probes = topology.probes.clone();
        g.views = topology.views.clone();
        self.merge(&g);
    }

    /// Whether `entity` (or the service it belongs to) only observes: a synthetic check, a load
    /// generator, a test harness. Its failures are its callees' symptoms.
    pub fn is_probe(&self, entity: &str) -> bool {
        self.probes.contains(entity) || self.probes.contains(self.service_of(entity))
    }

    /// Whether `entity` (or its service) is known only through its callers: an uninstrumented
    /// endpoint whose numbers are its callers' client-side measurements of the calls.
    pub fn is_view(&self, entity: &str) -> bool {
        self.views.contains(entity) || self.views.contains(self.service_of(entity))
    }

    /// The service `entity` belongs to: its membership when known, else the entity itself (a
    /// service name, or an entity the topology does not know).
    pub fn service_of<'a>(&'a self, entity: &'a str) -> &'a str {
        self.members.get(entity).map_or(entity, String::as_str)
    }

    /// The host `entity` runs on, when known.
    pub fn host_of(&self, entity: &str) -> Option<&str> {
        self.hosts.get(entity).map(String::as_str)
    }

    /// Whether the graph knows anything: edges or memberships.
    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
            && self.members.is_empty()
            && self.hosts.is_empty()
            && self.probes.is_empty()
            && self.views.is_empty()
    }

    pub fn callees<'a>(&'a self, caller: &str) -> impl Iterator<Item = &'a String> + 'a {
        self.edges.get(caller).into_iter().flat_map(|m| m.keys())
    }

    pub fn callers<'a>(&'a self, callee: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.edges
            .iter()
            .filter(move |(_, m)| m.contains_key(callee))
            .map(|(k, _)| k)
    }

    pub fn services(&self) -> BTreeSet<&String> {
        self.edges
            .iter()
            .flat_map(|(k, m)| std::iter::once(k).chain(m.keys()))
            .collect()
    }
}

/// A system's declared topology, as a bundle's `topology.json` holds it (dataset-neutral; the
/// importers convert a dataset's own graph into it). Every part is optional:
///
/// ```json
/// {
///   "calls":    {"frontend": ["cart", "checkout"], "cart": ["redis-cart"]},
///   "services": {"frontend-0": "frontend", "cart-1": "cart"},
///   "hosts":    {"frontend-0": "node-5", "cart-1": "node-6", "redis-cart": "node-6"}
/// }
/// ```
///
/// `calls` are caller → callee edges between services (a datastore or cache a service uses is a
/// callee too); `services` maps an instance, pod or process to its service; `hosts` maps an
/// instance, pod or service to the host (node, VM) it runs on. `probes` are entities that only
/// observe (a synthetic check, a load generator, a test harness): they rank after every entity
/// they could be reporting on, and never decide the outcome. `views` are entities known only
/// through their callers' side (an uninstrumented endpoint, a database or an external API
/// whose latency and errors are what its callers measured on their calls): their symptoms are
/// as much the caller's and the network's as their own, so they count less than a service
/// measured from the inside (`RankConfig::view_weight`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    #[serde(default)]
    pub calls: BTreeMap<String, BTreeSet<String>>,
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    #[serde(default)]
    pub hosts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub probes: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub views: BTreeSet<String>,
}

impl Topology {
    pub fn add_call(&mut self, caller: &str, callee: &str) {
        self.calls
            .entry(caller.to_string())
            .or_default()
            .insert(callee.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
            && self.services.is_empty()
            && self.hosts.is_empty()
            && self.probes.is_empty()
            && self.views.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_edges() {
        let mut g = ServiceGraph::default();
        g.add_call("gateway", "orders", 3);
        g.add_call("orders", "db", 2);
        g.add_call("orders", "db", 1);
        g.add_call("db", "db", 9);
        assert_eq!(g.callees("orders").collect::<Vec<_>>(), vec!["db"]);
        assert_eq!(g.edges["orders"]["db"], 3);
        assert_eq!(g.callers("db").collect::<Vec<_>>(), vec!["orders"]);
        assert_eq!(g.services().len(), 3);
    }

    #[test]
    fn topology_joins_pods_to_services_and_hosts() {
        let topology: Topology = serde_json::from_str(
            r#"{"calls": {"frontend": ["cart"], "cart": ["cart", "redis"]},
                "services": {"frontend-0": "frontend", "cart-1": "cart"},
                "hosts": {"cart-1": "node-6"}}"#,
        )
        .unwrap();
        let mut g = ServiceGraph::default();
        g.add_call("frontend", "cart", 40);
        g.add_topology(&topology);
        assert_eq!(
            g.edges["frontend"]["cart"], 41,
            "declared edges add one call"
        );
        assert_eq!(g.callees("cart").collect::<Vec<_>>(), vec!["redis"]);
        assert_eq!(g.service_of("cart-1"), "cart");
        assert_eq!(g.service_of("cart"), "cart");
        assert_eq!(g.service_of("unknown-pod"), "unknown-pod");
        assert_eq!(g.host_of("cart-1"), Some("node-6"));
        assert_eq!(g.host_of("frontend-0"), None);
        // A trace-only graph serialises as before (no empty membership maps).
        let mut traced = ServiceGraph::default();
        traced.add_call("a", "b", 1);
        assert_eq!(
            serde_json::to_string(&traced).unwrap(),
            r#"{"edges":{"a":{"b":1}}}"#
        );
        let empty: Topology = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn series_keys_are_canonical() {
        let mut labels = BTreeMap::new();
        labels.insert("pod".to_string(), "a-1".to_string());
        labels.insert("container".to_string(), "app".to_string());
        assert_eq!(
            series_key("cpu", &labels),
            r#"cpu{container="app",pod="a-1"}"#
        );
        assert_eq!(series_key("up", &BTreeMap::new()), "up");
    }
}
