//! `product_events` payloads (docs/events.md), written to the outbox in the transaction of the
//! change they describe.

use crate::db::products::ProductRow;
use crate::domain::ProductId;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use shop_common::events::contract::EventKind;
use shop_common::events::topics;
use shop_common::money::Money;
use shop_common::outbox;

pub const SOURCE: &str = "catalog";

// The one table of what the catalog publishes: the functions below write these kinds, and
// `published_contracts()` (checked against docs/events/schemas) lists them.
shop_common::published_events! {
    PRODUCT_CREATED: ProductCreated = (topics::PRODUCT_EVENTS, "product.created", 1);
    PRODUCT_UPDATED: ProductUpdated = (topics::PRODUCT_EVENTS, "product.updated", 1);
    PRODUCT_DELETED: ProductDeleted = (topics::PRODUCT_EVENTS, "product.deleted", 1);
}

/// `product.created` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProductCreated {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category_slug: Option<String>,
    pub attributes: serde_json::Value,
    pub image_urls: Vec<String>,
    pub active: bool,
    pub initial_stock: i32,
    pub low_stock_threshold: i32,
    pub created_at: DateTime<Utc>,
}

/// `product.updated` v1: the full current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProductUpdated {
    pub product_id: ProductId,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category_slug: Option<String>,
    pub attributes: serde_json::Value,
    pub image_urls: Vec<String>,
    pub active: bool,
    pub low_stock_threshold: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `product.deleted` v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductDeleted {
    pub product_id: ProductId,
    pub sku: String,
    pub deleted_at: DateTime<Utc>,
}

async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    kind: EventKind<T>,
    product: ProductId,
    data: &T,
) -> diesel::QueryResult<()> {
    outbox::enqueue_typed(conn, kind.meta(SOURCE), product.to_string(), data).await
}

pub async fn created(conn: &mut AsyncPgConnection, row: &ProductRow, initial_stock: i32) -> diesel::QueryResult<()> {
    let data = ProductCreated {
        product_id: ProductId(row.id),
        sku: row.sku.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        price: Money { amount_minor: row.price_minor, currency: row.currency.clone() },
        category_slug: row.category_slug.clone(),
        attributes: row.attributes.clone(),
        image_urls: row.image_urls.clone(),
        active: row.active,
        initial_stock,
        low_stock_threshold: row.low_stock_threshold,
        created_at: row.created_at,
    };
    enqueue(conn, PRODUCT_CREATED, data.product_id, &data).await
}

pub async fn updated(conn: &mut AsyncPgConnection, row: &ProductRow) -> diesel::QueryResult<()> {
    let data = ProductUpdated {
        product_id: ProductId(row.id),
        sku: row.sku.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        price: Money { amount_minor: row.price_minor, currency: row.currency.clone() },
        category_slug: row.category_slug.clone(),
        attributes: row.attributes.clone(),
        image_urls: row.image_urls.clone(),
        active: row.active,
        low_stock_threshold: row.low_stock_threshold,
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    enqueue(conn, PRODUCT_UPDATED, data.product_id, &data).await
}

pub async fn deleted(conn: &mut AsyncPgConnection, row: &ProductRow) -> diesel::QueryResult<()> {
    let data = ProductDeleted {
        product_id: ProductId(row.id),
        sku: row.sku.clone(),
        deleted_at: row.deleted_at.unwrap_or(row.updated_at),
    };
    enqueue(conn, PRODUCT_DELETED, data.product_id, &data).await
}
