//! The client against a local query API that the test starts: credentials are sent as
//! configured, a redirect is not followed (the credentials would leave the configured URL), a
//! slow answer is given up after the timeout and named, and an API error is reported with its
//! reason. The answers are shaped as a real Prometheus 2.x answers (recorded from Debian's
//! `prometheus` scraping itself); the real servers are exercised end to end in
//! `crates/rootline/tests/prometheus_pull.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rootline_prom::{NamedQuery, PromClient, PromSettings};

/// A Prometheus answer to `query_range?query=up` (recorded, timestamps shifted to 1.7e9).
const UP: &str = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"127.0.0.1:19090","job":"prometheus"},"values":[[1700000000,"1"],[1700000015,"1"]]}]}}"#;
/// Prometheus's answer to a query that does not parse.
const BAD: &str = r#"{"status":"error","errorType":"bad_data","error":"1:12: parse error: unclosed left parenthesis"}"#;

#[derive(Clone, Default)]
struct Seen(
    Arc<Mutex<Vec<Option<String>>>>,
    Arc<Mutex<Vec<Option<String>>>>,
    Arc<Mutex<Vec<String>>>,
);

async fn query_range(
    State(seen): State<Seen>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.0.lock().unwrap().push(auth);
    let tenant = headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.1.lock().unwrap().push(tenant);
    seen.2
        .lock()
        .unwrap()
        .push(q.get("query").cloned().unwrap_or_default());
    match q.get("query").map(String::as_str) {
        Some("up") => ([(header::CONTENT_TYPE, "application/json")], UP).into_response(),
        Some("slow") => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            ([(header::CONTENT_TYPE, "application/json")], UP).into_response()
        }
        Some("moved") => (
            StatusCode::FOUND,
            [(
                header::LOCATION,
                "http://elsewhere.example/api/v1/query_range",
            )],
        )
            .into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            BAD,
        )
            .into_response(),
    }
}

async fn start() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/api/v1/query_range", get(query_range))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn settings(url: &str, queries: &[&str]) -> PromSettings {
    PromSettings {
        url: Some(url.to_string()),
        timeout_secs: 1,
        default_queries: false,
        queries: queries
            .iter()
            .map(|q| NamedQuery {
                name: q.to_string(),
                query: q.to_string(),
            })
            .collect(),
        ..PromSettings::default()
    }
}

#[tokio::test]
async fn credentials_redirects_timeouts_and_errors() {
    let (url, seen) = start().await;
    let range = [(1_699_999_990_000_000_000, 1_700_000_020_000_000_000)];

    // Bearer.
    let mut s = settings(&url, &["up"]);
    s.bearer_token = Some("s3cret".into());
    let pulled = PromClient::new(&s).unwrap().pull(&range, &[]).await;
    assert!(pulled.problems.is_empty(), "{:?}", pulled.problems);
    assert_eq!(pulled.points.len(), 2);
    assert_eq!(pulled.series, 1);
    assert_eq!(pulled.points[0].entity.as_deref(), Some("prometheus"));
    assert_eq!(pulled.points[0].name, "up");
    assert_eq!(
        seen.0.lock().unwrap().last().unwrap().as_deref(),
        Some("Bearer s3cret")
    );

    // Basic.
    let mut s = settings(&url, &["up"]);
    s.username = Some("rootline".into());
    s.password = Some("pw".into());
    PromClient::new(&s).unwrap().pull(&range, &[]).await;
    // base64("rootline:pw")
    assert_eq!(
        seen.0.lock().unwrap().last().unwrap().as_deref(),
        Some("Basic cm9vdGxpbmU6cHc=")
    );

    // An extra header (a Mimir tenant), with the bearer.
    let mut s = settings(&url, &["up"]);
    s.bearer_token = Some("s3cret".into());
    s.headers.insert("X-Scope-OrgID".into(), "team-a".into());
    PromClient::new(&s).unwrap().pull(&range, &[]).await;
    assert_eq!(
        seen.1.lock().unwrap().last().unwrap().as_deref(),
        Some("team-a")
    );
    assert_eq!(
        seen.0.lock().unwrap().last().unwrap().as_deref(),
        Some("Bearer s3cret")
    );
    let mut bad = settings(&url, &["up"]);
    bad.headers.insert("bad header".into(), "x".into());
    assert!(PromClient::new(&bad).is_err());

    // Narrowed to the incident's services by the configured label (defaults on, one range).
    let mut s = settings(&url, &[]);
    s.default_queries = true;
    s.focus_label = Some("service".into());
    PromClient::new(&s)
        .unwrap()
        .pull(&range, &["checkout".into(), "cart".into()])
        .await;
    let queries = seen.2.lock().unwrap().clone();
    assert!(
        queries.contains(&r#"up{service=~"checkout|cart"}"#.to_string()),
        "{queries:?}"
    );
    // Without a focus label nothing is narrowed.
    s.focus_label = None;
    PromClient::new(&s)
        .unwrap()
        .pull(&range, &["checkout".into()])
        .await;
    assert!(
        seen.2
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(8)
            .any(|q| q == "up")
    );

    // None configured: none sent.
    PromClient::new(&settings(&url, &["up"]))
        .unwrap()
        .pull(&range, &[])
        .await;
    assert_eq!(seen.0.lock().unwrap().last().unwrap(), &None);

    // A redirect, an error and a slow answer: each named, the good query still pulled.
    let mut s = settings(&url, &["moved", "sum by (job", "slow", "up"]);
    s.bearer_token = Some("s3cret".into());
    let pulled = PromClient::new(&s).unwrap().pull(&range, &[]).await;
    assert_eq!(pulled.points.len(), 2, "the good query still counts");
    let problems: Vec<(String, String)> = pulled
        .problems
        .iter()
        .map(|p| (p.query.clone(), p.reason.clone()))
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(problems[0].0, "moved");
    assert!(problems[0].1.contains("302"), "{problems:?}");
    assert_eq!(problems[1].0, "sum by (job");
    assert!(
        problems[1].1.contains("bad_data") && problems[1].1.contains("unclosed"),
        "{problems:?}"
    );
    assert_eq!(problems[2].0, "slow");
    assert!(
        problems[2].1.contains("no answer within 1 s"),
        "{problems:?}"
    );
}
