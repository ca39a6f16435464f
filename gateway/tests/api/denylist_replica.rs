//! The deny-list replica (docs/auth.md, "The deny-list replica"): the gateway answers deny-list
//! checks from memory once it has subscribed and loaded every entry, learns new entries from the
//! auth service's announcements, refuses a token it saw logged out at once, and picks up what it
//! missed by reloading after losing its subscription.

use crate::support::auth::{AuthedPlatform, assert_unauthorized, deny, deny_unannounced, echoed, redis_pool};
use reqwest::Method;
use shop_testkit::jwt;
use shop_testkit::wait::wait_until;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(10);

/// The value of an unlabelled gauge of the gateway's own in its `/metrics`.
async fn gauge(platform: &AuthedPlatform, name: &str) -> Option<f64> {
    let text = platform.get("/metrics", None).await.text().await.ok()?;
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn wait_in_sync(platform: &AuthedPlatform) {
    wait_until(PATIENCE, "the deny-list replica to be in sync", || async {
        gauge(platform, "gateway_denylist_replica_in_sync").await == Some(1.0)
    })
    .await
    .unwrap();
}

/// A token for a fresh user and its `jti`.
fn token(platform: &AuthedPlatform) -> (String, String) {
    let claims = jwt::access_claims(&["customer"], 900);
    (platform.key.sign(&claims), claims["jti"].as_str().unwrap().to_owned())
}

async fn is_refused(platform: &AuthedPlatform, token: &str) -> bool {
    platform.get("/auth/profile", Some(token)).await.status() == 401
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_written_before_the_gateway_started_are_loaded() {
    let redis = redis_pool();
    let claims = jwt::access_claims(&["customer"], 900);
    deny_unannounced(&redis, claims["jti"].as_str().unwrap()).await;

    let platform = AuthedPlatform::start(&[]).await;
    let token = platform.key.sign(&claims);
    wait_in_sync(&platform).await;
    let body = assert_unauthorized(platform.get("/auth/profile", Some(&token)).await).await;
    assert_eq!(body["detail"], "the access token has been revoked");
    assert!(gauge(&platform, "gateway_denylist_replica_entries").await.unwrap() >= 1.0);
    let (other, _) = self::token(&platform);
    echoed(platform.get("/auth/profile", Some(&other)).await).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_entry_reaches_the_replica() {
    let platform = AuthedPlatform::start(&[]).await;
    wait_in_sync(&platform).await;
    let (token, jti) = token(&platform);
    echoed(platform.get("/auth/profile", Some(&token)).await).await;

    deny(&redis_pool(), &jti).await;
    wait_until(PATIENCE, "the announced token to be refused", || is_refused(&platform, &token)).await.unwrap();
    // Refused on public routes too: a logged-out token is not a guest pass.
    assert_unauthorized(platform.get("/products", Some(&token)).await).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_through_this_gateway_is_refused_at_once() {
    let platform = AuthedPlatform::start(&[]).await;
    wait_in_sync(&platform).await;
    let (token, _) = token(&platform);
    // The fake auth service answers the logout 200 but writes nothing to Redis: only the
    // gateway's own record of the logout can refuse the next request.
    let response = platform.call(Method::POST, "/auth/logout", Some(&token)).await;
    assert_eq!(response.status(), 200);
    let body = assert_unauthorized(platform.get("/auth/profile", Some(&token)).await).await;
    assert_eq!(body["detail"], "the access token has been revoked");

    // A refused logout (here: the upstream says 401) records nothing.
    let (other, _) = self::token(&platform);
    let response = platform
        .gateway
        .client
        .post(platform.gateway.url("/auth/logout"))
        .bearer_auth(&other)
        .header("x-echo-status", "401")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    echoed(platform.get("/auth/profile", Some(&other)).await).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_losing_its_subscription_it_reloads_what_it_missed() {
    let redis = redis_pool();
    let platform = AuthedPlatform::start(&[]).await;
    wait_in_sync(&platform).await;
    let (token, jti) = token(&platform);
    // Written without an announcement: the replica cannot know until it reloads.
    deny_unannounced(&redis, &jti).await;
    echoed(platform.get("/auth/profile", Some(&token)).await).await;

    // Drop every subscriber connection (other tests' gateways reload too: harmless).
    let mut conn = redis.get().await.unwrap();
    let _: i64 = shop_common::redis::redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    wait_until(PATIENCE, "the reloaded replica to refuse the token", || is_refused(&platform, &token)).await.unwrap();
    wait_in_sync(&platform).await;
    platform.stop().await;
}
