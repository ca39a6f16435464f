//! Search: relevance (exact name first), typo tolerance, prefix matching, filters, and hostile
//! input that must never be a 500.

use crate::helpers::{TestApp, merge, names, product_body};
use reqwest::StatusCode;
use serde_json::json;

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    app.create_category("audio", None).await;
    let products = [
        ("A-1", "Wireless Headphones", "Over-ear wireless headphones with noise cancelling.", 9900, "audio"),
        ("A-2", "Headphones", "Classic wired headphones.", 4900, "audio"),
        ("A-3", "Headphone Stand", "A stand for your headphones.", 1900, "audio"),
        ("B-1", "Laptop Sleeve", "Protects a laptop; fits 13 inch.", 2500, "audio"),
        ("B-2", "Gaming Laptop", "A fast laptop for games.", 149900, "audio"),
        ("C-1", "Coffee Mug", "Mentions headphones only in the description.", 900, "audio"),
    ];
    for (sku, name, description, price, category) in products {
        app.create_product(&merge(
            product_body(sku, name, price),
            json!({"description": description, "category": category}),
        ))
        .await;
    }
    app
}

fn q(query: &str) -> String {
    format!("/products/search?q={}", urlencode(query))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relevance_typos_and_prefixes() {
    let app = seeded().await;
    let results = names(&app.page(&q("headphones")).await);
    assert_eq!(results[0], "Headphones", "the exact name match ranks first: {results:?}");
    assert!(results.contains(&"Wireless Headphones".to_owned()));
    let name_pos = results.iter().position(|n| n == "Headphone Stand").unwrap();
    let description_pos = results.iter().position(|n| n == "Coffee Mug").unwrap();
    assert!(name_pos < description_pos, "a name match outranks a description match: {results:?}");

    let typo = names(&app.page(&q("labtop")).await);
    assert!(typo.iter().any(|n| n.contains("Laptop")), "one wrong letter still finds it: {typo:?}");
    let typo = names(&app.page(&q("hedphones")).await);
    assert!(typo.contains(&"Headphones".to_owned()), "{typo:?}");

    let typing = names(&app.page(&q("lapt")).await);
    assert!(typing.contains(&"Gaming Laptop".to_owned()) && typing.contains(&"Laptop Sleeve".to_owned()), "{typing:?}");
    let typing = names(&app.page(&q("wireless head")).await);
    assert_eq!(typing[0], "Wireless Headphones");

    let filtered = names(&app.page(&format!("{}&max_price=5000&sort=price", q("headphones"))).await);
    assert_eq!(filtered, ["Coffee Mug", "Headphone Stand", "Headphones"], "filters and sort apply to matches");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_queries_are_handled() {
    let app = seeded().await;
    assert_eq!(app.get("/products/search?q=").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/products/search?q=%20%20").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/products/search").await.status(), StatusCode::BAD_REQUEST);
    let long = "headphones ".repeat(91);
    for query in [
        "h",
        "'; DROP TABLE products; --",
        "%_\\",
        "(",
        ")",
        "a:*|!b",
        "\"",
        "&&&",
        "<%",
        "ß",
        "日本",
        &long,
        &"x".repeat(1000),
    ] {
        let response = app.get(&q(query)).await;
        assert_eq!(response.status(), StatusCode::OK, "{query:?}");
    }
    assert_eq!(app.page(&q("%_\\")).await.total, 0, "punctuation matches nothing");
    assert!(app.page(&q(&long)).await.total >= 1);
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM products").await, 6, "the table is still there");
    app.stop().await;
}
