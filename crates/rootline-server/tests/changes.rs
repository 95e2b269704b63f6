//! Change events and config versions over HTTP, served on a real port (`127.0.0.1:0`) against a
//! real store on both backends (the same throwaway databases and minimal HTTP/1.1 client as
//! `api.rs`):
//!
//! - SQLite: a file in a fresh temporary directory;
//! - PostgreSQL: a throwaway database `rootline_test_<uuid>` created through the admin URL
//!   (`postgres://postgres@127.0.0.1:5432/postgres`, or `ROOTLINE_TEST_POSTGRES_URL`) and dropped
//!   at the end, also when the scenario fails.

use rootline_core::{ChangeEvent, ChangeKind};
use serde_json::{Value, json};

#[macro_use]
mod common;

use common::{on_postgres, on_sqlite, spawn_app};

on_both_backends!(
    changes_are_posted_and_listed,
    bad_change_bodies_name_the_field,
    configs_are_versioned_with_diffs,
    bad_config_bodies_name_the_field,
);

// ---- scenarios ----

const DEPLOY_V1: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: api
        image: shop/api:1.4.0
        env:
        - name: DB_URL
          value: postgres://app:hunter2@db:5432/shop
";

async fn changes_are_posted_and_listed(url: String) {
    let app = spawn_app(&url).await;
    let res = app.get("/api/v1/changes").await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json(), json!({"changes": []}));

    let body = json!({
        "ts": "2023-01-29T09:20:00Z",
        "service": "payments",
        "kind": "deploy",
        "who": "alice",
        "what": "payments v1.2.3",
    });
    let res = app.post("/api/v1/changes", &body.to_string()).await;
    assert_eq!(res.status, 201, "{res:?}");
    let deploy: ChangeEvent = res.parse();
    assert!(deploy.id.starts_with("chg-"), "{deploy:?}");
    assert_eq!(deploy.ts_ns, 1_674_984_000_000_000_000);
    assert_eq!(deploy.kind, ChangeKind::Deploy);
    assert_eq!(deploy.who.as_deref(), Some("alice"));

    // Posting the same change again is idempotent: same id, 200, nothing new stored.
    let res = app.post("/api/v1/changes", &body.to_string()).await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.parse::<ChangeEvent>(), deploy);

    let flag = json!({
        "id": "flag-42",
        "ts_ns": 1_674_984_600_000_000_000i64,
        "service": "search",
        "kind": "feature_flag",
        "what": "new-ranking on",
        "diff": {"new-ranking": {"old": false, "new": true}},
    });
    let res = app.post("/api/v1/changes", &flag.to_string()).await;
    assert_eq!(res.status, 201, "{res:?}");
    let flag: ChangeEvent = res.parse();
    assert_eq!(flag.id, "flag-42");
    assert_eq!(flag.who, None);

    let res = app.get("/api/v1/changes").await;
    let all: Vec<ChangeEvent> = serde_json::from_value(res.json()["changes"].clone()).unwrap();
    assert_eq!(all, vec![deploy.clone(), flag.clone()], "oldest first");
    assert_eq!(
        app.store
            .list_change_events(i64::MIN, i64::MAX, None)
            .await
            .unwrap(),
        all
    );

    let res = app.get("/api/v1/changes?service=search").await;
    assert_eq!(res.json()["changes"], json!([flag]));
    // `to` is exclusive, `from` inclusive; epoch seconds work too.
    let res = app
        .get("/api/v1/changes?from=2023-01-29T09:20:00Z&to=2023-01-29T09:30:00Z")
        .await;
    assert_eq!(res.json()["changes"], json!([deploy]));
    let res = app
        .get("/api/v1/changes?from=1674984000&to=1674984001")
        .await;
    assert_eq!(res.json()["changes"].as_array().unwrap().len(), 1);
    // Any epoch second is a bound: `from=0` is the beginning (was refused as "not a time").
    let res = app.get("/api/v1/changes?from=0").await;
    let from_zero: Vec<ChangeEvent> =
        serde_json::from_value(res.json()["changes"].clone()).unwrap();
    assert_eq!(from_zero, all);
}

async fn bad_change_bodies_name_the_field(url: String) {
    let app = spawn_app(&url).await;
    let good =
        json!({"ts": "2023-01-29T09:20:00Z", "service": "api", "kind": "deploy", "what": "v2"});
    for (field, value, expect) in [
        ("kind", json!("explosion"), "invalid field `kind`"),
        ("ts", json!("last tuesday"), "invalid field `ts`"),
        ("service", json!(""), "invalid field `service`"),
        ("service", json!(42), "invalid field `service`"),
        ("what", Value::Null, "invalid field `what`"),
        ("who", json!(["a"]), "invalid field `who`"),
        ("servce", json!("api"), "unknown field `servce`"),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let res = app.post("/api/v1/changes", &body.to_string()).await;
        let message = res.assert_error(400, "bad_request");
        assert!(message.starts_with(expect), "{field}: {message}");
    }
    let mut body = good.clone();
    body.as_object_mut().unwrap().remove("ts");
    let message = app
        .post("/api/v1/changes", &body.to_string())
        .await
        .assert_error(400, "bad_request");
    assert_eq!(message, "invalid field `ts`: is required (or `ts_ns`)");
    let message = app
        .post("/api/v1/changes", "{not json")
        .await
        .assert_error(400, "bad_request");
    assert!(
        message.starts_with("the request body is not valid json"),
        "{message}"
    );
    app.post("/api/v1/changes", "[1]")
        .await
        .assert_error(400, "bad_request");
    app.get("/api/v1/changes?from=soon")
        .await
        .assert_error(400, "bad_request");
    app.get("/api/v1/changes?from=2023-01-02T00:00:00Z&to=2023-01-01T00:00:00Z")
        .await
        .assert_error(400, "bad_request");
    app.get("/api/v1/changes?service=a&limit=3")
        .await
        .assert_error(400, "bad_request");
    // Nothing was stored by the rejected requests.
    assert!(
        app.store
            .list_change_events(i64::MIN, i64::MAX, None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn configs_are_versioned_with_diffs(url: String) {
    let app = spawn_app(&url).await;
    let post = |content: String, observed_at: &str| {
        json!({
            "source": "k8s/api.yaml",
            "service": "api",
            "observed_at": observed_at,
            "content": content,
        })
        .to_string()
    };

    let res = app
        .post(
            "/api/v1/configs",
            &post(DEPLOY_V1.into(), "2023-01-29T09:00:00Z"),
        )
        .await;
    assert_eq!(res.status, 201, "{res:?}");
    let first = res.json();
    assert_eq!(first["created"], true);
    assert_eq!(first["version"], 1);
    assert_eq!(first["format"], "yaml");
    assert_eq!(first["keys"], 9);
    assert!(
        first.get("change").is_none(),
        "the first version is a baseline"
    );
    // The stored password is masked, in the response as in the database.
    assert!(!res.body.contains("hunter2"));

    let res = app
        .post(
            "/api/v1/configs",
            &post(DEPLOY_V1.into(), "2023-01-29T09:10:00Z"),
        )
        .await;
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json()["created"], false);

    let v2 = DEPLOY_V1.replace("replicas: 2", "replicas: 1");
    let res = app
        .post("/api/v1/configs", &post(v2, "2023-01-29T09:15:00Z"))
        .await;
    assert_eq!(res.status, 201, "{res:?}");
    let second = res.json();
    assert_eq!(second["version"], 2);
    assert_eq!(
        second["diff"],
        json!({
            "added": [],
            "removed": [],
            "changed": [{"path": "Deployment/shop/api:spec.replicas", "old": 2, "new": 1}],
        })
    );
    let change: ChangeEvent = serde_json::from_value(second["change"].clone()).unwrap();
    assert_eq!(change.kind, ChangeKind::Config);
    assert_eq!(change.ts_ns, 1_674_983_700_000_000_000);

    // The config change is a change event like any other.
    let res = app.get("/api/v1/changes?service=api").await;
    assert_eq!(res.json()["changes"], json!([second["change"]]));

    let versions = app
        .store
        .list_config_versions("k8s/api.yaml")
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    let url_value = versions[1]
        .flattened
        .get("Deployment/shop/api:spec.template.spec.containers[0].env[0].value")
        .unwrap()
        .as_str()
        .unwrap();
    assert!(url_value.starts_with("postgres://app:***#"), "{url_value}");

    // An explicit format wins over the source name; .env secrets are masked too.
    let res = app
        .post(
            "/api/v1/configs",
            &json!({"source": "api-env", "service": "api", "format": "env", "content": "API_KEY=abc123\nMODE=fast\n"})
                .to_string(),
        )
        .await;
    assert_eq!(res.status, 201, "{res:?}");
    assert_eq!(res.json()["format"], "env");
    assert!(!res.body.contains("abc123"));
}

async fn bad_config_bodies_name_the_field(url: String) {
    let app = spawn_app(&url).await;
    for (body, expect) in [
        (
            json!({"service": "api", "content": "a: 1"}),
            "invalid field `source`: is required",
        ),
        (
            json!({"source": "x.yaml", "content": "a: 1"}),
            "invalid field `service`: is required",
        ),
        (
            json!({"source": "x.yaml", "service": "api"}),
            "invalid field `content`: is required",
        ),
        (
            json!({"source": "x.yaml", "service": "api", "content": "a: [1,\nb: 2"}),
            "invalid field `content`: invalid yaml at line",
        ),
        (
            json!({"source": "x", "service": "api", "content": "a: 1", "format": "xml"}),
            "invalid field `format`",
        ),
        (
            json!({"source": "x", "service": "api", "content": "a: 1", "observed_at": "never"}),
            "invalid field `observed_at`",
        ),
        (
            json!({"source": "x", "service": "api", "content": "a: 1", "contents": "b"}),
            "unknown field `contents`",
        ),
    ] {
        let message = app
            .post("/api/v1/configs", &body.to_string())
            .await
            .assert_error(400, "bad_request");
        assert!(message.starts_with(expect), "{body}: {message}");
    }
    assert!(
        app.store
            .list_config_versions("x.yaml")
            .await
            .unwrap()
            .is_empty()
    );
}
