//! Incident bundles: an incident, the data files an investigation reads, and, optionally, the
//! ground truth that only evaluation reads.
//!
//! ```text
//! bundle/
//!   incident.json   the Incident (title, start, end, services, alert, baseline_windows)
//!   logs/           log files, any supported format, gzip allowed, read in name order
//!   metrics/        metric files (Prometheus text, CSV wide or long), optional
//!   traces/         span files (CSV, OTLP JSON), optional
//!   changes/        change events (JSON lines), optional
//!   configs/        config files (YAML/Kubernetes, JSON, TOML, INI, .env), versioned, optional
//!   k8s/            Kubernetes state as captured (kubectl get -o yaml|json, describe, get and
//!                   events tables, `<pod>.log` container output; `NAME@TIME` capture times,
//!                   else the incident's end), optional; see `cluster`
//!   topology.json   the system's declared topology (calls, instance → service, → host), optional
//!   truth.json      optional ground truth; never opened by an investigation
//! ```
//!
//! `topology.json` is a [`Topology`]: caller → callee edges between services, and which service
//! and host each instance or pod belongs to. It joins the call graph traces show, so that the
//! ranking can tell a caller's symptoms from its callee's fault even when a bundle has no spans
//! and the alerts name pods rather than services.
//!
//! Config versions: `configs/<source>` is a version of the config `<source>` (its path under
//! `configs/`) with no known time, and `configs/<source>@<time>` (RFC 3339 such as
//! `app.yaml@2024-01-01T00:07:00Z`, or unix seconds) a version observed at that time. A source's
//! versions are read in time order, the untimed one first; as in the store, the first version is
//! the baseline and each later one whose settings differ becomes a config [`ChangeEvent`] at its
//! time carrying the structured diff (secrets masked). Its service is the name of the first
//! Kubernetes object the diff touches (`Deployment/shop/api:…` → `api`), else the file name's
//! stem.

use std::path::{Path, PathBuf};

use rootline_core::observation::Topology;
use rootline_core::{ChangeEvent, Incident};

pub const INCIDENT_FILE: &str = "incident.json";
pub const LOGS_DIR: &str = "logs";
pub const METRICS_DIR: &str = "metrics";
pub const TRACES_DIR: &str = "traces";
pub const CHANGES_DIR: &str = "changes";
pub const CONFIGS_DIR: &str = "configs";
pub const K8S_DIR: &str = "k8s";
pub const TOPOLOGY_FILE: &str = "topology.json";
pub const TRUTH_FILE: &str = "truth.json";

#[derive(Debug, Clone)]
pub struct Bundle {
    pub root: PathBuf,
    pub incident: Incident,
    /// Log files, sorted by relative path.
    pub log_files: Vec<PathBuf>,
    pub metric_files: Vec<PathBuf>,
    pub trace_files: Vec<PathBuf>,
    pub change_files: Vec<PathBuf>,
    pub config_files: Vec<PathBuf>,
    /// Kubernetes state captures.
    pub k8s_files: Vec<PathBuf>,
    /// The declared topology, when the bundle has a `topology.json`.
    pub topology: Option<Topology>,
    /// Entries not read, each with why: symbolic links (a bundle is read from inside itself
    /// only: a link could point anywhere, and a link to a directory could loop).
    pub skipped: Vec<(PathBuf, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: invalid incident: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Bundle {
    pub fn load(root: &Path) -> Result<Bundle, BundleError> {
        let incident_path = root.join(INCIDENT_FILE);
        let text = std::fs::read_to_string(&incident_path).map_err(|e| BundleError::Read {
            path: incident_path.clone(),
            message: e.to_string(),
        })?;
        let incident: Incident = serde_json::from_str(&text).map_err(|e| BundleError::Invalid {
            path: incident_path.clone(),
            message: e.to_string(),
        })?;
        incident.validate().map_err(|e| BundleError::Invalid {
            path: incident_path.clone(),
            message: e.to_string(),
        })?;
        let mut skipped = Vec::new();
        let mut list = |name: &str, required: bool| -> Result<Vec<PathBuf>, BundleError> {
            let dir = root.join(name);
            let mut files = Vec::new();
            if !required && !dir.exists() {
                return Ok(files);
            }
            collect_files(&dir, &mut files, &mut skipped).map_err(|e| BundleError::Read {
                path: dir.clone(),
                message: e.to_string(),
            })?;
            files.sort();
            Ok(files)
        };
        let log_files = list(LOGS_DIR, false)?;
        let metric_files = list(METRICS_DIR, false)?;
        let trace_files = list(TRACES_DIR, false)?;
        let change_files = list(CHANGES_DIR, false)?;
        let config_files = list(CONFIGS_DIR, false)?;
        let k8s_files = list(K8S_DIR, false)?;
        skipped.sort();
        Ok(Bundle {
            root: root.to_path_buf(),
            incident,
            log_files,
            metric_files,
            trace_files,
            change_files,
            config_files,
            k8s_files,
            topology: load_topology(&root.join(TOPOLOGY_FILE))?,
            skipped,
        })
    }

    /// The provenance label of a bundle file: its path relative to the bundle root.
    pub fn label(&self, file: &Path) -> String {
        file.strip_prefix(&self.root)
            .unwrap_or(file)
            .to_string_lossy()
            .into_owned()
    }
}

/// Reads a topology file ([`Topology`] as JSON); `None` when there is no such file.
pub fn load_topology(path: &Path) -> Result<Option<Topology>, BundleError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(BundleError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| BundleError::Invalid {
            path: path.to_path_buf(),
            message: format!("not a topology (calls, services, hosts): {e}"),
        })
}

fn collect_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<(PathBuf, String)>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // `file_type` does not follow links: a link is seen as a link.
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            skipped.push((
                path,
                "a symbolic link, not read: a bundle is read from inside itself only".into(),
            ));
        } else if kind.is_dir() {
            collect_files(&path, out, skipped)?;
        } else if !entry.file_name().to_string_lossy().starts_with('.') {
            out.push(path);
        }
    }
    Ok(())
}

/// Ingests a bundle into a fresh scratch index and investigates it. The scratch index lives in
/// `scratch` (a temporary directory the caller owns) and is independent of any data dir.
pub async fn investigate_bundle(
    bundle: &Bundle,
    scratch: &Path,
    config: impl Into<crate::EngineConfig>,
) -> Result<(rootline_core::Report, crate::IngestSummary), BundleRunError> {
    let ingested = ingest_bundle(bundle, scratch).await?;
    let report = crate::investigate(
        ingested.sources,
        ingested.templates,
        bundle.incident.clone(),
        config.into(),
    )
    .await?;
    let mut report = report;
    report.missing.extend(skipped_notes(bundle));
    Ok((report, ingested.summary))
}

/// One sentence per bundle entry not read, for the report's `missing`.
pub fn skipped_notes(bundle: &Bundle) -> Vec<String> {
    bundle
        .skipped
        .iter()
        .map(|(path, why)| format!("{}: {why}", bundle.label(path)))
        .collect()
}

/// A bundle ingested into a scratch index, ready for any number of investigations (the
/// evaluation's window jitter re-investigates one bundle with other starts).
#[derive(Clone)]
pub struct IngestedBundle {
    pub sources: crate::Sources,
    pub templates: std::sync::Arc<rootline_templates::TemplateMiner>,
    pub summary: crate::IngestSummary,
}

/// Ingests every part of a bundle (each is optional) into a fresh scratch index in `scratch`.
pub async fn ingest_bundle(
    bundle: &Bundle,
    scratch: &Path,
) -> Result<IngestedBundle, BundleRunError> {
    let index = std::sync::Arc::new(rootline_index::LogIndex::open(&scratch.join("index"))?);
    let templates_path = scratch.join("templates.json");
    // A `kubectl get events` or `describe` capture put in `logs/` is read as Kubernetes state.
    let (k8s_in_logs, log_files): (Vec<PathBuf>, Vec<PathBuf>) = bundle
        .log_files
        .iter()
        .cloned()
        .partition(|f| is_k8s_capture(f));
    let labels = log_files.iter().map(|f| Some(bundle.label(f))).collect();
    let options = crate::IngestOptions {
        service: None,
        labels,
        templates_path: templates_path.clone(),
    };
    let (summary, errors) = crate::ingest_files(index.clone(), log_files, options, |_| {}).await?;
    if let Some(e) = errors.into_iter().next() {
        return Err(BundleRunError::Source(e));
    }
    let spans = if bundle.trace_files.is_empty() {
        None
    } else {
        let spans = std::sync::Arc::new(rootline_index::spans::SpanIndex::open(
            &scratch.join("spans"),
        )?);
        let labels = bundle
            .trace_files
            .iter()
            .map(|f| Some(bundle.label(f)))
            .collect();
        let (_, errors) =
            crate::ingest_span_files(spans.clone(), bundle.trace_files.clone(), labels).await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(BundleRunError::Source(e));
        }
        Some(spans)
    };
    let metrics = if bundle.metric_files.is_empty() {
        None
    } else {
        let metrics = std::sync::Arc::new(rootline_index::metrics::MetricIndex::open(
            &scratch.join("metrics"),
        )?);
        let labels = bundle
            .metric_files
            .iter()
            .map(|f| Some(bundle.label(f)))
            .collect();
        let (_, errors) =
            crate::ingest_metric_files(metrics.clone(), bundle.metric_files.clone(), labels)
                .await?;
        if let Some(e) = errors.into_iter().next() {
            return Err(BundleRunError::Source(e));
        }
        Some(metrics)
    };
    // Kubernetes captures: objects for the cluster signal, container logs and events into the
    // log index. A capture without a time in its name was taken at the incident's end.
    let default_at = bundle
        .incident
        .end
        .unwrap_or(bundle.incident.start)
        .timestamp_nanos_opt();
    let k8s_files: Vec<PathBuf> = bundle
        .k8s_files
        .iter()
        .cloned()
        .chain(k8s_in_logs)
        .collect();
    let cluster = if k8s_files.is_empty() {
        Vec::new()
    } else {
        let root = bundle.root.clone();
        let (index, templates_path) = (index.clone(), templates_path.clone());
        let capture = tokio::task::spawn_blocking(move || {
            // Labelled like every bundle file: its path under the bundle root.
            let label = |p: &Path| {
                p.strip_prefix(&root)
                    .unwrap_or(p)
                    .to_string_lossy()
                    .into_owned()
            };
            let mut capture = crate::cluster::read_captures(&k8s_files, label, default_at)?;
            let records = std::mem::take(&mut capture.records);
            crate::cluster::add_records(&index, &templates_path, records)?;
            Ok::<_, crate::ingest::IngestError>(capture)
        })
        .await
        .map_err(|e| crate::ingest::IngestError::Join(e.to_string()))??;
        capture.items
    };
    let templates = std::sync::Arc::new(crate::load_miner(&templates_path)?);
    let sources = crate::Sources {
        logs: index,
        spans,
        metrics,
        changes: {
            let mut changes = read_change_files(bundle)?;
            changes.extend(config_changes(bundle)?);
            changes
        },
        topology: bundle.topology.clone(),
        cluster,
    };
    Ok(IngestedBundle {
        sources,
        templates,
        summary,
    })
}

/// Whether a file's first 8 KiB are a Kubernetes capture rather than a log (gzip is a log).
fn is_k8s_capture(path: &Path) -> bool {
    use std::io::Read;
    let mut head = vec![0u8; 8192];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head.truncate(n);
    if head.starts_with(&[0x1f, 0x8b]) {
        return false;
    }
    rootline_ingest::k8s::is_capture(&String::from_utf8_lossy(&head))
}

/// Change events of a bundle: JSON lines of `ChangeEvent` in `changes/`.
fn read_change_files(bundle: &Bundle) -> Result<Vec<rootline_core::ChangeEvent>, BundleRunError> {
    let mut out = Vec::new();
    for path in &bundle.change_files {
        let text = std::fs::read_to_string(path).map_err(|e| BundleError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let change = serde_json::from_str(line).map_err(|e| BundleError::Invalid {
                path: path.clone(),
                message: format!("line {}: {e}", i + 1),
            })?;
            out.push(change);
        }
    }
    Ok(out)
}

/// The config change events of a bundle's `configs/` (layout in the module docs), in source
/// then time order.
pub fn config_changes(bundle: &Bundle) -> Result<Vec<ChangeEvent>, BundleError> {
    let configs = bundle.root.join(CONFIGS_DIR);
    // source → versions (time, file); `None` (untimed) sorts first.
    let mut sources: std::collections::BTreeMap<String, Vec<(Option<i64>, PathBuf)>> =
        Default::default();
    for path in &bundle.config_files {
        let rel = path
            .strip_prefix(&configs)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        let (source, ts) = match rel.rsplit_once('@') {
            Some((source, stamp)) if !source.is_empty() => {
                match rootline_core::time::parse_timestamp(stamp) {
                    Some(ts) => (source.to_string(), Some(ts)),
                    None => {
                        return Err(BundleError::Invalid {
                            path: path.clone(),
                            message: format!(
                                "config version time {stamp:?} is neither RFC 3339 nor unix seconds"
                            ),
                        });
                    }
                }
            }
            _ => (rel, None),
        };
        sources.entry(source).or_default().push((ts, path.clone()));
    }
    let mut out = Vec::new();
    for (source, mut versions) in sources {
        versions.sort();
        let label = format!("{CONFIGS_DIR}/{source}");
        let mut previous: Option<rootline_config::FlatConfig> = None;
        let mut version = 0i64;
        for (ts, path) in versions {
            let text = std::fs::read_to_string(&path).map_err(|e| BundleError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let parsed =
                rootline_config::parse_config(&text, Some(&source), None).map_err(|e| {
                    BundleError::Invalid {
                        path: path.clone(),
                        message: e.to_string(),
                    }
                })?;
            let config = parsed.config;
            let Some(old) = previous.as_ref() else {
                version = 1;
                previous = Some(config);
                continue;
            };
            let diff = rootline_config::diff(old, &config);
            if diff.is_empty() {
                continue;
            }
            version += 1;
            // Checked above: only the first version can be untimed.
            let ts = ts.unwrap_or_default();
            let service = diff_service(&diff).unwrap_or_else(|| {
                rootline_ingest::FileReader::service_from_file_name(Path::new(&source))
            });
            out.push(rootline_config::config_change_event(
                &label,
                &service,
                version,
                &config.content_hash(),
                ts,
                &diff,
            ));
            previous = Some(config);
        }
    }
    Ok(out)
}

/// The name of the first Kubernetes object (`Kind/namespace/name:` or `Kind/name:` path prefix)
/// a diff touches.
fn diff_service(diff: &rootline_config::ConfigDiff) -> Option<String> {
    let paths = diff
        .changed
        .iter()
        .map(|c| c.path.as_str())
        .chain(diff.added.iter().map(|a| a.path.as_str()))
        .chain(diff.removed.iter().map(|r| r.path.as_str()));
    paths
        .filter_map(|p| p.split_once(':').map(|(object, _)| object))
        .find_map(|object| {
            // A repeated object is keyed `Kind/ns/name#<document index>`.
            let object = object.split('#').next().unwrap_or(object);
            let parts: Vec<&str> = object.split('/').collect();
            (parts.len() >= 2 && parts.iter().all(|x| !x.is_empty()))
                .then(|| parts[parts.len() - 1].to_string())
        })
}

#[derive(Debug, thiserror::Error)]
pub enum BundleRunError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Index(#[from] rootline_index::IndexError),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error(transparent)]
    Source(#[from] rootline_ingest::SourceError),
    #[error(transparent)]
    Templates(#[from] crate::TemplateStoreError),
    #[error(transparent)]
    Investigate(#[from] crate::InvestigateError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::{ChangeKind, Evidence, EvidenceKind, Report};

    const START: &str = "2024-01-01T00:10:00Z";

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn incident_json(id: &str) -> String {
        serde_json::json!({
            "id": id,
            "title": "checkout failing",
            "description": "",
            "start": START,
            "end": "2024-01-01T00:20:00Z",
            "services": [],
            "alert": null,
            "baseline_windows": [{"start": "2024-01-01T00:00:00Z", "end": START}],
        })
        .to_string()
    }

    fn deployment(image: &str, password: &str, replicas: u32) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: checkout\n  namespace: shop\n\
             spec:\n  replicas: {replicas}\n  template:\n    spec:\n      containers:\n      - name: app\n\
             \x20       image: {image}\n        env:\n        - name: DB_PASSWORD\n          value: {password}\n"
        )
    }

    /// Healthy checkout lines in the baseline, errors in the window.
    fn logs() -> String {
        let mut out = String::new();
        for m in 0..10 {
            out.push_str(&format!(
                "{{\"time\":\"2024-01-01T00:0{m}:05Z\",\"level\":\"info\",\"service\":\"checkout\",\"msg\":\"order {m} placed\"}}\n"
            ));
        }
        for m in 0..10 {
            out.push_str(&format!(
                "{{\"time\":\"2024-01-01T00:1{m}:05Z\",\"level\":\"error\",\"service\":\"checkout\",\"msg\":\"payment gateway timeout for order {m}\"}}\n"
            ));
        }
        out
    }

    fn synthetic_bundle(root: &Path) {
        write(root, INCIDENT_FILE, &incident_json("cfg-1"));
        write(root, "logs/app.jsonl", &logs());
        // Baseline (untimed), a change 4 minutes before onset, then the same settings again.
        write(
            root,
            "configs/k8s/checkout.yaml",
            &deployment("checkout:1.4", "hunter2", 2),
        );
        write(
            root,
            "configs/k8s/checkout.yaml@2024-01-01T00:06:00Z",
            &deployment("checkout:1.5", "correct-horse", 2),
        );
        write(
            root,
            "configs/k8s/checkout.yaml@2024-01-01T00:08:00Z",
            &deployment("checkout:1.5", "correct-horse", 2),
        );
        // One version only: a baseline, no change.
        write(root, "configs/app.env", "LOG_LEVEL=info\n");
    }

    #[test]
    fn config_versions_become_change_events_with_masked_diffs() {
        let dir = tempfile::tempdir().unwrap();
        synthetic_bundle(dir.path());
        let bundle = Bundle::load(dir.path()).unwrap();
        let changes = config_changes(&bundle).unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        let c = &changes[0];
        assert_eq!(c.kind, ChangeKind::Config);
        assert_eq!(c.service, "checkout");
        assert_eq!(
            c.ts_ns,
            rootline_core::time::parse_timestamp("2024-01-01T00:06:00Z").unwrap()
        );
        assert!(
            c.what
                .starts_with("config configs/k8s/checkout.yaml v2: 2 changed"),
            "{}",
            c.what
        );
        let diff = c.diff.as_ref().unwrap();
        assert_eq!(diff["source"], "configs/k8s/checkout.yaml");
        let changed = diff["changed"].as_array().unwrap();
        let image = changed
            .iter()
            .find(|x| x["path"].as_str().unwrap().ends_with("containers[0].image"))
            .unwrap();
        assert_eq!(
            (image["old"].as_str(), image["new"].as_str()),
            (Some("checkout:1.4"), Some("checkout:1.5"))
        );
        // The password changed, and shows as two different fingerprints, never in clear.
        let text = serde_json::to_string(c).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("correct-horse"),
            "{text}"
        );
        assert!(
            changed
                .iter()
                .any(|x| rootline_config::is_mask(x["new"].as_str().unwrap_or("")))
        );
    }

    #[test]
    fn bad_config_version_times_and_contents_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), INCIDENT_FILE, &incident_json("cfg-2"));
        write(dir.path(), "logs/app.jsonl", &logs());
        write(dir.path(), "configs/a.yaml@yesterday", "a: 1\n");
        let bundle = Bundle::load(dir.path()).unwrap();
        let err = config_changes(&bundle).unwrap_err().to_string();
        assert!(
            err.contains("a.yaml@yesterday") && err.contains("RFC 3339"),
            "{err}"
        );

        std::fs::remove_file(dir.path().join("configs/a.yaml@yesterday")).unwrap();
        write(dir.path(), "configs/b.json", "{\"a\": 1}");
        write(
            dir.path(),
            "configs/b.json@2024-01-01T00:05:00Z",
            "{\"a\": ",
        );
        let bundle = Bundle::load(dir.path()).unwrap();
        let err = config_changes(&bundle).unwrap_err().to_string();
        assert!(
            err.contains("b.json@2024-01-01T00:05:00Z") && err.contains("json"),
            "{err}"
        );
    }

    /// Investigates `bundle` in a scratch index; the report and its change evidence.
    async fn investigate_for_change(bundle: &Bundle) -> (Report, Evidence) {
        let scratch = tempfile::tempdir().unwrap();
        let (report, _) =
            investigate_bundle(bundle, scratch.path(), crate::EngineConfig::default())
                .await
                .unwrap();
        let change = report
            .evidence
            .iter()
            .find(|e| e.kind == EvidenceKind::Change)
            .cloned()
            .unwrap_or_else(|| panic!("no change evidence: {:#?}", report.evidence));
        (report, change)
    }

    #[tokio::test]
    async fn config_change_before_onset_reaches_the_ranking() {
        let dir = tempfile::tempdir().unwrap();
        synthetic_bundle(dir.path());
        let bundle = Bundle::load(dir.path()).unwrap();
        let (report, change) = investigate_for_change(&bundle).await;
        assert_eq!(change.entity, "checkout");
        assert!(
            change.summary.contains("checkout:1.4 → checkout:1.5"),
            "{}",
            change.summary
        );
        let top = &report.candidates[0];
        assert_eq!(top.entity, "checkout");
        assert!(top.evidence.contains(&change.id), "{top:?}");
    }

    /// The k8s fault dataset's f1 (memory limit below the runtime's minimum): the reference fix's
    /// manifest as the version before, the faulty manifest applied three minutes before onset,
    /// and the dataset's error event in the window.
    #[tokio::test]
    async fn real_k8s_memory_limit_change_is_a_ranked_finding() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/datasets/k8s_fault_configs/faults/f1");
        if !src.exists() {
            eprintln!("skipping: {} is absent", src.display());
            return;
        }
        let read = |rel: &str| std::fs::read_to_string(src.join(rel)).unwrap();
        let error = read("prompt.txt")
            .lines()
            .find_map(|l| l.strip_prefix("Error: ").map(str::to_string))
            .expect("an Error: line in prompt.txt");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, INCIDENT_FILE, &incident_json("k8s-f1"));
        write(root, "configs/f1.yaml", &read("restore/f1.yaml"));
        write(
            root,
            "configs/f1.yaml@2024-01-01T00:07:00Z",
            &read("inject/f1.yaml"),
        );
        let mut events = String::new();
        for m in [1, 5] {
            events.push_str(&serde_json::json!({"time": format!("2024-01-01T00:0{m}:00Z"), "level": "info", "service": "nginx-f1", "msg": "Started container nginx"}).to_string());
            events.push('\n');
        }
        for s in [30, 90, 210, 450] {
            let t = format!("2024-01-01T00:{:02}:{:02}Z", 10 + s / 60, s % 60);
            events.push_str(&serde_json::json!({"time": t, "level": "warn", "service": "nginx-f1", "msg": error}).to_string());
            events.push('\n');
        }
        write(root, "logs/events.jsonl", &events);

        let bundle = Bundle::load(root).unwrap();
        let (report, change) = investigate_for_change(&bundle).await;
        assert_eq!(change.entity, "nginx-f1");
        // The diff: limits.memory 20Mi → 5Mi and the added 5Mi request.
        assert!(
            change.summary.contains("config configs/f1.yaml v2"),
            "{}",
            change.summary
        );
        assert!(
            change
                .summary
                .contains("resources.limits.memory 20Mi → 5Mi"),
            "{}",
            change.summary
        );
        let cited = report
            .candidates
            .iter()
            .find(|c| c.evidence.contains(&change.id))
            .unwrap_or_else(|| {
                panic!("no candidate cites {}: {:#?}", change.id, report.candidates)
            });
        assert_eq!(cited.entity, "nginx-f1");
        assert_eq!(cited.fault_type, rootline_core::FaultType::ConfigChange);
    }
}
