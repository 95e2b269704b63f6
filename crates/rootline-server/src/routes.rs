//! Handlers: extract, call the service, map the result. Nothing else belongs here.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use rootline_core::{Incident, Report};
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

/// Longest id accepted in a path, in bytes.
const MAX_ID_LEN: usize = 256;

#[derive(Debug, Serialize)]
pub(crate) struct Health {
    status: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct IncidentList {
    incidents: Vec<Incident>,
}

#[derive(Debug, Serialize)]
pub(crate) struct InvestigationList {
    investigations: Vec<InvestigationSummary>,
}

/// An investigation in a listing: the wire form of [`rootline_store::InvestigationSummary`].
#[derive(Debug, Serialize)]
pub(crate) struct InvestigationSummary {
    pub(crate) id: String,
    pub(crate) incident_id: String,
    pub(crate) created_at: String,
    pub(crate) mode: String,
    pub(crate) outcome: String,
    pub(crate) top_entity: Option<String>,
}

impl From<rootline_store::InvestigationSummary> for InvestigationSummary {
    fn from(s: rootline_store::InvestigationSummary) -> Self {
        InvestigationSummary {
            id: s.id,
            incident_id: s.incident_id,
            created_at: s.created_at,
            mode: s.mode,
            outcome: s.outcome,
            top_entity: s.top_entity,
        }
    }
}

/// The `{id}` path segment, checked; a bad one is a 400 in the usual error shape.
#[derive(Debug)]
pub(crate) struct Id(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        if id.is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "ids are 1 to {MAX_ID_LEN} bytes without control characters"
            )));
        }
        Ok(Id(id))
    }
}

pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state
        .store
        .check_health()
        .await
        // Whatever the cause, a failed health check means "do not send traffic here".
        .map_err(|e| ApiError::Unavailable(Box::new(e)))?;
    Ok(Json(Health { status: "ok" }))
}

pub(crate) async fn list_incidents(
    State(state): State<AppState>,
) -> Result<Json<IncidentList>, ApiError> {
    let incidents = state.store.list_incidents().await?;
    Ok(Json(IncidentList { incidents }))
}

pub(crate) async fn get_incident(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Incident>, ApiError> {
    state
        .store
        .get_incident(&id)
        .await?
        .map(Json)
        .ok_or_else(|| incident_not_found(&id))
}

pub(crate) async fn list_investigations(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<InvestigationList>, ApiError> {
    if state.store.get_incident(&id).await?.is_none() {
        return Err(incident_not_found(&id));
    }
    let investigations = state.store.list_investigations(&id).await?;
    Ok(Json(InvestigationList {
        investigations: investigations.into_iter().map(Into::into).collect(),
    }))
}

pub(crate) async fn get_investigation(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Report>, ApiError> {
    state
        .store
        .get_investigation(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no investigation with id {id:?}")))
}

/// Fallback for paths no route matches.
pub(crate) async fn no_route() -> ApiError {
    ApiError::NotFound("no such endpoint".to_owned())
}

fn incident_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("no incident with id {id:?}"))
}
