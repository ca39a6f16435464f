//! `GET /.well-known/jwks.json`: the public keys that verify shop's access tokens.

use crate::state::AppState;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::{HttpResponse, web};
use shop_common::ApiResult;

/// Cacheable for 5 minutes; the gateway refetches early when it meets an unknown `kid`. Read from
/// the database (a tiny table) so every replica publishes a rotation at once; if the database is
/// down the keys loaded in memory are served instead, since verification must keep working.
pub async fn get_jwks(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.db.get().await.ok();
    let jwks = state.keys.published_jwks(conn.as_deref_mut(), chrono::Utc::now()).await;
    Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, "public, max-age=300")).json(jwks))
}
