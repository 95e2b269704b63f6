//! Log parsers and streaming file readers.
