//! Redaction before anything leaves the process: the one engine lives in `rootline-core`
//! ([`rootline_core::redact`]), so stored configs, model payloads, chat answers and the
//! timeline's raw lines follow the same rules. Re-exported here for the model path.

pub use rootline_core::redact::{RedactionConfig, RedactionCounts, Redactor};
