//! Verdicts, approval-gated actions and the audit log over HTTP, with bearer tokens and roles,
//! served on a real port (`127.0.0.1:0`) against a real store on both backends (the same
//! throwaway databases and minimal HTTP/1.1 client as `api.rs`). Execution uses the server's
//! default dry-run executor.

use rootline_actions::Role;
use rootline_core::{Incident, Report};
use rootline_store::{LOCAL_ADMIN, Store};
use serde_json::{Value, json};

#[macro_use]
mod common;

use common::{on_postgres, on_sqlite, spawn_app};

on_both_backends!(
    requests_need_a_valid_bearer_token,
    verdicts_over_http,
    actions_over_http,
    verdicts_score_the_stored_investigations,
);

// ---- fixtures ----

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("fixture matches the rootline-core type")
}

fn report(id: &str) -> Report {
    let incident: Incident = from_json(json!({
        "id": "inc-1",
        "title": "checkout errors",
        "start": "2023-01-29T08:43:00Z",
    }));
    from_json(json!({
        "investigation_id": id,
        "created_at": "2023-01-29T09:00:00Z",
        "incident": incident,
        "mode": "offline",
        "outcome": "probable_cause",
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
            "entity": "payments", "fault_type": "exception", "score": 0.81,
            "evidence": [], "why": "payments started refusing connections first",
        }],
        "evidence": [],
    }))
}

/// A token per role: `[viewer, responder, approver, approver2]`.
async fn tokens(store: &Store) -> [String; 4] {
    let mut out = Vec::new();
    for (name, role) in [
        ("vic", Role::Viewer),
        ("rae", Role::Responder),
        ("bob", Role::Approver),
        ("cat", Role::Approver),
    ] {
        store.add_user(name, role, LOCAL_ADMIN).await.unwrap();
        out.push(
            store
                .create_token(name, "test", None, LOCAL_ADMIN)
                .await
                .unwrap()
                .token,
        );
    }
    out.try_into().unwrap()
}

// ---- scenarios ----

async fn requests_need_a_valid_bearer_token(url: String) {
    let app = spawn_app(&url).await;
    let [viewer, ..] = tokens(&app.store).await;
    for path in ["/api/v1/actions", "/api/v1/audit", "/api/v1/audit/verify"] {
        let message = app
            .anonymous("GET", path, None)
            .await
            .assert_error(401, "unauthorized");
        assert_eq!(message, "a valid bearer token is required");
        for auth in [
            "Bearer rlt_00000000000000000000000000000000000000000000000000000000000000ff",
            "Bearer ",
            "Basic dmljOnB3",
            viewer.as_str(),
        ] {
            app.request_as(Some(auth), "GET", path, None)
                .await
                .assert_error(401, "unauthorized");
        }
        let res = app.get_as(&viewer, path).await;
        assert_eq!(res.status, 200, "{path}: {res:?}");
    }
    // The other routes need one too.
    app.anonymous("GET", "/api/v1/incidents", None)
        .await
        .assert_error(401, "unauthorized");
    let res = app.anonymous("POST", "/api/v1/actions", Some("{}")).await;
    res.assert_error(401, "unauthorized");
}

async fn verdicts_over_http(url: String) {
    let app = spawn_app(&url).await;
    let [viewer, responder, approver, _] = tokens(&app.store).await;
    app.store
        .save_investigation(&report("inv-1"))
        .await
        .unwrap();
    let path = "/api/v1/investigations/inv-1/verdicts";
    let body = json!({
        "target": {"kind": "candidate", "entity": "payments"},
        "judgement": "accepted",
        "fix": "rolled back payments",
        "note": "confirmed in the deploy log",
    });

    let res = app.post_as(&responder, path, body.clone()).await;
    assert_eq!(res.status, 201, "{res:?}");
    let v1 = res.json();
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["author_name"], "rae");
    assert_eq!(v1["judgement"], "accepted");

    let corrected = json!({
        "target": {"kind": "candidate", "entity": "payments"},
        "judgement": "partly_right",
        "root_cause_service": "payments-db",
        "fault_type": "config_change",
    });
    let res = app.post_as(&approver, path, corrected).await;
    assert_eq!(res.status, 201, "{res:?}");
    assert_eq!(res.json()["version"], 2);

    let res = app.get_as(&viewer, path).await;
    assert_eq!(res.status, 200, "{res:?}");
    let listed = res.json();
    assert_eq!(listed["verdicts"].as_array().unwrap().len(), 2);
    assert_eq!(listed["verdicts"][0], v1, "version 1 is kept as it was");
    assert_eq!(listed["current"].as_array().unwrap().len(), 1);
    assert_eq!(listed["current"][0]["version"], 2);
    assert_eq!(listed["current"][0]["root_cause_service"], "payments-db");

    // Refusals and bad input.
    app.post_as(&viewer, path, body.clone())
        .await
        .assert_error(403, "forbidden");
    // A NUL character is a 400 naming the field on both backends (PostgreSQL cannot store it).
    let mut nul = body.clone();
    nul["note"] = json!("before\u{0}after");
    let message = app
        .post_as(&responder, path, nul)
        .await
        .assert_error(400, "bad_request");
    assert!(message.contains("note"), "{message}");
    let message = app
        .post_as(
            &responder,
            path,
            json!({"target": {"kind": "hypothesis", "id": "hyp-404"}, "judgement": "accepted"}),
        )
        .await
        .assert_error(404, "not_found");
    assert!(message.contains("hyp-404"), "{message}");
    app.post_as(
        &responder,
        "/api/v1/investigations/inv-404/verdicts",
        body.clone(),
    )
    .await
    .assert_error(404, "not_found");
    app.get_as(&viewer, "/api/v1/investigations/inv-404/verdicts")
        .await
        .assert_error(404, "not_found");
    let message = app
        .post_as(
            &responder,
            path,
            json!({"target": {"kind": "candidate", "entity": "payments"}, "judgement": "maybe"}),
        )
        .await
        .assert_error(400, "bad_request");
    assert!(message.contains("maybe"), "{message}");
    app.request_as(
        Some(&format!("Bearer {responder}")),
        "POST",
        path,
        Some("{not json"),
    )
    .await
    .assert_error(400, "bad_request");
    // Nothing was stored by the refused requests.
    assert_eq!(app.store.list_verdicts("inv-1").await.unwrap().len(), 2);
}

async fn actions_over_http(url: String) {
    let app = spawn_app(&url).await;
    let [viewer, responder, approver, approver2] = tokens(&app.store).await;
    app.store
        .save_investigation(&report("inv-1"))
        .await
        .unwrap();
    let proposal = json!({
        "incident_id": "inc-1",
        "investigation_id": "inv-1",
        "content": {
            "kind": "rollback",
            "target": "payments",
            "summary": "roll payments back to v41",
            "params": {"to_version": "v41"},
        },
    });

    // Viewers cannot propose; responders can.
    app.post_as(&viewer, "/api/v1/actions", proposal.clone())
        .await
        .assert_error(403, "forbidden");
    let res = app
        .post_as(&responder, "/api/v1/actions", proposal.clone())
        .await;
    assert_eq!(res.status, 201, "{res:?}");
    let action = res.json();
    assert_eq!(action["state"], "proposed");
    let id = action["id"].as_str().unwrap().to_owned();
    let hash = action["content_hash"].as_str().unwrap().to_owned();
    let approve = format!("/api/v1/actions/{id}/approve");
    let execute = format!("/api/v1/actions/{id}/execute");

    // Not executable before approval.
    let message = app
        .post_as(&responder, &execute, json!({}))
        .await
        .assert_error(409, "conflict");
    assert!(message.contains("proposed"), "{message}");
    // Approval refusals: role, hash, body.
    app.post_as(&responder, &approve, json!({"content_hash": hash}))
        .await
        .assert_error(403, "forbidden");
    let message = app
        .post_as(&approver, &approve, json!({"content_hash": "0".repeat(64)}))
        .await
        .assert_error(409, "conflict");
    assert!(
        message.contains("changed since it was reviewed"),
        "{message}"
    );
    app.post_as(&approver, &approve, json!({}))
        .await
        .assert_error(400, "bad_request");
    app.post_as(
        &approver,
        "/api/v1/actions/act_missing/approve",
        json!({"content_hash": hash}),
    )
    .await
    .assert_error(404, "not_found");

    let res = app
        .post_as(&approver, &approve, json!({"content_hash": hash}))
        .await;
    assert_eq!(res.status, 200, "{res:?}");
    let approved = res.json();
    assert_eq!(approved["action"]["state"], "approved");
    assert_eq!(
        (approved["approvals"].clone(), approved["required"].clone()),
        (json!(1), json!(1))
    );
    // A second approval of an approved action is a conflict.
    app.post_as(&approver2, &approve, json!({"content_hash": hash}))
        .await
        .assert_error(409, "conflict");

    // Viewers cannot run it; a responder runs it through the dry-run executor.
    app.post_as(&viewer, &execute, json!({}))
        .await
        .assert_error(403, "forbidden");
    let res = app.post_as(&responder, &execute, json!({})).await;
    assert_eq!(res.status, 200, "{res:?}");
    let done = res.json();
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["result"]["executor"], "dry_run");
    assert!(
        done["result"]["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was executed"),
        "{done}"
    );
    // Terminal: no second run, no rejection.
    app.post_as(&responder, &execute, json!({}))
        .await
        .assert_error(409, "conflict");
    app.post_as(
        &approver,
        &format!("/api/v1/actions/{id}/reject"),
        json!({"reason": "late"}),
    )
    .await
    .assert_error(409, "conflict");

    let res = app.get_as(&viewer, &format!("/api/v1/actions/{id}")).await;
    assert_eq!(res.status, 200, "{res:?}");
    let shown = res.json();
    assert_eq!(shown["action"]["state"], "succeeded");
    assert_eq!(shown["approvals"][0]["approver_name"], "bob");

    // Propose and reject, with the two-person rule.
    let mut two = proposal.clone();
    two["required_approvals"] = json!(2);
    let other = app.post_as(&responder, "/api/v1/actions", two).await.json();
    assert_eq!(other["required_approvals"], 2);
    let other_id = other["id"].as_str().unwrap();
    let res = app
        .post_as(
            &approver2,
            &format!("/api/v1/actions/{other_id}/approve"),
            json!({"content_hash": other["content_hash"]}),
        )
        .await;
    assert_eq!(res.json()["action"]["state"], "proposed", "one of two");
    app.post_as(
        &responder,
        &format!("/api/v1/actions/{other_id}/reject"),
        json!({}),
    )
    .await
    .assert_error(403, "forbidden");
    let res = app
        .post_as(
            &approver,
            &format!("/api/v1/actions/{other_id}/reject"),
            json!({"reason": "not now"}),
        )
        .await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json()["state"], "rejected");
    let listed = app.get_as(&viewer, "/api/v1/actions").await.json();
    assert_eq!(listed["actions"].as_array().unwrap().len(), 2);

    // The audit log has it all, and its chain is intact.
    let audit = app
        .get_as(&viewer, "/api/v1/audit?after=0&limit=500")
        .await
        .json();
    let events: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for expected in [
        "user_added",
        "token_created",
        "action_proposed",
        "action_execution_refused",
        "action_approval_refused",
        "action_approved",
        "action_execution_started",
        "action_succeeded",
        "action_approval_recorded",
        "action_rejected",
    ] {
        assert!(events.contains(&expected), "{expected} not in {events:?}");
    }
    let check = app.get_as(&viewer, "/api/v1/audit/verify").await.json();
    assert_eq!(check["intact"], true, "{check}");
    assert_eq!(check["rows"], events.len());
    assert_eq!(check["broken"], Value::Null);
    app.get_as(&viewer, "/api/v1/audit?limit=abc")
        .await
        .assert_error(400, "bad_request");
    // Out-of-range values are refused with the field named, the same on both backends.
    for bad in [
        "/api/v1/audit?limit=-1",
        "/api/v1/audit?limit=0",
        "/api/v1/audit?after=-5",
    ] {
        let res = app.get_as(&viewer, bad).await;
        assert_eq!(res.status, 400, "{bad}: {res:?}");
    }
    let res = app.get_as(&viewer, "/api/v1/audit?limit=-1").await;
    assert!(format!("{res:?}").contains("limit"), "{res:?}");
    for field in ["proposal_ttl_secs", "approval_ttl_secs"] {
        let mut huge = proposal.clone();
        huge[field] = json!(i64::MAX);
        let res = app.post_as(&responder, "/api/v1/actions", huge).await;
        assert_eq!(res.status, 400, "{field}: {res:?}");
        assert!(format!("{res:?}").contains(field), "{res:?}");
    }
}

/// "How right were we": three investigations that all blame `payments`, one accepted, one
/// corrected to another service, one only rejected; scored without exporting anything, as
/// `/ui/eval` shows it.
async fn verdicts_score_the_stored_investigations(url: String) {
    let app = spawn_app(&url).await;
    let [_, responder, ..] = tokens(&app.store).await;
    for (id, body) in [
        (
            "inv-a",
            json!({"target": {"kind": "investigation"}, "judgement": "accepted"}),
        ),
        (
            "inv-b",
            json!({"target": {"kind": "investigation"}, "judgement": "rejected",
                   "root_cause_service": "ledger"}),
        ),
        (
            "inv-c",
            json!({"target": {"kind": "investigation"}, "judgement": "rejected"}),
        ),
    ] {
        app.store.save_investigation(&report(id)).await.unwrap();
        let res = app
            .post_as(
                &responder,
                &format!("/api/v1/investigations/{id}/verdicts"),
                body,
            )
            .await;
        assert_eq!(res.status, 201, "{res:?}");
    }
    let scores = app.store.verdict_scores().await.unwrap();
    assert_eq!((scores.all.n, scores.all.at1, scores.all.at3), (3, 1, 1));
    let ranks: std::collections::BTreeMap<&str, (Option<usize>, Option<&str>)> = scores
        .cases
        .iter()
        .map(|c| {
            (
                c.investigation_id.as_str(),
                (c.rank, c.root_cause.as_deref()),
            )
        })
        .collect();
    assert_eq!(ranks["inv-a"], (Some(1), Some("payments")));
    assert_eq!(ranks["inv-b"], (None, Some("ledger")));
    assert_eq!(ranks["inv-c"], (None, None));
    assert_eq!(scores.months.len(), 1);

    let page = app.get("/ui/eval").await;
    assert_eq!(page.status, 200, "{page:?}");
    for needle in [
        "3 judged investigations",
        "<strong>0.33</strong> (AC@1)",
        "href=\"/ui/incidents/inc-1?investigation=inv-b\"",
        "class=\"month-bar\"",
        "rejected, none given",
    ] {
        assert!(page.body.contains(needle), "{needle} not in {}", page.body);
    }
    assert_eq!(app.anonymous("GET", "/ui/eval", None).await.status, 303);
}
