//! The order's rules, free of I/O: statuses and their transitions, the create request and its
//! validation, pricing from the product snapshot, tokens and idempotency keys.

pub mod pricing;
pub mod request;
pub mod status;
pub mod tokens;

pub use pricing::{CartLine, PricedLine, PricedOrder, PricingError, SnapshotProduct, price};
pub use request::{CreateOrder, ShippingAddress};
pub use status::Status;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An order's id (UUID v7, so ids sort by creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct OrderId(pub Uuid);

impl std::fmt::Display for OrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A catalogue product's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ProductId(pub Uuid);

impl std::fmt::Display for ProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
