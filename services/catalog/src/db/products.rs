//! The `products` table.

use super::schema::products;
use crate::domain::{Money, Product, ProductId, ValidProduct};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: Uuid,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub category_slug: Option<String>,
    pub attributes: serde_json::Value,
    pub image_urls: Vec<String>,
    pub active: bool,
    pub low_stock_threshold: i32,
    pub version: i64,
    pub available: i32,
    pub in_stock: bool,
    pub stock_seq: i64,
    pub stock_as_of: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl ProductRow {
    pub fn to_product(&self) -> Product {
        Product {
            id: ProductId(self.id),
            sku: self.sku.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            price: Money { amount_minor: self.price_minor, currency: self.currency.clone() },
            category: self.category_slug.clone(),
            attributes: self.attributes.clone(),
            image_urls: self.image_urls.clone(),
            active: self.active,
            low_stock_threshold: self.low_stock_threshold,
            in_stock: self.in_stock,
            available: self.available,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = products)]
struct ProductValues<'a> {
    sku: &'a str,
    name: &'a str,
    description: &'a str,
    price_minor: i64,
    currency: &'a str,
    category_slug: Option<&'a str>,
    attributes: &'a serde_json::Value,
    image_urls: &'a [String],
    active: bool,
    low_stock_threshold: i32,
}

impl<'a> From<&'a ValidProduct> for ProductValues<'a> {
    fn from(p: &'a ValidProduct) -> Self {
        Self {
            sku: &p.sku,
            name: &p.name,
            description: &p.description,
            price_minor: p.price.amount_minor,
            currency: &p.price.currency,
            category_slug: p.category.as_deref(),
            attributes: &p.attributes,
            image_urls: &p.image_urls,
            active: p.active,
            low_stock_threshold: p.low_stock_threshold,
        }
    }
}

/// Inserts a product; its stock view starts from `initial_stock` until inventory reports.
pub async fn insert(conn: &mut AsyncPgConnection, id: ProductId, product: &ValidProduct) -> QueryResult<ProductRow> {
    diesel::insert_into(products::table)
        .values((
            products::id.eq(id.0),
            ProductValues::from(product),
            products::available.eq(product.initial_stock),
            products::in_stock.eq(product.initial_stock > 0),
        ))
        .returning(ProductRow::as_returning())
        .get_result(conn)
        .await
}

/// Inserts unless the SKU exists (the demo loader's idempotence); `None` when it did.
pub async fn insert_if_absent(
    conn: &mut AsyncPgConnection,
    id: ProductId,
    product: &ValidProduct,
) -> QueryResult<Option<ProductRow>> {
    diesel::insert_into(products::table)
        .values((
            products::id.eq(id.0),
            ProductValues::from(product),
            products::available.eq(product.initial_stock),
            products::in_stock.eq(product.initial_stock > 0),
        ))
        .on_conflict(products::sku)
        .do_nothing()
        .returning(ProductRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// A live (not deleted) product.
pub async fn find_live(conn: &mut AsyncPgConnection, id: ProductId) -> QueryResult<Option<ProductRow>> {
    products::table
        .filter(products::id.eq(id.0))
        .filter(products::deleted_at.is_null())
        .select(ProductRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A live product, row-locked for an update in the caller's transaction.
pub async fn lock_live(conn: &mut AsyncPgConnection, id: ProductId) -> QueryResult<Option<ProductRow>> {
    products::table
        .filter(products::id.eq(id.0))
        .filter(products::deleted_at.is_null())
        .select(ProductRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Live products among `ids` (any order).
pub async fn find_many_live(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<ProductRow>> {
    products::table
        .filter(products::id.eq_any(ids))
        .filter(products::deleted_at.is_null())
        .select(ProductRow::as_select())
        .load(conn)
        .await
}

/// Writes the full new state and bumps the version.
pub async fn update(conn: &mut AsyncPgConnection, id: ProductId, product: &ValidProduct) -> QueryResult<ProductRow> {
    diesel::update(products::table.find(id.0))
        .set((
            ProductValues::from(product),
            products::version.eq(products::version + 1),
            products::updated_at.eq(diesel::dsl::now),
        ))
        .returning(ProductRow::as_returning())
        .get_result(conn)
        .await
}

/// Soft delete: the row stays (orders and events refer to it), hidden from every read.
pub async fn soft_delete(conn: &mut AsyncPgConnection, id: ProductId) -> QueryResult<ProductRow> {
    diesel::update(products::table.find(id.0))
        .set((
            products::deleted_at.eq(diesel::dsl::now),
            products::updated_at.eq(diesel::dsl::now),
            products::version.eq(products::version + 1),
        ))
        .returning(ProductRow::as_returning())
        .get_result(conn)
        .await
}

/// Live products: the `ecommerce_products_total` gauge.
pub async fn count_live(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    products::table.filter(products::deleted_at.is_null()).count().get_result(conn).await
}

/// Live products in `slug` itself (not its sub-categories).
pub async fn count_live_in_category(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<i64> {
    products::table
        .filter(products::category_slug.eq(slug))
        .filter(products::deleted_at.is_null())
        .count()
        .get_result(conn)
        .await
}
