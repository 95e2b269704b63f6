//! Captures as kubectl prints them. The describe, events and table samples are cut from
//! HolmesGPT's recorded test fixtures (Apache-2.0, robusta-dev/holmesgpt, `tests/llm/fixtures`),
//! the format every reader here must take.

use super::*;

const AT: i64 = 1_754_973_838_000_000_000; // 2025-08-12T04:43:58Z

fn opts() -> CaptureOptions {
    CaptureOptions {
        captured_at_ns: AT,
        ..CaptureOptions::default()
    }
}

const DESCRIBE_POD: &str = "Name:             giant-narwhal-6958c5bdd8-69gtn
Namespace:        app-02
Priority:         0
Node:             robusta-demo-prod-double-node-worker/172.18.0.4
Start Time:       Tue, 12 Aug 2025 05:45:20 +0200
Labels:           app=ocean-explorer
                  pod-template-hash=6958c5bdd8
Annotations:      <none>
Status:           Running
Controlled By:    ReplicaSet/giant-narwhal-6958c5bdd8
Containers:
  main:
    Image:         busybox:1.35
    Command:
      sh
      -c
      tail /dev/zero
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
      Started:      Tue, 12 Aug 2025 06:42:07 +0200
      Finished:     Tue, 12 Aug 2025 06:42:07 +0200
    Ready:          False
    Restart Count:  16
    Limits:
      memory:  50Mi
    Requests:
      memory:     50Mi
    Liveness:     http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
    Environment:  <none>
Conditions:
  Type                        Status
  Initialized                 True
  Ready                       False
Events:
  Type     Reason     Age                    From               Message
  ----     ------     ----                   ----               -------
  Normal   Scheduled  58m                    default-scheduler  Successfully assigned app-02/giant-narwhal-6958c5bdd8-69gtn to worker
  Warning  BackOff    3m30s (x256 over 58m)  kubelet            Back-off restarting failed container main in pod giant-narwhal-6958c5bdd8-69gtn_app-02
";

#[test]
fn describe_of_a_pod_becomes_its_status_and_its_events() {
    let c = read_capture(DESCRIBE_POD, "describe.txt", &opts());
    assert_eq!(c.format, Some(CaptureFormat::Describe));
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);
    assert_eq!(c.items.len(), 3, "{:#?}", c.items);
    let pod = &c.items[0].object;
    assert_eq!(pod["kind"], "Pod");
    assert_eq!(pod["metadata"]["namespace"], "app-02");
    assert_eq!(pod["metadata"]["labels"]["pod-template-hash"], "6958c5bdd8");
    assert_eq!(
        pod["metadata"]["ownerReferences"][0]["name"],
        "giant-narwhal-6958c5bdd8"
    );
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 16);
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(cs["lastState"]["terminated"]["reason"], "OOMKilled");
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 137);
    assert_eq!(
        cs["lastState"]["terminated"]["finishedAt"],
        "2025-08-12T04:42:07+00:00"
    );
    let spec = &pod["spec"]["containers"][0];
    assert_eq!(spec["resources"]["limits"]["memory"], "50Mi");
    assert_eq!(spec["livenessProbe"]["httpGet"]["port"], 8080);
    assert_eq!(spec["command"], json!(["sh", "-c", "tail /dev/zero"]));
    assert_eq!(
        pod["spec"]["nodeName"],
        "robusta-demo-prod-double-node-worker"
    );
    let backoff = &c.items[2].object;
    assert_eq!(backoff["kind"], "Event");
    assert_eq!(backoff["reason"], "BackOff");
    assert_eq!(backoff["count"], 256);
    assert_eq!(
        backoff["involvedObject"]["name"],
        "giant-narwhal-6958c5bdd8-69gtn"
    );
    // 3m30s before the capture; first seen 58m before it.
    assert_eq!(backoff["lastTimestamp"], "2025-08-12T04:40:28.000Z");
    assert_eq!(backoff["firstTimestamp"], "2025-08-12T03:45:58.000Z");
    assert!(c.items[2].approximate);
}

#[test]
fn event_tables_and_pod_tables_read_by_column() {
    let events = "LAST SEEN               TYPE      REASON      OBJECT                               MESSAGE
58m                     Normal    Scheduled   Pod/giant-narwhal-6958c5bdd8-69gtn   Successfully assigned app-02/giant-narwhal
3m30s (x256 over 58m)   Warning   BackOff     Pod/giant-narwhal-6958c5bdd8-69gtn   Back-off restarting failed container main
";
    let c = read_capture(
        events,
        "events.txt",
        &CaptureOptions {
            namespace: Some("app-02".into()),
            ..opts()
        },
    );
    assert_eq!(c.format, Some(CaptureFormat::EventsTable));
    assert_eq!(c.items.len(), 2);
    let e = &c.items[1].object;
    assert_eq!(e["type"], "Warning");
    assert_eq!(e["count"], 256);
    assert_eq!(e["involvedObject"]["kind"], "Pod");
    assert_eq!(e["involvedObject"]["namespace"], "app-02");
    assert_eq!(e["message"], "Back-off restarting failed container main");

    let pods = "NAME                                         READY   STATUS             RESTARTS           AGE     NODE     LABELS
get-data-mldtn                               0/1     Error              0                  8m35s   node-a   job-name=get-data
payment-processing-worker-747ccfb9db-tz92f   0/1     CrashLoopBackOff   3694 (4m40s ago)   13d     node-b   app=payment-processing-worker
loki-0                                       1/1     Running            0                  119d    node-a   app=loki
";
    let c = read_capture(pods, "pods.txt", &opts());
    assert_eq!(c.format, Some(CaptureFormat::Table));
    assert_eq!(c.items.len(), 3, "{:?}", c.rejected);
    let p = &c.items[1].object;
    assert_eq!(p["kind"], "Pod");
    assert_eq!(p["status"]["containerStatuses"][0]["restartCount"], 3694);
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    assert_eq!(p["metadata"]["labels"]["app"], "payment-processing-worker");
    assert_eq!(c.items[0].object["status"]["phase"], "Failed");
    assert_eq!(
        c.items[2].object["status"]["containerStatuses"][0]["ready"],
        true
    );
}

#[test]
fn yaml_lists_and_documents_become_objects_and_bad_yaml_is_located() {
    let yaml = "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: backend-service
    namespace: namespace-76
  spec:
    selector:
      app: backend   # a comment the parser drops
      version: v2
";
    let c = read_capture(yaml, "svc.yaml", &opts());
    assert_eq!(c.items.len(), 1);
    assert_eq!(c.items[0].object["spec"]["selector"]["version"], "v2");
    let json = r#"{"kind":"PodList","items":[{"metadata":{"name":"a"}}]}"#;
    let c = read_capture(json, "pods.json", &opts());
    assert_eq!(
        c.items[0].object["kind"], "Pod",
        "list items take the list's kind"
    );
    let bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n";
    let c = read_capture(bad, "bad.yaml", &opts());
    assert!(c.items.is_empty());
    assert_eq!(c.rejected.len(), 1);
    assert_eq!(c.rejected[0].file, "bad.yaml");
    assert!(c.rejected[0].line >= 4, "{:?}", c.rejected);
}

#[test]
fn untimed_container_logs_keep_their_order_before_the_capture_time() {
    let logs = "Starting payment worker\nException in thread \"main\" java.lang.RuntimeException: boom\n    at com.x.Main.run(Main.java:10)\nretrying\n";
    let pod = ObjectRef::new(
        "Pod",
        Some("default"),
        "payment-processing-worker-747ccfb9db-pd6wz",
    );
    let c = read_capture(
        logs,
        "logs.txt",
        &CaptureOptions {
            pod: Some(pod),
            ..opts()
        },
    );
    assert_eq!(c.format, Some(CaptureFormat::Logs));
    assert_eq!(
        c.logs.len(),
        3,
        "the stack frame joins its exception: {:#?}",
        c.logs
    );
    assert_eq!(c.approximate_lines, 4);
    assert!(c.logs.windows(2).all(|w| w[0].ts_ns < w[1].ts_ns));
    assert!(c.logs.iter().all(|r| r.approximate_time));
    assert!(c.logs.iter().all(|r| r.ts_ns < AT));
    assert_eq!(c.logs[1].service, "payment-processing-worker");
    assert_eq!(
        c.logs[1].host.as_deref(),
        Some("payment-processing-worker-747ccfb9db-pd6wz")
    );
    assert_eq!(c.logs[1].level, Level::Error);
    assert!(c.logs[1].message.contains("Main.java:10"));
}

#[test]
fn ages_are_kubectl_durations() {
    assert_eq!(
        parse_age("3d2h"),
        Some((3 * 86_400 + 7_200) * 1_000_000_000)
    );
    assert_eq!(parse_age("3m30s"), Some(210 * 1_000_000_000));
    assert_eq!(parse_age("<unknown>"), None);
    assert_eq!(parse_age("5"), None);
    assert_eq!(
        parse_event_age("16m (x70 over 5h43m)").map(|a| a.1),
        Some(70)
    );
}

#[test]
fn a_server_error_is_no_object_and_no_rejection() {
    let c = read_capture(
        "Error from server (NotFound): pods \"x\" not found\n",
        "err.txt",
        &opts(),
    );
    assert_eq!(c.format, Some(CaptureFormat::Error));
    assert!(c.items.is_empty() && c.rejected.is_empty() && c.logs.is_empty());
}

#[test]
fn events_exported_as_json_lines_are_objects_and_a_bad_line_is_located() {
    let lines = r#"{"involvedObject":{"kind":"Pod","name":"cart-1","namespace":"shop"},"reason":"Unhealthy","type":"Warning","message":"Readiness probe failed","metadata":{"name":"e1"}}
not json
{"involvedObject":{"kind":"Pod","name":"cart-1","namespace":"shop"},"reason":"Killing","type":"Normal","message":"Stopping container","metadata":{"name":"e2"}}
"#;
    assert!(is_capture(lines));
    let c = read_capture(lines, "events.jsonl", &opts());
    assert_eq!(c.items.len(), 2);
    assert_eq!(c.items[0].object["kind"], "Event");
    assert_eq!(c.rejected.len(), 1);
    assert_eq!(c.rejected[0].line, 2);
    // Application logs in JSON, CSV or text are not captures.
    assert!(!is_capture(
        r#"{"time":"2024-01-01T00:00:00Z","level":"info","msg":"ok","reason":"x"}"#
    ));
    assert!(!is_capture("2024-01-01T00:00:00Z INFO started\n"));
    assert!(is_capture(
        "{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n    {\"kind\": \"Ev"
    ));
    assert!(is_capture(
        "LAST SEEN   TYPE      REASON    OBJECT    MESSAGE\n2m   Warning   BackOff   pod/x   y\n"
    ));
}

#[test]
fn a_newer_describe_and_an_unknown_kind_still_give_identity_labels_and_events() {
    // Fields this reader does not know (a newer kubectl) are skipped; the kind is named by the
    // command when known, else kept as written.
    let text = "Name:         orders
Namespace:    shop
Labels:       app=orders
FutureField:  something new
Shiny Section:
  Nested:     value
Events:
  Type     Reason   Age   From        Message
  ----     ------   ----  ----        -------
  Warning  Failed   2m    controller  reconcile failed: quota exceeded
";
    let c = read_capture(
        text,
        "widget.txt",
        &CaptureOptions {
            kind: Some("widgets.example.com".into()),
            ..opts()
        },
    );
    assert!(c.rejected.is_empty(), "{:?}", c.rejected);
    assert_eq!(c.items.len(), 2);
    assert_eq!(c.items[0].object["kind"], "Widgets");
    assert_eq!(c.items[0].object["metadata"]["labels"]["app"], "orders");
    assert_eq!(c.items[1].object["involvedObject"]["kind"], "Widgets");
    assert_eq!(c.items[1].object["reason"], "Failed");
}
