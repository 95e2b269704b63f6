//! Messages that stopped: a code path that no longer runs. A routine message is missing from the
//! whole window, or (traced, while its service went on serving requests) stopped partway through
//! it; the same message living on in another form, or as a sibling warning, decides what it
//! means.

use super::*;

/// A baseline message that stopped: missing from the whole window, or (`partway`: its window
/// stats) last written before its service's last traced record. `expected` is what the
/// baseline predicts for the silent stretch.
pub(super) struct Stop<'a> {
    key: &'a (String, String),
    base: &'a TemplateStat,
    expected: f64,
    partway: Option<&'a TemplateStat>,
}

/// The messages of the baseline that stopped in the window, each with the template it is about,
/// before messages of one request path are grouped. `unusual_problems` are the window's new or
/// bursting warnings and errors (a sibling among them means the code took another branch);
/// `routine_surplus` the routine messages with their surplus over the baseline (a stopped message
/// may live on in one of them).
pub(super) fn stopped_messages<'a>(
    window: &'a [TemplateStat],
    win: &'a BTreeMap<(String, String), &'a TemplateStat>,
    base: &'a HashMap<(String, String), &'a TemplateStat>,
    scale: f64,
    unusual_problems: &[&TemplateStat],
    routine_surplus: &[(&TemplateStat, f64)],
    config: &LogSignalConfig,
) -> Vec<(Finding, &'a TemplateStat)> {
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
    stopped
}
