//! The only crate in rootline that talks to a Kubernetes API server, and only to read.
//!
//! Root-cause analysis needs the cluster's state next to the telemetry: which pods restart,
//! which deployment rolled out, what the events say. This crate collects it in two ways, both
//! with one code path for every kind (kube's dynamic `Api<DynamicObject>` over an
//! `ApiResource` built from the `k8s-openapi` types):
//!
//! - [`snapshot`]: one paginated LIST of every configured kind in every configured namespace
//!   (`rootline k8s snapshot --namespace NS --out DIR`);
//! - [`watch`]: LIST then WATCH, each object handed to a [`Sink`], resumable from a checkpoint
//!   file without loss or duplication (module `watch` explains how).
//!
//! Objects are handed out as `serde_json::Value`, as the API server returned them (list items
//! get their `kind` and `apiVersion` back). Secrets are never read: they are not among the
//! default kinds and asking for them is an error ([`KubeError::SecretsRefused`]). The RBAC that
//! grants exactly this read access is `deploy/kubernetes/rbac.yaml`.

mod checkpoint;
mod error;
mod kinds;
mod list;
mod settings;
mod watch;

use serde_json::Value;

pub use error::{KubeError, SinkError};
pub use kinds::{Kind, default_kinds};
pub use settings::KubeSettings;
pub use watch::{EventType, Observed, Relist, Sink, WatchSummary, watch};

/// The result of a snapshot with the objects that had to be skipped.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Every object listed, kind by kind in the configured order.
    pub objects: Vec<Value>,
    /// One error per bad object skipped (each names kind, namespace and URL path).
    pub skipped: Vec<KubeError>,
}

/// Lists every configured kind in every configured namespace once and returns the objects;
/// bad objects are skipped (and logged), see [`snapshot_counted`] for the count.
pub async fn snapshot(settings: &KubeSettings) -> Result<Vec<Value>, KubeError> {
    let snapshot = snapshot_counted(settings).await?;
    if !snapshot.skipped.is_empty() {
        tracing::warn!(
            skipped = snapshot.skipped.len(),
            "snapshot skipped bad objects"
        );
    }
    Ok(snapshot.objects)
}

/// [`snapshot`], also returning the errors of the objects it skipped.
pub async fn snapshot_counted(settings: &KubeSettings) -> Result<Snapshot, KubeError> {
    let connection = settings.connect().await?;
    let mut snapshot = Snapshot::default();
    for target in &connection.targets {
        let listing = list::list(&connection.client, target, settings.page_size).await?;
        tracing::info!(
            resource = target.kind.resource,
            scope = %target.scope(),
            objects = listing.objects.len(),
            resource_version = %listing.resource_version,
            "listed"
        );
        snapshot.objects.extend(listing.objects);
        snapshot.skipped.extend(listing.skipped);
    }
    Ok(snapshot)
}
