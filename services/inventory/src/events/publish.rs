//! What inventory publishes on `inventory_events` (docs/events.md), written to the outbox inside
//! the transaction that makes the change.

use crate::db::StockRow;
use crate::domain::{Line, OrderId, ProductId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use shop_common::events::topics;
use shop_common::outbox::{self, EventMeta};

pub const SOURCE: &str = "inventory";

#[derive(Debug, Serialize)]
pub struct Adjusted<'a> {
    pub product_id: ProductId,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub delta: i64,
    pub reason: &'a str,
    pub adjusted_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct LowStock {
    pub product_id: ProductId,
    pub available: i64,
    pub threshold: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Reserved<'a> {
    pub order_id: OrderId,
    pub lines: &'a [Line],
    pub reserved_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    pub product_id: ProductId,
    pub requested: i64,
    pub available: i64,
}

#[derive(Debug, Serialize)]
pub struct Rejected<'a> {
    pub order_id: OrderId,
    pub reason: &'a str,
    pub lines: &'a [RejectedLine],
    pub rejected_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct Released<'a> {
    pub order_id: OrderId,
    pub lines: &'a [Line],
    pub reason: &'a str,
    pub released_at: DateTime<Utc>,
}

/// Writes one `inventory_events` event (version 1) to the outbox.
pub async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    key: impl Into<String>,
    data: &T,
) -> diesel::QueryResult<()> {
    let meta = EventMeta { topic: topics::INVENTORY_EVENTS, event_type, version: 1, source: SOURCE };
    outbox::enqueue_typed(conn, meta, key, data).await
}

pub async fn low_stock(conn: &mut AsyncPgConnection, row: &StockRow) -> diesel::QueryResult<()> {
    let data = LowStock {
        product_id: ProductId(row.product_id),
        available: row.available,
        threshold: row.low_stock_threshold,
        at: Utc::now(),
    };
    enqueue(conn, "inventory.low_stock", row.product_id.to_string(), &data).await
}
