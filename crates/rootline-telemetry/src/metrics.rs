//! rootline's own metrics, for Prometheus to scrape at `GET /metrics` (text exposition format).
//!
//! One process-wide registry ([`metrics`]) of counters, gauges and histograms that the server
//! (HTTP requests), the live ingest (records, bytes, commits), the investigations (runs,
//! duration, outcome, waiting) and their model exchanges (requests, tokens, cost) update. Names follow Prometheus conventions: a `rootline_`
//! prefix, base units (seconds, bytes), `_total` on counters. `docs/observability.md` lists
//! every series. Label values are bounded sets (a kind, a route template, a status code, an
//! outcome), never free text from requests or logs.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// `logs`, `traces`, `metrics`, `k8s`.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The route template (`/api/v1/incidents/{id}`), never the raw path.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `probable_cause`, `insufficient_evidence`, `no_incident_detected`, `no_data`, `error`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabel {
    /// The configured model name (one per `[llm]`, so a bounded set).
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelTokensLabel {
    pub model: String,
    /// `input` (prompt) or `output` (completion), as the GenAI semantic conventions say.
    pub r#type: String,
}

type Seconds = Family<KindLabel, Histogram, fn() -> Histogram>;
type Dollars = Family<ModelLabel, Counter<f64, std::sync::atomic::AtomicU64>>;

fn seconds_buckets() -> Histogram {
    // 1 ms .. ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every series rootline exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub ingested_records: Family<KindLabel, Counter>,
    pub rejected_records: Family<KindLabel, Counter>,
    pub ingested_bytes: Family<KindLabel, Counter>,
    pub commit_seconds: Seconds,
    pub investigations: Family<OutcomeLabel, Counter>,
    pub investigation_seconds: Histogram,
    pub investigations_waiting: Gauge,
    pub http_requests: Family<HttpLabels, Counter>,
    pub model_requests: Family<ModelLabel, Counter>,
    pub model_failures: Family<ModelLabel, Counter>,
    pub model_tokens: Family<ModelTokensLabel, Counter>,
    pub model_cost_usd: Dollars,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            ingested_records: Family::default(),
            rejected_records: Family::default(),
            ingested_bytes: Family::default(),
            commit_seconds: Family::new_with_constructor(seconds_buckets),
            investigations: Family::default(),
            investigation_seconds: seconds_buckets(),
            investigations_waiting: Gauge::default(),
            http_requests: Family::default(),
            model_requests: Family::default(),
            model_failures: Family::default(),
            model_tokens: Family::default(),
            model_cost_usd: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "rootline_ingested_records",
            "Records stored by the live ingest (HTTP, OTLP, Kubernetes watch), by kind",
            m.ingested_records.clone(),
        );
        registry.register(
            "rootline_rejected_records",
            "Records the live ingest could not use, by kind",
            m.rejected_records.clone(),
        );
        registry.register(
            "rootline_ingested_bytes",
            "Request body bytes the live ingest read, by kind",
            m.ingested_bytes.clone(),
        );
        registry.register(
            "rootline_ingest_commit_seconds",
            "Time to store and commit one ingest batch, by kind",
            m.commit_seconds.clone(),
        );
        registry.register(
            "rootline_investigations",
            "Investigations run by the server, by outcome",
            m.investigations.clone(),
        );
        registry.register(
            "rootline_investigation_seconds",
            "Duration of one investigation run by the server",
            m.investigation_seconds.clone(),
        );
        registry.register(
            "rootline_investigations_waiting",
            "Investigations waiting for their turn",
            m.investigations_waiting.clone(),
        );
        registry.register(
            "rootline_http_requests",
            "HTTP requests served, by method, route template and status",
            m.http_requests.clone(),
        );
        registry.register(
            "rootline_model_requests",
            "Requests sent to the model by the server's investigations, by model",
            m.model_requests.clone(),
        );
        registry.register(
            "rootline_model_failures",
            "Model exchanges that failed (the investigation fell back to the ranking alone), by model",
            m.model_failures.clone(),
        );
        registry.register(
            "rootline_model_tokens",
            "Model tokens used, by model and type (input, output)",
            m.model_tokens.clone(),
        );
        registry.register(
            "rootline_model_cost_usd",
            "Estimated model cost in US dollars, from the configured prices, by model",
            m.model_cost_usd.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts one investigation's model exchange.
    pub fn model_exchange(&self, model: &str, exchange: &ModelExchange) {
        let label = ModelLabel {
            model: model.to_string(),
        };
        self.model_requests
            .get_or_create(&label)
            .inc_by(exchange.requests);
        if exchange.failed {
            self.model_failures.get_or_create(&label).inc();
        }
        for (kind, n) in [
            ("input", exchange.input_tokens),
            ("output", exchange.output_tokens),
        ] {
            self.model_tokens
                .get_or_create(&ModelTokensLabel {
                    model: model.to_string(),
                    r#type: kind.to_string(),
                })
                .inc_by(n);
        }
        if exchange.cost_usd > 0.0 {
            self.model_cost_usd
                .get_or_create(&label)
                .inc_by(exchange.cost_usd);
        }
    }

    /// The exposition text (`text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// What one investigation's model exchange used.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelExchange {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// The exchange ended in an error (the answer is the ranking's alone).
    pub failed: bool,
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// A kind label.
pub fn kind(kind: &str) -> KindLabel {
    KindLabel {
        kind: kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_render_in_the_text_format_with_their_labels() {
        let m = Metrics::new();
        m.ingested_records.get_or_create(&kind("logs")).inc_by(3);
        m.http_requests
            .get_or_create(&HttpLabels {
                method: "GET".into(),
                route: "/healthz".into(),
                status: 200,
            })
            .inc();
        m.commit_seconds.get_or_create(&kind("logs")).observe(0.02);
        let text = m.render();
        assert!(
            text.contains("rootline_ingested_records_total{kind=\"logs\"} 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "rootline_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("rootline_ingest_commit_seconds_bucket{le="),
            "{text}"
        );
        assert!(
            text.contains("# TYPE rootline_investigations_waiting gauge"),
            "{text}"
        );
        m.model_exchange(
            "gpt-x",
            &ModelExchange {
                requests: 2,
                input_tokens: 1500,
                output_tokens: 300,
                cost_usd: 0.25,
                failed: false,
            },
        );
        let text = m.render();
        for line in [
            "rootline_model_requests_total{model=\"gpt-x\"} 2",
            "rootline_model_tokens_total{model=\"gpt-x\",type=\"input\"} 1500",
            "rootline_model_tokens_total{model=\"gpt-x\",type=\"output\"} 300",
            "rootline_model_cost_usd_total{model=\"gpt-x\"} 0.25",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains("rootline_model_failures_total{"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
