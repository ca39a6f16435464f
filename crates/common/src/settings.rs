//! Typed settings read once from environment variables (ARCHITECTURE.md §2).
//!
//! Every binary has one settings struct built from an [`Env`]; a missing or malformed variable is a
//! [`SettingsError`] naming the variable, so a bad deployment stops at start with a clear message.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A source of configuration variables: the process environment, or a map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<HashMap<String, String>>,
}

/// Why the settings could not be read; the message always names the variable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("missing required environment variable {0}")]
    Missing(String),
    #[error("environment variable {name} has an invalid value {value:?}: {reason}")]
    Invalid { name: String, value: String, reason: String },
}

impl Env {
    /// Reads from the process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// Reads only from the given pairs (tests; nothing leaks in from the process).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let map = pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Self { overrides: Some(map) }
    }

    /// The raw value, treating an empty string as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String, SettingsError> {
        self.get(name).ok_or_else(|| SettingsError::Missing(name.to_owned()))
    }

    pub fn string_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// Parses the variable when set, otherwise returns `default`.
    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, SettingsError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => parse_value(name, &raw),
        }
    }

    pub fn parse_required<T>(&self, name: &str) -> Result<T, SettingsError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        parse_value(name, &self.required(name)?)
    }

    /// A duration given in milliseconds (`*_MS` variables).
    pub fn millis_or(&self, name: &str, default: Duration) -> Result<Duration, SettingsError> {
        let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        self.parse_or::<u64>(name, default_ms).map(Duration::from_millis)
    }
}

fn parse_value<T>(name: &str, raw: &str) -> Result<T, SettingsError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    raw.trim().parse::<T>().map_err(|err| SettingsError::Invalid {
        name: name.to_owned(),
        value: raw.to_owned(),
        reason: err.to_string(),
    })
}

/// A secret value that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// PostgreSQL connection settings: `DATABASE_URL`, or the spec's `DB_*` parts.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
}

impl DatabaseSettings {
    pub fn from_env(env: &Env, default_db_name: &str) -> Result<Self, SettingsError> {
        let url = match env.get("DATABASE_URL") {
            Some(url) => url,
            None => {
                let host = env.string_or("DB_HOST", "127.0.0.1");
                let port: u16 = env.parse_or("DB_PORT", 5432)?;
                let user = env.string_or("DB_USER", "appuser");
                let pass = env.string_or("DB_PASS", "apppass");
                let name = env.string_or("DB_NAME", default_db_name);
                format!("postgres://{user}:{pass}@{host}:{port}/{name}")
            }
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(SettingsError::Invalid {
                name: "DATABASE_URL".into(),
                value: "<hidden>".into(),
                reason: "must start with postgres://".into(),
            });
        }
        Ok(Self {
            url: Secret::new(url),
            pool_size: env.parse_or("DB_POOL_SIZE", 10)?,
            connect_timeout: env.millis_or("DB_CONNECT_TIMEOUT_MS", Duration::from_secs(5))?,
            acquire_timeout: env.millis_or("DB_ACQUIRE_TIMEOUT_MS", Duration::from_secs(3))?,
            statement_timeout: env.millis_or("DB_STATEMENT_TIMEOUT_MS", Duration::from_secs(10))?,
        })
    }
}

/// Redis settings: `REDIS_URL`, or `REDIS_HOST` + `REDIS_PORT`.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: Secret,
    pub pool_size: usize,
    pub timeout: Duration,
}

impl RedisSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let url = match env.get("REDIS_URL") {
            Some(url) => url,
            None => {
                let host = env.string_or("REDIS_HOST", "127.0.0.1");
                let port: u16 = env.parse_or("REDIS_PORT", 6379)?;
                format!("redis://{host}:{port}")
            }
        };
        Ok(Self {
            url: Secret::new(url),
            pool_size: env.parse_or("REDIS_POOL_SIZE", 16)?,
            timeout: env.millis_or("REDIS_TIMEOUT_MS", Duration::from_millis(500))?,
        })
    }
}

/// Broker settings; `TOPIC_PREFIX` isolates tests that share one broker.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    pub bootstrap: String,
    pub topic_prefix: String,
    /// How long a consumer's fetch waits for data. tansu never answers a waiting fetch early, so
    /// this is the per-hop latency floor there (ARCHITECTURE.md §8); keep it small.
    pub fetch_wait: Duration,
    pub partitions: i32,
    pub replication: i32,
    /// `OUTBOX_RELAY_ENABLED` (default true): false leaves events in the outbox, unpublished. Only
    /// for measuring what publishing costs the request path (`make bench`) and for operators who
    /// must stop publishing without stopping the service; the backlog is sent once it is back on.
    pub outbox_relay_enabled: bool,
    /// `KAFKA_GROUP_INSTANCE_ID`: static group membership (KIP-345) for this instance's consumers,
    /// e.g. the pod name. A restarted instance with the same id takes its partitions back at once
    /// instead of waiting for the broker to notice the crashed member. Must differ per replica.
    pub group_instance_id: Option<String>,
}

impl KafkaSettings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            bootstrap: env.string_or("KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
            topic_prefix: env.string_or("TOPIC_PREFIX", ""),
            fetch_wait: env.millis_or("KAFKA_FETCH_WAIT_MS", Duration::from_millis(10))?,
            partitions: env.parse_or("KAFKA_PARTITIONS", 3)?,
            replication: env.parse_or("KAFKA_REPLICATION", 1)?,
            outbox_relay_enabled: env.parse_or("OUTBOX_RELAY_ENABLED", true)?,
            group_instance_id: env.get("KAFKA_GROUP_INSTANCE_ID").filter(|id| !id.is_empty()),
        })
    }

    /// The topic's real name, with the test prefix in front.
    pub fn topic(&self, name: &str) -> String {
        format!("{}{}", self.topic_prefix, name)
    }
}

/// What every service binary needs, whatever its business.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// `SERVICE_ID`: names this instance in logs, metrics and the Kafka client id.
    pub service_id: String,
    pub host: String,
    pub port: u16,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub kafka: KafkaSettings,
    /// `SECRET_KEY` (spec name), used by services that sign or verify HS256 tokens.
    pub secret_key: Option<Secret>,
    pub shutdown_grace: Duration,
    /// `HTTP_WORKERS`: actix worker threads (each a single-threaded runtime).
    pub http_workers: usize,
}

impl ServiceSettings {
    /// Reads the common part; `name` is the service's own name and default database suffix.
    pub fn from_env(env: &Env, name: &str, default_port: u16, default_db: &str) -> Result<Self, SettingsError> {
        Ok(Self {
            service_id: env.string_or("SERVICE_ID", name),
            host: env.string_or("HOST", "127.0.0.1"),
            port: env.parse_or("PORT", default_port)?,
            database: DatabaseSettings::from_env(env, default_db)?,
            redis: RedisSettings::from_env(env)?,
            kafka: KafkaSettings::from_env(env)?,
            secret_key: env.get("SECRET_KEY").map(Secret::new),
            shutdown_grace: env.millis_or("SHUTDOWN_GRACE_MS", Duration::from_secs(20))?,
            http_workers: env.parse_or("HTTP_WORKERS", 2)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec() {
        let settings = ServiceSettings::from_env(&Env::from_pairs([]), "catalog", 5102, "shop_catalog").unwrap();
        assert_eq!(settings.port, 5102);
        assert_eq!(settings.database.url.expose(), "postgres://appuser:apppass@127.0.0.1:5432/shop_catalog");
        assert_eq!(settings.redis.url.expose(), "redis://127.0.0.1:6379");
        assert_eq!(settings.kafka.bootstrap, "127.0.0.1:9092");
        assert_eq!(settings.kafka.topic("order_events"), "order_events");
    }

    #[test]
    fn spec_variables_build_the_urls() {
        let env = Env::from_pairs([
            ("DB_HOST", "db"),
            ("DB_PORT", "6543"),
            ("DB_USER", "u"),
            ("DB_PASS", "p"),
            ("DB_NAME", "n"),
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "7000"),
            ("TOPIC_PREFIX", "t1_"),
        ]);
        let settings = ServiceSettings::from_env(&env, "cart", 5103, "shop_cart").unwrap();
        assert_eq!(settings.database.url.expose(), "postgres://u:p@db:6543/n");
        assert_eq!(settings.redis.url.expose(), "redis://cache:7000");
        assert_eq!(settings.kafka.topic("cart_events"), "t1_cart_events");
    }

    #[test]
    fn malformed_variable_is_named_in_the_error() {
        let env = Env::from_pairs([("PORT", "eighty")]);
        let err = ServiceSettings::from_env(&env, "cart", 5103, "shop_cart").unwrap_err();
        assert!(matches!(&err, SettingsError::Invalid { name, .. } if name == "PORT"));
        assert!(err.to_string().contains("PORT"), "{err}");

        let env = Env::from_pairs([("DB_POOL_SIZE", "-1")]);
        let err = ServiceSettings::from_env(&env, "cart", 5103, "shop_cart").unwrap_err();
        assert!(err.to_string().contains("DB_POOL_SIZE"), "{err}");
    }

    #[test]
    fn missing_required_variable_is_named_in_the_error() {
        let err = Env::from_pairs([]).required("STRIPE_API_KEY").unwrap_err();
        assert_eq!(err, SettingsError::Missing("STRIPE_API_KEY".into()));
        assert!(err.to_string().contains("STRIPE_API_KEY"));
    }

    #[test]
    fn non_postgres_database_url_is_rejected() {
        let env = Env::from_pairs([("DATABASE_URL", "mysql://x")]);
        let err = DatabaseSettings::from_env(&env, "x").unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
