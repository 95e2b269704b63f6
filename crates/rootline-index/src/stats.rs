//! Per-template counts over a filter, computed from fast fields without loading documents.
//!
//! This is what an investigation needs at incident time: for each (service, template), how many
//! records, how many errors, when first and last seen, and a few example evidence ids. Only the
//! example documents are ever loaded from the store, so the cost grows with the number of
//! distinct templates, not with the number of records.

use std::collections::HashMap;

use rootline_core::Level;
use rootline_core::sketch::{
    SECONDS_SKETCH_SIZE, TRACE_SKETCH_SIZE, second_hash, sketch_insert, sketch_union,
};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

#[derive(Debug, Clone)]
pub(crate) struct Acc {
    pub count: u64,
    pub errors: u64,
    pub warnings: u64,
    pub worst: Level,
    pub first_ns: i64,
    pub last_ns: i64,
    pub examples: Vec<DocAddress>,
    /// Bottom-k sketch of the records' trace hashes.
    pub traces: Vec<u64>,
    /// Bottom-k sketch of the seconds the records were written in.
    pub seconds: Vec<u64>,
}

impl Acc {
    fn new() -> Acc {
        Acc {
            count: 0,
            errors: 0,
            warnings: 0,
            worst: Level::Trace,
            first_ns: i64::MAX,
            last_ns: i64::MIN,
            examples: Vec::new(),
            traces: Vec::new(),
            seconds: Vec::new(),
        }
    }

    pub(crate) fn merge(&mut self, other: Acc, max_examples: usize) {
        self.count += other.count;
        self.errors += other.errors;
        self.warnings += other.warnings;
        if severity(other.worst) > severity(self.worst) {
            self.worst = other.worst;
        }
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        if !other.traces.is_empty() {
            self.traces = sketch_union(&self.traces, &other.traces, TRACE_SKETCH_SIZE);
        }
        self.seconds = sketch_union(&self.seconds, &other.seconds, SECONDS_SKETCH_SIZE);
        for e in other.examples {
            if self.examples.len() < max_examples {
                self.examples.push(e);
            }
        }
    }
}

pub(crate) fn severity(l: Level) -> u8 {
    match l {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Unknown => 2,
        Level::Info => 3,
        Level::Warn => 4,
        Level::Error => 5,
        Level::Fatal => 6,
    }
}

pub(crate) type Key = (String, Option<u64>);

/// The strings of `ords` (any order, repeats allowed) in one pass over the column's dictionary.
/// Resolving them one at a time decompresses a dictionary block per string, which dominated
/// metric reads (hundreds of series keys per query).
pub(crate) fn resolve_ords(
    column: &StrColumn,
    ords: impl Iterator<Item = u64>,
) -> HashMap<u64, String> {
    let mut sorted: Vec<u64> = ords.collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut strings = Vec::with_capacity(sorted.len());
    let _ = column
        .dictionary()
        .sorted_ords_to_term_cb(&sorted, |bytes| {
            strings.push(String::from_utf8_lossy(bytes).into_owned())
        });
    sorted.into_iter().zip(strings).collect()
}

pub(crate) struct StatsCollector {
    pub max_examples: usize,
}

pub(crate) struct SegmentStats {
    segment: SegmentOrdinal,
    max_examples: usize,
    service: Option<StrColumn>,
    level: Option<StrColumn>,
    template: Column<u64>,
    ts: Column<i64>,
    /// Absent in indexes written before trace hashes were kept.
    trace_hash: Option<Column<u64>>,
    levels_by_ord: HashMap<u64, Level>,
    acc: HashMap<(Option<u64>, Option<u64>), Acc>,
}

impl Collector for StatsCollector {
    type Fruit = HashMap<Key, Acc>;
    type Child = SegmentStats;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentStats> {
        let ff = reader.fast_fields();
        Ok(SegmentStats {
            segment,
            max_examples: self.max_examples,
            service: ff.str("service")?,
            level: ff.str("level")?,
            template: ff.u64("template_id")?,
            ts: ff.i64("ts")?,
            trace_hash: ff.u64("trace_hash").ok(),
            levels_by_ord: HashMap::new(),
            acc: HashMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Key, Acc)>>) -> tantivy::Result<HashMap<Key, Acc>> {
        let mut out: HashMap<Key, Acc> = HashMap::new();
        for fruit in fruits {
            for (k, a) in fruit {
                match out.get_mut(&k) {
                    Some(existing) => existing.merge(a, self.max_examples),
                    None => {
                        out.insert(k, a);
                    }
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for SegmentStats {
    type Fruit = Vec<(Key, Acc)>;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let service_ord = self.service.as_ref().and_then(|c| c.term_ords(doc).next());
        let template = self.template.first(doc);
        let ts = self.ts.first(doc).unwrap_or(0);
        let level = match self.level.as_ref().and_then(|c| c.term_ords(doc).next()) {
            Some(ord) => *self.levels_by_ord.entry(ord).or_insert_with(|| {
                let mut s = String::new();
                self.level
                    .as_ref()
                    .and_then(|c| c.ord_to_str(ord, &mut s).ok())
                    .and_then(|_| Level::parse(&s))
                    .unwrap_or(Level::Unknown)
            }),
            None => Level::Unknown,
        };
        let acc = self
            .acc
            .entry((service_ord, template))
            .or_insert_with(Acc::new);
        acc.count += 1;
        if level.is_error() {
            acc.errors += 1;
        } else if level == Level::Warn {
            acc.warnings += 1;
        }
        if severity(level) > severity(acc.worst) {
            acc.worst = level;
        }
        acc.first_ns = acc.first_ns.min(ts);
        acc.last_ns = acc.last_ns.max(ts);
        if acc.examples.len() < self.max_examples {
            acc.examples.push(DocAddress::new(self.segment, doc));
        }
        sketch_insert(&mut acc.seconds, second_hash(ts), SECONDS_SKETCH_SIZE);
        if let Some(h) = self.trace_hash.as_ref().and_then(|c| c.first(doc)) {
            sketch_insert(&mut acc.traces, h, TRACE_SKETCH_SIZE);
        }
    }

    fn harvest(self) -> Vec<(Key, Acc)> {
        let names = match self.service.as_ref() {
            Some(col) => resolve_ords(col, self.acc.keys().filter_map(|(ord, _)| *ord)),
            None => HashMap::new(),
        };
        self.acc
            .into_iter()
            .map(|((service_ord, template), acc)| {
                let name = service_ord
                    .and_then(|ord| names.get(&ord).cloned())
                    .unwrap_or_default();
                ((name, template), acc)
            })
            .collect()
    }
}
