//! One investigation: retrieve, compare, rank, report.

use std::sync::Arc;

use rootline_core::time::format_ns;
use std::collections::BTreeMap;

use rootline_core::{Incident, Outcome, Report, TemplateStat, WindowStats};
use rootline_index::{Filter, IndexError, LogIndex};
use rootline_signals::{LogSignalConfig, analyse_templates};
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
    index: Arc<LogIndex>,
    templates: Arc<TemplateMiner>,
    incident: Incident,
    config: LogSignalConfig,
) -> Result<Report, InvestigateError> {
    incident.validate()?;
    tokio::task::spawn_blocking(move || investigate_blocking(&index, &templates, incident, &config))
        .await
        .map_err(|e| InvestigateError::Join(e.to_string()))?
}

fn investigate_blocking(
    index: &LogIndex,
    templates: &TemplateMiner,
    incident: Incident,
    config: &LogSignalConfig,
) -> Result<Report, InvestigateError> {
    let (start, end) = incident.window_ns();
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
    let baselines = incident.baseline_ns();
    let mut baseline = Vec::new();
    for (bs, be) in &baselines {
        baseline.extend(index.template_stats(
            &Filter {
                range_ns: Some((*bs, *be)),
                ..Default::default()
            },
            config.max_examples,
        )?);
    }
    let baseline = canonical_stats(baseline, templates, config.max_examples);
    let signals = analyse_templates(&window, &baseline, config);
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
        window_records: window.iter().map(|s| s.count).sum(),
        baseline_records: baseline.iter().map(|s| s.count).sum(),
        services_seen: services.len() as u64,
    };
    let now = chrono::Utc::now();
    Ok(Report {
        investigation_id: uuid::Uuid::now_v7().to_string(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        incident,
        mode: "offline".into(),
        outcome: signals.outcome,
        outcome_reason: signals.outcome_reason,
        stats,
        candidates: signals.candidates,
        evidence: signals.evidence,
    })
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
                for e in s.examples {
                    if m.examples.len() < max_examples {
                        m.examples.push(e);
                    }
                }
            }
        }
    }
    merged.into_values().collect()
}

/// True when the report should make a person look twice before trusting the top candidate.
pub fn is_conclusive(report: &Report) -> bool {
    report.outcome == Outcome::ProbableCause
}
