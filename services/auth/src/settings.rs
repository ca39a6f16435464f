//! What the auth service reads from the environment (docs/auth.md), on top of the common settings.
//!
//! Every value has the contract's default; a malformed or out-of-range one is a [`SettingsError`]
//! naming the variable, so a bad deployment stops at start instead of issuing odd tokens.

use crate::domain::validation;
use shop_common::settings::{Env, Secret, ServiceSettings, SettingsError};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Everything the auth service reads from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    pub tokens: TokenSettings,
    /// `PASSWORD_HASH_CONCURRENCY`: argon2id hashes running at once (each takes ~19 MiB and a core).
    pub password_hash_concurrency: usize,
    pub rate_limits: RateLimitSettings,
    /// `ADMIN_EMAIL` + `ADMIN_PASSWORD` (+ optional `ADMIN_NAME`): the first admin, created once.
    pub admin: Option<AdminAccount>,
}

/// How tokens are issued.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `JWT_ISSUER` (`iss`).
    pub issuer: String,
    /// `JWT_AUDIENCE` (`aud`).
    pub audience: String,
    /// `JWT_ALGORITHM`: EdDSA (default) or HS256 with `SECRET_KEY`.
    pub signing: SigningMode,
    /// `ACCESS_TOKEN_TTL_SECS`, at most 15 minutes.
    pub access_ttl: Duration,
    /// `REFRESH_TOKEN_TTL_SECS`: lifetime of a refresh token and of its Redis session.
    pub refresh_ttl: Duration,
    /// `KEY_ROTATION_DAYS`: age at which the active signing key is replaced.
    pub key_rotation: Duration,
    /// `KEY_CHECK_INTERVAL_SECS`: how often the key store checks for rotation and reloads keys.
    pub key_check_interval: Duration,
}

/// The JWT signing algorithm.
#[derive(Clone)]
pub enum SigningMode {
    /// Ed25519 keys kept in the database, public halves served as JWKS.
    EdDsa,
    /// A shared secret (`SECRET_KEY`, at least 32 bytes); nothing is published.
    Hs256(Secret),
}

impl fmt::Debug for SigningMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningMode::EdDsa => f.write_str("EdDsa"),
            SigningMode::Hs256(_) => f.write_str("Hs256(***)"),
        }
    }
}

/// Sliding-window limits (Redis), per account and per client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `LOGIN_LIMIT_PER_ACCOUNT`: failed logins per normalised email per window.
    pub login_per_account: u32,
    /// `LOGIN_LIMIT_PER_IP`: failed logins per client IP per window.
    pub login_per_ip: u32,
    /// `REGISTER_LIMIT_PER_IP`: registration attempts per client IP per register window.
    pub register_per_ip: u32,
    /// `RATE_LIMIT_WINDOW_SECS`: the login window (default 5 minutes).
    pub login_window: Duration,
    /// `REGISTER_RATE_LIMIT_WINDOW_SECS`: the register window (default 1 hour).
    pub register_window: Duration,
}

/// The bootstrap admin, validated like a registration.
#[derive(Debug, Clone)]
pub struct AdminAccount {
    pub email: String,
    pub password: Secret,
    pub name: String,
}

/// The HS256 secret must be at least this long (RFC 7518 §3.2: key size ≥ hash output).
pub const MIN_SECRET_KEY_BYTES: usize = 32;
/// The contract caps access tokens at 15 minutes.
pub const MAX_ACCESS_TTL_SECS: u64 = 900;

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Self::from_parts(crate::DEFINITION.settings(env)?, env)
    }

    /// The auth-specific variables from `env` on top of already-read common settings (tests build
    /// the common part from `shop_testkit::service_env` and pass their own auth variables).
    pub fn from_parts(service: ServiceSettings, env: &Env) -> Result<Self, SettingsError> {
        let signing = match env.string_or("JWT_ALGORITHM", "EdDSA").trim() {
            "EdDSA" | "eddsa" | "EDDSA" => SigningMode::EdDsa,
            "HS256" | "hs256" => SigningMode::Hs256(hs256_secret(service.secret_key.as_ref())?),
            other => {
                return Err(invalid("JWT_ALGORITHM", other, "must be EdDSA or HS256"));
            }
        };
        let access_ttl_secs = ranged(env, "ACCESS_TOKEN_TTL_SECS", 900, 1, MAX_ACCESS_TTL_SECS)?;
        let refresh_ttl_secs = ranged(env, "REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600, 60, 365 * 24 * 3600)?;
        if refresh_ttl_secs <= access_ttl_secs {
            return Err(invalid(
                "REFRESH_TOKEN_TTL_SECS",
                &refresh_ttl_secs.to_string(),
                "must be longer than ACCESS_TOKEN_TTL_SECS",
            ));
        }
        let tokens = TokenSettings {
            issuer: env.string_or("JWT_ISSUER", "shop-auth"),
            audience: env.string_or("JWT_AUDIENCE", "shop"),
            signing,
            access_ttl: Duration::from_secs(access_ttl_secs),
            refresh_ttl: Duration::from_secs(refresh_ttl_secs),
            key_rotation: Duration::from_secs(ranged(env, "KEY_ROTATION_DAYS", 30, 1, 3650)? * 24 * 3600),
            key_check_interval: Duration::from_secs(ranged(env, "KEY_CHECK_INTERVAL_SECS", 3600, 1, 24 * 3600)?),
        };
        let rate_limits = RateLimitSettings {
            login_per_account: ranged(env, "LOGIN_LIMIT_PER_ACCOUNT", 10, 1, 1_000_000)?,
            login_per_ip: ranged(env, "LOGIN_LIMIT_PER_IP", 30, 1, 1_000_000)?,
            register_per_ip: ranged(env, "REGISTER_LIMIT_PER_IP", 10, 1, 1_000_000)?,
            login_window: Duration::from_secs(ranged(env, "RATE_LIMIT_WINDOW_SECS", 300, 1, 7 * 24 * 3600)?),
            register_window: Duration::from_secs(ranged(
                env,
                "REGISTER_RATE_LIMIT_WINDOW_SECS",
                3600,
                1,
                7 * 24 * 3600,
            )?),
        };
        Ok(Self {
            service,
            tokens,
            password_hash_concurrency: ranged(env, "PASSWORD_HASH_CONCURRENCY", 2, 1, 64)?,
            rate_limits,
            admin: admin_account(env)?,
        })
    }
}

fn invalid(name: &str, value: &str, reason: &str) -> SettingsError {
    SettingsError::Invalid { name: name.to_owned(), value: value.to_owned(), reason: reason.to_owned() }
}

/// Parses `name` (default when unset) and checks it lies in `min..=max`.
fn ranged<T>(env: &Env, name: &str, default: T, min: T, max: T) -> Result<T, SettingsError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
    T::Err: fmt::Display,
{
    let value = env.parse_or(name, default)?;
    if value < min || value > max {
        return Err(invalid(name, &value.to_string(), &format!("must be between {min} and {max}")));
    }
    Ok(value)
}

fn hs256_secret(secret: Option<&Secret>) -> Result<Secret, SettingsError> {
    let reason = format!("JWT_ALGORITHM=HS256 needs SECRET_KEY of at least {MIN_SECRET_KEY_BYTES} bytes");
    match secret {
        None => Err(invalid("SECRET_KEY", "<unset>", &reason)),
        // The value is a secret: the error never echoes it.
        Some(secret) if secret.expose().len() < MIN_SECRET_KEY_BYTES => Err(invalid("SECRET_KEY", "<hidden>", &reason)),
        Some(secret) => Ok(secret.clone()),
    }
}

fn admin_account(env: &Env) -> Result<Option<AdminAccount>, SettingsError> {
    match (env.get("ADMIN_EMAIL"), env.get("ADMIN_PASSWORD")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(SettingsError::Missing("ADMIN_PASSWORD".into())),
        (None, Some(_)) => Err(SettingsError::Missing("ADMIN_EMAIL".into())),
        (Some(email), Some(password)) => {
            let email = validation::validate_email(&email).map_err(|reason| invalid("ADMIN_EMAIL", &email, reason))?;
            validation::validate_password(&password).map_err(|reason| invalid("ADMIN_PASSWORD", "<hidden>", reason))?;
            let name = env.string_or("ADMIN_NAME", "Administrator");
            let name = validation::validate_name(&name).map_err(|reason| invalid("ADMIN_NAME", &name, reason))?;
            Ok(Some(AdminAccount { email: email.into_string(), password: Secret::new(password), name }))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_follow_the_contract() {
        let settings = settings(&[]).unwrap();
        assert_eq!(settings.service.port, 5101);
        assert_eq!(settings.tokens.issuer, "shop-auth");
        assert_eq!(settings.tokens.audience, "shop");
        assert!(matches!(settings.tokens.signing, SigningMode::EdDsa));
        assert_eq!(settings.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(settings.tokens.refresh_ttl, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(settings.tokens.key_rotation, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(settings.password_hash_concurrency, 2);
        assert_eq!(
            settings.rate_limits,
            RateLimitSettings {
                login_per_account: 10,
                login_per_ip: 30,
                register_per_ip: 10,
                login_window: Duration::from_secs(300),
                register_window: Duration::from_secs(3600),
            }
        );
        assert!(settings.admin.is_none());
    }

    #[test]
    fn access_ttl_above_fifteen_minutes_is_named() {
        let err = settings(&[("ACCESS_TOKEN_TTL_SECS", "901")]).unwrap_err();
        assert!(matches!(&err, SettingsError::Invalid { name, .. } if name == "ACCESS_TOKEN_TTL_SECS"), "{err}");
        let err = settings(&[("LOGIN_LIMIT_PER_IP", "many")]).unwrap_err();
        assert!(err.to_string().contains("LOGIN_LIMIT_PER_IP"), "{err}");
    }

    #[test]
    fn hs256_requires_a_long_secret_key_and_never_prints_it() {
        let err = settings(&[("JWT_ALGORITHM", "HS256")]).unwrap_err();
        assert!(matches!(&err, SettingsError::Invalid { name, .. } if name == "SECRET_KEY"), "{err}");

        let err = settings(&[("JWT_ALGORITHM", "HS256"), ("SECRET_KEY", "short-secret")]).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY"), "{err}");
        assert!(!err.to_string().contains("short-secret"), "{err}");

        let long = "k".repeat(32);
        let ok = settings(&[("JWT_ALGORITHM", "HS256"), ("SECRET_KEY", &long)]).unwrap();
        assert!(matches!(ok.tokens.signing, SigningMode::Hs256(_)));
        assert!(!format!("{ok:?}").contains(&long));
    }

    #[test]
    fn unknown_algorithm_is_rejected() {
        let err = settings(&[("JWT_ALGORITHM", "none")]).unwrap_err();
        assert!(err.to_string().contains("JWT_ALGORITHM"), "{err}");
    }

    #[test]
    fn admin_needs_both_variables_and_valid_values() {
        let err = settings(&[("ADMIN_EMAIL", "root@example.com")]).unwrap_err();
        assert_eq!(err, SettingsError::Missing("ADMIN_PASSWORD".into()));
        let err = settings(&[("ADMIN_EMAIL", "not-an-email"), ("ADMIN_PASSWORD", "long enough")]).unwrap_err();
        assert!(err.to_string().contains("ADMIN_EMAIL"), "{err}");
        let err = settings(&[("ADMIN_EMAIL", "root@example.com"), ("ADMIN_PASSWORD", "short")]).unwrap_err();
        assert!(err.to_string().contains("ADMIN_PASSWORD"), "{err}");
        assert!(!err.to_string().contains("short\""), "{err}");

        let ok = settings(&[("ADMIN_EMAIL", " Root@Example.COM "), ("ADMIN_PASSWORD", "correct horse")]).unwrap();
        let admin = ok.admin.unwrap();
        assert_eq!(admin.email, "root@example.com");
        assert_eq!(admin.name, "Administrator");
    }

    #[test]
    fn refresh_must_outlive_access_tokens() {
        let err = settings(&[("ACCESS_TOKEN_TTL_SECS", "600"), ("REFRESH_TOKEN_TTL_SECS", "300")]).unwrap_err();
        assert!(err.to_string().contains("REFRESH_TOKEN_TTL_SECS"), "{err}");
    }
}
