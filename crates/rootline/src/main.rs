//! The `rootline` binary: parses arguments, resolves settings, starts telemetry and dispatches.

mod admin_cli;
mod changes_cli;
mod commands;
mod config;
mod k8s_cli;
mod live_ingest;
mod live_investigate;
mod prom_pull;
mod replay_cli;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "rootline",
    version,
    about = "Find why production broke: self-hosted incident root-cause analysis"
)]
pub struct Cli {
    /// Config file (TOML). Default: ./rootline.toml when it exists.
    #[arg(long, global = true, env = "ROOTLINE_CONFIG")]
    config: Option<PathBuf>,
    /// Directory holding the index, the templates and the SQLite database. Default: ./.rootline
    #[arg(long, global = true, env = "ROOTLINE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE (default, in the data dir) or postgres://…
    #[arg(long, global = true, env = "ROOTLINE_DATABASE_URL")]
    database_url: Option<String>,
    /// The engine's ranking configuration (TOML; every key optional, documented in
    /// deploy/engine.toml). Used by investigate, eval, demo and serve.
    #[arg(long, global = true, env = "ROOTLINE_ENGINE_CONFIG")]
    engine_config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Ingest log files (JSON lines or plain text starting with a timestamp; gzip ok; - for stdin).
    Ingest(IngestArgs),
    /// Investigate an incident: a bundle directory, or a time window over the data dir's index.
    Investigate(InvestigateArgs),
    /// Run the main job end to end on the real incident bundled in the repository.
    Demo(DemoArgs),
    /// Print a stored investigation again.
    Report(ReportArgs),
    /// Search the indexed logs.
    Search(SearchArgs),
    /// Turn a public incident dataset into incident bundles.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Log templates: list them, or evaluate the miner on a Loghub-style directory.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Serve the HTTP API.
    Serve(ServeArgs),
    /// Kubernetes: a bundle of the cluster's current state.
    #[command(subcommand)]
    K8s(K8sCommand),
    /// Change events: record deploys, rollbacks, flag flips, scaling; list them.
    #[command(subcommand)]
    Change(changes_cli::ChangeCommand),
    /// Versioned configs: ingest files (secrets masked, diffed), show a source's history.
    #[command(subcommand)]
    Config(changes_cli::ConfigCommand),
    /// Batch evaluation over incident bundles with known causes (AC@k, fault type, naive
    /// baseline); `eval export` turns judged incidents into bundles.
    Eval(EvalArgs),
    /// Benchmarks (numbers for docs/benchmarks.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// SRE verdicts on investigations, candidates and hypotheses.
    #[command(subcommand)]
    Verdict(admin_cli::VerdictCommand),
    /// Proposed fixes: approve, reject, execute (only after approval).
    #[command(subcommand)]
    Action(admin_cli::ActionCommand),
    /// Users and roles.
    #[command(subcommand)]
    User(admin_cli::UserCommand),
    /// API tokens (stored hashed).
    #[command(subcommand)]
    Token(admin_cli::TokenCommand),
    /// The hash-chained audit log: list, verify.
    #[command(subcommand)]
    Audit(admin_cli::AuditCommand),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub command: Option<EvalCommand>,
    /// Directory of incident bundles (searched recursively for incident.json).
    pub dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the report as Markdown.
    #[arg(long)]
    pub markdown: bool,
    /// Only bundles whose path contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Investigate every bundle again with its window start moved by each offset, in seconds
    /// (end kept), e.g. `--jitter -120,-60,-30,0,30,60`: AC@k per offset and their mean.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub jitter: Vec<i64>,
    /// Also write the report as one self-contained HTML page (charts as inline SVG, no script).
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Score the stored investigations against their latest verdicts instead of bundles: AC@1
    /// and AC@3 over every judged investigation and per month ("how right were we").
    #[arg(long, conflicts_with_all = ["dir", "jitter", "html"])]
    pub verdicts: bool,
    /// Also run the model step on every bundle (on the engine's evidence) and score each model:
    /// hypothesis AC@k next to the engine's, grounding, calibration, tokens, cost, latency.
    #[arg(long)]
    pub llm: bool,
    /// With --llm: the OpenAI-compatible base URL (else `[llm] base_url`).
    #[arg(long, requires = "llm")]
    pub llm_base_url: Option<String>,
    /// With --llm: a model to score (repeatable; else `[llm] model`).
    #[arg(long = "llm-model", requires = "llm")]
    pub llm_models: Vec<String>,
    /// With --llm: record each model's answers to DIR/<model>.json on the first run, and replay
    /// them from there afterwards (no network): a scorecard reproducible without the model.
    #[arg(long, requires = "llm", value_name = "DIR")]
    pub cassette: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// End-to-end log ingest vs bare tantivy indexing of the same records, with peak memory.
    Ingest {
        /// Log files or directories (searched recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Read the input this many times under distinct names (scales a real sample up).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Write every judged incident as a bundle with its verdict as truth.
    Export(admin_cli::EvalExportArgs),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files to ingest; `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Service for lines that name none (default: the file name without extensions).
    #[arg(long)]
    pub service: Option<String>,
    /// Print only the summary as JSON: {"read":N,"indexed":N,"rejected":N,...}.
    #[arg(long)]
    pub json: bool,
    /// Write rejected lines (file, line, reason) as JSON lines to this file instead of stderr.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// What the files hold.
    #[arg(long, value_enum, default_value = "logs")]
    pub kind: DataKind,
    /// `--kind k8s`: when the captures were taken (RFC 3339 or epoch): relative ages (`49m`) and
    /// untimed log lines count back from it. Default: a `NAME@TIME` in the file name, else the
    /// file's modification time (the summary says which files used it).
    #[arg(long)]
    pub captured_at: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum K8sCommand {
    /// List every collected kind in the namespaces given (read-only; kubeconfig or in-cluster
    /// service account) and write a bundle: `incident.json` (the last hour) and
    /// `k8s/objects@TIME.json`.
    Snapshot {
        /// Namespace to list (repeatable); none: every namespace.
        #[arg(long = "namespace", short = 'n')]
        namespaces: Vec<String>,
        /// The bundle directory to write.
        #[arg(long)]
        out: PathBuf,
        /// A kubeconfig file (default: KUBECONFIG, ~/.kube/config, then in-cluster).
        #[arg(long)]
        kubeconfig: Option<PathBuf>,
        /// The API server URL instead of a kubeconfig (with --token).
        #[arg(long)]
        server: Option<String>,
        #[arg(long, env = "ROOTLINE_KUBE_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum DataKind {
    Logs,
    /// Spans: CSV (trace id, span id, parent, service/pod, operation, start, end/duration) or OTLP JSON.
    Traces,
    /// Metrics: Prometheus text / OpenMetrics, CSV wide (time + one column per series) or long.
    Metrics,
    /// Kubernetes state: `kubectl get -o json|yaml`, `describe`, `get` and events tables,
    /// `kubectl logs` output (`<pod>.log`).
    K8s,
}

#[derive(Args, Debug)]
pub struct InvestigateArgs {
    /// An incident bundle directory (incident.json + logs/). It is ingested into a fresh index.
    pub bundle: Option<PathBuf>,
    /// Pull the window's and the baseline's metrics from this Prometheus-compatible query API
    /// (Prometheus, Thanos, Mimir, VictoriaMetrics), overriding `[prometheus] url`
    /// (docs/prometheus.md). Without a bundle.
    #[arg(long, conflicts_with = "bundle")]
    pub prometheus_url: Option<String>,
    /// Incident title (without a bundle).
    #[arg(long)]
    pub title: Option<String>,
    #[arg(long, default_value = "")]
    pub description: String,
    /// Incident start, RFC 3339 or epoch.
    #[arg(long, conflicts_with = "around")]
    pub start: Option<String>,
    /// Incident end; default 15 minutes after the start.
    #[arg(long, conflicts_with = "around")]
    pub end: Option<String>,
    /// When the alert fired (RFC 3339 or epoch), when the onset is known only roughly: the
    /// window runs from `--before` before it to `--after` after it.
    #[arg(long)]
    pub around: Option<String>,
    /// With --around: how far back the window opens (e.g. 30m, 1h, 90s).
    #[arg(long, default_value = "30m", requires = "around")]
    pub before: String,
    /// With --around: how far after the alert the window closes.
    #[arg(long, default_value = "10m", requires = "around")]
    pub after: String,
    /// Affected service named by the alert (repeatable).
    #[arg(long = "service")]
    pub services: Vec<String>,
    /// Alert payload (JSON file) to keep with the incident.
    #[arg(long)]
    pub alert: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Ask the configured OpenAI-compatible model for hypotheses (grounded in code; offline
    /// ranking kept). Without it the investigation is offline.
    #[arg(long)]
    pub llm: bool,
    /// Model endpoint, overriding [llm] base_url (e.g. http://127.0.0.1:11434/v1).
    #[arg(long)]
    pub llm_base_url: Option<String>,
    /// Model name, overriding [llm] model.
    #[arg(long)]
    pub llm_model: Option<String>,
    /// Print the exact request that would be sent to the model, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Save the model exchange to this cassette file.
    #[arg(long, conflicts_with = "replay_cassette")]
    pub record_cassette: Option<PathBuf>,
    /// Replay the model exchange from this cassette file (no network).
    #[arg(long)]
    pub replay_cassette: Option<PathBuf>,
    /// Prompt templates directory, overriding [llm] prompts_dir (the highest version of each
    /// prompt in it is used).
    #[arg(long)]
    pub prompts_dir: Option<PathBuf>,
    /// Re-run the model step of a stored investigation on its frozen evidence snapshot (no
    /// index, no re-ingest), store it as a new investigation linked to this one, and print what
    /// changed. Needs --llm (with --llm-model / --llm-base-url / --prompts-dir for the new
    /// run); without it nothing is re-run and the stored report is shown.
    #[arg(
        long,
        value_name = "INVESTIGATION_ID",
        conflicts_with_all = ["bundle", "title", "start", "end", "alert", "services"]
    )]
    pub replay: Option<String>,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The bundle to run (default: the one shipped in eval/demo).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    pub id: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Query over the message text (tantivy syntax: words, "phrases", AND/OR).
    pub query: String,
    #[arg(long)]
    pub service: Option<String>,
    /// From this time (RFC 3339 or epoch).
    #[arg(long)]
    pub from: Option<String>,
    /// Until this time (exclusive).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long)]
    pub json: bool,
    /// Print only the number of matching records (`*` matches everything).
    #[arg(long)]
    pub count: bool,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Nezha TrainTicket (cases.jsonl + cases/<id>/log/*.csv.gz).
    Nezha {
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Import only this case id.
        #[arg(long)]
        case: Option<String>,
    },
    /// OpenStack fault injection (AGPL data: bundles go to --out, never into the repository).
    Openstack {
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        case: Option<String>,
    },
    /// GAIA MicroSS and OpenRCA Online Boutique alerts with their topology.
    Gaia {
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        case: Option<String>,
    },
    /// Kubernetes misconfiguration faults (manifests + event text; synthetic clock).
    K8s {
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Import only this fault folder (`f3` or `k8s-f3`).
        #[arg(long)]
        case: Option<String>,
    },
    /// Kubernetes-state RCA cases (recorded kubectl describe/get/events/logs and manifests;
    /// synthetic capture time).
    #[command(name = "k8s-state")]
    K8sState {
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Import only this upstream case folder (`ask-02_what_is_wrong_with_pod`).
        #[arg(long)]
        case: Option<String>,
    },
    /// PetShop RCA (metrics-only, CloudWatch/X-Ray; every scenario's train/ and test/ issues).
    Petshop {
        src: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// Import only this bundle id (`high_traffic-train-issue_3`).
        #[arg(long)]
        case: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TemplatesCommand {
    /// Templates of the current index, most frequent first.
    List {
        #[arg(long)]
        service: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Templates that are new, gone, or changed rate in a window against a baseline window.
    Diff {
        /// Window start (RFC 3339 or epoch).
        #[arg(long)]
        start: String,
        /// Window end.
        #[arg(long)]
        end: String,
        /// Baseline start; default: the same length just before --start.
        #[arg(long)]
        baseline_start: Option<String>,
        #[arg(long)]
        baseline_end: Option<String>,
        #[arg(long)]
        service: Option<String>,
        /// p-value below which a rate change is listed.
        #[arg(long, default_value_t = 0.001)]
        significance: f64,
        #[arg(long)]
        json: bool,
    },
    /// GA/PA/FGA/FTA on a Loghub-style directory (one folder per system).
    Eval {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
        /// Write OUT/<system>.csv with LineId,TemplateId,Template for every line.
        #[arg(long)]
        assignments: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:7878).
    #[arg(long, env = "ROOTLINE_LISTEN")]
    pub listen: Option<String>,
    /// Slack's signing secret: enables the `/rootline` slash command at `POST /chatops/slash`,
    /// with every request's signature checked.
    #[arg(long, env = "ROOTLINE_SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<String>,
    /// The token Mattermost sends with its slash command: enables the command
    /// for those servers (a signing secret, when also given, takes precedence).
    #[arg(long, env = "ROOTLINE_CHAT_TOKEN", hide_env_values = true)]
    pub chat_token: Option<String>,
    /// Where people reach this server (e.g. https://rootline.example.com): chat answers link to
    /// the incident's timeline page there.
    #[arg(long, env = "ROOTLINE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Watch the cluster's events, pods and workload objects (read-only) into the data dir:
    /// the config file's `[kube]` table, else kubeconfig or in-cluster service account.
    #[arg(long)]
    pub kube: bool,
    /// With --kube: a namespace to watch (repeatable); none: the config's, else every one.
    #[arg(long = "kube-namespace")]
    pub kube_namespaces: Vec<String>,
    /// A host name this server answers to besides loopback, the listen address and the public
    /// URL's host (a reverse proxy's name; repeatable or comma-separated). Requests naming any
    /// other Host, or coming from a page of another Origin, are refused.
    #[arg(
        long = "allowed-host",
        env = "ROOTLINE_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Answer every request without a credential: for a throwaway demo only, refused on any
    /// address but loopback (verdicts and actions still need a token).
    #[arg(long)]
    pub no_auth: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        tune_allocator();
    }
    let overrides = config::Overrides {
        config: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        engine_config: cli.engine_config.clone(),
        listen: match &cli.command {
            Command::Serve(a) => a.listen.clone(),
            _ => None,
        },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, overrides)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The glibc setting `serve` needs to give memory back: without it glibc keeps what a large
/// ingest request freed in each thread's arena, and a long-running server's RSS climbs (a soak
/// goes from 23 to ~150 MB instead of ~40 MB; docs/benchmarks.md, "Large ingest requests"). A
/// tunable is read only at process start, so `serve` starts itself again once with it set,
/// unless the environment already sets it (deploy/rootline.service does).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    use std::os::unix::process::CommandExt;
    const TUNABLE: &str = "glibc.malloc.mmap_threshold=131072";
    let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if current.contains("glibc.malloc.mmap_threshold") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let tunables = if current.is_empty() {
        TUNABLE.to_owned()
    } else {
        format!("{current}:{TUNABLE}")
    };
    // `exec` returns only when it failed: then serve as we are.
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", tunables)
        .exec();
    eprintln!(
        "note: cannot restart with {TUNABLE} ({err}); memory freed after large requests may stay held"
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
