//! `POST /auth/login`, its uniform failures and its rate limits.

use crate::helpers::{EVENT_TIMEOUT, Options, PASSWORD, TestApp, problem, random_ip, unique_email};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_auth::tokens::TokenResponse;
use shop_common::auth::Role;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_returns_a_new_session_for_the_right_password() {
    let app = TestApp::spawn().await;
    let email = unique_email("login");
    let registered = app.register_ok(&email).await;
    let tokens = app.login_ok(&format!(" {} ", email.to_uppercase()), PASSWORD).await;
    assert_eq!(tokens.user, registered.user);
    let claims = app.verify(&tokens.access_token).await.unwrap();
    let first = app.verify(&registered.access_token).await.unwrap();
    assert_eq!(claims.sub, registered.user.id.to_string());
    assert_eq!(claims.roles, vec![Role::Customer]);
    assert_ne!(claims.sid, first.sid, "each login is its own session");
    assert_ne!(tokens.refresh_token, registered.refresh_token);
    app.stop().await;
}

/// Everything but `request_id` (which differs per request by design).
fn without_request_id(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("request_id");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_email_get_identical_401s() {
    let app = TestApp::spawn().await;
    let email = unique_email("known");
    app.register_ok(&email).await;

    let wrong_password = app.login(&email, "not the password").await;
    let unknown_email = app.login(&unique_email("nobody"), PASSWORD).await;
    let junk_email = app.login("' OR 1=1 --", "x' OR 'x'='x").await;
    let mut bodies = Vec::new();
    for response in [wrong_password, unknown_email, junk_email] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get("retry-after").is_none());
        bodies.push(without_request_id(problem(response).await));
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0], bodies[2]);
    assert_eq!(bodies[0]["code"], "unauthorized");

    // Missing fields are a client error, not a login failure.
    let response = app.client.post(app.url("/auth/login")).json(&json!({"email": email})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_for_one_account_hit_429_while_other_accounts_are_unaffected() {
    let app =
        TestApp::spawn_with(Options::default().env("LOGIN_LIMIT_PER_ACCOUNT", "3").env("LOGIN_LIMIT_PER_IP", "50"))
            .await;
    let victim = unique_email("victim");
    let bystander = unique_email("bystander");
    app.register_ok(&victim).await;
    app.register_ok(&bystander).await;

    // Successful logins do not count against the limit.
    for _ in 0..4 {
        app.login_ok(&victim, PASSWORD).await;
    }
    for attempt in 0..3 {
        assert_eq!(app.login(&victim, "guess").await.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let limited = app.login(&victim, "guess").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    assert_eq!(problem(limited).await["code"], "too_many_requests");
    // While limited even the right password is refused: the limit is what stops guessing.
    assert_eq!(app.login(&victim, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // Case and spacing variants are the same account.
    assert_eq!(app.login(&victim.to_uppercase(), PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);

    // Another account from the same client is fine.
    app.login_ok(&bystander, PASSWORD).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_from_one_ip_hit_429_and_the_window_slides_open_again() {
    let app = TestApp::spawn_with(
        Options::default()
            .env("LOGIN_LIMIT_PER_ACCOUNT", "100")
            .env("LOGIN_LIMIT_PER_IP", "2")
            .env("RATE_LIMIT_WINDOW_SECS", "2"),
    )
    .await;
    let email = unique_email("spray");
    app.register_ok(&email).await;
    // Password spraying: one guess each for many accounts from one address.
    assert_eq!(app.login(&unique_email("a"), "guess").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login(&unique_email("b"), "guess").await.status(), StatusCode::UNAUTHORIZED);
    let limited = app.login(&email, PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");

    // The same account from another address is not blocked by this address's failures.
    let elsewhere = app
        .client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", format!("203.0.113.9, {}", random_ip()))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::OK);

    // Recovery: once the failures leave the window, the address may log in again.
    shop_testkit::wait_until(Duration::from_secs(10), "the login window to slide past the failures", || async {
        app.login(&email, PASSWORD).await.status() == StatusCode::OK
    })
    .await
    .unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_login_events_reach_the_broker() {
    let app = TestApp::spawn().await;
    let email = unique_email("events");
    let registered = app.register_ok(&email).await;
    let _: TokenResponse = app.login_ok(&email, PASSWORD).await;

    let topic = format!("{}user_events", app.prefix);
    let records = shop_testkit::kafka::read_topic(&topic, 2, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
    assert_eq!(records.len(), 2, "exactly the two events");
    let user_id = registered.user.id.to_string();
    let envelope = |kind: &str| {
        records
            .iter()
            .filter_map(|r| r.envelope.as_ref())
            .find(|e| e.event_type == kind)
            .unwrap_or_else(|| panic!("no {kind} event"))
            .clone()
    };
    let registered_event = envelope("user.registered");
    assert_eq!(registered_event.version, 1);
    assert_eq!(registered_event.source, "auth");
    assert_eq!(registered_event.key, user_id);
    let data: shop_auth::events::UserRegistered = registered_event.data_as().unwrap();
    assert_eq!(data.user_id, registered.user.id);
    assert_eq!(data.email, email);
    assert_eq!(data.name, "Test User");
    assert_eq!(data.registered_at, registered.user.created_at);

    let logged_in = envelope("user.logged_in");
    let data: shop_auth::events::UserLoggedIn = logged_in.data_as().unwrap();
    assert_eq!(data.user_id, registered.user.id);
    assert!(records.iter().all(|r| r.key == user_id), "keyed by the user");
    assert!(records.iter().all(|r| r.headers.contains_key("x-request-id")), "request ids travel with events");
    app.stop().await;
}
