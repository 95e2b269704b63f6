//! The ground-truth schema (`truth.json`) and the rules that say when a ranked entity matches it.
//!
//! Importers write every field they know; the evaluator needs no dataset knowledge: dataset fault
//! labels are mapped to rootline fault types at import time (`fault_type_rootline`), and the
//! instance → service map comes from the dataset's own topology (`entity_services`).

use std::collections::BTreeMap;

use rootline_core::EvidenceKind;
use serde::{Deserialize, Serialize};

/// `truth.json`. Every field is optional; a level is scored only where the truth names it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Dataset the case comes from; the summary tables group by it.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub case_id: Option<String>,
    /// The service at fault (e.g. `ts-food-service`, `nova`).
    #[serde(default)]
    pub root_cause_service: Option<String>,
    /// The entity at fault at the dataset's own granularity (instance, pod, node or service).
    #[serde(default)]
    pub root_cause_entity: Option<String>,
    #[serde(default)]
    pub root_cause_pod: Option<String>,
    /// Code module at fault (e.g. a Python logger name).
    #[serde(default)]
    pub root_cause_module: Option<String>,
    /// The dataset's own fault label, kept as written.
    #[serde(default)]
    pub fault_type: Option<String>,
    /// rootline `FaultType` names (snake case) that count as a correct fault type.
    #[serde(default, deserialize_with = "one_or_many")]
    pub fault_type_rootline: Vec<String>,
    /// A control case: a fault was injected (or none) but nothing failed.
    #[serde(default)]
    pub no_fault: bool,
    /// Entity → service, from the dataset's topology, for service-level matching of entities.
    #[serde(default)]
    pub entity_services: BTreeMap<String, String>,
    /// Patterns for the evidence that proves the cause, when the importer knows it. When empty,
    /// the ground-truth evidence is every evidence item about the root-cause entity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidencePattern>,
}

/// One ground-truth evidence pattern. An evidence item matches when every field given matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvidencePattern {
    /// Case-insensitive substring of the item's summary or of one of its example lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The item's entity, or the service of the item's entity (same rule as ranked entities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EvidenceKind>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        None(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::None(()) => vec![],
    })
}

/// The granularities a ranked entity is matched at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Service,
    Entity,
    Pod,
    Module,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Service, Level::Entity, Level::Pod, Level::Module];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Service => "service",
            Level::Entity => "entity",
            Level::Pod => "pod",
            Level::Module => "module",
        }
    }
}

fn eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

impl Truth {
    /// The target at `level`, when the truth names one.
    pub fn target(&self, level: Level) -> Option<&str> {
        let t = match level {
            Level::Service => &self.root_cause_service,
            Level::Entity => &self.root_cause_entity,
            Level::Pod => &self.root_cause_pod,
            Level::Module => &self.root_cause_module,
        };
        t.as_deref().filter(|s| !s.trim().is_empty())
    }

    /// The service an entity belongs to: the dataset's topology map when it names the entity,
    /// else the generic Kubernetes pod-name rule (which leaves a plain service name unchanged).
    pub fn service_of(&self, entity: &str) -> String {
        self.entity_services
            .iter()
            .find(|(k, _)| eq(k, entity))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| {
                // A Kubernetes object (`Deployment/checkout`) is its name's service.
                let e = entity.trim();
                let name = match e.split_once('/') {
                    Some((kind, name))
                        if kind.starts_with(|c: char| c.is_ascii_uppercase())
                            && kind.chars().all(|c| c.is_ascii_alphanumeric()) =>
                    {
                        name
                    }
                    _ => e,
                };
                rootline_ingest::service_from_pod(name)
            })
    }

    /// Whether a ranked entity is the root cause at `level` (exact, case-insensitive).
    ///
    /// Service and entity level also accept an instance whose service is the target, so that a
    /// ranking by pods or instances is scored at the service level too. Pod and module level
    /// need the exact name.
    pub fn matches(&self, level: Level, candidate: &str) -> bool {
        let Some(target) = self.target(level) else {
            return false;
        };
        match level {
            Level::Service | Level::Entity => {
                eq(candidate, target) || eq(&self.service_of(candidate), target)
            }
            Level::Pod | Level::Module => eq(candidate, target),
        }
    }

    /// 1-based rank of the first entity in `ranked` that matches at `level`.
    pub fn rank<'a>(
        &self,
        level: Level,
        ranked: impl IntoIterator<Item = &'a str>,
    ) -> Option<usize> {
        ranked
            .into_iter()
            .position(|c| self.matches(level, c))
            .map(|i| i + 1)
    }

    /// Rejects what parses but cannot be meant: an evidence pattern with no field would match
    /// every item.
    pub fn validate(&self) -> Result<(), String> {
        for (i, p) in self.evidence.iter().enumerate() {
            let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
            if blank(&p.text) && blank(&p.entity) && p.kind.is_none() {
                return Err(format!(
                    "evidence[{i}]: a pattern needs at least one of text, entity, kind"
                ));
            }
        }
        Ok(())
    }

    /// Whether `entity` is the root cause at any level the truth names.
    pub fn is_root_cause_entity(&self, entity: &str) -> bool {
        Level::ALL.into_iter().any(|l| self.matches(l, entity))
    }

    /// Whether `entity` is `pattern` or an instance of the service `pattern`.
    pub fn entity_matches(&self, pattern: &str, entity: &str) -> bool {
        eq(entity, pattern) || eq(&self.service_of(entity), pattern)
    }

    /// Whether a fault type (rootline snake-case name) is among the accepted ones.
    pub fn fault_type_matches(&self, fault: &str) -> Option<bool> {
        if self.no_fault || self.fault_type_rootline.is_empty() {
            return None;
        }
        Some(self.fault_type_rootline.iter().any(|t| eq(t, fault)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_minimal_and_full_truth() {
        let t: Truth = serde_json::from_str(r#"{"root_cause_service":"nova"}"#).unwrap();
        assert_eq!(t.target(Level::Service), Some("nova"));
        assert_eq!(t.target(Level::Pod), None);
        assert!(!t.no_fault);
        let t: Truth = serde_json::from_str(
            r#"{"source":"x","fault_type_rootline":"cpu","no_fault":true,"root_cause_module":""}"#,
        )
        .unwrap();
        assert_eq!(t.fault_type_rootline, vec!["cpu"]);
        assert_eq!(t.target(Level::Module), None);
        let t: Truth =
            serde_json::from_str(r#"{"fault_type_rootline":["network_delay","latency"]}"#).unwrap();
        assert_eq!(t.fault_type_matches("LATENCY"), Some(true));
        assert_eq!(t.fault_type_matches("cpu"), Some(false));
    }

    #[test]
    fn service_level_accepts_instances_of_the_service() {
        let mut t = Truth {
            root_cause_service: Some("ts-food-service".into()),
            root_cause_pod: Some("ts-food-service-f5756978c-k8vqf".into()),
            ..Truth::default()
        };
        assert!(t.matches(Level::Service, "TS-Food-Service"));
        assert!(t.matches(Level::Service, "ts-food-service-f5756978c-k8vqf"));
        assert!(!t.matches(Level::Service, "ts-food-delivery-service"));
        assert!(t.matches(Level::Pod, "ts-food-service-f5756978c-k8vqf"));
        assert!(!t.matches(Level::Pod, "ts-food-service"));
        // A topology map wins over the pod-name rule.
        t.root_cause_service = Some("mobservice".into());
        t.entity_services
            .insert("mobservice2".into(), "mobservice".into());
        assert!(t.matches(Level::Service, "mobservice2"));
        assert_eq!(
            t.rank(Level::Service, ["webservice1", "mobservice2", "mobservice"]),
            Some(2)
        );
        assert_eq!(t.rank(Level::Service, ["webservice1"]), None);
    }
}
