//! Investigations on request over HTTP, against a real store on both backends: the JSON
//! endpoint and the Alertmanager receiver (one investigation per firing group, however often
//! Alertmanager repeats it). The investigation is scripted here (this crate cannot run the
//! agent); `crates/rootline/tests/serve_chatops.rs` runs the real one through the same endpoint.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{ScriptedInvestigations, TestApp, on_postgres, on_sqlite};
use rootline_server::AppState;
use rootline_store::Store;
use serde_json::{Value, json};

async fn spawn_with_investigations(url: &str) -> (TestApp, Arc<ScriptedInvestigations>) {
    let store = Store::connect(url).await.unwrap();
    let scripted = Arc::new(ScriptedInvestigations::new(&store, Duration::ZERO));
    let state = AppState::new(store.clone()).with_investigations(scripted.clone());
    (common::serve_state(store, state).await, scripted)
}

fn firing(starts_at: &str) -> Value {
    json!({
        "version": "4", "status": "firing", "receiver": "rootline",
        "groupKey": "{}:{alertname=\"CheckoutErrors\"}",
        "groupLabels": {"alertname": "CheckoutErrors"},
        "commonLabels": {"alertname": "CheckoutErrors", "severity": "page"},
        "commonAnnotations": {"summary": "checkout 5xx above 5%"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": "CheckoutErrors", "service": "checkout", "instance": "10.0.0.7:8080"},
            "annotations": {"description": "5xx ratio 0.12 on checkout"},
            "startsAt": starts_at, "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": "c0ffee"
        }],
    })
}

async fn alertmanager_groups_are_investigated_once(url: String) {
    let (app, scripted) = spawn_with_investigations(&url).await;
    let started = (Utc::now() - chrono::Duration::minutes(2)).to_rfc3339();
    let body = firing(&started).to_string();

    let first = app.post("/api/v1/alerts/alertmanager", &body).await;
    assert_eq!(first.status, 201, "{first:?}");
    let answer = first.json();
    assert_eq!(answer["top_entity"], "checkout");
    assert_eq!(answer["outcome"], "probable_cause");
    let incident_id = answer["incident_id"].as_str().unwrap().to_owned();
    assert_eq!(answer["timeline"], format!("/ui/incidents/{incident_id}"));

    let received = scripted.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let incident = &received[0];
    assert_eq!(incident.title, "checkout 5xx above 5%");
    assert_eq!(incident.services, ["checkout"]);
    let started: DateTime<Utc> = started.parse().unwrap();
    assert_eq!(incident.start, started - chrono::Duration::minutes(5));
    assert_eq!(incident.alert.as_ref().unwrap()["receiver"], "rootline");

    // Alertmanager repeats the group every repeat_interval, and retries on errors.
    let repeat = app.post("/api/v1/alerts/alertmanager", &body).await;
    assert_eq!(repeat.status, 200, "{repeat:?}");
    assert_eq!(repeat.json()["duplicate"], true);
    assert_eq!(scripted.received.lock().unwrap().len(), 1);
    assert_eq!(app.store.list_incidents().await.unwrap().len(), 1);

    let mut resolved = firing(&started.to_rfc3339());
    resolved["status"] = json!("resolved");
    let ignored = app
        .post("/api/v1/alerts/alertmanager", &resolved.to_string())
        .await;
    assert_eq!(ignored.status, 200);
    assert_eq!(ignored.json()["ignored"], "resolved");

    let bad = app
        .post("/api/v1/alerts/alertmanager", &firing("soon").to_string())
        .await;
    let message = bad.assert_error(400, "bad_request");
    assert!(message.contains("alerts[0].startsAt `soon`"), "{message}");
    assert_eq!(scripted.received.lock().unwrap().len(), 1);
}

async fn investigations_run_on_request(url: String) {
    let (app, scripted) = spawn_with_investigations(&url).await;
    let created = app
        .post(
            "/api/v1/investigations",
            &json!({"title": "payments slow", "start": "2026-11-28T09:30:00Z",
                    "end": "2026-11-28T09:45:00Z", "services": ["payments"]})
            .to_string(),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let report = created.json();
    assert_eq!(report["candidates"][0]["entity"], "payments");
    let id = report["investigation_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/investigations/{id}"))
            .await
            .status,
        200
    );
    assert_eq!(
        scripted.received.lock().unwrap()[0].end,
        Some("2026-11-28T09:45:00Z".parse().unwrap())
    );

    let message = app
        .post(
            "/api/v1/investigations",
            r#"{"start": "2026-11-28T09:30:00Z"}"#,
        )
        .await
        .assert_error(400, "bad_request");
    assert!(message.contains("title"), "{message}");
    let message = app
        .post(
            "/api/v1/investigations",
            r#"{"title": "x", "start": "2026-11-28T09:30:00Z", "end": "2026-11-28T09:00:00Z"}"#,
        )
        .await
        .assert_error(400, "bad_request");
    assert!(message.contains("end"), "{message}");
    assert_eq!(scripted.received.lock().unwrap().len(), 1);

    // A server that only serves stored investigations says so.
    let plain = common::spawn_app(&url).await;
    plain
        .post(
            "/api/v1/investigations",
            r#"{"title": "x", "start": "2026-11-28T09:30:00Z"}"#,
        )
        .await
        .assert_error(404, "not_found");
}

on_both_backends!(
    alertmanager_groups_are_investigated_once,
    investigations_run_on_request
);
