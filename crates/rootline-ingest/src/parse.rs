//! One line in, one parsed record out. JSON objects and plain text that starts with a timestamp.

use rootline_core::Level;
use rootline_core::time::parse_timestamp;
use serde_json::{Map, Value};

/// What the reader knows about the line besides its text.
#[derive(Debug, Clone, Default)]
pub struct LineContext<'a> {
    /// Service to use when the line names none (from `--service` or the file name).
    pub default_service: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    pub ts_ns: i64,
    pub service: String,
    pub host: Option<String>,
    pub level: Level,
    pub message: String,
    pub trace_id: Option<String>,
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
    MissingTimestamp(&'static str),
    #[error("unparseable timestamp {0:?}")]
    BadTimestamp(String),
    #[error("no timestamp at the start of the line")]
    NoLeadingTimestamp,
}

const TS_KEYS: &[&str] = &[
    "timestamp",
    "@timestamp",
    "time",
    "ts",
    "datetime",
    "date",
    "Timestamp",
    "TimeUnixNano",
    "time_unix_nano",
];
const TS_KEYS_HELP: &str = "timestamp, @timestamp, time, ts, datetime, date";
const LEVEL_KEYS: &[&str] = &[
    "level",
    "severity",
    "lvl",
    "loglevel",
    "levelname",
    "severity_text",
    "log.level",
];
const MESSAGE_KEYS: &[&str] = &["message", "msg", "log", "text", "body", "event", "Log"];
const SERVICE_KEYS: &[&str] = &[
    "service",
    "service.name",
    "service_name",
    "app",
    "application",
    "container",
    "Container",
];
const HOST_KEYS: &[&str] = &[
    "pod", "pod_name", "PodName", "host", "hostname", "instance", "node", "Node",
];
const TRACE_KEYS: &[&str] = &["trace_id", "traceId", "traceid", "TraceID", "trace.id"];

/// Parses one line. A line that starts with `{` is JSON; anything else must start with a timestamp.
pub fn parse_line(line: &str, ctx: &LineContext<'_>) -> Result<ParsedLine, ParseError> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Err(ParseError::Empty);
    }
    if trimmed.starts_with('{') {
        parse_json(trimmed, ctx)
    } else {
        parse_text(trimmed, ctx)
    }
}

fn parse_json(line: &str, ctx: &LineContext<'_>) -> Result<ParsedLine, ParseError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| ParseError::InvalidJson(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(ParseError::NotAnObject);
    };
    let ts_value = first(&obj, TS_KEYS).ok_or(ParseError::MissingTimestamp(TS_KEYS_HELP))?;
    let ts_ns = match ts_value {
        Value::Number(n) => n
            .as_i64()
            .and_then(|v| parse_timestamp(&v.to_string()))
            .or_else(|| n.as_f64().and_then(|v| parse_timestamp(&format!("{v:.6}")))),
        Value::String(s) => parse_timestamp(s),
        _ => None,
    }
    .ok_or_else(|| ParseError::BadTimestamp(ts_value.to_string()))?;

    let mut message = first_str(&obj, MESSAGE_KEYS).unwrap_or_default();
    // Docker/Kubernetes wrap the application line in a JSON string ending in a newline.
    let trimmed_len = message.trim_end_matches(['\n', '\r']).len();
    message.truncate(trimmed_len);
    let level = first_str(&obj, LEVEL_KEYS)
        .and_then(|l| Level::parse(&l))
        .unwrap_or_else(|| level_from_text(&message));
    let host = first_str(&obj, HOST_KEYS);
    let service = first_str(&obj, SERVICE_KEYS)
        .filter(|s| !s.is_empty() && !is_generic_container_name(s))
        .or_else(|| host.as_deref().map(service_from_pod))
        .unwrap_or_else(|| ctx.default_service.to_string());
    let trace_id = first_str(&obj, TRACE_KEYS).filter(|t| !t.is_empty());
    Ok(ParsedLine {
        ts_ns,
        service,
        host,
        level,
        message,
        trace_id,
    })
}

/// Container names such as `server` or `app` say nothing about which service it is.
fn is_generic_container_name(s: &str) -> bool {
    matches!(s, "server" | "app" | "main" | "container" | "application")
}

fn first<'v>(obj: &'v Map<String, Value>, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .find_map(|k| obj.get(*k))
        .filter(|v| !v.is_null())
}

fn first_str(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    first(obj, keys).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn parse_text(line: &str, ctx: &LineContext<'_>) -> Result<ParsedLine, ParseError> {
    let mut tokens = line.splitn(3, char::is_whitespace);
    let first = tokens.next().unwrap_or("");
    let second = tokens.next().unwrap_or("");
    // Either one token (`2023-01-29T08:42:22Z`, epoch) or two (`2023-01-29 08:42:22,383`).
    let (ts_ns, rest) = if let Some(ts) = parse_timestamp(trim_brackets(first)) {
        (ts, line[first.len()..].trim_start())
    } else if let Some(ts) = parse_timestamp(&format!("{first} {}", trim_brackets(second))) {
        let consumed = line.find(second).map(|i| i + second.len()).unwrap_or(0);
        (ts, line[consumed..].trim_start())
    } else {
        return Err(ParseError::NoLeadingTimestamp);
    };
    Ok(ParsedLine {
        ts_ns,
        service: ctx.default_service.to_string(),
        host: None,
        level: level_from_text(rest),
        message: rest.to_string(),
        trace_id: None,
    })
}

fn trim_brackets(s: &str) -> &str {
    s.trim_matches(|c| c == '[' || c == ']')
}

/// Finds a level word among the first few tokens of a message (`16:42:22.382 INFO  ...`, `[ERROR] ...`).
pub fn level_from_text(text: &str) -> Level {
    text.split_whitespace()
        .take(4)
        .find_map(|t| {
            let t = t.trim_matches(|c: char| !c.is_ascii_alphabetic());
            // Single letters are too ambiguous inside free text.
            if t.len() < 3 {
                return None;
            }
            Level::parse(t)
        })
        .unwrap_or(Level::Unknown)
}

/// Kubernetes names pods `<workload>-<replicaset hash>-<pod hash>` (Deployments) or
/// `<workload>-<ordinal>` (StatefulSets); the workload is the service.
pub fn service_from_pod(pod: &str) -> String {
    let parts: Vec<&str> = pod.split('-').collect();
    let looks_like_hash =
        |s: &str| (5..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let has_digit = |s: &str| s.bytes().any(|b| b.is_ascii_digit());
    if parts.len() >= 3 {
        let (a, b) = (parts[parts.len() - 2], parts[parts.len() - 1]);
        if looks_like_hash(a)
            && b.len() == 5
            && looks_like_hash(b)
            && (has_digit(a) || has_digit(b))
        {
            return parts[..parts.len() - 2].join("-");
        }
    }
    if parts.len() >= 2 {
        let last = parts[parts.len() - 1];
        if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
            return parts[..parts.len() - 1].join("-");
        }
    }
    pod.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: LineContext<'static> = LineContext {
        default_service: "from-file",
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
