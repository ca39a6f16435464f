//! The product snapshot fed by `product_events`: what cart lines are named and priced from.
//!
//! Each row remembers the catalog timestamp of the state it holds; an upsert only lands when the
//! event is at least as new, so a late or replayed event cannot roll a price back. A deletion is
//! terminal: it leaves a tombstone (`deleted`) that later updates do not revive.

use crate::domain::ProductId;
use crate::domain::view::Snapshot;
use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_query;
use diesel::sql_types::{BigInt, Bool, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A product's current state as an event carries it.
#[derive(Debug, Clone)]
pub struct ProductState<'a> {
    pub product_id: ProductId,
    pub sku: &'a str,
    pub name: &'a str,
    pub price_minor: i64,
    pub currency: &'a str,
    pub active: bool,
    /// The catalog's timestamp of this state (`created_at` or `updated_at`).
    pub as_of: DateTime<Utc>,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct ProductRow {
    #[diesel(sql_type = SqlUuid)]
    pub product_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    pub sku: String,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub price_minor: i64,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Bool)]
    pub active: bool,
    #[diesel(sql_type = Bool)]
    pub deleted: bool,
    #[diesel(sql_type = Timestamptz)]
    pub source_updated_at: DateTime<Utc>,
}

impl ProductRow {
    /// Whether a cart may take new units of it.
    pub fn sellable(&self) -> bool {
        self.active && !self.deleted
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            sku: self.sku.clone(),
            name: self.name.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            active: self.active,
            deleted: self.deleted,
        }
    }
}

const COLUMNS: &str = "product_id, sku, name, price_minor, currency, active, deleted, source_updated_at";

pub async fn find(conn: &mut AsyncPgConnection, id: ProductId) -> diesel::QueryResult<Option<ProductRow>> {
    let rows: Vec<ProductRow> = sql_query(format!("SELECT {COLUMNS} FROM product_snapshots WHERE product_id = $1"))
        .bind::<SqlUuid, _>(id.0)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}

/// Applies `product.created` / `product.updated` if it is not older than what is held (and the
/// product is not deleted). Returns whether the row changed.
pub async fn upsert(conn: &mut AsyncPgConnection, state: &ProductState<'_>) -> diesel::QueryResult<bool> {
    let changed = sql_query(
        "INSERT INTO product_snapshots (product_id, sku, name, price_minor, currency, active, source_updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (product_id) DO UPDATE SET sku = EXCLUDED.sku, name = EXCLUDED.name, \
           price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency, active = EXCLUDED.active, \
           source_updated_at = EXCLUDED.source_updated_at, synced_at = now() \
         WHERE NOT product_snapshots.deleted \
           AND product_snapshots.source_updated_at <= EXCLUDED.source_updated_at",
    )
    .bind::<SqlUuid, _>(state.product_id.0)
    .bind::<Text, _>(state.sku)
    .bind::<Text, _>(state.name)
    .bind::<BigInt, _>(state.price_minor)
    .bind::<Text, _>(state.currency)
    .bind::<Bool, _>(state.active)
    .bind::<Timestamptz, _>(state.as_of)
    .execute(conn)
    .await?;
    Ok(changed == 1)
}

/// Applies `product.deleted`: marks the row deleted, or leaves a tombstone if the product was never
/// seen (so a late `product.created` cannot bring it back).
pub async fn mark_deleted(
    conn: &mut AsyncPgConnection,
    id: ProductId,
    sku: &str,
    deleted_at: DateTime<Utc>,
) -> diesel::QueryResult<()> {
    sql_query(
        "INSERT INTO product_snapshots (product_id, sku, name, price_minor, currency, active, deleted, source_updated_at) \
         VALUES ($1, $2, $2, 0, '', FALSE, TRUE, $3) \
         ON CONFLICT (product_id) DO UPDATE SET deleted = TRUE, active = FALSE, \
           source_updated_at = GREATEST(product_snapshots.source_updated_at, EXCLUDED.source_updated_at), \
           synced_at = now()",
    )
    .bind::<SqlUuid, _>(id.0)
    .bind::<Text, _>(sku)
    .bind::<Timestamptz, _>(deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}
