//! The bootstrap admin and the admin endpoints.

use crate::helpers::{EVENT_TIMEOUT, Options, TestApp, fields, problem, unique_email};
use reqwest::StatusCode;
use serde_json::json;
use shop_auth::domain::User;
use shop_common::auth::Role;
use shop_common::http::Page;
use std::time::Duration;

const ADMIN_PASSWORD: &str = "admin password 1";

async fn app_with_admin(admin_email: &str) -> TestApp {
    TestApp::spawn_with(Options::default().env("ADMIN_EMAIL", admin_email).env("ADMIN_PASSWORD", ADMIN_PASSWORD)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_admin_is_created_once() {
    let admin_email = unique_email("root");
    let mut app = app_with_admin(&format!(" {} ", admin_email.to_uppercase())).await;
    let tokens = app.login_ok(&admin_email, ADMIN_PASSWORD).await;
    assert_eq!(tokens.user.roles, vec![Role::Admin]);
    assert_eq!(tokens.user.name, "Administrator");
    assert_eq!(app.verify(&tokens.access_token).await.unwrap().roles, vec![Role::Admin]);

    // The admin changes their password; a restart must neither duplicate nor reset the account.
    let identity = app.identity(&tokens).await;
    let changed = app
        .put_profile(&identity, &json!({"current_password": ADMIN_PASSWORD, "new_password": "rotated admin pw"}))
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    app.restart().await;
    app.restart().await;
    assert_eq!(app.user_count().await, 1);
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM users WHERE role = 'admin'").await, 1);
    assert_eq!(app.login(&admin_email, ADMIN_PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    app.login_ok(&admin_email, "rotated admin pw").await;

    // One user.registered event for the admin, however many starts.
    let topic = format!("{}user_events", app.prefix);
    let records = shop_testkit::kafka::read_topic(&topic, 1, EVENT_TIMEOUT, Duration::from_millis(500)).await.unwrap();
    let registered = records.iter().filter_map(|r| r.envelope.as_ref()).filter(|e| e.event_type == "user.registered");
    assert_eq!(registered.count(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_users_and_change_roles_customers_get_403() {
    let admin_email = unique_email("boss");
    let app = app_with_admin(&admin_email).await;
    let admin = app.login_ok(&admin_email, ADMIN_PASSWORD).await;
    let admin_id = app.identity(&admin).await;
    let alice = app.register_ok(&unique_email("alice")).await;
    let bob = app.register_ok(&unique_email("bob")).await;
    let alice_id = app.identity(&alice).await;

    // Customers may not use admin endpoints.
    let response = app.list_users(&alice_id, "").await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(response).await["code"], "forbidden");
    let response = app.set_role(&alice_id, &alice.user.id.to_string(), &json!({"role": "admin"})).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Listing: pages, oldest first, filter by email substring (wildcards are literal).
    let page: Page<User> = app.list_users(&admin_id, "?page=1&page_size=2").await.json().await.unwrap();
    assert_eq!((page.total, page.total_pages, page.items.len()), (3, 2, 2));
    assert_eq!(page.items[0].email, admin_email);
    let page: Page<User> = app.list_users(&admin_id, "?page=2&page_size=2").await.json().await.unwrap();
    assert_eq!(page.items, vec![bob.user.clone()]);
    let page: Page<User> = app.list_users(&admin_id, "?email=ALICE").await.json().await.unwrap();
    assert_eq!(page.items, vec![alice.user.clone()]);
    let page: Page<User> = app.list_users(&admin_id, "?email=%25").await.json().await.unwrap();
    assert_eq!(page.total, 0, "% matches only a literal %");

    // Promote Alice; her next refresh carries the new role.
    let response = app.set_role(&admin_id, &alice.user.id.to_string(), &json!({"role": "admin"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let promoted: User = response.json().await.unwrap();
    assert_eq!(promoted.roles, vec![Role::Admin]);
    let refreshed = app.refresh_ok(&alice.refresh_token).await;
    assert_eq!(app.verify(&refreshed.access_token).await.unwrap().roles, vec![Role::Admin]);
    let alice_admin = app.identity(&refreshed).await;
    assert_eq!(app.list_users(&alice_admin, "").await.status(), StatusCode::OK);

    // Bad input.
    let response = app.set_role(&admin_id, &bob.user.id.to_string(), &json!({"role": "superuser"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(fields(&problem(response).await), ["role"]);
    let response = app.set_role(&admin_id, &uuid::Uuid::new_v4().to_string(), &json!({"role": "admin"})).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.set_role(&admin_id, "not-a-uuid", &json!({"role": "admin"})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Demote Alice again, then the last admin cannot demote themselves.
    let response = app.set_role(&admin_id, &alice.user.id.to_string(), &json!({"role": "customer"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.set_role(&admin_id, &admin.user.id.to_string(), &json!({"role": "customer"})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM users WHERE role = 'admin'").await, 1);
    app.stop().await;
}
