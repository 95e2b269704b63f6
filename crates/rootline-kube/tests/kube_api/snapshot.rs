//! `snapshot`: pagination, the kinds filled back into list items, bad objects, and the refusal
//! of secrets (for `watch` too).

use rootline_kube::{KubeError, KubeSettings, snapshot, snapshot_counted, watch};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{ApiServer, DEPLOYMENT_LIST, POD_LIST, fixture};
use crate::{DEPLOYMENTS, PODS, Recorder, bounded, settings};

#[tokio::test]
async fn snapshot_pages_through_continue_tokens_and_fills_kind() {
    let server = ApiServer::start().await;
    let pods = [
        fixture("pod-frontend-service.json"),
        fixture("pod-user-profile-resources-659d4dd659-cq4kq.json"),
    ];
    let deployments = [
        fixture("deployment-user-profile-resources.json"),
        fixture("deployment-crashpod.json"),
    ];
    server.page(PODS, None, POD_LIST, &pods[..1], "1240320", Some("pods-2"));
    server.page(PODS, Some("pods-2"), POD_LIST, &pods[1..], "1240320", None);
    server.page(
        DEPLOYMENTS,
        None,
        DEPLOYMENT_LIST,
        &deployments[..1],
        "1384010",
        Some("dep-2"),
    );
    server.page(
        DEPLOYMENTS,
        Some("dep-2"),
        DEPLOYMENT_LIST,
        &deployments[1..],
        "1384010",
        None,
    );
    let settings = KubeSettings {
        page_size: 1,
        ..settings(&server, &["pods", "Deployment"])
    };

    let objects = bounded("snapshot", snapshot(&settings)).await.unwrap();

    // The server sent the items without kind/apiVersion; they come back whole and unchanged.
    let expected: Vec<Value> = pods.iter().chain(&deployments).cloned().collect();
    assert_eq!(objects, expected);
    assert_eq!(objects[0]["kind"], "Pod");
    assert_eq!(objects[3]["apiVersion"], "apps/v1");
    let seen = server.seen();
    let asked: Vec<_> = seen
        .iter()
        .map(|s| {
            (
                s.path.as_str(),
                s.query.get("limit").map(String::as_str),
                s.query.get("continue").map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            (PODS, Some("1"), None),
            (PODS, Some("1"), Some("pods-2")),
            (DEPLOYMENTS, Some("1"), None),
            (DEPLOYMENTS, Some("1"), Some("dep-2")),
        ]
    );
}

#[tokio::test]
async fn a_bad_object_in_a_list_is_skipped_and_counted() {
    let server = ApiServer::start().await;
    let pod = fixture("pod-frontend-service.json");
    let bad_name = json!({"metadata": {"name": ["not", "a", "string"]}});
    let no_name = json!({"metadata": {"namespace": "default"}, "spec": {}});
    server.list(PODS, POD_LIST, &[bad_name, pod.clone(), no_name], "1240320");

    let snap = bounded("snapshot", snapshot_counted(&settings(&server, &["pods"])))
        .await
        .unwrap();

    assert_eq!(snap.objects, [pod]);
    assert_eq!(snap.skipped.len(), 2);
    let message = snap.skipped[1].to_string();
    for part in ["pods", "namespace default", PODS, "metadata.name"] {
        assert!(message.contains(part), "{message:?} names {part}");
    }
}

#[tokio::test]
async fn secrets_are_refused_before_any_request() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["secrets", "Secret"] {
        let settings = settings(&server, &["pods", name]);
        let err = snapshot(&settings).await.unwrap_err();
        assert!(matches!(err, KubeError::SecretsRefused { .. }), "{err}");
        assert!(err.to_string().contains("never reads Secrets"), "{err}");
        let mut sink = Recorder {
            out: mpsc::unbounded_channel().0,
            refuse: None,
        };
        let checkpoint = dir.path().join("kube.json");
        let err = watch(&settings, &checkpoint, &mut sink, std::future::pending())
            .await
            .unwrap_err();
        assert!(matches!(err, KubeError::SecretsRefused { .. }), "{err}");
    }
    assert!(server.seen().is_empty());
    assert!(
        !rootline_kube::default_kinds()
            .iter()
            .any(|k| k.resource == "secrets")
    );
}
