//! Conversions of decoded OTLP export requests (logs and metrics) into rootline's records, for the
//! OTLP/HTTP receiver. Pure functions: the caller decodes the protobuf or JSON body; spans are
//! converted by [`crate::spans::spans_from_otlp_request`].
//!
//! Records are numbered 1.. in request order; that number is their provenance line (and so part
//! of their evidence id) and the line of their reject, so the same request re-sent under the same
//! source label yields the same ids.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{NumberDataPoint, metric, number_data_point};
use rootline_core::{Level, LogRecord, MetricPoint, Provenance};

use crate::Rejected;
use crate::metrics::entity_of;

/// Resource attributes that name the host/pod, in order of preference.
const HOST_KEYS: &[&str] = &["k8s.pod.name", "host.name", "service.instance.id"];

/// Resource attributes copied onto every metric point as labels (the rest, such as
/// `telemetry.sdk.*`, would only bloat series keys).
const RESOURCE_LABELS: &[&str] = &[
    "service.name",
    "service.namespace",
    "k8s.pod.name",
    "host.name",
];

/// The result of converting an OTLP metrics request.
#[derive(Debug, Default)]
pub struct MetricConversion {
    pub points: Vec<MetricPoint>,
    pub rejects: Vec<Rejected>,
    /// Data points of histograms, exponential histograms and summaries: not stored yet.
    pub skipped_points: u64,
}

/// Converts an OTLP logs request into log records (template id unset). `default_service` is
/// used when neither the resource nor the record names a `service.name`.
pub fn logs_from_otlp_request(
    request: &ExportLogsServiceRequest,
    source: &str,
    default_service: &str,
) -> (Vec<LogRecord>, Vec<Rejected>) {
    let mut records = Vec::new();
    let mut rejects = Vec::new();
    let mut n: u64 = 0;
    for rl in &request.resource_logs {
        let attrs = rl
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let service = str_attr(attrs, "service.name");
        let host = HOST_KEYS.iter().find_map(|k| str_attr(attrs, k));
        // The instrumentation scope of a log record is its logger.
        let scoped = rl.scope_logs.iter().flat_map(|sl| {
            let scope = sl.scope.as_ref().map(|s| s.name.as_str());
            sl.log_records.iter().map(move |lr| (scope, lr))
        });
        for (scope, lr) in scoped {
            n += 1;
            let reject = |reason: &str| Rejected {
                file: source.to_string(),
                line: n,
                reason: format!("log record {n}: {reason}"),
            };
            let ts = if lr.time_unix_nano != 0 {
                lr.time_unix_nano
            } else {
                lr.observed_time_unix_nano
            };
            let Ok(ts_ns) = i64::try_from(ts) else {
                rejects.push(reject("timeUnixNano out of range"));
                continue;
            };
            if ts_ns == 0 {
                rejects.push(reject("no timeUnixNano or observedTimeUnixNano"));
                continue;
            }
            let message = lr.body.as_ref().map(render_value).unwrap_or_default();
            if message.trim().is_empty() {
                rejects.push(reject("empty body"));
                continue;
            }
            let service = service
                .or_else(|| str_attr(&lr.attributes, "service.name"))
                .unwrap_or(default_service)
                .to_string();
            let level = level_of(lr.severity_number, &lr.severity_text);
            let trace_id = hex_id(&lr.trace_id);
            let provenance = Provenance {
                source: source.to_string(),
                line: n,
            };
            // No raw line exists: hash a canonical rendering of what the record says.
            let raw = format!(
                "{ts_ns} {service} {} {} {message}",
                level.as_str(),
                trace_id.as_deref().unwrap_or("-")
            );
            records.push(LogRecord {
                evidence_id: LogRecord::compute_evidence_id(&provenance, &raw),
                ts_ns,
                service,
                host: host.map(str::to_string),
                level,
                message,
                template_id: None,
                trace_id,
                approximate_time: false,
                module: scope.filter(|s| !s.is_empty()).map(str::to_string),
                provenance,
            });
        }
    }
    (records, rejects)
}

/// Converts an OTLP metrics request: gauge and sum data points become points, with the data
/// point's attributes (and a few resource attributes) as labels; histogram-like data points are
/// counted in `skipped_points`.
pub fn metrics_from_otlp_request(
    request: &ExportMetricsServiceRequest,
    source: &str,
) -> MetricConversion {
    let mut out = MetricConversion::default();
    let mut n: u64 = 0;
    for rm in &request.resource_metrics {
        let attrs = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let mut resource_labels = BTreeMap::new();
        for key in RESOURCE_LABELS {
            if let Some(v) = str_attr(attrs, key) {
                resource_labels.insert((*key).to_string(), v.to_string());
            }
        }
        for m in rm.scope_metrics.iter().flat_map(|sm| &sm.metrics) {
            let data_points: &[NumberDataPoint] = match &m.data {
                Some(metric::Data::Gauge(g)) => &g.data_points,
                Some(metric::Data::Sum(s)) => &s.data_points,
                Some(metric::Data::Histogram(h)) => {
                    n += h.data_points.len() as u64;
                    out.skipped_points += h.data_points.len() as u64;
                    continue;
                }
                Some(metric::Data::ExponentialHistogram(h)) => {
                    n += h.data_points.len() as u64;
                    out.skipped_points += h.data_points.len() as u64;
                    continue;
                }
                Some(metric::Data::Summary(s)) => {
                    n += s.data_points.len() as u64;
                    out.skipped_points += s.data_points.len() as u64;
                    continue;
                }
                None => continue,
            };
            for dp in data_points {
                n += 1;
                let reject = |reason: String| Rejected {
                    file: source.to_string(),
                    line: n,
                    reason: format!("metric {:?} data point {n}: {reason}", m.name),
                };
                if m.name.is_empty() {
                    out.rejects.push(reject("metric has no name".into()));
                    continue;
                }
                let ts_ns = match i64::try_from(dp.time_unix_nano) {
                    Ok(t) if t > 0 => t,
                    _ => {
                        out.rejects
                            .push(reject("missing or out-of-range timeUnixNano".into()));
                        continue;
                    }
                };
                let value = match dp.value {
                    Some(number_data_point::Value::AsDouble(v)) => v,
                    Some(number_data_point::Value::AsInt(v)) => v as f64,
                    None => {
                        out.rejects.push(reject("no value".into()));
                        continue;
                    }
                };
                if !value.is_finite() {
                    // Exporters write NaN for "no sample"; like the text parsers, skip it.
                    out.skipped_points += 1;
                    continue;
                }
                let mut labels = resource_labels.clone();
                for kv in &dp.attributes {
                    if let Some(v) = kv.value.as_ref() {
                        labels.insert(kv.key.clone(), render_value(v));
                    }
                }
                let entity = entity_of(&labels);
                out.points.push(MetricPoint {
                    name: m.name.clone(),
                    labels,
                    entity,
                    ts_ns,
                    value,
                });
            }
        }
    }
    out
}

/// OTLP severity number (1..=24, four per level) first, then the text, else unknown.
fn level_of(number: i32, text: &str) -> Level {
    match number {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=20 => Level::Error,
        21..=24 => Level::Fatal,
        _ => Level::parse(text).unwrap_or(Level::Unknown),
    }
}

fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        })
}

/// A value as text: strings as they are, scalars in their usual spelling, structures as JSON.
fn render_value(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BytesValue(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Some(_) => to_json(v).to_string(),
        None => String::new(),
    }
}

fn to_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match &v.value {
        Some(any_value::Value::StringValue(s)) => J::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => J::Bool(*b),
        Some(any_value::Value::IntValue(i)) => J::from(*i),
        Some(any_value::Value::DoubleValue(d)) => J::from(*d),
        Some(any_value::Value::ArrayValue(a)) => J::Array(a.values.iter().map(to_json).collect()),
        Some(any_value::Value::KvlistValue(kv)) => J::Object(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(J::Null, to_json)))
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => {
            J::String(b.iter().map(|x| format!("{x:02x}")).collect())
        }
        Some(any_value::Value::StringValueStrindex(i)) => J::from(*i),
        None => J::Null,
    }
}

fn hex_id(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty() && bytes.iter().any(|b| *b != 0))
        .then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLog, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics, Sum,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn resource(service: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv("service.name", service), kv("host.name", "node-1")],
            ..Default::default()
        })
    }

    #[test]
    fn logs_take_service_severity_body_trace_and_time() {
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource("checkout"),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        OtlpLog {
                            time_unix_nano: 1_700_000_000_000_000_000,
                            severity_number: 17,
                            severity_text: "ERROR".into(),
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(
                                    "payment declined for order 42".into(),
                                )),
                            }),
                            trace_id: vec![0xab; 16],
                            ..Default::default()
                        },
                        // Only an observed time and a text severity.
                        OtlpLog {
                            observed_time_unix_nano: 1_700_000_001_000_000_000,
                            severity_text: "warning".into(),
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("slow".into())),
                            }),
                            ..Default::default()
                        },
                        // No time at all, then no body: both rejected with their numbers.
                        OtlpLog {
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue("x".into())),
                            }),
                            ..Default::default()
                        },
                        OtlpLog {
                            time_unix_nano: 5,
                            ..Default::default()
                        },
                    ],
                    scope: Some(InstrumentationScope {
                        name: "checkout.payments".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let (records, rejects) = logs_from_otlp_request(&req, "http:t", "fallback");
        assert_eq!(records.len(), 2, "{rejects:?}");
        let r = &records[0];
        assert_eq!(r.service, "checkout");
        assert_eq!(r.host.as_deref(), Some("node-1"));
        assert_eq!(r.level, Level::Error);
        assert_eq!(r.message, "payment declined for order 42");
        assert_eq!(r.trace_id.as_deref(), Some("ab".repeat(16).as_str()));
        assert_eq!(r.provenance.line, 1);
        assert_eq!(
            r.module.as_deref(),
            Some("checkout.payments"),
            "scope = logger"
        );
        assert_eq!(records[1].level, Level::Warn);
        assert_eq!(records[1].ts_ns, 1_700_000_001_000_000_000);
        assert_eq!(
            rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(rejects[1].reason.contains("empty body"), "{rejects:?}");
        // Same request, same source: same ids.
        let (again, _) = logs_from_otlp_request(&req, "http:t", "fallback");
        assert_eq!(again[0].evidence_id, r.evidence_id);
    }

    #[test]
    fn metrics_gauges_and_sums_become_points_histograms_are_skipped() {
        let dp = |t: u64, v: f64, pod: &str| NumberDataPoint {
            attributes: vec![kv("pod", pod)],
            time_unix_nano: t,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        };
        let req = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource("cart"),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "cpu_usage".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![dp(1_000, 0.5, "cart-1"), dp(0, 1.0, "cart-1")],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "requests_total".into(),
                            data: Some(metric::Data::Sum(Sum {
                                data_points: vec![NumberDataPoint {
                                    time_unix_nano: 2_000,
                                    value: Some(number_data_point::Value::AsInt(7)),
                                    ..Default::default()
                                }],
                                ..Default::default()
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "latency".into(),
                            data: Some(metric::Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint::default(); 3],
                                ..Default::default()
                            })),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let c = metrics_from_otlp_request(&req, "http:m");
        assert_eq!(c.points.len(), 2, "{:?}", c.rejects);
        assert_eq!(c.points[0].name, "cpu_usage");
        assert_eq!(c.points[0].labels["pod"], "cart-1");
        assert_eq!(c.points[0].labels["service.name"], "cart");
        assert_eq!(c.points[0].entity.as_deref(), Some("cart"));
        assert_eq!(c.points[1].value, 7.0);
        assert_eq!(c.rejects.len(), 1);
        assert!(
            c.rejects[0].reason.contains("timeUnixNano"),
            "{:?}",
            c.rejects
        );
        assert_eq!(c.skipped_points, 3);
    }
}
