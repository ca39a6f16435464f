//! HTTP routes of the analytics service: admin-only reports under `/analytics`.

pub mod reports;

use actix_web::web;
use shop_common::db::{DbConn, DbPool};
use shop_common::error::ApiResult;

/// Shared by every handler.
pub struct AppState {
    pub db: DbPool,
}

impl AppState {
    pub async fn conn(&self) -> ApiResult<DbConn> {
        Ok(self.db.get().await?)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .service(web::resource("/analytics/top-selling").route(web::get().to(reports::get_top_selling)))
        .service(web::resource("/analytics/revenue").route(web::get().to(reports::get_revenue)))
        .service(web::resource("/analytics/users").route(web::get().to(reports::get_users)));
}
