//! What `investigate` and `demo` store with every report (incident, investigation, frozen
//! evidence snapshot, model hypotheses as rows verdicts can target), and
//! `rootline investigate --replay ID`: the model step re-run on that frozen evidence.
//!
//! A replay reads only the store: no index, no bundle, no re-ingest. Without `--llm` it re-runs
//! nothing (the offline ranking is deterministic and its evidence frozen, so it would give the
//! same candidates) and prints the stored report; with `--llm` it asks the model given by the
//! config and flags, stores the answer as a new investigation linked to the original, and prints
//! what changed.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use rootline_agent::FrozenEvidence;
use rootline_core::Report;
use rootline_index::LogIndex;
use rootline_signals::pack::PackedContext;
use rootline_store::Store;

use crate::config::Settings;
use crate::{Format, InvestigateArgs};

/// The token budget for packing the context of an offline run, so that a later replay with a
/// model sees what a model would have seen: `[llm] context_tokens`, else the model default.
pub(crate) fn context_budget(settings: &Settings) -> usize {
    settings
        .llm
        .context_tokens
        .unwrap_or_else(|| rootline_llm::LlmSettings::new("", "").context_tokens)
}

/// The packed context of an investigation that ran without a model.
pub(crate) async fn offline_context(
    settings: &Settings,
    report: &Report,
    logs: Arc<LogIndex>,
) -> Result<PackedContext> {
    let budget = context_budget(settings);
    let snapshot = report.clone();
    tokio::task::spawn_blocking(move || rootline_agent::packed_context(&snapshot, &logs, budget))
        .await
        .context("packing the evidence context failed")
}

/// Stores a finished investigation: its incident, the report (model hypotheses numbered with
/// their store ids), the frozen evidence snapshot and the hypothesis rows. Returns the
/// snapshot's content hash.
pub(crate) async fn persist(
    store: &Store,
    report: &mut Report,
    context: &PackedContext,
) -> Result<String> {
    crate::live_investigate::persist_investigation(store, report, context)
        .await
        .map_err(|e| anyhow::anyhow!(e))
}

/// `rootline investigate --replay ID`.
pub(crate) async fn replay(
    settings: &Settings,
    store: &Store,
    args: &InvestigateArgs,
    id: &str,
) -> Result<ExitCode> {
    let original = store
        .get_investigation(id)
        .await?
        .with_context(|| format!("no investigation with id {id} to replay"))?;
    let snapshot = store.get_evidence_snapshot(id).await?.with_context(|| {
        format!(
            "investigation {id} has no frozen evidence snapshot to replay (it was stored before \
             snapshots were kept, or not by `rootline investigate`); investigate the incident again"
        )
    })?;
    let frozen = FrozenEvidence::from_value(id, &snapshot.body)?;
    if args.dry_run {
        let run = crate::commands::llm_run(settings, args)?;
        let payload = rootline_llm::dry_run_payload(
            &run.settings,
            &run.prompts,
            &frozen.incident,
            &frozen.candidates,
            &frozen.context,
        )
        .map_err(|e| anyhow::anyhow!("cannot build the model request: {e}"))?;
        eprintln!(
            "dry run: this is exactly what a replay of {id} would POST to {}",
            run.settings.chat_url()
        );
        println!("{}", serde_json::to_string_pretty(&payload)?);
        return Ok(ExitCode::SUCCESS);
    }
    if !args.llm {
        eprintln!(
            "replay of {id} without --llm: nothing was re-run. The offline ranking is \
             deterministic and its evidence is frozen, so its candidates are as stored (shown \
             below); add --llm (and --llm-model, --llm-base-url or --prompts-dir) to ask a model \
             again on the frozen evidence."
        );
        crate::commands::print_report(&original, args.format)?;
        return Ok(ExitCode::SUCCESS);
    }
    let run = crate::commands::llm_run(settings, args)?;
    let mut replayed = rootline_agent::replay(&frozen, id, &snapshot.content_hash, &run).await;
    persist(store, &mut replayed, &frozen.context).await?;
    store
        .record_replay(
            &replayed.investigation_id,
            id,
            &snapshot.content_hash,
            Utc::now(),
        )
        .await?;
    let diff = rootline_agent::replay_diff(&original, &replayed);
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "diff": diff,
                "replay": replayed,
            }))?
        ),
        Format::Text | Format::Markdown => {
            print!("{}", rootline_agent::render_replay_diff(&diff));
            println!(
                "Stored as investigation {} (`rootline report {}` shows it).",
                replayed.investigation_id, replayed.investigation_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
