//! `rootline change …` and `rootline config …`: record and list change events, ingest config
//! files as versions (secrets masked, a new version only when the content changed) and show a
//! source's history. Thin: parsing and masking live in rootline-config, storage in
//! rootline-store.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use rootline_config::{FlatConfig, Format, change_event_id, diff, parse_config};
use rootline_core::time::{format_ns, parse_timestamp};
use rootline_core::{ChangeEvent, ChangeKind};
use rootline_store::Store;
use serde_json::json;

#[derive(clap::Subcommand, Debug)]
pub enum ChangeCommand {
    /// Record a deploy, rollback, flag flip, scaling or config change.
    Add {
        /// The service that changed.
        #[arg(long)]
        service: String,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Who made the change.
        #[arg(long)]
        who: Option<String>,
        /// One line: what changed (e.g. the version deployed).
        #[arg(long)]
        what: String,
        /// When (RFC 3339 or epoch); default now.
        #[arg(long)]
        at: Option<String>,
        /// Print the stored event as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List recorded changes, oldest first.
    List {
        /// From this time (RFC 3339 or epoch), inclusive.
        #[arg(long)]
        from: Option<String>,
        /// Until this time, exclusive.
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        service: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Read config files (YAML incl. Kubernetes manifests, JSON, TOML, INI, .env), mask secrets,
    /// and store a new version of each file when its content changed; prints the diff.
    Ingest {
        /// Config files; each one is a source, named by its absolute path.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Service the configs belong to (default: the file name without extension).
        #[arg(long)]
        service: Option<String>,
        /// Format of every file (yaml, json, toml, ini, env); default: from the name, then
        /// the content.
        #[arg(long)]
        format: Option<String>,
        /// When the content was observed (RFC 3339 or epoch); default: the file's mtime.
        #[arg(long)]
        at: Option<String>,
        /// One JSON object per file.
        #[arg(long)]
        json: bool,
    },
    /// Versions of one config source, oldest first, each with its diff from the one before.
    History {
        /// The source: a file path (made absolute, as `ingest` names it) or a stored name.
        source: String,
        #[arg(long)]
        json: bool,
    },
}

/// [`ChangeKind`] on the command line.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    Deploy,
    Rollback,
    #[value(alias = "feature_flag", alias = "flag")]
    FeatureFlag,
    Scale,
    Config,
    Other,
}

impl From<KindArg> for ChangeKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Deploy => ChangeKind::Deploy,
            KindArg::Rollback => ChangeKind::Rollback,
            KindArg::FeatureFlag => ChangeKind::FeatureFlag,
            KindArg::Scale => ChangeKind::Scale,
            KindArg::Config => ChangeKind::Config,
            KindArg::Other => ChangeKind::Other,
        }
    }
}

pub async fn run_change(cmd: ChangeCommand, store: &Store) -> Result<()> {
    match cmd {
        ChangeCommand::Add {
            service,
            kind,
            who,
            what,
            at,
            json,
        } => {
            if service.trim().is_empty() {
                bail!("--service must not be empty");
            }
            if what.trim().is_empty() {
                bail!("--what must not be empty");
            }
            let ts_ns = match at.as_deref() {
                Some(t) => time_arg("--at", t)?,
                None => now_ns(),
            };
            let mut event = ChangeEvent {
                id: String::new(),
                ts_ns,
                service,
                kind: kind.into(),
                who: who.filter(|w| !w.is_empty()),
                what,
                diff: None,
            };
            event.id = change_event_id(&event);
            let created = store.save_change_event(&event).await?;
            if json {
                println!("{}", serde_json::to_string(&event)?);
            } else {
                let note = if created {
                    "recorded"
                } else {
                    "already recorded"
                };
                println!("{note} {}: {}", event.id, change_line(&event));
            }
        }
        ChangeCommand::List {
            from,
            to,
            service,
            json,
        } => {
            let from = from.as_deref().map(|t| time_arg("--from", t)).transpose()?;
            let to = to.as_deref().map(|t| time_arg("--to", t)).transpose()?;
            let events = store
                .list_change_events(
                    from.unwrap_or(i64::MIN),
                    to.unwrap_or(i64::MAX),
                    service.as_deref(),
                )
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&events)?);
            } else {
                for e in &events {
                    println!("{}", change_line(e));
                }
                eprintln!("{} change(s)", events.len());
            }
        }
    }
    Ok(())
}

pub async fn run_config(cmd: ConfigCommand, store: &Store) -> Result<()> {
    match cmd {
        ConfigCommand::Ingest {
            paths,
            service,
            format,
            at,
            json,
        } => {
            let format = format
                .as_deref()
                .map(|f| {
                    Format::from_name(f).with_context(|| {
                        format!("--format {f:?}: expected yaml, json, toml, ini or env")
                    })
                })
                .transpose()?;
            let at = at.as_deref().map(|t| time_arg("--at", t)).transpose()?;
            let mut failed = 0;
            for path in &paths {
                if let Err(e) = ingest_one(store, path, service.as_deref(), format, at, json).await
                {
                    failed += 1;
                    eprintln!("error: {}: {e:#}", path.display());
                }
            }
            if failed > 0 {
                bail!(
                    "{failed} of {} config file(s) could not be ingested",
                    paths.len()
                );
            }
        }
        ConfigCommand::History { source, json } => {
            let source = source_name(Path::new(&source)).unwrap_or(source);
            let versions = store.list_config_versions(&source).await?;
            if versions.is_empty() {
                bail!("no config versions stored for {source:?}");
            }
            let empty = FlatConfig::new();
            let mut previous = &empty;
            let mut rows = Vec::new();
            for v in &versions {
                let d = diff(previous, &v.flattened);
                if json {
                    rows.push(json!({
                        "version": v.version,
                        "id": v.id,
                        "service": v.service,
                        "observed_at": format_ns(v.observed_at_ns),
                        "ingested_at": format_ns(v.ingested_at_ns),
                        "content_hash": v.content_hash,
                        "keys": v.flattened.len(),
                        "diff": d,
                    }));
                } else {
                    println!(
                        "v{}  observed {}  ingested {}  {}  {} keys  {}",
                        v.version,
                        format_ns(v.observed_at_ns),
                        format_ns(v.ingested_at_ns),
                        &v.content_hash[..12.min(v.content_hash.len())],
                        v.flattened.len(),
                        if v.version == 1 {
                            "(baseline)".to_owned()
                        } else {
                            d.counts()
                        }
                    );
                    if v.version > 1 {
                        print!("{}", indent(&d.render()));
                    }
                }
                previous = &v.flattened;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            }
        }
    }
    Ok(())
}

async fn ingest_one(
    store: &Store,
    path: &Path,
    service: Option<&str>,
    format: Option<Format>,
    at: Option<i64>,
    json: bool,
) -> Result<()> {
    let content = std::fs::read_to_string(path).context("cannot read the file")?;
    let source = source_name(path).unwrap_or_else(|| path.display().to_string());
    let parsed = parse_config(&content, path.to_str(), format)?;
    let service = match service {
        Some(s) => s.to_owned(),
        None => default_service(path),
    };
    let observed_at = match at {
        Some(t) => t,
        None => mtime_ns(path).unwrap_or_else(now_ns),
    };
    let saved = store
        .save_config_version(&source, &service, observed_at, &parsed.config)
        .await?;
    if json {
        let line = match &saved {
            Some(s) => json!({
                "source": source, "service": service, "format": parsed.format.as_str(),
                "created": true, "version": s.version, "keys": parsed.config.len(),
                "diff": s.diff, "change_id": s.change.as_ref().map(|c| &c.id),
            }),
            None => json!({
                "source": source, "service": service, "format": parsed.format.as_str(),
                "created": false, "keys": parsed.config.len(),
            }),
        };
        println!("{line}");
        return Ok(());
    }
    match saved {
        None => println!("{source}: unchanged"),
        Some(s) if s.change.is_none() => println!(
            "{source}: v{} stored as the baseline ({}, {} keys, service {service})",
            s.version,
            parsed.format,
            parsed.config.len()
        ),
        Some(s) => {
            println!("{source}: v{} ({})", s.version, s.diff.counts());
            print!("{}", indent(&s.diff.render()));
        }
    }
    Ok(())
}

/// A source is named by its absolute path, so that the same file ingested from another
/// directory is the same source. `None` when the path does not exist.
fn source_name(path: &Path) -> Option<String> {
    std::fs::canonicalize(path)
        .ok()
        .map(|p| p.display().to_string())
}

/// The file name without extensions (`api.yaml` → `api`); for a dot file (`.env`) the name of
/// the directory holding it.
fn default_service(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with('.') || name.is_empty() {
        return std::fs::canonicalize(path)
            .ok()
            .and_then(|p| {
                p.parent()
                    .and_then(|d| d.file_name())
                    .map(|d| d.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
    }
    name.split('.').next().unwrap_or(&name).to_owned()
}

fn time_arg(flag: &str, value: &str) -> Result<i64> {
    parse_timestamp(value)
        .with_context(|| format!("{flag} {value:?}: expected an rfc 3339 time or an epoch number"))
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

fn mtime_ns(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = modified.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(d.as_nanos()).ok()
}

fn change_line(e: &ChangeEvent) -> String {
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!(
        "{}  {kind:<12}  {:<20}  {:<12}  {}",
        format_ns(e.ts_ns),
        e.service,
        e.who.as_deref().unwrap_or("-"),
        e.what
    )
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
