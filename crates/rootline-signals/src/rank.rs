//! Combining findings from every signal into ranked candidates and an overall outcome.

use std::collections::{BTreeMap, BTreeSet};

use rootline_core::{Candidate, Evidence, EvidenceKind, FaultType, Outcome, ServiceGraph};

use serde::{Deserialize, Serialize};

/// What a finding is: the rule family that made it. The ranking reads this, never the
/// evidence id's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A message never seen in the baseline.
    NewMessage,
    /// A message far above its baseline rate.
    Burst,
    /// A routine message that stopped (missing from the window, or partway through it). Its
    /// time may come from the baseline: it dates no change.
    Stopped,
    /// A code path cut short between two statements of one request.
    CutPath,
    /// A service's warnings and errors rose.
    ErrorRate,
    /// Another service's new errors name this one.
    NamedInErrors,
    /// Problems logged at their usual rate: names a service nothing else points at.
    Background,
    /// Span latency, errors or throughput.
    Trace,
    /// A metric series that moved.
    Metric,
    /// A deploy, flag flip or config change before the onset.
    Change,
    /// Kubernetes cluster state: a pod that cannot start or keeps dying, a warning event that
    /// names a cause, a spec that cannot work.
    ClusterState,
}

/// One piece of evidence with how much it counts against its entity, and the fault it suggests.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    pub evidence: Evidence,
    /// Added to the entity's score; larger means more unusual.
    pub contribution: f64,
    pub fault: FaultType,
}

/// The ranking's own settings: how findings add up into a candidate's score, and when a
/// candidate is decisive. Part of the engine configuration (`[rank]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankConfig {
    /// The top candidate is a probable cause only when its score is this many times the next one.
    /// High on purpose: a confident wrong answer at 3 a.m. costs more than "check these three".
    /// 3.0: claims right on Nezha 4/4, OpenStack 28/29 (no control claimed) and k8s 15/15; 2.5
    /// claimed more and was wrong on 4 of 38 OpenStack claims. On alert-only GAIA data claims
    /// are right about 60 % of the time at any ratio (docs/evaluation.md).
    pub decisive_ratio: f64,
    /// Below this total score, the window is treated as looking like the baseline.
    pub min_incident_score: f64,
    /// Evidence items listed per candidate.
    pub max_evidence_per_candidate: usize,
    /// Within one signal, an entity's k-th strongest finding counts `finding_decay^k` of its
    /// contribution. Findings about one entity are correlated (one workload shift makes a dozen
    /// info messages new at once), so one strong finding must outweigh a crowd of weak ones.
    pub finding_decay: f64,
    /// A caller whose callee also scores keeps at least this share of the part of its score the
    /// callee could explain (1: no caller discount).
    pub caller_keep: f64,
    /// A candidate known only through its callers' side (a topology's `views`: an
    /// uninstrumented endpoint measured by its callers' client calls) counts this share of its
    /// score: what its callers measured is as much their own and the network's as its.
    pub view_weight: f64,
    /// Whether a callee's traffic changes and metrics of unknown meaning explain its callers'
    /// symptoms (false: only errors, slowness and resources do; see `inert`).
    pub traffic_explains_callers: bool,
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig {
            decisive_ratio: 3.0,
            min_incident_score: 3.0,
            max_evidence_per_candidate: 8,
            finding_decay: 0.5,
            caller_keep: 0.5,
            view_weight: 0.5,
            traffic_explains_callers: false,
        }
    }
}

/// An evidence item's strength (0..1) from its contribution to a score.
pub(crate) fn strength(contribution: f64) -> f64 {
    1.0 - (-contribution / 4.0).exp()
}

/// What the ranking needs to know besides the findings.
#[derive(Debug, Clone, Default)]
pub struct RankContext<'a> {
    /// Records (of every kind) in the incident window and in the baselines.
    pub window_records: u64,
    pub baseline_records: u64,
    /// Caller → callee edges, when traces are known: a callee whose degradation explains its
    /// callers' symptoms keeps its score while the callers' are discounted.
    pub graph: Option<&'a ServiceGraph>,
}

#[derive(Debug, Clone)]
pub struct Ranking {
    pub evidence: Vec<Evidence>,
    pub candidates: Vec<Candidate>,
    pub outcome: Outcome,
    /// Why the outcome is what it is, in one sentence.
    pub outcome_reason: String,
}

/// Ranks entities by the sum of their findings' contributions.
pub fn rank(mut findings: Vec<Finding>, context: &RankContext<'_>, config: &RankConfig) -> Ranking {
    if context.window_records == 0 {
        return Ranking {
            evidence: vec![],
            candidates: vec![],
            outcome: Outcome::NoData,
            outcome_reason: "the index holds no records in the incident window".into(),
        };
    }
    // With no baseline (a pod's logs pasted after the fact, a service that just started) every
    // message is new: the ranking still runs, so that the warnings, errors, crash and
    // connection words of the window and the callers that name their callees decide, but it is
    // never a probable cause.
    let no_baseline = context.baseline_records == 0;
    findings.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then_with(|| a.evidence.id.cmp(&b.evidence.id))
    });
    // Background findings (problems logged at their usual rate) only name entities that nothing
    // else points at, rank after every other candidate and never decide the outcome.
    let changed: BTreeSet<String> = findings
        .iter()
        .filter(|f| !is_background(f))
        .map(|f| f.evidence.entity.clone())
        .collect();
    findings.retain(|f| !is_background(f) || !changed.contains(&f.evidence.entity));
    let mut by_entity: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &findings {
        by_entity
            .entry(f.evidence.entity.as_str())
            .or_default()
            .push(f);
    }
    let mut own_parts: BTreeMap<String, Parts> = BTreeMap::new();
    let (mut candidates, mut background): (Vec<Candidate>, Vec<Candidate>) = by_entity
        .iter()
        .map(|(entity, items)| {
            let (c, parts) = candidate(entity, items, config);
            own_parts.insert(c.entity.clone(), parts);
            c
        })
        .partition(|c| changed.contains(&c.entity));
    if let Some(graph) = context.graph {
        for c in candidates.iter_mut().filter(|c| graph.is_view(&c.entity)) {
            scale_candidate(c, config.view_weight);
            c.why.push_str(&format!(
                "; known only through its callers' side, so its score counts ×{:.2}",
                config.view_weight
            ));
        }
        discount_explained_callers(&mut candidates, graph, &own_parts, config.caller_keep);
    }
    // Equal scores (one alert each, on alert-only data) are ordered by who showed the change
    // first: effects follow their cause.
    let onsets: BTreeMap<&str, i64> = by_entity
        .iter()
        .map(|(entity, items)| (*entity, first_change_ns(items)))
        .collect();
    let onset = |c: &Candidate| onsets.get(c.entity.as_str()).copied().unwrap_or(i64::MAX);
    candidates.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| onset(a).cmp(&onset(b)))
            .then_with(|| a.entity.cmp(&b.entity))
    });
    // Probes (a synthetic check, a load generator, a test harness) only report on what they
    // call: they rank after every other candidate with a change and decide nothing.
    let (mut candidates, mut probes): (Vec<Candidate>, Vec<Candidate>) = candidates
        .into_iter()
        .partition(|c| !context.graph.is_some_and(|g| g.is_probe(&c.entity)));
    for p in &mut probes {
        p.why.push_str(
            "; it only observes (a declared probe or client), so its failures are the symptoms of what it calls",
        );
    }
    let total: f64 = candidates.iter().chain(&probes).map(|c| c.score).sum();
    let (outcome, outcome_reason) = match candidates.as_slice() {
        [] if !probes.is_empty() && total >= config.min_incident_score => (
            Outcome::InsufficientEvidence,
            format!(
                "only {} sees failures (it is a probe); nothing it calls shows a change",
                probes[0].entity
            ),
        ),
        [] => (
            Outcome::NoIncidentDetected,
            "nothing differs significantly from the baseline".to_string(),
        ),
        _ if total < config.min_incident_score => (
            Outcome::NoIncidentDetected,
            format!(
                "the differences from the baseline are small (total score {total:.1} < {:.1})",
                config.min_incident_score
            ),
        ),
        [only] => (
            Outcome::ProbableCause,
            format!("only {} differs from its baseline", only.entity),
        ),
        [first, second, ..] if first.score >= config.decisive_ratio * second.score => (
            Outcome::ProbableCause,
            format!(
                "{} scores {:.1}, at least {:.1}× the next candidate ({}, {:.1})",
                first.entity, first.score, config.decisive_ratio, second.entity, second.score
            ),
        ),
        [first, second, ..] => (
            Outcome::InsufficientEvidence,
            format!(
                "no candidate is decisive: {} scores {:.1} and {} {:.1}; check the top candidates",
                first.entity, first.score, second.entity, second.score
            ),
        ),
    };
    let (outcome, outcome_reason) = match (no_baseline, outcome) {
        (false, _) => (outcome, outcome_reason),
        (true, Outcome::NoIncidentDetected) if candidates.is_empty() && probes.is_empty() => (
            Outcome::NoIncidentDetected,
            "no baseline: ranked from the window alone, and nothing in it stands out".to_string(),
        ),
        (true, _) => (
            Outcome::InsufficientEvidence,
            format!(
                "no baseline: ranked from the window alone (what is new cannot be told from what is usual); {outcome_reason}"
            ),
        ),
    };
    background.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.entity.cmp(&b.entity))
    });
    candidates.extend(probes);
    candidates.extend(background);
    Ranking {
        evidence: findings.into_iter().map(|f| f.evidence).collect(),
        candidates,
        outcome,
        outcome_reason,
    }
}

/// When an entity's first change in the window was seen. Messages that stopped carry a time
/// from the baseline (when they were first written there), so they are left out.
fn first_change_ns(items: &[&Finding]) -> i64 {
    items
        .iter()
        .filter(|f| f.kind != FindingKind::Stopped)
        .map(|f| f.evidence.first_seen_ns)
        .min()
        .unwrap_or(i64::MAX)
}

/// A finding that shows a problem, not a change.
fn is_background(f: &Finding) -> bool {
    f.kind == FindingKind::Background
}

/// A caller whose callee also scores is partly explained by it: errors and slowness flow up the
/// call graph, so the deepest degraded service is the better root-cause candidate. Candidates
/// may be pods or instances: the graph's memberships give their services, so `frontend-0` is
/// explained by `cart-1` when `frontend` calls `cart`; a candidate is explained by its host too.
///
/// `own_parts` is, per candidate, the part of its score no callee can explain (see
/// [`unexplainable`]; only the rest is discounted) and the part that explains no caller (see
/// [`inert`]: a callee that is only asked more, or whose change means nothing known, does not
/// explain its callers' errors or slowness).
fn discount_explained_callers(
    candidates: &mut [Candidate],
    graph: &ServiceGraph,
    own_parts: &BTreeMap<String, Parts>,
    keep: f64,
) {
    let original: Vec<f64> = candidates.iter().map(|c| c.score).collect();
    // A callee explains its callers only as far as it is not explained itself: the scores are
    // settled from the bottom of the call graph up, by passes until they stop changing (a few
    // suffice; call cycles stop after the last pass).
    let mut current = original.clone();
    let mut explained_by: Vec<Option<usize>> = vec![None; candidates.len()];
    let parts = |c: &Candidate| own_parts.get(&c.entity).copied().unwrap_or_default();
    for _ in 0..DISCOUNT_PASSES {
        let mut next = original.clone();
        // How much of each candidate's current score can explain a caller.
        let power: Vec<f64> = candidates
            .iter()
            .zip(&current)
            .map(|(c, s)| s * (1.0 - parts(c).inert_share))
            .collect();
        for (i, c) in candidates.iter().enumerate() {
            // The strongest explaining candidate, not their sum: with alerts on every service
            // downstream, a sum discounts nearly every caller to the floor.
            let explaining = (0..candidates.len())
                .filter(|&j| {
                    j != i && power[j] > 0.0 && explains(graph, &candidates[j].entity, &c.entity)
                })
                .max_by(|&a, &b| {
                    power[a]
                        .total_cmp(&power[b])
                        .then_with(|| candidates[b].entity.cmp(&candidates[a].entity))
                });
            explained_by[i] = explaining;
            let Some(j) = explaining else { continue };
            // Keep at least `keep` (half): the caller may also be broken on its own.
            let factor = keep.max(1.0 - (1.0 - keep) * (power[j] / original[i].max(1e-9)).min(1.0));
            let own = parts(c).own.min(original[i]);
            next[i] = own + (original[i] - own) * factor;
        }
        let settled = next.iter().zip(&current).all(|(a, b)| (a - b).abs() < 1e-9);
        current = next;
        if settled {
            break;
        }
    }
    let names: Vec<String> = candidates.iter().map(|c| c.entity.clone()).collect();
    for (i, c) in candidates.iter_mut().enumerate() {
        let (Some(j), true) = (explained_by[i], current[i] < original[i] - 1e-9) else {
            continue;
        };
        let scale = current[i] / original[i].max(1e-9);
        c.score = round3(current[i]);
        for v in c.score_by_signal.values_mut() {
            *v = round3(*v * scale);
        }
        c.why.push_str(&format!(
            "; partly explained by its callee {} (score ×{scale:.2})",
            names[j]
        ));
    }
}

/// Strength of a CPU or memory anomaly that names the fault type over any log symptom.
const SATURATION_STRENGTH: f64 = 0.9;

/// Passes of the caller discount: enough to settle a call chain this deep.
const DISCOUNT_PASSES: usize = 4;

/// Whether a fault of `callee` can explain the symptoms of `caller`: `caller`'s service calls
/// `callee`'s service directly (two pods of one service never explain each other), or `callee`
/// is the host `caller` runs on. Only direct calls: a fault further down also shows on the
/// service in between, which then explains the caller.
fn explains(graph: &ServiceGraph, callee: &str, caller: &str) -> bool {
    let (from, to) = (graph.service_of(caller), graph.service_of(callee));
    (from != to && graph.callees(from).any(|c| c == to)) || graph.host_of(caller) == Some(callee)
}

/// Multiplies a candidate's score and its per-signal parts by `factor`.
fn scale_candidate(c: &mut Candidate, factor: f64) {
    c.score = round3(c.score * factor);
    for v in c.score_by_signal.values_mut() {
        *v = round3(*v * factor);
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Parts of a candidate's score that the caller discount treats apart.
#[derive(Debug, Clone, Copy, Default)]
struct Parts {
    /// No callee can explain it (see [`unexplainable`]).
    own: f64,
    /// The share of the score that explains no caller (see [`inert`]).
    inert_share: f64,
}

/// The part of a candidate's score that explains no caller's symptoms: metric changes that are
/// not symptoms (a callee asked more or less: its traffic follows its callers; a metric whose
/// name means nothing known). Errors, slowness and exhausted resources travel up calls.
fn inert(items: &[&Finding], weights: &[f64]) -> f64 {
    items
        .iter()
        .zip(weights)
        .filter(|(f, _)| f.kind == FindingKind::Metric && f.fault == FaultType::Unknown)
        .map(|(_, w)| w)
        .sum()
}

/// The part of a candidate's score that no callee can explain: time spent in its own code
/// (self time excludes the time its callees take) and the network gap of calls into it.
fn unexplainable(items: &[&Finding], weights: &[f64]) -> f64 {
    items
        .iter()
        .zip(weights)
        .filter(|(f, _)| crate::traces::is_own_latency(&f.evidence.id))
        .map(|(_, w)| w)
        .sum()
}

/// The candidate for `entity`, and the part of its score no callee can explain.
fn candidate(entity: &str, items: &[&Finding], config: &RankConfig) -> (Candidate, Parts) {
    // Items arrive strongest first; each signal's k-th finding is damped by decay^k.
    let mut score_by_signal: BTreeMap<String, f64> = BTreeMap::new();
    let mut seen_per_signal: BTreeMap<&'static str, i32> = BTreeMap::new();
    let mut weighted: Vec<f64> = Vec::with_capacity(items.len());
    for f in items {
        let signal = f.evidence.kind.signal();
        let k = seen_per_signal.entry(signal).or_default();
        let w = f.contribution * config.finding_decay.powi(*k);
        *k += 1;
        weighted.push(w);
        *score_by_signal.entry(signal.to_string()).or_default() += w;
    }
    for v in score_by_signal.values_mut() {
        *v = round3(*v);
    }
    let score: f64 = weighted.iter().sum();
    // Instances ordered by the weight of the evidence seen on them.
    let mut by_instance: BTreeMap<&str, f64> = BTreeMap::new();
    for (f, w) in items.iter().zip(&weighted) {
        for i in &f.evidence.instances {
            *by_instance.entry(i.as_str()).or_default() += w;
        }
    }
    let mut instances: Vec<(&str, f64)> = by_instance.into_iter().collect();
    instances.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let modules = implicated_modules(items, &weighted);
    // The fault type with the most weight behind it.
    let mut by_fault: BTreeMap<&'static str, (FaultType, f64)> = BTreeMap::new();
    for (f, w) in items.iter().zip(&weighted) {
        by_fault.entry(f.fault.as_str()).or_insert((f.fault, 0.0)).1 += w;
    }
    // A resource the entity itself saturates (a strong CPU or memory anomaly in its own
    // metrics) is the cause its errors and exceptions are symptoms of: starved code times out
    // and throws. Otherwise the fault type with the most weight behind it; unknown only when no
    // finding suggests anything more specific.
    let saturated = items
        .iter()
        .filter(|f| {
            f.evidence.kind == EvidenceKind::MetricAnomaly
                && matches!(f.fault, FaultType::Cpu | FaultType::Memory)
                && f.evidence.strength >= SATURATION_STRENGTH
        })
        .max_by(|a, b| a.evidence.strength.total_cmp(&b.evidence.strength))
        .map(|f| f.fault);
    // The cluster's own account of a failure (OOMKilled, an image that cannot be pulled, a pod
    // that cannot be scheduled, a missing Secret, a container whose last lines name a dependency)
    // names the fault more precisely than the shape of log messages does.
    let diagnosed = items
        .iter()
        .filter(|f| f.kind == FindingKind::ClusterState && f.fault != FaultType::Unknown)
        .max_by(|a, b| a.contribution.total_cmp(&b.contribution))
        .map(|f| f.fault);
    let fault_type = saturated.or(diagnosed).unwrap_or_else(|| {
        by_fault
            .values()
            .filter(|v| v.0 != FaultType::Unknown)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(FaultType::Unknown, |v| v.0)
    });
    let count = |kind: FindingKind| items.iter().filter(|f| f.kind == kind).count();
    let mut parts = Vec::new();
    let new = count(FindingKind::NewMessage);
    if new > 0 {
        parts.push(format!("{new} new message(s)"));
    }
    let bursts = count(FindingKind::Burst);
    if bursts > 0 {
        parts.push(format!("{bursts} bursting message(s)"));
    }
    let gone = count(FindingKind::Stopped);
    if gone > 0 {
        parts.push(format!("{gone} message(s) that stopped"));
    }
    if count(FindingKind::ErrorRate) > 0 {
        parts.push("an error-rate rise".to_string());
    }
    for (kind, label) in [
        (EvidenceKind::MetricAnomaly, "metric anomaly(ies)"),
        (EvidenceKind::LatencyChange, "latency change(s) in traces"),
        (EvidenceKind::SpanErrors, "span error rise(s)"),
        (EvidenceKind::Change, "change(s) shortly before onset"),
        (
            EvidenceKind::NamedInErrors,
            "error message(s) elsewhere naming it",
        ),
    ] {
        let n = items.iter().filter(|f| f.evidence.kind == kind).count();
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    let strongest = &items[0].evidence.summary;
    let candidate = Candidate {
        entity: entity.to_string(),
        fault_type,
        score: round3(score),
        evidence: items
            .iter()
            .take(config.max_evidence_per_candidate)
            .map(|f| f.evidence.id.clone())
            .collect(),
        why: if parts.is_empty() {
            format!("no change against the baseline, only chronic problems: {strongest}")
        } else {
            format!(
                "{} against the baseline; strongest: {strongest}",
                parts.join(", ")
            )
        },
        score_by_signal,
        instances: instances.into_iter().map(|(i, _)| i.to_string()).collect(),
        modules,
        first_change: None,
    };
    let parts = Parts {
        own: unexplainable(items, &weighted),
        inert_share: if config.traffic_explains_callers {
            0.0
        } else {
            (inert(items, &weighted) / score.max(1e-12)).clamp(0.0, 1.0)
        },
    };
    (candidate, parts)
}

/// Code modules ordered by the weight of the evidence pointing at them. Within one evidence item
/// the first module (the innermost own frame) takes the item's whole weight and each further one
/// half of the one before: they are ever less likely to be where the fault is.
fn implicated_modules(items: &[&Finding], weights: &[f64]) -> Vec<String> {
    let mut by_module: BTreeMap<&str, f64> = BTreeMap::new();
    for (f, w) in items.iter().zip(weights) {
        let mut share = *w;
        for m in &f.evidence.modules {
            *by_module.entry(m.as_str()).or_default() += share;
            share *= 0.5;
        }
    }
    let mut modules: Vec<(&str, f64)> = by_module.into_iter().collect();
    modules.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    modules.into_iter().map(|(m, _)| m.to_string()).collect()
}
