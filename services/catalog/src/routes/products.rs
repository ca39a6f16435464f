//! `GET /products/{id}` and the admin writes `POST /products`, `PUT|DELETE /products/{id}`.

use super::{json_body, write_error};
use crate::cache::CachedProduct;
use crate::db;
use crate::db::products::ProductRow;
use crate::domain::{ProductId, ProductInput};
use crate::events;
use crate::state::AppState;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use diesel_async::AsyncConnection;
use shop_common::auth::{AdminIdentity, MaybeIdentity};
use shop_common::error::{ApiError, ErrorCode};
use shop_common::http::Json;
use uuid::Uuid;

/// A path id that is not a UUID names no product: 404, like an unknown one.
fn parse_id(raw: &str) -> Result<ProductId, ApiError> {
    Uuid::parse_str(raw).map(ProductId).map_err(|_| ApiError::not_found("no such product"))
}

fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The entity tags of `If-Match`; empty without the header (an unconditional write).
fn if_match_tags(req: &HttpRequest) -> Vec<String> {
    req.headers()
        .get_all(header::IF_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().to_owned())
        .collect()
}

/// Whether `version` satisfies the tags (`*` matches any existing product; weak tags compare
/// by their value).
fn matches(tags: &[String], version: i64) -> bool {
    tags.is_empty()
        || tags.iter().any(|tag| {
            tag == "*" || tag.trim_start_matches("W/").trim_matches('"').parse::<i64>().is_ok_and(|v| v == version)
        })
}

fn check_precondition(tags: &[String], version: i64) -> Result<(), ApiError> {
    if matches(tags, version) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::PreconditionFailed,
        format!("the product changed (current version {version}); reload it and retry"),
    ))
}

fn product_response(status: StatusCode, row: &ProductRow) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_string(&row.to_product()).map_err(ApiError::internal)?;
    let mut response = json_body(status, body);
    response
        .headers_mut()
        .insert(header::ETAG, header::HeaderValue::from_str(&etag(row.version)).map_err(ApiError::internal)?);
    Ok(response)
}

/// After a committed write: publish promptly, and make the cache show the new state before the
/// client gets its answer.
async fn after_write(state: &AppState, row: &ProductRow) {
    state.relay.wake();
    if row.deleted_at.is_some() {
        state.cache.put_deleted(ProductId(row.id), row.version, row.stock_seq).await;
    } else {
        state.cache.put_product(&row.to_product(), row.stock_seq).await;
    }
    state.cache.bump_generation().await;
}

/// `GET /products/{id}`: from the cache when it has it, else PostgreSQL (then cached). A caller
/// with an identity gets the product added to their recently viewed list.
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub async fn get_product(
    state: web::Data<AppState>,
    id: web::Path<String>,
    caller: MaybeIdentity,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let response = match state.cache.get_product(id).await {
        CachedProduct::Live { json, version } => {
            let mut response = json_body(StatusCode::OK, json);
            if let Ok(value) = header::HeaderValue::from_str(&etag(version)) {
                response.headers_mut().insert(header::ETAG, value);
            }
            response
        }
        CachedProduct::Deleted => return Err(ApiError::not_found("no such product")),
        CachedProduct::Miss => {
            let mut conn = state.db.get().await?;
            let row =
                db::products::find_live(&mut conn, id).await?.ok_or_else(|| ApiError::not_found("no such product"))?;
            state.cache.put_product(&row.to_product(), row.stock_seq).await;
            product_response(StatusCode::OK, &row)?
        }
    };
    if let Some(identity) = caller.0 {
        state.cache.record_view(identity.user_id, id).await;
    }
    Ok(response)
}

/// `POST /products` (admin): 201 with the product, `Location` and `ETag`.
#[tracing::instrument(skip_all)]
pub async fn create_product(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    body: Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let product = body.into_inner().validate_new().map_err(ApiError::validation)?;
    let mut conn = state.db.get().await?;
    let row = conn
        .transaction::<ProductRow, ApiError, _>(async |conn| {
            let row = db::products::insert(conn, ProductId::new(), &product)
                .await
                .map_err(|err| write_error(err, "category", "category"))?;
            events::products::created(conn, &row, product.initial_stock).await?;
            Ok(row)
        })
        .await?;
    after_write(&state, &row).await;
    tracing::info!(product.id = %row.id, product.sku = %row.sku, "product created");
    let mut response = product_response(StatusCode::CREATED, &row)?;
    if let Ok(location) = header::HeaderValue::from_str(&format!("/products/{}", row.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `PUT /products/{id}` (admin): absent fields keep their values; `If-Match` with a stale
/// version is a 412.
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub async fn update_product(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    id: web::Path<String>,
    req: HttpRequest,
    body: Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let tags = if_match_tags(&req);
    let input = body.into_inner();
    let mut conn = state.db.get().await?;
    let row = conn
        .transaction::<ProductRow, ApiError, _>(async |conn| {
            let current =
                db::products::lock_live(conn, id).await?.ok_or_else(|| ApiError::not_found("no such product"))?;
            check_precondition(&tags, current.version)?;
            let product = input.validate_update(&current.to_product()).map_err(ApiError::validation)?;
            let row = db::products::update(conn, id, &product)
                .await
                .map_err(|err| write_error(err, "category", "category"))?;
            events::products::updated(conn, &row).await?;
            Ok(row)
        })
        .await?;
    after_write(&state, &row).await;
    tracing::info!(product.version = row.version, "product updated");
    product_response(StatusCode::OK, &row)
}

/// `DELETE /products/{id}` (admin): soft delete, 204. The row stays for order history.
#[tracing::instrument(skip_all, fields(product.id = %id))]
pub async fn delete_product(
    state: web::Data<AppState>,
    _admin: AdminIdentity,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let tags = if_match_tags(&req);
    let mut conn = state.db.get().await?;
    let row = conn
        .transaction::<ProductRow, ApiError, _>(async |conn| {
            let current =
                db::products::lock_live(conn, id).await?.ok_or_else(|| ApiError::not_found("no such product"))?;
            check_precondition(&tags, current.version)?;
            let row = db::products::soft_delete(conn, id).await?;
            events::products::deleted(conn, &row).await?;
            Ok(row)
        })
        .await?;
    after_write(&state, &row).await;
    tracing::info!("product deleted");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn if_match_tags() {
        assert!(matches(&[], 3), "no If-Match: unconditional");
        assert!(matches(&tags(&["\"3\""]), 3));
        assert!(matches(&tags(&["W/\"3\""]), 3));
        assert!(matches(&tags(&["\"1\"", "\"3\""]), 3));
        assert!(matches(&tags(&["*"]), 3));
        assert!(!matches(&tags(&["\"2\""]), 3));
        assert!(!matches(&tags(&["garbage"]), 3));
        assert_eq!(check_precondition(&tags(&["\"2\""]), 3).unwrap_err().code(), ErrorCode::PreconditionFailed);
    }

    #[test]
    fn non_uuid_ids_are_not_found() {
        assert_eq!(parse_id("search").unwrap_err().code(), ErrorCode::NotFound);
        assert!(parse_id("0190a0b0-0000-7000-8000-000000000000").is_ok());
    }
}
