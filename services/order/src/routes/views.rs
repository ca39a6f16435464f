//! The JSON shapes of orders in responses, and loading them.

use crate::db::orders::{self, OrderRow};
use crate::db::{notifications, payments};
use crate::domain::Status;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use shop_common::money::Money;
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
pub struct LineView {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
    pub line_total: Money,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PaymentView {
    pub provider: String,
    pub payment_id: Option<String>,
    pub status: String,
    pub amount: Money,
    pub failure_reason: Option<String>,
    pub refund_id: Option<String>,
    pub refunded_at: Option<DateTime<Utc>>,
    /// For a payment waiting for the customer (3-D Secure): what the storefront needs to finish it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HistoryView {
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NotificationView {
    pub kind: String,
    pub channel: String,
    pub recipient: Option<String>,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// One order with everything `GET /orders/{id}` shows.
#[derive(Debug, Serialize, Deserialize)]
pub struct OrderView {
    pub id: Uuid,
    pub status: Status,
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub cart_id: Option<Uuid>,
    pub lines: Vec<LineView>,
    pub total: Money,
    pub shipping_address: Option<serde_json::Value>,
    pub payment: Option<PaymentView>,
    pub status_history: Vec<HistoryView>,
    pub notifications: Vec<NotificationView>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of `GET /orders`.
#[derive(Debug, Serialize, Deserialize)]
pub struct OrderSummary {
    pub id: Uuid,
    pub status: Status,
    pub user_id: Option<Uuid>,
    pub total: Money,
    pub item_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderSummary {
    pub fn new(order: &OrderRow, item_count: i64) -> Self {
        Self {
            id: order.id,
            status: order.status(),
            user_id: order.user_id,
            total: order.total(),
            item_count,
            created_at: order.created_at,
            updated_at: order.updated_at,
        }
    }
}

pub async fn load(conn: &mut AsyncPgConnection, order: OrderRow) -> diesel::QueryResult<OrderView> {
    let id = order.order_id();
    let currency = order.currency.clone();
    let lines = orders::lines(conn, id)
        .await?
        .into_iter()
        .map(|l| LineView {
            product_id: l.product_id,
            sku: l.sku,
            name: l.name,
            quantity: l.quantity,
            unit_price: Money::new(l.unit_price_minor, currency.clone()),
            line_total: Money::new(l.line_total_minor, currency.clone()),
        })
        .collect();
    let payment = payments::find(conn, id).await?.map(|p| PaymentView {
        amount: p.amount(),
        client_secret: if p.status == "pending" { p.client_secret } else { None },
        provider: p.provider,
        payment_id: p.payment_id,
        status: p.status,
        failure_reason: p.failure_reason,
        refund_id: p.refund_id,
        refunded_at: p.refunded_at,
    });
    let status_history = orders::history(conn, id)
        .await?
        .into_iter()
        .map(|h| HistoryView { from: h.from_status, to: h.to_status, reason: h.reason, at: h.at })
        .collect();
    let notifications = notifications::for_order(conn, id)
        .await?
        .into_iter()
        .map(|n| NotificationView {
            kind: n.kind,
            channel: n.channel,
            recipient: n.recipient,
            subject: n.subject,
            status: n.status,
            attempts: n.attempts,
            created_at: n.created_at,
            sent_at: n.sent_at,
        })
        .collect();
    Ok(OrderView {
        id: order.id,
        status: order.status(),
        total: order.total(),
        user_id: order.user_id,
        email: order.email,
        cart_id: order.cart_id,
        lines,
        shipping_address: order.shipping_address,
        payment,
        status_history,
        notifications,
        failure_reason: order.failure_reason,
        created_at: order.created_at,
        updated_at: order.updated_at,
    })
}
