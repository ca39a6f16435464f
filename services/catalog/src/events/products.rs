//! `product_events` payloads (docs/events.md), written to the outbox in the transaction of the
//! change they describe.

use crate::db::products::ProductRow;
use crate::domain::{Money, ProductId};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use shop_common::events::topics;
use shop_common::outbox::{self, EventMeta};

pub const SOURCE: &str = "catalog";
pub const PRODUCT_CREATED: &str = "product.created";
pub const PRODUCT_UPDATED: &str = "product.updated";
pub const PRODUCT_DELETED: &str = "product.deleted";
pub const VERSION: u32 = 1;

/// `product.created` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDeleted {
    pub product_id: ProductId,
    pub sku: String,
    pub deleted_at: DateTime<Utc>,
}

async fn enqueue<T: Serialize>(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    product: ProductId,
    data: &T,
) -> diesel::QueryResult<()> {
    let meta = EventMeta { topic: topics::PRODUCT_EVENTS, event_type, version: VERSION, source: SOURCE };
    outbox::enqueue_typed(conn, meta, product.to_string(), data).await
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
