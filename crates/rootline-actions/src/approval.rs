//! The approval rules, and [`ApprovedAction`]: the only value an executor accepts.
//!
//! Every decision here is a pure function of the stored action, its approvals, the actor and
//! the time, so the store can run it inside the transaction that records its result, and the
//! tests can walk every refusal without a database.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::Refusal;
use crate::model::{Action, ActionContent, ActionState, Actor, Approval, Role};

/// How long proposals and approvals live, and how many approvers an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    /// From proposal to the last moment an approval or the start of execution is accepted.
    pub proposal_ttl_secs: i64,
    /// How long one approval stays valid (never past the proposal's expiry).
    pub approval_ttl_secs: i64,
    /// Distinct approvers needed; 2 is the two-person rule.
    pub required_approvals: u32,
}

impl Default for ApprovalPolicy {
    fn default() -> Self {
        ApprovalPolicy {
            proposal_ttl_secs: 4 * 3600,
            approval_ttl_secs: 30 * 60,
            required_approvals: 1,
        }
    }
}

/// Most approvers a policy may require.
pub const MAX_REQUIRED_APPROVALS: u32 = 5;

impl ApprovalPolicy {
    /// The two-person rule with the default lifetimes.
    pub fn two_person() -> ApprovalPolicy {
        ApprovalPolicy {
            required_approvals: 2,
            ..ApprovalPolicy::default()
        }
    }

    pub fn validate(&self) -> Result<(), Refusal> {
        if self.proposal_ttl_secs <= 0 || self.approval_ttl_secs <= 0 {
            return Err(Refusal::InvalidPolicy(
                "proposal and approval lifetimes must be positive".into(),
            ));
        }
        if !(1..=MAX_REQUIRED_APPROVALS).contains(&self.required_approvals) {
            return Err(Refusal::InvalidPolicy(format!(
                "required approvals must be 1 to {MAX_REQUIRED_APPROVALS}, not {}",
                self.required_approvals
            )));
        }
        Ok(())
    }

    /// When a proposal made at `now` expires.
    pub fn proposal_expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::seconds(self.proposal_ttl_secs)
    }
}

/// Refuses a proposal unless the actor may propose (a responder or above, or the agent) and the
/// content is well formed.
pub fn check_propose(
    actor: &Actor,
    content: &ActionContent,
    policy: &ApprovalPolicy,
) -> Result<(), Refusal> {
    if !actor.is_agent() {
        actor.require(Role::Responder, "propose an action")?;
    }
    policy.validate()?;
    content.validate()
}

/// What recording one approval does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalDecision {
    /// The approval to store.
    pub approval: Approval,
    /// `Approved` once enough distinct approvers agree, else still `Proposed`.
    pub new_state: ActionState,
    /// Valid approvals including this one.
    pub approvals: u32,
    pub required: u32,
}

/// Decides one approval. The approver must be a user with the approver role (the agent never
/// is), must not be the proposer, must not have approved this content already, and must present
/// the content hash they reviewed, which must still be the action's; the action must be
/// `proposed` and not expired, and its stored content must still match its stored hash.
pub fn decide_approval(
    action: &Action,
    approvals: &[Approval],
    approver: &Actor,
    presented_hash: &str,
    approval_ttl_secs: i64,
    now: DateTime<Utc>,
) -> Result<ApprovalDecision, Refusal> {
    if let Actor::Agent { name } = approver {
        return Err(Refusal::Forbidden {
            actor: format!("agent:{name}"),
            operation: "approve an action",
            reason: "the agent is never an approver".into(),
        });
    }
    approver.require(Role::Approver, "approve an action")?;
    require_state(action, &[ActionState::Proposed], "approve")?;
    check_live(action, now)?;
    check_integrity(action)?;
    if presented_hash != action.content_hash {
        return Err(Refusal::ContentChanged {
            action_id: action.id.clone(),
            presented: presented_hash.to_owned(),
            current: action.content_hash.clone(),
        });
    }
    if approver.id() == action.proposed_by.id() {
        return Err(Refusal::SelfApproval {
            actor: approver.name(),
        });
    }
    let valid = valid_approvals(action, approvals, now);
    if valid.iter().any(|a| a.approver_id == approver.id()) {
        return Err(Refusal::AlreadyApproved {
            actor: approver.name(),
        });
    }
    let expires_at = (now + Duration::seconds(approval_ttl_secs.max(1))).min(action.expires_at);
    let count = u32::try_from(valid.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1);
    let new_state = if count >= action.required_approvals {
        ActionState::Approved
    } else {
        ActionState::Proposed
    };
    Ok(ApprovalDecision {
        approval: Approval {
            action_id: action.id.clone(),
            approver_id: approver.id(),
            approver_name: approver.name(),
            content_hash: action.content_hash.clone(),
            approved_at: now,
            expires_at,
        },
        new_state,
        approvals: count,
        required: action.required_approvals,
    })
}

/// Refuses a rejection unless the actor is an approver and the action is still waiting
/// (`proposed` or `approved`).
pub fn check_reject(action: &Action, actor: &Actor) -> Result<(), Refusal> {
    actor.require(Role::Approver, "reject an action")?;
    require_state(
        action,
        &[ActionState::Proposed, ActionState::Approved],
        "reject",
    )
}

/// Checks a revision of the content. A revision sends the action back to `proposed`: approvals
/// are bound to the old hash and no longer count.
pub fn check_revise(
    action: &Action,
    actor: &Actor,
    content: &ActionContent,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    actor.require(Role::Responder, "revise an action")?;
    require_state(
        action,
        &[ActionState::Proposed, ActionState::Approved],
        "revise",
    )?;
    check_live(action, now)?;
    content.validate()
}

/// The only way to get an [`ApprovedAction`]: the actor is a user who may trigger execution
/// (responder or above; never the agent), the action is `approved` and not expired, its stored
/// content still matches its stored hash, and at least `required_approvals` distinct approvers
/// other than the proposer approved exactly that hash and their approvals have not expired.
pub fn authorize_execution(
    action: &Action,
    approvals: &[Approval],
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<ApprovedAction, Refusal> {
    actor.require(Role::Responder, "execute an action")?;
    require_state(action, &[ActionState::Approved], "execute")?;
    check_live(action, now)?;
    check_integrity(action)?;
    let mut valid = valid_approvals(action, approvals, now);
    let need = action.required_approvals.max(1);
    let have = u32::try_from(valid.len()).unwrap_or(u32::MAX);
    if have < need {
        // Would have been enough but for their age?
        let proposer = action.proposed_by.id();
        let mut bound: Vec<&str> = approvals
            .iter()
            .filter(|a| a.content_hash == action.content_hash && a.approver_id != proposer)
            .map(|a| a.approver_id.as_str())
            .collect();
        bound.sort_unstable();
        bound.dedup();
        if u32::try_from(bound.len()).unwrap_or(u32::MAX) >= need {
            return Err(Refusal::ApprovalsExpired {
                action_id: action.id.clone(),
            });
        }
        return Err(Refusal::NotEnoughApprovals {
            action_id: action.id.clone(),
            have,
            need,
        });
    }
    // The longest-lived approvals count; the grant lasts as long as the weakest of them.
    valid.sort_by_key(|a| std::cmp::Reverse(a.expires_at));
    valid.truncate(need as usize);
    let valid_until = valid
        .iter()
        .map(|a| a.expires_at)
        .chain([action.expires_at])
        .min()
        .unwrap_or(action.expires_at);
    Ok(ApprovedAction {
        action_id: action.id.clone(),
        content: action.content.clone(),
        content_hash: action.content_hash.clone(),
        approvers: valid.iter().map(|a| a.approver_name.clone()).collect(),
        executed_by: actor.name(),
        authorized_at: now,
        valid_until,
    })
}

/// Approvals that count now: bound to the action's current hash, not by the proposer, not
/// expired, one per approver.
pub fn valid_approvals<'a>(
    action: &Action,
    approvals: &'a [Approval],
    now: DateTime<Utc>,
) -> Vec<&'a Approval> {
    let proposer = action.proposed_by.id();
    let mut out: Vec<&Approval> = Vec::new();
    for a in approvals {
        if a.action_id == action.id
            && a.content_hash == action.content_hash
            && a.approver_id != proposer
            && now < a.expires_at
            && !out.iter().any(|o| o.approver_id == a.approver_id)
        {
            out.push(a);
        }
    }
    out
}

fn require_state(
    action: &Action,
    allowed: &[ActionState],
    operation: &'static str,
) -> Result<(), Refusal> {
    if allowed.contains(&action.state) {
        Ok(())
    } else {
        Err(Refusal::WrongState {
            action_id: action.id.clone(),
            state: action.state,
            operation,
        })
    }
}

/// Refuses once the action's deadline has passed.
pub fn check_live(action: &Action, now: DateTime<Utc>) -> Result<(), Refusal> {
    if now >= action.expires_at {
        Err(Refusal::Expired {
            action_id: action.id.clone(),
            expires_at: action.expires_at.to_rfc3339(),
        })
    } else {
        Ok(())
    }
}

/// Refuses when the stored content no longer hashes to the stored hash.
pub fn check_integrity(action: &Action) -> Result<(), Refusal> {
    let computed = action.content.hash();
    if computed == action.content_hash {
        Ok(())
    } else {
        Err(Refusal::ContentTampered {
            action_id: action.id.clone(),
            stored: action.content_hash.clone(),
            computed,
        })
    }
}

/// An action cleared for execution: approved, unchanged and unexpired when
/// [`authorize_execution`] built it. Executors accept nothing else.
///
/// Its fields are private and it has no public constructor, no `Clone` and no `Deserialize`, so
/// code outside this crate can obtain one only from [`authorize_execution`], and an executor
/// consumes it, so one authorization runs at most once:
///
/// ```compile_fail
/// // Outside the crate an ApprovedAction cannot be built by hand...
/// let forged = rootline_actions::ApprovedAction {
///     action_id: String::new(),
///     content: serde_json::from_str("{}").unwrap(),
///     content_hash: String::new(),
///     approvers: vec![],
///     executed_by: String::new(),
///     authorized_at: chrono::Utc::now(),
///     valid_until: chrono::Utc::now(),
/// };
/// ```
///
/// ```compile_fail
/// // ...nor deserialized from model output.
/// let forged: rootline_actions::ApprovedAction = serde_json::from_str("{}").unwrap();
/// ```
///
/// ```compile_fail
/// // ...nor copied to run twice.
/// fn twice(a: &rootline_actions::ApprovedAction) -> rootline_actions::ApprovedAction { a.clone() }
/// ```
#[derive(Debug, PartialEq)]
pub struct ApprovedAction {
    action_id: String,
    content: ActionContent,
    content_hash: String,
    approvers: Vec<String>,
    executed_by: String,
    authorized_at: DateTime<Utc>,
    valid_until: DateTime<Utc>,
}

impl ApprovedAction {
    pub fn action_id(&self) -> &str {
        &self.action_id
    }

    pub fn content(&self) -> &ActionContent {
        &self.content
    }

    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// Names of the approvers whose approvals authorised it.
    pub fn approvers(&self) -> &[String] {
        &self.approvers
    }

    /// Who triggered the execution.
    pub fn executed_by(&self) -> &str {
        &self.executed_by
    }

    pub fn authorized_at(&self) -> DateTime<Utc> {
        self.authorized_at
    }

    /// After this moment an executor refuses it.
    pub fn valid_until(&self) -> DateTime<Utc> {
        self.valid_until
    }

    /// Whether it may still run at `now` (and its content still hashes to the approved hash).
    pub fn check_valid_at(&self, now: DateTime<Utc>) -> Result<(), Refusal> {
        if now >= self.valid_until {
            return Err(Refusal::Expired {
                action_id: self.action_id.clone(),
                expires_at: self.valid_until.to_rfc3339(),
            });
        }
        let computed = self.content.hash();
        if computed != self.content_hash {
            return Err(Refusal::ContentTampered {
                action_id: self.action_id.clone(),
                stored: self.content_hash.clone(),
                computed,
            });
        }
        Ok(())
    }

    /// The JSON an executor sends or logs: canonical, so its signature is reproducible.
    pub fn to_canonical_json(&self, sent_at: DateTime<Utc>) -> String {
        let value = serde_json::json!({
            "action_id": self.action_id,
            "content": {
                "kind": self.content.kind,
                "target": self.content.target,
                "summary": self.content.summary,
                "params": self.content.params,
            },
            "content_hash": self.content_hash,
            "approvers": self.approvers,
            "executed_by": self.executed_by,
            "authorized_at": self.authorized_at.to_rfc3339(),
            "valid_until": self.valid_until.to_rfc3339(),
            "sent_at": sent_at.to_rfc3339(),
        });
        crate::canonical_json(&value)
    }
}
