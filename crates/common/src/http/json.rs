//! `Json<T>`: a JSON body extractor whose errors name the offending field.
//!
//! actix's own `web::Json` reports type errors as one serde message without the field path;
//! clients (and the admin UI's forms) need `errors: [{field: "price.amount", ...}]` to point at
//! the input. Use this extractor for request bodies; `web::Json` stays fine for responses.

use crate::error::{ApiError, ErrorCode, FieldError};
use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// A deserialized JSON request body.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<mime::Mime>().ok())
            .is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
        // Bytes honours the app's PayloadConfig limit (see configure_extractors).
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    "the body must be JSON (Content-Type: application/json)",
                ));
            }
            let bytes = body.await.map_err(|err| {
                if err.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorCode::PayloadTooLarge, "the body is too large")
                } else {
                    ApiError::bad_request(format!("unreadable body: {err}"))
                }
            })?;
            parse(&bytes).map(Json)
        })
    }
}

/// Deserializes `bytes`, reporting where in the document it failed.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|err| {
        let field = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() || field == "." {
            ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {inner}"))
        } else {
            ApiError::validation(vec![FieldError::new(field.clone(), inner.to_string())])
                .with_detail(format!("invalid value at {field}: {inner}"))
        }
    })?;
    // Trailing garbage after the document is a syntax error, not something to ignore.
    deserializer.end().map_err(|err| ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {err}")))?;
    Ok(value)
}
