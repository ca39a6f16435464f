//! The aggregates behind the endpoints. Every query reads only event-derived columns and breaks
//! ties deterministically, so a rebuilt database answers byte for byte the same.
//!
//! A *sale* is an order with a confirmation (or, defensively, a shipment) and neither a
//! cancellation nor a failure; its time is the confirmation's. Ranges are `[from, to)`.

use crate::domain::{Interval, Range};
use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// `$1`/`$2` are the range ends (NULL = unbounded).
fn in_range(column: &str) -> String {
    format!("($1::timestamptz IS NULL OR {column} >= $1) AND ($2::timestamptz IS NULL OR {column} < $2)")
}

/// The order counts as a sale (confirmed or shipped, not cancelled or failed).
const SOLD: &str =
    "COALESCE(o.confirmed_at, o.shipped_at) IS NOT NULL AND o.cancelled_at IS NULL AND o.failed_at IS NULL";

/// Units and revenue of one product in one currency.
#[derive(Debug, QueryableByName)]
pub struct ProductSales {
    #[diesel(sql_type = SqlUuid)]
    pub product_id: Uuid,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub units: i64,
    #[diesel(sql_type = BigInt)]
    pub revenue_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
}

/// Sales per product and currency in `range`, for products whose category *at the time of the
/// order* (the latest snapshot at or before the order; the earliest one if the order predates
/// every snapshot) is `category`, when given.
pub async fn product_sales(
    conn: &mut AsyncPgConnection,
    range: Range,
    category: Option<&str>,
) -> QueryResult<Vec<ProductSales>> {
    let sql = format!(
        "SELECT l.product_id, l.currency, sum(l.quantity)::bigint AS units, sum(l.revenue_minor)::bigint AS revenue_minor, \
                count(DISTINCT l.order_id)::bigint AS orders \
         FROM order_lines l \
         JOIN orders o ON o.order_id = l.order_id \
         LEFT JOIN LATERAL ( \
             SELECT v.category_slug FROM product_versions v \
             WHERE v.product_id = l.product_id \
             ORDER BY (v.valid_from <= COALESCE(o.created_at, o.confirmed_at, o.shipped_at)) DESC, \
                      CASE WHEN v.valid_from <= COALESCE(o.created_at, o.confirmed_at, o.shipped_at) \
                           THEN v.valid_from END DESC NULLS LAST, \
                      v.valid_from ASC \
             LIMIT 1) snapshot ON TRUE \
         WHERE {SOLD} AND {range} AND ($3::text IS NULL OR snapshot.category_slug = $3) \
         GROUP BY l.product_id, l.currency \
         ORDER BY l.product_id, l.currency",
        range = in_range("COALESCE(o.confirmed_at, o.shipped_at)")
    );
    diesel::sql_query(sql)
        .bind::<Nullable<Timestamptz>, _>(range.from)
        .bind::<Nullable<Timestamptz>, _>(range.to)
        .bind::<Nullable<Text>, _>(category)
        .load(conn)
        .await
}

/// How a product is shown: its latest snapshot, or what an order line called it.
#[derive(Debug, QueryableByName)]
pub struct ProductLabel {
    #[diesel(sql_type = SqlUuid)]
    pub product_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub sku: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub category: Option<String>,
}

pub async fn product_labels(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<ProductLabel>> {
    diesel::sql_query(
        "SELECT id AS product_id, \
                COALESCE(latest.sku, (SELECT min(sku) FROM order_lines WHERE product_id = id)) AS sku, \
                COALESCE(latest.name, (SELECT min(name) FROM order_lines WHERE product_id = id)) AS name, \
                latest.category_slug AS category \
         FROM unnest($1::uuid[]) AS id \
         LEFT JOIN LATERAL ( \
             SELECT sku, name, category_slug FROM product_versions v WHERE v.product_id = id \
             ORDER BY v.valid_from DESC LIMIT 1) latest ON TRUE",
    )
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
    .load(conn)
    .await
}

/// Gross sales and refunds of one currency in one bucket.
#[derive(Debug, QueryableByName)]
pub struct RevenueRow {
    #[diesel(sql_type = Timestamptz)]
    pub bucket: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub gross_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub refunds_minor: i64,
    #[diesel(sql_type = BigInt)]
    pub orders: i64,
}

/// Gross = totals of orders confirmed in the bucket (whatever happened to them later); refunds =
/// `payment.refunded` amounts dated in the bucket. Buckets without either are absent.
pub async fn revenue(conn: &mut AsyncPgConnection, range: Range, interval: Interval) -> QueryResult<Vec<RevenueRow>> {
    let sql = format!(
        "WITH sales AS ( \
             SELECT date_trunc($3, COALESCE(o.confirmed_at, o.shipped_at), 'UTC') AS bucket, o.currency, \
                    sum(o.total_minor) AS gross, count(*) AS orders \
             FROM orders o \
             WHERE COALESCE(o.confirmed_at, o.shipped_at) IS NOT NULL AND o.currency IS NOT NULL \
               AND o.total_minor IS NOT NULL AND {sales_range} \
             GROUP BY 1, 2), \
         refunded AS ( \
             SELECT date_trunc($3, r.at, 'UTC') AS bucket, r.currency, sum(r.amount_minor) AS refunds \
             FROM refunds r WHERE {refund_range} GROUP BY 1, 2) \
         SELECT COALESCE(s.bucket, r.bucket) AS bucket, COALESCE(s.currency, r.currency) AS currency, \
                COALESCE(s.gross, 0)::bigint AS gross_minor, COALESCE(r.refunds, 0)::bigint AS refunds_minor, \
                COALESCE(s.orders, 0)::bigint AS orders \
         FROM sales s FULL OUTER JOIN refunded r ON r.bucket = s.bucket AND r.currency = s.currency \
         ORDER BY 1, 2",
        sales_range = in_range("COALESCE(o.confirmed_at, o.shipped_at)"),
        refund_range = in_range("r.at"),
    );
    diesel::sql_query(sql)
        .bind::<Nullable<Timestamptz>, _>(range.from)
        .bind::<Nullable<Timestamptz>, _>(range.to)
        .bind::<Text, _>(interval.as_str())
        .load(conn)
        .await
}

#[derive(Debug, QueryableByName)]
pub struct UserTotals {
    #[diesel(sql_type = BigInt)]
    pub registrations: i64,
    #[diesel(sql_type = BigInt)]
    pub logins: i64,
    #[diesel(sql_type = BigInt)]
    pub active_users: i64,
    #[diesel(sql_type = BigInt)]
    pub buyers: i64,
    #[diesel(sql_type = BigInt)]
    pub repeat_buyers: i64,
    #[diesel(sql_type = BigInt)]
    pub carts_with_add: i64,
    #[diesel(sql_type = BigInt)]
    pub carts_converted: i64,
}

/// Activity: a login, or placing an order (its creation time), by a known user.
fn activity(range_logins: &str, range_orders: &str) -> String {
    format!(
        "SELECT l.user_id, l.at FROM logins l WHERE {range_logins} \
         UNION ALL \
         SELECT o.user_id, o.created_at AS at FROM orders o \
         WHERE o.user_id IS NOT NULL AND o.created_at IS NOT NULL AND {range_orders}"
    )
}

pub async fn user_totals(conn: &mut AsyncPgConnection, range: Range) -> QueryResult<UserTotals> {
    let sql = format!(
        "WITH activity AS ({activity}), \
         purchases AS ( \
             SELECT o.user_id, count(*) AS n FROM orders o \
             WHERE o.user_id IS NOT NULL AND {SOLD} AND {sold_range} GROUP BY o.user_id), \
         carts AS ( \
             SELECT a.cart_id, min(a.at) AS first_add FROM cart_adds a WHERE {cart_range} GROUP BY a.cart_id) \
         SELECT \
             (SELECT count(*) FROM user_registrations u WHERE {registered_range}) AS registrations, \
             (SELECT count(*) FROM logins l WHERE {login_range}) AS logins, \
             (SELECT count(DISTINCT user_id) FROM activity) AS active_users, \
             (SELECT count(*) FROM purchases) AS buyers, \
             (SELECT count(*) FROM purchases WHERE n >= 2) AS repeat_buyers, \
             (SELECT count(*) FROM carts) AS carts_with_add, \
             (SELECT count(*) FROM carts c WHERE EXISTS ( \
                 SELECT 1 FROM orders o \
                 WHERE o.confirmed_at IS NOT NULL AND o.confirmed_at >= c.first_add \
                   AND (o.cart_id = c.cart_id \
                        OR o.cart_id IN (SELECT m.into_cart_id FROM cart_merges m WHERE m.from_cart_id = c.cart_id) \
                        OR (o.cart_id IS NULL AND o.user_id IN ( \
                                SELECT a.user_id FROM cart_adds a WHERE a.cart_id = c.cart_id))))) AS carts_converted",
        activity = activity(&in_range("l.at"), &in_range("o.created_at")),
        sold_range = in_range("COALESCE(o.confirmed_at, o.shipped_at)"),
        cart_range = in_range("a.at"),
        registered_range = in_range("u.registered_at"),
        login_range = in_range("l.at"),
    );
    diesel::sql_query(sql)
        .bind::<Nullable<Timestamptz>, _>(range.from)
        .bind::<Nullable<Timestamptz>, _>(range.to)
        .get_result(conn)
        .await
}

#[derive(Debug, QueryableByName)]
pub struct ActivePeriod {
    #[diesel(sql_type = Timestamptz)]
    pub start: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub users: i64,
}

/// Distinct active users per UTC day/week/month, counting only activity inside `range`.
pub async fn active_users(
    conn: &mut AsyncPgConnection,
    range: Range,
    interval: Interval,
) -> QueryResult<Vec<ActivePeriod>> {
    let sql = format!(
        "WITH activity AS ({activity}) \
         SELECT date_trunc($3, at, 'UTC') AS start, count(DISTINCT user_id)::bigint AS users \
         FROM activity GROUP BY 1 ORDER BY 1",
        activity = activity(&in_range("l.at"), &in_range("o.created_at")),
    );
    diesel::sql_query(sql)
        .bind::<Nullable<Timestamptz>, _>(range.from)
        .bind::<Nullable<Timestamptz>, _>(range.to)
        .bind::<Text, _>(interval.as_str())
        .load(conn)
        .await
}

#[derive(Debug, QueryableByName)]
pub struct CurrencyTotal {
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = BigInt)]
    pub amount_minor: i64,
}

/// All-time net revenue per currency (confirmed totals minus refunds), for the metrics gauge.
pub async fn net_revenue(conn: &mut AsyncPgConnection) -> QueryResult<Vec<CurrencyTotal>> {
    diesel::sql_query(
        "SELECT currency, sum(amount)::bigint AS amount_minor FROM ( \
             SELECT currency, total_minor AS amount FROM orders \
             WHERE COALESCE(confirmed_at, shipped_at) IS NOT NULL AND currency IS NOT NULL AND total_minor IS NOT NULL \
             UNION ALL SELECT currency, -amount_minor FROM refunds) t \
         GROUP BY currency ORDER BY currency",
    )
    .load(conn)
    .await
}
