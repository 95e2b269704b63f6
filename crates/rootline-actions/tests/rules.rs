//! The approval rules without a database: every refusal, and the proof that the executors only
//! run an action that is approved, unchanged and unexpired.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rootline_actions::{
    Action, ActionContent, ActionState, Actor, Approval, ApprovalPolicy, DryRunExecutor, Executor,
    Refusal, RefusalKind, Role, authorize_execution, check_propose, check_reject, check_revise,
    decide_approval,
};
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

fn user(id: &str, role: Role) -> Actor {
    Actor::User {
        id: id.into(),
        name: format!("{id}-name"),
        role,
    }
}

fn content() -> ActionContent {
    ActionContent {
        kind: "restart".into(),
        target: "payments".into(),
        summary: "restart the payments deployment".into(),
        params: json!({"namespace": "prod"}),
    }
}

fn action(required: u32, proposer: Actor) -> Action {
    let c = content();
    Action {
        id: "act-1".into(),
        incident_id: Some("inc-1".into()),
        investigation_id: None,
        content_hash: c.hash(),
        content: c,
        state: ActionState::Proposed,
        version: 1,
        proposed_by: proposer,
        required_approvals: required,
        created_at: t0(),
        expires_at: t0() + Duration::hours(4),
        updated_at: t0(),
        result: None,
    }
}

const TTL: i64 = 1800;

/// Approves with `approver` and applies the decision to `a` and `approvals`.
fn approve(a: &mut Action, approvals: &mut Vec<Approval>, approver: &Actor, at: DateTime<Utc>) {
    let d = decide_approval(a, approvals, approver, &a.content_hash.clone(), TTL, at).unwrap();
    approvals.push(d.approval);
    a.state = d.new_state;
}

#[test]
fn one_approver_moves_proposed_to_approved_and_authorizes() {
    let proposer = user("alice", Role::Responder);
    let mut a = action(1, proposer);
    let mut approvals = vec![];
    let bob = user("bob", Role::Approver);
    let d = decide_approval(&a, &approvals, &bob, &a.content_hash, TTL, t0()).unwrap();
    assert_eq!(d.new_state, ActionState::Approved);
    assert_eq!((d.approvals, d.required), (1, 1));
    assert_eq!(d.approval.expires_at, t0() + Duration::seconds(TTL));
    assert_eq!(d.approval.content_hash, a.content_hash);
    approvals.push(d.approval);
    a.state = d.new_state;

    let approved = authorize_execution(&a, &approvals, &user("carol", Role::Responder), t0())
        .expect("authorised");
    assert_eq!(approved.action_id(), "act-1");
    assert_eq!(approved.approvers(), ["bob-name"]);
    assert_eq!(approved.executed_by(), "carol-name");
    assert_eq!(approved.valid_until(), t0() + Duration::seconds(TTL));
    assert_eq!(approved.content(), &content());
}

#[test]
fn two_person_rule_needs_two_distinct_approvers() {
    let mut a = action(2, Actor::agent());
    let mut approvals = vec![];
    let bob = user("bob", Role::Approver);
    approve(&mut a, &mut approvals, &bob, t0());
    assert_eq!(a.state, ActionState::Proposed, "one of two");
    // Not executable with one approval.
    let err = authorize_execution(&a, &approvals, &bob, t0()).unwrap_err();
    assert_eq!(err.code(), "wrong_state");
    // The same approver twice does not count twice.
    let err = decide_approval(&a, &approvals, &bob, &a.content_hash, TTL, t0()).unwrap_err();
    assert!(matches!(err, Refusal::AlreadyApproved { .. }), "{err}");
    assert_eq!(err.kind(), RefusalKind::Conflict);
    // An admin counts as an approver.
    approve(&mut a, &mut approvals, &user("dana", Role::Admin), t0());
    assert_eq!(a.state, ActionState::Approved);
    let ok = authorize_execution(&a, &approvals, &bob, t0() + Duration::minutes(1)).unwrap();
    assert_eq!(ok.approvers().len(), 2);
}

#[test]
fn approval_refusals() {
    let alice = user("alice", Role::Approver);
    let a = action(1, alice.clone());
    let hash = a.content_hash.clone();

    // The agent is never an approver.
    let err = decide_approval(&a, &[], &Actor::agent(), &hash, TTL, t0()).unwrap_err();
    assert_eq!(err.kind(), RefusalKind::Forbidden);
    assert!(err.to_string().contains("never an approver"), "{err}");
    // Roles below approver.
    for role in [Role::Viewer, Role::Responder] {
        let err = decide_approval(&a, &[], &user("x", role), &hash, TTL, t0()).unwrap_err();
        assert_eq!(err.code(), "forbidden", "{role}");
    }
    // The proposer, even an approver.
    let err = decide_approval(&a, &[], &alice, &hash, TTL, t0()).unwrap_err();
    assert_eq!(err.code(), "self_approval");
    assert_eq!(err.kind(), RefusalKind::Forbidden);
    // A hash the approver did not see.
    let bob = user("bob", Role::Approver);
    let err = decide_approval(&a, &[], &bob, "0123", TTL, t0()).unwrap_err();
    assert_eq!(err.code(), "content_changed");
    // Expired (at the deadline exactly).
    let err = decide_approval(&a, &[], &bob, &hash, TTL, a.expires_at).unwrap_err();
    assert_eq!(err.code(), "expired");
    // Content edited behind rootline's back.
    let mut tampered = a.clone();
    tampered.content.target = "everything".into();
    let err = decide_approval(&tampered, &[], &bob, &hash, TTL, t0()).unwrap_err();
    assert_eq!(err.code(), "content_tampered");
    // Not in proposed.
    for state in ActionState::ALL {
        if state == ActionState::Proposed {
            continue;
        }
        let mut s = a.clone();
        s.state = state;
        let err = decide_approval(&s, &[], &bob, &hash, TTL, t0()).unwrap_err();
        assert_eq!(err.code(), "wrong_state", "{state}");
    }
    // An approval never outlives its action.
    let late = a.expires_at - Duration::seconds(10);
    let d = decide_approval(&a, &[], &bob, &hash, TTL, late).unwrap();
    assert_eq!(d.approval.expires_at, a.expires_at);
}

#[test]
fn changed_content_voids_approvals() {
    let mut a = action(1, user("alice", Role::Responder));
    let mut approvals = vec![];
    approve(&mut a, &mut approvals, &user("bob", Role::Approver), t0());
    assert_eq!(a.state, ActionState::Approved);

    // A legitimate revision: new content, new hash, back to proposed.
    let mut revised = content();
    revised.params = json!({"namespace": "prod", "force": true});
    check_revise(&a, &user("alice", Role::Responder), &revised, t0()).unwrap();
    a.content_hash = revised.hash();
    a.content = revised;
    a.state = ActionState::Approved; // even if a buggy caller left it approved…
    let err =
        authorize_execution(&a, &approvals, &user("carol", Role::Responder), t0()).unwrap_err();
    assert_eq!(err.code(), "not_enough_approvals", "{err}");

    // A row edited without updating the hash.
    let mut b = action(1, user("alice", Role::Responder));
    let mut approvals = vec![];
    approve(&mut b, &mut approvals, &user("bob", Role::Approver), t0());
    b.content.params = json!({"namespace": "prod", "drop_tables": true});
    let err =
        authorize_execution(&b, &approvals, &user("carol", Role::Responder), t0()).unwrap_err();
    assert_eq!(err.code(), "content_tampered");
}

#[test]
fn expired_actions_and_approvals_are_refused() {
    let mut a = action(1, user("alice", Role::Responder));
    let mut approvals = vec![];
    approve(&mut a, &mut approvals, &user("bob", Role::Approver), t0());
    let carol = user("carol", Role::Responder);
    // The approval lapsed (30 min) while the action is still live (4 h).
    let err =
        authorize_execution(&a, &approvals, &carol, t0() + Duration::minutes(31)).unwrap_err();
    assert_eq!(err.code(), "approvals_expired");
    // The action itself expired.
    let err = authorize_execution(&a, &approvals, &carol, a.expires_at).unwrap_err();
    assert_eq!(err.code(), "expired");
}

#[test]
fn execution_and_other_refusals() {
    let mut a = action(1, user("alice", Role::Responder));
    let mut approvals = vec![];
    approve(&mut a, &mut approvals, &user("bob", Role::Approver), t0());
    // The agent and viewers cannot trigger execution.
    for actor in [Actor::agent(), user("v", Role::Viewer)] {
        let err = authorize_execution(&a, &approvals, &actor, t0()).unwrap_err();
        assert_eq!(err.kind(), RefusalKind::Forbidden);
    }
    // A proposer's own "approval" (planted) never counts.
    let mut own = action(1, user("alice", Role::Approver));
    own.state = ActionState::Approved;
    let planted = Approval {
        action_id: own.id.clone(),
        approver_id: "alice".into(),
        approver_name: "alice-name".into(),
        content_hash: own.content_hash.clone(),
        approved_at: t0(),
        expires_at: t0() + Duration::hours(1),
    };
    let err =
        authorize_execution(&own, &[planted], &user("carol", Role::Responder), t0()).unwrap_err();
    assert_eq!(err.code(), "not_enough_approvals");

    // Proposals: the agent and responders may; viewers may not; bad content and policy refused.
    check_propose(&Actor::agent(), &content(), &ApprovalPolicy::default()).unwrap();
    check_propose(
        &user("r", Role::Responder),
        &content(),
        &ApprovalPolicy::two_person(),
    )
    .unwrap();
    assert_eq!(
        check_propose(
            &user("v", Role::Viewer),
            &content(),
            &ApprovalPolicy::default()
        )
        .unwrap_err()
        .code(),
        "forbidden"
    );
    let bad_policy = ApprovalPolicy {
        required_approvals: 0,
        ..ApprovalPolicy::default()
    };
    assert_eq!(
        check_propose(&Actor::agent(), &content(), &bad_policy)
            .unwrap_err()
            .kind(),
        RefusalKind::Invalid
    );

    // Rejection: approvers only, and only while waiting.
    check_reject(&a, &user("bob", Role::Approver)).unwrap();
    assert_eq!(
        check_reject(&a, &Actor::agent()).unwrap_err().code(),
        "forbidden"
    );
    let mut done = a.clone();
    done.state = ActionState::Succeeded;
    assert_eq!(
        check_reject(&done, &user("bob", Role::Approver))
            .unwrap_err()
            .code(),
        "wrong_state"
    );
}

#[tokio::test]
async fn dry_run_executor_runs_only_what_is_authorized() {
    let mut a = action(1, user("alice", Role::Responder));
    let mut approvals = vec![];
    let now = Utc::now();
    a.created_at = now;
    a.expires_at = now + Duration::hours(1);
    let d = decide_approval(
        &a,
        &approvals,
        &user("bob", Role::Approver),
        &a.content_hash,
        TTL,
        now,
    )
    .unwrap();
    approvals.push(d.approval);
    a.state = d.new_state;
    let approved =
        authorize_execution(&a, &approvals, &user("carol", Role::Responder), now).unwrap();
    let outcome = DryRunExecutor.execute(approved).await;
    assert!(outcome.success, "{outcome:?}");
    assert_eq!(outcome.executor, "dry_run");
    assert!(
        outcome.detail.contains("restart payments"),
        "{}",
        outcome.detail
    );
    assert!(outcome.detail.contains("nothing was executed"));

    // An authorisation used after its deadline is refused by the executor itself.
    let mut late = a.clone();
    late.expires_at = now + Duration::milliseconds(200);
    let approved =
        authorize_execution(&late, &approvals, &user("carol", Role::Responder), now).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let outcome = DryRunExecutor.execute(approved).await;
    assert!(!outcome.success);
    assert!(outcome.detail.contains("expired"), "{}", outcome.detail);
}
