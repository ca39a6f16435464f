//! Verifying one access token: which issuer, which key, which algorithm, which claims.
//!
//! The algorithm is never the token's choice. The token's header only says which of a short list
//! of pinned pairs it claims to use, and anything else is refused before a key is touched:
//! - shop's issuer: `EdDSA` with a `kid` from the auth service's JWKS, or `HS256` with
//!   `SECRET_KEY` when (and only when) the gateway has one. An HS256 token is never checked
//!   against a JWKS key, so a public key can never act as an HMAC secret.
//! - the OIDC issuer (Keycloak), when configured: `RS256`, `ES256` or `EdDSA`, each only with a
//!   key of that type from its JWKS.
//! - `none` and every other algorithm: refused.
//!
//! The issuer is picked from the unverified `iss` only to know which keys to try; the chosen
//! issuer's checks then verify `iss` again, with the signature.

use super::claims::{self, ClaimsLayout};
use super::failure::AuthFailure;
use super::jwks::{JwksCache, Lookup, PinnedKey};
use super::settings::AuthSettings;
use super::verified::{self, Caller, VerifiedTokens};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use shop_common::auth::Identity;
use std::sync::Arc;
use std::time::Duration;

/// The algorithms the OIDC issuer's keys may use (Keycloak signs RS256 by default).
const OIDC_ALGORITHMS: &[Algorithm] = &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// One trusted issuer.
struct Issuer {
    iss: String,
    audience: Option<String>,
    keys: Arc<JwksCache>,
    /// Asymmetric algorithms this issuer's JWKS keys may be used with.
    algorithms: &'static [Algorithm],
    layout: ClaimsLayout,
    /// Claims a token of this issuer must carry (beyond what the layout needs).
    required: &'static [&'static str],
}

/// Checks tokens against shop's issuer and, if configured, the OIDC issuer.
pub struct Verifier {
    shop: Issuer,
    oidc: Option<Issuer>,
    /// `SECRET_KEY`, the only key HS256 tokens are ever verified with.
    hs256: Option<DecodingKey>,
    leeway: Duration,
    /// Tokens verified before (see [`super::verified`]).
    verified: VerifiedTokens,
}

/// What the header claims; parsed here (not by jsonwebtoken) so `none` or an unknown algorithm is
/// refused with its own reason instead of a generic parse error.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

#[derive(Deserialize)]
struct UnverifiedIssuer {
    #[serde(default)]
    iss: Option<Value>,
}

impl Verifier {
    pub fn new(settings: &AuthSettings, client: &reqwest::Client) -> Self {
        let shop = Issuer {
            iss: settings.issuer.clone(),
            audience: Some(settings.audience.clone()),
            keys: Arc::new(JwksCache::new(
                "shop",
                settings.jwks_url.clone(),
                client.clone(),
                settings.jwks_refresh_floor,
            )),
            algorithms: &[Algorithm::EdDSA],
            layout: ClaimsLayout::Shop,
            required: &["exp", "nbf", "iss", "aud", "sub"],
        };
        let oidc = settings.oidc.as_ref().map(|oidc| Issuer {
            iss: oidc.issuer.clone(),
            audience: oidc.audience.clone(),
            keys: Arc::new(JwksCache::new("oidc", oidc.jwks_url.clone(), client.clone(), settings.jwks_refresh_floor)),
            algorithms: OIDC_ALGORITHMS,
            layout: ClaimsLayout::Keycloak,
            required: &["exp", "iss", "sub"],
        });
        let hs256 = settings.secret_key.as_ref().map(|secret| DecodingKey::from_secret(secret.expose().as_bytes()));
        Self { shop, oidc, hs256, leeway: settings.leeway, verified: VerifiedTokens::new(verified::CAPACITY) }
    }

    /// The verified identity of `token`, or why it is refused. The deny-list is checked by the
    /// caller (it needs Redis; this needs only keys).
    pub async fn verify(&self, token: &str) -> Result<Arc<Caller>, AuthFailure> {
        let now = jsonwebtoken::get_current_timestamp() as i64;
        let generation = self.key_generation();
        if let Some(caller) = self.verified.get(token, now, generation) {
            return Ok(caller);
        }
        let caller = Arc::new(Caller::new(self.verify_fully(token).await?));
        if let Some(exp) = caller.identity.token_expires_at {
            let valid_until = exp.saturating_add(self.leeway.as_secs() as i64);
            self.verified.insert(token, caller.clone(), valid_until, now, generation);
        }
        Ok(caller)
    }

    /// Changes whenever any issuer's key set is replaced.
    fn key_generation(&self) -> u64 {
        self.shop.keys.generation() + self.oidc.as_ref().map_or(0, |oidc| oidc.keys.generation())
    }

    /// Header, issuer, pinned key, signature, registered claims, then the claims' shape.
    async fn verify_fully(&self, token: &str) -> Result<Identity, AuthFailure> {
        let header = raw_header(token)?;
        let issuer = self.issuer_for(token);
        let (key, algorithm) = self.key_for(issuer, &header).await?;

        let mut validation = Validation::new(algorithm);
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer.iss.as_str()]);
        match &issuer.audience {
            Some(audience) => validation.set_audience(&[audience.as_str()]),
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(issuer.required);

        // Claims decode to a plain value first so a validation failure (expired, wrong audience)
        // is reported as such, not as a claims-shape error.
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|err| classify(err.kind()))?;
        claims::identity(issuer.layout, data.claims).map_err(|err| {
            tracing::debug!(reason = %err.0, "token claims refused");
            AuthFailure::InvalidClaims
        })
    }

    /// The OIDC issuer when the token says so, otherwise shop's (whose `iss` check then decides).
    fn issuer_for(&self, token: &str) -> &Issuer {
        let Some(oidc) = &self.oidc else { return &self.shop };
        let claimed =
            jsonwebtoken::dangerous::insecure_decode_claims::<UnverifiedIssuer>(token).ok().and_then(|c| c.iss);
        if claimed.as_ref().and_then(Value::as_str) == Some(oidc.iss.as_str()) { oidc } else { &self.shop }
    }

    /// The key and the one algorithm it is pinned to, or why there is none.
    async fn key_for<'a>(
        &'a self,
        issuer: &Issuer,
        header: &RawHeader,
    ) -> Result<(KeyRef<'a>, Algorithm), AuthFailure> {
        if header.alg == "HS256" {
            // Only shop's own issuer has a shared secret; the JWKS is never consulted for HS256.
            return match (&self.hs256, issuer.layout) {
                (Some(secret), ClaimsLayout::Shop) => Ok((KeyRef::Secret(secret), Algorithm::HS256)),
                _ => Err(AuthFailure::UnsupportedAlgorithm),
            };
        }
        let algorithm = header
            .alg
            .parse::<Algorithm>()
            .ok()
            .filter(|alg| issuer.algorithms.contains(alg))
            .ok_or(AuthFailure::UnsupportedAlgorithm)?;
        let kid = header.kid.as_deref().filter(|kid| !kid.is_empty()).ok_or(AuthFailure::MissingKeyId)?;
        match issuer.keys.lookup(kid).await {
            Lookup::Found(key) if key.algorithm == algorithm => Ok((KeyRef::Pinned(key), algorithm)),
            // The key exists but is pinned to another algorithm: the token is lying about one of them.
            Lookup::Found(_) => Err(AuthFailure::UnsupportedAlgorithm),
            Lookup::Unknown => Err(AuthFailure::UnknownKey),
            Lookup::Unavailable => Err(AuthFailure::KeysUnavailable),
        }
    }
}

/// A key borrowed from the verifier or shared out of a JWKS snapshot.
enum KeyRef<'a> {
    Secret(&'a DecodingKey),
    Pinned(Arc<PinnedKey>),
}

impl std::ops::Deref for KeyRef<'_> {
    type Target = DecodingKey;
    fn deref(&self) -> &DecodingKey {
        match self {
            KeyRef::Secret(key) => key,
            KeyRef::Pinned(pinned) => &pinned.key,
        }
    }
}

fn raw_header(token: &str) -> Result<RawHeader, AuthFailure> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(AuthFailure::MalformedToken);
    };
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| AuthFailure::MalformedToken)?;
    let header: RawHeader = serde_json::from_slice(&bytes).map_err(|_| AuthFailure::MalformedToken)?;
    // RFC 7515 §4.1.11: extensions marked critical must be understood; the gateway knows none.
    if header.crit.is_some() {
        return Err(AuthFailure::MalformedToken);
    }
    Ok(header)
}

/// jsonwebtoken's error → our reason.
fn classify(kind: &ErrorKind) -> AuthFailure {
    match kind {
        ErrorKind::InvalidSignature => AuthFailure::BadSignature,
        ErrorKind::ExpiredSignature => AuthFailure::Expired,
        ErrorKind::ImmatureSignature => AuthFailure::NotYetValid,
        ErrorKind::InvalidIssuer => AuthFailure::WrongIssuer,
        ErrorKind::InvalidAudience => AuthFailure::WrongAudience,
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) | ErrorKind::InvalidSubject => {
            AuthFailure::InvalidClaims
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            AuthFailure::UnsupportedAlgorithm
        }
        // A key that does not fit the algorithm (cannot happen with pinned keys) is still the
        // token's problem to the client: it cannot be verified.
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthFailure::BadSignature,
        _ => AuthFailure::MalformedToken,
    }
}
