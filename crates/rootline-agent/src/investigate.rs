//! One investigation: retrieve, compare, rank, report.

use std::sync::Arc;

use rootline_core::sketch::{SECONDS_SKETCH_SIZE, TRACE_SKETCH_SIZE, sketch_union};
use rootline_core::time::format_ns;
use std::collections::BTreeMap;

use rootline_core::{
    ChangeEvent, Incident, Outcome, Report, TemplateStat, TraceAggregates, WindowStats,
};
use rootline_index::metrics::MetricIndex;
use rootline_index::spans::SpanIndex;
use rootline_index::{Filter, IndexError, LogIndex};
use rootline_signals::RankConfig;
use rootline_signals::onset::OnsetConfig;
use rootline_signals::{
    ChangeSignalConfig, LogSignalConfig, MetricSignalConfig, RankContext, TraceSignalConfig,
    change_findings, log_findings_in, metric_findings_in, rank, trace_findings,
};
use rootline_templates::{TemplateId, TemplateMiner};

#[derive(Debug, thiserror::Error)]
pub enum InvestigateError {
    #[error("invalid incident: {0}")]
    Incident(#[from] rootline_core::IncidentError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("investigation task failed: {0}")]
    Join(String),
}

/// Investigates `incident` against what the index holds. Deterministic: the same index and
/// incident give the same candidates in the same order.
pub async fn investigate(
    sources: Sources,
    templates: Arc<TemplateMiner>,
    incident: Incident,
    config: EngineConfig,
) -> Result<Report, InvestigateError> {
    incident.validate()?;
    // One span per investigation, with a child per phase (exported over OTLP when configured):
    // ids, counts and the outcome only, never a title, a log line or evidence text.
    let span = tracing::info_span!(
        "investigation",
        rootline.incident.id = %incident.id,
        rootline.outcome = tracing::field::Empty,
        rootline.candidates = tracing::field::Empty,
        rootline.window_records = tracing::field::Empty,
    );
    let inner = span.clone();
    let report = tokio::task::spawn_blocking(move || {
        let _entered = inner.enter();
        investigate_blocking(&sources, &templates, incident, &config)
    })
    .await
    .map_err(|e| InvestigateError::Join(e.to_string()))??;
    span.record("rootline.outcome", format!("{:?}", report.outcome));
    span.record("rootline.candidates", report.candidates.len() as u64);
    span.record("rootline.window_records", report.stats.window_records);
    Ok(report)
}

/// Where an investigation reads from. Only logs are required.
#[derive(Clone)]
pub struct Sources {
    pub logs: Arc<LogIndex>,
    pub spans: Option<Arc<SpanIndex>>,
    pub metrics: Option<Arc<MetricIndex>>,
    /// Deploys, flag flips, config changes around the incident (from the store or a bundle).
    pub changes: Vec<ChangeEvent>,
    /// The system's declared topology (a bundle's `topology.json`): joins the traced call graph
    /// and names each pod's service for the ranking.
    pub topology: Option<rootline_core::observation::Topology>,
    /// Kubernetes objects and events as observed (a bundle's `k8s/`, the data dir's cluster
    /// state from `ingest --kind k8s` or `serve --kube`).
    pub cluster: Vec<rootline_core::k8s::StateItem>,
}

/// The thresholds of every signal. One configuration for every dataset; read from TOML with
/// [`EngineConfig::from_toml`] (every field optional: what a file leaves out keeps its default).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    pub logs: LogSignalConfig,
    pub traces: TraceSignalConfig,
    pub changes: ChangeSignalConfig,
    pub metrics: MetricSignalConfig,
    /// Metrics are sparse (often one point a minute): their baseline is this long stretch before
    /// the start rather than the incident's (shorter) log baseline windows.
    pub metric_baseline_ns: i64,
    /// Left out between the metric baseline and the start, where a fault may already show.
    pub metric_gap_ns: i64,
    /// The onset search: where the compared window starts.
    pub onset: OnsetConfig,
    /// Kubernetes cluster state as evidence.
    pub cluster: rootline_signals::ClusterSignalConfig,
    /// How findings add up into candidates, and when one is decisive.
    pub rank: RankConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            logs: LogSignalConfig::default(),
            traces: TraceSignalConfig::default(),
            changes: ChangeSignalConfig::default(),
            metrics: MetricSignalConfig::default(),
            metric_baseline_ns: 30 * 60 * 1_000_000_000,
            metric_gap_ns: 60 * 1_000_000_000,
            onset: OnsetConfig::default(),
            cluster: rootline_signals::ClusterSignalConfig::default(),
            rank: RankConfig::default(),
        }
    }
}

impl EngineConfig {
    /// Parses an engine configuration file; unknown keys are errors that name them.
    pub fn from_toml(text: &str) -> Result<EngineConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads [`EngineConfig::from_toml`] from `path`; the error names the file.
    pub fn load(path: &std::path::Path) -> Result<EngineConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl From<LogSignalConfig> for EngineConfig {
    fn from(logs: LogSignalConfig) -> EngineConfig {
        EngineConfig {
            logs,
            ..Default::default()
        }
    }
}

fn investigate_blocking(
    sources: &Sources,
    templates: &TemplateMiner,
    incident: Incident,
    engine: &EngineConfig,
) -> Result<Report, InvestigateError> {
    let effective = tracing::info_span!("onset")
        .in_scope(|| crate::onset::effective_window(sources, templates, &incident, engine))?;
    let (start, end) = effective.window;
    let baselines = effective.baselines.clone();
    let Analysis {
        mut signals,
        mut window,
        window_records,
        baseline_records,
    } = tracing::info_span!("signals").in_scope(|| {
        analyse(
            sources,
            templates,
            engine,
            (start, end),
            &baselines,
            &subject_of(&incident),
        )
    })?;
    let widened = match signals.outcome {
        Outcome::ProbableCause => None,
        _ => tracing::info_span!("widened").in_scope(|| {
            crate::onset::widened_look(sources, templates, &incident, engine, (start, end))
        })?,
    };
    // Where the ranked evidence was looked for: the declared window, or the wider look's.
    let mut looked_from = start;
    if let Some((w_start, wide)) = widened {
        // The wider look orders the suspects; the outcome stays the declared window's.
        looked_from = w_start;
        signals.candidates = wide.signals.candidates;
        signals.evidence = wide.signals.evidence;
        window = wide.window;
        signals.outcome_reason = format!(
            "{}; candidates ranked over the window opened {} s earlier, from {}",
            signals.outcome_reason,
            (start - w_start) / 1_000_000_000,
            format_ns(w_start)
        );
    }
    name_single_instances(&mut signals.candidates, &window);
    // When each candidate's first change was seen: the onset search's, else its earliest
    // evidence in the window (a message that stopped carries a baseline time: not a change seen).
    let first_seen: BTreeMap<&str, i64> = signals
        .evidence
        .iter()
        .filter(|e| e.first_seen_ns >= looked_from && e.first_seen_ns < end)
        .map(|e| (e.id.as_str(), e.first_seen_ns))
        .collect();
    for c in &mut signals.candidates {
        let own = c
            .evidence
            .iter()
            .filter_map(|id| first_seen.get(id.as_str()).copied())
            .min();
        c.first_change = effective
            .first_change
            .get(&c.entity)
            .copied()
            .or(own)
            .map(format_ns);
    }
    let mut services: Vec<&str> = window.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let join = |f: fn(&(i64, i64)) -> i64| {
        baselines
            .iter()
            .map(|b| format_ns(f(b)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let stats = WindowStats {
        window_start: format_ns(start),
        window_end: format_ns(end),
        baseline_start: join(|b| b.0),
        baseline_end: join(|b| b.1),
        window_records,
        baseline_records,
        services_seen: services.len() as u64,
    };
    // An alert is a symptom someone's monitoring saw: with candidates to show, small
    // differences from the baseline are too little evidence, not "nothing happened".
    let (outcome, outcome_reason) = match signals.outcome {
        Outcome::NoIncidentDetected
            if incident.alert.is_some() && !signals.candidates.is_empty() =>
        {
            (
                Outcome::InsufficientEvidence,
                format!(
                    "an alert fired, but {}; check the candidates",
                    signals.outcome_reason
                ),
            )
        }
        outcome => (outcome, signals.outcome_reason),
    };
    let now = chrono::Utc::now();
    Ok(Report {
        investigation_id: uuid::Uuid::now_v7().to_string(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        incident,
        mode: "offline".into(),
        outcome,
        outcome_reason,
        stats,
        onset: Some(effective.onset),
        candidates: signals.candidates,
        evidence: signals.evidence,
        hypotheses: vec![],
        rejected_hypotheses: vec![],
        llm: None,
        missing: Vec::new(),
    })
}

/// What one comparison of a window with its baselines found.
pub(crate) struct Analysis {
    pub signals: rootline_signals::Ranking,
    /// The window's template statistics (canonical templates).
    pub window: Vec<TemplateStat>,
    pub window_records: u64,
    pub baseline_records: u64,
}

/// What the incident is about, for the cluster signal: the services it names and its words.
pub(crate) fn subject_of(incident: &Incident) -> rootline_signals::Subject {
    rootline_signals::Subject {
        names: incident.services.clone(),
        symptom: format!("{} {}", incident.title, incident.description),
    }
}

/// Cluster-state findings for the window, and how many state items were read. State observed
/// up to `state_after_ns` past the end counts (a capture is taken after the alert); an event
/// last seen more than `event_lookback_ns` before the start is history, not this incident. A
/// failing container's fault comes from its service's latest messages in the window.
fn cluster_findings_in(
    sources: &Sources,
    window: &[TemplateStat],
    (start, end): (i64, i64),
    subject: &rootline_signals::Subject,
    engine: &EngineConfig,
) -> (rootline_signals::ClusterFindings, u64) {
    let config = &engine.cluster;
    let items: Vec<rootline_core::k8s::StateItem> = sources
        .cluster
        .iter()
        .filter(|i| i.observed_ns <= end.saturating_add(config.state_after_ns))
        .filter(|i| {
            let last = i.object["lastTimestamp"]
                .as_str()
                .and_then(rootline_core::time::parse_timestamp);
            last.is_none_or(|t| t >= start.saturating_sub(config.event_lookback_ns))
        })
        .cloned()
        .collect();
    let mut by_service: BTreeMap<String, Vec<&TemplateStat>> = BTreeMap::new();
    for s in window {
        by_service.entry(s.service.clone()).or_default().push(s);
    }
    // A message's own words (numbers included: `completed in 10.01 seconds`), read back from
    // the first example of each of the service's messages, latest last.
    let logs: BTreeMap<String, Vec<String>> = by_service
        .into_iter()
        .map(|(service, mut stats)| {
            stats.sort_by_key(|s| s.last_ns);
            let lines = stats
                .iter()
                .map(|s| {
                    s.examples
                        .first()
                        .and_then(|id| sources.logs.get(id).ok().flatten())
                        .map(|r| r.message)
                        .unwrap_or_else(|| s.sample.clone())
                })
                .collect();
            (service, lines)
        })
        .collect();
    let n = items.len() as u64;
    (
        rootline_signals::cluster_findings(&items, subject, &logs, config),
        n,
    )
}

/// Compares `[start, end)` with `baselines` over every source and ranks the findings.
pub(crate) fn analyse(
    sources: &Sources,
    templates: &TemplateMiner,
    engine: &EngineConfig,
    (start, end): (i64, i64),
    baselines: &[(i64, i64)],
    subject: &rootline_signals::Subject,
) -> Result<Analysis, InvestigateError> {
    let index = &sources.logs;
    let config = &engine.logs;
    let window = canonical_stats(
        index.template_stats(
            &Filter {
                range_ns: Some((start, end)),
                ..Default::default()
            },
            config.max_examples,
        )?,
        templates,
        config.max_examples,
    );
    let mut baseline = Vec::new();
    for (bs, be) in baselines {
        baseline.extend(index.template_stats(
            &Filter {
                range_ns: Some((*bs, *be)),
                ..Default::default()
            },
            config.max_examples,
        )?);
    }
    let baseline = canonical_stats(baseline, templates, config.max_examples);
    let mut window_records: u64 = window.iter().map(|s| s.count).sum();
    let mut baseline_records: u64 = baseline.iter().map(|s| s.count).sum();

    let mut graph = None;
    let mut traced = Vec::new();
    if let Some(spans) = &sources.spans {
        let win = spans.aggregates((start, end), config.max_examples)?;
        let mut base = TraceAggregates::default();
        for range in baselines {
            base.merge(
                &spans.aggregates(*range, config.max_examples)?,
                config.max_examples,
            );
        }
        window_records += win.total_spans();
        baseline_records += base.total_spans();
        traced = trace_findings(&win, &base, &engine.traces);
        let mut g = win.graph.clone();
        g.merge(&base.graph);
        graph = Some(g);
    }
    if let Some(topology) = &sources.topology {
        graph
            .get_or_insert_with(rootline_core::ServiceGraph::default)
            .add_topology(topology);
    }
    // The graph names each pod's service, which tells the log signal that one message changed
    // at three pods of one service is that service's symptom, not a crowd's.
    // No baseline at all (a pod's logs pasted after the fact, a service that just started):
    // the window's routine messages are taken as its usual traffic, so that its warnings and
    // errors, and the callers that name their callees, are what stands out. The ranking knows
    // (no baseline records) and never calls the result a probable cause.
    let routine: Vec<TemplateStat>;
    let baseline = if baseline.is_empty() {
        routine = window
            .iter()
            .filter(|s| s.errors == 0 && s.warnings == 0)
            .cloned()
            .collect();
        &routine
    } else {
        &baseline
    };
    let mut findings = log_findings_in(&window, baseline, config, graph.as_ref());
    findings.extend(traced);
    if let Some(metrics) = &sources.metrics {
        let window = metrics.series((start, end), None)?;
        // Metrics are sparse (a point a minute, or five): the baseline is the long stretch
        // before the start and every baseline window of the incident (a declared known-good
        // period may be far away, even after the incident), one series per key.
        let base_end = start - engine.metric_gap_ns;
        let mut ranges = vec![(base_end - engine.metric_baseline_ns, base_end)];
        ranges.extend(baselines.iter().filter(|(s, e)| *e <= start || *s >= end));
        let mut by_key: BTreeMap<String, rootline_core::Series> = BTreeMap::new();
        for range in ranges {
            for s in metrics.series(range, None)? {
                match by_key.get_mut(&s.key) {
                    Some(into) => into.points.extend(s.points),
                    None => {
                        by_key.insert(s.key.clone(), s);
                    }
                }
            }
        }
        let baseline: Vec<rootline_core::Series> = by_key
            .into_values()
            .map(|mut s| {
                s.points.sort_by_key(|p| p.0);
                s.points.dedup_by_key(|p| p.0);
                s
            })
            .collect();
        window_records += window.iter().map(|s| s.points.len() as u64).sum::<u64>();
        baseline_records += baseline.iter().map(|s| s.points.len() as u64).sum::<u64>();
        // The recent history up to the start: what a series looked like just before.
        let recent = metrics.series((base_end - engine.metric_baseline_ns, start), None)?;
        findings.extend(metric_findings_in(
            &window,
            &baseline,
            &engine.metrics,
            graph.as_ref(),
            Some(&recent),
        ));
    }
    let mut aliases: BTreeMap<String, String> = BTreeMap::new();
    if !sources.cluster.is_empty() {
        let (cluster, n) = cluster_findings_in(sources, &window, (start, end), subject, engine);
        window_records += n;
        aliases = cluster.aliases;
        // The logs' and traces' service names meet the cluster's workloads.
        for f in &mut findings {
            if let Some(entity) = aliases.get(&f.evidence.entity) {
                f.evidence.entity = entity.clone();
            }
        }
        findings.extend(cluster.findings);
        // A workload is its service in the call graph, so a workload that cannot start explains
        // its callers' connection errors.
        if let Some(g) = graph.as_mut() {
            for (service, entity) in &aliases {
                g.members
                    .entry(entity.clone())
                    .or_insert_with(|| service.clone());
            }
        }
    }
    if !sources.changes.is_empty() {
        // A change counts more when its service also shows symptoms (under the service's name
        // and, with cluster state, its workload's).
        let mut symptoms: BTreeMap<String, f64> = BTreeMap::new();
        for f in &findings {
            *symptoms.entry(f.evidence.entity.clone()).or_default() += f.contribution;
        }
        for (service, entity) in &aliases {
            if let Some(s) = symptoms.get(entity).copied() {
                symptoms.entry(service.clone()).or_insert(s);
            }
        }
        let mut changed = change_findings(&sources.changes, start, &symptoms, &engine.changes);
        for f in &mut changed {
            if let Some(entity) = aliases.get(&f.evidence.entity) {
                f.evidence.entity = entity.clone();
            }
        }
        findings.extend(changed);
        window_records += sources.changes.len() as u64;
    }
    let context = RankContext {
        window_records,
        baseline_records,
        graph: graph.as_ref(),
    };
    let signals = tracing::info_span!("rank").in_scope(|| rank(findings, &context, &engine.rank));
    Ok(Analysis {
        signals,
        window,
        window_records,
        baseline_records,
    })
}

/// A candidate whose evidence names no pod or host (trace and change findings are per service)
/// still has one when all the example records of its service in the window came from one host.
fn name_single_instances(candidates: &mut [rootline_core::Candidate], window: &[TemplateStat]) {
    let mut hosts: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for s in window {
        let set = hosts.entry(s.service.as_str()).or_default();
        set.extend(s.hosts.iter().map(String::as_str));
    }
    for c in candidates.iter_mut().filter(|c| c.instances.is_empty()) {
        if let Some(set) = hosts.get(c.entity.as_str())
            && set.len() == 1
        {
            c.instances = set.iter().map(|h| h.to_string()).collect();
        }
    }
}

/// Templates merge as the miner learns, so records ingested early may carry an id that has since
/// been folded into another. Re-key every count by its current template, merge duplicates, and
/// show the template text instead of one raw line.
fn canonical_stats(
    stats: Vec<TemplateStat>,
    templates: &TemplateMiner,
    max_examples: usize,
) -> Vec<TemplateStat> {
    let mut merged: BTreeMap<(String, Option<u64>), TemplateStat> = BTreeMap::new();
    for mut s in stats {
        if let Some(id) = s.template_id {
            let canonical = templates.resolve(TemplateId(id)).unwrap_or(TemplateId(id));
            s.template_id = Some(canonical.0);
            if let Some(t) = templates.get(canonical) {
                s.sample = t.text().to_string();
            }
        }
        match merged.entry((s.service.clone(), s.template_id)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(s);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let m = o.get_mut();
                m.count += s.count;
                m.errors += s.errors;
                m.warnings += s.warnings;
                if s.worst_level.severity() > m.worst_level.severity() {
                    m.worst_level = s.worst_level;
                }
                m.first_ns = m.first_ns.min(s.first_ns);
                m.last_ns = m.last_ns.max(s.last_ns);
                m.traces = sketch_union(&m.traces, &s.traces, TRACE_SKETCH_SIZE);
                m.seconds = sketch_union(&m.seconds, &s.seconds, SECONDS_SKETCH_SIZE);
                for e in s.examples {
                    if m.examples.len() < max_examples {
                        m.examples.push(e);
                    }
                }
                for (into, from) in [
                    (&mut m.hosts, s.hosts),
                    (&mut m.modules, s.modules),
                    (&mut m.frames, s.frames),
                ] {
                    for x in from {
                        if !into.contains(&x) {
                            into.push(x);
                        }
                    }
                }
            }
        }
    }
    merged.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::{Candidate, FaultType, Level};

    fn stat(service: &str, hosts: &[&str]) -> TemplateStat {
        TemplateStat {
            service: service.into(),
            template_id: Some(1),
            count: 1,
            errors: 0,
            warnings: 0,
            worst_level: Level::Info,
            first_ns: 0,
            last_ns: 0,
            examples: vec![],
            sample: String::new(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            modules: vec![],
            frames: vec![],
            traces: vec![],
            seconds: vec![],
        }
    }

    fn candidate(entity: &str, instances: &[&str]) -> Candidate {
        Candidate {
            entity: entity.into(),
            fault_type: FaultType::NetworkDelay,
            score: 1.0,
            evidence: vec![],
            why: String::new(),
            score_by_signal: Default::default(),
            instances: instances.iter().map(|h| h.to_string()).collect(),
            modules: vec![],
            first_change: None,
        }
    }

    /// The baseline's windows are aggregated one by one; one template's stats from two windows
    /// become one, with the trace sketch of both (the cut-path pairing reads it).
    #[test]
    fn stats_of_one_template_from_two_windows_keep_both_windows_traces() {
        use rootline_core::sketch::{TRACE_SKETCH_SIZE, sketch_union};
        let mut a = stat("travel", &[]);
        a.traces = vec![10, 30];
        let mut b = stat("travel", &[]);
        b.traces = vec![20, 40];
        let miner = TemplateMiner::new(Default::default());
        let merged = canonical_stats(vec![a.clone(), b.clone()], &miner, 3);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].count, 2);
        assert_eq!(
            merged[0].traces,
            sketch_union(&a.traces, &b.traces, TRACE_SKETCH_SIZE)
        );
        assert_eq!(merged[0].traces, vec![10, 20, 30, 40]);
    }

    /// The seconds sketches of both windows are kept too: a message written in one burst in
    /// each window was written in two bursts.
    #[test]
    fn stats_of_one_template_from_two_windows_keep_both_windows_seconds() {
        use rootline_core::sketch::{SECONDS_SKETCH_SIZE, second_hash, sketch_distinct};
        let mut a = stat("travel", &[]);
        a.seconds = vec![second_hash(5_000_000_000)];
        let mut b = stat("travel", &[]);
        b.seconds = vec![second_hash(9_000_000_000)];
        let miner = TemplateMiner::new(Default::default());
        let merged = canonical_stats(vec![a, b], &miner, 3);
        assert_eq!(merged.len(), 1);
        assert_eq!(
            sketch_distinct(&merged[0].seconds, SECONDS_SKETCH_SIZE),
            2.0
        );
    }

    #[test]
    fn a_service_seen_on_one_host_names_it_and_only_then() {
        let window = [
            stat("route", &["route-7f9-abc"]),
            stat("route", &["route-7f9-abc"]),
            stat("api", &["api-1", "api-2"]),
        ];
        let mut c = [
            candidate("route", &[]),
            candidate("api", &[]),
            candidate("db", &[]),
            candidate("web", &["web-3"]),
        ];
        name_single_instances(&mut c, &window);
        assert_eq!(c[0].instances, ["route-7f9-abc"]);
        assert!(c[1].instances.is_empty(), "two hosts: no guess");
        assert!(c[2].instances.is_empty(), "no records: no guess");
        assert_eq!(
            c[3].instances,
            ["web-3"],
            "evidence's own instances are kept"
        );
    }
}
