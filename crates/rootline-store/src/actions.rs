//! Approval-gated actions in the database: proposals, approvals, rejections, revisions, expiry
//! and execution, each one transaction that records its result (or its refusal) in the audit
//! log.
//!
//! The decisions are rootline-actions' pure rules ([`decide_approval`], [`authorize_execution`],
//! …) run on the rows read inside the transaction. Every state change is a conditional
//! `UPDATE … WHERE id = $1 AND version = $2 AND state = $3`: if anything changed since the rows
//! were read, nothing is written and the caller gets [`GovernanceError::Conflict`]. Together
//! with the audit-head claim that opens each transaction (see `audit`), two approvers acting at
//! once are serialised: both approvals are recorded under the two-person rule, and with one
//! approver needed the second finds the action already approved.
//!
//! Execution is two transactions around the executor call: `approved → executing` (only with an
//! [`ApprovedAction`] from [`authorize_execution`]), then `executing → succeeded | failed` with
//! the executor's outcome. Refused approvals and executions are audited and committed, and an
//! action found past its deadline is moved to `expired` on the way.

use chrono::{DateTime, Utc};
use rootline_actions::{
    Action, ActionContent, ActionState, Actor, Approval, ApprovalPolicy, ApprovedAction,
    ExecutionOutcome, Executor, Refusal, authorize_execution, canonical_json, check_propose,
    check_reject, check_revise, decide_approval,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{GovernanceError, NewAudit, append_audit, claim_audit_head};
use crate::{Pool, Store, StoreError, format_time};

/// A proposal: what to do, what it is about, and the approval policy it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAction {
    #[serde(default)]
    pub incident_id: Option<String>,
    #[serde(default)]
    pub investigation_id: Option<String>,
    pub content: ActionContent,
    #[serde(default)]
    pub policy: ApprovalPolicy,
}

/// An action with its approvals, as an approval leaves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalResult {
    pub action: Action,
    /// Valid approvals now counted, including this one.
    pub approvals: u32,
    pub required: u32,
}

const INSERT_ACTION: &str = "\
INSERT INTO actions (id, incident_id, investigation_id, content, content_hash, state, version,
    proposed_by, proposer_id, required_approvals, approval_ttl_secs, created_at, expires_at,
    updated_at, result)
VALUES ($1, $2, $3, $4, $5, 'proposed', 1, $6, $7, $8, $9, $10, $11, $10, NULL)";

const SELECT_ACTION: &str = "\
SELECT id, incident_id, investigation_id, content, content_hash, state, version, proposed_by,
    required_approvals, approval_ttl_secs, created_at, expires_at, updated_at, result
FROM actions WHERE id = $1";

const LIST_ACTIONS: &str = "\
SELECT id, incident_id, investigation_id, content, content_hash, state, version, proposed_by,
    required_approvals, approval_ttl_secs, created_at, expires_at, updated_at, result
FROM actions ORDER BY created_at DESC, id DESC LIMIT $1";

const LIST_LIVE_ACTIONS_DUE: &str = "\
SELECT id FROM actions WHERE state IN ('proposed', 'approved') AND expires_at <= $1 ORDER BY id";

const SELECT_APPROVALS: &str = "\
SELECT action_id, approver_id, approver_name, content_hash, approved_at, expires_at
FROM action_approvals WHERE action_id = $1 ORDER BY approved_at, id";

const INSERT_APPROVAL: &str = "\
INSERT INTO action_approvals (id, action_id, approver_id, approver_name, content_hash, approved_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// The one state-changing statement: conditional on the version and state read.
const SET_STATE: &str = "\
UPDATE actions SET state = $1, version = version + 1, updated_at = $2
WHERE id = $3 AND version = $4 AND state = $5";

/// `approved → executing`, only for the version and content that were authorised.
const START_EXECUTION: &str = "\
UPDATE actions SET state = 'executing', version = version + 1, updated_at = $1
WHERE id = $2 AND version = $3 AND state = 'approved' AND content_hash = $4";

const BUMP_VERSION: &str =
    "UPDATE actions SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3";

const SELECT_APPROVAL_TTL: &str = "SELECT approval_ttl_secs FROM actions WHERE id = $1";

const SET_CONTENT: &str = "\
UPDATE actions SET content = $1, content_hash = $2, state = 'proposed', version = version + 1,
    updated_at = $3
WHERE id = $4 AND version = $5 AND state = $6";

const SET_RESULT: &str = "\
UPDATE actions SET state = $1, result = $2, version = version + 1, updated_at = $3
WHERE id = $4 AND state = 'executing'";

const CHECK_INCIDENT: &str = "SELECT COUNT(*) FROM incidents WHERE id = $1";
const CHECK_INVESTIGATION: &str = "SELECT COUNT(*) FROM investigations WHERE id = $1";

type ActionRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    i64,
    String,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
);
type ApprovalRow = (String, String, String, String, String, String);

/// Reads the action and its approvals inside `$tx`; `None` when there is no such action.
macro_rules! load_action {
    ($store:expr, $tx:expr, $id:expr) => {{
        let row: Option<ActionRow> = sqlx::query_as(SELECT_ACTION)
            .bind($id)
            .fetch_optional(&mut *$tx)
            .await
            .map_err($store.query_error("get action"))?;
        match row {
            None => None,
            Some(row) => {
                let approvals: Vec<ApprovalRow> = sqlx::query_as(SELECT_APPROVALS)
                    .bind($id)
                    .fetch_all(&mut *$tx)
                    .await
                    .map_err($store.query_error("get approvals"))?;
                let approvals = approvals
                    .into_iter()
                    .map(approval_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                Some((action_from_row(row)?, approvals))
            }
        }
    }};
}

/// Moves the action read as `$action` to `$to`, or fails with a conflict if it changed.
macro_rules! set_state {
    ($store:expr, $tx:expr, $action:expr, $to:expr, $at:expr) => {{
        let from = $action.state;
        let to: ActionState = from.transition($to)?;
        let done = sqlx::query(SET_STATE)
            .bind(to.as_str())
            .bind($at)
            .bind($action.id.as_str())
            .bind($action.version)
            .bind(from.as_str())
            .execute(&mut *$tx)
            .await
            .map_err($store.query_error("update action state"))?;
        if done.rows_affected() != 1 {
            return Err(conflict(&$action.id));
        }
    }};
}

fn conflict(id: &str) -> GovernanceError {
    GovernanceError::Conflict(format!(
        "action {id} was changed by someone else at the same time; reload it and try again"
    ))
}

fn not_found(id: &str) -> GovernanceError {
    GovernanceError::NotFound {
        what: "action",
        id: id.to_owned(),
    }
}

/// Whether a refusal means the action's time is up (and it should become `expired`).
fn is_expiry(r: &Refusal) -> bool {
    matches!(
        r,
        Refusal::Expired { .. } | Refusal::ApprovalsExpired { .. }
    )
}

impl Store {
    /// Records a proposal (`proposed`, version 1) and audits it. The proposer may be the agent
    /// or a responder or above; the incident and investigation, when named, must exist.
    pub async fn propose_action(
        &self,
        actor: &Actor,
        new: &NewAction,
        now: DateTime<Utc>,
    ) -> Result<Action, GovernanceError> {
        check_propose(actor, &new.content, &new.policy)?;
        let at = format_time(now);
        let action = Action {
            id: format!("act_{}", uuid::Uuid::now_v7().simple()),
            incident_id: new.incident_id.clone(),
            investigation_id: new.investigation_id.clone(),
            content_hash: new.content.hash(),
            content: new.content.clone(),
            state: ActionState::Proposed,
            version: 1,
            proposed_by: actor.clone(),
            required_approvals: new.policy.required_approvals,
            created_at: now,
            expires_at: new.policy.proposal_expiry(now),
            updated_at: now,
            result: None,
        };
        let proposed_by = serde_json::to_string(actor)
            .map_err(|e| GovernanceError::Invalid(format!("actor cannot be serialised: {e}")))?;
        let audit = NewAudit::new(
            actor.name(),
            "action_proposed",
            format!("action:{}", action.id),
            json!({
                "content": serde_json::to_value(&action.content).unwrap_or(Value::Null),
                "content_hash": action.content_hash,
                "incident_id": action.incident_id,
                "investigation_id": action.investigation_id,
                "required_approvals": action.required_approvals,
                "expires_at": format_time(action.expires_at),
            }),
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin propose action"))?;
            let head = claim_audit_head!(self, tx);
            for (sql, id, what) in [
                (CHECK_INCIDENT, &new.incident_id, "incident"),
                (CHECK_INVESTIGATION, &new.investigation_id, "investigation"),
            ] {
                if let Some(id) = id {
                    let n: i64 = sqlx::query_scalar(sql)
                        .bind(id.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(self.query_error("check action subject"))?;
                    if n == 0 {
                        return Err(GovernanceError::NotFound { what, id: id.clone() });
                    }
                }
            }
            sqlx::query(INSERT_ACTION)
                .bind(action.id.as_str())
                .bind(action.incident_id.as_deref())
                .bind(action.investigation_id.as_deref())
                .bind(action.content.canonical_json())
                .bind(action.content_hash.as_str())
                .bind(proposed_by.as_str())
                .bind(actor.id())
                .bind(i64::from(action.required_approvals))
                .bind(new.policy.approval_ttl_secs)
                .bind(at.as_str())
                .bind(format_time(action.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("insert action"))?;
            append_audit!(self, tx, head, audit, at.clone());
            tx.commit().await.map_err(self.query_error("commit propose action"))?;
        });
        Ok(action)
    }

    pub async fn get_action(&self, id: &str) -> Result<Option<Action>, StoreError> {
        let row: Option<ActionRow> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_ACTION)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("get action"))?
        });
        row.map(action_from_row).transpose()
    }

    /// The newest `limit` actions, newest first.
    pub async fn list_actions(&self, limit: i64) -> Result<Vec<Action>, StoreError> {
        let rows: Vec<ActionRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_ACTIONS)
                .bind(limit.clamp(1, 10_000))
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list actions"))?
        });
        rows.into_iter().map(action_from_row).collect()
    }

    /// Every approval ever recorded for the action, oldest first (also void ones).
    pub async fn list_approvals(&self, action_id: &str) -> Result<Vec<Approval>, StoreError> {
        let rows: Vec<ApprovalRow> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_APPROVALS)
                .bind(action_id)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list approvals"))?
        });
        rows.into_iter().map(approval_from_row).collect()
    }

    /// Records one approval of the content whose hash the approver presents. With enough
    /// distinct approvers the action becomes `approved`. A refusal is audited
    /// (`action_approval_refused`, or `action_expired` when the deadline has passed, which also
    /// moves the action to `expired`) and returned as [`GovernanceError::Refused`].
    pub async fn approve_action(
        &self,
        id: &str,
        actor: &Actor,
        presented_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ApprovalResult, GovernanceError> {
        let at = format_time(now);
        let outcome: Result<ApprovalResult, Refusal> = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin approve action"))?;
            let head = claim_audit_head!(self, tx);
            let Some((mut action, approvals)) = load_action!(self, tx, id) else {
                return Err(not_found(id));
            };
            let ttl: i64 = sqlx::query_scalar(SELECT_APPROVAL_TTL)
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(self.query_error("get approval ttl"))?;
            let subject = format!("action:{id}");
            let outcome = match decide_approval(&action, &approvals, actor, presented_hash, ttl, now) {
                Ok(decision) => {
                    sqlx::query(INSERT_APPROVAL)
                        .bind(format!("apr_{}", uuid::Uuid::now_v7().simple()))
                        .bind(id)
                        .bind(decision.approval.approver_id.as_str())
                        .bind(decision.approval.approver_name.as_str())
                        .bind(decision.approval.content_hash.as_str())
                        .bind(at.as_str())
                        .bind(format_time(decision.approval.expires_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(self.query_error("insert approval"))?;
                    // Even when the state stays `proposed`, bump the version: a concurrent
                    // decision made on the old approvals must not commit.
                    if decision.new_state == ActionState::Approved {
                        set_state!(self, tx, action, ActionState::Approved, at.as_str());
                    } else {
                        let done = sqlx::query(BUMP_VERSION)
                            .bind(at.as_str())
                            .bind(id)
                            .bind(action.version)
                            .execute(&mut *tx)
                            .await
                            .map_err(self.query_error("update action version"))?;
                        if done.rows_affected() != 1 {
                            return Err(conflict(id));
                        }
                    }
                    let event = if decision.new_state == ActionState::Approved {
                        "action_approved"
                    } else {
                        "action_approval_recorded"
                    };
                    let audit = NewAudit::new(actor.name(), event, subject, json!({
                        "content_hash": decision.approval.content_hash,
                        "approvals": decision.approvals,
                        "required": decision.required,
                        "approval_expires_at": format_time(decision.approval.expires_at),
                    }));
                    append_audit!(self, tx, head, audit, at.clone());
                    action.state = decision.new_state;
                    action.version += 1;
                    action.updated_at = now;
                    Ok(ApprovalResult { action, approvals: decision.approvals, required: decision.required })
                }
                Err(refusal) => {
                    let event = if is_expiry(&refusal) && action.state.can_become(ActionState::Expired) {
                        set_state!(self, tx, action, ActionState::Expired, at.as_str());
                        "action_expired"
                    } else {
                        "action_approval_refused"
                    };
                    let audit = NewAudit::new(actor.name(), event, subject, json!({
                        "operation": "approve",
                        "refusal": refusal.code(),
                        "reason": refusal.to_string(),
                        "presented_hash": presented_hash,
                    }));
                    append_audit!(self, tx, head, audit, at.clone());
                    Err(refusal)
                }
            };
            tx.commit().await.map_err(self.query_error("commit approve action"))?;
            outcome
        });
        Ok(outcome?)
    }

    /// Rejects a waiting action (`proposed` or `approved` → `rejected`). Approvers only.
    pub async fn reject_action(
        &self,
        id: &str,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Action, GovernanceError> {
        let at = format_time(now);
        let outcome: Result<Action, Refusal> = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin reject action"))?;
            let head = claim_audit_head!(self, tx);
            let Some((mut action, _)) = load_action!(self, tx, id) else {
                return Err(not_found(id));
            };
            let subject = format!("action:{id}");
            let outcome = match check_reject(&action, actor) {
                Ok(()) => {
                    set_state!(self, tx, action, ActionState::Rejected, at.as_str());
                    let audit = NewAudit::new(actor.name(), "action_rejected", subject, json!({
                        "from": action.state,
                        "reason": reason,
                        "content_hash": action.content_hash,
                    }));
                    append_audit!(self, tx, head, audit, at.clone());
                    action.state = ActionState::Rejected;
                    action.version += 1;
                    action.updated_at = now;
                    Ok(action)
                }
                Err(refusal) => {
                    let audit = NewAudit::new(actor.name(), "action_rejection_refused", subject, json!({
                        "refusal": refusal.code(),
                        "reason": refusal.to_string(),
                    }));
                    append_audit!(self, tx, head, audit, at.clone());
                    Err(refusal)
                }
            };
            tx.commit().await.map_err(self.query_error("commit reject action"))?;
            outcome
        });
        Ok(outcome?)
    }

    /// Replaces the content of a waiting action. The new content has a new hash, so every
    /// approval given so far stops counting and the action is `proposed` again.
    pub async fn revise_action(
        &self,
        id: &str,
        actor: &Actor,
        content: &ActionContent,
        now: DateTime<Utc>,
    ) -> Result<Action, GovernanceError> {
        let at = format_time(now);
        let action = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin revise action"))?;
            let head = claim_audit_head!(self, tx);
            let Some((mut action, _)) = load_action!(self, tx, id) else {
                return Err(not_found(id));
            };
            check_revise(&action, actor, content, now)?;
            if action.state == ActionState::Approved {
                action.state.transition(ActionState::Proposed)?;
            }
            let new_hash = content.hash();
            let done = sqlx::query(SET_CONTENT)
                .bind(content.canonical_json())
                .bind(new_hash.as_str())
                .bind(at.as_str())
                .bind(id)
                .bind(action.version)
                .bind(action.state.as_str())
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("revise action"))?;
            if done.rows_affected() != 1 {
                return Err(conflict(id));
            }
            let audit = NewAudit::new(actor.name(), "action_revised", format!("action:{id}"), json!({
                "from": action.state,
                "old_hash": action.content_hash,
                "new_hash": new_hash,
                "content": serde_json::to_value(content).unwrap_or(Value::Null),
            }));
            append_audit!(self, tx, head, audit, at.clone());
            tx.commit().await.map_err(self.query_error("commit revise action"))?;
            action.content = content.clone();
            action.content_hash = new_hash;
            action.state = ActionState::Proposed;
            action.version += 1;
            action.updated_at = now;
            action
        });
        Ok(action)
    }

    /// Moves every waiting action whose deadline is at or before `now` to `expired`, auditing
    /// each; returns their ids.
    pub async fn expire_due_actions(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, GovernanceError> {
        let at = format_time(now);
        let due: Vec<String> = with_pool!(self, pool => {
            sqlx::query_scalar(LIST_LIVE_ACTIONS_DUE)
                .bind(at.as_str())
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list due actions"))?
        });
        let mut expired = Vec::new();
        for id in due {
            let done: bool = with_pool!(self, pool => {
                let mut tx = pool.begin().await.map_err(self.query_error("begin expire action"))?;
                let head = claim_audit_head!(self, tx);
                match load_action!(self, tx, id.as_str()) {
                    Some((action, _)) if action.expires_at <= now && action.state.can_become(ActionState::Expired) => {
                        set_state!(self, tx, action, ActionState::Expired, at.as_str());
                        let audit = NewAudit::new("rootline", "action_expired", format!("action:{id}"), json!({
                            "from": action.state,
                            "expires_at": format_time(action.expires_at),
                        }));
                        append_audit!(self, tx, head, audit, at.clone());
                        tx.commit().await.map_err(self.query_error("commit expire action"))?;
                        true
                    }
                    // Someone acted on it meanwhile: leave it.
                    _ => false,
                }
            });
            if done {
                expired.push(id);
            }
        }
        Ok(expired)
    }

    /// Runs an approved action through `executor`: authorises it ([`authorize_execution`]: the
    /// actor may trigger execution, the action is `approved`, unexpired, unchanged, with enough
    /// valid approvals), moves it to `executing`, calls the executor, and records the outcome
    /// (`succeeded` or `failed`). Refusals are audited and nothing reaches the executor.
    pub async fn execute_action(
        &self,
        id: &str,
        actor: &Actor,
        executor: &dyn Executor,
        now: DateTime<Utc>,
    ) -> Result<Action, GovernanceError> {
        let at = format_time(now);
        let started: Result<(ApprovedAction, Action), Refusal> = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin execute action"))?;
            let head = claim_audit_head!(self, tx);
            let Some((mut action, approvals)) = load_action!(self, tx, id) else {
                return Err(not_found(id));
            };
            let subject = format!("action:{id}");
            let outcome = match authorize_execution(&action, &approvals, actor, now) {
                Ok(approved) => {
                    let done = sqlx::query(START_EXECUTION)
                        .bind(at.as_str())
                        .bind(id)
                        .bind(action.version)
                        .bind(approved.content_hash())
                        .execute(&mut *tx)
                        .await
                        .map_err(self.query_error("start execution"))?;
                    if done.rows_affected() != 1 {
                        return Err(conflict(id));
                    }
                    let audit = NewAudit::new(actor.name(), "action_execution_started", subject, json!({
                        "executor": executor.name(),
                        "content_hash": approved.content_hash(),
                        "approvers": approved.approvers(),
                        "valid_until": format_time(approved.valid_until()),
                    }));
                    append_audit!(self, tx, head, audit, at.clone());
                    action.state = ActionState::Executing;
                    action.version += 1;
                    action.updated_at = now;
                    Ok((approved, action))
                }
                Err(refusal) => {
                    let event = if is_expiry(&refusal) && action.state.can_become(ActionState::Expired) {
                        set_state!(self, tx, action, ActionState::Expired, at.as_str());
                        "action_expired"
                    } else {
                        "action_execution_refused"
                    };
                    let audit = NewAudit::new(actor.name(), event, subject, json!({
                        "operation": "execute",
                        "refusal": refusal.code(),
                        "reason": refusal.to_string(),
                        "executor": executor.name(),
                    }));
                    append_audit!(self, tx, head, audit, at.clone());
                    Err(refusal)
                }
            };
            tx.commit().await.map_err(self.query_error("commit start execution"))?;
            outcome
        });
        let (approved, mut action) = started?;
        let outcome: ExecutionOutcome = executor.execute(approved).await;
        let finished = Utc::now();
        let fin_at = format_time(finished);
        let to = if outcome.success {
            ActionState::Succeeded
        } else {
            ActionState::Failed
        };
        let result_json = serde_json::to_value(&outcome).unwrap_or(Value::Null);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin finish execution"))?;
            let head = claim_audit_head!(self, tx);
            let done = sqlx::query(SET_RESULT)
                .bind(to.as_str())
                .bind(canonical_json(&result_json))
                .bind(fin_at.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("finish execution"))?;
            if done.rows_affected() != 1 {
                return Err(GovernanceError::Conflict(format!(
                    "action {id} left the executing state while it ran; its outcome was: {}",
                    outcome.detail
                )));
            }
            let event = if outcome.success { "action_succeeded" } else { "action_failed" };
            let audit = NewAudit::new(actor.name(), event, format!("action:{id}"), json!({
                "executor": outcome.executor,
                "success": outcome.success,
                "detail": outcome.detail,
            }));
            append_audit!(self, tx, head, audit, fin_at.clone());
            tx.commit().await.map_err(self.query_error("commit finish execution"))?;
        });
        action.state = to;
        action.version += 1;
        action.updated_at = finished;
        action.result = Some(outcome);
        Ok(action)
    }
}

fn parse_time(
    table: &'static str,
    id: &str,
    field: &str,
    value: &str,
) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt {
            table,
            id: id.to_owned(),
            reason: format!("{field} {value:?} is not an rfc 3339 time: {e}"),
        })
}

fn action_from_row(row: ActionRow) -> Result<Action, StoreError> {
    let (
        id,
        incident_id,
        investigation_id,
        content,
        content_hash,
        state,
        version,
        proposed_by,
        required,
        _approval_ttl,
        created_at,
        expires_at,
        updated_at,
        result,
    ) = row;
    let corrupt = |reason: String| StoreError::Corrupt {
        table: "actions",
        id: id.clone(),
        reason,
    };
    let content: ActionContent = serde_json::from_str(&content)
        .map_err(|e| corrupt(format!("content is not a valid action: {e}")))?;
    let state = state.parse::<ActionState>().map_err(corrupt)?;
    let proposed_by: Actor = serde_json::from_str(&proposed_by)
        .map_err(|e| corrupt(format!("proposed_by is not a valid actor: {e}")))?;
    let result = result
        .map(|r| serde_json::from_str::<ExecutionOutcome>(&r))
        .transpose()
        .map_err(|e| corrupt(format!("result is not a valid outcome: {e}")))?;
    let required_approvals =
        u32::try_from(required).map_err(|_| corrupt(format!("required_approvals {required}")))?;
    Ok(Action {
        created_at: parse_time("actions", &id, "created_at", &created_at)?,
        expires_at: parse_time("actions", &id, "expires_at", &expires_at)?,
        updated_at: parse_time("actions", &id, "updated_at", &updated_at)?,
        id,
        incident_id,
        investigation_id,
        content,
        content_hash,
        state,
        version,
        proposed_by,
        required_approvals,
        result,
    })
}

fn approval_from_row(row: ApprovalRow) -> Result<Approval, StoreError> {
    let (action_id, approver_id, approver_name, content_hash, approved_at, expires_at) = row;
    Ok(Approval {
        approved_at: parse_time("action_approvals", &action_id, "approved_at", &approved_at)?,
        expires_at: parse_time("action_approvals", &action_id, "expires_at", &expires_at)?,
        action_id,
        approver_id,
        approver_name,
        content_hash,
    })
}
