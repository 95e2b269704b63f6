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
//!
//! Narrowing (`[prometheus] focus_label`, off by default): the service-level queries (`up`, the
//! HTTP rates and latency) get a matcher on that label for the incident's services and their
//! neighbours in the declared topology; the pod-level container queries are not narrowed. Off by
//! default because a culprit two calls away from the alerted service would then not be pulled,
//! and rootline's rule is that the incident's services focus the report, never exclude a culprit.

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

/// A label matcher narrowing a selector to `services` by `label` (`, service=~"a|b"`), empty
/// without services. Names are matched literally (regex metacharacters escaped).
pub fn focus_matcher(label: &str, services: &[String]) -> String {
    if services.is_empty() || label.is_empty() {
        return String::new();
    }
    let escape = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if "\\.+*?()|[]{}^$".contains(c) {
                out.push_str("\\\\");
            } else if c == '"' {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let alternatives: Vec<String> = services.iter().map(|s| escape(s)).collect();
    format!(", {label}=~\"{}\"", alternatives.join("|"))
}

/// The documented default queries (see the module doc), the service-level ones narrowed by
/// `focus` (a [`focus_matcher`], or empty).
pub fn default_queries(focus: &str) -> Vec<NamedQuery> {
    let q = |name: &str, query: String| NamedQuery {
        name: name.to_string(),
        query,
    };
    let counters = format!(
        "__name__=~\"http_requests_total|http_server_requests_seconds_count|http_server_request_duration_seconds_count\"{focus}"
    );
    let up = match focus.strip_prefix(", ") {
        Some(m) => format!("up{{{m}}}"),
        None => "up".to_string(),
    };
    vec![
        q("up", up),
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
                "histogram_quantile(0.99, sum by (le, {BY}) (rate({{__name__=~\"http_request_duration_seconds_bucket|http_server_request_duration_seconds_bucket|http_server_requests_seconds_bucket\"{focus}}}[5m])))"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_adds_a_literal_matcher_to_the_service_level_queries() {
        let plain = default_queries("");
        assert_eq!(plain[0].query, "up");
        let m = focus_matcher("service", &["checkout".into(), "cart.v2".into()]);
        assert_eq!(m, r#", service=~"checkout|cart\\.v2""#);
        let narrowed = default_queries(&m);
        assert_eq!(narrowed[0].query, r#"up{service=~"checkout|cart\\.v2"}"#);
        for q in &narrowed[1..4] {
            assert!(
                q.query.contains(r#"service=~"checkout|cart\\.v2""#),
                "{}",
                q.query
            );
        }
        // Pod-level queries are not narrowed.
        assert_eq!(narrowed[4].query, plain[4].query);
        assert_eq!(focus_matcher("service", &[]), "");
    }
}
