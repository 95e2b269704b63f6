//! The HTTP API served on a real port (`127.0.0.1:0`) against a real store, on both backends:
//!
//! - SQLite: a file in a fresh temporary directory;
//! - PostgreSQL: a throwaway database `rootline_test_<uuid>` created through the admin URL
//!   (`postgres://postgres@127.0.0.1:5432/postgres`, or `ROOTLINE_TEST_POSTGRES_URL`) and dropped
//!   at the end, also when the scenario fails.
//!
//! Requests go over TCP through a minimal HTTP/1.1 client (`Connection: close`), so routing,
//! layers, status codes, headers and bodies are all exercised as a client sees them.

use rootline_core::{Incident, Report};
use serde_json::{Value, json};

#[macro_use]
mod common;

use common::{on_postgres, on_sqlite, spawn_app};

on_both_backends!(
    healthz_is_ok,
    incidents_and_reports_are_listed_and_fetched,
    missing_ids_give_404_json_errors,
    bad_ids_give_400_json_errors,
    unreachable_store_gives_503_without_details,
    other_sites_cannot_call_or_read_the_server,
);

/// A client that never finishes its headers is disconnected (it used to hold the connection,
/// and a file descriptor, forever); a complete request on the next connection is served.
#[tokio::test(flavor = "multi_thread")]
async fn a_half_sent_request_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let store = rootline_store::Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("db.sqlite").display()
    ))
    .await
    .unwrap();
    let app =
        rootline_server::Application::build("127.0.0.1:0", rootline_server::AppState::new(store))
            .await
            .unwrap()
            .with_header_read_timeout(std::time::Duration::from_millis(500));
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.run_until(std::future::pending()));
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n").as_bytes())
        .await
        .unwrap();
    // The server closes it (EOF, possibly after a 408); the guard only turns a hang into a failure.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stalled.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "the half-sent request was never disconnected");
    let mut ok = tokio::net::TcpStream::connect(addr).await.unwrap();
    ok.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    ok.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// A web page the engineer opens cannot reach a rootline on localhost: a foreign `Host` (DNS
/// rebinding) or `Origin` is refused, and a JSON endpoint refuses a form or text body (what a
/// page may post without asking). Nothing is stored.
async fn other_sites_cannot_call_or_read_the_server(url: String) {
    let app = spawn_app(&url).await;
    let host = format!("Host: {}", app.addr);
    let change = r#"{"ts":"2024-01-01T00:00:00Z","service":"payments","kind":"rollback","what":"forged rollback"}"#;
    assert_eq!(app.raw_status("GET", "/healthz", &[&host], "").await, 200);
    assert_eq!(
        app.raw_status("GET", "/api/v1/incidents", &["Host: attacker.example"], "")
            .await,
        403
    );
    assert_eq!(
        app.raw_status("GET", "/healthz", &["Host: attacker.example:7878"], "")
            .await,
        403
    );
    assert_eq!(
        app.raw_status(
            "GET",
            "/api/v1/incidents",
            &[&host, "Origin: http://evil.example"],
            ""
        )
        .await,
        403
    );
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let ct = format!("Content-Type: {content_type}");
        assert_eq!(
            app.raw_status("POST", "/api/v1/changes", &[&host, &ct], change)
                .await,
            415,
            "{content_type}"
        );
    }
    assert!(
        app.store
            .list_change_events(0, i64::MAX, None)
            .await
            .unwrap()
            .is_empty()
    );
    // The same request as a JSON client (or a page of this server's own origin) sends it.
    let own = format!("Origin: http://{}", app.addr);
    let status = app
        .raw_status(
            "POST",
            "/api/v1/changes",
            &[
                &host,
                &own,
                "Content-Type: application/json",
                &app.auth_line(),
            ],
            change,
        )
        .await;
    assert!(status == 201 || status == 200, "{status}");
    assert_eq!(
        app.store
            .list_change_events(0, i64::MAX, None)
            .await
            .unwrap()
            .len(),
        1
    );
}

// ---- fixtures (JSON, so that fields rootline-core adds with a serde default do not break them) ----

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("fixture matches the rootline-core type")
}

fn incident(id: &str, start: &str) -> Incident {
    from_json(json!({
        "id": id,
        "title": format!("incident {id}"),
        "start": start,
        "services": ["checkout"],
        "alert": {"labels": {"alertname": "HighErrorRate"}},
    }))
}

fn report(id: &str, incident: Incident, created_at: &str) -> Report {
    from_json(json!({
        "investigation_id": id,
        "created_at": created_at,
        "incident": incident,
        "mode": "offline",
        "outcome": "probable_cause",
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
        "candidates": [{
            "entity": "payments",
            "fault_type": "exception",
            "score": 0.81,
            "evidence": ["ev-1"],
            "why": "payments started refusing connections first",
        }],
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

async fn healthz_is_ok(url: String) {
    let app = spawn_app(&url).await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json(), json!({"status": "ok"}));
}

async fn incidents_and_reports_are_listed_and_fetched(url: String) {
    let app = spawn_app(&url).await;

    let res = app.get("/api/v1/incidents").await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json(), json!({"incidents": []}));

    let older = incident("inc-older", "2023-01-28T10:00:00Z");
    let newer = incident("inc-newer", "2023-01-29T08:43:00Z");
    app.store.save_incident(&older).await.unwrap();
    let first = report("inv-1", newer.clone(), "2023-01-29T09:00:00Z");
    let second = report("inv-2", newer.clone(), "2023-01-29T09:30:00Z");
    // Saving a report also stores its incident.
    app.store.save_investigation(&first).await.unwrap();
    app.store.save_investigation(&second).await.unwrap();

    let res = app.get("/api/v1/incidents").await;
    assert_eq!(res.status, 200, "{res:?}");
    let listed: Vec<Incident> = from_json(res.json()["incidents"].clone());
    assert_eq!(listed, vec![newer.clone(), older.clone()]);

    let res = app.get("/api/v1/incidents/inc-older").await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.parse::<Incident>(), older);

    let res = app.get("/api/v1/incidents/inc-newer/investigations").await;
    assert_eq!(res.status, 200, "{res:?}");
    let listed = res.json();
    let items = listed["investigations"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["inv-2", "inv-1"], "newest first");
    assert_eq!(items[1]["incident_id"], "inc-newer");
    assert_eq!(items[1]["mode"], "offline");
    assert_eq!(items[1]["outcome"], "probable_cause");
    assert_eq!(items[1]["top_entity"], "payments");
    assert_eq!(items[1]["created_at"], "2023-01-29T09:00:00.000000000Z");

    let res = app.get("/api/v1/incidents/inc-older/investigations").await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json(), json!({"investigations": []}));

    let res = app.get("/api/v1/investigations/inv-1").await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.parse::<Report>(), first);
}

async fn missing_ids_give_404_json_errors(url: String) {
    let app = spawn_app(&url).await;
    app.store
        .save_incident(&incident("inc-1", "2023-01-29T08:43:00Z"))
        .await
        .unwrap();

    let message = app
        .get("/api/v1/investigations/inv-missing")
        .await
        .assert_error(404, "not_found");
    assert!(message.contains("inv-missing"), "{message}");

    let message = app
        .get("/api/v1/incidents/inc-missing")
        .await
        .assert_error(404, "not_found");
    assert!(message.contains("inc-missing"), "{message}");

    app.get("/api/v1/incidents/inc-missing/investigations")
        .await
        .assert_error(404, "not_found");
    app.get("/api/v1/no-such-endpoint")
        .await
        .assert_error(404, "not_found");
    app.get("/").await.assert_error(404, "not_found");
}

async fn bad_ids_give_400_json_errors(url: String) {
    let app = spawn_app(&url).await;
    // Not UTF-8 once percent-decoded.
    app.get("/api/v1/incidents/%FF")
        .await
        .assert_error(400, "bad_request");
    // A control character.
    app.get("/api/v1/investigations/a%0Ab")
        .await
        .assert_error(400, "bad_request");
    let long = "x".repeat(300);
    app.get(&format!("/api/v1/investigations/{long}"))
        .await
        .assert_error(400, "bad_request");
}

async fn unreachable_store_gives_503_without_details(url: String) {
    let app = spawn_app(&url).await;
    assert_eq!(app.get("/healthz").await.status, 200);

    app.store.close().await;

    for path in ["/healthz", "/api/v1/incidents", "/api/v1/investigations/x"] {
        let res = app.get(path).await;
        let message = res.assert_error(503, "unavailable");
        assert_eq!(message, "the service is temporarily unavailable", "{path}");
        for secret in [
            "pool",
            "sqlx",
            "sqlite",
            "postgres",
            "rootline_test",
            "closed",
        ] {
            assert!(
                !res.body.to_ascii_lowercase().contains(secret),
                "{path} leaks {secret:?}: {}",
                res.body
            );
        }
    }
}
