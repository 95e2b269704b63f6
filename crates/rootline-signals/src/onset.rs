//! Where did it start? The configuration of the onset search.
//!
//! An on-call engineer knows when the alert fired, not when the fault began: "since about 10:40",
//! "the last 30 minutes". The onset search (in the agent, which can read the indexes) compares a
//! lead before the declared start and the declared window with the baseline once, takes the
//! strongest change of the leading candidate, and starts the window where that change was first
//! seen; the lead before it joins the baseline.
//!
//! Measured on every dataset with `rootline eval --jitter` (docs/evaluation.md), it did not pay
//! yet: it is off by default, and the declared start is the onset.
//!
//! What does pay is simpler: when the declared window shows nothing decisive, the fault may
//! well have begun before the declared start (alerts lag, people round), so the suspects are
//! ranked again over the window opened a quarter of its length earlier. That look orders the
//! candidates but never makes a claim: the outcome stays the declared window's own.

use serde::{Deserialize, Serialize};

/// Thresholds of the onset search. Part of the engine configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnsetConfig {
    /// Estimate the onset at all (off: the declared start is the onset).
    pub enabled: bool,
    /// How far before the declared start the search looks, as a share of the window's length.
    pub lead_share: f64,
    /// ... and at most this many seconds.
    pub max_lead_secs: i64,
    /// The window opens this many seconds before the estimated onset; the baseline ends there.
    pub guard_secs: i64,
    /// Whether or not the onset is searched, the window opens this share of its length before
    /// the declared start: an alert fires after the fault began.
    pub early_share: f64,
    /// ... and at most this many seconds before it.
    pub max_early_secs: i64,
    /// An estimated onset only ever opens the window earlier than declared (an alert comes
    /// after the fault began); a later one keeps the declared start.
    pub only_earlier: bool,
    /// When the declared window shows nothing decisive, look again with the window opened this
    /// share of its length earlier (an alert fires after the fault began, and a late window
    /// loses the first symptoms): the candidates are ranked from that look, but the outcome
    /// stays the declared window's own (a wider look may order suspects, never make a claim).
    /// 0 turns it off.
    pub widen_share: f64,
    /// ... and at most this many seconds earlier.
    pub max_widen_secs: i64,
}

impl Default for OnsetConfig {
    fn default() -> Self {
        OnsetConfig {
            enabled: false,
            lead_share: 0.5,
            max_lead_secs: 300,
            guard_secs: 5,
            early_share: 0.0,
            max_early_secs: 300,
            only_earlier: true,
            widen_share: 0.25,
            max_widen_secs: 300,
        }
    }
}
