//! `rootline verdict | action | user | token | audit` and `rootline eval export`: the CLI over
//! the store's verdicts, approval-gated actions, users, tokens and audit log.
//!
//! Verdict and action commands act as the user of an API token (`--token` or `ROOTLINE_TOKEN`),
//! exactly as the HTTP API does, so the same roles and approval rules apply on both paths.
//! `user add` and `token create` are local administration: whoever can open the database is
//! trusted with them (that is how the first admin is made), and the audit log records them as
//! `cli:local`. Each `run_*` writes its output to `out` and returns the process exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{Duration, Utc};
use clap::{Args, Subcommand};
use rootline_actions::{
    Action, ActionContent, ApprovalPolicy, DryRunExecutor, Executor, Role, WebhookExecutor,
};
use rootline_store::{
    ExportOptions, Judgement, LOCAL_ADMIN, NewAction, NewVerdict, Store, User, VerdictTarget,
    export_judged_bundles,
};

/// Who is acting: the user of an API token.
#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// API token of the user acting (see `rootline token create`).
    #[arg(long, env = "ROOTLINE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum VerdictCommand {
    /// Judge an investigation, one of its candidates or hypotheses (adds a new version).
    Add(VerdictAddArgs),
    /// Every verdict version on an investigation (the highest version per target is current).
    List {
        investigation: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct VerdictAddArgs {
    /// The investigation judged.
    pub investigation: String,
    /// What is judged: `investigation`, `candidate:ENTITY` or `hypothesis:ID`.
    #[arg(long, default_value = "investigation")]
    pub target: String,
    /// accepted, rejected or partly_right.
    #[arg(long)]
    pub judgement: String,
    /// The service actually at fault.
    #[arg(long)]
    pub root_cause_service: Option<String>,
    /// The entity (pod, instance…) actually at fault.
    #[arg(long)]
    pub root_cause_entity: Option<String>,
    /// The actual fault type (e.g. exception, latency, config_change).
    #[arg(long)]
    pub fault_type: Option<String>,
    /// What fixed it.
    #[arg(long)]
    pub fix: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum ActionCommand {
    /// Propose an action; it runs only after approval.
    Propose(ActionProposeArgs),
    /// Approve the exact content whose hash you reviewed (see `action show`).
    Approve {
        id: String,
        /// The content hash you reviewed; the approval is void if the content changes.
        #[arg(long)]
        hash: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Reject a proposed or approved action.
    Reject {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Run an approved action: a dry run unless --webhook-url is given.
    Execute {
        id: String,
        /// POST the approved action, HMAC-signed, to this http:// URL.
        #[arg(long)]
        webhook_url: Option<String>,
        /// Environment variable holding the webhook's HMAC secret.
        #[arg(long, default_value = "ROOTLINE_WEBHOOK_SECRET")]
        webhook_secret_env: String,
        #[command(flatten)]
        auth: AuthArgs,
    },
    /// Show one action: content, hash, state and approvals.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Actions, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ActionProposeArgs {
    /// What kind of change, e.g. restart, rollback, scale, config_change, runbook.
    #[arg(long)]
    pub kind: String,
    /// What it acts on, e.g. a service.
    #[arg(long)]
    pub target: String,
    /// One line for humans.
    #[arg(long)]
    pub summary: String,
    /// Executor parameters as a JSON object.
    #[arg(long)]
    pub params: Option<String>,
    #[arg(long)]
    pub incident: Option<String>,
    #[arg(long)]
    pub investigation: Option<String>,
    /// Distinct approvers needed (2 = two-person rule).
    #[arg(long, default_value_t = 1)]
    pub required_approvals: u32,
    /// Seconds until the proposal expires (default 4 h).
    #[arg(long)]
    pub ttl_secs: Option<i64>,
    /// Seconds one approval stays valid (default 30 min).
    #[arg(long)]
    pub approval_ttl_secs: Option<i64>,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user with a role: viewer, responder, approver or admin.
    Add {
        name: String,
        #[arg(long)]
        role: String,
    },
    /// Every user.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: every token of theirs stops working at once (the audit log keeps what
    /// they did).
    Disable { name: String },
    /// Link a chat account to a user: verdicts given from chat (buttons, `/rootline verdict`)
    /// are recorded as this user. Give the chat server's user id, not the display name.
    Link {
        name: String,
        /// A Slack user id (`U024BE7LH`: profile → ⋮ → Copy member ID).
        #[arg(
            long,
            conflicts_with = "mattermost_user",
            required_unless_present = "mattermost_user"
        )]
        slack_user: Option<String>,
        /// A Mattermost user id (26 characters; System Console → Users, or the API).
        #[arg(long)]
        mattermost_user: Option<String>,
    },
}

/// Days a token lives unless `--expires-in-days` or `--never-expires` says otherwise: a token
/// forgotten in a script or a chat paste stops working on its own.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a user; it is printed once and stored only as a hash.
    Create {
        user: String,
        #[arg(long, default_value = "")]
        label: String,
        /// Days until it expires.
        #[arg(long, default_value_t = DEFAULT_TOKEN_DAYS, conflicts_with = "never_expires")]
        expires_in_days: i64,
        /// A token that never expires (a service account you rotate by hand).
        #[arg(long)]
        never_expires: bool,
        /// What the token may be used for (repeatable or comma-separated): ingest, read,
        /// investigate, verdict, act, approve, admin; each within the user's role. Default: the
        /// role's scopes. A collector gets `--scope ingest`, a dashboard `--scope read`.
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<rootline_actions::Scope>,
    },
    /// Revoke a token by its id (`tok_…`, as `token create` printed it): it stops working at
    /// once.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Audit entries, oldest first.
    List {
        /// Only entries after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain; exits 1 when a row was edited, inserted or deleted.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

/// `rootline eval export`.
#[derive(Args, Debug)]
pub struct EvalExportArgs {
    /// Where to write one bundle per judged incident.
    #[arg(long)]
    pub out: PathBuf,
    /// Directories holding the incidents' original bundles, whose logs/metrics/traces are
    /// copied into the export (searched 4 levels deep by incident id).
    #[arg(long = "data-root")]
    pub data_roots: Vec<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

async fn authenticate(store: &Store, auth: &AuthArgs) -> Result<User> {
    let token = auth
        .token
        .as_deref()
        .ok_or_else(|| anyhow!("this command needs an API token: --token or ROOTLINE_TOKEN"))?;
    store
        .authenticate(token)
        .await?
        .ok_or_else(|| anyhow!("unknown, expired or revoked token"))
}

fn print_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

fn parse_target(s: &str) -> Result<VerdictTarget> {
    match s.split_once(':') {
        None if s == "investigation" => Ok(VerdictTarget::Investigation),
        Some(("candidate", entity)) if !entity.is_empty() => Ok(VerdictTarget::Candidate {
            entity: entity.to_owned(),
        }),
        Some(("hypothesis", id)) if !id.is_empty() => {
            Ok(VerdictTarget::Hypothesis { id: id.to_owned() })
        }
        _ => bail!("--target {s:?}: expected investigation, candidate:ENTITY or hypothesis:ID"),
    }
}

pub async fn run_verdict(
    cmd: VerdictCommand,
    store: &Store,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    match cmd {
        VerdictCommand::Add(a) => {
            let user = authenticate(store, &a.auth).await?;
            let judgement = Judgement::parse(&a.judgement).ok_or_else(|| {
                anyhow!(
                    "--judgement {:?}: expected accepted, rejected or partly_right",
                    a.judgement
                )
            })?;
            let new = NewVerdict {
                investigation_id: a.investigation,
                target: parse_target(&a.target)?,
                judgement,
                root_cause_service: a.root_cause_service,
                root_cause_entity: a.root_cause_entity,
                fault_type: a.fault_type,
                fix: a.fix,
                note: a.note,
            };
            let v = store
                .record_verdict(&user.actor(), &new, Utc::now())
                .await?;
            if a.json {
                print_json(out, &v)?;
            } else {
                writeln!(
                    out,
                    "verdict {} recorded: {} version {} of {} on investigation {} by {}",
                    v.id,
                    v.judgement.as_str(),
                    v.version,
                    target_label(&v.target),
                    v.investigation_id,
                    v.author_name
                )?;
            }
        }
        VerdictCommand::List {
            investigation,
            json,
        } => {
            if store.get_investigation(&investigation).await?.is_none() {
                bail!("no investigation with id {investigation:?}");
            }
            let verdicts = store.list_verdicts(&investigation).await?;
            if json {
                print_json(out, &verdicts)?;
            } else if verdicts.is_empty() {
                writeln!(out, "no verdicts on investigation {investigation}")?;
            } else {
                for v in &verdicts {
                    let cause = [&v.root_cause_service, &v.root_cause_entity, &v.fault_type]
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" / ");
                    writeln!(
                        out,
                        "{}  v{}  {:<13} {:<30} {}  by {}{}",
                        v.created_at,
                        v.version,
                        v.judgement.as_str(),
                        target_label(&v.target),
                        if cause.is_empty() { "-".into() } else { cause },
                        v.author_name,
                        v.note
                            .as_deref()
                            .map(|n| format!("  ({n})"))
                            .unwrap_or_default()
                    )?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn target_label(t: &VerdictTarget) -> String {
    match t {
        VerdictTarget::Investigation => "investigation".into(),
        VerdictTarget::Candidate { entity } => format!("candidate:{entity}"),
        VerdictTarget::Hypothesis { id } => format!("hypothesis:{id}"),
    }
}

fn action_line(a: &Action) -> String {
    format!(
        "{}  {:<9}  {} {}  ({})  hash {}  expires {}",
        a.id,
        a.state.as_str(),
        a.content.kind,
        a.content.target,
        a.content.summary,
        a.content_hash,
        a.expires_at.to_rfc3339()
    )
}

pub async fn run_action(
    cmd: ActionCommand,
    store: &Store,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    match cmd {
        ActionCommand::Propose(a) => {
            let user = authenticate(store, &a.auth).await?;
            let params = match &a.params {
                Some(p) => serde_json::from_str(p)
                    .with_context(|| format!("--params {p:?} is not valid json"))?,
                None => serde_json::Value::Null,
            };
            let defaults = ApprovalPolicy::default();
            let new = NewAction {
                incident_id: a.incident,
                investigation_id: a.investigation,
                content: ActionContent {
                    kind: a.kind,
                    target: a.target,
                    summary: a.summary,
                    params,
                },
                policy: ApprovalPolicy {
                    required_approvals: a.required_approvals,
                    proposal_ttl_secs: a.ttl_secs.unwrap_or(defaults.proposal_ttl_secs),
                    approval_ttl_secs: a.approval_ttl_secs.unwrap_or(defaults.approval_ttl_secs),
                },
            };
            let action = store
                .propose_action(&user.actor(), &new, Utc::now())
                .await?;
            if a.json {
                print_json(out, &action)?;
            } else {
                writeln!(out, "proposed {}", action_line(&action))?;
                writeln!(
                    out,
                    "approve with: rootline action approve {} --hash {}",
                    action.id, action.content_hash
                )?;
            }
        }
        ActionCommand::Approve { id, hash, auth } => {
            let user = authenticate(store, &auth).await?;
            let r = store
                .approve_action(&id, &user.actor(), &hash, Utc::now())
                .await?;
            writeln!(
                out,
                "approval recorded ({} of {}): {}",
                r.approvals,
                r.required,
                action_line(&r.action)
            )?;
        }
        ActionCommand::Reject { id, reason, auth } => {
            let user = authenticate(store, &auth).await?;
            let a = store
                .reject_action(&id, &user.actor(), &reason, Utc::now())
                .await?;
            writeln!(out, "rejected {}", action_line(&a))?;
        }
        ActionCommand::Execute {
            id,
            webhook_url,
            webhook_secret_env,
            auth,
        } => {
            let user = authenticate(store, &auth).await?;
            let executor: Box<dyn Executor> = match webhook_url {
                None => Box::new(DryRunExecutor),
                Some(url) => {
                    let secret = std::env::var(&webhook_secret_env).with_context(|| {
                        format!("the webhook secret must be in ${webhook_secret_env}")
                    })?;
                    Box::new(WebhookExecutor::new(&url, secret)?)
                }
            };
            let a = store
                .execute_action(&id, &user.actor(), executor.as_ref(), Utc::now())
                .await?;
            let detail = a.result.as_ref().map_or("", |r| r.detail.as_str());
            writeln!(out, "{} {}: {detail}", a.id, a.state.as_str())?;
            if a.result.as_ref().is_some_and(|r| !r.success) {
                return Ok(ExitCode::FAILURE);
            }
        }
        ActionCommand::Show { id, json } => {
            let action = store
                .get_action(&id)
                .await?
                .ok_or_else(|| anyhow!("no action with id {id:?}"))?;
            let approvals = store.list_approvals(&id).await?;
            if json {
                print_json(
                    out,
                    &serde_json::json!({"action": action, "approvals": approvals}),
                )?;
            } else {
                writeln!(out, "{}", action_line(&action))?;
                writeln!(
                    out,
                    "content: {}",
                    serde_json::to_string_pretty(&action.content)?
                )?;
                writeln!(
                    out,
                    "proposed by {} at {}; needs {} approval(s)",
                    action.proposed_by.name(),
                    action.created_at.to_rfc3339(),
                    action.required_approvals
                )?;
                for ap in &approvals {
                    let void = if ap.content_hash == action.content_hash {
                        ""
                    } else {
                        "  (void: content changed)"
                    };
                    writeln!(
                        out,
                        "approved by {} at {} until {}{void}",
                        ap.approver_name,
                        ap.approved_at.to_rfc3339(),
                        ap.expires_at.to_rfc3339()
                    )?;
                }
                if let Some(r) = &action.result {
                    writeln!(out, "result ({}): {}", r.executor, r.detail)?;
                }
            }
        }
        ActionCommand::List { limit, json } => {
            let actions = store.list_actions(limit).await?;
            if json {
                print_json(out, &actions)?;
            } else if actions.is_empty() {
                writeln!(out, "no actions")?;
            } else {
                for a in &actions {
                    writeln!(out, "{}", action_line(a))?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_user(cmd: UserCommand, store: &Store, out: &mut dyn Write) -> Result<ExitCode> {
    match cmd {
        UserCommand::Add { name, role } => {
            let role: Role = role.parse().map_err(|e: String| anyhow!("--role: {e}"))?;
            let user = store.add_user(&name, role, LOCAL_ADMIN).await?;
            writeln!(
                out,
                "user {} added with role {} ({})",
                user.name, user.role, user.id
            )?;
        }
        UserCommand::List { json } => {
            let users = store.list_users().await?;
            if json {
                print_json(out, &users)?;
            } else {
                for u in &users {
                    writeln!(
                        out,
                        "{:<24} {:<10} {}{}",
                        u.name,
                        u.role.as_str(),
                        u.created_at,
                        if u.disabled { "  disabled" } else { "" }
                    )?;
                }
            }
        }
        UserCommand::Link {
            name,
            slack_user,
            mattermost_user,
        } => {
            let (flavour, chat_user) = match (slack_user, mattermost_user) {
                (Some(u), _) => (rootline_store::ChatFlavour::Slack, u),
                (None, Some(u)) => (rootline_store::ChatFlavour::Mattermost, u),
                (None, None) => bail!("give --slack-user or --mattermost-user"),
            };
            let user = store
                .link_chat_user(&name, flavour, &chat_user, LOCAL_ADMIN)
                .await?;
            writeln!(
                out,
                "{} user {chat_user} is linked to {} ({}): verdicts from chat are recorded as them",
                flavour.as_str(),
                user.name,
                user.role
            )?;
        }
        UserCommand::Disable { name } => {
            let user = store.disable_user(&name, LOCAL_ADMIN).await?;
            writeln!(
                out,
                "user {} disabled: their tokens no longer work",
                user.name
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_token(cmd: TokenCommand, store: &Store, out: &mut dyn Write) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create {
            user,
            label,
            expires_in_days,
            never_expires,
            scopes,
        } => {
            if expires_in_days <= 0 {
                bail!("--expires-in-days must be positive");
            }
            let expires = (!never_expires).then(|| Utc::now() + Duration::days(expires_in_days));
            let scopes = (!scopes.is_empty()).then_some(scopes.as_slice());
            let t = store
                .create_scoped_token(&user, &label, expires, scopes, LOCAL_ADMIN)
                .await?;
            // The token alone on stdout, so that scripts can capture it; the note on stderr.
            writeln!(out, "{}", t.token)?;
            eprintln!(
                "token {} for {} ({}), scopes {}, expires {}; it is shown only now and stored only as a hash",
                t.id,
                t.user.name,
                t.user.role,
                t.scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                t.expires_at.as_deref().unwrap_or("never")
            );
        }
        TokenCommand::Revoke { id } => {
            store.revoke_token(&id, LOCAL_ADMIN).await?;
            writeln!(out, "token {id} revoked")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_audit(cmd: AuditCommand, store: &Store, out: &mut dyn Write) -> Result<ExitCode> {
    match cmd {
        AuditCommand::List { after, limit, json } => {
            let entries = store.list_audit(after, limit).await?;
            if json {
                print_json(out, &entries)?;
            } else {
                for e in &entries {
                    writeln!(
                        out,
                        "{:>6}  {}  {:<28} {:<14} {}  {}",
                        e.seq,
                        e.at,
                        e.event,
                        e.actor,
                        e.subject,
                        rootline_actions::canonical_json(&e.details)
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { json } => {
            let v = store.verify_audit_chain().await?;
            if json {
                print_json(out, &v)?;
            } else if let Some(b) = &v.broken {
                writeln!(
                    out,
                    "audit chain BROKEN at row {}: {} ({} rows checked)",
                    b.seq, b.reason, v.rows
                )?;
            } else {
                writeln!(
                    out,
                    "audit chain intact: {} rows, head {}",
                    v.rows, v.head_hash
                )?;
            }
            Ok(if v.is_intact() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

pub async fn run_eval_export(
    args: EvalExportArgs,
    store: &Store,
    out: &mut dyn Write,
) -> Result<ExitCode> {
    let summary = export_judged_bundles(
        store,
        &args.out,
        &ExportOptions {
            data_roots: args.data_roots,
        },
    )
    .await?;
    if args.json {
        print_json(out, &summary)?;
    } else {
        for b in &summary.exported {
            let data = match &b.data_from {
                Some(p) => format!("data from {}", p.display()),
                None => "no data found: pass --data-root with the original bundles".into(),
            };
            writeln!(
                out,
                "exported {} to {} ({data})",
                b.incident_id,
                b.dir.display()
            )?;
        }
        for s in &summary.skipped {
            writeln!(out, "skipped {}: {}", s.incident_id, s.reason)?;
        }
        writeln!(
            out,
            "{} judged incident(s) exported, {} skipped; run: rootline eval {}",
            summary.exported.len(),
            summary.skipped.len(),
            args.out.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
