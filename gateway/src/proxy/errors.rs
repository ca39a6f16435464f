//! Upstream transport failures as problem+json, in one place: a service that does not accept
//! connections is down (503, retry later), one that accepted but did not answer in time is a 504,
//! anything else that broke the exchange is a 502. The transport error itself goes to the log only.

use crate::upstream::Service;
use shop_common::ApiError;
use shop_common::error::ErrorCode;
use std::time::Duration;

/// Seconds a client should wait before retrying a request to a service that is down.
pub const RETRY_AFTER_SECS: u64 = 2;

/// The problem for a failed upstream call.
pub fn upstream_error(service: Service, err: reqwest::Error, timeout: Duration) -> ApiError {
    // Checked before the timeout: a connect timeout means the service is unreachable, not slow.
    if err.is_connect() {
        return ApiError::unavailable(format!("the {service} service is unavailable, retry shortly"), RETRY_AFTER_SECS)
            .with_source(err);
    }
    if err.is_timeout() {
        let detail = format!("the {service} service did not answer within {} ms", timeout.as_millis());
        return ApiError::new(ErrorCode::GatewayTimeout, detail).with_source(err);
    }
    ApiError::new(ErrorCode::BadGateway, format!("the {service} service failed to answer")).with_source(err)
}

/// A short, human reason for `/health`: "connection refused", "timed out", ...
pub fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() && !err.is_connect() {
        return "timed out".into();
    }
    // reqwest wraps hyper wraps the io::Error; the innermost io error says what really happened.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => "connection reset".into(),
                std::io::ErrorKind::TimedOut => "connect timed out".into(),
                _ => io.to_string(),
            };
        }
        source = current.source();
    }
    if err.is_connect() {
        return if err.is_timeout() { "connect timed out".into() } else { "cannot connect".into() };
    }
    if err.is_decode() || err.is_body() { "unreadable answer".into() } else { "request failed".into() }
}
