//! Sliding-window rate limits in Redis for login and register (docs/auth.md "Abuse").
//!
//! Each limited key is a sorted set of attempt times (ms). An attempt is admitted when every key it
//! counts against holds fewer than its limit inside the window `(now - window, now]`, and is then
//! recorded in all of them — one Lua script, so concurrent attempts cannot overshoot. A refused
//! attempt is not recorded: hammering while limited does not extend the wait. Successful logins
//! are taken out again ([`RateLimiter::release`]), so login limits count failures only and a user
//! who logs in often is never locked out by their own successes.

use crate::sessions::redis_unavailable;
use crate::settings::RateLimitSettings;
use sha2::{Digest, Sha256};
use shop_common::ApiError;
use shop_common::redis::{RedisPool, redis};
use std::time::Duration;

/// KEYS: the window keys. ARGV: now (ms), window (ms), member, then one limit per key.
/// Returns an empty array when admitted, else for each full key the score of the entry whose
/// expiry frees a slot.
const ATTEMPT_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local blocked = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local limit = tonumber(ARGV[3 + i])
  if count >= limit then
    local rank = count - limit
    local entry = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
    table.insert(blocked, entry[2])
  end
end
if #blocked > 0 then return blocked end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return {}
";

/// One key an attempt counts against, with its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub key: String,
    pub max: u32,
}

/// An admitted attempt, which [`RateLimiter::release`] can take back.
#[derive(Debug, Clone)]
pub struct Attempt {
    keys: Vec<String>,
    member: String,
}

#[derive(Clone)]
pub struct RateLimiter {
    redis: RedisPool,
    settings: RateLimitSettings,
}

impl RateLimiter {
    pub fn new(redis: RedisPool, settings: RateLimitSettings) -> Self {
        Self { redis, settings }
    }

    /// Per normalised email (hashed: no addresses in Redis keys).
    pub fn account_limit(&self, email: &str) -> Limit {
        Limit { key: account_key(email), max: self.settings.login_per_account }
    }

    /// Per account and per client IP.
    pub fn login_limits(&self, email: &str, ip: &str) -> Vec<Limit> {
        vec![
            self.account_limit(email),
            Limit { key: format!("ratelimit:login:ip:{ip}"), max: self.settings.login_per_ip },
        ]
    }

    pub fn register_limits(&self, ip: &str) -> Vec<Limit> {
        vec![Limit { key: format!("ratelimit:register:ip:{ip}"), max: self.settings.register_per_ip }]
    }

    /// Admits a login attempt or answers 429 with `Retry-After`.
    pub async fn login(&self, email: &str, ip: &str) -> Result<Attempt, ApiError> {
        self.attempt(&self.login_limits(email, ip), self.settings.login_window).await
    }

    /// Admits a password check outside login (changing the password): it counts against the
    /// account's login limit, so the profile endpoint is no side door for guessing.
    pub async fn password_check(&self, email: &str) -> Result<Attempt, ApiError> {
        self.attempt(&[self.account_limit(email)], self.settings.login_window).await
    }

    pub async fn register(&self, ip: &str) -> Result<Attempt, ApiError> {
        self.attempt(&self.register_limits(ip), self.settings.register_window).await
    }

    async fn attempt(&self, limits: &[Limit], window: Duration) -> Result<Attempt, ApiError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let member = format!("{now_ms}-{}", uuid::Uuid::new_v4().simple());
        // Plain EVAL (the script is a few hundred bytes): the redis crate's `Script` helper needs a
        // feature the workspace does not enable.
        let mut script = redis::cmd("EVAL");
        script.arg(ATTEMPT_SCRIPT).arg(limits.len());
        for limit in limits {
            script.arg(&limit.key);
        }
        script.arg(now_ms).arg(window_ms).arg(&member);
        for limit in limits {
            script.arg(limit.max);
        }
        let mut conn = self.redis.get().await.map_err(redis_unavailable)?;
        let blocked: Vec<String> = script.query_async(&mut conn).await.map_err(redis_unavailable)?;
        if blocked.is_empty() {
            return Ok(Attempt { keys: limits.iter().map(|l| l.key.clone()).collect(), member });
        }
        let retry_after = blocked
            .iter()
            .filter_map(|score| score.parse::<f64>().ok())
            .map(|score| retry_after_secs(score as i64, now_ms, window_ms))
            .max()
            .unwrap_or(1);
        tracing::info!(rate_limit.keys = limits.len(), retry_after_secs = retry_after, "rate limit reached");
        Err(ApiError::too_many_requests(retry_after))
    }

    /// Takes an admitted attempt back out of its windows. Best effort: if Redis fails here the
    /// attempt simply keeps counting until it ages out.
    pub async fn release(&self, attempt: &Attempt) {
        let Ok(mut conn) = self.redis.get().await else { return };
        let mut pipe = redis::pipe();
        for key in &attempt.keys {
            pipe.zrem(key, &attempt.member).ignore();
        }
        if let Err(err) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %err, "releasing a rate-limit entry failed");
        }
    }
}

/// `ratelimit:login:account:<first 128 bits of SHA-256(email), hex>`.
pub fn account_key(email: &str) -> String {
    let digest = Sha256::digest(email.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("ratelimit:login:account:{hex}")
}

/// Entries scored at or below this have left the window ending at `now_ms`.
pub fn window_floor(now_ms: i64, window_ms: i64) -> i64 {
    now_ms - window_ms
}

/// Whole seconds until the entry scored `freeing_ms` leaves the window (at least 1, rounded up so
/// a client that waits exactly this long is admitted).
pub fn retry_after_secs(freeing_ms: i64, now_ms: i64, window_ms: i64) -> u64 {
    let wait_ms = freeing_ms.saturating_add(window_ms).saturating_sub(now_ms).max(0);
    let secs = wait_ms.saturating_add(999) / 1000;
    u64::try_from(secs).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: i64 = 300_000;

    #[test]
    fn an_entry_leaves_the_window_exactly_one_window_later() {
        let now = 1_000_000;
        assert_eq!(window_floor(now, WINDOW), 700_000);
        // The script removes scores <= floor: an attempt made at 700_000 no longer counts at 1_000_000.
        let made_at = 700_000;
        assert!(made_at <= window_floor(now, WINDOW));
        assert!(made_at + 1 > window_floor(now, WINDOW));
    }

    #[test]
    fn retry_after_counts_until_the_oldest_counted_attempt_expires() {
        let now = 1_000_000;
        // Made just now: wait the whole window.
        assert_eq!(retry_after_secs(now, now, WINDOW), 300);
        // Made 299.5 s ago: half a second left, rounded up.
        assert_eq!(retry_after_secs(now - 299_500, now, WINDOW), 1);
        // Made 100.001 s ago: 199.999 s left -> 200.
        assert_eq!(retry_after_secs(now - 100_001, now, WINDOW), 200);
        // Already expired (the script would have dropped it): never below one second.
        assert_eq!(retry_after_secs(now - 400_000, now, WINDOW), 1);
    }

    #[test]
    fn retry_after_survives_extreme_inputs() {
        assert_eq!(retry_after_secs(i64::MAX, 0, i64::MAX), i64::MAX as u64 / 1000);
        assert_eq!(retry_after_secs(i64::MIN, i64::MAX, 1), 1);
    }

    #[test]
    fn account_keys_hide_the_email() {
        let key = account_key("ann@example.com");
        assert!(!key.contains("ann"));
        assert_eq!(key.len(), "ratelimit:login:account:".len() + 32);
        assert_eq!(key, account_key("ann@example.com"));
    }
}
