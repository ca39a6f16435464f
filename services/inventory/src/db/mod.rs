//! PostgreSQL access: stock rows, admin adjustments and the reservation engine.
//!
//! Queries are raw SQL through diesel's `sql_query` because the important ones are conditional
//! updates (`... WHERE on_hand - reserved >= $q RETURNING ...`) whose row count is the decision.

pub mod engine;
pub mod stock;

use crate::domain::ProductId;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Uuid as SqlUuid};
use shop_common::error::{ApiError, FieldError};
use uuid::Uuid;

/// The columns every stock query returns, in [`StockRow`]'s order.
pub(crate) const STOCK_COLUMNS: &str =
    "product_id, on_hand, reserved, available, sold, low_stock_threshold, low_stock_alerted, active";

/// One product's stock.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct StockRow {
    #[diesel(sql_type = SqlUuid)]
    pub product_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub on_hand: i64,
    #[diesel(sql_type = BigInt)]
    pub reserved: i64,
    #[diesel(sql_type = BigInt)]
    pub available: i64,
    #[diesel(sql_type = BigInt)]
    pub sold: i64,
    #[diesel(sql_type = BigInt)]
    pub low_stock_threshold: i64,
    #[diesel(sql_type = Bool)]
    pub low_stock_alerted: bool,
    #[diesel(sql_type = Bool)]
    pub active: bool,
}

/// Why an inventory operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("no stock for product {0}")]
    NotFound(ProductId),
    /// The change would break a rule (e.g. on hand below reserved).
    #[error("{0}")]
    Conflict(String),
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<InventoryError> for ApiError {
    fn from(err: InventoryError) -> Self {
        match err {
            InventoryError::NotFound(id) => ApiError::not_found(format!("no stock for product {id}")),
            InventoryError::Conflict(detail) => ApiError::conflict(detail),
            InventoryError::Invalid(errors) => ApiError::validation(errors),
            InventoryError::Db(err) => err.into(),
        }
    }
}
