//! Streaming log template miner.
