//! `POST /auth/register`.

use crate::helpers::{PASSWORD, TestApp, fields, problem, unique_email};
use reqwest::StatusCode;
use serde_json::json;
use shop_auth::tokens::TokenResponse;
use shop_common::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_returns_201_with_tokens_that_verify_against_the_jwks() {
    let app = TestApp::spawn().await;
    let email = unique_email("ann");
    let started = chrono::Utc::now().timestamp();
    // A `role` in the body is ignored: every registration is a customer.
    let response = app
        .register_json(&json!({"email": format!("  {}  ", email.to_uppercase()), "password": PASSWORD,
                               "name": " Ann Lee ", "role": "admin", "roles": ["admin"]}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: TokenResponse = response.json().await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    assert_eq!(tokens.refresh_expires_in, 30 * 24 * 3600);
    assert_eq!(tokens.refresh_token.len(), 43, "32 random bytes, base64url");
    assert_eq!(tokens.user.email, email, "normalised");
    assert_eq!(tokens.user.name, "Ann Lee");
    assert_eq!(tokens.user.roles, vec![Role::Customer]);

    let header = jsonwebtoken::decode_header(&tokens.access_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwks = app.jwks().await;
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(header.kid, jwks.keys[0].common.key_id);

    let claims = app.verify(&tokens.access_token).await.expect("verifies with the JWKS key");
    assert_eq!(claims.sub, tokens.user.id.to_string());
    assert_eq!(claims.roles, vec![Role::Customer]);
    assert_eq!(claims.iss, "shop-auth");
    assert_eq!(claims.aud, "shop");
    assert!(claims.iat >= started && claims.iat <= chrono::Utc::now().timestamp());
    assert_eq!(claims.nbf, claims.iat);
    assert_eq!(claims.exp - claims.iat, 900);
    assert!(uuid::Uuid::parse_str(&claims.jti).is_ok());
    assert!(app.redis_exists(&format!("session:{}", claims.sid)).await, "the session is in Redis");

    let stored_role = app.sql_i64("SELECT count(*) AS value FROM users WHERE role = 'customer'").await;
    assert_eq!(stored_role, 1);
    let hash_is_argon2id =
        app.sql_i64("SELECT count(*) AS value FROM users WHERE password_hash LIKE '$argon2id$%'").await;
    assert_eq!(hash_is_argon2id, 1, "only the argon2id hash is stored");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_email_in_any_case_or_spacing_is_409() {
    let app = TestApp::spawn().await;
    let email = unique_email("dup");
    app.register_ok(&email).await;
    for variant in [email.clone(), email.to_uppercase(), format!("  {email}\t"), capitalise(&email)] {
        let response = app.register(&variant, "another password", "Someone Else").await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{variant:?}");
        let body = problem(response).await;
        assert_eq!(body["code"], "conflict");
    }
    assert_eq!(app.user_count().await, 1);
    app.stop().await;
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_registrations_are_400_with_field_errors_and_store_nothing() {
    // Every attempt counts against the per-IP register limit; this test makes many.
    let app = TestApp::spawn_with(crate::helpers::Options::default().env("REGISTER_LIMIT_PER_IP", "1000")).await;
    let ok_email = unique_email("valid");
    let cases = [
        (json!({"email": "not-an-email", "password": PASSWORD, "name": "Ann"}), vec!["email"]),
        (json!({"email": ok_email, "password": "7chars!", "name": "Ann"}), vec!["password"]),
        (json!({"email": ok_email, "password": "p".repeat(129), "name": "Ann"}), vec!["password"]),
        (json!({"email": ok_email, "password": PASSWORD, "name": ""}), vec!["name"]),
        (json!({"email": ok_email, "password": PASSWORD, "name": "   "}), vec!["name"]),
        (json!({"email": ok_email, "password": PASSWORD, "name": "n".repeat(101)}), vec!["name"]),
        (json!({"email": "' OR 1=1; DROP TABLE users; --", "password": PASSWORD, "name": "x"}), vec!["email"]),
        (json!({"email": "admin'--@example.com' OR '1'='1", "password": PASSWORD, "name": "x"}), vec!["email"]),
        (json!({"email": "ann\u{202E}moc.elpmaxe@evil.com", "password": PASSWORD, "name": "x"}), vec!["email"]),
        (json!({"email": "ann\u{0000}@example.com", "password": PASSWORD, "name": "x"}), vec!["email"]),
        (json!({"email": ok_email, "password": "🔑".repeat(129), "name": "x"}), vec!["password"]),
        (json!({"email": ok_email, "password": "nul\u{0000}inside", "name": "x"}), vec!["password"]),
        (json!({"email": "bad", "password": "short", "name": ""}), vec!["email", "password", "name"]),
        (json!({}), vec!["email", "password", "name"]),
        (json!({"email": 42, "password": PASSWORD, "name": "x"}), vec!["email"]),
    ];
    for (body, expected) in cases {
        let response = app.register_json(&body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let problem = problem(response).await;
        assert_eq!(problem["code"], "validation_failed", "{body}: {problem}");
        assert_eq!(fields(&problem), expected, "{body}: {problem}");
    }
    // Malformed JSON is a 400 too, never a 500.
    let response = app
        .client
        .post(app.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.user_count().await, 0, "nothing stored");
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM refresh_tokens").await, 0);
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM outbox").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_per_ip_are_rate_limited() {
    let app = TestApp::spawn_with(crate::helpers::Options::default().env("REGISTER_LIMIT_PER_IP", "2")).await;
    app.register_ok(&unique_email("r1")).await;
    // A failed attempt counts too: the limit is on attempts, so junk cannot probe for free.
    assert_eq!(app.register("junk", "x", "").await.status(), StatusCode::BAD_REQUEST);
    let limited = app.register(&unique_email("r3"), PASSWORD, "Ann").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(problem(limited).await["code"], "too_many_requests");

    // Another client IP is not affected.
    let other = app
        .client
        .post(app.url("/auth/register"))
        .header("x-forwarded-for", crate::helpers::random_ip())
        .json(&json!({"email": unique_email("r4"), "password": PASSWORD, "name": "Bo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::CREATED);
    app.stop().await;
}
