//! Verdicts from chat (issue #22), over HTTP on SQLite and PostgreSQL: an investigation's answer
//! carries "right" / "wrong" buttons; a press signed like Slack's, or a Mattermost action with
//! the context this server put on the button, records a verdict as the rootline user the chat
//! account is linked to, with the audit entry naming that user; a forged, stale or replayed
//! request, or one from an unlinked account, records nothing; `/rootline verdict ID wrong
//! cause=SERVICE` gives the cause.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{ScriptedInvestigations, on_postgres, on_sqlite};
use rootline_actions::Role;
use rootline_core::Incident;
use rootline_server::{
    AppState, Application, ChatMessage, ChatopsConfig, InvestigateService, slack_signature,
};
use rootline_store::{ChatFlavour, LOCAL_ADMIN, Store};
use serde_json::{Value, json};

on_both_backends!(
    slack_buttons_and_command_record_linked_verdicts,
    mattermost_buttons_record_linked_verdicts
);

const SECRET: &str = "slack-signing-secret";
const TOKEN: &str = "mattermost-slash-token";

async fn serve(state: AppState) -> SocketAddr {
    let app = Application::build("127.0.0.1:0", state).await.unwrap();
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.run_until(std::future::pending()));
    addr
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A stored investigation (scripted: this crate cannot run the agent) and its id.
async fn stored_investigation(store: &Store) -> String {
    let incident: Incident = serde_json::from_value(json!({
        "id": "inc-1", "title": "checkout errors", "start": "2026-11-28T09:30:00Z",
        "end": "2026-11-28T10:00:00Z", "services": ["checkout"],
    }))
    .unwrap();
    ScriptedInvestigations::new(store, Duration::ZERO)
        .investigate(incident)
        .await
        .unwrap()
        .investigation_id
}

/// Users: `rae` (responder) linked to `responder_chat`, `vic` (viewer) linked to
/// `viewer_chat`.
async fn link_users(store: &Store, flavour: ChatFlavour, responder_chat: &str, viewer_chat: &str) {
    store
        .add_user("rae", Role::Responder, LOCAL_ADMIN)
        .await
        .unwrap();
    store
        .add_user("vic", Role::Viewer, LOCAL_ADMIN)
        .await
        .unwrap();
    store
        .link_chat_user("rae", flavour, responder_chat, LOCAL_ADMIN)
        .await
        .unwrap();
    store
        .link_chat_user("vic", flavour, viewer_chat, LOCAL_ADMIN)
        .await
        .unwrap();
}

async fn signed(
    addr: SocketAddr,
    path: &str,
    body: &str,
    ts: i64,
    signature: Option<String>,
) -> reqwest::Response {
    let signature = signature.unwrap_or_else(|| slack_signature(SECRET, ts, body.as_bytes()));
    reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn press(user: &str, action_id: &str, investigation: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone"},
        "actions": [{"action_id": action_id, "block_id": "rootline_verdict", "value": investigation, "type": "button"}],
        "response_url": "",
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

fn slash(user: &str, text: &str) -> String {
    serde_urlencoded::to_string([
        ("command", "/rootline"),
        ("user_id", user),
        ("user_name", "someone"),
        ("text", text),
        ("token", TOKEN),
    ])
    .unwrap()
}

async fn verdicts(store: &Store, id: &str) -> Vec<rootline_store::Verdict> {
    store.list_verdicts(id).await.unwrap()
}

async fn slack_buttons_and_command_record_linked_verdicts(url: String) {
    let store = Store::connect(&url).await.unwrap();
    let id = stored_investigation(&store).await;
    link_users(&store, ChatFlavour::Slack, "U111", "U222").await;
    let addr = serve(
        AppState::new(store.clone())
            .with_investigations(Arc::new(ScriptedInvestigations::new(
                &store,
                Duration::ZERO,
            )))
            .with_chatops(ChatopsConfig::new(Some(SECRET.into()), None).unwrap()),
    )
    .await;

    // The answer carries the two buttons, each with the investigation id.
    let reply = signed(
        addr,
        "/chatops/slash",
        &slash("U111", &format!("show {id}")),
        now(),
        None,
    )
    .await;
    assert_eq!(reply.status(), 200);
    let answer: ChatMessage = reply.json().await.unwrap();
    let blocks = answer.blocks.expect("Block Kit blocks");
    let buttons = blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .map(|b| b["elements"].clone())
        .expect("an actions block");
    let ids: Vec<(&str, &str)> = buttons
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["action_id"].as_str().unwrap(),
                b["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ids,
        vec![
            ("rootline_verdict_right", id.as_str()),
            ("rootline_verdict_wrong", id.as_str())
        ]
    );

    // A signed press by a linked responder records the verdict as that rootline user.
    let body = press("U111", "rootline_verdict_right", &id);
    let ts = now();
    let signature = slack_signature(SECRET, ts, body.as_bytes());
    let reply = signed(
        addr,
        "/chatops/interactive",
        &body,
        ts,
        Some(signature.clone()),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let m: ChatMessage = reply.json().await.unwrap();
    assert_eq!(m.response_type, "ephemeral");
    assert!(
        m.text.contains("Recorded *accepted*") && m.text.contains("*rae*"),
        "{}",
        m.text
    );
    let v = verdicts(&store, &id).await;
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].author_name, "rae");
    assert_eq!(v[0].judgement.as_str(), "accepted");
    let audit = store.list_audit(0, 1000).await.unwrap();
    let entry = audit
        .iter()
        .rev()
        .find(|e| e.event == "verdict_recorded")
        .expect("audit entry");
    assert_eq!(entry.actor, "rae");

    // The same signed request again, a forged one, a stale one: nothing more is recorded.
    let replayed = signed(addr, "/chatops/interactive", &body, ts, Some(signature)).await;
    assert_eq!(replayed.status(), 401);
    let forged = signed(
        addr,
        "/chatops/interactive",
        &body,
        now(),
        Some("v0=00ff".into()),
    )
    .await;
    assert_eq!(forged.status(), 401);
    let stale = signed(addr, "/chatops/interactive", &body, now() - 600, None).await;
    assert_eq!(stale.status(), 401);
    // Unlinked: told how to link, nothing recorded.
    let reply = signed(
        addr,
        "/chatops/interactive",
        &press("U999", "rootline_verdict_wrong", &id),
        now(),
        None,
    )
    .await;
    assert_eq!(reply.status(), 200);
    let m: ChatMessage = reply.json().await.unwrap();
    assert!(
        m.text.contains("rootline user link NAME --slack-user U999"),
        "{}",
        m.text
    );
    // A viewer may not judge.
    let reply = signed(
        addr,
        "/chatops/interactive",
        &press("U222", "rootline_verdict_wrong", &id),
        now(),
        None,
    )
    .await;
    let m: ChatMessage = reply.json().await.unwrap();
    assert!(m.text.starts_with("Nothing was recorded"), "{}", m.text);
    assert_eq!(verdicts(&store, &id).await.len(), 1);

    // "The cause was …": the follow-up command.
    let reply = signed(
        addr,
        "/chatops/slash",
        &slash(
            "U111",
            &format!("verdict {id} wrong cause=payments pool exhausted"),
        ),
        now(),
        None,
    )
    .await;
    let m: ChatMessage = reply.json().await.unwrap();
    assert!(
        m.text.contains("Recorded *rejected*") && m.text.contains("cause `payments`"),
        "{}",
        m.text
    );
    let v = verdicts(&store, &id).await;
    assert_eq!(v.len(), 2);
    let latest = v.iter().max_by_key(|v| v.version).unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(latest.root_cause_service.as_deref(), Some("payments"));
    assert!(latest.note.as_deref().unwrap().contains("pool exhausted"));
    assert_eq!(latest.author_name, "rae");
}

async fn mattermost_buttons_record_linked_verdicts(url: String) {
    let store = Store::connect(&url).await.unwrap();
    let id = stored_investigation(&store).await;
    link_users(
        &store,
        ChatFlavour::Mattermost,
        "mmuser1responder00000000aa",
        "mmuser2viewer000000000000b",
    )
    .await;
    let addr = serve(
        AppState::new(store.clone()).with_chatops(
            ChatopsConfig::new(None, Some(TOKEN.into()))
                .unwrap()
                .with_public_url(Some("https://rootline.example.com".into())),
        ),
    )
    .await;
    let reply = reqwest::Client::new()
        .post(format!("http://{addr}/chatops/slash"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(slash("mmuser1responder00000000aa", &format!("show {id}")))
        .send()
        .await
        .unwrap();
    let answer: ChatMessage = reply.json().await.unwrap();
    let attachments = answer
        .attachments
        .expect("message attachments with actions");
    let right = attachments[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Right")
        .cloned()
        .expect("a Right action");
    assert_eq!(
        right["integration"]["url"],
        "https://rootline.example.com/chatops/mattermost/action"
    );
    let context = right["integration"]["context"].clone();
    assert_eq!(context["investigation_id"], id.as_str());

    let action = |user: &str, context: &Value| {
        let body = json!({"user_id": user, "user_name": "someone", "channel_id": "c1", "post_id": "p1", "context": context});
        async move {
            reqwest::Client::new()
                .post(format!("http://{addr}/chatops/mattermost/action"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let reply = action("mmuser1responder00000000aa", &context).await;
    assert_eq!(reply.status(), 200);
    let text = reply.json::<Value>().await.unwrap()["ephemeral_text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("Recorded *accepted*") && text.contains("*rae*"),
        "{text}"
    );
    assert_eq!(verdicts(&store, &id).await.len(), 1);

    // A context this server did not sign (the judgement flipped), and an unlinked user.
    let mut flipped = context.clone();
    flipped["judgement"] = json!("rejected");
    assert_eq!(
        action("mmuser1responder00000000aa", &flipped)
            .await
            .status(),
        401
    );
    let reply = action("someone-else", &context).await;
    let text = reply.json::<Value>().await.unwrap()["ephemeral_text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("--mattermost-user someone-else"), "{text}");
    assert_eq!(verdicts(&store, &id).await.len(), 1);

    // The command, with Mattermost's token.
    let reply = reqwest::Client::new()
        .post(format!("http://{addr}/chatops/slash"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(slash(
            "mmuser1responder00000000aa",
            &format!("verdict {id} partly cause=checkout-db"),
        ))
        .send()
        .await
        .unwrap();
    let m: ChatMessage = reply.json().await.unwrap();
    assert!(m.text.contains("Recorded *partly_right*"), "{}", m.text);
    assert_eq!(verdicts(&store, &id).await.len(), 2);
}
