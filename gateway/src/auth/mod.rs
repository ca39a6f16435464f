//! Authentication and authorization at the gateway (docs/auth.md "The gateway").
//!
//! Every request passes [`guard::admit`] before any handler: it reads the bearer token
//! ([`bearer`]), verifies it ([`verify`], keys from [`jwks`], earlier results reused through
//! [`verified`]), checks the deny-list
//! ([`denylist`]), applies the route's access column ([`crate::routes::Access`]), and records the
//! outcome as an [`Admission`] in the request's extensions. The proxy forwards the admitted
//! identity as `x-auth-*` headers and refuses to forward a request that carries no admission, so
//! a route wired without the guard fails closed.
//!
//! Refusals are problem+json: 401 for a missing or bad token, 403 for a missing role, 503 when the
//! JWKS or Redis cannot be asked (fail closed); each counted by reason ([`failure`]).

pub mod bearer;
pub mod claims;
pub mod denylist;
pub mod failure;
pub mod guard;
pub mod jwks;
pub mod replica;
pub mod settings;
pub mod verified;
pub mod verify;

pub use failure::AuthFailure;
pub use settings::AuthSettings;

use crate::routes::Access;
use actix_web::http::header::HeaderMap;
use denylist::DenyList;
use shop_common::auth::Identity;
use std::sync::Arc;
use verified::Caller;
use verify::Verifier;

/// The gateway's decision about a request that may proceed: who the caller is, if anyone (shared
/// with the verified-token cache, so admitting a known token copies nothing).
#[derive(Debug, Clone)]
pub struct Admission {
    pub caller: Option<Arc<Caller>>,
}

impl Admission {
    pub fn identity(&self) -> Option<&Identity> {
        self.caller.as_deref().map(|caller| &caller.identity)
    }
}

/// Verifies tokens and applies the route policy; shared by all workers.
pub struct Authenticator {
    verifier: Verifier,
    denylist: DenyList,
}

impl Authenticator {
    pub fn new(verifier: Verifier, denylist: DenyList) -> Self {
        Self { verifier, denylist }
    }

    /// The deny-list (its replica's sync task, and logouts the proxy saw succeed).
    pub fn denylist(&self) -> &DenyList {
        &self.denylist
    }

    /// Admits a request to a route with `access`, or says why not.
    pub async fn admit(&self, headers: &HeaderMap, access: Access) -> Result<Admission, AuthFailure> {
        // A token is verified whatever the route: a bad one is a 401 even where none is needed,
        // so a client never mistakes a broken session for being a guest.
        let caller = match bearer::token(headers)? {
            Some(token) => Some(self.authenticate(token).await?),
            None => None,
        };
        authorize(access, caller.as_deref().map(|caller| &caller.identity))?;
        Ok(Admission { caller })
    }

    async fn authenticate(&self, token: &str) -> Result<Arc<Caller>, AuthFailure> {
        let caller = self.verifier.verify(token).await?;
        if let Some(jti) = &caller.identity.token_id {
            match self.denylist.contains(jti).await {
                Ok(false) => {}
                Ok(true) => return Err(AuthFailure::Revoked),
                Err(err) => {
                    tracing::warn!(error = %err, "deny-list unavailable; refusing the token");
                    return Err(AuthFailure::DenyListUnavailable);
                }
            }
        }
        Ok(caller)
    }
}

/// The route's access column against the (verified) caller.
pub fn authorize(access: Access, identity: Option<&Identity>) -> Result<(), AuthFailure> {
    match (access, identity) {
        (Access::Public | Access::Guest, _) => Ok(()),
        (Access::Authenticated | Access::Admin, None) => Err(AuthFailure::MissingToken),
        (Access::Authenticated, Some(_)) => Ok(()),
        (Access::Admin, Some(identity)) if identity.is_admin() => Ok(()),
        (Access::Admin, Some(_)) => Err(AuthFailure::Forbidden),
    }
}

/// Registers the HELP lines of the auth series.
pub fn describe() {
    failure::describe();
    jwks::describe();
    replica::describe();
}

#[cfg(test)]
mod tests {
    use super::*;
    use shop_common::auth::Role;

    fn caller(roles: &[Role]) -> Identity {
        Identity {
            user_id: uuid::Uuid::new_v4(),
            roles: roles.to_vec(),
            token_id: None,
            token_expires_at: None,
            session_id: None,
        }
    }

    #[test]
    fn the_access_column_decides_with_the_caller() {
        let customer = caller(&[Role::Customer]);
        let admin = caller(&[Role::Admin]);
        for access in [Access::Public, Access::Guest] {
            assert_eq!(authorize(access, None), Ok(()));
            assert_eq!(authorize(access, Some(&customer)), Ok(()));
        }
        assert_eq!(authorize(Access::Authenticated, None), Err(AuthFailure::MissingToken));
        assert_eq!(authorize(Access::Authenticated, Some(&customer)), Ok(()));
        assert_eq!(authorize(Access::Admin, None), Err(AuthFailure::MissingToken));
        assert_eq!(authorize(Access::Admin, Some(&customer)), Err(AuthFailure::Forbidden));
        assert_eq!(authorize(Access::Admin, Some(&admin)), Ok(()));
    }
}
