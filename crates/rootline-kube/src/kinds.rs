//! The resource kinds rootline may read, in one table, so that the collector, the RBAC manifest
//! (`deploy/kubernetes/rbac.yaml`) and the refusal of secrets all answer to the same list.
//!
//! Each kind's group, version, kind and plural come from the `k8s-openapi` type (no hand-typed
//! URL segments), and whether it lives in a namespace from the type's scope. Secrets are not in
//! the table and are refused by name: masking happens elsewhere, but rootline never pulls secret
//! values in the first place.

use std::any::TypeId;

use k8s_openapi::api::{apps, autoscaling, batch, core, networking};
use k8s_openapi::{NamespaceResourceScope, Resource};
use kube::api::ApiResource;

use crate::KubeError;

/// One collectable resource kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    /// The plural resource name used in URLs, RBAC rules, checkpoint keys and
    /// [`Observed::resource`](crate::Observed::resource): `pods`, `deployments`, ...
    pub resource: &'static str,
    /// Group, version, kind and plural for kube's dynamic API.
    pub api: ApiResource,
    /// Namespaced (`/namespaces/NS/pods`) or cluster-scoped (`/api/v1/nodes`).
    pub namespaced: bool,
}

fn kind<K>() -> Kind
where
    K: Resource + 'static,
{
    Kind {
        resource: K::URL_PATH_SEGMENT,
        api: ApiResource {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            api_version: K::API_VERSION.to_string(),
            kind: K::KIND.to_string(),
            plural: K::URL_PATH_SEGMENT.to_string(),
        },
        namespaced: TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>(),
    }
}

/// Every kind rootline collects by default, in this order. Secrets are deliberately absent.
pub fn default_kinds() -> Vec<Kind> {
    vec![
        kind::<core::v1::Event>(),
        kind::<core::v1::Pod>(),
        kind::<apps::v1::Deployment>(),
        kind::<apps::v1::ReplicaSet>(),
        kind::<apps::v1::StatefulSet>(),
        kind::<apps::v1::DaemonSet>(),
        kind::<batch::v1::Job>(),
        kind::<core::v1::Service>(),
        kind::<core::v1::Endpoints>(),
        kind::<core::v1::ConfigMap>(),
        kind::<networking::v1::NetworkPolicy>(),
        kind::<core::v1::Node>(),
        kind::<core::v1::PersistentVolumeClaim>(),
        kind::<autoscaling::v2::HorizontalPodAutoscaler>(),
        kind::<core::v1::ResourceQuota>(),
    ]
}

/// The default resource names, as `KubeSettings::resources` holds them.
pub fn default_resource_names() -> Vec<String> {
    default_kinds()
        .into_iter()
        .map(|k| k.resource.to_string())
        .collect()
}

fn is_secret(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "secret" | "secrets" | "secret.v1" | "secrets.v1" | "v1/secret" | "v1/secrets"
    )
}

/// Resolves names (plural `pods`, kind `Pod`, singular `pod`; case-insensitive) to kinds, in
/// the order given, without duplicates. Secrets are refused; unknown names are an error that
/// lists the known ones.
pub fn resolve(names: &[String]) -> Result<Vec<Kind>, KubeError> {
    let table = default_kinds();
    let mut out: Vec<Kind> = Vec::new();
    for name in names {
        if is_secret(name) {
            return Err(KubeError::SecretsRefused { name: name.clone() });
        }
        let wanted = name.trim().to_ascii_lowercase();
        let found = table
            .iter()
            .find(|k| k.resource == wanted || k.api.kind.to_ascii_lowercase() == wanted);
        match found {
            Some(k) if !out.iter().any(|o| o.resource == k.resource) => out.push(k.clone()),
            Some(_) => {}
            None => {
                return Err(KubeError::UnknownKind {
                    name: name.clone(),
                    known: table
                        .iter()
                        .map(|k| k.resource)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(KubeError::Config(
            "no resource kinds to collect (resources is empty)".to_string(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_api_paths() {
        let kinds = default_kinds();
        assert_eq!(kinds.len(), 15);
        let pods = &kinds[1];
        assert_eq!(
            (
                pods.resource,
                pods.api.api_version.as_str(),
                pods.namespaced
            ),
            ("pods", "v1", true)
        );
        let hpa = kinds
            .iter()
            .find(|k| k.api.kind == "HorizontalPodAutoscaler")
            .unwrap();
        assert_eq!(hpa.api.api_version, "autoscaling/v2");
        let nodes = kinds.iter().find(|k| k.resource == "nodes").unwrap();
        assert!(!nodes.namespaced);
        assert_eq!(kinds[0].resource, "events");
        assert_eq!(kinds[0].api.group, "");
        assert!(kinds.iter().all(|k| !is_secret(k.resource)));
    }

    /// `deploy/kubernetes/rbac.yaml` grants get/list/watch on exactly the collected kinds.
    #[test]
    fn the_rbac_manifest_grants_exactly_these_kinds() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/kubernetes/rbac.yaml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let list = |line: &str, key: &str| -> Option<Vec<String>> {
            let rest = line.trim().trim_start_matches("- ").strip_prefix(key)?;
            let inner = rest.trim().strip_prefix('[')?.strip_suffix(']')?;
            Some(
                inner
                    .split(',')
                    .map(|s| s.trim().trim_matches('"').to_string())
                    .collect(),
            )
        };
        let mut granted = Vec::new();
        let mut group = None;
        // Uncommented lines only: the ClusterRole (the Role variant is commented out).
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            if let Some(groups) = list(line, "apiGroups:") {
                group = groups.into_iter().next();
            } else if let Some(resources) = list(line, "resources:") {
                let g = group.clone().unwrap();
                granted.extend(resources.into_iter().map(|r| (g.clone(), r)));
            } else if let Some(verbs) = list(line, "verbs:") {
                assert_eq!(verbs, ["get", "list", "watch"]);
            }
        }
        granted.sort();
        let mut wanted: Vec<_> = default_kinds()
            .into_iter()
            .map(|k| (k.api.group, k.resource.to_string()))
            .collect();
        wanted.sort();
        assert_eq!(granted, wanted);
    }

    #[test]
    fn names_resolve_by_plural_or_kind_and_secrets_are_refused() {
        let got = resolve(&["Pod".into(), "deployments".into(), "pods".into()]).unwrap();
        let names: Vec<_> = got.iter().map(|k| k.resource).collect();
        assert_eq!(names, ["pods", "deployments"]);
        for bad in ["secrets", "Secret", " SECRETS "] {
            let err = resolve(&["pods".into(), bad.into()]).unwrap_err();
            assert!(matches!(err, KubeError::SecretsRefused { .. }), "{err}");
        }
        let err = resolve(&["widgets".into()]).unwrap_err();
        assert!(err.to_string().contains("widgets"), "{err}");
        assert!(err.to_string().contains("configmaps"), "{err}");
    }
}
