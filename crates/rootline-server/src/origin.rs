//! Who may talk to this server from a browser. Any web page the on-call engineer opens can send
//! requests to a rootline on `localhost` (cross-site requests) or, through DNS rebinding, read
//! its answers. Three checks close that, for every request:
//! - the `Host` must be one this server answers to: loopback names, the listen address, the
//!   public URL's host and the configured allowed hosts; when listening on every interface, any
//!   IP literal too (an IP cannot be rebound; a name can);
//! - an `Origin`, when a browser sends one, must name such a host as well;
//! - a body sent to a JSON endpoint must say `application/json` (a form or `text/plain` post is
//!   what a cross-site page can send without asking); ingest endpoints keep their own formats.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The hosts this server answers to.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    names: Vec<String>,
    any_ip: bool,
}

impl AllowedHosts {
    /// For a server bound to `listen`, reached at `public_url` (when known), plus `extra` names.
    pub fn new(listen: &str, public_url: Option<&str>, extra: &[String]) -> AllowedHosts {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_string)
            .collect();
        let listen_host = host_part(listen);
        let any_ip = matches!(listen_host.as_str(), "0.0.0.0" | "::");
        if !any_ip && !listen_host.is_empty() {
            names.push(listen_host);
        }
        if let Some(url) = public_url {
            names.push(host_part(
                url.split("://")
                    .nth(1)
                    .unwrap_or(url)
                    .split('/')
                    .next()
                    .unwrap_or(""),
            ));
        }
        names.extend(extra.iter().map(|h| host_part(h)));
        AllowedHosts { names, any_ip }
    }

    pub fn allows(&self, host: &str) -> bool {
        let h = host_part(host);
        self.names.iter().any(|n| n.eq_ignore_ascii_case(&h))
            || (self.any_ip && h.parse::<std::net::IpAddr>().is_ok())
    }
}

/// `host:port`, `[::1]:port`, `host` → the host, lowercased, without brackets.
fn host_part(s: &str) -> String {
    let s = s.trim();
    let host = if let Some(rest) = s.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if s.matches(':').count() > 1 {
        s // a bare IPv6 address
    } else {
        s.split(':').next().unwrap_or("")
    };
    host.to_ascii_lowercase()
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

pub async fn check(State(allowed): State<Arc<AllowedHosts>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    if !allowed.allows(host) {
        return ApiError::Forbidden(format!(
            "Host {host:?} is not one this server answers to (add it to allowed_hosts)"
        ))
        .into_response();
    }
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        && origin != "null"
    {
        let origin_host = origin.split("://").nth(1).unwrap_or(origin);
        if !allowed.allows(origin_host) {
            return ApiError::Forbidden(format!("Origin {origin:?} may not call this server"))
                .into_response();
        }
    }
    let path = req.uri().path();
    let writes = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if writes
        && path.starts_with("/api/v1/")
        && !path.starts_with("/api/v1/ingest/")
        && !is_json(&req)
    {
        return ApiError::UnsupportedMediaType(
            "this endpoint takes a JSON body: Content-Type: application/json".into(),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_compared_without_ports_and_ips_pass_only_on_every_interface() {
        let local = AllowedHosts::new("127.0.0.1:7878", Some("https://rootline.example.com/"), &[]);
        assert!(local.allows("127.0.0.1:7878"));
        assert!(local.allows("localhost"));
        assert!(local.allows("[::1]:7878"));
        assert!(local.allows("ROOTLINE.example.com"));
        assert!(!local.allows("attacker.example"));
        assert!(!local.allows("10.0.0.5:7878"));
        let all = AllowedHosts::new("0.0.0.0:7878", None, &["ops.internal".into()]);
        assert!(all.allows("10.0.0.5:7878"));
        assert!(all.allows("ops.internal:7878"));
        assert!(!all.allows("attacker.example"));
    }
}
