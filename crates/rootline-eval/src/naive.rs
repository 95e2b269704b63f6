//! The naive ranker the engine is compared with: the entity with the most WARN-or-worse log
//! records in the incident window wins. It reads the bundle's log files itself, so it shares no
//! code path with the engine beyond the line parser.

use std::collections::BTreeMap;

use rootline_agent::Bundle;
use rootline_ingest::{FileReader, Item, SourceError};

use crate::score::Ranked;

/// Counts WARN/ERROR/FATAL records per service in the incident window, best first (ties by name).
pub fn rank_by_error_count(bundle: &Bundle) -> Result<Vec<Ranked>, SourceError> {
    let (start, end) = bundle.incident.window_ns();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for file in &bundle.log_files {
        let reader = FileReader::open(
            file,
            bundle.label(file),
            FileReader::service_from_file_name(file),
        )?;
        for item in reader {
            if let Item::Record(r) = item?
                && r.ts_ns >= start
                && r.ts_ns < end
                && r.level.severity() >= rootline_core::Level::Warn.severity()
            {
                *counts.entry(r.service).or_insert(0) += 1;
            }
        }
    }
    let mut ranked: Vec<Ranked> = counts
        .into_iter()
        .map(|(entity, n)| Ranked {
            entity,
            score: n as f64,
            fault_type: String::new(),
            instance: None,
            modules: vec![],
        })
        .collect();
    // Stable sort keeps the name order (from the BTreeMap) among equal counts.
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(ranked)
}
