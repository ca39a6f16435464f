//! Minting JWTs for tests: any claims, any key, so tests can forge the bad tokens too.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

/// Signs `claims` with HS256 and `secret`.
pub fn mint_hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signing cannot fail")
}

/// Typical access-token claims for `sub` with `roles`, valid for `ttl_secs` from now.
pub fn claims(sub: &str, roles: &[&str], issuer: &str, audience: &str, ttl_secs: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "sub": sub,
        "roles": roles,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_secs,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}
