//! The Redis cache: a write is visible to the next read, Redis down still serves, recently viewed.

use crate::helpers::{TestApp, product_body};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_common::redis::redis;
use shop_common::settings::{Env, RedisSettings};

async fn redis_get(key: &str) -> Option<String> {
    let pool = shop_common::redis::build_pool(&RedisSettings::from_env(&Env::process()).unwrap()).unwrap();
    let mut conn = pool.get().await.unwrap();
    redis::cmd("GET").arg(key).query_async(&mut conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_visible_to_the_very_next_read() {
    let app = TestApp::spawn().await;
    let product = app.create_product(&product_body("C-1", "Kettle", 2500)).await;
    let key = format!("{}catalog:product:{}", app.prefix, product.id);
    for round in 0..5 {
        // Read twice so the second read is a cache hit, then write and read again at once.
        assert_eq!(app.product(product.id).await.price.amount_minor, 2500 + round);
        assert_eq!(app.product(product.id).await.price.amount_minor, 2500 + round);
        let body = json!({"price": {"amount_minor": 2500 + round + 1, "currency": "EUR"}});
        assert_eq!(app.put_product(product.id, &body, None).await.status(), StatusCode::OK);
        assert_eq!(app.product(product.id).await.price.amount_minor, 2500 + round + 1);
    }
    let cached = redis_get(&key).await.expect("the product is cached");
    assert!(cached.starts_with("6:"), "the cache holds version 6: {cached}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("cache_requests_total{") && metrics.contains("result=\"hit\""), "{metrics}");

    app.delete_product(product.id).await;
    assert_eq!(app.get(&format!("/products/{}", product.id)).await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_everything_is_served_from_postgres() {
    // Nothing listens on port 1: every Redis call fails at once.
    let app = TestApp::spawn_with_redis(Some("redis://127.0.0.1:1")).await;
    app.create_category("kitchen", None).await;
    let product = app
        .create_product(&json!({"sku": "R-1", "name": "Toaster", "category": "kitchen",
        "price": {"amount_minor": 3000, "currency": "EUR"}}))
        .await;
    assert_eq!(app.product(product.id).await.name, "Toaster");
    let response = app.put_product(product.id, &json!({"name": "Toaster 2"}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.product(product.id).await.name, "Toaster 2");
    assert_eq!(app.page("/products/category/kitchen").await.total, 1);
    assert_eq!(app.page("/products/search?q=toast").await.total, 1);
    assert_eq!(app.page("/products").await.total, 1);
    let categories: Value = app.get_json("/categories").await;
    assert_eq!(categories.as_array().unwrap().len(), 1);
    let recent: Value = app.get_as("/products/recently-viewed", &app.customer).await.json().await.unwrap();
    assert_eq!(recent["items"], json!([]));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("cache_errors_total{"), "failures are counted: {metrics}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recently_viewed_is_per_user_most_recent_first_and_capped() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..22 {
        ids.push(app.create_product(&product_body(&format!("V-{i}"), &format!("Thing {i}"), 100)).await.id);
    }
    for id in &ids {
        assert_eq!(app.get_as(&format!("/products/{id}"), &app.customer).await.status(), StatusCode::OK);
    }
    // Seen again: moves to the front, no duplicate.
    app.get_as(&format!("/products/{}", ids[5]), &app.customer).await;
    app.delete_product(ids[21]).await;
    let recent: Value = app.get_as("/products/recently-viewed", &app.customer).await.json().await.unwrap();
    let names: Vec<&str> = recent["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "Thing 5");
    assert_eq!(names[1], "Thing 20", "Thing 21 was deleted");
    assert_eq!(names.len(), 19, "20 kept, one of them deleted");
    assert!(!names.contains(&"Thing 0") && !names.contains(&"Thing 1"), "the oldest fell off: {names:?}");

    let other: Value = app.get_as("/products/recently-viewed", &app.admin).await.json().await.unwrap();
    assert_eq!(other["items"], json!([]), "lists are per user; anonymous views are not recorded");
    app.stop().await;
}
