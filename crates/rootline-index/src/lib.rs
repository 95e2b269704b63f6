//! The tantivy index of log records.
//!
//! One document per [`LogRecord`]. Documents are keyed by their evidence id: adding a record
//! first deletes any document with the same id, so re-ingesting a file never duplicates it.
//!
//! Threading: everything here is blocking (tantivy does file IO and uses its own threads);
//! async callers run it inside `tokio::task::spawn_blocking`.
//!
//! Architecture invariant: only this crate imports tantivy.

pub mod metrics;
pub mod spans;
mod stats;

use std::ops::Bound;
use std::path::Path;

pub use rootline_core::TemplateStat;
use rootline_core::{Level, LogRecord, Provenance};
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("cannot open the index at {path}: {message}")]
    Open { path: String, message: String },
    #[error("index operation failed: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("bad search query {query:?}: {message}")]
    BadQuery { query: String, message: String },
    #[error("stored document is missing field {0}")]
    Corrupt(&'static str),
}

#[derive(Clone, Copy)]
struct Fields {
    evidence_id: Field,
    ts: Field,
    service: Field,
    host: Field,
    level: Field,
    message: Field,
    template_id: Field,
    source: Field,
    line: Field,
    trace_id: Field,
    /// `None` in indexes written before the field existed: their records have no module.
    module: Option<Field>,
    /// Hash of `trace_id` as a fast field, for the per-template trace sketch. `None` in indexes
    /// written before it existed: their templates have no sketch.
    trace_hash: Option<Field>,
    /// 1 when the record's time is an estimate (an untimed line timed by its order). `None` in
    /// indexes written before it existed: their records are all exactly timed.
    approx: Option<Field>,
}

fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_text_field("evidence_id", STRING | STORED);
    b.add_i64_field("ts", INDEXED | FAST | STORED);
    b.add_text_field("service", STRING | FAST | STORED);
    b.add_text_field("host", STRING | STORED);
    b.add_text_field("level", STRING | FAST | STORED);
    b.add_text_field("message", TEXT | STORED);
    b.add_u64_field("template_id", INDEXED | FAST | STORED);
    b.add_text_field("source", STRING | STORED);
    b.add_u64_field("line", STORED);
    b.add_text_field("trace_id", STRING | STORED);
    b.add_text_field("module", STRING | STORED);
    b.add_u64_field("trace_hash", FAST);
    b.add_u64_field("approx", STORED);
    b.build()
}

/// The fields of an index's own schema, looked up by name, so that an index written by an
/// older version (without the newer optional fields) still opens.
fn fields_of(schema: &Schema, path: &Path) -> Result<Fields, IndexError> {
    let path = path.display().to_string();
    let required = |name: &str| required_field(schema, name, &path, "log");
    Ok(Fields {
        evidence_id: required("evidence_id")?,
        ts: required("ts")?,
        service: required("service")?,
        host: required("host")?,
        level: required("level")?,
        message: required("message")?,
        template_id: required("template_id")?,
        source: required("source")?,
        line: required("line")?,
        trace_id: required("trace_id")?,
        module: schema.get_field("module").ok(),
        trace_hash: schema.get_field("trace_hash").ok(),
        approx: schema.get_field("approx").ok(),
    })
}

/// A field every index of `kind` has; its absence means `path` holds something else.
pub(crate) fn required_field(
    schema: &Schema,
    name: &str,
    path: &str,
    kind: &str,
) -> Result<Field, IndexError> {
    schema.get_field(name).map_err(|_| IndexError::Open {
        path: path.to_string(),
        message: format!("the index has no field {name:?}: it is not a rootline {kind} index"),
    })
}

/// A filter over the index; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `[start, end)` in unix nanoseconds.
    pub range_ns: Option<(i64, i64)>,
    pub service: Option<String>,
    /// Free text, tantivy query syntax over the message.
    pub text: Option<String>,
}

/// Opens the tantivy index in `dir` with the schema it was written with, or creates it (and
/// the directory) with `schema`. Each of the three indexes lives in a directory of its own. An
/// index written by an older version (other field options, fewer optional fields) is not an
/// error: callers look their fields up by name in the index's own schema.
pub(crate) fn open_dir(dir: &Path, schema: Schema) -> Result<Index, IndexError> {
    let open_err = |message: String| IndexError::Open {
        path: dir.display().to_string(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
    let directory =
        tantivy::directory::MmapDirectory::open(dir).map_err(|e| open_err(e.to_string()))?;
    if Index::exists(&directory).map_err(|e| open_err(e.to_string()))? {
        Index::open(directory).map_err(|e| open_err(e.to_string()))
    } else {
        Index::create(directory, schema, tantivy::IndexSettings::default())
            .map_err(|e| open_err(e.to_string()))
    }
}

/// The single writer of a small or large ingest: one indexing thread (the caller parses on its
/// own thread meanwhile), so a commit writes one segment, in ingest order, rather than one per
/// core (which also makes template examples the same on every run), and one merge thread. The
/// budget is per thread; a segment is flushed when it fills.
/// Searchable segments an index keeps before a commit merges them into one. Every live ingest
/// batch commits its own small segment, and a writer that is dropped after its commit never
/// finishes the merges tantivy's merge policy starts: without a bound, segments pile up (one per
/// batch), every search and commit slows down linearly and memory maps run out within hours at
/// a collector's once-a-second flush.
pub const MAX_SEGMENTS: usize = 12;

/// After a commit: when the index holds more than [`MAX_SEGMENTS`] searchable segments, merges
/// the smallest of them into one, synchronously (the merge publishes itself, the commit payload
/// kept), leaving the `MAX_SEGMENTS / 2 - 1` largest as they are. Merging the smallest, not all,
/// keeps the cost of a merge near the size of the recent batches rather than of the whole index
/// (a size-tiered policy: a record is rewritten about log(n) times, not once per merge). The
/// segment count, and with it search and commit time, stays flat.
pub(crate) fn bound_segments(index: &Index, writer: &mut IndexWriter) -> Result<(), IndexError> {
    let mut metas = index.searchable_segment_metas()?;
    if metas.len() <= MAX_SEGMENTS {
        return Ok(());
    }
    metas.sort_by_key(|m| (m.num_docs(), m.id().uuid_string()));
    let keep = MAX_SEGMENTS / 2 - 1;
    let ids: Vec<tantivy::index::SegmentId> =
        metas[..metas.len() - keep].iter().map(|m| m.id()).collect();
    writer.merge(&ids).wait()?;
    Ok(())
}

/// Indexing heap (tantivy's arena, per indexing thread; there is one) of a log writer opened
/// with [`LogIndex::writer`]: when it fills, the writer writes a segment out (not a commit). A
/// file ingest commits every 200k records, and 128 MB holds about that many, so a commit writes
/// one segment (peak RSS of a 1 GB ingest 132-136 MB, docs/benchmarks.md).
pub const LOG_WRITER_HEAP: usize = 128_000_000;
/// Indexing heap of a span or metric writer: smaller documents than log records.
pub const SPAN_WRITER_HEAP: usize = 64_000_000;
/// See [`SPAN_WRITER_HEAP`].
pub const METRIC_WRITER_HEAP: usize = 64_000_000;
/// Indexing heap of the writers of a running server's live ingest (`*::writer_with_heap`), one
/// index writer per kind at a time. `rootline serve` hands its writers chunks of a few thousand
/// records (the server's ingest limits), which never fill it; it bounds a caller that hands over
/// more at once (the Kubernetes watcher's sink) at twice tantivy's minimum (15 MB), and sizes the
/// term table tantivy allocates up front (a third of the heap at most) for every batch.
pub const LIVE_WRITER_HEAP: usize = 32_000_000;

/// A writer over `index` whose segments are merged only by [`bound_segments`]: tantivy's own
/// merge policy starts background merges that a writer dropped after its commit abandons, and
/// that would race the explicit merge.
pub(crate) fn open_writer(index: &Index, memory_budget: usize) -> Result<IndexWriter, IndexError> {
    let writer: IndexWriter = index.writer_with_options(writer_options(memory_budget))?;
    writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
    Ok(writer)
}

pub(crate) fn writer_options(memory_budget: usize) -> tantivy::indexer::IndexWriterOptions {
    tantivy::indexer::IndexWriterOptions::builder()
        .num_worker_threads(1)
        .num_merge_threads(1)
        .memory_budget_per_thread(memory_budget)
        .build()
}

/// A reader that sees a commit only once `reload()` is called; the writers reload it right after
/// each commit.
pub(crate) fn manual_reader(index: &Index) -> Result<IndexReader, IndexError> {
    Ok(index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?)
}

/// Records read per template to rebuild a stack trace written one frame per record.
const MAX_FRAME_RECORDS: usize = 64;

pub struct LogIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl LogIndex {
    /// Opens the index in `dir`, creating it (and the directory) when missing.
    pub fn open(dir: &Path) -> Result<LogIndex, IndexError> {
        let index = open_dir(dir, schema())?;
        let fields = fields_of(&index.schema(), dir)?;
        let reader = manual_reader(&index)?;
        Ok(LogIndex {
            index,
            reader,
            fields,
        })
    }

    /// An in-memory index, for tests and benchmarks.
    pub fn in_memory() -> Result<LogIndex, IndexError> {
        let index = Index::create_in_ram(schema());
        let fields = fields_of(&index.schema(), Path::new(":memory:"))?;
        let reader = manual_reader(&index)?;
        Ok(LogIndex {
            index,
            reader,
            fields,
        })
    }

    /// The single writer. Records become visible (and durable) at [`LogWriter::commit`].
    pub fn writer(&self) -> Result<LogWriter<'_>, IndexError> {
        self.writer_with_heap(LOG_WRITER_HEAP)
    }

    /// The single writer with an indexing heap of `heap` bytes (at least 15 MB).
    pub fn writer_with_heap(&self, heap: usize) -> Result<LogWriter<'_>, IndexError> {
        let writer = open_writer(&self.index, heap)?;
        Ok(LogWriter {
            owner: self,
            writer,
            pending: 0,
        })
    }

    /// The payload stored with the last commit (the ingest ledger), if any.
    pub fn commit_payload(&self) -> Result<Option<String>, IndexError> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Makes the latest commit visible to searches.
    pub fn reload(&self) -> Result<(), IndexError> {
        Ok(self.reader.reload()?)
    }

    pub fn count(&self, filter: &Filter) -> Result<u64, IndexError> {
        let query = self.query(filter)?;
        Ok(self.reader.searcher().search(&query, &Count)? as u64)
    }

    /// Every record matching `filter`, oldest first.
    pub fn records(&self, filter: &Filter) -> Result<Vec<LogRecord>, IndexError> {
        let query = self.query(filter)?;
        let searcher = self.reader.searcher();
        let addresses = searcher.search(&query, &DocSetCollector)?;
        let mut out = Vec::with_capacity(addresses.len());
        for address in addresses {
            let doc: TantivyDocument = searcher.doc(address)?;
            out.push(self.to_record(&doc)?);
        }
        out.sort_by(|a, b| (a.ts_ns, &a.evidence_id).cmp(&(b.ts_ns, &b.evidence_id)));
        Ok(out)
    }

    /// The best `limit` matches of a text search, most relevant first.
    pub fn search(&self, filter: &Filter, limit: usize) -> Result<Vec<LogRecord>, IndexError> {
        let query = self.query(filter)?;
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        top.into_iter()
            .map(|(_, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                self.to_record(&doc)
            })
            .collect()
    }

    /// Per-(service, template) counts for the records matching `filter`, most frequent first,
    /// with up to `max_examples` example evidence ids each.
    pub fn template_stats(
        &self,
        filter: &Filter,
        max_examples: usize,
    ) -> Result<Vec<TemplateStat>, IndexError> {
        let query = self.query(filter)?;
        let searcher = self.reader.searcher();
        let fruit = searcher.search(&query, &stats::StatsCollector { max_examples })?;
        let mut out = Vec::with_capacity(fruit.len());
        for ((service, template_id), acc) in fruit {
            let mut examples = Vec::with_capacity(acc.examples.len());
            let mut sample = String::new();
            let mut hosts: Vec<String> = Vec::new();
            let mut modules: Vec<String> = Vec::new();
            let mut frames = rootline_core::frames::FrameTally::default();
            // Index order is not time order across segments: report the earliest examples.
            let mut docs: Vec<LogRecord> = Vec::with_capacity(acc.examples.len());
            for address in &acc.examples {
                let doc: TantivyDocument = searcher.doc(*address)?;
                docs.push(self.to_record(&doc)?);
            }
            docs.sort_by(|a, b| (a.ts_ns, &a.evidence_id).cmp(&(b.ts_ns, &b.evidence_id)));
            for (i, r) in docs.into_iter().enumerate() {
                if i == 0 {
                    sample = r.message.lines().next().unwrap_or("").to_string();
                }
                if let Some(h) = r.host
                    && !hosts.contains(&h)
                {
                    hosts.push(h);
                }
                if let Some(m) = r.module
                    && !modules.contains(&m)
                {
                    modules.push(m);
                }
                frames.add_message(&r.message);
                examples.push(r.evidence_id);
            }
            let mut frames = frames.modules();
            if !frames.is_empty()
                && acc.count > acc.examples.len() as u64
                && let Some(id) = template_id
            {
                frames = self.frames_of_template(filter, &service, id)?;
            }
            out.push(TemplateStat {
                service,
                template_id,
                count: acc.count,
                errors: acc.errors,
                warnings: acc.warnings,
                worst_level: acc.worst,
                first_ns: acc.first_ns,
                last_ns: acc.last_ns,
                examples,
                sample,
                hosts,
                modules,
                frames,
                traces: acc.traces,
                seconds: acc.seconds,
            });
        }
        out.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.service.cmp(&b.service))
                .then_with(|| a.template_id.cmp(&b.template_id))
        });
        Ok(out)
    }

    /// The first and last record time matching `filter`, or `None` when nothing matches.
    pub fn time_range(&self, filter: &Filter) -> Result<Option<(i64, i64)>, IndexError> {
        let query = self.query(filter)?;
        let searcher = self.reader.searcher();
        let fruit = searcher.search(&query, &stats::StatsCollector { max_examples: 0 })?;
        Ok(fruit.values().fold(None, |acc, a| match acc {
            None => Some((a.first_ns, a.last_ns)),
            Some((lo, hi)) => Some((lo.min(a.first_ns), hi.max(a.last_ns))),
        }))
    }

    /// The stack-frame modules of up to [`MAX_FRAME_RECORDS`] records of one (service,
    /// template), innermost first. Loggers that write each frame as a record of its own (oslo.log)
    /// spread one trace over many records of one template: read in file order, they are the
    /// trace again.
    fn frames_of_template(
        &self,
        filter: &Filter,
        service: &str,
        template_id: u64,
    ) -> Result<Vec<String>, IndexError> {
        let f = self.fields;
        let query = BooleanQuery::new(vec![
            (Occur::Must, self.query(filter)?),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.service, service),
                    IndexRecordOption::Basic,
                )),
            ),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.template_id, template_id),
                    IndexRecordOption::Basic,
                )),
            ),
        ]);
        let searcher = self.reader.searcher();
        // A set has no order: sort, so the same records are read on every run.
        let mut addresses: Vec<_> = searcher
            .search(&query, &DocSetCollector)?
            .into_iter()
            .collect();
        addresses.sort();
        let mut records: Vec<LogRecord> = Vec::new();
        for address in addresses.into_iter().take(MAX_FRAME_RECORDS) {
            records.push(self.to_record(&searcher.doc(address)?)?);
        }
        records.sort_by(|a, b| {
            (&a.provenance.source, a.provenance.line, a.ts_ns).cmp(&(
                &b.provenance.source,
                b.provenance.line,
                b.ts_ns,
            ))
        });
        // Records that each hold a whole trace count one vote each; records that each hold one
        // frame are, read in file order, one trace again.
        let mut frames = rootline_core::frames::FrameTally::default();
        let mut pieces: Vec<&str> = Vec::new();
        for r in &records {
            let own = rootline_core::stack_frame_modules(&r.message);
            if own.len() > 1 {
                frames.add_frames(own);
            } else if !own.is_empty() {
                pieces.push(r.message.as_str());
            }
        }
        frames.add_message(&pieces.join("\n"));
        Ok(frames.modules())
    }

    pub fn get(&self, evidence_id: &str) -> Result<Option<LogRecord>, IndexError> {
        let term = Term::from_field_text(self.fields.evidence_id, evidence_id);
        let query = TermQuery::new(term, IndexRecordOption::Basic);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            Some((_, address)) => Ok(Some(self.to_record(&searcher.doc(*address)?)?)),
            None => Ok(None),
        }
    }

    fn query(&self, filter: &Filter) -> Result<Box<dyn Query>, IndexError> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if let Some((start, end)) = filter.range_ns {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.ts, start)),
                    Bound::Excluded(Term::from_field_i64(f.ts, end)),
                )),
            ));
        }
        if let Some(service) = &filter.service {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.service, service),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
            let parser = QueryParser::for_index(&self.index, vec![f.message]);
            let q = parser.parse_query(text).map_err(|e| IndexError::BadQuery {
                query: text.to_string(),
                message: e.to_string(),
            })?;
            clauses.push((Occur::Must, q));
        }
        Ok(if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        })
    }

    fn to_record(&self, doc: &TantivyDocument) -> Result<LogRecord, IndexError> {
        let f = self.fields;
        let text = |field: Field| -> Option<String> {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let get_u64 = |field: Field| doc.get_first(field).and_then(|v| v.as_u64());
        let ts_ns = doc
            .get_first(f.ts)
            .and_then(|v| v.as_i64())
            .ok_or(IndexError::Corrupt("ts"))?;
        Ok(LogRecord {
            evidence_id: text(f.evidence_id).ok_or(IndexError::Corrupt("evidence_id"))?,
            ts_ns,
            service: text(f.service).unwrap_or_default(),
            host: text(f.host),
            level: text(f.level)
                .and_then(|l| Level::parse(&l))
                .unwrap_or(Level::Unknown),
            message: text(f.message).unwrap_or_default(),
            template_id: get_u64(f.template_id),
            trace_id: text(f.trace_id),
            approximate_time: f.approx.and_then(get_u64) == Some(1),
            module: f.module.and_then(text),
            provenance: Provenance {
                source: text(f.source).unwrap_or_default(),
                line: get_u64(f.line).unwrap_or(0),
            },
        })
    }
}

/// Adds records; nothing is visible or durable until [`LogWriter::commit`].
pub struct LogWriter<'a> {
    owner: &'a LogIndex,
    writer: IndexWriter,
    pending: u64,
}

impl LogWriter<'_> {
    /// Upsert: the same record ingested twice stays one document.
    pub fn add(&mut self, r: &LogRecord) -> Result<(), IndexError> {
        let f = self.owner.fields;
        self.writer
            .delete_term(Term::from_field_text(f.evidence_id, &r.evidence_id));
        self.insert(r)
    }

    /// Adds without first deleting an older copy: only for records the caller knows are not in
    /// the index yet (the ingest ledger tells), because deletes cost at every commit.
    pub fn insert(&mut self, r: &LogRecord) -> Result<(), IndexError> {
        let f = self.owner.fields;
        let mut d = doc!(
            f.evidence_id => r.evidence_id.as_str(),
            f.ts => r.ts_ns,
            f.service => r.service.as_str(),
            f.level => r.level.as_str(),
            f.message => r.message.as_str(),
            f.source => r.provenance.source.as_str(),
            f.line => r.provenance.line,
        );
        if let Some(h) = &r.host {
            d.add_text(f.host, h);
        }
        if let Some(t) = &r.trace_id {
            d.add_text(f.trace_id, t);
            if let Some(field) = f.trace_hash {
                d.add_u64(field, rootline_core::sketch::trace_hash(t));
            }
        }
        if let (Some(field), Some(m)) = (f.module, &r.module) {
            d.add_text(field, m);
        }
        if let (Some(field), true) = (f.approx, r.approximate_time) {
            d.add_u64(field, 1);
        }
        if let Some(t) = r.template_id {
            d.add_u64(f.template_id, t);
        }
        self.writer.add_document(d)?;
        self.pending += 1;
        Ok(())
    }

    /// Records added since the last commit.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Makes everything added so far durable, then visible to this process's searches.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        self.writer.commit()?;
        bound_segments(&self.owner.index, &mut self.writer)?;
        self.pending = 0;
        self.owner.reload()
    }

    /// Like [`LogWriter::commit`], storing `payload` atomically with the commit: it is durable
    /// exactly when the records are.
    pub fn commit_with_payload(&mut self, payload: &str) -> Result<(), IndexError> {
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(payload);
        prepared.commit()?;
        bound_segments(&self.owner.index, &mut self.writer)?;
        self.pending = 0;
        self.owner.reload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A live ingest commits one small batch after another, each with a fresh writer: the
    /// segment count stays bounded, every record stays searchable, and the ledger payload of the
    /// last commit survives the merges (#21, item 3).
    #[test]
    fn many_small_commits_keep_segments_bounded_and_the_payload() {
        let dir = tempfile::tempdir().unwrap();
        let idx = LogIndex::open(dir.path()).unwrap();
        for i in 0..40i64 {
            let mut w = idx.writer().unwrap();
            w.insert(&record(&format!("r{i}"), i, "api", Level::Info, "hello"))
                .unwrap();
            w.commit_with_payload(&format!("batch-{i}")).unwrap();
        }
        let segments = idx.index.searchable_segment_ids().unwrap().len();
        assert!(segments <= MAX_SEGMENTS, "{segments} segments");
        assert_eq!(idx.count(&Filter::default()).unwrap(), 40);
        assert_eq!(idx.commit_payload().unwrap().as_deref(), Some("batch-39"));
        // And after a reopen (what a restart sees).
        drop(idx);
        let idx = LogIndex::open(dir.path()).unwrap();
        assert_eq!(idx.count(&Filter::default()).unwrap(), 40);
        assert_eq!(idx.commit_payload().unwrap().as_deref(), Some("batch-39"));
    }

    fn record(id: &str, ts: i64, service: &str, level: Level, message: &str) -> LogRecord {
        LogRecord {
            evidence_id: id.into(),
            ts_ns: ts,
            service: service.into(),
            host: Some(format!("{service}-0")),
            level,
            message: message.into(),
            template_id: Some(7),
            trace_id: None,
            approximate_time: false,
            module: None,
            provenance: Provenance {
                source: "a.log".into(),
                line: ts as u64,
            },
        }
    }

    #[test]
    fn round_trip_filters_and_upsert() {
        let dir = tempfile::tempdir().unwrap();
        let index = LogIndex::open(dir.path()).unwrap();
        {
            let mut w = index.writer().unwrap();
            w.add(&record("e1", 10, "api", Level::Info, "user logged in"))
                .unwrap();
            w.add(&record("e2", 20, "db", Level::Error, "connection refused"))
                .unwrap();
            w.add(&record(
                "e3",
                30,
                "api",
                Level::Error,
                "upstream connection reset",
            ))
            .unwrap();
            w.commit().unwrap();
            // Same id again: replaces, does not duplicate.
            w.add(&record("e1", 10, "api", Level::Info, "user logged in"))
                .unwrap();
            w.commit().unwrap();
        }
        assert_eq!(index.count(&Filter::default()).unwrap(), 3);
        let window = Filter {
            range_ns: Some((15, 30)),
            ..Default::default()
        };
        let got = index.records(&window).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0],
            record("e2", 20, "db", Level::Error, "connection refused")
        );
        let api = Filter {
            service: Some("api".into()),
            ..Default::default()
        };
        assert_eq!(index.count(&api).unwrap(), 2);
        let text = Filter {
            text: Some("connection".into()),
            ..Default::default()
        };
        let hits = index.search(&text, 10).unwrap();
        assert_eq!(hits.len(), 2);
        assert!(index.get("e3").unwrap().is_some());
        assert!(index.get("nope").unwrap().is_none());

        // Durable: a fresh handle on the same directory sees the same records.
        drop(index);
        let reopened = LogIndex::open(dir.path()).unwrap();
        assert_eq!(reopened.count(&Filter::default()).unwrap(), 3);
    }

    #[test]
    fn template_stats_count_without_loading_every_record() {
        let index = LogIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        let r = |id: &str, ts: i64, service: &str, level: Level, t: u64| {
            let mut rec = record(id, ts, service, level, "m");
            rec.template_id = Some(t);
            rec
        };
        w.add(&r("a1", 5, "api", Level::Info, 1)).unwrap();
        w.add(&r("a2", 3, "api", Level::Error, 1)).unwrap();
        w.add(&r("a3", 4, "api", Level::Info, 1)).unwrap();
        w.add(&r("a4", 9, "api", Level::Warn, 2)).unwrap();
        w.add(&r("d1", 7, "db", Level::Info, 1)).unwrap();
        w.commit().unwrap();
        // A second segment: counts must merge across segments.
        w.add(&r("a5", 1, "api", Level::Info, 1)).unwrap();
        w.commit().unwrap();
        let stats = index.template_stats(&Filter::default(), 2).unwrap();
        assert_eq!(stats.len(), 3);
        let api1 = &stats[0];
        assert_eq!((api1.service.as_str(), api1.template_id), ("api", Some(1)));
        assert_eq!((api1.count, api1.errors, api1.warnings), (4, 1, 0));
        assert_eq!((api1.first_ns, api1.last_ns), (1, 5));
        assert_eq!(api1.worst_level, Level::Error);
        assert_eq!(api1.examples.len(), 2);
        let api2 = stats.iter().find(|s| s.template_id == Some(2)).unwrap();
        assert_eq!(
            (api2.count, api2.warnings, api2.worst_level),
            (1, 1, Level::Warn)
        );
        let windowed = index
            .template_stats(
                &Filter {
                    range_ns: Some((4, 8)),
                    ..Default::default()
                },
                3,
            )
            .unwrap();
        let total: u64 = windowed.iter().map(|s| s.count).sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn uncommitted_records_are_invisible_and_bad_queries_are_errors() {
        let index = LogIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        w.add(&record("e1", 1, "api", Level::Info, "x")).unwrap();
        assert_eq!(index.count(&Filter::default()).unwrap(), 0);
        w.commit().unwrap();
        assert_eq!(index.count(&Filter::default()).unwrap(), 1);
        let bad = Filter {
            text: Some("message:(".into()),
            ..Default::default()
        };
        assert!(matches!(
            index.count(&bad),
            Err(IndexError::BadQuery { .. })
        ));
    }

    #[test]
    fn module_and_frames_reach_template_stats() {
        let index = LogIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        let mut r = record(
            "log-1",
            10,
            "cinder",
            Level::Error,
            "Failed to copy image\nTraceback (most recent call last):\n  File \"/usr/lib/python2.7/site-packages/cinder/volume/manager.py\", line 5, in copy\n  File \"/usr/lib/python2.7/site-packages/cinder/image/image_utils.py\", line 285, in fetch\nValueError: bad",
        );
        r.module = Some("cinder.volume.manager".into());
        w.add(&r).unwrap();
        w.commit().unwrap();
        assert_eq!(index.get("log-1").unwrap().unwrap().module, r.module);
        let stats = index.template_stats(&Filter::default(), 3).unwrap();
        assert_eq!(stats[0].modules, ["cinder.volume.manager"]);
        assert_eq!(
            stats[0].frames,
            ["cinder.image.image_utils", "cinder.volume.manager"]
        );
    }

    /// A record timed by its order (an untimed line) says so after a round trip; others do not.
    #[test]
    fn an_approximate_time_survives_the_index() {
        let index = LogIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        let mut r = record("log-a", 5, "api", Level::Info, "untimed");
        r.approximate_time = true;
        w.add(&r).unwrap();
        w.add(&record("log-b", 6, "api", Level::Info, "timed"))
            .unwrap();
        w.commit().unwrap();
        assert!(index.get("log-a").unwrap().unwrap().approximate_time);
        assert!(!index.get("log-b").unwrap().unwrap().approximate_time);
    }

    /// An index written before the `module` and `trace_hash` fields existed still opens, reads
    /// and takes new records (without their module or trace sketch).
    #[test]
    fn index_without_module_field_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut b = Schema::builder();
            let evidence_id = b.add_text_field("evidence_id", STRING | STORED);
            let ts = b.add_i64_field("ts", INDEXED | FAST | STORED);
            let service = b.add_text_field("service", STRING | FAST | STORED);
            b.add_text_field("host", STRING | STORED);
            let level = b.add_text_field("level", STRING | FAST | STORED);
            let message = b.add_text_field("message", TEXT | STORED);
            b.add_u64_field("template_id", INDEXED | FAST | STORED);
            b.add_text_field("source", STRING | STORED);
            b.add_u64_field("line", STORED);
            b.add_text_field("trace_id", STRING | STORED);
            let old = Index::create_in_dir(dir.path(), b.build()).unwrap();
            let mut w: IndexWriter = old.writer(15_000_000).unwrap();
            w.add_document(doc!(
                evidence_id => "log-old",
                ts => 5_i64,
                service => "api",
                level => "info",
                message => "written by an older version",
            ))
            .unwrap();
            w.commit().unwrap();
        }
        let index = LogIndex::open(dir.path()).unwrap();
        let old = index.get("log-old").unwrap().expect("old record readable");
        assert_eq!(old.message, "written by an older version");
        assert_eq!(old.module, None);
        let mut w = index.writer().unwrap();
        let mut r = record("log-new", 6, "api", Level::Info, "new record");
        r.module = Some("api.handlers".into());
        w.add(&r).unwrap();
        w.commit().unwrap();
        assert_eq!(index.count(&Filter::default()).unwrap(), 2);
        assert_eq!(index.get("log-new").unwrap().unwrap().module, None);
        let stats = index.template_stats(&Filter::default(), 3).unwrap();
        assert!(stats.iter().all(|s| s.traces.is_empty()), "{stats:?}");
    }

    /// A template's aggregate carries the bottom-k sketch of its records' trace ids, the same
    /// the pure aggregation computes, across segments.
    #[test]
    fn template_stats_sketch_the_trace_ids_of_their_records() {
        let index = LogIndex::in_memory().unwrap();
        let mut expected = Vec::new();
        for batch in 0..2 {
            let mut w = index.writer().unwrap();
            for i in 0..50 {
                let n = batch * 50 + i;
                let mut r = record(&format!("log-t{n}"), n, "api", Level::Info, "served");
                r.template_id = Some(7);
                let trace = format!("trace-{n}");
                rootline_core::sketch::sketch_insert(
                    &mut expected,
                    rootline_core::sketch::trace_hash(&trace),
                    rootline_core::sketch::TRACE_SKETCH_SIZE,
                );
                r.trace_id = Some(trace);
                w.add(&r).unwrap();
            }
            // A record without a trace adds nothing to the sketch.
            let mut r = record(&format!("log-u{batch}"), 1000, "api", Level::Info, "served");
            r.template_id = Some(7);
            w.add(&r).unwrap();
            w.commit().unwrap();
        }
        let stats = index.template_stats(&Filter::default(), 3).unwrap();
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].count, 102);
        assert_eq!(stats[0].traces, expected);
        assert_eq!(expected.len(), rootline_core::sketch::TRACE_SKETCH_SIZE);
    }

    /// A template's aggregate counts the seconds its records were written in (a sketch, exact
    /// when few), across segments: 300 records in 3 seconds are 3 bursts, not 300.
    #[test]
    fn template_stats_count_the_seconds_their_records_were_written_in() {
        let index = LogIndex::in_memory().unwrap();
        for batch in 0..3i64 {
            let mut w = index.writer().unwrap();
            for i in 0..100i64 {
                let ts = batch * 1_000_000_000 + i * 1_000_000;
                let r = record(
                    &format!("log-s{batch}-{i}"),
                    ts,
                    "api",
                    Level::Debug,
                    "opt = x",
                );
                w.add(&r).unwrap();
            }
            w.commit().unwrap();
        }
        let stats = index.template_stats(&Filter::default(), 3).unwrap();
        assert_eq!(stats.len(), 1);
        assert_eq!(stats[0].count, 300);
        let seconds = rootline_core::sketch::sketch_distinct(
            &stats[0].seconds,
            rootline_core::sketch::SECONDS_SKETCH_SIZE,
        );
        assert_eq!(seconds, 3.0);
    }

    /// oslo.log writes each traceback line as a record of its own; the frame lines share one
    /// template. Read in file order they are the trace again, innermost frame first.
    #[test]
    fn a_trace_written_one_frame_per_record_is_reassembled() {
        let index = LogIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        let frames = [
            "oslo_messaging/rpc/server.py",
            "cinder/volume/manager.py",
            "cinder/volume/flows/manager/create_volume.py",
            "cinder/image/image_utils.py",
            "oslo_concurrency/processutils.py",
        ];
        for (line, path) in frames.iter().enumerate() {
            let mut r = record(
                &format!("log-f{line}"),
                // One timestamp for the whole trace, as oslo.log writes it.
                100,
                "cinder",
                Level::Error,
                &format!("  File \"/usr/lib/python2.7/site-packages/{path}\", line {line}, in f"),
            );
            r.provenance.line = 10 + line as u64;
            r.template_id = Some(42);
            w.add(&r).unwrap();
        }
        w.commit().unwrap();
        // Two examples are kept, yet every frame of the trace is read.
        let stats = index.template_stats(&Filter::default(), 2).unwrap();
        assert_eq!(stats[0].examples.len(), 2);
        assert_eq!(
            stats[0].frames,
            [
                "oslo_concurrency.processutils",
                "cinder.image.image_utils",
                "cinder.volume.flows.manager.create_volume",
                "cinder.volume.manager",
                "oslo_messaging.rpc.server",
            ]
        );
    }

    /// Records of one message that failed along different paths: the frames follow the path
    /// most of them took, also when the frames are read from more records than the examples.
    #[test]
    fn frames_of_whole_traces_follow_the_majority_path() {
        let index = LogIndex::in_memory().unwrap();
        let mut w = index.writer().unwrap();
        let trace = |modules: &[&str]| {
            "Unexpected exception in API method\n".to_string()
                + &rootline_core::frames::python_traceback(
                    modules,
                    "NotImplementedError: Cannot load 'instance' in the base class",
                )
        };
        let show = trace(&[
            "nova/api/servers",
            "nova/compute/api",
            "oslo_versionedobjects/base",
        ]);
        let list = trace(&[
            "nova/api/servers",
            "nova/compute/api",
            "nova/objects/build_request",
            "oslo_versionedobjects/base",
        ]);
        for (i, message) in [&show, &list, &list].into_iter().enumerate() {
            let mut r = record(
                &format!("log-t{i}"),
                100 + i as i64,
                "nova",
                Level::Error,
                message,
            );
            r.template_id = Some(7);
            w.add(&r).unwrap();
        }
        w.commit().unwrap();
        for max_examples in [1, 3] {
            let stats = index
                .template_stats(&Filter::default(), max_examples)
                .unwrap();
            assert_eq!(
                stats[0].frames,
                [
                    "oslo_versionedobjects.base",
                    "nova.objects.build_request",
                    "nova.compute.api",
                    "nova.api.servers"
                ],
                "{max_examples} examples"
            );
        }
    }
}
