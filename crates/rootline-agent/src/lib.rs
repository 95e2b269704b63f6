//! The investigation pipeline: ingest files into the index, retrieve an incident's window and
//! baseline, run the signals, rank, store and render the report.
//!
//! Threading: the index and the parsers are blocking; they run under `spawn_blocking`, so the
//! functions here are safe to call from request handlers.
//!
//! Architecture invariant: this crate orchestrates; it holds no SQL (that is `rootline-store`),
//! no tantivy types in its API (that is `rootline-index`) and no HTTP (that is `rootline-server`).

pub mod bench;
pub mod bundle;
pub mod cluster;
pub mod hypotheses;
pub mod ingest;
pub mod ingest_metrics;
pub mod ingest_spans;
pub mod investigate;
pub mod live;
pub mod onset;
pub mod render;
pub mod replay;
pub mod template_diff;
pub mod templates;

pub use bench::{IngestBench, bench_ingest};
pub use bundle::{
    Bundle, BundleError, BundleRunError, IngestedBundle, ingest_bundle, investigate_bundle,
};
pub use hypotheses::{
    LlmRun, RecordedExchange, add_hypotheses, dry_run, packed_context, recorded_exchange,
};
pub use ingest::{IngestOptions, IngestProgress, IngestSummary, ingest_files};
pub use ingest_metrics::{MetricIngestSummary, ingest_metric_files};
pub use ingest_spans::{SpanIngestSummary, ingest_span_files};
pub use investigate::{EngineConfig, InvestigateError, Sources, investigate};
pub use live::LiveIngestor;
pub use render::{render_markdown, render_text};
pub use replay::{
    FrozenEvidence, ReplayDiff, ReplayError, diff as replay_diff, number_hypotheses,
    render_diff as render_replay_diff, replay,
};
pub use template_diff::{TemplateChange, TemplateDiffRow, template_diff};
pub use templates::{TemplateStoreError, load_miner, save_miner};
