//! Per-client rate limits (docs/gateway.md "Rate limits"): a client past its limit gets a 429
//! problem+json with `Retry-After`, other clients and the probes do not, and gateways sharing Redis
//! count a client's requests together.

use crate::support::auth::{AuthedPlatform, echoed, redis_pool};
use crate::support::{TestGateway, assert_problem, fake_platform};
use shop_common::redis::redis;
use shop_testkit::wait::wait_until;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Waits, if needed, until the current minute has at least `seconds` left, so the counts a test
/// expects are not split across two rate-limit windows.
async fn with_seconds_left_in_the_minute(seconds: u64) {
    let seconds_into = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 60;
    wait_until(Duration::from_secs(seconds + 5), "a fresh minute", || async { seconds_into() < 60 - seconds })
        .await
        .unwrap();
}

/// The fleet-wide count Redis holds for `client` (e.g. `ip:127.0.0.1`) in the current window.
async fn redis_count(prefix: &str, client: &str) -> u64 {
    let window = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 60;
    let mut conn = redis_pool().get().await.unwrap();
    redis::cmd("GET")
        .arg(format!("{prefix}{client}:{window}"))
        .query_async::<Option<u64>>(&mut conn)
        .await
        .unwrap()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_past_its_limit_gets_a_429_and_others_do_not() {
    with_seconds_left_in_the_minute(10).await;
    let platform = AuthedPlatform::start(&[("RATE_LIMIT_PER_MINUTE", "5")]).await;
    for _ in 0..5 {
        echoed(platform.get("/products", None).await).await;
    }
    let refused = platform.get("/products", None).await;
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let body = assert_problem(refused, 429, "too_many_requests").await;
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    let forwarded = platform.forwarded();

    // Another client (a signed-in user is counted as that user) is not affected...
    let token = platform.token(&["customer"]);
    echoed(platform.get("/products", Some(&token)).await).await;
    // ...nor are the probes, and nothing refused reached a service.
    assert_eq!(platform.gateway.get("/health").await.status(), 200);
    assert_eq!(platform.gateway.get("/metrics").await.status(), 200);
    assert_eq!(platform.get("/products", None).await.status(), 429);
    assert_eq!(platform.forwarded(), forwarded + 1, "only the user's request was forwarded");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateways_sharing_redis_count_a_client_together() {
    with_seconds_left_in_the_minute(20).await;
    let prefix = format!("{}ratelimit:", shop_testkit::unique_prefix());
    let fakes = fake_platform();
    let fakes: Vec<_> = fakes.iter().collect();
    let settings =
        [("RATE_LIMIT_PER_MINUTE", "10"), ("RATE_LIMIT_SYNC_MS", "50"), ("RATE_LIMIT_KEY_PREFIX", prefix.as_str())];
    let first = TestGateway::in_front_of(&fakes, &settings).await;
    let second = TestGateway::in_front_of(&fakes, &settings).await;

    for _ in 0..6 {
        assert_eq!(first.get("/products").await.status(), 200);
    }
    wait_until(Duration::from_secs(10), "the first gateway's counts in Redis", || async {
        redis_count(&prefix, "ip:127.0.0.1").await >= 6
    })
    .await
    .unwrap();
    // The second gateway learns the total with its first exchange after seeing the client.
    assert_eq!(second.get("/products").await.status(), 200);
    wait_until(Duration::from_secs(10), "the second gateway's count in Redis", || async {
        redis_count(&prefix, "ip:127.0.0.1").await >= 7
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await; // one more exchange reads the total back
    for n in 8..=10 {
        assert_eq!(second.get("/products").await.status(), 200, "request {n} of 10");
    }
    assert_eq!(second.get("/products").await.status(), 429, "the 11th, across both gateways");
    first.stop().await;
    second.stop().await;
}
