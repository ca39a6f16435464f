//! `GET /`: what this gateway is and where it sends each path, for an operator at a terminal.

use crate::routes::TABLE;
use crate::state::GatewayState;
use actix_web::{HttpResponse, web};
use shop_common::http::ServiceInfo;

pub async fn root(state: web::Data<GatewayState>, info: web::Data<ServiceInfo>) -> HttpResponse {
    let routes: Vec<serde_json::Value> = TABLE
        .iter()
        .map(|route| {
            serde_json::json!({
                "paths": route.pattern(),
                "service": route.service.name(),
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
