//! The reverse proxy: forwards a public request to the service the route table names and streams
//! the answer back, with the identity the auth guard verified.
//!
//! Method, raw path, query, headers (filtered, identity added, see [`headers`]) and body go through
//! the worker's `reqwest::Client` ([`WorkerClient`]), so upstream connections are pooled and kept
//! alive. Request bodies stream; response bodies stream too, except small ones with a known length
//! (most API answers), which are read whole so headers and body leave in one write.

mod body;
pub mod errors;
pub mod headers;

use crate::auth::guard;
use crate::routes;
use crate::state::{GatewayState, WorkerClient};
use crate::upstream::Service;
use actix_web::body::SizedStream;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, HeaderMap, TRANSFER_ENCODING};
use actix_web::{HttpRequest, HttpResponse, web};
use body::BodyEnd;
use futures_util::TryStreamExt;
use futures_util::future::{Either, select};
use shop_common::ApiError;
use shop_common::auth::denylist;
use shop_common::error::ErrorCode;
use shop_common::http::request_id;
use std::pin::pin;
use std::time::Instant;

/// Every path no gateway handler claims ends here: routed upstream, or a problem+json 404.
pub async fn forward(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<GatewayState>,
    worker: web::Data<WorkerClient>,
) -> Result<HttpResponse, ApiError> {
    let path = req.uri().path();
    let route = routes::resolve(req.method().as_str(), path)
        .ok_or_else(|| ApiError::not_found(format!("no route for {} {}", req.method(), path)))?;
    let service = route.service;
    // Fail closed: a request the auth guard did not admit is never forwarded.
    let admission = guard::admission(&req)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("request reached the proxy without an admission")))?;

    let limit = state.max_body_bytes;
    let body = body_kind(req.headers())?;
    if let Body::Sized(length) = body
        && length > limit
    {
        // Refused before any upstream work: the client said up front it would not fit.
        return Err(too_large(limit));
    }

    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| ApiError::bad_request("unsupported HTTP method"))?;
    let path_and_query = req.uri().path_and_query().map_or(path, |pq| pq.as_str());
    let scheme = if req.app_config().secure() { "https" } else { "http" };
    let client = headers::Client { ip: req.peer_addr().map(|addr| addr.ip()), scheme };
    let mut request_headers = headers::to_upstream(req.headers(), client, request_id::current().as_deref());
    if let Some(caller) = &admission.caller {
        headers::add_identity(&mut request_headers, caller);
    }
    let request = worker
        .0
        .request(method, state.upstreams.url(service, path_and_query))
        .headers(request_headers)
        .timeout(state.upstream_timeout);

    let started = Instant::now();
    let outcome = match body {
        Body::None => request.send().await,
        Body::Sized(_) | Body::Chunked => {
            let (upstream_body, pump) = body::stream(payload, limit);
            let send = pin!(request.body(upstream_body).send());
            // Both halves run in this task: the pump feeds the body while reqwest sends it.
            match select(pin!(pump), send).await {
                Either::Left((BodyEnd::Complete | BodyEnd::Abandoned, send)) => send.await,
                Either::Left((BodyEnd::TooLarge, _)) => return Err(too_large(limit)),
                Either::Left((BodyEnd::ClientFailed(reason), _)) => {
                    return Err(ApiError::bad_request(format!("the request body could not be read: {reason}")));
                }
                Either::Right((outcome, _pump)) => outcome,
            }
        }
    };

    let result = match outcome {
        Ok(response) => into_client_response(service, response).await,
        Err(err) => Err(err),
    };
    let result = result.map_err(|err| errors::upstream_error(service, err, state.upstream_timeout));
    let status = match &result {
        Ok(response) => response.status().as_u16(),
        Err(err) => err.code().status().as_u16(),
    };
    record(service, status, started);
    if route.path == routes::LOGOUT_PATH && (200..300).contains(&status) {
        remember_logout(&state, admission.identity());
    }
    result
}

/// The auth service deny-listed the caller's token: this gateway refuses it from here on without
/// waiting for the announcement (see [`crate::auth::replica`]).
fn remember_logout(state: &GatewayState, identity: Option<&shop_common::auth::Identity>) {
    if let Some(identity) = identity
        && let (Some(jti), Some(expires_at)) = (&identity.token_id, identity.token_expires_at)
    {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX);
        // The auth service keeps the entry a leeway past `exp`; so does the copy.
        let ttl_secs = expires_at.saturating_sub(now).saturating_add(denylist::LEEWAY_SECS).max(0);
        state.auth.denylist().record_logout(jti, std::time::Duration::from_secs(ttl_secs.unsigned_abs()));
    }
}

/// How the client framed its body (HTTP/1.1: no length and not chunked means no body).
#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    Sized(u64),
    Chunked,
}

fn body_kind(headers: &HeaderMap) -> Result<Body, ApiError> {
    if headers.contains_key(TRANSFER_ENCODING) {
        return Ok(Body::Chunked);
    }
    match headers.get(CONTENT_LENGTH) {
        None => Ok(Body::None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Body::Sized)
            .ok_or_else(|| ApiError::bad_request("invalid Content-Length")),
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {limit} bytes"))
}

/// Answers up to this size with a known length are read whole before replying: one write instead
/// of headers and body separately, and no streaming machinery for the common small JSON answer.
const BUFFERED_BODY_MAX: u64 = 64 * 1024;

/// The upstream's answer: small ones read whole, the rest streamed as they arrive.
async fn into_client_response(service: Service, response: reqwest::Response) -> Result<HttpResponse, reqwest::Error> {
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = HttpResponse::build(status);
    for header in headers::to_client(response.headers()) {
        builder.append_header(header);
    }
    let length = response.content_length();
    if let Some(length) = length
        && length <= BUFFERED_BODY_MAX
    {
        // Nothing is sent to the client yet, so a body that breaks off here is still a clean 502.
        return Ok(builder.body(response.bytes().await?));
    }
    // Headers are already sent when a body fails mid-way; the client sees a cut connection, and the
    // cause is logged here, the only place that sees it.
    let stream = response.bytes_stream().inspect_err(move |err| {
        tracing::warn!(upstream = %service, error = %err, "the upstream response body broke off");
    });
    Ok(match length {
        Some(length) => builder.body(SizedStream::new(length, stream)),
        None => builder.streaming(stream),
    })
}

/// Per-upstream series: the HTTP middleware labels every proxied call with the one catch-all
/// route, so these say which service was slow or failing.
fn record(service: Service, status: u16, started: Instant) {
    let labels = [("service", service.name().to_owned()), ("status", status.to_string())];
    metrics::counter!("gateway_upstream_requests_total", &labels).increment(1);
    metrics::histogram!("gateway_upstream_request_duration_seconds", "service" => service.name())
        .record(started.elapsed().as_secs_f64());
}
