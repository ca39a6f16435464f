//! Pool usage gauges, refreshed at scrape time: `redis_pool_connections{service, state}` beside
//! the database pool's `db_pool_connections` (states `in_use`, `idle`, `max`), so a saturated
//! pool shows up before requests start waiting for one.

use crate::redis::RedisPool;

/// Sets `redis_pool_connections` for `service` from the pool's current status.
pub fn record_redis_pool(service: &str, pool: &RedisPool) {
    let status = pool.status();
    let in_use = status.size.saturating_sub(status.available);
    for (state, value) in [("in_use", in_use), ("idle", status.available), ("max", status.max_size)] {
        metrics::gauge!("redis_pool_connections", "service" => service.to_owned(), "state" => state).set(value as f64);
    }
}
