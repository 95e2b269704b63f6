//! One investigation: retrieve, compare, rank, report.

use std::sync::Arc;

use rootline_core::time::format_ns;
use rootline_core::{Incident, LogRecord, Outcome, Report, WindowStats};
use rootline_index::{Filter, IndexError, LogIndex};
use rootline_signals::{LogSignalConfig, analyse_logs};
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
    let window = index.records(&Filter {
        range_ns: Some((start, end)),
        ..Default::default()
    })?;
    let baselines = incident.baseline_ns();
    let mut baseline: Vec<LogRecord> = Vec::new();
    for (bs, be) in &baselines {
        baseline.extend(index.records(&Filter {
            range_ns: Some((*bs, *be)),
            ..Default::default()
        })?);
    }
    // Templates merge as the miner learns; compare records by their current template.
    let mut window = window;
    for r in window.iter_mut().chain(baseline.iter_mut()) {
        r.template_id = r
            .template_id
            .map(|t| templates.resolve(TemplateId(t)).map_or(t, |c| c.0));
    }
    let signals = analyse_logs(&window, &baseline, config);
    let mut services: Vec<&str> = window.iter().map(|r| r.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let stats = WindowStats {
        window_start: format_ns(start),
        window_end: format_ns(end),
        baseline_start: baselines
            .iter()
            .map(|b| format_ns(b.0))
            .collect::<Vec<_>>()
            .join(", "),
        baseline_end: baselines
            .iter()
            .map(|b| format_ns(b.1))
            .collect::<Vec<_>>()
            .join(", "),
        window_records: window.len() as u64,
        baseline_records: baseline.len() as u64,
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

/// True when the report should make a person look twice before trusting the top candidate.
pub fn is_conclusive(report: &Report) -> bool {
    report.outcome == Outcome::ProbableCause
}
