//! Kubernetes state on its way in: capture files (a bundle's `k8s/`, `rootline ingest --kind
//! k8s`) read into objects and container log lines, the objects kept in the data dir's cluster
//! state file, the log lines (and the events, as records) put in the log index so that
//! templates, bursts and search work on them.
//!
//! The state file (`<data dir>/k8s/state.jsonl`) is one [`StateItem`] per line, appended and
//! fsynced before the summary (the acknowledgement) is printed; a line that does not parse is
//! reported with its number and skipped, so one torn write never hides the rest.
//!
//! File names carry what kubectl output does not say:
//! - `NAME@TIME` (RFC 3339 or unix seconds): the capture time; relative ages (`49m`) and
//!   untimed log lines count back from it. Without it, the caller's default.
//! - `*.log`: `kubectl logs` output of the pod named by the file stem (`k8s/<pod>.log`,
//!   `k8s/<namespace>/<pod>.log`; `<pod>~<anything>.log` for several files of one pod).

use std::io::Write;
use std::path::{Path, PathBuf};

use rootline_core::k8s::{ObjectRef, StateItem};
use rootline_core::{Level, LogRecord, Provenance};
use rootline_index::LogIndex;
use rootline_ingest::Rejected;
use rootline_ingest::k8s::{CaptureOptions, read_capture};

use crate::ingest::IngestError;
use crate::templates::{load_miner, save_miner};

/// The data dir's cluster state file.
pub const STATE_FILE: &str = "k8s/state.jsonl";

/// What a set of capture files became.
#[derive(Debug, Default)]
pub struct ClusterCapture {
    pub items: Vec<StateItem>,
    /// Container log lines and the events as log records.
    pub records: Vec<LogRecord>,
    pub rejected: Vec<Rejected>,
    /// Log lines timed by their order before the capture time.
    pub approximate_lines: u64,
    /// Files whose capture time was not in their name (the default was used).
    pub defaulted_times: Vec<String>,
}

/// `NAME@TIME` → capture time; `None` when the name has no parsable time.
fn time_in_name(name: &str) -> Option<i64> {
    let (_, t) = name.rsplit_once('@')?;
    let t = t.strip_suffix(".log").unwrap_or(t);
    rootline_core::time::parse_timestamp(t).or_else(|| {
        t.parse::<i64>()
            .ok()
            .map(|s| s.saturating_mul(1_000_000_000))
    })
}

/// Reads capture files; `label` names each file in provenance and errors; `default_at` is the
/// capture time of a file whose name has none (`None`: its modification time).
pub fn read_captures(
    files: &[PathBuf],
    label: impl Fn(&Path) -> String,
    default_at: Option<i64>,
) -> Result<ClusterCapture, IngestError> {
    let mut out = ClusterCapture::default();
    for file in files {
        let source = label(file);
        let text = std::fs::read(file).map_err(|e| IngestError::Io {
            path: file.display().to_string(),
            message: e.to_string(),
        })?;
        let text = String::from_utf8_lossy(&text);
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let captured_at_ns = match (time_in_name(&name), default_at) {
            (Some(t), _) => t,
            (None, Some(t)) => {
                out.defaulted_times.push(source.clone());
                t
            }
            (None, None) => {
                out.defaulted_times.push(source.clone());
                std::fs::metadata(file)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos() as i64)
                    .unwrap_or(0)
            }
        };
        // `<pod>[~more][@TIME].log`
        let stem = name.split(['@', '~']).next().unwrap_or(&name);
        let stem = stem.strip_suffix(".log").unwrap_or(stem);
        let pod = name.ends_with(".log").then_some(stem).map(|p| {
            let ns = file
                .parent()
                .and_then(|d| d.file_name())
                .map(|d| d.to_string_lossy().into_owned())
                .filter(|d| d != "k8s" && d != "logs");
            ObjectRef::new("Pod", ns.as_deref(), p)
        });
        let options = CaptureOptions {
            captured_at_ns,
            pod,
            ..CaptureOptions::default()
        };
        let capture = read_capture(&text, &source, &options);
        out.approximate_lines += capture.approximate_lines;
        out.rejected.extend(capture.rejected);
        out.records.extend(capture.logs);
        for item in &capture.items {
            if let Some(r) = event_record(item) {
                out.records.push(r);
            }
        }
        out.items.extend(capture.items);
    }
    Ok(out)
}

/// An event as a log record (its service is the involved object's workload name, its level
/// the event type), so templates, bursts and search see it.
pub fn event_record(item: &StateItem) -> Option<LogRecord> {
    let o = &item.object;
    if o["kind"] != "Event" {
        return None;
    }
    let inv = &o["involvedObject"];
    let name = inv["name"].as_str()?;
    let kind = inv["kind"].as_str().unwrap_or("");
    let service = if kind == "Pod" {
        rootline_signals::cluster::workload_name(name)
    } else {
        name.to_string()
    };
    let ts = o["lastTimestamp"]
        .as_str()
        .and_then(rootline_core::time::parse_timestamp)
        .unwrap_or(item.observed_ns);
    let message = format!(
        "{} {} {kind}/{name}: {}",
        o["type"].as_str().unwrap_or(""),
        o["reason"].as_str().unwrap_or(""),
        o["message"].as_str().unwrap_or("")
    );
    let provenance = item.provenance.clone();
    Some(LogRecord {
        evidence_id: LogRecord::compute_evidence_id(&provenance, &message),
        ts_ns: ts,
        service,
        host: (kind == "Pod").then(|| name.to_string()),
        level: if o["type"] == "Warning" {
            Level::Warn
        } else {
            Level::Info
        },
        message,
        template_id: None,
        trace_id: None,
        approximate_time: false,
        module: None,
        provenance: Provenance {
            source: provenance.source,
            line: provenance.line,
        },
    })
}

/// Mines templates for `records`, upserts them and commits (templates saved first, as in file
/// ingest). Blocking.
pub fn add_records(
    index: &LogIndex,
    templates_path: &Path,
    records: Vec<LogRecord>,
) -> Result<u64, IngestError> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut miner = load_miner(templates_path)?;
    let payload = index.commit_payload()?;
    let mut writer = index.writer()?;
    let n = records.len() as u64;
    for mut r in records {
        let first_line = r.message.lines().next().unwrap_or("").to_string();
        r.template_id = Some(miner.add(&r.service, &first_line).id.0);
        writer.add(&r)?;
    }
    save_miner(templates_path, &miner)?;
    match payload {
        Some(p) => writer.commit_with_payload(&p)?,
        None => writer.commit()?,
    }
    Ok(n)
}

/// Appends items to the data dir's state file and fsyncs it.
pub fn append_state(data_dir: &Path, items: &[StateItem]) -> Result<(), IngestError> {
    let path = data_dir.join(STATE_FILE);
    let io = |e: std::io::Error| IngestError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    let mut buf = Vec::new();
    for item in items {
        serde_json::to_writer(&mut buf, item).map_err(|e| io(std::io::Error::other(e)))?;
        buf.push(b'\n');
    }
    f.write_all(&buf).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok(())
}

/// The data dir's cluster state, with the lines that could not be read (`file:line: reason`).
pub fn load_state(data_dir: &Path) -> Result<(Vec<StateItem>, Vec<Rejected>), IngestError> {
    let path = data_dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => {
            return Err(IngestError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            });
        }
    };
    let mut items = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<StateItem>(line) {
            Ok(item) => items.push(item),
            Err(e) => bad.push(Rejected {
                file: path.display().to_string(),
                line: i as u64 + 1,
                reason: e.to_string(),
            }),
        }
    }
    Ok((items, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_time_and_pod_come_from_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let ns = dir.path().join("k8s").join("shop");
        std::fs::create_dir_all(&ns).unwrap();
        let log = ns.join("checkout-7d9f8c6b5-x2x4p@2024-01-01T00:10:00Z.log");
        std::fs::write(&log, "starting\nKeyError: 'DEPLOY_ENV'\n").unwrap();
        let events = dir.path().join("k8s").join("events.txt");
        std::fs::write(
            &events,
            "LAST SEEN   TYPE      REASON    OBJECT                        MESSAGE\n2m          Warning   BackOff   pod/checkout-7d9f8c6b5-x2x4p   Back-off restarting failed container\n",
        )
        .unwrap();
        let at = rootline_core::time::parse_timestamp("2024-01-01T00:30:00Z").unwrap();
        let c = read_captures(
            &[events.clone(), log],
            |p| p.display().to_string(),
            Some(at),
        )
        .unwrap();
        assert_eq!(c.defaulted_times, [events.display().to_string()]);
        let logs: Vec<&LogRecord> = c
            .records
            .iter()
            .filter(|r| {
                r.host.as_deref() == Some("checkout-7d9f8c6b5-x2x4p") && r.level != Level::Warn
            })
            .collect();
        assert_eq!(logs.len(), 2);
        let ten = rootline_core::time::parse_timestamp("2024-01-01T00:10:00Z").unwrap();
        assert!(
            logs.iter()
                .all(|r| r.ts_ns < ten && r.service == "checkout")
        );
        let event = c.records.iter().find(|r| r.level == Level::Warn).unwrap();
        assert_eq!(event.service, "checkout");
        assert_eq!(event.ts_ns, at - 120 * 1_000_000_000);
        assert_eq!(c.items.len(), 1);

        append_state(dir.path(), &c.items).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(STATE_FILE))
            .unwrap()
            .write_all(b"{torn\n")
            .unwrap();
        let (items, bad) = load_state(dir.path()).unwrap();
        assert_eq!(items, c.items);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].line, 2);
    }
}
