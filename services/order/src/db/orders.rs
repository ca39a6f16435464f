//! Orders, their lines and their status history.
//!
//! Every status change goes through [`set_status`]: a conditional `UPDATE ... WHERE status = $from`
//! on a row the caller has locked with [`lock`] (`SELECT ... FOR UPDATE`), plus the history row, so
//! two writers racing on one order (the saga consumer and the webhook, a cancel and the timeout
//! sweeper) serialise and the loser sees the winner's status.

use crate::domain::{OrderId, PricedLine, ProductId, Status};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use shop_common::money::Money;
use uuid::Uuid;

const ORDER_COLUMNS: &str = "id, user_id, guest_token_hash, cart_id, email, status, currency, total_minor, \
                             shipping_address, payment_key, failure_reason, created_at, updated_at";

#[derive(Debug, Clone, QueryableByName)]
pub struct OrderRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub user_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub guest_token_hash: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub cart_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub email: Option<String>,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub total_minor: i64,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub shipping_address: Option<serde_json::Value>,
    #[diesel(sql_type = Text)]
    pub payment_key: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub failure_reason: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

impl OrderRow {
    pub fn order_id(&self) -> OrderId {
        OrderId(self.id)
    }

    /// The status; the column's CHECK constraint admits only [`Status`] names.
    pub fn status(&self) -> Status {
        self.status.parse().unwrap_or(Status::Failed)
    }

    pub fn total(&self) -> Money {
        Money::new(self.total_minor, self.currency.clone())
    }
}

/// What `POST /orders` stores.
pub struct NewOrder<'a> {
    pub id: OrderId,
    pub user_id: Option<Uuid>,
    pub guest_token_hash: Option<String>,
    pub cart_token_hash: Option<String>,
    pub cart_id: Option<Uuid>,
    pub email: Option<&'a str>,
    pub total: &'a Money,
    pub shipping_address: Option<serde_json::Value>,
    pub payment_key: &'a str,
    pub lines: &'a [PricedLine],
}

/// Inserts the order `PENDING` with its lines and first history row.
pub async fn insert(conn: &mut AsyncPgConnection, order: &NewOrder<'_>) -> diesel::QueryResult<OrderRow> {
    let row: OrderRow = diesel::sql_query(format!(
        "INSERT INTO orders (id, user_id, guest_token_hash, cart_token_hash, cart_id, email, status, currency,
                             total_minor, shipping_address, payment_key)
         VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $8, $9, $10)
         RETURNING {ORDER_COLUMNS}"
    ))
    .bind::<SqlUuid, _>(order.id.0)
    .bind::<Nullable<SqlUuid>, _>(order.user_id)
    .bind::<Nullable<Text>, _>(order.guest_token_hash.as_deref())
    .bind::<Nullable<Text>, _>(order.cart_token_hash.as_deref())
    .bind::<Nullable<SqlUuid>, _>(order.cart_id)
    .bind::<Nullable<Text>, _>(order.email)
    .bind::<Text, _>(&order.total.currency)
    .bind::<BigInt, _>(order.total.amount_minor)
    .bind::<Nullable<Jsonb>, _>(order.shipping_address.as_ref())
    .bind::<Text, _>(order.payment_key)
    .get_result(conn)
    .await?;

    let numbers: Vec<i32> = (1..).take(order.lines.len()).collect();
    diesel::sql_query(
        "INSERT INTO order_lines (order_id, line_no, product_id, sku, name, quantity, unit_price_minor, line_total_minor)
         SELECT $1, * FROM unnest($2::int4[], $3::uuid[], $4::text[], $5::text[], $6::int8[], $7::int8[], $8::int8[])",
    )
    .bind::<SqlUuid, _>(order.id.0)
    .bind::<Array<Int4>, _>(numbers)
    .bind::<Array<SqlUuid>, _>(order.lines.iter().map(|l| l.product_id.0).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(order.lines.iter().map(|l| l.sku.clone()).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(order.lines.iter().map(|l| l.name.clone()).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(order.lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(order.lines.iter().map(|l| l.unit_price.amount_minor).collect::<Vec<_>>())
    .bind::<Array<BigInt>, _>(order.lines.iter().map(|l| l.line_total.amount_minor).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    append_history(conn, order.id, None, Status::Pending, None).await?;
    Ok(row)
}

pub async fn find(conn: &mut AsyncPgConnection, id: OrderId) -> diesel::QueryResult<Option<OrderRow>> {
    use diesel::OptionalExtension;
    diesel::sql_query(format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
        .bind::<SqlUuid, _>(id.0)
        .get_result(conn)
        .await
        .optional()
}

/// The order, locked until the transaction ends (`SELECT ... FOR UPDATE`).
pub async fn lock(conn: &mut AsyncPgConnection, id: OrderId) -> diesel::QueryResult<Option<OrderRow>> {
    use diesel::OptionalExtension;
    diesel::sql_query(format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE"))
        .bind::<SqlUuid, _>(id.0)
        .get_result(conn)
        .await
        .optional()
}

/// Moves the order from `from` to `to` if it is still in `from`; records the change in the history.
/// Returns false (and changes nothing) if another writer moved it first.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: OrderId,
    from: Status,
    to: Status,
    reason: Option<&str>,
) -> diesel::QueryResult<bool> {
    let updated = diesel::sql_query(
        "UPDATE orders SET status = $3, updated_at = now(),
             failure_reason = CASE WHEN $3 IN ('FAILED', 'CANCELLED') THEN $4 ELSE failure_reason END
         WHERE id = $1 AND status = $2",
    )
    .bind::<SqlUuid, _>(id.0)
    .bind::<Text, _>(from.as_str())
    .bind::<Text, _>(to.as_str())
    .bind::<Nullable<Text>, _>(reason)
    .execute(conn)
    .await?;
    if updated == 1 {
        append_history(conn, id, Some(from), to, reason).await?;
    }
    Ok(updated == 1)
}

async fn append_history(
    conn: &mut AsyncPgConnection,
    id: OrderId,
    from: Option<Status>,
    to: Status,
    reason: Option<&str>,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO order_status_history (order_id, from_status, to_status, reason) VALUES ($1, $2, $3, $4)",
    )
    .bind::<SqlUuid, _>(id.0)
    .bind::<Nullable<Text>, _>(from.map(Status::as_str))
    .bind::<Text, _>(to.as_str())
    .bind::<Nullable<Text>, _>(reason)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, QueryableByName)]
pub struct LineRow {
    #[diesel(sql_type = Int4)]
    pub line_no: i32,
    #[diesel(sql_type = SqlUuid)]
    pub product_id: Uuid,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub quantity: i64,
    #[diesel(sql_type = BigInt)]
    pub unit_price_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub line_total_minor: i64,
}

impl LineRow {
    pub fn product(&self) -> ProductId {
        ProductId(self.product_id)
    }
}

pub async fn lines(conn: &mut AsyncPgConnection, id: OrderId) -> diesel::QueryResult<Vec<LineRow>> {
    diesel::sql_query(
        "SELECT line_no, product_id, sku, name, quantity, unit_price_minor, line_total_minor
         FROM order_lines WHERE order_id = $1 ORDER BY line_no",
    )
    .bind::<SqlUuid, _>(id.0)
    .load(conn)
    .await
}

#[derive(Debug, Clone, QueryableByName)]
pub struct HistoryRow {
    #[diesel(sql_type = Nullable<Text>)]
    pub from_status: Option<String>,
    #[diesel(sql_type = Text)]
    pub to_status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

pub async fn history(conn: &mut AsyncPgConnection, id: OrderId) -> diesel::QueryResult<Vec<HistoryRow>> {
    diesel::sql_query(
        "SELECT from_status, to_status, reason, at FROM order_status_history WHERE order_id = $1 ORDER BY id",
    )
    .bind::<SqlUuid, _>(id.0)
    .load(conn)
    .await
}

/// Filters of `GET /orders`; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub user_id: Option<Uuid>,
    pub status: Option<Status>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

const LIST_WHERE: &str = "($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2)
     AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)";

/// One page of orders, newest first, and the total matching the filter.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ListFilter,
    limit: i64,
    offset: i64,
) -> diesel::QueryResult<(Vec<OrderRow>, i64)> {
    let status = filter.status.map(Status::as_str);
    let rows: Vec<OrderRow> = diesel::sql_query(format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE {LIST_WHERE} ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6"
    ))
    .bind::<Nullable<SqlUuid>, _>(filter.user_id)
    .bind::<Nullable<Text>, _>(status)
    .bind::<Nullable<Timestamptz>, _>(filter.from)
    .bind::<Nullable<Timestamptz>, _>(filter.to)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await?;
    let total: super::Count = diesel::sql_query(format!("SELECT count(*) AS n FROM orders WHERE {LIST_WHERE}"))
        .bind::<Nullable<SqlUuid>, _>(filter.user_id)
        .bind::<Nullable<Text>, _>(status)
        .bind::<Nullable<Timestamptz>, _>(filter.from)
        .bind::<Nullable<Timestamptz>, _>(filter.to)
        .get_result(conn)
        .await?;
    Ok((rows, total.n))
}

/// How many lines each order has (for list summaries).
pub async fn line_counts(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> diesel::QueryResult<std::collections::HashMap<Uuid, i64>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        order_id: Uuid,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT order_id, sum(quantity)::int8 AS n FROM order_lines WHERE order_id = ANY($1) GROUP BY order_id",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.order_id, r.n)).collect())
}

/// Orders per status, for the `ecommerce_orders_total` gauge.
pub async fn count_by_status(conn: &mut AsyncPgConnection) -> diesel::QueryResult<Vec<(String, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> =
        diesel::sql_query("SELECT status, count(*) AS n FROM orders GROUP BY status").load(conn).await?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// Open orders created before `cutoff`, locked (skipping rows another writer holds).
pub async fn lock_expired_open(
    conn: &mut AsyncPgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> diesel::QueryResult<Vec<OrderRow>> {
    diesel::sql_query(format!(
        "SELECT {ORDER_COLUMNS} FROM orders
         WHERE status IN ('PENDING', 'AWAITING_PAYMENT') AND created_at < $1
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    ))
    .bind::<Timestamptz, _>(cutoff)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
