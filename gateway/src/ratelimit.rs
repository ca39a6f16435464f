//! Per-client request rate limits at the gateway, counted across every gateway replica in Redis
//! without a Redis round trip per request (docs/gateway.md, "Rate limits").
//!
//! A client is the verified user (`user:<sub>`) when the request carries a valid token, else its
//! address (`ip:<addr>`). The limit is a sliding window of one minute, estimated the usual way from
//! two fixed windows: `current + previous × (share of the previous window still inside the last
//! minute)`. Each gateway counts locally and, every `RATE_LIMIT_SYNC_MS`, adds what it counted to
//! Redis (`INCRBY <prefix><client>:<window>`) and reads back the fleet-wide totals. So a client is
//! refused once the fleet's total as last synced, plus what this gateway counted since, reaches the
//! limit: a burst can overshoot by what the other replicas admit within one sync interval, and
//! never by more. If Redis is unreachable each gateway still enforces the limit on its own counts.
//! The table of clients is bounded: when full, clients idle for two windows are dropped first;
//! if none are, a new client goes uncounted (and the `untracked` counter says so) rather than
//! evicting someone who is being limited.

use crate::auth::Admission;
use shop_common::redis::redis;
use shop_common::shutdown::Shutdown;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WINDOW_SECS: u64 = 60;
const DECISIONS_METRIC: &str = "gateway_rate_limit_decisions_total";
const CLIENTS_METRIC: &str = "gateway_rate_limit_clients";
const SYNC_FAILURES_METRIC: &str = "gateway_rate_limit_sync_failures_total";

/// The limiter's settings (`RATE_LIMIT_*`, see [`crate::settings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Requests per client per minute; `None` turns limiting off.
    pub per_minute: Option<u64>,
    /// How often counts are exchanged with Redis.
    pub sync_interval: Duration,
    /// Prefix of the Redis keys (tests isolate themselves with it).
    pub key_prefix: String,
    /// Clients tracked at most.
    pub max_clients: usize,
}

/// Who is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    User(uuid::Uuid),
    Ip(IpAddr),
}

impl ClientKey {
    /// The verified user if there is one, else the peer address.
    pub fn of(admission: &Admission, peer: Option<IpAddr>) -> Option<Self> {
        match (admission.identity(), peer) {
            (Some(identity), _) => Some(Self::User(identity.user_id)),
            (None, Some(ip)) => Some(Self::Ip(ip)),
            (None, None) => None,
        }
    }

    fn redis_key(&self, prefix: &str, window: u64) -> String {
        match self {
            Self::User(id) => format!("{prefix}user:{id}:{window}"),
            Self::Ip(ip) => format!("{prefix}ip:{ip}:{window}"),
        }
    }
}

/// An address or network (`10.0.0.2`, `10.0.0.0/8`, `fd00::/8`) whose requests are a proxy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedNetwork {
    network: IpAddr,
    prefix_len: u8,
}

impl std::str::FromStr for TrustedNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
        let network: IpAddr = address.parse().map_err(|_| format!("{text:?} is not an IP address or network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            None => max,
            Some(p) => p.parse().ok().filter(|len| *len <= max).ok_or_else(|| format!("{text:?} has a bad prefix"))?,
        };
        Ok(Self { network, prefix_len })
    }
}

impl TrustedNetwork {
    pub fn contains(&self, address: IpAddr) -> bool {
        let (network, address, bits) = match (self.network, address) {
            (IpAddr::V4(n), IpAddr::V4(a)) => (u128::from(n.to_bits()), u128::from(a.to_bits()), 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => (n.to_bits(), a.to_bits(), 128),
            _ => return false,
        };
        let host_bits = bits - u32::from(self.prefix_len);
        host_bits >= 128 || (network >> host_bits) == (address >> host_bits)
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the nearest
/// address in `X-Forwarded-For` that is not one (a client can prepend anything it likes to that
/// header, so only what the trusted proxies appended counts).
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[TrustedNetwork]) -> Option<IpAddr> {
    let is_trusted = |address: IpAddr| trusted.iter().any(|network| network.contains(address));
    let peer = peer?;
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut nearest = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',').map(str::trim) {
        let Ok(address) = hop.parse::<IpAddr>() else { break };
        nearest = address;
        if !is_trusted(address) {
            break;
        }
    }
    Some(nearest)
}

/// A request's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused; the client may retry after this many seconds.
    Refuse {
        retry_after_secs: u64,
    },
}

/// What one gateway knows about one client.
#[derive(Debug, Clone, Default)]
struct Counts {
    /// The window `current_*` belong to (Unix minutes).
    window: u64,
    /// Fleet-wide count of `window` at the last sync (ours included, up to then).
    synced_current: u64,
    /// Fleet-wide count of the window before it.
    synced_previous: u64,
    /// Admitted here in `window` since the last sync.
    pending: u64,
}

impl Counts {
    /// Moves to `window`: the old current becomes the previous if they are adjacent.
    fn roll_to(&mut self, window: u64) {
        if window == self.window {
            return;
        }
        let current_total = self.synced_current + self.pending;
        self.synced_previous = if window == self.window + 1 { current_total } else { 0 };
        self.synced_current = 0;
        self.pending = 0;
        self.window = window;
    }

    fn estimate(&self, elapsed_in_window: f64) -> f64 {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let (current, previous) = ((self.synced_current + self.pending) as f64, self.synced_previous as f64);
        current + previous * (1.0 - elapsed_in_window / WINDOW_SECS as f64)
    }
}

/// The per-gateway limiter; cheap to call from every worker.
pub struct RateLimiter {
    settings: RateLimitSettings,
    clients: Mutex<HashMap<ClientKey, Counts>>,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        Self { settings, clients: Mutex::new(HashMap::new()) }
    }

    pub fn is_enabled(&self) -> bool {
        self.settings.per_minute.is_some()
    }

    /// Counts the request and decides, at wall-clock time `now`.
    pub fn check(&self, client: &ClientKey, now: SystemTime) -> Decision {
        let Some(limit) = self.settings.per_minute else { return Decision::Allow };
        let (window, elapsed) = window_of(now);
        let mut clients = self.lock();
        if !clients.contains_key(client) && clients.len() >= self.settings.max_clients {
            clients.retain(|_, counts| counts.window + 1 >= window);
            if clients.len() >= self.settings.max_clients {
                metrics::counter!(DECISIONS_METRIC, "decision" => "untracked").increment(1);
                return Decision::Allow;
            }
        }
        let counts = clients.entry(client.clone()).or_default();
        counts.roll_to(window);
        #[allow(clippy::cast_precision_loss)]
        if counts.estimate(elapsed) + 1.0 > limit as f64 {
            metrics::counter!(DECISIONS_METRIC, "decision" => "refused").increment(1);
            // The estimate only falls as the previous window slides out or a new one starts.
            return Decision::Refuse { retry_after_secs: retry_after(counts, limit, elapsed) };
        }
        counts.pending += 1;
        metrics::counter!(DECISIONS_METRIC, "decision" => "allowed").increment(1);
        Decision::Allow
    }

    /// Exchanges counts with Redis every sync interval until `shutdown`.
    pub async fn sync(&self, client: redis::Client, mut shutdown: Shutdown) {
        if !self.is_enabled() {
            return;
        }
        let mut tick = tokio::time::interval(self.settings.sync_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut conn: Option<redis::aio::MultiplexedConnection> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.wait() => return,
            }
            if conn.is_none() {
                conn = client.get_multiplexed_async_connection().await.ok();
            }
            let Some(active) = conn.as_mut() else {
                metrics::counter!(SYNC_FAILURES_METRIC).increment(1);
                continue;
            };
            let exchange =
                tokio::time::timeout(self.settings.sync_interval.max(Duration::from_secs(1)), self.exchange(active));
            if !matches!(exchange.await, Ok(Ok(()))) {
                // Counts stay pending here and go out with the next successful exchange.
                metrics::counter!(SYNC_FAILURES_METRIC).increment(1);
                conn = None;
            }
        }
    }

    /// One exchange: add every client's pending count, read back both windows' totals.
    async fn exchange(&self, conn: &mut redis::aio::MultiplexedConnection) -> redis::RedisResult<()> {
        let (window, _) = window_of(SystemTime::now());
        let batch: Vec<(ClientKey, u64, u64)> = {
            let mut clients = self.lock();
            clients.retain(|_, counts| counts.window + 1 >= window);
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(CLIENTS_METRIC).set(clients.len() as f64);
            clients
                .iter_mut()
                .filter(|(_, counts)| counts.pending > 0 || counts.window == window)
                .map(|(key, counts)| {
                    let flushed = std::mem::take(&mut counts.pending);
                    (key.clone(), counts.window, flushed)
                })
                .collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (key, window, flushed) in &batch {
            let current = key.redis_key(&self.settings.key_prefix, *window);
            pipe.cmd("INCRBY").arg(&current).arg(*flushed);
            pipe.cmd("EXPIRE").arg(&current).arg(WINDOW_SECS * 2 + 5).ignore();
            pipe.cmd("GET").arg(key.redis_key(&self.settings.key_prefix, window.saturating_sub(1)));
        }
        let totals: Result<Vec<(u64, Option<u64>)>, _> = pipe.query_async(conn).await;
        let mut clients = self.lock();
        match totals {
            Ok(totals) => {
                for ((key, window, _), (current, previous)) in batch.iter().zip(totals) {
                    if let Some(counts) = clients.get_mut(key)
                        && counts.window == *window
                    {
                        counts.synced_current = current;
                        counts.synced_previous = counts.synced_previous.max(previous.unwrap_or(0));
                    }
                }
                Ok(())
            }
            Err(err) => {
                // Not sent: put the counts back so the next exchange sends them.
                for (key, window, flushed) in &batch {
                    if let Some(counts) = clients.get_mut(key)
                        && counts.window == *window
                    {
                        counts.pending += flushed;
                    }
                }
                Err(err)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ClientKey, Counts>> {
        self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The Unix minute of `now` and the seconds elapsed in it.
fn window_of(now: SystemTime) -> (u64, f64) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let window = since.as_secs() / WINDOW_SECS;
    #[allow(clippy::cast_precision_loss)]
    let elapsed = since.as_secs_f64() - (window * WINDOW_SECS) as f64;
    (window, elapsed)
}

/// Seconds until one more request fits: solve `current + previous × (1 − t/60) + 1 ≤ limit` for the
/// time `t` in this window, or wait for the next window when the current one alone is full.
fn retry_after(counts: &Counts, limit: u64, elapsed: f64) -> u64 {
    let current = counts.synced_current + counts.pending;
    let next_window = WINDOW_SECS as f64 - elapsed;
    #[allow(clippy::cast_precision_loss)]
    let wait = if current + 1 > limit || counts.synced_previous == 0 {
        next_window
    } else {
        let room = (limit - current - 1) as f64;
        let needed_fraction = 1.0 - room / counts.synced_previous as f64;
        (needed_fraction * WINDOW_SECS as f64 - elapsed).clamp(0.0, next_window)
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let secs = wait.ceil() as u64;
    secs.max(1)
}

/// Registers the limiter's HELP lines.
pub fn describe() {
    metrics::describe_counter!(
        DECISIONS_METRIC,
        "Requests the rate limiter admitted, refused, or could not track (table full)"
    );
    metrics::describe_gauge!(CLIENTS_METRIC, "Clients the gateway's rate limiter is tracking");
    metrics::describe_counter!(SYNC_FAILURES_METRIC, "Failed exchanges of rate-limit counts with Redis");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u64, max_clients: usize) -> RateLimiter {
        RateLimiter::new(RateLimitSettings {
            per_minute: Some(per_minute),
            sync_interval: Duration::from_millis(100),
            key_prefix: "test:".into(),
            max_clients,
        })
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn ip(last: u8) -> ClientKey {
        ClientKey::Ip(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_client_is_refused_past_the_limit_and_others_are_not() {
        let limiter = limiter(3, 100);
        let now = at(6_000_000);
        for _ in 0..3 {
            assert_eq!(limiter.check(&ip(1), now), Decision::Allow);
        }
        assert!(matches!(limiter.check(&ip(1), now), Decision::Refuse { .. }));
        assert_eq!(limiter.check(&ip(2), now), Decision::Allow);
    }

    #[test]
    fn the_previous_window_counts_less_as_it_slides_out() {
        let limiter = limiter(10, 100);
        let start = 6_000_000; // a window boundary (multiple of 60)
        for _ in 0..10 {
            assert_eq!(limiter.check(&ip(1), at(start + 59)), Decision::Allow);
        }
        // Just into the next window almost all of the previous one still counts...
        let Decision::Refuse { retry_after_secs } = limiter.check(&ip(1), at(start + 60)) else {
            panic!("the full previous minute still counts")
        };
        assert!((1..=6).contains(&retry_after_secs), "{retry_after_secs}");
        // ...halfway through, half of it does: 5 more fit.
        for _ in 0..5 {
            assert_eq!(limiter.check(&ip(1), at(start + 90)), Decision::Allow);
        }
        assert!(matches!(limiter.check(&ip(1), at(start + 90)), Decision::Refuse { .. }));
        // Two windows later nothing old counts.
        assert_eq!(limiter.check(&ip(1), at(start + 180)), Decision::Allow);
    }

    #[test]
    fn when_the_current_window_alone_is_full_retry_after_is_its_end() {
        let limiter = limiter(2, 100);
        let start = 6_000_000;
        limiter.check(&ip(1), at(start + 10));
        limiter.check(&ip(1), at(start + 10));
        assert_eq!(limiter.check(&ip(1), at(start + 10)), Decision::Refuse { retry_after_secs: 50 });
    }

    #[test]
    fn a_full_table_drops_idle_clients_and_never_evicts_active_ones() {
        let limiter = limiter(1, 2);
        let start = 6_000_000;
        limiter.check(&ip(1), at(start));
        limiter.check(&ip(2), at(start));
        // Full, and both active: a third client goes uncounted...
        assert_eq!(limiter.check(&ip(3), at(start)), Decision::Allow);
        assert_eq!(limiter.check(&ip(3), at(start)), Decision::Allow);
        // ...while the limited ones stay limited.
        assert!(matches!(limiter.check(&ip(1), at(start)), Decision::Refuse { .. }));
        // Two windows on, the idle ones make room.
        assert_eq!(limiter.check(&ip(3), at(start + 120)), Decision::Allow);
        assert!(matches!(limiter.check(&ip(3), at(start + 120)), Decision::Refuse { .. }));
    }

    #[test]
    fn the_client_address_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let client: IpAddr = "203.0.113.9".parse().unwrap();
        let trusted: [TrustedNetwork; 1] = ["10.0.0.0/24".parse().unwrap()];
        // Direct: a client-sent header counts for nothing.
        assert_eq!(client_ip(Some(client), Some("198.51.100.1"), &trusted), Some(client));
        // Through the proxy: the address it appended; what the client prepended is ignored.
        assert_eq!(client_ip(Some(proxy), Some("198.51.100.1, 203.0.113.9"), &trusted), Some(client));
        // Through two trusted hops.
        assert_eq!(client_ip(Some(proxy), Some("203.0.113.9, 10.0.0.2"), &trusted), Some(client));
        // A proxy that sent no (or a garbled) header: the nearest address known.
        assert_eq!(client_ip(Some(proxy), None, &trusted), Some(proxy));
        assert_eq!(client_ip(Some(proxy), Some("junk"), &trusted), Some(proxy));
        assert_eq!(client_ip(None, None, &trusted), None);
    }

    #[test]
    fn trusted_networks_match_by_prefix() {
        let network: TrustedNetwork = "172.16.0.0/12".parse().unwrap();
        assert!(network.contains("172.20.1.5".parse().unwrap()));
        assert!(!network.contains("172.32.0.1".parse().unwrap()));
        assert!(!network.contains("::1".parse().unwrap()));
        let single: TrustedNetwork = "::1".parse().unwrap();
        assert!(single.contains("::1".parse().unwrap()) && !single.contains("::2".parse().unwrap()));
        let everything: TrustedNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(everything.contains("8.8.8.8".parse().unwrap()));
        for bad in ["nginx", "10.0.0.0/33", "::/129", "10.0.0.0/x"] {
            assert!(bad.parse::<TrustedNetwork>().is_err(), "{bad}");
        }
    }

    #[test]
    fn switched_off_it_allows_everything() {
        let limiter = RateLimiter::new(RateLimitSettings {
            per_minute: None,
            sync_interval: Duration::from_millis(100),
            key_prefix: String::new(),
            max_clients: 1,
        });
        for _ in 0..100 {
            assert_eq!(limiter.check(&ip(1), at(0)), Decision::Allow);
        }
    }
}
