//! The metric index on disk: round trip, idempotent re-ingest, range and entity filters,
//! reopening, and series spread over several segments.

use std::collections::BTreeMap;
use std::time::Instant;

use rootline_core::MetricPoint;
use rootline_index::metrics::MetricIndex;

const MINUTE: i64 = 60_000_000_000;
const T0: i64 = 1_674_981_670_000_000_000;

fn point(name: &str, pod: &str, service: &str, minute: i64, value: f64) -> MetricPoint {
    let mut labels = BTreeMap::new();
    labels.insert("PodName".to_string(), pod.to_string());
    MetricPoint {
        name: name.into(),
        labels,
        entity: Some(service.into()),
        ts_ns: T0 + minute * MINUTE,
        value,
    }
}

fn day() -> Vec<MetricPoint> {
    let mut out = Vec::new();
    for minute in 0..60 {
        for (pod, service) in [
            ("ts-preserve-service-b5ccf8557-j4txs", "ts-preserve-service"),
            (
                "ts-contacts-service-866bd68c97-xcqfx",
                "ts-contacts-service",
            ),
        ] {
            out.push(point(
                "CpuUsageRate(%)",
                pod,
                service,
                minute,
                minute as f64,
            ));
            out.push(point("MemoryUsage(Mi)", pod, service, minute, 440.0));
        }
    }
    out
}

#[test]
fn round_trip_upsert_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    {
        let index = MetricIndex::open(dir.path()).unwrap();
        let mut w = index.writer().unwrap();
        for p in day() {
            w.add(&p).unwrap();
        }
        w.commit().unwrap();
        assert_eq!(index.count(None, None).unwrap(), 240);

        // Re-ingest the same points (one with a corrected value): no duplicates, last wins.
        let mut again = day();
        again[0].value = 99.0;
        for p in &again {
            w.add(p).unwrap();
        }
        // A point added twice within one commit also stays one document.
        w.add(&again[1]).unwrap();
        w.commit().unwrap();
        assert_eq!(index.count(None, None).unwrap(), 240);
    }

    // Reopen: everything committed is still there.
    let index = MetricIndex::open(dir.path()).unwrap();
    assert_eq!(index.count(None, None).unwrap(), 240);

    let all = index.series((T0, T0 + 60 * MINUTE), None).unwrap();
    assert_eq!(all.len(), 4);
    for s in &all {
        assert_eq!(s.points.len(), 60, "{}", s.key);
        assert!(s.points.windows(2).all(|w| w[0].0 < w[1].0));
    }
    let cpu = all
        .iter()
        .find(|s| s.key == r#"CpuUsageRate(%){PodName="ts-preserve-service-b5ccf8557-j4txs"}"#)
        .unwrap();
    assert_eq!(cpu.points[0], (T0, 99.0));
    assert_eq!(cpu.points[59], (T0 + 59 * MINUTE, 59.0));
    assert_eq!(cpu.name, "CpuUsageRate(%)");
    assert_eq!(cpu.entity.as_deref(), Some("ts-preserve-service"));
    assert_eq!(cpu.labels["PodName"], "ts-preserve-service-b5ccf8557-j4txs");

    // Range is [start, end): minutes 10..13 → 3 points per series.
    let window = index
        .series(
            (T0 + 10 * MINUTE, T0 + 13 * MINUTE),
            Some("ts-contacts-service"),
        )
        .unwrap();
    assert_eq!(window.len(), 2);
    assert!(
        window
            .iter()
            .all(|s| s.entity.as_deref() == Some("ts-contacts-service"))
    );
    let cpu = window.iter().find(|s| s.name == "CpuUsageRate(%)").unwrap();
    assert_eq!(
        cpu.points,
        vec![
            (T0 + 10 * MINUTE, 10.0),
            (T0 + 11 * MINUTE, 11.0),
            (T0 + 12 * MINUTE, 12.0)
        ]
    );
    assert!(index.series((0, T0), None).unwrap().is_empty());
    assert!(
        index
            .series((T0, T0 + MINUTE), Some("no-such-service"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        index
            .count(Some((T0, T0 + 2 * MINUTE)), Some("ts-preserve-service"))
            .unwrap(),
        4
    );
}

#[test]
fn series_spread_over_segments_merge_in_time_order() {
    let index = MetricIndex::in_memory().unwrap();
    let mut w = index.writer().unwrap();
    // Newest first, one commit each: every series is split across many segments.
    for minute in (0..20).rev() {
        w.add(&point("cpu", "api-0", "api", minute, minute as f64))
            .unwrap();
        w.commit().unwrap();
    }
    let series = index.series((T0, T0 + 20 * MINUTE), None).unwrap();
    assert_eq!(series.len(), 1);
    let minutes: Vec<f64> = series[0].points.iter().map(|p| p.1).collect();
    assert_eq!(minutes, (0..20).map(|m| m as f64).collect::<Vec<_>>());
}

/// Not a benchmark, a smoke test with timings: a day of per-pod 1-minute metrics for 46 pods
/// (about one Nezha day, 1.3 M points; two hours of it in debug builds), written twice (the
/// second time every point is an upsert), then a window scan.
#[test]
fn a_day_of_pod_metrics_scans_fast() {
    let minutes = if cfg!(debug_assertions) { 120 } else { 1440 };
    let dir = tempfile::tempdir().unwrap();
    let index = MetricIndex::open(dir.path()).unwrap();
    let mut w = index.writer().unwrap();
    let started = Instant::now();
    let mut n = 0u64;
    for pod in 0..46 {
        let pod_name = format!("svc{pod}-0");
        let service = format!("svc{pod}");
        for metric in 0..19 {
            let name = format!("metric_{metric}");
            for minute in 0..minutes {
                w.add(&point(
                    &name,
                    &pod_name,
                    &service,
                    minute,
                    (minute % 7) as f64,
                ))
                .unwrap();
                n += 1;
            }
        }
    }
    w.commit().unwrap();
    let write = started.elapsed();
    let started = Instant::now();
    for pod in 0..46 {
        for metric in 0..19 {
            for minute in 0..minutes {
                let p = point(
                    &format!("metric_{metric}"),
                    &format!("svc{pod}-0"),
                    &format!("svc{pod}"),
                    minute,
                    1.0,
                );
                w.add(&p).unwrap();
            }
        }
    }
    w.commit().unwrap();
    let rewrite = started.elapsed();
    assert_eq!(index.count(None, None).unwrap(), n);
    let bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let started = Instant::now();
    let series = index
        .series((T0 + 30 * MINUTE, T0 + 93 * MINUTE), None)
        .unwrap();
    let scan = started.elapsed();
    assert_eq!(series.len(), 46 * 19);
    assert!(series.iter().all(|s| s.points.len() == 63));
    assert!(series.iter().all(|s| s.points.iter().all(|p| p.1 == 1.0)));
    eprintln!(
        "{n} points: write+commit {write:?}, rewrite (all upserts) {rewrite:?}, \
         {:.1} bytes/point on disk, 63-minute scan of every series {scan:?}",
        bytes as f64 / n as f64
    );
}
