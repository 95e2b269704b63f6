//! `rootline ingest --kind k8s` end to end: kubectl captures into a temporary data dir (index,
//! cluster state, SQLite store), then an investigation over it. The describe and events samples
//! are cut from HolmesGPT's recorded fixtures (Apache-2.0, robusta-dev/holmesgpt).

use std::path::Path;
use std::process::{Command, Output};

fn rootline(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(args)
        .env("ROOTLINE_DATA_DIR", data_dir)
        .env_remove("ROOTLINE_DATABASE_URL")
        .env_remove("ROOTLINE_CONFIG")
        .current_dir(data_dir)
        .output()
        .expect("run rootline")
}

const DESCRIBE: &str = "Name:             giant-narwhal-6958c5bdd8-69gtn
Namespace:        app-02
Node:             worker/172.18.0.4
Labels:           app=ocean-explorer
                  pod-template-hash=6958c5bdd8
Status:           Running
Controlled By:    ReplicaSet/giant-narwhal-6958c5bdd8
Containers:
  main:
    Image:         busybox:1.35
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
    Ready:          False
    Restart Count:  16
    Limits:
      memory:  50Mi
Events:
  Type     Reason     Age                    From     Message
  ----     ------     ----                   ----     -------
  Warning  BackOff    3m30s (x256 over 58m)  kubelet  Back-off restarting failed container main in pod giant-narwhal-6958c5bdd8-69gtn_app-02
";

const OTHER_PODS: &str = "NAME                          READY   STATUS             RESTARTS   AGE
loki-0                        1/1     Running            0          119d
";

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: giant-narwhal
  namespace: app-02
  resourceVersion: \"{}\"
spec:
  replicas: 1
  template:
    metadata:
      labels:
        app: ocean-explorer
    spec:
      containers:
      - name: main
        image: {image}
        resources:
          limits:
            memory: 50Mi
status:
  unavailableReplicas: 1
",
        image.len()
    )
}

#[test]
fn kubectl_captures_rank_the_oom_killed_workload_and_specs_become_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("describe.txt"), DESCRIBE).unwrap();
    std::fs::write(d.join("pods.txt"), OTHER_PODS).unwrap();
    std::fs::write(d.join("deploy.yaml"), deployment("busybox:1.34")).unwrap();
    std::fs::write(d.join("broken.yaml"), "kind: Pod\nmetadata: [unclosed\n").unwrap();
    let out = rootline(
        d,
        &[
            "ingest",
            "--kind",
            "k8s",
            "--json",
            "--captured-at",
            "2025-08-12T04:43:58Z",
            "deploy.yaml",
            "describe.txt",
            "pods.txt",
            "broken.yaml",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The broken file is named with its line; everything else went in.
    assert!(!out.status.success());
    assert!(stderr.contains("broken.yaml:2"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["objects"], 4, "{summary}"); // deployment, pod, its event, loki-0
    assert_eq!(summary["rejected"], 1);
    assert_eq!(
        summary["config_versions"], 1,
        "the Deployment's spec is versioned"
    );
    assert!(d.join("k8s/state.jsonl").exists());

    // A new image an hour later: a config change and a deploy.
    std::fs::write(d.join("deploy.yaml"), deployment("busybox:1.35")).unwrap();
    let out = rootline(
        d,
        &[
            "ingest",
            "--kind",
            "k8s",
            "--json",
            "--captured-at",
            "2025-08-12T04:44:30Z",
            "deploy.yaml",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["changes"], 2, "config change and deploy: {summary}");
    let changes = rootline(d, &["change", "list", "--json"]);
    let text = String::from_utf8_lossy(&changes.stdout);
    assert!(text.contains("rolled out a new image"), "{text}");
    assert!(text.contains("busybox:1.35"), "{text}");

    let out = rootline(
        d,
        &[
            "investigate",
            "--title",
            "What is wrong with giant-narwhal?",
            "--service",
            "Deployment/giant-narwhal",
            "--start",
            "2025-08-12T04:00:00Z",
            "--end",
            "2025-08-12T04:45:00Z",
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = &report["candidates"][0];
    assert_eq!(top["entity"], "Deployment/giant-narwhal", "{report:#}");
    assert_eq!(top["fault_type"], "memory");
    assert_eq!(top["instances"][0], "giant-narwhal-6958c5bdd8-69gtn");
    let evidence = report["evidence"].to_string();
    assert!(evidence.contains("OOMKilled"), "{evidence}");
    assert!(evidence.contains("50Mi"), "{evidence}");
}

/// A Kubernetes API server on 127.0.0.1 answering the pods and events collections of the
/// `default` namespace: LIST with recorded objects (rootline-kube's fixtures, from HolmesGPT's
/// recordings), WATCH held open without events (a quiet cluster).
async fn fake_api() -> String {
    use axum::body::{Body, Bytes};
    use axum::extract::RawQuery;
    use axum::http::Uri;
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rootline-kube/tests/fixtures");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(fixtures.join(name)).unwrap()).unwrap()
    };
    let pod = read("pod-user-profile-resources-659d4dd659-cq4kq.json");
    let events = read("events-frontend-service.json");
    let app = axum::Router::new().fallback(move |uri: Uri, RawQuery(q): RawQuery| {
        let (pod, events) = (pod.clone(), events.clone());
        async move {
            let q = q.unwrap_or_default();
            if q.contains("watch=true") || q.contains("watch=1") {
                let quiet = futures::stream::pending::<Result<Bytes, std::convert::Infallible>>();
                return axum::response::Response::new(Body::from_stream(quiet));
            }
            let (kind, items) = match uri.path() {
                "/api/v1/namespaces/default/pods" => ("PodList", serde_json::json!([pod])),
                "/api/v1/namespaces/default/events" => ("EventList", events),
                _ => {
                    return axum::response::Response::builder()
                        .status(404)
                        .body(Body::from("{}"))
                        .unwrap();
                }
            };
            let list = serde_json::json!({"apiVersion": "v1", "kind": kind,
                "metadata": {"resourceVersion": "1384000"}, "items": items});
            axum::response::Response::builder()
                .header("content-type", "application/json")
                .body(Body::from(list.to_string()))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn kube_config(dir: &Path, url: &str) {
    std::fs::write(
        dir.join("rootline.toml"),
        format!(
            "[kube]\nserver = \"{url}\"\ninsecure_http = true\nnamespaces = [\"default\"]\nresources = [\"pods\", \"events\"]\n"
        ),
    )
    .unwrap();
}

fn top_of(report: &serde_json::Value) -> (String, String) {
    let top = &report["candidates"][0];
    (
        top["entity"].as_str().unwrap_or("").to_string(),
        top["fault_type"].as_str().unwrap_or("").to_string(),
    )
}

/// `serve --kube` lists and watches the cluster into the data dir, and an investigation over
/// it names the workload whose pod cannot be scheduled; `k8s snapshot` writes a bundle that
/// investigates to the same answer.
#[tokio::test(flavor = "multi_thread")]
async fn serve_kube_watches_the_cluster_and_snapshot_writes_a_bundle() {
    let url = fake_api().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    kube_config(d, &url);
    let mut serve = std::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["serve", "--kube", "--listen", "127.0.0.1:0"])
        .env("ROOTLINE_DATA_DIR", d)
        .env_remove("ROOTLINE_DATABASE_URL")
        .current_dir(d)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = d.join("k8s/state.jsonl");
    let mut seen = String::new();
    for _ in 0..300 {
        seen = std::fs::read_to_string(&state).unwrap_or_default();
        // The checkpoint moves only after the sink accepted an object, so it lags the state file.
        if seen.contains("user-profile-resources-659d4dd659-cq4kq")
            && seen.lines().count() >= 2
            && d.join("k8s/watch-checkpoint.json").exists()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert!(
        seen.contains("user-profile-resources-659d4dd659-cq4kq"),
        "state: {seen}"
    );
    assert!(d.join("k8s/watch-checkpoint.json").exists());
    let now = chrono::Utc::now();
    let out = rootline(
        d,
        &[
            "investigate",
            "--title",
            "KubePodNotReady",
            "--service",
            "Pod/user-profile-resources-659d4dd659-cq4kq",
            "--start",
            &(now - chrono::Duration::hours(1)).to_rfc3339(),
            "--end",
            &now.to_rfc3339(),
            "--format",
            "json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        top_of(&report),
        (
            "Deployment/user-profile-resources".to_string(),
            "scheduling".to_string()
        ),
        "{report:#}"
    );

    let bundle = d.join("snap");
    let out = rootline(d, &["k8s", "snapshot", "--out", bundle.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(bundle.join("k8s")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let out = rootline(
        d,
        &["investigate", bundle.to_str().unwrap(), "--format", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        top_of(&report).0,
        "Deployment/user-profile-resources",
        "{report:#}"
    );
}
