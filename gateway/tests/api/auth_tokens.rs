//! The security list for tokens, through the gateway: every forged, expired, misdirected or
//! revoked token is a 401 problem+json, on any route, and never reaches a service.

use crate::support::auth::{AuthedPlatform, assert_unauthorized, counter, deny, echoed, redis_pool};
use crate::support::relay::RedisRelay;
use serde_json::json;
use shop_testkit::jwt::{self, Ed25519Key};

/// Claims as the auth service issues them, changed by `edit`.
fn claims_with(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let mut claims = jwt::access_claims(&["customer"], 900);
    edit(&mut claims);
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_is_forwarded_and_bad_ones_never_are() {
    let platform = AuthedPlatform::start(&[]).await;
    let key = &platform.key;
    let now = crate::support::auth::now();

    // The baseline: the same claims, correctly signed, pass.
    let echo = echoed(platform.get("/auth/profile", Some(&key.sign(&claims_with(|_| {})))).await).await;
    assert_eq!(echo["path"], "/auth/profile");
    // Within the 30 s leeway: still accepted.
    let echo =
        echoed(platform.get("/auth/profile", Some(&key.sign(&claims_with(|c| c["exp"] = json!(now - 10))))).await)
            .await;
    assert_eq!(echo["path"], "/auth/profile");
    let forwarded = platform.forwarded();

    let impostor = Ed25519Key::with_kid(key.kid());
    let cases: Vec<(&str, String)> = vec![
        ("expired", key.sign(&claims_with(|c| c["exp"] = json!(now - 120)))),
        ("not yet valid", key.sign(&claims_with(|c| c["nbf"] = json!(now + 120)))),
        ("signed by another key under the same kid", impostor.sign(&claims_with(|_| {}))),
        ("alg none", jwt::forge_alg_none(&claims_with(|_| {}), Some(key.kid()))),
        ("alg none without kid", jwt::forge_alg_none(&claims_with(|_| {}), None)),
        ("HS256 with the public key's x as secret", jwt::forge_hs256_with_public_key(key, &claims_with(|_| {}))),
        (
            "HS256 with the raw public key as secret",
            jwt::mint_hs256_with_kid(&key.public_key(), key.kid(), &claims_with(|_| {})),
        ),
        ("wrong audience", key.sign(&claims_with(|c| c["aud"] = json!("another-api")))),
        ("wrong issuer", key.sign(&claims_with(|c| c["iss"] = json!("https://evil.example")))),
        ("no audience", key.sign(&claims_with(|c| c["aud"] = json!(null)))),
        ("tampered roles", jwt::tamper_claims(&key.sign(&claims_with(|_| {})), |c| c["roles"] = json!(["admin"]))),
        ("unknown role", key.sign(&claims_with(|c| c["roles"] = json!(["root"])))),
        ("sub not a UUID", key.sign(&claims_with(|c| c["sub"] = json!("alice")))),
        (
            "no jti",
            key.sign(&claims_with(|c| {
                c.as_object_mut().unwrap().remove("jti");
            })),
        ),
        ("no kid", key.sign_without_kid(&claims_with(|_| {}))),
        ("signature cut off", key.sign(&claims_with(|_| {})).rsplit_once('.').unwrap().0.to_owned() + "."),
        ("not a JWT", "abc.def.ghi".to_owned()),
    ];
    for (case, token) in cases {
        let body = assert_unauthorized(platform.get("/auth/profile", Some(&token)).await).await;
        // A public route is no way around it: a bad token is refused wherever it is sent.
        assert_unauthorized(platform.get("/products", Some(&token)).await).await;
        assert!(!body["detail"].as_str().unwrap().contains(key.kid()), "{case}: {body}");
    }
    assert_eq!(platform.forwarded(), forwarded, "no refused request may reach a service");

    // Expired tokens say so (the client should refresh); the rest say only "invalid".
    let expired = key.sign(&claims_with(|c| c["exp"] = json!(now - 120)));
    let body = assert_unauthorized(platform.get("/cart", Some(&expired)).await).await;
    assert_eq!(body["detail"], "the access token has expired");

    let metrics = platform.gateway.get("/metrics").await.text().await.unwrap();
    for reason in
        ["expired", "bad_signature", "unsupported_algorithm", "wrong_audience", "wrong_issuer", "invalid_claims"]
    {
        let series = format!("gateway_auth_failures_total{{reason=\"{reason}\"}}");
        assert!(counter(&metrics, &series) >= 1.0, "{series} missing:\n{metrics}");
    }
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kid_costs_one_refetch_then_a_401() {
    let platform = AuthedPlatform::start(&[]).await;
    // The first token loads the key set.
    echoed(platform.get("/auth/profile", Some(&platform.token(&["customer"]))).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 1);

    let stranger = Ed25519Key::generate();
    let token = stranger.sign(&jwt::access_claims(&["customer"], 900));
    // Within the refetch floor (5 s by default) the set is not fetched again...
    assert_unauthorized(platform.get("/auth/profile", Some(&token)).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 1);
    platform.stop().await;

    // ...and once the floor has passed, an unknown kid refetches exactly once before the 401.
    let platform = AuthedPlatform::start(&[("JWKS_REFRESH_FLOOR_MS", "200")]).await;
    echoed(platform.get("/auth/profile", Some(&platform.token(&["customer"]))).await).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_unauthorized(platform.get("/auth/profile", Some(&token)).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 2);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_listed_token_is_refused_and_others_of_the_user_are_not() {
    // The replica off: every check asks Redis, so the entry counts from the moment it is written
    // (with the replica on, see `denylist_replica`).
    let platform = AuthedPlatform::start(&[("DENYLIST_REPLICA_CAPACITY", "0")]).await;
    let redis = redis_pool();
    let claims = jwt::access_claims(&["customer"], 900);
    let token = platform.key.sign(&claims);
    echoed(platform.get("/auth/profile", Some(&token)).await).await;

    deny(&redis, claims["jti"].as_str().unwrap()).await;
    let body = assert_unauthorized(platform.get("/auth/profile", Some(&token)).await).await;
    assert_eq!(body["detail"], "the access token has been revoked");
    // Also where no token is needed: a logged-out token is not a guest pass.
    assert_unauthorized(platform.get("/products", Some(&token)).await).await;

    // A new token of the same user (new jti, e.g. after logging in again) works.
    let mut fresh = claims.clone();
    fresh["jti"] = json!(uuid::Uuid::new_v4().to_string());
    echoed(platform.get("/auth/profile", Some(&platform.key.sign(&fresh))).await).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_with_a_503() {
    let dead_redis = format!("redis://127.0.0.1:{}", crate::support::dead_url().rsplit(':').next().unwrap());
    let platform = AuthedPlatform::start(&[("REDIS_URL", &dead_redis)]).await;
    let token = platform.token(&["customer"]);

    for path in ["/auth/profile", "/products"] {
        let response = platform.get(path, Some(&token)).await;
        assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("2"), "{path}");
        let body = crate::support::assert_problem(response, 503, "service_unavailable").await;
        assert!(body["detail"].as_str().unwrap().contains("unavailable"), "{body}");
    }
    // Anonymous requests do not need Redis: public routes keep working.
    echoed(platform.get("/products", None).await).await;
    assert_eq!(platform.forwarded(), 1);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deny_list_check_recovers_when_redis_comes_back() {
    let relay = RedisRelay::start(0).await;
    let platform = AuthedPlatform::start(&[("REDIS_URL", &relay.url())]).await;
    let token = platform.token(&["customer"]);
    echoed(platform.get("/auth/profile", Some(&token)).await).await;

    // Redis goes away: the shared connection breaks and every check fails closed.
    let port = relay.stop().await;
    for _ in 0..2 {
        crate::support::assert_problem(platform.get("/auth/profile", Some(&token)).await, 503, "service_unavailable")
            .await;
    }

    // Redis is back on the same address: the next check reconnects.
    let relay = RedisRelay::start(port).await;
    echoed(platform.get("/auth/profile", Some(&token)).await).await;
    platform.stop().await;
    relay.stop().await;
}
