//! The gateway and the auth service together, in-process: a user registers, logs in and reads the
//! profile through the gateway; after logout the same access token is refused by the gateway (the
//! deny-list in Redis), and the refresh token no longer works.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use serde_json::{Value, json};
use shop_common::settings::Env;
use shop_testkit::{TestDb, service_env, unique_prefix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_used_after_logout_is_refused_at_the_gateway() {
    let db = TestDb::create("auth", shop_auth::DEFINITION.migrations).await.unwrap();
    let common = shop_auth::DEFINITION.settings(&service_env(&db, &unique_prefix())).unwrap();
    // Through the gateway every request comes from 127.0.0.1: lift the per-IP limits so runs of
    // this test within the hour do not trip them.
    let limits = Env::from_pairs([("REGISTER_LIMIT_PER_IP", "100000"), ("LOGIN_LIMIT_PER_IP", "100000")]);
    let auth = shop_auth::start(shop_auth::Settings::from_parts(common, &limits).unwrap()).await.unwrap();

    let gateway = shop_system_tests::in_process_gateway(&[("AUTH", auth.base_url())]).await;
    let base = gateway.base_url();
    let client = reqwest::Client::new();

    let email = format!("gw-{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let password = "correct horse battery";
    let response = client
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": email, "password": password, "name": "Gateway Test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());

    let response = client
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The gateway verifies the EdDSA token against the auth service's JWKS and forwards the identity.
    let response = client.get(format!("{base}/auth/profile")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let profile: Value = response.json().await.unwrap();
    assert_eq!(profile["email"], email.as_str());
    assert_eq!(profile["roles"], json!(["customer"]));

    let response = client
        .post(format!("{base}/auth/logout"))
        .bearer_auth(&access)
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());

    // The same, still unexpired token: refused by the gateway before it reaches the service.
    for path in ["/auth/profile", "/products"] {
        let response = client.get(format!("{base}{path}")).bearer_auth(&access).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["detail"], "the access token has been revoked", "{problem}");
    }
    // And the session is gone: the refresh token is refused too.
    let response =
        client.post(format!("{base}/auth/refresh")).json(&json!({"refresh_token": refresh})).send().await.unwrap();
    assert_eq!(response.status(), 401);

    gateway.stop().await;
    auth.stop().await;
}
