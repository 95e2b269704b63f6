//! Versioned configs and change events.
//!
//! A config source (a file path or a name) gets a new version only when its flattened, masked
//! content hashes differently from its latest version; that version and the
//! [`ChangeKind::Config`](rootline_core::ChangeKind) event carrying the diff are written in one
//! transaction. The first version of a source is its baseline and records no change event: it
//! says what the config is, not that it changed. Change events (deploys, rollbacks, flag flips,
//! config changes) are idempotent by id.
//!
//! Times cross this API as unix nanoseconds (as in [`ChangeEvent::ts_ns`]) and are stored in the
//! store's fixed-width UTC text form.

use chrono::{DateTime, TimeZone, Utc};
use rootline_config::{ConfigDiff, FlatConfig, config_change_event, diff, stable_id};
use rootline_core::{ChangeEvent, ChangeKind};
use serde::{Deserialize, Serialize};

use crate::{Pool, Store, StoreError, format_time};

/// One stored version of a config source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigVersion {
    pub id: String,
    pub source: String,
    pub service: String,
    /// 1 for the first version of the source, then 2, 3, …
    pub version: i64,
    /// SHA-256 hex of the flattened settings ([`FlatConfig::content_hash`]).
    pub content_hash: String,
    pub ingested_at_ns: i64,
    pub observed_at_ns: i64,
    /// Key paths to values, secrets masked.
    pub flattened: FlatConfig,
}

/// What [`Store::save_config_version`] stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigVersionSaved {
    pub id: String,
    pub version: i64,
    pub content_hash: String,
    /// Against the previous version; for the first version, every key path is `added`.
    pub diff: ConfigDiff,
    /// The config change event recorded with it; `None` for a source's first version.
    pub change: Option<ChangeEvent>,
}

const SELECT_LATEST_CONFIG: &str = "\
SELECT version, content_hash, flattened FROM config_versions
WHERE source = $1 ORDER BY version DESC LIMIT 1";

const INSERT_CONFIG_VERSION: &str = "\
INSERT INTO config_versions
    (id, source, service, version, content_hash, ingested_at, observed_at, flattened)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const LIST_CONFIG_VERSIONS: &str = "\
SELECT id, source, service, version, content_hash, ingested_at, observed_at, flattened
FROM config_versions WHERE source = $1 ORDER BY version";

const INSERT_CHANGE_EVENT: &str = "\
INSERT INTO change_events (id, ts, service, kind, who, what, diff)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING";

const LIST_CHANGE_EVENTS: &str = "\
SELECT id, ts, service, kind, who, what, diff FROM change_events
WHERE ts >= $1 AND ts < $2 ORDER BY ts, id";

const LIST_CHANGE_EVENTS_OF_SERVICE: &str = "\
SELECT id, ts, service, kind, who, what, diff FROM change_events
WHERE ts >= $1 AND ts < $2 AND service = $3 ORDER BY ts, id";

/// `version, content_hash, flattened`
type LatestRow = (i64, String, String);
/// `id, source, service, version, content_hash, ingested_at, observed_at, flattened`
type ConfigVersionRow = (String, String, String, i64, String, String, String, String);
/// `id, ts, service, kind, who, what, diff`
type ChangeRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
);

/// Bind values for one change event row.
struct ChangeParams {
    ts: String,
    kind: String,
    diff: Option<String>,
}

impl Store {
    /// Stores `flattened` as the next version of `source`, unless its content hash equals the
    /// latest version's (then nothing is written and `None` returned). From the second version
    /// on, a config change event with the structured diff is saved in the same transaction.
    ///
    /// Two concurrent saves of the same source can collide on the version number; the loser
    /// fails with a query error and may retry.
    pub async fn save_config_version(
        &self,
        source: &str,
        service: &str,
        observed_at_ns: i64,
        flattened: &FlatConfig,
    ) -> Result<Option<ConfigVersionSaved>, StoreError> {
        let content_hash = flattened.content_hash();
        let flattened_text =
            serde_json::to_string(flattened).map_err(|e| StoreError::InvalidValue {
                field: "flattened",
                value: source.to_owned(),
                reason: format!("cannot serialise as json: {e}"),
            })?;
        let observed_at = ns_to_text(observed_at_ns);
        let ingested_at = format_time(Utc::now());
        let saved = with_pool!(self, pool => {
            let mut tx = pool
                .begin()
                .await
                .map_err(self.query_error("begin transaction"))?;
            let latest: Option<LatestRow> = sqlx::query_as(SELECT_LATEST_CONFIG)
                .bind(source)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.query_error("get latest config version"))?;
            if latest.as_ref().is_some_and(|(_, hash, _)| *hash == content_hash) {
                // Unchanged: dropping the transaction rolls it back.
                None
            } else {
                let (version, previous) = match &latest {
                    Some((v, _, text)) => (v + 1, Some(parse_flattened(source, *v, text)?)),
                    None => (1, None),
                };
                let diff = diff(previous.as_ref().unwrap_or(&FlatConfig::new()), flattened);
                let id = stable_id("cfgv", &[source, &version.to_string(), &content_hash]);
                sqlx::query(INSERT_CONFIG_VERSION)
                    .bind(id.as_str())
                    .bind(source)
                    .bind(service)
                    .bind(version)
                    .bind(content_hash.as_str())
                    .bind(ingested_at.as_str())
                    .bind(observed_at.as_str())
                    .bind(flattened_text.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.query_error("save config version"))?;
                let change = previous.map(|_| {
                    config_change_event(source, service, version, &content_hash, observed_at_ns, &diff)
                });
                if let Some(event) = &change {
                    let p = change_params(event)?;
                    sqlx::query(INSERT_CHANGE_EVENT)
                        .bind(event.id.as_str())
                        .bind(p.ts)
                        .bind(event.service.as_str())
                        .bind(p.kind)
                        .bind(event.who.as_deref())
                        .bind(event.what.as_str())
                        .bind(p.diff)
                        .execute(&mut *tx)
                        .await
                        .map_err(self.query_error("save config change event"))?;
                }
                tx.commit()
                    .await
                    .map_err(self.query_error("commit config version"))?;
                Some(ConfigVersionSaved {
                    id,
                    version,
                    content_hash: content_hash.clone(),
                    diff,
                    change,
                })
            }
        });
        Ok(saved)
    }

    /// Every version of `source`, oldest first.
    pub async fn list_config_versions(
        &self,
        source: &str,
    ) -> Result<Vec<ConfigVersion>, StoreError> {
        let rows: Vec<ConfigVersionRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_CONFIG_VERSIONS)
                .bind(source)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list config versions"))?
        });
        rows.into_iter().map(config_version_from_row).collect()
    }

    /// Saves a change event; an event whose id is already stored is left as it is. Returns
    /// whether it was new.
    pub async fn save_change_event(&self, event: &ChangeEvent) -> Result<bool, StoreError> {
        if event.id.is_empty() {
            return Err(StoreError::InvalidValue {
                field: "id",
                value: String::new(),
                reason: "a change event needs an id".into(),
            });
        }
        let p = change_params(event)?;
        let affected = with_pool!(self, pool => {
            sqlx::query(INSERT_CHANGE_EVENT)
                .bind(event.id.as_str())
                .bind(p.ts)
                .bind(event.service.as_str())
                .bind(p.kind)
                .bind(event.who.as_deref())
                .bind(event.what.as_str())
                .bind(p.diff)
                .execute(pool)
                .await
                .map_err(self.query_error("save change event"))?
                .rows_affected()
        });
        Ok(affected > 0)
    }

    /// Change events with `from_ns <= ts < to_ns`, of one service when given, oldest first.
    pub async fn list_change_events(
        &self,
        from_ns: i64,
        to_ns: i64,
        service: Option<&str>,
    ) -> Result<Vec<ChangeEvent>, StoreError> {
        let (from, to) = (ns_to_text(from_ns), ns_to_text(to_ns));
        let rows: Vec<ChangeRow> = with_pool!(self, pool => {
            match service {
                Some(s) => sqlx::query_as(LIST_CHANGE_EVENTS_OF_SERVICE)
                    .bind(from)
                    .bind(to)
                    .bind(s)
                    .fetch_all(pool)
                    .await,
                None => sqlx::query_as(LIST_CHANGE_EVENTS)
                    .bind(from)
                    .bind(to)
                    .fetch_all(pool)
                    .await,
            }
            .map_err(self.query_error("list change events"))?
        });
        rows.into_iter().map(change_from_row).collect()
    }
}

/// Unix nanoseconds in the store's fixed-width form. Every `i64` is representable
/// (1677-09-21 … 2262-04-11), so the whole range can be used as an open bound.
fn ns_to_text(ns: i64) -> String {
    format_time(Utc.timestamp_nanos(ns))
}

fn text_to_ns(table: &'static str, id: &str, text: &str) -> Result<i64, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| StoreError::Corrupt {
            table,
            id: id.to_owned(),
            reason: format!("time {text:?} is not rfc 3339 within the nanosecond range"),
        })
}

fn parse_flattened(source: &str, version: i64, text: &str) -> Result<FlatConfig, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table: "config_versions",
        id: format!("{source} v{version}"),
        reason: format!("flattened is not a json object of key paths: {e}"),
    })
}

fn change_params(event: &ChangeEvent) -> Result<ChangeParams, StoreError> {
    let invalid = |field: &'static str, reason: String| StoreError::InvalidValue {
        field,
        value: event.id.clone(),
        reason,
    };
    let kind = match serde_json::to_value(event.kind) {
        Ok(serde_json::Value::String(s)) => s,
        other => return Err(invalid("kind", format!("not a json string: {other:?}"))),
    };
    let diff = event
        .diff
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| invalid("diff", format!("cannot serialise as json: {e}")))?;
    Ok(ChangeParams {
        ts: ns_to_text(event.ts_ns),
        kind,
        diff,
    })
}

fn config_version_from_row(row: ConfigVersionRow) -> Result<ConfigVersion, StoreError> {
    let (id, source, service, version, content_hash, ingested_at, observed_at, flattened) = row;
    Ok(ConfigVersion {
        ingested_at_ns: text_to_ns("config_versions", &id, &ingested_at)?,
        observed_at_ns: text_to_ns("config_versions", &id, &observed_at)?,
        flattened: parse_flattened(&source, version, &flattened)?,
        id,
        source,
        service,
        version,
        content_hash,
    })
}

fn change_from_row(row: ChangeRow) -> Result<ChangeEvent, StoreError> {
    let (id, ts, service, kind, who, what, diff) = row;
    let corrupt = |reason: String| StoreError::Corrupt {
        table: "change_events",
        id: id.clone(),
        reason,
    };
    let kind: ChangeKind = serde_json::from_value(serde_json::Value::String(kind.clone()))
        .map_err(|e| corrupt(format!("unknown kind {kind:?}: {e}")))?;
    let diff = diff
        .map(|d| serde_json::from_str(&d))
        .transpose()
        .map_err(|e| corrupt(format!("diff is not valid json: {e}")))?;
    Ok(ChangeEvent {
        ts_ns: text_to_ns("change_events", &id, &ts)?,
        id,
        service,
        kind,
        who,
        what,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanosecond_times_round_trip_through_text() {
        for ns in [i64::MIN, -1, 0, 1_674_981_780_123_456_789, i64::MAX] {
            let text = ns_to_text(ns);
            assert_eq!(text.len(), 30, "{text}");
            assert_eq!(text_to_ns("t", "x", &text).unwrap(), ns);
        }
        assert!(ns_to_text(i64::MIN) < ns_to_text(0));
        assert!(ns_to_text(0) < ns_to_text(i64::MAX));
    }
}
