//! Log signals: error-rate changes, new messages, vanished messages and bursts, per service,
//! window against baseline; then the ranking of services by the evidence against them.
//!
//! This module compares the window's messages with the baseline's and holds the configuration;
//! the families live beside it: `stopped` (messages that stopped, in the whole window or
//! partway), `paths` (messages of one request path count once, code paths
//! cut short, silence a caller explains), `blame` (callers that name their callees), `code`
//! (where in a service's code a message points, and the fault it suggests) and `text` (reading
//! untrusted log text).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rootline_core::frames::{FrameTally, is_plumbing_module, module_root, own_code_root};
use rootline_core::sketch::{
    SECONDS_SKETCH_SIZE, TRACE_SKETCH_SIZE, second_hash, shared_requests, sketch_distinct,
    sketch_insert, trace_hash,
};
use rootline_core::{
    Evidence, EvidenceKind, FaultType, Level, LogRecord, ServiceGraph, TemplateStat,
};

use crate::mask::mask_message;
use crate::rank::{Finding, FindingKind, RankConfig, RankContext, Ranking, rank, strength};
use crate::stats::{poisson_cdf, poisson_sf};

mod blame;
mod code;
mod paths;
mod stopped;
mod text;

use blame::*;
use code::*;
use paths::*;
use stopped::*;
use text::*;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSignalConfig {
    /// A message counts as vanished only when at least this many were expected.
    pub min_expected_vanished: f64,
    /// One-sided p-value below which a count change is significant.
    pub significance: f64,
    /// Log record ids kept per evidence item.
    pub max_examples: usize,
    /// A message (same template text) that is new or bursting at n services in the window counts
    /// `n^-crowd_exponent` at each: one symptom shared by many writers (every pod alerting on
    /// its memory at once, every caller logging the same timeout) says less about each of them
    /// than a message only one of them writes. The metric signal splits shared series alike.
    pub crowd_exponent: f64,
    /// What a warning or error that names another service (or blames an unnamed dependency)
    /// counts against its own writer: the writer is reporting a callee's failure.
    pub naming_writer_share: f64,
    /// What a message that stopped counts at a service that logs no problem of its own and
    /// where nothing shows that requests still reach it (its callers stopping explains it too).
    pub quiet_share: f64,
    /// A stopped message counts `stopped_weight × ln(1 + expected)`.
    pub stopped_weight: f64,
    /// A background (chronic) finding counts this per unit of `ln(1 + problems)`: a thousand
    /// chronic errors (0.35) weigh about as much as one new debug message. 0 switches the family
    /// off (no background findings at all).
    pub background_weight: f64,
    /// Traced messages that stop partway through the window while their service goes on serving
    /// requests count as stopped (rule family switch).
    pub partial_stops: bool,
}

impl Default for LogSignalConfig {
    fn default() -> Self {
        LogSignalConfig {
            min_expected_vanished: 4.0,
            significance: 0.001,
            max_examples: 3,
            crowd_exponent: 1.0,
            naming_writer_share: 0.5,
            quiet_share: 0.5,
            stopped_weight: 1.5,
            background_weight: 0.05,
            partial_stops: true,
        }
    }
}

/// Unknown counts as info: most loggers that omit a level are logging routine lines.
fn severity(l: Level) -> u8 {
    match l {
        Level::Trace | Level::Debug => 0,
        Level::Info | Level::Unknown => 1,
        Level::Warn => 2,
        Level::Error => 3,
        Level::Fatal => 4,
    }
}

fn level_weight(l: Level) -> f64 {
    match severity(l) {
        0 => 0.5,
        1 => 1.0,
        2 => 2.0,
        _ => 3.0,
    }
}

fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let mut out: String = line.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Stable id for an aggregate observation (FNV-1a: deterministic across runs and platforms).
fn signal_id(kind: &str, service: &str, key: &str) -> String {
    let h = fnv([
        kind.as_bytes(),
        &[0],
        service.as_bytes(),
        &[0],
        key.as_bytes(),
    ]
    .concat()
    .as_slice());
    format!("sig-{kind}-{h:016x}")
}

/// Aggregates records into per-(service, template) counts, the same shape the index computes.
/// Records without a template id are keyed by their masked message.
pub fn aggregate(records: &[LogRecord], max_examples: usize) -> Vec<TemplateStat> {
    let mut map: BTreeMap<(String, u64), TemplateStat> = BTreeMap::new();
    let mut frames: BTreeMap<(String, u64), FrameTally> = BTreeMap::new();
    for r in records {
        let template = r
            .template_id
            .unwrap_or_else(|| fnv(mask_message(&r.message).as_bytes()));
        let s = map
            .entry((r.service.clone(), template))
            .or_insert_with(|| TemplateStat {
                service: r.service.clone(),
                template_id: Some(template),
                count: 0,
                errors: 0,
                warnings: 0,
                worst_level: Level::Trace,
                first_ns: i64::MAX,
                last_ns: i64::MIN,
                examples: vec![],
                sample: first_line(&r.message, 500),
                hosts: vec![],
                modules: vec![],
                frames: vec![],
                traces: vec![],
                seconds: vec![],
            });
        s.count += 1;
        sketch_insert(&mut s.seconds, second_hash(r.ts_ns), SECONDS_SKETCH_SIZE);
        if let Some(t) = &r.trace_id {
            sketch_insert(&mut s.traces, trace_hash(t), TRACE_SKETCH_SIZE);
        }
        if r.level.is_error() {
            s.errors += 1;
        } else if r.level == Level::Warn {
            s.warnings += 1;
        }
        if severity(r.level) > severity(s.worst_level) {
            s.worst_level = r.level;
        }
        s.first_ns = s.first_ns.min(r.ts_ns);
        s.last_ns = s.last_ns.max(r.ts_ns);
        if s.examples.len() < max_examples {
            s.examples.push(r.evidence_id.clone());
            if let Some(h) = &r.host
                && !s.hosts.contains(h)
            {
                s.hosts.push(h.clone());
            }
            if let Some(m) = &r.module
                && !s.modules.contains(m)
            {
                s.modules.push(m.clone());
            }
            frames
                .entry((r.service.clone(), template))
                .or_default()
                .add_message(&r.message);
        }
    }
    for (key, tally) in frames {
        if let Some(s) = map.get_mut(&key) {
            s.frames = tally.modules();
        }
    }
    map.into_values().collect()
}

fn fnv(bytes: &[u8]) -> u64 {
    rootline_core::hash::fnv1a(bytes.iter().copied())
}

/// Compares the incident window with its baseline and ranks services, from records.
pub fn analyse_logs(
    window: &[LogRecord],
    baseline: &[LogRecord],
    config: &LogSignalConfig,
) -> Ranking {
    analyse_templates(
        &aggregate(window, config.max_examples),
        &aggregate(baseline, config.max_examples),
        config,
    )
}

/// Compares per-template counts of the window with those of its baseline and ranks services.
pub fn analyse_templates(
    window: &[TemplateStat],
    baseline: &[TemplateStat],
    config: &LogSignalConfig,
) -> Ranking {
    let context = RankContext {
        window_records: window.iter().map(|s| s.count).sum(),
        baseline_records: baseline.iter().map(|s| s.count).sum(),
        graph: None,
    };
    rank(
        log_findings(window, baseline, config),
        &context,
        &RankConfig::default(),
    )
}

/// Log findings: new, bursting and vanished messages and error-rate rises, per service.
pub fn log_findings(
    window: &[TemplateStat],
    baseline: &[TemplateStat],
    config: &LogSignalConfig,
) -> Vec<Finding> {
    log_findings_in(window, baseline, config, None)
}

/// [`log_findings`] in a system whose graph names each instance's service (its members), so
/// that a message changed at several instances of one service counts as one service's.
pub fn log_findings_in(
    window: &[TemplateStat],
    baseline: &[TemplateStat],
    config: &LogSignalConfig,
    graph: Option<&ServiceGraph>,
) -> Vec<Finding> {
    let window_total: u64 = window.iter().map(|s| s.count).sum();
    let baseline_total: u64 = baseline.iter().map(|s| s.count).sum();
    if window_total == 0 || baseline_total == 0 {
        return vec![];
    }
    let key_of = |s: &TemplateStat| (s.service.clone(), template_label(s));
    let mut win: BTreeMap<(String, String), &TemplateStat> = BTreeMap::new();
    for s in window {
        win.insert(key_of(s), s);
    }
    let mut base: HashMap<(String, String), &TemplateStat> = HashMap::new();
    for s in baseline {
        base.insert(key_of(s), s);
    }
    let own_roots = own_code_roots(window.iter().chain(baseline));
    // Errors per service, with the window's first few error examples and hosts, and the modules
    // the error messages point at.
    let mut win_errors: BTreeMap<&str, ServiceTally> = BTreeMap::new();
    for s in window.iter().filter(|s| s.errors > 0) {
        let e = win_errors.entry(s.service.as_str()).or_default();
        e.add(s, s.errors);
        if s.worst_level.is_error() {
            e.note_examples(s, config.max_examples);
            push_new(
                &mut e.modules,
                implicated_modules(s, own_roots.get(&s.service)),
            );
        }
    }
    let mut base_errors: HashMap<String, u64> = HashMap::new();
    for s in baseline {
        *base_errors.entry(s.service.clone()).or_default() += s.errors;
    }
    // Volume normalisation: what the baseline predicts for a window of this many records.
    let scale = window_total as f64 / baseline_total as f64;
    let services = known_services(window, &base);
    let mut scored: Vec<Finding> = Vec::new();
    let mut new_messages: Vec<(Finding, &TemplateStat)> = Vec::new();
    let mut bursts: Vec<(Finding, &TemplateStat)> = Vec::new();

    // Each window message's change against the baseline, and its text: template ids are per
    // service, so the text is what tells that several services changed the same message.
    let changes: BTreeMap<&(String, String), (Change, String)> = win
        .iter()
        .map(|(k, t)| {
            let b = base.get(k).map_or(0, |b| b.count);
            (k, (change_of(t, b, scale, config), mask_message(&t.sample)))
        })
        .collect();
    // The services each changed message text is new or bursting at (see `crowd_exponent`).
    let mut crowd: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for ((entity, _), (change, text)) in &changes {
        if *change != Change::None {
            let service = graph.map_or(entity.as_str(), |g| g.service_of(entity));
            crowd.entry(text).or_default().insert(service);
        }
    }
    for (k @ (service, key), t) in &win {
        let (change, text) = &changes[k];
        let change = *change;
        let names = named_callee(t, &services);
        let crowd_n = crowd.get(text.as_str()).map_or(1, BTreeSet::len);
        let crowd_note = if crowd_n > 1 {
            format!("; the same message changed at {crowd_n} services in the window")
        } else {
            String::new()
        };
        let blames_dependency = names.is_none() && blames_unnamed_dependency(t);
        let contribution = message_weight(t, change)
            * trace_weight(t, own_roots.get(service))
            * if names.is_some() || blames_dependency {
                config.naming_writer_share
            } else {
                1.0
            }
            * (crowd_n as f64).powf(-config.crowd_exponent);
        let callers_view = if blames_dependency {
            " (it reports a failure of a service it calls, so it counts half against its writer)"
                .to_string()
        } else {
            callers_view(names)
        };
        if change == Change::New {
            let fault = code_fault(t);
            new_messages.push((Finding {
                kind: FindingKind::NewMessage,
                evidence: Evidence {
                    id: signal_id("new", service, key),
                    kind: EvidenceKind::NewMessage,
                    entity: service.clone(),
                    first_seen_ns: t.first_ns,
                    strength: strength(contribution),
                    summary: format!(
                        "new {} message in {service}, {}× in the window, never in the baseline: \"{}\"{}{crowd_note}",
                        t.worst_level.as_str(),
                        t.count,
                        first_line(&t.sample, 200),
                        callers_view,
                    ),
                    examples: t.examples.clone(),
                    instances: t.hosts.clone(),
                    modules: faulty_modules(t, own_roots.get(service)),
                },
                contribution,
                fault,
            }, t));
        } else if let Change::Burst { expected, ratio } = change {
            bursts.push((Finding {
                kind: FindingKind::Burst,
                evidence: Evidence {
                    id: signal_id("burst", service, key),
                    kind: EvidenceKind::RateChange,
                    entity: service.clone(),
                    first_seen_ns: t.first_ns,
                    strength: strength(contribution),
                    summary: format!(
                        "{} message in {service} rose to {}× from {:.1} expected ({ratio:.1}×): \"{}\"{}{crowd_note}",
                        t.worst_level.as_str(),
                        t.count,
                        expected,
                        first_line(&t.sample, 200),
                        callers_view,
                    ),
                    examples: t.examples.clone(),
                    instances: t.hosts.clone(),
                    modules: faulty_modules(t, own_roots.get(service)),
                },
                contribution,
                fault: code_fault(t),
            }, t));
        }
    }

    scored.extend(one_per_request_path(new_messages, false));
    scored.extend(one_per_request_path(bursts, false));

    // New or bursting warnings and errors, per service: the branch a stopped message may have
    // given way to.
    let unusual_problems: Vec<&TemplateStat> = win
        .iter()
        .filter(|(k, t)| severity(t.worst_level) >= 2 && changes[k].0 != Change::None)
        .map(|(_, t)| *t)
        .collect();
    // Routine messages with their surplus over the baseline: a stopped message may live on in
    // one of them.
    let routine_surplus: Vec<(&TemplateStat, f64)> = win
        .iter()
        .filter(|(_, t)| severity(t.worst_level) < 2)
        .map(|(k, t)| {
            let before = base.get(k).map_or(0, |b| b.count) as f64 * scale;
            (*t, t.count as f64 - before)
        })
        .collect();
    let stopped = stopped_messages(
        window,
        &win,
        &base,
        scale,
        &unusual_problems,
        &routine_surplus,
        config,
    );
    // Messages that stopped at a service that logs no problem of its own, where nothing shows
    // that requests still reach it (an access-log line, or no trace ids): its callers stopping
    // explains the silence as well as its own fault (a guest that never booted fetches no
    // metadata), so they count half. Traced messages of a path cut short keep their weight.
    for (finding, maybe_upstream) in request_paths(stopped, true) {
        scored.push(
            if maybe_upstream
                && !unusual_problems
                    .iter()
                    .any(|p| p.service == finding.evidence.entity)
            {
                quiet_without_problems(finding, config.quiet_share)
            } else {
                finding
            },
        );
    }

    scored.extend(cut_path_findings(&win, &base, &unusual_problems, config));

    // Error rate per service.
    for (service, tally) in &win_errors {
        let errors = tally.count;
        let b = base_errors.get(*service).copied().unwrap_or(0);
        let expected = b as f64 * scale;
        if poisson_sf(errors, expected.max(0.5)) >= config.significance {
            continue;
        }
        let excess = errors as f64 - expected;
        let contribution = (1.0 + excess).ln();
        scored.push(Finding {
            kind: FindingKind::ErrorRate,
            evidence: Evidence {
                id: signal_id("errors", service, ""),
                kind: EvidenceKind::ErrorRate,
                entity: service.to_string(),
                first_seen_ns: tally.first_ns,
                strength: strength(contribution),
                summary: format!(
                    "{service} logged {errors} errors in the window against {expected:.1} expected from the baseline"
                ),
                examples: tally.examples.clone(),
                instances: tally.hosts.clone(),
                modules: tally.modules.clone(),
            },
            contribution,
            fault: FaultType::ErrorSpike,
        });
    }

    // Services that log warnings or errors at their usual rate: nothing changed, but an SRE
    // still wants them among the leads when nothing else names the culprit (alert-only data,
    // where a faulty pod keeps alerting as it did before). Weighed far below any change.
    let mut problems: BTreeMap<&str, ServiceTally> = BTreeMap::new();
    let chronic_counts = config.background_weight > 0.0;
    for s in window
        .iter()
        .filter(|s| chronic_counts && s.errors + s.warnings > 0)
    {
        let p = problems.entry(s.service.as_str()).or_default();
        p.add(s, s.errors + s.warnings);
        p.note_examples(s, config.max_examples);
    }
    for (service, tally) in problems {
        let ServiceTally {
            count,
            first_ns,
            examples,
            hosts,
            ..
        } = tally;
        let contribution = config.background_weight * (1.0 + count as f64).ln();
        scored.push(Finding {
            kind: FindingKind::Background,
            evidence: Evidence {
                id: signal_id(BACKGROUND, service, ""),
                kind: EvidenceKind::ErrorRate,
                entity: service.to_string(),
                first_seen_ns: first_ns,
                strength: strength(contribution),
                summary: format!(
                    "{service} logged {count} warnings or errors in the window, no more than its baseline predicts (a chronic problem, not a change)"
                ),
                examples,
                instances: hosts,
                modules: vec![],
            },
            contribution,
            fault: FaultType::Unknown,
        });
    }

    scored.extend(blame_findings(window, &base, scale, config));
    scored
}

/// How many separate bursts of a message the window should hold when `expected` lines are
/// expected: a message comes in bursts (a configuration dump of 2,000 lines at start-up, a
/// loop logging each item), and a window misses a burst far more easily than it misses that
/// many independent lines. The bursts are the distinct seconds it was written in, scaled like
/// its count; stats without a seconds sketch count every line as its own burst.
fn expected_bursts(t: &TemplateStat, expected: f64) -> f64 {
    if t.seconds.is_empty() || t.count == 0 {
        return expected;
    }
    let seconds = sketch_distinct(&t.seconds, SECONDS_SKETCH_SIZE).min(t.count as f64);
    expected * seconds / t.count as f64
}

/// The signal kind of background findings: problems logged at their usual rate.
pub(crate) const BACKGROUND: &str = "background";

/// Per service: how many records of some kind, when first seen, and the first few example
/// ids, the hosts they came from and the modules they point at.
struct ServiceTally {
    count: u64,
    first_ns: i64,
    examples: Vec<String>,
    hosts: Vec<String>,
    modules: Vec<String>,
}

impl Default for ServiceTally {
    fn default() -> Self {
        ServiceTally {
            count: 0,
            first_ns: i64::MAX,
            examples: vec![],
            hosts: vec![],
            modules: vec![],
        }
    }
}

impl ServiceTally {
    fn add(&mut self, s: &TemplateStat, count: u64) {
        self.count += count;
        self.first_ns = self.first_ns.min(s.first_ns);
    }

    fn note_examples(&mut self, s: &TemplateStat, max_examples: usize) {
        let room = max_examples.saturating_sub(self.examples.len());
        self.examples.extend(s.examples.iter().take(room).cloned());
        push_new(&mut self.hosts, s.hosts.iter().cloned());
    }
}

/// Appends the items `into` does not hold yet, in order.
fn push_new(into: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for x in items {
        if !into.contains(&x) {
            into.push(x);
        }
    }
}

/// How a window template compares with its baseline count.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    /// Never in the baseline.
    New,
    /// More than twice what the baseline predicts, and significantly so.
    Burst {
        expected: f64,
        ratio: f64,
    },
    None,
}

fn change_of(
    t: &TemplateStat,
    baseline_count: u64,
    scale: f64,
    config: &LogSignalConfig,
) -> Change {
    if baseline_count == 0 {
        return Change::New;
    }
    let expected = baseline_count as f64 * scale;
    if t.count as f64 > 2.0 * expected && poisson_sf(t.count, expected) < config.significance {
        Change::Burst {
            expected,
            ratio: t.count as f64 / expected.max(0.5),
        }
    } else {
        Change::None
    }
}

/// What a new or bursting message counts against the service that wrote it (before the
/// stack-trace weight): a new one by its count, a bursting one, half as much, by how far it rose.
fn message_weight(t: &TemplateStat, change: Change) -> f64 {
    match change {
        Change::New => level_weight(t.worst_level) * (1.0 + t.count as f64).ln(),
        Change::Burst { ratio, .. } => 0.5 * level_weight(t.worst_level) * ratio.ln(),
        Change::None => 0.0,
    }
}

#[cfg(test)]
mod tests;
