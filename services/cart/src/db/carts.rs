//! Carts and their lines.
//!
//! Concurrency: every change to a cart runs in a transaction that first locks the cart row
//! (`FOR UPDATE`), so the line count, the currency check and the line upsert see a stable cart:
//! two concurrent adds to one cart run one after the other, and the 100-line cap cannot be
//! overshot. The line upsert itself (`ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity =
//! LEAST(quantity + added, 99)`) would also sum correctly without the lock. Two carts are locked
//! together in id order (merge), so no two transactions wait on each other in a cycle.

use super::Count;
use crate::domain::view::{CartHeader, LineRecord, Snapshot};
use crate::domain::{CartId, LineId, MAX_LINE_QUANTITY, OrderId, ProductId, UserId};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

const CART_COLUMNS: &str = "id, user_id, currency, updated_at";

/// One cart row.
#[derive(Debug, Clone, QueryableByName)]
pub struct CartRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub user_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

impl CartRow {
    pub fn id(&self) -> CartId {
        CartId(self.id)
    }
    pub fn user(&self) -> Option<UserId> {
        self.user_id.map(UserId)
    }
    pub fn header(&self) -> CartHeader {
        CartHeader { id: self.id(), currency: self.currency.clone(), updated_at: self.updated_at }
    }
}

fn lock_clause(lock: bool) -> &'static str {
    if lock { " FOR UPDATE" } else { "" }
}

pub async fn find_by_user(
    conn: &mut AsyncPgConnection,
    user: UserId,
    lock: bool,
) -> diesel::QueryResult<Option<CartRow>> {
    let rows: Vec<CartRow> =
        sql_query(format!("SELECT {CART_COLUMNS} FROM carts WHERE user_id = $1{}", lock_clause(lock)))
            .bind::<SqlUuid, _>(user.0)
            .load(conn)
            .await?;
    Ok(rows.into_iter().next())
}

pub async fn find_by_token(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8; 32],
    lock: bool,
) -> diesel::QueryResult<Option<CartRow>> {
    let rows: Vec<CartRow> =
        sql_query(format!("SELECT {CART_COLUMNS} FROM carts WHERE token_hash = $1{}", lock_clause(lock)))
            .bind::<Bytea, _>(token_hash.to_vec())
            .load(conn)
            .await?;
    Ok(rows.into_iter().next())
}

pub async fn find_by_id(conn: &mut AsyncPgConnection, id: CartId, lock: bool) -> diesel::QueryResult<Option<CartRow>> {
    let rows: Vec<CartRow> = sql_query(format!("SELECT {CART_COLUMNS} FROM carts WHERE id = $1{}", lock_clause(lock)))
        .bind::<SqlUuid, _>(id.0)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// Creates a guest cart for a new token (hash only).
pub async fn create_guest(conn: &mut AsyncPgConnection, token_hash: &[u8; 32]) -> diesel::QueryResult<CartRow> {
    sql_query(format!("INSERT INTO carts (id, token_hash) VALUES ($1, $2) RETURNING {CART_COLUMNS}"))
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<Bytea, _>(token_hash.to_vec())
        .get_result(conn)
        .await
}

/// The user's cart, created if missing, not locked. Concurrent first requests of one user end up
/// with the same cart: the loser of the insert race waits on the unique index and then finds it.
pub async fn ensure_user_cart(conn: &mut AsyncPgConnection, user: UserId) -> diesel::QueryResult<CartRow> {
    sql_query("INSERT INTO carts (id, user_id) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING")
        .bind::<SqlUuid, _>(Uuid::now_v7())
        .bind::<SqlUuid, _>(user.0)
        .execute(conn)
        .await?;
    find_by_user(conn, user, false).await?.ok_or(diesel::result::Error::NotFound)
}

/// Locks the given carts in id order; returns those that still exist.
pub async fn lock_all(conn: &mut AsyncPgConnection, ids: &[CartId]) -> diesel::QueryResult<Vec<CartRow>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    sql_query(format!("SELECT {CART_COLUMNS} FROM carts WHERE id = ANY($1) ORDER BY id FOR UPDATE"))
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)
        .await
}

/// Marks a change: bumps `updated_at`, and sets the currency when given (first line of a cart).
pub async fn touch(conn: &mut AsyncPgConnection, id: CartId, currency: Option<&str>) -> diesel::QueryResult<CartRow> {
    sql_query(format!(
        "UPDATE carts SET updated_at = now(), currency = COALESCE($2, currency) WHERE id = $1 RETURNING {CART_COLUMNS}"
    ))
    .bind::<SqlUuid, _>(id.0)
    .bind::<Nullable<Text>, _>(currency)
    .get_result(conn)
    .await
}

pub async fn delete_cart(conn: &mut AsyncPgConnection, id: CartId) -> diesel::QueryResult<()> {
    sql_query("DELETE FROM carts WHERE id = $1").bind::<SqlUuid, _>(id.0).execute(conn).await?;
    Ok(())
}

#[derive(QueryableByName)]
struct LineJoin {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    product_id: Uuid,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
    #[diesel(sql_type = Nullable<Text>)]
    sku: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    price_minor: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    currency: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    active: Option<bool>,
    #[diesel(sql_type = Nullable<Bool>)]
    deleted: Option<bool>,
}

/// The cart's lines with their products' snapshots, oldest first.
pub async fn lines(conn: &mut AsyncPgConnection, cart: CartId) -> diesel::QueryResult<Vec<LineRecord>> {
    let rows: Vec<LineJoin> = sql_query(
        "SELECT l.id, l.product_id, l.quantity, p.sku, p.name, p.price_minor, p.currency, p.active, p.deleted \
         FROM cart_lines l LEFT JOIN product_snapshots p ON p.product_id = l.product_id \
         WHERE l.cart_id = $1 ORDER BY l.added_at, l.id",
    )
    .bind::<SqlUuid, _>(cart.0)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let snapshot = match (r.sku, r.name, r.price_minor, r.currency, r.active, r.deleted) {
                (Some(sku), Some(name), Some(price_minor), Some(currency), Some(active), Some(deleted)) => {
                    Some(Snapshot { sku, name, price_minor, currency, active, deleted })
                }
                _ => None,
            };
            LineRecord { id: LineId(r.id), product_id: ProductId(r.product_id), quantity: r.quantity, snapshot }
        })
        .collect())
}

pub async fn line_count(conn: &mut AsyncPgConnection, cart: CartId) -> diesel::QueryResult<i64> {
    let count: Count = sql_query("SELECT count(*) AS n FROM cart_lines WHERE cart_id = $1")
        .bind::<SqlUuid, _>(cart.0)
        .get_result(conn)
        .await?;
    Ok(count.n)
}

/// One line's identity and quantity.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct LineRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub product_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub quantity: i64,
}

impl LineRow {
    pub fn product(&self) -> ProductId {
        ProductId(self.product_id)
    }
}

/// Every line of a cart (id, product, quantity), oldest first.
pub async fn line_rows(conn: &mut AsyncPgConnection, cart: CartId) -> diesel::QueryResult<Vec<LineRow>> {
    sql_query("SELECT id, product_id, quantity FROM cart_lines WHERE cart_id = $1 ORDER BY added_at, id")
        .bind::<SqlUuid, _>(cart.0)
        .load(conn)
        .await
}

pub async fn find_line_for_product(
    conn: &mut AsyncPgConnection,
    cart: CartId,
    product: ProductId,
) -> diesel::QueryResult<Option<LineRow>> {
    let rows: Vec<LineRow> =
        sql_query("SELECT id, product_id, quantity FROM cart_lines WHERE cart_id = $1 AND product_id = $2")
            .bind::<SqlUuid, _>(cart.0)
            .bind::<SqlUuid, _>(product.0)
            .load(conn)
            .await?;
    Ok(rows.into_iter().next())
}

/// A line of this cart by id; a line of another cart is `None` like a missing one.
pub async fn find_line(
    conn: &mut AsyncPgConnection,
    cart: CartId,
    line: LineId,
) -> diesel::QueryResult<Option<LineRow>> {
    let rows: Vec<LineRow> =
        sql_query("SELECT id, product_id, quantity FROM cart_lines WHERE cart_id = $1 AND id = $2")
            .bind::<SqlUuid, _>(cart.0)
            .bind::<SqlUuid, _>(line.0)
            .load(conn)
            .await?;
    Ok(rows.into_iter().next())
}

/// Adds `quantity` units of `product`: a new line, or the existing line's quantity plus `quantity`,
/// capped at 99. Returns the line after the change.
pub async fn upsert_line(
    conn: &mut AsyncPgConnection,
    cart: CartId,
    product: ProductId,
    quantity: i64,
) -> diesel::QueryResult<LineRow> {
    sql_query(format!(
        "INSERT INTO cart_lines (id, cart_id, product_id, quantity) VALUES ($1, $2, $3, LEAST($4, {MAX_LINE_QUANTITY})) \
         ON CONFLICT (cart_id, product_id) DO UPDATE \
           SET quantity = LEAST(cart_lines.quantity + EXCLUDED.quantity, {MAX_LINE_QUANTITY}), updated_at = now() \
         RETURNING id, product_id, quantity"
    ))
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<SqlUuid, _>(cart.0)
    .bind::<SqlUuid, _>(product.0)
    .bind::<BigInt, _>(quantity)
    .get_result(conn)
    .await
}

/// Moves a line to another cart (which must not hold its product), keeping its id.
pub async fn move_line(conn: &mut AsyncPgConnection, line: LineId, to: CartId) -> diesel::QueryResult<()> {
    // Moved lines join the end of the list (now() is the transaction time; ties go by id).
    sql_query("UPDATE cart_lines SET cart_id = $2, added_at = now(), updated_at = now() WHERE id = $1")
        .bind::<SqlUuid, _>(line.0)
        .bind::<SqlUuid, _>(to.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_quantity(conn: &mut AsyncPgConnection, line: LineId, quantity: i64) -> diesel::QueryResult<()> {
    sql_query("UPDATE cart_lines SET quantity = $2, updated_at = now() WHERE id = $1")
        .bind::<SqlUuid, _>(line.0)
        .bind::<BigInt, _>(quantity)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_line(conn: &mut AsyncPgConnection, line: LineId) -> diesel::QueryResult<()> {
    sql_query("DELETE FROM cart_lines WHERE id = $1").bind::<SqlUuid, _>(line.0).execute(conn).await?;
    Ok(())
}

/// Empties a cart; returns how many lines went.
pub async fn delete_lines(conn: &mut AsyncPgConnection, cart: CartId) -> diesel::QueryResult<usize> {
    sql_query("DELETE FROM cart_lines WHERE cart_id = $1").bind::<SqlUuid, _>(cart.0).execute(conn).await
}

/// Records that `order`'s confirmation was applied to `cart`; `false` if it was before.
pub async fn claim_checkout(conn: &mut AsyncPgConnection, order: OrderId, cart: CartId) -> diesel::QueryResult<bool> {
    let inserted =
        sql_query("INSERT INTO checkout_orders (order_id, cart_id) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING")
            .bind::<SqlUuid, _>(order.0)
            .bind::<SqlUuid, _>(cart.0)
            .execute(conn)
            .await?;
    Ok(inserted == 1)
}
