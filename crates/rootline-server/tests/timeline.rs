//! The web incident timeline over a real store on both backends: what the pages show, in which
//! order, and that text from logs cannot become markup or script.

#[macro_use]
mod common;

use common::{on_postgres, on_sqlite, spawn_app};
use rootline_actions::Role;
use rootline_core::{Incident, Report};
use rootline_store::LOCAL_ADMIN;
use serde_json::json;

const HOSTILE: &str = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>";

fn incident() -> Incident {
    serde_json::from_value(json!({
        "id": "inc-7",
        "title": "checkout 5xx <b>storm</b>",
        "start": "2023-01-29T08:43:00Z",
        "end": "2023-01-29T08:58:00Z",
        "services": ["checkout"],
    }))
    .unwrap()
}

fn report(id: &str, created_at: &str, outcome: &str) -> Report {
    let ns = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    };
    serde_json::from_value(json!({
        "investigation_id": id,
        "created_at": created_at,
        "incident": incident(),
        "mode": "offline",
        "outcome": outcome,
        "outcome_reason": "payments is the first and strongest change",
        "stats": {
            "window_start": "2023-01-29T08:43:00.000Z", "window_end": "2023-01-29T08:58:00.000Z",
            "baseline_start": "2023-01-29T08:28:00.000Z", "baseline_end": "2023-01-29T08:43:00.000Z",
            "window_records": 1200, "baseline_records": 900, "services_seen": 4,
        },
        "candidates": [
            {"entity": "payments", "fault_type": "config_change", "score": 3.1,
             "evidence": ["ev-deploy", "ev-refused"], "why": "deployed 4 minutes before onset",
             "score_by_signal": {"changes": 2.0, "logs": 1.1}},
            {"entity": "checkout", "fault_type": "exception", "score": 0.6,
             "evidence": ["ev-hostile"], "why": "errors calling payments"},
        ],
        // Listed out of time order on purpose.
        "evidence": [
            {"id": "ev-hostile", "kind": "new_message", "entity": "checkout",
             "first_seen_ns": ns("2023-01-29T08:44:10Z"), "strength": 0.5,
             "summary": format!("new error message: {HOSTILE}"), "examples": ["log-1"]},
            {"id": "ev-deploy", "kind": "change", "entity": "payments",
             "first_seen_ns": ns("2023-01-29T08:39:00Z"), "strength": 0.9,
             "summary": "deploy payments v1.4.2 by alice", "examples": []},
            {"id": "ev-refused", "kind": "new_message", "entity": "payments",
             "first_seen_ns": ns("2023-01-29T08:43:20Z"), "strength": 0.93,
             "summary": "new message: connection refused", "examples": ["log-2"]},
        ],
    }))
    .unwrap()
}

/// Text between `from` and the next `to`, for looking at one section of a page.
fn section<'a>(page: &'a str, from: &str, to: &str) -> &'a str {
    let start = page
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in {page}"));
    let rest = &page[start..];
    &rest[..rest.find(to).unwrap_or(rest.len())]
}

async fn timeline_pages_show_the_investigation_in_time_order(url: String) {
    let app = spawn_app(&url).await;
    let store = &app.store;
    store.save_incident(&incident()).await.unwrap();
    store
        .save_investigation(&report(
            "inv-old",
            "2023-01-29T09:00:00.000Z",
            "insufficient_evidence",
        ))
        .await
        .unwrap();
    store
        .save_investigation(&report(
            "inv-new",
            "2023-01-29T09:10:00.000Z",
            "probable_cause",
        ))
        .await
        .unwrap();
    // The raw lines frozen with the investigation, as `rootline investigate` stores them.
    store
        .save_evidence_snapshot(
            "inv-new",
            &json!({"format": "test", "context": {"items": [
                {"id": "E1", "evidence_id": "ev-refused", "lines": [
                    {"record_id": "log-2", "text": "08:43:20 ERROR payments connection refused"}]},
                {"id": "E2", "evidence_id": "ev-hostile", "lines": [
                    {"record_id": "log-1", "text": format!("08:44:10 WARN checkout {HOSTILE}")}]},
            ]}}),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    store
        .add_user("rae", Role::Responder, LOCAL_ADMIN)
        .await
        .unwrap();
    let token = store
        .create_token("rae", "test", None, LOCAL_ADMIN)
        .await
        .unwrap()
        .token;
    let verdict = app
        .post_as(
            &token,
            "/api/v1/investigations/inv-new/verdicts",
            json!({"target": {"kind": "candidate", "entity": "payments"},
                   "judgement": "accepted", "fix": "rolled back payments"}),
        )
        .await;
    assert_eq!(verdict.status, 201, "{verdict:?}");

    let list = app.get("/ui").await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.headers["content-type"], "text/html; charset=utf-8");
    assert!(
        list.body
            .contains("<a href=\"/ui/incidents/inc-7\">checkout 5xx &lt;b&gt;storm&lt;/b&gt;</a>"),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains("<td>probable cause</td><td>payments</td>"),
        "{}",
        list.body
    );

    let page = app.get("/ui/incidents/inc-7").await;
    assert_eq!(page.status, 200, "{page:?}");
    let csp = &page.headers["content-security-policy"];
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let body = &page.body;
    // The newest investigation is shown.
    assert!(
        body.contains("Probable root cause: payments (config_change)"),
        "{body}"
    );
    let others = section(
        body,
        "<h2>Investigations of this incident</h2>",
        "</section>",
    );
    assert!(
        others.contains("<b>2023-01-29 09:10:00 UTC · offline · probable cause</b> (shown)"),
        "{others}"
    );
    assert!(
        others.contains("href=\"/ui/incidents/inc-7?investigation=inv-old\""),
        "{others}"
    );
    // Evidence in time order, the deploy before the onset.
    let evidence = section(body, "<ol class=\"evidence\">", "</ol>");
    let order: Vec<usize> = ["ev-deploy", "ev-refused", "ev-hostile"]
        .iter()
        .map(|id| evidence.find(&format!("id=\"ev-{id}\"")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{evidence}");
    assert!(evidence.contains(">-4m00s</span>"), "{evidence}");
    assert!(evidence.contains(">+1m10s</span>"), "{evidence}");
    let refused = section(evidence, "id=\"ev-ev-refused\"", "</li>");
    assert!(
        refused.contains("<pre class=\"lines\">08:43:20 ERROR payments connection refused</pre>"),
        "{refused}"
    );
    // One dot per piece of evidence, on its entity's lane; candidates' lanes first.
    let svg = section(body, "<svg", "</svg>");
    assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
    let lanes: Vec<&str> = svg
        .split("<text class=\"lane\"")
        .skip(1)
        .map(|t| &t[t.find('>').unwrap() + 1..t.find("</text>").unwrap()])
        .collect();
    assert_eq!(lanes, ["payments", "checkout"]);
    // The verdict is shown with its author.
    let verdicts = section(body, "<h2>Verdicts</h2>", "</section>");
    assert!(
        verdicts.contains("<b>accepted</b>") && verdicts.contains("by rae"),
        "{verdicts}"
    );
    assert!(verdicts.contains("fix: rolled back payments"), "{verdicts}");
    // Hostile log text is text, everywhere it appears (summary, dot title, raw line).
    assert!(
        !body.contains("<script>") && !body.contains("<img"),
        "{body}"
    );
    assert_eq!(
        body.matches("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;")
            .count(),
        3,
        "{body}"
    );

    // An older investigation on request; unknown ids are 404 pages in the JSON error shape.
    let old = app.get("/ui/incidents/inc-7?investigation=inv-old").await;
    assert!(
        old.body.contains("<h2>insufficient evidence</h2>"),
        "{}",
        old.body
    );
    app.get("/ui/incidents/inc-7?investigation=nope")
        .await
        .assert_error(404, "not_found");
    app.get("/ui/incidents/nope")
        .await
        .assert_error(404, "not_found");
}

on_both_backends!(timeline_pages_show_the_investigation_in_time_order);
