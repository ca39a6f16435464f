//! What the gateway needs to verify tokens (docs/auth.md "The gateway"), read with the other
//! settings at start. Every error names the variable; secrets are never echoed.

use crate::upstream::{Service, Upstreams};
use shop_common::settings::{Env, Secret, SettingsError};
use std::time::Duration;

/// Where the auth service publishes its keys, below `AUTH_SERVICE_URL`.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The HS256 secret must be at least this long, as the auth service requires (RFC 7518 §3.2).
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// Token verification settings.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `JWT_ISSUER`: the `iss` of shop's own tokens.
    pub issuer: String,
    /// `JWT_AUDIENCE`: the `aud` they must carry.
    pub audience: String,
    /// `JWT_LEEWAY_SECS`: clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// `SECRET_KEY`: when set, HS256 tokens of shop's issuer are accepted, verified with it.
    pub secret_key: Option<Secret>,
    /// `{AUTH_SERVICE_URL}/.well-known/jwks.json`.
    pub jwks_url: String,
    /// `JWKS_REFRESH_FLOOR_MS`: the least time between two fetches of one key set.
    pub jwks_refresh_floor: Duration,
    /// The optional second issuer (Keycloak).
    pub oidc: Option<OidcSettings>,
    /// `DENYLIST_REPLICA_CAPACITY`: the most deny-list entries kept in memory (0: no replica, every
    /// check asks Redis). See [`crate::auth::replica`].
    pub denylist_replica_capacity: Option<usize>,
}

/// Entries of ~100 bytes: 500,000 (some 50 MiB at worst) covers 500 logouts per second sustained
/// over a 15-minute token lifetime.
pub const DEFAULT_DENYLIST_REPLICA_CAPACITY: usize = 500_000;

/// `OIDC_ISSUER` + `OIDC_JWKS_URL` (+ `OIDC_AUDIENCE`): tokens of a second issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    pub issuer: String,
    pub jwks_url: String,
    /// Checked only when set: Keycloak puts the client in `azp` and often only `account` in `aud`.
    pub audience: Option<String>,
}

impl AuthSettings {
    pub fn from_env(env: &Env, upstreams: &Upstreams) -> Result<Self, SettingsError> {
        let leeway_secs: u64 = env.parse_or("JWT_LEEWAY_SECS", 30)?;
        if leeway_secs > 300 {
            // A leeway of minutes would keep expired (and logged-out, once the deny-list entry
            // lapses 60 s after exp) tokens alive; docs/auth.md sizes the deny-list TTL for 30 s.
            return Err(invalid("JWT_LEEWAY_SECS", &leeway_secs.to_string(), "must be at most 300"));
        }
        let secret_key = env.get("SECRET_KEY").map(Secret::new);
        if let Some(secret) = &secret_key
            && secret.expose().len() < MIN_SECRET_KEY_BYTES
        {
            return Err(invalid(
                "SECRET_KEY",
                "<hidden>",
                &format!("must be at least {MIN_SECRET_KEY_BYTES} bytes (it verifies HS256 tokens)"),
            ));
        }
        let jwks_refresh_floor = env.millis_or("JWKS_REFRESH_FLOOR_MS", Duration::from_secs(5))?;
        if jwks_refresh_floor.is_zero() {
            // Zero would let a stream of made-up key ids turn into a stream of JWKS fetches.
            return Err(invalid("JWKS_REFRESH_FLOOR_MS", "0", "must be greater than zero"));
        }
        Ok(Self {
            issuer: env.string_or("JWT_ISSUER", "shop-auth"),
            audience: env.string_or("JWT_AUDIENCE", "shop"),
            leeway: Duration::from_secs(leeway_secs),
            secret_key,
            jwks_url: format!("{}{JWKS_PATH}", upstreams.base(Service::Auth)),
            jwks_refresh_floor,
            oidc: OidcSettings::from_env(env)?,
            denylist_replica_capacity: Some(
                env.parse_or("DENYLIST_REPLICA_CAPACITY", DEFAULT_DENYLIST_REPLICA_CAPACITY)?,
            )
            .filter(|capacity| *capacity > 0),
        })
    }
}

impl OidcSettings {
    /// Both variables or neither; one without the other is an error naming the missing one.
    fn from_env(env: &Env) -> Result<Option<Self>, SettingsError> {
        let (issuer, jwks_url) = match (env.get("OIDC_ISSUER"), env.get("OIDC_JWKS_URL")) {
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(missing_pair("OIDC_JWKS_URL", "OIDC_ISSUER")),
            (None, Some(_)) => return Err(missing_pair("OIDC_ISSUER", "OIDC_JWKS_URL")),
            (Some(issuer), Some(url)) => (issuer.trim().to_owned(), url.trim().to_owned()),
        };
        match reqwest::Url::parse(&jwks_url) {
            Ok(url) if url.scheme() == "http" && url.host_str().is_some() => {}
            // The gateway's HTTP client is built without TLS (it only talks to the private
            // network); an https URL would fail at every fetch, so refuse it at start.
            Ok(url) if url.scheme() == "https" => {
                return Err(invalid(
                    "OIDC_JWKS_URL",
                    &jwks_url,
                    "must be an http:// URL on the private network (the gateway's client has no TLS)",
                ));
            }
            Ok(_) => return Err(invalid("OIDC_JWKS_URL", &jwks_url, "must be an http:// URL with a host")),
            Err(err) => return Err(invalid("OIDC_JWKS_URL", &jwks_url, &err.to_string())),
        }
        Ok(Some(Self { issuer, jwks_url, audience: env.get("OIDC_AUDIENCE").map(|a| a.trim().to_owned()) }))
    }
}

fn missing_pair(missing: &str, given: &str) -> SettingsError {
    SettingsError::Invalid {
        name: missing.to_owned(),
        value: "<unset>".to_owned(),
        reason: format!("{missing} is required when {given} is set (a second token issuer needs both)"),
    }
}

fn invalid(name: &str, value: &str, reason: &str) -> SettingsError {
    SettingsError::Invalid { name: name.to_owned(), value: value.to_owned(), reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<AuthSettings, SettingsError> {
        let env = Env::from_pairs(pairs.iter().copied());
        AuthSettings::from_env(&env, &Upstreams::from_env(&env).unwrap())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let settings = read(&[]).unwrap();
        assert_eq!((settings.issuer.as_str(), settings.audience.as_str()), ("shop-auth", "shop"));
        assert_eq!(settings.leeway, Duration::from_secs(30));
        assert_eq!(settings.jwks_url, "http://127.0.0.1:5101/.well-known/jwks.json");
        assert_eq!(settings.jwks_refresh_floor, Duration::from_secs(5));
        assert!(settings.secret_key.is_none() && settings.oidc.is_none());
        assert_eq!(settings.denylist_replica_capacity, Some(DEFAULT_DENYLIST_REPLICA_CAPACITY));
    }

    #[test]
    fn a_zero_replica_capacity_turns_the_replica_off() {
        assert_eq!(read(&[("DENYLIST_REPLICA_CAPACITY", "0")]).unwrap().denylist_replica_capacity, None);
        assert_eq!(read(&[("DENYLIST_REPLICA_CAPACITY", "10")]).unwrap().denylist_replica_capacity, Some(10));
        assert!(read(&[("DENYLIST_REPLICA_CAPACITY", "-1")]).is_err());
    }

    #[test]
    fn variables_override_the_defaults() {
        let secret = "s".repeat(32);
        let settings = read(&[
            ("JWT_ISSUER", "https://shop.example"),
            ("JWT_AUDIENCE", "api"),
            ("JWT_LEEWAY_SECS", "5"),
            ("SECRET_KEY", &secret),
            ("AUTH_SERVICE_URL", "http://auth:5101/"),
            ("JWKS_REFRESH_FLOOR_MS", "250"),
            ("OIDC_ISSUER", "http://keycloak:8080/realms/shop"),
            ("OIDC_JWKS_URL", "http://keycloak:8080/realms/shop/protocol/openid-connect/certs"),
            ("OIDC_AUDIENCE", "shop-api"),
        ])
        .unwrap();
        assert_eq!((settings.issuer.as_str(), settings.audience.as_str()), ("https://shop.example", "api"));
        assert_eq!(settings.leeway, Duration::from_secs(5));
        assert_eq!(settings.secret_key.unwrap().expose(), secret);
        assert_eq!(settings.jwks_url, "http://auth:5101/.well-known/jwks.json");
        assert_eq!(settings.jwks_refresh_floor, Duration::from_millis(250));
        let oidc = settings.oidc.unwrap();
        assert_eq!(oidc.issuer, "http://keycloak:8080/realms/shop");
        assert_eq!(oidc.audience.as_deref(), Some("shop-api"));
    }

    #[test]
    fn one_oidc_variable_without_the_other_names_the_missing_one() {
        let err = read(&[("OIDC_ISSUER", "http://kc/realms/shop")]).unwrap_err();
        assert!(matches!(&err, SettingsError::Invalid { name, .. } if name == "OIDC_JWKS_URL"), "{err}");
        let err = read(&[("OIDC_JWKS_URL", "http://kc/certs")]).unwrap_err();
        assert!(matches!(&err, SettingsError::Invalid { name, .. } if name == "OIDC_ISSUER"), "{err}");
        assert!(err.to_string().contains("OIDC_ISSUER"), "{err}");
    }

    #[test]
    fn malformed_values_name_the_variable_and_hide_secrets() {
        for (name, value) in [
            ("JWT_LEEWAY_SECS", "-1"),
            ("JWT_LEEWAY_SECS", "3600"),
            ("JWKS_REFRESH_FLOOR_MS", "0"),
            ("JWKS_REFRESH_FLOOR_MS", "soon"),
            ("SECRET_KEY", "too-short-secret"),
        ] {
            let err = read(&[(name, value)]).unwrap_err();
            assert!(matches!(&err, SettingsError::Invalid { name: n, .. } if n == name), "{name}={value}: {err}");
        }
        let err = read(&[("SECRET_KEY", "too-short-secret")]).unwrap_err();
        assert!(!err.to_string().contains("too-short-secret"), "{err}");
        for url in ["keycloak/certs", "https://kc/certs", "ftp://kc/certs"] {
            let err = read(&[("OIDC_ISSUER", "http://kc/realms/shop"), ("OIDC_JWKS_URL", url)]).unwrap_err();
            assert!(matches!(&err, SettingsError::Invalid { name, .. } if name == "OIDC_JWKS_URL"), "{url}: {err}");
        }
    }
}
