//! The investigation pipeline.
