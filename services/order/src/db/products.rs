//! The product snapshot fed by `product_events`: what the order service prices from.
//!
//! Every write is an upsert guarded by the source's timestamp (`source_updated_at`), so a stale
//! event delivered late (or replayed) never overwrites a newer state.

use crate::domain::{ProductId, SnapshotProduct};
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use shop_common::money::Money;
use std::collections::HashMap;
use uuid::Uuid;

/// A product state as an event describes it.
#[derive(Debug, Clone)]
pub struct ProductState {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub price: Money,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

/// Inserts or replaces the product unless the stored state is newer. Returns whether it changed.
pub async fn upsert(conn: &mut AsyncPgConnection, state: &ProductState) -> diesel::QueryResult<bool> {
    let changed = diesel::sql_query(
        "INSERT INTO products (product_id, sku, name, price_minor, currency, active, deleted, source_updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7)
         ON CONFLICT (product_id) DO UPDATE SET
             sku = EXCLUDED.sku, name = EXCLUDED.name, price_minor = EXCLUDED.price_minor,
             currency = EXCLUDED.currency, active = EXCLUDED.active, deleted = FALSE,
             source_updated_at = EXCLUDED.source_updated_at, synced_at = now()
         WHERE products.source_updated_at <= EXCLUDED.source_updated_at AND NOT products.deleted",
    )
    .bind::<SqlUuid, _>(state.product_id.0)
    .bind::<Text, _>(&state.sku)
    .bind::<Text, _>(&state.name)
    .bind::<BigInt, _>(state.price.amount_minor)
    .bind::<Text, _>(&state.price.currency)
    .bind::<Bool, _>(state.active)
    .bind::<Timestamptz, _>(state.updated_at)
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Marks the product deleted (soft: past orders keep their line snapshots). A deletion is final.
pub async fn delete(
    conn: &mut AsyncPgConnection,
    product_id: ProductId,
    sku: &str,
    deleted_at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO products (product_id, sku, name, price_minor, currency, active, deleted, source_updated_at)
         VALUES ($1, $2, $2, 0, 'XXX', FALSE, TRUE, $3)
         ON CONFLICT (product_id) DO UPDATE SET active = FALSE, deleted = TRUE,
             source_updated_at = GREATEST(products.source_updated_at, EXCLUDED.source_updated_at), synced_at = now()",
    )
    .bind::<SqlUuid, _>(product_id.0)
    .bind::<Text, _>(sku)
    .bind::<Timestamptz, _>(deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct ProductRow {
    #[diesel(sql_type = SqlUuid)]
    product_id: Uuid,
    #[diesel(sql_type = Text)]
    sku: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    price_minor: i64,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Bool)]
    active: bool,
}

/// The snapshot of the given products (missing ones are simply absent).
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    ids: &[ProductId],
) -> diesel::QueryResult<HashMap<ProductId, SnapshotProduct>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows: Vec<ProductRow> = diesel::sql_query(
        "SELECT product_id, sku, name, price_minor, currency, active AND NOT deleted AS active
         FROM products WHERE product_id = ANY($1)",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = ProductId(row.product_id);
            let product = SnapshotProduct {
                product_id: id,
                sku: row.sku,
                name: row.name,
                price: Money::new(row.price_minor, row.currency),
                active: row.active,
            };
            (id, product)
        })
        .collect())
}
