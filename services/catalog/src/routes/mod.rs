//! The catalog's HTTP endpoints, one file per resource.
//!
//! Order matters: the fixed paths under `/products/` are registered before `/products/{id}` so
//! that `search`, `recently-viewed` and `category/..` are never taken for an id.

pub mod categories;
pub mod listing;
pub mod products;

use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use shop_common::error::{ApiError, ErrorCode, FieldError};

pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .route("/products", web::get().to(listing::list_products))
        .route("/products", web::post().to(products::create_product))
        .route("/products/search", web::get().to(listing::search_products))
        .route("/products/recently-viewed", web::get().to(listing::list_recently_viewed))
        .route("/products/category/{category}", web::get().to(listing::list_category_products))
        .route("/products/{id}", web::get().to(products::get_product))
        .route("/products/{id}", web::put().to(products::update_product))
        .route("/products/{id}", web::delete().to(products::delete_product))
        .route("/categories", web::get().to(categories::list_categories))
        .route("/categories", web::post().to(categories::create_category))
        .route("/categories/{slug}", web::put().to(categories::update_category))
        .route("/categories/{slug}", web::delete().to(categories::delete_category));
}

/// The raw query pairs (`attr.<name>` keys are open-ended, so no fixed struct).
fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|err| ApiError::new(ErrorCode::InvalidQuery, format!("invalid query string: {err}")))
}

/// A JSON body that is already serialised (from the cache or built once).
fn json_body(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CONTENT_TYPE, "application/json")).body(body)
}

/// Maps a write's foreign-key violation to a field error (unknown category / parent); everything
/// else goes through the shared mapping (unique violation → 409, ...).
fn write_error(err: diesel::result::Error, field: &str, what: &str) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match err {
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            ApiError::validation(vec![FieldError::new(field, format!("unknown {what}"))])
        }
        other => other.into(),
    }
}
