//! Streaming reader: one file (plain or gzip) in, records and rejected lines out.
//!
//! Per physical line: cap at [`MAX_LINE_BYTES`], reject binary data and invalid UTF-8, unwrap
//! container runtime framing (joining CRI/json-file partial lines), join continuation lines
//! (stack traces) onto the record before them, then parse in the file's format. A record is
//! emitted when the next one starts, so continuation lines can still be added to it.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use rootline_core::frames::{
    PYTHON_TRACEBACK_HEADER, make_room_for_traceback, without_oslo_instance_tag,
};
use rootline_core::{LogRecord, Provenance};

use crate::MAX_LINE_BYTES;
use crate::formats::container::{self, ContainerLine, KubeletPath, Stream};
use crate::formats::csv::{self as csvfmt, CsvLayout};
use crate::formats::multiline::{self, Block, Continuation};
use crate::formats::timestamp::now_ns;
use crate::formats::{LogFormat, ReaderOptions, parse_logical};
use crate::parse::{LineContext, ParseError, ParsedLine, service_from_pod};

/// A record's message stops growing past this many bytes of continuation lines (a runaway
/// stack trace or a block that never ends); the rest is counted but dropped.
pub const MAX_RECORD_BYTES: usize = 4 * MAX_LINE_BYTES;

/// A line that could not be used, with where it was and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rejected {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

#[derive(Debug)]
pub enum Item {
    Record(LogRecord),
    Rejected(Rejected),
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path}: read failed after line {line}: {source}")]
    Read {
        path: PathBuf,
        line: u64,
        source: io::Error,
    },
}

/// How the lines of a file are read, once the start of the file has been sniffed.
enum Mode {
    /// Not sniffed yet.
    Unknown,
    Lines(LogFormat),
    /// The next non-empty line is the CSV header (already resolved when sniffed).
    CsvHeader(Option<CsvLayout>),
    Csv(CsvLayout),
    /// The header could not be used: every line is rejected with this reason.
    CsvBroken(String),
}

/// A container line whose runtime split it (`P`), waiting for the rest.
struct Partial {
    line: u64,
    raw: String,
    ts_ns: i64,
    stream: Stream,
    content: String,
    dropped: usize,
}

/// Streams a log file. Lines that continue a record (indented lines, Java `Caused by:`, Python
/// tracebacks, Go panics) are joined onto it, so an exception stays one record instead of
/// thirty rejects.
pub struct FileReader {
    path: PathBuf,
    label: String,
    default_service: String,
    default_host: Option<String>,
    options: ReaderOptions,
    now_ns: i64,
    mode: Mode,
    reader: Box<dyn BufRead + Send>,
    line_no: u64,
    buf: Vec<u8>,
    pending: Option<LogRecord>,
    pending_truncated: bool,
    /// The pending record is text and the line before this one went into it: a line without a
    /// timestamp that follows is the rest of its message (see [`Self::handle_logical`]).
    pending_continues: bool,
    block: Option<Block>,
    partials: Vec<Partial>,
    csv_carry: Option<(u64, String)>,
    out: VecDeque<Item>,
    deferred_error: Option<SourceError>,
    finished: bool,
    /// Physical non-blank lines read so far.
    pub lines_read: u64,
    /// Continuation lines joined onto the record before them (CRI/json-file partial pieces
    /// and multi-line CSV fields included).
    pub lines_joined: u64,
    /// Lines (or logical lines) rejected.
    pub lines_rejected: u64,
    /// Bytes read (decompressed).
    pub bytes_read: u64,
}

impl FileReader {
    /// Opens `path` in auto-detected format; `label` is the name recorded in provenance (and so
    /// in evidence ids), and `default_service` is used for lines that name no service.
    pub fn open(
        path: &Path,
        label: impl Into<String>,
        default_service: impl Into<String>,
    ) -> Result<FileReader, SourceError> {
        FileReader::open_with(path, label, ReaderOptions::new(default_service))
    }

    /// Opens `path` with explicit options (format override, JSON keys, CSV columns, year).
    pub fn open_with(
        path: &Path,
        label: impl Into<String>,
        options: ReaderOptions,
    ) -> Result<FileReader, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::with_capacity(64 * 1024, File::open(path).map_err(open_err)?);
        let is_gzip = file
            .fill_buf()
            .map_err(open_err)?
            .starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead + Send> = if is_gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                MultiGzDecoder::new(file),
            ))
        } else {
            Box::new(file)
        };
        let mut reader = FileReader::with_reader(path.to_path_buf(), label.into(), reader, options);
        // kubelet's paths name the pod: better than a file name such as `0.log`, but an explicit
        // service (anything other than the file-name default) still wins.
        if let Some(k) = KubeletPath::from_path(path) {
            if reader.default_service.is_empty()
                || reader.default_service == FileReader::service_from_file_name(path)
            {
                reader.default_service = service_from_pod(&k.pod);
            }
            reader.default_host = Some(k.pod);
        }
        Ok(reader)
    }

    /// Reads log text that is already in memory (an HTTP request body) exactly like a file:
    /// same format sniffing, multi-line joining (stack traces), line cap and rejects. `label`
    /// names it in provenance, evidence ids and rejects.
    pub fn from_bytes(
        label: impl Into<String>,
        bytes: impl Into<Vec<u8>>,
        options: ReaderOptions,
    ) -> FileReader {
        FileReader::from_reader(label, io::Cursor::new(bytes.into()), options)
    }

    /// Reads any buffered stream (already decompressed) like a file; see [`FileReader::from_bytes`].
    pub fn from_reader(
        label: impl Into<String>,
        reader: impl BufRead + Send + 'static,
        options: ReaderOptions,
    ) -> FileReader {
        let label = label.into();
        FileReader::with_reader(PathBuf::from(&label), label, Box::new(reader), options)
    }

    fn with_reader(
        path: PathBuf,
        label: String,
        reader: Box<dyn BufRead + Send>,
        options: ReaderOptions,
    ) -> FileReader {
        FileReader {
            path,
            label,
            default_service: options.default_service.clone(),
            default_host: None,
            options,
            now_ns: now_ns(),
            mode: Mode::Unknown,
            reader,
            line_no: 0,
            buf: Vec::with_capacity(4096),
            pending: None,
            pending_truncated: false,
            pending_continues: false,
            block: None,
            partials: Vec::new(),
            csv_carry: None,
            out: VecDeque::new(),
            deferred_error: None,
            finished: false,
            lines_read: 0,
            lines_joined: 0,
            lines_rejected: 0,
            bytes_read: 0,
        }
    }

    /// The service name a file implies: its name without extensions (`checkout.log.gz` → `checkout`).
    pub fn service_from_file_name(path: &Path) -> String {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.split('.').next().unwrap_or("unknown").to_string()
    }

    /// The format lines are read in: the override, or `Csv` when auto-detection found a header
    /// (known after the first item).
    pub fn format(&self) -> LogFormat {
        match &self.mode {
            Mode::Unknown | Mode::Lines(_) => self.options.format,
            _ => LogFormat::Csv,
        }
    }

    fn ctx(&self, format: LogFormat) -> LineContext<'_> {
        LineContext {
            default_service: &self.default_service,
            default_host: self.default_host.as_deref(),
            format,
            json_mapping: Some(&self.options.json_mapping),
            reference_year: self.options.reference_year,
            now_ns: Some(self.now_ns),
            fallback_ts_ns: None,
            stream: None,
        }
    }

    /// Decides the mode from the override or, for `Auto`, from the first lines (a CSV header?).
    fn sniff(&mut self) {
        self.mode = match self.options.format {
            LogFormat::Csv => Mode::CsvHeader(None),
            LogFormat::Auto => {
                let head: Vec<String> = match self.reader.fill_buf() {
                    Ok(data) => data
                        .split(|&c| c == b'\n')
                        .filter_map(|l| std::str::from_utf8(l).ok())
                        .map(|l| l.trim_end_matches('\r'))
                        .filter(|l| !l.trim().is_empty())
                        .take(2)
                        .map(str::to_string)
                        .collect(),
                    Err(_) => Vec::new(),
                };
                let lines: Vec<&str> = head.iter().map(String::as_str).collect();
                match csvfmt::sniff(&lines, &self.ctx(LogFormat::Csv)) {
                    Some(layout) => Mode::CsvHeader(Some(layout)),
                    None => Mode::Lines(LogFormat::Auto),
                }
            }
            other => Mode::Lines(other),
        };
    }

    /// Reads one physical line into `self.buf`, capped at [`MAX_LINE_BYTES`]. Returns the number
    /// of bytes cut off, or `None` at EOF.
    fn read_physical_line(&mut self) -> io::Result<Option<usize>> {
        self.buf.clear();
        let mut dropped = 0usize;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if self.buf.is_empty() && dropped == 0 {
                    return Ok(None);
                }
                break;
            }
            let (chunk, done) = match memchr_newline(available) {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            let room = MAX_LINE_BYTES.saturating_sub(self.buf.len());
            let take = chunk.len().min(room);
            self.buf.extend_from_slice(&chunk[..take]);
            dropped += chunk.len() - take;
            let consumed = done.unwrap_or(available.len());
            self.bytes_read += consumed as u64;
            self.reader.consume(consumed);
            if done.is_some() {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(dropped))
    }

    fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.lines_rejected += 1;
        self.pending_continues = false;
        self.out.push_back(Item::Rejected(Rejected {
            file: self.label.clone(),
            line,
            reason: reason.into(),
        }));
    }

    /// Makes `p` the pending record and emits the one before it.
    fn emit(&mut self, p: ParsedLine, line: u64, raw: &str) {
        let provenance = Provenance {
            source: self.label.clone(),
            line,
        };
        let evidence_id = LogRecord::compute_evidence_id(&provenance, raw);
        let record = LogRecord {
            evidence_id,
            ts_ns: p.ts_ns,
            service: p.service,
            host: p.host,
            level: p.level,
            message: p.message,
            template_id: None,
            trace_id: p.trace_id,
            approximate_time: false,
            module: p.module,
            provenance,
        };
        self.pending_truncated = false;
        if let Some(prev) = self.pending.replace(record) {
            self.out.push_back(Item::Record(prev));
        }
    }

    /// Appends a continuation line to the pending record (which must exist).
    fn join(&mut self, content: &str) {
        self.lines_joined += 1;
        let Some(prev) = self.pending.as_mut() else {
            return;
        };
        let content = content.trim_end();
        if prev.message.len() + 1 + content.len() <= MAX_RECORD_BYTES {
            prev.message.push('\n');
            prev.message.push_str(content);
        } else if !self.pending_truncated {
            prev.message
                .push_str("\n…[further continuation lines dropped]");
            self.pending_truncated = true;
        }
    }

    /// One physical line, already checked to be non-blank text.
    fn handle(&mut self, line: u64, raw: &str) {
        match std::mem::replace(&mut self.mode, Mode::Unknown) {
            Mode::Unknown => {
                self.sniff();
                self.handle(line, raw);
            }
            Mode::Lines(format) => {
                self.mode = Mode::Lines(format);
                self.handle_line(line, raw, format);
            }
            Mode::CsvHeader(layout) => {
                let layout = match layout {
                    Some(l) => Ok(l),
                    None => CsvLayout::from_header(raw, self.options.csv.as_ref()),
                };
                self.mode = match layout {
                    Ok(l) => Mode::Csv(l),
                    Err(reason) => {
                        self.reject(line, reason.clone());
                        Mode::CsvBroken(reason)
                    }
                };
            }
            Mode::CsvBroken(reason) => {
                self.reject(line, reason.clone());
                self.mode = Mode::CsvBroken(reason);
            }
            Mode::Csv(layout) => {
                self.handle_csv(line, raw, &layout);
                self.mode = Mode::Csv(layout);
            }
        }
    }

    fn handle_csv(&mut self, line: u64, raw: &str, layout: &CsvLayout) {
        // A quoted field may span lines: carry them until the quotes balance.
        let (line, text): (u64, Cow<'_, str>) = match self.csv_carry.take() {
            Some((start, mut carried)) => {
                carried.push('\n');
                carried.push_str(raw);
                self.lines_joined += 1;
                if !csvfmt::is_complete(&carried) {
                    self.csv_carry = Some((start, carried));
                    return;
                }
                (start, Cow::Owned(carried))
            }
            None if !csvfmt::is_complete(raw) => {
                self.csv_carry = Some((line, raw.to_string()));
                return;
            }
            None => (line, Cow::Borrowed(raw)),
        };
        let result = layout.parse(&text, &self.ctx(LogFormat::Csv), &mut Vec::new());
        match result {
            Ok(p) => self.emit(p, line, &text),
            Err(e) => self.reject(line, e.to_string()),
        }
    }

    fn handle_line(&mut self, line: u64, raw: &str, format: LogFormat) {
        if matches!(format, LogFormat::Auto | LogFormat::Container) {
            let unwrapped = container::unwrap(raw, &self.ctx(format));
            match unwrapped {
                Some(Ok(c)) => return self.handle_container(line, raw, c),
                Some(Err(e)) => return self.reject(line, e.to_string()),
                None if format == LogFormat::Container => {
                    return self.reject(line, ParseError::NotContainer.to_string());
                }
                None => {}
            }
        }
        self.handle_logical(line, raw, raw, format, None);
    }

    fn handle_container(&mut self, line: u64, raw: &str, c: ContainerLine<'_>) {
        let slot = self.partials.iter().position(|p| p.stream == c.stream);
        if c.partial {
            self.lines_joined += u64::from(slot.is_some());
            match slot {
                Some(i) => {
                    let p = &mut self.partials[i];
                    let room = MAX_LINE_BYTES.saturating_sub(p.content.len());
                    let take = floor_char_boundary(&c.content, room);
                    p.content.push_str(&c.content[..take]);
                    p.dropped += c.content.len() - take;
                }
                None => self.partials.push(Partial {
                    line,
                    raw: raw.to_string(),
                    ts_ns: c.ts_ns,
                    stream: c.stream,
                    content: c.content.into_owned(),
                    dropped: 0,
                }),
            }
            return;
        }
        match slot {
            Some(i) => {
                let mut p = self.partials.swap_remove(i);
                self.lines_joined += 1;
                let room = MAX_LINE_BYTES.saturating_sub(p.content.len());
                let take = floor_char_boundary(&c.content, room);
                p.content.push_str(&c.content[..take]);
                p.dropped += c.content.len() - take;
                self.finish_partial(p);
            }
            None => {
                let wrapper = Some((c.ts_ns, c.stream));
                self.handle_logical(line, raw, &c.content, LogFormat::Auto, wrapper);
            }
        }
    }

    fn finish_partial(&mut self, mut p: Partial) {
        if p.dropped > 0 {
            p.content
                .push_str(&format!(" …[truncated {} bytes]", p.dropped));
        }
        let wrapper = Some((p.ts_ns, p.stream));
        self.handle_logical(p.line, &p.raw, &p.content, LogFormat::Auto, wrapper);
    }

    /// One logical line: `content` is the application's text (inside any container wrapper),
    /// `raw` the physical line its evidence id is computed from.
    fn handle_logical(
        &mut self,
        line: u64,
        raw: &str,
        content: &str,
        format: LogFormat,
        wrapper: Option<(i64, Stream)>,
    ) {
        if content.trim().is_empty() {
            return;
        }
        if self.pending.is_some() {
            match multiline::classify(content) {
                Continuation::Join => return self.join(content),
                Continuation::Start(block) => {
                    self.join(content);
                    self.block = Some(block);
                    return;
                }
                Continuation::No => {}
            }
        }
        let result = {
            let mut ctx = self.ctx(format);
            if let Some((ts, stream)) = wrapper {
                ctx.fallback_ts_ns = Some(ts);
                ctx.stream = Some(stream);
            }
            parse_logical(content, &ctx)
        };
        // Inside a traceback or panic, a line without its own timestamp belongs to it.
        let in_block = self.block.is_some() && self.pending.is_some();
        match result {
            Ok((p, own_ts)) => {
                if in_block && !own_ts {
                    return self.join_in_block(content);
                }
                if let Some(line) = self
                    .pending
                    .as_ref()
                    .and_then(|prev| prefixed_traceback_line(prev, &p))
                {
                    let line = line.to_string();
                    if line.starts_with(PYTHON_TRACEBACK_HEADER)
                        && let Some(prev) = self.pending.as_mut()
                    {
                        make_room_for_traceback(&mut prev.message, MAX_RECORD_BYTES);
                    }
                    return self.join(&line);
                }
                self.block = None;
                self.emit(p, line, raw);
                self.pending_continues = !content.trim_start().starts_with('{');
            }
            Err(ParseError::Empty) => {}
            Err(ParseError::NoLeadingTimestamp) if in_block => self.join_in_block(content),
            // A multi-line message of a text layout: Python's `logging` and oslo.log write the
            // lines after the first as they are ("Exit code: 1", "Stderr: …", an HTTP body a
            // client logged), with no timestamp or indent. They belong to the record above when
            // the line before went into it; after a JSON record or a rejected line, such a line
            // is bad input and rejected. A JSON line whose timestamp does not parse claims to be
            // a record of its own and is rejected too.
            Err(
                ParseError::NoLeadingTimestamp
                | ParseError::MissingTimestamp(_)
                | ParseError::InvalidJson(_),
            ) if self.pending_continues && self.pending.is_some() => self.join(content),
            Err(e) => self.reject(line, e.to_string()),
        }
    }

    fn join_in_block(&mut self, content: &str) {
        self.join(content);
        if self.block == Some(Block::Python) && multiline::ends_python_block(content) {
            self.block = None;
        }
    }

    /// End of input: flush what is still waiting.
    fn finish(&mut self) {
        let mut partials = std::mem::take(&mut self.partials);
        partials.sort_by_key(|p| p.line);
        for p in partials {
            self.finish_partial(p);
        }
        if let Some((line, carried)) = self.csv_carry.take() {
            let reason = format!(
                "csv: quoted field not closed before the end of the file ({} bytes)",
                carried.len()
            );
            self.reject(line, reason);
        }
        if let Some(r) = self.pending.take() {
            self.out.push_back(Item::Record(r));
        }
    }
}

/// The largest index `<= at` that is a char boundary of `s`.
/// A line of a traceback that its logger wrote with the full record prefix, as oslo.log does
/// (`… 8665 ERROR nova.compute.manager [instance: …]   File "…"`): the same instant, level and
/// logger as the record before it, from the `Traceback` line on. Returns the line's own text
/// (after the logger and oslo's repeated `[instance: …]` tag) to join onto that record. A line
/// that carries a request context (`[req-…]`) is a new call, never a continuation.
fn prefixed_traceback_line<'a>(prev: &LogRecord, p: &'a ParsedLine) -> Option<&'a str> {
    let logger = p.module.as_deref()?;
    // oslo.log's exception prefix says ERROR whatever the level of the record that carries the
    // traceback (`LOG.warning(…, exc_info=True)`).
    if prev.ts_ns != p.ts_ns
        || (prev.level != p.level && p.level != rootline_core::Level::Error)
        || prev.module.as_deref() != Some(logger)
        || prev.service != p.service
        || prev.host != p.host
    {
        return None;
    }
    let at = p.message.find(logger)?;
    let body = &p.message[at + logger.len()..];
    let body = body.strip_prefix(' ').unwrap_or(body);
    let body = without_oslo_instance_tag(body);
    if body.starts_with("[req-") {
        return None;
    }
    let opens = body.starts_with(PYTHON_TRACEBACK_HEADER);
    (opens || prev.message.contains(PYTHON_TRACEBACK_HEADER)).then_some(body)
}

fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Position of the first `\n`, eight bytes at a time (the classic "has zero byte" trick on
/// `word ^ 0x0a0a...`): a byte-by-byte scan was a visible share of the parse time.
fn memchr_newline(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut chunks = b.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ NL;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        offset += 8;
    }
    b[offset..]
        .iter()
        .position(|&c| c == b'\n')
        .map(|i| i + offset)
}

/// Why a line is binary data rather than text, if it is.
fn binary_reason(b: &[u8]) -> Option<&'static str> {
    // Fast path (vectorised): most lines have no control bytes at all.
    if !b.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return None;
    }
    let mut nul = 0usize;
    let mut control = 0usize;
    for &c in b {
        nul += usize::from(c == 0);
        // Tab and ESC (colour codes) are normal in logs.
        control += usize::from((c < 0x20 && c != b'\t' && c != 0x1b) || c == 0x7f);
    }
    if nul > 0 {
        Some("binary data (NUL bytes)")
    } else if control * 4 > b.len() {
        Some("binary data (mostly control characters)")
    } else {
        None
    }
}

/// For a line that is not UTF-8: whether it looks like binary rather than text in another
/// encoding (more than half of its bytes control or non-ASCII).
fn mostly_non_text(b: &[u8]) -> bool {
    let odd = b
        .iter()
        .filter(|&&c| c >= 0x80 || (c < 0x20 && c != b'\t'))
        .count();
    odd * 2 > b.len()
}

impl Iterator for FileReader {
    type Item = Result<Item, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.out.pop_front() {
                return Some(Ok(item));
            }
            if self.finished {
                return self.deferred_error.take().map(Err);
            }
            if matches!(self.mode, Mode::Unknown) {
                self.sniff();
            }
            let dropped = match self.read_physical_line() {
                Ok(Some(d)) => d,
                Ok(None) => {
                    self.finished = true;
                    self.finish();
                    continue;
                }
                Err(source) => {
                    self.finished = true;
                    // A truncated gzip or an IO error ends the file; what was read stays.
                    if source.kind() == io::ErrorKind::UnexpectedEof
                        || source.kind() == io::ErrorKind::InvalidInput
                        || source.kind() == io::ErrorKind::InvalidData
                    {
                        let line = self.line_no + 1;
                        self.reject(line, format!("file ends early: {source}"));
                        self.finish();
                        continue;
                    }
                    self.finish();
                    // Records read so far come first; the error ends the stream.
                    self.deferred_error = Some(SourceError::Read {
                        path: self.path.clone(),
                        line: self.line_no,
                        source,
                    });
                    continue;
                }
            };
            self.line_no += 1;
            let line_no = self.line_no;
            let buf = std::mem::take(&mut self.buf);
            self.process_physical(line_no, &buf, dropped);
            self.buf = buf;
        }
    }
}

impl FileReader {
    fn process_physical(&mut self, line_no: u64, bytes: &[u8], dropped: usize) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        self.lines_read += 1;
        if let Some(reason) = binary_reason(bytes) {
            return self.reject(line_no, reason);
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let reason = if mostly_non_text(bytes) {
                    "binary data (not text)".to_string()
                } else {
                    format!("invalid UTF-8 at byte {}", e.valid_up_to())
                };
                return self.reject(line_no, reason);
            }
        };
        if dropped > 0 {
            let marked = format!("{text} …[truncated {dropped} bytes]");
            self.handle(line_no, &marked);
        } else {
            self.handle(line_no, text);
        }
    }
}

/// Reads everything from `r` into a temporary file so that stdin can be ingested like a file.
pub fn spool_to_temp(mut r: impl Read, dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join(format!("stdin-{}.log", std::process::id()));
    let mut f = File::create(&path)?;
    io::copy(&mut r, &mut f)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn collect(path: &Path) -> (Vec<LogRecord>, Vec<Rejected>) {
        let mut recs = vec![];
        let mut rejs = vec![];
        for item in FileReader::open(path, "test.log", "svc").unwrap() {
            match item.unwrap() {
                Item::Record(r) => recs.push(r),
                Item::Rejected(r) => rejs.push(r),
            }
        }
        (recs, rejs)
    }

    #[test]
    fn mixed_file_keeps_good_lines_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"2023-01-29T08:42:22Z ERROR boom\n").unwrap();
        f.write_all(b"    at com.example.Foo.bar(Foo.java:42)\n")
            .unwrap();
        // The rest of a multi-line text message: no timestamp, no indent.
        f.write_all(b"Exit code: 1\n\n").unwrap();
        f.write_all(b"{\"time\":\"2023-01-29T08:42:23Z\",\"msg\":\"ok\"}\n")
            .unwrap();
        // After a JSON record nothing continues: a line without a timestamp is bad input.
        f.write_all(b"garbage without time\n").unwrap();
        f.write_all(b"{\"time\":\n").unwrap();
        f.write_all(b"2023-01-29T08:42:24Z \xff\xfe bad bytes\n")
            .unwrap();
        f.write_all(b"2023-01-29T08:42:25Z INFO last line without newline")
            .unwrap();
        drop(f);
        let (recs, rejs) = collect(&path);
        assert_eq!(recs.len(), 3);
        assert_eq!(
            recs[0].message,
            "ERROR boom\n    at com.example.Foo.bar(Foo.java:42)\nExit code: 1"
        );
        assert_eq!(recs[1].message, "ok");
        assert_eq!(recs[2].provenance.line, 9);
        let lines: Vec<u64> = rejs.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![6, 7, 8]);
        assert!(rejs[0].reason.contains("no timestamp"));
        assert!(rejs[1].reason.contains("invalid JSON"));
        assert!(rejs[2].reason.contains("invalid UTF-8"));
        assert!(rejs.iter().all(|r| r.file == "test.log"));
    }

    #[test]
    fn gzip_and_truncated_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log.gz");
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        for i in 0..200 {
            writeln!(enc, "2023-01-29T08:42:{:02}Z INFO line {i}", i % 60).unwrap();
        }
        let bytes = enc.finish().unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let (recs, rejs) = collect(&path);
        assert_eq!((recs.len(), rejs.len()), (200, 0));

        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let (recs, rejs) = collect(&path);
        assert!(!recs.is_empty() && recs.len() < 200);
        assert_eq!(rejs.len(), 1);
        assert!(rejs[0].reason.contains("file ends early"), "{:?}", rejs[0]);
    }

    #[test]
    fn huge_line_is_truncated_with_marker() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let long = format!(
            "2023-01-29T08:42:22Z INFO {}\n2023-01-29T08:42:23Z INFO next\n",
            "x".repeat(MAX_LINE_BYTES * 2)
        );
        std::fs::write(&path, long).unwrap();
        let (recs, rejs) = collect(&path);
        assert_eq!((recs.len(), rejs.len()), (2, 0));
        assert!(recs[0].message.ends_with("bytes]"));
        assert!(recs[0].message.len() < MAX_LINE_BYTES + 100);
        assert_eq!(recs[1].message, "INFO next");
    }

    #[test]
    fn bytes_in_memory_read_like_a_file() {
        let body = b"2023-01-29T08:42:22Z ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)\n2023-01-29T08:42:23Z INFO ok\n{\"time\":\"2023-01-29T08:42:24Z\",\"msg\":\"j\"}\nno time\n".to_vec();
        let reader = FileReader::from_bytes("http:req-1", body, ReaderOptions::new("api"));
        let items: Vec<Item> = reader.map(Result::unwrap).collect();
        let recs: Vec<&LogRecord> = items
            .iter()
            .filter_map(|i| match i {
                Item::Record(r) => Some(r),
                Item::Rejected(_) => None,
            })
            .collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(
            recs[0].message,
            "ERROR boom\njava.lang.IllegalStateException: x\n\tat a.B.c(B.java:1)"
        );
        assert_eq!(recs[0].provenance.source, "http:req-1");
        assert_eq!(recs[0].service, "api");
        assert_eq!(recs[1].provenance.line, 4);
        let rejects: Vec<(u64, &str)> = items
            .iter()
            .filter_map(|i| match i {
                Item::Rejected(r) => Some((r.line, r.file.as_str())),
                Item::Record(_) => None,
            })
            .collect();
        // After a JSON record a line without a timestamp continues nothing.
        assert_eq!(rejects, vec![(6, "http:req-1")]);
    }

    /// The records a file of `body` yields, rejected lines left out.
    fn records_of(file: &str, body: String, service: &str) -> Vec<LogRecord> {
        FileReader::from_bytes(file, body.into_bytes(), ReaderOptions::new(service))
            .map(Result::unwrap)
            .filter_map(|i| match i {
                Item::Record(r) => Some(r),
                Item::Rejected(_) => None,
            })
            .collect()
    }

    /// oslo.log writes each line of a traceback with the record's full prefix; they are one
    /// event with its header. A new call at the same instant (its own request context) and a
    /// record of another logger are not joined.
    #[test]
    fn a_traceback_written_with_a_prefix_per_line_is_one_record() {
        let head = "2018-09-13 19:43:56.829 8665 ERROR nova.compute.manager";
        let body = format!(
            "{head} [req-d6d1 5050 e20e - 43b6 43b6] [instance: 347a] Instance failed to spawn: NovaException: Unsupported VIF type\n\
             {head} [instance: 347a] Traceback (most recent call last):\n\
             {head} [instance: 347a]   File \"/usr/lib/python2.7/site-packages/nova/network/os_vif_util.py\", line 486, in nova_to_osvif_vif\n\
             {head} [instance: 347a]     {{'type': vif['type'], 'func': funcname}})\n\
             {head} [instance: 347a] NovaException: Unsupported VIF type unbound\n\
             {head} [req-aaaa - - - - -] Another failure\n\
             2018-09-13 19:43:56.829 8665 ERROR nova.virt.libvirt.driver [instance: 347a] Traceback (most recent call last):\n\
             2018-09-13 19:43:56.900 8665 INFO nova.compute.manager [req-bbbb - - - - -] Took 1.0 seconds\n\
             2018-09-13 19:43:57.000 8665 WARNING cinder.volume.manager [req-cccc - - - - -] Task failed\n\
             2018-09-13 19:43:57.000 8665 ERROR cinder.volume.manager Traceback (most recent call last):\n\
             2018-09-13 19:43:57.000 8665 ERROR cinder.volume.manager ValueError: x\n"
        );
        let recs = records_of("nova-compute.log", body, "nova");
        let messages: Vec<&str> = recs.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(recs.len(), 5, "{messages:#?}");
        assert!(
            recs[0].message.ends_with(
                "Unsupported VIF type\nTraceback (most recent call last):\n  File \"/usr/lib/python2.7/site-packages/nova/network/os_vif_util.py\", line 486, in nova_to_osvif_vif\n    {'type': vif['type'], 'func': funcname})\nNovaException: Unsupported VIF type unbound"
            ),
            "{messages:#?}"
        );
        assert_eq!(
            rootline_core::frames::stack_frame_modules(&recs[0].message),
            ["nova.network.os_vif_util"]
        );
        assert!(recs[1].message.ends_with("Another failure"));
        assert_eq!(recs[2].module.as_deref(), Some("nova.virt.libvirt.driver"));
        assert_eq!(recs[3].level, rootline_core::Level::Info);
        // A warning that carries a traceback: oslo writes the traceback lines as ERROR.
        assert_eq!(recs[4].level, rootline_core::Level::Warn);
        assert!(
            recs[4]
                .message
                .ends_with("Task failed\nTraceback (most recent call last):\nValueError: x"),
            "{messages:#?}"
        );
    }

    /// A record whose text already fills the record budget (a state dump) still gets its
    /// traceback: the text before it is cut, and no traceback line becomes a record of its own.
    #[test]
    fn a_traceback_after_a_huge_message_is_still_joined() {
        let head = "2018-09-28 23:07:53.730 29147";
        let mut body = format!(
            "{head} WARNING cinder.volume.manager [req-240d - - - - -] Task 'create' transitioned into state 'FAILURE'\n"
        );
        let dump = "x".repeat(1000);
        for _ in 0..(MAX_RECORD_BYTES / 1000 + 10) {
            body.push_str(&format!("  |__Atom {dump}\n"));
        }
        body.push_str(&format!(
            "{head} ERROR cinder.volume.manager Traceback (most recent call last):\n\
             {head} ERROR cinder.volume.manager   File \"/usr/lib/python2.7/site-packages/cinder/volume/flows/manager/create_volume.py\", line 560, in f\n\
             {head} ERROR cinder.volume.manager ImageCopyFailure: Failed to copy image to volume\n"
        ));
        let recs = records_of("cinder-volume.log", body, "cinder");
        assert_eq!(
            recs.len(),
            1,
            "{:?}",
            recs.iter().map(|r| r.message.len()).collect::<Vec<_>>()
        );
        assert!(
            recs[0].message.len() <= MAX_RECORD_BYTES,
            "{}",
            recs[0].message.len()
        );
        assert_eq!(
            rootline_core::frames::stack_frame_modules(&recs[0].message),
            ["cinder.volume.flows.manager.create_volume"]
        );
        assert!(
            recs[0]
                .message
                .ends_with("ImageCopyFailure: Failed to copy image to volume")
        );
    }

    #[test]
    fn missing_file_is_an_error_not_a_panic() {
        let err = FileReader::open(Path::new("/nonexistent/x.log"), "x", "s")
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/x.log"));
    }
}
