//! Window jitter: how much does the ranking depend on knowing the onset to the second?
//!
//! A bundle's window usually starts at the exact second the fault was injected; an on-call
//! engineer knows only roughly when things went wrong. `rootline eval --jitter -60,-30,0,30`
//! investigates every bundle again with its start moved by each offset (the end kept) over the
//! same scratch index, and reports AC@k per offset and their mean. An offset that would start the
//! window after its end, or before the bundle's first record, is skipped and counted as such.

use std::collections::BTreeMap;

use rootline_agent::IngestedBundle;
use rootline_core::{Incident, Report};
use serde::{Deserialize, Serialize};

use crate::EvalOptions;
use crate::score::{CaseResult, LevelMetrics, Rate, score_case};
use crate::truth::{Level, Truth};

/// One case investigated with its window start moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JitterRun {
    pub offset_s: i64,
    /// Why this offset was not run (outside the data), or the error it failed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// 1-based rank of the root cause per level (null: missed).
    #[serde(default)]
    pub ranks: BTreeMap<Level, Option<usize>>,
    /// Control cases: no cause claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_correct: Option<bool>,
    /// The onset the investigation used (RFC 3339) and how it was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<String>,
}

/// AC@k at one offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JitterSummary {
    /// The offset in seconds; `null` for the mean over the offsets.
    pub offset_s: Option<i64>,
    /// Cases run at this offset (skipped ones excluded).
    pub cases: usize,
    pub skipped: usize,
    pub levels: BTreeMap<Level, LevelMetrics>,
    pub controls_correct: Rate,
}

/// The outcome of re-investigating at one offset, before scoring.
pub enum Rerun {
    Done(Box<Report>),
    Skipped(String),
}

/// Investigates `incident` again at each of `options.jitter`'s offsets over the ingested data.
pub async fn rerun(
    ingested: &IngestedBundle,
    incident: &Incident,
    options: &EvalOptions,
) -> Vec<(i64, Rerun)> {
    if options.jitter.is_empty() {
        return Vec::new();
    }
    let (start, end) = incident.window_ns();
    let sources = ingested.sources.clone();
    let first = tokio::task::spawn_blocking(move || {
        rootline_agent::onset::first_record(&sources, (start - 86_400_000_000_000, end))
    })
    .await
    .ok()
    .and_then(|r| r.ok())
    .flatten();
    let mut out = Vec::new();
    for &offset in &options.jitter {
        let moved = start + offset * 1_000_000_000;
        if moved >= end {
            out.push((
                offset,
                Rerun::Skipped("the start would pass the end".into()),
            ));
            continue;
        }
        if first.is_none_or(|f| moved < f) {
            out.push((
                offset,
                Rerun::Skipped("the start would be before the bundle's first record".into()),
            ));
            continue;
        }
        let mut shifted = incident.clone();
        shifted.start = chrono::DateTime::from_timestamp_nanos(moved);
        shifted.end = Some(chrono::DateTime::from_timestamp_nanos(end));
        let run = rootline_agent::investigate(
            ingested.sources.clone(),
            ingested.templates.clone(),
            shifted,
            options.config.clone(),
        )
        .await;
        out.push((
            offset,
            match run {
                Ok(r) => Rerun::Done(Box::new(r)),
                Err(e) => Rerun::Skipped(format!("failed: {e}")),
            },
        ));
    }
    out
}

/// Scores the reruns against the case's truth.
pub fn score_runs(runs: Vec<(i64, Rerun)>, truth: Option<&Truth>) -> Vec<JitterRun> {
    runs.into_iter()
        .map(|(offset_s, run)| match run {
            Rerun::Skipped(why) => JitterRun {
                offset_s,
                skipped: Some(why),
                ranks: BTreeMap::new(),
                control_correct: None,
                onset: None,
            },
            Rerun::Done(report) => {
                let scored = score_case(String::new(), &report, truth.cloned(), vec![], 0.0, 0);
                JitterRun {
                    offset_s,
                    skipped: None,
                    ranks: scored.ranks,
                    control_correct: scored.control_correct,
                    onset: report
                        .onset
                        .as_ref()
                        .map(|o| format!("{} ({})", o.time, o.how.as_str())),
                }
            }
        })
        .collect()
}

/// AC@k per offset over `cases` (in the order of `offsets`), then their mean (offset `null`).
/// Empty when nothing was jittered.
pub fn summarise_jitter(cases: &[&CaseResult], offsets: &[i64]) -> Vec<JitterSummary> {
    let mut out: Vec<JitterSummary> = Vec::new();
    for &offset in offsets {
        let runs: Vec<&JitterRun> = cases
            .iter()
            .filter_map(|c| c.jitter.iter().find(|r| r.offset_s == offset))
            .collect();
        if runs.is_empty() {
            continue;
        }
        let done: Vec<&&JitterRun> = runs.iter().filter(|r| r.skipped.is_none()).collect();
        let mut by_level: BTreeMap<Level, Vec<Option<usize>>> = BTreeMap::new();
        for r in &done {
            for (l, rank) in &r.ranks {
                by_level.entry(*l).or_default().push(*rank);
            }
        }
        let mut controls = Rate::default();
        for r in &done {
            if let Some(c) = r.control_correct {
                controls.n += 1;
                controls.hits += usize::from(c);
            }
        }
        out.push(JitterSummary {
            offset_s: Some(offset),
            cases: done.len(),
            skipped: runs.len() - done.len(),
            levels: by_level
                .into_iter()
                .map(|(l, ranks)| (l, LevelMetrics::from_ranks(&ranks)))
                .collect(),
            controls_correct: controls,
        });
    }
    if out.is_empty() {
        return out;
    }
    // The mean of each AC@k over the offsets that ran.
    let mut levels: BTreeMap<Level, LevelMetrics> = BTreeMap::new();
    let mut counted: BTreeMap<Level, usize> = BTreeMap::new();
    for s in &out {
        for (l, m) in &s.levels {
            let acc = levels.entry(*l).or_default();
            acc.n += m.n;
            for k in 0..acc.ac.len() {
                acc.ac[k] += m.ac[k];
            }
            acc.avg5 += m.avg5;
            *counted.entry(*l).or_default() += 1;
        }
    }
    for (l, m) in levels.iter_mut() {
        let k = counted[l] as f64;
        for a in m.ac.iter_mut() {
            *a /= k;
        }
        m.avg5 /= k;
    }
    let controls = out.iter().fold(Rate::default(), |acc, s| Rate {
        n: acc.n + s.controls_correct.n,
        hits: acc.hits + s.controls_correct.hits,
    });
    out.push(JitterSummary {
        offset_s: None,
        cases: out.iter().map(|s| s.cases).sum(),
        skipped: out.iter().map(|s| s.skipped).sum(),
        levels,
        controls_correct: controls,
    });
    out
}
