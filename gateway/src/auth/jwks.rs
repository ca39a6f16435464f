//! A JSON Web Key Set fetched over HTTP and cached in memory, each key pinned to one algorithm.
//!
//! - **Pinning**: a key's algorithm comes from the key itself (`kty`/`crv`, and `alg` when given,
//!   which must agree), never from the token. Symmetric (`oct`) keys are never taken from a JWKS,
//!   so a public key can never be used as an HMAC secret.
//! - **Refetch**: an unknown `kid` triggers a fetch, at most one per `floor` per key set, and one at
//!   a time: a burst of made-up key ids costs the issuer one request, not thousands.
//! - **Failures** keep the cached keys; tokens signed with known keys keep working while the
//!   issuer is down. Only a token with an unknown `kid` then gets a 503 (it might be valid).
//! - **Age**: a set older than [`MAX_AGE`] (the auth service's `Cache-Control: max-age`) is
//!   refreshed in the background on use, so a key the issuer withdrew stops verifying soon after.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

pub const FETCHES_METRIC: &str = "gateway_jwks_fetches_total";

/// How long a fetched set is used before a background refresh.
pub const MAX_AGE: Duration = Duration::from_secs(300);

/// A fetch must finish within this; requests with an unknown `kid` wait for it.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest JWKS document read; real ones are a few kB.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// RSA keys shorter than 2048 bits are refused (NIST SP 800-131A).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// A verification key and the one algorithm it may be used with.
pub struct PinnedKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// Keys by `kid`.
pub type KeyMap = HashMap<String, Arc<PinnedKey>>;

/// The answer to "which key has this `kid`?".
pub enum Lookup {
    Found(Arc<PinnedKey>),
    /// The issuer's current set has no such key.
    Unknown,
    /// The set could not be fetched lately; the key may exist.
    Unavailable,
}

struct Snapshot {
    keys: KeyMap,
    fetched_at: Option<Instant>,
}

#[derive(Default)]
struct FetchState {
    last_attempt: Option<Instant>,
    last_ok: bool,
}

/// One issuer's key set.
pub struct JwksCache {
    /// `shop` or `oidc`: the metric label and log field.
    source: &'static str,
    url: String,
    client: reqwest::Client,
    floor: Duration,
    current: RwLock<Arc<Snapshot>>,
    /// Bumped at every swap of the set, so results verified under an older set can be told apart.
    generation: AtomicU64,
    /// Held across a fetch so concurrent misses wait for one fetch instead of starting their own.
    fetch: tokio::sync::Mutex<FetchState>,
}

impl JwksCache {
    pub fn new(source: &'static str, url: String, client: reqwest::Client, floor: Duration) -> Self {
        Self {
            source,
            url,
            client,
            floor,
            current: RwLock::new(Arc::new(Snapshot { keys: KeyMap::new(), fetched_at: None })),
            generation: AtomicU64::new(0),
            fetch: tokio::sync::Mutex::new(FetchState::default()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many times the set has been replaced.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        // A poisoned lock only means a panic elsewhere mid-swap of an Arc: the value is intact.
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// The key named `kid`, fetching the set when it is not known yet.
    pub async fn lookup(self: &Arc<Self>, kid: &str) -> Lookup {
        let snapshot = self.snapshot();
        if let Some(key) = snapshot.keys.get(kid) {
            if snapshot.fetched_at.is_some_and(|at| at.elapsed() >= MAX_AGE) {
                self.refresh_in_background();
            }
            return Lookup::Found(key.clone());
        }
        let mut state = self.fetch.lock().await;
        // Another request may have fetched while this one waited for the lock.
        if let Some(key) = self.snapshot().keys.get(kid) {
            return Lookup::Found(key.clone());
        }
        if self.due(&state) {
            self.refresh(&mut state).await;
            if let Some(key) = self.snapshot().keys.get(kid) {
                return Lookup::Found(key.clone());
            }
        }
        if state.last_ok { Lookup::Unknown } else { Lookup::Unavailable }
    }

    fn due(&self, state: &FetchState) -> bool {
        state.last_attempt.is_none_or(|at| at.elapsed() >= self.floor)
    }

    fn refresh_in_background(self: &Arc<Self>) {
        let this = self.clone();
        tokio::spawn(async move {
            // Skip if a fetch is already running; it refreshes the set anyway.
            let Ok(mut state) = this.fetch.try_lock() else { return };
            if this.due(&state) {
                this.refresh(&mut state).await;
            }
        });
    }

    /// Fetches and swaps in the set; on failure keeps the old one. Caller holds the fetch lock.
    async fn refresh(&self, state: &mut FetchState) {
        state.last_attempt = Some(Instant::now());
        match self.fetch_keys().await {
            Ok(keys) => {
                metrics::counter!(FETCHES_METRIC, "source" => self.source, "result" => "ok").increment(1);
                tracing::info!(jwks.source = self.source, jwks.keys = keys.len(), "key set fetched");
                let snapshot = Arc::new(Snapshot { keys, fetched_at: Some(Instant::now()) });
                *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
                self.generation.fetch_add(1, Ordering::SeqCst);
                state.last_ok = true;
            }
            Err(err) => {
                metrics::counter!(FETCHES_METRIC, "source" => self.source, "result" => "error").increment(1);
                tracing::warn!(
                    jwks.source = self.source,
                    jwks.url = %self.url,
                    error = %format!("{err:#}"),
                    "key set fetch failed; keeping the cached keys"
                );
                state.last_ok = false;
            }
        }
    }

    async fn fetch_keys(&self) -> anyhow::Result<KeyMap> {
        let response = self.client.get(&self.url).timeout(FETCH_TIMEOUT).send().await.context("requesting the JWKS")?;
        let response = response.error_for_status().context("the JWKS endpoint answered an error")?;
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk.context("reading the JWKS")?);
            anyhow::ensure!(body.len() <= MAX_JWKS_BYTES, "the JWKS is larger than {MAX_JWKS_BYTES} bytes");
        }
        parse(&body)
    }
}

/// Parses a JWKS document. Keys that cannot be used safely are skipped (and logged), not fatal:
/// one odd key must not take the others down.
pub fn parse(body: &[u8]) -> anyhow::Result<KeyMap> {
    let document: Value = serde_json::from_slice(body).context("the JWKS is not JSON")?;
    let entries = document.get("keys").and_then(Value::as_array).context("the JWKS has no `keys` array")?;
    let mut keys = KeyMap::new();
    for entry in entries {
        match pin(entry) {
            Ok((kid, key)) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(reason) => {
                let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("<none>");
                tracing::debug!(jwk.kid = kid, reason, "JWKS entry skipped");
            }
        }
    }
    Ok(keys)
}

/// One JWK → its `kid` and its key pinned to the one algorithm its type allows.
fn pin(jwk: &Value) -> Result<(String, PinnedKey), &'static str> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kid = field("kid").filter(|kid| !kid.is_empty()).ok_or("no kid")?;
    if field("use").is_some_and(|u| u != "sig") {
        return Err("not a signing key");
    }
    let declared = field("alg");
    let agree = |algorithm: Algorithm, name: &str| match declared {
        None => Ok(algorithm),
        Some(alg) if alg == name => Ok(algorithm),
        Some(_) => Err("alg does not match the key type"),
    };
    let decoded_len = |name: &str| -> Result<usize, &'static str> {
        let text = field(name).ok_or("a key parameter is missing")?;
        URL_SAFE_NO_PAD.decode(text).map(|bytes| bytes.len()).map_err(|_| "a key parameter is not base64url")
    };
    let pinned = match field("kty") {
        Some("OKP") => {
            if field("crv") != Some("Ed25519") {
                return Err("unsupported OKP curve");
            }
            // jsonwebtoken slices the first 32 bytes without checking: a short `x` must not reach it.
            if decoded_len("x")? != 32 {
                return Err("an Ed25519 key is 32 bytes");
            }
            let key = DecodingKey::from_ed_components(field("x").unwrap_or_default()).map_err(|_| "bad x")?;
            PinnedKey { algorithm: agree(Algorithm::EdDSA, "EdDSA")?, key }
        }
        Some("EC") => {
            let (algorithm, name, size) = match field("crv") {
                Some("P-256") => (Algorithm::ES256, "ES256", 32),
                Some("P-384") => (Algorithm::ES384, "ES384", 48),
                _ => return Err("unsupported EC curve"),
            };
            if decoded_len("x")? != size || decoded_len("y")? != size {
                return Err("EC coordinates have the wrong size");
            }
            let key = DecodingKey::from_ec_components(field("x").unwrap_or_default(), field("y").unwrap_or_default())
                .map_err(|_| "bad EC coordinates")?;
            PinnedKey { algorithm: agree(algorithm, name)?, key }
        }
        Some("RSA") => {
            let algorithm = match declared.unwrap_or("RS256") {
                "RS256" => Algorithm::RS256,
                "RS384" => Algorithm::RS384,
                "RS512" => Algorithm::RS512,
                "PS256" => Algorithm::PS256,
                "PS384" => Algorithm::PS384,
                "PS512" => Algorithm::PS512,
                _ => return Err("alg does not match the key type"),
            };
            if decoded_len("n")? < MIN_RSA_MODULUS_BYTES {
                return Err("RSA keys must be at least 2048 bits");
            }
            decoded_len("e")?;
            let key = DecodingKey::from_rsa_components(field("n").unwrap_or_default(), field("e").unwrap_or_default())
                .map_err(|_| "bad RSA components")?;
            PinnedKey { algorithm, key }
        }
        // `oct` above all: a shared secret has no business in a public key set.
        _ => return Err("unsupported key type"),
    };
    Ok((kid.to_owned(), pinned))
}

/// Registers the HELP line of the fetch counter.
pub fn describe() {
    metrics::describe_counter!(FETCHES_METRIC, "JWKS fetches by the gateway, by key set (shop, oidc) and result");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    // RFC 7517 Appendix A.1.
    const EC_X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const EC_Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
    const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn each_key_type_is_pinned_to_its_algorithm() {
        let body = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "ed", "alg": "EdDSA", "use": "sig"},
            {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "ec"},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": "rsa"},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": "pss", "alg": "PS256"},
        ]});
        let keys = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys["ed"].algorithm, Algorithm::EdDSA);
        assert_eq!(keys["ec"].algorithm, Algorithm::ES256);
        assert_eq!(keys["rsa"].algorithm, Algorithm::RS256);
        assert_eq!(keys["pss"].algorithm, Algorithm::PS256);
    }

    #[test]
    fn unusable_keys_are_skipped_without_losing_the_others() {
        let body = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "alg": "EdDSA"},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"},
            {"kty": "OKP", "crv": "Ed448", "x": ED_X, "kid": "ed448"},
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "lying", "alg": "HS256"},
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "enc", "use": "enc"},
            {"kty": "EC", "crv": "P-256", "x": EC_X, "y": EC_Y, "kid": "ec-as-rsa", "alg": "RS256"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny-rsa"},
            {"kty": "RSA", "n": RSA_N, "e": "AQAB", "kid": "rsa-as-hs", "alg": "HS256"},
            "not an object",
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "good"},
        ]});
        let keys = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["good"]);
    }

    #[test]
    fn a_document_that_is_not_a_key_set_is_an_error() {
        for body in [&b"<html>"[..], b"{}", b"{\"keys\": 7}", b""] {
            assert!(parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert!(parse(b"{\"keys\": []}").unwrap().is_empty());
    }
}
