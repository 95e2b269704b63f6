//! Request paths: messages of one service written in the same requests count once, messages
//! that may have stopped only because callers stopped calling count less, and a code path cut
//! short between two statements of one request is found from the trace sketches.

use super::*;

/// One finding per request path: messages of one service written in the same requests (≥
/// [`PAIR_SHARED_REQUESTS`] of their traces shared) are one code path that started, grew or
/// stopped as a whole, so they count once, as their strongest message, which names how many
/// more went with it. A dozen lines of one new request type are not a dozen pieces of evidence.
/// With `by_seconds`, untraced messages go together when they were written in the same seconds
/// (≥ [`PAIR_SHARED_REQUESTS`] of their seconds shared): used for messages that stopped, where
/// a request type that no longer comes (a guest that never booted no longer fetches its
/// metadata) silences every line it used to write at once. New untraced messages stay apart:
/// on alert data, alerts of one entity in one second are separate detectors' findings.
pub(super) fn one_per_request_path(
    findings: Vec<(Finding, &TemplateStat)>,
    by_seconds: bool,
) -> Vec<Finding> {
    request_paths(findings, by_seconds)
        .into_iter()
        .map(|(finding, _)| finding)
        .collect()
}

/// [`one_per_request_path`], with whether one of each path's messages may have stopped only
/// because requests stopped coming: an inbound request line ([`logs_inbound_request`]), or a
/// message without trace ids.
pub(super) fn request_paths(
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
pub(super) fn quiet_without_problems(mut finding: Finding, share: f64) -> Finding {
    finding.contribution *= share;
    finding.evidence.strength = strength(finding.contribution);
    finding.evidence.summary.push_str(
        "; it logs no problem of its own and nothing shows that requests still reach it, so its callers' failure explains the silence as well: it counts half",
    );
    finding
}

/// An access-log line: an HTTP method followed by a path or URL (`"GET /v2/servers HTTP/1.1"
/// status: 200`, `Request: GET <*>`).
pub(super) fn logs_inbound_request(message: &str) -> bool {
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
pub(super) const MIN_PAIRED: u64 = 8;

/// How far apart two baseline counts may be for the messages to count as one code path.
pub(super) const PAIR_TOLERANCE: f64 = 0.1;

/// Share of their requests (traces) two messages must have written together in the baseline to
/// count as one code path.
pub(super) const PAIR_SHARED_REQUESTS: f64 = 0.8;

/// Code paths cut short: two messages of one logger that the baseline writes in the same
/// requests (one follows the other), where the later one falls behind in the window. The first
/// still runs, so nothing stopped and nothing is new; what broke sits between them (an exception
/// thrown, a call that returned early). The pair must share its requests by trace id: two
/// endpoints that merely run as often are not one path, and a workload shift between them is
/// not a fault. Records without trace ids make no pairs.
pub(super) fn cut_path_findings(
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
