//! `POST /orders`: cart read over HTTP, re-pricing from the snapshot, guests and their order
//! tokens, the errors, and `Idempotency-Key` (replay, mismatch, 20 concurrent duplicates).

use crate::helpers::{EVENT_TIMEOUT, TestApp, address, count, outbox_count, problem_code};
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_common::events::Envelope;
use std::sync::atomic::Ordering;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_order_is_priced_from_the_snapshot_and_stored_pending_with_its_event() {
    let app = TestApp::spawn().await;
    let lamp = app.seed_product(1250, "EUR", true).await;
    let bulb = app.seed_product(199, "EUR", true).await;
    let cart_id = app.cart.set(&format!("user:{}", app.customer.user_id), &[(lamp, 2), (bulb, 3)]);

    let response = app
        .request(reqwest::Method::POST, "/orders", Some(&app.customer))
        .header("x-request-id", "req-checkout-1")
        .json(&json!({"shipping_address": address()}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("/orders/{id}"));
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["user_id"], json!(app.customer.user_id));
    assert_eq!(body["cart_id"], json!(cart_id));
    // The cart claimed 1 cent a unit; the snapshot's prices win.
    assert_eq!(body["total"], json!({"amount_minor": 2 * 1250 + 3 * 199, "currency": "EUR"}));
    assert_eq!(body["lines"][0]["unit_price"]["amount_minor"], 1250);
    assert_eq!(body["lines"][0]["line_total"]["amount_minor"], 2500);
    assert!(body["lines"][1]["sku"].as_str().unwrap().starts_with("SKU-"));
    assert_eq!(body["shipping_address"]["country"], "GB");
    assert_eq!(body["status_history"].as_array().unwrap().len(), 1);
    assert!(body.get("order_token").is_none(), "users get no order token");
    assert!(app.cart.state.seen_request_ids.lock().unwrap().contains(&"req-checkout-1".to_owned()));

    let fetched: Value = app.get(&format!("/orders/{id}"), Some(&app.customer)).await.json().await.unwrap();
    assert_eq!(fetched, body);

    let mut conn = app.db.connect().await;
    assert_eq!(outbox_count(&mut conn, "order.created", Some(id)).await, 1);
    let records = shop_testkit::kafka::read_topic(
        &app.topic("order_events"),
        1,
        EVENT_TIMEOUT,
        std::time::Duration::from_millis(300),
    )
    .await
    .unwrap();
    let created: &Envelope = records[0].envelope.as_ref().unwrap();
    assert_eq!(created.event_type, "order.created");
    assert_eq!(created.key, id);
    assert_eq!(created.data["cart_id"], json!(cart_id));
    assert_eq!(created.data["lines"][1]["quantity"], 3);
    assert_eq!(created.data["total"]["amount_minor"], 3097);
    assert_eq!(records[0].headers.get("x-request-id").map(String::as_str), Some("req-checkout-1"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_orders_with_the_cart_token_and_reads_it_with_the_order_token() {
    let app = TestApp::spawn().await;
    let product = app.seed_product(500, "EUR", true).await;
    app.cart.set("token:guest-cart-1", &[(product, 1)]);

    let response = app.post_guest_order("guest-cart-1", &json!({}), None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem_code(&problem), "validation_failed");
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2, "email and shipping_address: {problem}");

    let body = json!({"email": "ada@example.com", "shipping_address": address()});
    let response = app.post_guest_order("guest-cart-1", &body, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Value = response.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let token = order["order_token"].as_str().unwrap().to_owned();
    assert_eq!(order["user_id"], Value::Null);
    assert_eq!(order["email"], "ada@example.com");

    assert_eq!(app.get(&format!("/orders/{id}"), None).await.status(), StatusCode::NOT_FOUND);
    let wrong = app.request(reqwest::Method::GET, &format!("/orders/{id}"), None).header("X-Order-Token", "nope");
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let right = app.request(reqwest::Method::GET, &format!("/orders/{id}"), None).header("X-Order-Token", &token);
    let response = right.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let fetched: Value = response.json().await.unwrap();
    assert_eq!(fetched["total"]["amount_minor"], 500);
    assert!(fetched.get("order_token").is_none());
    // Another customer cannot see it either.
    assert_eq!(app.get(&format!("/orders/{id}"), Some(&app.customer)).await.status(), StatusCode::NOT_FOUND);
    // The order token also lets the guest cancel; without it the order does not exist.
    let cancel = format!("/orders/{id}/cancel");
    assert_eq!(app.put(&cancel, None).await.status(), StatusCode::NOT_FOUND);
    let response =
        app.request(reqwest::Method::PUT, &cancel, None).header("X-Order-Token", &token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "CANCELLED");

    // Neither identity nor cart token: 401.
    let response = app.request(reqwest::Method::POST, "/orders", None).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

fn product_event(
    kind: &str,
    id: Uuid,
    price: i64,
    active: bool,
    updated_at: chrono::DateTime<chrono::Utc>,
) -> Envelope {
    Envelope::new(
        kind,
        1,
        "catalog",
        id.to_string(),
        json!({"product_id": id, "sku": "LAMP-1", "name": format!("Lamp at {price}"), "description": "",
               "price": {"amount_minor": price, "currency": "EUR"}, "category_slug": null, "attributes": {},
               "image_urls": [], "active": active, "initial_stock": 5, "low_stock_threshold": 1,
               "created_at": updated_at, "updated_at": updated_at}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_events_feed_the_snapshot_newest_wins() {
    let app = TestApp::spawn().await;
    let id = Uuid::now_v7();
    let key = id.to_string();
    let t0 = chrono::Utc::now() - chrono::Duration::minutes(10);
    app.publish("product_events", &key, &product_event("product.created", id, 1000, true, t0)).await;
    app.publish(
        "product_events",
        &key,
        &product_event("product.updated", id, 1200, true, t0 + chrono::Duration::minutes(2)),
    )
    .await;
    // Late and stale: must not win.
    let stale = product_event("product.updated", id, 900, true, t0 + chrono::Duration::minutes(1));
    app.publish("product_events", &key, &stale).await;
    app.wait_consumed(&stale).await;

    app.cart.set(&format!("user:{}", app.customer.user_id), &[(id, 2)]);
    let response = app.post_order(&app.customer, None, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["total"]["amount_minor"], 2400);
    assert_eq!(order["lines"][0]["name"], "Lamp at 1200");

    // Deleted: the product can no longer be ordered, and the error names it.
    let deleted = Envelope::new(
        "product.deleted",
        1,
        "catalog",
        key.clone(),
        json!({"product_id": id, "sku": "LAMP-1", "deleted_at": chrono::Utc::now()}),
    );
    app.publish("product_events", &key, &deleted).await;
    app.wait_consumed(&deleted).await;
    let response = app.post_order(&app.customer, None, None).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains(&key), "{problem}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_carts_unknown_products_and_a_down_cart_service_are_problems() {
    let app = TestApp::spawn().await;
    let owner = format!("user:{}", app.customer.user_id);

    // No cart at all (the cart service answers 404) and an empty one: 422.
    let response = app.post_order(&app.customer, None, None).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    app.cart.set(&owner, &[]);
    let response = app.post_order(&app.customer, None, None).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains("empty"));

    let unknown = Uuid::now_v7();
    app.cart.set(&owner, &[(unknown, 1)]);
    let response = app.post_order(&app.customer, None, None).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert!(problem["detail"].as_str().unwrap().contains(&unknown.to_string()), "{problem}");

    let inactive = app.seed_product(100, "EUR", false).await;
    app.cart.set(&owner, &[(inactive, 1)]);
    let response = app.post_order(&app.customer, None, None).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);

    let eur = app.seed_product(100, "EUR", true).await;
    let usd = app.seed_product(100, "USD", true).await;
    app.cart.set(&owner, &[(eur, 1), (usd, 1)]);
    assert_eq!(app.post_order(&app.customer, None, None).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Malformed bodies and keys are 4xx, never 500.
    app.cart.set(&owner, &[(eur, 1)]);
    let response = app
        .request(reqwest::Method::POST, "/orders", Some(&app.customer))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = app.post_order(&app.customer, Some(&json!({"coupon": "FREE"})), None).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let long_key = "k".repeat(256);
    assert_eq!(app.post_order(&app.customer, None, Some(&long_key)).await.status(), StatusCode::BAD_REQUEST);

    let mut conn = app.db.connect().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM orders").await, 0);
    app.stop().await;

    // The cart service is down: 503 problem+json with Retry-After.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(crate::helpers::Options { cart_url: Some(url), ..Default::default() }).await;
    let response = app.post_order(&app.customer, None, None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert!(response.headers().contains_key("retry-after"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotency_key_replays_the_first_response() {
    let app = TestApp::spawn().await;
    let product = app.seed_product(700, "EUR", true).await;
    let owner = format!("user:{}", app.customer.user_id);
    app.cart.set(&owner, &[(product, 1)]);
    let body = json!({"shipping_address": address()});

    let first = app.post_order(&app.customer, Some(&body), Some("order-key-1")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    // The checkout emptied the cart; the retry must still get the order, not "empty cart".
    app.cart.set(&owner, &[]);
    let again = app.post_order(&app.customer, Some(&body), Some("order-key-1")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(app.cart.state.calls.load(Ordering::SeqCst), 1, "a replay does not read the cart");

    // Same key, other body: 422. Same key, another customer: a separate scope.
    let other = json!({"shipping_address": {"name": "B", "line1": "2 Road", "city": "Paris", "postal_code": "75001", "country": "FR"}});
    let response = app.post_order(&app.customer, Some(&other), Some("order-key-1")).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let stranger = crate::helpers::identity(shop_common::auth::Role::Customer);
    app.cart.set(&format!("user:{}", stranger.user_id), &[(product, 2)]);
    let response = app.post_order(&stranger, Some(&body), Some("order-key-1")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let theirs: Value = response.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);

    // A guest's replay carries the same order token.
    app.cart.set("token:guest-9", &[(product, 1)]);
    let guest_body = json!({"email": "g@example.com", "shipping_address": address()});
    let a: Value = app.post_guest_order("guest-9", &guest_body, Some("g-key")).await.json().await.unwrap();
    let b: Value = app.post_guest_order("guest-9", &guest_body, Some("g-key")).await.json().await.unwrap();
    assert_eq!(a["order_token"], b["order_token"]);
    assert_eq!(a["id"], b["id"]);

    let mut conn = app.db.connect().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM orders").await, 3);
    assert_eq!(outbox_count(&mut conn, "order.created", None).await, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_posts_with_one_key_make_one_order() {
    let app = TestApp::spawn().await;
    let product = app.seed_product(1000, "EUR", true).await;
    app.cart.set(&format!("user:{}", app.customer.user_id), &[(product, 1)]);
    let responses = join_all((0..20).map(|_| app.post_order(&app.customer, None, Some("race-key")))).await;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry got the same order");
    let mut conn = app.db.connect().await;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM orders").await, 1);
    assert_eq!(outbox_count(&mut conn, "order.created", None).await, 1);
    app.stop().await;
}
