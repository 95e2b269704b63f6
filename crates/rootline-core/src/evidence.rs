//! Evidence: one observation a claim can cite.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// Error/warning rate of an entity in the window against its baseline.
    ErrorRate,
    /// A message (template) seen in the window but never in the baseline.
    NewMessage,
    /// A message whose rate changed between baseline and window.
    RateChange,
    /// A log record cited as an example.
    LogRecord,
    /// A metric series that moved away from its baseline.
    MetricAnomaly,
    /// Span latency of an entity changed against the baseline.
    LatencyChange,
    /// Span error rate of an entity rose against the baseline.
    SpanErrors,
    /// A deploy, flag flip, scaling or config change shortly before onset.
    Change,
    /// Another service's new or bursting errors name this one.
    NamedInErrors,
    /// Kubernetes cluster state: a container state, a warning event, a spec that cannot work.
    ClusterState,
}

impl EvidenceKind {
    /// The signal (data modality) this kind of evidence comes from: `logs`, `traces`,
    /// `metrics`, `changes` or `cluster`. The ranking weighs each signal's vote separately.
    pub fn signal(self) -> &'static str {
        match self {
            EvidenceKind::ErrorRate
            | EvidenceKind::NewMessage
            | EvidenceKind::RateChange
            | EvidenceKind::LogRecord
            | EvidenceKind::NamedInErrors => "logs",
            EvidenceKind::MetricAnomaly => "metrics",
            EvidenceKind::LatencyChange | EvidenceKind::SpanErrors => "traces",
            EvidenceKind::Change => "changes",
            EvidenceKind::ClusterState => "cluster",
        }
    }
}

/// An observation with a stable id. `examples` are evidence ids of log records that show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub id: String,
    pub kind: EvidenceKind,
    pub entity: String,
    /// Unix nanoseconds of the first occurrence in the window.
    pub first_seen_ns: i64,
    /// 0..1, how unusual this is against the baseline.
    pub strength: f64,
    pub summary: String,
    #[serde(default)]
    pub examples: Vec<String>,
    /// Pods, hosts or processes of `entity` where this was seen (from the example records or the
    /// series labels), when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
    /// Code modules of `entity` this points at, most implicated first: the innermost frames of
    /// the service's own code in a stack trace, then the loggers that wrote the lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
}
