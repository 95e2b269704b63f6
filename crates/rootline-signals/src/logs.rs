//! Log signals: error-rate changes, new messages, vanished messages and bursts, per service,
//! window against baseline; then the ranking of services by the evidence against them.

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
use crate::rank::{Finding, FindingKind, RankContext, Ranking, rank};
use crate::stats::{poisson_cdf, poisson_sf};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSignalConfig {
    /// A message counts as vanished only when at least this many were expected.
    pub min_expected_vanished: f64,
    /// One-sided p-value below which a count change is significant.
    pub significance: f64,
    /// Log record ids kept per evidence item.
    pub max_examples: usize,
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
    /// A caller whose callee also scores keeps at least this share of the part of its score the
    /// callee could explain (1: no caller discount).
    pub caller_keep: f64,
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
            decisive_ratio: 3.0,
            min_incident_score: 3.0,
            max_evidence_per_candidate: 8,
            finding_decay: 0.5,
            crowd_exponent: 1.0,
            naming_writer_share: 0.5,
            quiet_share: 0.5,
            stopped_weight: 1.5,
            background_weight: 0.05,
            caller_keep: 0.5,
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
    rank(log_findings(window, baseline, config), &context, config)
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
    // Messages the service stopped writing: a code path that no longer runs. Either the
    // message is missing from the whole window, or it stopped partway through it and stayed
    // silent for the rest (a window that opened before the fault holds the message's last
    // healthy minutes: its total alone would not tell).
    let mut vanished: Vec<(&(String, String), &&TemplateStat)> =
        base.iter().filter(|(k, _)| !win.contains_key(*k)).collect();
    vanished.sort_by(|a, b| a.0.cmp(b.0));
    // A message stopped partway only while its service went on serving requests: the message
    // and the service's other messages carry request (trace) ids, and the tail is measured to
    // the service's last traced record. Then a code path was cut while requests still came;
    // untraced messages that stop may only mean the callers stopped calling (a workload that
    // gave up), and the end of the data stops nothing.
    let data_start = window.iter().map(|t| t.first_ns).min().unwrap_or(0);
    let data_end = window.iter().map(|t| t.last_ns).max().unwrap_or(0);
    let span = (data_end - data_start).max(1) as f64;
    let mut service_end: HashMap<&str, i64> = HashMap::new();
    for t in window.iter().filter(|t| !t.traces.is_empty()) {
        let e = service_end.entry(t.service.as_str()).or_insert(t.last_ns);
        *e = (*e).max(t.last_ns);
    }
    let mut stops: Vec<Stop<'_>> = vanished
        .into_iter()
        .map(|(key, t)| Stop {
            key,
            base: t,
            expected: t.count as f64 * scale,
            partway: None,
        })
        .collect();
    for (k, w) in win.iter().filter(|_| config.partial_stops) {
        let Some(b) = base.get(k) else { continue };
        let Some(end) = service_end.get(w.service.as_str()).copied() else {
            continue;
        };
        let tail = (end - w.last_ns) as f64;
        if tail <= 0.0 || w.traces.is_empty() || severity(w.worst_level) >= 2 {
            continue;
        }
        stops.push(Stop {
            key: k,
            base: b,
            expected: b.count as f64 * scale * tail / span,
            partway: Some(w),
        });
    }
    let mut stopped: Vec<(Finding, &TemplateStat)> = Vec::new();
    for Stop {
        key: (service, key),
        base: t,
        expected,
        partway,
    } in stops
    {
        let bursts = expected_bursts(t, expected);
        if bursts < config.min_expected_vanished || poisson_cdf(0, bursts) >= config.significance {
            continue;
        }
        // The same routine message in another form (a request context filled in, a field
        // added), as often: the code path still runs.
        if routine_surplus.iter().any(|(n, surplus)| {
            n.service == t.service && *surplus >= 0.5 * expected && siblings(&n.sample, &t.sample)
        }) {
            continue;
        }
        let contribution = config.stopped_weight * (1.0 + expected).ln();
        let (first_seen_ns, summary, examples, instances) = match partway {
            None => (
                t.first_ns,
                format!(
                    "{service} stopped writing a message seen {}× in the baseline ({expected:.1} expected in the window): \"{}\"",
                    t.count,
                    first_line(&t.sample, 200)
                ),
                t.examples.clone(),
                t.hosts.clone(),
            ),
            Some(w) => (
                w.last_ns,
                format!(
                    "{service} stopped writing a message at {} ({}× in the window before that, {expected:.1} expected after it from the baseline): \"{}\"",
                    rootline_core::time::format_ns(w.last_ns),
                    w.count,
                    first_line(&t.sample, 200)
                ),
                w.examples.clone(),
                w.hosts.clone(),
            ),
        };
        stopped.push((
            Finding {
                kind: FindingKind::Stopped,
                evidence: Evidence {
                    id: signal_id("vanished", service, key),
                    kind: EvidenceKind::RateChange,
                    entity: service.clone(),
                    first_seen_ns,
                    strength: strength(contribution),
                    summary,
                    examples,
                    instances,
                    // The module that wrote a message that stopped runs downstream of the fault,
                    // rarely where it is (on OpenStack, naming it cost module AC@3 0.03).
                    modules: vec![],
                },
                contribution,
                // A message that always ran and now does not: the code path is cut short, which is
                // what a thrown exception does; unless a sibling warning or error took its place
                // ("Get Route By Ids Success" gone, "Get Route By Ids Failed" new): then the code
                // ran on and took the other branch, on a value it did not expect.
                fault: if unusual_problems
                    .iter()
                    .any(|p| p.service == t.service && siblings(&p.sample, &t.sample))
                {
                    FaultType::WrongReturnValue
                } else {
                    FaultType::Exception
                },
            },
            t,
        ));
    }
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

/// One finding per request path: messages of one service written in the same requests (≥
/// [`PAIR_SHARED_REQUESTS`] of their traces shared) are one code path that started, grew or
/// stopped as a whole, so they count once, as their strongest message, which names how many
/// more went with it. A dozen lines of one new request type are not a dozen pieces of evidence.
/// With `by_seconds`, untraced messages go together when they were written in the same seconds
/// (≥ [`PAIR_SHARED_REQUESTS`] of their seconds shared): used for messages that stopped, where
/// a request type that no longer comes (a guest that never booted no longer fetches its
/// metadata) silences every line it used to write at once. New untraced messages stay apart:
/// on alert data, alerts of one entity in one second are separate detectors' findings.
fn one_per_request_path(findings: Vec<(Finding, &TemplateStat)>, by_seconds: bool) -> Vec<Finding> {
    request_paths(findings, by_seconds)
        .into_iter()
        .map(|(finding, _)| finding)
        .collect()
}

/// [`one_per_request_path`], with whether one of each path's messages may have stopped only
/// because requests stopped coming: an inbound request line ([`logs_inbound_request`]), or a
/// message without trace ids.
fn request_paths(
    mut findings: Vec<(Finding, &TemplateStat)>,
    by_seconds: bool,
) -> Vec<(Finding, bool)> {
    findings.sort_by(|a, b| {
        b.0.contribution
            .total_cmp(&a.0.contribution)
            .then_with(|| a.0.evidence.id.cmp(&b.0.evidence.id))
    });
    // (finding, its stat, messages that went with it, whether the silence of one of them may
    // only mean that requests stopped coming)
    let mut paths: Vec<(Finding, &TemplateStat, usize, bool)> = Vec::new();
    for (finding, stat) in findings {
        // Whether its silence may only mean that requests stopped coming: an access-log line, or
        // a message with no trace ids to show the requests still arrive.
        let maybe_upstream = logs_inbound_request(&stat.sample) || stat.traces.is_empty();
        let same_path = paths.iter_mut().find(|(_, lead, _, _)| {
            let shared = if by_seconds && lead.traces.is_empty() && stat.traces.is_empty() {
                shared_requests(&lead.seconds, &stat.seconds)
            } else {
                shared_requests(&lead.traces, &stat.traces)
            };
            lead.service == stat.service
                && shared.is_some_and(|share| share >= PAIR_SHARED_REQUESTS)
        });
        match same_path {
            Some((_, _, with, any_upstream)) => {
                *with += 1;
                *any_upstream |= maybe_upstream;
            }
            None => paths.push((finding, stat, 0, maybe_upstream)),
        }
    }
    paths
        .into_iter()
        .map(|(mut finding, lead, with, maybe_upstream)| {
            if with > 0 {
                let unit = if lead.traces.is_empty() {
                    "seconds"
                } else {
                    "requests"
                };
                finding.evidence.summary.push_str(&format!(
                    " (with {with} more message(s) written in the same {unit})"
                ));
            }
            (finding, maybe_upstream)
        })
        .collect()
}

/// Discounts a message that may have stopped only because requests stopped coming
/// ([`LogSignalConfig::quiet_share`]).
fn quiet_without_problems(mut finding: Finding, share: f64) -> Finding {
    finding.contribution *= share;
    finding.evidence.strength = strength(finding.contribution);
    finding.evidence.summary.push_str(
        "; it logs no problem of its own and nothing shows that requests still reach it, so its callers' failure explains the silence as well: it counts half",
    );
    finding
}

/// An access-log line: an HTTP method followed by a path or URL (`"GET /v2/servers HTTP/1.1"
/// status: 200`, `Request: GET <*>`).
fn logs_inbound_request(message: &str) -> bool {
    const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
    let words: Vec<&str> = message
        .split_whitespace()
        .map(|w| w.trim_matches(['"', '\'']))
        .collect();
    words.windows(2).any(|pair| {
        METHODS.contains(&pair[0])
            && (pair[1].starts_with('/')
                || pair[1].starts_with("<*>")
                || pair[1].starts_with("http"))
    })
}

/// A message pair counts as one code path only with at least this many baseline records of each.
const MIN_PAIRED: u64 = 8;
/// How far apart two baseline counts may be for the messages to count as one code path.
const PAIR_TOLERANCE: f64 = 0.1;
/// Share of their requests (traces) two messages must have written together in the baseline to
/// count as one code path.
const PAIR_SHARED_REQUESTS: f64 = 0.8;

/// Code paths cut short: two messages of one logger that the baseline writes in the same
/// requests (one follows the other), where the later one falls behind in the window. The first
/// still runs, so nothing stopped and nothing is new; what broke sits between them (an exception
/// thrown, a call that returned early). The pair must share its requests by trace id: two
/// endpoints that merely run as often are not one path, and a workload shift between them is
/// not a fault. Records without trace ids make no pairs.
fn cut_path_findings(
    win: &BTreeMap<(String, String), &TemplateStat>,
    base: &HashMap<(String, String), &TemplateStat>,
    unusual_problems: &[&TemplateStat],
    config: &LogSignalConfig,
) -> Vec<Finding> {
    // Baseline messages per (service, logger), in key order so the output is stable.
    let mut groups: BTreeMap<(&str, &str), Vec<(&String, &TemplateStat)>> = BTreeMap::new();
    let mut keys: Vec<&(String, String)> = base.keys().collect();
    keys.sort();
    for k in keys {
        let t = base[k];
        if let (Some(module), true) = (t.modules.first(), t.count >= MIN_PAIRED) {
            groups
                .entry((k.0.as_str(), module.as_str()))
                .or_default()
                .push((&k.1, t));
        }
    }
    let mut out = Vec::new();
    for ((service, module), members) in groups {
        // Each member with its stat in the window, looked up once.
        let members: Vec<(&String, &TemplateStat, Option<&TemplateStat>)> = members
            .into_iter()
            .map(|(key, t)| {
                (
                    key,
                    t,
                    win.get(&(service.to_string(), key.clone())).copied(),
                )
            })
            .collect();
        for (i, (later_key, later, later_window)) in members.iter().enumerate() {
            // A message that stopped altogether is the vanished signal's.
            let Some(t) = later_window else {
                continue;
            };
            let later_now = t.count;
            // The partner that best shows the cut: the most missing followers.
            let mut best: Option<(f64, u64, &TemplateStat)> = None;
            for (j, (_, first, first_window)) in members.iter().enumerate() {
                if i == j {
                    continue;
                }
                let (a, b) = (first.count as f64, later.count as f64);
                if (a - b).abs() > PAIR_TOLERANCE * a.max(b)
                    || shared_requests(&first.traces, &later.traces)
                        .is_none_or(|share| share < PAIR_SHARED_REQUESTS)
                {
                    continue;
                }
                let first_now = first_window.map_or(0, |w| w.count);
                let expected = first_now as f64 * (b / a).min(1.0);
                if (later_now as f64) < 0.5 * expected
                    && poisson_cdf(later_now, expected) < config.significance
                    && best.is_none_or(|(e, _, _)| expected > e)
                {
                    best = Some((expected, first_now, first));
                }
            }
            let Some((expected, first_now, first)) = best else {
                continue;
            };
            let missing = expected - later_now as f64;
            let contribution = 1.5 * (1.0 + missing).ln();
            out.push(Finding {
                kind: FindingKind::CutPath,
                evidence: Evidence {
                    id: signal_id("cut", service, later_key),
                    kind: EvidenceKind::RateChange,
                    entity: service.to_string(),
                    first_seen_ns: t.first_ns,
                    strength: strength(contribution),
                    summary: format!(
                        "{service}: \"{}\" followed \"{}\" as often in the baseline ({}× and {}×), but only {later_now} of {first_now} times in the window: the code path between them is cut short in {module}",
                        first_line(&later.sample, 120),
                        first_line(&first.sample, 120),
                        later.count,
                        first.count,
                    ),
                    examples: t.examples.clone(),
                    instances: t.hosts.clone(),
                    modules: vec![module.to_string()],
                },
                contribution,
                // Cut short: an exception, unless a sibling warning or error took the place of
                // the missing message (the code ran on and took the other branch).
                fault: if unusual_problems
                    .iter()
                    .any(|p| p.service == service && siblings(&p.sample, &later.sample))
                {
                    FaultType::WrongReturnValue
                } else {
                    FaultType::Exception
                },
            });
        }
    }
    out
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

/// A baseline message that stopped: missing from the whole window, or (`partway`: its window
/// stats) last written before its service's last traced record. `expected` is what the
/// baseline predicts for the silent stretch.
struct Stop<'a> {
    key: &'a (String, String),
    base: &'a TemplateStat,
    expected: f64,
    partway: Option<&'a TemplateStat>,
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

/// Per service, the root package of its own code: the one most of its records' loggers belong
/// to. Frames outside it (libraries, the runtime) say where an error surfaced, not where the
/// service's code went wrong.
fn own_code_roots<'a>(stats: impl Iterator<Item = &'a TemplateStat>) -> HashMap<String, String> {
    let mut loggers: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for s in stats {
        for m in &s.modules {
            loggers
                .entry(s.service.as_str())
                .or_default()
                .push((m.as_str(), s.count));
        }
    }
    loggers
        .into_iter()
        .filter_map(|(service, l)| own_code_root(l).map(|root| (service.to_string(), root)))
        .collect()
}

/// The code modules a template's records point at, most implicated first: the frames of the
/// service's own code, innermost first (where an exception was raised, or a bad value first
/// met), then the loggers that wrote the lines. Without known loggers every frame counts.
fn implicated_modules(t: &TemplateStat, own_root: Option<&String>) -> Vec<String> {
    // Plumbing frames (an RPC stub, a helpers module) pass on what their caller handed them:
    // they go after the service's other frames.
    let (plumbing, code): (Vec<&String>, Vec<&String>) =
        own_frames(t, own_root).partition(|m| is_plumbing_module(m));
    let mut out: Vec<String> = code.into_iter().chain(plumbing).cloned().collect();
    for m in &t.modules {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

/// A stack trace through the service's own code counts as what its lines would count as
/// separate findings (some loggers write each frame as a record of its own): each own frame adds
/// half as much as the one before, up to twice the message alone. One format or the other must
/// not decide which service ranks first. When a library raised it (the innermost frame is not
/// the service's own code), the frames add half as much: the service called something that
/// failed (on OpenStack, nova's libvirt traces in neutron faults).
fn trace_weight(t: &TemplateStat, own_root: Option<&String>) -> f64 {
    let n = own_frames(t, own_root).count();
    let bonus = 1.0 - 0.5_f64.powi(n.min(30) as i32);
    // Raised inside a library (the innermost frame is not the service's own code): the
    // service's code called something that failed, weaker evidence that the fault is its own.
    let raised_here = t
        .frames
        .first()
        .is_some_and(|f| own_root.is_none_or(|root| module_root(f) == root));
    1.0 + if raised_here { bonus } else { 0.5 * bonus }
}

/// The template's stack frames in the service's own code, innermost first; every frame when
/// the service's own package is unknown.
fn own_frames<'a>(
    t: &'a TemplateStat,
    own_root: Option<&'a String>,
) -> impl Iterator<Item = &'a String> {
    t.frames
        .iter()
        .filter(move |f| own_root.is_none_or(|root| module_root(f) == root))
}

/// The modules a new or bursting message points at, when it can point at a fault: a warning,
/// an error or a stack trace. A new routine message says the workload changed, not where code
/// broke, and there are many of them.
fn faulty_modules(t: &TemplateStat, own_root: Option<&String>) -> Vec<String> {
    if severity(t.worst_level) >= 2 || !t.frames.is_empty() {
        implicated_modules(t, own_root)
    } else {
        vec![]
    }
}

/// Callers blame their callees by name: "No instances available for payments", "connection to
/// orders-db refused". When an error or warning that is new or bursting in one service names
/// another service seen in the data, that is evidence against the named service.
fn blame_findings(
    window: &[TemplateStat],
    base: &HashMap<(String, String), &TemplateStat>,
    scale: f64,
    config: &LogSignalConfig,
) -> Vec<Finding> {
    let services = known_services(window, base);
    // Per named service, the blaming templates: contribution, summary, examples, first seen.
    type Blame = (f64, String, Vec<String>, i64);
    let mut blamed: BTreeMap<&str, Vec<Blame>> = BTreeMap::new();
    for t in window {
        if severity(t.worst_level) < 2 {
            continue;
        }
        let b = base
            .get(&(t.service.clone(), template_label(t)))
            .map_or(0, |b| b.count);
        let change = change_of(t, b, scale, config);
        if change == Change::None {
            continue;
        }
        for named in other_services_named(t, &services) {
            // Half of what the blaming message counts against its own service: a new one by
            // its count, a bursting one by how far it rose.
            let contribution = 0.5 * message_weight(t, change);
            blamed.entry(named).or_default().push((
                contribution,
                format!(
                    "{} names {named} in a {} {} message ({}×): \"{}\"",
                    t.service,
                    if change == Change::New {
                        "new"
                    } else {
                        "bursting"
                    },
                    t.worst_level.as_str(),
                    t.count,
                    excerpt_around(&t.sample, named, 90)
                ),
                t.examples.clone(),
                t.first_ns,
            ));
        }
    }
    blamed
        .into_iter()
        .flat_map(|(named, items)| {
            items
                .into_iter()
                .map(move |(contribution, summary, examples, first_ns)| Finding {
                    kind: FindingKind::NamedInErrors,
                    evidence: Evidence {
                        id: signal_id("blamed", named, &summary),
                        kind: EvidenceKind::NamedInErrors,
                        entity: named.to_string(),
                        first_seen_ns: first_ns,
                        strength: strength(contribution),
                        summary,
                        examples,
                        instances: vec![],
                        modules: vec![],
                    },
                    contribution,
                    fault: FaultType::Unknown,
                })
        })
        .collect()
}

/// The services seen in the data, by name (names shorter than 4 characters match too much).
fn known_services<'a>(
    window: &'a [TemplateStat],
    base: &'a HashMap<(String, String), &TemplateStat>,
) -> Vec<&'a str> {
    let mut services: Vec<&str> = window
        .iter()
        .map(|s| s.service.as_str())
        .chain(base.keys().map(|k| k.0.as_str()))
        .filter(|s| s.len() >= 4)
        .collect();
    services.sort_unstable();
    services.dedup();
    services
}

/// The other service a warning or error names, if any: the writer reports a failure of that
/// service ("No instances available for ts-basic-service"), and counts as its caller. A message
/// that names its own service too describes a call between the two ("trace alert: web -> db"),
/// not a failure the writer saw in the other.
fn named_callee<'a>(t: &TemplateStat, services: &[&'a str]) -> Option<&'a str> {
    if severity(t.worst_level) < 2 || mentions_name(&t.sample, &t.service) {
        return None;
    }
    other_services_named(t, services).next()
}

/// The services other than its writer that a message names.
fn other_services_named<'a, 's>(
    t: &'s TemplateStat,
    services: &'s [&'a str],
) -> impl Iterator<Item = &'a str> + 's {
    services
        .iter()
        .filter(move |named| **named != t.service && mentions_name(&t.sample, named))
        .copied()
}

/// How a finding says that its message reports another service's failure.
fn callers_view(named: Option<&str>) -> String {
    named.map_or_else(String::new, |named| {
        format!(" (it reports a failure of {named}, so it counts half against its writer)")
    })
}

/// A warning or error that puts the failure in a dependency without naming it ("an error
/// occurred in the downstream service", Envoy's "upstream connect error"): its writer is the
/// caller reporting it, like one that names the service.
fn blames_unnamed_dependency(t: &TemplateStat) -> bool {
    severity(t.worst_level) >= 2 && mentions_any_word(&t.sample, &["downstream", "upstream"])
}

/// Whether `text`, in any case, holds one of the lowercase `words` as a whole word.
fn mentions_any_word(text: &str, words: &[&str]) -> bool {
    let text = text.to_ascii_lowercase();
    words.iter().any(|w| mentions_word(&text, w))
}

/// Up to `radius` characters either side of the first occurrence of `needle`, with ellipses.
fn excerpt_around(text: &str, needle: &str, radius: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    let Some(at) = line.find(needle) else {
        return first_line(line, 2 * radius);
    };
    let before: Vec<char> = line[..at].chars().collect();
    let after: Vec<char> = line[at + needle.len()..].chars().collect();
    let start = before.len().saturating_sub(radius);
    let end = after.len().min(radius);
    format!(
        "{}{}{needle}{}{}",
        if start > 0 { "…" } else { "" },
        before[start..].iter().collect::<String>(),
        after[..end].iter().collect::<String>(),
        if end < after.len() { "…" } else { "" }
    )
}

/// `name` occurs in `text` as a whole word (not as part of a longer identifier), as written or
/// capitalised the way prose names a service ("the Cinder API" names `cinder`); other casings
/// ("API" for a service called `api`) do not count.
fn mentions_name(text: &str, name: &str) -> bool {
    let mut chars = name.chars();
    let capitalised: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    mentions_word(text, name) || (capitalised != name && mentions_word(text, &capitalised))
}

/// `word` occurs in `text` and is not part of a longer identifier.
fn mentions_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut start = 0;
    while let Some(i) = text[start..].find(word) {
        let at = start + i;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return true;
        }
        start = at + word.len();
    }
    false
}

/// Two message shapes from the same place in the code: most of their words (placeholders and
/// level words aside) are shared, as in `[getRoutes][Get Route By Ids][Success]` and
/// `[getRoutes][Get Route By Ids Failed]`.
fn siblings(a: &str, b: &str) -> bool {
    let words = |s: &str| -> std::collections::BTreeSet<String> {
        s.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | ',' | ':' | '(' | ')'))
            .filter(|w| !w.is_empty() && !w.contains("<*>") && text_level(w).is_none())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let shared = a.intersection(&b).count();
    let all = a.union(&b).count();
    all > 0 && shared as f64 >= SIBLING_SHARE * all as f64
}

/// Share of words two sibling messages have in common (Jaccard).
const SIBLING_SHARE: f64 = 0.6;

/// The level a word names, if it is one of the usual level words.
fn text_level(w: &str) -> Option<Level> {
    Level::parse(w).filter(|_| w.chars().all(|c| c.is_ascii_alphabetic()) && w.len() >= 4)
}

/// The key that identifies a message shape within a service.
fn template_label(s: &TemplateStat) -> String {
    match s.template_id {
        Some(id) => format!("t{id}"),
        None => mask_message(&s.sample),
    }
}

/// The code fault a new or bursting message suggests. A stack trace or exception text means an
/// exception. Any other message, error or not, comes from code that kept running on a value it
/// did not expect ("not found", "failed", a different branch): a wrong return value upstream.
fn code_fault(t: &TemplateStat) -> FaultType {
    if let Some(resource) = exhausted_resource(t) {
        return resource;
    }
    if mentions_exception(&t.sample) {
        FaultType::Exception
    } else {
        FaultType::WrongReturnValue
    }
}

/// The resource a warning or error says ran short or moved: memory (`OutOfMemoryError`,
/// "Cannot allocate memory", a memory alert) or CPU (a CPU alert, throttling). The starved code
/// may throw as well, but what it ran out of is the fault.
fn exhausted_resource(t: &TemplateStat) -> Option<FaultType> {
    if severity(t.worst_level) < 2 {
        return None;
    }
    let memory = ["memory", "mem", "outofmemoryerror", "oom", "oomkilled"];
    let cpu = ["cpu", "throttled", "throttling"];
    if mentions_any_word(&t.sample, &memory) {
        Some(FaultType::Memory)
    } else if mentions_any_word(&t.sample, &cpu) {
        Some(FaultType::Cpu)
    } else {
        None
    }
}

/// Exception text, or a line of a stack trace (some loggers write each frame as its own record).
fn mentions_exception(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    let t = l.trim_start();
    l.contains("exception")
        || l.contains("traceback")
        || l.contains("panic")
        || l.contains("caused by:")
        // Python frame: File "x.py", line 3, in f
        || (t.starts_with("file \"") && l.contains(", line "))
        // Java frame: at com.example.Foo.bar(Foo.java:42)
        || t.strip_prefix("at ").is_some_and(|rest| {
            rest.split_once('(').is_some_and(|(method, _)| {
                method.contains('.') && !method.contains(' ') && rest.ends_with(')')
            })
        })
        // Go: goroutine 7 [running]:
        || (t.starts_with("goroutine ") && l.contains('['))
}

pub(crate) fn strength(contribution: f64) -> f64 {
    1.0 - (-contribution / 4.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_frames_count_as_exceptions() {
        for frame in [
            r#"File "<*>", line <*>, in <*>"#,
            "  at com.example.Foo.bar(Foo.java:42)",
            "goroutine 7 [running]:",
            "Caused by: java.io.IOException: closed",
            "Traceback (most recent call last):",
        ] {
            assert!(mentions_exception(frame), "{frame}");
        }
        for line in [
            "[verifyCode][Get image code warn][Code not found]",
            "at least 3 replicas are needed (have 2)",
            "file saved, line count 3",
        ] {
            assert!(!mentions_exception(line), "{line}");
        }
    }
    use rootline_core::{Outcome, Provenance};

    const SECOND: i64 = 1_000_000_000;

    /// The findings about messages that stopped, for a window against a baseline.
    fn stopped_findings(win: &[LogRecord], base: &[LogRecord]) -> Vec<Finding> {
        log_findings(
            &aggregate(win, 3),
            &aggregate(base, 3),
            &LogSignalConfig::default(),
        )
        .into_iter()
        .filter(|f| f.evidence.id.starts_with("sig-vanished"))
        .collect()
    }

    fn rec(i: u64, ts: i64, service: &str, level: Level, message: &str) -> LogRecord {
        LogRecord {
            evidence_id: format!("log-{service}-{i}"),
            ts_ns: ts,
            service: service.into(),
            host: None,
            level,
            message: message.into(),
            template_id: None,
            trace_id: None,
            module: None,
            provenance: Provenance {
                source: "t".into(),
                line: i,
            },
        }
    }

    /// Steady traffic for three services, `n` records each, one a second.
    fn steady(n: u64, t0: i64) -> Vec<LogRecord> {
        let mut v = vec![];
        for i in 0..n {
            let ts = t0 + i as i64 * SECOND;
            v.push(rec(
                i,
                ts,
                "api",
                Level::Info,
                &format!("GET /orders/{i} 200"),
            ));
            v.push(rec(
                i,
                ts,
                "orders",
                Level::Info,
                &format!("loaded order {i}"),
            ));
            v.push(rec(i, ts, "db", Level::Info, &format!("query took {i}ms")));
        }
        v
    }

    /// Twenty routine lines of `service` in the baseline (from 0 s) and twenty in the window
    /// (from 100 s), record ids from `first_id`.
    fn routine(
        service: &str,
        message: &str,
        first_id: u64,
        baseline: &mut Vec<LogRecord>,
        window: &mut Vec<LogRecord>,
    ) {
        for k in 0..20 {
            let t = k as i64 * SECOND;
            baseline.push(rec(first_id + k, t, service, Level::Info, message));
            window.push(rec(
                first_id + 50 + k,
                100 * SECOND + t,
                service,
                Level::Info,
                message,
            ));
        }
    }

    #[test]
    fn quiet_window_is_no_incident() {
        let base = steady(100, 0);
        let win = steady(100, 1000);
        let s = analyse_logs(&win, &base, &LogSignalConfig::default());
        assert_eq!(
            s.outcome,
            Outcome::NoIncidentDetected,
            "{}",
            s.outcome_reason
        );
        assert!(s.candidates.is_empty());
    }

    #[test]
    fn new_errors_and_vanished_messages_point_at_the_culprit() {
        let base = steady(100, 0);
        let mut win = steady(100, 1000);
        // db starts throwing and stops logging its query times; api sees a few errors too.
        win.retain(|r| r.service != "db");
        for i in 0..100 {
            win.push(rec(
                1000 + i,
                1000 + i as i64,
                "db",
                Level::Error,
                &format!("java.sql.SQLException: lock wait timeout on row {i}"),
            ));
        }
        for i in 0..5 {
            win.push(rec(
                2000 + i,
                1000 + i as i64,
                "api",
                Level::Warn,
                &format!("upstream orders slow, retry {i}"),
            ));
        }
        let s = analyse_logs(&win, &base, &LogSignalConfig::default());
        assert_eq!(s.candidates[0].entity, "db");
        assert_eq!(s.candidates[0].fault_type, FaultType::Exception);
        assert_eq!(s.outcome, Outcome::ProbableCause, "{}", s.outcome_reason);
        // Every cited id exists in the evidence list, and examples are real record ids.
        for id in &s.candidates[0].evidence {
            let e = s
                .evidence
                .iter()
                .find(|e| &e.id == id)
                .expect("cited evidence exists");
            assert!(e.examples.iter().all(|x| x.starts_with("log-")));
        }
        assert!(
            s.evidence
                .iter()
                .any(|e| e.id.starts_with("sig-vanished") && e.entity == "db")
        );
        // Deterministic: same input, same output.
        let again = analyse_logs(&win, &base, &LogSignalConfig::default());
        assert_eq!(again.candidates, s.candidates);
    }

    /// Two thousand lines of a start-up dump in two seconds of the baseline are two events, not
    /// a steady rate: their absence from the window is no finding. The same count spread over
    /// the baseline's seconds is one.
    #[test]
    fn a_burst_that_does_not_recur_has_not_stopped() {
        let mut base = steady(200, 0);
        let mut win = steady(200, 1_000 * SECOND);
        for i in 0..2_000u64 {
            base.push(rec(
                10_000 + i,
                (i as i64 % 2) * SECOND,
                "orders",
                Level::Debug,
                &format!("option_{i} = value log_opt_values"),
            ));
        }
        for i in 0..40u64 {
            base.push(rec(
                20_000 + i,
                i as i64 * 5 * SECOND,
                "db",
                Level::Debug,
                &format!("vacuum of table t{i} done"),
            ));
        }
        // The window is as long and as busy: filler so that the scale is the same.
        for i in 0..2_040u64 {
            win.push(rec(
                30_000 + i,
                1_000 * SECOND + (i as i64 % 200) * SECOND,
                "api",
                Level::Info,
                &format!("GET /health/{i} 200"),
            ));
        }
        assert!(
            aggregate(&base, 3)
                .iter()
                .any(|t| t.service == "orders" && t.count == 2_000),
            "the dump is one message"
        );
        let findings = stopped_findings(&win, &base);
        let stopped: Vec<&str> = findings
            .iter()
            .map(|f| f.evidence.entity.as_str())
            .collect();
        assert_eq!(stopped, ["db"], "{findings:#?}");
    }

    /// A routine message that comes back in another form (a request context filled in) as
    /// often as it used to come has not stopped.
    #[test]
    fn a_reworded_routine_message_has_not_stopped() {
        // 60 debug lines of compute, one a second from `t0`, ids from `id0`.
        let minute_of = |id0: u64, t0: i64, text: &dyn Fn(u64) -> String| -> Vec<LogRecord> {
            (0..60u64)
                .map(|i| {
                    rec(
                        id0 + i,
                        (t0 + i as i64) * SECOND,
                        "compute",
                        Level::Debug,
                        &text(i),
                    )
                })
                .collect()
        };
        let base = minute_of(0, 0, &|i| {
            format!("[req-{i} - - - - -] Running periodic task _poll_{i} run_periodic_tasks")
        });
        let reworded = minute_of(100, 1_000, &|i| {
            format!(
                "[req-{i} admin demo - default default] Running periodic task _poll_{i} run_periodic_tasks"
            )
        });
        let findings = stopped_findings(&reworded, &base);
        assert!(findings.is_empty(), "{findings:#?}");
        // Gone without a replacement, it has stopped.
        let other = minute_of(200, 1_000, &|i| format!("heartbeat {i} sent"));
        let findings = stopped_findings(&other, &base);
        assert!(!findings.is_empty(), "{findings:#?}");
    }

    /// Untraced messages that were always written in the same seconds and all stopped are one
    /// request type that no longer comes: one finding, which says how many went with it.
    #[test]
    fn untraced_messages_that_stopped_together_count_once() {
        let mut base = steady(200, 0);
        for i in 0..40u64 {
            let ts = i as i64 * 5 * SECOND;
            base.push(rec(
                10_000 + i,
                ts,
                "meta",
                Level::Info,
                &format!("accepted client {i}"),
            ));
            base.push(rec(
                20_000 + i,
                ts,
                "meta",
                Level::Info,
                &format!("Request: GET /latest/{i}"),
            ));
        }
        for i in 0..40u64 {
            // Another message of the same service at other seconds stays a finding of its own.
            base.push(rec(
                30_000 + i,
                i as i64 * 5 * SECOND + 2 * SECOND,
                "meta",
                Level::Info,
                &format!("lease renewed {i}"),
            ));
        }
        let stopped = stopped_findings(&steady(200, 1_000 * SECOND), &base);
        assert_eq!(stopped.len(), 2, "{stopped:#?}");
        assert!(
            stopped.iter().any(|f| f
                .evidence
                .summary
                .contains("(with 1 more message(s) written in the same seconds)")),
            "{stopped:#?}"
        );
    }

    /// Requests that stop arriving at a service that logs no problem of its own count half: its
    /// callers may simply have stopped calling. With an error of its own they count in full.
    #[test]
    fn requests_that_stopped_arriving_count_half_without_a_problem_of_its_own() {
        let mut base = steady(200, 0);
        for i in 0..40u64 {
            base.push(rec(
                10_000 + i,
                i as i64 * 5 * SECOND,
                "meta",
                Level::Info,
                &format!("\"GET /latest/meta-data/{i} HTTP/1.1\" status: 200 len: 120"),
            ));
            base.push(rec(
                11_000 + i,
                i as i64 * 5 * SECOND + 1,
                "meta",
                Level::Debug,
                &format!("periodic sync {i} done"),
            ));
        }
        let quiet = steady(200, 1_000 * SECOND);
        let mut failing = quiet.clone();
        failing.push(rec(
            20_000,
            1_010 * SECOND,
            "meta",
            Level::Error,
            "Unhandled error in sync: KeyError 'port'",
        ));
        let (q, f) = (
            stopped_findings(&quiet, &base),
            stopped_findings(&failing, &base),
        );
        assert_eq!((q.len(), f.len()), (1, 1), "{q:#?} {f:#?}");
        assert!(q[0].evidence.summary.contains("counts half"), "{q:#?}");
        assert!(!f[0].evidence.summary.contains("counts half"), "{f:#?}");
        // One more record in the failing window moves the volume scale a little.
        let ratio = f[0].contribution / q[0].contribution;
        assert!((ratio - 2.0).abs() < 0.01, "{ratio}");
        assert!(logs_inbound_request("[-] Request: GET <*> <*>"));
        assert!(logs_inbound_request(
            "10.0.0.1 \"POST /v2/servers HTTP/1.1\" 202"
        ));
        assert!(!logs_inbound_request("GET route by ids failed"));
    }

    /// Without an access line or trace ids nothing shows that requests still arrive, so an
    /// untraced message that stopped at a service with no problem of its own counts half too; a
    /// traced one (its requests known) keeps its weight.
    #[test]
    fn only_traced_silence_keeps_its_weight_without_a_problem() {
        let stopped_weight = |traced: bool| -> (f64, String) {
            let mut base = steady(200, 0);
            for i in 0..40u64 {
                let mut r = rec(
                    10_000 + i,
                    i as i64 * 5 * SECOND,
                    "route",
                    Level::Info,
                    &format!("[getRouteByIds][Get Route By Ids Success] route {i}"),
                );
                if traced {
                    r.trace_id = Some(format!("trace-{i}"));
                }
                base.push(r);
            }
            let f = stopped_findings(&steady(200, 1_000 * SECOND), &base)
                .into_iter()
                .next()
                .expect("the message stopped");
            (f.contribution, f.evidence.summary)
        };
        let (traced, traced_summary) = stopped_weight(true);
        let (untraced, untraced_summary) = stopped_weight(false);
        assert!(!traced_summary.contains("counts half"), "{traced_summary}");
        assert!(
            untraced_summary.contains("counts half"),
            "{untraced_summary}"
        );
        assert!(
            (traced / untraced - 2.0).abs() < 1e-9,
            "{traced} {untraced}"
        );
    }

    /// A success message that stops while its failure sibling appears is a different branch
    /// taken (a wrong value), not a cut-short path (an exception).
    #[test]
    fn a_message_replaced_by_its_failure_sibling_is_a_wrong_value() {
        assert!(siblings(
            "<*> INFO f.m.s.BasicServiceImpl#<*> TraceID: <*> [getRoutesByRouteIds][Get Route By Ids][Success]",
            "<*> ERROR f.m.s.BasicServiceImpl#<*> TraceID: <*> [getRoutesByRouteIds][Get Route By Ids Failed]"
        ));
        assert!(!siblings(
            "<*> INFO f.m.s.BasicServiceImpl#<*> TraceID: <*> [getRoutesByRouteIds][Get Route By Ids][Success]",
            "<*> ERROR f.m.s.BasicServiceImpl#<*> TraceID: <*> [queryForTravel][catch price exception]"
        ));
        let routes = |i: u64, t0: i64, level: Level, text: &str| {
            rec(
                7_000 + i + t0 as u64,
                t0 + i as i64,
                "basic",
                level,
                &format!("[getRoutesByRouteIds][Get Route By Ids{text}] route {i}"),
            )
        };
        let mut base = steady(100, 0);
        let mut win = steady(100, 1000);
        for i in 0..40 {
            base.push(routes(i, 0, Level::Info, "][Success"));
        }
        // Few failures: the stopped message alone outweighs them, so its reading decides.
        for i in 0..3 {
            win.push(routes(i, 1000, Level::Error, " Failed"));
        }
        let s = analyse_logs(&win, &base, &LogSignalConfig::default());
        assert_eq!(s.candidates[0].entity, "basic");
        assert_eq!(s.candidates[0].fault_type, FaultType::WrongReturnValue);
        // The same success message stopping next to an unrelated error: cut short.
        let mut win = steady(100, 1000);
        for i in 0..3 {
            win.push(rec(
                8_000 + i,
                1000 + i as i64,
                "basic",
                Level::Error,
                "java.lang.NullPointerException at price lookup",
            ));
        }
        let s = analyse_logs(&win, &base, &LogSignalConfig::default());
        assert_eq!(s.candidates[0].entity, "basic");
        assert_eq!(s.candidates[0].fault_type, FaultType::Exception);
    }

    /// A trace through the service's own code weighs more than the bare message, and more when
    /// the service's own code raised it than when a library it called did.
    #[test]
    fn own_raised_traces_weigh_most() {
        let stat = |frames: &[&str]| TemplateStat {
            service: "neutron".into(),
            template_id: Some(1),
            count: 1,
            errors: 1,
            warnings: 0,
            worst_level: Level::Error,
            first_ns: 0,
            last_ns: 0,
            examples: vec![],
            sample: String::new(),
            hosts: vec![],
            modules: vec![],
            frames: frames.iter().map(|f| f.to_string()).collect(),
            traces: vec![],
            seconds: vec![],
        };
        let own = Some("neutron".to_string());
        let bare = trace_weight(&stat(&[]), own.as_ref());
        let raised_in_own_code = trace_weight(
            &stat(&["neutron.plugins.ml2.plugin", "neutron.db.api"]),
            own.as_ref(),
        );
        let raised_in_a_library = trace_weight(
            &stat(&["libvirt", "neutron.plugins.ml2.plugin", "neutron.db.api"]),
            own.as_ref(),
        );
        assert_eq!(bare, 1.0);
        assert!(raised_in_own_code > raised_in_a_library && raised_in_a_library > bare);
        assert!(raised_in_own_code < 2.0);
    }

    /// A service that fails as much as it always did changes nothing: it is listed after every
    /// candidate with a change, weighs nothing in the outcome, and is the only lead when
    /// nothing changed.
    #[test]
    fn chronic_errors_rank_last_and_decide_nothing() {
        let chronic = |t0: i64| {
            (0..20)
                .map(|i| {
                    rec(
                        5_000 + i + t0 as u64,
                        t0 + i as i64,
                        "cache",
                        Level::Error,
                        "eviction failed: out of memory",
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut base = steady(100, 0);
        base.extend(chronic(0));
        let mut quiet = steady(100, 1000);
        quiet.extend(chronic(1000));
        let s = analyse_logs(&quiet, &base, &LogSignalConfig::default());
        assert_eq!(
            s.outcome,
            Outcome::NoIncidentDetected,
            "{}",
            s.outcome_reason
        );
        assert_eq!(s.candidates.len(), 1);
        assert_eq!(s.candidates[0].entity, "cache");
        assert!(
            s.candidates[0].why.starts_with("no change"),
            "{}",
            s.candidates[0].why
        );
        assert!(s.candidates[0].score < 0.5);

        // The same chronic errors next to a real change: the change leads and stays decisive.
        let mut win = quiet.clone();
        for i in 0..50 {
            win.push(rec(
                9_000 + i,
                1000 + i as i64,
                "db",
                Level::Error,
                &format!("java.sql.SQLException: lock wait timeout on row {i}"),
            ));
        }
        let s = analyse_logs(&win, &base, &LogSignalConfig::default());
        assert_eq!(s.candidates[0].entity, "db");
        assert_eq!(s.outcome, Outcome::ProbableCause, "{}", s.outcome_reason);
        assert_eq!(s.candidates.last().unwrap().entity, "cache");
        // A service with a change gets no background finding of its own.
        assert!(
            !s.evidence
                .iter()
                .any(|e| e.entity == "db" && e.id.starts_with("sig-background"))
        );
    }

    #[test]
    fn names_in_new_errors_blame_the_named_service() {
        assert!(mentions_name(
            "No instances available for ts-basic-service]",
            "ts-basic-service"
        ));
        assert!(!mentions_name(
            "ts-basic-service-2 down",
            "ts-basic-service"
        ));
        assert!(!mentions_name("my_orders failed", "orders"));
        let base = steady(100, 0);
        let mut win = steady(100, 1000);
        for i in 0..20 {
            win.push(rec(
                3000 + i,
                1000 + i as i64,
                "api",
                Level::Error,
                "No instances available for orders",
            ));
        }
        let findings = log_findings(
            &aggregate(&win, 3),
            &aggregate(&base, 3),
            &LogSignalConfig::default(),
        );
        let blame: Vec<_> = findings
            .iter()
            .filter(|f| f.evidence.kind == EvidenceKind::NamedInErrors)
            .collect();
        assert_eq!(blame.len(), 1);
        assert_eq!(blame[0].evidence.entity, "orders");
        assert!(blame[0].evidence.summary.starts_with("api names orders"));

        // The same 20 errors when the baseline already had 8 of them: the message only rose
        // 2.5×, and the blame weighs by that rise, not by the count.
        let mut base_with = base.clone();
        for i in 0..8 {
            base_with.push(rec(
                4000 + i,
                i as i64,
                "api",
                Level::Error,
                "No instances available for orders",
            ));
        }
        let bursting = log_findings(
            &aggregate(&win, 3),
            &aggregate(&base_with, 3),
            &LogSignalConfig::default(),
        );
        let burst_blame = bursting
            .iter()
            .find(|f| f.evidence.kind == EvidenceKind::NamedInErrors)
            .expect("a bursting error still blames");
        assert!(burst_blame.evidence.summary.contains("bursting"));
        assert!(
            burst_blame.contribution < 0.5 * blame[0].contribution,
            "{} vs {}",
            burst_blame.contribution,
            blame[0].contribution
        );
    }

    /// A payment service writes "charge started" and "charge done" in every request, once a
    /// second. In the window (which opened a minute before the fault) "charge done" stops at
    /// 260 s while requests keep coming: it stopped partway. Untraced, or with the whole
    /// service falling silent, the same stop says nothing.
    #[test]
    fn a_traced_message_that_stops_partway_while_requests_go_on_has_stopped() {
        let pay = |traced: bool, silent_after_stop: bool| {
            let (mut base, mut win) = (vec![], vec![]);
            let push = |v: &mut Vec<LogRecord>, i: u64, t: i64, msg: &str| {
                let mut r = rec(i, t * SECOND, "pay", Level::Info, msg);
                r.trace_id = traced.then(|| format!("trace-{t}"));
                v.push(r);
            };
            for t in 0..120i64 {
                push(&mut base, 2 * t as u64, t, "charge started");
                push(&mut base, 2 * t as u64 + 1, t, "charge done");
            }
            for t in 200..320i64 {
                if silent_after_stop && t >= 260 {
                    break;
                }
                push(&mut win, 1000 + 2 * t as u64, t, "charge started");
                if t < 260 {
                    push(&mut win, 1001 + 2 * t as u64, t, "charge done");
                }
            }
            stopped_findings(&win, &base)
                .into_iter()
                .filter(|f| f.evidence.summary.contains("stopped writing a message at"))
                .collect::<Vec<_>>()
        };
        let found = pay(true, false);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].evidence.entity, "pay");
        assert_eq!(found[0].evidence.first_seen_ns, 259 * SECOND);
        assert!(found[0].evidence.summary.contains("charge done"));
        assert!(
            pay(false, false).is_empty(),
            "untraced: the callers may have stopped"
        );
        assert!(pay(true, true).is_empty(), "the whole service fell silent");
    }

    #[test]
    fn empty_window_and_missing_baseline() {
        let s = analyse_logs(&[], &steady(10, 0), &LogSignalConfig::default());
        assert_eq!(s.outcome, Outcome::NoData);
        // No baseline and nothing but routine messages: ranked from the window alone, and
        // nothing stands out (never a probable cause).
        let s = analyse_logs(&steady(10, 0), &[], &LogSignalConfig::default());
        assert_eq!(s.outcome, Outcome::NoIncidentDetected);
        assert!(
            s.outcome_reason
                .starts_with("no baseline: ranked from the window alone"),
            "{}",
            s.outcome_reason
        );
    }

    /// A cinder volume service whose own code raises deep inside, logged by a library's
    /// dispatcher: the innermost frame of cinder's own code that is not plumbing (a helpers
    /// module that ran the command it was handed) is the module named first; the outer own
    /// frames, then the plumbing frame, then the logger follow; library frames and the module
    /// of a new routine message do not count.
    #[test]
    fn modules_point_at_the_innermost_own_frame() {
        let traceback = "Exception during message handling\nTraceback (most recent call last):\n  \
File \"/usr/lib/python2.7/site-packages/oslo_messaging/rpc/server.py\", line 160, in _process\n  \
File \"/usr/lib/python2.7/site-packages/cinder/volume/manager.py\", line 5, in copy\n  \
File \"/usr/lib/python2.7/site-packages/cinder/image/image_utils.py\", line 285, in fetch\n  \
File \"/usr/lib/python2.7/site-packages/cinder/utils.py\", line 123, in execute\n  \
File \"/usr/lib/python2.7/site-packages/oslo_concurrency/processutils.py\", line 419, in execute\n\
ProcessExecutionError: Unexpected error";
        let with_module = |mut r: LogRecord, m: &str| {
            r.module = Some(m.to_string());
            r
        };
        let mut baseline = vec![];
        let mut window = vec![];
        for i in 0..200 {
            let (set, t0) = if i < 100 {
                (&mut baseline, 0)
            } else {
                (&mut window, 1_000)
            };
            set.push(with_module(
                rec(
                    i,
                    t0 + i as i64,
                    "cinder",
                    Level::Info,
                    &format!("volume {i} created"),
                ),
                "cinder.volume.manager",
            ));
            set.push(with_module(
                rec(
                    1_000 + i,
                    t0 + i as i64,
                    "cinder",
                    Level::Debug,
                    &format!("rpc call {i} dispatched"),
                ),
                "oslo_messaging.rpc.server",
            ));
        }
        for i in 0..5 {
            window.push(with_module(
                rec(
                    2_000 + i,
                    1_100 + i as i64,
                    "cinder",
                    Level::Error,
                    traceback,
                ),
                "oslo_messaging.rpc.server",
            ));
            window.push(with_module(
                rec(
                    3_000 + i,
                    1_100 + i as i64,
                    "cinder",
                    Level::Info,
                    &format!("backup {i} scheduled"),
                ),
                "cinder.backup.api",
            ));
        }
        let ranking = analyse_logs(&window, &baseline, &LogSignalConfig::default());
        let top = &ranking.candidates[0];
        assert_eq!(top.entity, "cinder");
        assert_eq!(
            top.modules,
            [
                "cinder.image.image_utils",
                "cinder.volume.manager",
                "cinder.utils",
                "oslo_messaging.rpc.server"
            ],
            "{top:#?}"
        );
        assert!(!top.modules.iter().any(|m| m == "cinder.backup.api"));
        // The same error without its stack trace counts less.
        let plain: Vec<LogRecord> = window
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.message = r.message.lines().next().unwrap().to_string();
                r
            })
            .collect();
        let without = analyse_logs(&plain, &baseline, &LogSignalConfig::default());
        assert!(
            without.candidates[0].score < top.score,
            "{} vs {}",
            without.candidates[0].score,
            top.score
        );
    }

    /// Prose names a service capitalised ("the Cinder API"); other casings, and a name inside a
    /// longer identifier, do not name it.
    #[test]
    fn a_service_is_named_as_written_or_capitalised() {
        let text = "The support for the Cinder API v2 is deprecated: InvalidInput";
        assert!(mentions_name(text, "cinder"));
        assert!(mentions_name("connection to cinder refused", "cinder"));
        assert!(
            !mentions_name(text, "api"),
            "\"API\" is not the service api"
        );
        assert!(!mentions_name("cinder-volume restarted", "cinder"));
        assert!(!mentions_name("CINDER down", "cinder"));
        assert!(mentions_name(
            "ts-order-service timed out",
            "ts-order-service"
        ));
    }

    /// One new message at three services is a shared symptom: each of them counts a third of a
    /// message only one service writes. At three pods of one service it is that service's own.
    #[test]
    fn a_message_new_at_many_services_counts_less_at_each() {
        let mut baseline = Vec::new();
        let mut window = Vec::new();
        let writers = ["cart-0", "cart-1", "cart-2", "shipping-0"];
        for (n, writer) in writers.iter().enumerate() {
            let i = n as u64 * 100;
            routine(writer, "served request", i, &mut baseline, &mut window);
            let message = if writer.starts_with("cart") {
                "metric alert: container memory usage MB up"
            } else {
                "metric alert: container fs reads up"
            };
            window.push(rec(i + 90, 130 * SECOND, writer, Level::Warn, message));
        }
        let new_at = |findings: &[Finding], entity: &str| {
            findings
                .iter()
                .find(|f| f.evidence.entity == entity && f.evidence.id.starts_with("sig-new"))
                .map(|f| (f.contribution, f.evidence.summary.clone()))
                .unwrap_or_else(|| panic!("no new-message finding at {entity}"))
        };
        let config = LogSignalConfig::default();
        let (window, baseline) = (aggregate(&window, 3), aggregate(&baseline, 3));

        // Without a topology every pod is its own service: three writers share the message.
        let findings = log_findings(&window, &baseline, &config);
        let (shared, summary) = new_at(&findings, "cart-0");
        let (own, own_summary) = new_at(&findings, "shipping-0");
        assert!((own / shared - 3.0).abs() < 1e-9, "{own} vs {shared}");
        assert!(summary.contains("changed at 3 services"), "{summary}");
        assert!(!own_summary.contains("changed at"), "{own_summary}");

        // With the pods' service known, the three pods are one service.
        let mut graph = ServiceGraph::default();
        for pod in ["cart-0", "cart-1", "cart-2"] {
            graph.members.insert(pod.into(), "cart".into());
        }
        let findings = log_findings_in(&window, &baseline, &config, Some(&graph));
        let (one_service, summary) = new_at(&findings, "cart-0");
        assert!((one_service - own).abs() < 1e-9, "{one_service} vs {own}");
        assert!(!summary.contains("changed at"), "{summary}");
    }

    /// A caller that says its dependency failed, without naming it, is reporting a symptom: its
    /// message counts half, like one that names the failing service.
    #[test]
    fn a_message_blaming_an_unnamed_dependency_counts_half() {
        let mut baseline = Vec::new();
        let mut window = Vec::new();
        let problems = [
            ("web", "an error occurred in the downstream service"),
            (
                "proxy",
                "upstream connect error or disconnect/reset before headers",
            ),
            ("db", "permission denied for relation users"),
        ];
        for (n, (service, problem)) in problems.iter().enumerate() {
            let i = n as u64 * 100;
            routine(service, "handled request", i, &mut baseline, &mut window);
            for k in 0..5 {
                window.push(rec(
                    i + 80 + k,
                    (130 + k as i64) * SECOND,
                    service,
                    Level::Error,
                    problem,
                ));
            }
        }
        let findings = log_findings(
            &aggregate(&window, 3),
            &aggregate(&baseline, 3),
            &LogSignalConfig::default(),
        );
        let new_at = |entity: &str| {
            findings
                .iter()
                .find(|f| f.evidence.entity == entity && f.evidence.id.starts_with("sig-new"))
                .unwrap_or_else(|| panic!("no new-message finding at {entity}"))
        };
        let own = new_at("db");
        assert!(!own.evidence.summary.contains("reports a failure"));
        for caller in ["web", "proxy"] {
            let reported = new_at(caller);
            assert!(
                (own.contribution / reported.contribution - 2.0).abs() < 1e-9,
                "{caller}: {} vs {}",
                reported.contribution,
                own.contribution
            );
            assert!(
                reported
                    .evidence
                    .summary
                    .contains("reports a failure of a service it calls"),
                "{}",
                reported.evidence.summary
            );
        }
    }

    /// A warning or error about memory or CPU names that resource as the fault, even when the
    /// starved code threw; other problems keep their code-fault type.
    #[test]
    fn a_problem_naming_memory_or_cpu_is_that_resource() {
        let stat = |level: Level, sample: &str| {
            aggregate(&[rec(1, SECOND, "cart", level, sample)], 3).remove(0)
        };
        for (sample, fault) in [
            (
                "java.lang.OutOfMemoryError: Java heap space",
                FaultType::Memory,
            ),
            (
                "metric alert: docker memory usage pct up",
                FaultType::Memory,
            ),
            ("metric alert: system mem used up", FaultType::Memory),
            ("container was OOMKilled", FaultType::Memory),
            (
                "metric alert: container cpu usage seconds up",
                FaultType::Cpu,
            ),
            ("request handler throttled for 200ms", FaultType::Cpu),
            (
                "NullPointerException at com.example.Cart.total",
                FaultType::Exception,
            ),
            ("order not found", FaultType::WrongReturnValue),
            // A word that only contains a resource name does not name it.
            (
                "memoryless retry policy rejected",
                FaultType::WrongReturnValue,
            ),
        ] {
            assert_eq!(code_fault(&stat(Level::Error, sample)), fault, "{sample}");
        }
        // Routine lines that mention memory describe the service, not a fault.
        assert_eq!(
            code_fault(&stat(Level::Info, "memory cache warmed")),
            FaultType::WrongReturnValue
        );
    }
}
