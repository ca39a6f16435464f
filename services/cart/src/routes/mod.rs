//! HTTP routes of the cart service.

pub mod cart;

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use shop_common::db::{DbConn, DbPool};
use shop_common::error::{ApiError, ErrorCode};
use shop_common::outbox::RelayWaker;

/// Shared by every handler.
pub struct AppState {
    pub db: DbPool,
    pub relay: RelayWaker,
}

impl AppState {
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.db.get().await?)
    }
}

/// A known path with a method it does not serve: problem+json 405, not actix's empty body.
async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ApiError::new(ErrorCode::MethodNotAllowed, format!("{} is not allowed on {}", req.method(), req.path()))
        .error_response()
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .service(
            web::resource("/cart")
                .route(web::get().to(cart::get_cart))
                .route(web::delete().to(cart::clear_cart))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/cart/items")
                .route(web::post().to(cart::add_item))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/cart/merge")
                .route(web::post().to(cart::merge_cart))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/cart/items/{id}")
                .route(web::put().to(cart::update_item))
                .route(web::delete().to(cart::remove_item))
                .default_service(web::to(method_not_allowed)),
        );
}
