//! The access-token deny-list in Redis: logout writes `denylist:jti:<jti>` (docs/auth.md), the
//! gateway refuses a token whose key exists.
//!
//! Fails closed: if Redis cannot answer, a logged-out token cannot be told from a live one, so the
//! request is refused with a 503 rather than let through.
//!
//! With the replica on (`DENYLIST_REPLICA`, the default) checks are answered from memory while the
//! [`Replica`] is in sync, and from Redis whenever it is not.

use super::replica::Replica;
use shop_common::auth::denylist::key;
use shop_common::redis::redis;
use shop_common::redis::redis::aio::MultiplexedConnection;
use shop_common::service::BackgroundTask;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

/// Redis could not be asked.
#[derive(Debug, thiserror::Error)]
#[error("deny-list check failed: {0}")]
pub struct Unavailable(String);

/// The deny-list, with a bound on how long one check may take.
///
/// Checks share a multiplexed connection per worker thread: concurrent requests' `EXISTS` are
/// pipelined on it, one round trip each. Taking a connection from the pool per check would cost a
/// second round trip (the pool PINGs a connection before handing it out) on every authenticated
/// request. One per thread because a multiplexed connection's I/O task runs on the runtime that
/// opened it: shared across actix workers (one runtime each), every check from another worker paid
/// two cross-thread wake-ups. After a failure the thread's connection is dropped and its next check
/// opens a new one through the pool.
#[derive(Clone)]
pub struct DenyList {
    client: redis::Client,
    timeout: Duration,
    shared: Arc<Mutex<HashMap<ThreadId, MultiplexedConnection>>>,
    replica: Option<Arc<Replica>>,
}

impl DenyList {
    /// `client` is Redis' (connections open lazily, so an outage never blocks start-up).
    /// `replica_capacity`: keep an in-memory replica of at most that many entries, or none.
    pub fn new(client: redis::Client, timeout: Duration, replica_capacity: Option<usize>) -> Self {
        let replica = replica_capacity.map(|capacity| Arc::new(Replica::new(capacity)));
        Self { client, timeout, shared: Arc::new(Mutex::new(HashMap::new())), replica }
    }

    /// The task keeping the replica in sync, if there is one (run it with the server).
    pub fn sync_task(&self) -> Option<BackgroundTask> {
        let replica = self.replica.clone()?;
        let client = self.client.clone();
        Some(Box::new(move |shutdown| Box::pin(async move { replica.sync(client, shutdown).await })))
    }

    /// The replica, if configured.
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_deref()
    }

    /// A logout this gateway forwarded succeeded: its token is refused from now on, whether or not
    /// the announcement has arrived yet. (Redis already holds the entry: the auth service wrote it.)
    pub fn record_logout(&self, jti: &str, ttl: Duration) {
        if let Some(replica) = &self.replica {
            replica.insert(jti, ttl);
        }
    }

    /// `true` when the token id is deny-listed.
    pub async fn contains(&self, jti: &str) -> Result<bool, Unavailable> {
        if let Some(denied) = self.replica.as_ref().and_then(|replica| replica.lookup(jti)) {
            return Ok(denied);
        }
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
        let thread = std::thread::current().id();
        if let Some(conn) = self.lock().get(&thread) {
            return Ok(conn.clone());
        }
        // Opened on this thread, so its I/O task runs here too.
        let conn = self.client.get_multiplexed_async_connection().await.map_err(|err| Unavailable(err.to_string()))?;
        self.lock().insert(thread, conn.clone());
        Ok(conn)
    }

    fn forget(&self) {
        self.lock().remove(&std::thread::current().id());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ThreadId, MultiplexedConnection>> {
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
