//! The slash command's own rules, against a real store on both backends: who may call it, what
//! goes only to the caller, and an investigation slower than the chat server waits for, whose
//! result is posted to the command's `response_url` (a real local HTTP receiver). The
//! investigation itself is scripted here (this crate cannot run the agent); the real one is
//! exercised end to end in `crates/rootline/tests/serve_chatops.rs`.

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use common::{ScriptedInvestigations, on_postgres, on_sqlite};
use rootline_server::{AppState, Application, ChatMessage, ChatopsConfig};
use rootline_store::Store;
use tokio::sync::mpsc;

const TOKEN: &str = "mattermost-slash-token";

async fn serve(state: AppState) -> SocketAddr {
    let app = Application::build("127.0.0.1:0", state).await.unwrap();
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.run_until(std::future::pending()));
    addr
}

/// A chat server's `response_url`: every message posted to it arrives on the channel.
async fn response_receiver() -> (String, mpsc::UnboundedReceiver<ChatMessage>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hooks/response",
        post(move |Json(m): Json<ChatMessage>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(m);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks/response"), rx)
}

fn form(token: &str, text: &str, response_url: &str) -> String {
    format!(
        "token={token}&team_id=T1&channel_name=town-square&user_name=bob&command=%2Frootline&text={}&response_url={}",
        text.replace(' ', "+"),
        response_url.replace(':', "%3A").replace('/', "%2F")
    )
}

async fn post_form(addr: SocketAddr, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("http://{addr}/chatops/slash"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A command with the right token whose answer must be a chat message.
async fn ask(addr: SocketAddr, text: &str) -> ChatMessage {
    let reply = post_form(addr, form(TOKEN, text, "")).await;
    assert_eq!(reply.status(), 200, "{text}");
    reply.json().await.unwrap()
}

fn config(answer_within: Duration) -> ChatopsConfig {
    let mut c = ChatopsConfig::new(None, Some(TOKEN.into())).unwrap();
    c.answer_within = answer_within;
    c
}

async fn slow_investigation_is_posted_to_response_url(url: String) {
    let store = Store::connect(&url).await.unwrap();
    let state = AppState::new(store.clone())
        .with_investigations(Arc::new(ScriptedInvestigations::new(
            &store,
            Duration::from_millis(800),
        )))
        .with_chatops(
            config(Duration::from_millis(100))
                .with_public_url(Some("https://rootline.example.com/".into())),
        );
    let addr = serve(state).await;
    let (response_url, mut posted) = response_receiver().await;

    let reply = post_form(
        addr,
        form(TOKEN, "investigate checkout last 10m", &response_url),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let ack: ChatMessage = reply.json().await.unwrap();
    assert_eq!(ack.response_type, "ephemeral");
    assert!(ack.text.contains("will be posted here"), "{}", ack.text);

    let late = tokio::time::timeout(Duration::from_secs(20), posted.recv())
        .await
        .expect("the result was never posted")
        .unwrap();
    assert_eq!(late.response_type, "in_channel");
    assert!(
        late.text
            .contains("*Probable root cause: checkout (exception)*"),
        "{}",
        late.text
    );
    let incident_id = &store.list_incidents().await.unwrap()[0].id;
    assert!(
        late.text.contains(&format!(
            "Timeline: https://rootline.example.com/ui/incidents/{incident_id}?investigation="
        )),
        "{}",
        late.text
    );
    // Text from the evidence cannot mention anyone.
    assert!(
        late.text.contains("&lt;@\u{200B}U999&gt;") && !late.text.contains("<@U999>"),
        "{}",
        late.text
    );
    // And it was stored: the incident is listed for the next command.
    let incidents = store.list_incidents().await.unwrap();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].services, vec!["checkout".to_owned()]);
}

async fn callers_are_authenticated_and_help_stays_private(url: String) {
    let store = Store::connect(&url).await.unwrap();
    let investigations = Arc::new(ScriptedInvestigations::new(&store, Duration::ZERO));

    // Not configured: the endpoint does not exist.
    let off = serve(AppState::new(store.clone()).with_investigations(investigations.clone())).await;
    assert_eq!(post_form(off, form(TOKEN, "help", "")).await.status(), 404);

    let on = serve(
        AppState::new(store.clone())
            .with_investigations(investigations)
            .with_chatops(config(ChatopsConfig::DEFAULT_ANSWER_WITHIN)),
    )
    .await;
    let refused = post_form(on, form("guess", "investigate checkout", "")).await;
    assert_eq!(refused.status(), 401);
    assert!(store.list_incidents().await.unwrap().is_empty());

    let help = ask(on, "").await;
    assert_eq!(help.response_type, "ephemeral");
    assert!(help.text.contains("/rootline investigate"), "{}", help.text);

    let bad = ask(on, "investigate last 5y").await;
    assert_eq!(bad.response_type, "ephemeral");
    assert!(
        bad.text.starts_with("`5y` is not a duration"),
        "{}",
        bad.text
    );
    assert!(store.list_incidents().await.unwrap().is_empty());

    // Fast enough: the answer is the result itself, for the channel.
    let done = ask(on, "investigate payments").await;
    assert_eq!(done.response_type, "in_channel");
    assert!(
        done.text.contains("1. *payments* exception"),
        "{}",
        done.text
    );

    // Words a chat would act on (Mattermost's plain mentions, a Markdown link) come back inert.
    let echoed = ask(on, "show @channel[x](http://evil.example)").await;
    assert!(echoed.text.contains("No investigation"), "{}", echoed.text);
    assert!(
        !echoed.text.contains("@channel") && !echoed.text.contains("]("),
        "{}",
        echoed.text
    );

    let missing = ask(on, "show no-such-id").await;
    assert_eq!(missing.response_type, "ephemeral");
    assert!(
        missing.text.contains("No investigation"),
        "{}",
        missing.text
    );
}

on_both_backends!(
    slow_investigation_is_posted_to_response_url,
    callers_are_authenticated_and_help_stays_private,
);
