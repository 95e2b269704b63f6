//! Asking the model for hypotheses: building the (redacted) requests, sending them with timeouts,
//! retries and budgets, repairing a malformed answer once, running the searches the model asks
//! for, and grounding what comes back.
//!
//! [`hypothesize`] never fails: any error (no key, timeout, exhausted retries, unusable answer,
//! missing cassette entry) ends the exchange, and the outcome says "offline" with the error
//! recorded, so the investigation completes on the evidence engine's ranking.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use chrono::{DateTime, SecondsFormat, Utc};
use rootline_core::{Candidate, Incident};
use rootline_signals::pack::{PackedContext, estimate_tokens};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::answer::{Answer, FollowUp, answer_schema, answer_shape, parse_answer};
use crate::cassette::{Cassette, CassetteMode};
use crate::config::{LlmSettings, StructuredOutput};
use crate::ground::{GroundedHypothesis, RejectCode, RejectedHypothesis, ShownItem, ground};
use crate::prompts::{Prompt, PromptRecord, Prompts};
use crate::redact::{RedactionCounts, Redactor};

/// Strength given to a log record found by a follow-up search: it shows the line exists, not
/// that it is unusual against the baseline.
pub const FOLLOWUP_STRENGTH: f64 = 0.25;

pub const MODE_LLM: &str = "llm";
pub const MODE_OFFLINE: &str = "offline";

/// Runs a follow-up search on the index. Implemented by the caller over its index; called from
/// async code, so one search should take milliseconds, not seconds.
pub trait Searcher: Send + Sync {
    /// At most `query.limit` `(log record evidence id, raw line)` pairs.
    fn search(&self, query: &FollowUp) -> Vec<(String, String)>;
}

/// A searcher that finds nothing, for callers without an index.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSearch;

impl Searcher for NoSearch {
    fn search(&self, _query: &FollowUp) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Tokens, requests and cost of one investigation's model exchange.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Requests rootline sent (0 when replayed from a cassette). The HTTP client's own retries
    /// on 429/5xx/connection errors are inside each request.
    pub requests: u32,
    /// Model answers received (from the network or a cassette).
    pub responses: u32,
    /// True when a response carried no usage and tokens were estimated from text length.
    pub estimated: bool,
    pub estimated_cost_usd: f64,
    pub elapsed_ms: u64,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// A search the model asked for, and what it found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRecord {
    pub query: String,
    pub entity: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Local ids of the items added from its results.
    pub added: Vec<String>,
}

/// A local id and the evidence it stood for, for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownRef {
    pub id: String,
    pub evidence_id: String,
}

/// What the model contributed to an investigation, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmOutcome {
    /// "llm" when grounded model hypotheses are in; "offline" when the ranking is the evidence
    /// engine's alone (no model configured, or the exchange failed: see `error`).
    pub mode: String,
    /// Surviving hypotheses, most confident first.
    pub hypotheses: Vec<GroundedHypothesis>,
    pub rejected: Vec<RejectedHypothesis>,
    /// The model answered but no hypothesis survived grounding: the answer is "insufficient
    /// evidence", with the offline ranking.
    pub insufficient_evidence: bool,
    pub prompt: PromptRecord,
    pub model: Option<String>,
    pub usage: Usage,
    pub error: Option<String>,
    /// What happened along the way (fallbacks, skipped searches, …).
    pub notes: Vec<String>,
    pub searches: Vec<SearchRecord>,
    pub shown: Vec<ShownRef>,
    /// Replacements made before anything left the process, by kind.
    pub redactions: RedactionCounts,
    /// Every request body, exactly as sent (after redaction), for audit and `--dry-run`.
    pub request_payloads: Vec<Value>,
}

impl LlmOutcome {
    fn offline(prompt: PromptRecord) -> LlmOutcome {
        LlmOutcome {
            mode: MODE_OFFLINE.into(),
            hypotheses: vec![],
            rejected: vec![],
            insufficient_evidence: false,
            prompt,
            model: None,
            usage: Usage::default(),
            error: None,
            notes: vec![],
            searches: vec![],
            shown: vec![],
            redactions: RedactionCounts::new(),
            request_payloads: vec![],
        }
    }

    /// The outcome when no model is configured.
    pub fn not_configured(prompts: &Prompts) -> LlmOutcome {
        let mut out = LlmOutcome::offline(prompts.hypotheses().record.clone());
        out.notes
            .push("no model configured: the ranking is the evidence engine's alone".into());
        out
    }

    /// One line for a report: what the model did, how many hypotheses were dropped and why.
    pub fn summary(&self) -> String {
        if self.mode == MODE_OFFLINE {
            return match &self.error {
                Some(e) => format!(
                    "offline: the model exchange failed ({e}); the ranking is the evidence engine's alone"
                ),
                None => "offline: no model configured; the ranking is the evidence engine's alone"
                    .into(),
            };
        }
        let mut by_code: std::collections::BTreeMap<RejectCode, usize> = Default::default();
        for r in &self.rejected {
            *by_code.entry(r.code).or_default() += 1;
        }
        let dropped = if by_code.is_empty() {
            "none dropped".to_string()
        } else {
            format!(
                "{} dropped ({})",
                self.rejected.len(),
                by_code
                    .iter()
                    .map(|(c, n)| format!("{n} {}", c.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let verdict = if self.insufficient_evidence {
            "; insufficient evidence: no hypothesis survived grounding"
        } else {
            ""
        };
        format!(
            "model {}: {} hypothesis(es) kept, {dropped}{verdict}; {} tokens in {} request(s), ~${:.4}",
            self.model.as_deref().unwrap_or("?"),
            self.hypotheses.len(),
            self.usage.total_tokens(),
            self.usage.requests,
            self.usage.estimated_cost_usd
        )
    }
}

/// The request body the first exchange sends, exactly: what `rootline investigate --dry-run`
/// prints. Reads no key and sends nothing.
pub fn dry_run_payload(
    settings: &LlmSettings,
    prompts: &Prompts,
    incident: &Incident,
    ranking: &[Candidate],
    context: &PackedContext,
) -> Result<Value, String> {
    let redactor = redactor_for(settings, settings.api_key().ok().flatten().as_ref());
    let mut counts = RedactionCounts::new();
    let prepared = prepare(
        settings,
        prompts.hypotheses(),
        incident,
        ranking,
        context,
        &redactor,
        &mut counts,
    )?;
    Ok(request_body(settings, &prepared.messages, true))
}

fn redactor_for(settings: &LlmSettings, key: Option<&crate::config::ApiKey>) -> Redactor {
    let mut r = Redactor::new(settings.redaction);
    if let Some(k) = key {
        r = r.with_literal(k.expose(), "configured_api_key");
    }
    r
}

struct Prepared {
    /// The template context; later blocks extend it.
    ctx: Value,
    shown: Vec<ShownItem>,
    messages: Vec<Value>,
    omitted: usize,
}

fn rfc3339_ns(ns: i64) -> String {
    DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn item_json(item: &ShownItem, kind: &str, first_seen: Option<&str>) -> Value {
    json!({
        "id": item.id,
        "entity": item.entity,
        "kind": kind,
        "first_seen": first_seen,
        "strength": (item.strength * 100.0).round() / 100.0,
        "summary": item.summary,
        "lines": item.lines,
    })
}

fn message(
    role: &str,
    content: String,
    redactor: &Redactor,
    counts: &mut RedactionCounts,
) -> Value {
    // The last pass over everything that leaves: prompt text, incident fields, model output sent
    // back, search results.
    json!({"role": role, "content": redactor.redact(&content, counts)})
}

fn prepare(
    settings: &LlmSettings,
    prompt: &Prompt,
    incident: &Incident,
    ranking: &[Candidate],
    context: &PackedContext,
    redactor: &Redactor,
    counts: &mut RedactionCounts,
) -> Result<Prepared, String> {
    let mut shown = Vec::new();
    let mut evidence = Vec::new();
    for p in &context.items {
        let item = ShownItem {
            id: p.id.clone(),
            evidence_id: p.evidence_id.clone(),
            entity: redactor.redact(&p.entity, counts),
            strength: p.strength,
            summary: redactor.redact(&p.summary, counts),
            lines: p
                .lines
                .iter()
                .map(|l| redactor.redact(&l.text, counts))
                .collect(),
        };
        let kind = serde_json::to_value(p.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        evidence.push(item_json(&item, &kind, Some(&rfc3339_ns(p.first_seen_ns))));
        shown.push(item);
    }
    let candidates: Vec<Value> = ranking
        .iter()
        .map(|c| {
            json!({
                "entity": c.entity,
                "fault_type": c.fault_type.as_str(),
                "score": c.score,
                "evidence_ids": c.evidence.iter().filter_map(|e| context.local_id(e)).collect::<Vec<_>>(),
                "why": c.why,
            })
        })
        .collect();
    let end = incident
        .end
        .map(|e| e.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "(open)".into());
    let ctx = json!({
        "max_searches": settings.max_followups,
        "schema": answer_shape(),
        "incident": {
            "title": incident.title,
            "description": incident.description,
            "start": incident.start.to_rfc3339_opts(SecondsFormat::Secs, true),
            "end": end,
            "services": incident.services,
        },
        "candidates": candidates,
        "evidence": evidence,
        "omitted": context.dropped,
        "error": "",
    });
    let system = prompt.render("system", &ctx)?;
    let user = prompt.render("user", &ctx)?;
    Ok(Prepared {
        ctx,
        shown,
        messages: vec![
            message("system", system, redactor, counts),
            message("user", user, redactor, counts),
        ],
        omitted: context.dropped,
    })
}

fn request_body(settings: &LlmSettings, messages: &[Value], response_format: bool) -> Value {
    let mut body = json!({
        "model": settings.model,
        "messages": messages,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "stream": false,
    });
    if response_format {
        match settings.structured_output {
            StructuredOutput::JsonSchema => {
                body["response_format"] = json!({
                    "type": "json_schema",
                    "json_schema": {"name": "rootline_hypotheses", "strict": true, "schema": answer_schema()},
                });
            }
            StructuredOutput::JsonObject => {
                body["response_format"] = json!({"type": "json_object"});
            }
            StructuredOutput::None => {}
        }
    }
    body
}

enum CallError {
    Timeout(Duration),
    Status(u16, String),
    Other(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Timeout(d) => write!(f, "the model did not answer within {:?}", d),
            CallError::Status(code, m) => {
                write!(
                    f,
                    "the model server answered {code}: {}",
                    crate::truncate(m, 300)
                )
            }
            CallError::Other(m) => f.write_str(m),
        }
    }
}

struct Session<'a> {
    settings: &'a LlmSettings,
    client: Option<Client<Box<dyn Config>>>,
    cassette: Option<Cassette>,
    replay: bool,
    started: Instant,
    response_format: bool,
    redactor: Redactor,
    out: &'a mut LlmOutcome,
}

impl Session<'_> {
    fn remaining(&self) -> Duration {
        Duration::from_secs(self.settings.budget_secs).saturating_sub(self.started.elapsed())
    }

    /// One call. async-openai 0.43 retries 429, 5xx and connection errors itself (3 retries,
    /// exponential backoff from 100 ms, honouring Retry-After); the timeout bounds the whole,
    /// retries included.
    async fn call(&mut self, body: &Value) -> Result<Value, CallError> {
        let Some(client) = &self.client else {
            return Err(CallError::Other("no client".into()));
        };
        let remaining = self.remaining();
        if remaining.is_zero() {
            return Err(CallError::Other(format!(
                "the time budget of {} s is used up",
                self.settings.budget_secs
            )));
        }
        let limit = Duration::from_secs(self.settings.timeout_secs).min(remaining);
        self.out.usage.requests += 1;
        let chat = client.chat();
        let sent = chat.create_byot::<&Value, Value>(body);
        // One span per model call with the OpenTelemetry GenAI attributes: the model and the
        // token counts, never the prompt or the answer.
        let span = tracing::info_span!(
            "gen_ai_chat",
            otel.name = format!("chat {}", self.settings.model),
            otel.kind = "client",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "openai",
            gen_ai.request.model = %self.settings.model,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let result =
            tracing::Instrument::instrument(tokio::time::timeout(limit, sent), span.clone()).await;
        match &result {
            Ok(Ok(v)) => {
                if let Some(n) = v["usage"]["prompt_tokens"].as_u64() {
                    span.record("gen_ai.usage.input_tokens", n);
                }
                if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
                    span.record("gen_ai.usage.output_tokens", n);
                }
            }
            Ok(Err(_)) => {
                span.record("error.type", "api_error");
            }
            Err(_) => {
                span.record("error.type", "timeout");
            }
        }
        match result {
            Err(_) => Err(CallError::Timeout(limit)),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(OpenAIError::ApiError(r))) => Err(CallError::Status(
                r.status_code.as_u16(),
                r.api_error.message,
            )),
            Ok(Err(OpenAIError::Reqwest(e))) => Err(CallError::Other(format!(
                "cannot reach the model server: {e}"
            ))),
            Ok(Err(OpenAIError::JSONDeserialize(e, _))) => Err(CallError::Other(format!(
                "the model server's response is not JSON: {e}"
            ))),
            Ok(Err(other)) => Err(CallError::Other(other.to_string())),
        }
    }

    /// Sends `messages` (falling back once to no `response_format` when the server rejects it)
    /// and returns the answer's text.
    async fn exchange(&mut self, messages: &[Value]) -> Result<String, String> {
        let mut body = request_body(self.settings, messages, self.response_format);
        let needed =
            estimate_tokens(&body.to_string()) as u64 + u64::from(self.settings.max_tokens);
        if self.out.usage.total_tokens() + needed > self.settings.budget_tokens {
            return Err(format!(
                "the next request needs about {needed} tokens, which would exceed the budget of {} ({} used)",
                self.settings.budget_tokens,
                self.out.usage.total_tokens()
            ));
        }
        let response = loop {
            self.out.request_payloads.push(body.clone());
            if self.replay {
                let c = self.cassette.as_mut().ok_or("no cassette")?;
                break c.replay(&body).map_err(|e| e.to_string())?;
            }
            match self.call(&body).await {
                Ok(v) => break v,
                Err(CallError::Status(code, m))
                    if matches!(code, 400 | 422 | 501) && body.get("response_format").is_some() =>
                {
                    self.out.notes.push(format!(
                        "the server rejected response_format ({code}: {}); asking without it",
                        crate::truncate(&m, 120)
                    ));
                    self.response_format = false;
                    body = request_body(self.settings, messages, false);
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        if let (Some(c), false) = (self.cassette.as_mut(), self.replay)
            && let Err(e) = c.record(&body, &response)
        {
            self.out.notes.push(format!("not recorded: {e}"));
        }
        self.out.usage.responses += 1;
        let text = content_of(&response)?;
        let usage = &response["usage"];
        match (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64(),
        ) {
            (Some(p), Some(c)) => {
                self.out.usage.prompt_tokens += p;
                self.out.usage.completion_tokens += c;
            }
            _ => {
                self.out.usage.estimated = true;
                self.out.usage.prompt_tokens +=
                    estimate_tokens(&body["messages"].to_string()) as u64;
                self.out.usage.completion_tokens += estimate_tokens(&text) as u64;
            }
        }
        if response["choices"][0]["finish_reason"] == "length" {
            self.out
                .notes
                .push("the answer was cut at max_tokens".to_string());
        }
        Ok(text)
    }

    /// Whether one more round (the conversation so far, a follow-up and an answer) fits the
    /// token and time budgets.
    fn fits_budget(&self, messages: &[Value]) -> bool {
        let next = estimate_tokens(&Value::from(messages.to_vec()).to_string()) as u64
            + 2 * u64::from(self.settings.max_tokens);
        self.out.usage.total_tokens() + next <= self.settings.budget_tokens
            && self.remaining() > Duration::from_secs(self.settings.timeout_secs.min(5))
    }

    fn msg(&mut self, role: &str, content: String) -> Value {
        message(role, content, &self.redactor, &mut self.out.redactions)
    }
}

fn content_of(response: &Value) -> Result<String, String> {
    let msg = &response["choices"][0]["message"];
    match msg["content"].as_str() {
        Some(s) => Ok(s.to_string()),
        None if msg.get("tool_calls").is_some() => {
            Err("the model answered with a tool call instead of the JSON answer".into())
        }
        None => Err("the response has no choices[0].message.content".into()),
    }
}

/// Asks the model for hypotheses about `incident`, given the offline `ranking` and the packed
/// `context`, and grounds the answer. Never fails: see the module doc.
pub async fn hypothesize(
    settings: Option<&LlmSettings>,
    prompts: &Prompts,
    incident: &Incident,
    ranking: &[Candidate],
    context: &PackedContext,
    searcher: &dyn Searcher,
    cassette: CassetteMode,
) -> LlmOutcome {
    let Some(settings) = settings else {
        return LlmOutcome::not_configured(prompts);
    };
    let mut out = LlmOutcome::offline(prompts.hypotheses().record.clone());
    out.model = Some(settings.model.clone());
    let started = Instant::now();
    let result = run(
        settings, prompts, incident, ranking, context, searcher, cassette, started, &mut out,
    )
    .await;
    match result {
        Ok(()) => out.mode = MODE_LLM.into(),
        Err(e) => {
            out.mode = MODE_OFFLINE.into();
            out.hypotheses.clear();
            out.rejected.clear();
            out.insufficient_evidence = false;
            out.error = Some(e);
        }
    }
    out.usage.elapsed_ms = started.elapsed().as_millis() as u64;
    out.usage.estimated_cost_usd = (out.usage.prompt_tokens as f64
        * settings.price_prompt_per_mtok
        + out.usage.completion_tokens as f64 * settings.price_completion_per_mtok)
        / 1e6;
    out
}

#[allow(clippy::too_many_arguments)]
async fn run(
    settings: &LlmSettings,
    prompts: &Prompts,
    incident: &Incident,
    ranking: &[Candidate],
    context: &PackedContext,
    searcher: &dyn Searcher,
    cassette: CassetteMode,
    started: Instant,
    out: &mut LlmOutcome,
) -> Result<(), String> {
    let (cassette, replay) = match &cassette {
        CassetteMode::Off => (None, false),
        CassetteMode::Record(p) => (Some(Cassette::open(p).map_err(|e| e.to_string())?), false),
        CassetteMode::Replay(p) => (Some(Cassette::open(p).map_err(|e| e.to_string())?), true),
    };
    // A replay needs no key and no network.
    let key = if replay {
        None
    } else {
        settings.api_key().map_err(|e| e.to_string())?
    };
    let client = if replay {
        None
    } else {
        Some(settings.client().map_err(|e| e.to_string())?)
    };
    let redactor = redactor_for(settings, key.as_ref());
    let prompt = prompts.hypotheses();
    let prepared = prepare(
        settings,
        prompt,
        incident,
        ranking,
        context,
        &redactor,
        &mut out.redactions,
    )?;
    if prepared.omitted > 0 {
        out.notes.push(format!(
            "{} evidence item(s) did not fit the context budget of {} tokens",
            prepared.omitted, context.budget_tokens
        ));
    }
    let mut shown = prepared.shown;
    let base_ctx = prepared.ctx;
    let mut messages = prepared.messages;
    let mut seen_records: HashSet<String> = context
        .items
        .iter()
        .flat_map(|i| i.lines.iter().map(|l| l.record_id.clone()))
        .collect();
    let mut session = Session {
        settings,
        client,
        cassette,
        replay,
        started,
        response_format: true,
        redactor,
        out,
    };
    let mut searches_left = settings.max_followups;
    let answer: Answer = loop {
        let mut text = session.exchange(&messages).await?;
        let answer = match parse_answer(&text, settings.followup_lines) {
            Ok(a) => a,
            Err(first) => {
                // One repair: show the model its answer and what was wrong with it.
                let mut ctx = base_ctx.clone();
                ctx["error"] = json!(first);
                let repair = prompt.render("repair", &ctx)?;
                messages.push(session.msg("assistant", text));
                messages.push(session.msg("user", repair));
                text = session.exchange(&messages).await?;
                parse_answer(&text, settings.followup_lines).map_err(|e| {
                    format!("the model's answer was not usable JSON after one repair: {e}")
                })?
            }
        };
        if answer.searches.is_empty() {
            break answer;
        }
        if searches_left == 0 {
            session
                .out
                .notes
                .push("the model asked for more searches than allowed; ignored".into());
            break answer;
        }
        if !session.fits_budget(&messages) {
            session.out.notes.push(
                "the model asked for more searches, but the token or time budget is used up; its last answer stands"
                    .into(),
            );
            break answer;
        }
        // Run the searches and ask again.
        let mut new_items = Vec::new();
        for q in answer.searches.iter().take(searches_left) {
            searches_left -= 1;
            let mut record = SearchRecord {
                query: q.query.clone(),
                entity: q.entity.clone(),
                start: q.start,
                end: q.end,
                added: vec![],
            };
            for (record_id, line) in searcher.search(q).into_iter().take(q.limit) {
                if !seen_records.insert(record_id.clone()) {
                    continue;
                }
                let mut counts = RedactionCounts::new();
                let item = ShownItem {
                    id: format!("E{}", shown.len() + 1),
                    evidence_id: record_id,
                    entity: q.entity.clone().unwrap_or_default(),
                    strength: FOLLOWUP_STRENGTH,
                    summary: session.redactor.redact(
                        &format!("log record found by the search \"{}\"", q.query),
                        &mut counts,
                    ),
                    lines: vec![session.redactor.redact(
                        &rootline_signals::pack::truncate_chars(
                            &line,
                            rootline_signals::pack::MAX_LINE_CHARS,
                        ),
                        &mut counts,
                    )],
                };
                for (k, n) in counts {
                    *session.out.redactions.entry(k).or_default() += n;
                }
                record.added.push(item.id.clone());
                new_items.push(item_json(&item, "log_record", None));
                shown.push(item);
            }
            session.out.searches.push(record);
        }
        let mut ctx = base_ctx.clone();
        ctx["evidence"] = json!(new_items);
        ctx["max_searches"] = json!(searches_left);
        let followup = prompt.render("followup", &ctx)?;
        messages.push(session.msg("assistant", text));
        messages.push(session.msg("user", followup));
    };

    let out = session.out;
    out.shown = shown
        .iter()
        .map(|s| ShownRef {
            id: s.id.clone(),
            evidence_id: s.evidence_id.clone(),
        })
        .collect();
    for h in &answer.hypotheses {
        match ground(h, &shown) {
            Ok(g) => out.hypotheses.push(g),
            Err(r) => out.rejected.push(r),
        }
    }
    out.hypotheses
        .sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    out.insufficient_evidence = out.hypotheses.is_empty();
    Ok(())
}
