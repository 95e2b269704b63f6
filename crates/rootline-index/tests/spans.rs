//! Span index: aggregates over a hand-built gateway → orders → db call tree where only db gets
//! slow in the second half, read back through fast fields.

use rootline_core::{Provenance, Span, SpanStatus, span_evidence_id};
use rootline_index::spans::SpanIndex;

const MS: i64 = 1_000_000;

fn span(trace: &str, id: &str, parent: Option<&str>, service: &str, start: i64, dur: i64) -> Span {
    Span {
        evidence_id: span_evidence_id(trace, id),
        trace_id: trace.into(),
        span_id: id.into(),
        parent_span_id: parent.map(str::to_string),
        service: service.into(),
        host: None,
        operation: format!("{service} op"),
        start_ns: start,
        duration_ns: dur,
        status: if service == "db" && dur > 40 * MS {
            SpanStatus::Error
        } else {
            SpanStatus::Ok
        },
        provenance: Provenance {
            source: "traces.csv".into(),
            line: 1,
        },
    }
}

/// One request: gateway (server) → orders (server) → orders' client span → db (server).
fn request(i: i64, db_ms: i64) -> Vec<Span> {
    let t = format!("trace{i}");
    let start = i * 1_000 * MS;
    let jitter = (i % 5) * MS / 10;
    let db = db_ms * MS + jitter;
    let client = db + MS;
    let orders = client + 3 * MS + jitter;
    let gw = orders + 2 * MS;
    vec![
        span(&t, "g", None, "gateway", start, gw),
        span(&t, "o", Some("g"), "orders", start + MS, orders),
        span(&t, "oc", Some("o"), "orders", start + 2 * MS, client),
        span(&t, "d", Some("oc"), "db", start + 2 * MS, db),
    ]
}

#[test]
fn aggregates_and_graph_on_a_call_tree() {
    let index = SpanIndex::in_memory().unwrap();
    let mut w = index.writer().unwrap();
    // 100 normal requests, committed in two segments, then 100 with a slow db.
    for i in 0..100 {
        for s in request(i, 5) {
            w.add(&s).unwrap();
        }
        if i == 49 {
            w.commit().unwrap();
        }
    }
    for i in 100..200 {
        for s in request(i, 50) {
            w.add(&s).unwrap();
        }
    }
    w.commit().unwrap();
    // Re-adding a whole request changes nothing.
    for s in request(3, 5) {
        w.add(&s).unwrap();
    }
    w.commit().unwrap();
    assert_eq!(index.count(None).unwrap(), 800);

    let mid = 100 * 1_000 * MS;
    let base = index.aggregates((0, mid), 3).unwrap();
    let win = index.aggregates((mid, i64::MAX), 3).unwrap();
    assert_eq!(base.total_spans(), 400);
    assert_eq!(win.total_spans(), 400);
    for agg in [&base, &win] {
        assert_eq!(agg.graph.edges["gateway"]["orders"], 100);
        assert_eq!(agg.graph.edges["orders"]["db"], 100);
        assert_eq!(agg.graph.edges.len(), 2);
    }
    let p90 = |agg: &rootline_core::TraceAggregates, s: &str| {
        let st = &agg.per_service[s];
        (
            st.self_time.quantile(0.9).unwrap(),
            st.duration.quantile(0.9).unwrap(),
        )
    };
    let (db_self_b, _) = p90(&base, "db");
    let (db_self_w, _) = p90(&win, "db");
    assert!(db_self_w > 8.0 * db_self_b, "{db_self_b} → {db_self_w}");
    // orders got slower end to end, but its own (self) time did not move.
    let (orders_self_b, orders_dur_b) = p90(&base, "orders");
    let (orders_self_w, orders_dur_w) = p90(&win, "orders");
    assert!(orders_dur_w > 4.0 * orders_dur_b);
    assert!(
        (orders_self_w / orders_self_b - 1.0).abs() < 0.1,
        "{orders_self_b} → {orders_self_w}"
    );
    // orders' client span is waiting, not own work; db's inbound gap is 1 ms both times.
    assert_eq!(win.per_service["orders"].wait.count, 100);
    assert_eq!(win.per_service["orders"].self_time.count, 100);
    let gap = win.per_service["db"].inbound_gap.quantile(0.5).unwrap();
    assert!((gap / MS as f64 - 1.0).abs() < 0.06, "{gap}");
    // Status and examples come from fast fields and the few loaded example docs.
    assert_eq!(win.per_service["db"].errors, 100);
    assert_eq!(base.per_service["db"].errors, 0);
    let slowest = &win.per_service["db"].slowest;
    assert_eq!(slowest.len(), 3);
    let top = index.get(&slowest[0]).unwrap().unwrap();
    assert_eq!(top.service, "db");
    assert_eq!(top.duration_ns, 50 * MS + 4 * MS / 10);
}
