//! A log record as rootline stores it, with a stable evidence id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Severity, normalised across the spellings different loggers use.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    #[default]
    Unknown,
}

impl Level {
    /// Parses the usual spellings (`WARN`, `warning`, `E`, `err`, `CRITICAL`, syslog numbers are not handled here).
    pub fn parse(s: &str) -> Option<Level> {
        let l = s.trim().trim_matches(|c| c == '[' || c == ']');
        let level = match l.to_ascii_lowercase().as_str() {
            "trace" | "trc" | "finest" | "finer" => Level::Trace,
            "debug" | "dbg" | "fine" | "d" => Level::Debug,
            "info" | "inf" | "information" | "notice" | "i" => Level::Info,
            "warn" | "warning" | "wrn" | "w" => Level::Warn,
            "error" | "err" | "severe" | "e" => Level::Error,
            "fatal" | "crit" | "critical" | "panic" | "alert" | "emerg" | "emergency" | "f" => {
                Level::Fatal
            }
            _ => return None,
        };
        Some(level)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
            Level::Unknown => "unknown",
        }
    }

    /// Ordering by how bad a line is; `Unknown` ranks with `Info` (most loggers that omit a
    /// level are logging routine lines). The derived `Ord` is declaration order, not this.
    pub fn severity(self) -> u8 {
        match self {
            Level::Trace => 0,
            Level::Debug => 1,
            Level::Unknown | Level::Info => 2,
            Level::Warn => 3,
            Level::Error => 4,
            Level::Fatal => 5,
        }
    }

    /// Error or worse.
    pub fn is_error(self) -> bool {
        matches!(self, Level::Error | Level::Fatal)
    }
}

/// Where a record came from: the source file and its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub source: String,
    pub line: u64,
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Stable id, see [`LogRecord::compute_evidence_id`].
    pub evidence_id: String,
    /// Unix time in nanoseconds (UTC).
    pub ts_ns: i64,
    pub service: String,
    /// Host, pod or instance that emitted the line, when known.
    pub host: Option<String>,
    pub level: Level,
    pub message: String,
    /// Filled by the template miner; `None` until then.
    pub template_id: Option<u64>,
    pub trace_id: Option<String>,
    /// The code module or logger that wrote the line (Python logger, Java class), when the
    /// format names it: the finer entity a fault is traced to within a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The time is an estimate: the line had none and was timed by its order before a capture
    /// time (`kubectl logs` output).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approximate_time: bool,
    pub provenance: Provenance,
}

impl LogRecord {
    /// Evidence ids are derived from content and origin, never from insertion order, so that
    /// re-ingesting the same file yields the same ids (and so no duplicates) and a report's
    /// citations stay valid across rebuilds of the index.
    pub fn compute_evidence_id(provenance: &Provenance, raw_line: &str) -> String {
        let mut h = Sha256::new();
        h.update(provenance.source.as_bytes());
        h.update([0]);
        h.update(provenance.line.to_le_bytes());
        h.update([0]);
        h.update(raw_line.as_bytes());
        let digest = h.finalize();
        format!("log-{}", hex::encode(&digest[..10]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_id_depends_on_origin_and_content() {
        let p1 = Provenance {
            source: "a.log".into(),
            line: 1,
        };
        let p2 = Provenance {
            source: "a.log".into(),
            line: 2,
        };
        let a = LogRecord::compute_evidence_id(&p1, "x");
        assert_eq!(a, LogRecord::compute_evidence_id(&p1, "x"));
        assert_ne!(a, LogRecord::compute_evidence_id(&p2, "x"));
        assert_ne!(a, LogRecord::compute_evidence_id(&p1, "y"));
        assert!(a.starts_with("log-") && a.len() == 24);
    }

    #[test]
    fn level_spellings() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("[ERROR]"), Some(Level::Error));
        assert_eq!(Level::parse("crit"), Some(Level::Fatal));
        assert_eq!(Level::parse("hello"), None);
        assert!(Level::Fatal.is_error() && !Level::Warn.is_error());
    }
}
