//! Deterministic signals and ranking.
