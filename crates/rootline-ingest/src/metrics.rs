//! Metric parsers and the streaming metric reader: Prometheus text exposition / OpenMetrics and
//! CSV (wide or long) in, [`MetricPoint`]s and [`Rejected`] lines out.
//!
//! - **Prometheus / OpenMetrics**: `# HELP`, `# TYPE`, `# UNIT`, `# EOF` and other comments are
//!   skipped; a sample is `name{a="b",c="d"} value [timestamp]` with escaped label values,
//!   `+Inf`/`-Inf`/`NaN` values and an optional OpenMetrics exemplar (` # {...} v`) that is
//!   ignored. Timestamps below 1e11 are seconds (OpenMetrics), larger ones milliseconds
//!   (Prometheus text). A sample without a timestamp gets the caller's scrape time.
//! - **CSV wide**: a time column (`timestamp`, `ts` or `time`, any case; the first one whose
//!   first value parses wins, other time-like columns are ignored) and one column per series.
//!   Text columns (`PodName`, `pod`, `service`, `instance`, ... or any column whose first
//!   non-empty cell is not a number) are labels of every value in their row.
//! - **CSV long**: a time column, `name` (or `metric`) and `value`, optionally `labels` as
//!   `k=v;k=v` or Prometheus `{k="v"}`; any other column is a label.
//!
//! Wide vs long is told apart by the header. NaN and empty cells are skipped, not rejected:
//! exporters write them for "no sample". A row with a bad cell yields its good cells and one
//! [`Rejected`] naming the bad columns; a bad line never stops the file.
//!
//! The entity of a point is the first of the labels `service`, `service_name`, `app`, `pod`,
//! `pod_name`, `job`, `instance`, `container` (compared case-insensitively without `_`, `-` or
//! `.`, so `PodName` and `service.name` match); pod names map to their workload with
//! [`service_from_pod`]. `pod` comes before `job` because kubelet/cAdvisor series carry
//! `job="kubelet"` next to the pod that actually moved.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use rootline_core::MetricPoint;
use rootline_core::time::parse_timestamp;

use crate::MAX_LINE_BYTES;
use crate::parse::service_from_pod;
use crate::source::{Rejected, SourceError};

/// Which parser to use for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricFormat {
    /// Prometheus text exposition or OpenMetrics.
    Prometheus,
    /// CSV, wide or long (told apart by the header).
    Csv,
}

/// How to read a metric file.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricReadOptions {
    /// `None`: from the file extension (`.csv`, `.prom`, `.txt`, ... before `.gz`), else sniffed
    /// from the first line.
    pub format: Option<MetricFormat>,
    /// Unix ns given to Prometheus samples that carry no timestamp.
    pub scrape_time_ns: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetricItem {
    Point(MetricPoint),
    Rejected(Rejected),
}

/// Label keys that name the entity a series describes, in order of preference, normalised by
/// [`norm_key`]. The bool says the value is a pod name (mapped to its workload).
const ENTITY_KEYS: &[(&str, bool)] = &[
    ("service", false),
    ("servicename", false),
    ("app", false),
    ("pod", true),
    ("podname", true),
    ("job", false),
    ("instance", false),
    ("container", false),
];

/// Column names that are labels in a wide CSV even when their values look numeric.
const LABEL_COLUMNS: &[&str] = &[
    "service",
    "servicename",
    "app",
    "application",
    "job",
    "pod",
    "podname",
    "instance",
    "container",
    "containername",
    "node",
    "nodename",
    "host",
    "hostname",
    "namespace",
    "deployment",
    "cluster",
    "zone",
    "region",
    "env",
];

/// Time column names in order of preference (normalised).
const TIME_COLUMNS: &[&str] = &["timestamp", "ts", "time"];

fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The entity a series describes, from its labels (see the module doc).
pub fn entity_of(labels: &BTreeMap<String, String>) -> Option<String> {
    let normalised: Vec<(String, &String)> = labels
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (norm_key(k), v))
        .collect();
    for (key, is_pod) in ENTITY_KEYS {
        if let Some((_, v)) = normalised.iter().find(|(k, _)| k == key) {
            let v = v.trim();
            return Some(if *is_pod {
                service_from_pod(v)
            } else {
                v.to_string()
            });
        }
    }
    None
}

fn point(name: String, labels: BTreeMap<String, String>, ts_ns: i64, value: f64) -> MetricPoint {
    let entity = entity_of(&labels);
    MetricPoint {
        name,
        labels,
        entity,
        ts_ns,
        value,
    }
}

/// Parses a sample value: decimals, exponents, `+Inf`, `-Inf`, `Inf`, `NaN` (any case).
pub fn parse_value(s: &str) -> Option<f64> {
    let s = s.trim();
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "+inf" | "inf" | "+infinity" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// Parses one line of Prometheus text / OpenMetrics. `Ok(None)` for blank and comment lines.
/// NaN samples are returned as such; the reader drops them.
pub fn parse_prometheus_line(
    line: &str,
    scrape_time_ns: Option<i64>,
) -> Result<Option<MetricPoint>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (mut name, rest) = match line.find(|c: char| c == '{' || c.is_whitespace()) {
        Some(i) => (line[..i].to_string(), &line[i..]),
        None => return Err(format!("sample {line:?} has no value")),
    };
    let mut labels = BTreeMap::new();
    let rest = if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, quoted_name, after) =
            parse_label_set(inner).map_err(|e| format!("bad label set: {e}"))?;
        labels = parsed;
        if let Some(n) = quoted_name {
            if !name.is_empty() {
                return Err(format!("metric {name:?} also has a quoted name {n:?}"));
            }
            name = n;
        }
        after
    } else {
        rest
    };
    if name.is_empty() {
        return Err("sample has no metric name".into());
    }
    if !valid_metric_name(&name) && !line.starts_with('{') {
        return Err(format!("bad metric name {name:?}"));
    }
    // An OpenMetrics exemplar follows " # ".
    let rest = rest.split(" # ").next().unwrap_or(rest);
    let mut fields = rest.split_whitespace();
    let value_text = fields
        .next()
        .ok_or_else(|| format!("sample {name:?} has no value"))?;
    let value = parse_value(value_text).ok_or_else(|| format!("bad value {value_text:?}"))?;
    let ts_ns = match fields.next() {
        Some(t) => parse_prometheus_ts(t).ok_or_else(|| format!("bad timestamp {t:?}"))?,
        None => scrape_time_ns
            .ok_or_else(|| format!("sample {name:?} has no timestamp and no scrape time"))?,
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    Ok(Some(point(name, labels, ts_ns, value)))
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Prometheus text uses integer milliseconds, OpenMetrics (decimal) seconds; integers below
/// 1e11 are seconds. Decimals are parsed digit by digit: an f64 cannot hold unix nanoseconds.
fn parse_prometheus_ts(t: &str) -> Option<i64> {
    let (int_text, frac) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (negative, int_digits) = match int_text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, int_text),
    };
    if int_digits.is_empty() || !digits(int_digits) || !digits(frac) {
        // Exponent forms are rare; f64 precision is the best they can give.
        let v: f64 = t.parse().ok().filter(|v: &f64| v.is_finite())?;
        let ns = if v.abs() < 1e11 { v * 1e9 } else { v * 1e6 };
        return (ns.abs() < 9.2e18).then_some(ns.round() as i64);
    }
    let whole: i64 = int_digits.parse().ok()?;
    let (unit_ns, frac_digits) = if whole < 100_000_000_000 {
        (1_000_000_000i64, 9)
    } else {
        (1_000_000, 6)
    };
    let frac = &frac[..frac.len().min(frac_digits)];
    let frac_ns = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().ok()? * 10i64.pow((frac_digits - frac.len()) as u32)
    };
    let ns = whole.checked_mul(unit_ns)?.checked_add(frac_ns)?;
    Some(if negative { -ns } else { ns })
}

/// Parses the inside of `{...}` (after the `{`). Returns the labels, a quoted metric name when
/// the set holds one (`{"my.metric", a="b"}`), and the text after the closing `}`.
/// Labels, the entity they name, and the rest of the line.
type LabelSet<'a> = (BTreeMap<String, String>, Option<String>, &'a str);

fn parse_label_set(s: &str) -> Result<LabelSet<'_>, String> {
    let mut labels = BTreeMap::new();
    let mut quoted_name = None;
    let mut rest = s.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, quoted_name, after));
        }
        if rest.is_empty() {
            return Err("unterminated label set".into());
        }
        let (key, after_key) = if rest.starts_with('"') {
            let (k, after) = parse_quoted(rest)?;
            let after = after.trim_start();
            if !after.starts_with('=') {
                // A bare quoted string is the metric name (Prometheus 3 / OpenMetrics 2).
                if quoted_name.is_some() {
                    return Err(format!("second quoted metric name {k:?}"));
                }
                quoted_name = Some(k);
                rest = skip_separator(after)?;
                continue;
            }
            (k, after)
        } else {
            let end = rest
                .find(|c: char| c == '=' || c.is_whitespace())
                .ok_or_else(|| format!("label {rest:?} has no value"))?;
            (rest[..end].to_string(), &rest[end..])
        };
        if key.is_empty() {
            return Err("empty label name".into());
        }
        let after_eq = after_key
            .trim_start()
            .strip_prefix('=')
            .ok_or_else(|| format!("label {key:?} has no '='"))?
            .trim_start();
        if !after_eq.starts_with('"') {
            return Err(format!("value of label {key:?} is not quoted"));
        }
        let (value, after_value) = parse_quoted(after_eq)?;
        labels.insert(key, value);
        rest = skip_separator(after_value)?;
    }
}

fn skip_separator(s: &str) -> Result<&str, String> {
    let s = s.trim_start();
    if let Some(after) = s.strip_prefix(',') {
        Ok(after.trim_start())
    } else if s.starts_with('}') {
        Ok(s)
    } else if s.is_empty() {
        Err("unterminated label set".into())
    } else {
        Err(format!("expected ',' or '}}' at {:?}", truncate(s, 20)))
    }
}

/// Parses `"..."` with `\\`, `\"` and `\n` escapes; returns the text and what follows.
fn parse_quoted(s: &str) -> Result<(String, &str), String> {
    let body = s.strip_prefix('"').ok_or("expected '\"'")?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Parses a label cell of a long CSV: `k=v;k=v` (values optionally quoted) or `{k="v",...}`.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    if let Some(inner) = text.strip_prefix('{') {
        let (labels, quoted, after) = parse_label_set(inner)?;
        if quoted.is_some() || !after.trim().is_empty() {
            return Err(format!("bad label set {text:?}"));
        }
        return Ok(labels);
    }
    let mut labels = BTreeMap::new();
    for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("label {pair:?} is not k=v"))?;
        let k = k.trim();
        if k.is_empty() {
            return Err(format!("label {pair:?} has no name"));
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        labels.insert(k.to_string(), v.to_string());
    }
    Ok(labels)
}

/// Opens a metric file (plain or gzip) as a stream of points and rejected lines. `label` names
/// the file in rejects.
pub fn read_metrics(
    path: &Path,
    label: &str,
    options: MetricReadOptions,
) -> Result<MetricReader, SourceError> {
    MetricReader::open(path, label, options)
}

/// A streaming metric reader; see the module doc for the formats.
pub struct MetricReader {
    path: PathBuf,
    label: String,
    inner: Inner,
    queue: VecDeque<MetricItem>,
    finished: bool,
    /// Data lines (or CSV rows) read so far.
    pub lines_read: u64,
    /// NaN and empty cells skipped.
    pub skipped_values: u64,
}

enum Inner {
    Prom {
        reader: Box<dyn BufRead + Send>,
        line_no: u64,
        buf: Vec<u8>,
        scrape_time_ns: Option<i64>,
    },
    Csv {
        reader: Box<csv::Reader<Box<dyn BufRead + Send>>>,
        layout: Option<CsvLayout>,
        record: csv::StringRecord,
    },
}

impl MetricReader {
    pub fn open(
        path: &Path,
        label: &str,
        options: MetricReadOptions,
    ) -> Result<MetricReader, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::new(File::open(path).map_err(open_err)?);
        let is_gzip = file
            .fill_buf()
            .map_err(open_err)?
            .starts_with(&[0x1f, 0x8b]);
        let mut reader: Box<dyn BufRead + Send> = if is_gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                MultiGzDecoder::new(file),
            ))
        } else {
            Box::new(file)
        };
        let format = match options.format.or_else(|| format_from_name(path)) {
            Some(f) => f,
            None => sniff(&mut reader).map_err(open_err)?,
        };
        Ok(MetricReader::from_reader(
            reader,
            path,
            label,
            MetricReadOptions {
                format: Some(format),
                ..options
            },
        ))
    }

    /// Reads from any buffered reader; `path` is only used in errors. Without a format in
    /// `options` the input is treated as Prometheus text.
    pub fn from_reader(
        reader: Box<dyn BufRead + Send>,
        path: &Path,
        label: &str,
        options: MetricReadOptions,
    ) -> MetricReader {
        let inner = match options.format.unwrap_or(MetricFormat::Prometheus) {
            MetricFormat::Prometheus => Inner::Prom {
                reader,
                line_no: 0,
                buf: Vec::with_capacity(1024),
                scrape_time_ns: options.scrape_time_ns,
            },
            MetricFormat::Csv => Inner::Csv {
                reader: Box::new(
                    csv::ReaderBuilder::new()
                        .has_headers(false)
                        .flexible(true)
                        .trim(csv::Trim::All)
                        .from_reader(reader),
                ),
                layout: None,
                record: csv::StringRecord::new(),
            },
        };
        MetricReader {
            path: path.to_path_buf(),
            label: label.to_string(),
            inner,
            queue: VecDeque::new(),
            finished: false,
            lines_read: 0,
            skipped_values: 0,
        }
    }

    fn reject(&self, line: u64, reason: impl Into<String>) -> MetricItem {
        MetricItem::Rejected(Rejected {
            file: self.label.clone(),
            line,
            reason: reason.into(),
        })
    }

    /// Reads the next line or row into the queue. Returns false at the end of the input.
    fn fill(&mut self) -> Result<bool, SourceError> {
        match &mut self.inner {
            Inner::Prom {
                reader,
                line_no,
                buf,
                scrape_time_ns,
            } => {
                let dropped = match read_capped_line(reader.as_mut(), buf) {
                    Ok(Some(d)) => d,
                    Ok(None) => return Ok(false),
                    Err(e) => return self.read_failed(e),
                };
                *line_no += 1;
                let (line_no, scrape) = (*line_no, *scrape_time_ns);
                if dropped > 0 {
                    self.lines_read += 1;
                    let item =
                        self.reject(line_no, format!("line longer than {MAX_LINE_BYTES} bytes"));
                    self.queue.push_back(item);
                    return Ok(true);
                }
                let parsed = match std::str::from_utf8(buf) {
                    Ok(text) => {
                        if !text.trim().is_empty() && !text.trim_start().starts_with('#') {
                            self.lines_read += 1;
                        }
                        parse_prometheus_line(text, scrape)
                    }
                    Err(e) => {
                        self.lines_read += 1;
                        Err(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
                    }
                };
                match parsed {
                    Ok(Some(p)) if p.value.is_nan() => self.skipped_values += 1,
                    Ok(Some(p)) => self.queue.push_back(MetricItem::Point(p)),
                    Ok(None) => {}
                    Err(reason) => {
                        let item = self.reject(line_no, reason);
                        self.queue.push_back(item);
                    }
                }
                Ok(true)
            }
            Inner::Csv {
                reader,
                layout,
                record,
            } => {
                let result = reader.read_record(record);
                let line = record.position().map_or(0, |p| p.line());
                match result {
                    Ok(false) => return Ok(false),
                    Ok(true) => {}
                    Err(e) => {
                        return match e.into_kind() {
                            csv::ErrorKind::Io(io) => self.read_failed(io),
                            csv::ErrorKind::Utf8 { pos, err } => {
                                let line = pos.map_or(line, |p| p.line());
                                self.lines_read += 1;
                                let item = self.reject(
                                    line,
                                    format!("invalid UTF-8 in field {}", err.field() + 1),
                                );
                                self.queue.push_back(item);
                                Ok(true)
                            }
                            other => {
                                self.lines_read += 1;
                                let item = self.reject(line, format!("bad CSV: {other:?}"));
                                self.queue.push_back(item);
                                Ok(true)
                            }
                        };
                    }
                }
                if record.iter().all(|f| f.is_empty()) {
                    return Ok(true);
                }
                let Some(layout) = layout.as_mut() else {
                    *layout = Some(CsvLayout::from_header(record));
                    return Ok(true);
                };
                self.lines_read += 1;
                let skipped = layout.row(record, line, &self.label, &mut self.queue);
                self.skipped_values += skipped;
                Ok(true)
            }
        }
    }

    fn read_failed(&mut self, source: io::Error) -> Result<bool, SourceError> {
        self.finished = true;
        // A truncated gzip ends the file; what was read stays.
        if matches!(
            source.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
        ) {
            let line = match &self.inner {
                Inner::Prom { line_no, .. } => line_no + 1,
                Inner::Csv { reader, .. } => reader.position().line(),
            };
            let item = self.reject(line, format!("file ends early: {source}"));
            self.queue.push_back(item);
            return Ok(false);
        }
        Err(SourceError::Read {
            path: self.path.clone(),
            line: self.lines_read,
            source,
        })
    }
}

impl Iterator for MetricReader {
    type Item = Result<MetricItem, SourceError>;

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
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn format_from_name(path: &Path) -> Option<MetricFormat> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = name.rsplit_once('.')?.1;
    match ext {
        "csv" => Some(MetricFormat::Csv),
        "prom" | "om" | "txt" | "metrics" => Some(MetricFormat::Prometheus),
        _ => None,
    }
}

/// Looks at the first non-blank line without consuming it: a comment or a `name{`/`name value`
/// sample is Prometheus, a line with commas and no braces is CSV.
fn sniff(reader: &mut Box<dyn BufRead + Send>) -> io::Result<MetricFormat> {
    let buf = reader.fill_buf()?;
    let text = String::from_utf8_lossy(&buf[..buf.len().min(8192)]);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    Ok(match first {
        Some(l) if l.starts_with('#') || l.starts_with('{') => MetricFormat::Prometheus,
        Some(l) if l.contains(',') && !l.contains('{') => MetricFormat::Csv,
        _ => MetricFormat::Prometheus,
    })
}

/// Reads one line into `buf` (without the newline), keeping at most [`MAX_LINE_BYTES`].
/// Returns the number of bytes dropped, or `None` at the end of the input.
fn read_capped_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    buf.clear();
    let mut dropped = 0usize;
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            if !any {
                return Ok(None);
            }
            break;
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&c| c == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        let take = chunk.len().min(MAX_LINE_BYTES.saturating_sub(buf.len()));
        buf.extend_from_slice(&chunk[..take]);
        dropped += chunk.len() - take;
        let consumed = done.unwrap_or(available.len());
        reader.consume(consumed);
        if done.is_some() {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(dropped))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Col {
    /// Not decided yet: every cell so far was empty or NaN.
    Unknown,
    Label,
    Value,
    /// A second time-like column, or the long layout's fixed columns.
    Ignored,
}

#[derive(Debug)]
enum Shape {
    Wide,
    Long {
        name: usize,
        value: usize,
        labels: Option<usize>,
    },
}

#[derive(Debug)]
struct CsvLayout {
    header: Vec<String>,
    /// Time-like columns in order of preference; the first whose first value parses is kept.
    time_candidates: Vec<usize>,
    time: Option<usize>,
    cols: Vec<Col>,
    shape: Shape,
}

impl CsvLayout {
    fn from_header(header: &csv::StringRecord) -> CsvLayout {
        let names: Vec<String> = header.iter().map(str::to_string).collect();
        let normalised: Vec<String> = names.iter().map(|n| norm_key(n)).collect();
        let find = |wanted: &[&str]| {
            wanted
                .iter()
                .find_map(|w| normalised.iter().position(|n| n == w))
        };
        let mut time_candidates = Vec::new();
        for t in TIME_COLUMNS {
            time_candidates.extend(
                normalised
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n == t)
                    .map(|(i, _)| i),
            );
        }
        let mut cols: Vec<Col> = normalised
            .iter()
            .map(|n| {
                if LABEL_COLUMNS.contains(&n.as_str()) {
                    Col::Label
                } else {
                    Col::Unknown
                }
            })
            .collect();
        for &i in &time_candidates {
            cols[i] = Col::Ignored;
        }
        let shape = match (find(&["name", "metric", "metricname"]), find(&["value"])) {
            (Some(name), Some(value)) => {
                let labels = find(&["labels"]);
                for i in [Some(name), Some(value), labels].into_iter().flatten() {
                    cols[i] = Col::Ignored;
                }
                // Every other column of a long CSV is a label.
                for c in cols.iter_mut() {
                    if *c == Col::Unknown {
                        *c = Col::Label;
                    }
                }
                Shape::Long {
                    name,
                    value,
                    labels,
                }
            }
            _ => Shape::Wide,
        };
        CsvLayout {
            header: names,
            time_candidates,
            time: None,
            cols,
            shape,
        }
    }

    /// Turns one data row into points (pushed on `out`); returns the number of skipped cells.
    fn row(
        &mut self,
        record: &csv::StringRecord,
        line: u64,
        file: &str,
        out: &mut VecDeque<MetricItem>,
    ) -> u64 {
        let reject = |reason: String| {
            MetricItem::Rejected(Rejected {
                file: file.to_string(),
                line,
                reason,
            })
        };
        if record.len() > self.header.len() {
            out.push_back(reject(format!(
                "row has {} fields, the header {}",
                record.len(),
                self.header.len()
            )));
            return 0;
        }
        let cell = |i: usize| record.get(i).unwrap_or("");
        if self.time.is_none() {
            self.time = self
                .time_candidates
                .iter()
                .copied()
                .find(|&i| parse_timestamp(cell(i)).is_some())
                .or(self.time_candidates.first().copied());
        }
        let Some(time_col) = self.time else {
            out.push_back(reject(
                "the header has no time column (timestamp, ts or time)".into(),
            ));
            return 0;
        };
        let time_text = cell(time_col);
        let Some(ts_ns) = parse_timestamp(time_text) else {
            out.push_back(reject(format!(
                "bad time {time_text:?} in column {}",
                self.header[time_col]
            )));
            return 0;
        };
        // Undecided columns take the type of their first non-empty, non-NaN cell.
        for (i, col) in self.cols.iter_mut().enumerate() {
            if *col == Col::Unknown {
                let v = cell(i);
                if !v.is_empty() && !v.eq_ignore_ascii_case("nan") {
                    *col = if parse_value(v).is_some() {
                        Col::Value
                    } else {
                        Col::Label
                    };
                }
            }
        }
        let mut labels = BTreeMap::new();
        for (i, col) in self.cols.iter().enumerate() {
            if *col == Col::Label && !cell(i).is_empty() {
                labels.insert(self.header[i].clone(), cell(i).to_string());
            }
        }
        let mut skipped = 0;
        match self.shape {
            Shape::Wide => {
                let mut bad = Vec::new();
                for (i, col) in self.cols.iter().enumerate() {
                    if *col != Col::Value {
                        continue;
                    }
                    let text = cell(i);
                    match parse_value(text) {
                        _ if text.is_empty() => skipped += 1,
                        Some(v) if v.is_nan() => skipped += 1,
                        Some(v) => out.push_back(MetricItem::Point(point(
                            self.header[i].clone(),
                            labels.clone(),
                            ts_ns,
                            v,
                        ))),
                        None => bad.push(format!("{}={text:?}", self.header[i])),
                    }
                }
                if !bad.is_empty() {
                    out.push_back(reject(format!("not a number: {}", bad.join(", "))));
                }
            }
            Shape::Long {
                name,
                value,
                labels: labels_col,
            } => {
                let name = cell(name);
                if name.is_empty() {
                    out.push_back(reject("empty metric name".into()));
                    return 0;
                }
                if let Some(l) = labels_col {
                    match parse_labels(cell(l)) {
                        Ok(parsed) => labels.extend(parsed),
                        Err(e) => {
                            out.push_back(reject(format!("bad labels: {e}")));
                            return 0;
                        }
                    }
                }
                let text = cell(value);
                match parse_value(text) {
                    _ if text.is_empty() => skipped += 1,
                    Some(v) if v.is_nan() => skipped += 1,
                    Some(v) => {
                        out.push_back(MetricItem::Point(point(name.to_string(), labels, ts_ns, v)))
                    }
                    None => out.push_back(reject(format!("bad value {text:?}"))),
                }
            }
        }
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn read_str(
        name: &str,
        text: &str,
        options: MetricReadOptions,
    ) -> (Vec<MetricPoint>, Vec<Rejected>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        collect(&path, options)
    }

    fn collect(path: &Path, options: MetricReadOptions) -> (Vec<MetricPoint>, Vec<Rejected>) {
        let mut points = vec![];
        let mut rejects = vec![];
        for item in read_metrics(path, "m", options).unwrap() {
            match item.unwrap() {
                MetricItem::Point(p) => points.push(p),
                MetricItem::Rejected(r) => rejects.push(r),
            }
        }
        (points, rejects)
    }

    const PROM: &str = r#"# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9
# Minimalistic line:
metric_without_timestamp_and_labels 12.47
# A histogram
http_request_duration_seconds_bucket{le="+Inf",service="checkout"} 144320
rpc_duration_seconds{quantile="0.5"} NaN
process_max_fds +Inf
container_cpu_usage_seconds_total{job="kubelet",namespace="shop",pod="checkout-7d9f8b6c5d-x2x9k",} 3.5
bad_line{method="post" 1
no_value_here
"#;

    #[test]
    fn prometheus_text_exposition() {
        let scrape = 1_700_000_000_000_000_000;
        let (points, rejects) = read_str(
            "scrape.prom",
            PROM,
            MetricReadOptions {
                scrape_time_ns: Some(scrape),
                ..Default::default()
            },
        );
        assert_eq!(points.len(), 7, "{points:#?}");
        assert_eq!(
            points[0].series_key(),
            r#"http_requests_total{code="200",method="post"}"#
        );
        assert_eq!(points[0].ts_ns, 1_395_066_363_000_000_000);
        assert_eq!(points[0].value, 1027.0);
        assert_eq!(points[2].labels["path"], r"C:\DIR\FILE.TXT");
        assert_eq!(points[2].labels["error"], "Cannot find file:\n\"FILE.TXT\"");
        assert_eq!(points[2].ts_ns, scrape);
        assert_eq!(points[3].name, "metric_without_timestamp_and_labels");
        assert_eq!(points[3].entity, None);
        assert_eq!(points[4].entity.as_deref(), Some("checkout"));
        assert_eq!(points[5].value, f64::INFINITY);
        // pod wins over job, and the pod name maps to its workload.
        assert_eq!(points[6].entity.as_deref(), Some("checkout"));
        let lines: Vec<u64> = rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![15, 16], "{rejects:?}");
        assert!(rejects[0].reason.contains("label"), "{}", rejects[0].reason);
        assert!(
            rejects[1].reason.contains("no value"),
            "{}",
            rejects[1].reason
        );
    }

    #[test]
    fn openmetrics_seconds_exemplars_and_missing_scrape_time() {
        let text = "# TYPE foo counter\n\
                    foo_total{a=\"1\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
                    {\"my.dotted.metric\",service=\"api\"} 2\n\
                    bar 1\n\
                    # EOF\n";
        let (points, rejects) = read_str("x.om", text, MetricReadOptions::default());
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].ts_ns, 1_520_879_607_789_000_000);
        assert_eq!(rejects.len(), 2);
        assert!(rejects[0].reason.contains("no scrape time"));
        let (points, _) = read_str(
            "x.om",
            text,
            MetricReadOptions {
                scrape_time_ns: Some(5),
                ..Default::default()
            },
        );
        assert_eq!(points[1].name, "my.dotted.metric");
        assert_eq!(points[1].entity.as_deref(), Some("api"));
    }

    /// Real rows of Nezha TrainTicket (`metric/2023-01-29/ts-preserve-service-..._metric.csv.gz`),
    /// cut to a few columns, plus a front-end SLI row in the same file.
    const NEZHA_WIDE: &str = "Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),PodServerLatencyP90(s),PodWorkload(Ops),Scope,SuccessRate(%)
2023-01-29 08:41:10.27442608 +0000 UTC m=+1.350587940,1674981670,ts-preserve-service-b5ccf8557-j4txs,2.56444527076435,0.512876845706174,441.21875,NaN,0,,
2023-01-29 08:42:09.909844034 +0000 UTC m=+60.986005894,1674981729,ts-preserve-service-b5ccf8557-j4txs,2.6302882420896028,0.5260576484179206,441.21875,NaN,0,,
2023-01-29 08:43:10.602505892 +0000 UTC m=+121.678667759,1674981790,ts-preserve-service-b5ccf8557-j4txs,3.76100114104228,0.7521682283689143,442.625,0.475,0.19993335554815062,,
2023-01-29 08:44:09.911632152 +0000 UTC m=+180.987794013,1674981849,ts-preserve-service-b5ccf8557-j4txs,4.2059213000001705,oops,443.109375,NaN,0,,
,1674981669,,,,,,,frontend,0
";

    #[test]
    fn csv_wide_nezha_rows() {
        let (points, rejects) = read_str("m.csv", NEZHA_WIDE, MetricReadOptions::default());
        // 4 pod rows × 5 value columns, minus 3 NaN latencies, minus one bad cell; + 1 SLI.
        assert_eq!(points.len(), 4 * 5 - 3 - 1 + 1, "{points:#?}");
        let cpu: Vec<&MetricPoint> = points
            .iter()
            .filter(|p| p.name == "CpuUsageRate(%)")
            .collect();
        assert_eq!(cpu.len(), 3);
        assert_eq!(cpu[0].ts_ns, 1_674_981_670_000_000_000);
        assert_eq!(cpu[0].value, 0.512876845706174);
        assert_eq!(cpu[0].entity.as_deref(), Some("ts-preserve-service"));
        assert_eq!(
            cpu[0].series_key(),
            r#"CpuUsageRate(%){PodName="ts-preserve-service-b5ccf8557-j4txs"}"#
        );
        // The Go-formatted `Time` column is neither the time nor a label.
        assert!(points.iter().all(|p| !p.labels.contains_key("Time")));
        let sli = points.iter().find(|p| p.name == "SuccessRate(%)").unwrap();
        assert_eq!(sli.entity, None);
        assert_eq!(sli.labels["Scope"], "frontend");
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 5);
        assert!(rejects[0].reason.contains("CpuUsageRate(%)=\"oops\""));
    }

    #[test]
    fn csv_wide_gzip_rfc3339_and_bad_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.dat");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(
            b"time,service,latency_p99_ms,errors\n\
              2024-03-01T10:00:00Z,checkout,120.5,0\n\
              yesterday,checkout,1,1\n\
              2024-03-01T10:01:00.500Z,checkout,,3\n",
        )
        .unwrap();
        std::fs::write(&path, enc.finish().unwrap()).unwrap();
        let (points, rejects) = collect(&path, MetricReadOptions::default());
        assert_eq!(points.len(), 3);
        assert_eq!(points[2].ts_ns, 1_709_287_260_500_000_000);
        assert!(
            points
                .iter()
                .all(|p| p.entity.as_deref() == Some("checkout"))
        );
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 3);
        assert!(rejects[0].reason.contains("bad time"));
    }

    #[test]
    fn csv_long_both_label_syntaxes() {
        let text = "ts,name,labels,value\n\
                    1700000000,cpu,pod=api-5d9c7b8f6d-abcde;container=app,0.5\n\
                    1700000060000,cpu,\"{pod=\"\"api-5d9c7b8f6d-abcde\"\",container=\"\"app\"\"}\",0.7\n\
                    1700000120,cpu,pod=api-5d9c7b8f6d-abcde;container=app,NaN\n\
                    1700000180,cpu,{pod=unquoted},1\n\
                    1700000240,,pod=x,1\n";
        let (points, rejects) = read_str("long.csv", text, MetricReadOptions::default());
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].series_key(), points[1].series_key());
        assert_eq!(points[1].ts_ns, 1_700_000_060_000_000_000);
        assert_eq!(points[0].entity.as_deref(), Some("api"));
        let lines: Vec<u64> = rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![5, 6]);
    }

    #[test]
    fn parse_labels_forms() {
        let l = parse_labels("a=1; b = \"x y\"").unwrap();
        assert_eq!((l["a"].as_str(), l["b"].as_str()), ("1", "x y"));
        let l = parse_labels(r#"{a="1",b="q\"uote"}"#).unwrap();
        assert_eq!(l["b"], "q\"uote");
        assert!(parse_labels("novalue").is_err());
        assert!(parse_labels("").unwrap().is_empty());
    }

    #[test]
    fn entity_preference() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            entity_of(&labels(&[
                ("instance", "10.0.0.1:9100"),
                ("service.name", "cart")
            ])),
            Some("cart".into())
        );
        assert_eq!(
            entity_of(&labels(&[("instance", "10.0.0.1:9100")])),
            Some("10.0.0.1:9100".into())
        );
        assert_eq!(entity_of(&labels(&[("le", "0.5")])), None);
        assert_eq!(
            entity_of(&labels(&[("pod_name", "redis-0"), ("job", "kubelet")])),
            Some("redis".into())
        );
    }
}
