//! The Redis cache in front of PostgreSQL: products by id, category listings, recently viewed.
//!
//! Rules:
//! - Redis is an optimisation only. Every failure (down, slow, bad data) is logged, counted in
//!   `cache_errors_total` and treated as a miss; requests are then served from PostgreSQL.
//! - No stale product after a write returns: a write stores the new state in the cache after its
//!   commit and before answering (write-through; a delete stores a tombstone). Each cached value
//!   carries the row's `(version, stock_seq)` and a Lua compare-and-set refuses to replace a newer
//!   value with an older one, so a reader that loaded the row before the write cannot put the old
//!   state back afterwards.
//! - Listings are keyed by a generation counter that every product or category write bumps, so a
//!   write makes all cached listings unreachable at once; they expire by TTL.
//! - Keys start with a prefix (`CACHE_KEY_PREFIX`, default `TOPIC_PREFIX`) so parallel test
//!   services sharing one Redis never see each other's entries.

use crate::domain::{Product, ProductId};
use shop_common::redis::redis::aio::MultiplexedConnection;
use shop_common::redis::{RedisPool, redis};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// A product stays cached this long without writes.
pub const PRODUCT_TTL: Duration = Duration::from_secs(300);
/// Listings are cheap to rebuild and invalidated by generation; keep them briefly.
pub const LISTING_TTL: Duration = Duration::from_secs(60);
/// Search pages: one key per query string, so many more keys than listings; shorter still.
pub const SEARCH_TTL: Duration = Duration::from_secs(30);
pub const RECENTLY_VIEWED_MAX: isize = 20;
const RECENTLY_VIEWED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Upper bound for one Redis round trip: past it the request goes to PostgreSQL instead.
const OP_TIMEOUT: Duration = Duration::from_millis(250);

const COMPARE_AND_SET: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur then
  local v, s = string.match(cur, '^(%d+):(%d+)|')
  if v then
    v = tonumber(v); s = tonumber(s)
    local nv = tonumber(ARGV[1]); local ns = tonumber(ARGV[2])
    if v > nv or (v == nv and s >= ns) then return 0 end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return 1
";

/// What the product cache knows about an id.
#[derive(Debug, Clone, PartialEq)]
pub enum CachedProduct {
    /// The product's JSON, exactly as the API serves it, and its version (for the ETag).
    Live {
        json: String,
        version: i64,
    },
    /// Deleted: answer 404 without asking PostgreSQL.
    Deleted,
    Miss,
}

#[derive(Clone)]
pub struct Cache {
    pool: RedisPool,
    /// One multiplexed connection shared by every operation (it pipelines concurrent commands).
    /// Checking a connection out of the pool for each operation would cost an extra round trip:
    /// deadpool-redis sends `UNWATCH` + `PING` whenever it hands out a pooled connection, which
    /// doubled the Redis time of a cache hit. Dropped after any failure, so the next operation
    /// gets a fresh (checked) one from the pool.
    shared: Arc<Mutex<Option<MultiplexedConnection>>>,
    prefix: String,
    service: String,
}

impl Cache {
    pub fn new(pool: RedisPool, prefix: &str, service: &str) -> Self {
        Self {
            pool,
            shared: Arc::new(Mutex::new(None)),
            prefix: format!("{prefix}catalog:"),
            service: service.to_owned(),
        }
    }

    fn shared(&self) -> Option<MultiplexedConnection> {
        self.shared.lock().ok().and_then(|shared| shared.clone())
    }

    fn set_shared(&self, conn: Option<MultiplexedConnection>) {
        if let Ok(mut shared) = self.shared.lock() {
            *shared = conn;
        }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        if let Some(conn) = self.shared() {
            return Ok(conn);
        }
        let pooled = self.pool.get().await.map_err(|err| err.to_string())?;
        let conn = (*pooled).clone();
        self.set_shared(Some(conn.clone()));
        Ok(conn)
    }

    fn product_key(&self, id: ProductId) -> String {
        format!("{}product:{id}", self.prefix)
    }

    fn generation_key(&self) -> String {
        format!("{}generation", self.prefix)
    }

    fn recent_key(&self, user: Uuid) -> String {
        format!("{}recent:{user}", self.prefix)
    }

    /// Runs one Redis operation bounded by [`OP_TIMEOUT`]; failures are logged and counted.
    async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> Option<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let attempt = async {
            let conn = self.connection().await?;
            f(conn).await.map_err(|err| err.to_string())
        };
        let error = match tokio::time::timeout(OP_TIMEOUT, attempt).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(err)) => err,
            Err(_) => format!("no answer within {} ms", OP_TIMEOUT.as_millis()),
        };
        // Whatever went wrong, do not reuse the connection: the next operation gets a checked one.
        self.set_shared(None);
        tracing::warn!(cache.op = op, error = %error, "redis unavailable; serving from PostgreSQL");
        metrics::counter!("cache_errors_total", "service" => self.service.clone(), "op" => op).increment(1);
        None
    }

    fn count(&self, cache: &'static str, result: &'static str) {
        metrics::counter!("cache_requests_total", "service" => self.service.clone(), "cache" => cache, "result" => result)
            .increment(1);
    }

    // ---- products by id ----

    pub async fn get_product(&self, id: ProductId) -> CachedProduct {
        let key = self.product_key(id);
        let value: Option<Option<String>> = self
            .run("get_product", |mut conn| async move { redis::cmd("GET").arg(&key).query_async(&mut conn).await })
            .await;
        let parsed = value.flatten().and_then(parse_product_value);
        self.count("product", if parsed.is_some() { "hit" } else { "miss" });
        parsed.unwrap_or(CachedProduct::Miss)
    }

    /// Stores `product` unless the cache holds a newer state already.
    pub async fn put_product(&self, product: &Product, stock_seq: i64) {
        let Ok(json) = serde_json::to_string(product) else { return };
        self.compare_and_set(product.id, product.version, stock_seq, format!("{}:{stock_seq}|{json}", product.version))
            .await;
    }

    /// Stores a tombstone for a deleted product (version = the delete's version).
    pub async fn put_deleted(&self, id: ProductId, version: i64, stock_seq: i64) {
        self.compare_and_set(id, version, stock_seq, format!("{version}:{stock_seq}|")).await;
    }

    async fn compare_and_set(&self, id: ProductId, version: i64, stock_seq: i64, value: String) {
        let key = self.product_key(id);
        let _: Option<i64> = self
            .run("put_product", |mut conn| async move {
                // EVAL rather than redis::Script: the script is small and the `script` feature of
                // the redis crate is not enabled in the workspace.
                redis::cmd("EVAL")
                    .arg(COMPARE_AND_SET)
                    .arg(1)
                    .arg(key)
                    .arg(version)
                    .arg(stock_seq)
                    .arg(value)
                    .arg(PRODUCT_TTL.as_secs())
                    .query_async(&mut conn)
                    .await
            })
            .await;
    }

    /// Drops a product's entry (when the new state is not at hand).
    pub async fn forget_product(&self, id: ProductId) {
        let key = self.product_key(id);
        let _: Option<i64> = self
            .run("forget_product", |mut conn| async move { redis::cmd("DEL").arg(key).query_async(&mut conn).await })
            .await;
    }

    // ---- listings ----

    /// The current listing generation; `None` when Redis is unavailable (then do not cache).
    pub async fn generation(&self) -> Option<i64> {
        let key = self.generation_key();
        let value: Option<Option<i64>> = self
            .run("generation", |mut conn| async move { redis::cmd("GET").arg(key).query_async(&mut conn).await })
            .await;
        value.map(|v| v.unwrap_or(0))
    }

    /// Makes every cached listing unreachable. Call after each committed product or category write.
    pub async fn bump_generation(&self) {
        let key = self.generation_key();
        let _: Option<i64> = self
            .run("bump_generation", |mut conn| async move { redis::cmd("INCR").arg(key).query_async(&mut conn).await })
            .await;
    }

    fn listing_key(&self, generation: i64, name: &str) -> String {
        format!("{}list:{generation}:{name}", self.prefix)
    }

    /// A cached listing body for `name` (e.g. `category:shoes?page=1`) in `generation`.
    pub async fn get_listing(&self, cache: &'static str, generation: i64, name: &str) -> Option<String> {
        let key = self.listing_key(generation, name);
        let value: Option<Option<String>> = self
            .run("get_listing", |mut conn| async move { redis::cmd("GET").arg(key).query_async(&mut conn).await })
            .await;
        let value = value.flatten();
        self.count(cache, if value.is_some() { "hit" } else { "miss" });
        value
    }

    pub async fn put_listing(&self, generation: i64, name: &str, body: &str) {
        self.put_listing_for(generation, name, body, LISTING_TTL).await;
    }

    /// [`Self::put_listing`] with its own time to live.
    pub async fn put_listing_for(&self, generation: i64, name: &str, body: &str, ttl: Duration) {
        let key = self.listing_key(generation, name);
        let body = body.to_owned();
        let _: Option<()> = self
            .run("put_listing", |mut conn| async move {
                redis::cmd("SET").arg(key).arg(body).arg("EX").arg(ttl.as_secs()).query_async(&mut conn).await
            })
            .await;
    }

    // ---- recently viewed ----

    /// Moves `product` to the front of the user's list, capped at [`RECENTLY_VIEWED_MAX`].
    pub async fn record_view(&self, user: Uuid, product: ProductId) {
        let key = self.recent_key(user);
        let member = product.to_string();
        let _: Option<()> = self
            .run("record_view", |mut conn| async move {
                redis::pipe()
                    .atomic()
                    .cmd("LREM")
                    .arg(&key)
                    .arg(0)
                    .arg(&member)
                    .ignore()
                    .cmd("LPUSH")
                    .arg(&key)
                    .arg(&member)
                    .ignore()
                    .cmd("LTRIM")
                    .arg(&key)
                    .arg(0)
                    .arg(RECENTLY_VIEWED_MAX - 1)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(RECENTLY_VIEWED_TTL.as_secs())
                    .ignore()
                    .query_async(&mut conn)
                    .await
            })
            .await;
    }

    /// The user's recently viewed product ids, most recent first (empty when Redis is down).
    pub async fn recently_viewed(&self, user: Uuid) -> Vec<ProductId> {
        let key = self.recent_key(user);
        let ids: Option<Vec<String>> = self
            .run("recently_viewed", |mut conn| async move {
                redis::cmd("LRANGE").arg(key).arg(0).arg(RECENTLY_VIEWED_MAX - 1).query_async(&mut conn).await
            })
            .await;
        ids.unwrap_or_default().iter().filter_map(|id| Uuid::parse_str(id).ok()).map(ProductId).collect()
    }
}

/// `"<version>:<stock_seq>|<json>"`, or a tombstone with nothing after the bar. The JSON is the
/// response body as stored: it is cut out of the value in place, never parsed or copied.
fn parse_product_value(mut value: String) -> Option<CachedProduct> {
    let bar = value.find('|')?;
    let (version, _) = value[..bar].split_once(':')?;
    let version: i64 = version.parse().ok()?;
    if bar + 1 == value.len() {
        return Some(CachedProduct::Deleted);
    }
    value.drain(..=bar);
    Some(CachedProduct::Live { json: value, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_values_parse() {
        assert_eq!(
            parse_product_value("3:7|{\"a\":1}".into()),
            Some(CachedProduct::Live { json: "{\"a\":1}".into(), version: 3 })
        );
        assert_eq!(parse_product_value("4:0|".into()), Some(CachedProduct::Deleted));
        assert_eq!(parse_product_value("garbage".into()), None);
        assert_eq!(parse_product_value("x:1|{}".into()), None);
    }
}
