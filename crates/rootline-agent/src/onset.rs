//! The incident's effective window: the onset estimated from the indexes, the window split there,
//! and baselines that never overlap it.
//!
//! The declared window is what a person or an alert said ("since about 10:40"); the effective
//! window starts where the data changed. This module reads the buckets the onset search needs
//! (log messages and their warnings per service, spans per service, metric series) over the
//! declared window plus a lead before it, hands them to [`rootline_signals::onset`], and turns
//! the answer into the window and baselines the signals compare. A declared baseline window
//! still wins over the default one; it is only cut where it would overlap the effective window
//! (a baseline that holds the fault hides it).

use std::collections::BTreeMap;

use rootline_core::Incident;
use rootline_core::report::{Onset, OnsetHow};
use rootline_core::time::format_ns;
use rootline_index::{Filter, IndexError};
use rootline_templates::TemplateMiner;

use crate::investigate::Sources;

/// The window and baselines an investigation compares, and how its start was found.
#[derive(Debug, Clone)]
pub struct Effective {
    pub window: (i64, i64),
    pub baselines: Vec<(i64, i64)>,
    pub onset: Onset,
    /// Per entity, when its first significant change was seen (unix ns).
    pub first_change: BTreeMap<String, i64>,
}

/// Declared baselines cut to end before `start` (pieces that remain), else the same length
/// right before `start`.
pub fn baselines_before(incident: &Incident, start: i64, end: i64) -> Vec<(i64, i64)> {
    let declared: Vec<(i64, i64)> = incident
        .baseline_windows
        .iter()
        .map(|w| w.ns())
        .filter_map(|(s, e)| {
            // Keep what lies outside [start, end): before it, or after it.
            let before = (s < start).then_some((s, e.min(start)));
            let after = (e > end).then_some((s.max(end), e));
            before.or(after)
        })
        .filter(|(s, e)| e > s)
        .collect();
    if !declared.is_empty() {
        return declared;
    }
    vec![(start.saturating_sub(end - start), start)]
}

/// The declared baselines as declared (a known-good window is trusted as given), or the default
/// one before `lo`, and the searched lead before the onset.
fn with_lead(incident: &Incident, lo: i64, w_start: i64) -> Vec<(i64, i64)> {
    let mut out = declared_or_before(incident, lo, w_start);
    out.push((lo, w_start));
    out
}

/// The declared baselines as declared (a known-good window is trusted as given, even where an
/// earlier-opened window overlaps it), else the same length right before `start`.
fn declared_or_before(incident: &Incident, start: i64, end: i64) -> Vec<(i64, i64)> {
    if incident.baseline_windows.is_empty() {
        vec![(start.saturating_sub(end - start), start)]
    } else {
        incident.baseline_ns()
    }
}

/// Finds the effective window of `incident`: a first comparison over the declared window and a
/// lead before it names the strongest change; the window then starts where that change was first
/// seen (its first symptom), and everything before it is baseline.
pub fn effective_window(
    sources: &Sources,
    templates: &TemplateMiner,
    incident: &Incident,
    engine: &crate::EngineConfig,
) -> Result<Effective, crate::InvestigateError> {
    let config = &engine.onset;
    let (declared_start, end) = incident.window_ns();
    // An alert fires after the fault began (rules wait out a `for:` period, a person notices
    // later): the window opens a little before the declared start.
    let early = (((end - declared_start) as f64 * config.early_share) as i64)
        .min(config.max_early_secs.saturating_mul(1_000_000_000))
        .max(0);
    let start = declared_start - early;
    let declared = |reason: String| Onset {
        time: format_ns(start),
        how: OnsetHow::Declared,
        confidence: 1.0,
        changes_seen: 0,
        reason,
    };
    let keep = |reason: String| Effective {
        window: (start, end),
        baselines: declared_or_before(incident, start, end),
        onset: declared(reason),
        first_change: BTreeMap::new(),
    };
    if !config.enabled {
        return Ok(keep("onset search is off".into()));
    }
    let lead = (((end - start) as f64 * config.lead_share) as i64)
        .min(config.max_lead_secs.saturating_mul(1_000_000_000));
    // Start where the data does: a window that opens before the first record gains nothing.
    let Some(first) = first_record(sources, (start - lead, end))? else {
        return Ok(keep("no records in the window".into()));
    };
    let lo = (start - lead).max(first);
    let guard = config.guard_secs.saturating_mul(1_000_000_000);
    if end - lo <= 2 * guard {
        return Ok(keep("the window is too short to search".into()));
    }
    let first_pass = crate::investigate::analyse(
        sources,
        templates,
        engine,
        (lo, end),
        &baselines_before(incident, lo, end),
        &crate::investigate::subject_of(incident),
    )?;
    let ranking = &first_pass.signals;
    let Some(top) = ranking.candidates.first() else {
        return Ok(keep("no change found: the declared start stands".into()));
    };
    let strongest = ranking
        .evidence
        .iter()
        // Only evidence seen inside the searched range dates a change: a message that stopped
        // altogether carries the time it was first written in the baseline.
        .filter(|e| top.evidence.contains(&e.id) && e.first_seen_ns >= lo && e.first_seen_ns < end)
        .max_by(|a, b| {
            a.strength
                .total_cmp(&b.strength)
                .then_with(|| b.first_seen_ns.cmp(&a.first_seen_ns))
        });
    let Some(strongest) = strongest else {
        return Ok(keep("no change found: the declared start stands".into()));
    };
    let onset_ns = strongest.first_seen_ns;
    if onset_ns <= lo + guard {
        return Ok(keep(
            "the strongest change was there from the first record on: the declared start stands"
                .into(),
        ));
    }
    if config.only_earlier && onset_ns - guard >= start {
        return Ok(keep(
            "the strongest change began after the declared start: the declared start stands".into(),
        ));
    }
    let w_start = onset_ns - guard;
    let mut first_change = BTreeMap::new();
    for e in &ranking.evidence {
        let slot = first_change
            .entry(e.entity.clone())
            .or_insert(e.first_seen_ns);
        *slot = (*slot).min(e.first_seen_ns);
    }
    let ratio = match ranking.candidates.get(1) {
        Some(next) if next.score > 0.0 => top.score / next.score,
        _ => f64::INFINITY,
    };
    Ok(Effective {
        window: (w_start, end),
        baselines: with_lead(incident, lo, w_start),
        onset: Onset {
            time: format_ns(onset_ns),
            how: OnsetHow::Estimated,
            confidence: ((1.0 - 1.0 / ratio.max(1.0)) * 100.0).round() / 100.0,
            changes_seen: ranking.evidence.len(),
            reason: format!(
                "first seen of the strongest change ({}: {}) in the declared window and {}s before it",
                top.entity,
                strongest.summary.chars().take(120).collect::<String>(),
                (start - lo) / 1_000_000_000
            ),
        },
        first_change,
    })
}

/// The declared window found nothing decisive: the same comparison with the window opened
/// `widen_share` of its length earlier (at most `max_widen_secs`), against the declared
/// baselines as declared, else the same length right before it. `None` when off, when the
/// widened window would open before the data, or when it finds no candidate.
pub(crate) fn widened_look(
    sources: &Sources,
    templates: &TemplateMiner,
    incident: &Incident,
    engine: &crate::EngineConfig,
    (start, end): (i64, i64),
) -> Result<Option<(i64, crate::investigate::Analysis)>, crate::InvestigateError> {
    let config = &engine.onset;
    if config.widen_share <= 0.0 || end <= start {
        return Ok(None);
    }
    let widen = (((end - start) as f64 * config.widen_share) as i64)
        .min(config.max_widen_secs.saturating_mul(1_000_000_000));
    let w_start = start - widen;
    match first_record(sources, (w_start, end))? {
        Some(first) if first <= w_start + widen / 2 => {}
        // The data starts inside the added stretch: nothing earlier to look at.
        _ => return Ok(None),
    }
    let wide = crate::investigate::analyse(
        sources,
        templates,
        engine,
        (w_start, end),
        &declared_or_before(incident, w_start, end),
        &crate::investigate::subject_of(incident),
    )?;
    Ok((!wide.signals.candidates.is_empty()).then_some((w_start, wide)))
}

/// The first record of any kind in `range`.
pub fn first_record(sources: &Sources, range: (i64, i64)) -> Result<Option<i64>, IndexError> {
    let mut first = sources
        .logs
        .time_range(&Filter {
            range_ns: Some(range),
            ..Default::default()
        })?
        .map(|(lo, _)| lo);
    let mut take = |t: Option<i64>| {
        if let Some(t) = t {
            first = Some(first.map_or(t, |f| f.min(t)));
        }
    };
    if let Some(spans) = &sources.spans {
        take(spans.first_start(range)?);
    }
    if let Some(metrics) = &sources.metrics {
        take(
            metrics
                .series(range, None)?
                .iter()
                .filter_map(|s| s.points.first().map(|p| p.0))
                .min(),
        );
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::TimeWindow;

    fn at(s: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn declared_baselines_are_cut_where_they_overlap_the_window() {
        let mut i = Incident {
            id: "i".into(),
            title: "t".into(),
            description: String::new(),
            start: at(100),
            end: Some(at(200)),
            services: vec![],
            alert: None,
            baseline_windows: vec![
                TimeWindow {
                    start: at(40),
                    end: at(130),
                },
                TimeWindow {
                    start: at(0),
                    end: at(30),
                },
            ],
        };
        let s = 1_000_000_000;
        assert_eq!(
            baselines_before(&i, 120 * s, 200 * s),
            vec![(40 * s, 120 * s), (0, 30 * s)]
        );
        // Nothing declared left outside the window: the same length right before it.
        i.baseline_windows.truncate(1);
        assert_eq!(
            baselines_before(&i, 30 * s, 200 * s),
            vec![(-140 * s, 30 * s)]
        );
    }
}
