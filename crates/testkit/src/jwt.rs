//! Minting JWTs for tests: any claims, any key, so tests can forge the bad tokens too.
//!
//! - [`Ed25519Key`]: a key pair generated in the test, its public JWK and EdDSA tokens with a `kid`
//!   (what the auth service issues, docs/auth.md); [`Es256Key`] the same for ES256 (an OIDC
//!   provider); [`jwks`] publishes a set of them.
//! - [`mint_hs256`]: HS256 with any secret (the `SECRET_KEY` deployments, or an attacker's guess).
//! - Forgeries: [`forge_alg_none`], [`forge_hs256_with_public_key`] (algorithm confusion),
//!   [`tamper_claims`] (payload edited, signature kept).
//!
//! Only `jsonwebtoken` does the cryptography; the few base64url steps a forger needs are done here
//! by hand so the test kit needs no extra crates.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The PKCS#8 v1 DER prefix of an Ed25519 private key (RFC 8410 §7); the 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// An Ed25519 key pair made for one test, with its key id.
#[derive(Clone)]
pub struct Ed25519Key {
    kid: String,
    encoding: EncodingKey,
    /// The public key, base64url as in the JWK's `x`.
    x: String,
}

impl std::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ed25519Key").field("kid", &self.kid).field("x", &self.x).finish_non_exhaustive()
    }
}

impl Ed25519Key {
    /// A fresh random key pair whose `kid` is random too.
    pub fn generate() -> Self {
        Self::with_kid(&format!("test-{}", uuid::Uuid::new_v4().simple()))
    }

    /// A fresh random key pair published under `kid` (two keys may share a kid: "same kid, other key").
    pub fn with_kid(kid: &str) -> Self {
        // Two v4 UUIDs carry 244 random bits from the OS source; hashing spreads them over the seed.
        // Plenty for a key that lives as long as one test.
        let mut hasher = Sha256::new();
        hasher.update(uuid::Uuid::new_v4().as_bytes());
        hasher.update(uuid::Uuid::new_v4().as_bytes());
        let seed: [u8; 32] = hasher.finalize().into();
        Self::from_seed(kid, &seed)
    }

    /// The key pair for a fixed seed (deterministic tests).
    pub fn from_seed(kid: &str, seed: &[u8; 32]) -> Self {
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(seed);
        let encoding = EncodingKey::from_ed_der(&der);
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).expect("an Ed25519 seed always has a public key");
        let AlgorithmParameters::OctetKeyPair(params) = jwk.algorithm else {
            panic!("an Ed25519 key gives an OKP JWK");
        };
        Self { kid: kid.to_owned(), encoding, x: params.x }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key, base64url (the JWK's `x`).
    pub fn x(&self) -> &str {
        &self.x
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        b64url_decode(&self.x)
    }

    /// The public JWK exactly as the auth service serves it (docs/auth.md "JWKS").
    pub fn jwk(&self) -> Value {
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": self.x, "kid": self.kid, "alg": "EdDSA", "use": "sig"})
    }

    /// Signs `claims` with EdDSA; the header carries this key's `kid` and `typ: JWT`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// Signs with this key but names `kid` in the header (a token claiming another key's id).
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("EdDSA signing cannot fail")
    }

    /// Signs with EdDSA and no `kid` in the header.
    pub fn sign_without_kid(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.encoding).expect("EdDSA signing cannot fail")
    }
}

/// A key pair whose public half can be published in a JWKS.
pub trait PublicJwk {
    /// The public JWK, with `kid`, `alg` and `use: sig`.
    fn jwk(&self) -> Value;
}

impl PublicJwk for Ed25519Key {
    fn jwk(&self) -> Value {
        Ed25519Key::jwk(self)
    }
}

impl PublicJwk for Es256Key {
    fn jwk(&self) -> Value {
        Es256Key::jwk(self)
    }
}

/// A JWKS document (`{"keys": [...]}`) publishing `keys`.
pub fn jwks(keys: &[&dyn PublicJwk]) -> Value {
    serde_json::json!({"keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>()})
}

/// PKCS#8 v1 DER of a P-256 private key without the optional public key (RFC 5915 inside RFC
/// 5208): the 32-byte scalar follows this prefix.
const P256_PKCS8_PREFIX: [u8; 35] = [
    0x30, 0x41, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04, 0x27, 0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20,
];

/// A P-256 key pair for ES256 tokens (what an OIDC provider may sign with).
#[derive(Clone)]
pub struct Es256Key {
    kid: String,
    encoding: EncodingKey,
    x: String,
    y: String,
}

impl std::fmt::Debug for Es256Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Es256Key").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Es256Key {
    /// A fresh random key pair with a random `kid`.
    pub fn generate() -> Self {
        let kid = format!("es-{}", uuid::Uuid::new_v4().simple());
        // A random 256-bit value is below the group order except with probability ~2^-32; such a
        // scalar is refused by p256 and the next one is tried.
        loop {
            let mut hasher = Sha256::new();
            hasher.update(uuid::Uuid::new_v4().as_bytes());
            hasher.update(uuid::Uuid::new_v4().as_bytes());
            if let Some(key) = Self::from_scalar(&kid, &hasher.finalize().into()) {
                return key;
            }
        }
    }

    fn from_scalar(kid: &str, scalar: &[u8; 32]) -> Option<Self> {
        let mut der = P256_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(scalar);
        let encoding = EncodingKey::from_ec_der(&der);
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).ok()?;
        let AlgorithmParameters::EllipticCurve(params) = jwk.algorithm else { return None };
        Some(Self { kid: kid.to_owned(), encoding, x: params.x, y: params.y })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK as an OIDC provider serves it.
    pub fn jwk(&self) -> Value {
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": self.x, "y": self.y, "kid": self.kid, "alg": "ES256", "use": "sig",
        })
    }

    /// Signs `claims` with ES256 under this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("ES256 signing cannot fail")
    }

    /// Signs with this key but claims another algorithm in the header (`RS256`, `EdDSA`...): the
    /// signature is ES256's, the header lies.
    pub fn sign_claiming(&self, alg: &str, claims: &Value) -> String {
        let token = self.sign(claims);
        let (_, rest) = token.split_once('.').expect("a JWS has a header");
        let header = serde_json::json!({"alg": alg, "typ": "JWT", "kid": self.kid});
        format!("{}.{rest}", b64url_json(&header))
    }
}

/// Signs `claims` with HS256 and `secret`.
pub fn mint_hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
        .expect("HS256 signing cannot fail")
}

/// Signs `claims` with HS256 and `secret`, naming `kid` in the header.
pub fn mint_hs256_with_kid(secret: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("HS256 signing cannot fail")
}

/// The classic algorithm-confusion forgery: an HS256 token whose HMAC secret is the victim's
/// *public* key, here its JWK `x` text as published, with the victim's `kid`. A verifier that lets
/// the token's `alg` choose how to use a JWKS key would accept it.
pub fn forge_hs256_with_public_key(victim: &Ed25519Key, claims: &Value) -> String {
    mint_hs256_with_kid(victim.x().as_bytes(), victim.kid(), claims)
}

/// An unsigned token: header `{"alg":"none","typ":"JWT"}` (plus `kid` if given), empty signature.
pub fn forge_alg_none(claims: &Value, kid: Option<&str>) -> String {
    let mut header = serde_json::json!({"alg": "none", "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = Value::from(kid);
    }
    format!("{}.{}.", b64url_json(&header), b64url_json(claims))
}

/// Edits a signed token's payload with `edit` and keeps the original header and signature, like an
/// attacker promoting themselves to admin.
pub fn tamper_claims(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        panic!("not a JWS compact token: {token}");
    };
    let mut claims: Value = serde_json::from_slice(&b64url_decode(payload)).expect("the payload is JSON");
    edit(&mut claims);
    format!("{header}.{}.{signature}", b64url_json(&claims))
}

/// The claims of a token, read without verification (assertions in tests).
pub fn read_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS compact token has a payload");
    serde_json::from_slice(&b64url_decode(payload)).expect("the payload is JSON")
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

/// Claims as the auth service issues them (docs/auth.md "Tokens"): [`claims`] plus a random
/// user id and session id (`sid`), with the default issuer `shop-auth` and audience `shop`.
pub fn access_claims(roles: &[&str], ttl_secs: i64) -> Value {
    let mut value = claims(&uuid::Uuid::new_v4().to_string(), roles, "shop-auth", "shop", ttl_secs);
    value["sid"] = Value::from(uuid::Uuid::new_v4().to_string());
    value
}

/// Keycloak-style access-token claims: realm roles under `realm_access.roles`, no `roles` claim.
pub fn keycloak_claims(sub: &str, realm_roles: &[&str], issuer: &str, audience: &str, ttl_secs: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "sub": sub,
        "iss": issuer,
        "aud": audience,
        "azp": "shop-frontend",
        "typ": "Bearer",
        "iat": now,
        "exp": now + ttl_secs,
        "jti": uuid::Uuid::new_v4().to_string(),
        "preferred_username": "kc-user",
        "realm_access": {"roles": realm_roles},
    })
}

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64url_json(value: &Value) -> String {
    b64url_encode(&serde_json::to_vec(value).expect("JSON values serialise"))
}

/// base64url without padding (RFC 4648 §5), as JWS uses it.
pub fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 0x3f) as usize] as char);
        }
    }
    out
}

/// Decodes unpadded base64url; panics on anything else (test input).
pub fn b64url_decode(text: &str) -> Vec<u8> {
    let values: Vec<u32> = text
        .bytes()
        .map(|c| B64URL.iter().position(|b| *b == c).unwrap_or_else(|| panic!("not base64url: {text}")) as u32)
        .collect();
    let mut out = Vec::with_capacity(values.len() * 3 / 4);
    for chunk in values.chunks(4) {
        assert!(chunk.len() > 1, "truncated base64url: {text}");
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            assert_eq!(b64url_decode(&b64url_encode(&bytes)), bytes);
        }
        assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
    }

    #[test]
    fn rfc_8037_test_vector_gives_its_public_key() {
        // RFC 8037 Appendix A.1: d and x of the example key.
        let seed: [u8; 32] = b64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").try_into().unwrap();
        let key = Ed25519Key::from_seed("a", &seed);
        assert_eq!(key.x(), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    }

    #[test]
    fn a_minted_token_verifies_with_its_jwk_and_not_with_another() {
        let key = Ed25519Key::generate();
        let token = key.sign(&access_claims(&["customer"], 60));
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["shop"]);
        let decoding = DecodingKey::from_ed_components(key.x()).unwrap();
        let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
        assert_eq!(data.claims["roles"][0], "customer");

        let other = DecodingKey::from_ed_components(Ed25519Key::generate().x()).unwrap();
        assert!(jsonwebtoken::decode::<Value>(&token, &other, &validation).is_err());
        let tampered = tamper_claims(&token, |claims| claims["roles"] = serde_json::json!(["admin"]));
        assert_eq!(read_claims(&tampered)["roles"][0], "admin");
        assert!(jsonwebtoken::decode::<Value>(&tampered, &decoding, &validation).is_err());
    }

    #[test]
    fn an_es256_token_verifies_with_its_jwk() {
        let key = Es256Key::generate();
        let token = key.sign(&access_claims(&["customer"], 60));
        let jwk = key.jwk();
        let decoding = DecodingKey::from_ec_components(jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["shop"]);
        assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &validation).is_ok());
        let lying = key.sign_claiming("RS256", &access_claims(&["customer"], 60));
        assert_eq!(jsonwebtoken::decode_header(&lying).unwrap().alg, Algorithm::RS256);
        assert_eq!(jwks(&[&key, &Ed25519Key::generate()])["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn forgeries_have_the_shape_attackers_send() {
        let key = Ed25519Key::generate();
        let none = forge_alg_none(&access_claims(&["admin"], 60), Some(key.kid()));
        assert!(none.ends_with('.'));
        assert_eq!(read_claims(&none)["roles"][0], "admin");
        let confused = forge_hs256_with_public_key(&key, &access_claims(&["admin"], 60));
        let header = jsonwebtoken::decode_header(&confused).unwrap();
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::HS256, Some(key.kid())));
    }
}
