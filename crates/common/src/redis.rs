//! The Redis pool (cache, sessions, deny-list, rate limits).

use crate::settings::RedisSettings;
use anyhow::Context;
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};

pub use deadpool_redis::redis;
pub type RedisPool = Pool;

/// Builds the pool; connections open lazily, so a Redis outage never blocks start-up.
pub fn build_pool(settings: &RedisSettings) -> anyhow::Result<RedisPool> {
    let mut config = Config::from_url(settings.url.expose());
    config.pool = Some(PoolConfig {
        max_size: settings.pool_size,
        timeouts: Timeouts {
            wait: Some(settings.timeout),
            create: Some(settings.timeout),
            recycle: Some(settings.timeout),
        },
        ..PoolConfig::default()
    });
    config.create_pool(Some(Runtime::Tokio1)).context("building the Redis pool")
}

/// `PING` within the pool's timeouts: the readiness probe.
pub async fn ping(pool: &RedisPool) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    let reply: String = redis::cmd("PING").query_async(&mut conn).await?;
    anyhow::ensure!(reply == "PONG", "unexpected PING reply {reply:?}");
    Ok(())
}
