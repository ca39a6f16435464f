//! What the cart publishes on `cart_events` (docs/events.md), written to the outbox inside the
//! transaction that makes the change. Record key = cart id.

use crate::domain::{CartId, ProductId, UserId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use shop_common::events::topics;
use shop_common::money::Money;
use shop_common::outbox::{self, EventMeta};

pub const SOURCE: &str = "cart";
pub const ITEM_ADDED: &str = "cart.item_added";
pub const ITEM_UPDATED: &str = "cart.item_updated";
pub const ITEM_REMOVED: &str = "cart.item_removed";
pub const CLEARED: &str = "cart.cleared";
pub const MERGED: &str = "cart.merged";

/// `cart.item_added` v1: `quantity` is what this request added (after the 99 cap),
/// `line_quantity` the line's quantity afterwards.
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
pub struct ItemUpdated {
    pub cart_id: CartId,
    pub user_id: Option<UserId>,
    pub product_id: ProductId,
    pub quantity: i64,
    pub at: DateTime<Utc>,
}

/// `cart.item_removed` v1.
#[derive(Debug, Serialize)]
pub struct ItemRemoved {
    pub cart_id: CartId,
    pub user_id: Option<UserId>,
    pub product_id: ProductId,
    pub at: DateTime<Utc>,
}

/// Why a cart was emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Serialize)]
pub struct Cleared {
    pub cart_id: CartId,
    pub user_id: Option<UserId>,
    pub reason: ClearReason,
    pub at: DateTime<Utc>,
}

/// `cart.merged` v1.
#[derive(Debug, Serialize)]
pub struct Merged {
    pub from_cart_id: CartId,
    pub into_cart_id: CartId,
    pub user_id: UserId,
    pub at: DateTime<Utc>,
}

/// Writes one `cart_events` event (version 1) keyed by `cart` to the outbox.
pub async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    cart: CartId,
    data: &T,
) -> diesel::QueryResult<()> {
    let meta = EventMeta { topic: topics::CART_EVENTS, event_type, version: 1, source: SOURCE };
    outbox::enqueue_typed(conn, meta, cart.to_string(), data).await
}
