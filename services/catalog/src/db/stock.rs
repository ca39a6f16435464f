//! The catalogue's copy of stock levels, fed by inventory events (eventually consistent).

use super::schema::products;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// Sets the absolute `available` reported at `as_of`, unless a newer report was applied already
/// (stock events and reservation events travel on different partitions, so they can overtake
/// each other). Returns whether a row changed.
pub async fn set_available(
    conn: &mut AsyncPgConnection,
    product: Uuid,
    available: i32,
    as_of: DateTime<Utc>,
) -> QueryResult<bool> {
    let changed = diesel::update(
        products::table
            .filter(products::id.eq(product))
            .filter(products::stock_as_of.is_null().or(products::stock_as_of.le(as_of))),
    )
    .set((
        products::available.eq(available.max(0)),
        products::in_stock.eq(available > 0),
        products::stock_as_of.eq(as_of),
        products::stock_seq.eq(products::stock_seq + 1),
    ))
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Applies a reservation (negative `delta`) or a release (positive) to `available`.
pub async fn add_available(conn: &mut AsyncPgConnection, product: Uuid, delta: i32) -> QueryResult<bool> {
    let changed = diesel::update(products::table.filter(products::id.eq(product)))
        .set((
            products::available.eq(diesel::dsl::sql::<diesel::sql_types::Integer>("GREATEST(available + ")
                .bind::<diesel::sql_types::Integer, _>(delta)
                .sql(", 0)")),
            products::in_stock.eq(diesel::dsl::sql::<diesel::sql_types::Bool>("(available + ")
                .bind::<diesel::sql_types::Integer, _>(delta)
                .sql(") > 0")),
            products::stock_seq.eq(products::stock_seq + 1),
        ))
        .execute(conn)
        .await?;
    Ok(changed == 1)
}
