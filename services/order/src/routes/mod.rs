//! HTTP routes of the order service.

pub mod checkout;
pub mod orders;
pub mod views;
pub mod webhook;

use crate::state::AppState;
use actix_web::web;

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .service(
            web::resource("/orders")
                .route(web::post().to(checkout::create_order))
                .route(web::get().to(orders::list_orders)),
        )
        .service(web::resource("/orders/{id}").route(web::get().to(orders::get_order)))
        .service(web::resource("/orders/{id}/cancel").route(web::put().to(orders::cancel_order)))
        .service(web::resource("/orders/{id}/ship").route(web::put().to(orders::ship_order)))
        .service(web::resource("/payments/webhook").route(web::post().to(webhook::payment_webhook)));
}
