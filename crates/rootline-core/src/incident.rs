//! An incident: what the on-call engineer knows when the page fires.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub start: DateTime<Utc>,
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    /// Services the alert names. Used to focus the report, never to exclude a culprit.
    #[serde(default)]
    pub services: Vec<String>,
    /// The raw alert payload, kept as received.
    #[serde(default)]
    pub alert: Option<serde_json::Value>,
    /// Known-good windows to compare against. Empty means the window of the same length just
    /// before the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baseline_windows: Vec<TimeWindow>,
}

/// A half-open time range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    pub fn ns(&self) -> (i64, i64) {
        (
            self.start.timestamp_nanos_opt().unwrap_or(i64::MIN),
            self.end.timestamp_nanos_opt().unwrap_or(i64::MAX),
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IncidentError {
    #[error("incident title is empty")]
    EmptyTitle,
    #[error("baseline window {start}..{end} is empty or reversed")]
    BadBaseline {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    #[error("incident end {end} is not after its start {start}")]
    EndBeforeStart {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
}

/// Used when an incident has no end: the window runs this long after the start.
pub const DEFAULT_WINDOW_SECS: i64 = 15 * 60;

impl Incident {
    pub fn validate(&self) -> Result<(), IncidentError> {
        if self.title.trim().is_empty() {
            return Err(IncidentError::EmptyTitle);
        }
        if let Some(end) = self.end
            && end <= self.start
        {
            return Err(IncidentError::EndBeforeStart {
                start: self.start,
                end,
            });
        }
        for w in &self.baseline_windows {
            if w.end <= w.start {
                return Err(IncidentError::BadBaseline {
                    start: w.start,
                    end: w.end,
                });
            }
        }
        Ok(())
    }

    /// The incident window `[start, end)` in unix nanoseconds.
    pub fn window_ns(&self) -> (i64, i64) {
        let start = self.start.timestamp_nanos_opt().unwrap_or(i64::MIN);
        let end = match self.end {
            Some(e) => e.timestamp_nanos_opt().unwrap_or(i64::MAX),
            None => start.saturating_add(DEFAULT_WINDOW_SECS * 1_000_000_000),
        };
        (start, end)
    }

    /// The baseline windows: the declared ones, or else the same length immediately before the start.
    pub fn baseline_ns(&self) -> Vec<(i64, i64)> {
        if !self.baseline_windows.is_empty() {
            return self.baseline_windows.iter().map(TimeWindow::ns).collect();
        }
        let (start, end) = self.window_ns();
        vec![(start.saturating_sub(end - start), start)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(end: Option<&str>) -> Incident {
        Incident {
            id: "i1".into(),
            title: "checkout errors".into(),
            description: String::new(),
            start: "2023-01-29T08:43:00Z".parse().unwrap(),
            end: end.map(|e| e.parse().unwrap()),
            services: vec![],
            alert: None,
            baseline_windows: vec![],
        }
    }

    #[test]
    fn windows() {
        let i = incident(Some("2023-01-29T08:45:00Z"));
        let (s, e) = i.window_ns();
        assert_eq!(e - s, 120 * 1_000_000_000);
        assert_eq!(i.baseline_ns(), vec![(s - 120 * 1_000_000_000, s)]);
        let open = incident(None);
        let (s, e) = open.window_ns();
        assert_eq!(e - s, DEFAULT_WINDOW_SECS * 1_000_000_000);
    }

    #[test]
    fn validation() {
        assert!(incident(Some("2023-01-29T08:45:00Z")).validate().is_ok());
        assert!(matches!(
            incident(Some("2023-01-29T08:40:00Z")).validate(),
            Err(IncidentError::EndBeforeStart { .. })
        ));
        let mut i = incident(None);
        i.title = " ".into();
        assert_eq!(i.validate(), Err(IncidentError::EmptyTitle));
    }
}
