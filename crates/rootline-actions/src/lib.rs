//! Approval-gated remediation actions: the action state machine, the approval rules, content
//! hashing, and the executors that run approved actions.
//!
//! A proposed fix becomes an [`Action`] that moves `proposed → approved → executing →
//! succeeded | failed`, or ends `rejected` or `expired` (see [`ActionState`]). An approval is
//! bound to the SHA-256 of the action's exact content ([`ActionContent::hash`]), so any change
//! voids it; it expires; it needs a user with the approver role who is not the proposer (the
//! agent never approves); and an action may need two distinct approvers (the two-person rule,
//! [`ApprovalPolicy::required_approvals`]).
//!
//! The crate is pure: the rules are functions of a stored action, its approvals, an [`Actor`]
//! and the time. The store runs them inside the transactions that record their results; the
//! executors are the only code here that does IO.
//!
//! # Architecture invariants
//!
//! - An [`Executor`] accepts only an [`ApprovedAction`], which has private fields and no public
//!   constructor, `Clone` or `Deserialize`: outside this crate the only way to get one is
//!   [`authorize_execution`], which refuses unapproved, changed, tampered and expired actions.
//! - `rootline-llm` does not depend on this crate, directly or through any of its
//!   dependencies, so nothing on the model path can name an executor or build an approved
//!   action (`tests/invariants.rs` checks the dependency graph).

mod approval;
mod executor;
mod model;

pub use approval::{
    ApprovalDecision, ApprovalPolicy, ApprovedAction, MAX_REQUIRED_APPROVALS, authorize_execution,
    check_integrity, check_live, check_propose, check_reject, check_revise, decide_approval,
    valid_approvals,
};
pub use executor::{
    ACTION_HEADER, BoxFuture, DEFAULT_WEBHOOK_TIMEOUT, DryRunExecutor, Executor, SIGNATURE_HEADER,
    WebhookConfigError, WebhookExecutor, sign, verify_signature,
};
pub use model::{
    Action, ActionContent, ActionState, Actor, Approval, ExecutionOutcome, Role, Scope,
    canonical_json, sha256_hex,
};

/// Why a rule refused. Messages name the action and what to do; none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{actor} may not {operation}: {reason}")]
    Forbidden {
        actor: String,
        operation: &'static str,
        reason: String,
    },
    #[error("{actor} proposed this action and cannot approve it; another approver must")]
    SelfApproval { actor: String },
    #[error("{actor} has already approved this content; another approver must")]
    AlreadyApproved { actor: String },
    #[error("action {action_id} is {state}; cannot {operation} it")]
    WrongState {
        action_id: String,
        state: ActionState,
        operation: &'static str,
    },
    #[error("action {action_id} expired at {expires_at}; propose it again")]
    Expired {
        action_id: String,
        expires_at: String,
    },
    #[error(
        "action {action_id} changed since it was reviewed (content hash {presented}, now {current}); review it again"
    )]
    ContentChanged {
        action_id: String,
        presented: String,
        current: String,
    },
    #[error(
        "action {action_id} content does not match its stored hash (stored {stored}, computed {computed}); it was edited outside rootline"
    )]
    ContentTampered {
        action_id: String,
        stored: String,
        computed: String,
    },
    #[error("action {action_id} has {have} valid approval(s) of {need} required")]
    NotEnoughApprovals {
        action_id: String,
        have: u32,
        need: u32,
    },
    #[error("the approvals of action {action_id} have expired; approve it again")]
    ApprovalsExpired { action_id: String },
    #[error("no transition from {from} to {to}")]
    InvalidTransition { from: ActionState, to: ActionState },
    #[error("invalid action: {0}")]
    InvalidContent(String),
    #[error("invalid approval policy: {0}")]
    InvalidPolicy(String),
}

/// How a caller (e.g. the HTTP layer) should treat a [`Refusal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The actor lacks the right (403).
    Forbidden,
    /// The action's state, content or time does not allow it (409).
    Conflict,
    /// The request itself is malformed (400).
    Invalid,
}

impl Refusal {
    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::Forbidden { .. } | Refusal::SelfApproval { .. } => RefusalKind::Forbidden,
            Refusal::InvalidContent(_) | Refusal::InvalidPolicy(_) => RefusalKind::Invalid,
            Refusal::AlreadyApproved { .. }
            | Refusal::WrongState { .. }
            | Refusal::Expired { .. }
            | Refusal::ContentChanged { .. }
            | Refusal::ContentTampered { .. }
            | Refusal::NotEnoughApprovals { .. }
            | Refusal::ApprovalsExpired { .. }
            | Refusal::InvalidTransition { .. } => RefusalKind::Conflict,
        }
    }

    /// A stable snake-case code for logs, the audit log and API bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Forbidden { .. } => "forbidden",
            Refusal::SelfApproval { .. } => "self_approval",
            Refusal::AlreadyApproved { .. } => "already_approved",
            Refusal::WrongState { .. } => "wrong_state",
            Refusal::Expired { .. } => "expired",
            Refusal::ContentChanged { .. } => "content_changed",
            Refusal::ContentTampered { .. } => "content_tampered",
            Refusal::NotEnoughApprovals { .. } => "not_enough_approvals",
            Refusal::ApprovalsExpired { .. } => "approvals_expired",
            Refusal::InvalidTransition { .. } => "invalid_transition",
            Refusal::InvalidContent(_) => "invalid_content",
            Refusal::InvalidPolicy(_) => "invalid_policy",
        }
    }
}
