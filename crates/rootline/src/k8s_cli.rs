//! Kubernetes state into the data dir, three ways, one path: `rootline ingest --kind k8s`
//! (captured kubectl output), `rootline k8s snapshot` (a bundle of the cluster as it is now)
//! and `rootline serve --kube` (a checkpointed watch). Every batch of objects goes the same
//! way, and the acknowledgement (the summary, the watcher's checkpoint) comes after all of it
//! is durable:
//! 1. events (and container log lines) become log records in the log index;
//! 2. the objects are appended to the data dir's cluster state (`k8s/state.jsonl`);
//! 3. each object's configuration ([`spec_version`]) is a config version in the store, so a
//!    changed image, env var, probe, limit, selector or policy is a structured diff and a
//!    config change event; a changed container image is also a deploy change event.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use rootline_agent::LiveIngestor;
use rootline_core::k8s::{ObjectRef, StateItem, spec_source, spec_version};
use rootline_core::{ChangeEvent, ChangeKind, LogRecord, Provenance};
use rootline_store::Store;

use crate::config::Settings;

/// Versions the objects' configuration in the store; returns (versions, change events).
async fn version_specs(store: &Store, items: &[StateItem]) -> Result<(usize, usize)> {
    let (mut versions, mut changes) = (0, 0);
    for item in items {
        let (Some(r), Some(spec)) = (ObjectRef::of(&item.object), spec_version(&item.object))
        else {
            continue;
        };
        let text = serde_json::to_string(&spec)?;
        let parsed =
            rootline_config::parse_config(&text, None, Some(rootline_config::Format::Json))
                .with_context(|| format!("{}: configuration of {r}", item.provenance.source))?;
        let saved = store
            .save_config_version(&spec_source(&r), &r.name, item.observed_ns, &parsed.config)
            .await?;
        let Some(saved) = saved else { continue };
        versions += 1;
        let Some(change) = saved.change else { continue };
        changes += 1;
        // A new image is a deploy, whatever else changed with it.
        let images: Vec<String> = saved
            .diff
            .changed
            .iter()
            .filter(|c| c.path.ends_with(".image"))
            .map(|c| format!("{}: {} → {}", c.path, c.old, c.new))
            .collect();
        if !images.is_empty() {
            let deploy = ChangeEvent {
                id: format!("{}-deploy", change.id),
                ts_ns: change.ts_ns,
                service: change.service.clone(),
                kind: ChangeKind::Deploy,
                who: None,
                what: format!(
                    "{} rolled out a new image ({})",
                    r.entity(),
                    images.join("; ")
                ),
                diff: change.diff.clone(),
            };
            if store.save_change_event(&deploy).await? {
                changes += 1;
            }
        }
    }
    Ok((versions, changes))
}

/// `rootline ingest --kind k8s FILE...`: capture files, their capture time from the name
/// (`NAME@TIME`), else `--captured-at`, else the file's modification time (said in the summary).
pub async fn ingest(
    settings: &Settings,
    store: &Store,
    paths: &[PathBuf],
    captured_at: Option<i64>,
    json: bool,
) -> Result<ExitCode> {
    let logs = std::sync::Arc::new(rootline_index::LogIndex::open(&settings.index_dir())?);
    let templates = settings.templates_path();
    let files = paths.to_vec();
    let data_dir = settings.data_dir.clone();
    // Reading, indexing and the fsynced state append are blocking: off the async workers.
    let capture = tokio::task::spawn_blocking(move || -> Result<_> {
        let mut capture = rootline_agent::cluster::read_captures(
            &files,
            |p| {
                std::fs::canonicalize(p)
                    .map(|c| c.display().to_string())
                    .unwrap_or_else(|_| p.display().to_string())
            },
            captured_at,
        )?;
        let records = std::mem::take(&mut capture.records);
        let records = rootline_agent::cluster::add_records(&logs, &templates, records)?;
        rootline_agent::cluster::append_state(&data_dir, &capture.items)?;
        Ok((capture, records))
    })
    .await??;
    let (capture, records) = capture;
    let (versions, changes) = version_specs(store, &capture.items).await?;
    for r in &capture.rejected {
        eprintln!("rejected: {r}");
    }
    if json {
        println!(
            "{}",
            serde_json::json!({
                "files": paths.len(), "objects": capture.items.len(), "records": records,
                "approximate_lines": capture.approximate_lines, "rejected": capture.rejected.len(),
                "config_versions": versions, "changes": changes,
                "capture_time_from_mtime": if captured_at.is_none() { capture.defaulted_times.clone() } else { vec![] },
            })
        );
    } else {
        println!(
            "ingested {} file(s): {} object(s) and event(s), {} log record(s) ({} timed by their order), {} rejected; {} config version(s), {} change event(s)",
            paths.len(),
            capture.items.len(),
            records,
            capture.approximate_lines,
            capture.rejected.len(),
            versions,
            changes
        );
        if captured_at.is_none() && !capture.defaulted_times.is_empty() {
            println!(
                "capture time taken from the file's modification time (no @TIME in the name, no --captured-at): {}",
                capture.defaulted_times.join(", ")
            );
        }
    }
    Ok(if capture.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `rootline k8s snapshot`: the cluster's current state as a bundle (`incident.json` covering
/// the last hour, `k8s/objects@<now>.json`) for an investigation or a postmortem.
pub async fn snapshot(kube: &rootline_kube::KubeSettings, out: &Path) -> Result<ExitCode> {
    let snap = rootline_kube::snapshot_counted(kube).await?;
    let now = chrono::Utc::now();
    let dir = out.join(rootline_agent::bundle::K8S_DIR);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = now.format("%Y-%m-%dT%H:%M:%SZ");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": snap.objects});
    let file = dir.join(format!("objects@{stamp}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(&list)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    let incident = serde_json::json!({
        "id": format!("k8s-snapshot-{}", now.format("%Y%m%dT%H%M%SZ")),
        "title": "Kubernetes snapshot",
        "start": (now - chrono::Duration::hours(1)).to_rfc3339(),
        "end": now.to_rfc3339(),
    });
    let path = out.join(rootline_agent::bundle::INCIDENT_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(&incident)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    for e in &snap.skipped {
        eprintln!("skipped: {e}");
    }
    println!(
        "snapshot: {} object(s) to {} ({} skipped)",
        snap.objects.len(),
        file.display(),
        snap.skipped.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `serve --kube`'s sink: each observed object goes the file ingest's way, through the
/// server's own live ingestor (one index writer for HTTP ingest and the watch).
pub struct WatchSink {
    pub ingest: LiveIngestor,
    pub store: Store,
    pub data_dir: PathBuf,
}

impl rootline_kube::Sink for WatchSink {
    async fn accept(
        &mut self,
        observed: rootline_kube::Observed,
    ) -> Result<(), rootline_kube::SinkError> {
        if observed.event == rootline_kube::EventType::Deleted {
            // A deleted object's last state stays in the history; nothing new to record.
            return Ok(());
        }
        let item = StateItem {
            object: observed.object,
            observed_ns: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
            approximate: false,
            provenance: Provenance {
                source: format!("kube:{}", observed.resource),
                line: 0,
            },
        };
        let records: Vec<LogRecord> = rootline_agent::cluster::event_record(&item)
            .into_iter()
            .collect();
        if !records.is_empty() {
            self.ingest.ingest_logs(records).await?;
        }
        // The fsynced append blocks: off the async workers.
        let (data_dir, state) = (self.data_dir.clone(), item.clone());
        tokio::task::spawn_blocking(move || {
            rootline_agent::cluster::append_state(&data_dir, std::slice::from_ref(&state))
        })
        .await??;
        version_specs(&self.store, std::slice::from_ref(&item))
            .await
            .map_err(|e| -> rootline_kube::SinkError { e.into() })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_kube::Sink;

    fn observed(resource: &str, object: serde_json::Value) -> rootline_kube::Observed {
        rootline_kube::Observed {
            resource: resource.into(),
            event: rootline_kube::EventType::Added,
            object,
            resource_version: "1".into(),
        }
    }

    /// What the watcher hands over lands where file ingest puts it: the event in the log index,
    /// every object in the cluster state, the Deployment's spec as a config version, and a new
    /// image as a deploy.
    #[tokio::test]
    async fn the_watch_sink_writes_index_state_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        let indexes = crate::live_ingest::LiveIndexes::open(data).unwrap();
        let ingest = crate::live_ingest::LiveIngest::over(&indexes, data).unwrap();
        let store = Store::connect(&format!("sqlite://{}", data.join("db.sqlite").display()))
            .await
            .unwrap();
        let mut sink = WatchSink {
            ingest: ingest.ingestor(),
            store: store.clone(),
            data_dir: data.to_path_buf(),
        };
        let deploy = |image: &str| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "checkout", "namespace": "shop"},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
        };
        sink.accept(observed("deployments", deploy("shop/checkout:1.0")))
            .await
            .unwrap();
        sink.accept(observed(
            "events",
            serde_json::json!({"kind": "Event", "metadata": {"name": "e1", "namespace": "shop"},
                "type": "Warning", "reason": "BackOff", "message": "Back-off pulling image",
                "involvedObject": {"kind": "Pod", "name": "checkout-7d9f8c6b5-x2x4p", "namespace": "shop"},
                "lastTimestamp": "2025-01-01T00:00:00Z", "count": 3}),
        ))
        .await
        .unwrap();
        sink.accept(observed("deployments", deploy("shop/checkout:1.1")))
            .await
            .unwrap();

        let (items, bad) = rootline_agent::cluster::load_state(data).unwrap();
        assert_eq!((items.len(), bad.len()), (3, 0));
        assert!(
            items
                .iter()
                .all(|i| i.provenance.source.starts_with("kube:"))
        );
        indexes.logs.reload().unwrap();
        let records = indexes
            .logs
            .records(&rootline_index::Filter::default())
            .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].service, "checkout");
        assert!(
            records[0]
                .message
                .starts_with("Warning BackOff Pod/checkout-7d9f8c6b5-x2x4p")
        );
        let versions = store
            .list_config_versions("k8s:shop/Deployment/checkout")
            .await
            .unwrap();
        assert_eq!(versions.len(), 2);
        let changes = store.list_change_events(0, i64::MAX, None).await.unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.kind == ChangeKind::Deploy && c.what.contains("checkout:1.1")),
            "{changes:?}"
        );
        // Replaying the same object (a watch resumed one event early) stores nothing new.
        sink.accept(observed("deployments", deploy("shop/checkout:1.1")))
            .await
            .unwrap();
        assert_eq!(
            store
                .list_config_versions("k8s:shop/Deployment/checkout")
                .await
                .unwrap()
                .len(),
            2
        );
    }
}
