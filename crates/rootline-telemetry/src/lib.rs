//! Tracing and OpenTelemetry setup for rootline processes.
//!
//! [`init`] installs one global `tracing` subscriber made of:
//!
//! - an [`EnvFilter`] built from `RUST_LOG` when it is set (and valid), else from
//!   [`TelemetryConfig::filter`];
//! - a `fmt` layer writing to stderr, human-readable or JSON ([`TelemetryConfig::json`]);
//! - a `tracing-opentelemetry` layer backed by an `opentelemetry_sdk` [`SdkTracerProvider`], so
//!   every `tracing` span also gets an OpenTelemetry span context (trace and span ids) that can be
//!   propagated. The provider is registered as the global OpenTelemetry tracer provider, and the
//!   W3C TraceContext propagator as the global text-map propagator.
//!
//! Spans are exported over OTLP/HTTP (protobuf) when the standard variables ask for it:
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as given) or `OTEL_EXPORTER_OTLP_ENDPOINT` (with
//! `/v1/traces` appended), headers from `OTEL_EXPORTER_OTLP_HEADERS` / `..._TRACES_HEADERS`,
//! batching from `OTEL_BSP_*`. Off unless one of the endpoints is set; `OTEL_SDK_DISABLED=true`
//! turns it off. The batch processor runs on the caller's tokio runtime ([`init`] must then be
//! called inside one). What is exported is filtered apart from the log lines: rootline's own
//! `info` spans (an investigation and its phases, HTTP requests), never the spans of requests to
//! an OTLP receiver (`otlp_request`: exporting to rootline's own receiver would otherwise feed
//! itself), whatever the log filter says.
//!
//! [`init`] returns a [`TelemetryGuard`]; call [`TelemetryGuard::shutdown`] before the process
//! exits to flush and shut the provider down (dropping the guard does the same, best effort).
//!
//! # Architecture invariant
//!
//! This is the only crate that configures `tracing` subscribers or OpenTelemetry providers,
//! propagators and exporters. Library crates only emit `tracing` spans and events; binaries call
//! [`init`] once at start-up.

pub mod metrics;

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The OpenTelemetry `service.name` and instrumentation scope of rootline.
pub const SERVICE_NAME: &str = "rootline";

/// How [`init`] sets up telemetry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// An [`EnvFilter`] directive (e.g. `info` or `rootline_server=debug,info`), used when
    /// `RUST_LOG` is unset or invalid. An invalid directive here falls back to `info`.
    pub filter: String,
    /// Log lines as JSON objects instead of human-readable text.
    pub json: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            filter: "info".to_owned(),
            json: false,
        }
    }
}

/// Keeps the OpenTelemetry provider that [`init`] installed; shut it down with
/// [`TelemetryGuard::shutdown`].
#[derive(Debug)]
#[must_use = "dropping the guard shuts the tracer provider down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether this guard's [`init`] call installed the global subscriber. `false` when a global
    /// subscriber was already set (e.g. by an earlier [`init`]), in which case this call changed
    /// nothing.
    pub fn is_installed(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes pending spans and shuts the tracer provider down. A guard that installed nothing
    /// does nothing.
    pub fn shutdown(mut self) -> OTelSdkResult {
        match self.provider.take() {
            Some(provider) => provider.shutdown(),
            None => Ok(()),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Best effort: nothing useful can be done with an error while dropping.
            let _ = provider.shutdown();
        }
    }
}

/// Installs the global `tracing` subscriber and OpenTelemetry provider and propagator (see the
/// crate docs).
///
/// Never panics: if a global subscriber is already set, for instance by an earlier call, this
/// leaves everything as it is and returns a guard for which
/// [`TelemetryGuard::is_installed`] is `false`.
pub fn init(config: &TelemetryConfig) -> TelemetryGuard {
    let mut builder = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build());
    let exporting = match otlp_exporter() {
        Some(exporter) => {
            let batch =
                opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
                    exporter,
                    opentelemetry_sdk::runtime::Tokio,
                )
                .build();
            builder = builder.with_span_processor(batch);
            true
        }
        None => false,
    };
    let provider = builder.build();
    // Exported spans: rootline's own at info and above, never an OTLP receiver's requests.
    // Without an exporter, the spans the log filter enables get ids (for propagation) as before.
    let otel_filter = if exporting {
        EnvFilter::new(
            "warn,rootline=info,rootline_agent=info,rootline_server=info,rootline_llm=info",
        )
    } else {
        env_filter(&config.filter)
    };
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SERVICE_NAME))
        .with_filter(otel_filter)
        .with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.name() != OTLP_REQUEST_SPAN
        }));

    let (json, human) = if config.json {
        (
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            ),
            None,
        )
    } else {
        (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            ),
        )
    };

    let installed = tracing_subscriber::registry()
        .with(json.with_filter(env_filter(&config.filter)))
        .with(human.with_filter(env_filter(&config.filter)))
        .with(otel_layer)
        .try_init();

    match installed {
        Ok(()) => {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            opentelemetry::global::set_tracer_provider(provider.clone());
            TelemetryGuard {
                provider: Some(provider),
            }
        }
        Err(_) => {
            // Another subscriber owns the process; this provider is connected to nothing.
            let _ = provider.shutdown();
            TelemetryGuard { provider: None }
        }
    }
}

/// The name of the span a request to an OTLP receiver runs in: never exported (see the crate
/// docs).
pub const OTLP_REQUEST_SPAN: &str = "otlp_request";

/// The OTLP/HTTP span exporter the standard variables ask for, if any.
fn otlp_exporter() -> Option<opentelemetry_otlp::SpanExporter> {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    if disabled
        || !(set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
    {
        return None;
    }
    use opentelemetry_otlp::WithExportConfig as _;
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()
    {
        Ok(e) => Some(e),
        Err(e) => {
            eprintln!("warning: OTLP span export is off: {e}");
            None
        }
    }
}

/// `RUST_LOG` when set and valid, else `fallback`, else `info`.
fn env_filter(fallback: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(fallback))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    use super::*;

    // One test only: the global subscriber can be set once per process.
    #[test]
    fn init_installs_once_and_spans_get_otel_contexts() {
        let guard = init(&TelemetryConfig::default());
        assert!(guard.is_installed());

        let span = tracing::error_span!("investigation", id = "inv-1");
        let cx = span.in_scope(|| {
            tracing::error!("inside the span");
            span.context()
        });
        let span_context = cx.span().span_context().clone();
        assert!(span_context.is_valid(), "{span_context:?}");
        assert!(span_context.is_sampled());

        let child = span.in_scope(|| tracing::error_span!("child"));
        assert_eq!(
            child.context().span().span_context().trace_id(),
            span_context.trace_id()
        );

        // A second init must not panic and must not replace anything.
        let second = init(&TelemetryConfig {
            filter: "not a valid directive[".into(),
            json: true,
        });
        assert!(!second.is_installed());
        second.shutdown().unwrap();

        guard.shutdown().unwrap();
    }

    #[test]
    fn bad_filter_falls_back() {
        // Must not panic on an invalid directive.
        let _ = env_filter("=[");
    }
}
