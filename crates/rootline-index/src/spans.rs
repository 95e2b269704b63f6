//! The tantivy index of spans, in its own directory next to the log index.
//!
//! One document per [`Span`], keyed by its evidence id (adding a span first deletes any document
//! with the same id, so re-ingest never duplicates). Query-time aggregates read fast-field columns
//! only: for a time range, every span's join keys, service, duration and status are collected,
//! parents and children are joined in memory, and only the handful of example spans per service
//! are loaded from the document store.
//!
//! Threading: blocking, like the log index; async callers use `spawn_blocking`.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use rootline_core::{
    Provenance, Span, SpanFacts, SpanStatus, TraceAggregates, aggregate_spans, span_key,
};
use tantivy::collector::{Collector, Count, DocSetCollector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{AllQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, Value};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, InvertedIndexReader, Score, Searcher,
    SegmentOrdinal, SegmentReader, TantivyDocument, Term, doc,
};

use crate::IndexError;

#[derive(Clone, Copy)]
struct Fields {
    evidence_id: Field,
    trace_id: Field,
    span_id: Field,
    parent_span_id: Field,
    service: Field,
    host: Field,
    operation: Field,
    start: Field,
    duration: Field,
    status: Field,
    key: Field,
    parent_key: Field,
    source: Field,
    line: Field,
}

/// Only what is searched by term is indexed, and only what aggregates read is a fast field: every
/// span has unique evidence, trace and span ids (and a near unique start), and each such indexed
/// or fast field costs a dictionary of one entry per span at every commit (most of a span
/// ingest's time before). `evidence_id` is indexed for [`SpanIndex::get`] and the upsert; the
/// other ids are only stored. Indexes written with the older, wider schema still open (see
/// `crate::open_dir`).
fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field("evidence_id", STRING | STORED);
    b.add_text_field("trace_id", STORED);
    b.add_text_field("span_id", STORED);
    b.add_text_field("parent_span_id", STORED);
    b.add_text_field("service", STRING | STORED | FAST);
    b.add_text_field("host", STRING | STORED);
    b.add_text_field("operation", STRING | STORED);
    // Time ranges are answered from the fast field (tantivy's RangeQuery on a fast field never
    // reads the term dictionary), so `start` is not indexed: near every span has its own start.
    b.add_i64_field("start", FAST | STORED);
    b.add_i64_field("duration", FAST | STORED);
    b.add_u64_field("status", FAST | STORED);
    // Numeric join keys (hash of trace id + span id): joining children to parents over u64
    // columns avoids materialising two strings per span.
    b.add_u64_field("key", FAST);
    b.add_u64_field("parent_key", FAST);
    b.add_text_field("source", STRING | STORED);
    b.add_u64_field("line", STORED);
    b.build()
}

impl Fields {
    /// The fields of an index's own schema, by name.
    fn of(schema: &Schema, dir: &str) -> Result<Fields, IndexError> {
        let field = |name: &str| crate::required_field(schema, name, dir, "span");
        Ok(Fields {
            evidence_id: field("evidence_id")?,
            trace_id: field("trace_id")?,
            span_id: field("span_id")?,
            parent_span_id: field("parent_span_id")?,
            service: field("service")?,
            host: field("host")?,
            operation: field("operation")?,
            start: field("start")?,
            duration: field("duration")?,
            status: field("status")?,
            key: field("key")?,
            parent_key: field("parent_key")?,
            source: field("source")?,
            line: field("line")?,
        })
    }
}

fn status_code(s: SpanStatus) -> u64 {
    match s {
        SpanStatus::Unset => 0,
        SpanStatus::Ok => 1,
        SpanStatus::Error => 2,
    }
}

fn status_from_code(c: u64) -> SpanStatus {
    match c {
        1 => SpanStatus::Ok,
        2 => SpanStatus::Error,
        _ => SpanStatus::Unset,
    }
}

pub struct SpanIndex {
    reader: IndexReader,
    index: Index,
    fields: Fields,
}

impl SpanIndex {
    /// Opens the span index in `dir`, creating it (and the directory) when missing.
    pub fn open(dir: &Path) -> Result<SpanIndex, IndexError> {
        let index = crate::open_dir(dir, schema())?;
        let fields = Fields::of(&index.schema(), &dir.display().to_string())?;
        Self::with_index(index, fields)
    }

    /// An in-memory index, for tests and benchmarks.
    pub fn in_memory() -> Result<SpanIndex, IndexError> {
        let schema = schema();
        let fields = Fields::of(&schema, "(memory)")?;
        Self::with_index(Index::create_in_ram(schema), fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<SpanIndex, IndexError> {
        let reader = crate::manual_reader(&index)?;
        Ok(SpanIndex {
            reader,
            index,
            fields,
        })
    }

    /// The single writer. Spans become visible (and durable) at [`SpanWriter::commit`].
    pub fn writer(&self) -> Result<SpanWriter<'_>, IndexError> {
        self.writer_with_heap(crate::SPAN_WRITER_HEAP)
    }

    /// The single writer with an indexing heap of `heap` bytes (at least 15 MB).
    pub fn writer_with_heap(&self, heap: usize) -> Result<SpanWriter<'_>, IndexError> {
        let writer = crate::open_writer(&self.index, heap)?;
        // Holding the writer lock, nobody else commits: what the reader sees now stays the
        // committed state until our own commit.
        self.reload()?;
        Ok(SpanWriter {
            owner: self,
            writer,
            pending: 0,
            committed: self.committed_ids()?,
            uncommitted: HashSet::new(),
            hasher: RandomState::new(),
        })
    }

    /// The evidence-id term dictionaries of the committed segments, with the searcher that keeps
    /// those segments alive.
    fn committed_ids(&self) -> Result<CommittedIds, IndexError> {
        let searcher = self.reader.searcher();
        let dictionaries = searcher
            .segment_readers()
            .iter()
            .map(|s| s.inverted_index(self.fields.evidence_id))
            .collect::<tantivy::Result<_>>()?;
        Ok(CommittedIds {
            _searcher: searcher,
            dictionaries,
        })
    }

    /// Makes the latest commit visible to searches.
    pub fn reload(&self) -> Result<(), IndexError> {
        Ok(self.reader.reload()?)
    }

    fn range_query(&self, range_ns: Option<(i64, i64)>) -> Box<dyn Query> {
        match range_ns {
            Some((start, end)) => Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(self.fields.start, start)),
                Bound::Excluded(Term::from_field_i64(self.fields.start, end)),
            )),
            None => Box::new(AllQuery),
        }
    }

    /// The start of the earliest span starting in `range`. Fast fields only.
    pub fn first_start(&self, range_ns: (i64, i64)) -> Result<Option<i64>, IndexError> {
        let q = self.range_query(Some(range_ns));
        let (facts, _) = self.reader.searcher().search(&q, &FactsCollector)?;
        Ok(facts.iter().map(|f| f.start_ns).min())
    }

    /// Spans starting in `[start, end)` (all spans when `None`).
    pub fn count(&self, range_ns: Option<(i64, i64)>) -> Result<u64, IndexError> {
        let q = self.range_query(range_ns);
        Ok(self.reader.searcher().search(&q, &Count)? as u64)
    }

    /// Every span starting in the range, oldest first. Loads each document: for tests and small
    /// ranges; investigations use [`SpanIndex::aggregates`].
    pub fn spans(&self, range_ns: Option<(i64, i64)>) -> Result<Vec<Span>, IndexError> {
        let q = self.range_query(range_ns);
        let searcher = self.reader.searcher();
        let mut out = Vec::new();
        for address in searcher.search(&q, &DocSetCollector)? {
            out.push(self.to_span(&searcher.doc(address)?)?);
        }
        out.sort_by(|a, b| (a.start_ns, &a.evidence_id).cmp(&(b.start_ns, &b.evidence_id)));
        Ok(out)
    }

    pub fn get(&self, evidence_id: &str) -> Result<Option<Span>, IndexError> {
        let term = Term::from_field_text(self.fields.evidence_id, evidence_id);
        let query = TermQuery::new(term, IndexRecordOption::Basic);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            Some((_, address)) => Ok(Some(self.to_span(&searcher.doc(*address)?)?)),
            None => Ok(None),
        }
    }

    /// Per-service span counts, errors and latency distributions, and the service graph, for
    /// spans starting in `[start, end)`; up to `max_examples` example evidence ids per list.
    pub fn aggregates(
        &self,
        range_ns: (i64, i64),
        max_examples: usize,
    ) -> Result<TraceAggregates, IndexError> {
        let q = self.range_query(Some(range_ns));
        let searcher = self.reader.searcher();
        let (facts, services) = searcher.search(&q, &FactsCollector)?;
        let mut failed = None;
        let aggregates = aggregate_spans(&facts, &services, max_examples, |address| {
            let loaded = searcher
                .doc::<TantivyDocument>(*address)
                .map_err(IndexError::from)
                .and_then(|d| {
                    d.get_first(self.fields.evidence_id)
                        .and_then(|v| v.as_str())
                        .map(str::to_string)
                        .ok_or(IndexError::Corrupt("evidence_id"))
                });
            match loaded {
                Ok(id) => Some(id),
                Err(e) => {
                    failed.get_or_insert(e);
                    None
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(aggregates),
        }
    }

    fn to_span(&self, doc: &TantivyDocument) -> Result<Span, IndexError> {
        let f = self.fields;
        let text = |field: Field| -> Option<String> {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let int = |field: Field| doc.get_first(field).and_then(|v| v.as_i64());
        Ok(Span {
            evidence_id: text(f.evidence_id).ok_or(IndexError::Corrupt("evidence_id"))?,
            trace_id: text(f.trace_id).ok_or(IndexError::Corrupt("trace_id"))?,
            span_id: text(f.span_id).ok_or(IndexError::Corrupt("span_id"))?,
            parent_span_id: text(f.parent_span_id),
            service: text(f.service).unwrap_or_default(),
            host: text(f.host),
            operation: text(f.operation).unwrap_or_default(),
            start_ns: int(f.start).ok_or(IndexError::Corrupt("start"))?,
            duration_ns: int(f.duration).ok_or(IndexError::Corrupt("duration"))?,
            status: status_from_code(
                doc.get_first(f.status)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0),
            ),
            provenance: Provenance {
                source: text(f.source).unwrap_or_default(),
                line: doc.get_first(f.line).and_then(|v| v.as_u64()).unwrap_or(0),
            },
        })
    }
}

/// Adds spans; nothing is visible or durable until [`SpanWriter::commit`].
pub struct SpanWriter<'a> {
    owner: &'a SpanIndex,
    writer: IndexWriter,
    pending: u64,
    /// To tell whether a span is already in the committed index.
    committed: CommittedIds,
    /// Hashes of the evidence ids added since the last commit (invisible to searches yet).
    uncommitted: HashSet<u64>,
    hasher: RandomState,
}

struct CommittedIds {
    _searcher: Searcher,
    dictionaries: Vec<Arc<InvertedIndexReader>>,
}

impl SpanWriter<'_> {
    /// Upsert: the same span ingested twice stays one document.
    pub fn add(&mut self, s: &Span) -> Result<(), IndexError> {
        let f = self.owner.fields;
        let id = Term::from_field_text(f.evidence_id, &s.evidence_id);
        // Deletes are paid at every commit (a term lookup per delete per segment, plus a
        // query weight each): only a span that may already be in the index gets one. A hash
        // collision only costs a needless delete.
        let seen_since_commit = !self
            .uncommitted
            .insert(self.hasher.hash_one(&s.evidence_id));
        if seen_since_commit || self.is_committed(&id)? {
            self.writer.delete_term(id);
        }
        let mut d = doc!(
            f.evidence_id => s.evidence_id.as_str(),
            f.trace_id => s.trace_id.as_str(),
            f.span_id => s.span_id.as_str(),
            f.service => s.service.as_str(),
            f.operation => s.operation.as_str(),
            f.start => s.start_ns,
            f.duration => s.duration_ns,
            f.status => status_code(s.status),
            f.key => span_key(&s.trace_id, &s.span_id),
            f.source => s.provenance.source.as_str(),
            f.line => s.provenance.line,
        );
        if let Some(p) = &s.parent_span_id {
            d.add_text(f.parent_span_id, p);
            d.add_u64(f.parent_key, span_key(&s.trace_id, p));
        }
        if let Some(h) = &s.host {
            d.add_text(f.host, h);
        }
        self.writer.add_document(d)?;
        self.pending += 1;
        Ok(())
    }

    /// Spans added since the last commit.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    fn is_committed(&self, id: &Term) -> Result<bool, IndexError> {
        for segment in &self.committed.dictionaries {
            if segment
                .get_term_info(id)
                .map_err(tantivy::TantivyError::from)?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Makes everything added so far durable, then visible to this process's searches.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        crate::bound_segments(&self.owner.index, &mut self.writer)?;
        self.pending = 0;
        self.owner.reload()?;
        self.committed = self.owner.committed_ids()?;
        self.uncommitted.clear();
        Ok(())
    }
}

/// Collects the per-span facts of the matching documents from fast fields.
struct FactsCollector;

struct SegmentFacts {
    segment: SegmentOrdinal,
    service: Option<StrColumn>,
    key: Column<u64>,
    parent_key: Column<u64>,
    start: Column<i64>,
    duration: Column<i64>,
    status: Column<u64>,
    facts: Vec<SpanFacts<DocAddress>>,
}

type Facts = (Vec<SpanFacts<DocAddress>>, Vec<String>);

impl Collector for FactsCollector {
    type Fruit = Facts;
    type Child = SegmentFacts;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFacts> {
        let ff = reader.fast_fields();
        Ok(SegmentFacts {
            segment,
            service: ff.str("service")?,
            key: ff.u64("key")?,
            parent_key: ff.u64("parent_key")?,
            start: ff.i64("start")?,
            duration: ff.i64("duration")?,
            status: ff.u64("status")?,
            facts: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    /// Service ordinals are per segment: map every segment's names into one table.
    fn merge_fruits(&self, fruits: Vec<Facts>) -> tantivy::Result<Facts> {
        let mut names: Vec<String> = Vec::new();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut out = Vec::with_capacity(fruits.iter().map(|f| f.0.len()).sum());
        for (facts, segment_names) in fruits {
            let remap: Vec<u32> = segment_names
                .into_iter()
                .map(|n| {
                    *ids.entry(n.clone()).or_insert_with(|| {
                        names.push(n);
                        (names.len() - 1) as u32
                    })
                })
                .collect();
            for mut f in facts {
                f.service = remap.get(f.service as usize).copied().unwrap_or(u32::MAX);
                out.push(f);
            }
        }
        Ok((out, names))
    }
}

impl SegmentCollector for SegmentFacts {
    type Fruit = Facts;

    fn collect(&mut self, doc: DocId, _score: Score) {
        let (Some(key), Some(duration)) = (self.key.first(doc), self.duration.first(doc)) else {
            return;
        };
        let service = self
            .service
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .map_or(u32::MAX, |o| o as u32);
        self.facts.push(SpanFacts {
            key,
            parent_key: self.parent_key.first(doc),
            service,
            start_ns: self.start.first(doc).unwrap_or(0),
            duration_ns: duration,
            status: status_from_code(self.status.first(doc).unwrap_or(0)),
            example: DocAddress::new(self.segment, doc),
        });
    }

    fn harvest(self) -> Facts {
        // Name only the ordinals this segment used, densely renumbered.
        let mut dense: HashMap<u32, u32> = HashMap::new();
        let mut names = Vec::new();
        let mut facts = self.facts;
        let mut buf = String::new();
        for f in &mut facts {
            let next = dense.len() as u32;
            let id = *dense.entry(f.service).or_insert_with(|| {
                buf.clear();
                if let Some(col) = self.service.as_ref()
                    && f.service != u32::MAX
                {
                    let _ = col.ord_to_str(f.service as u64, &mut buf);
                }
                names.push(buf.clone());
                next
            });
            f.service = id;
        }
        (facts, names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(
        trace: &str,
        id: &str,
        parent: Option<&str>,
        service: &str,
        start: i64,
        dur: i64,
    ) -> Span {
        Span {
            evidence_id: rootline_core::span_evidence_id(trace, id),
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            service: service.into(),
            host: Some(format!("{service}-0")),
            operation: "op".into(),
            start_ns: start,
            duration_ns: dur,
            status: SpanStatus::Ok,
            provenance: Provenance {
                source: "t.csv".into(),
                line: 1,
            },
        }
    }

    #[test]
    fn round_trip_and_upsert() {
        let dir = tempfile::tempdir().unwrap();
        let index = SpanIndex::open(dir.path()).unwrap();
        let a = span("t1", "a", None, "gw", 10, 100);
        let b = span("t1", "b", Some("a"), "db", 20, 50);
        {
            let mut w = index.writer().unwrap();
            w.add(&a).unwrap();
            w.add(&b).unwrap();
            assert_eq!(w.pending(), 2);
            w.commit().unwrap();
            w.add(&a).unwrap();
            w.commit().unwrap();
        }
        assert_eq!(index.count(None).unwrap(), 2);
        assert_eq!(index.spans(None).unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(index.get(&b.evidence_id).unwrap(), Some(b));
        assert_eq!(index.count(Some((0, 15))).unwrap(), 1);
        drop(index);
        let reopened = SpanIndex::open(dir.path()).unwrap();
        assert_eq!(reopened.count(None).unwrap(), 2);
        let agg = reopened.aggregates((0, 100), 2).unwrap();
        assert_eq!(agg.graph.edges["gw"]["db"], 1);
        assert_eq!(agg.per_service["gw"].slowest, vec![a.evidence_id]);
    }

    /// The delete is skipped only for spans the index cannot hold yet: a span seen twice before a
    /// commit, or again in a later writer, still ends up as one document with the last values.
    #[test]
    fn upsert_holds_within_a_commit_and_across_writers() {
        let dir = tempfile::tempdir().unwrap();
        let index = SpanIndex::open(dir.path()).unwrap();
        let a = span("t1", "a", None, "gw", 10, 100);
        let mut a_slower = a.clone();
        a_slower.duration_ns = 300;
        let b = span("t1", "b", Some("a"), "db", 20, 50);
        {
            let mut w = index.writer().unwrap();
            w.add(&a).unwrap();
            w.add(&b).unwrap();
            w.add(&a_slower).unwrap();
            w.commit().unwrap();
        }
        assert_eq!(index.count(None).unwrap(), 2);
        assert_eq!(index.get(&a.evidence_id).unwrap(), Some(a_slower));
        // A new writer (as a second `rootline ingest` would open) sees the committed spans.
        drop(index);
        let index = SpanIndex::open(dir.path()).unwrap();
        {
            let mut w = index.writer().unwrap();
            w.add(&b).unwrap();
            w.add(&a).unwrap();
            w.commit().unwrap();
        }
        assert_eq!(index.count(None).unwrap(), 2);
        assert_eq!(index.get(&a.evidence_id).unwrap(), Some(a));
    }

    /// Indexes written before the ids stopped being indexed and fast still open, read and upsert.
    #[test]
    fn opens_an_index_written_with_the_older_schema() {
        use tantivy::schema::INDEXED;
        let dir = tempfile::tempdir().unwrap();
        let mut b = Schema::builder();
        for name in [
            "evidence_id",
            "trace_id",
            "span_id",
            "parent_span_id",
            "service",
        ] {
            b.add_text_field(name, STRING | STORED | FAST);
        }
        b.add_text_field("host", STRING | STORED);
        b.add_text_field("operation", STRING | STORED);
        b.add_i64_field("start", INDEXED | FAST | STORED);
        b.add_i64_field("duration", FAST | STORED);
        b.add_u64_field("status", FAST | STORED);
        b.add_u64_field("key", FAST);
        b.add_u64_field("parent_key", FAST);
        b.add_text_field("source", STRING | STORED);
        b.add_u64_field("line", STORED);
        let old_schema = b.build();
        assert_ne!(old_schema, schema());
        let a = span("t1", "a", None, "gw", 10, 100);
        let b = span("t1", "b", Some("a"), "db", 20, 50);
        {
            let old = Index::create_in_dir(dir.path(), old_schema.clone()).unwrap();
            let index =
                SpanIndex::with_index(old, Fields::of(&old_schema, "old").unwrap()).unwrap();
            let mut w = index.writer().unwrap();
            w.add(&a).unwrap();
            w.commit().unwrap();
        }
        let index = SpanIndex::open(dir.path()).unwrap();
        assert_eq!(index.spans(None).unwrap(), vec![a.clone()]);
        {
            let mut w = index.writer().unwrap();
            w.add(&a).unwrap();
            w.add(&b).unwrap();
            w.commit().unwrap();
        }
        assert_eq!(index.count(None).unwrap(), 2);
        assert_eq!(index.count(Some((0, 15))).unwrap(), 1);
        assert_eq!(
            index.aggregates((0, 100), 2).unwrap().graph.edges["gw"]["db"],
            1
        );
    }
}
