//! How rootline reaches a cluster and what it reads there, as one serde struct the CLI config
//! file can hold (`[kubernetes]`), and the step that turns it into a kube `Client` plus one
//! target per (kind, namespace) to list and watch.
//!
//! Connection, in order: an explicit `server` URL (with an optional bearer `token`; plain
//! `http://` only with `insecure_http = true`, meant for local test servers), else a
//! `kubeconfig` file (optional `context`), else kube's inference (`$KUBECONFIG` or
//! `~/.kube/config`, then the in-cluster service account).

use std::path::PathBuf;
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Deserialize;

use crate::KubeError;
use crate::kinds::{self, Kind};

/// Settings of the Kubernetes collector. Every key is optional; unknown keys are refused.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubeSettings {
    /// API server URL, e.g. `https://10.0.0.1:6443`; overrides kubeconfig and inference.
    pub server: Option<String>,
    /// Bearer token sent with `server` (never printed by `Debug`).
    pub token: Option<String>,
    /// Allow a plain `http://` server URL (local test servers only).
    pub insecure_http: bool,
    /// A kubeconfig file to read instead of inferring one.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the file's current context).
    pub context: Option<String>,
    /// Namespaces to read; empty means all namespaces. Cluster-scoped kinds (nodes) are read
    /// once either way.
    pub namespaces: Vec<String>,
    /// Resource kinds to read, by plural (`pods`) or kind (`Pod`) name. Secrets are refused.
    pub resources: Vec<String>,
    /// Objects per LIST page (`limit`); later pages follow the `continue` token.
    pub page_size: u32,
    /// `timeoutSeconds` of each WATCH request; the watcher re-watches when it ends.
    pub watch_timeout_secs: u32,
}

impl Default for KubeSettings {
    fn default() -> Self {
        Self {
            server: None,
            token: None,
            insecure_http: false,
            kubeconfig: None,
            context: None,
            namespaces: Vec::new(),
            resources: kinds::default_resource_names(),
            page_size: 500,
            watch_timeout_secs: 290,
        }
    }
}

impl std::fmt::Debug for KubeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeSettings")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("insecure_http", &self.insecure_http)
            .field("kubeconfig", &self.kubeconfig)
            .field("context", &self.context)
            .field("namespaces", &self.namespaces)
            .field("resources", &self.resources)
            .field("page_size", &self.page_size)
            .field("watch_timeout_secs", &self.watch_timeout_secs)
            .finish()
    }
}

impl KubeSettings {
    /// Settings for a plain-HTTP server without authentication (a test server on 127.0.0.1),
    /// reading every default kind in every namespace.
    pub fn for_test_server(url: impl Into<String>) -> Self {
        Self {
            server: Some(url.into()),
            insecure_http: true,
            ..Self::default()
        }
    }

    /// The kinds to read, checked: secrets refused, unknown names rejected.
    pub fn kinds(&self) -> Result<Vec<Kind>, KubeError> {
        kinds::resolve(&self.resources)
    }

    fn check_namespaces(&self) -> Result<(), KubeError> {
        for ns in &self.namespaces {
            let ok = !ns.is_empty()
                && ns.len() <= 63
                && ns
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !ns.starts_with('-')
                && !ns.ends_with('-');
            if !ok {
                return Err(KubeError::Config(format!(
                    "namespace {ns:?} is not a valid Kubernetes namespace name"
                )));
            }
        }
        Ok(())
    }

    async fn config(&self) -> Result<Config, KubeError> {
        if let Some(server) = &self.server {
            if self.kubeconfig.is_some() {
                return Err(KubeError::Config(
                    "set either server or kubeconfig, not both".to_string(),
                ));
            }
            let mut config = Config::new(
                server
                    .parse()
                    .map_err(|e| KubeError::Config(format!("server URL {server:?}: {e}")))?,
            );
            match config.cluster_url.scheme_str() {
                Some("https") => {}
                Some("http") if self.insecure_http => {}
                Some("http") => {
                    return Err(KubeError::Config(format!(
                        "server URL {server:?} is plain http; set insecure_http = true only for a local test server"
                    )));
                }
                _ => {
                    return Err(KubeError::Config(format!(
                        "server URL {server:?} needs an https:// (or, for tests, http://) scheme"
                    )));
                }
            }
            if let Some(token) = &self.token {
                config.auth_info.token = Some(token.clone().into());
            }
            return Ok(config);
        }
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..KubeConfigOptions::default()
        };
        let loaded = match &self.kubeconfig {
            Some(path) => match Kubeconfig::read_from(path) {
                Ok(file) => Config::from_custom_kubeconfig(file, &options)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display())),
                Err(e) => Err(format!("{}: {e}", path.display())),
            },
            None if self.context.is_some() => Config::from_kubeconfig(&options)
                .await
                .map_err(|e| e.to_string()),
            None => Config::infer().await.map_err(|e| e.to_string()),
        };
        loaded.map_err(KubeError::ClientConfig)
    }

    /// Builds the client and the list of (kind, namespace) targets, refusing bad settings
    /// before any request is sent. Also returns the server URL, which the checkpoint records.
    pub(crate) async fn connect(&self) -> Result<Connection, KubeError> {
        let kinds = self.kinds()?;
        self.check_namespaces()?;
        if self.page_size == 0 {
            return Err(KubeError::Config(
                "page_size must be at least 1".to_string(),
            ));
        }
        if !(1..295).contains(&self.watch_timeout_secs) {
            return Err(KubeError::Config(
                "watch_timeout_secs must be between 1 and 294".to_string(),
            ));
        }
        let mut config = self.config().await?;
        // A watch answers at least every `timeoutSeconds`; a connection silent for longer is
        // dead, and the watcher re-watches from the last resource version.
        config.read_timeout = Some(Duration::from_secs(u64::from(self.watch_timeout_secs) + 15));
        let server = config.cluster_url.to_string();
        let client =
            Client::try_from(config).map_err(|e| KubeError::ClientConfig(e.to_string()))?;
        let mut targets = Vec::new();
        for kind in kinds {
            if !kind.namespaced || self.namespaces.is_empty() {
                targets.push(Target::new(&client, kind, None));
            } else {
                for ns in &self.namespaces {
                    targets.push(Target::new(&client, kind.clone(), Some(ns.clone())));
                }
            }
        }
        Ok(Connection {
            client,
            server,
            targets,
        })
    }
}

pub(crate) struct Connection {
    pub client: Client,
    pub server: String,
    pub targets: Vec<Target>,
}

/// One collection to list and watch: a kind in one namespace, in all namespaces, or (for a
/// cluster-scoped kind) in the cluster.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub kind: Kind,
    pub namespace: Option<String>,
    /// The collection's URL path, e.g. `/apis/apps/v1/namespaces/default/deployments`.
    pub path: String,
}

impl Target {
    fn new(client: &Client, kind: Kind, namespace: Option<String>) -> Self {
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &kind.api),
            None => Api::all_with(client.clone(), &kind.api),
        };
        let path = api.resource_url().to_string();
        Self {
            kind,
            namespace,
            path,
        }
    }

    /// "namespace default", "all namespaces" or "the cluster", for messages.
    pub fn scope(&self) -> String {
        match (&self.namespace, self.kind.namespaced) {
            (Some(ns), _) => format!("namespace {ns}"),
            (None, true) => "all namespaces".to_string(),
            (None, false) => "the cluster".to_string(),
        }
    }

    /// The checkpoint key: `pods/default`, `pods/*` (all namespaces), `nodes` (cluster-scoped).
    pub fn key(&self) -> String {
        match (&self.namespace, self.kind.namespaced) {
            (Some(ns), _) => format!("{}/{ns}", self.kind.resource),
            (None, true) => format!("{}/*", self.kind.resource),
            (None, false) => self.kind.resource.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_needs_the_test_switch_and_targets_follow_the_namespaces() {
        let mut settings = KubeSettings {
            server: Some("http://127.0.0.1:9".into()),
            namespaces: vec!["default".into(), "shop".into()],
            resources: vec!["pods".into(), "nodes".into()],
            ..KubeSettings::default()
        };
        let err = settings.connect().await.err().unwrap();
        assert!(err.to_string().contains("insecure_http"), "{err}");
        settings.insecure_http = true;
        let conn = settings.connect().await.unwrap();
        let paths: Vec<_> = conn.targets.iter().map(|t| t.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/api/v1/namespaces/default/pods",
                "/api/v1/namespaces/shop/pods",
                "/api/v1/nodes"
            ]
        );
        let keys: Vec<_> = conn.targets.iter().map(Target::key).collect();
        assert_eq!(keys, ["pods/default", "pods/shop", "nodes"]);
        settings.namespaces = Vec::new();
        let conn = settings.connect().await.unwrap();
        let paths: Vec<_> = conn.targets.iter().map(|t| t.path.as_str()).collect();
        assert_eq!(paths, ["/api/v1/pods", "/api/v1/nodes"]);
        assert_eq!(conn.targets[0].key(), "pods/*");
        assert_eq!(conn.targets[0].scope(), "all namespaces");
        settings.namespaces = vec!["../etc".into()];
        assert!(settings.connect().await.is_err());
    }

    #[test]
    fn settings_deserialize_with_defaults_and_hide_the_token() {
        let s: KubeSettings = serde_json::from_str(
            r#"{"server": "https://k8s.example:6443", "token": "abc", "namespaces": ["shop"]}"#,
        )
        .unwrap();
        assert_eq!(s.resources.len(), 15);
        assert_eq!(s.page_size, 500);
        assert!(!format!("{s:?}").contains("abc"));
        let unknown = serde_json::from_str::<KubeSettings>(r#"{"namespace": "shop"}"#);
        assert!(unknown.is_err());
    }
}
