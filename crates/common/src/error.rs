//! The one error type every HTTP handler returns, rendered as RFC 7807 `application/problem+json`.
//!
//! Policy: each [`ErrorCode`] has a stable snake_case `code` and one HTTP status (the table below),
//! so clients can branch on `code` without parsing text. Client mistakes are 4xx with a precise
//! `detail`; server faults are 5xx with a generic `detail` while the cause goes to the log once,
//! here, where the response is built. Infrastructure errors are mapped in one place ([`From`] impls):
//! not found → 404, unique violation → 409, pool timeout or database down → 503 with `Retry-After`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::borrow::Cow;
use std::fmt;

pub type ApiResult<T> = Result<T, ApiError>;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The stable error codes and their statuses, one row each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    InvalidQuery,
    InvalidPath,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnprocessableEntity,
    TooManyRequests,
    Internal,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            BadRequest | InvalidJson | InvalidQuery | InvalidPath | ValidationFailed => StatusCode::BAD_REQUEST,
            Unauthorized => StatusCode::UNAUTHORIZED,
            Forbidden => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Conflict => StatusCode::CONFLICT,
            PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UnprocessableEntity => StatusCode::UNPROCESSABLE_ENTITY,
            TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            BadGateway => StatusCode::BAD_GATEWAY,
            ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "bad_request",
            InvalidJson => "invalid_json",
            InvalidQuery => "invalid_query",
            InvalidPath => "invalid_path",
            ValidationFailed => "validation_failed",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Conflict => "conflict",
            PreconditionFailed => "precondition_failed",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            UnprocessableEntity => "unprocessable_entity",
            TooManyRequests => "too_many_requests",
            Internal => "internal_error",
            BadGateway => "bad_gateway",
            ServiceUnavailable => "service_unavailable",
            GatewayTimeout => "gateway_timeout",
        }
    }
}

/// One invalid input field, reported in the problem's `errors` member.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// An error that becomes a problem+json response.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: Cow<'static, str>,
    errors: Vec<FieldError>,
    retry_after_secs: Option<u64>,
    /// The underlying cause of a server fault, logged but never sent to the client.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self { code, detail: detail.into(), errors: Vec::new(), retry_after_secs: None, source: None }
    }

    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::BadRequest, detail)
    }
    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }
    pub fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }
    pub fn unauthorized(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, detail)
    }
    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }
    /// Invalid fields, each with its own message.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut err = Self::new(ErrorCode::ValidationFailed, "the request has invalid fields");
        err.errors = errors;
        err
    }
    /// A dependency is down or saturated; the client may retry after the given seconds.
    pub fn unavailable(detail: impl Into<Cow<'static, str>>, retry_after_secs: u64) -> Self {
        let mut err = Self::new(ErrorCode::ServiceUnavailable, detail);
        err.retry_after_secs = Some(retry_after_secs);
        err
    }
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut err = Self::new(ErrorCode::TooManyRequests, "too many requests, slow down");
        err.retry_after_secs = Some(retry_after_secs);
        err
    }
    /// A server fault: the client sees a generic message, the cause is logged.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut err = Self::new(ErrorCode::Internal, "an internal error occurred");
        err.source = Some(cause.into());
        err
    }

    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Attaches the underlying cause of any error (e.g. the transport error behind a gateway 502),
    /// logged with a 5xx but never sent to the client.
    pub fn with_source(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.source = Some(cause.into());
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
    pub fn detail(&self) -> &str {
        &self.detail
    }
    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)?;
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The JSON body of a problem response.
#[derive(Debug, Serialize)]
pub struct ProblemBody<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'a str,
    pub status: u16,
    pub detail: &'a str,
    pub code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    pub errors: &'a [FieldError],
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The one place a server fault is logged; the client gets only the generic detail.
            tracing::error!(error.code = self.code.as_str(), error.cause = %self, "request failed");
        }
        let body = ProblemBody {
            kind: format!("https://shop.example/problems/{}", self.code.as_str()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: &self.detail,
            code: self.code.as_str(),
            request_id: crate::http::request_id::current(),
            errors: &self.errors,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs));
        }
        response.body(serde_json::to_string(&body).unwrap_or_else(|_| "{}".into()))
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match &err {
            Error::NotFound => Self::not_found("the resource does not exist"),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::conflict(format!("already exists ({})", info.constraint_name().unwrap_or("unique key")))
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                let mut api = Self::unavailable("the database is unavailable", 2);
                api.source = Some(err.into());
                api
            }
            _ => Self::internal(err),
        }
    }
}

impl From<crate::db::PoolError> for ApiError {
    fn from(err: crate::db::PoolError) -> Self {
        let mut api = Self::unavailable("the database is unavailable or saturated", 2);
        api.source = Some(err.into());
        api
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_json(err: &ApiError) -> serde_json::Value {
        let bytes = err.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn renders_problem_json_with_code_and_fields() {
        let err = ApiError::validation(vec![FieldError::new("price", "must not be negative")]);
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers().get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
        let body = body_json(&err);
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["status"], 400);
        assert_eq!(body["errors"][0]["field"], "price");
    }

    #[test]
    fn server_faults_hide_their_cause() {
        let err = ApiError::internal(anyhow::anyhow!("password=hunter2 leaked in a driver error"));
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(&err);
        assert!(!body.to_string().contains("hunter2"));
        assert_eq!(body["code"], "internal_error");
    }

    #[test]
    fn unavailable_sets_retry_after() {
        let response = ApiError::unavailable("db down", 3).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).unwrap(), "3");
    }

    #[test]
    fn diesel_not_found_maps_to_404() {
        let err: ApiError = diesel::result::Error::NotFound.into();
        assert_eq!(err.status_code(), StatusCode::NOT_FOUND);
    }
}
