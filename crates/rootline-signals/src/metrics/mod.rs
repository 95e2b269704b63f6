//! Metric signals: each window series against the same series in the baseline, with robust
//! statistics, into [`Finding`]s of kind [`EvidenceKind::MetricAnomaly`].
//!
//! Per series, the baseline gives a median and a scale: the MAD (×1.4826, so it estimates a
//! standard deviation for normal data), floored at a fraction of the median (a flat series
//! would otherwise make any wobble look infinite) and at the baseline's mean absolute deviation
//! (a series that sits at one value with rare spikes has MAD 0, yet its spikes are normal). A
//! window point is anomalous when its robust z, `|x − median| / scale`, exceeds `k`; a series is
//! anomalous when at least `min_consecutive` consecutive window points are, or at least
//! `min_fraction` of them, all moving the same way.
//!
//! A finding's contribution grows with the log of the peak z (capped, so one exploding counter
//! cannot drown everything) and with persistence. The series that moved first (earliest first
//! anomalous sample across all series) get a small bonus and say so: in a cascade the cause
//! usually moves before its symptoms. Only the top `max_findings_per_entity` findings of an
//! entity are kept, so an entity with twenty correlated series (CPU, CPU rate, node CPU, ...)
//! does not win by volume alone.
//!
//! What a metric means ([`meaning`]): its name gives a kind (latency, errors, success share,
//! CPU, memory, saturation, traffic) and the direction that is bad; a series is judged only in
//! its bad direction (both for traffic and unknown names), a success share's scale is floored
//! relative to what it can lose (100 % − median), not to its median, and the kind gives the
//! fault type. Never an entity name.
//!
//! A deviation that was already there when the incident's data begins is a standing condition,
//! not the incident: the baseline may be far away (a known-good period recorded weeks before),
//! and a series that sits as far from it at the first point we have of it (the recent history
//! before the window, else the window's first point) as at its peak did not change with the
//! incident. Such a finding counts `standing_weight` and says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{TimeZone, Utc};
use rootline_core::{Evidence, EvidenceKind, Series, ServiceGraph};

use crate::rank::{Finding, FindingKind};

pub mod meaning;

pub use meaning::{Bad, MetricKind, fault_from_metric_name, kind_of};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricSignalConfig {
    /// A window point is anomalous when its robust z exceeds this.
    pub k: f64,
    /// The scale is at least this fraction of |baseline median|.
    pub relative_floor: f64,
    /// Series with fewer finite baseline points are not judged.
    pub min_baseline_points: usize,
    /// A baseline of fewer points than this says less about what is normal: the threshold
    /// grows to `k · sqrt(full_baseline_points / n)` (3 points of a 5-minute series: ×1.8).
    pub full_baseline_points: usize,
    /// This many consecutive anomalous window points make a series anomalous...
    pub min_consecutive: usize,
    /// ...and so does this fraction of the window points (at least one).
    pub min_fraction: f64,
    /// Findings kept per entity, strongest first.
    pub max_findings_per_entity: usize,
    /// Each further finding of an entity counts this times the one before it.
    pub entity_decay: f64,
    /// A finding counts `1 / (1 + noise_penalty × r)`, where `r` is its metric name's false-alarm
    /// rate on the baseline (see [`family_noise`]).
    pub noise_penalty: f64,
    /// Weight of findings that propagate along calls (latency, errors, network delay): a
    /// caller's latency rises with its callee's, so such a finding localises the cause less
    /// than a saturated resource of the entity itself.
    pub propagating_weight: f64,
    /// Weight of findings whose metric name suggests no fault (traffic, bytes, syscalls, ...):
    /// a load change is more often a consequence (or a benign burst) than a cause.
    pub unknown_weight: f64,
    /// The robust z is capped here before it is log-scaled.
    pub max_z: f64,
    /// Contribution of a finding at `z = k·(e−1)` with full persistence and no bonus.
    pub weight: f64,
    /// Extra fraction of contribution for the series that moved first.
    pub early_bonus: f64,
    /// A latency, error or traffic metric that moved at `n` services in the window counts
    /// `n^-crowd_exponent` at each (1: its weight is split between them): a symptom many
    /// services show at once singles out none of them. CPU and memory are exempt; the pods of
    /// one service count as one service when a graph names their service
    /// ([`metric_findings_in`]). Suspect (docs/evaluation.md, ablation): it pays only on Nezha
    /// and costs PetShop two first places.
    pub crowd_exponent: f64,
    /// A series whose first point (recent history before the window, else the window's first
    /// point) is already anomalous in the same direction, by at least `standing_share` of its
    /// peak robust z, shows a standing condition: its finding counts `standing_weight`.
    pub standing_weight: f64,
    /// See `standing_weight` (above 1: nothing is standing).
    pub standing_share: f64,
    /// Judge a series only in its kind's bad direction and a success share against what it
    /// can lose ([`meaning`]); off: every series both ways with the plain relative floor.
    pub directional: bool,
}

impl Default for MetricSignalConfig {
    fn default() -> Self {
        MetricSignalConfig {
            k: 5.0,
            relative_floor: 0.05,
            min_baseline_points: 3,
            full_baseline_points: 10,
            min_consecutive: 2,
            min_fraction: 0.3,
            max_findings_per_entity: 3,
            entity_decay: 0.5,
            noise_penalty: 20.0,
            propagating_weight: 0.5,
            unknown_weight: 0.25,
            max_z: 1000.0,
            weight: 2.0,
            early_bonus: 0.25,
            crowd_exponent: 1.0,
            standing_weight: 0.25,
            standing_share: 0.5,
            directional: true,
        }
    }
}

/// What the baseline says about one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub median: f64,
    pub scale: f64,
    pub points: usize,
}

/// Median and robust scale of `values` (non-finite values ignored); `None` when fewer than
/// `min_points` remain.
pub fn robust_baseline(values: &[f64], config: &MetricSignalConfig) -> Option<Baseline> {
    robust_baseline_bounded(values, config, None)
}

/// [`robust_baseline`] of a share with an upper `bound` (1 or 100): the relative floor of the
/// scale is taken of what the share can lose, `bound − median`, so an availability that sits at
/// 100 % is not given a 5-point scale.
pub fn robust_baseline_bounded(
    values: &[f64],
    config: &MetricSignalConfig,
    bound: Option<f64>,
) -> Option<Baseline> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.len() < config.min_baseline_points.max(1) {
        return None;
    }
    let median = median_in_place(&mut v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
    let mean_dev = dev.iter().sum::<f64>() / dev.len() as f64;
    let mad = median_in_place(&mut dev);
    let scale = (1.4826 * mad)
        .max(config.relative_floor * bound.map_or(median.abs(), |b| (b - median).abs()))
        // Mean absolute deviation ×1.2533 also estimates σ for normal data.
        .max(1.2533 * mean_dev)
        .max(1e-9 * median.abs().max(1.0));
    Some(Baseline {
        median,
        scale,
        points: v.len(),
    })
}

fn median_in_place(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// An anomalous series before ranking.
struct Moved<'a> {
    series: &'a Series,
    entity: &'a str,
    base: Baseline,
    /// Signed robust z of the most extreme anomalous point, and its value.
    peak_z: f64,
    peak_value: f64,
    first_ns: i64,
    anomalous: usize,
    window_points: usize,
    kind: MetricKind,
    /// Already as far off at the first point we have of it (see `standing_weight`).
    standing: bool,
    /// Anomalous at the first point we have of it: when it moved is not known.
    undated: bool,
}

/// Compares every window series that names an entity with the same series in the baseline.
/// Deterministic: same input, same findings in the same order (strongest first).
pub fn metric_findings(
    window: &[Series],
    baseline: &[Series],
    config: &MetricSignalConfig,
) -> Vec<Finding> {
    metric_findings_in(window, baseline, config, None, None)
}

/// [`metric_findings`] in a system whose graph names each instance's service: a symptom that
/// moved at three pods of one service is that service's, not a crowd's (the rule the log signal
/// follows too). `recent`: the series in the recent history up to the window's start, whose
/// first point (else the window's first point) tells a standing condition from a change; `None`
/// judges no series standing.
pub fn metric_findings_in(
    window: &[Series],
    baseline: &[Series],
    config: &MetricSignalConfig,
    graph: Option<&ServiceGraph>,
    recent: Option<&[Series]>,
) -> Vec<Finding> {
    let baselines: HashMap<&str, &Series> = baseline.iter().map(|s| (s.key.as_str(), s)).collect();
    let recent_of: HashMap<&str, &Series> = recent
        .unwrap_or_default()
        .iter()
        .map(|s| (s.key.as_str(), s))
        .collect();
    let noise = family_noise(baseline, config);
    let mut moved: Vec<Moved<'_>> = Vec::new();
    for s in window {
        let Some(entity) = s.entity.as_deref().filter(|e| !e.is_empty()) else {
            continue;
        };
        let Some(b) = baselines.get(s.key.as_str()) else {
            continue;
        };
        let kind = kind_of(&s.name);
        let values: Vec<f64> = b.points.iter().map(|p| p.1).collect();
        let bound = (config.directional && kind == MetricKind::SuccessShare).then(|| {
            meaning::share_bound(values.iter().chain(s.points.iter().map(|p| &p.1)).copied())
        });
        let Some(base) = robust_baseline_bounded(&values, config, bound) else {
            continue;
        };
        // The first point we have of the series: recent history before the window, else the
        // window's first point.
        let first_known = recent.and_then(|_| {
            let window_start = s.points.first().map_or(i64::MAX, |p| p.0);
            recent_of
                .get(s.key.as_str())
                .and_then(|r| {
                    r.points
                        .iter()
                        .find(|p| p.0 < window_start && p.1.is_finite())
                })
                .or_else(|| s.points.iter().find(|p| p.1.is_finite()))
                .map(|p| (p.1 - base.median) / base.scale)
        });
        if let Some(mut m) = judge(s, entity, base, kind, config) {
            let k = threshold(base, config);
            m.undated = first_known.is_some_and(|z| z * m.peak_z.signum() > k);
            m.standing = first_known.is_some_and(|z| {
                z * m.peak_z.signum() > k && z.abs() >= config.standing_share * m.peak_z.abs()
            });
            moved.push(m);
        }
    }
    // A series with the same name and the same window values under several entities is a
    // shared (host- or cluster-level) measurement copied onto each of them: it cannot tell
    // them apart, so its weight is split between them.
    let mut sharing: HashMap<(&str, Vec<u64>), BTreeSet<&str>> = HashMap::new();
    // The services each metric name moved at (see `crowd_exponent`).
    let mut crowd: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for m in &moved {
        sharing.entry(shape_key(m)).or_default().insert(m.entity);
        // A standing condition did not move with this incident: it is no one's crowd.
        if m.standing {
            continue;
        }
        crowd
            .entry(m.series.name.as_str())
            .or_default()
            .insert(graph.map_or(m.entity, |g| g.service_of(m.entity)));
    }
    // A series already anomalous at the first point we have of it moved before the data
    // begins: when is not known, so it is not the first to move.
    let earliest = moved
        .iter()
        .filter(|m| !m.undated)
        .map(|m| m.first_ns)
        .min();
    let mut findings: Vec<(Finding, &str)> = moved
        .iter()
        .map(|m| {
            let shared_by = sharing.get(&shape_key(m)).map_or(1, BTreeSet::len);
            let first = !m.undated && earliest == Some(m.first_ns);
            let rate = noise.get(m.series.name.as_str()).copied().unwrap_or(0.0);
            let reliability = 1.0 / (1.0 + config.noise_penalty * rate);
            let mut f = finding(m, first, shared_by, config);
            f.contribution *= reliability;
            let own_resource = matches!(m.kind, MetricKind::Cpu | MetricKind::Memory);
            // A latency, error or traffic symptom that moved at many entities at once (every
            // caller of a slow path) singles out none of them: its weight is shared. A CPU or
            // memory anomaly is the entity's own resource and is not.
            let crowd_n = crowd
                .get(m.series.name.as_str())
                .map_or(1, |services| independent_movements(services, graph));
            if crowd_n > 1 && !own_resource {
                f.contribution *= (crowd_n as f64).powf(-config.crowd_exponent);
                f.evidence.summary.push_str(&format!(
                    "; {} moved at {crowd_n} services (services that call each other count once) in the window",
                    m.series.name
                ));
            }
            f.contribution *= match m.kind {
                _ if own_resource => 1.0,
                MetricKind::Unknown | MetricKind::Traffic => config.unknown_weight,
                _ => config.propagating_weight,
            };
            if m.standing {
                // A chronic condition, like a problem logged at its usual rate: it names an
                // entity nothing else points at and decides nothing.
                f.kind = FindingKind::Background;
                f.contribution *= config.standing_weight;
                f.evidence.summary.push_str(
                    "; as far off already at the first point known of it: a standing condition, not a change",
                );
            }
            (f, m.entity)
        })
        .collect();
    sort_findings(&mut findings);
    // Correlated series of one entity (usage and usage rate, p90/p95/p99) mostly repeat one
    // observation: each further finding of an entity counts `entity_decay` times the previous.
    let mut per_entity: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kept: Vec<(Finding, &str)> = findings
        .into_iter()
        .filter_map(|(mut f, entity)| {
            let n = per_entity.entry(entity).or_default();
            *n += 1;
            if *n > config.max_findings_per_entity {
                return None;
            }
            f.contribution *= config.entity_decay.powi(*n as i32 - 1);
            Some((f, entity))
        })
        .collect();
    sort_findings(&mut kept);
    kept.into_iter().map(|(f, _)| f).collect()
}

/// How many independent movements the services that moved one metric make: with a call graph,
/// services joined by calls (directly, in either direction, through other services that moved
/// the same metric) are one movement, a symptom travelling along a call path, which the caller
/// discount sorts out; unrelated services are one movement each. Without a graph, each service.
fn independent_movements(services: &BTreeSet<&str>, graph: Option<&ServiceGraph>) -> usize {
    let Some(g) = graph else {
        return services.len();
    };
    let list: Vec<&str> = services.iter().copied().collect();
    let mut root: Vec<usize> = (0..list.len()).collect();
    fn find(root: &mut [usize], mut i: usize) -> usize {
        while root[i] != i {
            root[i] = root[root[i]];
            i = root[i];
        }
        i
    }
    for (i, a) in list.iter().enumerate() {
        for (j, b) in list.iter().enumerate().skip(i + 1) {
            if g.callees(a).any(|c| c == b) || g.callees(b).any(|c| c == a) {
                let (ra, rb) = (find(&mut root, i), find(&mut root, j));
                root[ra] = rb;
            }
        }
    }
    (0..list.len()).filter(|&i| find(&mut root, i) == i).count()
}

/// Per metric name, the false-alarm rate of the test itself on this system's quiet data: the
/// fraction of points in the second half of each baseline series whose robust z against the
/// first half exceeds `k`. Percentiles computed from sparse histograms, for example, jump to a
/// bucket bound whenever traffic is thin; a name that cries wolf in the baseline is trusted
/// less in the window. Learnt from the data, so no metric name is special-cased.
pub fn family_noise<'a>(
    baseline: &'a [Series],
    config: &MetricSignalConfig,
) -> BTreeMap<&'a str, f64> {
    let mut counts: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for s in baseline {
        if s.entity.is_none() {
            continue;
        }
        let values: Vec<f64> = s
            .points
            .iter()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .collect();
        if values.len() < 2 * config.min_baseline_points.max(1) {
            continue;
        }
        let (reference, test) = values.split_at(values.len() / 2);
        let kind = kind_of(&s.name);
        let bound = (config.directional && kind == MetricKind::SuccessShare)
            .then(|| meaning::share_bound(values.iter().copied()));
        let Some(b) = robust_baseline_bounded(reference, config, bound) else {
            continue;
        };
        let c = counts.entry(s.name.as_str()).or_default();
        let alarm = |z: f64| match if config.directional {
            kind.bad()
        } else {
            Bad::Either
        } {
            Bad::Up => z > config.k,
            Bad::Down => -z > config.k,
            Bad::Either => z.abs() > config.k,
        };
        c.0 += test
            .iter()
            .filter(|x| alarm((*x - b.median) / b.scale))
            .count() as u64;
        c.1 += test.len() as u64;
    }
    counts
        .into_iter()
        .map(|(name, (alarms, n))| (name, alarms as f64 / n.max(1) as f64))
        .collect()
}

fn sort_findings(findings: &mut [(Finding, &str)]) {
    findings.sort_by(|a, b| {
        b.0.contribution
            .total_cmp(&a.0.contribution)
            .then_with(|| a.0.evidence.id.cmp(&b.0.evidence.id))
    });
}

fn shape_key<'a>(m: &Moved<'a>) -> (&'a str, Vec<u64>) {
    (
        m.series.name.as_str(),
        m.series.points.iter().map(|p| p.1.to_bits()).collect(),
    )
}

/// The robust-z threshold for a series whose baseline has `base.points` points: `k`, raised for
/// a short baseline (see `full_baseline_points`): few points are judged, with the uncertainty
/// they carry, not skipped and not over-trusted.
fn threshold(base: Baseline, config: &MetricSignalConfig) -> f64 {
    let n = base.points.max(1) as f64;
    config.k * (config.full_baseline_points as f64 / n).sqrt().max(1.0)
}

fn judge<'a>(
    s: &'a Series,
    entity: &'a str,
    base: Baseline,
    kind: MetricKind,
    config: &MetricSignalConfig,
) -> Option<Moved<'a>> {
    let points: Vec<(i64, f64, f64)> = s
        .points
        .iter()
        .filter(|p| p.1.is_finite())
        .map(|&(ts, x)| (ts, x, (x - base.median) / base.scale))
        .collect();
    if points.is_empty() {
        return None;
    }
    // Judge the kind's bad direction; for traffic and unknown names the direction with the
    // larger excursion (a series that both rises and falls beyond k is judged by its stronger
    // side).
    let up = points.iter().map(|p| p.2).fold(f64::NEG_INFINITY, f64::max);
    let down = points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
    let bad = if config.directional {
        kind.bad()
    } else {
        Bad::Either
    };
    let sign = match bad {
        Bad::Up => 1.0,
        Bad::Down => -1.0,
        Bad::Either if up >= -down => 1.0,
        Bad::Either => -1.0,
    };
    let k = threshold(base, config);
    let is_anomalous = |z: f64| sign * z > k;
    let mut anomalous = 0;
    let mut run = 0;
    let mut best_run = 0;
    let mut first_ns = None;
    let mut peak: Option<(f64, f64)> = None;
    for &(ts, x, z) in &points {
        if is_anomalous(z) {
            anomalous += 1;
            run += 1;
            best_run = best_run.max(run);
            first_ns.get_or_insert(ts);
            if peak.is_none_or(|(pz, _)| sign * z > sign * pz) {
                peak = Some((z, x));
            }
        } else {
            run = 0;
        }
    }
    let needed = ((config.min_fraction * points.len() as f64).ceil() as usize).max(1);
    if best_run < config.min_consecutive.max(1) && anomalous < needed {
        return None;
    }
    let (peak_z, peak_value) = peak?;
    Some(Moved {
        series: s,
        entity,
        base,
        peak_z,
        peak_value,
        first_ns: first_ns?,
        anomalous,
        window_points: points.len(),
        kind,
        standing: false,
        undated: false,
    })
}

fn finding(
    m: &Moved<'_>,
    first_to_move: bool,
    shared_by: usize,
    config: &MetricSignalConfig,
) -> Finding {
    let z = m.peak_z.abs().min(config.max_z);
    let persistence = m.anomalous as f64 / m.window_points.max(1) as f64;
    let bonus = if first_to_move {
        1.0 + config.early_bonus
    } else {
        1.0
    };
    let contribution =
        config.weight * (1.0 + z / config.k).ln() * (0.5 + 0.5 * persistence) * bonus
            / shared_by.max(1) as f64;
    let what = if m.series.labels.len() <= 1 {
        format!("{} of {}", m.series.name, m.entity)
    } else {
        format!("{} of {}", m.series.key, m.entity)
    };
    let verb = if m.peak_z > 0.0 { "rose" } else { "fell" };
    let z_text = if m.peak_z.abs() >= config.max_z {
        format!(">{:.0}", config.max_z)
    } else {
        format!("{:.0}", m.peak_z.abs())
    };
    let when = Utc.timestamp_nanos(m.first_ns).format("%H:%M:%S");
    let mut summary = format!(
        "{what} {verb} to {} (baseline median {}, robust z {z_text}) from {when}",
        fmt_value(m.peak_value),
        fmt_value(m.base.median),
    );
    if first_to_move {
        summary.push_str(", first to move");
    }
    if shared_by > 1 {
        summary.push_str(&format!("; the same on {} entities", shared_by));
    }
    Finding {
        kind: FindingKind::Metric,
        evidence: Evidence {
            id: evidence_id(&m.series.key),
            kind: EvidenceKind::MetricAnomaly,
            entity: m.entity.to_string(),
            first_seen_ns: m.first_ns,
            strength: (1.0 - config.k / z.max(config.k)).clamp(0.0, 1.0),
            summary,
            examples: Vec::new(),
            instances: instance_labels(&m.series.labels),
            modules: vec![],
        },
        contribution,
        fault: fault_from_metric_name(&m.series.name),
    }
}

/// Three significant digits, without exponent noise for everyday magnitudes.
fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.4}")
    } else {
        format!("{v:.2e}")
    }
}

/// `sig-metric-` + FNV-1a of the series key: deterministic across runs and platforms.
/// The labels that name where a series was measured, most specific first.
const INSTANCE_LABELS: [&str; 5] = ["pod", "pod_name", "instance", "host", "hostname"];

fn instance_labels(labels: &BTreeMap<String, String>) -> Vec<String> {
    INSTANCE_LABELS
        .iter()
        .filter_map(|k| labels.get(*k).cloned())
        .take(1)
        .collect()
}

fn evidence_id(series_key: &str) -> String {
    let h = rootline_core::hash::fnv1a_parts(&["metric", series_key]);
    format!("sig-metric-{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::FaultType;

    fn series(name: &str, entity: &str, points: &[(i64, f64)]) -> Series {
        let mut labels = BTreeMap::new();
        labels.insert("pod".to_string(), format!("{entity}-0"));
        Series {
            key: rootline_core::series_key(name, &labels),
            name: name.into(),
            labels,
            entity: Some(entity.into()),
            points: points.to_vec(),
        }
    }

    fn noisy(n: usize, level: f64, start: i64) -> Vec<(i64, f64)> {
        (0..n)
            .map(|i| {
                let wobble = [0.0, 0.3, -0.2, 0.1, -0.4, 0.2][i % 6];
                (start + i as i64 * 60_000_000_000, level + wobble)
            })
            .collect()
    }

    #[test]
    fn fault_types_from_names() {
        assert_eq!(fault_from_metric_name("CpuUsageRate(%)"), FaultType::Cpu);
        assert_eq!(fault_from_metric_name("MemoryUsage(Mi)"), FaultType::Memory);
        assert_eq!(
            fault_from_metric_name("PodServerLatencyP90(s)"),
            FaultType::Latency
        );
        assert_eq!(
            fault_from_metric_name("http_request_duration_seconds"),
            FaultType::Latency
        );
        assert_eq!(
            fault_from_metric_name("NetworkP90(ms)"),
            FaultType::NetworkDelay
        );
        assert_eq!(
            fault_from_metric_name("NetworkReceiveBytes"),
            FaultType::Unknown
        );
        assert_eq!(
            fault_from_metric_name("http_5xx_total"),
            FaultType::ErrorSpike
        );
        assert_eq!(fault_from_metric_name("SyscallRead"), FaultType::Unknown);
    }

    #[test]
    fn flat_and_sparse_baselines_do_not_explode() {
        let c = MetricSignalConfig::default();
        // Flat: the floor is 5% of the median.
        let b = robust_baseline(&[440.0; 30], &c).unwrap();
        assert!((b.scale - 22.0).abs() < 1e-9);
        // Mostly zero with routine spikes: MAD is 0, the mean deviation is not.
        let mut v = vec![0.0; 27];
        v.extend([50.0, 40.0, 60.0]);
        let b = robust_baseline(&v, &c).unwrap();
        assert_eq!(b.median, 0.0);
        assert!(b.scale > 5.0, "{b:?}");
        assert!(robust_baseline(&[1.0, f64::NAN, 2.0], &c).is_none());
    }

    #[test]
    fn spike_is_found_with_first_mover_and_cap_per_entity() {
        let t0 = 1_675_000_000_000_000_000;
        let minute = 60_000_000_000;
        let base_start = t0 - 30 * minute;
        let baseline = vec![
            series("CpuUsageRate(%)", "checkout", &noisy(30, 10.0, base_start)),
            series("MemoryUsage(Mi)", "checkout", &noisy(30, 400.0, base_start)),
            series(
                "PodServerLatencyP90(s)",
                "gateway",
                &noisy(30, 2.0, base_start),
            ),
            series("SyscallRead", "search", &noisy(30, 5.0, base_start)),
        ];
        let window = vec![
            series(
                "CpuUsageRate(%)",
                "checkout",
                &[(t0, 80.0), (t0 + minute, 95.0), (t0 + 2 * minute, 90.0)],
            ),
            series(
                "MemoryUsage(Mi)",
                "checkout",
                &[(t0, 400.0), (t0 + minute, 400.2), (t0 + 2 * minute, 399.9)],
            ),
            series(
                "PodServerLatencyP90(s)",
                "gateway",
                &[(t0, 2.1), (t0 + minute, 9.0), (t0 + 2 * minute, 8.0)],
            ),
            series("SyscallRead", "search", &noisy(3, 5.0, t0)),
            // No baseline: not judged.
            series("Other", "nobody", &[(t0, 1e9)]),
        ];
        let findings = metric_findings(&window, &baseline, &MetricSignalConfig::default());
        assert_eq!(findings.len(), 2, "{findings:#?}");
        let top = &findings[0];
        assert_eq!(top.evidence.entity, "checkout");
        assert_eq!(top.fault, FaultType::Cpu);
        assert_eq!(top.evidence.first_seen_ns, t0);
        assert!(top.evidence.id.starts_with("sig-metric-"));
        assert!(
            top.evidence
                .summary
                .starts_with("CpuUsageRate(%) of checkout rose to 95.0 (baseline median 10.")
                && top.evidence.summary.ends_with("first to move"),
            "{}",
            top.evidence.summary
        );
        let gw = &findings[1];
        assert_eq!(gw.fault, FaultType::Latency);
        assert_eq!(gw.evidence.first_seen_ns, t0 + minute);
        assert!(!gw.evidence.summary.contains("first to move"));

        // The same input gives the same output.
        assert_eq!(
            findings,
            metric_findings(&window, &baseline, &MetricSignalConfig::default())
        );

        let capped = metric_findings(
            &window,
            &baseline,
            &MetricSignalConfig {
                max_findings_per_entity: 0,
                ..Default::default()
            },
        );
        assert!(capped.is_empty());
    }

    #[test]
    fn single_blip_in_a_long_window_is_not_enough() {
        let minute = 60_000_000_000;
        let baseline = vec![series("cpu", "a", &noisy(60, 10.0, 0))];
        let mut window = noisy(10, 10.0, 100 * minute);
        window[4].1 = 90.0;
        let findings = metric_findings(
            &[series("cpu", "a", &window)],
            &baseline,
            &MetricSignalConfig::default(),
        );
        assert!(findings.is_empty(), "{findings:#?}");
    }

    /// A latency that rose at every caller of a slow path singles out none of them: each counts
    /// a share, and a symptom only one entity shows outweighs it. CPU is never shared this way.
    /// Points a minute apart from `start`.
    fn at(start: i64, values: &[f64]) -> Vec<(i64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + i as i64 * 60_000_000_000, *v))
            .collect()
    }

    #[test]
    fn a_success_share_is_judged_on_what_it_can_lose_and_only_when_it_falls() {
        let t0 = 1_675_000_000_000_000_000;
        let base_start = t0 - 40 * 60_000_000_000;
        let c = MetricSignalConfig::default();
        // Availability at 100 % all along, then 99 %: 5 % of the median would be a 5-point
        // scale and hide it; 5 % of what it can lose (0) does not.
        let baseline = vec![series(
            "availability_average",
            "search",
            &at(base_start, &[100.0; 30]),
        )];
        let window = vec![series(
            "availability_average",
            "search",
            &at(t0, &[100.0, 99.0, 99.0, 98.5]),
        )];
        let found = metric_findings(&window, &baseline, &c);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].fault, FaultType::ErrorSpike);
        assert!(
            found[0].evidence.summary.contains("fell"),
            "{}",
            found[0].evidence.summary
        );
        // A ratio at 1.0 likewise; a share that rises is no fault.
        let baseline = vec![series(
            "success_rate",
            "search",
            &at(
                base_start,
                &noisy(30, 0.9, 0)
                    .iter()
                    .map(|p| p.1 / 10.0 + 0.8)
                    .collect::<Vec<_>>(),
            ),
        )];
        let window = vec![series("success_rate", "search", &at(t0, &[1.0, 1.0, 1.0]))];
        assert!(metric_findings(&window, &baseline, &c).is_empty());
    }

    #[test]
    fn a_short_baseline_is_judged_with_a_raised_threshold() {
        let t0 = 1_675_000_000_000_000_000;
        let c = MetricSignalConfig::default();
        // Three 5-minute points: median 10, scale floored at 0.5 (5 % of the median).
        let baseline = vec![series(
            "latency_p90",
            "a",
            &at(t0 - 100 * 60_000_000_000, &[10.0, 10.0, 10.0]),
        )];
        let base = robust_baseline(&[10.0, 10.0, 10.0], &c).unwrap();
        assert_eq!(base.points, 3);
        let k = threshold(base, &c);
        assert!((k - 5.0 * (10.0f64 / 3.0).sqrt()).abs() < 1e-9, "{k}");
        // z = 7 at every point: beyond k = 5, not beyond the 9.1 three points allow.
        let window = vec![series("latency_p90", "a", &at(t0, &[13.5, 13.5, 13.5]))];
        assert!(metric_findings(&window, &baseline, &c).is_empty());
        // z = 12: found.
        let window = vec![series("latency_p90", "a", &at(t0, &[16.0, 16.0, 16.0]))];
        assert_eq!(metric_findings(&window, &baseline, &c).len(), 1);
        // Two points are too few to judge at all.
        let two = vec![series(
            "latency_p90",
            "a",
            &at(t0 - 100 * 60_000_000_000, &[10.0, 10.0]),
        )];
        assert!(metric_findings(&window, &two, &c).is_empty());
    }

    #[test]
    fn a_latency_is_judged_when_it_rises_and_traffic_both_ways() {
        let t0 = 1_675_000_000_000_000_000;
        let base_start = t0 - 40 * 60_000_000_000;
        let c = MetricSignalConfig::default();
        let base: Vec<f64> = noisy(30, 2.0, 0).iter().map(|p| p.1).collect();
        let baseline = vec![
            series("latency_p90", "a", &at(base_start, &base)),
            series("requests_sum", "a", &at(base_start, &base)),
        ];
        let window = vec![
            series("latency_p90", "a", &at(t0, &[0.1, 0.1, 0.1])),
            series("requests_sum", "a", &at(t0, &[0.1, 0.1, 0.1])),
        ];
        let found = metric_findings(&window, &baseline, &c);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].evidence.summary.starts_with("requests_sum"));
        assert!(found[0].evidence.summary.contains("fell"));
    }

    #[test]
    fn a_deviation_already_there_at_the_first_point_is_a_standing_condition() {
        let t0 = 1_675_000_000_000_000_000;
        let minute = 60_000_000_000;
        let far = t0 - 1000 * minute;
        let c = MetricSignalConfig::default();
        let base: Vec<f64> = noisy(30, 2.0, 0).iter().map(|p| p.1).collect();
        // A far-away known-good period; "drifted" sits high from the first point on, "broke"
        // was normal at the first point and rose later.
        let baseline = vec![
            series("latency_p90", "drifted", &at(far, &base)),
            series("latency_p90", "broke", &at(far, &base)),
        ];
        let window = vec![
            series("latency_p90", "drifted", &at(t0, &[40.0, 41.0, 40.0, 42.0])),
            series("latency_p90", "broke", &at(t0, &[2.0, 2.1, 40.0, 41.0])),
        ];
        let none: Vec<Series> = Vec::new();
        let found = metric_findings_in(&window, &baseline, &c, None, Some(&none));
        let of = |e: &str| found.iter().find(|f| f.evidence.entity == e).unwrap();
        assert!(
            of("drifted")
                .evidence
                .summary
                .contains("standing condition")
        );
        assert!(!of("broke").evidence.summary.contains("standing condition"));
        assert!(of("broke").evidence.summary.contains("first to move"));
        assert!(of("broke").contribution > 2.0 * of("drifted").contribution);
        // Recent history before the window that was normal makes the same jump a change.
        let recent = vec![series(
            "latency_p90",
            "drifted",
            &at(t0 - 10 * minute, &[2.0, 2.1, 1.9]),
        )];
        let found = metric_findings_in(&window, &baseline, &c, None, Some(&recent));
        let drifted = found
            .iter()
            .find(|f| f.evidence.entity == "drifted")
            .unwrap();
        assert!(!drifted.evidence.summary.contains("standing condition"));
        // Without a recent-history bound nothing is judged standing.
        let found = metric_findings_in(&window, &baseline, &c, None, None);
        assert!(
            found
                .iter()
                .all(|f| !f.evidence.summary.contains("standing"))
        );
    }

    #[test]
    fn a_symptom_many_entities_show_is_shared_between_them() {
        let t0 = 1_675_000_000_000_000_000;
        let minute = 60_000_000_000;
        let base_start = t0 - 30 * minute;
        let spike = |level: f64| [(t0, level), (t0 + minute, level), (t0 + 2 * minute, level)];
        let latency = "PodClientLatencyP90(s)";
        let callers = ["basic", "cancel", "route", "train"];
        let mut baseline = vec![series(
            "NetworkP90(ms)",
            "travel",
            &noisy(30, 2.0, base_start),
        )];
        let mut window = vec![series("NetworkP90(ms)", "travel", &spike(4.0))];
        for (i, c) in callers.iter().enumerate() {
            baseline.push(series(latency, c, &noisy(30, 2.0, base_start)));
            // Each its own value, so the split is not the one for a copied measurement.
            window.push(series(latency, c, &spike(40.0 + i as f64)));
            baseline.push(series("CpuUsage(m)", c, &noisy(30, 10.0, base_start)));
            window.push(series("CpuUsage(m)", c, &spike(90.0 + i as f64)));
        }
        let alone = MetricSignalConfig {
            crowd_exponent: 0.0,
            ..Default::default()
        };
        let contribution = |findings: &[Finding], entity: &str, name: &str| {
            findings
                .iter()
                .find(|f| f.evidence.entity == entity && f.evidence.summary.starts_with(name))
                .map(|f| f.contribution)
                .unwrap()
        };
        let before = metric_findings(&window, &baseline, &alone);
        let after = metric_findings(&window, &baseline, &MetricSignalConfig::default());
        let travel = contribution(&after, "travel", "NetworkP90");
        assert_eq!(travel, contribution(&before, "travel", "NetworkP90"));
        for c in callers {
            let shared = contribution(&after, c, latency);
            assert!(
                (shared - contribution(&before, c, latency) / 4.0).abs() < 1e-9,
                "{c}: {shared}"
            );
            assert!(shared < travel, "{c}: {shared} vs {travel}");
            assert_eq!(
                contribution(&after, c, "CpuUsage"),
                contribution(&before, c, "CpuUsage")
            );
        }
        let route = after
            .iter()
            .find(|f| f.evidence.entity == "route" && f.evidence.summary.starts_with(latency))
            .unwrap();
        assert!(
            route
                .evidence
                .summary
                .ends_with("; PodClientLatencyP90(s) moved at 4 services (services that call each other count once) in the window"),
            "{}",
            route.evidence.summary
        );

        // When a graph says that route and train are two pods of one service, the symptom moved
        // at three services, not four: each of the callers keeps a third of its weight.
        let mut graph = ServiceGraph::default();
        for pod in ["route", "train"] {
            graph.members.insert(pod.into(), "route-svc".into());
        }
        let grouped = metric_findings_in(
            &window,
            &baseline,
            &MetricSignalConfig::default(),
            Some(&graph),
            None,
        );
        for c in callers {
            let third = contribution(&grouped, c, latency);
            assert!(
                (third - contribution(&before, c, latency) / 3.0).abs() < 1e-9,
                "{c}: {third}"
            );
        }

        // Services that call each other moved as one: a slowness travelling up a call path is
        // the caller discount's to sort out, not a crowd: basic → cancel ← route-svc (route and
        // train) is one movement.
        graph.add_call("basic", "cancel", 1);
        graph.add_call("route-svc", "cancel", 1);
        let joined = metric_findings_in(
            &window,
            &baseline,
            &MetricSignalConfig::default(),
            Some(&graph),
            None,
        );
        for c in callers {
            assert_eq!(
                contribution(&joined, c, latency),
                contribution(&before, c, latency),
                "{c}"
            );
        }
        // Without the call from route-svc, two movements: basic+cancel, and route-svc.
        let mut two = graph.clone();
        two.edges.remove("route-svc");
        let split = metric_findings_in(
            &window,
            &baseline,
            &MetricSignalConfig::default(),
            Some(&two),
            None,
        );
        for c in callers {
            let half = contribution(&split, c, latency);
            assert!(
                (half - contribution(&before, c, latency) / 2.0).abs() < 1e-9,
                "{c}: {half}"
            );
        }
    }
}
