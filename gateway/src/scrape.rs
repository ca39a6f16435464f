//! `GET /metrics`: the gateway's own series plus every service's, as one exposition, so one scrape
//! of the API port shows the whole platform (ARCHITECTURE.md §7).
//!
//! Services are scraped concurrently, each bounded by a short timeout. One that does not answer is
//! left out and reported by `gateway_upstream_scrape_up{service}` = 0, so a gap in its series has a
//! visible cause instead of looking like zero traffic.

use crate::exposition;
use crate::state::GatewayState;
use crate::upstream::Service;
use actix_web::{HttpResponse, web};
use futures_util::future::join_all;
use shop_common::http::ServiceInfo;
use std::time::Duration;

/// Kept below Prometheus' default scrape timeout (10 s) so a slow service cannot fail the whole scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

pub const SCRAPE_UP: &str = "gateway_upstream_scrape_up";

/// Registers the gateway's own metric descriptions (HELP lines); call once at start.
pub fn describe() {
    // Descriptions given before the recorder exists go to the no-op recorder and are lost.
    let _ = shop_common::telemetry::metrics_handle();
    metrics::describe_gauge!(SCRAPE_UP, "1 if the service's /metrics answered the last gateway scrape, else 0");
    metrics::describe_counter!("gateway_upstream_requests_total", "Requests proxied to a service, by HTTP status");
    metrics::describe_histogram!(
        "gateway_upstream_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time until a service's response headers arrived"
    );
}

pub async fn metrics(state: web::Data<GatewayState>, info: web::Data<ServiceInfo>) -> HttpResponse {
    let scrapes = join_all(Service::ALL.map(|service| scrape(&state, service))).await;
    for (service, text) in &scrapes {
        metrics::gauge!(SCRAPE_UP, "service" => service.name()).set(if text.is_some() { 1.0 } else { 0.0 });
    }
    join_all(info.scrape_hooks.iter().map(|hook| hook())).await;
    // Rendered after the gauges are set so this scrape reports itself.
    let own = info.metrics.render();
    let merged =
        exposition::merge(std::iter::once(own.as_str()).chain(scrapes.iter().filter_map(|(_, t)| t.as_deref())));
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(merged)
}

async fn scrape(state: &GatewayState, service: Service) -> (Service, Option<String>) {
    let request = state.client.get(state.upstreams.url(service, "/metrics")).timeout(SCRAPE_TIMEOUT);
    let text = match request.send().await.and_then(reqwest::Response::error_for_status) {
        Ok(response) => response.text().await,
        Err(err) => Err(err),
    };
    match text {
        Ok(text) => (service, Some(text)),
        Err(err) => {
            // Debug, not warn: a service that is down is already reported by /health and by the
            // gauge; at every scrape interval a warning would only repeat that.
            tracing::debug!(upstream = %service, error = %err, "metrics scrape failed");
            (service, None)
        }
    }
}
