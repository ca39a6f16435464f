//! Product lists: `GET /products`, `GET /products/search`, `GET /products/category/{category}`
//! (cached per listing generation) and `GET /products/recently-viewed`.

use super::{json_body, query_pairs};
use crate::cache::SEARCH_TTL;
use crate::db;
use crate::domain::{ListQuery, Product};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use shop_common::auth::Identity;
use shop_common::error::ApiError;
use shop_common::http::Page;
use std::collections::HashMap;

/// Query strings longer than this are served uncached (they would only bloat the keys).
const MAX_CACHED_QUERY: usize = 512;

/// A listing answer: the shared page shape, plus `total_capped` in search answers (docs/catalog.md).
#[derive(Serialize)]
struct Listing {
    #[serde(flatten)]
    page: Page<Product>,
    /// Only with `q`: true when the search stopped counting at [`db::listing::SEARCH_CAP`].
    #[serde(skip_serializing_if = "Option::is_none")]
    total_capped: Option<bool>,
}

impl Listing {
    fn new(query: &ListQuery, listed: db::listing::Listed) -> Self {
        let searching = query.search.is_some() || query.unmatchable;
        Self {
            page: Page::new(listed.rows.iter().map(|r| r.to_product()).collect(), query.page, listed.total),
            total_capped: searching.then_some(listed.total_capped),
        }
    }

    fn to_json(&self) -> Result<String, ApiError> {
        serde_json::to_string(self).map_err(ApiError::internal)
    }
}

async fn page_of(state: &AppState, query: &ListQuery) -> Result<Listing, ApiError> {
    let mut conn = state.db.get().await?;
    let listed = db::listing::list(&mut conn, query, None).await?;
    Ok(Listing::new(query, listed))
}

/// Like [`page_of`], with the total of a plain (non-search) listing cached per listing
/// generation: counting every match costs ~50 ms on 100,000 products, a page ~0.1 ms.
async fn page_with_cached_total(state: &AppState, query: &ListQuery) -> Result<Listing, ApiError> {
    if query.search.is_some() || query.unmatchable {
        return page_of(state, query).await;
    }
    let filters =
        serde_json::json!([query.category, query.min_price, query.max_price, query.in_stock, query.attributes]);
    let name = format!("total:{filters}");
    let generation = if name.len() <= MAX_CACHED_QUERY { state.cache.generation().await } else { None };
    let known = match generation {
        Some(generation) => {
            state.cache.get_listing("listing_total", generation, &name).await.and_then(|v| v.parse().ok())
        }
        None => None,
    };
    let mut conn = state.db.get().await?;
    let listed = db::listing::list(&mut conn, query, known).await?;
    drop(conn);
    if let (Some(generation), None) = (generation, known) {
        state.cache.put_listing(generation, &name, &listed.total.to_string()).await;
    }
    Ok(Listing::new(query, listed))
}

/// `GET /products?page&page_size&category&min_price&max_price&in_stock&attr.<name>&sort&q`.
#[tracing::instrument(skip_all)]
pub async fn list_products(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&query_pairs(&req)?, false)?;
    Ok(json_body(StatusCode::OK, page_with_cached_total(&state, &query).await?.to_json()?))
}

/// `GET /products/search?q=` plus the listing filters; relevance order by default. Result pages
/// are cached briefly per listing generation, like category listings: a product write or stock
/// change bumps the generation, so no search shows a product as it was before a write returned.
#[tracing::instrument(skip_all)]
pub async fn search_products(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&query_pairs(&req)?, true)?;
    // Read before PostgreSQL, for the same reason as in `list_category_products`.
    let generation = if req.query_string().len() <= MAX_CACHED_QUERY { state.cache.generation().await } else { None };
    let cache_name = format!("search?{}", req.query_string());
    if let Some(generation) = generation
        && let Some(body) = state.cache.get_listing("search", generation, &cache_name).await
    {
        return Ok(json_body(StatusCode::OK, body));
    }
    let body = page_of(&state, &query).await?.to_json()?;
    if let Some(generation) = generation {
        state.cache.put_listing_for(generation, &cache_name, &body, SEARCH_TTL).await;
    }
    Ok(json_body(StatusCode::OK, body))
}

/// `GET /products/category/{category}`: the category and all its sub-categories. Cached per
/// listing generation, so any product or category write makes it fresh again.
#[tracing::instrument(skip_all, fields(category = %category))]
pub async fn list_category_products(
    state: web::Data<AppState>,
    category: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let category = category.into_inner();
    let mut pairs = query_pairs(&req)?;
    pairs.retain(|(key, _)| key != "category");
    let mut query = ListQuery::parse(&pairs, false)?;
    query.category = Some(category.clone());

    // The generation is read before PostgreSQL: a write that commits in between bumps it, so
    // whatever this request caches is filed under a generation nobody reads any more.
    let generation = if req.query_string().len() <= MAX_CACHED_QUERY { state.cache.generation().await } else { None };
    let cache_name = format!("category:{category}?{}", req.query_string());
    if let Some(generation) = generation
        && let Some(body) = state.cache.get_listing("category_listing", generation, &cache_name).await
    {
        return Ok(json_body(StatusCode::OK, body));
    }
    let mut conn = state.db.get().await?;
    if db::categories::find(&mut conn, &category).await?.is_none() {
        return Err(ApiError::not_found(format!("no category {category:?}")));
    }
    drop(conn);
    let body = page_of(&state, &query).await?.to_json()?;
    if let Some(generation) = generation {
        state.cache.put_listing(generation, &cache_name, &body).await;
    }
    Ok(json_body(StatusCode::OK, body))
}

#[derive(Serialize)]
struct Items {
    items: Vec<Product>,
}

/// `GET /products/recently-viewed` (authenticated): most recent first, deleted ones left out.
#[tracing::instrument(skip_all)]
pub async fn list_recently_viewed(state: web::Data<AppState>, caller: Identity) -> Result<HttpResponse, ApiError> {
    let ids = state.cache.recently_viewed(caller.user_id).await;
    if ids.is_empty() {
        return Ok(HttpResponse::Ok().json(Items { items: Vec::new() }));
    }
    let mut conn = state.db.get().await?;
    let raw: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
    let mut rows: HashMap<uuid::Uuid, Product> =
        db::products::find_many_live(&mut conn, &raw).await?.into_iter().map(|r| (r.id, r.to_product())).collect();
    let items = raw.iter().filter_map(|id| rows.remove(id)).collect();
    Ok(HttpResponse::Ok().json(Items { items }))
}
