//! A scripted Kubernetes API server on 127.0.0.1 for the collector's tests: it answers the real
//! collection paths (`/api/v1/namespaces/NS/pods`, `/apis/apps/v1/...`) with List envelopes and
//! newline-delimited watch streams built from the recorded objects in `fixtures/`, and records
//! every request (path and query) so tests can check what the client asked for.
//!
//! Lists are scripted per (path, continue token) and answered once each: a LIST nobody
//! scripted gets a 500, so an unexpected re-list fails the test. Watches are scripted per
//! (path, resourceVersion): the scripted lines are sent and the stream closes; a watch nobody
//! scripted is held open without events, which is where a watcher waits until it is stopped.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: BTreeMap<String, String>,
}

impl Seen {
    pub fn is_watch(&self) -> bool {
        matches!(
            self.query.get("watch").map(String::as_str),
            Some("true" | "1")
        )
    }

    pub fn resource_version(&self) -> Option<&str> {
        self.query.get("resourceVersion").map(String::as_str)
    }
}

enum WatchReply {
    /// Send these watch events (one JSON line each), then close the stream.
    Lines(Vec<Value>),
    /// Answer the WATCH request itself with HTTP 410 and a Status body.
    Gone(Value),
}

#[derive(Default)]
struct Script {
    lists: HashMap<(String, Option<String>), VecDeque<Value>>,
    watches: HashMap<(String, String), WatchReply>,
    seen: Vec<Seen>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    changed: Arc<tokio::sync::watch::Sender<usize>>,
}

pub struct ApiServer {
    pub url: String,
    shared: Shared,
}

/// A List envelope's `kind` and `apiVersion`.
pub type ListKind = (&'static str, &'static str);
pub const POD_LIST: ListKind = ("PodList", "v1");
pub const EVENT_LIST: ListKind = ("EventList", "v1");
pub const DEPLOYMENT_LIST: ListKind = ("DeploymentList", "apps/v1");

/// Reads `tests/fixtures/NAME` as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `object` with `metadata.resourceVersion` set to `version`.
pub fn at(mut object: Value, version: &str) -> Value {
    object["metadata"]["resourceVersion"] = json!(version);
    object
}

/// A watch event line: `{"type": "ADDED", "object": {...}}`.
pub fn event(kind: &str, object: &Value) -> Value {
    json!({ "type": kind, "object": object })
}

/// A BOOKMARK event as the API server sends it: only kind, apiVersion and resourceVersion.
pub fn bookmark(kind: &str, api_version: &str, version: &str) -> Value {
    json!({
        "type": "BOOKMARK",
        "object": { "kind": kind, "apiVersion": api_version, "metadata": { "resourceVersion": version } }
    })
}

impl ApiServer {
    pub async fn start() -> Self {
        let (changed, _) = tokio::sync::watch::channel(0);
        let shared = Shared {
            script: Arc::default(),
            changed: Arc::new(changed),
        };
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, shared }
    }

    /// Scripts one LIST page of `path`: answered to the request carrying `continue_in` (None:
    /// the first page), with `continue_out` as the next page's token. Items lose `kind` and
    /// `apiVersion`, as items of a real List do.
    pub fn page(
        &self,
        path: &str,
        continue_in: Option<&str>,
        (list_kind, api_version): ListKind,
        items: &[Value],
        version: &str,
        continue_out: Option<&str>,
    ) {
        let items: Vec<Value> = items
            .iter()
            .map(|item| {
                let mut item = item.clone();
                if let Some(map) = item.as_object_mut() {
                    map.remove("kind");
                    map.remove("apiVersion");
                }
                item
            })
            .collect();
        let mut metadata = json!({ "resourceVersion": version });
        if let Some(token) = continue_out {
            metadata["continue"] = json!(token);
        }
        let body = json!({ "kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": items });
        self.script()
            .lists
            .entry((path.to_string(), continue_in.map(str::to_string)))
            .or_default()
            .push_back(body);
    }

    /// Scripts a single-page LIST of `path`.
    pub fn list(&self, path: &str, list_kind: ListKind, items: &[Value], version: &str) {
        self.page(path, None, list_kind, items, version, None);
    }

    /// Scripts the WATCH of `path` from `version`: these events, then the stream closes.
    pub fn watch(&self, path: &str, version: &str, events: Vec<Value>) {
        self.script().watches.insert(
            (path.to_string(), version.to_string()),
            WatchReply::Lines(events),
        );
    }

    /// Scripts the WATCH of `path` from `version` to fail with HTTP 410 and this Status.
    pub fn watch_gone(&self, path: &str, version: &str, status: Value) {
        self.script().watches.insert(
            (path.to_string(), version.to_string()),
            WatchReply::Gone(status),
        );
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.script().seen.clone()
    }

    /// The resourceVersion of every WATCH of `path`, in order.
    pub fn watch_versions(&self, path: &str) -> Vec<String> {
        self.seen()
            .iter()
            .filter(|s| s.path == path && s.is_watch())
            .map(|s| s.resource_version().unwrap_or("").to_string())
            .collect()
    }

    pub fn lists_of(&self, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path == path && !s.is_watch())
            .count()
    }

    /// Waits until a WATCH of `path` from `version` has arrived (already or later).
    pub async fn wait_for_watch(&self, path: &str, version: &str) {
        let mut changed = self.shared.changed.subscribe();
        loop {
            if self.watch_versions(path).iter().any(|v| v == version) {
                return;
            }
            changed.changed().await.unwrap();
        }
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.shared.script.lock().unwrap()
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn answer(
    State(shared): State<Shared>,
    uri: Uri,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let seen = Seen {
        path: uri.path().to_string(),
        query,
    };
    let watch = seen.is_watch();
    let reply = {
        let mut script = shared.script.lock().unwrap();
        script.seen.push(seen.clone());
        if watch {
            let version = seen.resource_version().unwrap_or("").to_string();
            Err(script.watches.remove(&(seen.path.clone(), version)))
        } else {
            let key = (seen.path.clone(), seen.query.get("continue").cloned());
            Ok(script.lists.get_mut(&key).and_then(VecDeque::pop_front))
        }
    };
    shared.changed.send_modify(|n| *n += 1);
    match reply {
        Ok(Some(page)) => json_response(StatusCode::OK, &page),
        Ok(None) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": format!("unscripted list {}", uri), "code": 500}),
        ),
        Err(Some(WatchReply::Gone(status))) => json_response(StatusCode::GONE, &status),
        Err(reply) => {
            let body = match reply {
                Some(WatchReply::Lines(events)) => {
                    let lines: Vec<Result<Bytes, Infallible>> = events
                        .iter()
                        .map(|e| Ok(Bytes::from(format!("{e}\n"))))
                        .collect();
                    Body::from_stream(futures::stream::iter(lines))
                }
                // Not scripted: a quiet watch, held open until the client goes away.
                _ => Body::from_stream(futures::stream::pending::<Result<Bytes, Infallible>>()),
            };
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body)
                .unwrap()
        }
    }
}
