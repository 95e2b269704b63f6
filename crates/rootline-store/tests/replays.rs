//! Replay links (migration 0004) on both backends and real databases: a replay is linked once to
//! the investigation whose frozen snapshot it re-ran, and every wrong link is refused by name.

use chrono::Utc;
use rootline_core::Report;
use rootline_store::{GovernanceError, Store};
use serde_json::json;

#[macro_use]
mod common;

use common::{TestDb, on_postgres, on_sqlite};

on_both_backends!(replay_links_are_checked_and_written_once);

fn report(id: &str) -> Report {
    serde_json::from_value(json!({
        "investigation_id": id,
        "created_at": "2023-01-29T09:00:00Z",
        "incident": {"id": "inc-1", "title": "checkout errors", "start": "2023-01-29T08:43:00Z"},
        "mode": "offline",
        "outcome": "probable_cause",
        "stats": {
            "window_start": "a", "window_end": "b", "baseline_start": "c", "baseline_end": "d",
            "window_records": 10, "baseline_records": 9, "services_seen": 2,
        },
        "candidates": [],
        "evidence": [],
    }))
    .unwrap()
}

async fn save(store: &Store, id: &str) {
    store.save_investigation(&report(id)).await.unwrap();
}

async fn replay_links_are_checked_and_written_once(db: TestDb) {
    let store = db.connect().await;
    for id in ["orig", "orig2", "unfrozen", "replay-1", "replay-2"] {
        save(&store, id).await;
    }
    let hash = store
        .save_evidence_snapshot("orig", &json!({"format": "x", "n": 1}), Utc::now())
        .await
        .unwrap();
    let hash2 = store
        .save_evidence_snapshot("orig2", &json!({"format": "x", "n": 2}), Utc::now())
        .await
        .unwrap();

    let link = store
        .record_replay("replay-1", "orig", &hash, Utc::now())
        .await
        .unwrap();
    assert_eq!(link.replay_of, "orig");
    assert_eq!(link.snapshot_hash, hash);
    // The same link again is a no-op; another one is refused.
    store
        .record_replay("replay-1", "orig", &hash, Utc::now())
        .await
        .unwrap();
    let e = store
        .record_replay("replay-1", "orig2", &hash2, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, GovernanceError::Conflict(m) if m.contains("already a replay of orig")),
        "{e}"
    );

    let e = store
        .record_replay("replay-2", "orig", &hash2, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, GovernanceError::Invalid(m) if m.contains("not the frozen snapshot")),
        "{e}"
    );
    let e = store
        .record_replay("replay-2", "unfrozen", &hash, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, GovernanceError::NotFound { id, .. } if id == "unfrozen"),
        "{e}"
    );
    let e = store
        .record_replay("missing", "orig", &hash, Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, GovernanceError::NotFound { what: "investigation", id } if id == "missing"),
        "{e}"
    );
    let e = store
        .record_replay("orig", "orig", &hash, Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(e, GovernanceError::Invalid(_)), "{e}");

    store
        .record_replay("replay-2", "orig", &hash, Utc::now())
        .await
        .unwrap();
    let replays: Vec<String> = store
        .list_replays("orig")
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.investigation_id)
        .collect();
    assert_eq!(replays, ["replay-1", "replay-2"]);
    assert!(store.list_replays("orig2").await.unwrap().is_empty());
    assert!(store.replay_link("orig").await.unwrap().is_none());
    assert_eq!(
        store
            .replay_link("replay-2")
            .await
            .unwrap()
            .unwrap()
            .replay_of,
        "orig"
    );
    store.close().await;
}
