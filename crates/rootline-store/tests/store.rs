//! Every scenario runs against both backends, on real databases:
//!
//! - SQLite: a file in a fresh temporary directory;
//! - PostgreSQL: a throwaway database `rootline_test_<uuid>` created through the admin URL
//!   (`postgres://postgres@127.0.0.1:5432/postgres`, or `ROOTLINE_TEST_POSTGRES_URL`) and dropped
//!   at the end, also when the scenario fails. If PostgreSQL is unreachable the PostgreSQL tests
//!   fail, saying how to start it.
//!
//! The tests reach past the store with their own sqlx connection only to plant corrupt rows and
//! inspect the schema.

use rootline_core::{Incident, Report};
use rootline_store::{Backend, IngestRun, Store, StoreError};
use serde_json::json;

#[macro_use]
mod common;

use common::{TestDb, on_postgres, on_sqlite};
use sqlx::Connection;

on_both_backends!(
    migrations_apply_once_and_data_persists,
    incident_round_trip,
    incident_upsert_updates,
    incidents_listed_newest_first,
    missing_ids_give_none,
    investigation_round_trip_stores_incident,
    investigations_listed_newest_first,
    ingest_runs_round_trip,
    corrupt_report_json_is_an_error,
    corrupt_incident_json_is_an_error,
);

// ---- fixtures ----
//
// Built from JSON rather than struct literals, so that fields rootline-core adds with a serde
// default do not break these tests (and equality still compares every field).

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("fixture matches the rootline-core type")
}

fn incident(id: &str, start: &str) -> Incident {
    from_json(json!({"id": id, "title": format!("incident {id}"), "start": start}))
}

fn full_incident() -> Incident {
    from_json(json!({
        "id": "inc-full",
        "title": "checkout errors",
        "description": "5xx on /checkout after 08:43",
        "start": "2023-01-29T08:43:00.123456789Z",
        "end": "2023-01-29T08:58:00Z",
        "services": ["checkout", "payments"],
        "alert": {
            "labels": {"alertname": "HighErrorRate", "severity": "page"},
            "value": 0.37,
            "firing": true,
            "annotations": null,
            "runbooks": ["https://runbooks/x", "https://runbooks/y"],
        },
        "baseline_windows": [
            {"start": "2023-01-28T08:43:00Z", "end": "2023-01-28T08:58:00Z"},
        ],
    }))
}

fn report(id: &str, incident: Incident, created_at: &str, with_candidates: bool) -> Report {
    let candidates = if with_candidates {
        json!([
            {
                "entity": "payments",
                "fault_type": "exception",
                "score": 0.81,
                "evidence": ["ev-1"],
                "why": "payments started refusing connections first",
            },
            {
                "entity": "checkout",
                "fault_type": "latency",
                "score": 0.2,
                "evidence": [],
                "why": "downstream of payments",
            },
        ])
    } else {
        json!([])
    };
    from_json(json!({
        "investigation_id": id,
        "created_at": created_at,
        "incident": incident,
        "mode": "offline",
        "outcome": if with_candidates { "probable_cause" } else { "no_data" },
        "outcome_reason": "payments is the first and strongest change",
        "stats": {
            "window_start": "2023-01-29T08:43:00.000Z",
            "window_end": "2023-01-29T08:58:00.000Z",
            "baseline_start": "2023-01-29T08:28:00.000Z",
            "baseline_end": "2023-01-29T08:43:00.000Z",
            "window_records": 1200,
            "baseline_records": 900,
            "services_seen": 4,
        },
        "candidates": candidates,
        "evidence": [{
            "id": "ev-1",
            "kind": "new_message",
            "entity": "payments",
            "first_seen_ns": 1_674_981_780_000_000_000i64,
            "strength": 0.93,
            "summary": "new message: connection refused",
            "examples": ["log-0123456789abcdef0123"],
        }],
    }))
}

// ---- scenarios ----

/// One `_sqlx_migrations` row per file in `migrations/sqlite` (the PostgreSQL folder has the same
/// versions).
fn migration_files() -> i64 {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
    let n = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    i64::try_from(n).unwrap()
}

async fn migrations_apply_once_and_data_persists(db: TestDb) {
    let store = db.connect().await;
    store.save_incident(&full_incident()).await.unwrap();
    assert_eq!(
        db.raw_i64("SELECT COUNT(*) FROM _sqlx_migrations").await,
        migration_files()
    );
    store.close().await;

    // Reconnecting re-runs the migrator: nothing to apply, data still there.
    let store = db.connect().await;
    assert_eq!(
        db.raw_i64("SELECT COUNT(*) FROM _sqlx_migrations").await,
        migration_files()
    );
    assert_eq!(
        store.get_incident("inc-full").await.unwrap(),
        Some(full_incident())
    );
    store.close().await;

    if db.backend == Backend::Sqlite {
        // WAL is recorded in the file; foreign keys are enforced by the store's connections.
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        c.close().await.unwrap();
    }
}

async fn incident_round_trip(db: TestDb) {
    let store = db.connect().await;
    let full = full_incident();
    store.save_incident(&full).await.unwrap();
    // Everything, including nanoseconds, the alert JSON and the services, survives.
    assert_eq!(store.get_incident(&full.id).await.unwrap(), Some(full));

    // The queryable columns hold the store's fixed-width UTC times.
    assert_eq!(
        db.raw_i64(
            "SELECT COUNT(*) FROM incidents WHERE id = 'inc-full' \
             AND start_at = '2023-01-29T08:43:00.123456789Z' \
             AND end_at = '2023-01-29T08:58:00.000000000Z'"
        )
        .await,
        1
    );

    let bare = incident("inc-bare", "2023-01-30T00:00:00Z");
    store.save_incident(&bare).await.unwrap();
    let got = store.get_incident("inc-bare").await.unwrap().unwrap();
    assert_eq!(got, bare);
    assert_eq!(got.end, None);
    assert_eq!(got.alert, None);
    assert!(got.services.is_empty());
    store.close().await;
}

async fn incident_upsert_updates(db: TestDb) {
    let store = db.connect().await;
    store.save_incident(&full_incident()).await.unwrap();
    let mut changed = full_incident();
    changed.title = "checkout and cart errors".into();
    changed.end = None;
    changed.services = vec!["cart".into()];
    changed.alert = Some(json!({"v": 2}));
    store.save_incident(&changed).await.unwrap();
    assert_eq!(
        store.get_incident(&changed.id).await.unwrap(),
        Some(changed)
    );
    assert_eq!(store.list_incidents().await.unwrap().len(), 1);
    store.close().await;
}

async fn incidents_listed_newest_first(db: TestDb) {
    let store = db.connect().await;
    // Starts chosen so that naive text order of unnormalised forms would be wrong.
    for i in [
        incident("b", "2023-01-29T08:43:00Z"),
        incident("c", "2023-01-29T08:43:00.5Z"),
        incident("a", "2024-06-01T00:00:00Z"),
        incident("d", "2022-12-31T23:59:59.999999999Z"),
    ] {
        store.save_incident(&i).await.unwrap();
    }
    let ids: Vec<String> = store
        .list_incidents()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(ids, ["a", "c", "b", "d"]);
    store.close().await;
}

async fn missing_ids_give_none(db: TestDb) {
    let store = db.connect().await;
    assert_eq!(store.get_incident("nope").await.unwrap(), None);
    assert_eq!(store.get_investigation("nope").await.unwrap(), None);
    assert!(store.list_investigations("nope").await.unwrap().is_empty());
    assert!(store.list_incidents().await.unwrap().is_empty());
    assert!(store.list_ingest_runs(10).await.unwrap().is_empty());
    store.close().await;
}

async fn investigation_round_trip_stores_incident(db: TestDb) {
    let store = db.connect().await;
    let r = report("inv-1", full_incident(), "2023-01-29T10:00:00+02:00", true);
    store.save_investigation(&r).await.unwrap();

    // The incident came along, in the same save.
    assert_eq!(
        store.get_incident("inc-full").await.unwrap(),
        Some(full_incident())
    );
    // The full report round-trips exactly, created_at as given.
    assert_eq!(store.get_investigation("inv-1").await.unwrap(), Some(r));

    let summaries = store.list_investigations("inc-full").await.unwrap();
    assert_eq!(summaries.len(), 1);
    let s = &summaries[0];
    assert_eq!(s.id, "inv-1");
    assert_eq!(s.incident_id, "inc-full");
    assert_eq!(s.created_at, "2023-01-29T08:00:00.000000000Z");
    assert_eq!(s.mode, "offline");
    assert_eq!(s.outcome, "probable_cause");
    assert_eq!(s.top_entity.as_deref(), Some("payments"));

    // A second report on a changed copy of the incident leaves the stored incident alone.
    let mut edited = full_incident();
    edited.title = "edited in the report only".into();
    let r2 = report("inv-2", edited, "2023-01-29T09:00:00Z", false);
    store.save_investigation(&r2).await.unwrap();
    assert_eq!(
        store.get_incident("inc-full").await.unwrap(),
        Some(full_incident())
    );
    assert_eq!(store.get_investigation("inv-2").await.unwrap(), Some(r2));
    let summaries = store.list_investigations("inc-full").await.unwrap();
    assert_eq!(summaries[0].id, "inv-2");
    assert_eq!(summaries[0].outcome, "no_data");
    assert_eq!(summaries[0].top_entity, None);

    // Saving the same investigation again replaces it.
    let mut again = report("inv-1", full_incident(), "2023-01-29T08:00:00Z", true);
    again.mode = "model".into();
    store.save_investigation(&again).await.unwrap();
    assert_eq!(store.get_investigation("inv-1").await.unwrap(), Some(again));
    assert_eq!(
        store.list_investigations("inc-full").await.unwrap().len(),
        2
    );
    store.close().await;
}

async fn investigations_listed_newest_first(db: TestDb) {
    let store = db.connect().await;
    let inc = incident("inc-1", "2023-01-29T08:43:00Z");
    for (id, created) in [
        ("inv-a", "2023-01-29T09:00:00Z"),
        ("inv-b", "2023-01-29T09:00:00.25Z"),
        ("inv-c", "2023-01-29T10:30:00+02:00"), // 08:30Z: the oldest
        ("inv-d", "2023-02-01T00:00:00Z"),
    ] {
        store
            .save_investigation(&report(id, inc.clone(), created, true))
            .await
            .unwrap();
    }
    // Another incident's investigation does not show up.
    store
        .save_investigation(&report(
            "inv-other",
            incident("inc-2", "2023-01-29T08:43:00Z"),
            "2030-01-01T00:00:00Z",
            true,
        ))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .list_investigations("inc-1")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, ["inv-d", "inv-b", "inv-a", "inv-c"]);
    store.close().await;
}

async fn ingest_runs_round_trip(db: TestDb) {
    let store = db.connect().await;
    let runs: Vec<IngestRun> = (0..3)
        .map(|i| IngestRun {
            id: format!("run-{i}"),
            started_at: format!("2023-01-29T0{i}:00:00.000000000Z"),
            finished_at: format!("2023-01-29T0{i}:00:05.500000000Z"),
            sources: vec![
                format!("/var/log/app-{i}.log"),
                "logs/with space.jsonl".into(),
            ],
            read: 1000 + i,
            indexed: 990 + i,
            rejected: 10,
        })
        .collect();
    for r in &runs {
        store.record_ingest_run(r).await.unwrap();
    }
    let got = store.list_ingest_runs(10).await.unwrap();
    let want: Vec<IngestRun> = runs.iter().rev().cloned().collect();
    assert_eq!(got, want);
    assert_eq!(store.list_ingest_runs(2).await.unwrap(), want[..2]);
    assert!(store.list_ingest_runs(0).await.unwrap().is_empty());
    assert!(store.list_ingest_runs(-1).await.unwrap().is_empty());

    // Times are normalised to UTC on the way in.
    let offset = IngestRun {
        id: "run-offset".into(),
        started_at: "2023-01-29T12:00:00+02:00".into(),
        finished_at: "2023-01-29T12:01:00+02:00".into(),
        sources: vec![],
        read: 0,
        indexed: 0,
        rejected: 0,
    };
    store.record_ingest_run(&offset).await.unwrap();
    let latest = store.list_ingest_runs(1).await.unwrap().remove(0);
    assert_eq!(latest.id, "run-offset");
    assert_eq!(latest.started_at, "2023-01-29T10:00:00.000000000Z");
    assert_eq!(latest.finished_at, "2023-01-29T10:01:00.000000000Z");

    // A time that is not RFC 3339 is refused before reaching the database.
    let bad = IngestRun {
        started_at: "yesterday".into(),
        ..offset
    };
    let err = store.record_ingest_run(&bad).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InvalidValue {
                field: "started_at",
                ..
            }
        ),
        "{err}"
    );
    store.close().await;
}

async fn corrupt_report_json_is_an_error(db: TestDb) {
    let store = db.connect().await;
    store
        .save_investigation(&report(
            "inv-corrupt",
            full_incident(),
            "2023-01-29T09:00:00Z",
            true,
        ))
        .await
        .unwrap();
    db.raw_execute(
        "UPDATE investigations SET body = '{\"investigation_id\": ' WHERE id = 'inv-corrupt'",
    )
    .await;
    let err = store.get_investigation("inv-corrupt").await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("inv-corrupt"), "{msg}");
    assert!(msg.contains("json"), "{msg}");
    // Listing reads only the columns, so it still works.
    assert_eq!(
        store.list_investigations("inc-full").await.unwrap().len(),
        1
    );
    store.close().await;
}

async fn corrupt_incident_json_is_an_error(db: TestDb) {
    let store = db.connect().await;
    store.save_incident(&full_incident()).await.unwrap();
    db.raw_execute("UPDATE incidents SET body = 'not json' WHERE id = 'inc-full'")
        .await;
    let err = store.get_incident("inc-full").await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corrupt {
                table: "incidents",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("inc-full"), "{err}");
    assert!(store.list_incidents().await.is_err());
    store.close().await;
}

// ---- backend-independent ----

#[tokio::test]
async fn unsupported_urls_are_refused() {
    for url in ["mysql://root@localhost/db", "rootline.db", ""] {
        let err = Store::connect(url).await.expect_err(url);
        assert!(matches!(err, StoreError::BadUrl { .. }), "{url}: {err:?}");
    }
}

#[tokio::test]
async fn bad_postgres_url_hides_password() {
    let err = Store::connect("postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=1")
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        matches!(
            err,
            StoreError::Connect {
                backend: Backend::Postgres,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn sqlite_in_memory_works_across_calls() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    store
        .save_investigation(&report(
            "inv-m",
            full_incident(),
            "2023-01-29T09:00:00Z",
            true,
        ))
        .await
        .unwrap();
    assert!(store.get_investigation("inv-m").await.unwrap().is_some());
    assert_eq!(store.list_incidents().await.unwrap().len(), 1);
}
