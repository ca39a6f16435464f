//! The gateway's typed settings, read once at start (ARCHITECTURE.md §2). A malformed value stops
//! the start with a [`SettingsError`] naming the variable.

use crate::auth::AuthSettings;
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
}

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
            max_body_bytes: env.parse_or("MAX_BODY_BYTES", 1024 * 1024)?,
            redis: RedisSettings::from_env(env)?,
            shutdown_grace: env.millis_or("SHUTDOWN_GRACE_MS", Duration::from_secs(20))?,
            frontend_dir: env.get("FRONTEND_DIR").map(PathBuf::from),
        };
        // A zero timeout would fail every request; say so at start rather than at the first call.
        for (name, value) in [
            ("UPSTREAM_TIMEOUT_MS", settings.upstream_timeout),
            ("UPSTREAM_CONNECT_TIMEOUT_MS", settings.upstream_connect_timeout),
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
        assert_eq!(settings.max_body_bytes, 1024 * 1024);
        assert_eq!(settings.redis.url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(settings.frontend_dir, None);
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
        ] {
            let err = Settings::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert!(matches!(&err, SettingsError::Invalid { name: n, .. } if n == name), "{name}={value}: {err}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
