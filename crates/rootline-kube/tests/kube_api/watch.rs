//! `watch`: resume from the checkpoint across a restart (nothing lost, nothing twice), a sink
//! that refuses an object, and 410 Gone leading to a re-list.

use std::collections::HashMap;

use rootline_kube::{EventType, Observed};
use serde_json::{Value, json};

use crate::support::{
    ApiServer, DEPLOYMENT_LIST, EVENT_LIST, POD_LIST, at, bookmark, event, fixture,
};
use crate::{
    DEPLOYMENTS, EVENTS, PODS, Run, Seen, bounded, checkpoint_versions, objects, settings,
    startup_events, tag,
};

#[tokio::test]
async fn a_restarted_watch_resumes_from_the_checkpoint_without_loss_or_duplication() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("kube-watch.json");
    let settings = settings(&server, &["events", "pods"]);
    let pod = fixture("pod-frontend-service.json");
    let pending = at(
        fixture("pod-user-profile-resources-659d4dd659-cq4kq.json"),
        "1240311",
    );
    let deleted = at(pending.clone(), "1240312");
    let ev = startup_events();

    // Run 1: list both, then each watch streams a little and closes.
    server.list(EVENTS, EVENT_LIST, &[], "1240289");
    server.list(PODS, POD_LIST, std::slice::from_ref(&pod), "1240310");
    server.watch(
        EVENTS,
        "1240289",
        vec![event("ADDED", &ev[0]), event("ADDED", &ev[1])],
    );
    server.watch(PODS, "1240310", vec![event("ADDED", &pending)]);
    let mut run = Run::start(&settings, &checkpoint, None);
    let mut seen = objects(run.take(4).await);
    // The watcher watches again from where each stream ended; stop it while it waits there.
    bounded("events re-watch", server.wait_for_watch(EVENTS, "1240291")).await;
    bounded("pods re-watch", server.wait_for_watch(PODS, "1240311")).await;
    let first = run.stop().await.unwrap();
    assert_eq!((first.delivered, first.relists, first.skipped), (4, 0, 0));
    assert_eq!(
        checkpoint_versions(&checkpoint),
        json!({"events/default": "1240291", "pods/default": "1240311"})
    );

    // Run 2: the same checkpoint; the server only answers watches from the saved versions.
    let watched_before = (
        server.watch_versions(EVENTS).len(),
        server.watch_versions(PODS).len(),
    );
    server.watch(
        EVENTS,
        "1240291",
        vec![
            event("ADDED", &ev[2]),
            event("ADDED", &ev[3]),
            event("ADDED", &ev[4]),
            bookmark("Event", "v1", "1240305"),
        ],
    );
    server.watch(PODS, "1240311", vec![event("DELETED", &deleted)]);
    let mut run = Run::start(&settings, &checkpoint, None);
    seen.extend(objects(run.take(4).await));
    bounded(
        "events re-watch after the bookmark",
        server.wait_for_watch(EVENTS, "1240305"),
    )
    .await;
    bounded("pods re-watch", server.wait_for_watch(PODS, "1240312")).await;
    let second = run.stop().await.unwrap();
    assert_eq!((second.delivered, second.bookmarks), (4, 1));

    // No second LIST, and every WATCH started where the previous one (or the checkpoint) ended.
    assert_eq!((server.lists_of(EVENTS), server.lists_of(PODS)), (1, 1));
    assert_eq!(server.watch_versions(EVENTS)[watched_before.0], "1240291");
    assert_eq!(server.watch_versions(PODS)[watched_before.1], "1240311");
    assert_eq!(
        server.watch_versions(EVENTS),
        ["1240289", "1240291", "1240291", "1240305"]
    );
    assert_eq!(
        server.watch_versions(PODS),
        ["1240310", "1240311", "1240311", "1240312"]
    );
    assert!(
        server
            .seen()
            .iter()
            .filter(|s| s.is_watch())
            .all(|s| { s.query.get("allowWatchBookmarks").map(String::as_str) == Some("true") })
    );
    assert_eq!(
        checkpoint_versions(&checkpoint),
        json!({"events/default": "1240305", "pods/default": "1240312"})
    );

    // Across both runs: every object and event exactly once.
    let mut counts: HashMap<_, usize> = HashMap::new();
    for o in &seen {
        *counts.entry(tag(o)).or_default() += 1;
    }
    let t = |r: &str, e, n: &str, v: &str| (r.to_string(), e, n.to_string(), v.to_string());
    let mut expected = vec![
        t("pods", EventType::Listed, "frontend-service", "1240309"),
        t(
            "pods",
            EventType::Added,
            "user-profile-resources-659d4dd659-cq4kq",
            "1240311",
        ),
        t(
            "pods",
            EventType::Deleted,
            "user-profile-resources-659d4dd659-cq4kq",
            "1240312",
        ),
    ];
    for e in &ev {
        let name = e["metadata"]["name"].as_str().unwrap();
        let version = e["metadata"]["resourceVersion"].as_str().unwrap();
        expected.push(t("events", EventType::Added, name, version));
    }
    assert_eq!(seen.len(), expected.len());
    for key in &expected {
        assert_eq!(counts.get(key), Some(&1), "{key:?} seen once");
    }
    assert_eq!(
        seen.iter()
            .find(|o| o.event == EventType::Listed)
            .unwrap()
            .object,
        pod
    );
}

#[tokio::test]
async fn a_sink_error_stops_the_watch_before_the_checkpoint_moves() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("kube-watch.json");
    let settings = settings(&server, &["events"]);
    let ev = startup_events();
    server.list(EVENTS, EVENT_LIST, &[], "1240289");
    let three: Vec<Value> = ev[..3].iter().map(|e| event("ADDED", e)).collect();
    server.watch(EVENTS, "1240289", three.clone());

    let mut run = Run::start(&settings, &checkpoint, Some("frontend-service.pulling"));
    let mut seen = objects(run.take(1).await);
    let err = bounded("the refusal", run.task).await.unwrap().unwrap_err();
    let message = err.to_string();
    for part in [
        "events",
        "namespace default",
        "1240291",
        "the store is full",
    ] {
        assert!(message.contains(part), "{message:?} names {part}");
    }
    assert_eq!(
        checkpoint_versions(&checkpoint),
        json!({"events/default": "1240290"})
    );

    server.watch(EVENTS, "1240290", three[1..].to_vec());
    let mut run = Run::start(&settings, &checkpoint, None);
    seen.extend(objects(run.take(2).await));
    bounded("re-watch", server.wait_for_watch(EVENTS, "1240292")).await;
    run.stop().await.unwrap();
    let names: Vec<_> = seen.iter().map(|o| tag(o).2).collect();
    assert_eq!(
        names,
        [
            "frontend-service.scheduled",
            "frontend-service.pulling",
            "frontend-service.pulled"
        ]
    );
    assert_eq!(server.lists_of(EVENTS), 1);
}

#[tokio::test]
async fn gone_on_resume_relists_and_tells_the_sink() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("kube-watch.json");
    let settings = settings(&server, &["pods", "deployments"]);
    let pod = fixture("pod-frontend-service.json");
    let deployments = [
        fixture("deployment-user-profile-resources.json"),
        fixture("deployment-crashpod.json"),
    ];

    // Run 1 leaves a checkpoint at each list's version.
    server.list(PODS, POD_LIST, std::slice::from_ref(&pod), "1240100");
    server.list(DEPLOYMENTS, DEPLOYMENT_LIST, &deployments[..1], "1384000");
    let mut run = Run::start(&settings, &checkpoint, None);
    run.take(2).await;
    bounded("pods watch", server.wait_for_watch(PODS, "1240100")).await;
    bounded(
        "deployments watch",
        server.wait_for_watch(DEPLOYMENTS, "1384000"),
    )
    .await;
    run.stop().await.unwrap();

    // By run 2 both versions are too old: the pods watch says so in the stream (an ERROR
    // event, as the API server does), the deployments watch with HTTP 410.
    let expired = fixture("status-410-expired.json");
    server.watch(PODS, "1240100", vec![event("ERROR", &expired)]);
    let mut deployments_expired = expired.clone();
    deployments_expired["message"] = json!("too old resource version: 1384000 (1384010)");
    server.watch_gone(DEPLOYMENTS, "1384000", deployments_expired);
    server.list(PODS, POD_LIST, std::slice::from_ref(&pod), "1240320");
    server.list(DEPLOYMENTS, DEPLOYMENT_LIST, &deployments, "1384010");
    let mut run = Run::start(&settings, &checkpoint, None);
    let seen = run.take(5).await;
    bounded(
        "pods watch after the re-list",
        server.wait_for_watch(PODS, "1240320"),
    )
    .await;
    bounded(
        "deployments watch",
        server.wait_for_watch(DEPLOYMENTS, "1384010"),
    )
    .await;
    let summary = run.stop().await.unwrap();

    assert_eq!((summary.relists, summary.delivered), (2, 3));
    let mut relists = Vec::new();
    let mut listed = Vec::new();
    for s in seen {
        match s {
            Seen::Relist(r) => {
                // The marker comes before the collection's fresh objects.
                assert!(!listed.iter().any(|o: &Observed| o.resource == r.resource));
                relists.push((r.resource, r.expired_version, r.message));
            }
            Seen::Object(o) => listed.push(o),
        }
    }
    relists.sort();
    assert_eq!(
        relists,
        [
            (
                "deployments".into(),
                "1384000".into(),
                "too old resource version: 1384000 (1384010)".into()
            ),
            (
                "pods".into(),
                "1240100".into(),
                "too old resource version: 1240100 (1240320)".into()
            ),
        ]
    );
    assert!(listed.iter().all(|o| o.event == EventType::Listed));
    assert_eq!(
        (server.lists_of(PODS), server.lists_of(DEPLOYMENTS)),
        (2, 2)
    );
    assert_eq!(
        checkpoint_versions(&checkpoint),
        json!({"deployments/default": "1384010", "pods/default": "1240320"})
    );
}
