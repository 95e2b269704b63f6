//! The webhook executor against a real local HTTP server (axum on `127.0.0.1:0`): the body it
//! POSTs, its HMAC signature, and failures (error status, refused connection, expired grant).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{Duration, Utc};
use rootline_actions::{
    Action, ActionContent, ActionState, Actor, ApprovedAction, Executor, Role, SIGNATURE_HEADER,
    WebhookExecutor, authorize_execution, decide_approval, verify_signature,
};
use serde_json::{Value, json};

const SECRET: &[u8] = b"webhook-test-secret";

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn hook(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let ok = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| verify_signature(SECRET, &body, sig));
    r.0.lock().unwrap().push((headers, body));
    if ok {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

async fn broken() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn serve() -> (SocketAddr, Received) {
    let received = Received::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/broken", post(broken))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, received)
}

/// An action approved just now, valid for `valid_ms` milliseconds.
fn approved(valid_ms: i64) -> ApprovedAction {
    let now = Utc::now();
    let content = ActionContent {
        kind: "rollback".into(),
        target: "checkout".into(),
        summary: "roll checkout back to v41".into(),
        params: json!({"to_version": "v41"}),
    };
    let mut a = Action {
        id: "act-webhook".into(),
        incident_id: None,
        investigation_id: None,
        content_hash: content.hash(),
        content,
        state: ActionState::Proposed,
        version: 1,
        proposed_by: Actor::agent(),
        required_approvals: 1,
        created_at: now,
        expires_at: now + Duration::milliseconds(valid_ms),
        updated_at: now,
        result: None,
    };
    let bob = Actor::User {
        id: "u-bob".into(),
        name: "bob".into(),
        role: Role::Approver,
    };
    let d = decide_approval(&a, &[], &bob, &a.content_hash.clone(), 600, now).unwrap();
    a.state = d.new_state;
    authorize_execution(&a, &[d.approval], &bob, now).unwrap()
}

#[tokio::test]
async fn posts_the_signed_action_and_reports_the_status() {
    let (addr, received) = serve().await;
    let exec = WebhookExecutor::new(&format!("http://{addr}/hook"), SECRET).unwrap();
    let outcome = exec.execute(approved(60_000)).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.executor, "webhook");
    assert!(
        outcome.detail.contains("answered 200"),
        "{}",
        outcome.detail
    );

    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let (headers, body) = &got[0];
    let sig = headers[SIGNATURE_HEADER].to_str().unwrap();
    assert!(verify_signature(SECRET, body, sig));
    assert!(!verify_signature(b"another secret", body, sig));
    assert_eq!(headers["x-rootline-action"], "act-webhook");
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(v["action_id"], "act-webhook");
    assert_eq!(v["content"]["params"]["to_version"], "v41");
    assert_eq!(v["approvers"], json!(["bob"]));
    let content: ActionContent = serde_json::from_value(v["content"].clone()).unwrap();
    assert_eq!(
        v["content_hash"],
        content.hash(),
        "the receiver can re-check the hash"
    );

    // A receiver with another secret refuses it: the executor reports failure.
    let wrong = WebhookExecutor::new(&format!("http://{addr}/hook"), b"not the secret").unwrap();
    let outcome = wrong.execute(approved(60_000)).await;
    assert!(!outcome.success);
    assert!(
        outcome.detail.contains("answered 401"),
        "{}",
        outcome.detail
    );
}

#[tokio::test]
async fn failures_become_failed_outcomes() {
    let (addr, received) = serve().await;
    let outcome = WebhookExecutor::new(&format!("http://{addr}/broken"), SECRET)
        .unwrap()
        .execute(approved(60_000))
        .await;
    assert!(!outcome.success);
    assert!(
        outcome.detail.contains("answered 500"),
        "{}",
        outcome.detail
    );

    // Nothing listens on a port we bound and released.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let outcome = WebhookExecutor::new(&format!("http://{closed}/hook"), SECRET)
        .unwrap()
        .execute(approved(60_000))
        .await;
    assert!(!outcome.success);
    assert!(
        outcome.detail.contains("cannot connect"),
        "{}",
        outcome.detail
    );

    // An expired grant is never sent.
    let stale = approved(100);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let outcome = WebhookExecutor::new(&format!("http://{addr}/hook"), SECRET)
        .unwrap()
        .execute(stale)
        .await;
    assert!(!outcome.success);
    assert!(outcome.detail.contains("expired"), "{}", outcome.detail);
    assert!(
        received.0.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
}
