//! JWT signing keys: Ed25519 generation, persistence in `signing_keys`, rotation, the JWKS; or the
//! HS256 shared secret.
//!
//! Keys live in the database so restarts (and replicas) sign with the same key and issued tokens
//! stay valid. One key is active. Rotation retires it and creates a new one under a PostgreSQL
//! advisory lock, so replicas rotate once; a retired key stays in the JWKS for
//! [`KeyPolicy::retention`] (access-token lifetime + the reload interval + leeway), then is deleted.
//! Each replica reloads on the same interval, which is why the interval is part of the retention.

use crate::db::signing_keys::{self, NewSigningKey, SigningKeyRow};
use crate::settings::{SigningMode, TokenSettings};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The `kid` of HS256 tokens (docs/auth.md).
pub const HS256_KID: &str = "hs256";

/// How long past the access-token lifetime a retired key stays published: the gateway's 30 s
/// verification leeway plus margin for clock skew between replicas.
pub const VERIFY_LEEWAY: Duration = Duration::from_secs(60);

/// One public key as served in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

/// When keys rotate and how long retired ones stay published.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    pub rotation: Duration,
    pub retention: Duration,
}

impl KeyPolicy {
    pub fn from_settings(tokens: &TokenSettings) -> Self {
        Self { rotation: tokens.key_rotation, retention: tokens.access_ttl + tokens.key_check_interval + VERIFY_LEEWAY }
    }
}

struct ActiveKey {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
}

struct KeySet {
    active: ActiveKey,
    jwks: Jwks,
}

/// The keys this replica signs with and publishes; swapped whole on reload.
pub struct KeyStore {
    policy: KeyPolicy,
    /// `false` in HS256 mode: nothing to rotate or reload.
    persisted: bool,
    current: RwLock<Arc<KeySet>>,
}

impl KeyStore {
    /// EdDSA: creates the first key if there is none, rotates if the active one is due, loads.
    /// HS256: uses `SECRET_KEY` and publishes nothing.
    pub async fn open(
        conn: &mut AsyncPgConnection,
        tokens: &TokenSettings,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Self> {
        let policy = KeyPolicy::from_settings(tokens);
        match &tokens.signing {
            SigningMode::Hs256(secret) => {
                let active = ActiveKey {
                    kid: HS256_KID.to_owned(),
                    algorithm: Algorithm::HS256,
                    encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
                };
                let set = KeySet { active, jwks: Jwks { keys: Vec::new() } };
                Ok(Self { policy, persisted: false, current: RwLock::new(Arc::new(set)) })
            }
            SigningMode::EdDsa => {
                rotate(conn, policy, now, false).await?;
                let set = load(conn, policy, now).await?;
                Ok(Self { policy, persisted: true, current: RwLock::new(Arc::new(set)) })
            }
        }
    }

    fn snapshot(&self) -> Arc<KeySet> {
        // A poisoned lock only means a panic elsewhere mid-swap of an Arc: the value is intact.
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Signs `claims` with the active key; the header carries `alg`, `kid` and `typ: JWT`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let set = self.snapshot();
        let mut header = Header::new(set.active.algorithm);
        header.kid = Some(set.active.kid.clone());
        jsonwebtoken::encode(&header, claims, &set.active.encoding).context("signing an access token")
    }

    pub fn active_kid(&self) -> String {
        self.snapshot().active.kid.clone()
    }

    /// The key set as this replica last loaded it.
    pub fn jwks(&self) -> Jwks {
        self.snapshot().jwks.clone()
    }

    /// The key set as the database has it now: another replica may have rotated since this one
    /// last reloaded, and the gateway must find the new `kid` whichever replica it asks. Falls back
    /// to the loaded set if the database is unreachable.
    pub async fn published_jwks(&self, conn: Option<&mut AsyncPgConnection>, now: DateTime<Utc>) -> Jwks {
        let Some(conn) = conn.filter(|_| self.persisted) else { return self.jwks() };
        match signing_keys::published(conn, now - delta(self.policy.retention)).await {
            Ok(rows) if !rows.is_empty() => {
                Jwks { keys: rows.iter().map(|row| public_jwk(&row.kid, &row.public_key)).collect() }
            }
            Ok(_) => self.jwks(),
            Err(err) => {
                tracing::warn!(error = %err, "reading signing keys failed; serving the loaded JWKS");
                self.jwks()
            }
        }
    }

    /// The periodic check: rotates if due, prunes expired keys, reloads what other replicas did.
    /// Returns the new key id when this call rotated.
    pub async fn maintain(&self, conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> anyhow::Result<Option<String>> {
        if !self.persisted {
            return Ok(None);
        }
        let rotated = rotate(conn, self.policy, now, false).await?;
        self.reload(conn, now).await?;
        Ok(rotated)
    }

    /// Rotates now whatever the active key's age (operators' emergency rotation; tests).
    pub async fn rotate_now(&self, conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> anyhow::Result<Option<String>> {
        if !self.persisted {
            return Ok(None);
        }
        let rotated = rotate(conn, self.policy, now, true).await?;
        self.reload(conn, now).await?;
        Ok(rotated)
    }

    async fn reload(&self, conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> anyhow::Result<()> {
        let set = Arc::new(load(conn, self.policy, now).await?);
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = set;
        Ok(())
    }
}

/// A std duration as chrono's; settings bound every duration far below the fallback (a century),
/// which only exists so date arithmetic can never overflow.
pub fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::days(36_500))
}

/// Creates a key if none is active, or replaces the active one when it is older than the rotation
/// period (or `force`). Returns the new key's id if it made one.
pub async fn rotate(
    conn: &mut AsyncPgConnection,
    policy: KeyPolicy,
    now: DateTime<Utc>,
    force: bool,
) -> anyhow::Result<Option<String>> {
    let rotated = conn
        .transaction::<_, anyhow::Error, _>(async |conn| {
            signing_keys::lock_for_rotation(conn).await?;
            let active = signing_keys::active(conn).await?;
            let due = match &active {
                None => true,
                Some(key) => force || now - key.created_at >= delta(policy.rotation),
            };
            if !due {
                return Ok(None);
            }
            if let Some(old) = &active {
                signing_keys::retire(conn, &old.kid, now).await?;
            }
            let key = GeneratedKey::new()?;
            signing_keys::insert(
                conn,
                &NewSigningKey {
                    kid: &key.kid,
                    algorithm: "EdDSA",
                    private_key: &key.seed,
                    public_key: &key.public,
                    created_at: now,
                },
            )
            .await?;
            let pruned = signing_keys::delete_retired_before(conn, now - delta(policy.retention)).await?;
            tracing::info!(key.kid = %key.kid, key.previous = active.map(|k| k.kid), keys.pruned = pruned, "signing key rotated");
            Ok(Some(key.kid))
        })
        .await?;
    Ok(rotated)
}

async fn load(conn: &mut AsyncPgConnection, policy: KeyPolicy, now: DateTime<Utc>) -> anyhow::Result<KeySet> {
    let rows = signing_keys::published(conn, now - delta(policy.retention)).await?;
    let active_row = rows.iter().find(|row| row.retired_at.is_none()).context("no active signing key")?;
    let active =
        ActiveKey { kid: active_row.kid.clone(), algorithm: Algorithm::EdDSA, encoding: encoding_key(active_row)? };
    let keys = rows.iter().map(|row| public_jwk(&row.kid, &row.public_key)).collect();
    Ok(KeySet { active, jwks: Jwks { keys } })
}

/// The PKCS#8 form jsonwebtoken signs with, after checking the stored public half matches.
fn encoding_key(row: &SigningKeyRow) -> anyhow::Result<EncodingKey> {
    let seed: [u8; 32] = row.private_key.as_slice().try_into().context("a stored Ed25519 seed is not 32 bytes")?;
    let signing = SigningKey::from_bytes(&seed);
    anyhow::ensure!(
        signing.verifying_key().as_bytes().as_slice() == row.public_key.as_slice(),
        "signing key {} does not match its stored public key",
        row.kid
    );
    let der = signing.to_pkcs8_der().context("encoding the signing key as PKCS#8")?;
    Ok(EncodingKey::from_ed_der(der.as_bytes()))
}

pub fn public_jwk(kid: &str, public_key: &[u8]) -> PublicJwk {
    PublicJwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: URL_SAFE_NO_PAD.encode(public_key),
        kid: kid.to_owned(),
        alg: "EdDSA".into(),
        key_use: "sig".into(),
    }
}

/// RFC 7638 thumbprint of the Ed25519 JWK (RFC 8037 §2): a `kid` derived from the key itself.
pub fn thumbprint(public_key: &[u8]) -> String {
    let x = URL_SAFE_NO_PAD.encode(public_key);
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

struct GeneratedKey {
    kid: String,
    seed: [u8; 32],
    public: [u8; 32],
}

impl GeneratedKey {
    fn new() -> anyhow::Result<Self> {
        let mut seed = [0u8; 32];
        OsRng.try_fill_bytes(&mut seed).context("reading the OS random source")?;
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        Ok(Self { kid: thumbprint(&public), seed, public })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 Appendix A.3.
        let public = URL_SAFE_NO_PAD.decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert_eq!(thumbprint(&public), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn a_generated_key_signs_what_its_jwk_verifies() {
        let key = GeneratedKey::new().unwrap();
        let row = SigningKeyRow {
            kid: key.kid.clone(),
            private_key: key.seed.to_vec(),
            public_key: key.public.to_vec(),
            created_at: Utc::now(),
            retired_at: None,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let claims = serde_json::json!({"sub": "u", "exp": Utc::now().timestamp() + 60});
        let token = jsonwebtoken::encode(&header, &claims, &encoding_key(&row).unwrap()).unwrap();

        let jwk = public_jwk(&key.kid, &key.public);
        let decoding = DecodingKey::from_ed_components(&jwk.x).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "u");
        assert_eq!(data.header.kid.as_deref(), Some(key.kid.as_str()));
    }

    #[test]
    fn a_corrupted_public_key_is_refused() {
        let key = GeneratedKey::new().unwrap();
        let other = GeneratedKey::new().unwrap();
        let row = SigningKeyRow {
            kid: key.kid,
            private_key: key.seed.to_vec(),
            public_key: other.public.to_vec(),
            created_at: Utc::now(),
            retired_at: None,
        };
        assert!(encoding_key(&row).is_err());
    }
}
