//! Config versions and change events, on both backends, on real databases (the same throwaway
//! database helpers as `store.rs`):
//!
//! - SQLite: a file in a fresh temporary directory;
//! - PostgreSQL: a throwaway database `rootline_test_<uuid>` created through the admin URL
//!   (`postgres://postgres@127.0.0.1:5432/postgres`, or `ROOTLINE_TEST_POSTGRES_URL`) and dropped
//!   at the end, also when the scenario fails.
//!
//! The manifests scenario reads real Kubernetes manifests from `../shared/datasets` and skips
//! (with a message) when they are absent.

use rootline_config::{FlatConfig, Format, is_mask, parse_config};
use rootline_core::{ChangeEvent, ChangeKind};
use std::path::PathBuf;

use serde_json::json;

#[macro_use]
mod common;

use common::{TestDb, on_postgres, on_sqlite};

on_both_backends!(
    config_versions_only_when_content_changes,
    config_changes_record_a_diff_event,
    secrets_never_reach_the_database,
    change_events_are_idempotent_and_ranged,
    corrupt_change_kind_is_an_error,
    real_manifest_fix_is_a_versioned_change,
);

// ---- fixtures ----

const T0: i64 = 1_674_981_780_000_000_000; // 2023-01-29T08:43:00Z
const MINUTE: i64 = 60_000_000_000;

fn yaml(text: &str) -> FlatConfig {
    parse_config(text, None, Some(Format::Yaml)).unwrap().config
}

const API_V1: &str = "\
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
        - name: DB_PASSWORD
          value: hunter2
";

fn change(id: &str, ts_ns: i64, service: &str, kind: ChangeKind, who: Option<&str>) -> ChangeEvent {
    ChangeEvent {
        id: id.into(),
        ts_ns,
        service: service.into(),
        kind,
        who: who.map(Into::into),
        what: format!("{service} change {id}"),
        diff: None,
    }
}

// ---- scenarios ----

async fn config_versions_only_when_content_changes(db: TestDb) {
    let store = db.connect().await;
    let v1 = yaml(API_V1);
    let saved = store
        .save_config_version("deploy/api.yaml", "api", T0, &v1)
        .await
        .unwrap()
        .expect("first version stored");
    assert_eq!(saved.version, 1);
    assert_eq!(saved.content_hash, v1.content_hash());
    // The first version is the baseline: all added, no change event.
    assert_eq!(saved.diff.added.len(), v1.len());
    assert!(saved.change.is_none());

    // The same content, even re-read later or with keys in another order, is not a version.
    assert_eq!(
        store
            .save_config_version("deploy/api.yaml", "api", T0 + MINUTE, &v1)
            .await
            .unwrap(),
        None
    );
    let reordered: FlatConfig = v1
        .iter()
        .rev()
        .map(|(k, v)| (k.to_owned(), v.clone()))
        .collect();
    assert_eq!(
        store
            .save_config_version("deploy/api.yaml", "api", T0 + 2 * MINUTE, &reordered)
            .await
            .unwrap(),
        None
    );

    let v2 = yaml(&API_V1.replace("replicas: 2", "replicas: 3"));
    let saved = store
        .save_config_version("deploy/api.yaml", "api", T0 + 3 * MINUTE, &v2)
        .await
        .unwrap()
        .expect("changed content is a new version");
    assert_eq!(saved.version, 2);

    // Versions are per source.
    let other = store
        .save_config_version("deploy/web.yaml", "web", T0, &v2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.version, 1);

    let versions = store.list_config_versions("deploy/api.yaml").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(versions[0].flattened, v1);
    assert_eq!(versions[1].flattened, v2);
    assert_eq!(versions[0].observed_at_ns, T0);
    assert_eq!(versions[1].observed_at_ns, T0 + 3 * MINUTE);
    assert_eq!(versions[1].service, "api");
    assert!(versions[0].ingested_at_ns <= versions[1].ingested_at_ns);
    assert!(store.list_config_versions("nope").await.unwrap().is_empty());
    assert_eq!(db.raw_i64("SELECT COUNT(*) FROM config_versions").await, 3);
    store.close().await;
}

async fn config_changes_record_a_diff_event(db: TestDb) {
    let store = db.connect().await;
    store
        .save_config_version("deploy/api.yaml", "api", T0, &yaml(API_V1))
        .await
        .unwrap();
    let v2 = API_V1
        .replace("shop/api:1.4.0", "shop/api:1.5.0")
        .replace("hunter2", "hunter3");
    let saved = store
        .save_config_version("deploy/api.yaml", "api", T0 + 5 * MINUTE, &yaml(&v2))
        .await
        .unwrap()
        .unwrap();
    let event = saved
        .change
        .clone()
        .expect("second version records a change");
    assert_eq!(event.kind, ChangeKind::Config);
    assert_eq!(event.service, "api");
    assert_eq!(event.ts_ns, T0 + 5 * MINUTE);
    assert!(
        event
            .what
            .starts_with("config deploy/api.yaml v2: 2 changed"),
        "{}",
        event.what
    );

    let c = "Deployment/shop/api:spec.template.spec.containers[0]";
    let changed: Vec<&str> = saved.diff.changed.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(changed, [format!("{c}.image"), format!("{c}.env[0].value")]);
    // A changed secret is visible as a changed fingerprint, never as its value.
    let secret = &saved.diff.changed[1];
    assert!(is_mask(secret.old.as_str().unwrap()) && is_mask(secret.new.as_str().unwrap()));
    assert_ne!(secret.old, secret.new);

    let listed = store
        .list_change_events(T0, T0 + 10 * MINUTE, Some("api"))
        .await
        .unwrap();
    assert_eq!(listed, vec![event.clone()]);
    let diff = listed[0].diff.as_ref().unwrap();
    assert_eq!(diff["source"], "deploy/api.yaml");
    assert_eq!(diff["version"], 2);
    assert_eq!(diff["changed"][0]["old"], "shop/api:1.4.0");
    assert_eq!(diff["changed"][0]["new"], "shop/api:1.5.0");
    store.close().await;
}

async fn secrets_never_reach_the_database(db: TestDb) {
    let store = db.connect().await;
    let env =
        "DATABASE_URL=postgres://app:s3cr3t-pw@db:5432/shop\nSTRIPE_KEY=sk_live_abc\nLOG=info\n";
    let v1 = parse_config(env, Some("prod.env"), None).unwrap().config;
    store
        .save_config_version("prod.env", "shop", T0, &v1)
        .await
        .unwrap();
    let v2 = parse_config(
        &env.replace("sk_live_abc", "sk_live_xyz"),
        Some("prod.env"),
        None,
    )
    .unwrap()
    .config;
    let saved = store
        .save_config_version("prod.env", "shop", T0 + MINUTE, &v2)
        .await
        .unwrap()
        .expect("a rotated key is a change");
    assert_eq!(saved.diff.changed.len(), 1);
    assert_eq!(saved.diff.changed[0].path, "STRIPE_KEY");
    for sql in [
        "SELECT COUNT(*) FROM config_versions WHERE flattened LIKE '%s3cr3t%' \
         OR flattened LIKE '%sk_live%'",
        "SELECT COUNT(*) FROM change_events WHERE diff LIKE '%sk_live%' OR what LIKE '%sk_live%'",
    ] {
        assert_eq!(db.raw_i64(sql).await, 0, "{sql}");
    }
    assert_eq!(
        db.raw_i64("SELECT COUNT(*) FROM config_versions WHERE flattened LIKE '%postgres://app:***#%@db:5432/shop%'")
            .await,
        2
    );
    store.close().await;
}

async fn change_events_are_idempotent_and_ranged(db: TestDb) {
    let store = db.connect().await;
    let mut deploy = change(
        "chg-1",
        T0 - 10 * MINUTE,
        "api",
        ChangeKind::Deploy,
        Some("alice"),
    );
    deploy.diff = Some(json!({"from": "1.4.0", "to": "1.5.0"}));
    let flag = change("chg-2", T0 - MINUTE, "web", ChangeKind::FeatureFlag, None);
    let rollback = change(
        "chg-3",
        T0 + 5 * MINUTE,
        "api",
        ChangeKind::Rollback,
        Some("bob"),
    );
    for e in [&rollback, &deploy, &flag] {
        assert!(store.save_change_event(e).await.unwrap());
    }
    // Same id again: nothing changes, even if the body differs.
    let mut again = deploy.clone();
    again.what = "something else".into();
    assert!(!store.save_change_event(&again).await.unwrap());
    assert_eq!(db.raw_i64("SELECT COUNT(*) FROM change_events").await, 3);

    let all = store
        .list_change_events(i64::MIN, i64::MAX, None)
        .await
        .unwrap();
    assert_eq!(all, vec![deploy.clone(), flag.clone(), rollback.clone()]);
    // [from, to): the start is included, the end is not.
    let window = store
        .list_change_events(T0 - 10 * MINUTE, T0 + 5 * MINUTE, None)
        .await
        .unwrap();
    assert_eq!(window, vec![deploy.clone(), flag.clone()]);
    let api = store
        .list_change_events(i64::MIN, i64::MAX, Some("api"))
        .await
        .unwrap();
    assert_eq!(api, vec![deploy, rollback]);
    assert!(
        store
            .list_change_events(T0, T0 + MINUTE, None)
            .await
            .unwrap()
            .is_empty()
    );
    let err = store
        .save_change_event(&change("", T0, "api", ChangeKind::Other, None))
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("invalid id"), "{err}");
    store.close().await;
}

async fn corrupt_change_kind_is_an_error(db: TestDb) {
    let store = db.connect().await;
    db.raw_execute(
        "INSERT INTO change_events (id, ts, service, kind, who, what, diff) VALUES \
         ('chg-bad', '2023-01-29T08:43:00.000000000Z', 'api', 'explosion', NULL, 'x', NULL)",
    )
    .await;
    let err = store
        .list_change_events(i64::MIN, i64::MAX, None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("corrupt row in change_events with id \"chg-bad\": unknown kind"),
        "{text}"
    );
    store.close().await;
}

async fn real_manifest_fix_is_a_versioned_change(db: TestDb) {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/k8s_fault_configs/faults/f11"
    ));
    if !dir.is_dir() {
        eprintln!("skipping: dataset not found at {}", dir.display());
        return;
    }
    let store = db.connect().await;
    let read = |sub: &str| {
        let path = dir.join(sub).join("f11.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        parse_config(&text, path.to_str(), None).unwrap().config
    };
    // The faulty manifest, then the fix applied to the same file.
    store
        .save_config_version("k8s/f11.yaml", "nginx-f11", T0, &read("inject"))
        .await
        .unwrap();
    let saved = store
        .save_config_version("k8s/f11.yaml", "nginx-f11", T0 + MINUTE, &read("restore"))
        .await
        .unwrap()
        .unwrap();
    let events = store
        .list_change_events(T0, T0 + 2 * MINUTE, Some("nginx-f11"))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(Some(&events[0]), saved.change.as_ref());
    assert_eq!(
        events[0].what,
        "config k8s/f11.yaml v2: 1 changed: Deployment/ba-test/nginx-f11:spec.template.spec.containers[0].resources.limits.cpu 900m → 700m"
    );
    store.close().await;
}
