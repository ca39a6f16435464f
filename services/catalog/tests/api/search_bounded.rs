//! Bounded search (docs/catalog.md, "Search"): a broad query ranks a capped candidate set, name
//! matches before description-only ones, and says that its total is capped; search pages are
//! cached and follow writes.

use crate::helpers::{TestApp, names, product_body};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shop_catalog::db::listing::SEARCH_CAP;

/// Inserts `count` products straight into the table (the API would take minutes for hundreds).
async fn insert_products(app: &TestApp, count: i64, sku: &str, name: &str, description: &str, price: &str) {
    let sql = format!(
        "WITH ins AS (INSERT INTO products (id, sku, name, description, price_minor, currency) \
         SELECT gen_random_uuid(), '{sku}' || g, {name}, '{description}', {price}, 'EUR' \
         FROM generate_series(1, {count}) g RETURNING 1) SELECT count(*) AS value FROM ins"
    );
    assert_eq!(app.sql_i64(&sql).await, count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broad_search_ranks_a_capped_candidate_set_and_says_so() {
    let app = TestApp::spawn().await;
    // Description-only matches first in the table, so a cap taken in table order would hold
    // nothing else; then name matches, the exact name, and the cheapest match of all.
    insert_products(&app, SEARCH_CAP + 100, "D-", "'Thing ' || g", "Works with any gizmo.", "1000 + g").await;
    insert_products(&app, 10, "N-", "'Gizmo Holder ' || g", "A holder.", "5000 + g").await;
    insert_products(&app, 1, "E-", "'Gizmo'", "The original.", "9000").await;
    insert_products(&app, 1, "C-", "'Cheap Thing'", "Fits a gizmo.", "1").await;

    let body = app.get_json("/products/search?q=gizmo&page_size=20").await;
    assert_eq!(body["total"], SEARCH_CAP, "the count stops at the cap: {}", body["total"]);
    assert_eq!(body["total_capped"], true);
    assert_eq!(body["total_pages"], SEARCH_CAP / 20);
    let page = app.page("/products/search?q=gizmo&page_size=20").await;
    let found = names(&page);
    assert_eq!(found[0], "Gizmo", "the exact name match ranks first: {found:?}");
    assert!(found[1..11].iter().all(|n| n.starts_with("Gizmo Holder")), "then name matches: {found:?}");
    assert!(found[11..].iter().all(|n| n.contains("Thing")), "then description-only ones: {found:?}");

    // Pages end where the ranked candidates end, and still report the total.
    let beyond = app.get_json(&format!("/products/search?q=gizmo&page_size=20&page={}", SEARCH_CAP / 20 + 1)).await;
    assert_eq!(beyond["items"], json!([]));
    assert_eq!((beyond["total"].as_i64(), &beyond["total_capped"]), (Some(SEARCH_CAP), &json!(true)));

    // An explicit order applies to every match; only its count is capped.
    let by_price = app.get_json("/products/search?q=gizmo&sort=price&page_size=5").await;
    assert_eq!(by_price["items"][0]["name"], "Cheap Thing");
    assert_eq!((by_price["total"].as_i64(), &by_price["total_capped"]), (Some(SEARCH_CAP), &json!(true)));

    // Narrow searches are exact; the flag is always there in search answers, never in listings.
    let narrow = app.get_json("/products/search?q=holder").await;
    assert_eq!((narrow["total"].as_i64(), &narrow["total_capped"]), (Some(10), &json!(false)));
    let combined = app.get_json("/products?q=gizmo&max_price=5005").await;
    assert_eq!((combined["total"].as_i64(), &combined["total_capped"]), (Some(SEARCH_CAP), &json!(true)));
    let filtered = app.get_json("/products/search?q=gizmo&min_price=5000").await;
    assert_eq!((filtered["total"].as_i64(), &filtered["total_capped"]), (Some(11), &json!(false)));
    assert_eq!(filtered["items"][0]["name"], "Gizmo");
    let listing = app.get_json("/products").await;
    assert!(listing.get("total_capped").is_none(), "plain listings keep their shape: {listing}");
    app.stop().await;
}

fn cache_hits(metrics: &str, cache: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("cache_requests_total{")
                && l.contains(&format!("cache=\"{cache}\""))
                && l.contains("result=\"hit\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_are_cached_and_a_write_is_visible_to_the_next_search() {
    let app = TestApp::spawn().await;
    let product = app.create_product(&product_body("W-1", "Walnut Desk", 25000)).await;
    let first: Value = app.get_json("/products/search?q=walnut").await;
    let again: Value = app.get_json("/products/search?q=walnut").await;
    assert_eq!(first, again);
    assert_eq!(first["total"], 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(cache_hits(&metrics, "search") >= 1.0, "the second search is a cache hit: {metrics}");

    let response = app.put_product(product.id, &json!({"name": "Oak Desk", "description": "Solid oak."}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.get_json("/products/search?q=walnut").await["total"], 0, "the old name is gone at once");
    assert_eq!(names(&app.page("/products/search?q=oak").await), ["Oak Desk"]);
    assert_eq!(app.delete_product(product.id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_json("/products/search?q=oak").await["total"], 0);
    app.stop().await;
}
