//! How far the engine's confidence can be trusted: a reliability table (confidence bins against
//! the share of cases whose top candidate was right) and the Brier score.
//!
//! The engine states no probability, so its confidence in a case is the top candidate's share
//! of the listed candidates' scores (one clear suspect: near 1; several alike: low). A
//! well-calibrated engine is right in about that share of the cases of each bin. "Probable
//! cause" claims are the engine's committed answers; their hit rate is `committed_correct` in
//! the summary.

use serde::{Deserialize, Serialize};

use crate::score::CaseResult;
use crate::truth::Level;

/// Bins of equal width over [0, 1].
pub const BINS: usize = 5;

/// One confidence bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
    /// Mean stated confidence of the cases in the bin (0 when empty).
    pub confidence: f64,
    /// Share of them whose top candidate was the root cause (0 when empty).
    pub accuracy: f64,
}

/// The reliability table of a set of cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Fault cases with at least one candidate.
    pub n: usize,
    pub bins: Vec<Bin>,
    /// Mean squared gap between confidence and being right (0 is perfect; always saying 0.5
    /// scores 0.25).
    pub brier: f64,
}

/// The top candidate's share of the listed candidates' scores; `None` without a positive score.
pub fn confidence(case: &CaseResult) -> Option<f64> {
    let total: f64 = case.top.iter().map(|r| r.score.max(0.0)).sum();
    let top = case.top.first()?.score.max(0.0);
    (total > 0.0).then(|| (top / total).clamp(0.0, 1.0))
}

/// The level a case is scored at first: service when its truth names one, else the first.
pub fn primary_level(case: &CaseResult) -> Option<Level> {
    if case.ranks.contains_key(&Level::Service) {
        return Some(Level::Service);
    }
    case.ranks.keys().next().copied()
}

/// The reliability table over the fault cases among `cases`.
pub fn calibrate<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> Calibration {
    calibrate_pairs(cases.into_iter().filter_map(|case| {
        if case.is_control() || case.error.is_some() {
            return None;
        }
        let (conf, level) = (confidence(case)?, primary_level(case)?);
        Some((conf, case.ranks.get(&level).copied().flatten() == Some(1)))
    }))
}

/// The reliability table of (stated confidence, was right) pairs.
pub fn calibrate_pairs(pairs: impl IntoIterator<Item = (f64, bool)>) -> Calibration {
    let mut sums = vec![(0usize, 0.0f64, 0usize); BINS];
    let mut brier = 0.0;
    let mut n = 0;
    for (conf, right) in pairs {
        let conf = conf.clamp(0.0, 1.0);
        let bin = ((conf * BINS as f64) as usize).min(BINS - 1);
        sums[bin].0 += 1;
        sums[bin].1 += conf;
        sums[bin].2 += usize::from(right);
        brier += (conf - f64::from(u8::from(right))).powi(2);
        n += 1;
    }
    let bins = sums
        .into_iter()
        .enumerate()
        .map(|(i, (count, conf, hits))| Bin {
            lo: i as f64 / BINS as f64,
            hi: (i + 1) as f64 / BINS as f64,
            n: count,
            confidence: if count > 0 { conf / count as f64 } else { 0.0 },
            accuracy: if count > 0 {
                hits as f64 / count as f64
            } else {
                0.0
            },
        })
        .collect();
    Calibration {
        n,
        bins,
        brier: if n > 0 { brier / n as f64 } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::Ranked;
    use std::collections::BTreeMap;

    fn case(scores: &[f64], rank: Option<usize>) -> CaseResult {
        CaseResult {
            case: "c".into(),
            incident_id: "i".into(),
            source: "s".into(),
            truth: None,
            outcome: None,
            outcome_reason: String::new(),
            candidates: scores.len(),
            top: scores
                .iter()
                .map(|s| Ranked {
                    entity: "e".into(),
                    score: *s,
                    fault_type: String::new(),
                    instance: None,
                    modules: vec![],
                })
                .collect(),
            ranks: BTreeMap::from([(Level::Service, rank)]),
            naive_top: vec![],
            naive_ranks: BTreeMap::new(),
            fault_type_top1: None,
            fault_type_at_truth: None,
            control_correct: None,
            committed_correct: None,
            seconds: 0.0,
            records_indexed: 0,
            error: None,
            evidence_recall: None,
            jitter: vec![],
            models: vec![],
        }
    }

    #[test]
    fn confident_right_answers_and_unsure_wrong_ones_land_in_their_bins() {
        let cases = [
            case(&[9.0, 1.0], Some(1)),      // 0.9, right
            case(&[1.0, 1.0, 1.0], Some(2)), // 0.33, wrong
            case(&[5.0], Some(1)),           // 1.0, right
            case(&[0.0], None),              // no confidence: left out
        ];
        let c = calibrate(&cases);
        assert_eq!(c.n, 3);
        assert_eq!(c.bins.len(), BINS);
        assert_eq!(c.bins[4].n, 2);
        assert!((c.bins[4].confidence - 0.95).abs() < 1e-9);
        assert_eq!(c.bins[4].accuracy, 1.0);
        assert_eq!(c.bins[1].n, 1);
        assert_eq!(c.bins[1].accuracy, 0.0);
        // (0.1² + 0.333…² + 0²) / 3
        assert!(
            (c.brier - (0.01 + 1.0 / 9.0) / 3.0).abs() < 1e-9,
            "{}",
            c.brier
        );
    }
}
