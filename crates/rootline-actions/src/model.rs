//! The values the rules work on: roles, actors, action content and its hash, the action state
//! machine, stored actions and approvals.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Refusal;

/// What a user may do. Each role includes the ones before it:
/// viewer (read) < responder (verdicts, propose actions, trigger execution of approved ones)
/// < approver (approve and reject actions) < admin (users and tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Responder,
    Approver,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Responder, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown role {s:?}: expected viewer, responder, approver or admin")
            })
    }
}

/// What a credential may be used for: each HTTP route needs one scope (`rootline-server`'s
/// `auth.rs` holds the table). A token carries a subset of its user's role's scopes, so a
/// collector gets an ingest-only token and a dashboard a read-only one; the role checks of the
/// governance rules still apply on top (an `approve` scope does not make a responder an
/// approver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Send telemetry, change events and config versions (the ingest API, OTLP, changes).
    Ingest,
    /// Read incidents, investigations, changes, configs, verdicts, actions, the audit log and
    /// the timeline pages.
    Read,
    /// Run investigations (the API, the Alertmanager receiver).
    Investigate,
    /// Record verdicts.
    Verdict,
    /// Propose, revise and execute actions (execution still needs the approvals).
    Act,
    /// Approve and reject actions.
    Approve,
    /// Everything, including what later admin routes add.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Scope::Ingest,
        Scope::Read,
        Scope::Investigate,
        Scope::Verdict,
        Scope::Act,
        Scope::Approve,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Investigate => "investigate",
            Scope::Verdict => "verdict",
            Scope::Act => "act",
            Scope::Approve => "approve",
            Scope::Admin => "admin",
        }
    }

    /// The least role whose tokens may carry this scope.
    pub fn least_role(self) -> Role {
        match self {
            Scope::Read => Role::Viewer,
            Scope::Ingest | Scope::Investigate | Scope::Verdict | Scope::Act => Role::Responder,
            Scope::Approve => Role::Approver,
            Scope::Admin => Role::Admin,
        }
    }
}

impl Role {
    /// The scopes a token of this role carries unless created with fewer.
    pub fn default_scopes(self) -> Vec<Scope> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.allows(s.least_role()))
            .collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Scope, String> {
        Scope::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown scope {s:?}: expected ingest, read, investigate, verdict, act, approve or admin"
                )
            })
    }
}

/// Who does something. A user comes from an authenticated token (or the local CLI); the agent
/// is the investigation pipeline, which may propose actions but never approve or run them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    User {
        id: String,
        name: String,
        role: Role,
    },
    Agent {
        name: String,
    },
}

impl Actor {
    pub fn agent() -> Actor {
        Actor::Agent {
            name: "rootline-agent".to_owned(),
        }
    }

    /// A stable identity: the user id, or `agent:<name>`.
    pub fn id(&self) -> String {
        match self {
            Actor::User { id, .. } => id.clone(),
            Actor::Agent { name } => format!("agent:{name}"),
        }
    }

    /// What logs and listings show.
    pub fn name(&self) -> String {
        match self {
            Actor::User { name, .. } => name.clone(),
            Actor::Agent { name } => format!("agent:{name}"),
        }
    }

    pub fn is_agent(&self) -> bool {
        matches!(self, Actor::Agent { .. })
    }

    /// Refuses unless the actor is a user whose role includes `needed`.
    pub fn require(&self, needed: Role, operation: &'static str) -> Result<(), Refusal> {
        match self {
            Actor::User { role, .. } if role.allows(needed) => Ok(()),
            Actor::User { name, role, .. } => Err(Refusal::Forbidden {
                actor: name.clone(),
                operation,
                reason: format!("role {role} lacks {needed}"),
            }),
            Actor::Agent { name } => Err(Refusal::Forbidden {
                actor: format!("agent:{name}"),
                operation,
                reason: "the agent may only propose actions".into(),
            }),
        }
    }
}

/// What an action would do: the exact content an approval is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionContent {
    /// What kind of change, e.g. `restart`, `rollback`, `scale`, `config_change`, `runbook`.
    pub kind: String,
    /// What it acts on, e.g. a service or deployment name.
    pub target: String,
    /// One line for humans.
    pub summary: String,
    /// Executor-specific parameters (a JSON object or null).
    #[serde(default)]
    pub params: Value,
}

/// Longest `kind` / `target` accepted, in bytes.
const MAX_NAME_LEN: usize = 256;
/// Largest canonical content accepted, in bytes.
const MAX_CONTENT_BYTES: usize = 64 * 1024;

impl ActionContent {
    /// Checks the fields a proposal must have.
    pub fn validate(&self) -> Result<(), Refusal> {
        let bad = |m: String| Err(Refusal::InvalidContent(m));
        for (field, value) in [("kind", &self.kind), ("target", &self.target)] {
            if value.trim().is_empty() {
                return bad(format!("action {field} is empty"));
            }
            if value.len() > MAX_NAME_LEN || value.chars().any(char::is_control) {
                return bad(format!(
                    "action {field} must be at most {MAX_NAME_LEN} bytes without control characters"
                ));
            }
        }
        if self.summary.trim().is_empty() {
            return bad("action summary is empty".into());
        }
        if !(self.params.is_object() || self.params.is_null()) {
            return bad("action params must be a json object".into());
        }
        if self.canonical_json().len() > MAX_CONTENT_BYTES {
            return bad(format!("action content is over {MAX_CONTENT_BYTES} bytes"));
        }
        Ok(())
    }

    /// The content as canonical JSON (sorted keys, no whitespace): what the hash covers.
    pub fn canonical_json(&self) -> String {
        let value = serde_json::json!({
            "kind": self.kind,
            "target": self.target,
            "summary": self.summary,
            "params": self.params,
        });
        canonical_json(&value)
    }

    /// SHA-256 (hex) of [`ActionContent::canonical_json`]. Any change to any field, including
    /// inside `params`, changes it.
    pub fn hash(&self) -> String {
        sha256_hex(self.canonical_json().as_bytes())
    }
}

/// JSON with object keys sorted bytewise at every level and no insignificant whitespace, so
/// that equal values always give equal text whatever order their maps were built in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        // Scalars have one serde_json text form already.
        other => out.push_str(&other.to_string()),
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Where an action is in its life:
///
/// ```text
/// proposed ──► approved ──► executing ──► succeeded
///    │  ▲         │                  └──► failed
///    │  └─────────┤ (content revised: approvals void)
///    ├──► rejected ◄┤
///    └──► expired ◄─┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionState {
    Proposed,
    Approved,
    Executing,
    Succeeded,
    Failed,
    Rejected,
    Expired,
}

impl ActionState {
    pub const ALL: [ActionState; 7] = [
        ActionState::Proposed,
        ActionState::Approved,
        ActionState::Executing,
        ActionState::Succeeded,
        ActionState::Failed,
        ActionState::Rejected,
        ActionState::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionState::Proposed => "proposed",
            ActionState::Approved => "approved",
            ActionState::Executing => "executing",
            ActionState::Succeeded => "succeeded",
            ActionState::Failed => "failed",
            ActionState::Rejected => "rejected",
            ActionState::Expired => "expired",
        }
    }

    /// No transition leaves a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ActionState::Succeeded
                | ActionState::Failed
                | ActionState::Rejected
                | ActionState::Expired
        )
    }

    /// Whether the state machine has the edge `self → to`.
    pub fn can_become(self, to: ActionState) -> bool {
        use ActionState::*;
        matches!(
            (self, to),
            (Proposed, Approved | Rejected | Expired)
                | (Approved, Executing | Rejected | Expired | Proposed)
                | (Executing, Succeeded | Failed)
        )
    }

    /// [`ActionState::can_become`] as a refusal naming both ends.
    pub fn transition(self, to: ActionState) -> Result<ActionState, Refusal> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(Refusal::InvalidTransition { from: self, to })
        }
    }
}

impl fmt::Display for ActionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActionState {
    type Err = String;

    fn from_str(s: &str) -> Result<ActionState, String> {
        ActionState::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown action state {s:?}"))
    }
}

/// A stored action, as the rules see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub incident_id: Option<String>,
    pub investigation_id: Option<String>,
    pub content: ActionContent,
    /// The hash stored with the content. The rules recompute it from `content` and refuse when
    /// the two differ (the row was edited behind rootline's back).
    pub content_hash: String,
    pub state: ActionState,
    /// Bumped by every change; updates are conditional on it.
    pub version: i64,
    pub proposed_by: Actor,
    /// Distinct approvers needed (2 = two-person rule).
    pub required_approvals: u32,
    pub created_at: DateTime<Utc>,
    /// Approving and starting execution are refused from this moment on.
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the executor reported, once it ran.
    pub result: Option<ExecutionOutcome>,
}

/// One approver's approval of one exact content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub action_id: String,
    pub approver_id: String,
    pub approver_name: String,
    /// The content hash the approver saw; the approval counts only while the action still has it.
    pub content_hash: String,
    pub approved_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What an executor reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionOutcome {
    pub success: bool,
    /// Name of the executor that ran it (`dry_run`, `webhook`).
    pub executor: String,
    /// One line for humans.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"z": [1, {"y": 2, "x": "é\n"}], "c": null}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":null,"z":[1,{"x":"é\n","y":2}]},"b":1}"#
        );
    }

    #[test]
    fn hash_covers_every_field() {
        let base = ActionContent {
            kind: "restart".into(),
            target: "payments".into(),
            summary: "restart payments".into(),
            params: json!({"replicas": 3, "namespace": "prod"}),
        };
        let h = base.hash();
        assert_eq!(h.len(), 64);
        // Same content built in another key order: same hash.
        let reordered = ActionContent {
            params: json!({"namespace": "prod", "replicas": 3}),
            ..base.clone()
        };
        assert_eq!(reordered.hash(), h);
        for changed in [
            ActionContent {
                kind: "rollback".into(),
                ..base.clone()
            },
            ActionContent {
                target: "payment".into(),
                ..base.clone()
            },
            ActionContent {
                summary: "restart payments now".into(),
                ..base.clone()
            },
            ActionContent {
                params: json!({"replicas": 4, "namespace": "prod"}),
                ..base.clone()
            },
        ] {
            assert_ne!(changed.hash(), h, "{changed:?}");
        }
    }

    #[test]
    fn state_machine_edges() {
        use ActionState::*;
        let allowed = [
            (Proposed, Approved),
            (Proposed, Rejected),
            (Proposed, Expired),
            (Approved, Executing),
            (Approved, Rejected),
            (Approved, Expired),
            (Approved, Proposed),
            (Executing, Succeeded),
            (Executing, Failed),
        ];
        for from in ActionState::ALL {
            for to in ActionState::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                assert_eq!(from.transition(to).is_ok(), expected);
            }
            if from.is_terminal() {
                assert!(ActionState::ALL.iter().all(|&to| !from.can_become(to)));
            }
            assert_eq!(from.as_str().parse::<ActionState>(), Ok(from));
        }
    }

    #[test]
    fn roles_are_ordered_and_parse() {
        assert!(Role::Admin.allows(Role::Approver));
        assert!(Role::Approver.allows(Role::Responder));
        assert!(!Role::Responder.allows(Role::Approver));
        assert!(!Role::Viewer.allows(Role::Responder));
        assert_eq!("Approver".parse::<Role>(), Ok(Role::Approver));
        assert!("root".parse::<Role>().unwrap_err().contains("root"));
        assert_eq!(Role::Viewer.default_scopes(), vec![Scope::Read]);
        assert!(!Role::Responder.default_scopes().contains(&Scope::Approve));
        assert!(Role::Responder.default_scopes().contains(&Scope::Ingest));
        assert!(Role::Approver.default_scopes().contains(&Scope::Approve));
        assert!(!Role::Approver.default_scopes().contains(&Scope::Admin));
        assert_eq!(Role::Admin.default_scopes(), Scope::ALL.to_vec());
        assert_eq!(" Ingest".parse::<Scope>(), Ok(Scope::Ingest));
        assert!("write".parse::<Scope>().unwrap_err().contains("write"));
    }

    #[test]
    fn content_validation() {
        let ok = ActionContent {
            kind: "restart".into(),
            target: "payments".into(),
            summary: "restart".into(),
            params: Value::Null,
        };
        assert!(ok.validate().is_ok());
        for bad in [
            ActionContent {
                kind: " ".into(),
                ..ok.clone()
            },
            ActionContent {
                target: "a\nb".into(),
                ..ok.clone()
            },
            ActionContent {
                summary: String::new(),
                ..ok.clone()
            },
            ActionContent {
                params: json!([1]),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Refusal::InvalidContent(_))),
                "{bad:?}"
            );
        }
    }
}
