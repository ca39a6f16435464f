//! actix's own extractor failures (bad JSON, bad query, bad path, wrong content type, oversized
//! body, unknown route) rendered as problem+json like every other error.

use crate::error::{ApiError, ErrorCode};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

/// Default JSON body limit; routes that need more set their own `JsonConfig`.
pub const DEFAULT_JSON_LIMIT: usize = 256 * 1024;

/// Registers the problem+json extractor configs on an app or scope.
pub fn configure_extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config(DEFAULT_JSON_LIMIT))
        .app_data(web::PayloadConfig::new(DEFAULT_JSON_LIMIT))
        .app_data(web::QueryConfig::default().error_handler(|err, _| query_error(err).into()))
        .app_data(web::PathConfig::default().error_handler(|err, _| path_error(err).into()));
}

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(|err, _| json_error(err).into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::ContentType => {
            ApiError::new(ErrorCode::UnsupportedMediaType, "the body must be JSON (Content-Type: application/json)")
        }
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("the body is larger than {limit} bytes"))
        }
        JsonPayloadError::Deserialize(err) => {
            ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {err}"))
        }
        JsonPayloadError::Serialize(err) => ApiError::internal(err),
        other => ApiError::new(ErrorCode::BadRequest, format!("unreadable body: {other}")),
    }
}

fn query_error(err: QueryPayloadError) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, format!("invalid query string: {err}"))
}

fn path_error(err: PathError) -> ApiError {
    ApiError::new(ErrorCode::InvalidPath, format!("invalid path parameter: {err}"))
}

/// The default service: unknown routes are a problem+json 404.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(format!("no route for {} {}", req.method(), req.path())).error_response()
}
