//! One error type for everything that can go wrong between rootline and a Kubernetes API server,
//! so that each message says which resource kind, in which namespace, at which URL path failed:
//! "pods in namespace default (/api/v1/namespaces/default/pods)" is something an operator can
//! check with kubectl; "request failed" is not.

use std::path::PathBuf;

/// What a sink returns to refuse an object; the watcher stops without advancing the checkpoint.
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the Kubernetes collector.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// A secret kind was asked for; rootline does not read secrets at all.
    #[error(
        "resource kind {name:?} is refused: rootline never reads Secrets (their values would be pulled even if masked later); remove it from resources"
    )]
    SecretsRefused { name: String },
    /// A kind name that is not in the collectable table.
    #[error("unknown resource kind {name:?}; known kinds: {known}")]
    UnknownKind { name: String, known: String },
    /// Settings that cannot describe a connection (bad URL, plain HTTP not allowed, bad namespace).
    #[error("kubernetes settings: {0}")]
    Config(String),
    /// Loading a kubeconfig file or the in-cluster configuration failed.
    #[error("kubernetes client configuration: {0}")]
    ClientConfig(String),
    /// A request to the API server failed: an HTTP error status or a transport error.
    #[error("{verb} {resource} in {scope} ({path}): {source}")]
    Api {
        verb: &'static str,
        resource: String,
        scope: String,
        path: String,
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server answered with something that is not a list or a watch event.
    #[error("{verb} {resource} in {scope} ({path}): unexpected response: {reason}")]
    Response {
        verb: &'static str,
        resource: String,
        scope: String,
        path: String,
        reason: String,
    },
    /// The API server reported an error inside a watch stream (other than 410 Gone, which
    /// leads to a re-list).
    #[error("watch {resource} in {scope} ({path}): server error {code} {reason}: {message}")]
    WatchStatus {
        resource: String,
        scope: String,
        path: String,
        code: u16,
        reason: String,
        message: String,
    },
    /// One object of a list or watch stream that could not be used; it is skipped and counted,
    /// the run goes on.
    #[error("{resource} in {scope} ({path}): skipped a bad object: {reason}")]
    BadObject {
        resource: String,
        scope: String,
        path: String,
        reason: String,
    },
    /// A paginated list kept expiring (410 on the continue token) and was given up.
    #[error("list {resource} in {scope} ({path}): the list expired {attempts} times while paging")]
    ListExpired {
        resource: String,
        scope: String,
        path: String,
        attempts: u32,
    },
    /// Reading or writing the checkpoint file failed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    /// The sink refused an object; nothing after it was checkpointed.
    #[error("sink refused {resource} in {scope} at resource version {resource_version}: {source}")]
    Sink {
        resource: String,
        scope: String,
        resource_version: String,
        #[source]
        source: SinkError,
    },
}
