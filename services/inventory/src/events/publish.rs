//! What inventory publishes on `inventory_events` (docs/events.md), written to the outbox inside
//! the transaction that makes the change.

use crate::db::StockRow;
use crate::domain::{Line, OrderId, ProductId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use schemars::JsonSchema;
use serde::Serialize;
use shop_common::events::contract::EventKind;
use shop_common::events::topics;
use shop_common::outbox;

pub const SOURCE: &str = "inventory";

// The one table of what inventory publishes: every event is written with one of these kinds, and
// `published_contracts()` (checked against docs/events/schemas) lists them.
shop_common::published_events! {
    ADJUSTED: Adjusted<'static> = (topics::INVENTORY_EVENTS, "inventory.adjusted", 1);
    LOW_STOCK: LowStock = (topics::INVENTORY_EVENTS, "inventory.low_stock", 1);
    RESERVED: Reserved<'static> = (topics::INVENTORY_EVENTS, "inventory.reserved", 1);
    REJECTED: Rejected<'static> = (topics::INVENTORY_EVENTS, "inventory.rejected", 1);
    RELEASED: Released<'static> = (topics::INVENTORY_EVENTS, "inventory.released", 1);
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Adjusted<'a> {
    pub product_id: ProductId,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub delta: i64,
    pub reason: &'a str,
    pub adjusted_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LowStock {
    pub product_id: ProductId,
    pub available: i64,
    pub threshold: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Reserved<'a> {
    pub order_id: OrderId,
    pub lines: &'a [Line],
    pub reserved_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct RejectedLine {
    pub product_id: ProductId,
    pub requested: i64,
    pub available: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Rejected<'a> {
    pub order_id: OrderId,
    pub reason: &'a str,
    pub lines: &'a [RejectedLine],
    pub rejected_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Released<'a> {
    pub order_id: OrderId,
    pub lines: &'a [Line],
    pub reason: &'a str,
    pub released_at: DateTime<Utc>,
}

/// Writes one event of `kind` to the outbox.
pub async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    kind: EventKind<T>,
    key: impl Into<String>,
    data: &T,
) -> diesel::QueryResult<()> {
    outbox::enqueue_typed(conn, kind.meta(SOURCE), key, data).await
}

pub async fn low_stock(conn: &mut AsyncPgConnection, row: &StockRow) -> diesel::QueryResult<()> {
    let data = LowStock {
        product_id: ProductId(row.product_id),
        available: row.available,
        threshold: row.low_stock_threshold,
        at: Utc::now(),
    };
    enqueue(conn, LOW_STOCK, row.product_id.to_string(), &data).await
}
