//! Log parsers and streaming file readers: bytes in, [`LogRecord`]s and [`Rejected`] lines out.
//!
//! Parsers (`parse`) are pure functions of one line. The reader (`source`) streams a file line by
//! line (gzip detected by its magic bytes), never holding more than one record in memory, and
//! turns every line it cannot use into a [`Rejected`] with file, line number and reason, so that one
//! bad line never stops the rest.
//!
//! Architecture invariant: no tokio, tantivy, sqlx or network here; only `std::io`.

pub mod formats;
pub mod k8s;
pub mod metrics;
pub mod otlp;
pub mod parse;
pub mod source;
pub mod spans;

pub use formats::{CsvMapping, JsonMapping, LogFormat, ReaderOptions};
pub use parse::{LineContext, ParseError, ParsedLine, parse_line, service_from_pod};
pub use source::{FileReader, Item, Rejected, SourceError};

/// Lines longer than this are cut, with a marker saying how much was dropped.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
