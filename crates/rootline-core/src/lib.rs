//! Domain types of rootline and the pure logic on them.
//!
//! Architecture invariant: this crate does no IO and knows nothing about tokio, tantivy, sqlx, axum
//! or any model provider. Every other crate depends on it; it depends on none of them.

pub mod evidence;
pub mod frames;
pub mod hash;
pub mod incident;
pub mod k8s;
pub mod observation;
pub mod record;
pub mod redact;
pub mod report;
pub mod series;
pub mod sketch;
pub mod stats;
pub mod time;
pub mod trace_stats;

pub use evidence::{Evidence, EvidenceKind};
pub use frames::{own_code_root, stack_frame_modules};
pub use incident::{Incident, IncidentError, TimeWindow};
pub use observation::{
    ChangeEvent, ChangeKind, MetricPoint, ServiceGraph, Span, SpanStatus, series_key,
};
pub use record::{Level, LogRecord, Provenance};
pub use report::{Candidate, FaultType, Onset, OnsetHow, Outcome, Report, WindowStats};
pub use series::Series;
pub use stats::TemplateStat;
pub use trace_stats::{
    LatencyHistogram, ServiceTraceStats, SpanFacts, TraceAggregates, aggregate_spans,
    span_evidence_id, span_key,
};
