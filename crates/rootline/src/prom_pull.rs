//! An investigation's metrics pulled from a Prometheus-compatible API (`--prometheus-url`, or
//! `[prometheus] url` for every `serve` investigation) next to the data dir's own. Why here: the
//! CLI and `serve` both assemble `Sources`; this puts the pulled series and the data dir's series
//! over the same ranges into one scratch in-memory metrics index, so the engine reads one index
//! and never knows where a series came from.

use std::sync::Arc;

use rootline_agent::EngineConfig;
use rootline_core::MetricPoint;
use rootline_index::metrics::MetricIndex;
use rootline_prom::{PromClient, PromSettings};

/// The ranges an investigation of `(start, end)` reads metrics from: the window, and the
/// baseline stretch before it up to the start (recent history included).
pub fn ranges(engine: &EngineConfig, (start, end): (i64, i64)) -> Vec<(i64, i64)> {
    vec![
        (
            start - engine.metric_gap_ns - engine.metric_baseline_ns,
            start,
        ),
        (start, end),
    ]
}

/// The services a pull may be narrowed to (`[prometheus] focus_label`): the incident's, and
/// their callers and callees in the declared topology. Empty when the incident names none.
pub fn focus_of(
    services: &[String],
    topology: Option<&rootline_core::observation::Topology>,
) -> Vec<String> {
    let mut focus: std::collections::BTreeSet<String> = services.iter().cloned().collect();
    if let Some(t) = topology {
        for s in services {
            let service = t.services.get(s).unwrap_or(s);
            focus.insert(service.clone());
            if let Some(callees) = t.calls.get(service) {
                focus.extend(callees.iter().cloned());
            }
            for (caller, callees) in &t.calls {
                if callees.contains(service) {
                    focus.insert(caller.clone());
                }
            }
        }
    }
    focus.into_iter().collect()
}

/// A scratch index holding `own`'s series over `ranges` and what the query API returned, and a
/// sentence per query that failed (for the report's `missing`). An error only when the settings
/// are unusable. `focus`: see [`focus_of`].
pub async fn pull_into_scratch(
    settings: &PromSettings,
    own: Option<Arc<MetricIndex>>,
    ranges: &[(i64, i64)],
    focus: &[String],
) -> anyhow::Result<(Arc<MetricIndex>, Vec<String>)> {
    let client = PromClient::new(settings)?;
    let pulled = client.pull(ranges, focus).await;
    let missing: Vec<String> = pulled
        .problems
        .iter()
        .map(|p| {
            format!(
                "metrics query {} at {}: {}",
                p.query,
                settings.url.as_deref().unwrap_or(""),
                p.reason
            )
        })
        .collect();
    tracing::info!(
        series = pulled.series,
        points = pulled.points.len(),
        problems = missing.len(),
        "metrics pulled from the query API"
    );
    let ranges = ranges.to_vec();
    let index = tokio::task::spawn_blocking(move || -> anyhow::Result<MetricIndex> {
        let scratch = MetricIndex::in_memory()?;
        {
            let mut w = scratch.writer()?;
            if let Some(own) = own {
                for range in &ranges {
                    for s in own.series(*range, None)? {
                        for (ts_ns, value) in &s.points {
                            w.add(&MetricPoint {
                                name: s.name.clone(),
                                labels: s.labels.clone(),
                                entity: s.entity.clone(),
                                ts_ns: *ts_ns,
                                value: *value,
                            })?;
                        }
                    }
                }
            }
            for p in &pulled.points {
                w.add(p)?;
            }
            w.commit()?;
        }
        Ok(scratch)
    })
    .await??;
    Ok((Arc::new(index), missing))
}
