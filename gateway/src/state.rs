//! What every gateway handler shares: the one upstream HTTP client, where the services are, the
//! limits, the Redis pool and the token verifier.

use crate::auth::Authenticator;
use crate::auth::denylist::DenyList;
use crate::auth::verify::Verifier;
use crate::ratelimit::RateLimiter;
use crate::settings::Settings;
use crate::upstream::Upstreams;
use anyhow::Context;
use shop_common::redis::{self, RedisPool};
use std::sync::Arc;
use std::time::Duration;

/// Idle upstream connections are closed a little before actix's default keep-alive (5 s) would
/// close them from the other side; reusing a connection the server is closing right then would
/// fail a request that cannot be retried (its body is a one-shot stream).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// Idle connections kept per service; enough for the gateway's concurrency, bounded so a burst
/// does not leave hundreds of sockets open.
const POOL_MAX_IDLE_PER_HOST: usize = 64;

/// Shared by all workers through `web::Data` (an `Arc`). `client` serves the gateway's own calls
/// (health, scrapes, JWKS); proxied traffic uses each worker's [`WorkerClient`].
pub struct GatewayState {
    pub client: reqwest::Client,
    pub upstream_connect_timeout: Duration,
    pub upstreams: Upstreams,
    pub upstream_timeout: Duration,
    pub max_body_bytes: u64,
    pub redis: RedisPool,
    pub auth: Authenticator,
    pub rate_limiter: Arc<RateLimiter>,
    pub trusted_proxies: Vec<crate::ratelimit::TrustedNetwork>,
    /// Redis for what keeps its own connections: the deny-list and the rate limiter's sync.
    pub redis_client: shop_common::redis::redis::Client,
}

impl GatewayState {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let client = build_client(settings)?;
        let redis = redis::build_pool(&settings.redis)?;
        let redis_client = shop_common::redis::redis::Client::open(settings.redis.url.expose())
            .map_err(|err| anyhow::anyhow!("the Redis URL is invalid: {err}"))?;
        // JWKS fetches share the upstream client (and its pool): the auth service is an upstream.
        let auth = Authenticator::new(
            Verifier::new(&settings.auth, &client),
            DenyList::new(redis_client.clone(), settings.redis.timeout, settings.auth.denylist_replica_capacity),
        );
        Ok(Self {
            client,
            upstream_connect_timeout: settings.upstream_connect_timeout,
            upstreams: settings.upstreams.clone(),
            upstream_timeout: settings.upstream_timeout,
            max_body_bytes: settings.max_body_bytes,
            redis,
            auth,
            rate_limiter: Arc::new(RateLimiter::new(settings.rate_limit.clone())),
            trusted_proxies: settings.trusted_proxies.clone(),
            redis_client,
        })
    }

    /// A client for one worker's proxied traffic (see [`WorkerClient`]).
    pub fn worker_client(&self) -> WorkerClient {
        match upstream_client(self.upstream_connect_timeout) {
            Ok(client) => WorkerClient(client),
            Err(err) => {
                tracing::warn!(error = %err, "building a per-worker upstream client failed; sharing the common one");
                WorkerClient(self.client.clone())
            }
        }
    }
}

/// One upstream client (and connection pool) per actix worker. Each worker runs its own
/// single-threaded runtime, and a pooled connection's I/O task lives on the runtime that opened it;
/// with one shared pool, a worker reusing another worker's connection paid two cross-thread
/// wake-ups per request. Per-worker pools keep every proxied request on its worker's thread.
pub struct WorkerClient(pub reqwest::Client);

fn build_client(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    upstream_client(settings.upstream_connect_timeout)
}

fn upstream_client(connect_timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
        .tcp_nodelay(true)
        // A proxy passes redirects to the client instead of following them itself.
        .redirect(reqwest::redirect::Policy::none())
        // Upstreams are on the private network; an HTTP_PROXY meant for outbound traffic must not apply.
        .no_proxy()
        .build()
        .context("building the upstream HTTP client")
}
