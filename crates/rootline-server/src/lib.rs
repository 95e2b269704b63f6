//! HTTP API of rootline: a JSON API over stored incidents and investigation reports.
//!
//! [`app`] builds the axum [`Router`] from an [`AppState`]; [`Application`] binds a listener
//! (port 0 works, for tests) and serves the router until ctrl-c or SIGTERM.
//!
//! # Endpoints
//!
//! | method and path | response |
//! |---|---|
//! | `GET /healthz` | `{"status":"ok"}`, or 503 when the store does not answer (no credential) |
//! | `GET /metrics` | counts in Prometheus text format (no credential) |
//! | `GET/POST /ui/login`, `POST /ui/logout` | the browser's login with a token or a one-time link (see `login.rs`) |
//! | `GET /api/v1/incidents` | `{"incidents": [Incident…]}`, newest start first |
//! | `GET /api/v1/incidents/{id}` | the [`rootline_core::Incident`], 404 when missing |
//! | `GET /api/v1/incidents/{id}/investigations` | `{"investigations": [summary…]}`, newest first; 404 when the incident is missing |
//! | `GET /api/v1/investigations/{id}` | the stored [`rootline_core::Report`], 404 when missing |
//! | `POST /api/v1/investigations`, `POST /api/v1/alerts/alertmanager` | run and store an investigation (of a window, or of a firing Alertmanager group), when [`AppState::with_investigations`] is used (see `alerts.rs`) |
//! | `/api/v1/investigations/{id}/verdicts`, `/api/v1/actions[/{id}[/approve\|reject\|execute]]`, `/api/v1/audit[/verify]` | verdicts, approval-gated actions and the audit log, bearer token required (see `verdicts.rs`) |
//! | `POST/GET /api/v1/changes`, `POST /api/v1/configs` | change events and config versions (see `changes.rs`) |
//! | `GET /ui`, `GET /ui/incidents/{id}[?investigation=ID]` | the web incident timeline: HTML, no script (see `timeline.rs`) |
//! | `GET /ui/eval` | the stored investigations scored against their latest verdicts (see `eval_page.rs`) |
//! | `POST /chatops/slash` | the Slack-compatible slash command (`investigate`, `show`, `incidents`, `verdict`), when [`AppState::with_chatops`] is used (see `chatops.rs`) |
//! | `POST /chatops/interactive`, `POST /chatops/mattermost/action` | verdict buttons on chat answers (see `chat_verdicts.rs`) |
//! | `POST /api/v1/ingest/{logs,traces,metrics}`, `POST /v1/{logs,metrics,traces}` (OTLP/HTTP) | telemetry ingest, when [`AppState::with_ingest`] is used (see `ingest.rs`) |
//!
//! Every other route needs a credential with its scope (see `auth.rs`): a missing or bad one is a
//! 401, one without the scope a 403. Every error is `{"error": {"code": "...", "message": "..."}}`
//! (see [`ApiError`]).
//!
//! # Layout
//!
//! - `routes`: the handlers. Each one extracts, calls the [`IncidentService`] in the state and
//!   maps the result to a response; no logic lives there.
//! - `error`: [`ApiError`], the one place where errors become HTTP responses, and the
//!   middleware that logs them.
//! - `service`: the [`IncidentService`] trait the handlers depend on, implemented for
//!   [`rootline_store::Store`].
//! - `auth`: the one place where a request's credential is checked against the scope its route
//!   needs (the table is `auth::access`); `login`: the browser's login pages.
//!
//! # Architecture invariant
//!
//! This is the only crate that imports axum (or knows about HTTP). Handlers are thin and reach
//! data only through the [`IncidentService`] trait object in [`AppState`], so they can be served
//! from a fake in tests and the store can change without touching them. The JSON wire format is
//! owned here.

mod alerts;
mod auth;
mod changes;
mod chat_verdicts;
mod chatops;
mod error;
mod eval_page;
mod ingest;
mod login;
mod observe;
mod origin;
mod routes;
mod service;
mod text;
mod timeline;
mod verdicts;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use auth::{AuthMode, Sessions};
pub use changes::ChangeService;
pub use chatops::{ChatMessage, ChatopsConfig, InvestigateService, slack_signature};
pub use error::ApiError;
pub use ingest::{IngestLimits, IngestService, LIMITS as INGEST_LIMITS};
pub use service::{BoxFuture, IncidentService, ServiceError};
pub use verdicts::{ActionWithApprovals, GovernanceService};

/// Largest request body accepted, in bytes (10 MiB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// What the handlers share: the services they call, as trait objects.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn IncidentService>,
    /// Runs approved actions: the dry-run executor unless [`AppState::with_executor`] is used.
    pub executor: Arc<dyn rootline_actions::Executor>,
    /// Stores telemetry posted to the ingest and OTLP endpoints; they answer 404 without it.
    pub ingest: Option<Arc<dyn IngestService>>,
    /// Runs investigations for the slash command's `investigate`; without it the command only
    /// shows stored ones.
    pub investigations: Option<Arc<dyn InvestigateService>>,
    /// Enables `POST /chatops/slash`; it answers 404 without it.
    pub chatops: Option<Arc<ChatopsConfig>>,
    /// Host names this server answers to besides loopback, its listen address and the chat
    /// public URL's host (a reverse proxy's name, a DNS name on the LAN).
    pub allowed_hosts: Vec<String>,
    /// Whether requests need a credential ([`AuthMode::Required`] unless changed).
    pub auth: AuthMode,
    /// Browser sessions and one-time login codes.
    pub sessions: Arc<Sessions>,
    /// Whether the session cookie is marked `Secure` (the server is reached over https).
    pub secure_cookies: bool,
}

impl AppState {
    pub fn new(store: impl IncidentService) -> AppState {
        AppState {
            store: Arc::new(store),
            executor: Arc::new(rootline_actions::DryRunExecutor),
            ingest: None,
            investigations: None,
            chatops: None,
            allowed_hosts: Vec::new(),
            auth: AuthMode::Required,
            sessions: Arc::default(),
            secure_cookies: false,
        }
    }

    /// Whether requests need a credential. [`AuthMode::Off`] is for a throwaway demo on
    /// loopback: `rootline serve --no-auth` refuses any other address.
    pub fn with_auth(mut self, auth: AuthMode) -> AppState {
        self.auth = auth;
        self
    }

    /// Marks the session cookie `Secure`, for a server reached over https.
    pub fn with_secure_cookies(mut self, secure: bool) -> AppState {
        self.secure_cookies = secure;
        self
    }

    /// A one-time login link's code for `user`: `/ui/login?code=<it>` opens a browser session
    /// as that user once (within a day, on this process).
    pub fn login_code(&self, user: &str) -> String {
        self.sessions.login_code(user)
    }

    /// Lets the slash command run investigations over what the server has ingested.
    pub fn with_investigations(mut self, investigations: Arc<dyn InvestigateService>) -> AppState {
        self.investigations = Some(investigations);
        self
    }

    /// Host names to answer to besides loopback, the listen address and the public URL's host.
    pub fn with_allowed_hosts(mut self, hosts: Vec<String>) -> AppState {
        self.allowed_hosts = hosts;
        self
    }

    /// Enables the slash command (`POST /chatops/slash`).
    pub fn with_chatops(mut self, config: ChatopsConfig) -> AppState {
        self.chatops = Some(Arc::new(config));
        self
    }

    /// Enables `POST /api/v1/ingest/*` and the OTLP/HTTP receiver (`POST /v1/*`).
    pub fn with_ingest(mut self, ingest: Arc<dyn IngestService>) -> AppState {
        self.ingest = Some(ingest);
        self
    }

    /// Uses `executor` (e.g. a `WebhookExecutor`) for `POST /api/v1/actions/{id}/execute`.
    pub fn with_executor(mut self, executor: impl rootline_actions::Executor) -> AppState {
        self.executor = Arc::new(executor);
        self
    }
}

/// The whole HTTP API as a router, ready to serve.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/incidents", get(routes::list_incidents))
        .route("/incidents/{id}", get(routes::get_incident))
        .route(
            "/incidents/{id}/investigations",
            get(routes::list_investigations),
        )
        .route("/investigations", post(alerts::run_investigation))
        .route("/investigations/{id}", get(routes::get_investigation))
        .route("/alerts/alertmanager", post(alerts::alertmanager))
        .merge(changes::routes())
        .merge(verdicts::routes())
        .merge(ingest::api_routes());

    Router::new()
        .route("/healthz", get(routes::healthz))
        // Counts for Prometheus; no credential, like /healthz (no data in it).
        .route("/metrics", get(observe::metrics_page))
        // Authenticated by the chat server's signature or token, not by a bearer token.
        .route("/chatops/slash", post(chatops::slash))
        // Chat buttons: Slack's signature, or a context only this server can sign.
        .route(
            "/chatops/interactive",
            post(chat_verdicts::slack_interactive),
        )
        .route(
            "/chatops/mattermost/action",
            post(chat_verdicts::mattermost_action),
        )
        // The web incident timeline: HTML over the same read services as the JSON API.
        .route("/ui", get(timeline::incidents_page))
        .route("/ui/incidents/{id}", get(timeline::incident_page))
        .route("/ui/eval", get(eval_page::page))
        .route("/ui/login", get(login::page).post(login::with_token))
        .route("/ui/logout", post(login::logout))
        .nest("/api/v1", api)
        .merge(ingest::otlp_routes())
        // Every routed request needs the scope its route template needs (`auth::access`).
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require))
        // Every routed request counted by its route template (after routing, so the template
        // is known).
        .route_layer(middleware::from_fn(observe::track))
        .fallback(routes::no_route)
        .with_state(state)
        .layer(
            // Outermost first.
            ServiceBuilder::new()
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(middleware::from_fn(error::log_errors))
                .layer(middleware::map_response(ingest::json_errors))
                // The limit is enforced here for every body; axum's per-extractor default
                // (2 MiB) would otherwise apply first.
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
                .layer(DefaultBodyLimit::disable()),
        )
}

/// The span each request runs in, named after its route template rather than its raw path.
fn request_span(req: &Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    // Requests to the OTLP receiver get a span of their own name, which rootline never exports
    // (`rootline_telemetry::OTLP_REQUEST_SPAN`): exporting its own spans to its own receiver
    // would otherwise make every export produce a span to export.
    if req.uri().path().starts_with("/v1/") {
        return tracing::info_span!(
            "otlp_request",
            otel.name = format!("{} {route}", req.method()),
            otel.kind = "server",
            http.route = route,
        );
    }
    tracing::info_span!(
        "http_request",
        otel.name = format!("{} {route}", req.method()),
        otel.kind = "server",
        http.request.method = %req.method(),
        http.route = route,
        url.path = req.uri().path(),
    )
}

/// A client has this long to send a request's headers, and then its body, before the
/// connection is closed: a slow or stalled client cannot hold connections (and file
/// descriptors) forever.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// The HTTP server: a bound listener and the router it serves.
pub struct Application {
    listener: TcpListener,
    router: Router,
    header_read_timeout: std::time::Duration,
}

impl Application {
    /// Binds `listen` (e.g. `127.0.0.1:8080`, or `127.0.0.1:0` for any free port).
    pub async fn build(listen: &str, state: AppState) -> io::Result<Application> {
        let listener = TcpListener::bind(listen).await?;
        let bound = listener.local_addr()?.to_string();
        let public_url = state.chatops.as_ref().and_then(|c| c.public_url.clone());
        let allowed = Arc::new(origin::AllowedHosts::new(
            &bound,
            public_url.as_deref(),
            &state.allowed_hosts,
        ));
        let router = app(state)
            .layer(middleware::from_fn_with_state(allowed, origin::check))
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                BODY_READ_TIMEOUT,
            ));
        Ok(Application {
            listener,
            router,
            header_read_timeout: HEADER_READ_TIMEOUT,
        })
    }

    /// Another header read timeout (tests use a short one).
    pub fn with_header_read_timeout(mut self, timeout: std::time::Duration) -> Application {
        self.header_read_timeout = timeout;
        self
    }

    /// The port actually bound (useful after binding port 0).
    pub fn port(&self) -> u16 {
        self.local_addr().map_or(0, |a| a.port())
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until ctrl-c (or SIGTERM on Unix), then stops accepting and lets in-flight
    /// requests finish.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until<F>(self, signal: F) -> io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tracing::info!(addr = ?self.listener.local_addr().ok(), "serving http");
        use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let signal = signal;
        tokio::pin!(signal);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(c) => c,
                        Err(e) => {
                            // Out of file descriptors and the like: wait, do not spin.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let service = hyper_util::service::TowerToHyperService::new(self.router.clone());
                    let connection = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    let watched = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = watched.await;
                    });
                }
                () = &mut signal => break,
            }
        }
        drop(self.listener);
        graceful.shutdown().await;
        Ok(())
    }
}

/// Completes on ctrl-c or, on Unix, SIGTERM. A handler that cannot be installed never fires.
async fn shutdown_signal() {
    let ctrl_c = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("ctrl-c received, shutting down"),
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for ctrl-c");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
                tracing::info!("SIGTERM received, shutting down");
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
