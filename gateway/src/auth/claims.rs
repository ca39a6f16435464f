//! From verified claims to the [`Identity`] the gateway forwards: shop's own access tokens
//! (docs/auth.md "Tokens") and Keycloak's (realm roles mapped to ours).
//!
//! These run only after the signature, `iss`, `aud`, `exp` and `nbf` checks passed; what is left is
//! the shape of the claims the services rely on.

use serde::Deserialize;
use serde_json::Value;
use shop_common::auth::{Identity, Role};
use uuid::Uuid;

/// Whose claim layout a key set's tokens use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimsLayout {
    /// `sub`, `roles`, `jti`, `exp`, optional `sid`.
    Shop,
    /// Keycloak: `sub`, `realm_access.roles`, `exp`, usually `jti`.
    Keycloak,
}

/// The claims are not what a token of this issuer must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidClaims(pub String);

#[derive(Deserialize)]
struct ShopClaims {
    sub: String,
    roles: Vec<Role>,
    jti: String,
    exp: i64,
    #[serde(default)]
    sid: Option<String>,
}

#[derive(Deserialize)]
struct KeycloakClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    realm_access: Option<RealmAccess>,
}

#[derive(Deserialize)]
struct RealmAccess {
    #[serde(default)]
    roles: Vec<String>,
}

/// The realm role that makes a Keycloak user a shop admin; every other user is a customer.
pub const KEYCLOAK_ADMIN_ROLE: &str = "admin";

/// Longest `jti`/`sid` forwarded: they become header values and Redis keys.
const MAX_ID_LEN: usize = 128;

pub fn identity(layout: ClaimsLayout, claims: Value) -> Result<Identity, InvalidClaims> {
    match layout {
        ClaimsLayout::Shop => shop_identity(claims),
        ClaimsLayout::Keycloak => keycloak_identity(claims),
    }
}

fn shop_identity(claims: Value) -> Result<Identity, InvalidClaims> {
    let claims: ShopClaims = serde_json::from_value(claims).map_err(|err| InvalidClaims(err.to_string()))?;
    if claims.roles.is_empty() {
        return Err(InvalidClaims("roles is empty".into()));
    }
    let mut roles: Vec<Role> = Vec::with_capacity(claims.roles.len());
    for role in claims.roles {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(Identity {
        user_id: user_id(&claims.sub)?,
        roles,
        token_id: Some(id_claim("jti", claims.jti)?),
        token_expires_at: Some(claims.exp),
        session_id: claims.sid.map(|sid| id_claim("sid", sid)).transpose()?,
    })
}

fn keycloak_identity(claims: Value) -> Result<Identity, InvalidClaims> {
    let claims: KeycloakClaims = serde_json::from_value(claims).map_err(|err| InvalidClaims(err.to_string()))?;
    let realm_roles = claims.realm_access.map(|access| access.roles).unwrap_or_default();
    let role = if realm_roles.iter().any(|r| r == KEYCLOAK_ADMIN_ROLE) { Role::Admin } else { Role::Customer };
    Ok(Identity {
        user_id: user_id(&claims.sub)?,
        roles: vec![role],
        token_id: claims.jti.map(|jti| id_claim("jti", jti)).transpose()?,
        token_expires_at: Some(claims.exp),
        // Keycloak's `sid` is its own session, not a shop refresh-token family: not forwarded.
        session_id: None,
    })
}

fn user_id(sub: &str) -> Result<Uuid, InvalidClaims> {
    Uuid::parse_str(sub).map_err(|_| InvalidClaims("sub is not a UUID".into()))
}

/// Ids that travel on as header values and into Redis keys: short, printable, no separators.
fn id_claim(name: &str, value: String) -> Result<String, InvalidClaims> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(value) } else { Err(InvalidClaims(format!("{name} is not a valid id"))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shop(overrides: Value) -> Value {
        let mut claims = json!({
            "sub": "0195f2a4-7c1e-7d2a-9b8e-3c4d5e6f7a8b",
            "roles": ["customer"],
            "iss": "shop-auth", "aud": "shop", "iat": 1, "nbf": 1,
            "exp": 1_900_000_000,
            "jti": "6f1c1a8e-2b7d-4c55-9d1e-0a1b2c3d4e5f",
            "sid": "5b0e9a3c-1d2e-4f50-8a6b-7c8d9e0f1a2b",
        });
        for (key, value) in overrides.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    }

    #[test]
    fn shop_claims_become_the_identity_headers_carry() {
        let identity = identity(ClaimsLayout::Shop, shop(json!({"roles": ["admin", "customer"]}))).unwrap();
        assert_eq!(identity.user_id.to_string(), "0195f2a4-7c1e-7d2a-9b8e-3c4d5e6f7a8b");
        assert_eq!(identity.roles, [Role::Admin, Role::Customer]);
        assert_eq!(identity.token_id.as_deref(), Some("6f1c1a8e-2b7d-4c55-9d1e-0a1b2c3d4e5f"));
        assert_eq!(identity.token_expires_at, Some(1_900_000_000));
        assert_eq!(identity.session_id.as_deref(), Some("5b0e9a3c-1d2e-4f50-8a6b-7c8d9e0f1a2b"));
        // `sid` is optional (HS256 deployments may mint without it).
        assert_eq!(identity_of(shop(json!({"sid": null}))).unwrap().session_id, None);
    }

    fn identity_of(claims: Value) -> Result<Identity, InvalidClaims> {
        identity(ClaimsLayout::Shop, claims)
    }

    #[test]
    fn shop_claims_missing_or_malformed_are_refused() {
        for overrides in [
            json!({"sub": null}),
            json!({"sub": "alice"}),
            json!({"roles": null}),
            json!({"roles": []}),
            json!({"roles": ["superuser"]}),
            json!({"roles": "admin"}),
            json!({"jti": null}),
            json!({"jti": ""}),
            json!({"jti": "a b"}),
            json!({"jti": "x".repeat(200)}),
            json!({"sid": "bad\nsid"}),
        ] {
            assert!(identity_of(shop(overrides.clone())).is_err(), "{overrides}");
        }
    }

    #[test]
    fn keycloak_realm_roles_map_to_ours() {
        let claims = |roles: Value| {
            json!({"sub": "7c2f7a52-5c3a-4b8e-9d2f-1e0a3b4c5d6e", "exp": 1_900_000_000, "jti": "kc-1",
                   "sid": "kc-session", "realm_access": {"roles": roles}})
        };
        let admin = identity(ClaimsLayout::Keycloak, claims(json!(["offline_access", "admin"]))).unwrap();
        assert_eq!(admin.roles, [Role::Admin]);
        assert_eq!(admin.session_id, None);
        let other =
            identity(ClaimsLayout::Keycloak, claims(json!(["default-roles-shop", "uma_authorization"]))).unwrap();
        assert_eq!(other.roles, [Role::Customer]);
        let none =
            identity(ClaimsLayout::Keycloak, json!({"sub": "7c2f7a52-5c3a-4b8e-9d2f-1e0a3b4c5d6e", "exp": 1})).unwrap();
        assert_eq!((none.roles.as_slice(), none.token_id), (&[Role::Customer][..], None));
        assert!(identity(ClaimsLayout::Keycloak, json!({"sub": "kc-user", "exp": 1})).is_err());
    }
}
