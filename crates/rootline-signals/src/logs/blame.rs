//! Callers report callees: a warning or error that names another service blames it (and counts
//! half against its writer); one that blames an unnamed dependency counts half and blames no one.

use super::*;

/// Callers blame their callees by name: "No instances available for payments", "connection to
/// orders-db refused". When an error or warning that is new or bursting in one service names
/// another service seen in the data, that is evidence against the named service.
pub(super) fn blame_findings(
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
pub(super) fn known_services<'a>(
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
pub(super) fn named_callee<'a>(t: &TemplateStat, services: &[&'a str]) -> Option<&'a str> {
    if severity(t.worst_level) < 2 || mentions_name(&t.sample, &t.service) {
        return None;
    }
    other_services_named(t, services).next()
}

/// The services other than its writer that a message names.
pub(super) fn other_services_named<'a, 's>(
    t: &'s TemplateStat,
    services: &'s [&'a str],
) -> impl Iterator<Item = &'a str> + 's {
    services
        .iter()
        .filter(move |named| **named != t.service && mentions_name(&t.sample, named))
        .copied()
}

/// How a finding says that its message reports another service's failure.
pub(super) fn callers_view(named: Option<&str>) -> String {
    named.map_or_else(String::new, |named| {
        format!(" (it reports a failure of {named}, so it counts half against its writer)")
    })
}

/// A warning or error that puts the failure in a dependency without naming it ("an error
/// occurred in the downstream service", Envoy's "upstream connect error"): its writer is the
/// caller reporting it, like one that names the service.
pub(super) fn blames_unnamed_dependency(t: &TemplateStat) -> bool {
    severity(t.worst_level) >= 2 && mentions_any_word(&t.sample, &["downstream", "upstream"])
}
