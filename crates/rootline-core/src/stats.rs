//! Aggregates the index computes and the signals compare.

use serde::{Deserialize, Serialize};

use crate::Level;

/// Counts for one (service, template) over a filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateStat {
    pub service: String,
    /// `None` for records ingested without a template id.
    pub template_id: Option<u64>,
    pub count: u64,
    /// Records at error level or worse.
    pub errors: u64,
    pub warnings: u64,
    pub worst_level: Level,
    pub first_ns: i64,
    pub last_ns: i64,
    /// Evidence ids of the first few records (in index order).
    pub examples: Vec<String>,
    /// The message of the first example, for display.
    pub sample: String,
    /// Distinct hosts (pods, instances) of the examples.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Distinct modules (loggers) of the examples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
    /// Code modules named by stack frames in the examples, innermost first
    /// ([`crate::frames::stack_frame_modules`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<String>,
    /// Bottom-k sketch of the trace ids its records carry ([`crate::sketch`]); empty when they
    /// carry none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<u64>,
    /// Bottom-k sketch of the seconds its records were written in ([`crate::sketch::second_hash`]);
    /// empty in stats from before it was kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seconds: Vec<u64>,
}
