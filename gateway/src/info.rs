//! `GET /`: what this gateway is, where it sends each path and who may call it, for an operator at
//! a terminal.

use crate::routes::TABLE;
use crate::state::GatewayState;
use actix_web::{HttpResponse, web};
use shop_common::http::ServiceInfo;

pub async fn root(state: web::Data<GatewayState>, info: web::Data<ServiceInfo>) -> HttpResponse {
    let routes: Vec<serde_json::Value> = TABLE
        .iter()
        .map(|route| {
            serde_json::json!({
                "methods": route.methods_label(),
                "path": route.path,
                "service": route.service.name(),
                "access": route.access.as_str(),
                "upstream": state.upstreams.base(route.service),
            })
        })
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "service": info.name,
        "version": info.version,
        "uptime_seconds": info.started_at.elapsed().as_secs(),
        "own_routes": ["/", "/health", "/metrics"],
        "routes": routes,
    }))
}
