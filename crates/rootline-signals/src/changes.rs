//! Change correlation: deploys, rollbacks, flag flips, scaling and config changes near the
//! incident onset, as findings.
//!
//! A change shortly before onset is a classic root cause, and the closer it is the more it
//! counts: its weight halves every `half_life` before onset (15 minutes by default) and changes
//! older than the lookback (2 hours) are ignored. A change to an entity that also shows symptoms
//! (a score from the other signals) counts several times more than one to a quiet entity.
//! Changes after onset count little: they are often the mitigation (a rollback, a scale-up), and
//! their summary says so.
//!
//! Pure and deterministic, like every signal: same changes in, same ids, scores and order out.

use std::collections::BTreeMap;

use rootline_core::time::format_ns;
use rootline_core::{ChangeEvent, ChangeKind, Evidence, EvidenceKind, FaultType};

use crate::rank::{Finding, FindingKind, strength};

const MINUTE_NS: i64 = 60_000_000_000;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChangeSignalConfig {
    /// Changes earlier than this before onset are ignored.
    pub lookback_ns: i64,
    /// A change this long before onset counts half as much as one at onset.
    pub half_life_ns: i64,
    /// Changes up to this long after onset are reported (as possible mitigations); later ones
    /// are ignored.
    pub after_onset_ns: i64,
    /// Factor on the contribution of a change after onset.
    pub after_onset_factor: f64,
    /// Contribution of a deploy, rollback, flag flip or config change at onset, before the
    /// symptom boost.
    pub weight: f64,
    /// The same for scaling and other changes, which break things less often.
    pub minor_weight: f64,
    /// With a symptom score `s` on the changed entity the contribution is multiplied by
    /// `1 + symptom_boost · s / (s + 1)`: up to `1 + symptom_boost` for strong symptoms.
    pub symptom_boost: f64,
    /// Findings kept per entity, strongest first (a busy pipeline deploys often).
    pub max_findings_per_entity: usize,
}

impl Default for ChangeSignalConfig {
    fn default() -> Self {
        ChangeSignalConfig {
            lookback_ns: 120 * MINUTE_NS,
            half_life_ns: 15 * MINUTE_NS,
            after_onset_ns: 30 * MINUTE_NS,
            after_onset_factor: 0.1,
            weight: 3.0,
            minor_weight: 1.5,
            symptom_boost: 3.0,
            max_findings_per_entity: 3,
        }
    }
}

/// Findings for the changes near `incident_start_ns`. `symptoms` maps entities to their score
/// from the other signals (e.g. the sum of their findings' contributions); a change's service
/// matches a symptom entity with the same name, or one that extends it with a separator
/// (`checkout` ↔ `checkout-7f9c`, a pod of it), either way round.
pub fn change_findings(
    changes: &[ChangeEvent],
    incident_start_ns: i64,
    symptoms: &BTreeMap<String, f64>,
    config: &ChangeSignalConfig,
) -> Vec<Finding> {
    let half_life = config.half_life_ns.max(1) as f64;
    let mut findings: Vec<Finding> = changes
        .iter()
        .filter_map(|c| {
            let offset = c.ts_ns.saturating_sub(incident_start_ns);
            if offset < -config.lookback_ns || offset > config.after_onset_ns {
                return None;
            }
            let before = offset <= 0;
            let distance = offset.unsigned_abs() as f64;
            let decay = 0.5_f64.powf(distance / half_life);
            let base = match c.kind {
                ChangeKind::Deploy
                | ChangeKind::Rollback
                | ChangeKind::FeatureFlag
                | ChangeKind::Config => config.weight,
                ChangeKind::Scale | ChangeKind::Other => config.minor_weight,
            };
            let symptom = symptom_score(&c.service, symptoms);
            let boost = 1.0 + config.symptom_boost * symptom / (symptom + 1.0);
            let timing = if before {
                1.0
            } else {
                config.after_onset_factor
            };
            let contribution = round3(base * decay * boost * timing);
            Some(Finding {
                kind: FindingKind::Change,
                evidence: Evidence {
                    id: evidence_id(&c.id),
                    kind: EvidenceKind::Change,
                    entity: entity(c),
                    first_seen_ns: c.ts_ns,
                    strength: strength(contribution),
                    summary: summary(c, offset, symptom),
                    examples: vec![],
                    instances: vec![],
                    modules: vec![],
                },
                contribution,
                fault: fault_type(c.kind),
            })
        })
        .collect();
    findings.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then_with(|| a.evidence.id.cmp(&b.evidence.id))
    });
    let mut per_entity: BTreeMap<String, usize> = BTreeMap::new();
    findings.retain(|f| {
        let n = per_entity.entry(f.evidence.entity.clone()).or_default();
        *n += 1;
        *n <= config.max_findings_per_entity
    });
    findings
}

/// Deploys and rollbacks suggest a code change; config and flag changes a configuration one.
pub fn fault_type(kind: ChangeKind) -> FaultType {
    match kind {
        ChangeKind::Deploy | ChangeKind::Rollback => FaultType::Deploy,
        ChangeKind::Config | ChangeKind::FeatureFlag => FaultType::ConfigChange,
        ChangeKind::Scale | ChangeKind::Other => FaultType::Unknown,
    }
}

fn entity(c: &ChangeEvent) -> String {
    if c.service.trim().is_empty() {
        "unknown".to_owned()
    } else {
        c.service.clone()
    }
}

/// The symptom score of the changed service: its own, or the largest of the entities that
/// extend it (or that it extends) after a `-`, `.`, `/` or `_`.
fn symptom_score(service: &str, symptoms: &BTreeMap<String, f64>) -> f64 {
    if service.is_empty() {
        return 0.0;
    }
    if let Some(&s) = symptoms.get(service) {
        return s.max(0.0);
    }
    let extends = |long: &str, short: &str| {
        long.strip_prefix(short)
            .and_then(|rest| rest.chars().next())
            .is_some_and(|c| matches!(c, '-' | '.' | '/' | '_'))
    };
    symptoms
        .iter()
        .filter(|(e, _)| extends(e, service) || extends(service, e))
        .map(|(_, &s)| s.max(0.0))
        .fold(0.0, f64::max)
}

fn kind_label(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Deploy => "deploy",
        ChangeKind::Rollback => "rollback",
        ChangeKind::FeatureFlag => "feature flag change",
        ChangeKind::Scale => "scaling",
        ChangeKind::Config => "config change",
        ChangeKind::Other => "change",
    }
}

/// `deploy of checkout by alice at 2023-…Z, 12.0 min before onset: v1.2.3; checkout also
/// shows symptoms (score 4.2)`.
fn summary(c: &ChangeEvent, offset_ns: i64, symptom: f64) -> String {
    let minutes = offset_ns.unsigned_abs() as f64 / MINUTE_NS as f64;
    let when = if offset_ns <= 0 {
        format!("{minutes:.1} min before onset")
    } else {
        format!("{minutes:.1} min after onset, so possibly a mitigation rather than the cause")
    };
    let who = c
        .who
        .as_deref()
        .filter(|w| !w.is_empty())
        .unwrap_or("unknown");
    let mut s = format!(
        "{} of {} by {who} at {}, {when}: {}",
        kind_label(c.kind),
        entity(c),
        format_ns(c.ts_ns),
        c.what
    );
    if symptom > 0.0 {
        s.push_str(&format!(
            "; {} also shows symptoms (score {symptom:.1})",
            entity(c)
        ));
    }
    s
}

/// `sig-change-` + FNV-1a of the change id: stable across runs and platforms.
fn evidence_id(change_id: &str) -> String {
    let h = rootline_core::hash::fnv1a(change_id.bytes());
    format!("sig-change-{h:016x}")
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RankConfig, RankContext, rank};
    use rootline_core::Outcome;

    const ONSET: i64 = 1_674_984_339_000_000_000; // 2023-01-29T09:25:39Z

    fn change(id: &str, minutes: f64, service: &str, kind: ChangeKind) -> ChangeEvent {
        ChangeEvent {
            id: id.into(),
            ts_ns: ONSET + (minutes * MINUTE_NS as f64) as i64,
            service: service.into(),
            kind,
            who: Some("alice".into()),
            what: format!("{id} on {service}"),
            diff: None,
        }
    }

    fn find<'a>(f: &'a [Finding], change_id: &str) -> Option<&'a Finding> {
        f.iter().find(|x| x.evidence.id == evidence_id(change_id))
    }

    #[test]
    fn closer_changes_count_more_with_a_half_life() {
        let changes = [
            change("at", 0.0, "a", ChangeKind::Deploy),
            change("q", -15.0, "b", ChangeKind::Deploy),
            change("h", -60.0, "c", ChangeKind::Deploy),
            change("old", -121.0, "d", ChangeKind::Deploy),
        ];
        let cfg = ChangeSignalConfig::default();
        let f = change_findings(&changes, ONSET, &BTreeMap::new(), &cfg);
        assert_eq!(f.len(), 3, "older than the lookback is ignored");
        let at = find(&f, "at").unwrap().contribution;
        let q = find(&f, "q").unwrap().contribution;
        let h = find(&f, "h").unwrap().contribution;
        assert_eq!(at, 3.0);
        assert_eq!(q, 1.5);
        assert!((h - 3.0 / 16.0).abs() < 1e-3, "{h}");
        // Strongest first.
        assert_eq!(f[0].evidence.id, evidence_id("at"));
        let s = &find(&f, "q").unwrap().evidence;
        assert_eq!(s.kind, EvidenceKind::Change);
        assert_eq!(s.entity, "b");
        assert_eq!(
            s.summary,
            "deploy of b by alice at 2023-01-29T09:10:39.000Z, 15.0 min before onset: q on b"
        );
        assert!(s.strength > 0.0 && s.strength < 1.0);
        assert!(s.id.starts_with("sig-change-") && s.id.len() == "sig-change-".len() + 16);
    }

    #[test]
    fn symptoms_multiply_and_match_pods() {
        let changes = [
            change("quiet", -5.0, "cart", ChangeKind::Config),
            change("sick", -5.0, "checkout", ChangeKind::Config),
        ];
        let symptoms = BTreeMap::from([("checkout-7f9c6".to_string(), 9.0)]);
        let f = change_findings(&changes, ONSET, &symptoms, &ChangeSignalConfig::default());
        let quiet = find(&f, "quiet").unwrap();
        let sick = find(&f, "sick").unwrap();
        assert!((sick.contribution / quiet.contribution - 3.7).abs() < 1e-2);
        assert!(
            sick.evidence
                .summary
                .ends_with("; checkout also shows symptoms (score 9.0)"),
            "{}",
            sick.evidence.summary
        );
        assert_eq!(sick.fault, FaultType::ConfigChange);
        // `checkoutv2` does not extend `checkout`: no separator.
        let other = BTreeMap::from([("checkoutv2".to_string(), 9.0)]);
        let f = change_findings(&changes[1..], ONSET, &other, &ChangeSignalConfig::default());
        assert_eq!(f[0].contribution, quiet.contribution);
    }

    #[test]
    fn changes_after_onset_count_little_and_say_why() {
        let changes = [
            change("before", -10.0, "api", ChangeKind::Deploy),
            change("rollback", 10.0, "api", ChangeKind::Rollback),
            change("late", 31.0, "api", ChangeKind::Rollback),
        ];
        let f = change_findings(
            &changes,
            ONSET,
            &BTreeMap::new(),
            &ChangeSignalConfig::default(),
        );
        assert_eq!(f.len(), 2);
        let before = find(&f, "before").unwrap();
        let after = find(&f, "rollback").unwrap();
        assert!((after.contribution * 10.0 - before.contribution).abs() < 1e-2);
        assert!(
            after
                .evidence
                .summary
                .contains("10.0 min after onset, so possibly a mitigation"),
            "{}",
            after.evidence.summary
        );
        assert_eq!(after.fault, FaultType::Deploy);
    }

    #[test]
    fn fault_types_and_caps() {
        assert_eq!(fault_type(ChangeKind::Deploy), FaultType::Deploy);
        assert_eq!(fault_type(ChangeKind::Rollback), FaultType::Deploy);
        assert_eq!(fault_type(ChangeKind::Config), FaultType::ConfigChange);
        assert_eq!(fault_type(ChangeKind::FeatureFlag), FaultType::ConfigChange);
        assert_eq!(fault_type(ChangeKind::Scale), FaultType::Unknown);
        assert_eq!(fault_type(ChangeKind::Other), FaultType::Unknown);
        let many: Vec<ChangeEvent> = (0..6)
            .map(|i| {
                change(
                    &format!("d{i}"),
                    -(i as f64) * 5.0,
                    "api",
                    ChangeKind::Deploy,
                )
            })
            .collect();
        let f = change_findings(
            &many,
            ONSET,
            &BTreeMap::new(),
            &ChangeSignalConfig::default(),
        );
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].evidence.id, evidence_id("d0"));
        // Same input, same output.
        assert_eq!(
            f,
            change_findings(
                &many,
                ONSET,
                &BTreeMap::new(),
                &ChangeSignalConfig::default()
            )
        );
    }

    #[test]
    fn a_recent_deploy_on_the_sick_service_leads_the_ranking() {
        let changes = [
            change("deploy", -4.0, "payments", ChangeKind::Deploy),
            change("flag", -50.0, "search", ChangeKind::FeatureFlag),
        ];
        let symptoms = BTreeMap::from([("payments".to_string(), 2.0)]);
        let findings = change_findings(&changes, ONSET, &symptoms, &ChangeSignalConfig::default());
        let ranking = rank(
            findings,
            &RankContext {
                window_records: 100,
                baseline_records: 100,
                graph: None,
            },
            &RankConfig::default(),
        );
        assert_eq!(ranking.candidates[0].entity, "payments");
        assert_eq!(ranking.candidates[0].fault_type, FaultType::Deploy);
        assert_eq!(
            ranking.outcome,
            Outcome::ProbableCause,
            "{}",
            ranking.outcome_reason
        );
    }
}
