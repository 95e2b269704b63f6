//! Log formats: which ones exist, how to choose (per line, per file, or by override), and the
//! field model they share.
//!
//! Every parser turns one logical line into a [`ParsedLine`](crate::ParsedLine). JSON and logfmt
//! find their fields through a [`JsonMapping`] (configurable key lists); CSV through a
//! [`CsvMapping`] (column names, guessed from the header when not given). Text, syslog and
//! container lines are recognised by hand-written scanners: no regex, no per-line allocation
//! beyond the record's own strings.

pub mod container;
pub mod csv;
pub mod json;
pub mod logfmt;
pub mod multiline;
pub mod syslog;
pub mod text;
pub(crate) mod timestamp;

use std::borrow::Cow;

use rootline_core::Level;

use crate::parse::{LineContext, ParseError, ParsedLine, service_from_pod};
use timestamp::YearRule;

pub use container::{KubeletPath, Stream};
pub use csv::CsvMapping;

/// Which format a file (or line) is in. `Auto` decides per line (JSON, syslog, CRI, logfmt,
/// text), after sniffing the start of the file for a CSV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Auto,
    JsonLines,
    Logfmt,
    /// RFC 5424 and RFC 3164 (with or without `<PRI>`).
    Syslog,
    /// Docker json-file and CRI (containerd, CRI-O) container logs.
    Container,
    /// Plain text with a timestamp near the start of the line.
    Text,
    /// CSV (or TSV) with a header row.
    Csv,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Auto => "auto",
            LogFormat::JsonLines => "json",
            LogFormat::Logfmt => "logfmt",
            LogFormat::Syslog => "syslog",
            LogFormat::Container => "container",
            LogFormat::Text => "text",
            LogFormat::Csv => "csv",
        }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "auto" => LogFormat::Auto,
            "json" | "jsonl" | "json-lines" | "ndjson" => LogFormat::JsonLines,
            "logfmt" => LogFormat::Logfmt,
            "syslog" => LogFormat::Syslog,
            "container" | "docker" | "cri" | "kubernetes" | "k8s" => LogFormat::Container,
            "text" | "plain" => LogFormat::Text,
            "csv" | "tsv" => LogFormat::Csv,
            other => {
                return Err(format!(
                    "unknown log format {other:?} (auto, json, logfmt, syslog, container, text, csv)"
                ));
            }
        })
    }
}

/// Key lists, in priority order, for the fields of JSON and logfmt lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonMapping {
    pub timestamp: Vec<String>,
    pub level: Vec<String>,
    pub message: Vec<String>,
    pub service: Vec<String>,
    pub host: Vec<String>,
    pub trace_id: Vec<String>,
    /// The code module or logger that wrote the line.
    pub module: Vec<String>,
}

fn owned(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| (*k).to_string()).collect()
}

impl Default for JsonMapping {
    fn default() -> Self {
        JsonMapping {
            timestamp: owned(&[
                "timestamp",
                "@timestamp",
                "time",
                "ts",
                "datetime",
                "date",
                "Timestamp",
                "TimeUnixNano",
                "time_unix_nano",
                "asctime",
                "@t",
                "t",
            ]),
            level: owned(&[
                "level",
                "severity",
                "lvl",
                "loglevel",
                "levelname",
                "severity_text",
                "log.level",
                "@l",
            ]),
            message: owned(&[
                "message", "msg", "log", "text", "body", "event", "Log", "@m", "@mt",
            ]),
            service: owned(&[
                "service",
                "service.name",
                "service_name",
                "app",
                "application",
                "container",
                "Container",
            ]),
            host: owned(&[
                "pod", "pod_name", "PodName", "host", "hostname", "instance", "node", "Node",
            ]),
            trace_id: owned(&["trace_id", "traceId", "traceid", "TraceID", "trace.id"]),
            // Python's `name` is left out on purpose: too many other formats use it for other
            // things.
            module: owned(&[
                "logger",
                "logger_name",
                "loggerName",
                "log.logger",
                "logger.name",
                "module",
            ]),
        }
    }
}

pub(crate) fn default_mapping() -> &'static JsonMapping {
    static DEFAULT: std::sync::LazyLock<JsonMapping> =
        std::sync::LazyLock::new(JsonMapping::default);
    &DEFAULT
}

/// How a [`FileReader`](crate::FileReader) reads a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderOptions {
    /// Service for lines that name none. For kubelet log paths (`/var/log/pods/...`,
    /// `/var/log/containers/...`) the pod's workload is used instead when this is empty or just
    /// the file name's stem.
    pub default_service: String,
    pub format: LogFormat,
    pub json_mapping: JsonMapping,
    /// Column mapping for CSV; guessed from the header names when `None`.
    pub csv: Option<CsvMapping>,
    /// Year for year-less stamps (`Jan 29 08:42:22`); default: the current year, or the one
    /// before for stamps that would otherwise lie in the future.
    pub reference_year: Option<i32>,
}

impl ReaderOptions {
    pub fn new(default_service: impl Into<String>) -> ReaderOptions {
        ReaderOptions {
            default_service: default_service.into(),
            format: LogFormat::Auto,
            json_mapping: JsonMapping::default(),
            csv: None,
            reference_year: None,
        }
    }

    pub fn with_format(mut self, format: LogFormat) -> ReaderOptions {
        self.format = format;
        self
    }

    pub fn with_reference_year(mut self, year: i32) -> ReaderOptions {
        self.reference_year = Some(year);
        self
    }
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions::new("unknown")
    }
}

/// A field value as found in a line, borrowed where possible.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    /// Anything else, rendered as JSON text.
    Other(String),
    /// JSON `null`: as if the key were absent.
    Null,
}

impl Scalar<'_> {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s.into_owned(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Other(s) => s,
            Scalar::Null => String::new(),
        }
    }
}

/// Which semantic field a key feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Ts = 0,
    Level = 1,
    Message = 2,
    Service = 3,
    Host = 4,
    Trace = 5,
    Module = 6,
}

/// Fields collected from a JSON object or logfmt pairs: per slot the best-priority value seen.
#[derive(Debug, Default)]
pub(crate) struct Fields<'a> {
    slots: [Option<(usize, Scalar<'a>)>; 7],
}

impl<'a> Fields<'a> {
    /// The slots (and priorities) a key feeds, without allocating.
    pub(crate) fn matches(mapping: &JsonMapping, key: &str, mut f: impl FnMut(Slot, usize)) {
        let lists: [(&[String], Slot); 7] = [
            (&mapping.timestamp, Slot::Ts),
            (&mapping.level, Slot::Level),
            (&mapping.message, Slot::Message),
            (&mapping.service, Slot::Service),
            (&mapping.host, Slot::Host),
            (&mapping.trace_id, Slot::Trace),
            (&mapping.module, Slot::Module),
        ];
        for (list, slot) in lists {
            // Length and first byte before the full compare: most keys match nothing.
            let first = key.as_bytes().first();
            if let Some(prio) = list
                .iter()
                .position(|k| k.len() == key.len() && k.as_bytes().first() == first && k == key)
            {
                f(slot, prio);
            }
        }
    }

    pub(crate) fn wants(&self, slot: Slot, prio: usize) -> bool {
        self.slots[slot as usize]
            .as_ref()
            .is_none_or(|(p, _)| prio < *p)
    }

    pub(crate) fn set(&mut self, slot: Slot, prio: usize, v: Scalar<'a>) {
        if v != Scalar::Null && self.wants(slot, prio) {
            self.slots[slot as usize] = Some((prio, v));
        }
    }

    fn take(&mut self, slot: Slot) -> Option<Scalar<'a>> {
        self.slots[slot as usize].take().map(|(_, v)| v)
    }

    /// Builds the parsed line. `whole` is the line itself, used as the message when no message
    /// key is present. Returns whether the timestamp came from the line (not the fallback).
    pub(crate) fn finish(
        mut self,
        whole: &str,
        ctx: &LineContext<'_>,
        help: impl FnOnce() -> String,
    ) -> Result<(ParsedLine, bool), ParseError> {
        let years = year_rule(ctx);
        let (ts_ns, own) = match self.take(Slot::Ts) {
            Some(v) => {
                let ts = match &v {
                    Scalar::Str(s) => timestamp::parse_value(s, years),
                    Scalar::Int(i) => epoch_from_int(*i),
                    Scalar::Float(f) => epoch_from_float(*f),
                    Scalar::Other(_) | Scalar::Null => None,
                };
                match (ts, ctx.fallback_ts_ns) {
                    (Some(ts), _) => (ts, true),
                    (None, Some(fb)) => (fb, false),
                    (None, None) => return Err(ParseError::BadTimestamp(v.into_string())),
                }
            }
            None => match ctx.fallback_ts_ns {
                Some(fb) => (fb, false),
                None => return Err(ParseError::MissingTimestamp(help())),
            },
        };
        let mut message = match self.take(Slot::Message) {
            Some(m) => m.into_string(),
            None => whole.to_string(),
        };
        // Docker/Kubernetes wrap the application line in a JSON string ending in a newline.
        let trimmed_len = message.trim_end_matches(['\n', '\r']).len();
        message.truncate(trimmed_len);
        let keyed_level = match self.take(Slot::Level) {
            Some(Scalar::Str(s)) => text::level_word(s.trim()),
            Some(Scalar::Int(n)) => level_from_number(n),
            _ => None,
        };
        // No level field: the message is a whole text line (a container wrapping an
        // application's own layout), so its level and logger are read from the text.
        let text_layout = keyed_level.is_none();
        let level = keyed_level.unwrap_or_else(|| text::level_from_text(&message));
        let host = self
            .take(Slot::Host)
            .map(Scalar::into_string)
            .filter(|h| !h.is_empty());
        let service = self
            .take(Slot::Service)
            .map(Scalar::into_string)
            .filter(|s| !s.is_empty() && !is_generic_container_name(s))
            .or_else(|| host.as_deref().map(service_from_pod));
        let trace_id = self
            .take(Slot::Trace)
            .map(Scalar::into_string)
            .filter(|t| !t.is_empty());
        let module = self
            .take(Slot::Module)
            .map(Scalar::into_string)
            .filter(|m| !m.is_empty())
            .or_else(|| {
                text_layout
                    .then(|| text::logger_after_level(&message))
                    .flatten()
            });
        Ok((
            ParsedLine {
                ts_ns,
                service: service.unwrap_or_else(|| ctx.default_service.to_string()),
                host: host.or_else(|| ctx.default_host.map(str::to_string)),
                level,
                message,
                trace_id,
                module,
                stream: ctx.stream,
            },
            own,
        ))
    }
}

/// Container names such as `server` or `app` say nothing about which service it is.
fn is_generic_container_name(s: &str) -> bool {
    matches!(s, "server" | "app" | "main" | "container" | "application")
}

/// Numeric levels: pino/bunyan (10 trace … 60 fatal), else syslog severities 0–7.
fn level_from_number(n: i64) -> Option<Level> {
    Some(match n {
        0..=7 => syslog::severity_level(n as u8),
        10 => Level::Trace,
        20 => Level::Debug,
        30 => Level::Info,
        40 => Level::Warn,
        50 => Level::Error,
        60 => Level::Fatal,
        _ => return None,
    })
}

/// Epoch numbers told apart by magnitude (s, ms, µs, ns).
pub(crate) fn epoch_from_int(v: i64) -> Option<i64> {
    let a = v.unsigned_abs();
    match a {
        100_000_000..100_000_000_000 => v.checked_mul(1_000_000_000),
        100_000_000_000..100_000_000_000_000 => v.checked_mul(1_000_000),
        100_000_000_000_000..100_000_000_000_000_000 => v.checked_mul(1_000),
        _ if a >= 100_000_000_000_000_000 => Some(v),
        _ => None,
    }
}

fn epoch_from_float(f: f64) -> Option<i64> {
    if !f.is_finite() || f < 0.0 {
        return None;
    }
    let ns = if f < 1e11 {
        f * 1e9
    } else if f < 1e14 {
        f * 1e6
    } else if f < 1e17 {
        f * 1e3
    } else {
        f
    };
    (ns < 9.2e18).then_some(ns.round() as i64)
}

pub(crate) fn year_rule(ctx: &LineContext<'_>) -> YearRule {
    YearRule {
        fixed: ctx.reference_year,
        now_ns: ctx.now_ns,
    }
}

/// Parses one logical line (already trimmed of the reader's framing) in `ctx.format`. Returns
/// the line and whether its timestamp came from the line itself rather than
/// `ctx.fallback_ts_ns`.
pub(crate) fn parse_logical(
    line: &str,
    ctx: &LineContext<'_>,
) -> Result<(ParsedLine, bool), ParseError> {
    let line = line.trim();
    if line.is_empty() {
        return Err(ParseError::Empty);
    }
    match ctx.format {
        LogFormat::Auto => parse_auto(line, ctx),
        LogFormat::JsonLines => json::parse(line, ctx, false),
        LogFormat::Logfmt => logfmt::parse(line, ctx),
        LogFormat::Syslog => syslog::parse(line, ctx, true).unwrap_or(Err(ParseError::NotSyslog)),
        LogFormat::Container => match container::unwrap(line, ctx) {
            Some(Ok(c)) => parse_container_inner(&c, ctx),
            Some(Err(e)) => Err(e),
            None => Err(ParseError::NotContainer),
        },
        LogFormat::Text => text::parse(line, ctx),
        LogFormat::Csv => Err(ParseError::CsvWithoutHeader),
    }
}

/// Parses the application line inside a container wrapper: any format, with the runtime's time
/// and stream as fallbacks.
pub(crate) fn parse_container_inner(
    c: &container::ContainerLine<'_>,
    ctx: &LineContext<'_>,
) -> Result<(ParsedLine, bool), ParseError> {
    let inner_ctx = LineContext {
        format: LogFormat::Auto,
        fallback_ts_ns: Some(c.ts_ns),
        stream: Some(c.stream),
        ..*ctx
    };
    let content = c.content.trim();
    if content.is_empty() {
        return Err(ParseError::Empty);
    }
    parse_auto(content, &inner_ctx)
}

fn parse_auto(line: &str, ctx: &LineContext<'_>) -> Result<(ParsedLine, bool), ParseError> {
    match line.as_bytes()[0] {
        b'{' => json::parse(line, ctx, true),
        b'<' => match syslog::parse(line, ctx, true) {
            Some(r) => r,
            None => text::parse(line, ctx),
        },
        _ => {
            if ctx.fallback_ts_ns.is_none()
                && let Some(c) = container::parse_cri(line, year_rule(ctx))
            {
                return parse_container_inner(&c, ctx);
            }
            if logfmt::looks_like(line) {
                match logfmt::parse(line, ctx) {
                    Err(ParseError::MissingTimestamp(_) | ParseError::BadTimestamp(_)) => {}
                    other => return other,
                }
            }
            if let Some(r) = syslog::parse(line, ctx, false) {
                return r;
            }
            text::parse(line, ctx)
        }
    }
}
