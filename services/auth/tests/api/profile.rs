//! `GET /auth/profile` and `PUT /auth/profile`.

use crate::helpers::{PASSWORD, TestApp, fields, problem, unique_email};
use reqwest::StatusCode;
use serde_json::json;
use shop_auth::domain::User;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_shows_the_caller_and_renames() {
    let app = TestApp::spawn().await;
    let tokens = app.register_ok(&unique_email("me")).await;
    let identity = app.identity(&tokens).await;

    let response = app.get_profile(&identity).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body.get("password_hash").is_none(), "{body}");
    let profile: User = serde_json::from_value(body).unwrap();
    assert_eq!(profile, tokens.user);

    let response = app.put_profile(&identity, &json!({"name": "  New Name  "})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let renamed: User = response.json().await.unwrap();
    assert_eq!(renamed.name, "New Name");
    assert_eq!(renamed.email, tokens.user.email);
    let again: User = app.get_profile(&identity).await.json().await.unwrap();
    assert_eq!(again.name, "New Name");

    let response = app.put_profile(&identity, &json!({"name": ""})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&problem(response).await), ["name"]);
    // An empty update changes nothing.
    let unchanged: User = app.put_profile(&identity, &json!({})).await.json().await.unwrap();
    assert_eq!(unchanged.name, "New Name");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_needs_the_current_password_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let email = unique_email("pw");
    let here = app.register_ok(&email).await;
    let elsewhere = app.login_ok(&email, PASSWORD).await;
    let elsewhere_sid = app.verify(&elsewhere.access_token).await.unwrap().sid;
    let identity = app.identity(&here).await;

    let missing = app.put_profile(&identity, &json!({"new_password": "a brand new secret"})).await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&problem(missing).await), ["current_password"]);

    let wrong =
        app.put_profile(&identity, &json!({"current_password": "not it", "new_password": "a brand new secret"})).await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&problem(wrong).await), ["current_password"]);

    let too_short = app.put_profile(&identity, &json!({"current_password": PASSWORD, "new_password": "short"})).await;
    assert_eq!(fields(&problem(too_short).await), ["new_password"]);

    let ok =
        app.put_profile(&identity, &json!({"current_password": PASSWORD, "new_password": "a brand new secret"})).await;
    assert_eq!(ok.status(), StatusCode::OK);

    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    app.login_ok(&email, "a brand new secret").await;
    // The other session is over; this one goes on.
    assert_eq!(app.refresh(&elsewhere.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    assert!(!app.redis_exists(&format!("session:{elsewhere_sid}")).await);
    app.refresh_ok(&here.refresh_token).await;
    app.stop().await;
}
