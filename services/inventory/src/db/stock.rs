//! Stock rows: reads, rows created from `product.created`, admin updates with their audit trail,
//! and the low-stock latch.

use super::{InventoryError, STOCK_COLUMNS, StockRow};
use crate::domain::{Mode, ProductId, StockUpdate, is_low};
use crate::events::publish;
use chrono::Utc;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

pub async fn find(conn: &mut AsyncPgConnection, id: ProductId) -> diesel::QueryResult<Option<StockRow>> {
    let rows: Vec<StockRow> = sql_query(format!("SELECT {STOCK_COLUMNS} FROM stock WHERE product_id = $1"))
        .bind::<SqlUuid, _>(id.0)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// Creates the stock row of a new product; a second call (redelivery) changes nothing. Returns
/// whether it was created. A product born at or below its threshold starts with the alert latched:
/// it never crossed the threshold, so no `inventory.low_stock` is emitted for it.
pub async fn create(
    conn: &mut AsyncPgConnection,
    id: ProductId,
    initial_stock: i64,
    threshold: i64,
) -> diesel::QueryResult<bool> {
    let initial = initial_stock.max(0);
    let threshold = threshold.max(0);
    conn.transaction(async |conn| {
        let inserted = sql_query(
            "INSERT INTO stock (product_id, on_hand, low_stock_threshold, low_stock_alerted) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (product_id) DO NOTHING",
        )
        .bind::<SqlUuid, _>(id.0)
        .bind::<BigInt, _>(initial)
        .bind::<BigInt, _>(threshold)
        .bind::<diesel::sql_types::Bool, _>(is_low(initial, threshold))
        .execute(conn)
        .await?;
        if inserted == 1 {
            // The ledger starts here: initial + restocks = on_hand + sold.
            insert_audit(conn, id, Mode::Set, initial, initial, "initial stock (product.created)", None, 0, initial, 0)
                .await?;
        }
        Ok(inserted == 1)
    })
    .await
}

/// Follows `product.updated`: a new threshold may cross (or un-cross) the low-stock line.
pub async fn update_product(
    conn: &mut AsyncPgConnection,
    id: ProductId,
    threshold: i64,
    active: bool,
) -> diesel::QueryResult<()> {
    sql_query("UPDATE stock SET low_stock_threshold = $2, active = $3, updated_at = now() WHERE product_id = $1")
        .bind::<SqlUuid, _>(id.0)
        .bind::<BigInt, _>(threshold.max(0))
        .bind::<diesel::sql_types::Bool, _>(active)
        .execute(conn)
        .await?;
    refresh_low_stock(conn, id).await
}

/// Follows `product.deleted`: the row stays (history, open reservations) but takes no new ones.
pub async fn deactivate(conn: &mut AsyncPgConnection, id: ProductId) -> diesel::QueryResult<()> {
    sql_query("UPDATE stock SET active = FALSE, updated_at = now() WHERE product_id = $1")
        .bind::<SqlUuid, _>(id.0)
        .execute(conn)
        .await?;
    refresh_low_stock(conn, id).await
}

/// Re-evaluates the low-stock latch after any change to a row (which the caller's transaction
/// holds locked). Emits `inventory.low_stock` only when the latch flips on, i.e. once per
/// downward crossing; going back above the threshold re-arms it silently.
pub async fn refresh_low_stock(conn: &mut AsyncPgConnection, id: ProductId) -> diesel::QueryResult<()> {
    let flipped: Vec<StockRow> = sql_query(format!(
        "UPDATE stock SET low_stock_alerted = (active AND available <= low_stock_threshold) \
         WHERE product_id = $1 AND low_stock_alerted <> (active AND available <= low_stock_threshold) \
         RETURNING {STOCK_COLUMNS}"
    ))
    .bind::<SqlUuid, _>(id.0)
    .load(conn)
    .await?;
    if let Some(row) = flipped.into_iter().next()
        && row.low_stock_alerted
    {
        tracing::info!(product.id = %id, stock.available = row.available, stock.threshold = row.low_stock_threshold, "stock fell to the low-stock threshold");
        publish::low_stock(conn, &row).await?;
    }
    Ok(())
}

/// Applies an admin update in one transaction: the stock change, its audit row, the low-stock
/// latch and `inventory.adjusted`. A delta is one `UPDATE ... SET on_hand = on_hand + $d`, so
/// concurrent deltas never lose each other.
pub async fn apply_update(conn: &mut AsyncPgConnection, update: &StockUpdate) -> Result<StockRow, InventoryError> {
    conn.transaction(async |conn| {
        let id = update.product_id;
        let (before, row) = match update.mode {
            Mode::Adjust => {
                let rows: Vec<StockRow> = sql_query(format!(
                    "UPDATE stock SET on_hand = on_hand + $2, updated_at = now(), version = version + 1 \
                     WHERE product_id = $1 AND on_hand + $2 >= reserved RETURNING {STOCK_COLUMNS}"
                ))
                .bind::<SqlUuid, _>(id.0)
                .bind::<BigInt, _>(update.quantity)
                .load(conn)
                .await?;
                match rows.into_iter().next() {
                    Some(row) => (row.on_hand - update.quantity, row),
                    None => {
                        let current = find(conn, id).await?.ok_or(InventoryError::NotFound(id))?;
                        return Err(InventoryError::Conflict(format!(
                            "on hand would drop below the reserved quantity (on hand {}, reserved {}, delta {})",
                            current.on_hand, current.reserved, update.quantity
                        )));
                    }
                }
            }
            Mode::Set => {
                let current: Vec<StockRow> =
                    sql_query(format!("SELECT {STOCK_COLUMNS} FROM stock WHERE product_id = $1 FOR UPDATE"))
                        .bind::<SqlUuid, _>(id.0)
                        .load(conn)
                        .await?;
                let current = current.into_iter().next().ok_or(InventoryError::NotFound(id))?;
                if update.quantity < current.reserved {
                    return Err(InventoryError::Conflict(format!(
                        "on hand cannot be set below the reserved quantity ({})",
                        current.reserved
                    )));
                }
                let rows: Vec<StockRow> = sql_query(format!(
                    "UPDATE stock SET on_hand = $2, updated_at = now(), version = version + 1 \
                     WHERE product_id = $1 RETURNING {STOCK_COLUMNS}"
                ))
                .bind::<SqlUuid, _>(id.0)
                .bind::<BigInt, _>(update.quantity)
                .load(conn)
                .await?;
                let row = rows.into_iter().next().ok_or(InventoryError::NotFound(id))?;
                (current.on_hand, row)
            }
        };
        let delta = row.on_hand - before;
        insert_audit(
            conn,
            id,
            update.mode,
            update.quantity,
            delta,
            &update.reason,
            update.actor,
            before,
            row.on_hand,
            row.reserved,
        )
        .await?;
        refresh_low_stock(conn, id).await?;
        let event = publish::Adjusted {
            product_id: id,
            on_hand: row.on_hand,
            reserved: row.reserved,
            available: row.available,
            delta,
            reason: &update.reason,
            adjusted_at: Utc::now(),
        };
        publish::enqueue(conn, publish::ADJUSTED, id.to_string(), &event).await?;
        Ok(row)
    })
    .await
}

#[allow(clippy::too_many_arguments)] // one audit row's columns
async fn insert_audit(
    conn: &mut AsyncPgConnection,
    id: ProductId,
    mode: Mode,
    quantity: i64,
    delta: i64,
    reason: &str,
    actor: Option<Uuid>,
    before: i64,
    after: i64,
    reserved: i64,
) -> diesel::QueryResult<()> {
    sql_query(
        "INSERT INTO stock_adjustments \
         (product_id, mode, quantity, delta, reason, actor_id, on_hand_before, on_hand_after, reserved) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind::<SqlUuid, _>(id.0)
    .bind::<Text, _>(mode.as_str())
    .bind::<BigInt, _>(quantity)
    .bind::<BigInt, _>(delta)
    .bind::<Text, _>(reason)
    .bind::<Nullable<SqlUuid>, _>(actor)
    .bind::<BigInt, _>(before)
    .bind::<BigInt, _>(after)
    .bind::<BigInt, _>(reserved)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Active products at or below their threshold, lowest available first.
pub async fn list_low(
    conn: &mut AsyncPgConnection,
    limit: i64,
    offset: i64,
) -> diesel::QueryResult<(Vec<StockRow>, i64)> {
    let rows = sql_query(format!(
        "SELECT {STOCK_COLUMNS} FROM stock WHERE active AND available <= low_stock_threshold \
         ORDER BY available, product_id LIMIT $1 OFFSET $2"
    ))
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await?;
    let total: Count =
        sql_query("SELECT count(*) AS count FROM stock WHERE active AND available <= low_stock_threshold")
            .get_result(conn)
            .await?;
    Ok((rows, total.count))
}

/// The `limit` active products with the least available stock (for the stock gauge).
pub async fn lowest_available(conn: &mut AsyncPgConnection, limit: i64) -> diesel::QueryResult<Vec<StockRow>> {
    sql_query(format!("SELECT {STOCK_COLUMNS} FROM stock WHERE active ORDER BY available, product_id LIMIT $1"))
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
}
