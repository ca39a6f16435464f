//! What the cart publishes on `cart_events` (docs/events.md), written to the outbox inside the
//! transaction that makes the change. Record key = cart id.

use crate::domain::{CartId, ProductId, UserId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use schemars::JsonSchema;
use serde::Serialize;
use shop_common::events::contract::EventKind;
use shop_common::events::topics;
use shop_common::money::Money;
use shop_common::outbox;

pub const SOURCE: &str = "cart";

// The one table of what the cart publishes: every event is written with one of these kinds, and
// `published_contracts()` (checked against docs/events/schemas) lists them.
shop_common::published_events! {
    ITEM_ADDED: ItemAdded = (topics::CART_EVENTS, "cart.item_added", 1);
    ITEM_UPDATED: ItemUpdated = (topics::CART_EVENTS, "cart.item_updated", 1);
    ITEM_REMOVED: ItemRemoved = (topics::CART_EVENTS, "cart.item_removed", 1);
    CLEARED: Cleared = (topics::CART_EVENTS, "cart.cleared", 1);
    MERGED: Merged = (topics::CART_EVENTS, "cart.merged", 1);
}

/// `cart.item_added` v1: `quantity` is what this request added (after the 99 cap),
/// `line_quantity` the line's quantity afterwards.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemAdded {
    pub cart_id: CartId,
    pub user_id: Option<UserId>,
    pub product_id: ProductId,
    pub quantity: i64,
    pub line_quantity: i64,
    pub unit_price: Money,
    pub at: DateTime<Utc>,
}

/// `cart.item_updated` v1: `quantity` is the line's new quantity.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemUpdated {
    pub cart_id: CartId,
    pub user_id: Option<UserId>,
    pub product_id: ProductId,
    pub quantity: i64,
    pub at: DateTime<Utc>,
}

/// `cart.item_removed` v1.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ItemRemoved {
    pub cart_id: CartId,
    pub user_id: Option<UserId>,
    pub product_id: ProductId,
    pub at: DateTime<Utc>,
}

/// Why a cart was emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClearReason {
    User,
    Checkout,
}

impl ClearReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ClearReason::User => "user",
            ClearReason::Checkout => "checkout",
        }
    }
}

/// `cart.cleared` v1.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Cleared {
    pub cart_id: CartId,
    pub user_id: Option<UserId>,
    pub reason: ClearReason,
    pub at: DateTime<Utc>,
}

/// `cart.merged` v1.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Merged {
    pub from_cart_id: CartId,
    pub into_cart_id: CartId,
    pub user_id: UserId,
    pub at: DateTime<Utc>,
}

/// Writes one event of `kind` keyed by `cart` to the outbox.
pub async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    kind: EventKind<T>,
    cart: CartId,
    data: &T,
) -> diesel::QueryResult<()> {
    outbox::enqueue_typed(conn, kind.meta(SOURCE), cart.to_string(), data).await
}
