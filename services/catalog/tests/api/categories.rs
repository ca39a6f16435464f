//! The category tree: CRUD, refusal to delete a used category, sub-categories in listings.

use crate::helpers::{TestApp, fields, merge, names, problem, product_body};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tree_is_managed_and_used_categories_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    app.create_category("electronics", None).await;
    app.create_category("audio", Some("electronics")).await;
    app.create_category("headphones", Some("audio")).await;
    app.create_category("garden", None).await;

    let duplicate = app.post_category(&json!({"slug": "audio", "name": "Audio"})).await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    let bad = app.post_category(&json!({"slug": "Bad Slug", "name": ""})).await;
    assert_eq!(fields(&problem(bad).await), ["slug", "name"]);
    let orphan = app.post_category(&json!({"slug": "orphan", "name": "Orphan", "parent": "missing"})).await;
    assert_eq!(fields(&problem(orphan).await), ["parent"]);

    let list: Value = app.get_json("/categories").await;
    let slugs: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["audio", "electronics", "garden", "headphones"]);
    assert_eq!(list[3]["parent"], "audio");

    // A cycle is refused; a rename and a move are fine.
    let put = |slug: &'static str, body: Value| {
        let request = app.request(Method::PUT, &format!("/categories/{slug}"), Some(&app.admin)).json(&body);
        TestApp::send(request)
    };
    let cycle = put("electronics", json!({"name": "Electronics", "parent": "headphones"})).await;
    assert_eq!(fields(&problem(cycle).await), ["parent"]);
    let moved = put("audio", json!({"name": "Audio & Hi-Fi", "parent": "electronics"})).await;
    assert_eq!(moved.status(), StatusCode::OK);
    assert_eq!(put("nothing", json!({"name": "x"})).await.status(), StatusCode::NOT_FOUND);
    let list: Value = app.get_json("/categories").await;
    assert_eq!(list[0]["name"], "Audio & Hi-Fi", "the cached list was invalidated by the write");

    let delete = |slug: &'static str| {
        TestApp::send(app.request(Method::DELETE, &format!("/categories/{slug}"), Some(&app.admin)))
    };
    assert_eq!(delete("audio").await.status(), StatusCode::CONFLICT, "it has children");
    let product =
        app.create_product(&merge(product_body("H-1", "Headphones", 100), json!({"category": "headphones"}))).await;
    assert_eq!(delete("headphones").await.status(), StatusCode::CONFLICT, "it has a product");
    app.delete_product(product.id).await;
    assert_eq!(delete("headphones").await.status(), StatusCode::NO_CONTENT, "deleted products do not block");
    assert_eq!(delete("headphones").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(delete("garden").await.status(), StatusCode::NO_CONTENT);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_category_listing_includes_its_sub_categories_and_follows_writes() {
    let app = TestApp::spawn().await;
    app.create_category("fashion", None).await;
    app.create_category("footwear", Some("fashion")).await;
    app.create_category("boots", Some("footwear")).await;
    app.create_category("toys", None).await;
    for (sku, name, category) in
        [("F-1", "Scarf", "fashion"), ("F-2", "Sneaker", "footwear"), ("F-3", "Boot", "boots"), ("T-1", "Kite", "toys")]
    {
        app.create_product(&merge(product_body(sku, name, 1000), json!({"category": category}))).await;
    }
    let mut all = names(&app.page("/products/category/fashion?sort=name").await);
    all.sort();
    assert_eq!(all, ["Boot", "Scarf", "Sneaker"]);
    assert_eq!(names(&app.page("/products/category/footwear?sort=name").await), ["Boot", "Sneaker"]);
    assert_eq!(names(&app.page("/products?category=boots").await), ["Boot"]);

    // Cached now; a new product in a sub-category shows up at once.
    app.create_product(&merge(product_body("F-4", "Sandal", 500), json!({"category": "footwear"}))).await;
    assert_eq!(names(&app.page("/products/category/footwear?sort=name").await), ["Boot", "Sandal", "Sneaker"]);
    app.stop().await;
}
