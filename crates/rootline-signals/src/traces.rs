//! Trace signals: per service, window against baseline, from [`TraceAggregates`].
//!
//! - **Self-time latency** (`FaultType::Latency`): the p90 of the time a service's spans spend
//!   in their own code (duration minus direct children) grew. This is the main tool for
//!   propagation: a caller whose callee is slow sees its *duration* grow, not its self time.
//! - **Inbound network gap** (`FaultType::NetworkDelay`): the p90 of "caller's client span minus
//!   this service's server span" grew. That gap is wire and queueing time between the two
//!   processes, so when it grows for the calls *into* a service while that service's own self
//!   time does not, the growth is concentrated in client-side waiting and the service's network
//!   is the suspect. The gap is charged to the callee: a caller whose calls to one callee slow
//!   down is a victim, and its waiting time (client spans with a remote child) never counts as
//!   its own self time.
//! - **Saturation** (`FaultType::Cpu`): self time *and* inbound gap both grew on one service: its
//!   process is starved (a slower wire delays only the gap, a slower code path only the self
//!   time), so both findings suggest CPU.
//! - **Duration latency** (`FaultType::Latency`, low weight): end-to-end span duration grew.
//!   Only useful where nothing deeper explains it; discounted when a callee has findings.
//! - **Span errors** (`FaultType::ErrorSpike`): error rate among spans with a known status rose
//!   (Poisson test on the volume-normalised count).
//! - **Throughput collapse** (`FaultType::Unknown`): far fewer spans than the baseline share
//!   predicts while the rest of the system keeps its volume; discounted when a caller collapsed
//!   too (no traffic arrives, so the upstream one is the better lead).
//!
//! Latency tests are robust: a baseline quantile (p90, and the median) is the threshold, the
//! number of window values above it is compared with the 10% (50%) expected (normal
//! approximation to the binomial, with the baseline quantile's own sampling error added), and the
//! window's quantile must exceed the baseline's by a large ratio and absolute amount. The median
//! test keeps working when part of the baseline already holds the fault. Populations with too
//! few values in either range are not judged.
//!
//! Propagation: after the per-service findings, a service that has a degraded callee (in either
//! range's service graph) keeps at least half its weight but loses up to half, in proportion to
//! how much the callee scores, so that a callee that explains its callers ranks above them.
//!
//! Pure and deterministic; no rule names a service.

use std::collections::{BTreeMap, BTreeSet};

use rootline_core::{
    Evidence, EvidenceKind, FaultType, LatencyHistogram, ServiceTraceStats, TraceAggregates,
};

use crate::rank::{Finding, FindingKind, strength};
use crate::stats::{poisson_cdf, poisson_sf};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceSignalConfig {
    /// Error rates are not judged on fewer spans with a known status than this.
    pub min_spans: u64,
    /// Latency populations (a service's self times, gaps or durations) with fewer values than
    /// this in the window or in the baseline are not judged. Low on purpose: a service called a
    /// few times a minute can still show a delay many times its normal tail, and the test's
    /// p-value already accounts for small samples.
    pub min_latency_samples: u64,
    /// The window p90 must be at least this many times the baseline p90...
    pub min_ratio: f64,
    /// ...and at least this many nanoseconds above it.
    pub min_increase_ns: f64,
    /// One-sided p-value below which a change is significant.
    pub significance: f64,
    /// A service's span count below this fraction of its expected count is a collapse.
    pub collapse_ratio: f64,
    /// Collapses are only judged when at least this many spans were expected.
    pub min_expected_collapse: f64,
    /// Weights of the finding kinds (contribution = weight × capped ln ratio × coverage).
    pub self_weight: f64,
    pub gap_weight: f64,
    pub duration_weight: f64,
    pub error_weight: f64,
    pub collapse_weight: f64,
    /// Multiplier on a duration finding when a callee has findings of its own.
    pub explained_duration_factor: f64,
    /// A caller keeps at least this fraction of its weight when a callee scores.
    pub min_caller_factor: f64,
    /// Example span ids per finding.
    pub max_examples: usize,
}

impl Default for TraceSignalConfig {
    fn default() -> Self {
        TraceSignalConfig {
            min_spans: 20,
            min_latency_samples: 8,
            min_ratio: 1.5,
            min_increase_ns: 1_000_000.0,
            significance: 0.001,
            collapse_ratio: 0.3,
            min_expected_collapse: 20.0,
            self_weight: 1.5,
            gap_weight: 1.5,
            duration_weight: 0.5,
            error_weight: 1.5,
            collapse_weight: 1.0,
            explained_duration_factor: 0.25,
            min_caller_factor: 0.5,
            max_examples: 3,
        }
    }
}

/// Stable id for a trace finding (FNV-1a over kind and service).
fn signal_id(kind: &str, service: &str) -> String {
    let h = rootline_core::hash::fnv1a_parts(&[kind, service]);
    format!("sig-trace-{kind}-{h:016x}")
}

/// P(Z > z) for a standard normal (Abramowitz–Stegun 7.1.26).
fn normal_sf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.3275911 * x);
    let erfc = (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
        + 0.254829592)
        * t
        * (-x * x).exp();
    if z >= 0.0 {
        0.5 * erfc
    } else {
        1.0 - 0.5 * erfc
    }
}

/// Human-readable nanoseconds.
fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.0} µs", ns / 1e3)
    }
}

/// The outcome of comparing one latency population.
struct Shift {
    /// The quantile compared (0.9 or 0.5).
    q: f64,
    base: f64,
    win: f64,
    ratio: f64,
    /// Fraction of window values above the baseline quantile.
    above: f64,
    n: u64,
    p: f64,
}

impl Shift {
    /// How much of the window moved beyond the baseline quantile, 0..1 (beyond what is normal).
    fn coverage(&self) -> f64 {
        let p0 = 1.0 - self.q;
        ((self.above - p0) / (1.0 - p0)).clamp(0.0, 1.0)
    }
}

/// Compares the window with the baseline at the p90 and at the median, and keeps the more
/// significant of the two. The p90 catches a tail that grows; the median still works when
/// part of the baseline already holds the fault (an onset a little before the declared start),
/// which inflates the baseline's tail but not its middle.
fn latency_shift(
    window: &LatencyHistogram,
    baseline: &LatencyHistogram,
    config: &TraceSignalConfig,
) -> Option<Shift> {
    if window.count < config.min_latency_samples || baseline.count < config.min_latency_samples {
        return None;
    }
    [0.9, 0.5]
        .into_iter()
        .filter_map(|q| quantile_shift(window, baseline, q, config))
        .min_by(|a, b| a.p.total_cmp(&b.p).then_with(|| b.q.total_cmp(&a.q)))
}

fn quantile_shift(
    window: &LatencyHistogram,
    baseline: &LatencyHistogram,
    q: f64,
    config: &TraceSignalConfig,
) -> Option<Shift> {
    let base = baseline.quantile(q)?;
    let win = window.quantile(q)?;
    let n = window.count as f64;
    let above = window.count_above(base);
    // Binomial around the 1 - q expected above the baseline quantile, plus the sampling error
    // of the baseline quantile itself.
    let p0 = 1.0 - q;
    let var = n * p0 * (1.0 - p0) * (1.0 + n / baseline.count as f64);
    let z = (above - n * p0) / var.sqrt().max(1e-9);
    let p = normal_sf(z);
    let ratio = win / base.max(1.0);
    (p < config.significance && ratio >= config.min_ratio && win - base >= config.min_increase_ns)
        .then_some(Shift {
            q,
            base,
            win,
            ratio,
            above: above / n,
            n: window.count,
            p,
        })
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    SelfTime,
    Gap,
    Duration,
    Errors,
    Collapse,
}

/// Whether an evidence id is a self-time or inbound-gap finding: latency that is the service's
/// own, which no callee can cause.
pub(crate) fn is_own_latency(evidence_id: &str) -> bool {
    [Kind::SelfTime, Kind::Gap].iter().any(|k| {
        evidence_id
            .strip_prefix("sig-trace-")
            .and_then(|rest| rest.strip_prefix(k.as_str()))
            .is_some_and(|rest| rest.starts_with('-'))
    })
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::SelfTime => "self",
            Kind::Gap => "gap",
            Kind::Duration => "duration",
            Kind::Errors => "errors",
            Kind::Collapse => "collapse",
        }
    }
}

struct Raw {
    kind: Kind,
    service: String,
    contribution: f64,
    fault: FaultType,
    summary: String,
    first_ns: i64,
    examples: Vec<String>,
}

/// A service whose own work *and* the wait before its work starts both grew is starved of a
/// resource (CPU most of all): a slower wire delays only the gap, a slower code path only the
/// self time. Both findings then suggest CPU.
fn mark_saturation(raws: &mut [Raw]) {
    let has = |raws: &[Raw], kind: Kind, service: &str| {
        raws.iter().any(|r| r.kind == kind && r.service == service)
    };
    let saturated: Vec<String> = raws
        .iter()
        .filter(|r| r.kind == Kind::Gap && has(raws, Kind::SelfTime, &r.service))
        .map(|r| r.service.clone())
        .collect();
    for r in raws.iter_mut() {
        if matches!(r.kind, Kind::Gap | Kind::SelfTime) && saturated.contains(&r.service) {
            r.fault = FaultType::Cpu;
        }
    }
}

fn latency_raw(
    kind: Kind,
    service: &str,
    stats: &ServiceTraceStats,
    shift: &Shift,
    config: &TraceSignalConfig,
) -> Raw {
    let (weight, what, fault, examples) = match kind {
        Kind::SelfTime => (
            config.self_weight,
            "self time (own work, children excluded)",
            FaultType::Latency,
            &stats.slowest_self,
        ),
        Kind::Gap => (
            config.gap_weight,
            "inbound network gap (callers' client span minus its server span)",
            FaultType::NetworkDelay,
            &stats.slowest_gap,
        ),
        _ => (
            config.duration_weight,
            "span duration",
            FaultType::Latency,
            &stats.slowest,
        ),
    };
    let contribution = weight * shift.ratio.ln().min(6.0) * (0.5 + 0.5 * shift.coverage());
    Raw {
        kind,
        service: service.to_string(),
        contribution,
        fault,
        summary: format!(
            "{service}: p{q} {what} {} → {} (×{:.1}; {:.0}% of {} above the baseline p{q}, p={:.1e})",
            fmt_ns(shift.base),
            fmt_ns(shift.win),
            shift.ratio,
            100.0 * shift.above,
            shift.n,
            shift.p,
            q = (shift.q * 100.0).round()
        ),
        first_ns: stats.first_ns,
        examples: examples.iter().take(config.max_examples).cloned().collect(),
    }
}

fn error_raw(
    service: &str,
    w: &ServiceTraceStats,
    b: Option<&ServiceTraceStats>,
    config: &TraceSignalConfig,
) -> Option<Raw> {
    if w.status_known < config.min_spans || w.errors < 3 {
        return None;
    }
    // An unseen service or one with no known status gets a small prior error rate.
    let base_rate = b
        .filter(|b| b.status_known >= config.min_spans)
        .map_or(0.001, |b| {
            (b.errors as f64 + 0.5) / (b.status_known as f64 + 1.0)
        });
    let expected = base_rate * w.status_known as f64;
    let p = poisson_sf(w.errors, expected.max(1e-3));
    let win_rate = w.errors as f64 / w.status_known as f64;
    if p >= config.significance || win_rate < 2.0 * base_rate {
        return None;
    }
    let excess = w.errors as f64 - expected;
    Some(Raw {
        kind: Kind::Errors,
        service: service.to_string(),
        contribution: config.error_weight * (1.0 + excess).ln().min(8.0),
        fault: FaultType::ErrorSpike,
        summary: format!(
            "{service}: {} of {} spans failed ({:.1}%), {:.1} expected from the baseline rate {:.2}% (p={p:.1e})",
            w.errors,
            w.status_known,
            100.0 * win_rate,
            expected,
            100.0 * base_rate
        ),
        first_ns: w.first_ns,
        examples: w
            .slowest
            .iter()
            .take(config.max_examples)
            .cloned()
            .collect(),
    })
}

fn collapse_raw(
    service: &str,
    window: &TraceAggregates,
    baseline: &TraceAggregates,
    config: &TraceSignalConfig,
) -> Option<Raw> {
    let b = baseline.per_service.get(service)?;
    let w_n = window.per_service.get(service).map_or(0, |w| w.spans);
    let others_w = window.total_spans().saturating_sub(w_n) as f64;
    let others_b = baseline.total_spans().saturating_sub(b.spans) as f64;
    if others_b <= 0.0 {
        return None;
    }
    let expected = b.spans as f64 * others_w / others_b;
    if expected < config.min_expected_collapse || (w_n as f64) >= config.collapse_ratio * expected {
        return None;
    }
    let p = poisson_cdf(w_n, expected);
    if p >= config.significance {
        return None;
    }
    Some(Raw {
        kind: Kind::Collapse,
        service: service.to_string(),
        contribution: config.collapse_weight * (expected / (w_n as f64 + 1.0)).ln().min(6.0),
        fault: FaultType::Unknown,
        summary: format!(
            "{service}: {w_n} spans where {expected:.0} were expected from its baseline share while the rest of the system kept its volume (p={p:.1e})"
        ),
        first_ns: window
            .per_service
            .get(service)
            .map_or(i64::MAX, |w| w.first_ns),
        examples: window
            .per_service
            .get(service)
            .map(|w| {
                w.slowest
                    .iter()
                    .take(config.max_examples)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Trace findings for the window against the baseline, with call-graph propagation applied to
/// the contributions (see the module docs).
pub fn trace_findings(
    window: &TraceAggregates,
    baseline: &TraceAggregates,
    config: &TraceSignalConfig,
) -> Vec<Finding> {
    if window.total_spans() == 0 || baseline.total_spans() == 0 {
        return vec![];
    }
    // The wire between two services is the same network for all of them: a service called too
    // rarely in the baseline to judge its own inbound gaps is judged against everyone's.
    let mut every_gap = LatencyHistogram::default();
    for b in baseline.per_service.values() {
        every_gap.merge(&b.inbound_gap);
    }
    let mut raws: Vec<Raw> = Vec::new();
    for (service, w) in &window.per_service {
        if let Some(b) = baseline.per_service.get(service) {
            let pooled = b.inbound_gap.count < config.min_latency_samples;
            let gap_baseline = if pooled { &every_gap } else { &b.inbound_gap };
            for (kind, wh, bh) in [
                (Kind::SelfTime, &w.self_time, &b.self_time),
                (Kind::Gap, &w.inbound_gap, gap_baseline),
                (Kind::Duration, &w.duration, &b.duration),
            ] {
                if let Some(shift) = latency_shift(wh, bh, config) {
                    let mut raw = latency_raw(kind, service, w, &shift, config);
                    if kind == Kind::Gap && pooled {
                        raw.summary.push_str(&format!(
                            "; called {} times in the baseline, so compared with the inbound gaps of every service there",
                            b.inbound_gap.count
                        ));
                    }
                    raws.push(raw);
                }
            }
        }
        raws.extend(error_raw(
            service,
            w,
            baseline.per_service.get(service),
            config,
        ));
    }
    for service in baseline.per_service.keys() {
        raws.extend(collapse_raw(service, window, baseline, config));
    }
    mark_saturation(&mut raws);
    propagate(&mut raws, window, baseline, config);
    raws.sort_by(|a, b| {
        b.contribution
            .total_cmp(&a.contribution)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    raws.into_iter()
        .map(|r| Finding {
            kind: FindingKind::Trace,
            evidence: Evidence {
                id: signal_id(r.kind.as_str(), &r.service),
                kind: match r.kind {
                    Kind::Errors => EvidenceKind::SpanErrors,
                    _ => EvidenceKind::LatencyChange,
                },
                entity: r.service,
                first_seen_ns: r.first_ns,
                strength: strength(r.contribution),
                summary: r.summary,
                examples: r.examples,
                instances: vec![],
                modules: vec![],
            },
            contribution: round3(r.contribution),
            fault: r.fault,
        })
        .collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Discounts symptoms that a callee (or, for collapses, a caller) explains.
fn propagate(
    raws: &mut [Raw],
    window: &TraceAggregates,
    baseline: &TraceAggregates,
    config: &TraceSignalConfig,
) {
    let callees = |s: &str| -> BTreeSet<String> {
        window
            .graph
            .callees(s)
            .chain(baseline.graph.callees(s))
            .cloned()
            .collect()
    };
    let callers = |s: &str| -> BTreeSet<String> {
        window
            .graph
            .callers(s)
            .chain(baseline.graph.callers(s))
            .cloned()
            .collect()
    };
    let collapsed: BTreeSet<String> = raws
        .iter()
        .filter(|r| r.kind == Kind::Collapse)
        .map(|r| r.service.clone())
        .collect();
    // A collapse downstream of another collapse is starvation, not a cause.
    for r in raws.iter_mut().filter(|r| r.kind == Kind::Collapse) {
        if callers(&r.service).iter().any(|c| collapsed.contains(c)) {
            r.contribution *= config.explained_duration_factor;
            r.summary
                .push_str("; a caller collapsed too, so this may be starvation");
        }
    }
    // Latency and errors: scores before propagation, by service.
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    for r in raws.iter().filter(|r| r.kind != Kind::Collapse) {
        *totals.entry(r.service.clone()).or_default() += r.contribution;
    }
    let mut factors: BTreeMap<String, (f64, Option<String>)> = BTreeMap::new();
    for (service, total) in &totals {
        let best = callees(service)
            .into_iter()
            .filter_map(|c| totals.get(&c).map(|t| (c, *t)))
            .filter(|(_, t)| *t > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
        let factor = match &best {
            Some((_, callee_total)) => config
                .min_caller_factor
                .max(1.0 - (1.0 - config.min_caller_factor) * (callee_total / total).min(1.0)),
            None => 1.0,
        };
        factors.insert(service.clone(), (factor, best.map(|b| b.0)));
    }
    for r in raws.iter_mut().filter(|r| r.kind != Kind::Collapse) {
        let Some((factor, callee)) = factors.get(&r.service) else {
            continue;
        };
        let Some(callee) = callee else {
            continue;
        };
        if r.kind == Kind::Duration {
            // Duration includes the callees' time: with a degraded callee it is mostly theirs.
            r.contribution *= config.explained_duration_factor;
        } else {
            r.contribution *= factor;
        }
        r.summary
            .push_str(&format!("; its callee {callee} degraded too"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::{SpanFacts, SpanStatus, aggregate_spans};

    /// gateway → orders → db, `n` requests; `db_ms` is db's own time, `net_ms` extra wire time
    /// between orders' client span and db's server span, `errors` db spans failing.
    fn tree(n: usize, db_ms: i64, net_ms: i64, errors: usize) -> TraceAggregates {
        let services = vec![
            "gateway".to_string(),
            "orders".to_string(),
            "db".to_string(),
        ];
        let mut facts = Vec::new();
        let ms = 1_000_000;
        for i in 0..n {
            let jitter = (i % 7) as i64 * ms / 10;
            let t = (i as u64) << 8;
            let db = db_ms * ms + jitter;
            let client = db + ms + net_ms * ms;
            let orders = client + 2 * ms + jitter;
            let gw = orders + ms;
            let f = |k: u64, p: Option<u64>, s: u32, d: i64, st| SpanFacts {
                key: t + k,
                parent_key: p.map(|p| t + p),
                service: s,
                start_ns: i as i64,
                duration_ns: d,
                status: st,
                example: format!("span-{i}-{k}"),
            };
            let db_status = if i < errors {
                SpanStatus::Error
            } else {
                SpanStatus::Ok
            };
            facts.push(f(1, None, 0, gw, SpanStatus::Ok));
            facts.push(f(2, Some(1), 1, orders, SpanStatus::Ok));
            facts.push(f(3, Some(2), 1, client, SpanStatus::Ok));
            facts.push(f(4, Some(3), 2, db, db_status));
        }
        aggregate_spans(&facts, &services, 3, |e| Some(e.clone()))
    }

    fn scores(findings: &[Finding]) -> Vec<(String, f64)> {
        let mut by: BTreeMap<String, f64> = BTreeMap::new();
        for f in findings {
            *by.entry(f.evidence.entity.clone()).or_default() += f.contribution;
        }
        let mut v: Vec<_> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    #[test]
    fn slow_callee_ranks_above_its_callers() {
        let base = tree(200, 5, 0, 0);
        let win = tree(200, 50, 0, 0);
        let findings = trace_findings(&win, &base, &TraceSignalConfig::default());
        let s = scores(&findings);
        assert_eq!(s[0].0, "db", "{s:?}");
        let self_db = findings
            .iter()
            .find(|f| f.evidence.id.starts_with("sig-trace-self-"))
            .unwrap();
        assert_eq!(self_db.evidence.entity, "db");
        assert_eq!(self_db.fault, FaultType::Latency);
        assert_eq!(self_db.evidence.examples.len(), 3);
        // Callers' self time did not move: no self-time finding for them.
        assert!(
            !findings
                .iter()
                .any(|f| f.evidence.id.starts_with("sig-trace-self-") && f.evidence.entity != "db")
        );
        // Deterministic ids and order.
        assert_eq!(
            findings,
            trace_findings(&win, &base, &TraceSignalConfig::default())
        );
        // Same data on both sides: nothing.
        assert!(trace_findings(&base, &base, &TraceSignalConfig::default()).is_empty());
    }

    #[test]
    fn network_gap_is_charged_to_the_callee() {
        let base = tree(200, 5, 0, 0);
        let win = tree(200, 5, 40, 0);
        let findings = trace_findings(&win, &base, &TraceSignalConfig::default());
        let s = scores(&findings);
        assert_eq!(s[0].0, "db", "{s:?}");
        let top = &findings[0];
        assert_eq!(top.fault, FaultType::NetworkDelay);
        assert_eq!(top.evidence.entity, "db");
    }

    /// Own work and the wait before it both slower: a starved process (CPU), not the wire.
    #[test]
    fn slower_work_and_slower_arrival_together_suggest_cpu() {
        let base = tree(200, 5, 0, 0);
        let findings = trace_findings(&tree(200, 40, 40, 0), &base, &TraceSignalConfig::default());
        let db: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.evidence.entity == "db" && !f.evidence.id.contains("duration"))
            .collect();
        assert!(db.len() >= 2, "{findings:#?}");
        assert!(db.iter().all(|f| f.fault == FaultType::Cpu), "{db:#?}");
        // Only the wait grew: the network.
        let findings = trace_findings(&tree(200, 5, 40, 0), &base, &TraceSignalConfig::default());
        assert_eq!(findings[0].fault, FaultType::NetworkDelay);
    }

    #[test]
    fn span_errors_and_collapse() {
        let base = tree(300, 5, 0, 0);
        let win = tree(300, 5, 0, 60);
        let findings = trace_findings(&win, &base, &TraceSignalConfig::default());
        assert_eq!(findings[0].evidence.kind, EvidenceKind::SpanErrors);
        assert_eq!(findings[0].fault, FaultType::ErrorSpike);
        assert_eq!(findings[0].evidence.entity, "db");

        // db disappears from the window while the rest keeps its volume.
        let mut starved = tree(300, 5, 0, 0);
        starved.per_service.remove("db");
        let findings = trace_findings(&starved, &base, &TraceSignalConfig::default());
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].evidence.entity, "db");
        assert_eq!(findings[0].fault, FaultType::Unknown);
    }

    /// A callee called twice in the baseline cannot be judged against its own inbound gaps; it
    /// is judged against every service's, since the wire is the same network. A window where
    /// its gaps are as before raises nothing.
    #[test]
    fn a_rarely_called_service_is_judged_against_every_services_gaps() {
        let mut base = tree(200, 5, 0, 0);
        let rare = {
            let mut h = LatencyHistogram::default();
            h.record(1_000_000);
            h.record(1_100_000);
            h
        };
        base.per_service.get_mut("db").unwrap().inbound_gap = rare;
        let findings = trace_findings(&tree(200, 5, 40, 0), &base, &TraceSignalConfig::default());
        let gap = findings
            .iter()
            .find(|f| f.evidence.id.starts_with("sig-trace-gap-"))
            .expect("a gap finding");
        assert_eq!(gap.evidence.entity, "db");
        assert_eq!(gap.fault, FaultType::NetworkDelay);
        assert!(
            gap.evidence.summary.ends_with(
                "; called 2 times in the baseline, so compared with the inbound gaps of every service there"
            ),
            "{}",
            gap.evidence.summary
        );
        let quiet = trace_findings(&tree(200, 5, 0, 0), &base, &TraceSignalConfig::default());
        assert!(
            !quiet
                .iter()
                .any(|f| f.evidence.id.starts_with("sig-trace-gap-")),
            "{quiet:#?}"
        );
    }
}
