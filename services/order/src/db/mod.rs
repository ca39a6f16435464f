//! PostgreSQL access: concrete async functions over `&mut AsyncPgConnection`; transactions are
//! opened by the service layer (`saga`, `routes`).
//!
//! Queries are raw SQL through diesel's `sql_query` (as in inventory): the important statements
//! are conditional updates (`... WHERE status = $from`) and `INSERT ... ON CONFLICT DO NOTHING`
//! whose row counts are the decisions.

pub mod customers;
pub mod idempotency;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod products;
pub mod webhooks;

use crate::domain::PricingError;
use shop_common::error::{ApiError, ErrorCode, FieldError};

/// Why an order operation did not happen. Mapped to problem+json in one place ([`From`] below).
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("order not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The cart service could not be read (down, timing out, answering 5xx).
    #[error("the cart service is unavailable")]
    CartUnavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<PricingError> for OrderError {
    fn from(err: PricingError) -> Self {
        match err {
            // Known to the snapshot but withdrawn: the cart is out of date, a conflict with the catalogue.
            PricingError::Unavailable(_) => OrderError::Conflict(err.to_string()),
            _ => OrderError::Unprocessable(err.to_string()),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::NotFound => ApiError::not_found("order not found"),
            OrderError::Conflict(detail) => ApiError::conflict(detail),
            OrderError::Unprocessable(detail) => ApiError::new(ErrorCode::UnprocessableEntity, detail),
            OrderError::BadRequest(detail) => ApiError::bad_request(detail),
            OrderError::Invalid(errors) => ApiError::validation(errors),
            OrderError::Unauthorized(detail) => ApiError::unauthorized(detail),
            OrderError::Forbidden(detail) => ApiError::forbidden(detail),
            OrderError::CartUnavailable(cause) => {
                ApiError::unavailable("the cart service is unavailable, try again shortly", 2).with_source(cause)
            }
            OrderError::Db(err) => err.into(),
            OrderError::Internal(err) => ApiError::internal(err),
        }
    }
}

#[derive(diesel::QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}
