//! Analytics' own copy of the payload fields it reads (docs/events.md); `decode` turns them into
//! facts. Unknown fields are ignored, so producers may add fields without breaking analytics.

use crate::domain::ids::{CartId, OrderId, ProductId, UserId};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use shop_common::money::Money;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProductSnapshot {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub category_slug: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ProductDeleted {
    pub product_id: ProductId,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UserRegistered {
    pub user_id: UserId,
    #[serde(default)]
    pub registered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UserLoggedIn {
    pub user_id: UserId,
    #[serde(default)]
    pub logged_in_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CartItemAdded {
    pub cart_id: CartId,
    #[serde(default)]
    pub user_id: Option<UserId>,
    pub product_id: ProductId,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CartMerged {
    pub from_cart_id: CartId,
    pub into_cart_id: CartId,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// `cart.item_updated`, `cart.item_removed`, `cart.cleared`: checked, not stored.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CartTouched {
    pub cart_id: CartId,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct OrderLine {
    pub product_id: ProductId,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub quantity: i64,
    pub unit_price: Money,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct OrderPlaced {
    pub order_id: OrderId,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub cart_id: Option<CartId>,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    /// `created_at` of order.created, `at` of order.confirmed.
    #[serde(default, alias = "created_at")]
    pub at: Option<DateTime<Utc>>,
}

/// `order.cancelled`, `order.failed`, `order.shipped`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct OrderStep {
    pub order_id: OrderId,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// `payment.succeeded`/`payment.failed` (checked, not stored) and `payment.refunded`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Payment {
    pub order_id: OrderId,
    #[serde(default)]
    pub payment_id: Option<serde_json::Value>,
    #[serde(default)]
    pub amount: Option<Money>,
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
}

/// `inventory.*`: analytics reads no figure from them yet; the key fields are checked.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct InventoryEvent {
    #[serde(default)]
    pub order_id: Option<OrderId>,
    #[serde(default)]
    pub product_id: Option<ProductId>,
}
