//! SRE verdicts on investigations (versioned, insert-only), the hypotheses and frozen evidence
//! snapshots they judge, and the export of judged incidents as evaluation bundles.
//!
//! A verdict judges one target of an investigation: the investigation as a whole, one ranked
//! candidate (by entity) or one stored hypothesis (by id), as accepted, rejected or partly right,
//! with the actual root cause, the fix and a note. Judging a target again adds version n + 1;
//! nothing is overwritten, and the highest version is the current verdict.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rootline_actions::{Actor, Role, canonical_json, sha256_hex};
use rootline_core::{FaultType, Report};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{GovernanceError, NewAudit, append_audit, claim_audit_head};
use crate::{Pool, Store, StoreError, format_time};

/// Longest free-text field (fix, note) accepted, in bytes.
const MAX_TEXT: usize = 16 * 1024;
/// Longest name (entity, service, fault type, target) accepted, in bytes.
const MAX_NAME: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    Accepted,
    Rejected,
    PartlyRight,
}

impl Judgement {
    pub fn as_str(self) -> &'static str {
        match self {
            Judgement::Accepted => "accepted",
            Judgement::Rejected => "rejected",
            Judgement::PartlyRight => "partly_right",
        }
    }

    pub fn parse(s: &str) -> Option<Judgement> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "accepted" | "accept" => Some(Judgement::Accepted),
            "rejected" | "reject" => Some(Judgement::Rejected),
            "partly_right" | "partial" | "partly" => Some(Judgement::PartlyRight),
            _ => None,
        }
    }
}

/// What a verdict judges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VerdictTarget {
    /// The investigation's overall conclusion.
    Investigation,
    /// A ranked candidate of the stored report, by entity.
    Candidate { entity: String },
    /// A stored hypothesis, by id.
    Hypothesis { id: String },
}

impl VerdictTarget {
    fn columns(&self) -> (&'static str, &str) {
        match self {
            VerdictTarget::Investigation => ("investigation", ""),
            VerdictTarget::Candidate { entity } => ("candidate", entity),
            VerdictTarget::Hypothesis { id } => ("hypothesis", id),
        }
    }

    fn from_columns(kind: &str, reference: String) -> Option<VerdictTarget> {
        match kind {
            "investigation" => Some(VerdictTarget::Investigation),
            "candidate" => Some(VerdictTarget::Candidate { entity: reference }),
            "hypothesis" => Some(VerdictTarget::Hypothesis { id: reference }),
            _ => None,
        }
    }
}

/// What the SRE submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewVerdict {
    pub investigation_id: String,
    pub target: VerdictTarget,
    pub judgement: Judgement,
    /// The service actually at fault, when known.
    #[serde(default)]
    pub root_cause_service: Option<String>,
    /// The entity (pod, instance, node…) actually at fault, when known.
    #[serde(default)]
    pub root_cause_entity: Option<String>,
    /// The actual fault type (a rootline fault type name such as `exception`, or free text).
    #[serde(default)]
    pub fault_type: Option<String>,
    #[serde(default)]
    pub fix: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A stored verdict version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub id: String,
    pub investigation_id: String,
    pub incident_id: String,
    pub target: VerdictTarget,
    /// 1, 2, … per (investigation, target); the highest is current.
    pub version: i64,
    pub judgement: Judgement,
    pub root_cause_service: Option<String>,
    pub root_cause_entity: Option<String>,
    pub fault_type: Option<String>,
    pub fix: Option<String>,
    pub note: Option<String>,
    pub author_id: String,
    pub author_name: String,
    pub created_at: String,
}

/// An investigation that re-ran another one's frozen evidence (another model or prompt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayLink {
    /// The replay.
    pub investigation_id: String,
    /// The investigation whose evidence snapshot was replayed.
    pub replay_of: String,
    /// Content hash of that snapshot, as replayed.
    pub snapshot_hash: String,
    pub created_at: String,
}

/// A ranked hypothesis of an investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub id: String,
    pub investigation_id: String,
    /// 1 = first.
    pub rank: i64,
    pub entity: String,
    pub fault_type: Option<String>,
    pub statement: String,
    /// `ranking` or `model`.
    pub source: String,
    pub created_at: String,
}

/// The evidence an investigation used, frozen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceSnapshot {
    pub investigation_id: String,
    pub created_at: String,
    /// SHA-256 hex of the canonical JSON body.
    pub content_hash: String,
    pub body: Value,
}

const SELECT_INVESTIGATION_BODY: &str =
    "SELECT incident_id, body FROM investigations WHERE id = $1";
const CHECK_HYPOTHESIS: &str =
    "SELECT COUNT(*) FROM hypotheses WHERE id = $1 AND investigation_id = $2";
const NEXT_VERDICT_VERSION: &str = "\
SELECT COALESCE(MAX(version), 0) + 1 FROM verdicts
WHERE investigation_id = $1 AND target_kind = $2 AND target_ref = $3";
const INSERT_VERDICT: &str = "\
INSERT INTO verdicts (id, investigation_id, incident_id, target_kind, target_ref, version, judgement,
    root_cause_service, root_cause_entity, fault_type, fix, note, author_id, author_name, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const VERDICT_COLUMNS_BY_INVESTIGATION: &str = "\
SELECT id, investigation_id, incident_id, target_kind, target_ref, version, judgement,
    root_cause_service, root_cause_entity, fault_type, fix, note, author_id, author_name, created_at
FROM verdicts WHERE investigation_id = $1
ORDER BY target_kind, target_ref, version";
const VERDICTS_BY_INCIDENT: &str = "\
SELECT id, investigation_id, incident_id, target_kind, target_ref, version, judgement,
    root_cause_service, root_cause_entity, fault_type, fix, note, author_id, author_name, created_at
FROM verdicts WHERE incident_id = $1
ORDER BY created_at, id";
const JUDGED_INCIDENTS: &str = "SELECT DISTINCT incident_id FROM verdicts ORDER BY incident_id";

const INSERT_HYPOTHESIS: &str = "\
INSERT INTO hypotheses (id, investigation_id, rank, entity, fault_type, statement, source, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO NOTHING";
const LIST_HYPOTHESES: &str = "\
SELECT id, investigation_id, rank, entity, fault_type, statement, source, created_at
FROM hypotheses WHERE investigation_id = $1 ORDER BY rank, id";

const INSERT_SNAPSHOT: &str = "\
INSERT INTO evidence_snapshots (investigation_id, created_at, content_hash, body)
VALUES ($1, $2, $3, $4)
ON CONFLICT (investigation_id) DO NOTHING";
const SELECT_SNAPSHOT: &str = "\
SELECT investigation_id, created_at, content_hash, body FROM evidence_snapshots
WHERE investigation_id = $1";
const SELECT_SNAPSHOT_HASH: &str =
    "SELECT content_hash FROM evidence_snapshots WHERE investigation_id = $1";
const COUNT_INVESTIGATION: &str = "SELECT COUNT(*) FROM investigations WHERE id = $1";
const INSERT_REPLAY: &str = "\
INSERT INTO investigation_replays (investigation_id, replay_of, snapshot_hash, created_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (investigation_id) DO NOTHING";
const SELECT_REPLAY: &str = "\
SELECT investigation_id, replay_of, snapshot_hash, created_at FROM investigation_replays
WHERE investigation_id = $1";
const LIST_REPLAYS: &str = "\
SELECT investigation_id, replay_of, snapshot_hash, created_at FROM investigation_replays
WHERE replay_of = $1 ORDER BY created_at, investigation_id";

type VerdictRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
);
type HypothesisRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
);

fn check_text(field: &str, value: &Option<String>, max: usize) -> Result<(), GovernanceError> {
    if let Some(v) = value {
        if v.len() > max {
            return Err(GovernanceError::Invalid(format!(
                "verdict {field} is over {max} bytes"
            )));
        }
        if max == MAX_NAME && (v.trim().is_empty() || v.chars().any(char::is_control)) {
            return Err(GovernanceError::Invalid(format!(
                "verdict {field} {v:?} is empty or has control characters"
            )));
        }
    }
    Ok(())
}

impl Store {
    /// Records a verdict as the next version for its target. The actor must be a responder or
    /// above (never the agent); the investigation, and the candidate or hypothesis judged, must
    /// exist.
    pub async fn record_verdict(
        &self,
        actor: &Actor,
        new: &NewVerdict,
        now: DateTime<Utc>,
    ) -> Result<Verdict, GovernanceError> {
        actor.require(Role::Responder, "record a verdict")?;
        for (field, value) in [
            ("root_cause_service", &new.root_cause_service),
            ("root_cause_entity", &new.root_cause_entity),
            ("fault_type", &new.fault_type),
        ] {
            check_text(field, value, MAX_NAME)?;
        }
        check_text("fix", &new.fix, MAX_TEXT)?;
        check_text("note", &new.note, MAX_TEXT)?;
        let (kind, reference) = new.target.columns();
        if kind != "investigation" && (reference.is_empty() || reference.len() > MAX_NAME) {
            return Err(GovernanceError::Invalid(format!(
                "verdict target {kind} needs a name of 1 to {MAX_NAME} bytes"
            )));
        }
        let (author_id, author_name) = match actor {
            Actor::User { id, name, .. } => (id.clone(), name.clone()),
            Actor::Agent { .. } => unreachable_agent()?,
        };
        let at = format_time(now);
        let id = format!("vrd_{}", uuid::Uuid::now_v7().simple());
        let inv = new.investigation_id.as_str();
        let verdict = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin record verdict"))?;
            let head = claim_audit_head!(self, tx);
            let row: Option<(String, String)> = sqlx::query_as(SELECT_INVESTIGATION_BODY)
                .bind(inv)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.query_error("get investigation"))?;
            let Some((incident_id, body)) = row else {
                return Err(GovernanceError::NotFound { what: "investigation", id: inv.to_owned() });
            };
            match &new.target {
                VerdictTarget::Investigation => {}
                VerdictTarget::Candidate { entity } => {
                    let report: Report = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                        table: "investigations",
                        id: inv.to_owned(),
                        reason: format!("report is not valid json: {e}"),
                    })?;
                    if !report.candidates.iter().any(|c| &c.entity == entity) {
                        return Err(GovernanceError::NotFound {
                            what: "candidate",
                            id: format!("{entity} in investigation {inv}"),
                        });
                    }
                }
                VerdictTarget::Hypothesis { id: hid } => {
                    let n: i64 = sqlx::query_scalar(CHECK_HYPOTHESIS)
                        .bind(hid.as_str())
                        .bind(inv)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(self.query_error("check hypothesis"))?;
                    if n == 0 {
                        return Err(GovernanceError::NotFound {
                            what: "hypothesis",
                            id: format!("{hid} in investigation {inv}"),
                        });
                    }
                }
            }
            let version: i64 = sqlx::query_scalar(NEXT_VERDICT_VERSION)
                .bind(inv)
                .bind(kind)
                .bind(reference)
                .fetch_one(&mut *tx)
                .await
                .map_err(self.query_error("next verdict version"))?;
            let verdict = Verdict {
                id: id.clone(),
                investigation_id: inv.to_owned(),
                incident_id,
                target: new.target.clone(),
                version,
                judgement: new.judgement,
                root_cause_service: new.root_cause_service.clone(),
                root_cause_entity: new.root_cause_entity.clone(),
                fault_type: new.fault_type.clone(),
                fix: new.fix.clone(),
                note: new.note.clone(),
                author_id: author_id.clone(),
                author_name: author_name.clone(),
                created_at: at.clone(),
            };
            sqlx::query(INSERT_VERDICT)
                .bind(verdict.id.as_str())
                .bind(inv)
                .bind(verdict.incident_id.as_str())
                .bind(kind)
                .bind(reference)
                .bind(version)
                .bind(new.judgement.as_str())
                .bind(new.root_cause_service.as_deref())
                .bind(new.root_cause_entity.as_deref())
                .bind(new.fault_type.as_deref())
                .bind(new.fix.as_deref())
                .bind(new.note.as_deref())
                .bind(author_id.as_str())
                .bind(author_name.as_str())
                .bind(at.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        GovernanceError::Conflict(format!(
                            "another verdict on {kind} {reference:?} of investigation {inv} was recorded at the same time; try again"
                        ))
                    } else {
                        self.query_error("insert verdict")(e).into()
                    }
                })?;
            let audit = NewAudit::new(
                author_name.as_str(),
                "verdict_recorded",
                format!("investigation:{inv}"),
                serde_json::to_value(&verdict).unwrap_or(Value::Null),
            );
            append_audit!(self, tx, head, audit, at.clone());
            tx.commit().await.map_err(self.query_error("commit verdict"))?;
            verdict
        });
        Ok(verdict)
    }

    /// Every verdict version on an investigation, by target then version.
    pub async fn list_verdicts(&self, investigation_id: &str) -> Result<Vec<Verdict>, StoreError> {
        let rows: Vec<VerdictRow> = with_pool!(self, pool => {
            sqlx::query_as(VERDICT_COLUMNS_BY_INVESTIGATION)
                .bind(investigation_id)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list verdicts"))?
        });
        rows.into_iter().map(verdict_from_row).collect()
    }

    /// The current (highest-version) verdict per target of an investigation.
    pub async fn current_verdicts(
        &self,
        investigation_id: &str,
    ) -> Result<Vec<Verdict>, StoreError> {
        Ok(latest_per_target(
            self.list_verdicts(investigation_id).await?,
        ))
    }

    /// Stores hypotheses; an id already stored is left as it is.
    pub async fn save_hypotheses(&self, hypotheses: &[Hypothesis]) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin save hypotheses"))?;
            for h in hypotheses {
                sqlx::query(INSERT_HYPOTHESIS)
                    .bind(h.id.as_str())
                    .bind(h.investigation_id.as_str())
                    .bind(h.rank)
                    .bind(h.entity.as_str())
                    .bind(h.fault_type.as_deref())
                    .bind(h.statement.as_str())
                    .bind(h.source.as_str())
                    .bind(crate::normalize_time("created_at", &h.created_at)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.query_error("save hypothesis"))?;
            }
            tx.commit().await.map_err(self.query_error("commit hypotheses"))?;
        });
        Ok(())
    }

    pub async fn list_hypotheses(
        &self,
        investigation_id: &str,
    ) -> Result<Vec<Hypothesis>, StoreError> {
        let rows: Vec<HypothesisRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_HYPOTHESES)
                .bind(investigation_id)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list hypotheses"))?
        });
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    investigation_id,
                    rank,
                    entity,
                    fault_type,
                    statement,
                    source,
                    created_at,
                )| {
                    Hypothesis {
                        id,
                        investigation_id,
                        rank,
                        entity,
                        fault_type,
                        statement,
                        source,
                        created_at,
                    }
                },
            )
            .collect())
    }

    /// Freezes the evidence an investigation used. A snapshot is written once: saving the same
    /// body again is a no-op, a different body is a [`GovernanceError::Conflict`]. Returns the
    /// body's content hash.
    pub async fn save_evidence_snapshot(
        &self,
        investigation_id: &str,
        body: &Value,
        now: DateTime<Utc>,
    ) -> Result<String, GovernanceError> {
        let text = canonical_json(body);
        let hash = sha256_hex(text.as_bytes());
        with_pool!(self, pool => {
            sqlx::query(INSERT_SNAPSHOT)
                .bind(investigation_id)
                .bind(format_time(now))
                .bind(hash.as_str())
                .bind(text.as_str())
                .execute(pool)
                .await
                .map_err(self.query_error("save evidence snapshot"))?;
        });
        match self.get_evidence_snapshot(investigation_id).await? {
            Some(s) if s.content_hash == hash => Ok(hash),
            Some(s) => Err(GovernanceError::Conflict(format!(
                "investigation {investigation_id} already has a frozen evidence snapshot ({}); snapshots never change",
                s.content_hash
            ))),
            None => Err(GovernanceError::NotFound {
                what: "investigation",
                id: investigation_id.to_owned(),
            }),
        }
    }

    pub async fn get_evidence_snapshot(
        &self,
        investigation_id: &str,
    ) -> Result<Option<EvidenceSnapshot>, StoreError> {
        let row: Option<(String, String, String, String)> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_SNAPSHOT)
                .bind(investigation_id)
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("get evidence snapshot"))?
        });
        row.map(|(investigation_id, created_at, content_hash, body)| {
            let body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                table: "evidence_snapshots",
                id: investigation_id.clone(),
                reason: format!("body is not valid json: {e}"),
            })?;
            Ok(EvidenceSnapshot {
                investigation_id,
                created_at,
                content_hash,
                body,
            })
        })
        .transpose()
    }

    /// Links the stored investigation `investigation_id` to the investigation whose frozen
    /// evidence it replayed. Both must be stored, `replay_of` must have a snapshot whose hash is
    /// `snapshot_hash`, and a link is written once: the same link again is a no-op, another one
    /// a [`GovernanceError::Conflict`].
    pub async fn record_replay(
        &self,
        investigation_id: &str,
        replay_of: &str,
        snapshot_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<ReplayLink, GovernanceError> {
        if investigation_id == replay_of {
            return Err(GovernanceError::Invalid(format!(
                "investigation {investigation_id} cannot be a replay of itself"
            )));
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin record replay"))?;
            let n: i64 = sqlx::query_scalar(COUNT_INVESTIGATION)
                .bind(investigation_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(self.query_error("check replay investigation"))?;
            if n == 0 {
                return Err(GovernanceError::NotFound {
                    what: "investigation",
                    id: investigation_id.to_owned(),
                });
            }
            let frozen: Option<String> = sqlx::query_scalar(SELECT_SNAPSHOT_HASH)
                .bind(replay_of)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.query_error("check replayed snapshot"))?;
            match frozen {
                None => {
                    return Err(GovernanceError::NotFound {
                        what: "evidence snapshot of investigation",
                        id: replay_of.to_owned(),
                    });
                }
                Some(h) if h != snapshot_hash => {
                    return Err(GovernanceError::Invalid(format!(
                        "snapshot hash {snapshot_hash} is not the frozen snapshot of investigation {replay_of} ({h})"
                    )));
                }
                Some(_) => {}
            }
            sqlx::query(INSERT_REPLAY)
                .bind(investigation_id)
                .bind(replay_of)
                .bind(snapshot_hash)
                .bind(format_time(now))
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("insert replay link"))?;
            tx.commit().await.map_err(self.query_error("commit replay link"))?;
        });
        match self.replay_link(investigation_id).await? {
            Some(l) if l.replay_of == replay_of && l.snapshot_hash == snapshot_hash => Ok(l),
            Some(l) => Err(GovernanceError::Conflict(format!(
                "investigation {investigation_id} is already a replay of {}; links never change",
                l.replay_of
            ))),
            None => Err(GovernanceError::NotFound {
                what: "investigation",
                id: investigation_id.to_owned(),
            }),
        }
    }

    /// What `investigation_id` is a replay of, if it is one.
    pub async fn replay_link(
        &self,
        investigation_id: &str,
    ) -> Result<Option<ReplayLink>, StoreError> {
        let row: Option<ReplayRow> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_REPLAY)
                .bind(investigation_id)
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("get replay link"))?
        });
        Ok(row.map(replay_from_row))
    }

    /// Every replay of an investigation, oldest first.
    pub async fn list_replays(&self, replay_of: &str) -> Result<Vec<ReplayLink>, StoreError> {
        let rows: Vec<ReplayRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_REPLAYS)
                .bind(replay_of)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list replays"))?
        });
        Ok(rows.into_iter().map(replay_from_row).collect())
    }

    /// Ids of every incident with at least one verdict.
    pub async fn judged_incidents(&self) -> Result<Vec<String>, StoreError> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(JUDGED_INCIDENTS)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list judged incidents"))?
        }))
    }

    /// Every verdict version on any investigation of the incident, oldest first.
    pub async fn incident_verdicts(&self, incident_id: &str) -> Result<Vec<Verdict>, StoreError> {
        let rows: Vec<VerdictRow> = with_pool!(self, pool => {
            sqlx::query_as(VERDICTS_BY_INCIDENT)
                .bind(incident_id)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list incident verdicts"))?
        });
        rows.into_iter().map(verdict_from_row).collect()
    }
}

type ReplayRow = (String, String, String, String);

fn replay_from_row(
    (investigation_id, replay_of, snapshot_hash, created_at): ReplayRow,
) -> ReplayLink {
    ReplayLink {
        investigation_id,
        replay_of,
        snapshot_hash,
        created_at,
    }
}

fn unreachable_agent<T>() -> Result<T, GovernanceError> {
    // `require(Responder)` above already refused the agent; keep a refusal, not a panic.
    Err(GovernanceError::Invalid(
        "the agent cannot record verdicts".into(),
    ))
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// Highest version per (investigation, target).
pub(crate) fn latest_per_target(verdicts: Vec<Verdict>) -> Vec<Verdict> {
    let mut latest: BTreeMap<(String, String, String), Verdict> = BTreeMap::new();
    for v in verdicts {
        let (kind, reference) = v.target.columns();
        let key = (
            v.investigation_id.clone(),
            kind.to_owned(),
            reference.to_owned(),
        );
        match latest.get(&key) {
            Some(cur) if cur.version >= v.version => {}
            _ => {
                latest.insert(key, v);
            }
        }
    }
    latest.into_values().collect()
}

fn verdict_from_row(row: VerdictRow) -> Result<Verdict, StoreError> {
    let (
        id,
        investigation_id,
        incident_id,
        kind,
        reference,
        version,
        judgement,
        root_cause_service,
        root_cause_entity,
        fault_type,
        fix,
        note,
        author_id,
        author_name,
        created_at,
    ) = row;
    let corrupt = |reason: String| StoreError::Corrupt {
        table: "verdicts",
        id: id.clone(),
        reason,
    };
    let target = VerdictTarget::from_columns(&kind, reference)
        .ok_or_else(|| corrupt(format!("unknown target kind {kind:?}")))?;
    let judgement = Judgement::parse(&judgement)
        .ok_or_else(|| corrupt(format!("unknown judgement {judgement:?}")))?;
    Ok(Verdict {
        id,
        investigation_id,
        incident_id,
        target,
        version,
        judgement,
        root_cause_service,
        root_cause_entity,
        fault_type,
        fix,
        note,
        author_id,
        author_name,
        created_at,
    })
}

// ---- export as evaluation bundles ----

/// Where to find the data (logs, metrics, traces, changes) of judged incidents.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Directories searched (up to 4 levels deep) for incident bundles; a bundle whose
    /// `incident.json` has the judged incident's id lends its data directories to the export.
    pub data_roots: Vec<PathBuf>,
}

/// What [`export_judged_bundles`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub exported: Vec<ExportedBundle>,
    /// Judged incidents with no usable truth, and why.
    pub skipped: Vec<SkippedIncident>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedBundle {
    pub incident_id: String,
    pub dir: PathBuf,
    /// The `truth.json` written.
    pub truth: Value,
    /// The bundle whose data directories were copied in, if one was found.
    pub data_from: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedIncident {
    pub incident_id: String,
    pub reason: String,
}

/// Data directories an investigation reads, copied from the source bundle when found.
const DATA_DIRS: [&str; 6] = ["logs", "metrics", "traces", "changes", "configs", "k8s"];

/// Writes every judged incident under `out_dir` as an incident bundle in the importers' format:
///
/// - `incident.json`: the stored incident;
/// - `truth.json`: the accepted or corrected root cause (`root_cause_service` and/or
///   `root_cause_entity`, `fault_type`, `fault_type_rootline` when it names a rootline fault
///   type), `source: "verdict"`, the verdict ids and authors;
/// - `evidence.json`: the frozen evidence snapshot of the judged investigation (or, when none was
///   frozen, the evidence, stats and candidates of its stored report);
/// - `logs/`, `metrics/`, … copied from the incident's original bundle when one is found under
///   [`ExportOptions::data_roots`]; without them an investigation of the bundle has no data.
///
/// The truth is, from the newest current verdict that gives one: an explicitly recorded root
/// cause; else the entity and fault type of an accepted candidate or hypothesis, or of the top
/// candidate when the whole investigation was accepted. Incidents whose verdicts give none
/// (only rejections without a correction) are skipped and listed.
pub async fn export_judged_bundles(
    store: &Store,
    out_dir: &Path,
    options: &ExportOptions,
) -> Result<ExportSummary, GovernanceError> {
    let io = |path: &Path, e: std::io::Error| {
        GovernanceError::Io(format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(out_dir).map_err(|e| io(out_dir, e))?;
    let sources = find_source_bundles(&options.data_roots);
    let mut summary = ExportSummary::default();
    for incident_id in store.judged_incidents().await? {
        let Some(incident) = store.get_incident(&incident_id).await? else {
            summary.skipped.push(SkippedIncident {
                incident_id,
                reason: "the incident is no longer stored".into(),
            });
            continue;
        };
        let current = latest_per_target(store.incident_verdicts(&incident_id).await?);
        let mut reports: HashMap<String, Option<Report>> = HashMap::new();
        for v in &current {
            if !reports.contains_key(&v.investigation_id) {
                let r = store.get_investigation(&v.investigation_id).await?;
                reports.insert(v.investigation_id.clone(), r);
            }
        }
        let mut hypotheses: HashMap<String, Hypothesis> = HashMap::new();
        for inv in reports.keys() {
            for h in store.list_hypotheses(inv).await? {
                hypotheses.insert(h.id.clone(), h);
            }
        }
        let mut newest_first = current.clone();
        newest_first.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let Some((verdict, truth)) = newest_first.iter().find_map(|v| {
            let report = reports.get(&v.investigation_id).and_then(Option::as_ref);
            truth_of(v, report, &hypotheses).map(|t| (v, t))
        }) else {
            summary.skipped.push(SkippedIncident {
                incident_id,
                reason: "no verdict accepts a candidate or records the actual root cause".into(),
            });
            continue;
        };
        let dir = out_dir.join(dir_name(&incident_id));
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let write = |name: &str, value: &Value| -> Result<(), GovernanceError> {
            let path = dir.join(name);
            let text = serde_json::to_string_pretty(value)
                .map_err(|e| GovernanceError::Invalid(format!("{}: {e}", path.display())))?;
            std::fs::write(&path, text + "\n").map_err(|e| io(&path, e))
        };
        let incident_json = serde_json::to_value(&incident)
            .map_err(|e| GovernanceError::Invalid(format!("incident {incident_id}: {e}")))?;
        write("incident.json", &incident_json)?;
        let mut truth = truth;
        truth["case_id"] = json!(incident_id);
        truth["verdict_id"] = json!(verdict.id);
        truth["investigation_id"] = json!(verdict.investigation_id);
        truth["judged_by"] = json!(verdict.author_name);
        truth["judged_at"] = json!(verdict.created_at);
        if let Some(fix) = &verdict.fix {
            truth["fix"] = json!(fix);
        }
        write("truth.json", &truth)?;
        let evidence = match store
            .get_evidence_snapshot(&verdict.investigation_id)
            .await?
        {
            Some(s) => json!({
                "investigation_id": s.investigation_id,
                "frozen": true,
                "content_hash": s.content_hash,
                "snapshot": s.body,
            }),
            None => {
                let report = reports
                    .get(&verdict.investigation_id)
                    .and_then(Option::as_ref);
                json!({
                    "investigation_id": verdict.investigation_id,
                    "frozen": false,
                    "snapshot": report.map(|r| json!({
                        "stats": r.stats,
                        "evidence": r.evidence,
                        "candidates": r.candidates,
                    })),
                })
            }
        };
        write("evidence.json", &evidence)?;
        let data_from = sources.get(&incident_id).cloned();
        if let Some(src) = &data_from {
            for name in DATA_DIRS {
                let from = src.join(name);
                if from.is_dir() {
                    copy_dir(&from, &dir.join(name)).map_err(|e| io(&dir.join(name), e))?;
                }
            }
        }
        summary.exported.push(ExportedBundle {
            incident_id,
            dir,
            truth,
            data_from,
        });
    }
    Ok(summary)
}

/// The truth a verdict gives, if any.
pub(crate) fn truth_of(
    v: &Verdict,
    report: Option<&Report>,
    hypotheses: &HashMap<String, Hypothesis>,
) -> Option<Value> {
    let mut truth = json!({"source": "verdict", "judgement": v.judgement.as_str()});
    let (service, entity, fault) =
        if v.root_cause_service.is_some() || v.root_cause_entity.is_some() {
            (
                v.root_cause_service.clone(),
                v.root_cause_entity.clone(),
                v.fault_type.clone(),
            )
        } else if v.judgement == Judgement::Accepted {
            // The accepted thing's own entity and fault type (ranked entities are services).
            let (entity, fault) = match &v.target {
                VerdictTarget::Candidate { entity } => {
                    let fault = report
                        .and_then(|r| r.candidates.iter().find(|c| &c.entity == entity))
                        .map(|c| c.fault_type.as_str().to_owned());
                    (entity.clone(), fault)
                }
                VerdictTarget::Hypothesis { id } => {
                    let h = hypotheses.get(id)?;
                    (h.entity.clone(), h.fault_type.clone())
                }
                VerdictTarget::Investigation => {
                    let top = report?.candidates.first()?;
                    (top.entity.clone(), Some(top.fault_type.as_str().to_owned()))
                }
            };
            (
                Some(entity.clone()),
                Some(entity),
                v.fault_type.clone().or(fault),
            )
        } else {
            return None;
        };
    if let Some(s) = service {
        truth["root_cause_service"] = json!(s);
    }
    if let Some(e) = entity {
        truth["root_cause_entity"] = json!(e);
    }
    if let Some(f) = fault {
        if let Ok(ft) = serde_json::from_value::<FaultType>(json!(f)) {
            truth["fault_type_rootline"] = json!([ft.as_str()]);
        }
        truth["fault_type"] = json!(f);
    }
    Some(truth)
}

/// A directory name for an incident id: safe characters kept, others `_`.
fn dir_name(id: &str) -> String {
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        format!("incident_{name}")
    } else {
        name
    }
}

/// Incident id → bundle directory, for every `incident.json` found under the roots.
fn find_source_bundles(roots: &[PathBuf]) -> HashMap<String, PathBuf> {
    fn walk(dir: &Path, depth: usize, out: &mut HashMap<String, PathBuf>) {
        let incident = dir.join("incident.json");
        if incident.is_file() {
            let id = std::fs::read_to_string(&incident)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["id"].as_str().map(str::to_owned));
            if let Some(id) = id {
                out.entry(id).or_insert_with(|| dir.to_path_buf());
            }
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            walk(&d, depth - 1, out);
        }
    }
    let mut out = HashMap::new();
    for root in roots {
        walk(root, 4, &mut out);
    }
    out
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}
