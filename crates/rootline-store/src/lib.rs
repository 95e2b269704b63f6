//! SQL store of rootline: incidents, investigation reports and ingest runs, on SQLite (the
//! embedded default) or PostgreSQL (chosen by a `postgres://` URL).
//!
//! # Design
//!
//! There is **one set of queries**, written once as `&'static str` constants in the SQL subset
//! that SQLite and PostgreSQL share, and run through whichever backend the URL selected:
//!
//! - placeholders are `$1`, `$2`, …: PostgreSQL's native form, which SQLite also accepts (sqlx's
//!   SQLite driver binds a `$N` parameter to argument `N`);
//! - upserts use `INSERT … ON CONFLICT (id) DO UPDATE SET … = excluded.…` / `DO NOTHING`, which
//!   both accept;
//! - every value is TEXT or a 64-bit integer. Times are stored as RFC 3339 UTC TEXT in one
//!   fixed-width form (`YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`) so that text order is time order, and
//!   JSON is stored as TEXT (not JSONB), so that the same bind and decode code serves both;
//! - incidents and reports are stored whole as JSON (`body`, what reads return) next to the
//!   columns queries filter and sort on (id, times, mode, outcome, top entity…), all written from
//!   the same value on every save. A field that rootline-core adds with `#[serde(default)]` is
//!   therefore stored and returned without a schema change;
//! - the two migration folders (`migrations/sqlite`, `migrations/postgres`) define the same tables
//!   and columns and differ only in type spelling and collation.
//!
//! The queries are checked at run time, not with `query!`: the compile-time macros check against
//! one database at a time and need a live database (or offline data) for each to build, while the
//! integration tests run every query against both real backends.
//!
//! The store holds an enum of the two typed pools ([`sqlx::SqlitePool`] / [`sqlx::PgPool`])
//! rather than sqlx's `Any` driver, and a small macro expands each operation's body once per
//! variant with the *same* SQL text. Typed pools give typed connect options (SQLite WAL journal,
//! foreign keys, busy timeout, create-if-missing, a single connection for `:memory:`), native
//! migrators and native errors, without the `Any` driver's narrower type mapping; since the SQL is
//! shared, nothing is written twice except the migration DDL.
//!
//! # Invariant
//!
//! Only this crate imports sqlx. Its public API speaks rootline-core types and plain Rust types,
//! and [`StoreError`] carries sqlx errors only as boxed sources, so no sqlx type leaks out.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rootline_core::{Incident, Report};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a SQLite connection waits for a lock held by another connection before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Pool size for an on-disk SQLite database (WAL lets readers run beside the one writer).
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// Pool size for PostgreSQL.
const POSTGRES_MAX_CONNECTIONS: u32 = 8;
/// How long to wait for a pooled connection (and for the first connection at connect time).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored investigation, without its report body: what a listing shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestigationSummary {
    pub id: String,
    pub incident_id: String,
    /// RFC 3339 UTC, normalised to the store's fixed-width form (nanosecond precision, `Z`).
    pub created_at: String,
    pub mode: String,
    /// The serde name of the [`rootline_core::Outcome`], e.g. `probable_cause`.
    pub outcome: String,
    /// Entity of the top-ranked candidate; `None` when the report has no candidates.
    pub top_entity: Option<String>,
}

/// One `rootline ingest` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestRun {
    pub id: String,
    /// RFC 3339; stored (and read back) normalised to UTC with nanosecond precision.
    pub started_at: String,
    /// RFC 3339; stored (and read back) normalised to UTC with nanosecond precision.
    pub finished_at: String,
    /// Paths the run read.
    pub sources: Vec<String>,
    pub read: u64,
    pub indexed: u64,
    pub rejected: u64,
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database or cannot be parsed.
    #[error("bad database url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// The database could not be opened or reached.
    #[error("cannot connect to the {backend} database at {url:?}: {source}")]
    Connect {
        backend: Backend,
        url: String,
        #[source]
        source: BoxError,
    },
    /// Applying the schema migrations failed.
    #[error("cannot apply migrations to the {backend} database: {source}")]
    Migrate {
        backend: Backend,
        #[source]
        source: BoxError,
    },
    /// A statement failed.
    #[error("{operation} failed on {backend}: {source}")]
    Query {
        operation: &'static str,
        backend: Backend,
        #[source]
        source: BoxError,
    },
    /// A stored row cannot be turned back into its type (bad JSON, bad time, bad count).
    #[error("corrupt row in {table} with id {id:?}: {reason}")]
    Corrupt {
        table: &'static str,
        id: String,
        reason: String,
    },
    /// A value to be stored cannot be represented (e.g. a time that is not RFC 3339).
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidValue {
        field: &'static str,
        value: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the typed pool of whichever backend `$store` uses. The
/// body (and so its SQL) is written once and compiled once per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            Pool::Sqlite($pool) => $body,
            Pool::Postgres($pool) => $body,
        }
    };
}

mod changes; // after `with_pool!`, which it uses
pub use changes::{ConfigVersion, ConfigVersionSaved};
mod actions; // verdicts, actions, audit and users: after `with_pool!`, which they use
mod audit;
mod chat_links;
mod users;
mod verdict_scores;
mod verdicts;
pub use actions::{ApprovalResult, NewAction};
pub use audit::{AuditEntry, AuditVerification, BrokenLink, GENESIS_HASH, GovernanceError};
pub use chat_links::ChatFlavour;
pub use users::{CreatedToken, Credential, LOCAL_ADMIN, TOKEN_PREFIX, User};
pub use verdict_scores::{JudgedInvestigation, VerdictRate, VerdictScores};
pub use verdicts::{
    EvidenceSnapshot, ExportOptions, ExportSummary, ExportedBundle, Hypothesis, Judgement,
    NewVerdict, ReplayLink, SkippedIncident, Verdict, VerdictTarget, export_judged_bundles,
};

/// A handle on the database; cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

// ---- the queries: one text per operation, shared by both backends ----

const UPSERT_INCIDENT: &str = "\
INSERT INTO incidents (id, title, start_at, end_at, services, body)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title,
    start_at = excluded.start_at,
    end_at = excluded.end_at,
    services = excluded.services,
    body = excluded.body";

const INSERT_INCIDENT_IF_MISSING: &str = "\
INSERT INTO incidents (id, title, start_at, end_at, services, body)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO NOTHING";

const SELECT_INCIDENT: &str = "SELECT id, body FROM incidents WHERE id = $1";

const LIST_INCIDENTS: &str = "SELECT id, body FROM incidents ORDER BY start_at DESC, id DESC";

const UPSERT_INVESTIGATION: &str = "\
INSERT INTO investigations (id, incident_id, created_at, mode, outcome, top_entity, body)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET
    incident_id = excluded.incident_id,
    created_at = excluded.created_at,
    mode = excluded.mode,
    outcome = excluded.outcome,
    top_entity = excluded.top_entity,
    body = excluded.body";

const SELECT_INVESTIGATION_REPORT: &str = "SELECT body FROM investigations WHERE id = $1";

const LIST_INVESTIGATIONS: &str = "\
SELECT id, incident_id, created_at, mode, outcome, top_entity
FROM investigations WHERE incident_id = $1
ORDER BY created_at DESC, id DESC";

const UPSERT_INGEST_RUN: &str = "\
INSERT INTO ingest_runs (id, started_at, finished_at, sources, read_count, indexed_count, rejected_count)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET
    started_at = excluded.started_at,
    finished_at = excluded.finished_at,
    sources = excluded.sources,
    read_count = excluded.read_count,
    indexed_count = excluded.indexed_count,
    rejected_count = excluded.rejected_count";

const LIST_INGEST_RUNS: &str = "\
SELECT id, started_at, finished_at, sources, read_count, indexed_count, rejected_count
FROM ingest_runs ORDER BY started_at DESC, id DESC LIMIT $1";

/// `id, body`
type IncidentRow = (String, String);
/// `id, incident_id, created_at, mode, outcome, top_entity`
type SummaryRow = (String, String, String, String, String, Option<String>);
/// `id, started_at, finished_at, sources, read_count, indexed_count, rejected_count`
type IngestRunRow = (String, String, String, String, i64, i64, i64);

impl Store {
    /// Opens the store and applies any pending migrations.
    ///
    /// `url` is `sqlite://path/to/file.db` (the file and its parent directory are created if
    /// missing), `sqlite::memory:` (a private in-memory database that lives as long as the
    /// store), or `postgres://…` / `postgresql://…`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(connect_postgres(url).await?)
        } else if url.starts_with("sqlite:") {
            Pool::Sqlite(connect_sqlite(url).await?)
        } else {
            return Err(StoreError::BadUrl {
                url: redact(url),
                reason: "expected sqlite://path, sqlite::memory: or postgres://…".into(),
            });
        };
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every pooled connection, waiting for checked-out ones to come back.
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let backend = self.backend();
        let result = match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await,
        };
        result.map_err(|e| StoreError::Migrate {
            backend,
            source: Box::new(e),
        })
    }

    fn query_error(&self, operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        let backend = self.backend();
        move |e| StoreError::Query {
            operation,
            backend,
            source: Box::new(e),
        }
    }

    /// Inserts the incident, or replaces every field of the stored one with the same id.
    pub async fn save_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let IncidentParams {
            id,
            title,
            start,
            end,
            services,
            body,
        } = incident_params(incident)?;
        with_pool!(self, pool => {
            sqlx::query(UPSERT_INCIDENT)
                .bind(id)
                .bind(title)
                .bind(start)
                .bind(end)
                .bind(services)
                .bind(body)
                .execute(pool)
                .await
                .map_err(self.query_error("save incident"))?;
        });
        Ok(())
    }

    pub async fn get_incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let row: Option<IncidentRow> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_INCIDENT)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("get incident"))?
        });
        row.map(incident_from_row).transpose()
    }

    /// Every stored incident, newest start first.
    pub async fn list_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let rows: Vec<IncidentRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_INCIDENTS)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list incidents"))?
        });
        rows.into_iter().map(incident_from_row).collect()
    }

    /// Saves the report and, in the same transaction, its incident if no incident with that id
    /// is stored yet (a stored incident is left as it is). Saving a report whose investigation
    /// id is already stored replaces it.
    ///
    /// The whole report is stored as JSON, next to queryable columns: id, incident id, created
    /// at (normalised to UTC), mode, outcome and the top candidate's entity.
    pub async fn save_investigation(&self, report: &Report) -> Result<(), StoreError> {
        let IncidentParams {
            id: inc_id,
            title,
            start,
            end,
            services,
            body: incident_body,
        } = incident_params(&report.incident)?;
        let created_at = normalize_time("created_at", &report.created_at)?;
        let outcome = outcome_name(report)?;
        let top_entity = report.candidates.first().map(|c| c.entity.clone());
        let body = serde_json::to_string(report).map_err(|e| StoreError::InvalidValue {
            field: "report",
            value: report.investigation_id.clone(),
            reason: format!("cannot serialise as json: {e}"),
        })?;
        with_pool!(self, pool => {
            let mut tx = pool
                .begin()
                .await
                .map_err(self.query_error("begin transaction"))?;
            sqlx::query(INSERT_INCIDENT_IF_MISSING)
                .bind(inc_id)
                .bind(title)
                .bind(start)
                .bind(end)
                .bind(services)
                .bind(incident_body)
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("save investigation incident"))?;
            sqlx::query(UPSERT_INVESTIGATION)
                .bind(report.investigation_id.as_str())
                .bind(report.incident.id.as_str())
                .bind(created_at)
                .bind(report.mode.as_str())
                .bind(outcome)
                .bind(top_entity)
                .bind(body)
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("save investigation"))?;
            tx.commit()
                .await
                .map_err(self.query_error("commit investigation"))?;
        });
        Ok(())
    }

    /// The full report of an investigation. A stored report that is not valid JSON for
    /// [`Report`] gives [`StoreError::Corrupt`] naming the investigation id.
    pub async fn get_investigation(&self, id: &str) -> Result<Option<Report>, StoreError> {
        let body: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(SELECT_INVESTIGATION_REPORT)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("get investigation"))?
        });
        body.map(|b| {
            serde_json::from_str(&b).map_err(|e| StoreError::Corrupt {
                table: "investigations",
                id: id.to_owned(),
                reason: format!("report is not valid json: {e}"),
            })
        })
        .transpose()
    }

    /// Investigations of an incident, newest first.
    pub async fn list_investigations(
        &self,
        incident_id: &str,
    ) -> Result<Vec<InvestigationSummary>, StoreError> {
        let rows: Vec<SummaryRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_INVESTIGATIONS)
                .bind(incident_id)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list investigations"))?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, incident_id, created_at, mode, outcome, top_entity)| InvestigationSummary {
                    id,
                    incident_id,
                    created_at,
                    mode,
                    outcome,
                    top_entity,
                },
            )
            .collect())
    }

    /// Records one ingest run (replacing a stored run with the same id). Times must be RFC 3339
    /// and are stored normalised to UTC; counts must fit in an `i64`.
    pub async fn record_ingest_run(&self, run: &IngestRun) -> Result<(), StoreError> {
        let started = normalize_time("started_at", &run.started_at)?;
        let finished = normalize_time("finished_at", &run.finished_at)?;
        let sources =
            serde_json::to_string(&run.sources).map_err(|e| StoreError::InvalidValue {
                field: "sources",
                value: format!("{:?}", run.sources),
                reason: e.to_string(),
            })?;
        let read = count_param("read", run.read)?;
        let indexed = count_param("indexed", run.indexed)?;
        let rejected = count_param("rejected", run.rejected)?;
        with_pool!(self, pool => {
            sqlx::query(UPSERT_INGEST_RUN)
                .bind(run.id.as_str())
                .bind(started)
                .bind(finished)
                .bind(sources)
                .bind(read)
                .bind(indexed)
                .bind(rejected)
                .execute(pool)
                .await
                .map_err(self.query_error("record ingest run"))?;
        });
        Ok(())
    }

    /// The most recent `limit` ingest runs, newest start first (a negative limit counts as 0).
    pub async fn list_ingest_runs(&self, limit: i64) -> Result<Vec<IngestRun>, StoreError> {
        let limit = limit.max(0);
        let rows: Vec<IngestRunRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_INGEST_RUNS)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list ingest runs"))?
        });
        rows.into_iter().map(ingest_run_from_row).collect()
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let bad_url = |reason: String| StoreError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(|e| bad_url(e.to_string()))?
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let mut pool_options = SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
    if in_memory {
        // Each connection would otherwise be its own empty database: keep exactly one, forever.
        pool_options = pool_options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    } else {
        let path = options.get_filename().to_path_buf();
        if path.as_os_str().is_empty() {
            return Err(bad_url("no database file path".into()));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Connect {
                backend: Backend::Sqlite,
                url: url.to_owned(),
                source: format!("cannot create directory {}: {e}", parent.display()).into(),
            })?;
        }
        options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        pool_options = pool_options.max_connections(SQLITE_MAX_CONNECTIONS);
    }
    pool_options
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Connect {
            backend: Backend::Sqlite,
            url: url.to_owned(),
            source: Box::new(e),
        })
}

async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::BadUrl {
        url: redact(url),
        reason: e.to_string(),
    })?;
    let connect_error = |e: sqlx::Error| StoreError::Connect {
        backend: Backend::Postgres,
        url: redact(url),
        source: Box::new(e),
    };
    // One direct connection first: the pool retries refused connections until its acquire
    // timeout, which would turn "server not running" into a long hang.
    let probe = PgConnection::connect_with(&options)
        .await
        .map_err(connect_error)?;
    // Best effort: the probe has done its job whether or not it closes cleanly.
    let _ = probe.close().await;
    PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(connect_error)
}

/// The URL with any password replaced by `***`, for error messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Formats a time in the store's one fixed-width form, so that text order is time order.
fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses an RFC 3339 time given as a string and returns it in the store's form.
fn normalize_time(field: &'static str, value: &str) -> Result<String, StoreError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| format_time(t.with_timezone(&Utc)))
        .map_err(|e| StoreError::InvalidValue {
            field,
            value: value.to_owned(),
            reason: format!("not an rfc 3339 time: {e}"),
        })
}

fn count_param(field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::InvalidValue {
        field,
        value: value.to_string(),
        reason: "too large to store".into(),
    })
}

/// The outcome's serde name (`probable_cause`, …), the form the `outcome` column holds.
fn outcome_name(report: &Report) -> Result<String, StoreError> {
    match serde_json::to_value(report.outcome) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        other => Err(StoreError::InvalidValue {
            field: "outcome",
            value: format!("{:?}", report.outcome),
            reason: format!("does not serialise to a json string: {other:?}"),
        }),
    }
}

/// Bind values for the incident columns.
struct IncidentParams<'a> {
    id: &'a str,
    title: &'a str,
    start: String,
    end: Option<String>,
    services: String,
    body: String,
}

fn incident_params(incident: &Incident) -> Result<IncidentParams<'_>, StoreError> {
    let invalid = |field: &'static str, e: serde_json::Error| StoreError::InvalidValue {
        field,
        value: incident.id.clone(),
        reason: format!("cannot serialise as json: {e}"),
    };
    Ok(IncidentParams {
        id: &incident.id,
        title: &incident.title,
        start: format_time(incident.start),
        end: incident.end.map(format_time),
        services: serde_json::to_string(&incident.services).map_err(|e| invalid("services", e))?,
        body: serde_json::to_string(incident).map_err(|e| invalid("incident", e))?,
    })
}

fn incident_from_row((id, body): IncidentRow) -> Result<Incident, StoreError> {
    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
        table: "incidents",
        id,
        reason: format!("incident is not valid json: {e}"),
    })
}

fn ingest_run_from_row(row: IngestRunRow) -> Result<IngestRun, StoreError> {
    let (id, started_at, finished_at, sources, read, indexed, rejected) = row;
    let corrupt = |reason: String| StoreError::Corrupt {
        table: "ingest_runs",
        id: id.clone(),
        reason,
    };
    let sources = serde_json::from_str(&sources)
        .map_err(|e| corrupt(format!("sources is not a json array of strings: {e}")))?;
    let count = |column: &str, v: i64| {
        u64::try_from(v).map_err(|_| corrupt(format!("{column} is negative: {v}")))
    };
    Ok(IngestRun {
        read: count("read_count", read)?,
        indexed: count("indexed_count", indexed)?,
        rejected: count("rejected_count", rejected)?,
        id,
        started_at,
        finished_at,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?sslmode=disable"),
            "postgres://u:***@h:5432/db?sslmode=disable"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn times_are_fixed_width_utc() {
        assert_eq!(
            normalize_time("t", "2024-03-01T12:00:00+02:00").unwrap(),
            "2024-03-01T10:00:00.000000000Z"
        );
        assert_eq!(
            normalize_time("t", "2024-03-01T10:00:00.5Z").unwrap(),
            "2024-03-01T10:00:00.500000000Z"
        );
        let err = normalize_time("started_at", "yesterday").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid started_at \"yesterday\"")
        );
    }
}
