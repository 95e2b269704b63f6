//! Streaming reader: one file (plain or gzip) in, records and rejected lines out.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use rootline_core::{LogRecord, Provenance};

use crate::MAX_LINE_BYTES;
use crate::parse::{LineContext, ParseError, parse_line};

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

/// Streams a log file. Lines that start with whitespace continue the previous record (stack
/// traces), so a Java exception stays one record instead of thirty rejects.
pub struct FileReader {
    path: PathBuf,
    label: String,
    default_service: String,
    reader: Box<dyn BufRead + Send>,
    line_no: u64,
    buf: Vec<u8>,
    pending: Option<LogRecord>,
    finished: bool,
    /// Physical non-blank lines read so far.
    pub lines_read: u64,
    /// Continuation lines joined onto the record before them.
    pub lines_joined: u64,
    /// Bytes read (decompressed).
    pub bytes_read: u64,
}

impl FileReader {
    /// Opens `path`; `label` is the name recorded in provenance (and so in evidence ids), and
    /// `default_service` is used for lines that name no service.
    pub fn open(
        path: &Path,
        label: impl Into<String>,
        default_service: impl Into<String>,
    ) -> Result<FileReader, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::new(File::open(path).map_err(open_err)?);
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
        Ok(FileReader {
            path: path.to_path_buf(),
            label: label.into(),
            default_service: default_service.into(),
            reader,
            line_no: 0,
            buf: Vec::with_capacity(4096),
            pending: None,
            finished: false,
            lines_read: 0,
            lines_joined: 0,
            bytes_read: 0,
        })
    }

    /// The service name a file implies: its name without extensions (`checkout.log.gz` → `checkout`).
    pub fn service_from_file_name(path: &Path) -> String {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.split('.').next().unwrap_or("unknown").to_string()
    }

    /// Reads one physical line into `self.buf`, capped at [`MAX_LINE_BYTES`]. Returns false at EOF.
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

    fn reject(&self, line: u64, reason: impl Into<String>) -> Item {
        Item::Rejected(Rejected {
            file: self.label.clone(),
            line,
            reason: reason.into(),
        })
    }
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

impl Iterator for FileReader {
    type Item = Result<Item, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.finished {
                return self.pending.take().map(|r| Ok(Item::Record(r)));
            }
            let dropped = match self.read_physical_line() {
                Ok(Some(d)) => d,
                Ok(None) => {
                    self.finished = true;
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
                        let reason = format!("file ends early: {source}");
                        return Some(Ok(self.reject(line, reason)));
                    }
                    return Some(Err(SourceError::Read {
                        path: self.path.clone(),
                        line: self.line_no,
                        source,
                    }));
                }
            };
            self.line_no += 1;
            let line_no = self.line_no;
            let text = match std::str::from_utf8(&self.buf) {
                Ok(t) => t.to_string(),
                Err(e) => {
                    if self.buf.iter().all(|b| b.is_ascii_whitespace()) {
                        continue;
                    }
                    self.lines_read += 1;
                    let reason = format!("invalid UTF-8 at byte {}", e.valid_up_to());
                    return Some(Ok(self.reject(line_no, reason)));
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            self.lines_read += 1;
            let mut text = text;
            if dropped > 0 {
                text.push_str(&format!(" …[truncated {dropped} bytes]"));
            }
            if text.starts_with([' ', '\t'])
                && let Some(prev) = self.pending.as_mut()
            {
                prev.message.push('\n');
                prev.message.push_str(text.trim_end());
                self.lines_joined += 1;
                continue;
            }
            let ctx = LineContext {
                default_service: &self.default_service,
            };
            let item = match parse_line(&text, &ctx) {
                Ok(p) => {
                    let provenance = Provenance {
                        source: self.label.clone(),
                        line: line_no,
                    };
                    let evidence_id = LogRecord::compute_evidence_id(&provenance, &text);
                    let record = LogRecord {
                        evidence_id,
                        ts_ns: p.ts_ns,
                        service: p.service,
                        host: p.host,
                        level: p.level,
                        message: p.message,
                        template_id: None,
                        trace_id: p.trace_id,
                        provenance,
                    };
                    match self.pending.replace(record) {
                        Some(prev) => Item::Record(prev),
                        None => continue,
                    }
                }
                Err(ParseError::Empty) => continue,
                Err(e) => self.reject(line_no, e.to_string()),
            };
            return Some(Ok(item));
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
        f.write_all(b"garbage without time\n\n").unwrap();
        f.write_all(b"{\"time\":\"2023-01-29T08:42:23Z\",\"msg\":\"ok\"}\n")
            .unwrap();
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
            "ERROR boom\n    at com.example.Foo.bar(Foo.java:42)"
        );
        assert_eq!(recs[1].message, "ok");
        assert_eq!(recs[2].provenance.line, 8);
        let lines: Vec<u64> = rejs.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 6, 7]);
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
    fn missing_file_is_an_error_not_a_panic() {
        let err = FileReader::open(Path::new("/nonexistent/x.log"), "x", "s")
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nonexistent/x.log"));
    }
}
