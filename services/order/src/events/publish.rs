//! What the order service publishes on `order_events` and `payment_events` (docs/events.md),
//! written to the outbox inside the transaction that makes the change.

use crate::db::orders::{LineRow, OrderRow};
use crate::domain::{OrderId, PricedLine, ProductId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use shop_common::events::topics;
use shop_common::money::Money;
use shop_common::outbox::{self, EventMeta};
use uuid::Uuid;

pub const SOURCE: &str = "order";
pub const ORDER_CREATED: &str = "order.created";
pub const ORDER_CONFIRMED: &str = "order.confirmed";
pub const ORDER_FAILED: &str = "order.failed";
pub const ORDER_CANCELLED: &str = "order.cancelled";
pub const ORDER_SHIPPED: &str = "order.shipped";
pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
pub const PAYMENT_FAILED: &str = "payment.failed";
pub const PAYMENT_REFUNDED: &str = "payment.refunded";

#[derive(Debug, Serialize)]
pub struct CreatedLine<'a> {
    pub product_id: ProductId,
    pub sku: &'a str,
    pub name: &'a str,
    pub quantity: i64,
    pub unit_price: &'a Money,
}

#[derive(Debug, Serialize)]
pub struct OrderCreated<'a> {
    pub order_id: OrderId,
    pub user_id: Option<Uuid>,
    pub cart_id: Option<Uuid>,
    pub lines: Vec<CreatedLine<'a>>,
    pub total: Money,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct ConfirmedLine {
    pub product_id: ProductId,
    pub quantity: i64,
    pub unit_price: Money,
}

#[derive(Debug, Serialize)]
pub struct OrderConfirmed {
    pub order_id: OrderId,
    pub user_id: Option<Uuid>,
    pub cart_id: Option<Uuid>,
    pub lines: Vec<ConfirmedLine>,
    pub total: Money,
    pub at: DateTime<Utc>,
}

/// `order.failed` and `order.cancelled`.
#[derive(Debug, Serialize)]
pub struct OrderEnded<'a> {
    pub order_id: OrderId,
    pub reason: &'a str,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct OrderShipped {
    pub order_id: OrderId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct PaymentSucceeded<'a> {
    pub order_id: OrderId,
    pub payment_id: &'a str,
    pub provider: &'a str,
    pub amount: Money,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct PaymentFailed<'a> {
    pub order_id: OrderId,
    pub payment_id: Option<&'a str>,
    pub provider: &'a str,
    pub reason: &'a str,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct PaymentRefunded<'a> {
    pub order_id: OrderId,
    pub payment_id: &'a str,
    pub provider: &'a str,
    pub amount: Money,
    pub at: DateTime<Utc>,
}

/// Writes one event (version 1) keyed by the order id to the outbox.
async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    topic: &str,
    event_type: &str,
    order_id: OrderId,
    data: &T,
) -> diesel::QueryResult<()> {
    let meta = EventMeta { topic, event_type, version: 1, source: SOURCE };
    outbox::enqueue_typed(conn, meta, order_id.to_string(), data).await
}

pub async fn order_created(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    lines: &[PricedLine],
) -> diesel::QueryResult<()> {
    let data = OrderCreated {
        order_id: order.order_id(),
        user_id: order.user_id,
        cart_id: order.cart_id,
        lines: lines
            .iter()
            .map(|l| CreatedLine {
                product_id: l.product_id,
                sku: &l.sku,
                name: &l.name,
                quantity: l.quantity,
                unit_price: &l.unit_price,
            })
            .collect(),
        total: order.total(),
        created_at: order.created_at,
    };
    enqueue(conn, topics::ORDER_EVENTS, ORDER_CREATED, order.order_id(), &data).await
}

pub async fn order_confirmed(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    lines: &[LineRow],
) -> diesel::QueryResult<()> {
    let data = OrderConfirmed {
        order_id: order.order_id(),
        user_id: order.user_id,
        cart_id: order.cart_id,
        lines: lines
            .iter()
            .map(|l| ConfirmedLine {
                product_id: l.product(),
                quantity: l.quantity,
                unit_price: Money::new(l.unit_price_minor, order.currency.clone()),
            })
            .collect(),
        total: order.total(),
        at: Utc::now(),
    };
    enqueue(conn, topics::ORDER_EVENTS, ORDER_CONFIRMED, order.order_id(), &data).await
}

/// `order.failed` or `order.cancelled`: inventory releases the reservation.
pub async fn order_ended(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    order_id: OrderId,
    reason: &str,
) -> diesel::QueryResult<()> {
    enqueue(conn, topics::ORDER_EVENTS, event_type, order_id, &OrderEnded { order_id, reason, at: Utc::now() }).await
}

pub async fn order_shipped(conn: &mut AsyncPgConnection, order_id: OrderId) -> diesel::QueryResult<()> {
    enqueue(conn, topics::ORDER_EVENTS, ORDER_SHIPPED, order_id, &OrderShipped { order_id, at: Utc::now() }).await
}

pub async fn payment_succeeded(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    payment_id: &str,
    provider: &str,
    amount: Money,
) -> diesel::QueryResult<()> {
    let data = PaymentSucceeded { order_id, payment_id, provider, amount, at: Utc::now() };
    enqueue(conn, topics::PAYMENT_EVENTS, PAYMENT_SUCCEEDED, order_id, &data).await
}

pub async fn payment_failed(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    payment_id: Option<&str>,
    provider: &str,
    reason: &str,
) -> diesel::QueryResult<()> {
    let data = PaymentFailed { order_id, payment_id, provider, reason, at: Utc::now() };
    enqueue(conn, topics::PAYMENT_EVENTS, PAYMENT_FAILED, order_id, &data).await
}

pub async fn payment_refunded(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    payment_id: &str,
    provider: &str,
    amount: Money,
) -> diesel::QueryResult<()> {
    let data = PaymentRefunded { order_id, payment_id, provider, amount, at: Utc::now() };
    enqueue(conn, topics::PAYMENT_EVENTS, PAYMENT_REFUNDED, order_id, &data).await
}
