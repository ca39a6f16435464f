//! Why a request was not admitted: one enum, one place that turns it into a problem+json answer
//! and counts it in `gateway_auth_failures_total{reason}`.
//!
//! The `reason` label is the enum's fixed name, never text from the token, so the series stay
//! bounded whatever clients send. Details sent to the client say what to fix (refresh an expired
//! token, send the Bearer scheme) without telling a forger which check caught them.

use super::bearer::MalformedHeader;
use actix_web::HttpResponse;
use actix_web::ResponseError;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use shop_common::ApiError;

pub const FAILURES_METRIC: &str = "gateway_auth_failures_total";

/// Seconds a client should wait when a dependency of verification (Redis, the JWKS) is down.
pub const RETRY_AFTER_SECS: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// The `Authorization` header is not one well-formed bearer credential.
    MalformedHeader(&'static str),
    /// The route needs a token and none was sent.
    MissingToken,
    /// Not a JWS compact token with a JSON header, or a header we refuse (`crit`).
    MalformedToken,
    /// `none`, HS256 without `SECRET_KEY`, or an algorithm the issuer or key is not pinned to.
    UnsupportedAlgorithm,
    /// An asymmetric token without `kid`.
    MissingKeyId,
    /// No key with that `kid`, even after a refetch.
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    /// Required claims missing or malformed (`sub` not a UUID, unknown role, no `jti`...).
    InvalidClaims,
    /// The token's `jti` is on the deny-list (logged out).
    Revoked,
    /// A valid token without the role the route needs.
    Forbidden,
    /// The key set could not be fetched, so the token could not be checked.
    KeysUnavailable,
    /// Redis did not answer the deny-list check; failing closed.
    DenyListUnavailable,
}

impl AuthFailure {
    /// The metric label.
    pub fn reason(self) -> &'static str {
        match self {
            AuthFailure::MalformedHeader(_) => "malformed_header",
            AuthFailure::MissingToken => "missing_token",
            AuthFailure::MalformedToken => "malformed_token",
            AuthFailure::UnsupportedAlgorithm => "unsupported_algorithm",
            AuthFailure::MissingKeyId => "missing_kid",
            AuthFailure::UnknownKey => "unknown_kid",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::WrongIssuer => "wrong_issuer",
            AuthFailure::WrongAudience => "wrong_audience",
            AuthFailure::InvalidClaims => "invalid_claims",
            AuthFailure::Revoked => "revoked",
            AuthFailure::Forbidden => "forbidden",
            AuthFailure::KeysUnavailable => "jwks_unavailable",
            AuthFailure::DenyListUnavailable => "denylist_unavailable",
        }
    }

    /// Every label value, for the tests that keep the set bounded and documented.
    pub const ALL_REASONS: [&'static str; 16] = [
        "malformed_header",
        "missing_token",
        "malformed_token",
        "unsupported_algorithm",
        "missing_kid",
        "unknown_kid",
        "bad_signature",
        "expired",
        "not_yet_valid",
        "wrong_issuer",
        "wrong_audience",
        "invalid_claims",
        "revoked",
        "forbidden",
        "jwks_unavailable",
        "denylist_unavailable",
    ];

    pub fn into_api_error(self) -> ApiError {
        match self {
            AuthFailure::MalformedHeader(detail) => ApiError::unauthorized(detail),
            AuthFailure::MissingToken => {
                ApiError::unauthorized("authentication required: send `Authorization: Bearer <access token>`")
            }
            AuthFailure::Expired => ApiError::unauthorized("the access token has expired"),
            AuthFailure::Revoked => ApiError::unauthorized("the access token has been revoked"),
            AuthFailure::Forbidden => ApiError::forbidden("this endpoint needs the admin role"),
            AuthFailure::KeysUnavailable => {
                ApiError::unavailable("token verification is unavailable, retry shortly", RETRY_AFTER_SECS)
            }
            AuthFailure::DenyListUnavailable => {
                ApiError::unavailable("token verification is unavailable, retry shortly", RETRY_AFTER_SECS)
            }
            // One answer for every other defect: a forger learns nothing about which check failed.
            AuthFailure::MalformedToken
            | AuthFailure::UnsupportedAlgorithm
            | AuthFailure::MissingKeyId
            | AuthFailure::UnknownKey
            | AuthFailure::BadSignature
            | AuthFailure::NotYetValid
            | AuthFailure::WrongIssuer
            | AuthFailure::WrongAudience
            | AuthFailure::InvalidClaims => ApiError::unauthorized("the access token is invalid"),
        }
    }

    /// Counts the failure and renders it; a 401 carries `WWW-Authenticate` (RFC 6750 §3).
    pub fn respond(self) -> HttpResponse {
        metrics::counter!(FAILURES_METRIC, "reason" => self.reason()).increment(1);
        let mut response = self.into_api_error().error_response();
        let challenge = match self {
            AuthFailure::MissingToken => Some(r#"Bearer realm="shop""#),
            AuthFailure::MalformedHeader(_) => Some(r#"Bearer realm="shop", error="invalid_request""#),
            AuthFailure::Forbidden => Some(r#"Bearer realm="shop", error="insufficient_scope""#),
            AuthFailure::KeysUnavailable | AuthFailure::DenyListUnavailable => None,
            _ => Some(r#"Bearer realm="shop", error="invalid_token""#),
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

impl From<MalformedHeader> for AuthFailure {
    fn from(err: MalformedHeader) -> Self {
        AuthFailure::MalformedHeader(err.0)
    }
}

/// Registers the HELP lines of the auth series.
pub fn describe() {
    metrics::describe_counter!(
        FAILURES_METRIC,
        "Requests the gateway refused at authentication or authorization, by reason"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_a_listed_reason_and_the_right_status() {
        let all = [
            (AuthFailure::MalformedHeader("x"), 401),
            (AuthFailure::MissingToken, 401),
            (AuthFailure::MalformedToken, 401),
            (AuthFailure::UnsupportedAlgorithm, 401),
            (AuthFailure::MissingKeyId, 401),
            (AuthFailure::UnknownKey, 401),
            (AuthFailure::BadSignature, 401),
            (AuthFailure::Expired, 401),
            (AuthFailure::NotYetValid, 401),
            (AuthFailure::WrongIssuer, 401),
            (AuthFailure::WrongAudience, 401),
            (AuthFailure::InvalidClaims, 401),
            (AuthFailure::Revoked, 401),
            (AuthFailure::Forbidden, 403),
            (AuthFailure::KeysUnavailable, 503),
            (AuthFailure::DenyListUnavailable, 503),
        ];
        assert_eq!(all.len(), AuthFailure::ALL_REASONS.len());
        for (failure, status) in all {
            assert!(AuthFailure::ALL_REASONS.contains(&failure.reason()), "{failure:?}");
            assert_eq!(failure.into_api_error().code().status().as_u16(), status, "{failure:?}");
        }
    }
}
