//! `GET /categories` (cached per listing generation) and the admin writes
//! `POST /categories`, `PUT|DELETE /categories/{slug}`.

use super::{json_body, write_error};
use crate::db;
use crate::db::categories::CategoryRow;
use crate::domain::category::ValidCategory;
use crate::domain::{Category, CategoryInput};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;
use shop_common::auth::AdminIdentity;
use shop_common::error::{ApiError, FieldError};
use shop_common::http::Json;

const CACHE_NAME: &str = "categories";

/// `GET /categories`: every category, flat, ordered by slug; `parent` links build the tree.
#[tracing::instrument(skip_all)]
pub async fn list_categories(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let generation = state.cache.generation().await;
    if let Some(generation) = generation
        && let Some(body) = state.cache.get_listing("categories", generation, CACHE_NAME).await
    {
        return Ok(json_body(StatusCode::OK, body));
    }
    let mut conn = state.db.get().await?;
    let categories: Vec<Category> =
        db::categories::list(&mut conn).await?.iter().map(CategoryRow::to_category).collect();
    let body = serde_json::to_string(&categories).map_err(ApiError::internal)?;
    if let Some(generation) = generation {
        state.cache.put_listing(generation, CACHE_NAME, &body).await;
    }
    Ok(json_body(StatusCode::OK, body))
}

/// `POST /categories` (admin): `{slug, name, parent?}` → 201; a taken slug is a 409.
#[tracing::instrument(skip_all)]
pub async fn create_category(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    body: Json<CategoryInput>,
) -> Result<HttpResponse, ApiError> {
    let category = body.into_inner().validate(None).map_err(ApiError::validation)?;
    let mut conn = state.db.get().await?;
    let row = db::categories::insert(&mut conn, &category)
        .await
        .map_err(|err| write_error(err, "parent", "parent category"))?;
    state.cache.bump_generation().await;
    tracing::info!(category.slug = %row.slug, "category created");
    Ok(HttpResponse::Created().json(row.to_category()))
}

/// `PUT /categories/{slug}` (admin): `{name, parent?}`; moving a category under its own subtree
/// is refused.
#[tracing::instrument(skip_all, fields(category.slug = %slug))]
pub async fn update_category(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    slug: web::Path<String>,
    body: Json<CategoryInput>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let category: ValidCategory = body.into_inner().validate(Some(&slug)).map_err(ApiError::validation)?;
    let mut conn = state.db.get().await?;
    let row = conn
        .transaction::<CategoryRow, ApiError, _>(async |conn| {
            db::categories::lock(conn, &slug).await?.ok_or_else(|| ApiError::not_found("no such category"))?;
            if let Some(parent) = &category.parent
                && db::categories::is_in_subtree(conn, &slug, parent).await?
            {
                return Err(ApiError::validation(vec![FieldError::new(
                    "parent",
                    "must not be the category itself or one of its sub-categories",
                )]));
            }
            db::categories::update(conn, &category).await.map_err(|err| write_error(err, "parent", "parent category"))
        })
        .await?;
    state.cache.bump_generation().await;
    Ok(HttpResponse::Ok().json(row.to_category()))
}

/// `DELETE /categories/{slug}` (admin): 204, or 409 while it has sub-categories or live products.
#[tracing::instrument(skip_all, fields(category.slug = %slug))]
pub async fn delete_category(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let mut conn = state.db.get().await?;
    conn.transaction::<(), ApiError, _>(async |conn| {
        // The lock keeps new products and children out until the delete commits.
        db::categories::lock(conn, &slug).await?.ok_or_else(|| ApiError::not_found("no such category"))?;
        if db::categories::has_children(conn, &slug).await? {
            return Err(ApiError::conflict("the category has sub-categories; move or delete them first"));
        }
        if db::products::count_live_in_category(conn, &slug).await? > 0 {
            return Err(ApiError::conflict("the category has products; move or delete them first"));
        }
        db::categories::delete(conn, &slug).await?;
        Ok(())
    })
    .await?;
    state.cache.bump_generation().await;
    tracing::info!("category deleted");
    Ok(HttpResponse::NoContent().finish())
}
