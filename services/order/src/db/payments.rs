//! One payment per order, as the provider reported it, and the refunds owed.
//!
//! Each recording is an upsert whose `WHERE` encodes the allowed moves (pending → succeeded or
//! failed; never back from succeeded), and returns whether this call made the move, so the caller
//! emits `payment.*` exactly once even when the synchronous result and the webhook race.

use crate::domain::OrderId;
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Bool, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use shop_common::money::Money;
use uuid::Uuid;

const PAYMENT_COLUMNS: &str = "order_id, provider, payment_id, status, amount_minor, currency, failure_reason, \
                               refund_required, refund_id, refund_attempts, refunded_at, created_at, updated_at, \
                               client_secret";

#[derive(Debug, Clone, QueryableByName)]
pub struct PaymentRow {
    #[diesel(sql_type = SqlUuid)]
    pub order_id: Uuid,
    #[diesel(sql_type = Text)]
    pub provider: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub payment_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = BigInt)]
    pub amount_minor: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub failure_reason: Option<String>,
    #[diesel(sql_type = Bool)]
    pub refund_required: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub refund_id: Option<String>,
    #[diesel(sql_type = Int4)]
    pub refund_attempts: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub refunded_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub client_secret: Option<String>,
}

impl PaymentRow {
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency.clone())
    }
}

pub async fn find(conn: &mut AsyncPgConnection, order_id: OrderId) -> diesel::QueryResult<Option<PaymentRow>> {
    diesel::sql_query(format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1"))
        .bind::<SqlUuid, _>(order_id.0)
        .get_result(conn)
        .await
        .optional()
}

/// The order a provider payment id belongs to (webhooks without our metadata).
pub async fn order_of_payment(conn: &mut AsyncPgConnection, payment_id: &str) -> diesel::QueryResult<Option<OrderId>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        order_id: Uuid,
    }
    let row: Option<Row> = diesel::sql_query("SELECT order_id FROM payments WHERE payment_id = $1 LIMIT 1")
        .bind::<Text, _>(payment_id)
        .get_result(conn)
        .await
        .optional()?;
    Ok(row.map(|r| OrderId(r.order_id)))
}

/// Records a succeeded payment. True if this call moved it to succeeded (emit `payment.succeeded`).
pub async fn record_succeeded(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    provider: &str,
    payment_id: &str,
    amount: &Money,
) -> diesel::QueryResult<bool> {
    let changed = diesel::sql_query(
        "INSERT INTO payments (order_id, provider, payment_id, status, amount_minor, currency)
         VALUES ($1, $2, $3, 'succeeded', $4, $5)
         ON CONFLICT (order_id) DO UPDATE SET status = 'succeeded', payment_id = EXCLUDED.payment_id,
             failure_reason = NULL, updated_at = now()
         WHERE payments.status IN ('pending', 'failed')",
    )
    .bind::<SqlUuid, _>(order_id.0)
    .bind::<Text, _>(provider)
    .bind::<Text, _>(payment_id)
    .bind::<BigInt, _>(amount.amount_minor)
    .bind::<Text, _>(&amount.currency)
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Records a payment waiting for the customer or the provider, with the client secret the
/// storefront needs to finish it (first result only).
pub async fn record_pending(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    provider: &str,
    payment_id: &str,
    client_secret: Option<&str>,
    amount: &Money,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO payments (order_id, provider, payment_id, status, amount_minor, currency, client_secret)
         VALUES ($1, $2, $3, 'pending', $4, $5, $6)
         ON CONFLICT (order_id) DO UPDATE SET payment_id = EXCLUDED.payment_id,
             client_secret = COALESCE(EXCLUDED.client_secret, payments.client_secret), updated_at = now()
         WHERE payments.status = 'pending'",
    )
    .bind::<SqlUuid, _>(order_id.0)
    .bind::<Text, _>(provider)
    .bind::<Text, _>(payment_id)
    .bind::<BigInt, _>(amount.amount_minor)
    .bind::<Text, _>(&amount.currency)
    .bind::<Nullable<Text>, _>(client_secret)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed payment. True if this call moved it to failed (emit `payment.failed`).
pub async fn record_failed(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    provider: &str,
    payment_id: Option<&str>,
    amount: &Money,
    reason: &str,
) -> diesel::QueryResult<bool> {
    let changed = diesel::sql_query(
        "INSERT INTO payments (order_id, provider, payment_id, status, amount_minor, currency, failure_reason)
         VALUES ($1, $2, $3, 'failed', $4, $5, $6)
         ON CONFLICT (order_id) DO UPDATE SET status = 'failed',
             payment_id = COALESCE(EXCLUDED.payment_id, payments.payment_id),
             failure_reason = EXCLUDED.failure_reason, updated_at = now()
         WHERE payments.status = 'pending'",
    )
    .bind::<SqlUuid, _>(order_id.0)
    .bind::<Text, _>(provider)
    .bind::<Nullable<Text>, _>(payment_id)
    .bind::<BigInt, _>(amount.amount_minor)
    .bind::<Text, _>(&amount.currency)
    .bind::<Text, _>(reason)
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Flags a succeeded payment for refund (the refunder task pays it back). True if one is now owed.
pub async fn require_refund(conn: &mut AsyncPgConnection, order_id: OrderId) -> diesel::QueryResult<bool> {
    let changed = diesel::sql_query(
        "UPDATE payments SET refund_required = TRUE, updated_at = now()
         WHERE order_id = $1 AND status = 'succeeded' AND refunded_at IS NULL",
    )
    .bind::<SqlUuid, _>(order_id.0)
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Payments owed back (of one order when given), oldest first.
pub async fn refunds_due(
    conn: &mut AsyncPgConnection,
    only: Option<OrderId>,
    limit: i64,
) -> diesel::QueryResult<Vec<PaymentRow>> {
    diesel::sql_query(format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE refund_required AND refunded_at IS NULL
             AND ($2::uuid IS NULL OR order_id = $2)
         ORDER BY updated_at LIMIT $1"
    ))
    .bind::<BigInt, _>(limit)
    .bind::<Nullable<SqlUuid>, _>(only.map(|id| id.0))
    .load(conn)
    .await
}

/// Records the provider's refund if not recorded yet; returns the payment when this call did it.
pub async fn mark_refunded(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    refund_id: &str,
) -> diesel::QueryResult<Option<PaymentRow>> {
    diesel::sql_query(format!(
        "UPDATE payments SET status = 'refunded', refund_id = $2, refunded_at = now(), updated_at = now()
         WHERE order_id = $1 AND refund_required AND refunded_at IS NULL
         RETURNING {PAYMENT_COLUMNS}"
    ))
    .bind::<SqlUuid, _>(order_id.0)
    .bind::<Text, _>(refund_id)
    .get_result(conn)
    .await
    .optional()
}

pub async fn refund_attempt_failed(conn: &mut AsyncPgConnection, order_id: OrderId) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "UPDATE payments SET refund_attempts = refund_attempts + 1, updated_at = now() WHERE order_id = $1",
    )
    .bind::<SqlUuid, _>(order_id.0)
    .execute(conn)
    .await?;
    Ok(())
}

/// Payments still pending at the provider for orders that already failed or were cancelled:
/// the customer must no longer be able to pay them (the refunder cancels them).
pub async fn pending_on_closed_orders(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> diesel::QueryResult<Vec<PaymentRow>> {
    let columns = PAYMENT_COLUMNS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ");
    diesel::sql_query(format!(
        "SELECT {columns} FROM payments p JOIN orders o ON o.id = p.order_id
         WHERE p.status = 'pending' AND p.payment_id IS NOT NULL AND o.status IN ('FAILED', 'CANCELLED')
         ORDER BY p.updated_at LIMIT $1"
    ))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// `(order, provider payment id)` of orders still `AWAITING_PAYMENT` that were created before
/// `cutoff`: the sweeper asks the provider about them before timing them out (a lost webhook must
/// not turn a paid order into a refund).
pub async fn awaiting_before(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> diesel::QueryResult<Vec<(OrderId, String)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        order_id: Uuid,
        #[diesel(sql_type = Text)]
        payment_id: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT p.order_id, p.payment_id FROM payments p JOIN orders o ON o.id = p.order_id
         WHERE o.status = 'AWAITING_PAYMENT' AND o.created_at < $1 AND p.status = 'pending'
           AND p.payment_id IS NOT NULL
         ORDER BY o.created_at LIMIT $2",
    )
    .bind::<Timestamptz, _>(cutoff)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (OrderId(r.order_id), r.payment_id)).collect())
}
