//! One paginated LIST of one collection, with the objects kept as the API server wrote them.
//!
//! The response is read as raw JSON rather than as `ObjectList<DynamicObject>`: a typed list
//! fails as a whole on one malformed item, and a typed round trip could drop or reshape fields.
//! Each item is still checked against kube's `DynamicObject` (metadata must be well formed, the
//! object must have a name); one that fails is skipped and counted. List items come without
//! `kind`/`apiVersion`, so both are filled in from the kind table.
//!
//! Pages follow the `continue` token; a token that expires (410 Gone) restarts the list from
//! the first page, a few times at most.

use kube::Client;
use kube::api::{DynamicObject, ListParams};
use kube::core::Request;
use serde::Deserialize;
use serde_json::Value;

use crate::KubeError;
use crate::settings::Target;

/// How many times an expired continue token restarts a list before it is given up.
const MAX_EXPIRED: u32 = 3;

/// The objects of one collection at one resource version.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub objects: Vec<Value>,
    /// The list's `metadata.resourceVersion`: where a watch of this collection starts.
    pub resource_version: String,
    /// Items that could not be used (each named in its error).
    pub skipped: Vec<KubeError>,
}

pub(crate) fn api_error(verb: &'static str, target: &Target, source: kube::Error) -> KubeError {
    KubeError::Api {
        verb,
        resource: target.kind.resource.to_string(),
        scope: target.scope(),
        path: target.path.clone(),
        source: Box::new(source),
    }
}

pub(crate) fn bad_object(target: &Target, reason: String) -> KubeError {
    KubeError::BadObject {
        resource: target.kind.resource.to_string(),
        scope: target.scope(),
        path: target.path.clone(),
        reason,
    }
}

fn bad_response(target: &Target, reason: String) -> KubeError {
    KubeError::Response {
        verb: "list",
        resource: target.kind.resource.to_string(),
        scope: target.scope(),
        path: target.path.clone(),
        reason,
    }
}

/// `metadata.resourceVersion` of an object, or "" when it has none.
pub(crate) fn resource_version_of(object: &Value) -> &str {
    object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Checks one object of `target`'s kind and fills in `kind` and `apiVersion` when absent.
/// The error is the reason it cannot be used.
pub(crate) fn checked_object(target: &Target, mut object: Value) -> Result<Value, String> {
    let parsed = DynamicObject::deserialize(&object).map_err(|e| format!("{e}"))?;
    let Some(name) = parsed.metadata.name.filter(|n| !n.is_empty()) else {
        return Err("object has no metadata.name".to_string());
    };
    let api = &target.kind.api;
    if let Some(types) = &parsed.types
        && (types.kind != api.kind || types.api_version != api.api_version)
    {
        return Err(format!(
            "{name} is a {} {}, not a {} {}",
            types.api_version, types.kind, api.api_version, api.kind
        ));
    }
    let Some(map) = object.as_object_mut() else {
        return Err(format!("{name} is not a JSON object"));
    };
    map.entry("kind")
        .or_insert_with(|| Value::String(api.kind.clone()));
    map.entry("apiVersion")
        .or_insert_with(|| Value::String(api.api_version.clone()));
    Ok(object)
}

/// Lists every object of `target`, `page_size` at a time.
pub(crate) async fn list(
    client: &Client,
    target: &Target,
    page_size: u32,
) -> Result<Listing, KubeError> {
    let mut expired = 0;
    'restart: loop {
        let mut listing = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(page_size);
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            let request = Request::new(&target.path)
                .list(&params)
                .map_err(|e| api_error("list", target, kube::Error::BuildRequest(e)))?;
            let mut page = match client.request::<Value>(request).await {
                Ok(page) => page,
                Err(kube::Error::Api(status)) if status.code == 410 && token.is_some() => {
                    expired += 1;
                    tracing::warn!(
                        resource = target.kind.resource,
                        scope = %target.scope(),
                        path = %target.path,
                        message = %status.message,
                        "list continue token expired; listing again from the first page"
                    );
                    if expired >= MAX_EXPIRED {
                        return Err(KubeError::ListExpired {
                            resource: target.kind.resource.to_string(),
                            scope: target.scope(),
                            path: target.path.clone(),
                            attempts: expired,
                        });
                    }
                    continue 'restart;
                }
                Err(e) => return Err(api_error("list", target, e)),
            };
            let metadata = page.get("metadata");
            let Some(version) = metadata
                .and_then(|m| m.get("resourceVersion"))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
            else {
                return Err(bad_response(
                    target,
                    "no metadata.resourceVersion".to_string(),
                ));
            };
            let next = metadata
                .and_then(|m| m.get("continue"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            let items = match page.get_mut("items").map(Value::take) {
                Some(Value::Array(items)) => items,
                Some(Value::Null) => Vec::new(),
                _ => return Err(bad_response(target, "no items array".to_string())),
            };
            for item in items {
                match checked_object(target, item) {
                    Ok(object) => listing.objects.push(object),
                    Err(reason) => {
                        let err = bad_object(target, reason);
                        tracing::warn!(error = %err, "skipped a listed object");
                        listing.skipped.push(err);
                    }
                }
            }
            listing.resource_version = version;
            match next {
                Some(next) => token = Some(next),
                None => return Ok(listing),
            }
        }
    }
}
