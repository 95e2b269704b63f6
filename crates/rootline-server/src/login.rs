//! The browser's way in to the timeline: a login page that takes an API token, a one-time login
//! link (`rootline serve` prints one for the admin of a fresh data dir, as Jupyter does), and
//! logout. Each sets or clears an HttpOnly, SameSite=Strict session cookie; the token itself
//! never goes into the cookie (see `auth.rs`).
//!
//! | method and path | what |
//! |---|---|
//! | `GET /ui/login` | the form (a token field) |
//! | `GET /ui/login?code=…[&next=/ui/…]` | a one-time link: opens a session and goes to `next` (a page of this server's timeline, else `/ui`); a used or unknown code shows the form |
//! | `POST /ui/login` | form `token=rlt_…[&next=/ui/…]`: opens a session for a token that may read and goes to `next` |
//! | `POST /ui/logout` | ends the session and goes back to the form |
//!
//! These pages are public (they are how a credential arrives); the Host/Origin check keeps
//! another site from posting to them.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth;
use crate::error::ApiError;
use crate::text::escape_html;
use crate::timeline::html_page;

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    code: Option<String>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

/// Where to go after logging in: a timeline page of this server, else `/ui` (never another
/// site: no scheme, no `//`, no backslash).
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui")
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_owned()
        }
        _ => "/ui".to_owned(),
    }
}

fn form(message: Option<&str>, next: &str) -> String {
    let note = message.map_or_else(String::new, |m| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(m))
    });
    format!(
        "<h1>rootline</h1>{note}\
         <form method=\"post\" action=\"/ui/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"token\">API token</label> \
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required> \
         <button type=\"submit\">Log in</button></form>\
         <p>A token comes from <code>rootline token create NAME</code>; the first start of \
         <code>rootline serve</code> on a fresh data dir prints a one-time login link.</p>",
        escape_html(next)
    )
}

fn with_status(status: StatusCode, response: Response) -> Response {
    (status, response).into_response()
}

fn logged_in(cookie: String, next: &str) -> Response {
    ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
}

/// `GET /ui/login[?code=…]`.
pub(crate) async fn page(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let next = next_page(q.next.as_deref());
    match q.code {
        None => html_page("rootline login", form(None, &next)),
        Some(code) => match auth::login_with_code(&state, &code) {
            Some(cookie) => logged_in(cookie, &next),
            None => with_status(
                StatusCode::UNAUTHORIZED,
                html_page(
                    "rootline login",
                    form(
                        Some(
                            "This login link was used already, is too old, or is not from this server.",
                        ),
                        &next,
                    ),
                ),
            ),
        },
    }
}

/// `POST /ui/login` with `token=…`.
pub(crate) async fn with_token(State(state): State<AppState>, body: Bytes) -> Response {
    let (token, next) = serde_urlencoded::from_bytes::<LoginForm>(&body)
        .map(|f| (f.token, f.next))
        .unwrap_or_default();
    let next = next_page(next.as_deref());
    match auth::login_with_token(&state, &token).await {
        Ok(cookie) => logged_in(cookie, &next),
        Err(e) => {
            let (status, message) = match &e {
                ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.as_str()),
                ApiError::Unauthorized(_) => (
                    StatusCode::UNAUTHORIZED,
                    "That token is unknown, expired or revoked.",
                ),
                _ => return e.into_response(),
            };
            with_status(
                status,
                html_page("rootline login", form(Some(message), &next)),
            )
        }
    }
}

/// `POST /ui/logout`.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let clear = auth::logout(&state, &headers);
    ([(header::SET_COOKIE, clear)], Redirect::to("/ui/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::next_page;

    #[test]
    fn after_login_only_this_servers_timeline() {
        assert_eq!(
            next_page(Some("/ui/incidents/i-1?investigation=x")),
            "/ui/incidents/i-1?investigation=x"
        );
        for elsewhere in [
            "https://evil.example/ui",
            "//evil.example/ui",
            "/ui//evil",
            "/ui\\x",
            "/api/v1/audit",
        ] {
            assert_eq!(next_page(Some(elsewhere)), "/ui", "{elsewhere}");
        }
        assert_eq!(next_page(None), "/ui");
    }
}
