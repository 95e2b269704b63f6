//! A Slack-compatible slash command (`/rootline ...`), served by rootline itself: Slack, and the
//! self-hosted Mattermost, which posts the same form.
//!
//! `POST /chatops/slash` takes the chat server's `application/x-www-form-urlencoded` body
//! (`command`, `text`, `user_name`, `response_url`, ...) and answers with a message
//! (`{"response_type": "in_channel"|"ephemeral", "text": ...}`).
//!
//! | text | what happens |
//! |---|---|
//! | `investigate [SERVICE...] [last 30m \| since TIME [until TIME]] [-- ALERT TEXT]` | investigates the window (against the same length before it) over what the server has ingested, stores the investigation, posts the ranked causes to the channel |
//! | `show ID` | a stored investigation |
//! | `incidents` | the five newest incidents |
//! | `verdict ID right\|wrong\|partly [cause=SERVICE] [NOTE...]` | records a verdict on the investigation as the rootline user the caller's chat account is linked to (see `chat_verdicts.rs`; an unlinked caller is told how to link, and nothing is recorded) |
//! | `help` (or nothing) | usage, only to the caller |
//!
//! Requests are authenticated before anything is read: with Slack's signing secret
//! (`X-Slack-Signature` over `v0:{timestamp}:{body}`, timestamps older than five minutes
//! refused, so a captured request cannot be replayed), or with the verification token Mattermost
//! puts in the `token` field. Without either configured the endpoint answers 404.
//!
//! Decisions:
//! - The chat answers within Slack's three seconds: an investigation that takes longer goes on in
//!   the background, the caller is told so, and the result is posted to the request's
//!   `response_url`.
//! - An investigation's answer carries "right" and "wrong" buttons (Slack Block Kit; Mattermost
//!   message actions, with a public URL) that record a verdict the same way.
//! - Nothing in chat changes the world. There is no approve command: approving an action needs a
//!   rootline user's bearer token on `/api/v1/actions/{id}/approve`, so that the audit log names
//!   an authenticated person, not a chat display name.
//! - Log text is untrusted: every text that comes from the evidence is escaped (`&`, `<`, `>`), so
//!   a log line cannot ping `@channel`, mention a user or plant a link in the channel.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rootline_core::{Incident, Outcome, Report};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::AppState;
use crate::error::{ApiError, chain};
use crate::service::{BoxFuture, ServiceError};
use crate::text::{escape_chat as escape, truncate, url_component};

/// Slack refuses requests whose timestamp is further than this from now; so do we.
const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;
/// Window investigated when the command names none.
const DEFAULT_WINDOW_MINUTES: i64 = 30;
/// Longest window a chat command may ask for.
const MAX_WINDOW_HOURS: i64 = 24;
/// Candidates listed in a chat answer.
const LISTED_CANDIDATES: usize = 3;
/// Longest "why" shown per candidate, in characters.
const MAX_WHY_CHARS: usize = 400;

/// Runs an investigation over what the server has ingested and stores it.
pub trait InvestigateService: Send + Sync + 'static {
    /// Investigates `incident` (its window, the services it names) and returns the stored report.
    fn investigate(&self, incident: Incident) -> BoxFuture<'_, Result<Report, ServiceError>>;
}

/// How the slash command authenticates its caller, and how long it may take to answer.
#[derive(Debug, Clone)]
pub struct ChatopsConfig {
    /// Slack's signing secret (Slack app settings, "Basic Information").
    pub signing_secret: Option<String>,
    /// The token Mattermost sends in the `token` field.
    pub verification_token: Option<String>,
    /// How long an investigation may run before the answer is posted to `response_url` instead.
    pub answer_within: Duration,
    /// Where people reach this server (`https://rootline.example.com`): answers link to the
    /// incident's timeline page there.
    pub public_url: Option<String>,
    /// Signatures accepted in the last [`MAX_CLOCK_SKEW_SECS`], with their timestamps: a signed
    /// request is valid once (a captured request replayed within the window is refused).
    seen: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
}

impl ChatopsConfig {
    /// Slack's limit is three seconds; leave room for the network.
    pub const DEFAULT_ANSWER_WITHIN: Duration = Duration::from_millis(2500);

    /// `None` when neither a signing secret nor a token is set: the command stays off.
    pub fn new(
        signing_secret: Option<String>,
        verification_token: Option<String>,
    ) -> Option<ChatopsConfig> {
        let signing_secret = signing_secret.filter(|s| !s.is_empty());
        let verification_token = verification_token.filter(|s| !s.is_empty());
        if signing_secret.is_none() && verification_token.is_none() {
            return None;
        }
        Some(ChatopsConfig {
            signing_secret,
            verification_token,
            answer_within: Self::DEFAULT_ANSWER_WITHIN,
            public_url: None,
            seen: Default::default(),
        })
    }

    /// Slack when a signing secret is set (it takes precedence), else Mattermost.
    pub fn flavour(&self) -> rootline_store::ChatFlavour {
        if self.signing_secret.is_some() {
            rootline_store::ChatFlavour::Slack
        } else {
            rootline_store::ChatFlavour::Mattermost
        }
    }

    /// Links answers to the timeline pages under `url`.
    pub fn with_public_url(mut self, url: Option<String>) -> ChatopsConfig {
        self.public_url = url
            .map(|u| u.trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty());
        self
    }
}

/// The fields of the slash command form that rootline reads.
#[derive(Debug, Default, Deserialize)]
struct SlashForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    command: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    channel_name: String,
    #[serde(default)]
    response_url: String,
}

/// A chat message, in the shape Slack and Mattermost both accept; `blocks` (Slack) and
/// `attachments` (Mattermost) carry the verdict buttons of an investigation's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChatMessage {
    pub response_type: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<serde_json::Value>,
}

impl ChatMessage {
    fn to_channel(text: String) -> ChatMessage {
        ChatMessage {
            response_type: "in_channel".into(),
            text,
            blocks: None,
            attachments: None,
        }
    }

    pub(crate) fn to_caller(text: String) -> ChatMessage {
        ChatMessage {
            response_type: "ephemeral".into(),
            text,
            blocks: None,
            attachments: None,
        }
    }

    /// An investigation's answer, with the verdict buttons of the chat server's flavour.
    fn answer(report: &Report, config: &ChatopsConfig) -> ChatMessage {
        let text = format_report(report, config.public_url.as_deref());
        let mut message = ChatMessage::to_channel(text);
        crate::chat_verdicts::add_buttons(&mut message, &report.investigation_id, config);
        message
    }
}

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq)]
enum SlashCommand {
    Help,
    Investigate {
        services: Vec<String>,
        window: WindowSpec,
        alert: String,
    },
    Show(String),
    Incidents,
    Verdict(crate::chat_verdicts::ChatVerdict),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum WindowSpec {
    Last(chrono::Duration),
    Since(DateTime<Utc>),
    /// A past window, for a postmortem from chat.
    Between(DateTime<Utc>, DateTime<Utc>),
}

/// `POST /chatops/slash`.
pub(crate) async fn slash(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ChatMessage>, ApiError> {
    let Some(config) = state.chatops.clone() else {
        return Err(ApiError::NotFound(
            "chatops is not configured on this server".into(),
        ));
    };
    let form: SlashForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not a slash command form: {e}")))?;
    authenticate(&config, &headers, &body, &form, now_secs())?;
    let user = if form.user_name.is_empty() {
        form.user_id.clone()
    } else {
        form.user_name.clone()
    };
    tracing::info!(user = %user, channel = %form.channel_name, command = %form.command, "slash command");
    let command = match parse_command(&form.text) {
        Ok(c) => c,
        Err(e) => return Ok(Json(ChatMessage::to_caller(format!("{e}\n\n{}", usage())))),
    };
    let message = match command {
        SlashCommand::Help => ChatMessage::to_caller(usage()),
        SlashCommand::Show(id) => match state.store.get_investigation(&id).await? {
            Some(report) => ChatMessage::answer(&report, &config),
            None => ChatMessage::to_caller(format!("No investigation with id `{}`.", escape(&id))),
        },
        SlashCommand::Incidents => {
            let incidents = state.store.list_incidents().await?;
            ChatMessage::to_caller(format_incidents(&incidents))
        }
        SlashCommand::Verdict(verdict) => ChatMessage::to_caller(
            crate::chat_verdicts::record(&state, config.flavour(), &form.user_id, &verdict).await?,
        ),
        SlashCommand::Investigate {
            services,
            window,
            alert,
        } => {
            let Some(investigations) = state.investigations.clone() else {
                return Ok(Json(ChatMessage::to_caller(
                    "This server does not run investigations (it serves stored ones only).".into(),
                )));
            };
            let incident = incident_for(&services, window, &alert, &user, Utc::now());
            investigate_in_time(investigations, incident, &config, form.response_url).await
        }
    };
    Ok(Json(message))
}

/// Runs the investigation; answers with its result when it finishes in time, else says it is
/// running and posts the result to `response_url` when it is done.
async fn investigate_in_time(
    investigations: Arc<dyn InvestigateService>,
    incident: Incident,
    config: &ChatopsConfig,
    response_url: String,
) -> ChatMessage {
    let title = incident.title.clone();
    let mut task = tokio::spawn(async move { investigations.investigate(incident).await });
    match tokio::time::timeout(config.answer_within, &mut task).await {
        Ok(joined) => finished(joined, config),
        Err(_) => {
            if !is_web_url(&response_url) {
                // Nowhere to post later: let it finish and store it; say where to find it.
                return ChatMessage::to_caller(format!(
                    "Investigating *{}*; it takes longer than usual. `/rootline incidents` will \
                     list it when it is done.",
                    escape(&title)
                ));
            }
            let config = config.clone();
            tokio::spawn(async move {
                let message = finished(task.await, &config);
                if let Err(e) = post_message(&response_url, &message).await {
                    tracing::warn!(error = %e, "cannot post the investigation to response_url");
                }
            });
            ChatMessage::to_caller(format!(
                "Investigating *{}*; the result will be posted here.",
                escape(&title)
            ))
        }
    }
}

fn finished(
    joined: Result<Result<Report, ServiceError>, tokio::task::JoinError>,
    config: &ChatopsConfig,
) -> ChatMessage {
    let failure = match joined {
        Ok(Ok(report)) => return ChatMessage::answer(&report, config),
        Ok(Err(e)) => chain(&e),
        Err(e) => chain(&e),
    };
    tracing::error!(error = %failure, "chat investigation failed");
    ChatMessage::to_caller(
        "The investigation failed on the server; its log has the details.".into(),
    )
}

pub(crate) fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

pub(crate) async fn post_message(url: &str, message: &ChatMessage) -> Result<(), reqwest::Error> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .post(url)
        .json(message)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Checks the caller: Slack's signature when a signing secret is configured, else the token.
fn authenticate(
    config: &ChatopsConfig,
    headers: &HeaderMap,
    body: &[u8],
    form: &SlashForm,
    now: i64,
) -> Result<(), ApiError> {
    if config.signing_secret.is_some() {
        return verify_slack_request(config, headers, body, now);
    }
    if let Some(token) = &config.verification_token
        && constant_time_eq(token.as_bytes(), form.token.as_bytes())
    {
        return Ok(());
    }
    Err(ApiError::Unauthorized(
        "the slash command token does not match".into(),
    ))
}

/// Checks a request Slack signed (a slash command or an interaction): the signature over the
/// raw body, the five-minute window and that the signature was not seen before.
pub(crate) fn verify_slack_request(
    config: &ChatopsConfig,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let Some(secret) = &config.signing_secret else {
        return Err(ApiError::NotFound(
            "Slack is not configured on this server".into(),
        ));
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Unauthorized(format!("missing header {name}")))
    };
    let timestamp = header("x-slack-request-timestamp")?;
    let signature = header("x-slack-signature")?;
    verify_slack_signature(secret, timestamp, body, signature, now)?;
    refuse_replay(config, signature, now)
}

/// A valid signature is accepted once: its request cannot be replayed while its timestamp is
/// still inside the window (after that the timestamp check refuses it).
fn refuse_replay(config: &ChatopsConfig, signature: &str, now: i64) -> Result<(), ApiError> {
    let mut seen = config
        .seen
        .lock()
        .map_err(|_| ApiError::Unauthorized("replay check unavailable".into()))?;
    seen.retain(|_, at| now.abs_diff(*at) <= 2 * MAX_CLOCK_SKEW_SECS as u64);
    if seen.insert(signature.to_string(), now).is_some() {
        return Err(ApiError::Unauthorized(
            "this signed request was already received (replayed)".into(),
        ));
    }
    Ok(())
}

/// Slack's request signing: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`.
fn verify_slack_signature(
    secret: &str,
    timestamp: &str,
    body: &[u8],
    signature: &str,
    now: i64,
) -> Result<(), ApiError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| ApiError::Unauthorized("x-slack-request-timestamp is not a number".into()))?;
    // abs_diff: a timestamp near i64's ends must not wrap into the window.
    if now.abs_diff(ts) > MAX_CLOCK_SKEW_SECS as u64 {
        return Err(ApiError::Unauthorized(
            "x-slack-request-timestamp is more than five minutes away from now".into(),
        ));
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| ApiError::Unauthorized("x-slack-signature is not v0=<hex>".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| ApiError::Unauthorized("x-slack-signature does not match".into()))
}

/// The signature a request needs: for tests and for clients that sign their own requests.
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Compares without returning early, so that timing does not reveal the token's prefix.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn usage() -> String {
    [
        "*rootline* finds why production broke. Commands:",
        "• `/rootline investigate [SERVICE...] [last 30m | since TIME [until TIME]] [-- ALERT TEXT]`: rank the probable causes in that window (default: the last 30 minutes; times in RFC 3339, e.g. 2026-11-28T09:25:00Z) against the window of the same length before it",
        "• `/rootline show ID`: a stored investigation",
        "• `/rootline incidents`: the newest incidents",
        "• `/rootline verdict ID right|wrong|partly [cause=SERVICE] [NOTE]`: say whether an investigation was right (as the rootline user your chat account is linked to)",
        "Proposed fixes are approved by an authenticated rootline user over the API, never from chat.",
    ]
    .join("\n")
}

/// Parses the text after the command. Errors name the word that could not be read.
fn parse_command(text: &str) -> Result<SlashCommand, String> {
    let (head, alert) = match text.split_once("--") {
        Some((h, a)) => (h, a.trim().to_owned()),
        None => (text, String::new()),
    };
    let mut words = head.split_whitespace();
    let Some(verb) = words.next() else {
        return Ok(SlashCommand::Help);
    };
    match verb.to_ascii_lowercase().as_str() {
        "help" => Ok(SlashCommand::Help),
        "incidents" => Ok(SlashCommand::Incidents),
        "show" => {
            let id = words
                .next()
                .ok_or("`show` needs an investigation id")?
                .to_owned();
            if let Some(extra) = words.next() {
                return Err(format!("unexpected `{}` after the id", escape(extra)));
            }
            Ok(SlashCommand::Show(id))
        }
        "investigate" => {
            let mut services = Vec::new();
            let mut window = WindowSpec::Last(chrono::Duration::minutes(DEFAULT_WINDOW_MINUTES));
            while let Some(word) = words.next() {
                match word.to_ascii_lowercase().as_str() {
                    "last" => {
                        let d = words.next().ok_or("`last` needs a duration, e.g. 30m")?;
                        window = WindowSpec::Last(parse_duration(d)?);
                    }
                    "since" => {
                        let t = words
                            .next()
                            .ok_or("`since` needs a time, e.g. 2026-11-28T09:25:00Z")?;
                        window = WindowSpec::Since(parse_time(t)?);
                    }
                    "until" => {
                        let WindowSpec::Since(start) = window else {
                            return Err("`until` comes after `since TIME`".into());
                        };
                        let t = words
                            .next()
                            .ok_or("`until` needs a time, e.g. 2026-11-28T09:40:00Z")?;
                        let end = parse_time(t)?;
                        if end <= start {
                            return Err(format!("`until {}` is not after `since`", escape(t)));
                        }
                        if end - start > chrono::Duration::hours(MAX_WINDOW_HOURS) {
                            return Err(format!(
                                "a window is at most {MAX_WINDOW_HOURS} hours long"
                            ));
                        }
                        window = WindowSpec::Between(start, end);
                    }
                    _ => services
                        .extend(word.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
                }
            }
            Ok(SlashCommand::Investigate {
                services,
                window,
                alert,
            })
        }
        "verdict" => {
            let rest: Vec<&str> = words.collect();
            // A note may contain `--`: it is the whole rest of the line.
            let note_tail = (!alert.is_empty()).then_some(alert.as_str());
            crate::chat_verdicts::parse(&rest, note_tail).map(SlashCommand::Verdict)
        }
        other => Err(format!("unknown command `{}`", escape(other))),
    }
}

/// `15m`, `2h`, `90s`, `1d`: at most [`MAX_WINDOW_HOURS`].
fn parse_duration(word: &str) -> Result<chrono::Duration, String> {
    let d = rootline_core::time::parse_duration(word)
        .ok_or_else(|| format!("`{}` is not a duration (use e.g. 15m, 2h)", escape(word)))?;
    if d > chrono::Duration::hours(MAX_WINDOW_HOURS) {
        return Err(format!(
            "`{}`: a window is between 1 second and {MAX_WINDOW_HOURS} hours",
            escape(word)
        ));
    }
    Ok(d)
}

fn parse_time(word: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(word)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "`{}` is not an RFC 3339 time (e.g. 2026-11-28T09:25:00Z)",
                escape(word)
            )
        })
}

/// The incident a chat command describes: its window ends now unless `until` says otherwise.
fn incident_for(
    services: &[String],
    window: WindowSpec,
    alert: &str,
    user: &str,
    now: DateTime<Utc>,
) -> Incident {
    let (start, end) = match window {
        WindowSpec::Last(d) => (now - d, now),
        WindowSpec::Since(t) => (t.min(now - chrono::Duration::seconds(1)), now),
        WindowSpec::Between(start, end) => (start, end),
    };
    let subject = if services.is_empty() {
        "all services".to_owned()
    } else {
        services.join(", ")
    };
    let title = if alert.is_empty() {
        format!("chat investigation of {subject}")
    } else {
        alert.chars().take(120).collect()
    };
    Incident {
        id: uuid::Uuid::now_v7().to_string(),
        title,
        description: format!("asked in chat by {user}: {subject}"),
        start,
        end: Some(end),
        services: services.to_vec(),
        alert: (!alert.is_empty()).then(|| serde_json::json!({"text": alert, "from": "chat"})),
        baseline_windows: vec![],
    }
}

/// A report as a chat message: outcome, the leading candidates with their evidence ids, the
/// investigation id to look it up again and, with a public URL, a link to its timeline page.
pub fn format_report(report: &Report, public_url: Option<&str>) -> String {
    let mut lines = vec![format!(
        "*{}* ({} to {}, {} log records; baseline {} records)",
        escape(&report.incident.title),
        report.stats.window_start,
        report.stats.window_end,
        report.stats.window_records,
        report.stats.baseline_records,
    )];
    let headline = match (report.outcome, report.candidates.first()) {
        (Outcome::ProbableCause, Some(top)) => format!(
            "*Probable root cause: {} ({})*: {}",
            escape(&top.entity),
            top.fault_type.as_str(),
            escape(&report.outcome_reason)
        ),
        (outcome, _) => format!(
            "*{}*: {}",
            capitalise(outcome.as_str()),
            escape(&report.outcome_reason)
        ),
    };
    lines.push(headline);
    for (i, c) in report.candidates.iter().take(LISTED_CANDIDATES).enumerate() {
        let evidence: Vec<String> = c
            .evidence
            .iter()
            .take(3)
            .map(|id| format!("`{}`", escape(id)))
            .collect();
        lines.push(format!(
            "{}. *{}* {} (score {:.2}): {}\n    evidence: {}",
            i + 1,
            escape(&c.entity),
            c.fault_type.as_str(),
            c.score,
            escape(&truncate(&c.why, MAX_WHY_CHARS)),
            evidence.join(", ")
        ));
    }
    if report.candidates.len() > LISTED_CANDIDATES {
        lines.push(format!(
            "… and {} more candidate(s).",
            report.candidates.len() - LISTED_CANDIDATES
        ));
    }
    lines.push(format!(
        "Investigation `{}`: `/rootline show {}`; verdicts and fixes go through the rootline API.",
        escape(&report.investigation_id),
        escape(&report.investigation_id)
    ));
    if let Some(base) = public_url {
        lines.push(format!(
            "Timeline: {base}/ui/incidents/{}?investigation={}",
            url_component(&report.incident.id),
            url_component(&report.investigation_id)
        ));
    }
    lines.join("\n")
}

fn format_incidents(incidents: &[Incident]) -> String {
    if incidents.is_empty() {
        return "No incidents stored yet.".into();
    }
    let mut lines = vec!["*Newest incidents*".to_owned()];
    for i in incidents.iter().take(5) {
        lines.push(format!(
            "• {} `{}`: {}",
            i.start.format("%Y-%m-%d %H:%M UTC"),
            escape(&i.id),
            escape(&i.title)
        ));
    }
    lines.join("\n")
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_commands() {
        assert_eq!(parse_command("").unwrap(), SlashCommand::Help);
        assert_eq!(parse_command("  help ").unwrap(), SlashCommand::Help);
        assert_eq!(parse_command("incidents").unwrap(), SlashCommand::Incidents);
        assert_eq!(
            parse_command("show 0193-abc").unwrap(),
            SlashCommand::Show("0193-abc".into())
        );
        assert_eq!(
            parse_command("investigate checkout,payments cart last 15m -- 5xx on /pay <!channel>")
                .unwrap(),
            SlashCommand::Investigate {
                services: vec!["checkout".into(), "payments".into(), "cart".into()],
                window: WindowSpec::Last(chrono::Duration::minutes(15)),
                alert: "5xx on /pay <!channel>".into(),
            }
        );
        assert_eq!(
            parse_command("investigate since 2023-01-29T09:25:39Z until 2023-01-29T09:27:08Z")
                .unwrap(),
            SlashCommand::Investigate {
                services: vec![],
                window: WindowSpec::Between(
                    "2023-01-29T09:25:39Z".parse().unwrap(),
                    "2023-01-29T09:27:08Z".parse().unwrap()
                ),
                alert: String::new(),
            }
        );
        let since = parse_command("investigate since 2026-11-28T09:25:00Z").unwrap();
        assert_eq!(
            since,
            SlashCommand::Investigate {
                services: vec![],
                window: WindowSpec::Since("2026-11-28T09:25:00Z".parse().unwrap()),
                alert: String::new(),
            }
        );
    }

    #[test]
    fn bad_words_are_named() {
        assert!(
            parse_command("investigate last 15x")
                .unwrap_err()
                .contains("`15x` is not a duration")
        );
        assert!(
            parse_command("investigate last 3d")
                .unwrap_err()
                .contains("between 1 second and 24 hours")
        );
        assert!(
            parse_command("investigate since yesterday")
                .unwrap_err()
                .contains("`yesterday` is not an RFC 3339 time")
        );
        assert!(
            parse_command("restart <!here>")
                .unwrap_err()
                .contains("unknown command `restart`")
        );
        assert!(
            parse_command("investigate until 2026-11-28T09:25:00Z")
                .unwrap_err()
                .contains("after `since TIME`")
        );
        assert!(
            parse_command("investigate since 2026-11-28T09:25:00Z until 2026-11-28T09:00:00Z")
                .unwrap_err()
                .contains("is not after")
        );
        assert!(
            parse_command("show")
                .unwrap_err()
                .contains("needs an investigation id")
        );
    }

    #[test]
    fn slack_signatures_are_checked_with_the_clock() {
        let body = b"command=%2Frootline&text=help";
        let sig = slack_signature("s3cret", 1_700_000_000, body);
        assert!(verify_slack_signature("s3cret", "1700000000", body, &sig, 1_700_000_100).is_ok());
        // Wrong secret, tampered body, replayed late, malformed.
        assert!(verify_slack_signature("other", "1700000000", body, &sig, 1_700_000_100).is_err());
        assert!(
            verify_slack_signature(
                "s3cret",
                "1700000000",
                b"text=incidents",
                &sig,
                1_700_000_100
            )
            .is_err()
        );
        assert!(
            verify_slack_signature("s3cret", "1700000000", body, &sig, 1_700_000_000 + 301)
                .is_err()
        );
        assert!(
            verify_slack_signature("s3cret", "1700000000", body, "abc", 1_700_000_000).is_err()
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn a_chat_incident_ends_now_and_keeps_the_alert_as_data() {
        let now: DateTime<Utc> = "2026-11-28T10:00:00Z".parse().unwrap();
        let i = incident_for(
            &["checkout".into()],
            WindowSpec::Last(chrono::Duration::minutes(15)),
            "p99 latency > 2s",
            "alice",
            now,
        );
        assert_eq!(
            i.start,
            "2026-11-28T09:45:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(i.end, Some(now));
        assert_eq!(i.services, vec!["checkout".to_owned()]);
        assert_eq!(i.title, "p99 latency > 2s");
        assert!(i.description.contains("alice"));
        assert!(i.validate().is_ok());
        // A start in the future still leaves a valid window.
        let later = incident_for(
            &[],
            WindowSpec::Since(now + chrono::Duration::hours(1)),
            "",
            "bob",
            now,
        );
        assert!(later.start < now);
        assert!(later.validate().is_ok());
    }
}
