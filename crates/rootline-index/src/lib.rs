//! tantivy index of log records.
