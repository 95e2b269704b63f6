//! One line in, one parsed record out. The format is chosen by [`LineContext::format`]
//! (auto-detected per line by default); the parsers themselves live in [`crate::formats`].

use rootline_core::Level;

use crate::formats::{self, JsonMapping, LogFormat, Stream};

pub use crate::formats::text::level_from_text;

/// What the reader knows about the line besides its text.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineContext<'a> {
    /// Service to use when the line names none (from `--service` or the file name).
    pub default_service: &'a str,
    /// Host to use when the line names none (the pod of a kubelet log path).
    pub default_host: Option<&'a str>,
    pub format: LogFormat,
    /// Keys for JSON and logfmt fields; `None` means [`JsonMapping::default`].
    pub json_mapping: Option<&'a JsonMapping>,
    /// Year for year-less stamps; `None` means the current one (see `ReaderOptions`).
    pub reference_year: Option<i32>,
    /// "Now" for year inference, so a whole file agrees; `None` reads the clock.
    pub now_ns: Option<i64>,
    /// Time to use when the line has none (the container runtime's time of a wrapped line).
    pub fallback_ts_ns: Option<i64>,
    /// Stream of a wrapped container line.
    pub stream: Option<Stream>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    pub ts_ns: i64,
    pub service: String,
    pub host: Option<String>,
    pub level: Level,
    pub message: String,
    pub trace_id: Option<String>,
    /// The code module or logger that wrote the line, when the format names it.
    pub module: Option<String>,
    /// stdout/stderr for container logs. `LogRecord` has no place for it yet, so the reader
    /// drops it.
    pub stream: Option<Stream>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("JSON line is not an object")]
    NotAnObject,
    #[error("no timestamp field (looked for {0})")]
    MissingTimestamp(String),
    #[error("unparseable timestamp {0:?}")]
    BadTimestamp(String),
    #[error("no timestamp near the start of the line (unknown format)")]
    NoLeadingTimestamp,
    #[error("not a syslog line (RFC 5424 or 3164)")]
    NotSyslog,
    #[error("bad syslog line: {0}")]
    BadSyslog(&'static str),
    #[error("not a container log line (docker json-file or CRI)")]
    NotContainer,
    #[error("not a logfmt line")]
    NotLogfmt,
    #[error("csv: {0}")]
    BadCsv(String),
    #[error("a csv line cannot be parsed without its header (use FileReader)")]
    CsvWithoutHeader,
}

/// Parses one line in `ctx.format` (auto-detected by default: JSON, docker json-file, CRI,
/// syslog, logfmt, or text with a timestamp near the start).
pub fn parse_line(line: &str, ctx: &LineContext<'_>) -> Result<ParsedLine, ParseError> {
    formats::parse_logical(line, ctx).map(|(p, _)| p)
}

/// Kubernetes names pods `<workload>-<replicaset hash>-<pod hash>` (Deployments) or
/// `<workload>-<ordinal>` (StatefulSets); the workload is the service.
pub fn service_from_pod(pod: &str) -> String {
    rootline_core::k8s::workload_of_pod(pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: LineContext<'static> = LineContext {
        default_service: "from-file",
        default_host: None,
        format: LogFormat::Auto,
        json_mapping: None,
        reference_year: Some(2023),
        now_ns: None,
        fallback_ts_ns: None,
        stream: None,
    };

    #[test]
    fn nezha_style_json_line() {
        // A real TrainTicket record (Nezha dataset) re-shaped as JSON lines by the importer.
        let line = r#"{"timestamp":"2023-01-29T08:42:22.418Z","pod":"ts-food-service-f5756978c-k8vqf","trace_id":"ffc8ca7e4c8f06c75142c880d5595d96","log":"16:42:22.418 ERROR f.s.FoodServiceImpl#302 TraceID: ffc8ca7e4c8f06c75142c880d5595d96 SpanID: 37b1a1514d403000 [getAllFood][Get the Get Food Request Failed!]\n"}"#;
        let p = parse_line(line, &CTX).unwrap();
        assert_eq!(p.service, "ts-food-service");
        assert_eq!(p.host.as_deref(), Some("ts-food-service-f5756978c-k8vqf"));
        assert_eq!(p.level, Level::Error);
        assert_eq!(p.ts_ns, 1_674_981_742_418_000_000);
        assert!(p.message.ends_with("Failed!]"));
        assert_eq!(
            p.trace_id.as_deref(),
            Some("ffc8ca7e4c8f06c75142c880d5595d96")
        );
    }

    #[test]
    fn json_keys_and_levels() {
        let p = parse_line(
            r#"{"ts":1674981742,"level":"warning","msg":"slow","service":"api"}"#,
            &CTX,
        )
        .unwrap();
        assert_eq!(
            (p.service.as_str(), p.level, p.ts_ns),
            ("api", Level::Warn, 1_674_981_742_000_000_000)
        );
        assert!(matches!(
            parse_line(r#"{"msg":"x"}"#, &CTX),
            Err(ParseError::MissingTimestamp(_))
        ));
        assert!(matches!(
            parse_line(r#"{"time":"soon","msg":"x"}"#, &CTX),
            Err(ParseError::BadTimestamp(_))
        ));
        assert!(matches!(
            parse_line(r#"{"time": 1"#, &CTX),
            Err(ParseError::InvalidJson(_))
        ));
        assert_eq!(
            parse_line("[1,2]", &CTX),
            Err(ParseError::NoLeadingTimestamp)
        );
    }

    #[test]
    fn plain_text_lines() {
        let p = parse_line(
            "2023-01-29 08:42:22,383 ERROR [main] c.e.Pay - card declined",
            &CTX,
        )
        .unwrap();
        assert_eq!(p.ts_ns, 1_674_981_742_383_000_000);
        assert_eq!(p.level, Level::Error);
        assert_eq!(p.message, "ERROR [main] c.e.Pay - card declined");
        assert_eq!(p.service, "from-file");
        let p = parse_line("2023-01-29T08:42:22Z [WARN] disk 91% full", &CTX).unwrap();
        assert_eq!(p.level, Level::Warn);
        assert_eq!(
            parse_line("at com.example.Foo(Foo.java:1)", &CTX),
            Err(ParseError::NoLeadingTimestamp)
        );
        assert_eq!(parse_line("   ", &CTX), Err(ParseError::Empty));
    }

    #[test]
    fn pod_names() {
        assert_eq!(
            service_from_pod("ts-food-service-f5756978c-k8vqf"),
            "ts-food-service"
        );
        assert_eq!(service_from_pod("redis-0"), "redis");
        assert_eq!(service_from_pod("checkout"), "checkout");
        assert_eq!(service_from_pod("my-service-name"), "my-service-name");
    }
}
