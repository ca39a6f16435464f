//! The cart service's errors: each variant has one HTTP status and a stable snake_case `code`
//! (the table in docs/cart.md), rendered as problem+json like [`ApiError`]. Infrastructure faults
//! are carried as `ApiError`s, which map them in one place (pool → 503, unknown → 500, logged).

use crate::domain::view::TotalOutOfRange;
use crate::domain::{LineId, MAX_LINE_QUANTITY, MAX_LINES, ProductId};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use shop_common::error::{ApiError, FieldError, PROBLEM_JSON, ProblemBody};

pub type CartResult<T> = Result<T, CartError>;

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// The `X-Cart-Token` names no cart (unknown, forged, or merged away).
    #[error("no cart for this cart token")]
    CartNotFound,
    /// The line id is not a line of the caller's cart (it may be someone else's: never say).
    #[error("no line {0} in your cart")]
    LineNotFound(String),
    #[error("product {0} does not exist")]
    ProductNotFound(ProductId),
    #[error("product {0} is not available for sale")]
    ProductUnavailable(ProductId),
    #[error("product {product} is priced in {product_currency} but this cart holds {cart_currency}")]
    CurrencyMismatch { product: ProductId, product_currency: String, cart_currency: String },
    #[error("a cart holds at most {MAX_LINES} lines")]
    CartFull,
    #[error("the cart total is out of range")]
    TotalOutOfRange,
    #[error("{0}")]
    TokenRequired(&'static str),
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl CartError {
    pub fn line_not_found(id: LineId) -> Self {
        CartError::LineNotFound(id.to_string())
    }

    /// The HTTP status and stable code of a domain error (`None` for infrastructure errors).
    fn status_and_code(&self) -> Option<(StatusCode, &'static str)> {
        Some(match self {
            CartError::CartNotFound => (StatusCode::NOT_FOUND, "cart_not_found"),
            CartError::LineNotFound(_) => (StatusCode::NOT_FOUND, "line_not_found"),
            CartError::ProductNotFound(_) => (StatusCode::NOT_FOUND, "product_not_found"),
            CartError::ProductUnavailable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "product_unavailable"),
            CartError::CurrencyMismatch { .. } => (StatusCode::CONFLICT, "currency_mismatch"),
            CartError::CartFull => (StatusCode::UNPROCESSABLE_ENTITY, "cart_full"),
            CartError::TotalOutOfRange => (StatusCode::UNPROCESSABLE_ENTITY, "total_out_of_range"),
            CartError::TokenRequired(_) => (StatusCode::BAD_REQUEST, "cart_token_required"),
            CartError::Invalid(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
            CartError::Api(_) => return None,
        })
    }

    pub fn invalid_quantity() -> Self {
        CartError::Invalid(vec![FieldError::new("quantity", format!("must be between 1 and {MAX_LINE_QUANTITY}"))])
    }
}

impl From<diesel::result::Error> for CartError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            // Lost a race PostgreSQL could not order (serialization failure): retrying succeeds.
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                CartError::Api(ApiError::unavailable("the cart is busy, retry", 1).with_source(err))
            }
            other => CartError::Api(other.into()),
        }
    }
}

impl From<shop_common::db::PoolError> for CartError {
    fn from(err: shop_common::db::PoolError) -> Self {
        CartError::Api(err.into())
    }
}

impl From<TotalOutOfRange> for CartError {
    fn from(_: TotalOutOfRange) -> Self {
        CartError::TotalOutOfRange
    }
}

impl ResponseError for CartError {
    fn status_code(&self) -> StatusCode {
        match (self, self.status_and_code()) {
            (CartError::Api(api), _) => api.status_code(),
            (_, Some((status, _))) => status,
            (_, None) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = match (self, self.status_and_code()) {
            (CartError::Api(api), _) => return api.error_response(),
            (_, Some(pair)) => pair,
            (_, None) => return ApiError::internal(anyhow::anyhow!("unmapped cart error: {self}")).error_response(),
        };
        let detail = self.to_string();
        let errors: &[FieldError] = match self {
            CartError::Invalid(errors) => errors,
            _ => &[],
        };
        let body = ProblemBody {
            kind: format!("https://shop.example/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: &detail,
            code,
            request_id: shop_common::http::request_id::current(),
            errors,
        };
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
            .body(serde_json::to_string(&body).unwrap_or_else(|_| "{}".into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::body::MessageBody;
    use uuid::Uuid;

    fn body(err: &CartError) -> serde_json::Value {
        let bytes = err.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn domain_errors_have_their_own_codes() {
        let err = CartError::CurrencyMismatch {
            product: ProductId(Uuid::nil()),
            product_currency: "USD".into(),
            cart_currency: "EUR".into(),
        };
        assert_eq!(err.status_code(), StatusCode::CONFLICT);
        let json = body(&err);
        assert_eq!(json["code"], "currency_mismatch");
        assert_eq!(json["status"], 409);
        assert!(json["detail"].as_str().unwrap().contains("USD"));
        assert_eq!(body(&CartError::invalid_quantity())["errors"][0]["field"], "quantity");
        assert_eq!(CartError::CartFull.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn infrastructure_errors_stay_generic() {
        let err = CartError::from(diesel::result::Error::RollbackTransaction);
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body(&err)["code"], "internal_error");
    }
}
