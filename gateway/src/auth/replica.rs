//! An in-memory copy of the access-token deny-list, so checking a token costs no Redis round trip.
//!
//! The sync task subscribes to the auth service's announcements first, then loads every
//! `denylist:jti:*` key with its TTL, and only then declares the copy in sync: an entry written
//! while the keys are being read arrives as a message, so none falls between the two. While the
//! copy is not in sync (starting, Redis unreachable, subscription lost, capacity exceeded) every
//! check asks Redis, as before (see [`super::denylist::DenyList`]); failing closed stays Redis'
//! business. A subscription that dies silently is caught by a ping on it every few seconds.
//!
//! How fresh is it? A message reaches the gateway within the round trip that delivered the
//! logout's `MULTI` to Redis. The gateway that proxied a logout also records the token itself
//! before the response leaves ([`Replica::insert`] from the proxy), so a client that logs out and
//! retries through the same gateway is refused every time; another gateway replica hears of it
//! within milliseconds (docs/auth.md, "The deny-list replica").

use futures_util::StreamExt;
use shop_common::auth::denylist;
use shop_common::redis::redis;
use shop_common::shutdown::Shutdown;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// How often the subscription is pinged; a dead one is noticed within this plus [`PING_TIMEOUT`].
const PING_INTERVAL: Duration = Duration::from_secs(3);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How often expired entries are dropped.
const PURGE_INTERVAL: Duration = Duration::from_secs(30);
/// Keys asked for per `SCAN` step and TTLs per pipeline while loading.
const SCAN_BATCH: usize = 1_000;
/// Waits between reconnection attempts: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(10);

const IN_SYNC_METRIC: &str = "gateway_denylist_replica_in_sync";
const ENTRIES_METRIC: &str = "gateway_denylist_replica_entries";

/// Registers the replica's HELP lines.
pub fn describe() {
    metrics::describe_gauge!(
        IN_SYNC_METRIC,
        "1 while deny-list checks are answered from memory, 0 while they ask Redis"
    );
    metrics::describe_gauge!(
        ENTRIES_METRIC,
        "Deny-listed token ids held in the gateway's memory (expired ones until purged)"
    );
}

/// The copy: token id → when its entry lapses.
pub struct Replica {
    entries: RwLock<HashMap<Box<str>, Instant>>,
    in_sync: AtomicBool,
    /// Set when an insert found the copy full: it is then incomplete until the next full load.
    overflowed: AtomicBool,
    capacity: usize,
}

/// Why a sync session ended.
#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the subscription ended")]
    SubscriptionClosed,
    #[error("the subscription did not answer a ping within {0:?}")]
    PingTimedOut(Duration),
    #[error("more than {0} deny-listed tokens; checking Redis for each request instead")]
    Overflow(usize),
}

impl Replica {
    /// A copy holding at most `capacity` entries (beyond that, every check goes to Redis).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            in_sync: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            capacity,
        }
    }

    /// `Some(denied)` when the copy is in sync, `None` when Redis must be asked.
    pub fn lookup(&self, jti: &str) -> Option<bool> {
        if !self.in_sync.load(Ordering::Acquire) {
            return None;
        }
        Some(self.read().get(jti).is_some_and(|lapses| *lapses > Instant::now()))
    }

    /// Records a deny-listed token for `ttl`. Called for announcements and by the proxy for a
    /// logout it forwarded.
    pub fn insert(&self, jti: &str, ttl: Duration) {
        let lapses = Instant::now() + ttl;
        let mut entries = self.write();
        if entries.len() >= self.capacity && !entries.contains_key(jti) {
            let now = Instant::now();
            entries.retain(|_, lapses| *lapses > now);
            if entries.len() >= self.capacity {
                // Dropping this entry would let its token through: stop answering instead.
                self.overflowed.store(true, Ordering::Release);
                self.in_sync.store(false, Ordering::Release);
                return;
            }
        }
        let slot = entries.entry(jti.into()).or_insert(lapses);
        *slot = (*slot).max(lapses);
    }

    /// Whether checks are answered from memory.
    pub fn is_in_sync(&self) -> bool {
        self.in_sync.load(Ordering::Acquire)
    }

    /// Entries held, expired or not.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn purge_expired(&self) {
        let now = Instant::now();
        self.write().retain(|_, lapses| *lapses > now);
        self.report();
    }

    fn report(&self) {
        metrics::gauge!(IN_SYNC_METRIC).set(if self.is_in_sync() { 1.0 } else { 0.0 });
        #[allow(clippy::cast_precision_loss)] // a count far below 2^52
        metrics::gauge!(ENTRIES_METRIC).set(self.len() as f64);
    }

    fn start_load(&self) {
        self.in_sync.store(false, Ordering::Release);
        self.overflowed.store(false, Ordering::Release);
    }

    fn finish_load(&self) -> Result<(), SyncError> {
        if self.overflowed.load(Ordering::Acquire) {
            return Err(SyncError::Overflow(self.capacity));
        }
        self.in_sync.store(true, Ordering::Release);
        self.report();
        Ok(())
    }

    fn desync(&self) {
        self.in_sync.store(false, Ordering::Release);
        self.report();
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<Box<str>, Instant>> {
        self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<Box<str>, Instant>> {
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps the copy in sync until `shutdown`: subscribe, load, apply announcements; on any
    /// failure fall back to Redis checks, wait, and start over.
    pub async fn sync(&self, client: redis::Client, mut shutdown: Shutdown) {
        let mut retry = RETRY_FIRST;
        loop {
            let outcome = tokio::select! {
                outcome = self.sync_session(&client) => outcome,
                () = shutdown.wait() => return,
            };
            self.desync();
            match outcome {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, retry_ms = retry.as_millis(), "deny-list replica out of sync; checking Redis per request");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = shutdown.wait() => return,
            }
            retry = (retry * 2).min(RETRY_MAX);
        }
    }

    /// One subscription's life. Returns only with an error (the caller retries).
    async fn sync_session(&self, client: &redis::Client) -> Result<(), SyncError> {
        let (mut sink, mut messages) = client.get_async_pubsub().await?.split();
        sink.subscribe(denylist::CHANNEL).await?;
        self.start_load();
        let loaded = self.load(client).await?;
        self.finish_load()?;
        tracing::info!(entries = loaded, "deny-list replica in sync");

        let mut ping = tokio::time::interval(PING_INTERVAL);
        let mut purge = tokio::time::interval(PURGE_INTERVAL);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let message = message.ok_or(SyncError::SubscriptionClosed)?;
                    self.apply(message.get_payload_bytes());
                    if !self.is_in_sync() {
                        return Err(SyncError::Overflow(self.capacity));
                    }
                }
                _ = ping.tick() => {
                    tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>())
                        .await
                        .map_err(|_| SyncError::PingTimedOut(PING_TIMEOUT))??;
                }
                _ = purge.tick() => self.purge_expired(),
            }
        }
    }

    fn apply(&self, payload: &[u8]) {
        match std::str::from_utf8(payload).ok().and_then(denylist::parse_announcement) {
            Some((jti, ttl_secs)) => self.insert(jti, Duration::from_secs(ttl_secs)),
            None => tracing::warn!(payload.bytes = payload.len(), "ignoring a malformed deny-list announcement"),
        }
    }

    /// Reads every deny-list key with its remaining TTL; returns how many were loaded.
    async fn load(&self, client: &redis::Client) -> Result<usize, SyncError> {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let pattern = format!("{}*", denylist::KEY_PREFIX);
        let mut cursor: u64 = 0;
        let mut loaded = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_BATCH)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("PTTL").arg(key);
                }
                let ttls: Vec<i64> = pipe.query_async(&mut conn).await?;
                for (key, ttl_ms) in keys.iter().zip(ttls) {
                    // -2: gone since the scan; -1: no expiry (not written by shop; keep a day).
                    let ttl = match ttl_ms {
                        -2 => continue,
                        -1 => Duration::from_secs(86_400),
                        ms => Duration::from_millis(ms.unsigned_abs()),
                    };
                    if let Some(jti) = key.strip_prefix(denylist::KEY_PREFIX) {
                        self.insert(jti, ttl);
                        loaded += 1;
                    }
                }
            }
            if next == 0 {
                return Ok(loaded);
            }
            cursor = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_sync(capacity: usize) -> Replica {
        let replica = Replica::new(capacity);
        replica.start_load();
        replica.finish_load().unwrap();
        replica
    }

    #[test]
    fn out_of_sync_it_does_not_answer() {
        let replica = Replica::new(10);
        replica.insert("j1", Duration::from_secs(60));
        assert_eq!(replica.lookup("j1"), None);
        replica.start_load();
        replica.finish_load().unwrap();
        assert_eq!(replica.lookup("j1"), Some(true));
        assert_eq!(replica.lookup("j2"), Some(false));
        replica.desync();
        assert_eq!(replica.lookup("j1"), None);
    }

    #[test]
    fn entries_lapse_with_their_ttl() {
        let replica = in_sync(10);
        replica.insert("short", Duration::ZERO);
        replica.insert("long", Duration::from_secs(60));
        assert_eq!(replica.lookup("short"), Some(false));
        assert_eq!(replica.lookup("long"), Some(true));
        replica.purge_expired();
        assert_eq!(replica.len(), 1);
    }

    #[test]
    fn a_later_insert_never_shortens_an_entry() {
        let replica = in_sync(10);
        replica.insert("j1", Duration::from_secs(60));
        replica.insert("j1", Duration::ZERO);
        assert_eq!(replica.lookup("j1"), Some(true));
    }

    #[test]
    fn when_full_it_makes_room_from_expired_entries_or_stops_answering() {
        let replica = in_sync(2);
        replica.insert("old", Duration::ZERO);
        replica.insert("a", Duration::from_secs(60));
        replica.insert("b", Duration::from_secs(60)); // "old" is purged to make room
        assert_eq!(replica.lookup("b"), Some(true));
        replica.insert("c", Duration::from_secs(60)); // no room: incomplete from here on
        assert_eq!(replica.lookup("c"), None);
        assert_eq!(replica.lookup("a"), None);
        // A reload that still overflows keeps it out of sync.
        replica.start_load();
        replica.insert("c", Duration::from_secs(60));
        assert!(replica.finish_load().is_err());
        assert!(!replica.is_in_sync());
    }

    #[test]
    fn announcements_are_applied_and_garbage_ignored() {
        let replica = in_sync(10);
        replica.apply(denylist::announcement("j1", 60).as_bytes());
        replica.apply(b"\xff\xfe not utf-8");
        replica.apply(b"nonsense");
        assert_eq!(replica.lookup("j1"), Some(true));
        assert_eq!(replica.len(), 1);
    }
}
