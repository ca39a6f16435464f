//! Extractors for the verified identity the gateway forwards.

use super::claims::Role;
use super::headers;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header::HeaderMap;
use actix_web::{FromRequest, HttpRequest};
use std::future::{Ready, ready};
use uuid::Uuid;

/// An authenticated caller. Extracting it from a request without identity headers is a 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: Uuid,
    pub roles: Vec<Role>,
    /// The access token's id and expiry (Unix seconds), present for tokens shop issued.
    pub token_id: Option<String>,
    pub token_expires_at: Option<i64>,
    pub session_id: Option<String>,
}

impl Identity {
    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }

    /// The identity headers for this caller (the gateway sets them; tests use them too).
    pub fn to_headers(&self) -> Vec<(&'static str, String)> {
        let roles = self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
        let mut out = vec![(headers::USER_ID, self.user_id.to_string()), (headers::ROLES, roles)];
        if let Some(id) = &self.token_id {
            out.push((headers::TOKEN_ID, id.clone()));
        }
        if let Some(exp) = self.token_expires_at {
            out.push((headers::TOKEN_EXPIRES_AT, exp.to_string()));
        }
        if let Some(sid) = &self.session_id {
            out.push((headers::SESSION_ID, sid.clone()));
        }
        out
    }

    /// Reads the identity headers; `Ok(None)` when there are none, `Err` when they are malformed.
    pub fn from_headers(map: &HeaderMap) -> Result<Option<Self>, ApiError> {
        let Some(user_id) = map.get(headers::USER_ID) else { return Ok(None) };
        let malformed = || ApiError::unauthorized("malformed identity");
        let user_id = user_id.to_str().ok().and_then(|v| Uuid::parse_str(v).ok()).ok_or_else(malformed)?;
        let roles = match map.get(headers::ROLES) {
            None => Vec::new(),
            Some(value) => value
                .to_str()
                .map_err(|_| malformed())?
                .split(',')
                .filter(|r| !r.is_empty())
                .map(|r| r.trim().parse::<Role>().map_err(|_| malformed()))
                .collect::<Result<_, _>>()?,
        };
        let token_id = map.get(headers::TOKEN_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let token_expires_at = map.get(headers::TOKEN_EXPIRES_AT).and_then(|v| v.to_str().ok()?.parse().ok());
        let session_id = map.get(headers::SESSION_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Some(Self { user_id, roles, token_id, token_expires_at, session_id }))
    }
}

impl FromRequest for Identity {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            Identity::from_headers(req.headers())
                .and_then(|id| id.ok_or_else(|| ApiError::unauthorized("authentication required"))),
        )
    }
}

/// A caller who may be anonymous (guest carts, public reads).
#[derive(Debug, Clone)]
pub struct MaybeIdentity(pub Option<Identity>);

impl FromRequest for MaybeIdentity {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Identity::from_headers(req.headers()).map(MaybeIdentity))
    }
}

/// An authenticated admin: 401 without identity, 403 for other roles.
#[derive(Debug, Clone)]
pub struct AdminIdentity(pub Identity);

impl FromRequest for AdminIdentity {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(Identity::from_request(req, payload).into_inner().and_then(|identity| {
            if identity.is_admin() {
                Ok(AdminIdentity(identity))
            } else {
                Err(ApiError::forbidden("admin role required"))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn identity(roles: Vec<Role>) -> Identity {
        Identity {
            user_id: Uuid::new_v4(),
            roles,
            token_id: Some("j1".into()),
            token_expires_at: Some(1_900_000_000),
            session_id: Some("s1".into()),
        }
    }

    #[actix_web::test]
    async fn headers_round_trip() {
        let original = identity(vec![Role::Customer, Role::Admin]);
        let mut req = TestRequest::default();
        for header in original.to_headers() {
            req = req.insert_header(header);
        }
        let extracted = Identity::extract(&req.to_http_request()).await.unwrap();
        assert_eq!(extracted, original);
    }

    #[actix_web::test]
    async fn missing_identity_is_401_and_wrong_role_403() {
        let err = Identity::extract(&TestRequest::default().to_http_request()).await.unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::Unauthorized);

        let mut req = TestRequest::default();
        for header in identity(vec![Role::Customer]).to_headers() {
            req = req.insert_header(header);
        }
        let err = AdminIdentity::extract(&req.to_http_request()).await.unwrap_err();
        assert_eq!(err.code(), crate::error::ErrorCode::Forbidden);
    }

    #[actix_web::test]
    async fn malformed_identity_is_rejected() {
        let req = TestRequest::default().insert_header((headers::USER_ID, "not-a-uuid")).to_http_request();
        assert!(MaybeIdentity::extract(&req).await.is_err());
        let req = TestRequest::default()
            .insert_header((headers::USER_ID, Uuid::new_v4().to_string()))
            .insert_header((headers::ROLES, "superuser"))
            .to_http_request();
        assert!(Identity::extract(&req).await.is_err());
    }
}
