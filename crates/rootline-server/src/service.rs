//! The service the handlers call, and its implementation on the store.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use rootline_core::{Incident, Report};
use rootline_store::{InvestigationSummary, Store, StoreError};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A boxed, sendable future: what [`IncidentService`] methods return, so that the trait stays
/// object safe (`Arc<dyn IncidentService>`) without the async-trait crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a service call failed. The source is for logs only and never reaches a client.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The backing store cannot be reached or did not answer.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: corrupt data, a bug.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// Read access to incidents and investigations, as the HTTP handlers need it.
pub trait IncidentService: Send + Sync + 'static {
    /// A cheap query that succeeds only when the store answers.
    fn check_health(&self) -> BoxFuture<'_, Result<(), ServiceError>>;

    /// Every incident, newest start first.
    fn list_incidents(&self) -> BoxFuture<'_, Result<Vec<Incident>, ServiceError>>;

    fn get_incident<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, ServiceError>>;

    /// Investigations of one incident, newest first.
    fn list_investigations<'a>(
        &'a self,
        incident_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<InvestigationSummary>, ServiceError>>;

    fn get_investigation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Report>, ServiceError>>;

    /// The raw log lines frozen with an investigation (its evidence snapshot), per evidence id,
    /// a few each; empty when it has no snapshot.
    fn evidence_lines<'a>(
        &'a self,
        _investigation_id: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Vec<String>>, ServiceError>> {
        Box::pin(async { Ok(BTreeMap::new()) })
    }

    /// Change events and config versions, when this service stores them.
    fn changes(&self) -> Option<&dyn crate::ChangeService> {
        None
    }

    /// Users, verdicts, actions and the audit log, when this service stores them.
    fn governance(&self) -> Option<&dyn crate::GovernanceService> {
        None
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            // The queries are fixed and tested on both backends, so a connection or statement
            // failure at run time almost always means the database is down or unreachable.
            StoreError::Connect { .. } | StoreError::Query { .. } => {
                ServiceError::Unavailable(Box::new(e))
            }
            StoreError::BadUrl { .. }
            | StoreError::Migrate { .. }
            | StoreError::Corrupt { .. }
            | StoreError::InvalidValue { .. } => ServiceError::Internal(Box::new(e)),
        }
    }
}

impl IncidentService for Store {
    fn check_health(&self) -> BoxFuture<'_, Result<(), ServiceError>> {
        Box::pin(async move {
            self.list_ingest_runs(1).await?;
            Ok(())
        })
    }

    fn list_incidents(&self) -> BoxFuture<'_, Result<Vec<Incident>, ServiceError>> {
        Box::pin(async move { Ok(Store::list_incidents(self).await?) })
    }

    fn get_incident<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Incident>, ServiceError>> {
        Box::pin(async move { Ok(Store::get_incident(self, id).await?) })
    }

    fn list_investigations<'a>(
        &'a self,
        incident_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<InvestigationSummary>, ServiceError>> {
        Box::pin(async move { Ok(Store::list_investigations(self, incident_id).await?) })
    }

    fn get_investigation<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Report>, ServiceError>> {
        Box::pin(async move { Ok(Store::get_investigation(self, id).await?) })
    }

    fn evidence_lines<'a>(
        &'a self,
        investigation_id: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, Vec<String>>, ServiceError>> {
        Box::pin(async move {
            Ok(self
                .get_evidence_snapshot(investigation_id)
                .await?
                .map(|s| lines_of_snapshot(&s.body))
                .unwrap_or_default())
        })
    }

    fn changes(&self) -> Option<&dyn crate::ChangeService> {
        Some(self)
    }

    fn governance(&self) -> Option<&dyn crate::GovernanceService> {
        Some(self)
    }
}

/// Example lines shown per evidence item.
const LINES_PER_EVIDENCE: usize = 3;

/// The packed context's raw lines in a snapshot body (`context.items[].{evidence_id, lines[].text}`),
/// read leniently: a snapshot written by another version shows what it has.
fn lines_of_snapshot(body: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let items = body["context"]["items"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for item in items {
        let Some(id) = item["evidence_id"].as_str() else {
            continue;
        };
        let lines: Vec<String> = item["lines"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|l| l["text"].as_str())
            .take(LINES_PER_EVIDENCE)
            .map(str::to_owned)
            .collect();
        if !lines.is_empty() {
            out.insert(id.to_owned(), lines);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_lines_are_read_per_evidence_id() {
        let body = serde_json::json!({"context": {"items": [
            {"evidence_id": "ev-1", "lines": [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}]},
            {"evidence_id": "ev-2", "lines": []},
            {"lines": [{"text": "no id"}]},
        ]}});
        let lines = lines_of_snapshot(&body);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines["ev-1"], ["a", "b", "c"]);
        assert!(lines_of_snapshot(&serde_json::json!({"format": "old"})).is_empty());
    }
}
