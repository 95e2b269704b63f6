//! How right were we? Every judged investigation scored against its latest verdicts, without
//! exporting bundles: the rank of the root cause the verdicts name among the investigation's
//! candidates, AC@1 and AC@3 over all of them and per month of judgement (`rootline eval
//! --verdicts`, `/ui/eval`).
//!
//! The root cause comes from the newest current verdict that gives one, exactly as
//! `rootline eval export` writes `truth.json`. A verdict that only rejects the investigation (no
//! cause given) still counts: the top candidate was wrong, where the right one ranked is
//! unknown, so it is a miss at every k.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::verdicts::{Hypothesis, Judgement, VerdictTarget, latest_per_target, truth_of};
use crate::{Store, StoreError};

/// One judged investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JudgedInvestigation {
    pub investigation_id: String,
    pub incident_id: String,
    /// When the deciding verdict was recorded (RFC 3339), and by whom.
    pub judged_at: String,
    pub judged_by: String,
    pub judgement: Judgement,
    /// The engine's top candidate.
    pub top: Option<String>,
    /// The root cause the verdicts name (service, else entity); `None` when they only reject.
    pub root_cause: Option<String>,
    /// 1-based rank of that root cause among the candidates; `None` when it is not among them
    /// or unknown.
    pub rank: Option<usize>,
}

/// AC@1 and AC@3 over a set of judged investigations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictRate {
    pub n: usize,
    pub at1: usize,
    pub at3: usize,
}

impl VerdictRate {
    fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        self.at1 += usize::from(rank == Some(1));
        self.at3 += usize::from(rank.is_some_and(|r| r <= 3));
    }

    pub fn ac1(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.at1 as f64 / self.n as f64
        }
    }

    pub fn ac3(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.at3 as f64 / self.n as f64
        }
    }
}

/// The whole score: over everything, per month of judgement (`YYYY-MM`), and each case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerdictScores {
    pub all: VerdictRate,
    pub months: BTreeMap<String, VerdictRate>,
    pub cases: Vec<JudgedInvestigation>,
}

impl Store {
    /// Scores every judged investigation against its latest verdicts.
    pub async fn verdict_scores(&self) -> Result<VerdictScores, StoreError> {
        let mut scores = VerdictScores::default();
        for incident_id in self.judged_incidents().await? {
            let current = latest_per_target(self.incident_verdicts(&incident_id).await?);
            let mut by_investigation: BTreeMap<String, Vec<_>> = BTreeMap::new();
            for v in current {
                by_investigation
                    .entry(v.investigation_id.clone())
                    .or_default()
                    .push(v);
            }
            for (investigation_id, mut verdicts) in by_investigation {
                let Some(report) = self.get_investigation(&investigation_id).await? else {
                    continue;
                };
                let hypotheses: HashMap<String, Hypothesis> = self
                    .list_hypotheses(&investigation_id)
                    .await?
                    .into_iter()
                    .map(|h| (h.id.clone(), h))
                    .collect();
                verdicts.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
                let decided = verdicts
                    .iter()
                    .find_map(|v| truth_of(v, Some(&report), &hypotheses).map(|t| (v, Some(t))));
                // Only a rejection of the whole investigation, with no cause: a miss.
                let decided = decided.or_else(|| {
                    verdicts
                        .iter()
                        .find(|v| {
                            v.judgement == Judgement::Rejected
                                && v.target == VerdictTarget::Investigation
                        })
                        .map(|v| (v, None))
                });
                let Some((verdict, truth)) = decided else {
                    continue;
                };
                let root_cause = truth.as_ref().and_then(|t| {
                    t["root_cause_service"]
                        .as_str()
                        .or(t["root_cause_entity"].as_str())
                        .map(str::to_owned)
                });
                let entity = truth
                    .as_ref()
                    .and_then(|t| t["root_cause_entity"].as_str().map(str::to_owned));
                let rank = root_cause.as_ref().and_then(|cause| {
                    report
                        .candidates
                        .iter()
                        .position(|c| &c.entity == cause || Some(&c.entity) == entity.as_ref())
                        .map(|i| i + 1)
                });
                let case = JudgedInvestigation {
                    investigation_id,
                    incident_id: incident_id.clone(),
                    judged_at: verdict.created_at.clone(),
                    judged_by: verdict.author_name.clone(),
                    judgement: verdict.judgement,
                    top: report.candidates.first().map(|c| c.entity.clone()),
                    root_cause,
                    rank,
                };
                scores.all.add(rank);
                scores
                    .months
                    .entry(case.judged_at.chars().take(7).collect())
                    .or_default()
                    .add(rank);
                scores.cases.push(case);
            }
        }
        scores.cases.sort_by(|a, b| b.judged_at.cmp(&a.judged_at));
        Ok(scores)
    }
}
