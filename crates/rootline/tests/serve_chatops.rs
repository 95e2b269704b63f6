//! The slash command end to end, the way `rootline serve` runs it: the server's router with the
//! live ingest (`src/live_ingest.rs`) and the live investigations (`src/live_investigate.rs`)
//! over one real data dir and a SQLite store, on a real port. The telemetry of the bundled Nezha
//! TrainTicket incident goes in over the ingest API; a signed `/rootline investigate` of its
//! window must name the known root cause, store the investigation and let `show` find it again;
//! `POST /api/v1/investigations` of the same window must agree.

#[path = "../src/live_ingest.rs"]
mod live_ingest;
#[path = "../src/live_investigate.rs"]
mod live_investigate;
#[path = "../src/prom_pull.rs"]
mod prom_pull;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rootline_server::{AppState, Application, ChatMessage, ChatopsConfig, slack_signature};
use rootline_store::Store;
use serde_json::Value;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/demo/nezha-tt-2023-01-29-0925")
}

struct Server {
    addr: SocketAddr,
    store: Store,
    /// A responder's token (ingest and read): the posts and reads besides the slash command.
    token: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(data_dir: &Path) -> Server {
    let url = format!("sqlite://{}", data_dir.join("rootline.db").display());
    let store = Store::connect(&url).await.unwrap();
    store
        .add_user("rae", rootline_actions::Role::Responder, "test")
        .await
        .unwrap();
    let token = store
        .create_token("rae", "test", None, "test")
        .await
        .unwrap()
        .token;
    let indexes = live_ingest::LiveIndexes::open(data_dir).unwrap();
    let ingest = live_ingest::LiveIngest::over(&indexes, data_dir).unwrap();
    // The engine configuration `serve` reads from --engine-config: the shipped defaults here.
    let engine = rootline_agent::EngineConfig::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/engine.toml"),
    )
    .unwrap();
    let investigations =
        live_investigate::LiveInvestigations::new(indexes, data_dir, store.clone(), 8_000)
            .with_engine(engine)
            .with_prometheus(rootline_prom::PromSettings::default());
    let state = AppState::new(store.clone())
        .with_ingest(Arc::new(ingest))
        .with_investigations(Arc::new(investigations))
        .with_chatops(ChatopsConfig::new(Some(SECRET.into()), None).unwrap());
    let app = Application::build("127.0.0.1:0", state).await.unwrap();
    let addr = app.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    Server {
        addr,
        store,
        token,
        _stop: tx,
    }
}

/// Posts one gzip file of the demo bundle as it is, with `Content-Encoding: gzip`.
async fn post_gz(client: &reqwest::Client, addr: SocketAddr, path: &str, file: &Path) -> Value {
    let body = std::fs::read(file).unwrap();
    let reply = client
        .post(format!("http://{addr}{path}"))
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{}", file.display());
    reply.json().await.unwrap()
}

fn form(text: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "unused-with-a-signing-secret"),
        ("team_id", "T0001"),
        ("channel_name", "incidents"),
        ("user_id", "U2147483697"),
        ("user_name", "alice"),
        ("command", "/rootline"),
        ("text", text),
        ("response_url", ""),
    ])
    .unwrap()
}

/// A client that sends `token` with every request (the slash command ignores it).
fn authed(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

async fn slash(
    client: &reqwest::Client,
    addr: SocketAddr,
    body: &str,
    signature: Option<String>,
) -> reqwest::Response {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = signature.unwrap_or_else(|| slack_signature(SECRET, ts, body.as_bytes()));
    client
        .post(format!("http://{addr}/chatops/slash"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_command_investigates_ingested_telemetry_and_names_the_known_cause() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let client = authed(&server.token);
    let demo = demo_dir();
    for name in [
        "09_25_log.jsonl.gz",
        "09_26_log.jsonl.gz",
        "09_27_log.jsonl.gz",
    ] {
        let counts = post_gz(
            &client,
            server.addr,
            "/api/v1/ingest/logs",
            &demo.join("logs").join(name),
        )
        .await;
        assert!(
            counts["indexed"].as_u64().unwrap() > 100,
            "{name}: {counts}"
        );
    }
    for name in [
        "09_25_trace.csv.gz",
        "09_26_trace.csv.gz",
        "09_27_trace.csv.gz",
    ] {
        post_gz(
            &client,
            server.addr,
            "/api/v1/ingest/traces",
            &demo.join("traces").join(name),
        )
        .await;
    }

    // A signed request is valid once: the same bytes and signature again are refused, and a
    // timestamp at the far end of i64 does not wrap into the window.
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let help = form("help");
    let signature = slack_signature(SECRET, ts, help.as_bytes());
    let send = |ts: i64, signature: String| {
        client
            .post(format!("http://{}/chatops/slash", server.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", signature)
            .body(help.clone())
            .send()
    };
    assert_eq!(send(ts, signature.clone()).await.unwrap().status(), 200);
    assert_eq!(send(ts, signature).await.unwrap().status(), 401);
    let far = i64::MIN + 10;
    let far_signature = slack_signature(SECRET, far, help.as_bytes());
    assert_eq!(send(far, far_signature).await.unwrap().status(), 401);

    // An unsigned or wrongly signed command is refused before anything runs.
    let body = form("investigate since 2023-01-29T09:25:39Z until 2023-01-29T09:27:08Z");
    let forged = slash(&client, server.addr, &body, Some("v0=00ff".into())).await;
    assert_eq!(forged.status(), 401);
    assert!(server.store.list_incidents().await.unwrap().is_empty());

    // The incident window of the bundle, its alert text carrying chat markup.
    let body = form(
        "investigate since 2023-01-29T09:25:39Z until 2023-01-29T09:27:08Z -- TrainTicket \
         errors <!channel>",
    );
    let reply = slash(&client, server.addr, &body, None).await;
    assert_eq!(reply.status(), 200);
    let message: ChatMessage = reply.json().await.unwrap();
    assert_eq!(message.response_type, "in_channel", "{}", message.text);
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(demo.join("truth.json")).unwrap()).unwrap();
    let culprit = truth["root_cause_service"].as_str().unwrap();
    let first = message
        .text
        .lines()
        .find(|l| l.starts_with("1. "))
        .unwrap_or_else(|| panic!("no candidate listed: {}", message.text));
    assert!(
        first.starts_with(&format!("1. *{culprit}*")),
        "{}",
        message.text
    );
    assert!(
        message.text.contains("&lt;!channel&gt;"),
        "{}",
        message.text
    );
    assert!(!message.text.contains("<!channel>"), "{}", message.text);

    // Stored like any investigation: the API and `show` find it by the id the message gives.
    let id = message
        .text
        .split("Investigation `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no investigation id: {}", message.text))
        .to_owned();
    let stored: Value = client
        .get(format!("http://{}/api/v1/investigations/{id}", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["candidates"][0]["entity"], culprit);
    assert!(
        stored["incident"]["description"]
            .as_str()
            .unwrap()
            .contains("alice")
    );
    let shown: ChatMessage = slash(&client, server.addr, &form(&format!("show {id}")), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown.text, message.text);
    let listed: ChatMessage = slash(&client, server.addr, &form("incidents"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.response_type, "ephemeral");
    assert!(
        listed.text.contains("TrainTicket errors"),
        "{}",
        listed.text
    );
}
