//! Investigations on request: from an API client, and from Prometheus Alertmanager, so that the
//! ranking is ready when the on-call engineer opens the page.
//!
//! | method and path | request → response |
//! |---|---|
//! | `POST /api/v1/investigations` | `{"title", "start", "end"?, "services"?, "description"?, "alert"?}` → 201 and the stored [`Report`] |
//! | `POST /api/v1/alerts/alertmanager` | Alertmanager's webhook (version 4) → 201 `{"incident_id", "investigation_id", "outcome", "top_entity", "timeline"}`; 200 `{"duplicate": true, ...}` for a notification already investigated; 200 `{"ignored": "resolved"}` for a resolved group |
//!
//! Both need a server that runs investigations ([`crate::InvestigateService`]); without one
//! they answer 404. Neither acts on anything: an investigation only reads telemetry and stores
//! its report.
//!
//! Decisions for Alertmanager:
//! - The window starts [`ALERT_LEAD_MINUTES`] before the earliest firing alert's `startsAt`
//!   (an alert fires after its `for:` delay, so the fault began earlier) and ends on receipt; the
//!   baseline is the same length before it. At most [`MAX_ALERT_WINDOW_HOURS`] long.
//! - The services come from each alert's first label among [`SERVICE_LABELS`]; they focus the
//!   report and never exclude a culprit.
//! - The incident id is derived from the group key and the earliest `startsAt`, so Alertmanager's
//!   repeats and retries of one firing group do not start a second investigation.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use rootline_core::{Incident, Report};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::chatops::InvestigateService;
use crate::error::ApiError;

/// How long before the first alert's `startsAt` the investigated window starts.
pub const ALERT_LEAD_MINUTES: i64 = 5;
/// Longest window investigated for one alert group.
pub const MAX_ALERT_WINDOW_HOURS: i64 = 6;
/// Labels that name the alerting service, most specific first.
pub const SERVICE_LABELS: &[&str] = &[
    "service",
    "service_name",
    "app_kubernetes_io_name",
    "app",
    "deployment",
    "container",
    "job",
];

fn investigations(state: &AppState) -> Result<&dyn InvestigateService, ApiError> {
    state.investigations.as_deref().ok_or_else(|| {
        ApiError::NotFound("this server does not run investigations (it serves stored ones)".into())
    })
}

/// The body of `POST /api/v1/investigations`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvestigationRequest {
    title: String,
    start: DateTime<Utc>,
    #[serde(default)]
    end: Option<DateTime<Utc>>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    alert: Option<Value>,
}

/// `POST /api/v1/investigations`.
pub(crate) async fn run_investigation(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Report>), ApiError> {
    let service = investigations(&state)?;
    let raw: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("investigation request: {e}")))?;
    crate::text::refuse_nul(&raw)?;
    let request: InvestigationRequest = serde_json::from_value(raw)
        .map_err(|e| ApiError::BadRequest(format!("investigation request: {e}")))?;
    let incident = Incident {
        id: uuid::Uuid::now_v7().to_string(),
        title: request.title,
        description: request.description,
        start: request.start,
        end: Some(request.end.unwrap_or_else(Utc::now)),
        services: request.services,
        alert: request.alert,
        baseline_windows: vec![],
    };
    incident
        .validate()
        .map_err(|e| ApiError::BadRequest(format!("investigation request: {e}")))?;
    let report = service.investigate(incident).await?;
    Ok((StatusCode::CREATED, Json(report)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerPayload {
    #[serde(default)]
    status: String,
    #[serde(default)]
    group_key: String,
    #[serde(default)]
    common_labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    common_annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    alerts: Vec<AlertmanagerAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertmanagerAlert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    starts_at: String,
}

/// `POST /api/v1/alerts/alertmanager`.
pub(crate) async fn alertmanager(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let service = investigations(&state)?;
    let raw: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("alertmanager payload: {e}")))?;
    crate::text::refuse_nul(&raw)?;
    let payload: AlertmanagerPayload = serde_json::from_value(raw.clone())
        .map_err(|e| ApiError::BadRequest(format!("alertmanager payload: {e}")))?;
    if payload.status != "firing" {
        return Ok((StatusCode::OK, Json(json!({"ignored": payload.status}))));
    }
    let incident = incident_from_alerts(&payload, raw, Utc::now())?;
    if state.store.get_incident(&incident.id).await?.is_some() {
        return Ok((
            StatusCode::OK,
            Json(json!({
                "incident_id": incident.id,
                "duplicate": true,
                "timeline": format!("/ui/incidents/{}", incident.id),
            })),
        ));
    }
    let report = service.investigate(incident).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "incident_id": report.incident.id,
            "investigation_id": report.investigation_id,
            "outcome": report.outcome,
            "top_entity": report.candidates.first().map(|c| c.entity.clone()),
            "timeline": format!("/ui/incidents/{}", report.incident.id),
        })),
    ))
}

/// The incident a firing alert group describes, received at `now`.
fn incident_from_alerts(
    payload: &AlertmanagerPayload,
    raw: Value,
    now: DateTime<Utc>,
) -> Result<Incident, ApiError> {
    let mut earliest: Option<DateTime<Utc>> = None;
    let mut services: Vec<String> = Vec::new();
    let mut descriptions: Vec<&str> = Vec::new();
    for (i, alert) in payload.alerts.iter().enumerate() {
        if alert.status != "firing" {
            continue;
        }
        let started = DateTime::parse_from_rfc3339(&alert.starts_at)
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "alerts[{i}].startsAt `{}` is not an RFC 3339 time: {e}",
                    alert.starts_at
                ))
            })?
            .with_timezone(&Utc);
        earliest = Some(earliest.map_or(started, |e| e.min(started)));
        if let Some(s) = SERVICE_LABELS.iter().find_map(|l| alert.labels.get(*l))
            && !services.contains(s)
        {
            services.push(s.clone());
        }
        if let Some(d) = alert
            .annotations
            .get("description")
            .or(alert.annotations.get("summary"))
            && descriptions.len() < 3
            && !descriptions.contains(&d.as_str())
        {
            descriptions.push(d);
        }
    }
    let first = earliest
        .ok_or_else(|| ApiError::BadRequest("a firing group without a firing alert".into()))?;
    let lead = chrono::Duration::minutes(ALERT_LEAD_MINUTES);
    let start = (first - lead).max(now - chrono::Duration::hours(MAX_ALERT_WINDOW_HOURS));
    if start >= now {
        return Err(ApiError::BadRequest(format!(
            "the alerts start in the future ({first})"
        )));
    }
    let alertname = payload.common_labels.get("alertname").or_else(|| {
        payload
            .alerts
            .iter()
            .find_map(|a| a.labels.get("alertname"))
    });
    let title = payload
        .common_annotations
        .get("summary")
        .or(alertname)
        .cloned()
        .unwrap_or_else(|| "Alertmanager alert".to_owned());
    let digest = Sha256::digest(format!("{}\u{0}{}", payload.group_key, first.to_rfc3339()));
    Ok(Incident {
        id: format!("am-{}", hex::encode(&digest[..10])),
        title: title.chars().take(200).collect(),
        description: descriptions.join("\n"),
        start,
        end: Some(now),
        services,
        alert: Some(raw),
        baseline_windows: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(v: Value) -> (AlertmanagerPayload, Value) {
        (serde_json::from_value(v.clone()).unwrap(), v)
    }

    #[test]
    fn a_firing_group_becomes_one_incident_with_a_lead() {
        let now: DateTime<Utc> = "2026-11-28T10:00:00Z".parse().unwrap();
        let (p, raw) = payload(json!({
            "status": "firing", "groupKey": "{}:{alertname=\"HighErrorRate\"}",
            "commonLabels": {"alertname": "HighErrorRate"},
            "commonAnnotations": {},
            "alerts": [
                {"status": "firing", "labels": {"alertname": "HighErrorRate", "job": "checkout"},
                 "annotations": {"description": "5xx above 5%"}, "startsAt": "2026-11-28T09:52:00Z"},
                {"status": "firing", "labels": {"alertname": "HighErrorRate", "service": "payments", "job": "x"},
                 "annotations": {"description": "5xx above 5%"}, "startsAt": "2026-11-28T09:50:30.5Z"},
                {"status": "resolved", "labels": {"service": "old"}, "startsAt": "2026-11-28T01:00:00Z"},
            ],
        }));
        let i = incident_from_alerts(&p, raw.clone(), now).unwrap();
        assert_eq!(
            i.start,
            "2026-11-28T09:45:30.5Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(i.end, Some(now));
        assert_eq!(i.services, ["checkout", "payments"]);
        assert_eq!(i.title, "HighErrorRate");
        assert_eq!(i.description, "5xx above 5%");
        assert!(i.id.starts_with("am-"));
        // A repeat of the same group later keeps the id; another group does not.
        let again =
            incident_from_alerts(&p, raw.clone(), now + chrono::Duration::minutes(4)).unwrap();
        assert_eq!(again.id, i.id);
        let (mut other, raw2) = payload(raw);
        other.group_key = "other".into();
        assert_ne!(incident_from_alerts(&other, raw2, now).unwrap().id, i.id);
    }

    #[test]
    fn bad_alert_times_are_named() {
        let now: DateTime<Utc> = "2026-11-28T10:00:00Z".parse().unwrap();
        let (p, raw) = payload(json!({"status": "firing", "alerts": [
            {"status": "firing", "labels": {}, "startsAt": "yesterday"}]}));
        let e = incident_from_alerts(&p, raw, now).unwrap_err().to_string();
        assert!(e.contains("alerts[0].startsAt `yesterday`"), "{e}");
        let (p, raw) = payload(json!({"status": "firing", "alerts": [
            {"status": "firing", "labels": {}, "startsAt": "2026-11-29T10:00:00Z"}]}));
        assert!(
            incident_from_alerts(&p, raw, now)
                .unwrap_err()
                .to_string()
                .contains("future")
        );
        // A week-old alert is investigated over the last six hours only.
        let (p, raw) = payload(json!({"status": "firing", "alerts": [
            {"status": "firing", "labels": {}, "startsAt": "2026-11-21T10:00:00Z"}]}));
        let i = incident_from_alerts(&p, raw, now).unwrap();
        assert_eq!(i.start, now - chrono::Duration::hours(6));
    }
}
