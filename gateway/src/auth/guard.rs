//! The middleware that admits or refuses every request before a handler runs.

use super::Admission;
use crate::ratelimit::{self, Decision};
use crate::routes::{self, Access};
use crate::state::GatewayState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use shop_common::ApiError;

/// Resolves the route's access, admits the caller (see [`super::Authenticator::admit`]) and
/// stores the [`Admission`] for the proxy. Paths outside the route table (the gateway's own
/// `/health`, `/metrics`, `/`, and unknown paths that end in a 404) are public.
pub async fn admit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<GatewayState>>().cloned() else {
        return Err(ApiError::internal(anyhow::anyhow!("the auth guard runs without the gateway state")).into());
    };
    let access = routes::resolve(req.method().as_str(), req.path()).map_or(Access::Public, |route| route.access);
    match state.auth.admit(req.headers(), access).await {
        Ok(admission) => {
            if let Some(refusal) = rate_limited(&req, &state, &admission) {
                return Ok(req.into_response(refusal).map_into_right_body());
            }
            req.extensions_mut().insert(admission);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(failure) => {
            tracing::debug!(auth.reason = failure.reason(), auth.access = access.as_str(), "request refused");
            Ok(req.into_response(failure.respond()).map_into_right_body())
        }
    }
}

/// Probes are never limited: an orchestrator polling them must always get an answer.
const UNLIMITED_PATHS: &[&str] = &["/health", "/metrics"];

/// Counts an admitted request against its client ([`crate::ratelimit`]); a 429 when over the limit.
fn rate_limited(req: &ServiceRequest, state: &GatewayState, admission: &Admission) -> Option<HttpResponse> {
    if !state.rate_limiter.is_enabled() || UNLIMITED_PATHS.contains(&req.path()) {
        return None;
    }
    let forwarded_for = req.headers().get("x-forwarded-for").and_then(|value| value.to_str().ok());
    let ip = ratelimit::client_ip(req.peer_addr().map(|addr| addr.ip()), forwarded_for, &state.trusted_proxies);
    let client = ratelimit::ClientKey::of(admission, ip)?;
    match state.rate_limiter.check(&client, std::time::SystemTime::now()) {
        Decision::Allow => None,
        Decision::Refuse { retry_after_secs } => Some(ApiError::too_many_requests(retry_after_secs).error_response()),
    }
}

/// The admission the guard stored, if it ran.
pub fn admission(req: &actix_web::HttpRequest) -> Option<Admission> {
    req.extensions().get::<Admission>().cloned()
}
