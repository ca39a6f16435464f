//! The gateway's typed settings, read once at start (ARCHITECTURE.md §2). A malformed value stops
//! the start with a [`SettingsError`] naming the variable.

use crate::auth::AuthSettings;
use crate::ratelimit::{RateLimitSettings, TrustedNetwork};
use crate::upstream::Upstreams;
use shop_common::settings::{Env, RedisSettings, SettingsError};
use std::path::PathBuf;
use std::time::Duration;

/// Everything the gateway reads from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HOST`, `PORT`: where the gateway listens.
    pub host: String,
    pub port: u16,
    /// `HTTP_WORKERS`: actix worker threads.
    pub http_workers: usize,
    /// `<NAME>_SERVICE_URL` for each service.
    pub upstreams: Upstreams,
    /// `UPSTREAM_TIMEOUT_MS`: the whole upstream exchange, response body included.
    pub upstream_timeout: Duration,
    /// `UPSTREAM_CONNECT_TIMEOUT_MS`: kept short, a service that does not accept is down.
    pub upstream_connect_timeout: Duration,
    /// `MAX_BODY_BYTES`: the largest request body the gateway forwards.
    pub max_body_bytes: u64,
    /// Redis: the token deny-list (and a health dependency).
    pub redis: RedisSettings,
    /// Token verification: issuer, audience, leeway, `SECRET_KEY`, JWKS, the OIDC issuer.
    pub auth: AuthSettings,
    /// `SHUTDOWN_GRACE_MS`: how long in-flight requests may finish on SIGTERM.
    pub shutdown_grace: Duration,
    /// `FRONTEND_DIR`: the built web UI, served under `/app/` when set (`make run`; see
    /// [`crate::frontend`]). Unset, the gateway serves no files.
    pub frontend_dir: Option<PathBuf>,
    /// `RATE_LIMIT_PER_MINUTE` (0: off), `RATE_LIMIT_SYNC_MS`, `RATE_LIMIT_KEY_PREFIX`,
    /// `RATE_LIMIT_MAX_CLIENTS`: per-client request limits ([`crate::ratelimit`]).
    pub rate_limit: RateLimitSettings,
    /// `TRUSTED_PROXIES`: comma-separated addresses or networks (CIDR) of reverse proxies in front
    /// of the gateway (nginx in compose, an ingress); their `X-Forwarded-For` names the client.
    /// Empty: the peer is the client, and a client-sent `X-Forwarded-For` counts for nothing.
    pub trusted_proxies: Vec<TrustedNetwork>,
}

/// 100 requests a second sustained per user or address: far above what a person clicking through
/// the shop sends, low enough that one client cannot occupy the platform.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u64 = 6_000;

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let upstreams = Upstreams::from_env(env)?;
        let settings = Self {
            auth: AuthSettings::from_env(env, &upstreams)?,
            host: env.string_or("HOST", "127.0.0.1"),
            port: env.parse_or("PORT", 5001)?,
            http_workers: env.parse_or("HTTP_WORKERS", 2)?,
            upstreams,
            upstream_timeout: env.millis_or("UPSTREAM_TIMEOUT_MS", Duration::from_secs(10))?,
            upstream_connect_timeout: env.millis_or("UPSTREAM_CONNECT_TIMEOUT_MS", Duration::from_secs(1))?,
            // The services' own JSON limit (shop_common::http::extract): a bigger body is refused
            // here, before it costs an upstream connection.
            max_body_bytes: env.parse_or("MAX_BODY_BYTES", shop_common::http::extract::DEFAULT_JSON_LIMIT as u64)?,
            redis: RedisSettings::from_env(env)?,
            shutdown_grace: env.millis_or("SHUTDOWN_GRACE_MS", Duration::from_secs(20))?,
            frontend_dir: env.get("FRONTEND_DIR").map(PathBuf::from),
            rate_limit: RateLimitSettings {
                per_minute: Some(env.parse_or("RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_LIMIT_PER_MINUTE)?)
                    .filter(|limit| *limit > 0),
                sync_interval: env.millis_or("RATE_LIMIT_SYNC_MS", Duration::from_millis(100))?,
                key_prefix: env.string_or("RATE_LIMIT_KEY_PREFIX", "ratelimit:"),
                max_clients: env.parse_or("RATE_LIMIT_MAX_CLIENTS", 100_000)?,
            },
            trusted_proxies: trusted_proxies(env)?,
        };
        // A zero timeout would fail every request; say so at start rather than at the first call.
        for (name, value) in [
            ("UPSTREAM_TIMEOUT_MS", settings.upstream_timeout),
            ("UPSTREAM_CONNECT_TIMEOUT_MS", settings.upstream_connect_timeout),
            ("RATE_LIMIT_SYNC_MS", settings.rate_limit.sync_interval),
        ] {
            if value.is_zero() {
                return Err(SettingsError::Invalid {
                    name: name.into(),
                    value: "0".into(),
                    reason: "must be greater than zero".into(),
                });
            }
        }
        Ok(settings)
    }
}

fn trusted_proxies(env: &Env) -> Result<Vec<TrustedNetwork>, SettingsError> {
    let Some(list) = env.get("TRUSTED_PROXIES") else { return Ok(Vec::new()) };
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry.parse().map_err(|reason| SettingsError::Invalid {
                name: "TRUSTED_PROXIES".into(),
                value: list.clone(),
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Service;

    #[test]
    fn defaults_follow_the_spec() {
        let settings = Settings::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!((settings.host.as_str(), settings.port, settings.http_workers), ("127.0.0.1", 5001, 2));
        assert_eq!(settings.upstreams.base(Service::Catalog), "http://127.0.0.1:5102");
        assert_eq!(settings.upstream_timeout, Duration::from_secs(10));
        assert_eq!(settings.upstream_connect_timeout, Duration::from_secs(1));
        assert_eq!(settings.max_body_bytes, 256 * 1024);
        assert_eq!(settings.redis.url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(settings.frontend_dir, None);
        assert_eq!(settings.rate_limit.per_minute, Some(DEFAULT_RATE_LIMIT_PER_MINUTE));
        assert_eq!(settings.rate_limit.sync_interval, Duration::from_millis(100));
        assert!(settings.trusted_proxies.is_empty());
    }

    #[test]
    fn rate_limits_can_be_switched_off_and_proxies_trusted() {
        let env = Env::from_pairs([("RATE_LIMIT_PER_MINUTE", "0"), ("TRUSTED_PROXIES", "10.0.0.2, fd00::/8")]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(settings.rate_limit.per_minute, None);
        assert_eq!(settings.trusted_proxies, vec!["10.0.0.2".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        let err = Settings::from_env(&Env::from_pairs([("TRUSTED_PROXIES", "10.0.0.2,nginx")])).unwrap_err();
        assert!(err.to_string().contains("TRUSTED_PROXIES"), "{err}");
    }

    #[test]
    fn variables_override_the_defaults() {
        let env = Env::from_pairs([
            ("PORT", "0"),
            ("HTTP_WORKERS", "4"),
            ("INVENTORY_SERVICE_URL", "http://inventory:5105"),
            ("UPSTREAM_TIMEOUT_MS", "250"),
            ("MAX_BODY_BYTES", "2048"),
            ("REDIS_URL", "redis://cache:7000"),
            ("FRONTEND_DIR", "/srv/shop/frontend"),
        ]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(settings.port, 0);
        assert_eq!(settings.http_workers, 4);
        assert_eq!(settings.upstreams.base(Service::Inventory), "http://inventory:5105");
        assert_eq!(settings.upstream_timeout, Duration::from_millis(250));
        assert_eq!(settings.max_body_bytes, 2048);
        assert_eq!(settings.redis.url.expose(), "redis://cache:7000");
        assert_eq!(settings.frontend_dir, Some(PathBuf::from("/srv/shop/frontend")));
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("HTTP_WORKERS", "-1"),
            ("UPSTREAM_TIMEOUT_MS", "soon"),
            ("UPSTREAM_TIMEOUT_MS", "0"),
            ("UPSTREAM_CONNECT_TIMEOUT_MS", "1.5"),
            ("MAX_BODY_BYTES", "1MiB"),
            ("CART_SERVICE_URL", "cart:5103"),
            ("REDIS_PORT", "x"),
            ("RATE_LIMIT_PER_MINUTE", "lots"),
            ("RATE_LIMIT_SYNC_MS", "0"),
        ] {
            let err = Settings::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert!(matches!(&err, SettingsError::Invalid { name: n, .. } if n == name), "{name}={value}: {err}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
