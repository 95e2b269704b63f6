//! Shared by this crate's HTTP tests: throwaway databases (SQLite in a temporary directory;
//! a PostgreSQL database `rootline_test_<uuid>` created through `ROOTLINE_TEST_POSTGRES_URL` or
//! `postgres://postgres@127.0.0.1:5432/postgres` and dropped at the end, also when the scenario
//! fails), the app spawned on port 0 with an admin token that every request sends unless it
//! asks not to (`anonymous`, `request_as`), and the response type of the raw HTTP/1.1 client.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use rootline_core::{Incident, Report};
use rootline_server::{AppState, Application, BoxFuture, InvestigateService, ServiceError};
use rootline_store::Store;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

// ---- databases ----

pub async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rootline.db").display());
    scenario(url).await;
}

pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url =
        std::env::var("ROOTLINE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.into());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin_url} ({e}). These tests need a real \
                 PostgreSQL server: start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or \
                 point ROOTLINE_TEST_POSTGRES_URL at one."
            )
        });
    let name = format!("rootline_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    // Run on a task so that a failing scenario still reaches the DROP below.
    let outcome = tokio::spawn(scenario(with_database(&admin_url, &name))).await;
    let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    let _ = admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    dropped.unwrap_or_else(|e| panic!("drop database {name}: {e}"));
}

/// `admin_url` with its database replaced by `name`.
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Declares each scenario as a test on SQLite (`sqlite::name`) and on PostgreSQL
/// (`postgres::name`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                super::on_sqlite(super::$name).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                super::on_postgres(super::$name).await
            })*
        }
    };
}

// ---- the app and a minimal HTTP client ----

/// The server running on its own task; stopped when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub server: JoinHandle<std::io::Result<()>>,
    /// An admin's API token (every scope); [`TestApp::request`] sends it.
    pub token: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Adds the user `test-admin` (role admin) unless there, and returns a new token of theirs.
pub async fn admin_token(store: &Store) -> String {
    use rootline_actions::Role;
    use rootline_store::LOCAL_ADMIN;
    if store.get_user("test-admin").await.unwrap().is_none() {
        store
            .add_user("test-admin", Role::Admin, LOCAL_ADMIN)
            .await
            .expect("add test-admin");
    }
    store
        .create_token("test-admin", "tests", None, LOCAL_ADMIN)
        .await
        .expect("token for test-admin")
        .token
}

pub async fn spawn_app(url: &str) -> TestApp {
    let store = Store::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    serve_state(store.clone(), AppState::new(store)).await
}

/// Serves `state` (over `store`) on port 0, with an admin token made in `store`.
pub async fn serve_state(store: Store, state: AppState) -> TestApp {
    let token = admin_token(&store).await;
    let app = Application::build("127.0.0.1:0", state)
        .await
        .expect("bind 127.0.0.1:0");
    let port = app.port();
    assert_ne!(port, 0);
    let server = tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        store,
        server,
        token,
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Lower-cased names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        assert_eq!(
            self.headers.get("content-type").map(String::as_str),
            Some("application/json"),
            "{self:?}"
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.json()).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// Asserts the status and the `{"error": {"code", "message"}}` shape; returns the message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        let body = self.json();
        let error = body["error"]
            .as_object()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(error.len(), 2, "{body}");
        assert_eq!(error["code"], code, "{body}");
        let message = error["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"));
        assert!(!message.is_empty());
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
        message.to_owned()
    }
}

// ---- requests over a fresh connection (Connection: close) ----

impl TestApp {
    /// `GET path` over a fresh connection.
    pub async fn get(&self, path: &str) -> Response {
        self.request("GET", path, None).await
    }

    /// `POST path` with a JSON body over a fresh connection.
    pub async fn post(&self, path: &str, body: &str) -> Response {
        self.request("POST", path, Some(body)).await
    }

    /// A request as the admin ([`TestApp::token`]).
    pub async fn request(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        let auth = format!("Bearer {}", self.token);
        self.request_as(Some(&auth), method, path, body).await
    }

    /// A request without any credential.
    pub async fn anonymous(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        self.request_as(None, method, path, body).await
    }

    /// The `Authorization` header line of the admin token, for [`TestApp::raw_status`].
    pub fn auth_line(&self) -> String {
        format!("Authorization: Bearer {}", self.token)
    }

    /// A request with `Authorization: <auth>` when given.
    pub async fn request_as(
        &self,
        auth: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Response {
        let extra: Vec<String> = auth
            .map(|a| format!("Authorization: {a}"))
            .into_iter()
            .collect();
        self.send(&extra, method, path, body.map(|b| ("application/json", b)))
            .await
    }

    /// A request with these extra header lines (`Name: value`) and, when given, a body of that
    /// content type.
    pub async fn send(
        &self,
        extra: &[String],
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> Response {
        tokio::time::timeout(
            REQUEST_TIMEOUT,
            http_request(self.addr, extra, method, path, body),
        )
        .await
        .unwrap_or_else(|_| panic!("{method} {path} timed out"))
    }

    /// A request written as given: `head` is the header lines (Host included, or not), `body`
    /// follows. Returns the status code.
    pub async fn raw_status(&self, method: &str, path: &str, head: &[&str], body: &str) -> u16 {
        let mut stream = TcpStream::connect(self.addr)
            .await
            .expect("connect to the app");
        let mut request = format!("{method} {path} HTTP/1.1\r\n");
        for h in head {
            request.push_str(h);
            request.push_str("\r\n");
        }
        request.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8_lossy(&raw);
        raw.strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad response {raw:?}"))
    }

    /// `GET path` as the token's user.
    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.request_as(Some(&format!("Bearer {token}")), "GET", path, None)
            .await
    }

    /// `POST path` with a JSON body as the token's user.
    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> Response {
        self.request_as(
            Some(&format!("Bearer {token}")),
            "POST",
            path,
            Some(&body.to_string()),
        )
        .await
    }
}

async fn http_request(
    addr: SocketAddr,
    extra: &[String],
    method: &str,
    path: &str,
    body: Option<(&str, &str)>,
) -> Response {
    let mut stream = TcpStream::connect(addr).await.expect("connect to the app");
    let extra: String = extra.iter().map(|h| format!("{h}\r\n")).collect();
    let body_headers = body.map_or_else(String::new, |(content_type, b)| {
        format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            b.len()
        )
    });
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n{extra}{body_headers}Connection: close\r\n\r\n{}",
        body.map_or("", |(_, b)| b)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .expect("a complete response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: HashMap<String, String> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header line");
            (k.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let body = if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        dechunk(body)
    } else {
        if let Some(len) = headers.get("content-length") {
            assert_eq!(len.parse::<usize>().unwrap(), body.len(), "content-length");
        }
        body.to_owned()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("chunk size line");
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
}

// ---- a scripted investigation (this crate cannot run the agent) ----

/// Takes `delay`, blames the first service the incident names, and stores the result.
pub struct ScriptedInvestigations {
    store: Store,
    delay: Duration,
    /// The incidents it was asked to investigate, in order.
    pub received: Arc<Mutex<Vec<Incident>>>,
}

impl ScriptedInvestigations {
    pub fn new(store: &Store, delay: Duration) -> ScriptedInvestigations {
        ScriptedInvestigations {
            store: store.clone(),
            delay,
            received: Arc::default(),
        }
    }
}

impl InvestigateService for ScriptedInvestigations {
    fn investigate(&self, incident: Incident) -> BoxFuture<'_, Result<Report, ServiceError>> {
        Box::pin(async move {
            self.received.lock().unwrap().push(incident.clone());
            tokio::time::sleep(self.delay).await;
            let culprit = incident.services.first().cloned().unwrap_or_default();
            let report: Report = serde_json::from_value(json!({
                "investigation_id": uuid::Uuid::now_v7().to_string(),
                "created_at": "2026-11-28T10:00:00.000Z",
                "incident": incident,
                "mode": "offline",
                "outcome": "probable_cause",
                "outcome_reason": format!("only {culprit} differs from its baseline"),
                "stats": {
                    "window_start": "2026-11-28T09:30:00.000Z",
                    "window_end": "2026-11-28T10:00:00.000Z",
                    "baseline_start": "2026-11-28T09:00:00.000Z",
                    "baseline_end": "2026-11-28T09:30:00.000Z",
                    "window_records": 10, "baseline_records": 10, "services_seen": 1,
                },
                "candidates": [{
                    "entity": culprit, "fault_type": "exception", "score": 2.0,
                    "evidence": ["sig-new-1"],
                    "why": "new error <@U999> in the window",
                }],
                "evidence": [],
            }))
            .unwrap();
            self.store.save_incident(&report.incident).await?;
            self.store.save_investigation(&report).await?;
            Ok(report)
        })
    }
}
