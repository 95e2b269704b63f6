//! Request authentication: the one place that decides who a request comes from and whether it
//! may use the route it asks for.
//!
//! Every route needs a credential except `/healthz`, `/metrics` (counts only), the chat routes
//! (which check the chat server's own signature or token) and the login pages. A credential is
//! an API token (`Authorization: Bearer rlt_…`, from `rootline token create`) or the browser
//! session cookie that `/ui/login` sets after a token or a one-time login link. Each route needs
//! one [`Scope`] ([`access`] is the table); a token carries its scopes (a collector's token can
//! only ingest), and the role checks of the governance rules still apply on top.
//!
//! A missing, unknown, expired or revoked credential is a 401 (a browser asking for a page is
//! sent to the login page instead); a credential without the route's scope is a 403 naming the
//! scope. `--no-auth` ([`AuthMode::Off`]) lets every request through without one, for a
//! throwaway demo on loopback; the governance routes still need a token, since they record who
//! acted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use rootline_actions::{Scope, sha256_hex};
use rootline_store::Credential;

use crate::AppState;
use crate::error::ApiError;
use crate::verdicts::api_error;

/// Whether requests need a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every route but the public ones needs a credential with the route's scope (the default).
    Required,
    /// No credential needed (`rootline serve --no-auth`, loopback only); verdicts, actions and
    /// the audit log still need a token.
    Off,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Public,
    Needs(Scope),
}

/// The table: the scope each route needs, by method and route template. A route missing here
/// needs the admin scope, so a route added without a thought is closed, not open.
pub(crate) fn access(method: &Method, route: &str) -> Access {
    use Scope::*;
    let write = method != Method::GET && method != Method::HEAD;
    match route {
        // The chat routes check the chat server's own signature or token (`chatops.rs`,
        // `chat_verdicts.rs`).
        "/healthz"
        | "/metrics"
        | "/chatops/slash"
        | "/chatops/interactive"
        | "/chatops/mattermost/action"
        | "/ui/login"
        | "/ui/logout" => Access::Public,
        "/api/v1/ingest/logs"
        | "/api/v1/ingest/traces"
        | "/api/v1/ingest/metrics"
        | "/v1/logs"
        | "/v1/metrics"
        | "/v1/traces" => Access::Needs(Ingest),
        // Change events and config versions come from deploy pipelines, like telemetry.
        "/api/v1/changes" | "/api/v1/configs" if write => Access::Needs(Ingest),
        "/api/v1/investigations" | "/api/v1/alerts/alertmanager" if write => {
            Access::Needs(Investigate)
        }
        "/api/v1/investigations/{id}/verdicts" if write => Access::Needs(Verdict),
        "/api/v1/actions" | "/api/v1/actions/{id}/execute" if write => Access::Needs(Act),
        "/api/v1/actions/{id}/approve" | "/api/v1/actions/{id}/reject" => Access::Needs(Approve),
        _ if !write && (route.starts_with("/api/v1/") || route.starts_with("/ui")) => {
            Access::Needs(Read)
        }
        _ => Access::Needs(Admin),
    }
}

/// Name of the browser session cookie.
pub(crate) const SESSION_COOKIE: &str = "rootline_session";
/// How long a browser session lasts without logging in again.
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a one-time login link stays usable.
pub(crate) const LOGIN_CODE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Live sessions kept at most; past it the oldest is dropped (its browser logs in again).
const MAX_SESSIONS: usize = 10_000;
/// Longest `Authorization` header or cookie value considered, in bytes.
const MAX_CREDENTIAL_LEN: usize = 512;

/// What a session is checked against on every request, so that revoking the token or
/// disabling the user ends it at once.
#[derive(Debug, Clone)]
enum Basis {
    /// Opened with this API token (kept in memory only, never in the cookie).
    Token(String),
    /// Opened with a one-time login link for this user; carries the role's default scopes.
    User(String),
}

#[derive(Debug)]
struct Session {
    basis: Basis,
    expires: Instant,
}

/// Browser sessions and one-time login codes, in memory: a restart logs browsers out, and a
/// printed link works on this process only. Keys are SHA-256 of the secrets.
#[derive(Debug, Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    codes: Mutex<HashMap<String, (String, Instant)>>,
}

fn random_secret() -> String {
    // 244 random bits from the OS generator, via two v4 uuids (as API tokens are made).
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Sessions {
    /// A one-time login code for `user` (a link `/ui/login?code=…` opens a session once).
    pub fn login_code(&self, user: &str) -> String {
        let code = random_secret();
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        codes.retain(|_, (_, expires)| *expires > Instant::now());
        codes.insert(
            sha256_hex(code.as_bytes()),
            (user.to_owned(), Instant::now() + LOGIN_CODE_TTL),
        );
        code
    }

    fn take_code(&self, code: &str) -> Option<String> {
        let mut codes = self.codes.lock().unwrap_or_else(|e| e.into_inner());
        let (user, expires) = codes.remove(&sha256_hex(code.as_bytes()))?;
        (expires > Instant::now()).then_some(user)
    }

    /// Opens a session; returns the cookie value.
    fn open(&self, basis: Basis) -> String {
        let id = random_secret();
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            sha256_hex(id.as_bytes()),
            Session {
                basis,
                expires: now + SESSION_TTL,
            },
        );
        id
    }

    fn basis(&self, cookie: &str) -> Option<Basis> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(&sha256_hex(cookie.as_bytes()))
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.basis.clone())
    }

    fn close(&self, cookie: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(&sha256_hex(cookie.as_bytes()));
    }
}

/// The bearer token of a request, if it sends one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .filter(|v| v.len() <= MAX_CREDENTIAL_LEN)?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The session cookie of a request, if it sends one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty() && v.len() <= MAX_CREDENTIAL_LEN)
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("a valid bearer token is required".to_owned())
}

/// The credential behind a token.
pub(crate) async fn token_credential(
    state: &AppState,
    token: &str,
) -> Result<Option<Credential>, ApiError> {
    let Some(svc) = state.store.governance() else {
        return Ok(None);
    };
    svc.credential(token).await.map_err(api_error)
}

/// The credential of a request: its bearer token, else its session (checked again against the
/// token or the user it was opened with). `Ok(None)` when it has none that works.
pub(crate) async fn credential_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Credential>, ApiError> {
    if let Some(token) = bearer(headers) {
        return token_credential(state, token).await;
    }
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let credential = match state.sessions.basis(cookie) {
        None => None,
        Some(Basis::Token(token)) => token_credential(state, &token).await?,
        Some(Basis::User(name)) => match state.store.governance() {
            None => None,
            Some(svc) => svc
                .user(&name)
                .await
                .map_err(api_error)?
                .filter(|u| !u.disabled)
                .map(|user| Credential {
                    scopes: user.role.default_scopes(),
                    user,
                }),
        },
    };
    if credential.is_none() {
        state.sessions.close(cookie);
    }
    Ok(credential)
}

/// Runs before every routed request: lets public routes through, and the others only with a
/// credential that has the route's scope, which it hands to the handler as a request extension.
pub(crate) async fn require(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let Access::Needs(scope) = access(req.method(), &route) else {
        return next.run(req).await;
    };
    let credential = match credential_of(&state, req.headers()).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match credential {
        Some(c) if c.allows(scope) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Some(c) => ApiError::Forbidden(format!(
            "this credential of {} may not be used for {scope} (it carries {})",
            c.user.name,
            c.scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into_response(),
        None if state.auth == AuthMode::Off => next.run(req).await,
        None if route.starts_with("/ui") && req.method() == Method::GET => {
            let back = req
                .uri()
                .path_and_query()
                .map_or("/ui", |p| p.as_str())
                .to_owned();
            let query = serde_urlencoded::to_string([("next", back)]).unwrap_or_default();
            Redirect::to(&format!("/ui/login?{query}")).into_response()
        }
        None => unauthorized().into_response(),
    }
}

/// `Set-Cookie` for a new session (`Secure` when the server is reached over https).
fn session_cookie_header(value: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// Opens a session for a one-time login code; `None` when the code is unknown, used or old.
pub(crate) fn login_with_code(state: &AppState, code: &str) -> Option<String> {
    let user = state.sessions.take_code(code.trim())?;
    let cookie = state.sessions.open(Basis::User(user));
    Some(session_cookie_header(&cookie, state.secure_cookies))
}

/// Opens a session for a token that may read; the error says why not.
pub(crate) async fn login_with_token(state: &AppState, token: &str) -> Result<String, ApiError> {
    let token = token.trim();
    let credential = token_credential(state, token)
        .await?
        .ok_or_else(unauthorized)?;
    if !credential.allows(Scope::Read) {
        return Err(ApiError::Forbidden(
            "this token may not read, so it cannot open the timeline".to_owned(),
        ));
    }
    let cookie = state.sessions.open(Basis::Token(token.to_owned()));
    Ok(session_cookie_header(&cookie, state.secure_cookies))
}

/// Ends the request's session; returns the header that clears the cookie.
pub(crate) fn logout(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(cookie) = session_cookie(headers) {
        state.sessions.close(cookie);
    }
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_but_the_public_ones_needs_a_scope_and_unknown_ones_need_admin() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(access(&get, "/healthz"), Access::Public);
        assert_eq!(access(&get, "/metrics"), Access::Public);
        assert_eq!(access(&post, "/chatops/slash"), Access::Public);
        assert_eq!(access(&get, "/ui"), Access::Needs(Scope::Read));
        assert_eq!(
            access(&get, "/ui/incidents/{id}"),
            Access::Needs(Scope::Read)
        );
        assert_eq!(access(&post, "/v1/traces"), Access::Needs(Scope::Ingest));
        assert_eq!(
            access(&post, "/api/v1/changes"),
            Access::Needs(Scope::Ingest)
        );
        assert_eq!(access(&get, "/api/v1/changes"), Access::Needs(Scope::Read));
        assert_eq!(
            access(&post, "/api/v1/alerts/alertmanager"),
            Access::Needs(Scope::Investigate)
        );
        assert_eq!(
            access(&post, "/api/v1/actions/{id}/approve"),
            Access::Needs(Scope::Approve)
        );
        assert_eq!(access(&post, "/api/v1/actions"), Access::Needs(Scope::Act));
        assert_eq!(access(&get, "/api/v1/audit"), Access::Needs(Scope::Read));
        assert_eq!(access(&post, "/api/v1/users"), Access::Needs(Scope::Admin));
        assert_eq!(
            access(&Method::DELETE, "/api/v1/incidents/{id}"),
            Access::Needs(Scope::Admin)
        );
    }

    #[test]
    fn a_login_code_works_once() {
        let sessions = Sessions::default();
        let code = sessions.login_code("admin");
        assert_eq!(sessions.take_code(&code).as_deref(), Some("admin"));
        assert_eq!(sessions.take_code(&code), None);
        assert_eq!(sessions.take_code("not-a-code"), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others_and_closed_sessions_are_gone() {
        let sessions = Sessions::default();
        let id = sessions.open(Basis::User("ada".into()));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            format!("theme=dark; {SESSION_COOKIE}={id}")
                .parse()
                .unwrap(),
        );
        let found = session_cookie(&headers).unwrap();
        assert!(matches!(sessions.basis(found), Some(Basis::User(n)) if n == "ada"));
        sessions.close(found);
        assert!(sessions.basis(found).is_none());
    }
}
