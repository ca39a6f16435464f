//! The reservation engine the order saga drives: reserve all lines of an order or none, release,
//! commit. Plain async functions on a connection, so the consumer and the tests call the same code.
//!
//! Safety argument: every reservation is one conditional `UPDATE stock SET reserved = reserved + q
//! WHERE on_hand - reserved >= q`; PostgreSQL re-checks the condition on the locked row, so no
//! interleaving can reserve more than is available (and the table's CHECKs back it up). Lines are
//! updated in product-id order, so two orders never wait on each other in a cycle. The
//! `reservation_orders` primary key makes each order's reservation happen once.

use super::stock::refresh_low_stock;
use super::{InventoryError, STOCK_COLUMNS, StockRow};
use crate::domain::{Line, OrderId, ProductId, normalise_lines};
use crate::events::publish::{self, RejectedLine};
use chrono::Utc;
use diesel::QueryableByName;
use diesel::sql_query;
use diesel::sql_types::{Array, BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// What `reserve` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// Every line is reserved; `inventory.reserved` is in the outbox.
    Reserved(Vec<Line>),
    /// Nothing is reserved; `inventory.rejected` is in the outbox.
    Rejected { reason: String, lines: Vec<RejectedLine> },
    /// The order was seen before (redelivery): nothing changed, nothing emitted.
    Duplicate,
}

impl ReserveOutcome {
    fn label(&self) -> &'static str {
        match self {
            ReserveOutcome::Reserved(_) => "reserved",
            ReserveOutcome::Rejected { .. } => "rejected",
            ReserveOutcome::Duplicate => "duplicate",
        }
    }
}

/// What `release` or `commit` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleOutcome {
    /// The order's reserved lines were released or committed.
    Done(Vec<Line>),
    /// The order holds no reservation (rejected, already settled, or never seen).
    NothingHeld,
}

/// Why the all-or-nothing attempt stopped; rolls back its savepoint.
#[derive(Debug)]
enum Attempt {
    Short(ProductId),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Attempt {
    fn from(err: diesel::result::Error) -> Self {
        Attempt::Db(err)
    }
}

#[derive(QueryableByName)]
struct HeldLine {
    #[diesel(sql_type = SqlUuid)]
    product_id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    quantity: i64,
}

#[derive(QueryableByName)]
struct OrderState {
    #[diesel(sql_type = Text)]
    state: String,
}

/// Reserves every line of `order_id` or none, and records the outcome with its event, in one
/// transaction (a savepoint when the caller already has one open).
pub async fn reserve(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    lines: &[Line],
) -> Result<ReserveOutcome, InventoryError> {
    let outcome = conn
        .transaction::<_, InventoryError, _>(async |conn| {
            let claimed = sql_query(
                "INSERT INTO reservation_orders (order_id, state) VALUES ($1, 'reserved') \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind::<SqlUuid, _>(order_id.0)
            .execute(conn)
            .await?;
            if claimed == 0 {
                return Ok(ReserveOutcome::Duplicate);
            }
            let normalised = match normalise_lines(lines) {
                Ok(lines) => lines,
                Err(reason) => return reject(conn, order_id, lines, &reason).await,
            };
            let attempt = conn
                .transaction::<_, Attempt, _>(async |conn| {
                    for line in &normalised {
                        let updated = sql_query(
                            "UPDATE stock SET reserved = reserved + $2, updated_at = now(), version = version + 1 \
                             WHERE product_id = $1 AND active AND on_hand - reserved >= $2",
                        )
                        .bind::<SqlUuid, _>(line.product_id.0)
                        .bind::<BigInt, _>(line.quantity)
                        .execute(conn)
                        .await?;
                        if updated == 0 {
                            return Err(Attempt::Short(line.product_id));
                        }
                    }
                    Ok(())
                })
                .await;
            match attempt {
                Ok(()) => {}
                Err(Attempt::Short(product)) => {
                    let reason = format!("insufficient stock for product {product}");
                    return reject(conn, order_id, &normalised, &reason).await;
                }
                Err(Attempt::Db(err)) => return Err(err.into()),
            }
            for line in &normalised {
                sql_query(
                    "INSERT INTO reservations (order_id, product_id, quantity, state) VALUES ($1, $2, $3, 'reserved')",
                )
                .bind::<SqlUuid, _>(order_id.0)
                .bind::<SqlUuid, _>(line.product_id.0)
                .bind::<BigInt, _>(line.quantity)
                .execute(conn)
                .await?;
                refresh_low_stock(conn, line.product_id).await?;
            }
            let event = publish::Reserved { order_id, lines: &normalised, reserved_at: Utc::now() };
            publish::enqueue(conn, publish::RESERVED, order_id.to_string(), &event).await?;
            Ok(ReserveOutcome::Reserved(normalised))
        })
        .await?;
    metrics::counter!("inventory_reservations_total", "outcome" => outcome.label()).increment(1);
    Ok(outcome)
}

/// Records a rejection: the order's state, and `inventory.rejected` with what each line could get.
async fn reject(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    lines: &[Line],
    reason: &str,
) -> Result<ReserveOutcome, InventoryError> {
    sql_query("UPDATE reservation_orders SET state = 'rejected', outcome = $2, updated_at = now() WHERE order_id = $1")
        .bind::<SqlUuid, _>(order_id.0)
        .bind::<Text, _>(reason)
        .execute(conn)
        .await?;
    let ids: Vec<uuid::Uuid> = lines.iter().map(|l| l.product_id.0).collect();
    let rows: Vec<StockRow> = sql_query(format!("SELECT {STOCK_COLUMNS} FROM stock WHERE product_id = ANY($1)"))
        .bind::<Array<SqlUuid>, _>(ids)
        .load(conn)
        .await?;
    let rejected: Vec<RejectedLine> = lines
        .iter()
        .map(|line| RejectedLine {
            product_id: line.product_id,
            requested: line.quantity,
            available: rows
                .iter()
                .find(|r| r.product_id == line.product_id.0 && r.active)
                .map_or(0, |r| r.available.max(0)),
        })
        .collect();
    let event = publish::Rejected { order_id, reason, lines: &rejected, rejected_at: Utc::now() };
    publish::enqueue(conn, publish::REJECTED, order_id.to_string(), &event).await?;
    tracing::info!(order.id = %order_id, reason, "reservation rejected");
    Ok(ReserveOutcome::Rejected { reason: reason.to_owned(), lines: rejected })
}

/// Locks the order's row and returns its held lines if it is still `reserved`. An order never
/// seen gets a tombstone so a late `order.created` cannot reserve for a cancelled order.
async fn held_lines(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    tombstone: &str,
) -> diesel::QueryResult<Option<Vec<Line>>> {
    let state: Vec<OrderState> = sql_query("SELECT state FROM reservation_orders WHERE order_id = $1 FOR UPDATE")
        .bind::<SqlUuid, _>(order_id.0)
        .load(conn)
        .await?;
    match state.into_iter().next() {
        None => {
            sql_query(
                "INSERT INTO reservation_orders (order_id, state, outcome) VALUES ($1, 'released', $2) \
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind::<SqlUuid, _>(order_id.0)
            .bind::<Text, _>(tombstone)
            .execute(conn)
            .await?;
            return Ok(None);
        }
        Some(row) if row.state != "reserved" => return Ok(None),
        Some(_) => {}
    }
    let held: Vec<HeldLine> = sql_query(
        "SELECT product_id, quantity FROM reservations WHERE order_id = $1 AND state = 'reserved' ORDER BY product_id",
    )
    .bind::<SqlUuid, _>(order_id.0)
    .load(conn)
    .await?;
    Ok(Some(held.into_iter().map(|h| Line { product_id: ProductId(h.product_id), quantity: h.quantity }).collect()))
}

async fn mark(conn: &mut AsyncPgConnection, order_id: OrderId, state: &str, outcome: &str) -> diesel::QueryResult<()> {
    sql_query("UPDATE reservations SET state = $2, updated_at = now() WHERE order_id = $1 AND state = 'reserved'")
        .bind::<SqlUuid, _>(order_id.0)
        .bind::<Text, _>(state)
        .execute(conn)
        .await?;
    sql_query("UPDATE reservation_orders SET state = $2, outcome = $3, updated_at = now() WHERE order_id = $1")
        .bind::<SqlUuid, _>(order_id.0)
        .bind::<Text, _>(state)
        .bind::<Text, _>(outcome)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives an order's reserved stock back (cancel, payment failure) and emits `inventory.released`.
/// Safe to repeat: only a `reserved` order releases anything.
pub async fn release(
    conn: &mut AsyncPgConnection,
    order_id: OrderId,
    reason: &str,
) -> Result<SettleOutcome, InventoryError> {
    let outcome = conn
        .transaction::<_, InventoryError, _>(async |conn| {
            let Some(lines) = held_lines(conn, order_id, "released before any reservation").await? else {
                return Ok(SettleOutcome::NothingHeld);
            };
            for line in &lines {
                sql_query(
                    "UPDATE stock SET reserved = reserved - $2, updated_at = now(), version = version + 1 \
                     WHERE product_id = $1",
                )
                .bind::<SqlUuid, _>(line.product_id.0)
                .bind::<BigInt, _>(line.quantity)
                .execute(conn)
                .await?;
                refresh_low_stock(conn, line.product_id).await?;
            }
            mark(conn, order_id, "released", reason).await?;
            let event = publish::Released { order_id, lines: &lines, reason, released_at: Utc::now() };
            publish::enqueue(conn, publish::RELEASED, order_id.to_string(), &event).await?;
            Ok(SettleOutcome::Done(lines))
        })
        .await?;
    if matches!(outcome, SettleOutcome::Done(_)) {
        metrics::counter!("inventory_reservations_total", "outcome" => "released").increment(1);
    }
    Ok(outcome)
}

/// Turns an order's reservation into a sale on shipment: reserved and on hand drop, sold grows.
/// Available is unchanged, so no low-stock check is needed. Safe to repeat.
pub async fn commit(conn: &mut AsyncPgConnection, order_id: OrderId) -> Result<SettleOutcome, InventoryError> {
    let outcome = conn
        .transaction::<_, InventoryError, _>(async |conn| {
            let Some(lines) = held_lines(conn, order_id, "shipped without a reservation").await? else {
                tracing::warn!(order.id = %order_id, "shipment for an order that holds no reservation");
                return Ok(SettleOutcome::NothingHeld);
            };
            for line in &lines {
                sql_query(
                    "UPDATE stock SET reserved = reserved - $2, on_hand = on_hand - $2, sold = sold + $2, \
                     updated_at = now(), version = version + 1 WHERE product_id = $1",
                )
                .bind::<SqlUuid, _>(line.product_id.0)
                .bind::<BigInt, _>(line.quantity)
                .execute(conn)
                .await?;
            }
            mark(conn, order_id, "committed", "shipped").await?;
            Ok(SettleOutcome::Done(lines))
        })
        .await?;
    if matches!(outcome, SettleOutcome::Done(_)) {
        metrics::counter!("inventory_reservations_total", "outcome" => "committed").increment(1);
    }
    Ok(outcome)
}
