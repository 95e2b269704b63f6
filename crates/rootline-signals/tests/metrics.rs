//! Metric signals on the real Nezha TrainTicket metrics: the per-pod metric files of the
//! incident day, parsed by `rootline_ingest::metrics`, cut into a window (injection → +3 min)
//! and a baseline (the 30 minutes before, ending a minute before the injection).
//!
//! Ground truth (`cases.jsonl`) is read only to pick windows and to score; the signals see the
//! metric series alone. Skips with a message when the dataset is absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rootline_core::Series;
use rootline_ingest::metrics::{MetricFormat, MetricItem, MetricReadOptions, read_metrics};
use rootline_signals::{Finding, MetricSignalConfig, metric_findings};

const MINUTE: i64 = 60_000_000_000;

fn dataset() -> Option<PathBuf> {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/nezha_trainticket"
    ));
    if p.join("cases.jsonl").is_file() {
        Some(p.to_path_buf())
    } else {
        eprintln!(
            "skipping: the Nezha dataset is absent at {} (it lives in ../shared/datasets)",
            p.display()
        );
        None
    }
}

#[derive(Debug, Clone)]
struct Case {
    id: String,
    inject_ns: i64,
    root_cause: String,
    fault_type: String,
    metric_dir: String,
}

fn cases(dir: &Path) -> Vec<Case> {
    std::fs::read_to_string(dir.join("cases.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            Case {
                id: s("case_id"),
                inject_ns: v["inject_unix_utc"].as_i64().unwrap() * 1_000_000_000,
                root_cause: s("root_cause_service"),
                fault_type: s("fault_type"),
                metric_dir: s("metric_dir"),
            }
        })
        .collect()
}

fn read_series(paths: &[PathBuf]) -> Vec<Series> {
    let mut points = Vec::new();
    let mut rejected = 0;
    for path in paths {
        let label = path.file_name().unwrap().to_string_lossy().into_owned();
        let options = MetricReadOptions {
            format: Some(MetricFormat::Csv),
            ..Default::default()
        };
        for item in read_metrics(path, &label, options).unwrap() {
            match item.unwrap() {
                MetricItem::Point(p) => points.push(p),
                MetricItem::Rejected(r) => {
                    rejected += 1;
                    eprintln!("rejected {r}");
                }
            }
        }
    }
    assert_eq!(rejected, 0, "the Nezha metric files parse without rejects");
    Series::from_points(points)
}

/// Every pod series of a day's metric directory (the frontend SLI file names no pod).
fn day_series(dir: &Path, metric_dir: &str) -> &'static [Series] {
    static DAYS: OnceLock<std::sync::Mutex<BTreeMap<String, &'static [Series]>>> = OnceLock::new();
    let days = DAYS.get_or_init(Default::default);
    let mut days = days.lock().unwrap();
    if let Some(s) = days.get(metric_dir) {
        return s;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(metric_dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_metric.csv.gz"))
        .collect();
    files.sort();
    let series: &'static [Series] = Box::leak(read_series(&files).into_boxed_slice());
    days.insert(metric_dir.to_string(), series);
    series
}

fn cut(series: &[Series], from: i64, to: i64) -> Vec<Series> {
    series
        .iter()
        .map(|s| s.slice(from, to))
        .filter(|s| !s.points.is_empty())
        .collect()
}

/// Window = [inject, inject + 3 min); baseline = [inject − 1 min − baseline_minutes, inject − 1 min).
fn findings_for(all: &[Series], inject: i64, baseline_minutes: i64) -> Vec<Finding> {
    let window = cut(all, inject, inject + 3 * MINUTE);
    let baseline = cut(
        all,
        inject - (1 + baseline_minutes) * MINUTE,
        inject - MINUTE,
    );
    metric_findings(&window, &baseline, &MetricSignalConfig::default())
}

/// Entities by summed contribution, highest first.
fn entity_ranking(findings: &[Finding]) -> Vec<(String, f64)> {
    let mut by: BTreeMap<&str, f64> = BTreeMap::new();
    for f in findings {
        *by.entry(f.evidence.entity.as_str()).or_default() += f.contribution;
    }
    let mut v: Vec<(String, f64)> = by.into_iter().map(|(e, s)| (e.to_string(), s)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn case(dir: &Path, id: &str) -> Case {
    cases(dir).into_iter().find(|c| c.id == id).unwrap()
}

#[test]
fn cpu_contention_puts_the_culprits_cpu_on_top() {
    let Some(dir) = dataset() else { return };
    for id in ["tt-2023-01-29-1542", "tt-2023-01-29-1331"] {
        let c = case(&dir, id);
        assert_eq!(c.fault_type, "cpu_contention");
        let all = day_series(&dir, &c.metric_dir);
        let findings = findings_for(all, c.inject_ns, 30);
        for f in findings.iter().take(5) {
            eprintln!("{id}: {:.2} {}", f.contribution, f.evidence.summary);
        }
        let top3: Vec<&Finding> = findings.iter().take(3).collect();
        assert!(
            top3.iter().any(|f| f.evidence.entity == c.root_cause
                && f.evidence.summary.starts_with("CpuUsage")
                && f.fault == rootline_core::FaultType::Cpu),
            "{id}: the CPU of {} is not among the top findings",
            c.root_cause
        );
        let ranking = entity_ranking(&findings);
        assert_eq!(ranking[0].0, c.root_cause, "{id}: {ranking:?}");
    }
}

#[test]
fn a_quiet_hour_gives_no_strong_findings() {
    let Some(dir) = dataset() else { return };
    let c = case(&dir, "tt-2023-01-29-1542");
    let all = day_series(&dir, &c.metric_dir);
    let incident = findings_for(all, c.inject_ns, 60);
    let incident_top = entity_ranking(&incident)[0].1;
    // An hour before the injection, against the hour before that: a few metrics wobble (3
    // samples of ~870 series are judged), but nothing comes near the incident.
    let quiet = findings_for(all, c.inject_ns - 60 * MINUTE, 60);
    for f in quiet.iter().take(5) {
        eprintln!("quiet: {:.2} {}", f.contribution, f.evidence.summary);
    }
    let quiet_ranking = entity_ranking(&quiet);
    eprintln!(
        "quiet top entities {:?}",
        &quiet_ranking[..quiet_ranking.len().min(3)]
    );
    eprintln!("incident top entity score {incident_top:.1}");
    let quiet_top = quiet_ranking.first().map_or(0.0, |e| e.1);
    assert!(
        quiet_top < incident_top / 2.0,
        "quiet top entity {quiet_top:.1} vs incident {incident_top:.1}"
    );
    assert!(
        quiet
            .iter()
            .all(|f| f.evidence.strength < 0.99 || f.contribution < 3.0),
        "a strong finding in a quiet hour"
    );
}

/// The importer's merged `metrics.csv.gz` reads back into the same series as the raw files.
#[test]
fn importer_output_gives_the_same_findings() {
    let Some(dir) = dataset() else { return };
    let c = case(&dir, "tt-2023-01-29-1542");
    let out = tempfile::tempdir().unwrap();
    let from = c.inject_ns - 31 * MINUTE;
    let to = c.inject_ns + 3 * MINUTE;
    let n = rootline_import::nezha_metrics::write_case_metrics(
        &dir,
        &c.metric_dir,
        from,
        to,
        out.path(),
    )
    .unwrap();
    let imported = read_series(&[out.path().join("metrics.csv.gz")]);
    let points: usize = imported.iter().map(|s| s.points.len()).sum();
    assert_eq!(points as u64, n);
    let frontend: Vec<&Series> = imported.iter().filter(|s| s.entity.is_none()).collect();
    assert!(!frontend.is_empty() && frontend.iter().all(|s| s.labels["Scope"] == "frontend"));
    let raw = cut(day_series(&dir, &c.metric_dir), from, to + 1);
    let pods: Vec<Series> = imported
        .into_iter()
        .filter(|s| s.entity.is_some())
        .collect();
    assert_eq!(pods, raw);
    assert_eq!(
        findings_for(&pods, c.inject_ns, 30),
        findings_for(&raw, c.inject_ns, 30)
    );
}

/// The number the lead asked for: over every case, how often the root-cause service is the
/// top-1 / top-3 entity by summed metric-finding contribution, per fault type.
#[test]
fn all_cases_report() {
    let Some(dir) = dataset() else { return };
    let all_cases = cases(&dir);
    for baseline_minutes in [30, 60] {
        let mut table: BTreeMap<String, (u32, u32, u32, u32)> = BTreeMap::new();
        for c in &all_cases {
            let all = day_series(&dir, &c.metric_dir);
            let findings = findings_for(all, c.inject_ns, baseline_minutes);
            let ranking = entity_ranking(&findings);
            let pos = ranking.iter().position(|(e, _)| *e == c.root_cause);
            let row = table.entry(c.fault_type.clone()).or_default();
            row.0 += 1;
            row.1 += u32::from(pos == Some(0));
            row.2 += u32::from(pos.is_some_and(|p| p < 3));
            row.3 += u32::from(pos.is_some());
            eprintln!(
                "[{baseline_minutes}m] {} {:<15} {:<30} rank {:>4}  top: {}",
                c.id,
                c.fault_type,
                c.root_cause,
                pos.map_or("-".to_string(), |p| (p + 1).to_string()),
                ranking
                    .iter()
                    .take(3)
                    .map(|(e, s)| format!("{e} {s:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if std::env::var_os("METRIC_REPORT_VERBOSE").is_some() {
                let baseline = cut(
                    all,
                    c.inject_ns - (1 + baseline_minutes) * MINUTE,
                    c.inject_ns - MINUTE,
                );
                let noise = rootline_signals::metrics::family_noise(
                    &baseline,
                    &MetricSignalConfig::default(),
                );
                eprintln!("      noise {noise:.3?}");
                for f in findings.iter().take(4) {
                    eprintln!("      {:.2} {}", f.contribution, f.evidence.summary);
                }
            }
        }
        let (mut n, mut t1, mut t3) = (0, 0, 0);
        for (fault, (cases, top1, top3, any)) in &table {
            eprintln!(
                "[{baseline_minutes}m baseline] {fault:<15} cases {cases:>2}  top-1 {top1:>2}  top-3 {top3:>2}  with any finding {any:>2}"
            );
            n += cases;
            t1 += top1;
            t3 += top3;
        }
        eprintln!(
            "[{baseline_minutes}m baseline] all             cases {n:>2}  top-1 {t1:>2}  top-3 {t3:>2}"
        );
        if baseline_minutes == 30 {
            let cpu = table["cpu_contention"];
            assert!(cpu.1 >= 4, "cpu_contention top-1 {} of {}", cpu.1, cpu.0);
        }
    }
}
