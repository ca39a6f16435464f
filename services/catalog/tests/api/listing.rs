//! Listing: pagination with a total, stable across pages; filters; sort orders.

use crate::helpers::{TestApp, merge, names, product_body};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_stable_and_complete_with_a_total() {
    let app = TestApp::spawn().await;
    // Many equal prices: only the id tie-break keeps pages apart.
    for i in 0..25 {
        app.create_product(&product_body(&format!("P-{i:02}"), &format!("Item {i:02}"), 100 * (i % 3))).await;
    }
    for sort in ["price", "-price", "name", "newest"] {
        let mut seen = Vec::new();
        for page in 1..=3 {
            let result = app.page(&format!("/products?sort={sort}&page={page}&page_size=10")).await;
            assert_eq!(result.total, 25);
            assert_eq!(result.total_pages, 3);
            seen.extend(result.items.iter().map(|p| p.id));
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!((seen.len(), unique.len()), (25, 25), "{sort}: every product exactly once");
        let again: Vec<_> =
            app.page(&format!("/products?sort={sort}&page=1&page_size=10")).await.items.iter().map(|p| p.id).collect();
        assert_eq!(again, seen[..10], "{sort}: the same first page twice");
    }
    let beyond = app.page("/products?page=9&page_size=10").await;
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 25, "the total is known past the last page too");
    let capped = app.page("/products?page_size=100000").await;
    assert_eq!(capped.page_size, 100);
    let prices: Vec<i64> =
        app.page("/products?sort=-price&page_size=25").await.items.iter().map(|p| p.price.amount_minor).collect();
    assert!(prices.windows(2).all(|w| w[0] >= w[1]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_combine() {
    let app = TestApp::spawn().await;
    app.create_category("shoes", None).await;
    let red_cheap = app
        .create_product(&merge(
            product_body("S-1", "Red Runner", 4000),
            json!({"category": "shoes", "attributes": {"color": "red", "size": "42"}, "initial_stock": 3}),
        ))
        .await;
    app.create_product(&merge(
        product_body("S-2", "Red Luxury", 20000),
        json!({"category": "shoes", "attributes": {"color": "red", "size": "42"}, "initial_stock": 3}),
    ))
    .await;
    app.create_product(&merge(
        product_body("S-3", "Blue Runner", 4500),
        json!({"category": "shoes", "attributes": {"color": "blue"}}),
    ))
    .await;
    app.create_product(&merge(
        product_body("O-1", "Red Hat", 1000),
        json!({"attributes": {"color": "red"}, "initial_stock": 1}),
    ))
    .await;
    app.create_product(&merge(product_body("O-2", "Hidden", 1000), json!({"active": false}))).await;

    assert_eq!(app.page("/products").await.total, 4, "inactive products are not listed");
    let page = app.page("/products?category=shoes&attr.color=red&max_price=5000").await;
    assert_eq!(names(&page), ["Red Runner"]);
    assert_eq!(page.items[0].id, red_cheap.id);
    assert_eq!(app.page("/products?attr.color=red&attr.size=42").await.total, 2);
    assert_eq!(app.page("/products?min_price=4500&max_price=20000").await.total, 2);
    assert_eq!(app.page("/products?in_stock=false").await.total, 1);
    assert_eq!(names(&app.page("/products?in_stock=true&sort=price").await), ["Red Hat", "Red Runner", "Red Luxury"]);
    assert_eq!(app.page("/products?attr.color=green").await.total, 0);
    for bad in ["min_price=-1", "in_stock=maybe", "sort=random", "page=zero", "min_price=9&max_price=1"] {
        let response = app.get(&format!("/products?{bad}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    app.stop().await;
}
