//! Product CRUD, validation, admin-only writes, ETag/If-Match and soft delete.

use crate::helpers::{TestApp, fields, identity, merge, problem, product_body};
use reqwest::{Method, StatusCode};
use serde_json::json;
use shop_common::auth::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_read_update_and_soft_delete_a_product() {
    let app = TestApp::spawn().await;
    app.create_category("lighting", None).await;
    let body = merge(
        product_body("LAMP-1", "Desk Lamp", 2999),
        json!({"category": "lighting", "attributes": {"color": "black"}, "image_urls": ["https://img.example/l.jpg"],
               "initial_stock": 7, "low_stock_threshold": 2}),
    );
    let response = app.post_product(&body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("location").unwrap().to_str().unwrap().starts_with("/products/"));
    assert_eq!(response.headers().get("etag").unwrap(), "\"1\"");
    let created: shop_catalog::domain::Product = response.json().await.unwrap();
    assert_eq!(created.id.0.get_version_num(), 7, "UUID v7 ids");
    assert_eq!(created.category.as_deref(), Some("lighting"));
    assert_eq!((created.available, created.in_stock), (7, true), "initial stock until inventory reports");

    let read = app.get(&format!("/products/{}", created.id)).await;
    assert_eq!(read.headers().get("etag").unwrap(), "\"1\"");
    let read: shop_catalog::domain::Product = read.json().await.unwrap();
    assert_eq!(read, created);

    let response = app
        .put_product(
            created.id,
            &json!({"name": "Desk Lamp XL", "price": {"amount_minor": 3499, "currency": "EUR"}}),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("etag").unwrap(), "\"2\"");
    let updated = app.product(created.id).await;
    assert_eq!(updated.name, "Desk Lamp XL");
    assert_eq!(updated.price.amount_minor, 3499);
    assert_eq!(updated.attributes, json!({"color": "black"}), "absent fields are kept");

    assert_eq!(app.delete_product(created.id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/products/{}", created.id)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.delete_product(created.id).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.put_product(created.id, &json!({"name": "x"}), None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.page("/products").await.total, 0, "hidden from listings");
    let kept = app
        .sql_i64(&format!(
            "SELECT count(*) AS value FROM products WHERE id = '{}' AND deleted_at IS NOT NULL",
            created.id
        ))
        .await;
    assert_eq!(kept, 1, "the row stays for order history");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_products_are_400_with_field_errors() {
    let app = TestApp::spawn().await;
    let cases = [
        (merge(product_body("A-1", "x", -1), json!({})), "price.amount_minor"),
        (product_body("A-1", "   ", 100), "name"),
        (
            merge(product_body("A-1", "x", 1), json!({"price": {"amount_minor": 1, "currency": "EUO"}})),
            "price.currency",
        ),
        (
            merge(product_body("A-1", "x", 1), json!({"price": {"amount_minor": "ten", "currency": "EUR"}})),
            "price.amount_minor",
        ),
        (merge(product_body("A-1", "x", 1), json!({"active": "yes"})), "active"),
        (merge(product_body("A-1", "x", 1), json!({"image_urls": ["javascript:alert(1)"]})), "image_urls[0]"),
        (merge(product_body("A-1", "x", 1), json!({"attributes": "flat"})), "attributes"),
        (merge(product_body("A-1", "x", 1), json!({"category": "no-such-category"})), "category"),
        (merge(product_body("A-1", "x", 1), json!({"description": "d".repeat(20_001)})), "description"),
        (json!({"name": "no sku or price"}), "sku"),
    ];
    for (body, field) in cases {
        let response = app.post_product(&body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{field}");
        let problem = problem(response).await;
        assert!(fields(&problem).contains(&field.to_owned()), "{field} not in {problem}");
    }
    // Over the body limit: refused by its Content-Length, before reading or parsing.
    let big = merge(product_body("A-1", "x", 1), json!({"description": "d".repeat(400 * 1024)}));
    let response = app.post_product(&big).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(response).await["code"], "payload_too_large");
    // 10 MB: the same 413, but the server may close the connection while the client is still
    // sending, so the client can see a reset instead of the answer. Either way nothing is stored.
    let huge = merge(product_body("A-1", "x", 1), json!({"description": "d".repeat(10 * 1024 * 1024)}));
    let request = app.request(Method::POST, "/products", Some(&app.admin)).json(&huge);
    if let Ok(response) = request.send().await {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // Not JSON at all.
    let response = TestApp::send(
        app.request(Method::POST, "/products", Some(&app.admin)).header("content-type", "application/json").body("{"),
    )
    .await;
    assert_eq!(problem(response).await["code"], "invalid_json");
    assert_eq!(app.sql_i64("SELECT count(*) AS value FROM products").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_owned_fields_in_the_body_are_ignored_and_skus_are_unique() {
    let app = TestApp::spawn().await;
    let forged_id = "01890000-0000-7000-8000-000000000000";
    let body = merge(
        product_body("SKU-1", "Mug", 900),
        json!({"id": forged_id, "created_at": "2000-01-01T00:00:00Z", "version": 99, "in_stock": true, "available": 5}),
    );
    let product = app.create_product(&body).await;
    assert_ne!(product.id.0.to_string(), forged_id);
    assert_eq!(product.version, 1);
    assert!(product.created_at.timestamp() > 1_700_000_000);
    assert_eq!((product.in_stock, product.available), (false, 0));

    let response = app.post_product(&product_body("SKU-1", "Another mug", 100)).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(problem(response).await["code"], "conflict");
    let other = app.create_product(&product_body("SKU-2", "Bowl", 100)).await;
    assert_eq!(app.put_product(other.id, &json!({"sku": "SKU-1"}), None).await.status(), StatusCode::CONFLICT);
    let response = app.put_product(other.id, &json!({"id": forged_id, "version": 40}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = app.product(other.id).await;
    assert_eq!((after.id, after.version), (other.id, 2));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_admin_role() {
    let app = TestApp::spawn().await;
    let product = app.create_product(&product_body("P-1", "Pen", 100)).await;
    let customer = identity(Role::Customer);
    let writes = [
        (Method::POST, "/products".to_owned()),
        (Method::PUT, format!("/products/{}", product.id)),
        (Method::DELETE, format!("/products/{}", product.id)),
        (Method::POST, "/categories".to_owned()),
        (Method::PUT, "/categories/x".to_owned()),
        (Method::DELETE, "/categories/x".to_owned()),
    ];
    for (method, path) in writes {
        let body = product_body("P-2", "Pencil", 1);
        let anonymous = TestApp::send(app.request(method.clone(), &path, None).json(&body)).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let as_customer = TestApp::send(app.request(method.clone(), &path, Some(&customer)).json(&body)).await;
        assert_eq!(as_customer.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    assert_eq!(app.product(product.id).await.version, 1, "nothing changed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_if_match_is_412_and_a_current_one_wins() {
    let app = TestApp::spawn().await;
    let product = app.create_product(&product_body("E-1", "Chair", 5000)).await;
    let first = app.put_product(product.id, &json!({"name": "Chair v2"}), Some("\"1\"")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let stale = app.put_product(product.id, &json!({"name": "Lost update"}), Some("\"1\"")).await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(problem(stale).await["code"], "precondition_failed");
    assert_eq!(app.product(product.id).await.name, "Chair v2");
    let weak = app.put_product(product.id, &json!({"name": "Chair v3"}), Some("W/\"2\"")).await;
    assert_eq!(weak.status(), StatusCode::OK);
    assert_eq!(app.put_product(product.id, &json!({"name": "Any"}), Some("*")).await.status(), StatusCode::OK);
    let stale_delete = TestApp::send(
        app.request(Method::DELETE, &format!("/products/{}", product.id), Some(&app.admin)).header("if-match", "\"1\""),
    )
    .await;
    assert_eq!(stale_delete.status(), StatusCode::PRECONDITION_FAILED);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_paths_are_not_taken_for_ids_and_bad_ids_are_404() {
    let app = TestApp::spawn().await;
    for path in ["/products/not-a-uuid", "/products/0000", "/products/%27%3B%20DROP"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(problem(response).await["code"], "not_found");
    }
    assert_eq!(app.get("/products/search?q=x").await.status(), StatusCode::OK);
    assert_eq!(app.get("/products/recently-viewed").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_as("/products/recently-viewed", &app.customer).await.status(), StatusCode::OK);
    assert_eq!(app.get("/products/category/nothing").await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_products_gauge_counts_live_products() {
    let app = TestApp::spawn().await;
    let kept = app.create_product(&product_body("G-1", "One", 1)).await;
    let gone = app.create_product(&product_body("G-2", "Two", 1)).await;
    app.delete_product(gone.id).await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("ecommerce_products_total") && l.ends_with(" 1")), "{metrics}");
    let _ = kept;
    app.stop().await;
}
