//! Config files as data: parse YAML (multi-document Kubernetes manifests included), JSON, TOML,
//! INI and `.env` into a flattened, ordered map of key paths
//! (`Deployment/shop/api:spec.template.spec.containers[0].image`) to JSON scalars, mask secrets
//! on the way in, and diff two versions.
//!
//! Secrets never leave this crate unmasked: [`parse_config`] masks values whose key looks secret
//! (`password`, `token`, `api_key`, `*_KEY` in `.env`, a Kubernetes `Secret`'s `data`, the
//! `value` of an `env` entry named like a secret, …) and values that look like secrets whatever
//! their key (PEM private keys, `Bearer` tokens, AWS access key ids, JWTs, passwords inside
//! connection strings). A masked value is `***#` + 8 hex digits of a hash, so a changed secret
//! still shows in a [`ConfigDiff`] without being revealed.
//!
//! Also here, because the store, the HTTP API and the CLI must agree on them: stable ids for
//! change events ([`change_event_id`]) and the [`ChangeEvent`] a new config version produces
//! ([`config_change_event`]).
//!
//! Architecture invariant: pure. No IO (callers read the files), no tokio, no sqlx.

mod diff;
mod flat;
mod parse;
mod secrets;

use rootline_core::{ChangeEvent, ChangeKind};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use diff::{ConfigDiff, DiffChange, DiffEntry, diff};
pub use flat::FlatConfig;
pub use parse::{ConfigError, Format, ParsedConfig, detect_format, parse_config};
pub use secrets::{MASK_PREFIX, is_mask, is_secret_key, mask, mask_text};

/// `chg-` + 20 hex digits of SHA-256 over the event's time, service, kind, who and what: the
/// same event submitted twice gets the same id, so saving it again changes nothing.
pub fn change_event_id(event: &ChangeEvent) -> String {
    let kind = serde_json::to_string(&event.kind).unwrap_or_default();
    let ts = event.ts_ns.to_string();
    stable_id(
        "chg",
        &[
            &ts,
            &event.service,
            &kind,
            event.who.as_deref().unwrap_or(""),
            &event.what,
        ],
    )
}

/// `<prefix>-` + 20 hex digits of SHA-256 over the parts (NUL-separated).
pub fn stable_id(prefix: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let digest = hex::encode(h.finalize());
    format!("{prefix}-{}", &digest[..20])
}

/// The change event recorded when version `version` of config `source` differs from the one
/// before: kind [`ChangeKind::Config`], `what` = `config <source> v<N>: <summary>`, and as
/// `diff` the [`ConfigDiff`] plus `source` and `version`. Its id is derived from the source,
/// version and content hash, so it is stable.
pub fn config_change_event(
    source: &str,
    service: &str,
    version: i64,
    content_hash: &str,
    observed_at_ns: i64,
    diff: &ConfigDiff,
) -> ChangeEvent {
    let version_text = version.to_string();
    let mut body = json!({"source": source, "version": version});
    if let (Some(obj), Ok(serde_json::Value::Object(d))) =
        (body.as_object_mut(), serde_json::to_value(diff))
    {
        obj.extend(d);
    }
    ChangeEvent {
        id: stable_id("chg", &["config", source, &version_text, content_hash]),
        ts_ns: observed_at_ns,
        service: service.to_owned(),
        kind: ChangeKind::Config,
        who: None,
        what: format!("config {source} v{version}: {}", diff.summary(1)),
        diff: Some(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_ids_are_stable_and_content_derived() {
        let mut e = ChangeEvent {
            id: String::new(),
            ts_ns: 1_700_000_000_000_000_000,
            service: "checkout".into(),
            kind: ChangeKind::Deploy,
            who: Some("alice".into()),
            what: "v1.2.3".into(),
            diff: None,
        };
        let id = change_event_id(&e);
        assert!(id.starts_with("chg-") && id.len() == 24, "{id}");
        assert_eq!(id, change_event_id(&e));
        e.what = "v1.2.4".into();
        assert_ne!(id, change_event_id(&e));
    }

    #[test]
    fn config_events_carry_the_diff() {
        let old = parse_config("replicas: 2\n", None, Some(Format::Yaml))
            .unwrap()
            .config;
        let new = parse_config("replicas: 3\n", None, Some(Format::Yaml))
            .unwrap()
            .config;
        let d = diff(&old, &new);
        let e = config_change_event("deploy/api.yaml", "api", 2, &new.content_hash(), 7, &d);
        assert_eq!(e.kind, ChangeKind::Config);
        assert_eq!(
            e.what,
            "config deploy/api.yaml v2: 1 changed: replicas 2 → 3"
        );
        let body = e.diff.unwrap();
        assert_eq!(body["version"], 2);
        assert_eq!(body["source"], "deploy/api.yaml");
        assert_eq!(body["changed"][0]["new"], 3);
    }
}
