//! HTTP routes of the inventory service.

pub mod inventory;

use actix_web::web;
use shop_common::db::{DbConn, DbPool};
use shop_common::error::ApiResult;
use shop_common::outbox::RelayWaker;

/// Shared by every handler.
pub struct AppState {
    pub db: DbPool,
    pub relay: RelayWaker,
}

impl AppState {
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.db.get().await?)
    }
}

/// Registers the routes. `/inventory/low-stock` and `/inventory/update` come before
/// `/inventory/{product_id}` so they are not taken for product ids.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .service(web::resource("/inventory/low-stock").route(web::get().to(inventory::list_low_stock)))
        .service(web::resource("/inventory/update").route(web::post().to(inventory::update_inventory)))
        .service(web::resource("/inventory/{product_id}").route(web::get().to(inventory::get_inventory)));
}
