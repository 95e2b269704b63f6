//! Change events and versioned configs over HTTP: the [`ChangeService`] the handlers call, its
//! implementation on the store, the request validation and the handlers.
//!
//! | method and path | request → response |
//! |---|---|
//! | `POST /api/v1/changes` | a change event (`ts` or `ts_ns`, `service`, `kind`, `what`, optional `who`, `diff`, `id`) → 201 with the stored event (its id assigned from its content when missing); 200 when that id was already stored |
//! | `GET /api/v1/changes?from=&to=&service=` | `{"changes": [ChangeEvent…]}`, oldest first, `from <= ts < to` (RFC 3339 or epoch; both optional) |
//! | `POST /api/v1/configs` | `{source, service, content, observed_at?, format?}` → 201 `{created: true, version, diff, change, …}` for a new version, 200 `{created: false, …}` when the content is unchanged |
//!
//! A body that is not what the endpoint expects is a 400 whose message names the field.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use rootline_config::{ConfigDiff, FlatConfig, Format, change_event_id, parse_config};
use rootline_core::time::parse_timestamp;
use rootline_core::{ChangeEvent, ChangeKind};
use rootline_store::{ConfigVersionSaved, Store};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::AppState;
use crate::error::ApiError;
use crate::service::{BoxFuture, ServiceError};

/// Longest id, service, source or `who` accepted, in bytes.
const MAX_NAME_LEN: usize = 256;
/// Longest `what`, in bytes.
const MAX_WHAT_LEN: usize = 4096;

/// Writes and reads of change events and config versions, as the handlers need them.
pub trait ChangeService: Send + Sync + 'static {
    /// Saves the event unless its id is stored; returns whether it was new.
    fn save_change_event<'a>(
        &'a self,
        event: &'a ChangeEvent,
    ) -> BoxFuture<'a, Result<bool, ServiceError>>;

    /// Events with `from_ns <= ts < to_ns`, of one service when given, oldest first.
    fn list_change_events<'a>(
        &'a self,
        from_ns: i64,
        to_ns: i64,
        service: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<ChangeEvent>, ServiceError>>;

    /// Stores a new version of `source` when its content changed (see
    /// [`Store::save_config_version`]).
    fn save_config_version<'a>(
        &'a self,
        source: &'a str,
        service: &'a str,
        observed_at_ns: i64,
        flattened: &'a FlatConfig,
    ) -> BoxFuture<'a, Result<Option<ConfigVersionSaved>, ServiceError>>;
}

impl ChangeService for Store {
    fn save_change_event<'a>(
        &'a self,
        event: &'a ChangeEvent,
    ) -> BoxFuture<'a, Result<bool, ServiceError>> {
        Box::pin(async move { Ok(Store::save_change_event(self, event).await?) })
    }

    fn list_change_events<'a>(
        &'a self,
        from_ns: i64,
        to_ns: i64,
        service: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Vec<ChangeEvent>, ServiceError>> {
        Box::pin(async move { Ok(Store::list_change_events(self, from_ns, to_ns, service).await?) })
    }

    fn save_config_version<'a>(
        &'a self,
        source: &'a str,
        service: &'a str,
        observed_at_ns: i64,
        flattened: &'a FlatConfig,
    ) -> BoxFuture<'a, Result<Option<ConfigVersionSaved>, ServiceError>> {
        Box::pin(async move {
            Ok(
                Store::save_config_version(self, source, service, observed_at_ns, flattened)
                    .await?,
            )
        })
    }
}

/// The routes of this module, to nest under `/api/v1`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/changes", get(list_changes).post(add_change))
        .route("/configs", post(ingest_config))
}

fn service(state: &AppState) -> Result<&dyn ChangeService, ApiError> {
    state.store.changes().ok_or_else(|| {
        ApiError::NotFound("change events are not available on this server".to_owned())
    })
}

#[derive(Debug, Serialize)]
pub(crate) struct ChangeList {
    changes: Vec<ChangeEvent>,
}

/// The answer to `POST /api/v1/configs`.
#[derive(Debug, Serialize)]
pub(crate) struct ConfigIngested {
    source: String,
    service: String,
    format: &'static str,
    /// Whether a new version was stored (false: same content as the latest version).
    created: bool,
    content_hash: String,
    /// Number of key paths.
    keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<ConfigDiff>,
    /// The config change event recorded (none for a source's first version).
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<ChangeEvent>,
}

pub(crate) async fn add_change(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ChangeEvent>), ApiError> {
    let event = change_from_json(&json_object(&body)?)?;
    let created = service(&state)?.save_change_event(&event).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(event)))
}

pub(crate) async fn list_changes(
    State(state): State<AppState>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<ChangeList>, ApiError> {
    let Query(params) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if let Some(unknown) = params
        .keys()
        .find(|k| !matches!(k.as_str(), "from" | "to" | "service"))
    {
        return Err(ApiError::BadRequest(format!(
            "unknown query parameter `{unknown}` (expected from, to, service)"
        )));
    }
    // A bound, unlike a log's timestamp, may be any epoch second: `from=0` is the beginning
    // (the magnitude rule that tells seconds from milliseconds needs 9 digits or more).
    let bound = |v: &str| {
        parse_timestamp(v).or_else(|| {
            let v = v.trim();
            (!v.is_empty() && v.len() < 9 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<i64>().ok().map(|s| s * 1_000_000_000))
                .flatten()
        })
    };
    let time = |name: &str, default: i64| match params.get(name) {
        None => Ok(default),
        Some(v) => bound(v).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid query parameter `{name}`: {v:?} is not an rfc 3339 time or epoch"
            ))
        }),
    };
    let from = time("from", i64::MIN)?;
    let to = time("to", i64::MAX)?;
    if from > to {
        return Err(ApiError::BadRequest(
            "invalid query parameters: `from` is after `to`".to_owned(),
        ));
    }
    let service_filter = params
        .get("service")
        .map(String::as_str)
        .filter(|s| !s.is_empty());
    let changes = service(&state)?
        .list_change_events(from, to, service_filter)
        .await?;
    Ok(Json(ChangeList { changes }))
}

pub(crate) async fn ingest_config(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<ConfigIngested>), ApiError> {
    let obj = json_object(&body)?;
    reject_unknown(
        &obj,
        &["source", "service", "content", "observed_at", "format"],
    )?;
    let source = name_field(&obj, "source")?;
    let service_name = name_field(&obj, "service")?;
    let content = match obj.get("content") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(field_error("content", "must be a string")),
        None => return Err(field_error("content", "is required")),
    };
    let format =
        match obj.get("format") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Format::from_name(s).ok_or_else(|| {
                field_error("format", "must be one of yaml, json, toml, ini, env")
            })?),
            Some(_) => return Err(field_error("format", "must be a string")),
        };
    let observed_at_ns = match obj.get("observed_at") {
        None | Some(Value::Null) => now_ns(),
        Some(v) => time_value("observed_at", v)?,
    };
    let parsed = parse_config(content, Some(&source), format)
        .map_err(|e| field_error("content", &e.to_string()))?;
    let saved = service(&state)?
        .save_config_version(&source, &service_name, observed_at_ns, &parsed.config)
        .await?;
    let mut out = ConfigIngested {
        source,
        service: service_name,
        format: parsed.format.as_str(),
        created: saved.is_some(),
        content_hash: parsed.config.content_hash(),
        keys: parsed.config.len(),
        version: None,
        id: None,
        diff: None,
        change: None,
    };
    let status = match saved {
        Some(s) => {
            out.version = Some(s.version);
            out.id = Some(s.id);
            out.diff = Some(s.diff);
            out.change = s.change;
            StatusCode::CREATED
        }
        None => StatusCode::OK,
    };
    Ok((status, Json(out)))
}

// ---- validation ----

fn field_error(field: &str, problem: &str) -> ApiError {
    ApiError::BadRequest(format!("invalid field `{field}`: {problem}"))
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => {
            crate::text::refuse_nul(&v)?;
            match v {
                Value::Object(m) => Ok(m),
                _ => unreachable!("matched an object"),
            }
        }
        Ok(_) => Err(ApiError::BadRequest(
            "the request body must be a json object".to_owned(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "the request body is not valid json: {e}"
        ))),
    }
}

fn reject_unknown(obj: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError::BadRequest(format!(
            "unknown field `{k}` (expected {})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// A required, non-empty string of at most [`MAX_NAME_LEN`] bytes without control characters.
fn name_field(obj: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match obj.get(field) {
        Some(Value::String(s)) => check_name(field, s).map(|()| s.clone()),
        Some(_) => Err(field_error(field, "must be a string")),
        None => Err(field_error(field, "is required")),
    }
}

fn check_name(field: &str, s: &str) -> Result<(), ApiError> {
    if s.trim().is_empty() || s.len() > MAX_NAME_LEN || s.chars().any(char::is_control) {
        return Err(field_error(
            field,
            &format!("must be 1 to {MAX_NAME_LEN} bytes without control characters"),
        ));
    }
    Ok(())
}

/// An RFC 3339 string, or an epoch number (s, ms, µs or ns, told apart by magnitude).
fn time_value(field: &str, v: &Value) -> Result<i64, ApiError> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(field_error(
                field,
                "must be an rfc 3339 string or an epoch number",
            ));
        }
    };
    parse_timestamp(&text).ok_or_else(|| {
        field_error(
            field,
            &format!("{text:?} is not an rfc 3339 time or an epoch number"),
        )
    })
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// A change event from a request body; its id is derived from its content when missing.
fn change_from_json(obj: &Map<String, Value>) -> Result<ChangeEvent, ApiError> {
    reject_unknown(
        obj,
        &[
            "id", "ts", "ts_ns", "service", "kind", "who", "what", "diff",
        ],
    )?;
    let ts_ns = match (obj.get("ts_ns"), obj.get("ts")) {
        (Some(_), Some(_)) => {
            return Err(field_error("ts", "give either `ts` or `ts_ns`, not both"));
        }
        (Some(v), None) => v
            .as_i64()
            .ok_or_else(|| field_error("ts_ns", "must be an integer (unix nanoseconds)"))?,
        (None, Some(v)) => time_value("ts", v)?,
        (None, None) => return Err(field_error("ts", "is required (or `ts_ns`)")),
    };
    let service = name_field(obj, "service")?;
    let kind = match obj.get("kind") {
        Some(v @ Value::String(_)) => {
            serde_json::from_value::<ChangeKind>(v.clone()).map_err(|_| {
                field_error(
                    "kind",
                    "must be one of deploy, rollback, feature_flag, scale, config, other",
                )
            })?
        }
        Some(_) => return Err(field_error("kind", "must be a string")),
        None => return Err(field_error("kind", "is required")),
    };
    let who = match obj.get("who") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => {
            check_name("who", s)?;
            Some(s.clone())
        }
        Some(_) => return Err(field_error("who", "must be a string")),
    };
    let what = match obj.get("what") {
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(field_error("what", "must not be empty"));
        }
        Some(Value::String(s)) if s.len() > MAX_WHAT_LEN => {
            return Err(field_error(
                "what",
                &format!("must be at most {MAX_WHAT_LEN} bytes"),
            ));
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(field_error("what", "must be a string")),
        None => return Err(field_error("what", "is required")),
    };
    let diff = obj.get("diff").filter(|d| !d.is_null()).cloned();
    let mut event = ChangeEvent {
        id: String::new(),
        ts_ns,
        service,
        kind,
        who,
        what,
        diff,
    };
    event.id = match obj.get("id") {
        None | Some(Value::Null) => change_event_id(&event),
        Some(Value::String(s)) => {
            check_name("id", s)?;
            s.clone()
        }
        Some(_) => return Err(field_error("id", "must be a string")),
    };
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn err(v: Value) -> String {
        match change_from_json(&obj(v)) {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn change_bodies_are_validated_by_field() {
        let ok = json!({"ts": "2023-01-29T09:20:00Z", "service": "api", "kind": "deploy", "what": "v1.2.3", "who": "alice"});
        let e = change_from_json(&obj(ok.clone())).unwrap();
        assert_eq!(e.ts_ns, 1_674_984_000_000_000_000);
        assert!(e.id.starts_with("chg-"));
        assert_eq!(e.who.as_deref(), Some("alice"));
        let mut with_ns = ok.clone();
        with_ns.as_object_mut().unwrap().remove("ts");
        with_ns["ts_ns"] = json!(1_674_984_000_000_000_000i64);
        assert_eq!(change_from_json(&obj(with_ns)).unwrap(), e);

        let mut bad = ok.clone();
        bad["kind"] = json!("explosion");
        assert!(err(bad).starts_with("invalid field `kind`: must be one of deploy"));
        let mut bad = ok.clone();
        bad["ts"] = json!("yesterday");
        assert!(err(bad).starts_with("invalid field `ts`:"));
        let mut bad = ok.clone();
        bad["service"] = json!("");
        assert!(err(bad).starts_with("invalid field `service`:"));
        let mut bad = ok.clone();
        bad.as_object_mut().unwrap().remove("what");
        assert_eq!(err(bad), "invalid field `what`: is required");
        let mut bad = ok.clone();
        bad["servce"] = json!("x");
        assert!(err(bad).starts_with("unknown field `servce`"));
    }
}
