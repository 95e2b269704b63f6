//! Authentication on every route (issue #21, item 1), over HTTP on SQLite and PostgreSQL: a
//! request without a credential reaches nothing but `/healthz`, `/metrics`, the slash command
//! and the login pages; a token is held to its scopes; a browser logs in with a token or a
//! one-time link and gets an HttpOnly, SameSite=Strict session that ends with logout, with the
//! token's revocation and with the user's disabling; `--no-auth` opens reads but not governance.
//!
//! PostgreSQL tests need a server (`postgres://postgres@127.0.0.1:5432/postgres`, or
//! `ROOTLINE_TEST_POSTGRES_URL`); each gets a fresh database, dropped at the end.

#[macro_use]
mod common;

use common::{Response, TestApp, on_postgres, on_sqlite, serve_state, spawn_app};
use rootline_actions::{Role, Scope};
use rootline_server::{AppState, AuthMode};
use rootline_store::{CreatedToken, GovernanceError, LOCAL_ADMIN, Store};

on_both_backends!(
    every_route_needs_a_credential_with_its_scope,
    a_browser_logs_in_with_a_token_or_a_one_time_link,
    without_auth_reads_pass_but_governance_still_needs_a_token,
);

const CHANGE: &str = r#"{"ts":"2024-01-01T00:00:00Z","service":"payments","kind":"rollback","what":"forged rollback"}"#;

/// A token of a new user `name` with `role`, limited to `scopes` (none: the role's).
async fn created(store: &Store, name: &str, role: Role, scopes: &[Scope]) -> CreatedToken {
    store.add_user(name, role, LOCAL_ADMIN).await.unwrap();
    store
        .create_scoped_token(
            name,
            "test",
            None,
            (!scopes.is_empty()).then_some(scopes),
            LOCAL_ADMIN,
        )
        .await
        .unwrap()
}

async fn token(store: &Store, name: &str, role: Role, scopes: &[Scope]) -> String {
    created(store, name, role, scopes).await.token
}

fn bearer(token: &str) -> Vec<String> {
    vec![format!("Authorization: Bearer {token}")]
}

fn cookie(value: &str) -> Vec<String> {
    vec![format!("Cookie: theme=dark; {value}")]
}

/// `name=value` of the session cookie a response sets, after checking its attributes.
fn session_set(res: &Response) -> String {
    let set = res
        .headers
        .get("set-cookie")
        .unwrap_or_else(|| panic!("no cookie set: {res:?}"));
    assert!(set.starts_with("rootline_session="), "{set}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attribute), "{set} lacks {attribute}");
    }
    assert!(
        !set.contains("rlt_"),
        "the token itself is in the cookie: {set}"
    );
    set.split(';').next().unwrap().to_owned()
}

/// A page request without a working session: to the login page, coming back here after.
fn to_login(res: &Response, from: &str) {
    let back = format!("/ui/login?next={}", from.replace('/', "%2F"));
    redirects_to(res, &back);
}

fn redirects_to(res: &Response, to: &str) {
    assert_eq!(res.status, 303, "{res:?}");
    assert_eq!(res.headers.get("location").map(String::as_str), Some(to));
}

async fn changes_stored(app: &TestApp) -> usize {
    app.store
        .list_change_events(0, i64::MAX, None)
        .await
        .unwrap()
        .len()
}

async fn every_route_needs_a_credential_with_its_scope(url: String) {
    let app = spawn_app(&url).await;
    // Public: health, counts, the login page.
    for path in ["/healthz", "/metrics", "/ui/login"] {
        let res = app.anonymous("GET", path, None).await;
        assert_eq!(res.status, 200, "{path}: {res:?}");
    }
    // Everything else, read or write: 401 with a challenge, and nothing stored.
    let json = Some(CHANGE);
    for (method, path, body) in [
        ("GET", "/api/v1/incidents", None),
        ("GET", "/api/v1/incidents/i-1", None),
        ("GET", "/api/v1/investigations/x", None),
        ("GET", "/api/v1/changes", None),
        ("POST", "/api/v1/changes", json),
        ("POST", "/api/v1/configs", json),
        ("POST", "/api/v1/investigations", json),
        ("POST", "/api/v1/alerts/alertmanager", json),
        ("POST", "/api/v1/ingest/logs", json),
        ("POST", "/v1/logs", json),
        ("POST", "/v1/traces", json),
        ("GET", "/api/v1/audit", None),
        ("POST", "/api/v1/actions/a-1/approve", json),
    ] {
        let res = app.anonymous(method, path, body).await;
        res.assert_error(401, "unauthorized");
        assert_eq!(
            res.headers.get("www-authenticate").map(String::as_str),
            Some("Bearer realm=\"rootline\""),
            "{method} {path}"
        );
    }
    assert_eq!(changes_stored(&app).await, 0);
    // A browser asking for a page is sent to the login page.
    to_login(&app.anonymous("GET", "/ui", None).await, "/ui");
    to_login(
        &app.anonymous("GET", "/ui/incidents/i-1", None).await,
        "/ui/incidents/i-1",
    );
    // A bad token is the same 401.
    let forged = bearer("rlt_00000000000000000000000000000000000000000000000000000000000000ff");
    app.send(&forged, "GET", "/api/v1/incidents", None)
        .await
        .assert_error(401, "unauthorized");

    // A collector's token ingests and nothing else.
    let collector = bearer(&token(&app.store, "otel", Role::Responder, &[Scope::Ingest]).await);
    let res = app
        .send(
            &collector,
            "POST",
            "/api/v1/changes",
            Some(("application/json", CHANGE)),
        )
        .await;
    assert!(res.status == 201 || res.status == 200, "{res:?}");
    assert_eq!(changes_stored(&app).await, 1);
    let message = app
        .send(&collector, "GET", "/api/v1/incidents", None)
        .await
        .assert_error(403, "forbidden");
    assert!(
        message.contains("read") && message.contains("ingest"),
        "{message}"
    );
    app.send(&collector, "GET", "/ui", None)
        .await
        .assert_error(403, "forbidden");
    app.send(
        &collector,
        "POST",
        "/api/v1/investigations",
        Some(("application/json", "{}")),
    )
    .await
    .assert_error(403, "forbidden");

    // A dashboard's token reads and writes nothing.
    let dashboard = bearer(&token(&app.store, "grafana", Role::Viewer, &[]).await);
    assert_eq!(
        app.send(&dashboard, "GET", "/api/v1/changes", None)
            .await
            .status,
        200
    );
    assert_eq!(app.send(&dashboard, "GET", "/ui", None).await.status, 200);
    app.send(
        &dashboard,
        "POST",
        "/api/v1/changes",
        Some(("application/json", CHANGE)),
    )
    .await
    .assert_error(403, "forbidden");
    assert_eq!(changes_stored(&app).await, 1);

    // A token cannot carry more than its user's role.
    let err = app
        .store
        .create_scoped_token("grafana", "x", None, Some(&[Scope::Ingest]), LOCAL_ADMIN)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GovernanceError::Invalid(m) if m.contains("ingest")),
        "{err:?}"
    );
}

async fn a_browser_logs_in_with_a_token_or_a_one_time_link(url: String) {
    let store = Store::connect(&url).await.unwrap();
    let state = AppState::new(store.clone());
    // The state's clones share its sessions, so a code made now works on the running server.
    let code = state.login_code("test-admin");
    let ada_code = state.login_code("ada");
    let app = serve_state(store, state).await;

    // A token through the form.
    let vic = created(&app.store, "vic", Role::Viewer, &[]).await;
    let reader = vic.token.clone();
    let form = format!("token={reader}");
    let res = app
        .send(
            &[],
            "POST",
            "/ui/login",
            Some(("application/x-www-form-urlencoded", &form)),
        )
        .await;
    redirects_to(&res, "/ui");
    let session = cookie(&session_set(&res));
    let page = app.send(&session, "GET", "/ui", None).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("rootline incidents"));
    assert_eq!(
        app.send(&session, "GET", "/api/v1/incidents", None)
            .await
            .status,
        200
    );
    // The session carries the token's scopes: a viewer's cannot write.
    app.send(
        &session,
        "POST",
        "/api/v1/changes",
        Some(("application/json", CHANGE)),
    )
    .await
    .assert_error(403, "forbidden");
    // Another site cannot log a browser in (login CSRF).
    let foreign = vec!["Origin: http://evil.example".to_owned()];
    let res = app
        .send(
            &foreign,
            "POST",
            "/ui/login",
            Some(("application/x-www-form-urlencoded", &form)),
        )
        .await;
    assert_eq!(res.status, 403, "{res:?}");
    // Revoking the token ends the session at once.
    let token_id = vic.id;
    app.store
        .revoke_token(&token_id, LOCAL_ADMIN)
        .await
        .unwrap();
    to_login(&app.send(&session, "GET", "/ui", None).await, "/ui");

    // Wrong and under-scoped tokens get the form again.
    let res = app
        .send(
            &[],
            "POST",
            "/ui/login",
            Some(("application/x-www-form-urlencoded", "token=rlt_nope")),
        )
        .await;
    assert_eq!(res.status, 401, "{res:?}");
    assert!(!res.headers.contains_key("set-cookie"));
    assert!(res.body.contains("<form"));
    let ingest_only = token(&app.store, "otel", Role::Responder, &[Scope::Ingest]).await;
    let res = app
        .send(
            &[],
            "POST",
            "/ui/login",
            Some((
                "application/x-www-form-urlencoded",
                &format!("token={ingest_only}"),
            )),
        )
        .await;
    assert_eq!(res.status, 403, "{res:?}");

    // The one-time link works once, and goes where it says on this server only.
    let link = format!("/ui/login?code={code}&next=%2Fui%2Fincidents%2Fi-1");
    let res = app.anonymous("GET", &link, None).await;
    redirects_to(&res, "/ui/incidents/i-1");
    let admin = cookie(&session_set(&res));
    assert_eq!(app.send(&admin, "GET", "/ui", None).await.status, 200);
    let again = app.anonymous("GET", &link, None).await;
    assert_eq!(again.status, 401, "{again:?}");
    assert!(!again.headers.contains_key("set-cookie"));
    // Logout ends that session and clears the cookie.
    let res = app.send(&admin, "POST", "/ui/logout", None).await;
    redirects_to(&res, "/ui/login");
    assert!(
        res.headers
            .get("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    to_login(&app.send(&admin, "GET", "/ui", None).await, "/ui");

    // A link session ends when its user is disabled.
    app.store
        .add_user("ada", Role::Admin, LOCAL_ADMIN)
        .await
        .unwrap();
    let res = app
        .anonymous("GET", &format!("/ui/login?code={ada_code}"), None)
        .await;
    let ada = cookie(&session_set(&res));
    assert_eq!(app.send(&ada, "GET", "/ui", None).await.status, 200);
    app.store.disable_user("ada", LOCAL_ADMIN).await.unwrap();
    to_login(&app.send(&ada, "GET", "/ui", None).await, "/ui");
}

async fn without_auth_reads_pass_but_governance_still_needs_a_token(url: String) {
    let store = Store::connect(&url).await.unwrap();
    let app = serve_state(store.clone(), AppState::new(store).with_auth(AuthMode::Off)).await;
    assert_eq!(
        app.anonymous("GET", "/api/v1/incidents", None).await.status,
        200
    );
    assert_eq!(app.anonymous("GET", "/ui", None).await.status, 200);
    app.anonymous("GET", "/api/v1/actions", None)
        .await
        .assert_error(401, "unauthorized");
    // A token still counts, with its scopes.
    let reader = bearer(&token(&app.store, "vic", Role::Viewer, &[]).await);
    assert_eq!(
        app.send(&reader, "GET", "/api/v1/actions", None)
            .await
            .status,
        200
    );
    app.send(
        &reader,
        "POST",
        "/api/v1/changes",
        Some(("application/json", CHANGE)),
    )
    .await
    .assert_error(403, "forbidden");
}
