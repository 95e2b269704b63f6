//! Metric series: the points of one series key, in time order. The index returns them for a
//! time range and the metric signals compare a window's series with the baseline's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::MetricPoint;

/// All points of one series (same name and labels) in a time range, sorted by time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The canonical series key, `name{k="v",...}` (see [`crate::series_key`]).
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub entity: Option<String>,
    /// `(unix ns, value)`, sorted by time, one value per timestamp.
    pub points: Vec<(i64, f64)>,
}

impl Series {
    /// Groups points by series key. Each series is sorted by time; when two points share a
    /// timestamp the later one in the input wins (the same rule as the index's upsert).
    /// Series come out sorted by key.
    pub fn from_points(points: impl IntoIterator<Item = MetricPoint>) -> Vec<Series> {
        let mut by_key: BTreeMap<String, (Series, BTreeMap<i64, f64>)> = BTreeMap::new();
        for p in points {
            let key = p.series_key();
            let entry = by_key.entry(key.clone()).or_insert_with(|| {
                (
                    Series {
                        key,
                        name: p.name.clone(),
                        labels: p.labels.clone(),
                        entity: p.entity.clone(),
                        points: Vec::new(),
                    },
                    BTreeMap::new(),
                )
            });
            entry.1.insert(p.ts_ns, p.value);
        }
        by_key
            .into_values()
            .map(|(mut s, pts)| {
                s.points = pts.into_iter().collect();
                s
            })
            .collect()
    }

    /// The same series restricted to `[start_ns, end_ns)`.
    pub fn slice(&self, start_ns: i64, end_ns: i64) -> Series {
        let lo = self.points.partition_point(|p| p.0 < start_ns);
        let hi = self.points.partition_point(|p| p.0 < end_ns);
        Series {
            key: self.key.clone(),
            name: self.name.clone(),
            labels: self.labels.clone(),
            entity: self.entity.clone(),
            points: self.points[lo..hi.max(lo)].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(name: &str, pod: &str, ts: i64, value: f64) -> MetricPoint {
        let mut labels = BTreeMap::new();
        labels.insert("pod".to_string(), pod.to_string());
        MetricPoint {
            name: name.into(),
            labels,
            entity: Some("api".into()),
            ts_ns: ts,
            value,
        }
    }

    #[test]
    fn groups_sorts_and_dedups() {
        let series = Series::from_points(vec![
            point("cpu", "a", 30, 3.0),
            point("cpu", "a", 10, 1.0),
            point("mem", "a", 10, 9.0),
            point("cpu", "a", 30, 4.0),
            point("cpu", "b", 20, 2.0),
        ]);
        let keys: Vec<&str> = series.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![r#"cpu{pod="a"}"#, r#"cpu{pod="b"}"#, r#"mem{pod="a"}"#]
        );
        assert_eq!(series[0].points, vec![(10, 1.0), (30, 4.0)]);
        assert_eq!(series[0].slice(0, 30).points, vec![(10, 1.0)]);
        assert_eq!(series[0].slice(11, 31).points, vec![(30, 4.0)]);
        assert!(series[0].slice(40, 10).points.is_empty());
    }
}
