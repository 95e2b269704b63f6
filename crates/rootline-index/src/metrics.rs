//! The metric store: a second tantivy index, in its own directory, with one document per
//! [`MetricPoint`].
//!
//! Decision: metric points live in a separate tantivy index whose every queried field is a
//! fast field (columnar), rather than in a hand-written columnar side store or in the log
//! index. The read path an investigation needs is "every series of the window and of the
//! baseline, optionally for one entity", which is a range scan over `ts` followed by columnar
//! reads of `series`, `ts` and `value`; tantivy's fast fields are exactly that column store
//! (bit-packed numbers, dictionary-encoded strings), and its inverted index gives the time-range
//! and entity filters, segment merging, crash-safe commits and deletes for free. An upsert keyed
//! by `(series, ts)` makes re-ingest idempotent, which a side store would have to reimplement
//! (with its own compaction and durability story). A separate index keeps metric documents out
//! of log searches and counts, lets metrics be dropped or rebuilt on their own, and keeps
//! tantivy inside this crate. The cost was 20–30 bytes per point on disk, measured before the
//! per-point id and the stored labels were dropped (so now less: a day of 46
//! pods × 19 metrics at 1-minute resolution, 1.26 M points, is ~30 MB; a delta-encoded
//! time-series store needs a few bytes), fine at the scale of incident investigations (millions
//! of points), not for long-term monitoring retention, which stays in Prometheus.
//!
//! Schema: `series` and `entity` (strings, indexed and fast), `name` (fast string), `labels`
//! (JSON text, fast), `ts` (i64, indexed and fast), `value` (f64, fast). A point is keyed by
//! (`series`, `ts`): upserts delete by those two terms. Nothing is stored: every value is read
//! from the fast-field columns, and strings are resolved once per series, not per point. No
//! field is unique per point: a per-point term (the `point_id` of indexes written before) costs
//! a term dictionary as large as the data at every commit. Such older indexes still open.
//!
//! Threading: blocking, like the log index; async callers use `spawn_blocking`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;

use rootline_core::{MetricPoint, Series};
use tantivy::collector::{Collector, Count, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery, TermSetQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STRING, Schema};
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, Score, SegmentOrdinal, SegmentReader, TantivyDocument,
    Term,
};

use crate::IndexError;

#[derive(Clone, Copy)]
struct Fields {
    series: Field,
    name: Field,
    entity: Field,
    labels: Field,
    ts: Field,
    value: Field,
}

fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field("series", STRING | FAST);
    b.add_text_field("name", FAST);
    b.add_text_field("entity", STRING | FAST);
    b.add_text_field("labels", FAST);
    b.add_i64_field("ts", INDEXED | FAST);
    b.add_f64_field("value", FAST);
    b.build()
}

impl Fields {
    /// The fields of an index's own schema, by name.
    fn of(schema: &Schema, dir: &str) -> Result<Fields, IndexError> {
        let field = |name: &str| crate::required_field(schema, name, dir, "metric");
        Ok(Fields {
            series: field("series")?,
            name: field("name")?,
            entity: field("entity")?,
            labels: field("labels")?,
            ts: field("ts")?,
            value: field("value")?,
        })
    }
}

/// A point's identity within a flush: FNV-1a of the series key, then the timestamp. Never
/// indexed; a series-hash collision only makes a flush treat two series' points at the very same
/// nanosecond as one (deletes themselves name the exact series).
fn point_id(series: &str, ts_ns: i64) -> u128 {
    compose_id(series_hash(series), ts_ns)
}

fn series_hash(series: &str) -> u64 {
    rootline_core::hash::fnv1a(series.bytes())
}

fn compose_id(series_hash: u64, ts_ns: i64) -> u128 {
    ((series_hash as u128) << 64) | (ts_ns as u64 as u128)
}

fn hash_of(id: u128) -> u64 {
    (id >> 64) as u64
}

fn ts_of(id: u128) -> i64 {
    id as u64 as i64
}

/// The metric index. Open it once per process; it has a single writer.
pub struct MetricIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl MetricIndex {
    /// Opens the metric index in `dir`, creating it (and the directory) when missing. Use a
    /// directory of its own, not the log index's.
    pub fn open(dir: &Path) -> Result<MetricIndex, IndexError> {
        let index = crate::open_dir(dir, schema())?;
        let fields = Fields::of(&index.schema(), &dir.display().to_string())?;
        MetricIndex::from_index(index, fields)
    }

    /// An in-memory metric index, for tests and benchmarks.
    pub fn in_memory() -> Result<MetricIndex, IndexError> {
        let schema = schema();
        let fields = Fields::of(&schema, "(memory)")?;
        MetricIndex::from_index(Index::create_in_ram(schema), fields)
    }

    fn from_index(index: Index, fields: Fields) -> Result<MetricIndex, IndexError> {
        let reader = crate::manual_reader(&index)?;
        Ok(MetricIndex {
            index,
            reader,
            fields,
        })
    }

    /// The single writer. Points become visible (and durable) at [`MetricWriter::commit`].
    pub fn writer(&self) -> Result<MetricWriter<'_>, IndexError> {
        self.writer_with_heap(crate::METRIC_WRITER_HEAP)
    }

    /// The single writer with an indexing heap of `heap` bytes (at least 15 MB).
    pub fn writer_with_heap(&self, heap: usize) -> Result<MetricWriter<'_>, IndexError> {
        let writer = crate::open_writer(&self.index, heap)?;
        Ok(MetricWriter {
            owner: self,
            writer,
            pending: 0,
            buffer: Vec::new(),
            flush_points: FLUSH_POINTS,
            added: HashMap::new(),
            last_labels: None,
        })
    }

    /// Ids of the committed points of `series` with `ts` in `[start, end)`.
    fn point_ids<'s>(
        &self,
        range_ns: (i64, i64),
        series: impl IntoIterator<Item = &'s str>,
    ) -> Result<HashSet<u128>, IndexError> {
        let f = self.fields;
        let terms: Vec<Term> = series
            .into_iter()
            .map(|s| Term::from_field_text(f.series, s))
            .collect();
        let query = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.ts, range_ns.0)),
                    Bound::Excluded(Term::from_field_i64(f.ts, range_ns.1)),
                )) as Box<dyn Query>,
            ),
            (Occur::Must, Box::new(TermSetQuery::new(terms))),
        ]);
        Ok(self.reader.searcher().search(&query, &PointIdCollector)?)
    }

    fn reload(&self) -> Result<(), IndexError> {
        self.reader.reload()?;
        Ok(())
    }

    /// Points with `ts` in `[start, end)` (all points when `range_ns` is `None`), optionally of
    /// one entity.
    pub fn count(
        &self,
        range_ns: Option<(i64, i64)>,
        entity: Option<&str>,
    ) -> Result<u64, IndexError> {
        let query = self.query(range_ns, entity);
        Ok(self.reader.searcher().search(&query, &Count)? as u64)
    }

    /// Every series with points in `[start, end)`, optionally only those of `entity`, each with
    /// its points in that range sorted by time. Series are sorted by key.
    pub fn series(
        &self,
        range_ns: (i64, i64),
        entity: Option<&str>,
    ) -> Result<Vec<Series>, IndexError> {
        let query = self.query(Some(range_ns), entity);
        let searcher = self.reader.searcher();
        let fruit = searcher.search(&query, &SeriesCollector)?;
        let mut out = Vec::with_capacity(fruit.len());
        for (key, acc) in fruit {
            let labels: BTreeMap<String, String> = if acc.labels.is_empty() {
                BTreeMap::new()
            } else {
                serde_json::from_str(&acc.labels).map_err(|_| IndexError::Corrupt("labels"))?
            };
            let mut points = acc.points;
            points.sort_by_key(|p| p.0);
            // Upserts leave one document per (series, ts); this only guards against a crash
            // between a delete and its add being replayed oddly.
            points.dedup_by_key(|p| p.0);
            out.push(Series {
                key,
                name: acc.name,
                labels,
                entity: acc.entity,
                points,
            });
        }
        Ok(out)
    }

    fn query(&self, range_ns: Option<(i64, i64)>, entity: Option<&str>) -> Box<dyn Query> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some((start, end)) = range_ns {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.ts, start)),
                    Bound::Excluded(Term::from_field_i64(f.ts, end)),
                )),
            ));
        }
        if let Some(entity) = entity {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.entity, entity),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        }
    }
}

/// Points buffered before the existing-point check and the hand-off to tantivy.
const FLUSH_POINTS: usize = 100_000;

/// Adds points; nothing is visible or durable until [`MetricWriter::commit`].
///
/// Upsert without paying for a delete per point: tantivy applies every delete to every segment
/// at commit, and one term delete per point made a fresh ingest 2.7× slower and a full
/// re-ingest 5× slower. Points are buffered; a flush scans the committed index over the
/// buffer's time range for the `(series, ts)` already present. A fresh series needs no delete.
/// A series whose committed points in the buffer's range are all being rewritten gets one
/// range delete (series, first ts..last ts). Anything else (a partial overlap, or a point
/// already handed to tantivy since the last commit, which searches cannot see yet) gets a term
/// delete per point.
pub struct MetricWriter<'a> {
    owner: &'a MetricIndex,
    writer: IndexWriter,
    pending: u64,
    buffer: Vec<Buffered>,
    flush_points: usize,
    /// Per series hash, the ts range handed to tantivy since the last commit.
    added: HashMap<u64, (i64, i64)>,
    /// The previous point's labels with their JSON text and series-key suffix: consecutive
    /// points mostly share labels (a wide CSV row is one label set, many metrics).
    last_labels: Option<(BTreeMap<String, String>, String, String)>,
}

struct Buffered {
    id: u128,
    ts: i64,
    series: String,
    doc: TantivyDocument,
}

/// What a flush knows about one series of its buffer.
struct BufferedSeries {
    min: i64,
    max: i64,
    /// Committed points in `[min, max]` that the buffer rewrites / does not rewrite.
    covered: usize,
    uncovered: usize,
}

impl MetricWriter<'_> {
    /// Adds (or replaces) the point of `p`'s series at `p.ts_ns`.
    pub fn add(&mut self, p: &MetricPoint) -> Result<(), IndexError> {
        let f = self.owner.fields;
        if self
            .last_labels
            .as_ref()
            .is_none_or(|(l, _, _)| *l != p.labels)
        {
            let json = serde_json::to_string(&p.labels).unwrap_or_default();
            // `series_key` of an empty name is exactly the part a name is followed by.
            let suffix = rootline_core::series_key("", &p.labels);
            self.last_labels = Some((p.labels.clone(), json, suffix));
        }
        let (_, labels, suffix) = self.last_labels.as_ref().expect("set above");
        let series = format!("{}{suffix}", p.name);
        let id = point_id(&series, p.ts_ns);
        let mut d = TantivyDocument::with_capacity(series.len() + labels.len() + 64);
        d.add_text(f.series, &series);
        d.add_text(f.name, &p.name);
        if let Some(e) = &p.entity {
            d.add_text(f.entity, e);
        }
        if !p.labels.is_empty() {
            d.add_text(f.labels, labels);
        }
        d.add_i64(f.ts, p.ts_ns);
        d.add_f64(f.value, p.value);
        self.buffer.push(Buffered {
            id,
            ts: p.ts_ns,
            series,
            doc: d,
        });
        self.pending += 1;
        if self.buffer.len() >= self.flush_points {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IndexError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        // The last value of a point wins: drop earlier copies within the buffer.
        let mut seen = HashSet::with_capacity(self.buffer.len());
        let mut buffer: Vec<Buffered> = std::mem::take(&mut self.buffer)
            .into_iter()
            .rev()
            .filter(|b| seen.insert(b.id))
            .collect();
        buffer.reverse();
        let mut by_series: HashMap<u64, BufferedSeries> = HashMap::new();
        for b in &buffer {
            let e = by_series.entry(hash_of(b.id)).or_insert(BufferedSeries {
                min: b.ts,
                max: b.ts,
                covered: 0,
                uncovered: 0,
            });
            e.min = e.min.min(b.ts);
            e.max = e.max.max(b.ts);
        }
        let min = buffer.iter().map(|b| b.ts).min().unwrap_or(i64::MIN);
        let max = buffer.iter().map(|b| b.ts).max().unwrap_or(i64::MAX);
        let mut names: Vec<&str> = buffer.iter().map(|b| b.series.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let existing = self.owner.point_ids((min, max.saturating_add(1)), names)?;
        for id in &existing {
            if let Some(e) = by_series.get_mut(&hash_of(*id)) {
                let ts = ts_of(*id);
                if (e.min..=e.max).contains(&ts) {
                    if seen.contains(id) {
                        e.covered += 1;
                    } else {
                        e.uncovered += 1;
                    }
                }
            }
        }
        let f = self.owner.fields;
        let mut range_deleted: HashSet<u64> = HashSet::new();
        // Per series, the timestamps of points that need a delete of their own.
        let mut point_deletes: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for b in &buffer {
            let h = hash_of(b.id);
            let Some(e) = by_series.get(&h) else { continue };
            let added_overlaps = self
                .added
                .get(&h)
                .is_some_and(|(lo, hi)| *lo <= e.max && e.min <= *hi);
            if e.covered > 0 && e.uncovered == 0 && !added_overlaps {
                if range_deleted.insert(h) {
                    let query = BooleanQuery::new(vec![
                        (Occur::Must, series_term_query(f, &b.series)),
                        (
                            Occur::Must,
                            Box::new(RangeQuery::new(
                                Bound::Included(Term::from_field_i64(f.ts, e.min)),
                                Bound::Included(Term::from_field_i64(f.ts, e.max)),
                            )),
                        ),
                    ]);
                    self.writer.delete_query(Box::new(query))?;
                }
            } else if existing.contains(&b.id)
                || (added_overlaps
                    && self
                        .added
                        .get(&h)
                        .is_some_and(|(lo, hi)| (*lo..=*hi).contains(&b.ts)))
            {
                point_deletes.entry(&b.series).or_default().push(b.ts);
            }
        }
        // One delete per series for its points: (series, ts ∈ set) names exactly those points.
        for (series, stamps) in point_deletes {
            let stamps = stamps.into_iter().map(|ts| Term::from_field_i64(f.ts, ts));
            let query = BooleanQuery::new(vec![
                (Occur::Must, series_term_query(f, series)),
                (Occur::Must, Box::new(TermSetQuery::new(stamps))),
            ]);
            self.writer.delete_query(Box::new(query))?;
        }
        for b in buffer {
            let h = hash_of(b.id);
            let e = self.added.entry(h).or_insert((b.ts, b.ts));
            e.0 = e.0.min(b.ts);
            e.1 = e.1.max(b.ts);
            self.writer.add_document(b.doc)?;
        }
        Ok(())
    }

    /// Points added since the last commit.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Makes everything added so far durable, then visible to this process's reads.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.flush()?;
        self.writer.commit()?;
        crate::bound_segments(&self.owner.index, &mut self.writer)?;
        self.pending = 0;
        self.added.clear();
        self.owner.reload()
    }
}

fn series_term_query(f: Fields, series: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(f.series, series),
        IndexRecordOption::Basic,
    ))
}

/// Collects the point ids of the documents it sees, from fast fields.
struct PointIdCollector;

struct SegmentPointIds {
    series: Option<StrColumn>,
    ts: Column<i64>,
    /// (series ordinal, ts) of each document; ordinals are resolved to hashes at harvest.
    points: Vec<(u64, i64)>,
}

impl Collector for PointIdCollector {
    type Fruit = HashSet<u128>;
    type Child = SegmentPointIds;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentPointIds> {
        let ff = reader.fast_fields();
        Ok(SegmentPointIds {
            series: ff.str("series")?,
            ts: ff.i64("ts")?,
            points: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<u128>>) -> tantivy::Result<HashSet<u128>> {
        Ok(fruits.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentPointIds {
    type Fruit = Vec<u128>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(series) = self.series.as_ref() else {
            return;
        };
        let (Some(ord), Some(ts)) = (series.term_ords(doc).next(), self.ts.first(doc)) else {
            return;
        };
        self.points.push((ord, ts));
    }

    fn harvest(self) -> Vec<u128> {
        let Some(series) = self.series.as_ref() else {
            return Vec::new();
        };
        let hashes: HashMap<u64, u64> =
            crate::stats::resolve_ords(series, self.points.iter().map(|(ord, _)| *ord))
                .into_iter()
                .map(|(ord, key)| (ord, series_hash(&key)))
                .collect();
        self.points
            .into_iter()
            .filter_map(|(ord, ts)| Some(compose_id(*hashes.get(&ord)?, ts)))
            .collect()
    }
}

/// One series' strings and points, gathered from fast fields.
struct Acc {
    name: String,
    entity: Option<String>,
    labels: String,
    points: Vec<(i64, f64)>,
}

struct SeriesCollector;

struct SegmentSeries {
    series: Option<StrColumn>,
    name: Option<StrColumn>,
    entity: Option<StrColumn>,
    labels: Option<StrColumn>,
    ts: Column<i64>,
    value: Column<f64>,
    /// Series term ordinal → (first doc, points); strings are resolved once per series.
    acc: HashMap<u64, (DocId, Vec<(i64, f64)>)>,
}

impl Collector for SeriesCollector {
    type Fruit = BTreeMap<String, Acc>;
    type Child = SegmentSeries;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentSeries> {
        let ff = reader.fast_fields();
        Ok(SegmentSeries {
            series: ff.str("series")?,
            name: ff.str("name")?,
            entity: ff.str("entity")?,
            labels: ff.str("labels")?,
            ts: ff.i64("ts")?,
            value: ff.f64("value")?,
            acc: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(String, Acc)>>) -> tantivy::Result<Self::Fruit> {
        let mut out: BTreeMap<String, Acc> = BTreeMap::new();
        for fruit in fruits {
            for (key, acc) in fruit {
                match out.get_mut(&key) {
                    Some(existing) => existing.points.extend(acc.points),
                    None => {
                        out.insert(key, acc);
                    }
                }
            }
        }
        Ok(out)
    }
}

fn lookup(ord: Option<u64>, strings: &HashMap<u64, String>) -> Option<&String> {
    strings.get(&ord?)
}

/// The first ordinal of `doc` in `column`, if any.
fn first_ord(column: Option<&StrColumn>, doc: DocId) -> Option<u64> {
    column?.term_ords(doc).next()
}

impl SegmentCollector for SegmentSeries {
    type Fruit = Vec<(String, Acc)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let Some(ord) = self.series.as_ref().and_then(|c| c.term_ords(doc).next()) else {
            return;
        };
        let (Some(ts), Some(value)) = (self.ts.first(doc), self.value.first(doc)) else {
            return;
        };
        self.acc
            .entry(ord)
            .or_insert_with(|| (doc, Vec::new()))
            .1
            .push((ts, value));
    }

    fn harvest(self) -> Self::Fruit {
        let Some(series) = self.series.as_ref() else {
            return Vec::new();
        };
        // Each column's strings, resolved in bulk: the series' own, and those of each series'
        // first document.
        let keys = crate::stats::resolve_ords(series, self.acc.keys().copied());
        let strings = |column: Option<&StrColumn>| -> (Vec<Option<u64>>, HashMap<u64, String>) {
            let ords: Vec<Option<u64>> = self
                .acc
                .values()
                .map(|(doc, _)| first_ord(column, *doc))
                .collect();
            let resolved = match column {
                Some(c) => crate::stats::resolve_ords(c, ords.iter().flatten().copied()),
                None => HashMap::new(),
            };
            (ords, resolved)
        };
        let (name_ords, names) = strings(self.name.as_ref());
        let (entity_ords, entities) = strings(self.entity.as_ref());
        let (label_ords, labels) = strings(self.labels.as_ref());
        let mut out = Vec::with_capacity(self.acc.len());
        for (i, (ord, (_, points))) in self.acc.into_iter().enumerate() {
            let Some(key) = keys.get(&ord) else {
                continue;
            };
            out.push((
                key.clone(),
                Acc {
                    name: lookup(name_ords[i], &names).cloned().unwrap_or_default(),
                    entity: lookup(entity_ords[i], &entities).cloned(),
                    labels: lookup(label_ords[i], &labels).cloned().unwrap_or_default(),
                    points,
                },
            ));
        }
        out
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
            entity: Some(pod.split('-').next().unwrap_or(pod).to_string()),
            ts_ns: ts,
            value,
        }
    }

    #[test]
    fn in_memory_round_trip() {
        let index = MetricIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        w.add(&point("cpu", "api-0", 20, 2.0)).unwrap();
        w.add(&point("cpu", "api-0", 10, 1.0)).unwrap();
        w.add(&MetricPoint {
            name: "up".into(),
            labels: BTreeMap::new(),
            entity: None,
            ts_ns: 10,
            value: 1.0,
        })
        .unwrap();
        assert_eq!(w.pending(), 3);
        w.commit().unwrap();
        let series = index.series((0, 100), None).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].key, r#"cpu{pod="api-0"}"#);
        assert_eq!(series[0].points, vec![(10, 1.0), (20, 2.0)]);
        assert_eq!(series[0].labels["pod"], "api-0");
        assert_eq!(series[1].entity, None);
        assert!(series[1].labels.is_empty());
    }

    fn values(index: &MetricIndex) -> Vec<(i64, f64)> {
        let mut series = index.series((0, 100), None).unwrap();
        assert!(series.len() <= 1);
        series.pop().map(|s| s.points).unwrap_or_default()
    }

    /// Every delete path: range delete (full rewrite), per-point deletes (partial overlap), and
    /// points rewritten across flushes within one commit.
    #[test]
    fn upsert_paths_across_flushes() {
        let index = MetricIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        w.flush_points = 2;
        for t in 1..=5 {
            w.add(&point("cpu", "api-0", t, 1.0)).unwrap();
        }
        w.commit().unwrap();
        assert_eq!(index.count(None, None).unwrap(), 5);

        // Partial overlap: rewrite 2 and 4 only; 3 must survive.
        w.flush_points = 100;
        w.add(&point("cpu", "api-0", 2, 2.0)).unwrap();
        w.add(&point("cpu", "api-0", 4, 4.0)).unwrap();
        w.commit().unwrap();
        assert_eq!(
            values(&index),
            vec![(1, 1.0), (2, 2.0), (3, 1.0), (4, 4.0), (5, 1.0)]
        );

        // Range delete of [2, 3], then the same points again in later flushes of one commit.
        w.flush_points = 2;
        w.add(&point("cpu", "api-0", 2, 20.0)).unwrap();
        w.add(&point("cpu", "api-0", 3, 30.0)).unwrap();
        w.add(&point("cpu", "api-0", 3, 31.0)).unwrap();
        w.add(&point("cpu", "api-0", 1, 10.0)).unwrap();
        w.add(&point("cpu", "api-0", 2, 21.0)).unwrap();
        w.add(&point("cpu", "api-0", 6, 60.0)).unwrap();
        w.commit().unwrap();
        assert_eq!(
            values(&index),
            vec![
                (1, 10.0),
                (2, 21.0),
                (3, 31.0),
                (4, 4.0),
                (5, 1.0),
                (6, 60.0)
            ]
        );
        assert_eq!(index.count(None, None).unwrap(), 6);
    }

    /// Indexes written with the per-point `point_id` term still open, read and upsert.
    #[test]
    fn opens_an_index_written_with_point_ids() {
        use tantivy::schema::STORED;
        let dir = tempfile::tempdir().unwrap();
        let mut b = Schema::builder();
        b.add_bytes_field("point_id", INDEXED);
        b.add_text_field("series", STRING | FAST);
        b.add_text_field("name", FAST);
        b.add_text_field("entity", STRING | FAST);
        b.add_text_field("labels", FAST | STORED);
        b.add_i64_field("ts", INDEXED | FAST);
        b.add_f64_field("value", FAST);
        let old_schema = b.build();
        {
            let old = Index::create_in_dir(dir.path(), old_schema.clone()).unwrap();
            let fields = Fields::of(&old_schema, "old").unwrap();
            let index = MetricIndex::from_index(old, fields).unwrap();
            let mut w = index.writer().unwrap();
            for t in 1..=3 {
                w.add(&point("cpu", "api-0", t, 1.0)).unwrap();
            }
            w.commit().unwrap();
        }
        let index = MetricIndex::open(dir.path()).unwrap();
        assert_eq!(values(&index), vec![(1, 1.0), (2, 1.0), (3, 1.0)]);
        let mut w = index.writer().unwrap();
        w.add(&point("cpu", "api-0", 2, 2.0)).unwrap();
        w.add(&point("cpu", "api-0", 4, 4.0)).unwrap();
        w.commit().unwrap();
        assert_eq!(values(&index), vec![(1, 1.0), (2, 2.0), (3, 1.0), (4, 4.0)]);
        assert_eq!(index.series((0, 100), Some("api")).unwrap().len(), 1);
    }
}
