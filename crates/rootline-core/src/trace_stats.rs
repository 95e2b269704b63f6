//! Trace aggregates: per-service span counts, errors and latency distributions (duration, self
//! time, waiting on remote callees, inbound network gap) and the caller → callee service graph,
//! computed over one time range of spans.
//!
//! The index computes these from fast-field columns and tests compute them from parsed spans; both
//! go through [`aggregate_spans`], so the two paths cannot drift apart. Signals compare two
//! aggregates (window against baseline) without knowing where they came from.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ServiceGraph, SpanStatus};

/// Stable evidence id of a span: `span-` + 20 hex of SHA-256 over trace id then span id.
pub fn span_evidence_id(trace_id: &str, span_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(trace_id.as_bytes());
    h.update(span_id.as_bytes());
    format!("span-{}", hex::encode(&h.finalize()[..10]))
}

/// A 64-bit join key for a span within its trace (FNV-1a over trace id, a separator, span id);
/// parents are found by computing the same key from (trace id, parent span id).
pub fn span_key(trace_id: &str, span_id: &str) -> u64 {
    crate::hash::fnv1a_parts(&[trace_id, span_id])
}

/// Buckets per doubling: bucket bounds are 2^(i/8), so any quantile is within ~4.4% of the truth.
const BUCKETS_PER_OCTAVE: f64 = 8.0;

/// A sparse log-bucketed histogram of non-negative nanosecond values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Bucket index → count. Bucket 0 holds values ≤ 1 ns.
    pub buckets: BTreeMap<u32, u64>,
    pub count: u64,
}

impl LatencyHistogram {
    fn bucket(ns: i64) -> u32 {
        if ns <= 1 {
            return 0;
        }
        ((ns as f64).log2() * BUCKETS_PER_OCTAVE).floor() as u32 + 1
    }

    /// The lower bound of bucket `b` in nanoseconds (bucket `b` spans `[lower(b), lower(b + 1))`).
    fn lower(b: u32) -> f64 {
        if b == 0 {
            return 0.0;
        }
        2f64.powf((b - 1) as f64 / BUCKETS_PER_OCTAVE)
    }

    /// Where `x` sits inside bucket `b`, 0..1, on a log scale.
    fn position(b: u32, x: f64) -> f64 {
        let (lo, hi) = (Self::lower(b), Self::lower(b + 1));
        if b == 0 || x <= lo {
            return 0.0;
        }
        ((x.ln() - lo.ln()) / (hi.ln() - lo.ln())).clamp(0.0, 1.0)
    }

    pub fn record(&mut self, ns: i64) {
        *self.buckets.entry(Self::bucket(ns)).or_default() += 1;
        self.count += 1;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (b, c) in &other.buckets {
            *self.buckets.entry(*b).or_default() += c;
        }
        self.count += other.count;
    }

    /// The `q` quantile (0..=1) in nanoseconds, interpolated log-linearly inside its bucket;
    /// `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * self.count as f64).max(0.5);
        let mut seen = 0.0;
        for (b, c) in &self.buckets {
            let next = seen + *c as f64;
            if next >= rank {
                if *b == 0 {
                    return Some(1.0);
                }
                let frac = ((rank - seen) / *c as f64).clamp(0.0, 1.0);
                let (lo, hi) = (Self::lower(*b), Self::lower(*b + 1));
                return Some(lo * (hi / lo).powf(frac));
            }
            seen = next;
        }
        self.buckets.keys().next_back().map(|b| Self::lower(b + 1))
    }

    /// How many values exceed `ns` (values in `ns`'s own bucket are split log-linearly).
    pub fn count_above(&self, ns: f64) -> f64 {
        let b = Self::bucket(ns.clamp(0.0, i64::MAX as f64) as i64);
        let above: u64 = self.buckets.range(b + 1..).map(|(_, c)| c).sum();
        let inside = self.buckets.get(&b).copied().unwrap_or(0) as f64;
        above as f64 + inside * (1.0 - Self::position(b, ns))
    }
}

#[derive(Debug, Clone)]
pub struct SpanFacts<E> {
    /// [`span_key`] of (trace id, span id).
    pub key: u64,
    /// [`span_key`] of (trace id, parent span id); `None` for roots.
    pub parent_key: Option<u64>,
    /// Index into the service-name table given to [`aggregate_spans`].
    pub service: u32,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub status: SpanStatus,
    pub example: E,
}

/// One service's spans over a time range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceTraceStats {
    pub spans: u64,
    /// Spans whose status is known (not `Unset`); error rates are only meaningful over these.
    pub status_known: u64,
    pub errors: u64,
    /// Earliest span start, unix ns.
    pub first_ns: i64,
    /// Durations of the service's entry spans (see [`aggregate_spans`]): how long the service
    /// took per request it served, as seen from inside it.
    pub duration: LatencyHistogram,
    /// Self time per entry span: its duration minus the time the service spent waiting on other
    /// services within that request (the union of its outbound call intervals). Internal spans,
    /// async wrappers and uninstrumented work (e.g. a database driver) all count as the
    /// service's own time; a slow callee does not.
    pub self_time: LatencyHistogram,
    /// Waiting time per entry span: the union of its outbound call intervals.
    pub wait: LatencyHistogram,
    /// For entry spans called from another service's span that has this one as its only child:
    /// the caller's span duration minus this span's. Network and queueing between the two, in
    /// both directions; grows when this service's network is slow.
    pub inbound_gap: LatencyHistogram,
    /// Evidence ids of the slowest entry spans by duration, slowest first.
    pub slowest: Vec<String>,
    /// Evidence ids of the entry spans with the largest self time.
    pub slowest_self: Vec<String>,
    /// Evidence ids of the entry spans with the largest inbound gap.
    pub slowest_gap: Vec<String>,
}

impl ServiceTraceStats {
    /// Error rate among spans with a known status; `None` when no status is known.
    pub fn error_rate(&self) -> Option<f64> {
        (self.status_known > 0).then(|| self.errors as f64 / self.status_known as f64)
    }
}

/// Everything the trace signals need about one time range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceAggregates {
    pub per_service: BTreeMap<String, ServiceTraceStats>,
    /// Caller → callee edges (a span whose parent span runs in another service), with call counts.
    pub graph: ServiceGraph,
}

impl TraceAggregates {
    pub fn total_spans(&self) -> u64 {
        self.per_service.values().map(|s| s.spans).sum()
    }

    /// Adds `other` (another time range) into `self`: counts and histograms add up, examples
    /// keep the first `max_examples` of each list.
    pub fn merge(&mut self, other: &TraceAggregates, max_examples: usize) {
        for (service, o) in &other.per_service {
            let s = self.per_service.entry(service.clone()).or_default();
            let first = if s.spans == 0 {
                o.first_ns
            } else {
                s.first_ns.min(o.first_ns)
            };
            s.spans += o.spans;
            s.status_known += o.status_known;
            s.errors += o.errors;
            s.first_ns = first;
            s.duration.merge(&o.duration);
            s.self_time.merge(&o.self_time);
            s.wait.merge(&o.wait);
            s.inbound_gap.merge(&o.inbound_gap);
            for (mine, theirs) in [
                (&mut s.slowest, &o.slowest),
                (&mut s.slowest_self, &o.slowest_self),
                (&mut s.slowest_gap, &o.slowest_gap),
            ] {
                for e in theirs {
                    if mine.len() < max_examples {
                        mine.push(e.clone());
                    }
                }
            }
        }
        self.graph.merge(&other.graph);
    }
}

/// Keeps the `k` largest (value, handle) pairs.
struct TopK<E> {
    k: usize,
    items: Vec<(i64, E)>,
}

impl<E: Clone> TopK<E> {
    fn new(k: usize) -> Self {
        TopK { k, items: vec![] }
    }

    fn push(&mut self, v: i64, e: &E) {
        if self.k == 0 {
            return;
        }
        if self.items.len() < self.k {
            self.items.push((v, e.clone()));
        } else if let Some((i, min)) = self
            .items
            .iter()
            .enumerate()
            .min_by_key(|(_, x)| x.0)
            .map(|(i, x)| (i, x.0))
            && v > min
        {
            self.items[i] = (v, e.clone());
        }
    }

    fn into_sorted(mut self) -> Vec<E> {
        self.items.sort_by_key(|x| std::cmp::Reverse(x.0));
        self.items.into_iter().map(|x| x.1).collect()
    }
}

struct Acc<E> {
    stats: ServiceTraceStats,
    slowest: TopK<E>,
    slowest_self: TopK<E>,
    slowest_gap: TopK<E>,
}

/// Marks spans still being resolved, to survive parent cycles in bad data.
const VISITING: u32 = u32::MAX - 1;
const UNRESOLVED: u32 = u32::MAX;

/// Aggregates spans of one time range.
///
/// Spans are grouped into *segments*: a maximal subtree of one service's spans within one trace,
/// rooted at an *entry span* (a span whose parent runs in another service or is not in the
/// range). A segment is one request as the service handled it, whatever its internal span
/// structure. Its waiting time is the union of its outbound call intervals: a span whose children
/// are all remote is a client span and its whole interval is waiting (wire time included); for
/// any other span (one with local children too, or the entry span itself), its remote children's
/// intervals are. Self time is the
/// entry duration minus that union (so parallel calls are not subtracted twice).
///
/// Parents and children are joined by key within `facts` only: a span whose parent falls outside
/// the range starts a segment, and children outside the range count as own time (the edges of
/// the range blur a little). `resolve` turns the handles of the few example spans into evidence
/// ids.
pub fn aggregate_spans<E: Clone>(
    facts: &[SpanFacts<E>],
    services: &[String],
    max_examples: usize,
    mut resolve: impl FnMut(&E) -> Option<String>,
) -> TraceAggregates {
    let n = facts.len();
    let by_key: HashMap<u64, usize> = facts.iter().enumerate().map(|(i, f)| (f.key, i)).collect();
    let parent_of: Vec<Option<usize>> = facts
        .iter()
        .enumerate()
        .map(|(i, f)| {
            f.parent_key
                .and_then(|k| by_key.get(&k).copied())
                .filter(|p| *p != i)
        })
        .collect();
    let end = |i: usize| {
        facts[i]
            .start_ns
            .saturating_add(facts[i].duration_ns.max(0))
    };
    let mut child_count = vec![0u32; n];
    let mut remote_count = vec![0u32; n];
    for (i, f) in facts.iter().enumerate() {
        if let Some(p) = parent_of[i] {
            child_count[p] += 1;
            if facts[p].service != f.service {
                remote_count[p] += 1;
            }
        }
    }
    // The entry span of every span's segment: walk up while the parent is the same service.
    let mut entry = vec![UNRESOLVED; n];
    let mut path = Vec::new();
    for i in 0..n {
        let mut j = i;
        let root = loop {
            match entry[j] {
                UNRESOLVED => {}
                VISITING => break j as u32,
                e => break e,
            }
            entry[j] = VISITING;
            path.push(j);
            match parent_of[j] {
                Some(p) if facts[p].service == facts[j].service => j = p,
                _ => break j as u32,
            }
        };
        for k in path.drain(..) {
            entry[k] = root;
        }
    }
    // Outbound waiting intervals, per segment.
    let mut intervals: Vec<(u32, i64, i64)> = Vec::new();
    // A span whose children are all remote is a client span, unless it is the entry span
    // itself (a handler calling out directly): then only the remote intervals are waiting.
    let is_client = |i: usize| {
        remote_count[i] > 0 && remote_count[i] == child_count[i] && entry[i] as usize != i
    };
    for i in 0..n {
        if is_client(i) {
            intervals.push((entry[i], facts[i].start_ns, end(i)));
        }
        if let Some(p) = parent_of[i]
            && facts[p].service != facts[i].service
            && !is_client(p)
        {
            intervals.push((entry[p], facts[i].start_ns, end(i)));
        }
    }
    intervals.sort_unstable();
    let mut waited: HashMap<u32, i64> = HashMap::new();
    let mut k = 0;
    while k < intervals.len() {
        let seg = intervals[k].0;
        let (lo, hi) = (facts[seg as usize].start_ns, end(seg as usize));
        let mut total = 0i64;
        let mut cur: Option<(i64, i64)> = None;
        while k < intervals.len() && intervals[k].0 == seg {
            let (s, e) = (intervals[k].1.max(lo), intervals[k].2.min(hi));
            k += 1;
            if e <= s {
                continue;
            }
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    total += ce - cs;
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = cur {
            total += ce - cs;
        }
        waited.insert(seg, total);
    }

    let mut accs: Vec<Option<Acc<E>>> = (0..services.len()).map(|_| None).collect();
    let mut graph = ServiceGraph::default();
    for (i, f) in facts.iter().enumerate() {
        let Some(slot) = accs.get_mut(f.service as usize) else {
            continue;
        };
        let acc = slot.get_or_insert_with(|| Acc {
            stats: ServiceTraceStats {
                first_ns: i64::MAX,
                ..Default::default()
            },
            slowest: TopK::new(max_examples),
            slowest_self: TopK::new(max_examples),
            slowest_gap: TopK::new(max_examples),
        });
        let s = &mut acc.stats;
        s.spans += 1;
        if f.status != SpanStatus::Unset {
            s.status_known += 1;
        }
        if f.status == SpanStatus::Error {
            s.errors += 1;
        }
        s.first_ns = s.first_ns.min(f.start_ns);
        if entry[i] as usize != i {
            continue;
        }
        let duration = f.duration_ns.max(0);
        s.duration.record(duration);
        acc.slowest.push(duration, &f.example);
        let wait = waited.get(&(i as u32)).copied().unwrap_or(0);
        let own = (duration - wait).max(0);
        s.wait.record(wait);
        s.self_time.record(own);
        acc.slowest_self.push(own, &f.example);
        if let Some(p) = parent_of[i] {
            if let (Some(caller), Some(callee)) = (
                services.get(facts[p].service as usize),
                services.get(f.service as usize),
            ) {
                graph.add_call(caller, callee, 1);
            }
            if child_count[p] == 1 {
                let gap = (facts[p].duration_ns - duration).max(0);
                s.inbound_gap.record(gap);
                acc.slowest_gap.push(gap, &f.example);
            }
        }
    }
    let mut per_service = BTreeMap::new();
    for (idx, slot) in accs.into_iter().enumerate() {
        let (Some(acc), Some(name)) = (slot, services.get(idx)) else {
            continue;
        };
        let mut stats = acc.stats;
        let mut ids = |top: TopK<E>| -> Vec<String> {
            top.into_sorted().iter().filter_map(&mut resolve).collect()
        };
        stats.slowest = ids(acc.slowest);
        stats.slowest_self = ids(acc.slowest_self);
        stats.slowest_gap = ids(acc.slowest_gap);
        per_service
            .entry(name.clone())
            .and_modify(|existing: &mut ServiceTraceStats| merge_stats(existing, &stats))
            .or_insert(stats);
    }
    TraceAggregates { per_service, graph }
}

/// Two entries of the service table may carry the same name (one per index segment).
fn merge_stats(a: &mut ServiceTraceStats, b: &ServiceTraceStats) {
    a.spans += b.spans;
    a.status_known += b.status_known;
    a.errors += b.errors;
    a.first_ns = a.first_ns.min(b.first_ns);
    a.duration.merge(&b.duration);
    a.self_time.merge(&b.self_time);
    a.wait.merge(&b.wait);
    a.inbound_gap.merge(&b.inbound_gap);
    let keep = a.slowest.len().max(b.slowest.len());
    for (dst, src) in [
        (&mut a.slowest, &b.slowest),
        (&mut a.slowest_self, &b.slowest_self),
        (&mut a.slowest_gap, &b.slowest_gap),
    ] {
        dst.extend(src.iter().cloned());
        dst.truncate(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_close() {
        let mut h = LatencyHistogram::default();
        for v in 1..=1000 {
            h.record(v * 1_000);
        }
        let p50 = h.quantile(0.5).unwrap();
        let p90 = h.quantile(0.9).unwrap();
        assert!((p50 / 500_000.0 - 1.0).abs() < 0.05, "{p50}");
        assert!((p90 / 900_000.0 - 1.0).abs() < 0.05, "{p90}");
        let above = h.count_above(900_000.0);
        assert!((95.0..=105.0).contains(&above), "{above}");
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
    }

    #[test]
    fn ids_are_stable() {
        let id = span_evidence_id("abc", "01");
        assert_eq!(id.len(), 25);
        assert_eq!(id, span_evidence_id("abc", "01"));
        assert_ne!(id, span_evidence_id("abc", "02"));
        assert_ne!(span_key("a", "bc"), span_key("ab", "c"));
    }

    #[test]
    fn segments_self_time_wait_and_gap() {
        let services = vec!["gw".to_string(), "db".to_string()];
        let f = |key, parent, service, start, dur| SpanFacts {
            key,
            parent_key: parent,
            service,
            start_ns: start,
            duration_ns: dur,
            status: SpanStatus::Unset,
            example: key,
        };
        // gw root [0,100) with an async wrapper [1,99) and a client span [10,90) calling
        // db [20,70); db has an internal child [30,40).
        let facts = vec![
            f(1, None, 0, 0, 100),
            f(2, Some(1), 0, 1, 98),
            f(3, Some(1), 0, 10, 80),
            f(4, Some(3), 1, 20, 50),
            f(5, Some(4), 1, 30, 10),
        ];
        let agg = aggregate_spans(&facts, &services, 2, |k| Some(format!("s{k}")));
        let gw = &agg.per_service["gw"];
        let db = &agg.per_service["db"];
        let near = |h: &LatencyHistogram, v: f64| (h.quantile(0.5).unwrap() / v - 1.0).abs() < 0.05;
        // One request each; the wrapper does not count as own time, the client span is waiting.
        assert_eq!((gw.spans, gw.duration.count, gw.self_time.count), (3, 1, 1));
        assert!(near(&gw.self_time, 20.0));
        assert!(near(&gw.wait, 80.0));
        assert!(near(&gw.duration, 100.0));
        // db's internal child is its own time.
        assert!(near(&db.self_time, 50.0));
        assert!(near(&db.inbound_gap, 30.0));
        assert_eq!(gw.slowest, vec!["s1"]);
        assert_eq!(db.slowest_gap, vec!["s4"]);
        assert_eq!(agg.graph.edges["gw"]["db"], 1);
        assert_eq!(agg.total_spans(), 5);
    }

    #[test]
    fn parent_cycles_do_not_hang() {
        let services = vec!["a".to_string()];
        let f = |key, parent| SpanFacts {
            key,
            parent_key: Some(parent),
            service: 0,
            start_ns: 0,
            duration_ns: 5,
            status: SpanStatus::Error,
            example: (),
        };
        let agg = aggregate_spans(&[f(1, 2), f(2, 1)], &services, 1, |_| None);
        assert_eq!(agg.per_service["a"].spans, 2);
        assert_eq!(agg.per_service["a"].errors, 2);
    }
}
