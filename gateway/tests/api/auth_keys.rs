//! Key sets through the gateway: rotation, the refetch floor under a burst, an issuer that is down,
//! HS256 with `SECRET_KEY`, and the OIDC (Keycloak) issuer with its own key set.

use crate::support::auth::{AuthedPlatform, assert_unauthorized, counter, echoed};
use crate::support::{FakeUpstream, assert_problem};
use futures_util::future::join_all;
use serde_json::json;
use shop_testkit::jwt::{self, Ed25519Key, Es256Key};
use std::time::Duration;

const SECRET: &str = "a-secret-key-of-at-least-32-bytes!!";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_with_one_refetch() {
    let platform = AuthedPlatform::start(&[("JWKS_REFRESH_FLOOR_MS", "300")]).await;
    let old_token = platform.token(&["customer"]);
    echoed(platform.get("/auth/profile", Some(&old_token)).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 1);

    // The auth service rotates: a new active key, the old one still published.
    let new_key = Ed25519Key::generate();
    platform.auth().serve_jwks(jwt::jwks(&[&platform.key, &new_key]));
    tokio::time::sleep(Duration::from_millis(400)).await; // past the refetch floor
    let new_token = new_key.sign(&jwt::access_claims(&["customer"], 900));
    echoed(platform.get("/auth/profile", Some(&new_token)).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 2, "one refetch for the new kid");

    // Both keys now verify from the cache, without more fetches.
    for _ in 0..3 {
        echoed(platform.get("/auth/profile", Some(&new_token)).await).await;
        echoed(platform.get("/auth/profile", Some(&old_token)).await).await;
    }
    assert_eq!(platform.auth().jwks_fetches(), 2);

    let metrics = platform.gateway.get("/metrics").await.text().await.unwrap();
    assert_eq!(counter(&metrics, r#"gateway_jwks_fetches_total{source="shop",result="ok"}"#), 2.0, "{metrics}");
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_key_stops_verifying_tokens_seen_before() {
    let platform = AuthedPlatform::start(&[("JWKS_REFRESH_FLOOR_MS", "200")]).await;
    let token = platform.token(&["customer"]);
    // Verified once, then served from the gateway's verified-token cache.
    for _ in 0..3 {
        echoed(platform.get("/auth/profile", Some(&token)).await).await;
    }

    // An emergency rotation: the old key is withdrawn, a new one published.
    let new_key = Ed25519Key::generate();
    platform.auth().serve_jwks(jwt::jwks(&[&new_key]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    echoed(platform.get("/auth/profile", Some(&new_key.sign(&jwt::access_claims(&["customer"], 900)))).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 2);

    // The refetched set no longer has the old key: its token is refused although seen before.
    assert_unauthorized(platform.get("/auth/profile", Some(&token)).await).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_unknown_kids_costs_at_most_one_fetch_per_floor() {
    let platform = AuthedPlatform::start(&[]).await;
    echoed(platform.get("/auth/profile", Some(&platform.token(&["customer"]))).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 1);

    let tokens: Vec<String> =
        (0..50).map(|_| Ed25519Key::generate().sign(&jwt::access_claims(&["customer"], 900))).collect();
    let responses = join_all(tokens.iter().map(|token| platform.get("/auth/profile", Some(token)))).await;
    for response in responses {
        assert_unauthorized(response).await;
    }
    assert_eq!(platform.auth().jwks_fetches(), 1, "the 5 s floor holds under a burst");
    platform.stop().await;

    // A burst on a cold cache: the concurrent misses share one fetch.
    let platform = AuthedPlatform::start(&[]).await;
    let responses = join_all(tokens.iter().map(|token| platform.get("/auth/profile", Some(token)))).await;
    for response in responses {
        assert_unauthorized(response).await;
    }
    assert_eq!(platform.auth().jwks_fetches(), 1);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_is_down_keeps_known_keys_and_answers_503_for_unknown_ones() {
    let platform = AuthedPlatform::start(&[("JWKS_REFRESH_FLOOR_MS", "100")]).await;
    let token = platform.token(&["customer"]);
    echoed(platform.get("/auth/profile", Some(&token)).await).await;

    platform.auth().fail_jwks(true);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let stranger = Ed25519Key::generate().sign(&jwt::access_claims(&["customer"], 900));
    let response = platform.get("/auth/profile", Some(&stranger)).await;
    assert_eq!(response.headers()["retry-after"], "2");
    assert_problem(response, 503, "service_unavailable").await;
    assert_eq!(platform.auth().jwks_fetches(), 2);
    // The failed fetch left the cached key in place.
    echoed(platform.get("/auth/profile", Some(&token)).await).await;

    // Back up: the next miss after the floor fetches again and gets an honest 401.
    platform.auth().fail_jwks(false);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_unauthorized(platform.get("/auth/profile", Some(&stranger)).await).await;
    assert_eq!(platform.auth().jwks_fetches(), 3);
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_is_accepted_only_with_secret_key_and_only_with_it() {
    let claims = jwt::access_claims(&["customer"], 900);
    let hs256 = jwt::mint_hs256_with_kid(SECRET.as_bytes(), "hs256", &claims);

    // Without SECRET_KEY the gateway refuses HS256 outright.
    let platform = AuthedPlatform::start(&[]).await;
    assert_unauthorized(platform.get("/auth/profile", Some(&hs256)).await).await;
    platform.stop().await;

    let platform = AuthedPlatform::start(&[("SECRET_KEY", SECRET)]).await;
    let echo = echoed(platform.get("/auth/profile", Some(&hs256)).await).await;
    assert_eq!(echo["headers"]["x-auth-user-id"], claims["sub"]);
    // Without a kid too (HS256 deployments need none).
    echoed(platform.get("/auth/profile", Some(&jwt::mint_hs256(SECRET.as_bytes(), &claims))).await).await;
    // EdDSA tokens keep working beside it.
    echoed(platform.get("/auth/profile", Some(&platform.token(&["customer"]))).await).await;

    // With a secret configured, confusion forgeries still fail: HS256 is checked with SECRET_KEY only.
    let forged = jwt::forge_hs256_with_public_key(&platform.key, &claims);
    assert_unauthorized(platform.get("/auth/profile", Some(&forged)).await).await;
    let wrong_secret = jwt::mint_hs256(b"another-secret-key-of-at-least-32-bytes", &claims);
    assert_unauthorized(platform.get("/auth/profile", Some(&wrong_secret)).await).await;
    let tampered = jwt::tamper_claims(&hs256, |c| c["roles"] = json!(["admin"]));
    assert_unauthorized(platform.get("/analytics/revenue", Some(&tampered)).await).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_tokens_are_accepted_with_realm_roles_mapped() {
    const KC_ISSUER: &str = "http://keycloak.test/realms/shop";
    let keycloak = FakeUpstream::start("keycloak");
    // A second locally generated key set, with two key types, as a realm with several keys has.
    let kc_key = Ed25519Key::generate();
    let kc_es256 = Es256Key::generate();
    keycloak.serve_jwks(jwt::jwks(&[&kc_key, &kc_es256]));
    let jwks_url = keycloak.jwks_url();
    let platform =
        AuthedPlatform::start(&[("OIDC_ISSUER", KC_ISSUER), ("OIDC_JWKS_URL", &jwks_url), ("OIDC_AUDIENCE", "shop")])
            .await;
    let kc_admin_id = uuid::Uuid::new_v4().to_string();
    let kc_admin =
        kc_key.sign(&jwt::keycloak_claims(&kc_admin_id, &["default-roles-shop", "admin"], KC_ISSUER, "shop", 300));
    let kc_user_id = uuid::Uuid::new_v4().to_string();
    let kc_user = kc_key.sign(&jwt::keycloak_claims(
        &kc_user_id,
        &["default-roles-shop", "offline_access"],
        KC_ISSUER,
        "shop",
        300,
    ));

    let echo = echoed(platform.get("/analytics/revenue", Some(&kc_admin)).await).await;
    assert_eq!(echo["headers"]["x-auth-user-id"], kc_admin_id.as_str());
    assert_eq!(echo["headers"]["x-auth-roles"], "admin");
    let echo = echoed(platform.get("/orders", Some(&kc_user)).await).await;
    assert_eq!(echo["headers"]["x-auth-user-id"], kc_user_id.as_str());
    assert_eq!(echo["headers"]["x-auth-roles"], "customer");
    assert_problem(platform.get("/analytics/revenue", Some(&kc_user)).await, 403, "forbidden").await;
    let es256_claims = jwt::keycloak_claims(&kc_user_id, &["admin"], KC_ISSUER, "shop", 300);
    let echo = echoed(platform.get("/analytics/revenue", Some(&kc_es256.sign(&es256_claims))).await).await;
    assert_eq!(echo["headers"]["x-auth-roles"], "admin");
    assert_eq!(keycloak.jwks_fetches(), 1);
    // Each key is pinned to its algorithm: an ES256 signature under a header claiming another one fails.
    for alg in ["RS256", "EdDSA", "ES384", "HS256", "none"] {
        let lying = kc_es256.sign_claiming(alg, &es256_claims);
        assert_unauthorized(platform.get("/orders", Some(&lying)).await).await;
    }

    // Shop's own tokens still work; each issuer's tokens verify only with that issuer's keys.
    echoed(platform.get("/orders", Some(&platform.token(&["customer"]))).await).await;
    let shop_key_as_keycloak =
        platform.key.sign(&jwt::keycloak_claims(&kc_user_id, &["admin"], KC_ISSUER, "shop", 300));
    assert_unauthorized(platform.get("/orders", Some(&shop_key_as_keycloak)).await).await;
    let kc_key_as_shop = kc_key.sign(&jwt::access_claims(&["admin"], 300));
    assert_unauthorized(platform.get("/orders", Some(&kc_key_as_shop)).await).await;
    // Shop's issuer takes EdDSA only, even from a key it publishes.
    let shop_es256 = Es256Key::generate();
    platform.auth().serve_jwks(jwt::jwks(&[&platform.key, &shop_es256]));
    let es256_as_shop = shop_es256.sign(&jwt::access_claims(&["customer"], 300));
    assert_unauthorized(platform.get("/orders", Some(&es256_as_shop)).await).await;
    // Pinned algorithms hold for the second issuer too.
    let none = jwt::forge_alg_none(
        &jwt::keycloak_claims(&kc_admin_id, &["admin"], KC_ISSUER, "shop", 300),
        Some(kc_key.kid()),
    );
    assert_unauthorized(platform.get("/orders", Some(&none)).await).await;
    let confused = jwt::forge_hs256_with_public_key(
        &kc_key,
        &jwt::keycloak_claims(&kc_admin_id, &["admin"], KC_ISSUER, "shop", 300),
    );
    assert_unauthorized(platform.get("/orders", Some(&confused)).await).await;
    // OIDC_AUDIENCE is checked when set; a sub that is not a UUID is refused.
    let other_aud = kc_key.sign(&jwt::keycloak_claims(&kc_user_id, &[], KC_ISSUER, "account", 300));
    assert_unauthorized(platform.get("/orders", Some(&other_aud)).await).await;
    let bad_sub = kc_key.sign(&jwt::keycloak_claims("service-account", &[], KC_ISSUER, "shop", 300));
    assert_unauthorized(platform.get("/orders", Some(&bad_sub)).await).await;

    platform.stop().await;
    keycloak.stop().await;
}
