//! Trace signals on the real Nezha TrainTicket cases: spans parsed by rootline-ingest, aggregated
//! with rootline-core, window (from the injection second) against baseline (the part of the
//! first file before injection plus the day's fault-free window).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rootline_core::{Span, SpanFacts, TraceAggregates, aggregate_spans, span_key};
use rootline_ingest::spans::{SpanItem, SpanReader};
use rootline_signals::{TraceSignalConfig, trace_findings};

fn datasets() -> Option<PathBuf> {
    let p = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets"
    ))
    .join("nezha_trainticket");
    if p.join("cases.jsonl").exists() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} is absent (needs ../shared/datasets next to the repo)",
            p.display()
        );
        None
    }
}

struct Case {
    id: String,
    inject_ns: i64,
    root_cause: String,
    fault: String,
    trace_files: Vec<String>,
    baseline_dir: String,
}

fn cases(root: &Path) -> Vec<Case> {
    std::fs::read_to_string(root.join("cases.jsonl"))
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
                fault: s("fault_type"),
                trace_files: v["trace_files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect(),
                baseline_dir: s("baseline_dir"),
            }
        })
        .collect()
}

fn read_spans(path: &Path) -> Vec<Span> {
    let mut out = Vec::new();
    let mut rejected = 0;
    for item in SpanReader::open(path, path.display().to_string()).unwrap() {
        match item.unwrap() {
            SpanItem::Span(s) => out.push(s),
            SpanItem::Rejected(_) => rejected += 1,
        }
    }
    assert_eq!(rejected, 0, "{}", path.display());
    out
}

fn aggregate(spans: &[&Span]) -> TraceAggregates {
    let mut names: Vec<String> = Vec::new();
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let facts: Vec<SpanFacts<String>> = spans
        .iter()
        .map(|s| {
            let service = *ids.entry(s.service.as_str()).or_insert_with(|| {
                names.push(s.service.clone());
                (names.len() - 1) as u32
            });
            SpanFacts {
                key: span_key(&s.trace_id, &s.span_id),
                parent_key: s
                    .parent_span_id
                    .as_deref()
                    .map(|p| span_key(&s.trace_id, p)),
                service,
                start_ns: s.start_ns,
                duration_ns: s.duration_ns,
                status: s.status,
                example: s.evidence_id.clone(),
            }
        })
        .collect();
    aggregate_spans(&facts, &names, 3, |e| Some(e.clone()))
}

/// Services by summed trace-finding contribution, best first.
fn ranked(root: &Path, case: &Case) -> Vec<(String, f64)> {
    let mut window_spans = Vec::new();
    let mut baseline_spans = Vec::new();
    for (i, f) in case.trace_files.iter().enumerate() {
        for s in read_spans(&root.join(f)) {
            if s.start_ns >= case.inject_ns {
                window_spans.push(s);
            } else if i == 0 {
                baseline_spans.push(s);
            }
        }
    }
    let dir = root.join(&case.baseline_dir).join("trace");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files {
            baseline_spans.extend(read_spans(&f));
        }
    }
    let window = aggregate(&window_spans.iter().collect::<Vec<_>>());
    let baseline = aggregate(&baseline_spans.iter().collect::<Vec<_>>());
    let findings = trace_findings(&window, &baseline, &TraceSignalConfig::default());
    for f in &findings {
        assert!(f.evidence.id.starts_with("sig-trace-"));
        assert!(!f.evidence.summary.is_empty());
        assert!(f.contribution > 0.0);
    }
    let mut by: BTreeMap<String, f64> = BTreeMap::new();
    for f in &findings {
        *by.entry(f.evidence.entity.clone()).or_default() += f.contribution;
    }
    let mut v: Vec<(String, f64)> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn position(ranking: &[(String, f64)], service: &str) -> Option<usize> {
    ranking.iter().position(|(s, _)| s == service)
}

#[test]
fn network_delay_root_cause_ranks_in_top_three() {
    let Some(root) = datasets() else { return };
    let all = cases(&root);
    let mut checked = 0;
    for id in ["tt-2023-01-30-1344", "tt-2023-01-30-1400"] {
        let case = all.iter().find(|c| c.id == id).unwrap();
        let ranking = ranked(&root, case);
        let pos = position(&ranking, &case.root_cause);
        assert!(
            pos.is_some_and(|p| p < 3),
            "{id}: {} at {pos:?} in {ranking:?}",
            case.root_cause
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}

/// Top-1 / top-3 of the true root-cause service by summed trace-finding contribution over every
/// case, by fault type. Run with `--nocapture` to see the table.
#[test]
fn all_cases_accuracy_by_fault_type() {
    let Some(root) = datasets() else { return };
    let mut table: BTreeMap<String, (u32, u32, u32)> = BTreeMap::new();
    for case in cases(&root) {
        let ranking = ranked(&root, &case);
        let pos = position(&ranking, &case.root_cause);
        eprintln!(
            "{} {:<15} {:<30} rank {:>4}  top: {}",
            case.id,
            case.fault,
            case.root_cause,
            pos.map_or("-".to_string(), |p| (p + 1).to_string()),
            ranking
                .iter()
                .take(3)
                .map(|(s, c)| format!("{s} {c:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let e = table.entry(case.fault.clone()).or_default();
        e.0 += 1;
        e.1 += u32::from(pos == Some(0));
        e.2 += u32::from(pos.is_some_and(|p| p < 3));
    }
    let (mut n, mut t1, mut t3) = (0, 0, 0);
    for (fault, (c, a1, a3)) in &table {
        eprintln!("{fault:<15} cases {c:>2}  top-1 {a1:>2}  top-3 {a3:>2}");
        n += c;
        t1 += a1;
        t3 += a3;
    }
    eprintln!("{:<15} cases {n:>2}  top-1 {t1:>2}  top-3 {t3:>2}", "all");
    assert_eq!(n, 32);
    // Network delays are what traces see best: the gap between a caller's client span and the
    // callee's server span moves, and nothing else explains it.
    let (c, _, a3) = table["network_delay"];
    assert!(a3 * 10 >= c * 8, "network_delay top-3 {a3}/{c}");
}
