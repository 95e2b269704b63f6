//! The audit log: an append-only, hash-chained record of every verdict, proposal, approval,
//! rejection, refusal and execution, and the check that the chain is intact.
//!
//! Row `n` stores `hash = sha256_hex(prev_hash || canonical_json({seq, at, actor, event,
//! subject, details}))` with `prev_hash` the hash of row `n - 1` (64 zeros for row 1). Editing,
//! inserting or deleting a row without recomputing every later hash breaks the chain at that
//! row; the `audit_head` row (the tip's seq and hash) also catches a deleted tail. Triggers
//! refuse UPDATE and DELETE on `audit_log`, so only someone who drops them can edit it at all.
//!
//! Every audited transaction claims the head first (`UPDATE audit_head … RETURNING`): on
//! PostgreSQL the row lock serialises concurrent appends and the decisions made after it, and
//! on SQLite the first write takes the database's write lock before anything is read, so no
//! transaction decides on a snapshot that a concurrent one has already changed.

use rootline_actions::{Refusal, canonical_json, sha256_hex};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Pool, Store, StoreError};

/// `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Rows read per page by [`Store::verify_audit_chain`].
const VERIFY_PAGE: i64 = 1000;

/// Why a governance operation (users, tokens, verdicts, actions) failed.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rule refused. Refusals that matter for the record are in the audit log.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("no {what} with id {id:?}")]
    NotFound { what: &'static str, id: String },
    /// Malformed input; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A concurrent change won, or a unique name is taken; retrying may succeed.
    #[error("{0}")]
    Conflict(String),
    /// A file could not be written (export); the message names the path.
    #[error("{0}")]
    Io(String),
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    /// Who did it: a user name, `agent:…`, or `cli:local` for local administration.
    pub actor: String,
    /// What happened, e.g. `verdict_recorded`, `action_approved`, `action_execution_refused`.
    pub event: String,
    /// What it happened to, e.g. `action:<id>`, `investigation:<id>`, `user:<name>`.
    pub subject: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    /// Rows checked.
    pub rows: u64,
    /// The tip's hash as recorded in `audit_head` (anchor it elsewhere to detect a rewrite of
    /// the whole chain).
    pub head_hash: String,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

impl AuditVerification {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// The first row that does not check out.
    pub seq: i64,
    pub reason: String,
}

/// An audit row before it is sealed into the chain.
#[derive(Debug, Clone)]
pub(crate) struct NewAudit {
    pub actor: String,
    pub event: &'static str,
    pub subject: String,
    pub details: Value,
}

impl NewAudit {
    pub fn new(
        actor: impl Into<String>,
        event: &'static str,
        subject: impl Into<String>,
        details: Value,
    ) -> NewAudit {
        NewAudit {
            actor: actor.into(),
            event,
            subject: subject.into(),
            details,
        }
    }

    /// The row at `seq` after `prev_hash`, with its hash.
    pub fn seal(&self, seq: i64, at: String, prev_hash: String) -> AuditEntry {
        let hash = row_hash(
            seq,
            &at,
            &self.actor,
            self.event,
            &self.subject,
            &self.details,
            &prev_hash,
        );
        AuditEntry {
            seq,
            at,
            actor: self.actor.clone(),
            event: self.event.to_owned(),
            subject: self.subject.clone(),
            details: self.details.clone(),
            prev_hash,
            hash,
        }
    }
}

/// `sha256_hex(prev_hash || canonical_json(row))`.
fn row_hash(
    seq: i64,
    at: &str,
    actor: &str,
    event: &str,
    subject: &str,
    details: &Value,
    prev_hash: &str,
) -> String {
    let row = json!({
        "seq": seq,
        "at": at,
        "actor": actor,
        "event": event,
        "subject": subject,
        "details": details,
    });
    let mut text = String::with_capacity(prev_hash.len() + 256);
    text.push_str(prev_hash);
    text.push_str(&canonical_json(&row));
    sha256_hex(text.as_bytes())
}

pub(crate) const CLAIM_AUDIT_HEAD: &str =
    "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash";

pub(crate) const INSERT_AUDIT: &str = "\
INSERT INTO audit_log (seq, at, actor, event, subject, details, prev_hash, hash)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

pub(crate) const SET_AUDIT_HEAD_HASH: &str = "UPDATE audit_head SET hash = $1 WHERE id = 1";

const SELECT_AUDIT_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";

const LIST_AUDIT: &str = "\
SELECT seq, at, actor, event, subject, details, prev_hash, hash
FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2";

/// `seq, at, actor, event, subject, details, prev_hash, hash`
type AuditRow = (i64, String, String, String, String, String, String, String);

/// Claims the audit head inside transaction `$tx` (must be the transaction's first statement):
/// evaluates to `(seq, prev_hash)` for the row this transaction will append.
macro_rules! claim_audit_head {
    ($store:expr, $tx:expr) => {{
        let claimed: (i64, String) = sqlx::query_as($crate::audit::CLAIM_AUDIT_HEAD)
            .fetch_one(&mut *$tx)
            .await
            .map_err($store.query_error("claim audit head"))?;
        claimed
    }};
}
pub(crate) use claim_audit_head;

/// Appends `$new` (a `NewAudit`) at the claimed `$head` (`(seq, prev_hash)`), and moves the
/// head to it. Evaluates to the sealed `AuditEntry`.
macro_rules! append_audit {
    ($store:expr, $tx:expr, $head:expr, $new:expr, $at:expr) => {{
        let (seq, prev): (i64, String) = $head;
        let entry = $new.seal(seq, $at, prev);
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind(entry.seq)
            .bind(entry.at.as_str())
            .bind(entry.actor.as_str())
            .bind(entry.event.as_str())
            .bind(entry.subject.as_str())
            .bind(rootline_actions::canonical_json(&entry.details))
            .bind(entry.prev_hash.as_str())
            .bind(entry.hash.as_str())
            .execute(&mut *$tx)
            .await
            .map_err($store.query_error("append audit row"))?;
        sqlx::query($crate::audit::SET_AUDIT_HEAD_HASH)
            .bind(entry.hash.as_str())
            .execute(&mut *$tx)
            .await
            .map_err($store.query_error("move audit head"))?;
        entry
    }};
}
pub(crate) use append_audit;

impl Store {
    /// Audit rows with `seq > after`, oldest first, at most `limit` (clamped to 1..=10 000).
    pub async fn list_audit(&self, after: i64, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<AuditRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_AUDIT)
                .bind(after)
                .bind(limit.clamp(1, 10_000))
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list audit log"))?
        });
        rows.into_iter().map(audit_from_row).collect()
    }

    /// Re-computes every row's hash and link, in order, and compares the tip with
    /// `audit_head`. Returns the first broken row; an intact chain has `broken: None`.
    pub async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        let (head_seq, head_hash): (i64, String) = with_pool!(self, pool => {
            sqlx::query_as(SELECT_AUDIT_HEAD)
                .fetch_one(pool)
                .await
                .map_err(self.query_error("read audit head"))?
        });
        let mut expected_seq = 1i64;
        let mut prev = GENESIS_HASH.to_owned();
        let mut rows = 0u64;
        let broken = |seq: i64, reason: String, rows: u64, head_hash: &str| AuditVerification {
            rows,
            head_hash: head_hash.to_owned(),
            broken: Some(BrokenLink { seq, reason }),
        };
        loop {
            let page: Vec<AuditRow> = with_pool!(self, pool => {
                sqlx::query_as(LIST_AUDIT)
                    .bind(expected_seq - 1)
                    .bind(VERIFY_PAGE)
                    .fetch_all(pool)
                    .await
                    .map_err(self.query_error("read audit log"))?
            });
            let done = (page.len() as i64) < VERIFY_PAGE;
            for (seq, at, actor, event, subject, details, prev_hash, hash) in page {
                rows += 1;
                if seq != expected_seq {
                    return Ok(broken(
                        expected_seq,
                        format!("row {expected_seq} is missing (next row is {seq})"),
                        rows,
                        &head_hash,
                    ));
                }
                if prev_hash != prev {
                    return Ok(broken(
                        seq,
                        format!(
                            "prev_hash {prev_hash} does not match the hash of row {}",
                            seq - 1
                        ),
                        rows,
                        &head_hash,
                    ));
                }
                let Ok(details) = serde_json::from_str::<Value>(&details) else {
                    return Ok(broken(
                        seq,
                        "details is not valid json".into(),
                        rows,
                        &head_hash,
                    ));
                };
                let computed = row_hash(seq, &at, &actor, &event, &subject, &details, &prev_hash);
                if computed != hash {
                    return Ok(broken(
                        seq,
                        format!(
                            "content does not match its hash (stored {hash}, computed {computed})"
                        ),
                        rows,
                        &head_hash,
                    ));
                }
                prev = hash;
                expected_seq += 1;
            }
            if done {
                break;
            }
        }
        let last = expected_seq - 1;
        if last != head_seq || prev != head_hash {
            let (seq, reason) = if last < head_seq {
                (
                    last + 1,
                    format!("rows {} to {head_seq} are missing", last + 1),
                )
            } else {
                (
                    last,
                    format!(
                        "the tip (row {last}) does not match the audit head (row {head_seq}, hash {head_hash})"
                    ),
                )
            };
            return Ok(broken(seq, reason, rows, &head_hash));
        }
        Ok(AuditVerification {
            rows,
            head_hash,
            broken: None,
        })
    }
}

fn audit_from_row(row: AuditRow) -> Result<AuditEntry, StoreError> {
    let (seq, at, actor, event, subject, details, prev_hash, hash) = row;
    let details = serde_json::from_str(&details).map_err(|e| StoreError::Corrupt {
        table: "audit_log",
        id: seq.to_string(),
        reason: format!("details is not valid json: {e}"),
    })?;
    Ok(AuditEntry {
        seq,
        at,
        actor,
        event,
        subject,
        details,
        prev_hash,
        hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_links_rows_and_covers_every_field() {
        let new = NewAudit::new(
            "bob",
            "action_approved",
            "action:a1",
            json!({"b": 1, "a": [2]}),
        );
        let one = new.seal(
            1,
            "2030-01-01T00:00:00.000000000Z".into(),
            GENESIS_HASH.into(),
        );
        let two = new.seal(2, "2030-01-01T00:00:01.000000000Z".into(), one.hash.clone());
        assert_ne!(one.hash, two.hash);
        assert_eq!(one.hash.len(), 64);
        // Same row, other prev: other hash.
        let other = new.seal(1, one.at.clone(), "f".repeat(64));
        assert_ne!(other.hash, one.hash);
        let mut changed = new.clone();
        changed.details = json!({"b": 2, "a": [2]});
        assert_ne!(
            changed.seal(1, one.at.clone(), GENESIS_HASH.into()).hash,
            one.hash
        );
        // Key order does not matter (canonical JSON).
        let mut reordered = new.clone();
        reordered.details = serde_json::from_str(r#"{"a":[2],"b":1}"#).unwrap();
        assert_eq!(
            reordered.seal(1, one.at.clone(), GENESIS_HASH.into()).hash,
            one.hash
        );
    }
}
