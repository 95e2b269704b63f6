//! The default queries: what an on-call engineer would graph first, in the names the usual
//! exporters and instrumentation libraries use. Each query has a name, which becomes the
//! series' metric name in rootline, chosen so that the metric vocabulary
//! (`rootline_signals::metrics::meaning`) reads its kind and bad direction from it (`latency`,
//! `errors`, `requests`, `cpu`, `memory`, `restarts`, `up`).
//!
//! | name | query | from |
//! |---|---|---|
//! | `up` | `up` | every Prometheus target |
//! | `http_requests_rate` | request rate by job, service, pod, instance | `http_requests_total`, `http_server_requests_seconds_count`, `http_server_request_duration_seconds_count` |
//! | `http_errors_rate` | 5xx rate by the same labels | the same counters with `code`/`status`/`http_response_status_code` 5xx |
//! | `http_latency_p99` | p99 from the duration histograms | `http_request_duration_seconds_bucket`, `http_server_request_duration_seconds_bucket`, `http_server_requests_seconds_bucket` |
//! | `container_cpu_usage` | CPU cores used per pod | cAdvisor `container_cpu_usage_seconds_total` |
//! | `container_memory_working_set` | bytes per pod | cAdvisor `container_memory_working_set_bytes` |
//! | `pod_container_restarts` | restarts per pod | kube-state-metrics `kube_pod_container_status_restarts_total` |
//! | `pod_oom_killed` | containers last terminated by the OOM killer | kube-state-metrics `kube_pod_container_status_last_terminated_reason{reason="OOMKilled"}` |
//!
//! A query over a metric the target does not expose answers an empty result: nothing is pulled
//! and nothing is reported. Rates use a 5-minute range, as most dashboards do.

use serde::{Deserialize, Serialize};

/// A PromQL query and the metric name its series get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedQuery {
    pub name: String,
    pub query: String,
}

/// Labels every default query keeps: where a series was measured.
const BY: &str = "job, service, service_name, namespace, pod, instance";

/// The documented default queries (see the module doc).
pub fn default_queries() -> Vec<NamedQuery> {
    let q = |name: &str, query: String| NamedQuery {
        name: name.to_string(),
        query,
    };
    let counters = "__name__=~\"http_requests_total|http_server_requests_seconds_count|http_server_request_duration_seconds_count\"";
    vec![
        q("up", "up".to_string()),
        q(
            "http_requests_rate",
            format!("sum by ({BY}) (rate({{{counters}}}[5m]))"),
        ),
        q(
            "http_errors_rate",
            format!(
                "sum by ({BY}) (rate({{{counters}, code=~\"5..\"}}[5m])) or \
                 sum by ({BY}) (rate({{{counters}, status=~\"5..\"}}[5m])) or \
                 sum by ({BY}) (rate({{{counters}, http_response_status_code=~\"5..\"}}[5m]))"
            ),
        ),
        q(
            "http_latency_p99",
            format!(
                "histogram_quantile(0.99, sum by (le, {BY}) (rate({{__name__=~\"http_request_duration_seconds_bucket|http_server_request_duration_seconds_bucket|http_server_requests_seconds_bucket\"}}[5m])))"
            ),
        ),
        q(
            "container_cpu_usage",
            "sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=\"\"}[5m]))"
                .to_string(),
        ),
        q(
            "container_memory_working_set",
            "sum by (namespace, pod) (container_memory_working_set_bytes{container!=\"\"})"
                .to_string(),
        ),
        q(
            "pod_container_restarts",
            "sum by (namespace, pod) (kube_pod_container_status_restarts_total)".to_string(),
        ),
        q(
            "pod_oom_killed",
            "sum by (namespace, pod) (kube_pod_container_status_last_terminated_reason{reason=\"OOMKilled\"})"
                .to_string(),
        ),
    ]
}
