//! The `categories` table and its tree queries.

use super::schema::categories;
use crate::domain::Category;
use crate::domain::category::ValidCategory;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = categories)]
pub struct CategoryRow {
    pub slug: String,
    pub name: String,
    pub parent_slug: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CategoryRow {
    pub fn to_category(&self) -> Category {
        Category {
            slug: self.slug.clone(),
            name: self.name.clone(),
            parent: self.parent_slug.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<CategoryRow>> {
    categories::table.order(categories::slug).select(CategoryRow::as_select()).load(conn).await
}

pub async fn find(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<CategoryRow>> {
    categories::table.find(slug).select(CategoryRow::as_select()).first(conn).await.optional()
}

/// The row, locked: product inserts take a key-share lock on it through the foreign key, so
/// holding this blocks new products in the category until the caller's transaction ends.
pub async fn lock(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<CategoryRow>> {
    categories::table.find(slug).select(CategoryRow::as_select()).for_update().first(conn).await.optional()
}

pub async fn insert(conn: &mut AsyncPgConnection, category: &ValidCategory) -> QueryResult<CategoryRow> {
    diesel::insert_into(categories::table)
        .values((
            categories::slug.eq(&category.slug),
            categories::name.eq(&category.name),
            categories::parent_slug.eq(category.parent.as_deref()),
        ))
        .returning(CategoryRow::as_returning())
        .get_result(conn)
        .await
}

/// Inserts unless the slug exists (demo loader).
pub async fn insert_if_absent(conn: &mut AsyncPgConnection, category: &ValidCategory) -> QueryResult<usize> {
    diesel::insert_into(categories::table)
        .values((
            categories::slug.eq(&category.slug),
            categories::name.eq(&category.name),
            categories::parent_slug.eq(category.parent.as_deref()),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

pub async fn update(conn: &mut AsyncPgConnection, category: &ValidCategory) -> QueryResult<CategoryRow> {
    diesel::update(categories::table.find(&category.slug))
        .set((
            categories::name.eq(&category.name),
            categories::parent_slug.eq(category.parent.as_deref()),
            categories::updated_at.eq(diesel::dsl::now),
        ))
        .returning(CategoryRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<usize> {
    diesel::delete(categories::table.find(slug)).execute(conn).await
}

pub async fn has_children(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(categories::table.filter(categories::parent_slug.eq(slug))))
        .get_result(conn)
        .await
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// Whether `candidate` is `slug` or one of its descendants: making it the parent would close a cycle.
pub async fn is_in_subtree(conn: &mut AsyncPgConnection, slug: &str, candidate: &str) -> QueryResult<bool> {
    let row: Flag = diesel::sql_query(
        "WITH RECURSIVE sub AS ( \
             SELECT slug FROM categories WHERE slug = $1 \
             UNION SELECT c.slug FROM categories c JOIN sub ON c.parent_slug = sub.slug) \
         SELECT EXISTS (SELECT 1 FROM sub WHERE slug = $2) AS flag",
    )
    .bind::<Text, _>(slug)
    .bind::<Text, _>(candidate)
    .get_result(conn)
    .await?;
    Ok(row.flag)
}
