//! Verdicts, approval-gated actions and the audit log over HTTP, behind bearer-token
//! authentication: the [`GovernanceService`] the handlers call, its implementation on the store,
//! the [`Authenticated`] extractor, and the handlers.
//!
//! | method and path | role | request → response |
//! |---|---|---|
//! | `POST /api/v1/investigations/{id}/verdicts` | responder | `{target: {kind: investigation \| candidate (entity) \| hypothesis (id)}, judgement: accepted \| rejected \| partly_right, root_cause_service?, root_cause_entity?, fault_type?, fix?, note?}` → 201 the stored verdict (next version) |
//! | `GET /api/v1/investigations/{id}/verdicts` | viewer | `{"verdicts": [every version], "current": [latest per target]}` |
//! | `GET /api/v1/actions` | viewer | `{"actions": [Action…]}`, newest first |
//! | `POST /api/v1/actions` | responder | `{content: {kind, target, summary, params?}, incident_id?, investigation_id?, required_approvals?, proposal_ttl_secs?, approval_ttl_secs?}` → 201 the action |
//! | `GET /api/v1/actions/{id}` | viewer | `{"action": Action, "approvals": [Approval…]}` |
//! | `POST /api/v1/actions/{id}/approve` | approver, not the proposer | `{content_hash}` (the hash reviewed) → `{action, approvals, required}` |
//! | `POST /api/v1/actions/{id}/reject` | approver | `{reason?}` → the action |
//! | `POST /api/v1/actions/{id}/execute` | responder | → the action, `succeeded` or `failed`, with the executor's `result` |
//! | `GET /api/v1/audit?after=&limit=` | viewer | `{"entries": [AuditEntry…]}`, oldest first |
//! | `GET /api/v1/audit/verify` | viewer | `{intact, rows, head_hash, broken: {seq, reason} \| null}` |
//!
//! Every request needs `Authorization: Bearer <token>`: a missing, unknown, expired or revoked
//! token is a 401 (the same message for all). A role that does not allow the operation, or an
//! approver approving their own proposal, is a 403; an action whose state, content hash or
//! deadline does not allow it is a 409 naming why; a missing investigation, candidate,
//! hypothesis or action is a 404. Execution goes through the server's executor (the dry-run
//! executor unless configured otherwise).

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use rootline_actions::{
    Action, ActionContent, Approval, ApprovalPolicy, Executor, Refusal, RefusalKind,
};
use rootline_store::{
    ApprovalResult, AuditEntry, AuditVerification, ChatFlavour, Credential, GovernanceError,
    Judgement, NewAction, NewVerdict, Store, User, Verdict, VerdictScores, VerdictTarget,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;
use crate::service::{BoxFuture, ServiceError};

/// What the governance handlers need from the store. Every method takes the authenticated user
/// (or none, for `authenticate`) and returns the store's errors, which [`api_error`] maps.
pub trait GovernanceService: Send + Sync + 'static {
    /// The user and scopes behind a token; `None` for an unknown, expired or revoked token or
    /// a disabled user.
    fn credential<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, GovernanceError>>;

    /// A user by name (a browser session opened with a login link is checked against it).
    fn user<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<User>, GovernanceError>>;

    /// Every judged investigation scored against its latest verdicts.
    fn verdict_scores(&self) -> BoxFuture<'_, Result<VerdictScores, GovernanceError>>;

    /// The rootline user a chat user id is linked to (not disabled), if any.
    fn chat_user<'a>(
        &'a self,
        flavour: ChatFlavour,
        chat_user: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, GovernanceError>>;

    fn record_verdict<'a>(
        &'a self,
        user: &'a User,
        verdict: &'a NewVerdict,
    ) -> BoxFuture<'a, Result<Verdict, GovernanceError>>;

    fn list_verdicts<'a>(
        &'a self,
        investigation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Verdict>, GovernanceError>>;

    fn investigation_exists<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, GovernanceError>>;

    fn propose_action<'a>(
        &'a self,
        user: &'a User,
        action: &'a NewAction,
    ) -> BoxFuture<'a, Result<Action, GovernanceError>>;

    fn list_actions(&self) -> BoxFuture<'_, Result<Vec<Action>, GovernanceError>>;

    fn get_action<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActionWithApprovals>, GovernanceError>>;

    fn approve_action<'a>(
        &'a self,
        user: &'a User,
        id: &'a str,
        content_hash: &'a str,
    ) -> BoxFuture<'a, Result<ApprovalResult, GovernanceError>>;

    fn reject_action<'a>(
        &'a self,
        user: &'a User,
        id: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Action, GovernanceError>>;

    fn execute_action<'a>(
        &'a self,
        user: &'a User,
        id: &'a str,
        executor: &'a dyn Executor,
    ) -> BoxFuture<'a, Result<Action, GovernanceError>>;

    fn list_audit(
        &self,
        after: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, GovernanceError>>;

    fn verify_audit(&self) -> BoxFuture<'_, Result<AuditVerification, GovernanceError>>;
}

impl GovernanceService for Store {
    fn credential<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Credential>, GovernanceError>> {
        Box::pin(async move { Ok(Store::credential(self, token).await?) })
    }

    fn user<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<User>, GovernanceError>> {
        Box::pin(async move { Ok(Store::get_user(self, name).await?) })
    }

    fn chat_user<'a>(
        &'a self,
        flavour: ChatFlavour,
        chat_user: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, GovernanceError>> {
        Box::pin(async move { Ok(Store::chat_user(self, flavour, chat_user).await?) })
    }

    fn verdict_scores(&self) -> BoxFuture<'_, Result<VerdictScores, GovernanceError>> {
        Box::pin(async move { Ok(Store::verdict_scores(self).await?) })
    }

    fn record_verdict<'a>(
        &'a self,
        user: &'a User,
        verdict: &'a NewVerdict,
    ) -> BoxFuture<'a, Result<Verdict, GovernanceError>> {
        Box::pin(
            async move { Store::record_verdict(self, &user.actor(), verdict, Utc::now()).await },
        )
    }

    fn list_verdicts<'a>(
        &'a self,
        investigation_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Verdict>, GovernanceError>> {
        Box::pin(async move { Ok(Store::list_verdicts(self, investigation_id).await?) })
    }

    fn investigation_exists<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bool, GovernanceError>> {
        Box::pin(async move { Ok(Store::get_investigation(self, id).await?.is_some()) })
    }

    fn propose_action<'a>(
        &'a self,
        user: &'a User,
        action: &'a NewAction,
    ) -> BoxFuture<'a, Result<Action, GovernanceError>> {
        Box::pin(
            async move { Store::propose_action(self, &user.actor(), action, Utc::now()).await },
        )
    }

    fn list_actions(&self) -> BoxFuture<'_, Result<Vec<Action>, GovernanceError>> {
        Box::pin(async move { Ok(Store::list_actions(self, 1000).await?) })
    }

    fn get_action<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ActionWithApprovals>, GovernanceError>> {
        Box::pin(async move {
            let Some(action) = Store::get_action(self, id).await? else {
                return Ok(None);
            };
            let approvals = Store::list_approvals(self, id).await?;
            Ok(Some(ActionWithApprovals { action, approvals }))
        })
    }

    fn approve_action<'a>(
        &'a self,
        user: &'a User,
        id: &'a str,
        content_hash: &'a str,
    ) -> BoxFuture<'a, Result<ApprovalResult, GovernanceError>> {
        Box::pin(async move {
            Store::approve_action(self, id, &user.actor(), content_hash, Utc::now()).await
        })
    }

    fn reject_action<'a>(
        &'a self,
        user: &'a User,
        id: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Action, GovernanceError>> {
        Box::pin(
            async move { Store::reject_action(self, id, &user.actor(), reason, Utc::now()).await },
        )
    }

    fn execute_action<'a>(
        &'a self,
        user: &'a User,
        id: &'a str,
        executor: &'a dyn Executor,
    ) -> BoxFuture<'a, Result<Action, GovernanceError>> {
        Box::pin(async move {
            Store::execute_action(self, id, &user.actor(), executor, Utc::now()).await
        })
    }

    fn list_audit(
        &self,
        after: i64,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, GovernanceError>> {
        Box::pin(async move { Ok(Store::list_audit(self, after, limit).await?) })
    }

    fn verify_audit(&self) -> BoxFuture<'_, Result<AuditVerification, GovernanceError>> {
        Box::pin(async move { Ok(Store::verify_audit_chain(self).await?) })
    }
}

/// Maps the store's governance errors to HTTP.
pub(crate) fn api_error(e: GovernanceError) -> ApiError {
    match e {
        GovernanceError::Store(e) => ServiceError::from(e).into(),
        GovernanceError::Refused(r) => refusal(r),
        GovernanceError::NotFound { what, id } => {
            ApiError::NotFound(format!("no {what} with id {id:?}"))
        }
        GovernanceError::Invalid(m) => ApiError::BadRequest(m),
        GovernanceError::Conflict(m) => ApiError::Conflict(m),
        GovernanceError::Io(m) => ApiError::Internal(m.into()),
    }
}

fn refusal(r: Refusal) -> ApiError {
    match r.kind() {
        RefusalKind::Forbidden => ApiError::Forbidden(r.to_string()),
        RefusalKind::Conflict => ApiError::Conflict(r.to_string()),
        RefusalKind::Invalid => ApiError::BadRequest(r.to_string()),
    }
}

pub(crate) fn service(state: &AppState) -> Result<&dyn GovernanceService, ApiError> {
    state.store.governance().ok_or_else(|| {
        ApiError::NotFound("verdicts and actions are not available on this server".to_owned())
    })
}

/// The user behind the request's credential: the one the authentication layer (`auth.rs`)
/// found, else the request's bearer token (with `--no-auth`, where the layer lets requests
/// through without one: governance records who acted, so it still needs a user).
#[derive(Debug)]
pub(crate) struct Authenticated(pub User);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(c) = parts.extensions.get::<Credential>() {
            return Ok(Authenticated(c.user.clone()));
        }
        service(state)?;
        match crate::auth::credential_of(state, &parts.headers).await? {
            Some(c) => Ok(Authenticated(c.user)),
            None => Err(ApiError::Unauthorized(
                "a valid bearer token is required".to_owned(),
            )),
        }
    }
}

/// Longest id accepted in a path, in bytes (as for the other routes).
const MAX_ID_LEN: usize = 256;

/// The `{id}` path segment, checked; a bad one is a 400 in the usual error shape.
#[derive(Debug)]
pub(crate) struct Id(String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "ids are 1 to {MAX_ID_LEN} bytes without control characters"
            )));
        }
        Ok(Id(id))
    }
}

/// A JSON body whose problems are 400s in the usual error shape.
pub(crate) struct JsonBody<T>(T);

fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<JsonBody<T>, ApiError> {
    let bytes: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?;
    crate::text::refuse_nul(&value)?;
    serde_json::from_value(value)
        .map(JsonBody)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/investigations/{id}/verdicts",
            get(list_verdicts).post(add_verdict),
        )
        .route("/actions", get(list_actions).post(propose_action))
        .route("/actions/{id}", get(get_action))
        .route("/actions/{id}/approve", post(approve_action))
        .route("/actions/{id}/reject", post(reject_action))
        .route("/actions/{id}/execute", post(execute_action))
        .route("/audit", get(list_audit))
        .route("/audit/verify", get(verify_audit))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerdictRequest {
    target: VerdictTarget,
    judgement: Judgement,
    #[serde(default)]
    root_cause_service: Option<String>,
    #[serde(default)]
    root_cause_entity: Option<String>,
    #[serde(default)]
    fault_type: Option<String>,
    #[serde(default)]
    fix: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

async fn add_verdict(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Id(id): Id,
    body: Bytes,
) -> Result<(StatusCode, Json<Verdict>), ApiError> {
    let JsonBody(req) = parse_body::<VerdictRequest>(&body)?;
    let new = NewVerdict {
        investigation_id: id,
        target: req.target,
        judgement: req.judgement,
        root_cause_service: req.root_cause_service,
        root_cause_entity: req.root_cause_entity,
        fault_type: req.fault_type,
        fix: req.fix,
        note: req.note,
    };
    let verdict = service(&state)?
        .record_verdict(&user, &new)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(verdict)))
}

#[derive(Debug, Serialize)]
pub(crate) struct VerdictList {
    verdicts: Vec<Verdict>,
    current: Vec<Verdict>,
}

async fn list_verdicts(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    Id(id): Id,
) -> Result<Json<VerdictList>, ApiError> {
    let svc = service(&state)?;
    if !svc.investigation_exists(&id).await.map_err(api_error)? {
        return Err(ApiError::NotFound(format!(
            "no investigation with id {id:?}"
        )));
    }
    let verdicts = svc.list_verdicts(&id).await.map_err(api_error)?;
    let current = latest_per_target(&verdicts);
    Ok(Json(VerdictList { verdicts, current }))
}

/// The current verdict of each target: its highest version, targets in first-judged order.
pub(crate) fn latest_per_target(verdicts: &[Verdict]) -> Vec<Verdict> {
    let mut current: Vec<Verdict> = Vec::new();
    for v in verdicts {
        match current.iter_mut().find(|c| c.target == v.target) {
            Some(c) if c.version < v.version => *c = v.clone(),
            Some(_) => {}
            None => current.push(v.clone()),
        }
    }
    current
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProposeRequest {
    content: ActionContent,
    #[serde(default)]
    incident_id: Option<String>,
    #[serde(default)]
    investigation_id: Option<String>,
    #[serde(default)]
    required_approvals: Option<u32>,
    #[serde(default)]
    proposal_ttl_secs: Option<i64>,
    #[serde(default)]
    approval_ttl_secs: Option<i64>,
}

async fn propose_action(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    body: Bytes,
) -> Result<(StatusCode, Json<Action>), ApiError> {
    let JsonBody(req) = parse_body::<ProposeRequest>(&body)?;
    // Times past a month are mistakes (and past i64 nanoseconds they would overflow).
    for (field, value) in [
        ("proposal_ttl_secs", req.proposal_ttl_secs),
        ("approval_ttl_secs", req.approval_ttl_secs),
    ] {
        if let Some(v) = value
            && !(1..=MAX_TTL_SECS).contains(&v)
        {
            return Err(ApiError::BadRequest(format!(
                "{field}: {v} is outside 1..={MAX_TTL_SECS} seconds"
            )));
        }
    }
    let defaults = ApprovalPolicy::default();
    let new = NewAction {
        incident_id: req.incident_id,
        investigation_id: req.investigation_id,
        content: req.content,
        policy: ApprovalPolicy {
            required_approvals: req
                .required_approvals
                .unwrap_or(defaults.required_approvals),
            proposal_ttl_secs: req.proposal_ttl_secs.unwrap_or(defaults.proposal_ttl_secs),
            approval_ttl_secs: req.approval_ttl_secs.unwrap_or(defaults.approval_ttl_secs),
        },
    };
    let action = service(&state)?
        .propose_action(&user, &new)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(action)))
}

#[derive(Debug, Serialize)]
pub(crate) struct ActionList {
    actions: Vec<Action>,
}

async fn list_actions(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
) -> Result<Json<ActionList>, ApiError> {
    let actions = service(&state)?.list_actions().await.map_err(api_error)?;
    Ok(Json(ActionList { actions }))
}

/// An action with every approval ever recorded for it (void ones included).
#[derive(Debug, Serialize)]
pub struct ActionWithApprovals {
    pub action: Action,
    pub approvals: Vec<Approval>,
}

async fn get_action(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    Id(id): Id,
) -> Result<Json<ActionWithApprovals>, ApiError> {
    let found = service(&state)?
        .get_action(&id)
        .await
        .map_err(api_error)?
        .ok_or_else(|| ApiError::NotFound(format!("no action with id {id:?}")))?;
    Ok(Json(found))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveRequest {
    /// The content hash the approver reviewed; the approval is bound to it.
    content_hash: String,
}

async fn approve_action(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Id(id): Id,
    body: Bytes,
) -> Result<Json<ApprovalResult>, ApiError> {
    let JsonBody(req) = parse_body::<ApproveRequest>(&body)?;
    let result = service(&state)?
        .approve_action(&user, &id, &req.content_hash)
        .await
        .map_err(api_error)?;
    Ok(Json(result))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RejectRequest {
    #[serde(default)]
    reason: String,
}

async fn reject_action(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Id(id): Id,
    body: Bytes,
) -> Result<Json<Action>, ApiError> {
    let JsonBody(req) = parse_body::<RejectRequest>(&body)?;
    if req.reason.len() > 4096 {
        return Err(ApiError::BadRequest("reason is over 4096 bytes".into()));
    }
    let action = service(&state)?
        .reject_action(&user, &id, &req.reason)
        .await
        .map_err(api_error)?;
    Ok(Json(action))
}

async fn execute_action(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Id(id): Id,
) -> Result<Json<Action>, ApiError> {
    let action = service(&state)?
        .execute_action(&user, &id, state.executor.as_ref())
        .await
        .map_err(api_error)?;
    Ok(Json(action))
}

/// The longest a proposal or an approval may stay valid: 30 days.
const MAX_TTL_SECS: i64 = 30 * 24 * 3600;
/// The most audit entries one request returns.
const MAX_AUDIT_LIMIT: i64 = 10_000;

#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AuditList {
    entries: Vec<AuditEntry>,
}

async fn list_audit(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuditList>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit: {limit} is outside 1..={MAX_AUDIT_LIMIT}"
        )));
    }
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::BadRequest(format!("after: {after} is negative")));
    }
    let entries = service(&state)?
        .list_audit(after, limit)
        .await
        .map_err(api_error)?;
    Ok(Json(AuditList { entries }))
}

#[derive(Debug, Serialize)]
pub(crate) struct AuditCheck {
    intact: bool,
    #[serde(flatten)]
    verification: AuditVerification,
}

async fn verify_audit(
    State(state): State<AppState>,
    Authenticated(_): Authenticated,
) -> Result<Json<AuditCheck>, ApiError> {
    let verification = service(&state)?.verify_audit().await.map_err(api_error)?;
    Ok(Json(AuditCheck {
        intact: verification.is_intact(),
        verification,
    }))
}
