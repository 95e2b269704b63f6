//! Cluster-state rules on objects as the readers produce them.

use super::*;
use rootline_core::Provenance;
use serde_json::json;

fn item(object: Value) -> StateItem {
    StateItem {
        object,
        observed_ns: 1_000,
        approximate: false,
        provenance: Provenance {
            source: "test".into(),
            line: 1,
        },
    }
}

fn top(f: &ClusterFindings) -> (&str, FaultType) {
    let best = f
        .findings
        .iter()
        .max_by(|a, b| a.contribution.total_cmp(&b.contribution))
        .expect("a finding");
    (best.evidence.entity.as_str(), best.fault)
}

fn pod(name: &str, owner: Option<&str>, status: Value) -> Value {
    let mut meta = json!({"name": name, "namespace": "ns", "labels": {"app": name}});
    if let Some(o) = owner {
        meta["ownerReferences"] = json!([{"kind": "ReplicaSet", "name": o, "controller": true}]);
    }
    json!({"kind": "Pod", "metadata": meta, "status": status})
}

#[test]
fn an_oom_killed_container_blames_its_deployment_with_the_pod_as_instance() {
    let p = pod(
        "api-6958c5bdd8-69gtn",
        Some("api-6958c5bdd8"),
        json!({"containerStatuses": [{"name": "main", "restartCount": 16,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}),
    );
    let f = cluster_findings(
        &[item(p)],
        &Subject::default(),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(top(&f), ("Deployment/api", FaultType::Memory));
    assert_eq!(f.findings[0].evidence.instances, ["api-6958c5bdd8-69gtn"]);
    assert_eq!(
        f.aliases.get("api").map(String::as_str),
        Some("Deployment/api")
    );
}

#[test]
fn a_crash_loop_takes_its_fault_from_the_containers_own_last_lines() {
    let status = json!({"containerStatuses": [{"name": "w", "restartCount": 9,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]});
    let crash = |logs: &[&str]| {
        let p = pod("worker-747ccfb9db-pd6wz", None, status.clone());
        let logs = BTreeMap::from([(
            "worker".to_string(),
            logs.iter().map(|s| s.to_string()).collect(),
        )]);
        let f = cluster_findings(
            &[item(p)],
            &Subject::default(),
            &logs,
            &ClusterSignalConfig::default(),
        );
        top(&f).1
    };
    assert_eq!(
        crash(&["Environment variable DEPLOY_ENV is not set"]),
        FaultType::ConfigError
    );
    assert_eq!(
        crash(&["java.net.ConnectException: Connection refused (prod-db:3333)"]),
        FaultType::DependencyDown
    );
    assert_eq!(
        crash(&["Exception in thread main java.lang.StackOverflowError"]),
        FaultType::CrashLoop
    );
}

#[test]
fn a_missing_config_map_is_the_culprit_not_the_pod_that_waits_for_it() {
    let deploy = json!({"kind": "Deployment", "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"template": {"metadata": {"labels": {"app": "app"}}, "spec": {
            "containers": [{"name": "c"}],
            "volumes": [{"name": "v", "configMap": {"name": "app-config"}}]}}}});
    let other = json!({"kind": "ConfigMap", "metadata": {"name": "app-configuration", "namespace": "ns"}, "data": {}});
    let f = cluster_findings(
        &[item(deploy.clone()), item(other)],
        &Subject::named(&["app"]),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(top(&f), ("ConfigMap/app-config", FaultType::ConfigError));
    // With nothing else of the namespace in view, absence proves nothing.
    let alone = cluster_findings(
        &[item(deploy)],
        &Subject::default(),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert!(
        alone
            .findings
            .iter()
            .all(|f| f.contribution < ClusterSignalConfig::default().spec_weight)
    );
}

#[test]
fn a_service_selector_that_matches_no_pod_and_a_policy_that_admits_no_client() {
    let workload = |name: &str, labels: Value| {
        json!({"kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": name}]}}}})
    };
    let backend = workload(
        "backend",
        json!({"app": "backend", "version": "v1", "tier": "backend"}),
    );
    let mut frontend = workload("frontend", json!({"app": "frontend", "tier": "frontend"}));
    // The client names what it calls; that makes the Service part of its neighbourhood.
    frontend["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "BACKEND_URL", "value": "http://backend-service:80"}]);
    let svc = json!({"kind": "Service", "metadata": {"name": "backend-service", "namespace": "ns"},
        "spec": {"selector": {"app": "backend", "version": "v2"}}});
    let f = cluster_findings(
        &[item(backend.clone()), item(frontend.clone()), item(svc)],
        &Subject::named(&["frontend"]),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(
        top(&f),
        ("Service/backend-service", FaultType::SelectorMismatch)
    );

    let svc_ok = json!({"kind": "Service", "metadata": {"name": "backend", "namespace": "ns"}, "spec": {"selector": {"app": "backend"}}});
    frontend["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "BACKEND_URL", "value": "http://backend:80"}]);
    let policy = policy_of();
    let f = cluster_findings(
        &[
            item(backend),
            item(frontend.clone()),
            item(svc_ok.clone()),
            item(policy),
        ],
        &Subject::named(&["frontend"]),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(
        top(&f),
        ("NetworkPolicy/backend-policy", FaultType::NetworkPolicy)
    );
    // A client that calls nothing in view: the policy is someone else's business, and the
    // subject itself is where to look.
    frontend["spec"]["template"]["spec"]["containers"][0]["env"] = json!([]);
    let f = cluster_findings(
        &[
            item(workload(
                "backend",
                json!({"app": "backend", "tier": "backend"}),
            )),
            item(frontend),
            item(svc_ok),
            item(policy_of()),
        ],
        &Subject::named(&["frontend"]),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(top(&f), ("Deployment/frontend", FaultType::Unknown));
}

fn policy_of() -> Value {
    json!({"kind": "NetworkPolicy", "metadata": {"name": "backend-policy", "namespace": "ns"},
        "spec": {"podSelector": {"matchLabels": {"app": "backend"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "backend"}}}]}]}})
}

#[test]
fn a_warning_event_names_the_missing_secret_and_unrelated_workloads_count_less() {
    let ev = |name: &str, reason: &str, msg: &str| {
        json!({"kind": "Event", "metadata": {"name": format!("{name}.{reason}"), "namespace": "ns"}, "type": "Warning",
            "reason": reason, "message": msg, "count": 5,
            "involvedObject": {"kind": "Pod", "name": name, "namespace": "ns"}})
    };
    let items = [
        item(ev(
            "db-7d9f8c6b5-x2x4p",
            "Failed",
            "Error: secret \"database-secret\" not found",
        )),
        item(pod(
            "other-5c5fdbbf57-9x49x",
            None,
            json!({"containerStatuses": [{"name": "o", "restartCount": 50,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}}]}),
        )),
    ];
    let f = cluster_findings(
        &items,
        &Subject::named(&["Deployment/db"]),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(top(&f), ("Secret/database-secret", FaultType::ConfigError));
    let other = f
        .findings
        .iter()
        .find(|x| x.evidence.entity == "Deployment/other")
        .unwrap();
    assert!(other.contribution < ClusterSignalConfig::default().status_weight);
}

#[test]
fn probes_on_closed_ports_quota_limits_and_hpa_without_requests() {
    let deploy = json!({"kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
            "name": "web", "ports": [{"containerPort": 80}],
            "livenessProbe": {"httpGet": {"port": 8080, "path": "/healthz"}},
            "resources": {"requests": {"memory": "64Mi"}, "limits": {"memory": "64Mi"}}}]}}}});
    let f = cluster_findings(
        &[item(deploy.clone())],
        &Subject::default(),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(top(&f), ("Deployment/web", FaultType::ProbeFailure));
    let quota = json!({"kind": "ResourceQuota", "metadata": {"name": "q", "namespace": "ns"},
        "spec": {"hard": {"limits.cpu": "100m", "requests.memory": "100Mi"}}});
    let f = cluster_findings(
        &[item(deploy.clone()), item(quota)],
        &Subject::default(),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert!(
        f.findings
            .iter()
            .any(|x| x.fault == FaultType::Quota && x.evidence.entity == "Deployment/web"),
        "no cpu limit"
    );
    assert!(
        f.findings
            .iter()
            .any(|x| x.fault == FaultType::Quota && x.evidence.entity == "ResourceQuota/q"),
        "3 x 64Mi > 100Mi"
    );
    let hpa = json!({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "h", "namespace": "ns"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "metrics": [{"type": "Resource", "resource": {"name": "cpu"}}]}});
    let f = cluster_findings(
        &[item(deploy), item(hpa)],
        &Subject::default(),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert!(f.findings.iter().any(
        |x| x.fault == FaultType::ConfigError && x.evidence.summary.contains("request no cpu")
    ));
}

#[test]
fn switched_off_the_family_says_nothing() {
    let p = pod(
        "api-6958c5bdd8-69gtn",
        None,
        json!({"containerStatuses": [{"name": "m", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
    );
    let config = ClusterSignalConfig {
        enabled: false,
        ..ClusterSignalConfig::default()
    };
    assert!(
        cluster_findings(
            &[item(p.clone())],
            &Subject::default(),
            &BTreeMap::new(),
            &config
        )
        .findings
        .is_empty()
    );
    let on = cluster_findings(
        &[item(p)],
        &Subject::default(),
        &BTreeMap::new(),
        &ClusterSignalConfig::default(),
    );
    assert_eq!(top(&on), ("Deployment/api", FaultType::ImagePull));
}
