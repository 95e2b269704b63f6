//! One function per subcommand. They resolve paths, call the agent, and print.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, TimeZone, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rootline_agent::{Bundle, EngineConfig, IngestOptions, IngestProgress, IngestSummary};
use rootline_core::time::{format_ns, parse_timestamp};
use rootline_core::{Incident, Report};
use rootline_index::metrics::MetricIndex;
use rootline_index::spans::SpanIndex;
use rootline_index::{Filter, LogIndex};
use rootline_signals::pack::truncate_chars;
use rootline_store::{IngestRun, LOCAL_ADMIN, Store};

use crate::config::{Overrides, Settings};
use crate::{
    BenchCommand, Command, DataKind, DemoArgs, EvalArgs, EvalCommand, Format, ImportCommand,
    IngestArgs, InvestigateArgs, ReportArgs, SearchArgs, ServeArgs, TemplatesCommand,
};

pub async fn run(command: Command, overrides: Overrides) -> Result<ExitCode> {
    let settings = Settings::resolve(&overrides)?;
    let telemetry = rootline_telemetry::init(&rootline_telemetry::TelemetryConfig {
        filter: settings.log.clone(),
        json: false,
    });
    let result = dispatch(command, &settings).await;
    let _ = telemetry.shutdown();
    result
}

async fn dispatch(command: Command, settings: &Settings) -> Result<ExitCode> {
    let settings = settings.clone();
    match command {
        Command::Ingest(a) => ingest(&settings, a).await,
        Command::Investigate(a) => investigate(&settings, a).await,
        Command::Demo(a) => demo(&settings, a).await,
        Command::Report(a) => report(&settings, a).await,
        Command::Search(a) => search(&settings, a).await,
        Command::Import(c) => import(c),
        Command::Templates(c) => templates(&settings, c).await,
        Command::Serve(a) => serve(&settings, a).await,
        Command::K8s(crate::K8sCommand::Snapshot {
            namespaces,
            out,
            kubeconfig,
            server,
            token,
        }) => {
            let mut kube = settings.kube.clone();
            if !namespaces.is_empty() {
                kube.namespaces = namespaces;
            }
            if kubeconfig.is_some() {
                kube.kubeconfig = kubeconfig;
            }
            if server.is_some() {
                kube.server = server;
                kube.token = token;
            }
            crate::k8s_cli::snapshot(&kube, &out).await
        }
        Command::Eval(a) => eval(&settings, a).await,
        Command::Bench(BenchCommand::Ingest {
            paths,
            repeat,
            json,
        }) => bench_ingest(paths, repeat, json).await,
        Command::Verdict(c) => {
            crate::admin_cli::run_verdict(c, &open_store(&settings).await?, &mut std::io::stdout())
                .await
        }
        Command::Action(c) => {
            crate::admin_cli::run_action(c, &open_store(&settings).await?, &mut std::io::stdout())
                .await
        }
        Command::User(c) => {
            crate::admin_cli::run_user(c, &open_store(&settings).await?, &mut std::io::stdout())
                .await
        }
        Command::Token(c) => {
            crate::admin_cli::run_token(c, &open_store(&settings).await?, &mut std::io::stdout())
                .await
        }
        Command::Audit(c) => {
            crate::admin_cli::run_audit(c, &open_store(&settings).await?, &mut std::io::stdout())
                .await
        }
        Command::Change(c) => {
            let store = open_store(&settings).await?;
            crate::changes_cli::run_change(c, &store).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(c) => {
            let store = open_store(&settings).await?;
            crate::changes_cli::run_config(c, &store).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn open_store(settings: &Settings) -> Result<Store> {
    if settings.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    }
    Ok(Store::connect(&settings.database_url).await?)
}

fn open_index(dir: &Path) -> Result<Arc<LogIndex>> {
    Ok(Arc::new(LogIndex::open(dir)?))
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where rejected lines go: stderr, or a JSON-lines file.
enum RejectSink {
    Stderr,
    File(std::io::BufWriter<std::fs::File>),
}

fn open_metrics(settings: &Settings) -> Result<Option<Arc<MetricIndex>>> {
    let dir = settings.metrics_dir();
    if !dir.exists() {
        return Ok(None);
    }
    Ok(Some(Arc::new(MetricIndex::open(&dir)?)))
}

fn open_spans(settings: &Settings) -> Result<Option<Arc<SpanIndex>>> {
    let dir = settings.spans_dir();
    if !dir.exists() {
        return Ok(None);
    }
    Ok(Some(Arc::new(SpanIndex::open(&dir)?)))
}

async fn ingest(settings: &Settings, args: IngestArgs) -> Result<ExitCode> {
    if args.kind == DataKind::K8s {
        let store = open_store(settings).await?;
        let captured_at = args
            .captured_at
            .as_deref()
            .map(|t| {
                rootline_core::time::parse_timestamp(t).with_context(|| {
                    format!("--captured-at {t:?}: expected an RFC 3339 time or an epoch number")
                })
            })
            .transpose()?;
        return crate::k8s_cli::ingest(settings, &store, &args.paths, captured_at, args.json).await;
    }
    if args.kind != DataKind::Logs {
        return ingest_other(settings, args).await;
    }
    let store = open_store(settings).await?;
    let index = open_index(&settings.index_dir())?;
    let started_at = now_rfc3339();
    let spool = tempfile::tempdir()?;
    let mut paths = Vec::new();
    let mut labels = Vec::new();
    for p in &args.paths {
        if p.as_os_str() == "-" {
            let spooled = rootline_ingest::source::spool_to_temp(std::io::stdin(), spool.path())
                .context("cannot read standard input")?;
            paths.push(spooled);
            labels.push(Some("stdin".to_string()));
        } else {
            // Canonical paths make evidence ids independent of how the path was spelled.
            let label = std::fs::canonicalize(p)
                .map(|c| c.display().to_string())
                .ok();
            paths.push(p.clone());
            labels.push(label);
        }
    }
    let mut sink = match &args.rejects {
        Some(path) => RejectSink::File(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create rejects file {}", path.display()))?,
        )),
        None => RejectSink::Stderr,
    };
    let bar = if std::io::stderr().is_terminal() && !args.json {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<IngestProgress>();
    let options = IngestOptions {
        service: args.service.clone(),
        labels,
        templates_path: settings.templates_path(),
    };
    let task = tokio::spawn(rootline_agent::ingest_files(
        index,
        paths,
        options,
        move |p| {
            let _ = tx.send(p);
        },
    ));
    while let Some(p) = rx.recv().await {
        match p {
            IngestProgress::FileStarted { path, bytes } => {
                if let Some(b) = &bar {
                    b.set_length(bytes);
                    b.set_position(0);
                    b.set_message(path.display().to_string());
                }
            }
            IngestProgress::Bytes(n) => {
                if let Some(b) = &bar {
                    b.set_position(n);
                }
            }
            IngestProgress::Rejected(r) => match &mut sink {
                RejectSink::Stderr => {
                    let line = format!("rejected: {r}");
                    match &bar {
                        Some(b) => b.suspend(|| eprintln!("{line}")),
                        None => eprintln!("{line}"),
                    }
                }
                RejectSink::File(f) => {
                    writeln!(f, "{}", serde_json::to_string(&r)?)?;
                }
            },
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let RejectSink::File(f) = &mut sink {
        f.flush()?;
    }
    let (summary, file_errors) = task.await??;
    for e in &file_errors {
        eprintln!("error: {e}");
    }
    store
        .record_ingest_run(&IngestRun {
            id: uuid::Uuid::now_v7().to_string(),
            started_at,
            finished_at: now_rfc3339(),
            sources: args.paths.iter().map(|p| p.display().to_string()).collect(),
            read: summary.read,
            indexed: summary.indexed,
            rejected: summary.rejected,
        })
        .await?;
    print_summary(&summary, args.json, file_errors.len())?;
    Ok(if file_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Traces and metrics: the same acknowledgement rules as logs (summary after the commit).
async fn ingest_other(settings: &Settings, args: IngestArgs) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    let started_at = now_rfc3339();
    let labels: Vec<Option<String>> = args
        .paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .map(|c| c.display().to_string())
                .ok()
        })
        .collect();
    let (summary, errors) = if args.kind == DataKind::Traces {
        let spans = Arc::new(SpanIndex::open(&settings.spans_dir())?);
        let (s, e) = rootline_agent::ingest_span_files(spans, args.paths.clone(), labels).await?;
        (
            rootline_agent::MetricIngestSummary {
                files: s.files,
                read: s.read,
                indexed: s.indexed,
                rejected: s.rejected,
                rejects: s.rejects,
            },
            e,
        )
    } else {
        let metrics = Arc::new(MetricIndex::open(&settings.metrics_dir())?);
        rootline_agent::ingest_metric_files(metrics, args.paths.clone(), labels).await?
    };
    let noun = if args.kind == DataKind::Traces {
        "spans"
    } else {
        "points"
    };
    for e in &errors {
        eprintln!("error: {e}");
    }
    for r in &summary.rejects {
        eprintln!("rejected: {r}");
    }
    store
        .record_ingest_run(&IngestRun {
            id: uuid::Uuid::now_v7().to_string(),
            started_at,
            finished_at: now_rfc3339(),
            sources: args.paths.iter().map(|p| p.display().to_string()).collect(),
            read: summary.read,
            indexed: summary.indexed,
            rejected: summary.rejected,
        })
        .await?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"read": summary.read, "indexed": summary.indexed, "rejected": summary.rejected, "files": summary.files, "file_errors": errors.len()})
        );
    } else {
        println!(
            "ingested {} file(s): {} rows read, {} {noun} indexed, {} rejected",
            summary.files, summary.read, summary.indexed, summary.rejected
        );
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_summary(s: &IngestSummary, json: bool, file_errors: usize) -> Result<()> {
    if json {
        let v = serde_json::json!({
            "read": s.read,
            "indexed": s.indexed,
            "rejected": s.rejected,
            "joined": s.joined,
            "files": s.files,
            "file_errors": file_errors,
            "bytes": s.bytes,
        });
        println!("{v}");
    } else {
        println!(
            "ingested {} file(s): {} lines read, {} records indexed, {} lines rejected, {} continuation lines joined{}",
            s.files,
            s.read,
            s.indexed,
            s.rejected,
            s.joined,
            if file_errors > 0 {
                format!(", {file_errors} file(s) failed")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// A length of time for flag `--{name}`: `90s`, `30m`, `2h`, `1d`
/// ([`rootline_core::time::parse_duration`], the same words the slash command takes).
fn parse_span_arg(name: &str, value: &str) -> Result<chrono::Duration> {
    rootline_core::time::parse_duration(value.trim()).with_context(|| {
        format!("--{name} {value:?}: expected a positive number and a unit (s, m, h, d), e.g. 30m")
    })
}

fn parse_time_arg(name: &str, value: &str) -> Result<DateTime<Utc>> {
    let ns = parse_timestamp(value)
        .with_context(|| format!("--{name} {value:?} is not a timestamp (RFC 3339 or epoch)"))?;
    Ok(Utc.timestamp_nanos(ns))
}

async fn investigate(settings: &Settings, args: InvestigateArgs) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    if let Some(id) = &args.replay {
        return crate::replay_cli::replay(settings, &store, &args, id).await;
    }
    let scratch = tempfile::tempdir()?;
    let (mut report, logs) = if let Some(bundle_dir) = &args.bundle {
        let bundle = Bundle::load(bundle_dir)?;
        let report = investigate_bundle_in(&bundle, scratch.path(), &settings.engine).await?;
        (report, open_index(&scratch.path().join("index"))?)
    } else {
        let (start, end) = match &args.around {
            Some(around) => {
                let at = parse_time_arg("around", around)?;
                (
                    at - parse_span_arg("before", &args.before)?,
                    Some(at + parse_span_arg("after", &args.after)?),
                )
            }
            None => (
                parse_time_arg(
                    "start",
                    args.start
                        .as_deref()
                        .context("--start (or --around) is required")?,
                )?,
                args.end
                    .as_deref()
                    .map(|e| parse_time_arg("end", e))
                    .transpose()?,
            ),
        };
        let title = match (&args.title, &args.around) {
            (Some(t), _) => t.clone(),
            (None, Some(around)) => format!("alert at {around}"),
            (None, None) => bail!("give a bundle directory, or --title and --start (or --around)"),
        };
        let alert = match &args.alert {
            Some(p) => Some(
                serde_json::from_str(
                    &std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                )
                .with_context(|| format!("{} is not JSON", p.display()))?,
            ),
            None => None,
        };
        let incident = Incident {
            id: uuid::Uuid::now_v7().to_string(),
            title,
            description: args.description.clone(),
            start,
            end,
            services: args.services.clone(),
            alert,
            baseline_windows: vec![],
        };
        let (start_ns, end_ns) = incident.window_ns();
        let changes = store
            .list_change_events(
                start_ns - crate::live_investigate::CHANGE_LOOKBACK_NS,
                end_ns,
                None,
            )
            .await?;
        let logs = open_index(&settings.index_dir())?;
        // A declared topology for the data dir's system (like a bundle's) and the templates:
        // what `rootline serve`'s investigations read too.
        let crate::live_investigate::DataDirContext {
            topology,
            templates,
            cluster,
        } = crate::live_investigate::data_dir_context(&settings.data_dir)
            .map_err(|e| anyhow::anyhow!(e))?;
        let mut metrics = open_metrics(settings)?;
        let mut missing = Vec::new();
        let mut prometheus = settings.prometheus.clone();
        if let Some(url) = &args.prometheus_url {
            prometheus.url = Some(url.clone());
        }
        if prometheus.url.is_some() {
            let ranges = crate::prom_pull::ranges(&settings.engine, (start_ns, end_ns));
            let focus = crate::prom_pull::focus_of(&incident.services, topology.as_ref());
            let (scratch, problems) =
                crate::prom_pull::pull_into_scratch(&prometheus, metrics, &ranges, &focus).await?;
            for p in &problems {
                eprintln!("warning: {p}");
            }
            metrics = Some(scratch);
            missing = problems;
        }
        let sources = rootline_agent::Sources {
            logs: logs.clone(),
            spans: open_spans(settings)?,
            metrics,
            changes,
            topology,
            cluster,
        };
        let mut report = rootline_agent::investigate(
            sources,
            Arc::new(templates),
            incident,
            settings.engine.clone(),
        )
        .await?;
        report.missing = missing;
        (report, logs)
    };
    let context = if args.llm || args.dry_run {
        let run = llm_run(settings, &args)?;
        if args.dry_run {
            let payload =
                tokio::task::block_in_place(|| rootline_agent::dry_run(&report, &logs, &run))
                    .map_err(|e| anyhow::anyhow!("cannot build the model request: {e}"))?;
            eprintln!(
                "dry run: this is exactly what would be POSTed to {}",
                run.settings.chat_url()
            );
            println!("{}", serde_json::to_string_pretty(&payload)?);
            return Ok(ExitCode::SUCCESS);
        }
        rootline_agent::add_hypotheses(&mut report, logs, &run).await
    } else {
        crate::replay_cli::offline_context(settings, &report, logs).await?
    };
    crate::replay_cli::persist(&store, &mut report, &context).await?;
    print_report(&report, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// The model settings: the [llm] section of the config, overridden by flags.
pub(crate) fn llm_run(
    settings: &Settings,
    args: &InvestigateArgs,
) -> Result<rootline_agent::LlmRun> {
    let mut config = settings.llm.clone();
    if let Some(d) = &args.prompts_dir {
        config.prompts_dir = Some(d.clone());
    }
    if let Some(u) = &args.llm_base_url {
        config.base_url = Some(u.clone());
    }
    if let Some(m) = &args.llm_model {
        config.model = Some(m.clone());
    }
    let llm = config.settings()?.context(
        "no model configured: set [llm] base_url and model in the config, or --llm-base-url and --llm-model",
    )?;
    let cassette = match (&args.record_cassette, &args.replay_cassette) {
        (Some(p), _) => rootline_llm::CassetteMode::Record(p.clone()),
        (None, Some(p)) => rootline_llm::CassetteMode::Replay(p.clone()),
        (None, None) => rootline_llm::CassetteMode::Off,
    };
    Ok(rootline_agent::LlmRun::new(llm, cassette)?)
}

/// The model `serve`'s investigations ask, when `[llm]` names one (no cassette: live only).
fn serve_llm_run(settings: &Settings) -> Result<Option<rootline_agent::LlmRun>> {
    let Some(llm) = settings.llm.settings()? else {
        return Ok(None);
    };
    eprintln!(
        "investigations ask the model {} at {} (its claims checked against the evidence)",
        llm.model, llm.base_url
    );
    Ok(Some(rootline_agent::LlmRun::new(
        llm,
        rootline_llm::CassetteMode::Off,
    )?))
}

/// Ingests a bundle into a fresh scratch index in `scratch` (kept for later steps: the model,
/// the evidence snapshot) and investigates it.
async fn investigate_bundle_in(
    bundle: &Bundle,
    scratch: &Path,
    engine: &EngineConfig,
) -> Result<Report> {
    let (report, summary) = rootline_agent::investigate_bundle(bundle, scratch, engine.clone())
        .await
        .with_context(|| format!("bundle {}", bundle.root.display()))?;
    if summary.rejected > 0 {
        eprintln!(
            "note: {} line(s) of the bundle were rejected",
            summary.rejected
        );
    }
    Ok(report)
}

pub(crate) fn print_report(report: &Report, format: Format) -> Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(report)?),
        Format::Markdown => print!("{}", rootline_agent::render_markdown(report)),
        Format::Text => print!("{}", rootline_agent::render_text(report)),
    }
    Ok(())
}

/// The demo bundle: next to the sources when run from a checkout, else ./eval/demo.
fn demo_bundle_dir() -> PathBuf {
    let in_checkout =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/demo/nezha-tt-2023-01-29-0925");
    if in_checkout.exists() {
        return in_checkout;
    }
    PathBuf::from("eval/demo/nezha-tt-2023-01-29-0925")
}

async fn demo(settings: &Settings, args: DemoArgs) -> Result<ExitCode> {
    let dir = args.bundle.clone().unwrap_or_else(demo_bundle_dir);
    let bundle = Bundle::load(&dir)?;
    let started = std::time::Instant::now();
    let scratch = tempfile::tempdir()?;
    let mut report = investigate_bundle_in(&bundle, scratch.path(), &settings.engine).await?;
    let elapsed = started.elapsed();
    let logs = open_index(&scratch.path().join("index"))?;
    let context = crate::replay_cli::offline_context(settings, &report, logs).await?;
    let store = open_store(settings).await?;
    crate::replay_cli::persist(&store, &mut report, &context).await?;
    print_report(&report, args.format)?;
    if args.format == Format::Text {
        println!(
            "Investigated in {:.2} s, offline, no model and no network.",
            elapsed.as_secs_f64()
        );
        // Shown only after the ranking is done, so a reader can check it; the ranking never reads it.
        let truth_path = dir.join(rootline_agent::bundle::TRUTH_FILE);
        if let Ok(text) = std::fs::read_to_string(&truth_path)
            && let Ok(truth) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(service) = truth.get("root_cause_service").and_then(|s| s.as_str())
        {
            let rank = report
                .candidates
                .iter()
                .position(|c| c.entity == service)
                .map_or("not ranked".to_string(), |r| format!("ranked #{}", r + 1));
            println!(
                "Known root cause (from {}, read after ranking): {service} ({}) — {rank}.",
                truth_path.display(),
                truth
                    .get("fault_type")
                    .and_then(|f| f.as_str())
                    .unwrap_or("?")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn bench_ingest(paths: Vec<PathBuf>, repeat: usize, json: bool) -> Result<ExitCode> {
    let mut files = Vec::new();
    for p in &paths {
        collect_files(p, &mut files).with_context(|| format!("cannot read {}", p.display()))?;
    }
    files.sort();
    if files.is_empty() {
        bail!("no files under {paths:?}");
    }
    let r = rootline_agent::bench_ingest(files, repeat).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{} file(s), {:.1} MB, {} records\nend to end: {:.1} MB/s ({:.2} s wall, {:.1} MB per CPU-second)\nbare tantivy floor: {:.1} MB/s\nratio {:.2}, peak RSS {:.0} MB",
            r.files,
            r.mb,
            r.records,
            r.mb_per_s,
            r.seconds,
            r.mb_per_cpu_s,
            r.floor_mb_per_s,
            r.ratio,
            r.peak_rss_mb
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        for e in std::fs::read_dir(path)? {
            collect_files(&e?.path(), out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

async fn eval(settings: &Settings, args: EvalArgs) -> Result<ExitCode> {
    if let Some(EvalCommand::Export(a)) = args.command {
        let store = open_store(settings).await?;
        return crate::admin_cli::run_eval_export(a, &store, &mut std::io::stdout()).await;
    }
    if args.verdicts {
        return eval_verdicts(settings, args.json).await;
    }
    let dir = args.dir.clone().context(
        "give a directory of incident bundles, `--verdicts`, or `eval export --out DIR`",
    )?;
    let options = rootline_eval::EvalOptions {
        filter: args.filter.clone(),
        jitter: args.jitter.clone(),
        config: settings.engine.clone(),
        models: eval_models(settings, &args)?,
        ..Default::default()
    };
    let quiet = args.json || args.markdown;
    let report = rootline_eval::evaluate_dir_with(&dir, &options, |i, n, case| {
        if !quiet {
            eprintln!("[{i}/{n}] {}", case.case);
        }
    })
    .await?;
    if let Some(path) = &args.html {
        std::fs::write(path, rootline_eval::render_html(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", rootline_eval::render_markdown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// The models `eval --llm` scores: each `--llm-model` (else `[llm] model`) at `--llm-base-url`
/// (else `[llm] base_url`), with its own cassette file under `--cassette DIR`: replayed when it
/// exists, recorded otherwise.
fn eval_models(
    settings: &Settings,
    args: &crate::EvalArgs,
) -> Result<Vec<rootline_eval::models::ModelSpec>> {
    if !args.llm {
        return Ok(Vec::new());
    }
    let mut names = args.llm_models.clone();
    if names.is_empty() {
        names.extend(settings.llm.model.clone());
    }
    if names.is_empty() {
        bail!("--llm needs a model: --llm-model M (repeatable), or [llm] model in the config");
    }
    if let Some(dir) = &args.cassette {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the cassette dir {}", dir.display()))?;
    }
    let mut out = Vec::new();
    for name in names {
        let mut config = settings.llm.clone();
        if let Some(u) = &args.llm_base_url {
            config.base_url = Some(u.clone());
        }
        config.model = Some(name.clone());
        let llm = config
            .settings()?
            .context("no model endpoint: set --llm-base-url, or [llm] base_url in the config")?;
        let cassette = match &args.cassette {
            None => rootline_llm::CassetteMode::Off,
            Some(dir) => rootline_llm::CassetteMode::record_or_replay(dir, &name),
        };
        out.push(rootline_eval::models::ModelSpec {
            name,
            run: std::sync::Arc::new(rootline_agent::LlmRun::new(llm, cassette)?),
        });
    }
    Ok(out)
}

/// `rootline eval --verdicts`: the stored investigations against their latest verdicts.
async fn eval_verdicts(settings: &Settings, json: bool) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    let scores = store.verdict_scores().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&scores)?);
        return Ok(ExitCode::SUCCESS);
    }
    if scores.all.n == 0 {
        println!(
            "No judged investigation yet: record verdicts (rootline verdict add, the API, or the \
             chat buttons) and run this again."
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("| judged | investigations | AC@1 | AC@3 |\n|---|---:|---:|---:|");
    for (month, r) in &scores.months {
        println!("| {month} | {} | {:.2} | {:.2} |", r.n, r.ac1(), r.ac3());
    }
    let all = &scores.all;
    println!("| all | {} | {:.2} | {:.2} |", all.n, all.ac1(), all.ac3());
    println!("\n| judged at | investigation | top candidate | root cause (verdict) | rank | by |");
    println!("|---|---|---|---|---:|---|");
    for c in &scores.cases {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            c.judged_at,
            c.investigation_id,
            c.top.as_deref().unwrap_or("-"),
            c.root_cause.as_deref().unwrap_or("(rejected, none given)"),
            c.rank.map_or("-".to_owned(), |r| r.to_string()),
            c.judged_by
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn report(settings: &Settings, args: ReportArgs) -> Result<ExitCode> {
    let store = open_store(settings).await?;
    match store.get_investigation(&args.id).await? {
        Some(r) => {
            print_report(&r, args.format)?;
            Ok(ExitCode::SUCCESS)
        }
        None => bail!("no investigation with id {}", args.id),
    }
}

async fn search(settings: &Settings, args: SearchArgs) -> Result<ExitCode> {
    let index = open_index(&settings.index_dir())?;
    let from = args
        .from
        .as_deref()
        .map(|v| parse_time_arg("from", v))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|v| parse_time_arg("to", v))
        .transpose()?;
    let range_ns = match (from, to) {
        (None, None) => None,
        (f, t) => Some((
            f.and_then(|f| f.timestamp_nanos_opt()).unwrap_or(i64::MIN),
            t.and_then(|t| t.timestamp_nanos_opt()).unwrap_or(i64::MAX),
        )),
    };
    let text = (args.query.trim() != "*").then(|| args.query.clone());
    let filter = Filter {
        range_ns,
        service: args.service.clone(),
        text,
    };
    if args.count {
        let n = tokio::task::spawn_blocking(move || index.count(&filter)).await??;
        println!("{n}");
        return Ok(ExitCode::SUCCESS);
    }
    let limit = args.limit;
    let hits = tokio::task::spawn_blocking(move || index.search(&filter, limit)).await??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else {
        for r in &hits {
            // `~` marks a time estimated from the line's order (an untimed `kubectl logs` line).
            let approx = if r.approximate_time { "~" } else { "" };
            println!(
                "{} {approx}{} {:<5} {} [{}] {}",
                r.evidence_id,
                format_ns(r.ts_ns),
                r.level.as_str(),
                r.service,
                r.provenance,
                r.message.lines().next().unwrap_or("")
            );
        }
        eprintln!("{} hit(s)", hits.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn import(command: ImportCommand) -> Result<ExitCode> {
    match command {
        ImportCommand::Nezha { src, out, case } => {
            let summary = rootline_import::nezha::import(&src, &out, case.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        ImportCommand::Openstack { src, out, case } => {
            let summary = rootline_import::openstack::import(&src, &out, case.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        ImportCommand::Gaia { src, out, case } => {
            let summary = rootline_import::gaia::import(&src, &out, case.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        ImportCommand::K8s { src, out, case } => {
            let summary = rootline_import::k8s::import(&src, &out, case.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        ImportCommand::K8sState { src, out, case } => {
            let summary = rootline_import::k8s_state::import(&src, &out, case.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
        ImportCommand::Petshop { src, out, case } => {
            let summary = rootline_import::petshop::import(&src, &out, case.as_deref())?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn templates(settings: &Settings, command: TemplatesCommand) -> Result<ExitCode> {
    match command {
        TemplatesCommand::List {
            service,
            limit,
            json,
        } => {
            let miner = rootline_agent::load_miner(&settings.templates_path())?;
            let mut list: Vec<_> = miner
                .templates()
                .filter(|t| service.as_deref().is_none_or(|s| t.service() == s))
                .collect();
            list.sort_by(|a, b| b.count().cmp(&a.count()).then(a.id().cmp(&b.id())));
            list.truncate(limit);
            if json {
                let rows: Vec<_> = list
                    .iter()
                    .map(|t| {
                        serde_json::json!({"id": t.id().0, "service": t.service(), "count": t.count(), "template": t.text()})
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for t in list {
                    println!(
                        "{:>8} {:>9}  {:<28} {}",
                        t.id().0,
                        t.count(),
                        t.service(),
                        truncate_chars(t.text(), 160)
                    );
                }
            }
        }
        TemplatesCommand::Diff {
            start,
            end,
            baseline_start,
            baseline_end,
            service,
            significance,
            json,
        } => {
            let ns = |name: &str, v: &str| -> Result<i64> {
                parse_timestamp(v).with_context(|| {
                    format!("--{name} {v:?} is not a timestamp (RFC 3339 or epoch)")
                })
            };
            let window = (ns("start", &start)?, ns("end", &end)?);
            if window.1 <= window.0 {
                bail!("--end must be after --start");
            }
            let baseline = match (baseline_start, baseline_end) {
                (Some(s), Some(e)) => (ns("baseline-start", &s)?, ns("baseline-end", &e)?),
                (None, None) => (window.0 - (window.1 - window.0), window.0),
                _ => bail!("give both --baseline-start and --baseline-end, or neither"),
            };
            let index = open_index(&settings.index_dir())?;
            let miner = Arc::new(rootline_agent::load_miner(&settings.templates_path())?);
            let rows = rootline_agent::template_diff(
                index,
                miner,
                window,
                baseline,
                service,
                significance,
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for r in &rows {
                    println!(
                        "{:<5} {:<28} window {:>6}  baseline {:>6} (expected {:>8.1})  {}",
                        format!("{:?}", r.change).to_lowercase(),
                        r.service,
                        r.window_count,
                        r.baseline_count,
                        r.expected,
                        truncate_chars(&r.template, 160)
                    );
                }
                eprintln!("{} template(s) changed", rows.len());
            }
        }
        TemplatesCommand::Eval {
            dir,
            json,
            assignments,
        } => {
            let report = rootline_templates::loghub::evaluate_dir(
                &dir,
                &rootline_templates::MinerConfig::default(),
                assignments.as_deref(),
                1,
            )
            .with_context(|| format!("cannot evaluate {}", dir.display()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", rootline_templates::loghub::format_table(&report));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: &Settings, args: ServeArgs) -> Result<ExitCode> {
    if args.no_auth && !is_loopback(&settings.listen) {
        bail!(
            "--no-auth answers every request without a credential: it is refused on {} (only a \
             loopback address such as 127.0.0.1:7878 may serve without authentication)",
            settings.listen
        );
    }
    let store = open_store(settings).await?;
    // Ingest endpoints and the OTLP/HTTP receiver write to the same data dir as `rootline ingest`;
    // the slash command's investigations read the same indexes.
    let indexes = crate::live_ingest::LiveIndexes::open(&settings.data_dir)?;
    let ingest = crate::live_ingest::LiveIngest::over(&indexes, &settings.data_dir)?;
    let watcher = args.kube.then(|| {
        let mut kube = settings.kube.clone();
        if !args.kube_namespaces.is_empty() {
            kube.namespaces = args.kube_namespaces.clone();
        }
        let mut sink = crate::k8s_cli::WatchSink {
            ingest: ingest.ingestor(),
            store: store.clone(),
            data_dir: settings.data_dir.clone(),
        };
        let checkpoint = settings.data_dir.join("k8s").join("watch-checkpoint.json");
        eprintln!(
            "watching Kubernetes state (checkpoint {})",
            checkpoint.display()
        );
        tokio::spawn(async move {
            if let Some(dir) = checkpoint.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            match rootline_kube::watch(&kube, &checkpoint, &mut sink, std::future::pending()).await
            {
                Ok(s) => eprintln!("kubernetes watch stopped: {s:?}"),
                Err(e) => eprintln!("error: kubernetes watch stopped: {e}"),
            }
        })
    });
    let investigations = crate::live_investigate::LiveInvestigations::new(
        indexes,
        &settings.data_dir,
        store.clone(),
        crate::replay_cli::context_budget(settings),
    )
    .with_engine(settings.engine.clone())
    .with_prometheus(settings.prometheus.clone())
    .with_llm(serve_llm_run(settings)?);
    // A fresh data dir has no user: make its admin, and print a one-time login link for the
    // browser once the address is known (as Jupyter does); API clients get tokens from
    // `rootline token create`.
    let first_admin = if store.list_users().await?.is_empty() && !args.no_auth {
        let admin = store
            .add_user("admin", rootline_actions::Role::Admin, LOCAL_ADMIN)
            .await?;
        Some(admin.name)
    } else {
        None
    };
    let secure = args
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let mut state = rootline_server::AppState::new(store)
        .with_auth(if args.no_auth {
            rootline_server::AuthMode::Off
        } else {
            rootline_server::AuthMode::Required
        })
        .with_secure_cookies(secure)
        .with_allowed_hosts(args.allowed_hosts.clone())
        .with_ingest(std::sync::Arc::new(ingest))
        .with_investigations(std::sync::Arc::new(investigations));
    let public_url = args.public_url.clone();
    let chatops = rootline_server::ChatopsConfig::new(args.slack_signing_secret, args.chat_token)
        .map(|c| c.with_public_url(args.public_url));
    if let Some(config) = chatops {
        eprintln!("slash command enabled at POST /chatops/slash");
        state = state.with_chatops(config);
    }
    let login_code = first_admin.as_deref().map(|admin| state.login_code(admin));
    let app = rootline_server::Application::build(&settings.listen, state)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = app.local_addr()?;
    eprintln!(
        "rootline listening on {addr} (data dir {})",
        settings.data_dir.display()
    );
    if args.no_auth {
        eprintln!(
            "warning: --no-auth: every request is answered without a credential (loopback only; \
             verdicts and actions still need a token)"
        );
    }
    if let Some(code) = login_code {
        let base = public_url.unwrap_or_else(|| format!("http://{addr}"));
        eprintln!(
            "a fresh data dir: user \"admin\" was created. Open the timeline with this one-time \
             link (valid 24 h, this process only):\n    {}/ui/login?code={code}\n\
             API clients need a token: rootline token create admin (or a user of their own, \
             with --scope)",
            base.trim_end_matches('/')
        );
    }
    app.run_until_stopped().await?;
    if let Some(w) = watcher {
        w.abort();
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `listen` (`host:port`) is a loopback address: `127.0.0.0/8`, `::1` or `localhost`.
fn is_loopback(listen: &str) -> bool {
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    let host = listen.rsplit_once(':').map_or(listen, |(h, _)| h);
    host.eq_ignore_ascii_case("localhost")
}
