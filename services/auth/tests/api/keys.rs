//! Signing keys: persistence across restarts, rotation, the JWKS, HS256 mode.

use crate::helpers::{Options, TestApp, unique_email};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use shop_auth::keys::{self, KeyPolicy, KeyStore};
use shop_common::auth::AccessClaims;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_is_public_cacheable_and_well_formed() {
    let app = TestApp::spawn().await;
    let response = app.jwks_response().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let body: serde_json::Value = response.json().await.unwrap();
    let key = &body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["x"].as_str().unwrap().len(), 43, "32 bytes, base64url");
    assert!(key.get("d").is_none(), "never the private part");
    let x = base64_decode(key["x"].as_str().unwrap());
    assert_eq!(key["kid"], keys::thumbprint(&x), "kid is the RFC 7638 thumbprint");
    app.stop().await;
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_survive_a_restart() {
    let mut app = TestApp::spawn().await;
    let tokens = app.register_ok(&unique_email("persist")).await;
    let kid_before = jsonwebtoken::decode_header(&tokens.access_token).unwrap().kid.unwrap();

    app.restart().await;
    app.verify(&tokens.access_token).await.expect("a token minted before the restart still verifies");
    let after = app.refresh_ok(&tokens.refresh_token).await;
    let kid_after = jsonwebtoken::decode_header(&after.access_token).unwrap().kid.unwrap();
    assert_eq!(kid_after, kid_before, "same signing key");
    assert_eq!(app.jwks().await.keys.len(), 1);
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM signing_keys").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_key_rotates_at_start_and_the_old_key_stays_published_until_its_tokens_expire() {
    let mut app = TestApp::spawn().await;
    let email = unique_email("rotate");
    let before = app.register_ok(&email).await;
    let old_kid = jsonwebtoken::decode_header(&before.access_token).unwrap().kid.unwrap();

    // Age the active key past KEY_ROTATION_DAYS (30): the start-up check rotates it.
    app.sql("UPDATE signing_keys SET created_at = now() - interval '31 days'").await;
    app.restart().await;
    let after = app.refresh_ok(&before.refresh_token).await;
    let new_kid = jsonwebtoken::decode_header(&after.access_token).unwrap().kid.unwrap();
    assert_ne!(new_kid, old_kid);
    let jwks = app.jwks().await;
    let kids: Vec<_> = jwks.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
    assert_eq!(kids, vec![new_kid.clone(), old_kid.clone()], "newest first, the old one kept");
    app.verify(&before.access_token).await.expect("a token of the retired key still verifies");
    app.verify(&after.access_token).await.expect("the new key verifies");

    // Once every token the old key signed has expired, the key is dropped at the next rotation.
    app.sql(&format!("UPDATE signing_keys SET retired_at = now() - interval '2 hours' WHERE kid = '{old_kid}'")).await;
    let pool = shop_common::db::build_pool(&app.db.settings(), "rotation-test").unwrap();
    let mut conn = pool.get().await.unwrap();
    let policy = KeyPolicy::from_settings(&app.settings().tokens);
    let rotated = keys::rotate(&mut conn, policy, chrono::Utc::now(), true).await.unwrap().unwrap();
    let remaining: Vec<String> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use shop_auth::db::schema::signing_keys;
        signing_keys::table.select(signing_keys::kid).order(signing_keys::created_at).load(&mut conn).await.unwrap()
    };
    assert_eq!(remaining, vec![new_kid.clone(), rotated.clone()], "the expired key is deleted");
    // The running service publishes what another replica rotated right away, not at its next check.
    let served: Vec<_> = app.jwks().await.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
    assert_eq!(served, vec![rotated.clone(), new_kid.clone()]);

    // A running replica picks up another replica's rotation at its next check.
    let store = KeyStore::open(&mut conn, &app.settings().tokens, chrono::Utc::now()).await.unwrap();
    assert_eq!(store.active_kid(), rotated);
    assert_eq!(store.jwks().keys.len(), 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_check_rotates_keys_while_running() {
    let app = TestApp::spawn_with(Options::default().env("KEY_CHECK_INTERVAL_SECS", "1")).await;
    let email = unique_email("bg");
    let before = app.register_ok(&email).await;
    let old_kid = jsonwebtoken::decode_header(&before.access_token).unwrap().kid.unwrap();
    app.sql("UPDATE signing_keys SET created_at = now() - interval '31 days'").await;

    let kid_of_a_new_login = || async {
        let tokens = app.login_ok(&email, crate::helpers::PASSWORD).await;
        jsonwebtoken::decode_header(&tokens.access_token).unwrap().kid.unwrap()
    };
    shop_testkit::wait_until(std::time::Duration::from_secs(10), "the running service to rotate its key", || async {
        kid_of_a_new_login().await != old_kid
    })
    .await
    .unwrap();
    assert_eq!(app.jwks().await.keys.len(), 2);
    app.verify(&before.access_token).await.expect("the old key is still published");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_mode_signs_with_the_secret_key_and_publishes_nothing() {
    let secret = "an-hs256-secret-that-is-long-enough-0123456789";
    let app =
        TestApp::spawn_with(Options { env: vec![("JWT_ALGORITHM", "HS256".into())], secret_key: Some(secret.into()) })
            .await;
    let tokens = app.register_ok(&unique_email("hs")).await;
    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some("hs256"));

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["shop-auth"]);
    validation.set_audience(&["shop"]);
    let claims = jsonwebtoken::decode::<AccessClaims>(
        &tokens.access_token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims.sub, tokens.user.id.to_string());
    let wrong = DecodingKey::from_secret(b"another-secret-that-is-long-enough-000000");
    assert!(jsonwebtoken::decode::<AccessClaims>(&tokens.access_token, &wrong, &validation).is_err());

    assert!(app.jwks().await.keys.is_empty(), "the secret is never published");
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM signing_keys").await, 0);
    app.refresh_ok(&tokens.refresh_token).await;
    app.stop().await;
}
