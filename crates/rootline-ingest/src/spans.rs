//! Span parsers: CSV span tables (header auto-mapped, e.g. Nezha/Jaeger exports) and OTLP JSON
//! traces (one request per line or one document per file), streamed into [`Span`]s and
//! [`Rejected`] rows; plus the conversion of an already-decoded OTLP protobuf request.
//!
//! A bad row never stops a file. Ids are normalised to lowercase hex so that the same span reads
//! the same from CSV, OTLP JSON and OTLP protobuf, and so gets the same evidence id.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use rootline_core::time::parse_timestamp;
use rootline_core::{Provenance, Span, SpanStatus, span_evidence_id};
use serde::Deserialize;

use crate::{Rejected, SourceError, service_from_pod};

/// One parsed span or one row that could not be used.
#[derive(Debug)]
pub enum SpanItem {
    Span(Span),
    Rejected(Rejected),
}

/// A span as read, before it gets its evidence id and provenance.
#[derive(Debug, Clone, PartialEq)]
struct RawSpan {
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    service: String,
    host: Option<String>,
    operation: String,
    start_ns: i64,
    duration_ns: i64,
    status: SpanStatus,
}

impl RawSpan {
    fn into_span(self, source: &str, line: u64) -> Span {
        Span {
            evidence_id: span_evidence_id(&self.trace_id, &self.span_id),
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            service: self.service,
            host: self.host,
            operation: self.operation,
            start_ns: self.start_ns,
            duration_ns: self.duration_ns,
            status: self.status,
            provenance: Provenance {
                source: source.to_string(),
                line,
            },
        }
    }
}

/// Streams the spans of one file (plain or gzip, told apart by magic bytes). The format is
/// detected from the first non-blank byte: `{` or `[` is OTLP JSON, anything else a CSV table.
pub struct SpanReader {
    path: PathBuf,
    label: String,
    mode: Mode,
    queue: VecDeque<SpanItem>,
    finished: bool,
    /// Rows (CSV records or JSON lines/documents) read so far.
    pub rows_read: u64,
}

enum Mode {
    Csv {
        // Boxed: a csv reader is much larger than the JSON mode's state.
        reader: Box<csv::Reader<Box<dyn BufRead + Send>>>,
        columns: Columns,
        record: csv::StringRecord,
    },
    Json {
        reader: Box<dyn BufRead + Send>,
        line_no: u64,
        /// `None` until the first line tells whether this is JSON lines or one document.
        lines: Option<bool>,
    },
}

impl SpanReader {
    /// Opens `path`; `label` is the name recorded in provenance.
    pub fn open(path: &Path, label: impl Into<String>) -> Result<SpanReader, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        Self::from_reader(file, path, label)
    }

    /// Reads spans from any byte stream; `path` is only used in error messages.
    pub fn from_reader(
        r: impl Read + Send + 'static,
        path: &Path,
        label: impl Into<String>,
    ) -> Result<SpanReader, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut raw = BufReader::new(r);
        let is_gzip = raw.fill_buf().map_err(open_err)?.starts_with(&[0x1f, 0x8b]);
        let mut reader: Box<dyn BufRead + Send> = if is_gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let first = first_significant_byte(&mut reader).map_err(open_err)?;
        let label = label.into();
        let mut queue = VecDeque::new();
        let mode = if matches!(first, Some(b'{') | Some(b'[')) {
            Mode::Json {
                reader,
                line_no: 0,
                lines: None,
            }
        } else {
            let mut csv_reader = csv::ReaderBuilder::new()
                .flexible(true)
                .has_headers(true)
                .from_reader(reader);
            let columns = match csv_reader.headers() {
                Ok(h) => Columns::map(h),
                Err(e) => Err(format!("cannot read the header: {e}")),
            };
            let columns = columns.unwrap_or_else(|reason| {
                queue.push_back(SpanItem::Rejected(Rejected {
                    file: label.clone(),
                    line: 1,
                    reason,
                }));
                Columns::unusable()
            });
            Mode::Csv {
                reader: Box::new(csv_reader),
                columns,
                record: csv::StringRecord::new(),
            }
        };
        let finished = !queue.is_empty();
        Ok(SpanReader {
            path: path.to_path_buf(),
            label,
            mode,
            queue,
            finished,
            rows_read: 0,
        })
    }

    fn reject(&self, line: u64, reason: impl Into<String>) -> SpanItem {
        SpanItem::Rejected(Rejected {
            file: self.label.clone(),
            line,
            reason: reason.into(),
        })
    }

    /// Reads the next row into the queue; returns false at the end of the file.
    fn fill(&mut self) -> Result<bool, SourceError> {
        match &mut self.mode {
            Mode::Csv {
                reader,
                columns,
                record,
            } => {
                let line = reader.position().line() + 1;
                match reader.read_record(record) {
                    Ok(false) => Ok(false),
                    Ok(true) => {
                        self.rows_read += 1;
                        let line = record.position().map_or(line, |p| p.line());
                        let item = match columns.parse(record) {
                            Ok(raw) => SpanItem::Span(raw.into_span(&self.label, line)),
                            Err(reason) => SpanItem::Rejected(Rejected {
                                file: self.label.clone(),
                                line,
                                reason,
                            }),
                        };
                        self.queue.push_back(item);
                        Ok(true)
                    }
                    Err(e) => {
                        let line = e.position().map_or(line, |p| p.line());
                        match e.into_kind() {
                            csv::ErrorKind::Io(source) => Err(self.read_error(line, source)),
                            kind => {
                                let reason = format!("bad csv row: {kind:?}");
                                let item = self.reject(line, reason);
                                self.queue.push_back(item);
                                Ok(true)
                            }
                        }
                    }
                }
            }
            Mode::Json {
                reader,
                line_no,
                lines,
            } => {
                let mut buf = String::new();
                let n = match reader.read_line(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        let line = *line_no + 1;
                        return Err(self.read_error(line, e));
                    }
                };
                if n == 0 {
                    return Ok(false);
                }
                *line_no += 1;
                let line = *line_no;
                if buf.trim().is_empty() {
                    return Ok(true);
                }
                let is_lines = *lines.get_or_insert_with(|| {
                    serde_json::from_str::<serde_json::Value>(buf.trim()).is_ok()
                });
                if !is_lines {
                    // One (pretty-printed) document: read the rest and parse it whole.
                    if let Err(e) = reader.read_to_string(&mut buf) {
                        return Err(self.read_error(line, e));
                    }
                }
                self.rows_read += 1;
                let label = self.label.clone();
                match parse_otlp_json_value(&buf) {
                    Ok(items) => {
                        for item in items {
                            self.queue.push_back(match item {
                                Ok(raw) => SpanItem::Span(raw.into_span(&label, line)),
                                Err(reason) => SpanItem::Rejected(Rejected {
                                    file: label.clone(),
                                    line,
                                    reason,
                                }),
                            });
                        }
                    }
                    Err(reason) => {
                        let item = self.reject(line, reason);
                        self.queue.push_back(item);
                    }
                }
                Ok(is_lines)
            }
        }
    }

    fn read_error(&self, line: u64, source: io::Error) -> SourceError {
        SourceError::Read {
            path: self.path.clone(),
            line,
            source,
        }
    }
}

impl Iterator for SpanReader {
    type Item = Result<SpanItem, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(Ok(item));
            }
            if self.finished {
                return None;
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => self.finished = true,
                Err(SourceError::Read { line, source, .. })
                    if matches!(
                        source.kind(),
                        io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::InvalidInput
                            | io::ErrorKind::InvalidData
                    ) =>
                {
                    // A truncated gzip ends the file; what was read stays.
                    self.finished = true;
                    return Some(Ok(self.reject(line, format!("file ends early: {source}"))));
                }
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn first_significant_byte(r: &mut Box<dyn BufRead + Send>) -> io::Result<Option<u8>> {
    let buf = r.fill_buf()?;
    let start = if buf.starts_with(&[0xef, 0xbb, 0xbf]) {
        3
    } else {
        0
    };
    Ok(buf[start..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace()))
}

/// Which CSV column holds what.
#[derive(Debug, Clone, Default)]
struct Columns {
    trace: Option<usize>,
    span: Option<usize>,
    parent: Option<usize>,
    service: Option<usize>,
    host: Option<usize>,
    operation: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    /// Column and nanoseconds per unit.
    duration: Option<(usize, f64)>,
    /// Column, and whether it is a boolean "error" flag rather than a status code.
    status: Option<(usize, bool)>,
}

impl Columns {
    fn map(headers: &csv::StringRecord) -> Result<Columns, String> {
        let norm: Vec<String> = headers
            .iter()
            .map(|h| {
                h.trim()
                    .trim_start_matches('\u{feff}')
                    .chars()
                    .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
                    .flat_map(char::to_lowercase)
                    .collect()
            })
            .collect();
        let find = |names: &[&str]| names.iter().find_map(|n| norm.iter().position(|h| h == n));
        let mut c = Columns {
            trace: find(&["traceid"]),
            span: find(&["spanid"]),
            parent: find(&["parentid", "parentspanid", "parent"]),
            service: find(&["service", "servicename"]),
            host: find(&["podname", "pod", "host", "hostname", "instance"]),
            operation: find(&["operationname", "operation", "name", "spanname"]),
            start: find(&["starttimeunixnano", "start", "starttime", "startns"]),
            end: find(&["endtimeunixnano", "end", "endtime", "endns"]),
            ..Default::default()
        };
        // A bare `Duration` is microseconds, as Jaeger and Nezha write it (Nezha's Duration equals
        // (EndTimeUnixNano - StartTimeUnixNano) / 1000 on every row checked).
        for (names, unit) in [
            (&["durationns", "durationnano", "durationnanos"][..], 1.0),
            (&["durationus", "durationmicros", "duration"][..], 1e3),
            (&["durationms", "durationmillis"][..], 1e6),
        ] {
            if c.duration.is_none() {
                c.duration = find(names).map(|i| (i, unit));
            }
        }
        c.status = find(&["status", "statuscode"])
            .map(|i| (i, false))
            .or_else(|| find(&["error", "iserror"]).map(|i| (i, true)));
        let mut missing = Vec::new();
        if c.trace.is_none() {
            missing.push("trace id");
        }
        if c.span.is_none() {
            missing.push("span id");
        }
        if c.service.is_none() && c.host.is_none() {
            missing.push("service or pod");
        }
        if c.start.is_none() {
            missing.push("start time");
        }
        if c.end.is_none() && c.duration.is_none() {
            missing.push("end time or duration");
        }
        if missing.is_empty() {
            Ok(c)
        } else {
            Err(format!(
                "not a span table: no {} column in the header",
                missing.join(", ")
            ))
        }
    }

    /// Columns that reject every row (a file whose header could not be mapped stops at line 1).
    fn unusable() -> Columns {
        Columns::default()
    }

    fn parse(&self, row: &csv::StringRecord) -> Result<RawSpan, String> {
        let get = |c: Option<usize>| c.and_then(|c| row.get(c)).map(str::trim).unwrap_or("");
        let trace_id = normalise_id(get(self.trace)).ok_or("missing or bad trace id")?;
        let span_id = normalise_id(get(self.span)).ok_or("missing or bad span id")?;
        let parent_span_id = parent_id(get(self.parent));
        let host = Some(get(self.host).to_string()).filter(|h| !h.is_empty());
        let service = match get(self.service) {
            "" => host.as_deref().map(service_from_pod).unwrap_or_default(),
            s => s.to_string(),
        };
        if service.is_empty() {
            return Err("no service or pod".into());
        }
        let start_text = get(self.start);
        let start_ns =
            parse_timestamp(start_text).ok_or_else(|| format!("bad start time {start_text:?}"))?;
        let end = get(self.end);
        let duration_ns = if !end.is_empty() {
            let end_ns = parse_timestamp(end).ok_or_else(|| format!("bad end time {end:?}"))?;
            end_ns - start_ns
        } else if let Some((c, unit)) = self.duration {
            let d = get(Some(c));
            let v: f64 = d
                .parse()
                .map_err(|_| format!("bad duration {d:?}"))
                .and_then(|v: f64| {
                    if v.is_finite() {
                        Ok(v)
                    } else {
                        Err(format!("bad duration {d:?}"))
                    }
                })?;
            (v * unit).round() as i64
        } else {
            return Err("no end time or duration".into());
        };
        if duration_ns < 0 {
            return Err(format!("negative duration ({duration_ns} ns)"));
        }
        let status = match self.status {
            Some((c, true)) => match get(Some(c)).to_ascii_lowercase().as_str() {
                "" => SpanStatus::Unset,
                "true" | "1" | "yes" | "error" => SpanStatus::Error,
                _ => SpanStatus::Ok,
            },
            Some((c, false)) => status_from_text(get(Some(c))),
            None => SpanStatus::Unset,
        };
        Ok(RawSpan {
            trace_id,
            span_id,
            parent_span_id,
            service,
            host,
            operation: get(self.operation).to_string(),
            start_ns,
            duration_ns,
            status,
        })
    }
}

fn status_from_text(s: &str) -> SpanStatus {
    match s.trim().to_ascii_lowercase().as_str() {
        "2" | "error" | "err" | "status_code_error" | "true" => SpanStatus::Error,
        "1" | "ok" | "status_code_ok" => SpanStatus::Ok,
        // HTTP status codes sometimes land in a status column.
        s if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) => {
            if s.starts_with('5') {
                SpanStatus::Error
            } else {
                SpanStatus::Ok
            }
        }
        _ => SpanStatus::Unset,
    }
}

/// Parent ids that mean "no parent": empty, `root`, `null`, `none`, `-`, or all zeros.
fn parent_id(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty()
        || t.bytes().all(|b| b == b'0')
        || ["root", "null", "none", "-"]
            .iter()
            .any(|n| t.eq_ignore_ascii_case(n))
    {
        return None;
    }
    normalise_id(t).filter(|id| !id.bytes().all(|b| b == b'0'))
}

/// Trace and span ids as lowercase hex. OTLP/JSON writes them as hex; a few exporters follow the
/// generic protobuf JSON mapping and write base64 instead, which we accept when it decodes to 8
/// or 16 bytes. Other ids (e.g. decimal) are kept as they are.
fn normalise_id(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let all_hex = t.bytes().all(|b| b.is_ascii_hexdigit());
    if all_hex && (t.len() == 16 || t.len() == 32) {
        return Some(t.to_ascii_lowercase());
    }
    if let Some(bytes) = decode_base64(t)
        && (bytes.len() == 8 || bytes.len() == 16)
    {
        return Some(bytes.iter().map(|b| format!("{b:02x}")).collect());
    }
    if all_hex {
        return Some(t.to_ascii_lowercase());
    }
    if t.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(t.to_string());
    }
    None
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

// OTLP JSON, read into our own structs so that one bad span rejects only itself and both the
// OTLP/JSON spelling (camelCase, hex ids) and the protobuf-JSON one (snake_case, base64) work.

#[derive(Deserialize)]
struct JRequest {
    #[serde(default, rename = "resourceSpans", alias = "resource_spans")]
    resource_spans: Vec<JResourceSpans>,
}

#[derive(Deserialize)]
struct JResourceSpans {
    #[serde(default)]
    resource: Option<JResource>,
    #[serde(
        default,
        rename = "scopeSpans",
        alias = "scope_spans",
        alias = "instrumentationLibrarySpans"
    )]
    scope_spans: Vec<JScopeSpans>,
}

#[derive(Deserialize)]
struct JResource {
    #[serde(default)]
    attributes: Vec<JKeyValue>,
}

#[derive(Deserialize)]
struct JKeyValue {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct JScopeSpans {
    #[serde(default)]
    spans: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct JSpan {
    #[serde(rename = "traceId", alias = "trace_id")]
    trace_id: String,
    #[serde(rename = "spanId", alias = "span_id")]
    span_id: String,
    #[serde(default, rename = "parentSpanId", alias = "parent_span_id")]
    parent_span_id: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "startTimeUnixNano", alias = "start_time_unix_nano")]
    start: serde_json::Value,
    #[serde(rename = "endTimeUnixNano", alias = "end_time_unix_nano")]
    end: serde_json::Value,
    #[serde(default)]
    status: Option<JStatus>,
    #[serde(default)]
    attributes: Vec<JKeyValue>,
}

#[derive(Deserialize)]
struct JStatus {
    #[serde(default)]
    code: serde_json::Value,
}

/// The string value of an OTLP JSON attribute (`{"stringValue": "x"}`, or a bare string).
fn json_attr<'a>(attrs: &'a [JKeyValue], key: &str) -> Option<&'a str> {
    let kv = attrs.iter().find(|kv| kv.key == key)?;
    kv.value
        .get("stringValue")
        .or_else(|| kv.value.get("string_value"))
        .unwrap_or(&kv.value)
        .as_str()
        .filter(|s| !s.is_empty())
}

fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Resource attributes that name the instance a span ran on, most specific first.
const HOST_KEYS: [&str; 4] = [
    "k8s.pod.name",
    "host.name",
    "service.instance.id",
    "container.name",
];

/// Parses one OTLP JSON export request (or an array of them); each span is parsed separately.
fn parse_otlp_json_value(text: &str) -> Result<Vec<Result<RawSpan, String>>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("bad otlp json: {e}"))?;
    let requests = match value {
        serde_json::Value::Array(items) => items,
        v => vec![v],
    };
    let mut out = Vec::new();
    for request in requests {
        let req: JRequest =
            serde_json::from_value(request).map_err(|e| format!("bad otlp json: {e}"))?;
        if req.resource_spans.is_empty() {
            return Err("bad otlp json: no resourceSpans".into());
        }
        for rs in &req.resource_spans {
            let attrs = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.as_slice())
                .unwrap_or_default();
            let service = json_attr(attrs, "service.name");
            let host = HOST_KEYS.iter().find_map(|k| json_attr(attrs, k));
            for (i, span) in rs.scope_spans.iter().flat_map(|s| &s.spans).enumerate() {
                out.push(json_span(span, service, host).map_err(|e| format!("span {i}: {e}")));
            }
        }
    }
    Ok(out)
}

fn json_span(
    value: &serde_json::Value,
    service: Option<&str>,
    host: Option<&str>,
) -> Result<RawSpan, String> {
    let s = JSpan::deserialize(value).map_err(|e| format!("bad span: {e}"))?;
    let start = json_u64(&s.start).ok_or("bad startTimeUnixNano")?;
    let end = json_u64(&s.end).ok_or("bad endTimeUnixNano")?;
    let code = match s.status.as_ref().map(|st| &st.code) {
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(serde_json::Value::String(t)) => match status_from_text(t) {
            SpanStatus::Error => 2,
            SpanStatus::Ok => 1,
            SpanStatus::Unset => 0,
        },
        _ => 0,
    };
    let service = service
        .or_else(|| json_attr(&s.attributes, "service.name"))
        .map(str::to_string)
        .or_else(|| host.map(service_from_pod));
    raw_span(
        normalise_id(&s.trace_id),
        normalise_id(&s.span_id),
        parent_id(&s.parent_span_id),
        service,
        host.map(str::to_string),
        s.name,
        start,
        end,
        code,
    )
}

#[allow(clippy::too_many_arguments)]
fn raw_span(
    trace_id: Option<String>,
    span_id: Option<String>,
    parent_span_id: Option<String>,
    service: Option<String>,
    host: Option<String>,
    operation: String,
    start: u64,
    end: u64,
    status_code: i64,
) -> Result<RawSpan, String> {
    let trace_id = trace_id.ok_or("missing or bad trace id")?;
    let span_id = span_id.ok_or("missing or bad span id")?;
    let service = service.ok_or("no service.name resource attribute")?;
    let start_ns = i64::try_from(start).map_err(|_| "start time out of range")?;
    let end_ns = i64::try_from(end).map_err(|_| "end time out of range")?;
    if start_ns == 0 {
        return Err("missing start time".into());
    }
    if end_ns < start_ns {
        return Err(format!(
            "end time before start time ({end_ns} < {start_ns})"
        ));
    }
    Ok(RawSpan {
        trace_id,
        span_id,
        parent_span_id,
        service,
        host,
        operation,
        start_ns,
        duration_ns: end_ns - start_ns,
        status: match status_code {
            2 => SpanStatus::Error,
            1 => SpanStatus::Ok,
            _ => SpanStatus::Unset,
        },
    })
}

fn hex_id(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty() && bytes.iter().any(|b| *b != 0))
        .then(|| bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn proto_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| match &v.value {
            Some(any_value::Value::StringValue(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        })
}

/// Converts a decoded OTLP export request (e.g. from an OTLP/HTTP protobuf body) into spans.
/// `source` labels provenance; every span gets line 0, plus its index in the request as line, so
/// provenance points at the span. Spans that cannot be used are returned as rejects.
pub fn spans_from_otlp_request(
    request: &ExportTraceServiceRequest,
    source: &str,
) -> (Vec<Span>, Vec<Rejected>) {
    let mut spans = Vec::new();
    let mut rejects = Vec::new();
    let mut n: u64 = 0;
    for rs in &request.resource_spans {
        let attrs = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let service = proto_attr(attrs, "service.name");
        let host = HOST_KEYS.iter().find_map(|k| proto_attr(attrs, k));
        for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            n += 1;
            let service = service
                .or_else(|| proto_attr(&s.attributes, "service.name"))
                .map(str::to_string)
                .or_else(|| host.map(service_from_pod));
            let raw = raw_span(
                hex_id(&s.trace_id),
                hex_id(&s.span_id),
                hex_id(&s.parent_span_id),
                service,
                host.map(str::to_string),
                s.name.clone(),
                s.start_time_unix_nano,
                s.end_time_unix_nano,
                s.status.as_ref().map_or(0, |st| st.code as i64),
            );
            match raw {
                Ok(raw) => spans.push(raw.into_span(source, n)),
                Err(reason) => rejects.push(Rejected {
                    file: source.to_string(),
                    line: n,
                    reason: format!("span {n}: {reason}"),
                }),
            }
        }
    }
    (spans, rejects)
}

/// Parses OTLP JSON text (one export request, or an array of them) into spans and rejects.
pub fn spans_from_otlp_json(text: &str, source: &str) -> (Vec<Span>, Vec<Rejected>) {
    let mut spans = Vec::new();
    let mut rejects = Vec::new();
    match parse_otlp_json_value(text) {
        Ok(items) => {
            for (i, item) in items.into_iter().enumerate() {
                match item {
                    Ok(raw) => spans.push(raw.into_span(source, i as u64 + 1)),
                    Err(reason) => rejects.push(Rejected {
                        file: source.to_string(),
                        line: i as u64 + 1,
                        reason,
                    }),
                }
            }
        }
        Err(reason) => rejects.push(Rejected {
            file: source.to_string(),
            line: 1,
            reason,
        }),
    }
    (spans, rejects)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Real rows of the Nezha TrainTicket dataset (case tt-2023-01-30-1344, 13_44_trace.csv).
    const NEZHA: &str = "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration
d14d81a99e164d6fe7fa308d3a4ecd7e,b6417f9ead13468d,root,ts-gateway-service-6f6cfc45b-d9pnv,/*,1675086256354000000,1675086256950359286,596359
d14d81a99e164d6fe7fa308d3a4ecd7e,ff8991887421caa6,b6417f9ead13468d,ts-gateway-service-6f6cfc45b-d9pnv,FilteringWebHandler.handle,1675086256354920365,1675086256950125583,595205
d14d81a99e164d6fe7fa308d3a4ecd7e,082159e80e4071f4,b6417f9ead13468d,ts-gateway-service-6f6cfc45b-d9pnv,HTTP POST,1675086256355978983,1675086256950322072,594343
d14d81a99e164d6fe7fa308d3a4ecd7e,260cde54a9c1e33c,082159e80e4071f4,ts-travel2-service-5c66d57d58-zxw8n,/api/v1/travel2service/trips/left,1675086256359000000,1675086256948379585,589379
";

    fn read_all(path: &Path) -> (Vec<Span>, Vec<Rejected>) {
        let mut spans = vec![];
        let mut rejects = vec![];
        for item in SpanReader::open(path, "t").unwrap() {
            match item.unwrap() {
                SpanItem::Span(s) => spans.push(s),
                SpanItem::Rejected(r) => rejects.push(r),
            }
        }
        (spans, rejects)
    }

    #[test]
    fn nezha_csv_rows_gzip_and_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("13_44_trace.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(NEZHA.as_bytes()).unwrap();
        // A row with a bad start time and a short row: both rejected, the rest still read.
        enc.write_all(b"aa,bb,root,ts-x-service-1,op,yesterday,,5\nshort,row\n")
            .unwrap();
        enc.write_all(
            b"d14d81a99e164d6fe7fa308d3a4ecd7f,01,root,ts-x-service-1,op,1675086256354000000,,7\n",
        )
        .unwrap();
        enc.finish().unwrap();
        let (spans, rejects) = read_all(&path);
        assert_eq!(spans.len(), 5, "{rejects:?}");
        assert_eq!(rejects.len(), 2);
        assert_eq!(rejects[0].line, 6);
        assert!(rejects[0].reason.contains("start time"), "{rejects:?}");
        assert_eq!(rejects[1].line, 7);
        let root = &spans[0];
        assert_eq!(root.service, "ts-gateway-service");
        assert_eq!(
            root.host.as_deref(),
            Some("ts-gateway-service-6f6cfc45b-d9pnv")
        );
        assert_eq!(root.parent_span_id, None);
        assert_eq!(root.duration_ns, 596_359_286);
        assert_eq!(root.operation, "/*");
        assert_eq!(root.provenance.line, 2);
        assert_eq!(root.status, SpanStatus::Unset);
        assert_eq!(
            root.evidence_id,
            span_evidence_id(&root.trace_id, &root.span_id)
        );
        let server = &spans[3];
        assert_eq!(server.service, "ts-travel2-service");
        assert_eq!(server.parent_span_id.as_deref(), Some("082159e80e4071f4"));
        // Without an end time, the bare Duration column is microseconds.
        assert_eq!(spans[4].duration_ns, 7_000);
        // A StatefulSet-style pod name: the ordinal is dropped.
        assert_eq!(spans[4].service, "ts-x-service");
    }

    #[test]
    fn header_mapping_other_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.csv");
        std::fs::write(
            &path,
            "trace_id,span_id,parent_span_id,service_name,name,start_time,duration_ms,status\n\
             T1,S1,,checkout,GET /cart,2024-01-02T03:04:05Z,12.5,STATUS_CODE_ERROR\n\
             T1,S2,0000000000000000,checkout,db,2024-01-02T03:04:05.001Z,1,ok\n",
        )
        .unwrap();
        let (spans, rejects) = read_all(&path);
        assert!(rejects.is_empty(), "{rejects:?}");
        assert_eq!(spans[0].trace_id, "T1");
        assert_eq!(spans[0].duration_ns, 12_500_000);
        assert_eq!(spans[0].status, SpanStatus::Error);
        assert_eq!(spans[1].parent_span_id, None);
        assert_eq!(spans[1].status, SpanStatus::Ok);

        std::fs::write(&path, "a,b,c\n1,2,3\n").unwrap();
        let (spans, rejects) = read_all(&path);
        assert!(spans.is_empty());
        assert_eq!(rejects.len(), 1);
        assert!(
            rejects[0].reason.contains("not a span table"),
            "{rejects:?}"
        );
    }

    const OTLP: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"checkout"}},
        {"key":"k8s.pod.name","value":{"stringValue":"checkout-7d4b9c8f6d-x2x9q"}}]},
      "scopeSpans":[{"scope":{"name":"x"},"spans":[
        {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"",
         "name":"POST /pay","kind":2,"startTimeUnixNano":"1544712660000000000",
         "endTimeUnixNano":"1544712661000000000","status":{"code":2,"message":"boom"}},
        {"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXU=","parentSpanId":"EEE19B7EC3C1B174",
         "name":"SELECT","startTimeUnixNano":1544712660100000000,"endTimeUnixNano":1544712660300000000},
        {"traceId":"","spanId":"AAAAAAAAAAAAAAAA","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

    #[test]
    fn otlp_json_document_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.json");
        std::fs::write(&path, OTLP).unwrap();
        let (spans, rejects) = read_all(&path);
        assert_eq!(spans.len(), 2);
        assert_eq!(rejects.len(), 1);
        assert!(rejects[0].reason.contains("span 2"), "{rejects:?}");
        let root = &spans[0];
        assert_eq!(root.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!(root.service, "checkout");
        assert_eq!(root.host.as_deref(), Some("checkout-7d4b9c8f6d-x2x9q"));
        assert_eq!(root.status, SpanStatus::Error);
        assert_eq!(root.duration_ns, 1_000_000_000);
        // Base64 ids decode to the same hex as the hex spelling.
        assert_eq!(spans[1].trace_id, root.trace_id);
        assert_eq!(spans[1].span_id, "eee19b7ec3c1b175");
        assert_eq!(spans[1].parent_span_id.as_deref(), Some("eee19b7ec3c1b174"));
        assert_eq!(spans[1].duration_ns, 200_000_000);

        // JSON lines: one request per line, a bad line rejected with its number.
        let one_line: String = OTLP.split_whitespace().collect::<Vec<_>>().join(" ");
        std::fs::write(&path, format!("{one_line}\nnot json\n{one_line}\n")).unwrap();
        let (spans, rejects) = read_all(&path);
        assert_eq!(spans.len(), 4);
        assert_eq!(
            rejects.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(spans[2].provenance.line, 3);
    }

    #[test]
    fn otlp_protobuf_request() {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{
            ResourceSpans, ScopeSpans, Span as PSpan, Status,
        };
        let span = PSpan {
            trace_id: vec![0x5b; 16],
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            parent_span_id: vec![0; 8],
            name: "GET /".into(),
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_000_000_500,
            status: Some(Status {
                code: 2,
                ..Default::default()
            }),
            ..Default::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(Value::StringValue("api".into())),
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span.clone(), PSpan::default()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let (spans, rejects) = spans_from_otlp_request(&req, "otlp");
        assert_eq!(spans.len(), 1);
        assert_eq!(rejects.len(), 1);
        assert_eq!(spans[0].span_id, "0102030405060708");
        assert_eq!(spans[0].parent_span_id, None);
        assert_eq!(spans[0].duration_ns, 500);
        assert_eq!(spans[0].status, SpanStatus::Error);
        assert_eq!(spans[0].service, "api");
    }
}
