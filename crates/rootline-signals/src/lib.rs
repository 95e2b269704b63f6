//! Deterministic signals over log records, and the ranking of root-cause candidates.
//!
//! Everything here is a pure function of the records it is given: the same input always gives
//! the same evidence ids, scores and order. The caller fetches the incident window and the
//! baseline window from the index; this crate compares them.
//!
//! Comparisons are volume-normalised: the expected count of anything in the window is its
//! baseline count scaled by `window records / baseline records`, so a baseline that covers less
//! time than the window (or a quieter hour) does not look like a spike.
//!
//! Architecture invariant: no IO, no tokio, no tantivy, no sqlx.

pub mod changes;
pub mod cluster;
mod logs;
mod mask;
pub mod metrics;
pub mod onset;
pub mod pack;
mod rank;
mod stats;
pub mod traces;

pub use changes::{ChangeSignalConfig, change_findings};
pub use cluster::{ClusterFindings, ClusterSignalConfig, Subject, cluster_findings};
pub use logs::{
    LogSignalConfig, aggregate, analyse_logs, analyse_templates, log_findings, log_findings_in,
};
pub use metrics::{MetricSignalConfig, metric_findings, metric_findings_in};
pub use pack::{PackedContext, PackedItem, PackedLine, pack};
pub use rank::{Finding, FindingKind, RankConfig, RankContext, Ranking, rank};
pub use traces::{TraceSignalConfig, trace_findings};

/// Thresholds shared by every signal and the ranking.
pub type SignalConfig = LogSignalConfig;
pub use mask::mask_message;
pub use stats::{poisson_cdf, poisson_sf};
