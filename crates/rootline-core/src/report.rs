//! The result of an investigation.

use serde::{Deserialize, Serialize};

use crate::{Evidence, Incident};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultType {
    Exception,
    /// A code path changed: messages appear or stop without errors (e.g. a wrong return value).
    WrongReturnValue,
    /// More errors than the baseline predicts, with no new message shape.
    ErrorSpike,
    Latency,
    Cpu,
    Memory,
    NetworkDelay,
    ConfigChange,
    Deploy,
    /// A container that keeps exiting on its own (nothing in its spec or surroundings wrong).
    CrashLoop,
    /// An image that cannot be pulled.
    ImagePull,
    /// A readiness, liveness or startup probe that fails.
    ProbeFailure,
    /// Pods that cannot be placed (resources, selectors, affinity, taints).
    Scheduling,
    /// A spec or referenced object that is wrong or missing (env, command, ConfigMap, Secret).
    ConfigError,
    /// A NetworkPolicy that blocks the traffic.
    NetworkPolicy,
    /// A volume claim that cannot be bound or mounted, or a full disk.
    Storage,
    /// A ResourceQuota or LimitRange that refuses pods.
    Quota,
    /// A Service whose selector matches no pod.
    SelectorMismatch,
    /// Something the workload needs (a database, an API) does not answer.
    DependencyDown,
    /// A node that is not ready or under pressure.
    NodeFailure,
    Unknown,
}

impl FaultType {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultType::Exception => "exception",
            FaultType::WrongReturnValue => "wrong_return_value",
            FaultType::ErrorSpike => "error_spike",
            FaultType::Latency => "latency",
            FaultType::Cpu => "cpu",
            FaultType::Memory => "memory",
            FaultType::NetworkDelay => "network_delay",
            FaultType::ConfigChange => "config_change",
            FaultType::Deploy => "deploy",
            FaultType::CrashLoop => "crash_loop",
            FaultType::ImagePull => "image_pull",
            FaultType::ProbeFailure => "probe_failure",
            FaultType::Scheduling => "scheduling",
            FaultType::ConfigError => "config_error",
            FaultType::NetworkPolicy => "network_policy",
            FaultType::Storage => "storage",
            FaultType::Quota => "quota",
            FaultType::SelectorMismatch => "selector_mismatch",
            FaultType::DependencyDown => "dependency_down",
            FaultType::NodeFailure => "node_failure",
            FaultType::Unknown => "unknown",
        }
    }
}

/// A probable root cause with the evidence that supports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub entity: String,
    pub fault_type: FaultType,
    pub score: f64,
    pub evidence: Vec<String>,
    pub why: String,
    /// The score's parts per signal (`logs`, `traces`, `metrics`, `changes`), so a reader sees
    /// which data put the candidate where it is.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub score_by_signal: std::collections::BTreeMap<String, f64>,
    /// The entity's pods, hosts or processes its evidence was seen on, most implicated first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
    /// The entity's code modules its evidence points at, most implicated first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
    /// When the candidate's first significant change was seen (RFC 3339), when the onset search
    /// saw one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_change: Option<String>,
}

/// What the investigation concluded overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Candidates are ranked and the top one stands out.
    ProbableCause,
    /// Something changed, but no candidate is decisive.
    InsufficientEvidence,
    /// The window looks like its baseline.
    NoIncidentDetected,
    /// The index holds no records in the incident window.
    NoData,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ProbableCause => "probable cause",
            Outcome::InsufficientEvidence => "insufficient evidence",
            Outcome::NoIncidentDetected => "no incident detected",
            Outcome::NoData => "no data in the incident window",
        }
    }
}

/// Record counts in the two windows compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub window_start: String,
    pub window_end: String,
    pub baseline_start: String,
    pub baseline_end: String,
    pub window_records: u64,
    pub baseline_records: u64,
    pub services_seen: u64,
}

/// How the start of the compared window was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnsetHow {
    /// The incident's declared start (no significant change was found inside the window, or the
    /// search is off).
    Declared,
    /// A change point over the window's data.
    Estimated,
}

impl OnsetHow {
    pub fn as_str(self) -> &'static str {
        match self {
            OnsetHow::Declared => "declared",
            OnsetHow::Estimated => "estimated",
        }
    }
}

/// When the incident began, as the investigation sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Onset {
    /// RFC 3339.
    pub time: String,
    pub how: OnsetHow,
    /// 0..1: for an estimate, the share of the change evidence at that time.
    pub confidence: f64,
    /// Evidence items the onset search's first comparison found (0 for a declared onset).
    #[serde(default)]
    pub changes_seen: usize,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub investigation_id: String,
    pub created_at: String,
    pub incident: Incident,
    /// "offline" when no model took part: the ranking is the evidence engine's alone.
    pub mode: String,
    pub outcome: Outcome,
    /// One sentence on why the outcome is what it is.
    #[serde(default)]
    pub outcome_reason: String,
    pub stats: WindowStats,
    /// Where the compared window starts and how that was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<Onset>,
    pub candidates: Vec<Candidate>,
    pub evidence: Vec<Evidence>,
    /// Model hypotheses that passed every grounding check (each with `grounded: true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hypotheses: Vec<serde_json::Value>,
    /// Model hypotheses dropped by the grounding checks, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_hypotheses: Vec<serde_json::Value>,
    /// The model exchange: prompt name/version/hash, model, token usage and cost, errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<serde_json::Value>,
    /// What the investigation could not read, one sentence each (a metrics query that timed
    /// out or was refused): the ranking used everything else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}
