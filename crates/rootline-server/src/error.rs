//! The one place where errors become HTTP responses.
//!
//! Handlers return [`ApiError`]; its [`IntoResponse`] picks the status and the JSON body
//! `{"error": {"code": "...", "message": "..."}}`. Server-side failures get a fixed, generic
//! message: their details (the error and its sources) go to the log, never to the client. The
//! logging happens in [`log_errors`], not in `into_response`, which only attaches the error to
//! the response.

use std::sync::Arc;

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::service::ServiceError;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404; the message is shown to the client.
    #[error("{0}")]
    NotFound(String),
    /// 400; the message is shown to the client.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid bearer token; the message is shown to the client.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the user's role or identity does not allow it; the message is shown.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the resource's state does not allow it (or a concurrent change won); shown.
    #[error("{0}")]
    Conflict(String),
    /// 415: the body is not in a format the endpoint takes; shown.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 503; the source is logged, not shown.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// 500; the source is logged, not shown.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Conflict(_) => "conflict",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// What the client is told.
    fn public_message(&self) -> String {
        match self {
            ApiError::NotFound(m)
            | ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::Conflict(m)
            | ApiError::UnsupportedMediaType(m) => m.clone(),
            ApiError::Unavailable(_) => "the service is temporarily unavailable".to_owned(),
            ApiError::Internal(_) => "internal server error".to_owned(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unavailable(_) => ApiError::Unavailable(Box::new(e)),
            ServiceError::Internal(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: says how to authenticate.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"rootline\""),
            );
        }
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

/// Logs the [`ApiError`] a response carries: server errors with their full source chain at
/// error level, client errors at debug level.
pub(crate) async fn log_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if let Some(err) = response.extensions().get::<Arc<ApiError>>() {
        let status = err.status().as_u16();
        if err.status().is_server_error() {
            tracing::error!(status, code = err.code(), error = %chain(err.as_ref()), "request failed");
        } else {
            tracing::debug!(status, code = err.code(), error = %err, "request rejected");
        }
    }
    response
}

/// `err: source: source…`
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_details_stay_in_the_log() {
        let err = ApiError::Internal("password=hunter2 in postgres://u:p@h/db".into());
        assert!(chain(&err).contains("hunter2"));
        assert_eq!(err.public_message(), "internal server error");
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
