//! Minting access tokens and generating opaque refresh tokens (docs/auth.md "Tokens").

use crate::domain::{SessionId, User};
use crate::keys::KeyStore;
use crate::settings::TokenSettings;
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shop_common::ApiError;
use shop_common::auth::AccessClaims;
use std::fmt;

/// The claims of a new access token for `user` in `session`.
pub fn access_claims(user: &User, session: SessionId, settings: &TokenSettings, now: DateTime<Utc>) -> AccessClaims {
    let iat = now.timestamp();
    AccessClaims {
        sub: user.id.to_string(),
        roles: user.roles.clone(),
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        exp: iat + settings.access_ttl.as_secs() as i64,
        iat,
        nbf: iat,
        jti: uuid::Uuid::new_v4().to_string(),
        sid: session.to_string(),
    }
}

/// An opaque refresh token: 32 random bytes, base64url. Only its SHA-256 is stored.
pub struct RefreshToken(String);

impl RefreshToken {
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0u8; 32];
        OsRng.try_fill_bytes(&mut bytes).context("reading the OS random source")?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn hash(&self) -> [u8; 32] {
        hash_refresh_token(&self.0)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

/// What the database stores for a refresh token. A plain hash is enough: the token carries 256
/// bits of entropy, so unlike a password it cannot be guessed from its hash.
pub fn hash_refresh_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Longest string accepted as a refresh token before hashing (ours are 43 characters).
pub const MAX_REFRESH_TOKEN_LEN: usize = 128;

/// `TokenResponse` in docs/auth.md. Deliberately not `Debug`: it holds credentials.
#[derive(Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_in: u64,
    pub user: User,
}

/// Mints the access token and packs the pair for the client.
pub fn token_response(
    keys: &KeyStore,
    settings: &TokenSettings,
    user: User,
    session: SessionId,
    refresh: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<TokenResponse, ApiError> {
    let claims = access_claims(&user, session, settings, now);
    let access_token = keys.sign(&claims).map_err(ApiError::internal)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: settings.access_ttl.as_secs(),
        refresh_token: refresh.expose().to_owned(),
        refresh_expires_in: settings.refresh_ttl.as_secs(),
        user,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn refresh_tokens_are_random_base64url_and_hash_stably() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(a.hash(), hash_refresh_token(a.expose()));
        assert!(!format!("{a:?}").contains(a.expose()));
    }
}
