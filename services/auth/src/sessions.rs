//! Login sessions and the access-token deny-list in Redis (docs/auth.md "Sessions in Redis").
//!
//! A session is a refresh-token family: rows in `refresh_tokens` plus the Redis hash
//! `session:<family_id>` (user_id, created_at, last_seen_at, ip, user_agent; TTL = refresh TTL).
//! Refresh needs both; logout and reuse detection delete the hash. Logout also writes
//! `denylist:jti:<jti>` until the access token's `exp`, which the gateway checks, and announces it
//! on the deny-list channel for the gateways' replicas ([`shop_common::auth::denylist`]).

use crate::client::ClientInfo;
use crate::db::refresh_tokens::{self, NewRefreshToken};
use crate::domain::{SessionId, UserId};
use crate::tokens::RefreshToken;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use shop_common::ApiError;
use shop_common::auth::denylist;
use shop_common::redis::{RedisPool, redis};
use std::time::Duration;

pub fn session_key(session: SessionId) -> String {
    format!("session:{session}")
}

/// At least the gateway's `JWT_LEEWAY_SECS` (30 s by default).
pub const DENYLIST_LEEWAY_SECS: i64 = denylist::LEEWAY_SECS;

/// A Redis failure on a request path: the client may retry; the cause is logged here, once.
pub fn redis_unavailable(err: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %err, "redis request failed");
    ApiError::unavailable("the session store is unavailable", 1)
}

/// Refreshes `last_seen_at` (and where the client is) only if the session still exists, and
/// extends its TTL; returns 0 when it is gone. One script, so a concurrent logout cannot be undone.
const TOUCH_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1], 'ip', ARGV[2], 'user_agent', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
";

/// The Redis side of sessions.
#[derive(Clone)]
pub struct SessionStore {
    redis: RedisPool,
    ttl: Duration,
}

impl SessionStore {
    pub fn new(redis: RedisPool, ttl: Duration) -> Self {
        Self { redis, ttl }
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, ApiError> {
        self.redis.get().await.map_err(redis_unavailable)
    }

    /// Records a new session.
    pub async fn put(
        &self,
        session: SessionId,
        user: UserId,
        client: &ClientInfo,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let mut conn = self.conn().await?;
        let now = now.to_rfc3339();
        let fields = [
            ("user_id", user.to_string()),
            ("created_at", now.clone()),
            ("last_seen_at", now),
            ("ip", client.ip.clone()),
            ("user_agent", client.user_agent.clone()),
        ];
        redis::pipe()
            .atomic()
            .hset_multiple(session_key(session), &fields)
            .ignore()
            .expire(session_key(session), self.ttl.as_secs() as i64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_unavailable)
    }

    /// Marks the session used now; `false` if it no longer exists (logged out, expired, lost).
    pub async fn touch(&self, session: SessionId, client: &ClientInfo, now: DateTime<Utc>) -> Result<bool, ApiError> {
        let mut conn = self.conn().await?;
        let touched: i64 = redis::cmd("EVAL")
            .arg(TOUCH_SCRIPT)
            .arg(1)
            .arg(session_key(session))
            .arg(now.to_rfc3339())
            .arg(&client.ip)
            .arg(&client.user_agent)
            .arg(self.ttl.as_secs())
            .query_async(&mut conn)
            .await
            .map_err(redis_unavailable)?;
        Ok(touched == 1)
    }

    pub async fn remove(&self, sessions: &[SessionId]) -> Result<(), ApiError> {
        if sessions.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        let keys: Vec<String> = sessions.iter().copied().map(session_key).collect();
        redis::cmd("DEL").arg(keys).query_async::<()>(&mut conn).await.map_err(redis_unavailable)
    }

    /// Deny-lists an access token until it expires, plus the gateway's `exp` leeway so a logged-out
    /// token cannot slip through in the leeway window; an already expired one needs no entry.
    pub async fn deny_access_token(&self, jti: &str, expires_at: i64, now: DateTime<Utc>) -> Result<(), ApiError> {
        let remaining = expires_at + DENYLIST_LEEWAY_SECS - now.timestamp();
        if remaining <= 0 {
            return Ok(());
        }
        let mut conn = self.conn().await?;
        // One MULTI: a gateway replica never hears of an entry that was not written, and an entry
        // is never written unannounced (a replica that misses a message resyncs from the keys).
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(denylist::key(jti))
            .arg(1)
            .arg("EX")
            .arg(remaining)
            .ignore()
            .cmd("PUBLISH")
            .arg(denylist::CHANNEL)
            .arg(denylist::announcement(jti, remaining.unsigned_abs()))
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(redis_unavailable)
    }
}

/// Starts a session for `user` inside the caller's transaction: the family's first refresh token
/// row, then the Redis record. If Redis fails the transaction rolls back and nothing is issued; if
/// the commit fails after Redis succeeded, the orphan record grants nothing (refresh needs the row)
/// and expires.
pub async fn start(
    conn: &mut AsyncPgConnection,
    store: &SessionStore,
    user: UserId,
    client: &ClientInfo,
    now: DateTime<Utc>,
) -> Result<(SessionId, RefreshToken), ApiError> {
    let session = SessionId::new();
    let token = issue_refresh_token(conn, store, session, user, now).await?;
    store.put(session, user, client, now).await?;
    Ok((session, token))
}

/// Adds a new refresh token to `session`'s family.
pub async fn issue_refresh_token(
    conn: &mut AsyncPgConnection,
    store: &SessionStore,
    session: SessionId,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<RefreshToken, ApiError> {
    let token = RefreshToken::generate().map_err(ApiError::internal)?;
    let hash = token.hash();
    refresh_tokens::insert(
        conn,
        &NewRefreshToken {
            id: uuid::Uuid::now_v7(),
            token_hash: &hash,
            family_id: session.0,
            user_id: user.0,
            issued_at: now,
            expires_at: now + crate::keys::delta(store.ttl),
        },
    )
    .await?;
    Ok(token)
}
