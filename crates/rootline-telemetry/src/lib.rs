//! tracing and OpenTelemetry setup.
