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

    /// Adds every edge of `other` (call counts add up).
    pub fn merge(&mut self, other: &ServiceGraph) {
        for (caller, callees) in &other.edges {
            for (callee, calls) in callees {
                self.add_call(caller, callee, *calls);
            }
        }
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
