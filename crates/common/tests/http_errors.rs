//! Every client mistake the HTTP layer can see becomes problem+json with the right status, never a
//! 500: bad JSON, wrong content type, unknown route, oversized body, bad query, bad path.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use actix_web::web;
use serde::Deserialize;
use shop_common::service::{HttpApp, RunningService};
use std::sync::Arc;

#[derive(Deserialize, serde::Serialize)]
struct Item {
    name: String,
    quantity: u32,
}

#[derive(Deserialize)]
struct Query {
    #[allow(dead_code)]
    page: u32,
}

async fn create_item(item: web::Json<Item>) -> web::Json<Item> {
    item
}

#[derive(Deserialize)]
struct Order {
    #[allow(dead_code)]
    lines: Vec<Item>,
}

async fn create_order(order: shop_common::http::Json<Order>) -> String {
    order.lines.len().to_string()
}

async fn list_items(_query: web::Query<Query>) -> &'static str {
    "[]"
}

async fn get_item(id: web::Path<u32>) -> String {
    id.to_string()
}

fn start_app() -> RunningService {
    let routes = Arc::new(|cfg: &mut web::ServiceConfig| {
        cfg.route("/items", web::post().to(create_item))
            .route("/items", web::get().to(list_items))
            .route("/items/{id}", web::get().to(get_item))
            .route("/orders", web::post().to(create_order));
    });
    let mut app = HttpApp::new("errors-test", "0.0.0", routes);
    app.workers = 1;
    app.shutdown_grace = std::time::Duration::from_millis(200);
    app.bind_and_start("127.0.0.1", 0).unwrap()
}

async fn problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["request_id"].is_string(), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_problem_json() {
    let app = start_app();
    let base = app.base_url();
    let client = reqwest::Client::new();

    let ok = client
        .post(format!("{base}/items"))
        .json(&serde_json::json!({"name": "a", "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let bad_json = client
        .post(format!("{base}/items"))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    problem(bad_json, 400, "invalid_json").await;

    let wrong_type = client
        .post(format!("{base}/items"))
        .json(&serde_json::json!({"name": "a", "quantity": "many"}))
        .send()
        .await
        .unwrap();
    let body = problem(wrong_type, 400, "invalid_json").await;
    assert!(body["detail"].as_str().unwrap().contains("expected u32"), "{body}");

    let wrong_content_type =
        client.post(format!("{base}/items")).header("content-type", "text/plain").body("hello").send().await.unwrap();
    problem(wrong_content_type, 415, "unsupported_media_type").await;

    let unknown = client.get(format!("{base}/nowhere")).send().await.unwrap();
    problem(unknown, 404, "not_found").await;

    let huge_name = "x".repeat(300 * 1024);
    let oversized = client
        .post(format!("{base}/items"))
        .json(&serde_json::json!({"name": huge_name, "quantity": 1}))
        .send()
        .await
        .unwrap();
    problem(oversized, 413, "payload_too_large").await;

    let bad_query = client.get(format!("{base}/items?page=minus-one")).send().await.unwrap();
    problem(bad_query, 400, "invalid_query").await;

    let bad_path = client.get(format!("{base}/items/not-a-number")).send().await.unwrap();
    problem(bad_path, 400, "invalid_path").await;

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_errors_name_the_path_of_the_bad_value() {
    let app = start_app();
    let client = reqwest::Client::new();
    let url = format!("{}/orders", app.base_url());

    let ok =
        client.post(&url).json(&serde_json::json!({"lines": [{"name": "a", "quantity": 1}]})).send().await.unwrap();
    assert_eq!(ok.text().await.unwrap(), "1");

    let wrong_type = serde_json::json!({"lines": [{"name": "a", "quantity": 1}, {"name": "b", "quantity": -3}]});
    let body = problem(client.post(&url).json(&wrong_type).send().await.unwrap(), 400, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "lines[1].quantity", "{body}");

    let missing = serde_json::json!({"lines": [{"name": "a"}]});
    let body = problem(client.post(&url).json(&missing).send().await.unwrap(), 400, "validation_failed").await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("quantity"), "{body}");

    let trailing = client.post(&url).header("content-type", "application/json").body("{\"lines\": []} x");
    problem(trailing.send().await.unwrap(), 400, "invalid_json").await;

    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep = client.post(&url).header("content-type", "application/json").body(deep);
    problem(deep.send().await.unwrap(), 400, "validation_failed").await;

    let no_type = client.post(&url).body("{}");
    problem(no_type.send().await.unwrap(), 415, "unsupported_media_type").await;

    let huge = client.post(&url).header("content-type", "application/json").body(vec![b' '; 300 * 1024]);
    problem(huge.send().await.unwrap(), 413, "payload_too_large").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_kept_when_sane_and_replaced_when_not() {
    let app = start_app();
    let client = reqwest::Client::new();
    let url = format!("{}/nowhere", app.base_url());

    let kept = client.get(&url).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "abc-123");
    let body: serde_json::Value = kept.json().await.unwrap();
    assert_eq!(body["request_id"], "abc-123");

    let replaced = client.get(&url).header("x-request-id", "x".repeat(500)).send().await.unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a fresh uuid replaces an oversized id");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_use_route_patterns_not_raw_paths() {
    let app = start_app();
    let client = reqwest::Client::new();
    for id in [1, 2, 3] {
        client.get(format!("{}/items/{id}", app.base_url())).send().await.unwrap();
    }
    let text = client.get(format!("{}/metrics", app.base_url())).send().await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/items/{id}\"")
                && l.contains("service=\"errors-test\"")
        })
        .unwrap_or_else(|| panic!("no templated series in:\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(!text.contains("route=\"/items/1\""));
    assert!(text.contains("http_request_duration_seconds_bucket{"));
    let health = client.get(format!("{}/health", app.base_url())).send().await.unwrap();
    assert_eq!(health.status(), 200, "no dependencies registered means healthy");
    app.stop().await;
}
