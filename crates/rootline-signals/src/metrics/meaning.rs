//! What a metric means: a small vocabulary from metric names to a kind and the direction in
//! which the kind is bad. Why: a latency that falls or an availability that rises is no fault,
//! and a success share sitting at 100 % is judged on what it can lose, not on 5 % of 100.
//!
//! The words come from the naming people already use: Prometheus and its exporters
//! (`http_request_duration_seconds`, `*_errors_total`, `up`, cAdvisor's
//! `container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`,
//! kube-state-metrics' `*_restarts_total`), the OpenTelemetry semantic conventions
//! (`http.server.request.duration`, `*.utilization`), CloudWatch (`Latency`, `Errors`,
//! `Availability`, `Invocations`, `Throttles`) and APM tools (`apdex`). Names are split into
//! words at anything that is not a letter or digit and at lower-to-upper case steps
//! (`PodSuccessRate(%)` is `pod success rate`), so a word never matches inside another word
//! (`uptime` is not `up`). No name of a service, dataset or product metric is listed.
//!
//! | kind | words (any of) | bad direction |
//! |---|---|---|
//! | latency | latency, duration, delay, rtt, response time, p50–p999, quantile | up |
//! | CPU | cpu | up |
//! | memory | mem, memory, heap, rss, oom | up |
//! | errors | error(s), 5xx, fail(ed/ures), exception(s), fault(s), throttle(s/d) | up |
//! | success share | availability, success, apdex, uptime, the name `up` | down |
//! | saturation | connections, queue, pool, threads, fds, saturation, utilization, restarts, pending | up |
//! | traffic | requests, request count, rps, qps, throughput, invocations, calls, workload, ops | either |
//! | unknown | anything else | either |
//!
//! A name matching several kinds takes the first in the table's order: `error_latency` is a
//! latency, `container_cpu_cfs_throttled_seconds_total` CPU, `error_rate` an error.

use rootline_core::FaultType;

/// The kind of quantity a metric measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MetricKind {
    /// Time taken: a mean, a percentile, a round trip.
    Latency,
    /// Failures: a count or a rate of errors.
    Errors,
    /// A share of good outcomes (availability, success rate, apdex, `up`), whose bound is
    /// `SuccessShare::bound`.
    SuccessShare,
    Cpu,
    Memory,
    /// Another resource that fills up: connections, queues, threads, descriptors, restarts.
    Saturation,
    /// How much is asked: requests, calls, throughput. A drop at a caller can mean its callee
    /// failed, a rise a retry storm: both directions are news.
    Traffic,
    Unknown,
}

/// The direction in which a metric's kind is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    Up,
    Down,
    Either,
}

impl MetricKind {
    pub fn bad(self) -> Bad {
        match self {
            MetricKind::SuccessShare => Bad::Down,
            MetricKind::Traffic | MetricKind::Unknown => Bad::Either,
            _ => Bad::Up,
        }
    }

    /// Whether the vocabulary knows the name; unknown names count both ways, with less weight.
    pub fn is_known(self) -> bool {
        !matches!(self, MetricKind::Unknown)
    }
}

/// The words of a metric name, lower case: split at non-alphanumerics and at a lower-case
/// letter or digit followed by an upper-case letter.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev = None;
            continue;
        }
        if c.is_ascii_uppercase()
            && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
            && !cur.is_empty()
        {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// A percentile word: `p50`, `p90`, `p95`, `p99`, `p999`, and `quantile`.
fn is_percentile(w: &str) -> bool {
    w == "quantile"
        || (w.len() >= 3
            && w.starts_with('p')
            && w[1..].bytes().all(|b| b.is_ascii_digit())
            && (w.starts_with("p5") || w.starts_with("p9")))
}

/// The kind of a metric, from its name.
pub fn kind_of(name: &str) -> MetricKind {
    let words = name_words(name);
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    if words.iter().any(|w| is_percentile(w))
        || has(&["latency", "duration", "delay", "rtt", "responsetime"])
        || pair("response", "time")
    {
        return MetricKind::Latency;
    }
    if has(&["cpu"]) {
        return MetricKind::Cpu;
    }
    if has(&["mem", "memory", "heap", "rss", "oom", "oomkilled"]) {
        return MetricKind::Memory;
    }
    if has(&[
        "error",
        "errors",
        "5xx",
        "fail",
        "failed",
        "failure",
        "failures",
        "exception",
        "exceptions",
        "fault",
        "faults",
        "throttle",
        "throttles",
        "throttled",
        "throttling",
    ]) {
        return MetricKind::Errors;
    }
    if has(&["availability", "success", "successful", "apdex", "uptime"])
        || words.as_slice() == ["up"]
    {
        return MetricKind::SuccessShare;
    }
    if has(&[
        "connections",
        "queue",
        "pool",
        "threads",
        "fds",
        "saturation",
        "utilization",
        "restarts",
        "pending",
    ]) {
        return MetricKind::Saturation;
    }
    if has(&[
        "requests",
        "request",
        "rps",
        "qps",
        "throughput",
        "invocations",
        "calls",
        "workload",
        "ops",
    ]) {
        return MetricKind::Traffic;
    }
    MetricKind::Unknown
}

/// The fault a metric's movement suggests.
pub fn fault_from_metric_name(name: &str) -> FaultType {
    match kind_of(name) {
        MetricKind::Latency => {
            let words = name_words(name);
            let network = words
                .iter()
                .any(|w| ["network", "net", "tcp", "rtt", "ping"].contains(&w.as_str()));
            if network {
                FaultType::NetworkDelay
            } else {
                FaultType::Latency
            }
        }
        MetricKind::Errors | MetricKind::SuccessShare => FaultType::ErrorSpike,
        MetricKind::Cpu => FaultType::Cpu,
        MetricKind::Memory => FaultType::Memory,
        _ => FaultType::Unknown,
    }
}

/// The bound of a success share measured as `values`: 1 when every value is at most 1 (a
/// ratio), else 100 (a percentage).
pub fn share_bound(values: impl IntoIterator<Item = f64>) -> f64 {
    if values
        .into_iter()
        .filter(|v| v.is_finite())
        .all(|v| v <= 1.0)
    {
        1.0
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_case_steps_and_punctuation() {
        assert_eq!(
            name_words("PodSuccessRate(%)"),
            vec!["pod", "success", "rate"]
        );
        assert_eq!(
            name_words("http_server_request_duration_seconds"),
            vec!["http", "server", "request", "duration", "seconds"]
        );
        assert_eq!(name_words("latency_p90"), vec!["latency", "p90"]);
        assert_eq!(name_words("CPUUsage"), vec!["cpuusage"]);
    }

    #[test]
    fn kinds_and_bad_directions_from_common_names() {
        let cases = [
            ("http_request_duration_seconds", MetricKind::Latency),
            ("http.server.request.duration", MetricKind::Latency),
            ("PodServerLatencyP90(s)", MetricKind::Latency),
            ("latency_p99", MetricKind::Latency),
            ("http_requests_errors_total", MetricKind::Errors),
            ("Errors", MetricKind::Errors),
            ("http_5xx_total", MetricKind::Errors),
            ("availability_average", MetricKind::SuccessShare),
            ("PodSuccessRate(%)", MetricKind::SuccessShare),
            ("apdex_score", MetricKind::SuccessShare),
            ("up", MetricKind::SuccessShare),
            ("CpuUsageRate(%)", MetricKind::Cpu),
            ("container_cpu_cfs_throttled_seconds_total", MetricKind::Cpu),
            ("Throttles", MetricKind::Errors),
            ("container_cpu_usage_seconds_total", MetricKind::Cpu),
            ("container_memory_working_set_bytes", MetricKind::Memory),
            ("MemoryUsage(Mi)", MetricKind::Memory),
            (
                "kube_pod_container_status_restarts_total",
                MetricKind::Saturation,
            ),
            ("db_client_connections_usage", MetricKind::Saturation),
            ("requests_sum", MetricKind::Traffic),
            ("http_requests_total", MetricKind::Traffic),
            ("PodWorkload(Ops)", MetricKind::Traffic),
            ("NetworkReceiveBytes", MetricKind::Unknown),
            ("SyscallRead", MetricKind::Unknown),
            // Words, not substrings: `uptime_seconds` is a share word, `setup_total` is not `up`.
            ("setup_total", MetricKind::Unknown),
        ];
        for (name, kind) in cases {
            assert_eq!(kind_of(name), kind, "{name}");
        }
        assert_eq!(MetricKind::Latency.bad(), Bad::Up);
        assert_eq!(MetricKind::SuccessShare.bad(), Bad::Down);
        assert_eq!(MetricKind::Traffic.bad(), Bad::Either);
        assert_eq!(MetricKind::Unknown.bad(), Bad::Either);
    }

    #[test]
    fn shares_are_ratios_or_percentages() {
        assert_eq!(share_bound([1.0, 0.98, f64::NAN]), 1.0);
        assert_eq!(share_bound([100.0, 99.5]), 100.0);
    }
}
