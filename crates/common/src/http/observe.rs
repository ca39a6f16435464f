//! The request middleware: request id, one log line per request, and the HTTP metrics
//! (`http_requests_total`, `http_request_duration_seconds`) labelled by route pattern, never by raw
//! path, so ids in URLs cannot blow up the series count.

use super::probes::ServiceInfo;
use super::request_id;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use std::time::Instant;

/// Use with `App::wrap(actix_web::middleware::from_fn(observe))`; needs `web::Data<ServiceInfo>`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id::from_headers(req.headers());
    let service = req.app_data::<web::Data<ServiceInfo>>().map(|info| info.name.clone()).unwrap_or_default();
    let method = req.method().to_string();

    let outcome = request_id::scope(id.clone(), next.call(req)).await;
    let (mut response, route, status) = match outcome {
        Ok(response) => {
            let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
            let status = response.status();
            (response, route, status)
        }
        // Errors from inner middleware: render them here so they are logged and counted too.
        Err(err) => return Err(err),
    };

    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HeaderName::from_static(request_id::HEADER), value);
    }
    let elapsed = started.elapsed();
    let labels = [
        ("service", service),
        ("method", method.clone()),
        ("route", route.clone()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    // Probes are scraped every few seconds; logging them would drown the useful lines.
    if route != "/health" && route != "/metrics" {
        tracing::info!(
            request_id = %id,
            http.method = %method,
            http.route = %route,
            http.status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request handled"
        );
    }
    Ok(response)
}
