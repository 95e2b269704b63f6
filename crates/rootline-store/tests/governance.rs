//! Users and tokens, verdicts, approval-gated actions and the audit chain, on both backends and
//! real databases (SQLite in a temporary directory; a throwaway PostgreSQL database
//! `rootline_test_<uuid>` created through `ROOTLINE_TEST_POSTGRES_URL` or
//! `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the end).
//!
//! Every state transition and every refusal is exercised through the store, with an executor
//! that counts its calls, so "nothing ran" is asserted, not assumed. The tests reach past the
//! store with raw SQL only to tamper with rows behind rootline's back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use rootline_actions::{
    ActionContent, ActionState, Actor, ApprovalPolicy, ApprovedAction, BoxFuture, ExecutionOutcome,
    Executor, Role,
};
use rootline_core::{Incident, Report};
use rootline_store::{
    Backend, ExportOptions, GovernanceError, Hypothesis, Judgement, LOCAL_ADMIN, NewAction,
    NewVerdict, Store, User, VerdictTarget, export_judged_bundles,
};
use serde_json::{Value, json};
use sqlx::Connection;

#[macro_use]
mod common;

use common::{TestDb, on_postgres, on_sqlite};

impl TestDb {
    /// Runs one statement outside the store; returns rows affected or the error text.
    async fn raw(&self, sql: &str) -> Result<u64, String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                let r = sqlx::query(sql).execute(&mut c).await;
                c.close().await.unwrap();
                r.map(|r| r.rows_affected()).map_err(|e| e.to_string())
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let r = sqlx::query(sql).execute(&mut c).await;
                c.close().await.unwrap();
                r.map(|r| r.rows_affected()).map_err(|e| e.to_string())
            }
        }
    }

    /// owner rights on the database could.
    async fn drop_audit_triggers(&self) {
        match self.backend {
            Backend::Sqlite => {
                self.raw("DROP TRIGGER audit_log_no_update").await.unwrap();
                self.raw("DROP TRIGGER audit_log_no_delete").await.unwrap();
            }
            Backend::Postgres => {
                self.raw("DROP TRIGGER audit_log_no_update ON audit_log")
                    .await
                    .unwrap();
            }
        }
    }
}

on_both_backends!(
    users_tokens_and_roles,
    verdicts_are_versioned_and_checked,
    action_runs_through_every_state,
    approval_refusals,
    two_person_rule,
    nothing_unapproved_changed_or_expired_executes,
    concurrent_approvals_one_wins,
    concurrent_two_person_approvals_both_count,
    concurrent_executions_run_once,
    audit_verify_catches_edits_behind_our_back,
    judged_incidents_export_as_bundles,
    tokens_are_revoked_and_users_disabled,
);

// ---- fixtures ----

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("fixture matches the type")
}

fn incident(id: &str) -> Incident {
    from_json(json!({
        "id": id,
        "title": format!("incident {id}"),
        "start": "2023-01-29T08:43:00Z",
        "end": "2023-01-29T08:58:00Z",
        "services": ["checkout"],
    }))
}

fn report(id: &str, incident: Incident) -> Report {
    from_json(json!({
        "investigation_id": id,
        "created_at": "2023-01-29T09:00:00Z",
        "incident": incident,
        "mode": "offline",
        "outcome": "probable_cause",
        "outcome_reason": "payments is the first and strongest change",
        "stats": {
            "window_start": "2023-01-29T08:43:00.000Z",
            "window_end": "2023-01-29T08:58:00.000Z",
            "baseline_start": "2023-01-29T08:28:00.000Z",
            "baseline_end": "2023-01-29T08:43:00.000Z",
            "window_records": 1200,
            "baseline_records": 900,
            "services_seen": 4,
        },
        "candidates": [
            {"entity": "payments", "fault_type": "exception", "score": 0.81,
             "evidence": ["ev-1"], "why": "payments started refusing connections first"},
            {"entity": "checkout", "fault_type": "latency", "score": 0.2,
             "evidence": [], "why": "downstream of payments"},
        ],
        "evidence": [{
            "id": "ev-1", "kind": "new_message", "entity": "payments",
            "first_seen_ns": 1_674_981_780_000_000_000i64, "strength": 0.93,
            "summary": "new message: connection refused", "examples": [],
        }],
    }))
}

/// The users every scenario needs, keyed by role.
struct Team {
    admin: User,
    approver: User,
    approver2: User,
    responder: User,
    viewer: User,
}

async fn team(store: &Store) -> Team {
    Team {
        admin: store
            .add_user("ada", Role::Admin, LOCAL_ADMIN)
            .await
            .unwrap(),
        approver: store
            .add_user("bob", Role::Approver, LOCAL_ADMIN)
            .await
            .unwrap(),
        approver2: store
            .add_user("cat", Role::Approver, LOCAL_ADMIN)
            .await
            .unwrap(),
        responder: store
            .add_user("rae", Role::Responder, LOCAL_ADMIN)
            .await
            .unwrap(),
        viewer: store
            .add_user("vic", Role::Viewer, LOCAL_ADMIN)
            .await
            .unwrap(),
    }
}

fn restart() -> ActionContent {
    ActionContent {
        kind: "restart".into(),
        target: "payments".into(),
        summary: "restart the payments deployment".into(),
        params: json!({"namespace": "prod"}),
    }
}

fn proposal(policy: ApprovalPolicy) -> NewAction {
    NewAction {
        incident_id: Some("inc-1".into()),
        investigation_id: Some("inv-1".into()),
        content: restart(),
        policy,
    }
}

/// An executor that counts its calls and answers as told.
#[derive(Clone, Default)]
struct Counting {
    calls: Arc<AtomicUsize>,
    fail: bool,
}

impl Counting {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Executor for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn execute(&self, action: ApprovedAction) -> BoxFuture<'_, ExecutionOutcome> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            // Long enough for a concurrent caller to try while this one runs.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            ExecutionOutcome {
                success: !self.fail,
                executor: "counting".into(),
                detail: format!(
                    "ran {} on {}",
                    action.content().kind,
                    action.content().target
                ),
            }
        })
    }
}

fn refusal_code(r: Result<impl std::fmt::Debug, GovernanceError>) -> &'static str {
    match r {
        Err(GovernanceError::Refused(refusal)) => refusal.code(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn events(store: &Store) -> Vec<String> {
    store
        .list_audit(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

async fn seeded(db: &TestDb) -> (Store, Team) {
    let store = db.connect().await;
    store
        .save_investigation(&report("inv-1", incident("inc-1")))
        .await
        .unwrap();
    let team = team(&store).await;
    (store, team)
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

// ---- scenarios ----

async fn users_tokens_and_roles(db: TestDb) {
    let store = db.connect().await;
    let t = team(&store).await;
    assert_eq!(t.admin.role, Role::Admin);
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["ada", "bob", "cat", "rae", "vic"]);

    // A taken name, a bad name.
    let err = store
        .add_user("bob", Role::Viewer, LOCAL_ADMIN)
        .await
        .unwrap_err();
    assert!(matches!(err, GovernanceError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("bob"));
    for bad in ["", "a b", "x\n", &"y".repeat(65)] {
        let err = store
            .add_user(bad, Role::Viewer, LOCAL_ADMIN)
            .await
            .unwrap_err();
        assert!(matches!(err, GovernanceError::Invalid(_)), "{bad:?}: {err}");
    }

    // Tokens: shown once, stored hashed, authenticate their user.
    let created = store
        .create_token("bob", "laptop", None, LOCAL_ADMIN)
        .await
        .unwrap();
    assert!(created.token.starts_with("rlt_"));
    assert_eq!(created.token.len(), 4 + 64);
    let user = store.authenticate(&created.token).await.unwrap().unwrap();
    assert_eq!(user, t.approver);
    assert_eq!(
        user.actor(),
        Actor::User {
            id: t.approver.id.clone(),
            name: "bob".into(),
            role: Role::Approver
        }
    );
    let plain = format!(
        "SELECT COUNT(*) FROM api_tokens WHERE token_hash = '{}' OR label = '{}'",
        created.token, created.token
    );
    assert_eq!(
        db.raw_i64(&plain).await,
        0,
        "the token itself is not stored"
    );
    assert_eq!(
        db.raw_i64(&format!(
            "SELECT COUNT(*) FROM api_tokens WHERE token_hash = '{}'",
            rootline_actions::sha256_hex(created.token.as_bytes())
        ))
        .await,
        1
    );

    // Unknown, malformed, expired tokens and unknown users.
    for unknown in [
        "rlt_0000000000000000000000000000000000000000000000000000000000000000",
        "",
        "Bearer x",
        &created.token[..20],
        &format!("{} ", created.token).repeat(50),
    ] {
        assert_eq!(
            store.authenticate(unknown).await.unwrap(),
            None,
            "{unknown:?}"
        );
    }
    let expired = store
        .create_token("rae", "old", Some(Utc::now() - Duration::seconds(1)), "ada")
        .await
        .unwrap();
    assert_eq!(store.authenticate(&expired.token).await.unwrap(), None);
    let err = store
        .create_token("nobody", "x", None, LOCAL_ADMIN)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GovernanceError::NotFound { what: "user", .. }),
        "{err}"
    );

    // Both tokens and all five users are in the audit log; the chain is intact.
    let ev = events(&store).await;
    assert_eq!(ev.iter().filter(|e| *e == "user_added").count(), 5);
    assert_eq!(ev.iter().filter(|e| *e == "token_created").count(), 2);
    let v = store.verify_audit_chain().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.rows, 7);
    store.close().await;
}

async fn verdicts_are_versioned_and_checked(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let rae = t.responder.actor();
    let accept = NewVerdict {
        investigation_id: "inv-1".into(),
        target: VerdictTarget::Candidate {
            entity: "payments".into(),
        },
        judgement: Judgement::Accepted,
        root_cause_service: None,
        root_cause_entity: None,
        fault_type: None,
        fix: Some("rolled payments back to v41".into()),
        note: Some("first page at 08:44".into()),
    };
    let v1 = store.record_verdict(&rae, &accept, now()).await.unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.incident_id, "inc-1");
    assert_eq!(v1.author_name, "rae");

    // Judging it again makes version 2; version 1 is kept.
    let partly = NewVerdict {
        judgement: Judgement::PartlyRight,
        root_cause_service: Some("payments-db".into()),
        fault_type: Some("config_change".into()),
        note: Some("the database, not the service".into()),
        ..accept.clone()
    };
    let v2 = store
        .record_verdict(&t.approver.actor(), &partly, now())
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let all = store.list_verdicts("inv-1").await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], v1, "history is never overwritten");
    assert_eq!(all[1], v2);
    let current = store.current_verdicts("inv-1").await.unwrap();
    assert_eq!(current, vec![v2.clone()]);

    // An overall verdict is a separate target with its own versions.
    let overall = NewVerdict {
        target: VerdictTarget::Investigation,
        judgement: Judgement::Rejected,
        ..accept.clone()
    };
    assert_eq!(
        store
            .record_verdict(&rae, &overall, now())
            .await
            .unwrap()
            .version,
        1
    );

    // Missing things are clear errors and store nothing.
    let before = db.raw_i64("SELECT COUNT(*) FROM verdicts").await;
    let missing_hypothesis = NewVerdict {
        target: VerdictTarget::Hypothesis { id: "hyp-9".into() },
        ..accept.clone()
    };
    let err = store
        .record_verdict(&rae, &missing_hypothesis, now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GovernanceError::NotFound { what: "hypothesis", id } if id.contains("hyp-9")),
        "{err}"
    );
    let err = store
        .record_verdict(
            &rae,
            &NewVerdict {
                investigation_id: "inv-missing".into(),
                ..accept.clone()
            },
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GovernanceError::NotFound {
                what: "investigation",
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .record_verdict(
            &rae,
            &NewVerdict {
                target: VerdictTarget::Candidate {
                    entity: "frontend".into(),
                },
                ..accept.clone()
            },
            now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GovernanceError::NotFound {
                what: "candidate",
                ..
            }
        ),
        "{err}"
    );
    let err = store
        .record_verdict(
            &rae,
            &NewVerdict {
                note: Some("x".repeat(20_000)),
                ..accept.clone()
            },
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GovernanceError::Invalid(_)), "{err}");
    // Viewers and the agent may not judge.
    assert_eq!(
        refusal_code(
            store
                .record_verdict(&t.viewer.actor(), &accept, now())
                .await
        ),
        "forbidden"
    );
    assert_eq!(
        refusal_code(store.record_verdict(&Actor::agent(), &accept, now()).await),
        "forbidden"
    );
    assert_eq!(db.raw_i64("SELECT COUNT(*) FROM verdicts").await, before);

    // A stored hypothesis can be judged.
    store
        .save_hypotheses(&[Hypothesis {
            id: "hyp-1".into(),
            investigation_id: "inv-1".into(),
            rank: 1,
            entity: "payments".into(),
            fault_type: Some("exception".into()),
            statement: "payments throws on every charge".into(),
            source: "model".into(),
            created_at: "2023-01-29T09:00:00Z".into(),
        }])
        .await
        .unwrap();
    let hv = store
        .record_verdict(
            &rae,
            &NewVerdict {
                target: VerdictTarget::Hypothesis { id: "hyp-1".into() },
                ..accept.clone()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(hv.version, 1);
    assert_eq!(store.list_hypotheses("inv-1").await.unwrap().len(), 1);

    let ev = events(&store).await;
    assert_eq!(ev.iter().filter(|e| *e == "verdict_recorded").count(), 4);
    assert!(store.verify_audit_chain().await.unwrap().is_intact());
    store.close().await;
}

async fn action_runs_through_every_state(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let exec = Counting::default();
    let rae = t.responder.actor();
    let bob = t.approver.actor();

    // proposed → approved → executing → succeeded
    let a = store
        .propose_action(&rae, &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    assert_eq!((a.state, a.version), (ActionState::Proposed, 1));
    assert_eq!(a.content_hash, restart().hash());
    let r = store
        .approve_action(&a.id, &bob, &a.content_hash, now())
        .await
        .unwrap();
    assert_eq!(r.action.state, ActionState::Approved);
    assert_eq!((r.approvals, r.required), (1, 1));
    let done = store
        .execute_action(&a.id, &rae, &exec, now())
        .await
        .unwrap();
    assert_eq!(done.state, ActionState::Succeeded);
    assert_eq!(exec.calls(), 1);
    let stored = store.get_action(&a.id).await.unwrap().unwrap();
    assert_eq!(stored.state, ActionState::Succeeded);
    assert_eq!(stored.version, 4);
    let result = stored.result.unwrap();
    assert!(result.success);
    assert_eq!(result.detail, "ran restart on payments");
    assert_eq!(store.list_approvals(&a.id).await.unwrap().len(), 1);

    // executing → failed
    let failing = Counting {
        fail: true,
        ..Counting::default()
    };
    let b = store
        .propose_action(&Actor::agent(), &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    assert_eq!(b.proposed_by, Actor::agent());
    store
        .approve_action(&b.id, &bob, &b.content_hash, now())
        .await
        .unwrap();
    let failed = store
        .execute_action(&b.id, &bob, &failing, now())
        .await
        .unwrap();
    assert_eq!(failed.state, ActionState::Failed);
    assert!(!failed.result.unwrap().success);

    // proposed → rejected; approved → rejected
    let c = store
        .propose_action(&rae, &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    let rejected = store
        .reject_action(&c.id, &bob, "too risky at peak", now())
        .await
        .unwrap();
    assert_eq!(rejected.state, ActionState::Rejected);
    let d = store
        .propose_action(&rae, &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    store
        .approve_action(&d.id, &bob, &d.content_hash, now())
        .await
        .unwrap();
    assert_eq!(
        store
            .reject_action(&d.id, &t.approver2.actor(), "changed my mind", now())
            .await
            .unwrap()
            .state,
        ActionState::Rejected
    );

    // approved → proposed (revised content voids the approval)
    let e = store
        .propose_action(&rae, &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    store
        .approve_action(&e.id, &bob, &e.content_hash, now())
        .await
        .unwrap();
    let mut revised = restart();
    revised.params = json!({"namespace": "prod", "grace_seconds": 0});
    let rev = store
        .revise_action(&e.id, &rae, &revised, now())
        .await
        .unwrap();
    assert_eq!(rev.state, ActionState::Proposed);
    assert_ne!(rev.content_hash, e.content_hash);
    assert_eq!(
        store.get_action(&e.id).await.unwrap().unwrap(),
        rev,
        "what revise returns is what is stored"
    );
    // The new content needs a new approval, bound to the new hash.
    assert_eq!(
        refusal_code(
            store
                .approve_action(&e.id, &bob, &e.content_hash, now())
                .await
        ),
        "content_changed"
    );
    store
        .approve_action(&e.id, &bob, &rev.content_hash, now())
        .await
        .unwrap();
    assert_eq!(
        store
            .execute_action(&e.id, &rae, &exec, now())
            .await
            .unwrap()
            .state,
        ActionState::Succeeded
    );
    assert_eq!(exec.calls(), 2);

    // proposed → expired and approved → expired, by the sweep.
    let f = store
        .propose_action(&rae, &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    let g = store
        .propose_action(&rae, &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    store
        .approve_action(&g.id, &bob, &g.content_hash, now())
        .await
        .unwrap();
    let later = now() + Duration::hours(5);
    let mut expired = store.expire_due_actions(later).await.unwrap();
    expired.sort();
    let mut want = vec![f.id.clone(), g.id.clone()];
    want.sort();
    assert_eq!(expired, want);
    for id in [&f.id, &g.id] {
        assert_eq!(
            store.get_action(id).await.unwrap().unwrap().state,
            ActionState::Expired
        );
    }

    // Terminal states accept nothing.
    for (id, state) in [
        (&a.id, "succeeded"),
        (&b.id, "failed"),
        (&c.id, "rejected"),
        (&f.id, "expired"),
    ] {
        let act = store.get_action(id).await.unwrap().unwrap();
        assert_eq!(act.state.as_str(), state);
        assert_eq!(
            refusal_code(
                store
                    .approve_action(id, &t.approver2.actor(), &act.content_hash, now())
                    .await
            ),
            "wrong_state"
        );
        assert_eq!(
            refusal_code(store.reject_action(id, &bob, "x", now()).await),
            "wrong_state"
        );
        assert_eq!(
            refusal_code(store.execute_action(id, &rae, &exec, now()).await),
            "wrong_state"
        );
        assert_eq!(
            refusal_code(store.revise_action(id, &rae, &restart(), now()).await),
            "wrong_state"
        );
    }
    assert_eq!(exec.calls(), 2, "no refused call reached the executor");

    let ev = events(&store).await;
    for expected in [
        "action_proposed",
        "action_approved",
        "action_execution_started",
        "action_succeeded",
        "action_failed",
        "action_rejected",
        "action_revised",
        "action_expired",
        "action_approval_refused",
        "action_rejection_refused",
        "action_execution_refused",
    ] {
        assert!(ev.iter().any(|e| e == expected), "{expected} not in {ev:?}");
    }
    assert!(store.verify_audit_chain().await.unwrap().is_intact());
    assert_eq!(store.list_actions(100).await.unwrap().len(), 7);
    store.close().await;
}

async fn approval_refusals(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let bob = t.approver.actor();
    let a = store
        .propose_action(&bob, &proposal(ApprovalPolicy::default()), now())
        .await
        .unwrap();
    let h = a.content_hash.clone();

    // Who may not approve.
    assert_eq!(
        refusal_code(
            store
                .approve_action(&a.id, &Actor::agent(), &h, now())
                .await
        ),
        "forbidden"
    );
    for u in [&t.responder, &t.viewer] {
        assert_eq!(
            refusal_code(store.approve_action(&a.id, &u.actor(), &h, now()).await),
            "forbidden"
        );
    }
    assert_eq!(
        refusal_code(store.approve_action(&a.id, &bob, &h, now()).await),
        "self_approval"
    );
    // A hash the approver did not review.
    assert_eq!(
        refusal_code(
            store
                .approve_action(&a.id, &t.approver2.actor(), &"0".repeat(64), now())
                .await
        ),
        "content_changed"
    );
    // A missing action.
    let err = store
        .approve_action("act_missing", &t.approver2.actor(), &h, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GovernanceError::NotFound { what: "action", .. }),
        "{err}"
    );
    // None of that changed the action or recorded an approval; each refusal is audited.
    let stored = store.get_action(&a.id).await.unwrap().unwrap();
    assert_eq!((stored.state, stored.version), (ActionState::Proposed, 1));
    assert!(store.list_approvals(&a.id).await.unwrap().is_empty());
    let refused = events(&store)
        .await
        .into_iter()
        .filter(|e| e == "action_approval_refused")
        .count();
    assert_eq!(refused, 5);

    // Approving after the deadline expires the action.
    let late = now() + Duration::hours(4) + Duration::seconds(1);
    assert_eq!(
        refusal_code(
            store
                .approve_action(&a.id, &t.admin.actor(), &h, late)
                .await
        ),
        "expired"
    );
    assert_eq!(
        store.get_action(&a.id).await.unwrap().unwrap().state,
        ActionState::Expired
    );
    assert_eq!(events(&store).await.last().unwrap(), "action_expired");

    // Rejection needs an approver; proposals need a responder.
    let b = store
        .propose_action(
            &t.responder.actor(),
            &proposal(ApprovalPolicy::default()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        refusal_code(
            store
                .reject_action(&b.id, &t.responder.actor(), "no", now())
                .await
        ),
        "forbidden"
    );
    assert_eq!(
        refusal_code(
            store
                .propose_action(
                    &t.viewer.actor(),
                    &proposal(ApprovalPolicy::default()),
                    now()
                )
                .await
        ),
        "forbidden"
    );
    let mut bad = proposal(ApprovalPolicy::default());
    bad.content.kind = String::new();
    assert_eq!(
        refusal_code(
            store
                .propose_action(&t.responder.actor(), &bad, now())
                .await
        ),
        "invalid_content"
    );
    let mut unknown = proposal(ApprovalPolicy::default());
    unknown.incident_id = Some("inc-missing".into());
    let err = store
        .propose_action(&t.responder.actor(), &unknown, now())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GovernanceError::NotFound {
                what: "incident",
                ..
            }
        ),
        "{err}"
    );
    assert!(store.verify_audit_chain().await.unwrap().is_intact());
    store.close().await;
}

async fn two_person_rule(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let exec = Counting::default();
    let a = store
        .propose_action(
            &t.responder.actor(),
            &proposal(ApprovalPolicy::two_person()),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(a.required_approvals, 2);
    let first = store
        .approve_action(&a.id, &t.approver.actor(), &a.content_hash, now())
        .await
        .unwrap();
    assert_eq!(first.action.state, ActionState::Proposed);
    assert_eq!((first.approvals, first.required), (1, 2));
    // One approval is not enough to run.
    assert_eq!(
        refusal_code(
            store
                .execute_action(&a.id, &t.responder.actor(), &exec, now())
                .await
        ),
        "wrong_state"
    );
    assert_eq!(
        refusal_code(
            store
                .approve_action(&a.id, &t.approver.actor(), &a.content_hash, now())
                .await
        ),
        "already_approved"
    );
    let second = store
        .approve_action(&a.id, &t.admin.actor(), &a.content_hash, now())
        .await
        .unwrap();
    assert_eq!(second.action.state, ActionState::Approved);
    assert_eq!(second.approvals, 2);
    let done = store
        .execute_action(&a.id, &t.responder.actor(), &exec, now())
        .await
        .unwrap();
    assert_eq!(done.state, ActionState::Succeeded);
    assert_eq!(exec.calls(), 1);
    let started = store
        .list_audit(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event == "action_execution_started")
        .unwrap();
    assert_eq!(started.details["approvers"], json!(["ada", "bob"]));
    store.close().await;
}

async fn nothing_unapproved_changed_or_expired_executes(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let exec = Counting::default();
    let rae = t.responder.actor();
    let bob = t.approver.actor();
    let propose = |policy| {
        let store = store.clone();
        let rae = rae.clone();
        async move {
            store
                .propose_action(&rae, &proposal(policy), now())
                .await
                .unwrap()
        }
    };

    // Unapproved.
    let a = propose(ApprovalPolicy::default()).await;
    assert_eq!(
        refusal_code(store.execute_action(&a.id, &rae, &exec, now()).await),
        "wrong_state"
    );
    // Not by the agent or a viewer, even when approved.
    store
        .approve_action(&a.id, &bob, &a.content_hash, now())
        .await
        .unwrap();
    for actor in [Actor::agent(), t.viewer.actor()] {
        assert_eq!(
            refusal_code(store.execute_action(&a.id, &actor, &exec, now()).await),
            "forbidden"
        );
    }

    // Changed behind rootline's back after approval, hash left alone: tampered.
    let b = propose(ApprovalPolicy::default()).await;
    store
        .approve_action(&b.id, &bob, &b.content_hash, now())
        .await
        .unwrap();
    let evil = ActionContent {
        params: json!({"namespace": "prod", "also": "drop the database"}),
        ..restart()
    };
    let sql = format!(
        "UPDATE actions SET content = '{}' WHERE id = '{}'",
        evil.canonical_json(),
        b.id
    );
    assert_eq!(db.raw(&sql).await, Ok(1));
    assert_eq!(
        refusal_code(store.execute_action(&b.id, &rae, &exec, now()).await),
        "content_tampered"
    );

    // Changed with a matching new hash: the approval was for the old hash.
    let c = propose(ApprovalPolicy::default()).await;
    store
        .approve_action(&c.id, &bob, &c.content_hash, now())
        .await
        .unwrap();
    let sql = format!(
        "UPDATE actions SET content = '{}', content_hash = '{}' WHERE id = '{}'",
        evil.canonical_json(),
        evil.hash(),
        c.id
    );
    assert_eq!(db.raw(&sql).await, Ok(1));
    assert_eq!(
        refusal_code(store.execute_action(&c.id, &rae, &exec, now()).await),
        "not_enough_approvals"
    );

    // Expired action.
    let d = propose(ApprovalPolicy::default()).await;
    store
        .approve_action(&d.id, &bob, &d.content_hash, now())
        .await
        .unwrap();
    assert_eq!(
        refusal_code(
            store
                .execute_action(&d.id, &rae, &exec, now() + Duration::hours(5))
                .await
        ),
        "expired"
    );
    assert_eq!(
        store.get_action(&d.id).await.unwrap().unwrap().state,
        ActionState::Expired
    );
    // Expired approval on a live action.
    let e = propose(ApprovalPolicy {
        approval_ttl_secs: 60,
        ..ApprovalPolicy::default()
    })
    .await;
    store
        .approve_action(&e.id, &bob, &e.content_hash, now())
        .await
        .unwrap();
    assert_eq!(
        refusal_code(
            store
                .execute_action(&e.id, &rae, &exec, now() + Duration::minutes(2))
                .await
        ),
        "approvals_expired"
    );
    assert_eq!(
        store.get_action(&e.id).await.unwrap().unwrap().state,
        ActionState::Expired
    );

    assert_eq!(exec.calls(), 0, "no refused action reached the executor");
    let refusals = store
        .list_audit(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.details["operation"] == "execute")
        .map(|e| e.details["refusal"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        refusals,
        [
            "wrong_state",
            "forbidden",
            "forbidden",
            "content_tampered",
            "not_enough_approvals",
            "expired",
            "approvals_expired"
        ]
    );
    // The untouched approved action still runs.
    store
        .execute_action(&a.id, &rae, &exec, now())
        .await
        .unwrap();
    assert_eq!(exec.calls(), 1);
    store.close().await;
}

/// Runs `n` copies of `f` at once, released together by a barrier.
async fn at_once<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut handles = Vec::new();
    for i in 0..n {
        let b = barrier.clone();
        let fut = f(i);
        handles.push(tokio::spawn(async move {
            b.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn concurrent_approvals_one_wins(db: TestDb) {
    let (store, t) = seeded(&db).await;
    for round in 0..5 {
        let a = store
            .propose_action(
                &t.responder.actor(),
                &proposal(ApprovalPolicy::default()),
                now(),
            )
            .await
            .unwrap();
        let approvers = [t.approver.actor(), t.approver2.actor()];
        let results = at_once(2, |i| {
            let store = store.clone();
            let who = approvers[i].clone();
            let (id, hash) = (a.id.clone(), a.content_hash.clone());
            async move { store.approve_action(&id, &who, &hash, now()).await }
        })
        .await;
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {results:?}");
        for r in &results {
            if let Err(e) = r {
                // The loser saw the winner's commit: a clear refusal, not a lost update.
                assert!(
                    matches!(e, GovernanceError::Refused(r) if r.code() == "wrong_state"),
                    "round {round}: {e}"
                );
            }
        }
        let stored = store.get_action(&a.id).await.unwrap().unwrap();
        assert_eq!(stored.state, ActionState::Approved);
        assert_eq!(stored.version, 2);
        assert_eq!(store.list_approvals(&a.id).await.unwrap().len(), 1);
    }
    let v = store.verify_audit_chain().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    let ev = events(&store).await;
    assert_eq!(ev.iter().filter(|e| *e == "action_approved").count(), 5);
    assert_eq!(
        ev.iter()
            .filter(|e| *e == "action_approval_refused")
            .count(),
        5
    );
    store.close().await;
}

async fn concurrent_two_person_approvals_both_count(db: TestDb) {
    let (store, t) = seeded(&db).await;
    for round in 0..5 {
        let a = store
            .propose_action(
                &t.responder.actor(),
                &proposal(ApprovalPolicy::two_person()),
                now(),
            )
            .await
            .unwrap();
        let approvers = [t.approver.actor(), t.approver2.actor()];
        let results = at_once(2, |i| {
            let store = store.clone();
            let who = approvers[i].clone();
            let (id, hash) = (a.id.clone(), a.content_hash.clone());
            async move { store.approve_action(&id, &who, &hash, now()).await }
        })
        .await;
        let ok: Vec<_> = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("round {round}: {e}")))
            .collect();
        let mut counts: Vec<u32> = ok.iter().map(|r| r.approvals).collect();
        counts.sort();
        assert_eq!(counts, [1, 2], "round {round}");
        let stored = store.get_action(&a.id).await.unwrap().unwrap();
        assert_eq!(stored.state, ActionState::Approved, "round {round}");
        let mut names: Vec<String> = store
            .list_approvals(&a.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.approver_name)
            .collect();
        names.sort();
        assert_eq!(names, ["bob", "cat"]);
    }
    assert!(store.verify_audit_chain().await.unwrap().is_intact());
    store.close().await;
}

async fn concurrent_executions_run_once(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let exec = Counting::default();
    let a = store
        .propose_action(
            &t.responder.actor(),
            &proposal(ApprovalPolicy::default()),
            now(),
        )
        .await
        .unwrap();
    store
        .approve_action(&a.id, &t.approver.actor(), &a.content_hash, now())
        .await
        .unwrap();
    let results = at_once(3, |_| {
        let store = store.clone();
        let exec = exec.clone();
        let who = t.responder.actor();
        let id = a.id.clone();
        async move { store.execute_action(&id, &who, &exec, now()).await }
    })
    .await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert_eq!(exec.calls(), 1, "the executor ran once");
    assert_eq!(
        store.get_action(&a.id).await.unwrap().unwrap().state,
        ActionState::Succeeded
    );
    assert!(store.verify_audit_chain().await.unwrap().is_intact());
    store.close().await;
}

async fn audit_verify_catches_edits_behind_our_back(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let a = store
        .propose_action(
            &t.responder.actor(),
            &proposal(ApprovalPolicy::default()),
            now(),
        )
        .await
        .unwrap();
    store
        .approve_action(&a.id, &t.approver.actor(), &a.content_hash, now())
        .await
        .unwrap();
    store
        .execute_action(&a.id, &t.responder.actor(), &Counting::default(), now())
        .await
        .unwrap();
    let intact = store.verify_audit_chain().await.unwrap();
    assert!(intact.is_intact(), "{intact:?}");
    let rows = store.list_audit(0, 1000).await.unwrap();
    assert_eq!(intact.rows, rows.len() as u64);
    assert_eq!(intact.head_hash, rows.last().unwrap().hash);
    assert_eq!(rows[0].prev_hash, rootline_store::GENESIS_HASH);
    for w in rows.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
        assert_eq!(w[1].seq, w[0].seq + 1);
    }
    let approved_seq = rows
        .iter()
        .find(|e| e.event == "action_approved")
        .unwrap()
        .seq;

    // The triggers refuse edits and deletions.
    let edit = format!("UPDATE audit_log SET actor = 'mallory' WHERE seq = {approved_seq}");
    let err = db.raw(&edit).await.unwrap_err();
    assert!(err.contains("append-only"), "{err}");
    assert!(
        db.raw("DELETE FROM audit_log")
            .await
            .unwrap_err()
            .contains("append-only")
    );

    // Someone with owner rights drops them and deletes the newest row: caught at the tip.
    db.drop_audit_triggers().await;
    let last = rows.last().unwrap().seq;
    assert_eq!(
        db.raw(&format!("DELETE FROM audit_log WHERE seq = {last}"))
            .await,
        Ok(1)
    );
    let v = store.verify_audit_chain().await.unwrap();
    let broken = v.broken.expect("a deleted tail is detected");
    assert_eq!(broken.seq, last);
    assert!(broken.reason.contains("missing"), "{broken:?}");

    // ...and rewrites who approved: caught at that row.
    assert_eq!(db.raw(&edit).await, Ok(1));
    let v = store.verify_audit_chain().await.unwrap();
    let broken = v.broken.expect("an edited row is detected");
    assert_eq!(broken.seq, approved_seq, "{broken:?}");
    assert!(
        broken.reason.contains("does not match its hash"),
        "{broken:?}"
    );
    store.close().await;
}

async fn judged_incidents_export_as_bundles(db: TestDb) {
    let (store, t) = seeded(&db).await;
    let rae = t.responder.actor();
    // inc-1: an accepted candidate. inc-2: a corrected root cause. inc-3: only rejected.
    store
        .save_investigation(&report("inv-2", incident("inc-2")))
        .await
        .unwrap();
    store
        .save_investigation(&report("inv-3", incident("inc-3")))
        .await
        .unwrap();
    let snapshot = json!({"evidence": [{"id": "ev-1"}], "window": "08:43-08:58"});
    let hash = store
        .save_evidence_snapshot("inv-1", &snapshot, now())
        .await
        .unwrap();
    // Frozen: the same body again is fine, another body is refused.
    assert_eq!(
        store
            .save_evidence_snapshot("inv-1", &snapshot, now())
            .await
            .unwrap(),
        hash
    );
    let err = store
        .save_evidence_snapshot("inv-1", &json!({"evidence": []}), now())
        .await
        .unwrap_err();
    assert!(matches!(err, GovernanceError::Conflict(_)), "{err}");

    let base = NewVerdict {
        investigation_id: "inv-1".into(),
        target: VerdictTarget::Candidate {
            entity: "payments".into(),
        },
        judgement: Judgement::Accepted,
        root_cause_service: None,
        root_cause_entity: None,
        fault_type: None,
        fix: Some("rollback".into()),
        note: None,
    };
    store.record_verdict(&rae, &base, now()).await.unwrap();
    store
        .record_verdict(
            &rae,
            &NewVerdict {
                investigation_id: "inv-2".into(),
                target: VerdictTarget::Investigation,
                judgement: Judgement::Rejected,
                root_cause_service: Some("payments-db".into()),
                root_cause_entity: Some("payments-db-0".into()),
                fault_type: Some("memory".into()),
                ..base.clone()
            },
            now(),
        )
        .await
        .unwrap();
    store
        .record_verdict(
            &rae,
            &NewVerdict {
                investigation_id: "inv-3".into(),
                judgement: Judgement::Rejected,
                ..base.clone()
            },
            now(),
        )
        .await
        .unwrap();

    let out = tempfile::tempdir().unwrap();
    let summary = export_judged_bundles(&store, out.path(), &ExportOptions::default())
        .await
        .unwrap();
    let ids: Vec<&str> = summary
        .exported
        .iter()
        .map(|b| b.incident_id.as_str())
        .collect();
    assert_eq!(ids, ["inc-1", "inc-2"]);
    assert_eq!(summary.skipped.len(), 1);
    assert_eq!(summary.skipped[0].incident_id, "inc-3");

    let read = |dir: &str, file: &str| -> Value {
        let p = out.path().join(dir).join(file);
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
    };
    let truth1 = read("inc-1", "truth.json");
    assert_eq!(truth1["source"], "verdict");
    assert_eq!(truth1["root_cause_service"], "payments");
    assert_eq!(truth1["fault_type"], "exception");
    assert_eq!(truth1["fault_type_rootline"], json!(["exception"]));
    assert_eq!(truth1["judged_by"], "rae");
    assert_eq!(truth1["fix"], "rollback");
    let truth2 = read("inc-2", "truth.json");
    assert_eq!(truth2["root_cause_service"], "payments-db");
    assert_eq!(truth2["root_cause_entity"], "payments-db-0");
    assert_eq!(truth2["fault_type_rootline"], json!(["memory"]));
    let inc: Incident = serde_json::from_value(read("inc-1", "incident.json")).unwrap();
    assert_eq!(inc, incident("inc-1"));
    let ev1 = read("inc-1", "evidence.json");
    assert_eq!(ev1["frozen"], true);
    assert_eq!(ev1["content_hash"], hash);
    assert_eq!(ev1["snapshot"], snapshot);
    let ev2 = read("inc-2", "evidence.json");
    assert_eq!(ev2["frozen"], false);
    assert_eq!(ev2["snapshot"]["candidates"][0]["entity"], "payments");
    store.close().await;
}

/// `token revoke` and `user disable` (#21): the token or every token of the user stops working
/// at once, each change is audited once, repeating it changes nothing, unknown ids are 404s.
async fn tokens_are_revoked_and_users_disabled(db: TestDb) {
    let store = db.connect().await;
    let _ = team(&store).await;
    let a = store
        .create_token("bob", "a", None, LOCAL_ADMIN)
        .await
        .unwrap();
    let b = store
        .create_token("bob", "b", None, LOCAL_ADMIN)
        .await
        .unwrap();
    let c = store
        .create_token("rae", "c", None, LOCAL_ADMIN)
        .await
        .unwrap();
    for t in [&a, &b, &c] {
        assert!(store.authenticate(&t.token).await.unwrap().is_some());
    }
    store.revoke_token(&a.id, LOCAL_ADMIN).await.unwrap();
    assert!(store.authenticate(&a.token).await.unwrap().is_none());
    assert!(store.authenticate(&b.token).await.unwrap().is_some());
    // Again: nothing changes, no second audit entry.
    store.revoke_token(&a.id, LOCAL_ADMIN).await.unwrap();
    let err = store
        .revoke_token("tok_nope", LOCAL_ADMIN)
        .await
        .unwrap_err();
    assert!(matches!(err, GovernanceError::NotFound { .. }), "{err}");

    let bob = store.disable_user("bob", LOCAL_ADMIN).await.unwrap();
    assert!(bob.disabled);
    assert!(store.authenticate(&b.token).await.unwrap().is_none());
    assert!(
        store.authenticate(&c.token).await.unwrap().is_some(),
        "rae untouched"
    );
    assert!(
        store
            .disable_user("bob", LOCAL_ADMIN)
            .await
            .unwrap()
            .disabled
    );
    let err = store.disable_user("nobody", LOCAL_ADMIN).await.unwrap_err();
    assert!(matches!(err, GovernanceError::NotFound { .. }), "{err}");

    let audit = store.list_audit(0, 1000).await.unwrap();
    let count = |event: &str| audit.iter().filter(|e| e.event == event).count();
    assert_eq!(count("token_revoked"), 1);
    assert_eq!(count("user_disabled"), 1);
    assert!(store.verify_audit_chain().await.unwrap().broken.is_none());
}
