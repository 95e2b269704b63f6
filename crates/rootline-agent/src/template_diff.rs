//! Template-level comparison of two windows: what is new, what stopped, what changed rate.
//! The same counts the ranking uses, shown directly so an SRE can look at them.

use std::collections::BTreeMap;
use std::sync::Arc;

use rootline_index::{Filter, IndexError, LogIndex};

use crate::InvestigateError;
use rootline_signals::{poisson_cdf, poisson_sf};
use rootline_templates::{TemplateId, TemplateMiner};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateChange {
    New,
    Gone,
    Up,
    Down,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TemplateDiffRow {
    pub change: TemplateChange,
    pub service: String,
    pub template_id: Option<u64>,
    pub template: String,
    pub window_count: u64,
    pub baseline_count: u64,
    /// Baseline count scaled to the window's volume.
    pub expected: f64,
    /// One-sided Poisson p-value of the change (1.0 for new templates: no baseline rate).
    pub p_value: f64,
    pub examples: Vec<String>,
}

/// Templates whose counts differ significantly between `window` and `baseline` (`[start, end)` in
/// unix ns), per service, most significant first. New templates are always listed.
pub async fn template_diff(
    index: Arc<LogIndex>,
    templates: Arc<TemplateMiner>,
    window: (i64, i64),
    baseline: (i64, i64),
    service: Option<String>,
    significance: f64,
) -> Result<Vec<TemplateDiffRow>, InvestigateError> {
    tokio::task::spawn_blocking(move || {
        let stats = |range| {
            index.template_stats(
                &Filter {
                    range_ns: Some(range),
                    service: service.clone(),
                    text: None,
                },
                3,
            )
        };
        let canonical =
            |id: Option<u64>| id.map(|t| templates.resolve(TemplateId(t)).map_or(t, |c| c.0));
        let mut win: BTreeMap<(String, Option<u64>), (u64, Vec<String>)> = BTreeMap::new();
        for s in stats(window)? {
            let e = win
                .entry((s.service, canonical(s.template_id)))
                .or_default();
            e.0 += s.count;
            e.1.extend(s.examples);
        }
        let mut base: BTreeMap<(String, Option<u64>), (u64, Vec<String>)> = BTreeMap::new();
        for s in stats(baseline)? {
            let e = base
                .entry((s.service, canonical(s.template_id)))
                .or_default();
            e.0 += s.count;
            e.1.extend(s.examples);
        }
        let wt: u64 = win.values().map(|v| v.0).sum();
        let bt: u64 = base.values().map(|v| v.0).sum();
        let scale = if bt == 0 { 0.0 } else { wt as f64 / bt as f64 };
        let text = |id: Option<u64>| {
            id.and_then(|t| templates.get(TemplateId(t)))
                .map(|t| t.text().to_string())
                .unwrap_or_default()
        };
        let mut rows = Vec::new();
        let keys: std::collections::BTreeSet<_> = win.keys().chain(base.keys()).cloned().collect();
        for key in keys {
            let (w, wex) = win.get(&key).cloned().unwrap_or_default();
            let (b, bex) = base.get(&key).cloned().unwrap_or_default();
            let expected = b as f64 * scale;
            let (change, p) = if b == 0 {
                (TemplateChange::New, 1.0)
            } else if w as f64 > expected {
                (TemplateChange::Up, poisson_sf(w, expected))
            } else if w == 0 {
                (TemplateChange::Gone, poisson_cdf(0, expected))
            } else {
                (TemplateChange::Down, poisson_cdf(w, expected))
            };
            if change != TemplateChange::New && p >= significance {
                continue;
            }
            rows.push(TemplateDiffRow {
                change,
                template: text(key.1),
                service: key.0,
                template_id: key.1,
                window_count: w,
                baseline_count: b,
                expected: (expected * 100.0).round() / 100.0,
                p_value: p,
                examples: if w > 0 { wex } else { bex },
            });
        }
        rows.sort_by(|a, b| {
            a.change
                .cmp(&b.change)
                .then(a.p_value.total_cmp(&b.p_value))
                .then(b.window_count.cmp(&a.window_count))
                .then(a.service.cmp(&b.service))
        });
        Ok::<_, IndexError>(rows)
    })
    .await
    .map_err(|e| InvestigateError::Join(e.to_string()))?
    .map_err(InvestigateError::Index)
}
