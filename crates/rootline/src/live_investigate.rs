//! `rootline serve`'s investigations for the slash command: the server's
//! [`InvestigateService`] over the agent, reading the indexes the live ingest writes (the server
//! cannot depend on the agent, so the CLI joins them). Each investigation is stored like one run
//! by `rootline investigate`: incident, report, frozen evidence snapshot.

use std::path::{Path, PathBuf};

use chrono::Utc;
use rootline_agent::{EngineConfig, FrozenEvidence, Sources};
use rootline_core::observation::Topology;
use rootline_core::{Incident, Report};
use rootline_server::{BoxFuture, InvestigateService, ServiceError};
use rootline_signals::pack::PackedContext;
use rootline_store::Store;
use rootline_templates::TemplateMiner;

use crate::live_ingest::LiveIndexes;

/// Changes up to this long before the start can explain an incident; later ones may be
/// mitigations. `rootline investigate` uses the same lookback.
pub const CHANGE_LOOKBACK_NS: i64 = 2 * 3600 * 1_000_000_000;

pub struct LiveInvestigations {
    indexes: LiveIndexes,
    data_dir: PathBuf,
    store: Store,
    /// Token budget of the packed context frozen with each investigation.
    context_tokens: usize,
    /// Investigations are CPU-bound: at most one per core runs at once, the others wait their
    /// turn, so a burst of chat commands or alerts cannot starve the ingest.
    running: tokio::sync::Semaphore,
    engine: EngineConfig,
    /// Where every investigation also pulls metrics from (`[prometheus]`), when a URL is set.
    prometheus: rootline_prom::PromSettings,
    /// The model every investigation asks for causes and fixes (`[llm]`), when configured.
    llm: Option<rootline_agent::LlmRun>,
}

impl LiveInvestigations {
    pub fn new(
        indexes: LiveIndexes,
        data_dir: &Path,
        store: Store,
        context_tokens: usize,
    ) -> LiveInvestigations {
        LiveInvestigations {
            indexes,
            data_dir: data_dir.to_path_buf(),
            store,
            context_tokens,
            running: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            engine: EngineConfig::default(),
            prometheus: rootline_prom::PromSettings::default(),
            llm: None,
        }
    }

    /// Every investigation also asks `llm`'s model (its claims checked against the evidence,
    /// as `rootline investigate --llm` does) and counts the exchange in `/metrics`.
    // The serve_chatops test compiles this file and runs no model.
    #[allow(dead_code)]
    pub fn with_llm(mut self, llm: Option<rootline_agent::LlmRun>) -> LiveInvestigations {
        self.llm = llm;
        self
    }

    /// Every investigation also pulls its metrics from `prometheus.url` (when set).
    pub fn with_prometheus(
        mut self,
        prometheus: rootline_prom::PromSettings,
    ) -> LiveInvestigations {
        self.prometheus = prometheus;
        self
    }

    /// Investigations use `engine` instead of the built-in defaults.
    pub fn with_engine(mut self, engine: EngineConfig) -> LiveInvestigations {
        self.engine = engine;
        self
    }

    async fn run(&self, incident: Incident) -> Result<Report, ServiceError> {
        let m = rootline_telemetry::metrics::metrics();
        m.investigations_waiting.inc();
        let turn = self.running.acquire().await;
        m.investigations_waiting.dec();
        let _turn = turn.map_err(internal)?;
        let started = std::time::Instant::now();
        let result = self.run_now(incident).await;
        m.investigation_seconds
            .observe(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(report) => serde_json::to_value(report.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown".into()),
            Err(_) => "error".to_string(),
        };
        m.investigations
            .get_or_create(&rootline_telemetry::metrics::OutcomeLabel { outcome })
            .inc();
        result
    }

    async fn run_now(&self, incident: Incident) -> Result<Report, ServiceError> {
        let (start_ns, end_ns) = incident.window_ns();
        let changes = self
            .store
            .list_change_events(start_ns - CHANGE_LOOKBACK_NS, end_ns, None)
            .await?;
        // File reads and JSON parsing: off the async runtime.
        let data_dir = self.data_dir.clone();
        let DataDirContext {
            topology,
            templates,
            cluster,
        } = tokio::task::spawn_blocking(move || data_dir_context(&data_dir))
            .await
            .map_err(internal)?
            .map_err(ServiceError::Internal)?;
        let mut metrics = self.indexes.metrics.clone();
        let mut missing = Vec::new();
        if self.prometheus.url.is_some() {
            let ranges = crate::prom_pull::ranges(&self.engine, (start_ns, end_ns));
            let focus = crate::prom_pull::focus_of(&incident.services, topology.as_ref());
            let (scratch, problems) = crate::prom_pull::pull_into_scratch(
                &self.prometheus,
                Some(metrics),
                &ranges,
                &focus,
            )
            .await
            .map_err(|e| ServiceError::Internal(e.into()))?;
            metrics = scratch;
            missing = problems;
        }
        let sources = Sources {
            logs: self.indexes.logs.clone(),
            spans: Some(self.indexes.spans.clone()),
            metrics: Some(metrics),
            changes,
            topology,
            cluster,
        };
        let mut report = rootline_agent::investigate(
            sources,
            std::sync::Arc::new(templates),
            incident,
            self.engine.clone(),
        )
        .await
        .map_err(internal)?;
        report.missing = missing;
        let logs = self.indexes.logs.clone();
        let context = match &self.llm {
            Some(run) => {
                let context = rootline_agent::add_hypotheses(&mut report, logs, run).await;
                count_model_exchange(&run.settings.model, &report);
                context
            }
            None => {
                let budget = self.context_tokens;
                let snapshot = report.clone();
                tokio::task::spawn_blocking(move || {
                    rootline_agent::packed_context(&snapshot, &logs, budget)
                })
                .await
                .map_err(internal)?
            }
        };
        persist_investigation(&self.store, &mut report, &context)
            .await
            .map_err(ServiceError::Internal)?;
        Ok(report)
    }
}

/// Counts a report's model exchange (its recorded usage and error) in `/metrics`.
fn count_model_exchange(model: &str, report: &Report) {
    let Some(exchange) = rootline_agent::recorded_exchange(report) else {
        return;
    };
    let usage = &exchange.usage;
    rootline_telemetry::metrics::metrics().model_exchange(
        model,
        &rootline_telemetry::metrics::ModelExchange {
            requests: u64::from(usage.requests),
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
            cost_usd: usage.estimated_cost_usd,
            failed: exchange.error.is_some(),
        },
    );
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What an investigation of a data dir reads besides its indexes and the store: the system's
/// declared topology (`topology.json`, optional) and the template snapshot. Blocking file reads.
pub fn data_dir_context(data_dir: &Path) -> Result<DataDirContext, BoxError> {
    let topology = rootline_agent::bundle::load_topology(
        &data_dir.join(rootline_agent::bundle::TOPOLOGY_FILE),
    )?;
    let templates = rootline_agent::load_miner(&data_dir.join("templates.json"))?;
    // A torn last line (a crash mid-append) is skipped: the rest of the state still counts.
    let (cluster, unreadable) = rootline_agent::cluster::load_state(data_dir)?;
    for r in unreadable {
        tracing::warn!("cluster state line skipped: {r}");
    }
    Ok(DataDirContext {
        topology,
        templates,
        cluster,
    })
}

/// What an investigation reads from the data dir besides the indexes and the store.
pub struct DataDirContext {
    pub topology: Option<Topology>,
    pub templates: TemplateMiner,
    pub cluster: Vec<rootline_core::k8s::StateItem>,
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ServiceError {
    ServiceError::Internal(Box::new(e))
}

impl InvestigateService for LiveInvestigations {
    fn investigate(&self, incident: Incident) -> BoxFuture<'_, Result<Report, ServiceError>> {
        Box::pin(self.run(incident))
    }
}

/// Stores a finished investigation: its incident, the report (model hypotheses numbered with
/// their store ids), the frozen evidence snapshot and the hypothesis rows. Returns the
/// snapshot's content hash.
pub async fn persist_investigation(
    store: &Store,
    report: &mut Report,
    context: &PackedContext,
) -> Result<String, BoxError> {
    let rows = rootline_agent::number_hypotheses(report);
    store.save_incident(&report.incident).await?;
    store.save_investigation(report).await?;
    let frozen = FrozenEvidence::freeze(report, context);
    let hash = store
        .save_evidence_snapshot(&report.investigation_id, &frozen.to_value(), Utc::now())
        .await?;
    store.save_hypotheses(&rows).await?;
    Ok(hash)
}
