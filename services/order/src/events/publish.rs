//! What the order service publishes on `order_events` and `payment_events` (docs/events.md),
//! written to the outbox inside the transaction that makes the change.

use crate::db::orders::{LineRow, OrderRow};
use crate::domain::{OrderId, PricedLine, ProductId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use schemars::JsonSchema;
use serde::Serialize;
use shop_common::events::contract::EventKind;
use shop_common::events::topics;
use shop_common::money::Money;
use shop_common::outbox;
use uuid::Uuid;

pub const SOURCE: &str = "order";

// The one table of what the order service publishes: the functions below write these kinds, and
// `published_contracts()` (checked against docs/events/schemas) lists them.
shop_common::published_events! {
    ORDER_CREATED: OrderCreated<'static> = (topics::ORDER_EVENTS, "order.created", 1);
    ORDER_CONFIRMED: OrderConfirmed = (topics::ORDER_EVENTS, "order.confirmed", 1);
    ORDER_FAILED: OrderEnded<'static> = (topics::ORDER_EVENTS, "order.failed", 1);
    ORDER_CANCELLED: OrderEnded<'static> = (topics::ORDER_EVENTS, "order.cancelled", 1);
    ORDER_SHIPPED: OrderShipped = (topics::ORDER_EVENTS, "order.shipped", 1);
    PAYMENT_SUCCEEDED: PaymentSucceeded<'static> = (topics::PAYMENT_EVENTS, "payment.succeeded", 1);
    PAYMENT_FAILED: PaymentFailed<'static> = (topics::PAYMENT_EVENTS, "payment.failed", 1);
    PAYMENT_REFUNDED: PaymentRefunded<'static> = (topics::PAYMENT_EVENTS, "payment.refunded", 1);
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedLine<'a> {
    pub product_id: ProductId,
    pub sku: &'a str,
    pub name: &'a str,
    pub quantity: i64,
    pub unit_price: &'a Money,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderCreated<'a> {
    pub order_id: OrderId,
    pub user_id: Option<Uuid>,
    pub cart_id: Option<Uuid>,
    pub lines: Vec<CreatedLine<'a>>,
    pub total: Money,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfirmedLine {
    pub product_id: ProductId,
    pub quantity: i64,
    pub unit_price: Money,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderConfirmed {
    pub order_id: OrderId,
    pub user_id: Option<Uuid>,
    pub cart_id: Option<Uuid>,
    pub lines: Vec<ConfirmedLine>,
    pub total: Money,
    pub at: DateTime<Utc>,
}

/// `order.failed` and `order.cancelled`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderEnded<'a> {
    pub order_id: OrderId,
    pub reason: &'a str,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderShipped {
    pub order_id: OrderId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PaymentSucceeded<'a> {
    pub order_id: OrderId,
    pub payment_id: &'a str,
    pub provider: &'a str,
    pub amount: Money,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PaymentFailed<'a> {
    pub order_id: OrderId,
    pub payment_id: Option<&'a str>,
    pub provider: &'a str,
    pub reason: &'a str,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PaymentRefunded<'a> {
    pub order_id: OrderId,
    pub payment_id: &'a str,
    pub provider: &'a str,
    pub amount: Money,
    pub at: DateTime<Utc>,
}

/// Writes one event of `kind` keyed by the order id to the outbox.
async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    kind: EventKind<T>,
    order_id: OrderId,
    data: &T,
) -> diesel::QueryResult<()> {
    outbox::enqueue_typed(conn, kind.meta(SOURCE), order_id.to_string(), data).await
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
    enqueue(conn, ORDER_CREATED, order.order_id(), &data).await
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
    enqueue(conn, ORDER_CONFIRMED, order.order_id(), &data).await
}

/// `order.failed` or `order.cancelled`: inventory releases the reservation.
pub async fn order_ended(
    conn: &mut AsyncPgConnection,
    kind: EventKind<OrderEnded<'static>>,
    order_id: OrderId,
    reason: &str,
) -> diesel::QueryResult<()> {
    enqueue(conn, kind, order_id, &OrderEnded { order_id, reason, at: Utc::now() }).await
}

pub async fn order_shipped(conn: &mut AsyncPgConnection, order_id: OrderId) -> diesel::QueryResult<()> {
    enqueue(conn, ORDER_SHIPPED, order_id, &OrderShipped { order_id, at: Utc::now() }).await
}

pub async fn payment_succeeded(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    payment_id: &str,
    provider: &str,
    amount: Money,
) -> diesel::QueryResult<()> {
    let data = PaymentSucceeded { order_id, payment_id, provider, amount, at: Utc::now() };
    enqueue(conn, PAYMENT_SUCCEEDED, order_id, &data).await
}

pub async fn payment_failed(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    payment_id: Option<&str>,
    provider: &str,
    reason: &str,
) -> diesel::QueryResult<()> {
    let data = PaymentFailed { order_id, payment_id, provider, reason, at: Utc::now() };
    enqueue(conn, PAYMENT_FAILED, order_id, &data).await
}

pub async fn payment_refunded(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    payment_id: &str,
    provider: &str,
    amount: Money,
) -> diesel::QueryResult<()> {
    let data = PaymentRefunded { order_id, payment_id, provider, amount, at: Utc::now() };
    enqueue(conn, PAYMENT_REFUNDED, order_id, &data).await
}
