//! The access-token deny-list in Redis: logout writes `denylist:jti:<jti>` (docs/auth.md), the
//! gateway refuses a token whose key exists.
//!
//! Fails closed: if Redis cannot answer, a logged-out token cannot be told from a live one, so the
//! request is refused with a 503 rather than let through.

use shop_common::redis::redis::aio::MultiplexedConnection;
use shop_common::redis::{RedisPool, redis};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The Redis key for a token id, as the auth service writes it.
pub fn key(jti: &str) -> String {
    format!("denylist:jti:{jti}")
}

/// Redis could not be asked.
#[derive(Debug, thiserror::Error)]
#[error("deny-list check failed: {0}")]
pub struct Unavailable(String);

/// The deny-list, with a bound on how long one check may take.
///
/// Checks share one multiplexed connection: concurrent requests' `EXISTS` are pipelined on it, one
/// round trip each. Taking a connection from the pool per check would cost a second round trip
/// (the pool PINGs a connection before handing it out) on every authenticated request. After a
/// failure the connection is dropped and the next check opens a new one through the pool.
#[derive(Clone)]
pub struct DenyList {
    pool: RedisPool,
    timeout: Duration,
    shared: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl DenyList {
    pub fn new(pool: RedisPool, timeout: Duration) -> Self {
        Self { pool, timeout, shared: Arc::new(Mutex::new(None)) }
    }

    /// `true` when the token id is deny-listed.
    pub async fn contains(&self, jti: &str) -> Result<bool, Unavailable> {
        // The pool bounds waiting for and opening a connection, not a command on a connection that
        // stopped answering; this bounds the whole check.
        let check = async {
            let mut conn = self.connection().await?;
            redis::cmd("EXISTS").arg(key(jti)).query_async::<bool>(&mut conn).await.map_err(|err| {
                self.forget();
                Unavailable(err.to_string())
            })
        };
        tokio::time::timeout(self.timeout, check).await.unwrap_or_else(|_| {
            self.forget();
            Err(Unavailable("timed out".into()))
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, Unavailable> {
        if let Some(conn) = self.lock().as_ref() {
            return Ok(conn.clone());
        }
        let pooled = self.pool.get().await.map_err(|err| Unavailable(err.to_string()))?;
        // A handle on the pooled connection's multiplexer; the pool keeps its own for the probes.
        let conn: MultiplexedConnection = (*pooled).clone();
        *self.lock() = Some(conn.clone());
        Ok(conn)
    }

    fn forget(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
